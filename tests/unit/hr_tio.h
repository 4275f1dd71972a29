/*
 * hr_tio.h — a small test-local hr_io (the engine's I/O seam, hr_io.h) that
 * wraps hr_io_posix(): it counts every call by kind, can fail the Nth call of
 * a kind (or every call from the Nth on) with an errno, can hold a sync
 * inside the seam until the test releases it, and records how many syncs of
 * one descriptor ever ran at the same time. Calls are filtered by path: only
 * paths containing tio->match (all when empty) are counted and failed; for
 * descriptor calls, the path the descriptor was opened with.
 * Everything is static inline, so a test that does not use a helper stays
 * warning-free.
 */
#ifndef HR_TIO_H
#define HR_TIO_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/hr_io.h"

enum {
	TIO_OPEN, TIO_CLOSE, TIO_PREAD, TIO_PWRITE, TIO_SYNC, TIO_TRUNCATE, TIO_SIZE,
	TIO_RENAME, TIO_UNLINK, TIO_MKDIR, TIO_RMDIR, TIO_SYNC_DIR, TIO_LIST, TIO_STAT,
	TIO_NKINDS
};

#define TIO_MAXFD 4096

typedef struct tio {
	hr_io io; /* first: the engine sees &tio->io */
	hr_io *base;
	char match[256];
	atomic_int count[TIO_NKINDS];
	atomic_int fail_at[TIO_NKINDS];	  /* fail call number N (1-based) of this kind; 0 = never */
	atomic_int fail_from[TIO_NKINDS]; /* fail every call from number N on; 0 = never */
	atomic_int fail_err[TIO_NKINDS];
	atomic_int failed;		  /* calls failed so far */
	/* hold: the next matching sync waits inside the seam until released */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hold_armed, holding, released;
	int hold_err;			  /* what the held sync returns (0: do the sync) */
	/* syncs in progress per descriptor, and the most ever seen at once */
	atomic_int in_sync[TIO_MAXFD];
	atomic_int max_in_sync;
	atomic_char fd_match[TIO_MAXFD];
} tio;

static inline tio *tio_of(hr_io *io) { return (tio *)io; }

static inline int tio_path_match(tio *t, const char *path)
{
	return !t->match[0] || (path && strstr(path, t->match));
}

static inline int tio_fd_match(tio *t, int fd)
{
	return fd >= 0 && fd < TIO_MAXFD && atomic_load(&t->fd_match[fd]);
}

/* Counts the call; returns the errno to fail it with, or 0. */
static inline int tio_hit(tio *t, int kind, int match)
{
	if (!match)
		return 0;
	int n = atomic_fetch_add(&t->count[kind], 1) + 1;
	int at = atomic_load(&t->fail_at[kind]), from = atomic_load(&t->fail_from[kind]);
	if ((at && n == at) || (from && n >= from)) {
		atomic_fetch_add(&t->failed, 1);
		return atomic_load(&t->fail_err[kind]);
	}
	return 0;
}

static inline int tio_open_(hr_io *io, const char *path, int flags)
{
	tio *t = tio_of(io);
	int m = tio_path_match(t, path), e = tio_hit(t, TIO_OPEN, m);
	if (e)
		return -e;
	int fd = hr_io_open(t->base, path, flags);
	if (fd >= 0 && fd < TIO_MAXFD)
		atomic_store(&t->fd_match[fd], (char)m);
	return fd;
}

static inline int tio_close_(hr_io *io, int fd)
{
	tio *t = tio_of(io);
	tio_hit(t, TIO_CLOSE, tio_fd_match(t, fd));
	if (fd >= 0 && fd < TIO_MAXFD)
		atomic_store(&t->fd_match[fd], 0);
	return hr_io_close(t->base, fd);
}

static inline ssize_t tio_pread_(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_PREAD, tio_fd_match(t, fd));
	return e ? -e : hr_io_pread(t->base, fd, buf, len, off);
}

static inline ssize_t tio_pwrite_(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_PWRITE, tio_fd_match(t, fd));
	return e ? -e : hr_io_pwrite(t->base, fd, buf, len, off);
}

static inline int tio_sync_(hr_io *io, int fd, int data_only)
{
	tio *t = tio_of(io);
	int m = tio_fd_match(t, fd);
	int e = tio_hit(t, TIO_SYNC, m);
	int busy = 0;
	if (m && fd < TIO_MAXFD) {
		busy = atomic_fetch_add(&t->in_sync[fd], 1) + 1;
		int mx = atomic_load(&t->max_in_sync);
		while (busy > mx && !atomic_compare_exchange_weak(&t->max_in_sync, &mx, busy))
			;
	}
	if (m) {
		pthread_mutex_lock(&t->mu);
		if (t->hold_armed) {
			t->hold_armed = 0;
			t->holding = 1;
			pthread_cond_broadcast(&t->cv);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 30; /* a test that forgets to release fails, not hangs */
			while (!t->released)
				if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
					break;
			t->holding = 0;
			if (t->hold_err)
				e = t->hold_err;
		}
		pthread_mutex_unlock(&t->mu);
	}
	int rc = e ? -e : hr_io_sync(t->base, fd, data_only);
	if (m && fd < TIO_MAXFD)
		atomic_fetch_sub(&t->in_sync[fd], 1);
	return rc;
}

static inline int tio_truncate_(hr_io *io, int fd, uint64_t len)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_TRUNCATE, tio_fd_match(t, fd));
	return e ? -e : hr_io_truncate(t->base, fd, len);
}

static inline int tio_size_(hr_io *io, int fd, uint64_t *len)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_SIZE, tio_fd_match(t, fd));
	return e ? -e : hr_io_size(t->base, fd, len);
}

static inline int tio_rename_(hr_io *io, const char *from, const char *to)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_RENAME, tio_path_match(t, from) || tio_path_match(t, to));
	return e ? -e : hr_io_rename(t->base, from, to);
}

static inline int tio_unlink_(hr_io *io, const char *path)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_UNLINK, tio_path_match(t, path));
	return e ? -e : hr_io_unlink(t->base, path);
}

static inline int tio_mkdir_(hr_io *io, const char *path)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_MKDIR, tio_path_match(t, path));
	return e ? -e : hr_io_mkdir(t->base, path);
}

static inline int tio_rmdir_(hr_io *io, const char *path)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_RMDIR, tio_path_match(t, path));
	return e ? -e : hr_io_rmdir(t->base, path);
}

static inline int tio_sync_dir_(hr_io *io, const char *path)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_SYNC_DIR, tio_path_match(t, path));
	return e ? -e : hr_io_sync_dir(t->base, path);
}

static inline int tio_list_(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_LIST, tio_path_match(t, dir));
	return e ? -e : hr_io_list(t->base, dir, ents, n);
}

static inline int tio_stat_(hr_io *io, const char *path, hr_io_attr *st)
{
	tio *t = tio_of(io);
	int e = tio_hit(t, TIO_STAT, tio_path_match(t, path));
	return e ? -e : hr_io_stat(t->base, path, st);
}

static inline int tio_lock_(hr_io *io, const char *path, int *token)
{
	return hr_io_lock(tio_of(io)->base, path, token);
}

static inline void tio_unlock_(hr_io *io, int token) { hr_io_unlock(tio_of(io)->base, token); }

static inline int tio_meta_commit_(hr_io *io) { return hr_io_meta_commit(tio_of(io)->base); }

static const hr_io_ops tio_ops = {
	.open = tio_open_,
	.close = tio_close_,
	.pread = tio_pread_,
	.pwrite = tio_pwrite_,
	.sync = tio_sync_,
	.truncate = tio_truncate_,
	.size = tio_size_,
	.rename = tio_rename_,
	.unlink = tio_unlink_,
	.mkdir = tio_mkdir_,
	.rmdir = tio_rmdir_,
	.sync_dir = tio_sync_dir_,
	.list = tio_list_,
	.stat = tio_stat_,
	.lock = tio_lock_,
	.unlock = tio_unlock_,
	.meta_commit = tio_meta_commit_,
	.destroy = NULL,
};

/* Initialises t (static storage: it is large) over hr_io_posix(). */
static inline void tio_init(tio *t, const char *match)
{
	memset(t, 0, sizeof(*t));
	t->io.ops = &tio_ops;
	t->base = hr_io_posix();
	snprintf(t->match, sizeof(t->match), "%s", match ? match : "");
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

static inline void tio_destroy(tio *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

/* Fails the nth call of kind from now (n = 1: the next one) with err. */
static inline void tio_fail_nth(tio *t, int kind, int n, int err)
{
	atomic_store(&t->fail_err[kind], err);
	atomic_store(&t->fail_at[kind], atomic_load(&t->count[kind]) + n);
}

/* Fails every call of kind from the next one on (err 0: stop failing). */
static inline void tio_fail_all(tio *t, int kind, int err)
{
	atomic_store(&t->fail_err[kind], err);
	atomic_store(&t->fail_from[kind], err ? atomic_load(&t->count[kind]) + 1 : 0);
	atomic_store(&t->fail_at[kind], 0);
}

/* The next matching sync stops inside the seam until tio_release; then it
 * returns -err (err 0: it syncs). */
static inline void tio_hold_next_sync(tio *t, int err)
{
	pthread_mutex_lock(&t->mu);
	t->hold_armed = 1;
	t->released = 0;
	t->hold_err = err;
	pthread_mutex_unlock(&t->mu);
}

/* Waits (at most secs) until a sync is held; 1 if one is. */
static inline int tio_wait_held(tio *t, int secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&t->mu);
	while (!t->holding)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
			break;
	int h = t->holding;
	pthread_mutex_unlock(&t->mu);
	return h;
}

static inline void tio_release(tio *t)
{
	pthread_mutex_lock(&t->mu);
	t->released = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

#endif
