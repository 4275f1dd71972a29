/* sfile_iter.c — data-block loading and the store-file iterator (contract
 * in hr_sfile.h, block layout in hr_format.h "Store files"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_util.h"
#include "hr_log.h"
#include "sfile_int.h"

struct hr_sfile_iter {
	hr_sfile *f;
	hr_block *blk;		/* referenced; NULL when none loaded */
	uint32_t bi;		/* index of blk */
	const uint8_t *ents;	/* entries area of blk's payload */
	const uint8_t *offs;	/* u32 offset array */
	const uint8_t *pfx;	/* u32 row prefixes after the common prefix */
	uint32_t lcp;		/* row bytes all entries of blk share */
	uint32_t n, pos;
	int fmt;		/* the file's entry encoding */
	hr_kv kv;
	int valid;
};

/* Checks a data block's layout so iteration can decode it blindly: the
 * offset array, every entry's exact extent, and that the first key is the
 * one the index promised. The CRC is already verified. */
static int check_data_block(const hr_sfile *f, const hr_sfile_idx *e, const uint8_t *pl,
			    size_t plen)
{
	const char *why = NULL;
	if (plen < 8) {
		why = "too short";
		goto bad;
	}
	uint32_t n = hr_get32(pl + plen - 4);
	uint32_t lcp = hr_get32(pl + plen - 8);
	if (n == 0 || n > (plen - 8) / (8 + f->kv_hdr)) {
		why = "bad entry count";
		goto bad;
	}
	size_t ents_len = plen - 8 - 8 * (size_t)n;
	const uint8_t *offs = pl + ents_len, *pfx = offs + 4 * (size_t)n;
	if (hr_get32(offs) != 0 || lcp > e->first.row_len) {
		why = "bad offset array";
		goto bad;
	}
	for (uint32_t i = 0; i < n; i++) {
		size_t o = hr_get32(offs + 4 * i);
		size_t end = i + 1 < n ? hr_get32(offs + 4 * (i + 1)) : ents_len;
		hr_kv kv;
		if (end > ents_len || o >= end ||
		    hr_kv_decode_fmt(pl + o, end - o, &kv, f->kv_fmt) != (int)(end - o)) {
			why = "bad entry extent";
			goto bad;
		}
		if (i == 0 && hr_kv_cmp(&kv, &e->first) != 0) {
			why = "first key differs from the index";
			goto bad;
		}
		/* seek trusts these to order entries without decoding them */
		if (kv.row_len < lcp || memcmp(kv.row, e->first.row, lcp) != 0 ||
		    hr_get32(pfx + 4 * i) != hr_sfile_row_prefix(kv.row + lcp, kv.row_len - lcp)) {
			why = "bad row prefix";
			goto bad;
		}
	}
	return 0;
bad:
	hr_log_error("sfile", "%s: block at offset %llu: %s", f->path,
		     (unsigned long long)e->off, why);
	return -EIO;
}

static void iter_drop_block(hr_sfile_iter *it)
{
	hr_block_unref(it->blk);
	it->blk = NULL;
	it->valid = 0;
}

/* Makes block bi current (from the cache, or read, checked and cached). */
static int load_block(hr_sfile_iter *it, uint32_t bi)
{
	if (it->blk && it->bi == bi)
		return 0;
	iter_drop_block(it);
	hr_sfile *f = it->f;
	const hr_sfile_idx *e = &f->idx[bi];
	hr_block *b = hr_bcache_lookup(f->bc, f->file_id, e->off);
	if (!b) {
		/* the cache holds blocks decoded: a hit costs no decompression,
		 * and a block read by many gets is decoded once */
		uint8_t *p;
		size_t len;
		int rc = hr_sfile_load_data_block(f, e, &p, &len);
		if (rc < 0)
			return rc;
		if ((rc = check_data_block(f, e, p + 4 + f->blk_hdr, len - 8 - f->blk_hdr)) < 0) {
			free(p);
			return rc;
		}
		b = hr_bcache_insert(f->bc, f->file_id, e->off, p, len);
		if (!b)
			return -ENOMEM;
	}
	const uint8_t *pl = hr_block_data(b) + 4 + f->blk_hdr;
	size_t plen = hr_block_len(b) - 8 - f->blk_hdr;
	it->blk = b;
	it->bi = bi;
	it->n = hr_get32(pl + plen - 4);
	it->lcp = hr_get32(pl + plen - 8);
	it->ents = pl;
	it->offs = pl + plen - 8 - 8 * (size_t)it->n;
	it->pfx = it->offs + 4 * (size_t)it->n;
	return 0;
}

static void decode_at(hr_sfile_iter *it, uint32_t pos)
{
	uint32_t o = hr_get32(it->offs + 4 * (size_t)pos);
	/* extents were checked at load: decode cannot fail */
	hr_kv_decode_fmt(it->ents + o, (size_t)(it->offs - it->ents) - o, &it->kv, it->fmt);
	it->pos = pos;
	it->valid = 1;
}

int hr_sfile_iter_new(hr_sfile *f, hr_sfile_iter **out)
{
	/* malloc + memset: one per file per read, and glibc's calloc always
	 * takes the slow path (no thread cache) */
	hr_sfile_iter *it = malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	memset(it, 0, sizeof(*it));
	hr_sfile_ref(f);
	it->f = f;
	it->fmt = f->kv_fmt;
	*out = it;
	return 0;
}

void hr_sfile_iter_free(hr_sfile_iter *it)
{
	if (!it)
		return;
	hr_block_unref(it->blk);
	hr_sfile_unref(it->f);
	free(it);
}

int hr_sfile_iter_valid(const hr_sfile_iter *it) { return it->valid; }
const hr_kv *hr_sfile_iter_kv(const hr_sfile_iter *it) { return it->valid ? &it->kv : NULL; }

/* Positions at entry 0 of block bi, or past the end. */
static int go_block_start(hr_sfile_iter *it, uint32_t bi)
{
	if (bi >= it->f->nblocks) {
		iter_drop_block(it);
		return 0;
	}
	int rc = load_block(it, bi);
	if (rc < 0) {
		iter_drop_block(it);
		return rc;
	}
	decode_at(it, 0);
	return 0;
}

int hr_sfile_iter_first(hr_sfile_iter *it) { return go_block_start(it, 0); }

int hr_sfile_iter_seek(hr_sfile_iter *it, const hr_kv *target)
{
	const hr_sfile *f = it->f;
	it->valid = 0;
	if (!f->nblocks)
		return 0;
	/* The last block whose first key is < target holds the answer, or it
	 * is the next block's first entry. (Strictly less, so that equal keys
	 * straddling a block boundary are found from their first copy.) */
	uint32_t lo = 0, hi = f->nblocks;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (hr_kv_cmp(&f->idx[mid].first, target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t bi = lo ? lo - 1 : 0;
	int rc = load_block(it, bi);
	if (rc < 0) {
		iter_drop_block(it);
		return rc;
	}
	/* Every row in the block starts with the same lcp bytes (those of the
	 * index key). A target without them is before or after the whole
	 * block; with them, the next 4 row bytes (pfx[]) order most probes
	 * without touching the entry itself: fewer cache misses per seek. */
	const hr_kv *bf = &f->idx[bi].first;
	uint32_t tl = target->row_len < it->lcp ? target->row_len : it->lcp;
	int c = hr_bytes_cmp(target->row, tl, bf->row, it->lcp);
	if (c < 0)
		lo = hi = 0;
	else if (c > 0)
		lo = hi = it->n;
	else {
		lo = 0;
		hi = it->n;
	}
	uint32_t tp = 0;
	if (c == 0)	/* then row_len >= lcp, and row is non-NULL if lcp > 0 */
		tp = hr_sfile_row_prefix(it->lcp ? target->row + it->lcp : target->row,
					 target->row_len - it->lcp);
	hr_kv kv;
	size_t ents_len = (size_t)(it->offs - it->ents);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t p = hr_get32(it->pfx + 4 * (size_t)mid);
		int less;
		if (p != tp) {
			less = p < tp;
		} else {
			uint32_t o = hr_get32(it->offs + 4 * (size_t)mid);
			hr_kv_decode_fmt(it->ents + o, ents_len - o, &kv, it->fmt);
			less = hr_kv_cmp(&kv, target) < 0;
		}
		if (less)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < it->n) {
		decode_at(it, lo);
		return 0;
	}
	return go_block_start(it, bi + 1);
}

int hr_sfile_iter_next(hr_sfile_iter *it)
{
	if (!it->valid)
		return 0;
	if (it->pos + 1 < it->n) {
		decode_at(it, it->pos + 1);
		return 0;
	}
	return go_block_start(it, it->bi + 1);
}
