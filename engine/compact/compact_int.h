/* compact_int.h — shared by the files of engine/compact: the compactor (its queues,
 * threads and the write pacing). Guarded by mu unless noted. */
#ifndef HR_COMPACT_INT_H
#define HR_COMPACT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/hr_compact.h"

typedef struct compact_req {
	hr_region *r;		/* referenced */
	hr_store *st;
	int mode;
} compact_req;

typedef struct compact_queue {
	compact_req *v;
	size_t len, cap;
} compact_queue;

enum { POOL_SMALL = 0, POOL_LARGE = 1 };

typedef struct compact_thread {
	struct hr_compactor *cm;
	int pool, index;
	pthread_t tid;
} compact_thread;

struct hr_compactor {
	hr_server *srv;
	pthread_mutex_t mu;
	pthread_cond_t work[2];		/* a request for that pool */
	pthread_cond_t done;		/* a compaction finished */
	pthread_cond_t ticked;		/* the major check ran (tests wait on it) */
	uint64_t major_ticks;		/* mu: how often it ran */
	compact_queue q[2];
	uint32_t running;
	atomic_int stopping;		/* read without mu by running compactions */
	compact_thread *threads;
	uint32_t nthreads;
	size_t major_cursor;		/* where the next major check starts */

	pthread_mutex_t pace_mu;	/* leaf */
	uint64_t pace_next_ns;		/* pace_mu */
	uint64_t limit_bps;		/* 0 = unlimited; immutable */
};

/* 1 when the compactor stops (running compactions abort). */
int hr_compact_stopping(hr_server *srv);
/* Paces compaction writes: called with the bytes just written, sleeps as
 * long as throughput_limit asks. -ECANCELED if the compactor stops. */
int hr_compact_pace(hr_server *srv, uint64_t bytes);

#endif
