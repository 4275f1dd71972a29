/* scan.c — the client's cursors: a scan walks the table region by region
 * (HBase's ClientScanner). In each region it opens a server-side cursor
 * clipped to the region's end key and pulls batches; at the region's end it
 * goes on at that key in the next region. A failure (server gone, region
 * moved, cursor expired) re-locates and reopens exactly after the last
 * entry returned, with the engine's own resume options, so no entry is
 * repeated or skipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_client.h"
#include "hr_log.h"

typedef struct kbuf {
	uint8_t *p;
	size_t n, cap;
} kbuf;

struct hr_ccursor {
	hr_client *c;
	char table[HR_MAX_NAME + 1];
	hr_scan_opts o;		/* the caller's, with its buffers below */
	kbuf stop, prefix;
	char family[HR_MAX_NAME + 1];
	int has_family;

	/* where the walk is: the next entry is strictly after pos (or at
	 * pos_row itself when !pos_after) */
	kbuf pos_row, pos_qual;
	char pos_family[HR_MAX_NAME + 1];
	int pos_has_family, pos_has_qual, pos_after;

	/* the region being read */
	int in_region;
	kbuf reg_end;		/* its end key (n 0 = table end) */
	char addr[HR_RPC_ADDR_MAX];
	uint64_t cursor;
	int server_open;	/* cursor open on the server */
	int region_done;	/* the server said done */
	int finished;

	/* the current batch */
	uint8_t *frame;
	hr_rpc_resp resp;
	size_t idx;
	kbuf e_row, e_qual, e_val; /* NUL-terminated copies handed out */
	char e_family[HR_MAX_NAME + 1];
};

static int kb_set(kbuf *b, const void *p, size_t n)
{
	if (n + 1 > b->cap) {
		uint8_t *q = realloc(b->p, n + 1);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = n + 1;
	}
	if (n)
		memcpy(b->p, p, n);
	b->p[n] = '\0';
	b->n = n;
	return 0;
}

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t m = an < bn ? an : bn;
	int c = m ? memcmp(a, b, m) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static void drop_batch(hr_ccursor *cc)
{
	if (cc->frame) {
		hr_rpc_resp_free(&cc->resp);
		free(cc->frame);
		cc->frame = NULL;
	}
	cc->idx = 0;
	memset(&cc->resp, 0, sizeof(cc->resp));
}

static int open_region(hr_ccursor *cc);

int hr_client_scan_open(hr_client *c, const char *table, const hr_scan_opts *opts,
			hr_ccursor **out)
{
	if (!table || !*table || strlen(table) > HR_MAX_NAME)
		return -EINVAL;
	if (opts && opts->snapshot)
		return -EOPNOTSUPP;
	hr_ccursor *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->c = c;
	snprintf(cc->table, sizeof(cc->table), "%s", table);
	if (opts)
		cc->o = *opts;
	int rc = 0;
	if (cc->o.family) {
		if (strlen(cc->o.family) > HR_MAX_NAME) {
			rc = -EINVAL;
			goto fail;
		}
		snprintf(cc->family, sizeof(cc->family), "%s", cc->o.family);
		cc->has_family = 1;
	}
	if ((rc = kb_set(&cc->stop, cc->o.stop, cc->o.stop ? cc->o.stop_len : 0)) < 0 ||
	    (rc = kb_set(&cc->prefix, cc->o.prefix, cc->o.prefix ? cc->o.prefix_len : 0)) < 0)
		goto fail;
	/* the first position: the caller's start and resume options */
	/* (a prefix narrows the start at the server, region by region) */
	if ((rc = kb_set(&cc->pos_row, cc->o.start, cc->o.start ? cc->o.start_len : 0)) < 0)
		goto fail;
	cc->pos_after = cc->o.start_after_row;
	if (cc->prefix.n && key_cmp(cc->pos_row.p, cc->pos_row.n, cc->prefix.p, cc->prefix.n) < 0) {
		/* no row before the prefix can match: start the walk at it */
		if ((rc = kb_set(&cc->pos_row, cc->prefix.p, cc->prefix.n)) < 0)
			goto fail;
		cc->pos_after = 0;
	}
	if (cc->o.resume_family) {
		snprintf(cc->pos_family, sizeof(cc->pos_family), "%s", cc->o.resume_family);
		cc->pos_has_family = 1;
		if (cc->o.resume_qualifier) {
			if ((rc = kb_set(&cc->pos_qual, cc->o.resume_qualifier,
					 cc->o.resume_qualifier_len)) < 0)
				goto fail;
			cc->pos_has_qual = 1;
		}
	}
	/* the first region now, so that a missing table fails here as it
	 * does on a local engine */
	if ((rc = open_region(cc)) < 0)
		goto fail;
	*out = cc;
	return 0;
fail:
	hr_client_scan_close(cc);
	return rc;
}

/* 1 when the walk is past the caller's range at key k (a region's end). */
static int past_range(hr_ccursor *cc, const uint8_t *k, size_t kn)
{
	if (cc->stop.n && key_cmp(k, kn, cc->stop.p, cc->stop.n) >= 0)
		return 1;
	if (cc->prefix.n && key_cmp(k, kn, cc->prefix.p, cc->prefix.n) > 0 &&
	    (kn < cc->prefix.n || memcmp(k, cc->prefix.p, cc->prefix.n) != 0))
		return 1;
	return 0;
}

static void close_server_cursor(hr_ccursor *cc)
{
	if (!cc->server_open)
		return;
	hr_rpc_req q = {.type = HR_RPC_SCAN_CLOSE, .cursor = cc->cursor};
	hr_rpc_resp r;
	uint8_t *frame;
	if (hr_client_call(cc->c, cc->addr, &q, &r, &frame) == 0) {
		hr_rpc_resp_free(&r);
		free(frame);
	}
	cc->server_open = 0;
}

/* Opens the server cursor in the region holding the position and takes
 * its first batch. */
static int open_region(hr_ccursor *cc)
{
	hr_client *c = cc->c;
	uint64_t t0 = hr_client_now_ms();
	for (unsigned attempt = 0;; attempt++) {
		hr_rpc_location loc;
		int rc = hr_client_locate(c, cc->table, cc->pos_row.p, cc->pos_row.n, &loc);
		if (rc == 0) {
			hr_rpc_req q = {.type = HR_RPC_SCAN_OPEN, .batch = HR_CLIENT_BATCH};
			snprintf(q.table, sizeof(q.table), "%s", cc->table);
			hr_scan_opts *o = &q.sopts;
			*o = cc->o;
			o->snapshot = NULL;
			o->start = cc->pos_row.n ? cc->pos_row.p : NULL;
			o->start_len = cc->pos_row.n;
			o->start_after_row = cc->pos_after;
			o->resume_family = cc->pos_has_family ? cc->pos_family : NULL;
			o->resume_qualifier = cc->pos_has_qual ? cc->pos_qual.p : NULL;
			o->resume_qualifier_len = cc->pos_has_qual ? cc->pos_qual.n : 0;
			o->family = cc->has_family ? cc->family : NULL;
			o->prefix = cc->prefix.n ? cc->prefix.p : NULL;
			o->prefix_len = cc->prefix.n;
			/* clip to the region: its end, or the caller's stop if sooner */
			o->stop = cc->stop.n ? cc->stop.p : NULL;
			o->stop_len = cc->stop.n;
			if (loc.end_len && (!cc->stop.n || key_cmp(loc.end, loc.end_len, cc->stop.p,
								   cc->stop.n) < 0)) {
				o->stop = loc.end;
				o->stop_len = loc.end_len;
			}
			drop_batch(cc);
			rc = hr_client_call(c, loc.addr, &q, &cc->resp, &cc->frame);
			if (rc == 0 && (rc = cc->resp.err) != 0) {
				hr_rpc_resp_free(&cc->resp);
				free(cc->frame);
				cc->frame = NULL;
			}
			if (rc == 0) {
				snprintf(cc->addr, sizeof(cc->addr), "%s", loc.addr);
				cc->cursor = cc->resp.cursor;
				cc->server_open = !cc->resp.done;
				cc->region_done = cc->resp.done;
				cc->in_region = 1;
				rc = kb_set(&cc->reg_end, loc.end, loc.end_len);
				hr_rpc_location_free(&loc);
				return rc;
			}
			hr_rpc_location_free(&loc);
			if (hr_client_retryable(rc)) {
				hr_client_forget(c, cc->table, cc->pos_row.p, cc->pos_row.n);
				atomic_fetch_add(&c->relocations, 1);
			}
		}
		if (!hr_client_retryable(rc))
			return rc;
		if (hr_client_give_up(c, attempt, t0))
			return -EAGAIN;
		hr_client_backoff(c, attempt);
	}
}

/* The next batch of the open server cursor; a failure reopens. */
static int next_batch(hr_ccursor *cc)
{
	hr_rpc_req q = {.type = HR_RPC_SCAN_NEXT, .cursor = cc->cursor, .batch = HR_CLIENT_BATCH};
	drop_batch(cc);
	int rc = hr_client_call(cc->c, cc->addr, &q, &cc->resp, &cc->frame);
	if (rc == 0 && (rc = cc->resp.err) != 0) {
		hr_rpc_resp_free(&cc->resp);
		free(cc->frame);
		cc->frame = NULL;
	}
	if (rc == 0) {
		cc->region_done = cc->resp.done;
		cc->server_open = !cc->resp.done;
		return 0;
	}
	cc->server_open = 0;
	if (!hr_client_retryable(rc))
		return rc;
	/* the cursor or its server is gone: go on after the last entry */
	return open_region(cc);
}

/* Remembers e as the position to resume after. */
static int note_pos(hr_ccursor *cc, const hr_scan_entry *e)
{
	int rc = kb_set(&cc->pos_row, e->row, e->row_len);
	if (rc < 0)
		return rc;
	cc->pos_after = 0;
	cc->pos_has_family = cc->pos_has_qual = 0;
	if (cc->o.mode == HR_SCAN_ROWS) {
		cc->pos_after = 1;
	} else if (e->family) {
		snprintf(cc->pos_family, sizeof(cc->pos_family), "%s", e->family);
		cc->pos_has_family = 1;
		if (cc->o.mode == HR_SCAN_CELLS && e->qualifier) {
			if ((rc = kb_set(&cc->pos_qual, e->qualifier, e->qualifier_len)) < 0)
				return rc;
			cc->pos_has_qual = 1;
		}
	}
	return 0;
}

int hr_client_scan_next(hr_ccursor *cc, hr_scan_entry *out)
{
	int rc;
	for (;;) {
		if (cc->finished)
			return 0;
		if (cc->frame && cc->idx < cc->resp.nentries) {
			const hr_scan_entry *e = &cc->resp.entries[cc->idx++];
			if ((rc = note_pos(cc, e)) < 0)
				return rc;
			/* entries point into the frame; the contract wants each of
			 * row, qualifier and value followed by a NUL */
			*out = *e;
			if ((rc = kb_set(&cc->e_row, e->row, e->row_len)) < 0)
				return rc;
			out->row = cc->e_row.p;
			if (e->qualifier) {
				if ((rc = kb_set(&cc->e_qual, e->qualifier, e->qualifier_len)) < 0)
					return rc;
				out->qualifier = cc->e_qual.p;
			}
			if (e->value) {
				if ((rc = kb_set(&cc->e_val, e->value, e->value_len)) < 0)
					return rc;
				out->value = cc->e_val.p;
			}
			if (e->family) {
				snprintf(cc->e_family, sizeof(cc->e_family), "%s", e->family);
				out->family = cc->e_family;
			}
			if (!e->tags_len)
				out->tags = NULL;
			return 1;
		}
		if (!cc->in_region) {
			if ((rc = open_region(cc)) < 0)
				return rc;
			continue;
		}
		if (cc->server_open) {
			if ((rc = next_batch(cc)) < 0)
				return rc;
			continue;
		}
		/* this region is done: on to the next, from its start key */
		drop_batch(cc);
		cc->in_region = 0;
		if (!cc->reg_end.n || past_range(cc, cc->reg_end.p, cc->reg_end.n)) {
			cc->finished = 1;
			return 0;
		}
		if ((rc = kb_set(&cc->pos_row, cc->reg_end.p, cc->reg_end.n)) < 0)
			return rc;
		cc->pos_after = 0;
		cc->pos_has_family = cc->pos_has_qual = 0;
	}
}

void hr_client_scan_close(hr_ccursor *cc)
{
	if (!cc)
		return;
	close_server_cursor(cc);
	drop_batch(cc);
	kbuf *bufs[] = {&cc->stop, &cc->prefix, &cc->pos_row,
			&cc->pos_qual, &cc->reg_end, &cc->e_row, &cc->e_qual, &cc->e_val};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		free(bufs[i]->p);
	free(cc);
}
