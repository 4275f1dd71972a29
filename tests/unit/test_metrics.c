/* test_metrics.c — the metrics registry and renderer (hr_metrics.h): the
 * exact text of each kind, escaping, bucket bounds, names refused,
 * duplicate families, recording from several threads at once (every
 * increment counted, renders meanwhile well formed), and the engine's own
 * families after a workload. */
#include <pthread.h>
#include <stdatomic.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include "engine/hr_metrics.h"
#include "engine/hr_server.h"
#include "hr_etest.h"

static char *render(hr_metrics *m)
{
	char *t = NULL;
	size_t n = 0;
	if (hr_metrics_render(m, &t, &n) < 0)
		return NULL;
	if (strlen(t) != n) {
		free(t);
		return NULL;
	}
	return t;
}

/* the value of the line that starts with "key " (a whole series key) */
static int value_of(const char *text, const char *key, double *v)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			*v = strtod(p + kl + 1, NULL);
			return 1;
		}
	return 0;
}

static void t_kinds(void)
{
	hr_metrics *m = hr_metrics_new();
	hr_metric *c, *g, *h;
	const char *l2[] = {"op", "path"};
	CHECK(m);
	CHECK_RC(hr_metric_register(m, "x_requests_total", "Requests.\nSecond line \\ here",
				    HR_METRIC_COUNTER, l2, 2, &c), 0);
	CHECK_RC(hr_metric_register(m, "x_temp", "Temperature.", HR_METRIC_GAUGE, NULL, 0, &g), 0);
	CHECK_RC(hr_metric_register(m, "x_seconds", "Latency.", HR_METRIC_HISTOGRAM, NULL, 0, &h), 0);
	const char *v1[] = {"get", "a\"b\\c\nd"};
	hr_series *s1 = hr_metric_series(c, v1);
	CHECK(s1 && hr_metric_series(c, v1) == s1);
	hr_series_add(s1, 41);
	hr_series_add(s1, 1);
	hr_series *sg = hr_metric_series(g, NULL);
	hr_series_set(sg, -7);
	hr_series *sh = hr_metric_series(h, NULL);
	hr_series_observe_ns(sh, 0);		/* le 1e-06 */
	hr_series_observe_ns(sh, 1000);		/* le 1e-06: bounds are inclusive */
	hr_series_observe_ns(sh, 1001);		/* le 2e-06 */
	hr_series_observe_ns(sh, 3000000);	/* le 0.005 */
	hr_series_observe_ns(sh, 1000000000000ull); /* 1000 s: +Inf only */
	CHECK_RC(hr_series_value(sh), 5);
	char *t = render(m);
	CHECK(t);
	const char *want[] = {
		"# HELP x_requests_total Requests.\\nSecond line \\\\ here\n"
		"# TYPE x_requests_total counter\n"
		"x_requests_total{op=\"get\",path=\"a\\\"b\\\\c\\nd\"} 42\n"
		"# HELP x_temp Temperature.\n# TYPE x_temp gauge\nx_temp -7\n"
		"# HELP x_seconds Latency.\n# TYPE x_seconds histogram\n"
		"x_seconds_bucket{le=\"1e-06\"} 2\nx_seconds_bucket{le=\"2e-06\"} 3\n"
		"x_seconds_bucket{le=\"5e-06\"} 3\n",
		"x_seconds_bucket{le=\"0.002\"} 3\nx_seconds_bucket{le=\"0.005\"} 4\n",
		"x_seconds_bucket{le=\"100\"} 4\nx_seconds_bucket{le=\"+Inf\"} 5\n"
		"x_seconds_sum 1000.003002001\nx_seconds_count 5\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!strstr(t, want[i]))
			printf("# want:\n%s# in:\n%s", want[i], t);
		CHECK(strstr(t, want[i]));
	}
	free(t);
	hr_metrics_free(m);
}

static void t_names(void)
{
	hr_metrics *m = hr_metrics_new();
	hr_metric *f;
	const char *bad_label[] = {"__x"}, *le[] = {"le"}, *digit[] = {"1a"};
	CHECK(m);
	CHECK_RC(hr_metric_register(m, "1abc", "", HR_METRIC_COUNTER, NULL, 0, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "a-b", "", HR_METRIC_COUNTER, NULL, 0, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "", "", HR_METRIC_COUNTER, NULL, 0, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "ok", "", 9, NULL, 0, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "ok", "", HR_METRIC_COUNTER, bad_label, 1, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "ok", "", HR_METRIC_COUNTER, digit, 1, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "ok", "", HR_METRIC_HISTOGRAM, le, 1, &f), -EINVAL);
	CHECK_RC(hr_metric_register(m, "ns:ok_1", "", HR_METRIC_COUNTER, le, 1, &f), 0);
	CHECK_RC(hr_metric_register(m, "ns:ok_1", "", HR_METRIC_GAUGE, NULL, 0, &f), -EEXIST);
	hr_metrics_free(m);
}

static void dup_collector(void *ctx, hr_metrics_writer *w)
{
	(void)ctx;
	hr_mw_family(w, "y_total", "From a collector.", HR_METRIC_COUNTER);
	hr_mw_sample(w, 3, "k", "v", (char *)NULL);
	hr_mw_family(w, "y_ratio", "A ratio.", HR_METRIC_GAUGE);
	hr_mw_sample(w, 0.25, (char *)NULL);
	hr_mw_family(w, "bad name", "Refused.", HR_METRIC_GAUGE);
	hr_mw_sample(w, 1, (char *)NULL);
}

/* A family two collectors emit is rendered once; a bad one not at all. */
static void t_collectors(void)
{
	hr_metrics *m = hr_metrics_new();
	CHECK(m);
	CHECK_RC(hr_metrics_add_collector(m, dup_collector, NULL), 0);
	CHECK_RC(hr_metrics_add_collector(m, dup_collector, NULL), 0);
	int lvl = hr_log_get_level();
	hr_log_set_level(HR_LOG_ERROR - 1); /* the duplicate is logged: not in TAP output */
	char *t = render(m);
	hr_log_set_level(lvl);
	CHECK(t);
	CHECK(strcmp(t, "# HELP y_total From a collector.\n# TYPE y_total counter\n"
			"y_total{k=\"v\"} 3\n# HELP y_ratio A ratio.\n# TYPE y_ratio gauge\n"
			"y_ratio 0.25\n") == 0);
	free(t);
	hr_metrics_free(m);
}

#define NTHREADS 4
#define NOPS 200000

struct race {
	hr_metric *c, *h;
	atomic_int stop;
	hr_metrics *m;
	int bad_renders;
};

static void *recorder(void *arg)
{
	struct race *r = arg;
	const char *v[] = {"shared"};
	/* every thread looks the series up itself: creation races too */
	hr_series *c = hr_metric_series(r->c, v), *h = hr_metric_series(r->h, v);
	for (int i = 0; i < NOPS; i++) {
		hr_series_add(c, 1);
		hr_series_observe_ns(h, (uint64_t)(i % 5000) * 1000u);
	}
	return NULL;
}

static void *renderer(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		char *t = render(r->m);
		double inf = -1, count = -2;
		/* +Inf always equals _count, whatever was recorded meanwhile */
		if (!t || (value_of(t, "x_seconds_bucket{op=\"shared\",le=\"+Inf\"}", &inf) &&
			   (!value_of(t, "x_seconds_count{op=\"shared\"}", &count) || inf != count)))
			r->bad_renders++;
		free(t);
	}
	return NULL;
}

static void t_concurrent(void)
{
	struct race r = {0};
	const char *l[] = {"op"};
	pthread_t th[NTHREADS], rt;
	r.m = hr_metrics_new();
	CHECK(r.m);
	CHECK_RC(hr_metric_register(r.m, "x_total", "", HR_METRIC_COUNTER, l, 1, &r.c), 0);
	CHECK_RC(hr_metric_register(r.m, "x_seconds", "", HR_METRIC_HISTOGRAM, l, 1, &r.h), 0);
	CHECK_RC(pthread_create(&rt, NULL, renderer, &r), 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_RC(pthread_create(&th[i], NULL, recorder, &r), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&r.stop, 1);
	pthread_join(rt, NULL);
	CHECK_RC(r.bad_renders, 0);
	char *t = render(r.m);
	double v = 0, sum = 0;
	CHECK(t);
	CHECK(value_of(t, "x_total{op=\"shared\"}", &v));
	CHECK_RC((long long)v, (long long)NTHREADS * NOPS);
	CHECK(value_of(t, "x_seconds_count{op=\"shared\"}", &v));
	CHECK_RC((long long)v, (long long)NTHREADS * NOPS);
	/* one series, not one per racing creator */
	const char *first = strstr(t, "\nx_total{");
	CHECK(first && !strstr(first + 1, "\nx_total{"));
	CHECK(value_of(t, "x_seconds_sum{op=\"shared\"}", &sum));
	/* sum of (i % 5000) ms... per thread: 40 rounds of 0..4999 us */
	double want = (double)NTHREADS * (NOPS / 5000) * (4999.0 * 5000 / 2) * 1e-6;
	CHECK(sum > want * 0.999999 && sum < want * 1.000001);
	free(t);
	hr_metrics_free(r.m);
}

/* The engine's families count a workload: puts, gets, scans, per table,
 * and the histograms' counts. */
static void t_engine(void)
{
	char dir[256], buf[64], row[16];
	double v;
	hr_test_tmpdir(dir, sizeof(dir), "metrics");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(row, sizeof(row), "r%03d", i);
		CHECK_RC(et_put(s, "t", row, strlen(row), "cf", "q", HR_TS_NOW, "v"), 0);
	}
	for (int i = 0; i < 30; i++) {
		snprintf(row, sizeof(row), "r%03d", i);
		CHECK_RC(et_get(s, "t", row, strlen(row), "cf", "q", buf, sizeof(buf), NULL), 0);
	}
	hr_scan_opts so = {.mode = HR_SCAN_ROWS};
	hr_scan *sc;
	hr_scan_entry e;
	int rows = 0;
	CHECK_RC(hr_scan_open(s, "t", &so, &sc), 0);
	while (hr_scan_next(sc, &e) == 1)
		rows++;
	hr_scan_close(sc);
	CHECK_RC(rows, 50);
	CHECK_RC(hr_flush(s, "t"), 0);
	char *t = render(hr_server_metrics(s));
	CHECK(t);
	CHECK(value_of(t, "hregionfs_puts_total", &v) && v == 50);
	CHECK(value_of(t, "hregionfs_gets_total", &v) && v == 30);
	CHECK(value_of(t, "hregionfs_table_puts_total{table=\"t\"}", &v) && v == 50);
	CHECK(value_of(t, "hregionfs_table_gets_total{table=\"t\"}", &v) && v == 30);
	CHECK(value_of(t, "hregionfs_table_scans_total{table=\"t\"}", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_table_regions{table=\"t\"}", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_table_store_files{table=\"t\"}", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_put_seconds_count", &v) && v == 50);
	CHECK(value_of(t, "hregionfs_get_seconds_count", &v) && v == 30);
	/* one step in 16 is timed: 0, 16, 32, 48 */
	CHECK(value_of(t, "hregionfs_scan_next_seconds_count", &v) && v == 4);
	CHECK(value_of(t, "hregionfs_flush_seconds_count", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_flushes_total", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_region_memstore_bytes{table=\"t\",region=\"1\"}", &v) &&
	      v == 0);
	free(t);
	CHECK_RC(hr_server_close(s), 0);

	/* metrics_histograms = false: no histogram family, counters stay */
	hr_config c;
	et_config(&c, dir);
	c.metrics_histograms = 0;
	CHECK_RC(hr_server_open(&c, &s), 0);
	CHECK_RC(et_put(s, "t", "x", 1, "cf", "q", HR_TS_NOW, "v"), 0);
	t = render(hr_server_metrics(s));
	CHECK(t);
	CHECK(!strstr(t, "_seconds_bucket"));
	CHECK(value_of(t, "hregionfs_puts_total", &v) && v == 1);
	free(t);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

static void t_listen(void)
{
	struct sockaddr_storage sa;
	unsigned len = 0;
	CHECK_RC(hr_metrics_listen_parse("127.0.0.1:9110", &sa, &len), 0);
	CHECK(sa.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	CHECK_RC(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9110);
	CHECK_RC(hr_metrics_listen_parse("[::1]:0", &sa, &len), 0);
	CHECK(sa.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
	CHECK_RC(hr_metrics_listen_parse("0.0.0.0:65535", NULL, NULL), 0);
	const char *bad[] = {"localhost:9110", "1.2.3.4",     "1.2.3.4:",  "1.2.3.4:65536",
			     "[::1]9110",      ":80",	      "1.2.3.4:80x", "[::1:80",
			     "1.2.3:80",       "1.2.3.4:-1", "off",	  ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hr_metrics_listen_parse(bad[i], NULL, NULL) != -EINVAL)
			printf("# accepted '%s'\n", bad[i]);
		CHECK_RC(hr_metrics_listen_parse(bad[i], NULL, NULL), -EINVAL);
	}
}

struct gate_writer {
	hr_server *s;
	int rc;
};

static void *gate_write(void *arg)
{
	struct gate_writer *g = arg;
	g->rc = et_put(g->s, "t", "r", 1, "cf", "q", HR_TS_NOW, "v");
	return NULL;
}

/* A write that finds its table's gate held (a snapshot flushing it) is
 * counted once as blocked by reason snapshot, and goes on when it opens. */
static void t_blocked_gate(void)
{
	char dir[256];
	hr_stats st;
	pthread_t th;
	hr_test_tmpdir(dir, sizeof(dir), "metrics-gate");
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(et_put(s, "t", "r0", 2, "cf", "q", HR_TS_NOW, "v"), 0);
	pthread_rwlock_rdlock(&s->map_lock);
	hr_table *tb = hr_server_table(s, "t");
	pthread_rwlock_unlock(&s->map_lock);
	CHECK(tb);
	pthread_rwlock_wrlock(&tb->gate); /* what hr_snapshot_create holds */
	struct gate_writer g = {s, 1};
	CHECK_RC(pthread_create(&th, NULL, gate_write, &g), 0);
	/* the writer counts itself before it waits: poll that, bounded */
	int seen = 0;
	for (uint64_t t0 = hr_mono_ns(); hr_mono_ns() - t0 < 10000000000ull;) {
		hr_stats_get(s, &st);
		if ((seen = st.snapshot_blocked_writes == 1))
			break;
		sched_yield();
	}
	CHECK_RC(g.rc, 1); /* still waiting at the gate */
	pthread_rwlock_unlock(&tb->gate);
	pthread_join(th, NULL);
	CHECK(seen);
	CHECK_RC(g.rc, 0);
	char *t = render(hr_server_metrics(s));
	double v = -1;
	CHECK(t);
	CHECK(value_of(t, "hregionfs_blocked_writes_total{reason=\"snapshot\"}", &v) && v == 1);
	CHECK(value_of(t, "hregionfs_blocked_writes_total{reason=\"memstore\"}", &v) && v == 0);
	free(t);
	CHECK_RC(hr_server_close(s), 0);
	hr_test_rmrf(dir);
}

int main(void)
{
	hr_log_set_level(HR_LOG_WARN);
	RUN(t_kinds);
	RUN(t_names);
	RUN(t_collectors);
	RUN(t_listen);
	RUN(t_concurrent);
	RUN(t_engine);
	RUN(t_blocked_gate);
	return hr_test_done();
}
