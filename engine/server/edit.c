/* edit.c — the WAL edit codec (format in hr_server.h) and its replay into a
 * region, shared by the single-node open and a server-mode region open. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_server.h"
#include "engine/hr_util.h"

int hr_wal_edit_encode(uint64_t region_id, const uint8_t *row, size_t row_len,
		       const hr_mcell *cells, size_t n, uint8_t **out, size_t *len)
{
	size_t total = 8 + 2 + row_len + 2;
	for (size_t i = 0; i < n; i++)
		total += 1 + strlen(cells[i].family) + HR_KV_HDR + cells[i].qualifier_len +
			 (cells[i].type == HR_PUT ? cells[i].value_len + cells[i].tags_len : 0);
	uint8_t *buf = malloc(total), *p = buf;
	if (!buf)
		return -ENOMEM;
	hr_put64(p, region_id);
	hr_put16(p + 8, (uint16_t)row_len);
	memcpy(p + 10, row, row_len);
	p += 10 + row_len;
	hr_put16(p, (uint16_t)n);
	p += 2;
	for (size_t i = 0; i < n; i++) {
		const hr_mcell *c = &cells[i];
		size_t fl = strlen(c->family);
		*p++ = (uint8_t)fl;
		memcpy(p, c->family, fl);
		p += fl;
		hr_kv kv = {
			.qual = c->qualifier,
			.qual_len = (uint32_t)c->qualifier_len,
			.ts = c->ts,
			.type = c->type,
			.value = c->value,
			.value_len = c->type == HR_PUT ? (uint32_t)c->value_len : 0,
			.tags = c->type == HR_PUT ? c->tags : NULL,
			.tags_len = c->type == HR_PUT ? (uint32_t)c->tags_len : 0,
		};
		hr_kv_encode(p, &kv);
		p += hr_kv_encoded_len(&kv);
	}
	*out = buf;
	*len = total;
	return 0;
}

int hr_wal_edit_decode(const void *payload, size_t len, hr_wal_edit *ed)
{
	const uint8_t *p = payload, *end = p + len;
	if (len < 12)
		return -EIO;
	ed->region_id = hr_get64(p);
	ed->row_len = hr_get16(p + 8);
	ed->row = p + 10;
	/* lengths are checked before any pointer moves past the buffer */
	if (ed->row_len == 0 || len - 12 < ed->row_len)
		return -EIO;
	p += 10 + ed->row_len;
	ed->ncells = hr_get16(p);
	ed->cells = p + 2;
	ed->cells_end = end;
	return 0;
}

int hr_wal_cell_decode(const uint8_t **pp, const uint8_t *end, uint32_t version, char *family,
		       hr_kv *kv)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return -EIO;
	size_t fl = *p++;
	/* a NUL inside would make the name another (shorter) family's */
	if (fl == 0 || fl > HR_MAX_NAME || fl > (size_t)(end - p) || memchr(p, 0, fl))
		return -EIO;
	memcpy(family, p, fl);
	family[fl] = '\0';
	p += fl;
	int n = hr_kv_decode_fmt(p, (size_t)(end - p), kv, version >= 2 ? HR_KV_FMT_2 : HR_KV_FMT_1);
	if (n < 0)
		return n;
	*pp = p + n;
	return 0;
}

int hr_wal_edit_apply(hr_region *r, const hr_wal_edit *ed, uint32_t seg_version, uint64_t seq)
{
	/* a row mutation is applied whole or not at all: every cell is decoded
	 * before any is applied */
	const uint8_t *p = ed->cells;
	for (uint32_t i = 0; i < ed->ncells; i++) {
		char fam[HR_MAX_NAME + 1];
		hr_kv kv;
		if (hr_wal_cell_decode(&p, ed->cells_end, seg_version, fam, &kv) < 0)
			return -EBADMSG;
	}
	int applied = 0, rc;
	p = ed->cells;
	for (uint32_t i = 0; i < ed->ncells; i++) {
		char fam[HR_MAX_NAME + 1];
		hr_kv kv;
		if ((rc = hr_wal_cell_decode(&p, ed->cells_end, seg_version, fam, &kv)) < 0)
			return rc;
		hr_store *st = hr_region_store(r, fam);
		if (!st || seq <= st->flushed_seq)
			continue;
		hr_region_note_ts(r, kv.ts);
		kv.row = ed->row;
		kv.row_len = ed->row_len;
		kv.seq = seq;
		uint64_t before = hr_memstore_bytes(st->active);
		if ((rc = hr_memstore_add(st->active, &kv)) < 0)
			return rc;
		hr_region_mem_add(r, (int64_t)(hr_memstore_bytes(st->active) - before));
		applied++;
	}
	return applied;
}
