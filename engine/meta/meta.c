/* meta.c — the region metadata API (contract in hr_meta.h): records
 * encoded here (hr_format.h, "Region metadata in RADOS"), stored by a backend
 * (meta_int.h: LMDB in meta_lmdb.c, a RADOS omap in meta_rados.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_io.h"
#include "engine/hr_meta.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "meta_int.h"

/* 1: families without flags; 2: + u8 flags per family (bit 0 =
 * keep_deleted_cells). Both are read; 2 is written. Every setting
 * hr_family_alter changes has its field in version 2 (compression was
 * recorded from the start, as 0 = none; 1 = lz4 and 2 = zstd came with
 * alter), so alter needs no new version. */
#define META_SCHEMA_VERSION 2
#define META_FAM_KEEP_DELETED 0x1u

int hr_meta_announce(hr_meta *m)
{
	int rc = hr_io_meta_commit(m->io);
	if (rc) {
		hr_log_error("meta", "commit refused by the I/O layer: %s",
			     strerror(rc < 0 ? -rc : EIO));
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

void hr_meta_close(hr_meta *m)
{
	if (m)
		m->ops->close(m);
}

int hr_meta_begin(hr_meta *m, int write, hr_meta_txn **out)
{
	return m->ops->begin(m, write, out);
}

int hr_meta_commit(hr_meta_txn *t) { return t->m->ops->commit(t); }

void hr_meta_abort(hr_meta_txn *t)
{
	if (t)
		t->m->ops->abort(t);
}

int hr_meta_counter_alloc(hr_meta *m, const char *name, uint64_t n, uint64_t floor,
			  uint64_t *first)
{
	return m->ops->counter_alloc(m, name, n, floor, first);
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t rbe64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int put_flags(hr_meta_txn *t, int db, const void *k, size_t kl, const void *v,
		     size_t vl, int noover)
{
	return t->m->ops->put(t, db, k, kl, v, vl, noover);
}

static int put(hr_meta_txn *t, int db, const void *k, size_t kl, const void *v, size_t vl)
{
	return put_flags(t, db, k, kl, v, vl, 0);
}

static int del(hr_meta_txn *t, int db, const void *k, size_t kl)
{
	return t->m->ops->del(t, db, k, kl, 0);
}

/* (the decoders below were written against LMDB's MDB_val) */
typedef struct mval {
	size_t mv_size;
	const void *mv_data;
} mval;

typedef int (*each_fn)(void *ctx, const mval *k, const mval *v);

struct each_adapt {
	each_fn fn;
	void *ctx;
};

static int each_adapt_cb(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	struct each_adapt *a = ctx;
	mval mk = {kl, k}, mv = {vl, v};
	return a->fn(a->ctx, &mk, &mv);
}

static int each(hr_meta_txn *t, int db, each_fn fn, void *ctx)
{
	struct each_adapt a = {fn, ctx};
	return t->m->ops->each(t, db, each_adapt_cb, &a);
}

static int get(hr_meta_txn *t, int db, const void *k, size_t kl, mval *v)
{
	return t->m->ops->get(t, db, k, kl, &v->mv_data, &v->mv_size);
}

/* ---- tables: u32 version | u32 nfam | nfam x (u8 len, name, u32 maxv,
 *      i64 ttl, u32 block, u8 bloom, u8 compression [, u8 flags: version 2]) */

int hr_meta_table_put(hr_meta_txn *t, const hr_table_schema *s)
{
	uint8_t buf[8 + HR_MAX_FAMILIES * (1 + HR_MAX_NAME + 19)];
	uint8_t *p = buf;
	hr_put32(p, META_SCHEMA_VERSION);
	hr_put32(p + 4, s->nfamilies);
	p += 8;
	for (uint32_t i = 0; i < s->nfamilies; i++) {
		const hr_family_schema *f = &s->families[i];
		size_t n = strlen(f->name);
		*p++ = (uint8_t)n;
		memcpy(p, f->name, n);
		p += n;
		hr_put32(p, f->max_versions);
		hr_put64(p + 4, (uint64_t)f->ttl_ms);
		hr_put32(p + 12, f->block_size);
		p[16] = f->bloom;
		p[17] = f->compression;
		p[18] = f->keep_deleted_cells ? META_FAM_KEEP_DELETED : 0;
		p += 19;
	}
	return put(t, META_TABLES, s->name, strlen(s->name), buf, (size_t)(p - buf));
}

int hr_meta_table_del(hr_meta_txn *t, const char *name)
{
	return del(t, META_TABLES, name, strlen(name));
}

static int decode_table(const mval *k, const mval *v, hr_table_schema *s)
{
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	memset(s, 0, sizeof(*s));
	if (k->mv_size > HR_MAX_NAME || v->mv_size < 8)
		return -EIO;
	uint32_t version = hr_get32(p);
	if (version != 1 && version != 2)
		return -EIO;
	size_t fixed = version == 1 ? 18 : 19;
	memcpy(s->name, k->mv_data, k->mv_size);
	s->nfamilies = hr_get32(p + 4);
	if (s->nfamilies > HR_MAX_FAMILIES)
		return -EIO;
	p += 8;
	for (uint32_t i = 0; i < s->nfamilies; i++) {
		hr_family_schema *f = &s->families[i];
		if (p >= end || p + 1 + *p + fixed > end)
			return -EIO;
		size_t n = *p++;
		memcpy(f->name, p, n);
		p += n;
		f->max_versions = hr_get32(p);
		f->ttl_ms = (int64_t)hr_get64(p + 4);
		f->block_size = hr_get32(p + 12);
		f->bloom = p[16];
		f->compression = p[17];
		if (f->compression > HR_COMPRESSION_ZSTD)
			return -EIO; /* a codec this build does not know */
		if (version >= 2) {
			if (p[18] & ~META_FAM_KEEP_DELETED)
				return -EIO; /* a flag this build does not know */
			f->keep_deleted_cells = (p[18] & META_FAM_KEEP_DELETED) != 0;
		}
		p += fixed;
	}
	return 0;
}

struct table_each_ctx {
	int (*fn)(void *ctx, const hr_table_schema *s);
	void *ctx;
	hr_table_schema s;
};

static int table_each_cb(void *ctx, const mval *k, const mval *v)
{
	struct table_each_ctx *c = ctx;
	if (decode_table(k, v, &c->s) < 0) {
		hr_log_error("meta", "table record '%.*s' is corrupt", (int)k->mv_size,
			     (const char *)k->mv_data);
		return -EIO;
	}
	return c->fn(c->ctx, &c->s);
}

int hr_meta_table_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_table_schema *s), void *ctx)
{
	struct table_each_ctx *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	int rc = each(t, META_TABLES, table_each_cb, c);
	free(c);
	return rc;
}

/* ---- regions: u8 state | u8 tlen | table | u16 slen | start | u16 elen | end */

int hr_meta_region_put(hr_meta_txn *t, const hr_meta_region *r)
{
	size_t tl = strlen(r->table);
	size_t len = 2 + tl + 2 + r->start_len + 2 + r->end_len;
	uint8_t key[8], *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	uint8_t *p = buf;
	*p++ = (uint8_t)r->state;
	*p++ = (uint8_t)tl;
	memcpy(p, r->table, tl);
	p += tl;
	hr_put16(p, (uint16_t)r->start_len);
	if (r->start_len)
		memcpy(p + 2, r->start, r->start_len);
	p += 2 + r->start_len;
	hr_put16(p, (uint16_t)r->end_len);
	if (r->end_len)
		memcpy(p + 2, r->end, r->end_len);
	be64(key, r->id);
	int rc = put(t, META_REGIONS, key, 8, buf, len);
	free(buf);
	return rc;
}

int hr_meta_region_exists(hr_meta_txn *t, uint64_t id)
{
	uint8_t key[8];
	be64(key, id);
	mval v;
	int rc = get(t, META_REGIONS, key, 8, &v);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int hr_meta_region_del(hr_meta_txn *t, uint64_t id)
{
	uint8_t key[8];
	be64(key, id);
	return del(t, META_REGIONS, key, 8);
}

struct region_each_ctx {
	int (*fn)(void *ctx, const hr_meta_region *r);
	void *ctx;
};

static int region_each_cb(void *ctx, const mval *k, const mval *v)
{
	struct region_each_ctx *c = ctx;
	hr_meta_region r;
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	memset(&r, 0, sizeof(r));
	if (k->mv_size != 8 || v->mv_size < 2)
		goto bad;
	r.id = rbe64(k->mv_data);
	r.state = p[0];
	size_t tl = p[1];
	p += 2;
	if (p + tl + 2 > end)
		goto bad;
	memcpy(r.table, p, tl);
	p += tl;
	r.start_len = hr_get16(p);
	r.start = p + 2;
	p += 2 + r.start_len;
	if (p + 2 > end)
		goto bad;
	r.end_len = hr_get16(p);
	r.end = p + 2;
	if (r.end + r.end_len > end)
		goto bad;
	return c->fn(c->ctx, &r);
bad:
	hr_log_error("meta", "region record is corrupt");
	return -EIO;
}

int hr_meta_region_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_meta_region *r), void *ctx)
{
	struct region_each_ctx c = {fn, ctx};
	return each(t, META_REGIONS, region_each_cb, &c);
}

/* ---- stores: key BE region id | family; value u64 flushed | u32 n | n x u64 */

static size_t store_key(uint8_t *key, uint64_t region_id, const char *family)
{
	size_t fl = strlen(family);
	be64(key, region_id);
	memcpy(key + 8, family, fl);
	return 8 + fl;
}

static int store_write(hr_meta_txn *t, const hr_meta_store *s, int noover)
{
	uint8_t key[8 + HR_MAX_NAME];
	size_t kl = store_key(key, s->region_id, s->family);
	size_t len = 12 + (size_t)s->nfiles * 8;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	hr_put64(buf, s->flushed_seq);
	hr_put32(buf + 8, s->nfiles);
	for (uint32_t i = 0; i < s->nfiles; i++)
		hr_put64(buf + 12 + 8 * i, s->files[i]);
	int rc = put_flags(t, META_STORES, key, kl, buf, len, noover);
	free(buf);
	return rc;
}

int hr_meta_store_put(hr_meta_txn *t, const hr_meta_store *s) { return store_write(t, s, 0); }

int hr_meta_store_add(hr_meta_txn *t, const hr_meta_store *s)
{
	return store_write(t, s, 1);
}

int hr_meta_store_del(hr_meta_txn *t, uint64_t region_id, const char *family)
{
	uint8_t key[8 + HR_MAX_NAME];
	size_t kl = store_key(key, region_id, family);
	return del(t, META_STORES, key, kl);
}

struct store_each_ctx {
	int (*fn)(void *ctx, const hr_meta_store *s);
	void *ctx;
};

static int store_each_cb(void *ctx, const mval *k, const mval *v)
{
	struct store_each_ctx *c = ctx;
	hr_meta_store s;
	memset(&s, 0, sizeof(s));
	const uint8_t *p = v->mv_data;
	if (k->mv_size < 9 || k->mv_size > 8 + HR_MAX_NAME || v->mv_size < 12)
		goto bad;
	s.region_id = rbe64(k->mv_data);
	memcpy(s.family, (const uint8_t *)k->mv_data + 8, k->mv_size - 8);
	s.flushed_seq = hr_get64(p);
	s.nfiles = hr_get32(p + 8);
	if (v->mv_size != 12 + (size_t)s.nfiles * 8)
		goto bad;
	/* stored values are only byte-aligned: copy the ids out */
	uint64_t *ids = malloc((s.nfiles ? s.nfiles : 1) * sizeof(uint64_t));
	if (!ids)
		return -ENOMEM;
	for (uint32_t i = 0; i < s.nfiles; i++)
		ids[i] = hr_get64(p + 12 + 8 * i);
	s.files = ids;
	int rc = c->fn(c->ctx, &s);
	free(ids);
	return rc;
bad:
	hr_log_error("meta", "store record is corrupt");
	return -EIO;
}

int hr_meta_store_each(hr_meta_txn *t, int (*fn)(void *ctx, const hr_meta_store *s), void *ctx)
{
	struct store_each_ctx c = {fn, ctx};
	return each(t, META_STORES, store_each_cb, &c);
}

/* ---- wal segments and counters */

int hr_meta_wal_put(hr_meta_txn *t, uint64_t seg_id)
{
	uint8_t key[8];
	be64(key, seg_id);
	return put(t, META_WAL, key, 8, "", 0);
}

int hr_meta_wal_del(hr_meta_txn *t, uint64_t seg_id)
{
	uint8_t key[8];
	be64(key, seg_id);
	return del(t, META_WAL, key, 8);
}

struct wal_each_ctx {
	int (*fn)(void *ctx, uint64_t seg_id);
	void *ctx;
};

static int wal_each_cb(void *ctx, const mval *k, const mval *v)
{
	struct wal_each_ctx *c = ctx;
	(void)v;
	if (k->mv_size != 8)
		return -EIO;
	return c->fn(c->ctx, rbe64(k->mv_data));
}

int hr_meta_wal_each(hr_meta_txn *t, int (*fn)(void *ctx, uint64_t seg_id), void *ctx)
{
	struct wal_each_ctx c = {fn, ctx};
	return each(t, META_WAL, wal_each_cb, &c);
}

int hr_meta_counter_get(hr_meta_txn *t, const char *name, uint64_t *v)
{
	mval val;
	int rc = get(t, META_COUNTERS, name, strlen(name), &val);
	if (rc == -ENOENT) {
		*v = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (val.mv_size != 8)
		return -EIO;
	*v = hr_get64(val.mv_data);
	return 0;
}

int hr_meta_counter_put(hr_meta_txn *t, const char *name, uint64_t v)
{
	uint8_t buf[8];
	hr_put64(buf, v);
	return put(t, META_COUNTERS, name, strlen(name), buf, 8);
}

int hr_meta_counter_raise(hr_meta_txn *t, const char *name, uint64_t v)
{
	if (t->m->ops->counter_raise)
		return t->m->ops->counter_raise(t, name, v);
	uint64_t cur;
	int rc = hr_meta_counter_get(t, name, &cur);
	if (rc == 0 && v > cur)
		rc = hr_meta_counter_put(t, name, v);
	return rc;
}

/* ---- snapshots: key table | 0x00 | name, value the manifest (opaque here) */

static size_t snap_key(uint8_t *key, const char *table, const char *name)
{
	size_t tl = strlen(table), nl = strlen(name);
	memcpy(key, table, tl);
	key[tl] = 0;
	memcpy(key + tl + 1, name, nl);
	return tl + 1 + nl;
}

int hr_meta_snap_add(hr_meta_txn *t, const char *table, const char *name, const void *v,
		     size_t len)
{
	uint8_t key[2 * HR_MAX_NAME + 2];
	if (strlen(table) > HR_MAX_NAME || strlen(name) > HR_MAX_NAME)
		return -EINVAL;
	return put_flags(t, META_SNAPSHOTS, key, snap_key(key, table, name), v, len, 1);
}

int hr_meta_snap_del(hr_meta_txn *t, const char *table, const char *name)
{
	uint8_t key[2 * HR_MAX_NAME + 2];
	if (strlen(table) > HR_MAX_NAME || strlen(name) > HR_MAX_NAME)
		return -ENOENT;
	return t->m->ops->del(t, META_SNAPSHOTS, key, snap_key(key, table, name), 1);
}

typedef struct snap_each_ctx {
	int (*fn)(void *ctx, const char *table, const char *name, const void *v, size_t len);
	void *ctx;
} snap_each_ctx;

static int snap_each_cb(void *ctx, const mval *k, const mval *v)
{
	snap_each_ctx *c = ctx;
	char table[HR_MAX_NAME + 1], name[HR_MAX_NAME + 1];
	const uint8_t *p = k->mv_data, *z = memchr(p, 0, k->mv_size);
	size_t tl = z ? (size_t)(z - p) : 0, nl = z ? k->mv_size - tl - 1 : 0;
	if (!z || tl > HR_MAX_NAME || nl > HR_MAX_NAME) {
		hr_log_error("meta", "malformed snapshot key (%zu bytes)", k->mv_size);
		return -EIO;
	}
	memcpy(table, p, tl);
	table[tl] = 0;
	memcpy(name, z + 1, nl);
	name[nl] = 0;
	return c->fn(c->ctx, table, name, v->mv_data, v->mv_size);
}

int hr_meta_snap_each(hr_meta_txn *t,
		      int (*fn)(void *ctx, const char *table, const char *name, const void *v,
				size_t len),
		      void *ctx)
{
	snap_each_ctx c = {fn, ctx};
	return each(t, META_SNAPSHOTS, snap_each_cb, &c);
}
