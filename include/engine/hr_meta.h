/*
 * hr_meta.h — the region metadata (the role of hbase:meta), in LMDB on one
 * machine or in the omap of one RADOS object shared by several servers.
 *
 * Databases (record formats in hr_format.h, "Region metadata in RADOS"):
 *   tables   table name                  -> schema (families and settings)
 *   regions  region id (u64 big-endian)  -> table, start key, end key, state
 *   stores   region id (BE) | family     -> flushed seq id, store-file ids
 *   wal      segment id (BE)             -> (empty): WAL segments that exist
 *   counters name                        -> u64 (next region / file id)
 *   snapshots table | 0x00 | name        -> snapshot manifest (hr_format.h,
 *                                           "Snapshot manifests"; opaque here)
 * Every *_each walks its database in key order (bytewise, shorter first).
 * Every change the engine makes is one write transaction (hr_meta_txn_*),
 * committed atomically: a crash leaves the metadata at a transaction
 * boundary. Each write commit is first announced to the I/O seam
 * (hr_io_meta_commit), which may refuse it (nothing is written and the
 * commit returns that error). An hr_meta_txn is used by the thread that
 * began it. Views handed to callbacks (region keys, store file lists,
 * snapshot manifests) are valid during the callback only.
 *
 * Backends
 * - LMDB (hr_meta_open, <data>/meta): write transactions are serialised
 *   (across processes too); a read transaction is a consistent snapshot.
 * - RADOS (hr_meta_open_rados, storage=rados): the omap of one object
 *   (HR_META_RADOS_OBJECT) in the ioctx's pool and namespace. A write
 *   transaction buffers its puts and deletes (reads inside it see them) and
 *   commits them as ONE RADOS write operation, atomic on the OSD. Write
 *   transactions of one hr_meta are serialised in the process (a mutex
 *   from begin to commit/abort, like LMDB's writer lock). Across processes
 *   every decision a write transaction made on a committed record (the
 *   -EEXIST of store_add and snap_add, snap_del's -ENOENT, region_exists,
 *   counter_get) is re-checked at commit by an omap compare in the same
 *   operation: if another process changed such a record meanwhile, the
 *   commit writes nothing and returns -EAGAIN (redo the transaction).
 *   counter_raise is applied at commit as max(stored, v) with a
 *   compare-and-swap, retried internally, so concurrent raises never fail
 *   or go backwards. A read transaction is NOT a snapshot: each call sees
 *   the records committed when it runs (an *_each pages through the omap,
 *   so a walk concurrent with another process's commit may see part of
 *   it). That is enough because a region server is the only writer of its
 *   regions' records and of its WAL records; whatever else is shared
 *   (tables, counters, snapshots) is changed with the checks above.
 *   WAL records belong to a WAL owner (the server name given at open; ""
 *   in single-node mode): hr_meta_wal_* see only the owner's records.
 */
#ifndef HR_META_H
#define HR_META_H

#include <stddef.h>
#include <stdint.h>

#include <rados/librados.h>

#include "engine/hr_io.h"
#include "hregionfs.h"

typedef struct hr_meta hr_meta;
typedef struct hr_meta_txn hr_meta_txn;

/* The object holding the metadata in storage=rados (in the ioctx's
 * namespace: one per data directory by default). */
#define HR_META_RADOS_OBJECT "hregionfs.meta"

/* LMDB in dir (created). io: the seam told of every write commit (not
 * owned). */
int hr_meta_open(const char *dir, hr_io *io, hr_meta **out);
/* RADOS: the object HR_META_RADOS_OBJECT in ioctx (not owned; outlives the
 * hr_meta), created if missing. wal_owner: whose WAL records
 * hr_meta_wal_* see ("" single-node; no '/'). -EINVAL for a bad owner,
 * -EIO for an object written by an unknown format version, or librados'
 * error (-ETIMEDOUT when the cluster does not answer). */
int hr_meta_open_rados(rados_ioctx_t ioctx, const char *wal_owner, hr_io *io, hr_meta **out);
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
	const uint8_t *start; /* views (valid during the callback) */
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
	const uint64_t *files; /* newest first; a view (valid during the callback) */
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
/* Hands out n ids: *first = max(counter, floor), the counter becomes
 * *first + n, in one commit of its own (announced to the seam); safe
 * against other processes allocating at the same time (two callers never
 * get overlapping ranges). Not inside a write transaction of the same
 * thread (LMDB would wait for itself). */
int hr_meta_counter_alloc(hr_meta *m, const char *name, uint64_t n, uint64_t floor,
			  uint64_t *first);

/* ---- a closed data directory's metadata, for offline tools (hregionctl):
 * opened the way hr_server_open opens it, whatever the storage. */
typedef struct hr_meta_dir {
	hr_meta *meta;
	hr_io *io; /* the seam its files are read through (hr_io_posix or io_rados) */
	struct hr_rados *rados; /* storage=rados: the connection (owned) */
	hr_io *own_io;		/* storage=rados: io (owned) */
} hr_meta_dir;

struct hr_config;
/* 1 if cfg->data_dir is a data directory an engine has opened (its LMDB,
 * or for storage=rados its lock file: the metadata is remote), 0 if not;
 * the local path checked goes to what (for messages). Creates nothing. */
int hr_meta_dir_exists(const struct hr_config *cfg, char *what, size_t len);
/* Opens cfg's metadata and I/O seam (-ENOENT: storage=rados and no
 * metadata object in the namespace: not a data directory). */
int hr_meta_dir_open(const struct hr_config *cfg, hr_meta_dir *d);
void hr_meta_dir_close(hr_meta_dir *d);

#endif
