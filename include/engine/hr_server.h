/*
 * hr_server.h — server internals shared by the files of engine/server: the table
 * map (guarded by srv->map_lock: callers hold it, read or write, as each
 * function says) and the WAL edit codec.
 *
 * WAL edit (the payload of one WAL record; the seq is in the record frame;
 * also in hr_format.h, "WAL edits"):
 *   u64 region id | u16 row_len | row | u16 ncells |
 *   ncells x ( u8 family_len | family | hr_kv encoding with row_len 0 and
 *              seq 0: qualifier, ts, type, value, tags )
 * The hr_kv encoding is the one the record's WAL segment version names:
 * version 1 = hr_kv format 1 (no tags), version 2 = format 2 (tags_len and
 * tags; deletes carry none). Writers write HR_WAL_VERSION.
 */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include "engine/hr_region.h"

/* map_lock held (read or write) */
hr_table *hr_server_table(hr_server *srv, const char *name);
hr_region *hr_server_region_by_id(hr_server *srv, uint64_t id);
/* Takes map_lock itself: references every region of the table (NULL = of
 * every table), in map order; -ENOENT if the table does not exist.
 * Release with hr_regions_release. */
int hr_server_regions(hr_server *srv, const char *table, hr_region ***out, size_t *n);
void hr_regions_release(hr_region **rs, size_t n);
/* map_lock held for write */
int hr_server_table_add(hr_server *srv, hr_table *t);
int hr_table_add_region(hr_table *t, hr_region *r);
void hr_table_free(hr_table *t);

int hr_region_new(hr_server *srv, hr_table *t, uint64_t id, const uint8_t *start,
		  size_t start_len, const uint8_t *end, size_t end_len, hr_region **out);
int hr_region_add_store(hr_region *r, const hr_family_schema *f);

int hr_rmrf(const char *path);
/* hr_wal_purge's on_delete: drops a segment from LMDB */
int hr_server_wal_forget(void *srv, uint64_t seg_id);

typedef struct hr_wal_edit {
	uint64_t region_id;
	const uint8_t *row;
	uint32_t row_len;
	uint32_t ncells;
	const uint8_t *cells, *cells_end;
} hr_wal_edit;

/* Encodes an edit (WAL version HR_WAL_VERSION) into a malloc'd buffer. */
int hr_wal_edit_encode(uint64_t region_id, const uint8_t *row, size_t row_len,
		       const hr_mcell *cells, size_t n, uint8_t **out, size_t *len);
int hr_wal_edit_decode(const void *payload, size_t len, hr_wal_edit *ed);
/* Decodes the next cell at *p (advanced) of an edit written in WAL version
 * `version`; kv.row/row_len/seq left for the caller. */
int hr_wal_cell_decode(const uint8_t **p, const uint8_t *end, uint32_t version, char *family,
		       hr_kv *kv);

#endif
