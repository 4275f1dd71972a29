/*
 * hr_kv.h — a cell inside one store (region x family), its order and its
 * encoding. The family is implied by the store, so it is not in the key.
 *
 * Order (HBase's): row asc (memcmp, then shorter first), qualifier asc,
 * timestamp desc, type desc, sequence id desc.
 *
 * Encoded form, shared by the memstore arena, store-file data blocks and the
 * WAL (see hr_format.h):
 *   u16 row_len | u16 qual_len | u32 value_len | i64 ts | u64 seq | u8 type
 *   | row | qualifier | value                       (header HR_KV_HDR bytes)
 * An hr_kv is a view: its pointers refer to memory owned by someone else.
 */
#ifndef HR_KV_H
#define HR_KV_H

#include <stddef.h>
#include <stdint.h>

#define HR_KV_HDR 25

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
} hr_kv;

/* <0, 0, >0 in the order above. */
int hr_kv_cmp(const hr_kv *a, const hr_kv *b);
/* Compares only (row, qualifier). */
int hr_kv_cmp_column(const hr_kv *a, const hr_kv *b);
int hr_bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

static inline size_t hr_kv_encoded_len(const hr_kv *kv)
{
	return HR_KV_HDR + (size_t)kv->row_len + kv->qual_len + kv->value_len;
}
/* Writes hr_kv_encoded_len(kv) bytes at dst. */
void hr_kv_encode(uint8_t *dst, const hr_kv *kv);
/* Decodes the entry at src (at most avail bytes). Returns the encoded length,
 * or -EIO if the entry runs past avail. */
int hr_kv_decode(const uint8_t *src, size_t avail, hr_kv *kv);

/* The first key of (row, qual) in the order: ts max, type max, seq max. */
void hr_kv_first_on_column(hr_kv *kv, const uint8_t *row, uint32_t row_len,
			   const uint8_t *qual, uint32_t qual_len);

#endif
