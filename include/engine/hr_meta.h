/*
 * hr_meta.h — the region metadata in LMDB (the role of hbase:meta).
 *
 * Databases (all keys and values little-endian unless noted, format in
 * hr_format.h):
 *   tables   table name                  -> schema (families and settings)
 *   regions  region id (u64 big-endian)  -> table, start key, end key, state
 *   stores   region id (BE) | family     -> flushed seq id, store-file ids
 *   wal      segment id (BE)             -> (empty): WAL segments that exist
 *   counters name                        -> u64 (next region / file id)
 *   snapshots table | 0x00 | name        -> snapshot manifest (hr_format.h,
 *                                           "Snapshot manifests"; opaque here)
 * Every change the engine makes is one write transaction (hr_meta_txn_*),
 * so a crash leaves LMDB at a transaction boundary. LMDB does its own file
 * I/O; each write commit is first announced to the I/O seam
 * (hr_io_meta_commit), which may refuse it (the transaction is then
 * aborted and the commit returns that error). LMDB serialises write
 * transactions itself; read transactions run concurrently. An hr_meta_txn
 * is used by the thread that began it.
 */
#ifndef HR_META_H
#define HR_META_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_io.h"
#include "hregionfs.h"

typedef struct hr_meta hr_meta;
typedef struct hr_meta_txn hr_meta_txn;

/* io: the seam told of every write commit (not owned). */
int hr_meta_open(const char *dir, hr_io *io, hr_meta **out);
void hr_meta_close(hr_meta *m);

int hr_meta_begin(hr_meta *m, int write, hr_meta_txn **out);
int hr_meta_commit(hr_meta_txn *t); /* frees t, also on failure */
void hr_meta_abort(hr_meta_txn *t);

int hr_meta_table_put(hr_meta_txn *t, const hr_table_schema *s);
int hr_meta_table_del(hr_meta_txn *t, const char *name);
/* calls fn for every table in name order; fn returning non-zero stops */
int hr_meta_table_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_table_schema *s), void *ctx);

typedef struct hr_meta_region {
	uint64_t id;
	char table[HR_MAX_NAME + 1];
	const uint8_t *start; /* views into LMDB memory (valid in the txn) */
	size_t start_len;
	const uint8_t *end;
	size_t end_len;
	int state;
} hr_meta_region;

int hr_meta_region_put(hr_meta_txn *t, const hr_meta_region *r);
int hr_meta_region_del(hr_meta_txn *t, uint64_t id);
/* 1 if the region has a record, 0 if not, or a negative errno. */
int hr_meta_region_exists(hr_meta_txn *t, uint64_t id);
int hr_meta_region_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_meta_region *r), void *ctx);

typedef struct hr_meta_store {
	uint64_t region_id;
	char family[HR_MAX_NAME + 1];
	uint64_t flushed_seq;
	uint32_t nfiles;
	const uint64_t *files; /* newest first; a view (valid in the txn) */
} hr_meta_store;

int hr_meta_store_put(hr_meta_txn *t, const hr_meta_store *s);
/* Like put, for a store that must be new: -EEXIST if a record exists (a
 * new store never replaces a real file list). */
int hr_meta_store_add(hr_meta_txn *t, const hr_meta_store *s);
int hr_meta_store_del(hr_meta_txn *t, uint64_t region_id, const char *family);
int hr_meta_store_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_meta_store *s), void *ctx);

int hr_meta_wal_put(hr_meta_txn *t, uint64_t seg_id);
int hr_meta_wal_del(hr_meta_txn *t, uint64_t seg_id);
int hr_meta_wal_each(hr_meta_txn *t, int (*fn)(void *ctx, uint64_t seg_id), void *ctx);

/* Snapshot manifests, stored as given. add: -EEXIST if the name is taken;
 * del: -ENOENT if absent. each: in (table, name) order; v valid during fn. */
int hr_meta_snap_add(hr_meta_txn *t, const char *table, const char *name, const void *v,
		     size_t len);
int hr_meta_snap_del(hr_meta_txn *t, const char *table, const char *name);
int hr_meta_snap_each(hr_meta_txn *t,
		      int (*fn)(void *ctx, const char *table, const char *name, const void *v,
				size_t len),
		      void *ctx);

int hr_meta_counter_get(hr_meta_txn *t, const char *name, uint64_t *v); /* 0 if absent */
int hr_meta_counter_put(hr_meta_txn *t, const char *name, uint64_t v);
/* Sets the counter to v unless it already is at least v. */
int hr_meta_counter_raise(hr_meta_txn *t, const char *name, uint64_t v);

#endif
