/*
 * bench_util.h — what every benchmark program here needs: a monotonic clock
 * in seconds and TRY, which ends the program with the failing call's
 * source line and errno name (a benchmark has no error to recover from).
 */
#ifndef HR_BENCH_UTIL_H
#define HR_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hregionfs.h"

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* x: an int or ssize_t result, negative errno on failure */
#define TRY(x)                                                                             \
	do {                                                                               \
		long rc_ = (long)(x);                                                      \
		if (rc_ < 0) {                                                             \
			fprintf(stderr, "%s:%d: %s = %s\n", __FILE__, __LINE__, #x,        \
				hr_strerror((int)rc_));                                    \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#endif
