/* test_alter.c — schema changes (hr_family_alter) and store-file
 * compression through the engine: refusals and a failed LMDB commit change
 * nothing, settings persist across a reopen, reads honour max_versions and
 * TTL at once,
 * compression applies from the next file on and a store mixing old
 * (version 2, raw) and new (version 3, compressed) files reads every cell,
 * before and after a reopen and a major compaction; alters racing with a
 * write, flush and compaction load lose no cell. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "engine/hr_sfile.h"
#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];

static void sub_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
}

/* No flush or compaction but the test's own: the file census is exact. */
static hr_server *open_quiet(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.flush_size = 64ull << 20;
	c.compact_min_files = 100;
	c.compact_max_files = 100;
	c.blocking_store_files = 1000;
	return hr_server_open(&c, &s) < 0 ? NULL : s;
}

static int fam_get(hr_server *s, const char *t, const char *fam, hr_family_schema *out)
{
	hr_table_schema sc;
	int rc = hr_table_schema_get(s, t, &sc);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < sc.nfamilies; i++)
		if (!strcmp(sc.families[i].name, fam)) {
			*out = sc.families[i];
			return 0;
		}
	return -ENOENT;
}

/* Bad alters are refused and change nothing; good ones change only the
 * fields their mask names, and survive a reopen (LMDB). */
static void t_alter_refusals_and_persistence(void)
{
	char dir[4200];
	sub_dir(dir, sizeof(dir), "persist");
	hr_server *s = et_open(dir);
	CHECK(s != NULL);
	CHECK_RC(et_table(s, "t", "cf", "other", NULL), 0);
	hr_family_schema before, after, v;
	CHECK_RC(fam_get(s, "t", "cf", &before), 0);
	hr_family_defaults(&v, "ignored");
	v.max_versions = 0;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_MAX_VERSIONS, &v), -EINVAL);
	v.max_versions = 4;
	v.compression = 9;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_COMPRESSION, &v), -EINVAL);
	v.block_size = 100;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_BLOCK_SIZE, &v), -EINVAL);
	CHECK_RC(hr_family_alter(s, "t", "cf", 1u << 20, &v), -EINVAL);
	CHECK_RC(hr_family_alter(s, "nope", "cf", HR_ALTER_MAX_VERSIONS, &v), -ENOENT);
	CHECK_RC(hr_family_alter(s, "t", "nope", HR_ALTER_MAX_VERSIONS, &v), -ENOENT);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);

	hr_family_defaults(&v, "x");
	v.max_versions = 7;
	v.ttl_ms = 86400000;
	v.block_size = 8192;
	v.bloom = HR_BLOOM_NONE;
	v.compression = HR_COMPRESSION_LZ4;
	v.keep_deleted_cells = 1;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_MAX_VERSIONS | HR_ALTER_COMPRESSION, &v), 0);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(after.max_versions == 7 && after.compression == HR_COMPRESSION_LZ4);
	CHECK(after.ttl_ms == before.ttl_ms && after.block_size == before.block_size &&
	      after.bloom == before.bloom && after.keep_deleted_cells == before.keep_deleted_cells);
	CHECK_RC(hr_family_alter(s, "t", "other",
				 HR_ALTER_TTL | HR_ALTER_BLOCK_SIZE | HR_ALTER_BLOOM |
					 HR_ALTER_KEEP_DELETED_CELLS | HR_ALTER_COMPRESSION,
				 &v),
		 0);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s != NULL);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(after.max_versions == 7 && after.compression == HR_COMPRESSION_LZ4 &&
	      after.ttl_ms == 0);
	CHECK_RC(fam_get(s, "t", "other", &after), 0);
	CHECK(after.max_versions == 1 && after.ttl_ms == 86400000 && after.block_size == 8192 &&
	      after.bloom == HR_BLOOM_NONE && after.keep_deleted_cells == 1 &&
	      after.compression == HR_COMPRESSION_LZ4);
	CHECK(!strcmp(hr_compression_name(HR_COMPRESSION_ZSTD), "zstd"));
	CHECK(hr_compression_parse("lz4") == HR_COMPRESSION_LZ4);
	CHECK(hr_compression_parse("gzip") == -EINVAL);
	CHECK_RC(hr_server_close(s), 0);
}

static int count_versions(hr_server *s, const char *row, uint32_t max)
{
	hr_value *v;
	hr_get_opts o = {.max_versions = max};
	int n = hr_get_versions(s, "t", row, strlen(row), "cf", "q", 1, &o, &v);
	if (n > 0)
		hr_values_free(v, (size_t)n);
	return n;
}

/* max_versions and TTL apply to reads at once; a major compaction then
 * keeps the new number of versions, and raising it again brings back
 * nothing it dropped. */
static void t_alter_versions_and_ttl(void)
{
	char dir[4200];
	sub_dir(dir, sizeof(dir), "versions");
	hr_server *s = et_open(dir);
	CHECK(s != NULL);
	CHECK_RC(et_table(s, "t", "cf:1", NULL), 0);
	int64_t now = hr_now_ms();
	for (int i = 1; i <= 5; i++) {
		char val[16];
		snprintf(val, sizeof(val), "v%d", i);
		CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", now - 100000 + i, val), 0);
	}
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(count_versions(s, "r", 10), 1);
	hr_family_schema v;
	hr_family_defaults(&v, "cf");
	v.max_versions = 3;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_MAX_VERSIONS, &v), 0);
	CHECK_RC(count_versions(s, "r", 10), 3); /* at once, from the files */
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(count_versions(s, "r", 10), 3);
	v.max_versions = 5;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_MAX_VERSIONS, &v), 0);
	CHECK_RC(count_versions(s, "r", 10), 3); /* the compaction dropped two */
	/* a TTL shorter than the cells' age hides them at once */
	char buf[32];
	CHECK_RC(et_get(s, "t", "r", 1, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK(!strcmp(buf, "v5"));
	v.ttl_ms = 50000;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_TTL, &v), 0);
	CHECK_RC(et_get(s, "t", "r", 1, "cf", "q", buf, sizeof(buf), NULL), -ENOENT);
	v.ttl_ms = 0;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_TTL, &v), 0);
	CHECK_RC(et_get(s, "t", "r", 1, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_RC(hr_server_close(s), 0);
}

/* The alter's LMDB commit refused (a full disk, a crash at that point):
 * the call fails and nothing changes, in the running server (reads, the
 * schema, the next file written) and after a reopen; the same alter then
 * goes through. */
static void t_alter_commit_fails(void)
{
	char dir[4200];
	hr_io *io;
	sub_dir(dir, sizeof(dir), "commitfail");
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_config c;
	et_config(&c, dir);
	hr_server *s = NULL;
	CHECK_RC(hr_server_open_io(&c, io, &s), 0);
	CHECK_RC(et_table(s, "t", "cf:1", NULL), 0);
	int64_t now = hr_now_ms();
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", now - 2, "old"), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "cf", "q", now - 1, "new"), 0);
	hr_family_schema before, after, v;
	CHECK_RC(fam_get(s, "t", "cf", &before), 0);
	hr_family_defaults(&v, "cf");
	v.max_versions = 2;
	v.compression = HR_COMPRESSION_ZSTD;
	unsigned mask = HR_ALTER_MAX_VERSIONS | HR_ALTER_COMPRESSION;
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_META_COMMIT, 1, -ENOSPC, HR_IO_FAULT_ONCE, NULL), 0);
	CHECK_RC(hr_family_alter(s, "t", "cf", mask, &v), -ENOSPC);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_RC(count_versions(s, "r", 10), 1);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_server_open_io(&c, io, &s), 0);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_RC(hr_family_alter(s, "t", "cf", mask, &v), 0);
	CHECK_RC(count_versions(s, "r", 10), 2);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(hr_server_open_io(&c, io, &s), 0);
	CHECK_RC(fam_get(s, "t", "cf", &after), 0);
	CHECK(after.max_versions == 2 && after.compression == HR_COMPRESSION_ZSTD);
	CHECK_RC(hr_server_close(s), 0);
	hr_io_destroy(io);
}

/* The store files under dir (recursively): counts by (version, codec of
 * their data blocks: 0 none, 1 lz4, 2 zstd, 3 mixed). */
typedef struct census {
	int files, v2, v3_raw, v3_zstd, v3_lz4;
	uint64_t bytes;
} census;

static void census_dir(const char *dir, census *c, hr_fdcache *fc, hr_bcache *bc, uint64_t *id)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			census_dir(p, c, fc, bc, id);
			continue;
		}
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 4, ".hsf"))
			continue;
		hr_sfile *f;
		if (hr_sfile_open(p, (*id)++, fc, bc, &f) < 0) {
			c->files += 1000; /* fails the checks */
			continue;
		}
		const hr_sfile_info *in = hr_sfile_get_info(f);
		c->files++;
		c->bytes += in->file_size;
		int codecs = 0;
		for (uint32_t b = 0; b < in->data_block_count; b++) {
			hr_sfile_block_desc bd;
			if (hr_sfile_block_describe(f, b, &bd) == 0)
				codecs |= 1 << bd.codec;
		}
		if (in->version == 2)
			c->v2++;
		else if (codecs == 1)
			c->v3_raw++;
		else if (codecs & (1 << HR_SFILE_CODEC_ZSTD))
			c->v3_zstd++;
		else if (codecs & (1 << HR_SFILE_CODEC_LZ4))
			c->v3_lz4++;
		hr_sfile_unref(f);
	}
	closedir(d);
}

static census take_census(const char *dir)
{
	census c = {0};
	hr_fdcache *fc;
	hr_bcache *bc;
	uint64_t id = 1;
	char store[4300];
	snprintf(store, sizeof(store), "%s/store", dir);
	if (hr_fdcache_new(16, hr_io_posix(), &fc) < 0)
		return c;
	if (hr_bcache_new(1 << 20, &bc) == 0) {
		census_dir(store, &c, fc, bc, &id);
		hr_bcache_free(bc);
	}
	hr_fdcache_free(fc);
	return c;
}

static void text_value(char *buf, size_t len, int i)
{
	static const char *w[] = {"alpha", "beta", "gamma", "delta", "region", "store", "file"};
	size_t n = 0;
	uint32_t k = (uint32_t)i * 2654435761u + 1;
	while (n + 8 < len) {
		k = k * 1103515245u + 12345u;
		n += (size_t)snprintf(buf + n, len - n, "%s ", w[(k >> 16) % 7]);
	}
	buf[n] = 0;
}

static int all_rows_read(hr_server *s, int n)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		char row[32], want[600], got[600];
		snprintf(row, sizeof(row), "row%05d", i);
		text_value(want, sizeof(want), i);
		if (et_get(s, "t", row, strlen(row), "cf", "q", got, sizeof(got), NULL) != 0 ||
		    strcmp(got, want))
			bad++;
	}
	return bad;
}

static void put_rows(hr_server *s, int from, int to)
{
	for (int i = from; i < to; i++) {
		char row[32], val[600];
		snprintf(row, sizeof(row), "row%05d", i);
		text_value(val, sizeof(val), i);
		CHECK_RC(et_put(s, "t", row, strlen(row), "cf", "q", HR_TS_NOW, val), 0);
	}
}

/* A store written before compression existed (version-2 files, through
 * the writer's seam), then altered to zstd and written again: old and new
 * files read side by side, before and after a reopen; a major compaction
 * rewrites everything as one zstd file, smaller, every cell intact. */
static void t_alter_compression_mixed_store(void)
{
	char dir[4200];
	sub_dir(dir, sizeof(dir), "mixed");
	hr_server *s = open_quiet(dir);
	CHECK(s != NULL);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	hr_sfile_test_write_version(2);
	put_rows(s, 0, 300);
	int frc = hr_flush(s, "t");
	hr_sfile_test_write_version(0);
	CHECK_RC(frc, 0);
	put_rows(s, 300, 600);
	CHECK_RC(hr_flush(s, "t"), 0);
	hr_family_schema v;
	hr_family_defaults(&v, "cf");
	v.compression = HR_COMPRESSION_ZSTD;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_COMPRESSION, &v), 0);
	put_rows(s, 600, 900);
	CHECK_RC(hr_flush(s, "t"), 0);
	census c = take_census(dir);
	printf("# before compaction: %d files (v2 %d, v3 raw %d, v3 zstd %d), %llu bytes\n",
	       c.files, c.v2, c.v3_raw, c.v3_zstd, (unsigned long long)c.bytes);
	CHECK(c.files == 3 && c.v2 == 1 && c.v3_raw == 1 && c.v3_zstd == 1);
	CHECK_RC(all_rows_read(s, 900), 0);
	CHECK_RC(hr_server_close(s), 0);

	s = open_quiet(dir);
	CHECK(s != NULL);
	CHECK_RC(all_rows_read(s, 900), 0);
	uint64_t before = c.bytes;
	CHECK_RC(hr_compact(s, "t", 1), 0);
	c = take_census(dir);
	printf("# after a major compaction: %d file (v3 zstd %d), %llu bytes (%.3f of before)\n",
	       c.files, c.v3_zstd, (unsigned long long)c.bytes,
	       (double)c.bytes / (double)before);
	CHECK(c.files == 1 && c.v3_zstd == 1);
	CHECK(c.bytes < before / 2);
	CHECK_RC(all_rows_read(s, 900), 0);
	/* lz4 from here on: the next flush writes an lz4 file beside it */
	v.compression = HR_COMPRESSION_LZ4;
	CHECK_RC(hr_family_alter(s, "t", "cf", HR_ALTER_COMPRESSION, &v), 0);
	put_rows(s, 900, 1000);
	CHECK_RC(hr_flush(s, "t"), 0);
	c = take_census(dir);
	CHECK(c.files == 2 && c.v3_zstd == 1 && c.v3_lz4 == 1);
	CHECK_RC(all_rows_read(s, 1000), 0);
	CHECK_RC(hr_server_close(s), 0);
}

/* Alters of compression, block size and max_versions while a writer
 * flushes and major-compacts: every cell written reads back, from
 * whatever mix of files that leaves. */
typedef struct race {
	hr_server *s;
	int rows;
	atomic_int stop;
	int err;
} race;

static void *race_writer(void *arg)
{
	race *r = arg;
	for (int i = 0; i < r->rows && !r->err; i++) {
		char row[32], val[600];
		snprintf(row, sizeof(row), "row%05d", i);
		text_value(val, sizeof(val), i);
		int rc;
		while (et_retryable(rc = et_put(r->s, "t", row, strlen(row), "cf", "q", HR_TS_NOW,
						val)))
			;
		if (rc < 0)
			r->err = rc;
		if (i % 200 == 199 && (rc = hr_flush(r->s, "t")) < 0)
			r->err = rc;
		if (i % 1000 == 999 && (rc = hr_compact(r->s, "t", 1)) < 0)
			r->err = rc;
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

static void t_alter_racing_load(void)
{
	char dir[4200];
	sub_dir(dir, sizeof(dir), "race");
	hr_server *s = et_open(dir);
	CHECK(s != NULL);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	race r = {.s = s, .rows = 4000};
	atomic_init(&r.stop, 0);
	pthread_t th;
	pthread_create(&th, NULL, race_writer, &r);
	int alters = 0, fails = 0;
	while (!atomic_load(&r.stop)) {
		hr_family_schema v;
		hr_family_defaults(&v, "cf");
		v.compression = (uint8_t)(alters % 3);
		v.block_size = alters % 2 ? 4096 : 65536;
		v.max_versions = 1 + (uint32_t)(alters % 3);
		fails += hr_family_alter(s, "t", "cf",
					 HR_ALTER_COMPRESSION | HR_ALTER_BLOCK_SIZE |
						 HR_ALTER_MAX_VERSIONS,
					 &v) != 0;
		alters++;
	}
	pthread_join(th, NULL);
	printf("# %d alters during 4000 puts with flushes and major compactions\n", alters);
	CHECK_RC(r.err, 0);
	CHECK(fails == 0);
	CHECK(alters > 0);
	CHECK_RC(all_rows_read(s, 4000), 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(all_rows_read(s, 4000), 0);
	CHECK_RC(hr_server_close(s), 0);
}

int main(void)
{
	et_watchdog(300);
	hr_log_set_level(HR_LOG_WARN); /* one info line per alter */
	hr_test_tmpdir(g_dir, sizeof(g_dir), "alter");
	RUN(t_alter_refusals_and_persistence);
	RUN(t_alter_versions_and_ttl);
	RUN(t_alter_commit_fails);
	RUN(t_alter_compression_mixed_store);
	RUN(t_alter_racing_load);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
