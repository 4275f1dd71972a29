/* bench_rpc.c — what the RPC costs: the same gets and puts on one local
 * engine, called directly and through the engine's client mode (cluster
 * "rpc://", an RPC server in the same process over 127.0.0.1), in one run.
 * Prints the get round trip (us per get, one thread), puts per second with
 * 1 and T threads, and the ratios client/local. Each figure is the best of
 * -r rounds (the machine may be shared).
 * Usage: bench_rpc [-n ops per thread] [-t threads] [-v value bytes]
 * [-r rounds] [-d dir] */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hr_rpc.h"
#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"
#include "bench_util.h"

typedef struct one {
	hr_server *srv;
	char addr[64];
} one;

static int locate(void *ctx, const char *table, const void *row, size_t row_len,
		  hr_rpc_location *out)
{
	one *o = ctx;
	hr_table_schema s;
	int rc = hr_table_schema_get(o->srv, table, &s);
	if (rc < 0)
		return rc;
	snprintf(out->addr, sizeof(out->addr), "%s", o->addr);
	out->region_id = 1;
	return 0;
}

static int create(void *ctx, const hr_table_schema *s)
{
	return hr_table_create(((one *)ctx)->srv, s);
}

static const hr_rpc_master_ops ops = {locate, create, NULL, NULL};

static int nops = 20000, nthreads = 4, vlen = 100;

typedef struct job {
	hr_server *s;
	int id, base;
	const char *val;
} job;

static void *putter(void *arg)
{
	job *j = arg;
	char row[32];
	for (int i = 0; i < nops; i++) {
		snprintf(row, sizeof(row), "r%02d-%08d", j->id, j->base + i);
		TRY(hr_put(j->s, "t", row, strlen(row), "cf", "q", 1, j->val, (size_t)vlen, 0));
	}
	return NULL;
}

/* puts per second of t threads */
static double puts_rate(hr_server *s, int t, int base, const char *val)
{
	pthread_t th[64];
	job jobs[64];
	double t0 = now_s();
	for (int i = 0; i < t; i++) {
		jobs[i] = (job){s, i, base, val};
		pthread_create(&th[i], NULL, putter, &jobs[i]);
	}
	for (int i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	return (double)t * nops / (now_s() - t0);
}

/* microseconds per get, one thread, always the same cell (cached) */
static double get_us(hr_server *s)
{
	hr_value v;
	double t0 = now_s();
	for (int i = 0; i < nops; i++) {
		TRY(hr_get(s, "t", "r00-00000000", 12, "cf", "q", 1, HR_GET_VALUE, &v));
		hr_value_free(&v);
	}
	return (now_s() - t0) * 1e6 / nops;
}

int main(int argc, char **argv)
{
	int rounds = 3, opt;
	const char *dir = NULL;
	while ((opt = getopt(argc, argv, "n:t:v:r:d:")) != -1) {
		switch (opt) {
		case 'n': nops = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'v': vlen = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: bench_rpc [-n ops] [-t threads] [-v bytes] [-r rounds] [-d dir]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 64 || nops < 1 || vlen < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	char tmp[] = "/tmp/bench_rpc-XXXXXX";
	if (!dir && !(dir = mkdtemp(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	hr_log_set_level(HR_LOG_WARN);
	hr_config cfg;
	hr_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	one o = {0};
	TRY(hr_server_open(&cfg, &o.srv));
	hr_rpc_server *rs;
	TRY(hr_rpc_server_start(o.srv, "127.0.0.1:0", &ops, &o, &rs));
	snprintf(o.addr, sizeof(o.addr), "127.0.0.1:%d", hr_rpc_server_port(rs));
	hr_config ccfg = cfg;
	snprintf(ccfg.cluster, sizeof(ccfg.cluster), "rpc://%s", o.addr);
	hr_server *cl;
	TRY(hr_server_open(&ccfg, &cl));
	hr_table_schema s = {0};
	snprintf(s.name, sizeof(s.name), "t");
	s.nfamilies = 1;
	hr_family_defaults(&s.families[0], "cf");
	TRY(hr_table_create(cl, &s));
	char *val = malloc((size_t)vlen + 1);
	memset(val, 'x', (size_t)vlen);

	double best[2][3] = {{0}}; /* [local, client][get_us (min), puts1, putsT] */
	best[0][0] = best[1][0] = 1e9;
	int base = 0;
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			hr_server *e = k ? cl : o.srv;
			double p1 = puts_rate(e, 1, base, val);
			base += nops;
			double pt = puts_rate(e, nthreads, base, val);
			base += nops;
			double g = get_us(e);
			if (g < best[k][0])
				best[k][0] = g;
			if (p1 > best[k][1])
				best[k][1] = p1;
			if (pt > best[k][2])
				best[k][2] = pt;
		}
	}
	printf("bench_rpc: %d ops per thread, %d-byte values, best of %d rounds\n", nops, vlen,
	       rounds);
	printf("%-28s %12s %12s %8s\n", "", "local", "client", "ratio");
	printf("%-28s %12.1f %12.1f %8.2f\n", "get round trip (us)", best[0][0], best[1][0],
	       best[1][0] / best[0][0]);
	printf("%-28s %12.0f %12.0f %8.2f\n", "puts/s, 1 thread", best[0][1], best[1][1],
	       best[1][1] / best[0][1]);
	char lbl[40];
	snprintf(lbl, sizeof(lbl), "puts/s, %d threads", nthreads);
	printf("%-28s %12.0f %12.0f %8.2f\n", lbl, best[0][2], best[1][2], best[1][2] / best[0][2]);
	free(val);
	hr_server_close(cl);
	hr_rpc_server_stop(rs);
	hr_server_close(o.srv);
	if (dir == tmp) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	return 0;
}
