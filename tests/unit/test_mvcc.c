/* test_mvcc.c — MVCC visibility through the public API: writers mutate rows
 * of several cells in two families, every cell of one mutation carrying the
 * same generation number; scanners must never see two generations in one
 * row (no half rows), getters must never see a cell go back in time nor miss
 * an acknowledged generation; all of it while flushes run concurrently (an
 * explicit hr_flush loop plus the automatic ones of a 64K flush_size).
 * Also: eight writers on one hot row (row locks, delete_row among puts), and
 * writers/scanners/flushes running while a family is added and the table is
 * dropped and re-created. Retryable answers (-EBUSY, -ESTALE, -ETIMEDOUT)
 * are retried, as the API contract asks of a front end. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "hr_etest.h"

#define NROWS 24
#define NWRITERS 4
#define NQA 3 /* qualifiers in family a */
#define NQB 2 /* in family b */
#define VLEN 120
#define RUN_MS 3000

static hr_server *g_srv;
static atomic_int g_stop;
static atomic_uint_fast64_t g_acked[NROWS]; /* last generation acknowledged per row */
static atomic_int g_errors;
static atomic_uint_fast64_t g_scans, g_scan_rows, g_gets, g_flushes, g_muts;
static char g_errmsg[512];
static pthread_mutex_t g_errmu = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&g_errmu);
	if (atomic_fetch_add(&g_errors, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(g_errmsg, sizeof(g_errmsg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&g_errmu);
}

static const char *qname(int fam, int q)
{
	static const char *qa[NQA] = {"q0", "q1", "q2"}, *qb[NQB] = {"x0", "x1"};
	return fam == 0 ? qa[q] : qb[q];
}

static void mkrow(int r, char *buf) { snprintf(buf, 16, "row%03d", r); }

/* value of (row, cell) at generation gen: a header and a filler derived
 * from all three, so a torn or misplaced value is caught */
static void mkval(int r, const char *q, uint64_t gen, char *v)
{
	int n = snprintf(v, VLEN, "G%010" PRIu64 " R%03d Q%s ", gen, r, q);
	for (int i = n; i < VLEN; i++)
		v[i] = (char)('a' + (gen * 7 + (uint64_t)r * 13 + (uint64_t)i + (uint64_t)q[1]) % 26);
}

/* parses and validates; returns the generation or -1 */
static int64_t chkval(int r, const char *q, const uint8_t *v, size_t len)
{
	char want[VLEN];
	if (len != VLEN || v[0] != 'G')
		return -1;
	uint64_t gen = strtoull((const char *)v + 1, NULL, 10);
	mkval(r, q, gen, want);
	return memcmp(want, v, VLEN) == 0 ? (int64_t)gen : -1;
}

static int write_row(int r, uint64_t gen)
{
	char row[16], vals[NQA + NQB][VLEN];
	hr_mcell c[NQA + NQB];
	mkrow(r, row);
	int k = 0;
	for (int f = 0; f < 2; f++)
		for (int q = 0; q < (f == 0 ? NQA : NQB); q++, k++) {
			mkval(r, qname(f, q), gen, vals[k]);
			c[k] = (hr_mcell){f == 0 ? "a" : "b", qname(f, q), 2, HR_TS_NOW, HR_PUT, vals[k],
					  VLEN};
		}
	/* reverse the order on odd generations: order in the call must not matter */
	if (gen & 1)
		for (int i = 0; i < k / 2; i++) {
			hr_mcell t = c[i];
			c[i] = c[k - 1 - i];
			c[k - 1 - i] = t;
		}
	return hr_mutate(g_srv, "m", row, strlen(row), c, (size_t)k, 0);
}

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t gen = 1;
	while (!atomic_load(&g_stop)) {
		for (int r = id; r < NROWS && !atomic_load(&g_stop); r += NWRITERS) {
			int rc = write_row(r, gen);
			if (et_retryable(rc))
				continue; /* the generation is not acknowledged */
			if (rc != 0) {
				fail("writer %d: row %d gen %" PRIu64 ": %d", id, r, gen, rc);
				return NULL;
			}
			atomic_store(&g_acked[r], gen);
			atomic_fetch_add(&g_muts, 1);
		}
		gen++;
	}
	return NULL;
}

/* Full scans: each row has all NQA+NQB cells of one generation, and that
 * generation is at least the one acknowledged before the scan started. */
static void *scanner(void *arg)
{
	int with_family_filter = (int)(intptr_t)arg;
	while (!atomic_load(&g_stop)) {
		uint64_t floor[NROWS];
		for (int r = 0; r < NROWS; r++)
			floor[r] = atomic_load(&g_acked[r]);
		hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
		if (with_family_filter)
			o.family = "a";
		hr_scan *sc;
		hr_scan_entry e;
		int rc = hr_scan_open(g_srv, "m", &o, &sc);
		if (rc == -ESTALE)
			continue;
		if (rc < 0) {
			fail("scan_open: %d", rc);
			return NULL;
		}
		int cur = -1, cells = 0, rows = 0;
		int64_t gen = -1;
		int want_cells = with_family_filter ? NQA : NQA + NQB;
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			int r = -1;
			if (e.row_len != 6 || sscanf((const char *)e.row, "row%3d", &r) != 1 || r < 0 ||
			    r >= NROWS) {
				fail("scan: bad row");
				break;
			}
			char q[3] = {0};
			if (e.qualifier_len != 2) {
				fail("scan: bad qualifier");
				break;
			}
			memcpy(q, e.qualifier, 2);
			int64_t g = chkval(r, q, e.value, e.value_len);
			if (g < 0) {
				fail("scan: row %d %s:%s: torn or misplaced value", r, e.family, q);
				break;
			}
			if (r != cur) {
				if (cur >= 0 && cells != want_cells) {
					fail("scan: row %d has %d cells, want %d", cur, cells, want_cells);
					break;
				}
				if (r <= cur) {
					fail("scan: rows out of order (%d after %d)", r, cur);
					break;
				}
				cur = r;
				cells = 0;
				gen = g;
				rows++;
				if ((uint64_t)g < floor[r]) {
					fail("scan: row %d at gen %" PRId64 " < acknowledged %" PRIu64, r, g,
					     floor[r]);
					break;
				}
			} else if (g != gen) {
				fail("scan: HALF ROW: row %d has gen %" PRId64 " and %" PRId64
				     " (cell %s:%s)",
				     r, gen, g, e.family, q);
				break;
			}
			cells++;
		}
		if (rc == -ESTALE) {
			hr_scan_close(sc);
			continue; /* retryable: list again */
		}
		if (rc < 0)
			fail("scan_next: %d", rc);
		else if (rc == 0 && (cells != want_cells || rows != NROWS))
			fail("scan: %d rows (want %d), last row %d cells (want %d)", rows, NROWS, cells,
			     want_cells);
		hr_scan_close(sc);
		atomic_fetch_add(&g_scans, 1);
		atomic_fetch_add(&g_scan_rows, (uint64_t)rows);
		if (atomic_load(&g_errors))
			return NULL;
	}
	return NULL;
}

/* Row listings: the row count never changes (rows are never deleted). */
static void *lister(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop)) {
		hr_scan_opts o = {.mode = (int)(atomic_load(&g_scans) % 2 ? HR_SCAN_ROWS
									   : HR_SCAN_FAMILIES)};
		hr_scan *sc;
		hr_scan_entry e;
		int n = 0, rc = hr_scan_open(g_srv, "m", &o, &sc);
		if (rc == -ESTALE)
			continue;
		if (rc < 0) {
			fail("list open: %d", rc);
			return NULL;
		}
		while ((rc = hr_scan_next(sc, &e)) == 1)
			n++;
		hr_scan_close(sc);
		if (rc == -ESTALE)
			continue;
		int want = o.mode == HR_SCAN_ROWS ? NROWS : 2 * NROWS;
		if (rc < 0 || n != want) {
			fail("listing mode %d: %d entries (want %d), rc %d", o.mode, n, want, rc);
			return NULL;
		}
	}
	return NULL;
}

/* Gets of each cell: well-formed, never older than what was acknowledged
 * before the get, never older than what this reader saw before. */
static void *getter(void *arg)
{
	uint64_t seed = (uint64_t)(intptr_t)arg;
	int64_t seen[NROWS][NQA + NQB];
	memset(seen, 0, sizeof(seen));
	while (!atomic_load(&g_stop)) {
		int r = (int)(et_rand(&seed) % NROWS);
		int k = (int)(et_rand(&seed) % (NQA + NQB));
		int f = k < NQA ? 0 : 1, q = k < NQA ? k : k - NQA;
		char row[16];
		mkrow(r, row);
		uint64_t floor = atomic_load(&g_acked[r]);
		hr_value v;
		int rc = hr_get(g_srv, "m", row, strlen(row), f ? "b" : "a", qname(f, q), 2,
				HR_GET_VALUE, &v);
		if (et_retryable(rc))
			continue;
		if (rc != 0) {
			fail("get row %d %s: %d", r, qname(f, q), rc);
			return NULL;
		}
		int64_t g = chkval(r, qname(f, q), v.data, v.len);
		free(v.data);
		if (g < 0) {
			fail("get row %d %s: torn value", r, qname(f, q));
			return NULL;
		}
		if ((uint64_t)g < floor) {
			fail("get row %d %s: gen %" PRId64 " < acknowledged %" PRIu64, r, qname(f, q), g,
			     floor);
			return NULL;
		}
		if (g < seen[r][k]) {
			fail("get row %d %s: went back from gen %" PRId64 " to %" PRId64, r, qname(f, q),
			     seen[r][k], g);
			return NULL;
		}
		seen[r][k] = g;
		atomic_fetch_add(&g_gets, 1);
	}
	return NULL;
}

static const char *g_flush_table = "m";
static int g_flush_enoent_ok; /* the table may be dropped under the flusher */

static void *flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop)) {
		int rc = hr_flush(g_srv, g_flush_table);
		if (rc == -ENOENT && g_flush_enoent_ok)
			rc = 0;
		if (rc != 0) {
			fail("hr_flush: %d", rc);
			return NULL;
		}
		atomic_fetch_add(&g_flushes, 1);
		/* pacing, not a wait: many small flushes among the writes */
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static char g_dir[4096];

static void run(int flush_loop)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/m%d", g_dir, flush_loop);
	CHECK_RC(mkdir(dir, 0755), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	CHECK_RC(et_table(g_srv, "m", "a", "b", NULL), 0);
	for (int r = 0; r < NROWS; r++) {
		CHECK_RC(write_row(r, 0), 0);
		atomic_store(&g_acked[r], 0);
	}
	atomic_store(&g_muts, 0);
	atomic_store(&g_scans, 0);
	atomic_store(&g_scan_rows, 0);
	atomic_store(&g_gets, 0);
	atomic_store(&g_flushes, 0);
	atomic_store(&g_stop, 0);
	atomic_store(&g_errors, 0);
	pthread_t th[16];
	int n = 0;
	for (int i = 0; i < NWRITERS; i++)
		pthread_create(&th[n++], NULL, writer, (void *)(intptr_t)i);
	pthread_create(&th[n++], NULL, scanner, (void *)(intptr_t)0);
	pthread_create(&th[n++], NULL, scanner, (void *)(intptr_t)0);
	pthread_create(&th[n++], NULL, scanner, (void *)(intptr_t)1);
	pthread_create(&th[n++], NULL, lister, NULL);
	pthread_create(&th[n++], NULL, getter, (void *)(intptr_t)11);
	pthread_create(&th[n++], NULL, getter, (void *)(intptr_t)12);
	if (flush_loop)
		pthread_create(&th[n++], NULL, flusher, NULL);
	/* the workload's duration (cut short by an error), not a wait */
	for (int ms = 0; ms < RUN_MS && !atomic_load(&g_errors); ms += 50) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&g_stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	hr_stats st;
	hr_stats_get(g_srv, &st);
	fprintf(stdout,
		"# %" PRIu64 " mutations, %" PRIu64 " scans (%" PRIu64 " rows), %" PRIu64
		" gets, %" PRIu64 " explicit flushes, %" PRIu64 " flushes in all\n",
		(uint64_t)g_muts, (uint64_t)g_scans, (uint64_t)g_scan_rows, (uint64_t)g_gets,
		(uint64_t)g_flushes, (uint64_t)st.flushes);
	if (atomic_load(&g_errors))
		fprintf(stdout, "# %d errors; first: %s\n", atomic_load(&g_errors), g_errmsg);
	int errors = atomic_load(&g_errors);
	/* after a reopen every row holds its last acknowledged generation */
	CHECK_RC(hr_server_close(g_srv), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	int bad = 0;
	for (int r = 0; r < NROWS; r++)
		for (int k = 0; k < NQA + NQB; k++) {
			char row[16];
			int f = k < NQA ? 0 : 1, q = k < NQA ? k : k - NQA;
			mkrow(r, row);
			hr_value v;
			int rc = hr_get(g_srv, "m", row, strlen(row), f ? "b" : "a", qname(f, q), 2,
					HR_GET_VALUE, &v);
			int64_t g = rc == 0 ? chkval(r, qname(f, q), v.data, v.len) : -1;
			if (rc == 0)
				free(v.data);
			if (g < 0 || (uint64_t)g != atomic_load(&g_acked[r])) {
				if (!bad++)
					fprintf(stdout,
						"# after reopen row %d %s: rc %d gen %" PRId64
						", want %" PRIu64 "\n",
						r, qname(f, q), rc, g, (uint64_t)atomic_load(&g_acked[r]));
			}
		}
	hr_server_close(g_srv);
	g_srv = NULL;
	CHECK_RC(errors, 0);
	CHECK_RC(bad, 0);
}

static void t_no_half_rows_auto_flush(void) { run(0); }
static void t_no_half_rows_flush_loop(void) { run(1); }

/* ---- one hot row: row locks under contention --------------------------- */

#define HOT_THREADS 8
#define HOT_MUTS 400

static atomic_int g_hot_err;

static void *hot_writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int k = 0; k < HOT_MUTS; k++) {
		char v[32];
		int n = snprintf(v, sizeof(v), "t%d-k%d", id, k);
		/* two cells, same value: a reader must never see them differ */
		hr_mcell c[2] = {{"a", "x", 1, HR_TS_NOW, HR_PUT, v, (size_t)n},
				 {"b", "y", 1, HR_TS_NOW, HR_PUT, v, (size_t)n}};
		int rc, tries = 0;
		while (et_retryable(rc = hr_mutate(g_srv, "h", "hot", 3, c, 2, 0)) && ++tries < 1000)
			;
		if (rc != 0) {
			fail("hot writer %d: %d", id, rc);
			atomic_fetch_add(&g_hot_err, 1);
			return NULL;
		}
		if (k % 50 == 0 && id == 0 && hr_delete_row(g_srv, "h", "hot", 3, 0) != 0)
			fail("hot delete_row failed");
	}
	return NULL;
}

static void *hot_reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop)) {
		hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
		hr_scan *sc;
		hr_scan_entry e;
		char first[32] = "";
		int n = 0, rc;
		if ((rc = hr_scan_open(g_srv, "h", &o, &sc)) == -ESTALE)
			continue;
		if (rc < 0) {
			fail("hot scan open: %d", rc);
			return NULL;
		}
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			char v[32];
			snprintf(v, sizeof(v), "%.*s", (int)e.value_len, (const char *)e.value);
			if (n == 0)
				snprintf(first, sizeof(first), "%s", v);
			else if (strcmp(first, v) != 0)
				fail("hot row: HALF ROW '%s' vs '%s'", first, v);
			n++;
		}
		hr_scan_close(sc);
		if (rc == -ESTALE)
			continue;
		/* 0 cells right after a delete_row, else exactly 2 */
		if (rc < 0 || (n != 0 && n != 2))
			fail("hot scan: %d cells, rc %d", n, rc);
	}
	return NULL;
}

/* 8 writers on one row: every mutation gets its lock (no -ETIMEDOUT at
 * this contention) and readers never see the two cells differ. */
static void t_hot_row(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/hot", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	CHECK_RC(et_table(g_srv, "h", "a:3", "b", NULL), 0);
	g_flush_table = "h";
	atomic_store(&g_stop, 0);
	atomic_store(&g_errors, 0);
	pthread_t th[HOT_THREADS + 2];
	for (int i = 0; i < HOT_THREADS; i++)
		pthread_create(&th[i], NULL, hot_writer, (void *)(intptr_t)i);
	pthread_create(&th[HOT_THREADS], NULL, hot_reader, NULL);
	pthread_create(&th[HOT_THREADS + 1], NULL, flusher, NULL);
	for (int i = 0; i < HOT_THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&g_stop, 1);
	pthread_join(th[HOT_THREADS], NULL);
	pthread_join(th[HOT_THREADS + 1], NULL);
	if (atomic_load(&g_errors))
		fprintf(stdout, "# %d errors; first: %s\n", atomic_load(&g_errors), g_errmsg);
	int errors = atomic_load(&g_errors);
	/* the row holds the last mutation: both cells equal, 3 versions of a:x */
	hr_value va, vb, *vers = NULL;
	int ra = hr_get(g_srv, "h", "hot", 3, "a", "x", 1, HR_GET_VALUE, &va);
	int rb = hr_get(g_srv, "h", "hot", 3, "b", "y", 1, HR_GET_VALUE, &vb);
	hr_get_opts go = {0, 0, 0};
	int nv = hr_get_versions(g_srv, "h", "hot", 3, "a", "x", 1, &go, &vers);
	int same = ra == 0 && rb == 0 && va.len == vb.len && !memcmp(va.data, vb.data, va.len);
	if (ra == 0)
		free(va.data);
	if (rb == 0)
		free(vb.data);
	hr_values_free(vers, nv > 0 ? (size_t)nv : 0);
	hr_server_close(g_srv);
	g_srv = NULL;
	CHECK_RC(errors, 0);
	CHECK(same);
	CHECK(nv >= 1 && nv <= 3);
}

/* ---- schema changes under load: family add, drop table ------------------- */

static void *ddl_writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char v[64];
	memset(v, 'd', sizeof(v));
	for (int k = 0; !atomic_load(&g_stop); k++) {
		char row[32];
		snprintf(row, sizeof(row), "w%d-%05d", id, k % 5000);
		const char *fam = (k & 1) && id == 0 ? "late" : "a";
		int rc = hr_put(g_srv, "dd", row, strlen(row), fam, "q", 1, v, sizeof(v), 0);
		/* the table or family may be gone or not there yet */
		if (rc != 0 && rc != -ENOENT && rc != -ESTALE && rc != -EBUSY) {
			fail("ddl writer: put %s/%s: %d", row, fam, rc);
			return NULL;
		}
	}
	return NULL;
}

static void *ddl_reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop)) {
		hr_scan_opts o = {.mode = HR_SCAN_FAMILIES};
		hr_scan *sc;
		hr_scan_entry e;
		int rc = hr_scan_open(g_srv, "dd", &o, &sc);
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			fail("ddl scan open: %d", rc);
			return NULL;
		}
		char prev_row[32] = "", prev_fam[64] = "";
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			char row[32];
			snprintf(row, sizeof(row), "%.*s", (int)e.row_len, (const char *)e.row);
			int c = strcmp(prev_row, row);
			if (c > 0 || (c == 0 && strcmp(prev_fam, e.family) >= 0)) {
				fail("ddl scan out of order: %s/%s after %s/%s", row, e.family, prev_row,
				     prev_fam);
				break;
			}
			snprintf(prev_row, sizeof(prev_row), "%s", row);
			snprintf(prev_fam, sizeof(prev_fam), "%s", e.family);
		}
		hr_scan_close(sc);
		if (rc < 0 && rc != -ENOENT && rc != -ESTALE) {
			fail("ddl scan: %d", rc);
			return NULL;
		}
		char b[8];
		rc = et_get(g_srv, "dd", "w1-00001", 8, "a", "q", b, sizeof(b), NULL);
		if (rc != 0 && rc != -ENOENT && rc != -ESTALE) {
			fail("ddl get: %d", rc);
			return NULL;
		}
	}
	return NULL;
}

/* Writers, scanners and flushes keep going while a family is added and the
 * table is dropped and re-created, twice: no crash, no error other than
 * "not there", and the re-created table starts empty. */
static void t_schema_changes_under_load(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/ddl", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	CHECK_RC(et_table(g_srv, "dd", "a", NULL), 0);
	g_flush_table = "dd";
	g_flush_enoent_ok = 1;
	atomic_store(&g_stop, 0);
	atomic_store(&g_errors, 0);
	pthread_t th[5];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, ddl_writer, (void *)(intptr_t)i);
	pthread_create(&th[3], NULL, ddl_reader, NULL);
	pthread_create(&th[4], NULL, flusher, NULL);
	int rc_add = 0, rc_drop = 0, rc_create = 0;
	/* 150 ms of the workload against each schema state: durations, not
	 * waits (the checks hold whatever ran meanwhile) */
	for (int round = 0; round < 2; round++) {
		struct timespec ts = {0, 150 * 1000 * 1000};
		nanosleep(&ts, NULL);
		hr_family_schema f;
		hr_family_defaults(&f, "late");
		if ((rc_add = hr_family_add(g_srv, "dd", &f)) != 0)
			break;
		nanosleep(&ts, NULL);
		if ((rc_drop = hr_table_drop(g_srv, "dd")) != 0)
			break;
		nanosleep(&ts, NULL);
		if ((rc_create = et_table(g_srv, "dd", "a", NULL)) != 0)
			break;
	}
	atomic_store(&g_stop, 1);
	for (int i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&g_errors))
		fprintf(stdout, "# %d errors; first: %s\n", atomic_load(&g_errors), g_errmsg);
	int errors = atomic_load(&g_errors);
	/* the last incarnation has family a only, and survives a reopen */
	hr_table_schema sc;
	int rs = hr_table_schema_get(g_srv, "dd", &sc);
	int rc_close = hr_server_close(g_srv);
	g_srv = et_open(dir);
	CHECK(g_srv);
	hr_table_schema sc2;
	int rs2 = hr_table_schema_get(g_srv, "dd", &sc2);
	int late_rows = 0;
	hr_scan_opts o = {.mode = HR_SCAN_ROWS, .family = "late"};
	hr_scan *scn;
	int rc_late = hr_scan_open(g_srv, "dd", &o, &scn);
	if (rc_late == 0) {
		hr_scan_entry e;
		while (hr_scan_next(scn, &e) == 1)
			late_rows++;
		hr_scan_close(scn);
	}
	hr_server_close(g_srv);
	g_srv = NULL;
	CHECK_RC(errors, 0);
	CHECK_RC(rc_add, 0);
	CHECK_RC(rc_drop, 0);
	CHECK_RC(rc_create, 0);
	CHECK_RC(rc_close, 0);
	CHECK_RC(rs, 0);
	CHECK_RC(sc.nfamilies, 1);
	CHECK_RC(rs2, 0);
	CHECK_RC(sc2.nfamilies, 1);
	CHECK_RC(rc_late, -ENOENT); /* the dropped incarnation's family is gone */
	CHECK_RC(late_rows, 0);
}

int main(void)
{
	et_watchdog(120);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "mvcc");
	RUN(t_no_half_rows_auto_flush);
	RUN(t_no_half_rows_flush_loop);
	RUN(t_hot_row);
	RUN(t_schema_changes_under_load);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
