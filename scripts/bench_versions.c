/* bench_versions.c — what the history defaults cost: the same workload
 * (N cells, each written W times, 1 in 10 then deleted) on a family with
 * HBase's defaults (max_versions 1, keep_deleted_cells false) and on one
 * with the mount's (3 versions; deleted cells kept only with -k, the
 * mount's default_keep_deleted_cells=true), in one run; prints disk bytes
 * after the flush and after a major compaction, gets and scans per second,
 * and the ratios. Usage: bench_versions [-n cells] [-w writes]
 * [-v value bytes] [-m max_versions] [-k] [-d dir] */
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

typedef struct result {
	double put_s, get_s, scan_s;
	uint64_t flushed_bytes, major_bytes, cells_seen;
} result;

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

static void get_pass(hr_server *s, long n)
{
	char row[32];
	hr_value v;
	for (long i = 0; i < n; i++) {
		snprintf(row, sizeof(row), "row%09ld", (i * 7919) % n);
		int rc = hr_get(s, "t", row, strlen(row), "cf", "q", 1, HR_GET_VALUE, &v);
		if (rc == 0)
			hr_value_free(&v);
		else if (rc != -ENOENT)
			TRY(rc);
	}
}

static void run(const char *dir, uint32_t maxv, int kdc, long n, int w, size_t vlen, result *res)
{
	hr_config c;
	hr_server *s;
	hr_config_defaults(&c);
	snprintf(c.data_dir, sizeof(c.data_dir), "%s", dir);
	c.log_level = HR_LOG_ERROR;
	c.flush_size = 1ull << 30; /* one flush, by hand */
	c.global_limit = 2ull << 30;
	c.global_limit_low = 1ull << 30;
	c.split_size = 1ull << 40;
	c.compact_min_files = 1000;
	c.compact_max_files = 1000;
	TRY(hr_server_open(&c, &s));
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "t");
	sc.nfamilies = 1;
	hr_family_defaults(&sc.families[0], "cf");
	sc.families[0].max_versions = maxv;
	sc.families[0].keep_deleted_cells = (uint8_t)kdc;
	TRY(hr_table_create(s, &sc));
	char *val = malloc(vlen);
	char row[32];
	memset(val, 'x', vlen);
	double t0 = now_s();
	for (int k = 0; k < w; k++)
		for (long i = 0; i < n; i++) {
			snprintf(row, sizeof(row), "row%09ld", (i * 7919) % n);
			val[0] = (char)('a' + k);
			TRY(hr_put(s, "t", row, strlen(row), "cf", "q", 1, val, vlen, 0));
		}
	for (long i = 0; i < n; i += 10) {
		snprintf(row, sizeof(row), "row%09ld", i);
		TRY(hr_delete_column(s, "t", row, strlen(row), "cf", "q", 1, 0));
	}
	res->put_s = now_s() - t0;
	TRY(hr_flush(s, "t"));
	res->flushed_bytes = file_bytes(s);
	TRY(hr_compact(s, "t", 1));
	res->major_bytes = file_bytes(s);
	/* two passes: the first reads every block from the files, the
	 * second (timed) from the block cache */
	get_pass(s, n);
	t0 = now_s();
	get_pass(s, n);
	res->get_s = now_s() - t0;
	t0 = now_s();
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
	hr_scan *sc2;
	hr_scan_entry e;
	TRY(hr_scan_open(s, "t", &o, &sc2));
	int rc;
	res->cells_seen = 0;
	while ((rc = hr_scan_next(sc2, &e)) == 1)
		res->cells_seen++;
	TRY(rc);
	hr_scan_close(sc2);
	res->scan_s = now_s() - t0;
	TRY(hr_server_close(s));
	free(val);
}

int main(int argc, char **argv)
{
	long n = 20000;
	int w = 4, c, kdc = 0;
	size_t vlen = 1000;
	uint32_t maxv = 3;
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	while ((c = getopt(argc, argv, "n:w:v:m:kd:")) != -1) {
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'w': w = atoi(optarg); break;
		case 'v': vlen = (size_t)atol(optarg); break;
		case 'm': maxv = (uint32_t)atoi(optarg); break;
		case 'k': kdc = 1; break;
		case 'd': base = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-n cells] [-w writes] [-v bytes] [-m max_versions] [-k] [-d dir]\n", argv[0]);
			return 2;
		}
	}
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/hrbench-versions-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	char d1[4200], d2[4200], cmd[9000];
	snprintf(d1, sizeof(d1), "%s/hbase", tmpl);
	snprintf(d2, sizeof(d2), "%s/mount", tmpl);
	result a, b;
	run(d1, 1, 0, n, w, vlen, &a);
	run(d2, maxv, kdc, n, w, vlen, &b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpl);
	printf("%ld cells x %d writes of %zu bytes, 1 in 10 deleted\n", n, w, vlen);
	printf("%-28s %16s %16s %8s\n", "", "versions=1,kdc=0", "versions=N,kdc=K", "ratio");
	printf("%-28s %16s %13" PRIu32 ",%d %8s\n", "(N,K)", "", maxv, kdc, "");
	printf("%-28s %16.0f %16.0f %8.2f\n", "puts/s", (double)n * w / a.put_s,
	       (double)n * w / b.put_s, a.put_s / b.put_s);
	printf("%-28s %16" PRIu64 " %16" PRIu64 " %8.2f\n", "bytes after flush", a.flushed_bytes,
	       b.flushed_bytes, (double)b.flushed_bytes / (double)a.flushed_bytes);
	printf("%-28s %16" PRIu64 " %16" PRIu64 " %8.2f\n", "bytes after major compaction",
	       a.major_bytes, b.major_bytes, (double)b.major_bytes / (double)a.major_bytes);
	printf("%-28s %16.0f %16.0f %8.2f\n", "gets/s (warm, after major)", (double)n / a.get_s,
	       (double)n / b.get_s, a.get_s / b.get_s);
	printf("%-28s %16.0f %16.0f %8.2f\n", "scan cells/s", (double)a.cells_seen / a.scan_s,
	       (double)b.cells_seen / b.scan_s, a.scan_s / b.scan_s);
	return 0;
}
