/*
 * member.c — a server's side of the cluster (contract in hr_cluster.h):
 * registration, master election, executing the master's orders, the split
 * hooks, and leaving. The master's job is in master.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "hr_log.h"

const char *const hr_cluster_roots[RZ_ROOTS_N] = {"/rs", "/election", "/regions", "/assign",
						  "/recovering", "/fence"};

static const char *const state_names[] = {
	[RZ_OFFLINE] = "OFFLINE", [RZ_OPENING] = "OPENING", [RZ_OPEN] = "OPEN",
	[RZ_CLOSING] = "CLOSING", [RZ_SPLITTING] = "SPLITTING",
};

const char *rz_state_name(int s)
{
	return s >= 0 && s <= RZ_SPLITTING ? state_names[s] : "?";
}

int rz_parse(const char *text, uint64_t id, int version, rz *out)
{
	char st[16] = "", owner[256] = "", rec[1024] = "";
	memset(out, 0, sizeof(*out));
	if (sscanf(text, "%15s %255s %1023s", st, owner, rec) < 2)
		return -EINVAL;
	out->state = -1;
	for (int i = 0; i <= RZ_SPLITTING; i++)
		if (strcmp(st, state_names[i]) == 0)
			out->state = i;
	if (out->state < 0)
		return -EINVAL;
	out->id = id;
	out->version = version;
	snprintf(out->owner, sizeof(out->owner), "%s", owner);
	snprintf(out->recover, sizeof(out->recover), "%s", rec);
	return 0;
}

void rz_format(char *buf, size_t len, int state, const char *owner, const char *recover)
{
	snprintf(buf, len, "%s %s%s%s", rz_state_name(state), owner && *owner ? owner : "-",
		 recover && *recover ? " " : "", recover ? recover : "");
}

void rz_path(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "/regions/%016" PRIx64, id);
}

int rz_id_parse(const char *name, uint64_t *id)
{
	char *end;
	if (strlen(name) != 16)
		return -EINVAL;
	errno = 0;
	*id = strtoull(name, &end, 16);
	return *end || errno ? -EINVAL : 0;
}

int rz_read(hr_cluster *c, uint64_t id, rz *out, hr_zk_kick *watch)
{
	char path[64], *data = NULL;
	int version;
	rz_path(path, sizeof(path), id);
	int rc = hr_zk_get(c->zk, path, &data, NULL, &version, watch);
	if (rc)
		return rc;
	rc = rz_parse(data, id, version, out);
	if (rc)
		hr_log_warn("cluster", "%s holds '%s', not a region state", path, data);
	free(data);
	return rc;
}

int list_has(const char *list, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, HR_CLUSTER_LIST_SEP);
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == nl && memcmp(p, name, l) == 0)
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

void list_add(char *list, size_t cap, const char *name)
{
	if (!*name || strcmp(name, "-") == 0 || list_has(list, name))
		return;
	size_t l = strlen(list);
	snprintf(list + l, cap - l, "%s%s", l ? HR_CLUSTER_LIST_SEP_S : "", name);
}

void hr_cluster_regions_free(hr_cluster_region *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].start);
		free(r[i].end);
	}
	free(r);
}

/* ---- orders ------------------------------------------------------------ */

/* Splits "A;B;C" into an array of pointers into buf (max entries). */
static size_t split_list(char *buf, const char **v, size_t max)
{
	size_t n = 0;
	for (char *p = buf; *p && n < max;) {
		v[n++] = p;
		char *e = strchr(p, HR_CLUSTER_LIST_SEP);
		if (!e)
			break;
		*e = '\0';
		p = e + 1;
	}
	return n;
}

static void execute_order(hr_cluster *c, const char *name)
{
	uint64_t id;
	char opath[512], rpath[64], *order = NULL;
	int ov;
	snprintf(opath, sizeof(opath), "/assign/%s/%s", c->name, name);
	if (rz_id_parse(name, &id)) {
		hr_zk_delete(c->zk, opath, -1);
		return;
	}
	rz_path(rpath, sizeof(rpath), id);
	if (hr_zk_get(c->zk, opath, &order, NULL, &ov, NULL))
		return;
	rz z;
	int rc = rz_read(c, id, &z, NULL);
	int opening = strncmp(order, "open", 4) == 0;
	int want = opening ? RZ_OPENING : RZ_CLOSING;
	if (rc || z.state != want || strcmp(z.owner, c->name) != 0) {
		/* the master moved on (or the region is gone): a stale order */
		hr_log_info("cluster", "dropping stale order '%s' for region %s", order, name);
		hr_zk_delete(c->zk, opath, ov);
		free(order);
		return;
	}
	char text[1400];
	pthread_mutex_lock(&c->exec_mu);
	if (opening) {
		char rec[1024];
		const char *dead[64];
		snprintf(rec, sizeof(rec), "%s", order[4] == ' ' ? order + 5 : "");
		size_t nd = split_list(rec, dead, 64);
		rc = c->eng->open_region(c->ectx, id, dead, nd);
		if (rc == 0 || rc == -EALREADY) {
			rz_format(text, sizeof(text), RZ_OPEN, c->name, "");
			hr_log_info("cluster", "opened region %s%s%s", name, nd ? " recovering from " : "",
				    nd ? order + 5 : "");
		} else {
			rz_format(text, sizeof(text), RZ_OFFLINE, "-", z.recover);
			hr_log_error("cluster", "cannot open region %s: %s", name, strerror(-rc));
		}
	} else {
		rc = c->eng->close_region(c->ectx, id);
		if (rc && rc != -ENOENT) {
			hr_log_error("cluster", "cannot close region %s: %s (will retry)", name,
				     strerror(-rc));
			pthread_mutex_unlock(&c->exec_mu);
			free(order);
			return;
		}
		rz_format(text, sizeof(text), RZ_OFFLINE, "-", "");
	}
	hr_zk_op ops[2] = {
		{.type = HR_ZK_OP_SET, .path = rpath, .data = text, .version = z.version},
		{.type = HR_ZK_OP_DELETE, .path = opath, .version = ov},
	};
	rc = hr_zk_multi(c->zk, ops, 2, NULL);
	if (rc && opening && strncmp(text, "OPEN ", 5) == 0) {
		/* A lost connection leaves the outcome unknown: if the region
		 * says OPEN or still OPENING here, keep serving it (the order,
		 * if it is still there, is executed again: -EALREADY, then the
		 * same multi). Anything else: the master moved it meanwhile. */
		rz now;
		int r2 = rz_read(c, id, &now, NULL);
		if (r2 == -ENOTCONN || r2 == -ESHUTDOWN ||
		    (r2 == 0 && strcmp(now.owner, c->name) == 0 &&
		     (now.state == RZ_OPEN || now.state == RZ_OPENING))) {
			if (rc == -ENOTCONN)
				hr_zk_kick_fire(&c->member_kick);
		} else {
			hr_log_warn("cluster", "region %s changed while opening (%s): closing it",
				    name, strerror(-rc));
			c->eng->close_region(c->ectx, id);
		}
	}
	pthread_mutex_unlock(&c->exec_mu);
	free(order);
}

static void run_orders(hr_cluster *c)
{
	char dir[300], **kids;
	size_t n;
	snprintf(dir, sizeof(dir), "/assign/%s", c->name);
	if (hr_zk_children(c->zk, dir, &kids, &n, &c->member_kick))
		return;
	for (size_t i = 0; i < n && !atomic_load(&c->stop); i++)
		execute_order(c, kids[i]);
	hr_zk_names_free(kids, n);
}

/* ---- election ---------------------------------------------------------- */

static void become_master(hr_cluster *c)
{
	char data[512];
	snprintf(data, sizeof(data), "%s %s", c->addr, c->name);
	int rc = hr_zk_create(c->zk, "/master", data, strlen(data), HR_ZK_EPHEMERAL, NULL, 0);
	if (rc == -EEXIST) {
		char *cur = NULL;
		/* ours from an earlier try, or the old master's not yet gone */
		if (hr_zk_get(c->zk, "/master", &cur, NULL, NULL, &c->member_kick) == 0 &&
		    strcmp(cur, data) == 0)
			rc = 0;
		free(cur);
	}
	if (rc)
		return;
	hr_log_info("cluster", "%s is the master", c->name);
	atomic_store(&c->is_master, 1);
	if (c->on_master)
		c->on_master(c->master_ctx);
	if (pthread_create(&c->master_thr, NULL, hr_cluster_master_main, c) == 0)
		c->master_started = 1;
}

static void run_election(hr_cluster *c)
{
	if (atomic_load(&c->is_master))
		return;
	if (!c->election_node[0]) {
		char made[256];
		int rc = hr_zk_create(c->zk, "/election/n_", c->name, strlen(c->name),
				      HR_ZK_EPHEMERAL | HR_ZK_SEQUENTIAL, made, sizeof(made));
		if (rc)
			return;
		snprintf(c->election_node, sizeof(c->election_node), "%s",
			 strrchr(made, '/') + 1);
	}
	char **kids;
	size_t n;
	if (hr_zk_children(c->zk, "/election", &kids, &n, NULL))
		return;
	/* sequence suffixes are zero-padded: name order is creation order */
	ssize_t me = -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(kids[i], c->election_node) == 0)
			me = (ssize_t)i;
	if (me == 0) {
		become_master(c);
	} else if (me > 0) {
		/* watch only the one before us: no herd when the master goes */
		char pred[300];
		snprintf(pred, sizeof(pred), "/election/%s", kids[me - 1]);
		if (hr_zk_exists(c->zk, pred, NULL, &c->member_kick) == -ENOENT)
			hr_zk_kick_fire(&c->member_kick);
	} else {
		c->election_node[0] = '\0'; /* ours vanished?: run again */
		hr_zk_kick_fire(&c->member_kick);
	}
	hr_zk_names_free(kids, n);
}

static void *member_main(void *arg)
{
	hr_cluster *c = arg;
	while (!atomic_load(&c->stop) && !hr_zk_expired(c->zk)) {
		uint64_t seen = hr_zk_kick_count(&c->member_kick);
		run_election(c);
		run_orders(c);
		hr_zk_kick_wait(&c->member_kick, seen, c->tick_ms);
	}
	return NULL;
}

static void session_expired(void *ctx)
{
	hr_cluster *c = ctx;
	atomic_store(&c->stop, 1);
	hr_zk_kick_fire(&c->member_kick);
	hr_zk_kick_fire(&c->master_kick);
	if (c->on_expired)
		c->on_expired(c->expired_ctx);
}

/* ---- join / leave ------------------------------------------------------ */

int hr_cluster_join(const hr_cluster_opts *o, hr_cluster **out)
{
	*out = NULL;
	if (!o->connect || !*o->connect || !o->server_name || !*o->server_name || !o->address ||
	    strchr(o->server_name, '/') || strlen(o->server_name) >= 200 || !o->engine)
		return -EINVAL;
	hr_cluster *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", o->server_name);
	snprintf(c->addr, sizeof(c->addr), "%s", o->address);
	snprintf(c->fence_addr, sizeof(c->fence_addr), "%s", o->fence_addr ? o->fence_addr : "");
	c->eng = o->engine;
	c->ectx = o->engine_ctx;
	c->tick_ms = o->tick_ms ? o->tick_ms : 1000;
	c->timeout_ms = o->session_timeout_ms ? o->session_timeout_ms : 6000;
	c->on_expired = o->on_expired;
	c->expired_ctx = o->expired_ctx;
	c->on_master = o->on_master;
	c->master_ctx = o->master_ctx;
	hr_zk_kick_init(&c->member_kick);
	hr_zk_kick_init(&c->master_kick);
	hr_zk_kick_init(&c->wait_kick);
	pthread_mutex_init(&c->master_mu, NULL);
	pthread_mutex_init(&c->exec_mu, NULL);
	pthread_mutex_init(&c->drop_mu, NULL);
	int rc = hr_zk_open(o->connect, c->timeout_ms, session_expired, c, &c->zk);
	if (rc)
		goto fail;
	for (int i = 0; i < RZ_ROOTS_N && rc == 0; i++)
		rc = hr_zk_mkpath(c->zk, hr_cluster_roots[i]);
	/* /fence first: a server the master may ever count as dead (it has
	 * an /rs or /assign node) has published what fences it */
	char path[300];
	snprintf(path, sizeof(path), "/fence/%s", c->name);
	if (rc == 0)
		rc = hr_zk_create(c->zk, path, c->fence_addr, strlen(c->fence_addr),
				  HR_ZK_PERSISTENT, NULL, 0);
	/* /rs before /assign: the master takes an /assign dir without an /rs
	 * znode for a dead server's */
	snprintf(path, sizeof(path), "/rs/%s", c->name);
	if (rc == 0)
		rc = hr_zk_create(c->zk, path, c->addr, strlen(c->addr), HR_ZK_EPHEMERAL, NULL, 0);
	snprintf(path, sizeof(path), "/assign/%s", c->name);
	if (rc == 0)
		rc = hr_zk_mkpath(c->zk, path);
	if (rc) {
		hr_log_error("cluster", "cannot register %s in ZooKeeper: %s", c->name, strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&c->member_thr, NULL, member_main, c);
	if (rc)
		goto fail;
	c->member_started = 1;
	hr_log_info("cluster", "%s registered at %s", c->name, c->addr);
	*out = c;
	return 0;
fail:
	hr_cluster_free(c);
	return rc;
}

int hr_cluster_is_master(hr_cluster *c)
{
	return atomic_load(&c->is_master);
}

static void stop_threads(hr_cluster *c)
{
	atomic_store(&c->stop, 1);
	hr_zk_kick_fire(&c->member_kick);
	hr_zk_kick_fire(&c->master_kick);
	if (c->member_started)
		pthread_join(c->member_thr, NULL);
	c->member_started = 0;
	if (c->master_started)
		pthread_join(c->master_thr, NULL);
	c->master_started = 0;
}

int hr_cluster_leave(hr_cluster *c)
{
	stop_threads(c);
	if (hr_zk_expired(c->zk))
		return -ESHUTDOWN;
	/* "stopping": alive (its regions are not recovered from its WAL) but
	 * not given new regions; then close each region and mark it OFFLINE */
	char path[300], data[200];
	snprintf(path, sizeof(path), "/rs/%s", c->name);
	snprintf(data, sizeof(data), "%s stopping", c->addr);
	hr_zk_set(c->zk, path, data, strlen(data), -1);
	if (atomic_load(&c->is_master) && c->election_node[0]) {
		/* the next candidate may start now: it will wait for /master */
		snprintf(path, sizeof(path), "/election/%s", c->election_node);
		hr_zk_delete(c->zk, path, -1);
	}
	char **kids;
	size_t n;
	int rc = hr_zk_children(c->zk, "/regions", &kids, &n, NULL);
	if (rc)
		return rc;
	int closed = 0, err = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t id;
		rz z;
		if (rz_id_parse(kids[i], &id) || rz_read(c, id, &z, NULL) ||
		    strcmp(z.owner, c->name) != 0 || z.state == RZ_OFFLINE)
			continue;
		pthread_mutex_lock(&c->exec_mu);
		int crc = c->eng->close_region(c->ectx, id);
		pthread_mutex_unlock(&c->exec_mu);
		if (crc && crc != -ENOENT) {
			/* left for the master to recover from our WAL */
			hr_log_error("cluster", "cannot close region %s: %s", kids[i], strerror(-crc));
			err = crc;
			continue;
		}
		char text[1400], rpath[64];
		rz_format(text, sizeof(text), RZ_OFFLINE, "-", z.recover);
		rz_path(rpath, sizeof(rpath), id);
		if (hr_zk_set(c->zk, rpath, text, strlen(text), z.version) == 0)
			closed++;
		else
			err = err ? err : -EAGAIN;
	}
	hr_zk_names_free(kids, n);
	/* every region closed and OFFLINE: no WAL of ours will be replayed,
	 * so nothing needs fencing (the master would otherwise blocklist a
	 * process still finishing its stop) */
	snprintf(path, sizeof(path), "/fence/%s", c->name);
	if (err == 0)
		hr_zk_set(c->zk, path, "", 0, -1);
	hr_log_info("cluster", "%s leaves the cluster (%d regions closed)", c->name, closed);
	return err;
}

void hr_cluster_free(hr_cluster *c)
{
	if (!c)
		return;
	stop_threads(c);
	hr_zk_close(c->zk);
	hr_zk_kick_destroy(&c->member_kick);
	hr_zk_kick_destroy(&c->master_kick);
	hr_zk_kick_destroy(&c->wait_kick);
	pthread_mutex_destroy(&c->master_mu);
	pthread_mutex_destroy(&c->exec_mu);
	pthread_mutex_destroy(&c->drop_mu);
	free(c);
}

/* ---- split hooks -------------------------------------------------------- */

int hr_cluster_split_before(void *ctx, uint64_t parent)
{
	hr_cluster *c = ctx;
	rz z;
	int rc = rz_read(c, parent, &z, NULL);
	if (rc)
		return rc;
	if (z.state != RZ_OPEN || strcmp(z.owner, c->name) != 0)
		return -EBUSY;
	char text[1400], path[64];
	rz_format(text, sizeof(text), RZ_SPLITTING, c->name, "");
	rz_path(path, sizeof(path), parent);
	rc = hr_zk_set(c->zk, path, text, strlen(text), z.version);
	return rc == -ESTALE ? -EBUSY : rc;
}

void hr_cluster_split_after(void *ctx, uint64_t parent, uint64_t a, uint64_t b, int err)
{
	hr_cluster *c = ctx;
	char ppath[64], apath[64], bpath[64], text[1400];
	rz_path(ppath, sizeof(ppath), parent);
	rz_format(text, sizeof(text), RZ_OPEN, c->name, "");
	int rc;
	for (int tries = 0; tries < 10; tries++) {
		if (err == 0) {
			rz_path(apath, sizeof(apath), a);
			rz_path(bpath, sizeof(bpath), b);
			hr_zk_op ops[3] = {
				{.type = HR_ZK_OP_DELETE, .path = ppath, .version = -1},
				{.type = HR_ZK_OP_CREATE, .path = apath, .data = text},
				{.type = HR_ZK_OP_CREATE, .path = bpath, .data = text},
			};
			rc = hr_zk_multi(c->zk, ops, 3, NULL);
		} else {
			rc = hr_zk_set(c->zk, ppath, text, strlen(text), -1);
		}
		if (rc != -ENOTCONN)
			break;
		hr_zk_kick_wait(&c->member_kick, hr_zk_kick_count(&c->member_kick), 200);
	}
	if (rc)
		hr_log_error("cluster", "split of region %016" PRIx64 " not recorded: %s", parent,
			     strerror(-rc));
	else
		hr_log_info("cluster", "region %016" PRIx64 " split%s", parent,
			    err ? " failed: the parent serves again" : "");
}
