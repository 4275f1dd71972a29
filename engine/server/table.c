/* table.c — schema operations: create, drop, list, describe, add a family
 * (contract in hregionfs.h). Each change is one LMDB transaction, committed
 * before the in-memory map changes, under srv->map_lock (write). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_host.h"
#include "engine/hr_server.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

void hr_family_defaults(hr_family_schema *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	f->max_versions = 1;
	f->ttl_ms = 0;
	f->block_size = 64 * 1024;
	f->bloom = HR_BLOOM_ROW;
	f->compression = HR_COMPRESSION_NONE;
}

const char *hr_compression_name(int c)
{
	switch (c) {
	case HR_COMPRESSION_NONE:
		return "none";
	case HR_COMPRESSION_LZ4:
		return "lz4";
	case HR_COMPRESSION_ZSTD:
		return "zstd";
	default:
		return "unknown";
	}
}

int hr_compression_parse(const char *name)
{
	for (int c = HR_COMPRESSION_NONE; c <= HR_COMPRESSION_ZSTD; c++)
		if (name && strcmp(name, hr_compression_name(c)) == 0)
			return c;
	return -EINVAL;
}

static int name_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.'; }

int hr_table_name_valid(const char *name)
{
	if (!name)
		return 0;
	const char *colon = strchr(name, ':');
	const char *q = name;
	if (colon) {
		if (colon == name)
			return 0;
		for (const char *p = name; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return 0;
		q = colon + 1;
	}
	size_t n = strlen(q);
	if (n == 0 || strlen(name) > HR_MAX_NAME || q[0] == '.' || q[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)q[i]))
			return 0;
	/* HBase reserves these */
	return strcmp(q, ".") != 0 && strcmp(q, "..") != 0;
}

int hr_family_name_valid(const char *name)
{
	if (!name || !name[0] || name[0] == '.' || strlen(name) > HR_MAX_NAME)
		return 0;
	for (const char *p = name; *p; p++)
		if (!name_char((unsigned char)*p))
			return 0;
	return 1;
}

static int family_valid(const hr_family_schema *f)
{
	return hr_family_name_valid(f->name) && f->max_versions != 0 && f->ttl_ms >= 0 &&
	       f->block_size >= 512 && f->block_size <= (64u << 20) && f->keep_deleted_cells <= 1 &&
	       f->bloom <= HR_BLOOM_ROW && f->compression <= HR_COMPRESSION_ZSTD;
}

static int schema_valid(const hr_table_schema *s)
{
	if (!hr_table_name_valid(s->name) || s->nfamilies == 0 || s->nfamilies > HR_MAX_FAMILIES)
		return 0;
	for (uint32_t i = 0; i < s->nfamilies; i++) {
		const hr_family_schema *f = &s->families[i];
		if (!family_valid(f))
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(s->families[j].name, f->name) == 0)
				return 0;
	}
	return 1;
}

/* A new store's record: empty, and never in place of an existing one. */
static int add_store_record(hr_meta_txn *t, uint64_t region_id, const char *family)
{
	hr_meta_store ms = {.region_id = region_id};
	snprintf(ms.family, sizeof(ms.family), "%s", family);
	int rc = hr_meta_store_add(t, &ms);
	if (rc == -EEXIST)
		hr_log_error("table", "region %" PRIu64 " already has a store record for '%s': "
			     "refusing to replace it", region_id, family);
	return rc;
}

/* A new table's records: its schema, its one region (whole key range) in
 * state, and an empty store per family. */
static int put_new_table(hr_meta_txn *t, const hr_table_schema *schema, uint64_t rid, int state)
{
	hr_meta_region mr = {.id = rid, .state = state};
	strcpy(mr.table, schema->name);
	int rc;
	if ((rc = hr_meta_table_put(t, schema)) < 0 || (rc = hr_meta_region_put(t, &mr)) < 0)
		return rc;
	for (uint32_t i = 0; i < schema->nfamilies; i++)
		if ((rc = add_store_record(t, rid, schema->families[i].name)) < 0)
			return rc;
	return 0;
}

int hr_table_create(hr_server *srv, const hr_table_schema *schema)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_table_create(srv->client, schema);
	if (!schema_valid(schema))
		return -EINVAL;
	hr_table *t = hr_table_new(schema);
	hr_meta_txn *txn = NULL;
	hr_region *r = NULL;
	uint64_t rid;
	int rc;
	if (!t)
		return -ENOMEM;
	pthread_rwlock_wrlock(&srv->map_lock);
	if (hr_server_table(srv, schema->name)) {
		rc = -EEXIST;
		goto fail;
	}
	/* the id is recorded before its directory exists */
	if ((rc = hr_region_ids_reserve(srv, 1, &rid)) < 0)
		goto fail;
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		goto fail;
	if ((rc = put_new_table(txn, schema, rid, HR_REGION_OPEN)) < 0)
		goto fail;
	if ((rc = hr_region_new(srv, t, rid, NULL, 0, NULL, 0, &r)) < 0)
		goto fail;
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	if ((rc = hr_table_add_region(t, r)) < 0 || (rc = hr_server_table_add(srv, t)) < 0) {
		/* LMDB has it; the next open will too. Keep memory consistent. */
		hr_log_error("table", "'%s': out of memory after commit", schema->name);
		goto fail;
	}
	pthread_rwlock_unlock(&srv->map_lock);
	hr_log_info("table", "created '%s' (%u families, region %" PRIu64 ")", schema->name,
		    schema->nfamilies, rid);
	hr_server_notify_table(srv, schema->name, HR_TABLE_CREATED);
	return 0;
fail:
	pthread_rwlock_unlock(&srv->map_lock);
	hr_meta_abort(txn);
	hr_region_unref(r);
	hr_table_unref(t);
	return rc;
}

/* After a commit that took t out of LMDB and the map (a drop, or a restore
 * that replaced it): closes its regions, retires their files and removes
 * their directories. In-flight writers finish under the updates lock before
 * a region is marked closed; later ones see the state and retry (-ESTALE)
 * into whatever the map holds now. Takes the map's reference. */
void hr_table_retire(hr_server *srv, hr_table *t)
{
	size_t n = t->nregions;
	char (*dirs)[PATH_MAX] = malloc((n ? n : 1) * sizeof(*dirs));
	for (size_t i = 0; i < n; i++) {
		hr_region *r = t->regions[i];
		pthread_mutex_lock(&r->flush_mu);
		pthread_rwlock_wrlock(&r->updates_lock);
		atomic_store(&r->state, HR_REGION_CLOSED);
		pthread_rwlock_unlock(&r->updates_lock);
		pthread_mutex_unlock(&r->flush_mu);
		/* Every file goes with its last reference: that closes its cached
		 * descriptor, drops its cached blocks and unlinks it, now or when
		 * a reader still holding it lets go. */
		unsigned ns = atomic_load(&r->nstores);
		for (unsigned j = 0; j < ns; j++) {
			hr_store *st = r->stores[j];
			pthread_mutex_lock(&st->mu);
			for (uint32_t f = 0; f < st->nfiles; f++)
				hr_sfile_mark_deleted(st->files[f]);
			pthread_mutex_unlock(&st->mu);
		}
		if (dirs)
			snprintf(dirs[i], sizeof(dirs[i]), "%s", r->dir);
	}
	/* the map's references: the regions (memstores, files) go now unless
	 * something still holds them, and then when it lets go */
	hr_table_release(t);
	/* without memory for the names, the next open removes the directories */
	for (size_t i = 0; dirs && i < n; i++)
		hr_io_rmrf(srv->io, dirs[i]);
	hr_io_sync_dir(srv->io, srv->store_dir);
	free(dirs);
}

int hr_table_drop(hr_server *srv, const char *name)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_table_drop(srv->client, name);
	hr_meta_txn *txn = NULL;
	int rc;
	pthread_rwlock_wrlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, name);
	if (!t) {
		pthread_rwlock_unlock(&srv->map_lock);
		return -ENOENT;
	}
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		goto fail;
	if ((rc = hr_meta_table_del(txn, name)) < 0)
		goto fail;
	for (size_t i = 0; i < t->nregions; i++) {
		hr_region *r = t->regions[i];
		if ((rc = hr_meta_region_del(txn, r->id)) < 0)
			goto fail;
		for (unsigned j = 0; j < atomic_load(&r->nstores); j++)
			if ((rc = hr_meta_store_del(txn, r->id, r->stores[j]->fam.name)) < 0)
				goto fail;
	}
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	size_t k = 0;
	while (srv->tables[k] != t)
		k++;
	memmove(&srv->tables[k], &srv->tables[k + 1], (srv->ntables - k - 1) * sizeof(t));
	srv->ntables--;
	pthread_rwlock_unlock(&srv->map_lock);
	hr_table_retire(srv, t);
	hr_log_info("table", "dropped '%s'", name);
	hr_server_notify_table(srv, name, HR_TABLE_DROPPED);
	return 0;
fail:
	hr_meta_abort(txn);
	pthread_rwlock_unlock(&srv->map_lock);
	return rc;
}

int hr_table_schema_get(hr_server *srv, const char *table, hr_table_schema *out)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_table_schema(srv->client, table, out);
	if (srv->host) /* server mode: meta's answer (hr_host.h says why) */
		return hr_host_table_schema(srv, table, out);
	pthread_rwlock_rdlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	if (t)
		*out = t->schema;
	pthread_rwlock_unlock(&srv->map_lock);
	return t ? 0 : -ENOENT;
}

int hr_family_add(hr_server *srv, const char *table, const hr_family_schema *f)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_family_add(srv->client, table, f);
	hr_meta_txn *txn = NULL;
	hr_table_schema *ns = malloc(sizeof(*ns));
	hr_store **fresh = NULL;
	size_t nfresh = 0;
	int rc;
	if (!ns)
		return -ENOMEM;
	/* server mode: the schema this add rewrites is meta's, with families
	 * other servers added (DDL runs on one server at a time: the master) */
	if (srv->host && (rc = hr_host_refresh(srv)) < 0) {
		free(ns);
		return rc;
	}
	pthread_rwlock_wrlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	if (!t) {
		rc = -ENOENT;
		goto out;
	}
	*ns = t->schema;
	for (uint32_t i = 0; i < ns->nfamilies; i++)
		if (strcmp(ns->families[i].name, f->name) == 0) {
			rc = -EEXIST;
			goto out;
		}
	if (ns->nfamilies >= HR_MAX_FAMILIES) {
		rc = -ENOSPC;
		goto out;
	}
	ns->families[ns->nfamilies++] = *f;
	if (!schema_valid(ns)) {
		rc = -EINVAL;
		goto out;
	}
	/* All or nothing: every region's store is made (directory included)
	 * before any region or LMDB changes, and published only after the
	 * commit, so a failure on any region leaves every region as it was. */
	if (!(fresh = calloc(t->nregions ? t->nregions : 1, sizeof(*fresh)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (; nfresh < t->nregions; nfresh++)
		if ((rc = hr_store_new(t->regions[nfresh], f, &fresh[nfresh])) < 0)
			goto out;
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		goto out;
	if ((rc = hr_meta_table_put(txn, ns)) < 0)
		goto out;
	for (size_t i = 0; i < t->nregions; i++)
		if ((rc = add_store_record(txn, t->regions[i]->id, f->name)) < 0)
			goto out;
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto out;
	/* stores first, so the schema never names a family a region lacks */
	for (size_t i = 0; i < t->nregions; i++)
		hr_region_attach_store(t->regions[i], fresh[i]);
	nfresh = 0;
	/* the new entry only: the names already there are read without
	 * map_lock (log lines of flushes and compactions), so they are never
	 * rewritten, even with the same bytes */
	t->schema.families[t->schema.nfamilies] = *f;
	t->schema.nfamilies++;
out:
	hr_meta_abort(txn);
	/* a failed add takes back the directories it made (empty: nothing
	 * was written to them) */
	for (size_t i = 0; i < nfresh; i++) {
		hr_io_rmrf(srv->io, fresh[i]->dir);
		hr_store_free(fresh[i]);
	}
	pthread_rwlock_unlock(&srv->map_lock);
	free(fresh);
	free(ns);
	return rc;
}

#define ALTER_ALL                                                                            \
	(HR_ALTER_MAX_VERSIONS | HR_ALTER_TTL | HR_ALTER_BLOCK_SIZE | HR_ALTER_BLOOM |          \
	 HR_ALTER_COMPRESSION | HR_ALTER_KEEP_DELETED_CELLS)

int hr_family_alter(hr_server *srv, const char *table, const char *family, unsigned mask,
		    const hr_family_schema *v)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	hr_meta_txn *txn = NULL;
	hr_table_schema *ns = malloc(sizeof(*ns));
	int rc;
	if (!ns)
		return -ENOMEM;
	if ((mask & ~(unsigned)ALTER_ALL) || !family) {
		free(ns);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	hr_family_schema *f = NULL;
	if (t) {
		*ns = t->schema;
		for (uint32_t i = 0; i < ns->nfamilies && !f; i++)
			if (strcmp(ns->families[i].name, family) == 0)
				f = &ns->families[i];
	}
	if (!f) {
		rc = -ENOENT;
		goto out;
	}
	if (mask & HR_ALTER_MAX_VERSIONS)
		f->max_versions = v->max_versions;
	if (mask & HR_ALTER_TTL)
		f->ttl_ms = v->ttl_ms;
	if (mask & HR_ALTER_BLOCK_SIZE)
		f->block_size = v->block_size;
	if (mask & HR_ALTER_BLOOM)
		f->bloom = v->bloom;
	if (mask & HR_ALTER_COMPRESSION)
		f->compression = v->compression;
	if (mask & HR_ALTER_KEEP_DELETED_CELLS)
		f->keep_deleted_cells = v->keep_deleted_cells;
	if (!family_valid(f)) {
		rc = -EINVAL;
		goto out;
	}
	/* LMDB first: memory changes only once the new settings are durable */
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0 || (rc = hr_meta_table_put(txn, ns)) < 0)
		goto out;
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto out;
	/* Every region of the table is in t->regions (a split's daughters
	 * join under map_lock and take the table's schema then: split.c). */
	for (size_t i = 0; i < t->nregions; i++) {
		hr_store *st = hr_region_store(t->regions[i], family);
		if (st)
			hr_store_set_conf(st, f);
	}
	/* the settings only: names are read without map_lock (log lines of
	 * flushes and compactions), so they are never rewritten */
	for (uint32_t i = 0; i < t->schema.nfamilies; i++) {
		hr_family_schema *tf = &t->schema.families[i];
		if (strcmp(tf->name, family) == 0)
			hr_family_copy_settings(tf, f);
	}
	hr_log_info("table", "altered '%s' family '%s': max_versions=%" PRIu32 " ttl_ms=%" PRId64
		    " block_size=%" PRIu32 " bloom=%s compression=%s keep_deleted_cells=%d",
		    table, family, f->max_versions, f->ttl_ms, f->block_size,
		    f->bloom == HR_BLOOM_ROW ? "row" : "none", hr_compression_name(f->compression),
		    f->keep_deleted_cells);
out:
	hr_meta_abort(txn);
	pthread_rwlock_unlock(&srv->map_lock);
	free(ns);
	if (rc == 0)
		hr_server_notify_table(srv, table, HR_TABLE_ALTERED);
	return rc;
}

int hr_table_list(hr_server *srv, char ***names, size_t *n)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_table_list(srv->client, names, n);
	if (srv->host)
		return hr_host_table_list(srv, names, n);
	pthread_rwlock_rdlock(&srv->map_lock);
	char **v = calloc(srv->ntables ? srv->ntables : 1, sizeof(*v));
	size_t k = 0;
	int rc = 0;
	if (!v)
		rc = -ENOMEM;
	for (; v && k < srv->ntables; k++)
		if (!(v[k] = strdup(srv->tables[k]->schema.name))) {
			rc = -ENOMEM;
			break;
		}
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0) {
		hr_names_free(v, k);
		return rc;
	}
	*names = v;
	*n = k;
	return 0;
}

void hr_names_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- server mode (hr_host.h): tables in meta, regions opened elsewhere ---- */

typedef struct table_find {
	const char *name;
	int found;
} table_find;

static int table_find_cb(void *ctx, const hr_table_schema *s)
{
	table_find *f = ctx;
	f->found |= strcmp(s->name, f->name) == 0;
	return 0;
}

int hr_host_table_create(hr_server *srv, const hr_table_schema *schema, uint64_t *region_id)
{
	if (!srv->host)
		return -EOPNOTSUPP;
	if (!schema_valid(schema))
		return -EINVAL;
	hr_meta_txn *txn = NULL;
	table_find f = {.name = schema->name};
	uint64_t rid;
	/* the id is taken (and recorded) first: an id is never handed out twice,
	 * even if this create then finds the table exists */
	int rc = hr_region_ids_reserve(srv, 1, &rid);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		return rc;
	if ((rc = hr_meta_table_each(txn, table_find_cb, &f)) < 0)
		goto fail;
	if (f.found) {
		rc = -EEXIST;
		goto fail;
	}
	if ((rc = put_new_table(txn, schema, rid, HR_REGION_CLOSED)) < 0)
		goto fail;
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	/* known here at once (its region opens where the master says) */
	pthread_rwlock_wrlock(&srv->map_lock);
	if (!hr_server_table(srv, schema->name)) {
		hr_table *t = hr_table_new(schema);
		if (t && hr_server_table_add(srv, t) < 0)
			hr_table_unref(t);
	}
	pthread_rwlock_unlock(&srv->map_lock);
	hr_log_info("table", "created '%s' in meta (%u families, region %" PRIu64 ", not open)",
		    schema->name, schema->nfamilies, rid);
	*region_id = rid;
	return 0;
fail:
	hr_meta_abort(txn);
	return rc;
}

typedef struct drop_scan {
	const char *table;
	uint64_t *ids;
	size_t n;
	struct { uint64_t id; char family[HR_MAX_NAME + 1]; } *st;
	size_t nst;
} drop_scan;

static int drop_region_cb(void *ctx, const hr_meta_region *mr)
{
	drop_scan *d = ctx;
	if (strcmp(mr->table, d->table) != 0)
		return 0;
	uint64_t *v = realloc(d->ids, (d->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->ids = v;
	d->ids[d->n++] = mr->id;
	return 0;
}

static int drop_store_cb(void *ctx, const hr_meta_store *ms)
{
	drop_scan *d = ctx;
	int mine = 0;
	for (size_t i = 0; i < d->n && !mine; i++)
		mine = d->ids[i] == ms->region_id;
	if (!mine)
		return 0;
	void *v = realloc(d->st, (d->nst + 1) * sizeof(*d->st));
	if (!v)
		return -ENOMEM;
	d->st = v;
	d->st[d->nst].id = ms->region_id;
	snprintf(d->st[d->nst].family, sizeof(d->st[d->nst].family), "%s", ms->family);
	d->nst++;
	return 0;
}

int hr_host_table_drop(hr_server *srv, const char *name)
{
	if (!srv->host)
		return -EOPNOTSUPP;
	hr_meta_txn *txn = NULL;
	drop_scan d = {.table = name};
	table_find f = {.name = name};
	int rc;
	pthread_rwlock_wrlock(&srv->map_lock);
	if ((rc = hr_meta_begin(srv->meta, 1, &txn)) < 0)
		goto fail;
	if ((rc = hr_meta_table_each(txn, table_find_cb, &f)) < 0)
		goto fail;
	if (!f.found) {
		rc = -ENOENT;
		goto fail;
	}
	if ((rc = hr_meta_region_each(txn, drop_region_cb, &d)) < 0 ||
	    (rc = hr_meta_store_each(txn, drop_store_cb, &d)) < 0 ||
	    (rc = hr_meta_table_del(txn, name)) < 0)
		goto fail;
	for (size_t i = 0; i < d.n && rc == 0; i++)
		rc = hr_meta_region_del(txn, d.ids[i]);
	for (size_t i = 0; i < d.nst && rc == 0; i++)
		rc = hr_meta_store_del(txn, d.st[i].id, d.st[i].family);
	if (rc < 0)
		goto fail;
	rc = hr_meta_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	hr_table *t = hr_server_table(srv, name);
	if (t) {
		size_t k = 0;
		while (srv->tables[k] != t)
			k++;
		memmove(&srv->tables[k], &srv->tables[k + 1], (srv->ntables - k - 1) * sizeof(t));
		srv->ntables--;
	}
	pthread_rwlock_unlock(&srv->map_lock);
	/* regions still hosted here close without a flush (their data goes) */
	if (t)
		hr_table_retire(srv, t);
	for (size_t i = 0; i < d.n; i++) {
		char dir[PATH_MAX];
		hr_fname_region_dir(srv->store_dir, d.ids[i], dir, sizeof(dir));
		hr_io_rmrf(srv->io, dir);
	}
	hr_io_sync_dir(srv->io, srv->store_dir);
	hr_log_info("table", "dropped '%s' from meta (%zu regions)", name, d.n);
	free(d.ids);
	free(d.st);
	return 0;
fail:
	hr_meta_abort(txn);
	pthread_rwlock_unlock(&srv->map_lock);
	free(d.ids);
	free(d.st);
	return rc;
}
