/*
 * hr_rados.h — a connection to a Ceph RADOS pool (storage=rados).
 *
 * hr_rados_connect reads a ceph.conf, connects to the cluster and opens an
 * I/O context on one pool, confined to one namespace (RADOS namespaces
 * partition a pool's object names: every data directory and every test
 * gets its own without creating pools). The io backend (io_rados.c) and
 * the metadata backend (meta_rados.c) both work through hr_rados_ioctx.
 *
 * One cluster handle (rados_t: the monitor session, the OSD map, librados'
 * threads) is shared by every hr_rados of the process opened with the same
 * ceph.conf, reference-counted: a process serving several data directories
 * pays for one session. Each hr_rados has its own ioctx (its namespace).
 *
 * Failing fast: librados waits forever for an absent monitor or OSD by
 * default. The connection sets client_mount_timeout, rados_mon_op_timeout
 * and rados_osd_op_timeout (HR_RADOS_*_TIMEOUT_S below), so a start against
 * a cluster that is not there fails in seconds with -ETIMEDOUT, and an
 * operation on a cluster that went away fails instead of hanging a thread.
 * Errors are logged once, naming the ceph.conf, the pool and librados'
 * message.
 *
 * Thread-safety: connect and close may be called from any thread (a mutex
 * guards the shared handles); an ioctx is thread-safe (librados' rule).
 */
#ifndef HR_RADOS_H
#define HR_RADOS_H

#include <rados/librados.h>

typedef struct hr_rados hr_rados;

/* Seconds librados waits for the monitors at connect, for a monitor
 * command, and for one OSD operation. Generous for the last: an OSD that
 * restarts takes a few seconds to be marked up again. */
#define HR_RADOS_MOUNT_TIMEOUT_S 5
#define HR_RADOS_MON_OP_TIMEOUT_S 10
#define HR_RADOS_OSD_OP_TIMEOUT_S 30

/* Connects (or shares this process's connection to ceph_conf) and opens
 * pool with namespace nspace ("" = the pool's default namespace).
 * -ENOENT: no such ceph.conf or pool; -ETIMEDOUT: no monitor answered;
 * another negative errno from librados. The pool is never created. */
int hr_rados_connect(const char *ceph_conf, const char *pool, const char *nspace,
		     hr_rados **out);

/* The I/O context (pool + namespace); valid until hr_rados_close. */
rados_ioctx_t hr_rados_ioctx(hr_rados *r);

/* The pool and namespace it was opened with (for messages). */
const char *hr_rados_pool(const hr_rados *r);
const char *hr_rados_namespace(const hr_rados *r);

/* Closes the ioctx; the last close of a cluster handle shuts it down
 * (after the caller has waited for its own asynchronous operations).
 * NULL is a no-op. */
void hr_rados_close(hr_rados *r);

/* ---- fencing (hregionfs-server; README "Cluster mode", fencing) ----------
 * The master fences a dead server by blocklisting its RADOS client
 * instance: from then on every OSD refuses that instance's operations with
 * -EBLOCKLISTED (librados' name for -ESHUTDOWN), so a server that was only
 * paused can no longer append to the WAL another server is replaying. */

/* This process's RADOS client address ("IP:PORT/NONCE", or librados' list
 * of them), the instance a blocklist names. -ERANGE if len is too small. */
int hr_rados_addrs(hr_rados *r, char *buf, size_t len);
/* Blocklists the client instance addr for expire_s seconds (idempotent:
 * adding it again only renews the expiry) and returns once this process
 * has the OSD map that carries the entry. */
int hr_rados_blocklist(hr_rados *r, const char *addr, uint32_t expire_s);
/* Waits until this process has the monitors' latest OSD map: operations
 * issued after it carry that epoch, and an OSD holds them until it has
 * the map too, so they are ordered after every blocklist already
 * committed (a WAL replay reads nothing a fenced server writes later). */
int hr_rados_wait_latest_map(hr_rados *r);

/* Called with an operation's result by the RADOS backends: -ESHUTDOWN
 * (the instance is blocklisted: fenced) marks the process fenced and calls
 * the hook once. Returns rc. */
int hr_rados_note(int rc);
/* 1 once an operation of this process failed as blocklisted. */
int hr_rados_fenced(void);
/* The hook (one per process; the server program's): called once, from
 * whichever thread saw the refusal, so it must only set a flag/signal. */
void hr_rados_set_fence_hook(void (*hook)(void *ctx), void *ctx);
/* One small read (stat of an object that need not exist) to learn whether
 * this instance is fenced: -ESHUTDOWN if so (noted as above), 0 if not,
 * another negative errno when the cluster cannot tell. */
int hr_rados_probe(hr_rados *r);

/* The namespace a data directory gets when rados_namespace is empty: its
 * absolute path (so two data directories never share objects), or "" for
 * an empty path. Writes at most len bytes (truncates; the path is short). */
void hr_rados_default_namespace(const char *data_dir, char *buf, size_t len);

#endif
