/* bcache.c — sharded LRU block cache (contract in hr_bcache.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine/hr_bcache.h"

#define BC_SHARDS 16u

struct hr_block {
	uint64_t file_id, off;
	uint8_t *data;
	size_t len;
	atomic_uint refs;
	int used;		/* hit since it last passed the LRU tail (shard lock) */
	uint32_t hash;
	struct hr_block *hnext;
	struct hr_block *prev, *next;	/* LRU, most recent at head */
};

typedef struct bc_shard {
	pthread_mutex_t mu;
	uint64_t cap, used;
	uint32_t nbuckets, count;
	hr_block **buckets;
	hr_block lru;		/* sentinel */
} bc_shard;

struct hr_bcache {
	bc_shard shards[BC_SHARDS];
	atomic_ullong hits, misses;
};

static uint32_t key_hash(uint64_t file_id, uint64_t off)
{
	uint64_t h = file_id * 0x9E3779B97F4A7C15ull ^ off;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static bc_shard *shard_of(hr_bcache *c, uint32_t h)
{
	return &c->shards[h >> 28];	/* top bits: the low ones pick buckets */
}

static void block_free(hr_block *b)
{
	free(b->data);
	free(b);
}

void hr_block_unref(hr_block *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		block_free(b);
}

const uint8_t *hr_block_data(const hr_block *b) { return b->data; }
size_t hr_block_len(const hr_block *b) { return b->len; }

int hr_bcache_new(uint64_t capacity, hr_bcache **out)
{
	hr_bcache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (unsigned i = 0; i < BC_SHARDS; i++) {
		bc_shard *s = &c->shards[i];
		s->nbuckets = 256;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			for (unsigned j = 0; j < i; j++)
				free(c->shards[j].buckets);
			free(c);
			return -ENOMEM;
		}
		s->cap = capacity / BC_SHARDS;
		s->lru.prev = s->lru.next = &s->lru;
		pthread_mutex_init(&s->mu, NULL);
	}
	*out = c;
	return 0;
}

/* Unlinks b from table and LRU and drops the cache's reference, which
 * may free it: callers must not touch b afterwards. Shard lock held. */
static void shard_remove(bc_shard *s, hr_block *b)
{
	hr_block **pp = &s->buckets[b->hash & (s->nbuckets - 1)];
	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	b->prev->next = b->next;
	b->next->prev = b->prev;
	s->used -= b->len;
	s->count--;
	hr_block_unref(b);
}

void hr_bcache_free(hr_bcache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < BC_SHARDS; i++) {
		bc_shard *s = &c->shards[i];
		while (s->lru.next != &s->lru)
			shard_remove(s, s->lru.next);
		pthread_mutex_destroy(&s->mu);
		free(s->buckets);
	}
	free(c);
}

static hr_block *shard_find(bc_shard *s, uint32_t h, uint64_t file_id, uint64_t off)
{
	for (hr_block *b = s->buckets[h & (s->nbuckets - 1)]; b; b = b->hnext)
		if (b->hash == h && b->file_id == file_id && b->off == off)
			return b;
	return NULL;
}

static void lru_to_front(bc_shard *s, hr_block *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
	b->next = s->lru.next;
	b->prev = &s->lru;
	s->lru.next->prev = b;
	s->lru.next = b;
}

/* Evicts until the shard fits. A hit only sets b->used (relinking on
 * every hit would write two neighbours' cache lines); a used block that
 * reaches the tail gets a second chance at the head (CLOCK-like LRU). */
static void shard_evict(bc_shard *s)
{
	uint32_t spared = 0;
	while (s->used > s->cap && s->lru.prev != &s->lru) {
		hr_block *b = s->lru.prev;
		if (b->used && spared < s->count) {
			b->used = 0;
			lru_to_front(s, b);
			spared++;
			continue;
		}
		shard_remove(s, b);
	}
}

hr_block *hr_bcache_lookup(hr_bcache *c, uint64_t file_id, uint64_t off)
{
	uint32_t h = key_hash(file_id, off);
	bc_shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	hr_block *b = shard_find(s, h, file_id, off);
	if (b) {
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
		b->used = 1;
	}
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add_explicit(b ? &c->hits : &c->misses, 1, memory_order_relaxed);
	return b;
}

/* Doubles the bucket array; on allocation failure chains just get longer. */
static void shard_grow(bc_shard *s)
{
	uint32_t nb = s->nbuckets * 2;
	hr_block **nbk = calloc(nb, sizeof(*nbk));
	if (!nbk)
		return;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		hr_block *b = s->buckets[i];
		while (b) {
			hr_block *n = b->hnext;
			b->hnext = nbk[b->hash & (nb - 1)];
			nbk[b->hash & (nb - 1)] = b;
			b = n;
		}
	}
	free(s->buckets);
	s->buckets = nbk;
	s->nbuckets = nb;
}

hr_block *hr_bcache_insert(hr_bcache *c, uint64_t file_id, uint64_t off, void *data,
			   size_t len)
{
	hr_block *nb = malloc(sizeof(*nb));
	if (!nb) {
		free(data);
		return NULL;
	}
	nb->file_id = file_id;
	nb->off = off;
	nb->data = data;
	nb->len = len;
	nb->hash = key_hash(file_id, off);
	atomic_init(&nb->refs, 2);	/* the cache's and the caller's */
	nb->used = 0;

	bc_shard *s = shard_of(c, nb->hash);
	pthread_mutex_lock(&s->mu);
	hr_block *old = shard_find(s, nb->hash, file_id, off);
	if (old) {
		atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
		old->used = 1;
		pthread_mutex_unlock(&s->mu);
		block_free(nb);
		return old;
	}
	if (s->count >= s->nbuckets)
		shard_grow(s);
	uint32_t bi = nb->hash & (s->nbuckets - 1);
	nb->hnext = s->buckets[bi];
	s->buckets[bi] = nb;
	nb->next = s->lru.next;
	nb->prev = &s->lru;
	s->lru.next->prev = nb;
	s->lru.next = nb;
	s->used += len;
	s->count++;
	/* The new block goes last if it alone is too big (the caller still
	 * holds its reference). */
	shard_evict(s);
	pthread_mutex_unlock(&s->mu);
	return nb;
}

void hr_bcache_stats(hr_bcache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes)
{
	if (hits)
		*hits = atomic_load(&c->hits);
	if (misses)
		*misses = atomic_load(&c->misses);
	if (bytes) {
		uint64_t sum = 0;
		for (unsigned i = 0; i < BC_SHARDS; i++) {
			pthread_mutex_lock(&c->shards[i].mu);
			sum += c->shards[i].used;
			pthread_mutex_unlock(&c->shards[i].mu);
		}
		*bytes = sum;
	}
}

void hr_bcache_drop_file(hr_bcache *c, uint64_t file_id)
{
	for (unsigned i = 0; i < BC_SHARDS; i++) {
		bc_shard *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		hr_block *b = s->lru.next;
		while (b != &s->lru) {
			hr_block *n = b->next;
			if (b->file_id == file_id)
				shard_remove(s, b);
			b = n;
		}
		pthread_mutex_unlock(&s->mu);
	}
}
