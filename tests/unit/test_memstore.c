/* test_memstore.c — the memstore skiplist (engine/memstore): order against
 * a sorted reference (binary rows and qualifiers, ts desc, type desc, seq
 * desc), seek = first >= target, counters, large cells beside small ones,
 * reference counting, and concurrent inserters with lock-free readers that
 * must always see a strictly ordered list of fully written entries. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/hr_kv.h"
#include "engine/hr_memstore.h"
#include "hr_etest.h"

/* A generated cell: everything derived from (id), so a reader can check
 * any entry it meets. Rows and qualifiers come from tiny alphabets with
 * 0x00 and 0xff so that prefixes, equal columns and binary bytes are
 * common; the seq is unique (id + 1). */
typedef struct gen {
	uint8_t row[8], qual[4], val[64];
	uint32_t row_len, qual_len, val_len;
	int64_t ts;
	uint8_t type;
	uint64_t seq;
} gen;

static const uint8_t ALPHA[4] = {0x00, 'a', 'b', 0xff};
static const uint8_t TYPES[4] = {4, 8, 12, 14};

static void gen_make(uint64_t id, gen *g)
{
	uint64_t st = id * 0x9e3779b97f4a7c15ull + 1;
	uint64_t r = et_rand(&st);
	g->row_len = 1 + (uint32_t)(r % 4);
	for (uint32_t i = 0; i < g->row_len; i++)
		g->row[i] = ALPHA[(r >> (8 + 2 * i)) & 3];
	r = et_rand(&st);
	g->qual_len = (uint32_t)(r % 3);
	for (uint32_t i = 0; i < g->qual_len; i++)
		g->qual[i] = ALPHA[(r >> (8 + 2 * i)) & 3];
	r = et_rand(&st);
	g->ts = (int64_t)(r % 8);
	g->type = TYPES[(r >> 8) & 3];
	g->seq = id + 1;
	g->val_len = g->type == 4 ? (uint32_t)((r >> 16) % 60) : 0;
	for (uint32_t i = 0; i < g->val_len; i++)
		g->val[i] = (uint8_t)(id * 131 + i);
}

static void gen_kv(const gen *g, hr_kv *kv)
{
	*kv = (hr_kv){g->row, g->row_len, g->qual, g->qual_len, g->ts, g->seq, g->type, g->val,
		      g->val_len};
}

/* does kv hold exactly the generated cell of its seq? */
static int kv_valid(const hr_kv *kv, uint64_t max_id)
{
	if (kv->seq == 0 || kv->seq > max_id + 1)
		return 0;
	gen g;
	hr_kv want;
	gen_make(kv->seq - 1, &g);
	gen_kv(&g, &want);
	return hr_kv_cmp(kv, &want) == 0 && kv->value_len == want.value_len &&
	       (!want.value_len || memcmp(kv->value, want.value, want.value_len) == 0);
}

static gen *g_sorted;
static int cmp_gen(const void *a, const void *b)
{
	hr_kv x, y;
	gen_kv(a, &x);
	gen_kv(b, &y);
	return hr_kv_cmp(&x, &y);
}

#define N1 20000

static void t_order_and_seek(void)
{
	hr_memstore *ms;
	CHECK_RC(hr_memstore_new(&ms), 0);
	CHECK_RC(hr_memstore_count(ms), 0);
	CHECK(hr_memstore_min_seq(ms) == UINT64_MAX);
	CHECK_RC(hr_memstore_oldest_ms(ms), 0);
	g_sorted = malloc(N1 * sizeof(gen));
	CHECK(g_sorted);
	uint64_t prev_bytes = hr_memstore_bytes(ms);
	/* insert in a scrambled id order */
	for (uint64_t k = 0; k < N1; k++) {
		uint64_t id = (k * 7919) % N1;
		gen_make(id, &g_sorted[k]);
		hr_kv kv;
		gen_kv(&g_sorted[k], &kv);
		CHECK_RC(hr_memstore_add(ms, &kv), 0);
		CHECK(hr_memstore_bytes(ms) > prev_bytes);
		prev_bytes = hr_memstore_bytes(ms);
	}
	CHECK_RC(hr_memstore_count(ms), N1);
	CHECK_RC(hr_memstore_min_seq(ms), 1);
	CHECK_RC(hr_memstore_max_seq(ms), N1);
	CHECK(hr_memstore_oldest_ms(ms) > 0);
	qsort(g_sorted, N1, sizeof(gen), cmp_gen);
	/* iteration = the sorted reference */
	hr_memstore_iter it;
	hr_memstore_iter_init(&it, ms);
	hr_memstore_iter_first(&it);
	size_t i = 0;
	for (; hr_memstore_iter_valid(&it); hr_memstore_iter_next(&it), i++) {
		hr_kv want;
		CHECK(i < N1);
		gen_kv(&g_sorted[i], &want);
		if (hr_kv_cmp(&it.kv, &want) != 0 || !kv_valid(&it.kv, N1)) {
			fprintf(stdout, "# entry %zu: seq %" PRIu64 ", want seq %" PRIu64 "\n", i,
				it.kv.seq, want.seq);
			CHECK(0);
		}
	}
	CHECK_RC(i, N1);
	/* seek: existing keys, column starts, keys between entries */
	uint64_t st = 5;
	for (int k = 0; k < 5000; k++) {
		gen t;
		gen_make(et_rand(&st) % (N1 * 4), &t); /* 3 of 4 are not in the memstore */
		hr_kv target;
		gen_kv(&t, &target);
		if (k % 3 == 0)
			hr_kv_first_on_column(&target, t.row, t.row_len, t.qual, t.qual_len);
		/* reference: first index with sorted >= target */
		size_t lo = 0, hi = N1;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			hr_kv m;
			gen_kv(&g_sorted[mid], &m);
			if (hr_kv_cmp(&m, &target) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		hr_memstore_iter_seek(&it, &target);
		if (lo == N1) {
			CHECK(!hr_memstore_iter_valid(&it));
		} else {
			hr_kv want;
			gen_kv(&g_sorted[lo], &want);
			CHECK(hr_memstore_iter_valid(&it));
			CHECK_RC(hr_kv_cmp(&it.kv, &want), 0);
		}
	}
	/* the smallest and largest possible keys */
	uint8_t z = 0, f[4] = {0xff, 0xff, 0xff, 0xff};
	hr_kv lo_kv, hi_kv;
	hr_kv_first_on_column(&lo_kv, &z, 0, NULL, 0);
	hr_memstore_iter_seek(&it, &lo_kv);
	CHECK(hr_memstore_iter_valid(&it));
	CHECK_RC(it.kv.seq, g_sorted[0].seq);
	hr_kv_first_on_column(&hi_kv, f, 4, f, 4);
	hi_kv.ts = INT64_MIN;
	hi_kv.type = 0;
	hi_kv.seq = 0;
	hr_memstore_iter_seek(&it, &hi_kv);
	CHECK(!hr_memstore_iter_valid(&it));
	hr_memstore_unref(ms);
	free(g_sorted);
	g_sorted = NULL;
}

/* cells larger than a chunk (and than a quarter chunk) among small ones */
static void t_large_cells(void)
{
	hr_memstore *ms;
	CHECK_RC(hr_memstore_new(&ms), 0);
	size_t sizes[] = {10, 300 * 1024, 20, 3u << 20, 5, 256 * 1024 + 1, 1u << 20, 7};
	size_t n = sizeof(sizes) / sizeof(sizes[0]);
	uint8_t *vals[8];
	for (size_t i = 0; i < n; i++) {
		vals[i] = malloc(sizes[i]);
		CHECK(vals[i]);
		for (size_t k = 0; k < sizes[i]; k++)
			vals[i][k] = (uint8_t)(k * 13 + i);
		char row[8];
		snprintf(row, sizeof(row), "r%zu", i);
		hr_kv kv = {(const uint8_t *)row, (uint32_t)strlen(row), (const uint8_t *)"q", 1, 1,
			    i + 1, 4, vals[i], (uint32_t)sizes[i]};
		CHECK_RC(hr_memstore_add(ms, &kv), 0);
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += sizes[i];
	CHECK(hr_memstore_bytes(ms) >= total);
	hr_memstore_iter it;
	hr_memstore_iter_init(&it, ms);
	hr_memstore_iter_first(&it);
	size_t seen = 0;
	for (; hr_memstore_iter_valid(&it); hr_memstore_iter_next(&it), seen++) {
		size_t i = (size_t)(it.kv.row[1] - '0');
		CHECK(i < n);
		CHECK_RC(it.kv.value_len, sizes[i]);
		CHECK(memcmp(it.kv.value, vals[i], sizes[i]) == 0);
	}
	CHECK_RC(seen, n);
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	hr_memstore_unref(ms);
}

/* Tags are stored with the cell in the arena (a copy: the caller's buffer
 * may change) and come back with it; seeks and order ignore them. */
static void t_tags(void)
{
	hr_memstore *ms;
	CHECK_RC(hr_memstore_new(&ms), 0);
	size_t tl[] = {0, 3, 65535, 1, 300, 0};
	size_t n = sizeof(tl) / sizeof(tl[0]);
	uint8_t *tags = malloc(65535);
	CHECK(tags);
	uint64_t before = hr_memstore_bytes(ms);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < tl[i]; k++)
			tags[k] = (uint8_t)(k * 7 + i);
		char row[8];
		snprintf(row, sizeof(row), "r%zu", i);
		hr_kv kv = {(const uint8_t *)row, (uint32_t)strlen(row), (const uint8_t *)"q", 1, 1,
			    i + 1, 4, (const uint8_t *)"v", 1, (uint32_t)tl[i], tl[i] ? tags : NULL};
		CHECK_RC(hr_memstore_add(ms, &kv), 0);
		memset(tags, 0xee, 65535);
	}
	CHECK(hr_memstore_bytes(ms) - before >= 65535 + 300 + 4);
	hr_memstore_iter it;
	hr_memstore_iter_init(&it, ms);
	hr_memstore_iter_first(&it);
	size_t seen = 0;
	for (; hr_memstore_iter_valid(&it); hr_memstore_iter_next(&it), seen++) {
		size_t i = (size_t)(it.kv.row[1] - '0');
		CHECK(i == seen);
		CHECK_RC(it.kv.tags_len, tl[i]);
		CHECK((it.kv.tags == NULL) == (tl[i] == 0));
		for (size_t k = 0; k < tl[i]; k++)
			CHECK(it.kv.tags[k] == (uint8_t)(k * 7 + i));
		CHECK(it.kv.value_len == 1 && it.kv.value[0] == 'v');
	}
	CHECK_RC(seen, n);
	hr_kv key;
	hr_kv_first_on_column(&key, (const uint8_t *)"r2", 2, (const uint8_t *)"q", 1);
	hr_memstore_iter_seek(&it, &key);
	CHECK(hr_memstore_iter_valid(&it) && it.kv.tags_len == 65535 && it.kv.row[1] == '2');
	free(tags);
	hr_memstore_unref(ms);
}

/* A reader's reference keeps the arena alive after the owner lets go. */
static void t_refcount(void)
{
	hr_memstore *ms;
	CHECK_RC(hr_memstore_new(&ms), 0);
	hr_kv kv = {(const uint8_t *)"row", 3, (const uint8_t *)"q", 1, 5, 1, 4,
		    (const uint8_t *)"value", 5};
	CHECK_RC(hr_memstore_add(ms, &kv), 0);
	hr_memstore_ref(ms); /* the reader */
	hr_memstore_unref(ms); /* the store drops it (a flush finished) */
	hr_memstore_iter it;
	hr_memstore_iter_init(&it, ms);
	hr_memstore_iter_first(&it);
	CHECK(hr_memstore_iter_valid(&it));
	CHECK(it.kv.value_len == 5 && memcmp(it.kv.value, "value", 5) == 0);
	hr_memstore_iter_next(&it);
	CHECK(!hr_memstore_iter_valid(&it));
	hr_memstore_unref(ms); /* freed here (ASan checks) */
}

/* ---- concurrent inserters and lock-free readers ---------------------------- */

#define INSERTERS 4
#define PER_INSERTER 25000
#define READERS 3

static hr_memstore *g_ms;
static atomic_int g_inserting, g_fail;
static atomic_uint_fast64_t g_reader_passes, g_reader_entries, g_seeks;
static char g_failmsg[256];

static void failf(const char *msg, uint64_t a, uint64_t b)
{
	if (!atomic_fetch_add(&g_fail, 1))
		snprintf(g_failmsg, sizeof(g_failmsg), "%s (%" PRIu64 ", %" PRIu64 ")", msg, a, b);
}

static void *inserter(void *arg)
{
	uint64_t base = (uint64_t)(intptr_t)arg * PER_INSERTER;
	for (uint64_t k = 0; k < PER_INSERTER && !atomic_load(&g_fail); k++) {
		gen g;
		hr_kv kv;
		gen_make(base + k, &g);
		gen_kv(&g, &kv);
		int rc = hr_memstore_add(g_ms, &kv);
		if (rc != 0) {
			failf("add failed", base + k, (uint64_t)-rc);
			break;
		}
	}
	atomic_fetch_sub(&g_inserting, 1);
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t st = (uint64_t)(intptr_t)arg;
	const uint64_t max_id = INSERTERS * PER_INSERTER;
	uint64_t last_count = 0;
	do {
		/* a full pass: strictly ascending, every entry whole */
		hr_memstore_iter it;
		hr_kv prev;
		int have_prev = 0;
		uint64_t n = 0;
		hr_memstore_iter_init(&it, g_ms);
		hr_memstore_iter_first(&it);
		for (; hr_memstore_iter_valid(&it); hr_memstore_iter_next(&it), n++) {
			if (!kv_valid(&it.kv, max_id)) {
				failf("reader met a torn entry", it.kv.seq, n);
				return NULL;
			}
			if (have_prev && hr_kv_cmp(&prev, &it.kv) >= 0) {
				failf("reader met entries out of order", prev.seq, it.kv.seq);
				return NULL;
			}
			prev = it.kv;
			have_prev = 1;
		}
		/* entries are never removed: a later pass sees at least as many */
		if (n < last_count) {
			failf("a pass saw fewer entries than the one before", n, last_count);
			return NULL;
		}
		last_count = n;
		atomic_fetch_add(&g_reader_passes, 1);
		atomic_fetch_add(&g_reader_entries, n);
		/* and some seeks: the result is >= the target, and whole */
		for (int k = 0; k < 200; k++) {
			gen t;
			hr_kv target;
			gen_make(et_rand(&st) % (max_id * 2), &t);
			gen_kv(&t, &target);
			hr_memstore_iter_seek(&it, &target);
			if (hr_memstore_iter_valid(&it) &&
			    (hr_kv_cmp(&it.kv, &target) < 0 || !kv_valid(&it.kv, max_id))) {
				failf("seek returned a smaller or torn entry", target.seq, it.kv.seq);
				return NULL;
			}
			atomic_fetch_add(&g_seeks, 1);
		}
	} while (atomic_load(&g_inserting) > 0 && !atomic_load(&g_fail));
	return NULL;
}

static void t_concurrent_insert_and_read(void)
{
	CHECK_RC(hr_memstore_new(&g_ms), 0);
	atomic_store(&g_inserting, INSERTERS);
	pthread_t th[INSERTERS + READERS];
	for (int i = 0; i < READERS; i++)
		pthread_create(&th[INSERTERS + i], NULL, reader, (void *)(intptr_t)(i + 1));
	for (int i = 0; i < INSERTERS; i++)
		pthread_create(&th[i], NULL, inserter, (void *)(intptr_t)i);
	for (int i = 0; i < INSERTERS + READERS; i++)
		pthread_join(th[i], NULL);
	fprintf(stdout, "# %" PRIu64 " reader passes over %" PRIu64 " entries, %" PRIu64
			" seeks, while inserting\n",
		(uint64_t)g_reader_passes, (uint64_t)g_reader_entries, (uint64_t)g_seeks);
	if (atomic_load(&g_fail))
		fprintf(stdout, "# %s\n", g_failmsg);
	CHECK_RC(atomic_load(&g_fail), 0);
	const uint64_t total = INSERTERS * PER_INSERTER;
	CHECK_RC(hr_memstore_count(g_ms), total);
	CHECK_RC(hr_memstore_min_seq(g_ms), 1);
	CHECK_RC(hr_memstore_max_seq(g_ms), total);
	/* the final list: every id exactly once, in order */
	uint8_t *seen = calloc(total + 1, 1);
	CHECK(seen);
	hr_memstore_iter it;
	hr_kv prev;
	uint64_t n = 0;
	int ok = 1;
	hr_memstore_iter_init(&it, g_ms);
	hr_memstore_iter_first(&it);
	for (; hr_memstore_iter_valid(&it) && ok; hr_memstore_iter_next(&it), n++) {
		ok = kv_valid(&it.kv, total) && !seen[it.kv.seq] &&
		     (n == 0 || hr_kv_cmp(&prev, &it.kv) < 0);
		if (ok)
			seen[it.kv.seq] = 1;
		prev = it.kv;
	}
	free(seen);
	hr_memstore_unref(g_ms);
	g_ms = NULL;
	CHECK(ok);
	CHECK_RC(n, total);
}

int main(void)
{
	et_watchdog(60);
	hr_log_set_level(HR_LOG_WARN);
	RUN(t_order_and_seek);
	RUN(t_large_cells);
	RUN(t_tags);
	RUN(t_refcount);
	RUN(t_concurrent_insert_and_read);
	return hr_test_done();
}
