/*
 * hr_sfile.h — immutable sorted store files (HFile-like). A store file holds
 * the cells of one store (region x family) as hr_kv entries in hr_kv_cmp
 * order. On-disk format: "Store files" in hr_format.h.
 *
 * I/O: every file operation goes through the I/O seam (hr_io.h): the
 * writer's is given to hr_sfile_write_open, a reader's is its fdcache's.
 *
 * Versions: files of every version from HR_SFILE_VERSION_MIN are read (a
 * store may mix them); new files are written as HR_SFILE_VERSION. Entries
 * of a version-1 file have no tags (hr_kv.tags_len 0). Version 3 data
 * blocks may be compressed (lz4, zstd; hr_format.h): the reader decodes a
 * block when it loads it, and the block cache keeps it decoded (a cache
 * hit, the common case of a hot get, then costs no decompression; the
 * price is that the cache's bytes hold the raw size of each block).
 *
 * Writer: single-threaded object. Entries are added in non-decreasing
 * hr_kv_cmp order (an out-of-order add is -EINVAL and poisons the writer).
 * Exactly one of hr_sfile_write_finish / hr_sfile_write_abort ends it and
 * frees it; finish fsyncs and closes the temp file, the caller renames it
 * into place and fsyncs the directory. A failed finish unlinks the temp
 * file.
 *
 * Reader (hr_sfile): opened once, shared by every reader through a
 * reference count (atomic). The trailer, file info, block index and bloom
 * filter are read, checksum-verified and kept in memory at open; data
 * blocks are read on demand with hr_fdcache_pread and kept in the shared
 * hr_bcache. Everything in an hr_sfile is immutable after open except the
 * refcount and the deleted flag (both atomic), so any number of threads may
 * use one file at once. When the last reference goes, the file is freed,
 * and if hr_sfile_mark_deleted was called, its fd is forgotten, its cached
 * blocks dropped and the file unlinked (a later compaction retires files
 * this way while scans still read them).
 *
 * Corruption: every block's CRC32C and every decoded length is checked on
 * read. A bad block is -EIO plus an error log line naming the file and the
 * block offset; other blocks stay readable. A bad trailer, info, index or
 * bloom block makes hr_sfile_open fail with -EIO.
 *
 * Iterator: single-threaded; holds a reference on the file and on its
 * current block, so the kv it returns stays valid until the next move or
 * free, whatever the cache evicts meanwhile.
 */
#ifndef HR_SFILE_H
#define HR_SFILE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_bcache.h"
#include "engine/hr_fdcache.h"
#include "engine/hr_kv.h"

typedef struct hr_sfile hr_sfile;
typedef struct hr_sfile_writer hr_sfile_writer;
typedef struct hr_sfile_iter hr_sfile_iter;

/* What the file-info block records. first_key / last_key are full keys
 * (row, qualifier, ts, type, seq; value_len 0) whose bytes are owned by the
 * hr_sfile: valid while it is referenced. Both are zero for an empty file. */
typedef struct hr_sfile_info {
	hr_kv first_key;
	hr_kv last_key;
	uint64_t max_seq;	/* max(finish's max_seq, every entry's seq) */
	uint64_t entry_count;
	uint64_t row_count;	/* distinct rows */
	uint64_t delete_count;	/* entries whose type is not HR_PUT */
	int64_t min_ts, max_ts;	/* INT64_MAX / INT64_MIN when empty */
	uint64_t data_block_count;
	uint64_t data_bytes;	/* sum of hr_kv_encoded_len of the entries */
	uint64_t file_size;	/* filled by hr_sfile_open */
	uint32_t block_size;	/* target payload size it was written with */
	int has_bloom;
	uint32_t version;	/* format version (hr_format.h), filled by hr_sfile_open */
} hr_sfile_info;

/* ---- writer ---- */

/* Creates (truncates) tmp_path through io (not owned). block_size: target data-block payload
 * (a single larger cell makes a larger block); 0 means 64 KiB. bloom_rows:
 * build the row bloom filter. expected_rows: sizing hint only (the filter
 * is sized from the actual distinct row count at finish). */
int hr_sfile_write_open(hr_io *io, const char *tmp_path, uint32_t block_size, int bloom_rows,
			uint64_t expected_rows, hr_sfile_writer **out);
/* Copies the entry. -EINVAL if out of order or a length is out of range
 * (row or qualifier longer than the u16 the encoding allows); -EIO/-ENOSPC
 * from the write. After an error the writer only accepts abort (finish then
 * fails and unlinks). */
int hr_sfile_write_add(hr_sfile_writer *w, const hr_kv *kv);
/* Before the first add: compress data blocks with codec (HR_SFILE_CODEC_*,
 * hr_format.h; the values of hregionfs.h's HR_COMPRESSION_*) at zstd level
 * `level` (zstd only; out of range = 3). A block that does not shrink is
 * stored raw. A writer of an older format (the test seam below) keeps its
 * blocks raw. -EINVAL for an unknown codec or after the first add. */
int hr_sfile_write_compression(hr_sfile_writer *w, int codec, int level);
/* Data-block payload bytes written so far, before compression. */
uint64_t hr_sfile_write_raw_bytes(const hr_sfile_writer *w);
/* Entries added so far / bytes written so far (for a flush's progress). */
uint64_t hr_sfile_write_entries(const hr_sfile_writer *w);
uint64_t hr_sfile_write_bytes(const hr_sfile_writer *w);
/* Writes the last data block, index, bloom, info and trailer, fsyncs,
 * closes and frees the writer. On error the temp file is unlinked. */
int hr_sfile_write_finish(hr_sfile_writer *w, uint64_t max_seq);
/* Closes, unlinks the temp file, frees. NULL is a no-op. */
void hr_sfile_write_abort(hr_sfile_writer *w);
/* Test seam (compatibility tests): writers opened from now on write format
 * version `version` (HR_SFILE_VERSION_MIN..HR_SFILE_VERSION; 0 restores the
 * default, HR_SFILE_VERSION). A version-1 writer refuses entries with tags
 * (-EINVAL). Process-wide; never used outside tests. */
void hr_sfile_test_write_version(uint32_t version);

/* ---- reader ---- */

/* file_id must be unique among files sharing fc/bc (it keys both caches).
 * Returns the file with one reference. -ENOENT etc. from open, -EIO on a
 * bad trailer/meta block (logged with the file name), -ENOMEM. */
int hr_sfile_open(const char *path, uint64_t file_id, hr_fdcache *fc, hr_bcache *bc,
		  hr_sfile **out);
void hr_sfile_ref(hr_sfile *f);
void hr_sfile_unref(hr_sfile *f);
/* The file goes away (unlink) at its last unref. */
void hr_sfile_mark_deleted(hr_sfile *f);

const hr_sfile_info *hr_sfile_get_info(const hr_sfile *f);
const char *hr_sfile_path(const hr_sfile *f);
uint64_t hr_sfile_id(const hr_sfile *f);

/* Where a file's blocks are (for hregionctl's sfile dump): the meta blocks'
 * on-disk ranges as its trailer records them (framing included; bloom 0, 0
 * without a bloom), the data-block count and the bloom's parameters. */
typedef struct hr_sfile_layout {
	uint64_t index_off, index_len;
	uint64_t bloom_off, bloom_len;
	uint64_t info_off, info_len;
	uint32_t nblocks;
	uint32_t bloom_k;	/* 0 without a bloom */
	uint64_t bloom_nbits;
} hr_sfile_layout;

void hr_sfile_get_layout(const hr_sfile *f, hr_sfile_layout *out);
/* Index entry i (< nblocks): data block offset, on-disk length (framing
 * included) and first key (owned by the file). -ERANGE past the end. */
int hr_sfile_block_at(const hr_sfile *f, uint32_t i, uint64_t *off, uint32_t *len,
		      const hr_kv **first);

/* Data block i as stored (for sfile dump and tests): its codec, whether it
 * was stored raw because it did not shrink, its decoded payload length and
 * its on-disk length (framing included). Reads the block and checks its
 * CRC and header: -EIO if damaged, -ERANGE past the end. */
typedef struct hr_sfile_block_desc {
	int codec;		/* HR_SFILE_CODEC_* */
	int incompressible;
	uint32_t raw_len;
	uint32_t stored_len;
} hr_sfile_block_desc;
int hr_sfile_block_describe(const hr_sfile *f, uint32_t i, hr_sfile_block_desc *out);

/* 0 if the row is certainly absent (outside [first row, last row] or not in
 * the bloom filter), 1 if it may be present. */
int hr_sfile_may_contain_row(const hr_sfile *f, const uint8_t *row, size_t len);
/* Same with a precomputed hr_sfile_row_hash (one hash per get, not per file). */
int hr_sfile_may_contain_row_h(const hr_sfile *f, const uint8_t *row, size_t len,
			       uint64_t hash);
uint64_t hr_sfile_row_hash(const uint8_t *row, size_t len);
/* (format helper) The first 4 bytes of p, zero-padded, as a big-endian
 * number: comparing two of them orders like comparing the bytes, up to a
 * tie. */
static inline uint32_t hr_sfile_row_prefix(const uint8_t *p, size_t len)
{
	uint32_t v = 0;
	for (size_t i = 0; i < 4; i++)
		v = v << 8 | (i < len ? p[i] : 0u);
	return v;
}

/* The row of the first key of the middle data block (a split point). The
 * bytes are owned by the file. -ENOENT for an empty file. */
int hr_sfile_mid_row(const hr_sfile *f, const uint8_t **row, size_t *len);

/* ---- iterator ---- */

/* Takes a reference on f. Starts unpositioned (not valid). -ENOMEM. */
int hr_sfile_iter_new(hr_sfile *f, hr_sfile_iter **out);
void hr_sfile_iter_free(hr_sfile_iter *it);
/* Positions at the first entry >= target (hr_kv_cmp). 0 (maybe not valid:
 * past the end), -EIO on a bad block, -ENOMEM. */
int hr_sfile_iter_seek(hr_sfile_iter *it, const hr_kv *target);
int hr_sfile_iter_first(hr_sfile_iter *it);
int hr_sfile_iter_valid(const hr_sfile_iter *it);
/* The current entry; valid until the next move or free. */
const hr_kv *hr_sfile_iter_kv(const hr_sfile_iter *it);
/* 0 (maybe now past the end), -EIO on a bad next block (the iterator is
 * then not valid). */
int hr_sfile_iter_next(hr_sfile_iter *it);

#endif
