/*
 * hrfs_ftool — single file-system calls the shell has no command for, for
 * the end-to-end tests (tests/e2e/files.bats):
 *
 *   hrfs_ftool mmap-write FILE OFFSET TEXT [close-first]
 *       maps FILE shared and read-write, copies TEXT to OFFSET through the
 *       mapping, then unmaps and closes it (with close-first: closes the
 *       descriptor first, so the kernel writes the page back at munmap)
 *   hrfs_ftool mmap-read FILE     prints FILE read through a shared mapping
 *   hrfs_ftool direct-write FILE TEXT   O_DIRECT|O_CREAT|O_TRUNC, one write
 *   hrfs_ftool direct-read FILE         O_DIRECT, prints what read returns
 *
 * Exit status 0 on success; a failing call is printed as "CALL: error".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 1;
}

static int mmap_write(const char *path, long off, const char *text, int close_first)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	if (fd < 0)
		return die("open");
	if (fstat(fd, &st) != 0)
		return die("fstat");
	size_t n = strlen(text);
	if (off < 0 || (size_t)off + n > (size_t)st.st_size) {
		fprintf(stderr, "mmap-write: %ld + %zu is past the end (%lld)\n", off, n,
			(long long)st.st_size);
		return 1;
	}
	char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return die("mmap");
	memcpy(m + off, text, n);
	if (close_first && close(fd) != 0)
		return die("close");
	if (munmap(m, (size_t)st.st_size) != 0)
		return die("munmap");
	if (!close_first && close(fd) != 0)
		return die("close");
	return 0;
}

static int mmap_read(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0)
		return die("open");
	if (fstat(fd, &st) != 0)
		return die("fstat");
	if (st.st_size == 0)
		return close(fd) == 0 ? 0 : die("close");
	char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return die("mmap");
	fwrite(m, 1, (size_t)st.st_size, stdout);
	munmap(m, (size_t)st.st_size);
	return close(fd) == 0 ? 0 : die("close");
}

static int direct_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (fd < 0)
		return die("open");
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	if (w < 0)
		return die("write");
	if ((size_t)w != n) {
		fprintf(stderr, "write: short (%zd of %zu)\n", w, n);
		return 1;
	}
	return close(fd) == 0 ? 0 : die("close");
}

static int direct_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT);
	char *buf;
	if (fd < 0)
		return die("open");
	if (posix_memalign((void **)&buf, 4096, 1 << 20) != 0)
		return 1;
	ssize_t r;
	while ((r = read(fd, buf, 1 << 20)) > 0)
		fwrite(buf, 1, (size_t)r, stdout);
	if (r < 0)
		return die("read");
	free(buf);
	return close(fd) == 0 ? 0 : die("close");
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "mmap-write") == 0)
		return mmap_write(argv[2], strtol(argv[3], NULL, 10), argv[4],
				  argc > 5 && strcmp(argv[5], "close-first") == 0);
	if (argc == 3 && strcmp(argv[1], "mmap-read") == 0)
		return mmap_read(argv[2]);
	if (argc == 4 && strcmp(argv[1], "direct-write") == 0)
		return direct_write(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "direct-read") == 0)
		return direct_read(argv[2]);
	fprintf(stderr, "usage: hrfs_ftool mmap-write FILE OFFSET TEXT [close-first] | mmap-read FILE |\n"
			"       direct-write FILE TEXT | direct-read FILE\n");
	return 2;
}
