/* wal_seg.c — segment naming, header and creation (contract in wal_seg.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/hr_format.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_log.h"
#include "wal_seg.h"

int hr_wal_segment_path(const char *dir, uint64_t id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%016llx.wal", dir, (unsigned long long)id);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
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

int hr_wal_seg_create(const char *dir, uint64_t id, int *fd_out)
{
	char path[4096], tmp[4112];
	uint8_t hdr[HR_WAL_HDR_LEN];
	int rc = hr_wal_segment_path(dir, id, path, sizeof(path));
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		hr_log_error("wal", "create %s: %s", tmp, strerror(-rc));
		return rc;
	}
	hr_wal_hdr_encode(hdr, id);
	rc = hr_pwrite_all(fd, hdr, sizeof(hdr), 0);
	if (!rc)
		rc = hr_fdatasync(fd);
	/* link, not rename: an existing segment of that id is never replaced */
	if (!rc && link(tmp, path) < 0)
		rc = -errno;
	unlink(tmp);
	if (!rc)
		rc = hr_fsync_dir(dir);
	if (rc) {
		hr_log_error("wal", "create segment %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

void hr_wal_seg_clean_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (strlen(n) != 24 || strcmp(n + 16, ".wal.tmp") != 0 ||
		    strspn(n, "0123456789abcdef") != 16)
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, n);
		if (unlink(p) == 0)
			hr_log_info("wal", "removed leftover %s", p);
	}
	closedir(d);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int hr_wal_list_dir(const char *dir, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *nm = e->d_name;
		if (strlen(nm) != 20 || strcmp(nm + 16, ".wal") != 0 ||
		    strspn(nm, "0123456789abcdef") != 16)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[cnt++] = strtoull(nm, NULL, 16);
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*ids = v;
	*n = cnt;
	return 0;
}
