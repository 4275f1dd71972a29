/*
 * hr_snapshot.h — snapshots inside the engine (the public contract is in
 * hregionfs.h, "snapshots"): the manifest and its codec, the server's
 * catalog of manifests, the archive of referenced store files, and the
 * read handles.
 *
 * Consistency (why writes are blocked rather than a cut filtered by seq):
 * hr_snapshot_create takes the table's write gate (hr_table.gate, exclusive;
 * every row mutation holds it shared for its whole write path), flushes
 * every region and collects the store-file lists before it lets writers go
 * on. With no write in flight and none admitted, the flushed files hold
 * exactly the table as of one moment, and any compaction or split that
 * publishes meanwhile rewrites that same state. Filtering by a seq cut
 * instead would not do: a major compaction that runs between a region's
 * flush and the manifest can drop a version that was the newest at the cut
 * because a newer one (above the cut) exists. Writers wait for the flush of
 * the table (HBase's flush snapshot takes the table lock for as long), at
 * most snapshot_gate_timeout_ms, then -EBUSY (write.c); a restore holds the
 * gate the same way (snaprestore.c).
 *
 * Archive: store files are unique by id (one server-wide counter, raised at
 * open over every id a store or a manifest names), so the archive is flat:
 * <data>/archive/<id>.hsf, a hard link made (and its directory synced)
 * before the manifest commits. Links instead of moving files on retirement:
 * the compaction, split, drop and TTL paths stay as they are (the last name
 * to go frees the blocks), a snapshot's files have one path that never
 * changes while it exists, and the crash rules stay those of a flush (an
 * unreferenced archive name is removed at open, like an unreferenced store
 * file). The price: a file is a snapshot's from the moment it is taken, so
 * deleting it from archive/ is decided by the manifests alone.
 *
 * Locks: srv->snap_mu (the catalog, the open-handle cache, and the archive
 * directory: create, delete and the open-time cleaner are serialised by it)
 * is taken first; then a table's gate; then what hr_flush takes; map_lock
 * (read) is taken on its own under them. Writers take the gate after
 * hr_server_locate has released map_lock and before updates_lock, and no
 * thread waits for the gate holding any engine lock.
 */
#ifndef HR_SNAPSHOT_H
#define HR_SNAPSHOT_H

#include "engine/hr_region.h"

typedef struct hr_snap_file {
	uint64_t id, size;
} hr_snap_file;

typedef struct hr_snap_store {
	char family[HR_MAX_NAME + 1];
	uint32_t nfiles;
	hr_snap_file *files; /* newest first */
} hr_snap_store;

typedef struct hr_snap_region {
	uint64_t id;
	uint8_t *start, *end; /* malloc'd; len 0 = unbounded */
	size_t start_len, end_len;
	uint32_t nstores;
	hr_snap_store *stores;
} hr_snap_region;

typedef struct hr_snap_manifest {
	char table[HR_MAX_NAME + 1];
	char name[HR_MAX_NAME + 1];
	int64_t time_ms;
	uint64_t seq;
	uint64_t snap_id;	/* unique in the process: tells a re-created name apart */
	hr_table_schema schema;
	uint32_t nregions;
	hr_snap_region *regions; /* in key order */
} hr_snap_manifest;

void hr_snap_manifest_free(hr_snap_manifest *m);
/* The LMDB value (hr_format.h, "Snapshot manifests"), malloc'd. */
int hr_snap_manifest_encode(const hr_snap_manifest *m, uint8_t **out, size_t *len);
/* -EIO on a bad magic, version, CRC or length. table/name come from the key. */
int hr_snap_manifest_decode(const char *table, const char *name, const void *v, size_t len,
			    hr_snap_manifest **out);

/* An export (hr_format.h, "Snapshot exports"): the manifest and, per
 * distinct file it names, its size and the CRC32C of its bytes. */
typedef struct hr_snap_export_file {
	uint64_t id, size;
	uint32_t crc;
} hr_snap_export_file;

typedef struct hr_snap_export {
	hr_snap_manifest *m;
	uint32_t nfiles;
	hr_snap_export_file *files;
} hr_snap_export;

/* The MANIFEST file's bytes, malloc'd (x->m is not taken). */
int hr_snap_export_encode(const hr_snap_export *x, uint8_t **out, size_t *len);
/* -EIO on a bad magic, version, CRC or length; frees with _free. */
int hr_snap_export_decode(const void *v, size_t len, hr_snap_export **out);
void hr_snap_export_free(hr_snap_export *x);

/* Open: loads every manifest into srv's catalog, raises next_file_id over
 * their files, and cleans archive/ (unreferenced names removed, names the
 * engine does not make moved to lost/, missing files logged). */
int hr_snapshot_load(hr_server *srv);
/* Close: frees the catalog and the cached handles. */
void hr_snapshot_unload(hr_server *srv);

/* For scans of an open snapshot: references the snapshot region holding
 * row (a detached region: no memstore data, the archived files only). */
int hr_snap_locate(const hr_snap *s, const uint8_t *row, size_t len, hr_region **out);
void hr_snap_ref(const hr_snap *s);
void hr_snap_unref(const hr_snap *s);
/* snap_mu held: drops the cached handle of a deleted snapshot / all of them */
void hr_snap_cache_drop(hr_server *srv, uint64_t snap_id);
void hr_snap_cache_clear(hr_server *srv);
/* hr_stats_get's share: snapshots, archive files and bytes */
void hr_snapshot_stats(hr_server *srv, hr_stats *o);

/* snap_mu held: the catalog's manifest of (table, name), or NULL. */
const hr_snap_manifest *hr_snap_catalog_find(hr_server *srv, const char *table,
					     const char *name);

/* ---- a manifest made into a table (snapbuild.c: clone, restore, import) ----
 * hr_snap_build makes a new table named `name` (not yet in LMDB or the map)
 * with m's schema, and one new region per manifest region (new ids,
 * reserved in LMDB first, so that a crash leaves directories the next open
 * removes), whose stores get m's files under NEW file ids: `place` puts the
 * bytes of src at the store's path for new_id (a hard link from archive/ for
 * clone and restore, a verified copy for import); the stores' directories
 * are synced before it returns. So every name a later commit references is
 * durable first, as for a flush. hr_snap_build_commit then records the
 * table, its regions and stores in ONE LMDB transaction (replacing
 * `replace`'s records when given: a restore) and puts it in the map;
 * hr_snap_build_discard takes back everything a build made. */
typedef int (*hr_snap_place_fn)(void *ctx, hr_store *st, const hr_snap_file *src,
				uint64_t new_id);
int hr_snap_build(hr_server *srv, const hr_snap_manifest *m, const char *name,
		  hr_snap_place_fn place, void *ctx, hr_table **out);
void hr_snap_build_discard(hr_server *srv, hr_table *nt);
/* Takes nt (its reference becomes the map's, or is released on failure).
 * -EEXIST: a table of that name exists (replace NULL); -ENOENT: replace is
 * no longer the table of that name. With replace, the old table is retired
 * after the commit (hr_table_retire). */
int hr_snap_build_commit(hr_server *srv, hr_table *nt, hr_table *replace);
/* snapclone.c: hr_snap_build placing m's archived files by hard links
 * (snap_mu held: m is the catalog's). */
int hr_snap_materialise(hr_server *srv, const hr_snap_manifest *m, const char *name,
			hr_table **out);

#endif
