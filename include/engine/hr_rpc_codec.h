/*
 * hr_rpc_codec.h — the RPC's field writer and reader (engine/rpc/codec.c),
 * shared by the server (engine/rpc/server.c) and the client
 * (engine/client/). Encodings: hr_format.h, "RPC".
 *
 * A writer (hr_rpc_w) grows one malloc'd buffer that starts with room for
 * the frame header; every call after the first error is a no-op and the
 * error comes out of hr_rpc_w_frame (-EMSGSIZE beyond HR_RPC_MAX_FRAME,
 * -ENOMEM). A reader (hr_rpc_r) never reads past its end: a field that does
 * not fit sets err (-EBADMSG) and reads as zero/NULL from then on. Not
 * thread-safe; one per message.
 */
#ifndef HR_RPC_CODEC_H
#define HR_RPC_CODEC_H

#include "engine/hr_rpc.h"

typedef struct hr_rpc_w {
	uint8_t *p;
	size_t n, cap;
	int err;
} hr_rpc_w;

void hr_rpc_w_init(hr_rpc_w *w);
void hr_rpc_w_raw(hr_rpc_w *w, const void *b, size_t n);
void hr_rpc_w_u8(hr_rpc_w *w, uint8_t v);
void hr_rpc_w_u32(hr_rpc_w *w, uint32_t v);
void hr_rpc_w_u64(hr_rpc_w *w, uint64_t v);
void hr_rpc_w_bytes(hr_rpc_w *w, const void *b, size_t n);
void hr_rpc_w_nbytes(hr_rpc_w *w, const void *b, size_t n); /* b NULL = absent */
void hr_rpc_w_str(hr_rpc_w *w, const char *s);
void hr_rpc_w_nstr(hr_rpc_w *w, const char *s);
void hr_rpc_w_family(hr_rpc_w *w, const hr_family_schema *f);
void hr_rpc_w_schema(hr_rpc_w *w, const hr_table_schema *s);
void hr_rpc_w_value(hr_rpc_w *w, const hr_value *v);
void hr_rpc_w_entry(hr_rpc_w *w, const hr_scan_entry *e);
/* Finishes the frame (header, CRC) and hands its buffer over; the writer
 * is spent either way. */
int hr_rpc_w_frame(hr_rpc_w *w, uint8_t type, uint8_t **frame, size_t *n);
void hr_rpc_w_discard(hr_rpc_w *w);

typedef struct hr_rpc_r {
	const uint8_t *p, *end;
	int err;
} hr_rpc_r;

void hr_rpc_r_init(hr_rpc_r *r, const uint8_t *p, size_t n);
uint8_t hr_rpc_r_u8(hr_rpc_r *r);
uint32_t hr_rpc_r_u32(hr_rpc_r *r);
uint64_t hr_rpc_r_u64(hr_rpc_r *r);
const uint8_t *hr_rpc_r_bytes(hr_rpc_r *r, size_t *n);
/* present (when not NULL) = 0 for an absent field (then NULL is returned);
 * with present NULL an absent field is an error. A present empty field is
 * a non-NULL pointer. */
const uint8_t *hr_rpc_r_nbytes(hr_rpc_r *r, size_t *n, int *present);
void hr_rpc_r_name(hr_rpc_r *r, char out[HR_MAX_NAME + 1]);
void hr_rpc_r_family(hr_rpc_r *r, hr_family_schema *f);
void hr_rpc_r_schema(hr_rpc_r *r, hr_table_schema *s);
/* err, or -EBADMSG if bytes are left over */
int hr_rpc_r_end(hr_rpc_r *r);

#endif
