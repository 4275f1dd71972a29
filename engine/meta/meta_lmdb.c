/* meta_lmdb.c — the LMDB backend of the region metadata (hr_meta.h,
 * meta_int.h): one LMDB environment in <data>/meta, one named database per
 * meta_db. LMDB serialises write transactions (also across processes) and
 * gives each read transaction a snapshot. */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_io.h"
#include "hr_log.h"
#include "meta_int.h"

typedef struct lmeta {
	hr_meta base;
	MDB_env *env;
	MDB_dbi dbi[META_NDB];
} lmeta;

typedef struct ltxn {
	hr_meta_txn base;
	MDB_txn *txn;
} ltxn;

static const char *const db_names[META_NDB] = {"tables",   "regions",  "stores",
					       "wal",      "counters", "snapshots"};

static int mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

static int commit_txn(hr_meta *m, MDB_txn *txn)
{
	int rc = hr_meta_announce(m);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		hr_log_error("meta", "commit: %s", mdb_strerror(rc));
	return mdb_err(rc);
}

static void l_close(hr_meta *hm)
{
	lmeta *m = (lmeta *)hm;
	mdb_env_close(m->env);
	free(m);
}

static int l_begin(hr_meta *hm, int write, hr_meta_txn **out)
{
	lmeta *m = (lmeta *)hm;
	ltxn *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.m = hm;
	t->base.write = write;
	int rc = mdb_txn_begin(m->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc) {
		hr_log_error("meta", "begin transaction: %s", mdb_strerror(rc));
		free(t);
		return mdb_err(rc);
	}
	*out = &t->base;
	return 0;
}

static int l_commit(hr_meta_txn *ht)
{
	ltxn *t = (ltxn *)ht;
	int rc;
	if (ht->write) {
		rc = commit_txn(ht->m, t->txn);
	} else {
		rc = mdb_txn_commit(t->txn);
		if (rc)
			hr_log_error("meta", "commit: %s", mdb_strerror(rc));
		rc = mdb_err(rc);
	}
	free(t);
	return rc;
}

static void l_abort(hr_meta_txn *ht)
{
	ltxn *t = (ltxn *)ht;
	mdb_txn_abort(t->txn);
	free(t);
}

static int l_get(hr_meta_txn *ht, int db, const void *k, size_t kl, const void **v, size_t *vl)
{
	ltxn *t = (ltxn *)ht;
	MDB_val key = {kl, (void *)k}, val;
	int rc = mdb_get(t->txn, ((lmeta *)ht->m)->dbi[db], &key, &val);
	if (rc)
		return mdb_err(rc);
	*v = val.mv_data;
	*vl = val.mv_size;
	return 0;
}

static int l_put(hr_meta_txn *ht, int db, const void *k, size_t kl, const void *v, size_t vl,
		 int noover)
{
	ltxn *t = (ltxn *)ht;
	MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
	int rc = mdb_put(t->txn, ((lmeta *)ht->m)->dbi[db], &key, &val, noover ? MDB_NOOVERWRITE : 0);
	if (rc == MDB_KEYEXIST)
		return -EEXIST;
	if (rc)
		hr_log_error("meta", "put: %s", mdb_strerror(rc));
	return mdb_err(rc);
}

static int l_del(hr_meta_txn *ht, int db, const void *k, size_t kl, int must_exist)
{
	ltxn *t = (ltxn *)ht;
	MDB_val key = {kl, (void *)k};
	int rc = mdb_del(t->txn, ((lmeta *)ht->m)->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND && !must_exist)
		return 0;
	return mdb_err(rc);
}

static int l_each(hr_meta_txn *ht, int db, meta_each_fn fn, void *ctx)
{
	ltxn *t = (ltxn *)ht;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, ((lmeta *)ht->m)->dbi[db], &c);
	if (rc)
		return mdb_err(rc);
	int op = MDB_FIRST;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		int r = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r) {
			mdb_cursor_close(c);
			return r < 0 ? r : 0;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
}

/* LMDB serialises write transactions across processes too: a get and a
 * put in one is a compare-and-swap. */
static int l_counter_alloc(hr_meta *m, const char *name, uint64_t n, uint64_t floor,
			   uint64_t *first)
{
	hr_meta_txn *t;
	uint64_t cur;
	int rc = l_begin(m, 1, &t);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_counter_get(t, name, &cur)) < 0 ||
	    (rc = hr_meta_counter_put(t, name, (cur > floor ? cur : floor) + n)) < 0) {
		l_abort(t);
		return rc;
	}
	if ((rc = l_commit(t)) == 0)
		*first = cur > floor ? cur : floor;
	return rc;
}

static const meta_ops lmdb_ops = {
	.close = l_close,
	.begin = l_begin,
	.commit = l_commit,
	.abort = l_abort,
	.get = l_get,
	.put = l_put,
	.del = l_del,
	.each = l_each,
	.counter_raise = NULL,
	.counter_alloc = l_counter_alloc,
};

int hr_meta_open(const char *dir, hr_io *io, hr_meta **out)
{
	lmeta *m = calloc(1, sizeof(*m));
	MDB_txn *txn = NULL;
	int rc;
	if (!m)
		return -ENOMEM;
	m->base.ops = &lmdb_ops;
	m->base.io = io;
	if ((rc = hr_io_mkdirs(io, dir)) < 0)
		goto fail;
	if ((rc = mdb_err(mdb_env_create(&m->env))) < 0)
		goto fail;
	mdb_env_set_maxdbs(m->env, 8);
	/* Sparse: only what is used takes disk. Metadata is small (file ids). */
	mdb_env_set_mapsize(m->env, (size_t)4 << 30);
	/* owner-only, like everything in the data directory */
	rc = mdb_env_open(m->env, dir, MDB_NOTLS, 0600);
	if (rc) {
		hr_log_error("meta", "%s: cannot open LMDB: %s", dir, mdb_strerror(rc));
		rc = mdb_err(rc);
		goto fail;
	}
	if ((rc = mdb_err(mdb_txn_begin(m->env, NULL, 0, &txn))) < 0)
		goto fail;
	for (int i = 0; i < META_NDB; i++)
		if ((rc = mdb_err(mdb_dbi_open(txn, db_names[i], MDB_CREATE, &m->dbi[i]))) < 0)
			goto fail;
	rc = commit_txn(&m->base, txn);
	txn = NULL;
	if (rc < 0)
		goto fail;
	*out = &m->base;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (m->env)
		mdb_env_close(m->env);
	free(m);
	return rc;
}
