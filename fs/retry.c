/* retry.c — bounded retry with a growing pause (contract in hrfs_retry.h). */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

/* since mount, for /.hregionfs/stats */
static atomic_uint_fast64_t retries_total, gave_up_total;

void hrfs_retry_counts(uint64_t *retries, uint64_t *gave_up)
{
	*retries = atomic_load(&retries_total);
	*gave_up = atomic_load(&gave_up_total);
}

int hrfs_retryable(int rc)
{
	return rc == -EBUSY || rc == -ETIMEDOUT || rc == -ESTALE;
}

void hrfs_backoff(const struct hrfs *fs, unsigned attempt)
{
	atomic_fetch_add(&retries_total, 1);
	/* Doubling from retry_pause_ms, capped so one pause stays short. */
	uint64_t ms = fs->cfg.retry_pause_ms ? fs->cfg.retry_pause_ms : 10;
	for (unsigned i = 0; i < attempt && ms < 2000; i++)
		ms *= 2;
	if (ms > 2000)
		ms = 2000;
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void hrfs_retry_exhausted(const char *what, int rc)
{
	atomic_fetch_add(&gave_up_total, 1);
	hr_log_error("fs", "%s: still %s after all retries, giving up with EAGAIN", what,
		     hr_strerror(rc));
}
