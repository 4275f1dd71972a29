/* sfile_int.h — private to engine/sfile: the reader's in-memory layout,
 * shared by sfile_read.c (open, meta, lifetime) and sfile_iter.c. */
#ifndef HR_SFILE_INT_H
#define HR_SFILE_INT_H

#include <stdatomic.h>

#include "engine/hr_sfile.h"

typedef struct hr_sfile_idx {
	hr_kv first;		/* points into index_buf */
	uint64_t off;
	uint32_t len;		/* on-disk, framing included */
} hr_sfile_idx;

/* Immutable after hr_sfile_open except refs and deleted. */
struct hr_sfile {
	char *path;
	uint64_t file_id;
	hr_fdcache *fc;
	hr_bcache *bc;
	atomic_uint refs;
	atomic_int deleted;
	int kv_fmt;		/* entry encoding: HR_KV_FMT_1 (version 1) or _2 */
	uint32_t kv_hdr;	/* its header size: the smallest entry */
	uint32_t blk_hdr;	/* data-block header bytes: HR_SFILE_BLK_HDR (version 3) or 0 */
	hr_sfile_info info;	/* keys point into info_buf */
	uint8_t *info_buf, *index_buf, *bloom_buf;	/* framed blocks */
	hr_sfile_idx *idx;
	uint32_t nblocks;
	uint32_t bloom_k;
	uint64_t bloom_nbits;
	const uint8_t *bloom_bits;	/* in bloom_buf; NULL: no bloom */
	hr_sfile_layout layout;		/* where the trailer says the meta blocks are */
};

/* Reads the framed block [off, off+disk_len) and verifies length and CRC
 * (logging file and offset on failure). *out: malloc'd, framing included. */
int hr_sfile_read_block(const hr_sfile *f, uint64_t off, uint64_t disk_len, uint8_t **out);

/* Reads data block e (CRC checked) and decodes it: *out (malloc'd) is the
 * block as a raw one of this file is framed, u32 len | [blk_hdr bytes] |
 * payload | u32, whatever its codec on disk, so the block cache and the
 * iterator see one shape: the payload is at *out + 4 + f->blk_hdr and is
 * *len - 8 - f->blk_hdr bytes long (*len = the buffer's length). A block
 * whose header or body does not decode to exactly its raw_len is -EIO
 * (logged). */
int hr_sfile_load_data_block(const hr_sfile *f, const hr_sfile_idx *e, uint8_t **out,
			     size_t *len);

#endif
