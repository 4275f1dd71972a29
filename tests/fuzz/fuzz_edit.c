/* fuzz_edit.c — libFuzzer target: the WAL edit decoder (hr_server.h: the
 * payload of one WAL record) on raw bytes, the way replay uses it.
 *
 * Input: byte 0 picks the WAL format version of the segment the edit would
 * come from (bit 0: 1 or 2, the cell encoding without or with tags); the
 * rest is the edit.
 *
 * Oracle: everything decoded lies inside the input; and a version-2 edit
 * that decodes whole, in the canonical form the encoder writes (cells end
 * exactly at the end, no row or seq inside a cell, no value or tags on a
 * delete), encodes back to the same bytes. */
#include "engine/hr_format.h"
#include "engine/hr_server.h"
#include "fuzz_common.h"
#include "hr_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t insize)
{
	if (insize < 1)
		return 0;
	uint32_t ver = 1 + (input[0] & 1);
	const uint8_t *data = input + 1;
	size_t size = insize - 1;
	hr_wal_edit ed;
	if (hr_wal_edit_decode(data, size, &ed) < 0)
		return 0;
	if (ed.row_len == 0 || ed.row < data || ed.row + ed.row_len > data + size)
		fuzz_fail("row outside the input");
	if (ed.cells < data || ed.cells > data + size || ed.cells_end != data + size)
		fuzz_fail("cells outside the input");
	/* a cell takes at least 2 + HR_KV_HDR_V1 bytes (a one-byte family and
	 * the smaller, version-1 header): no more can decode */
	size_t cap = size / (2 + HR_KV_HDR_V1) + 1;
	if (cap > ed.ncells)
		cap = ed.ncells ? ed.ncells : 1;
	hr_mcell *mc = calloc(cap, sizeof(*mc));
	char(*fam)[HR_MAX_NAME + 1] = calloc(cap, HR_MAX_NAME + 1);
	if (!mc || !fam)
		fuzz_fail("out of memory");
	const uint8_t *p = ed.cells;
	int canonical = 1;
	uint32_t i;
	for (i = 0; i < ed.ncells; i++) {
		hr_kv kv;
		if (i >= cap)
			fuzz_fail("cell %u of %zu bytes decoded", i, size);
		const uint8_t *before = p;
		if (hr_wal_cell_decode(&p, ed.cells_end, ver, fam[i], &kv) < 0)
			break;
		if (p <= before || p > ed.cells_end)
			fuzz_fail("cell %u: decode moved from %td to %td (of %zu)", i, before - data,
				  p - data, size);
		if ((kv.row_len && (kv.row < before || kv.row + kv.row_len > p)) ||
		    (kv.qual_len && (kv.qual < before || kv.qual + kv.qual_len > p)) ||
		    (kv.value_len && (kv.value < before || kv.value + kv.value_len > p)) ||
		    (kv.tags_len && (kv.tags < before || kv.tags + kv.tags_len > p)))
			fuzz_fail("cell %u: bytes outside the cell", i);
		size_t fl = (size_t)before[0];
		if (strlen(fam[i]) != fl || kv.row_len || kv.seq ||
		    (kv.type != HR_PUT && (kv.value_len || kv.tags_len)))
			canonical = 0;
		mc[i] = (hr_mcell){fam[i], kv.qual, kv.qual_len, kv.ts, kv.type, kv.value,
				   kv.value_len, kv.tags, kv.tags_len};
	}
	if (ver == 2 && i == ed.ncells && p == ed.cells_end && canonical) {
		uint8_t *out;
		size_t olen;
		if (hr_wal_edit_encode(ed.region_id, ed.row, ed.row_len, mc, ed.ncells, &out,
				       &olen) < 0)
			fuzz_fail("encode failed");
		if (olen != size || memcmp(out, data, size) != 0)
			fuzz_fail("a canonical edit of %zu bytes encodes back to %zu different bytes",
				  size, olen);
		free(out);
	}
	free(mc);
	free(fam);
	return 0;
}
