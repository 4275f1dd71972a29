/* fdcache.c — bounded LRU of read-only fds (contract in hr_fdcache.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "engine/hr_fdcache.h"

typedef struct fd_ent {
	uint64_t id;
	int fd;
	uint32_t pins;		/* preads running on fd */
	int forgotten;		/* out of the table; close at last unpin */
	struct fd_ent *hnext;	/* hash chain */
	struct fd_ent *prev, *next;	/* LRU, most recent at head */
} fd_ent;

struct hr_fdcache {
	hr_io *io;
	pthread_mutex_t mu;
	pthread_cond_t freed;	/* an fd was closed or unpinned */
	uint32_t max_open;
	uint32_t open;		/* fds open, forgotten-but-pinned included */
	uint32_t nbuckets;
	fd_ent **buckets;
	fd_ent lru;		/* sentinel */
};

static uint32_t bucket_of(const hr_fdcache *fc, uint64_t id)
{
	uint64_t h = id * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 32) & (fc->nbuckets - 1);
}

static void lru_unlink(fd_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

static void lru_push_front(hr_fdcache *fc, fd_ent *e)
{
	e->next = fc->lru.next;
	e->prev = &fc->lru;
	fc->lru.next->prev = e;
	fc->lru.next = e;
}

static void table_remove(hr_fdcache *fc, fd_ent *e)
{
	fd_ent **pp = &fc->buckets[bucket_of(fc, e->id)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(e);
}

static void ent_close(hr_fdcache *fc, fd_ent *e)
{
	hr_io_close(fc->io, e->fd);
	free(e);
	fc->open--;
	pthread_cond_signal(&fc->freed);
}

int hr_fdcache_new(uint32_t max_open, hr_io *io, hr_fdcache **out)
{
	if (max_open == 0 || !io)
		return -EINVAL;
	hr_fdcache *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->io = io;
	uint32_t nb = 16;
	while (nb < max_open && nb < (1u << 20))
		nb <<= 1;
	fc->buckets = calloc(nb, sizeof(*fc->buckets));
	if (!fc->buckets) {
		free(fc);
		return -ENOMEM;
	}
	fc->nbuckets = nb;
	fc->max_open = max_open;
	fc->lru.prev = fc->lru.next = &fc->lru;
	pthread_mutex_init(&fc->mu, NULL);
	pthread_cond_init(&fc->freed, NULL);
	*out = fc;
	return 0;
}

void hr_fdcache_free(hr_fdcache *fc)
{
	if (!fc)
		return;
	while (fc->lru.next != &fc->lru) {
		fd_ent *e = fc->lru.next;
		table_remove(fc, e);
		ent_close(fc, e);
	}
	pthread_cond_destroy(&fc->freed);
	pthread_mutex_destroy(&fc->mu);
	free(fc->buckets);
	free(fc);
}

/* Pins the file's entry, opening it if needed. Called with mu held. */
static int pin_locked(hr_fdcache *fc, uint64_t id, const char *path, fd_ent **out)
{
	for (;;) {
		for (fd_ent *e = fc->buckets[bucket_of(fc, id)]; e; e = e->hnext) {
			if (e->id == id) {
				e->pins++;
				lru_unlink(e);
				lru_push_front(fc, e);
				*out = e;
				return 0;
			}
		}
		if (fc->open < fc->max_open)
			break;
		/* Close the least recently used idle fd; if every fd is busy,
		 * wait, since the bound is the point of this cache. */
		fd_ent *victim = NULL;
		for (fd_ent *e = fc->lru.prev; e != &fc->lru; e = e->prev) {
			if (!e->pins) {
				victim = e;
				break;
			}
		}
		if (victim) {
			table_remove(fc, victim);
			ent_close(fc, victim);
			break;
		}
		pthread_cond_wait(&fc->freed, &fc->mu);
	}
	fd_ent *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* open(2) under the lock: opens are rare (files are few and long
	 * lived) and this keeps the count exact without a reservation dance. */
	int fd = hr_io_open(fc->io, path, HR_IO_RDONLY);
	if (fd < 0) {
		free(e);
		return fd;
	}
	e->id = id;
	e->fd = fd;
	e->pins = 1;
	uint32_t b = bucket_of(fc, id);
	e->hnext = fc->buckets[b];
	fc->buckets[b] = e;
	lru_push_front(fc, e);
	fc->open++;
	*out = e;
	return 0;
}

static void unpin(hr_fdcache *fc, fd_ent *e)
{
	pthread_mutex_lock(&fc->mu);
	if (--e->pins == 0) {
		if (e->forgotten)
			ent_close(fc, e);
		else
			pthread_cond_signal(&fc->freed);
	}
	pthread_mutex_unlock(&fc->mu);
}

static int pin(hr_fdcache *fc, uint64_t file_id, const char *path, fd_ent **e)
{
	pthread_mutex_lock(&fc->mu);
	int rc = pin_locked(fc, file_id, path, e);
	pthread_mutex_unlock(&fc->mu);
	return rc;
}

int hr_fdcache_pread(hr_fdcache *fc, uint64_t file_id, const char *path, void *buf,
		     size_t len, uint64_t off)
{
	fd_ent *e = NULL;
	int rc = pin(fc, file_id, path, &e);
	if (rc < 0)
		return rc;
	rc = hr_io_pread_all(fc->io, e->fd, buf, len, off);
	unpin(fc, e);
	return rc == -ENODATA ? -EIO : rc; /* a short file is a damaged one */
}

int hr_fdcache_size(hr_fdcache *fc, uint64_t file_id, const char *path, uint64_t *size)
{
	fd_ent *e = NULL;
	int rc = pin(fc, file_id, path, &e);
	if (rc < 0)
		return rc;
	rc = hr_io_size(fc->io, e->fd, size);
	unpin(fc, e);
	return rc;
}

hr_io *hr_fdcache_io(hr_fdcache *fc) { return fc->io; }

void hr_fdcache_forget(hr_fdcache *fc, uint64_t file_id)
{
	pthread_mutex_lock(&fc->mu);
	for (fd_ent *e = fc->buckets[bucket_of(fc, file_id)]; e; e = e->hnext) {
		if (e->id != file_id)
			continue;
		table_remove(fc, e);
		if (e->pins)
			e->forgotten = 1;
		else
			ent_close(fc, e);
		break;
	}
	pthread_mutex_unlock(&fc->mu);
}

uint32_t hr_fdcache_open_count(hr_fdcache *fc)
{
	pthread_mutex_lock(&fc->mu);
	uint32_t n = fc->open;
	pthread_mutex_unlock(&fc->mu);
	return n;
}
