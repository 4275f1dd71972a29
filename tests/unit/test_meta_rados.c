/* test_meta_rados.c — the metadata contract (hr_meta.h) on the RADOS omap
 * backend: the shared cases of hr_meta_cases.h, each in a namespace of its
 * own, then what only a shared backend has to show: WAL owners, the
 * commit-time checks against another process, two processes allocating
 * ids at once, and a writer killed with SIGKILL mid-stream.
 * Needs a cluster: HR_CEPH_CONF and HR_RADOS_POOL (source
 * /work/devcluster/env, or scripts/cluster_up.sh); skipped without. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include "engine/hr_meta.h"
#include "engine/hr_verify.h"
#include "hr_etest.h"
#include "hr_test.h"

static rados_t cluster;
static char ns_base[64];
static int nopened;
/* every namespace used, to remove the meta object at the end */
static rados_ioctx_t ioctxs[64];
static int nioctx;

static int connect_cluster(rados_t *c)
{
	int rc = rados_create(c, NULL);
	if (rc < 0)
		return rc;
	if ((rc = rados_conf_read_file(*c, getenv("HR_CEPH_CONF"))) < 0 ||
	    (rc = rados_conf_set(*c, "client_mount_timeout", "10")) < 0 ||
	    (rc = rados_conf_set(*c, "rados_osd_op_timeout", "30")) < 0 ||
	    (rc = rados_connect(*c)) < 0) {
		rados_shutdown(*c);
		return rc;
	}
	return 0;
}

/* A fresh namespace's ioctx (owned by the test, removed at the end). */
static rados_ioctx_t new_ioctx(char *ns, size_t len)
{
	rados_ioctx_t io;
	if (nioctx == 64 || rados_ioctx_create(cluster, getenv("HR_RADOS_POOL"), &io) < 0)
		return NULL;
	snprintf(ns, len, "%s-%d", ns_base, nopened++);
	rados_ioctx_set_namespace(io, ns);
	ioctxs[nioctx++] = io;
	return io;
}

static hr_meta *mc_open(hr_io *io)
{
	char ns[96];
	hr_meta *m;
	rados_ioctx_t ioc = new_ioctx(ns, sizeof(ns));
	return ioc && hr_meta_open_rados(ioc, "", io, &m) == 0 ? m : NULL;
}

#include "hr_meta_cases.h"

/* WAL records are the owner's: two owners on one object never see each
 * other's; everything else is shared. */
static void mr_wal_owners(void)
{
	char ns[96];
	rados_ioctx_t ioc = new_ioctx(ns, sizeof(ns));
	hr_meta *a, *b;
	hr_meta_txn *t;
	CHECK(ioc);
	CHECK_RC(hr_meta_open_rados(ioc, "h1,1,1", hr_io_posix(), &a), 0);
	CHECK_RC(hr_meta_open_rados(ioc, "h1,1,2", hr_io_posix(), &b), 0);
	CHECK_RC(hr_meta_open_rados(ioc, "a/b", hr_io_posix(), &(hr_meta *){NULL}), -EINVAL);
	CHECK_RC(hr_meta_begin(a, 1, &t), 0);
	CHECK_RC(hr_meta_wal_put(t, 1), 0);
	CHECK_RC(hr_meta_wal_put(t, 2), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(b, 1, &t), 0);
	CHECK_RC(hr_meta_wal_put(t, 7), 0);
	CHECK_RC(hr_meta_wal_del(t, 1), 0); /* not b's: no effect on a's */
	CHECK_RC(hr_meta_counter_put(t, "c", 4), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	mc_seen wa = {""}, wb = {""};
	CHECK_RC(hr_meta_begin(a, 0, &t), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_wal_cb, &wa), 0);
	hr_meta_abort(t);
	CHECK_RC(hr_meta_begin(b, 0, &t), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_wal_cb, &wb), 0);
	hr_meta_abort(t);
	CHECK(strcmp(wa.s, "1;2;") == 0);
	CHECK(strcmp(wb.s, "7;") == 0);
	CHECK_RC(mc_counter(a, "c"), 4);
	hr_meta_close(a);
	hr_meta_close(b);
}

/* Another process (here: another handle on the same object) commits
 * between a transaction's decision and its commit: the commit writes
 * nothing and says -EAGAIN; a counter raise is merged instead. */
static void mr_cross_checks(void)
{
	char ns[96];
	rados_ioctx_t ioc = new_ioctx(ns, sizeof(ns));
	hr_meta *a, *b;
	hr_meta_txn *ta, *tb;
	uint64_t first;
	CHECK(ioc);
	CHECK_RC(hr_meta_open_rados(ioc, "", hr_io_posix(), &a), 0);
	CHECK_RC(hr_meta_open_rados(ioc, "", hr_io_posix(), &b), 0);
	hr_meta_store s1 = {.region_id = 1, .family = "f", .flushed_seq = 1};
	hr_meta_store s2 = {.region_id = 1, .family = "f", .flushed_seq = 2};
	CHECK_RC(hr_meta_begin(a, 1, &ta), 0);
	CHECK_RC(hr_meta_store_add(ta, &s1), 0);
	CHECK_RC(hr_meta_wal_put(ta, 9), 0);
	CHECK_RC(hr_meta_begin(b, 1, &tb), 0);
	CHECK_RC(hr_meta_store_add(tb, &s2), 0);
	CHECK_RC(hr_meta_commit(tb), 0);
	CHECK_RC(hr_meta_commit(ta), -EAGAIN);
	mc_seen w = {""};
	CHECK_RC(hr_meta_begin(a, 0, &ta), 0);
	CHECK_RC(hr_meta_store_each(ta, mc_store_cb, &w), 0);
	CHECK_RC(hr_meta_wal_each(ta, mc_wal_cb, &w), 0);
	hr_meta_abort(ta);
	CHECK(strcmp(w.s, "1/f:2:;") == 0); /* b's, and none of a's */

	/* snapshot names: both see the name free, one wins */
	CHECK_RC(hr_meta_begin(a, 1, &ta), 0);
	CHECK_RC(hr_meta_snap_add(ta, "t", "s", "A", 1), 0);
	CHECK_RC(hr_meta_begin(b, 1, &tb), 0);
	CHECK_RC(hr_meta_snap_add(tb, "t", "s", "B", 1), 0);
	CHECK_RC(hr_meta_commit(tb), 0);
	CHECK_RC(hr_meta_commit(ta), -EAGAIN);

	/* raises meet an allocation in between: the larger wins, no error */
	CHECK_RC(hr_meta_begin(a, 1, &ta), 0);
	CHECK_RC(hr_meta_counter_raise(ta, "next_region_id", 10), 0);
	CHECK_RC(hr_meta_counter_alloc(b, "next_region_id", 3, 0, &first), 0);
	CHECK_RC(first, 0);
	CHECK_RC(hr_meta_commit(ta), 0);
	CHECK_RC(mc_counter(b, "next_region_id"), 10);
	CHECK_RC(hr_meta_begin(a, 1, &ta), 0);
	CHECK_RC(hr_meta_counter_raise(ta, "next_region_id", 12), 0);
	CHECK_RC(hr_meta_counter_alloc(b, "next_region_id", 5, 0, &first), 0);
	CHECK_RC(first, 10);
	CHECK_RC(hr_meta_commit(ta), 0);
	CHECK_RC(mc_counter(b, "next_region_id"), 15);
	hr_meta_close(a);
	hr_meta_close(b);
}

/* ---- several processes ---- */

/* A child's own connection (librados state is not fork-safe). */
static int child_open(const char *ns, rados_t *c, rados_ioctx_t *io, hr_meta **m)
{
	if (connect_cluster(c) < 0)
		return -1;
	if (rados_ioctx_create(*c, getenv("HR_RADOS_POOL"), io) < 0)
		return -1;
	rados_ioctx_set_namespace(*io, ns);
	return hr_meta_open_rados(*io, "", hr_io_posix(), m);
}

#define ALLOCS 150

/* Allocates ALLOCS ranges from two counters, half by counter_alloc, half
 * by a counter_get + raise transaction; writes "name first n" lines. */
static void alloc_child(const char *ns, int fd, unsigned seed)
{
	rados_t c;
	rados_ioctx_t io;
	hr_meta *m;
	if (child_open(ns, &c, &io, &m) < 0)
		_exit(3);
	FILE *out = fdopen(fd, "w");
	for (int i = 0; i < ALLOCS; i++) {
		const char *name = i % 2 ? "next_file_id" : "next_region_id";
		uint64_t n = 1 + rand_r(&seed) % 3, first;
		if (i % 4 < 2) {
			if (hr_meta_counter_alloc(m, name, n, 1, &first) < 0)
				_exit(4);
		} else {
			/* the engine's pattern: read, use, raise; redo on -EAGAIN */
			int rc;
			do {
				hr_meta_txn *t;
				if (hr_meta_begin(m, 1, &t) < 0 ||
				    hr_meta_counter_get(t, name, &first) < 0)
					_exit(5);
				first = first ? first : 1;
				if (hr_meta_counter_put(t, name, first + n) < 0)
					_exit(5);
				rc = hr_meta_commit(t);
			} while (rc == -EAGAIN);
			if (rc < 0)
				_exit(6);
		}
		fprintf(out, "%s %llu %llu\n", name, (unsigned long long)first,
			(unsigned long long)n);
	}
	fclose(out);
	hr_meta_close(m);
	rados_ioctx_destroy(io);
	rados_shutdown(c);
	_exit(0);
}

typedef struct range {
	int file;
	uint64_t first, n;
} range;

static int range_cmp(const void *a, const void *b)
{
	const range *x = a, *y = b;
	if (x->file != y->file)
		return x->file - y->file;
	return x->first < y->first ? -1 : x->first > y->first;
}

static int wait_child(pid_t pid, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Two processes allocating region and file ids at once never get
 * overlapping ranges, by either way of allocating. */
static void mr_two_process_alloc(void)
{
	char ns[96];
	CHECK(new_ioctx(ns, sizeof(ns)));
	range *rs = calloc(2 * ALLOCS, sizeof(range));
	size_t nr = 0;
	int fds[2][2];
	pid_t pids[2];
	CHECK(rs);
	for (int k = 0; k < 2; k++) {
		CHECK_RC(pipe(fds[k]), 0);
		fflush(stdout);
		pids[k] = fork();
		CHECK(pids[k] >= 0);
		if (pids[k] == 0) {
			close(fds[k][0]);
			alloc_child(ns, fds[k][1], 17u + (unsigned)k);
		}
		close(fds[k][1]);
	}
	for (int k = 0; k < 2; k++) {
		FILE *in = fdopen(fds[k][0], "r");
		char name[32];
		unsigned long long f, n;
		while (nr < 2 * ALLOCS && fscanf(in, "%31s %llu %llu", name, &f, &n) == 3)
			rs[nr++] = (range){strcmp(name, "next_file_id") == 0, f, n};
		fclose(in);
	}
	int st0 = wait_child(pids[0], 120), st1 = wait_child(pids[1], 120);
	CHECK_RC(st0, 0);
	CHECK_RC(st1, 0);
	CHECK_RC(nr, 2 * ALLOCS);
	qsort(rs, nr, sizeof(range), range_cmp);
	for (size_t i = 1; i < nr; i++)
		if (rs[i].file == rs[i - 1].file)
			CHECK(rs[i - 1].first + rs[i - 1].n <= rs[i].first);
	free(rs);
}

#define KILL_RECS 20

/* Commits transaction i = 1, 2, ...: KILL_RECS store records of region i
 * and counter "done" = i, all in one; reports each commit on fd. */
static void commit_child(const char *ns, int fd)
{
	rados_t c;
	rados_ioctx_t io;
	hr_meta *m;
	if (child_open(ns, &c, &io, &m) < 0)
		_exit(3);
	uint64_t files[3] = {1, 2, 3};
	for (uint64_t i = 1;; i++) {
		hr_meta_txn *t;
		if (hr_meta_begin(m, 1, &t) < 0)
			_exit(4);
		for (int j = 0; j < KILL_RECS; j++) {
			hr_meta_store s = {.region_id = i, .flushed_seq = i, .nfiles = 3,
					   .files = files};
			snprintf(s.family, sizeof(s.family), "f%02d", j);
			if (hr_meta_store_put(t, &s) < 0)
				_exit(4);
		}
		if (i > 1 && hr_meta_store_del(t, i - 1, "f00") < 0)
			_exit(4);
		if (hr_meta_counter_put(t, "done", i) < 0 || hr_meta_commit(t) < 0)
			_exit(5);
		if (write(fd, "x", 1) != 1)
			_exit(6);
	}
}

typedef struct kill_seen {
	uint64_t per_region[4096];
} kill_seen;

static int kill_cb(void *ctx, const hr_meta_store *s)
{
	kill_seen *k = ctx;
	if (s->region_id < 4096)
		k->per_region[s->region_id]++;
	return 0;
}

/* A writer killed with SIGKILL in the middle of a stream of commits
 * leaves the metadata at a transaction boundary: every transaction up to
 * the counter whole, none after it, nothing half. */
static void kill9_after(int after)
{
	char ns[96];
	rados_ioctx_t ioc = new_ioctx(ns, sizeof(ns));
	int fd[2];
	CHECK(ioc);
	CHECK_RC(pipe(fd), 0);
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		commit_child(ns, fd[1]);
	}
	close(fd[1]);
	/* kill it after some reported commits: it is then sending the next */
	char b;
	int n = 0;
	while (n < after && read(fd[0], &b, 1) == 1)
		n++;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd[0]);
	CHECK_RC(n, after);
	hr_meta *m;
	hr_meta_txn *t;
	CHECK_RC(hr_meta_open_rados(ioc, "", hr_io_posix(), &m), 0);
	uint64_t done = mc_counter(m, "done");
	kill_seen *k = calloc(1, sizeof(*k));
	CHECK(k);
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_store_each(t, kill_cb, k), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	printf("# killed after %llu commits\n", (unsigned long long)done);
	CHECK(done >= (uint64_t)after && done < 4000);
	for (uint64_t i = 1; i < 4096; i++) {
		uint64_t want = i < done ? KILL_RECS - 1 : i == done ? KILL_RECS : 0;
		if (k->per_region[i] != want)
			printf("# region %llu: %llu records, want %llu\n", (unsigned long long)i,
			       (unsigned long long)k->per_region[i], (unsigned long long)want);
		CHECK(k->per_region[i] == want);
	}
	free(k);
}

static void mr_kill9_mid_commits(void)
{
	int before = hr_t_cur_failed;
	for (int after = 1; after <= 40 && hr_t_cur_failed == before; after += 13)
		kill9_after(after);
}

/* Removes every object of namespace ns (an engine test's data directory). */
static void purge_ns(const char *ns)
{
	rados_ioctx_t io;
	rados_list_ctx_t ls;
	const char *oid;
	if (rados_ioctx_create(cluster, getenv("HR_RADOS_POOL"), &io) < 0)
		return;
	rados_ioctx_set_namespace(io, ns);
	if (rados_nobjects_list_open(io, &ls) == 0) {
		while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0)
			rados_remove(io, oid);
		rados_nobjects_list_close(ls);
	}
	rados_ioctx_destroy(io);
}

/* The first store file (<id>.hsf) under dir, through io. */
static int find_hsf(hr_io *io, const char *dir, char *out, size_t len)
{
	hr_io_dirent *e;
	size_t n;
	int found = 0;
	if (hr_io_list(io, dir, &e, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !found; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, e[i].name);
		size_t l = strlen(e[i].name);
		if (e[i].is_dir)
			found = find_hsf(io, p, out, len);
		else if (l > 4 && strcmp(e[i].name + l - 4, ".hsf") == 0)
			found = snprintf(out, len, "%s", p) > 0;
	}
	hr_io_list_free(e, n);
	return found;
}

/* The engine with storage=rados keeps its metadata in meta_rados: a
 * reopen finds the table and its flushed cells, and hregionctl's offline
 * path (hr_meta_dir_open + hr_verify) checks the metadata against the
 * store files in the same namespace — clean, then one missing file. */
static void mr_engine_verify(void)
{
	char dir[PATH_MAX], hsf[PATH_MAX], buf[32], row[16];
	hr_config c;
	hr_server *s;
	hr_meta_dir md;
	hr_verify_report r;
	hr_test_tmpdir(dir, sizeof(dir), "metarados");
	et_config(&c, dir);
	c.storage = HR_STORAGE_RADOS;
	snprintf(c.ceph_conf, sizeof(c.ceph_conf), "%s", getenv("HR_CEPH_CONF"));
	snprintf(c.rados_pool, sizeof(c.rados_pool), "%s", getenv("HR_RADOS_POOL"));
	snprintf(c.rados_namespace, sizeof(c.rados_namespace), "%s-engine", ns_base);
	CHECK_RC(hr_meta_dir_open(&c, &md), -ENOENT); /* nothing there yet */
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	for (int i = 0; i < 50; i++) {
		int n = snprintf(row, sizeof(row), "r%03d", i);
		CHECK_RC(et_put(s, "t", row, (size_t)n, "cf", "q", HR_TS_NOW, "v"), 0);
	}
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_get(s, "t", "r049", 4, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK(strcmp(buf, "v") == 0);
	CHECK_RC(hr_server_close(s), 0);

	CHECK_RC(hr_meta_dir_open(&c, &md), 0);
	int rc = hr_verify_store_files(md.meta, md.io, dir, 0, &r);
	int clean = hr_verify_clean(&r);
	uint64_t refs = r.referenced, on_disk = r.on_disk;
	char store[PATH_MAX + 8];
	snprintf(store, sizeof(store), "%s/store", dir);
	int found = find_hsf(md.io, store, hsf, sizeof(hsf));
	int urc = found ? hr_io_unlink(md.io, hsf) : -ENOENT;
	int rc2 = hr_verify_store_files(md.meta, md.io, dir, 0, &r);
	hr_meta_dir_close(&md);
	purge_ns(c.rados_namespace);
	hr_test_rmrf(dir);
	CHECK_RC(rc, 0);
	CHECK(clean);
	CHECK(refs >= 1 && on_disk == refs);
	CHECK(found);
	CHECK_RC(urc, 0);
	CHECK_RC(rc2, 0);
	CHECK_RC(r.missing, 1);
}

int main(void)
{
	if (!getenv("HR_CEPH_CONF") || !*getenv("HR_CEPH_CONF") || !getenv("HR_RADOS_POOL") ||
	    !*getenv("HR_RADOS_POOL")) {
		printf("ok 1 test_meta_rados # SKIP no cluster: HR_CEPH_CONF/HR_RADOS_POOL unset "
		       "(source /work/devcluster/env or scripts/cluster_up.sh)\n1..1\n");
		return 0;
	}
	int rc = connect_cluster(&cluster);
	if (rc < 0) {
		printf("# cannot connect to the cluster of %s: %s\nnot ok 1 connect\n1..1\n",
		       getenv("HR_CEPH_CONF"), strerror(-rc));
		return 1;
	}
	snprintf(ns_base, sizeof(ns_base), "hrtest-meta-%ld-%d", (long)time(NULL), (int)getpid());
	MC_RUN_ALL();
	RUN(mr_wal_owners);
	RUN(mr_cross_checks);
	RUN(mr_two_process_alloc);
	RUN(mr_kill9_mid_commits);
	RUN(mr_engine_verify);
	for (int i = 0; i < nioctx; i++) {
		rados_remove(ioctxs[i], HR_META_RADOS_OBJECT);
		rados_ioctx_destroy(ioctxs[i]);
	}
	rados_shutdown(cluster);
	return hr_test_done();
}
