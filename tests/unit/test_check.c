/* test_check.c — hr_check_and_mutate (HBase's checkAndMutate):
 * - every check op, holding and failing, against the memstore and files,
 *   deleted columns, TTL-expired cells and multi-version columns (only the
 *   latest visible cell counts);
 * - all or nothing: one failing check of several writes nothing, not even
 *   to the WAL (nothing comes back after a reopen);
 * - argument errors;
 * - N threads incrementing one counter with read-version-then-check-and-
 *   mutate loops (VERSION and VALUE checks) while flushes and compactions
 *   move the cell between memstore and files: the counter ends at exactly
 *   the number of successful increments, nothing lost;
 * - N threads racing to create the same cell with HR_CHECK_ABSENT: exactly
 *   one wins each cell;
 * - the *_stamped variants: the (ts, seq) they return is what hr_get
 *   returns for the cell (server and explicit timestamps, check-and-mutate
 *   chains, across a flush, a major compaction and a reopen), an
 *   HR_CHECK_VERSION against it holds, and a failed call leaves it alone. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "engine/hr_util.h"
#include "hr_etest.h"

static char g_dir[4096];

static void subdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
	hr_test_rmrf(buf);
}

static hr_check chk(const char *fam, const char *qual, int op)
{
	hr_check c;
	memset(&c, 0, sizeof(c));
	c.family = fam;
	c.qualifier = qual;
	c.qualifier_len = strlen(qual);
	c.op = op;
	return c;
}

static hr_check chk_value(const char *fam, const char *qual, const char *v)
{
	hr_check c = chk(fam, qual, HR_CHECK_VALUE);
	c.value = v;
	c.value_len = strlen(v);
	return c;
}

static hr_check chk_version(const char *fam, const char *qual, int64_t ts, uint64_t seq)
{
	hr_check c = chk(fam, qual, HR_CHECK_VERSION);
	c.ts = ts;
	c.seq = seq;
	return c;
}

static hr_mcell put(const char *fam, const char *qual, const char *v)
{
	hr_mcell c = {fam, qual, strlen(qual), HR_TS_NOW, HR_PUT, v, strlen(v)};
	return c;
}

/* check-and-put of one cell in row "r" */
static int cput(hr_server *s, hr_check c, const char *fam, const char *qual, const char *v)
{
	hr_mcell m = put(fam, qual, v);
	return hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0);
}

static int getv(hr_server *s, const char *fam, const char *qual, char *buf, size_t len)
{
	return et_get(s, "t", "r", 1, fam, qual, buf, len, NULL);
}

static void t_ops(void)
{
	char dir[4200], got[64];
	subdir(dir, sizeof(dir), "ops");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", "cf3:3", "ttl@1000", NULL), 0);
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0 in the memstore, pass 1 with the cells flushed to files */
		const char *q = pass ? "q1" : "q0";
		/* ABSENT */
		CHECK_RC(cput(s, chk("cf", q, HR_CHECK_ABSENT), "cf", q, "one"), 0);
		if (pass)
			CHECK_RC(hr_flush(s, "t"), 0);
		CHECK_RC(cput(s, chk("cf", q, HR_CHECK_ABSENT), "cf", q, "two"), -ECANCELED);
		CHECK_RC(getv(s, "cf", q, got, sizeof(got)), 0);
		CHECK_STREQ(got, "one");
		/* PRESENT, guarding a write to another column */
		CHECK_RC(cput(s, chk("cf", q, HR_CHECK_PRESENT), "cf", "other", "o1"), 0);
		CHECK_RC(cput(s, chk("cf", "nope", HR_CHECK_PRESENT), "cf", "other", "o2"),
			 -ECANCELED);
		CHECK_RC(getv(s, "cf", "other", got, sizeof(got)), 0);
		CHECK_STREQ(got, "o1");
		/* VALUE: equal, different, a prefix, longer */
		CHECK_RC(cput(s, chk_value("cf", q, "one"), "cf", q, "uno"), 0);
		if (pass)
			CHECK_RC(hr_flush(s, "t"), 0);
		CHECK_RC(cput(s, chk_value("cf", q, "one"), "cf", q, "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_value("cf", q, "un"), "cf", q, "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_value("cf", q, "unos"), "cf", q, "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_value("cf", "nope", ""), "cf", q, "x"), -ECANCELED);
		CHECK_RC(getv(s, "cf", q, got, sizeof(got)), 0);
		CHECK_STREQ(got, "uno");
		/* the empty value is a value */
		CHECK_RC(cput(s, chk_value("cf", q, "uno"), "cf", q, ""), 0);
		CHECK_RC(cput(s, chk_value("cf", q, ""), "cf", q, "dos"), 0);
		/* VERSION: exactly (ts, seq) of the latest cell */
		hr_value v;
		CHECK_RC(hr_get(s, "t", "r", 1, "cf", q, 2, 0, &v), 0);
		CHECK(v.seq > 0);
		if (pass)
			CHECK_RC(hr_flush(s, "t"), 0);
		CHECK_RC(cput(s, chk_version("cf", q, v.ts, v.seq + 1), "cf", q, "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_version("cf", q, v.ts - 1, v.seq), "cf", q, "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_version("cf", q, v.ts, v.seq), "cf", q, "tres"), 0);
		/* the version it checked is gone now */
		CHECK_RC(cput(s, chk_version("cf", q, v.ts, v.seq), "cf", q, "x"), -ECANCELED);
		CHECK_RC(getv(s, "cf", q, got, sizeof(got)), 0);
		CHECK_STREQ(got, "tres");
		/* a deleted column is absent */
		CHECK_RC(hr_get(s, "t", "r", 1, "cf", q, 2, 0, &v), 0);
		CHECK_RC(et_del(s, "t", "r", 1, "cf", q, HR_TS_NOW, HR_DELETE_COLUMN), 0);
		if (pass)
			CHECK_RC(hr_flush(s, "t"), 0);
		CHECK_RC(cput(s, chk("cf", q, HR_CHECK_PRESENT), "cf", "other", "x"), -ECANCELED);
		CHECK_RC(cput(s, chk_version("cf", q, v.ts, v.seq), "cf", "other", "x"), -ECANCELED);
		CHECK_RC(cput(s, chk("cf", q, HR_CHECK_ABSENT), "cf", q, "again"), 0);
		CHECK_RC(getv(s, "cf", q, got, sizeof(got)), 0);
		CHECK_STREQ(got, "again");
	}
	/* several versions: only the latest visible counts */
	CHECK_RC(et_put(s, "t", "r", 1, "cf3", "m", 100, "old"), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "cf3", "m", 200, "new"), 0);
	CHECK_RC(cput(s, chk_value("cf3", "m", "old"), "cf3", "m", "x"), -ECANCELED);
	CHECK_RC(cput(s, chk_version("cf3", "m", 100, 0), "cf3", "m", "x"), -ECANCELED);
	/* a Delete of the latest version brings the older one back */
	CHECK_RC(et_del(s, "t", "r", 1, "cf3", "m", 200, HR_DELETE), 0);
	CHECK_RC(cput(s, chk_value("cf3", "m", "old"), "cf3", "m", "newer"), 0);
	/* an expired cell (TTL 1 s, written 10 s ago) is absent */
	CHECK_RC(et_put(s, "t", "r", 1, "ttl", "e", hr_now_ms() - 10000, "stale"), 0);
	CHECK_RC(cput(s, chk("ttl", "e", HR_CHECK_ABSENT), "ttl", "e", "fresh"), 0);
	CHECK_RC(getv(s, "ttl", "e", got, sizeof(got)), 0);
	CHECK_STREQ(got, "fresh");
	/* a deleted row: every column absent */
	CHECK_RC(hr_delete_row(s, "t", "r", 1, 0), 0);
	CHECK_RC(cput(s, chk("cf", "q1", HR_CHECK_ABSENT), "cf", "z", "after"), 0);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* One failing check among several: nothing of the mutation is written,
 * in memory or in the WAL. */
static void t_all_or_nothing(void)
{
	char dir[4200], got[64];
	subdir(dir, sizeof(dir), "aon");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "a", "b", NULL), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "a", "x", HR_TS_NOW, "1"), 0);
	CHECK_RC(et_put(s, "t", "r", 1, "b", "y", HR_TS_NOW, "2"), 0);
	hr_check ok3[3] = {chk_value("a", "x", "1"), chk_value("b", "y", "2"),
			   chk("b", "none", HR_CHECK_ABSENT)};
	hr_mcell m[3] = {put("a", "x", "10"), put("b", "y", "20"), put("b", "new", "n")};
	for (int bad = 0; bad < 3; bad++) {
		hr_check c[3];
		memcpy(c, ok3, sizeof(c));
		c[bad] = bad == 2 ? chk("b", "y", HR_CHECK_ABSENT) : chk_value(bad ? "b" : "a",
									     bad ? "y" : "x", "9");
		CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, c, 3, m, 3, 0), -ECANCELED);
	}
	CHECK_RC(et_get(s, "t", "r", 1, "a", "x", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "1");
	CHECK_RC(et_get(s, "t", "r", 1, "b", "new", got, sizeof(got), NULL), -ENOENT);
	hr_stats st0, st1;
	CHECK_RC(hr_stats_get(s, &st0), 0);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, ok3, 3, m, 2, HR_MUT_SYNC), 0);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, ok3, 3, m, 3, 0), -ECANCELED);
	CHECK_RC(hr_stats_get(s, &st1), 0);
	CHECK(st1.wal_appends == st0.wal_appends + 1);
	/* without checks it is hr_mutate */
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, NULL, 0, &m[2], 1, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_get(s, "t", "r", 1, "a", "x", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "10");
	CHECK_RC(et_get(s, "t", "r", 1, "b", "y", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "20");
	CHECK_RC(et_get(s, "t", "r", 1, "b", "new", got, sizeof(got), NULL), 0);
	CHECK_STREQ(got, "n");
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

static void t_errors(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "err");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	hr_mcell m = put("cf", "q", "v");
	hr_check c = chk("nofam", "q", HR_CHECK_ABSENT);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), -ENOENT);
	c = chk("cf", "q", 0);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), -EINVAL);
	c = chk("cf", "q", 5);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), -EINVAL);
	c = chk("cf", "q", HR_CHECK_ABSENT);
	c.qualifier_len = HR_MAX_QUALIFIER + 1;
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), -EINVAL);
	c = chk("cf", "q", HR_CHECK_VALUE);
	c.value_len = 3; /* and no value */
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), -EINVAL);
	c = chk("cf", "q", HR_CHECK_ABSENT);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, NULL, 1, &m, 1, 0), -EINVAL);
	CHECK_RC(hr_check_and_mutate(s, "nope", "r", 1, &c, 1, &m, 1, 0), -ENOENT);
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 0, 0), -EINVAL);
	CHECK_RC(hr_check_and_mutate(s, "t", "", 0, &c, 1, &m, 1, 0), -EINVAL);
	CHECK_RC(hr_exists(s, "t", "r", 1, NULL, NULL, 0), 0); /* nothing was written */
	CHECK_RC(hr_check_and_mutate(s, "t", "r", 1, &c, 1, &m, 1, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* ---- concurrency ------------------------------------------------------------ */

#define NTHREADS 4

typedef struct inc_ctx {
	hr_server *s;
	int per_thread;
	atomic_int stop, failed;
	atomic_long cancelled, done;
} inc_ctx;

typedef struct inc_arg {
	inc_ctx *c;
	int id;
} inc_arg;

/* read the counter, then write counter+1 only if it is still what was read */
static void *incrementer(void *p)
{
	inc_arg *a = p;
	inc_ctx *c = a->c;
	for (int k = 0; k < c->per_thread && !atomic_load(&c->failed);) {
		hr_value v;
		long n = 0;
		int rc = hr_get(c->s, "t", "ctr", 3, "cf", "n", 1, HR_GET_VALUE, &v);
		if (et_retryable(rc))
			continue;
		if (rc != 0 && rc != -ENOENT) {
			fprintf(stdout, "# thread %d: get %d\n", a->id, rc);
			atomic_store(&c->failed, 1);
			break;
		}
		char cur[32] = "", next[32];
		if (rc == 0) {
			snprintf(cur, sizeof(cur), "%.*s", (int)v.len, (const char *)v.data);
			n = atol(cur);
		}
		snprintf(next, sizeof(next), "%ld", n + 1);
		hr_check ck;
		if (rc == -ENOENT)
			ck = chk("cf", "n", HR_CHECK_ABSENT);
		else if (a->id % 2)
			ck = chk_version("cf", "n", v.ts, v.seq);
		else
			ck = chk_value("cf", "n", cur);
		hr_mcell m = put("cf", "n", next);
		sched_yield(); /* widen the read-to-write window: more races */
		int wrc = hr_check_and_mutate(c->s, "t", "ctr", 3, &ck, 1, &m, 1, 0);
		if (rc == 0)
			hr_value_free(&v);
		if (wrc == 0) {
			k++;
			atomic_fetch_add(&c->done, 1);
		} else if (wrc == -ECANCELED) {
			atomic_fetch_add(&c->cancelled, 1);
		} else if (!et_retryable(wrc)) {
			fprintf(stdout, "# thread %d: check_and_mutate %d\n", a->id, wrc);
			atomic_store(&c->failed, 1);
		}
	}
	return NULL;
}

/* moves the counter between memstore and files meanwhile */
static void *mover(void *p)
{
	inc_ctx *c = p;
	for (int i = 0; !atomic_load(&c->stop); i++) {
		int rc = hr_flush(c->s, "t");
		if (rc == 0 && i % 4 == 3)
			rc = hr_compact(c->s, "t", i % 8 == 7);
		if (rc < 0 && !et_retryable(rc)) {
			fprintf(stdout, "# mover: %d\n", rc);
			atomic_store(&c->failed, 1);
			break;
		}
	}
	return NULL;
}

static void t_concurrent_increments(void)
{
	char dir[4200], got[32];
	subdir(dir, sizeof(dir), "inc");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	inc_ctx c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.per_thread = 300;
	pthread_t th[NTHREADS], mv;
	inc_arg args[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (inc_arg){&c, i};
		pthread_create(&th[i], NULL, incrementer, &args[i]);
	}
	pthread_create(&mv, NULL, mover, &c);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&c.stop, 1);
	pthread_join(mv, NULL);
	long want = (long)NTHREADS * c.per_thread;
	fprintf(stdout, "# %ld increments by %d threads, %ld cancelled and retried\n",
		(long)atomic_load(&c.done), NTHREADS, (long)atomic_load(&c.cancelled));
	CHECK(!atomic_load(&c.failed));
	CHECK(atomic_load(&c.done) == want);
	CHECK_RC(et_get(s, "t", "ctr", 3, "cf", "n", got, sizeof(got), NULL), 0);
	CHECK_RC(atol(got), want);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_get(s, "t", "ctr", 3, "cf", "n", got, sizeof(got), NULL), 0);
	CHECK_RC(atol(got), want);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

#define RACE_CELLS 50

typedef struct race_arg {
	hr_server *s;
	int id;
	atomic_int *wins; /* per cell: how many creators succeeded */
	int failed;
} race_arg;

static void *creator(void *p)
{
	race_arg *a = p;
	for (int i = 0; i < RACE_CELLS; i++) {
		char q[16], v[16];
		snprintf(q, sizeof(q), "c%02d", i);
		snprintf(v, sizeof(v), "t%d", a->id);
		hr_check ck = chk("cf", q, HR_CHECK_ABSENT);
		hr_mcell m = put("cf", q, v);
		int rc;
		do
			rc = hr_check_and_mutate(a->s, "t", "race", 4, &ck, 1, &m, 1, 0);
		while (et_retryable(rc));
		if (rc == 0)
			atomic_fetch_add(&a->wins[i], 1);
		else if (rc != -ECANCELED)
			a->failed = 1;
	}
	return NULL;
}

static void t_concurrent_create(void)
{
	char dir[4200];
	subdir(dir, sizeof(dir), "race");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf:10", NULL), 0); /* losers' versions would show */
	atomic_int wins[RACE_CELLS];
	for (int i = 0; i < RACE_CELLS; i++)
		atomic_init(&wins[i], 0);
	pthread_t th[NTHREADS];
	race_arg args[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (race_arg){s, i, wins, 0};
		pthread_create(&th[i], NULL, creator, &args[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(!args[i].failed);
	for (int i = 0; i < RACE_CELLS; i++) {
		CHECK_RC(atomic_load(&wins[i]), 1);
		/* the value is the winner's, and one version only was written */
		char q[16];
		snprintf(q, sizeof(q), "c%02d", i);
		hr_get_opts o = {10, 0, 0, 0};
		hr_value *v;
		CHECK_RC(hr_get_versions(s, "t", "race", 4, "cf", q, strlen(q), &o, &v), 1);
		CHECK(v[0].len == 2 && ((char *)v[0].data)[0] == 't');
		hr_values_free(v, 1);
	}
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

/* hr_get's (ts, seq) of row "r" equals st */
static int same_version(hr_server *s, const char *fam, const char *qual, hr_stamp st)
{
	hr_value v;
	int rc = hr_get(s, "t", "r", 1, fam, qual, strlen(qual), 0, &v);
	if (rc < 0) {
		printf("# hr_get(%s:%s) = %d\n", fam, qual, rc);
		return 0;
	}
	if (v.ts != st.ts || v.seq != st.seq)
		printf("# %s:%s: hr_get (ts %" PRId64 ", seq %" PRIu64 "), stamp (ts %" PRId64
		       ", seq %" PRIu64 ")\n",
		       fam, qual, v.ts, v.seq, st.ts, st.seq);
	return v.ts == st.ts && v.seq == st.seq;
}

static void t_stamped(void)
{
	char dir[4200], got[64];
	subdir(dir, sizeof(dir), "stamped");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", "cf3:3", NULL), 0);
	const hr_stamp untouched = {-7, 77};

	/* a put at the server's clock */
	int64_t before = hr_now_ms();
	hr_mcell m = put("cf", "a", "one");
	hr_stamp a = untouched;
	CHECK_RC(hr_mutate_stamped(s, "t", "r", 1, &m, 1, 0, &a), 0);
	CHECK(a.seq > 0 && a.ts >= before && a.ts != HR_TS_NOW);
	CHECK(same_version(s, "cf", "a", a));

	/* check-and-mutate chains: each stamp is the next call's expectation */
	hr_stamp prev = a;
	for (int i = 0; i < 6; i++) {
		char val[16];
		snprintf(val, sizeof(val), "v%d", i);
		hr_check c = chk_version("cf", "a", prev.ts, prev.seq);
		hr_mcell pm = put("cf", "a", val);
		hr_stamp next = untouched;
		CHECK_RC(hr_check_and_mutate_stamped(s, "t", "r", 1, &c, 1, &pm, 1, 0, &next), 0);
		CHECK(next.seq > prev.seq && next.ts >= prev.ts);
		CHECK(same_version(s, "cf", "a", next));
		if (i % 2 == 1)
			CHECK_RC(hr_flush(s, "t"), 0); /* the cell now in a store file */
		if (i == 4)
			CHECK_RC(hr_compact(s, "t", 1), 0);
		CHECK(same_version(s, "cf", "a", next));
		prev = next;
	}
	CHECK_RC(getv(s, "cf", "a", got, sizeof(got)), 0);
	CHECK_STREQ(got, "v5");

	/* failures leave the stamp alone: a failing check, no table, too big */
	hr_stamp f = untouched;
	hr_check stale = chk_version("cf", "a", a.ts, a.seq);
	CHECK_RC(hr_check_and_mutate_stamped(s, "t", "r", 1, &stale, 1, &m, 1, 0, &f),
		 -ECANCELED);
	CHECK(f.ts == untouched.ts && f.seq == untouched.seq);
	CHECK_RC(hr_mutate_stamped(s, "nosuch", "r", 1, &m, 1, 0, &f), -ENOENT);
	CHECK(f.ts == untouched.ts && f.seq == untouched.seq);
	hr_config cfg;
	et_config(&cfg, dir);
	size_t big_len = (size_t)cfg.max_cell_size + 1;
	char *big = calloc(1, big_len);
	CHECK(big);
	hr_mcell bm = {"cf", "a", 1, HR_TS_NOW, HR_PUT, big, big_len};
	CHECK_RC(hr_mutate_stamped(s, "t", "r", 1, &bm, 1, 0, &f), -EFBIG);
	CHECK(f.ts == untouched.ts && f.seq == untouched.seq);
	free(big);
	CHECK(same_version(s, "cf", "a", prev));

	/* an explicit timestamp stays as given, below the region's clock too */
	hr_mcell em = {"cf3", "e", 1, 12345, HR_PUT, "old", 3};
	hr_stamp e = untouched;
	CHECK_RC(hr_mutate_stamped(s, "t", "r", 1, &em, 1, 0, &e), 0);
	CHECK(e.ts == 12345 && e.seq > prev.seq);
	CHECK(same_version(s, "cf3", "e", e));
	hr_check ec = chk_version("cf3", "e", e.ts, e.seq);
	hr_mcell em2 = {"cf3", "e", 1, 12346, HR_PUT, "newer", 5};
	CHECK_RC(hr_check_and_mutate_stamped(s, "t", "r", 1, &ec, 1, &em2, 1, 0, &e), 0);
	CHECK(e.ts == 12346);
	CHECK(same_version(s, "cf3", "e", e));

	/* a rename's shape, Put(new) + DeleteColumn(old): cells[0]'s version */
	hr_mcell mv[2] = {put("cf", "b", "moved"),
			  {"cf", "a", 1, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0}};
	hr_check mc = chk_version("cf", "a", prev.ts, prev.seq);
	hr_stamp b = untouched;
	CHECK_RC(hr_check_and_mutate_stamped(s, "t", "r", 1, &mc, 1, mv, 2, 0, &b), 0);
	CHECK(same_version(s, "cf", "b", b));
	CHECK_RC(hr_exists(s, "t", "r", 1, "cf", "a", 1), 0);

	/* a version delete without a timestamp: the version it deleted */
	CHECK_RC(et_put(s, "t", "r", 1, "cf3", "e", 12347, "newest"), 0);
	hr_mcell vd = {"cf3", "e", 1, HR_TS_NOW, HR_DELETE, NULL, 0};
	hr_stamp d = untouched;
	CHECK_RC(hr_mutate_stamped(s, "t", "r", 1, &vd, 1, 0, &d), 0);
	CHECK(d.ts == 12347 && d.seq > b.seq);
	CHECK(same_version(s, "cf3", "e", e)); /* the one below is back */
	/* ... and of an absent column: nothing written */
	hr_mcell nd = {"cf3", "none", 4, HR_TS_NOW, HR_DELETE, NULL, 0};
	d = untouched;
	CHECK_RC(hr_mutate_stamped(s, "t", "r", 1, &nd, 1, 0, &d), 0);
	CHECK(d.ts == HR_TS_NOW && d.seq == 0);

	/* the stamps survive a reopen (WAL replay and store files) */
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	CHECK(same_version(s, "cf", "b", b));
	CHECK(same_version(s, "cf3", "e", e));
	hr_check bc = chk_version("cf", "b", b.ts, b.seq);
	hr_mcell bp = put("cf", "b", "after reopen");
	hr_stamp b2 = untouched;
	CHECK_RC(hr_check_and_mutate_stamped(s, "t", "r", 1, &bc, 1, &bp, 1, 0, &b2), 0);
	CHECK(b2.seq > b.seq && b2.ts >= b.ts);
	CHECK(same_version(s, "cf", "b", b2));
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	et_watchdog(240);
	hr_log_set_level(HR_LOG_WARN);
	hr_test_tmpdir(g_dir, sizeof(g_dir), "check");
	RUN(t_ops);
	RUN(t_all_or_nothing);
	RUN(t_errors);
	RUN(t_concurrent_increments);
	RUN(t_concurrent_create);
	RUN(t_stamped);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
