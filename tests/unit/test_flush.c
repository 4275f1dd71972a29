/* test_flush.c — flushes through the public API: four writers keep writing
 * while hr_flush loops and readers check that nothing acknowledged ever
 * disappears mid-flush; a table much larger than the memstore and the block
 * cache read back through gets and a full scan; a flush request is never
 * lost (a region over flush_size gets flushed without another put); the
 * global memstore limit and flush_interval triggers; flush admin edge cases. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];

static void f_row(int w, int i, char *row) { snprintf(row, 32, "w%d-%06d", w, i); }

static size_t f_val(int w, int i, int gen, char *v)
{
	size_t n = (size_t)snprintf(v, 64, "%d:%d:%d:", w, i, gen);
	size_t len = 100 + (size_t)((i * 31 + w) % 150);
	for (size_t k = n; k < len; k++)
		v[k] = (char)('a' + (k + (size_t)i + (size_t)gen) % 26);
	return len;
}

static int f_check(hr_server *s, const char *t, int w, int i, int gen)
{
	char row[32], want[256];
	f_row(w, i, row);
	size_t wl = f_val(w, i, gen, want);
	hr_value v;
	int rc = hr_get(s, t, row, strlen(row), "cf", "q", 1, HR_GET_VALUE, &v);
	if (rc < 0)
		return rc;
	int ok = v.len == wl && memcmp(v.data, want, wl) == 0;
	free(v.data);
	return ok ? 0 : -EBADMSG;
}

/* ---- flush while writers keep writing -------------------------------------- */

#define FW_WRITERS 4
#define FW_ROWS 2500 /* per writer, each written twice (gen 0, then gen 1) */

static hr_server *g_srv;
static atomic_int g_done_writers, g_stop_readers, g_err;
static atomic_int g_progress[FW_WRITERS]; /* rows acknowledged in the current pass */
static atomic_int g_pass[FW_WRITERS];
static char g_errmsg[256];

static void *fw_writer(void *arg)
{
	int w = (int)(intptr_t)arg;
	for (int gen = 0; gen < 2; gen++) {
		atomic_store(&g_pass[w], gen);
		atomic_store(&g_progress[w], 0);
		for (int i = 0; i < FW_ROWS; i++) {
			char row[32], v[256];
			f_row(w, i, row);
			size_t vl = f_val(w, i, gen, v);
			int rc = hr_put(g_srv, "fw", row, strlen(row), "cf", "q", 1, v, vl, 0);
			if (et_retryable(rc)) {
				i--;
				continue;
			}
			if (rc != 0) {
				if (!atomic_fetch_add(&g_err, 1))
					snprintf(g_errmsg, sizeof(g_errmsg), "put %s: %d", row, rc);
				atomic_fetch_add(&g_done_writers, 1);
				return NULL;
			}
			atomic_store(&g_progress[w], i + 1);
		}
	}
	atomic_fetch_add(&g_done_writers, 1);
	return NULL;
}

/* gets of rows already acknowledged: never missing, never older than the
 * pass they were acknowledged in */
static void *fw_reader(void *arg)
{
	uint64_t seed = (uint64_t)(intptr_t)arg;
	while (!atomic_load(&g_stop_readers)) {
		int w = (int)(et_rand(&seed) % FW_WRITERS);
		int pass = atomic_load(&g_pass[w]), done = atomic_load(&g_progress[w]);
		if (atomic_load(&g_pass[w]) != pass)
			continue;
		int i, gen;
		if (done > 0) {
			i = (int)(et_rand(&seed) % (uint64_t)done);
			gen = pass;
		} else if (pass > 0) {
			i = (int)(et_rand(&seed) % FW_ROWS);
			gen = pass - 1;
		} else {
			continue;
		}
		int rc = f_check(g_srv, "fw", w, i, gen);
		if (et_retryable(rc))
			continue;
		if (rc == -EBADMSG && gen < 1)
			rc = f_check(g_srv, "fw", w, i, gen + 1); /* overwritten since */
		if (rc != 0) {
			if (!atomic_fetch_add(&g_err, 1))
				snprintf(g_errmsg, sizeof(g_errmsg), "get w%d row %d (gen %d): %d", w, i,
					 gen, rc);
			return NULL;
		}
	}
	return NULL;
}

static int verify_fw(hr_server *s, const char *when)
{
	int bad = 0;
	for (int w = 0; w < FW_WRITERS; w++)
		for (int i = 0; i < FW_ROWS; i++)
			if (f_check(s, "fw", w, i, 1) != 0 && !bad++)
				fprintf(stdout, "# %s: w%d row %d wrong\n", when, w, i);
	/* full scan: every row once, in order, the latest value */
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
	hr_scan *sc;
	hr_scan_entry e;
	int n = 0, rc = hr_scan_open(s, "fw", &o, &sc);
	char prev[32] = "";
	if (rc == 0) {
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			char row[32];
			snprintf(row, sizeof(row), "%.*s", (int)e.row_len, (const char *)e.row);
			int w = row[1] - '0', i = atoi(row + 3);
			char want[256];
			size_t wl = f_val(w, i, 1, want);
			if (strcmp(row, prev) <= 0 || e.value_len != wl || memcmp(e.value, want, wl)) {
				if (!bad++)
					fprintf(stdout, "# %s: scan entry %d (%s) wrong\n", when, n, row);
			}
			snprintf(prev, sizeof(prev), "%s", row);
			n++;
		}
		hr_scan_close(sc);
	}
	if (rc != 0 || n != FW_WRITERS * FW_ROWS) {
		fprintf(stdout, "# %s: scan %d rows, rc %d\n", when, n, rc);
		bad++;
	}
	return bad;
}

static void t_flush_while_writing(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/fw", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	CHECK_RC(et_table(g_srv, "fw", "cf", NULL), 0);
	pthread_t th[FW_WRITERS + 2];
	for (int w = 0; w < FW_WRITERS; w++)
		pthread_create(&th[w], NULL, fw_writer, (void *)(intptr_t)w);
	pthread_create(&th[FW_WRITERS], NULL, fw_reader, (void *)(intptr_t)1);
	pthread_create(&th[FW_WRITERS + 1], NULL, fw_reader, (void *)(intptr_t)2);
	int flushes = 0, frc = 0;
	while (atomic_load(&g_done_writers) < FW_WRITERS && !atomic_load(&g_err)) {
		if ((frc = hr_flush(g_srv, "fw")) != 0)
			break;
		flushes++;
	}
	for (int w = 0; w < FW_WRITERS; w++)
		pthread_join(th[w], NULL);
	atomic_store(&g_stop_readers, 1);
	pthread_join(th[FW_WRITERS], NULL);
	pthread_join(th[FW_WRITERS + 1], NULL);
	hr_stats st;
	hr_stats_get(g_srv, &st);
	fprintf(stdout, "# %d explicit flushes, %" PRIu64 " in all\n", flushes, st.flushes);
	if (atomic_load(&g_err))
		fprintf(stdout, "# first error: %s\n", g_errmsg);
	CHECK_RC(frc, 0);
	CHECK_RC(atomic_load(&g_err), 0);
	CHECK(flushes > 1);
	CHECK_RC(verify_fw(g_srv, "after the writers"), 0);
	CHECK_RC(hr_flush(g_srv, "fw"), 0);
	CHECK_RC(verify_fw(g_srv, "after a last flush"), 0);
	CHECK_RC(hr_server_close(g_srv), 0);
	g_srv = et_open(dir);
	CHECK(g_srv);
	CHECK_RC(verify_fw(g_srv, "after reopen"), 0);
	CHECK_RC(hr_server_close(g_srv), 0);
	g_srv = NULL;
}

/* ---- triggers ----------------------------------------------------------------- */

/* Totals over every region of the table (a region may have split). */
static uint64_t sum_regions(hr_server *s, const char *t, uint32_t *files, uint64_t *fbytes)
{
	hr_region_info *ri;
	size_t n;
	if (hr_region_list(s, t, &ri, &n) < 0)
		return UINT64_MAX;
	uint64_t m = 0, fb = 0;
	uint32_t f = 0;
	for (size_t i = 0; i < n; i++) {
		m += ri[i].memstore_bytes;
		for (uint32_t k = 0; k < ri[i].nstores; k++) {
			f += ri[i].stores[k].file_count;
			fb += ri[i].stores[k].file_bytes;
		}
	}
	if (files)
		*files = f;
	if (fbytes)
		*fbytes = fb;
	hr_region_list_free(ri, n);
	return m;
}

static uint64_t mem_of(hr_server *s, const char *t, uint32_t *files)
{
	return sum_regions(s, t, files, NULL);
}

/* The memstore bytes of the table's fullest region; *nregions gets how
 * many regions it has. */
static uint64_t fullest_region(hr_server *s, const char *t, size_t *nregions)
{
	hr_region_info *ri;
	size_t n;
	*nregions = 0;
	if (hr_region_list(s, t, &ri, &n) < 0)
		return UINT64_MAX;
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (ri[i].memstore_bytes > m)
			m = ri[i].memstore_bytes;
	*nregions = n;
	hr_region_list_free(ri, n);
	return m;
}

/* Splits table t at row, unless a region already starts there (the chore
 * may have split at that very row first). */
static int split_at(hr_server *s, const char *t, const char *row)
{
	int rc;
	do
		rc = hr_split(s, t, row, strlen(row));
	while (et_retryable(rc));
	if (rc != -EINVAL)
		return rc;
	hr_region_info *ri;
	size_t n;
	if (hr_region_list(s, t, &ri, &n) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (ri[i].start_len == strlen(row) && !memcmp(ri[i].start_key, row, ri[i].start_len))
			rc = 0;
	hr_region_list_free(ri, n);
	return rc;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- a table larger than the memstore and the block cache together ------- */

#define BIG_ROWS 16384
#define BIG_VLEN 512 /* 8 MiB of values */

static void big_val(int i, char *v)
{
	int n = snprintf(v, BIG_VLEN, "big-%d-", i);
	for (int k = n; k < BIG_VLEN; k++)
		v[k] = (char)('0' + (k * 7 + i) % 75);
}

static int big_verify(hr_server *s, const char *when)
{
	int bad = 0;
	uint64_t seed = 99;
	/* gets in random order (defeats any readahead luck) */
	for (int k = 0; k < BIG_ROWS; k++) {
		int i = (int)(et_rand(&seed) % BIG_ROWS);
		char row[32], want[BIG_VLEN];
		snprintf(row, sizeof(row), "big%08d", i);
		big_val(i, want);
		hr_value v;
		int rc = hr_get(s, "big", row, strlen(row), "cf", "q", 1, HR_GET_VALUE, &v);
		if (rc != 0 || v.len != BIG_VLEN || memcmp(v.data, want, BIG_VLEN)) {
			if (!bad++)
				fprintf(stdout, "# %s: get %s: rc %d\n", when, row, rc);
		}
		if (rc == 0)
			free(v.data);
	}
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
	hr_scan *sc;
	hr_scan_entry e;
	int n = 0, rc = hr_scan_open(s, "big", &o, &sc);
	if (rc == 0) {
		while ((rc = hr_scan_next(sc, &e)) == 1) {
			char row[32], want[BIG_VLEN];
			snprintf(row, sizeof(row), "big%08d", n);
			big_val(n, want);
			if (e.row_len != strlen(row) || memcmp(e.row, row, e.row_len) ||
			    e.value_len != BIG_VLEN || memcmp(e.value, want, BIG_VLEN)) {
				if (!bad++)
					fprintf(stdout, "# %s: scan entry %d wrong\n", when, n);
			}
			n++;
		}
		hr_scan_close(sc);
	}
	if (rc != 0 || n != BIG_ROWS) {
		fprintf(stdout, "# %s: scan %d rows, rc %d\n", when, n, rc);
		bad++;
	}
	return bad;
}

static void t_larger_than_memory(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/big", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_config c;
	et_config(&c, dir);
	c.block_cache_size = 256 * 1024;
	c.flush_size = 64 * 1024;
	hr_server *s;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "big", "cf", NULL), 0);
	/* in shuffled order, so files overlap and gets merge many files */
	uint64_t seed = 7;
	int *perm = malloc(BIG_ROWS * sizeof(int));
	CHECK(perm);
	for (int i = 0; i < BIG_ROWS; i++)
		perm[i] = i;
	for (int i = BIG_ROWS - 1; i > 0; i--) {
		int j = (int)(et_rand(&seed) % (uint64_t)(i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	/* Halfway, the table is split at its middle row, so that the second
	 * half of the puts goes to two regions, each flushed on its own. (The
	 * chore splits it anyway, at 2 x flush_size, but at a moment that
	 * depends on the machine's speed: before or after the last put.) */
	int prc = 0;
	for (int k = 0; k < BIG_ROWS && prc == 0; k++) {
		char row[32], v[BIG_VLEN];
		snprintf(row, sizeof(row), "big%08d", perm[k]);
		big_val(perm[k], v);
		do
			prc = hr_put(s, "big", row, strlen(row), "cf", "q", 1, v, BIG_VLEN, 0);
		while (et_retryable(prc));
		if (prc == 0 && k == BIG_ROWS / 2) {
			snprintf(row, sizeof(row), "big%08d", BIG_ROWS / 2);
			prc = split_at(s, "big", row);
		}
	}
	free(perm);
	CHECK_RC(prc, 0);
	uint32_t files = 0;
	uint64_t fbytes = 0, mem = sum_regions(s, "big", &files, &fbytes);
	fprintf(stdout, "# %u store files, %" PRIu64 " bytes in files, %" PRIu64 " in memstore\n",
		files, fbytes, mem);
	CHECK(files >= 1);
	CHECK(fbytes + mem >= (uint64_t)BIG_ROWS * BIG_VLEN);
	/* The memstores may run ahead of the flushes while the puts go on (up
	 * to block_multiplier x flush_size per region); but a region left at
	 * or above flush_size must be flushed without waiting for another put.
	 * flush_size is a threshold per region (HBase's memstore flush size):
	 * a region below it keeps its memstore until a flush_interval, so a
	 * table of n regions may keep up to n x flush_size in memory, and only
	 * the fullest region is held to flush_size. Each background flush
	 * wakes the wait; 10 s is only the bound for a lost request. */
	size_t nregions;
	uint64_t t0 = hr_mono_ns(), fullest = fullest_region(s, "big", &nregions);
	while (fullest >= c.flush_size && hr_mono_ns() - t0 < 10000000000ull) {
		hr_flush_wait(s, 100000000ull);
		fullest = fullest_region(s, "big", &nregions);
	}
	mem = sum_regions(s, "big", &files, &fbytes);
	fprintf(stdout, "# then: %zu regions, %u store files, %" PRIu64 " in memstore, %" PRIu64
		" in the fullest region\n", nregions, files, mem, fullest);
	CHECK(nregions >= 2);
	/* so nearly all of the 8 MiB is in files */
	CHECK(fullest < c.flush_size);
	CHECK_RC(big_verify(s, "as written"), 0);
	hr_stats st;
	CHECK_RC(hr_stats_get(s, &st), 0);
	fprintf(stdout, "# block cache: %" PRIu64 " hits, %" PRIu64 " misses\n", st.cache_hits,
		st.cache_misses);
	CHECK(st.cache_misses > 100); /* the cache really was too small */
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(big_verify(s, "after reopen"), 0);
	CHECK_RC(hr_server_close(s), 0);
}

/* Every request for a flush is served: a region that goes over flush_size
 * gets flushed without another put to remind the flushers. 30 times, at
 * varied moments relative to the background chore. */
static void t_flush_request_not_lost(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/request", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "rq", "cf", NULL), 0);
	static char v[70 * 1024]; /* one put > flush_size (64K) */
	memset(v, 'r', sizeof(v));
	uint64_t seed = 3;
	int lost = 0, slowest = 0;
	for (int i = 0; i < 30 && !lost; i++) {
		char row[16];
		snprintf(row, sizeof(row), "r%02d", i);
		CHECK_RC(hr_put(s, "rq", row, strlen(row), "cf", "q", 1, v, sizeof(v), 0), 0);
		int waited = 0;
		uint64_t mem = mem_of(s, "rq", NULL);
		for (; mem >= sizeof(v) && waited < 2000; waited += 5) {
			sleep_ms(5);
			mem = mem_of(s, "rq", NULL);
		}
		if (mem >= sizeof(v)) {
			fprintf(stdout, "# put %d: %" PRIu64 " bytes still in the memstore after 2 s: the flush request was lost\n",
				i, mem);
			lost = 1;
		}
		if (waited > slowest)
			slowest = waited;
		sleep_ms((int)(et_rand(&seed) % 230));
	}
	fprintf(stdout, "# slowest flush after its request: %d ms\n", slowest);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(lost, 0);
}

/* The sum over regions above global_limit flushes the largest regions
 * until the sum is below global_limit_low. */
static void t_global_limit(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/global", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_config c;
	et_config(&c, dir);
	c.flush_size = 64ull << 20; /* never by region size */
	c.global_limit = 512 * 1024;
	c.global_limit_low = 256 * 1024;
	hr_server *s;
	CHECK_RC(hr_server_open(&c, &s), 0);
	const char *tables[4] = {"g0", "g1", "g2", "g3"};
	for (int t = 0; t < 4; t++)
		CHECK_RC(et_table(s, tables[t], "cf", NULL), 0);
	char v[1000];
	memset(v, 'g', sizeof(v));
	/* table t gets (t+1) * 100 KB, 1 MB in all, interleaved so that g3 is
	 * the largest whenever the limit is crossed */
	for (int round = 0; round < 100; round++)
		for (int t = 0; t < 4; t++)
			for (int i = round * (t + 1); i < (round + 1) * (t + 1); i++) {
				char row[32];
				snprintf(row, sizeof(row), "r%05d", i);
				CHECK_RC(hr_put(s, tables[t], row, strlen(row), "cf", "q", 1, v,
						sizeof(v), 0),
					 0);
			}
	uint64_t total = 0, m3 = 0;
	uint32_t f3 = 0;
	/* the largest region's flush is queued first but, with two flusher
	 * threads, may finish after the smaller ones: wait for both */
	for (int waited = 0; waited < 5000; waited += 50) {
		hr_stats st;
		hr_stats_get(s, &st);
		total = st.memstore_bytes;
		m3 = mem_of(s, "g3", &f3);
		if (total < c.global_limit && f3 >= 1)
			break;
		sleep_ms(50);
	}
	fprintf(stdout, "# memstores after 1 MB of puts: %" PRIu64 " bytes; largest table: %" PRIu64
			" bytes, %u files\n",
		total, m3, f3);
	CHECK(total < c.global_limit);
	CHECK(f3 >= 1); /* the largest region was among those flushed */
	int bad = 0;
	for (int t = 0; t < 4; t++)
		for (int i = 0; i < (t + 1) * 100; i++) {
			char row[32];
			hr_value x;
			snprintf(row, sizeof(row), "r%05d", i);
			int rc = hr_get(s, tables[t], row, strlen(row), "cf", "q", 1, 0, &x);
			bad += rc != 0 || x.len != sizeof(v);
		}
	CHECK_RC(bad, 0);
	CHECK_RC(hr_server_close(s), 0);
}

static void t_flush_interval(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/interval", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_config c;
	et_config(&c, dir);
	c.flush_interval_ms = 300;
	hr_server *s;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "iv", "cf", NULL), 0);
	CHECK_RC(hr_put(s, "iv", "r", 1, "cf", "q", 1, "old edit", 8, 0), 0);
	uint32_t files = 0;
	uint64_t mem = 1;
	for (int waited = 0; waited < 5000 && (mem || !files); waited += 50) {
		sleep_ms(50);
		mem = mem_of(s, "iv", &files);
	}
	CHECK_RC(mem, 0);
	CHECK_RC(files, 1);
	char b[16];
	CHECK_RC(et_get(s, "iv", "r", 1, "cf", "q", b, sizeof(b), NULL), 0);
	CHECK_STREQ(b, "old edit");
	CHECK_RC(hr_server_close(s), 0);
}

static void t_flush_admin(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/admin", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(hr_flush(s, NULL), 0); /* no tables */
	CHECK_RC(et_table(s, "a1", "cf", NULL), 0);
	CHECK_RC(et_table(s, "a2", "cf", "cg", NULL), 0);
	CHECK_RC(hr_flush(s, "a1"), 0); /* empty memstore: nothing to write */
	uint32_t files = 9;
	CHECK_RC(mem_of(s, "a1", &files), 0);
	CHECK_RC(files, 0);
	CHECK_RC(hr_flush(s, "nosuch"), -ENOENT);
	CHECK_RC(et_put(s, "a1", "r", 1, "cf", "q", HR_TS_NOW, "1"), 0);
	CHECK_RC(et_put(s, "a2", "r", 1, "cg", "q", HR_TS_NOW, "2"), 0);
	CHECK_RC(hr_flush(s, NULL), 0); /* all tables */
	CHECK_RC(mem_of(s, "a1", &files), 0);
	CHECK_RC(files, 1);
	CHECK_RC(mem_of(s, "a2", NULL), 0);
	CHECK_RC(hr_flush(s, NULL), 0); /* again: no new empty files */
	CHECK_RC(mem_of(s, "a1", &files), 0);
	CHECK_RC(files, 1);
	/* a store with only deletes flushes too, and the delete still masks */
	CHECK_RC(hr_delete_column(s, "a1", "r", 1, "cf", "q", 1, 0), 0);
	CHECK_RC(hr_flush(s, "a1"), 0);
	char b[8];
	CHECK_RC(et_get(s, "a1", "r", 1, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_get(s, "a1", "r", 1, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(et_get(s, "a2", "r", 1, "cg", "q", b, sizeof(b), NULL), 0);
	CHECK_STREQ(b, "2");
	CHECK_RC(hr_server_close(s), 0);
}

int main(void)
{
	et_watchdog(170);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "flush");
	RUN(t_flush_while_writing);
	RUN(t_larger_than_memory);
	RUN(t_flush_request_not_lost);
	RUN(t_global_limit);
	RUN(t_flush_interval);
	RUN(t_flush_admin);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
