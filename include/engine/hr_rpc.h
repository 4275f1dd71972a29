/*
 * hr_rpc.h — the RPC between the mount (the engine in client mode) and the
 * region servers (hregionfs-server), and its server side (engine/rpc/).
 *
 * Wire: TCP, frames of the control socket's layout (hrctl_proto.h, its codec
 * and bounded I/O are reused): u32 len | u8 version (1) | u8 type | payload |
 * u32 CRC32C. Every payload starts with a u64 request id; a response echoes
 * its request's id, so one connection carries requests of many threads at
 * once (the client matches answers by id). Format and messages in
 * hr_format.h, "RPC". A frame that does not decode (length, CRC, version,
 * layout) closes the connection: the peer's framing can no longer be
 * trusted. Sizes are bounded (HR_RPC_MAX_FRAME, HR_RPC_MAX_CELLS, ...) and
 * checked before anything is allocated.
 *
 * Errors: a response carries 0 or the negative errno the engine returned.
 * -EREMOTE means "this server does not serve the region of that row"
 * (HBase's NotServingRegionException): the client re-locates and retries.
 * -EOPNOTSUPP: a master op sent to a server that is not the master.
 *
 * Server (hr_rpc_server_*): one accept thread; a reader thread per
 * connection, at most HR_RPC_MAX_CONNS (more are closed at accept), that
 * queues the requests it reads (at most HR_RPC_MAX_QUEUE, then it stops
 * reading); HR_RPC_HANDLERS handler threads answer them, each by calling
 * the engine's public API (hregionfs.h), so every engine guarantee (row
 * atomicity, durability of an acknowledged mutation) holds for a remote
 * caller when it gets its answer. Answers on one connection may come in
 * any order.
 * Reads and writes of a frame have a deadline of cfg.rpc_timeout_ms once
 * the frame started; an idle connection waits for its next request without
 * one. Scans: SCAN_OPEN makes a server-side cursor (hr_scan) in a table of
 * at most HR_RPC_MAX_CURSORS, named by a u64 id; a cursor not used for
 * cfg.scanner_lease_ms is closed by the server (a later SCAN_NEXT gets
 * -ESTALE; the client reopens after its last entry), and a connection's
 * cursors close with it.
 *
 * Thread-safety: start/stop from one thread; the master ops callbacks are
 * called from connection threads, concurrently, and must be thread-safe.
 */
#ifndef HR_RPC_H
#define HR_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "hregionfs.h"

#define HR_RPC_VERSION 1		/* = the frame's version byte */
#define HR_RPC_MAX_FRAME (80u << 20)	/* a 64 MiB cell value and its keys fit */
#define HR_RPC_MAX_CELLS 4096u		/* cells or checks of one mutation */
#define HR_RPC_MAX_BATCH 4096u		/* entries of one scan batch */
#define HR_RPC_MAX_NAMES 65536u		/* tables of one TABLE_LIST answer */
#define HR_RPC_MAX_CONNS 256u
#define HR_RPC_HANDLERS 16		/* threads running requests (HBase's handlers) */
#define HR_RPC_MAX_QUEUE 1024u		/* requests read and not yet run */
#define HR_RPC_MAX_CURSORS 4096u
#define HR_RPC_ADDR_MAX 128		/* "HOST:PORT" incl. NUL */

/* Frame types (the control socket's are 1 and 2; these never collide). */
enum hr_rpc_type {
	HR_RPC_RESPONSE = 3,
	/* data ops, any server */
	HR_RPC_GET = 16,
	HR_RPC_GET_VERSIONS = 17,
	HR_RPC_EXISTS = 18,
	HR_RPC_MUTATE = 19,		/* hr_mutate_stamped */
	HR_RPC_CHECK_AND_MUTATE = 20,	/* hr_check_and_mutate_stamped */
	HR_RPC_SCAN_OPEN = 21,
	HR_RPC_SCAN_NEXT = 22,
	HR_RPC_SCAN_CLOSE = 23,
	HR_RPC_TABLE_LIST = 24,
	HR_RPC_TABLE_SCHEMA = 25,
	HR_RPC_STATS = 26,		/* hr_stats_format's text */
	/* master ops: forwarded to hr_rpc_master_ops, -EOPNOTSUPP elsewhere */
	HR_RPC_LOCATE = 32,
	HR_RPC_CREATE_TABLE = 33,
	HR_RPC_DROP_TABLE = 34,
	HR_RPC_FAMILY_ADD = 35,
};

/* Where a row's region is served: [start, end) (len 0 = table start/end),
 * and the server hosting it. */
typedef struct hr_rpc_location {
	uint64_t region_id;
	uint8_t *start;		/* malloc'd (NULL when len 0) */
	size_t start_len;
	uint8_t *end;		/* malloc'd (NULL when len 0) */
	size_t end_len;
	char addr[HR_RPC_ADDR_MAX]; /* "HOST:PORT" of the hosting server */
} hr_rpc_location;
void hr_rpc_location_free(hr_rpc_location *l); /* frees start/end, not l */

/* The master's side of the RPC (h-zk implements it in the server program).
 * Each returns 0 or a negative errno that goes back to the caller as is:
 * locate: -ENOENT no such table, -EAGAIN the region is in transition (not
 * assigned or opening: the client retries later). The others as the
 * engine's hr_table_create / hr_table_drop / hr_family_add. */
typedef struct hr_rpc_master_ops {
	int (*locate)(void *ctx, const char *table, const void *row, size_t row_len,
		      hr_rpc_location *out);
	int (*create_table)(void *ctx, const hr_table_schema *schema);
	int (*drop_table)(void *ctx, const char *table);
	int (*family_add)(void *ctx, const char *table, const hr_family_schema *f);
} hr_rpc_master_ops;

typedef struct hr_rpc_server hr_rpc_server;

/* Serves srv on listen ("HOST:PORT", an IPv4 address or [IPv6], or a
 * host name; port 0 = any free port). master (not copied, must outlive the
 * server; NULL = not the master) gets ctx. -EINVAL bad address, else the
 * errno of socket/bind/listen or thread creation. */
int hr_rpc_server_start(hr_server *srv, const char *listen, const hr_rpc_master_ops *master,
			void *ctx, hr_rpc_server **out);
/* The port it listens on. */
int hr_rpc_server_port(const hr_rpc_server *s);
/* Switches the master ops (NULL: no longer master) while serving; the
 * server program calls it when it wins or loses the election. */
void hr_rpc_server_set_master(hr_rpc_server *s, const hr_rpc_master_ops *master, void *ctx);
/* serving 0: every data op is answered -EREMOTE (clients re-locate) while
 * master ops go on; for a server on its way out (and for tests of the
 * client's re-locate path). 1 (the start state): served. */
void hr_rpc_server_set_serving(hr_rpc_server *s, int serving);
/* Stops accepting, closes every connection (a request in progress finishes
 * its engine call, its answer may be lost), closes the cursors and joins
 * every thread. NULL is a no-op. Call before hr_server_close. */
void hr_rpc_server_stop(hr_rpc_server *s);

/* "HOST:PORT" -> host (NUL-terminated, brackets of [IPv6] removed) and
 * port. -EINVAL if malformed. */
int hr_rpc_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port);

/* ---- messages (engine/rpc/codec.c) -------------------------------------- */

/* A decoded request. Pointers point into the payload it was decoded from
 * (which must outlive it) or into memory hr_rpc_req_free releases. Which
 * fields a type uses: hr_format.h, "RPC". */
typedef struct hr_rpc_req {
	uint8_t type;
	uint64_t id;
	char table[HR_MAX_NAME + 1];
	const uint8_t *row;
	size_t row_len;
	const char *family;		/* NULL = none (EXISTS: any family) */
	const uint8_t *qual;		/* NULL = none (EXISTS: any column) */
	size_t qual_len;
	unsigned flags;			/* GET: HR_GET_*; MUTATE: HR_MUT_* */
	hr_get_opts gopts;		/* GET_VERSIONS */
	hr_mcell *cells;		/* MUTATE, CHECK_AND_MUTATE */
	size_t ncells;
	hr_check *checks;		/* CHECK_AND_MUTATE */
	size_t nchecks;
	hr_scan_opts sopts;		/* SCAN_OPEN (snapshot always NULL) */
	uint32_t batch;			/* SCAN_OPEN, SCAN_NEXT: most entries to answer */
	uint64_t cursor;		/* SCAN_NEXT, SCAN_CLOSE */
	hr_table_schema *schema;	/* CREATE_TABLE; FAMILY_ADD: families[0] */
	char *names_;			/* NUL-terminated copies of the family names */
} hr_rpc_req;

/* The whole frame of a request (r->type, r->id and its type's fields),
 * malloc'd. -EMSGSIZE beyond HR_RPC_MAX_FRAME, -E2BIG too many cells. */
int hr_rpc_req_encode(const hr_rpc_req *r, uint8_t **frame, size_t *n);
/* A request from the payload of a frame of that type: -EBADMSG on any
 * inconsistency (reads nothing past n), -EPROTO an unknown type. */
int hr_rpc_req_decode(uint8_t type, const uint8_t *p, size_t n, hr_rpc_req *out);
void hr_rpc_req_free(hr_rpc_req *r);

/* A decoded response to a request of type req_type. */
typedef struct hr_rpc_resp {
	uint64_t id;
	int err;			/* 0 or a negative errno */
	hr_value value;			/* GET (data/tags point into the payload) */
	hr_value *values;		/* GET_VERSIONS (malloc'd array, pointers into payload) */
	size_t nvalues;
	int exists;			/* EXISTS: 0/1 */
	hr_stamp stamp;			/* MUTATE, CHECK_AND_MUTATE */
	uint64_t cursor;		/* SCAN_OPEN */
	int done;			/* SCAN_OPEN, SCAN_NEXT: 1 = no more (cursor closed) */
	hr_scan_entry *entries;		/* SCAN_OPEN, SCAN_NEXT (malloc'd array) */
	size_t nentries;
	const uint8_t **names;		/* TABLE_LIST: pointers + lengths into payload */
	size_t *name_lens;
	size_t nnames;
	hr_table_schema *schema;	/* TABLE_SCHEMA (malloc'd) */
	const uint8_t *text;		/* STATS */
	size_t text_len;
	hr_rpc_location loc;		/* LOCATE (start/end malloc'd) */
	char *fam_;			/* NUL-terminated copies of the entries' families */
} hr_rpc_resp;

/* Response frames. The server builds them with a writer (codec.c); the
 * client decodes with hr_rpc_resp_decode: -EBADMSG on any inconsistency
 * (never reads past n), the id is valid whenever n >= 8. */
int hr_rpc_resp_decode(uint8_t req_type, const uint8_t *p, size_t n, hr_rpc_resp *out);
void hr_rpc_resp_free(hr_rpc_resp *r);

#endif
