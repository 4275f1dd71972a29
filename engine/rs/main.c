/*
 * main.c — hregionfs-server, a region server of a cluster (issue 11):
 *
 *   hregionfs-server [-c CONFIG] [-o KEY=VALUE[,KEY=VALUE...]] DATA_DIR
 *
 * Opens the engine in server mode (hr_host.h) under the name
 * "host,port,startcode" (HBase's ServerName: new at every start), serves
 * it over the RPC (hr_rpc.h), joins the cluster in ZooKeeper (hr_cluster.h:
 * registers, runs for master, executes the master's orders) and runs until
 * SIGTERM/SIGINT or until its ZooKeeper session expires.
 *
 * SIGTERM is HBase's graceful stop: the server marks itself stopping,
 * closes (flushes) every region it hosts and marks them OFFLINE, so the
 * master reopens them elsewhere without replaying this server's WAL; then
 * it leaves. An expired session means the cluster already counts this
 * server as dead and is recovering its regions elsewhere: it stops serving
 * at once (RPC first, so no write lands after that) and exits with status
 * 1 — HBase aborts the region server the same way.
 *
 * The configuration is read like the mount's: defaults, then -c CONFIG (or
 * ./hregionfs.ini if present), then the -o keys; `cluster` must be set.
 * In -o, a piece without '=' continues the previous value, so
 * -o cluster=h1:2181,h2:2181/hr names two ZooKeeper servers. Logs go to
 * stderr (the scripts redirect it to a file).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_cluster.h"
#include "engine/hr_host.h"
#include "engine/hr_meta.h"
#include "engine/hr_rados.h"
#include "engine/hr_region.h"
#include "engine/hr_rpc.h"
#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"

typedef struct rs {
	hr_server *srv;
	hr_rpc_server *rpc;
	hr_cluster *_Atomic cl;	/* set once joined; the split hooks need it */
	uint32_t op_timeout_ms;
	pthread_t main_thread;
	hr_rados *rados;	/* storage=rados: fences others, is fenced */
	atomic_int fenced;
	atomic_int stopping;	/* the main thread left its sigwait */
} rs;

/* How long a fenced server's RADOS instance stays blocklisted. It must
 * outlive the fenced process, which exits at its first refused operation
 * or at its session's expiry, whichever it sees first; a paused one may
 * resume much later, and a restart is a new instance (new nonce) that
 * the entry never hits, so a long expiry costs only an OSD map entry.
 * An hour is Ceph's own default (mon_osd_blocklist_default_expire). */
#define RS_FENCE_EXPIRE_S 3600

/* ---- the engine as the cluster code sees it -------------------------------- */

typedef struct collect {
	hr_cluster_region *v;
	size_t n, cap;
} collect;

static int collect_region(void *ctx, const hr_meta_region *mr)
{
	collect *c = ctx;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		hr_cluster_region *v = realloc(c->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = nc;
	}
	hr_cluster_region *r = &c->v[c->n];
	memset(r, 0, sizeof(*r));
	r->id = mr->id;
	snprintf(r->table, sizeof(r->table), "%s", mr->table);
	r->start = malloc(mr->start_len + 1);
	r->end = malloc(mr->end_len + 1);
	if (!r->start || !r->end) {
		free(r->start);
		free(r->end);
		return -ENOMEM;
	}
	memcpy(r->start, mr->start, mr->start_len);
	memcpy(r->end, mr->end, mr->end_len);
	r->start_len = mr->start_len;
	r->end_len = mr->end_len;
	c->n++;
	return 0;
}

static int e_meta_regions(void *ctx, hr_cluster_region **out, size_t *n)
{
	rs *s = ctx;
	hr_meta_txn *t;
	collect c = {0};
	int rc = hr_meta_begin(s->srv->meta, 0, &t);
	if (rc < 0)
		return rc;
	rc = hr_meta_region_each(t, collect_region, &c);
	hr_meta_abort(t);
	if (rc < 0) {
		hr_cluster_regions_free(c.v, c.n);
		return rc;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

static int e_open(void *ctx, uint64_t id, const char *const *from, size_t n)
{
	rs *s = ctx;
	/* the master fenced the dead servers before ordering this: with the
	 * map that says so, our reads of their WAL are ordered after it */
	if (n && s->rados) {
		int rc = hr_rados_wait_latest_map(s->rados);
		if (rc < 0)
			return rc;
	}
	return hr_host_open_region(s->srv, id, from, n);
}

static int e_fence(void *ctx, const char *dead, const char *addr)
{
	rs *s = ctx;
	if (!addr[0])
		return 0; /* it had no RADOS client: nothing it wrote is shared */
	if (!s->rados)
		return -EOPNOTSUPP; /* a RADOS server among local ones: cannot */
	int rc = hr_rados_blocklist(s->rados, addr, RS_FENCE_EXPIRE_S);
	if (rc == 0)
		hr_log_warn("rs", "fenced %s: its RADOS client %s is blocklisted for %d s", dead,
			    addr, RS_FENCE_EXPIRE_S);
	return rc;
}

static int e_close(void *ctx, uint64_t id)
{
	return hr_host_close_region(((rs *)ctx)->srv, id);
}

static int e_retire(void *ctx, const char *dead)
{
	return hr_host_wal_retire(((rs *)ctx)->srv, dead);
}

static int e_table_create(void *ctx, const hr_table_schema *sc, uint64_t *id)
{
	return hr_host_table_create(((rs *)ctx)->srv, sc, id);
}

static int e_table_drop(void *ctx, const char *table)
{
	return hr_host_table_drop(((rs *)ctx)->srv, table);
}

static int e_family_add(void *ctx, const char *table, const hr_family_schema *f)
{
	return hr_family_add(((rs *)ctx)->srv, table, f);
}

static const hr_cluster_engine engine_ops = {
	.meta_regions = e_meta_regions, .open_region = e_open, .close_region = e_close,
	.wal_retire = e_retire, .table_create = e_table_create, .table_drop = e_table_drop,
	.family_add = e_family_add, .fence = e_fence,
};

/* ---- the master's RPC ---------------------------------------------------------- */

static int m_locate(void *ctx, const char *table, const void *row, size_t row_len,
		    hr_rpc_location *out)
{
	rs *s = ctx;
	memset(out, 0, sizeof(*out));
	return hr_cluster_locate(atomic_load(&s->cl), table, row, row_len, &out->region_id,
				 &out->start, &out->start_len, &out->end, &out->end_len, out->addr,
				 sizeof(out->addr));
}

static int m_create(void *ctx, const hr_table_schema *sc)
{
	rs *s = ctx;
	return hr_cluster_create_table(atomic_load(&s->cl), sc, s->op_timeout_ms);
}

static int m_drop(void *ctx, const char *table)
{
	rs *s = ctx;
	return hr_cluster_drop_table(atomic_load(&s->cl), table, s->op_timeout_ms);
}

static int m_family_add(void *ctx, const char *table, const hr_family_schema *f)
{
	rs *s = ctx;
	return hr_cluster_family_add(atomic_load(&s->cl), table, f);
}

static const hr_rpc_master_ops master_ops = {
	.locate = m_locate, .create_table = m_create, .drop_table = m_drop,
	.family_add = m_family_add,
};

static void on_master(void *ctx)
{
	rs *s = ctx;
	hr_rpc_server_set_master(s->rpc, &master_ops, s);
}

static void on_fenced(void *ctx)
{
	rs *s = ctx;
	atomic_store(&s->fenced, 1);
	if (atomic_load(&s->stopping)) {
		/* fenced while stopping (its session expired first): the close
		 * in progress could wait forever on refused writes */
		hr_log_error("rs", "fenced while stopping: exiting at once");
		fflush(stderr);
		_exit(1);
	}
	pthread_kill(s->main_thread, SIGUSR1);
}

static void on_expired(void *ctx)
{
	rs *s = ctx;
	pthread_kill(s->main_thread, SIGUSR1); /* only a signal: ZooKeeper's thread */
}

/* Test hook (tests/e2e/cluster_split.bats): HREGIONFS_TEST_CRASH_IN_SPLIT=FILE
 * makes this server SIGKILL itself at a step of a split when FILE's first
 * line is its PID and its second line names the step: "before" (the parent
 * is SPLITTING in ZooKeeper, the daughters are not in meta yet) or "after"
 * (the daughters are committed in meta, ZooKeeper still says SPLITTING).
 * FILE is read at each step, so a test arms one server of several, at the
 * moment it chooses, and a kill -9 lands at an exact point, not a timing. */
static void test_crash_in_split(const char *step)
{
	const char *path = getenv("HREGIONFS_TEST_CRASH_IN_SPLIT");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	long pid = 0;
	char what[16] = "";
	int n = fscanf(f, "%ld %15s", &pid, what);
	fclose(f);
	if (n == 2 && pid == (long)getpid() && strcmp(what, step) == 0) {
		hr_log_warn("rs", "test hook: SIGKILL %s a split (HREGIONFS_TEST_CRASH_IN_SPLIT)", step);
		raise(SIGKILL);
	}
}

/* Test hook (tests/e2e/cluster_fence.bats): HREGIONFS_TEST_HOLD_EXPIRY_MS=N
 * makes a server whose session expired go on serving, as one that has not
 * noticed yet (cut off from ZooKeeper but not from its clients and the
 * OSDs), until RADOS refuses it (fenced) or N ms pass. The window is the
 * one fencing closes; the hook makes it as wide as the test needs instead
 * of racing the expiry notice against a client's request. */
static void test_hold_expiry(const sigset_t *set)
{
	const char *v = getenv("HREGIONFS_TEST_HOLD_EXPIRY_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;
	if (ms <= 0)
		return;
	hr_log_warn("rs", "test hook: session expired, serving on until fenced or %ld ms pass "
		    "(HREGIONFS_TEST_HOLD_EXPIRY_MS)", ms);
	struct timespec to = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	siginfo_t si;
	/* the fence hook raises SIGUSR1 again */
	while (sigtimedwait(set, &si, &to) == SIGHUP)
		;
}

static int split_before(void *ctx, uint64_t parent)
{
	hr_cluster *cl = atomic_load(&((rs *)ctx)->cl);
	int rc = cl ? hr_cluster_split_before(cl, parent) : -EBUSY;
	if (rc == 0)
		test_crash_in_split("before");
	return rc;
}

static void split_after(void *ctx, uint64_t parent, uint64_t a, uint64_t b, int err)
{
	hr_cluster *cl = atomic_load(&((rs *)ctx)->cl);
	if (err == 0)
		test_crash_in_split("after");
	if (cl)
		hr_cluster_split_after(cl, parent, a, b, err);
}

/* ---- command line -------------------------------------------------------------- */

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-c CONFIG] [-o KEY=VALUE[,KEY=VALUE...]] DATA_DIR\n"
		"A region server of an hregionfs cluster (see hregionfs(8), cluster mode).\n"
		"\n"
		"options:\n"
		"  -c CONFIG         read this ini file (default ./hregionfs.ini if present)\n"
		"  -o KEY=VALUE      any key of hregionfs.ini: cluster=ZK[/chroot] (required),\n"
		"                    server_listen=HOST:PORT, storage=rados, ceph_conf=...,\n"
		"                    rados_pool=..., rados_namespace=... (the same for every\n"
		"                    server of the cluster)\n"
		"  -h, --help        print this help\n"
		"  -V, --version     print the version\n",
		prog);
}

/* Applies "k=v,k=v" (a piece without '=' continues the previous value). */
static int apply_opts(hr_config *cfg, const char *arg, int *data_dir_set)
{
	char *copy = strdup(arg), err[256];
	if (!copy)
		return -ENOMEM;
	char key[128] = "", val[2048] = "";
	int rc = 0;
	char *save = NULL;
	for (char *p = strtok_r(copy, ",", &save);; p = strtok_r(NULL, ",", &save)) {
		char *eq = p ? strchr(p, '=') : NULL;
		if (p && !eq && key[0]) {
			size_t l = strlen(val);
			snprintf(val + l, sizeof(val) - l, ",%s", p);
			continue;
		}
		if (key[0]) {
			rc = hr_config_set(cfg, key, val, err, sizeof(err));
			if (rc < 0) {
				fprintf(stderr, "hregionfs-server: -o %s=%s: %s\n", key, val, err);
				break;
			}
			if (strcmp(key, "data_dir") == 0)
				*data_dir_set = 1;
		}
		if (!p)
			break;
		if (!eq) {
			fprintf(stderr, "hregionfs-server: -o %s: want KEY=VALUE\n", p);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		snprintf(key, sizeof(key), "%s", p);
		snprintf(val, sizeof(val), "%s", eq + 1);
	}
	free(copy);
	return rc;
}

/* A free port on host (bound by the kernel's choice, then released: the
 * engine needs the server name, hence the port, before the RPC starts). */
static int free_port(const char *host, uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t l = sizeof(a);
	int rc = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		rc = -errno;
	close(fd);
	*port = ntohs(a.sin_port);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *data_dir = NULL;
	const char *opts[64];
	int nopts = 0, status = 1, data_dir_set = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, argv[0]);
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("hregionfs-server %s\n", HR_VERSION_STRING);
			return 0;
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "-o") == 0) && i + 1 < argc) {
			if (a[1] == 'c')
				config = argv[++i];
			else if (nopts < 64)
				opts[nopts++] = argv[++i];
		} else if (a[0] != '-' && !data_dir) {
			data_dir = a;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}

	hr_config cfg;
	char err[512];
	hr_config_defaults(&cfg);
	int rc = 0;
	if (config || access("hregionfs.ini", F_OK) == 0) {
		rc = hr_config_load(&cfg, config ? config : "hregionfs.ini", err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "hregionfs-server: %s\n", err[0] ? err : strerror(-rc));
			return 1;
		}
	}
	for (int i = 0; i < nopts; i++)
		if (apply_opts(&cfg, opts[i], &data_dir_set) < 0)
			return 1;
	if (data_dir && !data_dir_set &&
	    hr_config_set(&cfg, "data_dir", data_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "hregionfs-server: data directory '%s': %s\n", data_dir, err);
		return 1;
	}
	if (!data_dir && !data_dir_set) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (hr_config_validate(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "hregionfs-server: %s\n", err);
		return 1;
	}
	if (!cfg.cluster[0]) {
		fprintf(stderr, "hregionfs-server: no cluster: give -o cluster=ZK_HOST:PORT[/chroot]\n");
		return 1;
	}
	if (cfg.data_dir[0] != '/') {
		char abs[PATH_MAX];
		if (!realpath(cfg.data_dir, abs)) {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)) ||
			    snprintf(abs, sizeof(abs), "%s/%s", cwd, cfg.data_dir) >= (int)sizeof(abs)) {
				fprintf(stderr, "hregionfs-server: data directory too long\n");
				return 1;
			}
		}
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", abs);
	}
	hr_log_set_level(cfg.log_level);

	char host[128];
	uint16_t port;
	if (hr_rpc_addr_parse(cfg.server_listen, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "hregionfs-server: server_listen = %s: want HOST:PORT\n",
			cfg.server_listen);
		return 1;
	}
	if (port == 0 && (rc = free_port(host, &port)) < 0) {
		fprintf(stderr, "hregionfs-server: no free port on %s: %s\n", host, strerror(-rc));
		return 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t startcode = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	char addr[HR_RPC_ADDR_MAX];
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	snprintf(cfg.server_name, sizeof(cfg.server_name), "%s,%u,%" PRIu64, host, port,
		 startcode);

	/* every signal goes to the main thread's sigwait */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rs s = {.op_timeout_ms = cfg.rpc_timeout_ms, .main_thread = pthread_self()};
	rc = hr_server_open(&cfg, &s.srv);
	if (rc < 0) {
		fprintf(stderr, "hregionfs-server: cannot open %s: %s\n", cfg.data_dir, strerror(-rc));
		return 1;
	}
	/* the engine's RADOS session (shared per ceph.conf): its address is
	 * what the master blocklists to fence this server */
	char fence_addr[512] = "";
	if (cfg.storage == HR_STORAGE_RADOS) {
		hr_rados_set_fence_hook(on_fenced, &s);
		rc = hr_rados_connect(cfg.ceph_conf, cfg.rados_pool, "", &s.rados);
		if (rc == 0)
			rc = hr_rados_addrs(s.rados, fence_addr, sizeof(fence_addr));
		if (rc < 0) {
			fprintf(stderr, "hregionfs-server: no RADOS client address to publish: %s\n",
				strerror(-rc));
			goto out;
		}
	}
	hr_host_set_split_hooks(s.srv, split_before, split_after, &s);
	rc = hr_rpc_server_start(s.srv, addr, NULL, NULL, &s.rpc);
	if (rc < 0) {
		fprintf(stderr, "hregionfs-server: cannot listen on %s: %s\n", addr, strerror(-rc));
		goto out;
	}
	hr_cluster_opts o = {
		.connect = cfg.cluster, .session_timeout_ms = cfg.zk_session_timeout_ms,
		.server_name = cfg.server_name, .address = addr, .fence_addr = fence_addr,
		.engine = &engine_ops,
		.engine_ctx = &s, .on_expired = on_expired, .expired_ctx = &s,
		.on_master = on_master, .master_ctx = &s,
	};
	hr_cluster *cl;
	rc = hr_cluster_join(&o, &cl);
	if (rc < 0) {
		fprintf(stderr, "hregionfs-server: cannot join the cluster at %s: %s\n", cfg.cluster,
			strerror(-rc));
		goto out;
	}
	atomic_store(&s.cl, cl);
	hr_log_info("rs", "serving as %s on %s (data %s)", cfg.server_name, addr, cfg.data_dir);

	int sig = 0;
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		;
	if (sig == SIGUSR1 && !atomic_load(&s.fenced))
		test_hold_expiry(&set);
	atomic_store(&s.stopping, 1);
	if (sig == SIGUSR1) {
		if (!atomic_load(&s.fenced) && s.rados && hr_rados_probe(s.rados) == -ESHUTDOWN)
			atomic_store(&s.fenced, 1);
		if (atomic_load(&s.fenced)) {
			hr_log_error("rs", "fenced: RADOS refuses this server's operations (the master "
				     "blocklisted it and recovers its regions elsewhere); a write it "
				     "did not acknowledge is not lost, none after the fence lands; "
				     "stopping at once");
			/* no orderly close: nothing it writes can land, and a
			 * handler waiting for a WAL segment RADOS refuses would
			 * hold the RPC stop forever. The clients see the
			 * connections reset and go to the new owners. */
			fflush(stderr);
			_exit(1);
		}
		hr_rpc_server_stop(s.rpc); /* stop answering first */
		s.rpc = NULL;
		hr_log_error("rs", "ZooKeeper session expired: the cluster counts this server as "
			     "dead and recovers its regions elsewhere; stopping at once");
		status = 1;
	} else {
		hr_log_info("rs", "signal %d: closing this server's regions, then leaving", sig);
		hr_rpc_server_set_master(s.rpc, NULL, NULL);
		rc = hr_cluster_leave(cl);
		status = rc < 0 ? 1 : 0;
	}
	atomic_store(&s.cl, NULL);
	hr_rpc_server_stop(s.rpc);
	s.rpc = NULL;
	hr_cluster_free(cl);
out:
	hr_rpc_server_stop(s.rpc);
	hr_server_close(s.srv);
	hr_rados_set_fence_hook(NULL, NULL);
	hr_rados_close(s.rados);
	return status;
}
