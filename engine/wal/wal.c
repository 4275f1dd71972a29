/* wal.c — group-committed appends, syncs, rolls, failures and the recovery
 * from them, the background sync thread, open and close (contract and
 * locking in hr_wal.h; state in wal_int.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_metrics.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_config.h"
#include "hr_log.h"
#include "wal_int.h"
#include "wal_seg.h"

#define WAL_BUF_INIT (256u << 10)
#define WAL_BUF_KEEP (4u << 20)	/* a buffer grown past this shrinks after its batch */
#define WAL_ROLL_RETRY_NS 1000000000ull
#define WAL_DEFAULT_SEGMENT (64ull << 20)

static void wal_broadcast_all(hr_wal *w)
{
	pthread_cond_broadcast(&w->cv_gen[0]);
	pthread_cond_broadcast(&w->cv_gen[1]);
	pthread_cond_broadcast(&w->cv_io);
	pthread_cond_broadcast(&w->cv_lead);
}

/* mu held: the current segment failed (see "Errors" in hr_wal.h). What was
 * written and synced before stays so; everything else appended so far
 * fails, and the fill buffer is dropped. The dropped records' seqs still
 * count in the segment's max_seq: their writers may wait for a verdict
 * until they wake, and purge keeps the segment while they are in flight. */
static void wal_fail(hr_wal *w, int rc, const char *what)
{
	w->st_errors++;
	if (w->cur_err) {
		hr_log_error("wal", "segment %016llx.wal in %s: %s failed too: %s",
			     (unsigned long long)w->seg_id, w->dir, what, strerror(-rc));
		return;
	}
	w->cur_err = rc;
	w->ok_written = w->written;
	w->ok_synced = w->synced;
	w->ok_bytes = w->seg_bytes;
	w->fail_upto = w->appended;
	if (w->fill_max_seq > w->seg_max_seq)
		w->seg_max_seq = w->fill_max_seq;
	w->fill_len = 0;
	w->fill_count = 0;
	w->fill_sync_count = 0;
	w->fill_max_seq = 0;
	hr_log_error("wal", "segment %016llx.wal in %s offset %llu: %s failed: %s; writes not "
		     "yet durable there fail, and writing moves on to a new segment",
		     (unsigned long long)w->seg_id, w->dir, (unsigned long long)w->seg_bytes, what,
		     strerror(-rc));
	wal_broadcast_all(w);
}

/* mu held: 1 = the record ending at logical end is done (written, and
 * synced if need_sync), < 0 = it failed, 0 = not yet. */
static int wal_verdict(const hr_wal *w, uint64_t end, int need_sync)
{
	uint64_t ok_w, ok_s;
	int err;
	if (end > w->seg_lstart) {
		if (!w->cur_err)
			return w->written >= end && (!need_sync || w->synced >= end);
		ok_w = w->ok_written;
		ok_s = w->ok_synced;
		err = w->cur_err;
	} else {
		const wal_closed *c = hr_wal_closed_find(w, end);
		/* a healthy closed segment was synced before its successor began;
		 * a purged one was flushed */
		if (!c || !c->err)
			return 1;
		ok_w = c->ok_written;
		ok_s = c->ok_synced;
		err = c->err;
	}
	if (end <= ok_w && (!need_sync || end <= ok_s))
		return 1;
	return err;
}

static int wal_new_segment(hr_wal *w, uint64_t id, const uint8_t *ctl, size_t ctl_len, int *fd)
{
	if (w->on_new_segment) {
		int rc = w->on_new_segment(w->ctx, id);
		if (rc)
			return rc < 0 ? rc : -EIO; /* the roll says so */
	}
	return hr_wal_seg_create(w->io, w->dir, id, ctl, ctl_len, fd);
}

/* mu held: waits until no other thread syncs the current segment and takes
 * that role. 0, or the current segment's error (then nothing is taken). */
static int wal_sync_take(hr_wal *w)
{
	while (w->sync_busy && !w->cur_err)
		pthread_cond_wait(&w->cv_io, &w->mu);
	if (w->cur_err)
		return w->cur_err;
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
 * durable. A failure fails the segment before the role is given back, so
 * no later sync of this descriptor can report its lost data as durable. */
static int wal_sync_locked(hr_wal *w, const char *what)
{
	uint64_t target = w->written;
	int fd = w->fd;
	pthread_mutex_unlock(&w->mu);
	uint64_t t0 = hr_mono_ns();
	int rc = hr_io_sync(w->io, fd, 1);
	uint64_t dt = hr_mono_ns() - t0;
	if (w->sync_hist)
		hr_series_observe_ns(w->sync_hist, dt);
	pthread_mutex_lock(&w->mu);
	w->st_syncs++;
	w->sync_ns_avg = w->sync_ns_avg ? (w->sync_ns_avg * 7 + dt) / 8 : dt;
	if (rc) {
		wal_fail(w, rc, what);
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
	if (max_seq > w->seg_max_seq)
		w->seg_max_seq = max_seq;
	if (wrc) {
		wal_fail(w, wrc, "write");
		return;
	}
	/* failed meanwhile (a background sync): these bytes lie past the
	 * segment's valid end, and their writers get its error */
	if (w->cur_err)
		return;
	w->seg_bytes += len;
	w->written = end;
	w->st_writes++;
	w->st_appends += count;
	w->st_bytes += len;
	/* plain (os mode) waiters are done once the batch is written: wake
	 * them now, unless every waiter of the batch waits for the sync too
	 * (fsync mode), which would wake each of them twice */
	int early = !do_sync || sync_count < count;
	if (early)
		pthread_cond_broadcast(&w->cv_gen[gen & 1]);
	if (do_sync) {
		wal_sync(w, "fdatasync");
		if (!early)
			pthread_cond_broadcast(&w->cv_gen[gen & 1]);
	}
}

/* Leader only, with nothing buffered for the old segment in flight. A
 * healthy segment is synced BEFORE its successor exists, so after a crash
 * only the newest segment can end in a torn record; a failed one is not
 * synced again (a retry could "succeed" for lost pages): it is closed with
 * its valid end, which the new segment's control record lists. The sync
 * role is held until the descriptor is swapped, so nobody syncs the old
 * one after that. */
static int wal_roll_locked(hr_wal *w)
{
	int rc = hr_wal_closed_reserve(w);
	if (rc)
		return rc;
	while (w->sync_busy)
		pthread_cond_wait(&w->cv_io, &w->mu);
	w->sync_busy = 1;
	if (!w->cur_err && w->written > w->synced)
		wal_sync_locked(w, "fdatasync before roll"); /* fails the segment on error */
	int failed = w->cur_err != 0;
	wal_closed c = {.id = w->seg_id,
			.max_seq = w->seg_max_seq,
			.bytes = failed ? w->ok_bytes : w->seg_bytes,
			.lstart = w->seg_lstart,
			.lend = failed ? w->fail_upto : w->written};
	if (failed) {
		c.err = w->cur_err;
		c.ok_written = w->ok_written;
		c.ok_synced = w->ok_synced;
		c.valid_end = w->ok_bytes;
	}
	uint8_t *ctl = NULL;
	size_t ctl_len = 0;
	if ((rc = hr_wal_ctl_build(w, failed ? &c : NULL, &ctl, &ctl_len)) != 0) {
		wal_sync_give(w);
		return rc;
	}
	uint64_t id = w->next_id;
	int old = w->fd, nfd = -1;
	pthread_mutex_unlock(&w->mu);
	rc = wal_new_segment(w, id, ctl, ctl_len, &nfd);
	free(ctl);
	pthread_mutex_lock(&w->mu);
	if (rc) {
		wal_sync_give(w);
		if (!failed)
			w->roll_retry_ns = hr_mono_ns() + WAL_ROLL_RETRY_NS;
		hr_log_warn("wal", "cannot start segment %016llx.wal: %s; %s %016llx.wal",
			    (unsigned long long)id, strerror(-rc),
			    failed ? "still no segment to write after the failure of"
				   : "still writing", (unsigned long long)w->seg_id);
		return rc;
	}
	w->next_id++;
	w->closed[w->nclosed++] = c;
	if (failed) {
		/* the dropped records never reach a file: skip their positions */
		w->written = w->synced = w->appended;
		w->cur_err = 0;
		w->st_recoveries++;
		hr_log_warn("wal", "segment %016llx.wal failed; writing continues in %016llx.wal, "
			    "and the failed one is kept until its edits are flushed",
			    (unsigned long long)c.id, (unsigned long long)id);
	} else {
		/* every written byte lives in the old segment or an earlier one,
		 * and each was synced when it was closed */
		w->synced = w->written;
	}
	w->fd = nfd;
	w->seg_id = id;
	w->seg_bytes = HR_WAL_HDR_LEN + ctl_len;
	w->seg_max_seq = 0;
	w->seg_lstart = w->written;
	wal_sync_give(w);
	pthread_mutex_unlock(&w->mu);
	/* a failed batch may have left part of itself after the valid end:
	 * give the space back (the control record already says where the
	 * records end, so this is only tidiness) */
	if (failed)
		hr_io_truncate(w->io, old, c.valid_end);
	hr_io_close(w->io, old);
	pthread_mutex_lock(&w->mu);
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

/* mu held: rolls away from a failed current segment, as the I/O owner.
 * 0 if the segment is healthy (again), else the roll's error. */
static int wal_recover_locked(hr_wal *w)
{
	while (w->io_busy && w->cur_err)
		pthread_cond_wait(&w->cv_io, &w->mu);
	if (!w->cur_err)
		return 0;
	w->io_busy = 1;
	int rc = wal_roll_locked(w);
	wal_release(w);
	return rc;
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
	hr_deadline(CLOCK_MONOTONIC, wait_ns, &ts);
	w->gathering = 1;
	while (w->fill_sync_count < w->lead_target && !w->cur_err) {
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
	if (w->cur_err)
		; /* failed meanwhile: the fill is gone, its waiters have their verdict */
	else if (w->fill_len)
		wal_write_batch(w, 0);
	else if (w->sync_req > w->synced && w->written > w->synced)
		wal_sync(w, "fdatasync");
	if (!w->cur_err && w->seg_bytes >= w->segment_size && hr_mono_ns() >= w->roll_retry_ns)
		wal_roll_locked(w);
	wal_release(w);
}

/* mu held: until the record ending at end has its verdict. */
static int wal_wait(hr_wal *w, uint64_t end, int need_sync, uint64_t gen)
{
	for (;;) {
		int v = wal_verdict(w, end, need_sync);
		if (v)
			return v > 0 ? 0 : v;
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
	if (seq == 0)
		return -EINVAL;
	uint8_t hdr[HR_WAL_REC_HDR_LEN];
	hr_put32(hdr, (uint32_t)len);
	hr_put64(hdr + 4, seq);
	uint32_t crc = hr_crc32c(0, hdr, 12);
	hr_put32(hdr + 12, hr_crc32c(crc, payload, len));
	size_t rec = HR_WAL_REC_HDR_LEN + len;
	int need_sync = sync || w->fsync_mode;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (w->cur_err && (rc = wal_recover_locked(w)) != 0)
		goto out;
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
		*seg_out = hr_wal_seg_of(w, start);
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
	if (!rc)
		rc = hr_wal_unsynced_failure(w);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int hr_wal_roll(hr_wal *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->io_busy)
		pthread_cond_wait(&w->cv_io, &w->mu);
	w->io_busy = 1;
	if (!w->cur_err && w->fill_len)
		wal_write_batch(w, 0);
	int rc = wal_roll_locked(w);
	wal_release(w);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int hr_wal_recover(hr_wal *w)
{
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	/* an append tries whenever it comes; this background path (the
	 * owner's periodic chore) at most once per WAL_ROLL_RETRY_NS, so a
	 * full disk is not hammered nor the log flooded */
	if (w->cur_err && hr_mono_ns() >= w->recover_retry_ns) {
		rc = wal_recover_locked(w);
		if (rc)
			w->recover_retry_ns = hr_mono_ns() + WAL_ROLL_RETRY_NS;
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
		hr_deadline(CLOCK_MONOTONIC, (uint64_t)w->sync_interval_ms * 1000000ull, &ts);
		pthread_cond_timedwait(&w->bg_cv, &w->mu, &ts);
		if (w->bg_stop)
			break;
		if (!w->cur_err && w->written > w->synced)
			wal_sync(w, "background fdatasync");
		w->st_bg_checks++;
		pthread_cond_broadcast(&w->bg_checked);
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
	pthread_cond_destroy(&w->bg_checked);
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
	pthread_cond_init(&w->bg_checked, &ca);
	pthread_cond_init(&w->cv_lead, &ca);
	pthread_condattr_destroy(&ca);
	w->fd = -1;
	w->lead_target = 1;
	w->segment_size = o->segment_size ? o->segment_size : WAL_DEFAULT_SEGMENT;
	w->fsync_mode = o->durability == HR_DURABILITY_FSYNC;
	w->sync_hist = o->sync_hist;
	w->sync_interval_ms = o->sync_interval_ms;
	w->on_new_segment = o->on_new_segment;
	w->ctx = o->ctx;
	w->io = o->io ? o->io : hr_io_posix();
	w->next_id = o->first_segment_id ? o->first_segment_id : 1;
	uint8_t *ctl = NULL;
	size_t ctl_len = 0;
	int rc = -ENOMEM;
	w->dir = strdup(o->dir);
	w->buf[0] = malloc(WAL_BUF_INIT);
	w->buf[1] = malloc(WAL_BUF_INIT);
	if (!w->dir || !w->buf[0] || !w->buf[1])
		goto fail;
	w->cap[0] = w->cap[1] = WAL_BUF_INIT;
	for (size_t i = 0; i < o->nadopt; i++) {
		const hr_wal_seg *s = &o->adopt[i];
		wal_closed c = {.id = s->id, .max_seq = s->max_seq, .bytes = s->bytes,
				.valid_end = s->valid_end};
		if ((rc = hr_wal_closed_insert(w, &c)) != 0)
			goto fail;
	}
	rc = hr_io_mkdirs(w->io, w->dir);
	if (rc) {
		hr_log_error("wal", "mkdir %s: %s", w->dir, strerror(-rc));
		goto fail;
	}
	hr_wal_seg_clean_tmp(w->io, w->dir);
	if ((rc = hr_wal_ctl_build(w, NULL, &ctl, &ctl_len)) != 0)
		goto fail;
	w->seg_id = w->next_id++;
	rc = wal_new_segment(w, w->seg_id, ctl, ctl_len, &w->fd);
	if (rc)
		goto fail;
	w->seg_bytes = HR_WAL_HDR_LEN + ctl_len;
	if (!w->fsync_mode && w->sync_interval_ms) {
		rc = -pthread_create(&w->bg, NULL, wal_bg_main, w);
		if (rc)
			goto fail;
		w->bg_started = 1;
	}
	free(ctl);
	*out = w;
	return 0;
fail:
	free(ctl);
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
	if (!w->cur_err && w->fill_len)
		wal_write_batch(w, 1);
	if (!w->cur_err && w->written > w->synced)
		wal_sync(w, "fdatasync at close");
	/* a failed segment no later segment describes: cut what follows its
	 * good records, so the next replay finds no failed batch there */
	if (w->cur_err)
		hr_io_truncate(w->io, w->fd, w->ok_bytes);
	w->io_busy = 0;
	pthread_mutex_unlock(&w->mu);
	wal_free(w);
}

int hr_wal_wait_bg_checks(hr_wal *w, uint64_t n, uint64_t ns)
{
	struct timespec ts;
	hr_deadline(CLOCK_MONOTONIC, ns, &ts);
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	while (w->st_bg_checks < n)
		if (pthread_cond_timedwait(&w->bg_checked, &w->mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void hr_wal_get_stats(hr_wal *w, hr_wal_stats *out)
{
	pthread_mutex_lock(&w->mu);
	uint64_t failed = w->cur_err ? 1 : 0;
	for (size_t i = 0; i < w->nclosed; i++)
		failed += w->closed[i].err != 0;
	*out = (hr_wal_stats){.appends = w->st_appends,
			      .writes = w->st_writes,
			      .syncs = w->st_syncs,
			      .bytes = w->st_bytes,
			      .current_segment = w->seg_id,
			      .closed_segments = w->nclosed,
			      .waiting = (uint64_t)w->nwaiting,
			      .errors = w->st_errors,
			      .recoveries = w->st_recoveries,
			      .bg_checks = w->st_bg_checks,
			      .failed_segments = failed};
	pthread_mutex_unlock(&w->mu);
}
