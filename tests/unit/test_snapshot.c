/* test_snapshot.c — snapshots (hregionfs.h, "snapshots"; hr_snapshot.h):
 * consistency under concurrent writers, survival of flushes, major
 * compaction, split, drop and reopen, the archive's reference counting, and
 * crash points in create and delete through the fault-injecting seam. */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "engine/hr_verify.h"
#include "hr_etest.h"

static char g_root[PATH_MAX];

static void fresh(char *dir, size_t len, const char *tag)
{
	snprintf(dir, len, "%s/%s", g_root, tag);
	hr_test_rmrf(dir);
}

/* the whole snapshot (or table, snap NULL) as "row/fam/qual=value;" */
static int dump(hr_server *s, const char *t, hr_snap *snap, et_str *out)
{
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1, .snapshot = snap};
	return et_scan_dump(s, t, &o, out);
}

static int dump_snap(hr_server *s, const char *t, const char *name, et_str *out)
{
	hr_snap *sn;
	int rc = hr_snapshot_open(s, t, name, &sn);
	if (rc < 0)
		return rc;
	rc = dump(s, t, sn, out);
	hr_snapshot_close(sn);
	return rc;
}

static int put_row(hr_server *s, const char *t, int row, int v)
{
	char r[16], q[8], val[32];
	snprintf(r, sizeof(r), "r%04d", row);
	snprintf(val, sizeof(val), "v%d-%d", row, v);
	hr_mcell c[2];
	memset(c, 0, sizeof(c));
	for (int i = 0; i < 2; i++) {
		snprintf(q, sizeof(q), "q%d", i);
		c[i].family = i ? "b" : "a";
		c[i].qualifier = i ? "y" : "x";
		c[i].qualifier_len = 1;
		c[i].ts = HR_TS_NOW;
		c[i].type = HR_PUT;
		c[i].value = val;
		c[i].value_len = strlen(val);
	}
	int rc;
	while (et_retryable(rc = hr_mutate(s, t, r, strlen(r), c, 2, 0)))
		;
	return rc;
}

static uint64_t archive_count(const char *dir)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/archive", dir);
	DIR *d = opendir(p);
	uint64_t n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int verify_clean(hr_server *s, const char *dir)
{
	hr_verify_report r;
	int rc = hr_verify_store_files(s->meta, s->io, dir, 5, &r);
	if (rc < 0 || !hr_verify_clean(&r)) {
		fprintf(stdout, "# verify %d: missing %" PRIu64 " unref %" PRIu64 " arch missing %" PRIu64
				" arch unref %" PRIu64 " arch unknown %" PRIu64 "\n",
			rc, r.missing, r.unreferenced, r.archive_missing, r.archive_unreferenced,
			r.archive_unknown);
		return 0;
	}
	return 1;
}

static void test_basic(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "basic");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	for (int i = 0; i < 20; i++)
		CHECK_RC(put_row(s, "t", i, 1), 0);
	et_str before = {0}, snap = {0}, after = {0};
	CHECK_RC(dump(s, "t", NULL, &before), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s1"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s1"), -EEXIST);
	CHECK_RC(hr_snapshot_create(s, "nope", "s2"), -ENOENT);
	CHECK_RC(hr_snapshot_create(s, "t", ".bad"), -EINVAL);
	for (int i = 0; i < 20; i++)
		CHECK_RC(put_row(s, "t", i, 2), 0);
	CHECK_RC(hr_delete_row(s, "t", "r0003", 5, 0), 0);
	CHECK_RC(dump_snap(s, "t", "s1", &snap), 0);
	CHECK_STREQ(et_cstr(&snap), et_cstr(&before));
	CHECK_RC(dump(s, "t", NULL, &after), 0);
	CHECK(strcmp(et_cstr(&after), et_cstr(&before)) != 0);
	/* a point read of the snapshot */
	hr_snap *sn;
	hr_value v;
	CHECK_RC(hr_snapshot_open(s, "t", "s1", &sn), 0);
	CHECK_RC(hr_snapshot_get(sn, "r0003", 5, "a", "x", 1, HR_GET_VALUE, &v), 0);
	CHECK(v.len == 4 && memcmp(v.data, "v3-1", 4) == 0);
	hr_value_free(&v);
	CHECK_RC(hr_snapshot_get(sn, "r0003", 5, "a", "z", 1, HR_GET_VALUE, &v), -ENOENT);
	CHECK_RC(hr_snapshot_get(sn, "r0003", 5, "zz", "x", 1, HR_GET_VALUE, &v), -ENOENT);
	hr_snapshot_close(sn);
	hr_snapshot_info *info;
	size_t n;
	CHECK_RC(hr_snapshot_list(s, "t", &info, &n), 0);
	CHECK(n == 1 && strcmp(info[0].name, "s1") == 0 && info[0].files >= 2 && info[0].bytes > 0);
	free(info);
	CHECK_RC(hr_snapshot_delete(s, "t", "s1"), 0);
	CHECK_RC(hr_snapshot_delete(s, "t", "s1"), -ENOENT);
	CHECK_RC(hr_snapshot_open(s, "t", "s1", &sn), -ENOENT);
	CHECK(archive_count(dir) == 0);
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	et_str_free(&before);
	et_str_free(&snap);
	et_str_free(&after);
}

/* ---- consistency under 4 writers ----------------------------------------- */

typedef struct wctx {
	hr_server *s;
	int id;
	atomic_int *stop;
	int errors;
} wctx;

static void *writer(void *arg)
{
	wctx *w = arg;
	for (int v = 1; !atomic_load(w->stop); v++) {
		/* each row is written by one writer only: rows w->id, w->id+4, ... */
		int row = w->id + 4 * (v % 25);
		if (put_row(w->s, "t", row, v) != 0)
			w->errors++;
	}
	return NULL;
}

/* every row of the dump holds one counter across its cells */
static int rows_consistent(const char *d)
{
	char last_row[16] = "", last_val[32] = "";
	while (*d) {
		const char *semi = strchr(d, ';');
		if (!semi)
			return 0;
		char row[16] = "", val[32] = "";
		const char *slash = strchr(d, '/'), *eq = strchr(d, '=');
		if (!slash || !eq || eq > semi)
			return 0;
		snprintf(row, sizeof(row), "%.*s", (int)(slash - d), d);
		snprintf(val, sizeof(val), "%.*s", (int)(semi - eq - 1), eq + 1);
		if (strcmp(row, last_row) == 0 && strcmp(val, last_val) != 0) {
			fprintf(stdout, "# row %s: '%s' vs '%s'\n", row, last_val, val);
			return 0;
		}
		snprintf(last_row, sizeof(last_row), "%s", row);
		snprintf(last_val, sizeof(last_val), "%s", val);
		d = semi + 1;
	}
	return 1;
}

/* distinct rows in a dump ("row/...=...;" entries, row-sorted) */
static int count_rows(const char *d)
{
	int n = 0;
	const char *prev = NULL;
	size_t plen = 0;
	for (const char *e = d; *e;) {
		const char *slash = strchr(e, '/'), *semi = strchr(e, ';');
		if (!slash || !semi)
			return -1;
		if (!prev || plen != (size_t)(slash - e) || memcmp(prev, e, plen) != 0)
			n++;
		prev = e;
		plen = (size_t)(slash - e);
		e = semi + 1;
	}
	return n;
}

static void test_consistent(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "consistent");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	/* every row the writers rewrite exists before the first snapshot, so
	 * no snapshot can be of an empty table (the threads may not have run) */
	for (int row = 0; row < 100; row++)
		CHECK_RC(put_row(s, "t", row, 0), 0);
	atomic_int stop = 0;
	wctx w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (wctx){.s = s, .id = i, .stop = &stop};
		pthread_create(&th[i], NULL, writer, &w[i]);
	}
	int ok = 1;
	for (int k = 0; k < 8 && ok; k++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", k);
		int rc = hr_snapshot_create(s, "t", name);
		if (rc != 0) {
			fprintf(stdout, "# snapshot %s: %s\n", name, strerror(-rc));
			ok = 0;
			break;
		}
		et_str d = {0};
		if ((rc = dump_snap(s, "t", name, &d)) != 0)
			fprintf(stdout, "# dump of %s: %s\n", name, strerror(-rc));
		else if (!d.p || count_rows(et_cstr(&d)) != 100)
			fprintf(stdout, "# dump of %s lacks rows\n", name);
		ok = rc == 0 && d.p && count_rows(et_cstr(&d)) == 100 &&
		     rows_consistent(et_cstr(&d));
		et_str_free(&d);
		if (k % 2)
			hr_compact(s, "t", 1); /* compactions while writers run */
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(ok);
	for (int i = 0; i < 4; i++)
		CHECK(w[i].errors == 0);
	/* and they still read the same once the table moved on */
	for (int k = 0; k < 8; k++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", k);
		et_str d = {0};
		CHECK_RC(dump_snap(s, "t", name, &d), 0);
		CHECK(rows_consistent(et_cstr(&d)));
		et_str_free(&d);
	}
	/* background compactions may still be publishing: check at rest */
	hr_server_close(s);
	s = et_open(dir);
	CHECK(s);
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
}

/* ---- survival: flush, major compaction, split, drop, reopen --------------- */

static void test_survives(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "survives");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	for (int i = 0; i < 200; i++)
		CHECK_RC(put_row(s, "t", i, 1), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	for (int i = 0; i < 200; i += 2)
		CHECK_RC(put_row(s, "t", i, 2), 0);
	et_str want = {0}, got = {0};
	CHECK_RC(dump(s, "t", NULL, &want), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "snap"), 0);
	hr_stats st;
	CHECK_RC(hr_stats_get(s, &st), 0);
	CHECK(st.snapshots == 1 && st.archive_files >= 2 && st.archive_own_bytes == 0);
	/* overwrite, delete, flush, major compaction, split */
	for (int i = 0; i < 200; i += 3)
		CHECK_RC(put_row(s, "t", i, 3), 0);
	for (int i = 1; i < 200; i += 7)
		CHECK_RC(hr_delete_row(s, "t", "r0001", 5, 0), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(hr_stats_get(s, &st), 0);
	CHECK(st.archive_own_bytes > 0); /* compaction retired the snapshot's files */
	CHECK_RC(dump_snap(s, "t", "snap", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&got);
	int rc;
	while (et_retryable(rc = hr_split(s, "t", "r0100", 5)))
		;
	CHECK_RC(rc, 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(dump_snap(s, "t", "snap", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&got);
	/* a second snapshot after the split: two regions */
	et_str want2 = {0};
	CHECK_RC(dump(s, "t", NULL, &want2), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "after-split"), 0);
	CHECK_RC(hr_table_drop(s, "t"), 0);
	CHECK_RC(dump_snap(s, "t", "snap", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&got);
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(dump_snap(s, "t", "snap", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&got);
	CHECK_RC(dump_snap(s, "t", "after-split", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want2));
	et_str_free(&got);
	hr_snapshot_info *info;
	size_t n;
	CHECK_RC(hr_snapshot_list(s, NULL, &info, &n), 0);
	CHECK(n == 2 && info[0].regions == 2 && info[1].regions == 1 && info[0].shared_bytes == 0);
	free(info);
	/* a re-created table of the same name starts empty; the snapshots stay */
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	CHECK_RC(dump_snap(s, "t", "snap", &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&want));
	et_str_free(&got);
	CHECK(verify_clean(s, dir));
	CHECK_RC(hr_snapshot_delete(s, "t", "snap"), 0);
	CHECK_RC(hr_snapshot_delete(s, "t", "after-split"), 0);
	CHECK(archive_count(dir) == 0);
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	et_str_free(&want);
	et_str_free(&want2);
}

/* ---- archive reference counting ------------------------------------------- */

static int nlink_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)st.st_nlink : 0;
}

static void test_archive_refs(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "refs");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	for (int i = 0; i < 10; i++)
		CHECK_RC(put_row(s, "t", i, 1), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "one"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "two"), 0); /* same files: nothing new to flush */
	CHECK(archive_count(dir) == 2);
	char ap[PATH_MAX + 64];
	char adir[PATH_MAX + 16];
	snprintf(adir, sizeof(adir), "%s/archive", dir);
	DIR *d = opendir(adir);
	CHECK(d);
	struct dirent *e;
	ap[0] = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(ap, sizeof(ap), "%s/%s", adir, e->d_name);
	closedir(d);
	CHECK(nlink_of(ap) == 2); /* store + archive */
	/* the store lets go: the archive name keeps the data */
	CHECK_RC(put_row(s, "t", 0, 2), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK(nlink_of(ap) == 1);
	/* one snapshot goes: the other still references it */
	CHECK_RC(hr_snapshot_delete(s, "t", "one"), 0);
	CHECK(nlink_of(ap) == 1);
	CHECK(archive_count(dir) == 2);
	/* the last reference goes: the file goes */
	CHECK_RC(hr_snapshot_delete(s, "t", "two"), 0);
	CHECK(nlink_of(ap) == 0);
	CHECK(archive_count(dir) == 0);
	/* a snapshot deleted while the store still holds the file: only the
	 * archive name goes */
	CHECK_RC(hr_snapshot_create(s, "t", "three"), 0);
	hr_region_info *ri;
	size_t nr;
	CHECK_RC(hr_region_list(s, "t", &ri, &nr), 0);
	uint64_t files_before = 0;
	for (size_t i = 0; i < nr; i++)
		for (uint32_t k = 0; k < ri[i].nstores; k++)
			files_before += ri[i].stores[k].file_count;
	hr_region_list_free(ri, nr);
	CHECK_RC(hr_snapshot_delete(s, "t", "three"), 0);
	CHECK(archive_count(dir) == 0);
	et_str got = {0};
	CHECK_RC(dump(s, "t", NULL, &got), 0);
	CHECK(strstr(et_cstr(&got), "r0000/a/x=v0-2;") != NULL);
	et_str_free(&got);
	CHECK(files_before >= 2);
	/* leftovers at open: an archive name no manifest references goes, a
	 * name the engine does not make is moved to lost/ */
	hr_server_close(s);
	char junk[PATH_MAX + 64], orphan[PATH_MAX + 64];
	snprintf(junk, sizeof(junk), "%s/notes.txt", adir);
	snprintf(orphan, sizeof(orphan), "%s/00000000000000ff.hsf", adir);
	FILE *f = fopen(junk, "w");
	CHECK(f);
	fclose(f);
	f = fopen(orphan, "w");
	CHECK(f);
	fclose(f);
	s = et_open(dir);
	CHECK(s);
	CHECK(archive_count(dir) == 0);
	char lost[PATH_MAX + 64];
	snprintf(lost, sizeof(lost), "%s/lost/archive~notes.txt", dir);
	struct stat sst;
	CHECK(stat(lost, &sst) == 0);
	hr_server_close(s);
}

/* ---- crash points in create and delete ------------------------------------ */

static void crash_config(hr_config *c, const char *dir)
{
	et_config(c, dir);
	c->flush_size = 256ull << 20;
	c->compact_min_files = 50;
	c->compact_max_files = 50;
	c->blocking_store_files = 100;
	c->major_interval_ms = 0;
}

/* Runs: table, rows, flush, (crash armed) create "s"; or with del: create
 * first, then (armed) delete. Returns the number of durable points seen
 * after arming (dry run: crash_at UINT64_MAX). Checks the reopened state. */
static uint64_t crash_run(const char *dir, int del, uint64_t crash_at, int *failures,
			  const char *want)
{
	hr_test_rmrf(dir);
	hr_config c;
	crash_config(&c, dir);
	hr_io *io;
	hr_server *s;
	uint64_t points = 0;
	if (hr_io_fault_new(hr_io_posix(), &io) < 0)
		abort();
	if (hr_server_open_io(&c, io, &s) < 0)
		abort();
	if (et_table(s, "t", "a", "b", NULL) < 0)
		abort();
	for (int i = 0; i < 30; i++)
		put_row(s, "t", i, 1);
	hr_sync(s);
	if (del && hr_snapshot_create(s, "t", "s") < 0)
		abort();
	uint64_t base = hr_io_fault_durable(io);
	if (crash_at != UINT64_MAX)
		hr_io_fault_crash_after(io, crash_at);
	hr_log_set_level(-1);
	if (del)
		hr_snapshot_delete(s, "t", "s");
	else
		hr_snapshot_create(s, "t", "s");
	points = hr_io_fault_durable(io) - base;
	hr_server_close(s);
	hr_io_fault_drop_unsynced(io);
	hr_io_destroy(io);
	hr_log_set_level(HR_LOG_WARN);
	if (crash_at == UINT64_MAX && !want)
		return points;
	/* reopen: old or new state, and LMDB agrees with the disk */
	if (hr_server_open(&c, &s) < 0) {
		fprintf(stdout, "# crash %" PRIu64 ": reopen failed\n", crash_at);
		(*failures)++;
		return points;
	}
	et_str got = {0};
	int rc = dump_snap(s, "t", "s", &got);
	if (rc == 0 && strcmp(et_cstr(&got), want) != 0) {
		fprintf(stdout, "# crash %" PRIu64 ": snapshot reads differently\n", crash_at);
		(*failures)++;
	} else if (rc < 0 && rc != -ENOENT) {
		fprintf(stdout, "# crash %" PRIu64 ": snapshot open %d\n", crash_at, rc);
		(*failures)++;
	}
	et_str_free(&got);
	et_str table = {0};
	if (dump(s, "t", NULL, &table) < 0 || strcmp(et_cstr(&table), want) != 0) {
		fprintf(stdout, "# crash %" PRIu64 ": table changed\n", crash_at);
		(*failures)++;
	}
	et_str_free(&table);
	if (!verify_clean(s, dir)) {
		fprintf(stdout, "# crash %" PRIu64 ": verify not clean\n", crash_at);
		(*failures)++;
	}
	hr_server_close(s);
	return points;
}

static void crash_sweep(int del)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), del ? "crash-del" : "crash-create");
	/* what the table (and the snapshot) hold: a run without a crash */
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	for (int i = 0; i < 30; i++)
		CHECK_RC(put_row(s, "t", i, 1), 0);
	et_str want = {0};
	CHECK_RC(dump(s, "t", NULL, &want), 0);
	hr_server_close(s);
	int failures = 0;
	uint64_t points = crash_run(dir, del, UINT64_MAX, &failures, NULL);
	CHECK(points >= 2);
	for (uint64_t k = 0; k <= points; k++)
		crash_run(dir, del, k, &failures, et_cstr(&want));
	fprintf(stdout, "# %s: %" PRIu64 " crash points, %d failures\n", del ? "delete" : "create",
		points + 1, failures);
	CHECK(failures == 0);
	et_str_free(&want);
}

static void test_crash_create(void) { crash_sweep(0); }
static void test_crash_delete(void) { crash_sweep(1); }

int main(void)
{
	et_watchdog(300);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_root, sizeof(g_root), "snapshot");
	RUN(test_basic);
	RUN(test_consistent);
	RUN(test_survives);
	RUN(test_archive_refs);
	RUN(test_crash_create);
	RUN(test_crash_delete);
	hr_test_rmrf(g_root);
	return hr_test_done();
}
