/* meta_rados.c — the RADOS backend of the region metadata (hr_meta.h,
 * meta_int.h): every record is one omap entry of the object
 * HR_META_RADOS_OBJECT, keyed as hr_format.h "Region metadata in RADOS"
 * says. A write transaction is a sorted buffer of puts, deletes and
 * counter raises plus the compare guards of what it read; commit sends all
 * of it as one write operation, which the OSD applies entirely or not at
 * all. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_rados.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "meta_int.h"

/* omap keys are C strings for start_after/filter_prefix: binary parts of
 * a key are written in hex (order-preserving), see hr_format.h */
#define KEY_MAX 1024
#define OWNER_MAX 256
#define PAGE 256
/* attempts of a commit whose only lost race is a counter raise */
#define CAS_TRIES 1000
#define FORMAT_KEY "format"

static const char *const db_prefix[META_NDB] = {"tables/", "regions/", "stores/",
						"wal/",	   "counters/", "snapshots/"};

enum { W_PUT, W_DEL, W_RAISE };

typedef struct wentry {
	char *key; /* the full omap key */
	int db, kind;
	uint8_t *val; /* W_PUT */
	size_t vl;
	uint64_t raise;	 /* W_RAISE: the counter becomes at least this */
	uint8_t tmp[8];	 /* W_RAISE: the value a get saw */
} wentry;

/* "the committed value of key is val" (vl 0: no record; no record is
 * ever stored with an empty value except WAL records, never guarded) */
typedef struct guard {
	char *key;
	uint8_t *val;
	size_t vl;
	int prval;
} guard;

typedef struct rmeta {
	hr_meta base;
	rados_ioctx_t io;
	char wal_prefix[OWNER_MAX + 8];
	pthread_mutex_t wmu; /* held by the write transaction in progress */
} rmeta;

typedef struct rtxn {
	hr_meta_txn base;
	wentry *w; /* sorted by key (strcmp: bytewise, as the omap) */
	size_t nw, capw;
	guard *g;
	size_t ng, capg;
	void **mem; /* values handed out by get, freed at the end */
	size_t nmem, capmem;
} rtxn;

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, nc * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

static const char *prefix_of(rmeta *m, int db)
{
	return db == META_WAL ? m->wal_prefix : db_prefix[db];
}

static char *hex(char *o, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	return o;
}

static int unhex(const char *s, uint8_t *o, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -EIO;
		if (i % 2 == 0)
			o[i / 2] = (uint8_t)(d << 4);
		else
			o[i / 2] |= (uint8_t)d;
	}
	return 0;
}

/* The omap key of (db, k) into out[KEY_MAX]. */
static int encode_key(rmeta *m, int db, const uint8_t *k, size_t kl, char *out)
{
	const char *pre = prefix_of(m, db);
	size_t pl = strlen(pre);
	const uint8_t *z = NULL;
	if (pl + 2 * kl + 2 > KEY_MAX)
		return -ENAMETOOLONG;
	memcpy(out, pre, pl);
	char *o = out + pl;
	switch (db) {
	case META_REGIONS:
	case META_WAL:
		if (kl != 8)
			return -EINVAL;
		o = hex(o, k, 8);
		break;
	case META_STORES:
		if (kl < 8 || memchr(k + 8, 0, kl - 8))
			return -EINVAL;
		o = hex(o, k, 8);
		*o++ = '/';
		memcpy(o, k + 8, kl - 8);
		o += kl - 8;
		break;
	case META_SNAPSHOTS:
		if (!(z = memchr(k, 0, kl)) || memchr(z + 1, 0, kl - (size_t)(z - k) - 1))
			return -EINVAL;
		o = hex(o, k, (size_t)(z - k));
		*o++ = '/';
		memcpy(o, z + 1, kl - (size_t)(z - k) - 1);
		o += kl - (size_t)(z - k) - 1;
		break;
	default: /* tables, counters: names */
		if (memchr(k, 0, kl))
			return -EINVAL;
		memcpy(o, k, kl);
		o += kl;
	}
	*o = 0;
	return 0;
}

/* The backend-neutral key of an omap key of db into out[KEY_MAX]. */
static int decode_key(rmeta *m, int db, const char *key, uint8_t *out, size_t *kl)
{
	size_t pl = strlen(prefix_of(m, db)), n = strlen(key);
	const char *s = key + pl, *slash;
	if (n < pl)
		return -EIO;
	n -= pl;
	switch (db) {
	case META_REGIONS:
	case META_WAL:
		*kl = 8;
		return n == 16 ? unhex(s, out, 8) : -EIO;
	case META_STORES:
		if (n < 17 || s[16] != '/' || unhex(s, out, 8) < 0)
			return -EIO;
		memcpy(out + 8, s + 17, n - 17);
		*kl = 8 + n - 17;
		return 0;
	case META_SNAPSHOTS:
		if (!(slash = strchr(s, '/')) || (slash - s) % 2 ||
		    unhex(s, out, (size_t)(slash - s) / 2) < 0)
			return -EIO;
		size_t tl = (size_t)(slash - s) / 2;
		out[tl] = 0;
		memcpy(out + tl + 1, slash + 1, n - (size_t)(slash - s) - 1);
		*kl = tl + 1 + n - (size_t)(slash - s) - 1;
		return 0;
	default:
		memcpy(out, s, n);
		*kl = n;
		return 0;
	}
}

/* The committed value of one key: 0 with *v malloc'd (+1 byte), -ENOENT. */
static int read_one(rmeta *m, const char *key, uint8_t **v, size_t *vl)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	int prval = 0;
	size_t kl = strlen(key);
	const char *keys[1] = {key};
	if (!op)
		return -ENOMEM;
	rados_read_op_omap_get_vals_by_keys2(op, keys, 1, &kl, &it, &prval);
	int rc = rados_read_op_operate(op, m->io, HR_META_RADOS_OBJECT, 0);
	if (rc == 0)
		rc = prval;
	if (rc == 0) {
		char *k, *val;
		size_t klen, vlen;
		rc = -ENOENT;
		while (rc == -ENOENT && rados_omap_get_next2(it, &k, &val, &klen, &vlen) == 0 && k) {
			if (klen != kl || memcmp(k, key, kl) != 0)
				continue;
			if (!(*v = malloc(vlen + 1))) {
				rc = -ENOMEM;
				break;
			}
			memcpy(*v, val, vlen);
			*vl = vlen;
			rc = 0;
		}
	} else if (rc != -ENOENT) { /* (-ENOENT: no object yet) */
		hr_log_error("meta", "read of %s: %s", key, strerror(-rc));
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return rc;
}

static void free_txn(rtxn *t)
{
	for (size_t i = 0; i < t->nw; i++) {
		free(t->w[i].key);
		free(t->w[i].val);
	}
	for (size_t i = 0; i < t->ng; i++) {
		free(t->g[i].key);
		free(t->g[i].val);
	}
	for (size_t i = 0; i < t->nmem; i++)
		free(t->mem[i]);
	free(t->w);
	free(t->g);
	free(t->mem);
	if (t->base.write)
		pthread_mutex_unlock(&((rmeta *)t->base.m)->wmu);
	free(t);
}

/* index of key in the buffer, or of where it would go (*found 0) */
static size_t find(rtxn *t, const char *key, int *found)
{
	size_t lo = 0, hi = t->nw;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(t->w[mid].key, key);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* The buffer entry of key, created (kind W_DEL, no value) if missing. */
static wentry *entry(rtxn *t, int db, const char *key)
{
	int found;
	size_t i = find(t, key, &found);
	if (found)
		return &t->w[i];
	char *k = strdup(key);
	if (!k || grow((void **)&t->w, &t->capw, t->nw, sizeof(wentry)) < 0) {
		free(k);
		return NULL;
	}
	memmove(&t->w[i + 1], &t->w[i], (t->nw - i) * sizeof(wentry));
	t->nw++;
	memset(&t->w[i], 0, sizeof(wentry));
	t->w[i].key = k;
	t->w[i].db = db;
	t->w[i].kind = W_DEL;
	return &t->w[i];
}

static int add_guard(rtxn *t, const char *key, const uint8_t *v, size_t vl)
{
	for (size_t i = 0; i < t->ng; i++)
		if (strcmp(t->g[i].key, key) == 0)
			return 0; /* the first read is the one decided on */
	if (grow((void **)&t->g, &t->capg, t->ng, sizeof(guard)) < 0)
		return -ENOMEM;
	guard *g = &t->g[t->ng];
	memset(g, 0, sizeof(*g));
	if (!(g->key = strdup(key)) || (vl && !(g->val = malloc(vl)))) {
		free(g->key);
		return -ENOMEM;
	}
	if (vl)
		memcpy(g->val, v, vl);
	g->vl = vl;
	t->ng++;
	return 0;
}

static int keep(rtxn *t, void *p)
{
	if (grow((void **)&t->mem, &t->capmem, t->nmem, sizeof(void *)) < 0) {
		free(p);
		return -ENOMEM;
	}
	t->mem[t->nmem++] = p;
	return 0;
}

/* The committed value of key as a transaction read: remembered until the
 * end, and guarded in a write transaction. */
static int txn_read(rtxn *t, const char *key, const uint8_t **v, size_t *vl)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int rc = read_one((rmeta *)t->base.m, key, &val, &len);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	int found = rc == 0;
	if (t->base.write && (rc = add_guard(t, key, val, found ? len : 0)) < 0) {
		free(val);
		return rc;
	}
	if (!found)
		return -ENOENT;
	if ((rc = keep(t, val)) < 0)
		return rc;
	*v = val;
	*vl = len;
	return 0;
}

static uint64_t raised(const uint8_t *v, size_t vl, uint64_t raise)
{
	uint64_t cur = vl == 8 ? hr_get64(v) : 0;
	return cur > raise ? cur : raise;
}

static void r_close(hr_meta *hm)
{
	rmeta *m = (rmeta *)hm;
	pthread_mutex_destroy(&m->wmu);
	free(m);
}

static int r_begin(hr_meta *hm, int write, hr_meta_txn **out)
{
	rtxn *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.m = hm;
	t->base.write = write;
	if (write)
		pthread_mutex_lock(&((rmeta *)hm)->wmu);
	*out = &t->base;
	return 0;
}

static void r_abort(hr_meta_txn *ht) { free_txn((rtxn *)ht); }

static int r_get(hr_meta_txn *ht, int db, const void *k, size_t kl, const void **v, size_t *vl)
{
	rtxn *t = (rtxn *)ht;
	rmeta *m = (rmeta *)ht->m;
	char key[KEY_MAX];
	int found, rc = encode_key(m, db, k, kl, key);
	if (rc < 0)
		return rc == -EINVAL ? -ENOENT : rc;
	size_t i = find(t, key, &found);
	if (!found)
		return txn_read(t, key, (const uint8_t **)v, vl);
	wentry *e = &t->w[i];
	if (e->kind == W_DEL)
		return -ENOENT;
	if (e->kind == W_PUT) {
		*v = e->val;
		*vl = e->vl;
		return 0;
	}
	/* a raise not applied yet: what the commit would make of it now */
	uint8_t *cv = NULL;
	size_t cl = 0;
	if ((rc = read_one(m, key, &cv, &cl)) < 0 && rc != -ENOENT)
		return rc;
	hr_put64(e->tmp, raised(cv, rc == 0 ? cl : 0, e->raise));
	free(cv);
	*v = e->tmp;
	*vl = 8;
	return 0;
}

static int r_put(hr_meta_txn *ht, int db, const void *k, size_t kl, const void *v, size_t vl,
		 int noover)
{
	rtxn *t = (rtxn *)ht;
	rmeta *m = (rmeta *)ht->m;
	char key[KEY_MAX];
	int found, rc;
	if (!ht->write)
		return -EROFS;
	if ((rc = encode_key(m, db, k, kl, key)) < 0)
		return rc;
	if (noover) {
		size_t i = find(t, key, &found);
		if (found && t->w[i].kind != W_DEL)
			return -EEXIST;
		const void *cv;
		size_t cl;
		if (!found) {
			rc = txn_read(t, key, (const uint8_t **)&cv, &cl);
			if (rc == 0)
				return -EEXIST;
			if (rc != -ENOENT)
				return rc;
		}
	}
	uint8_t *copy = malloc(vl ? vl : 1);
	wentry *e = copy ? entry(t, db, key) : NULL;
	if (!e) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, v, vl);
	free(e->val);
	e->val = copy;
	e->vl = vl;
	e->kind = W_PUT;
	return 0;
}

static int r_del(hr_meta_txn *ht, int db, const void *k, size_t kl, int must_exist)
{
	rtxn *t = (rtxn *)ht;
	rmeta *m = (rmeta *)ht->m;
	char key[KEY_MAX];
	int found, rc;
	if (!ht->write)
		return -EROFS;
	if ((rc = encode_key(m, db, k, kl, key)) < 0)
		return must_exist ? -ENOENT : 0;
	size_t i = find(t, key, &found);
	if (must_exist) {
		if (found && t->w[i].kind == W_DEL)
			return -ENOENT;
		const void *cv;
		size_t cl;
		if (!found && (rc = txn_read(t, key, (const uint8_t **)&cv, &cl)) < 0)
			return rc;
	}
	wentry *e = entry(t, db, key);
	if (!e)
		return -ENOMEM;
	free(e->val);
	e->val = NULL;
	e->vl = 0;
	e->kind = W_DEL;
	return 0;
}

/* Calls fn for one record (omap key key) of db; its result. */
static int emit(rmeta *m, int db, const char *key, const void *v, size_t vl, meta_each_fn fn,
		void *ctx)
{
	uint8_t raw[KEY_MAX];
	size_t kl;
	if (decode_key(m, db, key, raw, &kl) < 0) {
		hr_log_error("meta", "malformed omap key '%s'", key);
		return -EIO;
	}
	return fn(ctx, raw, kl, v, vl);
}

static int emit_entry(rmeta *m, wentry *e, const void *cv, size_t cl, meta_each_fn fn, void *ctx)
{
	switch (e->kind) {
	case W_PUT:
		return emit(m, e->db, e->key, e->val, e->vl, fn, ctx);
	case W_RAISE:
		hr_put64(e->tmp, raised(cv, cl, e->raise));
		return emit(m, e->db, e->key, e->tmp, 8, fn, ctx);
	default:
		return 0;
	}
}

/* The committed records of db page by page, merged with the buffer. */
static int r_each(hr_meta_txn *ht, int db, meta_each_fn fn, void *ctx)
{
	rtxn *t = (rtxn *)ht;
	rmeta *m = (rmeta *)ht->m;
	const char *pre = prefix_of(m, db);
	size_t pl = strlen(pre);
	char after[KEY_MAX] = "";
	int found, rc = 0;
	size_t bi = find(t, pre, &found);
	unsigned char more = 1;
#define IN_DB(i) ((i) < t->nw && strncmp(t->w[(i)].key, pre, pl) == 0)
	while (more && rc == 0) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		int prval = 0;
		if (!op)
			return -ENOMEM;
		more = 0;
		rados_read_op_omap_get_vals2(op, after, pre, PAGE, &it, &more, &prval);
		rc = rados_read_op_operate(op, m->io, HR_META_RADOS_OBJECT, 0);
		if (rc == 0)
			rc = prval;
		if (rc < 0)
			hr_log_error("meta", "listing %s: %s", pre, strerror(-rc));
		char *k, *v;
		size_t klen, vlen, got = 0;
		while (rc == 0 && rados_omap_get_next2(it, &k, &v, &klen, &vlen) == 0 && k) {
			got++;
			if (klen >= KEY_MAX) {
				rc = -EIO;
				break;
			}
			memcpy(after, k, klen);
			after[klen] = 0;
			while (rc == 0 && IN_DB(bi) && strcmp(t->w[bi].key, after) < 0)
				rc = emit_entry(m, &t->w[bi++], NULL, 0, fn, ctx);
			if (rc)
				break;
			if (IN_DB(bi) && strcmp(t->w[bi].key, after) == 0)
				rc = emit_entry(m, &t->w[bi++], v, vlen, fn, ctx);
			else
				rc = emit(m, db, after, v, vlen, fn, ctx);
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (got == 0)
			more = 0; /* (never loop on an empty page) */
	}
	while (rc == 0 && IN_DB(bi))
		rc = emit_entry(m, &t->w[bi++], NULL, 0, fn, ctx);
#undef IN_DB
	return rc < 0 ? rc : 0;
}

static int r_counter_raise(hr_meta_txn *ht, const char *name, uint64_t v)
{
	rtxn *t = (rtxn *)ht;
	char key[KEY_MAX];
	int rc;
	if (!ht->write)
		return -EROFS;
	if ((rc = encode_key((rmeta *)ht->m, META_COUNTERS, (const uint8_t *)name, strlen(name),
			     key)) < 0)
		return rc;
	int found;
	find(t, key, &found);
	wentry *e = entry(t, META_COUNTERS, key);
	if (!e)
		return -ENOMEM;
	if (!found) {
		e->kind = W_RAISE;
		e->raise = v;
	} else if (e->kind == W_RAISE) {
		if (v > e->raise)
			e->raise = v;
	} else if (e->kind == W_DEL || e->vl != 8 || hr_get64(e->val) < v) {
		/* a value written (or deleted) by this transaction: raise it here */
		uint8_t *nv = realloc(e->val, 8);
		if (!nv)
			return -ENOMEM;
		hr_put64(nv, v);
		e->val = nv;
		e->vl = 8;
		e->kind = W_PUT;
	}
	return 0;
}

/* One attempt at sending the transaction: 0, -EAGAIN (a guard failed),
 * -ECANCELED (only a counter raise lost a race: try again), or an error. */
static int send_txn(rtxn *t)
{
	rmeta *m = (rmeta *)t->base.m;
	size_t nr = 0, ns = 0, nd = 0;
	for (size_t i = 0; i < t->nw; i++)
		nr += t->w[i].kind == W_RAISE;
	uint8_t *cur = calloc(nr ? nr : 1, 16); /* per raise: committed, new */
	int *raise_prval = calloc(nr ? nr : 1, sizeof(int));
	const char **skeys = calloc(t->nw ? t->nw : 1, sizeof(char *));
	const char **svals = calloc(t->nw ? t->nw : 1, sizeof(char *));
	size_t *skl = calloc(t->nw ? t->nw : 1, sizeof(size_t));
	size_t *svl = calloc(t->nw ? t->nw : 1, sizeof(size_t));
	const char **dkeys = calloc(t->nw ? t->nw : 1, sizeof(char *));
	size_t *dkl = calloc(t->nw ? t->nw : 1, sizeof(size_t));
	rados_write_op_t op = rados_create_write_op();
	int rc = 0;
	if (!cur || !raise_prval || !skeys || !svals || !skl || !svl || !dkeys || !dkl || !op) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->ng; i++) {
		t->g[i].prval = 0;
		rados_write_op_omap_cmp2(op, t->g[i].key, LIBRADOS_CMPXATTR_OP_EQ,
					 (const char *)t->g[i].val, strlen(t->g[i].key), t->g[i].vl,
					 &t->g[i].prval);
	}
	size_t r = 0;
	for (size_t i = 0; i < t->nw; i++) {
		wentry *e = &t->w[i];
		if (e->kind == W_PUT) {
			skeys[ns] = e->key;
			skl[ns] = strlen(e->key);
			svals[ns] = (const char *)e->val;
			svl[ns++] = e->vl;
		} else if (e->kind == W_DEL) {
			dkeys[nd] = e->key;
			dkl[nd++] = strlen(e->key);
		} else {
			uint8_t *cv = NULL;
			size_t cl = 0;
			if ((rc = read_one(m, e->key, &cv, &cl)) < 0 && rc != -ENOENT)
				goto out;
			int absent = rc == -ENOENT;
			rc = 0;
			if (!absent && cl != 8) {
				free(cv);
				hr_log_error("meta", "counter %s is corrupt", e->key);
				rc = -EIO;
				goto out;
			}
			uint64_t c = absent ? 0 : hr_get64(cv);
			free(cv);
			if (!absent && c >= e->raise)
				continue; /* counters never go down: nothing to check */
			uint8_t *p = cur + 16 * r;
			hr_put64(p, c);
			hr_put64(p + 8, e->raise);
			rados_write_op_omap_cmp2(op, e->key, LIBRADOS_CMPXATTR_OP_EQ, (const char *)p,
						 strlen(e->key), absent ? 0 : 8, &raise_prval[r]);
			skeys[ns] = e->key;
			skl[ns] = strlen(e->key);
			svals[ns] = (const char *)(p + 8);
			svl[ns++] = 8;
			r++;
		}
	}
	if (ns == 0 && nd == 0)
		goto out; /* nothing to write: what was read needs no check */
	if (ns)
		rados_write_op_omap_set2(op, skeys, svals, skl, svl, ns);
	if (nd)
		rados_write_op_omap_rm_keys2(op, dkeys, dkl, nd);
	rc = hr_rados_note(rados_write_op_operate2(op, m->io, HR_META_RADOS_OBJECT, NULL, 0));
	if (rc == -ECANCELED) {
		for (size_t i = 0; i < t->ng; i++)
			if (t->g[i].prval == -ECANCELED) {
				rc = -EAGAIN;
				break;
			}
	} else if (rc < 0) {
		hr_log_error("meta", "commit: %s", strerror(-rc));
	}
out:
	if (op)
		rados_release_write_op(op);
	free(cur);
	free(raise_prval);
	free(skeys);
	free(svals);
	free(skl);
	free(svl);
	free(dkeys);
	free(dkl);
	return rc;
}

static int r_commit(hr_meta_txn *ht)
{
	rtxn *t = (rtxn *)ht;
	int rc = 0;
	if (ht->write && (t->nw || t->ng) && (rc = hr_meta_announce(ht->m)) == 0) {
		for (int i = 0; i < CAS_TRIES; i++)
			if ((rc = send_txn(t)) != -ECANCELED)
				break;
		if (rc == -ECANCELED)
			rc = -EAGAIN;
		if (rc == -EAGAIN)
			hr_log_warn("meta", "commit lost a race with another process: redo");
	}
	free_txn(t);
	return rc;
}

static int r_counter_alloc(hr_meta *hm, const char *name, uint64_t n, uint64_t floor,
			   uint64_t *first)
{
	rmeta *m = (rmeta *)hm;
	char key[KEY_MAX];
	int rc;
	if ((rc = encode_key(m, META_COUNTERS, (const uint8_t *)name, strlen(name), key)) < 0 ||
	    (rc = hr_meta_announce(hm)) < 0)
		return rc;
	for (int i = 0; i < CAS_TRIES; i++) {
		uint8_t *cv = NULL, nv[8];
		size_t cl = 0;
		int prval = 0;
		if ((rc = read_one(m, key, &cv, &cl)) < 0 && rc != -ENOENT)
			return rc;
		int absent = rc == -ENOENT;
		if (!absent && cl != 8) {
			free(cv);
			return -EIO;
		}
		uint64_t c = absent ? 0 : hr_get64(cv), f = c > floor ? c : floor;
		hr_put64(nv, f + n);
		rados_write_op_t op = rados_create_write_op();
		if (!op) {
			free(cv);
			return -ENOMEM;
		}
		rados_write_op_omap_cmp2(op, key, LIBRADOS_CMPXATTR_OP_EQ, (const char *)cv,
					 strlen(key), absent ? 0 : 8, &prval);
		const char *keys[1] = {key}, *vals[1] = {(const char *)nv};
		size_t kl = strlen(key), vl = 8;
		rados_write_op_omap_set2(op, keys, vals, &kl, &vl, 1);
		rc = hr_rados_note(rados_write_op_operate2(op, m->io, HR_META_RADOS_OBJECT, NULL, 0));
		rados_release_write_op(op);
		free(cv);
		if (rc == 0) {
			*first = f;
			return 0;
		}
		if (rc != -ECANCELED) {
			hr_log_error("meta", "counter %s: %s", name, strerror(-rc));
			return rc;
		}
	}
	return -EAGAIN;
}

static const meta_ops rados_ops = {
	.close = r_close,
	.begin = r_begin,
	.commit = r_commit,
	.abort = r_abort,
	.get = r_get,
	.put = r_put,
	.del = r_del,
	.each = r_each,
	.counter_raise = r_counter_raise,
	.counter_alloc = r_counter_alloc,
};

/* Creates the object with its format record, or checks the record. */
static int open_object(rmeta *m)
{
	uint8_t *v = NULL, fv[4];
	size_t vl = 0;
	int rc = read_one(m, FORMAT_KEY, &v, &vl);
	if (rc == 0) {
		rc = vl == 4 && hr_get32(v) == HR_META_RADOS_FORMAT ? 0 : -EIO;
		if (rc)
			hr_log_error("meta", "%s: unknown format record (%zu bytes)",
				     HR_META_RADOS_OBJECT, vl);
		free(v);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	/* new (or an object without the record): the creation is a commit */
	if ((rc = hr_meta_announce(&m->base)) < 0)
		return rc;
	rados_write_op_t op = rados_create_write_op();
	if (!op)
		return -ENOMEM;
	hr_put32(fv, HR_META_RADOS_FORMAT);
	const char *keys[1] = {FORMAT_KEY}, *vals[1] = {(const char *)fv};
	size_t kl = strlen(FORMAT_KEY), fl = 4;
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	rados_write_op_omap_set2(op, keys, vals, &kl, &fl, 1);
	rc = hr_rados_note(rados_write_op_operate2(op, m->io, HR_META_RADOS_OBJECT, NULL, 0));
	rados_release_write_op(op);
	if (rc < 0)
		hr_log_error("meta", "cannot create %s: %s", HR_META_RADOS_OBJECT, strerror(-rc));
	return rc;
}

int hr_meta_open_rados(rados_ioctx_t ioctx, const char *wal_owner, hr_io *io, hr_meta **out)
{
	if (!wal_owner)
		wal_owner = "";
	if (strchr(wal_owner, '/') || strlen(wal_owner) > OWNER_MAX)
		return -EINVAL;
	rmeta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base.ops = &rados_ops;
	m->base.io = io;
	m->io = ioctx;
	snprintf(m->wal_prefix, sizeof(m->wal_prefix), "wal/%s/", wal_owner);
	pthread_mutex_init(&m->wmu, NULL);
	int rc = open_object(m);
	if (rc < 0) {
		r_close(&m->base);
		return rc;
	}
	*out = &m->base;
	return 0;
}
