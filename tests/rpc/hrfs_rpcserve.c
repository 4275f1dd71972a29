/* hrfs_rpcserve — test tool: one region server without ZooKeeper. Opens a
 * single-node engine on DATA_DIR, serves it over the RPC on 127.0.0.1 (any
 * free port) with a master that places every table's one region on itself,
 * writes the port to PORTFILE (complete once it exists) and runs until
 * SIGTERM/SIGINT. A mount with -o cluster=rpc://127.0.0.1:PORT is its
 * client (tests/e2e/rpc.bats). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_rpc.h"
#include "hr_log.h"

typedef struct single {
	hr_server *srv;
	char addr[64];
} single;

static int locate(void *ctx, const char *table, const void *row, size_t row_len,
		  hr_rpc_location *out)
{
	single *s = ctx;
	hr_table_schema sch;
	int rc = hr_table_schema_get(s->srv, table, &sch);
	if (rc < 0)
		return rc;
	out->region_id = 1;
	snprintf(out->addr, sizeof(out->addr), "%s", s->addr);
	return 0;
}

static int create(void *ctx, const hr_table_schema *sc)
{
	return hr_table_create(((single *)ctx)->srv, sc);
}

static int drop(void *ctx, const char *t) { return hr_table_drop(((single *)ctx)->srv, t); }

static int family(void *ctx, const char *t, const hr_family_schema *f)
{
	return hr_family_add(((single *)ctx)->srv, t, f);
}

static const hr_rpc_master_ops ops = {locate, create, drop, family};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hrfs_rpcserve DATA_DIR PORTFILE\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
	signal(SIGPIPE, SIG_IGN);
	hr_config cfg;
	hr_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", argv[1]);
	single s = {0};
	int rc = hr_server_open(&cfg, &s.srv);
	if (rc < 0) {
		fprintf(stderr, "hrfs_rpcserve: open %s: %s\n", argv[1], hr_strerror(rc));
		return 1;
	}
	hr_rpc_server *rs;
	if ((rc = hr_rpc_server_start(s.srv, "127.0.0.1:0", &ops, &s, &rs)) < 0) {
		fprintf(stderr, "hrfs_rpcserve: listen: %s\n", hr_strerror(rc));
		hr_server_close(s.srv);
		return 1;
	}
	snprintf(s.addr, sizeof(s.addr), "127.0.0.1:%d", hr_rpc_server_port(rs));
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", hr_rpc_server_port(rs)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[2]) != 0) {
		fprintf(stderr, "hrfs_rpcserve: %s: %s\n", argv[2], strerror(errno));
		rc = -EIO;
	} else {
		int sig;
		sigwait(&set, &sig);
	}
	hr_rpc_server_stop(rs);
	hr_server_close(s.srv);
	return rc < 0 ? 1 : 0;
}
