/*
 * master.c — the master's job (contract and znode layout in hr_cluster.h):
 * one level-triggered reconcile of meta, /rs and /regions, run on every
 * watched change and on a tick, and the master operations of the RPC.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_int.h"
#include "hr_log.h"

typedef struct live_rs {
	char name[256];
	char addr[128];
	int stopping;	/* leaving gracefully: alive, takes no new region */
	size_t load;	/* regions OPEN or OPENING there */
} live_rs;

typedef struct view {
	live_rs *rs;
	size_t nrs;
	rz *z;
	size_t nz;
	hr_cluster_region *meta;
	size_t nmeta;
	char recovering[4096];	/* HR_CLUSTER_LIST_SEP-separated */
	char unfenced[4096];	/* dead servers whose fence failed this round */
} view;

static void view_free(view *v)
{
	free(v->rs);
	free(v->z);
	hr_cluster_regions_free(v->meta, v->nmeta);
	memset(v, 0, sizeof(*v));
}

static live_rs *rs_find(view *v, const char *name)
{
	for (size_t i = 0; i < v->nrs; i++)
		if (strcmp(v->rs[i].name, name) == 0)
			return &v->rs[i];
	return NULL;
}

static hr_cluster_region *meta_find(view *v, uint64_t id)
{
	for (size_t i = 0; i < v->nmeta; i++)
		if (v->meta[i].id == id)
			return &v->meta[i];
	return NULL;
}

static rz *z_find(view *v, uint64_t id)
{
	for (size_t i = 0; i < v->nz; i++)
		if (v->z[i].id == id)
			return &v->z[i];
	return NULL;
}

static int read_rs(hr_cluster *c, view *v, hr_zk_kick *watch)
{
	char **kids;
	size_t n;
	int rc = hr_zk_children(c->zk, "/rs", &kids, &n, watch);
	if (rc)
		return rc;
	v->rs = calloc(n ? n : 1, sizeof(*v->rs));
	if (!v->rs) {
		hr_zk_names_free(kids, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char path[300], *data = NULL;
		snprintf(path, sizeof(path), "/rs/%s", kids[i]);
		if (hr_zk_get(c->zk, path, &data, NULL, NULL, watch))
			continue;
		live_rs *r = &v->rs[v->nrs++];
		snprintf(r->name, sizeof(r->name), "%s", kids[i]);
		char *sp = strchr(data, ' ');
		r->stopping = sp && strcmp(sp + 1, "stopping") == 0;
		if (sp)
			*sp = '\0';
		snprintf(r->addr, sizeof(r->addr), "%s", data);
		free(data);
	}
	hr_zk_names_free(kids, n);
	return 0;
}

/* Every /regions znode (watched when watch is given). */
static int read_regions(hr_cluster *c, rz **out, size_t *nout, hr_zk_kick *watch)
{
	char **kids;
	size_t n;
	*out = NULL;
	*nout = 0;
	int rc = hr_zk_children(c->zk, "/regions", &kids, &n, watch);
	if (rc)
		return rc;
	rz *z = calloc(n ? n : 1, sizeof(*z));
	size_t nz = 0;
	for (size_t i = 0; z && i < n; i++) {
		uint64_t id;
		if (rz_id_parse(kids[i], &id))
			continue;
		int r = rz_read(c, id, &z[nz], watch);
		if (r == 0)
			nz++;
		else if (r != -ENOENT && r != -EINVAL)
			rc = r;
	}
	hr_zk_names_free(kids, n);
	if (!z)
		return -ENOMEM;
	if (rc) {
		free(z);
		return rc;
	}
	*out = z;
	*nout = nz;
	return 0;
}

static int same_regions(const rz *a, size_t na, const rz *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || a[i].version != b[i].version)
			return 0;
	return 1;
}

/* The consistent view: /regions before and after meta agree. */
static int read_view(hr_cluster *c, view *v)
{
	memset(v, 0, sizeof(*v));
	int rc = read_rs(c, v, &c->master_kick);
	if (rc == 0)
		rc = read_regions(c, &v->z, &v->nz, &c->master_kick);
	if (rc == 0)
		rc = c->eng->meta_regions(c->ectx, &v->meta, &v->nmeta);
	rz *again = NULL;
	size_t nagain = 0;
	if (rc == 0)
		rc = read_regions(c, &again, &nagain, NULL);
	if (rc == 0 && !same_regions(v->z, v->nz, again, nagain))
		rc = -EAGAIN;
	free(again);
	char **kids;
	size_t n;
	if (rc == 0 && (rc = hr_zk_children(c->zk, "/recovering", &kids, &n, NULL)) == 0) {
		for (size_t i = 0; i < n; i++)
			list_add(v->recovering, sizeof(v->recovering), kids[i]);
		hr_zk_names_free(kids, n);
	}
	for (size_t i = 0; rc == 0 && i < v->nz; i++) {
		live_rs *r = rs_find(v, v->z[i].owner);
		if (r && (v->z[i].state == RZ_OPEN || v->z[i].state == RZ_OPENING))
			r->load++;
	}
	if (rc)
		view_free(v);
	return rc;
}

/* Fences dead (hr_cluster.h, fencing): its published RADOS address goes to
 * the engine. Any failure leaves it unfenced: the caller hands nothing of
 * it out this round. */
static int fence(hr_cluster *c, const char *dead)
{
	if (!c->eng->fence)
		return 0;
	char path[300], *addr = NULL;
	snprintf(path, sizeof(path), "/fence/%s", dead);
	int rc = hr_zk_get(c->zk, path, &addr, NULL, NULL, NULL);
	if (rc) {
		hr_log_error("cluster", "server %s is gone but cannot be fenced: %s%s; its regions "
			     "wait (its WAL is never replayed unfenced)", dead,
			     rc == -ENOENT ? "no " : "", rc == -ENOENT ? path : strerror(-rc));
		return rc;
	}
	rc = c->eng->fence(c->ectx, dead, addr);
	if (rc)
		hr_log_error("cluster", "server %s is gone but fencing it (RADOS client %s) failed: "
			     "%s; its regions wait (its WAL is never replayed unfenced)", dead,
			     addr[0] ? addr : "-", strerror(-rc));
	else
		hr_log_info("cluster", "server %s fenced (RADOS client %s)", dead,
			    addr[0] ? addr : "none");
	free(addr);
	return rc;
}

static int mark_recovering(hr_cluster *c, view *v, const char *dead)
{
	if (list_has(v->recovering, dead))
		return 0;
	if (list_has(v->unfenced, dead))
		return -EAGAIN; /* once a round: a fence may wait for the monitors */
	int rc = fence(c, dead);
	if (rc) {
		list_add(v->unfenced, sizeof(v->unfenced), dead);
		return rc;
	}
	char path[300];
	snprintf(path, sizeof(path), "/recovering/%s", dead);
	rc = hr_zk_create(c->zk, path, "", 0, HR_ZK_PERSISTENT, NULL, 0);
	if (rc && rc != -EEXIST)
		return rc;
	if (rc == 0)
		hr_log_info("cluster", "server %s is gone: recovering its regions from its WAL",
			    dead);
	list_add(v->recovering, sizeof(v->recovering), dead);
	return 0;
}

static int set_region(hr_cluster *c, const rz *z, int state, const char *owner, const char *rec)
{
	char path[64], text[1400];
	rz_path(path, sizeof(path), z->id);
	rz_format(text, sizeof(text), state, owner, rec);
	return hr_zk_set(c->zk, path, text, strlen(text), z->version);
}

static int dropping(hr_cluster *c, const char *table)
{
	pthread_mutex_lock(&c->drop_mu);
	int d = c->dropping[0] && strcmp(c->dropping, table) == 0;
	pthread_mutex_unlock(&c->drop_mu);
	return d;
}

static live_rs *least_loaded(view *v)
{
	live_rs *best = NULL;
	for (size_t i = 0; i < v->nrs; i++)
		if (!v->rs[i].stopping && (!best || v->rs[i].load < best->load))
			best = &v->rs[i];
	return best;
}

static int assign(hr_cluster *c, view *v, rz *z)
{
	live_rs *to = least_loaded(v);
	if (!to)
		return -EAGAIN;
	char rpath[64], opath[512], text[1400], order[1100];
	rz_path(rpath, sizeof(rpath), z->id);
	snprintf(opath, sizeof(opath), "/assign/%s/%016" PRIx64, to->name, z->id);
	rz_format(text, sizeof(text), RZ_OPENING, to->name, z->recover);
	snprintf(order, sizeof(order), "open%s%s", z->recover[0] ? " " : "", z->recover);
	hr_zk_op ops[2] = {
		{.type = HR_ZK_OP_SET, .path = rpath, .data = text, .version = z->version},
		{.type = HR_ZK_OP_CREATE, .path = opath, .data = order},
	};
	size_t failed = 0;
	int rc = hr_zk_multi(c->zk, ops, 2, &failed);
	if (rc == -EEXIST && failed == 1)
		hr_zk_delete(c->zk, opath, -1); /* a stale order: next round */
	if (rc == 0) {
		to->load++;
		hr_log_info("cluster", "region %016" PRIx64 " -> %s%s%s", z->id, to->name,
			    z->recover[0] ? " recovering from " : "", z->recover);
	}
	return rc;
}

/* Removes what is left of dead servers nothing refers to any more. */
static void retire_dead(hr_cluster *c, view *v, int pending)
{
	char list[4096];
	snprintf(list, sizeof(list), "%s", v->recovering);
	for (char *p = list, *e; p && *p; p = e) {
		e = strchr(p, HR_CLUSTER_LIST_SEP);
		if (e)
			*e++ = '\0';
		if (rs_find(v, p) || pending)
			continue;
		int used = 0;
		for (size_t i = 0; i < v->nz; i++)
			used |= strcmp(v->z[i].owner, p) == 0 || list_has(v->z[i].recover, p);
		if (used)
			continue;
		int rc = c->eng->wal_retire(c->ectx, p);
		if (rc && rc != -ENOENT) {
			hr_log_error("cluster", "cannot retire the WAL of %s: %s", p, strerror(-rc));
			continue;
		}
		char path[300];
		snprintf(path, sizeof(path), "/assign/%s", p);
		if (hr_zk_delete_tree(c->zk, path))
			continue;
		snprintf(path, sizeof(path), "/fence/%s", p);
		int r = hr_zk_delete(c->zk, path, -1);
		if (r && r != -ENOENT)
			continue;
		snprintf(path, sizeof(path), "/recovering/%s", p);
		if (hr_zk_delete(c->zk, path, -1) == 0)
			hr_log_info("cluster", "server %s recovered: its WAL is retired", p);
	}
}

static void reconcile(hr_cluster *c)
{
	view v;
	int rc = read_view(c, &v);
	if (rc) {
		if (rc == -EAGAIN)
			hr_zk_kick_fire(&c->master_kick);
		return;
	}
	/* servers that left (their /assign dir stays): their WAL is split */
	char **kids;
	size_t n;
	if (hr_zk_children(c->zk, "/assign", &kids, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			/* it may have registered since we read /rs */
			char path[300];
			snprintf(path, sizeof(path), "/rs/%s", kids[i]);
			if (!rs_find(&v, kids[i]) && hr_zk_exists(c->zk, path, NULL, NULL) == -ENOENT)
				mark_recovering(c, &v, kids[i]);
		}
		hr_zk_names_free(kids, n);
	}
	int live_split = 0, changed = 0;
	for (size_t i = 0; i < v.nz; i++)
		live_split |= v.z[i].state == RZ_SPLITTING && rs_find(&v, v.z[i].owner);

	for (size_t i = 0; i < v.nz; i++) {
		rz *z = &v.z[i];
		hr_cluster_region *m = meta_find(&v, z->id);
		char path[64];
		rz_path(path, sizeof(path), z->id);
		if (z->state != RZ_OFFLINE && !rs_find(&v, z->owner)) {
			/* its server died: HBase's server crash procedure */
			if (mark_recovering(c, &v, z->owner))
				continue;
			if (z->state == RZ_SPLITTING && !m) {
				/* the split committed in meta: finish it (the
				 * daughters get znodes below, next round) */
				if (hr_zk_delete(c->zk, path, z->version) == 0)
					hr_log_info("cluster", "split of %016" PRIx64 " finished for dead %s",
						    z->id, z->owner);
				changed = 1;
				continue;
			}
			char rec[1024];
			snprintf(rec, sizeof(rec), "%s", z->recover);
			list_add(rec, sizeof(rec), z->owner);
			if (set_region(c, z, RZ_OFFLINE, "-", rec) == 0 && z->state == RZ_SPLITTING)
				hr_log_info("cluster", "split of %016" PRIx64 " rolled back (dead %s)",
					    z->id, z->owner);
			changed = 1;
			continue;
		}
		if (!m) {
			/* dropped, or a split parent: nothing to serve */
			if (z->state == RZ_OFFLINE && !live_split) {
				hr_zk_delete(c->zk, path, z->version);
				changed = 1;
			}
			continue;
		}
		if (z->state == RZ_OFFLINE && !dropping(c, m->table)) {
			if (assign(c, &v, z) != -EAGAIN)
				changed = 1;
		}
	}
	/* regions meta has and ZooKeeper does not: a new table's, or the
	 * daughters of a split whose server died before recording them (their
	 * edits may be in any dead server's WAL). Not while a live server is
	 * splitting: its daughters are about to be recorded by it. */
	int pending = 0;
	for (size_t i = 0; i < v.nmeta && !live_split; i++) {
		if (z_find(&v, v.meta[i].id) || dropping(c, v.meta[i].table))
			continue;
		char path[64], text[4200];
		rz_path(path, sizeof(path), v.meta[i].id);
		rz_format(text, sizeof(text), RZ_OFFLINE, "-", v.recovering);
		rc = hr_zk_create(c->zk, path, text, strlen(text), HR_ZK_PERSISTENT, NULL, 0);
		pending = 1;
		changed = 1;
	}
	retire_dead(c, &v, pending || live_split);
	view_free(&v);
	if (changed)
		hr_zk_kick_fire(&c->master_kick);
}

void *hr_cluster_master_main(void *arg)
{
	hr_cluster *c = arg;
	while (!atomic_load(&c->stop) && !hr_zk_expired(c->zk)) {
		uint64_t seen = hr_zk_kick_count(&c->master_kick);
		pthread_mutex_lock(&c->master_mu);
		reconcile(c);
		atomic_fetch_add(&c->rounds, 1);
		pthread_mutex_unlock(&c->master_mu);
		hr_zk_kick_wait(&c->master_kick, seen, c->tick_ms);
	}
	return NULL;
}

uint64_t hr_cluster_master_rounds(hr_cluster *c)
{
	return atomic_load(&c->rounds);
}

/* ---- master operations -------------------------------------------------- */

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int r = memcmp(a, b, al < bl ? al : bl);
	return r ? r : (al > bl) - (al < bl);
}

int hr_cluster_locate(hr_cluster *c, const char *table, const void *row, size_t row_len,
		      uint64_t *id, uint8_t **start, size_t *start_len, uint8_t **end,
		      size_t *end_len, char *addr, size_t addrlen)
{
	if (!atomic_load(&c->is_master))
		return -EREMOTE;
	hr_cluster_region *m;
	size_t nm;
	int rc = c->eng->meta_regions(c->ectx, &m, &nm);
	if (rc)
		return rc;
	hr_cluster_region *hit = NULL;
	int table_seen = 0;
	for (size_t i = 0; i < nm && !hit; i++) {
		if (strcmp(m[i].table, table) != 0)
			continue;
		table_seen = 1;
		if (key_cmp(row, row_len, m[i].start, m[i].start_len) >= 0 &&
		    (m[i].end_len == 0 || key_cmp(row, row_len, m[i].end, m[i].end_len) < 0))
			hit = &m[i];
	}
	rc = table_seen ? -EAGAIN : -ENOENT;
	rz z;
	if (hit && rz_read(c, hit->id, &z, NULL) == 0 && z.state == RZ_OPEN) {
		char path[300], *data = NULL;
		snprintf(path, sizeof(path), "/rs/%s", z.owner);
		if (hr_zk_get(c->zk, path, &data, NULL, NULL, NULL) == 0) {
			char *sp = strchr(data, ' ');
			if (sp)
				*sp = '\0';
			snprintf(addr, addrlen, "%s", data);
			free(data);
			*id = hit->id;
			*start = hit->start;
			*start_len = hit->start_len;
			*end = hit->end;
			*end_len = hit->end_len;
			hit->start = hit->end = NULL; /* handed over */
			rc = 0;
		}
	}
	hr_cluster_regions_free(m, nm);
	return rc;
}

/* Waits until every region of ids is in state want (or gone, when want is
 * RZ_OFFLINE), kicking the master between reads. */
static int wait_regions(hr_cluster *c, const uint64_t *ids, size_t n, int want,
			uint32_t timeout_ms)
{
	/* not a kick on this stack: the watches rz_read sets outlive the
	 * wait, and one firing later would lock a mutex of a dead frame */
	hr_zk_kick *k = &c->wait_kick;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = -ETIMEDOUT;
	for (;;) {
		uint64_t seen = hr_zk_kick_count(k);
		size_t done = 0;
		for (size_t i = 0; i < n; i++) {
			rz z;
			int r = rz_read(c, ids[i], &z, k);
			if ((r == -ENOENT && want == RZ_OFFLINE) || (r == 0 && z.state == want))
				done++;
		}
		if (done == n) {
			rc = 0;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = (int64_t)timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 +
						     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || atomic_load(&c->stop))
			break;
		hr_zk_kick_fire(&c->master_kick);
		hr_zk_kick_wait(k, seen, (uint32_t)(left < 500 ? left : 500));
	}
	return rc;
}

int hr_cluster_create_table(hr_cluster *c, const hr_table_schema *s, uint32_t timeout_ms)
{
	if (!atomic_load(&c->is_master))
		return -EREMOTE;
	uint64_t id;
	pthread_mutex_lock(&c->master_mu);
	int rc = c->eng->table_create(c->ectx, s, &id);
	if (rc == 0) {
		char path[64], text[64];
		rz_path(path, sizeof(path), id);
		rz_format(text, sizeof(text), RZ_OFFLINE, "-", "");
		rc = hr_zk_create(c->zk, path, text, strlen(text), HR_ZK_PERSISTENT, NULL, 0);
		if (rc == -EEXIST)
			rc = 0;
	}
	pthread_mutex_unlock(&c->master_mu);
	if (rc)
		return rc;
	hr_zk_kick_fire(&c->master_kick);
	return wait_regions(c, &id, 1, RZ_OPEN, timeout_ms);
}

int hr_cluster_drop_table(hr_cluster *c, const char *table, uint32_t timeout_ms)
{
	if (!atomic_load(&c->is_master))
		return -EREMOTE;
	pthread_mutex_lock(&c->drop_mu);
	int busy = c->dropping[0] != 0;
	if (!busy)
		snprintf(c->dropping, sizeof(c->dropping), "%s", table);
	pthread_mutex_unlock(&c->drop_mu);
	if (busy)
		return -EBUSY;
	hr_cluster_region *m = NULL;
	size_t nm = 0;
	uint64_t *ids = NULL;
	size_t nids = 0;
	int rc = c->eng->meta_regions(c->ectx, &m, &nm);
	if (rc)
		goto out;
	ids = calloc(nm ? nm : 1, sizeof(*ids));
	if (!ids) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nm; i++)
		if (strcmp(m[i].table, table) == 0)
			ids[nids++] = m[i].id;
	if (nids == 0) {
		rc = -ENOENT;
		goto out;
	}
	/* close every region where it is open; wait for those in transition */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int all = 1;
		pthread_mutex_lock(&c->master_mu);
		view v;
		memset(&v, 0, sizeof(v));
		rc = read_rs(c, &v, NULL);
		for (size_t i = 0; rc == 0 && i < nids; i++) {
			rz z;
			if (rz_read(c, ids[i], &z, NULL) || z.state == RZ_OFFLINE)
				continue;
			all = 0;
			if (!rs_find(&v, z.owner)) {
				set_region(c, &z, RZ_OFFLINE, "-", ""); /* its edits die with it */
			} else if (z.state == RZ_OPEN) {
				char rpath[64], opath[512], text[400];
				rz_path(rpath, sizeof(rpath), z.id);
				snprintf(opath, sizeof(opath), "/assign/%s/%016" PRIx64, z.owner, z.id);
				rz_format(text, sizeof(text), RZ_CLOSING, z.owner, "");
				hr_zk_op ops[2] = {
					{.type = HR_ZK_OP_SET, .path = rpath, .data = text,
					 .version = z.version},
					{.type = HR_ZK_OP_CREATE, .path = opath, .data = "close"},
				};
				hr_zk_multi(c->zk, ops, 2, NULL);
			}
		}
		view_free(&v);
		pthread_mutex_unlock(&c->master_mu);
		if (rc || all)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (spent >= timeout_ms) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = wait_regions(c, ids, nids, RZ_OFFLINE, (uint32_t)(timeout_ms - spent));
		if (rc)
			break;
		/* read once more (a region may have opened meanwhile), then drop */
	}
	if (rc == 0) {
		pthread_mutex_lock(&c->master_mu);
		rc = c->eng->table_drop(c->ectx, table);
		for (size_t i = 0; rc == 0 && i < nids; i++) {
			char path[64];
			rz_path(path, sizeof(path), ids[i]);
			hr_zk_delete(c->zk, path, -1);
		}
		pthread_mutex_unlock(&c->master_mu);
	}
out:
	pthread_mutex_lock(&c->drop_mu);
	c->dropping[0] = '\0';
	pthread_mutex_unlock(&c->drop_mu);
	free(ids);
	hr_cluster_regions_free(m, nm);
	return rc;
}

int hr_cluster_family_add(hr_cluster *c, const char *table, const hr_family_schema *f)
{
	if (!atomic_load(&c->is_master))
		return -EREMOTE;
	pthread_mutex_lock(&c->master_mu);
	int rc = c->eng->family_add(c->ectx, table, f);
	pthread_mutex_unlock(&c->master_mu);
	return rc;
}
