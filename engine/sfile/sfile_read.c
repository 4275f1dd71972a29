/* sfile_read.c — opening a store file, its meta blocks, the bloom filter
 * and the file's lifetime (contract in hr_sfile.h, format in hr_format.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

#include "engine/hr_format.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "sfile_int.h"

/* A 64-bit hash in the style of xxHash64's single lane: fast on short and
 * long rows, and well mixed in both halves, which the bloom's double
 * hashing needs (a CRC would not do: it is linear). */
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t hr_sfile_row_hash(const uint8_t *p, size_t n)
{
	const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
		       P3 = 0x165667B19E3779F9ull, P4 = 0x85EBCA77C2B2AE63ull;
	uint64_t h = P3 ^ (n * P1);
	while (n >= 8) {
		uint64_t k = hr_get64(p) * P2;
		h ^= rotl64(k, 31) * P1;
		h = rotl64(h, 27) * P1 + P4;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t k = 0;
		memcpy(&k, p, n);
		k = (k + n) * P2;
		h ^= rotl64(k, 31) * P1;
		h = rotl64(h, 27) * P1 + P4;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

/* Reads one framed block of disk_len bytes at off into a malloc'd buffer
 * and checks framing and CRC. On success *out owns the buffer; the payload
 * is at +4, payload_len = disk_len - 8. */
int hr_sfile_read_block(const hr_sfile *f, uint64_t off, uint64_t disk_len, uint8_t **out)
{
	if (disk_len < 8 || disk_len > UINT32_MAX) {
		hr_log_error("sfile", "%s: block at offset %llu: bad length %llu", f->path,
			     (unsigned long long)off, (unsigned long long)disk_len);
		return -EIO;
	}
	uint8_t *p = malloc(disk_len);
	if (!p)
		return -ENOMEM;
	int rc = hr_fdcache_pread(f->fc, f->file_id, f->path, p, disk_len, off);
	if (rc < 0) {
		hr_log_error("sfile", "%s: block at offset %llu: read: %s", f->path,
			     (unsigned long long)off, strerror(-rc));
		free(p);
		return rc;
	}
	if (hr_get32(p) != disk_len - 8) {
		hr_log_error("sfile", "%s: block at offset %llu: length mismatch", f->path,
			     (unsigned long long)off);
		free(p);
		return -EIO;
	}
	if (hr_crc32c(0, p, disk_len - 4) != hr_get32(p + disk_len - 4)) {
		hr_log_error("sfile", "%s: block at offset %llu: checksum mismatch", f->path,
			     (unsigned long long)off);
		free(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

static int bad(const hr_sfile *f, const char *what)
{
	hr_log_error("sfile", "%s: %s", f->path, what);
	return -EIO;
}

static int bad_block(const hr_sfile *f, uint64_t off, const char *what)
{
	hr_log_error("sfile", "%s: block at offset %llu: %s", f->path, (unsigned long long)off,
		     what);
	return -EIO;
}

/* The block header of a version-3 data block p (framed, disk_len bytes,
 * CRC checked), checked against the block's length. */
static int parse_blk_hdr(const hr_sfile *f, uint64_t off, const uint8_t *p, size_t disk_len,
			 hr_sfile_block_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->stored_len = (uint32_t)disk_len;
	if (!f->blk_hdr) {
		d->codec = HR_SFILE_CODEC_NONE;
		d->raw_len = (uint32_t)(disk_len - 8);
		return 0;
	}
	if (disk_len < 8 + HR_SFILE_BLK_HDR)
		return bad_block(f, off, "too short for its header");
	const uint8_t *h = p + 4;
	d->codec = h[0];
	d->incompressible = (h[1] & HR_SFILE_BLK_INCOMPRESSIBLE) != 0;
	d->raw_len = hr_get32(h + 4);
	size_t body = disk_len - 8 - HR_SFILE_BLK_HDR;
	if ((h[1] & ~HR_SFILE_BLK_INCOMPRESSIBLE) || h[2] || h[3])
		return bad_block(f, off, "unknown block header flags");
	switch (d->codec) {
	case HR_SFILE_CODEC_NONE:
		if (d->raw_len != body)
			return bad_block(f, off, "raw length disagrees with the block");
		return 0;
	case HR_SFILE_CODEC_LZ4:
	case HR_SFILE_CODEC_ZSTD:
		if (d->incompressible || d->raw_len > HR_SFILE_MAX_RAW_BLOCK || d->raw_len <= body)
			return bad_block(f, off, "bad compressed block header");
		return 0;
	default:
		return bad_block(f, off, "unknown compression codec");
	}
}

/* One zstd decoding context per thread, kept: ZSTD_decompress would make
 * (and free) one per block, a large allocation on every cache miss. Freed
 * by the key's destructor when the thread exits. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *p) { ZSTD_freeDCtx(p); }
static void dctx_init(void) { pthread_key_create(&dctx_key, dctx_free); }

static ZSTD_DCtx *thread_dctx(void)
{
	pthread_once(&dctx_once, dctx_init);
	ZSTD_DCtx *d = pthread_getspecific(dctx_key);
	if (!d && (d = ZSTD_createDCtx()) && pthread_setspecific(dctx_key, d) != 0) {
		ZSTD_freeDCtx(d);
		d = NULL;
	}
	return d;
}

int hr_sfile_load_data_block(const hr_sfile *f, const hr_sfile_idx *e, uint8_t **out,
			     size_t *len)
{
	uint8_t *p;
	hr_sfile_block_desc d;
	int rc = hr_sfile_read_block(f, e->off, e->len, &p);
	if (rc < 0)
		return rc;
	if ((rc = parse_blk_hdr(f, e->off, p, e->len, &d)) < 0)
		goto fail;
	if (d.codec == HR_SFILE_CODEC_NONE) {
		*out = p;
		*len = e->len;
		return 0;
	}
	/* decoded into the shape of a raw block: u32 len | header | payload | u32 */
	size_t n = 4 + HR_SFILE_BLK_HDR + (size_t)d.raw_len + 4;
	uint8_t *q = malloc(n);
	if (!q) {
		rc = -ENOMEM;
		goto fail;
	}
	const uint8_t *src = p + 4 + HR_SFILE_BLK_HDR;
	size_t srclen = e->len - 8 - HR_SFILE_BLK_HDR;
	uint8_t *dst = q + 4 + HR_SFILE_BLK_HDR;
	size_t got;
	if (d.codec == HR_SFILE_CODEC_LZ4) {
		int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)srclen,
					    (int)d.raw_len);
		got = r < 0 ? SIZE_MAX : (size_t)r;
	} else {
		/* one frame whose declared size is raw_len, and nothing after it */
		unsigned long long fcs = ZSTD_getFrameContentSize(src, srclen);
		size_t fl = ZSTD_findFrameCompressedSize(src, srclen);
		got = SIZE_MAX;
		ZSTD_DCtx *dc = thread_dctx();
		if (!dc) {
			free(q);
			rc = -ENOMEM;
			goto fail;
		}
		if (fcs == d.raw_len && !ZSTD_isError(fl) && fl == srclen) {
			size_t r = ZSTD_decompressDCtx(dc, dst, d.raw_len, src, srclen);
			got = ZSTD_isError(r) ? SIZE_MAX : r;
		}
	}
	if (got != d.raw_len) {
		free(q);
		rc = bad_block(f, e->off, d.codec == HR_SFILE_CODEC_LZ4 ? "lz4 body does not decode"
									  : "zstd body does not decode");
		goto fail;
	}
	hr_put32(q, (uint32_t)(HR_SFILE_BLK_HDR + d.raw_len));
	memset(q + 4, 0, HR_SFILE_BLK_HDR);
	hr_put32(q + 8, d.raw_len);
	hr_put32(q + n - 4, 0);	/* no CRC: checked on the stored bytes */
	free(p);
	*out = q;
	*len = n;
	return 0;
fail:
	free(p);
	return rc;
}

int hr_sfile_block_describe(const hr_sfile *f, uint32_t i, hr_sfile_block_desc *out)
{
	if (i >= f->nblocks)
		return -ERANGE;
	uint8_t *p;
	int rc = hr_sfile_read_block(f, f->idx[i].off, f->idx[i].len, &p);
	if (rc < 0)
		return rc;
	rc = parse_blk_hdr(f, f->idx[i].off, p, f->idx[i].len, out);
	free(p);
	return rc;
}

/* Decodes a key (value_len and tags_len must be 0) at p, at most avail
 * bytes, in the file's entry encoding. */
static int decode_key(const hr_sfile *f, const uint8_t *p, size_t avail, hr_kv *k)
{
	int n = hr_kv_decode_fmt(p, avail, k, f->kv_fmt);
	if (n < 0 || k->value_len != 0 || k->tags_len != 0)
		return -EIO;
	k->value = NULL;
	return n;
}

static int parse_trailer(hr_sfile *f, const uint8_t *t, uint64_t size, uint64_t off_len[3][2])
{
	if (memcmp(t, HR_SFILE_MAGIC, 8) != 0)
		return bad(f, "trailer: bad magic (not a store file)");
	if (hr_crc32c(0, t, 68) != hr_get32(t + 68))
		return bad(f, "trailer: checksum mismatch");
	uint32_t version = hr_get32(t + 8);
	if (version < HR_SFILE_VERSION_MIN || version > HR_SFILE_VERSION)
		return bad(f, "trailer: unsupported version");
	/* the version names the entry encoding: 1 without tags, 2 with */
	f->info.version = version;
	f->kv_fmt = version >= 2 ? HR_KV_FMT_2 : HR_KV_FMT_1;
	f->kv_hdr = version >= 2 ? HR_KV_HDR : HR_KV_HDR_V1;
	f->blk_hdr = version >= 3 ? HR_SFILE_BLK_HDR : 0;
	uint64_t meta_end = size - HR_SFILE_TRAILER_LEN;
	for (int i = 0; i < 3; i++) {
		uint64_t off = hr_get64(t + 16 + 16 * i), len = hr_get64(t + 24 + 16 * i);
		if (i == 1 && len == 0)
			continue;	/* no bloom */
		if (len < 8 || off > meta_end || len > meta_end - off)
			return bad(f, "trailer: block range out of the file");
		off_len[i][0] = off;
		off_len[i][1] = len;
	}
	return 0;
}

static int parse_info(hr_sfile *f)
{
	const uint8_t *p = f->info_buf + 4;
	size_t len = hr_get32(f->info_buf);
	hr_sfile_info *in = &f->info;
	if (len < HR_SFILE_INFO_FIXED)
		return bad(f, "info block: too short");
	in->max_seq = hr_get64(p);
	in->entry_count = hr_get64(p + 8);
	in->row_count = hr_get64(p + 16);
	in->delete_count = hr_get64(p + 24);
	in->min_ts = (int64_t)hr_get64(p + 32);
	in->max_ts = (int64_t)hr_get64(p + 40);
	in->data_block_count = hr_get64(p + 48);
	in->data_bytes = hr_get64(p + 56);
	in->block_size = hr_get32(p + 64);
	in->has_bloom = (hr_get32(p + 68) & HR_SFILE_INFO_HAS_BLOOM) != 0;
	size_t pos = HR_SFILE_INFO_FIXED;
	if (in->entry_count) {
		int n = decode_key(f, p + pos, len - pos, &in->first_key);
		if (n < 0)
			return bad(f, "info block: bad first key");
		pos += (size_t)n;
		n = decode_key(f, p + pos, len - pos, &in->last_key);
		if (n < 0)
			return bad(f, "info block: bad last key");
		pos += (size_t)n;
		if (hr_kv_cmp(&in->first_key, &in->last_key) > 0)
			return bad(f, "info block: first key after last key");
	}
	if (pos != len)
		return bad(f, "info block: trailing bytes");
	return 0;
}

static int parse_index(hr_sfile *f, uint64_t data_end)
{
	const uint8_t *p = f->index_buf + 4;
	size_t len = hr_get32(f->index_buf);
	if (len < 4)
		return bad(f, "index block: too short");
	uint32_t n = hr_get32(p);
	if (n != f->info.data_block_count || (n == 0) != (f->info.entry_count == 0))
		return bad(f, "index block: block count disagrees with file info");
	if (n > (len - 4) / (12 + f->kv_hdr))
		return bad(f, "index block: count too large");
	f->idx = calloc(n ? n : 1, sizeof(*f->idx));
	if (!f->idx)
		return -ENOMEM;
	size_t pos = 4;
	uint64_t expect_off = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (len - pos < 12)
			return bad(f, "index block: truncated entry");
		hr_sfile_idx *e = &f->idx[i];
		e->off = hr_get64(p + pos);
		e->len = hr_get32(p + pos + 8);
		int kn = decode_key(f, p + pos + 12, len - pos - 12, &e->first);
		if (kn < 0)
			return bad(f, "index block: bad key");
		pos += 12 + (size_t)kn;
		/* Blocks tile [0, data_end): no gaps, no overlaps. */
		if (e->off != expect_off || e->len < 16 + f->blk_hdr || e->len > data_end - e->off)
			return bad(f, "index block: bad block range");
		if (i && hr_kv_cmp(&f->idx[i - 1].first, &e->first) > 0)
			return bad(f, "index block: keys out of order");
		expect_off = e->off + e->len;
	}
	if (pos != len || expect_off != data_end)
		return bad(f, "index block: does not cover the data");
	f->nblocks = n;
	return 0;
}

static int parse_bloom(hr_sfile *f)
{
	const uint8_t *p = f->bloom_buf + 4;
	size_t len = hr_get32(f->bloom_buf);
	if (len < 16)
		return bad(f, "bloom block: too short");
	uint32_t k = hr_get32(p);
	uint64_t nbits = hr_get64(p + 8);
	if (hr_get32(p + 4) != HR_SFILE_BLOOM_HASH_VERSION || k < 1 || k > 30 || nbits == 0 ||
	    nbits > (uint64_t)(len - 16) * 8 || (nbits + 7) / 8 != len - 16)
		return bad(f, "bloom block: bad header");
	f->bloom_k = k;
	f->bloom_nbits = nbits;
	f->bloom_bits = p + 16;
	return 0;
}

int hr_sfile_open(const char *path, uint64_t file_id, hr_fdcache *fc, hr_bcache *bc,
		  hr_sfile **out)
{
	hr_sfile *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int rc = -ENOMEM;
	f->path = strdup(path);
	if (!f->path)
		goto fail;
	f->file_id = file_id;
	f->fc = fc;
	f->bc = bc;
	atomic_init(&f->refs, 1);

	uint64_t size;
	if ((rc = hr_fdcache_size(fc, file_id, path, &size)) < 0) {
		hr_log_error("sfile", "%s: open: %s", path, strerror(-rc));
		goto fail;
	}
	if (size < HR_SFILE_TRAILER_LEN) {
		rc = bad(f, "too short for a trailer");
		goto fail;
	}
	uint8_t t[HR_SFILE_TRAILER_LEN];
	rc = hr_fdcache_pread(fc, file_id, path, t, sizeof(t), size - HR_SFILE_TRAILER_LEN);
	if (rc < 0) {
		hr_log_error("sfile", "%s: read trailer: %s", path, strerror(-rc));
		goto fail;
	}
	uint64_t ol[3][2] = {{0, 0}, {0, 0}, {0, 0}};
	if ((rc = parse_trailer(f, t, size, ol)) < 0)
		goto fail;
	if ((rc = hr_sfile_read_block(f, ol[2][0], ol[2][1], &f->info_buf)) < 0 ||
	    (rc = parse_info(f)) < 0)
		goto fail;
	f->info.file_size = size;
	f->layout = (hr_sfile_layout){.index_off = ol[0][0], .index_len = ol[0][1],
				      .bloom_off = ol[1][0], .bloom_len = ol[1][1],
				      .info_off = ol[2][0], .info_len = ol[2][1]};
	if ((rc = hr_sfile_read_block(f, ol[0][0], ol[0][1], &f->index_buf)) < 0 ||
	    (rc = parse_index(f, ol[0][0])) < 0)
		goto fail;
	if (f->info.has_bloom != (ol[1][1] != 0)) {
		rc = bad(f, "bloom flag disagrees with trailer");
		goto fail;
	}
	if (ol[1][1] && ((rc = hr_sfile_read_block(f, ol[1][0], ol[1][1], &f->bloom_buf)) < 0 ||
			 (rc = parse_bloom(f)) < 0))
		goto fail;
	*out = f;
	return 0;
fail:
	if (rc == -ENOMEM)
		hr_log_error("sfile", "%s: open: out of memory", path);
	hr_fdcache_forget(fc, file_id);
	free(f->idx);
	free(f->index_buf);
	free(f->bloom_buf);
	free(f->info_buf);
	free(f->path);
	free(f);
	return rc;
}

void hr_sfile_ref(hr_sfile *f) { atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed); }

void hr_sfile_unref(hr_sfile *f)
{
	if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (atomic_load(&f->deleted)) {
		hr_fdcache_forget(f->fc, f->file_id);
		hr_bcache_drop_file(f->bc, f->file_id);
		int rc = hr_io_unlink(hr_fdcache_io(f->fc), f->path);
		if (rc < 0 && rc != -ENOENT)
			hr_log_error("sfile", "%s: unlink: %s", f->path, strerror(-rc));
	}
	free(f->idx);
	free(f->index_buf);
	free(f->bloom_buf);
	free(f->info_buf);
	free(f->path);
	free(f);
}

void hr_sfile_mark_deleted(hr_sfile *f) { atomic_store(&f->deleted, 1); }
const hr_sfile_info *hr_sfile_get_info(const hr_sfile *f) { return &f->info; }

void hr_sfile_get_layout(const hr_sfile *f, hr_sfile_layout *out)
{
	*out = f->layout;
	out->nblocks = f->nblocks;
	out->bloom_k = f->bloom_k;
	out->bloom_nbits = f->bloom_nbits;
}

int hr_sfile_block_at(const hr_sfile *f, uint32_t i, uint64_t *off, uint32_t *len,
		      const hr_kv **first)
{
	if (i >= f->nblocks)
		return -ERANGE;
	*off = f->idx[i].off;
	*len = f->idx[i].len;
	*first = &f->idx[i].first;
	return 0;
}
const char *hr_sfile_path(const hr_sfile *f) { return f->path; }
uint64_t hr_sfile_id(const hr_sfile *f) { return f->file_id; }

int hr_sfile_may_contain_row_h(const hr_sfile *f, const uint8_t *row, size_t len,
			       uint64_t h)
{
	const hr_sfile_info *in = &f->info;
	if (!in->entry_count)
		return 0;
	if (hr_bytes_cmp(row, len, in->first_key.row, in->first_key.row_len) < 0 ||
	    hr_bytes_cmp(row, len, in->last_key.row, in->last_key.row_len) > 0)
		return 0;
	if (!f->bloom_bits)
		return 1;
	uint64_t h1 = h & 0xffffffffu, h2 = h >> 32;
	for (uint32_t i = 0; i < f->bloom_k; i++) {
		uint64_t b = (h1 + i * h2) % f->bloom_nbits;
		if (!(f->bloom_bits[b >> 3] & (1u << (b & 7))))
			return 0;
	}
	return 1;
}

int hr_sfile_may_contain_row(const hr_sfile *f, const uint8_t *row, size_t len)
{
	return hr_sfile_may_contain_row_h(f, row, len, hr_sfile_row_hash(row, len));
}

int hr_sfile_mid_row(const hr_sfile *f, const uint8_t **row, size_t *len)
{
	if (!f->nblocks)
		return -ENOENT;
	const hr_kv *k = &f->idx[f->nblocks / 2].first;
	*row = k->row;
	*len = k->row_len;
	return 0;
}
