/* read.c — point reads: get, versions, exists (contract in hregionfs.h and
 * hr_read.h). A get seeks only the sources whose bloom filter and key range
 * admit the row, first to the row's family-delete markers (at the empty
 * qualifier), then to the column. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_metrics.h"
#include "engine/hr_read.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "engine/hr_client.h"

/* Feeds the DeleteFamily markers of the row (they sort first in the row,
 * at the empty qualifier) to the resolver. Puts at the empty qualifier are
 * fed too; the caller ignores what they emit. */
static int prime_row(hr_miter *m, hr_resolver *res, const uint8_t *row, size_t row_len)
{
	hr_kv first;
	hr_kv_first_on_column(&first, row, (uint32_t)row_len, NULL, 0);
	int rc = hr_miter_seek_row(m, &first);
	while (rc == 0 && hr_miter_valid(m)) {
		const hr_kv *kv = hr_miter_kv(m);
		if (kv->qual_len != 0 || hr_bytes_cmp(kv->row, kv->row_len, row, row_len) != 0)
			break;
		if (kv->type == HR_DELETE_FAMILY)
			hr_resolve(res, kv);
		rc = hr_miter_next(m);
	}
	return rc;
}

int hr_store_get(hr_store *st, hr_mvcc *mvcc, const uint8_t *row, size_t row_len,
		 const uint8_t *qual, size_t qual_len, unsigned flags, hr_value *out,
		 uint32_t max, int64_t min_ts, int64_t max_ts, int history)
{
	hr_view v;
	hr_miter *m = NULL;
	hr_resolver res;
	int rc, found = 0;
	/* The view first, then the read point, and the view again if the store
	 * changed meanwhile: then the view holds every write at or below the
	 * read point (no memstore swap in between), and no compaction that ran
	 * after a later delete can have dropped a cell this read point sees. */
	uint64_t read_point;
	for (;;) {
		if ((rc = hr_store_view(st, &v)) < 0)
			return rc;
		read_point = hr_mvcc_read_point(mvcc);
		if (atomic_load(&st->gen) == v.gen)
			break;
		hr_view_release(&v);
	}
	/* the settings of the view: an alter applies to reads at once */
	hr_resolver_init(&res, &v.fam, read_point);
	res.min_ts = min_ts;
	res.max_ts = max_ts;
	res.history = history;
	/* HBase caps a request at the family's VERSIONS */
	if (max == 0 || max > res.max_versions)
		max = res.max_versions;
	if ((rc = hr_miter_open(&v, &m)) < 0)
		goto out;
	if (hr_miter_may_have_family_deletes(m) && (rc = prime_row(m, &res, row, row_len)) < 0)
		goto out;
	hr_kv first;
	hr_kv_first_on_column(&first, row, (uint32_t)row_len, qual, (uint32_t)qual_len);
	if ((rc = hr_miter_seek_row(m, &first)) < 0)
		goto out;
	while (hr_miter_valid(m) && (uint32_t)found < max) {
		const hr_kv *kv = hr_miter_kv(m);
		if (hr_kv_cmp_column(kv, &first) != 0)
			break;
		int r = hr_resolve(&res, kv);
		if (r == HR_RES_COLUMN_DONE)
			break;
		if (r == HR_RES_EMIT) {
			hr_value *o = &out[found];
			memset(o, 0, sizeof(*o));
			o->ts = kv->ts;
			o->seq = kv->seq;
			o->len = kv->value_len;
			o->tags_len = kv->tags_len;
			found++; /* so that a failure below frees what it has */
			if ((flags & HR_GET_VALUE) && kv->value_len) {
				if (!(o->data = malloc(kv->value_len))) {
					rc = -ENOMEM;
					goto out;
				}
				memcpy(o->data, kv->value, kv->value_len);
			}
			if ((flags & HR_GET_TAGS) && kv->tags_len) {
				if (!(o->tags = malloc(kv->tags_len))) {
					rc = -ENOMEM;
					goto out;
				}
				memcpy(o->tags, kv->tags, kv->tags_len);
			}
		}
		if ((rc = hr_miter_next(m)) < 0)
			goto out;
	}
	rc = found;
out:
	if (rc < 0)
		for (int i = 0; i < found; i++)
			hr_value_free(&out[i]);
	hr_miter_free(m);
	hr_view_release(&v);
	hr_resolver_free(&res);
	return rc;
}

static int locate_store(hr_server *srv, const char *table, const void *row, size_t row_len,
			const char *family, hr_region **r, hr_store **st)
{
	if (row_len == 0 || row_len > HR_MAX_ROW || !family)
		return -EINVAL;
	int rc = hr_server_locate(srv, table, row, row_len, r, NULL);
	if (rc < 0)
		return rc;
	if (atomic_load(&(*r)->state) == HR_REGION_OFFLINE) {
		hr_region_unref(*r);
		return -EIO;
	}
	*st = hr_region_store(*r, family);
	if (!*st) {
		hr_region_unref(*r);
		return -ENOENT;
	}
	return 0;
}

int hr_get(hr_server *srv, const char *table, const void *row, size_t row_len,
	   const char *family, const void *qual, size_t qual_len, unsigned flags, hr_value *out)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_get(srv->client, table, row, row_len, family, qual, qual_len,
				     flags, out);
	hr_region *r;
	hr_store *st;
	memset(out, 0, sizeof(*out));
	uint64_t t0 = hr_mx_begin(srv->mx.on);
	int rc = locate_store(srv, table, row, row_len, family, &r, &st);
	if (rc < 0)
		return rc;
	atomic_fetch_add(&srv->st.gets, 1);
	atomic_fetch_add_explicit(&r->table->gets, 1, memory_order_relaxed);
	rc = hr_store_get(st, &r->mvcc, row, row_len, qual, qual_len,
			  flags & (HR_GET_VALUE | HR_GET_TAGS), out, 1, 0, 0, 0);
	hr_region_unref(r);
	if (rc >= 0)
		hr_mx_end(srv->mx.get, t0);
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int hr_get_versions(hr_server *srv, const char *table, const void *row, size_t row_len,
		    const char *family, const void *qual, size_t qual_len,
		    const hr_get_opts *opts, hr_value **out)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_get_versions(srv->client, table, row, row_len, family, qual,
					      qual_len, opts, out);
	hr_region *r;
	hr_store *st;
	*out = NULL;
	uint64_t t0 = hr_mx_begin(srv->mx.on);
	int rc = locate_store(srv, table, row, row_len, family, &r, &st);
	if (rc < 0)
		return rc;
	hr_family_schema fc;
	hr_store_conf(st, &fc);
	uint32_t max = opts && opts->max_versions ? opts->max_versions : fc.max_versions;
	if (max == 0)
		max = 1;
	hr_value *v = calloc(max, sizeof(*v));
	if (!v) {
		hr_region_unref(r);
		return -ENOMEM;
	}
	rc = hr_store_get(st, &r->mvcc, row, row_len, qual, qual_len,
			  HR_GET_VALUE | (opts ? opts->flags & HR_GET_TAGS : 0), v, max,
			  opts ? opts->min_ts : 0, opts ? opts->max_ts : 0,
			  opts && (opts->flags & HR_GET_HISTORY));
	hr_region_unref(r);
	if (rc >= 0)
		hr_mx_end(srv->mx.get, t0);
	if (rc <= 0) {
		free(v);
		return rc;
	}
	*out = v;
	return rc;
}

void hr_value_free(hr_value *v)
{
	if (!v)
		return;
	free(v->data);
	free(v->tags);
	v->data = NULL;
	v->tags = NULL;
}

void hr_values_free(hr_value *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		hr_value_free(&v[i]);
	free(v);
}

int hr_exists(hr_server *srv, const char *table, const void *row, size_t row_len,
	      const char *family, const void *qual, size_t qual_len)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_exists(srv->client, table, row, row_len, family, qual,
					qual_len);
	if (family && qual) {
		hr_value v;
		int rc = hr_get(srv, table, row, row_len, family, qual, qual_len, 0, &v);
		return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
	}
	if (row_len == 0 || row_len > HR_MAX_ROW)
		return -EINVAL;
	uint8_t *stop = malloc(row_len + 1);
	if (!stop)
		return -ENOMEM;
	memcpy(stop, row, row_len);
	stop[row_len] = 0;
	hr_scan_opts o = {
		.start = row,
		.start_len = row_len,
		.stop = stop,
		.stop_len = row_len + 1,
		.family = family,
		.mode = HR_SCAN_ROWS,
	};
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(srv, table, &o, &sc);
	if (rc == 0) {
		rc = hr_scan_next(sc, &e);
		hr_scan_close(sc);
	}
	free(stop);
	return rc;
}
