/* cmd_dump.c — the file printers: sfile dump (HBase's `hfile -p -m`) and
 * wal dump (HBase's WAL pretty-printer). They read the file they are
 * given and take no lock: store files never change once published, and a
 * WAL segment is only appended to. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/hrctl.h"
#include "engine/hr_fname.h"
#include "engine/hr_format.h"
#include "engine/hr_server.h"
#include "engine/hr_sfile.h"
#include "engine/hr_wal.h"

static const char *type_name(uint8_t t)
{
	switch (t) {
	case HR_PUT:
		return "put";
	case HR_DELETE:
		return "delete";
	case HR_DELETE_COLUMN:
		return "delete_column";
	case HR_DELETE_FAMILY:
		return "delete_family";
	default:
		return "unknown";
	}
}

void hrctl_out_cell(hrctl_out *o, const char *family, const hr_kv *kv, int with_row,
		    int with_seq, int with_value)
{
	hrctl_out_begin(o, NULL, "cell");
	if (family)
		hrctl_out_str(o, "family", family);
	if (with_row)
		hrctl_out_bytes(o, "row", kv->row, kv->row_len);
	hrctl_out_bytes(o, "qualifier", kv->qual, kv->qual_len);
	hrctl_out_i64(o, "ts", kv->ts);
	hrctl_out_str(o, "type", type_name(kv->type));
	if (with_seq)
		hrctl_out_u64(o, "seq", kv->seq);
	if (with_value) {
		hrctl_out_u64(o, "value_len", kv->value_len);
		hrctl_out_bytes(o, "value", kv->value, kv->value_len);
		hrctl_out_u64(o, "tags_len", kv->tags_len);
	}
	hrctl_out_end(o);
}

static void out_key(hrctl_out *o, const char *key, const hr_kv *kv)
{
	hrctl_out_begin(o, key, key);
	hrctl_out_bytes(o, "row", kv->row, kv->row_len);
	hrctl_out_bytes(o, "qualifier", kv->qual, kv->qual_len);
	hrctl_out_i64(o, "ts", kv->ts);
	hrctl_out_str(o, "type", type_name(kv->type));
	hrctl_out_u64(o, "seq", kv->seq);
	hrctl_out_end(o);
}

/* The absolute path of an existing file (the I/O seam takes only those). */
static int file_arg(hrctl *c, const char *arg, char *path)
{
	struct stat st;
	if (!realpath(arg, path) || stat(path, &st) < 0)
		return hrctl_fail(c, HRCTL_ERROR, "%s: %s", arg, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hrctl_fail(c, HRCTL_ERROR, "%s: not a regular file", arg);
	return HRCTL_OK;
}

static int dump_cells(hrctl *c, hr_sfile *f)
{
	hr_sfile_iter *it;
	int rc = hr_sfile_iter_new(f, &it);
	if (rc == 0)
		rc = hr_sfile_iter_first(it);
	hrctl_out_list(c->out, "cells");
	while (rc == 0 && hr_sfile_iter_valid(it)) {
		hrctl_out_cell(c->out, NULL, hr_sfile_iter_kv(it), 1, 1, 1);
		rc = hr_sfile_iter_next(it);
	}
	hrctl_out_list_end(c->out);
	hr_sfile_iter_free(it);
	return rc;
}

int hrctl_cmd_sfile_dump(hrctl *c, int argc, char **argv)
{
	char path[PATH_MAX];
	hr_fdcache *fc = NULL;
	hr_bcache *bc = NULL;
	hr_sfile *f = NULL;
	int code = file_arg(c, argv[0], path);
	if (code != HRCTL_OK)
		return code;
	int rc = hr_fdcache_new(4, hr_io_posix(), &fc);
	if (rc == 0)
		rc = hr_bcache_new(8u << 20, &bc);
	if (rc < 0) {
		code = hrctl_fail(c, HRCTL_ERROR, "out of memory");
		goto out;
	}
	if ((rc = hr_sfile_open(path, 1, fc, bc, &f)) < 0) {
		code = hrctl_fail(c, rc == -EIO ? HRCTL_PROBLEM : HRCTL_ERROR,
				  "%s: not a readable store file: %s", path,
				  rc == -EIO ? "damaged (bad magic, version, CRC or layout)"
					     : strerror(-rc));
		goto out;
	}
	const hr_sfile_info *in = hr_sfile_get_info(f);
	hr_sfile_layout l;
	hr_sfile_get_layout(f, &l);
	hrctl_out_str(c->out, "file", path);
	hrctl_out_begin(c->out, "trailer", "trailer");
	hrctl_out_u64(c->out, "version", in->version);
	hrctl_out_u64(c->out, "index_off", l.index_off);
	hrctl_out_u64(c->out, "index_len", l.index_len);
	hrctl_out_u64(c->out, "bloom_off", l.bloom_off);
	hrctl_out_u64(c->out, "bloom_len", l.bloom_len);
	hrctl_out_u64(c->out, "info_off", l.info_off);
	hrctl_out_u64(c->out, "info_len", l.info_len);
	hrctl_out_end(c->out);
	hrctl_out_begin(c->out, "info", "info");
	hrctl_out_u64(c->out, "file_size", in->file_size);
	hrctl_out_u64(c->out, "entries", in->entry_count);
	hrctl_out_u64(c->out, "rows", in->row_count);
	hrctl_out_u64(c->out, "deletes", in->delete_count);
	hrctl_out_u64(c->out, "max_seq", in->max_seq);
	if (in->entry_count) {
		hrctl_out_i64(c->out, "min_ts", in->min_ts);
		hrctl_out_i64(c->out, "max_ts", in->max_ts);
	}
	hrctl_out_u64(c->out, "data_blocks", in->data_block_count);
	hrctl_out_u64(c->out, "data_bytes", in->data_bytes);
	hrctl_out_u64(c->out, "block_size", in->block_size);
	hrctl_out_end(c->out);
	if (in->entry_count) {
		out_key(c->out, "first_key", &in->first_key);
		out_key(c->out, "last_key", &in->last_key);
	}
	hrctl_out_begin(c->out, "bloom", "bloom");
	hrctl_out_bool(c->out, "present", in->has_bloom);
	if (in->has_bloom) {
		hrctl_out_u64(c->out, "hashes", l.bloom_k);
		hrctl_out_u64(c->out, "bits", l.bloom_nbits);
	}
	hrctl_out_end(c->out);
	/* each block's codec and sizes: its header, read (and CRC-checked) */
	uint64_t stored = 0, raw = 0;
	int damaged = 0;
	hrctl_out_list(c->out, "index");
	for (uint32_t i = 0; i < l.nblocks; i++) {
		uint64_t off;
		uint32_t len;
		const hr_kv *first;
		hr_sfile_block_desc d;
		if (hr_sfile_block_at(f, i, &off, &len, &first) < 0)
			break;
		int drc = hr_sfile_block_describe(f, i, &d);
		hrctl_out_begin(c->out, NULL, "block");
		hrctl_out_u64(c->out, "offset", off);
		hrctl_out_u64(c->out, "length", len);
		hrctl_out_bytes(c->out, "first_row", first->row, first->row_len);
		hrctl_out_bytes(c->out, "first_qualifier", first->qual, first->qual_len);
		if (drc == 0) {
			hrctl_out_str(c->out, "codec", hr_compression_name(d.codec));
			hrctl_out_u64(c->out, "raw_len", d.raw_len);
			if (d.incompressible)
				hrctl_out_bool(c->out, "incompressible", 1);
			stored += len;
			raw += d.raw_len + 8 + (in->version >= 3 ? HR_SFILE_BLK_HDR : 0);
		} else {
			hrctl_out_str(c->out, "codec", "damaged");
			damaged++;
		}
		hrctl_out_end(c->out);
	}
	hrctl_out_list_end(c->out);
	/* the data blocks' bytes on disk against what they hold decoded
	 * (framing included in both) */
	hrctl_out_begin(c->out, "compression", "compression");
	hrctl_out_u64(c->out, "stored_bytes", stored);
	hrctl_out_u64(c->out, "raw_bytes", raw);
	if (raw) {
		char ratio[32];
		snprintf(ratio, sizeof(ratio), "%.3f", (double)stored / (double)raw);
		hrctl_out_str(c->out, "ratio", ratio);
	}
	hrctl_out_end(c->out);
	if (damaged)
		code = hrctl_fail(c, HRCTL_PROBLEM, "%s: %d data block%s damaged", path, damaged,
				  damaged == 1 ? " is" : "s are");
	if (c->cells && (rc = dump_cells(c, f)) < 0)
		code = hrctl_fail(c, HRCTL_PROBLEM, "%s: a data block is unreadable: %s", path,
				  strerror(-rc));
out:
	hr_sfile_unref(f);
	if (fc)
		hr_fdcache_free(fc);
	if (bc)
		hr_bcache_free(bc);
	return code;
}

/* ---- wal dump ------------------------------------------------------------------ */

typedef struct rname {
	uint64_t id;
	char table[HR_MAX_NAME + 1];
} rname;

typedef struct wdump {
	hrctl *c;
	uint64_t seg;
	rname *names;
	size_t nnames, cap;
	uint64_t records, bad;
} wdump;

static int rname_cb(void *ctx, const hr_meta_region *r)
{
	wdump *w = ctx;
	if (w->nnames == w->cap) {
		size_t n = w->cap ? w->cap * 2 : 64;
		rname *p = realloc(w->names, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->names = p;
		w->cap = n;
	}
	w->names[w->nnames].id = r->id;
	snprintf(w->names[w->nnames].table, sizeof(w->names[0].table), "%s", r->table);
	w->nnames++;
	return 0;
}

/* Region id -> table from the data directory's metadata, when it is there
 * and no daemon holds it (else records show the region id only). */
static void load_region_names(wdump *w)
{
	hrctl *c = w->c;
	char lock[PATH_MAX], what[PATH_MAX + 16];
	int token;
	hr_meta_dir md;
	hr_meta_txn *t;
	hr_io *io = hr_io_posix();
	hr_fname_lock(c->cfg.data_dir, lock, sizeof(lock));
	if (!hr_meta_dir_exists(&c->cfg, what, sizeof(what)) || hr_io_lock(io, lock, &token) < 0)
		return;
	if (hr_meta_dir_open(&c->cfg, &md) == 0) {
		if (hr_meta_begin(md.meta, 0, &t) == 0) {
			hr_meta_region_each(t, rname_cb, w);
			hr_meta_abort(t);
		}
		hr_meta_dir_close(&md);
	}
	hr_io_unlock(io, token);
}

static int record_cb(void *ctx, uint64_t seg_id, uint32_t version, uint64_t seq,
		     const void *payload, size_t len)
{
	wdump *w = ctx;
	hrctl_out *o = w->c->out;
	hr_wal_edit ed;
	if (seg_id != w->seg)
		return 0;
	w->records++;
	hrctl_out_begin(o, NULL, "record");
	hrctl_out_u64(o, "seq", seq);
	if (hr_wal_edit_decode(payload, len, &ed) < 0) {
		w->bad++;
		hrctl_out_str(o, "error", "undecodable edit");
		hrctl_out_end(o);
		return 0;
	}
	hrctl_out_u64(o, "region", ed.region_id);
	for (size_t i = 0; i < w->nnames; i++)
		if (w->names[i].id == ed.region_id) {
			hrctl_out_str(o, "table", w->names[i].table);
			break;
		}
	hrctl_out_bytes(o, "row", ed.row, ed.row_len);
	hrctl_out_list(o, "cells");
	const uint8_t *p = ed.cells;
	for (uint32_t i = 0; i < ed.ncells; i++) {
		char family[HR_MAX_NAME + 1];
		hr_kv kv;
		if (hr_wal_cell_decode(&p, ed.cells_end, version, family, &kv) < 0) {
			w->bad++;
			break;
		}
		hrctl_out_cell(o, family, &kv, 0, 0, 1);
	}
	hrctl_out_list_end(o);
	hrctl_out_end(o);
	return 0;
}

int hrctl_cmd_wal_dump(hrctl *c, int argc, char **argv)
{
	char path[PATH_MAX];
	wdump w = {.c = c};
	int code = file_arg(c, argv[0], path);
	if (code != HRCTL_OK)
		return code;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (hr_fname_parse(HR_FN_IN_WAL, slash + 1, &w.seg) != HR_FN_WAL_SEGMENT) {
		*slash = '/';
		return hrctl_fail(c, HRCTL_USAGE, "%s: not a WAL segment name (<16 hex digits>.wal)",
				  path);
	}
	load_region_names(&w);
	hr_wal_replay_opts o = {.dir = path, .mode = HR_WAL_SKIP_CORRUPT, .fn = record_cb, .ctx = &w};
	hr_wal_replay_result res;
	hrctl_out_str(c->out, "segment", argv[0]);
	hrctl_out_list(c->out, "records");
	int rc = hr_wal_replay(&o, &res);
	hrctl_out_list_end(c->out);
	*slash = '/';
	if (rc < 0) {
		hr_wal_replay_result_free(&res);
		free(w.names);
		return hrctl_fail(c, HRCTL_ERROR, "%s: %s", path, strerror(-rc));
	}
	const hr_wal_replay_seg *s = NULL;
	for (size_t i = 0; i < res.nsegs; i++)
		if (res.segs[i].id == w.seg)
			s = &res.segs[i];
	hrctl_out_u64(c->out, "records_read", w.records);
	if (s) {
		hrctl_out_u64(c->out, "version", s->version);
		hrctl_out_u64(c->out, "bytes", s->bytes);
		hrctl_out_u64(c->out, "max_seq", s->max_seq);
		if (s->valid_end)
			hrctl_out_u64(c->out, "valid_end", s->valid_end);
		hrctl_out_str(c->out, "state",
			      s->state == HR_WAL_SEG_CORRUPT ? "corrupt"
			      : s->state == HR_WAL_SEG_TORN  ? "torn_tail"
							     : "clean");
		if (s->state == HR_WAL_SEG_CORRUPT) {
			hrctl_out_u64(c->out, "bad_offset", s->bad_offset);
			hrctl_out_str(c->out, "bad_why", s->why ? s->why : "?");
		}
	}
	int bad = w.bad || !s || s->state == HR_WAL_SEG_CORRUPT;
	hr_wal_replay_result_free(&res);
	free(w.names);
	if (bad)
		return hrctl_fail(c, HRCTL_PROBLEM, "%s: damaged records (skipped)", path);
	return HRCTL_OK;
}
