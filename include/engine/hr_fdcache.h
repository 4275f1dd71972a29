/*
 * hr_fdcache.h — a bounded LRU of open read-only file descriptors, keyed by
 * a caller-chosen file id (unique per file for the process lifetime; store
 * files use their numeric id). Store-file readers never own an fd: they
 * pread through this cache, so the process holds at most max_open fds for
 * store files however many files exist (the process limit is 20,000).
 *
 * Files are opened, read and closed through an I/O seam (hr_io.h) given at
 * creation, which store-file readers also use to find a file's size and to
 * unlink it (hr_fdcache_io).
 *
 * Ownership: the cache owns every fd it opens. A pread pins the entry for
 * the duration of the call only; when all max_open entries are pinned, a
 * reader that needs a new fd waits for one to be released.
 *
 * Thread-safety: every call may be made from any thread. One mutex protects
 * the hash table, the LRU list, each entry's pin count and the open count;
 * the pread itself runs outside the lock.
 */
#ifndef HR_FDCACHE_H
#define HR_FDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_io.h"

typedef struct hr_fdcache hr_fdcache;

/* max_open >= 1; io is not owned and must outlive the cache. -EINVAL /
 * -ENOMEM. */
int hr_fdcache_new(uint32_t max_open, hr_io *io, hr_fdcache **out);
/* Closes every fd. No pread may be running. */
void hr_fdcache_free(hr_fdcache *fc);

/* Reads exactly len bytes at off of the file (path is used only to open it
 * when no fd is cached). 0, -EIO on short file, or -errno from open/pread. */
int hr_fdcache_pread(hr_fdcache *fc, uint64_t file_id, const char *path, void *buf,
		     size_t len, uint64_t off);

/* The file's size (opening it like a read would). */
int hr_fdcache_size(hr_fdcache *fc, uint64_t file_id, const char *path, uint64_t *size);

/* The seam the cache reads through. */
hr_io *hr_fdcache_io(hr_fdcache *fc);

/* Closes the file's fd (now, or when its last running pread ends): call
 * before unlinking or replacing the file. */
void hr_fdcache_forget(hr_fdcache *fc, uint64_t file_id);

/* Descriptors currently open (for tests and stats). */
uint32_t hr_fdcache_open_count(hr_fdcache *fc);

#endif
