/* test_lease.c — scanner leases (HBase's): an idle cursor gives up its
 * region and views; its next hr_scan_next reopens where it was.
 * - store files retired by a compaction while a cursor pins them are
 *   unlinked once that cursor's lease expires, and the cursor then goes on
 *   exactly where it was;
 * - leases expiring after every single entry, in every scan mode, with
 *   family filters, prefixes, deletes and several regions: the listing is
 *   exactly the one of an uninterrupted scan;
 * - a lease expiring inside a row keeps that row's snapshot (a mutation of
 *   the row made while idle does not show), unless a compaction retired a
 *   file it was read from: then the row goes on at a new read point, and no
 *   column is skipped;
 * - a split while a cursor is idle: its parent's files go at the expiry;
 * - expiry racing the cursor's owner on another thread: the owner's scans
 *   stay exact, and the expiry never waits for it (try-lock).
 * No sleeps: the test calls the lease check itself with a later "now"
 * (hr_scan_expire_idle), the chore's own lease being an hour. */
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];

static void subdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
	hr_test_rmrf(buf);
}

#define LEASE_MS (3600u * 1000u)

static hr_server *ls_open(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.flush_size = 64ull << 20;
	c.compact_min_files = 1000;
	c.compact_max_files = 1000;
	c.blocking_store_files = 100000;
	c.split_size = 1ull << 40;
	c.scanner_lease_ms = LEASE_MS; /* the chore never expires a cursor here */
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open = %d (%s)\n", rc, strerror(-rc));
	return s;
}

static uint64_t now_ms(void) { return hr_scan_clock_ms(); }

/* the lease check as the chore would run it a lease later */
static int expire(hr_server *s) { return hr_scan_expire_idle(s, now_ms() + LEASE_MS + 1); }

static size_t g_hsf;
static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	size_t n = strlen(path);
	if (flag == FTW_F && n > 4 && strcmp(path + n - 4, ".hsf") == 0)
		g_hsf++;
	return 0;
}

static size_t count_hsf(const char *dir)
{
	char store[4200];
	snprintf(store, sizeof(store), "%s/store", dir);
	g_hsf = 0;
	nftw(store, count_cb, 16, FTW_PHYS);
	return g_hsf;
}

/* rows r00..r<n-1>: family a (q0..q3), family b (x); values name their generation */
static int load(hr_server *s, int n, int gen)
{
	static const char *fams[5] = {"a", "a", "a", "a", "b"};
	static const char *quals[5] = {"q0", "q1", "q2", "q3", "x"};
	for (int i = 0; i < n; i++) {
		char row[8], v[5][32];
		hr_mcell c[5];
		snprintf(row, sizeof(row), "r%02d", i);
		for (int q = 0; q < 5; q++) {
			snprintf(v[q], sizeof(v[q]), "%s.%d.%d", row, q, gen);
			c[q] = (hr_mcell){fams[q], quals[q], strlen(quals[q]), HR_TS_NOW, HR_PUT, v[q],
					  strlen(v[q])};
		}
		int rc = hr_mutate(s, "t", row, strlen(row), c, 5, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Renders a scan: with expire_every > 0, the lease expires after every that
 * many entries (counted in *expired); expire_every < 0: the thread yields
 * after every entry instead (another thread expires it). */
static int dump(hr_server *s, const hr_scan_opts *o, int expire_every, et_str *out, int *expired)
{
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(s, "t", o, &sc);
	if (rc < 0)
		return rc;
	int n = 0;
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		et_dump_entry(out, o, &e);
		if (o->mode == HR_SCAN_CELLS)
			et_str_printf(out, "@%" PRId64 ",%zu;", e.ts > 0 ? (int64_t)1 : (int64_t)0,
				      e.tags_len);
		if (expire_every > 0 && ++n % expire_every == 0 && expired)
			*expired += expire(s);
		if (expire_every < 0)
			sched_yield();
	}
	hr_scan_close(sc);
	return rc;
}

static void t_retired_files_go(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "retired");
	hr_server *s = ls_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(load(s, 30, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(load(s, 30, 2), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(count_hsf(dir), 4);
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	et_str want = {0}, got = {0};
	CHECK_RC(dump(s, &o, 0, &want, NULL), 0);

	hr_scan *sc;
	hr_scan_entry e;
	CHECK_RC(hr_scan_open(s, "t", &o, &sc), 0);
	for (int i = 0; i < 7; i++) { /* r00 whole, then into r01 */
		CHECK_RC(hr_scan_next(sc, &e), 1);
		et_dump_entry(&got, &o, &e);
		et_str_printf(&got, "@1,0;");
	}
	CHECK_RC(hr_compact(s, "t", 1), 0);
	/* the four old files are retired, but the cursor's views pin them */
	CHECK_RC(count_hsf(dir), 6);
	CHECK_RC(hr_scan_expire_idle(s, now_ms()), 0); /* not idle for a lease yet */
	CHECK_RC(count_hsf(dir), 6);
	CHECK_RC(expire(s), 1);
	CHECK_RC(count_hsf(dir), 2);
	CHECK_RC(expire(s), 0); /* nothing left to release */
	int rc;
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		et_dump_entry(&got, &o, &e);
		et_str_printf(&got, "@1,0;");
	}
	CHECK_RC(rc, 0);
	CHECK_RC(expire(s), 1); /* a finished cursor still held its last region */
	CHECK_RC(hr_scan_next(sc, &e), 0);
	hr_scan_close(sc);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&want);
	et_str_free(&got);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* Every mode, expiring after every entry, across deletes and 3 regions. */
static void t_every_entry(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "every");
	hr_server *s = ls_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", "c", NULL), 0);
	CHECK_RC(load(s, 40, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	/* holes: a deleted row, a deleted family in a row, deleted columns */
	CHECK_RC(hr_delete_row(s, "t", "r05", 3, 0), 0);
	CHECK_RC(et_del(s, "t", "r07", 3, "a", NULL, HR_TS_NOW, HR_DELETE_FAMILY), 0);
	CHECK_RC(et_del(s, "t", "r08", 3, "a", "q1", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_RC(et_del(s, "t", "r08", 3, "b", "x", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	CHECK_RC(et_put(s, "t", "r09", 3, "c", "only", HR_TS_NOW, "c"), 0);
	CHECK_RC(hr_split(s, "t", "r15", 3), 0);
	CHECK_RC(hr_split(s, "t", "r30", 3), 0);
	CHECK_RC(load(s, 3, 2), 0); /* some of it in memstores */
	int total_expired = 0;
	for (int mode = HR_SCAN_CELLS; mode <= HR_SCAN_ROWS; mode++) {
		for (int variant = 0; variant < 4; variant++) {
			hr_scan_opts o;
			memset(&o, 0, sizeof(o));
			o.mode = mode;
			o.with_values = 1;
			if (variant == 1)
				o.family = "a";
			if (variant == 2) {
				o.prefix = "r1";
				o.prefix_len = 2;
			}
			if (variant == 3) { /* resume from a position given at open */
				o.start = "r07";
				o.start_len = 3;
				o.resume_family = "a";
				o.resume_qualifier = "q0";
				o.resume_qualifier_len = mode == HR_SCAN_CELLS ? 2 : 0;
				if (mode == HR_SCAN_ROWS)
					o.start_after_row = 1;
				if (mode != HR_SCAN_CELLS)
					o.resume_qualifier = NULL;
			}
			for (int every = 1; every <= 3; every++) {
				et_str want = {0}, got = {0};
				int expired = 0;
				int rc1 = dump(s, &o, 0, &want, NULL);
				int rc2 = dump(s, &o, every, &got, &expired);
				int same = strcmp(et_cstr(&want), et_cstr(&got)) == 0;
				if (!same)
					fprintf(stdout, "# mode %d variant %d every %d:\n#  want %s\n#  got  %s\n",
						mode, variant, every, et_cstr(&want), et_cstr(&got));
				et_str_free(&want);
				et_str_free(&got);
				CHECK_RC(rc1, 0);
				CHECK_RC(rc2, 0);
				CHECK(same);
				total_expired += expired;
			}
		}
	}
	fprintf(stdout, "# %d lease expiries, every listing exact\n", total_expired);
	CHECK(total_expired > 500);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

static int next_str(hr_scan *sc, char *buf, size_t len)
{
	hr_scan_entry e;
	int rc = hr_scan_next(sc, &e);
	if (rc == 1)
		snprintf(buf, len, "%.*s/%s/%.*s=%.*s", (int)e.row_len, (const char *)e.row, e.family,
			 (int)e.qualifier_len, (const char *)e.qualifier, (int)e.value_len,
			 (const char *)e.value);
	else
		snprintf(buf, len, "rc %d", rc);
	return rc;
}

/* A row interrupted by a lease is finished at its own read point, unless a
 * compaction retired a file it was read from. */
static void t_row_snapshot(void)
{
	char dir[4200], buf[128];
	subdir(dir, sizeof(dir), "snap");
	hr_server *s = ls_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(load(s, 4, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	for (int compacted = 0; compacted < 2; compacted++) {
		const char *row = compacted ? "r02" : "r01";
		o.start = row;
		o.start_len = 3;
		hr_scan *sc;
		CHECK_RC(hr_scan_open(s, "t", &o, &sc), 0);
		CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		char want[64];
		snprintf(want, sizeof(want), "%s/a/q0=%s.0.1", row, row);
		CHECK_STREQ(buf, want);
		/* while the cursor is idle inside the row: one mutation changes
		 * q2 and deletes q3 */
		hr_mcell m[2] = {{"a", "q2", 2, HR_TS_NOW, HR_PUT, "changed", 7},
				 {"a", "q3", 2, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0}};
		CHECK_RC(hr_mutate(s, "t", row, 3, m, 2, 0), 0);
		if (compacted) {
			CHECK_RC(hr_flush(s, "t"), 0);
			CHECK_RC(hr_compact(s, "t", 1), 0);
		}
		CHECK_RC(expire(s), 1);
		CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		snprintf(want, sizeof(want), "%s/a/q1=%s.1.1", row, row);
		CHECK_STREQ(buf, want);
		CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		if (compacted) { /* a new read point: the mutation, whole */
			snprintf(want, sizeof(want), "%s/a/q2=changed", row);
			CHECK_STREQ(buf, want);
			CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		} else { /* the row's own snapshot: none of the mutation */
			snprintf(want, sizeof(want), "%s/a/q2=%s.2.1", row, row);
			CHECK_STREQ(buf, want);
			CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
			snprintf(want, sizeof(want), "%s/a/q3=%s.3.1", row, row);
			CHECK_STREQ(buf, want);
			CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		}
		snprintf(want, sizeof(want), "%s/b/x=%s.4.1", row, row);
		CHECK_STREQ(buf, want);
		/* the next row is read at a new read point, as always */
		CHECK_RC(next_str(sc, buf, sizeof(buf)), 1);
		snprintf(want, sizeof(want), "r0%d/a/q0=r0%d.0.1", compacted ? 3 : 2, compacted ? 3 : 2);
		CHECK_STREQ(buf, want);
		hr_scan_close(sc);
	}
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* A split while the cursor is idle: the cursor pinned the parent's files;
 * they go at its expiry, and it goes on in the daughters. */
static void t_split_while_idle(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "split");
	hr_server *s = ls_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(load(s, 30, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	et_str want = {0}, got = {0};
	CHECK_RC(dump(s, &o, 0, &want, NULL), 0);
	hr_scan *sc;
	hr_scan_entry e;
	CHECK_RC(hr_scan_open(s, "t", &o, &sc), 0);
	for (int i = 0; i < 12; i++) {
		CHECK_RC(hr_scan_next(sc, &e), 1);
		et_dump_entry(&got, &o, &e);
		et_str_printf(&got, "@1,0;");
	}
	CHECK_RC(count_hsf(dir), 2);
	CHECK_RC(hr_split(s, "t", "r10", 3), 0);
	CHECK_RC(count_hsf(dir), 6); /* 2 of the parent, pinned, 4 of the daughters */
	CHECK_RC(expire(s), 1);
	CHECK_RC(count_hsf(dir), 4);
	CHECK_RC(hr_split(s, "t", "r01", 3), 0); /* the cursor's own row moves too */
	CHECK_RC(expire(s), 0);
	int rc;
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		et_dump_entry(&got, &o, &e);
		et_str_printf(&got, "@1,0;");
	}
	CHECK_RC(rc, 0);
	hr_scan_close(sc);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&want);
	et_str_free(&got);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

typedef struct race {
	hr_server *s;
	const char *want;
	atomic_int done, failed;
	int scans;
} race;

static void *owner(void *p)
{
	race *r = p;
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	for (int i = 0; i < 100 && !atomic_load(&r->failed); i++) {
		et_str got = {0};
		int rc = dump(r->s, &o, -1, &got, NULL);
		if (rc != 0 || strcmp(et_cstr(&got), r->want) != 0) {
			fprintf(stdout, "# owner: scan %d rc %d differs\n", i, rc);
			atomic_store(&r->failed, 1);
		}
		et_str_free(&got);
		r->scans++;
	}
	atomic_store(&r->done, 1);
	return NULL;
}

static void t_race_owner(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "race");
	hr_server *s = ls_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(load(s, 60, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(load(s, 20, 2), 0);
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	et_str want = {0};
	CHECK_RC(dump(s, &o, 0, &want, NULL), 0);
	race r;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.want = et_cstr(&want);
	pthread_t th;
	pthread_create(&th, NULL, owner, &r);
	long expired = 0, calls = 0;
	while (!atomic_load(&r.done)) {
		expired += expire(s);
		calls++;
		sched_yield();
	}
	pthread_join(th, NULL);
	fprintf(stdout, "# %d full scans while %ld lease checks released %ld times\n", r.scans,
		calls, expired);
	CHECK(!atomic_load(&r.failed));
	CHECK(r.scans == 100);
	CHECK(expired > 0);
	et_str_free(&want);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "lease");
	RUN(t_retired_files_go);
	RUN(t_every_entry);
	RUN(t_row_snapshot);
	RUN(t_split_while_idle);
	RUN(t_race_owner);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
