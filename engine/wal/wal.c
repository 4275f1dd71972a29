/* wal.c — group-committed appends, rolls, background sync, purge
 * (contract and locking in hr_wal.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_config.h"
#include "hr_log.h"
#include "wal_seg.h"

#define WAL_BUF_INIT (256u << 10)
#define WAL_BUF_KEEP (4u << 20)	/* a buffer grown past this shrinks after its batch */
#define WAL_ROLL_RETRY_NS 1000000000ull
#define WAL_DEFAULT_SEGMENT (64ull << 20)

/* Positions below are logical: bytes of framed records since open, across
 * segments. lstart/lend locate a closed segment's records in that space. */
typedef struct wal_closed {
	uint64_t id, max_seq, bytes, lstart, lend;
} wal_closed;

struct hr_wal {
	pthread_mutex_t mu;
	/* Targeted wake-ups (a broadcast to every waiter per batch costs a
	 * context switch each on a small machine): waiters whose record is in
	 * buffer generation g sleep on cv_gen[g & 1], broadcast when that batch
	 * is done; one of the next generation is signalled to lead. Only two
	 * generations can have waiters (the one being written, the one filling).
	 * cv_io: io_busy or sync_busy released, synced advanced. */
	pthread_cond_t cv_gen[2];
	pthread_cond_t cv_io;
	pthread_cond_t cv_lead;	/* a gathering leader: enough records arrived */
	pthread_cond_t bg_cv;	/* close wakes the sync thread (CLOCK_MONOTONIC) */
	pthread_mutex_t purge_mu; /* one purge at a time */

	hr_io *io;
	char *dir;
	uint64_t segment_size;
	int fsync_mode;
	uint32_t sync_interval_ms;
	int (*on_new_segment)(void *, uint64_t);
	void *ctx;

	/* double buffer: appenders fill buf[fill]; the leader owns the other */
	uint8_t *buf[2];
	size_t cap[2];
	int fill;
	uint64_t fill_gen;	/* generation of the fill buffer's records */
	size_t fill_len;
	uint64_t fill_max_seq;
	uint64_t fill_count;
	uint64_t fill_sync_count; /* records in the fill buffer that wait for a sync */

	uint64_t appended;	/* end of the last record buffered */
	uint64_t written;	/* everything below is in a segment file */
	uint64_t synced;	/* everything below is fdatasynced */
	uint64_t sync_req;	/* someone waits for synced >= this */
	int io_busy;		/* a leader is writing, syncing or rolling */
	/* Adaptive gathering for synced batches. Left alone, N synced writers
	 * settle into two alternating cohorts of N/2 (one syncs while the other
	 * refills), capping group commit at N/2 records per fdatasync. So the
	 * leader of a synced batch waits, at most half an fdatasync, until the
	 * batch holds as many records as the largest recent batch (lead_target);
	 * a timeout means fewer writers now, and lowers the target. */
	int gathering;
	uint64_t lead_target;
	uint64_t sync_ns_avg;	/* moving average of fdatasync time */
	int err;		/* sticky: see hr_wal.h */

	int fd;			/* current segment, written at offset seg_bytes */
	uint64_t seg_id, seg_bytes, seg_max_seq, seg_lstart;
	uint64_t next_id;
	uint64_t roll_retry_ns;	/* after a failed roll, not before this */

	/* The one thread fdatasyncing the current segment (a leader, a roll or
	 * the sync thread). Linux reports a write-back error once per open
	 * file: two concurrent syncs of one descriptor could split an error
	 * into one failure and one success, and the success would tell its
	 * waiters "durable". */
	int sync_busy;
	int bg_stop, bg_started;
	pthread_t bg;

	wal_closed *closed;	/* ascending id */
	size_t nclosed, capclosed;

	int nwaiting;		/* appenders and syncers waiting for their I/O */
	uint64_t st_appends, st_writes, st_syncs, st_bytes;
};

static void wal_fail(hr_wal *w, int rc, const char *what, uint64_t off)
{
	if (!w->err)
		w->err = rc;
	hr_log_error("wal", "segment %016llx.wal in %s offset %llu: %s failed: %s; the WAL "
		     "refuses further appends until reopened",
		     (unsigned long long)w->seg_id, w->dir, (unsigned long long)off, what,
		     strerror(-rc));
	pthread_cond_broadcast(&w->cv_gen[0]);
	pthread_cond_broadcast(&w->cv_gen[1]);
	pthread_cond_broadcast(&w->cv_io);
	pthread_cond_broadcast(&w->cv_lead);
}

static int wal_closed_reserve(hr_wal *w)
{
	if (w->nclosed < w->capclosed)
		return 0;
	size_t nc = w->capclosed ? w->capclosed * 2 : 16;
	wal_closed *n = realloc(w->closed, nc * sizeof(*n));
	if (!n)
		return -ENOMEM;
	w->closed = n;
	w->capclosed = nc;
	return 0;
}

/* Which segment holds the written record starting at logical pos. */
static uint64_t wal_seg_of(hr_wal *w, uint64_t pos)
{
	if (pos >= w->seg_lstart)
		return w->seg_id;
	for (size_t i = w->nclosed; i-- > 0;) {
		const wal_closed *c = &w->closed[i];
		if (pos >= c->lstart && pos < c->lend)
			return c->id;
	}
	return 0; /* already purged: the caller's seq bookkeeping is off */
}

static int wal_new_segment(hr_wal *w, uint64_t id, int *fd)
{
	if (w->on_new_segment) {
		int rc = w->on_new_segment(w->ctx, id);
		if (rc) {
			hr_log_error("wal", "segment %016llx.wal in %s: recording it failed (%d)",
				     (unsigned long long)id, w->dir, rc);
			return rc < 0 ? rc : -EIO;
		}
	}
	return hr_wal_seg_create(w->io, w->dir, id, NULL, 0, fd);
}

/* mu held: waits until no other thread syncs the current segment and
 * takes that role. 0, or the sticky error (then nothing is taken). */
static int wal_sync_take(hr_wal *w)
{
	while (w->sync_busy && !w->err)
		pthread_cond_wait(&w->cv_io, &w->mu);
	if (w->err)
		return w->err;
	w->sync_busy = 1;
	return 0;
}

static void wal_sync_give(hr_wal *w)
{
	w->sync_busy = 0;
	pthread_cond_broadcast(&w->cv_io);
}

/* mu held, sync role taken: fdatasyncs the current segment (mu dropped
 * meanwhile) and, on success, marks everything written before the call
 * durable. A failure is sticky: see hr_wal.h. */
static int wal_sync_locked(hr_wal *w, const char *what)
{
	uint64_t target = w->written;
	int fd = w->fd;
	pthread_mutex_unlock(&w->mu);
	uint64_t t0 = hr_mono_ns();
	int rc = hr_io_sync(w->io, fd, 1);
	uint64_t dt = hr_mono_ns() - t0;
	pthread_mutex_lock(&w->mu);
	w->st_syncs++;
	w->sync_ns_avg = w->sync_ns_avg ? (w->sync_ns_avg * 7 + dt) / 8 : dt;
	if (rc) {
		/* after a failed fdatasync the dirty pages may be gone and the
		 * error cleared, so a retry could "succeed": never trust this
		 * file's page cache again */
		wal_fail(w, rc, what, w->seg_bytes);
		return rc;
	}
	if (target > w->synced)
		w->synced = target;
	pthread_cond_broadcast(&w->cv_io);
	return 0;
}

/* mu held: one sync of the current segment, as the only syncer. */
static int wal_sync(hr_wal *w, const char *what)
{
	int rc = wal_sync_take(w);
	if (rc)
		return rc;
	rc = wal_sync_locked(w, what);
	wal_sync_give(w);
	return rc;
}

/* Leader only (mu and io_busy held; mu dropped during the I/O). */
static void wal_write_batch(hr_wal *w, int force_sync)
{
	int b = w->fill;
	size_t len = w->fill_len;
	uint64_t end = w->appended, max_seq = w->fill_max_seq, count = w->fill_count;
	uint64_t gen = w->fill_gen++, sync_count = w->fill_sync_count;
	w->fill_sync_count = 0;
	w->fill ^= 1;
	w->fill_len = 0;
	w->fill_max_seq = 0;
	w->fill_count = 0;
	int do_sync = force_sync || w->sync_req > w->synced;
	int fd = w->fd;
	uint64_t off = w->seg_bytes;

	pthread_mutex_unlock(&w->mu);
	int wrc = hr_io_pwrite_all(w->io, fd, w->buf[b], len, off);
	pthread_mutex_lock(&w->mu);

	if (do_sync && sync_count > w->lead_target)
		w->lead_target = sync_count;
	if (w->cap[b] > WAL_BUF_KEEP) {
		uint8_t *nb = realloc(w->buf[b], WAL_BUF_INIT);
		if (nb) {
			w->buf[b] = nb;
			w->cap[b] = WAL_BUF_INIT;
		}
	}
	if (wrc) {
		wal_fail(w, wrc, "write", off);
		return;
	}
	w->seg_bytes += len;
	w->written = end;
	if (max_seq > w->seg_max_seq)
		w->seg_max_seq = max_seq;
	w->st_writes++;
	w->st_appends += count;
	w->st_bytes += len;
	/* the batch's plain (os mode) waiters are done once it is written */
	pthread_cond_broadcast(&w->cv_gen[gen & 1]);
	if (do_sync)
		wal_sync(w, "fdatasync");
}

/* Leader only: fdatasync data written earlier without a sync. */
static void wal_sync_written(hr_wal *w) { wal_sync(w, "fdatasync"); }

/* Leader only, with nothing buffered for the old segment in flight. The
 * old segment is synced BEFORE the new one exists, so after a crash only
 * the newest segment can end in a torn record. The sync role is held until
 * the descriptor is swapped, so nobody syncs the old one after that. */
static int wal_roll_locked(hr_wal *w)
{
	int rc = wal_closed_reserve(w);
	if (rc || (rc = wal_sync_take(w)) != 0)
		return rc;
	if ((rc = wal_sync_locked(w, "fdatasync before roll")) != 0) {
		wal_sync_give(w);
		return rc;
	}
	uint64_t id = w->next_id;
	int old = w->fd, nfd = -1;
	pthread_mutex_unlock(&w->mu);
	rc = wal_new_segment(w, id, &nfd);
	pthread_mutex_lock(&w->mu);
	if (rc) {
		wal_sync_give(w);
		w->roll_retry_ns = hr_mono_ns() + WAL_ROLL_RETRY_NS;
		hr_log_warn("wal", "cannot start segment %016llx.wal: %s; still writing %016llx.wal",
			    (unsigned long long)id, strerror(-rc), (unsigned long long)w->seg_id);
		return rc;
	}
	w->next_id++;
	w->closed[w->nclosed++] = (wal_closed){.id = w->seg_id,
					       .max_seq = w->seg_max_seq,
					       .bytes = w->seg_bytes,
					       .lstart = w->seg_lstart,
					       .lend = w->written};
	/* every written byte lives in the old segment or an earlier one, and
	 * each was synced when it was closed */
	w->synced = w->written;
	w->fd = nfd;
	w->seg_id = id;
	w->seg_bytes = HR_WAL_HDR_LEN;
	w->seg_max_seq = 0;
	w->seg_lstart = w->written;
	wal_sync_give(w);
	hr_io_close(w->io, old);
	hr_log_debug("wal", "rolled to %016llx.wal", (unsigned long long)id);
	return 0;
}

static void wal_release(hr_wal *w)
{
	w->io_busy = 0;
	pthread_cond_broadcast(&w->cv_io);
	if (w->fill_len)
		pthread_cond_signal(&w->cv_gen[w->fill_gen & 1]);
}

/* Leader of a synced batch: lets the batch fill up (see lead_target). */
static void wal_gather(hr_wal *w)
{
	uint64_t wait_ns = w->sync_ns_avg / 2;
	if (wait_ns > 2000000)
		wait_ns = 2000000;
	if (!wait_ns)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + wait_ns;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	w->gathering = 1;
	while (w->fill_sync_count < w->lead_target && !w->err) {
		if (pthread_cond_timedwait(&w->cv_lead, &w->mu, &ts) == ETIMEDOUT) {
			w->lead_target = w->fill_sync_count ? w->fill_sync_count : 1;
			break;
		}
	}
	w->gathering = 0;
}

/* Called with mu held and io_busy clear: does one batch, rolls if due. */
static void wal_lead(hr_wal *w)
{
	w->io_busy = 1;
	if (w->fill_sync_count && w->fill_sync_count < w->lead_target)
		wal_gather(w);
	if (w->fill_len && !w->err)
		wal_write_batch(w, 0);
	else if (w->sync_req > w->synced && w->written > w->synced && !w->err)
		wal_sync_written(w);
	if (!w->err && w->seg_bytes >= w->segment_size && hr_mono_ns() >= w->roll_retry_ns)
		wal_roll_locked(w);
	wal_release(w);
}

/* mu held. Success as soon as the position is covered, even if a later
 * batch failed: this record's I/O did succeed. */
static int wal_wait(hr_wal *w, uint64_t end, int need_sync, uint64_t gen)
{
	for (;;) {
		if (w->written >= end && (!need_sync || w->synced >= end))
			return 0;
		if (w->err)
			return w->err;
		if (!w->io_busy)
			wal_lead(w);
		else if (w->written < end)
			pthread_cond_wait(&w->cv_gen[gen & 1], &w->mu);
		else
			pthread_cond_wait(&w->cv_io, &w->mu);
	}
}

int hr_wal_append(hr_wal *w, const void *payload, size_t len, uint64_t seq, int sync,
		  uint64_t *seg_out)
{
	if (len > HR_WAL_MAX_PAYLOAD)
		return -EFBIG;
	uint8_t hdr[HR_WAL_REC_HDR_LEN];
	hr_put32(hdr, (uint32_t)len);
	hr_put64(hdr + 4, seq);
	uint32_t crc = hr_crc32c(0, hdr, 12);
	hr_put32(hdr + 12, hr_crc32c(crc, payload, len));
	size_t rec = HR_WAL_REC_HDR_LEN + len;
	int need_sync = sync || w->fsync_mode;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (w->err) {
		rc = w->err;
		goto out;
	}
	int f = w->fill;
	if (w->fill_len + rec > w->cap[f]) {
		size_t nc = w->cap[f] ? w->cap[f] : WAL_BUF_INIT;
		while (nc < w->fill_len + rec)
			nc *= 2;
		uint8_t *nb = realloc(w->buf[f], nc);
		if (!nb) {
			rc = -ENOMEM;
			goto out;
		}
		w->buf[f] = nb;
		w->cap[f] = nc;
	}
	memcpy(w->buf[f] + w->fill_len, hdr, HR_WAL_REC_HDR_LEN);
	if (len)
		memcpy(w->buf[f] + w->fill_len + HR_WAL_REC_HDR_LEN, payload, len);
	w->fill_len += rec;
	if (seq > w->fill_max_seq)
		w->fill_max_seq = seq;
	w->fill_count++;
	uint64_t start = w->appended;
	w->appended += rec;
	uint64_t end = w->appended;
	if (need_sync && w->sync_req < end)
		w->sync_req = end;
	if (need_sync && ++w->fill_sync_count >= w->lead_target && w->gathering)
		pthread_cond_signal(&w->cv_lead);
	w->nwaiting++;
	rc = wal_wait(w, end, need_sync, w->fill_gen);
	w->nwaiting--;
	if (!rc && seg_out)
		*seg_out = wal_seg_of(w, start);
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int hr_wal_sync(hr_wal *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t end = w->appended;
	if (w->sync_req < end)
		w->sync_req = end;
	/* the last record is in the fill buffer, or in the batch being written */
	w->nwaiting++;
	int rc = wal_wait(w, end, 1, w->fill_len ? w->fill_gen : w->fill_gen - 1);
	w->nwaiting--;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int hr_wal_roll(hr_wal *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->io_busy && !w->err)
		pthread_cond_wait(&w->cv_io, &w->mu);
	int rc = w->err;
	if (!rc) {
		w->io_busy = 1;
		if (w->fill_len)
			wal_write_batch(w, 0);
		rc = w->err ? w->err : wal_roll_locked(w);
		wal_release(w);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* os mode: bounds what a power loss can take to sync_interval_ms. */
static void *wal_bg_main(void *arg)
{
	hr_wal *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->bg_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)w->sync_interval_ms * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&w->bg_cv, &w->mu, &ts);
		if (w->bg_stop)
			break;
		if (w->err || w->written <= w->synced)
			continue;
		wal_sync(w, "background fdatasync");
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void wal_free(hr_wal *w)
{
	if (w->fd >= 0)
		hr_io_close(w->io, w->fd);
	pthread_cond_destroy(&w->cv_gen[0]);
	pthread_cond_destroy(&w->cv_gen[1]);
	pthread_cond_destroy(&w->cv_io);
	pthread_cond_destroy(&w->cv_lead);
	pthread_cond_destroy(&w->bg_cv);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->purge_mu);
	free(w->buf[0]);
	free(w->buf[1]);
	free(w->closed);
	free(w->dir);
	free(w);
}

int hr_wal_open(const hr_wal_opts *o, hr_wal **out)
{
	*out = NULL;
	if (!o || !o->dir || !*o->dir)
		return -EINVAL;
	hr_wal *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&w->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&w->purge_mu, NULL);
	pthread_cond_init(&w->cv_gen[0], NULL);
	pthread_cond_init(&w->cv_gen[1], NULL);
	pthread_cond_init(&w->cv_io, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->bg_cv, &ca);
	pthread_cond_init(&w->cv_lead, &ca);
	pthread_condattr_destroy(&ca);
	w->fd = -1;
	w->lead_target = 1;
	w->segment_size = o->segment_size ? o->segment_size : WAL_DEFAULT_SEGMENT;
	w->fsync_mode = o->durability == HR_DURABILITY_FSYNC;
	w->sync_interval_ms = o->sync_interval_ms;
	w->on_new_segment = o->on_new_segment;
	w->ctx = o->ctx;
	w->io = o->io ? o->io : hr_io_posix();
	w->next_id = o->first_segment_id ? o->first_segment_id : 1;
	int rc = -ENOMEM;
	w->dir = strdup(o->dir);
	w->buf[0] = malloc(WAL_BUF_INIT);
	w->buf[1] = malloc(WAL_BUF_INIT);
	if (!w->dir || !w->buf[0] || !w->buf[1])
		goto fail;
	w->cap[0] = w->cap[1] = WAL_BUF_INIT;
	rc = hr_io_mkdirs(w->io, w->dir);
	if (rc) {
		hr_log_error("wal", "mkdir %s: %s", w->dir, strerror(-rc));
		goto fail;
	}
	hr_wal_seg_clean_tmp(w->io, w->dir);
	w->seg_id = w->next_id++;
	rc = wal_new_segment(w, w->seg_id, &w->fd);
	if (rc)
		goto fail;
	w->seg_bytes = HR_WAL_HDR_LEN;
	if (!w->fsync_mode && w->sync_interval_ms) {
		rc = -pthread_create(&w->bg, NULL, wal_bg_main, w);
		if (rc)
			goto fail;
		w->bg_started = 1;
	}
	*out = w;
	return 0;
fail:
	wal_free(w);
	return rc;
}

void hr_wal_close(hr_wal *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->bg_stop = 1;
	pthread_cond_signal(&w->bg_cv);
	pthread_mutex_unlock(&w->mu);
	if (w->bg_started)
		pthread_join(w->bg, NULL);
	pthread_mutex_lock(&w->mu);
	while (w->io_busy)
		pthread_cond_wait(&w->cv_io, &w->mu);
	w->io_busy = 1;
	if (!w->err && w->fill_len)
		wal_write_batch(w, 1);
	if (!w->err && w->written > w->synced)
		wal_sync_written(w);
	w->io_busy = 0;
	pthread_mutex_unlock(&w->mu);
	wal_free(w);
}

int hr_wal_segments(hr_wal *w, hr_wal_seg **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&w->mu);
	size_t cnt = w->nclosed;
	hr_wal_seg *v = cnt ? malloc(cnt * sizeof(*v)) : NULL;
	if (cnt && !v) {
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++)
		v[i] = (hr_wal_seg){w->closed[i].id, w->closed[i].max_seq, w->closed[i].bytes};
	pthread_mutex_unlock(&w->mu);
	*out = v;
	*n = cnt;
	return 0;
}

int hr_wal_adopt(hr_wal *w, uint64_t id, uint64_t max_seq, uint64_t bytes)
{
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	size_t i = 0;
	while (i < w->nclosed && w->closed[i].id < id)
		i++;
	if (id == w->seg_id || (i < w->nclosed && w->closed[i].id == id)) {
		rc = -EEXIST;
		goto out;
	}
	rc = wal_closed_reserve(w);
	if (rc)
		goto out;
	memmove(&w->closed[i + 1], &w->closed[i], (w->nclosed - i) * sizeof(w->closed[0]));
	/* lstart == lend == 0: no record of this process lives there */
	w->closed[i] = (wal_closed){.id = id, .max_seq = max_seq, .bytes = bytes};
	w->nclosed++;
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

static void wal_closed_remove(hr_wal *w, uint64_t id)
{
	for (size_t i = 0; i < w->nclosed; i++) {
		if (w->closed[i].id == id) {
			memmove(&w->closed[i], &w->closed[i + 1],
				(w->nclosed - i - 1) * sizeof(w->closed[0]));
			w->nclosed--;
			return;
		}
	}
}

int hr_wal_purge(hr_wal *w, uint64_t min_unflushed_seq, int (*on_delete)(void *, uint64_t),
		 void *ctx)
{
	pthread_mutex_lock(&w->purge_mu);
	pthread_mutex_lock(&w->mu);
	size_t cnt = 0;
	uint64_t *ids = w->nclosed ? malloc(w->nclosed * sizeof(*ids)) : NULL;
	if (w->nclosed && !ids) {
		pthread_mutex_unlock(&w->mu);
		pthread_mutex_unlock(&w->purge_mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w->nclosed; i++)
		if (w->closed[i].max_seq < min_unflushed_seq)
			ids[cnt++] = w->closed[i].id;
	pthread_mutex_unlock(&w->mu);

	int rc = 0, done = 0;
	for (size_t i = 0; i < cnt; i++) {
		char path[4096];
		if (on_delete && (rc = on_delete(ctx, ids[i])) != 0) {
			hr_log_error("wal", "segment %016llx.wal: dropping it from metadata failed "
				     "(%d); kept",
				     (unsigned long long)ids[i], rc);
			if (rc > 0)
				rc = -EIO;
			break;
		}
		pthread_mutex_lock(&w->mu);
		wal_closed_remove(w, ids[i]);
		pthread_mutex_unlock(&w->mu);
		/* from here a crash leaves an unreferenced file: a leftover */
		int urc = hr_wal_segment_path(w->dir, ids[i], path, sizeof(path));
		if (!urc && (urc = hr_io_unlink(w->io, path)) < 0 && urc != -ENOENT)
			hr_log_error("wal", "unlink %s: %s (left for the next open's cleanup)", path,
				     strerror(-urc));
		done++;
	}
	if (done) {
		int frc = hr_io_sync_dir(w->io, w->dir);
		if (frc)
			hr_log_warn("wal", "fsync of %s after purge: %s", w->dir, strerror(-frc));
	}
	free(ids);
	pthread_mutex_unlock(&w->purge_mu);
	return done ? done : rc;
}

void hr_wal_get_stats(hr_wal *w, hr_wal_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = (hr_wal_stats){.appends = w->st_appends,
			      .writes = w->st_writes,
			      .syncs = w->st_syncs,
			      .bytes = w->st_bytes,
			      .current_segment = w->seg_id,
			      .closed_segments = w->nclosed,
			      .waiting = (uint64_t)w->nwaiting};
	pthread_mutex_unlock(&w->mu);
}
