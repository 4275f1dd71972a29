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

/* ---- helpers over the public API --------------------------------------- */

/* Region ids of a table in key order (at most max), their count. */
static size_t region_ids(hr_server *s, const char *t, uint64_t *ids, size_t max, int *all_open)
{
	hr_region_info *ri;
	size_t n;
	if (hr_region_list(s, t, &ri, &n) < 0)
		return 0;
	if (all_open)
		*all_open = 1;
	for (size_t i = 0; i < n; i++) {
		if (i < max)
			ids[i] = ri[i].id;
		if (all_open && ri[i].state != HR_REGION_OPEN)
			*all_open = 0;
	}
	hr_region_list_free(ri, n);
	return n;
}

/* Stores of each region of t, summed. */
static unsigned store_count(hr_server *s, const char *t)
{
	hr_region_info *ri;
	size_t n;
	unsigned k = 0;
	if (hr_region_list(s, t, &ri, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		k += (unsigned)ri[i].nstores;
	hr_region_list_free(ri, n);
	return k;
}

/* Descriptors of this process open on files whose path starts with prefix
 * (only those on deleted files with deleted_only). */
static int fds_on(const char *prefix, int deleted_only)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		int del = strstr(target, " (deleted)") != NULL;
		if (strncmp(target, prefix, strlen(prefix)) == 0 && (del || !deleted_only)) {
			if (del)
				fprintf(stdout, "# descriptor on a deleted file: %s\n", target);
			n++;
		}
	}
	closedir(d);
	return n;
}

static int put_rows(hr_server *s, const char *t, const char *prefix, int n, const char *fam,
		    size_t vlen)
{
	char row[64], val[4096];
	for (int i = 0; i < n; i++) {
		snprintf(row, sizeof(row), "%s%05d", prefix, i);
		size_t k = (size_t)snprintf(val, sizeof(val), "%s=%d;", row, i);
		for (; k < vlen && k < sizeof(val) - 1; k++)
			val[k] = (char)('a' + (i + (int)k) % 26);
		val[k] = 0;
		int rc = put_s(s, t, row, fam, val);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* rows prefix00000..n-1 of fam read back with the values put_rows wrote;
 * returns how many are wrong or missing */
static int bad_rows(hr_server *s, const char *t, const char *prefix, int n, const char *fam,
		    size_t vlen)
{
	char row[64], val[4096];
	int bad = 0;
	for (int i = 0; i < n; i++) {
		snprintf(row, sizeof(row), "%s%05d", prefix, i);
		size_t k = (size_t)snprintf(val, sizeof(val), "%s=%d;", row, i);
		for (; k < vlen && k < sizeof(val) - 1; k++)
			val[k] = (char)('a' + (i + (int)k) % 26);
		val[k] = 0;
		hr_value v;
		int rc = hr_get(s, t, row, strlen(row), fam, "q", 1, HR_GET_VALUE, &v);
		if (rc < 0 || v.len != k || memcmp(v.data, val, k) != 0)
			bad++;
		if (rc == 0)
			free(v.data);
	}
	return bad;
}

/* ---- loss paths ---------------------------------------------------------- */

/* A family add that fails on the second region (ENOSPC creating its store
 * directory) leaves nothing behind: not in memory, not in LMDB; the retry
 * works, and what the new family then holds survives flushes and reopens
 * (a leftover store in the first region used to shadow the new one, and
 * its empty file list overwrote the real one at the next flush). */
static void t_family_add_all_or_nothing(void)
{
	char dir[PATH_MAX], match[64];
	hr_io *io;
	uint64_t ids[4];
	case_dir(dir, sizeof(dir), "famadd");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_server *s = open_io(dir, io);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", NULL), 0);
	CHECK_RC(put_rows(s, "t", "b", 20, "a", 100), 0);
	CHECK_RC(put_rows(s, "t", "x", 20, "a", 100), 0);
	CHECK_RC(hr_split(s, "t", "m", 1), 0);
	CHECK_RC(region_ids(s, "t", ids, 4, NULL), 2);
	snprintf(match, sizeof(match), "/%016" PRIx64 "/n", ids[1]);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_MKDIR, 1, -ENOSPC, HR_IO_FAULT_ONCE, match), 0);
	hr_family_schema f;
	hr_family_defaults(&f, "n");
	int rc1 = hr_family_add(s, "t", &f);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "t", &sc), 0);
	uint32_t nfam = sc.nfamilies;
	unsigned stores = store_count(s, "t");
	int put_rc = put_s(s, "t", "b1", "n", "early");
	int rc2 = hr_family_add(s, "t", &f);
	unsigned stores2 = store_count(s, "t");
	CHECK_RC(put_rows(s, "t", "c", 10, "n", 50), 0);
	CHECK_RC(put_rows(s, "t", "y", 10, "n", 50), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(put_rows(s, "t", "d", 10, "n", 50), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = open_io(dir, io);
	CHECK(s);
	int bad = bad_rows(s, "t", "c", 10, "n", 50) + bad_rows(s, "t", "y", 10, "n", 50) +
		  bad_rows(s, "t", "d", 10, "n", 50) + bad_rows(s, "t", "b", 20, "a", 100) +
		  bad_rows(s, "t", "x", 20, "a", 100);
	unsigned stores3 = store_count(s, "t");
	CHECK_RC(hr_server_close(s), 0);
	hr_io_destroy(io);
	CHECK_RC(rc1, -ENOSPC);
	CHECK_RC(nfam, 1);
	CHECK_RC(stores, 2); /* one store per region: nothing left over */
	CHECK_RC(put_rc, -ENOENT); /* no such family */
	CHECK_RC(rc2, 0);
	CHECK_RC(stores2, 4);
	CHECK_RC(stores3, 4);
	CHECK_RC(bad, 0);
}

/* Dropping a table lets go of its descriptors (no descriptor of the process
 * points into its files afterwards) and of its memory. */
static void t_drop_releases(void)
{
	char dir[PATH_MAX], store[PATH_MAX + 8];
	case_dir(dir, sizeof(dir), "drop");
	hr_server *s = open_io(dir, hr_io_posix());
	CHECK(s);
	CHECK_RC(et_table(s, "d", "a", NULL), 0);
	CHECK_RC(et_table(s, "keep", "a", NULL), 0);
	for (int k = 0; k < 3; k++) {
		char pre[8];
		snprintf(pre, sizeof(pre), "r%d", k);
		CHECK_RC(put_rows(s, "d", pre, 200, "a", 500), 0);
		CHECK_RC(hr_flush(s, "d"), 0);
	}
	CHECK_RC(put_rows(s, "keep", "k", 50, "a", 100), 0);
	CHECK_RC(hr_flush(s, "keep"), 0);
	CHECK_RC(bad_rows(s, "d", "r0", 200, "a", 500), 0); /* opens the files */
	CHECK_RC(bad_rows(s, "d", "r2", 200, "a", 500), 0);
	CHECK_RC(bad_rows(s, "keep", "k", 50, "a", 100), 0);
	CHECK_RC(put_rows(s, "d", "m", 100, "a", 500), 0); /* unflushed */
	snprintf(store, sizeof(store), "%s/store/", dir);
	int before = fds_on(store, 0);
	hr_stats st0, st1;
	hr_stats_get(s, &st0);
	CHECK_RC(hr_table_drop(s, "d"), 0);
	int after = fds_on(store, 0);
	int deleted = fds_on(store, 1);
	hr_stats_get(s, &st1);
	int keep_bad = bad_rows(s, "keep", "k", 50, "a", 100);
	int after_keep = fds_on(store, 0);
	CHECK_RC(hr_server_close(s), 0);
	CHECK(before >= 3);
	CHECK(st0.memstore_bytes > 0);
	CHECK_RC(after, 1);	  /* the other table's file */
	CHECK_RC(deleted, 0);	  /* none on a deleted file */
	CHECK_RC(st1.memstore_bytes, 0);
	CHECK_RC(keep_bad, 0);
	CHECK_RC(after_keep, 1);
}

/* A region referenced by someone (a queued flush or compaction, the split
 * chore) when its table is dropped still has a valid table: the flush,
 * split and compaction paths read r->table. */
static void t_table_outlives_drop(void)
{
	char dir[PATH_MAX];
	case_dir(dir, sizeof(dir), "tlife");
	hr_server *s = open_io(dir, hr_io_posix());
	CHECK(s);
	CHECK_RC(et_table(s, "d", "a", NULL), 0);
	CHECK_RC(put_rows(s, "d", "r", 50, "a", 100), 0);
	CHECK_RC(hr_flush(s, "d"), 0);
	CHECK_RC(put_rows(s, "d", "s", 50, "a", 100), 0);
	hr_region *r = NULL;
	CHECK_RC(hr_server_locate(s, "d", (const uint8_t *)"r", 1, &r, NULL), 0);
	CHECK_RC(hr_table_drop(s, "d"), 0);
	int split_rc = hr_split_maybe(s, r);
	int flush_rc = hr_region_flush(r);
	int nregions = r->table ? (int)r->table->nregions : -1;
	int same_name = r->table && strcmp(r->table->schema.name, "d") == 0;
	hr_region_unref(r);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(split_rc, 0);
	CHECK_RC(flush_rc, 0);
	CHECK_RC(nregions, 0);
	CHECK(same_name);
}

/* New directories (a table's region and families, split daughters, an added
 * family) are synced into their parents before LMDB references files in
 * them: after a power loss right after a clean close, every file LMDB
 * names is there. */
static void t_dirs_synced(void)
{
	char dir[PATH_MAX];
	hr_io *io;
	case_dir(dir, sizeof(dir), "dirsync");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_server *s = open_io(dir, io);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(put_rows(s, "t", "b", 30, "a", 100), 0);
	CHECK_RC(put_rows(s, "t", "x", 30, "b", 100), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_split(s, "t", "m", 1), 0);
	hr_family_schema f;
	hr_family_defaults(&f, "n");
	CHECK_RC(hr_family_add(s, "t", &f), 0);
	CHECK_RC(put_rows(s, "t", "c", 30, "n", 100), 0);
	CHECK_RC(put_rows(s, "t", "y", 30, "n", 100), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_io_fault_drop_unsynced(io), 0);
	hr_io_destroy(io);
	s = open_io(dir, hr_io_posix());
	CHECK(s);
	uint64_t ids[4];
	int all_open = 0;
	size_t nreg = region_ids(s, "t", ids, 4, &all_open);
	int bad = bad_rows(s, "t", "b", 30, "a", 100) + bad_rows(s, "t", "x", 30, "b", 100) +
		  bad_rows(s, "t", "c", 30, "n", 100) + bad_rows(s, "t", "y", 30, "n", 100);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(nreg, 2);
	CHECK(all_open);
	CHECK_RC(bad, 0);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_ERROR);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "faults");
	RUN(t_owner_only);
	RUN(t_engine_uses_seam);
	RUN(t_family_add_all_or_nothing);
	RUN(t_drop_releases);
	RUN(t_table_outlives_drop);
	RUN(t_dirs_synced);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
