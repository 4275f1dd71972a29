/*
 * hr_etest.h — helpers shared by the engine's public-API tests (test_engine,
 * test_mvcc, test_crash, test_flush): a tiny server config, table creation,
 * put/get shorthands, and a scan "dump" that renders what a cursor returns
 * as one string, so a test compares a whole listing with one strcmp and
 * prints both sides when they differ. Everything is static inline so that a
 * test that does not use a helper stays warning-free.
 */
#ifndef HR_ETEST_H
#define HR_ETEST_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr_config.h"
#include "hr_log.h"
#include "hr_test.h"
#include "hregionfs.h"

/* A config for tests: small memstore, small cache, defaults otherwise. */
static inline void et_config(hr_config *c, const char *dir)
{
	hr_config_defaults(c);
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", dir);
	c->flush_size = 64 * 1024;
	c->global_limit = 64ull << 20;
	c->global_limit_low = 48ull << 20;
	c->block_cache_size = 1ull << 20;
	c->log_level = HR_LOG_WARN;
	/* HR_ETEST_STORAGE=rados: the same tests over RADOS (io_rados +
	 * meta_rados; the namespace is the data directory's path) */
	const char *st = getenv("HR_ETEST_STORAGE");
	if (st && strcmp(st, "rados") == 0) {
		c->storage = HR_STORAGE_RADOS;
		snprintf(c->ceph_conf, sizeof(c->ceph_conf), "%s",
			 getenv("HR_CEPH_CONF") ? getenv("HR_CEPH_CONF") : "");
		snprintf(c->rados_pool, sizeof(c->rados_pool), "%s",
			 getenv("HR_RADOS_POOL") ? getenv("HR_RADOS_POOL") : "");
	}
}

static inline hr_server *et_open(const char *dir)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	int rc = hr_server_open(&c, &s);
	if (rc < 0) {
		fprintf(stdout, "# hr_server_open(%s) = %d (%s)\n", dir, rc, strerror(-rc));
		return NULL;
	}
	return s;
}

/* Creates table name with the families named in the NULL-terminated list;
 * a name "x:N" sets max_versions N, "x@T" a TTL of T ms, a '!' anywhere
 * keep_deleted_cells. */
static inline int et_table(hr_server *s, const char *name, ...)
{
	hr_table_schema sc;
	va_list ap;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "%s", name);
	va_start(ap, name);
	const char *f;
	while ((f = va_arg(ap, const char *)) && sc.nfamilies < HR_MAX_FAMILIES) {
		char buf[HR_MAX_NAME + 1];
		snprintf(buf, sizeof(buf), "%s", f);
		char *bang = strchr(buf, '!');
		if (bang)
			*bang = 0;
		char *colon = strchr(buf, ':'), *at = strchr(buf, '@');
		uint32_t mv = 1;
		int64_t ttl = 0;
		if (colon) {
			*colon = 0;
			mv = (uint32_t)atoi(colon + 1);
		}
		if (at) {
			*at = 0;
			ttl = atoll(at + 1);
		}
		hr_family_defaults(&sc.families[sc.nfamilies], buf);
		sc.families[sc.nfamilies].max_versions = mv;
		sc.families[sc.nfamilies].ttl_ms = ttl;
		sc.families[sc.nfamilies].keep_deleted_cells = bang != NULL;
		sc.nfamilies++;
	}
	va_end(ap);
	return hr_table_create(s, &sc);
}

/* put with an explicit timestamp (HR_TS_NOW for the server's clock) */
static inline int et_put(hr_server *s, const char *t, const void *row, size_t rl, const char *fam,
			 const char *qual, int64_t ts, const char *val)
{
	hr_mcell c = {fam, qual, strlen(qual), ts, HR_PUT, val, strlen(val)};
	return hr_mutate(s, t, row, rl, &c, 1, 0);
}

static inline int et_del(hr_server *s, const char *t, const void *row, size_t rl, const char *fam,
			 const char *qual, int64_t ts, uint8_t type)
{
	hr_mcell c = {fam, qual, qual ? strlen(qual) : 0, ts, type, NULL, 0};
	return hr_mutate(s, t, row, rl, &c, 1, 0);
}

/* Gets the latest value as a NUL-terminated string into buf; returns the
 * hr_get rc. *ts (if non-NULL) gets the cell's timestamp. */
static inline int et_get(hr_server *s, const char *t, const void *row, size_t rl, const char *fam,
			 const char *qual, char *buf, size_t buflen, int64_t *ts)
{
	hr_value v;
	buf[0] = 0;
	int rc = hr_get(s, t, row, rl, fam, qual, strlen(qual), HR_GET_VALUE, &v);
	if (rc == 0) {
		size_t n = v.len < buflen - 1 ? v.len : buflen - 1;
		if (n)
			memcpy(buf, v.data, n);
		buf[n] = 0;
		if (ts)
			*ts = v.ts;
		free(v.data);
	}
	return rc;
}

/* A growable string. */
typedef struct et_str {
	char *p;
	size_t len, cap;
} et_str;

static inline void et_str_add(et_str *s, const void *data, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t c = (s->len + n + 1) * 2;
		char *np = realloc(s->p, c);
		if (!np)
			abort();
		s->p = np;
		s->cap = c;
	}
	if (n)
		memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = 0;
}

static inline void et_str_printf(et_str *s, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		et_str_add(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* bytes as text: printable ASCII as is, everything else (and '\\') as \xNN */
static inline void et_str_bytes(et_str *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\' && p[i] != '/' && p[i] != ';' &&
		    p[i] != '=')
			et_str_add(s, &p[i], 1);
		else
			et_str_printf(s, "\\x%02x", p[i]);
	}
}

static inline const char *et_cstr(et_str *s) { return s->p ? s->p : ""; }
static inline void et_str_free(et_str *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

/* Appends one entry in the dump syntax: "row;" (rows), "row/fam;"
 * (families), "row/fam/qual=value;" (cells, value only with_values). */
static inline void et_dump_entry(et_str *out, const hr_scan_opts *o, const hr_scan_entry *e)
{
	et_str_bytes(out, e->row, e->row_len);
	if (o->mode != HR_SCAN_ROWS) {
		et_str_printf(out, "/%s", e->family ? e->family : "(null)");
		if (o->mode == HR_SCAN_CELLS) {
			et_str_add(out, "/", 1);
			et_str_bytes(out, e->qualifier, e->qualifier_len);
			if (o->with_values) {
				et_str_add(out, "=", 1);
				et_str_bytes(out, e->value, e->value_len);
			}
		}
	}
	et_str_add(out, ";", 1);
}

/* Runs a scan to its end and renders it; returns 0 or the first error
 * (which is also appended as "ERR<rc>"). */
static inline int et_scan_dump(hr_server *s, const char *t, const hr_scan_opts *o, et_str *out)
{
	hr_scan *sc;
	hr_scan_entry e;
	int rc = hr_scan_open(s, t, o, &sc);
	if (rc < 0) {
		et_str_printf(out, "ERR%d", rc);
		return rc;
	}
	while ((rc = hr_scan_next(sc, &e)) == 1)
		et_dump_entry(out, o, &e);
	hr_scan_close(sc);
	if (rc < 0)
		et_str_printf(out, "ERR%d", rc);
	return rc;
}

/* CHECK that two strings are equal, printing both when not. */
#define CHECK_STREQ(got, want)                                                        \
	do {                                                                          \
		const char *g_ = (got), *w_ = (want);                                 \
		if (strcmp(g_, w_) != 0) {                                            \
			fprintf(stdout, "# %s:%d: got  '%s'\n#   want '%s'\n", __FILE__, \
				__LINE__, g_, w_);                                    \
			hr_t_cur_failed = 1;                                          \
			return;                                                       \
		}                                                                     \
	} while (0)

/* The public API's retryable answers (hregionfs.h): a front end retries. */
static inline int et_retryable(int rc) { return rc == -EBUSY || rc == -ESTALE || rc == -ETIMEDOUT; }

/* Watchdog: a hung test dies with SIGALRM (the runner counts it failed). */
static inline void et_watchdog(unsigned secs)
{
	signal(SIGALRM, SIG_DFL);
	alarm(secs);
}

/* deterministic PRNG (splitmix64) */
static inline uint64_t et_rand(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
