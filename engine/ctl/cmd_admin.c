/* cmd_admin.c — status, regions, flush, compact, split. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/hrctl.h"

typedef struct totals {
	uint64_t regions, offline, files, file_bytes, memstore_bytes;
} totals;

static int table_totals(hr_server *srv, const char *table, totals *t)
{
	hr_region_info *r;
	size_t n;
	int rc = hr_region_list(srv, table, &r, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		t->regions++;
		t->offline += r[i].state == HR_REGION_OFFLINE;
		t->memstore_bytes += r[i].memstore_bytes;
		for (uint32_t j = 0; j < r[i].nstores; j++) {
			t->files += r[i].stores[j].file_count;
			t->file_bytes += r[i].stores[j].file_bytes;
		}
	}
	hr_region_list_free(r, n);
	return 0;
}

int hrctl_cmd_status(hrctl *c, int argc, char **argv)
{
	char **names;
	size_t n;
	hr_stats st;
	totals t = {0};
	int rc = hr_table_list(c->srv, &names, &n);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "status: %s", strerror(-rc));
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = table_totals(c->srv, names[i], &t);
	hr_names_free(names, n);
	if (rc == 0)
		rc = hr_stats_get(c->srv, &st);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "status: %s", strerror(-rc));
	hrctl_out_str(c->out, "data_dir", c->cfg.data_dir);
	hrctl_out_str(c->out, "mode", c->live ? "live" : "offline");
	if (c->live)
		hrctl_out_u64(c->out, "daemon_pid", (uint64_t)getpid());
	hrctl_out_u64(c->out, "tables", n);
	hrctl_out_u64(c->out, "regions", t.regions);
	hrctl_out_u64(c->out, "regions_offline", t.offline);
	hrctl_out_u64(c->out, "store_files", t.files);
	hrctl_out_u64(c->out, "store_file_bytes", t.file_bytes);
	hrctl_out_u64(c->out, "memstore_bytes", t.memstore_bytes);
	hrctl_out_u64(c->out, "seq", st.seq);
	hrctl_out_u64(c->out, "wal_torn_tails", st.wal_torn_tails);
	hrctl_out_u64(c->out, "wal_corrupt_records", st.wal_corrupt_records);
	hrctl_out_u64(c->out, "wal_corrupt_segments", st.wal_corrupt_segments);
	return HRCTL_OK;
}

static int no_table(hrctl *c, const char *what, const char *table, int rc)
{
	return hrctl_fail(c, hrctl_code(rc), "%s %s: %s", what, table,
			  rc == -ENOENT ? "no such table" : strerror(-rc));
}

static void out_regions(hrctl *c, hr_region_info *r, size_t n)
{
	hrctl_out_list(c->out, "regions");
	for (size_t i = 0; i < n; i++) {
		hrctl_out_begin(c->out, NULL, "region");
		hrctl_out_u64(c->out, "id", r[i].id);
		hrctl_out_bytes(c->out, "start", r[i].start_key, r[i].start_len);
		hrctl_out_bytes(c->out, "end", r[i].end_key, r[i].end_len);
		hrctl_out_str(c->out, "state", hr_region_state_name(r[i].state));
		hrctl_out_u64(c->out, "memstore_bytes", r[i].memstore_bytes);
		hrctl_out_u64(c->out, "max_seq", r[i].max_seq);
		hrctl_out_list(c->out, "stores");
		for (uint32_t j = 0; j < r[i].nstores; j++) {
			const hr_store_info *s = &r[i].stores[j];
			hrctl_out_begin(c->out, NULL, "store");
			hrctl_out_name(c->out, "family", s->family);
			hrctl_out_u64(c->out, "memstore_bytes", s->memstore_bytes);
			hrctl_out_u64(c->out, "files", s->file_count);
			hrctl_out_u64(c->out, "file_bytes", s->file_bytes);
			hrctl_out_u64(c->out, "flushed_seq", s->flushed_seq);
			hrctl_out_end(c->out);
		}
		hrctl_out_list_end(c->out);
		hrctl_out_end(c->out);
	}
	hrctl_out_list_end(c->out);
}

int hrctl_cmd_regions(hrctl *c, int argc, char **argv)
{
	hr_region_info *r;
	size_t n;
	int rc = hr_region_list(c->srv, argv[0], &r, &n);
	if (rc < 0)
		return no_table(c, "regions", argv[0], rc);
	hrctl_out_name(c->out, "table", argv[0]);
	out_regions(c, r, n);
	hr_region_list_free(r, n);
	return HRCTL_OK;
}

int hrctl_cmd_flush(hrctl *c, int argc, char **argv)
{
	if ((argc == 0) == !c->all)
		return hrctl_fail(c, HRCTL_USAGE, "usage: hregionctl flush TABLE|--all");
	const char *table = argc ? argv[0] : NULL;
	totals before = {0}, after = {0};
	int rc = table ? table_totals(c->srv, table, &before) : 0;
	if (rc == 0)
		rc = hr_flush(c->srv, table);
	if (rc == 0 && table)
		rc = table_totals(c->srv, table, &after);
	if (rc < 0)
		return no_table(c, "flush", table ? table : "--all", rc);
	hrctl_out_begin(c->out, "flushed", "flushed");
	hrctl_out_name(c->out, "table", table ? table : "--all");
	if (table) {
		hrctl_out_u64(c->out, "memstore_bytes_before", before.memstore_bytes);
		hrctl_out_u64(c->out, "files", after.files);
	}
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

int hrctl_cmd_compact(hrctl *c, int argc, char **argv)
{
	const char *table = argv[0];
	totals before = {0}, after = {0};
	int rc = table_totals(c->srv, table, &before);
	if (rc == 0)
		rc = hr_compact(c->srv, table, c->major);
	if (rc == 0)
		rc = table_totals(c->srv, table, &after);
	if (rc < 0)
		return no_table(c, "compact", table, rc);
	hrctl_out_begin(c->out, "compacted", "compacted");
	hrctl_out_name(c->out, "table", table);
	hrctl_out_bool(c->out, "major", c->major);
	hrctl_out_u64(c->out, "files_before", before.files);
	hrctl_out_u64(c->out, "files_after", after.files);
	hrctl_out_u64(c->out, "bytes_before", before.file_bytes);
	hrctl_out_u64(c->out, "bytes_after", after.file_bytes);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

/* The middle row (by count) of [start, end) in the table, malloc'd; *len 0
 * when the range has fewer than two rows. */
static int middle_row(hr_server *srv, const char *table, const hr_region_info *r, uint8_t **row,
		      size_t *len)
{
	hr_scan_opts o = {.mode = HR_SCAN_ROWS,
			  .start = r->start_key,
			  .start_len = r->start_len,
			  .stop = r->end_key,
			  .stop_len = r->end_len};
	hr_scan *sc;
	hr_scan_entry e;
	uint64_t n = 0, i = 0;
	int rc = hr_scan_open(srv, table, &o, &sc);
	while (rc >= 0 && (rc = hr_scan_next(sc, &e)) == 1)
		n++;
	if (rc >= 0)
		hr_scan_close(sc);
	*row = NULL;
	*len = 0;
	if (rc < 0 || n < 2)
		return rc < 0 ? rc : 0;
	if ((rc = hr_scan_open(srv, table, &o, &sc)) < 0)
		return rc;
	while ((rc = hr_scan_next(sc, &e)) == 1 && ++i <= n / 2)
		;
	if (rc == 1) {
		if (!(*row = malloc(e.row_len)))
			rc = -ENOMEM;
		else {
			memcpy(*row, e.row, e.row_len);
			*len = e.row_len;
			rc = 0;
		}
	}
	hr_scan_close(sc);
	return rc < 0 ? rc : 0;
}

int hrctl_cmd_split(hrctl *c, int argc, char **argv)
{
	const char *table = argv[0];
	hr_region_info *r;
	size_t n, split = 0;
	int rc;
	if (argc == 2) {
		uint8_t *row;
		size_t len;
		if (hrctl_parse_binary(argv[1], &row, &len) < 0)
			return hrctl_fail(c, HRCTL_ERROR, "out of memory");
		rc = len ? hr_split(c->srv, table, row, len) : -EINVAL;
		free(row);
		if (rc < 0)
			return hrctl_fail(c, hrctl_code(rc), "split %s at %s: %s", table, argv[1],
					  rc == -ENOENT ? "no such table"
					  : rc == -EINVAL
						  ? "not a row inside a region (a region's start row "
						    "cannot be a split point)"
						  : strerror(-rc));
		split = 1;
	} else {
		if ((rc = hr_region_list(c->srv, table, &r, &n)) < 0)
			return no_table(c, "split", table, rc);
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint8_t *row;
			size_t len;
			if ((rc = middle_row(c->srv, table, &r[i], &row, &len)) == 0 && len) {
				rc = hr_split(c->srv, table, row, len);
				split += rc == 0;
			}
			free(row);
		}
		hr_region_list_free(r, n);
		if (rc < 0)
			return hrctl_fail(c, hrctl_code(rc), "split %s: %s", table, strerror(-rc));
	}
	if ((rc = hr_region_list(c->srv, table, &r, &n)) < 0)
		return no_table(c, "split", table, rc);
	hrctl_out_begin(c->out, "split", "split");
	hrctl_out_name(c->out, "table", table);
	hrctl_out_u64(c->out, "regions_split", split);
	hrctl_out_u64(c->out, "regions", n);
	hrctl_out_end(c->out);
	hr_region_list_free(r, n);
	return HRCTL_OK;
}
