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

static int name_ok(const char *name)
{
	char buf[PATH_MAX];
	return hr_fname_server_wal_dir("", name, buf, sizeof(buf)) == 0;
}

static int server_wal_dir(const char *data_dir, const char *name, char *buf, size_t len)
{
	return hr_fname_server_wal_dir(data_dir, name, buf, len);
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
		/* a block from meta's counter, allocated atomically (a
		 * compare-and-swap with RADOS meta): two servers never hold
		 * overlapping blocks */
		uint64_t first;
		if ((rc = hr_meta_counter_alloc(srv->meta, "next_file_id", FILE_ID_BLOCK, 1,
						&first)) == 0) {
			srv->fid_next = first;
			srv->fid_end = first + FILE_ID_BLOCK;
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

/* Families meta's schema has and t lacks (added by another server): a
 * store for each in every region hosted here, then the schema entry (the
 * order and the append-only entries of hr_family_add). map_lock held for
 * write. Settings altered elsewhere are not followed (see hr_host.h). */
static int add_families(hr_table *t, const hr_table_schema *s)
{
	for (uint32_t i = 0; i < s->nfamilies; i++) {
		const hr_family_schema *f = &s->families[i];
		int have = 0;
		for (uint32_t j = 0; j < t->schema.nfamilies && !have; j++)
			have = strcmp(t->schema.families[j].name, f->name) == 0;
		if (have)
			continue;
		if (t->schema.nfamilies >= HR_MAX_FAMILIES)
			return -ENOSPC;
		hr_store **fresh = calloc(t->nregions ? t->nregions : 1, sizeof(*fresh));
		size_t k = 0;
		int rc = fresh ? 0 : -ENOMEM;
		for (; rc == 0 && k < t->nregions; k++)
			if ((rc = hr_store_new(t->regions[k], f, &fresh[k])) < 0)
				break;
		if (rc < 0) {
			for (size_t j = 0; fresh && j < k; j++)
				hr_store_free(fresh[j]);
			free(fresh);
			return rc;
		}
		for (size_t j = 0; j < t->nregions; j++)
			hr_region_attach_store(t->regions[j], fresh[j]);
		free(fresh);
		t->schema.families[t->schema.nfamilies] = *f;
		t->schema.nfamilies++;
		hr_log_info("host", "table '%s': family '%s' added by another server", t->schema.name,
			    f->name);
	}
	return 0;
}

/* Adds to the map every table of meta it lacks and the families of meta's
 * schemas it lacks (map_lock held for write); s: schemas read from meta. */
static int add_tables(hr_server *srv, const hr_table_schema *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hr_table *have = hr_server_table(srv, s[i].name);
		if (have) {
			int rc = add_families(have, &s[i]);
			if (rc < 0)
				return rc;
			continue;
		}
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

static int meta_schemas(hr_server *srv, schemas *sc)
{
	hr_meta_txn *t;
	int rc = hr_meta_begin(srv->meta, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_table_each(t, collect_table_cb, sc);
	hr_meta_abort(t);
	return rc;
}

int hr_host_refresh(hr_server *srv)
{
	schemas sc = {0};
	if (!srv->host)
		return -EOPNOTSUPP;
	int rc = meta_schemas(srv, &sc);
	if (rc == 0) {
		pthread_rwlock_wrlock(&srv->map_lock);
		rc = add_tables(srv, sc.v, sc.n);
		pthread_rwlock_unlock(&srv->map_lock);
	}
	free(sc.v);
	return rc;
}

int hr_host_table_schema(hr_server *srv, const char *table, hr_table_schema *out)
{
	schemas sc = {0};
	int rc = meta_schemas(srv, &sc);
	if (rc == 0) {
		rc = -ENOENT;
		for (size_t i = 0; i < sc.n; i++)
			if (strcmp(sc.v[i].name, table) == 0) {
				*out = sc.v[i];
				rc = 0;
				break;
			}
	}
	free(sc.v);
	return rc;
}

int hr_host_table_list(hr_server *srv, char ***names, size_t *n)
{
	schemas sc = {0};
	char **v = NULL;
	size_t k = 0;
	int rc = meta_schemas(srv, &sc);
	if (rc < 0)
		goto out;
	if (!(v = calloc(sc.n ? sc.n : 1, sizeof(*v)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (; k < sc.n; k++)
		if (!(v[k] = strdup(sc.v[k].name))) {
			rc = -ENOMEM;
			hr_names_free(v, k);
			goto out;
		}
	*names = v;
	*n = k;
out:
	free(sc.v);
	return rc;
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

/* One region of a batch being opened: what meta says of it (copied out of
 * the transaction), then the region being built. */
typedef struct open_item {
	uint64_t id;
	int rc;			/* its outcome; non-zero: left out from then on */
	int found;
	char table[HR_MAX_NAME + 1];
	uint8_t *start, *end;
	size_t start_len, end_len;
	hr_meta_store *stores;
	uint64_t *files;	/* every store's ids, one array */
	size_t nstores, nfiles;
	hr_table *tab;		/* referenced */
	hr_region *r;
	uint64_t napplied;
} open_item;

typedef struct open_batch {
	open_item *v;		/* sorted by id */
	size_t n;
	uint64_t max_seq;	/* of the records replayed into any of them */
} open_batch;

static int cmp_item(const void *a, const void *b)
{
	uint64_t x = ((const open_item *)a)->id, y = ((const open_item *)b)->id;
	return x < y ? -1 : x > y;
}

static open_item *batch_find_any(open_batch *b, uint64_t id)
{
	open_item key = {.id = id};
	return bsearch(&key, b->v, b->n, sizeof(*b->v), cmp_item);
}

/* The batch's item for id, if still in play. */
static open_item *batch_find(open_batch *b, uint64_t id)
{
	open_item *it = batch_find_any(b, id);
	return it && it->rc == 0 ? it : NULL;
}

static int find_region_cb(void *ctx, const hr_meta_region *mr)
{
	open_item *it = batch_find(ctx, mr->id);
	if (!it)
		return 0;
	it->found = 1;
	snprintf(it->table, sizeof(it->table), "%s", mr->table);
	it->start = malloc(mr->start_len ? mr->start_len : 1);
	it->end = malloc(mr->end_len ? mr->end_len : 1);
	if (!it->start || !it->end)
		return -ENOMEM;
	if (mr->start_len)
		memcpy(it->start, mr->start, mr->start_len);
	if (mr->end_len)
		memcpy(it->end, mr->end, mr->end_len);
	it->start_len = mr->start_len;
	it->end_len = mr->end_len;
	return 0;
}

static int find_stores_cb(void *ctx, const hr_meta_store *ms)
{
	open_item *it = batch_find(ctx, ms->region_id);
	if (!it || !it->found)
		return 0;
	hr_meta_store *s = realloc(it->stores, (it->nstores + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	it->stores = s;
	uint64_t *f = realloc(it->files, (it->nfiles + ms->nfiles + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	it->files = f;
	s[it->nstores] = *ms;
	s[it->nstores].files = NULL; /* pointed into files[] once it stops moving */
	if (ms->nfiles)
		memcpy(f + it->nfiles, ms->files, ms->nfiles * sizeof(*f));
	it->nfiles += ms->nfiles;
	it->nstores++;
	return 0;
}

/* A dead server's WAL record: applied to its region's memstores if that
 * region is in the batch and the store has not flushed it (whole mutations
 * only, as at a single-node open). One pass over a dead server's WAL serves
 * every region of the batch (HBase splits the WAL per region once, too). */
static int host_replay_cb(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq,
			  const void *payload, size_t len)
{
	open_batch *b = ctx;
	hr_wal_edit ed;
	int rc;
	if (hr_wal_edit_decode(payload, len, &ed) < 0)
		return 0;
	open_item *it = batch_find(b, ed.region_id);
	if (!it || !it->r)
		return 0;
	rc = hr_wal_edit_apply(it->r, &ed, seg_version, seq);
	if (rc == -EBADMSG) {
		hr_log_warn("host", "WAL segment %016" PRIx64 ": record seq %" PRIu64
			    " has a bad cell: skipped", seg_id, seq);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (seq > b->max_seq)
		b->max_seq = seq;
	it->napplied += (uint64_t)rc;
	return 0;
}

static void raise_seq(hr_server *srv, uint64_t seq)
{
	uint_fast64_t cur = atomic_load(&srv->seq);
	while (seq > cur && !atomic_compare_exchange_weak(&srv->seq, &cur, seq))
		;
}

static void item_fail(open_item *it, int rc)
{
	it->rc = rc;
	if (it->r) {
		atomic_store(&it->r->state, HR_REGION_CLOSED);
		hr_region_unref(it->r);
		it->r = NULL;
	}
}

/* The region of it with its stores' files, its directory cleaned: not in
 * the map yet. */
static int build_region(hr_server *srv, open_item *it)
{
	hr_region *r = NULL;
	int rc;
	pthread_rwlock_rdlock(&srv->map_lock); /* the schema hr_region_new reads */
	rc = hr_region_new(srv, it->tab, it->id, it->start, it->start_len, it->end, it->end_len,
			   &r);
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0)
		return rc;
	it->r = r;
	size_t off = 0;
	for (size_t i = 0; i < it->nstores; i++) {
		hr_meta_store *ms = &it->stores[i];
		ms->files = it->files + off;
		off += ms->nfiles;
		hr_store *st = hr_region_store(r, ms->family);
		if (!st) {
			hr_log_warn("host", "region %" PRIu64 ": store '%s' not in the schema: "
				    "ignored", it->id, ms->family);
			continue;
		}
		if ((rc = hr_server_load_store(srv, r, st, ms)) < 0)
			return rc;
		for (uint32_t k = 0; k < st->nfiles; k++)
			raise_seq(srv, hr_sfile_get_info(st->files[k])->max_seq);
	}
	if (atomic_load(&r->state) == HR_REGION_OFFLINE)
		return -EIO; /* logged by hr_server_load_store: never serve a hole */
	/* the region is ours now: what a crashed flush, compaction or split of
	 * an earlier host (or of an earlier try of this open) left in its
	 * directory goes, as at a single-node open */
	hr_server_region_leftovers(srv, r);
	return 0;
}

/* Replays every dead server's WAL once into the batch's regions. */
static int replay_dead(hr_server *srv, open_batch *b, const char *const *from, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX];
		hr_wal_replay_result res;
		int rc = server_wal_dir(srv->cfg.data_dir, from[i], dir, sizeof(dir));
		if (rc < 0)
			return rc;
		hr_wal_replay_opts ro = {.io = srv->io,
					 .dir = dir,
					 .mode = srv->cfg.wal_recovery,
					 .fn = host_replay_cb,
					 .ctx = b};
		uint64_t t0 = hr_mono_ns();
		rc = hr_wal_replay(&ro, &res);
		if (rc == -EUCLEAN)
			hr_log_error("host", "the WAL of dead server '%s' is damaged (segment %016"
				     PRIx64 ", offset %" PRIu64 "): its regions are not opened",
				     from[i], res.refused_segment, res.refused_offset);
		else if (rc == 0)
			hr_log_info("host", "WAL of dead server '%s': %" PRIu64 " records in %zu "
				    "segments read, %.1f ms", from[i], res.records, res.nsegs,
				    (double)(hr_mono_ns() - t0) / 1e6);
		hr_wal_replay_result_free(&res);
		if (rc < 0)
			return rc;
	}
	return 0;
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

int hr_host_open_regions(hr_server *srv, const uint64_t *ids, size_t nids,
			 const char *const *recover_from, size_t n, int *results)
{
	if (!srv->host)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < n; i++)
		if (!name_ok(recover_from[i]) || strcmp(recover_from[i], srv->cfg.server_name) == 0)
			return -EINVAL;
	open_batch b = {.v = calloc(nids ? nids : 1, sizeof(*b.v)), .n = nids};
	schemas sc = {0};
	hr_meta_txn *t = NULL;
	int rc;
	if (!b.v)
		return -ENOMEM;
	for (size_t i = 0; i < nids; i++)
		b.v[i].id = ids[i];
	qsort(b.v, nids, sizeof(*b.v), cmp_item);
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < nids; i++) {
		if (hr_server_region_by_id(srv, b.v[i].id))
			b.v[i].rc = -EALREADY;
		else if (i && b.v[i].id == b.v[i - 1].id)
			b.v[i].rc = -EINVAL; /* named twice */
	}
	pthread_rwlock_unlock(&srv->map_lock);
	/* meta as it is now: tables created and regions split elsewhere */
	if ((rc = hr_meta_begin(srv->meta, 0, &t)) < 0)
		goto out;
	if ((rc = hr_meta_table_each(t, collect_table_cb, &sc)) == 0 &&
	    (rc = hr_meta_region_each(t, find_region_cb, &b)) == 0)
		rc = hr_meta_store_each(t, find_stores_cb, &b);
	hr_meta_abort(t);
	if (rc < 0)
		goto out;
	pthread_rwlock_wrlock(&srv->map_lock);
	rc = add_tables(srv, sc.v, sc.n);
	for (size_t i = 0; rc == 0 && i < nids; i++) {
		open_item *it = &b.v[i];
		if (it->rc == 0 && !it->found)
			it->rc = -ENOENT; /* dropped, or a split parent replaced */
		if (it->rc == 0 && !(it->tab = hr_server_table(srv, it->table)))
			it->rc = -ENOENT;
		if (it->tab)
			hr_table_ref(it->tab);
	}
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < nids; i++)
		if (b.v[i].rc == 0 && (rc = build_region(srv, &b.v[i])) < 0)
			item_fail(&b.v[i], rc);
	if ((rc = replay_dead(srv, &b, recover_from, n)) < 0) {
		for (size_t i = 0; i < nids; i++)
			if (b.v[i].rc == 0)
				item_fail(&b.v[i], rc);
		goto out;
	}
	/* edits made here from now on sort after everything recovered */
	raise_seq(srv, b.max_seq);
	for (size_t i = 0; i < nids; i++) {
		open_item *it = &b.v[i];
		if (it->rc)
			continue;
		atomic_store(&it->r->mvcc.read_point, atomic_load(&srv->seq));
		if (!it->napplied)
			continue;
		/* one publish of every store: the recovered edits then live in
		 * store files, and the dead servers' WALs are no longer needed for
		 * this region; a crash before the publish leaves meta as it was */
		if ((rc = hr_region_flush(it->r)) < 0) {
			item_fail(it, rc);
			continue;
		}
		hr_log_info("host", "region %" PRIu64 ": %" PRIu64 " cells recovered from %zu dead "
			    "servers' WALs and flushed", it->id, it->napplied, n);
	}
	for (size_t i = 0; i < nids; i++) {
		open_item *it = &b.v[i];
		if (it->rc)
			continue;
		pthread_rwlock_wrlock(&srv->map_lock);
		if (hr_server_region_by_id(srv, it->id))
			rc = -EALREADY;
		else if (hr_server_table(srv, it->tab->schema.name) != it->tab)
			rc = -ENOENT; /* dropped meanwhile */
		else if (overlaps(it->tab, it->r))
			rc = -EEXIST;
		else
			rc = hr_table_add_region(it->tab, it->r);
		pthread_rwlock_unlock(&srv->map_lock);
		if (rc == -EEXIST)
			hr_log_error("host", "region %" PRIu64 " of '%s' overlaps a region hosted "
				     "here (a split parent and its daughter?): not opened", it->id,
				     it->tab->schema.name);
		if (rc < 0) {
			item_fail(it, rc);
			continue;
		}
		it->r = NULL; /* the map's now */
		hr_log_info("host", "region %" PRIu64 " of '%s' open (seq %" PRIu64 ")", it->id,
			    it->tab->schema.name, (uint64_t)atomic_load(&srv->seq));
	}
	rc = 0;
out:
	for (size_t i = 0; i < nids; i++) {
		open_item *it = &b.v[i];
		if (rc < 0 && it->rc == 0)
			it->rc = rc;
		if (it->r)
			item_fail(it, it->rc ? it->rc : -ECANCELED);
		hr_table_unref(it->tab);
		free(it->start);
		free(it->end);
		free(it->stores);
		free(it->files);
	}
	/* each result in the caller's order */
	int first = 0;
	for (size_t i = 0; i < nids; i++) {
		open_item *it = batch_find_any(&b, ids[i]);
		if (results)
			results[i] = it->rc;
		if (!first)
			first = it->rc;
	}
	free(b.v);
	free(sc.v);
	return rc < 0 ? rc : first;
}

int hr_host_open_region(hr_server *srv, uint64_t region_id, const char *const *recover_from,
			size_t n)
{
	int res = 0;
	int rc = hr_host_open_regions(srv, &region_id, 1, recover_from, n, &res);
	return rc < 0 ? rc : res;
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
	pthread_rwlock_rdlock(&srv->map_lock);
	hr_region *r = hr_server_region_by_id(srv, region_id);
	if (r)
		hr_region_ref(r);
	pthread_rwlock_unlock(&srv->map_lock);
	if (!r)
		return -ENOENT;
	/* New requests: -EREMOTE (hr_server_locate). Writers that found it
	 * before and are past their state check finish under the read lock we
	 * wait for; later ones see closing and retry into -EREMOTE. The region
	 * stays in the map until flushed, so the WAL purge still counts its
	 * unflushed edits: a crash before the flush leaves them in our WAL. */
	pthread_rwlock_wrlock(&r->updates_lock);
	int was = atomic_exchange(&r->closing, 1);
	pthread_rwlock_unlock(&r->updates_lock);
	if (was) {
		hr_region_unref(r);
		return -EALREADY; /* another close of it is running */
	}
	int rc = 0;
	for (int tries = 0; tries < 3 && rc == 0 && !memstores_empty(r); tries++)
		rc = hr_region_flush(r);
	if (rc == 0 && !memstores_empty(r))
		rc = -EIO;
	if (rc < 0) {
		hr_log_error("host", "region %" PRIu64 ": cannot flush it to close it (%s): it "
			     "stays hosted here", region_id, strerror(-rc));
		atomic_store(&r->closing, 0);
		hr_region_unref(r);
		return rc;
	}
	pthread_rwlock_wrlock(&srv->map_lock);
	int in_map = 0;
	for (size_t i = 0; r->table && i < r->table->nregions; i++)
		in_map |= r->table->regions[i] == r;
	if (in_map)
		map_remove(r);
	pthread_rwlock_unlock(&srv->map_lock);
	/* a compaction of it gives up at its commit (it checks the state
	 * under flush_mu); scanners move on and find it gone */
	pthread_mutex_lock(&r->flush_mu);
	pthread_rwlock_wrlock(&r->updates_lock);
	atomic_store(&r->state, HR_REGION_CLOSED);
	pthread_rwlock_unlock(&r->updates_lock);
	pthread_mutex_unlock(&r->flush_mu);
	if (in_map)
		hr_region_unref(r); /* the map's reference */
	hr_region_unref(r);
	hr_log_info("host", "region %" PRIu64 " closed", region_id);
	return in_map ? 0 : -ENOENT; /* a table drop took it meanwhile */
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

/* ---- meta's regions ---------------------------------------------------------- */

typedef struct meta_list {
	const char *table;
	int table_found;
	hr_host_region_desc *v;
	size_t n, cap;
} meta_list;

static int list_table_cb(void *ctx, const hr_table_schema *s)
{
	meta_list *l = ctx;
	l->table_found |= l->table && strcmp(s->name, l->table) == 0;
	return 0;
}

static int list_region_cb(void *ctx, const hr_meta_region *mr)
{
	meta_list *l = ctx;
	if (l->table && strcmp(mr->table, l->table) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		hr_host_region_desc *v = realloc(l->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	hr_host_region_desc *d = &l->v[l->n];
	memset(d, 0, sizeof(*d));
	d->id = mr->id;
	snprintf(d->table, sizeof(d->table), "%s", mr->table);
	d->start = malloc(mr->start_len ? mr->start_len : 1);
	d->end = malloc(mr->end_len ? mr->end_len : 1);
	if (!d->start || !d->end) {
		free(d->start);
		free(d->end);
		return -ENOMEM;
	}
	if (mr->start_len)
		memcpy(d->start, mr->start, mr->start_len);
	if (mr->end_len)
		memcpy(d->end, mr->end, mr->end_len);
	d->start_len = mr->start_len;
	d->end_len = mr->end_len;
	l->n++;
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	const hr_host_region_desc *x = a, *y = b;
	int c = strcmp(x->table, y->table);
	return c ? c : hr_bytes_cmp(x->start, x->start_len, y->start, y->start_len);
}

int hr_host_meta_regions(hr_server *srv, const char *table, hr_host_region_desc **out,
			 size_t *n)
{
	meta_list l = {.table = table};
	hr_meta_txn *t;
	int rc = hr_meta_begin(srv->meta, 0, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_table_each(t, list_table_cb, &l)) == 0)
		rc = hr_meta_region_each(t, list_region_cb, &l);
	hr_meta_abort(t);
	if (rc == 0 && table && !l.table_found)
		rc = -ENOENT;
	if (rc < 0) {
		hr_host_meta_regions_free(l.v, l.n);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_desc);
	*out = l.v;
	*n = l.n;
	return 0;
}

void hr_host_meta_regions_free(hr_host_region_desc *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].start);
		free(v[i].end);
	}
	free(v);
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
