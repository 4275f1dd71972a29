/* bench_compress.c — what store-file compression costs and saves: the same
 * workload (N text cells written, flushed into F files, major-compacted,
 * then read) on a family with compression none, lz4 and zstd, in one run.
 * Prints, per codec: put+flush time, compaction throughput (MB/s of the
 * cells' raw bytes), store bytes after the compaction, random gets per
 * second with a block cache smaller than the data (misses decode a block)
 * and with a warm cache larger than it (hits only), and the ratios against
 * none. The codecs run in turn, -r rounds of them (default 3), and each
 * figure is the best of its rounds (the machine may be shared).
 * Usage: bench_compress [-n cells] [-v value bytes] [-f files] [-g gets]
 * [-l zstd level] [-r rounds] [-d dir] */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"
#include "bench_util.h"

static uint64_t file_bytes(hr_server *s)
{
	hr_region_info *r = NULL;
	size_t n = 0;
	uint64_t b = 0;
	if (hr_region_list(s, "t", &r, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < r[i].nstores; j++)
			b += r[i].stores[j].file_bytes;
	hr_region_list_free(r, n);
	return b;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* text from a small vocabulary, as documents and logs are */
static void text(char *buf, size_t len, uint64_t seed)
{
	static const char *w[] = {"region", "server", "store", "file",   "flush", "compaction",
				  "the",    "a",      "of",    "and",    "to",    "memstore",
				  "table",  "family", "row",   "version", "delete", "bloom",
				  "block",  "index",  "error", "request", "user",  "time"};
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
	size_t n = 0;
	while (n + 12 < len) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		int k = s % 97 == 0 ? snprintf(buf + n, len - n, "%llu ", (unsigned long long)(s % 100000))
				    : snprintf(buf + n, len - n, "%s ", w[s % (sizeof(w) / sizeof(w[0]))]);
		if (k < 0 || (size_t)k >= len - n)
			break; /* truncated: end the text here */
		n += (size_t)k;
	}
	buf[n] = 0;
}

typedef struct result {
	double load_s, compact_s, get_cold_s, get_warm_s;
	uint64_t raw_bytes, bytes;
} result;

static hr_server *open_dir(const char *dir, uint64_t cache, uint32_t level)
{
	hr_config c;
	hr_server *s;
	char err[256];
	hr_config_defaults(&c);
	snprintf(c.data_dir, sizeof(c.data_dir), "%s", dir);
	c.flush_size = 256ull << 20; /* only the benchmark's own flushes */
	c.global_limit = 1ull << 30;
	c.global_limit_low = 900ull << 20;
	c.compact_min_files = 1000;
	c.compact_max_files = 1000;
	c.blocking_store_files = 100000;
	c.block_cache_size = cache;
	c.zstd_level = level;
	c.log_level = HR_LOG_WARN;
	if (hr_config_validate(&c, err, sizeof(err)) < 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	TRY(hr_server_open(&c, &s));
	return s;
}

static double gets(hr_server *s, long n, long g)
{
	char row[32];
	hr_value v;
	uint64_t r0 = rng;
	double t0 = now_s();
	for (long i = 0; i < g; i++) {
		int len = snprintf(row, sizeof(row), "row%09lu", (unsigned long)(rnd() % (uint64_t)n));
		TRY(hr_get(s, "t", row, (size_t)len, "cf", "q", 1, HR_GET_VALUE, &v));
		hr_value_free(&v);
	}
	rng = r0;
	return now_s() - t0;
}

static void run(const char *base, int codec, long n, size_t vlen, int files, long g,
		uint32_t level, result *res)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/c%d", base, codec);
	hr_server *s = open_dir(dir, 256ull << 20, level);
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "t");
	sc.nfamilies = 1;
	hr_family_defaults(&sc.families[0], "cf");
	sc.families[0].compression = (uint8_t)codec;
	TRY(hr_table_create(s, &sc));
	char *val = malloc(vlen + 1);
	double t0 = now_s();
	res->raw_bytes = 0;
	/* F files of interleaved rows, as flushes of a table written at random */
	for (int f = 0; f < files; f++) {
		for (long i = f; i < n; i += files) {
			char row[32];
			int len = snprintf(row, sizeof(row), "row%09ld", i);
			text(val, vlen + 1, (uint64_t)i);
			size_t vl = strlen(val);
			res->raw_bytes += vl + (size_t)len;
			TRY(hr_put(s, "t", row, (size_t)len, "cf", "q", 1, val, vl, 0));
		}
		TRY(hr_flush(s, "t"));
	}
	res->load_s = now_s() - t0;
	t0 = now_s();
	TRY(hr_compact(s, "t", 1));
	res->compact_s = now_s() - t0;
	res->bytes = file_bytes(s);
	TRY(hr_server_close(s));
	/* cold: a cache of an eighth of the raw data, so most gets miss and
	 * read (and decode) a block */
	uint64_t small = res->raw_bytes / 8 > (64u << 10) ? res->raw_bytes / 8 : (64u << 10);
	s = open_dir(dir, small, level);
	res->get_cold_s = gets(s, n, g);
	TRY(hr_server_close(s));
	s = open_dir(dir, 1ull << 30, level);
	gets(s, n, g); /* warm it */
	res->get_warm_s = gets(s, n, g);
	TRY(hr_server_close(s));
	free(val);
}

int main(int argc, char **argv)
{
	long n = 200000, g = 200000;
	size_t vlen = 400;
	int files = 8, rounds = 3, c;
	uint32_t level = 3;
	const char *base = NULL;
	while ((c = getopt(argc, argv, "n:v:f:g:l:r:d:h")) != -1) {
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'v': vlen = (size_t)atol(optarg); break;
		case 'f': files = atoi(optarg); break;
		case 'g': g = atol(optarg); break;
		case 'l': level = (uint32_t)atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': base = optarg; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_compress [-n cells] [-v value bytes] [-f files] "
				"[-g gets] [-l zstd level] [-r rounds] [-d dir]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (n < 1 || files < 1 || vlen < 16 || rounds < 1) {
		fprintf(stderr, "bench_compress: bad arguments\n");
		return 2;
	}
	hr_log_set_level(HR_LOG_WARN);
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/hrbench-compress.XXXXXX",
		 base ? base : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	result r[3];
	for (int round = 0; round < rounds; round++)
		for (int codec = 0; codec < 3; codec++) {
			result x;
			run(tmpl, codec, n, vlen, files, g, level, &x);
			char cmd[4200];
			snprintf(cmd, sizeof(cmd), "rm -rf '%s/c%d'", tmpl, codec);
			if (system(cmd) != 0)
				fprintf(stderr, "bench_compress: could not clean %s\n", tmpl);
			if (round == 0) {
				r[codec] = x;
				continue;
			}
#define BEST(f) r[codec].f = x.f < r[codec].f ? x.f : r[codec].f
			BEST(load_s);
			BEST(compact_s);
			BEST(get_cold_s);
			BEST(get_warm_s);
		}
	printf("%ld text cells of ~%zu bytes (%.1f MB raw), %d files, %ld gets, zstd level %u, "
	       "best of %d rounds\n",
	       n, vlen, (double)r[0].raw_bytes / 1e6, files, g, level, rounds);
	printf("%-6s %12s %14s %12s %10s %14s %14s\n", "codec", "put+flush s", "compact MB/s",
	       "store bytes", "of none", "gets/s cold", "gets/s warm");
	for (int k = 0; k < 3; k++)
		printf("%-6s %12.2f %14.1f %12" PRIu64 " %10.3f %14.0f %14.0f\n",
		       hr_compression_name(k), r[k].load_s,
		       (double)r[k].raw_bytes / 1e6 / r[k].compact_s, r[k].bytes,
		       (double)r[k].bytes / (double)r[0].bytes, (double)g / r[k].get_cold_s,
		       (double)g / r[k].get_warm_s);
	printf("ratios against none (higher = faster): put+flush lz4 %.2f zstd %.2f; compaction "
	       "lz4 %.2f zstd %.2f; cold gets lz4 %.2f zstd %.2f; warm gets lz4 %.2f zstd %.2f\n",
	       r[0].load_s / r[1].load_s, r[0].load_s / r[2].load_s,
	       r[0].compact_s / r[1].compact_s, r[0].compact_s / r[2].compact_s,
	       r[0].get_cold_s / r[1].get_cold_s, r[0].get_cold_s / r[2].get_cold_s,
	       r[0].get_warm_s / r[1].get_warm_s, r[0].get_warm_s / r[2].get_warm_s);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_compress: could not remove %s\n", tmpl);
	return 0;
}
