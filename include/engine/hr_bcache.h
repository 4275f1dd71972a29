/*
 * hr_bcache.h — the shared block cache: a sharded LRU of immutable blocks
 * keyed by (file id, offset), bounded by a byte capacity (block_cache_size).
 *
 * Ownership: a block is reference counted. The cache holds one reference
 * while the block is cached; lookup and insert return one more that the
 * caller drops with hr_block_unref. Eviction only removes the block from
 * the cache, so data stays readable for as long as a reference is held —
 * iterators may keep a block across any amount of cache churn. The bytes a
 * block holds are never written after insert.
 *
 * Capacity is split evenly over the shards; an insert evicts the shard's
 * least recently used blocks (referenced or not) until the shard fits
 * (LRU with a second chance: a hit marks the block, and a marked block at
 * the cold end is moved back to the hot end once instead of evicted). A
 * block larger than a shard's share is still returned, then dropped from
 * the cache at once.
 *
 * Thread-safety: all calls are thread-safe. Each shard has a mutex that
 * protects its hash table, LRU list and byte count; reference counts are
 * atomic, so hr_block_unref takes no lock. Stats counters are atomic.
 */
#ifndef HR_BCACHE_H
#define HR_BCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_bcache hr_bcache;
typedef struct hr_block hr_block;

/* capacity in bytes (0 is allowed: nothing stays cached). -ENOMEM. */
int hr_bcache_new(uint64_t capacity, hr_bcache **out);
/* Drops the cache's references; blocks still referenced elsewhere live on
 * until their last unref. */
void hr_bcache_free(hr_bcache *c);

/* A referenced block, or NULL (counted as a miss). */
hr_block *hr_bcache_lookup(hr_bcache *c, uint64_t file_id, uint64_t off);
/* Takes ownership of data (malloc'd, len bytes) and returns it referenced.
 * If the key is already cached (a concurrent miss filled it), data is freed
 * and the cached block is returned. NULL on allocation failure (data is
 * freed then too). */
hr_block *hr_bcache_insert(hr_bcache *c, uint64_t file_id, uint64_t off, void *data,
			   size_t len);

void hr_block_unref(hr_block *b);
const uint8_t *hr_block_data(const hr_block *b);
size_t hr_block_len(const hr_block *b);

/* Any pointer may be NULL. bytes = bytes currently cached. */
void hr_bcache_stats(hr_bcache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes);
/* Removes every cached block of the file (it is being deleted). */
void hr_bcache_drop_file(hr_bcache *c, uint64_t file_id);

#endif
