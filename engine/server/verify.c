/* verify.c — LMDB's store files against the disk's (contract in
 * hr_verify.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_verify.h"
#include "hr_log.h"
#include "hregionfs.h"

/* A referenced file: (region, family, id), sorted for lookups. */
typedef struct ref {
	uint64_t region, id;
	char family[HR_MAX_NAME + 1];
} ref;

typedef struct vctx {
	hr_verify_report *rep;
	ref *refs;
	size_t nrefs, cap;
	uint64_t *regions;
	size_t nregions, rcap;
	unsigned logged, max_log;
	hr_verify_problem_fn fn;
	void *fn_ctx;
	const char *store;	/* <data>/store */
} vctx;

static void problem(vctx *c, const char *kind, const char *fmt, const char *path)
{
	if (c->fn)
		c->fn(c->fn_ctx, kind, path);
	if (c->logged < c->max_log) {
		c->logged++;
		hr_log_warn("verify", fmt, path);
	}
}

static int ref_cmp(const void *a, const void *b)
{
	const ref *x = a, *y = b;
	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	int c = strcmp(x->family, y->family);
	if (c)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int region_cb(void *ctx, const hr_meta_region *r)
{
	vctx *c = ctx;
	if (c->nregions == c->rcap) {
		size_t n = c->rcap ? c->rcap * 2 : 64;
		uint64_t *v = realloc(c->regions, n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->regions = v;
		c->rcap = n;
	}
	c->regions[c->nregions++] = r->id;
	c->rep->regions++;
	return 0;
}

static int store_cb(void *ctx, const hr_meta_store *s)
{
	vctx *c = ctx;
	c->rep->stores++;
	for (uint32_t i = 0; i < s->nfiles; i++) {
		if (c->nrefs == c->cap) {
			size_t n = c->cap ? c->cap * 2 : 256;
			ref *v = realloc(c->refs, n * sizeof(*v));
			if (!v)
				return -ENOMEM;
			c->refs = v;
			c->cap = n;
		}
		ref *r = &c->refs[c->nrefs++];
		r->region = s->region_id;
		r->id = s->files[i];
		snprintf(r->family, sizeof(r->family), "%s", s->family);
	}
	if (!c->nregions ||
	    !bsearch(&s->region_id, c->regions, c->nregions, sizeof(uint64_t), u64_cmp)) {
		char rdir[PATH_MAX], fdir[PATH_MAX];
		c->rep->orphan_stores++;
		if (hr_fname_region_dir(c->store, s->region_id, rdir, sizeof(rdir)) == 0 &&
		    hr_fname_family_dir(rdir, s->family, fdir, sizeof(fdir)) == 0)
			problem(c, "orphan_store", "%s: store record of a region LMDB lacks", fdir);
	}
	return 0;
}

/* The store files of one family directory on disk. */
static int scan_family(vctx *c, hr_io *io, const char *dir, uint64_t region, const char *family)
{
	hr_io_dirent *e;
	size_t n;
	int rc = hr_io_list(io, dir, &e, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
		ref k = {.region = region};
		hr_fname_type t = e[i].is_dir ? HR_FN_UNKNOWN
					      : hr_fname_parse(HR_FN_IN_FAMILY, e[i].name, &k.id);
		if (t == HR_FN_STORE_FILE) {
			c->rep->on_disk++;
			snprintf(k.family, sizeof(k.family), "%s", family);
			if (!c->nrefs || !bsearch(&k, c->refs, c->nrefs, sizeof(ref), ref_cmp)) {
				c->rep->unreferenced++;
				problem(c, "unreferenced", "%s: store file not referenced by LMDB",
					path);
			}
		} else if (t == HR_FN_STORE_TMP) {
			c->rep->temp++;
			problem(c, "temp", "%s: temp file", path);
		} else {
			c->rep->unknown++;
			problem(c, "unknown", "%s: not a name the engine makes", path);
		}
	}
	hr_io_list_free(e, n);
	return 0;
}

static int scan_disk(vctx *c, hr_io *io, const char *store)
{
	hr_io_dirent *re, *fe;
	size_t nre, nfe;
	int rc = hr_io_list(io, store, &re, &nre);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nre && rc == 0; i++) {
		char rdir[PATH_MAX + 256];
		snprintf(rdir, sizeof(rdir), "%s/%s", store, re[i].name);
		uint64_t region;
		if (!re[i].is_dir ||
		    hr_fname_parse(HR_FN_IN_STORE, re[i].name, &region) != HR_FN_REGION_DIR) {
			c->rep->unknown++;
			problem(c, "unknown", "%s: not a region directory", rdir);
			continue;
		}
		if ((rc = hr_io_list(io, rdir, &fe, &nfe)) < 0)
			break;
		for (size_t j = 0; j < nfe && rc == 0; j++) {
			char fdir[PATH_MAX + 512];
			snprintf(fdir, sizeof(fdir), "%s/%s", rdir, fe[j].name);
			if (!fe[j].is_dir ||
			    hr_fname_parse(HR_FN_IN_REGION, fe[j].name, NULL) != HR_FN_FAMILY_DIR) {
				c->rep->unknown++;
				problem(c, "unknown", "%s: not a family directory", fdir);
				continue;
			}
			rc = scan_family(c, io, fdir, region, fe[j].name);
		}
		hr_io_list_free(fe, nfe);
	}
	hr_io_list_free(re, nre);
	return rc;
}

/* Each referenced file exists. */
static void check_refs(vctx *c, hr_io *io, const char *store)
{
	for (size_t i = 0; i < c->nrefs; i++) {
		ref *r = &c->refs[i];
		char rdir[PATH_MAX], fdir[PATH_MAX], path[PATH_MAX];
		hr_io_attr st;
		c->rep->referenced++;
		if (hr_fname_region_dir(store, r->region, rdir, sizeof(rdir)) < 0 ||
		    hr_fname_family_dir(rdir, r->family, fdir, sizeof(fdir)) < 0 ||
		    hr_fname_store_file(fdir, r->id, 0, path, sizeof(path)) < 0 ||
		    hr_io_stat(io, path, &st) < 0 || st.is_dir) {
			c->rep->missing++;
			problem(c, "missing", "%s: referenced by LMDB, missing on disk", path);
		}
	}
}

typedef struct actx {
	vctx *c;
	uint64_t *ids;
	size_t n, cap;
} actx;

static int snap_cb(void *ctx, const char *table, const char *name, const void *v, size_t len)
{
	actx *a = ctx;
	hr_snap_manifest *m;
	int rc = hr_snap_manifest_decode(table, name, v, len, &m);
	if (rc < 0)
		return rc;
	a->c->rep->snapshots++;
	for (uint32_t r = 0; rc == 0 && r < m->nregions; r++)
		for (uint32_t s = 0; rc == 0 && s < m->regions[r].nstores; s++)
			for (uint32_t f = 0; f < m->regions[r].stores[s].nfiles; f++) {
				if (a->n == a->cap) {
					size_t nc = a->cap ? a->cap * 2 : 64;
					uint64_t *ni = realloc(a->ids, nc * sizeof(*ni));
					if (!ni) {
						rc = -ENOMEM;
						break;
					}
					a->ids = ni;
					a->cap = nc;
				}
				a->ids[a->n++] = m->regions[r].stores[s].files[f].id;
			}
	hr_snap_manifest_free(m);
	return rc;
}

static int check_archive(vctx *c, hr_meta *m, hr_io *io, const char *data_dir)
{
	actx a = {.c = c};
	char dir[PATH_MAX];
	hr_meta_txn *t;
	int rc = hr_fname_archive_dir(data_dir, dir, sizeof(dir));
	if (rc == 0)
		rc = hr_meta_begin(m, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_snap_each(t, snap_cb, &a);
	hr_meta_abort(t);
	if (rc < 0)
		goto out;
	if (a.n)
		qsort(a.ids, a.n, sizeof(*a.ids), u64_cmp);
	size_t k = 0;
	for (size_t i = 0; i < a.n; i++)
		if (i == 0 || a.ids[i] != a.ids[i - 1])
			a.ids[k++] = a.ids[i];
	a.n = k;
	for (size_t i = 0; i < a.n; i++) {
		char path[PATH_MAX];
		hr_io_attr st;
		c->rep->archive_referenced++;
		if (hr_fname_archive_file(dir, a.ids[i], path, sizeof(path)) < 0 ||
		    hr_io_stat(io, path, &st) < 0 || st.is_dir) {
			c->rep->archive_missing++;
			problem(c, "archive_missing", "%s: referenced by a snapshot, missing on disk", path);
		}
	}
	hr_io_dirent *e;
	size_t n;
	if ((rc = hr_io_list(io, dir, &e, &n)) == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		uint64_t id;
		snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
		if (e[i].is_dir || hr_fname_parse(HR_FN_IN_ARCHIVE, e[i].name, &id) != HR_FN_ARCHIVE_FILE) {
			c->rep->archive_unknown++;
			problem(c, "archive_unknown", "%s: not a name the engine makes", path);
			continue;
		}
		c->rep->archive_on_disk++;
		if (!a.n || !bsearch(&id, a.ids, a.n, sizeof(*a.ids), u64_cmp)) {
			c->rep->archive_unreferenced++;
			problem(c, "archive_unreferenced", "%s: archived file no snapshot references", path);
		}
	}
	hr_io_list_free(e, n);
out:
	free(a.ids);
	return rc;
}

int hr_verify_store_files(hr_meta *m, hr_io *io, const char *data_dir, unsigned max_log,
			  hr_verify_report *out)
{
	return hr_verify_store_files_cb(m, io, data_dir, max_log, NULL, NULL, out);
}

int hr_verify_store_files_cb(hr_meta *m, hr_io *io, const char *data_dir, unsigned max_log,
			     hr_verify_problem_fn fn, void *fn_ctx, hr_verify_report *out)
{
	char store[PATH_MAX];
	vctx c = {.rep = out, .max_log = max_log, .fn = fn, .fn_ctx = fn_ctx, .store = store};
	hr_meta_txn *t = NULL;
	memset(out, 0, sizeof(*out));
	int rc = hr_fname_store_dir(data_dir, store, sizeof(store));
	if (rc == 0)
		rc = hr_meta_begin(m, 0, &t);
	if (rc == 0)
		rc = hr_meta_region_each(t, region_cb, &c);
	if (rc == 0) {
		if (c.nregions) /* (NULL when empty: not for qsort) */
			qsort(c.regions, c.nregions, sizeof(uint64_t), u64_cmp);
		rc = hr_meta_store_each(t, store_cb, &c);
	}
	hr_meta_abort(t);
	if (rc == 0) {
		if (c.nrefs)
			qsort(c.refs, c.nrefs, sizeof(ref), ref_cmp);
		check_refs(&c, io, store);
		rc = scan_disk(&c, io, store);
	}
	if (rc == 0)
		rc = check_archive(&c, m, io, data_dir);
	free(c.refs);
	free(c.regions);
	return rc;
}
