/* flush.c — memstore flushes and the background threads that trigger them.
 *
 * A flush of a region: under the updates write lock (writers wait only for
 * this swap) every store's active memstore becomes its snapshot and the
 * region's flush seq is taken; then, with no engine lock held, each snapshot
 * is written to a temp file, fsynced, renamed, its directory fsynced; then
 * ONE LMDB transaction adds the files and records the flushed seq ids; only
 * then do readers switch from the snapshots to the files. A crash before the
 * commit leaves unreferenced files (removed at open) and the WAL still
 * holding every edit; after it, the WAL tail above the flushed seq. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_compact.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"

typedef struct flush_item {
	hr_store *st;
	hr_memstore *snap;	/* referenced */
	uint64_t snap_seq;	/* flushed seq to record for this store */
	uint64_t file_id;
	hr_sfile *file;
	char path[PATH_MAX];
} flush_item;

static int write_snapshot(hr_server *srv, flush_item *it)
{
	char tmp[PATH_MAX];
	hr_sfile_writer *w = NULL;
	hr_memstore_iter mi;
	int rc;
	it->file_id = atomic_fetch_add(&srv->next_file_id, 1);
	hr_store_file_path(it->st, it->file_id, 1, tmp, sizeof(tmp));
	hr_store_file_path(it->st, it->file_id, 0, it->path, sizeof(it->path));
	if ((rc = hr_sfile_write_open(tmp, it->st->fam.block_size,
				      it->st->fam.bloom == HR_BLOOM_ROW,
				      hr_memstore_count(it->snap), &w)) < 0)
		goto fail;
	if (srv->test_flush_delay_ms) {
		struct timespec d = {srv->test_flush_delay_ms / 1000,
				     (long)(srv->test_flush_delay_ms % 1000) * 1000000L};
		nanosleep(&d, NULL);
	}
	hr_memstore_iter_init(&mi, it->snap);
	for (hr_memstore_iter_first(&mi); hr_memstore_iter_valid(&mi); hr_memstore_iter_next(&mi))
		if ((rc = hr_sfile_write_add(w, &mi.kv)) < 0)
			goto fail;
	rc = hr_sfile_write_finish(w, hr_memstore_max_seq(it->snap));
	w = NULL;
	if (rc < 0)
		goto fail_unlink;
	if (rename(tmp, it->path) < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	if ((rc = hr_fsync_dir(it->st->dir)) < 0)
		goto fail;
	if ((rc = hr_sfile_open(it->path, it->file_id, srv->fdc, srv->bc, &it->file)) < 0)
		goto fail;
	return 0;
fail_unlink:
	unlink(tmp);
fail:
	if (w)
		hr_sfile_write_abort(w);
	unlink(it->path);
	hr_log_error("flush", "%s: writing store file failed: %s", it->path, strerror(-rc));
	return rc;
}

static int commit_flush(hr_server *srv, hr_region *r, flush_item *items, int n,
			uint64_t empty_seq)
{
	hr_meta_txn *t;
	int rc = hr_meta_begin(srv->meta, 1, &t);
	if (rc < 0)
		return rc;
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned s = 0; s < ns && rc == 0; s++) {
		hr_store *st = r->stores[s];
		flush_item *it = NULL;
		for (int i = 0; i < n; i++)
			if (items[i].st == st)
				it = &items[i];
		pthread_mutex_lock(&st->mu);
		/* a store that had nothing to flush is covered up to the region's
		 * flush seq, unless an earlier failed flush left it a snapshot */
		uint64_t seq = it ? it->snap_seq : st->snapshot ? st->flushed_seq : empty_seq;
		if (seq < st->flushed_seq)
			seq = st->flushed_seq;
		uint32_t nf = st->nfiles + (it ? 1 : 0);
		uint64_t *ids = malloc((nf ? nf : 1) * sizeof(uint64_t));
		if (!ids) {
			pthread_mutex_unlock(&st->mu);
			rc = -ENOMEM;
			break;
		}
		uint32_t k = 0;
		if (it)
			ids[k++] = it->file_id;
		for (uint32_t i = 0; i < st->nfiles; i++)
			ids[k++] = hr_sfile_id(st->files[i]);
		pthread_mutex_unlock(&st->mu);
		hr_meta_store ms = {.region_id = r->id, .flushed_seq = seq, .nfiles = nf, .files = ids};
		snprintf(ms.family, sizeof(ms.family), "%s", st->fam.name);
		rc = hr_meta_store_put(t, &ms);
		free(ids);
	}
	if (rc < 0) {
		hr_meta_abort(t);
		return rc;
	}
	return hr_meta_commit(t);
}

int hr_region_flush(hr_region *r)
{
	hr_server *srv = r->srv;
	flush_item items[HR_MAX_FAMILIES];
	int n = 0, rc = 0;
	uint64_t t0 = hr_mono_ns(), bytes = 0;
	memset(items, 0, sizeof(items));
	pthread_mutex_lock(&r->flush_mu);
	atomic_store(&r->flush_queued, 0);
	if (atomic_load(&r->state) != HR_REGION_OPEN) {
		pthread_mutex_unlock(&r->flush_mu);
		return 0;
	}
	/* the swap: the only moment writers wait for a flush */
	pthread_rwlock_wrlock(&r->updates_lock);
	uint64_t flush_seq = atomic_load(&srv->seq);
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		pthread_mutex_lock(&st->mu);
		if (!st->snapshot && hr_memstore_count(st->active) > 0) {
			hr_memstore *fresh;
			if (hr_memstore_new(&fresh) == 0) {
				st->snapshot = st->active;
				st->active = fresh;
				st->flushed_seq_pending = flush_seq;
				atomic_fetch_add(&st->gen, 1);
			} else {
				/* its edits stay in the active memstore: the flush must
				 * not record flush_seq for this store */
				rc = -ENOMEM;
			}
		}
		if (st->snapshot) {
			items[n].st = st;
			items[n].snap = st->snapshot;
			items[n].snap_seq = st->flushed_seq_pending;
			hr_memstore_ref(st->snapshot);
			n++;
		}
		pthread_mutex_unlock(&st->mu);
	}
	pthread_rwlock_unlock(&r->updates_lock);

	for (int i = 0; i < n && rc == 0; i++) {
		rc = write_snapshot(srv, &items[i]);
		bytes += hr_memstore_bytes(items[i].snap);
	}
	if (rc == 0)
		rc = commit_flush(srv, r, items, n, flush_seq);
	if (rc < 0) {
		/* snapshots stay: readers still see them and the next flush retries */
		for (int i = 0; i < n; i++) {
			if (items[i].file) {
				hr_sfile_mark_deleted(items[i].file);
				hr_sfile_unref(items[i].file);
			}
			hr_memstore_unref(items[i].snap);
		}
		pthread_mutex_unlock(&r->flush_mu);
		hr_log_error("flush", "region %" PRIu64 " of '%s': flush failed: %s", r->id,
			     r->table ? r->table->schema.name : "?", strerror(-rc));
		return rc;
	}
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		flush_item *it = NULL;
		for (int i = 0; i < n; i++)
			if (items[i].st == st)
				it = &items[i];
		pthread_mutex_lock(&st->mu);
		if (it) {
			hr_sfile **nf = realloc(st->files, (st->nfiles + 1) * sizeof(*nf));
			if (nf) {
				memmove(nf + 1, nf, st->nfiles * sizeof(*nf));
				nf[0] = it->file;
				st->files = nf;
				st->nfiles++;
				it->file = NULL;
				st->flushed_seq = it->snap_seq;
				uint64_t b = hr_memstore_bytes(st->snapshot);
				hr_memstore_unref(st->snapshot);
				st->snapshot = NULL;
				hr_region_mem_add(r, -(int64_t)b);
			} else {
				/* LMDB has the file; memory keeps the snapshot until reopen */
				hr_log_error("flush", "%s: out of memory installing file", it->path);
			}
			atomic_fetch_add(&st->gen, 1);
		} else if (!st->snapshot && flush_seq > st->flushed_seq) {
			st->flushed_seq = flush_seq;
		}
		pthread_mutex_unlock(&st->mu);
	}
	for (int i = 0; i < n; i++) {
		if (items[i].file)
			hr_sfile_unref(items[i].file);
		hr_memstore_unref(items[i].snap);
	}
	pthread_mutex_unlock(&r->flush_mu);
	if (n) {
		atomic_fetch_add(&srv->st.flushes, 1);
		atomic_fetch_add(&srv->st.flush_bytes, bytes);
		hr_log_info("flush", "region %" PRIu64 " of '%s': %d stores, %" PRIu64
			    " bytes, seq %" PRIu64 ", %.1f ms", r->id, r->table->schema.name, n,
			    bytes, flush_seq, (double)(hr_mono_ns() - t0) / 1e6);
		hr_compact_request(srv, r, HR_COMPACT_MINOR);
	}
	hr_wal_maintain(srv);
	return 0;
}

/* ---- WAL upkeep: purge covered segments ----------------------------------- */

/* The lowest seq not yet in a store file, over every region. Edits in
 * flight (appended, not yet in a memstore) count, so they are read first:
 * an edit that leaves the in-flight set has reached a memstore by then. */
static uint64_t min_unflushed(hr_server *srv, hr_region **pin)
{
	uint64_t min = atomic_load(&srv->seq) + 1, pmin = UINT64_MAX;
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables; i++) {
		hr_table *t = srv->tables[i];
		for (size_t j = 0; j < t->nregions; j++) {
			hr_region *r = t->regions[j];
			uint64_t m = hr_mvcc_min_inflight(&r->mvcc);
			unsigned ns = atomic_load(&r->nstores);
			for (unsigned s = 0; s < ns; s++) {
				hr_store *st = r->stores[s];
				pthread_mutex_lock(&st->mu);
				uint64_t a = hr_memstore_min_seq(st->active);
				uint64_t b = st->snapshot ? hr_memstore_min_seq(st->snapshot) : UINT64_MAX;
				pthread_mutex_unlock(&st->mu);
				if (a < m)
					m = a;
				if (b < m)
					m = b;
			}
			if (m < min)
				min = m;
			if (pin && m < pmin) {
				pmin = m;
				if (*pin)
					hr_region_unref(*pin);
				*pin = r;
				hr_region_ref(r);
			}
		}
	}
	pthread_rwlock_unlock(&srv->map_lock);
	return min;
}

void hr_wal_maintain(hr_server *srv)
{
	if (!srv->wal)
		return;
	hr_wal_purge(srv->wal, min_unflushed(srv, NULL), hr_server_wal_forget, srv);
}

/* ---- the flush queue -------------------------------------------------------- */

static void enqueue(hr_server *srv, hr_region *r)
{
	if (atomic_exchange(&r->flush_queued, 1))
		return;
	pthread_mutex_lock(&srv->flush_mu);
	if (srv->fq_len == srv->fq_cap) {
		size_t c = srv->fq_cap ? srv->fq_cap * 2 : 16;
		hr_region **n = realloc(srv->fq, c * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&srv->flush_mu);
			atomic_store(&r->flush_queued, 0);
			return;
		}
		srv->fq = n;
		srv->fq_cap = c;
	}
	hr_region_ref(r);
	srv->fq[srv->fq_len++] = r;
	pthread_cond_signal(&srv->flush_cond);
	pthread_mutex_unlock(&srv->flush_mu);
}

/* Queues the largest regions until the queued bytes would bring the total
 * under global_limit_low (HBase's MemStoreFlusher under global pressure). */
static void flush_for_global(hr_server *srv)
{
	uint64_t total = atomic_load(&srv->memstore_total);
	if (total < srv->cfg.global_limit)
		return;
	pthread_rwlock_rdlock(&srv->map_lock);
	while (total >= srv->cfg.global_limit_low) {
		hr_region *best = NULL;
		uint64_t bb = 0;
		for (size_t i = 0; i < srv->ntables; i++)
			for (size_t j = 0; j < srv->tables[i]->nregions; j++) {
				hr_region *r = srv->tables[i]->regions[j];
				uint64_t b = hr_region_memstore_bytes(r);
				if (!atomic_load(&r->flush_queued) && b > bb) {
					bb = b;
					best = r;
				}
			}
		if (!best)
			break;
		enqueue(srv, best);
		total = total > bb ? total - bb : 0;
	}
	pthread_rwlock_unlock(&srv->map_lock);
}

void hr_flush_wait(hr_server *srv, uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec += (long)(ns % 1000000000ull);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&srv->flush_mu);
	if (!srv->stopping)
		pthread_cond_timedwait(&srv->flush_done, &srv->flush_mu, &ts);
	pthread_mutex_unlock(&srv->flush_mu);
}

void hr_flush_request(hr_server *srv, hr_region *r)
{
	if (r)
		enqueue(srv, r);
	else
		flush_for_global(srv);
}

static int too_many_files(hr_server *srv, hr_region *r)
{
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		pthread_mutex_lock(&st->mu);
		uint32_t n = st->nfiles;
		pthread_mutex_unlock(&st->mu);
		if (n >= srv->cfg.blocking_store_files)
			return 1;
	}
	return 0;
}

/* HBase's MemStoreFlusher: a flush into a store that already has
 * blocking_store_files files waits, bounded by blocking_wait_ms, for a
 * compaction to shrink it. It waits before taking the region's flush_mu,
 * which a compaction needs to publish. */
static void wait_for_compaction(hr_server *srv, hr_region *r)
{
	if (!too_many_files(srv, r))
		return;
	uint64_t t0 = hr_mono_ns(), limit = (uint64_t)srv->cfg.blocking_wait_ms * 1000000ull;
	hr_compact_request(srv, r, HR_COMPACT_MINOR);
	while (!srv->stopping && too_many_files(srv, r) && atomic_load(&r->state) == HR_REGION_OPEN) {
		if (hr_mono_ns() - t0 >= limit) {
			hr_log_warn("flush", "region %" PRIu64 ": still %u+ store files after %u ms: "
				    "flushing anyway", r->id, srv->cfg.blocking_store_files,
				    srv->cfg.blocking_wait_ms);
			return;
		}
		struct timespec d = {0, 20 * 1000000L};
		nanosleep(&d, NULL);
	}
}

static void *flusher_main(void *arg)
{
	hr_server *srv = arg;
	pthread_mutex_lock(&srv->flush_mu);
	for (;;) {
		while (!srv->stopping && srv->fq_len == 0)
			pthread_cond_wait(&srv->flush_cond, &srv->flush_mu);
		if (srv->stopping)
			break;
		hr_region *r = srv->fq[0];
		memmove(srv->fq, srv->fq + 1, (srv->fq_len - 1) * sizeof(*srv->fq));
		srv->fq_len--;
		pthread_mutex_unlock(&srv->flush_mu);
		wait_for_compaction(srv, r);
		hr_region_flush(r);
		hr_region_unref(r);
		pthread_mutex_lock(&srv->flush_mu);
		pthread_cond_broadcast(&srv->flush_done);
	}
	pthread_mutex_unlock(&srv->flush_mu);
	return NULL;
}

/* The chore (HBase's periodic flusher): old edits, WAL segment pressure,
 * global memory, and purging covered WAL segments. */
static void chore_tick(hr_server *srv)
{
	int64_t now = hr_now_ms();
	flush_for_global(srv);
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables; i++)
		for (size_t j = 0; j < srv->tables[i]->nregions; j++) {
			hr_region *r = srv->tables[i]->regions[j];
			unsigned ns = atomic_load(&r->nstores);
			for (unsigned s = 0; s < ns; s++) {
				/* active is swapped (and the old one freed) by a flush */
				pthread_mutex_lock(&r->stores[s]->mu);
				int64_t old = hr_memstore_oldest_ms(r->stores[s]->active);
				pthread_mutex_unlock(&r->stores[s]->mu);
				if (old && now - old >= (int64_t)srv->cfg.flush_interval_ms) {
					enqueue(srv, r);
					break;
				}
			}
		}
	pthread_rwlock_unlock(&srv->map_lock);
	hr_wal_seg *segs = NULL;
	size_t nseg = 0;
	if (hr_wal_segments(srv->wal, &segs, &nseg) == 0 && nseg > srv->cfg.max_segments) {
		hr_region *pin = NULL;
		min_unflushed(srv, &pin);
		if (pin) {
			hr_log_info("flush", "%zu WAL segments (max %u): flushing region %" PRIu64,
				    nseg, srv->cfg.max_segments, pin->id);
			enqueue(srv, pin);
			hr_region_unref(pin);
		}
	}
	free(segs);
	hr_wal_maintain(srv);
}

/* Splits run on the chore thread, one region at a time. */
static void split_tick(hr_server *srv)
{
	hr_region **rs;
	size_t n;
	if (hr_server_regions(srv, NULL, &rs, &n) < 0)
		return;
	for (size_t i = 0; i < n && !srv->stopping; i++)
		hr_split_maybe(srv, rs[i]);
	hr_regions_release(rs, n);
}

static void *chore_main(void *arg)
{
	hr_server *srv = arg;
	pthread_mutex_lock(&srv->flush_mu);
	while (!srv->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->chore_cond, &srv->flush_mu, &ts);
		if (srv->stopping)
			break;
		pthread_mutex_unlock(&srv->flush_mu);
		chore_tick(srv);
		hr_scan_lease_tick(srv);
		split_tick(srv);
		pthread_mutex_lock(&srv->flush_mu);
	}
	pthread_mutex_unlock(&srv->flush_mu);
	return NULL;
}

int hr_flusher_start(hr_server *srv)
{
	uint32_t n = srv->cfg.flush_threads ? srv->cfg.flush_threads : 1;
	srv->flushers = calloc(n, sizeof(pthread_t));
	if (!srv->flushers)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (pthread_create(&srv->flushers[i], NULL, flusher_main, srv) != 0) {
			hr_flusher_stop(srv);
			return -EAGAIN;
		}
		srv->nflushers++;
	}
	if (pthread_create(&srv->chore, NULL, chore_main, srv) != 0) {
		hr_flusher_stop(srv);
		return -EAGAIN;
	}
	srv->chore_started = 1;
	return 0;
}

void hr_flusher_stop(hr_server *srv)
{
	pthread_mutex_lock(&srv->flush_mu);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->flush_cond);
	pthread_cond_broadcast(&srv->chore_cond);
	pthread_mutex_unlock(&srv->flush_mu);
	for (uint32_t i = 0; i < srv->nflushers; i++)
		pthread_join(srv->flushers[i], NULL);
	srv->nflushers = 0;
	if (srv->chore_started)
		pthread_join(srv->chore, NULL);
	srv->chore_started = 0;
	free(srv->flushers);
	srv->flushers = NULL;
	for (size_t i = 0; i < srv->fq_len; i++)
		hr_region_unref(srv->fq[i]);
	free(srv->fq);
	srv->fq = NULL;
	srv->fq_len = srv->fq_cap = 0;
}

/* ---- admin: flush now ------------------------------------------------------- */

int hr_flush(hr_server *srv, const char *table)
{
	hr_region **rs;
	size_t n;
	int rc = hr_server_regions(srv, table, &rs, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = hr_region_flush(rs[i]);
	hr_regions_release(rs, n);
	return rc;
}
