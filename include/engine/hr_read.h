/*
 * hr_read.h — point reads inside one store: the versions of one column,
 * merged from the store's memstores and files at the region's current read point, with deletes,
 * versions and TTL applied (hr_resolver). Thread-safe: takes its own view.
 */
#ifndef HR_READ_H
#define HR_READ_H

#include "engine/hr_region.h"

/* Fills up to max values (newest first) of (row, qual): ts, seq, len,
 * tags_len, and per flags the value (HR_GET_VALUE) and the tag area
 * (HR_GET_TAGS), both malloc'd. max_versions 0 = the family's. [min_ts,
 * max_ts) filter, 0 = none; history as HR_GET_HISTORY. Returns the count found (0 = none) or a
 * negative errno (then nothing is left allocated in out). */
int hr_store_get(hr_store *st, hr_mvcc *mvcc, const uint8_t *row, size_t row_len,
		 const uint8_t *qual, size_t qual_len, unsigned flags, hr_value *out,
		 uint32_t max, int64_t min_ts, int64_t max_ts, int history);

#endif
