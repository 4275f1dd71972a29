/*
 * hr_client.h — the engine in client mode (engine/client/): what
 * hr_server_open returns when cfg.cluster is set and cfg.server_name is not
 * (a region server has both). The public entry points
 * of engine/server/ branch here (`if (srv->client)`); the mount above sees
 * the same API (hregionfs.h) and holds no data.
 *
 * Finding things (HBase's client): the master's address comes from
 * ZooKeeper (`/master` under the chroot of cfg.cluster, data "HOST:PORT
 * server_name", watched), or, for tests and one-server setups, directly
 * from a cluster string "rpc://HOST:PORT" (no ZooKeeper). LOCATE(table, row)
 * asks the master which region holds a row and where it is served; the
 * answer is cached per table by key range.
 *
 * Calls (conn.c): a small pool of TCP connections per server
 * (HR_CLIENT_CONNS), each carrying requests of many threads at once
 * (answers matched by request id, one reader thread per connection). A call
 * waits at most cfg.rpc_timeout_ms; a timeout closes its connection.
 *
 * Retries (ops.c): on -EREMOTE (not serving), -ESTALE, a refused, reset or
 * timed-out connection, or a region in transition, the op drops the cached
 * location, waits retry_pause_ms doubling each time (capped at 1 s) and
 * re-locates. It gives up with -EAGAIN once it has retried cfg.retries
 * times AND retry_window_ms has passed since the op began: the window is
 * 2 x zk_session_timeout_ms, because a killed server's regions come back
 * only after its ZooKeeper session expires (zk_session_timeout_ms) plus the
 * master's reassignment and WAL replay (1-3 s), and a client that gave up
 * sooner would answer EAGAIN in every failover (HBase's client likewise
 * retries for tens of seconds). retries = 0 means no retry at all (no
 * window either). A mutation
 * retried after a timeout may be applied twice (as HBase without nonces):
 * with HR_TS_NOW both copies are versions of the cell; the last value wins.
 *
 * Not in cluster mode yet (-EOPNOTSUPP): snapshots (create, delete, open,
 * clone, restore, export, import; listing answers none), flush, compact,
 * split, family alter, hr_stats_get. hr_region_list answers the regions the
 * client has located (its cache), with state "open" and no store details.
 * hr_sync is 0: the servers' own durability setting holds for each
 * acknowledged mutation. hr_server_metrics is a local registry (the mount's
 * own families).
 *
 * Thread-safety: every function is thread-safe; a cursor is used by one
 * thread at a time (hregionfs.h).
 */
#ifndef HR_CLIENT_H
#define HR_CLIENT_H

#include "engine/hr_rpc.h"
#include "hregionfs.h"

#define HR_CLIENT_CONNS 4 /* connections per server */
#define HR_CLIENT_BATCH 256 /* entries per scan batch */

typedef struct hr_client hr_client;
typedef struct hr_ccursor hr_ccursor;

int hr_client_open(const hr_config *cfg, hr_client **out);
void hr_client_close(hr_client *c);

int hr_client_get(hr_client *c, const char *table, const void *row, size_t row_len,
		  const char *family, const void *qual, size_t qual_len, unsigned flags,
		  hr_value *out);
int hr_client_get_versions(hr_client *c, const char *table, const void *row, size_t row_len,
			   const char *family, const void *qual, size_t qual_len,
			   const hr_get_opts *opts, hr_value **out);
int hr_client_exists(hr_client *c, const char *table, const void *row, size_t row_len,
		     const char *family, const void *qual, size_t qual_len);
int hr_client_mutate(hr_client *c, const char *table, const void *row, size_t row_len,
		     const hr_check *checks, size_t nchecks, int with_checks,
		     const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp);
int hr_client_table_list(hr_client *c, char ***names, size_t *n);
int hr_client_table_schema(hr_client *c, const char *table, hr_table_schema *out);
int hr_client_table_create(hr_client *c, const hr_table_schema *schema);
int hr_client_table_drop(hr_client *c, const char *table);
int hr_client_family_add(hr_client *c, const char *table, const hr_family_schema *f);
int hr_client_stats_format(hr_client *c, char **text, size_t *len);
int hr_client_region_list(hr_client *c, const char *table, hr_region_info **out, size_t *n);

int hr_client_scan_open(hr_client *c, const char *table, const hr_scan_opts *opts,
			hr_ccursor **out);
int hr_client_scan_next(hr_ccursor *cc, hr_scan_entry *e);
void hr_client_scan_close(hr_ccursor *cc);

/* ---- internals shared by the files of engine/client/ -------------------- */

/* One RPC to addr: encodes q (a fresh id is set), waits for the answer
 * (at most cfg.rpc_timeout_ms) and decodes it into *resp (hr_rpc_resp_free)
 * with *frame the buffer it points into (free()). Returns the transport's
 * error (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, ...) or 0 with resp->err
 * the server's answer. */
int hr_client_call(hr_client *c, const char *addr, hr_rpc_req *q, hr_rpc_resp *resp,
		   uint8_t **frame);
/* The master's "HOST:PORT" (ZooKeeper or the fixed one). -EAGAIN none yet. */
int hr_client_master(hr_client *c, char addr[HR_RPC_ADDR_MAX]);
/* The master failed a call: read /master again next time. */
void hr_client_master_stale(hr_client *c);
/* The cached location of (table, row), asking the master when not cached. */
int hr_client_locate(hr_client *c, const char *table, const void *row, size_t row_len,
		     hr_rpc_location *out);
/* Forgets the cached region holding row (row NULL: the whole table). */
void hr_client_forget(hr_client *c, const char *table, const void *row, size_t row_len);
/* 1 if err means "try elsewhere / later" (re-locate and retry). */
int hr_client_retryable(int err);
/* The pause before try number `attempt` (0-based), then sleeps it. */
void hr_client_backoff(hr_client *c, unsigned attempt);
/* The monotonic time in ms, taken when an op begins its retry loop. */
uint64_t hr_client_now_ms(void);
/* 1 if an op that began at t0_ms and failed its try number `attempt` has
 * used up its retries and its retry window (see "Retries" above). */
int hr_client_give_up(const hr_client *c, unsigned attempt, uint64_t t0_ms);
const hr_config *hr_client_config(const hr_client *c);

/* conn.c's pools and locate.c's master and cache, in one struct. */
#include <pthread.h>
#include <stdatomic.h>

typedef struct hr_cpool hr_cpool;
typedef struct hr_ctable hr_ctable;

struct hr_client {
	hr_config cfg;
	uint64_t retry_window_ms; /* set at open, read-only after */
	/* master (locate.c), under master_mu */
	pthread_mutex_t master_mu;
	char master[HR_RPC_ADDR_MAX];
	int master_ok;		/* master holds a current answer */
	int fixed;		/* cluster "rpc://HOST:PORT": no ZooKeeper */
	void *zh;		/* zhandle_t */
	atomic_int zk_changed;	/* the watch fired: read /master again */
	pthread_cond_t zk_cond;	/* zk_connected became 1 (under master_mu) */
	int zk_connected;
	/* location cache (locate.c), under cache_lock */
	pthread_rwlock_t cache_lock;
	hr_ctable *tables;
	size_t ntables;
	/* connection pools (conn.c), under pool_mu */
	pthread_mutex_t pool_mu;
	hr_cpool *pools;
	atomic_uint_fast64_t next_id;
	/* counters for hr_stats_format */
	atomic_uint_fast64_t calls, retries, relocations, located;
};

/* conn.c: the pools' part of open/close */
void hr_client_conns_close(hr_client *c);
/* locate.c: the master's and cache's part of open/close */
int hr_client_locate_open(hr_client *c);
void hr_client_locate_close(hr_client *c);

#endif
