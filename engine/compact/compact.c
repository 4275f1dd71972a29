/* compact.c — compacting one store: merge the chosen files into one new
 * file and publish it like a flush (contract in hr_compact.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compact_int.h"
#include "engine/hr_metrics.h"
#include "engine/hr_publish.h"
#include "engine/hr_util.h"
#include "hr_log.h"

/* how often (cells) the merge loop looks for a reason to stop, and how
 * many bytes it writes between two calls to the pacer */
#define CHECK_EVERY 1024
#define PACE_BYTES (256u << 10)

typedef struct compaction {
	hr_store *st;
	hr_sfile **snap;	/* the store's files when it started, referenced */
	uint32_t nsnap;
	hr_sfile **in;		/* the inputs: a window of snap */
	uint32_t nin;
	int gc;			/* all files: drop what reads can no longer see */
	int major;		/* ... and the versions beyond max_versions */
	hr_sfile *out;		/* NULL when nothing survived */
	hr_compact_result res;
} compaction;

static int cancelled(hr_store *st)
{
	return atomic_load(&st->region->state) != HR_REGION_OPEN ||
	       hr_compact_stopping(st->region->srv);
}

static int write_output(compaction *c)
{
	hr_store *st = c->st;
	hr_server *srv = st->region->srv;
	hr_view v = {.nms = 0, .files = c->in, .nfiles = c->nin};
	hr_miter *m = NULL;
	hr_newfile nf = {0};
	hr_resolver res;
	uint64_t rows = 0, max_seq = 0, paced = 0;
	int rc;
	/* the settings now (an alter takes effect at the next compaction) */
	hr_family_schema *fc = malloc(sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	hr_store_conf(st, fc);
	int64_t oldest = fc->ttl_ms > 0 ? hr_now_ms() - fc->ttl_ms : INT64_MIN;

	/* every cell in a file is below every read point: see all of them */
	hr_resolver_init(&res, fc, UINT64_MAX);
	free(fc);
	/* Reads never show versions beyond max_versions (hregionfs.h,
	 * "Versions and time ranges"); a minor compaction keeps them anyway
	 * (HBase's minor compactions keep what major ones drop), a major one
	 * drops them. With keep_deleted_cells deleted puts and the markers
	 * that can still mask them are kept (res.compact). */
	if (!c->major)
		res.max_versions = UINT32_MAX;
	res.compact = 1;
	for (uint32_t i = 0; i < c->nin; i++) {
		const hr_sfile_info *fi = hr_sfile_get_info(c->in[i]);
		rows += fi->row_count;
		if (fi->max_seq > max_seq)
			max_seq = fi->max_seq;
		c->res.bytes_in += fi->file_size;
	}
	if ((rc = hr_miter_open(&v, &m)) < 0)
		goto fail;
	hr_kv first;
	hr_kv_first_on_column(&first, (const uint8_t *)"", 0, NULL, 0);
	if ((rc = hr_miter_seek(m, &first)) < 0)
		goto fail;
	if ((rc = hr_newfile_begin(st, rows, &nf)) < 0)
		goto fail;
	while (hr_miter_valid(m)) {
		const hr_kv *kv = hr_miter_kv(m);
		int keep = c->gc ? hr_resolve(&res, kv) == HR_RES_EMIT : kv->ts >= oldest;
		if (keep) {
			if ((rc = hr_newfile_add(&nf, kv)) < 0)
				goto fail;
			c->res.cells_out++;
		}
		if (++c->res.cells_in % CHECK_EVERY == 0 && cancelled(st)) {
			rc = -ECANCELED;
			goto fail;
		}
		uint64_t b = hr_newfile_bytes(&nf);
		if (b - paced >= PACE_BYTES) {
			if ((rc = hr_compact_pace(srv, b - paced)) < 0)
				goto fail;
			paced = b;
		}
		if ((rc = hr_miter_next(m)) < 0)
			goto fail;
	}
	hr_miter_free(m);
	m = NULL;
	hr_resolver_free(&res);
	/* no output when everything was garbage: the inputs just go */
	if ((rc = hr_newfile_finish(&nf, max_seq, &c->out)) < 0)
		return rc;
	if (c->out)
		c->res.bytes_out = hr_sfile_get_info(c->out)->file_size;
	return 0;
fail:
	hr_miter_free(m);
	hr_resolver_free(&res);
	hr_newfile_abort(&nf);
	if (rc != -ECANCELED)
		hr_log_error("compact", "%s: writing compaction output failed: %s", st->dir,
			     strerror(-rc));
	return rc;
}

/* Swaps the inputs for the output, in LMDB then in memory, under the
 * region's flush_mu so that no flush publishes a file list read before (or
 * after) ours. */
static int publish(compaction *c, char *table, size_t tlen)
{
	hr_store *st = c->st;
	hr_region *r = st->region;
	int rc;
	pthread_mutex_lock(&r->flush_mu);
	if (atomic_load(&r->state) != HR_REGION_OPEN) {
		rc = -ECANCELED; /* dropped or closed: its directory is going away */
		goto out;
	}
	/* the table outlives the region's OPEN state, which flush_mu pins */
	snprintf(table, tlen, "%s", r->table ? r->table->schema.name : "?");
	hr_store_edit se = {.st = st, .add = &c->out, .nadd = c->out ? 1 : 0,
			    .del = c->in, .ndel = c->nin};
	hr_edit e = {.stores = &se, .nstores = 1};
	if ((rc = hr_edit_apply(r->srv, &e)) == 0)
		c->out = NULL; /* the store's reference now */
	else if (rc == -ESTALE)
		rc = -ECANCELED; /* its table was dropped meanwhile */
out:
	pthread_mutex_unlock(&r->flush_mu);
	return rc;
}

static void release(compaction *c)
{
	hr_newfile_discard(c->out);
	for (uint32_t i = 0; i < c->nsnap; i++)
		hr_sfile_unref(c->snap[i]);
	free(c->snap);
}

/* Takes the store's files (newest first) and picks the inputs. */
static int choose(compaction *c, int mode)
{
	hr_store *st = c->st;
	hr_compact_params p;
	hr_compact_params_from_config(&st->region->srv->cfg, &p);
	pthread_mutex_lock(&st->mu);
	c->snap = malloc((st->nfiles ? st->nfiles : 1) * sizeof(*c->snap));
	if (!c->snap) {
		pthread_mutex_unlock(&st->mu);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < st->nfiles; i++) {
		c->snap[i] = st->files[i];
		hr_sfile_ref(st->files[i]);
	}
	c->nsnap = st->nfiles;
	pthread_mutex_unlock(&st->mu);
	uint32_t n = c->nsnap, s = 0, k = 0;
	if (n == 0)
		return 0;
	if (mode == HR_COMPACT_MAJOR) {
		k = n;
	} else {
		uint64_t sizes[n];
		for (uint32_t i = 0; i < n; i++)
			sizes[i] = hr_sfile_get_info(c->snap[n - 1 - i])->file_size;
		if (!hr_compact_select(sizes, n, &p, &s, &k))
			return 0;
	}
	/* oldest-first window [s, s+k) is newest-first [n-s-k, n-s) */
	c->in = c->snap + (n - s - k);
	c->nin = k;
	c->gc = k == n;
	c->major = mode == HR_COMPACT_MAJOR;
	return 1;
}

int hr_compact_store(hr_store *st, int mode, hr_compact_result *res)
{
	hr_region *r = st->region;
	hr_server *srv = r->srv;
	compaction c;
	char table[HR_MAX_NAME + 1] = "?";
	uint64_t t0 = hr_mono_ns();
	int rc;
	memset(&c, 0, sizeof(c));
	c.st = st;
	if (res)
		memset(res, 0, sizeof(*res));
	if (cancelled(st))
		return -ECANCELED;
	if (atomic_exchange(&st->compacting, 1))
		return -EBUSY;
	if ((rc = choose(&c, mode)) <= 0)
		goto out;
	c.res.files_in = c.nin;
	c.res.all_files = c.gc;
	if ((rc = write_output(&c)) < 0)
		goto out;
	if ((rc = publish(&c, table, sizeof(table))) < 0)
		goto out;
	rc = 1;
	uint64_t dt = hr_mono_ns() - t0;
	if (srv->mx.compaction)
		hr_series_observe_ns(srv->mx.compaction, dt);
	atomic_fetch_add(&srv->st.compactions, 1);
	atomic_fetch_add(&srv->st.compaction_bytes_in, c.res.bytes_in);
	atomic_fetch_add(&srv->st.compaction_bytes_out, c.res.bytes_out);
	hr_log_info("compact", "table '%s' region %" PRIu64 " family '%s': %s of %u of %u files, "
		    "%" PRIu64 " -> %" PRIu64 " bytes, %" PRIu64 " -> %" PRIu64 " cells, %.1f ms",
		    table, r->id, st->fam.name,
		    mode == HR_COMPACT_MAJOR ? "major" : c.gc ? "minor (all files)" : "minor",
		    c.nin, c.nsnap, c.res.bytes_in, c.res.bytes_out, c.res.cells_in,
		    c.res.cells_out, (double)dt / 1e6);
	if (res)
		*res = c.res;
out:
	if (rc < 0 && rc != -ECANCELED)
		hr_log_error("compact", "region %" PRIu64 " family '%s': compaction failed: %s",
			     r->id, st->fam.name, strerror(-rc));
	release(&c);
	atomic_store(&st->compacting, 0);
	return rc;
}
