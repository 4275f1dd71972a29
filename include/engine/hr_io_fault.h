/*
 * hr_io_fault.h — a fault-injecting implementation of the I/O seam (hr_io.h)
 * for tests, in the manner of LevelDB's FaultInjectionTestEnv and RocksDB's
 * FaultInjectionTestFS. It wraps another hr_io (normally hr_io_posix()) and
 * passes every call through, except when told otherwise:
 *
 * - Rules: the Nth call of one kind of operation (optionally only calls
 *   whose path contains a given string) fails with an errno, once or from
 *   then on; or a write is made short (half of it is written and the short
 *   count returned, which hr_io_pwrite_all must absorb).
 * - Counts: every call of each kind is counted (failed ones included), as
 *   are the faults injected and the durable points passed.
 * - Crash: "durable points" are the calls that change what survives a
 *   power loss: sync, sync_dir, rename, unlink, mkdir, rmdir and
 *   meta_commit (the hook called just before each LMDB write commit). After
 *   hr_io_fault_crash_after(io, n), n more durable points go through; at
 *   the next one the disk freezes: that call and every later one fails with
 *   -EIO and nothing more reaches the base (close and unlock still release
 *   their descriptor, and report 0).
 * - Power loss (hr_io_fault_drop_unsynced): undoes what a power loss may
 *   undo. Every file written through the env is truncated to the size it
 *   had at its last sync; every create, mkdir, rename, unlink and rmdir
 *   made since the last sync_dir of its directory (both directories for a
 *   rename) is undone, newest first: created files and directories are
 *   removed (with their contents), renames are reversed (a replaced target
 *   gets its old content back), unlinked files come back with the content
 *   they had at their last sync (kept in memory until their directory is
 *   synced). Then the env is usable again: not crashed, no rules.
 *
 * Limits of the model (what it assumes of the engine):
 * - Files are only appended to: a write inside the synced part of a file
 *   is not undone. (Store files and WAL segments are append-only; LMDB does
 *   its own I/O and its own syncs, outside the seam.)
 * - A truncate is assumed durable at once (the synced size shrinks to it).
 * - Files that existed before the env first opened them for writing are
 *   taken to be synced at the size they had then.
 * - Only names created, renamed or removed through this env are tracked;
 *   LMDB's files and the lock file are not.
 *
 * Thread-safety: one mutex serialises every call, base I/O included (tests
 * only: simple beats fast). Rules, counts and crash state may be changed
 * from any thread at any time.
 */
#ifndef HR_IO_FAULT_H
#define HR_IO_FAULT_H

#include <stdint.h>

#include "engine/hr_io.h"

/* The kinds of calls, as counted and matched by rules. */
typedef enum hr_io_op {
	HR_IO_OP_OPEN,
	HR_IO_OP_CLOSE,
	HR_IO_OP_READ,
	HR_IO_OP_WRITE,
	HR_IO_OP_SYNC,
	HR_IO_OP_TRUNCATE,
	HR_IO_OP_SIZE,
	HR_IO_OP_RENAME,
	HR_IO_OP_UNLINK,
	HR_IO_OP_MKDIR,
	HR_IO_OP_RMDIR,
	HR_IO_OP_SYNC_DIR,
	HR_IO_OP_LIST,
	HR_IO_OP_STAT,
	HR_IO_OP_LOCK,
	HR_IO_OP_META_COMMIT,
	HR_IO_OP_PRIVATE_DIR,
	HR_IO_OP_LINK,
	HR_IO_OP_COUNT
} hr_io_op;

/* "sync", "rename", ...: for messages. */
const char *hr_io_op_name(hr_io_op op);
/* 1 if calls of this kind are durable points (see above). */
int hr_io_op_durable(hr_io_op op);

/* A new fault env over base (which it does not own). -ENOMEM. Destroy it
 * with hr_io_destroy once nothing uses it. */
int hr_io_fault_new(hr_io *base, hr_io **out);

enum {
	HR_IO_FAULT_ONCE = 0,	/* only the Nth matching call fails */
	HR_IO_FAULT_STICKY = 1,	/* the Nth and every later matching call fail */
	HR_IO_FAULT_SHORT = 2,	/* (writes) the Nth matching write is short */
};

/* Adds a rule: the nth (1 = the next) call of op from now on whose path
 * contains match (NULL: any call; calls on a descriptor match against the
 * path it was opened with) fails with err (a negative errno), or with
 * HR_IO_FAULT_SHORT writes half of its bytes (at least one) and returns the
 * short count. At most 16 rules; -ENOSPC beyond. */
int hr_io_fault_add(hr_io *io, hr_io_op op, uint64_t nth, int err, int mode, const char *match);
/* Removes every rule (counts, crash state and tracking stay). */
void hr_io_fault_clear(hr_io *io);

/* Calls of op so far (failed ones included). */
uint64_t hr_io_fault_count(hr_io *io, hr_io_op op);
/* Faults injected so far: failed and shortened calls (crash refusals not
 * included). */
uint64_t hr_io_fault_injected(hr_io *io);
/* Durable points passed so far (calls that went through). */
uint64_t hr_io_fault_durable(hr_io *io);

/* Lets n more durable points through, then freezes the disk (see above). */
void hr_io_fault_crash_after(hr_io *io, uint64_t n);
/* 1 once the disk is frozen. */
int hr_io_fault_crashed(hr_io *io);

/* Simulates the power loss (see above). Call with no descriptor of the env
 * in use (after the server that used it is closed). 0 or the first error
 * of the base while undoing. */
int hr_io_fault_drop_unsynced(hr_io *io);

#endif
