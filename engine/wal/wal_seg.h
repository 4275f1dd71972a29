/*
 * wal_seg.h — private to engine/wal: segment file naming, header coding and
 * creation (format in hr_format.h, "WAL segments"). Stateless.
 */
#ifndef HR_WAL_SEG_H
#define HR_WAL_SEG_H

#include <stddef.h>
#include <stdint.h>

void hr_wal_hdr_encode(uint8_t *hdr, uint64_t id);
/* NULL if hdr is a valid header of segment id, else why not. */
const char *hr_wal_hdr_check(const uint8_t *hdr, uint64_t id);
/* Creates <dir>/<id>.wal through a temp name: header written, fdatasynced,
 * linked into place (never over an existing segment), directory fsynced.
 * *fd_out is open for writing at offset HR_WAL_HDR_LEN. */
int hr_wal_seg_create(const char *dir, uint64_t id, int *fd_out);
/* Removes "<16 hex>.wal.tmp" leftovers of a crash during creation. */
void hr_wal_seg_clean_tmp(const char *dir);

#endif
