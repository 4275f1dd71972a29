/* metrics.c — the metrics registry and the renderer of the Prometheus text
 * exposition format 0.0.4 (contract in hregionfs.h "metrics" and
 * hr_metrics.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_metrics.h"
#include "hr_log.h"

/* 1-2-5 steps: a histogram's buckets are a factor 2 to 2.5 apart, so an
 * estimated percentile is off by at most that much, over eight decades. */
const uint64_t hr_metric_bounds_ns[HR_METRIC_BUCKETS] = {
	1000ull,	 2000ull,	 5000ull,	  10000ull,	   20000ull,
	50000ull,	 100000ull,	 200000ull,	  500000ull,	   1000000ull,
	2000000ull,	 5000000ull,	 10000000ull,	  20000000ull,	   50000000ull,
	100000000ull,	 200000000ull,	 500000000ull,	  1000000000ull,   2000000000ull,
	5000000000ull,	 10000000000ull, 20000000000ull,  50000000000ull,  100000000000ull,
};

struct hr_series {
	struct hr_series *next;
	int type;
	atomic_uint_fast64_t v;		/* counter; gauge (an int64's bits) */
	atomic_uint_fast64_t sum_ns;	/* histogram */
	atomic_uint_fast64_t bucket[HR_METRIC_BUCKETS + 1]; /* histogram: per bucket, +Inf last */
	char *values[HR_METRIC_MAX_LABELS];
};

struct hr_metric {
	char *name, *help;
	int type;
	unsigned nlabels;
	char *labels[HR_METRIC_MAX_LABELS];
	pthread_mutex_t mu;	/* the series list */
	hr_series *head, *tail;
};

struct entry {
	hr_metric *f;		/* a recorded family, or */
	hr_metrics_collect_fn fn; /* a collector */
	void *ctx;
	struct entry *next;
};

struct hr_metrics {
	pthread_mutex_t mu;	/* the entry list; held through a render */
	struct entry *head, *tail;
};

struct hr_metrics_writer {
	FILE *f;
	const char *cur;	/* the collector's current family (NULL: none) */
	int skip;		/* ... a duplicate: its samples are dropped */
	char **seen;		/* family names rendered so far (copies) */
	size_t nseen, capseen;
};

hr_metrics *hr_metrics_new(void)
{
	hr_metrics *m = calloc(1, sizeof(*m));
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void family_free(hr_metric *f)
{
	hr_series *s = f->head;
	while (s) {
		hr_series *next = s->next;
		for (unsigned i = 0; i < f->nlabels; i++)
			free(s->values[i]);
		free(s);
		s = next;
	}
	for (unsigned i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	pthread_mutex_destroy(&f->mu);
	free(f->name);
	free(f->help);
	free(f);
}

void hr_metrics_free(hr_metrics *m)
{
	if (!m)
		return;
	struct entry *e = m->head;
	while (e) {
		struct entry *next = e->next;
		if (e->f)
			family_free(e->f);
		free(e);
		e = next;
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int hr_metric_name_valid(const char *name, int label)
{
	if (!name || !*name)
		return 0;
	for (const char *p = name; *p; p++) {
		char c = *p;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (!label && c == ':');
		if (!alpha && !(p > name && c >= '0' && c <= '9'))
			return 0;
	}
	/* label names starting with "__" are reserved for Prometheus */
	return !(label && name[0] == '_' && name[1] == '_');
}

static void add_entry(hr_metrics *m, struct entry *e)
{
	if (m->tail)
		m->tail->next = e;
	else
		m->head = e;
	m->tail = e;
}

int hr_metric_register(hr_metrics *m, const char *name, const char *help, int type,
		       const char *const *labels, unsigned nlabels, hr_metric **out)
{
	if (!hr_metric_name_valid(name, 0) || type < HR_METRIC_COUNTER ||
	    type > HR_METRIC_HISTOGRAM || nlabels > HR_METRIC_MAX_LABELS)
		return -EINVAL;
	for (unsigned i = 0; i < nlabels; i++)
		if (!hr_metric_name_valid(labels[i], 1) ||
		    (type == HR_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
			return -EINVAL;
	hr_metric *f = calloc(1, sizeof(*f));
	struct entry *e = calloc(1, sizeof(*e));
	if (!f || !e)
		goto nomem;
	pthread_mutex_init(&f->mu, NULL);
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help)
		goto nomem;
	for (; f->nlabels < nlabels; f->nlabels++)
		if (!(f->labels[f->nlabels] = strdup(labels[f->nlabels])))
			goto nomem;
	e->f = f;
	pthread_mutex_lock(&m->mu);
	for (struct entry *x = m->head; x; x = x->next)
		if (x->f && strcmp(x->f->name, name) == 0) {
			pthread_mutex_unlock(&m->mu);
			family_free(f);
			free(e);
			return -EEXIST;
		}
	add_entry(m, e);
	pthread_mutex_unlock(&m->mu);
	*out = f;
	return 0;
nomem:
	if (f)
		family_free(f);
	free(e);
	return -ENOMEM;
}

hr_series *hr_metric_series(hr_metric *f, const char *const *values)
{
	pthread_mutex_lock(&f->mu);
	hr_series *s;
	for (s = f->head; s; s = s->next) {
		unsigned i;
		for (i = 0; i < f->nlabels; i++)
			if (strcmp(s->values[i], values[i]) != 0)
				break;
		if (i == f->nlabels)
			goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->type = f->type;
	for (unsigned i = 0; i < f->nlabels; i++)
		if (!(s->values[i] = strdup(values[i]))) {
			for (unsigned j = 0; j < i; j++)
				free(s->values[j]);
			free(s);
			s = NULL;
			goto out;
		}
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
out:
	pthread_mutex_unlock(&f->mu);
	return s;
}

void hr_series_add(hr_series *s, uint64_t n)
{
	atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void hr_series_set(hr_series *s, int64_t v)
{
	atomic_store_explicit(&s->v, (uint64_t)v, memory_order_relaxed);
}

void hr_series_observe_ns(hr_series *s, uint64_t ns)
{
	/* the first bound >= ns (le: "less than or equal") */
	unsigned lo = 0, hi = HR_METRIC_BUCKETS;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (hr_metric_bounds_ns[mid] < ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&s->bucket[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
}

uint64_t hr_series_value(const hr_series *s)
{
	if (s->type != HR_METRIC_HISTOGRAM)
		return atomic_load_explicit(&s->v, memory_order_relaxed);
	uint64_t n = 0;
	for (unsigned i = 0; i <= HR_METRIC_BUCKETS; i++)
		n += atomic_load_explicit(&s->bucket[i], memory_order_relaxed);
	return n;
}

int hr_metrics_add_collector(hr_metrics *m, hr_metrics_collect_fn fn, void *ctx)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fn = fn;
	e->ctx = ctx;
	pthread_mutex_lock(&m->mu);
	add_entry(m, e);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* ---- rendering -------------------------------------------------------------- */

static const char *type_name(int type)
{
	return type == HR_METRIC_COUNTER ? "counter" : type == HR_METRIC_GAUGE ? "gauge" : "histogram";
}

/* HELP text escapes '\\' and newline; label values also '"'. */
static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/* Integers exactly (counters read better so); others as the shortest
 * decimal that reads back to the same double. */
static void put_value(FILE *f, double v)
{
	char buf[64];
	if (isnan(v)) {
		fputs("NaN", f);
	} else if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		fprintf(f, "%.0f", v);
	} else {
		snprintf(buf, sizeof(buf), "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof(buf), "%.17g", v);
		fputs(buf, f);
	}
}

/* 1 if this family name was not rendered yet (and remembers it). */
static int first_time(hr_metrics_writer *w, const char *name)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i], name) == 0) {
			hr_log_error("metrics", "family %s rendered twice: the second is dropped",
				     name);
			return 0;
		}
	if (w->nseen == w->capseen) {
		size_t nc = w->capseen ? w->capseen * 2 : 64;
		char **ns = realloc(w->seen, nc * sizeof(*ns));
		if (!ns)
			return 1; /* only the duplicate check is lost */
		w->seen = ns;
		w->capseen = nc;
	}
	if ((w->seen[w->nseen] = strdup(name)) != NULL)
		w->nseen++;
	return 1;
}

static void put_header(FILE *f, const char *name, const char *help, int type)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, 0);
	fprintf(f, "\n# TYPE %s %s\n", name, type_name(type));
}

/* name{a="x",b="y"[,le="..."]} */
static void put_labels(FILE *f, const hr_metric *fam, const hr_series *s, const char *le)
{
	if (!fam->nlabels && !le)
		return;
	fputc('{', f);
	for (unsigned i = 0; i < fam->nlabels; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", fam->labels[i]);
		put_escaped(f, s->values[i], 1);
		fputc('"', f);
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", fam->nlabels ? "," : "", le);
	fputc('}', f);
}

static void render_family(hr_metrics_writer *w, hr_metric *fam)
{
	FILE *f = w->f;
	if (!first_time(w, fam->name))
		return;
	put_header(f, fam->name, fam->help, fam->type);
	pthread_mutex_lock(&fam->mu);
	for (hr_series *s = fam->head; s; s = s->next) {
		if (fam->type != HR_METRIC_HISTOGRAM) {
			uint64_t v = atomic_load_explicit(&s->v, memory_order_relaxed);
			fputs(fam->name, f);
			put_labels(f, fam, s, NULL);
			fputc(' ', f);
			put_value(f, fam->type == HR_METRIC_GAUGE ? (double)(int64_t)v : (double)v);
			fputc('\n', f);
			continue;
		}
		uint64_t cum = 0;
		char le[32];
		for (unsigned i = 0; i <= HR_METRIC_BUCKETS; i++) {
			cum += atomic_load_explicit(&s->bucket[i], memory_order_relaxed);
			if (i < HR_METRIC_BUCKETS)
				snprintf(le, sizeof(le), "%g", (double)hr_metric_bounds_ns[i] / 1e9);
			else
				strcpy(le, "+Inf");
			fprintf(f, "%s_bucket", fam->name);
			put_labels(f, fam, s, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		double sum = (double)atomic_load_explicit(&s->sum_ns, memory_order_relaxed) / 1e9;
		fprintf(f, "%s_sum", fam->name);
		put_labels(f, fam, s, NULL);
		fputc(' ', f);
		put_value(f, sum);
		fprintf(f, "\n%s_count", fam->name);
		put_labels(f, fam, s, NULL);
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
	pthread_mutex_unlock(&fam->mu);
}

void hr_mw_family(hr_metrics_writer *w, const char *name, const char *help, int type)
{
	w->cur = NULL;
	w->skip = 1;
	if (!hr_metric_name_valid(name, 0) ||
	    (type != HR_METRIC_COUNTER && type != HR_METRIC_GAUGE)) {
		hr_log_error("metrics", "collector family '%s': bad name or type", name);
		return;
	}
	if (!first_time(w, name))
		return;
	w->cur = name;
	w->skip = 0;
	put_header(w->f, name, help ? help : "", type);
}

void hr_mw_sample(hr_metrics_writer *w, double v, ...)
{
	if (w->skip || !w->cur)
		return;
	FILE *f = w->f;
	va_list ap;
	va_start(ap, v);
	fputs(w->cur, f);
	const char *k;
	int n = 0;
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);
		fprintf(f, "%s%s=\"", n++ ? "," : "{", k);
		put_escaped(f, val ? val : "", 1);
		fputc('"', f);
	}
	va_end(ap);
	if (n)
		fputc('}', f);
	fputc(' ', f);
	put_value(f, v);
	fputc('\n', f);
}

int hr_metrics_render(hr_metrics *m, char **text, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return -ENOMEM;
	hr_metrics_writer w = {.f = f};
	pthread_mutex_lock(&m->mu);
	for (struct entry *e = m->head; e; e = e->next) {
		if (e->f) {
			render_family(&w, e->f);
		} else {
			w.cur = NULL;
			w.skip = 1;
			e->fn(e->ctx, &w);
		}
	}
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < w.nseen; i++)
		free(w.seen[i]);
	free(w.seen);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = n;
	return 0;
}
