/* test_tags.c — cell tags through the engine (HBase's tags, HFile v3):
 * - puts with tag areas (none, small, the 65535-byte maximum) keep them
 *   through flushes, minor and major compactions, a split and WAL
 *   replay: the store files on disk, read
 *   back with the store-file reader after the server closed, hold every
 *   cell with exactly the tags it was written with, as version-2 files;
 * - a version-1 WAL segment (written before cells had tags, crafted here
 *   byte by byte from the documented format) replays;
 * - a store mixing version-1 files (written through the writer's
 *   compatibility seam) and version-2 files reads, compacts and splits
 *   correctly, and its old cells come out without tags;
 * - malformed or oversized tag areas are refused with -EINVAL. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "engine/hr_format.h"
#include "engine/hr_sfile.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];

static void subdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
	hr_test_rmrf(buf);
}

/* A config whose background never compacts or flushes by size: only the
 * test's calls change the files (minor: hr_compact(.., 0) selects 2..10
 * files, so flushes may start minor compactions too). */
static hr_server *tg_open_cfg(const char *dir, int minor)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.flush_size = 64ull << 20;
	c.compact_min_files = minor ? 2 : 1000;
	c.compact_max_files = minor ? 10 : 1000;
	c.blocking_store_files = 100000;
	c.split_size = 1ull << 40;
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open = %d (%s)\n", rc, strerror(-rc));
	return s;
}

static hr_server *tg_open(const char *dir) { return tg_open_cfg(dir, 0); }

/* ---- the data: values name their tags ---------------------------------------
 * Value of (row i, qualifier q, generation g): "v<i>.<q>.<g>" (or with a
 * leading 'n' when written without tags). Its tag area is a function of the
 * value, so any cell found on disk can be checked on its own: a tag of type
 * 7 holding "T" + value, then, for some, a tag of type 200 of 1..300 bytes,
 * and for one cell the largest area allowed. Every fifth has no tags. */

#define NROWS 200
#define NQUAL 3

static size_t mkval(char *buf, int i, int q, int g, int notags)
{
	return (size_t)snprintf(buf, 64, "%sv%04d.%d.%d", notags ? "n" : "", i, q, g);
}

static uint32_t hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Writes the tag area for value v into out (room for 65535 bytes). */
static size_t tags_for(const uint8_t *v, size_t vl, uint8_t *out)
{
	if (vl == 0 || v[0] == 'n')
		return 0;
	uint32_t h = hash(v, vl);
	if (h % 5 == 0)
		return 0;
	if (vl > 8 && memcmp(v, "v0007.1.", 8) == 0) {
		/* the largest area: one tag of 65532 value bytes */
		hr_put16(out, 65533);
		out[2] = 201;
		for (size_t k = 0; k < 65532; k++)
			out[3 + k] = (uint8_t)(h + k);
		return 65535;
	}
	size_t n = 0;
	hr_put16(out, (uint16_t)(1 + 1 + vl));
	out[2] = 7;
	out[3] = 'T';
	memcpy(out + 4, v, vl);
	n = 4 + vl;
	if (h % 3 == 0) {
		size_t l = 1 + h % 300;
		hr_put16(out + n, (uint16_t)(1 + l));
		out[n + 2] = 200;
		for (size_t k = 0; k < l; k++)
			out[n + 3 + k] = (uint8_t)(h >> (k % 24));
		n += 3 + l;
	}
	return n;
}

/* Puts generation g of rows [lo, hi) (every qualifier), with or without tags. */
static int put_gen(hr_server *s, const char *t, int lo, int hi, int g, int notags)
{
	for (int i = lo; i < hi; i++) {
		char row[16], vals[NQUAL][64], quals[NQUAL][4];
		uint8_t *tags[NQUAL];
		hr_mcell c[NQUAL];
		snprintf(row, sizeof(row), "row%04d", i);
		memset(c, 0, sizeof(c));
		for (int q = 0; q < NQUAL; q++) {
			size_t vl = mkval(vals[q], i, q, g, notags);
			snprintf(quals[q], sizeof(quals[q]), "q%d", q);
			tags[q] = malloc(65536);
			size_t tl = tags_for((const uint8_t *)vals[q], vl, tags[q]);
			c[q] = (hr_mcell){"cf", quals[q], 2, HR_TS_NOW, HR_PUT, vals[q], vl,
					  tl ? tags[q] : NULL, tl};
		}
		int rc = hr_mutate(s, t, row, strlen(row), c, NQUAL, 0);
		for (int q = 0; q < NQUAL; q++)
			free(tags[q]);
		if (rc < 0) {
			fprintf(stdout, "# put %s gen %d: %d\n", row, g, rc);
			return rc;
		}
	}
	return 0;
}

/* 0 if the tags of a cell whose value is v are the ones it was written with */
static int tags_match(const void *v, size_t vl, const void *tags, size_t tl)
{
	static uint8_t want[65536];
	size_t wl = tags_for(v, vl, want);
	return tl == wl && (tl == 0) == (tags == NULL) && (tl == 0 || memcmp(tags, want, tl) == 0);
}

/* 0 if hr_get answers generation g's value, with its tags, for every cell
 * of rows [lo, hi). */
static int check_gen(hr_server *s, const char *t, int lo, int hi, int g, int notags)
{
	for (int i = lo; i < hi; i++) {
		char row[16], want[64], qual[4];
		snprintf(row, sizeof(row), "row%04d", i);
		for (int q = 0; q < NQUAL; q++) {
			snprintf(qual, sizeof(qual), "q%d", q);
			size_t wl = mkval(want, i, q, g, notags);
			hr_value v;
			int rc = hr_get(s, t, row, strlen(row), "cf", qual, 2, HR_GET_VALUE | HR_GET_TAGS,
					&v);
			int ok = rc == 0 && v.len == wl && memcmp(v.data, want, wl) == 0 && v.seq > 0;
			if (ok && !tags_match(v.data, v.len, v.tags, v.tags_len)) {
				fprintf(stdout, "# get %s/%s: %zu tag bytes, not the ones written\n", row,
					qual, v.tags_len);
				ok = 0;
			}
			if (!ok && rc == 0)
				fprintf(stdout, "# get %s/%s: '%.*s' seq %" PRIu64 ", want '%s'\n", row,
					qual, (int)v.len, (const char *)v.data, v.seq, want);
			if (rc != 0)
				fprintf(stdout, "# get %s/%s: %d\n", row, qual, rc);
			if (rc == 0)
				hr_value_free(&v);
			if (!ok)
				return -1;
		}
	}
	return 0;
}

/* 0 if a full scan returns each column of rows [0, NROWS) once, in order,
 * with the tags its value was written with and the seq a get reports. */
static int check_scan(hr_server *s, const char *t)
{
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(s, t, &o, &sc);
	if (rc < 0)
		return rc;
	int n = 0, bad = 0;
	while (!bad && (rc = hr_scan_next(sc, &e)) == 1) {
		char want_row[16], want_q[4];
		snprintf(want_row, sizeof(want_row), "row%04d", n / NQUAL);
		snprintf(want_q, sizeof(want_q), "q%d", n % NQUAL);
		hr_value v;
		bad = e.row_len != 7 || memcmp(e.row, want_row, 7) != 0 || e.qualifier_len != 2 ||
		      memcmp(e.qualifier, want_q, 2) != 0 ||
		      !tags_match(e.value, e.value_len, e.tags, e.tags_len);
		if (!bad && hr_get(s, t, e.row, e.row_len, "cf", e.qualifier, e.qualifier_len, 0, &v) == 0)
			bad = v.seq != e.seq || v.ts != e.ts || v.tags_len != e.tags_len || v.tags != NULL;
		if (bad)
			fprintf(stdout, "# scan entry %d: %.*s/%.*s = '%.*s' with %zu tag bytes, seq %"
				PRIu64 "\n", n, (int)e.row_len, (const char *)e.row,
				(int)e.qualifier_len, (const char *)e.qualifier, (int)e.value_len,
				(const char *)e.value, e.tags_len, e.seq);
		n++;
	}
	hr_scan_close(sc);
	if (rc < 0)
		return rc;
	if (!bad && n != NROWS * NQUAL) {
		fprintf(stdout, "# scan: %d entries, want %d\n", n, NROWS * NQUAL);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* ---- what the store files on disk hold ------------------------------------- */

typedef struct disk {
	size_t files, v1_files, v2_files; /* v2_files: version >= 2, cells with tags */
	size_t puts, tagged, bad;
	size_t max_tags;
	/* found[i][q]: the newest generation of (i, q) found (-1: none) */
	int found[NROWS][NQUAL];
	int64_t found_ts[NROWS][NQUAL];
	char region_dirs[8][64];
	size_t nregion_dirs;
} disk;

static disk g_disk;
static hr_fdcache *g_fc;
static hr_bcache *g_bc;
static uint64_t g_fid = 1;

static int disk_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	size_t pl = strlen(path);
	if (flag != FTW_F || pl < 4 || strcmp(path + pl - 4, ".hsf") != 0)
		return 0;
	disk *d = &g_disk;
	hr_sfile *sf;
	if (hr_sfile_open(path, g_fid++, g_fc, g_bc, &sf) < 0) {
		d->bad++;
		return 0;
	}
	d->files++;
	uint32_t ver = hr_sfile_get_info(sf)->version;
	d->v1_files += ver == 1;
	d->v2_files += ver >= 2;	/* with tags: version 2 and later (3: compression) */
	/* the region directory: <store>/<region>/<family>/<file> */
	const char *st = strstr(path, "/store/");
	if (st) {
		char rd[64];
		snprintf(rd, sizeof(rd), "%.16s", st + 7);
		size_t k = 0;
		while (k < d->nregion_dirs && strcmp(d->region_dirs[k], rd) != 0)
			k++;
		if (k == d->nregion_dirs && k < 8)
			snprintf(d->region_dirs[d->nregion_dirs++], 64, "%s", rd);
	}
	hr_sfile_iter *it;
	if (hr_sfile_iter_new(sf, &it) < 0 || hr_sfile_iter_first(it) < 0) {
		d->bad++;
		hr_sfile_unref(sf);
		return 0;
	}
	static uint8_t want[65536];
	for (; hr_sfile_iter_valid(it); hr_sfile_iter_next(it)) {
		const hr_kv *kv = hr_sfile_iter_kv(it);
		if (kv->type != HR_PUT)
			continue;
		d->puts++;
		size_t wl = tags_for(kv->value, kv->value_len, want);
		if (kv->tags_len != wl || (wl && memcmp(kv->tags, want, wl) != 0) ||
		    (ver == 1 && kv->tags_len)) {
			if (d->bad++ < 3)
				fprintf(stdout, "# %s: '%.*s' has %u tag bytes, want %zu\n", path,
					(int)kv->value_len, (const char *)kv->value, kv->tags_len, wl);
		}
		d->tagged += kv->tags_len > 0;
		if (kv->tags_len > d->max_tags)
			d->max_tags = kv->tags_len;
		int i, q, g;
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)kv->value_len, (const char *)kv->value);
		if (sscanf(tmp[0] == 'n' ? tmp + 1 : tmp, "v%d.%d.%d", &i, &q, &g) == 3 && i >= 0 &&
		    i < NROWS && q >= 0 && q < NQUAL && g > d->found[i][q]) {
			d->found[i][q] = g;
			d->found_ts[i][q] = kv->ts;
		}
	}
	hr_sfile_iter_free(it);
	hr_sfile_unref(sf);
	return 0;
}

/* Reads every store file under dir (the server closed). */
static void disk_scan(const char *dir)
{
	char store[4200];
	snprintf(store, sizeof(store), "%s/store", dir);
	memset(&g_disk, 0, sizeof(g_disk));
	for (int i = 0; i < NROWS; i++)
		for (int q = 0; q < NQUAL; q++)
			g_disk.found[i][q] = -1;
	if (hr_fdcache_new(16, hr_io_posix(), &g_fc) < 0 || hr_bcache_new(4 << 20, &g_bc) < 0)
		abort();
	nftw(store, disk_cb, 16, FTW_PHYS);
	hr_bcache_free(g_bc);
	hr_fdcache_free(g_fc);
	fprintf(stdout, "# disk: %zu files (%zu v1, %zu v2) in %zu regions, %zu puts, %zu with tags "
		"(largest %zu bytes), %zu bad\n", g_disk.files, g_disk.v1_files, g_disk.v2_files,
		g_disk.nregion_dirs, g_disk.puts, g_disk.tagged, g_disk.max_tags, g_disk.bad);
}

/* 0 if the files hold generation >= g of every cell of rows [lo, hi) */
static int disk_has(int lo, int hi, int g)
{
	for (int i = lo; i < hi; i++)
		for (int q = 0; q < NQUAL; q++)
			if (g_disk.found[i][q] < g) {
				fprintf(stdout, "# disk: row %d q%d: newest generation %d, want %d\n",
					i, q, g_disk.found[i][q], g);
				return -1;
			}
	return 0;
}

/* ---- tests ----------------------------------------------------------------- */

/* flushes, then a minor compaction of everything, then a major one */
static void t_flush_and_compaction(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "fc");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	for (int g = 1; g <= 3; g++) {
		CHECK_RC(put_gen(s, "t", 0, NROWS, g, 0), 0);
		CHECK_RC(hr_flush(s, "t"), 0);
	}
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.files == 3 && g_disk.v2_files == 3 && g_disk.bad == 0);
	CHECK(g_disk.puts == 3 * NROWS * NQUAL);
	CHECK(g_disk.tagged > g_disk.puts / 2 && g_disk.tagged < g_disk.puts);
	CHECK(g_disk.max_tags == 65535);
	CHECK_RC(disk_has(0, NROWS, 3), 0);

	s = tg_open_cfg(dir, 1);
	CHECK(s);
	CHECK_RC(check_gen(s, "t", 0, NROWS, 3, 0), 0);
	CHECK_RC(hr_compact(s, "t", 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.bad == 0 && g_disk.v1_files == 0);
	CHECK(g_disk.files == 1); /* the minor one took all three */
	CHECK_RC(disk_has(0, NROWS, 3), 0);

	s = tg_open(dir);
	CHECK(s);
	CHECK_RC(check_scan(s, "t"), 0);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(check_gen(s, "t", 0, NROWS, 3, 0), 0);
	CHECK_RC(check_scan(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.files == 1 && g_disk.v2_files == 1 && g_disk.bad == 0);
	CHECK(g_disk.puts == NROWS * NQUAL); /* max_versions 1: only the newest */
	CHECK(g_disk.max_tags == 65535);
	CHECK_RC(disk_has(0, NROWS, 3), 0);
	hr_test_rmrf(dir);
}

/* A split writes the parent's files and its memstores into the daughters. */
static void t_split(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "split");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(put_gen(s, "t", 0, NROWS, 1, 0), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	/* the split flushes first: make its file part hold generation 2 of the
	 * upper rows, and leave generation 1 below */
	CHECK_RC(put_gen(s, "t", NROWS / 2, NROWS, 2, 0), 0);
	CHECK_RC(hr_split(s, "t", "row0100", 7), 0);
	CHECK_RC(put_gen(s, "t", 0, 20, 3, 0), 0);
	hr_region_info *ri;
	size_t n;
	CHECK_RC(hr_region_list(s, "t", &ri, &n), 0);
	hr_region_list_free(ri, n);
	CHECK_RC(n, 2);
	CHECK_RC(check_gen(s, "t", 20, NROWS / 2, 1, 0), 0);
	CHECK_RC(check_gen(s, "t", NROWS / 2, NROWS, 2, 0), 0);
	CHECK_RC(check_gen(s, "t", 0, 20, 3, 0), 0);
	CHECK_RC(check_scan(s, "t"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.nregion_dirs == 2 && g_disk.bad == 0 && g_disk.v1_files == 0);
	CHECK_RC(disk_has(0, 20, 3), 0);
	CHECK_RC(disk_has(20, NROWS / 2, 1), 0);
	CHECK_RC(disk_has(NROWS / 2, NROWS, 2), 0);
	CHECK(g_disk.max_tags == 65535);
	hr_test_rmrf(dir);
}

/* Tags written to the WAL come back by replay (the memstore was never
 * flushed), then reach a store file. */
static void t_wal_replay(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "replay");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(put_gen(s, "t", 0, NROWS, 1, 0), 0);
	CHECK_RC(hr_server_close(s), 0); /* flushes nothing: the WAL holds it all */
	disk_scan(dir);
	CHECK(g_disk.files == 0);
	s = tg_open(dir);
	CHECK(s);
	CHECK_RC(check_gen(s, "t", 0, NROWS, 1, 0), 0);
	CHECK_RC(check_scan(s, "t"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.files == 1 && g_disk.bad == 0);
	CHECK(g_disk.tagged > 0 && g_disk.max_tags == 65535);
	CHECK_RC(disk_has(0, NROWS, 1), 0);
	hr_test_rmrf(dir);
}

/* ---- a version-1 WAL segment, byte by byte ---------------------------------- */

static size_t v1_cell(uint8_t *p, const char *fam, const char *qual, int64_t ts, uint8_t type,
		      const char *val)
{
	size_t fl = strlen(fam), ql = strlen(qual), vl = val ? strlen(val) : 0;
	uint8_t *o = p;
	*p++ = (uint8_t)fl;
	memcpy(p, fam, fl);
	p += fl;
	/* the 25-byte header of version 1: no tags_len */
	hr_put16(p, 0);
	hr_put16(p + 2, (uint16_t)ql);
	hr_put32(p + 4, (uint32_t)vl);
	hr_put64(p + 8, (uint64_t)ts);
	hr_put64(p + 16, 0);
	p[24] = type;
	p += 25;
	memcpy(p, qual, ql);
	p += ql;
	if (vl)
		memcpy(p, val, vl);
	return (size_t)(p + vl - o);
}

static size_t v1_record(uint8_t *rec, uint64_t seq, uint64_t region, const char *row,
			const uint8_t *cells, size_t cells_len, uint16_t ncells)
{
	uint8_t *pl = rec + HR_WAL_REC_HDR_LEN;
	size_t rl = strlen(row);
	hr_put64(pl, region);
	hr_put16(pl + 8, (uint16_t)rl);
	memcpy(pl + 10, row, rl);
	hr_put16(pl + 10 + rl, ncells);
	memcpy(pl + 12 + rl, cells, cells_len);
	size_t plen = 12 + rl + cells_len;
	hr_put32(rec, (uint32_t)plen);
	hr_put64(rec + 4, seq);
	uint32_t crc = hr_crc32c(0, rec, 12);
	crc = hr_crc32c(crc, pl, plen);
	hr_put32(rec + 12, crc);
	return HR_WAL_REC_HDR_LEN + plen;
}

static void t_wal_version1_segment(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "walv1");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(et_put(s, "t", "a", 1, "cf", "x", 1000, "old"), 0);
	CHECK_RC(et_put(s, "t", "b", 1, "cf", "y", 1000, "keep"), 0);
	hr_region_info *ri;
	size_t n;
	CHECK_RC(hr_region_list(s, "t", &ri, &n), 0);
	uint64_t region = ri[0].id;
	hr_region_list_free(ri, n);
	hr_stats st;
	CHECK_RC(hr_stats_get(s, &st), 0);
	uint64_t seq = st.seq;
	CHECK_RC(hr_server_close(s), 0);

	/* the next segment id after those on disk */
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s/wal", dir);
	DIR *d = opendir(wal);
	CHECK(d);
	struct dirent *de;
	uint64_t max_id = 0;
	while ((de = readdir(d))) {
		char *end;
		uint64_t id = strtoull(de->d_name, &end, 16);
		if (end != de->d_name && strcmp(end, ".wal") == 0 && id > max_id)
			max_id = id;
	}
	closedir(d);
	uint64_t seg = max_id + 1;
	static uint8_t buf[8192];
	uint8_t *p = buf;
	memcpy(p, HR_WAL_MAGIC, 8);
	hr_put32(p + 8, 1); /* version 1 */
	hr_put32(p + 12, HR_WAL_HDR_LEN);
	hr_put64(p + 16, seg);
	hr_put32(p + 24, 0);
	hr_put32(p + 28, hr_crc32c(0, p, 28));
	p += HR_WAL_HDR_LEN;
	uint8_t cells[512];
	size_t cl = v1_cell(cells, "cf", "x", 2000, HR_PUT, "new");
	cl += v1_cell(cells + cl, "cf", "z", 2000, HR_PUT, "");
	p += v1_record(p, seq + 1, region, "a", cells, cl, 2);
	cl = v1_cell(cells, "cf", "y", 3000, HR_DELETE_COLUMN, NULL);
	p += v1_record(p, seq + 2, region, "b", cells, cl, 1);
	cl = v1_cell(cells, "cf", "w", 2500, HR_PUT, "fresh");
	p += v1_record(p, seq + 3, region, "c", cells, cl, 1);
	char path[4300];
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".wal", wal, seg);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK_RC(hr_io_pwrite_all(hr_io_posix(), fd, buf, (size_t)(p - buf), 0), 0);
	close(fd);

	s = tg_open(dir);
	CHECK(s);
	char got[64];
	int64_t ts;
	CHECK_RC(et_get(s, "t", "a", 1, "cf", "x", got, sizeof(got), &ts), 0);
	CHECK_STREQ(got, "new");
	CHECK(ts == 2000);
	CHECK_RC(et_get(s, "t", "a", 1, "cf", "z", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "");
	CHECK_RC(et_get(s, "t", "b", 1, "cf", "y", got, sizeof(got), NULL), -ENOENT);
	CHECK_RC(et_get(s, "t", "c", 1, "cf", "w", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "fresh");
	CHECK_RC(hr_stats_get(s, &st), 0);
	CHECK(st.seq >= seq + 3);
	/* written again (as version 2) after the replay, and flushed: the same */
	CHECK_RC(et_put(s, "t", "c", 1, "cf", "w", HR_TS_NOW, "fresher"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_get(s, "t", "a", 1, "cf", "x", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "new");
	CHECK_RC(et_get(s, "t", "c", 1, "cf", "w", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "fresher");
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* A store with version-1 files (from before tags) and version-2 files:
 * reads see the newest of each cell wherever it is; a major compaction
 * rewrites the old cells (still without tags) into a version-2 file; a
 * split of a mixed store keeps everything. */
static void t_mixed_versions(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "mixed");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	/* generation 1 (no tags) in two version-1 files */
	hr_sfile_test_write_version(1);
	int rc = put_gen(s, "t", 0, NROWS, 1, 1);
	if (rc == 0)
		rc = hr_flush(s, "t");
	if (rc == 0)
		rc = put_gen(s, "t", 0, NROWS / 4, 2, 1);
	if (rc == 0)
		rc = hr_flush(s, "t");
	hr_sfile_test_write_version(0);
	CHECK_RC(rc, 0);
	/* generation 3 (tags) for the upper half in a version-2 file, 4 for a
	 * middle range in the memstore */
	CHECK_RC(put_gen(s, "t", NROWS / 2, NROWS, 3, 0), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(put_gen(s, "t", 40, 60, 4, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.v1_files == 2 && g_disk.v2_files == 1 && g_disk.bad == 0);

	/* reads across the mix, after a reopen (the WAL replays generation 4) */
	s = tg_open(dir);
	CHECK(s);
	CHECK_RC(check_gen(s, "t", 0, 40, 2, 1), 0);
	CHECK_RC(check_gen(s, "t", 40, 60, 4, 0), 0);
	CHECK_RC(check_gen(s, "t", 60, NROWS / 2, 1, 1), 0);
	CHECK_RC(check_gen(s, "t", NROWS / 2, NROWS, 3, 0), 0);
	/* a full scan too: every column once, with the newest value */
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	et_str dump = {0};
	CHECK_RC(et_scan_dump(s, "t", &o, &dump), 0);
	et_str want = {0};
	for (int i = 0; i < NROWS; i++) {
		int g = i < 40 ? 2 : i < 60 ? 4 : i < NROWS / 2 ? 1 : 3;
		for (int q = 0; q < NQUAL; q++) {
			char v[64];
			mkval(v, i, q, g, g <= 2);
			et_str_printf(&want, "row%04d/cf/q%d=%s;", i, q, v);
		}
	}
	int same = strcmp(et_cstr(&dump), et_cstr(&want)) == 0;
	et_str_free(&dump);
	et_str_free(&want);
	CHECK(same);
	CHECK_RC(check_scan(s, "t"), 0);

	/* a split of the mixed store, at a row inside the version-1 range */
	CHECK_RC(hr_split(s, "t", "row0050", 7), 0);
	CHECK_RC(check_gen(s, "t", 0, 40, 2, 1), 0);
	CHECK_RC(check_gen(s, "t", 40, 60, 4, 0), 0);
	CHECK_RC(check_gen(s, "t", 60, NROWS / 2, 1, 1), 0);
	CHECK_RC(check_gen(s, "t", NROWS / 2, NROWS, 3, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.v1_files == 0 && g_disk.bad == 0 && g_disk.nregion_dirs == 2);
	CHECK_RC(disk_has(0, 40, 2), 0);
	CHECK_RC(disk_has(40, 60, 4), 0);
	CHECK_RC(disk_has(60, NROWS / 2, 1), 0);
	CHECK_RC(disk_has(NROWS / 2, NROWS, 3), 0);
	hr_test_rmrf(dir);
}

/* The same mix, compacted instead of split. */
static void t_mixed_compaction(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "mixedc");
	hr_server *s = tg_open_cfg(dir, 1);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	hr_sfile_test_write_version(1);
	int rc = put_gen(s, "t", 0, NROWS, 1, 1);
	if (rc == 0)
		rc = hr_flush(s, "t");
	hr_sfile_test_write_version(0);
	CHECK_RC(rc, 0);
	CHECK_RC(put_gen(s, "t", NROWS / 2, NROWS, 2, 0), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_compact(s, "t", 0), 0); /* minor, over both files */
	CHECK_RC(check_gen(s, "t", 0, NROWS / 2, 1, 1), 0);
	CHECK_RC(check_gen(s, "t", NROWS / 2, NROWS, 2, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.v1_files == 0 && g_disk.bad == 0);
	CHECK_RC(disk_has(0, NROWS / 2, 1), 0);
	CHECK_RC(disk_has(NROWS / 2, NROWS, 2), 0);
	s = tg_open(dir);
	CHECK(s);
	CHECK_RC(hr_compact(s, "t", 1), 0);
	CHECK_RC(check_gen(s, "t", 0, NROWS / 2, 1, 1), 0);
	CHECK_RC(check_gen(s, "t", NROWS / 2, NROWS, 2, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	disk_scan(dir);
	CHECK(g_disk.files == 1 && g_disk.v2_files == 1 && g_disk.bad == 0);
	CHECK(g_disk.puts == NROWS * NQUAL);
	CHECK_RC(disk_has(0, NROWS / 2, 1), 0);
	CHECK_RC(disk_has(NROWS / 2, NROWS, 2), 0);
	hr_test_rmrf(dir);
}

static void t_bad_tags(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "bad");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	uint8_t t[8] = {2, 0, 5, 'x', 0, 0, 0, 0};
	hr_mcell c = {"cf", "q", 1, HR_TS_NOW, HR_PUT, "v", 1, t, 4};
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), 0);
	c.tags_len = 3; /* the tag says 2 bytes of type+value, 1 is there */
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	c.tags_len = 5; /* a second tag of 1 byte: no room for its length */
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	c.tags_len = 6; /* a second tag with len 0 */
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	c.tags = NULL; /* a length without an area */
	c.tags_len = 4;
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	uint8_t *big = calloc(1, 70000);
	CHECK(big);
	hr_put16(big, 65535); /* len counts type + value: 65537 bytes */
	c.tags = big;
	c.tags_len = 65537;
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	c.tags_len = 65536;
	hr_put16(big, 65533);
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), -EINVAL);
	free(big);
	/* a delete's tags are ignored, whatever they are */
	hr_mcell d = {"cf", "q", 1, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0, t, 3};
	CHECK_RC(hr_mutate(s, "t", "r", 1, &d, 1, 0), 0);
	char got[8];
	CHECK_RC(et_get(s, "t", "r", 1, "cf", "q", got, sizeof(got), NULL), -ENOENT);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* Each version keeps its own tags; hr_get_versions copies them only with
 * HR_GET_TAGS, and a put without tags over one with tags has none. */
static void t_versions(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "versions");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf:3", NULL), 0);
	const char *vals[] = {"first", "second", "third"};
	static uint8_t tags[3][65536];
	size_t tl[3];
	for (int k = 0; k < 3; k++) {
		tl[k] = tags_for((const uint8_t *)vals[k], strlen(vals[k]), tags[k]);
		if (k == 1)
			tl[k] = 0;
		hr_mcell c = {"cf", "q", 1, 1000 + k, HR_PUT, vals[k], strlen(vals[k]), tags[k], tl[k]};
		CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), 0);
		if (k == 1)
			CHECK_RC(hr_flush(s, "t"), 0);
	}
	CHECK(tl[0] > 0 && tl[2] > 0);
	for (int pass = 0; pass < 2; pass++) {
		hr_get_opts o = {0, 0, 0, HR_GET_TAGS};
		hr_value *v;
		CHECK_RC(hr_get_versions(s, "t", "r", 1, "cf", "q", 1, &o, &v), 3);
		uint64_t prev_seq = UINT64_MAX;
		for (int k = 0; k < 3; k++) {
			int want = 2 - k; /* newest first */
			CHECK(v[k].len == strlen(vals[want]) && memcmp(v[k].data, vals[want], v[k].len) == 0);
			CHECK(v[k].ts == 1000 + want);
			CHECK(v[k].tags_len == tl[want]);
			CHECK((v[k].tags == NULL) == (tl[want] == 0));
			CHECK(tl[want] == 0 || memcmp(v[k].tags, tags[want], tl[want]) == 0);
			CHECK(v[k].seq < prev_seq);
			prev_seq = v[k].seq;
		}
		hr_values_free(v, 3);
		o.flags = 0;
		CHECK_RC(hr_get_versions(s, "t", "r", 1, "cf", "q", 1, &o, &v), 3);
		CHECK(v[0].tags == NULL && v[0].tags_len == tl[2] && v[2].tags == NULL);
		hr_values_free(v, 3);
		/* hr_get: tags only when asked, the length always */
		hr_value one;
		CHECK_RC(hr_get(s, "t", "r", 1, "cf", "q", 1, 0, &one), 0);
		CHECK(one.data == NULL && one.tags == NULL && one.tags_len == tl[2] && one.len == 5);
		CHECK_RC(hr_get(s, "t", "r", 1, "cf", "q", 1, HR_GET_TAGS, &one), 0);
		CHECK(one.data == NULL && one.tags && one.tags_len == tl[2]);
		CHECK(memcmp(one.tags, tags[2], tl[2]) == 0);
		hr_value_free(&one);
		CHECK(one.tags == NULL);
		hr_value_free(&one); /* twice is harmless */
		CHECK_RC(hr_compact(s, "t", 1), 0);
	}
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

static int attr_eq(const hr_file_attr *a, const hr_file_attr *b)
{
	return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->mtime_ns == b->mtime_ns && a->atime_ns == b->atime_ns && a->ctime_ns == b->ctime_ns;
}

/* The file-attribute tag: its exact bytes, found among other tags, through
 * the engine, and refused when malformed. */
static void t_file_attr(void)
{
	hr_file_attr a = {0640, 1000, 100, 1700000000123456789ll, -5, INT64_MAX}, b;
	uint8_t area[3 + 5 + HR_FILE_ATTR_TAG_LEN + 3];
	/* another tag first (type 9, value "abcd") */
	hr_put16(area, 5);
	area[2] = 9;
	memcpy(area + 3, "abcd", 4);
	hr_file_attr_tag_encode(&a, area + 7);
	uint8_t *t = area + 7;
	CHECK(hr_get16(t) == 41 && t[2] == HR_TAG_FILE_ATTR);
	CHECK(hr_get32(t + 3) == 0640 && hr_get32(t + 7) == 1000 && hr_get32(t + 11) == 100);
	CHECK(hr_get32(t + 15) == 0);
	CHECK((int64_t)hr_get64(t + 19) == a.mtime_ns && (int64_t)hr_get64(t + 27) == -5 &&
	      (int64_t)hr_get64(t + 35) == INT64_MAX);
	size_t len = 7 + HR_FILE_ATTR_TAG_LEN;
	memset(&b, 0, sizeof(b));
	CHECK_RC(hr_file_attr_tag_find(area, len, &b), 1);
	CHECK(attr_eq(&a, &b));
	CHECK_RC(hr_file_attr_tag_find(area, 7, &b), 0);  /* only the other tag */
	CHECK_RC(hr_file_attr_tag_find(NULL, 0, &b), 0);
	CHECK_RC(hr_file_attr_tag_find(area, len - 1, &b), -EINVAL); /* cut short */
	/* a trailing malformed tag after a good attr tag: the area is bad */
	hr_put16(area + len, 0);
	area[len + 2] = 1;
	CHECK_RC(hr_file_attr_tag_find(area, len + 3, &b), -EINVAL);
	/* an attr tag too short for its payload */
	uint8_t shortt[8] = {5, 0, HR_TAG_FILE_ATTR, 1, 2, 3, 4, 0};
	CHECK_RC(hr_file_attr_tag_find(shortt, 6, &b), -EINVAL);

	/* through the engine, and across a flush */
	char dir[4200];
	subdir(dir, sizeof(dir), "attr");
	hr_server *s = tg_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	hr_mcell c = {"cf", "f", 1, HR_TS_NOW, HR_PUT, "data", 4, area, len};
	CHECK_RC(hr_mutate(s, "t", "r", 1, &c, 1, 0), 0);
	for (int pass = 0; pass < 2; pass++) {
		hr_value v;
		CHECK_RC(hr_get(s, "t", "r", 1, "cf", "f", 1, HR_GET_TAGS, &v), 0);
		memset(&b, 0, sizeof(b));
		CHECK_RC(hr_file_attr_tag_find(v.tags, v.tags_len, &b), 1);
		CHECK(attr_eq(&a, &b));
		hr_value_free(&v);
		CHECK_RC(hr_flush(s, "t"), 0);
	}
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "tags");
	RUN(t_flush_and_compaction);
	RUN(t_split);
	RUN(t_wal_replay);
	RUN(t_wal_version1_segment);
	RUN(t_mixed_versions);
	RUN(t_mixed_compaction);
	RUN(t_bad_tags);
	RUN(t_versions);
	RUN(t_file_attr);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
