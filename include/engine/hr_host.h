/*
 * hr_host.h — the engine's server mode (cluster mode's region server):
 * an hr_server that hosts only the regions it is told to host, over
 * storage and meta shared with other servers, so that regions move
 * between servers (HBase's region open/close) and a dead server's regions
 * are recovered from its WAL (HBase's WAL split).
 *
 * Server mode: hr_config.server_name non-empty (set by hregionfs-server,
 * "host,port,startcode": a new name every start, so a server never finds
 * WAL segments of its own at open). Then hr_server_open:
 * - loads the tables from meta but opens no region, replays no WAL and
 *   cleans no leftovers: the files under the data directory belong to
 *   every server, and what looks abandoned to one may be another's work in
 *   progress;
 * - takes no data-directory lock (the directory is shared; the server name
 *   is unique);
 * - writes its WAL in <data>/wal/<server_name>/ (hr_fname_server_wal_dir);
 * - allocates region ids and store-file ids from meta's counters in
 *   blocks, so two servers never hand out the same id (the block cache is
 *   keyed by file id).
 * Single-node mode (server_name empty) is unchanged.
 *
 * Schemas: DDL runs on one server at a time (the master). A region open
 * first adds the tables and families meta has and this server lacks
 * (another server's DDL); hr_family_add starts from meta's schema. Family
 * settings altered elsewhere (hr_family_alter) are not followed by a
 * server that loaded the table before (known limit). The public
 * hr_table_create/hr_table_drop keep their single-node meaning (create
 * and host / drop what is hosted); cluster DDL uses hr_host_table_*.
 * Snapshots, exports and restores are single-node features: not loaded
 * in server mode.
 *
 * hr_server_close never flushes: a server closed with regions still hosted
 * leaves their edits in its WAL, to be recovered as after a crash (close
 * the regions first for a clean stop: a server closed with no region
 * hosted removes its own WAL directory, so hr_host_wal_retire of it then
 * answers -ENOENT).
 *
 * Every read, write, scan or admin call on a row whose region this server
 * does not host returns -EREMOTE (HBase's NotServingRegionException): the
 * client drops its cached location and asks the master again. A table the
 * server has never heard of is -ENOENT as before; a table it knows but
 * whose region for the row is not hosted is -EREMOTE.
 *
 * Sequence ids and timestamps: a region's cells carry the seq of the
 * server that wrote them. Opening a region raises this server's seq above
 * the region's flushed seqs and every replayed seq, and the region's
 * timestamp floor above every timestamp in its files and replayed edits,
 * so edits made here after the open always sort after the recovered ones
 * (a delete made here masks a recovered put; a recovered delete masks
 * nothing written later).
 *
 * Thread-safety: every function may be called from any thread, concurrently
 * with reads and writes; hr_host_open_region / hr_host_close_region /
 * hr_host_table_* for the same region or table must not race with each
 * other (the caller, the server program's order executor, serialises
 * them). In single-node mode they return -EOPNOTSUPP.
 */
#ifndef HR_HOST_H
#define HR_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "hregionfs.h"

/* 1 if srv runs in server mode. */
int hr_host_mode(const hr_server *srv);

/* Opens region_id here: reloads the tables, regions and stores from meta
 * (so tables created and regions split by another server since we opened
 * are known), replays the edits of this region with seq above its stores'
 * flushed seqs from the WAL directories of the named dead servers
 * (recover_from[0..n), server names; n = 0 for a region closed cleanly),
 * flushes them with one publish, raises seq and timestamp floors (above),
 * then serves it. A crash anywhere before the publish leaves meta as it
 * was: the next open replays the same edits again. The dead servers' WAL
 * directories are only read (hr_host_wal_retire removes them).
 * -ENOENT: the region is not in meta (dropped, or a split parent already
 * replaced by its daughters); -EALREADY: hosted here already; -EUCLEAN: a
 * dead server's WAL is damaged beyond what cfg.wal_recovery tolerates
 * (nothing opened). */
int hr_host_open_region(hr_server *srv, uint64_t region_id, const char *const *recover_from,
			size_t n);

/* hr_host_open_region for several regions with one pass over each dead
 * server's WAL (a dead server's regions are best reopened together: each
 * pass reads its whole WAL). results[i] (if not NULL) gets the outcome of
 * ids[i] as hr_host_open_region would return it; one region failing does
 * not stop the others. Returns 0 if every region opened, a negative errno
 * that concerns them all (bad arguments, a damaged WAL, meta unreadable:
 * then none opened), or the first failed region's result. */
int hr_host_open_regions(hr_server *srv, const uint64_t *ids, size_t nids,
			 const char *const *recover_from, size_t n, int *results);

/* Stops hosting region_id: new requests get -EREMOTE at once, writes in
 * flight finish, the region is flushed (its edits then live in store files,
 * so no WAL is needed to open it elsewhere; until then our WAL keeps them)
 * and closed. Open scanners of it get -EREMOTE once it is closed (when
 * they next move to a row). -ENOENT: not hosted here; -EALREADY: a close
 * of it is running. On a flush failure the region stays hosted and
 * serving, and the error is returned (the master retries or treats this
 * server as dead). */
int hr_host_close_region(hr_server *srv, uint64_t region_id);

/* The ids of the regions hosted here, ascending (malloc'd; free()). */
int hr_host_regions(hr_server *srv, uint64_t **ids, size_t *n);

/* Creates a table in meta with one region covering the whole key space,
 * opened nowhere (the master assigns it); *region_id its id. -EEXIST if the
 * table exists in meta. */
int hr_host_table_create(hr_server *srv, const hr_table_schema *schema, uint64_t *region_id);

/* Drops a table from meta and removes its files. The caller (the master)
 * has closed its regions on every server first; regions of it still hosted
 * here are closed without a flush. -ENOENT if meta does not have it. */
int hr_host_table_drop(hr_server *srv, const char *table);

/* Split hooks (the master's region-in-transition bookkeeping). before runs
 * before a split of parent starts (by policy or hr_split); non-zero
 * refuses the split (the split returns that error, or -EBUSY if it is
 * positive). after runs once the split ended: err 0 and the daughters' ids
 * (both hosted here, serving) on success, or err < 0 and daughters 0 when
 * it failed after before accepted it (the parent is then hosted as
 * before). Called without engine locks held, from the splitting thread.
 * Set before the server serves, or with no split running. NULL: none. */
typedef int (*hr_host_split_before_fn)(void *ctx, uint64_t parent);
typedef void (*hr_host_split_after_fn)(void *ctx, uint64_t parent, uint64_t daughter_a,
				       uint64_t daughter_b, int err);
void hr_host_set_split_hooks(hr_server *srv, hr_host_split_before_fn before,
			     hr_host_split_after_fn after, void *ctx);

/* Meta's regions (every server's, hosted or not), in (table, start key)
 * order; table NULL = of every table, else -ENOENT if meta has no such
 * table. For the master: assignment, reconciliation, LOCATE. Release with
 * hr_host_meta_regions_free. */
typedef struct hr_host_region_desc {
	uint64_t id;
	char table[HR_MAX_NAME + 1];
	uint8_t *start, *end;	/* malloc'd; len 0 = unbounded */
	size_t start_len, end_len;
} hr_host_region_desc;
int hr_host_meta_regions(hr_server *srv, const char *table, hr_host_region_desc **out,
			 size_t *n);
void hr_host_meta_regions_free(hr_host_region_desc *v, size_t n);

/* Adds to this server the tables and families meta has and it lacks
 * (another server's DDL). Region opens do it themselves. */
int hr_host_refresh(hr_server *srv);

/* What hr_table_schema_get and hr_table_list answer in server mode: meta's
 * tables, not this server's map. The map knows the tables loaded at open
 * and those of regions opened here since, so a master asked about a table
 * another master created, whose regions it does not host, would answer
 * -ENOENT for a table that exists (a mount then fails every write into it
 * with ENOENT) — and would still list a table another server dropped. */
int hr_host_table_schema(hr_server *srv, const char *table, hr_table_schema *out);
int hr_host_table_list(hr_server *srv, char ***names, size_t *n);

/* Removes the WAL directory of a dead server (its name), once every region
 * it hosted was reopened with it in recover_from. -ENOENT if there is none;
 * -EINVAL if dead_server is this server or not a plain name. */
int hr_host_wal_retire(hr_server *srv, const char *dead_server);

#endif
