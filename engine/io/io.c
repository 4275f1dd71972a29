/* io.c — helpers over any implementation of the I/O seam (hr_io.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_io.h"
#include "engine/hr_util.h"

void hr_io_list_free(hr_io_dirent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
}

int hr_io_pwrite_all(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = hr_io_pwrite(io, fd, p, len, off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int hr_io_write_file(hr_io *io, const char *path, unsigned flags, const void *p, size_t len)
{
	int fd = hr_io_open(io, path, HR_IO_WRONLY | HR_IO_CREATE | flags);
	if (fd < 0)
		return fd;
	int rc = hr_io_pwrite_all(io, fd, p, len, 0);
	if (rc == 0)
		rc = hr_io_sync(io, fd, 0);
	hr_io_close(io, fd);
	return rc;
}

int hr_io_pread_all(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = hr_io_pread(io, fd, p, len, off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENODATA;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* 4 MiB: large enough that a copy runs at the disk's sequential speed,
 * small enough to sit in memory beside everything else */
#define COPY_CHUNK (4u << 20)

/* The kernel copies (no trip through memory here); 1 if it cannot. */
static int copy_in_kernel(hr_io *io, int src, int dst, uint64_t from, size_t len, int *rc)
{
	for (uint64_t off = from; off < from + len;) {
		ssize_t k = io->ops->copy_range(io, src, dst, &off, (size_t)(from + len - off));
		if (k < 0 && off == 0 && (k == -EXDEV || k == -EOPNOTSUPP || k == -ENOSYS ||
					  k == -EINVAL))
			return 1;
		if (k < 0) {
			*rc = (int)k;
			return 0;
		}
	}
	*rc = 0;
	return 0;
}

int hr_io_copy(hr_io *io, int src, int dst, uint64_t len, uint32_t *crc)
{
	uint8_t *buf = malloc(len < COPY_CHUNK ? (len ? len : 1) : COPY_CHUNK);
	uint32_t c = 0;
	int rc = 0, through_memory = 1;
	if (!buf)
		return -ENOMEM;
	/* with an in-kernel copy, the checksum costs one read of the source
	 * instead of a write through memory; chunk by chunk, so the kernel
	 * copies from pages just read and writes back one chunk while the
	 * next is read */
	if (io->ops->copy_range) {
		through_memory = 0;
		for (uint64_t off = 0; rc == 0 && !through_memory && off < len;) {
			size_t n = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
			if ((rc = hr_io_pread_all(io, src, buf, n, off)) < 0)
				break;
			c = hr_crc32c(c, buf, n);
			through_memory = copy_in_kernel(io, src, dst, off, n, &rc);
			off += n;
		}
		if (through_memory && rc == 0)
			c = 0; /* the first chunk could not be copied: all through memory */
	}
	for (uint64_t off = 0; through_memory && rc == 0 && off < len;) {
		size_t n = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
		if ((rc = hr_io_pread_all(io, src, buf, n, off)) < 0)
			break;
		c = hr_crc32c(c, buf, n);
		rc = hr_io_pwrite_all(io, dst, buf, n, off);
		off += n;
	}
	free(buf);
	if (rc == 0 && crc)
		*crc = c;
	return rc;
}

int hr_io_mkdirs(hr_io *io, const char *path)
{
	char buf[4096];
	hr_io_attr st;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	/* find the deepest directory that exists (usually path itself), so
	 * only missing ones are made: a mkdir is a durable point */
	size_t have = n;
	int rc;
	while ((rc = hr_io_stat(io, buf, &st)) == -ENOENT) {
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf) {
			have = 0;
			break;
		}
		*slash = '\0';
		have = (size_t)(slash - buf);
	}
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0 && !st.is_dir)
		return -ENOTDIR;
	/* restore the path, then make each missing component below `have` */
	memcpy(buf, path, n);
	buf[n] = '\0';
	for (size_t i = have + 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		rc = hr_io_mkdir(io, buf);
		if (rc == 0) {
			/* the new name must survive a power loss before anything
			 * inside it is referenced */
			char parent[4096];
			char *slash = strrchr(buf, '/');
			size_t plen = slash == buf ? 1 : (size_t)(slash - buf);
			memcpy(parent, buf, plen);
			parent[plen] = '\0';
			if ((rc = hr_io_sync_dir(io, parent)) < 0)
				return rc;
		} else if (rc != -EEXIST) {
			return rc;
		}
		buf[i] = c;
	}
	return 0;
}

int hr_io_rmrf(hr_io *io, const char *path)
{
	hr_io_attr st;
	int rc = hr_io_stat(io, path, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (!st.is_dir) {
		rc = hr_io_unlink(io, path);
		return rc == -ENOENT ? 0 : rc;
	}
	hr_io_dirent *ents;
	size_t n;
	if ((rc = hr_io_list(io, path, &ents, &n)) < 0)
		return rc == -ENOENT ? 0 : rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char child[4096];
		int len = snprintf(child, sizeof(child), "%s/%s", path, ents[i].name);
		if (len < 0 || (size_t)len >= sizeof(child))
			rc = -ENAMETOOLONG;
		else
			rc = hr_io_rmrf(io, child);
	}
	hr_io_list_free(ents, n);
	if (rc == 0) {
		rc = hr_io_rmdir(io, path);
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}
