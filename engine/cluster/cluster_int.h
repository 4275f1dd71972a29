/*
 * cluster_int.h — what member.c and master.c share (hr_cluster.h is the
 * contract): the hr_cluster object and the /regions znode codec.
 */
#ifndef HR_CLUSTER_INT_H
#define HR_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/hr_cluster.h"
#include "engine/hr_zk.h"

enum { RZ_OFFLINE, RZ_OPENING, RZ_OPEN, RZ_CLOSING, RZ_SPLITTING };

/* A /regions/<id> znode: "STATE OWNER [DEAD1,DEAD2]". */
typedef struct rz {
	uint64_t id;
	int state;
	char owner[256];	/* "-" for none */
	char recover[1024];	/* dead servers, ";"-separated, "" none */
	int version;
} rz;

struct hr_cluster {
	hr_zk *zk;
	char name[256];
	char addr[128];
	char fence_addr[512];	/* published in /fence/<name> */
	const hr_cluster_engine *eng;
	void *ectx;
	uint32_t tick_ms;
	uint32_t timeout_ms;
	void (*on_expired)(void *);
	void *expired_ctx;
	void (*on_master)(void *);
	void *master_ctx;

	hr_zk_kick member_kick;	/* orders, election */
	hr_zk_kick master_kick;	/* the master's reconcile */
	/* the waits of the master's operations for regions to change state
	 * (wait_regions, several at once): a kick given to ZooKeeper as a
	 * watch must live as long as the session, since ZooKeeper keeps the
	 * watch until its znode changes, long after the wait returned */
	hr_zk_kick wait_kick;
	pthread_t member_thr, master_thr;
	int member_started, master_started;
	atomic_int stop;
	atomic_int is_master;
	atomic_uint_fast64_t rounds;	/* reconciles done as master */
	char election_node[256];	/* member thread only */

	/* serialises the master's reconcile and its operations */
	pthread_mutex_t master_mu;
	/* serialises engine opens/closes of this server (orders, leave) */
	pthread_mutex_t exec_mu;
	/* a table being dropped: its regions are not assigned (master_mu
	 * not held while the drop waits; this lock guards the name) */
	pthread_mutex_t drop_mu;
	char dropping[HR_MAX_NAME + 1];
};

#define RZ_ROOTS_N 6
extern const char *const hr_cluster_roots[RZ_ROOTS_N];

const char *rz_state_name(int s);
int rz_parse(const char *text, uint64_t id, int version, rz *out);
void rz_format(char *buf, size_t len, int state, const char *owner, const char *recover);
void rz_path(char *buf, size_t len, uint64_t id);
int rz_id_parse(const char *name, uint64_t *id);
int rz_read(hr_cluster *c, uint64_t id, rz *out, hr_zk_kick *watch);
/* Lists of server names are ';'-separated: a name ("host,port,startcode")
 * has commas. */
#define HR_CLUSTER_LIST_SEP ';'
#define HR_CLUSTER_LIST_SEP_S ";"
/* 1 if the list has name */
int list_has(const char *list, const char *name);
/* appends name to list (capacity cap) unless it is there */
void list_add(char *list, size_t cap, const char *name);

void *hr_cluster_master_main(void *arg);

#endif
