/* scan.c — cursors over rows (contract in hregionfs.h). A cursor holds one
 * region at a time and, per family, a read view merged by an hr_miter. It
 * keeps only the current row and its position, so its memory does not grow
 * with the table. Views are refreshed at row boundaries when a flush has
 * changed a store, and each row is resolved at the read point taken when the
 * cursor enters it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_server.h"
#include "engine/hr_util.h"

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
	char table[HR_MAX_NAME + 1];
	char family[HR_MAX_NAME + 1];
	int has_family, mode, with_values;
	buf stop;
	int has_stop;
	buf pos;		/* the next row to look at is >= pos (> pos if pos_excl) */
	int pos_excl;
	/* resume inside the first row */
	int resume;
	char resume_family[HR_MAX_NAME + 1];
	buf resume_qual;
	int resume_has_qual;

	hr_region *r;
	scan_store *ss;
	int nss;
	int done;

	buf row;
	int in_row;
	int fi;
	buf qual, value, tags;
};

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

/* the first key at or after pos */
static void pos_key(hr_scan *sc, hr_kv *k, buf *tmp)
{
	if (sc->pos_excl) {
		buf_set(tmp, sc->pos.p, sc->pos.len + 1);
		tmp->p[sc->pos.len] = 0; /* row||0x00 is the row right after pos */
		hr_kv_first_on_column(k, tmp->p, (uint32_t)sc->pos.len + 1, NULL, 0);
	} else {
		hr_kv_first_on_column(k, sc->pos.p, (uint32_t)sc->pos.len, NULL, 0);
	}
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
	buf tmp = {0};
	pos_key(sc, &k, &tmp);
	rc = hr_miter_seek(s->m, &k);
	free(tmp.p);
	return rc;
}

static int cmp_fam(const void *a, const void *b)
{
	return strcmp(((const scan_store *)a)->st->fam.name, ((const scan_store *)b)->st->fam.name);
}

static int open_region(hr_scan *sc)
{
	hr_region *r;
	int rc = hr_server_locate(sc->srv, sc->table, sc->pos.len ? sc->pos.p : (const uint8_t *)"",
				  sc->pos.len, &r, NULL);
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
		hr_resolver_init(&sc->ss[sc->nss].res, &r->stores[i]->fam, 0);
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

static int seek_past_row(scan_store *s, const buf *row)
{
	uint8_t *tmp = malloc(row->len + 1);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, row->p, row->len);
	tmp[row->len] = 0;
	hr_kv k;
	hr_kv_first_on_column(&k, tmp, (uint32_t)row->len + 1, NULL, 0);
	int rc = hr_miter_seek(s->m, &k);
	free(tmp);
	return rc;
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
		buf tmp = {0};
		pos_key(sc, &k, &tmp);
		for (int i = 0; i < sc->nss; i++)
			hr_miter_reseek_memstores(sc->ss[i].m, &k);
		free(tmp.p);
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
			int rc = seek_past_row(s, &sc->row);
			if (rc < 0)
				return rc;
		}
	}
	sc->in_row = 0;
	sc->pos_excl = 1;
	return buf_set(&sc->pos, sc->row.p, sc->row.len);
}

int hr_scan_next(hr_scan *sc, hr_scan_entry *e)
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
						if ((rc = seek_past_row(&sc->ss[i], &sc->row)) < 0)
							return rc;
					if ((rc = finish_row(sc)) < 0)
						return rc;
					return 1;
				}
				e->family = s->st->fam.name;
				if (sc->mode == HR_SCAN_FAMILIES) {
					if ((rc = seek_past_row(s, &sc->row)) < 0)
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
	hr_scan *sc = calloc(1, sizeof(*sc));
	int rc = -ENOMEM;
	if (!sc)
		return -ENOMEM;
	sc->srv = srv;
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
	release_region(sc);
	free(sc->stop.p);
	free(sc->pos.p);
	free(sc->resume_qual.p);
	free(sc->row.p);
	free(sc->qual.p);
	free(sc->value.p);
	free(sc->tags.p);
	free(sc);
}
