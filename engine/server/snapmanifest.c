/* snapmanifest.c — the snapshot manifest codec (format in hr_format.h,
 * "Snapshot manifests"; contract in hr_snapshot.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_format.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"

void hr_snap_manifest_free(hr_snap_manifest *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nregions; i++) {
		hr_snap_region *r = &m->regions[i];
		for (uint32_t j = 0; j < r->nstores; j++)
			free(r->stores[j].files);
		free(r->stores);
		free(r->start);
		free(r->end);
	}
	free(m->regions);
	free(m);
}

typedef struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
} wbuf;

static uint8_t *reserve(wbuf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap * 2 : 512;
		while (c < b->len + n)
			c *= 2;
		uint8_t *np = realloc(b->p, c);
		if (!np) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = np;
		b->cap = c;
	}
	uint8_t *at = b->p + b->len;
	b->len += n;
	return at;
}

static void w8(wbuf *b, uint8_t v)
{
	uint8_t *p = reserve(b, 1);
	if (p)
		*p = v;
}
static void w16(wbuf *b, uint16_t v)
{
	uint8_t *p = reserve(b, 2);
	if (p)
		memcpy(p, &v, 2);
}
static void w32(wbuf *b, uint32_t v)
{
	uint8_t *p = reserve(b, 4);
	if (p)
		hr_put32(p, v);
}
static void w64(wbuf *b, uint64_t v)
{
	uint8_t *p = reserve(b, 8);
	if (p)
		hr_put64(p, v);
}
static void wbytes(wbuf *b, const void *v, size_t n)
{
	uint8_t *p = reserve(b, n);
	if (p && n)
		memcpy(p, v, n);
}

int hr_snap_manifest_encode(const hr_snap_manifest *m, uint8_t **out, size_t *len)
{
	wbuf b = {0};
	w32(&b, HR_SNAP_MAGIC);
	w32(&b, HR_SNAP_VERSION);
	w64(&b, (uint64_t)m->time_ms);
	w64(&b, m->seq);
	w64(&b, m->snap_id);
	w32(&b, m->schema.nfamilies);
	for (uint32_t i = 0; i < m->schema.nfamilies; i++) {
		const hr_family_schema *f = &m->schema.families[i];
		size_t n = strlen(f->name);
		w8(&b, (uint8_t)n);
		wbytes(&b, f->name, n);
		w32(&b, f->max_versions);
		w64(&b, (uint64_t)f->ttl_ms);
		w32(&b, f->block_size);
		w8(&b, f->bloom);
		w8(&b, f->compression);
		w8(&b, f->keep_deleted_cells ? 1 : 0);
	}
	w32(&b, m->nregions);
	for (uint32_t i = 0; i < m->nregions; i++) {
		const hr_snap_region *r = &m->regions[i];
		w64(&b, r->id);
		w16(&b, (uint16_t)r->start_len);
		wbytes(&b, r->start, r->start_len);
		w16(&b, (uint16_t)r->end_len);
		wbytes(&b, r->end, r->end_len);
		w16(&b, (uint16_t)r->nstores);
		for (uint32_t j = 0; j < r->nstores; j++) {
			const hr_snap_store *s = &r->stores[j];
			size_t n = strlen(s->family);
			w8(&b, (uint8_t)n);
			wbytes(&b, s->family, n);
			w32(&b, s->nfiles);
			for (uint32_t k = 0; k < s->nfiles; k++) {
				w64(&b, s->files[k].id);
				w64(&b, s->files[k].size);
			}
		}
	}
	if (!b.err)
		w32(&b, hr_crc32c(0, b.p, b.len));
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

typedef struct rbuf {
	const uint8_t *p, *end;
	int bad;
} rbuf;

static const uint8_t *take(rbuf *b, size_t n)
{
	if (b->bad || (size_t)(b->end - b->p) < n) {
		b->bad = 1;
		return NULL;
	}
	const uint8_t *at = b->p;
	b->p += n;
	return at;
}
static uint8_t r8(rbuf *b)
{
	const uint8_t *p = take(b, 1);
	return p ? *p : 0;
}
static uint16_t r16(rbuf *b)
{
	const uint8_t *p = take(b, 2);
	uint16_t v = 0;
	if (p)
		memcpy(&v, p, 2);
	return v;
}
static uint32_t r32(rbuf *b)
{
	const uint8_t *p = take(b, 4);
	return p ? hr_get32(p) : 0;
}
static uint64_t r64(rbuf *b)
{
	const uint8_t *p = take(b, 8);
	return p ? hr_get64(p) : 0;
}

/* a name of n bytes into out (HR_MAX_NAME + 1) */
static void rname(rbuf *b, char *out)
{
	uint8_t n = r8(b);
	const uint8_t *p = take(b, n);
	if (p) {
		memcpy(out, p, n);
		out[n] = 0;
	}
}

static uint8_t *rdup(rbuf *b, size_t n)
{
	const uint8_t *p = take(b, n);
	uint8_t *d = malloc(n ? n : 1);
	if (!p || !d) {
		free(d);
		b->bad = 1;
		return NULL;
	}
	if (n)
		memcpy(d, p, n);
	return d;
}

int hr_snap_manifest_decode(const char *table, const char *name, const void *v, size_t len,
			    hr_snap_manifest **out)
{
	const uint8_t *base = v;
	if (len < 40 || hr_get32(base) != HR_SNAP_MAGIC || hr_get32(base + 4) != HR_SNAP_VERSION ||
	    hr_crc32c(0, base, len - 4) != hr_get32(base + len - 4)) {
		hr_log_error("snapshot", "%s/%s: bad manifest (magic, version or CRC)", table, name);
		return -EIO;
	}
	hr_snap_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->table, sizeof(m->table), "%s", table);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->schema.name, sizeof(m->schema.name), "%s", table);
	rbuf b = {base + 8, base + len - 4, 0};
	m->time_ms = (int64_t)r64(&b);
	m->seq = r64(&b);
	m->snap_id = r64(&b);
	m->schema.nfamilies = r32(&b);
	if (m->schema.nfamilies > HR_MAX_FAMILIES)
		b.bad = 1;
	for (uint32_t i = 0; !b.bad && i < m->schema.nfamilies; i++) {
		hr_family_schema *f = &m->schema.families[i];
		rname(&b, f->name);
		f->max_versions = r32(&b);
		f->ttl_ms = (int64_t)r64(&b);
		f->block_size = r32(&b);
		f->bloom = r8(&b);
		f->compression = r8(&b);
		f->keep_deleted_cells = r8(&b) & 1;
	}
	uint32_t nr = r32(&b);
	if (!b.bad && nr > (size_t)(b.end - b.p) / 14)
		b.bad = 1;
	if (!b.bad && nr && !(m->regions = calloc(nr, sizeof(*m->regions))))
		b.bad = 1;
	for (uint32_t i = 0; !b.bad && i < nr; i++) {
		hr_snap_region *r = &m->regions[i];
		m->nregions = i + 1;
		r->id = r64(&b);
		r->start_len = r16(&b);
		r->start = rdup(&b, r->start_len);
		r->end_len = r16(&b);
		r->end = rdup(&b, r->end_len);
		uint16_t ns = r16(&b);
		if (b.bad || ns > HR_MAX_FAMILIES ||
		    (ns && !(r->stores = calloc(ns, sizeof(*r->stores))))) {
			b.bad = 1;
			break;
		}
		for (uint32_t j = 0; !b.bad && j < ns; j++) {
			hr_snap_store *s = &r->stores[j];
			r->nstores = j + 1;
			rname(&b, s->family);
			uint32_t nf = r32(&b);
			if (b.bad || nf > (size_t)(b.end - b.p) / 16) {
				b.bad = 1;
				break;
			}
			if (nf && !(s->files = calloc(nf, sizeof(*s->files)))) {
				b.bad = 1;
				break;
			}
			s->nfiles = nf;
			for (uint32_t k = 0; k < nf; k++) {
				s->files[k].id = r64(&b);
				s->files[k].size = r64(&b);
			}
		}
	}
	if (b.bad || b.p != b.end) {
		hr_log_error("snapshot", "%s/%s: malformed manifest", table, name);
		hr_snap_manifest_free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

/* ---- the export manifest (hr_format.h, "Snapshot exports") ----------------- */

int hr_snap_export_encode(const hr_snap_export *x, uint8_t **out, size_t *len)
{
	uint8_t *man = NULL;
	size_t mlen = 0;
	int rc = hr_snap_manifest_encode(x->m, &man, &mlen);
	if (rc < 0)
		return rc;
	wbuf b = {0};
	wbytes(&b, HR_EXPORT_MAGIC, 8);
	w32(&b, HR_EXPORT_VERSION);
	w32(&b, 0);
	size_t tl = strlen(x->m->table), nl = strlen(x->m->name);
	w16(&b, (uint16_t)tl);
	wbytes(&b, x->m->table, tl);
	w16(&b, (uint16_t)nl);
	wbytes(&b, x->m->name, nl);
	w32(&b, (uint32_t)mlen);
	wbytes(&b, man, mlen);
	w32(&b, x->nfiles);
	for (uint32_t i = 0; i < x->nfiles; i++) {
		w64(&b, x->files[i].id);
		w64(&b, x->files[i].size);
		w32(&b, x->files[i].crc);
	}
	if (!b.err)
		w32(&b, hr_crc32c(0, b.p, b.len));
	free(man);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

void hr_snap_export_free(hr_snap_export *x)
{
	if (!x)
		return;
	hr_snap_manifest_free(x->m);
	free(x->files);
	free(x);
}

int hr_snap_export_decode(const void *v, size_t len, hr_snap_export **out)
{
	const uint8_t *base = v;
	char table[HR_MAX_NAME + 1], name[HR_MAX_NAME + 1];
	if (len < 32 || memcmp(base, HR_EXPORT_MAGIC, 8) != 0 ||
	    hr_get32(base + 8) != HR_EXPORT_VERSION ||
	    hr_crc32c(0, base, len - 4) != hr_get32(base + len - 4))
		return -EIO;
	hr_snap_export *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	rbuf b = {base + 16, base + len - 4, 0};
	uint16_t tl = r16(&b);
	const uint8_t *tp = take(&b, tl);
	uint16_t nl = r16(&b);
	const uint8_t *np = take(&b, nl);
	uint32_t mlen = r32(&b);
	const uint8_t *mp = take(&b, mlen);
	uint32_t nf = r32(&b);
	int rc = -EIO;
	if (b.bad || tl > HR_MAX_NAME || nl > HR_MAX_NAME || nf > (size_t)(b.end - b.p) / 20)
		goto fail;
	memcpy(table, tp, tl);
	table[tl] = 0;
	memcpy(name, np, nl);
	name[nl] = 0;
	if ((rc = hr_snap_manifest_decode(table, name, mp, mlen, &x->m)) < 0)
		goto fail;
	rc = -ENOMEM;
	if (nf && !(x->files = calloc(nf, sizeof(*x->files))))
		goto fail;
	x->nfiles = nf;
	for (uint32_t i = 0; i < nf; i++) {
		x->files[i].id = r64(&b);
		x->files[i].size = r64(&b);
		x->files[i].crc = r32(&b);
	}
	rc = -EIO;
	if (b.bad || b.p != b.end)
		goto fail;
	*out = x;
	return 0;
fail:
	hr_snap_export_free(x);
	return rc;
}
