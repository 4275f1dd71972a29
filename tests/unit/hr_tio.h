/*
 * hr_tio.h — a small test-local hr_io (the engine's I/O seam, hr_io.h) over
 * hr_io_posix() for what the fault-injecting seam (hr_io_fault.h) cannot
 * do, because it serialises every call under one mutex: hold ONE sync
 * inside the seam, while other threads keep writing and syncing, until the
 * test releases it (then it fails with an errno, or syncs), and record how
 * many syncs of one descriptor ever ran at the same time; it also counts
 * syncs (tio_wait_syncs waits for a count), can make each one slower, like a device's flush (group-commit
 * tests), and can report each one (on_sync: power-loss tests in a child
 * process tell their parent what each sync covered). Only descriptors
 * opened with a path containing tio->match are watched. Everything else
 * passes straight through. Static inline: a test that does not use a helper
 * stays warning-free.
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

#define TIO_MAXFD 4096

typedef struct tio {
	hr_io io; /* first: the engine sees &tio->io */
	hr_io *base;
	char match[256];
	atomic_char watched[TIO_MAXFD];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hold_armed, holding, released;
	int hold_err;			/* what the held sync returns (0: it syncs) */
	atomic_int in_sync[TIO_MAXFD];	/* syncs in progress per descriptor */
	atomic_int max_in_sync;		/* the most ever seen at once */
	atomic_int syncs;		/* syncs of watched descriptors that went through */
	atomic_int sync_delay_us;	/* added to each of them: a device's flush latency */
	void (*on_sync)(int fd);	/* called after each of them (may be NULL) */
} tio;

static inline tio *tio_of(hr_io *io) { return (tio *)io; }

static inline int tio_open_(hr_io *io, const char *path, int flags)
{
	tio *t = tio_of(io);
	int fd = hr_io_open(t->base, path, flags);
	if (fd >= 0 && fd < TIO_MAXFD)
		atomic_store(&t->watched[fd], (char)(strstr(path, t->match) != NULL));
	return fd;
}

static inline int tio_close_(hr_io *io, int fd)
{
	tio *t = tio_of(io);
	if (fd >= 0 && fd < TIO_MAXFD)
		atomic_store(&t->watched[fd], 0);
	return hr_io_close(t->base, fd);
}

static inline int tio_sync_(hr_io *io, int fd, int data_only)
{
	tio *t = tio_of(io);
	if (fd < 0 || fd >= TIO_MAXFD || !atomic_load(&t->watched[fd]))
		return hr_io_sync(t->base, fd, data_only);
	int busy = atomic_fetch_add(&t->in_sync[fd], 1) + 1;
	int mx = atomic_load(&t->max_in_sync);
	while (busy > mx && !atomic_compare_exchange_weak(&t->max_in_sync, &mx, busy))
		;
	int err = 0;
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
		err = t->hold_err;
	}
	pthread_mutex_unlock(&t->mu);
	int rc = err ? -err : hr_io_sync(t->base, fd, data_only);
	if (rc == 0) {
		int d = atomic_load(&t->sync_delay_us);
		if (d) {
			struct timespec ds = {0, (long)d * 1000L};
			nanosleep(&ds, NULL);
		}
		pthread_mutex_lock(&t->mu); /* so tio_wait_syncs misses none */
		atomic_fetch_add(&t->syncs, 1);
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		if (t->on_sync)
			t->on_sync(fd);
	}
	atomic_fetch_sub(&t->in_sync[fd], 1);
	return rc;
}

/* the rest passes straight through */
static inline ssize_t tio_pread_(hr_io *io, int fd, void *b, size_t l, uint64_t o)
{
	return hr_io_pread(tio_of(io)->base, fd, b, l, o);
}
static inline ssize_t tio_pwrite_(hr_io *io, int fd, const void *b, size_t l, uint64_t o)
{
	return hr_io_pwrite(tio_of(io)->base, fd, b, l, o);
}
static inline int tio_truncate_(hr_io *io, int fd, uint64_t l)
{
	return hr_io_truncate(tio_of(io)->base, fd, l);
}
static inline int tio_size_(hr_io *io, int fd, uint64_t *l) { return hr_io_size(tio_of(io)->base, fd, l); }
static inline int tio_rename_(hr_io *io, const char *a, const char *b)
{
	return hr_io_rename(tio_of(io)->base, a, b);
}
static inline int tio_unlink_(hr_io *io, const char *p) { return hr_io_unlink(tio_of(io)->base, p); }
static inline int tio_mkdir_(hr_io *io, const char *p) { return hr_io_mkdir(tio_of(io)->base, p); }
static inline int tio_rmdir_(hr_io *io, const char *p) { return hr_io_rmdir(tio_of(io)->base, p); }
static inline int tio_sync_dir_(hr_io *io, const char *p) { return hr_io_sync_dir(tio_of(io)->base, p); }
static inline int tio_list_(hr_io *io, const char *d, hr_io_dirent **e, size_t *n)
{
	return hr_io_list(tio_of(io)->base, d, e, n);
}
static inline int tio_stat_(hr_io *io, const char *p, hr_io_attr *st)
{
	return hr_io_stat(tio_of(io)->base, p, st);
}
static inline int tio_lock_(hr_io *io, const char *p, int *tok) { return hr_io_lock(tio_of(io)->base, p, tok); }
static inline void tio_unlock_(hr_io *io, int tok) { hr_io_unlock(tio_of(io)->base, tok); }
static inline int tio_meta_commit_(hr_io *io) { return hr_io_meta_commit(tio_of(io)->base); }

static const hr_io_ops tio_ops = {
	.open = tio_open_,	   .close = tio_close_,	    .pread = tio_pread_,
	.pwrite = tio_pwrite_,	   .sync = tio_sync_,	    .truncate = tio_truncate_,
	.size = tio_size_,	   .rename = tio_rename_,   .unlink = tio_unlink_,
	.mkdir = tio_mkdir_,	   .rmdir = tio_rmdir_,	    .sync_dir = tio_sync_dir_,
	.list = tio_list_,	   .stat = tio_stat_,	    .lock = tio_lock_,
	.unlock = tio_unlock_,	   .meta_commit = tio_meta_commit_,
};

/* Initialises t (static storage: it is large) over hr_io_posix(). */
static inline void tio_init(tio *t, const char *match)
{
	memset(t, 0, sizeof(*t));
	t->io.ops = &tio_ops;
	t->base = hr_io_posix();
	snprintf(t->match, sizeof(t->match), "%s", match);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

static inline void tio_destroy(tio *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

/* The next watched sync stops inside the seam until tio_release; then it
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

/* Waits (at most ms) until t->syncs reaches n; returns the count. */
static inline int tio_wait_syncs(tio *t, int n, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	while (atomic_load(&t->syncs) < n)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT)
			break;
	int c = atomic_load(&t->syncs);
	pthread_mutex_unlock(&t->mu);
	return c;
}

static inline void tio_release(tio *t)
{
	pthread_mutex_lock(&t->mu);
	t->released = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

#endif
