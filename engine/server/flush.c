/* flush.c — memstore flushes and the background threads that trigger them.
 *
 * A flush of a region: under the updates write lock (writers wait only for
 * this swap) every store's active memstore becomes its snapshot and the
 * region's flush seq is taken; then, with no engine lock held but flush_mu,
 * each snapshot becomes a store file (hr_newfile: temp, fsync, rename, fsync
 * dir) and ONE edit (hr_edit_apply: one LMDB transaction) adds the files and
 * records the flushed seq ids; only then do readers switch from the
 * snapshots to the files. A crash before the
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
#include "engine/hr_metrics.h"
#include "engine/hr_publish.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

/* backoff of automatic retries after a failed flush */
#define FLUSH_RETRY_MIN_NS (100ull * 1000000)
#define FLUSH_RETRY_MAX_NS (10ull * 1000000000)

typedef struct flush_item {
	hr_store *st;
	hr_memstore *snap;	/* referenced */
	uint64_t snap_seq;	/* flushed seq to record for this store */
	hr_sfile *file;		/* written, not yet published */
} flush_item;

static int write_snapshot(hr_server *srv, flush_item *it)
{
	hr_newfile nf;
	hr_memstore_iter mi;
	int rc = hr_newfile_begin(it->st, hr_memstore_count(it->snap), &nf);
	if (rc < 0)
		return rc;
	if (srv->test_flush_delay_ms) {
		struct timespec d = {srv->test_flush_delay_ms / 1000,
				     (long)(srv->test_flush_delay_ms % 1000) * 1000000L};
		nanosleep(&d, NULL);
	}
	hr_memstore_iter_init(&mi, it->snap);
	for (hr_memstore_iter_first(&mi); hr_memstore_iter_valid(&mi); hr_memstore_iter_next(&mi))
		if ((rc = hr_newfile_add(&nf, &mi.kv)) < 0) {
			hr_newfile_abort(&nf);
			return rc;
		}
	return hr_newfile_finish(&nf, hr_memstore_max_seq(it->snap), &it->file);
}

/* ONE transaction for the whole region: each flushed store gets its file
 * and the seq its snapshot covers; a store that had nothing to flush is
 * covered up to the region's flush seq (a store with a snapshot is always
 * an item, and only this flush, under flush_mu, makes snapshots). */
static int commit_flush(hr_server *srv, hr_region *r, flush_item *items, int n, unsigned ns,
			uint64_t empty_seq)
{
	hr_store_edit *ed = calloc(ns ? ns : 1, sizeof(*ed));
	if (!ed)
		return -ENOMEM;
	for (unsigned s = 0; s < ns; s++) {
		ed[s].st = r->stores[s];
		ed[s].flushed_seq = empty_seq;
		for (int i = 0; i < n; i++)
			if (items[i].st == r->stores[s]) {
				ed[s].add = &items[i].file;
				ed[s].nadd = 1;
				ed[s].flushed_seq = items[i].snap_seq;
				ed[s].snapshot = items[i].snap;
			}
	}
	hr_edit e = {.stores = ed, .nstores = ns};
	int rc = hr_edit_apply(srv, &e);
	free(ed);
	if (rc == 0)
		for (int i = 0; i < n; i++)
			items[i].file = NULL; /* the store's now */
	return rc;
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
		rc = commit_flush(srv, r, items, n, ns, flush_seq);
	/* on failure the snapshots stay: readers still see them, the WAL still
	 * holds their edits, and the next flush writes them again */
	for (int i = 0; i < n; i++) {
		hr_newfile_discard(items[i].file);
		hr_memstore_unref(items[i].snap);
	}
	pthread_mutex_unlock(&r->flush_mu);
	if (rc == -ESTALE) {
		/* the table was dropped while this flush wrote (the only way an
		 * edit that adds files goes stale): nothing is left to flush */
		hr_log_info("flush", "region %" PRIu64 ": dropped during its flush", r->id);
		return 0;
	}
	if (rc < 0) {
		unsigned k = atomic_fetch_add(&r->flush_failures, 1);
		uint64_t wait = FLUSH_RETRY_MIN_NS << (k < 7 ? k : 7);
		if (wait > FLUSH_RETRY_MAX_NS)
			wait = FLUSH_RETRY_MAX_NS;
		atomic_store(&r->flush_retry_ns, hr_mono_ns() + wait);
		hr_log_error("flush", "region %" PRIu64 " of '%s': flush failed: %s (its data stays "
			     "in memory and in the WAL; retry in %" PRIu64 " ms)", r->id,
			     r->table ? r->table->schema.name : "?", strerror(-rc), wait / 1000000);
		return rc;
	}
	if (atomic_exchange(&r->flush_failures, 0))
		hr_log_info("flush", "region %" PRIu64 ": flushing works again", r->id);
	if (n) {
		uint64_t dt = hr_mono_ns() - t0;
		atomic_fetch_add(&srv->st.flushes, 1);
		atomic_fetch_add(&srv->st.flush_bytes, bytes);
		if (srv->mx.flush)
			hr_series_observe_ns(srv->mx.flush, dt);
		hr_log_info("flush", "region %" PRIu64 " of '%s': %d stores, %" PRIu64
			    " bytes, seq %" PRIu64 ", %.1f ms", r->id, r->table->schema.name, n,
			    bytes, flush_seq, (double)dt / 1e6);
		hr_compact_request(srv, r, HR_COMPACT_MINOR);
	}
	hr_wal_maintain(srv);
	return 0;
}

/* ---- WAL upkeep: purge covered segments ----------------------------------- */

/* The lowest seq of r not yet in a store file (UINT64_MAX: none). Edits in
 * flight (appended, not yet in a memstore) count, so they are read first:
 * an edit that leaves the in-flight set has reached a memstore by then.
 * An OFFLINE region (a store file failed to open) replayed nothing: its
 * unflushed edits exist only in the WAL, above each store's flushed seq
 * (from LMDB), and must stay there until the region is served again. */
static uint64_t region_min_unflushed(hr_region *r)
{
	uint64_t m = hr_mvcc_min_inflight(&r->mvcc);
	unsigned ns = atomic_load(&r->nstores);
	if (atomic_load(&r->state) == HR_REGION_OFFLINE) {
		for (unsigned s = 0; s < ns; s++) {
			hr_store *st = r->stores[s];
			pthread_mutex_lock(&st->mu);
			uint64_t f = st->flushed_seq + 1;
			pthread_mutex_unlock(&st->mu);
			if (f < m)
				m = f;
		}
		return m;
	}
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
	return m;
}

/* The lowest seq not yet in a store file, over every region, online or
 * not; *pin (may be NULL) gets a reference to the open region holding the
 * lowest (a flush of it releases segments), *offline_min the lowest of the
 * OFFLINE ones (nothing releases those). */
static uint64_t min_unflushed(hr_server *srv, hr_region **pin, uint64_t *offline_min)
{
	uint64_t min = atomic_load(&srv->seq) + 1, pmin = UINT64_MAX;
	if (offline_min)
		*offline_min = UINT64_MAX;
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables; i++) {
		hr_table *t = srv->tables[i];
		for (size_t j = 0; j < t->nregions; j++) {
			hr_region *r = t->regions[j];
			uint64_t m = region_min_unflushed(r);
			if (m < min)
				min = m;
			if (atomic_load(&r->state) == HR_REGION_OFFLINE) {
				if (offline_min && m < *offline_min)
					*offline_min = m;
				continue;
			}
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
	hr_wal_purge(srv->wal, min_unflushed(srv, NULL, NULL), hr_server_wal_forget, srv);
}

/* ---- the flush queue -------------------------------------------------------- */

/* 1 while a region whose last flush failed waits for its retry (for
 * ever under the test_no_flush_retry hook) */
static int backing_off(hr_server *srv, hr_region *r)
{
	if (!atomic_load(&r->flush_failures))
		return 0;
	return atomic_load(&srv->test_no_flush_retry) ||
	       hr_mono_ns() < atomic_load(&r->flush_retry_ns);
}

static void enqueue(hr_server *srv, hr_region *r)
{
	if (backing_off(srv, r))
		return; /* the chore queues it when its retry is due */
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
				if (!atomic_load(&r->flush_queued) && !backing_off(srv, r) && b > bb) {
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
	hr_deadline(CLOCK_REALTIME, ns, &ts);
	pthread_mutex_lock(&srv->flush_mu);
	if (!srv->stopping)
		pthread_cond_timedwait(&srv->flush_done, &srv->flush_mu, &ts);
	pthread_mutex_unlock(&srv->flush_mu);
}

uint64_t hr_chore_rounds(hr_server *srv)
{
	pthread_mutex_lock(&srv->flush_mu);
	uint64_t n = srv->chore_rounds;
	pthread_mutex_unlock(&srv->flush_mu);
	return n;
}

int hr_chore_wait(hr_server *srv, uint64_t n, uint64_t ns)
{
	struct timespec ts;
	hr_deadline(CLOCK_REALTIME, ns, &ts);
	int rc = 0;
	pthread_mutex_lock(&srv->flush_mu);
	while (srv->chore_rounds < n)
		if (pthread_cond_timedwait(&srv->chore_done, &srv->flush_mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&srv->flush_mu);
	return rc;
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

/* A WAL segment closed after a failed write or sync is kept until every
 * edit it held is in a store file: in os mode an acknowledged edit may be
 * there only in the page cache of a file whose sync failed, and its
 * memstore is the one good copy. So flush every region with an edit at or
 * below the highest seq of a failed segment; a flush that fails (a full
 * disk) is queued again at the next tick. */
static void flush_failed_segments(hr_server *srv, const hr_wal_seg *segs, size_t n)
{
	uint64_t fmax = 0;
	for (size_t i = 0; i < n; i++)
		if (segs[i].err && segs[i].max_seq > fmax)
			fmax = segs[i].max_seq;
	if (!fmax)
		return;
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables; i++)
		for (size_t j = 0; j < srv->tables[i]->nregions; j++) {
			hr_region *r = srv->tables[i]->regions[j];
			if (atomic_load(&r->state) == HR_REGION_OPEN && region_min_unflushed(r) <= fmax)
				enqueue(srv, r);
		}
	pthread_rwlock_unlock(&srv->map_lock);
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
			if (atomic_load(&r->flush_failures) && !backing_off(srv, r)) {
				enqueue(srv, r); /* retry a failed flush */
				continue;
			}
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
	/* a failed current segment is left even when nobody writes, so that
	 * its edits get flushed and it can go */
	hr_wal_recover(srv->wal);
	hr_wal_seg *segs = NULL;
	size_t nseg = 0;
	if (hr_wal_segments(srv->wal, &segs, &nseg) == 0)
		flush_failed_segments(srv, segs, nseg);
	if (nseg > srv->cfg.max_segments) {
		hr_region *pin = NULL;
		uint64_t off_min;
		uint64_t min = min_unflushed(srv, &pin, &off_min);
		int64_t now_ms = hr_now_ms();
		if (off_min <= min && now_ms - srv->offline_wal_warn_ms >= 60000) {
			srv->offline_wal_warn_ms = now_ms;
			hr_log_warn("flush", "%zu WAL segments (max %u): an OFFLINE region keeps those "
				    "with its unflushed edits (from seq %" PRIu64 ") until it is served "
				    "again", nseg, srv->cfg.max_segments, off_min);
		}
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
		hr_deadline(CLOCK_REALTIME, 200 * 1000000ull, &ts);
		pthread_cond_timedwait(&srv->chore_cond, &srv->flush_mu, &ts);
		if (srv->stopping)
			break;
		pthread_mutex_unlock(&srv->flush_mu);
		chore_tick(srv);
		hr_scan_lease_tick(srv);
		split_tick(srv);
		pthread_mutex_lock(&srv->flush_mu);
		srv->chore_rounds++;
		pthread_cond_broadcast(&srv->chore_done);
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
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
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
