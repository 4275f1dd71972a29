/* tags.c — the tag area of a cell (contract in hr_tags.h). */
#include <errno.h>

#include "engine/hr_tags.h"
#include "engine/hr_util.h"

int hr_tags_next(const uint8_t *p, size_t len, size_t *pos, uint8_t *type, const uint8_t **value,
		 size_t *value_len)
{
	size_t at = *pos;
	if (at >= len)
		return 0;
	if (len - at < 3)
		return -EINVAL;
	size_t tl = hr_get16(p + at);
	if (tl == 0 || tl > len - at - 2)
		return -EINVAL;
	*type = p[at + 2];
	*value = p + at + 3;
	*value_len = tl - 1;
	*pos = at + 2 + tl;
	return 1;
}

int hr_tags_check(const void *tags, size_t len)
{
	size_t pos = 0;
	uint8_t type;
	const uint8_t *v;
	size_t vl;
	int rc;
	if (len && !tags)
		return -EINVAL;
	while ((rc = hr_tags_next(tags, len, &pos, &type, &v, &vl)) == 1)
		;
	return rc;
}
