/* ops.c — the client's operations: one RPC each to the server of the row's
 * region (or to the master), inside HBase's retry loop (hr_client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hr_client.h"
#include "hr_log.h"

const hr_config *hr_client_config(const hr_client *c) { return &c->cfg; }

int hr_client_open(const hr_config *cfg, hr_client **out)
{
	hr_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.rpc_timeout_ms)
		c->cfg.rpc_timeout_ms = 10000;
	/* ride out a failover: session expiry + reassignment (hr_client.h) */
	c->retry_window_ms = 2 * (uint64_t)c->cfg.zk_session_timeout_ms;
	pthread_mutex_init(&c->pool_mu, NULL);
	int rc = hr_client_locate_open(c);
	if (rc < 0) {
		hr_client_locate_close(c);
		pthread_mutex_destroy(&c->pool_mu);
		free(c);
		return rc;
	}
	hr_log_info("client", "cluster mode: %s", cfg->cluster);
	*out = c;
	return 0;
}

void hr_client_close(hr_client *c)
{
	if (!c)
		return;
	hr_client_locate_close(c); /* no more watch callbacks after this */
	hr_client_conns_close(c);
	pthread_mutex_destroy(&c->pool_mu);
	free(c);
}

int hr_client_retryable(int err)
{
	switch (-err) {
	case EREMOTE:		/* not serving this region */
	case ESTALE:		/* the region closed or moved while the call ran */
	case EAGAIN:		/* no master yet, region in transition */
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENOTCONN:
		return 1;
	}
	return 0;
}

void hr_client_backoff(hr_client *c, unsigned attempt)
{
	uint64_t ms = c->cfg.retry_pause_ms;
	for (unsigned i = 0; i < attempt && ms < 1000; i++)
		ms *= 2;
	if (ms > 1000)
		ms = 1000;
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	atomic_fetch_add(&c->retries, 1);
}

uint64_t hr_client_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hr_client_give_up(const hr_client *c, unsigned attempt, uint64_t t0_ms)
{
	if (attempt < c->cfg.retries)
		return 0;
	return c->cfg.retries == 0 || hr_client_now_ms() - t0_ms >= c->retry_window_ms;
}

/* One request about a row, to the server of its region; on success *r
 * holds the server's answer (r->err may be an engine error). */
static int row_call(hr_client *c, const char *table, const void *row, size_t row_len,
		    hr_rpc_req *q, hr_rpc_resp *r, uint8_t **frame)
{
	uint64_t t0 = hr_client_now_ms();
	for (unsigned attempt = 0;; attempt++) {
		hr_rpc_location loc;
		int rc = hr_client_locate(c, table, row, row_len, &loc);
		if (rc == 0) {
			rc = hr_client_call(c, loc.addr, q, r, frame);
			if (rc == 0 && hr_client_retryable(r->err)) {
				rc = r->err;
				hr_rpc_resp_free(r);
				free(*frame);
			}
			hr_rpc_location_free(&loc);
			if (rc == 0)
				return 0;
			hr_client_forget(c, table, row, row_len);
			atomic_fetch_add(&c->relocations, 1);
		}
		if (!hr_client_retryable(rc))
			return rc;
		if (hr_client_give_up(c, attempt, t0)) {
			hr_log_warn("client", "%s: gave up after %u tries in %llu ms: %s", table,
				    attempt + 1, (unsigned long long)(hr_client_now_ms() - t0),
				    hr_strerror(rc));
			return -EAGAIN;
		}
		hr_client_backoff(c, attempt);
	}
}

/* One request to the master (table admin, listings). */
static int master_call(hr_client *c, hr_rpc_req *q, hr_rpc_resp *r, uint8_t **frame)
{
	uint64_t t0 = hr_client_now_ms();
	for (unsigned attempt = 0;; attempt++) {
		char master[HR_RPC_ADDR_MAX];
		int rc = hr_client_master(c, master);
		if (rc == 0) {
			rc = hr_client_call(c, master, q, r, frame);
			if (rc == 0 && r->err == -EOPNOTSUPP && !c->fixed) {
				rc = -EAGAIN; /* it lost the election: find the new one */
				hr_rpc_resp_free(r);
				free(*frame);
			}
			if (rc == 0)
				return 0;
			hr_client_master_stale(c);
		}
		if (!hr_client_retryable(rc))
			return rc;
		if (hr_client_give_up(c, attempt, t0))
			return -EAGAIN;
		hr_client_backoff(c, attempt);
	}
}

static int copy_value(hr_value *dst, const hr_value *src, unsigned flags)
{
	*dst = *src;
	dst->data = dst->tags = NULL;
	if ((flags & HR_GET_VALUE) && src->data && src->len) {
		if (!(dst->data = malloc(src->len)))
			return -ENOMEM;
		memcpy(dst->data, src->data, src->len);
	}
	if ((flags & HR_GET_TAGS) && src->tags && src->tags_len) {
		if (!(dst->tags = malloc(src->tags_len))) {
			free(dst->data);
			dst->data = NULL;
			return -ENOMEM;
		}
		memcpy(dst->tags, src->tags, src->tags_len);
	}
	return 0;
}

static void set_table(hr_rpc_req *q, const char *table)
{
	snprintf(q->table, sizeof(q->table), "%s", table);
}

static int name_ok(const char *table)
{
	return table && *table && strlen(table) <= HR_MAX_NAME;
}

int hr_client_get(hr_client *c, const char *table, const void *row, size_t row_len,
		  const char *family, const void *qual, size_t qual_len, unsigned flags,
		  hr_value *out)
{
	if (!name_ok(table) || !family || !*family || strlen(family) > HR_MAX_NAME || !row_len)
		return -EINVAL;
	hr_rpc_req q = {.type = HR_RPC_GET, .row = row, .row_len = row_len, .family = family,
			.qual = qual, .qual_len = qual_len, .flags = flags};
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = row_call(c, table, row, row_len, &q, &r, &frame);
	if (rc < 0)
		return rc;
	if ((rc = r.err) == 0)
		rc = copy_value(out, &r.value, flags);
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_get_versions(hr_client *c, const char *table, const void *row, size_t row_len,
			   const char *family, const void *qual, size_t qual_len,
			   const hr_get_opts *opts, hr_value **out)
{
	if (!name_ok(table) || !family || !*family || strlen(family) > HR_MAX_NAME || !row_len)
		return -EINVAL;
	hr_rpc_req q = {.type = HR_RPC_GET_VERSIONS, .row = row, .row_len = row_len,
			.family = family, .qual = qual, .qual_len = qual_len};
	if (opts)
		q.gopts = *opts;
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = row_call(c, table, row, row_len, &q, &r, &frame);
	if (rc < 0)
		return rc;
	*out = NULL;
	if ((rc = r.err) == 0) {
		hr_value *v = r.nvalues ? calloc(r.nvalues, sizeof(*v)) : NULL;
		if (r.nvalues && !v)
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < r.nvalues; i++) {
			if ((rc = copy_value(&v[i], &r.values[i],
					     HR_GET_VALUE | ((q.gopts.flags & HR_GET_TAGS) ? HR_GET_TAGS : 0))) < 0)
				hr_values_free(v, i);
		}
		if (rc == 0) {
			*out = v;
			rc = (int)r.nvalues;
		}
	}
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_exists(hr_client *c, const char *table, const void *row, size_t row_len,
		     const char *family, const void *qual, size_t qual_len)
{
	if (!name_ok(table) || !row_len || (family && strlen(family) > HR_MAX_NAME))
		return -EINVAL;
	hr_rpc_req q = {.type = HR_RPC_EXISTS, .row = row, .row_len = row_len,
			.family = family, .qual = family ? qual : NULL, .qual_len = qual_len};
	if (q.qual == NULL && family && qual)
		q.qual = (const uint8_t *)"";
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = row_call(c, table, row, row_len, &q, &r, &frame);
	if (rc < 0)
		return rc;
	rc = r.err ? r.err : r.exists;
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_mutate(hr_client *c, const char *table, const void *row, size_t row_len,
		     const hr_check *checks, size_t nchecks, int with_checks,
		     const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp)
{
	if (!name_ok(table) || !row_len)
		return -EINVAL;
	if (n > HR_RPC_MAX_CELLS || nchecks > HR_RPC_MAX_CELLS)
		return -E2BIG;
	if (!with_checks && n == 0)
		return 0; /* the engine writes nothing either */
	for (size_t i = 0; i < n; i++)
		if (!cells[i].family || !*cells[i].family || strlen(cells[i].family) > HR_MAX_NAME)
			return -EINVAL;
	for (size_t i = 0; i < nchecks; i++)
		if (!checks[i].family || !*checks[i].family || strlen(checks[i].family) > HR_MAX_NAME)
			return -EINVAL;
	hr_rpc_req q = {.type = with_checks ? HR_RPC_CHECK_AND_MUTATE : HR_RPC_MUTATE, .row = row,
			.row_len = row_len, .flags = flags, .cells = (hr_mcell *)cells, .ncells = n,
			.checks = (hr_check *)checks, .nchecks = nchecks};
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = row_call(c, table, row, row_len, &q, &r, &frame);
	if (rc < 0)
		return rc;
	rc = r.err;
	if (rc == 0 && stamp)
		*stamp = r.stamp;
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_table_list(hr_client *c, char ***names, size_t *n)
{
	hr_rpc_req q = {.type = HR_RPC_TABLE_LIST};
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = master_call(c, &q, &r, &frame);
	if (rc < 0)
		return rc;
	if ((rc = r.err) == 0) {
		char **v = calloc(r.nnames + 1, sizeof(char *));
		if (!v)
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < r.nnames; i++) {
			if (!(v[i] = strndup((const char *)r.names[i], r.name_lens[i]))) {
				hr_names_free(v, i);
				rc = -ENOMEM;
			}
		}
		if (rc == 0) {
			*names = v;
			*n = r.nnames;
		}
	}
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_table_schema(hr_client *c, const char *table, hr_table_schema *out)
{
	if (!name_ok(table))
		return -ENOENT;
	hr_rpc_req q = {.type = HR_RPC_TABLE_SCHEMA};
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = master_call(c, &q, &r, &frame);
	if (rc < 0)
		return rc;
	if ((rc = r.err) == 0)
		*out = *r.schema;
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_table_create(hr_client *c, const hr_table_schema *schema)
{
	if (!hr_table_name_valid(schema->name) || schema->nfamilies > HR_MAX_FAMILIES)
		return -EINVAL;
	hr_rpc_req q = {.type = HR_RPC_CREATE_TABLE, .schema = (hr_table_schema *)schema};
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = master_call(c, &q, &r, &frame);
	if (rc < 0)
		return rc;
	rc = r.err;
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_table_drop(hr_client *c, const char *table)
{
	if (!name_ok(table))
		return -ENOENT;
	hr_rpc_req q = {.type = HR_RPC_DROP_TABLE};
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = master_call(c, &q, &r, &frame);
	if (rc < 0)
		return rc;
	rc = r.err;
	hr_rpc_resp_free(&r);
	free(frame);
	hr_client_forget(c, table, NULL, 0);
	return rc;
}

int hr_client_family_add(hr_client *c, const char *table, const hr_family_schema *f)
{
	if (!name_ok(table))
		return -ENOENT;
	hr_table_schema *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->families[0] = *f;
	s->nfamilies = 1;
	hr_rpc_req q = {.type = HR_RPC_FAMILY_ADD, .schema = s};
	set_table(&q, table);
	hr_rpc_resp r;
	uint8_t *frame;
	int rc = master_call(c, &q, &r, &frame);
	free(s);
	if (rc < 0)
		return rc;
	rc = r.err;
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_stats_format(hr_client *c, char **text, size_t *len)
{
	char *t = NULL;
	int n = asprintf(&t,
			 "mode client\n"
			 "rpc_calls %llu\n"
			 "rpc_retries %llu\n"
			 "rpc_relocations %llu\n"
			 "rpc_located %llu\n",
			 (unsigned long long)atomic_load(&c->calls),
			 (unsigned long long)atomic_load(&c->retries),
			 (unsigned long long)atomic_load(&c->relocations),
			 (unsigned long long)atomic_load(&c->located));
	if (n < 0)
		return -ENOMEM;
	*text = t;
	*len = (size_t)n;
	return 0;
}
