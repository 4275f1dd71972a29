/* snapread.c — open snapshots: read handles over the archived files of a
 * manifest (contract in hregionfs.h, "snapshots", and hr_snapshot.h).
 *
 * A handle holds, per manifest region, a detached region (in no table map,
 * never written, flushed, compacted or split) whose stores have an empty
 * memstore and the archived files, and whose read point is the manifest's
 * seq; scans and gets run the live read path over them. Handles are cached
 * in srv->snap_open (one reference each) under snap_mu, so a front end may
 * open one per request; a delete drops the cached one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

struct hr_snap {
	hr_server *srv;
	atomic_int refs;
	uint64_t snap_id;
	char table[HR_MAX_NAME + 1];
	hr_table_schema schema;
	hr_table *t;		/* detached: the regions' schema owner */
	hr_region **regions;	/* in key order */
	size_t nregions;
};

void hr_snap_ref(const hr_snap *cs)
{
	hr_snap *s = (hr_snap *)cs;
	atomic_fetch_add(&s->refs, 1);
}

void hr_snap_unref(const hr_snap *cs)
{
	hr_snap *s = (hr_snap *)cs;
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->nregions; i++)
		hr_region_unref(s->regions[i]);
	free(s->regions);
	hr_table_unref(s->t);
	free(s);
}

static const hr_family_schema *family_of(const hr_table_schema *ts, const char *name)
{
	for (uint32_t i = 0; i < ts->nfamilies; i++)
		if (strcmp(ts->families[i].name, name) == 0)
			return &ts->families[i];
	return NULL;
}

static int snap_region(hr_snap *s, const hr_snap_manifest *m, const hr_snap_region *sr,
		       hr_region **out)
{
	hr_server *srv = s->srv;
	hr_region *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->srv = srv;
	r->id = sr->id;
	atomic_init(&r->refs, 1);
	atomic_init(&r->state, HR_REGION_OPEN);
	atomic_init(&r->last_ts, 0);
	pthread_rwlock_init(&r->updates_lock, NULL);
	pthread_mutex_init(&r->flush_mu, NULL);
	hr_mvcc_init(&r->mvcc, m->seq);
	r->table = s->t;
	hr_table_ref(s->t);
	hr_rowlocks_init(&r->locks);
	r->start = malloc(sr->start_len ? sr->start_len : 1);
	r->end = malloc(sr->end_len ? sr->end_len : 1);
	int rc = -ENOMEM;
	if (!r->start || !r->end)
		goto fail;
	memcpy(r->start, sr->start, sr->start_len);
	memcpy(r->end, sr->end, sr->end_len);
	r->start_len = sr->start_len;
	r->end_len = sr->end_len;
	for (uint32_t i = 0; i < sr->nstores && i < HR_MAX_FAMILIES; i++) {
		const hr_snap_store *ss = &sr->stores[i];
		hr_store *st = calloc(1, sizeof(*st));
		if (!st)
			goto fail;
		pthread_mutex_init(&st->mu, NULL);
		st->region = r;
		const hr_family_schema *f = family_of(&m->schema, ss->family);
		if (f)
			st->fam = *f;
		else
			hr_family_defaults(&st->fam, ss->family);
		r->stores[i] = st;
		atomic_store(&r->nstores, i + 1);
		if ((rc = hr_memstore_new(&st->active)) < 0)
			goto fail;
		if (ss->nfiles && !(st->files = calloc(ss->nfiles, sizeof(*st->files)))) {
			rc = -ENOMEM;
			goto fail;
		}
		for (uint32_t k = 0; k < ss->nfiles; k++) {
			char path[PATH_MAX];
			if ((rc = hr_fname_archive_file(srv->archive_dir, ss->files[k].id, path,
							sizeof(path))) < 0 ||
			    (rc = hr_sfile_open(path, ss->files[k].id, srv->fdc, srv->bc,
						&st->files[k])) < 0) {
				hr_log_error("snapshot", "%s/%s: cannot open %s: %s", m->table, m->name,
					     path, strerror(-rc));
				goto fail;
			}
			st->nfiles = k + 1;
		}
	}
	*out = r;
	return 0;
fail:
	hr_region_unref(r);
	return rc == -ENOENT ? -EIO : rc; /* a missing archived file is damage */
}

static int snap_build(hr_server *srv, const hr_snap_manifest *m, hr_snap **out)
{
	hr_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->srv = srv;
	atomic_init(&s->refs, 1);
	s->snap_id = m->snap_id;
	snprintf(s->table, sizeof(s->table), "%s", m->table);
	s->schema = m->schema;
	int rc = -ENOMEM;
	if (!(s->t = hr_table_new(&m->schema)))
		goto fail;
	if (m->nregions && !(s->regions = calloc(m->nregions, sizeof(*s->regions))))
		goto fail;
	for (uint32_t i = 0; i < m->nregions; i++) {
		if ((rc = snap_region(s, m, &m->regions[i], &s->regions[i])) < 0)
			goto fail;
		s->nregions = i + 1;
	}
	*out = s;
	return 0;
fail:
	hr_snap_unref(s);
	return rc;
}

int hr_snapshot_open(hr_server *srv, const char *table, const char *name, hr_snap **out)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	int rc = -ENOENT;
	pthread_mutex_lock(&srv->snap_mu);
	const hr_snap_manifest *m = NULL;
	for (size_t i = 0; i < srv->nsnaps && !m; i++)
		if (strcmp(srv->snaps[i]->table, table) == 0 && strcmp(srv->snaps[i]->name, name) == 0)
			m = srv->snaps[i];
	if (!m)
		goto out;
	for (size_t i = 0; i < srv->nsnap_open; i++)
		if (srv->snap_open[i]->snap_id == m->snap_id) {
			hr_snap_ref(srv->snap_open[i]);
			*out = srv->snap_open[i];
			rc = 0;
			goto out;
		}
	hr_snap *s;
	if ((rc = snap_build(srv, m, &s)) < 0)
		goto out;
	hr_snap **n = realloc(srv->snap_open, (srv->nsnap_open + 1) * sizeof(*n));
	if (n) {
		srv->snap_open = n;
		n[srv->nsnap_open++] = s;
		hr_snap_ref(s); /* the cache's */
	}
	*out = s;
	rc = 0;
out:
	pthread_mutex_unlock(&srv->snap_mu);
	return rc;
}

void hr_snapshot_close(hr_snap *s) { hr_snap_unref(s); }

void hr_snapshot_schema(const hr_snap *s, hr_table_schema *out) { *out = s->schema; }

void hr_snap_cache_drop(hr_server *srv, uint64_t snap_id)
{
	for (size_t i = 0; i < srv->nsnap_open; i++)
		if (srv->snap_open[i]->snap_id == snap_id) {
			hr_snap_unref(srv->snap_open[i]);
			srv->snap_open[i] = srv->snap_open[--srv->nsnap_open];
			return;
		}
}

void hr_snap_cache_clear(hr_server *srv)
{
	for (size_t i = 0; i < srv->nsnap_open; i++)
		hr_snap_unref(srv->snap_open[i]);
	free(srv->snap_open);
	srv->snap_open = NULL;
	srv->nsnap_open = 0;
}

int hr_snap_locate(const hr_snap *s, const uint8_t *row, size_t len, hr_region **out)
{
	if (!s->nregions)
		return -EIO;
	size_t lo = hr_regions_find(s->regions, s->nregions, row, len);
	hr_region_ref(s->regions[lo]);
	*out = s->regions[lo];
	return 0;
}

int hr_snapshot_get(hr_snap *s, const void *row, size_t row_len, const char *family,
		    const void *qual, size_t qual_len, unsigned flags, hr_value *out)
{
	if (!row_len || row_len > HR_MAX_ROW || !family_of(&s->schema, family))
		return row_len && row_len <= HR_MAX_ROW ? -ENOENT : -EINVAL;
	/* the row alone: [row, row||0x00) */
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
		.mode = HR_SCAN_CELLS,
		.with_values = (flags & HR_GET_VALUE) != 0,
		.snapshot = s,
	};
	hr_scan *sc;
	int rc = hr_scan_open(s->srv, s->table, &o, &sc);
	if (rc < 0) {
		free(stop);
		return rc;
	}
	hr_scan_entry e;
	rc = -ENOENT;
	int more;
	while ((more = hr_scan_next(sc, &e)) == 1) {
		int c = hr_bytes_cmp(e.qualifier, e.qualifier_len, qual, qual_len);
		if (c < 0)
			continue;
		if (c > 0)
			break;
		memset(out, 0, sizeof(*out));
		out->len = e.value_len;
		out->ts = e.ts;
		out->seq = e.seq;
		out->tags_len = e.tags_len;
		rc = 0;
		if ((flags & HR_GET_VALUE) && e.value_len && !(out->data = malloc(e.value_len)))
			rc = -ENOMEM;
		else if (out->data)
			memcpy(out->data, e.value, e.value_len);
		if (rc == 0 && (flags & HR_GET_TAGS) && e.tags_len) {
			if (!(out->tags = malloc(e.tags_len)))
				rc = -ENOMEM;
			else
				memcpy(out->tags, e.tags, e.tags_len);
		}
		if (rc < 0)
			hr_value_free(out);
		break;
	}
	if (more < 0)
		rc = more;
	hr_scan_close(sc);
	free(stop);
	return rc;
}
