/* fuzz_wal.c — libFuzzer target: the WAL segment reader (headers, records,
 * control records, torn tails, resync after damage) in all three recovery
 * modes, and the edit decoder on every record it returns.
 *
 * Input: byte 0 = flags (bit 0: recompute the header and record CRCs, so
 * records pass the checksum and reach the decoders), then the segments,
 * each starting with the segment magic "HRWALSG1" (the input is split at
 * every occurrence; segments are named by the id in their header when it
 * is new and non-zero, else numbered).
 *
 * Oracle: the three modes agree. Up to the first damage they replay the
 * same records; point_in_time's records are a prefix of skip_corrupt's;
 * tolerate_tail either refuses exactly where point_in_time stopped or
 * replays the same records as both (and then neither found corruption). */
#include "engine/hr_format.h"
#include "engine/hr_server.h"
#include "engine/hr_wal.h"
#include "fuzz_common.h"
#include "hr_config.h"
#include "hr_log.h"

typedef struct seen {
	uint64_t seg[4096], seq[4096], sum[4096];
	size_t n;
} seen;

static uint64_t sum64(const void *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ^ len;
}

/* The edit decoder, as replay applies it: every cell decoded first. */
static void decode_edit(const uint8_t *payload, size_t len, uint32_t ver)
{
	hr_wal_edit ed;
	if (hr_wal_edit_decode(payload, len, &ed) < 0)
		return;
	if (ed.row_len == 0 || ed.row < payload || ed.row + ed.row_len > payload + len)
		fuzz_fail("edit row outside its payload");
	const uint8_t *p = ed.cells;
	for (uint32_t i = 0; i < ed.ncells; i++) {
		char fam[HR_MAX_NAME + 1];
		hr_kv kv;
		const uint8_t *before = p;
		if (hr_wal_cell_decode(&p, ed.cells_end, ver, fam, &kv) < 0)
			return;
		if (p <= before || p > ed.cells_end)
			fuzz_fail("cell decode moved to %p (from %p, end %p)", (void *)p,
				  (void *)before, (void *)ed.cells_end);
		if (kv.qual_len && (kv.qual < before || kv.qual + kv.qual_len > p))
			fuzz_fail("qualifier outside its cell");
		if (kv.value_len && (kv.value < before || kv.value + kv.value_len > p))
			fuzz_fail("value outside its cell");
		if (kv.tags_len && (kv.tags < before || kv.tags + kv.tags_len > p))
			fuzz_fail("tags outside their cell");
		if (strlen(fam) == 0)
			fuzz_fail("empty family decoded");
	}
}

static int on_rec(void *ctx, uint64_t seg, uint32_t ver, uint64_t seq, const void *p, size_t len)
{
	seen *s = ctx;
	if (seq == 0)
		fuzz_fail("a control record reached the owner");
	if (ver < HR_WAL_VERSION_MIN || ver > HR_WAL_VERSION)
		fuzz_fail("record of segment version %u", ver);
	decode_edit(p, len, ver);
	if (s->n < 4096) {
		s->seg[s->n] = seg;
		s->seq[s->n] = seq;
		s->sum[s->n] = sum64(p, len);
		s->n++;
	}
	return 0;
}

/* Recomputes the header CRC and the CRC of every record that fits. */
static void fix_crcs(uint8_t *b, size_t len)
{
	if (len < HR_WAL_HDR_LEN)
		return;
	hr_put32(b + 28, hr_crc32c(0, b, 28));
	size_t off = HR_WAL_HDR_LEN;
	while (len - off >= HR_WAL_REC_HDR_LEN) {
		uint32_t rl = hr_get32(b + off);
		if (rl > len - off - HR_WAL_REC_HDR_LEN)
			break;
		hr_put32(b + off + 12, hr_crc32c(hr_crc32c(0, b + off, 12),
						 b + off + HR_WAL_REC_HDR_LEN, rl));
		off += HR_WAL_REC_HDR_LEN + rl;
	}
}

static int same_prefix(const seen *a, const seen *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a->seg[i] != b->seg[i] || a->seq[i] != b->seq[i] || a->sum[i] != b->sum[i])
			return 0;
	return 1;
}

static seen g_seen[3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 20];
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	hr_log_set_level(-1);
	int fix = data[0] & 1;
	size_t len = size - 1;
	memcpy(buf, data + 1, len);

	memio m = {.io = {.ops = &memio_ops}, .dir = "/wal"};
	size_t start = 0;
	uint64_t used[MEMIO_MAX] = {0};
	while (start < len && m.n < MEMIO_MAX) {
		size_t end = start + 8;
		while (end + 8 <= len && memcmp(buf + end, HR_WAL_MAGIC, 8) != 0)
			end++;
		if (end + 8 > len)
			end = len;
		if (end > len)
			end = len;
		uint8_t *sb = buf + start;
		size_t sl = end - start;
		uint64_t id = sl >= HR_WAL_HDR_LEN ? hr_get64(sb + 16) : 0;
		int dup = id == 0 || id > 0xffffffffffffull;
		for (int i = 0; i < m.n && !dup; i++)
			dup = used[i] == id;
		if (dup)
			id = (uint64_t)m.n + 1 + 1000;
		if (fix) {
			if (sl >= HR_WAL_HDR_LEN)
				hr_put64(sb + 16, id);
			fix_crcs(sb, sl);
		}
		used[m.n] = id;
		snprintf(m.name[m.n], sizeof(m.name[m.n]), "%016llx.wal", (unsigned long long)id);
		m.data[m.n] = sb;
		m.len[m.n] = sl;
		m.n++;
		start = end;
	}

	hr_wal_replay_result res[3];
	int rc[3];
	for (int mode = 0; mode < 3; mode++) {
		g_seen[mode].n = 0;
		hr_wal_replay_opts o = {.io = &m.io, .dir = "/wal", .mode = mode, .fn = on_rec,
					.ctx = &g_seen[mode]};
		rc[mode] = hr_wal_replay(&o, &res[mode]);
		if (rc[mode] < 0 && rc[mode] != -EUCLEAN)
			fuzz_fail("mode %d: replay returned %d", mode, rc[mode]);
		if (rc[mode] == -EUCLEAN && mode != HR_WAL_TOLERATE_TAIL)
			fuzz_fail("mode %d refused", mode);
		for (size_t i = 0; i < res[mode].nsegs; i++) {
			const hr_wal_replay_seg *s = &res[mode].segs[i];
			if (s->valid_end && s->valid_end > s->bytes && s->valid_end != HR_WAL_HDR_LEN)
				fuzz_fail("segment %llx: valid end %llu past its %llu bytes",
					  (unsigned long long)s->id, (unsigned long long)s->valid_end,
					  (unsigned long long)s->bytes);
		}
	}
	seen *tol = &g_seen[0], *pit = &g_seen[1], *skip = &g_seen[2];
	if (pit->n > skip->n || !same_prefix(pit, skip, pit->n))
		fuzz_fail("point_in_time (%zu records) is not a prefix of skip_corrupt (%zu)", pit->n,
			  skip->n);
	if (rc[0] == 0) {
		if (res[1].corrupt_records || res[2].corrupt_records || res[0].corrupt_records)
			fuzz_fail("tolerate_tail opened, yet corruption was found");
		if (tol->n != pit->n || tol->n != skip->n || !same_prefix(tol, skip, tol->n))
			fuzz_fail("no corruption, yet the modes replayed %zu/%zu/%zu records", tol->n,
				  pit->n, skip->n);
	} else {
		if (res[1].corrupt_records != 1)
			fuzz_fail("tolerate_tail refused, point_in_time found %llu corruptions",
				  (unsigned long long)res[1].corrupt_records);
		int found = 0;
		for (size_t i = 0; i < res[1].nsegs; i++)
			if (res[1].segs[i].state == HR_WAL_SEG_CORRUPT)
				found = res[1].segs[i].id == res[0].refused_segment &&
					res[1].segs[i].bad_offset == res[0].refused_offset;
		if (!found)
			fuzz_fail("tolerate_tail refused at %llx:%llu, point_in_time cut elsewhere",
				  (unsigned long long)res[0].refused_segment,
				  (unsigned long long)res[0].refused_offset);
		if (tol->n != pit->n || !same_prefix(tol, pit, tol->n))
			fuzz_fail("before refusing, tolerate_tail replayed %zu records, "
				  "point_in_time %zu before its cut", tol->n, pit->n);
	}
	for (int mode = 0; mode < 3; mode++)
		hr_wal_replay_result_free(&res[mode]);
	return 0;
}
