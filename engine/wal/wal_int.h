/*
 * wal_int.h — private to engine/wal: the state of an open WAL (struct
 * hr_wal) shared by wal.c (appends, group commit, syncs, rolls, failures)
 * and wal_closed.c (the closed-segment list: verdicts for waiters, control
 * records, adopt, purge). Contract and locking in hr_wal.h.
 *
 * Positions are logical: bytes of framed records since open, across
 * segments. A record occupies (start, end]; its segment is the one whose
 * (lstart, lend] holds its end. After a failure the records still buffered
 * are dropped, so the failed segment's logical range runs to fail_upto and
 * the next segment starts there.
 */
#ifndef HR_WAL_INT_H
#define HR_WAL_INT_H

#include <pthread.h>
#include <stdint.h>

#include "engine/hr_io.h"
#include "engine/hr_wal.h"

typedef struct wal_closed {
	uint64_t id, max_seq, bytes, lstart, lend;
	/* closed after an I/O error: err != 0, records up to ok_written were
	 * written and up to ok_synced synced; valid_end: the file offset where
	 * its records end (0 = the end of the file; also set for a segment
	 * adopted with a trimmed tail) */
	int err;
	uint64_t ok_written, ok_synced, valid_end;
} wal_closed;

struct hr_wal {
	pthread_mutex_t mu;
	struct hr_series *sync_hist;	/* set at open, read-only after */
	/* Targeted wake-ups (a broadcast to every waiter per batch costs a
	 * context switch each on a small machine): waiters whose record is in
	 * buffer generation g sleep on cv_gen[g & 1], broadcast when that batch
	 * is done; one of the next generation is signalled to lead. Only two
	 * generations can have waiters (the one being written, the one filling).
	 * cv_io: io_busy or sync_busy released, synced advanced, a failure. */
	pthread_cond_t cv_gen[2];
	pthread_cond_t cv_io;
	pthread_cond_t cv_lead;	/* a gathering leader: enough records arrived */
	pthread_cond_t bg_cv;	/* close wakes the sync thread (CLOCK_MONOTONIC) */
	pthread_cond_t bg_checked; /* the sync thread looked (test waits; MONOTONIC) */
	pthread_mutex_t purge_mu; /* one purge at a time */

	hr_io *io;
	char *dir;
	uint64_t segment_size;
	int fsync_mode;
	uint32_t sync_interval_ms;
	int (*on_new_segment)(void *, uint64_t);
	void *ctx;

	/* double buffer: appenders fill buf[fill]; the leader owns the other */
	uint8_t *buf[2];
	size_t cap[2];
	int fill;
	uint64_t fill_gen;	/* generation of the fill buffer's records */
	size_t fill_len;
	uint64_t fill_max_seq;
	uint64_t fill_count;
	uint64_t fill_sync_count; /* records in the fill buffer that wait for a sync */

	uint64_t appended;	/* end of the last record buffered */
	uint64_t written;	/* everything below is in a segment file */
	uint64_t synced;	/* everything below is fdatasynced */
	uint64_t sync_req;	/* someone waits for synced >= this */
	int io_busy;		/* a leader is writing, syncing or rolling */
	/* The one thread fdatasyncing the current segment (a leader, a roll or
	 * the sync thread). Linux reports a write-back error once per open
	 * file: two concurrent syncs of one descriptor could split an error
	 * into one failure and one success, and the success would tell its
	 * waiters "durable". */
	int sync_busy;
	/* Adaptive gathering for synced batches. Left alone, N synced writers
	 * settle into two alternating cohorts of N/2 (one syncs while the other
	 * refills), capping group commit at N/2 records per fdatasync. So the
	 * leader of a synced batch waits, at most half an fdatasync, until the
	 * batch holds as many records as the largest recent batch (lead_target);
	 * a timeout means fewer writers now, and lowers the target. */
	int gathering;
	uint64_t lead_target;
	uint64_t sync_ns_avg;	/* moving average of fdatasync time */

	int fd;			/* current segment, written at offset seg_bytes */
	uint64_t seg_id, seg_bytes, seg_max_seq, seg_lstart;
	uint64_t next_id;
	uint64_t roll_retry_ns;	/* after a failed size roll, not before this */
	uint64_t recover_retry_ns; /* hr_wal_recover after its failed roll: not before */
	/* The current segment failed (cur_err != 0): as in wal_closed, plus
	 * ok_bytes (file offset where its good records end) and fail_upto
	 * (everything appended when it failed). Nothing is buffered until a
	 * roll clears it. */
	int cur_err;
	uint64_t ok_written, ok_synced, ok_bytes, fail_upto;

	int bg_stop, bg_started;
	pthread_t bg;

	wal_closed *closed;	/* ascending id */
	size_t nclosed, capclosed;

	int nwaiting;		/* appenders and syncers waiting for their I/O */
	uint64_t st_appends, st_writes, st_syncs, st_bytes, st_errors, st_recoveries;
	uint64_t st_bg_checks;	/* the sync thread's completed looks */
};

/* ---- wal_closed.c (mu held unless said otherwise) ---- */
int hr_wal_closed_reserve(hr_wal *w);
/* The closed segment whose logical range holds end, or NULL. */
const wal_closed *hr_wal_closed_find(const hr_wal *w, uint64_t end);
/* The segment holding the record that starts at pos (0 if purged). */
uint64_t hr_wal_seg_of(const hr_wal *w, uint64_t pos);
/* The framed control record for a new segment: the valid ends of the
 * closed segments that have one, plus extra (may be NULL). *out malloc'd,
 * NULL and *len 0 when there is nothing to list. */
int hr_wal_ctl_build(const hr_wal *w, const wal_closed *extra, uint8_t **out, size_t *len);
/* The error of a kept failed segment that holds written but unsynced
 * records (hr_wal_sync's extra condition), or 0. */
int hr_wal_unsynced_failure(const hr_wal *w);
/* Inserts in id order; -EEXIST if listed or current. */
int hr_wal_closed_insert(hr_wal *w, const wal_closed *c);

#endif
