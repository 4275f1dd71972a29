/*
 * bench_fs — a single-threaded file-system workload, the same on any
 * directory, so that a tmpfs and an hregionfs mount can be compared in one
 * run (scripts/bench_fs.sh drives it).
 *
 * Layout: DIR/<row>/cf/<qualifier>, ROWS rows x QUALS qualifiers, each cell
 * SIZE bytes. On hregionfs point it at <mnt>/<table> (the table is created
 * by mkdir(DIR) if missing); on tmpfs it makes plain directories.
 *
 * Phases, each timed with CLOCK_MONOTONIC:
 *   mkdir   rows and family directories
 *   create  open(O_CREAT|O_TRUNC) + write + close per cell
 *   read    open + read + close per cell (contents checked)
 *   walk    recursive opendir/readdir + fstatat of every entry
 *   unlink  unlink per cell
 *   rmdir   family and row directories
 * Output: one line per phase, "phase ops seconds ops_per_s", easy to parse.
 * Any unexpected error aborts with a message naming the path and exit 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

#define FAMILY "cf"

static const char *g_dir;
static long g_rows = 2500, g_quals = 4, g_size = 32;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench_fs: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void row_path(char *buf, size_t len, long r)
{
	snprintf(buf, len, "%s/r%06ld", g_dir, r);
}

static void fam_path(char *buf, size_t len, long r)
{
	snprintf(buf, len, "%s/r%06ld/" FAMILY, g_dir, r);
}

static void cell_path(char *buf, size_t len, long r, long q)
{
	snprintf(buf, len, "%s/r%06ld/" FAMILY "/q%ld", g_dir, r, q);
}

/* The value of a cell: its coordinates, padded, so a read of the wrong
 * cell or a torn value is caught. */
static void cell_value(char *buf, long r, long q)
{
	int n = snprintf(buf, (size_t)g_size + 1, "r%06ld q%ld ", r, q);

	if (n < 0)
		n = 0;
	for (long i = n; i < g_size; i++)
		buf[i] = (char)('a' + (i % 26));
}

static void report(const char *phase, long ops, double secs)
{
	printf("%-7s %8ld %10.3f %12.0f\n", phase, ops, secs, secs > 0 ? (double)ops / secs : 0.0);
	fflush(stdout);
}

static void phase_mkdir(void)
{
	char p[4096];
	double t0 = now_s();

	for (long r = 0; r < g_rows; r++) {
		row_path(p, sizeof p, r);
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir", p);
		fam_path(p, sizeof p, r);
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir", p);
	}
	report("mkdir", g_rows * 2, now_s() - t0);
}

static void phase_create(void)
{
	char p[4096];
	char *val = malloc((size_t)g_size + 1);
	double t0 = now_s();

	if (!val)
		die("malloc", "value");
	for (long r = 0; r < g_rows; r++) {
		for (long q = 0; q < g_quals; q++) {
			cell_path(p, sizeof p, r, q);
			cell_value(val, r, q);
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0)
				die("create", p);
			if (write(fd, val, (size_t)g_size) != (ssize_t)g_size)
				die("write", p);
			if (close(fd))
				die("close", p);
		}
	}
	report("create", g_rows * g_quals, now_s() - t0);
	free(val);
}

static void phase_read(void)
{
	char p[4096];
	char *val = malloc((size_t)g_size + 1);
	char *got = malloc((size_t)g_size + 2);
	double t0 = now_s();

	if (!val || !got)
		die("malloc", "value");
	for (long r = 0; r < g_rows; r++) {
		for (long q = 0; q < g_quals; q++) {
			cell_path(p, sizeof p, r, q);
			int fd = open(p, O_RDONLY);

			if (fd < 0)
				die("open", p);
			/* one byte more than expected: a longer value is an error */
			ssize_t n = read(fd, got, (size_t)g_size + 1);

			if (n < 0)
				die("read", p);
			close(fd);
			cell_value(val, r, q);
			if (n != g_size || memcmp(got, val, (size_t)g_size)) {
				fprintf(stderr, "bench_fs: %s: wrong value (%zd bytes)\n", p, n);
				exit(1);
			}
		}
	}
	report("read", g_rows * g_quals, now_s() - t0);
	free(val);
	free(got);
}

/* Entries seen (excluding . and ..), each one fstatat'ed. */
static long walk(int dfd, const char *path)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	long n = 0;

	if (!d)
		die("fdopendir", path);
	while ((errno = 0, e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			die("stat", e->d_name);
		n++;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY);

			if (sub < 0)
				die("opendir", e->d_name);
			n += walk(sub, e->d_name);
		}
	}
	if (errno)
		die("readdir", path);
	closedir(d);
	return n;
}

static void phase_walk(void)
{
	double t0 = now_s();
	int fd = open(g_dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		die("opendir", g_dir);
	long n = walk(fd, g_dir);
	double secs = now_s() - t0;
	long want = g_rows * (2 + g_quals);

	if (n != want) {
		fprintf(stderr, "bench_fs: walk saw %ld entries, expected %ld\n", n, want);
		exit(1);
	}
	report("walk", n, secs);
}

static void phase_unlink(void)
{
	char p[4096];
	double t0 = now_s();

	for (long r = 0; r < g_rows; r++) {
		for (long q = 0; q < g_quals; q++) {
			cell_path(p, sizeof p, r, q);
			if (unlink(p))
				die("unlink", p);
		}
	}
	report("unlink", g_rows * g_quals, now_s() - t0);
}

static void phase_rmdir(void)
{
	char p[4096];
	double t0 = now_s();

	for (long r = 0; r < g_rows; r++) {
		fam_path(p, sizeof p, r);
		/* hregionfs drops an emptied row with its last cell: that is fine */
		if (rmdir(p) && errno != ENOENT)
			die("rmdir", p);
		row_path(p, sizeof p, r);
		if (rmdir(p) && errno != ENOENT)
			die("rmdir", p);
	}
	report("rmdir", g_rows * 2, now_s() - t0);
}

static long arg_long(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0) {
		fprintf(stderr, "bench_fs: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 5 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: bench_fs DIR [ROWS [QUALIFIERS [SIZE]]]\n"
				"  defaults: 2500 rows x 4 qualifiers, 32-byte values\n");
		return 2;
	}
	g_dir = argv[1];
	if (argc > 2)
		g_rows = arg_long(argv[2], "row count");
	if (argc > 3)
		g_quals = arg_long(argv[3], "qualifier count");
	if (argc > 4)
		g_size = arg_long(argv[4], "value size");
	if (g_size < 16)
		g_size = 16;
	if (mkdir(g_dir, 0755) && errno != EEXIST)
		die("mkdir", g_dir);

	printf("%-7s %8s %10s %12s\n", "phase", "ops", "seconds", "ops/s");
	phase_mkdir();
	phase_create();
	phase_read();
	phase_walk();
	phase_unlink();
	phase_rmdir();
	return 0;
}
