/*
 * hr_io_rados.h — the I/O seam (hr_io.h) over RADOS objects (storage=rados).
 *
 * hr_io_rados_new(r, root) gives an hr_io in which every path at or below
 * root (the data directory, absolute) is a file or directory made of
 * objects in r's pool and namespace (layout and crash rules:
 * hr_format.h, "storage=rados"), and every other path (an export target, a
 * file given to hregionctl) goes to hr_io_posix(). The lock file is always
 * local (a POSIX lock: RADOS has no lock that dies with the process), so
 * root also exists as a local directory, created here: it holds LOCK and
 * ctl.sock.
 *
 * What differs from POSIX (the contract of hr_io.h holds otherwise):
 * - pwrite returns once RADOS acknowledged the write (on every replica),
 *   so a write that returned survives a crash of this process, as
 *   write(2) does with the page cache (the WAL's durability=os counts on
 *   it). A file opened with HR_IO_WRITEBACK (store files being written)
 *   is pipelined instead: each pwrite is queued as an asynchronous write
 *   (at most HR_IO_RADOS_INFLIGHT per file in flight; more waits) and
 *   hr_io_sync waits for them; one that failed makes the next sync (and
 *   close) of that file return its error. Writes end at chunk boundaries
 *   (a short write: hr_io_pwrite_all continues).
 * - pread, truncate and size first wait for the file's queued writes.
 * - A name operation (create, rename, link, unlink, mkdir, rmdir) is
 *   durable when it returns; sync_dir only checks the directory exists.
 * - Name operations of one process are serialised (one mutex); between
 *   processes only mkdir is (a RADOS lock on the parent): two processes
 *   must not change the same names at once (see hr_format.h).
 * - A rename or link between root and a path outside it: -EXDEV.
 *
 * Ownership: the hr_io does not own r; destroy the hr_io (hr_io_destroy)
 * before hr_rados_close(r). Thread-safety: as hr_io.h (any thread).
 */
#ifndef HR_IO_RADOS_H
#define HR_IO_RADOS_H

#include "engine/hr_io.h"
#include "engine/hr_rados.h"
#include "hr_config.h"

/* Queued (not yet acknowledged) writes per open file before pwrite waits. */
#define HR_IO_RADOS_INFLIGHT 64

/* root: the data directory exactly as the engine spells it in its paths
 * (hr_fname.h builds them from cfg->data_dir). Creates the root directory
 * object if missing and the local directory root. */
int hr_io_rados_new(hr_rados *r, const char *root, hr_io **out);

/* storage=rados for one data directory: the local directory, the
 * connection (cfg's ceph_conf, rados_pool, and rados_namespace or the
 * default one of data_dir) and the hr_io over it. The caller destroys
 * *io, then closes *rad. */
int hr_io_rados_open(const hr_config *cfg, hr_rados **rad, hr_io **io);

#endif
