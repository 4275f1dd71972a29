/*
 * libhrfs_synclog.so — a test-only LD_PRELOAD library for power-loss tests
 * of the mounted daemon (tests/e2e/files.bats). It wraps fsync(2) and
 * fdatasync(2): after each successful call it appends one line
 *     <st_dev> <st_ino> <st_size>
 * to the file named by $HRFS_SYNC_LOG, so a test can cut every WAL segment
 * back to the size that was last made durable, as a power loss would. The
 * daemon itself has no hook for this; nothing of it is built into
 * hregionfs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void record(int fd)
{
	const char *path = getenv("HRFS_SYNC_LOG");
	struct stat st;
	char line[128];
	int saved = errno;
	if (path && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		int n = snprintf(line, sizeof(line), "%llu %llu %lld\n",
				 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
				 (long long)st.st_size);
		pthread_mutex_lock(&mu);
		int lfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (lfd >= 0) {
			if (write(lfd, line, (size_t)n) != n) {
				/* a test that misses a line fails on its own */
			}
			close(lfd);
		}
		pthread_mutex_unlock(&mu);
	}
	errno = saved;
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int rc = real(fd);
	if (rc == 0)
		record(fd);
	return rc;
}

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	int rc = real(fd);
	if (rc == 0)
		record(fd);
	return rc;
}
