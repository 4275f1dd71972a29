/* memstore.c — arena-backed concurrent skiplist (contract in hr_memstore.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_memstore.h"
#include "engine/hr_util.h"
#include "hregionfs.h"

#define MS_MAX_HEIGHT 12
#define MS_CHUNK (1u << 20)

typedef struct ms_node {
	uint32_t enc_len;
	uint8_t height;
	_Atomic(struct ms_node *) next[]; /* height pointers, then the encoded kv */
} ms_node;

typedef struct ms_chunk {
	struct ms_chunk *prev;
	size_t used, cap;
	uint8_t data[];
} ms_chunk;

struct hr_memstore {
	atomic_int refs;
	pthread_mutex_t insert_mu; /* serialises inserts and the arena */
	ms_chunk *chunk;
	ms_node *head;
	atomic_int height;
	uint32_t rnd;
	atomic_uint_fast64_t bytes, count, min_seq, max_seq;
	atomic_int_fast64_t oldest_ms;
	atomic_int fam_deletes;
};

static void *arena_alloc(hr_memstore *ms, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	ms_chunk *c = ms->chunk;
	if (!c || c->cap - c->used < n) {
		/* A cell larger than a quarter chunk gets a chunk of its own so the
		 * current chunk's tail is not wasted. */
		size_t cap = n > MS_CHUNK / 4 ? n : MS_CHUNK;
		ms_chunk *nc = malloc(sizeof(*nc) + cap);
		if (!nc)
			return NULL;
		nc->cap = cap;
		nc->used = 0;
		if (cap != MS_CHUNK && c) {
			/* keep the current chunk current: link the big one behind it */
			nc->prev = c->prev;
			c->prev = nc;
		} else {
			nc->prev = c;
			ms->chunk = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static inline const uint8_t *node_enc(const ms_node *n)
{
	return (const uint8_t *)&n->next[n->height];
}

static inline void node_kv(const ms_node *n, hr_kv *kv)
{
	hr_kv_decode(node_enc(n), n->enc_len, kv);
}

/* Only what hr_kv_cmp reads (row, qualifier, ts, type, seq), decoded in
 * place: a search compares a key at every step, and the arena holds only
 * entries this memstore encoded (format 2, lengths already checked). */
static inline void node_key(const ms_node *n, hr_kv *kv)
{
	const uint8_t *p = node_enc(n);
	kv->row_len = hr_get16(p);
	kv->qual_len = hr_get16(p + 2);
	kv->ts = (int64_t)hr_get64(p + 8);
	kv->seq = hr_get64(p + 16);
	kv->type = p[24];
	kv->row = p + HR_KV_HDR;
	kv->qual = kv->row + kv->row_len;
}

int hr_memstore_new(hr_memstore **out)
{
	hr_memstore *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	atomic_init(&ms->refs, 1);
	pthread_mutex_init(&ms->insert_mu, NULL);
	ms->rnd = 0x9e3779b9u ^ (uint32_t)(uintptr_t)ms;
	atomic_init(&ms->min_seq, UINT64_MAX);
	size_t hsz = sizeof(ms_node) + MS_MAX_HEIGHT * sizeof(ms_node *);
	ms->head = arena_alloc(ms, hsz);
	if (!ms->head) {
		free(ms);
		return -ENOMEM;
	}
	ms->head->height = MS_MAX_HEIGHT;
	ms->head->enc_len = 0;
	for (int i = 0; i < MS_MAX_HEIGHT; i++)
		atomic_init(&ms->head->next[i], NULL);
	atomic_init(&ms->height, 1);
	*out = ms;
	return 0;
}

void hr_memstore_ref(hr_memstore *ms) { atomic_fetch_add(&ms->refs, 1); }

void hr_memstore_unref(hr_memstore *ms)
{
	if (!ms || atomic_fetch_sub(&ms->refs, 1) != 1)
		return;
	ms_chunk *c = ms->chunk;
	while (c) {
		ms_chunk *p = c->prev;
		free(c);
		c = p;
	}
	pthread_mutex_destroy(&ms->insert_mu);
	free(ms);
}

static int random_height(hr_memstore *ms)
{
	int h = 1;
	while (h < MS_MAX_HEIGHT) {
		ms->rnd ^= ms->rnd << 13;
		ms->rnd ^= ms->rnd >> 17;
		ms->rnd ^= ms->rnd << 5;
		if ((ms->rnd & 3) != 0)
			break;
		h++;
	}
	return h;
}

/* Finds the first node >= key at every level; prev[] gets the nodes before. */
static ms_node *find_ge(hr_memstore *ms, const hr_kv *key, ms_node **prev)
{
	ms_node *x = ms->head;
	int level = atomic_load_explicit(&ms->height, memory_order_acquire) - 1;
	hr_kv cur;
	for (;;) {
		ms_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
		if (nx) {
			node_key(nx, &cur);
			if (hr_kv_cmp(&cur, key) < 0) {
				x = nx;
				continue;
			}
		}
		if (prev)
			prev[level] = x;
		if (level == 0)
			return nx;
		level--;
	}
}

static int node_cmp(const ms_node *n, const hr_kv *key)
{
	hr_kv cur;
	node_key(n, &cur);
	return hr_kv_cmp(&cur, key);
}

int hr_memstore_add(hr_memstore *ms, const hr_kv *kv)
{
	size_t enc = hr_kv_encoded_len(kv);
	/* Search without the insert mutex, so concurrent writers descend the
	 * list in parallel: nodes are never unlinked, so "prev[i] < kv" stays
	 * true, and under the mutex each level only walks forward over nodes
	 * inserted meanwhile. */
	ms_node *prev[MS_MAX_HEIGHT];
	int seen_h = atomic_load_explicit(&ms->height, memory_order_acquire);
	find_ge(ms, kv, prev);
	pthread_mutex_lock(&ms->insert_mu);
	int h = random_height(ms);
	ms_node *n = arena_alloc(ms, sizeof(ms_node) + (size_t)h * sizeof(ms_node *) + enc);
	if (!n) {
		pthread_mutex_unlock(&ms->insert_mu);
		return -ENOMEM;
	}
	n->height = (uint8_t)h;
	n->enc_len = (uint32_t)enc;
	hr_kv_encode((uint8_t *)node_enc(n), kv);
	int cur_h = atomic_load_explicit(&ms->height, memory_order_relaxed);
	for (int i = 0; i < h; i++) {
		ms_node *p = i < seen_h ? prev[i] : ms->head;
		for (;;) {
			ms_node *nx = atomic_load_explicit(&p->next[i], memory_order_acquire);
			if (!nx || node_cmp(nx, kv) >= 0)
				break;
			p = nx;
		}
		prev[i] = p;
	}
	if (h > cur_h)
		/* Readers that see the new height before the links find NULL at
		 * the new levels and drop down: harmless. */
		atomic_store_explicit(&ms->height, h, memory_order_release);
	for (int i = 0; i < h; i++) {
		atomic_store_explicit(&n->next[i],
				      atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed),
				      memory_order_relaxed);
		atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
	}
	atomic_fetch_add(&ms->bytes, sizeof(ms_node) + (size_t)h * sizeof(ms_node *) + enc);
	atomic_fetch_add(&ms->count, 1);
	if (kv->seq < atomic_load(&ms->min_seq))
		atomic_store(&ms->min_seq, kv->seq);
	if (kv->seq > atomic_load(&ms->max_seq))
		atomic_store(&ms->max_seq, kv->seq);
	if (kv->type == HR_DELETE_FAMILY)
		atomic_store(&ms->fam_deletes, 1);
	if (atomic_load(&ms->oldest_ms) == 0)
		atomic_store(&ms->oldest_ms, hr_now_ms());
	pthread_mutex_unlock(&ms->insert_mu);
	return 0;
}

uint64_t hr_memstore_bytes(const hr_memstore *ms) { return atomic_load(&((hr_memstore *)ms)->bytes); }
uint64_t hr_memstore_count(const hr_memstore *ms) { return atomic_load(&((hr_memstore *)ms)->count); }
uint64_t hr_memstore_min_seq(const hr_memstore *ms) { return atomic_load(&((hr_memstore *)ms)->min_seq); }
uint64_t hr_memstore_max_seq(const hr_memstore *ms) { return atomic_load(&((hr_memstore *)ms)->max_seq); }
int hr_memstore_has_family_deletes(const hr_memstore *ms)
{
	return atomic_load(&((hr_memstore *)ms)->fam_deletes);
}
int64_t hr_memstore_oldest_ms(const hr_memstore *ms) { return atomic_load(&((hr_memstore *)ms)->oldest_ms); }

static void iter_set(hr_memstore_iter *it, ms_node *n)
{
	it->node = n;
	if (n)
		node_kv(n, &it->kv);
}

void hr_memstore_iter_init(hr_memstore_iter *it, hr_memstore *ms)
{
	it->ms = ms;
	it->node = NULL;
}

void hr_memstore_iter_seek(hr_memstore_iter *it, const hr_kv *target)
{
	iter_set(it, find_ge(it->ms, target, NULL));
}

void hr_memstore_iter_first(hr_memstore_iter *it)
{
	iter_set(it, atomic_load_explicit(&it->ms->head->next[0], memory_order_acquire));
}

void hr_memstore_iter_next(hr_memstore_iter *it)
{
	ms_node *n = it->node;
	iter_set(it, atomic_load_explicit(&n->next[0], memory_order_acquire));
}
