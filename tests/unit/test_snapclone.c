/* test_snapclone.c — clone, restore, export and import of snapshots
 * (hregionfs.h, "snapshots"): the archive's reference counting with clones
 * (a file goes exactly when its last name does, in every order), the
 * independence of a clone, a restore that discards what came after the
 * snapshot (also across a reopen), export + import equal to the snapshot
 * cell by cell, a damaged export refused with nothing created, the bounded
 * wait of a writer held back by a snapshot or a restore, and crash points
 * in clone, restore, export and import through the fault-injecting seam. */
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "engine/hr_verify.h"
#include "hr_etest.h"

static char g_root[PATH_MAX];
/* dumps show timestamps (0 where runs that write the same cells at other
 * moments are compared: the crash sweeps) */
static int g_with_ts = 1;

static void fresh(char *dir, size_t len, const char *tag)
{
	snprintf(dir, len, "%s/%s", g_root, tag);
	hr_test_rmrf(dir);
}

/* Every cell of a scan with its timestamp, value and tag length: what
 * "equal cell by cell" compares. */
static int dump_scan(hr_server *s, const char *t, hr_snap *snap, et_str *out)
{
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1, .snapshot = snap};
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(s, t, &o, &sc);
	if (rc < 0) {
		et_str_printf(out, "ERR%d", rc);
		return rc;
	}
	while ((rc = hr_scan_next(sc, &e)) == 1) {
		et_str_bytes(out, e.row, e.row_len);
		et_str_printf(out, "/%s/", e.family);
		et_str_bytes(out, e.qualifier, e.qualifier_len);
		et_str_printf(out, "@%" PRId64 "#%zu=", g_with_ts ? e.ts : 0, e.tags_len);
		et_str_bytes(out, e.value, e.value_len);
		et_str_add(out, ";", 1);
	}
	hr_scan_close(sc);
	return rc < 0 ? rc : 0;
}

static int dump_snap(hr_server *s, const char *t, const char *name, et_str *out)
{
	hr_snap *sn;
	int rc = hr_snapshot_open(s, t, name, &sn);
	if (rc < 0)
		return rc;
	rc = dump_scan(s, t, sn, out);
	hr_snapshot_close(sn);
	return rc;
}

static int put(hr_server *s, const char *t, int row, const char *fam, const char *val)
{
	char r[16];
	snprintf(r, sizeof(r), "r%04d", row);
	int rc;
	while (et_retryable(rc = et_put(s, t, r, strlen(r), fam, "q", HR_TS_NOW, val)))
		;
	return rc;
}

static int fill(hr_server *s, const char *t, int n, const char *tag)
{
	for (int i = 0; i < n; i++) {
		char v[64];
		snprintf(v, sizeof(v), "%s-%d", tag, i);
		int rc = put(s, t, i, i % 2 ? "a" : "b", v);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int verify_clean(hr_server *s, const char *dir)
{
	hr_verify_report r;
	int rc = hr_verify_store_files(s->meta, s->io, dir, 5, &r);
	if (rc < 0 || !hr_verify_clean(&r)) {
		fprintf(stdout, "# verify %d: missing %" PRIu64 " unref %" PRIu64 " temp %" PRIu64
				" unknown %" PRIu64 " arch missing %" PRIu64 " arch unref %" PRIu64 "\n",
			rc, r.missing, r.unreferenced, r.temp, r.unknown, r.archive_missing,
			r.archive_unreferenced);
		return 0;
	}
	return 1;
}

/* ---- names of one inode under the data directory ---------------------------- */

static ino_t g_ino;
static int g_names;

static int count_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)p;
	(void)f;
	if (flag == FTW_F && st->st_ino == g_ino)
		g_names++;
	return 0;
}

static int names_of(const char *dir, ino_t ino)
{
	g_ino = ino;
	g_names = 0;
	nftw(dir, count_cb, 16, FTW_PHYS);
	return g_names;
}

/* the inode and link count of the one file in archive/ */
static int archived(const char *dir, ino_t *ino, nlink_t *nlink)
{
	char a[PATH_MAX + 16];
	snprintf(a, sizeof(a), "%s/archive", dir);
	DIR *d = opendir(a);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX + 300];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", a, e->d_name);
		if (stat(p, &st) == 0) {
			*ino = st.st_ino;
			*nlink = st.st_nlink;
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* ---- clone: reference counting in every order ------------------------------- */

static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
static const char *what[3] = {"delete snapshot", "drop clone", "drop source"};

static void clone_refs_order(int o)
{
	char dir[PATH_MAX], tag[32];
	snprintf(tag, sizeof(tag), "refs%d", o);
	fresh(dir, sizeof(dir), tag);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	for (int i = 0; i < 20; i++)
		CHECK_RC(put(s, "t", i, "a", "one"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	CHECK_RC(hr_snapshot_clone(s, "t", "s", "c"), 0);
	ino_t ino = 0;
	nlink_t nl = 0;
	CHECK(archived(dir, &ino, &nl) == 1);
	/* source store + archive + clone store: three names of one inode */
	CHECK(nl == 3);
	CHECK(names_of(dir, ino) == 3);
	et_str want = {0};
	CHECK_RC(dump_snap(s, "t", "s", &want), 0);
	for (int k = 0; k < 3; k++) {
		int step = orders[o][k];
		int rc = step == 0 ? hr_snapshot_delete(s, "t", "s")
				   : hr_table_drop(s, step == 1 ? "c" : "t");
		if (rc != 0) {
			fprintf(stdout, "# order %d: %s = %d\n", o, what[step], rc);
			CHECK(0);
		}
		int left = names_of(dir, ino);
		if (left != 2 - k) {
			fprintf(stdout, "# order %d: after %s: %d names, want %d\n", o, what[step],
				left, 2 - k);
			CHECK(0);
		}
		CHECK(verify_clean(s, dir));
		/* the snapshot's bytes count as shared while a table (the
		 * source, or the clone under another id) still names the file */
		hr_snapshot_info *info;
		size_t ni;
		if (hr_snapshot_list(s, "t", &info, &ni) == 0 && ni == 1) {
			int held = names_of(dir, ino) > 1;
			if ((info[0].shared_bytes == info[0].bytes) != held || info[0].bytes == 0) {
				fprintf(stdout, "# order %d after %s: shared %" PRIu64 " of %" PRIu64
					", held by a table %d\n", o, what[step], info[0].shared_bytes,
					info[0].bytes, held);
				CHECK(0);
			}
			hr_stats stt;
			CHECK_RC(hr_stats_get(s, &stt), 0);
			CHECK(stt.archive_own_bytes == (held ? 0 : info[0].bytes));
			free(info);
		}
		/* whoever still holds the file still reads it */
		et_str got = {0};
		if (k < 2 && step != 0 && dump_snap(s, "t", "s", &got) == 0)
			CHECK_STREQ(et_cstr(&got), et_cstr(&want));
		et_str_free(&got);
		const char *live = step == 1 ? "t" : "c";
		if (k < 2 && step != 0 && hr_table_schema_get(s, live, &(hr_table_schema){0}) == 0) {
			hr_scan_opts so = {.mode = HR_SCAN_ROWS};
			CHECK_RC(et_scan_dump(s, live, &so, &got), 0);
			CHECK(strstr(et_cstr(&got), "r0019;") != NULL);
			et_str_free(&got);
		}
	}
	CHECK(names_of(dir, ino) == 0);
	hr_server_close(s);
	et_str_free(&want);
}

static void test_clone_refs(void)
{
	for (int o = 0; o < 6; o++)
		clone_refs_order(o);
}

static int ev_calls, ev_event, ev_saw_restored;
static char ev_table[HR_MAX_NAME + 1];

/* the table event: by then a read sees the restored table (a family added
 * after the snapshot is gone from the schema) */
static void on_event(void *ctx, const char *table, int event)
{
	hr_table_schema sc;
	ev_calls++;
	ev_event = event;
	snprintf(ev_table, sizeof(ev_table), "%s", table);
	ev_saw_restored = hr_table_schema_get(ctx, table, &sc) == 0 && sc.nfamilies == 2;
}

/* ---- clone: independent, shares the files ----------------------------------- */

static void test_clone_independent(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "indep");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b:3", NULL), 0);
	CHECK_RC(fill(s, "t", 200, "v1"), 0);
	CHECK_RC(hr_split(s, "t", "r0100", 5), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	ev_calls = 0;
	hr_server_set_table_events(s, on_event, s);
	CHECK_RC(hr_snapshot_clone(s, "t", "s", "c"), 0);
	CHECK(ev_calls == 1 && ev_event == HR_TABLE_CREATED && strcmp(ev_table, "c") == 0);
	hr_server_set_table_events(s, NULL, NULL);
	CHECK_RC(hr_snapshot_clone(s, "t", "s", "c"), -EEXIST);
	CHECK_RC(hr_snapshot_clone(s, "t", "nope", "d"), -ENOENT);
	CHECK_RC(hr_snapshot_clone(s, "t", "s", ".bad"), -EINVAL);
	et_str snap = {0}, c0 = {0}, t1 = {0}, c1 = {0};
	CHECK_RC(dump_snap(s, "t", "s", &snap), 0);
	CHECK_RC(dump_scan(s, "c", NULL, &c0), 0);
	CHECK_STREQ(et_cstr(&c0), et_cstr(&snap));
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "c", &sc), 0);
	CHECK(sc.nfamilies == 2 && sc.families[1].max_versions == 3);
	hr_region_info *ri;
	size_t nr;
	CHECK_RC(hr_region_list(s, "c", &ri, &nr), 0);
	CHECK(nr == 2);
	hr_region_list_free(ri, nr);
	/* writes, a major compaction and a drop of one never touch the other */
	CHECK_RC(fill(s, "t", 200, "t2"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(dump_scan(s, "c", NULL, &c1), 0);
	CHECK_STREQ(et_cstr(&c1), et_cstr(&snap));
	et_str_free(&c1);
	CHECK_RC(dump_scan(s, "t", NULL, &t1), 0);
	CHECK_RC(fill(s, "c", 50, "c2"), 0);
	CHECK_RC(hr_flush(s, "c"), 0);
	CHECK_RC(hr_compact(s, "c", 1), 0);
	et_str t2 = {0};
	CHECK_RC(dump_scan(s, "t", NULL, &t2), 0);
	CHECK_STREQ(et_cstr(&t2), et_cstr(&t1));
	CHECK_RC(hr_snapshot_delete(s, "t", "s"), 0);
	CHECK_RC(dump_scan(s, "c", NULL, &c1), 0);
	CHECK(strstr(et_cstr(&c1), "=c2-49;") != NULL && strstr(et_cstr(&c1), "=v1-199;"));
	CHECK(verify_clean(s, dir));
	/* and after a reopen */
	hr_server_close(s);
	s = et_open(dir);
	CHECK(s);
	et_str c2 = {0};
	CHECK_RC(dump_scan(s, "c", NULL, &c2), 0);
	CHECK_STREQ(et_cstr(&c2), et_cstr(&c1));
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	et_str_free(&snap);
	et_str_free(&c0);
	et_str_free(&c1);
	et_str_free(&c2);
	et_str_free(&t1);
	et_str_free(&t2);
}

/* ---- restore ------------------------------------------------------------------ */

static void test_restore(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "restore");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(fill(s, "t", 100, "v1"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	et_str snap = {0}, got = {0};
	CHECK_RC(dump_snap(s, "t", "s", &snap), 0);
	/* after the snapshot: overwrites, deletes, a split, a family, and
	 * edits left only in the memstore and the WAL */
	CHECK_RC(fill(s, "t", 100, "v2"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_split(s, "t", "r0050", 5), 0);
	hr_family_schema f;
	hr_family_defaults(&f, "c");
	CHECK_RC(hr_family_add(s, "t", &f), 0);
	CHECK_RC(put(s, "t", 7, "c", "new family"), 0);
	CHECK_RC(fill(s, "t", 30, "v3"), 0);
	CHECK_RC(hr_delete_row(s, "t", "r0003", 5, 0), 0);
	CHECK_RC(hr_sync(s), 0);
	ev_calls = 0;
	hr_server_set_table_events(s, on_event, s);
	CHECK_RC(hr_snapshot_restore(s, "t", "nope"), -ENOENT);
	CHECK_RC(hr_snapshot_restore(s, "u", "s"), -ENOENT);
	CHECK_RC(hr_snapshot_restore(s, "t", "s"), 0);
	CHECK_RC(dump_scan(s, "t", NULL, &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&snap));
	/* the front end heard of it once, after the change was visible */
	CHECK(ev_calls == 1 && ev_event == HR_TABLE_RESTORED && strcmp(ev_table, "t") == 0);
	CHECK(ev_saw_restored);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "t", &sc), 0);
	CHECK(sc.nfamilies == 2);
	hr_region_info *ri;
	size_t nr;
	CHECK_RC(hr_region_list(s, "t", &ri, &nr), 0);
	CHECK(nr == 1);
	hr_region_list_free(ri, nr);
	CHECK(verify_clean(s, dir));
	/* the table works on: a write after the restore survives a reopen, and
	 * none of the edits before it come back from the WAL */
	CHECK_RC(put(s, "t", 500, "a", "after"), 0);
	CHECK_RC(hr_sync(s), 0);
	hr_server_close(s);
	s = et_open(dir);
	CHECK(s);
	et_str_free(&got);
	CHECK_RC(dump_scan(s, "t", NULL, &got), 0);
	const char *after = strstr(et_cstr(&got), "r0500/a/q@");
	CHECK(after != NULL);
	CHECK(strncmp(et_cstr(&got), et_cstr(&snap), snap.len) == 0);
	CHECK(strstr(et_cstr(&got), "v2-") == NULL && strstr(et_cstr(&got), "v3-") == NULL);
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	et_str_free(&snap);
	et_str_free(&got);
}

/* ---- restores while writers write ------------------------------------------------ */

typedef struct busy_writer {
	hr_server *s;
	int id;
	atomic_int *stop;
	int errors, writes;
} busy_writer;

static void *restore_writer(void *arg)
{
	busy_writer *w = arg;
	for (int v = 0; !atomic_load(w->stop); v++) {
		char val[32];
		snprintf(val, sizeof(val), "w%d-%d", w->id, v);
		/* put() retries busy and moved answers, as a front end does */
		if (put(w->s, "t", w->id * 100 + v % 50, "a", val) != 0)
			w->errors++;
		else
			w->writes++;
	}
	return NULL;
}

static void test_restore_under_writes(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "restore-busy");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(fill(s, "t", 100, "v1"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	atomic_int stop = 0;
	busy_writer w[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (busy_writer){.s = s, .id = i + 1, .stop = &stop};
		CHECK(pthread_create(&th[i], NULL, restore_writer, &w[i]) == 0);
	}
	int restores = 0;
	for (int k = 0; k < 5; k++) {
		CHECK_RC(hr_flush(s, "t"), 0);
		restores += hr_snapshot_restore(s, "t", "s") == 0;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(restores == 5);
	CHECK(w[0].errors == 0 && w[1].errors == 0);
	/* a final restore with nobody writing: exactly the snapshot */
	CHECK_RC(hr_snapshot_restore(s, "t", "s"), 0);
	et_str snap = {0}, got = {0};
	CHECK_RC(dump_snap(s, "t", "s", &snap), 0);
	CHECK_RC(dump_scan(s, "t", NULL, &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&snap));
	CHECK(verify_clean(s, dir));
	hr_server_close(s);
	s = et_open(dir);
	CHECK(s);
	et_str_free(&got);
	CHECK_RC(dump_scan(s, "t", NULL, &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&snap));
	hr_server_close(s);
	et_str_free(&snap);
	et_str_free(&got);
}

/* ---- a writer held back by the gate: bounded ------------------------------------ */

typedef struct gate_probe {
	hr_server *s;
	int rc, calls;
} gate_probe;

static void *gate_writer(void *arg)
{
	gate_probe *g = arg;
	g->rc = et_put(g->s, "t", "zz", 2, "a", "q", HR_TS_NOW, "held");
	return NULL;
}

/* runs while a snapshot or restore holds the gate: a writer must give up */
static void gate_hook(void *ctx)
{
	gate_probe *g = ctx;
	pthread_t th;
	g->calls++;
	g->rc = 1;
	if (pthread_create(&th, NULL, gate_writer, g) == 0)
		pthread_join(th, NULL);
}

static void test_gate_timeout(void)
{
	char dir[PATH_MAX];
	fresh(dir, sizeof(dir), "gate");
	hr_config c;
	et_config(&c, dir);
	c.snapshot_gate_timeout_ms = 30;
	hr_server *s;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	CHECK_RC(put(s, "t", 1, "a", "x"), 0);
	gate_probe g = {.s = s};
	s->test_gate_hook = gate_hook;
	s->test_gate_ctx = &g;
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	CHECK(g.calls == 1);
	CHECK_RC(g.rc, -EBUSY);
	CHECK_RC(hr_snapshot_restore(s, "t", "s"), 0);
	CHECK(g.calls == 2);
	CHECK_RC(g.rc, -EBUSY);
	CHECK(atomic_load(&s->st.gate_timeouts) == 2);
	s->test_gate_hook = NULL;
	/* the refused write is not there; the gate lets writers in again */
	char buf[16];
	CHECK_RC(et_get(s, "t", "zz", 2, "a", "q", buf, sizeof(buf), NULL), -ENOENT);
	CHECK_RC(et_put(s, "t", "zz", 2, "a", "q", HR_TS_NOW, "later"), 0);
	hr_server_close(s);
}

/* ---- export and import ----------------------------------------------------------- */

static void corrupt_byte(const char *path, long off)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(ch ^ 0x5a, f);
	fclose(f);
}

static int store_regions(const char *dir)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/store", dir);
	DIR *d = opendir(p);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_export_import(void)
{
	char dir[PATH_MAX], dir2[PATH_MAX], ex[PATH_MAX], bad[PATH_MAX + 16], cmd[3 * PATH_MAX];
	fresh(dir, sizeof(dir), "exp-src");
	fresh(dir2, sizeof(dir2), "exp-dst");
	fresh(ex, sizeof(ex), "export-s");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b:2", NULL), 0);
	/* compressed blocks travel as they are */
	hr_family_schema zf;
	hr_family_defaults(&zf, "a");
	zf.compression = HR_COMPRESSION_ZSTD;
	CHECK_RC(hr_family_alter(s, "t", "a", HR_ALTER_COMPRESSION, &zf), 0);
	CHECK_RC(fill(s, "t", 300, "v1"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(fill(s, "t", 150, "v2"), 0);
	CHECK_RC(hr_split(s, "t", "r0200", 5), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	et_str snap = {0}, got = {0};
	CHECK_RC(dump_snap(s, "t", "s", &snap), 0);
	CHECK_RC(hr_snapshot_export(s, "t", "nope", ex), -ENOENT);
	CHECK_RC(hr_snapshot_export(s, "t", "s", ex), 0);
	CHECK_RC(hr_snapshot_export(s, "t", "s", ex), -EEXIST);
	hr_server_close(s);
	/* into a fresh data directory */
	s = et_open(dir2);
	CHECK(s);
	CHECK_RC(hr_snapshot_import(s, ex, "u"), 0);
	CHECK_RC(hr_snapshot_import(s, ex, "u"), -EEXIST);
	CHECK_RC(dump_scan(s, "u", NULL, &got), 0);
	CHECK_STREQ(et_cstr(&got), et_cstr(&snap));
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "u", &sc), 0);
	CHECK(sc.nfamilies == 2 && sc.families[1].max_versions == 2);
	CHECK(sc.families[0].compression == HR_COMPRESSION_ZSTD);
	CHECK(verify_clean(s, dir2));
	int regions = store_regions(dir2);
	/* damaged copies of the export: refused, nothing created */
	const char *cases[] = {"store", "manifest", "missing", "truncated"};
	for (int k = 0; k < 4; k++) {
		snprintf(bad, sizeof(bad), "%s.bad%d", ex, k);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", bad, ex, bad);
		CHECK(system(cmd) == 0);
		DIR *d = opendir(bad);
		struct dirent *e;
		char victim[PATH_MAX + 300] = "";
		while (d && (e = readdir(d)))
			if (strstr(e->d_name, ".hsf"))
				snprintf(victim, sizeof(victim), "%s/%s", bad, e->d_name);
		if (d)
			closedir(d);
		char man[PATH_MAX + 32];
		snprintf(man, sizeof(man), "%s/MANIFEST", bad);
		if (k == 0)
			corrupt_byte(victim, 100);
		else if (k == 1)
			corrupt_byte(man, 40);
		else if (k == 2)
			unlink(victim);
		else
			CHECK(truncate(man, 20) == 0);
		hr_log_set_level(-1);
		int rc = hr_snapshot_import(s, bad, "v");
		hr_log_set_level(HR_LOG_WARN);
		if (rc != -EIO)
			fprintf(stdout, "# damaged export (%s): import = %d\n", cases[k], rc);
		CHECK_RC(rc, -EIO);
		CHECK_RC(hr_table_schema_get(s, "v", &sc), -ENOENT);
		CHECK(store_regions(dir2) == regions);
		CHECK(verify_clean(s, dir2));
		hr_test_rmrf(bad);
	}
	hr_server_close(s);
	et_str_free(&snap);
	et_str_free(&got);
}

/* ---- a missing archived file: refused, nothing made --------------------------------- */

static void test_missing_archive(void)
{
	char dir[PATH_MAX], ex[PATH_MAX], a[PATH_MAX + 16], victim[PATH_MAX + 300] = "";
	fresh(dir, sizeof(dir), "missing");
	fresh(ex, sizeof(ex), "missing-export");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(fill(s, "t", 50, "v1"), 0);
	CHECK_RC(hr_snapshot_create(s, "t", "s"), 0);
	CHECK_RC(fill(s, "t", 50, "v2"), 0);
	et_str before = {0}, after = {0};
	CHECK_RC(dump_scan(s, "t", NULL, &before), 0);
	snprintf(a, sizeof(a), "%s/archive", dir);
	DIR *d = opendir(a);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(victim, sizeof(victim), "%s/%s", a, e->d_name);
	if (d)
		closedir(d);
	CHECK(victim[0] && unlink(victim) == 0);
	int regions = store_regions(dir);
	hr_log_set_level(-1);
	CHECK_RC(hr_snapshot_clone(s, "t", "s", "c"), -EIO);
	CHECK_RC(hr_snapshot_restore(s, "t", "s"), -EIO);
	CHECK_RC(hr_snapshot_export(s, "t", "s", ex), -EIO);
	hr_log_set_level(HR_LOG_WARN);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "c", &sc), -ENOENT);
	CHECK_RC(dump_scan(s, "t", NULL, &after), 0);
	CHECK_STREQ(et_cstr(&after), et_cstr(&before));
	CHECK(store_regions(dir) == regions);
	struct stat st;
	CHECK(stat(ex, &st) < 0);
	hr_verify_report r;
	CHECK_RC(hr_verify_store_files(s->meta, s->io, dir, 0, &r), 0);
	CHECK(r.missing == 0 && r.unreferenced == 0 && r.temp == 0 && r.archive_missing == 1);
	hr_server_close(s);
	/* nothing was left beside the export either */
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -q '^.tmp-'", g_root);
	CHECK(system(cmd) != 0);
	et_str_free(&before);
	et_str_free(&after);
}

/* ---- crash points ------------------------------------------------------------------ */

enum { OP_CLONE, OP_RESTORE, OP_EXPORT, OP_IMPORT };
static const char *op_name[] = {"clone", "restore", "export", "import"};

static void crash_config(hr_config *c, const char *dir)
{
	et_config(c, dir);
	c->flush_size = 256ull << 20;
	c->compact_min_files = 50;
	c->compact_max_files = 50;
	c->blocking_store_files = 100;
	c->major_interval_ms = 0;
}

/* Table t (two regions), snapshot s, later writes; then (armed) the op.
 * Returns the durable points the op passed. With want_old/want_new, checks
 * the reopened state: the op's result is all there or not at all. */
static uint64_t crash_run(int op, const char *dir, const char *ex, uint64_t crash_at,
			  int *failures, const char *want_old, const char *want_new)
{
	hr_test_rmrf(dir);
	hr_test_rmrf(ex);
	hr_config c;
	crash_config(&c, dir);
	hr_io *io;
	hr_server *s;
	if (hr_io_fault_new(hr_io_posix(), &io) < 0 || hr_server_open_io(&c, io, &s) < 0)
		abort();
	if (et_table(s, "t", "a", "b", NULL) < 0 || fill(s, "t", 40, "v1") < 0 ||
	    hr_split(s, "t", "r0020", 5) < 0 || hr_snapshot_create(s, "t", "s") < 0 ||
	    fill(s, "t", 10, "v2") < 0 || hr_sync(s) < 0)
		abort();
	if (op == OP_IMPORT && hr_snapshot_export(s, "t", "s", ex) < 0)
		abort();
	uint64_t base = hr_io_fault_durable(io);
	if (crash_at != UINT64_MAX)
		hr_io_fault_crash_after(io, crash_at);
	hr_log_set_level(-1);
	int rc = op == OP_CLONE	    ? hr_snapshot_clone(s, "t", "s", "c")
		 : op == OP_RESTORE ? hr_snapshot_restore(s, "t", "s")
		 : op == OP_EXPORT  ? hr_snapshot_export(s, "t", "s", ex)
				    : hr_snapshot_import(s, ex, "c");
	uint64_t points = hr_io_fault_durable(io) - base;
	hr_server_close(s);
	hr_io_fault_drop_unsynced(io);
	hr_io_destroy(io);
	hr_log_set_level(HR_LOG_WARN);
	if (!want_old) {
		if (rc != 0)
			(*failures)++;
		return points;
	}
	if (hr_server_open(&c, &s) < 0) {
		fprintf(stdout, "# %s crash %" PRIu64 ": reopen failed\n", op_name[op], crash_at);
		(*failures)++;
		return points;
	}
	et_str got = {0};
	const char *t = op == OP_RESTORE ? "t" : "c";
	if (op == OP_EXPORT) {
		/* the export directory is there whole (it imports) or not at all */
		struct stat st;
		if (stat(ex, &st) == 0) {
			rc = hr_snapshot_import(s, ex, "c");
			if (rc == 0)
				rc = dump_scan(s, "c", NULL, &got);
			if (rc < 0 || strcmp(et_cstr(&got), want_new) != 0) {
				fprintf(stdout, "# export crash %" PRIu64 ": a partial export (%d)\n",
					crash_at, rc);
				(*failures)++;
			}
		}
	} else {
		rc = dump_scan(s, t, NULL, &got);
		const char *g = rc == -ENOENT ? NULL : et_cstr(&got);
		int old_ok = op == OP_RESTORE ? g && strcmp(g, want_old) == 0 : g == NULL;
		int new_ok = g && strcmp(g, want_new) == 0;
		if (!old_ok && !new_ok) {
			fprintf(stdout, "# %s crash %" PRIu64 ": neither old nor new: %.200s\n",
				op_name[op], crash_at, g ? g : "(no table)");
			(*failures)++;
		}
	}
	et_str_free(&got);
	if (!verify_clean(s, dir)) {
		fprintf(stdout, "# %s crash %" PRIu64 ": verify not clean\n", op_name[op], crash_at);
		(*failures)++;
	}
	hr_server_close(s);
	return points;
}

static void crash_sweep(int op)
{
	g_with_ts = 0;
	char dir[PATH_MAX], ex[PATH_MAX], tag[32];
	snprintf(tag, sizeof(tag), "crash-%s", op_name[op]);
	fresh(dir, sizeof(dir), tag);
	snprintf(tag, sizeof(tag), "crash-%s-export", op_name[op]);
	fresh(ex, sizeof(ex), tag);
	/* the states to tell apart: the table after its later writes, the snapshot */
	int failures = 0;
	uint64_t points = crash_run(op, dir, ex, UINT64_MAX, &failures, NULL, NULL);
	CHECK(failures == 0 && points >= 3);
	hr_server *s = et_open(dir);
	CHECK(s);
	et_str old = {0}, snap = {0};
	CHECK_RC(dump_scan(s, "t", NULL, &old), 0);
	CHECK_RC(dump_snap(s, "t", "s", &snap), 0);
	hr_server_close(s);
	if (op == OP_RESTORE) {
		/* "old" is the table before the restore: run the prefix again */
		et_str_free(&old);
		crash_run(op, dir, ex, 0, &failures, NULL, NULL);
		failures = 0; /* the restore was meant to fail there */
		s = et_open(dir);
		CHECK(s);
		CHECK_RC(dump_scan(s, "t", NULL, &old), 0);
		hr_server_close(s);
	}
	CHECK(strcmp(et_cstr(&old), et_cstr(&snap)) != 0);
	for (uint64_t k = 0; k <= points; k++)
		crash_run(op, dir, ex, k, &failures, et_cstr(&old), et_cstr(&snap));
	fprintf(stdout, "# %s: %" PRIu64 " crash points, %d failures\n", op_name[op], points + 1,
		failures);
	CHECK(failures == 0);
	et_str_free(&old);
	et_str_free(&snap);
	g_with_ts = 1;
}

static void test_crash_clone(void) { crash_sweep(OP_CLONE); }
static void test_crash_restore(void) { crash_sweep(OP_RESTORE); }
static void test_crash_export(void) { crash_sweep(OP_EXPORT); }
static void test_crash_import(void) { crash_sweep(OP_IMPORT); }

int main(void)
{
	et_watchdog(300);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_root, sizeof(g_root), "snapclone");
	RUN(test_clone_refs);
	RUN(test_clone_independent);
	RUN(test_restore);
	RUN(test_restore_under_writes);
	RUN(test_gate_timeout);
	RUN(test_export_import);
	RUN(test_missing_archive);
	RUN(test_crash_clone);
	RUN(test_crash_restore);
	RUN(test_crash_export);
	RUN(test_crash_import);
	if (!hr_t_failed)
		hr_test_rmrf(g_root);
	return hr_test_done();
}
