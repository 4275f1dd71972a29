/*
 * fuzz_common.h — shared by the libFuzzer targets of tests/fuzz (built and
 * run by `make fuzz`, never by CI):
 * - memio: an in-memory hr_io (hr_io.h) holding a few read-only files in
 *   one directory, so the WAL and store-file readers run without a syscall
 *   per input;
 * - memfd_path: one anonymous in-memory file reused for every input, with a
 *   path ("/proc/self/fd/N"), for the ini parser (which opens by name);
 * - crc fix-ups: the formats are CRC32C-framed, so most mutations would
 *   stop at the first checksum; a target recomputes the checksums for half
 *   of its inputs to reach the parsers behind them.
 * A broken invariant calls fuzz_fail (abort), which libFuzzer reports with
 * the input that caused it.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/hr_io.h"
#include "engine/hr_util.h"

#define fuzz_fail(...)                                            \
	do {                                                      \
		fprintf(stderr, "fuzz invariant broken: " __VA_ARGS__); \
		fprintf(stderr, "\n");                            \
		abort();                                          \
	} while (0)

/* ---- memio ------------------------------------------------------------------ */

#define MEMIO_MAX 8

typedef struct memio {
	hr_io io; /* first */
	const char *dir;
	int n;
	char name[MEMIO_MAX][64];
	const uint8_t *data[MEMIO_MAX];
	size_t len[MEMIO_MAX];
} memio;

static int memio_find(memio *m, const char *path)
{
	size_t dl = strlen(m->dir);
	if (strncmp(path, m->dir, dl) != 0 || path[dl] != '/')
		return -1;
	for (int i = 0; i < m->n; i++)
		if (strcmp(path + dl + 1, m->name[i]) == 0)
			return i;
	return -1;
}

static int mi_open(hr_io *io, const char *path, int flags)
{
	memio *m = (memio *)io;
	if ((flags & 3) != HR_IO_RDONLY)
		return -EROFS;
	int i = memio_find(m, path);
	return i < 0 ? -ENOENT : i + 3;
}
static int mi_close(hr_io *io, int fd) { (void)io, (void)fd; return 0; }
static ssize_t mi_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	memio *m = (memio *)io;
	int i = fd - 3;
	if (i < 0 || i >= m->n)
		return -EBADF;
	if (off >= m->len[i])
		return 0;
	size_t k = m->len[i] - (size_t)off < len ? m->len[i] - (size_t)off : len;
	memcpy(buf, m->data[i] + off, k);
	return (ssize_t)k;
}
static ssize_t mi_pwrite(hr_io *io, int fd, const void *b, size_t l, uint64_t o)
{
	(void)io, (void)fd, (void)b, (void)l, (void)o;
	return -EROFS;
}
static int mi_sync(hr_io *io, int fd, int d) { (void)io, (void)fd, (void)d; return 0; }
static int mi_truncate(hr_io *io, int fd, uint64_t l) { (void)io, (void)fd, (void)l; return -EROFS; }
static int mi_size(hr_io *io, int fd, uint64_t *len)
{
	memio *m = (memio *)io;
	int i = fd - 3;
	if (i < 0 || i >= m->n)
		return -EBADF;
	*len = m->len[i];
	return 0;
}
static int mi_rename(hr_io *io, const char *a, const char *b) { (void)io, (void)a, (void)b; return -EROFS; }
static int mi_path_ro(hr_io *io, const char *p) { (void)io, (void)p; return -EROFS; }
static int mi_list(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n)
{
	memio *m = (memio *)io;
	*ents = NULL;
	*n = 0;
	if (strcmp(dir, m->dir) != 0)
		return -ENOENT;
	if (!m->n)
		return 0;
	hr_io_dirent *v = calloc((size_t)m->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < m->n; i++)
		v[i].name = strdup(m->name[i]);
	*ents = v;
	*n = (size_t)m->n;
	return 0;
}
static int mi_stat(hr_io *io, const char *path, hr_io_attr *st)
{
	memio *m = (memio *)io;
	int i = memio_find(m, path);
	if (i < 0)
		return -ENOENT;
	st->size = m->len[i];
	st->is_dir = 0;
	return 0;
}
static int mi_lock(hr_io *io, const char *p, int *t) { (void)io, (void)p, (void)t; return -EROFS; }
static void mi_unlock(hr_io *io, int t) { (void)io, (void)t; }

static const hr_io_ops memio_ops = {
	.open = mi_open, .close = mi_close, .pread = mi_pread, .pwrite = mi_pwrite,
	.sync = mi_sync, .truncate = mi_truncate, .size = mi_size, .rename = mi_rename,
	.unlink = mi_path_ro, .mkdir = mi_path_ro, .rmdir = mi_path_ro,
	.sync_dir = mi_path_ro, .list = mi_list, .stat = mi_stat, .lock = mi_lock,
	.unlock = mi_unlock,
};

/* ---- an in-memory file with a path ------------------------------------- */

/* Replaces the file's content with data; returns its path (static). */
static const char *memfd_path(const uint8_t *data, size_t len)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd < 0)
			fuzz_fail("memfd_create: %s", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (len && pwrite(fd, data, len, 0) != (ssize_t)len))
		fuzz_fail("memfd write: %s", strerror(errno));
	return path;
}

#endif
