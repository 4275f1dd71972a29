/* fname.c — names in the data directory (contract in hr_fname.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "hregionfs.h"

#define ID_DIGITS 16

static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hr_fname_lock(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/LOCK", d); }
int hr_fname_meta_dir(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/meta", d); }
int hr_fname_wal_dir(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/wal", d); }
int hr_fname_store_dir(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/store", d); }

int hr_fname_server_wal_dir(const char *d, const char *server, char *buf, size_t len)
{
	size_t n = server ? strlen(server) : 0;
	if (n == 0 || n > 200 || strchr(server, '/') || strcmp(server, ".") == 0 ||
	    strcmp(server, "..") == 0 || strcmp(server, "corrupt") == 0)
		return -EINVAL;
	return fmt(buf, len, "%s/wal/%s", d, server);
}
int hr_fname_lost_dir(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/lost", d); }
int hr_fname_ctl_sock(const char *d, char *buf, size_t len) { return fmt(buf, len, "%s/ctl.sock", d); }

int hr_fname_archive_dir(const char *d, char *buf, size_t len)
{
	return fmt(buf, len, "%s/archive", d);
}

int hr_fname_archive_file(const char *archive_dir, uint64_t file_id, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%016" PRIx64 ".hsf", archive_dir, file_id);
}

int hr_fname_export_manifest(const char *dir, char *buf, size_t len)
{
	return fmt(buf, len, "%s/MANIFEST", dir);
}

int hr_fname_export_file(const char *dir, uint64_t file_id, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%016" PRIx64 ".hsf", dir, file_id);
}

int hr_fname_export_tmp(const char *dir, long pid, char *buf, size_t len)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	const char *slash = memrchr(dir, '/', n);
	const char *base = slash ? slash + 1 : dir;
	int plen = slash ? (int)(slash - dir) : 1;
	const char *parent = slash ? dir : ".";
	if (slash == dir)
		plen = 0; /* "/x": the parent is the root */
	if ((size_t)(dir + n - base) == 0)
		return -EINVAL;
	return fmt(buf, len, "%.*s/.tmp-%.*s.%ld", plen, parent, (int)(dir + n - base), base, pid);
}

int hr_fname_wal_segment(const char *wal_dir, uint64_t seg, int tmp, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%016" PRIx64 ".wal%s", wal_dir, seg, tmp ? ".tmp" : "");
}

int hr_fname_wal_corrupt_dir(const char *wal_dir, char *buf, size_t len)
{
	return fmt(buf, len, "%s/corrupt", wal_dir);
}

int hr_fname_region_dir(const char *store_dir, uint64_t region_id, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%016" PRIx64, store_dir, region_id);
}

int hr_fname_family_dir(const char *region_dir, const char *family, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%s", region_dir, family);
}

int hr_fname_store_file(const char *family_dir, uint64_t file_id, int tmp, char *buf, size_t len)
{
	return fmt(buf, len, "%s/%016" PRIx64 "%s", family_dir, file_id, tmp ? ".tmp" : ".hsf");
}

int hr_fname_lost(const char *data_dir, const char *rel, unsigned n, char *buf, size_t len)
{
	int rc = n ? fmt(buf, len, "%s/lost/%s.%u", data_dir, rel, n)
		   : fmt(buf, len, "%s/lost/%s", data_dir, rel);
	if (rc < 0)
		return rc;
	/* flatten what follows "lost/" */
	for (char *p = buf + strlen(data_dir) + 6; *p; p++)
		if (*p == '/')
			*p = '~';
	return 0;
}

/* Exactly ID_DIGITS lowercase hex digits at s, then suffix and the end. */
static int parse_id(const char *s, const char *suffix, uint64_t *id)
{
	uint64_t v = 0;
	for (int i = 0; i < ID_DIGITS; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return 0;
	}
	if (strcmp(s + ID_DIGITS, suffix) != 0)
		return 0;
	if (id)
		*id = v;
	return 1;
}

hr_fname_type hr_fname_parse(hr_fname_level where, const char *name, uint64_t *id)
{
	if (!name || strchr(name, '/'))
		return HR_FN_UNKNOWN;
	switch (where) {
	case HR_FN_IN_DATA:
		if (strcmp(name, "LOCK") == 0)
			return HR_FN_LOCK;
		if (strcmp(name, "meta") == 0)
			return HR_FN_META_DIR;
		if (strcmp(name, "wal") == 0)
			return HR_FN_WAL_DIR;
		if (strcmp(name, "store") == 0)
			return HR_FN_STORE_DIR;
		if (strcmp(name, "lost") == 0)
			return HR_FN_LOST_DIR;
		if (strcmp(name, "archive") == 0)
			return HR_FN_ARCHIVE_DIR;
		return HR_FN_UNKNOWN;
	case HR_FN_IN_WAL:
		if (strcmp(name, "corrupt") == 0)
			return HR_FN_WAL_CORRUPT_DIR;
		if (parse_id(name, ".wal", id))
			return HR_FN_WAL_SEGMENT;
		if (parse_id(name, ".wal.tmp", id))
			return HR_FN_WAL_TMP;
		return HR_FN_UNKNOWN;
	case HR_FN_IN_STORE:
		return parse_id(name, "", id) ? HR_FN_REGION_DIR : HR_FN_UNKNOWN;
	case HR_FN_IN_REGION:
		return hr_family_name_valid(name) ? HR_FN_FAMILY_DIR : HR_FN_UNKNOWN;
	case HR_FN_IN_FAMILY:
		if (parse_id(name, ".hsf", id))
			return HR_FN_STORE_FILE;
		if (parse_id(name, ".tmp", id))
			return HR_FN_STORE_TMP;
		return HR_FN_UNKNOWN;
	case HR_FN_IN_ARCHIVE:
		return parse_id(name, ".hsf", id) ? HR_FN_ARCHIVE_FILE : HR_FN_UNKNOWN;
	}
	return HR_FN_UNKNOWN;
}
