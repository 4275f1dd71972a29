/*
 * hregionfs.h — the public API of the hregionfs storage engine (an embedded,
 * HBase-style region server). This is the only engine header a front end
 * (the FUSE layer in fs/, or any other) may include, together with
 * hr_config.h and hr_log.h.
 *
 * Contract
 * - Every function is thread-safe: many threads may call into one server at
 *   once. Functions return 0 (or a documented non-negative count) on success
 *   and a negative errno on failure; they never print and never exit.
 * - Data model (HBase's): a table has column families declared in its
 *   schema. A cell is (row, family, qualifier, timestamp, type, value). Rows
 *   are 1..HR_MAX_ROW bytes, qualifiers 0..HR_MAX_QUALIFIER bytes, both
 *   arbitrary binary. Family names match [A-Za-z0-9_.-]+ and do not start
 *   with '.'. Timestamps are milliseconds since the epoch.
 * - Sort order: row asc (memcmp, shorter first on a tie), family asc,
 *   qualifier asc, timestamp desc, type desc (a delete wins at equal ts),
 *   sequence id desc.
 * - A row mutation (hr_mutate) is atomic: readers see all of its cells or
 *   none. When hr_mutate returns 0 the mutation is in the write-ahead log:
 *   durability "os" = survives a kill -9 of the process; "fsync" (or
 *   HR_MUT_SYNC, or a later hr_sync) = survives power loss.
 * - Retryable conditions: -EBUSY (region over its memory limit or a row lock
 *   wait timed out: -ETIMEDOUT) and -ESTALE (the region closed or moved while
 *   the call ran). A front end retries these with backoff.
 * - Memory returned to the caller (hr_value.data and .tags, arrays from
 *   *_list) is malloc'd and owned by the caller (free() / the matching
 *   *_free).
 *   Pointers inside an hr_scan_entry belong to the cursor and stay valid
 *   until the next hr_scan_next or hr_scan_close on that cursor.
 * - A cursor (hr_scan) is used by one thread at a time. Its memory does not
 *   grow with the table size. Each row it returns is read at one MVCC read
 *   point, so a row mutation is never seen in part. A cursor left idle for
 *   scanner_lease_ms (HBase's scanner lease) gives up the memstores and
 *   store files it pins; its next hr_scan_next goes on exactly after the
 *   last entry it returned (a row it was inside is finished at its own read
 *   point, or, if a compaction meanwhile retired a file it was read from,
 *   at a new one: no entry is repeated or skipped either way).
 */
#ifndef HREGIONFS_H
#define HREGIONFS_H

#include <stddef.h>
#include <stdint.h>

#include "hr_config.h"

#define HR_VERSION_STRING "0.1.0"

#define HR_MAX_ROW 32767
#define HR_MAX_QUALIFIER 65535
#define HR_MAX_NAME 255 /* table and family names */
#define HR_MAX_FAMILIES 64

/* Cell types, numbered as HBase's KeyValue.Type so that "type desc" puts
 * deletes before puts at an equal timestamp. */
enum hr_cell_type {
	HR_PUT = 4,
	HR_DELETE = 8,		/* one version: exactly ts */
	HR_DELETE_COLUMN = 12,	/* every version of the column with ts <= ts */
	HR_DELETE_FAMILY = 14,	/* every column of the family in the row, <= ts */
};

/* "No timestamp given": the server stamps the cell with its clock after
 * the row lock is taken. For deletes it means "everything up to now". */
#define HR_TS_NOW INT64_MAX

typedef struct hr_server hr_server;

/* ---- server lifecycle ---------------------------------------------------- */

/* Opens (creating if needed) the server on cfg->data_dir: loads the
 * metadata, removes crash leftovers, replays the WAL, starts the background
 * threads. A second open of the same data_dir from any process fails with
 * -EBUSY (lock file). The config is copied. */
int hr_server_open(const hr_config *cfg, hr_server **out);

/* Stops background work, syncs the WAL and closes every file. Flushes
 * nothing it need not: the next open replays the WAL. NULL is a no-op. */
int hr_server_close(hr_server *srv);

/* Makes everything acknowledged so far durable (WAL fdatasync). */
int hr_sync(hr_server *srv);

/* ---- schema ---------------------------------------------------------------- */

typedef struct hr_family_schema {
	char name[HR_MAX_NAME + 1];
	uint32_t max_versions;	/* default 1 */
	int64_t ttl_ms;		/* 0 = forever (the default) */
	uint32_t block_size;	/* default 64 KiB */
	uint8_t bloom;		/* HR_BLOOM_NONE or HR_BLOOM_ROW (default) */
	uint8_t compression;	/* HR_COMPRESSION_*: store-file blocks (default none) */
	/* HBase's KEEP_DELETED_CELLS (default 0): 1 = deleted cells stay
	 * readable by time-range reads that end before their delete marker,
	 * and compactions keep them (and their markers), still subject to
	 * max_versions and ttl_ms. See "Versions and time ranges" below. */
	uint8_t keep_deleted_cells;
} hr_family_schema;

enum { HR_BLOOM_NONE = 0, HR_BLOOM_ROW = 1 };
/* Per data block of the store files a flush or compaction writes (the
 * WAL and memstores are never compressed; hr_format.h). A block that does
 * not shrink is stored raw. zstd uses the zstd_level of the configuration. */
enum { HR_COMPRESSION_NONE = 0, HR_COMPRESSION_LZ4 = 1, HR_COMPRESSION_ZSTD = 2 };
/* "none", "lz4", "zstd" ("unknown" for anything else) */
const char *hr_compression_name(int c);
/* The HR_COMPRESSION_* value of a name, or -EINVAL. */
int hr_compression_parse(const char *name);

typedef struct hr_table_schema {
	char name[HR_MAX_NAME + 1];
	uint32_t nfamilies;
	hr_family_schema families[HR_MAX_FAMILIES];
} hr_table_schema;

/* Fills a family schema with the defaults above. */
void hr_family_defaults(hr_family_schema *f, const char *name);

/* 1 if valid. Table names follow HBase: [A-Za-z0-9_.-], optionally one
 * "namespace:" prefix of [A-Za-z0-9_]; not starting with '.' or '-'. */
int hr_table_name_valid(const char *name);
int hr_family_name_valid(const char *name);

int hr_table_create(hr_server *srv, const hr_table_schema *schema); /* -EEXIST, -EINVAL */
int hr_table_drop(hr_server *srv, const char *table);		      /* removes all its data */
int hr_table_schema_get(hr_server *srv, const char *table, hr_table_schema *out); /* -ENOENT */
int hr_family_add(hr_server *srv, const char *table, const hr_family_schema *f); /* -EEXIST */

/* ---- schema changes (HBase's alter) -----------------------------------------
 * hr_family_alter sets the fields of a family that `mask` names to those of
 * *v (v->name is ignored), in ONE LMDB transaction (the table record, so a
 * crash keeps the old settings or the new ones, never a mix) and then in
 * the running server, under map_lock (write) and each store's mutex:
 * - reads (gets, scans, versions/, asof/) use the new max_versions, ttl_ms
 *   and keep_deleted_cells at once, as HBase does: raising max_versions
 *   shows versions a major compaction has not dropped yet, lowering it or
 *   setting a TTL hides the surplus at once;
 * - block_size, bloom and compression apply to the files written from then
 *   on (the next flush, compaction or split); files already written are
 *   read as they are, so a store may hold files of both kinds until a major
 *   compaction (hr_compact(srv, table, 1)) rewrites them all;
 * - a flush or compaction that started before keeps the settings it
 *   started with; a split that started before gives its daughters the new
 *   ones.
 * Returns 0; -ENOENT no such table or family; -EINVAL a value out of range
 * (as hr_table_create checks them) or a bit of mask unknown. */
enum {
	HR_ALTER_MAX_VERSIONS = 1u << 0,
	HR_ALTER_TTL = 1u << 1,
	HR_ALTER_BLOCK_SIZE = 1u << 2,
	HR_ALTER_BLOOM = 1u << 3,
	HR_ALTER_COMPRESSION = 1u << 4,
	HR_ALTER_KEEP_DELETED_CELLS = 1u << 5,
};
int hr_family_alter(hr_server *srv, const char *table, const char *family, unsigned mask,
		    const hr_family_schema *v);

/* The tables in name order; *names is a malloc'd array of malloc'd
 * strings, released with hr_names_free. */
int hr_table_list(hr_server *srv, char ***names, size_t *n);
void hr_names_free(char **names, size_t n);

/* ---- writes ---------------------------------------------------------------- */

/* ---- cell tags (HBase's tags, HFile v3) -------------------------------------
 * A cell may carry a tag area: at most HR_MAX_TAGS_LEN bytes stored with it
 * in the memstore, the WAL and store files, and returned by reads. The area
 * is a sequence of tags, each
 *     u16 len (of type + value) | u8 type | value[len - 1]
 * (little-endian, like everything else; len >= 1). A put whose area does
 * not parse this way is refused with -EINVAL. */
#define HR_MAX_TAGS_LEN 65535u

enum { HR_TAG_FILE_ATTR = 1 }; /* the file attributes of a cell (below) */

/* The attributes a front end shows for a cell (an HR_TAG_FILE_ATTR tag).
 * The cell's HBase timestamp stays its write time (versions, TTL); these
 * only change what stat() shows. */
typedef struct hr_file_attr {
	uint32_t mode;		/* permission bits (07777) */
	uint32_t uid, gid;
	int64_t mtime_ns, atime_ns, ctime_ns; /* since the epoch */
} hr_file_attr;

/* One encoded HR_TAG_FILE_ATTR tag: u16 len (41) | u8 type | 40-byte payload
 * u32 mode | u32 uid | u32 gid | u32 reserved (0) | i64 mtime_ns
 * | i64 atime_ns | i64 ctime_ns (hr_format.h, "Cell tags"). */
#define HR_FILE_ATTR_TAG_LEN 43u
/* Writes the tag (HR_FILE_ATTR_TAG_LEN bytes) at out. */
void hr_file_attr_tag_encode(const hr_file_attr *a, uint8_t *out);
/* Looks for an HR_FILE_ATTR tag in a tag area: 1 found (*out filled from
 * the first one), 0 none, -EINVAL if the area (or that tag) is malformed. */
int hr_file_attr_tag_find(const void *tags, size_t tags_len, hr_file_attr *out);

typedef struct hr_mcell {
	const char *family;		/* NUL-terminated, must be in the schema */
	const void *qualifier;
	size_t qualifier_len;		/* ignored for HR_DELETE_FAMILY */
	int64_t ts;			/* HR_TS_NOW = server time */
	uint8_t type;			/* enum hr_cell_type */
	const void *value;		/* HR_PUT only */
	size_t value_len;		/* <= max_cell_size, else -EFBIG */
	const void *tags;		/* HR_PUT only (ignored for deletes): the tag area */
	size_t tags_len;		/* <= HR_MAX_TAGS_LEN */
} hr_mcell;

#define HR_MUT_SYNC 0x1u /* return only once the WAL record is fsynced */

/* Applies one row mutation of n cells atomically. -ENOENT: no such table;
 * -EINVAL: bad row/qualifier/family/type; -EFBIG: value too large. */
int hr_mutate(hr_server *srv, const char *table, const void *row, size_t row_len,
	      const hr_mcell *cells, size_t n, unsigned flags);

/* The version a row mutation gave cells[0], as hr_value reports it: every
 * cell of one mutation gets the mutation's sequence id; a cell with
 * HR_TS_NOW gets the server's stamp (one per mutation, never below an
 * earlier stamp of the region), a given timestamp stays as given, a version
 * delete without one gets the version it deletes. So a front end learns
 * the (ts, seq) of the cell it just wrote without reading it back: a later
 * hr_get of that column returns exactly this while no version sorting
 * before it exists (a later write, or one with a larger timestamp), and an
 * HR_CHECK_VERSION against it holds. seq is 0 and ts HR_TS_NOW when nothing
 * was written (only version deletes of absent columns); ts is HR_TS_NOW when
 * cells[0] was such a delete. */
typedef struct hr_stamp {
	int64_t ts;
	uint64_t seq;
} hr_stamp;

/* hr_mutate that also fills *stamp (when not NULL) on success; on failure
 * *stamp is left as it was. */
int hr_mutate_stamped(hr_server *srv, const char *table, const void *row, size_t row_len,
		      const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp);

/* ---- check-and-mutate (HBase's checkAndMutate) ---------------------------- */

enum hr_check_op {
	HR_CHECK_ABSENT = 1,	/* the column has no visible cell */
	HR_CHECK_PRESENT = 2,	/* it has one */
	HR_CHECK_VERSION = 3,	/* its latest visible cell is exactly (ts, seq) */
	HR_CHECK_VALUE = 4,	/* its latest visible value equals value[0..value_len) */
};

typedef struct hr_check {
	const char *family;
	const void *qualifier;
	size_t qualifier_len;
	int op;			/* enum hr_check_op */
	int64_t ts;		/* HR_CHECK_VERSION */
	uint64_t seq;		/* HR_CHECK_VERSION */
	const void *value;	/* HR_CHECK_VALUE */
	size_t value_len;
} hr_check;

/* Under the row lock, evaluates every check against the latest visible
 * cells of the row; if all hold, applies cells[0..n) exactly like hr_mutate
 * (one atomic row mutation, same durability) and returns 0. If one fails,
 * writes nothing and returns -ECANCELED (the caller re-reads and decides;
 * front ends must not treat it as busy). Other errors as hr_mutate; a check
 * naming a family the table lacks is -ENOENT, a bad op or qualifier -EINVAL.
 * Every write to the row that returned before the row lock was taken is
 * seen (a writer holds the lock until its mutation is visible). */
int hr_check_and_mutate(hr_server *srv, const char *table, const void *row, size_t row_len,
			const hr_check *checks, size_t nchecks, const hr_mcell *cells, size_t n,
			unsigned flags);
/* The same, filling *stamp (when not NULL) as hr_mutate_stamped does when
 * it returns 0; left as it was otherwise (-ECANCELED included). */
int hr_check_and_mutate_stamped(hr_server *srv, const char *table, const void *row,
				size_t row_len, const hr_check *checks, size_t nchecks,
				const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp);

/* Conveniences over hr_mutate. */
int hr_put(hr_server *srv, const char *table, const void *row, size_t row_len,
	   const char *family, const void *qual, size_t qual_len,
	   const void *value, size_t value_len, unsigned flags);
int hr_delete_column(hr_server *srv, const char *table, const void *row, size_t row_len,
		     const char *family, const void *qual, size_t qual_len, unsigned flags);
/* Deletes every family of the row (DeleteFamily markers for each). */
int hr_delete_row(hr_server *srv, const char *table, const void *row, size_t row_len,
		  unsigned flags);

/* ---- reads ----------------------------------------------------------------- */

typedef struct hr_value {
	void *data;		/* malloc'd (NULL when not asked for or empty) */
	size_t len;
	int64_t ts;
	void *tags;		/* malloc'd with HR_GET_TAGS (NULL when not asked for or none) */
	size_t tags_len;	/* always set */
	uint64_t seq;		/* the cell's sequence id: with ts, the exact identity of a version */
} hr_value;

#define HR_GET_VALUE 0x1u /* copy the value out; without it only len, ts, seq, tags_len */
#define HR_GET_TAGS 0x2u  /* copy the tag area out */
/* hr_get_versions and hr_scan_opts.history: every retained version, as
 * time travel can reach it: in a keep_deleted_cells family no delete
 * marker applies (deleted versions are listed too); in others every
 * marker does (a deleted version is gone for good). */
#define HR_GET_HISTORY 0x4u

/* Frees v->data and v->tags (and sets them NULL). */
void hr_value_free(hr_value *v);

/* The latest visible version of one cell. -ENOENT if none. */
int hr_get(hr_server *srv, const char *table, const void *row, size_t row_len,
	   const char *family, const void *qual, size_t qual_len, unsigned flags,
	   hr_value *out);

/* Versions and time ranges (HBase with NEW_VERSION_BEHAVIOR, so that an
 * answer never depends on when a flush or compaction ran):
 * - A column retains its max_versions newest versions (puts); one version
 *   per timestamp (a put at the same ts as a newer one is overwritten).
 *   Without keep_deleted_cells, a deleted put is no version and does not
 *   count; with it, deleted puts count (compactions keep them). Versions
 *   beyond max_versions are never returned, whatever the time range (HBase
 *   without NEW_VERSION_BEHAVIOR returns them until a major compaction).
 * - A time range [min_ts, max_ts) then selects among the retained versions.
 * - Delete markers: without keep_deleted_cells every marker applies,
 *   whatever the range (HBase applies markers within or after the range),
 *   so a deleted cell can never be read again; with it, only markers
 *   whose ts is within the range apply, so a cell deleted at time D reads
 *   absent at D and later and present before D. A marker masks the puts
 *   at or below its ts written before it (lower sequence id). */
typedef struct hr_get_opts {
	uint32_t max_versions;	/* 0 = the family's max_versions */
	int64_t min_ts;		/* inclusive, 0 = none */
	int64_t max_ts;		/* exclusive, 0 = none */
	unsigned flags;		/* HR_GET_TAGS, HR_GET_HISTORY (values are always copied) */
} hr_get_opts;

/* Up to max_versions visible versions, newest first. Returns the count
 * (>= 0); *out is a malloc'd array released with hr_values_free (which
 * frees the tags too). */
int hr_get_versions(hr_server *srv, const char *table, const void *row, size_t row_len,
		    const char *family, const void *qual, size_t qual_len,
		    const hr_get_opts *opts, hr_value **out);
void hr_values_free(hr_value *v, size_t n);

/* 1 if the row has any visible cell (family NULL), or any in the family
 * (qual NULL), or the exact column; 0 if not; negative errno on error. */
int hr_exists(hr_server *srv, const char *table, const void *row, size_t row_len,
	      const char *family, const void *qual, size_t qual_len);

/* ---- scans ----------------------------------------------------------------- */

typedef struct hr_scan hr_scan;
typedef struct hr_snap hr_snap; /* an open snapshot (below, "snapshots") */

enum hr_scan_mode {
	HR_SCAN_CELLS = 0,	/* one entry per visible column (latest version) */
	HR_SCAN_FAMILIES = 1,	/* one entry per (row, family) holding a visible cell */
	HR_SCAN_ROWS = 2,	/* one entry per row holding a visible cell */
};

typedef struct hr_scan_opts {
	const void *start;	/* first row, inclusive (NULL/0 = table start) */
	size_t start_len;
	const void *stop;	/* stop row, exclusive (NULL/0 = table end) */
	size_t stop_len;
	const void *prefix;	/* only rows with this prefix (narrows start/stop) */
	size_t prefix_len;
	const char *family;	/* only this family (NULL = all) */
	/* Resume strictly after this (row=start, family, qualifier) position:
	 * set resume_family to the last family returned (and resume_qualifier
	 * to the last qualifier in HR_SCAN_CELLS mode). In HR_SCAN_ROWS mode use
	 * start_after_row instead. */
	const char *resume_family;
	const void *resume_qualifier;
	size_t resume_qualifier_len;
	int start_after_row;	/* 1: start is exclusive (resume a row listing) */
	int mode;		/* enum hr_scan_mode */
	int with_values;	/* HR_SCAN_CELLS: fill value/value_len */
	/* Time bound, exclusive (0 = none): the table as of a moment, i.e.
	 * HBase's Scan time range [0, max_ts): per column the newest retained
	 * version with ts < max_ts, delete markers applied as hr_get_opts. */
	int64_t max_ts;
	int history;		/* 1: as HR_GET_HISTORY (with max_ts 0) */
	/* Read this open snapshot of the table instead of the live table
	 * (NULL = live). Everything else applies to it as to the table. */
	const hr_snap *snapshot;
} hr_scan_opts;

/* row, qualifier and value are each followed by a NUL byte that their
 * length does not count, so text keys can be used as C strings. In
 * HR_SCAN_FAMILIES/ROWS mode ts and seq are those of the first visible cell
 * found. */
typedef struct hr_scan_entry {
	const uint8_t *row;
	size_t row_len;
	const char *family;	/* NULL in HR_SCAN_ROWS mode */
	const uint8_t *qualifier; /* HR_SCAN_CELLS only */
	size_t qualifier_len;
	int64_t ts;
	const uint8_t *value;	/* with_values only */
	size_t value_len;	/* always set in HR_SCAN_CELLS mode */
	const uint8_t *tags;	/* HR_SCAN_CELLS: the tag area (NULL when none) */
	size_t tags_len;
	uint64_t seq;		/* the cell's sequence id */
} hr_scan_entry;

int hr_scan_open(hr_server *srv, const char *table, const hr_scan_opts *opts, hr_scan **out);
/* 1 = *e filled, 0 = end of scan, negative errno on error. */
int hr_scan_next(hr_scan *sc, hr_scan_entry *e);
void hr_scan_close(hr_scan *sc);

/* ---- snapshots (HBase's flush-type snapshots) -------------------------------
 * A snapshot of a table is a manifest, recorded in one LMDB transaction: its
 * name, time, the table schema, each region's key range and per family the
 * store files that held its data, and the sequence id it was taken at. It
 * copies no data. Consistency: hr_snapshot_create blocks the table's writes
 * (a writer waits, at most snapshot_gate_timeout_ms and then -EBUSY; HBase
 * takes the table lock for a flush snapshot) while it
 * flushes every region and collects the file lists, so the files hold every
 * mutation acknowledged before it and none after: every row, and the table
 * as a whole, as of one moment. Writes go on as soon as the lists are taken
 * (before the files are archived and the manifest is written).
 * Files: every file a snapshot references gets a second name (a hard link)
 * in <data>/archive/ before the manifest commits, and the snapshot reads
 * only those. Compaction, split, drop and TTL go on removing store files
 * from stores as before: a file's blocks are freed only when its last name
 * (store or archive) goes. hr_snapshot_delete drops the manifest, then the
 * archive names no other snapshot references; open removes archive names no
 * manifest references (a crash between the two steps of either call).
 * Names follow the table-name rules (hr_table_name_valid). A snapshot
 * outlives its table (drop), and is listed under the table name it had. */

typedef struct hr_snapshot_info {
	char table[HR_MAX_NAME + 1];
	char name[HR_MAX_NAME + 1];
	int64_t time_ms;	/* when it was taken (ms since the epoch) */
	uint64_t seq;		/* the sequence id it holds everything up to */
	uint32_t regions;
	uint64_t files, bytes;	/* store files referenced and their size */
	uint64_t shared_bytes;	/* ... of which still in some table's stores (a clone's too) */
} hr_snapshot_info;

/* -EINVAL bad name, -ENOENT no such table, -EEXIST name taken, -EIO an
 * OFFLINE region, or a flush/disk error (nothing recorded then). */
int hr_snapshot_create(hr_server *srv, const char *table, const char *name);
/* -ENOENT if there is no such snapshot. Readers holding it open keep
 * reading until they close it, as long as its files can be read. */
int hr_snapshot_delete(hr_server *srv, const char *table, const char *name);
/* The snapshots of a table (NULL = of every table, dropped ones too) in
 * (table, name) order; *out malloc'd (free()). */
int hr_snapshot_list(hr_server *srv, const char *table, hr_snapshot_info **out, size_t *n);

/* Opens a snapshot for reading (-ENOENT). The handle is thread-safe and
 * reference counted; close it with hr_snapshot_close. Reads through it
 * (hr_scan_opts.snapshot, hr_snapshot_get) see exactly the snapshot. */
int hr_snapshot_open(hr_server *srv, const char *table, const char *name, hr_snap **out);
void hr_snapshot_close(hr_snap *s);
/* The table schema as of the snapshot. */
void hr_snapshot_schema(const hr_snap *s, hr_table_schema *out);
/* hr_get on the snapshot (flags: HR_GET_VALUE, HR_GET_TAGS). -ENOENT if the
 * cell is absent (or the family unknown). */
int hr_snapshot_get(hr_snap *s, const void *row, size_t row_len, const char *family,
		    const void *qual, size_t qual_len, unsigned flags, hr_value *out);

/* Clone, restore, export, import (HBase's clone_snapshot, restore_snapshot,
 * ExportSnapshot). Each is crash-safe the way a flush is: every file it
 * makes is synced before ONE LMDB transaction references it, and what a
 * crash leaves unreferenced is removed at the next open.
 *
 * hr_snapshot_clone: a new table new_table from snapshot (table, snap),
 * without copying data: its stores hold hard links of the archived files
 * (under new file ids), so clone, snapshot and source share the blocks,
 * which go with the last name (a store's or archive/'s). The clone is a
 * table like any other: writes, compactions, splits and drops of it, of the
 * source or of the snapshot never affect the others. -ENOENT no such
 * snapshot, -EEXIST new_table exists, -EINVAL bad name, -EIO a missing
 * archived file. */
int hr_snapshot_clone(hr_server *srv, const char *table, const char *snap, const char *new_table);
/* hr_snapshot_restore: table brought back to its snapshot snap: regions,
 * key ranges, schema and files of the snapshot. The table's writes are held
 * back meanwhile (a writer waits at most snapshot_gate_timeout_ms, then
 * -EBUSY); what its memstores and the WAL held that the snapshot does not
 * is discarded, also across a crash (the table gets new region ids; replay
 * skips edits of ids LMDB no longer has). A crash leaves the old table or
 * the restored one. Readers of the old table finish on what they hold.
 * -ENOENT: no such table or snapshot (a dropped table is brought back with
 * hr_snapshot_clone under its name). */
int hr_snapshot_restore(hr_server *srv, const char *table, const char *snap);
/* hr_snapshot_export: the snapshot as a self-contained, checksummed
 * directory dir (hr_format.h "Snapshot exports": its store files copied
 * whole, and a MANIFEST with the schema, regions and each file's CRC32C),
 * written beside it under a temporary name, synced, and renamed to dir at
 * the end: dir exists only once complete. -EEXIST if dir exists, -ENOENT
 * no such snapshot. */
int hr_snapshot_export(hr_server *srv, const char *table, const char *snap, const char *dir);
/* hr_snapshot_import: an export directory made a new table new_table (new
 * regions and file ids, the export's schema, key ranges and cells). Every
 * file is verified (size, CRC32C) while it is copied in; a damaged or
 * incomplete export is refused with -EIO (logged with the file) and nothing
 * is created. A crash leaves no table or the whole table. -EEXIST if
 * new_table exists. */
int hr_snapshot_import(hr_server *srv, const char *dir, const char *new_table);

/* ---- table events ------------------------------------------------------------
 * A front end that caches what it showed (the FUSE layer: names, attributes,
 * listings, pages) learns here of changes to a table that are not row
 * mutations made through it: HR_TABLE_RESTORED (hr_snapshot_restore replaced
 * the table's contents), HR_TABLE_CREATED (hr_snapshot_clone or
 * hr_snapshot_import made it). fn runs on the thread that made the change, after
 * it is visible, with no engine lock held; it must not call back into the
 * engine for that table's changes. Set it once, before the server is used
 * by other threads (NULL: none). */
enum { HR_TABLE_RESTORED = 1, HR_TABLE_CREATED = 2 };
typedef void (*hr_table_event_fn)(void *ctx, const char *table, int event);
void hr_server_set_table_events(hr_server *srv, hr_table_event_fn fn, void *ctx);

/* ---- admin ----------------------------------------------------------------- */

/* Flushes every region of the table (NULL = all tables) and waits. */
int hr_flush(hr_server *srv, const char *table);

/* Compacts every store of every region of the table (NULL = all tables)
 * now and waits (after any background compaction of a store). major = 1:
 * each store's files become one, without deleted, expired or surplus
 * versions; major = 0: what the minor-compaction policy selects. */
int hr_compact(hr_server *srv, const char *table, int major);

/* Splits the region holding row at row (which must not be the region's
 * start): rows below it go to one daughter, the rest to the other. */
int hr_split(hr_server *srv, const char *table, const void *row, size_t row_len);

enum hr_region_state {
	HR_REGION_OPEN = 0,
	HR_REGION_CLOSED = 1,
	HR_REGION_SPLITTING = 2,
	HR_REGION_OFFLINE = 3, /* refused to open: a store file is missing or corrupt */
};

/* "open", "closed", "splitting", "offline" ("unknown" for anything else):
 * the one spelling every front end prints. */
const char *hr_region_state_name(int state);

typedef struct hr_store_info {
	char family[HR_MAX_NAME + 1];
	uint64_t memstore_bytes;	/* active + snapshot */
	uint32_t file_count;
	uint64_t file_bytes;
	uint64_t flushed_seq;
	int compacting;		/* a compaction of this store is running */
} hr_store_info;

typedef struct hr_region_info {
	uint64_t id;
	uint8_t *start_key;	/* malloc'd; len 0 = table start */
	size_t start_len;
	uint8_t *end_key;	/* malloc'd; len 0 = table end */
	size_t end_len;
	int state;		/* enum hr_region_state */
	uint64_t memstore_bytes;
	uint64_t max_seq;	/* highest sequence id applied */
	int flush_pending;	/* queued for a flush */
	uint32_t nstores;
	hr_store_info *stores;	/* malloc'd array of nstores */
} hr_region_info;

int hr_region_list(hr_server *srv, const char *table, hr_region_info **out, size_t *n);
void hr_region_list_free(hr_region_info *r, size_t n);

typedef struct hr_stats {
	uint64_t puts, gets, scans;
	uint64_t wal_appends, wal_syncs, wal_bytes;
	uint64_t flushes, flush_bytes;
	uint64_t compactions, compaction_bytes_in, compaction_bytes_out;
	uint64_t splits, blocked_writes;
	uint64_t cache_hits, cache_misses;
	uint64_t memstore_bytes;
	uint64_t seq;		/* last sequence id handed out */
	/* WAL failures: failed writes and syncs, rolls away from a failed
	 * segment, failed segments kept until their edits are flushed */
	uint64_t wal_errors, wal_recoveries, wal_failed_segments;
	/* WAL damage found at open (wal_recovery): torn tails trimmed, corrupt
	 * stretches found (skipped, or where replay stopped), segments moved
	 * to wal/corrupt/ (damaged ones and those ignored after the cut) */
	uint64_t wal_torn_tails, wal_corrupt_records, wal_corrupt_segments;
	/* snapshots: how many; the files and bytes they reference in archive/;
	 * of those, the bytes no table's store holds any more (what the
	 * snapshots alone keep on disk) */
	uint64_t snapshots, archive_files, archive_bytes, archive_own_bytes;
	/* writes that waited while a snapshot held their table's write gate
	 * (blocked_writes: those that waited for memstore flushes) */
	uint64_t snapshot_blocked_writes;
	/* of those, the writes refused with -EBUSY after snapshot_gate_timeout_ms */
	uint64_t snapshot_gate_timeouts;
} hr_stats;

int hr_stats_get(hr_server *srv, hr_stats *out);

/* Renders the stats as "key value\n" lines into a malloc'd string. */
int hr_stats_format(hr_server *srv, char **text, size_t *len);

/* ---- metrics (the Prometheus text exposition format, version 0.0.4) -------
 * Each server has one registry (hr_server_metrics) of metric families: a
 * name ([a-zA-Z_:][a-zA-Z0-9_:]*), a help line, a type and up to
 * HR_METRIC_MAX_LABELS label names. The engine registers its own (README,
 * "Metrics"); a front end adds its families the same way.
 * - Recorded families hold their values: a series (one set of label
 *   values, hr_metric_series) is created at first use under the family's
 *   mutex and lives as long as the registry, so a caller looks it up once
 *   and records on the pointer: hr_series_add/set/observe are lock-free
 *   (relaxed atomics) and safe from any thread.
 * - Histograms have fixed buckets for latencies (seconds): 1, 2, 5 x 10^k
 *   from 1 us to 100 s (HR_METRIC_BUCKETS bounds, then +Inf). An
 *   observation is given in nanoseconds and rendered in seconds.
 * - Collectors are functions run at every render that emit values kept
 *   elsewhere (gauges read from the engine, counters of a front end): in
 *   one call, hr_mw_family starts a family and hr_mw_sample adds its
 *   samples. A collector runs on the rendering thread, with no engine lock
 *   held, and must not render the registry itself.
 * - hr_metrics_render writes every family in registration order (a
 *   collector's where it was added): "# HELP", "# TYPE", then the samples,
 *   a histogram as cumulative name_bucket{le="..."} lines ending in
 *   le="+Inf", then name_sum and name_count. A family name rendered twice
 *   (two collectors) is rendered once, the second is dropped and logged.
 * Registration and collectors are added once at start-up (not on hot
 * paths); the registry is freed by hr_server_close, so a collector's ctx
 * must outlive the server, or the server be closed first. */
typedef struct hr_metrics hr_metrics;
typedef struct hr_metric hr_metric;		/* a family */
typedef struct hr_series hr_series;		/* one labelled series of a family */
typedef struct hr_metrics_writer hr_metrics_writer; /* a render in progress */

enum { HR_METRIC_COUNTER = 1, HR_METRIC_GAUGE = 2, HR_METRIC_HISTOGRAM = 3 };
#define HR_METRIC_MAX_LABELS 4
#define HR_METRIC_BUCKETS 25

hr_metrics *hr_server_metrics(hr_server *srv);

/* A new family (-EINVAL: bad name, type or label name; -EEXIST: the name
 * is taken). *out lives as long as the registry. */
int hr_metric_register(hr_metrics *m, const char *name, const char *help, int type,
		       const char *const *labels, unsigned nlabels, hr_metric **out);
/* The series of these label values (one per label name, in order), made
 * at first use; NULL only without memory. */
hr_series *hr_metric_series(hr_metric *f, const char *const *values);
void hr_series_add(hr_series *s, uint64_t n);		/* counter (or gauge) += n */
void hr_series_set(hr_series *s, int64_t v);		/* gauge */
void hr_series_observe_ns(hr_series *s, uint64_t ns);	/* histogram */
/* A counter's or gauge's value; a histogram's observation count. */
uint64_t hr_series_value(const hr_series *s);

typedef void (*hr_metrics_collect_fn)(void *ctx, hr_metrics_writer *w);
int hr_metrics_add_collector(hr_metrics *m, hr_metrics_collect_fn fn, void *ctx);
/* In a collector: starts a family (type COUNTER or GAUGE) ... */
void hr_mw_family(hr_metrics_writer *w, const char *name, const char *help, int type);
/* ... and adds a sample: the value, then label name and value pairs (C
 * strings; values are escaped as the format says), then NULL. */
void hr_mw_sample(hr_metrics_writer *w, double v, ...) __attribute__((sentinel));

/* The whole exposition text (malloc'd, *len bytes, NUL-terminated). */
int hr_metrics_render(hr_metrics *m, char **text, size_t *len);

/* The HTTP endpoint: GET /metrics on listen ("HOST:PORT", an IPv4 address
 * or [IPv6]; port 0 = any free port) answers the registry's text with
 * Content-Type text/plain; version=0.0.4; any other path or method is 404
 * (405 for other methods on /metrics). Served by one thread of
 * libmicrohttpd, a few connections at a time, each with a timeout. *bound
 * (when not NULL) gets the address it listens on ("127.0.0.1:9110").
 * -EINVAL: a bad address; else the errno of socket/bind/listen. */
typedef struct hr_metrics_http hr_metrics_http;
int hr_metrics_http_start(hr_server *srv, const char *listen, hr_metrics_http **out,
			  char *bound, size_t boundlen);
/* Stops serving (waits for a request in progress). NULL is a no-op. Call
 * before hr_server_close. */
void hr_metrics_http_stop(hr_metrics_http *h);

const char *hr_strerror(int err); /* like strerror(-err), for log lines */

#endif
