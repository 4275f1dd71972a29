/*
 * hr_cluster.h — a region server's membership in a cluster (ZooKeeper) and,
 * when elected, the master's job: HBase's region server + HMaster
 * coordination over the ZooKeeper layout below (under the chroot of the
 * connect string).
 *
 *   /rs/<server>              ephemeral, "HOST:PORT": the live servers
 *   /election/n_<seq>         ephemeral sequential: the lowest is master
 *   /master                   ephemeral, "HOST:PORT server": the master
 *   /regions/<id, 16 hex>     "STATE OWNER [DEAD1;DEAD2]": assignment and
 *                             region-in-transition; OWNER "-" for none;
 *                             the list names dead servers whose WAL holds
 *                             edits of this region not yet recovered
 *   /assign/<server>/<id>     an order: "open [DEAD1;...]" or "close"
 *                             (';' separates server names: a name,
 *                             "host,port,startcode", has commas)
 *   /recovering/<dead>        a dead server whose WAL is being split; it
 *                             exists only once the server is fenced
 *   /fence/<server>           persistent, the server's RADOS client address
 *                             ("" when it has none): written at join, read
 *                             by the master after the server's death
 *
 * STATE is OPENING, OPEN, CLOSING, SPLITTING or OFFLINE. Every change of a
 * /regions znode is a versioned set or part of a multi (with the order it
 * implies), so a master or a server dying between two steps leaves a state
 * the next master reads and finishes:
 *   OFFLINE -> OPENING S (+ order open, one multi, by the master)
 *   OPENING S -> OPEN S (+ order deleted, one multi, by S after the open)
 *   OPENING S -> OFFLINE (+ order deleted, by S when the open failed)
 *   OPEN S -> CLOSING S (+ order close, master) -> OFFLINE (S, after close)
 *   OPEN S -> SPLITTING S (S, split hook before) -> parent deleted and the
 *     daughters created OPEN S (one multi, split hook after) or OPEN S again
 *   any state owned by a server whose /rs znode is gone -> OFFLINE with that
 *     server added to the recovery list (master, after creating
 *     /recovering/<dead>); SPLITTING of a dead server: the parent still in
 *     meta => rolled back (the parent reopens), else finished (the
 *     daughters, in meta without znodes, get znodes and open).
 * /recovering/<dead> goes (after the engine retired the dead WAL) once no
 * znode names the dead server.
 *
 * Fencing (HBase closes this gap with HDFS lease recovery): a server whose
 * session expired may still be running (a pause, a partition) and append
 * to its WAL while another server replays it. Before the master creates
 * /recovering/<dead> (hence before any region of it is handed out with its
 * WAL to replay) it calls the engine's fence with the address of
 * /fence/<dead>; if that fails, or the record is missing, nothing of that
 * server is reassigned this round (retried on the next). /recovering/<dead>
 * is thus the record that the fence was done: a new master does not redo
 * it. /fence/<dead> goes with /recovering/<dead>.
 *
 * The master reconciles level-triggered: on any watched change and on a
 * tick it reads /regions, meta and /regions again (acting only if the two
 * reads agree, so a split committing in between is never mistaken for a
 * stale or a missing region) and performs each needed transition once.
 *
 * The engine is reached through hr_cluster_engine (the server program
 * passes the real engine, tests a fake). Threads: one member thread
 * (orders, election) and, while master, one master thread; engine calls
 * happen on them (and on RPC threads for the master ops).
 */
#ifndef HR_CLUSTER_H
#define HR_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "hregionfs.h"

/* One region as meta has it. */
typedef struct hr_cluster_region {
	uint64_t id;
	char table[HR_MAX_NAME + 1];
	uint8_t *start;		/* malloc'd; len 0 = table start */
	size_t start_len;
	uint8_t *end;		/* malloc'd; len 0 = table end */
	size_t end_len;
} hr_cluster_region;

void hr_cluster_regions_free(hr_cluster_region *r, size_t n);

typedef struct hr_cluster_engine {
	/* every region of every table, read from meta now (not a cache: the
	 * master deletes the znodes of regions meta no longer has) */
	int (*meta_regions)(void *ctx, hr_cluster_region **out, size_t *n);
	int (*open_region)(void *ctx, uint64_t id, const char *const *recover_from, size_t n);
	int (*close_region)(void *ctx, uint64_t id);
	int (*wal_retire)(void *ctx, const char *dead);
	int (*table_create)(void *ctx, const hr_table_schema *s, uint64_t *region_id);
	int (*table_drop)(void *ctx, const char *table);
	int (*family_add)(void *ctx, const char *table, const hr_family_schema *f);
	/* makes sure the dead server can no longer write (blocklists its
	 * RADOS address rados_addr, as it published it; "" = it had none):
	 * 0 only once that holds. NULL: nothing to fence (no shared storage) */
	int (*fence)(void *ctx, const char *dead, const char *rados_addr);
} hr_cluster_engine;

typedef struct hr_cluster hr_cluster;

typedef struct hr_cluster_opts {
	const char *connect;	/* cfg.cluster */
	uint32_t session_timeout_ms;
	const char *server_name; /* "host,port,startcode" */
	const char *address;	/* "HOST:PORT" clients reach this server at */
	const char *fence_addr;	/* its RADOS client address (/fence); NULL: "" */
	uint32_t tick_ms;	/* master's periodic reconcile (0: 1000) */
	const hr_cluster_engine *engine;
	void *engine_ctx;
	/* called once (from a ZooKeeper thread: set a flag, signal) when the
	 * session expired: the server must stop serving */
	void (*on_expired)(void *ctx);
	void *expired_ctx;
	/* called once (member thread) when this server won the election, after
	 * /master names it: start answering the master's RPC */
	void (*on_master)(void *ctx);
	void *master_ctx;
} hr_cluster_opts;

/* Connects, registers (/rs, /assign/<me>), runs for master, starts
 * executing orders. */
int hr_cluster_join(const hr_cluster_opts *o, hr_cluster **out);
/* Graceful stop: deregisters, closes every region this server hosts
 * (OFFLINE, so the master reassigns them without a WAL split), leaves. */
int hr_cluster_leave(hr_cluster *c);
/* Leaves without closing anything (the session's end is a crash to the
 * others). Frees c; also after hr_cluster_leave. NULL is a no-op. */
void hr_cluster_free(hr_cluster *c);

/* 1 while this server is the master. */
int hr_cluster_is_master(hr_cluster *c);
/* How many reconciles this server ran as master (tests wait on it). */
uint64_t hr_cluster_master_rounds(hr_cluster *c);

/* Split hooks for hr_host_set_split_hooks (ctx = the hr_cluster). */
int hr_cluster_split_before(void *ctx, uint64_t parent);
void hr_cluster_split_after(void *ctx, uint64_t parent, uint64_t a, uint64_t b, int err);

/* ---- master operations (the RPC's master callbacks) ------------------- */
/* All -ENOTCONN... as ZooKeeper, -EREMOTE if this server is not the master
 * (the client re-reads /master). */

/* The region of table holding row, and "HOST:PORT" of its server (addr,
 * at least 64 bytes). -ENOENT no such table, -EAGAIN region in
 * transition (the client retries). start/end malloc'd. */
int hr_cluster_locate(hr_cluster *c, const char *table, const void *row, size_t row_len,
		      uint64_t *id, uint8_t **start, size_t *start_len, uint8_t **end,
		      size_t *end_len, char *addr, size_t addrlen);
/* Creates the table (engine), assigns its region and waits (timeout_ms)
 * until it is OPEN: -ETIMEDOUT if not yet (it opens later). */
int hr_cluster_create_table(hr_cluster *c, const hr_table_schema *s, uint32_t timeout_ms);
/* Closes the table's regions everywhere, then drops it (engine). */
int hr_cluster_drop_table(hr_cluster *c, const char *table, uint32_t timeout_ms);
int hr_cluster_family_add(hr_cluster *c, const char *table, const hr_family_schema *f);

#endif
