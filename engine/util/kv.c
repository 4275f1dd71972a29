/* kv.c — cell order and encoding (contract in hr_kv.h). */
#include <errno.h>
#include <string.h>

#include "engine/hr_kv.h"
#include "engine/hr_util.h"

int hr_bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int hr_kv_cmp_column(const hr_kv *a, const hr_kv *b)
{
	int c = hr_bytes_cmp(a->row, a->row_len, b->row, b->row_len);
	if (c)
		return c;
	return hr_bytes_cmp(a->qual, a->qual_len, b->qual, b->qual_len);
}

int hr_kv_cmp(const hr_kv *a, const hr_kv *b)
{
	int c = hr_kv_cmp_column(a, b);
	if (c)
		return c;
	if (a->ts != b->ts)
		return a->ts > b->ts ? -1 : 1;
	if (a->type != b->type)
		return a->type > b->type ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq > b->seq ? -1 : 1;
	return 0;
}

/* The fields both formats share, in the same place: the 25-byte prefix of
 * the header. Returns where the rest of the header goes. */
static inline uint8_t *encode_common(uint8_t *dst, const hr_kv *kv)
{
	hr_put16(dst, (uint16_t)kv->row_len);
	hr_put16(dst + 2, (uint16_t)kv->qual_len);
	hr_put32(dst + 4, kv->value_len);
	hr_put64(dst + 8, (uint64_t)kv->ts);
	hr_put64(dst + 16, kv->seq);
	dst[24] = kv->type;
	return dst + HR_KV_HDR_V1;
}

static inline uint8_t *encode_body(uint8_t *p, const hr_kv *kv)
{
	if (kv->row_len)
		memcpy(p, kv->row, kv->row_len);
	p += kv->row_len;
	if (kv->qual_len)
		memcpy(p, kv->qual, kv->qual_len);
	p += kv->qual_len;
	if (kv->value_len)
		memcpy(p, kv->value, kv->value_len);
	return p + kv->value_len;
}

void hr_kv_encode(uint8_t *dst, const hr_kv *kv)
{
	uint8_t *p = encode_common(dst, kv);
	hr_put16(p, (uint16_t)kv->tags_len);
	p = encode_body(p + 2, kv);
	if (kv->tags_len)
		memcpy(p, kv->tags, kv->tags_len);
}

void hr_kv_encode_v1(uint8_t *dst, const hr_kv *kv)
{
	encode_body(encode_common(dst, kv), kv);
}

static inline void decode_common(const uint8_t *src, hr_kv *kv)
{
	kv->row_len = hr_get16(src);
	kv->qual_len = hr_get16(src + 2);
	kv->value_len = hr_get32(src + 4);
	kv->ts = (int64_t)hr_get64(src + 8);
	kv->seq = hr_get64(src + 16);
	kv->type = src[24];
}

int hr_kv_decode(const uint8_t *src, size_t avail, hr_kv *kv)
{
	if (avail < HR_KV_HDR)
		return -EIO;
	decode_common(src, kv);
	kv->tags_len = hr_get16(src + HR_KV_HDR_V1);
	size_t total = HR_KV_HDR + (size_t)kv->row_len + kv->qual_len + kv->value_len +
		       kv->tags_len;
	if (total > avail || total > INT32_MAX)
		return -EIO;
	kv->row = src + HR_KV_HDR;
	kv->qual = kv->row + kv->row_len;
	kv->value = kv->qual + kv->qual_len;
	kv->tags = kv->tags_len ? kv->value + kv->value_len : NULL;
	return (int)total;
}

int hr_kv_decode_v1(const uint8_t *src, size_t avail, hr_kv *kv)
{
	if (avail < HR_KV_HDR_V1)
		return -EIO;
	decode_common(src, kv);
	size_t total = HR_KV_HDR_V1 + (size_t)kv->row_len + kv->qual_len + kv->value_len;
	if (total > avail || total > INT32_MAX)
		return -EIO;
	kv->row = src + HR_KV_HDR_V1;
	kv->qual = kv->row + kv->row_len;
	kv->value = kv->qual + kv->qual_len;
	kv->tags_len = 0;
	kv->tags = NULL;
	return (int)total;
}

void hr_kv_first_on_column(hr_kv *kv, const uint8_t *row, uint32_t row_len,
			   const uint8_t *qual, uint32_t qual_len)
{
	memset(kv, 0, sizeof(*kv));
	kv->row = row;
	kv->row_len = row_len;
	kv->qual = qual;
	kv->qual_len = qual_len;
	kv->ts = INT64_MAX;
	kv->type = 255;
	kv->seq = UINT64_MAX;
}
