/*
 * hr_metrics.h — the metrics registry behind hregionfs.h's "metrics"
 * section (engine/metrics/): families, series, histograms, collectors and
 * the renderer of the Prometheus text format 0.0.4; and the engine's own
 * families (engine/server/metrics.c).
 *
 * Ownership: a registry owns its families, their series and its collector
 * entries; nothing is removed before hr_metrics_free. Locks: m->mu guards
 * the entry list (registration, and the render walking it); f->mu guards a
 * family's series list (creation, and the render walking it). Both are
 * leaves as far as recording goes: recording touches only a series' atomics
 * (relaxed: a render may see one counter's increment before another's, and
 * a histogram's _sum a moment apart from its buckets; _count is the sum of
 * the buckets it read, so +Inf always equals _count). A render runs the
 * collectors with m->mu held (so two renders do not interleave with a
 * registration), which is why a collector must not register anything.
 */
#ifndef HR_METRICS_H
#define HR_METRICS_H

#include <stdint.h>

#include "engine/hr_util.h"
#include "hregionfs.h"

/* The finite bucket bounds of every histogram, in nanoseconds, ascending:
 * 1, 2, 5 x 10^k from 1 us to 100 s. */
extern const uint64_t hr_metric_bounds_ns[HR_METRIC_BUCKETS];

hr_metrics *hr_metrics_new(void);
void hr_metrics_free(hr_metrics *m);

/* 1 if name is a valid metric (or, label = 1, label) name. */
int hr_metric_name_valid(const char *name, int label);

/* Timing of a hot path: t0 = hr_mx_begin(on), where on says whether
 * latencies are recorded (metrics_histograms); hr_mx_end records the time
 * since t0 (nothing when t0 is 0: timing off). */
static inline uint64_t hr_mx_begin(int on) { return on ? hr_mono_ns() : 0; }
static inline void hr_mx_end(hr_series *h, uint64_t t0)
{
	if (t0 && h)
		hr_series_observe_ns(h, hr_mono_ns() - t0);
}

/* engine/metrics/listen.c: parses metrics_listen's "HOST:PORT" (an IPv4
 * address or a bracketed IPv6 one, a port 0..65535) into *sa (when not
 * NULL); -EINVAL if it is not one. */
struct sockaddr_storage;
int hr_metrics_listen_parse(const char *s, struct sockaddr_storage *sa, unsigned *salen);

/* engine/server/metrics.c: registers the engine's families on srv's
 * registry (srv->mx's series and the collector of everything read from
 * the engine: hr_stats, per table, per region). */
int hr_server_metrics_init(hr_server *srv);

#endif
