/*
 * hr_zk.h — a thin wrapper over ZooKeeper's multi-threaded C client
 * (libzookeeper_mt, THREADED API) for cluster mode: one session, errors as
 * negative errnos, and watches that only wake a waiter (hr_zk_kick).
 *
 * Why watches only kick: the client runs watch callbacks on its completion
 * thread, and a synchronous call made from there waits for a completion
 * that same thread would deliver — a deadlock. So every user of this module
 * does its ZooKeeper work on its own thread, re-reading (and re-arming the
 * watch) whenever it is kicked: level-triggered, so a lost or merged event
 * is harmless.
 *
 * Session: hr_zk_open connects (creating the /chroot of the connect string
 * first if it is missing) and waits until the session is established. A
 * connection lost and regained within the session timeout is invisible
 * (calls made meanwhile fail with -ENOTCONN and are retried by the caller's
 * loop). An expired session is final: on_expired runs once (from the
 * client's thread: it must only set a flag / signal), every later call
 * fails with -ESHUTDOWN, and the owner must stop acting as a cluster
 * member (its ephemeral znodes are gone; another server took over).
 *
 * Errors: ZNONODE -ENOENT, ZNODEEXISTS -EEXIST, ZBADVERSION -ESTALE,
 * ZNOTEMPTY -ENOTEMPTY, connection loss / timeout -ENOTCONN, session
 * expired or closed -ESHUTDOWN, anything else -EIO.
 * Thread-safety: every function may be called from any thread except a
 * watch callback (above).
 */
#ifndef HR_ZK_H
#define HR_ZK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hr_zk hr_zk;

/* What a watch wakes: a counter under a mutex. A waiter remembers the
 * count it saw, re-reads ZooKeeper, then waits for the count to move.
 * Lifetime: ZooKeeper keeps a watch until its znode changes or the
 * session closes, so a kick passed as a watch must live until hr_zk_close
 * (never on a waiter's stack: a later change fires it into a dead frame). */
typedef struct hr_zk_kick {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t count;
} hr_zk_kick;

void hr_zk_kick_init(hr_zk_kick *k);
void hr_zk_kick_destroy(hr_zk_kick *k);
void hr_zk_kick_fire(hr_zk_kick *k);
uint64_t hr_zk_kick_count(hr_zk_kick *k);
/* Waits until the count differs from seen or timeout_ms passed. */
void hr_zk_kick_wait(hr_zk_kick *k, uint64_t seen, uint32_t timeout_ms);

typedef void (*hr_zk_expired_fn)(void *ctx);

/* connect: "host:port[,host:port...][/chroot]". Waits up to timeout_ms for
 * the session. -ETIMEDOUT if no server answered, -EINVAL on a bad string. */
int hr_zk_open(const char *connect, uint32_t timeout_ms, hr_zk_expired_fn on_expired, void *ctx,
	       hr_zk **out);
/* Ends the session (its ephemeral znodes go at once). NULL is a no-op. */
void hr_zk_close(hr_zk *zk);
/* 1 once the session expired or was closed. */
int hr_zk_expired(hr_zk *zk);

enum { HR_ZK_PERSISTENT = 0, HR_ZK_EPHEMERAL = 1, HR_ZK_SEQUENTIAL = 2 };

/* Creates path with data (len bytes). made (optional) gets the created
 * path (with the sequence suffix). */
int hr_zk_create(hr_zk *zk, const char *path, const void *data, size_t len, int flags,
		 char *made, size_t madelen);
/* Creates path and its missing parents, persistent and empty; 0 if it exists. */
int hr_zk_mkpath(hr_zk *zk, const char *path);
/* Reads path: *data malloc'd and NUL-terminated (free()), *version its
 * data version; watch (optional) is kicked on its next change or deletion. */
int hr_zk_get(hr_zk *zk, const char *path, char **data, size_t *len, int *version,
	      hr_zk_kick *watch);
/* 0 if path exists (*version set), -ENOENT if not; watch fires on creation,
 * change or deletion. */
int hr_zk_exists(hr_zk *zk, const char *path, int *version, hr_zk_kick *watch);
/* Sets path's data if its version is still version (-1: any); -ESTALE if not. */
int hr_zk_set(hr_zk *zk, const char *path, const void *data, size_t len, int version);
/* Deletes path if its version is version (-1: any). */
int hr_zk_delete(hr_zk *zk, const char *path, int version);
/* Deletes path and everything under it (not atomic; -ENOENT-tolerant). */
int hr_zk_delete_tree(hr_zk *zk, const char *path);
/* The names of path's children, sorted (malloc'd; hr_zk_names_free); watch
 * fires when the set changes. */
int hr_zk_children(hr_zk *zk, const char *path, char ***names, size_t *n, hr_zk_kick *watch);
void hr_zk_names_free(char **names, size_t n);

/* One operation of an atomic hr_zk_multi. */
typedef struct hr_zk_op {
	enum { HR_ZK_OP_CREATE, HR_ZK_OP_SET, HR_ZK_OP_DELETE, HR_ZK_OP_CHECK } type;
	const char *path;
	const char *data;	/* CREATE, SET: NUL-terminated text */
	int version;		/* SET, DELETE, CHECK (-1: any) */
	int flags;		/* CREATE: HR_ZK_* */
} hr_zk_op;

/* All of ops or none. On failure returns the first failing op's error and
 * its index in *failed (optional). */
int hr_zk_multi(hr_zk *zk, const hr_zk_op *ops, size_t n, size_t *failed);

#endif
