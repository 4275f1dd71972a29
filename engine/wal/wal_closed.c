/* wal_closed.c — the closed segments of an open WAL: where a waiter's
 * record lives, the control record listing valid ends, adopt, purge
 * (contract in hr_wal.h; state in wal_int.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_log.h"
#include "wal_int.h"

int hr_wal_closed_reserve(hr_wal *w)
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

/* Segments of this process have ascending, contiguous logical ranges;
 * adopted ones (lstart == lend == 0) hold none and sort first. A waiter's
 * segment is almost always the newest, so search from the back. */
const wal_closed *hr_wal_closed_find(const hr_wal *w, uint64_t end)
{
	for (size_t i = w->nclosed; i-- > 0;) {
		const wal_closed *c = &w->closed[i];
		if (end > c->lstart && end <= c->lend)
			return c;
		if (c->lend && c->lend < end)
			break;
	}
	return NULL;
}

uint64_t hr_wal_seg_of(const hr_wal *w, uint64_t pos)
{
	if (pos >= w->seg_lstart)
		return w->seg_id;
	const wal_closed *c = hr_wal_closed_find(w, pos + 1);
	return c ? c->id : 0; /* 0: already purged, the caller's seq bookkeeping is off */
}

int hr_wal_ctl_build(const hr_wal *w, const wal_closed *extra, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	uint32_t n = extra && extra->valid_end ? 1 : 0;
	for (size_t i = 0; i < w->nclosed; i++)
		n += w->closed[i].valid_end != 0;
	if (!n)
		return 0;
	size_t plen = HR_WAL_CTL_FIXED + (size_t)n * HR_WAL_CTL_ENTRY;
	uint8_t *b = calloc(1, HR_WAL_REC_HDR_LEN + plen);
	if (!b)
		return -ENOMEM;
	uint8_t *p = b + HR_WAL_REC_HDR_LEN;
	p[0] = HR_WAL_CTL_LIMITS;
	hr_put32(p + 4, n);
	uint8_t *e = p + HR_WAL_CTL_FIXED;
	for (size_t i = 0; i < w->nclosed; i++) {
		if (!w->closed[i].valid_end)
			continue;
		hr_put64(e, w->closed[i].id);
		hr_put64(e + 8, w->closed[i].valid_end);
		e += HR_WAL_CTL_ENTRY;
	}
	if (extra && extra->valid_end) {
		hr_put64(e, extra->id);
		hr_put64(e + 8, extra->valid_end);
	}
	hr_put32(b, (uint32_t)plen);
	hr_put64(b + 4, 0);
	hr_put32(b + 12, hr_crc32c(hr_crc32c(0, b, 12), p, plen));
	*out = b;
	*len = HR_WAL_REC_HDR_LEN + plen;
	return 0;
}

int hr_wal_unsynced_failure(const hr_wal *w)
{
	if (w->cur_err && w->ok_written > w->ok_synced)
		return w->cur_err;
	for (size_t i = 0; i < w->nclosed; i++)
		if (w->closed[i].err && w->closed[i].ok_written > w->closed[i].ok_synced)
			return w->closed[i].err;
	return 0;
}

int hr_wal_closed_insert(hr_wal *w, const wal_closed *c)
{
	size_t i = 0;
	while (i < w->nclosed && w->closed[i].id < c->id)
		i++;
	if ((w->seg_id && c->id == w->seg_id) || (i < w->nclosed && w->closed[i].id == c->id))
		return -EEXIST;
	int rc = hr_wal_closed_reserve(w);
	if (rc)
		return rc;
	memmove(&w->closed[i + 1], &w->closed[i], (w->nclosed - i) * sizeof(w->closed[0]));
	w->closed[i] = *c;
	w->nclosed++;
	return 0;
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
	for (size_t i = 0; i < cnt; i++) {
		const wal_closed *c = &w->closed[i];
		v[i] = (hr_wal_seg){.id = c->id, .max_seq = c->max_seq, .bytes = c->bytes,
				    .valid_end = c->valid_end, .err = c->err};
	}
	pthread_mutex_unlock(&w->mu);
	*out = v;
	*n = cnt;
	return 0;
}

int hr_wal_adopt(hr_wal *w, const hr_wal_seg *seg)
{
	/* lstart == lend == 0: no record of this process lives there */
	wal_closed c = {.id = seg->id, .max_seq = seg->max_seq, .bytes = seg->bytes,
			.valid_end = seg->valid_end};
	pthread_mutex_lock(&w->mu);
	int rc = hr_wal_closed_insert(w, &c);
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
