/* rowlock.c — exclusive per-row locks with a bounded wait (contract in
 * hr_region.h). A held lock is a small record in its shard's list; waiters
 * sleep on the shard's condition variable with a deadline, so a stuck
 * writer makes others fail with -ETIMEDOUT instead of hanging. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hr_region.h"
#include "engine/hr_util.h"

struct hr_rowlock_held {
	struct hr_rowlock_held *next;
	uint32_t shard;
	size_t len;
	uint8_t row[];
};

static uint32_t row_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void hr_rowlocks_init(hr_rowlocks *l)
{
	for (int i = 0; i < HR_ROWLOCK_SHARDS; i++) {
		pthread_mutex_init(&l->shard[i].mu, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&l->shard[i].cond, &ca);
		pthread_condattr_destroy(&ca);
		l->shard[i].held = NULL;
	}
}

void hr_rowlocks_destroy(hr_rowlocks *l)
{
	for (int i = 0; i < HR_ROWLOCK_SHARDS; i++) {
		pthread_mutex_destroy(&l->shard[i].mu);
		pthread_cond_destroy(&l->shard[i].cond);
	}
}

static int is_held(hr_rowlock_held *h, const uint8_t *row, size_t len)
{
	for (; h; h = h->next)
		if (h->len == len && memcmp(h->row, row, len) == 0)
			return 1;
	return 0;
}

int hr_rowlock_acquire(hr_rowlocks *l, const uint8_t *row, size_t len, uint32_t timeout_ms,
		       hr_rowlock_held **token)
{
	hr_rowlock_held *t = malloc(sizeof(*t) + len);
	if (!t)
		return -ENOMEM;
	t->shard = row_hash(row, len) % HR_ROWLOCK_SHARDS;
	t->len = len;
	memcpy(t->row, row, len);
	struct timespec dl;
	hr_deadline(CLOCK_MONOTONIC, (uint64_t)timeout_ms * 1000000ull, &dl);
	hr_rowlock_shard *s = &l->shard[t->shard];
	pthread_mutex_lock(&s->mu);
	while (is_held(s->held, row, len)) {
		if (pthread_cond_timedwait(&s->cond, &s->mu, &dl) == ETIMEDOUT &&
		    is_held(s->held, row, len)) {
			pthread_mutex_unlock(&s->mu);
			free(t);
			return -ETIMEDOUT;
		}
	}
	t->next = s->held;
	s->held = t;
	pthread_mutex_unlock(&s->mu);
	*token = t;
	return 0;
}

void hr_rowlock_release(hr_rowlocks *l, hr_rowlock_held *t)
{
	hr_rowlock_shard *s = &l->shard[t->shard];
	pthread_mutex_lock(&s->mu);
	for (hr_rowlock_held **pp = &s->held; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	free(t);
}
