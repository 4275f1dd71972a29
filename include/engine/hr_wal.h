/*
 * hr_wal.h — the write-ahead log: segment files of CRC32C-framed records
 * (format in hr_format.h, section "WAL segments"). Payload-agnostic: the
 * region layer encodes (region, seq, cells) and hands over bytes plus the
 * record's sequence id.
 *
 * Sequence ids: segment deletion compares each segment's highest seq with
 * one server-wide "lowest unflushed seq", so seq ids must come from one
 * server-wide counter, and the caller's min_unflushed_seq must also count
 * edits that are appended but not yet in a memstore (in-flight MVCC writes).
 *
 * Group commit: appenders frame their record (CRC computed outside any
 * lock), memcpy it into a shared fill buffer under w->mu and wait. Whoever
 * finds no I/O in progress becomes the leader: it swaps the two buffers,
 * drops the mutex, writes the whole batch with one pwrite(2) and, if any
 * waiter of the batch needs durability, one fdatasync; then it advances the
 * byte counters and wakes that batch's waiters. A batch's leader also rolls
 * the segment once it reaches segment_size. Only one leader exists at a
 * time (w->io_busy), so the buffer being written is never touched by
 * appenders. The leader of a synced batch may first wait (at most half an
 * fdatasync) until the batch holds as many synced records as the largest
 * recent batch: without that, N synced writers split into two alternating
 * halves and each fdatasync serves only N/2 of them.
 *
 * Errors poison a segment, not the WAL. After a failed write the segment's
 * tail is unknown (a partial record); after a failed fdatasync the kernel
 * may have dropped the dirty pages and cleared the error, so a retry could
 * report success for lost data. Either way the current segment is done:
 * - every waiter whose record was not yet known durable gets the error (in
 *   os mode a plain append whose record was written before the failure is
 *   already acknowledged; it is in the caller's memstore, and the caller
 *   must flush it: hr_wal_segments reports the segment with err set);
 *   records still in the fill buffer are dropped, and fail too;
 * - the next append (or hr_wal_recover/hr_wal_roll) rolls to a new segment
 *   WITHOUT syncing the failed one; if that fails (e.g. ENOSPC), the append
 *   fails with the roll's error and is not buffered, and the next append
 *   tries again: each append does at most one roll attempt;
 * - the failed segment joins the closed list with err and valid_end (the
 *   offset where its good records end; bytes after it are a failed batch)
 *   and is kept until purged like any other: until every edit it held is
 *   flushed. Every new segment starts with a control record listing the
 *   valid ends of the kept failed segments, so replay ignores their failed
 *   tails instead of taking them for corruption;
 * - hr_wal_sync fails while a failed segment holding written but unsynced
 *   records is kept: those records are durable only once flushed.
 *
 * One syncer per descriptor: Linux reports a write-back error once per open
 * file, so two threads fdatasyncing one descriptor at once could split an
 * error into a failure for one and a success for the other, whose waiters
 * would be told "durable". Exactly one thread (a leader, a roll, the
 * background sync thread) holds the sync role of the current segment at a
 * time; a sync that fails fails the segment before anyone else can sync
 * it, so every waiter whose record was not yet known durable gets it.
 *
 * Locking: w->mu protects every field of struct hr_wal (wal_int.h);
 * the current segment's fd is only written and swapped by the holder of
 * io_busy, and only synced by the holder of sync_busy (a roll holds both
 * while it swaps, so nobody syncs a closed descriptor). Callbacks
 * (on_new_segment, purge's on_delete) run without w->mu; they must not wait
 * for anything that waits for a WAL append, or appends stall.
 *
 * Thread-safety: hr_wal_append/sync/roll/recover/segments/purge/adopt/stats
 * may be called concurrently. hr_wal_close must not race with any other call.
 * hr_wal_replay/list_dir/segment_path are stateless. Every file operation
 * (open, pwrite, fdatasync, rename, unlink, readdir) goes through the hr_io
 * given (NULL = hr_io_posix()).
 */
#ifndef HR_WAL_H
#define HR_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_io.h"

typedef struct hr_wal hr_wal;

typedef struct hr_wal_opts {
	hr_io *io;			/* every file operation; NULL = hr_io_posix() */
	const char *dir;		/* holds the segments, e.g. <data>/wal (created) */
	uint64_t segment_size;		/* roll once the current segment reaches this */
	int durability;			/* HR_DURABILITY_OS / HR_DURABILITY_FSYNC */
	uint32_t sync_interval_ms;	/* os mode: background fdatasync period; 0 = none */
	uint64_t first_segment_id;	/* id of the first new segment (max existing + 1) */
	/* Called before a new segment file is created (also for the first one,
	 * from hr_wal_open), so the owner records it in its metadata first; a
	 * crash then leaves at worst a recorded id without a file, never an
	 * unrecorded file. Runs on an appending thread that holds the WAL's I/O
	 * token (not w->mu): it must not call hr_wal_append/sync/roll. Non-zero
	 * return fails the roll (the WAL keeps writing the old segment and
	 * retries a second later). May be NULL. */
	int (*on_new_segment)(void *ctx, uint64_t seg_id);
	void *ctx;
	/* Segments left by an earlier run, adopted (hr_wal_adopt) before the
	 * first new segment is created, so its control record already carries
	 * their valid ends. May be NULL. */
	const struct hr_wal_seg *adopt;
	size_t nadopt;
	/* Every fdatasync of a segment is timed into this histogram (NULL:
	 * none); see hregionfs.h "metrics". */
	struct hr_series *sync_hist;
} hr_wal_opts;

/* A closed segment (or, from hr_wal_replay's callers, an adopted one). */
typedef struct hr_wal_seg {
	uint64_t id;
	uint64_t max_seq;		/* highest seq of its records; 0 if none */
	uint64_t bytes;			/* file size, header included */
	uint64_t valid_end;		/* its records end here (bytes after it are not
					 * records); 0 = at the end of the file */
	int err;			/* closed after this I/O error, else 0 */
} hr_wal_seg;

typedef struct hr_wal_stats {
	uint64_t appends;		/* records appended */
	uint64_t writes;		/* write batches (pwrite calls) */
	uint64_t syncs;			/* fdatasync calls on segments */
	uint64_t bytes;			/* record bytes written, framing included */
	uint64_t current_segment;	/* id of the segment being written */
	uint64_t closed_segments;	/* entries in the closed list */
	uint64_t waiting;		/* appends and syncs waiting for their I/O now */
	uint64_t errors;		/* failed writes and syncs */
	uint64_t recoveries;		/* rolls away from a failed segment */
	uint64_t bg_checks;		/* os mode: the sync thread's completed looks
					 * (with or without a sync) */
	uint64_t failed_segments;	/* failed segments kept now (current included) */
} hr_wal_stats;

/* Starts a NEW segment (first_segment_id); never appends to old ones. */
int hr_wal_open(const hr_wal_opts *o, hr_wal **out);
/* Writes what is buffered, syncs, stops the sync thread, closes. NULL ok. */
void hr_wal_close(hr_wal *w);

/* Appends one record. Returns once it is written to the file (os mode), or
 * fdatasynced (fsync mode, or sync != 0). *seg_out (may be NULL) = id of
 * the segment holding it. -EFBIG if len > HR_WAL_MAX_PAYLOAD; -EINVAL if
 * seq is 0 (reserved for the WAL's control records). */
int hr_wal_append(hr_wal *w, const void *payload, size_t len, uint64_t seq, int sync,
		  uint64_t *seg_out);
/* fdatasyncs everything appended before the call. Fails while a failed
 * segment with written but unsynced records is kept (see Errors). */
int hr_wal_sync(hr_wal *w);
/* Writes what is buffered, closes the current segment, starts a new one. */
int hr_wal_roll(hr_wal *w);
/* If the current segment failed, rolls away from it now (0 if healthy).
 * For a periodic caller: after a failed attempt it tries again only a
 * second later (and returns 0 meanwhile); appends always try. */
int hr_wal_recover(hr_wal *w);

/* Closed segments (not the current one), oldest first; *out malloc'd
 * (NULL when *n is 0). */
int hr_wal_segments(hr_wal *w, hr_wal_seg **out, size_t *n);
/* Adds a segment left by an earlier run (found by hr_wal_replay) to the
 * closed list, so hr_wal_purge deletes it once covered. seg->max_seq =
 * highest seq replayed from it (0 if none); a valid_end is carried in the
 * control record of every later segment. -EEXIST if already listed. */
int hr_wal_adopt(hr_wal *w, const hr_wal_seg *seg);
/* Deletes closed segments whose max_seq < min_unflushed_seq. For each:
 * on_delete(ctx, id) first (the owner drops it from its metadata; non-zero
 * return stops the purge and keeps the file), then unlink; one directory
 * fsync at the end. Metadata first so a crash leaves an unreferenced file
 * (a leftover, removed at open), never a referenced missing one.
 * on_delete may be NULL. Returns the count deleted or a negative errno. */
int hr_wal_purge(hr_wal *w, uint64_t min_unflushed_seq, int (*on_delete)(void *, uint64_t),
		 void *ctx);
void hr_wal_get_stats(hr_wal *w, hr_wal_stats *out);
/* Test hook: waits at most ns until bg_checks reaches n (a look counts
 * once it is over, its sync included); 0, or -ETIMEDOUT (always in fsync
 * mode, which has no sync thread). Lets a test prove that an idle WAL is
 * left alone by looks that really ran, not by a sleep. */
int hr_wal_wait_bg_checks(hr_wal *w, uint64_t n, uint64_t ns);

/* ---- replay (stateless) ---------------------------------------------------
 *
 * hr_wal_replay reads every segment of dir in id order and calls fn for
 * each good record (never for control records) with the format version of
 * its segment's header (HR_WAL_VERSION_MIN..HR_WAL_VERSION: the payload
 * encoding the owner wrote in that version). A segment's records end at
 * its valid end when a control record names one (hr_format.h): what
 * follows is a failed batch or a tail trimmed earlier, never corruption.
 *
 * Damage is judged the same way in every mode:
 * - a torn tail: a bad record in the NEWEST segment with no good record
 *   after it (a write the crash cut short, or pages never written). A roll
 *   syncs the old segment before the new one exists, so only the newest
 *   can be torn. Replay ends there, the segment reports valid_end = the
 *   bad record's offset, and the owner keeps it with that valid end (the
 *   new WAL's control records carry it), so the torn bytes are never read
 *   again even once the segment is no longer the newest;
 * - corruption: anything else (a bad record followed by good ones, a bad
 *   record or a short file in an older segment, a bad header). What
 *   happens then is the mode (RocksDB's WALRecoveryMode):
 *   HR_WAL_TOLERATE_TAIL: replay stops, logs the segment, the offset and
 *     what to do, and returns -EUCLEAN;
 *   HR_WAL_POINT_IN_TIME: replay stops at the first corruption; that
 *     segment (state CORRUPT, valid_end = the offset) and every later one
 *     (state IGNORED, not read) are not replayed further: a consistent
 *     prefix of the log;
 *   HR_WAL_SKIP_CORRUPT: the bad record is skipped up to the next good one
 *     (found through the bad record's own length, else by scanning every
 *     later offset for a well-formed record), counted, and replay goes on.
 * The owner must not delete a CORRUPT or IGNORED segment: it moves it
 * aside (wal/corrupt/) once the edits replayed from it are durable.
 *
 * Every segment replayed is fdatasynced first: a killed process may have
 * left its tail only in the page cache, and once new segments follow it a
 * power loss there would look like corruption. */
enum hr_wal_seg_state {
	HR_WAL_SEG_CLEAN = 0,	/* read to its end (or to its valid end) */
	HR_WAL_SEG_TORN,	/* the newest segment, with a torn tail */
	HR_WAL_SEG_CORRUPT,	/* damaged: see bad_* */
	HR_WAL_SEG_IGNORED,	/* after a point_in_time cut: not replayed */
};

typedef struct hr_wal_replay_seg {
	uint64_t id;
	int state;			/* enum hr_wal_seg_state */
	uint32_t version;		/* its header's format version (0: unreadable) */
	uint64_t bytes;			/* file size */
	uint64_t valid_end;		/* its records end here (0: at the end of file) */
	uint64_t records, max_seq;	/* replayed from it */
	uint64_t bad_records;		/* corrupt stretches found (skipped or cut at) */
	uint64_t bad_bytes;		/* bytes skipped (skip_corrupt) */
	uint64_t bad_offset;		/* the first one */
	const char *why;		/* the last one, e.g. "record CRC mismatch" */
} hr_wal_replay_seg;

typedef struct hr_wal_replay_opts {
	hr_io *io;			/* NULL = hr_io_posix() */
	const char *dir;
	int mode;			/* HR_WAL_TOLERATE_TAIL ... (hr_config.h) */
	/* each good record; < 0 aborts replay with that value; may be NULL */
	int (*fn)(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq,
		  const void *payload, size_t len);
	void *ctx;
} hr_wal_replay_opts;

typedef struct hr_wal_replay_result {
	hr_wal_replay_seg *segs;	/* every segment in dir, ascending id */
	size_t nsegs;
	uint64_t max_seg_id;		/* highest segment id present (0: none) */
	uint64_t records, max_seq;	/* replayed */
	uint64_t torn_tails;		/* segments with a torn tail (0 or 1) */
	uint64_t corrupt_records;	/* corrupt stretches found */
	uint64_t corrupt_segments;	/* segments in state CORRUPT */
	uint64_t ignored_segments;	/* segments in state IGNORED */
	uint64_t refused_segment, refused_offset; /* tolerate_tail: where it refused */
} hr_wal_replay_result;

/* 0, -EUCLEAN (tolerate_tail found corruption), or another negative errno
 * (a read or sync error, a listing error, fn's value). A missing dir
 * replays nothing. *res is filled in every case; free it with
 * hr_wal_replay_result_free. */
int hr_wal_replay(const hr_wal_replay_opts *o, hr_wal_replay_result *res);
void hr_wal_replay_result_free(hr_wal_replay_result *res);

/* Segment ids present in dir, ascending (*ids malloc'd, NULL if *n == 0). */
int hr_wal_list_dir(hr_io *io, const char *dir, uint64_t **ids, size_t *n);
/* "<dir>/<id as %016llx>.wal"; -ENAMETOOLONG if it does not fit. */
int hr_wal_segment_path(const char *dir, uint64_t id, char *buf, size_t len);

#endif
