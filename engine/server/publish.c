/* publish.c — making store files and changing store file lists (contract in
 * hr_publish.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_publish.h"
#include "engine/hr_server.h"
#include "hr_log.h"

/* ---- making a store file -------------------------------------------------- */

int hr_newfile_begin(hr_store *st, uint64_t expected_rows, hr_newfile *nf)
{
	hr_server *srv = st->region->srv;
	char tmp[PATH_MAX];
	nf->st = st;
	nf->w = NULL;
	int rc = hr_server_file_id(srv, &nf->id);
	if (rc < 0)
		return rc;
	/* the settings now: an alter takes effect at the next file written */
	uint32_t block_size;
	int bloom, codec;
	pthread_mutex_lock(&st->mu);
	block_size = st->fam.block_size;
	bloom = st->fam.bloom == HR_BLOOM_ROW;
	codec = st->fam.compression;
	pthread_mutex_unlock(&st->mu);
	rc = hr_store_file_path(st, nf->id, 1, tmp, sizeof(tmp));
	if (rc == 0)
		rc = hr_sfile_write_open(srv->io, tmp, block_size, bloom, expected_rows, &nf->w);
	if (rc == 0 && (rc = hr_sfile_write_compression(nf->w, codec, (int)srv->cfg.zstd_level)) < 0)
		hr_sfile_write_abort(nf->w);
	if (rc < 0) {
		nf->w = NULL;
		hr_log_error("publish", "%s: cannot start a store file: %s", st->dir, strerror(-rc));
	}
	return rc;
}

void hr_newfile_abort(hr_newfile *nf)
{
	if (nf->w)
		hr_sfile_write_abort(nf->w); /* removes the temp file */
	nf->w = NULL;
}

int hr_newfile_finish(hr_newfile *nf, uint64_t max_seq, hr_sfile **out)
{
	hr_store *st = nf->st;
	hr_server *srv = st->region->srv;
	char tmp[PATH_MAX], path[PATH_MAX];
	int rc;
	*out = NULL;
	if (!nf->w)
		return -EINVAL;
	if (hr_sfile_write_entries(nf->w) == 0) {
		hr_newfile_abort(nf);
		return 0;
	}
	hr_store_file_path(st, nf->id, 1, tmp, sizeof(tmp));
	hr_store_file_path(st, nf->id, 0, path, sizeof(path));
	rc = hr_sfile_write_finish(nf->w, max_seq); /* fsyncs; unlinks on failure */
	nf->w = NULL;
	if (rc < 0)
		goto fail;
	if ((rc = hr_io_rename(srv->io, tmp, path)) < 0) {
		hr_io_unlink(srv->io, tmp);
		goto fail;
	}
	if ((rc = hr_io_sync_dir(srv->io, st->dir)) < 0 ||
	    (rc = hr_sfile_open(path, nf->id, srv->fdc, srv->bc, out)) < 0) {
		*out = NULL;
		hr_io_unlink(srv->io, path);
		goto fail;
	}
	return 0;
fail:
	hr_log_error("publish", "%s: writing store file failed: %s", path, strerror(-rc));
	return rc;
}

void hr_newfile_discard(hr_sfile *f)
{
	if (!f)
		return;
	hr_sfile_mark_deleted(f);
	hr_sfile_unref(f);
}

/* ---- changing file lists --------------------------------------------------- */

/* One store's new list, built before the commit. */
typedef struct prepared {
	hr_sfile **files;
	uint32_t n;
	uint64_t *ids;
	uint64_t flushed;
} prepared;

static int leaving(const hr_store_edit *se, const hr_sfile *f)
{
	for (uint32_t i = 0; i < se->ndel; i++)
		if (se->del[i] == f)
			return 1;
	return 0;
}

static int prepare(const hr_store_edit *se, prepared *p)
{
	hr_store *st = se->st;
	int rc = 0;
	pthread_mutex_lock(&st->mu);
	uint32_t found = 0;
	for (uint32_t i = 0; i < st->nfiles; i++)
		found += (uint32_t)leaving(se, st->files[i]);
	if (found != se->ndel) {
		rc = -ESTALE; /* the caller's flush_mu should make this impossible */
		goto out;
	}
	p->n = st->nfiles - se->ndel + se->nadd;
	p->files = malloc((p->n ? p->n : 1) * sizeof(*p->files));
	p->ids = malloc((p->n ? p->n : 1) * sizeof(*p->ids));
	if (!p->files || !p->ids) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t k = 0;
	int placed = 0;
	if (se->ndel == 0) {
		for (uint32_t a = 0; a < se->nadd; a++)
			p->files[k++] = se->add[a];
		placed = 1;
	}
	for (uint32_t i = 0; i < st->nfiles; i++) {
		if (!leaving(se, st->files[i])) {
			p->files[k++] = st->files[i];
		} else if (!placed) {
			/* the new files take the place of the (consecutive) old
			 * ones, so the list stays newest first */
			for (uint32_t a = 0; a < se->nadd; a++)
				p->files[k++] = se->add[a];
			placed = 1;
		}
	}
	for (uint32_t i = 0; i < p->n; i++)
		p->ids[i] = hr_sfile_id(p->files[i]);
	p->flushed = se->flushed_seq > st->flushed_seq ? se->flushed_seq : st->flushed_seq;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static void install(const hr_store_edit *se, prepared *p)
{
	hr_store *st = se->st;
	pthread_mutex_lock(&st->mu);
	hr_sfile **old = st->files;
	st->files = p->files;
	st->nfiles = p->n;
	st->flushed_seq = p->flushed;
	if (se->snapshot && st->snapshot == se->snapshot) {
		uint64_t b = hr_memstore_bytes(st->snapshot);
		hr_memstore_unref(st->snapshot);
		st->snapshot = NULL;
		hr_region_mem_add(st->region, -(int64_t)b);
	}
	atomic_fetch_add(&st->gen, 1);
	pthread_mutex_unlock(&st->mu);
	p->files = NULL;
	free(old);
	/* the store's references to what left: readers may still hold theirs */
	for (uint32_t i = 0; i < se->ndel; i++) {
		hr_sfile_mark_deleted(se->del[i]);
		hr_sfile_unref(se->del[i]);
	}
}

/* The table's region array with the retired region replaced by the two
 * daughters (map_lock held). */
static int prepare_map(const hr_edit *e, hr_region ***out)
{
	hr_table *t = e->retire->table;
	size_t pos = t->nregions;
	for (size_t i = 0; i < t->nregions; i++)
		if (t->regions[i] == e->retire)
			pos = i;
	if (pos == t->nregions)
		return -ESTALE;
	hr_region **v = malloc((t->nregions + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, t->regions, pos * sizeof(*v));
	v[pos] = e->online[0];
	v[pos + 1] = e->online[1];
	memcpy(v + pos + 2, t->regions + pos + 1, (t->nregions - pos - 1) * sizeof(*v));
	*out = v;
	return 0;
}

static int is_online(const hr_edit *e, const hr_region *r)
{
	return e->online[0] == r || e->online[1] == r;
}

static int write_split(hr_meta_txn *t, hr_server *srv, const hr_edit *e)
{
	hr_region *p = e->retire;
	int rc = hr_meta_region_del(t, p->id);
	unsigned ns = atomic_load(&p->nstores);
	for (unsigned s = 0; s < ns && rc == 0; s++)
		rc = hr_meta_store_del(t, p->id, p->stores[s]->fam.name);
	for (int k = 0; k < 2 && rc == 0; k++) {
		hr_region *r = e->online[k];
		hr_meta_region mr = {.id = r->id, .start = r->start, .start_len = r->start_len,
				     .end = r->end, .end_len = r->end_len, .state = HR_REGION_OPEN};
		snprintf(mr.table, sizeof(mr.table), "%s", p->table->schema.name);
		rc = hr_meta_region_put(t, &mr);
	}
	/* a raise, not get + put: with a shared meta (storage=rados) it is
	 * merged at commit with other servers' allocations, never lost */
	if (rc == 0)
		rc = hr_meta_counter_raise(t, "next_region_id", atomic_load(&srv->next_region_id));
	return rc;
}

int hr_edit_apply(hr_server *srv, const hr_edit *e)
{
	prepared *pp = calloc(e->nstores ? e->nstores : 1, sizeof(*pp));
	hr_region **map = NULL;
	hr_meta_txn *t = NULL;
	int rc = 0;
	if (!pp)
		return -ENOMEM;
	for (size_t i = 0; i < e->nstores && rc == 0; i++)
		rc = prepare(&e->stores[i], &pp[i]);
	if (rc == 0 && e->retire)
		rc = prepare_map(e, &map);
	if (rc == 0)
		rc = hr_meta_begin(srv->meta, 1, &t);
	if (rc == 0 && e->retire)
		rc = write_split(t, srv, e);
	for (size_t i = 0; i < e->nstores && rc == 0; i++) {
		hr_store *st = e->stores[i].st;
		/* a region dropped since the caller began (the drop commits
		 * before it can close the region) gets no store record again */
		if (!is_online(e, st->region)) {
			int ex = hr_meta_region_exists(t, st->region->id);
			if (ex <= 0) {
				rc = ex < 0 ? ex : -ESTALE;
				break;
			}
		}
		hr_meta_store ms = {.region_id = st->region->id, .flushed_seq = pp[i].flushed,
				    .nfiles = pp[i].n, .files = pp[i].ids};
		snprintf(ms.family, sizeof(ms.family), "%s", st->fam.name);
		rc = hr_meta_store_put(t, &ms);
	}
	if (rc == 0) {
		rc = hr_meta_commit(t);
		t = NULL;
	}
	if (rc < 0)
		goto out;

	/* committed: from here on nothing can fail */
	for (size_t i = 0; i < e->nstores; i++)
		install(&e->stores[i], &pp[i]);
	if (e->retire) {
		hr_table *tb = e->retire->table;
		free(tb->regions);
		tb->regions = map;
		tb->nregions++;
		map = NULL;
		hr_region *p = e->retire;
		unsigned ns = atomic_load(&p->nstores);
		for (unsigned s = 0; s < ns; s++) {
			hr_store *st = p->stores[s];
			pthread_mutex_lock(&st->mu);
			for (uint32_t f = 0; f < st->nfiles; f++)
				hr_sfile_mark_deleted(st->files[f]);
			pthread_mutex_unlock(&st->mu);
		}
	}
out:
	hr_meta_abort(t);
	for (size_t i = 0; i < e->nstores; i++) {
		free(pp[i].files);
		free(pp[i].ids);
	}
	free(pp);
	free(map);
	return rc;
}
