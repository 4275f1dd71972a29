/*
 * test_io_rados.c — the I/O seam's contract (hr_io.h) over RADOS objects
 * (io_rados.c), against a live Ceph cluster: HR_CEPH_CONF and
 * HR_RADOS_POOL in the environment (scripts/cluster_up.sh prints them; the
 * development cluster's /work/devcluster/env sets them). Without them the
 * whole file is skipped with a TAP skip line saying so.
 *
 * Each run works in a namespace of its own and removes its objects at the
 * end. The crash test re-executes this binary as a writer child
 * ("--writer ns root") and kills it with SIGKILL mid-workload: a fresh
 * process, because a forked child of a process with librados' threads may
 * not use librados.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_format.h"
#include "engine/hr_io_rados.h"
#include "hr_test.h"

static const char *conf, *pool;
static char nspace[128], tmpdir[PATH_MAX], root[PATH_MAX];
static hr_rados *rad;
static hr_io *io;

static void pathof(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", root, rel);
}

/* Bytes of file (a function of the offset) so any misplaced byte shows. */
static uint8_t pat(uint64_t seed, uint64_t off) { return (uint8_t)((off * 131 + seed * 7) >> 3); }

static void fill(uint8_t *b, size_t n, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(seed, off + i);
}

static int check_pat(const uint8_t *b, size_t n, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seed, off + i))
			return 0;
	return 1;
}

/* Writes a whole file of len pattern bytes and syncs it. */
static int put_file(hr_io *o, const char *path, uint64_t seed, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	fill(b, len, seed, 0);
	int rc = hr_io_write_file(o, path, HR_IO_TRUNC, b, len);
	free(b);
	return rc;
}

/* 1 if path holds exactly len pattern bytes of seed. */
static int file_is(hr_io *o, const char *path, uint64_t seed, size_t len)
{
	int fd = hr_io_open(o, path, HR_IO_RDONLY);
	if (fd < 0)
		return 0;
	uint64_t size = 0;
	uint8_t *b = malloc(len + 1);
	int ok = hr_io_size(o, fd, &size) == 0 && size == len &&
		 hr_io_pread_all(o, fd, b, len, 0) == 0 && check_pat(b, len, seed, 0) &&
		 hr_io_pread(o, fd, b, 1, len) == 0;
	free(b);
	hr_io_close(o, fd);
	return ok;
}

/* How many objects of the namespace start with prefix. */
static int count_objects(const char *prefix)
{
	rados_list_ctx_t ls;
	int n = 0;
	if (rados_nobjects_list_open(hr_rados_ioctx(rad), &ls) < 0)
		return -1;
	const char *oid;
	while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0)
		n += strncmp(oid, prefix, strlen(prefix)) == 0;
	rados_nobjects_list_close(ls);
	return n;
}

static void ino_prefix(uint64_t ino, char *buf, size_t len)
{
	snprintf(buf, len, "hr.%016" PRIx64, ino);
}

/* ---- tests ------------------------------------------------------------- */

static void t_write_read_size_truncate(void)
{
	char p[PATH_MAX];
	pathof(p, sizeof(p), "f1");
	int fd = hr_io_open(io, p, HR_IO_RDWR | HR_IO_CREATE | HR_IO_EXCL);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_open(io, p, HR_IO_RDWR | HR_IO_CREATE | HR_IO_EXCL), -EEXIST);
	uint8_t b[8192], g[8192];
	fill(b, sizeof(b), 1, 0);
	CHECK_RC(hr_io_pwrite_all(io, fd, b, sizeof(b), 0), 0);
	uint64_t size = 0;
	CHECK_RC(hr_io_size(io, fd, &size), 0);
	CHECK_RC(size, 8192);
	/* a write across a chunk boundary stops there (a short write) ... */
	uint64_t off = HR_RADOS_CHUNK - 100;
	fill(b, 300, 1, off);
	CHECK_RC(hr_io_pwrite(io, fd, b, 300, off), 100);
	/* ... and hr_io_pwrite_all finishes it */
	CHECK_RC(hr_io_pwrite_all(io, fd, b, 300, off), 0);
	CHECK_RC(hr_io_size(io, fd, &size), 0);
	CHECK_RC(size, off + 300);
	CHECK_RC(hr_io_pread_all(io, fd, g, 300, off), 0);
	CHECK(check_pat(g, 300, 1, off));
	/* the gap between the two writes is a hole: zeros */
	CHECK_RC(hr_io_pread_all(io, fd, g, 4096, 8192), 0);
	for (int i = 0; i < 4096; i++)
		CHECK(g[i] == 0);
	/* a read past the end: 0; one across it: short */
	CHECK_RC(hr_io_pread(io, fd, g, 10, off + 300), 0);
	CHECK_RC(hr_io_pread(io, fd, g, 50, off + 280), 20);
	CHECK_RC(hr_io_sync(io, fd, 1), 0);
	/* truncate down cuts into the first chunk; extending reads zeros
	 * where the old bytes were */
	CHECK_RC(hr_io_truncate(io, fd, 1000), 0);
	CHECK_RC(hr_io_size(io, fd, &size), 0);
	CHECK_RC(size, 1000);
	CHECK_RC(hr_io_truncate(io, fd, 3000), 0);
	CHECK_RC(hr_io_pread_all(io, fd, g, 3000, 0), 0);
	CHECK(check_pat(g, 1000, 1, 0));
	for (int i = 1000; i < 3000; i++)
		CHECK(g[i] == 0);
	CHECK_RC(hr_io_close(io, fd), 0);

	/* a write that returned is in RADOS before any sync (a second hr_io
	 * is another process's view) */
	{
		char w[PATH_MAX];
		pathof(w, sizeof(w), "f-through");
		int wfd = hr_io_open(io, w, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_EXCL);
		CHECK(wfd >= 0);
		fill(b, 5000, 11, 0);
		CHECK_RC(hr_io_pwrite_all(io, wfd, b, 5000, 0), 0);
		hr_io *o3;
		CHECK_RC(hr_io_rados_new(rad, root, &o3), 0);
		CHECK(file_is(o3, w, 11, 5000));
		hr_io_destroy(o3);
		CHECK_RC(hr_io_close(io, wfd), 0);
		CHECK_RC(hr_io_unlink(io, w), 0);
	}
	/* another process's view (a second hr_io): what was synced */
	hr_io *o2;
	CHECK_RC(hr_io_rados_new(rad, root, &o2), 0);
	fd = hr_io_open(o2, p, HR_IO_RDONLY);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_size(o2, fd, &size), 0);
	CHECK_RC(size, 3000);
	CHECK_RC(hr_io_pwrite(o2, fd, b, 1, 0), -EBADF);
	CHECK_RC(hr_io_close(o2, fd), 0);
	/* O_TRUNC empties it */
	fd = hr_io_open(o2, p, HR_IO_WRONLY | HR_IO_TRUNC);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_size(o2, fd, &size), 0);
	CHECK_RC(size, 0);
	CHECK_RC(hr_io_close(o2, fd), 0);
	hr_io_destroy(o2);
	char q[PATH_MAX];
	pathof(q, sizeof(q), "missing");
	CHECK_RC(hr_io_open(io, q, HR_IO_RDONLY), -ENOENT);
	pathof(q, sizeof(q), "nodir/x");
	CHECK_RC(hr_io_open(io, q, HR_IO_RDWR | HR_IO_CREATE), -ENOENT);
	pathof(q, sizeof(q), "f1/x");
	CHECK_RC(hr_io_open(io, q, HR_IO_RDWR | HR_IO_CREATE), -ENOTDIR);
	CHECK_RC(hr_io_unlink(io, p), 0);
}

static void t_rename(void)
{
	char a[PATH_MAX], b[PATH_MAX], d1[PATH_MAX], d2[PATH_MAX], c[PATH_MAX];
	pathof(d1, sizeof(d1), "r1");
	pathof(d2, sizeof(d2), "r2");
	CHECK_RC(hr_io_mkdir(io, d1), 0);
	CHECK_RC(hr_io_mkdir(io, d2), 0);
	pathof(a, sizeof(a), "r1/a");
	pathof(b, sizeof(b), "r1/b");
	CHECK_RC(put_file(io, a, 2, 5000), 0);
	CHECK_RC(put_file(io, b, 3, 7000), 0);
	hr_io_attr st;
	CHECK_RC(hr_io_stat(io, b, &st), 0);
	char pre[64];
	ino_prefix(st.ino, pre, sizeof(pre));
	CHECK_RC(count_objects(pre), 1);
	/* within a directory: b now is a's file, b's old file is gone */
	CHECK_RC(hr_io_rename(io, a, b), 0);
	CHECK_RC(hr_io_stat(io, a, &st), -ENOENT);
	CHECK(file_is(io, b, 2, 5000));
	CHECK_RC(count_objects(pre), 0);
	/* across directories */
	pathof(c, sizeof(c), "r2/c");
	CHECK_RC(hr_io_rename(io, b, c), 0);
	CHECK_RC(hr_io_stat(io, b, &st), -ENOENT);
	CHECK(file_is(io, c, 2, 5000));
	CHECK_RC(hr_io_stat(io, c, &st), 0);
	CHECK_RC(st.nlink, 1);
	/* a whole directory, with its contents */
	char d3[PATH_MAX], c3[PATH_MAX];
	pathof(d3, sizeof(d3), "r1/moved");
	CHECK_RC(hr_io_rename(io, d2, d3), 0);
	pathof(c3, sizeof(c3), "r1/moved/c");
	CHECK(file_is(io, c3, 2, 5000));
	CHECK_RC(hr_io_stat(io, d2, &st), -ENOENT);
	/* over a non-empty directory, a file over a directory, and back */
	CHECK_RC(hr_io_mkdir(io, d2), 0);
	char x[PATH_MAX];
	pathof(x, sizeof(x), "r2/x");
	CHECK_RC(put_file(io, x, 4, 10), 0);
	CHECK_RC(hr_io_rename(io, d3, d2), -ENOTEMPTY);
	CHECK_RC(hr_io_rename(io, x, d3), -EISDIR);
	CHECK_RC(hr_io_rename(io, d3, x), -ENOTDIR);
	CHECK_RC(hr_io_unlink(io, x), 0);
	CHECK_RC(hr_io_rename(io, d3, d2), 0); /* over an empty one: allowed */
	char c2[PATH_MAX];
	pathof(c2, sizeof(c2), "r2/c");
	CHECK(file_is(io, c2, 2, 5000));
	CHECK_RC(hr_io_rename(io, a, c2), -ENOENT);
	/* between the root and elsewhere: not the same file system */
	char out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/outside", tmpdir);
	CHECK_RC(hr_io_rename(io, c2, out), -EXDEV);
	CHECK_RC(hr_io_unlink(io, c2), 0);
	CHECK_RC(hr_io_rmdir(io, d2), 0);
	CHECK_RC(hr_io_rmdir(io, d1), 0);
}

static void t_link_nlink_unlink(void)
{
	char a[PATH_MAX], b[PATH_MAX], d[PATH_MAX];
	pathof(d, sizeof(d), "ln");
	CHECK_RC(hr_io_mkdir(io, d), 0);
	pathof(a, sizeof(a), "f-link-a");
	pathof(b, sizeof(b), "ln/b");
	CHECK_RC(put_file(io, a, 5, 9000), 0);
	CHECK_RC(hr_io_link(io, a, b), 0);
	CHECK_RC(hr_io_link(io, a, b), -EEXIST);
	CHECK_RC(hr_io_link(io, d, b), -EPERM);
	hr_io_attr sa, sb;
	CHECK_RC(hr_io_stat(io, a, &sa), 0);
	CHECK_RC(hr_io_stat(io, b, &sb), 0);
	CHECK_RC(sa.ino, sb.ino);
	CHECK_RC(sa.nlink, 2);
	CHECK_RC(sb.size, 9000);
	/* one name goes, the data stays under the other */
	CHECK_RC(hr_io_unlink(io, a), 0);
	CHECK_RC(hr_io_stat(io, b, &sb), 0);
	CHECK_RC(sb.nlink, 1);
	CHECK(file_is(io, b, 5, 9000));
	char pre[64];
	ino_prefix(sb.ino, pre, sizeof(pre));
	CHECK_RC(count_objects(pre), 1);
	/* unlinked while open: readable until the last close (POSIX) */
	int fd = hr_io_open(io, b, HR_IO_RDONLY);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_unlink(io, b), 0);
	CHECK_RC(hr_io_stat(io, b, &sb), -ENOENT);
	uint8_t g[9000];
	CHECK_RC(hr_io_pread_all(io, fd, g, sizeof(g), 0), 0);
	CHECK(check_pat(g, sizeof(g), 5, 0));
	CHECK_RC(count_objects(pre), 1);
	CHECK_RC(hr_io_close(io, fd), 0);
	CHECK_RC(count_objects(pre), 0);
	/* a file of several chunks leaves no chunk behind */
	size_t big = HR_RADOS_CHUNK * 2 + 10;
	CHECK_RC(put_file(io, a, 6, big), 0);
	CHECK_RC(hr_io_stat(io, a, &sa), 0);
	ino_prefix(sa.ino, pre, sizeof(pre));
	CHECK_RC(count_objects(pre), 3);
	CHECK(file_is(io, a, 6, big));
	CHECK_RC(hr_io_unlink(io, a), 0);
	CHECK_RC(count_objects(pre), 0);
	CHECK_RC(hr_io_unlink(io, a), -ENOENT);
	CHECK_RC(hr_io_unlink(io, d), -EISDIR);
	CHECK_RC(hr_io_rmdir(io, d), 0);
}

static int cmp_dirent(const void *x, const void *y)
{
	return strcmp(((const hr_io_dirent *)x)->name, ((const hr_io_dirent *)y)->name);
}

static void t_list_rmdir_stat(void)
{
	char d[PATH_MAX], p[PATH_MAX];
	pathof(d, sizeof(d), "ls");
	CHECK_RC(hr_io_mkdir(io, d), 0);
	CHECK_RC(hr_io_mkdir(io, d), -EEXIST);
	CHECK_RC(hr_io_mkdir(io, root), -EEXIST);
	/* more entries than one listing page */
	enum { N = 700 };
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "%s/e%04d", d, i);
		if (i == 7)
			CHECK_RC(hr_io_mkdir(io, p), 0);
		else
			CHECK_RC(hr_io_write_file(io, p, HR_IO_EXCL, "x", 1), 0);
	}
	hr_io_dirent *e;
	size_t n;
	CHECK_RC(hr_io_list(io, d, &e, &n), 0);
	CHECK_RC(n, N);
	qsort(e, n, sizeof(*e), cmp_dirent);
	int ok = 1;
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "e%04d", i);
		ok &= strcmp(e[i].name, p) == 0 && e[i].is_dir == (i == 7);
	}
	hr_io_list_free(e, n);
	CHECK(ok);
	CHECK_RC(hr_io_rmdir(io, d), -ENOTEMPTY);
	hr_io_attr st;
	snprintf(p, sizeof(p), "%s/e0001", d);
	CHECK_RC(hr_io_rmdir(io, p), -ENOTDIR);
	CHECK_RC(hr_io_stat(io, p, &st), 0);
	CHECK(!st.is_dir);
	CHECK_RC(st.size, 1);
	CHECK_RC(st.nlink, 1);
	int64_t now = (int64_t)time(NULL) * 1000;
	CHECK(st.mtime_ms > now - 600000 && st.mtime_ms < now + 600000);
	CHECK_RC(hr_io_stat(io, d, &st), 0);
	CHECK(st.is_dir);
	CHECK_RC(hr_io_stat(io, root, &st), 0);
	CHECK(st.is_dir);
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	CHECK_RC(hr_io_sync_dir(io, p), -ENOTDIR);
	CHECK_RC(hr_io_list(io, p, &e, &n), -ENOTDIR);
	/* hr_io_rmrf over the seam: everything goes, objects included */
	CHECK_RC(hr_io_rmrf(io, d), 0);
	CHECK_RC(hr_io_stat(io, d, &st), -ENOENT);
	CHECK_RC(hr_io_list(io, d, &e, &n), -ENOENT);
	CHECK_RC(hr_io_rmdir(io, d), -ENOENT);
	/* mkdirs of a deep path, then rmdir of the empty leaf */
	pathof(p, sizeof(p), "deep/a/b/c");
	CHECK_RC(hr_io_mkdirs(io, p), 0);
	CHECK_RC(hr_io_rmdir(io, p), 0);
	pathof(p, sizeof(p), "deep");
	CHECK_RC(hr_io_rmrf(io, p), 0);
}

static void t_posix_outside_root(void)
{
	char out[PATH_MAX], out2[PATH_MAX], sub[PATH_MAX];
	snprintf(out, sizeof(out), "%s/local-file", tmpdir);
	snprintf(out2, sizeof(out2), "%s/local-file2", tmpdir);
	snprintf(sub, sizeof(sub), "%s/local-dir", tmpdir);
	CHECK_RC(hr_io_write_file(io, out, HR_IO_EXCL, "hello", 5), 0);
	struct stat sb;
	CHECK_RC(stat(out, &sb), 0); /* really on the local disk */
	CHECK_RC(sb.st_size, 5);
	CHECK_RC(hr_io_rename(io, out, out2), 0);
	CHECK_RC(stat(out2, &sb), 0);
	CHECK_RC(hr_io_mkdir(io, sub), 0);
	CHECK_RC(stat(sub, &sb), 0);
	CHECK(S_ISDIR(sb.st_mode));
	/* a copy from the root to outside (an export), through one hr_io */
	char in[PATH_MAX];
	pathof(in, sizeof(in), "to-export");
	CHECK_RC(put_file(io, in, 8, 20000), 0);
	int src = hr_io_open(io, in, HR_IO_RDONLY);
	snprintf(out, sizeof(out), "%s/local-dir/copy", tmpdir);
	int dst = hr_io_open(io, out, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_EXCL);
	CHECK(src >= 0 && dst >= 0);
	CHECK_RC(hr_io_copy(io, src, dst, 20000, NULL), 0);
	CHECK_RC(hr_io_sync(io, dst, 0), 0);
	CHECK_RC(hr_io_close(io, src), 0);
	CHECK_RC(hr_io_close(io, dst), 0);
	CHECK_RC(stat(out, &sb), 0);
	CHECK_RC(sb.st_size, 20000);
	CHECK(file_is(io, out, 8, 20000));
	CHECK_RC(hr_io_link(io, in, out2), -EXDEV);
	/* a root-prefixed sibling is not below the root */
	char sib[PATH_MAX];
	snprintf(sib, sizeof(sib), "%s-sibling", root);
	CHECK_RC(hr_io_mkdir(io, sib), 0);
	CHECK_RC(stat(sib, &sb), 0);
	CHECK_RC(hr_io_rmdir(io, sib), 0);
	hr_io_dirent *e;
	size_t n;
	CHECK_RC(hr_io_list(io, sub, &e, &n), 0);
	CHECK_RC(n, 1);
	hr_io_list_free(e, n);
	/* the lock file is a local one */
	char lock[PATH_MAX];
	pathof(lock, sizeof(lock), "LOCK");
	int tok;
	CHECK_RC(hr_io_lock(io, lock, &tok), 0);
	CHECK_RC(stat(lock, &sb), 0);
	hr_io_unlock(io, tok);
	CHECK_RC(hr_io_unlink(io, in), 0);
}

struct thr {
	int fd, idx, ok;
};

enum { NTHR = 4, PIECE = 3000, ROUNDS = 40 };

static void *writer(void *arg)
{
	struct thr *t = arg;
	uint8_t b[PIECE], g[PIECE];
	t->ok = 1;
	for (int i = 0; i < ROUNDS; i++) {
		/* interleaved pieces: thread idx owns every NTHR-th one */
		uint64_t off = ((uint64_t)i * NTHR + (uint64_t)t->idx) * PIECE;
		fill(b, PIECE, 9, off);
		if (hr_io_pwrite_all(io, t->fd, b, PIECE, off) != 0 ||
		    hr_io_pread_all(io, t->fd, g, PIECE, off) != 0 || memcmp(b, g, PIECE) != 0)
			t->ok = 0;
	}
	return NULL;
}

static void t_threads_one_fd(void)
{
	char p[PATH_MAX];
	pathof(p, sizeof(p), "threads");
	/* pipelined writes (HR_IO_WRITEBACK): a read waits for the queue */
	int fd = hr_io_open(io, p, HR_IO_RDWR | HR_IO_CREATE | HR_IO_EXCL | HR_IO_WRITEBACK);
	CHECK(fd >= 0);
	pthread_t th[NTHR];
	struct thr t[NTHR];
	for (int i = 0; i < NTHR; i++) {
		t[i] = (struct thr){.fd = fd, .idx = i};
		pthread_create(&th[i], NULL, writer, &t[i]);
	}
	for (int i = 0; i < NTHR; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	CHECK_RC(hr_io_sync(io, fd, 0), 0);
	CHECK_RC(hr_io_close(io, fd), 0);
	CHECK(file_is(io, p, 9, (size_t)NTHR * ROUNDS * PIECE));
	CHECK_RC(hr_io_unlink(io, p), 0);
}

struct racer {
	hr_io *io;
	int idx, ok;
};

enum { RACE_ROUNDS = 20 };

/* mkdir -p of race<k> then a file in it, for each round: another hr_io
 * (another process's view) does the same at once */
static void *racer(void *arg)
{
	struct racer *t = arg;
	char p[PATH_MAX];
	t->ok = 1;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		snprintf(p, sizeof(p), "%s/race%d", root, k);
		int rc = hr_io_mkdir(t->io, p);
		if (rc < 0 && rc != -EEXIST)
			t->ok = 0;
		snprintf(p, sizeof(p), "%s/race%d/f%d", root, k, t->idx);
		if (hr_io_write_file(t->io, p, HR_IO_EXCL, "x", 1) < 0)
			t->ok = 0;
	}
	return NULL;
}

/* Two processes making the same directory at once: one directory, with
 * both files in it (a name set twice would orphan one directory and the
 * file made in it). */
static void t_mkdir_race_two_views(void)
{
	struct racer t[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		t[i] = (struct racer){.idx = i};
		CHECK_RC(hr_io_rados_new(rad, root, &t[i].io), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, racer, &t[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	int lost = 0;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		char p[PATH_MAX];
		hr_io_dirent *e;
		size_t n = 0;
		snprintf(p, sizeof(p), "%s/race%d", root, k);
		if (hr_io_list(io, p, &e, &n) == 0)
			hr_io_list_free(e, n);
		lost += n != 2;
		hr_io_rmrf(io, p);
	}
	for (int i = 0; i < 2; i++) {
		hr_io_destroy(t[i].io);
		CHECK(t[i].ok);
	}
	CHECK_RC(lost, 0);
}

/* The writer child: files w/<i> of (i % 50 + 1) * 997 bytes, each written
 * in pieces and then reported on stdout ("<i>\n"): odd ones opened with
 * HR_IO_WRITEBACK (pipelined) and synced, even ones without and not
 * synced (a returned write must outlive the process, like the WAL's in
 * durability=os). Between files, pipelined unsynced writes to a scratch
 * file and renames of it, so the kill lands in the middle of anything. */
static int writer_child(const char *ns, const char *rt)
{
	hr_rados *r;
	hr_io *o;
	if (hr_rados_connect(conf, pool, ns, &r) < 0 || hr_io_rados_new(r, rt, &o) < 0)
		return 2;
	char p[PATH_MAX], s[PATH_MAX], s2[PATH_MAX];
	snprintf(p, sizeof(p), "%s/w", rt);
	hr_io_mkdir(o, p);
	snprintf(s, sizeof(s), "%s/w/scratch", rt);
	snprintf(s2, sizeof(s2), "%s/w/scratch2", rt);
	static uint8_t b[60000];
	for (int i = 0;; i++) {
		size_t len = (size_t)(i % 50 + 1) * 997;
		snprintf(p, sizeof(p), "%s/w/%d", rt, i);
		int wb = i % 2 ? HR_IO_WRITEBACK : 0;
		int fd = hr_io_open(o, p, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_TRUNC | wb);
		if (fd < 0)
			return 3;
		fill(b, len, (uint64_t)i, 0);
		for (size_t off = 0; off < len; off += 1000) {
			size_t n = len - off < 1000 ? len - off : 1000;
			if (hr_io_pwrite_all(o, fd, b + off, n, off) < 0)
				return 4;
		}
		if ((wb && hr_io_sync(o, fd, 1) < 0))
			return 5;
		printf("%d\n", i);
		fflush(stdout);
		hr_io_close(o, fd);
		fd = hr_io_open(o, s, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_WRITEBACK);
		if (fd >= 0) {
			hr_io_pwrite_all(o, fd, b, len, 0);
			hr_io_close(o, fd);
			hr_io_rename(o, s, s2);
		}
	}
}

static void t_kill9_mid_workload(void)
{
	int pfd[2];
	CHECK_RC(pipe(pfd), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl("/proc/self/exe", "test_io_rados", "--writer", nspace, root, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	FILE *f = fdopen(pfd[0], "r");
	int last = -1, want = 40;
	char line[64];
	/* a bounded wait: the child reports each file; a child that died or
	 * hangs ends the read (EOF) or the alarm below */
	alarm(120);
	while (last < want && fgets(line, sizeof(line), f))
		last = atoi(line);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	alarm(0);
	fclose(f);
	CHECK(WIFSIGNALED(status));
	CHECK(last >= want);
	/* a fresh view (the child's process is gone): every reported file is
	 * whole, and every name in the directory points at a live inode */
	hr_io *o2;
	CHECK_RC(hr_io_rados_new(rad, root, &o2), 0);
	char p[PATH_MAX];
	for (int i = 0; i <= last; i++) {
		snprintf(p, sizeof(p), "%s/w/%d", root, i);
		if (!file_is(o2, p, (uint64_t)i, (size_t)(i % 50 + 1) * 997)) {
			printf("# file %d is not intact\n", i);
			CHECK(0);
		}
	}
	hr_io_dirent *e;
	size_t n;
	snprintf(p, sizeof(p), "%s/w", root);
	CHECK_RC(hr_io_list(o2, p, &e, &n), 0);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		hr_io_attr st;
		char q[PATH_MAX];
		snprintf(q, sizeof(q), "%s/w/%s", root, e[i].name);
		if (hr_io_stat(o2, q, &st) < 0 || st.nlink < 1)
			bad++;
	}
	hr_io_list_free(e, n);
	CHECK_RC(bad, 0);
	CHECK_RC(hr_io_rmrf(o2, p), 0);
	hr_io_destroy(o2);
}

/* Removes every object of the test's namespace. */
static void purge(void)
{
	rados_list_ctx_t ls;
	rados_ioctx_t c = hr_rados_ioctx(rad);
	if (rados_nobjects_list_open(c, &ls) < 0)
		return;
	const char *oid;
	char **v = NULL;
	size_t n = 0;
	while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0) {
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(oid);
	}
	rados_nobjects_list_close(ls);
	for (size_t i = 0; i < n; i++) {
		rados_remove(c, v[i]);
		free(v[i]);
	}
	free(v);
}

int main(int argc, char **argv)
{
	conf = getenv("HR_CEPH_CONF");
	pool = getenv("HR_RADOS_POOL");
	if (argc == 4 && strcmp(argv[1], "--writer") == 0)
		return writer_child(argv[2], argv[3]);
	if (!conf || !*conf || !pool || !*pool) {
		printf("1..0 # SKIP HR_CEPH_CONF and HR_RADOS_POOL are not set (no Ceph cluster "
		       "to test io_rados against; scripts/cluster_up.sh starts one)\n");
		return 0;
	}
	hr_test_tmpdir(tmpdir, sizeof(tmpdir), "io_rados");
	snprintf(root, sizeof(root), "%s/data", tmpdir);
	snprintf(nspace, sizeof(nspace), "hr-test-io-rados-%d-%ld", (int)getpid(), (long)time(NULL));
	if (hr_rados_connect(conf, pool, nspace, &rad) < 0 || hr_io_rados_new(rad, root, &io) < 0) {
		printf("not ok 1 connect to %s pool %s\n1..1\n", conf, pool);
		return 1;
	}
	RUN(t_write_read_size_truncate);
	RUN(t_rename);
	RUN(t_link_nlink_unlink);
	RUN(t_list_rmdir_stat);
	RUN(t_posix_outside_root);
	RUN(t_threads_one_fd);
	RUN(t_mkdir_race_two_views);
	RUN(t_kill9_mid_workload);
	hr_io_destroy(io);
	purge();
	hr_rados_close(rad);
	hr_test_rmrf(tmpdir);
	return hr_test_done();
}
