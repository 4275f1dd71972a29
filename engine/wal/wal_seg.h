/*
 * wal_seg.h — private to engine/wal: segment file naming, header coding and
 * creation (format in hr_format.h, "WAL segments"). Stateless; every file
 * operation goes through the hr_io it is given.
 */
#ifndef HR_WAL_SEG_H
#define HR_WAL_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_io.h"

void hr_wal_hdr_encode(uint8_t *hdr, uint64_t id);
/* NULL if hdr is a valid header of segment id, else why not. */
const char *hr_wal_hdr_check(const uint8_t *hdr, uint64_t id);
/* Creates <dir>/<id>.wal through a temp name: header (and the len bytes of
 * first, already framed, may be 0) written, fdatasynced, renamed into place
 * (never over an existing segment: -EEXIST), directory fsynced. *fd_out is
 * the segment opened again under its final name, for writing at offset
 * HR_WAL_HDR_LEN + len. */
int hr_wal_seg_create(hr_io *io, const char *dir, uint64_t id, const void *first, size_t len,
		      int *fd_out);
/* Removes "<16 hex>.wal.tmp" leftovers of a crash during creation. */
void hr_wal_seg_clean_tmp(hr_io *io, const char *dir);

#endif
