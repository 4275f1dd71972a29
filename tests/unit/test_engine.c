/* test_engine.c — the engine through its public API: ordering, versions,
 * every delete type (HBase NEW_VERSION_BEHAVIOR), TTL, scans in every mode
 * with start/stop/prefix/resume and binary keys; each checked with the data
 * in the memstore, in store files, mixed, and after a close + WAL replay.
 * Then the admin and error paths: -EBUSY second open, drop + re-create,
 * family add, region list, -EFBIG, -EINVAL, -ENOENT. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "engine/hr_util.h" /* hr_now_ms */
#include "hr_etest.h"

#define T0 1000000LL /* base of the explicit timestamps */

static char g_dir[4096];
static int64_t g_now; /* wall clock when the dataset was written (TTL rows) */

/* ---- the dataset ---------------------------------------------------------- */

typedef struct loader {
	hr_server *s;
	int flush_every; /* 0 = never */
	int nops;
	int rc;		 /* first failure */
	int line;
} loader;

static void step(loader *l, int rc, int line)
{
	if (rc != 0 && l->rc == 0) {
		l->rc = rc;
		l->line = line;
	}
	l->nops++;
	if (l->flush_every && l->nops % l->flush_every == 0) {
		int frc = hr_flush(l->s, "t");
		if (frc != 0 && l->rc == 0) {
			l->rc = frc;
			l->line = line;
		}
	}
}
#define OP(expr) step(l, (expr), __LINE__)
#define R(lit) lit, sizeof(lit) - 1

static int create_t(hr_server *s) { return et_table(s, "t", "a", "b:3", "c", "ttl@3600000", NULL); }

static void load_dataset(loader *l)
{
	hr_server *s = l->s;
	/* versions: b keeps 3, a keeps 1 */
	for (int i = 1; i <= 5; i++) {
		char v[8];
		snprintf(v, sizeof(v), "v%d", i);
		OP(et_put(s, "t", R("v"), "b", "q", T0 + i, v));
	}
	OP(et_put(s, "t", R("v"), "a", "q", T0 + 1, "a1"));
	OP(et_put(s, "t", R("v"), "a", "q", T0 + 2, "a2"));
	/* Delete (one version) */
	OP(et_put(s, "t", R("d1"), "b", "q", T0 + 1, "d1-1"));
	OP(et_put(s, "t", R("d1"), "b", "q", T0 + 2, "d1-2"));
	OP(et_put(s, "t", R("d1"), "b", "q", T0 + 3, "d1-3"));
	OP(et_del(s, "t", R("d1"), "b", "q", T0 + 3, HR_DELETE));
	OP(et_del(s, "t", R("d1"), "b", "q", T0 + 1, HR_DELETE));
	OP(et_del(s, "t", R("d1"), "b", "q", T0 + 9, HR_DELETE)); /* no such version */
	/* Delete without a timestamp = the latest version */
	OP(et_put(s, "t", R("d1n"), "b", "q", T0 + 1, "n1"));
	OP(et_put(s, "t", R("d1n"), "b", "q", T0 + 2, "n2"));
	OP(et_del(s, "t", R("d1n"), "b", "q", HR_TS_NOW, HR_DELETE));
	/* DeleteColumn */
	OP(et_put(s, "t", R("dc"), "b", "q", T0 + 1, "dc1"));
	OP(et_put(s, "t", R("dc"), "b", "q", T0 + 2, "dc2"));
	OP(et_put(s, "t", R("dc"), "b", "q", T0 + 5, "dc5"));
	OP(et_put(s, "t", R("dc"), "b", "q2", T0 + 1, "keep"));
	OP(et_del(s, "t", R("dc"), "b", "q", T0 + 3, HR_DELETE_COLUMN));
	/* DeleteFamily */
	OP(et_put(s, "t", R("df"), "b", "x", T0 + 1, "bx"));
	OP(et_put(s, "t", R("df"), "b", "y", T0 + 10, "by"));
	OP(et_put(s, "t", R("df"), "a", "x", T0 + 1, "ax"));
	OP(et_put(s, "t", R("df"), "c", "z", T0 + 1, "cz"));
	OP(et_del(s, "t", R("df"), "b", NULL, T0 + 5, HR_DELETE_FAMILY));
	OP(et_del(s, "t", R("df"), "c", NULL, T0 + 1, HR_DELETE_FAMILY)); /* <= ts: inclusive */
	/* delete row */
	OP(et_put(s, "t", R("dr"), "a", "x", T0 + 1, "x"));
	OP(et_put(s, "t", R("dr"), "b", "y", T0 + 1, "y"));
	OP(et_put(s, "t", R("dr"), "c", "z", T0 + 1, "z"));
	OP(hr_delete_row(s, "t", R("dr"), 0));
	/* a put after a row delete, with an older timestamp, stays visible */
	OP(et_put(s, "t", R("dr2"), "a", "x", T0 + 1, "old"));
	OP(hr_delete_row(s, "t", R("dr2"), 0));
	OP(et_put(s, "t", R("dr2"), "a", "x", T0 + 1, "back"));
	/* delete at ts T then a put at the same T: the put stays visible */
	OP(et_put(s, "t", R("nv"), "a", "q", T0 + 7, "old"));
	OP(et_del(s, "t", R("nv"), "a", "q", T0 + 7, HR_DELETE_COLUMN));
	OP(et_put(s, "t", R("nv"), "a", "q", T0 + 7, "new"));
	OP(et_put(s, "t", R("nv"), "b", "q", T0 + 7, "o"));
	OP(et_del(s, "t", R("nv"), "b", "q", T0 + 7, HR_DELETE));
	OP(et_put(s, "t", R("nv"), "b", "q", T0 + 7, "n"));
	/* the same with the server's clock ("rm f; echo x > f") */
	OP(et_put(s, "t", R("nv2"), "a", "q", HR_TS_NOW, "old"));
	OP(hr_delete_column(s, "t", R("nv2"), "a", "q", 1, 0));
	OP(et_put(s, "t", R("nv2"), "a", "q", HR_TS_NOW, "new"));
	/* TTL 1 h: one cell 2 h old, one 1 min old */
	OP(et_put(s, "t", R("ttl"), "ttl", "old", g_now - 7200000, "gone"));
	OP(et_put(s, "t", R("ttl"), "ttl", "new", g_now - 60000, "here"));
	/* a row whose only cell has expired: no row at all */
	OP(et_put(s, "t", R("ttlx"), "ttl", "old", g_now - 7200000, "gone"));
	/* explicit timestamps out of order: the highest ts wins */
	OP(et_put(s, "t", R("ord"), "a", "q", T0 + 5, "five"));
	OP(et_put(s, "t", R("ord"), "a", "q", T0 + 3, "three"));
	OP(et_put(s, "t", R("ord"), "b", "q", T0 + 5, "five"));
	OP(et_put(s, "t", R("ord"), "b", "q", T0 + 3, "three"));
	/* equal timestamps: the later write wins */
	OP(et_put(s, "t", R("eq"), "a", "q", T0 + 4, "x"));
	OP(et_put(s, "t", R("eq"), "a", "q", T0 + 4, "y"));
	/* binary rows */
	OP(et_put(s, "t", R("\xff\xff"), "a", "q", T0, "ff"));
	OP(et_put(s, "t", R("\x00"), "a", "q", T0, "z0"));
	OP(et_put(s, "t", R("\xff"), "a", "q", T0, "f"));
	OP(et_put(s, "t", R("a\x00" "b"), "a", "q", T0, "anb"));
	OP(et_put(s, "t", R("\x00\x00"), "a", "q", T0, "z00"));
	OP(et_put(s, "t", R("\xff\x00"), "a", "q", T0, "f0"));
	/* one mutation over three families, given out of order */
	{
		hr_mcell c[3] = {
			{"c", "z", 1, T0, HR_PUT, "cz", 2},
			{"a", "x", 1, T0, HR_PUT, "ax", 2},
			{"b", "y", 1, T0, HR_PUT, "by", 2},
		};
		OP(hr_mutate(s, "t", R("mf"), c, 3, 0));
	}
	/* qualifier order, binary and empty qualifiers */
	{
		hr_mcell c[6] = {
			{"a", "b", 1, T0, HR_PUT, "qb", 2},
			{"a", "", 0, T0, HR_PUT, "qe", 2},
			{"a", "\xff", 1, T0, HR_PUT, "qff", 3},
			{"a", "a", 1, T0, HR_PUT, "qa", 2},
			{"a", "\x00", 1, T0, HR_PUT, "q0", 2},
			{"a", "ab", 2, T0, HR_PUT, "qab", 3},
		};
		OP(hr_mutate(s, "t", R("qo"), c, 6, 0));
	}
	/* a delete and a put in one mutation */
	OP(et_put(s, "t", R("mx"), "a", "x", T0 + 1, "x1"));
	OP(et_put(s, "t", R("mx"), "a", "y", T0 + 1, "y1"));
	{
		hr_mcell c[2] = {
			{"a", "x", 1, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0},
			{"a", "z", 1, T0 + 2, HR_PUT, "z2", 2},
		};
		OP(hr_mutate(s, "t", R("mx"), c, 2, 0));
	}
}

/* ---- what every phase must see ---------------------------------------- */

static const char *FULL_CELLS =
	"\\x00/a/q=z0;"
	"\\x00\\x00/a/q=z00;"
	"a\\x00b/a/q=anb;"
	"d1/b/q=d1-2;"
	"d1n/b/q=n1;"
	"dc/b/q=dc5;dc/b/q2=keep;"
	"df/a/x=ax;df/b/y=by;"
	"dr2/a/x=back;"
	"eq/a/q=y;"
	"mf/a/x=ax;mf/b/y=by;mf/c/z=cz;"
	"mx/a/y=y1;mx/a/z=z2;"
	"nv/a/q=new;nv/b/q=n;"
	"nv2/a/q=new;"
	"ord/a/q=five;ord/b/q=five;"
	"qo/a/=qe;qo/a/\\x00=q0;qo/a/a=qa;qo/a/ab=qab;qo/a/b=qb;qo/a/\\xff=qff;"
	"ttl/ttl/new=here;"
	"v/a/q=a2;v/b/q=v5;"
	"\\xff/a/q=f;"
	"\\xff\\x00/a/q=f0;"
	"\\xff\\xff/a/q=ff;";

static const char *FULL_ROWS = "\\x00;\\x00\\x00;a\\x00b;d1;d1n;dc;df;dr2;eq;mf;mx;nv;nv2;ord;qo;"
			       "ttl;v;\\xff;\\xff\\x00;\\xff\\xff;";

static const char *FULL_FAMS = "\\x00/a;\\x00\\x00/a;a\\x00b/a;d1/b;d1n/b;dc/b;df/a;df/b;dr2/a;"
			       "eq/a;mf/a;mf/b;mf/c;mx/a;nv/a;nv/b;nv2/a;ord/a;ord/b;qo/a;ttl/ttl;"
			       "v/a;v/b;\\xff/a;\\xff\\x00/a;\\xff\\xff/a;";

/* one scan against an expected dump */
#define SCAN_EQ(o, want)                                                  \
	do {                                                              \
		et_str d_ = {0};                                          \
		et_scan_dump(s, "t", (o), &d_);                           \
		int eq_ = strcmp(et_cstr(&d_), (want)) == 0;              \
		if (!eq_)                                                 \
			fprintf(stdout, "#   got  '%s'\n#   want '%s'\n", \
				et_cstr(&d_), (want));                    \
		et_str_free(&d_);                                         \
		CHECK(eq_);                                               \
	} while (0)

#define GET_EQ(row, fam, qual, want, want_ts)                                          \
	do {                                                                           \
		char b_[64];                                                           \
		int64_t ts_ = -1;                                                      \
		CHECK_RC(et_get(s, "t", R(row), fam, qual, b_, sizeof(b_), &ts_), 0);  \
		CHECK_STREQ(b_, want);                                                 \
		if ((want_ts) >= 0)                                                    \
			CHECK_RC(ts_, (want_ts));                                      \
	} while (0)

#define GET_NONE(row, fam, qual)                                                           \
	do {                                                                               \
		char b_[64];                                                               \
		CHECK_RC(et_get(s, "t", R(row), fam, qual, b_, sizeof(b_), NULL), -ENOENT); \
	} while (0)

/* versions as "v5,v4,v3" */
static int versions(hr_server *s, const char *row, size_t rl, const char *fam, const char *q,
		    uint32_t max, int64_t min_ts, int64_t max_ts, char *out, size_t outlen)
{
	hr_get_opts o = {max, min_ts, max_ts};
	hr_value *v = NULL;
	int n = hr_get_versions(s, "t", row, rl, fam, q, strlen(q), &o, &v);
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

#define VERS_EQ(row, fam, q, max, mn, mx, want)                                        \
	do {                                                                           \
		char vb_[256];                                                         \
		int n_ = versions(s, R(row), fam, q, max, mn, mx, vb_, sizeof(vb_));   \
		if (n_ < 0)                                                            \
			CHECK_RC(n_, 0);                                               \
		CHECK_STREQ(vb_, want);                                                \
	} while (0)

static void verify_gets(hr_server *s)
{
	GET_EQ("v", "b", "q", "v5", T0 + 5);
	VERS_EQ("v", "b", "q", 0, 0, 0, "v5,v4,v3");
	VERS_EQ("v", "b", "q", 2, 0, 0, "v5,v4");
	/* a time range selects among the 3 retained versions: v1 and v2 are
	 * beyond them whatever the range (NEW_VERSION_BEHAVIOR: the answer
	 * does not depend on whether a major compaction dropped them yet) */
	VERS_EQ("v", "b", "q", 0, T0 + 2, T0 + 4, "v3");
	VERS_EQ("v", "b", "q", 0, T0 + 5, 0, "v5");
	VERS_EQ("v", "b", "q", 0, 0, T0 + 4, "v3");
	VERS_EQ("v", "b", "q", 0, 0, T0 + 2, "");
	VERS_EQ("v", "a", "q", 0, 0, 0, "a2");
	GET_EQ("v", "a", "q", "a2", T0 + 2);
	GET_EQ("d1", "b", "q", "d1-2", T0 + 2);
	VERS_EQ("d1", "b", "q", 0, 0, 0, "d1-2");
	GET_EQ("d1n", "b", "q", "n1", T0 + 1);
	VERS_EQ("d1n", "b", "q", 0, 0, 0, "n1");
	VERS_EQ("dc", "b", "q", 0, 0, 0, "dc5");
	GET_EQ("dc", "b", "q2", "keep", T0 + 1);
	GET_NONE("df", "b", "x");
	GET_EQ("df", "b", "y", "by", T0 + 10);
	GET_EQ("df", "a", "x", "ax", T0 + 1);
	GET_NONE("df", "c", "z");
	GET_NONE("dr", "a", "x");
	GET_NONE("dr", "b", "y");
	GET_NONE("dr", "c", "z");
	GET_EQ("dr2", "a", "x", "back", T0 + 1);
	GET_EQ("nv", "a", "q", "new", T0 + 7);
	GET_EQ("nv", "b", "q", "n", T0 + 7);
	VERS_EQ("nv", "b", "q", 0, 0, 0, "n");
	GET_EQ("nv2", "a", "q", "new", -1);
	GET_NONE("ttl", "ttl", "old");
	GET_EQ("ttl", "ttl", "new", "here", g_now - 60000);
	GET_EQ("ord", "a", "q", "five", T0 + 5);
	VERS_EQ("ord", "b", "q", 0, 0, 0, "five,three");
	GET_EQ("eq", "a", "q", "y", T0 + 4);
	GET_EQ("\xff\xff", "a", "q", "ff", T0);
	GET_EQ("\x00", "a", "q", "z0", T0);
	GET_EQ("a\x00" "b", "a", "q", "anb", T0);
	GET_NONE("a", "a", "q");
	GET_NONE("\x00\x00\x00", "a", "q");
	GET_EQ("qo", "a", "", "qe", T0);
	GET_EQ("mx", "a", "z", "z2", T0 + 2);
	GET_NONE("mx", "a", "x");
	GET_NONE("nosuchrow", "a", "q");
	GET_NONE("v", "a", "nosuchqual");

	CHECK_RC(hr_exists(s, "t", R("mf"), NULL, NULL, 0), 1);
	CHECK_RC(hr_exists(s, "t", R("dr"), NULL, NULL, 0), 0);
	CHECK_RC(hr_exists(s, "t", R("nosuchrow"), NULL, NULL, 0), 0);
	CHECK_RC(hr_exists(s, "t", R("df"), "b", NULL, 0), 1);
	CHECK_RC(hr_exists(s, "t", R("df"), "c", NULL, 0), 0);
	CHECK_RC(hr_exists(s, "t", R("df"), "a", "x", 1), 1);
	CHECK_RC(hr_exists(s, "t", R("df"), "b", "x", 1), 0);
	CHECK_RC(hr_exists(s, "t", R("\x00"), NULL, NULL, 0), 1);
	/* a missing row is not fooled by its neighbours "d1", "dc"... */
	CHECK_RC(hr_exists(s, "t", R("d"), NULL, NULL, 0), 0);
	CHECK_RC(hr_exists(s, "t", R("ttlx"), NULL, NULL, 0), 0);
	GET_NONE("ttlx", "ttl", "old");
}

static void verify_scans(hr_server *s)
{
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	SCAN_EQ(&o, FULL_CELLS);
	o.with_values = 0;
	o.mode = HR_SCAN_ROWS;
	SCAN_EQ(&o, FULL_ROWS);
	o.mode = HR_SCAN_FAMILIES;
	SCAN_EQ(&o, FULL_FAMS);

	/* prefix */
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_ROWS;
	o.prefix = "d";
	o.prefix_len = 1;
	SCAN_EQ(&o, "d1;d1n;dc;df;dr2;");
	o.prefix = "\xff";
	SCAN_EQ(&o, "\\xff;\\xff\\x00;\\xff\\xff;");
	o.prefix = "\x00";
	SCAN_EQ(&o, "\\x00;\\x00\\x00;");
	o.prefix = "zz";
	o.prefix_len = 2;
	SCAN_EQ(&o, "");
	/* prefix with a start inside it */
	o.prefix = "d";
	o.prefix_len = 1;
	o.start = "dc";
	o.start_len = 2;
	SCAN_EQ(&o, "dc;df;dr2;");

	/* start inclusive, stop exclusive */
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_ROWS;
	o.start = "d1n";
	o.start_len = 3;
	o.stop = "df";
	o.stop_len = 2;
	SCAN_EQ(&o, "d1n;dc;");
	/* a start that is not a row */
	o.start = "d2";
	o.start_len = 2;
	o.stop = "e";
	o.stop_len = 1;
	SCAN_EQ(&o, "dc;df;dr2;");
	/* start == stop: nothing */
	o.start = "dc";
	o.stop = "dc";
	SCAN_EQ(&o, "");
	/* binary bounds */
	o.start = "\x00";
	o.start_len = 1;
	o.stop = "\x00\x00\x00";
	o.stop_len = 3;
	SCAN_EQ(&o, "\\x00;\\x00\\x00;");
	o.start = "\xff\x00";
	o.start_len = 2;
	o.stop = NULL;
	o.stop_len = 0;
	SCAN_EQ(&o, "\\xff\\x00;\\xff\\xff;");

	/* resume a row listing */
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_ROWS;
	o.start = "dc";
	o.start_len = 2;
	o.start_after_row = 1;
	o.stop = "eq";
	o.stop_len = 2;
	SCAN_EQ(&o, "df;dr2;");
	o.start = "\x00";
	o.start_len = 1;
	o.stop = "a";
	o.stop_len = 1;
	SCAN_EQ(&o, "\\x00\\x00;");
	/* after a deleted row */
	o.start = "dr";
	o.start_len = 2;
	o.stop = "e";
	SCAN_EQ(&o, "dr2;");

	/* one family */
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_FAMILIES;
	o.family = "b";
	SCAN_EQ(&o, "d1/b;d1n/b;dc/b;df/b;mf/b;nv/b;ord/b;v/b;");
	o.mode = HR_SCAN_ROWS;
	o.family = "c";
	SCAN_EQ(&o, "mf;");
	o.mode = HR_SCAN_CELLS;
	o.family = "b";
	o.prefix = "d";
	o.prefix_len = 1;
	SCAN_EQ(&o, "d1/b/q;d1n/b/q;dc/b/q;dc/b/q2;df/b/y;");
}

/* resume inside a row: families and cells */
static void verify_resume(hr_server *s)
{
	hr_scan_opts o;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_FAMILIES;
	o.start = "mf";
	o.start_len = 2;
	o.resume_family = "a";
	o.stop = "n";
	o.stop_len = 1;
	SCAN_EQ(&o, "mf/b;mf/c;mx/a;");
	o.resume_family = "b";
	SCAN_EQ(&o, "mf/c;mx/a;");
	o.resume_family = "c";
	SCAN_EQ(&o, "mx/a;");

	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_CELLS;
	o.with_values = 1;
	o.start = "qo";
	o.start_len = 2;
	o.stop = "qp";
	o.stop_len = 2;
	o.resume_family = "a";
	o.resume_qualifier = "a";
	o.resume_qualifier_len = 1;
	SCAN_EQ(&o, "qo/a/ab=qab;qo/a/b=qb;qo/a/\\xff=qff;");
	o.resume_qualifier = "";
	o.resume_qualifier_len = 0;
	SCAN_EQ(&o, "qo/a/\\x00=q0;qo/a/a=qa;qo/a/ab=qab;qo/a/b=qb;qo/a/\\xff=qff;");
	o.resume_qualifier = "\xff";
	o.resume_qualifier_len = 1;
	SCAN_EQ(&o, "");

	/* resume in a later family: the earlier families of the row are done */
	o.start = "mf";
	o.stop = "mg";
	o.resume_family = "a";
	o.resume_qualifier = "x";
	SCAN_EQ(&o, "mf/b/y=by;mf/c/z=cz;");
	o.resume_family = "b";
	o.resume_qualifier = "y";
	SCAN_EQ(&o, "mf/c/z=cz;");
	o.stop = "mz";
	SCAN_EQ(&o, "mf/c/z=cz;mx/a/y=y1;mx/a/z=z2;");
}

/* Lists the whole table in pages of `page` entries, each page a new cursor
 * resumed from the last entry of the previous one; the concatenation must
 * equal the one-cursor listing. */
static void page_through(hr_server *s, int mode, int page, const char *want)
{
	et_str all = {0}, last_row = {0};
	char last_fam[HR_MAX_NAME + 1] = "";
	et_str last_q = {0};
	int have_last = 0, guard = 0;
	for (;;) {
		hr_scan_opts o;
		memset(&o, 0, sizeof(o));
		o.mode = mode;
		o.with_values = mode == HR_SCAN_CELLS;
		if (have_last) {
			o.start = last_row.p;
			o.start_len = last_row.len;
			if (mode == HR_SCAN_ROWS) {
				o.start_after_row = 1;
			} else {
				o.resume_family = last_fam;
				if (mode == HR_SCAN_CELLS) {
					o.resume_qualifier = last_q.p ? last_q.p : "";
					o.resume_qualifier_len = last_q.len;
				}
			}
		}
		hr_scan *sc;
		hr_scan_entry e;
		int rc = hr_scan_open(s, "t", &o, &sc), got = 0;
		if (rc < 0)
			break;
		while (got < page && (rc = hr_scan_next(sc, &e)) == 1) {
			et_dump_entry(&all, &o, &e);
			last_row.len = 0;
			et_str_add(&last_row, e.row, e.row_len);
			if (e.family)
				snprintf(last_fam, sizeof(last_fam), "%s", e.family);
			last_q.len = 0;
			et_str_add(&last_q, e.qualifier ? (const void *)e.qualifier : "", e.qualifier_len);
			have_last = 1;
			got++;
		}
		hr_scan_close(sc);
		if (got < page || ++guard > 200)
			break;
	}
	int eq = strcmp(et_cstr(&all), want) == 0;
	if (!eq)
		fprintf(stdout, "# paging mode %d page %d:\n#   got  '%.300s'\n#   want '%s'\n", mode,
			page, et_cstr(&all), want);
	et_str_free(&all);
	et_str_free(&last_row);
	et_str_free(&last_q);
	CHECK(eq);
}

static void verify_paging(hr_server *s)
{
	static const int modes[] = {HR_SCAN_ROWS, HR_SCAN_CELLS, HR_SCAN_FAMILIES};
	const char *wants[] = {FULL_ROWS, FULL_CELLS, FULL_FAMS};
	int failed = 0;
	for (int m = 0; m < 3; m++)
		for (int page = 1; page <= 4; page++) {
			hr_t_cur_failed = 0;
			page_through(s, modes[m], page, wants[m]);
			if (hr_t_cur_failed) {
				failed = 1;
				break; /* one report per mode */
			}
		}
	hr_t_cur_failed = failed;
}

/* Runs every verifier even when one fails (each stops at its first failed
 * CHECK), so one report shows all that is wrong in a phase. */
static void verify_all(hr_server *s, const char *phase)
{
	static void (*const fns[])(hr_server *) = {verify_gets, verify_scans, verify_resume,
						   verify_paging};
	static const char *const names[] = {"gets", "scans", "resume", "paging"};
	int failed = 0;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		hr_t_cur_failed = 0;
		fns[i](s);
		if (hr_t_cur_failed) {
			fprintf(stdout, "# ... %s, in phase: %s\n", names[i], phase);
			failed = 1;
		}
	}
	hr_t_cur_failed = failed;
}

/* Loads the dataset (flushing every flush_every ops), verifies; flushes,
 * verifies; closes, reopens (WAL replay), verifies; flushes, reopens,
 * verifies once more. */
static void run_phases(int flush_every, int reopen_before_flush)
{
	char dir[4200], ph[128];
	snprintf(dir, sizeof(dir), "%s/ds%d-%d", g_dir, flush_every, reopen_before_flush);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(create_t(s), 0);
	g_now = hr_now_ms();
	loader l = {.s = s, .flush_every = flush_every};
	load_dataset(&l);
	if (l.rc) {
		fprintf(stdout, "# dataset op at line %d failed: %d\n", l.line, l.rc);
		hr_server_close(s);
		CHECK_RC(l.rc, 0);
	}
	snprintf(ph, sizeof(ph), "flush_every=%d, as written", flush_every);
	int failed = 0;
	verify_all(s, ph);
	failed |= hr_t_cur_failed;
	if (reopen_before_flush) {
		CHECK_RC(hr_server_close(s), 0);
		s = et_open(dir);
		CHECK(s);
		snprintf(ph, sizeof(ph), "flush_every=%d, reopened (WAL replay)", flush_every);
		verify_all(s, ph);
		failed |= hr_t_cur_failed;
	}
	CHECK_RC(hr_flush(s, "t"), 0);
	snprintf(ph, sizeof(ph), "flush_every=%d, flushed", flush_every);
	verify_all(s, ph);
	failed |= hr_t_cur_failed;
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	snprintf(ph, sizeof(ph), "flush_every=%d, flushed + reopened", flush_every);
	verify_all(s, ph);
	failed |= hr_t_cur_failed;
	hr_server_close(s);
	hr_t_cur_failed = failed;
}

static void t_memstore_then_replay(void) { run_phases(0, 1); }
static void t_flush_every_op(void) { run_phases(1, 0); }
static void t_mixed_files_and_memstore(void) { run_phases(7, 1); }
static void t_mixed_small_files(void) { run_phases(2, 1); }

/* HBase caps a Get's versions at the family's VERSIONS (ScanQueryMatcher
 * uses min(get, family)); asking for more must not expose versions that a
 * flush or compaction is free to drop: same answer before and after flush. */
static void t_versions_capped_by_family(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/vcap", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(create_t(s), 0);
	for (int i = 1; i <= 5; i++) {
		char v[8];
		snprintf(v, sizeof(v), "v%d", i);
		CHECK_RC(et_put(s, "t", R("v"), "b", "q", T0 + i, v), 0);
	}
	char before[256], after[256];
	int n1 = versions(s, R("v"), "b", "q", 10, 0, 0, before, sizeof(before));
	hr_flush(s, "t");
	int n2 = versions(s, R("v"), "b", "q", 10, 0, 0, after, sizeof(after));
	hr_server_close(s);
	fprintf(stdout, "# max_versions=10 on a VERSIONS=3 family: before flush '%s', after '%s'\n",
		before, after);
	CHECK_STREQ(before, after);
	CHECK_RC(n1, 3);
	CHECK_RC(n2, 3);
}

static void t_second_open_ebusy(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/busy", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir), *s2 = NULL;
	CHECK(s);
	hr_config c;
	et_config(&c, dir);
	int rc = hr_server_open(&c, &s2);
	if (rc == 0)
		hr_server_close(s2);
	CHECK_RC(rc, -EBUSY);
	/* and from another process */
	pid_t pid = fork();
	if (pid == 0) {
		hr_server *s3 = NULL;
		int r3 = hr_server_open(&c, &s3);
		_exit(r3 == -EBUSY ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_RC(hr_server_close(s), 0);
	/* closed: a new open works */
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(hr_server_close(s), 0);
}

static int table_count(hr_server *s, const char *name)
{
	char **names;
	size_t n;
	int found = 0;
	if (hr_table_list(s, &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			found++;
	hr_names_free(names, n);
	return found;
}

static void t_drop_recreate(void)
{
	char dir[4200], b[64];
	snprintf(dir, sizeof(dir), "%s/drop", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "d", "cf", NULL), 0);
	CHECK_RC(et_table(s, "d", "cf", NULL), -EEXIST);
	CHECK_RC(et_table(s, "keep", "cf", NULL), 0);
	for (int i = 0; i < 2000; i++) {
		char r[16];
		snprintf(r, sizeof(r), "r%05d", i);
		CHECK_RC(et_put(s, "d", r, strlen(r), "cf", "q", HR_TS_NOW, "v"), 0);
		CHECK_RC(et_put(s, "keep", r, strlen(r), "cf", "q", HR_TS_NOW, "k"), 0);
	}
	CHECK_RC(hr_flush(s, "d"), 0);
	CHECK_RC(et_put(s, "d", "late", 4, "cf", "q", HR_TS_NOW, "memstore"), 0);
	CHECK_RC(table_count(s, "d"), 1);
	CHECK_RC(hr_table_drop(s, "d"), 0);
	CHECK_RC(hr_table_drop(s, "d"), -ENOENT);
	CHECK_RC(table_count(s, "d"), 0);
	CHECK_RC(et_get(s, "d", "r00001", 6, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(et_put(s, "d", "x", 1, "cf", "q", HR_TS_NOW, "v"), -ENOENT);
	CHECK_RC(et_table(s, "d", "cf", "other", NULL), 0);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "d", &sc), 0);
	CHECK_RC(sc.nfamilies, 2);
	/* empty: no rows from the old incarnation, neither from files nor memstore */
	hr_scan_opts o = {.mode = HR_SCAN_CELLS};
	et_str d = {0};
	et_scan_dump(s, "d", &o, &d);
	int empty = d.len == 0;
	et_str_free(&d);
	CHECK(empty);
	CHECK_RC(et_get(s, "d", "late", 4, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(et_get(s, "keep", "r01999", 6, "cf", "q", b, sizeof(b), NULL), 0);
	/* and it stays empty after a reopen (WAL replay must not resurrect
	 * the dropped table's edits into the new one) */
	CHECK_RC(et_put(s, "d", "new", 3, "cf", "q", HR_TS_NOW, "fresh"), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_get(s, "d", "late", 4, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(et_get(s, "d", "r00001", 6, "cf", "q", b, sizeof(b), NULL), -ENOENT);
	CHECK_RC(et_get(s, "d", "new", 3, "cf", "q", b, sizeof(b), NULL), 0);
	CHECK_STREQ(b, "fresh");
	CHECK_RC(et_get(s, "keep", "r01999", 6, "cf", "q", b, sizeof(b), NULL), 0);
	CHECK_STREQ(b, "k");
	CHECK_RC(table_count(s, "d"), 1);
	CHECK_RC(table_count(s, "keep"), 1);
	CHECK_RC(hr_server_close(s), 0);
}

static void t_family_add(void)
{
	char dir[4200], b[64];
	snprintf(dir, sizeof(dir), "%s/famadd", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "f", "cf", NULL), 0);
	CHECK_RC(et_put(s, "f", "r", 1, "cf", "q", HR_TS_NOW, "v1"), 0);
	CHECK_RC(et_put(s, "f", "r", 1, "nf", "q", HR_TS_NOW, "v2"), -ENOENT);
	hr_family_schema f;
	hr_family_defaults(&f, "nf");
	f.max_versions = 2;
	CHECK_RC(hr_family_add(s, "f", &f), 0);
	CHECK_RC(hr_family_add(s, "f", &f), -EEXIST);
	CHECK_RC(hr_family_add(s, "nosuch", &f), -ENOENT);
	hr_family_defaults(&f, ".bad");
	CHECK_RC(hr_family_add(s, "f", &f), -EINVAL);
	CHECK_RC(et_put(s, "f", "r", 1, "nf", "q", 100, "n1"), 0);
	CHECK_RC(et_put(s, "f", "r", 1, "nf", "q", 200, "n2"), 0);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "f", &sc), 0);
	CHECK_RC(sc.nfamilies, 2);
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
	et_str d = {0};
	et_scan_dump(s, "f", &o, &d);
	char got[256];
	snprintf(got, sizeof(got), "%s", et_cstr(&d));
	et_str_free(&d);
	CHECK_STREQ(got, "r/cf/q=v1;r/nf/q=n2;");
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			CHECK_RC(hr_flush(s, "f"), 0);
		CHECK_RC(hr_server_close(s), 0);
		s = et_open(dir);
		CHECK(s);
		CHECK_RC(hr_table_schema_get(s, "f", &sc), 0);
		CHECK_RC(sc.nfamilies, 2);
		CHECK_RC(et_get(s, "f", "r", 1, "nf", "q", b, sizeof(b), NULL), 0);
		CHECK_STREQ(b, "n2");
		CHECK_RC(et_get(s, "f", "r", 1, "cf", "q", b, sizeof(b), NULL), 0);
		CHECK_STREQ(b, "v1");
		hr_get_opts go = {0, 0, 0};
		hr_value *v;
		int n = hr_get_versions(s, "f", "r", 1, "nf", "q", 1, &go, &v);
		hr_values_free(v, n > 0 ? (size_t)n : 0);
		CHECK_RC(n, 2);
	}
	CHECK_RC(hr_server_close(s), 0);
}

static void t_region_list(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/regions", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "r", "a", "b", NULL), 0);
	hr_region_info *ri;
	size_t n;
	CHECK_RC(hr_region_list(s, "nosuch", &ri, &n), -ENOENT);
	CHECK_RC(hr_region_list(s, "r", &ri, &n), 0);
	CHECK_RC(n, 1);
	int ok = ri[0].start_len == 0 && ri[0].end_len == 0 && ri[0].state == HR_REGION_OPEN &&
		 ri[0].nstores == 2 && ri[0].memstore_bytes == 0;
	hr_region_list_free(ri, n);
	CHECK(ok);
	char val[100];
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	for (int i = 0; i < 300; i++) {
		char r[16];
		snprintf(r, sizeof(r), "row%04d", i);
		CHECK_RC(et_put(s, "r", r, strlen(r), "a", "q", HR_TS_NOW, val), 0);
	}
	CHECK_RC(hr_region_list(s, "r", &ri, &n), 0);
	CHECK_RC(n, 1);
	uint64_t mem = ri[0].memstore_bytes, maxseq = ri[0].max_seq;
	uint64_t a_mem = 0, b_mem = 1;
	for (uint32_t i = 0; i < ri[0].nstores; i++) {
		if (!strcmp(ri[0].stores[i].family, "a"))
			a_mem = ri[0].stores[i].memstore_bytes;
		if (!strcmp(ri[0].stores[i].family, "b"))
			b_mem = ri[0].stores[i].memstore_bytes;
	}
	hr_region_list_free(ri, n);
	fprintf(stdout, "# after 300 puts: memstore %llu, a %llu, b %llu, max_seq %llu\n",
		(unsigned long long)mem, (unsigned long long)a_mem, (unsigned long long)b_mem,
		(unsigned long long)maxseq);
	CHECK(mem >= 300 * 100 && mem < 64 * 1024 * 4);
	CHECK(a_mem == mem && b_mem == 0);
	CHECK(maxseq >= 300);
	CHECK_RC(hr_flush(s, "r"), 0);
	CHECK_RC(hr_region_list(s, "r", &ri, &n), 0);
	uint64_t fmem = ri[0].memstore_bytes, fbytes = 0, fseq = 0;
	uint32_t files = 0, bfiles = 9;
	for (uint32_t i = 0; i < ri[0].nstores; i++) {
		if (!strcmp(ri[0].stores[i].family, "a")) {
			files = ri[0].stores[i].file_count;
			fbytes = ri[0].stores[i].file_bytes;
			fseq = ri[0].stores[i].flushed_seq;
		} else {
			bfiles = ri[0].stores[i].file_count;
		}
	}
	uint64_t maxseq2 = ri[0].max_seq;
	hr_region_list_free(ri, n);
	fprintf(stdout, "# after flush: memstore %llu, files %u (%llu bytes), flushed_seq %llu\n",
		(unsigned long long)fmem, files, (unsigned long long)fbytes,
		(unsigned long long)fseq);
	CHECK(fmem == 0);
	CHECK(files == 1 && fbytes >= 300 * 100);
	CHECK(bfiles == 0);
	CHECK(fseq >= 300 && fseq <= maxseq2);
	/* a reopen keeps the figures */
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(hr_region_list(s, "r", &ri, &n), 0);
	ok = n == 1 && ri[0].memstore_bytes == 0 && ri[0].max_seq >= fseq;
	for (uint32_t i = 0; ok && i < ri[0].nstores; i++)
		if (!strcmp(ri[0].stores[i].family, "a"))
			ok = ri[0].stores[i].file_count == 1 && ri[0].stores[i].file_bytes == fbytes &&
			     ri[0].stores[i].flushed_seq == fseq;
	hr_region_list_free(ri, n);
	CHECK(ok);
	hr_stats st;
	CHECK_RC(hr_stats_get(s, &st), 0);
	CHECK(st.seq >= fseq);
	CHECK_RC(hr_server_close(s), 0);
}

static void t_errors(void)
{
	char dir[4200], b[64];
	snprintf(dir, sizeof(dir), "%s/errors", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_config c;
	et_config(&c, dir);
	c.max_cell_size = 4096;
	hr_server *s = NULL;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_table(s, "e", "cf", NULL), 0);
	static char big[4097];
	memset(big, 'x', sizeof(big));
	CHECK_RC(hr_put(s, "e", "r", 1, "cf", "q", 1, big, 4096, 0), 0);
	CHECK_RC(hr_put(s, "e", "r", 1, "cf", "q", 1, big, 4097, 0), -EFBIG);
	{
		/* a too-large cell in a mutation rejects the whole mutation */
		hr_mcell mc[2] = {{"cf", "ok", 2, HR_TS_NOW, HR_PUT, "v", 1},
				  {"cf", "big", 3, HR_TS_NOW, HR_PUT, big, 4097}};
		CHECK_RC(hr_mutate(s, "e", "atom", 4, mc, 2, 0), -EFBIG);
		CHECK_RC(et_get(s, "e", "atom", 4, "cf", "ok", b, sizeof(b), NULL), -ENOENT);
	}
	hr_value v;
	CHECK_RC(hr_get(s, "e", "r", 1, "cf", "q", 1, 0, &v), 0);
	CHECK_RC(v.len, 4096);
	/* rows: 1..32767 bytes */
	static char row[HR_MAX_ROW + 1];
	memset(row, 'r', sizeof(row));
	CHECK_RC(hr_put(s, "e", row, 0, "cf", "q", 1, "v", 1, 0), -EINVAL);
	CHECK_RC(hr_put(s, "e", row, HR_MAX_ROW + 1, "cf", "q", 1, "v", 1, 0), -EINVAL);
	CHECK_RC(hr_put(s, "e", row, HR_MAX_ROW, "cf", "q", 1, "v", 1, 0), 0);
	CHECK_RC(hr_get(s, "e", row, HR_MAX_ROW, "cf", "q", 1, 0, &v), 0);
	CHECK_RC(hr_get(s, "e", row, 0, "cf", "q", 1, 0, &v), -EINVAL);
	CHECK_RC(hr_get(s, "e", row, HR_MAX_ROW + 1, "cf", "q", 1, 0, &v), -EINVAL);
	CHECK_RC(hr_delete_row(s, "e", row, 0, 0), -EINVAL);
	CHECK_RC(hr_delete_column(s, "e", row, HR_MAX_ROW + 1, "cf", "q", 1, 0), -EINVAL);
	CHECK_RC(hr_exists(s, "e", row, 0, NULL, NULL, 0), -EINVAL);
	/* qualifiers: 0..65535 */
	static char qual[HR_MAX_QUALIFIER + 1];
	memset(qual, 'q', sizeof(qual));
	CHECK_RC(hr_put(s, "e", "r", 1, "cf", qual, HR_MAX_QUALIFIER + 1, "v", 1, 0), -EINVAL);
	CHECK_RC(hr_put(s, "e", "r", 1, "cf", qual, HR_MAX_QUALIFIER, "v", 1, 0), 0);
	CHECK_RC(hr_get(s, "e", "r", 1, "cf", qual, HR_MAX_QUALIFIER, 0, &v), 0);
	/* bad type, negative ts, no cells */
	{
		hr_mcell mc = {"cf", "q", 1, HR_TS_NOW, 5, "v", 1};
		CHECK_RC(hr_mutate(s, "e", "r", 1, &mc, 1, 0), -EINVAL);
		mc.type = HR_PUT;
		mc.ts = -5;
		CHECK_RC(hr_mutate(s, "e", "r", 1, &mc, 1, 0), -EINVAL);
		CHECK_RC(hr_mutate(s, "e", "r", 1, &mc, 0, 0), -EINVAL);
	}
	/* missing table / family */
	CHECK_RC(hr_put(s, "nosuch", "r", 1, "cf", "q", 1, "v", 1, 0), -ENOENT);
	CHECK_RC(hr_put(s, "e", "r", 1, "nofam", "q", 1, "v", 1, 0), -ENOENT);
	CHECK_RC(hr_get(s, "nosuch", "r", 1, "cf", "q", 1, 0, &v), -ENOENT);
	CHECK_RC(hr_get(s, "e", "r", 1, "nofam", "q", 1, 0, &v), -ENOENT);
	CHECK_RC(hr_delete_row(s, "nosuch", "r", 1, 0), -ENOENT);
	CHECK_RC(hr_exists(s, "nosuch", "r", 1, NULL, NULL, 0), -ENOENT);
	hr_get_opts go = {0, 0, 0};
	hr_value *vv;
	CHECK_RC(hr_get_versions(s, "nosuch", "r", 1, "cf", "q", 1, &go, &vv), -ENOENT);
	CHECK_RC(hr_get_versions(s, "e", "r", 1, "nofam", "q", 1, &go, &vv), -ENOENT);
	hr_table_schema sc;
	CHECK_RC(hr_table_schema_get(s, "nosuch", &sc), -ENOENT);
	CHECK_RC(hr_table_drop(s, "nosuch"), -ENOENT);
	hr_scan *scn;
	hr_scan_opts o = {.mode = HR_SCAN_ROWS};
	CHECK_RC(hr_scan_open(s, "nosuch", &o, &scn), -ENOENT);
	o.family = "nofam";
	CHECK_RC(hr_scan_open(s, "e", &o, &scn), -ENOENT);
	/* bad names */
	CHECK_RC(et_table(s, ".hidden", "cf", NULL), -EINVAL);
	CHECK_RC(et_table(s, "a/b", "cf", NULL), -EINVAL);
	CHECK_RC(et_table(s, "", "cf", NULL), -EINVAL);
	CHECK_RC(et_table(s, "ok", ".cf", NULL), -EINVAL);
	CHECK_RC(et_table(s, "ok", "c f", NULL), -EINVAL);
	CHECK_RC(et_table(s, "ok", "cf", "cf", NULL), -EINVAL);
	CHECK_RC(table_count(s, "ok"), 0);
	CHECK_RC(hr_server_close(s), 0);
}

int main(void)
{
	et_watchdog(120);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "engine");
	RUN(t_memstore_then_replay);
	RUN(t_flush_every_op);
	RUN(t_mixed_files_and_memstore);
	RUN(t_mixed_small_files);
	RUN(t_versions_capped_by_family);
	RUN(t_second_open_ebusy);
	RUN(t_drop_recreate);
	RUN(t_family_add);
	RUN(t_region_list);
	RUN(t_errors);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
