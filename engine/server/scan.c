/* scan.c — cursors over rows (contract in hregionfs.h). A cursor holds one
 * region at a time and, per family, a read view merged by an hr_miter. It
 * keeps only the current row and its position, so its memory does not grow
 * with the table. Views are refreshed at row boundaries when a flush has
 * changed a store, and each row is resolved at the read point taken when the
 * cursor enters it.
 *
 * Scanner leases (HBase's): a cursor idle for scanner_lease_ms gives up its
 * region and views (memstores and store files it pins, a split parent), and
 * its next hr_scan_next reopens exactly after the last entry it returned:
 * at the next row, or inside the row through the resume machinery that
 * hr_scan_open offers (family, qualifier), with the row's read point kept
 * unless a compaction retired one of the files the row was read from (it
 * may have dropped cells that read point saw; then the row goes on at a new
 * read point: nothing is skipped, though a mutation made meanwhile may show).
 * The chore calls hr_scan_expire_idle. Locking: srv->scan_mu guards the
 * server's list of cursors and is taken with no other engine lock held;
 * each cursor's mu is held by its owner during hr_scan_next and is only
 * try-locked by the expiry, which so never waits for a busy cursor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hr_metrics.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

typedef struct scan_store {
	hr_store *st;
	hr_view view;
	hr_miter *m;
	hr_resolver res;
	int have_view;
} scan_store;

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf;

struct hr_scan {
	hr_server *srv;
	hr_ccursor *client;	/* cluster mode: the cursor is engine/client's */
	pthread_mutex_t mu;	/* held by the owner in hr_scan_next, try-locked by expiry */
	struct hr_scan *prev, *next; /* srv->scanners, under srv->scan_mu */
	int registered;
	uint64_t last_used_ms;	/* srv->lease_clock_ms at the last use, under mu */
	/* a lease that expired inside a row: that row's read point, and the
	 * files its views held (if one is gone, the read point is not kept) */
	uint64_t lease_rp;
	uint64_t *lease_files;
	size_t nlease_files;
	char table[HR_MAX_NAME + 1];
	char family[HR_MAX_NAME + 1];
	hr_family_schema conf;	/* scratch: a store's settings, copied under its mu */
	int has_family, mode, with_values;
	int64_t max_ts;		/* the time bound (0 = none) */
	int history;
	buf stop;
	int has_stop;
	buf pos;		/* the next row to look at is >= pos (> pos if pos_excl) */
	int pos_excl;
	/* resume inside the first row */
	int resume;
	char resume_family[HR_MAX_NAME + 1];
	buf resume_qual;
	int resume_has_qual;

	const hr_snap *snap;	/* reading this snapshot (a reference), not the table */
	hr_region *r;
	scan_store *ss;
	int nss;
	int done;

	buf row;
	int in_row;
	int fi;
	uint64_t row_rp;	/* the read point of the current row */
	buf qual, value, tags;
	buf key;		/* scratch for seek keys (no allocation per row) */
	uint64_t steps;		/* hr_scan_next calls, under mu (SCAN_TIME_EVERY) */
};

/* One step in this many (the first of a cursor, then every 16th) is timed
 * for hregionfs_scan_next_seconds: a step takes 100-200 ns and two clock
 * reads 60 ns, which timing every step would add to each of them
 * (scripts/bench_metrics.sh). A power of two. */
#define SCAN_TIME_EVERY 16

static int buf_set(buf *b, const void *p, size_t n)
{
	if (n + 1 > b->cap) {
		size_t c = n + 1 < 64 ? 64 : (n + 1) * 2;
		uint8_t *nb = realloc(b->p, c);
		if (!nb)
			return -ENOMEM;
		b->p = nb;
		b->cap = c;
	}
	if (n)
		memcpy(b->p, p, n);
	b->p[n] = 0; /* handed-out rows and qualifiers are NUL-terminated too */
	b->len = n;
	return 0;
}

static void release_region(hr_scan *sc)
{
	for (int i = 0; i < sc->nss; i++) {
		scan_store *s = &sc->ss[i];
		hr_miter_free(s->m);
		if (s->have_view)
			hr_view_release(&s->view);
		hr_resolver_free(&s->res);
	}
	free(sc->ss);
	sc->ss = NULL;
	sc->nss = 0;
	hr_region_unref(sc->r);
	sc->r = NULL;
}

/* the first key at or after pos (in sc->key: valid until its next use) */
static int pos_key(hr_scan *sc, hr_kv *k)
{
	if (sc->pos_excl) {
		if (buf_set(&sc->key, sc->pos.p, sc->pos.len + 1) < 0)
			return -ENOMEM;
		sc->key.p[sc->pos.len] = 0; /* row||0x00 is the row right after pos */
		hr_kv_first_on_column(k, sc->key.p, (uint32_t)sc->pos.len + 1, NULL, 0);
	} else {
		hr_kv_first_on_column(k, sc->pos.p, (uint32_t)sc->pos.len, NULL, 0);
	}
	return 0;
}

static int store_open(hr_scan *sc, scan_store *s)
{
	int rc = hr_store_view(s->st, &s->view);
	if (rc < 0)
		return rc;
	s->have_view = 1;
	if ((rc = hr_miter_open(&s->view, &s->m)) < 0)
		return rc;
	hr_kv k;
	if ((rc = pos_key(sc, &k)) < 0)
		return rc;
	return hr_miter_seek(s->m, &k);
}

static int cmp_fam(const void *a, const void *b)
{
	return strcmp(((const scan_store *)a)->st->fam.name, ((const scan_store *)b)->st->fam.name);
}

static int open_region(hr_scan *sc)
{
	hr_region *r;
	const uint8_t *at = sc->pos.len ? sc->pos.p : (const uint8_t *)"";
	int rc = sc->snap ? hr_snap_locate(sc->snap, at, sc->pos.len, &r)
			  : hr_server_locate(sc->srv, sc->table, at, sc->pos.len, &r, NULL);
	if (rc < 0)
		return rc;
	sc->r = r;
	if (atomic_load(&r->state) == HR_REGION_OFFLINE)
		return -EIO;
	unsigned n = atomic_load(&r->nstores);
	sc->ss = calloc(n ? n : 1, sizeof(*sc->ss));
	if (!sc->ss)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (sc->has_family && strcmp(r->stores[i]->fam.name, sc->family) != 0)
			continue;
		sc->ss[sc->nss].st = r->stores[i];
		hr_store_conf(r->stores[i], &sc->conf);
		hr_resolver_init(&sc->ss[sc->nss].res, &sc->conf, 0);
		sc->ss[sc->nss].res.max_ts = sc->max_ts;
		sc->ss[sc->nss].res.history = sc->history;
		sc->nss++;
	}
	if (sc->has_family && sc->nss == 0)
		return -ENOENT;
	qsort(sc->ss, (size_t)sc->nss, sizeof(*sc->ss), cmp_fam);
	for (int i = 0; i < sc->nss; i++)
		if ((rc = store_open(sc, &sc->ss[i])) < 0)
			return rc;
	return 0;
}

static int refresh_views(hr_scan *sc)
{
	for (int i = 0; i < sc->nss; i++) {
		scan_store *s = &sc->ss[i];
		if (atomic_load(&s->st->gen) == s->view.gen)
			continue;
		hr_miter_free(s->m);
		s->m = NULL;
		hr_view_release(&s->view);
		s->have_view = 0;
		int rc = store_open(sc, s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int views_changed(hr_scan *sc)
{
	for (int i = 0; i < sc->nss; i++)
		if (atomic_load(&sc->ss[i].st->gen) != sc->ss[i].view.gen)
			return 1;
	return 0;
}

static int beyond_stop(hr_scan *sc, const uint8_t *row, size_t len)
{
	if (sc->has_stop && hr_bytes_cmp(row, len, sc->stop.p, sc->stop.len) >= 0)
		return 1;
	if (sc->r->end_len && hr_bytes_cmp(row, len, sc->r->end, sc->r->end_len) >= 0)
		return 1;
	return 0;
}

/* seeks s to the first key after the current row */
static int seek_past_row(hr_scan *sc, scan_store *s)
{
	if (buf_set(&sc->key, sc->row.p, sc->row.len + 1) < 0)
		return -ENOMEM;
	sc->key.p[sc->row.len] = 0;
	hr_kv k;
	hr_kv_first_on_column(&k, sc->key.p, (uint32_t)sc->row.len + 1, NULL, 0);
	return hr_miter_seek(s->m, &k);
}

static int same_row(const hr_kv *kv, const buf *row)
{
	return hr_bytes_cmp(kv->row, kv->row_len, row->p, row->len) == 0;
}

/* Positions the resume-family store inside the first row: its family
 * markers first (they may mask what follows), then past the resume point. */
static int apply_resume(hr_scan *sc)
{
	sc->resume = 0;
	while (sc->fi < sc->nss && strcmp(sc->ss[sc->fi].st->fam.name, sc->resume_family) < 0)
		sc->fi++;
	if (sc->fi >= sc->nss || strcmp(sc->ss[sc->fi].st->fam.name, sc->resume_family) != 0)
		return 0;
	scan_store *s = &sc->ss[sc->fi];
	if (sc->mode != HR_SCAN_CELLS || !sc->resume_has_qual) {
		sc->fi++;
		return 0;
	}
	int rc;
	while (hr_miter_valid(s->m)) {
		const hr_kv *kv = hr_miter_kv(s->m);
		if (!same_row(kv, &sc->row) || kv->qual_len != 0)
			break;
		if (kv->type == HR_DELETE_FAMILY)
			hr_resolve(&s->res, kv);
		if ((rc = hr_miter_next(s->m)) < 0)
			return rc;
	}
	buf q = {0};
	if (buf_set(&q, sc->resume_qual.p, sc->resume_qual.len + 1) < 0)
		return -ENOMEM;
	q.p[sc->resume_qual.len] = 0;
	hr_kv k;
	hr_kv_first_on_column(&k, sc->row.p, (uint32_t)sc->row.len, q.p, (uint32_t)q.len);
	rc = hr_miter_seek(s->m, &k);
	free(q.p);
	return rc;
}

/* 1 if every file the interrupted row was read from is still in a view */
static int lease_files_kept(const hr_scan *sc)
{
	for (size_t k = 0; k < sc->nlease_files; k++) {
		int found = 0;
		for (int i = 0; i < sc->nss && !found; i++)
			for (uint32_t f = 0; f < sc->ss[i].view.nfiles && !found; f++)
				found = hr_sfile_id(sc->ss[i].view.files[f]) == sc->lease_files[k];
		if (!found)
			return 0;
	}
	return 1;
}

static int start_row(hr_scan *sc)
{
	uint64_t rp;
	for (;;) {
		int rc;
		/* a region that split or closed since: go on in whichever region
		 * now holds the position (pos is a row boundary, so no row is
		 * repeated or missed) */
		if (sc->r && atomic_load(&sc->r->state) == HR_REGION_CLOSED)
			release_region(sc);
		if (!sc->r && (rc = open_region(sc)) < 0)
			return rc;
		/* The views, then the read point, then the views again until no
		 * store changed in between (see hr_store_get). */
		do {
			if ((rc = refresh_views(sc)) < 0)
				return rc;
			rp = hr_mvcc_read_point(&sc->r->mvcc);
		} while (views_changed(sc));
		hr_kv k;
		if ((rc = pos_key(sc, &k)) < 0)
			return rc;
		for (int i = 0; i < sc->nss; i++)
			hr_miter_reseek_memstores(sc->ss[i].m, &k);
		const hr_kv *best = NULL;
		for (int i = 0; i < sc->nss; i++) {
			if (!hr_miter_valid(sc->ss[i].m))
				continue;
			const hr_kv *kv = hr_miter_kv(sc->ss[i].m);
			if (!best || hr_bytes_cmp(kv->row, kv->row_len, best->row, best->row_len) < 0)
				best = kv;
		}
		if (best && !beyond_stop(sc, best->row, best->row_len)) {
			if ((rc = buf_set(&sc->row, best->row, best->row_len)) < 0)
				return rc;
			break;
		}
		/* this region is exhausted: go on in the next one, if any */
		if (!sc->r->end_len ||
		    (sc->has_stop && hr_bytes_cmp(sc->r->end, sc->r->end_len, sc->stop.p,
						  sc->stop.len) >= 0))
			return 0;
		if ((rc = buf_set(&sc->pos, sc->r->end, sc->r->end_len)) < 0)
			return rc;
		sc->pos_excl = 0;
		release_region(sc);
	}
	if (sc->lease_rp) {
		/* resuming inside the row a lease interrupted: same snapshot */
		if (sc->resume && sc->row.len == sc->pos.len && !sc->pos_excl &&
		    memcmp(sc->row.p, sc->pos.p, sc->pos.len) == 0 && lease_files_kept(sc))
			rp = sc->lease_rp;
		sc->lease_rp = 0;
	}
	sc->row_rp = rp;
	for (int i = 0; i < sc->nss; i++) {
		hr_resolver_reset_row(&sc->ss[i].res);
		sc->ss[i].res.read_point = rp;
	}
	sc->in_row = 1;
	sc->fi = 0;
	if (sc->resume) {
		if (sc->row.len == sc->pos.len && !sc->pos_excl &&
		    memcmp(sc->row.p, sc->pos.p, sc->pos.len) == 0) {
			int rc = apply_resume(sc);
			if (rc < 0)
				return rc;
		}
		sc->resume = 0;
	}
	return 1;
}

static int finish_row(hr_scan *sc)
{
	/* stores skipped by a resume still sit on the row */
	for (int i = 0; i < sc->nss; i++) {
		scan_store *s = &sc->ss[i];
		if (hr_miter_valid(s->m) && same_row(hr_miter_kv(s->m), &sc->row)) {
			int rc = seek_past_row(sc, s);
			if (rc < 0)
				return rc;
		}
	}
	sc->in_row = 0;
	sc->pos_excl = 1;
	return buf_set(&sc->pos, sc->row.p, sc->row.len);
}

static int scan_next(hr_scan *sc, hr_scan_entry *e)
{
	int rc;
	memset(e, 0, sizeof(*e));
	if (sc->done)
		return 0;
	for (;;) {
		if (!sc->in_row) {
			rc = start_row(sc);
			if (rc <= 0) {
				sc->done = 1;
				return rc;
			}
		}
		for (; sc->fi < sc->nss; sc->fi++) {
			scan_store *s = &sc->ss[sc->fi];
			while (hr_miter_valid(s->m)) {
				const hr_kv *kv = hr_miter_kv(s->m);
				if (!same_row(kv, &sc->row))
					break;
				int res = hr_resolve(&s->res, kv);
				if (res != HR_RES_EMIT) {
					if ((rc = hr_miter_next(s->m)) < 0)
						return rc;
					continue;
				}
				e->row = sc->row.p;
				e->row_len = sc->row.len;
				e->ts = kv->ts;
				e->seq = kv->seq;
				if (sc->mode == HR_SCAN_ROWS) {
					for (int i = 0; i < sc->nss; i++)
						if ((rc = seek_past_row(sc, &sc->ss[i])) < 0)
							return rc;
					if ((rc = finish_row(sc)) < 0)
						return rc;
					return 1;
				}
				e->family = s->st->fam.name;
				if (sc->mode == HR_SCAN_FAMILIES) {
					if ((rc = seek_past_row(sc, s)) < 0)
						return rc;
					sc->fi++;
					return 1;
				}
				if ((rc = buf_set(&sc->qual, kv->qual, kv->qual_len)) < 0)
					return rc;
				e->qualifier = sc->qual.p;
				e->qualifier_len = sc->qual.len;
				e->value_len = kv->value_len;
				if (sc->with_values) {
					if ((rc = buf_set(&sc->value, kv->value, kv->value_len)) < 0)
						return rc;
					e->value = sc->value.p;
				}
				if (kv->tags_len) {
					if ((rc = buf_set(&sc->tags, kv->tags, kv->tags_len)) < 0)
						return rc;
					e->tags = sc->tags.p;
					e->tags_len = kv->tags_len;
				}
				/* skip the older versions of this column */
				while ((rc = hr_miter_next(s->m)) == 0 && hr_miter_valid(s->m)) {
					const hr_kv *nk = hr_miter_kv(s->m);
					if (!same_row(nk, &sc->row) || nk->qual_len != sc->qual.len ||
					    memcmp(nk->qual, sc->qual.p, sc->qual.len) != 0)
						break;
				}
				if (rc < 0)
					return rc;
				return 1;
			}
		}
		if ((rc = finish_row(sc)) < 0)
			return rc;
	}
}

/* The lease clock: a cursor stamps its last use with srv->lease_clock_ms,
 * which the chore advances every tick, instead of reading a clock on every
 * hr_scan_next (tens of ns, a quarter of a scan step). A lease is so
 * accurate to a tick (200 ms): an early expiry only costs a reopen. */
uint64_t hr_scan_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hr_scan_lease_tick(hr_server *srv)
{
	uint64_t now = hr_scan_clock_ms();
	atomic_store(&srv->lease_clock_ms, now);
	hr_scan_expire_idle(srv, now);
}

int hr_scan_next(hr_scan *sc, hr_scan_entry *e)
{
	if (sc->client)
		return hr_client_scan_next(sc->client, e);
	uint64_t t0 = 0;
	pthread_mutex_lock(&sc->mu);
	if ((sc->steps++ & (SCAN_TIME_EVERY - 1)) == 0)
		t0 = hr_mx_begin(sc->srv->mx.on);
	int rc = scan_next(sc, e);
	sc->last_used_ms = atomic_load_explicit(&sc->srv->lease_clock_ms, memory_order_relaxed);
	pthread_mutex_unlock(&sc->mu);
	if (rc == 1)
		hr_mx_end(sc->srv->mx.scan_next, t0);
	return rc;
}

/* sc->mu held, the owner not inside hr_scan_next: gives up the region and
 * its views, leaving the position so that the next call goes on exactly
 * after the last entry returned. */
static int lease_release(hr_scan *sc)
{
	if (!sc->r)
		return 0; /* nothing held (never started, or already expired) */
	int rc = 0;
	free(sc->lease_files);
	sc->lease_files = NULL;
	sc->nlease_files = 0;
	sc->lease_rp = 0;
	if (sc->in_row && !sc->done) {
		/* The last entry came from this row: in HR_SCAN_CELLS mode it is
		 * (row, ss[fi], qual); in HR_SCAN_FAMILIES mode the family before
		 * fi (fi moved past it). HR_SCAN_ROWS returns at row ends only. */
		int fam = sc->mode == HR_SCAN_CELLS ? sc->fi : sc->fi - 1;
		if (fam < 0 || fam >= sc->nss)
			return 0; /* not a state a returned entry leaves: keep it */
		size_t nf = 0;
		for (int i = 0; i < sc->nss; i++)
			nf += sc->ss[i].view.nfiles;
		uint64_t *ids = malloc((nf ? nf : 1) * sizeof(*ids));
		if (!ids || buf_set(&sc->pos, sc->row.p, sc->row.len) < 0) {
			free(ids);
			return -ENOMEM; /* keep the views: the cursor still works */
		}
		nf = 0;
		for (int i = 0; i < sc->nss; i++)
			for (uint32_t f = 0; f < sc->ss[i].view.nfiles; f++)
				ids[nf++] = hr_sfile_id(sc->ss[i].view.files[f]);
		sc->lease_files = ids;
		sc->nlease_files = nf;
		sc->lease_rp = sc->row_rp;
		sc->pos_excl = 0;
		sc->resume = 1;
		snprintf(sc->resume_family, sizeof(sc->resume_family), "%s",
			 sc->ss[fam].st->fam.name);
		sc->resume_has_qual = sc->mode == HR_SCAN_CELLS;
		if (sc->resume_has_qual)
			rc = buf_set(&sc->resume_qual, sc->qual.p, sc->qual.len);
		sc->in_row = 0;
	}
	release_region(sc);
	return rc < 0 ? rc : 1;
}

int hr_scan_expire_idle(hr_server *srv, uint64_t now_ms)
{
	uint32_t lease = srv->cfg.scanner_lease_ms;
	int n = 0;
	if (!lease)
		return 0;
	pthread_mutex_lock(&srv->scan_mu);
	for (hr_scan *sc = srv->scanners; sc; sc = sc->next) {
		if (pthread_mutex_trylock(&sc->mu) != 0)
			continue; /* its owner is using it: not idle */
		if (sc->r && now_ms >= sc->last_used_ms && now_ms - sc->last_used_ms >= lease &&
		    lease_release(sc) > 0)
			n++;
		pthread_mutex_unlock(&sc->mu);
	}
	pthread_mutex_unlock(&srv->scan_mu);
	if (n)
		hr_log_debug("scan", "%d idle cursors released their views (lease %u ms)", n, lease);
	return n;
}

/* The smallest row greater than every row that starts with prefix, or
 * none (0) when the prefix is all 0xff. */
static size_t prefix_stop(const uint8_t *p, size_t n, uint8_t *out)
{
	memcpy(out, p, n);
	while (n > 0 && out[n - 1] == 0xff)
		n--;
	if (n == 0)
		return 0;
	out[n - 1]++;
	return n;
}

int hr_scan_open(hr_server *srv, const char *table, const hr_scan_opts *o, hr_scan **out)
{
	if (srv->client) {
		hr_scan *cs = calloc(1, sizeof(*cs));
		if (!cs)
			return -ENOMEM;
		int crc = hr_client_scan_open(srv->client, table, o, &cs->client);
		if (crc < 0) {
			free(cs);
			return crc;
		}
		cs->srv = srv;
		*out = cs;
		return 0;
	}
	hr_scan *sc = calloc(1, sizeof(*sc));
	int rc = -ENOMEM;
	if (!sc)
		return -ENOMEM;
	sc->srv = srv;
	pthread_mutex_init(&sc->mu, NULL);
	if (strlen(table) > HR_MAX_NAME) {
		rc = -ENOENT;
		goto fail;
	}
	strcpy(sc->table, table);
	if (o->family) {
		if (strlen(o->family) > HR_MAX_NAME) {
			rc = -ENOENT;
			goto fail;
		}
		strcpy(sc->family, o->family);
		sc->has_family = 1;
	}
	sc->mode = o->mode;
	sc->with_values = o->with_values;
	if (o->snapshot) {
		sc->snap = o->snapshot;
		hr_snap_ref(sc->snap);
	}
	if (o->max_ts < 0) {
		rc = -EINVAL;
		goto fail;
	}
	sc->max_ts = o->max_ts;
	sc->history = o->history != 0;
	const uint8_t *start = o->start;
	size_t start_len = o->start ? o->start_len : 0;
	if (buf_set(&sc->pos, start, start_len) < 0)
		goto fail;
	sc->pos_excl = o->start_after_row && start_len;
	if (o->stop && o->stop_len) {
		if (buf_set(&sc->stop, o->stop, o->stop_len) < 0)
			goto fail;
		sc->has_stop = 1;
	}
	if (o->prefix && o->prefix_len) {
		if (hr_bytes_cmp(sc->pos.p, sc->pos.len, o->prefix, o->prefix_len) < 0) {
			if (buf_set(&sc->pos, o->prefix, o->prefix_len) < 0)
				goto fail;
			sc->pos_excl = 0;
		}
		uint8_t *ps = malloc(o->prefix_len);
		if (!ps)
			goto fail;
		size_t pn = prefix_stop(o->prefix, o->prefix_len, ps);
		if (pn && (!sc->has_stop || hr_bytes_cmp(ps, pn, sc->stop.p, sc->stop.len) < 0)) {
			buf_set(&sc->stop, ps, pn);
			sc->has_stop = 1;
		}
		free(ps);
	}
	if (o->resume_family && start_len && !o->start_after_row) {
		if (strlen(o->resume_family) > HR_MAX_NAME) {
			rc = -EINVAL;
			goto fail;
		}
		strcpy(sc->resume_family, o->resume_family);
		sc->resume = 1;
		if (o->resume_qualifier || o->resume_qualifier_len) {
			if (buf_set(&sc->resume_qual, o->resume_qualifier, o->resume_qualifier_len) < 0)
				goto fail;
			sc->resume_has_qual = 1;
		}
	}
	/* fail early on a missing table or family */
	if ((rc = open_region(sc)) < 0)
		goto fail;
	atomic_fetch_add(&srv->st.scans, 1);
	if (sc->r && !sc->snap && sc->r->table)
		atomic_fetch_add_explicit(&sc->r->table->scans, 1, memory_order_relaxed);
	sc->last_used_ms = atomic_load_explicit(&srv->lease_clock_ms, memory_order_relaxed);
	pthread_mutex_lock(&srv->scan_mu);
	sc->next = srv->scanners;
	if (sc->next)
		sc->next->prev = sc;
	srv->scanners = sc;
	sc->registered = 1;
	pthread_mutex_unlock(&srv->scan_mu);
	*out = sc;
	return 0;
fail:
	hr_scan_close(sc);
	return rc;
}

void hr_scan_close(hr_scan *sc)
{
	if (!sc)
		return;
	if (sc->client) {
		hr_client_scan_close(sc->client);
		free(sc);
		return;
	}
	if (sc->registered) {
		/* after this no expiry can reach the cursor (it holds scan_mu
		 * for as long as it uses one) */
		hr_server *srv = sc->srv;
		pthread_mutex_lock(&srv->scan_mu);
		if (sc->prev)
			sc->prev->next = sc->next;
		else
			srv->scanners = sc->next;
		if (sc->next)
			sc->next->prev = sc->prev;
		pthread_mutex_unlock(&srv->scan_mu);
	}
	release_region(sc);
	if (sc->snap)
		hr_snap_unref(sc->snap);
	pthread_mutex_destroy(&sc->mu);
	free(sc->lease_files);
	free(sc->stop.p);
	free(sc->pos.p);
	free(sc->resume_qual.p);
	free(sc->row.p);
	free(sc->qual.p);
	free(sc->value.p);
	free(sc->tags.p);
	free(sc->key.p);
	free(sc);
}
