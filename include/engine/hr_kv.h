/*
 * hr_kv.h — a cell inside one store (region x family), its order and its
 * encoding. The family is implied by the store, so it is not in the key.
 *
 * Order (HBase's): row asc (memcmp, then shorter first), qualifier asc,
 * timestamp desc, type desc, sequence id desc. Tags are not part of the key.
 *
 * Encoded form (format 2, the current one), shared by the memstore arena,
 * store-file data blocks (store-file version 2) and WAL edits (WAL version
 * 2); see hr_format.h:
 *   u16 row_len | u16 qual_len | u32 value_len | i64 ts | u64 seq | u8 type
 *   | u16 tags_len | row | qualifier | value | tags  (header HR_KV_HDR bytes)
 * tags_len sits in the fixed header (not after the value, as in HBase's
 * KeyValue) so that decoding never touches the bytes after a large value.
 * Format 1 (store-file version 1, WAL version 1) is the same without
 * tags_len and tags (header HR_KV_HDR_V1 bytes); it is only read, except by
 * the compatibility test seam of the store-file writer.
 * The tag area is opaque here (hregionfs.h describes its tags).
 *
 * An hr_kv is a view: its pointers refer to memory owned by someone else.
 */
#ifndef HR_KV_H
#define HR_KV_H

#include <stddef.h>
#include <stdint.h>

#define HR_KV_HDR 27
#define HR_KV_HDR_V1 25
enum { HR_KV_FMT_1 = 1, HR_KV_FMT_2 = 2 };

typedef struct hr_kv {
	const uint8_t *row;
	uint32_t row_len;
	const uint8_t *qual;
	uint32_t qual_len;
	int64_t ts;
	uint64_t seq;
	uint8_t type;
	const uint8_t *value;
	uint32_t value_len;
	uint32_t tags_len;	/* <= UINT16_MAX */
	const uint8_t *tags;	/* NULL when tags_len is 0 */
} hr_kv;

/* <0, 0, >0 in the order above. */
int hr_kv_cmp(const hr_kv *a, const hr_kv *b);
/* Compares only (row, qualifier). */
int hr_kv_cmp_column(const hr_kv *a, const hr_kv *b);
int hr_bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

static inline size_t hr_kv_encoded_len(const hr_kv *kv)
{
	return HR_KV_HDR + (size_t)kv->row_len + kv->qual_len + kv->value_len + kv->tags_len;
}
/* Writes hr_kv_encoded_len(kv) bytes at dst (format 2). */
void hr_kv_encode(uint8_t *dst, const hr_kv *kv);
/* Decodes the format-2 entry at src (at most avail bytes). Returns the
 * encoded length, or -EIO if the entry runs past avail. */
int hr_kv_decode(const uint8_t *src, size_t avail, hr_kv *kv);

/* Format 1 (no tags): the length of, writing and reading one entry. Writing
 * ignores tags (callers refuse cells with tags first). */
static inline size_t hr_kv_encoded_len_v1(const hr_kv *kv)
{
	return HR_KV_HDR_V1 + (size_t)kv->row_len + kv->qual_len + kv->value_len;
}
void hr_kv_encode_v1(uint8_t *dst, const hr_kv *kv);
int hr_kv_decode_v1(const uint8_t *src, size_t avail, hr_kv *kv);

/* Decodes in format fmt (HR_KV_FMT_1 or HR_KV_FMT_2). */
static inline int hr_kv_decode_fmt(const uint8_t *src, size_t avail, hr_kv *kv, int fmt)
{
	return fmt == HR_KV_FMT_2 ? hr_kv_decode(src, avail, kv) : hr_kv_decode_v1(src, avail, kv);
}

/* The first key of (row, qual) in the order: ts max, type max, seq max. */
void hr_kv_first_on_column(hr_kv *kv, const uint8_t *row, uint32_t row_len,
			   const uint8_t *qual, uint32_t qual_len);

#endif
