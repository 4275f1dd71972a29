/*
 * conn.c — connections to a RADOS pool (contract in hr_rados.h).
 *
 * The cluster handles live in a small process-wide list keyed by the
 * ceph.conf path, each with a reference count, under one mutex: connect
 * is rare (a server start, an offline tool run) and slow anyway (a
 * monitor round trip), so one lock held across rados_connect costs
 * nothing and keeps two first users from making two sessions.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_rados.h"
#include "hr_log.h"

struct cluster {
	struct cluster *next;
	char *conf;
	rados_t handle;
	int refs;
};

struct hr_rados {
	struct cluster *cl;
	rados_ioctx_t ioctx;
	char *pool;
	char *nspace;
};

static pthread_mutex_t clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cluster *clusters;	/* guarded by clusters_lock */

static int set_opt(rados_t h, const char *conf, const char *key, int value)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", value);
	int rc = rados_conf_set(h, key, v);
	if (rc < 0)
		hr_log_error("rados", "%s: cannot set %s: %s", conf, key, strerror(-rc));
	return rc;
}

/* A new cluster handle, connected. Called with clusters_lock held. */
static int cluster_new(const char *conf, struct cluster **out)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->conf = strdup(conf))) {
		free(cl);
		return -ENOMEM;
	}
	/* librados reads $CEPH_ARGS and the default search path unless told
	 * which file: the one named in the configuration wins, and a missing
	 * file is an error of its own (librados would say only "ENOENT"). */
	if (access(conf, R_OK) != 0) {
		int rc = -errno;
		hr_log_error("rados", "ceph_conf %s: %s", conf, strerror(-rc));
		free(cl->conf);
		free(cl);
		return rc;
	}
	int rc = rados_create2(&cl->handle, "ceph", "client.admin", 0);
	if (rc < 0) {
		hr_log_error("rados", "%s: rados_create: %s", conf, strerror(-rc));
		free(cl->conf);
		free(cl);
		return rc;
	}
	rc = rados_conf_read_file(cl->handle, conf);
	if (rc < 0) {
		hr_log_error("rados", "%s: cannot read it: %s", conf, strerror(-rc));
		goto fail;
	}
	if ((rc = set_opt(cl->handle, conf, "client_mount_timeout", HR_RADOS_MOUNT_TIMEOUT_S)) < 0 ||
	    (rc = set_opt(cl->handle, conf, "rados_mon_op_timeout", HR_RADOS_MON_OP_TIMEOUT_S)) < 0 ||
	    (rc = set_opt(cl->handle, conf, "rados_osd_op_timeout", HR_RADOS_OSD_OP_TIMEOUT_S)) < 0)
		goto fail;
	rc = rados_connect(cl->handle);
	if (rc < 0) {
		hr_log_error("rados", "%s: cannot connect to the cluster (waited up to %d s "
			     "for a monitor): %s", conf, HR_RADOS_MOUNT_TIMEOUT_S, strerror(-rc));
		goto fail;
	}
	cl->refs = 0;
	*out = cl;
	return 0;
fail:
	rados_shutdown(cl->handle);
	free(cl->conf);
	free(cl);
	return rc;
}

/* Drops one reference; the last one shuts the session down. Called with
 * clusters_lock held. */
static void cluster_put(struct cluster *cl)
{
	if (--cl->refs > 0)
		return;
	for (struct cluster **p = &clusters; *p; p = &(*p)->next) {
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	}
	rados_shutdown(cl->handle);
	free(cl->conf);
	free(cl);
}

int hr_rados_connect(const char *ceph_conf, const char *pool, const char *nspace,
		     hr_rados **out)
{
	*out = NULL;
	if (!ceph_conf || !*ceph_conf || !pool || !*pool)
		return -EINVAL;
	hr_rados *r = calloc(1, sizeof(*r));
	if (!r || !(r->pool = strdup(pool)) || !(r->nspace = strdup(nspace ? nspace : ""))) {
		if (r)
			free(r->pool);
		free(r);
		return -ENOMEM;
	}
	int rc;
	pthread_mutex_lock(&clusters_lock);
	struct cluster *cl = clusters;
	while (cl && strcmp(cl->conf, ceph_conf) != 0)
		cl = cl->next;
	if (!cl) {
		rc = cluster_new(ceph_conf, &cl);
		if (rc < 0)
			goto fail;
		cl->next = clusters;
		clusters = cl;
	}
	cl->refs++;
	r->cl = cl;
	rc = rados_ioctx_create(cl->handle, pool, &r->ioctx);
	if (rc < 0) {
		hr_log_error("rados", "%s: cannot open pool '%s': %s%s", ceph_conf, pool,
			     strerror(-rc), rc == -ENOENT ? " (create it: ceph osd pool create)" : "");
		cluster_put(cl);
		goto fail;
	}
	rados_ioctx_set_namespace(r->ioctx, r->nspace);
	pthread_mutex_unlock(&clusters_lock);
	*out = r;
	return 0;
fail:
	pthread_mutex_unlock(&clusters_lock);
	free(r->pool);
	free(r->nspace);
	free(r);
	return rc;
}

rados_ioctx_t hr_rados_ioctx(hr_rados *r) { return r->ioctx; }
const char *hr_rados_pool(const hr_rados *r) { return r->pool; }
const char *hr_rados_namespace(const hr_rados *r) { return r->nspace; }

void hr_rados_close(hr_rados *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&clusters_lock);
	rados_ioctx_destroy(r->ioctx);
	cluster_put(r->cl);
	pthread_mutex_unlock(&clusters_lock);
	free(r->pool);
	free(r->nspace);
	free(r);
}

int hr_rados_addrs(hr_rados *r, char *buf, size_t len)
{
	char *a = NULL;
	int rc = rados_getaddrs(r->cl->handle, &a);
	if (rc < 0)
		return rc;
	rc = snprintf(buf, len, "%s", a) < (int)len ? 0 : -ERANGE;
	rados_buffer_free(a);
	return rc;
}

int hr_rados_blocklist(hr_rados *r, const char *addr, uint32_t expire_s)
{
	/* librados waits for the OSD map with the entry before returning */
	return rados_blocklist_add(r->cl->handle, (char *)addr, expire_s);
}

int hr_rados_wait_latest_map(hr_rados *r)
{
	return rados_wait_for_latest_osdmap(r->cl->handle);
}

static atomic_int fenced;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*fence_hook)(void *);	/* guarded by hook_lock */
static void *fence_ctx;

int hr_rados_note(int rc)
{
	if (rc != -ESHUTDOWN || atomic_exchange(&fenced, 1))
		return rc;
	hr_log_error("rados", "RADOS refuses this process's operations (%s): it is "
		     "blocklisted, fenced by the master", strerror(-rc));
	pthread_mutex_lock(&hook_lock);
	if (fence_hook)
		fence_hook(fence_ctx);
	pthread_mutex_unlock(&hook_lock);
	return rc;
}

int hr_rados_fenced(void) { return atomic_load(&fenced); }

void hr_rados_set_fence_hook(void (*hook)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&hook_lock);
	fence_hook = hook;
	fence_ctx = ctx;
	pthread_mutex_unlock(&hook_lock);
}

int hr_rados_probe(hr_rados *r)
{
	uint64_t size;
	time_t mtime;
	int rc = rados_stat(r->ioctx, "hregionfs.fence-probe", &size, &mtime);
	return hr_rados_note(rc == -ENOENT ? 0 : rc);
}

void hr_rados_default_namespace(const char *data_dir, char *buf, size_t len)
{
	if (!len)
		return;
	char real[PATH_MAX];
	/* The resolved path when the directory exists, so "./data" and
	 * "/abs/data" (or a path through a symlink) name the same objects. */
	const char *p = realpath(data_dir, real) ? real : data_dir;
	snprintf(buf, len, "%s", p);
}
