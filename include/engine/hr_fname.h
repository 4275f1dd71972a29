/*
 * hr_fname.h — every name in the data directory, built and parsed in one
 * place (LevelDB's filename.cc). Nothing else in the engine spells a file
 * name: code that makes a path calls a builder, code that finds an entry on
 * disk asks hr_fname_parse what it is, and whatever does not parse is not
 * the engine's.
 *
 *   <data>/LOCK                                   lock file (flock'ed by the owner)
 *   <data>/meta/                                  LMDB environment (LMDB names its files)
 *   <data>/wal/<seg>.wal                          a WAL segment
 *   <data>/wal/<seg>.wal.tmp                      a segment being created
 *   <data>/wal/corrupt/                           segments set aside as corrupt
 *   <data>/store/<region>/                        a region's stores
 *   <data>/store/<region>/<family>/<file>.hsf     a store file
 *   <data>/store/<region>/<family>/<file>.tmp     a store file being written
 *   <data>/archive/                               store files kept for snapshots
 *   <data>/archive/<file>.hsf                     a second name (hard link) of a store
 *                                                 file some snapshot references
 *   <data>/lost/<path>[.<n>]                      what recovery did not understand,
 *                                                 moved aside ('/' in <path> as '~')
 *
 * <seg>, <region> and <file> are ids written as exactly 16 lowercase hex
 * digits; anything else (upper case, fewer digits, a sign, a suffix) does
 * not parse. <family> is a valid family name (hr_family_name_valid).
 *
 * Builders write a NUL-terminated path into buf (len bytes) and return 0 or
 * -ENAMETOOLONG. Stateless and thread-safe.
 */
#ifndef HR_FNAME_H
#define HR_FNAME_H

#include <stddef.h>
#include <stdint.h>

typedef enum hr_fname_type {
	HR_FN_UNKNOWN = 0,
	/* in <data> */
	HR_FN_LOCK,
	HR_FN_META_DIR,
	HR_FN_WAL_DIR,
	HR_FN_STORE_DIR,
	HR_FN_LOST_DIR,
	HR_FN_ARCHIVE_DIR,
	/* in wal/ */
	HR_FN_WAL_SEGMENT,
	HR_FN_WAL_TMP,
	HR_FN_WAL_CORRUPT_DIR,
	/* in store/ */
	HR_FN_REGION_DIR,
	/* in store/<region>/ */
	HR_FN_FAMILY_DIR,
	/* in store/<region>/<family>/ */
	HR_FN_STORE_FILE,
	HR_FN_STORE_TMP,
	/* in archive/ */
	HR_FN_ARCHIVE_FILE,
} hr_fname_type;

/* Where an entry was found: the directory level it is parsed for. */
typedef enum hr_fname_level {
	HR_FN_IN_DATA,
	HR_FN_IN_WAL,
	HR_FN_IN_STORE,
	HR_FN_IN_REGION,
	HR_FN_IN_FAMILY,
	HR_FN_IN_ARCHIVE,
} hr_fname_level;

int hr_fname_lock(const char *data_dir, char *buf, size_t len);
int hr_fname_meta_dir(const char *data_dir, char *buf, size_t len);
int hr_fname_wal_dir(const char *data_dir, char *buf, size_t len);
/* Server mode (hr_host.h): <data_dir>/wal/<server name>, one WAL directory
 * per region server start. -EINVAL unless the name is one path component
 * other than ".", ".." and "corrupt" (the single-node wal/corrupt/). */
int hr_fname_server_wal_dir(const char *data_dir, const char *server, char *buf, size_t len);
int hr_fname_store_dir(const char *data_dir, char *buf, size_t len);
int hr_fname_lost_dir(const char *data_dir, char *buf, size_t len);
int hr_fname_archive_dir(const char *data_dir, char *buf, size_t len);
/* <data_dir>/ctl.sock: the daemon's control socket (hrctl_proto.h) */
int hr_fname_ctl_sock(const char *data_dir, char *buf, size_t len);
/* <archive_dir>/<file>.hsf */
int hr_fname_archive_file(const char *archive_dir, uint64_t file_id, char *buf, size_t len);
/* A snapshot export directory (hr_format.h, "Snapshot exports"), outside
 * the data directory: <dir>/MANIFEST, <dir>/<file>.hsf, and the temporary
 * directory an export is written in, <parent of dir>/.tmp-<base>.<pid>. */
int hr_fname_export_manifest(const char *dir, char *buf, size_t len);
int hr_fname_export_file(const char *dir, uint64_t file_id, char *buf, size_t len);
int hr_fname_export_tmp(const char *dir, long pid, char *buf, size_t len);
/* <wal_dir>/<seg>.wal, or .wal.tmp when tmp */
int hr_fname_wal_segment(const char *wal_dir, uint64_t seg, int tmp, char *buf, size_t len);
int hr_fname_wal_corrupt_dir(const char *wal_dir, char *buf, size_t len);
int hr_fname_region_dir(const char *store_dir, uint64_t region_id, char *buf, size_t len);
int hr_fname_family_dir(const char *region_dir, const char *family, char *buf, size_t len);
/* <family_dir>/<file>.hsf, or .tmp when tmp */
int hr_fname_store_file(const char *family_dir, uint64_t file_id, int tmp, char *buf,
			size_t len);
/* Where to move rel (a path relative to the data directory) aside:
 * <data>/lost/<rel with '/' as '~'>, with ".<n>" appended when n > 0 (the
 * caller counts n up until the name is free). */
int hr_fname_lost(const char *data_dir, const char *rel, unsigned n, char *buf, size_t len);

/* What the entry name (one component, no '/') found in a directory of the
 * given level is; *id (may be NULL) gets the segment, region or file id. */
hr_fname_type hr_fname_parse(hr_fname_level where, const char *name, uint64_t *id);

#endif
