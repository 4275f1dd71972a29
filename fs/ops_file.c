/*
 * ops_file.c — cells as files. Each open handle buffers the whole cell:
 * O_TRUNC starts empty, otherwise the handle starts with the current value;
 * writes and truncates change the buffer; flush (every close) commits a
 * dirty buffer as one put, so readers see the old or the new value, never a
 * mix, and the commit's error is what close(2) returns. Scratch files keep
 * their data in the memory registry instead. Status files are rendered at
 * open and served with direct_io.
 *
 * The kernel has one page cache and one size per inode, but each handle has
 * its own view, so every cell handle uses direct_io: reads come here and
 * are served from the handle's snapshot, whatever another handle's O_TRUNC
 * or writes did to the kernel's idea of the size, and writes never reach a
 * page cache that readers share. (A page-cache reader can be cut short by a
 * concurrent writer's truncate: the size is per inode.) The kernel still
 * caches names and attributes for entry_timeout_s. MAP_PRIVATE mmap works;
 * MAP_SHARED does not (libfuse 3.14 cannot ask for direct-io mmap).
 *
 * A handle whose only change is the O_TRUNC of an existing cell is not
 * committed by its first flush: the shell's `cmd > cell` closes a dup of the
 * new descriptor before cmd writes anything, and committing there would show
 * readers an empty value that nobody meant. A second flush or the release
 * commits it (so `: > cell` still stores the empty value). A created cell
 * is committed by its first flush, so `touch` is durable when it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

#define FS(req) ((struct hrfs *)fuse_req_userdata(req))

struct hrfs_fh {
	pthread_mutex_t lock;	/* buf, len, cap, dirty, created */
	struct hrfs_inode *in;	/* one reference (refs) */
	int kind;
	uint8_t *buf;
	size_t len, cap;
	int dirty;
	int written;		/* a write or truncate since open */
	int flushed;		/* a flush passed while only truncated */
	int append;		/* O_APPEND: every write goes to the end of the buffer */
	int64_t mtime_ms;	/* of the last change through this handle */
	int created;		/* registered an uncommitted cell in mem */
	struct hrfs_mem *scratch; /* HRFS_SCRATCH: one reference */
};

static struct hrfs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct hrfs_fh *)(uintptr_t)fi->fh;
}

/* Grows (zero-filling) or shrinks a value buffer to len bytes. */
static int bytes_resize(uint8_t **buf, size_t *blen, size_t *cap, size_t len)
{
	if (len > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < len)
			nc *= 2;
		uint8_t *nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	if (len > *blen)
		memset(*buf + *blen, 0, len - *blen);
	*blen = len;
	return 0;
}

static int buf_resize(struct hrfs_fh *fh, size_t len)
{
	return bytes_resize(&fh->buf, &fh->len, &fh->cap, len);
}

static int mem_resize(struct hrfs_mem *m, size_t len)
{
	int rc = bytes_resize(&m->data, &m->len, &m->cap, len);
	if (rc < 0)
		return rc;
	m->mtime_ms = hrfs_now_ms();
	return 0;
}

/* The handle now holds the newest value of its cell. fh->lock held. */
static void fh_mark_dirty(struct hrfs *fs, struct hrfs_fh *fh)
{
	fh->dirty = 1;
	fh->mtime_ms = hrfs_now_ms();
	pthread_mutex_lock(&fs->lock);
	fh->in->ov_fh = fh;
	fh->in->ov_size = fh->len;
	fh->in->ov_mtime_ms = hrfs_now_ms();
	pthread_mutex_unlock(&fs->lock);
}

static struct hrfs_fh *fh_new(struct hrfs *fs, struct hrfs_inode *in, int kind)
{
	struct hrfs_fh *fh = calloc(1, sizeof(*fh));
	if (!fh)
		return NULL;
	pthread_mutex_init(&fh->lock, NULL);
	fh->kind = kind;
	fh->in = in;
	pthread_mutex_lock(&fs->lock);
	hrfs_ino_ref_locked(in);
	if (kind == HRFS_SCRATCH && in->scratch) {
		fh->scratch = in->scratch;
		hrfs_mem_ref_locked(fh->scratch);
	}
	pthread_mutex_unlock(&fs->lock);
	return fh;
}

static void fh_free(struct hrfs *fs, struct hrfs_fh *fh)
{
	pthread_mutex_lock(&fs->lock);
	if (fh->in->ov_fh == fh)
		fh->in->ov_fh = NULL;
	if (fh->created && !fh->in->unlinked) {
		/* Created but never committed: it was only ever in memory. (If
		 * unlinked, unlink dropped the entry, and the name may belong
		 * to a newer file by now.) */
		struct hrfs_path p;
		hrfs_ino_path_locked(fh->in, &p);
		struct hrfs_mem *m = hrfs_mem_find_locked(fs, p.mpath);
		if (m && m->kind == HRFS_MEM_CELL)
			hrfs_mem_del_locked(fs, p.mpath);
	}
	if (fh->scratch)
		hrfs_mem_unref_locked(fs, fh->scratch);
	pthread_mutex_unlock(&fs->lock);
	hrfs_ino_unref(fs, fh->in);
	pthread_mutex_destroy(&fh->lock);
	free(fh->buf);
	free(fh);
}

/* Commits a dirty buffer as one put. fh->lock held. */
static int fh_commit_locked(struct hrfs *fs, struct hrfs_fh *fh, unsigned flags)
{
	struct hrfs_path p;
	int rc;

	if (fh->kind != HRFS_CELL || !fh->dirty)
		return 0;
	pthread_mutex_lock(&fs->lock);
	int unlinked = fh->in->unlinked;
	hrfs_ino_path_locked(fh->in, &p);
	pthread_mutex_unlock(&fs->lock);
	if (unlinked) {
		fh->dirty = 0; /* removed while open: nothing to store */
		return 0;
	}
	uint64_t ino = fh->in->ino;
	HRFS_RETRY(fs, rc, "commit",
		   hr_put(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len,
			  fh->buf, fh->len, flags));
	if (rc < 0) {
		hr_log_error("fs", "commit %s (%zu bytes): %s", p.mpath, fh->len, hr_strerror(rc));
		return rc;
	}
	fh->dirty = 0;
	pthread_mutex_lock(&fs->lock);
	if (fh->in->ov_fh == fh)
		fh->in->ov_fh = NULL;
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, p.mpath);
	if (m && m->kind == HRFS_MEM_CELL)
		hrfs_mem_del_locked(fs, p.mpath);
	fh->created = 0;
	hrfs_mem_cell_arrived_locked(fs, &p);
	pthread_mutex_unlock(&fs->lock);
	/* The kernel may hold the old size (a stat while we wrote): drop its
	 * attributes. Attributes only (offset < 0) take no page or inode lock,
	 * so this is safe from inside a request on the same inode. */
	if (fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return 0;
}

static void reply_created(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *in,
			  struct hrfs_fh *fh, struct fuse_file_info *fi, const struct stat *st)
{
	struct fuse_entry_param e;
	hrfs_fill_entry(fs, in, st, &e);
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 0;
	fi->direct_io = fh->kind == HRFS_CELL;
	if (fuse_reply_create(req, &e, fi) != 0) {
		fh_free(fs, fh);
		hrfs_ino_forget(fs, in->ino, 1);
	}
}

static void create_scratch(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *dir,
			   const char *mp, const char *name, struct fuse_file_info *fi)
{
	struct stat st;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, mp);
	int exists = m != NULL;
	if (!m)
		m = hrfs_mem_add_locked(fs, mp, HRFS_MEM_SCRATCH);
	struct hrfs_inode *in = NULL;
	if (m && !(exists && (fi->flags & O_EXCL))) {
		in = hrfs_ino_child_locked(fs, dir, HRFS_SCRATCH, name, NULL, 0, 1);
		if (in && in->scratch != m) {
			if (in->scratch)
				hrfs_mem_unref_locked(fs, in->scratch);
			hrfs_mem_ref_locked(m);
			in->scratch = m;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (exists && (fi->flags & O_EXCL)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct hrfs_fh *fh = fh_new(fs, in, HRFS_SCRATCH);
	if (!fh) {
		hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (!exists || (fi->flags & O_TRUNC))
		mem_resize(m, 0);
	hrfs_attr_file(fs, in->ino, m->len, m->mtime_ms, 0644, &st);
	pthread_mutex_unlock(&m->lock);
	reply_created(req, fs, in, fh, fi, &st);
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
	int klen;

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
		create_scratch(req, fs, dir, mp, name, fi);
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
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, dir, HRFS_CELL, name, key, (size_t)klen, 1);
	int rc = in && hrfs_mem_add_locked(fs, mp, HRFS_MEM_CELL) ? 0 : -ENOMEM;
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0) {
		if (in)
			hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct hrfs_fh *fh = fh_new(fs, in, HRFS_CELL);
	if (!fh) {
		hrfs_ino_forget(fs, in->ino, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Dirty from the start: closing it stores an empty cell (touch). */
	fh->created = 1;
	pthread_mutex_lock(&fh->lock);
	fh_mark_dirty(fs, fh);
	pthread_mutex_unlock(&fh->lock);
	hrfs_attr_file(fs, in->ino, 0, hrfs_now_ms(), 0644, &st);
	reply_created(req, fs, in, fh, fi, &st);
}

void hrfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	uint8_t key[HRFS_NAME_MAX];
	int rc, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!S_ISREG(mode) || dir->kind != HRFS_FAMILY || hrfs_name_is_scratch(name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	klen = hrfs_name_decode(name, key);
	if (klen < 0) {
		fuse_reply_err(req, -klen);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	HRFS_RETRY(fs, rc, "mknod",
		   hr_put(fs->srv, dp.table, dp.row, dp.row_len, dp.family, key, (size_t)klen, "", 0,
			  0));
	if (rc < 0) {
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	struct stat st;
	struct fuse_entry_param e;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, dir, HRFS_CELL, name, key, (size_t)klen, 1);
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	hrfs_attr_file(fs, in->ino, 0, hrfs_now_ms(), 0644, &st);
	hrfs_fill_entry(fs, in, &st, &e);
	if (fuse_reply_entry(req, &e) != 0)
		hrfs_ino_forget(fs, in->ino, 1);
}

void hrfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	struct hrfs_fh *fh;
	int rc = 0, acc = fi->flags & O_ACCMODE;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (in->kind) {
	case HRFS_CELL:
	case HRFS_SCRATCH:
		break;
	case HRFS_ST_FILE:
		if (acc != O_RDONLY || (fi->flags & O_TRUNC)) {
			fuse_reply_err(req, EACCES);
			return;
		}
		break;
	default:
		fuse_reply_err(req, EISDIR);
		return;
	}
	fh = fh_new(fs, in, in->kind);
	if (!fh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->keep_cache = 0;
	fi->direct_io = in->kind == HRFS_CELL; /* see the top of this file */
	/* a read-only handle never has anything to commit: spare the kernel
	 * the FLUSH round trip on every close */
	fi->noflush = acc == O_RDONLY;
	fh->append = (fi->flags & O_APPEND) != 0;
	if (in->kind == HRFS_SCRATCH) {
		if (!fh->scratch) {
			rc = -ENOENT;
			goto fail;
		}
		if (fi->flags & O_TRUNC) {
			pthread_mutex_lock(&fh->scratch->lock);
			mem_resize(fh->scratch, 0);
			pthread_mutex_unlock(&fh->scratch->lock);
		}
	} else if (in->kind == HRFS_ST_FILE) {
		struct hrfs_path p;
		char *text = NULL;
		size_t len = 0;
		hrfs_ino_path(fs, in, &p);
		rc = hrfs_status_render(fs, &p, &text, &len);
		if (rc < 0)
			goto fail;
		fh->buf = (uint8_t *)text;
		fh->len = fh->cap = len;
		fi->direct_io = 1;
	} else if ((fi->flags & O_TRUNC) && acc != O_RDONLY) {
		pthread_mutex_lock(&fh->lock);
		fh_mark_dirty(fs, fh);
		pthread_mutex_unlock(&fh->lock);
	} else {
		struct hrfs_path p;
		hr_value v = {0};
		pthread_mutex_lock(&fs->lock);
		hrfs_ino_path_locked(in, &p);
		int pending = in->ov_fh != NULL;
		pthread_mutex_unlock(&fs->lock);
		HRFS_RETRY(fs, rc, "open",
			   hr_get(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len,
				  HR_GET_VALUE, &v));
		if (rc == -ENOENT && pending) {
			rc = 0; /* created by another handle, not committed yet */
		} else if (rc < 0) {
			if (rc != -ENOENT)
				hr_log_error("fs", "open %s: %s", p.mpath, hr_strerror(rc));
			goto fail;
		} else {
			fh->buf = v.data;
			fh->len = fh->cap = v.len;
			fh->mtime_ms = v.ts > 0 ? v.ts : 1;
			/* The kernel may keep its cached pages only if they were
			 * filled from this very value. */
		}
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	if (fuse_reply_open(req, fi) != 0)
		fh_free(fs, fh);
	return;
fail:
	fh_free(fs, fh);
	fuse_reply_err(req, hrfs_errno(rc));
}

void hrfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct hrfs_fh *fh = fh_of(fi);
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (fh->scratch) {
		struct hrfs_mem *m = fh->scratch;
		pthread_mutex_lock(&m->lock);
		size_t n = (size_t)off >= m->len ? 0 : m->len - (size_t)off;
		fuse_reply_buf(req, n ? (const char *)m->data + off : NULL, n < size ? n : size);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	pthread_mutex_lock(&fh->lock);
	size_t n = (size_t)off >= fh->len ? 0 : fh->len - (size_t)off;
	fuse_reply_buf(req, n ? (const char *)fh->buf + off : NULL, n < size ? n : size);
	pthread_mutex_unlock(&fh->lock);
}

void hrfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	int rc = 0;

	if (fh->kind == HRFS_ST_FILE) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (off < 0 || (uint64_t)off + size > fs->cfg.max_cell_size) {
		fuse_reply_err(req, off < 0 ? EINVAL : EFBIG);
		return;
	}
	if (fh->append && !fh->scratch) {
		/* O_APPEND appends to this handle's value, whatever size the
		 * kernel believes the file has. */
		pthread_mutex_lock(&fh->lock);
		off = (off_t)fh->len;
		pthread_mutex_unlock(&fh->lock);
		if ((uint64_t)off + size > fs->cfg.max_cell_size) {
			fuse_reply_err(req, EFBIG);
			return;
		}
	}
	size_t end = (size_t)off + size;
	if (fh->scratch) {
		struct hrfs_mem *m = fh->scratch;
		pthread_mutex_lock(&m->lock);
		if (end > m->len)
			rc = mem_resize(m, end);
		if (rc == 0) {
			memcpy(m->data + off, buf, size);
			m->mtime_ms = hrfs_now_ms();
		}
		pthread_mutex_unlock(&m->lock);
	} else {
		pthread_mutex_lock(&fh->lock);
		if (end > fh->len)
			rc = buf_resize(fh, end);
		if (rc == 0) {
			memcpy(fh->buf + off, buf, size);
			fh->written = 1;
			fh_mark_dirty(fs, fh);
		}
		pthread_mutex_unlock(&fh->lock);
	}
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
	pthread_mutex_lock(&fh->lock);
	if (fh->dirty && !fh->written && !fh->flushed && !fh->created)
		fh->flushed = 1; /* only truncated so far: see the top */
	else
		rc = fh_commit_locked(fs, fh, 0);
	pthread_mutex_unlock(&fh->lock);
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}

void hrfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	/* Still dirty: either only truncated (first flush skipped it) or a
	 * commit that failed, which close(2) has reported; try once more. */
	pthread_mutex_lock(&fh->lock);
	if (fh->dirty)
		fh_commit_locked(fs, fh, 0);
	pthread_mutex_unlock(&fh->lock);
	fh_free(fs, fh);
	fuse_reply_err(req, 0);
}

void hrfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_fh *fh = fh_of(fi);
	int rc = 0;
	if (fh->kind == HRFS_CELL) {
		pthread_mutex_lock(&fh->lock);
		rc = fh_commit_locked(fs, fh, HR_MUT_SYNC);
		pthread_mutex_unlock(&fh->lock);
		if (rc == 0)
			HRFS_RETRY(fs, rc, "fsync", hr_sync(fs->srv));
		if (rc < 0)
			hr_log_error("fs", "fsync: %s", hr_strerror(rc));
	}
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}

int hrfs_fh_stat(struct hrfs *fs, struct fuse_file_info *fi, struct stat *st)
{
	struct hrfs_fh *fh = fh_of(fi);
	if (fh->kind != HRFS_CELL)
		return hrfs_getattr_inode(fs, fh->in, st);
	pthread_mutex_lock(&fh->lock);
	int64_t mt = fh->mtime_ms;
	size_t len = fh->len;
	pthread_mutex_unlock(&fh->lock);
	if (!mt) { /* unchanged: the committed value's timestamp */
		int rc = hrfs_getattr_inode(fs, fh->in, st);
		if (rc < 0)
			return rc;
		mt = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
	}
	hrfs_attr_file(fs, fh->in->ino, len, mt, 0644, st);
	return 0;
}

int hrfs_fh_truncate(struct hrfs *fs, struct hrfs_fh *fh, uint64_t size)
{
	int rc;
	if (size > fs->cfg.max_cell_size)
		return -EFBIG;
	if (fh->scratch) {
		pthread_mutex_lock(&fh->scratch->lock);
		rc = mem_resize(fh->scratch, (size_t)size);
		pthread_mutex_unlock(&fh->scratch->lock);
		return rc;
	}
	if (fh->kind != HRFS_CELL)
		return -EACCES;
	pthread_mutex_lock(&fh->lock);
	rc = buf_resize(fh, (size_t)size);
	if (rc == 0) {
		fh->written = 1;
		fh_mark_dirty(fs, fh);
	}
	pthread_mutex_unlock(&fh->lock);
	return rc;
}

int hrfs_cell_truncate(struct hrfs *fs, struct hrfs_inode *in, uint64_t size)
{
	struct hrfs_path p;
	hr_value v = {0};
	int rc;

	if (size > fs->cfg.max_cell_size)
		return -EFBIG;
	hrfs_ino_path(fs, in, &p);
	HRFS_RETRY(fs, rc, "truncate",
		   hr_get(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len,
			  HR_GET_VALUE, &v));
	if (rc < 0)
		return rc;
	if (v.len == size) {
		free(v.data);
		return 0;
	}
	uint8_t *nb = realloc(v.data, size ? (size_t)size : 1);
	if (!nb) {
		free(v.data);
		return -ENOMEM;
	}
	if (size > v.len)
		memset(nb + v.len, 0, (size_t)size - v.len);
	HRFS_RETRY(fs, rc, "truncate",
		   hr_put(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len, nb,
			  (size_t)size, 0));
	free(nb);
	return rc;
}

void hrfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	struct stat st;
	int rc = 0;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0)
			rc = -EINVAL;
		else if (in->kind == HRFS_ST_FILE)
			rc = -EACCES;
		else if (in->kind != HRFS_CELL && in->kind != HRFS_SCRATCH)
			rc = -EISDIR;
		else if (fi && fi->fh)
			rc = hrfs_fh_truncate(fs, fh_of(fi), (uint64_t)attr->st_size);
		else if (in->kind == HRFS_SCRATCH) {
			if ((uint64_t)attr->st_size > fs->cfg.max_cell_size) {
				rc = -EFBIG;
			} else {
				pthread_mutex_lock(&in->scratch->lock);
				rc = mem_resize(in->scratch, (size_t)attr->st_size);
				pthread_mutex_unlock(&in->scratch->lock);
			}
		} else
			rc = hrfs_cell_truncate(fs, in, (uint64_t)attr->st_size);
	}
	/* Modes, owners and times are not stored: accepted without effect so
	 * that cp -a, rsync -a and tar finish. */
	if (rc == 0 && fi && fi->fh && in->kind == HRFS_CELL)
		rc = hrfs_fh_stat(fs, fi, &st);
	else if (rc == 0)
		rc = hrfs_getattr_inode(fs, in, &st);
	if (rc < 0) {
		if (rc != -EFBIG && rc != -ENOENT)
			hr_log_error("fs", "setattr ino %llu: %s", (unsigned long long)ino,
				     hr_strerror(rc));
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	fuse_reply_attr(req, &st, hrfs_timeout_of(fs, in));
}
