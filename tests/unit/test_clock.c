/* test_clock.c — server timestamps never go backwards within a region
 * (issue 8): with the engine's test clock (hr_test_set_clock) stepped back,
 * - a DeleteColumn issued after a Put still masks it, and a later Put is
 *   stamped no lower than the last stamp, so it is the visible version;
 * - the same after a reopen: the region's last stamp comes back from the
 *   replayed WAL edits, and from its store files once they are flushed;
 * - after a split, both daughters go on from the parent's last stamp;
 * - explicit timestamps are the caller's: they are stored as given.
 * No sleeps: the clock is a variable the test sets. */
#include <inttypes.h>
#include <stdatomic.h>

#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];
static atomic_llong g_now;

static int64_t test_clock(void) { return (int64_t)atomic_load(&g_now); }

static void set_clock(int64_t t) { atomic_store(&g_now, (long long)t); }

static void subdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
	hr_test_rmrf(buf);
}

#define T0 1700000000000ll /* an arbitrary "now" */

/* the visible value and its timestamp, as "value@ts" (or "-" when none) */
static const char *cell(hr_server *s, const char *row, const char *qual)
{
	static char buf[128];
	char v[64];
	int64_t ts = 0;
	int rc = et_get(s, "t", row, strlen(row), "cf", qual, v, sizeof(v), &ts);
	if (rc == -ENOENT)
		snprintf(buf, sizeof(buf), "-");
	else if (rc < 0)
		snprintf(buf, sizeof(buf), "ERR%d", rc);
	else
		snprintf(buf, sizeof(buf), "%s@%" PRId64, v, (int64_t)(ts - T0));
	return buf;
}

static void t_clock_steps_back(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "back");
	set_clock(T0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", HR_TS_NOW, "a"), 0);
	CHECK_STREQ(cell(s, "r", "q"), "a@0");
	set_clock(T0 - 60000); /* a minute back */
	CHECK_RC(et_del(s, "t", "r", 1, "cf", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_STREQ(cell(s, "r", "q"), "-");
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", HR_TS_NOW, "b"), 0);
	CHECK_STREQ(cell(s, "r", "q"), "b@0");
	/* another row of the region: the same floor */
	CHECK_RC(et_put(s, "t", "other", 5, "cf", "q", HR_TS_NOW, "c"), 0);
	CHECK_STREQ(cell(s, "other", "q"), "c@0");
	/* a rename-like mutation: Put new + DeleteColumn old, one stamp */
	hr_mcell mv[2] = {{"cf", "q2", 2, HR_TS_NOW, HR_PUT, "b", 1},
			  {"cf", "q", 1, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0}};
	CHECK_RC(hr_mutate(s, "t", "r", 1, mv, 2, 0), 0);
	CHECK_STREQ(cell(s, "r", "q"), "-");
	CHECK_STREQ(cell(s, "r", "q2"), "b@0");
	/* the clock moves on again: stamps follow it */
	set_clock(T0 + 5);
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", HR_TS_NOW, "d"), 0);
	CHECK_STREQ(cell(s, "r", "q"), "d@5");
	/* explicit timestamps are stored as given, and do not move the floor */
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "x", T0 + 100000, "future"), 0);
	CHECK_STREQ(cell(s, "r", "x"), "future@100000");
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "y", HR_TS_NOW, "e"), 0);
	CHECK_STREQ(cell(s, "r", "y"), "e@5");
	/* a Delete (one version) without a timestamp still takes the latest */
	CHECK_RC(et_del(s, "t", "r", 1, "cf", "x", HR_TS_NOW, HR_DELETE), 0);
	CHECK_STREQ(cell(s, "r", "x"), "-");
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* After a reopen the floor comes from the WAL, then from store files. */
static void t_clock_reopen(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "reopen");
	set_clock(T0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", HR_TS_NOW, "a"), 0);
	CHECK_RC(hr_server_close(s), 0);
	/* replayed from the WAL */
	set_clock(T0 - 3600 * 1000);
	s = et_open(dir);
	CHECK(s);
	CHECK_STREQ(cell(s, "r", "q"), "a@0");
	CHECK_RC(et_del(s, "t", "r", 1, "cf", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_STREQ(cell(s, "r", "q"), "-");
	set_clock(T0 + 10);
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", HR_TS_NOW, "b"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	/* from the store file (the WAL is covered by the flush) */
	set_clock(T0 - 7200 * 1000);
	s = et_open(dir);
	CHECK(s);
	CHECK_STREQ(cell(s, "r", "q"), "b@10");
	CHECK_RC(et_del(s, "t", "r", 1, "cf", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_STREQ(cell(s, "r", "q"), "-");
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "n", HR_TS_NOW, "new"), 0);
	CHECK_STREQ(cell(s, "r", "n"), "new@10");
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* The daughters of a split inherit the parent's floor. */
static void t_clock_split(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "split");
	set_clock(T0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(et_put(s, "t", "a", 1, "cf", "q", HR_TS_NOW, "x"), 0);
	set_clock(T0 + 50);
	CHECK_RC(et_put(s, "t", "m", 1, "cf", "q", HR_TS_NOW, "y"), 0);
	set_clock(T0 - 1000);
	CHECK_RC(hr_split(s, "t", "m", 1), 0);
	hr_region_info *ri;
	size_t n;
	CHECK_RC(hr_region_list(s, "t", &ri, &n), 0);
	hr_region_list_free(ri, n);
	CHECK_RC(n, 2);
	/* row "a" went to the left daughter; its floor is the parent's (50) */
	CHECK_RC(et_del(s, "t", "a", 1, "cf", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_STREQ(cell(s, "a", "q"), "-");
	CHECK_RC(et_del(s, "t", "m", 1, "cf", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_STREQ(cell(s, "m", "q"), "-");
	CHECK_RC(et_put(s, "t", "z", 1, "cf", "q", HR_TS_NOW, "z"), 0);
	CHECK_STREQ(cell(s, "z", "q"), "z@50");
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	et_watchdog(120);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_set_clock(test_clock);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "clock");
	RUN(t_clock_steps_back);
	RUN(t_clock_reopen);
	RUN(t_clock_split);
	hr_test_set_clock(NULL);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
