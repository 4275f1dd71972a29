/* fuzz_sfile.c — libFuzzer target: the store-file reader (trailer, info,
 * index and bloom blocks at open; data blocks on reads, compressed ones
 * (lz4, zstd: version 3) decoded through the bounded decoders, whose output
 * must be exactly the block header's raw_len; fuzz_seeds makes such files).
 *
 * Input: byte 0 = flags (bit 0: recompute the trailer CRC and the length
 * and CRC of every block the trailer and the data-block chain point to, so
 * the parsers behind the checksums see the mutated bytes), then the file.
 * The file is read through the I/O seam from memory (fuzz_common.h's
 * memio), as the engine reads store files: open, a full scan, seeks to
 * keys taken from the file, row bloom probes and the split point.
 *
 * Oracle: errors are -EIO (or -ENOMEM), never a crash or undefined
 * behaviour. And for a file whose checksums were not recomputed (so it is
 * what a writer wrote, or rejected): a scan returns entries in hr_kv_cmp
 * order, never more than the info block's entry count, each inside [first
 * key, last key]; the bloom filter never denies a row the scan returned; a
 * seek lands on an entry >= its target. (With recomputed checksums a block
 * may say anything: the reader trusts a checksummed block's content.) */
#include "engine/hr_bcache.h"
#include "engine/hr_fdcache.h"
#include "engine/hr_format.h"
#include "engine/hr_sfile.h"
#include "fuzz_common.h"
#include "hr_log.h"

/* One framed block at off..off+len: its length field made to fit, its CRC
 * recomputed (when forced, the length is set to len - 8). */
static void fix_block(uint8_t *b, size_t size, uint64_t off, uint64_t len, int force_len)
{
	if (len < 8 || off > size || len > size - off)
		return;
	if (force_len)
		hr_put32(b + off, (uint32_t)(len - 8));
	uint32_t pl = hr_get32(b + off);
	if ((uint64_t)pl + 8 != len)
		return;
	hr_put32(b + off + 4 + pl, hr_crc32c(0, b + off, 4 + (size_t)pl));
}

static void fix_crcs(uint8_t *b, size_t size)
{
	if (size < HR_SFILE_TRAILER_LEN)
		return;
	uint8_t *t = b + size - HR_SFILE_TRAILER_LEN;
	uint64_t index_off = hr_get64(t + 16), index_len = hr_get64(t + 24);
	/* the data blocks: a chain from offset 0 up to the index */
	uint64_t off = 0, data_end = index_off < size ? index_off : 0;
	while (off + 8 <= data_end) {
		uint64_t len = (uint64_t)hr_get32(b + off) + 8;
		if (len > data_end - off)
			break;
		fix_block(b, size, off, len, 0);
		off += len;
	}
	fix_block(b, size, index_off, index_len, 1);
	fix_block(b, size, hr_get64(t + 32), hr_get64(t + 40), 1);
	fix_block(b, size, hr_get64(t + 48), hr_get64(t + 56), 1);
	hr_put32(t + 68, hr_crc32c(0, t, 68));
}

static int in_range(const hr_sfile_info *in, const hr_kv *kv)
{
	return hr_kv_cmp_column(kv, &in->first_key) >= 0 && hr_kv_cmp_column(kv, &in->last_key) <= 0;
}

static void check_rc(int rc, const char *what)
{
	if (rc < 0 && rc != -EIO && rc != -ENOMEM)
		fuzz_fail("%s returned %d", what, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 20];
	static uint64_t next_id = 1;
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	hr_log_set_level(-1);
	size_t len = size - 1;
	memcpy(buf, data + 1, len);
	int strict = !(data[0] & 1);
	if (!strict)
		fix_crcs(buf, len);
	memio m = {.io = {.ops = &memio_ops}, .dir = "/store", .n = 1};
	snprintf(m.name[0], sizeof(m.name[0]), "0000000000000001.hsf");
	m.data[0] = buf;
	m.len[0] = len;
	const char *path = "/store/0000000000000001.hsf";
	hr_fdcache *fc;
	hr_bcache *bc;
	if (hr_fdcache_new(16, &m.io, &fc) < 0 || hr_bcache_new(1 << 20, &bc) < 0)
		fuzz_fail("caches");
	hr_sfile *f;
	int rc = hr_sfile_open(path, next_id++, fc, bc, &f);
	if (rc < 0) {
		check_rc(rc, "open");
		goto out;
	}
	const hr_sfile_info *in = hr_sfile_get_info(f);
	hr_sfile_iter *it;
	if (hr_sfile_iter_new(f, &it) < 0)
		fuzz_fail("iter_new");
	/* a full scan */
	static uint8_t prev[1 << 20];
	hr_kv pk;
	int have_prev = 0;
	uint64_t n = 0;
	const uint8_t *probe_row = NULL;
	size_t probe_len = 0;
	for (rc = hr_sfile_iter_first(it); rc == 0 && hr_sfile_iter_valid(it);
	     rc = hr_sfile_iter_next(it)) {
		const hr_kv *kv = hr_sfile_iter_kv(it);
		if (strict && have_prev && hr_kv_cmp(&pk, kv) > 0)
			fuzz_fail("scan out of order at entry %llu", (unsigned long long)n);
		if (strict && !in_range(in, kv))
			fuzz_fail("entry %llu outside the file's key range", (unsigned long long)n);
		if (++n > in->entry_count && strict)
			fuzz_fail("more entries than the info block's %llu",
				  (unsigned long long)in->entry_count);
		size_t kl = (size_t)kv->row_len + kv->qual_len;
		if (kl <= sizeof(prev)) {
			/* keep a copy: the iterator's bytes go with its block */
			memcpy(prev, kv->row, kv->row_len);
			memcpy(prev + kv->row_len, kv->qual, kv->qual_len);
			pk = *kv;
			pk.row = prev;
			pk.qual = prev + kv->row_len;
			pk.value = NULL;
			pk.value_len = 0;
			have_prev = 1;
			if (n == 1 || n % 7 == 0) {
				probe_row = prev;
				probe_len = kv->row_len;
			}
		} else {
			have_prev = 0;
		}
		if (probe_row && !hr_sfile_may_contain_row(f, probe_row, probe_len) && strict)
			fuzz_fail("the bloom filter denies a row the file holds");
		probe_row = NULL;
	}
	check_rc(rc, "scan");
	/* seeks: to the first and last keys, to the last entry seen */
	const hr_kv *targets[3] = {&in->first_key, &in->last_key, have_prev ? &pk : NULL};
	for (int i = 0; i < 3; i++) {
		if (!targets[i] || (i < 2 && !in->entry_count))
			continue;
		hr_kv t = *targets[i];
		rc = hr_sfile_iter_seek(it, &t);
		check_rc(rc, "seek");
		if (strict && rc == 0 && hr_sfile_iter_valid(it) &&
		    hr_kv_cmp(hr_sfile_iter_kv(it), &t) < 0)
			fuzz_fail("seek landed before its target");
	}
	const uint8_t *mid;
	size_t midlen;
	rc = hr_sfile_mid_row(f, &mid, &midlen);
	if (rc < 0 && rc != -ENOENT)
		check_rc(rc, "mid_row");
	hr_sfile_iter_free(it);
	hr_sfile_unref(f);
out:
	hr_fdcache_free(fc);
	hr_bcache_free(bc);
	return 0;
}
