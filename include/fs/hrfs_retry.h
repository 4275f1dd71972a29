/*
 * hrfs_retry.h — the client retry of the seeds: an engine call that answers
 * busy (-EBUSY), timed out on a row lock (-ETIMEDOUT) or moved (-ESTALE) is
 * retried cfg.retries times with a growing pause, then fails with -EAGAIN.
 * Every pause is bounded, so no FUSE thread waits without a bound.
 */
#ifndef HRFS_RETRY_H
#define HRFS_RETRY_H

#include <errno.h>
#include <stdint.h>

struct hrfs;

int hrfs_retryable(int rc);
/* Sleeps before retry number attempt (0-based). */
void hrfs_backoff(const struct hrfs *fs, unsigned attempt);
/* Retries made and requests given up (EAGAIN) since the mount. */
void hrfs_retry_counts(uint64_t *retries, uint64_t *gave_up);
/* Logs a give-up (the caller's operation and the last error). */
void hrfs_retry_exhausted(const char *what, int rc);

/* rc = the value of call, retried as above. call is re-evaluated. */
#define HRFS_RETRY(fs, rc, what, call)                                     \
	do {                                                               \
		for (unsigned hrfs_try_ = 0;; hrfs_try_++) {               \
			(rc) = (call);                                     \
			if (!hrfs_retryable(rc))                           \
				break;                                     \
			if (hrfs_try_ >= (fs)->cfg.retries) {              \
				hrfs_retry_exhausted(what, rc);            \
				(rc) = -EAGAIN;                            \
				break;                                     \
			}                                                  \
			hrfs_backoff(fs, hrfs_try_);                       \
		}                                                          \
	} while (0)

#endif
