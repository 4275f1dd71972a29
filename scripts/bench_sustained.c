/* bench_sustained.c — issue 4's benchmark: sustained writes with flushes,
 * compactions and splits running, and read latency during a major
 * compaction against idle. Figures, not a test.
 *
 *   bench_sustained engine -d DIR [-s SECONDS] [-t THREADS] [-v VALUE_SIZE]
 *                          [-f FLUSH_SIZE] [-S SPLIT_SIZE]
 *       puts through the engine API into a fresh data directory DIR
 *       (removed at the end unless -k); then idle reads, then reads during
 *       hr_compact(srv, table, 1) in another thread.
 *   bench_sustained fs -m MOUNTPOINT [-s SECONDS] [-t THREADS] [-v VALUE_SIZE]
 *                      [-p DAEMON_PID]
 *       the same writes as cells through a mounted hregionfs (open, write,
 *       close per cell; rows made with mkdir); reads with open/read/close.
 *       The major compaction is not reachable through the mount: this mode
 *       reports sustained writes and idle reads only.
 *
 * Output: per 10-second interval "interval T ops ops/s p50_us p99_us";
 * then the summary lines (first-minute rate, lowest interval, read
 * latencies, write amplification). Write amplification is bytes written to
 * disk / bytes put (row + value bytes): "stats" counts what the engine
 * reports (flush_bytes + compaction_bytes_out + wal_bytes; split rewrites
 * are not in those counters), "io" what the kernel saw the process write
 * (/proc/<pid>/io write_bytes; 0 on file systems that do not account it).
 * A wrong answer (a missing key on read) fails the run (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"

#define TABLE "bench"
#define FAMILY "cf"
#define INTERVAL_S 10
#define NB 1024		/* latency buckets (log-linear over ns) */
#define MAX_THREADS 64

static struct {
	int fs;
	const char *dir, *mnt;
	unsigned seconds, threads;
	size_t value_size;
	uint64_t flush_size, split_size;
	int keep;
	long daemon_pid;
} opt = {0, NULL, NULL, 600, 2, 100, 4ull << 20, 64ull << 20, 0, 0};

static hr_server *g_srv;
static uint64_t g_t0;
static unsigned g_nint;
static atomic_int g_stop;
static atomic_uint_fast64_t g_bytes_put;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram: 64 powers of two x 16 linear sub-buckets ---------- */

static unsigned bucket(uint64_t ns)
{
	if (ns < 16)
		return (unsigned)ns;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	unsigned sub = (unsigned)(ns >> (msb - 4)) & 15u;
	unsigned b = (msb - 3) * 16 + sub;
	return b < NB ? b : NB - 1;
}

static uint64_t bucket_ns(unsigned b)
{
	if (b < 16)
		return b;
	unsigned msb = b / 16 + 3, sub = b % 16;
	return ((uint64_t)(16 + sub)) << (msb - 4);
}

/* the value at quantile q of the counts h[NB] (in microseconds) */
static double quantile_us(const uint64_t *h, double q)
{
	uint64_t n = 0, acc = 0;
	for (unsigned b = 0; b < NB; b++)
		n += h[b];
	if (!n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	for (unsigned b = 0; b < NB; b++) {
		acc += h[b];
		if (acc > want)
			return (double)bucket_ns(b) / 1000.0;
	}
	return 0;
}

/* per writer thread: counts per interval (written only by the thread) */
typedef struct wstate {
	unsigned idx;
	uint64_t count;		/* keys written: key(idx, 0..count-1) */
	uint64_t (*hist)[NB];	/* [g_nint][NB] */
	uint64_t *ops;		/* [g_nint] */
	int err;
} wstate;

static wstate g_w[MAX_THREADS];

/* key k of writer w: spread over the key space (splitmix), 16 bytes hex */
static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int key_of(unsigned w, uint64_t k, char *buf)
{
	return snprintf(buf, 24, "%016" PRIx64, mix(((uint64_t)w << 48) ^ k));
}

static void fill_value(char *v, size_t n, uint64_t k)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (char)('a' + (k + i * 7) % 26);
}

/* ---- one put / one get, engine or mount ------------------------------------ */

static int put_one(const char *key, const char *v, size_t vl)
{
	if (!opt.fs) {
		int rc;
		do
			rc = hr_put(g_srv, TABLE, key, 16, FAMILY, "q", 1, v, vl, 0);
		while (rc == -EBUSY || rc == -ESTALE || rc == -ETIMEDOUT);
		return rc;
	}
	/* rows are directories: r<first 4 hex>/<key>... keep it one row per key
	 * under a table directory, family cf, qualifier q */
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s/%.16s", opt.mnt, TABLE, key);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	size_t l = strlen(path);
	snprintf(path + l, sizeof(path) - l, "/%s", FAMILY);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	l = strlen(path);
	snprintf(path + l, sizeof(path) - l, "/q");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, v, vl);
	int rc = n == (ssize_t)vl ? 0 : (n < 0 ? -errno : -EIO);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int get_one(const char *key, size_t want_len)
{
	if (!opt.fs) {
		hr_value v;
		int rc;
		do
			rc = hr_get(g_srv, TABLE, key, 16, FAMILY, "q", 1, HR_GET_VALUE, &v);
		while (rc == -EBUSY || rc == -ESTALE || rc == -ETIMEDOUT);
		if (rc == 0) {
			rc = v.len == want_len ? 0 : -EIO;
			free(v.data);
		}
		return rc;
	}
	char path[4200], buf[65536];
	snprintf(path, sizeof(path), "%s/%s/%.16s/%s/q", opt.mnt, TABLE, key, FAMILY);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)want_len ? 0 : -EIO;
}

static void *writer_main(void *p)
{
	wstate *w = p;
	char key[24], *v = malloc(opt.value_size);
	for (uint64_t k = 0; !atomic_load(&g_stop); k++) {
		key_of(w->idx, k, key);
		fill_value(v, opt.value_size, k);
		uint64_t t = now_ns();
		int rc = put_one(key, v, opt.value_size);
		uint64_t e = now_ns();
		if (rc < 0) {
			w->err = rc;
			fprintf(stderr, "put %s: %s\n", key, strerror(-rc));
			break;
		}
		unsigned iv = (unsigned)((t - g_t0) / (INTERVAL_S * 1000000000ull));
		if (iv >= g_nint)
			iv = g_nint - 1;
		w->hist[iv][bucket(e - t)]++;
		w->ops[iv]++;
		w->count = k + 1;
		atomic_fetch_add_explicit(&g_bytes_put, 16 + opt.value_size, memory_order_relaxed);
	}
	free(v);
	return NULL;
}

/* ---- bytes written to disk ---------------------------------------------- */

typedef struct wbytes {
	uint64_t flush, compact_out, wal, splits, compactions, io;
} wbytes;

static uint64_t proc_io_write(long pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), pid ? "/proc/%ld/io" : "/proc/self/io", pid);
	FILE *f = fopen(path, "r");
	uint64_t v = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

static void read_wbytes(wbytes *b)
{
	memset(b, 0, sizeof(*b));
	if (!opt.fs) {
		hr_stats s;
		if (hr_stats_get(g_srv, &s) == 0) {
			b->flush = s.flush_bytes;
			b->compact_out = s.compaction_bytes_out;
			b->wal = s.wal_bytes;
			b->splits = s.splits;
			b->compactions = s.compactions;
		}
		b->io = proc_io_write(0);
		return;
	}
	char path[4200], line[256];
	snprintf(path, sizeof(path), "%s/.hregionfs/stats", opt.mnt);
	FILE *f = fopen(path, "r");
	if (f) {
		char k[128];
		uint64_t v;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%127s %" SCNu64, k, &v) != 2)
				continue;
			if (!strcmp(k, "flush_bytes"))
				b->flush = v;
			else if (!strcmp(k, "compaction_bytes_out"))
				b->compact_out = v;
			else if (!strcmp(k, "wal_bytes"))
				b->wal = v;
			else if (!strcmp(k, "splits"))
				b->splits = v;
			else if (!strcmp(k, "compactions"))
				b->compactions = v;
		}
		fclose(f);
	}
	b->io = opt.daemon_pid ? proc_io_write(opt.daemon_pid) : 0;
}

/* ---- reads: idle, during a major compaction ----------------------------- */

typedef struct rres {
	uint64_t hist[NB];
	uint64_t n;
	int err;
} rres;

/* random gets of written keys until *stop (or for max_ns); */
static void read_loop(rres *r, atomic_int *stop, uint64_t max_ns, uint64_t *seed)
{
	uint64_t t_end = now_ns() + max_ns;
	unsigned nt = opt.threads;
	while (!atomic_load(stop) && now_ns() < t_end) {
		*seed = mix(*seed);
		unsigned w = (unsigned)(*seed % nt);
		if (!g_w[w].count)
			continue;
		uint64_t k = (*seed >> 8) % g_w[w].count;
		char key[24];
		key_of(w, k, key);
		uint64_t t = now_ns();
		int rc = get_one(key, opt.value_size);
		uint64_t e = now_ns();
		if (rc < 0) {
			fprintf(stderr, "get %s (writer %u key %" PRIu64 "): %s\n", key, w, k,
				strerror(-rc));
			r->err = rc;
			return;
		}
		r->hist[bucket(e - t)]++;
		r->n++;
	}
}

typedef struct cjob {
	atomic_int done;
	int rc;
	uint64_t ns;
} cjob;

static void *compact_main(void *p)
{
	cjob *j = p;
	uint64_t t = now_ns();
	j->rc = hr_compact(g_srv, TABLE, 1);
	j->ns = now_ns() - t;
	atomic_store(&j->done, 1);
	return NULL;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_sustained engine -d DIR | fs -m MNT [-p PID]  [-s SECONDS]"
			" [-t THREADS] [-v VALUE_SIZE] [-f FLUSH_SIZE] [-S SPLIT_SIZE] [-k]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "fs"))
		opt.fs = 1;
	else if (strcmp(argv[1], "engine"))
		usage();
	int c;
	optind = 2;
	while ((c = getopt(argc, argv, "d:m:s:t:v:f:S:kp:")) != -1) {
		switch (c) {
		case 'd': opt.dir = optarg; break;
		case 'm': opt.mnt = optarg; break;
		case 's': opt.seconds = (unsigned)atoi(optarg); break;
		case 't': opt.threads = (unsigned)atoi(optarg); break;
		case 'v': opt.value_size = (size_t)parse_size(optarg); break;
		case 'f': opt.flush_size = parse_size(optarg); break;
		case 'S': opt.split_size = parse_size(optarg); break;
		case 'k': opt.keep = 1; break;
		case 'p': opt.daemon_pid = atol(optarg); break;
		default: usage();
		}
	}
	if ((opt.fs && !opt.mnt) || (!opt.fs && !opt.dir) || !opt.seconds || !opt.threads ||
	    opt.threads > MAX_THREADS || !opt.value_size || opt.value_size > 65536)
		usage();

	if (!opt.fs) {
		hr_config cfg;
		hr_config_defaults(&cfg);
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", opt.dir);
		cfg.flush_size = opt.flush_size;
		cfg.split_size = opt.split_size;
		hr_log_set_level(HR_LOG_WARN);
		int rc = hr_server_open(&cfg, &g_srv);
		if (rc < 0) {
			fprintf(stderr, "hr_server_open(%s): %s\n", opt.dir, strerror(-rc));
			return 1;
		}
		hr_table_schema s;
		memset(&s, 0, sizeof(s));
		snprintf(s.name, sizeof(s.name), TABLE);
		s.nfamilies = 1;
		hr_family_defaults(&s.families[0], FAMILY);
		if ((rc = hr_table_create(g_srv, &s)) < 0 && rc != -EEXIST) {
			fprintf(stderr, "hr_table_create: %s\n", strerror(-rc));
			return 1;
		}
	} else {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", opt.mnt, TABLE);
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			perror(p);
			return 1;
		}
	}

	g_nint = (opt.seconds + INTERVAL_S - 1) / INTERVAL_S + 1;
	printf("# %s: %u s of puts, %u writer threads, 16-byte keys, %zu-byte values",
	       opt.fs ? "mount" : "engine", opt.seconds, opt.threads, opt.value_size);
	if (!opt.fs)
		printf(", flush_size %" PRIu64 ", split_size %" PRIu64, opt.flush_size,
		       opt.split_size);
	printf("\n# interval  end_s      ops     ops/s   p50_us   p99_us  splits compactions\n");
	fflush(stdout);
	wbytes b0, b1;
	read_wbytes(&b0);
	pthread_t th[MAX_THREADS];
	g_t0 = now_ns();
	for (unsigned i = 0; i < opt.threads; i++) {
		g_w[i].idx = i;
		g_w[i].hist = calloc(g_nint, sizeof(*g_w[i].hist));
		g_w[i].ops = calloc(g_nint, sizeof(uint64_t));
		pthread_create(&th[i], NULL, writer_main, &g_w[i]);
	}
	/* report each interval once it is over (plus a little grace) */
	double first_minute = 0, lowest = -1;
	unsigned first_n = 0, full_intervals = opt.seconds / INTERVAL_S;
	static uint64_t agg[NB];
	for (unsigned iv = 0; iv < full_intervals; iv++) {
		uint64_t due = g_t0 + (uint64_t)(iv + 1) * INTERVAL_S * 1000000000ull;
		while (now_ns() < due + 50000000ull) {
			struct timespec ts = {0, 20000000L};
			nanosleep(&ts, NULL);
		}
		if (iv + 1 == full_intervals)
			atomic_store(&g_stop, 1);
		memset(agg, 0, sizeof(agg));
		uint64_t ops = 0;
		for (unsigned i = 0; i < opt.threads; i++) {
			ops += g_w[i].ops[iv];
			for (unsigned k = 0; k < NB; k++)
				agg[k] += g_w[i].hist[iv][k];
		}
		double rate = (double)ops / INTERVAL_S;
		wbytes bn;
		read_wbytes(&bn);
		printf("interval %4u %6u %9" PRIu64 " %9.0f %8.1f %8.1f %7" PRIu64 " %11" PRIu64 "\n",
		       iv, (iv + 1) * INTERVAL_S, ops, rate, quantile_us(agg, 0.5),
		       quantile_us(agg, 0.99), bn.splits - b0.splits, bn.compactions - b0.compactions);
		fflush(stdout);
		if ((iv + 1) * INTERVAL_S <= 60) {
			first_minute += rate;
			first_n++;
		}
		if (lowest < 0 || rate < lowest)
			lowest = rate;
	}
	atomic_store(&g_stop, 1);
	int failed = 0;
	for (unsigned i = 0; i < opt.threads; i++) {
		pthread_join(th[i], NULL);
		failed |= g_w[i].err != 0;
	}
	if (failed) {
		fprintf(stderr, "a writer failed\n");
		return 1;
	}
	uint64_t put_bytes = atomic_load(&g_bytes_put);
	if (first_n)
		first_minute /= first_n;
	printf("# first-minute rate %.0f ops/s, lowest interval %.0f ops/s (%.0f%% of it; target >= 50%%)\n",
	       first_minute, lowest, first_minute > 0 ? 100.0 * lowest / first_minute : 0);

	/* reads: idle (no writes, no compaction) for 5 s after 1 s of warm-up,
	 * then during a major
	 * compaction (engine only) */
	uint64_t seed = 12345;
	static rres warm, idle, busy;
	atomic_int never = 0;
	read_loop(&warm, &never, 1000000000ull, &seed); /* warm the block cache */
	if (warm.err)
		return 1;
	read_loop(&idle, &never, 5000000000ull, &seed);
	if (idle.err)
		return 1;
	printf("read idle: %" PRIu64 " gets, p50 %.1f us, p99 %.1f us\n", idle.n,
	       quantile_us(idle.hist, 0.5), quantile_us(idle.hist, 0.99));
	if (!opt.fs) {
		cjob j;
		memset(&j, 0, sizeof(j));
		pthread_t ct;
		pthread_create(&ct, NULL, compact_main, &j);
		read_loop(&busy, &j.done, 3600ull * 1000000000ull, &seed);
		pthread_join(ct, NULL);
		if (busy.err)
			return 1;
		if (j.rc == -ENOSYS || j.rc == -EOPNOTSUPP) {
			printf("# hr_compact is not implemented yet (%s): no compaction figures\n",
			       strerror(-j.rc));
		} else if (j.rc < 0) {
			printf("# hr_compact(major) failed: %s\n", strerror(-j.rc));
		} else {
			double p99i = quantile_us(idle.hist, 0.99), p99c = quantile_us(busy.hist, 0.99);
			printf("read during major compaction (%.1f s): %" PRIu64 " gets, p50 %.1f us,"
			       " p99 %.1f us (%.1fx idle; target <= 5x)\n",
			       (double)j.ns / 1e9, busy.n, quantile_us(busy.hist, 0.5), p99c,
			       p99i > 0 ? p99c / p99i : 0);
		}
	} else {
		printf("# mount: a major compaction cannot be requested through the mount; "
		       "see the engine run\n");
	}
	read_wbytes(&b1);
	uint64_t stat_bytes = (b1.flush - b0.flush) + (b1.compact_out - b0.compact_out) +
			      (b1.wal - b0.wal);
	printf("bytes put %" PRIu64 " (keys + values); written: wal %" PRIu64 ", flush %" PRIu64
	       ", compaction %" PRIu64 "; %" PRIu64 " splits, %" PRIu64 " compactions\n",
	       put_bytes, b1.wal - b0.wal, b1.flush - b0.flush, b1.compact_out - b0.compact_out,
	       b1.splits - b0.splits, b1.compactions - b0.compactions);
	printf("write amplification (stats: wal + flush + compaction out) %.2f\n",
	       put_bytes ? (double)stat_bytes / (double)put_bytes : 0);
	if (b1.io > b0.io || opt.fs == 0 || opt.daemon_pid)
		printf("write amplification (io: write_bytes of the %s) %.2f\n",
		       opt.fs ? "daemon" : "process",
		       put_bytes ? (double)(b1.io - b0.io) / (double)put_bytes : 0);
	if (!opt.fs) {
		hr_server_close(g_srv);
		if (!opt.keep)
			nftw(opt.dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	}
	return 0;
}
