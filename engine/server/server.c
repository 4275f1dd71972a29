/* server.c — open (lock, metadata, leftovers, WAL replay), close, and the
 * region map (contract in hregionfs.h; internals in hr_region.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_compact.h"
#include "engine/hr_fname.h"
#include "engine/hr_io_rados.h"
#include "engine/hr_metrics.h"
#include "engine/hr_region.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

/* ---- regions and stores ---------------------------------------------------- */

void hr_region_ref(hr_region *r) { atomic_fetch_add(&r->refs, 1); }

void hr_store_free(hr_store *st)
{
	if (!st)
		return;
	if (st->active)
		hr_memstore_unref(st->active);
	if (st->snapshot)
		hr_memstore_unref(st->snapshot);
	for (uint32_t i = 0; i < st->nfiles; i++)
		hr_sfile_unref(st->files[i]);
	free(st->files);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void hr_region_unref(hr_region *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	unsigned n = atomic_load(&r->nstores);
	atomic_fetch_sub(&r->srv->memstore_total, atomic_load(&r->mem_bytes));
	for (unsigned i = 0; i < n; i++)
		hr_store_free(r->stores[i]);
	if (r->table)
		hr_table_unref(r->table);
	hr_mvcc_destroy(&r->mvcc);
	hr_rowlocks_destroy(&r->locks);
	pthread_rwlock_destroy(&r->updates_lock);
	pthread_mutex_destroy(&r->flush_mu);
	free(r->start);
	free(r->end);
	free(r);
}

hr_store *hr_region_store(hr_region *r, const char *family)
{
	unsigned n = atomic_load_explicit(&r->nstores, memory_order_acquire);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(r->stores[i]->fam.name, family) == 0)
			return r->stores[i];
	return NULL;
}

uint64_t hr_region_memstore_bytes(hr_region *r) { return atomic_load(&r->mem_bytes); }

void hr_region_mem_add(hr_region *r, int64_t delta)
{
	atomic_fetch_add(&r->mem_bytes, (uint64_t)delta);
	atomic_fetch_add(&r->srv->memstore_total, (uint64_t)delta);
}

size_t hr_regions_find(hr_region *const *regs, size_t n, const uint8_t *row, size_t len)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (hr_bytes_cmp(regs[mid]->start, regs[mid]->start_len, row, len) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int hr_region_contains(const hr_region *r, const uint8_t *row, size_t len)
{
	if (r->start_len && hr_bytes_cmp(row, len, r->start, r->start_len) < 0)
		return 0;
	if (r->end_len && hr_bytes_cmp(row, len, r->end, r->end_len) >= 0)
		return 0;
	return 1;
}

void hr_region_note_ts(hr_region *r, int64_t ts)
{
	int_fast64_t last = atomic_load(&r->last_ts);
	while (ts > last && !atomic_compare_exchange_weak(&r->last_ts, &last, ts))
		;
}

int64_t hr_region_stamp(hr_region *r, int64_t now)
{
	int_fast64_t last = atomic_load(&r->last_ts);
	for (;;) {
		if (last >= now)
			return last;
		if (atomic_compare_exchange_weak(&r->last_ts, &last, now))
			return now;
	}
}

int hr_store_file_path(const hr_store *st, uint64_t file_id, int tmp, char *buf, size_t len)
{
	return hr_fname_store_file(st->dir, file_id, tmp, buf, len);
}

int hr_store_new(hr_region *r, const hr_family_schema *f, hr_store **out)
{
	hr_store *st = calloc(1, sizeof(*st));
	int rc;
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	st->region = r;
	st->fam = *f;
	if ((rc = hr_memstore_new(&st->active)) < 0)
		goto fail;
	if ((rc = hr_fname_family_dir(r->dir, f->name, st->dir, sizeof(st->dir))) < 0 ||
	    (rc = hr_io_mkdirs(r->srv->io, st->dir)) < 0) {
		hr_log_error("region", "%s: cannot create store directory: %s", st->dir,
			     strerror(-rc));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	hr_store_free(st);
	return rc;
}

void hr_region_attach_store(hr_region *r, hr_store *st)
{
	unsigned n = atomic_load(&r->nstores);
	r->stores[n] = st;
	atomic_store_explicit(&r->nstores, n + 1, memory_order_release);
}

int hr_region_add_store(hr_region *r, const hr_family_schema *f)
{
	hr_store *st;
	if (atomic_load(&r->nstores) >= HR_MAX_FAMILIES)
		return -ENOSPC;
	int rc = hr_store_new(r, f, &st);
	if (rc < 0)
		return rc;
	hr_region_attach_store(r, st);
	return 0;
}

int hr_region_ids_reserve(hr_server *srv, unsigned n, uint64_t *first)
{
	/* from meta's counter, atomically (a compare-and-swap with RADOS
	 * meta): in server mode other servers take ids from it too, so it is
	 * the truth; this engine's own highest id is only a floor */
	uint64_t id, want;
	int rc = hr_meta_counter_alloc(srv->meta, "next_region_id", n,
				       atomic_load(&srv->next_region_id), &id);
	if (rc < 0)
		return rc;
	want = id + n;
	uint_fast64_t cur = atomic_load(&srv->next_region_id);
	while (cur < want && !atomic_compare_exchange_weak(&srv->next_region_id, &cur, want))
		;
	*first = id;
	return 0;
}

int hr_region_new(hr_server *srv, hr_table *t, uint64_t id, const uint8_t *start,
		  size_t start_len, const uint8_t *end, size_t end_len, hr_region **out)
{
	hr_region *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->srv = srv;
	r->id = id;
	atomic_init(&r->refs, 1);
	atomic_init(&r->state, HR_REGION_OPEN);
	atomic_init(&r->last_ts, 0);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* a flush's brief write lock must not starve behind a stream of puts */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->updates_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&r->flush_mu, NULL);
	hr_mvcc_init(&r->mvcc, atomic_load(&srv->seq));
	r->table = t;
	hr_table_ref(t);
	hr_rowlocks_init(&r->locks);
	r->start = malloc(start_len ? start_len : 1);
	r->end = malloc(end_len ? end_len : 1);
	if (!r->start || !r->end) {
		hr_region_unref(r);
		return -ENOMEM;
	}
	if (start_len)
		memcpy(r->start, start, start_len);
	if (end_len)
		memcpy(r->end, end, end_len);
	r->start_len = start_len;
	r->end_len = end_len;
	hr_fname_region_dir(srv->store_dir, id, r->dir, sizeof(r->dir));
	for (uint32_t i = 0; i < t->schema.nfamilies; i++) {
		int rc = hr_region_add_store(r, &t->schema.families[i]);
		if (rc < 0) {
			hr_region_unref(r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

/* ---- the table map --------------------------------------------------------- */

hr_table *hr_server_table(hr_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->ntables; i++)
		if (strcmp(srv->tables[i]->schema.name, name) == 0)
			return srv->tables[i];
	return NULL;
}

int hr_server_locate(hr_server *srv, const char *table, const uint8_t *row, size_t len,
		     hr_region **out, hr_table_schema *schema_out)
{
	pthread_rwlock_rdlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	if (!t) {
		pthread_rwlock_unlock(&srv->map_lock);
		return -ENOENT;
	}
	hr_region *r = t->nregions ? t->regions[hr_regions_find(t->regions, t->nregions, row, len)]
				   : NULL;
	/* server mode: the map holds only the regions hosted here, so a row may
	 * fall in a gap: another server's (hr_host.h); a region being closed
	 * is no longer served */
	if (srv->host && (!r || !hr_region_contains(r, row, len) || atomic_load(&r->closing))) {
		pthread_rwlock_unlock(&srv->map_lock);
		return -EREMOTE;
	}
	if (r)
		hr_region_ref(r);
	if (schema_out)
		*schema_out = t->schema;
	pthread_rwlock_unlock(&srv->map_lock);
	if (!r)
		return -ESTALE;
	*out = r;
	return 0;
}

int hr_server_table_add(hr_server *srv, hr_table *t)
{
	hr_table **nt = realloc(srv->tables, (srv->ntables + 1) * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	srv->tables = nt;
	size_t i = srv->ntables;
	while (i > 0 && strcmp(nt[i - 1]->schema.name, t->schema.name) > 0) {
		nt[i] = nt[i - 1];
		i--;
	}
	nt[i] = t;
	srv->ntables++;
	return 0;
}

hr_table *hr_table_new(const hr_table_schema *schema)
{
	hr_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->schema = *schema;
	atomic_init(&t->refs, 1);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* a snapshot waiting for the gate must not starve behind a stream of puts */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->gate, &ra);
	pthread_rwlockattr_destroy(&ra);
	return t;
}

void hr_table_ref(hr_table *t) { atomic_fetch_add(&t->refs, 1); }

void hr_table_unref(hr_table *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	pthread_rwlock_destroy(&t->gate);
	free(t->regions);
	free(t);
}

void hr_table_release(hr_table *t)
{
	if (!t)
		return;
	hr_region **rs = t->regions;
	size_t n = t->nregions;
	t->regions = NULL;
	t->nregions = 0;
	for (size_t i = 0; i < n; i++)
		hr_region_unref(rs[i]);
	free(rs);
	hr_table_unref(t);
}

int hr_table_add_region(hr_table *t, hr_region *r)
{
	hr_region **nr = realloc(t->regions, (t->nregions + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	t->regions = nr;
	size_t i = t->nregions;
	while (i > 0 && hr_bytes_cmp(nr[i - 1]->start, nr[i - 1]->start_len, r->start,
				     r->start_len) > 0) {
		nr[i] = nr[i - 1];
		i--;
	}
	nr[i] = r;
	t->nregions++;
	return 0;
}

hr_region *hr_server_region_by_id(hr_server *srv, uint64_t id)
{
	for (size_t i = 0; i < srv->ntables; i++)
		for (size_t j = 0; j < srv->tables[i]->nregions; j++)
			if (srv->tables[i]->regions[j]->id == id)
				return srv->tables[i]->regions[j];
	return NULL;
}

int hr_server_regions(hr_server *srv, const char *table, hr_region ***out, size_t *n)
{
	hr_region **rs = NULL;
	size_t k = 0;
	int rc = 0;
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables && rc == 0; i++) {
		hr_table *t = srv->tables[i];
		if (table && strcmp(t->schema.name, table) != 0)
			continue;
		hr_region **nr = realloc(rs, (k + t->nregions + 1) * sizeof(*nr));
		if (!nr) {
			rc = -ENOMEM;
			break;
		}
		rs = nr;
		for (size_t j = 0; j < t->nregions; j++) {
			rs[k++] = t->regions[j];
			hr_region_ref(t->regions[j]);
		}
	}
	if (rc == 0 && table && !hr_server_table(srv, table))
		rc = -ENOENT;
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0) {
		hr_regions_release(rs, k);
		return rc;
	}
	*out = rs;
	*n = k;
	return 0;
}

void hr_regions_release(hr_region **rs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hr_region_unref(rs[i]);
	free(rs);
}

/* ---- open: metadata ------------------------------------------------------- */

static int load_table_cb(void *ctx, const hr_table_schema *s)
{
	hr_server *srv = ctx;
	hr_table *t = hr_table_new(s);
	if (!t)
		return -ENOMEM;
	int rc = hr_server_table_add(srv, t);
	if (rc < 0)
		hr_table_unref(t);
	return rc;
}

static int load_region_cb(void *ctx, const hr_meta_region *mr)
{
	hr_server *srv = ctx;
	hr_table *t = hr_server_table(srv, mr->table);
	hr_region *r;
	if (!t) {
		hr_log_warn("server", "region %" PRIu64 " names unknown table '%s': ignored (its "
			    "directory is kept)", mr->id, mr->table);
		uint64_t *v = realloc(srv->ignored, (srv->nignored + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		srv->ignored = v;
		srv->ignored[srv->nignored++] = mr->id;
		return 0;
	}
	int rc = hr_region_new(srv, t, mr->id, mr->start, mr->start_len, mr->end, mr->end_len, &r);
	if (rc < 0)
		return rc;
	if ((rc = hr_table_add_region(t, r)) < 0) {
		hr_region_unref(r);
		return rc;
	}
	if (mr->id >= atomic_load(&srv->next_region_id))
		atomic_store(&srv->next_region_id, mr->id + 1);
	return 0;
}

static int load_store_cb(void *ctx, const hr_meta_store *ms)
{
	hr_server *srv = ctx;
	hr_region *r = hr_server_region_by_id(srv, ms->region_id);
	if (!r)
		return 0;
	hr_store *st = hr_region_store(r, ms->family);
	if (!st) {
		hr_log_warn("server", "region %" PRIu64 ": store '%s' not in the schema: ignored",
			    ms->region_id, ms->family);
		return 0;
	}
	return hr_server_load_store(srv, r, st, ms);
}

int hr_server_load_store(hr_server *srv, hr_region *r, hr_store *st, const hr_meta_store *ms)
{
	st->flushed_seq = ms->flushed_seq;
	if (ms->flushed_seq > atomic_load(&srv->seq))
		atomic_store(&srv->seq, ms->flushed_seq);
	st->files = calloc(ms->nfiles ? ms->nfiles : 1, sizeof(*st->files));
	if (!st->files)
		return -ENOMEM;
	for (uint32_t i = 0; i < ms->nfiles; i++) {
		char path[PATH_MAX];
		hr_store_file_path(st, ms->files[i], 0, path, sizeof(path));
		if (ms->files[i] >= atomic_load(&srv->next_file_id))
			atomic_store(&srv->next_file_id, ms->files[i] + 1);
		int rc = hr_sfile_open(path, ms->files[i], srv->fdc, srv->bc, &st->files[st->nfiles]);
		if (rc < 0) {
			/* Never serve a region with a hole in it: refuse it loudly. */
			hr_log_error("server",
				     "table '%s' region %" PRIu64 ": store file %s is missing or "
				     "unreadable (%s): region OFFLINE, its data is not served",
				     r->table->schema.name, r->id, path, strerror(-rc));
			atomic_store(&r->state, HR_REGION_OFFLINE);
			continue;
		}
		if (hr_sfile_get_info(st->files[st->nfiles])->entry_count)
			hr_region_note_ts(r, hr_sfile_get_info(st->files[st->nfiles])->max_ts);
		st->nfiles++;
	}
	return 0;
}

/* ---- open: crash leftovers ------------------------------------------------ */

/* Recovery deletes only what it understands (LevelDB keeps what it cannot
 * parse; so do we, but out of the way):
 * - in a store directory: <id>.tmp (an interrupted flush, compaction or
 *   split) and <id>.hsf that LMDB does not reference (written but never
 *   committed, or retired by a commit whose unlink the crash prevented);
 * - a family directory of a known region whose family is not in the schema
 *   (a family add that did not commit), if it holds only such files;
 * - a region directory of a region LMDB does not know but whose id is below
 *   LMDB's region counter (so this engine made it: a dropped table, an
 *   abandoned or completed split), if it holds only family directories of
 *   such files.
 * Anything else found in store/ is moved to lost/ with a warning naming
 * both places: a human decides. An OFFLINE region keeps everything. */

typedef struct leftovers {
	hr_server *srv;
	uint64_t region_mark; /* region ids below it were allocated by this engine */
	int moved, removed;
} leftovers;

/* 1 if dir holds only store files and temp files (or nothing). */
static int only_store_files(hr_io *io, const char *dir)
{
	hr_io_dirent *e;
	size_t n;
	if (hr_io_list(io, dir, &e, &n) < 0)
		return 0;
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++)
		ok = !e[i].is_dir && hr_fname_parse(HR_FN_IN_FAMILY, e[i].name, NULL) != HR_FN_UNKNOWN;
	hr_io_list_free(e, n);
	return ok;
}

/* 1 if dir holds only family directories that hold only store files. */
static int only_families(hr_io *io, const char *dir)
{
	hr_io_dirent *e;
	size_t n;
	if (hr_io_list(io, dir, &e, &n) < 0)
		return 0;
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		char p[PATH_MAX + 256];
		snprintf(p, sizeof(p), "%s/%s", dir, e[i].name);
		ok = e[i].is_dir && hr_fname_parse(HR_FN_IN_REGION, e[i].name, NULL) == HR_FN_FAMILY_DIR &&
		     only_store_files(io, p);
	}
	hr_io_list_free(e, n);
	return ok;
}

/* Moves path (rel: its path below the data directory) into lost/. */
int hr_server_move_aside(hr_server *srv, const char *path, const char *rel, const char *why)
{
	char lost[PATH_MAX], dst[PATH_MAX], parent[PATH_MAX];
	hr_io_attr st;
	int rc = hr_fname_lost_dir(srv->cfg.data_dir, lost, sizeof(lost));
	if (rc == 0)
		rc = hr_io_mkdirs(srv->io, lost);
	for (unsigned n = 0; rc == 0; n++) {
		if ((rc = hr_fname_lost(srv->cfg.data_dir, rel, n, dst, sizeof(dst))) < 0)
			break;
		if (hr_io_stat(srv->io, dst, &st) == -ENOENT)
			break;
		if (n == 1000)
			rc = -EEXIST;
	}
	if (rc == 0)
		rc = hr_io_rename(srv->io, path, dst);
	if (rc < 0) {
		hr_log_error("server", "%s (%s) could not be moved aside: %s; left in place", path,
			     why, strerror(-rc));
		return rc;
	}
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = 0;
	hr_io_sync_dir(srv->io, lost);
	hr_io_sync_dir(srv->io, parent);
	hr_log_warn("server", "%s is %s: moved aside to %s (nothing deleted; remove it once "
		    "understood)", path, why, dst);
	return 0;
}

static void move_aside(leftovers *l, const char *path, const char *rel, const char *why)
{
	if (hr_server_move_aside(l->srv, path, rel, why) == 0)
		l->moved++;
}

static void remove_path(leftovers *l, const char *path, const char *what)
{
	int rc = hr_io_rmrf(l->srv->io, path);
	if (rc < 0)
		hr_log_error("server", "cannot remove %s %s: %s", what, path, strerror(-rc));
	else
		hr_log_info("server", "removed %s %s", what, path);
	l->removed++;
}

static int file_referenced(hr_store *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->nfiles; i++)
		if (hr_sfile_id(st->files[i]) == id)
			return 1;
	return 0;
}

static void store_leftovers(leftovers *l, hr_store *st, const char *rel)
{
	hr_io *io = l->srv->io;
	hr_io_dirent *e;
	size_t n;
	if (hr_io_list(io, st->dir, &e, &n) < 0)
		return;
	int removed = l->removed;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256], r[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", st->dir, e[i].name);
		snprintf(r, sizeof(r), "%s/%s", rel, e[i].name);
		uint64_t id;
		hr_fname_type ty = e[i].is_dir ? HR_FN_UNKNOWN
					       : hr_fname_parse(HR_FN_IN_FAMILY, e[i].name, &id);
		if (ty == HR_FN_STORE_FILE && file_referenced(st, id))
			continue;
		if (ty == HR_FN_STORE_FILE)
			remove_path(l, path, "unreferenced store file");
		else if (ty == HR_FN_STORE_TMP)
			remove_path(l, path, "temp file of an interrupted write");
		else
			move_aside(l, path, r, "not a store file");
	}
	hr_io_list_free(e, n);
	if (l->removed != removed)
		hr_io_sync_dir(io, st->dir);
}

static void region_leftovers(leftovers *l, hr_region *r, const char *rel)
{
	hr_io *io = l->srv->io;
	hr_io_dirent *e;
	size_t n;
	if (hr_io_list(io, r->dir, &e, &n) < 0)
		return;
	int removed = l->removed;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256], sub[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", r->dir, e[i].name);
		snprintf(sub, sizeof(sub), "%s/%s", rel, e[i].name);
		int fam = e[i].is_dir &&
			  hr_fname_parse(HR_FN_IN_REGION, e[i].name, NULL) == HR_FN_FAMILY_DIR;
		hr_store *st = fam ? hr_region_store(r, e[i].name) : NULL;
		if (st)
			store_leftovers(l, st, sub);
		else if (fam && only_store_files(io, path))
			remove_path(l, path, "directory of a family not in the schema");
		else
			move_aside(l, path, sub, "not a store directory of this region");
	}
	hr_io_list_free(e, n);
	if (l->removed != removed)
		hr_io_sync_dir(io, r->dir);
}

void hr_server_region_leftovers(hr_server *srv, hr_region *r)
{
	leftovers l = {.srv = srv};
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned i = 0; i < ns; i++) {
		char rel[64 + HR_MAX_NAME];
		snprintf(rel, sizeof(rel), "store/%016" PRIx64 "/%s", r->id, r->stores[i]->fam.name);
		store_leftovers(&l, r->stores[i], rel);
	}
}

static void remove_leftovers(hr_server *srv, uint64_t region_mark)
{
	leftovers l = {.srv = srv, .region_mark = region_mark};
	hr_io_dirent *e;
	size_t n;
	if (hr_io_list(srv->io, srv->store_dir, &e, &n) < 0)
		return;
	int removed = 0;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256], rel[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", srv->store_dir, e[i].name);
		snprintf(rel, sizeof(rel), "store/%s", e[i].name);
		uint64_t id;
		int reg = e[i].is_dir &&
			  hr_fname_parse(HR_FN_IN_STORE, e[i].name, &id) == HR_FN_REGION_DIR;
		hr_region *r = reg ? hr_server_region_by_id(srv, id) : NULL;
		int ignored = 0;
		for (size_t k = 0; reg && k < srv->nignored; k++)
			ignored |= srv->ignored[k] == id;
		if (ignored)
			continue; /* LMDB knows it, without its table: leave it be */
		if (r) {
			if (atomic_load(&r->state) != HR_REGION_OFFLINE)
				region_leftovers(&l, r, rel);
		} else if (reg && id < l.region_mark && only_families(srv->io, path)) {
			remove_path(&l, path, "directory of a region LMDB no longer knows");
			removed = 1;
		} else {
			move_aside(&l, path, rel,
				   reg ? "a region directory this engine did not make"
				       : "not a region directory");
		}
	}
	hr_io_list_free(e, n);
	if (removed)
		hr_io_sync_dir(srv->io, srv->store_dir);
	if (l.moved)
		hr_log_warn("server", "%d unexpected entries in %s moved aside to lost/", l.moved,
			    srv->store_dir);
}

/* ---- open: WAL ------------------------------------------------------------ */

typedef struct replay_ctx {
	hr_server *srv;
	uint64_t nrecords, napplied;
	hr_wal_seg *segs;	/* segments noted (LMDB's list; those with offline edits) */
	size_t nsegs, cap;
} replay_ctx;

static int note_seg(replay_ctx *c, uint64_t seg, uint64_t seq)
{
	if (c->nsegs && c->segs[c->nsegs - 1].id == seg) {
		if (seq > c->segs[c->nsegs - 1].max_seq)
			c->segs[c->nsegs - 1].max_seq = seq;
		return 0;
	}
	if (c->nsegs == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		hr_wal_seg *n = realloc(c->segs, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->segs = n;
		c->cap = nc;
	}
	c->segs[c->nsegs].id = seg;
	c->segs[c->nsegs].max_seq = seq;
	c->segs[c->nsegs].bytes = 0;
	c->nsegs++;
	return 0;
}

static int replay_cb(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq,
		     const void *payload, size_t len)
{
	replay_ctx *c = ctx;
	hr_server *srv = c->srv;
	int rc;
	c->nrecords++;
	if (seq > atomic_load(&srv->seq))
		atomic_store(&srv->seq, seq);
	hr_wal_edit ed;
	if (hr_wal_edit_decode(payload, len, &ed) < 0) {
		hr_log_warn("server", "WAL segment %016" PRIx64 ": record seq %" PRIu64
			    " does not decode: skipped", seg_id, seq);
		return 0;
	}
	hr_region *r = hr_server_region_by_id(srv, ed.region_id);
	if (!r)
		return 0; /* a dropped table */
	if (atomic_load(&r->state) == HR_REGION_OFFLINE) {
		/* a region we refuse to serve: its edits stay in the WAL (the
		 * purge keeps them); remember where, should the segment be set
		 * aside as damaged */
		return note_seg(c, seg_id, seq);
	}
	rc = hr_wal_edit_apply(r, &ed, seg_version, seq);
	if (rc == -EBADMSG) {
		hr_log_warn("server", "WAL segment %016" PRIx64 ": record seq %" PRIu64
			    " has a bad cell: skipped", seg_id, seq);
		return 0;
	}
	if (rc < 0)
		return rc;
	c->napplied += (uint64_t)rc;
	return 0;
}

static int wal_seg_collect(void *ctx, uint64_t id)
{
	replay_ctx *c = ctx;
	return note_seg(c, id, 0);
}

static int on_new_segment(void *ctx, uint64_t seg_id)
{
	hr_server *srv = ctx;
	hr_meta_txn *t;
	/* server mode keeps no segment list in meta: nothing reconciles it (a
	 * server never reopens its own WAL), and a dead server's WAL directory
	 * is read whole by whoever recovers its regions */
	if (srv->host)
		return 0;
	int rc = hr_meta_begin(srv->meta, 1, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_wal_put(t, seg_id)) < 0) {
		hr_meta_abort(t);
		return rc;
	}
	return hr_meta_commit(t);
}

int hr_server_wal_forget(void *ctx, uint64_t seg_id)
{
	hr_server *srv = ctx;
	hr_meta_txn *t;
	if (srv->host)
		return 0;
	int rc = hr_meta_begin(srv->meta, 1, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_wal_del(t, seg_id)) < 0) {
		hr_meta_abort(t);
		return rc;
	}
	return hr_meta_commit(t);
}

static const char *seg_state_name(int st)
{
	return st == HR_WAL_SEG_CORRUPT ? "corrupt" : st == HR_WAL_SEG_IGNORED ? "ignored" : "torn";
}

/* Replays the WAL under cfg.wal_recovery (hr_wal.h: how damage is judged),
 * reconciles LMDB's segment list with the disk, and sorts the segments:
 * good and torn ones wait in srv->old_segs (adopted by the new WAL, purged
 * once flushes cover them; a torn one with its valid end, so its torn bytes
 * are never read again); corrupt and ignored ones go to srv->aside, moved
 * to wal/corrupt/ by set_aside once their replayed edits are flushed. */
static int recover_wal(hr_server *srv, uint64_t *max_seg)
{
	replay_ctx c = {.srv = srv};
	hr_wal_replay_result res;
	uint64_t t0 = hr_mono_ns();
	hr_wal_replay_opts ro = {.io = srv->io,
				 .dir = srv->wal_dir,
				 .mode = srv->cfg.wal_recovery,
				 .fn = replay_cb,
				 .ctx = &c};
	int rc = hr_wal_replay(&ro, &res);
	if (rc < 0) {
		if (rc == -EUCLEAN)
			hr_log_error("server", "%s: the write-ahead log is damaged (segment %016" PRIx64
				     ".wal, offset %" PRIu64 "); see the message above",
				     srv->cfg.data_dir, res.refused_segment, res.refused_offset);
		goto out;
	}
	size_t n = res.nsegs;
	/* Reconcile LMDB's segment list with the disk: a listed segment that is
	 * not on disk was recorded just before a crash prevented its creation. */
	replay_ctx listed = {.srv = srv};
	hr_meta_txn *t;
	if ((rc = hr_meta_begin(srv->meta, 1, &t)) < 0)
		goto out;
	rc = hr_meta_wal_each(t, wal_seg_collect, &listed);
	for (size_t i = 0; rc == 0 && i < listed.nsegs; i++) {
		int on_disk = 0;
		for (size_t j = 0; j < n; j++)
			on_disk |= res.segs[j].id == listed.segs[i].id;
		if (!on_disk)
			rc = hr_meta_wal_del(t, listed.segs[i].id);
		if (listed.segs[i].id > *max_seg)
			*max_seg = listed.segs[i].id;
	}
	for (size_t j = 0; rc == 0 && j < n; j++)
		rc = hr_meta_wal_put(t, res.segs[j].id);
	if (rc == 0)
		rc = hr_meta_commit(t);
	else
		hr_meta_abort(t);
	free(listed.segs);
	if (rc < 0)
		goto out;
	srv->old_segs = calloc(n ? n : 1, sizeof(*srv->old_segs));
	srv->aside = calloc(n ? n : 1, sizeof(*srv->aside));
	if (!srv->old_segs || !srv->aside) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		const hr_wal_replay_seg *rs = &res.segs[j];
		if (rs->state == HR_WAL_SEG_CORRUPT || rs->state == HR_WAL_SEG_IGNORED) {
			hr_wal_replay_seg *a = &srv->aside[srv->naside++];
			*a = *rs;
			a->why = NULL; /* res is freed below; set_aside says why from state */
			for (size_t k = 0; k < c.nsegs; k++)
				if (c.segs[k].id == rs->id)
					hr_log_error("server", "WAL segment %016" PRIx64 ".wal (%s) holds "
						     "edits of an OFFLINE region (up to seq %" PRIu64 "): "
						     "it is kept in wal/corrupt/, but they will not be "
						     "replayed when the region comes back",
						     rs->id, seg_state_name(rs->state), c.segs[k].max_seq);
			continue;
		}
		srv->old_segs[srv->nold++] = (hr_wal_seg){.id = rs->id,
							  .max_seq = rs->max_seq,
							  .bytes = rs->bytes,
							  .valid_end = rs->valid_end};
	}
	if (res.max_seg_id > *max_seg)
		*max_seg = res.max_seg_id;
	atomic_store(&srv->st.wal_torn_tails, res.torn_tails);
	atomic_store(&srv->st.wal_corrupt_records, res.corrupt_records);
	if (res.records)
		hr_log_info("server", "WAL replay: %" PRIu64 " records, %" PRIu64
			    " cells applied, %zu segments, %.1f ms", res.records, c.napplied, n,
			    (double)(hr_mono_ns() - t0) / 1e6);
	if (res.corrupt_records || res.ignored_segments)
		hr_log_warn("server", "WAL replay (wal_recovery = %s): %" PRIu64 " corrupt stretches "
			    "in %" PRIu64 " segments, %" PRIu64 " segments ignored after the cut",
			    srv->cfg.wal_recovery == HR_WAL_SKIP_CORRUPT ? "skip_corrupt"
									 : "point_in_time",
			    res.corrupt_records, res.corrupt_segments, res.ignored_segments);
	if (srv->cfg.wal_recovery == HR_WAL_POINT_IN_TIME && res.corrupt_records) {
		/* edits already flushed to store files are not undone by the cut:
		 * say so when some are newer than the last edit replayed */
		size_t newer = 0;
		for (size_t i = 0; i < srv->ntables; i++)
			for (size_t j = 0; j < srv->tables[i]->nregions; j++) {
				hr_region *r = srv->tables[i]->regions[j];
				unsigned ns = atomic_load(&r->nstores);
				for (unsigned k = 0; k < ns; k++)
					newer += r->stores[k]->flushed_seq > res.max_seq;
			}
		if (newer)
			hr_log_warn("server", "%zu stores were flushed past the point where replay "
				    "stopped (seq %" PRIu64 "): what their store files hold stays, so "
				    "the state may include edits newer than that point",
				    newer, res.max_seq);
	}
out:
	hr_wal_replay_result_free(&res);
	free(c.segs);
	return rc;
}

/* Moves the damaged segments recover_wal set aside to wal/corrupt/, after
 * flushing every region so that nothing replayed from them lives only in
 * them. Never deletes one. Runs at the end of open, before any write is
 * accepted: after a point_in_time cut, a later open must not find the
 * damaged segment in wal/ again and ignore what this run writes. */
static int set_aside(hr_server *srv)
{
	char cdir[PATH_MAX];
	int rc = hr_flush(srv, NULL);
	if (rc < 0) {
		hr_log_error("server", "cannot flush the edits replayed from damaged WAL segments "
			     "(%s): not opening; they stay in %s", strerror(-rc), srv->wal_dir);
		return rc;
	}
	if ((rc = hr_fname_wal_corrupt_dir(srv->wal_dir, cdir, sizeof(cdir))) < 0 ||
	    (rc = hr_io_mkdirs(srv->io, cdir)) < 0) {
		hr_log_error("server", "%s: cannot create: %s", cdir, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < srv->naside; i++) {
		const hr_wal_replay_seg *a = &srv->aside[i];
		char from[PATH_MAX], to[PATH_MAX], name[64];
		hr_io_attr st;
		if ((rc = hr_wal_segment_path(srv->wal_dir, a->id, from, sizeof(from))) < 0 ||
		    (rc = hr_wal_segment_path(cdir, a->id, to, sizeof(to))) < 0)
			return rc;
		/* a file of that name set aside by an earlier run stays too */
		for (unsigned k = 1; hr_io_stat(srv->io, to, &st) == 0; k++) {
			snprintf(name, sizeof(name), ".%u", k);
			if ((rc = hr_wal_segment_path(cdir, a->id, to, sizeof(to) - 16)) < 0)
				return rc;
			strcat(to, name);
		}
		if ((rc = hr_io_rename(srv->io, from, to)) < 0) {
			hr_log_error("server", "cannot move %s to %s: %s", from, to, strerror(-rc));
			return rc;
		}
		if (a->state == HR_WAL_SEG_IGNORED)
			hr_log_warn("server", "WAL segment %s was not replayed (it follows the point "
				    "where replay stopped): moved to %s", from, to);
		else
			hr_log_warn("server", "WAL segment %s is damaged (first at offset %" PRIu64
				    ", %" PRIu64 " bad stretches, %" PRIu64 " records replayed and "
				    "now flushed): moved to %s", from, a->bad_offset, a->bad_records,
				    a->records, to);
	}
	if ((rc = hr_io_sync_dir(srv->io, cdir)) < 0 ||
	    (rc = hr_io_sync_dir(srv->io, srv->wal_dir)) < 0)
		return rc;
	for (size_t i = 0; i < srv->naside; i++)
		if ((rc = hr_server_wal_forget(srv, srv->aside[i].id)) < 0)
			return rc;
	atomic_store(&srv->st.wal_corrupt_segments, srv->naside);
	srv->naside = 0;
	return 0;
}

/* ---- open / close ---------------------------------------------------------- */

static int take_lock(hr_server *srv)
{
	char path[PATH_MAX];
	int rc = hr_fname_lock(srv->cfg.data_dir, path, sizeof(path));
	if (rc == 0)
		rc = hr_io_lock(srv->io, path, &srv->lock_token);
	if (rc == -EBUSY)
		hr_log_error("server", "%s is in use by another hregionfs process (lock %s)",
			     srv->cfg.data_dir, path);
	else if (rc < 0)
		hr_log_error("server", "%s: cannot lock: %s", path, strerror(-rc));
	return rc;
}

int hr_server_open(const hr_config *cfg, hr_server **out)
{
	return hr_server_open_io(cfg, NULL, out);
}

int hr_server_open_io(const hr_config *cfg, hr_io *io, hr_server **out)
{
	hr_server *srv = calloc(1, sizeof(*srv));
	hr_meta_txn *t = NULL;
	int rc;
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	if (cfg->cluster[0] && !cfg->server_name[0]) {
		/* cluster mode, as a client (a region server has a
		 * server_name): no data here; a local registry for the front
		 * end's metrics, and the client (hr_client.h) for the rest */
		if (!(srv->metrics = hr_metrics_new())) {
			free(srv);
			return -ENOMEM;
		}
		if ((rc = hr_client_open(cfg, &srv->client)) < 0) {
			hr_metrics_free(srv->metrics);
			free(srv);
			return rc;
		}
		*out = srv;
		return 0;
	}
	if (!io && cfg->storage == HR_STORAGE_RADOS) {
		if ((rc = hr_io_rados_open(cfg, &srv->rados, &srv->own_io)) < 0) {
			free(srv);
			return rc;
		}
		io = srv->own_io;
	}
	if (!io)
		io = hr_io_posix();
	srv->io = io;
	srv->lock_token = -1;
	srv->host = cfg->server_name[0] != 0;
	if (strlen(cfg->data_dir) > PATH_MAX - 1024) {
		free(srv);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&srv->host_mu, NULL);
	pthread_rwlock_init(&srv->map_lock, NULL);
	pthread_mutex_init(&srv->flush_mu, NULL);
	pthread_mutex_init(&srv->scan_mu, NULL);
	pthread_mutex_init(&srv->snap_mu, NULL);
	pthread_cond_init(&srv->flush_cond, NULL);
	pthread_cond_init(&srv->flush_done, NULL);
	pthread_cond_init(&srv->chore_cond, NULL);
	pthread_cond_init(&srv->chore_done, NULL);
	atomic_init(&srv->next_file_id, 1);
	atomic_init(&srv->lease_clock_ms, hr_scan_clock_ms());
	atomic_init(&srv->next_region_id, 1);
	if ((rc = hr_server_metrics_init(srv)) < 0)
		goto fail;
	hr_fname_meta_dir(cfg->data_dir, srv->meta_dir, sizeof(srv->meta_dir));
	if (srv->host)
		rc = hr_host_wal_dir(cfg, srv->wal_dir, sizeof(srv->wal_dir));
	else
		rc = hr_fname_wal_dir(cfg->data_dir, srv->wal_dir, sizeof(srv->wal_dir));
	if (rc < 0)
		goto fail;
	hr_fname_store_dir(cfg->data_dir, srv->store_dir, sizeof(srv->store_dir));
	/* user data: the directory is the owner's alone, even one made
	 * earlier with a wider mode */
	if ((rc = hr_io_mkdirs(io, cfg->data_dir)) < 0 ||
	    (rc = hr_io_private_dir(io, cfg->data_dir)) < 0) {
		hr_log_error("server", "%s: cannot create data directory: %s", cfg->data_dir,
			     strerror(-rc));
		goto fail;
	}
	/* server mode: the data directory is shared, the server name unique */
	if (!srv->host && (rc = take_lock(srv)) < 0)
		goto fail;
	if ((rc = hr_io_mkdirs(io, srv->wal_dir)) < 0 || (rc = hr_io_mkdirs(io, srv->store_dir)) < 0)
		goto fail;
	/* storage=rados: meta is the omap of one object in the data
	 * directory's namespace (shared by the servers of a cluster), its
	 * WAL records this server's */
	if (srv->rados)
		rc = hr_meta_open_rados(hr_rados_ioctx(srv->rados), cfg->server_name, io, &srv->meta);
	else
		rc = hr_meta_open(srv->meta_dir, io, &srv->meta);
	if (rc < 0)
		goto fail;
	if ((rc = hr_bcache_new(cfg->block_cache_size, &srv->bc)) < 0)
		goto fail;
	if ((rc = hr_fdcache_new(cfg->open_files ? cfg->open_files : 1024, io, &srv->fdc)) < 0)
		goto fail;

	uint64_t max_seg = 0, v;
	if (srv->host) {
		/* no region, no leftovers, no replay: hr_host.h */
		if ((rc = hr_host_load(srv)) < 0)
			goto fail;
		goto wal;
	}
	if ((rc = hr_meta_begin(srv->meta, 0, &t)) < 0)
		goto fail;
	if ((rc = hr_meta_table_each(t, load_table_cb, srv)) < 0 ||
	    (rc = hr_meta_region_each(t, load_region_cb, srv)) < 0 ||
	    (rc = hr_meta_store_each(t, load_store_cb, srv)) < 0)
		goto fail;
	if ((rc = hr_meta_counter_get(t, "next_region_id", &v)) < 0)
		goto fail;
	if (v > atomic_load(&srv->next_region_id))
		atomic_store(&srv->next_region_id, v);
	hr_meta_abort(t);
	t = NULL;

	/* every region id below the counter (and below the highest known one)
	 * was handed out by this engine */
	remove_leftovers(srv, atomic_load(&srv->next_region_id));
	if ((rc = hr_snapshot_load(srv)) < 0)
		goto fail;
	if ((rc = recover_wal(srv, &max_seg)) < 0)
		goto fail;
	/* Every region's read point starts past everything recovered. */
	for (size_t i = 0; i < srv->ntables; i++)
		for (size_t j = 0; j < srv->tables[i]->nregions; j++)
			atomic_store(&srv->tables[i]->regions[j]->mvcc.read_point,
				     atomic_load(&srv->seq));

wal:;
	hr_wal_opts wo = {
		.io = srv->io,
		.dir = srv->wal_dir,
		.segment_size = cfg->segment_size,
		.durability = cfg->durability,
		.sync_interval_ms = cfg->sync_interval_ms,
		.first_segment_id = max_seg + 1,
		.on_new_segment = on_new_segment,
		.ctx = srv,
		.adopt = srv->old_segs,
		.nadopt = srv->nold,
		.sync_hist = srv->mx.wal_sync,
	};
	if ((rc = hr_wal_open(&wo, &srv->wal)) < 0)
		goto fail;
	const char *delay = getenv("HREGIONFS_TEST_FLUSH_DELAY_MS");
	if (delay && *delay) {
		srv->test_flush_delay_ms = (uint32_t)strtoul(delay, NULL, 10);
		hr_log_warn("server", "test hook: every flush is delayed by %u ms",
			    srv->test_flush_delay_ms);
	}
	if ((rc = hr_compact_start(srv)) < 0 || (rc = hr_flusher_start(srv)) < 0)
		goto fail;
	if (srv->naside && (rc = set_aside(srv)) < 0)
		goto fail;
	hr_log_info("server", "opened %s: %zu tables, seq %" PRIu64, cfg->data_dir, srv->ntables,
		    (uint64_t)atomic_load(&srv->seq));
	*out = srv;
	return 0;
fail:
	hr_meta_abort(t);
	hr_server_close(srv);
	return rc;
}

int hr_server_close(hr_server *srv)
{
	if (!srv)
		return 0;
	if (srv->client) {
		hr_client_close(srv->client);
		hr_metrics_free(srv->metrics);
		free(srv);
		return 0;
	}
	hr_flusher_stop(srv);
	hr_compact_stop(srv); /* after the flushers: they request compactions */
	int rc = 0;
	if (srv->wal) {
		rc = hr_wal_sync(srv->wal);
		hr_wal_close(srv->wal);
		/* server mode, every region closed (each close flushed): nothing in
		 * this WAL is needed by anyone, and nobody will reopen it */
		size_t hosted = 0;
		for (size_t i = 0; i < srv->ntables; i++)
			hosted += srv->tables[i]->nregions;
		if (srv->host && rc == 0 && hosted == 0 && hr_io_rmrf(srv->io, srv->wal_dir) == 0) {
			char wal[PATH_MAX];
			if (hr_fname_wal_dir(srv->cfg.data_dir, wal, sizeof(wal)) == 0)
				hr_io_sync_dir(srv->io, wal);
		}
	}
	hr_snapshot_unload(srv); /* its handles hold regions: before the caches go */
	for (size_t i = 0; i < srv->ntables; i++)
		hr_table_release(srv->tables[i]);
	free(srv->tables);
	free(srv->old_segs);
	free(srv->aside);
	free(srv->ignored);
	if (srv->fdc)
		hr_fdcache_free(srv->fdc);
	if (srv->bc)
		hr_bcache_free(srv->bc);
	hr_meta_close(srv->meta);
	if (srv->lock_token >= 0)
		hr_io_unlock(srv->io, srv->lock_token);
	pthread_rwlock_destroy(&srv->map_lock);
	pthread_mutex_destroy(&srv->flush_mu);
	pthread_mutex_destroy(&srv->scan_mu);
	pthread_mutex_destroy(&srv->snap_mu);
	pthread_mutex_destroy(&srv->host_mu);
	pthread_cond_destroy(&srv->flush_cond);
	pthread_cond_destroy(&srv->flush_done);
	pthread_cond_destroy(&srv->chore_cond);
	pthread_cond_destroy(&srv->chore_done);
	hr_metrics_free(srv->metrics);
	hr_io_destroy(srv->own_io);
	hr_rados_close(srv->rados);
	free(srv);
	return rc;
}

int hr_sync(hr_server *srv)
{
	/* cluster mode: each acknowledged mutation is as durable as its
	 * server's durability setting makes it */
	if (srv->client)
		return 0;
	return hr_wal_sync(srv->wal);
}
