/*
 * ops_rename.c — rename. Within one row a cell rename is one atomic row
 * mutation (Put new + DeleteColumn old): the sed -i case. A scratch file
 * renamed onto a real name is stored as one put: the rsync and editor case.
 * Across rows or tables, and for tables, rows and families: EXDEV, so mv
 * falls back to copy and delete.
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
 * inode now carries the target's name (the kernel moved its dentry). */
static int finish_move(struct hrfs *fs, struct hrfs_inode *sdir, const char *sname,
		       struct hrfs_inode *ddir, const char *dname, int newkind, const uint8_t *key,
		       size_t key_len)
{
	int rc = 0;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *old = hrfs_ino_peek_locked(fs, ddir, dname);
	if (old) {
		old->unlinked = 1;
		hrfs_ino_unhash_locked(fs, old);
	}
	struct hrfs_inode *src = hrfs_ino_peek_locked(fs, sdir, sname);
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
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int cell_exists(struct hrfs *fs, const struct hrfs_path *dir, const uint8_t *q, size_t ql)
{
	int rc;
	HRFS_RETRY(fs, rc, "rename (exists)",
		   hr_exists(fs->srv, dir->table, dir->row, dir->row_len, dir->family, q, ql));
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
		struct hrfs_mem *m = hrfs_mem_get_scratch(fs, smp);
		if (!m) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (hrfs_name_is_scratch(newname)) {
			/* scratch -> scratch: memory only */
			pthread_mutex_lock(&fs->lock);
			struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
			rc = 0;
			if (t && t != m && (flags & RENAME_NOREPLACE))
				rc = -EEXIST;
			else if (t && t->kind != HRFS_MEM_SCRATCH)
				rc = -EISDIR;
			if (rc == 0 && t != m) {
				if (t)
					hrfs_mem_del_locked(fs, dmp);
				rc = hrfs_mem_rename_locked(fs, m, dmp);
			}
			hrfs_mem_unref_locked(fs, m);
			pthread_mutex_unlock(&fs->lock);
			if (rc == 0)
				rc = finish_move(fs, sdir, name, ddir, newname, HRFS_SCRATCH, NULL, 0);
			fuse_reply_err(req, rc < 0 ? -rc : 0);
			return;
		}
		/* scratch -> real cell: one put of its data */
		rc = 0;
		if (ddir->kind != HRFS_FAMILY)
			rc = -EPERM;
		dk = rc ? rc : hrfs_name_decode(newname, dkey);
		if (dk < 0)
			rc = dk;
		if (rc == 0 && (flags & RENAME_NOREPLACE)) {
			rc = cell_exists(fs, &dp, dkey, (size_t)dk);
			rc = rc > 0 ? -EEXIST : rc;
		}
		if (rc == 0) {
			pthread_mutex_lock(&m->lock);
			uint8_t *copy = malloc(m->len ? m->len : 1);
			size_t len = m->len;
			if (copy && len)
				memcpy(copy, m->data, len);
			pthread_mutex_unlock(&m->lock);
			if (!copy)
				rc = -ENOMEM;
			else
				HRFS_RETRY(fs, rc, "rename (store scratch)",
					   hr_put(fs->srv, dp.table, dp.row, dp.row_len, dp.family, dkey,
						  (size_t)dk, copy, len, 0));
			free(copy);
		}
		pthread_mutex_lock(&fs->lock);
		if (rc == 0) {
			hrfs_mem_del_locked(fs, smp);
			struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
			if (t && t->kind == HRFS_MEM_CELL)
				hrfs_mem_del_locked(fs, dmp);
			struct hrfs_path cell = dp;
			snprintf(cell.mpath, sizeof(cell.mpath), "%s", dmp);
			hrfs_mem_cell_arrived_locked(fs, &cell);
		}
		hrfs_mem_unref_locked(fs, m);
		pthread_mutex_unlock(&fs->lock);
		if (rc == 0)
			rc = finish_move(fs, sdir, name, ddir, newname, HRFS_CELL, dkey, (size_t)dk);
		if (rc < 0 && rc != -EEXIST && rc != -EPERM && rc != -EINVAL)
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
	if (flags & RENAME_NOREPLACE) {
		rc = cell_exists(fs, &dp, dkey, (size_t)dk);
		if (rc != 0) {
			fuse_reply_err(req, rc > 0 ? EEXIST : hrfs_errno(rc));
			return;
		}
	}
	/* A created cell not committed yet exists only in memory: move it
	 * there, and drop what the target held (it is replaced). */
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *pend = hrfs_mem_find_locked(fs, smp);
	int pending = pend && pend->kind == HRFS_MEM_CELL;
	pthread_mutex_unlock(&fs->lock);
	hr_value v = {0};
	HRFS_RETRY(fs, rc, "rename (read)",
		   hr_get(fs->srv, sp.table, sp.row, sp.row_len, sp.family, skey, (size_t)sk,
			  HR_GET_VALUE, &v));
	if (rc == -ENOENT && pending) {
		HRFS_RETRY(fs, rc, "rename (replace)",
			   hr_delete_column(fs->srv, dp.table, dp.row, dp.row_len, dp.family, dkey,
					    (size_t)dk, 0));
		if (rc == 0) {
			pthread_mutex_lock(&fs->lock);
			struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
			if (t && t->kind == HRFS_MEM_CELL)
				hrfs_mem_del_locked(fs, dmp);
			pend = hrfs_mem_find_locked(fs, smp);
			if (pend)
				rc = hrfs_mem_rename_locked(fs, pend, dmp);
			pthread_mutex_unlock(&fs->lock);
		}
	} else if (rc == 0) {
		hr_mcell mc[2];
		memset(mc, 0, sizeof(mc));
		mc[0].family = dp.family;
		mc[0].qualifier = dkey;
		mc[0].qualifier_len = (size_t)dk;
		mc[0].ts = HR_TS_NOW;
		mc[0].type = HR_PUT;
		mc[0].value = v.data ? v.data : "";
		mc[0].value_len = v.len;
		mc[1].family = sp.family;
		mc[1].qualifier = skey;
		mc[1].qualifier_len = (size_t)sk;
		mc[1].ts = HR_TS_NOW;
		mc[1].type = HR_DELETE_COLUMN;
		HRFS_RETRY(fs, rc, "rename",
			   hr_mutate(fs->srv, dp.table, dp.row, dp.row_len, mc, 2, 0));
		if (rc == 0) {
			pthread_mutex_lock(&fs->lock);
			struct hrfs_mem *t = hrfs_mem_find_locked(fs, dmp);
			if (t && t->kind == HRFS_MEM_CELL)
				hrfs_mem_del_locked(fs, dmp);
			struct hrfs_path cell = dp;
			snprintf(cell.mpath, sizeof(cell.mpath), "%s", dmp);
			hrfs_mem_cell_arrived_locked(fs, &cell);
			pthread_mutex_unlock(&fs->lock);
		}
	}
	free(v.data);
	if (rc == 0)
		rc = finish_move(fs, sdir, name, ddir, newname, HRFS_CELL, dkey, (size_t)dk);
	if (rc < 0 && rc != -ENOENT)
		hr_log_error("fs", "rename %s -> %s: %s", smp, dmp, hr_strerror(rc));
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}
