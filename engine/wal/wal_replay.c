/* wal_replay.c — reads segments back in id order (contract in hr_wal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_log.h"
#include "wal_seg.h"

#define RD_CHUNK (1u << 20)

/* A read window over one file: buf holds bytes [base, base + len). */
typedef struct wal_rd {
	hr_io *io;
	int fd;
	uint8_t *buf;
	size_t cap;
	uint64_t base;
	size_t len;
} wal_rd;

/* Points *p at n bytes from file offset off. -ENODATA on EOF, -errno on
 * a read error. Segments are read front to back, so the window only moves
 * forward. */
static int rd_need(wal_rd *r, uint64_t off, size_t n, const uint8_t **p)
{
	if (off >= r->base && off + n <= r->base + r->len) {
		*p = r->buf + (off - r->base);
		return 0;
	}
	size_t keep = 0;
	if (off >= r->base && off < r->base + r->len) {
		keep = (size_t)(r->base + r->len - off);
		memmove(r->buf, r->buf + (off - r->base), keep);
	}
	r->base = off;
	r->len = keep;
	size_t want = n > RD_CHUNK ? n : RD_CHUNK;
	if (want > r->cap) {
		uint8_t *nb = realloc(r->buf, want);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	while (r->len < n) {
		ssize_t k = hr_io_pread(r->io, r->fd, r->buf + r->len, r->cap - r->len,
					r->base + r->len);
		if (k < 0)
			return (int)k;
		if (k == 0)
			return -ENODATA;
		r->len += (size_t)k;
	}
	*p = r->buf;
	return 0;
}

/* Valid ends named by control records (hr_format.h): segment id -> offset. */
typedef struct wal_limits {
	uint64_t *id, *end;
	size_t n, cap;
} wal_limits;

static uint64_t limit_of(const wal_limits *l, uint64_t id)
{
	uint64_t v = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->id[i] == id && (!v || l->end[i] < v))
			v = l->end[i];
	return v;
}

static int limit_add(wal_limits *l, uint64_t id, uint64_t end)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		uint64_t *a = realloc(l->id, nc * sizeof(*a));
		if (!a)
			return -ENOMEM;
		l->id = a;
		uint64_t *b = realloc(l->end, nc * sizeof(*b));
		if (!b)
			return -ENOMEM;
		l->end = b;
		l->cap = nc;
	}
	l->id[l->n] = id;
	l->end[l->n] = end;
	l->n++;
	return 0;
}

/* Parses a control record's payload into l; 0, or -EINVAL if malformed. */
int hr_wal_ctl_parse(const uint8_t *p, size_t len, wal_limits *l);
int hr_wal_ctl_parse(const uint8_t *p, size_t len, wal_limits *l)
{
	if (len < HR_WAL_CTL_FIXED || p[0] != HR_WAL_CTL_LIMITS)
		return -EINVAL;
	uint32_t n = hr_get32(p + 4);
	if ((len - HR_WAL_CTL_FIXED) / HR_WAL_CTL_ENTRY < n ||
	    len != HR_WAL_CTL_FIXED + (size_t)n * HR_WAL_CTL_ENTRY)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = p + HR_WAL_CTL_FIXED + (size_t)i * HR_WAL_CTL_ENTRY;
		int rc = limit_add(l, hr_get64(e), hr_get64(e + 8));
		if (rc)
			return rc;
	}
	return 0;
}

/* 0 when the segment ended (cleanly or at a bad record), < 0 to abort.
 * limit: replay stops there without complaint (0 = at the end of file);
 * lims (may be NULL): collects this segment's control record instead. */
static int replay_one(const char *dir, uint64_t id,
		      int (*fn)(void *, uint64_t, uint32_t, uint64_t, const void *, size_t),
		      void *ctx, wal_rd *r, uint64_t limit, wal_limits *lims)
{
	char path[4096];
	int rc = hr_wal_segment_path(dir, id, path, sizeof(path));
	if (rc)
		return rc;
	int fd = hr_io_open(r->io, path, HR_IO_RDONLY);
	if (fd < 0) {
		rc = fd;
		if (rc == -ENOENT)
			return 0;
		hr_log_error("wal", "open %s: %s", path, strerror(-rc));
		return rc;
	}
	uint64_t size, off = 0, nrec = 0;
	if ((rc = hr_io_size(r->io, fd, &size)) < 0) {
		hr_log_error("wal", "stat %s: %s", path, strerror(-rc));
		hr_io_close(r->io, fd);
		return rc;
	}
	if (limit && limit >= HR_WAL_HDR_LEN && limit < size)
		size = limit;
	r->fd = fd;
	r->base = 0;
	r->len = 0;
	const uint8_t *p;
	if (size < HR_WAL_HDR_LEN) {
		if (!lims)
			hr_log_warn("wal", "%s: %llu bytes, shorter than a header; skipped", path,
			    (unsigned long long)size);
		goto out;
	}
	rc = rd_need(r, 0, HR_WAL_HDR_LEN, &p);
	if (rc)
		goto rd_fail;
	const char *why = hr_wal_hdr_check(p, id);
	if (why) {
		if (!lims)
			hr_log_warn("wal", "%s offset 0: %s; segment skipped", path, why);
		goto out;
	}
	uint32_t version = hr_get32(p + 8);
	off = HR_WAL_HDR_LEN;
	while (off < size) {
		if (size - off < HR_WAL_REC_HDR_LEN) {
			if (!lims)
			hr_log_warn("wal", "%s offset %llu: torn record header (%llu bytes left); "
				    "replay of this segment stops here",
				    path, (unsigned long long)off, (unsigned long long)(size - off));
			break;
		}
		rc = rd_need(r, off, HR_WAL_REC_HDR_LEN, &p);
		if (rc)
			goto rd_fail;
		uint32_t len = hr_get32(p);
		uint64_t seq = hr_get64(p + 4);
		uint32_t crc = hr_get32(p + 12);
		if (len > HR_WAL_MAX_PAYLOAD) {
			if (!lims)
			hr_log_warn("wal", "%s offset %llu: bad record length %u; replay of this "
				    "segment stops here",
				    path, (unsigned long long)off, len);
			break;
		}
		if (size - off - HR_WAL_REC_HDR_LEN < len) {
			if (!lims)
			hr_log_warn("wal", "%s offset %llu: torn record (length %u, %llu bytes "
				    "left); replay of this segment stops here",
				    path, (unsigned long long)off, len,
				    (unsigned long long)(size - off - HR_WAL_REC_HDR_LEN));
			break;
		}
		rc = rd_need(r, off, HR_WAL_REC_HDR_LEN + (size_t)len, &p);
		if (rc)
			goto rd_fail;
		uint32_t c = hr_crc32c(0, p, 12);
		c = hr_crc32c(c, p + HR_WAL_REC_HDR_LEN, len);
		if (c != crc) {
			if (!lims)
			hr_log_warn("wal", "%s offset %llu: record CRC mismatch (seq %llu, length "
				    "%u); replay of this segment stops here",
				    path, (unsigned long long)off, (unsigned long long)seq, len);
			break;
		}
		if (seq == 0) {
			/* a control record: only as a segment's first record */
			if (lims && off == HR_WAL_HDR_LEN &&
			    hr_wal_ctl_parse(p + HR_WAL_REC_HDR_LEN, len, lims) == -ENOMEM) {
				rc = -ENOMEM;
				goto out;
			}
		} else if (!lims) {
			rc = fn(ctx, id, version, seq, p + HR_WAL_REC_HDR_LEN, len);
			if (rc < 0)
				goto out;
			nrec++;
		}
		off += HR_WAL_REC_HDR_LEN + (uint64_t)len;
		if (lims)
			break; /* the pre-pass reads first records only */
	}
	rc = 0;
	hr_log_debug("wal", "%s: replayed %llu records", path, (unsigned long long)nrec);
	goto out;
rd_fail:
	if (rc == -ENOMEM)
		goto out;
	/* the file shrank under us or the device failed: same as a bad tail */
	hr_log_warn("wal", "%s offset %llu: %s; replay of this segment stops here", path,
		    (unsigned long long)off, rc == -ENODATA ? "short read" : strerror(-rc));
	rc = 0;
out:
	hr_io_close(r->io, fd);
	return rc;
}

int hr_wal_replay(hr_io *io, const char *dir,
		  int (*fn)(void *ctx, uint64_t seg_id, uint32_t seg_version, uint64_t seq,
			    const void *payload, size_t len),
		  void *ctx, uint64_t *max_seg_id_out)
{
	uint64_t *ids;
	size_t n;
	if (max_seg_id_out)
		*max_seg_id_out = 0;
	if (!io)
		io = hr_io_posix();
	int rc = hr_wal_list_dir(io, dir, &ids, &n);
	if (rc) {
		hr_log_error("wal", "list %s: %s", dir, strerror(-rc));
		return rc;
	}
	wal_rd r = {.io = io, .fd = -1};
	wal_limits lims = {0};
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = replay_one(dir, ids[i], fn, ctx, &r, 0, &lims);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = replay_one(dir, ids[i], fn, ctx, &r, limit_of(&lims, ids[i]), NULL);
	free(lims.id);
	free(lims.end);
	if (max_seg_id_out && n)
		*max_seg_id_out = ids[n - 1];
	free(r.buf);
	free(ids);
	return rc;
}
