/* io_posix.c — the POSIX implementation of the I/O seam (hr_io.h). Stateless:
 * descriptors are the kernel's, so it is one shared singleton. Everything the
 * engine creates is owner-only (files 0600, directories 0700): the WAL and
 * store files hold user data. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hr_io.h"
#include "engine/hr_util.h"

static int px_open(hr_io *io, const char *path, int flags)
{
	(void)io;
	int f = O_CLOEXEC;
	switch (flags & 0x3) {
	case HR_IO_WRONLY:
		f |= O_WRONLY;
		break;
	case HR_IO_RDWR:
		f |= O_RDWR;
		break;
	default:
		f |= O_RDONLY;
		break;
	}
	if (flags & HR_IO_CREATE)
		f |= O_CREAT;
	if (flags & HR_IO_EXCL)
		f |= O_EXCL;
	if (flags & HR_IO_TRUNC)
		f |= O_TRUNC;
	int fd;
	do
		fd = open(path, f, 0600);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int px_close(hr_io *io, int fd)
{
	(void)io;
	/* close(2) is not retried on EINTR: the descriptor is gone either way */
	return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static ssize_t px_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	(void)io;
	ssize_t n;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t px_pwrite(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	(void)io;
	ssize_t n;
	do
		n = pwrite(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int px_sync(hr_io *io, int fd, int data_only)
{
	(void)io;
	int rc;
	do
		rc = data_only ? fdatasync(fd) : fsync(fd);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_truncate(hr_io *io, int fd, uint64_t len)
{
	(void)io;
	int rc;
	do
		rc = ftruncate(fd, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_size(hr_io *io, int fd, uint64_t *len)
{
	(void)io;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*len = (uint64_t)st.st_size;
	return 0;
}

static int px_link(hr_io *io, const char *from, const char *to)
{
	(void)io;
	return link(from, to) < 0 ? -errno : 0;
}

static int px_rename(hr_io *io, const char *from, const char *to)
{
	(void)io;
	return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(hr_io *io, const char *path)
{
	(void)io;
	return unlink(path) < 0 ? -errno : 0;
}

static int px_mkdir(hr_io *io, const char *path)
{
	(void)io;
	return mkdir(path, 0700) < 0 ? -errno : 0;
}

static int px_rmdir(hr_io *io, const char *path)
{
	(void)io;
	return rmdir(path) < 0 ? -errno : 0;
}

static int px_sync_dir(hr_io *io, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = px_sync(io, fd, 0);
	close(fd);
	return rc;
}

static int px_list(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n)
{
	(void)io;
	DIR *d = opendir(dir);
	hr_io_dirent *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	*ents = NULL;
	*n = 0;
	if (!d)
		return -errno;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			rc = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			hr_io_dirent *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		int is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(st.st_mode);
		}
		if (!(v[cnt].name = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		v[cnt++].is_dir = is_dir;
	}
	closedir(d);
	if (rc < 0) {
		hr_io_list_free(v, cnt);
		return rc;
	}
	*ents = v;
	*n = cnt;
	return 0;
}

static int px_stat(hr_io *io, const char *path, hr_io_attr *out)
{
	(void)io;
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	out->size = (uint64_t)st.st_size;
	out->is_dir = S_ISDIR(st.st_mode);
	out->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	out->ino = (uint64_t)st.st_ino;
	out->nlink = (uint32_t)st.st_nlink;
	return 0;
}

static int px_lock(hr_io *io, const char *path, int *token)
{
	int fd = px_open(io, path, HR_IO_RDWR | HR_IO_CREATE);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	*token = fd;
	return 0;
}

static void px_unlock(hr_io *io, int token)
{
	(void)io;
	if (token >= 0)
		close(token);
}

static ssize_t px_copy_range(hr_io *io, int src, int dst, uint64_t *off, size_t len)
{
	(void)io;
	loff_t in = (loff_t)*off, out = (loff_t)*off;
	ssize_t n;
	do
		n = copy_file_range(src, &in, dst, &out, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ENODATA;
	*off = (uint64_t)in;
	return n;
}

static int px_private_dir(hr_io *io, const char *path)
{
	(void)io;
	return chmod(path, 0700) < 0 ? -errno : 0;
}

static const hr_io_ops posix_ops = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.sync = px_sync,
	.truncate = px_truncate,
	.size = px_size,
	.rename = px_rename,
	.link = px_link,
	.unlink = px_unlink,
	.mkdir = px_mkdir,
	.rmdir = px_rmdir,
	.sync_dir = px_sync_dir,
	.list = px_list,
	.stat = px_stat,
	.lock = px_lock,
	.unlock = px_unlock,
	.meta_commit = NULL,
	.copy_range = px_copy_range,
	.private_dir = px_private_dir,
	.destroy = NULL,
};

static hr_io posix_io = {.ops = &posix_ops};

hr_io *hr_io_posix(void) { return &posix_io; }
