/* bench_engine.c — engine figures for issue 2's benchmark: put, synced put
 * (group commit), random get (memstore, files, misses) and scan rates.
 *
 * Each phase runs on its own fresh data directory under the base directory
 * (removed afterwards), with the config defaults except data_dir and the
 * durability the phase needs. Rows are key_size bytes built like db_bench's
 * keys (8-byte big-endian number, '0'-padded), so scripts/bench_engine.sh
 * can put RocksDB's fillrandom/readrandom figures next to these.
 *
 * Output: one line per figure, "name ops seconds ops_per_s"; lines starting
 * with '#' are commentary (WAL batch sizes, the group-commit gain). A phase
 * that sees a wrong answer (missing row, bad value) fails the run (exit 1):
 * a fast wrong engine is no figure. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"
#include "bench_util.h"

#define TABLE "bench"
#define FAMILY "cf"
#define QUAL "q"

static struct {
	const char *base;
	uint64_t puts, gets, sync_ops;
	size_t key_size, value_size;
	const char *only; /* comma-separated phase names (prefix match), NULL = all */
	int keep;
	int no_histograms; /* -H: metrics_histograms = false (the A/B of bench_metrics.sh) */
	int rados;	   /* -R: storage=rados (HR_CEPH_CONF, HR_RADOS_POOL) */
} opt = {NULL, 200000, 100000, 2000, 16, 100, NULL, 0, 0, 0};

static uint8_t *value_buf;
static int failed;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* db_bench's GenerateKeyFromInt without prefixes: big-endian number, then '0'. */
static void make_key(uint8_t *k, uint64_t n)
{
	size_t i = 0;
	for (; i < 8 && i < opt.key_size; i++)
		k[i] = (uint8_t)(n >> (56 - 8 * i));
	for (; i < opt.key_size; i++)
		k[i] = '0';
}

static uint64_t *shuffled(uint64_t n, uint64_t mul, uint64_t seed)
{
	uint64_t *a = malloc((n ? n : 1) * sizeof(*a));
	if (!a) {
		perror("malloc");
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++)
		a[i] = i * mul;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = splitmix(&seed) % i, t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
	return a;
}

static int selected(const char *name)
{
	if (!opt.only)
		return 1;
	const char *p = opt.only;
	while (*p) {
		size_t l = strcspn(p, ",");
		if (l && strncmp(name, p, l) == 0)
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

/* CPU seconds of the whole process (every thread, background ones too). */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The trailing comment, CPU time per op, is steadier than ops/s when other
 * processes compete for a small machine's CPUs. */
static void report(const char *name, uint64_t ops, double secs, double cpu)
{
	printf("%-18s %10llu %9.3f %12.0f   # cpu %.2f us/op\n", name, (unsigned long long)ops,
	       secs, secs > 0 ? (double)ops / secs : 0.0, ops ? cpu * 1e6 / (double)ops : 0.0);
	fflush(stdout);
}

/* ---- per-phase server ------------------------------------------------------ */

typedef struct bench_srv {
	char dir[4096];
	hr_server *srv;
} bench_srv;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int srv_open(bench_srv *b, int durability)
{
	snprintf(b->dir, sizeof(b->dir), "%s/hrbench-XXXXXX", opt.base);
	if (!mkdtemp(b->dir)) {
		fprintf(stderr, "bench_engine: mkdtemp %s: %s\n", b->dir, strerror(errno));
		return -errno;
	}
	hr_config c;
	hr_config_defaults(&c);
	snprintf(c.data_dir, sizeof(c.data_dir), "%s", b->dir);
	c.durability = durability;
	c.metrics_histograms = !opt.no_histograms;
	if (opt.rados) {
		c.storage = HR_STORAGE_RADOS;
		snprintf(c.ceph_conf, sizeof(c.ceph_conf), "%s", getenv("HR_CEPH_CONF"));
		snprintf(c.rados_pool, sizeof(c.rados_pool), "%s", getenv("HR_RADOS_POOL"));
	}
	int rc = hr_server_open(&c, &b->srv);
	if (rc < 0) {
		fprintf(stderr, "bench_engine: hr_server_open %s: %s\n", b->dir, hr_strerror(rc));
		nftw(b->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		return rc;
	}
	hr_table_schema s;
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", TABLE);
	s.nfamilies = 1;
	hr_family_defaults(&s.families[0], FAMILY);
	if ((rc = hr_table_create(b->srv, &s)) < 0)
		fprintf(stderr, "bench_engine: hr_table_create: %s\n", hr_strerror(rc));
	return rc;
}

static void srv_close(bench_srv *b)
{
	int rc = hr_server_close(b->srv);
	if (rc < 0)
		fprintf(stderr, "bench_engine: hr_server_close: %s\n", hr_strerror(rc));
	b->srv = NULL;
	if (!opt.keep)
		nftw(b->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void wal_comment(const char *name, hr_server *srv, const hr_stats *before)
{
	hr_stats s;
	if (hr_stats_get(srv, &s) < 0)
		return;
	uint64_t ap = s.wal_appends - before->wal_appends, sy = s.wal_syncs - before->wal_syncs;
	printf("# %s: wal_appends %llu wal_syncs %llu (%.2f records per sync)\n", name,
	       (unsigned long long)ap, (unsigned long long)sy, sy ? (double)ap / (double)sy : 0.0);
}

/* ---- puts ------------------------------------------------------------------- */

typedef struct put_job {
	hr_server *srv;
	const uint64_t *keys;
	uint64_t n;
	unsigned flags;
	pthread_barrier_t *start;
	int rc;
} put_job;

static void *put_thread(void *arg)
{
	put_job *j = arg;
	uint8_t key[HR_MAX_ROW];
	pthread_barrier_wait(j->start);
	for (uint64_t i = 0; i < j->n; i++) {
		make_key(key, j->keys[i]);
		int rc = hr_put(j->srv, TABLE, key, opt.key_size, FAMILY, QUAL, 1, value_buf,
				opt.value_size, j->flags);
		if (rc < 0) {
			fprintf(stderr, "bench_engine: hr_put: %s\n", hr_strerror(rc));
			j->rc = rc;
			break;
		}
	}
	return NULL;
}

/* nthreads writers, per_thread puts each, every thread on its own rows
 * (a slice of one shuffled key space, so the order is random). Returns the
 * rate, or -1. */
static double put_phase(const char *name, int durability, int nthreads, uint64_t per_thread)
{
	if (!selected(name))
		return 0;
	bench_srv b;
	if (srv_open(&b, durability) < 0) {
		failed = 1;
		return -1;
	}
	uint64_t total = per_thread * (uint64_t)nthreads;
	uint64_t *keys = shuffled(total, 1, 0x5eed0000u + (uint64_t)nthreads);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	put_job *jobs = calloc((size_t)nthreads, sizeof(*jobs));
	pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
	hr_stats before;
	hr_stats_get(b.srv, &before);
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (put_job){b.srv, keys + (uint64_t)t * per_thread, per_thread, 0, &start, 0};
		pthread_create(&tids[t], NULL, put_thread, &jobs[t]);
	}
	pthread_barrier_wait(&start);
	double t0 = now_s(), c0 = cpu_s();
	for (int t = 0; t < nthreads; t++)
		pthread_join(tids[t], NULL);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	int rc = 0;
	for (int t = 0; t < nthreads; t++)
		if (jobs[t].rc)
			rc = jobs[t].rc;
	double rate = -1;
	if (rc == 0) {
		report(name, total, secs, cpu);
		rate = (double)total / secs;
		if (durability == HR_DURABILITY_FSYNC)
			wal_comment(name, b.srv, &before);
	} else {
		failed = 1;
	}
	pthread_barrier_destroy(&start);
	free(jobs);
	free(tids);
	free(keys);
	srv_close(&b);
	return rate;
}

/* ---- gets and scans --------------------------------------------------------- */

/* n random gets of rows (key index * 2 + odd): odd = 0 hits, 1 misses. */
static int get_pass(const char *name, hr_server *srv, uint64_t nkeys, uint64_t n, int odd,
		    uint64_t seed, int timed)
{
	uint8_t key[HR_MAX_ROW];
	uint64_t bad = 0;
	double t0 = now_s(), c0 = cpu_s();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = (timed ? splitmix(&seed) % nkeys : i % nkeys) * 2 + (uint64_t)odd;
		make_key(key, k);
		hr_value v;
		int rc = hr_get(srv, TABLE, key, opt.key_size, FAMILY, QUAL, 1, HR_GET_VALUE, &v);
		if (odd) {
			if (rc != -ENOENT)
				bad++;
		} else if (rc < 0 || v.len != opt.value_size ||
			   (v.len && memcmp(v.data, value_buf, v.len) != 0)) {
			bad++;
		}
		if (rc == 0)
			free(v.data);
	}
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	if (bad) {
		fprintf(stderr, "bench_engine: %s: %llu of %llu gets returned a wrong answer\n",
			name, (unsigned long long)bad, (unsigned long long)n);
		failed = 1;
		return -1;
	}
	if (timed)
		report(name, n, secs, cpu);
	return 0;
}

static int scan_pass(const char *name, hr_server *srv, uint64_t expect)
{
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	hr_scan *sc;
	uint64_t cells = 0, bytes = 0;
	double t0 = now_s(), c0 = cpu_s();
	int rc = hr_scan_open(srv, TABLE, &o, &sc);
	if (rc < 0) {
		fprintf(stderr, "bench_engine: %s: hr_scan_open: %s\n", name, hr_strerror(rc));
		failed = 1;
		return rc;
	}
	hr_scan_entry e;
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		cells++;
		bytes += e.value_len;
	}
	hr_scan_close(sc);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	if (rc < 0 || cells != expect || bytes != expect * opt.value_size) {
		fprintf(stderr, "bench_engine: %s: scan rc %d, %llu cells (expected %llu)\n", name, rc,
			(unsigned long long)cells, (unsigned long long)expect);
		failed = 1;
		return -1;
	}
	report(name, cells, secs, cpu);
	return 0;
}

/* One server: load gets rows (even key numbers, random order, untimed),
 * then gets from the memstore, a memstore scan, flush, gets from the files
 * (after one untimed pass that warms the block cache), misses (odd key
 * numbers: inside the files' key range, so the bloom filter has to answer)
 * and a scan of the files. */
static void read_phases(void)
{
	if (!selected("get_memstore") && !selected("scan_memstore") && !selected("get_files") &&
	    !selected("get_miss") && !selected("scan_files"))
		return;
	bench_srv b;
	if (srv_open(&b, HR_DURABILITY_OS) < 0) {
		failed = 1;
		return;
	}
	uint64_t n = opt.gets;
	uint64_t *keys = shuffled(n, 2, 0x10ad);
	uint8_t key[HR_MAX_ROW];
	for (uint64_t i = 0; i < n; i++) {
		make_key(key, keys[i]);
		int rc = hr_put(b.srv, TABLE, key, opt.key_size, FAMILY, QUAL, 1, value_buf,
				opt.value_size, 0);
		if (rc < 0) {
			fprintf(stderr, "bench_engine: load: hr_put: %s\n", hr_strerror(rc));
			failed = 1;
			goto out;
		}
	}
	hr_stats st;
	if (hr_stats_get(b.srv, &st) == 0 && st.flushes)
		printf("# load of %llu rows flushed %llu times: get_memstore is partly from files\n",
		       (unsigned long long)n, (unsigned long long)st.flushes);
	if (selected("get_memstore") && get_pass("get_memstore", b.srv, n, n, 0, 1, 1) < 0)
		goto out;
	if (selected("scan_memstore") && scan_pass("scan_memstore", b.srv, n) < 0)
		goto out;
	int rc = hr_flush(b.srv, NULL);
	if (rc < 0) {
		fprintf(stderr, "bench_engine: hr_flush: %s\n", hr_strerror(rc));
		failed = 1;
		goto out;
	}
	if (selected("get_files")) {
		if (get_pass("warmup", b.srv, n, n, 0, 2, 0) < 0 ||
		    get_pass("get_files", b.srv, n, n, 0, 3, 1) < 0)
			goto out;
	}
	if (selected("get_miss") && get_pass("get_miss", b.srv, n, n, 1, 4, 1) < 0)
		goto out;
	if (selected("scan_files") && scan_pass("scan_files", b.srv, n) < 0)
		goto out;
out:
	free(keys);
	srv_close(&b);
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_engine [-d DIR] [-n PUTS] [-g GETS] [-s SYNC_OPS] [-k KEY_SIZE]\n"
		"                    [-v VALUE_SIZE] [-o PHASES] [-K] [-H]\n"
		"  -d DIR        base for the per-phase temp data dirs ($TMPDIR or /tmp)\n"
		"  -n PUTS       puts in the os-durability put phases (200000)\n"
		"  -g GETS       rows loaded and gets per get phase; scans read them (100000)\n"
		"  -s SYNC_OPS   puts per writer in the fsync phases (2000)\n"
		"  -k KEY_SIZE   row bytes (16)   -v VALUE_SIZE  value bytes (100)\n"
		"  -o PHASES     comma-separated phase name prefixes, e.g. put_os,get_files\n"
		"                (put_os_1t put_os_2t put_fsync_1w put_fsync_4w put_fsync_16w\n"
		"                 get_memstore scan_memstore get_files get_miss scan_files)\n"
		"  -K            keep the data dirs (for inspection)\n"
		"  -H            no latency histograms (metrics_histograms = false)\n"
		"  -R            storage=rados (HR_CEPH_CONF, HR_RADOS_POOL; the namespace\n"
		"                of each phase's data directory is left behind)\n");
}

static uint64_t num_arg(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "bench_engine: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "d:n:g:s:k:v:o:KHRh")) != -1) {
		switch (c) {
		case 'd': opt.base = optarg; break;
		case 'n': opt.puts = num_arg(optarg, "-n"); break;
		case 'g': opt.gets = num_arg(optarg, "-g"); break;
		case 's': opt.sync_ops = num_arg(optarg, "-s"); break;
		case 'k': opt.key_size = num_arg(optarg, "-k"); break;
		case 'v': opt.value_size = num_arg(optarg, "-v"); break;
		case 'o': opt.only = optarg; break;
		case 'K': opt.keep = 1; break;
		case 'H': opt.no_histograms = 1; break;
		case 'R': opt.rados = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || opt.key_size < 8 || opt.key_size > HR_MAX_ROW || opt.puts < 2 ||
	    opt.gets < 1 || opt.sync_ops < 1) {
		usage(stderr);
		fprintf(stderr, "(key size 8..%d, counts >= 1, puts >= 2)\n", HR_MAX_ROW);
		return 2;
	}
	if (!opt.base)
		opt.base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if (opt.rados && (!getenv("HR_CEPH_CONF") || !getenv("HR_RADOS_POOL"))) {
		fprintf(stderr, "bench_engine: -R needs HR_CEPH_CONF and HR_RADOS_POOL\n");
		return 2;
	}
	hr_log_set_level(HR_LOG_WARN);

	value_buf = malloc(opt.value_size ? opt.value_size : 1);
	uint64_t s = 42;
	for (size_t i = 0; i < opt.value_size; i++)
		value_buf[i] = (uint8_t)(' ' + splitmix(&s) % 95);

	printf("# hregionfs %s engine benchmark: %zu-byte rows, %zu-byte values, base dir %s%s\n",
	       HR_VERSION_STRING, opt.key_size, opt.value_size, opt.base,
	       opt.rados ? ", storage=rados" : "");
	printf("%-18s %10s %9s %12s\n", "# name", "ops", "seconds", "ops/s");
	fflush(stdout);

	put_phase("put_os_1t", HR_DURABILITY_OS, 1, opt.puts);
	put_phase("put_os_2t", HR_DURABILITY_OS, 2, opt.puts / 2);
	double w1 = put_phase("put_fsync_1w", HR_DURABILITY_FSYNC, 1, opt.sync_ops);
	put_phase("put_fsync_4w", HR_DURABILITY_FSYNC, 4, opt.sync_ops);
	double w16 = put_phase("put_fsync_16w", HR_DURABILITY_FSYNC, 16, opt.sync_ops);
	if (w1 > 0 && w16 > 0)
		printf("# group_commit_gain 16w/1w %.2f (target >= 8)\n", w16 / w1);
	read_phases();
	free(value_buf);
	return failed ? 1 : 0;
}
