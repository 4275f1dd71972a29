/*
 * hr_meta_cases.h — the behaviours every hr_meta backend must show (the
 * contract in hr_meta.h), written once and run by test_meta.c (LMDB) and
 * test_meta_rados.c (RADOS omap). A test binary defines
 *     static hr_meta *mc_open(hr_io *io);   fresh, empty metadata; NULL on error
 * before including this file, then RUN()s the mc_* cases it wants.
 */
#ifndef HR_META_CASES_H
#define HR_META_CASES_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "engine/hr_io.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_meta.h"
#include "hr_test.h"

static hr_meta *mc_open(hr_io *io);

/* ---- small helpers: one operation in its own write transaction ---- */

static int mc_counter_put(hr_meta *m, const char *name, uint64_t v)
{
	hr_meta_txn *t;
	int rc = hr_meta_begin(m, 1, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_counter_put(t, name, v)) < 0) {
		hr_meta_abort(t);
		return rc;
	}
	return hr_meta_commit(t);
}

static uint64_t mc_counter(hr_meta *m, const char *name)
{
	hr_meta_txn *t;
	uint64_t v = 999999;
	if (hr_meta_begin(m, 0, &t) == 0) {
		if (hr_meta_counter_get(t, name, &v) < 0)
			v = 999998;
		hr_meta_abort(t);
	}
	return v;
}

static hr_table_schema mc_schema(const char *name, unsigned nfam)
{
	hr_table_schema s;
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.nfamilies = nfam;
	for (unsigned i = 0; i < nfam; i++) {
		hr_family_schema *f = &s.families[i];
		snprintf(f->name, sizeof(f->name), "f%u", i);
		f->max_versions = i + 1;
		f->ttl_ms = 1000 * (int64_t)i;
		f->block_size = 4096;
		f->bloom = 1;
		f->compression = i % 3;
		f->keep_deleted_cells = i % 2;
	}
	return s;
}

/* what the *_each walks saw, as one string */
typedef struct mc_seen {
	char s[4096];
} mc_seen;

static void mc_add(mc_seen *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mc_add(mc_seen *w, const char *fmt, ...)
{
	size_t n = strlen(w->s);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->s + n, sizeof(w->s) - n, fmt, ap);
	va_end(ap);
}

static int mc_table_cb(void *ctx, const hr_table_schema *s)
{
	mc_add(ctx, "%s:%u;", s->name, s->nfamilies);
	return 0;
}

static int mc_region_cb(void *ctx, const hr_meta_region *r)
{
	mc_add(ctx, "%llu:%s:%zu:%zu:%d", (unsigned long long)r->id, r->table, r->start_len,
	       r->end_len, r->state);
	for (size_t i = 0; i < r->start_len; i++)
		mc_add(ctx, ".%02x", r->start[i]);
	mc_add(ctx, ";");
	return 0;
}

static int mc_store_cb(void *ctx, const hr_meta_store *s)
{
	mc_add(ctx, "%llu/%s:%llu:", (unsigned long long)s->region_id, s->family,
	       (unsigned long long)s->flushed_seq);
	for (uint32_t i = 0; i < s->nfiles; i++)
		mc_add(ctx, "%llu,", (unsigned long long)s->files[i]);
	mc_add(ctx, ";");
	return 0;
}

static int mc_wal_cb(void *ctx, uint64_t seg)
{
	mc_add(ctx, "%llu;", (unsigned long long)seg);
	return 0;
}

static int mc_snap_cb(void *ctx, const char *table, const char *name, const void *v, size_t len)
{
	mc_add(ctx, "%s/%s:%zu", table, name, len);
	if (len)
		mc_add(ctx, ":%02x", ((const uint8_t *)v)[len - 1]);
	mc_add(ctx, ";");
	return 0;
}

static int mc_stop_cb(void *ctx, uint64_t seg)
{
	(void)seg;
	return ++*(int *)ctx == 2; /* stop after the second */
}

static int mc_stop_region_cb(void *ctx, const hr_meta_region *r)
{
	return mc_stop_cb(ctx, r->id);
}

/* ---- the cases ---- */

/* Tables come back whole, in name order; del removes; put replaces. */
static void mc_tables(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	const char *names[] = {"zeta", "a", "alpha", "a-b", "B"};
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	for (unsigned i = 0; i < 5; i++) {
		hr_table_schema s = mc_schema(names[i], i + 1);
		CHECK_RC(hr_meta_table_put(t, &s), 0);
	}
	CHECK_RC(hr_meta_commit(t), 0);
	mc_seen w = {""};
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_table_each(t, mc_table_cb, &w), 0);
	hr_meta_abort(t);
	CHECK(strcmp(w.s, "B:5;a:2;a-b:4;alpha:3;zeta:1;") == 0);

	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_table_del(t, "alpha"), 0);
	CHECK_RC(hr_meta_table_del(t, "absent"), 0);
	hr_table_schema s = mc_schema("a", 7);
	CHECK_RC(hr_meta_table_put(t, &s), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	memset(&w, 0, sizeof(w));
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_table_each(t, mc_table_cb, &w), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK(strcmp(w.s, "B:5;a:7;a-b:4;zeta:1;") == 0);
}

static hr_table_schema mc_got_schema;
static int mc_schema_cb(void *ctx, const hr_table_schema *s)
{
	(void)ctx;
	mc_got_schema = *s;
	return 1;
}

/* A schema's every setting survives the round trip. */
static void mc_schema_roundtrip(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	hr_table_schema s = mc_schema("t", 4);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_table_put(t, &s), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	memset(&mc_got_schema, 0, sizeof(mc_got_schema));
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_table_each(t, mc_schema_cb, NULL), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK(memcmp(&mc_got_schema, &s, sizeof(s)) == 0);
}

/* Regions in numeric id order (ids across byte boundaries), keys with
 * zero bytes intact, exists and del. */
static void mc_regions(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	uint64_t ids[] = {256, 1, (uint64_t)1 << 40, 255};
	const uint8_t key[] = {0, 'k', 0};
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	for (unsigned i = 0; i < 4; i++) {
		hr_meta_region r = {.id = ids[i], .start = key, .start_len = i % 2 ? 3 : 0,
				    .end = key, .end_len = 2, .state = (int)i};
		snprintf(r.table, sizeof(r.table), "tb%u", i);
		CHECK_RC(hr_meta_region_put(t, &r), 0);
	}
	CHECK_RC(hr_meta_commit(t), 0);
	mc_seen w = {""};
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_region_each(t, mc_region_cb, &w), 0);
	CHECK_RC(hr_meta_region_exists(t, 255), 1);
	CHECK_RC(hr_meta_region_exists(t, 254), 0);
	hr_meta_abort(t);
	CHECK(strcmp(w.s, "1:tb1:3:2:1.00.6b.00;255:tb3:3:2:3.00.6b.00;256:tb0:0:2:0;"
			  "1099511627776:tb2:0:2:2;") == 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_region_del(t, 255), 0);
	CHECK_RC(hr_meta_region_del(t, 77), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_region_exists(t, 255), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
}

/* Stores by (region, family); add refuses an existing record; the file
 * list survives. */
static void mc_stores(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	uint64_t files[] = {9, 7, (uint64_t)1 << 33};
	hr_meta_store a = {.region_id = 2, .family = "b", .flushed_seq = 5, .nfiles = 3,
			   .files = files};
	hr_meta_store b = {.region_id = 2, .family = "a", .flushed_seq = 6};
	hr_meta_store c = {.region_id = 1, .family = "zz", .flushed_seq = 7, .nfiles = 1,
			   .files = files};
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_store_add(t, &a), 0);
	CHECK_RC(hr_meta_store_add(t, &b), 0);
	CHECK_RC(hr_meta_store_put(t, &c), 0);
	CHECK_RC(hr_meta_store_add(t, &a), -EEXIST); /* its own write counts */
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_store_add(t, &c), -EEXIST); /* a committed one too */
	hr_meta_abort(t);
	mc_seen w = {""};
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_store_each(t, mc_store_cb, &w), 0);
	hr_meta_abort(t);
	CHECK(strcmp(w.s, "1/zz:7:9,;2/a:6:;2/b:5:9,7,8589934592,;") == 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_store_del(t, 2, "b"), 0);
	CHECK_RC(hr_meta_store_add(t, &a), 0); /* after its delete: new again */
	CHECK_RC(hr_meta_store_del(t, 1, "zz"), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	memset(&w, 0, sizeof(w));
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_store_each(t, mc_store_cb, &w), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK(strcmp(w.s, "2/a:6:;2/b:5:9,7,8589934592,;") == 0);
}

/* WAL segments in id order; a callback's non-zero stops the walk. */
static void mc_wal(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_wal_put(t, 300), 0);
	CHECK_RC(hr_meta_wal_put(t, 3), 0);
	CHECK_RC(hr_meta_wal_put(t, 40), 0);
	CHECK_RC(hr_meta_wal_del(t, 40), 0);
	CHECK_RC(hr_meta_wal_put(t, 41), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	mc_seen w = {""};
	int n = 0;
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_wal_cb, &w), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_stop_cb, &n), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK(strcmp(w.s, "3;41;300;") == 0);
	CHECK_RC(n, 2);
}

/* get of an absent counter is 0; raise never lowers; alloc hands out
 * ranges from max(counter, floor). */
static void mc_counters(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	uint64_t first = 0;
	CHECK(m);
	CHECK_RC(mc_counter(m, "next_region_id"), 0);
	CHECK_RC(mc_counter_put(m, "next_region_id", 10), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_counter_raise(t, "next_region_id", 5), 0);
	CHECK_RC(hr_meta_counter_raise(t, "other", 3), 0);
	uint64_t v = 0;
	CHECK_RC(hr_meta_counter_get(t, "other", &v), 0);
	CHECK_RC(v, 3); /* its own raise */
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(mc_counter(m, "next_region_id"), 10);
	CHECK_RC(mc_counter(m, "other"), 3);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_counter_raise(t, "next_region_id", 12), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(mc_counter(m, "next_region_id"), 12);
	CHECK_RC(hr_meta_counter_alloc(m, "next_region_id", 3, 0, &first), 0);
	CHECK_RC(first, 12);
	CHECK_RC(hr_meta_counter_alloc(m, "next_region_id", 1, 100, &first), 0);
	CHECK_RC(first, 100);
	CHECK_RC(hr_meta_counter_alloc(m, "fresh", 2, 0, &first), 0);
	CHECK_RC(first, 0);
	CHECK_RC(mc_counter(m, "next_region_id"), 101);
	CHECK_RC(mc_counter(m, "fresh"), 2);
	hr_meta_close(m);
}

/* Snapshots by (table, name) — "a" before "a-b" before "ab" — with add's
 * -EEXIST and del's -ENOENT; manifests are stored as given. */
static void mc_snapshots(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	uint8_t man[300];
	for (unsigned i = 0; i < sizeof(man); i++)
		man[i] = (uint8_t)(i * 7);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_snap_add(t, "ab", "s1", man, 5), 0);
	CHECK_RC(hr_meta_snap_add(t, "a-b", "s1", man, 6), 0);
	CHECK_RC(hr_meta_snap_add(t, "a", "zz", man, sizeof(man)), 0);
	CHECK_RC(hr_meta_snap_add(t, "a", "b", man, 1), 0);
	CHECK_RC(hr_meta_snap_add(t, "a", "b", man, 1), -EEXIST);
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_snap_add(t, "ab", "s1", man, 5), -EEXIST);
	CHECK_RC(hr_meta_snap_del(t, "ab", "nope"), -ENOENT);
	CHECK_RC(hr_meta_snap_del(t, "ab", "s1"), 0);
	CHECK_RC(hr_meta_snap_del(t, "ab", "s1"), -ENOENT);
	CHECK_RC(hr_meta_commit(t), 0);
	mc_seen w = {""};
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_snap_each(t, mc_snap_cb, &w), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK(strcmp(w.s, "a/b:1:00;a/zz:300:2d;a-b/s1:6:23;") == 0);
}

/* Inside a write transaction every read sees its own writes merged in key
 * order; abort leaves nothing; commit publishes all of it. */
static void mc_read_your_writes(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	for (uint64_t s = 10; s <= 50; s += 10)
		CHECK_RC(hr_meta_wal_put(t, s), 0);
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_wal_put(t, 5), 0);
	CHECK_RC(hr_meta_wal_put(t, 35), 0);
	CHECK_RC(hr_meta_wal_put(t, 99), 0);
	CHECK_RC(hr_meta_wal_del(t, 20), 0);
	CHECK_RC(hr_meta_wal_del(t, 50), 0);
	hr_meta_region r = {.id = 4, .table = "x"};
	CHECK_RC(hr_meta_region_put(t, &r), 0);
	CHECK_RC(hr_meta_region_exists(t, 4), 1);
	mc_seen w = {""};
	CHECK_RC(hr_meta_wal_each(t, mc_wal_cb, &w), 0);
	CHECK(strcmp(w.s, "5;10;30;35;40;99;") == 0);
	hr_meta_abort(t);
	memset(&w, 0, sizeof(w));
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_wal_cb, &w), 0);
	CHECK_RC(hr_meta_region_exists(t, 4), 0);
	hr_meta_abort(t);
	CHECK(strcmp(w.s, "10;20;30;40;50;") == 0);
	hr_meta_close(m);
}

static int mc_count_cb(void *ctx, uint64_t seg)
{
	(void)seg;
	++*(int *)ctx;
	return 0;
}

/* Many records across databases in one commit: all or (abort) none. */
static void mc_many_in_one(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	for (int round = 0; round < 2; round++) {
		CHECK_RC(hr_meta_begin(m, 1, &t), 0);
		for (uint64_t i = 1; i <= 600; i++) { /* more than one listing page */
			hr_meta_region r = {.id = i, .table = "t"};
			CHECK_RC(hr_meta_region_put(t, &r), 0);
			CHECK_RC(hr_meta_wal_put(t, i), 0);
		}
		CHECK_RC(hr_meta_counter_put(t, "n", 600), 0);
		if (round == 0)
			hr_meta_abort(t);
		else
			CHECK_RC(hr_meta_commit(t), 0);
		int n = 0, nw = 0;
		CHECK_RC(hr_meta_begin(m, 0, &t), 0);
		CHECK_RC(hr_meta_region_each(t, mc_stop_region_cb, &n), 0);
		CHECK_RC(hr_meta_wal_each(t, mc_count_cb, &nw), 0);
		hr_meta_abort(t);
		CHECK_RC(nw, round ? 600 : 0);
		if (round == 0) {
			CHECK_RC(n, 0);
			CHECK_RC(mc_counter(m, "n"), 0);
		} else {
			CHECK_RC(n, 2);
			CHECK_RC(mc_counter(m, "n"), 600);
		}
	}
	hr_meta_close(m);
}

/* ... and a walk over them pages through all 600 in order */
static int mc_order_cb(void *ctx, const hr_meta_region *r)
{
	uint64_t *last = ctx;
	if (r->id != *last + 1)
		return -EILSEQ;
	*last = r->id;
	return 0;
}

static void mc_long_walk(void)
{
	hr_meta *m = mc_open(hr_io_posix());
	hr_meta_txn *t;
	CHECK(m);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	for (uint64_t i = 1; i <= 700; i += 2) {
		hr_meta_region r = {.id = i, .table = "t"};
		CHECK_RC(hr_meta_region_put(t, &r), 0);
	}
	CHECK_RC(hr_meta_commit(t), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	for (uint64_t i = 2; i <= 700; i += 2) { /* buffered, interleaved */
		hr_meta_region r = {.id = i, .table = "t"};
		CHECK_RC(hr_meta_region_put(t, &r), 0);
	}
	uint64_t last = 0;
	CHECK_RC(hr_meta_region_each(t, mc_order_cb, &last), 0);
	CHECK_RC(last, 700);
	CHECK_RC(hr_meta_commit(t), 0);
	last = 0;
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_region_each(t, mc_order_cb, &last), 0);
	hr_meta_abort(t);
	hr_meta_close(m);
	CHECK_RC(last, 700);
}

/* A commit the I/O seam refuses returns its error and changes nothing;
 * the next one goes through. So does a refused counter_alloc. */
static void mc_commit_refused(void)
{
	hr_io *io;
	hr_meta_txn *t;
	uint64_t first = 0;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &io), 0);
	hr_meta *m = mc_open(io);
	CHECK(m);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_META_COMMIT, 1, -ENOSPC, HR_IO_FAULT_ONCE, NULL), 0);
	CHECK_RC(hr_meta_begin(m, 1, &t), 0);
	CHECK_RC(hr_meta_counter_put(t, "x", 1), 0);
	CHECK_RC(hr_meta_wal_put(t, 1), 0);
	CHECK_RC(hr_meta_commit(t), -ENOSPC);
	int n = 0;
	CHECK_RC(hr_meta_begin(m, 0, &t), 0);
	CHECK_RC(hr_meta_wal_each(t, mc_count_cb, &n), 0);
	hr_meta_abort(t);
	CHECK_RC(n, 0);
	CHECK_RC(mc_counter(m, "x"), 0);
	CHECK_RC(mc_counter_put(m, "x", 2), 0);
	CHECK_RC(mc_counter(m, "x"), 2);
	CHECK_RC(hr_io_fault_add(io, HR_IO_OP_META_COMMIT, 1, -EIO, HR_IO_FAULT_ONCE, NULL), 0);
	CHECK_RC(hr_meta_counter_alloc(m, "x", 5, 0, &first), -EIO);
	CHECK_RC(mc_counter(m, "x"), 2);
	hr_meta_close(m);
	hr_io_destroy(io);
}

#define MC_RUN_ALL()                     \
	do {                             \
		RUN(mc_tables);          \
		RUN(mc_schema_roundtrip); \
		RUN(mc_regions);         \
		RUN(mc_stores);          \
		RUN(mc_wal);             \
		RUN(mc_counters);        \
		RUN(mc_snapshots);       \
		RUN(mc_read_your_writes); \
		RUN(mc_many_in_one);     \
		RUN(mc_long_walk);       \
		RUN(mc_commit_refused);  \
	} while (0)

#endif
