/* host.c — server mode: hosting a subset of the regions of a shared store,
 * opening (with recovery from dead servers' WALs) and closing them
 * (contract in include/engine/hr_host.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_host.h"
#include "engine/hr_region.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"

/* store-file ids taken from meta per round trip */
#define FILE_ID_BLOCK 256

int hr_host_mode(const hr_server *srv) { return srv->host; }

/* A server name is one path component of wal/ (and never "corrupt", the
 * single-node WAL's directory of damaged segments). */
static int name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n < 200 && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strcmp(name, "corrupt") != 0;
}

static int server_wal_dir(const char *data_dir, const char *name, char *buf, size_t len)
{
	char wal[PATH_MAX];
	int rc = hr_fname_wal_dir(data_dir, wal, sizeof(wal));
	if (rc < 0)
		return rc;
	if (!name_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s/%s", wal, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int hr_host_wal_dir(const hr_config *cfg, char *buf, size_t len)
{
	int rc = server_wal_dir(cfg->data_dir, cfg->server_name, buf, len);
	if (rc == -EINVAL)
		hr_log_error("host", "server name '%s' cannot name a WAL directory", cfg->server_name);
	return rc;
}

/* ---- ids ------------------------------------------------------------------ */

int hr_server_file_id(hr_server *srv, uint64_t *id)
{
	if (!srv->host) {
		*id = atomic_fetch_add(&srv->next_file_id, 1);
		return 0;
	}
	int rc = 0;
	pthread_mutex_lock(&srv->host_mu);
	if (srv->fid_next == srv->fid_end) {
		/* a block from meta's counter: one read-and-raise transaction, so
		 * two servers never hold overlapping blocks */
		hr_meta_txn *t;
		uint64_t v = 0;
		if ((rc = hr_meta_begin(srv->meta, 1, &t)) == 0) {
			if ((rc = hr_meta_counter_get(t, "next_file_id", &v)) == 0)
				rc = hr_meta_counter_put(t, "next_file_id",
							 (v ? v : 1) + FILE_ID_BLOCK);
			if (rc == 0)
				rc = hr_meta_commit(t);
			else
				hr_meta_abort(t);
		}
		if (rc == 0) {
			srv->fid_next = v ? v : 1;
			srv->fid_end = srv->fid_next + FILE_ID_BLOCK;
		}
	}
	if (rc == 0)
		*id = srv->fid_next++;
	pthread_mutex_unlock(&srv->host_mu);
	return rc;
}

/* ---- open: tables and counters --------------------------------------------- */

typedef struct id_scan {
	uint64_t max_region, max_file;
} id_scan;

static int scan_region_cb(void *ctx, const hr_meta_region *mr)
{
	id_scan *s = ctx;
	if (mr->id > s->max_region)
		s->max_region = mr->id;
	return 0;
}

static int scan_store_cb(void *ctx, const hr_meta_store *ms)
{
	id_scan *s = ctx;
	for (uint32_t i = 0; i < ms->nfiles; i++)
		if (ms->files[i] > s->max_file)
			s->max_file = ms->files[i];
	return 0;
}

/* Adds to the map every table of meta it lacks (map_lock held for write);
 * s: schemas read from meta. */
static int add_tables(hr_server *srv, const hr_table_schema *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (hr_server_table(srv, s[i].name))
			continue;
		hr_table *t = hr_table_new(&s[i]);
		if (!t)
			return -ENOMEM;
		int rc = hr_server_table_add(srv, t);
		if (rc < 0) {
			hr_table_unref(t);
			return rc;
		}
	}
	return 0;
}

typedef struct schemas {
	hr_table_schema *v;
	size_t n, cap;
} schemas;

static int collect_table_cb(void *ctx, const hr_table_schema *s)
{
	schemas *c = ctx;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 8;
		hr_table_schema *v = realloc(c->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = nc;
	}
	c->v[c->n++] = *s;
	return 0;
}

int hr_host_load(hr_server *srv)
{
	hr_meta_txn *t = NULL;
	schemas sc = {0};
	id_scan ids = {0};
	uint64_t *segs = NULL;
	size_t nsegs = 0;
	int rc;
	/* a new name every start: segments here would be another run's, whose
	 * edits this server would then purge as its own */
	if ((rc = hr_wal_list_dir(srv->io, srv->wal_dir, &segs, &nsegs)) < 0)
		return rc;
	free(segs);
	if (nsegs) {
		hr_log_error("host", "%s already holds WAL segments: server name '%s' was used "
			     "before (every start needs a new one)", srv->wal_dir,
			     srv->cfg.server_name);
		return -EEXIST;
	}
	if ((rc = hr_meta_begin(srv->meta, 0, &t)) < 0)
		return rc;
	if ((rc = hr_meta_table_each(t, collect_table_cb, &sc)) < 0 ||
	    (rc = hr_meta_region_each(t, scan_region_cb, &ids)) < 0 ||
	    (rc = hr_meta_store_each(t, scan_store_cb, &ids)) < 0) {
		hr_meta_abort(t);
		goto out;
	}
	hr_meta_abort(t);
	/* meta written by single-node mode has no file-id counter (ids came
	 * from the files found at open): start both counters above what exists */
	if ((rc = hr_meta_begin(srv->meta, 1, &t)) < 0)
		goto out;
	if ((rc = hr_meta_counter_raise(t, "next_file_id", ids.max_file + 1)) < 0 ||
	    (rc = hr_meta_counter_raise(t, "next_region_id", ids.max_region + 1)) < 0) {
		hr_meta_abort(t);
		goto out;
	}
	if ((rc = hr_meta_commit(t)) < 0)
		goto out;
	pthread_rwlock_wrlock(&srv->map_lock);
	rc = add_tables(srv, sc.v, sc.n);
	pthread_rwlock_unlock(&srv->map_lock);
	hr_log_info("host", "server mode as '%s': %zu tables in meta, no region open",
		    srv->cfg.server_name, sc.n);
out:
	free(sc.v);
	return rc;
}

/* ---- open a region --------------------------------------------------------- */

/* What meta says of one region, copied out of the transaction. */
typedef struct region_rec {
	uint64_t id;
	int found;
	char table[HR_MAX_NAME + 1];
	uint8_t start[HR_MAX_ROW], end[HR_MAX_ROW];
	size_t start_len, end_len;
	hr_meta_store *stores;
	uint64_t *files;	/* every store's ids, one array */
	size_t nstores, nfiles;
} region_rec;

static int find_region_cb(void *ctx, const hr_meta_region *mr)
{
	region_rec *rr = ctx;
	if (mr->id != rr->id)
		return 0;
	if (mr->start_len > HR_MAX_ROW || mr->end_len > HR_MAX_ROW)
		return -EUCLEAN;
	rr->found = 1;
	snprintf(rr->table, sizeof(rr->table), "%s", mr->table);
	memcpy(rr->start, mr->start, mr->start_len);
	memcpy(rr->end, mr->end, mr->end_len);
	rr->start_len = mr->start_len;
	rr->end_len = mr->end_len;
	return 0;
}

static int find_stores_cb(void *ctx, const hr_meta_store *ms)
{
	region_rec *rr = ctx;
	if (ms->region_id != rr->id)
		return 0;
	hr_meta_store *s = realloc(rr->stores, (rr->nstores + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	rr->stores = s;
	uint64_t *f = realloc(rr->files, (rr->nfiles + ms->nfiles + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	rr->files = f;
	s[rr->nstores] = *ms;
	s[rr->nstores].files = NULL; /* pointed into files[] once it stops moving */
	if (ms->nfiles)
		memcpy(f + rr->nfiles, ms->files, ms->nfiles * sizeof(*f));
	rr->nfiles += ms->nfiles;
	rr->nstores++;
	return 0;
}

typedef struct host_replay {
	hr_region *r;
	uint64_t max_seq, napplied;
} host_replay;

/* A dead server's WAL record: applied to r's memstores if it is r's and
 * above the store's flushed seq (whole mutations only, as at open). */
static int host_replay_cb(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq,
			  const void *payload, size_t len)
{
	host_replay *c = ctx;
	hr_region *r = c->r;
	hr_wal_edit ed;
	int rc;
	if (hr_wal_edit_decode(payload, len, &ed) < 0 || ed.region_id != r->id)
		return 0;
	const uint8_t *p = ed.cells;
	for (uint32_t i = 0; i < ed.ncells; i++) {
		char fam[HR_MAX_NAME + 1];
		hr_kv kv;
		if (hr_wal_cell_decode(&p, ed.cells_end, seg_version, fam, &kv) < 0) {
			hr_log_warn("host", "WAL segment %016" PRIx64 ": record seq %" PRIu64
				    " has a bad cell: skipped", seg_id, seq);
			return 0;
		}
	}
	if (seq > c->max_seq)
		c->max_seq = seq;
	p = ed.cells;
	for (uint32_t i = 0; i < ed.ncells; i++) {
		char fam[HR_MAX_NAME + 1];
		hr_kv kv;
		if ((rc = hr_wal_cell_decode(&p, ed.cells_end, seg_version, fam, &kv)) < 0)
			return rc;
		hr_store *st = hr_region_store(r, fam);
		if (!st || seq <= st->flushed_seq)
			continue;
		hr_region_note_ts(r, kv.ts);
		kv.row = ed.row;
		kv.row_len = ed.row_len;
		kv.seq = seq;
		uint64_t before = hr_memstore_bytes(st->active);
		if ((rc = hr_memstore_add(st->active, &kv)) < 0)
			return rc;
		hr_region_mem_add(r, (int64_t)(hr_memstore_bytes(st->active) - before));
		c->napplied++;
	}
	return 0;
}

static void raise_seq(hr_server *srv, uint64_t seq)
{
	uint_fast64_t cur = atomic_load(&srv->seq);
	while (seq > cur && !atomic_compare_exchange_weak(&srv->seq, &cur, seq))
		;
}

/* Builds region rr with its stores' files, replays the dead servers' edits
 * into it and flushes them: not in the map yet. */
static int build_region(hr_server *srv, hr_table *t, region_rec *rr, const char *const *from,
			size_t n, hr_region **out)
{
	hr_region *r = NULL;
	int rc;
	pthread_rwlock_rdlock(&srv->map_lock); /* the schema hr_region_new reads */
	rc = hr_region_new(srv, t, rr->id, rr->start, rr->start_len, rr->end, rr->end_len, &r);
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0)
		return rc;
	size_t off = 0;
	for (size_t i = 0; i < rr->nstores; i++) {
		hr_meta_store *ms = &rr->stores[i];
		ms->files = rr->files + off;
		off += ms->nfiles;
		hr_store *st = hr_region_store(r, ms->family);
		if (!st) {
			hr_log_warn("host", "region %" PRIu64 ": store '%s' not in the schema "
				    "(a family added by another server since this one loaded the "
				    "table?): ignored", rr->id, ms->family);
			continue;
		}
		if ((rc = hr_server_load_store(srv, r, st, ms)) < 0)
			goto fail;
		for (uint32_t k = 0; k < st->nfiles; k++)
			raise_seq(srv, hr_sfile_get_info(st->files[k])->max_seq);
	}
	if (atomic_load(&r->state) == HR_REGION_OFFLINE) {
		rc = -EIO; /* logged by hr_server_load_store: never serve a hole */
		goto fail;
	}
	host_replay c = {.r = r};
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX];
		hr_wal_replay_result res;
		if ((rc = server_wal_dir(srv->cfg.data_dir, from[i], dir, sizeof(dir))) < 0)
			goto fail;
		hr_wal_replay_opts ro = {.io = srv->io,
					 .dir = dir,
					 .mode = srv->cfg.wal_recovery,
					 .fn = host_replay_cb,
					 .ctx = &c};
		rc = hr_wal_replay(&ro, &res);
		if (rc == -EUCLEAN)
			hr_log_error("host", "region %" PRIu64 ": the WAL of dead server '%s' is "
				     "damaged (segment %016" PRIx64 ", offset %" PRIu64 "): region "
				     "not opened", rr->id, from[i], res.refused_segment,
				     res.refused_offset);
		hr_wal_replay_result_free(&res);
		if (rc < 0)
			goto fail;
	}
	/* edits made here from now on sort after everything recovered */
	raise_seq(srv, c.max_seq);
	atomic_store(&r->mvcc.read_point, atomic_load(&srv->seq));
	if (c.napplied) {
		/* one publish of every store: the recovered edits then live in
		 * store files, and the dead server's WAL is no longer needed for
		 * this region; a crash before the publish leaves meta as it was */
		if ((rc = hr_region_flush(r)) < 0)
			goto fail;
		hr_log_info("host", "region %" PRIu64 ": %" PRIu64 " cells recovered from %zu "
			    "dead servers' WALs and flushed", rr->id, c.napplied, n);
	}
	*out = r;
	return 0;
fail:
	atomic_store(&r->state, HR_REGION_CLOSED);
	hr_region_unref(r);
	return rc;
}

/* 1 if a region hosted in t overlaps [start, end) (map_lock held). */
static int overlaps(hr_table *t, const hr_region *r)
{
	for (size_t i = 0; i < t->nregions; i++) {
		const hr_region *o = t->regions[i];
		int below = r->end_len && hr_bytes_cmp(r->end, r->end_len, o->start, o->start_len) <= 0;
		int above = o->end_len && hr_bytes_cmp(o->end, o->end_len, r->start, r->start_len) <= 0;
		if (!below && !above)
			return 1;
	}
	return 0;
}

int hr_host_open_region(hr_server *srv, uint64_t region_id, const char *const *recover_from,
			size_t n)
{
	if (!srv->host)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < n; i++)
		if (!name_ok(recover_from[i]) || strcmp(recover_from[i], srv->cfg.server_name) == 0)
			return -EINVAL;
	region_rec *rr = calloc(1, sizeof(*rr));
	schemas sc = {0};
	hr_meta_txn *t = NULL;
	hr_table *tab = NULL;
	hr_region *r = NULL;
	int rc;
	if (!rr)
		return -ENOMEM;
	rr->id = region_id;
	pthread_rwlock_rdlock(&srv->map_lock);
	int hosted = hr_server_region_by_id(srv, region_id) != NULL;
	pthread_rwlock_unlock(&srv->map_lock);
	if (hosted) {
		rc = -EALREADY;
		goto out;
	}
	/* meta as it is now: tables created and regions split elsewhere */
	if ((rc = hr_meta_begin(srv->meta, 0, &t)) < 0)
		goto out;
	if ((rc = hr_meta_table_each(t, collect_table_cb, &sc)) == 0 &&
	    (rc = hr_meta_region_each(t, find_region_cb, rr)) == 0 && rr->found)
		rc = hr_meta_store_each(t, find_stores_cb, rr);
	hr_meta_abort(t);
	if (rc < 0)
		goto out;
	if (!rr->found) {
		rc = -ENOENT;
		goto out;
	}
	pthread_rwlock_wrlock(&srv->map_lock);
	rc = add_tables(srv, sc.v, sc.n);
	tab = rc == 0 ? hr_server_table(srv, rr->table) : NULL;
	if (tab)
		hr_table_ref(tab);
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc == 0 && !tab) {
		hr_log_error("host", "region %" PRIu64 " names table '%s', which meta does not "
			     "have", region_id, rr->table);
		rc = -ENOENT;
	}
	if (rc < 0)
		goto out;
	if ((rc = build_region(srv, tab, rr, recover_from, n, &r)) < 0)
		goto out;
	pthread_rwlock_wrlock(&srv->map_lock);
	if (hr_server_region_by_id(srv, region_id))
		rc = -EALREADY;
	else if (hr_server_table(srv, tab->schema.name) != tab)
		rc = -ENOENT; /* dropped meanwhile */
	else if (overlaps(tab, r))
		rc = -EEXIST;
	else
		rc = hr_table_add_region(tab, r);
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc == -EEXIST)
		hr_log_error("host", "region %" PRIu64 " of '%s' overlaps a region hosted here "
			     "(a split parent and its daughter?): not opened", region_id,
			     tab->schema.name);
	if (rc < 0) {
		atomic_store(&r->state, HR_REGION_CLOSED);
		hr_region_unref(r);
		goto out;
	}
	hr_log_info("host", "region %" PRIu64 " of '%s' open (seq %" PRIu64 ")", region_id,
		    tab->schema.name, (uint64_t)atomic_load(&srv->seq));
out:
	hr_table_unref(tab);
	free(sc.v);
	free(rr->stores);
	free(rr->files);
	free(rr);
	return rc;
}

/* ---- close a region ------------------------------------------------------------ */

/* Takes r out of its table's region list (map_lock held for write); the
 * map's reference passes to the caller. */
static void map_remove(hr_region *r)
{
	hr_table *t = r->table;
	for (size_t i = 0; i < t->nregions; i++)
		if (t->regions[i] == r) {
			memmove(&t->regions[i], &t->regions[i + 1],
				(t->nregions - i - 1) * sizeof(*t->regions));
			t->nregions--;
			return;
		}
}

static int memstores_empty(hr_region *r)
{
	unsigned ns = atomic_load(&r->nstores);
	int empty = 1;
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		pthread_mutex_lock(&st->mu);
		empty &= !st->snapshot && hr_memstore_count(st->active) == 0;
		pthread_mutex_unlock(&st->mu);
	}
	return empty;
}

int hr_host_close_region(hr_server *srv, uint64_t region_id)
{
	if (!srv->host)
		return -EOPNOTSUPP;
	pthread_rwlock_wrlock(&srv->map_lock);
	hr_region *r = hr_server_region_by_id(srv, region_id);
	if (r)
		map_remove(r); /* new requests: -EREMOTE */
	pthread_rwlock_unlock(&srv->map_lock);
	if (!r)
		return -ENOENT;
	/* writers that found it before: those past their state check finish
	 * under the read lock we wait for; later ones see closing and retry */
	pthread_rwlock_wrlock(&r->updates_lock);
	atomic_store(&r->closing, 1);
	pthread_rwlock_unlock(&r->updates_lock);
	int rc = 0;
	for (int tries = 0; tries < 3 && rc == 0 && !memstores_empty(r); tries++)
		rc = hr_region_flush(r);
	if (rc == 0 && !memstores_empty(r))
		rc = -EIO;
	if (rc < 0) {
		hr_log_error("host", "region %" PRIu64 ": cannot flush it to close it (%s): it "
			     "stays hosted here", region_id, strerror(-rc));
		atomic_store(&r->closing, 0);
		pthread_rwlock_wrlock(&srv->map_lock);
		int arc = hr_table_add_region(r->table, r);
		pthread_rwlock_unlock(&srv->map_lock);
		if (arc < 0) {
			atomic_store(&r->state, HR_REGION_CLOSED);
			hr_region_unref(r);
		}
		return rc;
	}
	/* a compaction or split of it gives up at its commit (they check the
	 * state under flush_mu); scanners move on and find it gone */
	pthread_mutex_lock(&r->flush_mu);
	pthread_rwlock_wrlock(&r->updates_lock);
	atomic_store(&r->state, HR_REGION_CLOSED);
	pthread_rwlock_unlock(&r->updates_lock);
	pthread_mutex_unlock(&r->flush_mu);
	hr_log_info("host", "region %" PRIu64 " closed", region_id);
	hr_region_unref(r);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int hr_host_regions(hr_server *srv, uint64_t **ids, size_t *n)
{
	hr_region **rs;
	size_t k;
	int rc = hr_server_regions(srv, NULL, &rs, &k);
	if (rc < 0)
		return rc;
	uint64_t *v = malloc((k ? k : 1) * sizeof(*v));
	if (!v) {
		hr_regions_release(rs, k);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k; i++)
		v[i] = rs[i]->id;
	hr_regions_release(rs, k);
	qsort(v, k, sizeof(*v), cmp_u64);
	*ids = v;
	*n = k;
	return 0;
}

/* ---- split hooks, WAL retire --------------------------------------------------- */

void hr_host_set_split_hooks(hr_server *srv, hr_host_split_before_fn before,
			     hr_host_split_after_fn after, void *ctx)
{
	srv->split_before = before;
	srv->split_after = after;
	srv->split_ctx = ctx;
}

int hr_host_wal_retire(hr_server *srv, const char *dead_server)
{
	char dir[PATH_MAX];
	hr_io_attr st;
	if (!srv->host)
		return -EOPNOTSUPP;
	if (!name_ok(dead_server) || strcmp(dead_server, srv->cfg.server_name) == 0)
		return -EINVAL;
	int rc = server_wal_dir(srv->cfg.data_dir, dead_server, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	if ((rc = hr_io_stat(srv->io, dir, &st)) < 0)
		return rc;
	if ((rc = hr_io_rmrf(srv->io, dir)) < 0) {
		hr_log_error("host", "%s: cannot remove: %s", dir, strerror(-rc));
		return rc;
	}
	hr_fname_wal_dir(srv->cfg.data_dir, dir, sizeof(dir));
	hr_io_sync_dir(srv->io, dir);
	hr_log_info("host", "WAL of dead server '%s' retired", dead_server);
	return 0;
}
