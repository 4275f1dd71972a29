/*
 * hr_memstore.h — one store's in-memory sorted buffer: a skiplist of
 * hr_kv entries in hr_kv_cmp order, allocated from an arena of chunks so
 * that a flushed memstore is freed in bulk.
 *
 * Concurrency (LevelDB's scheme): inserts are serialised by the memstore's
 * own insert mutex; readers never lock — nodes are published with release
 * stores and read with acquire loads, and a node is never unlinked or
 * freed while the memstore lives. The memstore is reference counted: the
 * store holds one reference, every reader view and flush holds its own, and
 * the arena is freed when the last reference goes.
 * Counters (bytes, count, min/max seq, oldest edit time) are atomics.
 */
#ifndef HR_MEMSTORE_H
#define HR_MEMSTORE_H

#include <stdint.h>

#include "engine/hr_kv.h"

typedef struct hr_memstore hr_memstore;

int hr_memstore_new(hr_memstore **out);
void hr_memstore_ref(hr_memstore *ms);
void hr_memstore_unref(hr_memstore *ms);

/* Copies kv into the arena and links it. -ENOMEM on allocation failure. */
int hr_memstore_add(hr_memstore *ms, const hr_kv *kv);

uint64_t hr_memstore_bytes(const hr_memstore *ms);   /* arena bytes in use */
uint64_t hr_memstore_count(const hr_memstore *ms);
uint64_t hr_memstore_min_seq(const hr_memstore *ms); /* UINT64_MAX when empty */
uint64_t hr_memstore_max_seq(const hr_memstore *ms);
int64_t hr_memstore_oldest_ms(const hr_memstore *ms); /* 0 when empty */
/* 1 once a DeleteFamily marker was added (reads skip looking for them) */
int hr_memstore_has_family_deletes(const hr_memstore *ms);

/* A cursor; plain struct so it lives on the caller's stack. It holds no
 * reference: the caller keeps the memstore referenced while using it. */
typedef struct hr_memstore_iter {
	hr_memstore *ms;
	void *node;
	hr_kv kv;
} hr_memstore_iter;

void hr_memstore_iter_init(hr_memstore_iter *it, hr_memstore *ms);
void hr_memstore_iter_seek(hr_memstore_iter *it, const hr_kv *target); /* first >= target */
void hr_memstore_iter_first(hr_memstore_iter *it);
static inline int hr_memstore_iter_valid(const hr_memstore_iter *it) { return it->node != 0; }
void hr_memstore_iter_next(hr_memstore_iter *it);

#endif
