/* bench_meta.c — metadata commit figures, LMDB against RADOS (meta_rados)
 * in the same run: the latency of a write transaction like a flush's (one
 * store record + the WAL segment list), of a region-id allocation
 * (hr_meta_counter_alloc), and of a full walk of the store records.
 *
 *   bench_meta [-n COMMITS] [-d BASEDIR]
 * RADOS needs HR_CEPH_CONF and HR_RADOS_POOL (source /work/devcluster/env
 * or scripts/cluster_up.sh); without them only LMDB is measured.
 * Output: "name ops seconds ops_per_s us_per_op", then the ratios. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include "engine/hr_io.h"
#include "engine/hr_meta.h"
#include "hr_log.h"
#include "bench_util.h"

static void report(const char *name, unsigned long n, double secs)
{
	printf("%-22s %8lu %9.3f %10.0f %9.1f\n", name, n, secs, n / secs, secs * 1e6 / n);
	fflush(stdout);
}

static int nop_cb(void *ctx, const hr_meta_store *s)
{
	(*(unsigned long *)ctx)++;
	(void)s;
	return 0;
}

/* Returns the commit time per op in seconds (0 on failure). */
static double run(const char *label, hr_meta *m, unsigned long n)
{
	char name[64];
	uint64_t files[8] = {8, 7, 6, 5, 4, 3, 2, 1}, first;
	hr_meta_txn *t;
	double t0 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		hr_meta_store s = {.region_id = 1 + i % 64, .family = "cf", .flushed_seq = i,
				   .nfiles = 8, .files = files};
		if (hr_meta_begin(m, 1, &t) < 0 || hr_meta_store_put(t, &s) < 0 ||
		    hr_meta_wal_put(t, i + 1) < 0 || (i > 0 && hr_meta_wal_del(t, i) < 0) ||
		    hr_meta_commit(t) < 0) {
			fprintf(stderr, "bench_meta: %s: commit %lu failed\n", label, i);
			return 0;
		}
	}
	double commit = now_s() - t0;
	snprintf(name, sizeof(name), "%s_commit", label);
	report(name, n, commit);
	t0 = now_s();
	for (unsigned long i = 0; i < n; i++)
		if (hr_meta_counter_alloc(m, "next_region_id", 1, 0, &first) < 0) {
			fprintf(stderr, "bench_meta: %s: alloc failed\n", label);
			return 0;
		}
	snprintf(name, sizeof(name), "%s_alloc", label);
	report(name, n, now_s() - t0);
	unsigned long seen = 0, walks = n / 10 ? n / 10 : 1;
	t0 = now_s();
	for (unsigned long i = 0; i < walks; i++) {
		if (hr_meta_begin(m, 0, &t) < 0 || hr_meta_store_each(t, nop_cb, &seen) < 0) {
			fprintf(stderr, "bench_meta: %s: walk failed\n", label);
			return 0;
		}
		hr_meta_abort(t);
	}
	snprintf(name, sizeof(name), "%s_walk64", label);
	report(name, walks, now_s() - t0);
	return commit / n;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

int main(int argc, char **argv)
{
	unsigned long n = 2000;
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int c;
	while ((c = getopt(argc, argv, "n:d:")) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 'd')
			base = optarg;
		else {
			fprintf(stderr, "usage: bench_meta [-n COMMITS] [-d BASEDIR]\n");
			return 2;
		}
	}
	if (n < 1)
		n = 1;
	hr_log_set_level(HR_LOG_WARN);
	printf("%-22s %8s %9s %10s %9s\n", "# name", "ops", "seconds", "ops/s", "us/op");

	char dir[4096];
	hr_meta *m;
	snprintf(dir, sizeof(dir), "%s/hrbench-meta-XXXXXX", base);
	if (!mkdtemp(dir) || hr_meta_open(dir, hr_io_posix(), &m) < 0) {
		fprintf(stderr, "bench_meta: cannot open LMDB in %s\n", dir);
		return 1;
	}
	double lmdb = run("lmdb", m, n);
	hr_meta_close(m);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);

	const char *conf = getenv("HR_CEPH_CONF"), *pool = getenv("HR_RADOS_POOL");
	if (!conf || !*conf || !pool || !*pool) {
		printf("# RADOS not measured: HR_CEPH_CONF/HR_RADOS_POOL unset\n");
		return lmdb > 0 ? 0 : 1;
	}
	rados_t cl;
	rados_ioctx_t io;
	char ns[64];
	if (rados_create(&cl, NULL) < 0 || rados_conf_read_file(cl, conf) < 0 ||
	    rados_connect(cl) < 0 || rados_ioctx_create(cl, pool, &io) < 0) {
		fprintf(stderr, "bench_meta: cannot connect to %s pool %s\n", conf, pool);
		return 1;
	}
	snprintf(ns, sizeof(ns), "hrbench-meta-%d", (int)getpid());
	rados_ioctx_set_namespace(io, ns);
	double rad = 0;
	if (hr_meta_open_rados(io, "", hr_io_posix(), &m) == 0) {
		rad = run("rados", m, n);
		hr_meta_close(m);
	}
	rados_remove(io, HR_META_RADOS_OBJECT);
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	if (lmdb > 0 && rad > 0)
		printf("# commit latency rados/lmdb %.1fx (%.0f us vs %.0f us)\n", rad / lmdb,
		       rad * 1e6, lmdb * 1e6);
	return lmdb > 0 && rad > 0 ? 0 : 1;
}
