/* pool.c — the compaction threads: two pools with their queues, requests
 * after flushes, the periodic major check, write pacing, and the admin
 * call hr_compact (contract in hr_compact.h and hregionfs.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compact_int.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

int hr_compact_stopping(hr_server *srv)
{
	return srv->compactor && atomic_load(&srv->compactor->stopping);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec d = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&d, NULL);
}

int hr_compact_pace(hr_server *srv, uint64_t bytes)
{
	hr_compactor *cm = srv->compactor;
	if (!cm || !cm->limit_bps || !bytes)
		return 0;
	/* One schedule shared by every compaction: each write reserves its
	 * share of time after the previous one's and sleeps until it ends. */
	pthread_mutex_lock(&cm->pace_mu);
	uint64_t now = hr_mono_ns();
	uint64_t start = cm->pace_next_ns > now ? cm->pace_next_ns : now;
	uint64_t until = start + (uint64_t)((double)bytes * 1e9 / (double)cm->limit_bps);
	cm->pace_next_ns = until;
	pthread_mutex_unlock(&cm->pace_mu);
	for (now = hr_mono_ns(); now < until; now = hr_mono_ns()) {
		if (atomic_load(&cm->stopping))
			return -ECANCELED;
		uint64_t d = until - now;
		sleep_ns(d < 100000000ull ? d : 100000000ull);
	}
	return 0;
}

/* ---- queues ------------------------------------------------------------- */

/* mu held. A store is queued once; a major request upgrades a minor one. */
static void enqueue_locked(hr_compactor *cm, hr_region *r, hr_store *st, int mode, int pool)
{
	for (int p = 0; p < 2; p++)
		for (size_t i = 0; i < cm->q[p].len; i++)
			if (cm->q[p].v[i].st == st) {
				if (mode == HR_COMPACT_MAJOR)
					cm->q[p].v[i].mode = mode;
				return;
			}
	compact_queue *q = &cm->q[pool];
	if (q->len == q->cap) {
		size_t c = q->cap ? q->cap * 2 : 16;
		compact_req *n = realloc(q->v, c * sizeof(*n));
		if (!n) {
			hr_log_warn("compact", "region %" PRIu64 ": out of memory queueing a compaction",
				    r->id);
			return;
		}
		q->v = n;
		q->cap = c;
	}
	hr_region_ref(r);
	q->v[q->len++] = (compact_req){.r = r, .st = st, .mode = mode};
	pthread_cond_signal(&cm->work[pool]);
}

/* The bytes a request would compact now, 0 if nothing qualifies. */
static uint64_t request_bytes(hr_store *st, int mode, const hr_compact_params *p)
{
	uint64_t bytes = 0;
	pthread_mutex_lock(&st->mu);
	uint32_t n = st->nfiles;
	uint64_t *sizes = malloc((n ? n : 1) * sizeof(*sizes));
	if (sizes)
		for (uint32_t i = 0; i < n; i++)
			sizes[i] = hr_sfile_get_info(st->files[n - 1 - i])->file_size;
	pthread_mutex_unlock(&st->mu);
	if (!sizes || n == 0) {
		free(sizes);
		return 0;
	}
	uint32_t s = 0, k = 0;
	if (mode == HR_COMPACT_MAJOR) {
		k = n;
	} else if (!hr_compact_select(sizes, n, p, &s, &k)) {
		k = 0;
	}
	for (uint32_t i = s; i < s + k; i++)
		bytes += sizes[i] ? sizes[i] : 1;
	free(sizes);
	return bytes;
}

static void request_store(hr_server *srv, hr_region *r, hr_store *st, int mode)
{
	hr_compactor *cm = srv->compactor;
	hr_compact_params p;
	/* a running compaction looks again when it is done */
	if (!cm || atomic_load(&st->compacting))
		return;
	hr_compact_params_from_config(&srv->cfg, &p);
	uint64_t bytes = request_bytes(st, mode, &p);
	if (!bytes)
		return;
	int pool = bytes > srv->cfg.compact_throttle_size ? POOL_LARGE : POOL_SMALL;
	pthread_mutex_lock(&cm->mu);
	if (!atomic_load(&cm->stopping))
		enqueue_locked(cm, r, st, mode, pool);
	pthread_mutex_unlock(&cm->mu);
}

void hr_compact_request(hr_server *srv, hr_region *r, int mode)
{
	if (!srv->compactor || atomic_load(&r->state) != HR_REGION_OPEN)
		return;
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned i = 0; i < ns; i++)
		request_store(srv, r, r->stores[i], mode);
}

uint32_t hr_compact_pending(hr_server *srv)
{
	hr_compactor *cm = srv->compactor;
	if (!cm)
		return 0;
	pthread_mutex_lock(&cm->mu);
	uint32_t n = (uint32_t)(cm->q[0].len + cm->q[1].len) + cm->running;
	pthread_mutex_unlock(&cm->mu);
	return n;
}

int hr_compact_wait_idle(hr_server *srv, uint64_t min_done, uint64_t ns)
{
	hr_compactor *cm = srv->compactor;
	if (!cm)
		return atomic_load(&srv->st.compactions) >= min_done ? 0 : -ETIMEDOUT;
	struct timespec ts;
	hr_deadline(CLOCK_REALTIME, ns, &ts);
	int rc = 0;
	pthread_mutex_lock(&cm->mu);
	while (cm->q[0].len + cm->q[1].len + cm->running > 0 ||
	       atomic_load(&srv->st.compactions) < min_done)
		if (pthread_cond_timedwait(&cm->done, &cm->mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&cm->mu);
	return rc;
}

uint64_t hr_compact_major_ticks(hr_server *srv)
{
	hr_compactor *cm = srv->compactor;
	if (!cm)
		return 0;
	pthread_mutex_lock(&cm->mu);
	uint64_t n = cm->major_ticks;
	pthread_mutex_unlock(&cm->mu);
	return n;
}

int hr_compact_wait_ticks(hr_server *srv, uint64_t ticks, uint64_t ns)
{
	hr_compactor *cm = srv->compactor;
	if (!cm)
		return -ETIMEDOUT;
	struct timespec ts;
	hr_deadline(CLOCK_REALTIME, ns, &ts);
	int rc = 0;
	pthread_mutex_lock(&cm->mu);
	while (cm->major_ticks < ticks)
		if (pthread_cond_timedwait(&cm->ticked, &cm->mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&cm->mu);
	return rc;
}

/* ---- periodic major compactions ------------------------------------------ */

/* This store's period: the interval +-50% (HBase's jitter), fixed per store
 * by a hash so that stores written together do not compact together. */
static uint64_t major_period(hr_store *st, uint64_t interval)
{
	uint64_t h = st->region->id * 0x9e3779b97f4a7c15ull;
	for (const char *p = st->fam.name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h ^= h >> 29;
	double frac = (double)(h % 1000000) / 1e6; /* [0, 1) */
	return (uint64_t)((double)interval * (0.5 + frac));
}

/* Due when its oldest file is older than its period. A store that is one
 * file without TTL and without deletes (or whose family keeps deleted
 * cells, which a major compaction keeps) has nothing it would drop but
 * surplus versions, which reads do not show anyway. */
static int major_due(hr_store *st, uint64_t interval, int64_t now_ms)
{
	char path[PATH_MAX];
	pthread_mutex_lock(&st->mu);
	uint32_t n = st->nfiles;
	/* under st->mu: the settings as alter leaves them */
	int idle = n == 0 || (n == 1 && st->fam.ttl_ms <= 0 &&
			      (hr_sfile_get_info(st->files[0])->delete_count == 0 ||
			       st->fam.keep_deleted_cells));
	if (!idle)
		snprintf(path, sizeof(path), "%s", hr_sfile_path(st->files[n - 1]));
	pthread_mutex_unlock(&st->mu);
	hr_io_attr sb;
	if (idle || hr_io_stat(st->region->srv->io, path, &sb) < 0)
		return 0;
	return now_ms - sb.mtime_ms >= (int64_t)major_period(st, interval);
}

/* Queues the due stores of at most one region per call (the caller ticks
 * every second), resuming after the last region looked at. */
static void major_tick(hr_compactor *cm)
{
	hr_server *srv = cm->srv;
	uint64_t interval = srv->cfg.major_interval_ms;
	int64_t now = hr_now_ms();
	hr_region **rs = NULL;
	size_t n = 0, cap = 0;
	pthread_rwlock_rdlock(&srv->map_lock);
	for (size_t i = 0; i < srv->ntables; i++)
		for (size_t j = 0; j < srv->tables[i]->nregions; j++) {
			if (n == cap) {
				size_t c = cap ? cap * 2 : 16;
				hr_region **nr = realloc(rs, c * sizeof(*nr));
				if (!nr)
					goto collected;
				rs = nr;
				cap = c;
			}
			rs[n] = srv->tables[i]->regions[j];
			hr_region_ref(rs[n++]);
		}
collected:
	pthread_rwlock_unlock(&srv->map_lock);
	for (size_t k = 0; k < n; k++) {
		size_t idx = (cm->major_cursor + k) % n;
		hr_region *r = rs[idx];
		int queued = 0;
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned s = 0; s < ns && atomic_load(&r->state) == HR_REGION_OPEN; s++) {
			if (atomic_load(&r->stores[s]->compacting) ||
			    !major_due(r->stores[s], interval, now))
				continue;
			request_store(srv, r, r->stores[s], HR_COMPACT_MAJOR);
			queued = 1;
		}
		if (queued) {
			cm->major_cursor = idx + 1;
			break;
		}
	}
	for (size_t k = 0; k < n; k++)
		hr_region_unref(rs[k]);
	free(rs);
}

/* ---- threads ---------------------------------------------------------------- */

static void *compactor_main(void *arg)
{
	compact_thread *th = arg;
	hr_compactor *cm = th->cm;
	hr_server *srv = cm->srv;
	compact_queue *q = &cm->q[th->pool];
	int ticker = th->pool == POOL_SMALL && th->index == 0 && srv->cfg.major_interval_ms;
	pthread_mutex_lock(&cm->mu);
	for (;;) {
		while (!atomic_load(&cm->stopping) && q->len == 0) {
			if (!ticker) {
				pthread_cond_wait(&cm->work[th->pool], &cm->mu);
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&cm->work[th->pool], &cm->mu, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&cm->mu);
				major_tick(cm);
				pthread_mutex_lock(&cm->mu);
				cm->major_ticks++;
				pthread_cond_broadcast(&cm->ticked);
			}
		}
		if (atomic_load(&cm->stopping))
			break;
		compact_req req = q->v[0];
		memmove(q->v, q->v + 1, (q->len - 1) * sizeof(*q->v));
		q->len--;
		cm->running++;
		pthread_mutex_unlock(&cm->mu);
		int rc = hr_compact_store(req.st, req.mode, NULL);
		/* more may qualify (a stuck store, flushes meanwhile) */
		if (rc == 1)
			request_store(srv, req.r, req.st, HR_COMPACT_MINOR);
		hr_region_unref(req.r);
		pthread_mutex_lock(&cm->mu);
		cm->running--;
		pthread_cond_broadcast(&cm->done);
	}
	pthread_mutex_unlock(&cm->mu);
	return NULL;
}

int hr_compact_start(hr_server *srv)
{
	hr_compactor *cm = calloc(1, sizeof(*cm));
	if (!cm)
		return -ENOMEM;
	cm->srv = srv;
	pthread_mutex_init(&cm->mu, NULL);
	pthread_mutex_init(&cm->pace_mu, NULL);
	pthread_cond_init(&cm->work[0], NULL);
	pthread_cond_init(&cm->work[1], NULL);
	pthread_cond_init(&cm->done, NULL);
	pthread_cond_init(&cm->ticked, NULL);
	cm->limit_bps = (uint64_t)srv->cfg.compact_throughput_mb << 20;
	uint32_t ns = srv->cfg.compact_threads_small ? srv->cfg.compact_threads_small : 1;
	uint32_t nl = srv->cfg.compact_threads_large ? srv->cfg.compact_threads_large : 1;
	cm->threads = calloc(ns + nl, sizeof(*cm->threads));
	srv->compactor = cm;
	if (!cm->threads) {
		hr_compact_stop(srv);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ns + nl; i++) {
		compact_thread *th = &cm->threads[i];
		th->cm = cm;
		th->pool = i < ns ? POOL_SMALL : POOL_LARGE;
		th->index = (int)(i < ns ? i : i - ns);
		if (pthread_create(&th->tid, NULL, compactor_main, th) != 0) {
			hr_log_error("compact", "cannot start compaction threads");
			hr_compact_stop(srv);
			return -EAGAIN;
		}
		cm->nthreads++;
	}
	return 0;
}

void hr_compact_stop(hr_server *srv)
{
	hr_compactor *cm = srv->compactor;
	if (!cm)
		return;
	pthread_mutex_lock(&cm->mu);
	atomic_store(&cm->stopping, 1);
	pthread_cond_broadcast(&cm->work[0]);
	pthread_cond_broadcast(&cm->work[1]);
	pthread_mutex_unlock(&cm->mu);
	for (uint32_t i = 0; i < cm->nthreads; i++)
		pthread_join(cm->threads[i].tid, NULL);
	for (int p = 0; p < 2; p++) {
		for (size_t i = 0; i < cm->q[p].len; i++)
			hr_region_unref(cm->q[p].v[i].r);
		free(cm->q[p].v);
	}
	free(cm->threads);
	pthread_mutex_destroy(&cm->mu);
	pthread_mutex_destroy(&cm->pace_mu);
	pthread_cond_destroy(&cm->work[0]);
	pthread_cond_destroy(&cm->work[1]);
	pthread_cond_destroy(&cm->done);
	pthread_cond_destroy(&cm->ticked);
	srv->compactor = NULL;
	free(cm);
}

/* ---- admin -------------------------------------------------------------------- */

static void wait_done(hr_server *srv)
{
	hr_compactor *cm = srv->compactor;
	if (!cm) {
		sleep_ns(10000000ull);
		return;
	}
	struct timespec ts;
	hr_deadline(CLOCK_REALTIME, 50 * 1000000ull, &ts);
	pthread_mutex_lock(&cm->mu);
	pthread_cond_timedwait(&cm->done, &cm->mu, &ts);
	pthread_mutex_unlock(&cm->mu);
}

/* One store, now: waits out a background compaction of it first. A minor
 * request repeats while the policy finds work (at most a few rounds). */
static int compact_now(hr_server *srv, hr_store *st, int major)
{
	for (int round = 0; round < 64; round++) {
		int rc;
		while ((rc = hr_compact_store(st, major ? HR_COMPACT_MAJOR : HR_COMPACT_MINOR, NULL)) ==
		       -EBUSY)
			wait_done(srv);
		if (rc == -ECANCELED)
			return 0; /* the region went away meanwhile */
		if (rc <= 0 || major)
			return rc;
	}
	return 0;
}

int hr_compact(hr_server *srv, const char *table, int major)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	hr_region **rs;
	size_t n;
	int rc = hr_server_regions(srv, table, &rs, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned ns = atomic_load(&rs[i]->nstores);
		for (unsigned s = 0; s < ns && rc == 0; s++) {
			int e = compact_now(srv, rs[i]->stores[s], major);
			if (e < 0)
				rc = e;
		}
	}
	hr_regions_release(rs, n);
	return rc;
}
