/* snapshot.c — taking, deleting and listing snapshots, the archive and its
 * cleaner (contract in hregionfs.h, "snapshots", and hr_snapshot.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

/* ---- the catalog (snap_mu held) -------------------------------------------- */

static int cat_cmp(const char *t1, const char *n1, const char *t2, const char *n2)
{
	int c = strcmp(t1, t2);
	return c ? c : strcmp(n1, n2);
}

/* index of (table, name), or -1 with *at the insertion point */
static long cat_find(hr_server *srv, const char *table, const char *name, size_t *at)
{
	size_t lo = 0, hi = srv->nsnaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cat_cmp(srv->snaps[mid]->table, srv->snaps[mid]->name, table, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return -1;
}

const hr_snap_manifest *hr_snap_catalog_find(hr_server *srv, const char *table, const char *name)
{
	long i = cat_find(srv, table, name, NULL);
	return i < 0 ? NULL : srv->snaps[i];
}

static int cat_add(hr_server *srv, hr_snap_manifest *m)
{
	size_t at;
	if (cat_find(srv, m->table, m->name, &at) >= 0)
		return -EEXIST;
	hr_snap_manifest **n = realloc(srv->snaps, (srv->nsnaps + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	srv->snaps = n;
	memmove(n + at + 1, n + at, (srv->nsnaps - at) * sizeof(*n));
	n[at] = m;
	srv->nsnaps++;
	if (m->snap_id >= srv->next_snap_id)
		srv->next_snap_id = m->snap_id + 1;
	return 0;
}

/* 1 if a manifest in the catalog references file id */
static int cat_references(hr_server *srv, uint64_t id)
{
	for (size_t i = 0; i < srv->nsnaps; i++) {
		const hr_snap_manifest *m = srv->snaps[i];
		for (uint32_t r = 0; r < m->nregions; r++)
			for (uint32_t s = 0; s < m->regions[r].nstores; s++) {
				const hr_snap_store *st = &m->regions[r].stores[s];
				for (uint32_t f = 0; f < st->nfiles; f++)
					if (st->files[f].id == id)
						return 1;
			}
	}
	return 0;
}

static int archive_path(hr_server *srv, uint64_t id, char *buf, size_t len)
{
	return hr_fname_archive_file(srv->archive_dir, id, buf, len);
}

/* Removes the archive names of m's files that no manifest in the catalog
 * (m no longer among them) references. Returns how many. */
static int archive_release(hr_server *srv, const hr_snap_manifest *m)
{
	int n = 0;
	for (uint32_t r = 0; r < m->nregions; r++)
		for (uint32_t s = 0; s < m->regions[r].nstores; s++) {
			const hr_snap_store *st = &m->regions[r].stores[s];
			for (uint32_t f = 0; f < st->nfiles; f++) {
				uint64_t id = st->files[f].id;
				char path[PATH_MAX];
				if (cat_references(srv, id) || archive_path(srv, id, path, sizeof(path)) < 0)
					continue;
				/* its fd may be cached under this name: close it so
				 * the blocks go with the last name */
				hr_fdcache_forget(srv->fdc, id);
				int rc = hr_io_unlink(srv->io, path);
				if (rc < 0 && rc != -ENOENT)
					hr_log_error("snapshot", "%s: cannot remove: %s (removed at next open)",
						     path, strerror(-rc));
				else if (rc == 0)
					n++;
			}
		}
	if (n)
		hr_io_sync_dir(srv->io, srv->archive_dir);
	return n;
}

/* ---- create ------------------------------------------------------------------ */

typedef struct held {
	hr_sfile **files;
	size_t n, cap;
} held;

static int held_add(held *h, hr_sfile *f)
{
	if (h->n == h->cap) {
		size_t c = h->cap ? h->cap * 2 : 32;
		hr_sfile **nf = realloc(h->files, c * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		h->files = nf;
		h->cap = c;
	}
	hr_sfile_ref(f);
	h->files[h->n++] = f;
	return 0;
}

static void held_free(held *h)
{
	for (size_t i = 0; i < h->n; i++)
		hr_sfile_unref(h->files[i]);
	free(h->files);
}

/* map_lock held: 1 if every store of t is flushed (nothing in memory), 0
 * if not, -EIO if a region is OFFLINE. */
static int table_flushed(hr_table *t)
{
	for (size_t i = 0; i < t->nregions; i++) {
		hr_region *r = t->regions[i];
		if (atomic_load(&r->state) == HR_REGION_OFFLINE)
			return -EIO;
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned s = 0; s < ns; s++) {
			hr_store *st = r->stores[s];
			pthread_mutex_lock(&st->mu);
			int empty = !st->snapshot && hr_memstore_count(st->active) == 0;
			pthread_mutex_unlock(&st->mu);
			if (!empty)
				return 0;
		}
	}
	return 1;
}

/* map_lock held, the table's writes held back: its regions and file lists
 * into m, the files referenced into h. */
static int collect(hr_server *srv, hr_table *t, hr_snap_manifest *m, held *h)
{
	m->schema = t->schema;
	m->seq = atomic_load(&srv->seq);
	if (!t->nregions)
		return -ENOENT;
	if (!(m->regions = calloc(t->nregions, sizeof(*m->regions))))
		return -ENOMEM;
	for (size_t i = 0; i < t->nregions; i++) {
		hr_region *r = t->regions[i];
		hr_snap_region *sr = &m->regions[i];
		m->nregions = (uint32_t)i + 1;
		sr->id = r->id;
		sr->start = malloc(r->start_len ? r->start_len : 1);
		sr->end = malloc(r->end_len ? r->end_len : 1);
		unsigned ns = atomic_load(&r->nstores);
		sr->stores = calloc(ns ? ns : 1, sizeof(*sr->stores));
		if (!sr->start || !sr->end || !sr->stores)
			return -ENOMEM;
		memcpy(sr->start, r->start, r->start_len);
		memcpy(sr->end, r->end, r->end_len);
		sr->start_len = r->start_len;
		sr->end_len = r->end_len;
		for (unsigned s = 0; s < ns; s++) {
			hr_store *st = r->stores[s];
			hr_snap_store *ss = &sr->stores[s];
			sr->nstores = s + 1;
			snprintf(ss->family, sizeof(ss->family), "%s", st->fam.name);
			pthread_mutex_lock(&st->mu);
			int rc = 0;
			if (st->nfiles && !(ss->files = calloc(st->nfiles, sizeof(*ss->files))))
				rc = -ENOMEM;
			for (uint32_t f = 0; rc == 0 && f < st->nfiles; f++) {
				ss->files[f].id = hr_sfile_id(st->files[f]);
				ss->files[f].size = hr_sfile_get_info(st->files[f])->file_size;
				ss->nfiles = f + 1;
				rc = held_add(h, st->files[f]);
			}
			pthread_mutex_unlock(&st->mu);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Flushes the table with its writes held back and takes its file lists. */
static int freeze(hr_server *srv, const char *table, hr_snap_manifest *m, held *h)
{
	pthread_rwlock_rdlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	if (t)
		hr_table_ref(t);
	pthread_rwlock_unlock(&srv->map_lock);
	if (!t)
		return -ENOENT;
	int rc = 0;
	pthread_rwlock_wrlock(&t->gate);
	if (srv->test_gate_hook)
		srv->test_gate_hook(srv->test_gate_ctx);
	/* A store whose earlier flush failed keeps that snapshot and leaves
	 * its active memstore alone: flush until nothing is left in memory. */
	for (int tries = 0;; tries++) {
		if ((rc = hr_flush(srv, table)) < 0)
			break;
		pthread_rwlock_rdlock(&srv->map_lock);
		if (hr_server_table(srv, table) != t)
			rc = -ENOENT; /* dropped (and maybe re-created) meanwhile */
		else if ((rc = table_flushed(t)) == 1)
			rc = collect(srv, t, m, h);
		else if (rc == 0 && tries == 4)
			rc = -EIO;
		else if (rc == 0)
			rc = 1; /* again */
		pthread_rwlock_unlock(&srv->map_lock);
		if (rc != 1)
			break;
	}
	pthread_rwlock_unlock(&t->gate);
	hr_table_unref(t);
	return rc;
}

int hr_snapshot_create(hr_server *srv, const char *table, const char *name)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!table || !name || !hr_table_name_valid(name) || strlen(table) > HR_MAX_NAME)
		return -EINVAL;
	hr_snap_manifest *m = calloc(1, sizeof(*m));
	held h = {0};
	uint8_t *val = NULL;
	size_t vlen;
	size_t linked = 0;
	uint8_t *made = NULL; /* made[i]: this call made the archive name of h.files[i] */
	hr_meta_txn *txn = NULL;
	int rc;
	if (!m)
		return -ENOMEM;
	snprintf(m->table, sizeof(m->table), "%s", table);
	snprintf(m->name, sizeof(m->name), "%s", name);
	pthread_mutex_lock(&srv->snap_mu);
	if (cat_find(srv, table, name, NULL) >= 0) {
		rc = -EEXIST;
		goto fail;
	}
	if ((rc = freeze(srv, table, m, &h)) < 0)
		goto fail;
	m->time_ms = hr_now_ms();
	m->snap_id = srv->next_snap_id++;
	/* every file gets its archive name (a link) before the manifest says so */
	if ((rc = hr_io_mkdirs(srv->io, srv->archive_dir)) < 0)
		goto fail;
	if (h.n && !(made = calloc(h.n, 1))) {
		rc = -ENOMEM;
		goto fail;
	}
	for (; linked < h.n; linked++) {
		char path[PATH_MAX];
		hr_sfile *f = h.files[linked];
		if ((rc = archive_path(srv, hr_sfile_id(f), path, sizeof(path))) < 0)
			goto fail;
		rc = hr_io_link(srv->io, hr_sfile_path(f), path);
		if (rc == -EEXIST) /* archived for another snapshot (ids are unique) */
			rc = 0;
		else if (rc == 0)
			made[linked] = 1;
		if (rc < 0) {
			hr_log_error("snapshot", "%s: cannot archive %s: %s", name, hr_sfile_path(f),
				     strerror(-rc));
			goto fail;
		}
	}
	if ((rc = hr_io_sync_dir(srv->io, srv->archive_dir)) < 0)
		goto fail;
	if ((rc = hr_snap_manifest_encode(m, &val, &vlen)) < 0 ||
	    (rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		goto fail;
	if ((rc = hr_meta_snap_add(txn, table, name, val, vlen)) < 0) {
		hr_meta_abort(txn);
		txn = NULL;
		goto fail;
	}
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	if ((rc = cat_add(srv, m)) < 0) {
		/* LMDB has it; the next open will too */
		hr_log_error("snapshot", "%s/%s: out of memory after commit", table, name);
		m = NULL;
		goto fail;
	}
	hr_log_info("snapshot", "took '%s' of '%s': %u regions, %zu files, seq %" PRIu64, name,
		    table, m->nregions, h.n, m->seq);
	m = NULL;
	rc = 0;
fail:
	/* names this call made for a manifest that was not written */
	for (size_t i = 0; rc < 0 && made && i < linked; i++) {
		char path[PATH_MAX];
		uint64_t id = hr_sfile_id(h.files[i]);
		if (made[i] && !cat_references(srv, id) && archive_path(srv, id, path, sizeof(path)) == 0)
			hr_io_unlink(srv->io, path);
	}
	pthread_mutex_unlock(&srv->snap_mu);
	free(made);
	free(val);
	held_free(&h);
	hr_snap_manifest_free(m);
	return rc;
}

/* ---- delete and list ---------------------------------------------------------- */

int hr_snapshot_delete(hr_server *srv, const char *table, const char *name)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!table || !name)
		return -EINVAL;
	hr_meta_txn *txn;
	pthread_mutex_lock(&srv->snap_mu);
	long i = cat_find(srv, table, name, NULL);
	int rc = i < 0 ? -ENOENT : hr_meta_begin(srv->meta, 1, &txn);
	if (rc == 0) {
		if ((rc = hr_meta_snap_del(txn, table, name)) < 0)
			hr_meta_abort(txn);
		else
			rc = hr_meta_commit(txn);
	}
	if (rc == 0) {
		hr_snap_manifest *m = srv->snaps[i];
		memmove(srv->snaps + i, srv->snaps + i + 1,
			(srv->nsnaps - (size_t)i - 1) * sizeof(*srv->snaps));
		srv->nsnaps--;
		hr_snap_cache_drop(srv, m->snap_id);
		int n = archive_release(srv, m);
		hr_log_info("snapshot", "deleted '%s' of '%s' (%d archived files removed)", name, table,
			    n);
		hr_snap_manifest_free(m);
	}
	pthread_mutex_unlock(&srv->snap_mu);
	return rc;
}

typedef struct idset {
	uint64_t *v;
	size_t n, cap;
} idset;

static int idset_add(idset *s, uint64_t id)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 64;
		uint64_t *nv = realloc(s->v, c * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = c;
	}
	s->v[s->n++] = id;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void idset_sort(idset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), u64_cmp);
}

static int idset_has(const idset *s, uint64_t id)
{
	return s->n && bsearch(&id, s->v, s->n, sizeof(*s->v), u64_cmp) != NULL;
}

/* snap_mu held: whether each distinct archived file is still named by a
 * store of some table (its own under the same id, or a clone's under
 * another: clones link the same file), i.e. has more names than archive/
 * gives it. By link counts, so that clones count as sharing. */
typedef struct arch_link {
	uint64_t id, ino;
	uint32_t nlink, names; /* names: archive/ entries of that inode */
	int present, counted;
} arch_link;

static int arch_by_id(const void *a, const void *b)
{
	uint64_t x = ((const arch_link *)a)->id, y = ((const arch_link *)b)->id;
	return x < y ? -1 : x > y;
}

static int arch_by_ino(const void *a, const void *b)
{
	uint64_t x = ((const arch_link *)a)->ino, y = ((const arch_link *)b)->ino;
	return x < y ? -1 : x > y;
}

static int archive_links(hr_server *srv, arch_link **out, size_t *nout)
{
	idset ids = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < srv->nsnaps; i++) {
		const hr_snap_manifest *m = srv->snaps[i];
		for (uint32_t r = 0; rc == 0 && r < m->nregions; r++)
			for (uint32_t s = 0; rc == 0 && s < m->regions[r].nstores; s++)
				for (uint32_t f = 0; rc == 0 && f < m->regions[r].stores[s].nfiles; f++)
					rc = idset_add(&ids, m->regions[r].stores[s].files[f].id);
	}
	idset_sort(&ids);
	arch_link *v = calloc(ids.n ? ids.n : 1, sizeof(*v));
	size_t n = 0;
	if (rc == 0 && !v)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		if (i && ids.v[i] == ids.v[i - 1])
			continue;
		char path[PATH_MAX];
		hr_io_attr at;
		v[n].id = ids.v[i];
		if (archive_path(srv, v[n].id, path, sizeof(path)) == 0 &&
		    hr_io_stat(srv->io, path, &at) == 0) {
			v[n].present = 1;
			v[n].ino = at.ino;
			v[n].nlink = at.nlink;
		}
		n++;
	}
	free(ids.v);
	if (rc < 0) {
		free(v);
		return rc;
	}
	/* count the archive names of each inode */
	if (n)
		qsort(v, n, sizeof(*v), arch_by_ino);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j].ino == v[i].ino && v[j].present == v[i].present)
			j++;
		for (size_t k = i; k < j; k++)
			v[k].names = v[i].present ? (uint32_t)(j - i) : 1;
		i = j;
	}
	if (n)
		qsort(v, n, sizeof(*v), arch_by_id);
	*out = v;
	*nout = n;
	return 0;
}

/* 1 if a table's store still names archived file id */
static int arch_shared(const arch_link *v, size_t n, uint64_t id)
{
	arch_link key = {.id = id};
	const arch_link *a = n ? bsearch(&key, v, n, sizeof(*v), arch_by_id) : NULL;
	return a && a->present && a->nlink > a->names;
}

static void info_of(const hr_snap_manifest *m, const arch_link *links, size_t nlinks,
		    hr_snapshot_info *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->table, sizeof(o->table), "%s", m->table);
	snprintf(o->name, sizeof(o->name), "%s", m->name);
	o->time_ms = m->time_ms;
	o->seq = m->seq;
	o->regions = m->nregions;
	for (uint32_t r = 0; r < m->nregions; r++)
		for (uint32_t s = 0; s < m->regions[r].nstores; s++) {
			const hr_snap_store *st = &m->regions[r].stores[s];
			for (uint32_t f = 0; f < st->nfiles; f++) {
				o->files++;
				o->bytes += st->files[f].size;
				if (arch_shared(links, nlinks, st->files[f].id))
					o->shared_bytes += st->files[f].size;
			}
		}
}

int hr_snapshot_list(hr_server *srv, const char *table, hr_snapshot_info **out, size_t *n)
{
	if (srv->client) {
		*out = NULL; /* cluster mode keeps no snapshots yet */
		*n = 0;
		return 0;
	}
	arch_link *links = NULL;
	size_t nlinks = 0;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&srv->snap_mu);
	int rc = archive_links(srv, &links, &nlinks);
	hr_snapshot_info *v = NULL;
	size_t k = 0;
	if (rc == 0 && srv->nsnaps && !(v = calloc(srv->nsnaps, sizeof(*v))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < srv->nsnaps; i++)
		if (!table || strcmp(srv->snaps[i]->table, table) == 0)
			info_of(srv->snaps[i], links, nlinks, &v[k++]);
	pthread_mutex_unlock(&srv->snap_mu);
	free(links);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* admin.c's share of hr_stats: snapshots, archived files and bytes */
void hr_snapshot_stats(hr_server *srv, hr_stats *o)
{
	arch_link *links = NULL;
	size_t nlinks = 0;
	pthread_mutex_lock(&srv->snap_mu);
	o->snapshots = srv->nsnaps;
	if (archive_links(srv, &links, &nlinks) == 0) {
		/* every distinct file once, with its size from a manifest */
		for (size_t i = 0; i < srv->nsnaps; i++) {
			const hr_snap_manifest *m = srv->snaps[i];
			for (uint32_t r = 0; r < m->nregions; r++)
				for (uint32_t s = 0; s < m->regions[r].nstores; s++) {
					const hr_snap_store *st = &m->regions[r].stores[s];
					for (uint32_t f = 0; f < st->nfiles; f++) {
						arch_link key = {.id = st->files[f].id};
						arch_link *a = bsearch(&key, links, nlinks, sizeof(*links),
								       arch_by_id);
						if (!a || a->counted)
							continue;
						a->counted = 1;
						o->archive_files++;
						o->archive_bytes += st->files[f].size;
						if (!arch_shared(a, 1, a->id))
							o->archive_own_bytes += st->files[f].size;
					}
				}
		}
	}
	pthread_mutex_unlock(&srv->snap_mu);
	free(links);
}

/* ---- open and close ------------------------------------------------------------ */

static int load_cb(void *ctx, const char *table, const char *name, const void *v, size_t len)
{
	hr_server *srv = ctx;
	hr_snap_manifest *m;
	int rc = hr_snap_manifest_decode(table, name, v, len, &m);
	if (rc < 0)
		return rc; /* a damaged manifest: refuse to open rather than lose its files */
	if ((rc = cat_add(srv, m)) < 0) {
		hr_snap_manifest_free(m);
		return rc;
	}
	for (uint32_t r = 0; r < m->nregions; r++)
		for (uint32_t s = 0; s < m->regions[r].nstores; s++)
			for (uint32_t f = 0; f < m->regions[r].stores[s].nfiles; f++) {
				uint64_t id = m->regions[r].stores[s].files[f].id;
				/* a new file must never take an archived file's id */
				if (id >= atomic_load(&srv->next_file_id))
					atomic_store(&srv->next_file_id, id + 1);
			}
	return 0;
}

/* archive/: keeps what a manifest references, removes the other archive
 * names (a create or delete the crash interrupted), moves the rest aside. */
static void archive_clean(hr_server *srv)
{
	hr_io_dirent *e;
	size_t n;
	idset refs = {0};
	for (size_t i = 0; i < srv->nsnaps; i++) {
		const hr_snap_manifest *m = srv->snaps[i];
		for (uint32_t r = 0; r < m->nregions; r++)
			for (uint32_t s = 0; s < m->regions[r].nstores; s++)
				for (uint32_t f = 0; f < m->regions[r].stores[s].nfiles; f++)
					idset_add(&refs, m->regions[r].stores[s].files[f].id);
	}
	idset_sort(&refs);
	int rc = hr_io_list(srv->io, srv->archive_dir, &e, &n);
	if (rc < 0) {
		if (rc != -ENOENT)
			hr_log_error("snapshot", "%s: cannot list: %s", srv->archive_dir, strerror(-rc));
		n = 0;
		e = NULL;
	}
	int removed = 0;
	idset present = {0};
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256], rel[PATH_MAX + 256];
		uint64_t id;
		snprintf(path, sizeof(path), "%s/%s", srv->archive_dir, e[i].name);
		snprintf(rel, sizeof(rel), "archive/%s", e[i].name);
		if (e[i].is_dir || hr_fname_parse(HR_FN_IN_ARCHIVE, e[i].name, &id) != HR_FN_ARCHIVE_FILE) {
			hr_server_move_aside(srv, path, rel, "not an archived store file");
		} else if (idset_has(&refs, id)) {
			idset_add(&present, id);
		} else if ((rc = hr_io_unlink(srv->io, path)) < 0) {
			hr_log_error("snapshot", "cannot remove %s: %s", path, strerror(-rc));
		} else {
			hr_log_info("snapshot", "removed %s (no snapshot references it)", path);
			removed++;
		}
	}
	hr_io_list_free(e, n);
	if (removed)
		hr_io_sync_dir(srv->io, srv->archive_dir);
	idset_sort(&present);
	for (size_t i = 0; i < refs.n; i++)
		if ((i == 0 || refs.v[i] != refs.v[i - 1]) && !idset_has(&present, refs.v[i]))
			hr_log_error("snapshot", "archived store file %016" PRIx64
				     ".hsf is missing: the snapshots that reference it cannot be read",
				     refs.v[i]);
	free(refs.v);
	free(present.v);
}

int hr_snapshot_load(hr_server *srv)
{
	hr_meta_txn *t;
	int rc = hr_fname_archive_dir(srv->cfg.data_dir, srv->archive_dir, sizeof(srv->archive_dir));
	if (rc < 0)
		return rc;
	if (srv->next_snap_id == 0)
		srv->next_snap_id = 1;
	if ((rc = hr_meta_begin(srv->meta, 0, &t)) < 0)
		return rc;
	rc = hr_meta_snap_each(t, load_cb, srv);
	hr_meta_abort(t);
	if (rc < 0)
		return rc;
	archive_clean(srv);
	return 0;
}

void hr_snapshot_unload(hr_server *srv)
{
	hr_snap_cache_clear(srv);
	for (size_t i = 0; i < srv->nsnaps; i++)
		hr_snap_manifest_free(srv->snaps[i]);
	free(srv->snaps);
	srv->snaps = NULL;
	srv->nsnaps = 0;
}
