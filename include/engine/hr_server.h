/*
 * hr_server.h — server internals shared by the files of engine/server: the table
 * map (guarded by srv->map_lock: callers hold it, read or write, as each
 * function says) and the WAL edit codec.
 *
 * WAL edit (the payload of one WAL record; the seq is in the record frame;
 * also in hr_format.h, "WAL edits"):
 *   u64 region id | u16 row_len | row | u16 ncells |
 *   ncells x ( u8 family_len | family | hr_kv encoding with row_len 0 and
 *              seq 0: qualifier, ts, type, value, tags )
 * The hr_kv encoding is the one the record's WAL segment version names:
 * version 1 = hr_kv format 1 (no tags), version 2 = format 2 (tags_len and
 * tags; deletes carry none). Writers write HR_WAL_VERSION.
 */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include "engine/hr_region.h"

/* hr_server_open over a given I/O seam (tests pass a fault-injecting one;
 * NULL = hr_io_posix());
 * io is not owned and must outlive the server. */
int hr_server_open_io(const hr_config *cfg, hr_io *io, hr_server **out);

/* map_lock held (read or write) */
hr_table *hr_server_table(hr_server *srv, const char *name);
hr_region *hr_server_region_by_id(hr_server *srv, uint64_t id);
/* Takes map_lock itself: references every region of the table (NULL = of
 * every table), in map order; -ENOENT if the table does not exist.
 * Release with hr_regions_release. */
int hr_server_regions(hr_server *srv, const char *table, hr_region ***out, size_t *n);
void hr_regions_release(hr_region **rs, size_t n);
/* map_lock held for write */
int hr_server_table_add(hr_server *srv, hr_table *t);
int hr_table_add_region(hr_table *t, hr_region *r);
/* A new table (one reference: the caller's, which becomes the map's). */
hr_table *hr_table_new(const hr_table_schema *schema);
void hr_table_ref(hr_table *t);
void hr_table_unref(hr_table *t);
/* The map lets the table go (close, drop): its regions lose the map's
 * references, its region list empties, and the map's reference goes. */
void hr_table_release(hr_table *t);
/* After the commit that took t out of LMDB and out of the map (drop,
 * restore): closes its regions, retires their files, removes their
 * directories, and releases the map's reference (table.c). */
void hr_table_retire(hr_server *srv, hr_table *t);

int hr_region_new(hr_server *srv, hr_table *t, uint64_t id, const uint8_t *start,
		  size_t start_len, const uint8_t *end, size_t end_len, hr_region **out);
int hr_region_add_store(hr_region *r, const hr_family_schema *f);
/* A store for r (its directory created and synced into its parent), not
 * yet part of r: hr_region_attach_store publishes it, hr_store_free
 * discards it. */
int hr_store_new(hr_region *r, const hr_family_schema *f, hr_store **out);
void hr_store_free(hr_store *st);
/* Appends st to r's stores (r has fewer than HR_MAX_FAMILIES). */
void hr_region_attach_store(hr_region *r, hr_store *st);
/* Allocates n consecutive region ids from meta's counter
 * (hr_meta_counter_alloc: never the same ids to two servers sharing a
 * meta) before anything is created under them: at open, a region
 * directory with an id below the recorded counter is known to be this
 * engine's. */
int hr_region_ids_reserve(hr_server *srv, unsigned n, uint64_t *first);

/* A new store-file id, unique among every server sharing the meta in
 * server mode (the block cache is keyed by file id). */
int hr_server_file_id(hr_server *srv, uint64_t *id);
/* Sets st's flushed seq and opens the store files of its meta record
 * (raising srv's seq, file-id counter and r's timestamp floor); a file that
 * does not open makes r OFFLINE. */
int hr_server_load_store(hr_server *srv, hr_region *r, hr_store *st, const hr_meta_store *ms);
/* Removes the crash leftovers in the directories of r's stores (temp
 * files, store files they do not list) and moves what it does not
 * understand to lost/, as a single-node open does; directories of families
 * r does not have are left alone (another server may know a newer schema).
 * r must be loaded and not yet serving (server mode: hr_host_open_region). */
void hr_server_region_leftovers(hr_server *srv, hr_region *r);
/* host.c: server-mode open (after meta is open, instead of loading regions,
 * cleaning leftovers and replaying the WAL): tables from meta, counters */
int hr_host_load(hr_server *srv);

int hr_host_wal_dir(const hr_config *cfg, char *buf, size_t len);

/* Moves path (rel: its path below the data directory) into lost/ with a
 * warning; 0 if moved. Recovery never deletes what it does not understand. */
int hr_server_move_aside(hr_server *srv, const char *path, const char *rel, const char *why);

/* Tells the front end's table-event callback (if any) that table changed
 * (event.c; call with no engine lock held). */
void hr_server_notify_table(hr_server *srv, const char *table, int event);

/* hr_wal_purge's on_delete: drops a segment from LMDB */
int hr_server_wal_forget(void *srv, uint64_t seg_id);

/* scan.c: scanner leases. Releases the region and views of every open
 * cursor idle (no hr_scan_next) for scanner_lease_ms or more at now_ms (on
 * the lease clock, hr_scan_clock_ms; tests pass a later one); a cursor in
 * use is skipped, never waited for. Returns how many it released. Takes
 * srv->scan_mu. */
int hr_scan_expire_idle(hr_server *srv, uint64_t now_ms);
/* The chore's tick: advances srv->lease_clock_ms (cursors stamp their last
 * use with it) and expires idle cursors. */
void hr_scan_lease_tick(hr_server *srv);
/* The lease clock: monotonic milliseconds, coarse (a few ms). */
uint64_t hr_scan_clock_ms(void);

typedef struct hr_wal_edit {
	uint64_t region_id;
	const uint8_t *row;
	uint32_t row_len;
	uint32_t ncells;
	const uint8_t *cells, *cells_end;
} hr_wal_edit;

/* Encodes an edit (WAL version HR_WAL_VERSION) into a malloc'd buffer. */
int hr_wal_edit_encode(uint64_t region_id, const uint8_t *row, size_t row_len,
		       const hr_mcell *cells, size_t n, uint8_t **out, size_t *len);
int hr_wal_edit_decode(const void *payload, size_t len, hr_wal_edit *ed);
/* Decodes the next cell at *p (advanced) of an edit written in WAL version
 * `version`; kv.row/row_len/seq left for the caller. */
int hr_wal_cell_decode(const uint8_t **p, const uint8_t *end, uint32_t version, char *family,
		       hr_kv *kv);
/* Replays the edit of WAL record seq (of a segment in WAL version
 * seg_version) into r's memstores: all its cells or none (every cell is
 * decoded first), skipping the cells of a store that flushed seq already.
 * Returns the number of cells applied, -EBADMSG if a cell does not decode
 * (nothing applied: the caller logs and skips the record), or the
 * memstore's error. The caller excludes writers (open, or a region not yet
 * serving). */
int hr_wal_edit_apply(hr_region *r, const hr_wal_edit *ed, uint32_t seg_version, uint64_t seq);

#endif
