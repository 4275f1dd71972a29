/* resolve.c — HBase delete/version/TTL semantics over cells fed in order
 * (contract in hr_region.h). Within a row, DeleteFamily markers sit at the
 * empty qualifier and so arrive before every column they can mask; within a
 * column, markers arrive before the puts they can mask (ts desc, type desc).
 * That makes a single forward pass enough. */
#include <stdlib.h>
#include <string.h>

#include "engine/hr_region.h"
#include "engine/hr_util.h"

void hr_resolver_init(hr_resolver *r, const hr_family_schema *f, uint64_t read_point)
{
	memset(r, 0, sizeof(*r));
	r->read_point = read_point;
	r->max_versions = f->max_versions ? f->max_versions : 1;
	r->oldest_ts = f->ttl_ms > 0 ? hr_now_ms() - f->ttl_ms : INT64_MIN;
	r->keep_deleted = f->keep_deleted_cells != 0;
}

void hr_resolver_free(hr_resolver *r)
{
	free(r->row);
	free(r->fam);
	free(r->qual);
	memset(r, 0, sizeof(*r));
}

void hr_resolver_reset_row(hr_resolver *r)
{
	/* No row has length 0, so the next cell starts a row; the buffer is
	 * kept (a scan resets once per row: no allocation each time). */
	r->row_len = 0;
	r->nfam = 0;
	r->have_col = 0;
}

static int copy_into(uint8_t **buf, size_t *cap, const uint8_t *src, size_t n)
{
	if (n > *cap || !*buf) {
		size_t c = n < 64 ? 64 : n;
		uint8_t *nb = realloc(*buf, c);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = c;
	}
	if (n)
		memcpy(*buf, src, n);
	return 0;
}

static void reset_col(hr_resolver *r)
{
	r->col_del_seq = 0;
	r->ver_del_ts = INT64_MIN;
	r->ver_del_seq = 0;
	r->versions = 0;
	r->have_put = 0;
}

/* Whether a marker takes part in this read. With keep_deleted_cells only
 * those within the time range do (HBase's seePastDeleteMarkers); without,
 * all do (HBase: within or after the range; one before it masks only puts
 * below the range, which are not read anyway). */
static int marker_applies(const hr_resolver *r, const hr_kv *kv)
{
	if (!r->keep_deleted || r->compact)
		return 1;
	if (r->history)
		return 0;
	return (!r->min_ts || kv->ts >= r->min_ts) && (!r->max_ts || kv->ts < r->max_ts);
}

/* With keep_deleted_cells a compaction keeps a marker while it can still
 * mask a put it keeps: not expired, and (a column marker) fewer than
 * max_versions puts of the column above it (older puts all go). */
static int keep_marker(const hr_resolver *r, const hr_kv *kv)
{
	if (!r->compact || !r->keep_deleted || kv->ts < r->oldest_ts)
		return HR_RES_SKIP;
	if (kv->type != HR_DELETE_FAMILY && r->versions >= r->max_versions)
		return HR_RES_SKIP;
	return HR_RES_EMIT;
}

static int masked(const hr_resolver *r, const hr_kv *kv)
{
	if (kv->seq < r->col_del_seq)
		return 1;
	if (kv->ts == r->ver_del_ts && kv->seq < r->ver_del_seq)
		return 1;
	for (size_t i = 0; i < r->nfam; i++)
		if (r->fam[i].ts >= kv->ts && r->fam[i].seq > kv->seq)
			return 1;
	return 0;
}

int hr_resolve(hr_resolver *r, const hr_kv *kv)
{
	if (kv->seq > r->read_point)
		return HR_RES_SKIP;
	if (!r->row || r->row_len != kv->row_len || memcmp(r->row, kv->row, kv->row_len)) {
		if (copy_into(&r->row, &r->row_cap, kv->row, kv->row_len) < 0)
			return HR_RES_SKIP;
		r->row_len = kv->row_len;
		r->nfam = 0;
		r->have_col = 0;
	}
	if (!r->have_col || r->qual_len != kv->qual_len || memcmp(r->qual, kv->qual, kv->qual_len)) {
		if (copy_into(&r->qual, &r->qual_cap, kv->qual, kv->qual_len) < 0)
			return HR_RES_SKIP;
		r->qual_len = kv->qual_len;
		r->have_col = 1;
		reset_col(r);
	}
	switch (kv->type) {
	case HR_DELETE_FAMILY:
		if (!marker_applies(r, kv))
			return keep_marker(r, kv);
		if (r->nfam == r->fam_cap) {
			size_t c = r->fam_cap ? r->fam_cap * 2 : 4;
			void *nf = realloc(r->fam, c * sizeof(*r->fam));
			if (!nf)
				return HR_RES_SKIP;
			r->fam = nf;
			r->fam_cap = c;
		}
		r->fam[r->nfam].ts = kv->ts;
		r->fam[r->nfam].seq = kv->seq;
		r->nfam++;
		return keep_marker(r, kv);
	case HR_DELETE_COLUMN:
		if (marker_applies(r, kv) && kv->seq > r->col_del_seq)
			r->col_del_seq = kv->seq;
		return keep_marker(r, kv);
	case HR_DELETE:
		if (marker_applies(r, kv)) {
			if (kv->ts != r->ver_del_ts) {
				r->ver_del_ts = kv->ts;
				r->ver_del_seq = 0;
			}
			if (kv->seq > r->ver_del_seq)
				r->ver_del_seq = kv->seq;
		}
		return keep_marker(r, kv);
	case HR_PUT:
		break;
	default:
		return HR_RES_SKIP;
	}
	/* One version per timestamp: an older put at the ts of a newer one was
	 * overwritten (HBase; it arrives after it, seq desc). A mask that hides
	 * the newer one hides it too, so it never resurfaces. */
	if (r->have_put && kv->ts == r->last_put_ts)
		return HR_RES_SKIP;
	r->have_put = 1;
	r->last_put_ts = kv->ts;
	if (kv->ts < r->oldest_ts || r->versions >= r->max_versions)
		return HR_RES_COLUMN_DONE;
	if (masked(r, kv)) {
		if (!r->keep_deleted)
			return HR_RES_SKIP; /* a deleted put is no version */
		r->versions++;	    /* kept by compactions, so it counts */
		return r->compact ? HR_RES_EMIT : HR_RES_SKIP;
	}
	r->versions++;
	if (r->max_ts && kv->ts >= r->max_ts)
		return HR_RES_SKIP;
	if (r->min_ts && kv->ts < r->min_ts)
		return HR_RES_COLUMN_DONE;
	return HR_RES_EMIT;
}
