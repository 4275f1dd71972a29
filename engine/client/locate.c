/* locate.c — where the client finds the master (ZooKeeper's /master,
 * watched, or a fixed "rpc://HOST:PORT") and the cache of region locations
 * by table and key range (hr_client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "engine/hr_client.h"
#include "hr_log.h"

struct hr_ctable {
	char name[HR_MAX_NAME + 1];
	hr_rpc_location *regs; /* sorted by start key, disjoint */
	size_t n;
};

/* Row order: memcmp, the shorter first on a tie. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t m = an < bn ? an : bn;
	int c = m ? memcmp(a, b, m) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int loc_holds(const hr_rpc_location *l, const void *row, size_t len)
{
	if (l->start_len && key_cmp(row, len, l->start, l->start_len) < 0)
		return 0;
	return !l->end_len || key_cmp(row, len, l->end, l->end_len) < 0;
}

static int loc_copy(hr_rpc_location *dst, const hr_rpc_location *src)
{
	*dst = *src;
	dst->start = dst->end = NULL;
	if ((src->start_len && !(dst->start = malloc(src->start_len))) ||
	    (src->end_len && !(dst->end = malloc(src->end_len)))) {
		hr_rpc_location_free(dst);
		return -ENOMEM;
	}
	if (src->start_len)
		memcpy(dst->start, src->start, src->start_len);
	if (src->end_len)
		memcpy(dst->end, src->end, src->end_len);
	return 0;
}

/* ---- master ------------------------------------------------------------- */

static void zk_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	hr_client *c = ctx;
	/* any event (the node changed, a session event) may mean a new master */
	atomic_store(&c->zk_changed, 1);
	if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
		pthread_mutex_lock(&c->master_mu);
		c->zk_connected = 1;
		pthread_cond_broadcast(&c->zk_cond);
		pthread_mutex_unlock(&c->master_mu);
	}
}

int hr_client_locate_open(hr_client *c)
{
	pthread_mutex_init(&c->master_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->zk_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_rwlock_init(&c->cache_lock, NULL);
	if (strncmp(c->cfg.cluster, "rpc://", 6) == 0) {
		char host[256];
		uint16_t port;
		if (hr_rpc_addr_parse(c->cfg.cluster + 6, host, sizeof(host), &port) < 0)
			return -EINVAL;
		c->fixed = 1;
		snprintf(c->master, sizeof(c->master), "%s", c->cfg.cluster + 6);
		c->master_ok = 1;
		return 0;
	}
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	zhandle_t *zh = zookeeper_init(c->cfg.cluster, zk_watch, (int)c->cfg.zk_session_timeout_ms,
				       NULL, c, 0);
	if (!zh) {
		int e = errno ? errno : EINVAL;
		hr_log_error("client", "ZooKeeper %s: %s", c->cfg.cluster, strerror(e));
		return -e;
	}
	c->zh = zh;
	/* the first operations need the master: give the session its time to
	 * come up (an ensemble that is down shows as EAGAIN later, not here) */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += c->cfg.zk_session_timeout_ms / 1000;
	ts.tv_nsec += (long)(c->cfg.zk_session_timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->master_mu);
	while (!c->zk_connected)
		if (pthread_cond_timedwait(&c->zk_cond, &c->master_mu, &ts) == ETIMEDOUT)
			break;
	if (!c->zk_connected)
		hr_log_warn("client", "ZooKeeper %s: not connected after %u ms; going on",
			    c->cfg.cluster, c->cfg.zk_session_timeout_ms);
	pthread_mutex_unlock(&c->master_mu);
	return 0;
}

void hr_client_locate_close(hr_client *c)
{
	if (c->zh)
		zookeeper_close(c->zh);
	c->zh = NULL;
	for (size_t i = 0; i < c->ntables; i++) {
		for (size_t j = 0; j < c->tables[i].n; j++)
			hr_rpc_location_free(&c->tables[i].regs[j]);
		free(c->tables[i].regs);
	}
	free(c->tables);
	c->tables = NULL;
	c->ntables = 0;
	pthread_rwlock_destroy(&c->cache_lock);
	pthread_cond_destroy(&c->zk_cond);
	pthread_mutex_destroy(&c->master_mu);
}

int hr_client_master(hr_client *c, char addr[HR_RPC_ADDR_MAX])
{
	pthread_mutex_lock(&c->master_mu);
	int rc = 0;
	if (!c->fixed && (atomic_exchange(&c->zk_changed, 0) || !c->master_ok)) {
		char buf[512];
		int len = sizeof(buf) - 1;
		struct Stat st;
		c->master_ok = 0;
		if (zoo_state(c->zh) == ZOO_EXPIRED_SESSION_STATE) {
			/* a handle whose session expired never comes back */
			zhandle_t *nz = zookeeper_init(c->cfg.cluster, zk_watch,
						       (int)c->cfg.zk_session_timeout_ms, NULL, c, 0);
			if (nz) {
				zookeeper_close(c->zh);
				c->zh = nz;
				c->zk_connected = 0;
			}
		}
		int zr = zoo_wget(c->zh, "/master", zk_watch, c, buf, &len, &st);
		if (zr == ZNONODE) {
			/* no master elected yet: be told when there is one */
			zoo_wexists(c->zh, "/master", zk_watch, c, &st);
			rc = -EAGAIN;
		} else if (zr != ZOK || len <= 0) {
			rc = -EAGAIN; /* not connected yet, or the session is being re-made */
		} else {
			buf[len] = '\0';
			size_t w = strcspn(buf, " \n");
			if (w == 0 || w >= HR_RPC_ADDR_MAX) {
				hr_log_warn("client", "/master holds '%s': not HOST:PORT", buf);
				rc = -EAGAIN;
			} else {
				memcpy(c->master, buf, w);
				c->master[w] = '\0';
				c->master_ok = 1;
			}
		}
	}
	if (rc == 0)
		memcpy(addr, c->master, HR_RPC_ADDR_MAX);
	pthread_mutex_unlock(&c->master_mu);
	return rc;
}

void hr_client_master_stale(hr_client *c)
{
	pthread_mutex_lock(&c->master_mu);
	if (!c->fixed)
		c->master_ok = 0;
	pthread_mutex_unlock(&c->master_mu);
}

/* ---- the cache ------------------------------------------------------------ */

/* cache_lock held */
static hr_ctable *ctable(hr_client *c, const char *table)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (strcmp(c->tables[i].name, table) == 0)
			return &c->tables[i];
	return NULL;
}

static int cache_find(hr_client *c, const char *table, const void *row, size_t len,
		      hr_rpc_location *out)
{
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&c->cache_lock);
	hr_ctable *t = ctable(c, table);
	for (size_t i = 0; t && i < t->n; i++) {
		if (loc_holds(&t->regs[i], row, len)) {
			rc = loc_copy(out, &t->regs[i]);
			break;
		}
	}
	pthread_rwlock_unlock(&c->cache_lock);
	return rc;
}

static int ranges_overlap(const hr_rpc_location *a, const hr_rpc_location *b)
{
	/* a.start < b.end && b.start < a.end, with empty = unbounded */
	int a_before_bend = !b->end_len || key_cmp(a->start, a->start_len, b->end, b->end_len) < 0;
	int b_before_aend = !a->end_len || key_cmp(b->start, b->start_len, a->end, a->end_len) < 0;
	return a_before_bend && b_before_aend;
}

static int cache_put(hr_client *c, const char *table, const hr_rpc_location *l)
{
	int rc = 0;
	pthread_rwlock_wrlock(&c->cache_lock);
	hr_ctable *t = ctable(c, table);
	if (!t) {
		hr_ctable *nt = realloc(c->tables, (c->ntables + 1) * sizeof(*nt));
		if (!nt) {
			rc = -ENOMEM;
			goto out;
		}
		c->tables = nt;
		t = &c->tables[c->ntables++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", table);
	}
	/* a newer answer replaces every region it overlaps (a split, a merge) */
	size_t j = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (ranges_overlap(&t->regs[i], l))
			hr_rpc_location_free(&t->regs[i]);
		else
			t->regs[j++] = t->regs[i];
	}
	t->n = j;
	hr_rpc_location *nr = realloc(t->regs, (t->n + 1) * sizeof(*nr));
	if (!nr) {
		rc = -ENOMEM;
		goto out;
	}
	t->regs = nr;
	size_t at = 0;
	while (at < t->n && key_cmp(t->regs[at].start, t->regs[at].start_len, l->start,
				    l->start_len) < 0)
		at++;
	memmove(&t->regs[at + 1], &t->regs[at], (t->n - at) * sizeof(*nr));
	if ((rc = loc_copy(&t->regs[at], l)) < 0)
		memmove(&t->regs[at], &t->regs[at + 1], (t->n - at) * sizeof(*nr));
	else
		t->n++;
out:
	pthread_rwlock_unlock(&c->cache_lock);
	return rc;
}

void hr_client_forget(hr_client *c, const char *table, const void *row, size_t row_len)
{
	pthread_rwlock_wrlock(&c->cache_lock);
	hr_ctable *t = ctable(c, table);
	size_t j = 0;
	for (size_t i = 0; t && i < t->n; i++) {
		if (!row || loc_holds(&t->regs[i], row, row_len))
			hr_rpc_location_free(&t->regs[i]);
		else
			t->regs[j++] = t->regs[i];
	}
	if (t)
		t->n = j;
	pthread_rwlock_unlock(&c->cache_lock);
}

int hr_client_locate(hr_client *c, const char *table, const void *row, size_t row_len,
		     hr_rpc_location *out)
{
	memset(out, 0, sizeof(*out));
	if (cache_find(c, table, row, row_len, out) == 0)
		return 0;
	char master[HR_RPC_ADDR_MAX];
	int rc = hr_client_master(c, master);
	if (rc < 0)
		return rc;
	hr_rpc_req q = {.type = HR_RPC_LOCATE, .row = row, .row_len = row_len};
	snprintf(q.table, sizeof(q.table), "%s", table);
	hr_rpc_resp r;
	uint8_t *frame;
	if ((rc = hr_client_call(c, master, &q, &r, &frame)) < 0) {
		hr_client_master_stale(c);
		return rc;
	}
	rc = r.err;
	if (rc == -EOPNOTSUPP) /* not the master (any more) */
		hr_client_master_stale(c);
	if (rc == 0 && !loc_holds(&r.loc, row, row_len)) {
		hr_log_warn("client", "the master located a row of %s outside the region it named",
			    table);
		rc = -EAGAIN;
	}
	if (rc == 0) {
		atomic_fetch_add(&c->located, 1);
		cache_put(c, table, &r.loc);
		*out = r.loc;
		memset(&r.loc, 0, sizeof(r.loc)); /* handed over */
	}
	hr_rpc_resp_free(&r);
	free(frame);
	return rc;
}

int hr_client_region_list(hr_client *c, const char *table, hr_region_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rc = 0;
	pthread_rwlock_rdlock(&c->cache_lock);
	size_t total = 0;
	for (size_t i = 0; i < c->ntables; i++)
		if (!table || strcmp(c->tables[i].name, table) == 0)
			total += c->tables[i].n;
	hr_region_info *r = total ? calloc(total, sizeof(*r)) : NULL;
	if (total && !r) {
		rc = -ENOMEM;
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < c->ntables; i++) {
		if (table && strcmp(c->tables[i].name, table) != 0)
			continue;
		for (size_t j = 0; j < c->tables[i].n; j++) {
			const hr_rpc_location *l = &c->tables[i].regs[j];
			hr_region_info *ri = &r[k++];
			ri->id = l->region_id;
			ri->state = HR_REGION_OPEN;
			if ((l->start_len && !(ri->start_key = malloc(l->start_len))) ||
			    (l->end_len && !(ri->end_key = malloc(l->end_len)))) {
				hr_region_list_free(r, k);
				r = NULL;
				rc = -ENOMEM;
				goto out;
			}
			if (l->start_len)
				memcpy(ri->start_key, l->start, l->start_len);
			if (l->end_len)
				memcpy(ri->end_key, l->end, l->end_len);
			ri->start_len = l->start_len;
			ri->end_len = l->end_len;
		}
	}
	*out = r;
	*n = k;
out:
	pthread_rwlock_unlock(&c->cache_lock);
	return rc;
}
