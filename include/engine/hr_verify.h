/*
 * hr_verify.h — checks that LMDB and the disk agree on the store files:
 * every file a store record references exists (and is a regular file), and
 * every store file on disk is referenced; and the same for the snapshot
 * manifests and the archive directory. Used by the crash-point sweep and
 * by the offline `verify` (issue 10).
 *
 * It reads LMDB through the given hr_meta (a live server's, or one opened
 * just for this: LMDB allows one environment per process per database) and
 * lists store/ through the given I/O seam. Read-only: it repairs nothing.
 * With a live server, files being written or retired meanwhile show up as
 * temp or unreferenced files; run it on a closed data directory (or with
 * the server idle) for an exact answer.
 *
 * Problems are logged (warn) with the file's path, at most `max_log` of
 * them (0 = none). Thread-safe (no shared state).
 */
#ifndef HR_VERIFY_H
#define HR_VERIFY_H

#include <stdint.h>

#include "engine/hr_io.h"
#include "engine/hr_meta.h"

typedef struct hr_verify_report {
	uint64_t regions;	/* region records */
	uint64_t stores;	/* store records */
	uint64_t referenced;	/* store files the store records name */
	uint64_t missing;	/* ... of which not on disk (or not a regular file) */
	uint64_t on_disk;	/* <id>.hsf files under store/ */
	uint64_t unreferenced;	/* ... of which no store record names */
	uint64_t temp;		/* <id>.tmp files under store/ */
	uint64_t unknown;	/* other entries under store/ (names the engine does not make) */
	uint64_t orphan_stores;	/* store records of a region with no region record */
	/* archive/ against the snapshot manifests */
	uint64_t snapshots;	/* manifests (a damaged one fails the check with -EIO) */
	uint64_t archive_referenced; /* distinct files the manifests name */
	uint64_t archive_missing;    /* ... of which not in archive/ */
	uint64_t archive_on_disk;    /* <id>.hsf files in archive/ */
	uint64_t archive_unreferenced; /* ... of which no manifest names */
	uint64_t archive_unknown;    /* other entries in archive/ */
} hr_verify_report;

/* 0 (with the report filled; a clean directory has missing, unreferenced,
 * temp, unknown and orphan_stores all 0) or a negative errno if LMDB or
 * the directory could not be read. */
int hr_verify_store_files(hr_meta *m, hr_io *io, const char *data_dir, unsigned max_log,
			  hr_verify_report *out);

/* The same, also calling fn (when not NULL) once per problem, as it is
 * found, with its kind and path: "missing" (a referenced store file),
 * "unreferenced" (a store file no record names), "temp" (a .tmp file),
 * "unknown" (an entry under store/ whose name the engine does not make, a
 * file or a directory), "orphan_store" (the family directory of a store
 * record whose region has no record); under archive/: "archive_missing" (a
 * file a snapshot references), "archive_unreferenced" (no snapshot
 * references it), "archive_unknown" (a name the engine does not make).
 * path is valid during the call. */
typedef void (*hr_verify_problem_fn)(void *ctx, const char *kind, const char *path);
int hr_verify_store_files_cb(hr_meta *m, hr_io *io, const char *data_dir, unsigned max_log,
			     hr_verify_problem_fn fn, void *fn_ctx, hr_verify_report *out);

/* 1 if the report shows LMDB and the disk in exact agreement. */
static inline int hr_verify_clean(const hr_verify_report *r)
{
	return !r->missing && !r->unreferenced && !r->temp && !r->unknown && !r->orphan_stores &&
	       !r->archive_missing && !r->archive_unreferenced && !r->archive_unknown;
}

#endif
