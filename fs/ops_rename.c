/*
 * ops_rename.c — rename. Within one row a cell rename is one atomic row
 * mutation (Put new + DeleteColumn old): the sed -i case. A scratch file
 * renamed onto a real name is stored as one put (synced if it was fsynced):
 * the rsync and editor case. Across rows or tables, and for tables, rows
 * and families: EXDEV, so mv falls back to copy and delete.
 *
 * The source's open-file state (one is made for the rename if the file is
 * not open) and the target's are locked across the mutation, so no store
 * of either can fall between the read of the source and the move: the
 * source's content is its state's (uncommitted writes included), the
 * source inode keeps its state under the new name, and the replaced
 * target's state lives on, unlinked, for its descriptors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

#define FS(req) ((struct hrfs *)fuse_req_userdata(req))

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int in_table_tree(int kind)
{
	return kind == HRFS_TABLE || kind == HRFS_ROW || kind == HRFS_FAMILY;
}

/* After a successful rename: the target's old inode is gone, the source
 * inode now carries the target's name (the kernel moved its dentry).
 * fs->lock held. */
static int finish_move_locked(struct hrfs *fs, struct hrfs_inode *sdir, const char *sname,
			      struct hrfs_inode *ddir, const char *dname, int newkind,
			      const uint8_t *key, size_t key_len)
{
	int rc = 0;
	struct hrfs_inode *old = hrfs_ino_peek_locked(fs, ddir, dname);
	struct hrfs_inode *src = hrfs_ino_peek_locked(fs, sdir, sname);
	if (old && old != src) {
		old->unlinked = 1;
		hrfs_ino_unhash_locked(fs, old);
	}
	if (src) {
		if (src->kind != newkind) {
			if (src->scratch) {
				hrfs_mem_unref_locked(fs, src->scratch);
				src->scratch = NULL;
			}
			src->kind = newkind;
		}
		rc = hrfs_ino_move_locked(fs, src, ddir, dname, key, key_len);
		if (rc < 0) {
			src->unlinked = 1;
			hrfs_ino_unhash_locked(fs, src);
		}
	}
	int64_t now = hrfs_now_ns();
	sdir->dir_mtime_ns = ddir->dir_mtime_ns = now;
	hrfs_dir_changed_locked(fs, sdir);
	if (ddir != sdir)
		hrfs_dir_changed_locked(fs, ddir);
	return rc;
}

static int cell_exists(struct hrfs *fs, const struct hrfs_path *dir, const uint8_t *q, size_t ql)
{
	int rc;
	HRFS_RETRY(fs, rc, "rename (exists)",
		   hr_exists(fs->srv, dir->table, dir->row, dir->row_len, dir->family, q, ql));
	return rc;
}

/* The hashed cell (or scratch) inode (dir, name), referenced, or NULL. */
static struct hrfs_inode *peek_ref(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
				   int kind)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_peek_locked(fs, dir, name);
	if (in && in->kind != kind)
		in = NULL;
	if (in)
		hrfs_ino_ref_locked(in);
	pthread_mutex_unlock(&fs->lock);
	return in;
}

/* Locks two states (either may be NULL) in the lock order of hrfs.h. */
static void lock_pair(struct hrfs_of *a, uint64_t ia, struct hrfs_of *b, uint64_t ib)
{
	if (a && b && a != b && ib < ia) {
		pthread_mutex_lock(&b->lock);
		pthread_mutex_lock(&a->lock);
		return;
	}
	if (a)
		pthread_mutex_lock(&a->lock);
	if (b && b != a)
		pthread_mutex_lock(&b->lock);
}

static void unlock_pair(struct hrfs_of *a, struct hrfs_of *b)
{
	if (b && b != a)
		pthread_mutex_unlock(&b->lock);
	if (a)
		pthread_mutex_unlock(&a->lock);
}

/* The replaced target: its descriptors keep its content. of->lock held. */
static int keep_target(struct hrfs *fs, struct hrfs_of *tof)
{
	return tof && tof->init ? hrfs_of_load(fs, tof) : 0;
}

/* Put (dp, dkey) = value with attributes, and delete (sp, skey) unless
 * skey is NULL, as one row mutation: only if the source is still exactly
 * the version src (absent when src is NULL), and with noreplace only if the
 * target is absent. -ECANCELED when a check fails. On success *stored is
 * the version the target got. */
static int move_mutate(struct hrfs *fs, const struct hrfs_path *sp, const uint8_t *skey, size_t sk,
		       const struct hrfs_ver *src, const struct hrfs_path *dp, const uint8_t *dkey,
		       size_t dk, const void *value, size_t len, const hr_file_attr *attr,
		       int noreplace, unsigned flags, struct hrfs_ver *stored)
{
	struct hrfs_path tp = *dp;
	uint8_t tag[HR_FILE_ATTR_TAG_LEN];
	hr_mcell mc[2];
	hr_check ck[2];
	hr_stamp st;
	size_t nck = 0;
	int rc;
	memcpy(tp.qual, dkey, dk);
	tp.qual_len = dk;
	hrfs_cell_mcell(&tp, value, len, attr, tag, &mc[0]);
	memset(&mc[1], 0, sizeof(mc[1]));
	memset(ck, 0, sizeof(ck));
	if (skey) {
		mc[1].family = sp->family;
		mc[1].qualifier = skey;
		mc[1].qualifier_len = sk;
		mc[1].ts = HR_TS_NOW;
		mc[1].type = HR_DELETE_COLUMN;
		ck[nck].family = sp->family;
		ck[nck].qualifier = skey;
		ck[nck].qualifier_len = sk;
		ck[nck].op = src ? HR_CHECK_VERSION : HR_CHECK_ABSENT;
		if (src) {
			ck[nck].ts = src->ts;
			ck[nck].seq = src->seq;
		}
		nck++;
	}
	if (noreplace) {
		ck[nck].family = dp->family;
		ck[nck].qualifier = dkey;
		ck[nck].qualifier_len = dk;
		ck[nck].op = HR_CHECK_ABSENT;
		nck++;
	}
	HRFS_RETRY(fs, rc, "rename",
		   hr_check_and_mutate_stamped(fs->srv, dp->table, dp->row, dp->row_len, ck, nck,
					       mc, skey ? 2 : 1, flags, &st));
	if (rc == 0) {
		/* mc[0], the put of the target: its stamp */
		stored->ts = st.ts;
		stored->seq = st.seq;
		stored->len = len;
	}
	return rc;
}

/* A check failed: if the target exists now, the answer to a no-replace
 * rename is EEXIST (else the source changed: try again). */
static int noreplace_conflict(struct hrfs *fs, const struct hrfs_path *dp, const uint8_t *dkey,
			      size_t dk)
{
	int rc = cell_exists(fs, dp, dkey, dk);
	return rc > 0 ? -EEXIST : rc;
}

/* The target's listing entries after it received a cell. fs->lock held. */
static void target_arrived_locked(struct hrfs *fs, const struct hrfs_path *dp, const char *dmp)
{
	struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
	if (t && t->kind == HRFS_MEM_CELL)
		hrfs_mem_del_locked(fs, dmp);
	struct hrfs_path cell = *dp;
	snprintf(cell.mpath, sizeof(cell.mpath), "%s", dmp);
	hrfs_mem_cell_arrived_locked(fs, &cell);
}

static int rename_scratch_to_scratch(struct hrfs *fs, struct hrfs_inode *sdir, const char *name,
				     const char *smp, struct hrfs_inode *ddir, const char *newname,
				     const char *dmp, unsigned flags)
{
	int rc = 0;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, smp);
	struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
	if (!m || m->kind != HRFS_MEM_SCRATCH)
		rc = -ENOENT;
	else if (t && t != m && (flags & RENAME_NOREPLACE))
		rc = -EEXIST;
	else if (t && t->kind != HRFS_MEM_SCRATCH)
		rc = -EISDIR;
	if (rc == 0 && t != m) {
		if (t)
			hrfs_mem_del_locked(fs, dmp);
		rc = hrfs_mem_rename_locked(fs, m, dmp);
	}
	if (rc == 0)
		rc = finish_move_locked(fs, sdir, name, ddir, newname, HRFS_SCRATCH, NULL, 0);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* A scratch file onto a cell: one put of its data. Its state becomes the
 * cell's (descriptors still open write to the cell from now on). */
static int rename_scratch_to_cell(struct hrfs *fs, struct hrfs_inode *sdir, const char *name,
				  const char *smp, struct hrfs_inode *ddir, const char *newname,
				  const char *dmp, const struct hrfs_path *dp, const uint8_t *dkey,
				  size_t dk, unsigned flags)
{
	struct hrfs_ver v;
	int rc = 0;

	struct hrfs_mem *m = hrfs_mem_get_scratch(fs, smp);
	if (!m)
		return -ENOENT;
	struct hrfs_inode *sin = peek_ref(fs, sdir, name, HRFS_SCRATCH);
	struct hrfs_inode *tin = peek_ref(fs, ddir, newname, HRFS_CELL);
	struct hrfs_of *tof = tin ? hrfs_of_get(fs, tin, 0) : NULL;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_of *sof = m->of;
	sof->refs++;
	pthread_mutex_unlock(&fs->lock);

	/* a cell's state before a scratch file's */
	if (tof)
		pthread_mutex_lock(&tof->lock);
	pthread_mutex_lock(&sof->lock);
	if ((flags & RENAME_NOREPLACE) && tof && tof->init)
		rc = -EEXIST; /* a created cell, not stored yet */
	if (rc == 0)
		rc = keep_target(fs, tof);
	pthread_mutex_lock(&fs->lock);
	if (rc == 0 && (m->of != sof || !m->listed || strcmp(m->path, smp) != 0))
		rc = -ENOENT; /* renamed or removed meanwhile */
	pthread_mutex_unlock(&fs->lock);
	if (rc == 0) {
		rc = move_mutate(fs, NULL, NULL, 0, NULL, dp, dkey, dk, sof->buf, sof->len,
				 &sof->attr, (flags & RENAME_NOREPLACE) != 0,
				 sof->synced ? HR_MUT_SYNC : 0, &v);
		if (rc == -ECANCELED)
			rc = -EEXIST; /* the only check: the target is absent */
	}
	if (rc == 0) {
		sof->stored = 1;
		sof->base = v;
		sof->dirty = 0;
		sof->synced = 0;
		pthread_mutex_lock(&fs->lock);
		/* The registry's reference on the data becomes the cell
		 * inode's state reference (dropped below if there is none). */
		m->of = NULL;
		hrfs_mem_del_locked(fs, smp);
		target_arrived_locked(fs, dp, dmp);
		rc = finish_move_locked(fs, sdir, name, ddir, newname, HRFS_CELL, dkey, dk);
		sof->scratch = 0;
		sof->orphan = 0;
		if (sin && !sin->unlinked && !sin->of) {
			sof->in = sin;
			hrfs_ino_ref_locked(sin);
			sin->of = sof;
			sof->pages_ok = 1; /* every change went through this inode */
		}
		/* (else no inode: the state goes with its last reference) */
		sof->refs--; /* the registry's: a cell state lives for its holders */
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_mutex_unlock(&sof->lock);
	if (tof) {
		pthread_mutex_unlock(&tof->lock);
		hrfs_of_put(fs, tof);
	}
	hrfs_of_put(fs, sof);
	pthread_mutex_lock(&fs->lock);
	hrfs_mem_unref_locked(fs, m);
	pthread_mutex_unlock(&fs->lock);
	if (sin)
		hrfs_ino_unref(fs, sin);
	if (tin)
		hrfs_ino_unref(fs, tin);
	return rc;
}

/* A cell onto a name in the same row: Put(new) + DeleteColumn(old). */
static int rename_cell(struct hrfs *fs, struct hrfs_inode *sdir, const char *name,
		       const char *smp, const struct hrfs_path *sp, const uint8_t *skey, size_t sk,
		       struct hrfs_inode *ddir, const char *newname, const char *dmp,
		       const struct hrfs_path *dp, const uint8_t *dkey, size_t dk, unsigned flags)
{
	struct hrfs_path srcp = *sp, tp = *dp;
	struct hrfs_ver v;
	int rc = 0;

	memcpy(srcp.qual, skey, sk);
	srcp.qual_len = sk;
	memcpy(tp.qual, dkey, dk);
	tp.qual_len = dk;
	struct hrfs_inode *sin = peek_ref(fs, sdir, name, HRFS_CELL);
	struct hrfs_inode *tin = peek_ref(fs, ddir, newname, HRFS_CELL);
	struct hrfs_of *sof = sin ? hrfs_of_get(fs, sin, 1) : NULL;
	struct hrfs_of *tof = tin ? hrfs_of_get(fs, tin, 0) : NULL;
	if (!sof) {
		rc = sin ? -ENOMEM : -ENOENT;
		goto out;
	}
	lock_pair(sof, sin->ino, tof, tin ? tin->ino : 0);
	if ((flags & RENAME_NOREPLACE) && tof && tof->init)
		rc = -EEXIST; /* a created cell, not stored yet */
	if (rc == 0)
		rc = keep_target(fs, tof);
	/* The source's content is its state's; the mutation checks that the
	 * stored source is still the version the state knows (or still
	 * absent), so a write that reached the store some other way between
	 * the read and the move is never lost: then read again, and retry. */
	for (unsigned attempt = 0; rc == 0; attempt++) {
		if (!sof->init)
			rc = hrfs_of_init(fs, sof, 1);
		if (rc == 0)
			rc = hrfs_of_load(fs, sof);
		if (rc == 0)
			rc = move_mutate(fs, &srcp, skey, sk, sof->stored ? &sof->base : NULL, &tp,
					 dkey, dk, sof->buf, sof->len, &sof->attr,
					 (flags & RENAME_NOREPLACE) != 0, 0, &v);
		if (rc != -ECANCELED)
			break;
		if ((flags & RENAME_NOREPLACE) && (rc = noreplace_conflict(fs, dp, dkey, dk)) != 0)
			break;
		rc = -ECANCELED;
		if (attempt >= 16) {
			hr_log_error("fs", "rename %s: the source kept changing", smp);
			rc = -EAGAIN;
			break;
		}
		if (sof->dirty) {
			/* its own content wins (as its next store would):
			 * only learn the stored version it replaces */
			struct hrfs_ver cur;
			int r = hrfs_cell_read(fs, &srcp, NULL, &cur, NULL);
			if (r < 0 && r != -ENOENT) {
				rc = r;
				break;
			}
			sof->stored = r == 0;
			if (r == 0)
				sof->base = cur;
			rc = 0;
		} else {
			hrfs_of_reset(sof);
			rc = 0;
		}
	}
	if (rc == 0) {
		sof->stored = 1;
		sof->base = v;
		sof->dirty = 0;
		pthread_mutex_lock(&fs->lock);
		struct hrfs_mem *pend = hrfs_mem_find_locked(fs, smp);
		if (pend && pend->kind == HRFS_MEM_CELL)
			hrfs_mem_del_locked(fs, smp);
		sof->created = 0;
		target_arrived_locked(fs, dp, dmp);
		rc = finish_move_locked(fs, sdir, name, ddir, newname, HRFS_CELL, dkey, dk);
		pthread_mutex_unlock(&fs->lock);
	}
	unlock_pair(sof, tof);
out:
	if (sof)
		hrfs_of_put(fs, sof);
	if (tof)
		hrfs_of_put(fs, tof);
	if (sin)
		hrfs_ino_unref(fs, sin);
	if (tin)
		hrfs_ino_unref(fs, tin);
	return rc;
}

void hrfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *sdir = hrfs_ino_find(fs, parent), *ddir = hrfs_ino_find(fs, newparent);
	struct hrfs_path sp, dp;
	char smp[HRFS_PATH_MAX], dmp[HRFS_PATH_MAX];
	uint8_t skey[HRFS_NAME_MAX], dkey[HRFS_NAME_MAX];
	int rc, sk, dk;

	if (!sdir || !ddir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (strlen(newname) > HRFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (!in_table_tree(sdir->kind) || !in_table_tree(ddir->kind)) {
		int st = sdir->kind == HRFS_ROOT || ddir->kind == HRFS_ROOT;
		fuse_reply_err(req, st && strcmp(name, HRFS_STATUS_DIR) != 0 ? EXDEV : EROFS);
		return;
	}
	hrfs_ino_path(fs, sdir, &sp);
	hrfs_ino_path(fs, ddir, &dp);
	if (hrfs_child_mpath(&sp, name, smp) < 0 || hrfs_child_mpath(&dp, newname, dmp) < 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (strcmp(sp.table, dp.table) != 0) {
		fuse_reply_err(req, EXDEV);
		return;
	}

	if (hrfs_name_is_scratch(name)) {
		if (hrfs_name_is_scratch(newname)) {
			rc = rename_scratch_to_scratch(fs, sdir, name, smp, ddir, newname, dmp, flags);
		} else {
			rc = ddir->kind != HRFS_FAMILY ? -EPERM : 0;
			dk = rc ? rc : hrfs_name_decode(newname, dkey);
			if (dk < 0)
				rc = dk;
			if (rc == 0)
				rc = rename_scratch_to_cell(fs, sdir, name, smp, ddir, newname, dmp, &dp,
							    dkey, (size_t)dk, flags);
		}
		if (rc < 0 && rc != -EEXIST && rc != -EPERM && rc != -EINVAL && rc != -ENOENT)
			hr_log_error("fs", "rename %s -> %s: %s", smp, dmp, hr_strerror(rc));
		fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
		return;
	}

	/* A table, row or family directory: not renamed (EXDEV: mv copies). */
	if (sdir->kind != HRFS_FAMILY) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	/* A real cell. */
	if (hrfs_name_is_scratch(newname) || ddir->kind != HRFS_FAMILY ||
	    sp.row_len != dp.row_len || memcmp(sp.row, dp.row, sp.row_len) != 0) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	sk = hrfs_name_decode(name, skey);
	dk = hrfs_name_decode(newname, dkey);
	if (sk < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (dk < 0) {
		fuse_reply_err(req, -dk);
		return;
	}
	if (strcmp(sp.family, dp.family) == 0 && sk == dk && memcmp(skey, dkey, (size_t)sk) == 0) {
		fuse_reply_err(req, 0);
		return;
	}
	rc = rename_cell(fs, sdir, name, smp, &sp, skey, (size_t)sk, ddir, newname, dmp, &dp, dkey,
			 (size_t)dk, flags);
	if (rc < 0 && rc != -ENOENT && rc != -EEXIST)
		hr_log_error("fs", "rename %s -> %s: %s", smp, dmp, hr_strerror(rc));
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}
