/*
 * metrics.c — the mount's own metric families, on the engine's registry
 * (hregionfs.h "metrics"):
 *   hregionfs_fuse_requests_total{op}          every FUSE request, by type
 *   hregionfs_fuse_errors_total{op,errno}      error replies, by type and errno name
 *   hregionfs_fuse_request_seconds{op}         time in the handler (metrics_histograms)
 *   hregionfs_fs_*_total                       the fs_ lines of /.hregionfs/stats
 * Requests are counted by wrappers around the operation table (so no
 * handler has to remember to), errors by hrfs_reply_err, which every
 * fuse_reply_err of fs/ becomes (hrfs.h): the wrapper notes the operation
 * in a thread-local variable, since a handler replies on its own thread
 * before it returns. Recording is lock-free: series are made at start (or,
 * for an (op, errno) pair and an op's histogram, at first use, then kept in
 * an atomic pointer).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

enum {
	OP_OTHER = 0, /* a reply outside a wrapped handler */
	OP_LOOKUP, OP_FORGET, OP_FORGET_MULTI, OP_GETATTR, OP_SETATTR, OP_MKNOD, OP_MKDIR,
	OP_UNLINK, OP_RMDIR, OP_RENAME, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE,
	OP_FSYNC, OP_OPENDIR, OP_READDIR, OP_READDIRPLUS, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS,
	OP_CREATE, NOPS
};

static const char *const op_names[NOPS] = {
	"other",   "lookup",  "forget", "forget_multi", "getattr", "setattr",    "mknod",
	"mkdir",   "unlink",  "rmdir",  "rename",	"open",	   "read",	 "write",
	"flush",   "release", "fsync",	"opendir",	"readdir", "readdirplus", "releasedir",
	"fsyncdir", "statfs", "create",
};

/* errno values below this have their error series cached per op */
#define NERR 134

struct hrfs_mx {
	struct fuse_lowlevel_ops inner; /* the handlers the wrappers call */
	hr_metric *requests, *errors, *seconds;
	hr_series *req[NOPS];
	_Atomic(hr_series *) lat[NOPS];
	_Atomic(hr_series *) err[NOPS][NERR];
	int timing;
};

static _Thread_local int cur_op;

/* durations: the monotonic clock (hrfs_now_ns is the wall clock, for mtimes) */
static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct hrfs_mx *mx_of(fuse_req_t req) { return ((struct hrfs *)fuse_req_userdata(req))->mx; }

static uint64_t enter(struct hrfs_mx *mx, int op)
{
	cur_op = op;
	if (mx->req[op])
		hr_series_add(mx->req[op], 1);
	return mx->timing ? mono_ns() : 0;
}

static void leave(struct hrfs_mx *mx, int op, uint64_t t0)
{
	cur_op = OP_OTHER;
	if (!t0 || !mx->seconds)
		return;
	hr_series *s = atomic_load_explicit(&mx->lat[op], memory_order_acquire);
	if (!s) {
		const char *v[1] = {op_names[op]};
		s = hr_metric_series(mx->seconds, v); /* the same series for every racer */
		if (!s)
			return;
		atomic_store_explicit(&mx->lat[op], s, memory_order_release);
	}
	hr_series_observe_ns(s, mono_ns() - t0);
}

#define WRAP(op, OP, params, args)                             \
	static void w_##op params                               \
	{                                                       \
		struct hrfs_mx *mx = mx_of(req);                \
		uint64_t t0 = enter(mx, OP);                    \
		mx->inner.op args;                              \
		leave(mx, OP, t0);                              \
	}

WRAP(lookup, OP_LOOKUP, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(forget, OP_FORGET, (fuse_req_t req, fuse_ino_t i, uint64_t n), (req, i, n))
WRAP(forget_multi, OP_FORGET_MULTI, (fuse_req_t req, size_t c, struct fuse_forget_data *f),
     (req, c, f))
WRAP(getattr, OP_GETATTR, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(setattr, OP_SETATTR,
     (fuse_req_t req, fuse_ino_t i, struct stat *a, int s, struct fuse_file_info *fi),
     (req, i, a, s, fi))
WRAP(mknod, OP_MKNOD, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t d),
     (req, p, n, m, d))
WRAP(mkdir, OP_MKDIR, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m), (req, p, n, m))
WRAP(unlink, OP_UNLINK, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(rmdir, OP_RMDIR, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(rename, OP_RENAME,
     (fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned f),
     (req, p, n, np, nn, f))
WRAP(open, OP_OPEN, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(read, OP_READ, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(write, OP_WRITE,
     (fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, b, s, o, fi))
WRAP(flush, OP_FLUSH, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(release, OP_RELEASE, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(fsync, OP_FSYNC, (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi),
     (req, i, d, fi))
WRAP(opendir, OP_OPENDIR, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(readdir, OP_READDIR,
     (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(readdirplus, OP_READDIRPLUS,
     (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(releasedir, OP_RELEASEDIR, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi),
     (req, i, fi))
WRAP(fsyncdir, OP_FSYNCDIR, (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi),
     (req, i, d, fi))
WRAP(statfs, OP_STATFS, (fuse_req_t req, fuse_ino_t i), (req, i))
WRAP(create, OP_CREATE,
     (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi),
     (req, p, n, m, fi))

int hrfs_metrics_ops(struct hrfs *fs, const struct fuse_lowlevel_ops *inner,
		     struct fuse_lowlevel_ops *out)
{
	struct hrfs_mx *mx = calloc(1, sizeof(*mx));
	if (!mx)
		return -ENOMEM;
	mx->inner = *inner;
	*out = *inner;
#define SET(op)                      \
	if (inner->op)               \
		out->op = w_##op;
	SET(lookup) SET(forget) SET(forget_multi) SET(getattr) SET(setattr) SET(mknod) SET(mkdir)
	SET(unlink) SET(rmdir) SET(rename) SET(open) SET(read) SET(write) SET(flush) SET(release)
	SET(fsync) SET(opendir) SET(readdir) SET(readdirplus) SET(releasedir) SET(fsyncdir)
	SET(statfs) SET(create)
#undef SET
	fs->mx = mx;
	return 0;
}

void hrfs_metrics_error(fuse_req_t req, int err)
{
	struct hrfs *fs = fuse_req_userdata(req);
	struct hrfs_mx *mx = fs ? fs->mx : NULL;
	if (err > 0 && mx && mx->errors) {
		int op = cur_op;
		hr_series *s = err < NERR ? atomic_load_explicit(&mx->err[op][err],
								 memory_order_acquire)
					  : NULL;
		if (!s) {
			char num[16];
			const char *name = strerrorname_np(err);
			if (!name) {
				snprintf(num, sizeof(num), "%d", err);
				name = num;
			}
			const char *v[2] = {op_names[op], name};
			s = hr_metric_series(mx->errors, v);
			if (s && err < NERR)
				atomic_store_explicit(&mx->err[op][err], s, memory_order_release);
		}
		if (s)
			hr_series_add(s, 1);
	}
}

int hrfs_reply_err_counted(fuse_req_t req, int err)
{
	hrfs_metrics_error(req, err);
	return (fuse_reply_err)(req, err); /* the library's, not the macro of hrfs.h */
}

static void fs_collect(void *ctx, hr_metrics_writer *w)
{
	struct hrfs *fs = ctx;
	uint64_t retries, gave_up;
	hrfs_retry_counts(&retries, &gave_up);
	static const struct {
		const char *name, *help;
		size_t off;
	} ctr[] = {
#define C(n, f, h) {n, h, offsetof(struct hrfs, ctr.f)}
		C("hregionfs_fs_read_requests_total", reads,
		  "READ requests (reads the page cache did not serve; stats: fs_read_requests)."),
		C("hregionfs_fs_read_bytes_total", read_bytes,
		  "Bytes those READ requests returned (stats: fs_read_bytes)."),
		C("hregionfs_fs_write_requests_total", writes,
		  "WRITE requests (stats: fs_write_requests)."),
		C("hregionfs_fs_commits_total", commits,
		  "Open-file states stored as puts (stats: fs_commits)."),
		C("hregionfs_fs_invalidations_total", inval_sent,
		  "Page-cache invalidations sent to the kernel (stats: fs_invalidations)."),
		C("hregionfs_fs_invalidations_dropped_total", inval_dropped,
		  "Invalidations dropped on a full queue (stats: fs_invalidations_dropped)."),
		C("hregionfs_fs_readdir_requests_total", readdirs,
		  "READDIR(PLUS) requests the kernel's cache did not serve (stats: "
		  "fs_readdir_requests)."),
		C("hregionfs_fs_dir_cache_opens_total", dir_cached,
		  "Opendirs that let the kernel keep its listing (stats: fs_dir_cache_opens)."),
#undef C
	};
	hr_mw_family(w, "hregionfs_fs_retries_total",
		     "Engine calls retried after a busy or moved region (stats: fs_retries).",
		     HR_METRIC_COUNTER);
	hr_mw_sample(w, (double)retries, (char *)NULL);
	hr_mw_family(w, "hregionfs_fs_eagain_total",
		     "Requests that failed with EAGAIN after every retry (stats: fs_eagain).",
		     HR_METRIC_COUNTER);
	hr_mw_sample(w, (double)gave_up, (char *)NULL);
	for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
		const atomic_uint_fast64_t *v =
			(const atomic_uint_fast64_t *)((const char *)fs + ctr[i].off);
		hr_mw_family(w, ctr[i].name, ctr[i].help, HR_METRIC_COUNTER);
		hr_mw_sample(w, (double)atomic_load_explicit(v, memory_order_relaxed), (char *)NULL);
	}
}

int hrfs_metrics_register(struct hrfs *fs)
{
	hr_metrics *m = hr_server_metrics(fs->srv);
	struct hrfs_mx *mx = fs->mx;
	static const char *const l_op[] = {"op"};
	static const char *const l_op_errno[] = {"op", "errno"};
	int rc;
	if (!mx)
		return -EINVAL;
	if ((rc = hr_metric_register(m, "hregionfs_fuse_requests_total",
				     "FUSE requests received, by type.", HR_METRIC_COUNTER, l_op, 1,
				     &mx->requests)) < 0 ||
	    (rc = hr_metric_register(m, "hregionfs_fuse_errors_total",
				     "FUSE requests answered with an error, by type and errno.",
				     HR_METRIC_COUNTER, l_op_errno, 2, &mx->errors)) < 0)
		return rc;
	if (fs->cfg.metrics_histograms &&
	    (rc = hr_metric_register(m, "hregionfs_fuse_request_seconds",
				     "Time from a FUSE request's arrival in its handler to the "
				     "handler's return, by type.",
				     HR_METRIC_HISTOGRAM, l_op, 1, &mx->seconds)) < 0)
		return rc;
	for (int op = 1; op < NOPS; op++) {
		const char *v[1] = {op_names[op]};
		if (!(mx->req[op] = hr_metric_series(mx->requests, v)))
			return -ENOMEM;
	}
	mx->timing = fs->cfg.metrics_histograms;
	return hr_metrics_add_collector(m, fs_collect, fs);
}

void hrfs_metrics_free(struct hrfs *fs)
{
	free(fs->mx);
	fs->mx = NULL;
}
