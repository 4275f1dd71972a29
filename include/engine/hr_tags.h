/*
 * hr_tags.h — walking a cell's tag area (format in hregionfs.h, "Cell
 * tags", and hr_format.h, "Cell tags"). Stateless, thread-safe; the area is
 * borrowed, never copied.
 */
#ifndef HR_TAGS_H
#define HR_TAGS_H

#include <stddef.h>
#include <stdint.h>

/* The tag at *pos of the area [p, p+len): its type and value. Returns 1 and
 * advances *pos past it, 0 at the end of the area, -EINVAL if the tag runs
 * past the end or has len 0. */
int hr_tags_next(const uint8_t *p, size_t len, size_t *pos, uint8_t *type, const uint8_t **value,
		 size_t *value_len);

/* 0 if the area is a well-formed sequence of tags (an empty one is), else
 * -EINVAL. */
int hr_tags_check(const void *tags, size_t len);

#endif
