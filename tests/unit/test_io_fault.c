/* test_io_fault.c — the I/O seam's POSIX implementation and helpers, and the
 * fault-injecting implementation the crash and fault tests rely on: counts,
 * failures (once, sticky, by path), short writes, the crash and the power
 * loss it simulates (unsynced data, creates, renames, unlinks and mkdirs
 * undone unless their directory was synced). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "engine/hr_io_fault.h"
#include "engine/hr_meta.h"
#include "hr_test.h"

static char g_dir[PATH_MAX];
static int g_case;

/* A fresh directory for one test case, path in buf. */
static void case_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/c%d", g_dir, ++g_case);
	if (mkdir(buf, 0755) != 0) {
		perror("mkdir");
		exit(2);
	}
}

static void pathf(char *buf, const char *dir, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

/* Writes content to a new file through io; sync says whether it is fsynced. */
static int put_file(hr_io *io, const char *path, const char *content, int sync)
{
	int fd = hr_io_open(io, path, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_TRUNC);
	if (fd < 0)
		return fd;
	int rc = hr_io_pwrite_all(io, fd, content, strlen(content), 0);
	if (rc == 0 && sync)
		rc = hr_io_sync(io, fd, 0);
	hr_io_close(io, fd);
	return rc;
}

/* The file's content as a string ("" if empty), or "<missing>". */
static const char *content(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return "<missing>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_mode & 0777 : 0;
}

/* ---- POSIX seam --------------------------------------------------------- */

static void t_posix_basics(void)
{
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX], sub[PATH_MAX];
	hr_io *io = hr_io_posix();
	case_dir(d, sizeof(d));
	pathf(p, d, "f");
	pathf(q, d, "g");
	CHECK_RC(put_file(io, p, "hello", 1), 0);
	CHECK_RC(mode_of(p), 0600);
	int fd = hr_io_open(io, p, HR_IO_RDONLY);
	CHECK(fd >= 0);
	char buf[16] = {0};
	CHECK_RC(hr_io_pread_all(io, fd, buf, 5, 0), 0);
	CHECK(strcmp(buf, "hello") == 0);
	CHECK_RC(hr_io_pread_all(io, fd, buf, 6, 0), -ENODATA);
	uint64_t size = 0;
	CHECK_RC(hr_io_size(io, fd, &size), 0);
	CHECK_RC(size, 5);
	CHECK_RC(hr_io_close(io, fd), 0);
	CHECK_RC(hr_io_open(io, p, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_EXCL), -EEXIST);
	CHECK_RC(hr_io_rename(io, p, q), 0);
	CHECK(!exists(p) && exists(q));
	hr_io_attr st;
	CHECK_RC(hr_io_stat(io, q, &st), 0);
	CHECK_RC(st.size, 5);
	CHECK(!st.is_dir && st.mtime_ms > 0);
	/* mkdirs creates owner-only directories and syncs their parents */
	snprintf(sub, sizeof(sub), "%s/x/y/z", d);
	CHECK_RC(hr_io_mkdirs(io, sub), 0);
	CHECK_RC(mode_of(sub), 0700);
	CHECK_RC(hr_io_mkdirs(io, sub), 0);
	CHECK_RC(hr_io_mkdir(io, sub), -EEXIST);
	hr_io_dirent *ents;
	size_t n;
	CHECK_RC(hr_io_list(io, d, &ents, &n), 0);
	CHECK_RC(n, 2);
	int dirs = 0;
	for (size_t i = 0; i < n; i++)
		dirs += ents[i].is_dir;
	hr_io_list_free(ents, n);
	CHECK_RC(dirs, 1);
	/* private_dir tightens an existing directory */
	CHECK_RC(chmod(d, 0755), 0);
	CHECK_RC(hr_io_private_dir(io, d), 0);
	CHECK_RC(mode_of(d), 0700);
	snprintf(sub, sizeof(sub), "%s/x", d);
	CHECK_RC(hr_io_rmrf(io, sub), 0);
	CHECK(!exists(sub));
	CHECK_RC(hr_io_rmrf(io, sub), 0);
	CHECK_RC(hr_io_unlink(io, q), 0);
	CHECK_RC(hr_io_unlink(io, q), -ENOENT);
	/* the lock is exclusive */
	pathf(p, d, "LOCK");
	int tok, tok2;
	CHECK_RC(hr_io_lock(io, p, &tok), 0);
	CHECK_RC(mode_of(p), 0600);
	CHECK_RC(hr_io_lock(io, p, &tok2), -EBUSY);
	hr_io_unlock(io, tok);
	CHECK_RC(hr_io_lock(io, p, &tok2), 0);
	hr_io_unlock(io, tok2);
}

/* ---- rules and counts ------------------------------------------------------ */

static void t_fail_nth(void)
{
	char d[PATH_MAX], p[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	/* the 3rd open from now fails once with ENOSPC */
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_OPEN, 3, -ENOSPC, HR_IO_FAULT_ONCE, NULL), 0);
	int rcs[5];
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		pathf(p, d, name);
		rcs[i] = put_file(io, p, "x", 0);
	}
	uint64_t opens = hr_io_fault_count(io, HR_IO_OP_OPEN);
	uint64_t inj = hr_io_fault_injected(io);
	hr_io_destroy(io);
	CHECK_RC(rcs[0], 0);
	CHECK_RC(rcs[1], 0);
	CHECK_RC(rcs[2], -ENOSPC);
	CHECK_RC(rcs[3], 0);
	CHECK_RC(rcs[4], 0);
	CHECK_RC(opens, 5);
	CHECK_RC(inj, 1);
	pathf(p, d, "f2");
	CHECK(!exists(p));
}

static void t_fail_sticky_match(void)
{
	char d[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(a, d, "data.tmp");
	pathf(b, d, "other");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	/* from the 2nd write to a .tmp file on, every one fails with EIO */
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_WRITE, 2, -EIO, HR_IO_FAULT_STICKY, ".tmp"), 0);
	int fa = hr_io_open(io, a, HR_IO_WRONLY | HR_IO_CREATE);
	int fb = hr_io_open(io, b, HR_IO_WRONLY | HR_IO_CREATE);
	CHECK(fa >= 0 && fb >= 0);
	int r1 = hr_io_pwrite_all(io, fa, "1", 1, 0);
	int r2 = hr_io_pwrite_all(io, fa, "2", 1, 1);
	int r3 = hr_io_pwrite_all(io, fb, "3", 1, 0);
	int r4 = hr_io_pwrite_all(io, fa, "4", 1, 2);
	uint64_t inj = hr_io_fault_injected(io);
	hr_io_fault_clear(io);
	int r5 = hr_io_pwrite_all(io, fa, "5", 1, 1);
	int bad_nth = hr_io_fault_add(io, HR_IO_OP_OPEN, 0, -EIO, HR_IO_FAULT_ONCE, NULL);
	int bad_err = hr_io_fault_add(io, HR_IO_OP_OPEN, 1, 0, HR_IO_FAULT_ONCE, NULL);
	hr_io_close(io, fa);
	hr_io_close(io, fb);
	hr_io_destroy(io);
	CHECK_RC(r1, 0);
	CHECK_RC(r2, -EIO);
	CHECK_RC(r3, 0);
	CHECK_RC(r4, -EIO);
	CHECK_RC(r5, 0);
	CHECK_RC(inj, 2);
	CHECK(strcmp(content(a), "15") == 0);
	CHECK(strcmp(content(b), "3") == 0);
	CHECK_RC(bad_nth, -EINVAL);
	CHECK_RC(bad_err, -EINVAL);
}

static void t_short_write(void)
{
	char d[PATH_MAX], p[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(p, d, "f");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_WRITE, 1, 0, HR_IO_FAULT_SHORT, NULL), 0);
	int fd = hr_io_open(io, p, HR_IO_WRONLY | HR_IO_CREATE);
	CHECK(fd >= 0);
	ssize_t n = hr_io_pwrite(io, fd, "abcdefgh", 8, 0);
	/* hr_io_pwrite_all finishes what a short write leaves */
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_WRITE, 1, 0, HR_IO_FAULT_SHORT, NULL), 0);
	int rc = hr_io_pwrite_all(io, fd, "ijklmnop", 8, 8);
	uint64_t writes = hr_io_fault_count(io, HR_IO_OP_WRITE);
	hr_io_close(io, fd);
	hr_io_destroy(io);
	CHECK_RC(n, 4);
	CHECK_RC(rc, 0);
	CHECK_RC(writes, 3);
	/* the short write left "efgh" unwritten (a hole); the rest is there */
	char raw[32];
	int rfd = open(p, O_RDONLY);
	CHECK(rfd >= 0);
	ssize_t got = read(rfd, raw, sizeof(raw));
	close(rfd);
	CHECK_RC(got, 16);
	CHECK(memcmp(raw, "abcd\0\0\0\0ijklmnop", 16) == 0);
}

/* ---- crash --------------------------------------------------------------- */

static void t_crash_freezes(void)
{
	char d[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(a, d, "a");
	pathf(b, d, "b");
	pathf(c, d, "c");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	/* two durable points pass: a's fsync and the directory's */
	hr_io_fault_crash_after(io, 2);
	int ra = put_file(io, a, "A", 1);
	int rd = hr_io_sync_dir(io, d);
	int fd = hr_io_open(io, b, HR_IO_WRONLY | HR_IO_CREATE);
	int rw = fd >= 0 ? hr_io_pwrite_all(io, fd, "B", 1, 0) : fd;
	int crashed_before = hr_io_fault_crashed(io);
	int rs = fd >= 0 ? hr_io_sync(io, fd, 0) : fd; /* the third: the crash */
	int crashed = hr_io_fault_crashed(io);
	int rw2 = fd >= 0 ? hr_io_pwrite_all(io, fd, "C", 1, 1) : fd;
	int ro = hr_io_open(io, c, HR_IO_WRONLY | HR_IO_CREATE);
	int rc_meta = hr_io_meta_commit(io);
	int rcl = fd >= 0 ? hr_io_close(io, fd) : 0;
	uint64_t dur = hr_io_fault_durable(io);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	CHECK_RC(ra, 0);
	CHECK_RC(rd, 0);
	CHECK(fd >= 0);
	CHECK_RC(rw, 0);
	CHECK_RC(crashed_before, 0);
	CHECK_RC(rs, -EIO);
	CHECK_RC(crashed, 1);
	CHECK_RC(rw2, -EIO);
	CHECK_RC(ro, -EIO);
	CHECK_RC(rc_meta, -EIO);
	CHECK_RC(rcl, 0);
	CHECK_RC(dur, 2);
	/* a survives; b was created after the last directory sync */
	CHECK(strcmp(content(a), "A") == 0);
	CHECK(!exists(b));
	CHECK(!exists(c));
}

/* ---- power loss -------------------------------------------------------------- */

static void t_drop_unsynced_data(void)
{
	char d[PATH_MAX], p[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(p, d, "f");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	int fd = hr_io_open(io, p, HR_IO_WRONLY | HR_IO_CREATE);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_pwrite_all(io, fd, "synced", 6, 0), 0);
	CHECK_RC(hr_io_sync(io, fd, 1), 0);
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	CHECK_RC(hr_io_pwrite_all(io, fd, "-lost", 5, 6), 0);
	CHECK_RC(hr_io_close(io, fd), 0);
	CHECK(strcmp(content(p), "synced-lost") == 0);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	CHECK(strcmp(content(p), "synced") == 0);
	/* a file that existed before is taken as synced at its size then */
	fd = hr_io_open(io, p, HR_IO_WRONLY);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_pwrite_all(io, fd, "+more", 5, 6), 0);
	CHECK_RC(hr_io_close(io, fd), 0);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	CHECK(strcmp(content(p), "synced") == 0);
}

static void t_drop_unsynced_names(void)
{
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX], t[PATH_MAX], old[PATH_MAX], sub[PATH_MAX],
		subf[PATH_MAX], kept[PATH_MAX], gone[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(p, d, "f.tmp");
	pathf(q, d, "f.hsf");
	pathf(t, d, "target");
	pathf(old, d, "old");
	pathf(sub, d, "sub");
	pathf(kept, d, "kept");
	pathf(gone, d, "gone");
	snprintf(subf, sizeof(subf), "%s/inner", sub);
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	/* durable before the "power loss": old, target and kept */
	CHECK_RC(put_file(io, old, "old content", 1), 0);
	CHECK_RC(put_file(io, t, "target v1", 1), 0);
	CHECK_RC(put_file(io, kept, "kept", 1), 0);
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	/* then, without a directory sync: */
	CHECK_RC(put_file(io, p, "new file", 1), 0);	/* create, data synced */
	CHECK_RC(hr_io_rename(io, p, q), 0);		/* rename a new file */
	CHECK_RC(hr_io_unlink(io, old), 0);		/* unlink a durable file */
	CHECK_RC(put_file(io, gone, "v2 of target", 1), 0);
	CHECK_RC(hr_io_rename(io, gone, t), 0);		/* replace a durable file */
	CHECK_RC(hr_io_mkdir(io, sub), 0);		/* mkdir, parent not synced */
	CHECK_RC(put_file(io, subf, "inside", 1), 0);
	CHECK_RC(hr_io_sync_dir(io, sub), 0);		/* synced inside, not into d */
	CHECK(exists(q) && !exists(old) && exists(subf));
	CHECK(strcmp(content(t), "v2 of target") == 0);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	CHECK(!exists(p));
	CHECK(!exists(q));
	CHECK(!exists(gone));
	CHECK(strcmp(content(old), "old content") == 0);
	CHECK(strcmp(content(t), "target v1") == 0);
	CHECK(!exists(sub));
	CHECK(strcmp(content(kept), "kept") == 0);
}

static void t_dir_sync_makes_durable(void)
{
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX], old[PATH_MAX], sub[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(p, d, "f.tmp");
	pathf(q, d, "f.hsf");
	pathf(old, d, "old");
	pathf(sub, d, "sub");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	CHECK_RC(put_file(io, old, "old", 1), 0);
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	CHECK_RC(put_file(io, p, "data", 1), 0);
	CHECK_RC(hr_io_rename(io, p, q), 0);
	CHECK_RC(hr_io_unlink(io, old), 0);
	CHECK_RC(hr_io_mkdirs(io, sub), 0); /* syncs d itself */
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	/* an unsynced write after all that is still lost */
	int fd = hr_io_open(io, q, HR_IO_WRONLY);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_pwrite_all(io, fd, "XX", 2, 4), 0);
	hr_io_close(io, fd);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	CHECK(!exists(p));
	CHECK(strcmp(content(q), "data") == 0);
	CHECK(!exists(old));
	CHECK(exists(sub));
}

/* A file renamed but its data never synced: the name survives (directory
 * synced), the content does not. */
static void t_rename_unsynced_data(void)
{
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	hr_io *io;
	case_dir(d, sizeof(d));
	pathf(p, d, "a.tmp");
	pathf(q, d, "a.hsf");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	CHECK_RC(put_file(io, p, "never synced", 0), 0);
	CHECK_RC(hr_io_rename(io, p, q), 0);
	CHECK_RC(hr_io_sync_dir(io, d), 0);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	CHECK(!exists(p));
	CHECK(exists(q));
	CHECK(strcmp(content(q), "") == 0);
}

/* ---- LMDB commits go past the seam ------------------------------------------ */

static int put_counter(hr_meta *m, uint64_t v)
{
	hr_meta_txn *t;
	int rc = hr_meta_begin(m, 1, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_counter_put(t, "x", v)) < 0) {
		hr_meta_abort(t);
		return rc;
	}
	return hr_meta_commit(t);
}

static uint64_t get_counter(hr_meta *m)
{
	hr_meta_txn *t;
	uint64_t v = 999;
	if (hr_meta_begin(m, 0, &t) == 0) {
		hr_meta_counter_get(t, "x", &v);
		hr_meta_abort(t);
	}
	return v;
}

static void t_meta_commit_refused(void)
{
	char d[PATH_MAX];
	hr_io *io;
	hr_meta *m;
	case_dir(d, sizeof(d));
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	CHECK_RC(hr_meta_open(d, io, &m), 0);
	uint64_t opened = hr_io_fault_count(io, HR_IO_OP_META_COMMIT);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_META_COMMIT, 1, -ENOSPC, HR_IO_FAULT_ONCE, NULL), 0);
	int r1 = put_counter(m, 1);
	uint64_t v1 = get_counter(m);
	int r2 = put_counter(m, 2);
	uint64_t v2 = get_counter(m);
	uint64_t commits = hr_io_fault_count(io, HR_IO_OP_META_COMMIT);
	hr_meta_close(m);
	hr_io_destroy(io);
	CHECK_RC(opened, 1); /* hr_meta_open's own commit is announced too */
	CHECK_RC(r1, -ENOSPC);
	CHECK_RC(v1, 0);
	CHECK_RC(r2, 0);
	CHECK_RC(v2, 2);
	CHECK_RC(commits, 3); /* read transactions are not announced */
}

int main(void)
{
	hr_test_tmpdir(g_dir, sizeof(g_dir), "iofault");
	RUN(t_posix_basics);
	RUN(t_fail_nth);
	RUN(t_fail_sticky_match);
	RUN(t_short_write);
	RUN(t_crash_freezes);
	RUN(t_drop_unsynced_data);
	RUN(t_drop_unsynced_names);
	RUN(t_dir_sync_makes_durable);
	RUN(t_rename_unsynced_data);
	RUN(t_meta_commit_refused);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
