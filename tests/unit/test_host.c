/*
 * test_host.c — the engine's server mode (include/engine/hr_host.h): regions
 * moving between servers over one shared data directory and meta, and a
 * dead server's regions recovered from its WAL (HBase's WAL split).
 *
 * LMDB must not be opened twice in one process, so two servers never run
 * at once here except across processes: this binary re-executes itself
 * ("--child ACTION DIR") for a second server that runs while the first one
 * is open. A server "dies" by hr_server_close without closing its regions:
 * close never flushes, so its WAL holds every acknowledged edit not yet in
 * a store file, as after a kill.
 */
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/hr_host.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_io_rados.h"
#include "engine/hr_rados.h"
#include "engine/hr_server.h"
#include "hr_etest.h"

extern char **environ;

#define NROWS 600

/* HREGIONFS_TEST_STORAGE=rados (with HR_CEPH_CONF and HR_RADOS_POOL, as
 * /work/devcluster/env or scripts/cluster_up.sh give them): the servers
 * run with storage=rados, in a namespace of the test's data directory
 * (removed at the end of each test). Meta stays in local LMDB until
 * meta_rados lands, which one data directory shares anyway. */
static int use_rados;
static const char *ceph_conf, *rados_pool;

static void rados_nspace(const char *dir, char *buf, size_t len)
{
	const char *b = strrchr(dir, '/');
	snprintf(buf, len, "h-host-%s", b ? b + 1 : dir);
}

static void test_cleanup(const char *dir)
{
	if (use_rados) {
		char ns[256];
		hr_rados *r;
		rados_nspace(dir, ns, sizeof(ns));
		if (hr_rados_connect(ceph_conf, rados_pool, ns, &r) == 0) {
			rados_list_ctx_t ls;
			rados_ioctx_t c = hr_rados_ioctx(r);
			const char *oid;
			char **v = NULL;
			size_t n = 0;
			if (rados_nobjects_list_open(c, &ls) == 0) {
				while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0) {
					char **nv = realloc(v, (n + 1) * sizeof(*v));
					if (!nv)
						break;
					v = nv;
					v[n++] = strdup(oid);
				}
				rados_nobjects_list_close(ls);
			}
			for (size_t i = 0; i < n; i++) {
				if (v[i])
					rados_remove(c, v[i]);
				free(v[i]);
			}
			free(v);
			hr_rados_close(r);
		}
	}
	hr_test_rmrf(dir);
}

static hr_server *host_open(const char *dir, const char *name, hr_io *io)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	/* no flush but the workload's own: the second half of its edits is in
	 * the WAL only when a server dies */
	c.flush_size = 4u << 20;
	snprintf(c.server_name, sizeof(c.server_name), "%s", name);
	if (use_rados) {
		c.storage = HR_STORAGE_RADOS;
		snprintf(c.ceph_conf, sizeof(c.ceph_conf), "%s", ceph_conf);
		snprintf(c.rados_pool, sizeof(c.rados_pool), "%s", rados_pool);
		rados_nspace(dir, c.rados_namespace, sizeof(c.rados_namespace));
	}
	int rc = hr_server_open_io(&c, io, &s);
	if (rc < 0)
		fprintf(stdout, "# open %s as %s = %d (%s)\n", dir, name, rc, strerror(-rc));
	return s;
}

static int create_table(hr_server *s, const char *name, uint64_t *rid)
{
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "%s", name);
	hr_family_defaults(&sc.families[0], "f");
	sc.families[0].max_versions = 3;
	sc.nfamilies = 1;
	return hr_host_table_create(s, &sc, rid);
}

static void row_name(char *buf, int i) { snprintf(buf, 16, "r%04d", i); }

/* The workload a server acknowledges: every row put (then flushed), every
 * third row put again (two versions), every seventh deleted. model[i] = latest value
 * ("" = deleted). Returns 0 or the first error; *last the stamp of the last
 * edit. */
static int workload(hr_server *s, const char *t, char model[][32], hr_stamp *last)
{
	char row[16];
	static int64_t ts0[NROWS];
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NROWS; i++) {
			if (pass == 1 && i % 3)
				continue;
			row_name(row, i);
			snprintf(model[i], 32, "v%d-%d-%0*d", i, pass, 20, 0);
			/* the second version one ms after the first: two puts in the
			 * same ms would be one version */
			hr_mcell c = {"f", "q", 1, pass ? ts0[i] + 1 : HR_TS_NOW, HR_PUT, model[i],
				      strlen(model[i])};
			int rc = hr_mutate_stamped(s, t, row, 5, &c, 1, 0, last);
			if (rc < 0)
				return rc;
			if (!pass)
				ts0[i] = last->ts;
			if (!pass && i == NROWS - 1 && (rc = hr_flush(s, t)) < 0)
				return rc;
		}
	int64_t del_ts = last->ts + 10; /* above every put's */
	for (int i = 0; i < NROWS; i += 7) {
		row_name(row, i);
		hr_mcell c = {"f", "q", 1, del_ts, HR_DELETE_COLUMN, NULL, 0};
		int rc = hr_mutate_stamped(s, t, row, 5, &c, 1, 0, last);
		if (rc < 0)
			return rc;
		model[i][0] = 0;
	}
	return 0;
}

/* Every row reads as the model says, with exactly the versions it was
 * given (a recovered edit applied twice would not add a version, but one
 * lost would drop one); *max_ts and *max_seq get the newest cell seen. */
static int verify(hr_server *s, const char *t, char model[][32], int64_t *max_ts,
		  uint64_t *max_seq)
{
	char row[16], buf[64];
	for (int i = 0; i < NROWS; i++) {
		row_name(row, i);
		hr_value v;
		int rc = hr_get(s, t, row, 5, "f", "q", 1, HR_GET_VALUE, &v);
		if (!model[i][0]) {
			if (rc != -ENOENT) {
				fprintf(stdout, "# %s: deleted, get = %d\n", row, rc);
				if (rc == 0)
					hr_value_free(&v);
				return -EUCLEAN;
			}
			continue;
		}
		if (rc < 0) {
			fprintf(stdout, "# %s: get = %d, want %s\n", row, rc, model[i]);
			return rc;
		}
		snprintf(buf, sizeof(buf), "%.*s", (int)v.len, (char *)v.data);
		hr_value_free(&v);
		if (strcmp(buf, model[i]) != 0) {
			fprintf(stdout, "# %s: got %s, want %s\n", row, buf, model[i]);
			return -EUCLEAN;
		}
		hr_value *vs;
		hr_get_opts o = {0};
		int n = hr_get_versions(s, t, row, 5, "f", "q", 1, &o, &vs);
		if (n != (i % 3 ? 1 : 2)) {
			fprintf(stdout, "# %s: %d versions, want %d\n", row, n, i % 3 ? 1 : 2);
			if (n > 0)
				hr_values_free(vs, (size_t)n);
			return -EUCLEAN;
		}
		for (int k = 0; k < n; k++) {
			if (max_ts && vs[k].ts > *max_ts)
				*max_ts = vs[k].ts;
			if (max_seq && vs[k].seq > *max_seq)
				*max_seq = vs[k].seq;
		}
		hr_values_free(vs, (size_t)n);
	}
	return 0;
}

static int put1(hr_server *s, const char *t, const char *row, const char *val, hr_stamp *st)
{
	hr_mcell c = {"f", "q", 1, HR_TS_NOW, HR_PUT, val, strlen(val)};
	return hr_mutate_stamped(s, t, row, strlen(row), &c, 1, 0, st);
}

/* 1 if path (below the data directory dir) exists in the storage the
 * servers use. */
static int path_exists(const char *dir, const char *path)
{
	if (!use_rados)
		return access(path, F_OK) == 0;
	char ns[256];
	hr_rados *r;
	hr_io *io;
	hr_io_attr st;
	rados_nspace(dir, ns, sizeof(ns));
	if (hr_rados_connect(ceph_conf, rados_pool, ns, &r) < 0)
		return -1;
	int rc = hr_io_rados_new(r, dir, &io);
	if (rc == 0) {
		rc = hr_io_stat(io, path, &st);
		hr_io_destroy(io);
	}
	hr_rados_close(r);
	return rc == 0;
}

static int wal_dir_exists(const char *dir, const char *name)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/wal/%s", dir, name);
	return path_exists(dir, p);
}

static char model[NROWS][32];

/* ---- tests ------------------------------------------------------------------ */

/* Single-node calls refuse; a server's name must be one path component. */
static void t_modes(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK(!hr_host_mode(s));
	CHECK_RC(hr_host_open_region(s, 1, NULL, 0), -EOPNOTSUPP);
	CHECK_RC(hr_host_close_region(s, 1), -EOPNOTSUPP);
	hr_server_close(s);
	CHECK(host_open(dir, "a/b", NULL) == NULL);
	CHECK(host_open(dir, "..", NULL) == NULL);
	s = host_open(dir, "h,1,1", NULL);
	CHECK(s && hr_host_mode(s));
	CHECK_RC(hr_host_open_region(s, 12345, NULL, 0), -ENOENT);
	CHECK_RC(hr_host_close_region(s, 12345), -ENOENT);
	const char *self[] = {"h,1,1"};
	CHECK_RC(hr_host_open_region(s, 1, self, 1), -EINVAL);
	CHECK_RC(hr_host_wal_retire(s, "h,1,1"), -EINVAL);
	CHECK_RC(hr_host_wal_retire(s, "nobody"), -ENOENT);
	hr_server_close(s);
	test_cleanup(dir);
}

/* A region closed on one server and opened on another carries all its
 * data; the first answers -EREMOTE for it after the close. */
static void t_move(void)
{
	char dir[256];
	hr_stamp last = {0}, st;
	uint64_t rid, *ids;
	size_t n;
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	uint64_t dup;
	CHECK_RC(create_table(a, "t", &dup), -EEXIST);
	/* created, not opened: the master assigns it */
	CHECK_RC(put1(a, "t", "x", "1", NULL), -EREMOTE);
	CHECK_RC(hr_host_regions(a, &ids, &n), 0);
	CHECK(n == 0);
	free(ids);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), -EALREADY);
	CHECK_RC(hr_host_regions(a, &ids, &n), 0);
	CHECK(n == 1 && ids[0] == rid);
	free(ids);
	CHECK_RC(workload(a, "t", model, &last), 0);
	CHECK_RC(verify(a, "t", model, NULL, NULL), 0);
	CHECK_RC(hr_host_close_region(a, rid), 0);
	CHECK_RC(put1(a, "t", "x", "1", NULL), -EREMOTE);
	hr_value v;
	CHECK_RC(hr_get(a, "t", "r0001", 5, "f", "q", 1, HR_GET_VALUE, &v), -EREMOTE);
	hr_scan_opts so = {.mode = HR_SCAN_ROWS};
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(a, "t", &so, &sc);
	if (rc == 0) {
		rc = hr_scan_next(sc, &e);
		hr_scan_close(sc);
	}
	CHECK_RC(rc, -EREMOTE);
	CHECK_RC(hr_host_close_region(a, rid), -ENOENT);
	hr_server_close(a);

	/* the next server: nothing to recover (the close flushed) */
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	CHECK_RC(hr_host_open_region(b, rid, NULL, 0), 0);
	int64_t max_ts = 0;
	uint64_t max_seq = 0;
	CHECK_RC(verify(b, "t", model, &max_ts, &max_seq), 0);
	CHECK(max_seq >= last.seq - 1 || max_seq > 0);
	CHECK_RC(put1(b, "t", "new", "1", &st), 0);
	CHECK(st.seq > last.seq);
	CHECK(st.ts >= last.ts && st.ts >= max_ts);
	CHECK_RC(hr_host_close_region(b, rid), 0);
	hr_server_close(b);
	test_cleanup(dir);
}

/* WAL split: a server dies with acknowledged edits in its WAL only; the
 * next opens its region with it in recover_from and has every one of them
 * once, deletes still deleted; its own later edits sort after them. */
static void t_wal_split(void)
{
	char dir[256];
	hr_stamp last = {0}, st;
	uint64_t rid;
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(workload(a, "t", model, &last), 0);
	/* a timestamp far ahead of the clock: the floor must follow it */
	hr_mcell fut = {"f", "q", 1, last.ts + 3600000, HR_PUT, "future", 6};
	CHECK_RC(hr_mutate(a, "t", "zz", 2, &fut, 1, 0), 0);
	hr_server_close(a); /* dies: region not closed, memstores not flushed */
	CHECK(wal_dir_exists(dir, "a,1,1"));

	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	const char *dead[] = {"a,1,1"};
	CHECK_RC(hr_host_open_region(b, rid, dead, 1), 0);
	CHECK_RC(verify(b, "t", model, NULL, NULL), 0);
	char buf[64];
	CHECK_RC(et_get(b, "t", "zz", 2, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "future") == 0);
	/* new edits: seq above every recovered one, timestamps not below */
	CHECK_RC(put1(b, "t", "new", "1", &st), 0);
	CHECK(st.seq > last.seq);
	CHECK(st.ts >= last.ts + 3600000);
	/* a delete made now masks the recovered put of the same cell */
	CHECK_RC(et_del(b, "t", "r0001", 5, "f", "q", HR_TS_NOW, HR_DELETE_COLUMN), 0);
	model[1][0] = 0;
	CHECK_RC(verify(b, "t", model, NULL, NULL), 0);
	hr_server_close(b); /* b dies too: its WAL has the delete */

	/* both WALs named (a's not retired yet): nothing applied twice */
	hr_server *c = host_open(dir, "c,1,3", NULL);
	CHECK(c);
	const char *dead2[] = {"a,1,1", "b,1,2"};
	CHECK_RC(hr_host_open_region(c, rid, dead2, 2), 0);
	CHECK_RC(verify(c, "t", model, NULL, NULL), 0);
	CHECK_RC(et_get(c, "t", "new", 3, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK_RC(hr_host_wal_retire(c, "a,1,1"), 0);
	CHECK_RC(hr_host_wal_retire(c, "b,1,2"), 0);
	CHECK(!wal_dir_exists(dir, "a,1,1") && !wal_dir_exists(dir, "b,1,2"));
	CHECK_RC(hr_host_close_region(c, rid), 0);
	hr_server_close(c);
	/* a clean stop (no region hosted) leaves no WAL behind */
	CHECK(!wal_dir_exists(dir, "c,1,3"));

	/* the recovered edits were flushed: nothing needs the retired WALs */
	hr_server *d = host_open(dir, "d,1,4", NULL);
	CHECK(d);
	CHECK_RC(hr_host_open_region(d, rid, NULL, 0), 0);
	CHECK_RC(verify(d, "t", model, NULL, NULL), 0);
	hr_server_close(d);
	test_cleanup(dir);
}

typedef struct writer {
	hr_server *s;
	int id;
	int acked;		/* puts acknowledged, rows w<id>-0 .. w<id>-(acked-1) */
	int last_rc;		/* the answer that stopped it */
	atomic_int *total;
} writer;

static void *writer_main(void *arg)
{
	writer *w = arg;
	char row[32];
	for (;;) {
		snprintf(row, sizeof(row), "w%d-%06d", w->id, w->acked);
		int rc = put1(w->s, "t", row, row, NULL);
		if (rc < 0) {
			w->last_rc = rc;
			return NULL;
		}
		w->acked++;
		atomic_fetch_add(w->total, 1);
	}
}

/* Writers racing a close: every put acknowledged before the region closed
 * is on the next server; the others were told -EREMOTE, never lost. */
static void t_close_under_writes(void)
{
	char dir[256];
	uint64_t rid;
	atomic_int total = 0;
	writer w[2];
	pthread_t th[2];
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	for (int i = 0; i < 2; i++) {
		w[i] = (writer){.s = a, .id = i, .total = &total};
		CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
	}
	while (atomic_load(&total) < 2000)
		sched_yield();
	int rc = hr_host_close_region(a, rid);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_RC(rc, 0);
	CHECK_RC(w[0].last_rc, -EREMOTE);
	CHECK_RC(w[1].last_rc, -EREMOTE);
	hr_server_close(a);
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	CHECK_RC(hr_host_open_region(b, rid, NULL, 0), 0);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < w[i].acked; k++) {
			char row[32], buf[32];
			snprintf(row, sizeof(row), "w%d-%06d", i, k);
			CHECK_RC(et_get(b, "t", row, strlen(row), "f", "q", buf, sizeof(buf), NULL), 0);
			CHECK(strcmp(buf, row) == 0);
		}
	fprintf(stdout, "# %d + %d puts acknowledged before the close\n", w[0].acked, w[1].acked);
	hr_server_close(b);
	test_cleanup(dir);
}

/* A close whose flush fails keeps the region hosted and serving, with
 * its data; the next close moves it. */
static void t_close_flush_fails(void)
{
	char dir[256], buf[16];
	uint64_t rid;
	hr_io *io;
	if (use_rados) {
		fprintf(stdout, "# skipped under storage=rados: the fault seam wraps POSIX here\n");
		return;
	}
	hr_test_tmpdir(dir, sizeof(dir), "host");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_server *a = host_open(dir, "a,1,1", io);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(put1(a, "t", "k", "v1", NULL), 0);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_SYNC, 1, -EIO, HR_IO_FAULT_STICKY, ".tmp"), 0);
	CHECK(hr_host_close_region(a, rid) < 0);
	CHECK_RC(et_get(a, "t", "k", 1, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "v1") == 0);
	CHECK_RC(put1(a, "t", "k2", "v2", NULL), 0);
	hr_io_fault_clear(io);
	CHECK_RC(hr_host_close_region(a, rid), 0);
	CHECK_RC(put1(a, "t", "k", "v3", NULL), -EREMOTE);
	hr_server_close(a);
	hr_io_destroy(io);
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	CHECK_RC(hr_host_open_region(b, rid, NULL, 0), 0);
	CHECK_RC(et_get(b, "t", "k2", 2, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "v2") == 0);
	hr_server_close(b);
	test_cleanup(dir);
}

/* A dead server's regions reopened together: one call, one pass over its
 * WAL, per-region outcomes (an unknown id fails alone). */
static void t_open_batch(void)
{
	char dir[256], buf[32];
	uint64_t rid, *ids;
	size_t n;
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(put1(a, "t", "c", "c0", NULL), 0);
	CHECK_RC(put1(a, "t", "k", "k0", NULL), 0);
	CHECK_RC(put1(a, "t", "x", "x0", NULL), 0);
	CHECK_RC(hr_split(a, "t", "h", 1), 0);
	CHECK_RC(hr_split(a, "t", "p", 1), 0);
	/* edits after the splits: in the WAL only */
	CHECK_RC(put1(a, "t", "c", "c1", NULL), 0);
	CHECK_RC(put1(a, "t", "k", "k1", NULL), 0);
	CHECK_RC(put1(a, "t", "x", "x1", NULL), 0);
	CHECK_RC(hr_host_regions(a, &ids, &n), 0);
	CHECK(n == 3);
	hr_server_close(a); /* dies */
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	uint64_t want[4] = {ids[2], 999999, ids[0], ids[1]};
	int res[4] = {1, 1, 1, 1};
	free(ids);
	const char *dead[] = {"a,1,1"};
	CHECK_RC(hr_host_open_regions(b, want, 4, dead, 1, res), -ENOENT);
	CHECK(res[0] == 0 && res[1] == -ENOENT && res[2] == 0 && res[3] == 0);
	const char *rows[] = {"c", "k", "x"};
	for (int i = 0; i < 3; i++) {
		char w[8];
		snprintf(w, sizeof(w), "%s1", rows[i]);
		CHECK_RC(et_get(b, "t", rows[i], 1, "f", "q", buf, sizeof(buf), NULL), 0);
		CHECK(strcmp(buf, w) == 0);
	}
	CHECK_RC(hr_host_open_regions(b, want, 1, dead, 1, res), -EALREADY);
	CHECK(res[0] == -EALREADY);
	hr_server_close(b);
	test_cleanup(dir);
}

typedef struct filler {
	hr_server *s;
	const char *table;
	int rc;
} filler;

/* 2000 rows, with a flush every 250: store files made while the other
 * server makes its own */
static void *filler_main(void *arg)
{
	filler *f = arg;
	for (int i = 0; i < 2000 && f->rc == 0; i++) {
		char row[32];
		snprintf(row, sizeof(row), "%s-%05d", f->table, i);
		f->rc = put1(f->s, f->table, row, row, NULL);
		if (f->rc == 0 && i % 250 == 249)
			f->rc = hr_flush(f->s, f->table);
	}
	return NULL;
}

static int check_filled(hr_server *s, const char *table)
{
	for (int i = 0; i < 2000; i++) {
		char row[32], buf[32];
		snprintf(row, sizeof(row), "%s-%05d", table, i);
		int rc = et_get(s, table, row, strlen(row), "f", "q", buf, sizeof(buf), NULL);
		if (rc < 0 || strcmp(buf, row) != 0) {
			fprintf(stdout, "# %s: get = %d, '%s'\n", row, rc, buf);
			return rc < 0 ? rc : -EUCLEAN;
		}
	}
	return 0;
}

/* storage=rados only (meta in RADOS is shared by two servers of one
 * process; LMDB must not be opened twice in one): two servers at once,
 * each creating a table and writing and flushing at the same time (ids from
 * the shared counters), then swapping their regions. */
static void t_two_servers(void)
{
	char dir[256];
	uint64_t rp, rq;
	if (!use_rados) {
		fprintf(stdout, "# skipped without storage=rados: two servers of one process "
			"need meta in RADOS\n");
		return;
	}
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(a && b);
	CHECK_RC(create_table(a, "p", &rp), 0);
	CHECK_RC(create_table(b, "q", &rq), 0);
	CHECK(rp != rq);
	CHECK_RC(hr_host_open_region(a, rp, NULL, 0), 0);
	CHECK_RC(hr_host_open_region(b, rq, NULL, 0), 0);
	filler fa = {.s = a, .table = "p"}, fb = {.s = b, .table = "q"};
	pthread_t ta, tb;
	CHECK(pthread_create(&ta, NULL, filler_main, &fa) == 0);
	CHECK(pthread_create(&tb, NULL, filler_main, &fb) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_RC(fa.rc, 0);
	CHECK_RC(fb.rc, 0);
	/* swap: each learns the other's table at the open */
	CHECK_RC(hr_host_close_region(a, rp), 0);
	CHECK_RC(hr_host_close_region(b, rq), 0);
	CHECK_RC(hr_host_open_region(b, rp, NULL, 0), 0);
	CHECK_RC(hr_host_open_region(a, rq, NULL, 0), 0);
	CHECK_RC(check_filled(b, "p"), 0);
	CHECK_RC(check_filled(a, "q"), 0);
	CHECK_RC(put1(b, "q", "x", "1", NULL), -EREMOTE);
	CHECK_RC(put1(a, "p", "x", "1", NULL), -EREMOTE);
	/* a dies; b takes q from its WAL while a's process goes on */
	CHECK_RC(put1(a, "q", "late", "L", NULL), 0);
	hr_server_close(a);
	const char *dead[] = {"a,1,1"};
	CHECK_RC(hr_host_open_region(b, rq, dead, 1), 0);
	char buf[8];
	CHECK_RC(et_get(b, "q", "late", 4, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "L") == 0);
	CHECK_RC(check_filled(b, "q"), 0);
	CHECK_RC(hr_host_wal_retire(b, "a,1,1"), 0);
	hr_server_close(b);
	test_cleanup(dir);
}

static int before_calls, after_calls, refuse;
static uint64_t after_a, after_b, after_parent;
static int after_err;

static int split_before(void *ctx, uint64_t parent)
{
	before_calls++;
	return refuse;
}

static void split_after(void *ctx, uint64_t parent, uint64_t a, uint64_t b, int err)
{
	after_calls++;
	after_parent = parent;
	after_a = a;
	after_b = b;
	after_err = err;
}

/* -EREMOTE for rows of regions hosted elsewhere; split hooks; daughters
 * stay hosted on the splitting server. */
static void t_remote_split(void)
{
	char dir[256];
	uint64_t rid, *ids;
	size_t n;
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	hr_host_set_split_hooks(a, split_before, split_after, NULL);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(put1(a, "t", "apple", "1", NULL), 0);
	CHECK_RC(put1(a, "t", "zebra", "2", NULL), 0);
	refuse = -EBUSY;
	CHECK_RC(hr_split(a, "t", "m", 1), -EBUSY);
	CHECK(before_calls == 1 && after_calls == 0);
	refuse = 0;
	CHECK_RC(hr_split(a, "t", "m", 1), 0);
	CHECK(before_calls == 2 && after_calls == 1 && after_err == 0 && after_parent == rid);
	CHECK_RC(hr_host_regions(a, &ids, &n), 0);
	CHECK(n == 2 && ids[0] == after_a && ids[1] == after_b);
	free(ids);
	/* the daughter holding "a..." moves away */
	CHECK_RC(hr_host_close_region(a, after_a), 0);
	char buf[16];
	CHECK_RC(et_get(a, "t", "apple", 5, "f", "q", buf, sizeof(buf), NULL), -EREMOTE);
	CHECK_RC(put1(a, "t", "b", "x", NULL), -EREMOTE);
	CHECK_RC(et_get(a, "t", "zebra", 5, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "2") == 0);
	CHECK_RC(put1(a, "t", "n", "3", NULL), 0);
	/* a scan of the hosted range works; one starting before it does not */
	et_str out = {0};
	hr_scan_opts so = {.mode = HR_SCAN_ROWS, .start = "m", .start_len = 1};
	CHECK_RC(et_scan_dump(a, "t", &so, &out), 0);
	CHECK_STREQ(et_cstr(&out), "n;zebra;");
	et_str_free(&out);
	hr_scan_opts so2 = {.mode = HR_SCAN_ROWS};
	CHECK_RC(et_scan_dump(a, "t", &so2, &out), -EREMOTE);
	et_str_free(&out);
	/* the split parent is gone from meta */
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), -ENOENT);
	CHECK_RC(hr_host_open_region(a, after_a, NULL, 0), 0);
	CHECK_RC(et_get(a, "t", "apple", 5, "f", "q", buf, sizeof(buf), NULL), 0);
	hr_server_close(a);
	test_cleanup(dir);
}

/* ---- a second server in another process ------------------------------------- */

/* The child: opens DIR as server "child,1,9", creates table "u", opens its
 * region, writes rows a..z, splits at "m", closes both daughters, and
 * writes the daughters' ids to DIR/ids. Exit status 0 on success. */
static int child_main(const char *dir)
{
	uint64_t rid, *ids;
	size_t n;
	char row[2] = {0, 0}, path[4200];
	hr_server *s = host_open(dir, "child,1,9", NULL);
	if (!s || create_table(s, "u", &rid) < 0 || hr_host_open_region(s, rid, NULL, 0) < 0)
		return 2;
	for (char ch = 'a'; ch <= 'z'; ch++) {
		row[0] = ch;
		if (put1(s, "u", row, row, NULL) < 0)
			return 3;
	}
	if (hr_split(s, "u", "m", 1) < 0 || hr_host_regions(s, &ids, &n) < 0 || n != 2)
		return 4;
	for (size_t i = 0; i < n; i++)
		if (hr_host_close_region(s, ids[i]) < 0)
			return 5;
	snprintf(path, sizeof(path), "%s/ids", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return 6;
	fprintf(f, "%llu %llu %llu\n", (unsigned long long)rid, (unsigned long long)ids[0],
		(unsigned long long)ids[1]);
	fclose(f);
	free(ids);
	hr_server_close(s);
	return 0;
}

/* The other child: adds family "g" to table "u", opens region id and
 * writes g:q = "G" in row "q", closes it. */
static int child_family(const char *dir, const char *id)
{
	uint64_t rid = strtoull(id, NULL, 10);
	hr_family_schema g;
	hr_server *s = host_open(dir, "child,2,9", NULL);
	hr_family_defaults(&g, "g");
	if (!s || hr_family_add(s, "u", &g) < 0 || hr_host_open_region(s, rid, NULL, 0) < 0)
		return 2;
	hr_mcell c = {"g", "q", 1, HR_TS_NOW, HR_PUT, "G", 1};
	if (hr_mutate(s, "u", "q", 1, &c, 1, 0) < 0 || hr_host_close_region(s, rid) < 0)
		return 3;
	hr_server_close(s);
	return 0;
}

static int run_child(const char *self, const char *dir, const char *id)
{
	pid_t pid;
	char *argv[] = {(char *)self, "--child", (char *)dir, (char *)id, NULL};
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
		return -1;
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char self_path[4096];

/* A table created and split by another server while this one runs: the
 * open reloads meta and serves the daughters. */
static void t_other_server(void)
{
	char dir[256], path[4200];
	unsigned long long parent, da, db;
	hr_test_tmpdir(dir, sizeof(dir), "host");
	hr_server *b = host_open(dir, "b,1,2", NULL);
	CHECK(b);
	char buf[16];
	CHECK_RC(et_get(b, "u", "a", 1, "f", "q", buf, sizeof(buf), NULL), -ENOENT);
	CHECK_RC(run_child(self_path, dir, NULL), 0);
	snprintf(path, sizeof(path), "%s/ids", dir);
	FILE *f = fopen(path, "r");
	CHECK(f);
	int got = fscanf(f, "%llu %llu %llu", &parent, &da, &db);
	fclose(f);
	CHECK(got == 3);
	/* meta's view, for the master: the daughters, in key order */
	hr_host_region_desc *rd;
	size_t nrd;
	CHECK_RC(hr_host_meta_regions(b, "nope", &rd, &nrd), -ENOENT);
	CHECK_RC(hr_host_meta_regions(b, "u", &rd, &nrd), 0);
	int ok = nrd == 2 && rd[0].id == da && rd[1].id == db && rd[0].start_len == 0 &&
		 rd[0].end_len == 1 && rd[0].end[0] == 'm' && rd[1].start_len == 1 &&
		 rd[1].start[0] == 'm' && rd[1].end_len == 0 && !strcmp(rd[1].table, "u");
	hr_host_meta_regions_free(rd, nrd);
	CHECK(ok);
	/* a table another server created, no region of it open here: the
	 * schema and the table list are meta's (a master answering a mount
	 * from its own map said ENOENT) */
	hr_table_schema schema;
	CHECK_RC(hr_table_schema_get(b, "u", &schema), 0);
	CHECK(schema.nfamilies == 1);
	char **names;
	size_t nnames;
	CHECK_RC(hr_table_list(b, &names, &nnames), 0);
	CHECK(nnames == 1 && strcmp(names[0], "u") == 0);
	hr_names_free(names, nnames);
	CHECK_RC(hr_table_schema_get(b, "nope", &schema), -ENOENT);
	CHECK_RC(hr_host_refresh(b), 0);
	CHECK_RC(hr_host_open_region(b, parent, NULL, 0), -ENOENT);
	CHECK_RC(hr_host_open_region(b, db, NULL, 0), 0);
	CHECK_RC(et_get(b, "u", "a", 1, "f", "q", buf, sizeof(buf), NULL), -EREMOTE);
	CHECK_RC(et_get(b, "u", "q", 1, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "q") == 0);
	CHECK_RC(hr_host_open_region(b, da, NULL, 0), 0);
	for (char ch = 'a'; ch <= 'z'; ch++) {
		char row[2] = {ch, 0};
		CHECK_RC(et_get(b, "u", row, 1, "f", "q", buf, sizeof(buf), NULL), 0);
		CHECK(strcmp(buf, row) == 0);
	}
	/* a family added by another server while this one hosts a region of
	 * the table: the next open here learns it, for every hosted region */
	CHECK_RC(hr_host_close_region(b, db), 0);
	char ids[32];
	snprintf(ids, sizeof(ids), "%llu", db);
	CHECK_RC(run_child(self_path, dir, ids), 0);
	CHECK_RC(hr_host_open_region(b, db, NULL, 0), 0);
	CHECK_RC(et_get(b, "u", "q", 1, "g", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "G") == 0);
	CHECK_RC(et_put(b, "u", "a", 1, "g", "q", HR_TS_NOW, "A"), 0);
	CHECK_RC(et_get(b, "u", "a", 1, "g", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "A") == 0);
	/* ids from meta's counters: a new table here never reuses the child's */
	uint64_t rid;
	CHECK_RC(create_table(b, "w", &rid), 0);
	CHECK(rid > da && rid > db);
	/* drop: the master closed the regions; meta and files go */
	CHECK_RC(hr_host_close_region(b, da), 0);
	CHECK_RC(hr_host_close_region(b, db), 0);
	snprintf(path, sizeof(path), "%s/store/%016llx", dir, da);
	CHECK(path_exists(dir, path) == 1);
	CHECK_RC(hr_host_table_drop(b, "u"), 0);
	CHECK_RC(hr_host_table_drop(b, "u"), -ENOENT);
	CHECK_RC(hr_host_open_region(b, da, NULL, 0), -ENOENT);
	snprintf(path, sizeof(path), "%s/store/%016llx", dir, da);
	CHECK(path_exists(dir, path) == 0);
	hr_server_close(b);
	test_cleanup(dir);
}

/* A crash at every durable point of a recovering open leaves a state the
 * next open (with the same dead server named) recovers completely. */
static void t_crash_in_recovery(void)
{
	char base[256], dir[512], cmd[1200];
	hr_stamp last = {0};
	uint64_t rid;
	if (use_rados) {
		/* each crash point starts from a copy made with cp -a */
		fprintf(stdout, "# skipped under storage=rados: it copies the data directory "
			"with cp (local storage only)\n");
		return;
	}
	hr_test_tmpdir(base, sizeof(base), "host");
	snprintf(dir, sizeof(dir), "%s/orig", base);
	hr_server *a = host_open(dir, "a,1,1", NULL);
	CHECK(a);
	CHECK_RC(create_table(a, "t", &rid), 0);
	CHECK_RC(hr_host_open_region(a, rid, NULL, 0), 0);
	CHECK_RC(workload(a, "t", model, &last), 0);
	hr_server_close(a);
	const char *dead[] = {"a,1,1"};
	int done = 0;
	uint64_t k;
	for (k = 0; k < 200 && !done; k++) {
		snprintf(dir, sizeof(dir), "%s/run", base);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s/orig' '%s'", dir, base, dir);
		CHECK(system(cmd) == 0);
		hr_io *io;
		CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
		hr_server *b = host_open(dir, "b,1,2", io);
		CHECK(b);
		hr_io_fault_crash_after(io, k);
		int rc = hr_host_open_region(b, rid, dead, 1);
		int crashed = hr_io_fault_crashed(io);
		hr_server_close(b);
		CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
		hr_io_destroy(io);
		if (rc == 0 && !crashed) {
			done = 1; /* every durable point of the open passed */
		} else {
			CHECK(rc < 0 || crashed);
		}
		hr_server *c = host_open(dir, "c,1,3", NULL);
		CHECK(c);
		const char *both[] = {"a,1,1", "b,1,2"};
		CHECK_RC(hr_host_open_region(c, rid, both, 2), 0);
		if (verify(c, "t", model, NULL, NULL) != 0) {
			fprintf(stdout, "# after a crash at durable point %llu\n",
				(unsigned long long)k);
			CHECK(0);
		}
		hr_server_close(c);
	}
	CHECK(done);
	CHECK(k > 4); /* the replay's syncs, the store file's, the publish */
	fprintf(stdout, "# %llu crash points in a recovering open\n", (unsigned long long)k);
	hr_test_rmrf(base);
}

int main(int argc, char **argv)
{
	const char *stg = getenv("HREGIONFS_TEST_STORAGE");
	ceph_conf = getenv("HR_CEPH_CONF");
	rados_pool = getenv("HR_RADOS_POOL");
	use_rados = stg && strcmp(stg, "rados") == 0;
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child_family(argv[2], argv[3]);
	if (use_rados && (!ceph_conf || !*ceph_conf || !rados_pool || !*rados_pool)) {
		printf("1..0 # SKIP HREGIONFS_TEST_STORAGE=rados needs HR_CEPH_CONF and "
		       "HR_RADOS_POOL\n");
		return 0;
	}
	et_watchdog(300);
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n > 0)
		self_path[n] = 0;
	RUN(t_modes);
	RUN(t_move);
	RUN(t_wal_split);
	RUN(t_close_under_writes);
	RUN(t_close_flush_fails);
	RUN(t_open_batch);
	RUN(t_remote_split);
	RUN(t_other_server);
	RUN(t_crash_in_recovery);
	RUN(t_two_servers);
	return hr_test_done();
}
