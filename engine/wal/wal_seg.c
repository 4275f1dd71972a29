/* wal_seg.c — segment naming, header and creation (contract in wal_seg.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_log.h"
#include "wal_seg.h"

int hr_wal_segment_path(const char *dir, uint64_t id, char *buf, size_t len)
{
	return hr_fname_wal_segment(dir, id, 0, buf, len);
}

void hr_wal_hdr_encode(uint8_t *hdr, uint64_t id)
{
	memset(hdr, 0, HR_WAL_HDR_LEN);
	memcpy(hdr, HR_WAL_MAGIC, 8);
	hr_put32(hdr + 8, HR_WAL_VERSION);
	hr_put32(hdr + 12, HR_WAL_HDR_LEN);
	hr_put64(hdr + 16, id);
	hr_put32(hdr + 28, hr_crc32c(0, hdr, 28));
}

const char *hr_wal_hdr_check(const uint8_t *hdr, uint64_t id)
{
	if (memcmp(hdr, HR_WAL_MAGIC, 8) != 0)
		return "bad magic";
	if (hr_get32(hdr + 28) != hr_crc32c(0, hdr, 28))
		return "header CRC mismatch";
	if (hr_get32(hdr + 8) < HR_WAL_VERSION_MIN || hr_get32(hdr + 8) > HR_WAL_VERSION)
		return "unsupported version";
	if (hr_get32(hdr + 12) != HR_WAL_HDR_LEN)
		return "bad header length";
	if (hr_get64(hdr + 16) != id)
		return "segment id does not match the file name";
	return NULL;
}

int hr_wal_seg_create(hr_io *io, const char *dir, uint64_t id, const void *first, size_t len,
		      int *fd_out)
{
	char path[4096], tmp[4096];
	uint8_t *buf = NULL;
	int fd = -1, rc = hr_wal_segment_path(dir, id, path, sizeof(path));
	if (rc || (rc = hr_fname_wal_segment(dir, id, 1, tmp, sizeof(tmp))) != 0)
		return rc;
	if (!(buf = malloc(HR_WAL_HDR_LEN + len)))
		return -ENOMEM;
	hr_wal_hdr_encode(buf, id);
	if (len)
		memcpy(buf + HR_WAL_HDR_LEN, first, len);
	fd = hr_io_open(io, tmp, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_TRUNC);
	if (fd < 0) {
		rc = fd;
		hr_log_error("wal", "create %s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = hr_io_pwrite_all(io, fd, buf, HR_WAL_HDR_LEN + len, 0);
	if (!rc)
		rc = hr_io_sync(io, fd, 1);
	int crc = hr_io_close(io, fd);
	fd = -1;
	if (!rc)
		rc = crc;
	/* the data directory is locked by this process, so nothing can create
	 * the name between this check and the rename: an existing segment of
	 * that id is never replaced */
	hr_io_attr st;
	if (!rc && hr_io_stat(io, path, &st) == 0)
		rc = -EEXIST;
	if (!rc)
		rc = hr_io_rename(io, tmp, path);
	if (rc) {
		hr_io_unlink(io, tmp);
	} else {
		rc = hr_io_sync_dir(io, dir);
		/* opened again under the final name: a backend that keys files by
		 * name (or a fault injector tracking unsynced data per name) sees
		 * one file */
		if (!rc && (fd = hr_io_open(io, path, HR_IO_WRONLY)) < 0)
			rc = fd;
		/* never used: gone again, so a retry can take the same id */
		if (rc)
			hr_io_unlink(io, path);
	}
	if (rc) {
		hr_log_error("wal", "create segment %s: %s", path, strerror(-rc));
		fd = -1;
		goto out;
	}
	*fd_out = fd;
out:
	free(buf);
	return rc;
}

void hr_wal_seg_clean_tmp(hr_io *io, const char *dir)
{
	hr_io_dirent *ents;
	size_t n;
	if (hr_io_list(io, dir, &ents, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (ents[i].is_dir || hr_fname_parse(HR_FN_IN_WAL, ents[i].name, NULL) != HR_FN_WAL_TMP)
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, ents[i].name);
		if (hr_io_unlink(io, p) == 0)
			hr_log_info("wal", "removed leftover %s", p);
	}
	hr_io_list_free(ents, n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int hr_wal_list_dir(hr_io *io, const char *dir, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	if (!io)
		io = hr_io_posix();
	hr_io_dirent *ents;
	size_t ne;
	int rc = hr_io_list(io, dir, &ents, &ne);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	uint64_t *v = ne ? malloc(ne * sizeof(*v)) : NULL;
	size_t cnt = 0;
	if (ne && !v) {
		hr_io_list_free(ents, ne);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ne; i++)
		if (!ents[i].is_dir &&
		    hr_fname_parse(HR_FN_IN_WAL, ents[i].name, &v[cnt]) == HR_FN_WAL_SEGMENT)
			cnt++;
	hr_io_list_free(ents, ne);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	else {
		free(v);
		v = NULL;
	}
	*ids = v;
	*n = cnt;
	return 0;
}
