/*
 * hr_compact.h — compaction: rewriting a store's files into fewer, so reads
 * touch few files and deleted, expired and surplus versions leave the disk
 * (HBase's CompactSplitThread with the ExploringCompactionPolicy).
 *
 * Selection (hr_compact_select, a pure function): over the store's files in
 * sequence-id order (oldest first), every window of min_files..max_files
 * consecutive files in which no file is larger than ratio x the sum of the
 * others (files under min_size always pass) qualifies; the best has the
 * most files, then the fewest bytes. A store with blocking_files or more
 * files where no window qualifies takes the smallest window of min_files
 * (by bytes) anyway, so it never stays stuck.
 *
 * Compacting a store (hr_compact_store): the chosen inputs are merged in
 * hr_kv_cmp order into one new store file (temp, fsync, rename, fsync dir),
 * which is published like a flush: under the region's flush_mu (so a
 * concurrent flush and the compaction never publish from stale file lists)
 * ONE LMDB transaction replaces the inputs by the output in the store's
 * file list, then store->mu swaps the in-memory array (the output takes the
 * inputs' place: files stay newest first) and bumps gen. Inputs are marked
 * deleted and unreferenced: readers holding them keep reading, the last
 * unref unlinks. A crash before the commit leaves an unreferenced output,
 * after it unreferenced inputs; the server's open removes both.
 *   What is kept: a compaction of a subset of the files (minor) keeps every
 * cell except those past the family's TTL (expiry is permanent). One of all
 * of the store's files (a minor selection that happens to cover them all)
 * also drops tombstones and what they mask: that is invisible to every
 * read, because a tombstone only masks cells with a lower seq, and every
 * cell with a lower seq than a file cell is in a file (memstores only hold
 * later edits). A major compaction (all files, on request or by
 * major_interval) keeps exactly the puts the resolver shows at read point
 * UINT64_MAX, so versions beyond max_versions go too; reads never show
 * those anyway (the resolver counts versions the same way), so a
 * time-range read answers the same before and after. One exception: a
 * single-version Delete (HR_DELETE, which the FUSE layer never issues) of
 * a kept version uncovers a surplus one until a major compaction drops it.
 * With keep_deleted_cells (res.compact) deleted puts and the markers that
 * can still mask a kept put stay (HBase's KEEP_DELETED_CELLS=TRUE), still
 * subject to max_versions and TTL.
 *   One compaction per store at a time (store->compacting, claimed with an
 * atomic exchange). Never holds store->mu during I/O. A region that leaves
 * HR_REGION_OPEN, or a server that stops, aborts the compaction (its output
 * is deleted, nothing is published).
 *
 * Threads (hr_compactor): two pools, small and large, each with its own
 * queue; a request whose inputs exceed throttle_size goes to the large one,
 * so a big compaction never delays small ones. A queued request is (region
 * reference, store, major). The small pool's first thread also runs the
 * periodic major compaction check (major_interval, 0 = off): a store is due
 * when its oldest file is older than the interval +-50% jitter (a per-store
 * hash, so regions do not all compact at once), and at most one region is
 * queued per check. All compaction writes together are paced to
 * throughput_limit MB/s (0 = unlimited).
 *
 * Locks: compactor->mu is a leaf (taken with no other engine lock held, or
 * after releasing store->mu). A compaction takes region->flush_mu -> LMDB
 * txn -> store->mu, the same order as a flush.
 */
#ifndef HR_COMPACT_H
#define HR_COMPACT_H

#include <stdint.h>

#include "engine/hr_region.h"

typedef struct hr_compactor hr_compactor;

typedef struct hr_compact_params {
	uint32_t min_files;	/* >= 2 */
	uint32_t max_files;	/* >= min_files */
	uint32_t blocking_files;
	double ratio;
	uint64_t min_size;	/* files smaller than this are always in ratio */
} hr_compact_params;

/* sizes[0..n): file sizes, oldest first. Returns 1 and the window
 * [*start, *start + *count) if one is chosen, 0 if none. */
int hr_compact_select(const uint64_t *sizes, uint32_t n, const hr_compact_params *p,
		      uint32_t *start, uint32_t *count);

/* The server's parameters, from its config. */
void hr_compact_params_from_config(const hr_config *c, hr_compact_params *p);

typedef struct hr_compact_result {
	uint32_t files_in;
	uint64_t bytes_in, bytes_out;	/* file sizes */
	uint64_t cells_in, cells_out;
	int all_files;			/* the garbage-collecting kind */
} hr_compact_result;

enum { HR_COMPACT_MINOR = 0, HR_COMPACT_MAJOR = 1 };

/* Compacts st now, in the calling thread: MINOR compacts what the policy
 * selects, MAJOR all files (even a single one). 1 = compacted, 0 = nothing
 * to do, -EBUSY another compaction of st is running, -ECANCELED region
 * closed or server stopping, other negative errno on I/O failure (logged;
 * the store is unchanged). res may be NULL. */
int hr_compact_store(hr_store *st, int mode, hr_compact_result *res);

/* Queues a compaction of every store of r that qualifies (MINOR: the policy
 * selects something; MAJOR: it has a file). Cheap, never blocks on I/O;
 * a no-op once the compactor stops. Called after each flush. */
void hr_compact_request(hr_server *srv, hr_region *r, int mode);

/* Starts / stops the pools (stop aborts running compactions and drops the
 * queues; a stopped or never started compactor is fine to stop). */
int hr_compact_start(hr_server *srv);
void hr_compact_stop(hr_server *srv);

/* Requests queued or running (for listings and tests). */
uint32_t hr_compact_pending(hr_server *srv);

/* Test hooks, so tests wait on the pools instead of sleeping; they change
 * nothing the pools do.
 * hr_compact_wait_idle: waits at most ns until no request is queued or
 * running and hr_stats' compactions counter is at least min_done; checked
 * under compactor->mu, woken by each pool compaction's end (one run
 * synchronously by another thread is seen at the next, or at the
 * deadline). 0, or -ETIMEDOUT.
 * hr_compact_major_ticks: how often the periodic major check has run (it
 * runs when the small pool's first thread idles a second).
 * hr_compact_wait_ticks: waits at most ns until that count reaches ticks;
 * -ETIMEDOUT if not (always, when major_interval is 0). */
int hr_compact_wait_idle(hr_server *srv, uint64_t min_done, uint64_t ns);
uint64_t hr_compact_major_ticks(hr_server *srv);
int hr_compact_wait_ticks(hr_server *srv, uint64_t ticks, uint64_t ns);

#endif
