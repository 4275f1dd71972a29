/* split.c — region splits (HBase's SplitTransaction, by rewriting).
 *
 * Daughters get their own files, written from the parent's, rather than
 * reference files: a split costs one rewrite of the region, and in exchange
 * no reader ever has to understand half-files and nothing is left to clean
 * up after the daughters' first compaction.
 *
 * 1. flush the parent, then, holding its flush_mu (no other flush), write
 *    each store's files into one file per daughter, split at the row key;
 *    writers and readers go on meanwhile;
 * 2. take the parent's updates lock (writers wait: the brief pause), write
 *    what its memstores received since into one more file per daughter, and
 *    with ONE edit (hr_edit_apply: one LMDB transaction) delete the parent,
 *    create both daughters with their files and the flushed seq id that
 *    covers every edit, and swap them into the table's region map;
 * 3. close the parent: writers that waited see it closed and retry
 *    (-ESTALE) into a daughter.
 * A crash before the commit leaves the parent as it was (the daughters'
 * files are unreferenced leftovers, removed at open); after it, both
 * daughters (the parent's files are the leftovers). Every edit in the WAL
 * for the parent has a seq at or below the daughters' flushed seq, so its
 * records are covered either way. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/hr_publish.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

typedef struct daughter {
	hr_region *r;
	uint64_t id;
	/* per store: the file written from the parent's files [0] and from its
	 * memstores [1] (NULL: no cell of this daughter's half) */
	hr_sfile *f[HR_MAX_FAMILIES][2];
} daughter;

/* Writes the cells of a view into the two daughters' files of store s. */
static int split_view(const hr_view *v, const uint8_t *key, size_t klen, daughter *d, unsigned s,
		      int slot, uint64_t max_seq)
{
	hr_miter *m = NULL;
	hr_newfile nf[2];
	memset(nf, 0, sizeof(nf));
	int rc = hr_miter_open(v, &m);
	for (int k = 0; k < 2 && rc == 0; k++)
		rc = hr_newfile_begin(d[k].r->stores[s], 0, &nf[k]);
	hr_kv first;
	hr_kv_first_on_column(&first, (const uint8_t *)"", 0, NULL, 0);
	if (rc == 0)
		rc = hr_miter_seek(m, &first);
	while (rc == 0 && hr_miter_valid(m)) {
		const hr_kv *kv = hr_miter_kv(m);
		int k = hr_bytes_cmp(kv->row, kv->row_len, key, klen) < 0 ? 0 : 1;
		if ((rc = hr_newfile_add(&nf[k], kv)) < 0)
			break;
		rc = hr_miter_next(m);
	}
	hr_miter_free(m);
	for (int k = 0; k < 2 && rc == 0; k++)
		rc = hr_newfile_finish(&nf[k], max_seq, &d[k].f[s][slot]);
	for (int k = 0; k < 2; k++)
		hr_newfile_abort(&nf[k]);
	return rc;
}

static int split_store_files(hr_region *p, unsigned s, const uint8_t *key, size_t klen,
			     daughter *d)
{
	hr_view v;
	int rc = hr_store_view(p->stores[s], &v);
	if (rc < 0)
		return rc;
	/* files only: the memstores are split in phase 2 */
	for (int i = 0; i < v.nms; i++)
		hr_memstore_unref(v.ms[i]);
	v.nms = 0;
	uint64_t max_seq = 0;
	for (uint32_t i = 0; i < v.nfiles; i++)
		if (hr_sfile_get_info(v.files[i])->max_seq > max_seq)
			max_seq = hr_sfile_get_info(v.files[i])->max_seq;
	rc = split_view(&v, key, klen, d, s, 0, max_seq);
	hr_view_release(&v);
	return rc;
}

static int split_store_memory(hr_region *p, unsigned s, const uint8_t *key, size_t klen,
			      daughter *d)
{
	hr_store *st = p->stores[s];
	hr_view v;
	memset(&v, 0, sizeof(v));
	pthread_mutex_lock(&st->mu);
	v.ms[v.nms++] = st->active;
	hr_memstore_ref(st->active);
	if (st->snapshot) {
		v.ms[v.nms++] = st->snapshot;
		hr_memstore_ref(st->snapshot);
	}
	pthread_mutex_unlock(&st->mu);
	uint64_t max_seq = 0;
	for (int i = 0; i < v.nms; i++)
		if (hr_memstore_max_seq(v.ms[i]) > max_seq)
			max_seq = hr_memstore_max_seq(v.ms[i]);
	int rc = split_view(&v, key, klen, d, s, 1, max_seq);
	hr_view_release(&v);
	return rc;
}

/* ONE edit: the parent's records go, the daughters' come with their files
 * and the flushed seq id that covers every edit, and the daughters replace
 * the parent in the map (map_lock held for write). */
static int commit_split(hr_server *srv, hr_region *p, daughter *d, unsigned ns, uint64_t seq)
{
	hr_store_edit *ed = calloc(2 * (size_t)ns + 1, sizeof(*ed));
	hr_sfile *(*add)[HR_MAX_FAMILIES][2] = calloc(2, sizeof(*add));
	int rc = -ENOMEM;
	if (!ed || !add)
		goto out;
	size_t n = 0;
	for (int k = 0; k < 2; k++)
		for (unsigned s = 0; s < ns; s++) {
			hr_store_edit *e = &ed[n++];
			e->st = d[k].r->stores[s];
			e->add = add[k][s];
			e->flushed_seq = seq;
			/* newest first: what the memstores held, then the files */
			for (int slot = 1; slot >= 0; slot--)
				if (d[k].f[s][slot])
					e->add[e->nadd++] = d[k].f[s][slot];
		}
	hr_edit e = {.stores = ed, .nstores = n, .retire = p, .online = {d[0].r, d[1].r}};
	if ((rc = hr_edit_apply(srv, &e)) == 0)
		for (int k = 0; k < 2; k++)
			for (unsigned s = 0; s < ns; s++)
				d[k].f[s][0] = d[k].f[s][1] = NULL; /* the stores' now */
out:
	free(ed);
	free(add);
	return rc;
}

static void discard(hr_server *srv, daughter *d, unsigned ns)
{
	for (int k = 0; k < 2; k++) {
		for (unsigned s = 0; s < ns; s++)
			for (int slot = 0; slot < 2; slot++) {
				hr_newfile_discard(d[k].f[s][slot]);
				d[k].f[s][slot] = NULL;
			}
		if (d[k].r) {
			hr_io_rmrf(srv->io, d[k].r->dir);
			hr_region_unref(d[k].r);
			d[k].r = NULL;
		}
	}
}

/* map_lock held: the parent is still in the map, its table was not dropped
 * and no family was added since the daughters were made. */
static int still_current(hr_server *srv, hr_region *p, daughter *d)
{
	hr_table *t = p->table;
	if (hr_server_table(srv, t->schema.name) != t) {
		hr_log_info("split", "region %" PRIu64 ": table dropped meanwhile", p->id);
		return 0;
	}
	int found = 0;
	for (size_t i = 0; i < t->nregions; i++)
		found |= t->regions[i] == p;
	if (!found || atomic_load(&p->nstores) != atomic_load(&d[0].r->nstores)) {
		hr_log_info("split", "region %" PRIu64 ": %s meanwhile", p->id,
			    found ? "a family was added" : "the region left the map");
		return 0;
	}
	return 1;
}

static int split_region(hr_region *p, const uint8_t *key, size_t klen, uint64_t *ids);

/* The split hooks of server mode (hr_host.h) around the split itself. */
int hr_region_split(hr_region *p, const uint8_t *key, size_t klen)
{
	hr_server *srv = p->srv;
	uint64_t ids[2] = {0, 0};
	if (klen == 0 || !hr_region_contains(p, key, klen) ||
	    (p->start_len == klen && memcmp(p->start, key, klen) == 0))
		return -EINVAL;
	if (srv->split_before) {
		int rc = srv->split_before(srv->split_ctx, p->id);
		if (rc != 0)
			return rc < 0 ? rc : -EBUSY;
	}
	int rc = split_region(p, key, klen, ids);
	if (srv->split_after)
		srv->split_after(srv->split_ctx, p->id, rc == 0 ? ids[0] : 0, rc == 0 ? ids[1] : 0,
				 rc);
	return rc;
}

static int split_region(hr_region *p, const uint8_t *key, size_t klen, uint64_t *ids)
{
	hr_server *srv = p->srv;
	daughter d[2];
	int rc, wlocked = 0;
	uint64_t t0 = hr_mono_ns();
	memset(d, 0, sizeof(d));
	if ((rc = hr_region_flush(p)) < 0)
		return rc;
	pthread_mutex_lock(&p->flush_mu);
	unsigned ns = atomic_load(&p->nstores);
	/* a region being closed (server mode) is not split: it leaves */
	if (atomic_load(&p->state) != HR_REGION_OPEN || atomic_load(&p->closing)) {
		pthread_mutex_unlock(&p->flush_mu);
		return -ESTALE;
	}
	/* the daughters' ids are recorded before their directories exist */
	uint64_t first_id = 0;
	if ((rc = hr_region_ids_reserve(srv, 2, &first_id)) < 0) {
		pthread_mutex_unlock(&p->flush_mu);
		return rc;
	}
	pthread_rwlock_rdlock(&srv->map_lock);
	for (int k = 0; k < 2; k++) {
		d[k].id = first_id + (uint64_t)k;
		rc = hr_region_new(srv, p->table, d[k].id, k ? key : p->start,
				   k ? klen : p->start_len, k ? p->end : key, k ? p->end_len : klen,
				   &d[k].r);
		if (rc < 0)
			break;
	}
	pthread_rwlock_unlock(&srv->map_lock);
	for (unsigned s = 0; s < ns && rc == 0; s++)
		rc = split_store_files(p, s, key, klen, d);
	if (rc < 0)
		goto fail;

	pthread_rwlock_wrlock(&p->updates_lock);
	wlocked = 1;
	atomic_store(&p->state, HR_REGION_SPLITTING);
	uint64_t seq = atomic_load(&srv->seq);
	for (unsigned s = 0; s < ns && rc == 0; s++)
		rc = split_store_memory(p, s, key, klen, d);
	if (rc < 0)
		goto fail;
	/* The commit and the swap happen under the map lock, so a concurrent
	 * drop or family add is either entirely before (and the split gives
	 * up) or entirely after. Taking map_lock while holding an updates lock
	 * is safe: nothing waits for an updates lock while holding map_lock. */
	pthread_rwlock_wrlock(&srv->map_lock);
	if (!still_current(srv, p, d)) {
		pthread_rwlock_unlock(&srv->map_lock);
		rc = -ESTALE;
		goto fail;
	}
	/* an alter since the daughters were made: they serve with the table's
	 * settings of now (their first files were written with the old ones) */
	for (int k = 0; k < 2; k++)
		for (unsigned s = 0; s < ns; s++)
			for (uint32_t i = 0; i < p->table->schema.nfamilies; i++)
				if (!strcmp(p->table->schema.families[i].name,
					    d[k].r->stores[s]->fam.name))
					hr_store_set_conf(d[k].r->stores[s],
							  &p->table->schema.families[i]);
	if ((rc = commit_split(srv, p, d, ns, seq)) < 0) {
		pthread_rwlock_unlock(&srv->map_lock);
		goto fail;
	}
	/* committed and in the map: from here on the daughters are the truth
	 * (nobody finds them before map_lock is released) */
	for (int k = 0; k < 2; k++) {
		atomic_store(&d[k].r->mvcc.read_point, seq);
		/* the parent stamps no more (its updates lock is held): its
		 * daughters go on from its last stamp */
		hr_region_note_ts(d[k].r, atomic_load(&p->last_ts));
	}
	pthread_rwlock_unlock(&srv->map_lock);
	atomic_store(&p->state, HR_REGION_CLOSED);
	pthread_rwlock_unlock(&p->updates_lock);
	pthread_mutex_unlock(&p->flush_mu);

	/* the parent has left the map; its files (retired by the edit) go when
	 * its last reader does */
	hr_table *t = p->table;
	atomic_fetch_add(&srv->st.splits, 1);
	hr_log_info("split", "region %" PRIu64 " of '%s' split at a %zu-byte row into %" PRIu64
		    " and %" PRIu64 ", %.1f ms", p->id, t->schema.name, klen, d[0].id, d[1].id,
		    (double)(hr_mono_ns() - t0) / 1e6);
	hr_region_unref(p); /* the map's reference */
	ids[0] = d[0].id;
	ids[1] = d[1].id;
	return 0;
fail:
	if (wlocked) {
		atomic_store(&p->state, HR_REGION_OPEN);
		pthread_rwlock_unlock(&p->updates_lock);
	}
	pthread_mutex_unlock(&p->flush_mu);
	discard(srv, d, ns);
	if (rc == -ESTALE) /* the table or its schema changed meanwhile: nothing lost */
		hr_log_info("split", "region %" PRIu64 ": split abandoned", p->id);
	else
		hr_log_error("split", "region %" PRIu64 ": split failed: %s", p->id, strerror(-rc));
	return rc;
}

/* ---- policy ------------------------------------------------------------- */

/* Bytes in files of the region's largest store, and that store's largest
 * file (whose block index gives the split row). */
static uint64_t region_size(hr_region *r, hr_sfile **largest)
{
	uint64_t best = 0, bestf = 0;
	*largest = NULL;
	unsigned ns = atomic_load(&r->nstores);
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		uint64_t sum = 0;
		pthread_mutex_lock(&st->mu);
		for (uint32_t f = 0; f < st->nfiles; f++) {
			uint64_t b = hr_sfile_get_info(st->files[f])->file_size;
			sum += b;
			if (b > bestf) {
				bestf = b;
				if (*largest)
					hr_sfile_unref(*largest);
				*largest = st->files[f];
				hr_sfile_ref(*largest);
			}
		}
		pthread_mutex_unlock(&st->mu);
		if (sum > best)
			best = sum;
	}
	return best;
}

/* IncreasingToUpperBound, simplified: a table's only region splits at
 * 2 x flush_size, any other at split_size, both with up to 1/8 of jitter
 * (per region, stable) so regions growing together split apart. */
static uint64_t split_threshold(hr_server *srv, hr_region *r, size_t nregions)
{
	uint64_t base = nregions == 1 ? 2 * srv->cfg.flush_size : srv->cfg.split_size;
	uint64_t h = r->id * 0x9E3779B97F4A7C15ull;
	return base + (base / 8) * (h >> 56) / 255;
}

int hr_split_maybe(hr_server *srv, hr_region *r)
{
	size_t nregions;
	pthread_rwlock_rdlock(&srv->map_lock);
	nregions = r->table ? r->table->nregions : 0;
	pthread_rwlock_unlock(&srv->map_lock);
	if (!nregions || atomic_load(&r->state) != HR_REGION_OPEN)
		return 0;
	hr_sfile *largest;
	uint64_t size = region_size(r, &largest);
	int rc = 0;
	if (largest && size >= split_threshold(srv, r, nregions)) {
		const uint8_t *mid;
		size_t mlen;
		if (hr_sfile_mid_row(largest, &mid, &mlen) == 0 && mlen > 0) {
			uint8_t *key = malloc(mlen);
			if (key) {
				memcpy(key, mid, mlen);
				/* a split at the region's first row would leave one
				 * daughter empty (a one-row region never splits) */
				const hr_kv *first = &hr_sfile_get_info(largest)->first_key;
				if (hr_region_contains(r, key, mlen) &&
				    hr_bytes_cmp(key, mlen, first->row, first->row_len) > 0 &&
				    !(r->start_len == mlen && memcmp(r->start, key, mlen) == 0))
					rc = hr_region_split(r, key, mlen);
				free(key);
			}
		}
	}
	if (largest)
		hr_sfile_unref(largest);
	return rc;
}

int hr_split(hr_server *srv, const char *table, const void *row, size_t row_len)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	hr_region *r;
	if (!row || row_len == 0 || row_len > HR_MAX_ROW)
		return -EINVAL;
	int rc = hr_server_locate(srv, table, row, row_len, &r, NULL);
	if (rc < 0)
		return rc;
	rc = hr_region_split(r, row, row_len);
	hr_region_unref(r);
	return rc;
}
