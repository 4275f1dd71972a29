/* cmd_verify.c — verify [--repair], HBase's hbck for a data directory no
 * daemon serves. Read-only but for --repair, which only moves orphans
 * (unreferenced store files, temp files, entries the engine does not make)
 * to <data>/lost/ and never deletes. Checks:
 *  - LMDB's store files against store/ (hr_verify.h);
 *  - every referenced store file opens (trailer, info, index, bloom CRCs)
 *    and every data block reads back (CRCs, entry lengths, entry count);
 *  - LMDB's WAL segments against wal/, and every record's CRC
 *    (hr_wal_replay in skip_corrupt mode, which changes nothing);
 *  - each table's regions cover its key space: the first starts at the
 *    table start, each ends where the next starts, the last at the table
 *    end; every region's table exists and every table has a region. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/hrctl.h"
#include "engine/hr_fname.h"
#include "engine/hr_sfile.h"
#include "engine/hr_verify.h"
#include "engine/hr_wal.h"
#include "hr_log.h"

typedef struct vstate {
	hrctl *c;
	uint64_t problems;
	/* orphans --repair may move: malloc'd paths */
	char **orphans;
	size_t norphans, cap;
} vstate;

static void problem(vstate *v, const char *kind, const char *path, const char *detail)
{
	v->problems++;
	hrctl_out_begin(v->c->out, NULL, "problem");
	hrctl_out_name(v->c->out, "kind", kind);
	hrctl_out_name(v->c->out, "path", path);
	hrctl_out_str(v->c->out, "detail", detail);
	hrctl_out_end(v->c->out);
}

static void store_problem(void *ctx, const char *kind, const char *path)
{
	vstate *v = ctx;
	const char *detail = !strcmp(kind, "missing")	   ? "referenced by LMDB, missing on disk"
			     : !strcmp(kind, "unreferenced") ? "store file LMDB does not reference"
			     : !strcmp(kind, "temp")	   ? "temp file of an unfinished write"
			     : !strcmp(kind, "orphan_store")
				     ? "store record of a region LMDB does not have"
			     : !strcmp(kind, "archive_missing") ? "referenced by a snapshot, missing on disk"
			     : !strcmp(kind, "archive_unreferenced")
				     ? "archived file no snapshot references"
				     : "not a name the engine makes";
	problem(v, kind, path, detail);
	if (strcmp(kind, "unreferenced") && strcmp(kind, "temp") && strcmp(kind, "unknown"))
		return;
	if (v->norphans == v->cap) {
		size_t n = v->cap ? v->cap * 2 : 16;
		char **p = realloc(v->orphans, n * sizeof(*p));
		if (!p)
			return;
		v->orphans = p;
		v->cap = n;
	}
	if ((v->orphans[v->norphans] = strdup(path)))
		v->norphans++;
}

/* ---- store files: every block ------------------------------------------------ */

typedef struct sref {
	uint64_t region, id;
	char family[HR_MAX_NAME + 1];
} sref;

typedef struct slist {
	sref *v;
	size_t n, cap;
} slist;

static int store_cb(void *ctx, const hr_meta_store *s)
{
	slist *l = ctx;
	for (uint32_t i = 0; i < s->nfiles; i++) {
		if (l->n == l->cap) {
			size_t n = l->cap ? l->cap * 2 : 64;
			sref *p = realloc(l->v, n * sizeof(*p));
			if (!p)
				return -ENOMEM;
			l->v = p;
			l->cap = n;
		}
		sref *r = &l->v[l->n++];
		r->region = s->region_id;
		r->id = s->files[i];
		snprintf(r->family, sizeof(r->family), "%s", s->family);
	}
	return 0;
}

/* Reads the whole file; NULL if sound, else what is wrong. */
static const char *check_sfile(const char *path, uint64_t key, hr_fdcache *fc, hr_bcache *bc)
{
	hr_sfile *f;
	hr_sfile_iter *it = NULL;
	const char *why = NULL;
	if (hr_sfile_open(path, key, fc, bc, &f) < 0)
		return "does not open: bad trailer, info, index or bloom block (CRC or layout)";
	uint64_t n = 0;
	int rc = hr_sfile_iter_new(f, &it);
	if (rc == 0)
		rc = hr_sfile_iter_first(it);
	while (rc == 0 && hr_sfile_iter_valid(it)) {
		n++;
		rc = hr_sfile_iter_next(it);
	}
	if (rc < 0)
		why = "a data block is unreadable (CRC or entry lengths)";
	else if (n != hr_sfile_get_info(f)->entry_count)
		why = "entry count differs from its info block";
	hr_sfile_iter_free(it);
	hr_sfile_unref(f);
	hr_fdcache_forget(fc, key);
	hr_bcache_drop_file(bc, key);
	return why;
}

static int check_store_files(vstate *v, uint64_t *nchecked)
{
	hrctl *c = v->c;
	slist l = {0};
	hr_meta_txn *t;
	hr_fdcache *fc = NULL;
	hr_bcache *bc = NULL;
	char store[PATH_MAX];
	int rc = hr_meta_begin(c->meta, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_store_each(t, store_cb, &l);
	hr_meta_abort(t);
	if (rc == 0)
		rc = hr_fdcache_new(16, c->io, &fc);
	if (rc == 0)
		rc = hr_bcache_new(8u << 20, &bc);
	if (rc == 0)
		rc = hr_fname_store_dir(c->cfg.data_dir, store, sizeof(store));
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		char rdir[PATH_MAX], fdir[PATH_MAX], path[PATH_MAX];
		hr_io_attr st;
		if (hr_fname_region_dir(store, l.v[i].region, rdir, sizeof(rdir)) < 0 ||
		    hr_fname_family_dir(rdir, l.v[i].family, fdir, sizeof(fdir)) < 0 ||
		    hr_fname_store_file(fdir, l.v[i].id, 0, path, sizeof(path)) < 0)
			continue;
		if (hr_io_stat(c->io, path, &st) < 0 || st.is_dir)
			continue; /* reported missing already */
		(*nchecked)++;
		const char *why = check_sfile(path, i + 1, fc, bc);
		if (why)
			problem(v, "corrupt", path, why);
	}
	if (fc)
		hr_fdcache_free(fc);
	if (bc)
		hr_bcache_free(bc);
	free(l.v);
	return rc;
}

/* ---- WAL ---------------------------------------------------------------------- */

typedef struct u64list {
	uint64_t *v;
	size_t n, cap;
} u64list;

static int wal_cb(void *ctx, uint64_t id)
{
	u64list *l = ctx;
	if (l->n == l->cap) {
		size_t n = l->cap ? l->cap * 2 : 16;
		uint64_t *p = realloc(l->v, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = n;
	}
	l->v[l->n++] = id;
	return 0;
}

static int has_id(const uint64_t *v, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

static int check_wal(vstate *v, uint64_t *nsegs, uint64_t *nrecords, uint64_t *torn)
{
	hrctl *c = v->c;
	char dir[PATH_MAX], path[PATH_MAX], detail[256];
	u64list ref = {0};
	uint64_t *disk = NULL;
	size_t ndisk = 0;
	hr_meta_txn *t;
	int rc = hr_fname_wal_dir(c->cfg.data_dir, dir, sizeof(dir));
	if (rc == 0)
		rc = hr_meta_begin(c->meta, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_wal_each(t, wal_cb, &ref);
	hr_meta_abort(t);
	if (rc == 0)
		rc = hr_wal_list_dir(c->io, dir, &disk, &ndisk);
	if (rc == -ENOENT)
		rc = 0;
	for (size_t i = 0; i < ref.n && rc == 0; i++)
		if (!has_id(disk, ndisk, ref.v[i]) &&
		    hr_fname_wal_segment(dir, ref.v[i], 0, path, sizeof(path)) == 0)
			problem(v, "missing", path, "WAL segment referenced by LMDB, missing on disk");
	for (size_t i = 0; i < ndisk && rc == 0; i++)
		if (!has_id(ref.v, ref.n, disk[i]) &&
		    hr_fname_wal_segment(dir, disk[i], 0, path, sizeof(path)) == 0)
			problem(v, "unreferenced_wal", path,
				"WAL segment LMDB does not list (replay still reads it; not moved)");
	hr_wal_replay_opts o = {.io = c->io, .dir = dir, .mode = HR_WAL_SKIP_CORRUPT};
	hr_wal_replay_result res;
	if (rc == 0) {
		rc = hr_wal_replay(&o, &res);
		for (size_t i = 0; i < res.nsegs; i++) {
			const hr_wal_replay_seg *s = &res.segs[i];
			(*nsegs)++;
			*nrecords += s->records;
			if (hr_fname_wal_segment(dir, s->id, 0, path, sizeof(path)) < 0)
				continue;
			if (s->state == HR_WAL_SEG_CORRUPT) {
				snprintf(detail, sizeof(detail),
					 "%llu corrupt stretch(es), the first at offset %llu: %s",
					 (unsigned long long)s->bad_records,
					 (unsigned long long)s->bad_offset, s->why ? s->why : "?");
				problem(v, "corrupt", path, detail);
			} else if (s->state == HR_WAL_SEG_TORN) {
				(*torn)++; /* a crash's cut-short write: the daemon trims it */
			}
		}
		hr_wal_replay_result_free(&res);
	}
	free(ref.v);
	free(disk);
	return rc;
}

/* ---- regions ------------------------------------------------------------------ */

typedef struct vregion {
	char table[HR_MAX_NAME + 1];
	uint64_t id;
	uint8_t *start, *end;
	size_t start_len, end_len;
} vregion;

typedef struct rlist {
	vregion *v;
	size_t n, cap;
	char **tables;
	size_t ntables, tcap;
} rlist;

static int region_cb(void *ctx, const hr_meta_region *r)
{
	rlist *l = ctx;
	if (l->n == l->cap) {
		size_t n = l->cap ? l->cap * 2 : 64;
		vregion *p = realloc(l->v, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = n;
	}
	vregion *x = &l->v[l->n];
	memset(x, 0, sizeof(*x));
	snprintf(x->table, sizeof(x->table), "%s", r->table);
	x->id = r->id;
	x->start = malloc(r->start_len + 1);
	x->end = malloc(r->end_len + 1);
	if (!x->start || !x->end) {
		free(x->start);
		free(x->end);
		return -ENOMEM;
	}
	memcpy(x->start, r->start, r->start_len);
	memcpy(x->end, r->end, r->end_len);
	x->start_len = r->start_len;
	x->end_len = r->end_len;
	l->n++;
	return 0;
}

static int table_cb(void *ctx, const hr_table_schema *s)
{
	rlist *l = ctx;
	if (l->ntables == l->tcap) {
		size_t n = l->tcap ? l->tcap * 2 : 16;
		char **p = realloc(l->tables, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->tables = p;
		l->tcap = n;
	}
	if (!(l->tables[l->ntables] = strdup(s->name)))
		return -ENOMEM;
	l->ntables++;
	return 0;
}

static int bcmp_(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int region_order(const void *a, const void *b)
{
	const vregion *x = a, *y = b;
	int c = strcmp(x->table, y->table);
	return c ? c : bcmp_(x->start, x->start_len, y->start, y->start_len);
}

static void region_problem(vstate *v, const char *store, uint64_t id, const char *kind,
			   const char *detail)
{
	char rdir[PATH_MAX];
	if (hr_fname_region_dir(store, id, rdir, sizeof(rdir)) == 0)
		problem(v, kind, rdir, detail);
}

static int check_regions(vstate *v, uint64_t *nregions, uint64_t *ntables)
{
	hrctl *c = v->c;
	rlist l = {0};
	hr_meta_txn *t;
	char store[PATH_MAX], detail[512];
	int rc = hr_fname_store_dir(c->cfg.data_dir, store, sizeof(store));
	if (rc == 0)
		rc = hr_meta_begin(c->meta, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_region_each(t, region_cb, &l);
	if (rc == 0)
		rc = hr_meta_table_each(t, table_cb, &l);
	hr_meta_abort(t);
	if (rc == 0 && l.n)
		qsort(l.v, l.n, sizeof(*l.v), region_order);
	*nregions = l.n;
	*ntables = l.ntables;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		vregion *r = &l.v[i];
		int first = i == 0 || strcmp(l.v[i - 1].table, r->table) != 0;
		int last = i + 1 == l.n || strcmp(l.v[i + 1].table, r->table) != 0;
		int known = 0;
		for (size_t j = 0; j < l.ntables && !known; j++)
			known = !strcmp(l.tables[j], r->table);
		if (!known && first) {
			snprintf(detail, sizeof(detail), "region of table '%s', which LMDB lacks",
				 r->table);
			region_problem(v, store, r->id, "orphan_region", detail);
		}
		if (r->end_len && bcmp_(r->start, r->start_len, r->end, r->end_len) >= 0) {
			snprintf(detail, sizeof(detail), "table %s: region ends before it starts",
				 r->table);
			region_problem(v, store, r->id, "bad_range", detail);
		}
		if (first && r->start_len) {
			snprintf(detail, sizeof(detail),
				 "table %s: gap: its first region does not start at the table start",
				 r->table);
			region_problem(v, store, r->id, "gap", detail);
		}
		if (last && r->end_len) {
			snprintf(detail, sizeof(detail),
				 "table %s: gap: its last region does not end at the table end",
				 r->table);
			region_problem(v, store, r->id, "gap", detail);
		}
		if (!last) {
			const vregion *n = &l.v[i + 1];
			int d = r->end_len ? bcmp_(r->end, r->end_len, n->start, n->start_len) : 1;
			if (d != 0) {
				snprintf(detail, sizeof(detail),
					 "table %s: %s with region %016llx after it", r->table,
					 d < 0 ? "gap" : "overlap", (unsigned long long)n->id);
				region_problem(v, store, r->id, d < 0 ? "gap" : "overlap", detail);
			}
		}
	}
	for (size_t j = 0; j < l.ntables && rc == 0; j++) {
		int found = 0;
		for (size_t i = 0; i < l.n && !found; i++)
			found = !strcmp(l.v[i].table, l.tables[j]);
		if (!found) {
			snprintf(detail, sizeof(detail), "table %s has no region", l.tables[j]);
			problem(v, "no_region", store, detail);
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].start);
		free(l.v[i].end);
	}
	for (size_t j = 0; j < l.ntables; j++)
		free(l.tables[j]);
	free(l.tables);
	free(l.v);
	return rc;
}

/* ---- --repair --------------------------------------------------------------------- */

/* Moves each orphan to <data>/lost/ (as the engine's open does with what
 * it does not understand); returns how many could not be moved. */
static uint64_t repair(vstate *v)
{
	hrctl *c = v->c;
	char lost[PATH_MAX], to[PATH_MAX];
	uint64_t failed = 0;
	size_t dlen = strlen(c->cfg.data_dir);
	if (!v->norphans)
		return 0;
	if (hr_fname_lost_dir(c->cfg.data_dir, lost, sizeof(lost)) < 0 ||
	    hr_io_mkdirs(c->io, lost) < 0) {
		hrctl_fail(c, HRCTL_ERROR, "cannot create %s", lost);
		return v->norphans;
	}
	hrctl_out_list(c->out, "moved");
	for (size_t i = 0; i < v->norphans; i++) {
		const char *from = v->orphans[i];
		const char *rel = from + dlen + 1; /* every path is under data_dir */
		int rc = -EEXIST;
		for (unsigned n = 0; n < 1000 && rc == -EEXIST; n++) {
			hr_io_attr st;
			if (hr_fname_lost(c->cfg.data_dir, rel, n, to, sizeof(to)) < 0)
				break;
			if (hr_io_stat(c->io, to, &st) == 0)
				continue; /* a free name: never over an earlier one */
			rc = hr_io_rename(c->io, from, to);
		}
		if (rc < 0) {
			/* reported in place: the report goes on */
			failed++;
			fprintf(c->err, "hregionctl: %s: cannot move to %s: %s\n", from, lost,
				strerror(-rc));
			hrctl_out_begin(c->out, NULL, "not_moved");
			hrctl_out_name(c->out, "from", from);
			hrctl_out_str(c->out, "error", strerror(-rc));
			hrctl_out_end(c->out);
			continue;
		}
		/* the parent first: the move is durable once both names are */
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", from);
		char *slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		hr_io_sync_dir(c->io, lost);
		hr_io_sync_dir(c->io, parent);
		hrctl_out_begin(c->out, NULL, "moved");
		hrctl_out_name(c->out, "from", from);
		hrctl_out_name(c->out, "to", to);
		hrctl_out_end(c->out);
	}
	hrctl_out_list_end(c->out);
	return failed;
}

int hrctl_cmd_verify(hrctl *c, int argc, char **argv)
{
	vstate v = {.c = c};
	hr_verify_report rep;
	uint64_t sfiles = 0, segs = 0, records = 0, torn = 0, regions = 0, tables = 0;
	int rc;
	hrctl_out_str(c->out, "data_dir", c->cfg.data_dir);
	hrctl_out_list(c->out, "problems");
	rc = hr_verify_store_files_cb(c->meta, c->io, c->cfg.data_dir, 0, store_problem, &v, &rep);
	if (rc == 0)
		rc = check_store_files(&v, &sfiles);
	if (rc == 0)
		rc = check_wal(&v, &segs, &records, &torn);
	if (rc == 0)
		rc = check_regions(&v, &regions, &tables);
	hrctl_out_list_end(c->out);
	if (rc < 0) {
		for (size_t i = 0; i < v.norphans; i++)
			free(v.orphans[i]);
		free(v.orphans);
		return hrctl_fail(c, HRCTL_ERROR, "verify: %s", strerror(-rc));
	}
	uint64_t left = v.problems;
	if (c->repair) {
		uint64_t failed = repair(&v);
		left = v.problems - (v.norphans - failed);
	}
	for (size_t i = 0; i < v.norphans; i++)
		free(v.orphans[i]);
	free(v.orphans);
	hrctl_out_u64(c->out, "tables", tables);
	hrctl_out_u64(c->out, "regions", regions);
	hrctl_out_u64(c->out, "store_files", rep.referenced);
	hrctl_out_u64(c->out, "store_files_read", sfiles);
	hrctl_out_u64(c->out, "wal_segments", segs);
	hrctl_out_u64(c->out, "wal_records", records);
	hrctl_out_u64(c->out, "wal_torn_tails", torn);
	hrctl_out_u64(c->out, "problems_found", v.problems);
	hrctl_out_u64(c->out, "problems_left", left);
	hrctl_out_bool(c->out, "clean", left == 0);
	return left ? HRCTL_PROBLEM : HRCTL_OK;
}
