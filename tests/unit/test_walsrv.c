/* test_walsrv.c — the WAL inside the server, through the fault-injecting
 * I/O seam (hr_io_fault.h) and by damaging segments on disk:
 * - a failed WAL sync (os mode): the server rolls to a new segment without
 *   a remount, flushes the regions whose edits were in the failed segment,
 *   then lets the segment go; every acknowledged edit survives a reopen,
 *   and every one acknowledged before an hr_sync survives a power loss;
 * - a failed WAL write: the writer gets the error, its mutation is never
 *   visible (now or after a reopen), the next write goes on;
 * - the scenario (1 MiB segments, 300 cells of 10 KB, kill -9, one
 *   flipped byte in the middle of a rolled segment) in each recovery mode:
 *   tolerate_tail refuses to open, point_in_time opens with a prefix,
 *   skip_corrupt with all but the damaged cell; the damaged (and ignored)
 *   segments end up in wal/corrupt/, and later opens in the default mode
 *   find the same cells;
 * - a region OFFLINE at open (a store file missing) keeps every WAL segment
 *   with its unflushed edits while other regions write, flush and purge;
 *   once the file is back, every acknowledged edit of it is too. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/hr_server.h"
#include "engine/hr_format.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_util.h"
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

/* Polls the engine's counters (at most 20 s) until cond holds. A bounded
 * poll of exact counters: they are moved by three threads (the WAL's sync
 * thread, the chore's roll and purge, a flusher), and a signal for each
 * would be disproportionate to these two tests. */
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

/* ---- the scenario of issue 8 ---------------------------------------------- */

#define SC_N 300
#define SC_VAL 10240

static void sc_val(int i, char *v)
{
	for (int k = 0; k < SC_VAL; k++)
		v[k] = (char)('a' + (i * 7 + k) % 26);
}

static void sc_config(hr_config *c, const char *dir, int mode)
{
	hr_config_defaults(c);
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", dir);
	c->segment_size = 1 << 20;
	c->block_cache_size = 1 << 20;
	c->wal_recovery = mode;
	c->log_level = HR_LOG_WARN;
}

/* Cells of the scenario present with the right value; -1 if one is wrong. */
static int sc_present(hr_server *s, int *first_missing)
{
	static char v[SC_VAL];
	int present = 0;
	*first_missing = -1;
	for (int i = 0; i < SC_N; i++) {
		char row[16];
		hr_value hv;
		snprintf(row, sizeof(row), "r%03d", i);
		sc_val(i, v);
		int rc = hr_get(s, "t", row, strlen(row), "cf", "q", 1, HR_GET_VALUE, &hv);
		if (rc == 0) {
			int ok = hv.len == SC_VAL && !memcmp(hv.data, v, SC_VAL);
			free(hv.data);
			if (!ok)
				return -1;
			present++;
		} else if (rc == -ENOENT) {
			if (*first_missing < 0)
				*first_missing = i;
		} else {
			return -1;
		}
	}
	return present;
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		n += l > sl && !strcmp(e->d_name + l - sl, suffix);
	}
	if (d)
		closedir(d);
	return n;
}

static void t_scenario_flip(void)
{
	char base[4200], dir[4300], seg[4400], cdir[4400];
	static char v[SC_VAL];
	snprintf(base, sizeof(base), "%s/scenario", g_dir);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		hr_config c;
		hr_server *s;
		sc_config(&c, base, HR_WAL_TOLERATE_TAIL);
		if (hr_server_open(&c, &s) || et_table(s, "t", "cf", NULL))
			_exit(2);
		for (int i = 0; i < SC_N; i++) {
			char row[16];
			snprintf(row, sizeof(row), "r%03d", i);
			sc_val(i, v);
			if (hr_put(s, "t", row, strlen(row), "cf", "q", 1, v, SC_VAL, 0))
				_exit(3);
		}
		raise(SIGKILL); /* every put was acknowledged */
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* segment 2 is a rolled one (3 MB of cells in 1 MiB segments) */
	snprintf(seg, sizeof(seg), "%s/wal/0000000000000002.wal", base);
	struct stat sb;
	CHECK(stat(seg, &sb) == 0 && sb.st_size > (1 << 20));
	int fd = open(seg, O_RDWR);
	uint8_t b;
	CHECK(fd >= 0 && pread(fd, &b, 1, sb.st_size / 2) == 1);
	b ^= 0x5a;
	CHECK(pwrite(fd, &b, 1, sb.st_size / 2) == 1);
	close(fd);

	const char *names[] = {"tolerate_tail", "point_in_time", "skip_corrupt"};
	for (int mode = 0; mode < 3; mode++) {
		snprintf(dir, sizeof(dir), "%s/%s", g_dir, names[mode]);
		char cmd[9000];
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", base, dir);
		CHECK_RC(system(cmd), 0);
		hr_config c;
		hr_server *s = NULL;
		sc_config(&c, dir, mode);
		hr_log_set_level(-1);
		int rc = hr_server_open(&c, &s);
		hr_log_set_level(HR_LOG_WARN);
		snprintf(seg, sizeof(seg), "%s/wal/0000000000000002.wal", dir);
		snprintf(cdir, sizeof(cdir), "%s/wal/corrupt", dir);
		if (mode == HR_WAL_TOLERATE_TAIL) {
			fprintf(stdout, "# %s: open = %d (%s)\n", names[mode], rc, strerror(-rc));
			CHECK_RC(rc, -EUCLEAN);
			CHECK(access(seg, F_OK) == 0); /* nothing moved, nothing lost */
			continue;
		}
		CHECK_RC(rc, 0);
		int first_missing, present = sc_present(s, &first_missing);
		hr_stats hs;
		hr_stats_get(s, &hs);
		fprintf(stdout, "# %s: %d of %d acknowledged cells, first missing r%03d; "
			"wal_corrupt_records %" PRIu64 ", wal_corrupt_segments %" PRIu64 "\n",
			names[mode], present, SC_N, first_missing, hs.wal_corrupt_records,
			hs.wal_corrupt_segments);
		CHECK_RC(hs.wal_corrupt_records, 1);
		CHECK(access(seg, F_OK) != 0);
		if (mode == HR_WAL_POINT_IN_TIME) {
			/* a prefix: everything before the damaged cell, nothing after */
			CHECK(present > 100 && present < 200 && first_missing == present);
			CHECK_RC(hs.wal_corrupt_segments, 2); /* the damaged one, the one after */
			CHECK_RC(count_files(cdir, ".wal"), 2);
		} else {
			CHECK_RC(present, SC_N - 1);
			CHECK_RC(hs.wal_corrupt_segments, 1);
			CHECK_RC(count_files(cdir, ".wal"), 1);
		}
		CHECK_RC(hr_put(s, "t", "zz", 2, "cf", "q", 1, "new", 3, 0), 0);
		CHECK_RC(hr_server_close(s), 0);
		/* the default mode opens it now, with the same cells and the new one */
		sc_config(&c, dir, HR_WAL_TOLERATE_TAIL);
		CHECK_RC(hr_server_open(&c, &s), 0);
		int fm2, present2 = sc_present(s, &fm2);
		char buf[8];
		CHECK_RC(et_get(s, "t", "zz", 2, "cf", "q", buf, sizeof(buf), NULL), 0);
		hr_stats_get(s, &hs);
		hr_server_close(s);
		CHECK_RC(present2, present);
		CHECK_RC(hs.wal_corrupt_records, 0);
		CHECK_RC(count_files(cdir, ".wal"), mode == HR_WAL_POINT_IN_TIME ? 2 : 1);
	}
}

/* ---- an OFFLINE region keeps its WAL ------------------------------------- */

static int put_in(hr_server *s, const char *table, int i)
{
	char row[32], val[256];
	snprintf(row, sizeof(row), "r%05d", i);
	int n = snprintf(val, sizeof(val), "%s-%d-", table, i);
	memset(val + n, 'v', sizeof(val) - (size_t)n);
	return hr_put(s, table, row, strlen(row), "a", "q", 1, val, sizeof(val), 0);
}

static int check_in(hr_server *s, const char *table, int i)
{
	char row[32], want[256], got[300];
	snprintf(row, sizeof(row), "r%05d", i);
	int n = snprintf(want, sizeof(want), "%s-%d-", table, i);
	memset(want + n, 'v', sizeof(want) - (size_t)n);
	int rc = et_get(s, table, row, strlen(row), "a", "q", got, sizeof(got), NULL);
	if (rc < 0)
		return rc;
	return strlen(got) == sizeof(want) && !memcmp(got, want, sizeof(want)) ? 1 : -1;
}

static void offline_config(hr_config *c)
{
	c->segment_size = 64 << 10;
	c->max_segments = 2; /* the chore wants segments gone, and tries hard */
}

static void t_offline_region_keeps_wal(void)
{
	char dir[4200], hsf[PATH_MAX], saved[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/offline", g_dir);
	hr_server *s = open_io(dir, NULL, offline_config);
	CHECK(s);
	CHECK_RC(et_table(s, "off", "a", NULL), 0);
	CHECK_RC(et_table(s, "on", "a", NULL), 0);
	enum { HALF = 100 };
	for (int i = 0; i < HALF; i++)
		CHECK_RC(put_in(s, "off", i), 0);
	CHECK_RC(hr_flush(s, "off"), 0);
	for (int i = HALF; i < 2 * HALF; i++)
		CHECK_RC(put_in(s, "off", i), 0); /* acknowledged, only in the WAL */
	CHECK_RC(hr_server_close(s), 0);

	/* its store file disappears: the region is OFFLINE at the next open */
	hr_region_info *ri;
	size_t n;
	s = open_io(dir, NULL, offline_config);
	CHECK(s);
	CHECK_RC(hr_region_list(s, "off", &ri, &n), 0);
	CHECK(n == 1);
	snprintf(hsf, sizeof(hsf), "%s/store/%016" PRIx64 "/a", dir, ri[0].id);
	hr_region_list_free(ri, n);
	CHECK_RC(hr_server_close(s), 0);
	DIR *d = opendir(hsf);
	struct dirent *e;
	saved[0] = 0;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".hsf"))
			snprintf(saved, sizeof(saved), "%s/%s", hsf, e->d_name);
	if (d)
		closedir(d);
	CHECK(saved[0]);
	snprintf(hsf, sizeof(hsf), "%s", saved);
	snprintf(saved, sizeof(saved), "%s/offline.hsf.saved", g_dir);
	CHECK_RC(rename(hsf, saved), 0);
	hr_log_set_level(-1);
	s = open_io(dir, NULL, offline_config);
	hr_log_set_level(HR_LOG_WARN);
	CHECK(s);
	CHECK_RC(check_in(s, "off", 0), -EIO);
	/* other regions write many segments' worth, flush and purge */
	for (int i = 0; i < 2000; i++)
		CHECK_RC(put_in(s, "on", i), 0);
	CHECK_RC(hr_flush(s, "on"), 0);
	for (int i = 2000; i < 2500; i++)
		CHECK_RC(put_in(s, "on", i), 0);
	CHECK_RC(hr_flush(s, "on"), 0); /* each flush purges what it covers */
	CHECK_RC(hr_server_close(s), 0);

	/* the file is back: so is every acknowledged edit */
	CHECK_RC(rename(saved, hsf), 0);
	s = open_io(dir, NULL, offline_config);
	CHECK(s);
	int bad = 0;
	for (int i = 0; i < 2 * HALF; i++)
		bad += check_in(s, "off", i) != 1;
	for (int i = 0; i < 2500; i++)
		bad += check_in(s, "on", i) != 1;
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(bad, 0);
}

/* ---- the edit decoder (found by tests/fuzz/fuzz_wal) --------------------- */

/* A family name with a NUL inside decoded as the shorter name before it,
 * and replay put the cell into that family. And a record is replayed whole
 * or not at all: one bad cell drops the record, not just the cells after. */
static void t_edit_decoder_rejects(void)
{
	hr_mcell c[2] = {{"a", "q", 1, 5, HR_PUT, "good", 4}, {"a", "r", 1, 5, HR_PUT, "bad", 3}};
	uint8_t *e;
	size_t el;
	CHECK_RC(hr_wal_edit_encode(1, (const uint8_t *)"row", 3, c, 2, &e, &el), 0);
	hr_wal_edit ed;
	char fam[HR_MAX_NAME + 1];
	hr_kv kv;
	CHECK_RC(hr_wal_edit_decode(e, el, &ed), 0);
	const uint8_t *p = ed.cells;
	CHECK_RC(hr_wal_cell_decode(&p, ed.cells_end, HR_WAL_VERSION, fam, &kv), 0);
	CHECK_RC(hr_wal_cell_decode(&p, ed.cells_end, HR_WAL_VERSION, fam, &kv), 0);
	/* the second cell's family "a" becomes "\0" (length 1) */
	size_t second = (size_t)(ed.cells - e) + 1 + 1 + HR_KV_HDR + 1 + 4;
	CHECK(e[second] == 1 && e[second + 1] == 'a');
	e[second + 1] = 0;
	p = ed.cells;
	CHECK_RC(hr_wal_cell_decode(&p, ed.cells_end, HR_WAL_VERSION, fam, &kv), 0);
	CHECK_RC(hr_wal_cell_decode(&p, ed.cells_end, HR_WAL_VERSION, fam, &kv), -EIO);
	/* a row longer than the record */
	uint8_t shortrec[16] = {0};
	hr_put16(shortrec + 8, 200);
	CHECK_RC(hr_wal_edit_decode(shortrec, sizeof(shortrec), &ed), -EIO);
	hr_put16(shortrec + 8, 5); /* no room left for the cell count */
	CHECK_RC(hr_wal_edit_decode(shortrec, sizeof(shortrec), &ed), -EIO);
	hr_put16(shortrec + 8, 4); /* 8 + 2 + 4 + 2 = 16: just fits */
	CHECK_RC(hr_wal_edit_decode(shortrec, sizeof(shortrec), &ed), 0);

	/* replayed: the good first cell must not appear without the second */
	char dir[4200], wal[4300];
	snprintf(dir, sizeof(dir), "%s/editbad", g_dir);
	hr_server *s = open_io(dir, NULL, NULL);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	CHECK_RC(hr_server_close(s), 0);
	snprintf(wal, sizeof(wal), "%s/wal", dir);
	hr_region_info *ri;
	size_t nr;
	s = open_io(dir, NULL, NULL);
	CHECK(s);
	CHECK_RC(hr_region_list(s, "t", &ri, &nr), 0);
	hr_put64(e, ri[0].id); /* the edit's region */
	hr_region_list_free(ri, nr);
	hr_stats st;
	hr_stats_get(s, &st);
	CHECK_RC(hr_server_close(s), 0);
	hr_wal *w;
	hr_wal_opts o = {.dir = wal, .segment_size = 1 << 20, .first_segment_id = 100};
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK_RC(hr_wal_append(w, e, el, st.seq + 1, 1, NULL), 0);
	hr_wal_close(w);
	free(e);
	hr_log_set_level(HR_LOG_ERROR);
	s = open_io(dir, NULL, NULL);
	hr_log_set_level(HR_LOG_WARN);
	CHECK(s);
	char buf[16];
	int rq = et_get(s, "t", "row", 3, "a", "q", buf, sizeof(buf), NULL);
	int rr = et_get(s, "t", "row", 3, "a", "r", buf, sizeof(buf), NULL);
	hr_server_close(s);
	CHECK_RC(rq, -ENOENT);
	CHECK_RC(rr, -ENOENT);
}

int main(void)
{
	et_watchdog(600);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "walsrv");
	RUN(t_sync_failure_recovers);
	RUN(t_write_failure_invisible);
	RUN(t_scenario_flip);
	RUN(t_offline_region_keeps_wal);
	RUN(t_edit_decoder_rejects);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
