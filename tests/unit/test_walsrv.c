/* test_walsrv.c — the WAL inside the server, through the fault-injecting
 * I/O seam (hr_io_fault.h) and by damaging segments on disk:
 * - a failed WAL sync (os mode): the server rolls to a new segment without
 *   a remount, flushes the regions whose edits were in the failed segment,
 *   then lets the segment go; every acknowledged edit survives a reopen,
 *   and every one acknowledged before an hr_sync survives a power loss;
 * - a failed WAL write: the writer gets the error, its mutation is never
 *   visible (now or after a reopen), the next write goes on. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/hr_server.h"
#include "engine/hr_io_fault.h"
#include "hr_etest.h"

static char g_dir[4096];

static void row_of(int i, char *row) { snprintf(row, 32, "r%05d", i); }

static int put_row(hr_server *s, int i, const char *tag)
{
	char row[32], val[64];
	row_of(i, row);
	snprintf(val, sizeof(val), "%s-%d", tag, i);
	hr_mcell c[2] = {{"a", "v", 1, HR_TS_NOW, HR_PUT, val, strlen(val)},
			 {"b", "w", 1, HR_TS_NOW, HR_PUT, val, strlen(val)}};
	return hr_mutate(s, "t", row, strlen(row), c, 2, 0);
}

/* 1 = both cells hold tag-i, 0 = neither exists, -1 = anything else */
static int row_state(hr_server *s, int i, const char *tag)
{
	char row[32], want[64], a[64], b[64];
	row_of(i, row);
	snprintf(want, sizeof(want), "%s-%d", tag, i);
	int ra = et_get(s, "t", row, strlen(row), "a", "v", a, sizeof(a), NULL);
	int rb = et_get(s, "t", row, strlen(row), "b", "w", b, sizeof(b), NULL);
	if (ra == -ENOENT && rb == -ENOENT)
		return 0;
	return ra == 0 && rb == 0 && !strcmp(a, want) && !strcmp(b, want) ? 1 : -1;
}

static hr_server *open_io(const char *dir, hr_io *io, void (*tweak)(hr_config *))
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.flush_size = 64ull << 20; /* flushes only when the test wants them */
	c.sync_interval_ms = 5;
	if (tweak)
		tweak(&c);
	int rc = hr_server_open_io(&c, io, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open_io(%s) = %d (%s)\n", dir, rc, strerror(-rc));
	return s;
}

/* Polls the engine's counters (at most 20 s) until cond holds. */
static int wait_stats(hr_server *s, int (*cond)(const hr_stats *))
{
	for (int i = 0; i < 20000; i++) {
		hr_stats st;
		hr_stats_get(s, &st);
		if (cond(&st))
			return 1;
		struct timespec d = {0, 1000000L};
		nanosleep(&d, NULL);
	}
	return 0;
}

static int st_failed(const hr_stats *st) { return st->wal_errors >= 1; }
static int st_released(const hr_stats *st)
{
	return st->wal_recoveries >= 1 && st->wal_failed_segments == 0 && st->flushes >= 1;
}

/* ---- a failed sync in os mode ------------------------------------------- */

static void t_sync_failure_recovers(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/syncfail", g_dir);
	hr_io *fio;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &fio), 0);
	hr_server *s = open_io(dir, fio, NULL);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	enum { N = 200 };
	for (int i = 0; i < N; i++)
		CHECK_RC(put_row(s, i, "x"), 0);
	/* the background sync of the segment holding them fails: in os mode
	 * they are acknowledged, and now perhaps only in the page cache */
	hr_log_set_level(-1);
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_SYNC, 1, -EIO, HR_IO_FAULT_ONCE, "/wal/"), 0);
	int failed = wait_stats(s, st_failed);
	/* no remount: the chore rolls away, flushes the region, purges */
	int released = wait_stats(s, st_released);
	hr_log_set_level(HR_LOG_WARN);
	CHECK(failed);
	CHECK(released);
	CHECK_RC(put_row(s, N, "x"), 0);
	CHECK_RC(hr_sync(s), 0);
	for (int i = 0; i <= N; i++)
		CHECK_RC(row_state(s, i, "x"), 1);
	hr_stats st;
	hr_stats_get(s, &st);
	fprintf(stdout, "# after a failed sync: %" PRIu64 " WAL error, %" PRIu64 " recovery, %" PRIu64
		" flushes\n", st.wal_errors, st.wal_recoveries, st.flushes);
	/* a power loss now: the failed segment is gone, the flush made its
	 * edits durable, the last put was synced */
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_io_fault_drop_unsynced(fio), 0);
	hr_io_destroy(fio);
	s = et_open(dir);
	CHECK(s);
	for (int i = 0; i <= N; i++)
		CHECK_RC(row_state(s, i, "x"), 1);
	hr_server_close(s);
}

/* ---- a failed write --------------------------------------------------------- */

static void t_write_failure_invisible(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/writefail", g_dir);
	hr_io *fio;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &fio), 0);
	hr_server *s = open_io(dir, fio, NULL);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	for (int i = 0; i < 10; i++)
		CHECK_RC(put_row(s, i, "x"), 0);
	hr_log_set_level(-1);
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_WRITE, 1, 0, HR_IO_FAULT_SHORT, "/wal/"), 0);
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_WRITE, 2, -ENOSPC, HR_IO_FAULT_ONCE, "/wal/"), 0);
	int rc = put_row(s, 10, "x");
	/* and the first roll attempt */
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_OPEN, 1, -ENOSPC, HR_IO_FAULT_ONCE, "/wal/"), 0);
	int rc2 = put_row(s, 11, "x");
	int rc3 = put_row(s, 12, "x");
	int released = wait_stats(s, st_released);
	hr_log_set_level(HR_LOG_WARN);
	CHECK_RC(rc, -ENOSPC);
	CHECK_RC(rc2, -ENOSPC);
	CHECK_RC(rc3, 0);
	CHECK(released);
	for (int i = 0; i < 13; i++)
		CHECK_RC(row_state(s, i, "x"), i == 10 || i == 11 ? 0 : 1);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	for (int i = 0; i < 13; i++)
		CHECK_RC(row_state(s, i, "x"), i == 10 || i == 11 ? 0 : 1);
	hr_server_close(s);
	hr_io_destroy(fio);
}

int main(void)
{
	et_watchdog(600);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "walsrv");
	RUN(t_sync_failure_recovers);
	RUN(t_write_failure_invisible);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
