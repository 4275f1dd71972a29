/* wal_replay.c — reads segments back in id order, under a recovery mode
 * (contract in hr_wal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_format.h"
#include "engine/hr_io.h"
#include "engine/hr_util.h"
#include "engine/hr_wal.h"
#include "hr_config.h"
#include "hr_log.h"
#include "wal_seg.h"

#define RD_CHUNK (1u << 20)

/* A read window over one file: buf holds bytes [base, base + len). */
typedef struct wal_rd {
	hr_io *io;
	int fd;
	uint64_t size;		/* of the file: a small file gets a small window */
	uint8_t *buf;
	size_t cap;
	uint64_t base;
	size_t len;
} wal_rd;

/* Points *p at n bytes from file offset off (the caller knows they exist).
 * -ENODATA if the file ends first, -errno on a read error. */
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
	size_t want = r->size - off < RD_CHUNK ? (size_t)(r->size - off) : RD_CHUNK;
	if (want < n)
		want = n;
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

/* ---- control records: valid ends of segments -------------------------- */

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

/* A control record's payload into l: 0, -EINVAL if malformed, -ENOMEM. */
static int ctl_parse(const uint8_t *p, size_t len, wal_limits *l)
{
	if (len < HR_WAL_CTL_FIXED || p[0] != HR_WAL_CTL_LIMITS)
		return -EINVAL;
	uint32_t n = hr_get32(p + 4);
	if ((len - HR_WAL_CTL_FIXED) / HR_WAL_CTL_ENTRY < n ||
	    len != HR_WAL_CTL_FIXED + (size_t)n * HR_WAL_CTL_ENTRY)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = p + HR_WAL_CTL_FIXED + (size_t)i * HR_WAL_CTL_ENTRY;
		uint64_t end = hr_get64(e + 8);
		if (end < HR_WAL_HDR_LEN)
			continue; /* cannot be a valid end: ignored */
		int rc = limit_add(l, hr_get64(e), end);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- records ---------------------------------------------------------------- */

typedef struct wal_rec {
	uint32_t len;
	uint64_t seq;
	const uint8_t *payload;
} wal_rec;

/* Is there a well-formed record at off, ending at or before end? 1 (and
 * *rec), 0 (and *why), or < 0 on a read error. */
static int rec_at(wal_rd *r, uint64_t off, uint64_t end, wal_rec *rec, const char **why)
{
	const uint8_t *p;
	if (end - off < HR_WAL_REC_HDR_LEN) {
		*why = "torn record header";
		return 0;
	}
	int rc = rd_need(r, off, HR_WAL_REC_HDR_LEN, &p);
	if (rc)
		return rc;
	uint32_t len = hr_get32(p);
	uint64_t seq = hr_get64(p + 4);
	uint32_t crc = hr_get32(p + 12);
	if (len > HR_WAL_MAX_PAYLOAD) {
		*why = "bad record length";
		return 0;
	}
	if (end - off - HR_WAL_REC_HDR_LEN < len) {
		*why = "record runs past the end";
		return 0;
	}
	if ((rc = rd_need(r, off, HR_WAL_REC_HDR_LEN + (size_t)len, &p)) != 0)
		return rc;
	if (hr_crc32c(hr_crc32c(0, p, 12), p + HR_WAL_REC_HDR_LEN, len) != crc) {
		*why = "record CRC mismatch";
		return 0;
	}
	*rec = (wal_rec){.len = len, .seq = seq, .payload = p + HR_WAL_REC_HDR_LEN};
	return 1;
}

/* The offset of the next well-formed record after a bad one at off, or end
 * if there is none. Tries the bad record's own length first (a damaged
 * payload leaves it right), then every later offset. */
static int next_good(wal_rd *r, uint64_t off, uint64_t end, uint64_t *next)
{
	wal_rec rec;
	const char *why;
	const uint8_t *p;
	int rc;
	if (end - off >= HR_WAL_REC_HDR_LEN) {
		if ((rc = rd_need(r, off, HR_WAL_REC_HDR_LEN, &p)) != 0)
			return rc;
		uint64_t skip = off + HR_WAL_REC_HDR_LEN + (uint64_t)hr_get32(p);
		if (skip < end && (rc = rec_at(r, skip, end, &rec, &why)) != 0) {
			if (rc < 0)
				return rc;
			*next = skip;
			return 0;
		}
	}
	for (uint64_t o = off + 1; o + HR_WAL_REC_HDR_LEN <= end; o++) {
		if ((rc = rec_at(r, o, end, &rec, &why)) < 0)
			return rc;
		if (rc) {
			*next = o;
			return 0;
		}
	}
	*next = end;
	return 0;
}

/* ---- one segment ---------------------------------------------------------- */

typedef struct replay_run {
	const hr_wal_replay_opts *o;
	wal_rd r;
	wal_limits lims;
	hr_wal_replay_result *res;
	int cut;		/* point_in_time stopped: later segments are ignored */
} replay_run;

/* What to do about corruption at off (why) in segment s: 0 to go on (skip
 * to *resume), 1 to stop this segment, < 0 to stop replay. */
static int on_corrupt(replay_run *run, hr_wal_replay_seg *s, const char *path, uint64_t off,
		      const char *why, uint64_t next, uint64_t end, uint64_t *resume)
{
	hr_wal_replay_result *res = run->res;
	if (!s->bad_records)
		s->bad_offset = off;
	s->bad_records++;
	s->why = why;
	s->state = HR_WAL_SEG_CORRUPT;
	res->corrupt_records++;
	switch (run->o->mode) {
	case HR_WAL_SKIP_CORRUPT:
		hr_log_warn("wal", "%s offset %llu: %s; skipped %llu bytes up to the next good record "
			    "(wal_recovery = skip_corrupt)",
			    path, (unsigned long long)off, why, (unsigned long long)(next - off));
		s->bad_bytes += next - off;
		*resume = next;
		return next < end ? 0 : 1;
	case HR_WAL_POINT_IN_TIME:
		hr_log_warn("wal", "%s offset %llu: %s; replay stops here: this record and everything "
			    "after it, in this and later segments, are ignored "
			    "(wal_recovery = point_in_time)",
			    path, (unsigned long long)off, why);
		s->valid_end = off;
		run->cut = 1;
		return 1;
	default:
		res->refused_segment = s->id;
		res->refused_offset = off;
		hr_log_error("wal", "%s offset %llu: %s, and not at the torn end of the newest segment: "
			     "the log is damaged, and replaying past this point would silently drop "
			     "acknowledged edits. Not opening. To open anyway, set wal_recovery = "
			     "point_in_time (mount with -o wal_recovery=point_in_time: replay stops "
			     "at this record and ignores everything after it) or skip_corrupt (bad "
			     "records are skipped and counted); either way the damaged segment is "
			     "moved to wal/corrupt/, never deleted",
			     path, (unsigned long long)off, why);
		return -EUCLEAN;
	}
}

/* Replays (or, after a cut, only lists) segment s. */
static int replay_one(replay_run *run, hr_wal_replay_seg *s, int last)
{
	const hr_wal_replay_opts *o = run->o;
	wal_rd *r = &run->r;
	char path[4096];
	int rc = hr_wal_segment_path(o->dir, s->id, path, sizeof(path));
	if (rc)
		return rc;
	int fd = hr_io_open(r->io, path, HR_IO_RDONLY);
	if (fd < 0) {
		hr_log_error("wal", "open %s: %s", path, strerror(-fd));
		return fd;
	}
	uint64_t size, off = HR_WAL_HDR_LEN;
	if ((rc = hr_io_size(r->io, fd, &size)) < 0) {
		hr_log_error("wal", "stat %s: %s", path, strerror(-rc));
		goto out;
	}
	s->bytes = size;
	r->fd = fd;
	r->size = size;
	r->base = 0;
	r->len = 0;
	if (run->cut) {
		s->state = HR_WAL_SEG_IGNORED;
		run->res->ignored_segments++;
		goto out;
	}
	/* a segment replayed is made durable before anything new is
	 * acknowledged: an earlier process may have left its tail only in the
	 * page cache, and a later power loss must not turn this segment, which
	 * is no longer the newest, into a damaged one */
	if ((rc = hr_io_sync(r->io, fd, 1)) < 0) {
		hr_log_error("wal", "fdatasync %s: %s", path, strerror(-rc));
		goto out;
	}
	const uint8_t *p;
	uint64_t resume = 0;
	const char *why = NULL;
	if (size < HR_WAL_HDR_LEN) {
		why = "shorter than a segment header";
	} else {
		if ((rc = rd_need(r, 0, HR_WAL_HDR_LEN, &p)) < 0)
			goto rd_fail;
		why = hr_wal_hdr_check(p, s->id);
		if (!why)
			s->version = hr_get32(p + 8);
	}
	uint64_t limit = limit_of(&run->lims, s->id);
	if (why) {
		/* nothing in it can be read: the newest segment cut before its
		 * header was complete is a torn tail (kept with valid end = the
		 * header's length: no records), anything else corruption */
		if (limit == HR_WAL_HDR_LEN) {
			s->valid_end = limit; /* known to hold nothing: a tail trimmed earlier */
			rc = 0;
			goto out;
		}
		if (last && size < HR_WAL_HDR_LEN) {
			hr_log_warn("wal", "%s: %llu bytes, %s: a torn tail, nothing to replay", path,
				    (unsigned long long)size, why);
			s->state = HR_WAL_SEG_TORN;
			s->valid_end = HR_WAL_HDR_LEN;
			run->res->torn_tails++;
			rc = 0;
			goto out;
		}
		rc = on_corrupt(run, s, path, 0, why, size, size, &resume);
		if (rc > 0) {
			s->valid_end = 0;
			rc = 0;
		}
		goto out;
	}
	uint64_t end = limit && limit < size ? limit : size;
	if (limit && limit < size)
		s->valid_end = limit;
	while (off < end) {
		wal_rec rec;
		rc = rec_at(r, off, end, &rec, &why);
		if (rc < 0)
			goto rd_fail;
		if (rc) {
			off += HR_WAL_REC_HDR_LEN + (uint64_t)rec.len;
			if (rec.seq == 0)
				continue; /* a control record (read by the first pass) */
			if (rec.seq > run->res->max_seq)
				run->res->max_seq = rec.seq;
			if (o->fn && (rc = o->fn(o->ctx, s->id, s->version, rec.seq, rec.payload,
						 rec.len)) < 0)
				goto out;
			s->records++;
			run->res->records++;
			if (rec.seq > s->max_seq)
				s->max_seq = rec.seq;
			continue;
		}
		uint64_t next = end;
		if ((rc = next_good(r, off, end, &next)) < 0)
			goto rd_fail;
		if (last && next >= end) {
			/* nothing good follows in the newest segment: the write the
			 * crash cut short (or never-written pages after it) */
			hr_log_info("wal", "%s offset %llu: %s: the torn tail of the newest segment "
				    "(%llu bytes); replay ends here",
				    path, (unsigned long long)off, why,
				    (unsigned long long)(end - off));
			s->state = HR_WAL_SEG_TORN;
			s->valid_end = off;
			run->res->torn_tails++;
			break;
		}
		rc = on_corrupt(run, s, path, off, why, next, end, &resume);
		if (rc < 0)
			goto out;
		if (rc > 0)
			break;
		off = resume;
	}
	rc = 0;
	hr_log_debug("wal", "%s: replayed %llu records", path, (unsigned long long)s->records);
	goto out;
rd_fail:
	if (rc == -ENODATA)
		rc = -EIO; /* the file shrank while being read */
	hr_log_error("wal", "%s offset %llu: read failed: %s", path, (unsigned long long)off,
		     strerror(-rc));
out:
	hr_io_close(r->io, fd);
	r->fd = -1;
	return rc;
}

/* First pass: the control record at the start of each segment. */
static int read_limits(replay_run *run, uint64_t id)
{
	char path[4096];
	wal_rd *r = &run->r;
	int rc = hr_wal_segment_path(run->o->dir, id, path, sizeof(path));
	if (rc)
		return rc;
	int fd = hr_io_open(r->io, path, HR_IO_RDONLY);
	if (fd < 0)
		return fd;
	uint64_t size;
	const uint8_t *p;
	wal_rec rec;
	const char *why;
	r->fd = fd;
	r->base = 0;
	r->len = 0;
	r->size = 0;
	if ((rc = hr_io_size(r->io, fd, &size)) == 0 && (r->size = size) >= HR_WAL_HDR_LEN &&
	    (rc = rd_need(r, 0, HR_WAL_HDR_LEN, &p)) == 0 && !hr_wal_hdr_check(p, id) &&
	    (rc = rec_at(r, HR_WAL_HDR_LEN, size, &rec, &why)) == 1 && rec.seq == 0)
		rc = ctl_parse(rec.payload, rec.len, &run->lims) == -ENOMEM ? -ENOMEM : 0;
	hr_io_close(r->io, fd);
	r->fd = -1;
	/* a damaged first record is dealt with by the second pass */
	return rc == -ENOMEM ? rc : 0;
}

int hr_wal_replay(const hr_wal_replay_opts *o, hr_wal_replay_result *res)
{
	memset(res, 0, sizeof(*res));
	replay_run run = {.o = o, .r = {.io = o->io ? o->io : hr_io_posix(), .fd = -1},
			  .res = res};
	uint64_t *ids;
	size_t n;
	int rc = hr_wal_list_dir(run.r.io, o->dir, &ids, &n);
	if (rc) {
		hr_log_error("wal", "list %s: %s", o->dir, strerror(-rc));
		return rc;
	}
	if (n && !(res->segs = calloc(n, sizeof(*res->segs)))) {
		free(ids);
		return -ENOMEM;
	}
	res->nsegs = n;
	for (size_t i = 0; i < n; i++)
		res->segs[i].id = ids[i];
	if (n)
		res->max_seg_id = ids[n - 1];
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = read_limits(&run, ids[i]);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = replay_one(&run, &res->segs[i], i == n - 1);
	for (size_t i = 0; i < n; i++)
		res->corrupt_segments += res->segs[i].state == HR_WAL_SEG_CORRUPT;
	free(run.r.buf);
	free(run.lims.id);
	free(run.lims.end);
	free(ids);
	return rc;
}

void hr_wal_replay_result_free(hr_wal_replay_result *res)
{
	free(res->segs);
	memset(res, 0, sizeof(*res));
}
