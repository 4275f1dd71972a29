/*
 * zk.c — the ZooKeeper session wrapper (contract in hr_zk.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "engine/hr_zk.h"
#include "hr_log.h"

struct hr_zk {
	zhandle_t *zh;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;		/* last session state seen by the global watcher */
	int expired;
	hr_zk_expired_fn on_expired;
	void *ctx;
};

/* ---- kicks ------------------------------------------------------------- */

void hr_zk_kick_init(hr_zk_kick *k)
{
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cv, &a);
	pthread_condattr_destroy(&a);
	k->count = 0;
}

void hr_zk_kick_destroy(hr_zk_kick *k)
{
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
}

void hr_zk_kick_fire(hr_zk_kick *k)
{
	pthread_mutex_lock(&k->mu);
	k->count++;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

uint64_t hr_zk_kick_count(hr_zk_kick *k)
{
	pthread_mutex_lock(&k->mu);
	uint64_t c = k->count;
	pthread_mutex_unlock(&k->mu);
	return c;
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void hr_zk_kick_wait(hr_zk_kick *k, uint64_t seen, uint32_t timeout_ms)
{
	struct timespec ts;
	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&k->mu);
	while (k->count == seen)
		if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&k->mu);
}

static void kick_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh, (void)type, (void)state, (void)path;
	if (ctx)
		hr_zk_kick_fire(ctx);
}

/* ---- session ----------------------------------------------------------- */

static int zerr(int rc)
{
	switch (rc) {
	case ZOK: return 0;
	case ZNONODE: return -ENOENT;
	case ZNODEEXISTS: return -EEXIST;
	case ZBADVERSION: return -ESTALE;
	case ZNOTEMPTY: return -ENOTEMPTY;
	case ZCONNECTIONLOSS:
	case ZOPERATIONTIMEOUT: return -ENOTCONN;
	case ZSESSIONEXPIRED:
	case ZINVALIDSTATE:
	case ZCLOSING: return -ESHUTDOWN;
	case ZBADARGUMENTS: return -EINVAL;
	case ZNOCHILDRENFOREPHEMERALS: return -EPERM;
	default: return -EIO;
	}
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh, (void)path;
	hr_zk *zk = ctx;
	if (type != ZOO_SESSION_EVENT || !zk)
		return;
	int fire = 0;
	pthread_mutex_lock(&zk->mu);
	zk->state = state;
	if (state == ZOO_EXPIRED_SESSION_STATE && !zk->expired) {
		zk->expired = 1;
		fire = 1;
	}
	pthread_cond_broadcast(&zk->cv);
	pthread_mutex_unlock(&zk->mu);
	if (state == ZOO_CONNECTING_STATE)
		hr_log_warn("zk", "connection to ZooKeeper lost; reconnecting within the session");
	if (fire) {
		hr_log_error("zk", "ZooKeeper session expired");
		if (zk->on_expired)
			zk->on_expired(zk->ctx);
	}
}

static int quiet_once;

static int connect_raw(const char *connect, uint32_t timeout_ms, hr_zk *zk)
{
	if (!__atomic_exchange_n(&quiet_once, 1, __ATOMIC_SEQ_CST))
		zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	pthread_mutex_init(&zk->mu, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&zk->cv, &a);
	pthread_condattr_destroy(&a);
	zk->zh = zookeeper_init(connect, session_watcher, (int)timeout_ms, NULL, zk, 0);
	if (!zk->zh)
		return errno ? -errno : -EINVAL;
	struct timespec ts;
	deadline_in(&ts, timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&zk->mu);
	while (zk->state != ZOO_CONNECTED_STATE && !zk->expired)
		if (pthread_cond_timedwait(&zk->cv, &zk->mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	if (zk->expired)
		rc = -ESHUTDOWN;
	pthread_mutex_unlock(&zk->mu);
	return rc;
}

static void free_raw(hr_zk *zk)
{
	if (zk->zh)
		zookeeper_close(zk->zh);
	pthread_mutex_destroy(&zk->mu);
	pthread_cond_destroy(&zk->cv);
	free(zk);
}

int hr_zk_open(const char *connect, uint32_t timeout_ms, hr_zk_expired_fn on_expired, void *ctx,
	       hr_zk **out)
{
	*out = NULL;
	if (!connect || !*connect)
		return -EINVAL;
	const char *slash = strchr(connect, '/');
	if (slash && slash[1]) {
		/* zookeeper_init takes the chroot but needs it to exist */
		char base[1024];
		size_t bl = (size_t)(slash - connect);
		if (bl >= sizeof(base))
			return -EINVAL;
		memcpy(base, connect, bl);
		base[bl] = '\0';
		hr_zk *b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		int rc = connect_raw(base, timeout_ms, b);
		if (rc == 0)
			rc = hr_zk_mkpath(b, slash);
		free_raw(b);
		if (rc) {
			hr_log_error("zk", "cannot reach ZooKeeper at %s or create %s: %s", base, slash,
				     strerror(-rc));
			return rc;
		}
	}
	hr_zk *zk = calloc(1, sizeof(*zk));
	if (!zk)
		return -ENOMEM;
	zk->on_expired = on_expired;
	zk->ctx = ctx;
	int rc = connect_raw(connect, timeout_ms, zk);
	if (rc) {
		hr_log_error("zk", "cannot open a ZooKeeper session at %s: %s", connect, strerror(-rc));
		zk->on_expired = NULL;
		free_raw(zk);
		return rc;
	}
	*out = zk;
	return 0;
}

void hr_zk_close(hr_zk *zk)
{
	if (!zk)
		return;
	pthread_mutex_lock(&zk->mu);
	zk->expired = 1; /* a close is not an expiry: no callback */
	zk->on_expired = NULL;
	pthread_mutex_unlock(&zk->mu);
	free_raw(zk);
}

int hr_zk_expired(hr_zk *zk)
{
	pthread_mutex_lock(&zk->mu);
	int e = zk->expired;
	pthread_mutex_unlock(&zk->mu);
	return e;
}

/* ---- operations -------------------------------------------------------- */

static int mode_of(int flags)
{
	if (flags & HR_ZK_EPHEMERAL)
		return flags & HR_ZK_SEQUENTIAL ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
	return flags & HR_ZK_SEQUENTIAL ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
}

int hr_zk_create(hr_zk *zk, const char *path, const void *data, size_t len, int flags,
		 char *made, size_t madelen)
{
	return zerr(zoo_create(zk->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE,
			       mode_of(flags), made, (int)madelen));
}

int hr_zk_mkpath(hr_zk *zk, const char *path)
{
	char p[1024];
	size_t l = strlen(path);
	if (l >= sizeof(p) || path[0] != '/')
		return -EINVAL;
	memcpy(p, path, l + 1);
	for (size_t i = 1; i <= l; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		int rc = hr_zk_create(zk, p, "", 0, HR_ZK_PERSISTENT, NULL, 0);
		p[i] = c;
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

int hr_zk_get(hr_zk *zk, const char *path, char **data, size_t *len, int *version,
	      hr_zk_kick *watch)
{
	int cap = 4096;
	for (;;) {
		char *buf = malloc((size_t)cap + 1);
		if (!buf)
			return -ENOMEM;
		int bl = cap;
		struct Stat st;
		int rc = zerr(zoo_wget(zk->zh, path, watch ? kick_watcher : NULL, watch, buf, &bl,
				       &st));
		if (rc) {
			free(buf);
			return rc;
		}
		if (st.dataLength > cap) {
			free(buf);
			cap = st.dataLength;
			continue;
		}
		if (bl < 0)
			bl = 0;
		buf[bl] = '\0';
		if (version)
			*version = st.version;
		if (len)
			*len = (size_t)bl;
		if (data)
			*data = buf;
		else
			free(buf);
		return 0;
	}
}

int hr_zk_exists(hr_zk *zk, const char *path, int *version, hr_zk_kick *watch)
{
	struct Stat st;
	int rc = zerr(zoo_wexists(zk->zh, path, watch ? kick_watcher : NULL, watch, &st));
	if (rc == 0 && version)
		*version = st.version;
	return rc;
}

int hr_zk_set(hr_zk *zk, const char *path, const void *data, size_t len, int version)
{
	return zerr(zoo_set(zk->zh, path, data, (int)len, version));
}

int hr_zk_delete(hr_zk *zk, const char *path, int version)
{
	return zerr(zoo_delete(zk->zh, path, version));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hr_zk_children(hr_zk *zk, const char *path, char ***names, size_t *n, hr_zk_kick *watch)
{
	struct String_vector sv = {0};
	*names = NULL;
	*n = 0;
	int rc = zerr(zoo_wget_children(zk->zh, path, watch ? kick_watcher : NULL, watch, &sv));
	if (rc)
		return rc;
	char **v = calloc(sv.count ? (size_t)sv.count : 1, sizeof(*v));
	if (!v) {
		deallocate_String_vector(&sv);
		return -ENOMEM;
	}
	for (int i = 0; i < sv.count; i++) {
		v[i] = strdup(sv.data[i]);
		if (!v[i]) {
			hr_zk_names_free(v, (size_t)i);
			deallocate_String_vector(&sv);
			return -ENOMEM;
		}
	}
	qsort(v, (size_t)sv.count, sizeof(*v), cmp_names);
	*names = v;
	*n = (size_t)sv.count;
	deallocate_String_vector(&sv);
	return 0;
}

void hr_zk_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int hr_zk_delete_tree(hr_zk *zk, const char *path)
{
	char **kids;
	size_t n;
	int rc = hr_zk_children(zk, path, &kids, &n, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, kids[i]);
		rc = hr_zk_delete_tree(zk, sub);
	}
	hr_zk_names_free(kids, n);
	if (rc)
		return rc;
	rc = hr_zk_delete(zk, path, -1);
	return rc == -ENOENT ? 0 : rc;
}

int hr_zk_multi(hr_zk *zk, const hr_zk_op *ops, size_t n, size_t *failed)
{
	if (n == 0)
		return 0;
	zoo_op_t *zo = calloc(n, sizeof(*zo));
	zoo_op_result_t *res = calloc(n, sizeof(*res));
	int rc = -ENOMEM;
	if (!zo || !res)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const hr_zk_op *o = &ops[i];
		switch (o->type) {
		case HR_ZK_OP_CREATE:
			zoo_create_op_init(&zo[i], o->path, o->data ? o->data : "",
					   o->data ? (int)strlen(o->data) : 0, &ZOO_OPEN_ACL_UNSAFE,
					   mode_of(o->flags), NULL, 0);
			break;
		case HR_ZK_OP_SET:
			zoo_set_op_init(&zo[i], o->path, o->data, (int)strlen(o->data), o->version,
					NULL);
			break;
		case HR_ZK_OP_DELETE:
			zoo_delete_op_init(&zo[i], o->path, o->version);
			break;
		case HR_ZK_OP_CHECK:
			zoo_check_op_init(&zo[i], o->path, o->version);
			break;
		}
	}
	rc = zerr(zoo_multi(zk->zh, (int)n, zo, res));
	if (rc && failed) {
		*failed = 0;
		for (size_t i = 0; i < n; i++)
			if (res[i].err != ZOK && res[i].err != ZRUNTIMEINCONSISTENCY) {
				*failed = i;
				rc = zerr(res[i].err);
				break;
			}
	}
out:
	free(zo);
	free(res);
	return rc;
}
