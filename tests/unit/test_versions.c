/* test_versions.c — versions and time ranges through the public API
 * (hregionfs.h, "Versions and time ranges"): time-range gets and scans,
 * keep_deleted_cells false (a delete hides the past for good) and true
 * (deleted cells read present before the marker, absent from it on), one
 * version per timestamp, retention of max_versions = 5, and the same
 * answers with the data in the memstore, in store files, after a major
 * compaction and after a reopen. Also: a version-1 schema record (before
 * keep_deleted_cells) still opens. */
#include <inttypes.h>
#include <lmdb.h>

#include "hr_etest.h"

static char g_dir[4096];

static hr_server *open_dir(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	/* only the test's hr_flush / hr_compact change the files */
	c.flush_size = 16ull << 20;
	c.compact_min_files = 1000;
	c.compact_max_files = 1000;
	c.blocking_store_files = 100000;
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# hr_server_open = %d (%s)\n", rc, strerror(-rc));
	return s;
}

#define R(s) s, strlen(s)

/* versions of (row, fam, q) in [mn, mx) as "v3,v2" (max 0 = the family's) */
static unsigned g_flags; /* hr_get_opts.flags of VERS */

static int vers(hr_server *s, const char *row, const char *fam, const char *q, uint32_t max,
		int64_t mn, int64_t mx, char *out, size_t outlen)
{
	hr_get_opts o = {max, mn, mx, g_flags};
	hr_value *v = NULL;
	int n = hr_get_versions(s, "t", R(row), fam, R(q), &o, &v);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, outlen - l, "%s%.*s", i ? "," : "", (int)v[i].len,
			 (const char *)v[i].data);
	}
	if (n > 0)
		hr_values_free(v, (size_t)n);
	return n;
}

#define VERS(row, fam, q, max, mn, mx, want)                                            \
	do {                                                                            \
		char vb_[256];                                                          \
		int n_ = vers(s, row, fam, q, max, mn, mx, vb_, sizeof(vb_));           \
		if (n_ < 0)                                                             \
			CHECK_RC(n_, 0);                                                \
		CHECK_STREQ(vb_, want);                                                 \
	} while (0)

/* a scan of one family as of max_ts (cells with values, or rows) */
#define SCAN(fam, md, mx, want)                                                        \
	do {                                                                             \
		et_str o_ = {0};                                                         \
		hr_scan_opts so_ = {.family = fam, .mode = md,                           \
				    .with_values = md == HR_SCAN_CELLS, .max_ts = mx,    \
				    .history = g_flags != 0};                            \
		et_scan_dump(s, "t", &so_, &o_);                                         \
		int eq_ = strcmp(et_cstr(&o_), want) == 0;                               \
		if (!eq_)                                                                \
			fprintf(stdout, "# scan %s as of %lld: got '%s'\n#   want '%s'\n", \
				fam, (long long)(mx), et_cstr(&o_), want);               \
		et_str_free(&o_);                                                        \
		CHECK(eq_);                                                              \
	} while (0)

/* The same data in two families: f (max_versions 5) and k (5 and
 * keep_deleted_cells). */
static int load(hr_server *s)
{
	static const char *fams[] = {"f", "k"};
	char v[16];
	int rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		const char *f = fams[i];
		/* h/q: 7 overwrites, then a delete; h/q2: the same and a put after */
		for (int ts = 1; ts <= 7 && rc == 0; ts++) {
			snprintf(v, sizeof(v), "v%d", ts);
			if ((rc = et_put(s, "t", R("h"), f, "q", ts, v)) == 0)
				rc = et_put(s, "t", R("h"), f, "q2", ts, v);
		}
		if (rc == 0)
			rc = hr_flush(s, "t"); /* the puts in a file, the markers not */
		if (rc == 0)
			rc = et_del(s, "t", R("h"), f, "q", 8, HR_DELETE_COLUMN);
		if (rc == 0)
			rc = et_del(s, "t", R("h"), f, "q2", 8, HR_DELETE_COLUMN);
		if (rc == 0)
			rc = et_put(s, "t", R("h"), f, "q2", 9, "v9");
		/* d/q: two puts in one millisecond are one version */
		if (rc == 0)
			rc = et_put(s, "t", R("d"), f, "q", 5, "a");
		if (rc == 0)
			rc = et_put(s, "t", R("d"), f, "q", 5, "b");
		if (rc == 0)
			rc = et_put(s, "t", R("d"), f, "q", 6, "c");
		/* r/q: a delete between puts */
		if (rc == 0)
			rc = et_put(s, "t", R("r"), f, "q", 10, "x10");
		if (rc == 0)
			rc = et_put(s, "t", R("r"), f, "q", 20, "x20");
		if (rc == 0)
			rc = et_put(s, "t", R("r"), f, "q", 30, "x30");
		if (rc == 0)
			rc = et_del(s, "t", R("r"), f, "q", 40, HR_DELETE_COLUMN);
		if (rc == 0)
			rc = et_put(s, "t", R("r"), f, "q", 50, "x50");
		/* fm: a family delete */
		if (rc == 0)
			rc = et_put(s, "t", R("fm"), f, "q", 10, "y10");
		if (rc == 0)
			rc = et_put(s, "t", R("fm"), f, "q3", 15, "z15");
		if (rc == 0)
			rc = et_del(s, "t", R("fm"), f, NULL, 20, HR_DELETE_FAMILY);
		if (rc == 0)
			rc = et_put(s, "t", R("fm"), f, "q", 30, "y30");
	}
	return rc;
}

/* What HBase answers with KEEP_DELETED_CELLS=false (family f). */
static void verify_f(hr_server *s)
{
	VERS("h", "f", "q", 0, 0, 0, "");
	for (int t = 1; t <= 9; t++)
		VERS("h", "f", "q", 1, 0, t + 1, ""); /* the marker applies after the range too */
	VERS("h", "f", "q2", 0, 0, 0, "v9");
	VERS("h", "f", "q2", 0, 0, 8, "");
	VERS("d", "f", "q", 0, 0, 0, "c,b");
	VERS("d", "f", "q", 0, 0, 6, "b");
	VERS("r", "f", "q", 0, 0, 0, "x50");
	VERS("r", "f", "q", 0, 0, 35, "");
	VERS("r", "f", "q", 0, 0, 55, "x50");
	VERS("fm", "f", "q", 0, 0, 0, "y30");
	VERS("fm", "f", "q", 0, 0, 15, "");
	VERS("fm", "f", "q3", 0, 0, 16, "");
	SCAN("f", HR_SCAN_CELLS, 0, "d/f/q=c;fm/f/q=y30;h/f/q2=v9;r/f/q=x50;");
	SCAN("f", HR_SCAN_CELLS, 7, "d/f/q=c;");
	SCAN("f", HR_SCAN_CELLS, 6, "d/f/q=b;");
	SCAN("f", HR_SCAN_CELLS, 5, "");
	SCAN("f", HR_SCAN_CELLS, 16, "d/f/q=c;h/f/q2=v9;");
	SCAN("f", HR_SCAN_ROWS, 16, "d;h;");
}

/* ... and with KEEP_DELETED_CELLS=true (family k). */
static void verify_k(hr_server *s)
{
	/* live reads: every marker applies */
	VERS("h", "k", "q", 0, 0, 0, "");
	VERS("h", "k", "q2", 0, 0, 0, "v9");
	/* the 5 newest of 7 are kept; before the delete they read present */
	VERS("h", "k", "q", 0, 0, 8, "v7,v6,v5,v4,v3");
	VERS("h", "k", "q", 0, 0, 9, "");
	VERS("h", "k", "q", 0, 4, 7, "v6,v5,v4");
	for (int t = 1; t <= 9; t++) {
		char want[8] = "";
		if (t >= 3 && t <= 7)
			snprintf(want, sizeof(want), "v%d", t);
		VERS("h", "k", "q", 1, 0, t + 1, want);
	}
	/* deleted puts count as versions: v9 pushes v3 out */
	VERS("h", "k", "q2", 0, 0, 8, "v7,v6,v5,v4");
	VERS("h", "k", "q2", 0, 0, 10, "v9");
	VERS("d", "k", "q", 0, 0, 0, "c,b");
	VERS("r", "k", "q", 0, 0, 0, "x50");
	VERS("r", "k", "q", 0, 0, 35, "x30,x20,x10");
	VERS("r", "k", "q", 0, 0, 40, "x30,x20,x10");
	VERS("r", "k", "q", 0, 0, 41, "");
	VERS("r", "k", "q", 0, 20, 40, "x30,x20");
	VERS("r", "k", "q", 0, 0, 55, "x50");
	VERS("fm", "k", "q", 0, 0, 0, "y30");
	VERS("fm", "k", "q", 0, 0, 15, "y10");
	VERS("fm", "k", "q", 0, 0, 25, "");
	VERS("fm", "k", "q3", 0, 0, 20, "z15");
	VERS("fm", "k", "q3", 0, 0, 21, "");
	VERS("fm", "k", "q3", 0, 0, 0, "");
	SCAN("k", HR_SCAN_CELLS, 0, "d/k/q=c;fm/k/q=y30;h/k/q2=v9;r/k/q=x50;");
	SCAN("k", HR_SCAN_CELLS, 8, "d/k/q=c;h/k/q=v7;h/k/q2=v7;");
	SCAN("k", HR_SCAN_CELLS, 16, "d/k/q=c;fm/k/q=y10;fm/k/q3=z15;h/k/q2=v9;r/k/q=x10;");
	SCAN("k", HR_SCAN_CELLS, 4, "h/k/q=v3;");
	SCAN("k", HR_SCAN_CELLS, 3, "");
	SCAN("k", HR_SCAN_FAMILIES, 8, "d/k;h/k;");
	SCAN("k", HR_SCAN_FAMILIES, 16, "d/k;fm/k;h/k;r/k;");
	SCAN("k", HR_SCAN_ROWS, 41, "d;fm;h;"); /* r: deleted at 40 */
	SCAN("k", HR_SCAN_ROWS, 40, "d;fm;h;r;");
}

/* HR_GET_HISTORY: what time travel can reach (the versions tree) */
static void verify_history(hr_server *s)
{
	g_flags = HR_GET_HISTORY;
	VERS("h", "f", "q", 0, 0, 0, "");
	VERS("h", "f", "q2", 0, 0, 0, "v9");
	VERS("h", "k", "q", 0, 0, 0, "v7,v6,v5,v4,v3");
	VERS("h", "k", "q", 1, 6, 7, "v6");
	VERS("h", "k", "q2", 0, 0, 0, "v9,v7,v6,v5,v4");
	VERS("r", "k", "q", 0, 0, 0, "x50,x30,x20,x10");
	VERS("fm", "k", "q3", 0, 0, 0, "z15");
	SCAN("f", HR_SCAN_CELLS, 0, "d/f/q=c;fm/f/q=y30;h/f/q2=v9;r/f/q=x50;");
	SCAN("k", HR_SCAN_CELLS, 0, "d/k/q=c;fm/k/q=y30;fm/k/q3=z15;h/k/q=v7;h/k/q2=v9;r/k/q=x50;");
	g_flags = 0;
}

static int verify(hr_server *s, const char *phase)
{
	fprintf(stdout, "# phase: %s\n", phase);
	verify_f(s);
	if (hr_t_cur_failed)
		return -1;
	verify_k(s);
	if (hr_t_cur_failed)
		return -1;
	verify_history(s);
	g_flags = 0;
	return hr_t_cur_failed ? -1 : 0;
}

static uint64_t family_bytes(hr_server *s, const char *fam)
{
	hr_region_info *r = NULL;
	size_t n = 0;
	uint64_t b = 0;
	if (hr_region_list(s, "t", &r, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < r[i].nstores; j++)
			if (strcmp(r[i].stores[j].family, fam) == 0)
				b += r[i].stores[j].file_bytes;
	hr_region_list_free(r, n);
	return b;
}

static void t_time_travel(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/tt", g_dir);
	hr_server *s = open_dir(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "f:5", "k:5!", NULL), 0);
	CHECK_RC(load(s), 0);
	if (verify(s, "memstore and files") < 0)
		goto out;
	CHECK_RC(hr_flush(s, "t"), 0);
	if (verify(s, "flushed") < 0)
		goto out;
	CHECK_RC(hr_compact(s, "t", 1), 0);
	if (verify(s, "major compacted") < 0)
		goto out;
	/* the same puts and markers, but only k kept its deleted cells */
	uint64_t fb = family_bytes(s, "f"), kb = family_bytes(s, "k");
	fprintf(stdout, "# after major compaction: f %" PRIu64 " bytes, k %" PRIu64 "\n", fb, kb);
	CHECK(fb > 0 && kb > fb);
	CHECK_RC(hr_server_close(s), 0);
	s = open_dir(dir);
	CHECK(s);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "t", &sc), 0);
	CHECK(sc.nfamilies == 2 && sc.families[0].max_versions == 5 &&
	      !sc.families[0].keep_deleted_cells && sc.families[1].keep_deleted_cells == 1);
	verify(s, "reopened");
out:
	hr_server_close(s);
}

/* Writes without flushes, reopens (WAL replay), and major-compacts with
 * surplus versions both in the memstore and in files. */
static void t_replay_and_surplus(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/rs", g_dir);
	hr_server *s = open_dir(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "f:5", "k:5!", NULL), 0);
	CHECK_RC(load(s), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = open_dir(dir);
	CHECK(s);
	if (verify(s, "replayed") < 0)
		goto out;
	/* 10 more versions of r/q, half of them flushed: still 5 */
	char v[16];
	for (int ts = 100; ts < 110; ts++) {
		snprintf(v, sizeof(v), "x%d", ts);
		CHECK_RC(et_put(s, "t", R("r"), "k", "q", ts, v), 0);
		if (ts == 104)
			CHECK_RC(hr_flush(s, "t"), 0);
	}
	VERS("r", "k", "q", 0, 0, 0, "x109,x108,x107,x106,x105");
	VERS("r", "k", "q", 0, 0, 105, "");
	VERS("r", "k", "q", 0, 0, 60, "");
	CHECK_RC(hr_compact(s, "t", 1), 0);
	VERS("r", "k", "q", 0, 0, 0, "x109,x108,x107,x106,x105");
	VERS("r", "k", "q", 0, 0, 105, "");
	VERS("r", "k", "q", 0, 0, 60, "");
out:
	hr_server_close(s);
}

/* A table record of schema version 1 (before keep_deleted_cells) opens:
 * rewrite one as an older build wrote it, straight in LMDB. */
static void t_schema_v1(void)
{
	char dir[4200], meta[4300];
	snprintf(dir, sizeof(dir), "%s/v1", g_dir);
	snprintf(meta, sizeof(meta), "%s/meta", dir);
	hr_server *s = open_dir(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "f:4!", "g:2", NULL), 0);
	CHECK_RC(et_put(s, "t", R("r"), "f", "q", 1, "one"), 0);
	CHECK_RC(hr_flush(s, "t"), 0);
	CHECK_RC(hr_server_close(s), 0);

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {1, "t"}, v;
	CHECK_RC(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	mdb_env_set_mapsize(env, (size_t)4 << 30);
	CHECK_RC(mdb_env_open(env, meta, 0, 0600), 0);
	CHECK_RC(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_RC(mdb_dbi_open(txn, "tables", 0, &dbi), 0);
	CHECK_RC(mdb_get(txn, dbi, &k, &v), 0);
	/* u32 version | u32 nfam | (u8 len, name, 18 bytes [, u8 flags]) */
	uint8_t in[1024], out[1024];
	CHECK(v.mv_size <= sizeof(in));
	memcpy(in, v.mv_data, v.mv_size);
	CHECK(in[0] == 2 && in[4] == 2);
	size_t ip = 8, op = 8;
	memcpy(out, in, 8);
	out[0] = 1;
	for (int i = 0; i < 2; i++) {
		size_t n = 1 + in[ip] + 18;
		memcpy(out + op, in + ip, n);
		CHECK(in[ip + n] == (i == 0 ? 1 : 0)); /* f keeps deleted cells, g not */
		ip += n + 1;
		op += n;
	}
	CHECK(ip == v.mv_size);
	MDB_val nv = {op, out};
	CHECK_RC(mdb_put(txn, dbi, &k, &nv, 0), 0);
	CHECK_RC(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_dir(dir);
	CHECK(s);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "t", &sc), 0);
	CHECK(sc.nfamilies == 2 && sc.families[0].max_versions == 4 &&
	      sc.families[0].keep_deleted_cells == 0 && sc.families[1].max_versions == 2);
	char b[16];
	CHECK_RC(et_get(s, "t", R("r"), "f", "q", b, sizeof(b), NULL), 0);
	CHECK_STREQ(b, "one");
	CHECK_RC(hr_server_close(s), 0);
}

int main(void)
{
	et_watchdog(300);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "versions");
	RUN(t_time_travel);
	RUN(t_replay_and_surplus);
	RUN(t_schema_v1);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
