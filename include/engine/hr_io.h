/*
 * hr_io.h — the engine's I/O seam (LevelDB's Env, RocksDB's FileSystem).
 *
 * Every file operation the engine makes on its data directory goes through
 * an hr_io: WAL segments, store files, their directories, the lock file,
 * leftover removal. LMDB does its own I/O inside <data>/meta; the engine
 * reports each LMDB write commit to the seam first (hr_io_meta_commit), so a
 * fault-injecting implementation can fail it or "crash" just before it.
 *
 * Implementations
 * - hr_io_posix(): the real thing, a process-wide singleton (stateless).
 * - hr_io_fault_new(base) (hr_io_fault.h): for tests; wraps another hr_io
 *   and can fail the Nth call of a kind with an errno, make writes short,
 *   "crash" (freeze the disk: every later call fails, nothing more reaches
 *   it) and drop everything not yet synced, like LevelDB's
 *   FaultInjectionTestEnv.
 * - Later: a distributed backend (RADOS) plugs in here. Keep the interface
 *   narrow: whole-file names, descriptors that are small integers chosen by
 *   the implementation, positional reads and writes, no mmap.
 *
 * Contract of every operation
 * - Returns 0 (or a documented non-negative value) or a negative errno;
 *   never prints, never exits. EINTR is retried inside.
 * - Paths are absolute. A descriptor is valid from open to close, usable by
 *   any thread; concurrent pread/pwrite on one descriptor are allowed.
 * - pwrite may write less than asked (a short write): hr_io_pwrite_all
 *   loops. pread returns 0 at end of file.
 * - Durability: data written to a file is durable after hr_io_sync on it;
 *   a create, rename or unlink is durable after hr_io_sync_dir on the
 *   directory holding the name (both directories for a rename across
 *   directories). Until then a power loss may undo it.
 *
 * Thread-safety: every function may be called from any thread at any time;
 * implementations synchronise internally.
 */
#ifndef HR_IO_H
#define HR_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct hr_io hr_io;

/* One directory entry (hr_io_list). */
typedef struct hr_io_dirent {
	char *name;		/* malloc'd, not "." or ".." */
	int is_dir;
} hr_io_dirent;

typedef struct hr_io_attr {
	uint64_t size;
	int is_dir;
	int64_t mtime_ms;	/* last modification, ms since the epoch */
	uint64_t ino;		/* the file's identity, and how many names it has */
	uint32_t nlink;		/* (a backend without hard links: 0 and 1) */
} hr_io_attr;

/* Open flags (a subset of open(2)'s, mapped by each implementation). */
enum {
	HR_IO_RDONLY = 0x0,
	HR_IO_WRONLY = 0x1,
	HR_IO_RDWR = 0x2,
	HR_IO_CREATE = 0x10,	/* create if missing, mode 0600 */
	HR_IO_EXCL = 0x20,	/* with CREATE: fail with -EEXIST if present */
	HR_IO_TRUNC = 0x40,
	/* A hint for a file whose writes count only once synced (a store file
	 * being written, a copy): they may stay queued in this process until
	 * hr_io_sync, so a process crash may lose them. Without it a write
	 * that returned survives a crash of the process (POSIX: it is in the
	 * page cache), which the WAL's durability=os relies on. POSIX has
	 * nothing to buffer and ignores it; io_rados pipelines such writes. */
	HR_IO_WRITEBACK = 0x80,
};

typedef struct hr_io_ops {
	int (*open)(hr_io *io, const char *path, int flags);	/* fd >= 0 */
	int (*close)(hr_io *io, int fd);
	ssize_t (*pread)(hr_io *io, int fd, void *buf, size_t len, uint64_t off);
	ssize_t (*pwrite)(hr_io *io, int fd, const void *buf, size_t len, uint64_t off);
	int (*sync)(hr_io *io, int fd, int data_only);	/* fsync / fdatasync */
	int (*truncate)(hr_io *io, int fd, uint64_t len);
	int (*size)(hr_io *io, int fd, uint64_t *len);
	int (*rename)(hr_io *io, const char *from, const char *to);
	/* A second name for an existing file (link(2)): -EEXIST if `to`
	 * exists. Durable like a rename: once `to`'s directory is synced. */
	int (*link)(hr_io *io, const char *from, const char *to);
	int (*unlink)(hr_io *io, const char *path);
	int (*mkdir)(hr_io *io, const char *path);	/* mode 0700; -EEXIST if present */
	int (*rmdir)(hr_io *io, const char *path);
	int (*sync_dir)(hr_io *io, const char *path);
	/* The entries of dir, unsorted; *ents malloc'd (free with
	 * hr_io_list_free), NULL when *n is 0. */
	int (*list)(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n);
	int (*stat)(hr_io *io, const char *path, hr_io_attr *st); /* -ENOENT */
	/* An exclusive lock on a lock file (created 0600), held until unlock
	 * or process exit; -EBUSY if another process holds it. *token >= 0. */
	int (*lock)(hr_io *io, const char *path, int *token);
	void (*unlock)(hr_io *io, int token);
	/* Called just before an LMDB write transaction commits; non-zero
	 * fails the commit (the caller aborts the transaction). May be NULL. */
	int (*meta_commit)(hr_io *io);
	/* Copies len bytes of src at *off to dst at the same offset inside
	 * the kernel (copy_file_range), advancing *off; returns the bytes
	 * copied (> 0), or a negative errno (-EXDEV, -EOPNOTSUPP, -ENOSYS:
	 * the caller copies through memory instead). May be NULL. */
	ssize_t (*copy_range)(hr_io *io, int src, int dst, uint64_t *off, size_t len);
	/* Makes an existing directory owner-only (mode 0700): the data
	 * directory holds user data. May be NULL (a backend without modes). */
	int (*private_dir)(hr_io *io, const char *path);
	void (*destroy)(hr_io *io);	/* NULL for the singleton */
} hr_io_ops;

struct hr_io {
	const hr_io_ops *ops;
};

/* The POSIX implementation (a shared singleton; never destroyed). */
hr_io *hr_io_posix(void);

static inline int hr_io_open(hr_io *io, const char *path, int flags)
{
	return io->ops->open(io, path, flags);
}
static inline int hr_io_close(hr_io *io, int fd) { return io->ops->close(io, fd); }
static inline ssize_t hr_io_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	return io->ops->pread(io, fd, buf, len, off);
}
static inline ssize_t hr_io_pwrite(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	return io->ops->pwrite(io, fd, buf, len, off);
}
static inline int hr_io_sync(hr_io *io, int fd, int data_only)
{
	return io->ops->sync(io, fd, data_only);
}
static inline int hr_io_truncate(hr_io *io, int fd, uint64_t len)
{
	return io->ops->truncate(io, fd, len);
}
static inline int hr_io_size(hr_io *io, int fd, uint64_t *len) { return io->ops->size(io, fd, len); }
static inline int hr_io_rename(hr_io *io, const char *from, const char *to)
{
	return io->ops->rename(io, from, to);
}
static inline int hr_io_link(hr_io *io, const char *from, const char *to)
{
	return io->ops->link(io, from, to);
}
static inline int hr_io_unlink(hr_io *io, const char *path) { return io->ops->unlink(io, path); }
static inline int hr_io_mkdir(hr_io *io, const char *path) { return io->ops->mkdir(io, path); }
static inline int hr_io_rmdir(hr_io *io, const char *path) { return io->ops->rmdir(io, path); }
static inline int hr_io_sync_dir(hr_io *io, const char *path)
{
	return io->ops->sync_dir(io, path);
}
static inline int hr_io_list(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n)
{
	return io->ops->list(io, dir, ents, n);
}
static inline int hr_io_stat(hr_io *io, const char *path, hr_io_attr *st)
{
	return io->ops->stat(io, path, st);
}
static inline int hr_io_lock(hr_io *io, const char *path, int *token)
{
	return io->ops->lock(io, path, token);
}
static inline void hr_io_unlock(hr_io *io, int token) { io->ops->unlock(io, token); }
static inline int hr_io_meta_commit(hr_io *io)
{
	return io->ops->meta_commit ? io->ops->meta_commit(io) : 0;
}
static inline int hr_io_private_dir(hr_io *io, const char *path)
{
	return io->ops->private_dir ? io->ops->private_dir(io, path) : 0;
}
/* Frees an implementation that is not a singleton; NULL is a no-op. */
static inline void hr_io_destroy(hr_io *io)
{
	if (io && io->ops->destroy)
		io->ops->destroy(io);
}

/* ---- helpers over any hr_io (io.c) ---------------------------------------- */

void hr_io_list_free(hr_io_dirent *ents, size_t n);
/* Loops over short writes; -EIO if a write makes no progress. */
int hr_io_pwrite_all(hr_io *io, int fd, const void *buf, size_t len, uint64_t off);
/* Creates path (HR_IO_EXCL or HR_IO_TRUNC in flags), writes len bytes
 * from p and syncs the file (not its directory). */
int hr_io_write_file(hr_io *io, const char *path, unsigned flags, const void *p, size_t len);
/* Reads exactly len bytes; -ENODATA if the file ends first. */
int hr_io_pread_all(hr_io *io, int fd, void *buf, size_t len, uint64_t off);
/* Copies len bytes from src (offset 0) to dst (offset 0) in large
 * sequential reads and writes, and gives the CRC32C of the bytes (crc may
 * be NULL). -ENODATA if src ends first. Syncs nothing. */
int hr_io_copy(hr_io *io, int src, int dst, uint64_t len, uint32_t *crc);
/* mkdir -p: creates each missing directory (mode 0700) and syncs its
 * parent, so the whole path is durable when this returns 0. */
int hr_io_mkdirs(hr_io *io, const char *path);
/* Removes a directory tree (depth first); missing is not an error. Syncs
 * nothing: the caller syncs the parent. */
int hr_io_rmrf(hr_io *io, const char *path);

#endif
