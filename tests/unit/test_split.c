/* test_split.c — region splits through the public API:
 * - automatic splits with tiny thresholds: the regions listed by
 *   hr_region_list are contiguous, cover the whole key space, start at row
 *   boundaries (keys that are rows the test wrote), and a full scan returns
 *   every row exactly once, in order, with all its cells;
 * - manual hr_split at a row: rows below it go to the left daughter;
 *   splitting at a region's start, with an empty row or in a missing table
 *   is refused;
 * - writers, getters and a scanner running across many automatic splits see
 *   every acknowledged row, in order, exactly once;
 * - a reopen after splits keeps every region and every row;
 * - region lists are checked strictly (every region OPEN) only where no
 *   split can be running: on a server reopened quietly, or with only
 *   hr_split; while the chore may split, a region may be SPLITTING;
 * - kill -9 of a writer process at random moments while it splits (15
 *   rounds): every acknowledged put survives, and after the next open the
 *   .hsf files on disk are exactly the ones LMDB references. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "engine/hr_server.h"
#include "hr_etest.h"

static char g_dir[4096];

static uint64_t hr_mono_ns_test(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- helpers --------------------------------------------------------------- */

static void sp_config(hr_config *c, const char *dir)
{
	et_config(c, dir);
	c->flush_size = 4 * 1024;
	c->split_size = 64 * 1024;
	c->block_multiplier = 64; /* splits, not back-pressure, are under test */
	c->busy_wait_ms = 5000;
}

static hr_server *sp_open(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	sp_config(&c, dir);
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open(%s) = %d (%s)\n", dir, rc, strerror(-rc));
	return s;
}

/* Opens with nothing in the background that could split (nor flush or
 * compact): a region list taken then is stable, so it can be checked
 * strictly (every region OPEN). */
static hr_server *sp_open_quiet(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	sp_config(&c, dir);
	c.flush_size = 256ull << 20;
	c.global_limit = 1ull << 30;
	c.global_limit_low = 768ull << 20;
	c.split_size = 1ull << 40;
	c.compact_min_files = 1000;
	c.compact_max_files = 1000;
	c.blocking_store_files = 100000;
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open(%s) = %d (%s)\n", dir, rc, strerror(-rc));
	return s;
}

static int sp_row(uint64_t i, char *row) { return snprintf(row, 24, "r%08" PRIu64, i); }

/* value of row i, generation g: "v<i>.<g>." padded to a length that varies */
static size_t sp_val(uint64_t i, uint64_t g, char *v)
{
	size_t n = (size_t)snprintf(v, 64, "v%" PRIu64 ".%" PRIu64 ".", i, g);
	size_t len = 60 + (size_t)(i * 13 % 90);
	for (size_t k = n; k < len; k++)
		v[k] = (char)('a' + (i + k) % 26);
	return len;
}

/* put row i (two cells in one mutation: cf:a = value, cf:b = "b<i>"),
 * retrying what the API calls retryable */
static int sp_put(hr_server *s, const char *t, uint64_t i, uint64_t g)
{
	char row[24], v[256], b[32];
	int rl = sp_row(i, row);
	size_t vl = sp_val(i, g, v);
	int bl = snprintf(b, sizeof(b), "b%" PRIu64, i);
	hr_mcell c[2] = {{"cf", "a", 1, HR_TS_NOW, HR_PUT, v, vl},
			 {"cf", "b", 1, HR_TS_NOW, HR_PUT, b, (size_t)bl}};
	int rc;
	for (int tries = 0; tries < 2000; tries++) {
		rc = hr_mutate(s, t, row, (size_t)rl, c, 2, 0);
		if (!et_retryable(rc))
			return rc;
		/* a client's back-off, as the FUSE layer's retry_pause: this
		 * models the caller, it waits for nothing in particular */
		struct timespec ts = {0, 2 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return rc;
}

/* 0 if row i has cf:a of generation >= g (any g when g == 0) */
static int sp_check(hr_server *s, const char *t, uint64_t i, uint64_t g)
{
	char row[24], want[256];
	int rl = sp_row(i, row);
	hr_value v;
	int rc;
	for (int tries = 0; tries < 200; tries++) {
		rc = hr_get(s, t, row, (size_t)rl, "cf", "a", 1, HR_GET_VALUE, &v);
		if (!et_retryable(rc))
			break;
		/* a client's back-off, as in sp_put */
		struct timespec ts = {0, 2 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (rc < 0) {
		fprintf(stdout, "# get %s: %d (%s)\n", row, rc, strerror(-rc));
		return rc;
	}
	uint64_t gi = 0, ii = 0;
	char *p = malloc(v.len + 1);
	memcpy(p, v.data, v.len);
	p[v.len] = 0;
	free(v.data);
	int ok = sscanf(p, "v%" SCNu64 ".%" SCNu64 ".", &ii, &gi) == 2 && ii == i && gi >= g;
	if (ok) {
		size_t wl = sp_val(i, gi, want);
		ok = wl == v.len && memcmp(want, p, wl) == 0;
	}
	if (!ok)
		fprintf(stdout, "# get %s: wrong value '%.40s' (want generation >= %" PRIu64 ")\n",
			row, p, g);
	free(p);
	return ok ? 0 : -1;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

static size_t g_hsf;
static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (flag == FTW_F && ends_with(path, ".hsf"))
		g_hsf++;
	return 0;
}

/* .hsf files under dir/store */
static size_t count_hsf(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/store", dir);
	g_hsf = 0;
	nftw(p, count_cb, 16, FTW_PHYS);
	return g_hsf;
}

/* sum of file_count over every store of every region of every table */
static long referenced_files(hr_server *s)
{
	char **names = NULL;
	size_t nt = 0;
	long sum = 0;
	if (hr_table_list(s, &names, &nt) < 0)
		return -1;
	for (size_t i = 0; i < nt; i++) {
		hr_region_info *r = NULL;
		size_t n = 0;
		if (hr_region_list(s, names[i], &r, &n) < 0) {
			sum = -1;
			break;
		}
		for (size_t k = 0; k < n; k++)
			for (uint32_t j = 0; j < r[k].nstores; j++)
				sum += r[k].stores[j].file_count;
		hr_region_list_free(r, n);
	}
	hr_names_free(names, nt);
	return sum;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al < bl ? -1 : al > bl);
}

/* Regions of t: contiguous, cover everything, every inner boundary is a row
 * "r%08u" below nrows, all OPEN. Returns the count, or -1 (reported). */
/* The table's regions are a contiguous cover of the key space, in order,
 * each serving. With background splits possible (allow_splitting), a
 * region may be SPLITTING: the chore is splitting it right now, and it
 * still owns its range until its daughters replace it in one step. Without
 * them (a quiet server, or only hr_split), every region must be OPEN. */
static long check_regions(hr_server *s, const char *t, uint64_t nrows, int allow_splitting)
{
	hr_region_info *r = NULL;
	size_t n = 0;
	int rc = hr_region_list(s, t, &r, &n);
	if (rc < 0) {
		fprintf(stdout, "# hr_region_list: %d\n", rc);
		return -1;
	}
	long res = (long)n;
	if (n == 0 || r[0].start_len != 0 || r[n - 1].end_len != 0) {
		fprintf(stdout, "# regions do not start/end at the table's ends\n");
		res = -1;
	}
	for (size_t i = 0; res >= 0 && i < n; i++) {
		if (r[i].state != HR_REGION_OPEN &&
		    !(allow_splitting && r[i].state == HR_REGION_SPLITTING)) {
			fprintf(stdout, "# region %" PRIu64 " state %d\n", r[i].id, r[i].state);
			res = -1;
		}
		if (i + 1 < n && (r[i].end_len != r[i + 1].start_len ||
				  memcmp(r[i].end_key, r[i + 1].start_key, r[i].end_len) != 0)) {
			fprintf(stdout, "# gap or overlap between regions %zu and %zu\n", i, i + 1);
			res = -1;
		}
		if (i > 0 && r[i].end_len &&
		    key_cmp(r[i].start_key, r[i].start_len, r[i].end_key, r[i].end_len) >= 0) {
			fprintf(stdout, "# region %zu is empty or reversed\n", i);
			res = -1;
		}
		if (i > 0 && nrows) {
			char row[24];
			uint64_t k = 0;
			char tmp[64];
			size_t l = r[i].start_len < 63 ? r[i].start_len : 63;
			memcpy(tmp, r[i].start_key, l);
			tmp[l] = 0;
			if (r[i].start_len != 9 || sscanf(tmp, "r%08" SCNu64, &k) != 1 ||
			    k >= nrows || (sp_row(k, row), memcmp(row, tmp, 9) != 0)) {
				fprintf(stdout, "# region %zu starts at '%s', not at a written row\n",
					i, tmp);
				res = -1;
			}
		}
	}
	hr_region_list_free(r, n);
	return res;
}

/* Full scan in cells mode: rows r0..r(n-1) each exactly once, in order,
 * each with its cells a and b (b = "b<i>"), and nothing else. */
static int scan_all(hr_server *s, const char *t, uint64_t n)
{
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(s, t, &o, &sc);
	if (rc < 0)
		return rc;
	uint64_t cell = 0;
	int bad = 0;
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		uint64_t i = cell / 2;
		char row[24], b[32];
		int rl = sp_row(i, row);
		int want_a = cell % 2 == 0;
		if (i >= n || e.row_len != (size_t)rl || memcmp(e.row, row, (size_t)rl) ||
		    e.qualifier_len != 1 || e.qualifier[0] != (want_a ? 'a' : 'b')) {
			fprintf(stdout, "# scan entry %" PRIu64 ": got row '%.*s' qual '%.*s', want %s/%c\n",
				cell, (int)e.row_len, (const char *)e.row, (int)e.qualifier_len,
				(const char *)e.qualifier, row, want_a ? 'a' : 'b');
			bad = 1;
			break;
		}
		if (!want_a) {
			int bl = snprintf(b, sizeof(b), "b%" PRIu64, i);
			if (e.value_len != (size_t)bl || memcmp(e.value, b, (size_t)bl)) {
				fprintf(stdout, "# %s/b: wrong value\n", row);
				bad = 1;
				break;
			}
		}
		cell++;
	}
	hr_scan_close(sc);
	if (rc < 0)
		return rc;
	if (!bad && cell != 2 * n) {
		fprintf(stdout, "# scan returned %" PRIu64 " cells, want %" PRIu64 "\n", cell, 2 * n);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static uint64_t splits_of(hr_server *s)
{
	hr_stats st;
	return hr_stats_get(s, &st) == 0 ? st.splits : 0;
}

static long regions_of(hr_server *s, const char *t)
{
	hr_region_info *r = NULL;
	size_t k = 0;
	if (hr_region_list(s, t, &r, &k) < 0)
		return 0;
	hr_region_list_free(r, k);
	return (long)k;
}

/* waits (up to secs) until the table has at least want regions: splits
 * happen only in the chore's rounds, so the count is looked at after each */
static long wait_regions(hr_server *s, const char *t, size_t want, int secs)
{
	uint64_t t0 = hr_mono_ns_test(), limit = (uint64_t)secs * 1000000000ull;
	long n;
	while ((n = regions_of(s, t)) < (long)want && hr_mono_ns_test() - t0 < limit)
		hr_chore_wait(s, hr_chore_rounds(s) + 1, limit - (hr_mono_ns_test() - t0));
	return n;
}

/* ---- tests ----------------------------------------------------------------- */

#define AUTO_ROWS 6000

static void t_auto_split(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/auto", g_dir);
	hr_server *s = sp_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	/* in an order that is not the key order, so every flush spans the table */
	for (uint64_t k = 0; k < AUTO_ROWS; k++) {
		uint64_t i = (k * 7919) % AUTO_ROWS;
		int rc = sp_put(s, "t", i, 1);
		if (rc) {
			hr_server_close(s);
			CHECK_RC(rc, 0);
		}
	}
	CHECK_RC(hr_flush(s, "t"), 0);
	long n = wait_regions(s, "t", 4, 20);
	fprintf(stdout, "# %ld regions after %d rows, %" PRIu64 " splits\n", n, AUTO_ROWS,
		splits_of(s));
	int ok = n >= 4;
	if (ok)
		ok = check_regions(s, "t", AUTO_ROWS, 1) >= 4;
	if (ok)
		ok = scan_all(s, "t", AUTO_ROWS) == 0;
	for (uint64_t i = 0; ok && i < AUTO_ROWS; i++)
		ok = sp_check(s, "t", i, 1) == 0;
	/* a row listing too: each row once, in order */
	if (ok) {
		hr_scan_opts o;
		memset(&o, 0, sizeof(o));
		o.mode = HR_SCAN_ROWS;
		hr_scan *sc;
		hr_scan_entry e;
		uint64_t i = 0;
		ok = hr_scan_open(s, "t", &o, &sc) == 0;
		int rc = 0;
		while (ok && (rc = hr_scan_next(sc, &e)) == 1) {
			char row[24];
			int rl = sp_row(i, row);
			if (e.row_len != (size_t)rl || memcmp(e.row, row, (size_t)rl)) {
				fprintf(stdout, "# row listing: entry %" PRIu64 " is '%.*s'\n", i,
					(int)e.row_len, (const char *)e.row);
				ok = 0;
			}
			i++;
		}
		if (ok) {
			hr_scan_close(sc);
			ok = rc == 0 && i == AUTO_ROWS;
		}
	}
	/* a range scan across region boundaries: [r1000, r5000) */
	if (ok) {
		hr_scan_opts o;
		memset(&o, 0, sizeof(o));
		o.mode = HR_SCAN_ROWS;
		o.start = "r00001000";
		o.start_len = 9;
		o.stop = "r00005000";
		o.stop_len = 9;
		hr_scan *sc;
		hr_scan_entry e;
		uint64_t i = 1000;
		int rc = hr_scan_open(s, "t", &o, &sc);
		if (rc == 0) {
			while ((rc = hr_scan_next(sc, &e)) == 1) {
				char row[24];
				int rl = sp_row(i++, row);
				if (e.row_len != (size_t)rl || memcmp(e.row, row, (size_t)rl)) {
					rc = -1000;
					break;
				}
			}
			hr_scan_close(sc);
		}
		ok = rc == 0 && i == 5000;
		if (!ok)
			fprintf(stdout, "# range scan: rc %d, ended at %" PRIu64 "\n", rc, i);
	}
	/* reopen (quietly: then no split can be running): the same regions or
	 * more (a split running now completes before the close returns), every
	 * region open, every row */
	long before = check_regions(s, "t", AUTO_ROWS, 1);
	CHECK_RC(hr_server_close(s), 0);
	CHECK(ok);
	s = sp_open_quiet(dir);
	CHECK(s);
	long after = check_regions(s, "t", AUTO_ROWS, 0);
	ok = after >= before && after >= 4;
	if (!ok)
		fprintf(stdout, "# %ld regions before the reopen, %ld after\n", before, after);
	if (ok)
		ok = scan_all(s, "t", AUTO_ROWS) == 0;
	for (uint64_t i = 0; ok && i < AUTO_ROWS; i++)
		ok = sp_check(s, "t", i, 1) == 0;
	hr_server_close(s);
	CHECK(ok);
	hr_test_rmrf(dir);
}

static int region_bounds(hr_server *s, const char *t, size_t idx, char *start, char *end,
			 size_t *n)
{
	hr_region_info *r = NULL;
	int rc = hr_region_list(s, t, &r, n);
	if (rc < 0)
		return rc;
	if (idx >= *n) {
		hr_region_list_free(r, *n);
		return -ERANGE;
	}
	snprintf(start, 32, "%.*s", (int)r[idx].start_len, (const char *)r[idx].start_key);
	snprintf(end, 32, "%.*s", (int)r[idx].end_len, (const char *)r[idx].end_key);
	hr_region_list_free(r, *n);
	return 0;
}

static void t_manual_split(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/manual", g_dir);
	hr_config c;
	et_config(&c, dir);
	c.flush_size = 1 << 20; /* no automatic split: only ours */
	c.split_size = 1ull << 30;
	hr_server *s = NULL;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	for (uint64_t i = 0; i < 100; i++)
		CHECK_RC(sp_put(s, "t", i, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	/* some cells only in the memstore at split time */
	for (uint64_t i = 0; i < 100; i += 3)
		CHECK_RC(sp_put(s, "t", i, 2), 0);

	CHECK_RC(hr_split(s, "t", "r00000050", 9), 0);
	char a[32], b[32];
	size_t n;
	CHECK_RC(region_bounds(s, "t", 0, a, b, &n), 0);
	CHECK_RC(n, 2);
	CHECK_STREQ(a, "");
	CHECK_STREQ(b, "r00000050");
	CHECK_RC(region_bounds(s, "t", 1, a, b, &n), 0);
	CHECK_STREQ(a, "r00000050");
	CHECK_STREQ(b, "");
	/* rows below the split row are in the left daughter's files: the left
	 * region's bytes account for them (both daughters hold data) */
	hr_region_info *r = NULL;
	CHECK_RC(hr_region_list(s, "t", &r, &n), 0);
	uint64_t lb = r[0].stores[0].file_bytes, rb = r[1].stores[0].file_bytes;
	hr_region_list_free(r, n);
	CHECK(lb > 0 && rb > 0);
	/* refused: at the region's start, empty row, missing table */
	CHECK_RC(hr_split(s, "t", "r00000050", 9), -EINVAL);
	CHECK_RC(hr_split(s, "t", "", 0), -EINVAL);
	CHECK_RC(hr_split(s, "nope", "r00000010", 9), -ENOENT);
	static char huge[HR_MAX_ROW + 1];
	memset(huge, 'r', sizeof(huge));
	CHECK_RC(hr_split(s, "t", huge, sizeof(huge)), -EINVAL); /* no such row can exist */
	CHECK_RC(hr_split(s, "t", "r00000020", 9), 0);
	CHECK_RC(hr_split(s, "t", "r00000020", 9), -EINVAL);
	/* a split key that is no written row is still a row boundary */
	CHECK_RC(hr_split(s, "t", "r00000070x", 10), 0);
	CHECK_RC(check_regions(s, "t", 0, 0), 4);
	CHECK_RC(scan_all(s, "t", 100), 0);
	for (uint64_t i = 0; i < 100; i++)
		CHECK_RC(sp_check(s, "t", i, i % 3 == 0 ? 2 : 1), 0);
	/* writes after the split land in the daughters */
	for (uint64_t i = 0; i < 100; i++)
		CHECK_RC(sp_put(s, "t", i, 3), 0);
	for (uint64_t i = 0; i < 100; i++)
		CHECK_RC(sp_check(s, "t", i, 3), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = NULL;
	CHECK_RC(hr_server_open(&c, &s), 0);
	long k = check_regions(s, "t", 0, 0);
	int sc = scan_all(s, "t", 100);
	int bad = 0;
	for (uint64_t i = 0; i < 100; i++)
		bad |= sp_check(s, "t", i, 3) != 0;
	long refs = referenced_files(s);
	size_t disk = count_hsf(dir);
	hr_server_close(s);
	CHECK_RC(k, 4);
	CHECK_RC(sc, 0);
	CHECK(!bad);
	CHECK_RC(refs, (long)disk);
	hr_test_rmrf(dir);
}

/* A region holding a single row cannot be split without leaving an empty
 * daughter (a row never straddles two regions): the policy must not split
 * it, however large it grows. The split point comes from the largest
 * file's block index; a file of one block gives its first row, which here
 * is the only row. */
static void t_single_row_no_split(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/onerow", g_dir);
	hr_server *s = sp_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	enum { NC = 100 };
	hr_mcell c[NC];
	char q[NC][8], v[200];
	memset(v, 'v', sizeof(v));
	for (int i = 0; i < NC; i++) {
		snprintf(q[i], sizeof(q[i]), "q%03d", i);
		c[i] = (hr_mcell){"cf", q[i], 4, HR_TS_NOW, HR_PUT, v, sizeof(v)};
	}
	int rc = hr_mutate(s, "t", "only", 4, c, NC, 0);
	if (rc == 0)
		rc = hr_flush(s, "t");
	/* two chore rounds: the second began after the flush, and its split
	 * step looked at the region with its file */
	long n = -1;
	if (rc == 0 && (rc = hr_chore_wait(s, hr_chore_rounds(s) + 2, 10000000000ull)) == 0)
		n = regions_of(s, "t");
	hr_region_info *r = NULL;
	size_t k = 0;
	if (n > 1 && hr_region_list(s, "t", &r, &k) == 0) {
		for (size_t i = 0; i < k; i++)
			fprintf(stdout, "# region %zu: [%.*s, %.*s)\n", i, (int)r[i].start_len,
				(const char *)r[i].start_key, (int)r[i].end_len,
				(const char *)r[i].end_key);
		hr_region_list_free(r, k);
	}
	hr_server_close(s);
	CHECK_RC(rc, 0);
	CHECK_RC(n, 1);
	hr_test_rmrf(dir);
}

/* ---- concurrency ------------------------------------------------------------ */

#define CW 3 /* writer threads */

typedef struct conc {
	hr_server *s;
	atomic_int stop, failed;
	/* writer w writes rows w, w + CW, w + 2 CW, ...; acked[w] rows are done */
	atomic_uint_fast64_t acked[CW];
	atomic_uint_fast64_t scans, gets;
} conc;

typedef struct warg {
	conc *c;
	int w;
} warg;

static void *conc_writer(void *p)
{
	warg *a = p;
	conc *c = a->c;
	for (uint64_t k = 0; !atomic_load(&c->stop); k++) {
		uint64_t i = k * CW + (uint64_t)a->w;
		int rc = sp_put(c->s, "t", i, 1);
		if (rc) {
			fprintf(stdout, "# writer %d: put row %" PRIu64 ": %d\n", a->w, i, rc);
			atomic_store(&c->failed, 1);
			break;
		}
		atomic_store(&c->acked[a->w], k + 1);
	}
	return NULL;
}

/* rows every writer had acknowledged: all rows below min over w of acked*CW */
static uint64_t acked_prefix(conc *c)
{
	uint64_t m = UINT64_MAX;
	for (int w = 0; w < CW; w++) {
		uint64_t a = atomic_load(&c->acked[w]);
		if (a < m)
			m = a;
	}
	return m * CW;
}

static void *conc_scanner(void *p)
{
	conc *c = p;
	while (!atomic_load(&c->stop) && !atomic_load(&c->failed)) {
		uint64_t floor = acked_prefix(c);
		hr_scan_opts o;
		memset(&o, 0, sizeof(o));
		o.mode = HR_SCAN_ROWS;
		hr_scan *sc;
		hr_scan_entry e;
		int rc = hr_scan_open(c->s, "t", &o, &sc);
		if (rc < 0) {
			fprintf(stdout, "# scanner: open %d\n", rc);
			atomic_store(&c->failed, 1);
			break;
		}
		/* rows are r<i> with every i below floor present: the listing must
		 * be strictly increasing and hold 0..floor-1 without a gap */
		uint64_t expect = 0, prev = 0;
		int first = 1;
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			char tmp[32];
			uint64_t i;
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(e.row_len < 31 ? e.row_len : 31),
				 (const char *)e.row);
			if (sscanf(tmp, "r%08" SCNu64, &i) != 1 || (!first && i <= prev)) {
				fprintf(stdout, "# scanner: '%s' after r%08" PRIu64 "\n", tmp, prev);
				rc = -1000;
				break;
			}
			if (expect < floor && i != expect) {
				fprintf(stdout, "# scanner: missed r%08" PRIu64 " (got '%s', %" PRIu64
					" rows acknowledged before the scan)\n", expect, tmp, floor);
				rc = -1000;
				break;
			}
			expect = i + 1;
			prev = i;
			first = 0;
		}
		hr_scan_close(sc);
		if (rc == 0 && expect < floor) {
			fprintf(stdout, "# scanner: ended at %" PRIu64 ", %" PRIu64 " acknowledged\n",
				expect, floor);
			rc = -1000;
		}
		if (rc < 0) {
			if (rc != -1000)
				fprintf(stdout, "# scanner: next %d (%s)\n", rc, strerror(-rc));
			atomic_store(&c->failed, 1);
			break;
		}
		atomic_fetch_add(&c->scans, 1);
	}
	return NULL;
}

static void *conc_getter(void *p)
{
	conc *c = p;
	uint64_t st = 42;
	while (!atomic_load(&c->stop) && !atomic_load(&c->failed)) {
		uint64_t floor = acked_prefix(c);
		if (floor == 0) {
			sched_yield();
			continue;
		}
		uint64_t i = et_rand(&st) % floor;
		if (sp_check(c->s, "t", i, 1) != 0) {
			atomic_store(&c->failed, 1);
			break;
		}
		atomic_fetch_add(&c->gets, 1);
	}
	return NULL;
}

static void t_concurrent_splits(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/conc", g_dir);
	hr_server *s = sp_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	conc c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	pthread_t wt[CW], scn, gt;
	warg wa[CW];
	for (int w = 0; w < CW; w++) {
		wa[w] = (warg){&c, w};
		pthread_create(&wt[w], NULL, conc_writer, &wa[w]);
	}
	pthread_create(&scn, NULL, conc_scanner, &c);
	pthread_create(&gt, NULL, conc_getter, &c);
	/* until 8 splits happened (or 25 s, or a failure): splits happen only
	 * in the chore's rounds, so the count is looked at after each */
	uint64_t t0 = hr_mono_ns_test();
	while (!atomic_load(&c.failed) && splits_of(s) < 8 &&
	       hr_mono_ns_test() - t0 < 25ull * 1000000000ull)
		hr_chore_wait(s, hr_chore_rounds(s) + 1, 1000000000ull);
	atomic_store(&c.stop, 1);
	for (int w = 0; w < CW; w++)
		pthread_join(wt[w], NULL);
	pthread_join(scn, NULL);
	pthread_join(gt, NULL);
	uint64_t nsplits = splits_of(s);
	uint64_t rows = 0;
	for (int w = 0; w < CW; w++)
		rows += atomic_load(&c.acked[w]);
	fprintf(stdout, "# %" PRIu64 " rows, %" PRIu64 " splits, %" PRIu64 " full scans, %" PRIu64
		" gets during them\n", rows, nsplits, (uint64_t)atomic_load(&c.scans),
		(uint64_t)atomic_load(&c.gets));
	int failed = atomic_load(&c.failed);
	/* every row any writer acknowledged, afterwards and after a reopen */
	int bad = 0;
	for (int w = 0; w < CW && !failed; w++)
		for (uint64_t k = 0; k < atomic_load(&c.acked[w]) && !bad; k++)
			bad = sp_check(s, "t", k * CW + (uint64_t)w, 1) != 0;
	/* the chore may be splitting a region right now (the writers' last
	 * flushes can have pushed one over the threshold): SPLITTING is fine */
	long nreg = check_regions(s, "t", 0, 1);
	CHECK_RC(hr_server_close(s), 0);
	CHECK(!failed);
	CHECK(!bad);
	CHECK(nsplits >= 8);
	CHECK(nreg >= 5);
	CHECK(atomic_load(&c.scans) >= 3);
	/* the close finished any split in progress; reopened quietly, nothing
	 * splits: every region must be OPEN, and none was lost */
	s = sp_open_quiet(dir);
	CHECK(s);
	for (int w = 0; w < CW && !bad; w++)
		for (uint64_t k = 0; k < atomic_load(&c.acked[w]) && !bad; k++)
			bad = sp_check(s, "t", k * CW + (uint64_t)w, 1) != 0;
	long nreg2 = check_regions(s, "t", 0, 0);
	hr_server_close(s);
	CHECK(!bad);
	CHECK(nreg2 >= nreg);
	hr_test_rmrf(dir);
}

/* ---- crash ------------------------------------------------------------------ */

/* The child writes rows in 2 threads and reports each acknowledged id
 * (8 bytes, atomic on a pipe) to the parent. Ids are unique over rounds. */
typedef struct cargs {
	hr_server *s;
	uint64_t first;
	int idx;
	int fd;
} cargs;

static void *crash_writer(void *p)
{
	cargs *a = p;
	for (uint64_t k = 0;; k++) {
		uint64_t id = a->first + k * 2 + (uint64_t)a->idx;
		if (sp_put(a->s, "t", id, 1) != 0)
			_exit(4);
		if (write(a->fd, &id, sizeof(id)) != (ssize_t)sizeof(id))
			_exit(3);
	}
	return NULL;
}

static void crash_child(const char *dir, uint64_t first, int fd)
{
	hr_config c;
	hr_server *s;
	sp_config(&c, dir);
	c.segment_size = 256 * 1024;
	if (hr_server_open(&c, &s) != 0)
		_exit(2);
	int rc = et_table(s, "t", "cf", NULL);
	if (rc != 0 && rc != -EEXIST)
		_exit(2);
	uint64_t ready = UINT64_MAX;
	if (write(fd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready))
		_exit(3);
	pthread_t th[2];
	cargs a[2];
	for (int i = 0; i < 2; i++) {
		a[i] = (cargs){s, first, i, fd};
		pthread_create(&th[i], NULL, crash_writer, &a[i]);
	}
	for (;;)
		pause();
}

#define CRASH_ROUNDS 15

static void t_crash_during_splits(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/crash", g_dir);
	uint64_t cap = 1 << 20, nacked = 0;
	uint64_t *acked = malloc(cap * sizeof(*acked));
	CHECK(acked);
	uint64_t seed = (uint64_t)time(NULL);
	fprintf(stdout, "# crash seed %" PRIu64 "\n", seed);
	uint64_t total_splits = 0;
	int fail = 0;
	for (int round = 0; round < CRASH_ROUNDS && !fail; round++) {
		int pfd[2];
		if (pipe(pfd) < 0) {
			fail = 1;
			break;
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			crash_child(dir, (uint64_t)round * 100000000ull, pfd[1]);
		}
		close(pfd[1]);
		/* read until READY, then for a random 50..1200 ms */
		uint64_t id;
		int ready = 0;
		uint64_t deadline = 0;
		uint64_t kill_after = 50 + et_rand(&seed) % 1150;
		for (;;) {
			uint64_t now = hr_mono_ns_test();
			if (ready && now >= deadline)
				break;
			struct pollfd pf = {pfd[0], POLLIN, 0};
			int to = ready ? (int)((deadline - now) / 1000000 + 1) : 10000;
			if (poll(&pf, 1, to) <= 0) {
				if (!ready) {
					fprintf(stdout, "# round %d: child not ready in 10 s\n", round);
					fail = 1;
				}
				break;
			}
			if (read(pfd[0], &id, sizeof(id)) != (ssize_t)sizeof(id)) {
				fprintf(stdout, "# round %d: the child died early\n", round);
				fail = 1;
				break;
			}
			if (id == UINT64_MAX) {
				ready = 1;
				deadline = hr_mono_ns_test() + kill_after * 1000000ull;
				continue;
			}
			if (nacked == cap) {
				cap *= 2;
				acked = realloc(acked, cap * sizeof(*acked));
			}
			acked[nacked++] = id;
		}
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		/* acknowledgements already in the pipe count too */
		while (read(pfd[0], &id, sizeof(id)) == (ssize_t)sizeof(id)) {
			if (id == UINT64_MAX)
				continue;
			if (nacked == cap) {
				cap *= 2;
				acked = realloc(acked, cap * sizeof(*acked));
			}
			acked[nacked++] = id;
		}
		close(pfd[0]);
		if (fail)
			break;

		/* reopen quietly (no flush or split of its own) and check */
		hr_server *s = sp_open_quiet(dir);
		if (!s) {
			fprintf(stdout, "# round %d: reopen failed\n", round);
			fail = 1;
			break;
		}
		uint64_t missing = 0;
		for (uint64_t k = 0; k < nacked; k++)
			if (sp_check(s, "t", acked[k], 1) != 0 && ++missing > 5)
				break;
		long nreg = check_regions(s, "t", 0, 0);
		long refs = referenced_files(s);
		size_t disk = count_hsf(dir);
		hr_stats hs;
		hr_stats_get(s, &hs);
		hr_server_close(s);
		fprintf(stdout, "# round %d: killed after %" PRIu64 " ms, %" PRIu64
			" acknowledged in all, %ld regions, %ld files referenced, %zu on disk\n",
			round, kill_after, nacked, nreg, refs, disk);
		total_splits = (uint64_t)(nreg > 0 ? nreg - 1 : 0);
		if (missing || nreg < 1 || refs != (long)disk)
			fail = 1;
	}
	free(acked);
	CHECK(!fail);
	/* the workload must actually have split (else this tested nothing) */
	CHECK(total_splits >= 2);
	hr_test_rmrf(dir);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "split");
	RUN(t_manual_split);
	RUN(t_auto_split);
	RUN(t_single_row_no_split);
	RUN(t_concurrent_splits);
	RUN(t_crash_during_splits);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
