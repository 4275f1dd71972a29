/* codec.c — the RPC's request and response messages (layouts in hr_format.h,
 * "RPC"; contract in hr_rpc.h). Writers grow a buffer and remember the
 * first error; readers never read past their end and fail closed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_rpc.h"
#include "engine/hr_rpc_codec.h"
#include "engine/hr_util.h"

#define ABSENT 0xffffffffu

/* ---- writer -------------------------------------------------------------- */

void hr_rpc_w_init(hr_rpc_w *w)
{
	memset(w, 0, sizeof(*w));
	/* room for the frame header: hr_rpc_w_frame fills it in place */
	hr_rpc_w_raw(w, "\0\0\0\0\0\0", 6);
}

static int grow(hr_rpc_w *w, size_t more)
{
	if (w->err)
		return w->err;
	if (more > HR_RPC_MAX_FRAME || w->n + more > HR_RPC_MAX_FRAME - 4)
		return w->err = -EMSGSIZE;
	if (w->n + more <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->n + more)
		cap *= 2;
	uint8_t *p = realloc(w->p, cap);
	if (!p)
		return w->err = -ENOMEM;
	w->p = p;
	w->cap = cap;
	return 0;
}

void hr_rpc_w_raw(hr_rpc_w *w, const void *b, size_t n)
{
	if (grow(w, n) == 0 && n) {
		memcpy(w->p + w->n, b, n);
		w->n += n;
	}
}

void hr_rpc_w_u8(hr_rpc_w *w, uint8_t v) { hr_rpc_w_raw(w, &v, 1); }

void hr_rpc_w_u32(hr_rpc_w *w, uint32_t v)
{
	uint8_t b[4];
	hr_put32(b, v);
	hr_rpc_w_raw(w, b, 4);
}

void hr_rpc_w_u64(hr_rpc_w *w, uint64_t v)
{
	uint8_t b[8];
	hr_put64(b, v);
	hr_rpc_w_raw(w, b, 8);
}

void hr_rpc_w_bytes(hr_rpc_w *w, const void *b, size_t n)
{
	if (n >= ABSENT) {
		if (!w->err)
			w->err = -EMSGSIZE;
		return;
	}
	hr_rpc_w_u32(w, (uint32_t)n);
	hr_rpc_w_raw(w, b, n);
}

void hr_rpc_w_nbytes(hr_rpc_w *w, const void *b, size_t n)
{
	if (!b)
		hr_rpc_w_u32(w, ABSENT);
	else
		hr_rpc_w_bytes(w, b, n);
}

void hr_rpc_w_str(hr_rpc_w *w, const char *s) { hr_rpc_w_bytes(w, s, strlen(s)); }

void hr_rpc_w_nstr(hr_rpc_w *w, const char *s)
{
	hr_rpc_w_nbytes(w, s, s ? strlen(s) : 0);
}

int hr_rpc_w_frame(hr_rpc_w *w, uint8_t type, uint8_t **frame, size_t *n)
{
	if (grow(w, 4) < 0) {
		int e = w->err;
		free(w->p);
		w->p = NULL;
		return e;
	}
	hr_put32(w->p, (uint32_t)(w->n + 4 - 4));
	w->p[4] = HRCTL_PROTO_VERSION;
	w->p[5] = type;
	hr_put32(w->p + w->n, hr_crc32c(0, w->p, w->n));
	*frame = w->p;
	*n = w->n + 4;
	w->p = NULL;
	return 0;
}

void hr_rpc_w_discard(hr_rpc_w *w)
{
	free(w->p);
	w->p = NULL;
}

/* ---- reader -------------------------------------------------------------- */

void hr_rpc_r_init(hr_rpc_r *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->end = p + n;
	r->err = 0;
}

static const uint8_t *take(hr_rpc_r *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = -EBADMSG;
		return NULL;
	}
	const uint8_t *q = r->p;
	r->p += n;
	return q;
}

uint8_t hr_rpc_r_u8(hr_rpc_r *r)
{
	const uint8_t *q = take(r, 1);
	return q ? q[0] : 0;
}

uint32_t hr_rpc_r_u32(hr_rpc_r *r)
{
	const uint8_t *q = take(r, 4);
	return q ? hr_get32(q) : 0;
}

uint64_t hr_rpc_r_u64(hr_rpc_r *r)
{
	const uint8_t *q = take(r, 8);
	return q ? hr_get64(q) : 0;
}

/* *present = 0 for an absent nbytes */
const uint8_t *hr_rpc_r_nbytes(hr_rpc_r *r, size_t *n, int *present)
{
	uint32_t l = hr_rpc_r_u32(r);
	*n = 0;
	if (present)
		*present = 1;
	if (r->err)
		return NULL;
	if (l == ABSENT) {
		if (!present)
			r->err = -EBADMSG;
		else
			*present = 0;
		return NULL;
	}
	const uint8_t *q = take(r, l);
	if (q)
		*n = l;
	/* a present empty field still needs a non-NULL pointer */
	return q ? q : NULL;
}

const uint8_t *hr_rpc_r_bytes(hr_rpc_r *r, size_t *n) { return hr_rpc_r_nbytes(r, n, NULL); }

void hr_rpc_r_name(hr_rpc_r *r, char out[HR_MAX_NAME + 1])
{
	size_t n;
	const uint8_t *q = hr_rpc_r_bytes(r, &n);
	out[0] = '\0';
	if (!q)
		return;
	if (n < 1 || n > HR_MAX_NAME || memchr(q, '\0', n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(out, q, n);
	out[n] = '\0';
}

int hr_rpc_r_end(hr_rpc_r *r)
{
	if (!r->err && r->p != r->end)
		r->err = -EBADMSG;
	return r->err;
}

/* ---- schemas ------------------------------------------------------------- */

void hr_rpc_w_family(hr_rpc_w *w, const hr_family_schema *f)
{
	hr_rpc_w_str(w, f->name);
	hr_rpc_w_u32(w, f->max_versions);
	hr_rpc_w_u64(w, (uint64_t)f->ttl_ms);
	hr_rpc_w_u32(w, f->block_size);
	hr_rpc_w_u8(w, f->bloom);
	hr_rpc_w_u8(w, f->compression);
	hr_rpc_w_u8(w, f->keep_deleted_cells);
}

void hr_rpc_r_family(hr_rpc_r *r, hr_family_schema *f)
{
	memset(f, 0, sizeof(*f));
	hr_rpc_r_name(r, f->name);
	f->max_versions = hr_rpc_r_u32(r);
	f->ttl_ms = (int64_t)hr_rpc_r_u64(r);
	f->block_size = hr_rpc_r_u32(r);
	f->bloom = hr_rpc_r_u8(r);
	f->compression = hr_rpc_r_u8(r);
	f->keep_deleted_cells = hr_rpc_r_u8(r);
}

void hr_rpc_w_schema(hr_rpc_w *w, const hr_table_schema *s)
{
	hr_rpc_w_str(w, s->name);
	hr_rpc_w_u32(w, s->nfamilies);
	for (uint32_t i = 0; i < s->nfamilies && i < HR_MAX_FAMILIES; i++)
		hr_rpc_w_family(w, &s->families[i]);
}

void hr_rpc_r_schema(hr_rpc_r *r, hr_table_schema *s)
{
	memset(s, 0, sizeof(*s));
	hr_rpc_r_name(r, s->name);
	uint32_t n = hr_rpc_r_u32(r);
	if (n > HR_MAX_FAMILIES) {
		r->err = -EBADMSG;
		return;
	}
	s->nfamilies = n;
	for (uint32_t i = 0; i < n && !r->err; i++)
		hr_rpc_r_family(r, &s->families[i]);
}

/* ---- requests ------------------------------------------------------------ */

static void w_cells(hr_rpc_w *w, const hr_mcell *c, size_t n)
{
	hr_rpc_w_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		hr_rpc_w_str(w, c[i].family ? c[i].family : "");
		/* a family delete's qualifier is ignored (and may be unset) */
		int fam = c[i].type == HR_DELETE_FAMILY;
		hr_rpc_w_bytes(w, fam ? NULL : c[i].qualifier, fam ? 0 : c[i].qualifier_len);
		hr_rpc_w_u64(w, (uint64_t)c[i].ts);
		hr_rpc_w_u8(w, c[i].type);
		hr_rpc_w_bytes(w, c[i].value, c[i].type == HR_PUT ? c[i].value_len : 0);
		hr_rpc_w_bytes(w, c[i].tags, c[i].type == HR_PUT ? c[i].tags_len : 0);
	}
}

int hr_rpc_req_encode(const hr_rpc_req *q, uint8_t **frame, size_t *n)
{
	hr_rpc_w w;
	hr_rpc_w_init(&w);
	hr_rpc_w_u64(&w, q->id);
	switch (q->type) {
	case HR_RPC_GET:
	case HR_RPC_GET_VERSIONS:
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_bytes(&w, q->row, q->row_len);
		hr_rpc_w_str(&w, q->family ? q->family : "");
		hr_rpc_w_bytes(&w, q->qual, q->qual_len);
		if (q->type == HR_RPC_GET) {
			hr_rpc_w_u32(&w, q->flags);
		} else {
			hr_rpc_w_u32(&w, q->gopts.max_versions);
			hr_rpc_w_u64(&w, (uint64_t)q->gopts.min_ts);
			hr_rpc_w_u64(&w, (uint64_t)q->gopts.max_ts);
			hr_rpc_w_u32(&w, q->gopts.flags);
		}
		break;
	case HR_RPC_EXISTS:
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_bytes(&w, q->row, q->row_len);
		hr_rpc_w_nstr(&w, q->family);
		hr_rpc_w_nbytes(&w, q->family ? (q->qual ? (const void *)q->qual : NULL) : NULL,
				q->qual_len);
		break;
	case HR_RPC_MUTATE:
	case HR_RPC_CHECK_AND_MUTATE:
		if (q->ncells > HR_RPC_MAX_CELLS || q->nchecks > HR_RPC_MAX_CELLS) {
			hr_rpc_w_discard(&w);
			return -E2BIG;
		}
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_bytes(&w, q->row, q->row_len);
		hr_rpc_w_u32(&w, q->flags);
		if (q->type == HR_RPC_CHECK_AND_MUTATE) {
			hr_rpc_w_u32(&w, (uint32_t)q->nchecks);
			for (size_t i = 0; i < q->nchecks; i++) {
				const hr_check *c = &q->checks[i];
				hr_rpc_w_str(&w, c->family ? c->family : "");
				hr_rpc_w_bytes(&w, c->qualifier, c->qualifier_len);
				hr_rpc_w_u8(&w, (uint8_t)c->op);
				hr_rpc_w_u64(&w, (uint64_t)c->ts);
				hr_rpc_w_u64(&w, c->seq);
				hr_rpc_w_bytes(&w, c->value, c->value_len);
			}
		}
		w_cells(&w, q->cells, q->ncells);
		break;
	case HR_RPC_SCAN_OPEN: {
		const hr_scan_opts *o = &q->sopts;
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_nbytes(&w, o->start_len ? o->start : NULL, o->start_len);
		hr_rpc_w_nbytes(&w, o->stop_len ? o->stop : NULL, o->stop_len);
		hr_rpc_w_nbytes(&w, o->prefix_len ? o->prefix : NULL, o->prefix_len);
		hr_rpc_w_nstr(&w, o->family);
		hr_rpc_w_nstr(&w, o->resume_family);
		hr_rpc_w_nbytes(&w, o->resume_qualifier, o->resume_qualifier_len);
		hr_rpc_w_u8(&w, o->start_after_row ? 1 : 0);
		hr_rpc_w_u8(&w, (uint8_t)o->mode);
		hr_rpc_w_u8(&w, o->with_values ? 1 : 0);
		hr_rpc_w_u8(&w, o->history ? 1 : 0);
		hr_rpc_w_u64(&w, (uint64_t)o->max_ts);
		hr_rpc_w_u32(&w, q->batch);
		break;
	}
	case HR_RPC_SCAN_NEXT:
		hr_rpc_w_u64(&w, q->cursor);
		hr_rpc_w_u32(&w, q->batch);
		break;
	case HR_RPC_SCAN_CLOSE:
		hr_rpc_w_u64(&w, q->cursor);
		break;
	case HR_RPC_TABLE_LIST:
	case HR_RPC_STATS:
		break;
	case HR_RPC_TABLE_SCHEMA:
	case HR_RPC_DROP_TABLE:
		hr_rpc_w_str(&w, q->table);
		break;
	case HR_RPC_LOCATE:
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_bytes(&w, q->row, q->row_len);
		break;
	case HR_RPC_CREATE_TABLE:
		hr_rpc_w_schema(&w, q->schema);
		break;
	case HR_RPC_FAMILY_ADD:
		hr_rpc_w_str(&w, q->table);
		hr_rpc_w_family(&w, &q->schema->families[0]);
		break;
	default:
		hr_rpc_w_discard(&w);
		return -EPROTO;
	}
	return hr_rpc_w_frame(&w, q->type, frame, n);
}

/* A NUL-terminated family name copied into the request's name block. */
static const char *r_family(hr_rpc_r *r, char *slot)
{
	hr_rpc_r_name(r, slot);
	return slot;
}

static const char *r_nname(hr_rpc_r *r, char *slot)
{
	size_t n;
	int present;
	const uint8_t *q = hr_rpc_r_nbytes(r, &n, &present);
	if (r->err || !present)
		return NULL;
	if (n < 1 || n > HR_MAX_NAME || memchr(q, '\0', n)) {
		r->err = -EBADMSG;
		return NULL;
	}
	memcpy(slot, q, n);
	slot[n] = '\0';
	return slot;
}

static int r_cells(hr_rpc_r *r, hr_rpc_req *out)
{
	uint32_t n = hr_rpc_r_u32(r);
	if (r->err || n > HR_RPC_MAX_CELLS || n > (size_t)(r->end - r->p) / 25)
		return r->err = -EBADMSG;
	out->ncells = n;
	if (!n)
		return 0;
	if (!(out->cells = calloc(n, sizeof(hr_mcell))))
		return r->err = -ENOMEM;
	char *names = realloc(out->names_, (out->nchecks + n) * (HR_MAX_NAME + 1) + 1);
	if (!names)
		return r->err = -ENOMEM;
	out->names_ = names;
	/* checks' names were copied first; rebase their pointers */
	for (size_t i = 0; i < out->nchecks; i++)
		out->checks[i].family = names + i * (HR_MAX_NAME + 1);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		hr_mcell *c = &out->cells[i];
		c->family = r_family(r, names + (out->nchecks + i) * (HR_MAX_NAME + 1));
		c->qualifier = hr_rpc_r_bytes(r, &c->qualifier_len);
		c->ts = (int64_t)hr_rpc_r_u64(r);
		c->type = hr_rpc_r_u8(r);
		c->value = hr_rpc_r_bytes(r, &c->value_len);
		c->tags = hr_rpc_r_bytes(r, &c->tags_len);
		if (!c->tags_len)
			c->tags = NULL;
	}
	return r->err;
}

int hr_rpc_req_decode(uint8_t type, const uint8_t *p, size_t n, hr_rpc_req *q)
{
	memset(q, 0, sizeof(*q));
	hr_rpc_r r;
	hr_rpc_r_init(&r, p, n);
	q->type = type;
	q->id = hr_rpc_r_u64(&r);
	switch (type) {
	case HR_RPC_GET:
	case HR_RPC_GET_VERSIONS:
		if (!(q->names_ = malloc(HR_MAX_NAME + 1)))
			return -ENOMEM;
		hr_rpc_r_name(&r, q->table);
		q->row = hr_rpc_r_bytes(&r, &q->row_len);
		q->family = r_family(&r, q->names_);
		q->qual = hr_rpc_r_bytes(&r, &q->qual_len);
		if (type == HR_RPC_GET) {
			q->flags = hr_rpc_r_u32(&r);
		} else {
			q->gopts.max_versions = hr_rpc_r_u32(&r);
			q->gopts.min_ts = (int64_t)hr_rpc_r_u64(&r);
			q->gopts.max_ts = (int64_t)hr_rpc_r_u64(&r);
			q->gopts.flags = hr_rpc_r_u32(&r);
		}
		break;
	case HR_RPC_EXISTS:
		if (!(q->names_ = malloc(HR_MAX_NAME + 1)))
			return -ENOMEM;
		hr_rpc_r_name(&r, q->table);
		q->row = hr_rpc_r_bytes(&r, &q->row_len);
		q->family = r_nname(&r, q->names_);
		{
			int present;
			q->qual = hr_rpc_r_nbytes(&r, &q->qual_len, &present);
			if (present && !q->qual)
				q->qual = (const uint8_t *)""; /* the empty qualifier */
			if (!present)
				q->qual = NULL;
			if (q->qual && !q->family)
				r.err = -EBADMSG;
		}
		break;
	case HR_RPC_MUTATE:
	case HR_RPC_CHECK_AND_MUTATE:
		hr_rpc_r_name(&r, q->table);
		q->row = hr_rpc_r_bytes(&r, &q->row_len);
		q->flags = hr_rpc_r_u32(&r);
		if (type == HR_RPC_CHECK_AND_MUTATE) {
			uint32_t c = hr_rpc_r_u32(&r);
			if (r.err || c > HR_RPC_MAX_CELLS || c > (size_t)(r.end - r.p) / 30) {
				r.err = -EBADMSG;
				break;
			}
			q->nchecks = c;
			if (c && (!(q->checks = calloc(c, sizeof(hr_check))) ||
				  !(q->names_ = malloc(c * (HR_MAX_NAME + 1) + 1)))) {
				hr_rpc_req_free(q);
				return -ENOMEM;
			}
			for (uint32_t i = 0; i < c && !r.err; i++) {
				hr_check *k = &q->checks[i];
				k->family = r_family(&r, q->names_ + i * (HR_MAX_NAME + 1));
				k->qualifier = hr_rpc_r_bytes(&r, &k->qualifier_len);
				k->op = hr_rpc_r_u8(&r);
				k->ts = (int64_t)hr_rpc_r_u64(&r);
				k->seq = hr_rpc_r_u64(&r);
				k->value = hr_rpc_r_bytes(&r, &k->value_len);
			}
		}
		if (!r.err && r_cells(&r, q) == -ENOMEM) {
			hr_rpc_req_free(q);
			return -ENOMEM;
		}
		if (!r.err && type == HR_RPC_MUTATE && q->ncells == 0)
			r.err = -EBADMSG;
		break;
	case HR_RPC_SCAN_OPEN: {
		hr_scan_opts *o = &q->sopts;
		if (!(q->names_ = malloc(2 * (HR_MAX_NAME + 1))))
			return -ENOMEM;
		hr_rpc_r_name(&r, q->table);
		int present;
		o->start = hr_rpc_r_nbytes(&r, &o->start_len, &present);
		o->stop = hr_rpc_r_nbytes(&r, &o->stop_len, &present);
		o->prefix = hr_rpc_r_nbytes(&r, &o->prefix_len, &present);
		o->family = r_nname(&r, q->names_);
		o->resume_family = r_nname(&r, q->names_ + HR_MAX_NAME + 1);
		o->resume_qualifier = hr_rpc_r_nbytes(&r, &o->resume_qualifier_len, &present);
		if (present && !o->resume_qualifier)
			o->resume_qualifier = "";
		o->start_after_row = hr_rpc_r_u8(&r);
		o->mode = hr_rpc_r_u8(&r);
		o->with_values = hr_rpc_r_u8(&r);
		o->history = hr_rpc_r_u8(&r);
		o->max_ts = (int64_t)hr_rpc_r_u64(&r);
		q->batch = hr_rpc_r_u32(&r);
		if (o->start_after_row > 1 || o->mode > HR_SCAN_ROWS || o->with_values > 1 ||
		    o->history > 1 || q->batch < 1 || q->batch > HR_RPC_MAX_BATCH)
			r.err = -EBADMSG;
		break;
	}
	case HR_RPC_SCAN_NEXT:
		q->cursor = hr_rpc_r_u64(&r);
		q->batch = hr_rpc_r_u32(&r);
		if (q->batch < 1 || q->batch > HR_RPC_MAX_BATCH)
			r.err = -EBADMSG;
		break;
	case HR_RPC_SCAN_CLOSE:
		q->cursor = hr_rpc_r_u64(&r);
		break;
	case HR_RPC_TABLE_LIST:
	case HR_RPC_STATS:
		break;
	case HR_RPC_TABLE_SCHEMA:
	case HR_RPC_DROP_TABLE:
		hr_rpc_r_name(&r, q->table);
		break;
	case HR_RPC_LOCATE:
		hr_rpc_r_name(&r, q->table);
		q->row = hr_rpc_r_bytes(&r, &q->row_len);
		break;
	case HR_RPC_CREATE_TABLE:
	case HR_RPC_FAMILY_ADD:
		if (!(q->schema = calloc(1, sizeof(*q->schema))))
			return -ENOMEM;
		if (type == HR_RPC_CREATE_TABLE) {
			hr_rpc_r_schema(&r, q->schema);
			snprintf(q->table, sizeof(q->table), "%s", q->schema->name);
		} else {
			hr_rpc_r_name(&r, q->table);
			hr_rpc_r_family(&r, &q->schema->families[0]);
			q->schema->nfamilies = 1;
		}
		break;
	default:
		return -EPROTO;
	}
	int rc = hr_rpc_r_end(&r);
	if (rc < 0)
		hr_rpc_req_free(q);
	return rc;
}

void hr_rpc_req_free(hr_rpc_req *q)
{
	free(q->cells);
	free(q->checks);
	free(q->schema);
	free(q->names_);
	q->cells = NULL;
	q->checks = NULL;
	q->schema = NULL;
	q->names_ = NULL;
}

/* ---- responses ----------------------------------------------------------- */

void hr_rpc_w_value(hr_rpc_w *w, const hr_value *v)
{
	hr_rpc_w_u64(w, v->len);
	hr_rpc_w_u64(w, (uint64_t)v->ts);
	hr_rpc_w_u64(w, v->seq);
	hr_rpc_w_u64(w, v->tags_len);
	hr_rpc_w_nbytes(w, v->data, v->data ? v->len : 0);
	hr_rpc_w_nbytes(w, v->tags, v->tags ? v->tags_len : 0);
}

static void r_value(hr_rpc_r *r, hr_value *v)
{
	int present;
	memset(v, 0, sizeof(*v));
	v->len = hr_rpc_r_u64(r);
	v->ts = (int64_t)hr_rpc_r_u64(r);
	v->seq = hr_rpc_r_u64(r);
	v->tags_len = hr_rpc_r_u64(r);
	size_t dn, tn;
	v->data = (void *)hr_rpc_r_nbytes(r, &dn, &present);
	if (present && dn != v->len)
		r->err = -EBADMSG;
	if (present && !v->data)
		v->data = (void *)"";
	v->tags = (void *)hr_rpc_r_nbytes(r, &tn, &present);
	if (present && tn != v->tags_len)
		r->err = -EBADMSG;
	if (v->len > HR_RPC_MAX_FRAME || v->tags_len > HR_MAX_TAGS_LEN)
		r->err = -EBADMSG;
}

void hr_rpc_w_entry(hr_rpc_w *w, const hr_scan_entry *e)
{
	hr_rpc_w_bytes(w, e->row, e->row_len);
	hr_rpc_w_nstr(w, e->family);
	hr_rpc_w_nbytes(w, e->qualifier ? (const void *)e->qualifier : NULL, e->qualifier_len);
	hr_rpc_w_u64(w, (uint64_t)e->ts);
	hr_rpc_w_u64(w, e->seq);
	hr_rpc_w_u64(w, e->value_len);
	hr_rpc_w_nbytes(w, e->value, e->value ? e->value_len : 0);
	hr_rpc_w_nbytes(w, e->tags, e->tags ? e->tags_len : 0);
}

/* The family name of an entry points into the payload, where it is not
 * NUL-terminated: entries keep names in a side block (names_). */
static int r_entries(hr_rpc_r *r, hr_rpc_resp *o)
{
	o->done = hr_rpc_r_u8(r);
	uint32_t n = hr_rpc_r_u32(r);
	if (r->err || o->done > 1 || n > HR_RPC_MAX_BATCH || n > (size_t)(r->end - r->p) / 44)
		return r->err = -EBADMSG;
	o->nentries = n;
	if (!n)
		return 0;
	if (!(o->entries = calloc(n, sizeof(hr_scan_entry))) ||
	    !(o->fam_ = malloc((size_t)n * (HR_MAX_NAME + 1))))
		return r->err = -ENOMEM;
	for (uint32_t i = 0; i < n && !r->err; i++) {
		hr_scan_entry *e = &o->entries[i];
		int present;
		e->row = hr_rpc_r_bytes(r, &e->row_len);
		e->family = r_nname(r, o->fam_ + (size_t)i * (HR_MAX_NAME + 1));
		e->qualifier = hr_rpc_r_nbytes(r, &e->qualifier_len, &present);
		if (present && !e->qualifier)
			e->qualifier = (const uint8_t *)"";
		e->ts = (int64_t)hr_rpc_r_u64(r);
		e->seq = hr_rpc_r_u64(r);
		e->value_len = hr_rpc_r_u64(r);
		size_t vn, tn;
		e->value = hr_rpc_r_nbytes(r, &vn, &present);
		if (present && !e->value)
			e->value = (const uint8_t *)"";
		if (present && vn != e->value_len)
			r->err = -EBADMSG;
		e->tags = hr_rpc_r_nbytes(r, &tn, &present);
		e->tags_len = tn;
		if (!r->err && (!e->row || e->row_len == 0))
			r->err = -EBADMSG;
	}
	return r->err;
}

int hr_rpc_resp_decode(uint8_t req_type, const uint8_t *p, size_t n, hr_rpc_resp *o)
{
	memset(o, 0, sizeof(*o));
	hr_rpc_r r;
	hr_rpc_r_init(&r, p, n);
	o->id = hr_rpc_r_u64(&r);
	o->err = (int32_t)hr_rpc_r_u32(&r);
	if (r.err)
		return r.err;
	if (o->err > 0 || o->err < -4095)
		return -EBADMSG;
	if (o->err)
		return hr_rpc_r_end(&r);
	switch (req_type) {
	case HR_RPC_GET:
		r_value(&r, &o->value);
		break;
	case HR_RPC_GET_VERSIONS: {
		uint32_t c = hr_rpc_r_u32(&r);
		if (r.err || c > (size_t)(r.end - r.p) / 40) {
			r.err = -EBADMSG;
			break;
		}
		if (c && !(o->values = calloc(c, sizeof(hr_value)))) {
			r.err = -ENOMEM;
			break;
		}
		o->nvalues = c;
		for (uint32_t i = 0; i < c && !r.err; i++)
			r_value(&r, &o->values[i]);
		break;
	}
	case HR_RPC_EXISTS:
		o->exists = hr_rpc_r_u8(&r);
		if (o->exists > 1)
			r.err = -EBADMSG;
		break;
	case HR_RPC_MUTATE:
	case HR_RPC_CHECK_AND_MUTATE:
		o->stamp.ts = (int64_t)hr_rpc_r_u64(&r);
		o->stamp.seq = hr_rpc_r_u64(&r);
		break;
	case HR_RPC_SCAN_OPEN:
		o->cursor = hr_rpc_r_u64(&r);
		/* fall through */
	case HR_RPC_SCAN_NEXT:
		r_entries(&r, o);
		break;
	case HR_RPC_TABLE_LIST: {
		uint32_t c = hr_rpc_r_u32(&r);
		if (r.err || c > HR_RPC_MAX_NAMES || c > (size_t)(r.end - r.p) / 5) {
			r.err = -EBADMSG;
			break;
		}
		if (c && (!(o->names = calloc(c, sizeof(*o->names))) ||
			  !(o->name_lens = calloc(c, sizeof(size_t))))) {
			r.err = -ENOMEM;
			break;
		}
		o->nnames = c;
		for (uint32_t i = 0; i < c && !r.err; i++) {
			o->names[i] = hr_rpc_r_bytes(&r, &o->name_lens[i]);
			if (!r.err && (o->name_lens[i] < 1 || o->name_lens[i] > HR_MAX_NAME ||
				       memchr(o->names[i], '\0', o->name_lens[i])))
				r.err = -EBADMSG;
		}
		break;
	}
	case HR_RPC_TABLE_SCHEMA:
		if (!(o->schema = malloc(sizeof(*o->schema)))) {
			r.err = -ENOMEM;
			break;
		}
		hr_rpc_r_schema(&r, o->schema);
		break;
	case HR_RPC_STATS:
		o->text = hr_rpc_r_bytes(&r, &o->text_len);
		break;
	case HR_RPC_LOCATE: {
		size_t sn, en, an;
		o->loc.region_id = hr_rpc_r_u64(&r);
		const uint8_t *s = hr_rpc_r_bytes(&r, &sn);
		const uint8_t *e = hr_rpc_r_bytes(&r, &en);
		const uint8_t *a = hr_rpc_r_bytes(&r, &an);
		if (r.err)
			break;
		if (an < 3 || an >= HR_RPC_ADDR_MAX || memchr(a, '\0', an) || sn > HR_MAX_ROW ||
		    en > HR_MAX_ROW) {
			r.err = -EBADMSG;
			break;
		}
		memcpy(o->loc.addr, a, an);
		o->loc.addr[an] = '\0';
		if ((sn && !(o->loc.start = malloc(sn))) || (en && !(o->loc.end = malloc(en)))) {
			r.err = -ENOMEM;
			break;
		}
		if (sn)
			memcpy(o->loc.start, s, sn);
		if (en)
			memcpy(o->loc.end, e, en);
		o->loc.start_len = sn;
		o->loc.end_len = en;
		break;
	}
	case HR_RPC_SCAN_CLOSE:
	case HR_RPC_DROP_TABLE:
	case HR_RPC_CREATE_TABLE:
	case HR_RPC_FAMILY_ADD:
		break;
	default:
		r.err = -EPROTO;
	}
	int rc = hr_rpc_r_end(&r);
	if (rc < 0)
		hr_rpc_resp_free(o);
	return rc;
}

void hr_rpc_resp_free(hr_rpc_resp *o)
{
	free(o->values);
	free(o->entries);
	free(o->fam_);
	free(o->names);
	free(o->name_lens);
	free(o->schema);
	hr_rpc_location_free(&o->loc);
	o->values = NULL;
	o->entries = NULL;
	o->fam_ = NULL;
	o->names = NULL;
	o->name_lens = NULL;
	o->schema = NULL;
}

void hr_rpc_location_free(hr_rpc_location *l)
{
	free(l->start);
	free(l->end);
	l->start = l->end = NULL;
	l->start_len = l->end_len = 0;
}
