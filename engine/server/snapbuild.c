/* snapbuild.c — a snapshot manifest made into a table: new regions and
 * stores holding the manifest's files under new ids, recorded in one LMDB
 * transaction (contract in hr_snapshot.h; used by clone, restore, import).
 *
 * Why new file ids rather than the manifest's: a store file's id names it
 * in the descriptor and block caches and in archive/ (hr_fname.h), and the
 * open-time cleaner and verify treat ids as unique server-wide. A second
 * store holding the same id would share cache entries with the first and
 * be archived under the same name by a later snapshot. A new id is just a
 * new name (a hard link, or a copy for import) of the same bytes; the file
 * format does not record its id. Reference counting stays the link count. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "hr_log.h"

static int build_store(hr_server *srv, hr_region *r, const hr_snap_store *ss,
		       hr_snap_place_fn place, void *ctx)
{
	hr_store *st = hr_region_store(r, ss->family);
	if (!st) {
		hr_log_error("snapshot", "manifest names family '%s', which its schema lacks",
			     ss->family);
		return -EIO;
	}
	if (!ss->nfiles)
		return 0;
	if (!(st->files = calloc(ss->nfiles, sizeof(*st->files))))
		return -ENOMEM;
	for (uint32_t k = 0; k < ss->nfiles; k++) {
		char path[PATH_MAX];
		uint64_t id = atomic_fetch_add(&srv->next_file_id, 1);
		int rc = hr_store_file_path(st, id, 0, path, sizeof(path));
		if (rc == 0)
			rc = place(ctx, st, &ss->files[k], id);
		if (rc < 0)
			return rc;
		if ((rc = hr_sfile_open(path, id, srv->fdc, srv->bc, &st->files[k])) < 0) {
			hr_log_error("snapshot", "%s: not a readable store file: %s", path,
				     strerror(-rc));
			hr_io_unlink(srv->io, path);
			return rc == -ENOENT ? -EIO : rc;
		}
		st->nfiles = k + 1;
		const hr_sfile_info *fi = hr_sfile_get_info(st->files[k]);
		if (fi->entry_count)
			hr_region_note_ts(r, fi->max_ts);
		/* an imported file's cells carry another server's sequence ids:
		 * the counter goes past them, or no read point would see them */
		uint_fast64_t seq = atomic_load(&srv->seq);
		while (fi->max_seq > seq && !atomic_compare_exchange_weak(&srv->seq, &seq, fi->max_seq))
			;
	}
	return hr_io_sync_dir(srv->io, st->dir);
}

int hr_snap_build(hr_server *srv, const hr_snap_manifest *m, const char *name,
		  hr_snap_place_fn place, void *ctx, hr_table **out)
{
	hr_table_schema *sc = malloc(sizeof(*sc));
	hr_table *nt = NULL;
	uint64_t first = 0;
	int rc = -ENOMEM;
	*out = NULL;
	if (!sc)
		return -ENOMEM;
	*sc = m->schema;
	snprintf(sc->name, sizeof(sc->name), "%s", name);
	if (!m->nregions) {
		rc = -EIO;
		goto fail;
	}
	if (!(nt = hr_table_new(sc)))
		goto fail;
	/* the ids are recorded before their directories exist */
	if ((rc = hr_region_ids_reserve(srv, m->nregions, &first)) < 0)
		goto fail;
	for (uint32_t i = 0; i < m->nregions; i++) {
		const hr_snap_region *sr = &m->regions[i];
		hr_region *r;
		if ((rc = hr_region_new(srv, nt, first + i, sr->start, sr->start_len, sr->end,
					sr->end_len, &r)) < 0)
			goto fail;
		if ((rc = hr_table_add_region(nt, r)) < 0) {
			hr_io_rmrf(srv->io, r->dir);
			hr_region_unref(r);
			goto fail;
		}
		for (uint32_t s = 0; s < sr->nstores; s++)
			if ((rc = build_store(srv, r, &sr->stores[s], place, ctx)) < 0)
				goto fail;
	}
	free(sc);
	*out = nt;
	return 0;
fail:
	free(sc);
	if (nt)
		hr_snap_build_discard(srv, nt);
	return rc;
}

void hr_snap_build_discard(hr_server *srv, hr_table *nt)
{
	/* the files go with their last reference (now); then the directories */
	size_t n = nt->nregions;
	char (*dirs)[PATH_MAX] = malloc((n ? n : 1) * sizeof(*dirs));
	for (size_t i = 0; i < n; i++) {
		hr_region *r = nt->regions[i];
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned s = 0; s < ns; s++)
			for (uint32_t f = 0; f < r->stores[s]->nfiles; f++)
				hr_sfile_mark_deleted(r->stores[s]->files[f]);
		if (dirs)
			snprintf(dirs[i], sizeof(dirs[i]), "%s", r->dir);
	}
	hr_table_release(nt);
	for (size_t i = 0; dirs && i < n; i++)
		hr_io_rmrf(srv->io, dirs[i]);
	hr_io_sync_dir(srv->io, srv->store_dir);
	free(dirs);
}

/* One LMDB transaction: replace's records go, nt's table, regions and
 * stores come (with flushed seq `seq`: no WAL edit is theirs). */
static int write_records(hr_server *srv, hr_table *nt, hr_table *replace, uint64_t seq)
{
	hr_meta_txn *txn;
	int rc = hr_meta_begin(srv->meta, 1, &txn);
	if (rc < 0)
		return rc;
	for (size_t i = 0; replace && rc == 0 && i < replace->nregions; i++) {
		hr_region *r = replace->regions[i];
		rc = hr_meta_region_del(txn, r->id);
		for (unsigned j = 0; rc == 0 && j < atomic_load(&r->nstores); j++)
			rc = hr_meta_store_del(txn, r->id, r->stores[j]->fam.name);
	}
	if (rc == 0)
		rc = hr_meta_table_put(txn, &nt->schema);
	for (size_t i = 0; rc == 0 && i < nt->nregions; i++) {
		hr_region *r = nt->regions[i];
		hr_meta_region mr = {.id = r->id, .start = r->start, .start_len = r->start_len,
				     .end = r->end, .end_len = r->end_len, .state = HR_REGION_OPEN};
		snprintf(mr.table, sizeof(mr.table), "%s", nt->schema.name);
		rc = hr_meta_region_put(txn, &mr);
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned j = 0; rc == 0 && j < ns; j++) {
			hr_store *st = r->stores[j];
			uint64_t *ids = calloc(st->nfiles ? st->nfiles : 1, sizeof(*ids));
			if (!ids) {
				rc = -ENOMEM;
				break;
			}
			for (uint32_t f = 0; f < st->nfiles; f++)
				ids[f] = hr_sfile_id(st->files[f]);
			hr_meta_store ms = {.region_id = r->id, .flushed_seq = seq,
					    .nfiles = st->nfiles, .files = ids};
			snprintf(ms.family, sizeof(ms.family), "%s", st->fam.name);
			rc = hr_meta_store_add(txn, &ms);
			free(ids);
		}
	}
	if (rc < 0) {
		hr_meta_abort(txn);
		return rc;
	}
	return hr_meta_commit(txn);
}

int hr_snap_build_commit(hr_server *srv, hr_table *nt, hr_table *replace)
{
	int rc;
	pthread_rwlock_wrlock(&srv->map_lock);
	hr_table *cur = hr_server_table(srv, nt->schema.name);
	if (replace && cur != replace)
		rc = -ENOENT;
	else if (!replace && cur)
		rc = -EEXIST;
	else
		rc = write_records(srv, nt, replace, atomic_load(&srv->seq));
	if (rc < 0) {
		pthread_rwlock_unlock(&srv->map_lock);
		hr_snap_build_discard(srv, nt);
		return rc;
	}
	/* committed: from here on nt is the truth */
	uint64_t seq = atomic_load(&srv->seq);
	for (size_t i = 0; i < nt->nregions; i++) {
		hr_region *r = nt->regions[i];
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned j = 0; j < ns; j++) {
			pthread_mutex_lock(&r->stores[j]->mu);
			r->stores[j]->flushed_seq = seq;
			atomic_fetch_add(&r->stores[j]->gen, 1);
			pthread_mutex_unlock(&r->stores[j]->mu);
		}
		atomic_store(&r->mvcc.read_point, seq);
	}
	if (replace) {
		/* stamps never go back: the new regions go on from the old ones' */
		int64_t last = 0;
		for (size_t i = 0; i < replace->nregions; i++)
			if (atomic_load(&replace->regions[i]->last_ts) > last)
				last = atomic_load(&replace->regions[i]->last_ts);
		for (size_t i = 0; i < nt->nregions; i++)
			hr_region_note_ts(nt->regions[i], last);
		size_t k = 0;
		while (srv->tables[k] != replace)
			k++;
		srv->tables[k] = nt;
	} else if ((rc = hr_server_table_add(srv, nt)) < 0) {
		/* LMDB has it; the next open will too */
		hr_log_error("snapshot", "'%s': out of memory after commit", nt->schema.name);
		hr_table_release(nt);
		rc = 0;
	}
	pthread_rwlock_unlock(&srv->map_lock);
	if (replace)
		hr_table_retire(srv, replace);
	return rc;
}
