/* tags.c — the tag area of a cell (contract in hr_tags.h) and the public
 * HR_TAG_FILE_ATTR helpers (hregionfs.h). */
#include <errno.h>

#include "engine/hr_tags.h"
#include "engine/hr_util.h"
#include "hregionfs.h"

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

/* ---- HR_TAG_FILE_ATTR (payload in hr_format.h, "Cell tags") ---------------- */

#define FILE_ATTR_PAYLOAD (HR_FILE_ATTR_TAG_LEN - 3)

void hr_file_attr_tag_encode(const hr_file_attr *a, uint8_t *out)
{
	hr_put16(out, (uint16_t)(1 + FILE_ATTR_PAYLOAD));
	out[2] = HR_TAG_FILE_ATTR;
	uint8_t *p = out + 3;
	hr_put32(p, a->mode);
	hr_put32(p + 4, a->uid);
	hr_put32(p + 8, a->gid);
	hr_put32(p + 12, 0);
	hr_put64(p + 16, (uint64_t)a->mtime_ns);
	hr_put64(p + 24, (uint64_t)a->atime_ns);
	hr_put64(p + 32, (uint64_t)a->ctime_ns);
}

int hr_file_attr_tag_find(const void *tags, size_t tags_len, hr_file_attr *out)
{
	size_t pos = 0, vl;
	uint8_t type;
	const uint8_t *v, *found = NULL;
	int rc;
	if (tags_len && !tags)
		return -EINVAL;
	/* the whole area is checked, not only up to the tag */
	while ((rc = hr_tags_next(tags, tags_len, &pos, &type, &v, &vl)) == 1) {
		if (type != HR_TAG_FILE_ATTR || found)
			continue;
		/* a later version may append fields: read the first 40 bytes */
		if (vl < FILE_ATTR_PAYLOAD)
			return -EINVAL;
		found = v;
	}
	if (rc < 0)
		return rc;
	if (!found)
		return 0;
	out->mode = hr_get32(found);
	out->uid = hr_get32(found + 4);
	out->gid = hr_get32(found + 8);
	out->mtime_ns = (int64_t)hr_get64(found + 16);
	out->atime_ns = (int64_t)hr_get64(found + 24);
	out->ctime_ns = (int64_t)hr_get64(found + 32);
	return 1;
}
