/*
 * ops_file.c — cells as files: create, open, read, write, flush, release,
 * fsync and setattr. Every descriptor of a cell works on the cell's one
 * open-file state (ofile.c), as every descriptor of a local file works on
 * its inode: a write, truncate or chmod is seen at once by every
 * descriptor, stat and process on the mount. A changed state is stored as
 * one put at each close (FLUSH, so close(2) returns the store's error), at
 * fsync (synced), and at the last release (pages of a shared mapping the
 * kernel wrote back after the last close). An unlinked cell's state lives
 * on for its descriptors and is never stored.
 *
 * Cells are served through the kernel's page cache (no direct_io): an open
 * lets the kernel keep its pages (keep_cache) when the state is already
 * open (its pages are the state's), or when the cell is still exactly the
 * stored version those pages were filled from (inode->pc). MAP_SHARED
 * mappings work: the kernel writes their dirty pages back as WRITE requests
 * before a FLUSH, at fsync and at munmap. O_DIRECT reads and writes come
 * here unchanged and go to the same state.
 *
 * Status files are rendered at open and served with direct_io.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

#define FS(req) ((struct hrfs *)fuse_req_userdata(req))

/* A read-modify-write that keeps losing to other writers gives up (EAGAIN)
 * after this many tries. */
#define HRFS_RMW_RETRIES 16

/* A cell up to this size is read at open even when the kernel may have it
 * cached. */
#define HRFS_EAGER_LOAD (64 * 1024)

struct hrfs_fh {
	struct hrfs_inode *in;	/* one inode reference */
	int kind;		/* the inode's kind at open */
	struct hrfs_of *of;	/* cells and scratch files: the shared state (one reference) */
	int writer;		/* counted in of->nwriters */
	char *text;		/* status files: rendered at open */
	size_t text_len;
};

static struct hrfs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct hrfs_fh *)(uintptr_t)fi->fh;
}

static struct hrfs_fh *fh_new(struct hrfs *fs, struct hrfs_inode *in)
{
	struct hrfs_fh *fh = calloc(1, sizeof(*fh));
	if (!fh)
		return NULL;
	fh->in = in;
	fh->kind = in->kind;
	pthread_mutex_lock(&fs->lock);
	hrfs_ino_ref_locked(in);
	pthread_mutex_unlock(&fs->lock);
	return fh;
}

/* The handle takes over the caller's reference on of. */
static void fh_attach(struct hrfs *fs, struct hrfs_fh *fh, struct hrfs_of *of, int writer)
{
	pthread_mutex_lock(&fs->lock);
	fh->of = of;
	fh->writer = writer;
	of->nopen++;
	of->nwriters += writer ? 1 : 0;
	pthread_mutex_unlock(&fs->lock);
}

static void fh_free(struct hrfs *fs, struct hrfs_fh *fh)
{
	pthread_mutex_lock(&fs->lock);
	if (fh->of) {
		fh->of->nopen--;
		fh->of->nwriters -= fh->writer ? 1 : 0;
		hrfs_of_put_locked(fs, fh->of);
	}
	hrfs_ino_unref_locked(fs, fh->in);
	pthread_mutex_unlock(&fs->lock);
	free(fh->text);
	free(fh);
}

static int is_writer(const struct fuse_file_info *fi)
{
	return (fi->flags & O_ACCMODE) != O_RDONLY;
}

/* The attributes of a file created now by the caller of req. */
static void created_attr(fuse_req_t req, mode_t mode, hr_file_attr *a)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	a->mode = mode & 07777; /* the kernel applied the umask */
	a->uid = (uint32_t)ctx->uid;
	a->gid = (uint32_t)ctx->gid;
	a->mtime_ns = a->atime_ns = a->ctime_ns = hrfs_now_ns();
}

/* Whether the kernel may keep its cached pages of a cell at this open:
 * only if they are the state's content, and never in a table with a TTL
 * family (an expired cell must not be served). Either way they are the
 * state's content from now on (kept, or dropped by the kernel). of->lock
 * held. */
static int open_keep_cache(struct hrfs_of *of, int ttl)
{
	int keep = of->pages_ok && !ttl;
	of->pages_ok = 1;
	return keep;
}

static void reply_created(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *in,
			  struct hrfs_fh *fh, struct fuse_file_info *fi, const struct stat *st,
			  int keep)
{
	struct fuse_entry_param e;
	hrfs_fill_entry(fs, in, st, &e);
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = keep;
	fi->direct_io = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		fh_free(fs, fh);
		hrfs_ino_forget(fs, in->ino, 1);
	}
}

static void create_scratch(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *dir,
			   const char *mp, const char *name, mode_t mode,
			   struct fuse_file_info *fi)
{
	struct stat st;
	hr_file_attr a;
	struct hrfs_of *of = NULL;
	struct hrfs_inode *in = NULL;
	int rc = 0;

	created_attr(req, mode, &a);
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, mp);
	int exists = m && m->kind == HRFS_MEM_SCRATCH && m->of;
	if (exists && (fi->flags & O_EXCL))
		rc = -EEXIST;
	else if (!exists && !(m = hrfs_mem_add_scratch_locked(fs, mp, &a)))
		rc = -ENOMEM;
	if (rc == 0) {
		in = hrfs_ino_child_locked(fs, dir, HRFS_SCRATCH, name, NULL, 0, 1);
		if (!in) {
			rc = -ENOMEM;
		} else if (in->scratch != m) {
			if (in->scratch)
				hrfs_mem_unref_locked(fs, in->scratch);
			hrfs_mem_ref_locked(m);
			in->scratch = m;
		}
	}
	if (rc == 0) {
		of = m->of;
		of->refs++;
		if (!exists)
			hrfs_dir_changed_locked(fs, dir);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct hrfs_fh *fh = fh_new(fs, in);
	if (!fh) {
		hrfs_of_put(fs, of);
		hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&of->lock);
	if (exists && (fi->flags & O_TRUNC))
		hrfs_of_truncate(fs, of, 0);
	hrfs_of_stat(fs, of, in->ino, &st);
	pthread_mutex_unlock(&of->lock);
	fh_attach(fs, fh, of, is_writer(fi));
	reply_created(req, fs, in, fh, fi, &st, 1);
}

void hrfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	struct stat st;
	uint8_t key[HRFS_NAME_MAX];
	char mp[HRFS_PATH_MAX];
	int klen, rc, keep = 1;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strlen(name) > HRFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	switch (dir->kind) {
	case HRFS_TABLE:
	case HRFS_ROW:
	case HRFS_FAMILY:
		break;
	case HRFS_ROOT:
		fuse_reply_err(req, EPERM);
		return;
	case HRFS_CELL:
	case HRFS_SCRATCH:
		fuse_reply_err(req, ENOTDIR);
		return;
	default:
		fuse_reply_err(req, EROFS);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	if (hrfs_child_mpath(&dp, name, mp) < 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (hrfs_name_is_scratch(name)) {
		create_scratch(req, fs, dir, mp, name, mode, fi);
		return;
	}
	if (dir->kind != HRFS_FAMILY) {
		/* A file where a directory (row, family) must be. */
		fuse_reply_err(req, EPERM);
		return;
	}
	klen = hrfs_name_decode(name, key);
	if (klen < 0) {
		fuse_reply_err(req, -klen);
		return;
	}
	struct hrfs_inode *in = hrfs_ino_child(fs, dir, HRFS_CELL, name, key, (size_t)klen, 1);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct hrfs_of *of = hrfs_of_get(fs, in, 1);
	struct hrfs_fh *fh = of ? fh_new(fs, in) : NULL;
	if (!fh) {
		if (of)
			hrfs_of_put(fs, of);
		hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&of->lock);
	int exists = 1;
	if (!of->init) {
		/* The kernel believed the name free; it may have been stored
		 * since (then this is an open of it). */
		rc = hrfs_of_init(fs, of, 0);
		if (rc == -ENOENT) {
			hr_file_attr a;
			created_attr(req, mode, &a);
			hrfs_of_init_created(fs, of, &a);
			pthread_mutex_lock(&fs->lock);
			rc = hrfs_mem_add_locked(fs, mp, HRFS_MEM_CELL) ? 0 : -ENOMEM;
			dir->dir_mtime_ns = of->attr.mtime_ns;
			hrfs_dir_changed_locked(fs, dir);
			pthread_mutex_unlock(&fs->lock);
			exists = 0;
		} else if (rc == 0) {
			keep = open_keep_cache(of, hrfs_in_ttl_table(fs, in));
		}
	} else {
		rc = 0;
		keep = open_keep_cache(of, 0);
	}
	if (rc == 0 && exists && (fi->flags & O_EXCL))
		rc = -EEXIST;
	if (rc == 0 && exists && (fi->flags & O_TRUNC))
		rc = hrfs_of_truncate(fs, of, 0);
	if (rc == 0)
		hrfs_of_stat(fs, of, in->ino, &st);
	pthread_mutex_unlock(&of->lock);
	fh_attach(fs, fh, of, is_writer(fi));
	if (rc < 0) {
		fh_free(fs, fh);
		hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	reply_created(req, fs, in, fh, fi, &st, keep);
}

void hrfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path p;
	hr_file_attr a;
	uint8_t key[HRFS_NAME_MAX];
	int rc, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!S_ISREG(mode) || dir->kind != HRFS_FAMILY || hrfs_name_is_scratch(name)) {
		fuse_reply_err(req, hrfs_kind_is_status(dir->kind) ? EROFS : EPERM);
		return;
	}
	klen = hrfs_name_decode(name, key);
	if (klen < 0) {
		fuse_reply_err(req, -klen);
		return;
	}
	hrfs_ino_path(fs, dir, &p);
	memcpy(p.qual, key, (size_t)klen);
	p.qual_len = (size_t)klen;
	created_attr(req, mode, &a);
	/* only if absent: mknod of an existing name is EEXIST */
	rc = hrfs_cell_put(fs, &p, "", 0, &a, 0, NULL, 1, HR_TS_NOW, NULL);
	if (rc == -ECANCELED)
		rc = -EEXIST;
	if (rc < 0) {
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	struct stat st;
	struct fuse_entry_param e;
	struct hrfs_inode *in = hrfs_ino_child(fs, dir, HRFS_CELL, name, key, (size_t)klen, 1);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	dir->dir_mtime_ns = a.mtime_ns;
	hrfs_dir_changed_locked(fs, dir);
	pthread_mutex_unlock(&fs->lock);
	hrfs_attr_file(fs, in->ino, 0, &a, &st);
	hrfs_fill_entry(fs, in, &st, &e);
	if (fuse_reply_entry(req, &e) != 0)
		hrfs_ino_forget(fs, in->ino, 1);
}

static void open_status(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *in,
			struct fuse_file_info *fi)
{
	struct hrfs_path p;
	char *text = NULL;
	size_t len = 0;
	int hist = hrfs_kind_is_hist(in->kind);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		/* status files are 0444; history files show their cell's mode */
		fuse_reply_err(req, hist ? EROFS : EACCES);
		return;
	}
	hrfs_ino_path(fs, in, &p);
	int rc = hist ? hrfs_hist_read(fs, &p, &text, &len) : hrfs_status_render(fs, &p, &text, &len);
	if (rc < 0) {
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	struct hrfs_fh *fh = fh_new(fs, in);
	if (!fh) {
		free(text);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fh->text = text;
	fh->text_len = len;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->direct_io = 1; /* rendered per open: never the page cache */
	fi->keep_cache = 0;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		fh_free(fs, fh);
}

void hrfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	int rc = 0, keep = 1;
	/* Linux truncates on O_TRUNC whatever the access mode. */
	int trunc = (fi->flags & O_TRUNC) != 0;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (in->kind) {
	case HRFS_CELL:
	case HRFS_SCRATCH:
		break;
	case HRFS_ST_FILE:
	case HRFS_HV_CELL:
	case HRFS_HV_VERSION:
		open_status(req, fs, in, fi);
		return;
	default:
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct hrfs_of *of = hrfs_of_get(fs, in, 1);
	if (!of) {
		/* an unlinked cell nobody holds open, or a removed scratch file */
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct hrfs_fh *fh = fh_new(fs, in);
	if (!fh) {
		hrfs_of_put(fs, of);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int ttl = in->kind == HRFS_CELL && hrfs_in_ttl_table(fs, in);
	pthread_mutex_lock(&of->lock);
	if (!of->init) {
		pthread_mutex_lock(&fs->lock);
		int pc = in->pc_valid;
		uint64_t pc_len = in->pc.len;
		pthread_mutex_unlock(&fs->lock);
		/* Read the value now when the kernel cannot have it cached (a
		 * cold open needs it anyway), in a TTL table (it may expire
		 * before the read), or when it is small (a copy costs less than a
		 * second engine call if the kernel lacks a page: a partly
		 * written page never is); else only when a read asks for it. */
		rc = hrfs_of_init(fs, of, !trunc && (!pc || ttl || pc_len <= HRFS_EAGER_LOAD));
	}
	if (rc == 0)
		keep = open_keep_cache(of, ttl);
	if (rc == 0 && trunc)
		rc = hrfs_of_truncate(fs, of, 0);
	pthread_mutex_unlock(&of->lock);
	fh_attach(fs, fh, of, is_writer(fi));
	if (rc < 0) {
		fh_free(fs, fh);
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = keep;
	fi->direct_io = 0;
	/* A read-only handle never has anything of its own to store: spare
	 * the kernel the FLUSH round trip on every close. (An O_TRUNC open
	 * changed the file: its close stores that.) */
	fi->noflush = !is_writer(fi) && !trunc;
	if (fuse_reply_open(req, fi) != 0)
		fh_free(fs, fh);
}

void hrfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!fh->of) {
		/* Replied from a copy: the kernel wakes the reader as soon as
		 * writev has copied the reply, and its close may free the
		 * handle (RELEASE on another thread) before writev returns
		 * here, where ASan's interceptor reads the buffer again. */
		size_t n = (size_t)off >= fh->text_len ? 0 : fh->text_len - (size_t)off;
		n = n < size ? n : size;
		char *copy = n ? malloc(n) : NULL;
		if (n && !copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (n)
			memcpy(copy, fh->text + off, n);
		fuse_reply_buf(req, copy, n);
		free(copy);
		return;
	}
	struct hrfs_of *of = fh->of;
	pthread_mutex_lock(&of->lock);
	int rc = hrfs_of_load(fs, of);
	if (rc < 0) {
		pthread_mutex_unlock(&of->lock);
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	size_t n = (size_t)off >= of->len ? 0 : of->len - (size_t)off;
	if (n > size)
		n = size;
	fuse_reply_buf(req, n ? (const char *)of->buf + off : NULL, n);
	pthread_mutex_unlock(&of->lock);
	atomic_fetch_add(&fs->ctr.reads, 1);
	atomic_fetch_add(&fs->ctr.read_bytes, n);
}

void hrfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	int rc;

	if (!fh->of) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0 || (uint64_t)off + size > fs->cfg.max_cell_size) {
		fuse_reply_err(req, off < 0 ? EINVAL : EFBIG);
		return;
	}
	/* The offset is the kernel's (for O_APPEND too: its size is the
	 * state's), so its page cache and the state stay the same bytes. */
	pthread_mutex_lock(&fh->of->lock);
	rc = hrfs_of_write(fs, fh->of, buf, size, (uint64_t)off);
	pthread_mutex_unlock(&fh->of->lock);
	atomic_fetch_add(&fs->ctr.writes, 1);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void hrfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	int rc = 0;
	if (fh->of) {
		pthread_mutex_lock(&fh->of->lock);
		rc = hrfs_of_commit(fs, fh->of, 0, 0);
		pthread_mutex_unlock(&fh->of->lock);
	}
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}

void hrfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	/* Still dirty: pages of a shared mapping written back after the last
	 * close, or a store that failed (close(2) reported it); try again. A
	 * read-only handle changed nothing: while writers remain, their
	 * closes store their changes. */
	if (fh->of) {
		pthread_mutex_lock(&fs->lock);
		int last = fh->of->nopen == 1;
		pthread_mutex_unlock(&fs->lock);
		if (fh->writer || last) {
			pthread_mutex_lock(&fh->of->lock);
			hrfs_of_commit(fs, fh->of, 0, 0);
			pthread_mutex_unlock(&fh->of->lock);
		}
	}
	fh_free(fs, fh);
	fuse_reply_err(req, 0);
}

void hrfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	int rc = 0, sync_all = 1;
	if (fh->of) {
		pthread_mutex_lock(&fh->of->lock);
		if (fh->of->scratch) {
			/* Not stored yet: the rename that stores it will sync. */
			fh->of->synced = 1;
			sync_all = 0;
		} else if (fh->of->dirty) {
			rc = hrfs_of_commit(fs, fh->of, HR_MUT_SYNC, 0);
			sync_all = 0;
		}
		pthread_mutex_unlock(&fh->of->lock);
	}
	/* Unchanged since its last store: make that (and everything before)
	 * durable. */
	if (rc == 0 && sync_all)
		HRFS_RETRY(fs, rc, "fsync", hr_sync(fs->srv));
	if (rc < 0)
		hr_log_error("fs", "fsync: %s", hr_strerror(rc));
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}

/* ---- setattr -------------------------------------------------------------- */

/* 1 if gid is the caller's group or one of its supplementary groups. */
static int caller_in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[64];
	if (ctx->gid == gid)
		return 1;
	int n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* Linux's rules for chmod, chown and utimes (enforced here too, so that
 * they hold without -o default_permissions): only root gives a file away;
 * its owner may change its group to one of its own groups, its mode, and
 * set its times; "now" needs write permission. */
static int setattr_allowed(fuse_req_t req, const hr_file_attr *a, const struct stat *attr,
			   int to_set)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int root = ctx->uid == 0, owner = ctx->uid == a->uid;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != a->uid && !root)
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != a->gid && !root &&
	    !(owner && caller_in_group(req, attr->st_gid)))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_MODE) && !root && !owner)
		return -EPERM;
	int explicit_time = ((to_set & FUSE_SET_ATTR_ATIME) && !(to_set & FUSE_SET_ATTR_ATIME_NOW)) ||
			    ((to_set & FUSE_SET_ATTR_MTIME) && !(to_set & FUSE_SET_ATTR_MTIME_NOW));
	if (explicit_time && !root && !owner)
		return -EPERM;
	if ((to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && !explicit_time &&
	    !root && !owner) {
		uint32_t w = caller_in_group(req, a->gid) ? 020 : 002;
		if (!(a->mode & w))
			return -EACCES;
	}
	return 0;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Applies mode, owner and times to a state. of->lock held. */
static int apply_attrs(fuse_req_t req, struct hrfs_of *of, const struct stat *attr, int to_set)
{
	const int mask = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
			 FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME;
	if (!(to_set & mask))
		return 0;
	int64_t now = hrfs_now_ns();
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (to_set & FUSE_SET_ATTR_MODE) {
		of->attr.mode = attr->st_mode & 07777;
		/* Linux: a non-member's chmod drops set-group-ID */
		if (ctx->uid != 0 && !caller_in_group(req, of->attr.gid))
			of->attr.mode &= ~(uint32_t)S_ISGID;
	}
	if ((to_set & FUSE_SET_ATTR_UID) && of->attr.uid != (uint32_t)attr->st_uid) {
		of->attr.uid = (uint32_t)attr->st_uid;
		of->attr.mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	}
	if ((to_set & FUSE_SET_ATTR_GID) && of->attr.gid != (uint32_t)attr->st_gid) {
		of->attr.gid = (uint32_t)attr->st_gid;
		if (ctx->uid != 0)
			of->attr.mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	}
	if (to_set & FUSE_SET_ATTR_ATIME)
		of->attr.atime_ns = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : ts_ns(&attr->st_atim);
	if (to_set & FUSE_SET_ATTR_MTIME)
		of->attr.mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : ts_ns(&attr->st_mtim);
	of->attr.ctime_ns = (to_set & FUSE_SET_ATTR_CTIME) ? ts_ns(&attr->st_ctim) : now;
	of->dirty = 1;
	return 0;
}

void hrfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	struct hrfs_of *of = NULL;
	struct stat st;
	int rc = 0;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->kind != HRFS_CELL && in->kind != HRFS_SCRATCH) {
		if (to_set & FUSE_SET_ATTR_SIZE) {
			fuse_reply_err(req, in->kind == HRFS_ST_FILE ? EACCES
					    : in->kind == HRFS_HV_CELL || in->kind == HRFS_HV_VERSION
						? EROFS
						: EISDIR);
			return;
		}
		if (hrfs_kind_is_status(in->kind)) {
			fuse_reply_err(req, EROFS);
			return;
		}
		/* Directories are not stored: their times live while the
		 * kernel holds them (so that rsync and tar can finish). */
		if (to_set & FUSE_SET_ATTR_MTIME) {
			pthread_mutex_lock(&fs->lock);
			in->dir_mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? hrfs_now_ns()
									     : ts_ns(&attr->st_mtim);
			pthread_mutex_unlock(&fs->lock);
		}
		rc = hrfs_getattr_inode(fs, in, &st);
		goto reply;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (attr->st_size < 0 || (uint64_t)attr->st_size > fs->cfg.max_cell_size)) {
		fuse_reply_err(req, attr->st_size < 0 ? EINVAL : EFBIG);
		return;
	}
	if (fi && fi->fh && fh_of(fi)->of) {
		of = fh_of(fi)->of;
		pthread_mutex_lock(&fs->lock);
		of->refs++;
		pthread_mutex_unlock(&fs->lock);
	} else {
		/* By path: the open state if there is one, else a state for
		 * the duration of this change (a concurrent open shares it). */
		of = hrfs_of_get(fs, in, 1);
	}
	if (!of) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&of->lock);
	pthread_mutex_lock(&fs->lock);
	/* Made for this change alone (nobody has the file open): a
	 * read-modify-write of the stored cell, stored only if the cell is
	 * still the version read, else read again (bounded). */
	int by_path = !of->init && of->nopen == 0;
	pthread_mutex_unlock(&fs->lock);
	for (unsigned attempt = 0;; attempt++) {
		rc = 0;
		if (!of->init)
			rc = hrfs_of_init(fs, of, 0);
		if (rc == 0)
			rc = setattr_allowed(req, &of->attr, attr, to_set);
		if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
			rc = hrfs_of_truncate(fs, of, (uint64_t)attr->st_size);
		if (rc == 0)
			rc = apply_attrs(req, of, attr, to_set);
		if (rc == 0) {
			/* Through a descriptor, or while one with write access
			 * is open (cp -a and tar set attributes on the open
			 * file before closing it): stored with its next close,
			 * one put. By path otherwise (truncate, chmod, touch):
			 * stored now. */
			pthread_mutex_lock(&fs->lock);
			int later = of->nwriters > 0 && !((to_set & FUSE_SET_ATTR_SIZE) && !fi);
			pthread_mutex_unlock(&fs->lock);
			if (!later)
				rc = hrfs_of_commit(fs, of, 0, by_path);
		}
		if (rc != -ECANCELED || !by_path)
			break;
		if (attempt >= HRFS_RMW_RETRIES) {
			hr_log_error("fs", "setattr ino %llu: the cell kept changing", (unsigned long long)ino);
			rc = -EAGAIN;
			break;
		}
		hrfs_of_reset(of);
	}
	if (rc == 0)
		hrfs_of_stat(fs, of, in->ino, &st);
	pthread_mutex_unlock(&of->lock);
	hrfs_of_put(fs, of);
reply:
	if (rc < 0) {
		if (rc != -EFBIG && rc != -ENOENT && rc != -EPERM && rc != -EACCES)
			hr_log_error("fs", "setattr ino %llu: %s", (unsigned long long)ino,
				     hr_strerror(rc));
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	fuse_reply_attr(req, &st, hrfs_timeout_of(fs, in));
}

/* getattr through an open handle: the state, also once unlinked. */
int hrfs_fh_getattr(struct hrfs *fs, struct fuse_file_info *fi, struct stat *st)
{
	struct hrfs_fh *fh = fh_of(fi);
	if (!fh->of)
		return hrfs_getattr_inode(fs, fh->in, st);
	pthread_mutex_lock(&fh->of->lock);
	hrfs_of_stat(fs, fh->of, fh->in->ino, st);
	pthread_mutex_unlock(&fh->of->lock);
	return 0;
}
