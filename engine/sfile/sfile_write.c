/* sfile_write.c — store-file writer (contract in hr_sfile.h, format in
 * hr_format.h "Store files"). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

#include "engine/hr_format.h"
#include "engine/hr_sfile.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "hregionfs.h"

#define BLOOM_BITS_PER_ROW 10u
#define BLOOM_K 7u

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int buf_add32(buf *b, uint32_t v)
{
	uint8_t t[4];
	hr_put32(t, v);
	return buf_add(b, t, 4);
}

static int buf_add64(buf *b, uint64_t v)
{
	uint8_t t[8];
	hr_put64(t, v);
	return buf_add(b, t, 8);
}

/* The entry encoding of a file of the given version (hr_format.h): version
 * 1 entries have no tags, version 2 entries have them. */
static inline size_t ent_len(uint32_t version, const hr_kv *kv)
{
	return version >= 2 ? hr_kv_encoded_len(kv) : hr_kv_encoded_len_v1(kv);
}

static inline void ent_encode(uint32_t version, uint8_t *dst, const hr_kv *kv)
{
	if (version >= 2)
		hr_kv_encode(dst, kv);
	else
		hr_kv_encode_v1(dst, kv);
}

static inline int ent_decode(uint32_t version, const uint8_t *src, size_t avail, hr_kv *kv)
{
	return hr_kv_decode_fmt(src, avail, kv, version >= 2 ? HR_KV_FMT_2 : HR_KV_FMT_1);
}

/* Appends kv's key (value_len 0, no tags) in the file's entry encoding. */
static int buf_add_key(buf *b, uint32_t version, const hr_kv *kv)
{
	hr_kv k = *kv;
	k.value = NULL;
	k.value_len = 0;
	k.tags = NULL;
	k.tags_len = 0;
	size_t n = ent_len(version, &k);
	int rc = buf_reserve(b, n);
	if (rc < 0)
		return rc;
	ent_encode(version, b->p + b->len, &k);
	b->len += n;
	return 0;
}

/* 0: new writers write HR_SFILE_VERSION (see hr_sfile_test_write_version) */
static atomic_uint test_write_version;

void hr_sfile_test_write_version(uint32_t version) { atomic_store(&test_write_version, version); }

struct hr_sfile_writer {
	hr_io *io;
	int fd;
	char *path;
	uint32_t version;	/* the format written (HR_SFILE_VERSION) */
	uint32_t hdr;		/* bytes before the entries in blk: u32 len [+ block header] */
	int codec;		/* HR_SFILE_CODEC_* asked for (version 3 only) */
	int level;		/* zstd level */
	buf cbuf;		/* a compressed block being framed */
	ZSTD_CCtx *zc;		/* reused across blocks (zstd only) */
	uint64_t raw_bytes;	/* data-block payloads before compression */
	uint32_t block_size;
	int bloom;
	int err;		/* first error; the writer is dead after it */
	uint64_t file_off;

	buf blk;		/* hdr placeholder bytes | entries of the open block */
	buf offs;		/* u32 offsets of the open block's entries */
	uint32_t blk_n;
	buf index;		/* index payload after its u32 count */
	uint32_t nblocks;

	/* The last key added (copied: blk is reset at block boundaries). */
	buf last;		/* row | qual */
	hr_kv last_kv;		/* row/qual point into last.p when have_last */
	int have_last;
	buf first;		/* first key, encoded */

	uint64_t *row_hashes;	/* one per distinct row, for the bloom */
	size_t nrows, rows_cap;

	uint64_t entries, deletes, max_seq, data_bytes;
	int64_t min_ts, max_ts;
};

int hr_sfile_write_open(hr_io *io, const char *tmp_path, uint32_t block_size, int bloom_rows,
			uint64_t expected_rows, hr_sfile_writer **out)
{
	hr_sfile_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->io = io;
	w->fd = -1;
	w->version = atomic_load(&test_write_version);
	if (w->version < HR_SFILE_VERSION_MIN || w->version > HR_SFILE_VERSION)
		w->version = HR_SFILE_VERSION;
	w->block_size = block_size ? block_size : 64 * 1024;
	w->bloom = bloom_rows != 0;
	w->min_ts = INT64_MAX;
	w->max_ts = INT64_MIN;
	w->path = strdup(tmp_path);
	int rc = -ENOMEM;
	if (!w->path)
		goto fail;
	if (w->bloom) {
		w->rows_cap = expected_rows > 1024 && expected_rows < (1u << 24)
				      ? (size_t)expected_rows : 1024;
		w->row_hashes = malloc(w->rows_cap * sizeof(uint64_t));
		if (!w->row_hashes)
			goto fail;
	}
	w->hdr = 4 + (w->version >= 3 ? HR_SFILE_BLK_HDR : 0);
	if (buf_reserve(&w->blk, w->hdr) < 0)
		goto fail;
	memset(w->blk.p, 0, w->hdr);
	w->blk.len = w->hdr;
	/* synced before it is renamed into place: nothing relies on a write
	 * before that */
	w->fd = hr_io_open(io, tmp_path, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_TRUNC | HR_IO_WRITEBACK);
	if (w->fd < 0) {
		rc = w->fd;
		hr_log_error("sfile", "%s: create: %s", tmp_path, strerror(-rc));
		goto fail;
	}
	*out = w;
	return 0;
fail:
	free(w->row_hashes);
	free(w->blk.p);
	free(w->path);
	free(w);
	return rc;
}

int hr_sfile_write_compression(hr_sfile_writer *w, int codec, int level)
{
	if (w->entries || (codec != (int)HR_SFILE_CODEC_NONE && codec != (int)HR_SFILE_CODEC_LZ4 &&
			   codec != (int)HR_SFILE_CODEC_ZSTD))
		return -EINVAL;
	/* older formats have no block header: their blocks stay raw */
	w->codec = w->version >= 3 ? codec : (int)HR_SFILE_CODEC_NONE;
	w->level = level > 0 && level <= ZSTD_maxCLevel() ? level : 3;
	return 0;
}

uint64_t hr_sfile_write_raw_bytes(const hr_sfile_writer *w) { return w->raw_bytes; }
uint64_t hr_sfile_write_entries(const hr_sfile_writer *w) { return w->entries; }
uint64_t hr_sfile_write_bytes(const hr_sfile_writer *w) { return w->file_off; }

/* Frames payload (which starts with a 4-byte placeholder in b) and writes
 * it: u32 len | payload | u32 crc. Returns the on-disk length via disk_len. */
static int write_framed(hr_sfile_writer *w, buf *b, uint32_t *disk_len)
{
	size_t payload = b->len - 4;
	if (payload > UINT32_MAX - 8)
		return -EFBIG;
	hr_put32(b->p, (uint32_t)payload);
	uint32_t crc = hr_crc32c(0, b->p, b->len);
	int rc = buf_add32(b, crc);
	if (rc < 0)
		return rc;
	rc = hr_io_pwrite_all(w->io, w->fd, b->p, b->len, w->file_off);
	if (rc < 0) {
		hr_log_error("sfile", "%s: write at offset %llu: %s", w->path,
			     (unsigned long long)w->file_off, strerror(-rc));
		return rc;
	}
	*disk_len = (uint32_t)b->len;
	w->file_off += b->len;
	return 0;
}

/* Appends the search aids after the entries: u32 off[n] | u32 pfx[n] |
 * u32 lcp | u32 n (see hr_format.h). */
static int add_block_tail(hr_sfile_writer *w)
{
	const uint8_t *ents = w->blk.p + w->hdr;
	hr_kv first, last;
	ent_decode(w->version, ents, w->blk.len - w->hdr, &first);
	uint32_t lo = hr_get32(w->offs.p + w->offs.len - 4);
	ent_decode(w->version, ents + lo, w->blk.len - w->hdr - lo, &last);
	uint32_t lcp = 0;
	while (lcp < first.row_len && lcp < last.row_len && first.row[lcp] == last.row[lcp])
		lcp++;
	int rc = buf_reserve(&w->blk, 8 * (size_t)w->blk_n + 8);
	if (rc < 0)
		return rc;
	ents = w->blk.p + w->hdr;	/* may have moved */
	buf_add(&w->blk, w->offs.p, w->offs.len);
	for (uint32_t i = 0; i < w->blk_n; i++) {
		hr_kv kv;
		uint32_t o = hr_get32(w->offs.p + 4 * (size_t)i);
		ent_decode(w->version, ents + o, w->blk.len - w->hdr - o, &kv);
		buf_add32(&w->blk, hr_sfile_row_prefix(kv.row + lcp, kv.row_len - lcp));
	}
	buf_add32(&w->blk, lcp);
	buf_add32(&w->blk, w->blk_n);
	return 0;
}

/* Compresses the block body of blk (raw_len bytes after the header) into
 * w->cbuf, framed the same way; 0 and cbuf.len 0 if it would not shrink. */
static int compress_block(hr_sfile_writer *w, size_t raw_len)
{
	const uint8_t *raw = w->blk.p + w->hdr;
	size_t bound = w->codec == HR_SFILE_CODEC_LZ4 ? (size_t)LZ4_compressBound((int)raw_len)
						      : ZSTD_compressBound(raw_len);
	w->cbuf.len = 0;
	int rc = buf_reserve(&w->cbuf, w->hdr + bound + 4);
	if (rc < 0)
		return rc;
	uint8_t *dst = w->cbuf.p + w->hdr;
	size_t clen;
	if (w->codec == HR_SFILE_CODEC_LZ4) {
		int n = LZ4_compress_default((const char *)raw, (char *)dst, (int)raw_len,
					     (int)bound);
		if (n <= 0)
			return 0;	/* lz4 gave up: store it raw */
		clen = (size_t)n;
	} else {
		if (!w->zc && !(w->zc = ZSTD_createCCtx()))
			return -ENOMEM;
		clen = ZSTD_compressCCtx(w->zc, dst, bound, raw, raw_len, w->level);
		if (ZSTD_isError(clen))
			return 0;
	}
	if (clen >= raw_len)
		return 0;
	w->cbuf.len = w->hdr + clen;
	return 0;
}

/* A version-3 block: header, then the body raw or compressed. */
static int write_data_block(hr_sfile_writer *w, uint32_t *disk_len)
{
	size_t raw_len = w->blk.len - w->hdr;
	w->raw_bytes += raw_len;
	if (w->version < 3)
		return write_framed(w, &w->blk, disk_len);
	buf *out = &w->blk;
	uint8_t flags = 0;
	if (w->codec != HR_SFILE_CODEC_NONE) {
		w->cbuf.len = 0;
		int rc = raw_len <= HR_SFILE_MAX_RAW_BLOCK ? compress_block(w, raw_len) : 0;
		if (rc < 0)
			return rc;
		if (w->cbuf.len)
			out = &w->cbuf;
		else
			flags = HR_SFILE_BLK_INCOMPRESSIBLE;
	}
	uint8_t *h = out->p + 4;
	h[0] = out == &w->cbuf ? (uint8_t)w->codec : HR_SFILE_CODEC_NONE;
	h[1] = flags;
	h[2] = h[3] = 0;
	hr_put32(h + 4, (uint32_t)raw_len);
	return write_framed(w, out, disk_len);
}

static int flush_block(hr_sfile_writer *w)
{
	if (!w->blk_n)
		return 0;
	int rc = add_block_tail(w);
	uint32_t disk_len = 0;
	if (rc == 0)
		rc = write_data_block(w, &disk_len);
	if (rc < 0)
		return rc;
	w->blk.len = w->hdr;
	w->offs.len = 0;
	w->blk_n = 0;
	return 0;
}

static int add_row_hash(hr_sfile_writer *w, const hr_kv *kv)
{
	if (w->nrows == w->rows_cap) {
		size_t cap = w->rows_cap * 2;
		uint64_t *p = realloc(w->row_hashes, cap * sizeof(uint64_t));
		if (!p)
			return -ENOMEM;
		w->row_hashes = p;
		w->rows_cap = cap;
	}
	w->row_hashes[w->nrows++] = hr_sfile_row_hash(kv->row, kv->row_len);
	return 0;
}

static int remember_last(hr_sfile_writer *w, const hr_kv *kv)
{
	w->last.len = 0;
	int rc = buf_add(&w->last, kv->row, kv->row_len);
	if (rc == 0)
		rc = buf_add(&w->last, kv->qual, kv->qual_len);
	if (rc < 0)
		return rc;
	w->last_kv = *kv;
	w->last_kv.row = w->last.p;
	w->last_kv.qual = w->last.p + kv->row_len;
	w->last_kv.value = NULL;
	w->last_kv.value_len = 0;
	w->last_kv.tags = NULL;
	w->last_kv.tags_len = 0;
	w->have_last = 1;
	return 0;
}

int hr_sfile_write_add(hr_sfile_writer *w, const hr_kv *kv)
{
	if (w->err)
		return w->err;
	int rc = -EINVAL;
	if (kv->row_len > UINT16_MAX || kv->qual_len > UINT16_MAX || kv->tags_len > UINT16_MAX) {
		hr_log_error("sfile", "%s: entry %llu: row/qualifier/tags too long", w->path,
			     (unsigned long long)w->entries);
		goto fail;
	}
	if (kv->tags_len && w->version < 2) {
		hr_log_error("sfile", "%s: entry %llu: tags in a version-%u file", w->path,
			     (unsigned long long)w->entries, w->version);
		goto fail;
	}
	int new_row = 1;
	if (w->have_last) {
		if (hr_kv_cmp(&w->last_kv, kv) > 0) {
			hr_log_error("sfile", "%s: entry %llu added out of order", w->path,
				     (unsigned long long)w->entries);
			goto fail;
		}
		new_row = hr_bytes_cmp(w->last_kv.row, w->last_kv.row_len, kv->row,
				       kv->row_len) != 0;
	}
	size_t elen = ent_len(w->version, kv);
	size_t cur = w->blk.len - w->hdr + 2 * w->offs.len + 8;
	if (w->blk_n && cur + elen + 8 > w->block_size) {
		rc = flush_block(w);
		if (rc < 0)
			goto fail;
	}
	if (w->blk.len - w->hdr + elen > UINT32_MAX - 64) {
		rc = -EFBIG;
		goto fail;
	}
	if (w->blk_n == 0) {
		/* Index entry: u64 off | u32 disk_len (patched at finish from
		 * the running offsets) | first key. */
		if ((rc = buf_add64(&w->index, w->file_off)) < 0 ||
		    (rc = buf_add32(&w->index, 0)) < 0 ||
		    (rc = buf_add_key(&w->index, w->version, kv)) < 0)
			goto fail;
		w->nblocks++;
	}
	if ((rc = buf_add32(&w->offs, (uint32_t)(w->blk.len - w->hdr))) < 0 ||
	    (rc = buf_reserve(&w->blk, elen)) < 0)
		goto fail;
	ent_encode(w->version, w->blk.p + w->blk.len, kv);
	w->blk.len += elen;
	w->blk_n++;

	if (w->bloom && new_row && (rc = add_row_hash(w, kv)) < 0)
		goto fail;
	if (!w->have_last && (rc = buf_add_key(&w->first, w->version, kv)) < 0)
		goto fail;
	if ((rc = remember_last(w, kv)) < 0)
		goto fail;
	if (!w->bloom && new_row)
		w->nrows++;
	w->entries++;
	w->data_bytes += elen;
	if (kv->type != HR_PUT)
		w->deletes++;
	if (kv->seq > w->max_seq)
		w->max_seq = kv->seq;
	if (kv->ts < w->min_ts)
		w->min_ts = kv->ts;
	if (kv->ts > w->max_ts)
		w->max_ts = kv->ts;
	return 0;
fail:
	w->err = rc;
	return rc;
}

/* Fills in each index entry's disk_len: block i spans from its offset to
 * block i+1's (blocks are contiguous from 0), the last one to data_end. */
static int patch_index(hr_sfile_writer *w, uint64_t data_end)
{
	size_t pos = 0;
	uint8_t *prev_len = NULL;
	uint64_t prev_off = 0;
	for (uint32_t i = 0; i < w->nblocks; i++) {
		uint64_t off = hr_get64(w->index.p + pos);
		if (prev_len)
			hr_put32(prev_len, (uint32_t)(off - prev_off));
		prev_len = w->index.p + pos + 8;
		prev_off = off;
		hr_kv k;
		int n = ent_decode(w->version, w->index.p + pos + 12, w->index.len - pos - 12, &k);
		if (n < 0)
			return -EIO;	/* cannot happen: we encoded it */
		pos += 12 + (size_t)n;
	}
	if (prev_len)
		hr_put32(prev_len, (uint32_t)(data_end - prev_off));
	return 0;
}

static void bloom_set(uint8_t *bits, uint64_t nbits, uint64_t h)
{
	uint64_t h1 = h & 0xffffffffu, h2 = h >> 32;
	for (uint32_t i = 0; i < BLOOM_K; i++) {
		uint64_t b = (h1 + i * h2) % nbits;
		bits[b >> 3] |= (uint8_t)(1u << (b & 7));
	}
}

static int write_meta(hr_sfile_writer *w, uint64_t max_seq, uint8_t trailer[HR_SFILE_TRAILER_LEN])
{
	buf b = {0};
	int rc;
	uint32_t len;
	uint64_t data_end = w->file_off;

	/* index */
	if ((rc = patch_index(w, data_end)) < 0 || (rc = buf_add32(&b, 0)) < 0 ||
	    (rc = buf_add32(&b, w->nblocks)) < 0 ||
	    (rc = buf_add(&b, w->index.p, w->index.len)) < 0)
		goto out;
	uint64_t index_off = w->file_off;
	if ((rc = write_framed(w, &b, &len)) < 0)
		goto out;
	uint64_t index_len = len;

	/* bloom */
	uint64_t bloom_off = 0, bloom_len = 0;
	if (w->bloom) {
		uint64_t nbits = (uint64_t)w->nrows * BLOOM_BITS_PER_ROW;
		if (nbits < 64)
			nbits = 64;
		nbits = (nbits + 7) & ~7ull;
		b.len = 0;
		if ((rc = buf_add32(&b, 0)) < 0 || (rc = buf_add32(&b, BLOOM_K)) < 0 ||
		    (rc = buf_add32(&b, HR_SFILE_BLOOM_HASH_VERSION)) < 0 ||
		    (rc = buf_add64(&b, nbits)) < 0 || (rc = buf_reserve(&b, nbits / 8)) < 0)
			goto out;
		uint8_t *bits = b.p + b.len;
		memset(bits, 0, nbits / 8);
		for (size_t i = 0; i < w->nrows; i++)
			bloom_set(bits, nbits, w->row_hashes[i]);
		b.len += nbits / 8;
		bloom_off = w->file_off;
		if ((rc = write_framed(w, &b, &len)) < 0)
			goto out;
		bloom_len = len;
	}

	/* info */
	b.len = 0;
	if (max_seq < w->max_seq)
		max_seq = w->max_seq;
	if ((rc = buf_add32(&b, 0)) < 0 || (rc = buf_add64(&b, max_seq)) < 0 ||
	    (rc = buf_add64(&b, w->entries)) < 0 || (rc = buf_add64(&b, w->nrows)) < 0 ||
	    (rc = buf_add64(&b, w->deletes)) < 0 ||
	    (rc = buf_add64(&b, (uint64_t)w->min_ts)) < 0 ||
	    (rc = buf_add64(&b, (uint64_t)w->max_ts)) < 0 ||
	    (rc = buf_add64(&b, w->nblocks)) < 0 || (rc = buf_add64(&b, w->data_bytes)) < 0 ||
	    (rc = buf_add32(&b, w->block_size)) < 0 ||
	    (rc = buf_add32(&b, w->bloom ? HR_SFILE_INFO_HAS_BLOOM : 0)) < 0 ||
	    (rc = buf_add(&b, w->first.p, w->first.len)) < 0)
		goto out;
	if (w->have_last && (rc = buf_add_key(&b, w->version, &w->last_kv)) < 0)
		goto out;
	uint64_t info_off = w->file_off;
	if ((rc = write_framed(w, &b, &len)) < 0)
		goto out;
	uint64_t info_len = len;

	memset(trailer, 0, HR_SFILE_TRAILER_LEN);
	memcpy(trailer, HR_SFILE_MAGIC, 8);
	hr_put32(trailer + 8, w->version);
	hr_put64(trailer + 16, index_off);
	hr_put64(trailer + 24, index_len);
	hr_put64(trailer + 32, bloom_off);
	hr_put64(trailer + 40, bloom_len);
	hr_put64(trailer + 48, info_off);
	hr_put64(trailer + 56, info_len);
	hr_put32(trailer + 68, hr_crc32c(0, trailer, 68));
	rc = hr_io_pwrite_all(w->io, w->fd, trailer, HR_SFILE_TRAILER_LEN, w->file_off);
	if (rc < 0)
		hr_log_error("sfile", "%s: write trailer: %s", w->path, strerror(-rc));
	else
		w->file_off += HR_SFILE_TRAILER_LEN;
out:
	free(b.p);
	return rc;
}

static void writer_free(hr_sfile_writer *w)
{
	if (w->fd >= 0)
		hr_io_close(w->io, w->fd);
	free(w->blk.p);
	free(w->cbuf.p);
	ZSTD_freeCCtx(w->zc);
	free(w->offs.p);
	free(w->index.p);
	free(w->last.p);
	free(w->first.p);
	free(w->row_hashes);
	free(w->path);
	free(w);
}

int hr_sfile_write_finish(hr_sfile_writer *w, uint64_t max_seq)
{
	uint8_t trailer[HR_SFILE_TRAILER_LEN];
	int rc = w->err;
	if (rc == 0)
		rc = flush_block(w);
	if (rc == 0)
		rc = write_meta(w, max_seq, trailer);
	if (rc == 0) {
		rc = hr_io_sync(w->io, w->fd, 0);
		if (rc < 0)
			hr_log_error("sfile", "%s: fsync: %s", w->path, strerror(-rc));
	}
	if (rc == 0) {
		int fd = w->fd;
		w->fd = -1;
		if ((rc = hr_io_close(w->io, fd)) < 0)
			hr_log_error("sfile", "%s: close: %s", w->path, strerror(-rc));
	}
	if (rc < 0) {
		hr_sfile_write_abort(w);
		return rc;
	}
	writer_free(w);
	return 0;
}

void hr_sfile_write_abort(hr_sfile_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		hr_io_close(w->io, w->fd);
		w->fd = -1;
	}
	int rc = hr_io_unlink(w->io, w->path);
	if (rc < 0 && rc != -ENOENT)
		hr_log_error("sfile", "%s: unlink: %s", w->path, strerror(-rc));
	writer_free(w);
}
