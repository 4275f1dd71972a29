/* test_pressure.c — write back-pressure (HBase's checkResources) with a
 * deliberately slow flush (HREGIONFS_TEST_FLUSH_DELAY_MS, set before the
 * server opens):
 * - per region: memstores over flush_size x block_multiplier make writers
 *   wait, at most busy_wait_ms, then answer -EBUSY; every put returns within
 *   a bound (busy_wait_ms plus slack), writers that retry get through,
 *   nothing acknowledged is lost (also after a reopen), nothing hangs (an
 *   alarm watchdog kills a hung test);
 * - server-wide: the same with global_limit as the bound (many tables, a
 *   block_multiplier too high to matter);
 * - busy_wait_ms 0: -EBUSY at once, the server still converges. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "hr_etest.h"

static char g_dir[4096];

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

#define NW 4		/* writer threads */
#define ROWS_PER_W 400	/* each writer overwrites its own rows round robin */
#define VAL_LEN 1000

typedef struct pw {
	hr_server *s;
	char table[32];
	int w;
	unsigned run_ms;
	/* results */
	uint64_t acked, busy, other_err, max_lat_ms, busy_max_lat_ms;
	int last_err;
	uint64_t gen[ROWS_PER_W]; /* last acknowledged generation per row (0 = none) */
} pw;

static size_t mkval(int w, uint64_t row, uint64_t gen, char *v)
{
	int n = snprintf(v, 64, "w%d.r%" PRIu64 ".g%" PRIu64 ".", w, row, gen);
	for (size_t i = (size_t)n; i < VAL_LEN; i++)
		v[i] = (char)('a' + (i + gen) % 26);
	return VAL_LEN;
}

static void *pw_main(void *p)
{
	pw *a = p;
	char v[VAL_LEN + 64];
	uint64_t t_end = mono_ms() + a->run_ms;
	for (uint64_t k = 1; mono_ms() < t_end; k++) {
		uint64_t row = k % ROWS_PER_W;
		char rk[32];
		int rl = snprintf(rk, sizeof(rk), "w%d-%05" PRIu64, a->w, row);
		size_t vl = mkval(a->w, row, k, v);
		/* like the FUSE layer: retry the same put after a pause */
		for (;;) {
			uint64_t t0 = mono_ms();
			int rc = hr_put(a->s, a->table, rk, (size_t)rl, "cf", "q", 1, v, vl, 0);
			uint64_t lat = mono_ms() - t0;
			if (lat > a->max_lat_ms)
				a->max_lat_ms = lat;
			if (rc == 0) {
				a->gen[row] = k;
				a->acked++;
				break;
			}
			if (rc == -EBUSY) {
				a->busy++;
				if (lat > a->busy_max_lat_ms)
					a->busy_max_lat_ms = lat;
				sleep_ms(10); /* the client's back-off, not a wait */
				continue;
			}
			if (et_retryable(rc)) {
				sleep_ms(1); /* likewise */
				continue;
			}
			a->other_err++;
			a->last_err = rc;
			return NULL;
		}
	}
	return NULL;
}

/* every row's value is the last acknowledged generation's */
static int verify(hr_server *s, pw *a)
{
	char want[VAL_LEN + 64];
	for (uint64_t row = 0; row < ROWS_PER_W; row++) {
		if (!a->gen[row])
			continue;
		char rk[32];
		int rl = snprintf(rk, sizeof(rk), "w%d-%05" PRIu64, a->w, row);
		hr_value v;
		int rc;
		do
			rc = hr_get(s, a->table, rk, (size_t)rl, "cf", "q", 1, HR_GET_VALUE, &v);
		while (et_retryable(rc));
		if (rc < 0) {
			fprintf(stdout, "# %s/%s: get %d (%s)\n", a->table, rk, rc, strerror(-rc));
			return -1;
		}
		size_t wl = mkval(a->w, row, a->gen[row], want);
		int ok = v.len == wl && memcmp(v.data, want, wl) == 0;
		if (!ok)
			fprintf(stdout, "# %s/%s: '%.24s', want generation %" PRIu64 "\n", a->table,
				rk, v.data ? (char *)v.data : "", a->gen[row]);
		free(v.data);
		if (!ok)
			return -1;
	}
	return 0;
}

typedef struct scenario {
	const char *name;
	unsigned delay_ms, busy_wait_ms, block_multiplier, run_ms;
	uint64_t flush_size, global_limit, global_limit_low;
	int tables; /* 1: all writers on one table; else one table per writer */
} scenario;

/* runs the writers; returns 0 if every check passed */
static int run_scenario(const scenario *sc, pw *ws, uint64_t *blocked)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s", g_dir, sc->name);
	char d[16];
	snprintf(d, sizeof(d), "%u", sc->delay_ms);
	setenv("HREGIONFS_TEST_FLUSH_DELAY_MS", d, 1);
	hr_config c;
	et_config(&c, dir);
	c.flush_size = sc->flush_size;
	c.block_multiplier = sc->block_multiplier;
	c.busy_wait_ms = sc->busy_wait_ms;
	c.global_limit = sc->global_limit;
	c.global_limit_low = sc->global_limit_low;
	hr_server *s = NULL;
	int rc = hr_server_open(&c, &s);
	unsetenv("HREGIONFS_TEST_FLUSH_DELAY_MS");
	if (rc < 0) {
		fprintf(stdout, "# open: %d\n", rc);
		return -1;
	}
	int ntab = sc->tables == 1 ? 1 : NW;
	for (int i = 0; i < ntab; i++) {
		char tn[32];
		snprintf(tn, sizeof(tn), "t%d", i);
		if ((rc = et_table(s, tn, "cf", NULL)) < 0) {
			hr_server_close(s);
			return -1;
		}
	}
	pthread_t th[NW];
	for (int w = 0; w < NW; w++) {
		memset(&ws[w], 0, sizeof(ws[w]));
		ws[w].s = s;
		ws[w].w = w;
		ws[w].run_ms = sc->run_ms;
		snprintf(ws[w].table, sizeof(ws[w].table), "t%d", sc->tables == 1 ? 0 : w);
		pthread_create(&th[w], NULL, pw_main, &ws[w]);
	}
	for (int w = 0; w < NW; w++)
		pthread_join(th[w], NULL);
	hr_stats st;
	hr_stats_get(s, &st);
	*blocked = st.blocked_writes;
	int bad = 0;
	for (int w = 0; w < NW; w++) {
		fprintf(stdout, "# %s writer %d: %" PRIu64 " acked, %" PRIu64 " busy, max latency %"
			PRIu64 " ms (busy answers: %" PRIu64 " ms)\n", sc->name, w, ws[w].acked,
			ws[w].busy, ws[w].max_lat_ms, ws[w].busy_max_lat_ms);
		if (ws[w].other_err) {
			fprintf(stdout, "# writer %d failed: %d (%s)\n", w, ws[w].last_err,
				strerror(-ws[w].last_err));
			bad = 1;
		}
	}
	fprintf(stdout, "# %s: %" PRIu64 " flushes, %" PRIu64 " blocked writes, %" PRIu64
		" splits\n", sc->name, st.flushes, st.blocked_writes, st.splits);
	for (int w = 0; w < NW && !bad; w++)
		bad = verify(s, &ws[w]) != 0;
	if (hr_server_close(s) != 0)
		bad = 1;
	/* and after a reopen (no delay now) */
	s = NULL;
	if (!bad && hr_server_open(&c, &s) == 0) {
		for (int w = 0; w < NW && !bad; w++)
			bad = verify(s, &ws[w]) != 0;
		hr_server_close(s);
	} else if (!bad) {
		bad = 1;
	}
	hr_test_rmrf(dir);
	return bad ? -1 : 0;
}

/* Slack on top of busy_wait_ms for one put: a split's brief pause, a few
 * -ESTALE retries inside hr_mutate, a loaded CI machine. */
#define SLACK_MS 1500

static void t_region_pressure(void)
{
	scenario sc = {.name = "region", .delay_ms = 300, .busy_wait_ms = 200,
		       .block_multiplier = 2, .run_ms = 4000, .flush_size = 16 * 1024,
		       .global_limit = 64ull << 20, .global_limit_low = 48ull << 20, .tables = 1};
	static pw ws[NW];
	uint64_t blocked = 0;
	CHECK_RC(run_scenario(&sc, ws, &blocked), 0);
	uint64_t busy = 0, acked = 0, maxlat = 0;
	for (int w = 0; w < NW; w++) {
		busy += ws[w].busy;
		acked += ws[w].acked;
		if (ws[w].max_lat_ms > maxlat)
			maxlat = ws[w].max_lat_ms;
	}
	CHECK(blocked > 0);
	CHECK(busy > 0);	  /* writers did see -EBUSY */
	CHECK(acked > NW * 10); /* and got through */
	CHECK(maxlat < sc.busy_wait_ms + SLACK_MS);
}

static void t_global_pressure(void)
{
	/* four tables (four regions) each far below flush_size x multiplier,
	 * together above global_limit: only the server-wide bound applies */
	scenario sc = {.name = "global", .delay_ms = 300, .busy_wait_ms = 200,
		       .block_multiplier = 1000, .run_ms = 4000, .flush_size = 64 * 1024,
		       .global_limit = 128 * 1024, .global_limit_low = 64 * 1024, .tables = NW};
	static pw ws[NW];
	uint64_t blocked = 0;
	CHECK_RC(run_scenario(&sc, ws, &blocked), 0);
	uint64_t busy = 0, acked = 0, maxlat = 0;
	for (int w = 0; w < NW; w++) {
		busy += ws[w].busy;
		acked += ws[w].acked;
		if (ws[w].max_lat_ms > maxlat)
			maxlat = ws[w].max_lat_ms;
	}
	CHECK(blocked > 0);
	CHECK(busy > 0);
	CHECK(acked > NW * 10);
	CHECK(maxlat < sc.busy_wait_ms + SLACK_MS);
}

static void t_no_wait(void)
{
	/* busy_wait_ms 0: busy at once; latency stays tiny, data converges */
	scenario sc = {.name = "nowait", .delay_ms = 200, .busy_wait_ms = 0,
		       .block_multiplier = 1, .run_ms = 2000, .flush_size = 16 * 1024,
		       .global_limit = 64ull << 20, .global_limit_low = 48ull << 20, .tables = 1};
	static pw ws[NW];
	uint64_t blocked = 0;
	CHECK_RC(run_scenario(&sc, ws, &blocked), 0);
	uint64_t busy = 0, maxbusy = 0;
	for (int w = 0; w < NW; w++) {
		busy += ws[w].busy;
		if (ws[w].busy_max_lat_ms > maxbusy)
			maxbusy = ws[w].busy_max_lat_ms;
	}
	CHECK(busy > 0);
	CHECK(maxbusy < SLACK_MS);
}

int main(void)
{
	et_watchdog(100);
	hr_log_set_level(HR_LOG_ERROR);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "pressure");
	RUN(t_region_pressure);
	RUN(t_global_pressure);
	RUN(t_no_wait);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
