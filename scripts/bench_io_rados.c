/* bench_io_rados.c — what the RADOS I/O seam (io_rados.c) costs over raw
 * librados, in one run against one cluster: small objects written and read
 * with librados directly (the ceiling), then the same through io_rados as
 * files (create + write + sync + close; open + read + close), then a
 * WAL-like append stream (4 KiB appends, each acknowledged by RADOS before
 * pwrite returns, as the WAL needs; and pipelined with HR_IO_WRITEBACK,
 * synced every 64: what pipelining buys) and positioned reads on an open
 * file.
 * Each figure is the best of -r rounds (the machine may be shared), with
 * its ratio to the raw librados figure of the same kind.
 * Needs HR_CEPH_CONF and HR_RADOS_POOL (scripts/cluster_up.sh prints them);
 * works in a namespace of its own, removed at the end.
 * Usage: bench_io_rados [-n objects] [-s bytes] [-r rounds] */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_io_rados.h"
#include "bench_util.h"

static rados_ioctx_t ctx;
static hr_io *io;
static char root[PATH_MAX];
static int n = 1000;
static size_t sz = 4096;
static char *buf;

static double raw_write(int round)
{
	char oid[64];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(oid, sizeof(oid), "raw.%d.%d", round, i);
		TRY(rados_write_full(ctx, oid, buf, sz));
	}
	return n / (now_s() - t0);
}

static double raw_read(int round)
{
	char oid[64];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(oid, sizeof(oid), "raw.%d.%d", round, i);
		TRY(rados_read(ctx, oid, buf, sz, 0));
	}
	return n / (now_s() - t0);
}

static double file_write(int round)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/r%d", root, round);
	TRY(hr_io_mkdir(io, p));
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/r%d/%d", root, round, i);
		TRY(hr_io_write_file(io, p, HR_IO_EXCL, buf, sz));
	}
	return n / (now_s() - t0);
}

static double file_read(int round)
{
	char p[PATH_MAX];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/r%d/%d", root, round, i);
		int fd = hr_io_open(io, p, HR_IO_RDONLY);
		TRY(fd);
		TRY(hr_io_pread_all(io, fd, buf, sz, 0));
		TRY(hr_io_close(io, fd));
	}
	return n / (now_s() - t0);
}

/* n appends of sz bytes to one file, synced every `every` appends. */
static double append(int round, int every)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/log%d.%d", root, round, every);
	/* sync each: a write-through file (the WAL's); else pipelined */
	int wb = every > 1 ? HR_IO_WRITEBACK : 0;
	int fd = hr_io_open(io, p, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_EXCL | wb);
	TRY(fd);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		TRY(hr_io_pwrite_all(io, fd, buf, sz, (uint64_t)i * sz));
		if ((i + 1) % every == 0)
			TRY(hr_io_sync(io, fd, 1));
	}
	TRY(hr_io_sync(io, fd, 1));
	double r = n / (now_s() - t0);
	TRY(hr_io_close(io, fd));
	return r;
}

static double pread_open(int round)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/log%d.%d", root, round, 64);
	int fd = hr_io_open(io, p, HR_IO_RDONLY);
	TRY(fd);
	double t0 = now_s();
	unsigned x = 12345;
	for (int i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		TRY(hr_io_pread_all(io, fd, buf, sz, (uint64_t)(x % (unsigned)n) * sz));
	}
	double r = n / (now_s() - t0);
	TRY(hr_io_close(io, fd));
	return r;
}

static void purge(void)
{
	rados_list_ctx_t ls;
	if (rados_nobjects_list_open(ctx, &ls) < 0)
		return;
	const char *oid;
	char **v = NULL;
	size_t nv = 0;
	while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0) {
		v = realloc(v, (nv + 1) * sizeof(*v));
		v[nv++] = strdup(oid);
	}
	rados_nobjects_list_close(ls);
	for (size_t i = 0; i < nv; i++) {
		rados_remove(ctx, v[i]);
		free(v[i]);
	}
	free(v);
}

int main(int argc, char **argv)
{
	int rounds = 3, opt;
	while ((opt = getopt(argc, argv, "n:s:r:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 's': sz = (size_t)atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n objects] [-s bytes] [-r rounds]\n", argv[0]);
			return 2;
		}
	}
	const char *conf = getenv("HR_CEPH_CONF"), *pool = getenv("HR_RADOS_POOL");
	if (!conf || !pool || n < 64 || !sz || rounds < 1) {
		fprintf(stderr, "needs HR_CEPH_CONF and HR_RADOS_POOL, -n >= 64\n");
		return 2;
	}
	char ns[96];
	snprintf(ns, sizeof(ns), "hr-bench-io-rados-%d", (int)getpid());
	snprintf(root, sizeof(root), "/tmp/hr-bench-io-rados-%d", (int)getpid());
	hr_rados *r;
	TRY(hr_rados_connect(conf, pool, ns, &r));
	ctx = hr_rados_ioctx(r);
	TRY(hr_io_rados_new(r, root, &io));
	buf = malloc(sz);
	memset(buf, 'x', sz);
	struct { const char *what; double best; } f[7] = {
		{"raw librados write_full (sync)"}, {"raw librados read"},
		{"io_rados create+write+sync+close"}, {"io_rados open+read+close"},
		{"io_rados append (write-through)"}, {"io_rados append, WRITEBACK, sync/64"},
		{"io_rados pread on an open file"},
	};
	for (int k = 0; k < rounds; k++) {
		double v[7] = {raw_write(k), raw_read(k), file_write(k), file_read(k),
			       append(k, 1), append(k, 64), pread_open(k)};
		for (int i = 0; i < 7; i++)
			if (v[i] > f[i].best)
				f[i].best = v[i];
	}
	printf("%d objects of %zu bytes, best of %d rounds, pool %s\n", n, sz, rounds, pool);
	for (int i = 0; i < 7; i++) {
		double base = i == 1 || i == 3 || i == 6 ? f[1].best : f[0].best;
		printf("  %-36s %9.0f /s  %5.2fx raw %s\n", f[i].what, f[i].best, f[i].best / base,
		       i == 1 || i == 3 || i == 6 ? "read" : "write");
	}
	hr_io_destroy(io);
	purge();
	hr_rados_close(r);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	free(buf);
	return 0;
}
