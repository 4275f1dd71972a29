/* retry.c — bounded retry with a growing pause (contract in hrfs_retry.h). */
#include <errno.h>
#include <time.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

int hrfs_retryable(int rc)
{
	return rc == -EBUSY || rc == -ETIMEDOUT || rc == -ESTALE;
}

void hrfs_backoff(const struct hrfs *fs, unsigned attempt)
{
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
	hr_log_error("fs", "%s: still %s after all retries, giving up with EAGAIN", what,
		     hr_strerror(rc));
}
