/* test_wal.c — WAL: roundtrip across rolls, torn and corrupt tails, group
 * commit, purge, SIGKILL of a writer, power loss through the sync hook,
 * write errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "engine/hr_format.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_config.h"
#include "hr_log.h"
#include "hr_test.h"
#include "hr_tio.h"
#include "engine/hr_io_fault.h"

/* ---- records: the payload is derived from the seq, so replay can verify it */

static size_t pay_len(uint64_t seq) { return 8 + (size_t)(seq * 7919 % 200); }

static void pay_make(uint64_t seq, uint8_t *buf)
{
	size_t n = pay_len(seq);
	memcpy(buf, &seq, 8);
	for (size_t i = 8; i < n; i++)
		buf[i] = (uint8_t)(seq * 31 + i);
}

static int pay_ok(uint64_t seq, const void *p, size_t len)
{
	uint8_t want[256];
	if (len != pay_len(seq))
		return 0;
	pay_make(seq, want);
	return memcmp(want, p, len) == 0;
}

/* What replay saw: seqs in order, their segments, bad payloads. */
typedef struct seen {
	uint64_t *seq, *seg;
	size_t n, cap;
	int bad;
} seen;

static int seen_fn(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq, const void *p,
		   size_t len)
{
	seen *s = ctx;
	if (!pay_ok(seq, p, len))
		s->bad++;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->seq = realloc(s->seq, s->cap * sizeof(uint64_t));
		s->seg = realloc(s->seg, s->cap * sizeof(uint64_t));
		if (!s->seq || !s->seg)
			abort();
	}
	s->seq[s->n] = seq;
	s->seg[s->n] = seg_id;
	s->n++;
	return 0;
}

static void seen_free(seen *s)
{
	free(s->seq);
	free(s->seg);
	memset(s, 0, sizeof(*s));
}

/* Replays dir in a recovery mode into s; *maxid (may be NULL) = the highest
 * segment id present; *res (may be NULL) gets the whole result. */
static int replay_dir(hr_io *io, const char *dir, int mode, seen *s, uint64_t *maxid,
		      hr_wal_replay_result *res)
{
	hr_wal_replay_opts o = {.io = io, .dir = dir, .mode = mode, .fn = seen_fn, .ctx = s};
	hr_wal_replay_result r;
	int rc = hr_wal_replay(&o, &r);
	if (maxid)
		*maxid = r.max_seg_id;
	if (res)
		*res = r;
	else
		hr_wal_replay_result_free(&r);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static hr_wal_opts opts(const char *dir, uint64_t segsz, int dur)
{
	hr_wal_opts o = {.dir = dir, .segment_size = segsz, .durability = dur,
			 .sync_interval_ms = 0, .first_segment_id = 1};
	return o;
}

static int append_seq(hr_wal *w, uint64_t seq, int sync, uint64_t *seg)
{
	uint8_t buf[256];
	pay_make(seq, buf);
	return hr_wal_append(w, buf, pay_len(seq), seq, sync, seg);
}

static off_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static int copy_prefix(const char *from, const char *to, off_t len)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = -1;
	if (in < 0 || out < 0)
		goto done;
	char buf[65536];
	off_t left = len;
	while (left > 0) {
		ssize_t n = read(in, buf, left < (off_t)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0 || write(out, buf, (size_t)n) != n)
			goto done;
		left -= n;
	}
	rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static tio g_tio; /* the test-local seam (hr_tio.h) */

/* ---- tests */

static void t_roundtrip_rolls(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 4096, HR_DURABILITY_OS);
	CHECK_RC(hr_wal_open(&o, &w), 0);
	enum { N = 5000 };
	uint64_t *segof = calloc(N + 1, sizeof(uint64_t));
	CHECK(segof);
	for (uint64_t s = 1; s <= N; s++)
		CHECK_RC(append_seq(w, s, 0, &segof[s]), 0);
	CHECK_RC(hr_wal_append(w, NULL, 0, N + 1, 0, NULL), 0); /* empty payload is legal */
	hr_wal_seg *segs;
	size_t nseg;
	CHECK_RC(hr_wal_segments(w, &segs, &nseg), 0);
	CHECK(nseg > 50); /* ~700 KB of records in 4 KiB segments */
	for (size_t i = 1; i < nseg; i++)
		CHECK(segs[i].id > segs[i - 1].id && segs[i].max_seq >= segs[i - 1].max_seq);
	free(segs);
	hr_wal_close(w);

	seen s = {0};
	uint64_t maxid;
	int empty = 0;
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, &maxid, NULL), 0);
	CHECK(s.n == N + 1);
	/* the empty record is "bad" for pay_ok; count it separately */
	CHECK(s.seq[N] == N + 1);
	empty = s.bad;
	CHECK(empty == 1);
	for (size_t i = 0; i < N; i++) {
		CHECK(s.seq[i] == i + 1);
		CHECK(s.seg[i] == segof[i + 1]);
	}
	CHECK(maxid >= s.seg[N]); /* a roll may leave an empty last segment */
	seen_free(&s);

	/* a second open never touches old segments and continues the ids */
	o.first_segment_id = maxid + 1;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	uint64_t seg;
	CHECK_RC(append_seq(w, N + 2, 1, &seg), 0);
	CHECK(seg == maxid + 1);
	hr_wal_close(w);
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, &maxid, NULL), 0);
	CHECK(s.n == N + 2 && s.seq[N + 1] == N + 2 && maxid == seg);
	seen_free(&s);
	free(segof);
	hr_test_rmrf(dir);
}

/* Truncating a segment at any byte keeps exactly the records before it. */
static void t_torn_tail(void)
{
	char dir[256], dir2[256], path[512], path2[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_test_tmpdir(dir2, sizeof(dir2), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
	CHECK_RC(hr_wal_open(&o, &w), 0);
	enum { N = 25 };
	off_t ends[N];
	off_t pos = HR_WAL_HDR_LEN;
	for (uint64_t s = 1; s <= N; s++) {
		CHECK_RC(append_seq(w, s, 0, NULL), 0);
		pos += HR_WAL_REC_HDR_LEN + (off_t)pay_len(s);
		ends[s - 1] = pos;
	}
	hr_wal_close(w);
	CHECK_RC(hr_wal_segment_path(dir, 1, path, sizeof(path)), 0);
	CHECK_RC(hr_wal_segment_path(dir2, 1, path2, sizeof(path2)), 0);
	CHECK(file_size(path) == pos);
	int lvl = hr_log_get_level();
	hr_log_set_level(HR_LOG_ERROR); /* thousands of expected warnings */
	for (off_t cut = 0; cut <= pos; cut++) {
		CHECK(copy_prefix(path, path2, cut) == 0);
		size_t want = 0;
		while (want < N && ends[want] <= cut)
			want++;
		seen s = {0};
		CHECK_RC(replay_dir(NULL, dir2, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
		if (s.n != want || s.bad)
			fprintf(stdout, "# cut %lld: got %zu want %zu\n", (long long)cut, s.n, want);
		CHECK(s.n == want && s.bad == 0);
		seen_free(&s);
	}
	/* zeros after the last record (a crash after a size update) */
	CHECK(copy_prefix(path, path2, pos) == 0);
	CHECK(truncate(path2, pos + 4096) == 0);
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir2, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.n == N);
	seen_free(&s);
	hr_log_set_level(lvl);
	hr_test_rmrf(dir);
	hr_test_rmrf(dir2);
}

static int flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	int rc = -1;
	if (fd >= 0 && pread(fd, &b, 1, off) == 1) {
		b ^= 0x40;
		if (pwrite(fd, &b, 1, off) == 1)
			rc = 0;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Corruption in a rolled segment (not the newest one's torn tail), in each
 * recovery mode: tolerate_tail refuses and names the place, point_in_time
 * keeps exactly the prefix before it, skip_corrupt loses exactly the
 * damaged record (or segment, for a bad header) and counts it. */
static void t_corrupt_record(void)
{
	char dir[256], path[512];
	enum { PER = 10, K = 4 };
	/* where: 0 = payload byte, 1 = seq byte, 2 = length byte, 3 = CRC byte,
	 * 4 = segment header */
	for (int where = 0; where < 5; where++) {
		hr_test_tmpdir(dir, sizeof(dir), "wal");
		hr_wal *w;
		hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
		CHECK_RC(hr_wal_open(&o, &w), 0);
		off_t off_k = 0, pos = HR_WAL_HDR_LEN;
		for (uint64_t s = 1; s <= 3 * PER; s++) {
			if (s == K + 1)
				off_k = pos; /* record index K of segment 1 */
			if (s <= PER)
				pos += HR_WAL_REC_HDR_LEN + (off_t)pay_len(s);
			CHECK_RC(append_seq(w, s, 0, NULL), 0);
			if (s % PER == 0)
				CHECK_RC(hr_wal_roll(w), 0);
		}
		hr_wal_close(w);
		CHECK_RC(hr_wal_segment_path(dir, 1, path, sizeof(path)), 0);
		off_t at = where == 0 ? off_k + HR_WAL_REC_HDR_LEN + 3
			   : where == 1 ? off_k + 5
			   : where == 2 ? off_k + 3 /* high byte: length way out of range */
			   : where == 3 ? off_k + 13
					: 17;
		CHECK(flip_byte(path, at) == 0);
		uint64_t bad_off = where == 4 ? 0 : (uint64_t)off_k;
		int lvl = hr_log_get_level();
		hr_log_set_level(-1);
		seen s = {0};
		uint64_t maxid;
		hr_wal_replay_result res;

		/* tolerate_tail: refused, with the place */
		int rc = replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, &maxid, &res);
		CHECK_RC(rc, -EUCLEAN);
		CHECK(res.refused_segment == 1 && res.refused_offset == bad_off);
		hr_wal_replay_result_free(&res);
		seen_free(&s);

		/* point_in_time: exactly the records before the damage */
		rc = replay_dir(NULL, dir, HR_WAL_POINT_IN_TIME, &s, &maxid, &res);
		CHECK_RC(rc, 0);
		size_t first = where == 4 ? 0 : K;
		CHECK(s.bad == 0 && s.n == first);
		for (size_t i = 0; i < s.n; i++)
			CHECK(s.seq[i] == i + 1 && s.seg[i] == 1);
		CHECK(res.nsegs == 4 && maxid == 4);
		CHECK(res.segs[0].state == HR_WAL_SEG_CORRUPT && res.segs[0].bad_offset == bad_off);
		CHECK(res.segs[0].valid_end == bad_off);
		for (size_t i = 1; i < 4; i++)
			CHECK(res.segs[i].state == HR_WAL_SEG_IGNORED && res.segs[i].records == 0);
		CHECK(res.corrupt_records == 1 && res.corrupt_segments == 1 && res.ignored_segments == 3);
		hr_wal_replay_result_free(&res);
		seen_free(&s);

		/* skip_corrupt: everything but the damaged record (or segment) */
		rc = replay_dir(NULL, dir, HR_WAL_SKIP_CORRUPT, &s, &maxid, &res);
		hr_log_set_level(lvl);
		CHECK_RC(rc, 0);
		CHECK(s.bad == 0);
		size_t lost = where == 4 ? PER : 1;
		CHECK_RC(s.n, 3 * PER - lost);
		for (size_t i = 0, want = 1; i < s.n; i++, want++) {
			if (want == (where == 4 ? 1 : K + 1))
				want += lost;
			CHECK_RC(s.seq[i], want);
		}
		CHECK(res.corrupt_records == 1 && res.corrupt_segments == 1);
		CHECK(res.segs[0].state == HR_WAL_SEG_CORRUPT && res.segs[0].bad_records == 1);
		CHECK(res.segs[1].state == HR_WAL_SEG_CLEAN);
		hr_wal_replay_result_free(&res);
		seen_free(&s);
		hr_test_rmrf(dir);
	}
}

/* The newest segment's tail is judged torn only when nothing good follows
 * the damage: a flipped byte in its middle is corruption, in every mode. */
static void t_newest_segment_damage(void)
{
	char dir[256], path[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
	CHECK_RC(hr_wal_open(&o, &w), 0);
	off_t off5 = 0, pos = HR_WAL_HDR_LEN;
	for (uint64_t s = 1; s <= 10; s++) {
		if (s == 6)
			off5 = pos;
		pos += HR_WAL_REC_HDR_LEN + (off_t)pay_len(s);
		CHECK_RC(append_seq(w, s, 0, NULL), 0);
	}
	hr_wal_close(w);
	CHECK_RC(hr_wal_segment_path(dir, 1, path, sizeof(path)), 0);
	CHECK(flip_byte(path, off5 + HR_WAL_REC_HDR_LEN + 1) == 0);
	int lvl = hr_log_get_level();
	hr_log_set_level(-1);
	seen s = {0};
	hr_wal_replay_result res;
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, &res), -EUCLEAN);
	CHECK(res.refused_offset == (uint64_t)off5);
	hr_wal_replay_result_free(&res);
	seen_free(&s);
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_SKIP_CORRUPT, &s, NULL, NULL), 0);
	CHECK(s.n == 9 && s.bad == 0);
	seen_free(&s);
	/* the same damage in the last record: a torn tail, trimmed in every mode */
	CHECK(flip_byte(path, off5 + HR_WAL_REC_HDR_LEN + 1) == 0);
	CHECK(flip_byte(path, pos - 2) == 0);
	for (int mode = 0; mode < 3; mode++) {
		CHECK_RC(replay_dir(NULL, dir, mode, &s, NULL, &res), 0);
		CHECK(s.n == 9 && s.bad == 0 && res.torn_tails == 1 && res.corrupt_records == 0);
		CHECK(res.segs[0].state == HR_WAL_SEG_TORN);
		CHECK(res.segs[0].valid_end == (uint64_t)(pos - HR_WAL_REC_HDR_LEN - pay_len(10)));
		hr_wal_replay_result_free(&res);
		seen_free(&s);
	}
	hr_log_set_level(lvl);
	/* a new WAL adopting it with that valid end: the next replay no longer
	 * sees a damaged record although the segment is not the newest now */
	uint64_t vend = (uint64_t)(pos - HR_WAL_REC_HDR_LEN - pay_len(10));
	hr_wal_seg old = {.id = 1, .max_seq = 9, .valid_end = vend};
	o.first_segment_id = 2;
	o.adopt = &old;
	o.nadopt = 1;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK_RC(append_seq(w, 11, 0, NULL), 0);
	hr_wal_close(w);
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, &res), 0);
	CHECK(s.n == 10 && s.seq[9] == 11 && res.torn_tails == 0 && res.corrupt_records == 0);
	CHECK(res.segs[0].state == HR_WAL_SEG_CLEAN && res.segs[0].valid_end == vend);
	hr_wal_replay_result_free(&res);
	seen_free(&s);
	hr_test_rmrf(dir);
}

/* ---- concurrent appenders */

typedef struct par {
	hr_wal *w;
	atomic_uint_fast64_t *next;
	int per_thread, sync;
	uint64_t *segof; /* indexed by seq */
	int err;
} par;

static void *par_main(void *arg)
{
	par *p = arg;
	for (int i = 0; i < p->per_thread; i++) {
		uint64_t seq = atomic_fetch_add(p->next, 1) + 1;
		uint64_t seg = 0;
		int rc = append_seq(p->w, seq, p->sync, &seg);
		if (rc) {
			p->err = rc;
			break;
		}
		if (p->segof)
			p->segof[seq] = seg;
	}
	return NULL;
}

static int run_par(hr_wal *w, int nthreads, int per, int sync, uint64_t *segof)
{
	pthread_t th[32];
	par ps[32];
	atomic_uint_fast64_t next = 0;
	for (int i = 0; i < nthreads; i++) {
		ps[i] = (par){.w = w, .next = &next, .per_thread = per, .sync = sync,
			      .segof = segof};
		pthread_create(&th[i], NULL, par_main, &ps[i]);
	}
	int err = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (ps[i].err)
			err = ps[i].err;
	}
	return err;
}

static void t_concurrent(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 64 << 10, HR_DURABILITY_OS);
	o.sync_interval_ms = 5; /* the sync thread runs against rolls too */
	CHECK_RC(hr_wal_open(&o, &w), 0);
	enum { T = 8, PER = 4000 };
	uint64_t *segof = calloc(T * PER + 1, sizeof(uint64_t));
	CHECK(segof);
	CHECK_RC(run_par(w, T, PER, 0, segof), 0);
	hr_wal_stats st;
	hr_wal_get_stats(w, &st);
	CHECK(st.appends == T * PER);
	CHECK(st.closed_segments > 10);
	hr_wal_close(w);
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.n == T * PER && s.bad == 0);
	for (size_t i = 0; i < s.n; i++)
		CHECK(s.seg[i] == segof[s.seq[i]]); /* seg_out names the right segment */
	qsort(s.seq, s.n, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < s.n; i++)
		CHECK(s.seq[i] == i + 1); /* each exactly once */
	seen_free(&s);
	free(segof);
	hr_test_rmrf(dir);
}

/* ---- group commit: the seam counts syncs and gives each a device's latency */

static tio g_tio;

static void t_group_commit(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	tio_init(&g_tio, dir);
	atomic_store(&g_tio.sync_delay_us, 300);
	hr_wal_opts o = opts(dir, 64 << 20, HR_DURABILITY_FSYNC);
	o.io = &g_tio.io;
	CHECK_RC(hr_wal_open(&o, &w), 0);

	/* one writer: one sync per append */
	atomic_store(&g_tio.syncs, 0);
	CHECK_RC(run_par(w, 1, 200, 0, NULL), 0);
	int single = atomic_load(&g_tio.syncs);
	CHECK(single == 200);

	enum { T = 16, PER = 200 };
	atomic_store(&g_tio.syncs, 0);
	uint64_t t0 = hr_mono_ns();
	int rc = run_par(w, T, PER, 0, NULL);
	uint64_t dt = hr_mono_ns() - t0;
	int syncs = atomic_load(&g_tio.syncs);
	atomic_store(&g_tio.sync_delay_us, 0);
	CHECK_RC(rc, 0);
	fprintf(stdout, "# group commit: %d appends by %d threads in %d fdatasyncs (%.1f ms)\n",
		T * PER, T, syncs, dt / 1e6);
	CHECK(syncs * 4 < T * PER);
	hr_wal_close(w);
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.n == 200 + T * PER && s.bad == 0);
	seen_free(&s);
	hr_test_rmrf(dir);
}

/* os mode: the background thread syncs within sync_interval_ms, and only
 * when something is unsynced; an explicit sync works and is counted. */
static void t_os_sync(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	tio_init(&g_tio, dir);
	hr_wal_opts o = opts(dir, 64 << 20, HR_DURABILITY_OS);
	o.sync_interval_ms = 20;
	o.io = &g_tio.io;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	atomic_store(&g_tio.syncs, 0);
	for (uint64_t s = 1; s <= 100; s++)
		CHECK_RC(append_seq(w, s, 0, NULL), 0);
	int after_wait = tio_wait_syncs(&g_tio, 1, 5000);
	/* Every append returned with its record written. The thread's second
	 * look counted from here began after that, so it left nothing
	 * unsynced; then 10 more looks, with nothing unsynced, must not sync
	 * (looks counted by the WAL, so an idle thread cannot pass for one
	 * that looked and left the file alone). */
	hr_wal_stats ws;
	hr_wal_get_stats(w, &ws);
	CHECK_RC(hr_wal_wait_bg_checks(w, ws.bg_checks + 2, 5000000000ull), 0);
	int settled = atomic_load(&g_tio.syncs);
	hr_wal_get_stats(w, &ws);
	CHECK_RC(hr_wal_wait_bg_checks(w, ws.bg_checks + 10, 5000000000ull), 0);
	int idle = atomic_load(&g_tio.syncs);
	CHECK(idle == settled);
	CHECK_RC(append_seq(w, 101, 1, NULL), 0);
	int explicit_sync = atomic_load(&g_tio.syncs);
	CHECK_RC(hr_wal_sync(w), 0); /* nothing unsynced: no-op */
	int noop = atomic_load(&g_tio.syncs);
	CHECK(after_wait >= 1);
	CHECK(explicit_sync == idle + 1);
	CHECK(noop == explicit_sync);
	hr_wal_close(w);
	hr_test_rmrf(dir);
}

/* ---- purge */

static uint64_t g_deleted[64];
static int g_ndeleted;

static int on_delete(void *ctx, uint64_t id)
{
	(void)ctx;
	g_deleted[g_ndeleted++] = id;
	return 0;
}

static uint64_t g_created[64];
static int g_ncreated;

static int on_new(void *ctx, uint64_t id)
{
	(void)ctx;
	g_created[g_ncreated++] = id;
	return 0;
}

static void t_purge(void)
{
	char dir[256], path[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 64 << 20, HR_DURABILITY_OS);
	o.first_segment_id = 10;
	o.on_new_segment = on_new;
	g_ncreated = 0;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK(g_ncreated == 1 && g_created[0] == 10);
	/* segments 10: seqs 1..10, 11: 11..20 (out of order), 12: 21..30 */
	for (uint64_t s = 1; s <= 30; s++) {
		uint64_t seq = (s > 10 && s <= 20) ? 31 - s : s;
		CHECK_RC(append_seq(w, seq, 0, NULL), 0);
		if (s % 10 == 0)
			CHECK_RC(hr_wal_roll(w), 0);
	}
	CHECK(g_ncreated == 4 && g_created[3] == 13);
	CHECK_RC(hr_wal_adopt(w, &(hr_wal_seg){.id = 3, .bytes = HR_WAL_HDR_LEN}), 0); /* a leftover of an earlier run */
	CHECK_RC(hr_wal_adopt(w, &(hr_wal_seg){.id = 3}), -EEXIST);
	CHECK_RC(hr_wal_adopt(w, &(hr_wal_seg){.id = 13}), -EEXIST); /* the current one */
	hr_wal_seg *segs;
	size_t n;
	CHECK_RC(hr_wal_segments(w, &segs, &n), 0);
	CHECK(n == 4 && segs[0].id == 3 && segs[1].id == 10 && segs[3].id == 12);
	CHECK(segs[1].max_seq == 10 && segs[2].max_seq == 20 && segs[3].max_seq == 30);
	free(segs);

	g_ndeleted = 0;
	CHECK_RC(hr_wal_purge(w, 20, on_delete, NULL), 2); /* 3 and 10; not 11 (max 20) */
	CHECK(g_ndeleted == 2 && g_deleted[0] == 3 && g_deleted[1] == 10);
	CHECK_RC(hr_wal_segment_path(dir, 10, path, sizeof(path)), 0);
	CHECK(access(path, F_OK) != 0);
	CHECK_RC(hr_wal_segment_path(dir, 11, path, sizeof(path)), 0);
	CHECK(access(path, F_OK) == 0);
	CHECK_RC(hr_wal_purge(w, 20, on_delete, NULL), 0);
	CHECK_RC(hr_wal_purge(w, 1000, on_delete, NULL), 2); /* never the current one */
	CHECK(g_deleted[2] == 11 && g_deleted[3] == 12);
	CHECK_RC(hr_wal_segments(w, &segs, &n), 0);
	CHECK(n == 0 && segs == NULL);
	uint64_t *ids;
	CHECK_RC(hr_wal_list_dir(NULL, dir, &ids, &n), 0);
	CHECK(n == 1 && ids[0] == 13);
	free(ids);
	hr_wal_close(w);
	hr_test_rmrf(dir);
}

/* ---- SIGKILL of a writer: every acknowledged record survives (os mode) */

typedef struct crash_ctx {
	hr_wal *w;
	int wfd;
	atomic_uint_fast64_t next;
} crash_ctx;

static void *crash_worker(void *arg)
{
	crash_ctx *c = arg;
	for (;;) {
		uint64_t seq = atomic_fetch_add(&c->next, 1) + 1;
		if (append_seq(c->w, seq, seq % 50 == 0, NULL) != 0)
			_exit(4);
		/* 8 bytes < PIPE_BUF: atomic even with four writers */
		if (write(c->wfd, &seq, 8) != 8)
			_exit(5);
	}
	return NULL;
}

static void crash_child(const char *dir, int wfd)
{
	static crash_ctx c;
	hr_wal_opts o = opts(dir, 16 << 10, HR_DURABILITY_OS);
	o.sync_interval_ms = 10;
	if (hr_wal_open(&o, &c.w))
		_exit(3);
	c.wfd = wfd;
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, crash_worker, &c);
	pthread_join(th[0], NULL);
	_exit(6);
}

static void t_sigkill(void)
{
	unsigned rnd = (unsigned)hr_mono_ns();
	for (int iter = 0; iter < 20; iter++) {
		char dir[256];
		hr_test_tmpdir(dir, sizeof(dir), "wal");
		int p[2];
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, p[1]);
		}
		close(p[1]);
		uint64_t *acked = NULL;
		size_t nacked = 0, cap = 0;
		uint64_t kill_at = hr_mono_ns() + (uint64_t)(2 + rand_r(&rnd) % 60) * 1000000ull;
		int killed = 0;
		for (;;) {
			uint64_t now = hr_mono_ns();
			if (!killed && now >= kill_at) {
				kill(pid, SIGKILL);
				killed = 1;
			}
			struct pollfd pf = {.fd = p[0], .events = POLLIN};
			int to = killed ? 1000 : (int)((kill_at - now) / 1000000ull) + 1;
			if (poll(&pf, 1, to) <= 0)
				continue;
			uint64_t buf[512];
			ssize_t n = read(p[0], buf, sizeof(buf));
			if (n <= 0)
				break; /* EOF: the child is gone */
			size_t k = (size_t)n / 8; /* writers' 8-byte units never split */
			if (nacked + k > cap) {
				cap = (nacked + k) * 2;
				acked = realloc(acked, cap * sizeof(uint64_t));
			}
			memcpy(acked + nacked, buf, k * 8);
			nacked += k;
		}
		close(p[0]);
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

		int lvl = hr_log_get_level();
		hr_log_set_level(HR_LOG_ERROR); /* a torn tail is expected */
		seen s = {0};
		int rc = replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL);
		hr_log_set_level(lvl);
		CHECK_RC(rc, 0);
		CHECK(s.bad == 0);
		if (s.n) /* killed before its first record is possible */
			qsort(s.seq, s.n, sizeof(uint64_t), cmp_u64);
		for (size_t i = 1; i < s.n; i++)
			CHECK(s.seq[i] != s.seq[i - 1]);
		size_t missing = 0;
		for (size_t i = 0; i < nacked; i++)
			if (!s.n || !bsearch(&acked[i], s.seq, s.n, sizeof(uint64_t), cmp_u64))
				missing++;
		if (iter == 0 || missing)
			fprintf(stdout, "# kill %d: %zu acknowledged, %zu replayed, %zu missing\n",
				iter, nacked, s.n, missing);
		CHECK(missing == 0);
		CHECK(s.n >= nacked);
		seen_free(&s);
		free(acked);
		hr_test_rmrf(dir);
	}
}

/* ---- power loss: drop everything written after each file's last sync */

typedef struct pl_worker {
	hr_wal *w;
	atomic_uint_fast64_t *next;
	uint64_t durable[2000];
	int ndurable, err, use_sync_call;
} pl_worker;

static void *pl_main(void *arg)
{
	pl_worker *p = arg;
	for (int i = 0; i < 1000; i++) {
		uint64_t seq = atomic_fetch_add(p->next, 1) + 1;
		int sync = seq % 25 == 0;
		/* half the workers ask through hr_wal_sync after a plain append */
		int rc = append_seq(p->w, seq, sync && !p->use_sync_call, NULL);
		if (!rc && sync && p->use_sync_call)
			rc = hr_wal_sync(p->w);
		if (rc) {
			p->err = rc;
			break;
		}
		if (sync)
			p->durable[p->ndurable++] = seq;
	}
	return NULL;
}

static void t_power_loss(void)
{
	char dir[256], path[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_io *fio;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &fio), 0);
	hr_wal *w;
	hr_wal_opts o = opts(dir, 32 << 10, HR_DURABILITY_OS); /* sync only on request */
	o.io = fio;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	enum { T = 4 };
	static pl_worker ws[T];
	pthread_t th[T];
	atomic_uint_fast64_t next = 0;
	for (int i = 0; i < T; i++) {
		memset(&ws[i], 0, sizeof(ws[i]));
		ws[i].w = w;
		ws[i].next = &next;
		ws[i].use_sync_call = i & 1;
		pthread_create(&th[i], NULL, pl_main, &ws[i]);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < T; i++)
		CHECK_RC(ws[i].err, 0);
	for (uint64_t seq = T * 1000 + 1; seq <= T * 1000 + 100; seq++)
		CHECK_RC(append_seq(w, seq, 0, NULL), 0); /* an unsynced tail */

	/* The power fails now: the disk freezes (the close below writes and
	 * syncs nothing more), then every segment loses what was not synced. */
	uint64_t *ids;
	size_t n;
	off_t before = 0, lost = 0;
	CHECK_RC(hr_wal_list_dir(NULL, dir, &ids, &n), 0);
	CHECK(n > 3);
	for (size_t i = 0; i < n; i++) {
		CHECK_RC(hr_wal_segment_path(dir, ids[i], path, sizeof(path)), 0);
		before += file_size(path);
	}
	hr_io_fault_crash_after(fio, 0);
	hr_wal_close(w);
	CHECK_RC(hr_io_fault_drop_unsynced(fio), 0);
	for (size_t i = 0; i < n; i++) {
		CHECK_RC(hr_wal_segment_path(dir, ids[i], path, sizeof(path)), 0);
		lost += file_size(path);
	}
	lost = before - lost;
	free(ids);
	hr_io_destroy(fio);
	int lvl = hr_log_get_level();
	hr_log_set_level(HR_LOG_ERROR);
	seen s = {0};
	int rc = replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL);
	hr_log_set_level(lvl);
	CHECK_RC(rc, 0);
	CHECK(s.bad == 0);
	qsort(s.seq, s.n, sizeof(uint64_t), cmp_u64);
	size_t ndur = 0, missing = 0;
	for (int i = 0; i < T; i++)
		for (int k = 0; k < ws[i].ndurable; k++, ndur++)
			if (!bsearch(&ws[i].durable[k], s.seq, s.n, sizeof(uint64_t), cmp_u64))
				missing++;
	fprintf(stdout, "# power loss: %zu durable acks, %zu replayed of %d, %lld bytes lost\n",
		ndur, s.n, T * 1000, (long long)lost);
	CHECK(missing == 0);
	CHECK(lost > 0);
	seen_free(&s);
	hr_test_rmrf(dir);
}

/* ---- a failed write fails its writer; the next append goes on in a new
 * segment; what was acknowledged survives, the failed record never appears */

static void t_write_error(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* the file size limit makes pwrite fail with EFBIG mid-segment */
		close(p[0]);
		hr_log_set_level(-1); /* the write error is expected */
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {.rlim_cur = 20000, .rlim_max = 20000};
		hr_wal *w;
		hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
		if (hr_wal_open(&o, &w) || setrlimit(RLIMIT_FSIZE, &rl))
			_exit(3);
		uint64_t seq = 0;
		int rc;
		while ((rc = append_seq(w, ++seq, 0, NULL)) == 0)
			if (write(p[1], &seq, 8) != 8)
				_exit(4);
		uint64_t failed = seq; /* reported with its top bit set */
		failed |= 1ull << 63;
		if (write(p[1], &failed, 8) != 8)
			_exit(4);
		uint64_t seg = 0;
		int rc2 = append_seq(w, ++seq, 0, &seg);
		if (rc2 == 0 && write(p[1], &seq, 8) != 8)
			_exit(4);
		/* the acknowledged records of the failed segment were never synced */
		int rc3 = hr_wal_sync(w);
		_exit(rc == -EFBIG && rc2 == 0 && seg == 2 && rc3 == -EFBIG ? 0 : 5);
	}
	close(p[1]);
	uint64_t acked[4096], failed = 0, v;
	size_t n = 0;
	while (read(p[0], &v, 8) == 8) {
		if (v >> 63)
			failed = v & ~(1ull << 63);
		else if (n < 4096)
			acked[n++] = v;
	}
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(n > 50 && failed > 50);
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.bad == 0);
	CHECK_RC(s.n, n); /* every acknowledged record, and nothing else */
	for (size_t i = 0; i < s.n; i++)
		CHECK(s.seq[i] == acked[i] && s.seq[i] != failed);
	seen_free(&s);
	hr_test_rmrf(dir);
}

/* The same through the fault-injecting seam: a failed write (ENOSPC) that
 * left half a record behind, a failed roll away from it, the recovery,
 * hr_wal_sync refusing until the failed segment is purged, and replay
 * ignoring whatever follows the failed segment's valid end (even a
 * well-formed record). */
static void t_write_error_recovers(void)
{
	char dir[256], path[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_io *fio;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &fio), 0);
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
	o.io = fio;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	uint64_t end1 = HR_WAL_HDR_LEN;
	for (uint64_t s = 1; s <= 10; s++) {
		CHECK_RC(append_seq(w, s, 0, NULL), 0);
		end1 += HR_WAL_REC_HDR_LEN + pay_len(s);
	}
	hr_log_set_level(-1);
	/* the batch is written half, then the disk is full */
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_WRITE, 1, 0, HR_IO_FAULT_SHORT, "/0000000000000001.wal"), 0);
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_WRITE, 2, -ENOSPC, HR_IO_FAULT_ONCE, "/0000000000000001.wal"), 0);
	CHECK_RC(append_seq(w, 11, 0, NULL), -ENOSPC);
	/* the roll cannot create a segment */
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_OPEN, 1, -ENOSPC, HR_IO_FAULT_ONCE, ".wal.tmp"), 0);
	CHECK_RC(append_seq(w, 12, 0, NULL), -ENOSPC);
	CHECK_RC(hr_io_fault_injected(fio), 3);
	hr_wal_stats st;
	hr_wal_get_stats(w, &st);
	CHECK(st.errors == 1 && st.failed_segments == 1 && st.recoveries == 0);
	CHECK_RC(st.current_segment, 1);
	uint64_t seg = 0;
	CHECK_RC(append_seq(w, 13, 0, &seg), 0); /* the next attempt rolls */
	hr_log_set_level(HR_LOG_WARN);
	CHECK_RC(seg, 2);
	hr_wal_get_stats(w, &st);
	CHECK(st.recoveries == 1 && st.failed_segments == 1 && st.appends == 11);
	hr_wal_seg *segs;
	size_t n;
	CHECK_RC(hr_wal_segments(w, &segs, &n), 0);
	CHECK(n == 1 && segs[0].id == 1 && segs[0].err == -ENOSPC);
	CHECK(segs[0].valid_end == end1 && segs[0].max_seq == 11);
	free(segs);
	CHECK_RC(hr_wal_sync(w), -ENOSPC); /* 1..10 are written, not durable */
	/* the half record was cut off; even a well-formed record written after
	 * the valid end is not replayed */
	CHECK_RC(hr_wal_segment_path(dir, 1, path, sizeof(path)), 0);
	CHECK(file_size(path) == (off_t)end1);
	uint8_t rec[HR_WAL_REC_HDR_LEN + 256];
	pay_make(99, rec + HR_WAL_REC_HDR_LEN);
	hr_put32(rec, (uint32_t)pay_len(99));
	hr_put64(rec + 4, 99);
	hr_put32(rec + 12, hr_crc32c(hr_crc32c(0, rec, 12), rec + HR_WAL_REC_HDR_LEN, pay_len(99)));
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, rec, HR_WAL_REC_HDR_LEN + pay_len(99)) > 0);
	close(fd);
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.bad == 0 && s.n == 11);
	for (size_t i = 0; i < 10; i++)
		CHECK(s.seq[i] == i + 1);
	CHECK(s.seq[10] == 13);
	seen_free(&s);
	/* once its edits are flushed (the caller's min unflushed seq passes its
	 * max_seq), the failed segment goes and sync succeeds again */
	CHECK_RC(hr_wal_purge(w, 12, NULL, NULL), 1);
	CHECK_RC(hr_wal_sync(w), 0);
	hr_wal_get_stats(w, &st);
	CHECK_RC(st.failed_segments, 0);

	/* fsync mode: a failed sync fails its writer; the next one goes on */
	hr_wal_close(w);
	o.durability = HR_DURABILITY_FSYNC;
	o.first_segment_id = 10;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK_RC(append_seq(w, 20, 0, NULL), 0);
	hr_log_set_level(-1);
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_SYNC, 1, -EIO, HR_IO_FAULT_ONCE, ".wal"), 0);
	CHECK_RC(append_seq(w, 21, 0, NULL), -EIO);
	CHECK_RC(append_seq(w, 22, 0, &seg), 0);
	CHECK_RC(seg, 11);
	CHECK_RC(hr_wal_purge(w, 22, NULL, NULL), 1);
	hr_log_set_level(HR_LOG_WARN);
	CHECK_RC(hr_wal_sync(w), 0);
	hr_wal_close(w);
	hr_io_destroy(fio);
	hr_test_rmrf(dir);
}

/* ---- the I/O seam: every file operation of the WAL goes through hr_io */

static void t_io_seam(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_io *fio;
	CHECK_RC(hr_io_fault_new(hr_io_posix(), &fio), 0);
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_FSYNC);
	o.io = fio;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	for (uint64_t s = 1; s <= 10; s++)
		CHECK_RC(append_seq(w, s, 0, NULL), 0);
	CHECK_RC(hr_wal_roll(w), 0);
	CHECK_RC(append_seq(w, 11, 0, NULL), 0);
	CHECK_RC(hr_wal_purge(w, 100, NULL, NULL), 1);
	hr_wal_close(w);
	/* creation (open, pwrite, sync, close, stat, rename, sync_dir, open
	 * again), appends, rolls, purge: all seen by the seam */
	CHECK(hr_io_fault_count(fio, HR_IO_OP_OPEN) >= 4);
	CHECK(hr_io_fault_count(fio, HR_IO_OP_WRITE) >= 13);
	CHECK(hr_io_fault_count(fio, HR_IO_OP_SYNC) >= 13);
	CHECK_RC(hr_io_fault_count(fio, HR_IO_OP_RENAME), 2);
	CHECK_RC(hr_io_fault_count(fio, HR_IO_OP_UNLINK), 1);
	CHECK(hr_io_fault_count(fio, HR_IO_OP_SYNC_DIR) >= 3);
	CHECK(hr_io_fault_count(fio, HR_IO_OP_LIST) >= 1);
	seen s = {0};
	uint64_t preads = hr_io_fault_count(fio, HR_IO_OP_READ);
	CHECK_RC(replay_dir(fio, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL), 0);
	CHECK(s.n == 1 && s.seq[0] == 11 && s.bad == 0);
	CHECK(hr_io_fault_count(fio, HR_IO_OP_READ) > preads);
	seen_free(&s);

	/* a failure anywhere in segment creation fails the open, cleanly */
	hr_io_op kinds[] = {HR_IO_OP_OPEN, HR_IO_OP_WRITE, HR_IO_OP_SYNC, HR_IO_OP_RENAME,
			    HR_IO_OP_SYNC_DIR};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		o.first_segment_id = 100 + k;
		CHECK_RC(hr_io_fault_add(fio, kinds[k], 1, -EIO, HR_IO_FAULT_ONCE, dir), 0);
		hr_log_set_level(-1);
		int rc = hr_wal_open(&o, &w);
		hr_log_set_level(HR_LOG_WARN);
		CHECK_RC(rc, -EIO);
		hr_io_fault_clear(fio);
		char path[512];
		CHECK_RC(hr_wal_segment_path(dir, 100 + k, path, sizeof(path)), 0);
		strcat(path, ".tmp");
		CHECK(access(path, F_OK) != 0); /* no temp file left behind */
		path[strlen(path) - 4] = 0;
		CHECK(access(path, F_OK) != 0); /* nor a segment: a retry can use the id */
	}
	CHECK_RC(hr_io_fault_injected(fio), 5);
	/* a listing error is returned by replay, not taken for an empty log */
	CHECK_RC(hr_io_fault_add(fio, HR_IO_OP_LIST, 1, -EIO, HR_IO_FAULT_ONCE, dir), 0);
	hr_log_set_level(-1);
	int rc = replay_dir(fio, dir, HR_WAL_TOLERATE_TAIL, &s, NULL, NULL);
	hr_log_set_level(HR_LOG_WARN);
	CHECK_RC(rc, -EIO);
	seen_free(&s);
	hr_io_destroy(fio);
	hr_test_rmrf(dir);
}

/* ---- one syncer per descriptor; a failed sync reaches every waiter */

typedef struct sw {
	hr_wal *w;
	uint64_t seq;
	int sync, rc;
} sw;

static void *sw_main(void *arg)
{
	sw *a = arg;
	a->rc = a->sync == 2 ? hr_wal_sync(a->w) : append_seq(a->w, a->seq, a->sync, NULL);
	return NULL;
}

/* Waits (at most 10 s) until n appends or syncs wait inside the WAL: a
 * bounded poll of an exact counter, because a signal for it would put a
 * broadcast on every append's path for the sake of a test. */
static int wait_waiting(hr_wal *w, uint64_t n)
{
	for (int i = 0; i < 10000; i++) {
		hr_wal_stats st;
		hr_wal_get_stats(w, &st);
		if (st.waiting >= n)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* bg: the failing sync is the background thread's (os mode), else a
 * leader's (fsync mode). Writers arrive while it is held inside the seam;
 * none of them may be told "durable". */
static void sync_error_case(int bg)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	tio *t = &g_tio;
	tio_init(t, dir);
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, bg ? HR_DURABILITY_OS : HR_DURABILITY_FSYNC);
	o.io = &t->io;
	o.sync_interval_ms = bg ? 1 : 0;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK_RC(append_seq(w, 1, 0, NULL), 0);
	tio_hold_next_sync(t, EIO);
	enum { N = 6 };
	sw a[N + 1];
	pthread_t th[N + 1];
	int first = 0;
	if (!bg) { /* the leader whose sync is held */
		a[0] = (sw){.w = w, .seq = 2, .sync = 1};
		pthread_create(&th[0], NULL, sw_main, &a[0]);
		first = 1;
	}
	CHECK(tio_wait_held(t, 10));
	for (int i = first; i <= N; i++) {
		/* synced appends, plain appends (fsync mode syncs them too) and
		 * an explicit sync */
		a[i] = (sw){.w = w, .seq = 3 + (uint64_t)i, .sync = i == N ? 2 : bg || i % 3 != 2};
		pthread_create(&th[i], NULL, sw_main, &a[i]);
	}
	int all_waiting = wait_waiting(w, N + 1);
	tio_release(t);
	for (int i = 0; i <= N; i++)
		pthread_join(th[i], NULL);
	CHECK(all_waiting);
	int durable = 0;
	for (int i = 0; i <= N; i++) {
		if (a[i].rc == 0)
			durable++;
		else
			CHECK_RC(a[i].rc, -EIO);
	}
	if (durable)
		fprintf(stdout, "# %s: %d waiters told durable after a failed fdatasync\n",
			bg ? "background sync" : "leader sync", durable);
	CHECK_RC(durable, 0);
	CHECK_RC(atomic_load(&t->max_in_sync), 1);
	/* the failed segment is left behind: the next append goes on */
	uint64_t seg = 0;
	CHECK_RC(append_seq(w, 100, 1, &seg), 0);
	CHECK_RC(seg, 2);
	hr_wal_stats st;
	hr_wal_get_stats(w, &st);
	CHECK(st.errors == 1 && st.recoveries == 1);
	hr_wal_close(w);
	tio_destroy(t);
	hr_test_rmrf(dir);
}

static void t_sync_error_bg(void)
{
	hr_log_set_level(-1);
	sync_error_case(1);
	hr_log_set_level(HR_LOG_WARN);
}

static void t_sync_error_leader(void)
{
	hr_log_set_level(-1);
	sync_error_case(0);
	hr_log_set_level(HR_LOG_WARN);
}

static void t_bad_args(void)
{
	char dir[256], path[512];
	hr_test_tmpdir(dir, sizeof(dir), "wal");
	hr_wal *w;
	hr_wal_opts o = opts(dir, 1 << 20, HR_DURABILITY_OS);
	CHECK_RC(hr_wal_open(NULL, &w), -EINVAL);
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK_RC(hr_wal_append(w, "x", (size_t)HR_WAL_MAX_PAYLOAD + 1, 1, 0, NULL), -EFBIG);
	hr_wal_close(w);
	/* a leftover temp segment is removed at open; replay ignores it */
	CHECK_RC(hr_wal_segment_path(dir, 5, path, sizeof(path)), 0);
	strcat(path, ".tmp");
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs("junk", f);
	fclose(f);
	uint64_t maxid;
	seen s = {0};
	CHECK_RC(replay_dir(NULL, dir, HR_WAL_TOLERATE_TAIL, &s, &maxid, NULL), 0);
	CHECK(s.n == 0 && maxid == 1);
	o.first_segment_id = 2;
	CHECK_RC(hr_wal_open(&o, &w), 0);
	CHECK(access(path, F_OK) != 0);
	hr_wal_close(w);
	/* an existing segment is never overwritten */
	o.first_segment_id = 2;
	hr_log_set_level(-1);
	int rc = hr_wal_open(&o, &w);
	hr_log_set_level(HR_LOG_WARN);
	CHECK_RC(rc, -EEXIST);
	/* a missing directory replays nothing */
	CHECK_RC(replay_dir(NULL, "/nonexistent/hr-wal", HR_WAL_TOLERATE_TAIL, &s, &maxid, NULL), 0);
	CHECK(maxid == 0 && s.n == 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	alarm(600); /* a lost wake-up must fail the run, not hang it */
	hr_log_set_level(HR_LOG_WARN);
	RUN(t_roundtrip_rolls);
	RUN(t_torn_tail);
	RUN(t_corrupt_record);
	RUN(t_newest_segment_damage);
	RUN(t_concurrent);
	RUN(t_group_commit);
	RUN(t_os_sync);
	RUN(t_purge);
	RUN(t_sigkill);
	RUN(t_power_loss);
	RUN(t_write_error);
	RUN(t_write_error_recovers);
	RUN(t_bad_args);
	RUN(t_io_seam);
	RUN(t_sync_error_bg);
	RUN(t_sync_error_leader);
	return hr_test_done();
}
