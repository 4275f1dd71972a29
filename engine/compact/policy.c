/* policy.c — which files a minor compaction takes: HBase's
 * ExploringCompactionPolicy (contract in hr_compact.h). Stores hold few
 * files (bounded by max_files per window and the blocking count), so trying
 * every window is cheap. */
#include <stdlib.h>

#include "engine/hr_compact.h"

void hr_compact_params_from_config(const hr_config *c, hr_compact_params *p)
{
	p->min_files = c->compact_min_files;
	p->max_files = c->compact_max_files;
	p->blocking_files = c->blocking_store_files;
	p->ratio = strtod(c->compact_ratio, NULL);
	/* HBase's hbase.hstore.compaction.min.size defaults to the flush size:
	 * a fresh flush file is always worth merging */
	p->min_size = c->flush_size;
}

/* No file may outweigh ratio x the rest: merging a big old file with a few
 * small ones rewrites the big one for little gain. */
static int in_ratio(const uint64_t *s, uint32_t count, uint64_t total, const hr_compact_params *p)
{
	for (uint32_t i = 0; i < count; i++) {
		if (s[i] < p->min_size)
			continue;
		if ((double)s[i] > p->ratio * (double)(total - s[i]))
			return 0;
	}
	return 1;
}

int hr_compact_select(const uint64_t *sizes, uint32_t n, const hr_compact_params *p,
		      uint32_t *start, uint32_t *count)
{
	uint32_t min = p->min_files < 2 ? 2 : p->min_files;
	uint32_t max = p->max_files < min ? min : p->max_files;
	int stuck = p->blocking_files && n >= p->blocking_files;
	uint32_t best_s = 0, best_c = 0, small_s = 0, small_c = 0;
	uint64_t best_t = 0, small_t = UINT64_MAX;
	if (stuck && n < min)
		min = n; /* a blocking count below min_files: take what there is */
	if (n < min || min < 2)
		return 0;
	for (uint32_t s = 0; s + min <= n; s++) {
		uint64_t total = 0;
		for (uint32_t i = s; i < s + min - 1; i++)
			total += sizes[i];
		for (uint32_t c = min; c <= max && s + c <= n; c++) {
			total += sizes[s + c - 1];
			if (stuck && total < small_t) {
				small_t = total;
				small_s = s;
				small_c = c;
			}
			if (!in_ratio(sizes + s, c, total, p))
				continue;
			if (c > best_c || (c == best_c && total < best_t)) {
				best_s = s;
				best_c = c;
				best_t = total;
			}
		}
	}
	if (best_c) {
		*start = best_s;
		*count = best_c;
		return 1;
	}
	if (stuck && small_c) {
		*start = small_s;
		*count = small_c;
		return 1;
	}
	return 0;
}
