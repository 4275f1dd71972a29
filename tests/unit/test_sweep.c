/* test_sweep.c — the crash-point sweep (issue 8): a workload with flushes, a
 * compaction, a split, a family add, snapshots taken and deleted and a clone runs on
 * the fault-injecting I/O seam. A dry run counts its durable points (sync,
 * sync_dir, rename, link, unlink, mkdir, rmdir, LMDB commit); then, for each point in turn, the
 * workload runs again with the disk frozen at that point, the power loss is
 * simulated (everything not synced is dropped), a fresh server opens the
 * directory, and:
 *   (a) every edit acknowledged as durable is there: put with HR_MUT_SYNC,
 *       or acknowledged before an hr_sync that returned 0;
 *   (b) nothing is half-visible: each row mutation (2 or 3 cells in as many
 *       families) is all there, with its values, or not at all;
 *   (c) LMDB references exactly the store files on disk (hr_verify), no
 *       region is offline, and recovery found nothing it did not
 *       understand (lost/ stays empty).
 * The point after the last one is swept too: a power loss right after a
 * clean close.
 *
 * CI size by default (every point of a small workload); HR_SWEEP_FULL=1
 * runs a larger workload (more rows, flushes, a second split and
 * compaction), crashes each recovery once more early on before the one that
 * is checked, and sweeps a second variant (durability fsync, small WAL
 * segments: rolls and purges). HR_SWEEP_DIR sets where the data goes
 * (default: /dev/shm when there is one). */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "engine/hr_verify.h"
#include "hr_etest.h"

static char g_dir[PATH_MAX];
static int g_full;
/* 0: durability os, one WAL segment; 1 (full sweep only): durability fsync
 * and small segments, so WAL rolls and purges commit to LMDB too */
static int g_variant;

/* per mutation id: what the workload knows of it */
enum { ID_NONE = 0, ID_TRIED, ID_ACKED, ID_DURABLE };

typedef struct run {
	hr_io *io;
	hr_server *s;
	uint8_t *state;		/* per id */
	uint8_t *cells;		/* per id: families written (2 or 3) */
	uint64_t nids;
	uint64_t acked_since_sync_from; /* first id acked (os) since the last hr_sync */
	int family_c;		/* the family add returned 0 */
} run;

static void row_of(uint64_t id, char *row) { snprintf(row, 24, "k%06" PRIu64, id); }

static size_t val_of(uint64_t id, char fam, char *v)
{
	size_t n = (size_t)snprintf(v, 64, "%c%" PRIu64 ":", fam, id);
	size_t len = fam == 'a' ? 40 + (size_t)(id * 13 % 160) : n + 4;
	for (size_t i = n; i < len; i++)
		v[i] = (char)('a' + (id + i) % 26);
	return len;
}

static void config(hr_config *c, const char *dir)
{
	et_config(c, dir);
	/* nothing in the background: every durable point comes from the
	 * workload, in the same order each run */
	c->flush_size = 256ull << 20;
	c->global_limit = 1ull << 30;
	c->global_limit_low = 768ull << 20;
	c->compact_min_files = 50;
	c->compact_max_files = 50;
	c->blocking_store_files = 100;
	c->major_interval_ms = 0;
	c->sync_interval_ms = 0;
	c->segment_size = g_variant ? 64 * 1024 : 64ull << 20;
	c->durability = g_variant ? HR_DURABILITY_FSYNC : HR_DURABILITY_OS;
}

/* Writes mutations [from, to): every 7th with HR_MUT_SYNC. */
static void batch(run *w, uint64_t from, uint64_t to, int with_c)
{
	for (uint64_t id = from; id < to; id++) {
		char row[24], va[256], vb[64], vc[64];
		row_of(id, row);
		size_t la = val_of(id, 'a', va), lb = val_of(id, 'b', vb), lc = val_of(id, 'c', vc);
		hr_mcell c[3] = {{"a", "v", 1, HR_TS_NOW, HR_PUT, va, la},
				 {"b", "w", 1, HR_TS_NOW, HR_PUT, vb, lb},
				 {"c", "x", 1, HR_TS_NOW, HR_PUT, vc, lc}};
		int sync = id % 7 == 3 || g_variant == 1;
		w->cells[id] = with_c ? 3 : 2;
		w->state[id] = ID_TRIED;
		int rc = hr_mutate(w->s, "t", row, strlen(row), c, with_c ? 3 : 2,
				   sync ? HR_MUT_SYNC : 0);
		if (rc == 0)
			w->state[id] = sync ? ID_DURABLE : ID_ACKED;
	}
}

/* hr_sync: what was acknowledged before it is durable once it returns 0. */
static void sync_all(run *w, uint64_t upto)
{
	if (hr_sync(w->s) != 0)
		return;
	for (uint64_t id = 0; id < upto; id++)
		if (w->state[id] == ID_ACKED)
			w->state[id] = ID_DURABLE;
}

#define STOP_IF_CRASHED(w)                           \
	do {                                         \
		if (hr_io_fault_crashed((w)->io))    \
			return;                      \
	} while (0)

/* The workload; returns early once the disk froze. */
static void workload(run *w)
{
	hr_family_schema f;
	uint64_t per = g_full ? 150 : 40, id = 0;
	int flushes = g_full ? 5 : 3;
	STOP_IF_CRASHED(w);
	if (et_table(w->s, "t", "a", "b", NULL) != 0)
		return;
	for (int k = 0; k < flushes; k++) {
		STOP_IF_CRASHED(w);
		batch(w, id, id + per, 0);
		id += per;
		if (k == 1)
			sync_all(w, id);
		STOP_IF_CRASHED(w);
		hr_flush(w->s, "t");
	}
	/* a snapshot whose files the compaction then retires (archived) */
	STOP_IF_CRASHED(w);
	hr_snapshot_create(w->s, "t", "s1");
	STOP_IF_CRASHED(w);
	hr_compact(w->s, "t", 1);
	STOP_IF_CRASHED(w);
	batch(w, id, id + per / 2, 0); /* in memory when the split comes */
	id += per / 2;
	STOP_IF_CRASHED(w);
	char mid[24];
	row_of(id / 2, mid);
	hr_split(w->s, "t", mid, strlen(mid));
	/* a snapshot of both daughters, and the first one deleted */
	STOP_IF_CRASHED(w);
	hr_snapshot_create(w->s, "t", "s2");
	/* a clone of it (links into new regions), written to and kept */
	STOP_IF_CRASHED(w);
	if (hr_snapshot_clone(w->s, "t", "s2", "c") == 0)
		et_put(w->s, "c", "x", 1, "a", "q", HR_TS_NOW, "clone's own");
	STOP_IF_CRASHED(w);
	hr_snapshot_delete(w->s, "t", "s1");
	/* a table made, flushed and dropped */
	STOP_IF_CRASHED(w);
	if (et_table(w->s, "u", "a", NULL) == 0) {
		et_put(w->s, "u", "x", 1, "a", "q", HR_TS_NOW, "gone soon");
		hr_flush(w->s, "u");
		STOP_IF_CRASHED(w);
		hr_table_drop(w->s, "u");
	}
	STOP_IF_CRASHED(w);
	hr_family_defaults(&f, "c");
	w->family_c = hr_family_add(w->s, "t", &f) == 0;
	STOP_IF_CRASHED(w);
	batch(w, id, id + per, w->family_c);
	id += per;
	sync_all(w, id);
	STOP_IF_CRASHED(w);
	hr_flush(w->s, "t");
	if (g_full) {
		STOP_IF_CRASHED(w);
		row_of(id / 4, mid);
		hr_split(w->s, "t", mid, strlen(mid));
		STOP_IF_CRASHED(w);
		batch(w, id, id + per, w->family_c);
		id += per;
		hr_flush(w->s, "t");
		STOP_IF_CRASHED(w);
		hr_compact(w->s, "t", 1);
	}
	STOP_IF_CRASHED(w);
	batch(w, id, id + per / 2, w->family_c); /* left in the WAL */
	id += per / 2;
	sync_all(w, id);
}

static uint64_t workload_ids(void) { return g_full ? 150 * 5 + 75 + 150 * 2 + 75 : 40 * 3 + 20 + 40 + 20; }

/* Checks one id after recovery: 0 ok, else a description in why. */
static int check_id(hr_server *s, const run *w, uint64_t id, char *why, size_t wl)
{
	char row[24];
	row_of(id, row);
	const char *fams[3] = {"a", "b", "c"};
	const char *quals[3] = {"v", "w", "x"};
	int present = 0, right = 0, n = w->cells[id] ? w->cells[id] : 2;
	for (int i = 0; i < n; i++) {
		char v[256];
		size_t l = val_of(id, fams[i][0], v);
		hr_value got;
		int rc = hr_get(s, "t", row, strlen(row), fams[i], quals[i], 1, HR_GET_VALUE, &got);
		if (rc == 0) {
			present++;
			right += got.len == l && memcmp(got.data, v, l) == 0;
			free(got.data);
		} else if (rc != -ENOENT) {
			snprintf(why, wl, "id %" PRIu64 ": get %s = %d", id, fams[i], rc);
			return 1;
		}
	}
	if (w->state[id] == ID_NONE && present) {
		snprintf(why, wl, "id %" PRIu64 ": never written but present", id);
		return 1;
	}
	if (present && (present != n || right != n)) {
		snprintf(why, wl, "id %" PRIu64 ": %d of %d cells present, %d right (half-visible)",
			 id, present, n, right);
		return 1;
	}
	if (w->state[id] == ID_DURABLE && !present) {
		snprintf(why, wl, "id %" PRIu64 ": acknowledged durable, lost", id);
		return 1;
	}
	return 0;
}

static int lost_entries(const char *dir)
{
	char p[PATH_MAX + 8];
	snprintf(p, sizeof(p), "%s/lost", dir);
	DIR *d = opendir(p);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

typedef struct outcome {
	uint64_t durable_points;	/* passed before the crash (or in all) */
	int crashed;
	int failures;			/* checks that failed */
	uint64_t durable_ids, present_ids;
} outcome;

/* One run with the disk frozen after `crash_at` durable points
 * (UINT64_MAX: never). */
static int sweep_one(uint64_t crash_at, int point, outcome *o)
{
	char dir[PATH_MAX], why[256] = "";
	hr_config c;
	run w;
	memset(&w, 0, sizeof(w));
	memset(o, 0, sizeof(*o));
	snprintf(dir, sizeof(dir), "%s/p%d", g_dir, point);
	w.nids = workload_ids();
	w.state = calloc(w.nids, 1);
	w.cells = calloc(w.nids, 1);
	if (!w.state || !w.cells || hr_io_fault_new(hr_io_posix(), &w.io) < 0)
		abort();
	if (crash_at != UINT64_MAX)
		hr_io_fault_crash_after(w.io, crash_at);
	config(&c, dir);
	hr_log_set_level(-1); /* the frozen disk makes everything fail, loudly */
	if (hr_server_open_io(&c, w.io, &w.s) == 0) {
		workload(&w);
		hr_server_close(w.s);
	}
	o->crashed = hr_io_fault_crashed(w.io);
	o->durable_points = hr_io_fault_durable(w.io);
	/* the power goes */
	int drop_rc = hr_io_fault_drop_unsynced(w.io);
	hr_io_destroy(w.io);
	hr_log_set_level(HR_LOG_ERROR);
	if (drop_rc < 0) {
		snprintf(why, sizeof(why), "drop_unsynced = %d", drop_rc);
		o->failures++;
		goto out;
	}
	/* before recovery: LMDB may leave files unreferenced, never miss one */
	hr_meta *m;
	char meta[PATH_MAX + 8];
	snprintf(meta, sizeof(meta), "%s/meta", dir);
	struct stat st;
	if (stat(meta, &st) == 0 && hr_meta_open(meta, hr_io_posix(), &m) == 0) {
		hr_verify_report r;
		int vrc = hr_verify_store_files(m, hr_io_posix(), dir, 3, &r);
		hr_meta_close(m);
		if (vrc < 0 || r.missing) {
			snprintf(why, sizeof(why), "before recovery: verify %d, %" PRIu64
				 " referenced files missing", vrc, r.missing);
			o->failures++;
			goto out;
		}
	}
	if (g_full && crash_at != UINT64_MAX) {
		/* the full sweep also crashes the recovery itself, early in it,
		 * before the recovery that is checked */
		hr_io *io2;
		hr_server *s2;
		if (hr_io_fault_new(hr_io_posix(), &io2) < 0)
			abort();
		hr_io_fault_crash_after(io2, crash_at % 7);
		hr_log_set_level(-1);
		if (hr_server_open_io(&c, io2, &s2) == 0)
			hr_server_close(s2);
		hr_log_set_level(HR_LOG_ERROR);
		drop_rc = hr_io_fault_drop_unsynced(io2);
		hr_io_destroy(io2);
		if (drop_rc < 0) {
			snprintf(why, sizeof(why), "drop_unsynced after recovery = %d", drop_rc);
			o->failures++;
			goto out;
		}
	}
	hr_server *s;
	int rc = hr_server_open_io(&c, hr_io_posix(), &s);
	if (rc < 0) {
		snprintf(why, sizeof(why), "reopen = %d", rc);
		o->failures++;
		goto out;
	}
	hr_table_schema sc;
	if (hr_table_schema_get(s, "t", &sc) == 0) {
		hr_region_info *ri;
		size_t n;
		if (hr_region_list(s, "t", &ri, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				if (ri[i].state != HR_REGION_OPEN && !why[0]) {
					snprintf(why, sizeof(why), "region %" PRIu64 " state %d", ri[i].id,
						 ri[i].state);
					o->failures++;
				}
			hr_region_list_free(ri, n);
		}
		for (uint64_t id = 0; id < w.nids; id++) {
			char idwhy[160];
			if (check_id(s, &w, id, idwhy, sizeof(idwhy))) {
				if (!why[0])
					snprintf(why, sizeof(why), "%s", idwhy);
				o->failures++;
			}
			o->durable_ids += w.state[id] == ID_DURABLE;
		}
	} else {
		/* no table: only right if nothing was acknowledged durable */
		for (uint64_t id = 0; id < w.nids; id++)
			if (w.state[id] == ID_DURABLE) {
				snprintf(why, sizeof(why), "table lost with durable id %" PRIu64, id);
				o->failures++;
				break;
			}
	}
	/* the clone, when it exists, is whole: every row of its snapshot reads */
	if (hr_table_schema_get(s, "c", &sc) == 0) {
		hr_scan_opts so = {.mode = HR_SCAN_ROWS};
		hr_scan *sc2;
		hr_scan_entry e;
		uint64_t rows = 0;
		int src = hr_scan_open(s, "c", &so, &sc2);
		if (src == 0) {
			while ((src = hr_scan_next(sc2, &e)) == 1)
				rows++;
			hr_scan_close(sc2);
		}
		if (src < 0 || rows < 40) {
			snprintf(why, sizeof(why), "clone: scan %d after %" PRIu64 " rows", src, rows);
			o->failures++;
		}
	}
	hr_verify_report r;
	rc = hr_verify_store_files(s->meta, s->io, dir, 3, &r);
	if (rc < 0 || !hr_verify_clean(&r)) {
		snprintf(why, sizeof(why), "after recovery: verify %d: %" PRIu64 " missing, %" PRIu64
			 " unreferenced, %" PRIu64 " temp, %" PRIu64 " unknown", rc, r.missing,
			 r.unreferenced, r.temp, r.unknown);
		o->failures++;
	}
	hr_server_close(s);
	if (lost_entries(dir)) {
		snprintf(why, sizeof(why), "recovery moved %d entries aside", lost_entries(dir));
		o->failures++;
	}
out:
	if (o->failures)
		fprintf(stdout, "# crash point %d (after %" PRIu64 " durable points%s): %d failures, "
			"first: %s (data kept in %s)\n", point, o->durable_points,
			o->crashed ? "" : ", no crash", o->failures, why, dir);
	else
		hr_test_rmrf(dir);
	free(w.state);
	free(w.cells);
	return o->failures;
}

static void sweep(const char *name)
{
	outcome dry;
	uint64_t t0 = hr_mono_ns();
	int dry_failed = sweep_one(UINT64_MAX, 0, &dry) != 0;
	uint64_t points = dry.durable_points;
	fprintf(stdout, "# %s: dry run: %" PRIu64 " durable points, %" PRIu64 " ids acknowledged "
		"durable\n", name, points, dry.durable_ids);
	CHECK(points > 50);
	/* the dry run was the last point: a power loss after a clean close */
	int failed_points = dry_failed, tried = 1, crashed = 0;
	for (uint64_t k = 0; k < points; k++) {
		outcome o;
		tried++;
		failed_points += sweep_one(k, (int)k + 1, &o) != 0;
		crashed += o.crashed;
	}
	fprintf(stdout, "# %s: crash points tried: %d (%d crashed, the last is a power loss after "
		"a clean close), %d failed, %.1f s\n", name, tried, crashed, failed_points,
		(double)(hr_mono_ns() - t0) / 1e9);
	CHECK_RC(failed_points, 0);
	CHECK_RC(crashed, points); /* the workload is deterministic */
}

static void t_sweep(void)
{
	g_variant = 0;
	sweep("os durability");
}

static void t_sweep_fsync_rolls(void)
{
	g_variant = 1;
	sweep("fsync durability, small WAL segments");
}

int main(void)
{
	const char *full = getenv("HR_SWEEP_FULL");
	g_full = full && *full && *full != '0';
	et_watchdog(g_full ? 3600 : 280);
	/* The power loss is simulated, so real syncs buy nothing here: on tmpfs
	 * (when there is one) they cost nothing either. HR_SWEEP_DIR overrides. */
	const char *base = getenv("HR_SWEEP_DIR");
	struct stat st;
	if (!base && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	if (base) {
		snprintf(g_dir, sizeof(g_dir), "%s/hrtest-sweep-XXXXXX", base);
		if (!mkdtemp(g_dir)) {
			perror("mkdtemp");
			return 2;
		}
	} else {
		hr_test_tmpdir(g_dir, sizeof(g_dir), "sweep");
	}
	RUN(t_sweep);
	if (g_full)
		RUN(t_sweep_fsync_rolls);
	if (!hr_t_failed)
		hr_test_rmrf(g_dir);
	return hr_test_done();
}
