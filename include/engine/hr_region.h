/*
 * hr_region.h — the region server's internals: server, tables, regions,
 * stores, MVCC, row locks, read views, merged iterators and the
 * delete/version resolver. Private to engine/; the front end sees only
 * hregionfs.h.
 *
 * Ownership
 * - The server owns its tables; a table owns its regions (sorted by start
 *   key, contiguous, covering the whole key space); a region owns one store
 *   per family. Regions are reference counted: a request finds its region
 *   under srv->map_lock (read), takes a reference and drops the lock.
 * - A store owns its active memstore, its snapshot (while a flush writes
 *   it) and its store files (newest first). A reader takes a view: its own
 *   references to those, so a flush or (later) a compaction can swap them
 *   without waiting for readers.
 *
 * Locks, in the order they may be taken (never the reverse):
 *   srv->snap_mu (snapshots) -> table->gate (rw: writers shared, a snapshot
 *      exclusive; hr_snapshot.h) -> srv->map_lock (rw: tables, table->regions,
 *      schemas; writers release it before they take the gate)
 *   -> region->updates_lock (rw: writers read-lock it for the whole write
 *      path; a flush write-locks it only to swap memstores)
 *   -> row lock (per row, bounded wait, -ETIMEDOUT)
 *   -> region->mvcc.mu -> store->mu -> memstore insert mutex -> WAL mutex
 *   srv->flush_mu (flush queue) is a leaf; srv->scan_mu (open cursors) is
 *   taken with no other lock held and only try-locks a cursor's mutex under
 *   it; LMDB write transactions are taken
 *   with no engine lock held except a region's flush_mu or map_lock (DDL).
 *   region->flush_mu sits between map_lock and updates_lock: it serialises a
 *   region's flushes, its split and a compaction's publish.
 *   One exception: a split takes map_lock while holding the parent's
 *   flush_mu (and, for its commit, its updates_lock); safe because no thread
 *   waits for either of those while holding map_lock.
 * Fields: store->active/snapshot/files/nfiles/flushed_seq/gen and the
 * settings in store->fam (not its name) are guarded by store->mu; region->stores[] is append-only (published by nstores);
 * counters are atomics.
 */
#ifndef HR_REGION_H
#define HR_REGION_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/hr_bcache.h"
#include "engine/hr_fdcache.h"
#include "engine/hr_kv.h"
#include "engine/hr_memstore.h"
#include "engine/hr_meta.h"
#include "engine/hr_sfile.h"
#include "engine/hr_wal.h"
#include "hregionfs.h"

typedef struct hr_region hr_region;
typedef struct hr_table hr_table;

/* ---- MVCC: a region's write queue and read point (HBase's MVCC) ---------- */

typedef struct hr_mvcc_entry {
	uint64_t seq;
	int done;		/* its writer finished applying it */
	int visible;		/* the read point has passed it */
	pthread_cond_t cond;	/* its writer waits here: only the entries the read
				 * point passes are woken, not every writer */
	struct hr_mvcc_entry *next;
} hr_mvcc_entry;

typedef struct hr_mvcc {
	pthread_mutex_t mu;
	atomic_uint_fast64_t read_point; /* all writes with seq <= it are visible */
	hr_mvcc_entry *head, *tail;	 /* in-flight writes in seq order */
} hr_mvcc;

void hr_mvcc_init(hr_mvcc *m, uint64_t read_point);
void hr_mvcc_destroy(hr_mvcc *m);
/* Takes the next server-wide seq and queues e (which the caller keeps
 * alive until hr_mvcc_complete returns). */
void hr_mvcc_begin(hr_mvcc *m, atomic_uint_fast64_t *seq_counter, hr_mvcc_entry *e);
/* Marks e done, advances the read point over the finished prefix and waits
 * until the read point covers e (read-your-writes). */
void hr_mvcc_complete(hr_mvcc *m, hr_mvcc_entry *e);
static inline uint64_t hr_mvcc_read_point(hr_mvcc *m) { return atomic_load(&m->read_point); }
/* The lowest seq still in flight, or UINT64_MAX. */
uint64_t hr_mvcc_min_inflight(hr_mvcc *m);

/* ---- row locks ------------------------------------------------------------ */

#define HR_ROWLOCK_SHARDS 64
typedef struct hr_rowlock_held hr_rowlock_held;
typedef struct hr_rowlock_shard {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	hr_rowlock_held *held;
} hr_rowlock_shard;
typedef struct hr_rowlocks {
	hr_rowlock_shard shard[HR_ROWLOCK_SHARDS];
} hr_rowlocks;

void hr_rowlocks_init(hr_rowlocks *l);
void hr_rowlocks_destroy(hr_rowlocks *l);
/* -ETIMEDOUT after timeout_ms. *token is passed to hr_rowlock_release. */
int hr_rowlock_acquire(hr_rowlocks *l, const uint8_t *row, size_t len, uint32_t timeout_ms,
		       hr_rowlock_held **token);
void hr_rowlock_release(hr_rowlocks *l, hr_rowlock_held *token);

/* ---- stores and views ------------------------------------------------------ */

typedef struct hr_store {
	hr_region *region;
	/* The family's settings: the name never changes; everything else may
	 * (hr_family_alter), under mu. Read them through a copy taken under mu:
	 * hr_store_conf, or the one every view carries. */
	hr_family_schema fam;
	pthread_mutex_t mu;
	hr_memstore *active;
	hr_memstore *snapshot;
	hr_sfile **files;	/* newest first */
	uint32_t nfiles;
	uint64_t flushed_seq;
	uint64_t flushed_seq_pending; /* the seq the snapshot covers */
	atomic_uint_fast64_t gen; /* bumped on every change of the above */
	atomic_int compacting;	/* one compaction at a time (hr_compact.h) */
	char dir[PATH_MAX];
} hr_store;

typedef struct hr_view {
	hr_memstore *ms[2];
	int nms;
	hr_sfile **files;
	uint32_t nfiles;
	uint64_t gen;
	hr_family_schema fam;	/* the store's settings when the view was taken
				 * (hr_store_view: settings only, name empty) */
} hr_view;

int hr_store_view(hr_store *st, hr_view *v);
/* A copy of the store's family settings (taken under st->mu). */
void hr_store_conf(hr_store *st, hr_family_schema *out);
/* Sets the store's settings to f's (not its name), under st->mu. */
void hr_store_set_conf(hr_store *st, const hr_family_schema *f);
/* Copies a family's settings, never its name: names are read without
 * locks (log lines of flushes and compactions), and a view needs no name. */
void hr_family_copy_settings(hr_family_schema *dst, const hr_family_schema *src);
void hr_view_release(hr_view *v);

/* A merge of a view's sources in hr_kv_cmp order. */
typedef struct hr_miter hr_miter;
int hr_miter_open(const hr_view *v, hr_miter **out);
void hr_miter_free(hr_miter *m);
int hr_miter_seek(hr_miter *m, const hr_kv *target);
int hr_miter_valid(const hr_miter *m);
/* 0 when no source can hold a DeleteFamily marker (a get skips that seek) */
int hr_miter_may_have_family_deletes(const hr_miter *m);
const hr_kv *hr_miter_kv(const hr_miter *m);
int hr_miter_next(hr_miter *m);
/* Re-seeks only the memstore sources: a memstore iterator parked on a key
 * misses cells inserted before that key since (a newer version of the same
 * column sorts first), so a reader re-seeks them after taking its read point. */
int hr_miter_reseek_memstores(hr_miter *m, const hr_kv *target);
/* Seeks only the sources that may hold the row (bloom + key range). */
int hr_miter_seek_row(hr_miter *m, const hr_kv *target);

/* ---- resolver: HBase delete and version semantics over ordered cells ------
 * Deletes mask cells with ts <= the marker's ts that were written before
 * the marker (lower seq): HBase's NEW_VERSION_BEHAVIOR, chosen because a
 * filesystem re-creates a name in the same millisecond it removed it
 * ("rm f; echo x > f") and must not lose the new value. Versions are
 * counted as hregionfs.h "Versions and time ranges" says: the retained
 * versions do not depend on the time range, so an answer is the same
 * before and after a compaction. With keep_deleted_cells only markers
 * within [min_ts, max_ts) apply to a read.
 * compact = 1 (a compaction over all of a store's files): EMIT means
 * "keep this cell"; with keep_deleted_cells that is every retained put,
 * deleted or not, and the markers that can still mask one. Without it,
 * compact changes nothing (visible puts are kept, markers dropped). */
typedef struct hr_resolver {
	uint64_t read_point;
	int64_t oldest_ts;	/* TTL cut-off: older cells are expired */
	uint32_t max_versions;	/* retained versions per column */
	int64_t min_ts, max_ts; /* [min, max) filter; 0 = none */
	int keep_deleted;	/* the family's keep_deleted_cells */
	int compact;
	int history;		/* HR_GET_HISTORY: with keep_deleted, no marker applies */
	uint8_t *row;
	size_t row_len, row_cap;
	struct { int64_t ts; uint64_t seq; } *fam;
	size_t nfam, fam_cap;
	uint8_t *qual;
	size_t qual_len, qual_cap;
	int have_col;
	uint64_t col_del_seq;
	int64_t ver_del_ts;
	uint64_t ver_del_seq;
	uint32_t versions;	/* retained versions of the column seen so far */
	int have_put;		/* a put of this column was seen, at last_put_ts */
	int64_t last_put_ts;
} hr_resolver;

enum { HR_RES_SKIP = 0, HR_RES_EMIT = 1, HR_RES_COLUMN_DONE = 2 };

void hr_resolver_init(hr_resolver *r, const hr_family_schema *f, uint64_t read_point);
void hr_resolver_free(hr_resolver *r);
void hr_resolver_reset_row(hr_resolver *r);
int hr_resolve(hr_resolver *r, const hr_kv *kv);

/* ---- regions and tables ---------------------------------------------------- */

struct hr_region {
	hr_server *srv;
	hr_table *table;
	uint64_t id;
	uint8_t *start, *end; /* len 0 = unbounded */
	size_t start_len, end_len;
	atomic_int state;	/* enum hr_region_state */
	atomic_int refs;
	pthread_rwlock_t updates_lock;
	pthread_mutex_t flush_mu; /* one flush of this region at a time */
	atomic_int flush_queued;
	/* after a failed flush (its snapshot stays): automatic flush requests
	 * wait until flush_retry_ns (hr_mono_ns), doubling per failure, and the
	 * chore retries then; hr_flush always tries */
	atomic_uint flush_failures;
	atomic_uint_fast64_t flush_retry_ns;
	atomic_uint_fast64_t mem_bytes; /* active + snapshot bytes of all stores */
	/* the highest timestamp stamped by the server in this region (or found
	 * in its files and replayed edits at open): stamps never go below it */
	atomic_int_fast64_t last_ts;
	/* server mode (hr_host.h): set under updates_lock (write) when the
	 * region is being closed; writers see it under their read lock and
	 * retry (-ESTALE), then find the region gone from the map (-EREMOTE) */
	atomic_int closing;
	hr_mvcc mvcc;
	hr_rowlocks locks;
	hr_store *stores[HR_MAX_FAMILIES];
	atomic_uint nstores;
	char dir[PATH_MAX];
};

/* A table is referenced by the map (until dropped) and by each of its
 * regions, so a region outliving a drop (held by a queued flush, a
 * compaction, the split chore, a scan) still reads a valid table: its
 * schema, and no regions (the drop empties the list). */
struct hr_table {
	hr_table_schema schema;
	hr_region **regions;
	size_t nregions;
	atomic_int refs;
	/* the write gate (hr_snapshot.h): every row mutation holds it shared
	 * from before its region's updates_lock to after; a snapshot holds it
	 * exclusive while it flushes the table and takes its file lists */
	pthread_rwlock_t gate;
	/* row mutations, gets and scans of the table (its metrics) */
	atomic_uint_fast64_t puts, gets, scans;
};

void hr_region_ref(hr_region *r);
void hr_region_unref(hr_region *r);
hr_store *hr_region_store(hr_region *r, const char *family);
uint64_t hr_region_memstore_bytes(hr_region *r);
/* adds delta to the region's and the server's memstore byte counts */
void hr_region_mem_add(hr_region *r, int64_t delta);
int hr_region_contains(const hr_region *r, const uint8_t *row, size_t len);
/* Index of the region of regs[0..n) (sorted by start key, n > 0) that
 * holds row: the last one whose start <= row. */
size_t hr_regions_find(hr_region *const *regs, size_t n, const uint8_t *row, size_t len);
/* The server timestamp for a cell written now: max(now, last_ts), which
 * becomes the new last_ts. Timestamps never go backwards within a region,
 * so a delete issued after a put masks it even if the clock stepped back
 * (equal timestamps are ordered by seq). Lock-free. */
int64_t hr_region_stamp(hr_region *r, int64_t now);
/* Raises last_ts to ts if lower (open: store files' max_ts, replayed edits). */
void hr_region_note_ts(hr_region *r, int64_t ts);

/* ---- server ---------------------------------------------------------------- */

struct hr_server {
	hr_config cfg;
	hr_io *io;		/* every file operation goes through it (not owned) */
	/* storage=rados opened by hr_server_open_io itself: owned, closed last */
	hr_io *own_io;
	struct hr_rados *rados;
	int lock_token;		/* hr_io_lock's, -1 when not held */
	char meta_dir[PATH_MAX], wal_dir[PATH_MAX], store_dir[PATH_MAX];
	hr_meta *meta;
	hr_wal *wal;
	hr_bcache *bc;
	hr_fdcache *fdc;

	pthread_rwlock_t map_lock;
	hr_table **tables;
	size_t ntables;

	atomic_uint_fast64_t seq;
	atomic_uint_fast64_t next_file_id;
	atomic_uint_fast64_t next_region_id;
	atomic_uint_fast64_t memstore_total;

	/* segments found at open, handed to the WAL (hr_wal_adopt) once it is
	 * open so that it purges them like its own closed ones; only open uses it */
	hr_wal_seg *old_segs;
	size_t nold;
	/* damaged segments found at open (hr_wal.h: CORRUPT or IGNORED), moved
	 * to wal/corrupt/ at the end of open once their edits are flushed */
	hr_wal_replay_seg *aside;
	size_t naside;
	/* regions LMDB lists under a table it does not have (open only: their
	 * directories are left alone) */
	uint64_t *ignored;
	size_t nignored;

	/* flush queue and background threads */
	pthread_mutex_t flush_mu;
	pthread_cond_t flush_cond, flush_done, chore_cond; /* chore_cond: the chore's tick, so a
								* flush signal never wakes it instead of a flusher */
	pthread_cond_t chore_done;	/* a chore round ended (tests wait on it) */
	uint64_t chore_rounds;		/* flush_mu: chore rounds ended */
	hr_region **fq;
	size_t fq_len, fq_cap;
	int stopping;
	pthread_t *flushers;
	uint32_t nflushers;
	pthread_t chore;
	int chore_started;

	/* test hook: HREGIONFS_TEST_FLUSH_DELAY_MS makes every flush this slow, so
	 * tests can drive the back-pressure paths */
	uint32_t test_flush_delay_ms;
	/* test hook: when set, a failed flush is retried only by hr_flush,
	 * never by the chore, so a test can inspect the disk and the fds
	 * right after a failed flush with no flush running behind it */
	atomic_int test_no_flush_retry;
	int64_t offline_wal_warn_ms; /* the chore's last "OFFLINE region keeps the WAL" */

	struct hr_compactor *compactor; /* compaction pools (hr_compact.h) */

	/* open cursors, for scanner leases (scan.c); scan_mu is taken with no
	 * other engine lock held, and try-locks a cursor's own mutex */
	pthread_mutex_t scan_mu;
	struct hr_scan *scanners;
	atomic_uint_fast64_t lease_clock_ms; /* hr_scan_clock_ms at the chore's last tick */

	/* snapshots (hr_snapshot.h): the catalog of manifests in (table, name)
	 * order and the open read handles, under snap_mu */
	pthread_mutex_t snap_mu;
	struct hr_snap_manifest **snaps;
	size_t nsnaps;
	struct hr_snap **snap_open;
	size_t nsnap_open;
	uint64_t next_snap_id;
	char archive_dir[PATH_MAX];

	struct {
		atomic_uint_fast64_t puts, gets, scans, flushes, flush_bytes, blocked, splits;
		atomic_uint_fast64_t compactions, compaction_bytes_in, compaction_bytes_out;
		/* found by the WAL replay at open (hr_wal.h) */
		atomic_uint_fast64_t wal_torn_tails, wal_corrupt_records, wal_corrupt_segments;
		/* writes refused after snapshot_gate_timeout_ms at a table's gate */
		atomic_uint_fast64_t gate_timeouts;
		atomic_uint_fast64_t blocked_gate; /* writes that waited for a snapshot */
	} st;
	/* test hook: called by a snapshot or a restore while it holds a table's
	 * gate exclusive (so a test can prove a writer's bounded wait) */
	void (*test_gate_hook)(void *ctx);
	void *test_gate_ctx;
	/* hr_server_set_table_events: set before other threads use the server */
	hr_table_event_fn table_events;
	void *table_events_ctx;

	/* server mode (hr_host.h; cfg.server_name non-empty). host_mu guards
	 * the block of store-file ids taken from meta's "next_file_id" counter
	 * [fid_next, fid_end); the split hooks are set before serving. */
	int host;
	pthread_mutex_t host_mu;
	uint64_t fid_next, fid_end;
	int (*split_before)(void *ctx, uint64_t parent);
	void (*split_after)(void *ctx, uint64_t parent, uint64_t a, uint64_t b, int err);
	void *split_ctx;

	/* metrics (hr_metrics.h): the registry, and the latency histograms of
	 * the hot paths (NULL series when metrics_histograms is off: no clock
	 * is read for them) */
	struct hr_metrics *metrics;
	struct {
		int on;
		int64_t start_ms;	/* when the server was opened (wall clock) */
		struct hr_series *put, *get, *scan_next, *wal_sync, *flush, *compaction;
	} mx;

	/* cluster mode (cfg.cluster set): every public entry point goes to
	 * engine/client/ and nothing above but cfg and metrics is set up */
	struct hr_client *client;
};

/* Finds the region holding row and references it; -ENOENT no table. */
int hr_server_locate(hr_server *srv, const char *table, const uint8_t *row, size_t len,
		     hr_region **out, hr_table_schema *schema_out);

/* flush.c */
int hr_region_flush(hr_region *r);
void hr_flush_request(hr_server *srv, hr_region *r); /* r NULL: for global memory */
/* Waits at most ns for a flush to finish (for writers held back by memory). */
void hr_flush_wait(hr_server *srv, uint64_t ns);
/* Test hooks on the chore thread, whose rounds (every 200 ms: interval and
 * WAL-driven flush requests, scanner leases, then the splits) are the only
 * place automatic splits happen. hr_chore_rounds: rounds ended so far;
 * hr_chore_wait: waits at most ns until that count reaches n (0, or
 * -ETIMEDOUT). A round that ends after one that began after an event has
 * looked at the state that event left. They change nothing the chore does. */
uint64_t hr_chore_rounds(hr_server *srv);
int hr_chore_wait(hr_server *srv, uint64_t n, uint64_t ns);
int hr_flusher_start(hr_server *srv);
void hr_flusher_stop(hr_server *srv);
void hr_wal_maintain(hr_server *srv);

/* split.c: split at key (a row strictly inside the region); by policy */
int hr_region_split(hr_region *r, const uint8_t *key, size_t klen);
int hr_split_maybe(hr_server *srv, hr_region *r);

/* store files on disk */
int hr_store_file_path(const hr_store *st, uint64_t file_id, int tmp, char *buf, size_t len);

#endif
