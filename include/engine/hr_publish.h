/*
 * hr_publish.h — the one way a store file is made and the one way a store's
 * file list changes (LevelDB's table building and VersionSet::LogAndApply).
 * Flush, compaction and split use both; nothing else writes store files or
 * store records.
 *
 * Making a file (hr_newfile_*): the file gets a fresh id and is written
 * under its temp name (<id>.tmp); finish fsyncs it, renames it to <id>.hsf,
 * fsyncs the store's directory and opens it. On any failure, and on abort,
 * nothing of it is left on disk. A finished file is not referenced by LMDB
 * yet: a crash leaves it unreferenced, and the next open removes it.
 *
 * Changing file lists (hr_edit_apply): an edit names, for one or more
 * stores, the files that join the list (newest first; placed where the
 * first leaving file was, or in front when none leaves), the files that
 * leave it, the store's new flushed seq id and, for a flush, the snapshot
 * the new file replaces; for a split also the region to retire and the two
 * daughters to bring online in its place. Apply checks the edit against the
 * stores and allocates everything first, then writes ONE LMDB transaction,
 * and only once that committed swaps the in-memory lists (bumping gen),
 * drops replaced snapshots, swaps the daughters into the table map and
 * retires what left (files are marked deleted: their last reader unlinks
 * them). If it fails, nothing changed, in LMDB or in memory, and the
 * caller still owns the files it meant to add. A store whose region LMDB
 * no longer has (its table was dropped while the caller worked: the drop
 * commits before it closes the regions) fails the edit with -ESTALE.
 *
 * Locks: the caller holds the flush_mu of every region whose stores the
 * edit changes (which is what keeps the lists apply reads from changing
 * before it swaps them) and, for a split, map_lock for write. Apply takes
 * each store->mu briefly and none of them during the LMDB transaction, so
 * the lock order of hr_region.h holds (flush_mu -> LMDB -> store->mu).
 */
#ifndef HR_PUBLISH_H
#define HR_PUBLISH_H

#include "engine/hr_region.h"

/* ---- making a store file -------------------------------------------------- */

typedef struct hr_newfile {
	hr_store *st;
	uint64_t id;
	hr_sfile_writer *w;	/* NULL once finished or aborted */
} hr_newfile;

/* Starts a new file for st (expected_rows sizes the bloom filter). On
 * failure nf needs no abort. */
int hr_newfile_begin(hr_store *st, uint64_t expected_rows, hr_newfile *nf);
static inline int hr_newfile_add(hr_newfile *nf, const hr_kv *kv)
{
	return hr_sfile_write_add(nf->w, kv);
}
static inline uint64_t hr_newfile_entries(const hr_newfile *nf)
{
	return nf->w ? hr_sfile_write_entries(nf->w) : 0;
}
static inline uint64_t hr_newfile_bytes(const hr_newfile *nf)
{
	return nf->w ? hr_sfile_write_bytes(nf->w) : 0;
}
/* Finishes, installs and opens the file: *out holds one reference. A file
 * that received no entry is not kept (*out = NULL, returns 0). Ends nf
 * either way; on error nothing is left on disk. */
int hr_newfile_finish(hr_newfile *nf, uint64_t max_seq, hr_sfile **out);
/* Abandons an unfinished file (its temp file is removed). No-op once ended. */
void hr_newfile_abort(hr_newfile *nf);
/* Gives up a finished file that no edit published: it is removed from disk
 * once nothing reads it. Takes the caller's reference; NULL is a no-op. */
void hr_newfile_discard(hr_sfile *f);

/* ---- changing file lists --------------------------------------------------- */

typedef struct hr_store_edit {
	hr_store *st;
	hr_sfile **add;		/* joining, newest first; references taken on success */
	uint32_t nadd;
	hr_sfile *const *del;	/* leaving (must be in the list); retired on success */
	uint32_t ndel;
	uint64_t flushed_seq;	/* the new flushed seq id (never lowers it) */
	hr_memstore *snapshot;	/* a flush: the snapshot the new file replaces */
} hr_store_edit;

typedef struct hr_edit {
	hr_store_edit *stores;
	size_t nstores;
	hr_region *retire;	/* a split: the parent (stays in memory for its readers) */
	hr_region *online[2];	/* a split: the daughters, in key order */
} hr_edit;

/* 0, or -ESTALE (a file to remove is not in its store's list, or a store's
 * region was dropped), -ENOMEM, or the LMDB error; see above. */
int hr_edit_apply(hr_server *srv, const hr_edit *e);

#endif
