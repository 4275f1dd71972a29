/*
 * ops_dir.c — namespace operations: lookup, forget, getattr, mkdir, rmdir,
 * unlink, fsyncdir, statfs. Engine calls run without fs->lock held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

#define FS(req) ((struct hrfs *)fuse_req_userdata(req))

static int is_status_kind(int kind)
{
	return hrfs_kind_is_status(kind);
}

static int in_table_tree(int kind)
{
	return kind == HRFS_TABLE || kind == HRFS_ROW || kind == HRFS_FAMILY;
}

/* Creates/looks up the child inode (nlookup + 1) and replies with it. */
static void reply_child(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *parent, int kind,
			const char *name, const uint8_t *key, size_t key_len, struct stat *st,
			struct hrfs_mem *scratch)
{
	struct fuse_entry_param e;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, parent, kind, name, key, key_len, 1);
	if (in && scratch && in->scratch != scratch) {
		if (in->scratch)
			hrfs_mem_unref_locked(fs, in->scratch);
		hrfs_mem_ref_locked(scratch);
		in->scratch = scratch;
	}
	if (in && S_ISDIR(st->st_mode) && in->dir_mtime_ns) {
		st->st_mtim.tv_sec = (time_t)(in->dir_mtime_ns / 1000000000LL);
		st->st_mtim.tv_nsec = (long)(in->dir_mtime_ns % 1000000000LL);
		st->st_ctim = st->st_mtim;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	st->st_ino = in->ino;
	hrfs_fill_entry(fs, in, st, &e);
	if (fuse_reply_entry(req, &e) != 0)
		hrfs_ino_forget(fs, in->ino, 1);
}

/* A directory's listing changed through this mount: its mtime is now, and
 * the kernel's copy of it (and of its ancestors') is out of date. */
static void dir_touch(struct hrfs *fs, struct hrfs_inode *dir)
{
	pthread_mutex_lock(&fs->lock);
	dir->dir_mtime_ns = hrfs_now_ns();
	if (dir->kind == HRFS_ROOT)
		hrfs_root_changed_locked(fs);
	else
		hrfs_dir_changed_locked(fs, dir);
	pthread_mutex_unlock(&fs->lock);
}

static void reply_negative(fuse_req_t req, struct hrfs *fs)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.entry_timeout = fs->timeout;
	hrfs_metrics_error(req, ENOENT); /* what the caller gets */
	fuse_reply_entry(req, &e);
}

/* Looks up a scratch file; replies. */
static void lookup_scratch(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *dir,
			   const struct hrfs_path *dp, const char *name)
{
	char mp[HRFS_PATH_MAX];
	struct stat st;
	if (hrfs_child_mpath(dp, name, mp) < 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	struct hrfs_mem *m = hrfs_mem_get_scratch(fs, mp);
	if (!m) {
		reply_negative(req, fs);
		return;
	}
	/* m's reference keeps its data alive while it is read */
	pthread_mutex_lock(&m->of->lock);
	hrfs_of_stat(fs, m->of, 0, &st);
	pthread_mutex_unlock(&m->of->lock);
	reply_child(req, fs, dir, HRFS_SCRATCH, name, NULL, 0, &st, m);
	pthread_mutex_lock(&fs->lock);
	hrfs_mem_unref_locked(fs, m);
	pthread_mutex_unlock(&fs->lock);
}

static int mem_dir_present(struct hrfs *fs, const char *mp)
{
	pthread_mutex_lock(&fs->lock);
	int r = hrfs_mem_find_locked(fs, mp) != NULL || hrfs_mem_has_children_locked(fs, mp);
	pthread_mutex_unlock(&fs->lock);
	return r;
}

void hrfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	struct stat st;
	uint8_t key[HRFS_NAME_MAX];
	char mp[HRFS_PATH_MAX];
	int rc, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strlen(name) > HRFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	switch (dir->kind) {
	case HRFS_ROOT:
		if (strcmp(name, HRFS_STATUS_DIR) == 0) {
			hrfs_attr_dir(fs, 0, &st);
			reply_child(req, fs, dir, HRFS_ST_ROOT, name, NULL, 0, &st, NULL);
			return;
		}
		if (!hr_table_name_valid(name)) {
			reply_negative(req, fs);
			return;
		}
		{
			hr_table_schema *sc = malloc(sizeof(*sc));
			if (!sc) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
			HRFS_RETRY(fs, rc, "lookup table", hr_table_schema_get(fs->srv, name, sc));
			free(sc);
		}
		if (rc == -ENOENT) {
			reply_negative(req, fs);
			return;
		}
		if (rc < 0)
			goto fail;
		hrfs_attr_dir(fs, 0, &st);
		reply_child(req, fs, dir, HRFS_TABLE, name, NULL, 0, &st, NULL);
		return;
	case HRFS_ST_ROOT:
	case HRFS_ST_TABLES:
	case HRFS_ST_TABLE:
	case HRFS_ST_VERSIONS:
	case HRFS_ST_ASOF:
	case HRFS_ST_ASOF_TS:
	case HRFS_ST_SNAPS:
	case HRFS_ST_SNAP_TABLE:
	case HRFS_HV_TABLE:
	case HRFS_HV_ROW:
	case HRFS_HV_FAMILY:
	case HRFS_HV_VCELL: {
		struct hrfs_inode *in = NULL;
		rc = hrfs_kind_is_hist(dir->kind) ? hrfs_hist_lookup(fs, dir, name, &in)
						  : hrfs_status_lookup(fs, dir, name, &in);
		if (rc == -ENOENT) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (rc < 0)
			goto fail;
		rc = hrfs_getattr_inode(fs, in, &st);
		if (rc < 0) {
			hrfs_ino_forget(fs, in->ino, 1);
			goto fail;
		}
		struct fuse_entry_param e;
		hrfs_fill_entry(fs, in, &st, &e);
		if (fuse_reply_entry(req, &e) != 0)
			hrfs_ino_forget(fs, in->ino, 1);
		return;
	}
	case HRFS_TABLE:
	case HRFS_ROW:
	case HRFS_FAMILY:
		break;
	default:
		fuse_reply_err(req, ENOTDIR);
		return;
	}

	if (hrfs_name_is_scratch(name)) {
		lookup_scratch(req, fs, dir, &dp, name);
		return;
	}
	if (dir->kind == HRFS_ROW) {
		if (!hr_family_name_valid(name)) {
			reply_negative(req, fs);
			return;
		}
		klen = (int)strlen(name);
		memcpy(key, name, (size_t)klen);
	} else {
		klen = hrfs_name_decode(name, key);
		if (klen < 0 || (dir->kind == HRFS_TABLE && klen == 0)) {
			reply_negative(req, fs);
			return;
		}
	}
	if (hrfs_child_mpath(&dp, name, mp) < 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}

	if (dir->kind == HRFS_TABLE || dir->kind == HRFS_ROW) {
		int child = dir->kind == HRFS_TABLE ? HRFS_ROW : HRFS_FAMILY;
		if (!mem_dir_present(fs, mp)) {
			if (child == HRFS_ROW)
				HRFS_RETRY(fs, rc, "lookup row",
					   hr_exists(fs->srv, dp.table, key, (size_t)klen, NULL, NULL, 0));
			else
				HRFS_RETRY(fs, rc, "lookup family",
					   hr_exists(fs->srv, dp.table, dp.row, dp.row_len, name, NULL, 0));
			if (rc == 0 || rc == -ENOENT) {
				reply_negative(req, fs);
				return;
			}
			if (rc < 0)
				goto fail;
		}
		hrfs_attr_dir(fs, 0, &st);
		reply_child(req, fs, dir, child, name, key, (size_t)klen, &st, NULL);
		return;
	}

	/* A cell: its open-file state if it has one (a created cell not
	 * stored yet exists), else the stored cell. */
	{
		pthread_mutex_lock(&fs->lock);
		struct hrfs_inode *cur = hrfs_ino_peek_locked(fs, dir, name);
		if (cur && cur->kind != HRFS_CELL)
			cur = NULL;
		if (cur)
			hrfs_ino_ref_locked(cur);
		pthread_mutex_unlock(&fs->lock);
		struct hrfs_of *of = cur ? hrfs_of_get(fs, cur, 0) : NULL;
		rc = -ENOENT;
		if (of) {
			pthread_mutex_lock(&of->lock);
			if (of->init) {
				hrfs_of_stat(fs, of, 0, &st);
				rc = 0;
			}
			pthread_mutex_unlock(&of->lock);
			hrfs_of_put(fs, of);
		}
		if (rc == -ENOENT) {
			struct hrfs_path cp = dp;
			struct hrfs_ver v;
			hr_file_attr a;
			memcpy(cp.qual, key, (size_t)klen);
			cp.qual_len = (size_t)klen;
			rc = hrfs_cell_read(fs, &cp, NULL, &v, &a);
			if (rc == 0) {
				hrfs_attr_file(fs, 0, v.len, &a, &st);
				if (cur)
					hrfs_cell_seen(fs, cur, &v);
			} else if (rc == -ENOENT && cur) {
				hrfs_cell_seen(fs, cur, NULL);
			}
		}
		if (cur)
			hrfs_ino_unref(fs, cur);
		if (rc == -ENOENT) {
			reply_negative(req, fs);
			return;
		}
		if (rc < 0)
			goto fail;
	}
	reply_child(req, fs, dir, HRFS_CELL, name, key, (size_t)klen, &st, NULL);
	return;
fail:
	hr_log_error("fs", "lookup %s/%s: %s", dp.mpath, name, hr_strerror(rc));
	fuse_reply_err(req, hrfs_errno(rc));
}

void hrfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	hrfs_ino_forget(FS(req), ino, nlookup);
	fuse_reply_none(req);
}

void hrfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		hrfs_ino_forget(FS(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void hrfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	struct stat st;
	int rc;
	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Asked through an open file (fstat): its state, also once the file
	 * was unlinked. */
	if (fi && fi->fh && (in->kind == HRFS_CELL || in->kind == HRFS_SCRATCH))
		rc = hrfs_fh_getattr(fs, fi, &st);
	else
		rc = hrfs_getattr_inode(fs, in, &st);
	if (rc < 0) {
		if (rc != -ENOENT)
			hr_log_error("fs", "getattr ino %llu: %s", (unsigned long long)ino,
				     hr_strerror(rc));
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	fuse_reply_attr(req, &st, hrfs_timeout_of(fs, in));
}

/* A family made through the mount: the engine's defaults, with the
 * history and compression settings of the configuration
 * (default_max_versions, default_keep_deleted_cells, default_compression). */
static void mount_family(const struct hrfs *fs, hr_family_schema *f, const char *name)
{
	hr_family_defaults(f, name);
	if (fs->cfg.default_max_versions)
		f->max_versions = fs->cfg.default_max_versions;
	f->keep_deleted_cells = fs->cfg.default_keep_deleted_cells ? 1 : 0;
	f->compression = (uint8_t)fs->cfg.default_compression;
}

/* Parses cfg.default_families ("cf,meta") into a schema. */
static int default_schema(const struct hrfs *fs, const char *table, hr_table_schema *sc)
{
	char list[sizeof(fs->cfg.default_families)], *save = NULL;
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "%s", table);
	snprintf(list, sizeof(list), "%s", fs->cfg.default_families);
	for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (sc->nfamilies >= HR_MAX_FAMILIES || !hr_family_name_valid(tok))
			return -EINVAL;
		mount_family(fs, &sc->families[sc->nfamilies++], tok);
	}
	if (sc->nfamilies == 0)
		mount_family(fs, &sc->families[sc->nfamilies++], "cf");
	return 0;
}

static int table_has_family(struct hrfs *fs, const char *table, const char *family)
{
	int rc;
	hr_table_schema *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	HRFS_RETRY(fs, rc, "schema", hr_table_schema_get(fs->srv, table, sc));
	if (rc == 0) {
		rc = 0;
		for (uint32_t i = 0; i < sc->nfamilies; i++)
			if (strcmp(sc->families[i].name, family) == 0)
				rc = 1;
	}
	free(sc);
	return rc;
}

/* mkdir snapshots/<t>/<name>: takes a snapshot. */
static void snap_mkdir(fuse_req_t req, struct hrfs *fs, struct hrfs_inode *dir, const char *name)
{
	struct hrfs_inode *in = NULL;
	struct fuse_entry_param e;
	struct stat st;
	int rc = hrfs_snap_mkdir(fs, dir, name, &in);
	if (rc == 0 && (rc = hrfs_getattr_inode(fs, in, &st)) < 0)
		hrfs_ino_forget(fs, in->ino, 1);
	if (rc < 0) {
		if (rc != -EEXIST && rc != -EINVAL && rc != -ENOENT)
			hr_log_error("fs", "mkdir snapshot %s: %s", name, hr_strerror(rc));
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	hrfs_fill_entry(fs, in, &st, &e);
	if (fuse_reply_entry(req, &e) != 0)
		hrfs_ino_forget(fs, in->ino, 1);
}

void hrfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	struct stat st;
	uint8_t key[HRFS_NAME_MAX];
	char mp[HRFS_PATH_MAX];
	int rc = 0, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strlen(name) > HRFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	if (dir->kind == HRFS_ST_SNAP_TABLE) {
		snap_mkdir(req, fs, dir, name);
		return;
	}
	if (is_status_kind(dir->kind) ||
	    (dir->kind == HRFS_ROOT && strcmp(name, HRFS_STATUS_DIR) == 0)) {
		fuse_reply_err(req, dir->kind == HRFS_ROOT ? EEXIST : EROFS);
		return;
	}
	switch (dir->kind) {
	case HRFS_ROOT: {
		hr_table_schema *sc = malloc(sizeof(*sc));
		if (!sc) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		rc = hr_table_name_valid(name) ? default_schema(fs, name, sc) : -EINVAL;
		if (rc == 0)
			HRFS_RETRY(fs, rc, "mkdir table", hr_table_create(fs->srv, sc));
		free(sc);
		if (rc < 0)
			goto fail;
		dir_touch(fs, dir);
		hrfs_attr_dir(fs, 0, &st);
		reply_child(req, fs, dir, HRFS_TABLE, name, NULL, 0, &st, NULL);
		return;
	}
	case HRFS_TABLE:
		klen = hrfs_name_is_scratch(name) ? -EINVAL : hrfs_name_decode(name, key);
		if (klen == 0)
			klen = -EINVAL;
		if (klen < 0) {
			rc = klen;
			goto fail;
		}
		if ((rc = hrfs_child_mpath(&dp, name, mp)) < 0)
			goto fail;
		if (mem_dir_present(fs, mp)) {
			rc = -EEXIST;
			goto fail;
		}
		HRFS_RETRY(fs, rc, "mkdir row",
			   hr_exists(fs->srv, dp.table, key, (size_t)klen, NULL, NULL, 0));
		if (rc > 0)
			rc = -EEXIST;
		if (rc < 0)
			goto fail;
		pthread_mutex_lock(&fs->lock);
		rc = hrfs_mem_add_locked(fs, mp, HRFS_MEM_ROW) ? 0 : -ENOMEM;
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			goto fail;
		dir_touch(fs, dir);
		hrfs_attr_dir(fs, 0, &st);
		reply_child(req, fs, dir, HRFS_ROW, name, key, (size_t)klen, &st, NULL);
		return;
	case HRFS_ROW:
		if (!hr_family_name_valid(name)) {
			rc = -EINVAL;
			goto fail;
		}
		if ((rc = hrfs_child_mpath(&dp, name, mp)) < 0)
			goto fail;
		rc = table_has_family(fs, dp.table, name);
		if (rc == 0) {
			if (!fs->cfg.auto_create_families) {
				rc = -ENOENT;
				goto fail;
			}
			hr_family_schema f;
			mount_family(fs, &f, name);
			HRFS_RETRY(fs, rc, "mkdir family (schema)", hr_family_add(fs->srv, dp.table, &f));
			if (rc == -EEXIST)
				rc = 0;
			if (rc == 0)
				hr_log_info("fs", "table %s: added family %s", dp.table, name);
		}
		if (rc < 0)
			goto fail;
		if (mem_dir_present(fs, mp)) {
			rc = -EEXIST;
			goto fail;
		}
		HRFS_RETRY(fs, rc, "mkdir family",
			   hr_exists(fs->srv, dp.table, dp.row, dp.row_len, name, NULL, 0));
		if (rc > 0)
			rc = -EEXIST;
		if (rc < 0)
			goto fail;
		{
			/* The row needs a mark too if it has no cells (yet). */
			int row_cells;
			HRFS_RETRY(fs, row_cells, "mkdir family (row)",
				   hr_exists(fs->srv, dp.table, dp.row, dp.row_len, NULL, NULL, 0));
			pthread_mutex_lock(&fs->lock);
			if (row_cells == 0 && !hrfs_mem_add_locked(fs, dp.mpath, HRFS_MEM_ROW))
				rc = -ENOMEM;
			if (rc == 0 && !hrfs_mem_add_locked(fs, mp, HRFS_MEM_FAMILY))
				rc = -ENOMEM;
			pthread_mutex_unlock(&fs->lock);
		}
		if (rc < 0)
			goto fail;
		dir_touch(fs, dir);
		hrfs_attr_dir(fs, 0, &st);
		reply_child(req, fs, dir, HRFS_FAMILY, name, (const uint8_t *)name, strlen(name), &st,
			    NULL);
		return;
	case HRFS_FAMILY:
		/* A directory where a cell must be. */
		rc = -EPERM;
		goto fail;
	default:
		rc = -ENOTDIR;
		goto fail;
	}
fail:
	if (rc != -EEXIST && rc != -EINVAL && rc != -EPERM && rc != -ENOENT)
		hr_log_error("fs", "mkdir %s/%s: %s", dp.mpath, name, hr_strerror(rc));
	fuse_reply_err(req, hrfs_errno(rc));
}

/* 1 if the table has a row (in the engine). */
static int table_nonempty(struct hrfs *fs, const char *table)
{
	hr_scan_opts o;
	hr_scan *sc = NULL;
	hr_scan_entry e;
	int rc;
	memset(&o, 0, sizeof(o));
	o.mode = HR_SCAN_ROWS;
	HRFS_RETRY(fs, rc, "rmdir table (scan)", hr_scan_open(fs->srv, table, &o, &sc));
	if (rc < 0)
		return rc;
	rc = hr_scan_next(sc, &e);
	hr_scan_close(sc);
	return rc;
}

static void unhash_child(struct hrfs *fs, struct hrfs_inode *dir, const char *name)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_peek_locked(fs, dir, name);
	if (in) {
		in->unlinked = 1;
		hrfs_ino_unhash_locked(fs, in);
	}
	pthread_mutex_unlock(&fs->lock);
}

void hrfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	uint8_t key[HRFS_NAME_MAX];
	char mp[HRFS_PATH_MAX];
	int rc, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	if (dir->kind == HRFS_ST_SNAP_TABLE) {
		/* the snapshot goes whole: its tree is not files to empty */
		rc = hrfs_snap_rmdir(fs, dir, name);
		if (rc < 0 && rc != -ENOENT)
			hr_log_error("fs", "rmdir snapshot %s: %s", name, hr_strerror(rc));
		fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
		return;
	}
	if (is_status_kind(dir->kind) ||
	    (dir->kind == HRFS_ROOT && strcmp(name, HRFS_STATUS_DIR) == 0)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if ((rc = hrfs_child_mpath(&dp, name, mp)) < 0)
		goto fail;
	switch (dir->kind) {
	case HRFS_ROOT:
		if (!hr_table_name_valid(name)) {
			rc = -ENOENT;
			goto fail;
		}
		if (mem_dir_present(fs, mp)) {
			rc = -ENOTEMPTY;
			goto fail;
		}
		rc = table_nonempty(fs, name);
		if (rc > 0)
			rc = -ENOTEMPTY;
		if (rc == 0)
			HRFS_RETRY(fs, rc, "rmdir table", hr_table_drop(fs->srv, name));
		if (rc < 0)
			goto fail;
		hr_log_info("fs", "dropped table %s", name);
		break;
	case HRFS_TABLE:
	case HRFS_ROW:
		if (hrfs_name_is_scratch(name)) {
			rc = -ENOTDIR;
			goto fail;
		}
		if (dir->kind == HRFS_TABLE) {
			klen = hrfs_name_decode(name, key);
			if (klen <= 0) {
				rc = -ENOENT;
				goto fail;
			}
		} else {
			klen = 0;
		}
		pthread_mutex_lock(&fs->lock);
		rc = hrfs_mem_has_children_locked(fs, mp) ? -ENOTEMPTY : 0;
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			goto fail;
		if (dir->kind == HRFS_TABLE)
			HRFS_RETRY(fs, rc, "rmdir row",
				   hr_exists(fs->srv, dp.table, key, (size_t)klen, NULL, NULL, 0));
		else
			HRFS_RETRY(fs, rc, "rmdir family",
				   hr_exists(fs->srv, dp.table, dp.row, dp.row_len, name, NULL, 0));
		if (rc > 0)
			rc = -ENOTEMPTY;
		if (rc < 0)
			goto fail;
		pthread_mutex_lock(&fs->lock);
		hrfs_mem_del_locked(fs, mp);
		pthread_mutex_unlock(&fs->lock);
		break;
	case HRFS_FAMILY:
		rc = -ENOTDIR;
		goto fail;
	default:
		rc = -ENOTDIR;
		goto fail;
	}
	unhash_child(fs, dir, name);
	dir_touch(fs, dir);
	fuse_reply_err(req, 0);
	return;
fail:
	if (rc != -ENOTEMPTY && rc != -ENOENT && rc != -ENOTDIR)
		hr_log_error("fs", "rmdir %s/%s: %s", dp.mpath, name, hr_strerror(rc));
	fuse_reply_err(req, hrfs_errno(rc));
}

void hrfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *dir = hrfs_ino_find(fs, parent);
	struct hrfs_path dp;
	uint8_t key[HRFS_NAME_MAX];
	char mp[HRFS_PATH_MAX];
	int rc, klen;

	if (!dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	hrfs_ino_path(fs, dir, &dp);
	if (is_status_kind(dir->kind)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!in_table_tree(dir->kind)) {
		fuse_reply_err(req, dir->kind == HRFS_ROOT ? EISDIR : ENOTDIR);
		return;
	}
	if ((rc = hrfs_child_mpath(&dp, name, mp)) < 0)
		goto fail;
	if (hrfs_name_is_scratch(name)) {
		pthread_mutex_lock(&fs->lock);
		struct hrfs_mem *m = hrfs_mem_find_locked(fs, mp);
		rc = m && m->kind == HRFS_MEM_SCRATCH ? 0 : -ENOENT;
		if (rc == 0)
			hrfs_mem_del_locked(fs, mp);
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			goto fail;
		unhash_child(fs, dir, name);
		dir_touch(fs, dir);
		fuse_reply_err(req, 0);
		return;
	}
	if (dir->kind != HRFS_FAMILY) {
		rc = -EISDIR;
		goto fail;
	}
	klen = hrfs_name_decode(name, key);
	if (klen < 0) {
		rc = -ENOENT;
		goto fail;
	}
	/* The cell's open state, if it has one: it keeps the content for its
	 * descriptors, and holding its lock across the delete orders the
	 * delete after any store of it (none can follow: it is unlinked). */
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_peek_locked(fs, dir, name);
	if (in && in->kind != HRFS_CELL)
		in = NULL;
	if (in)
		hrfs_ino_ref_locked(in);
	pthread_mutex_unlock(&fs->lock);
	struct hrfs_of *of = in ? hrfs_of_get(fs, in, 0) : NULL;
	if (of) {
		pthread_mutex_lock(&of->lock);
		if (of->init)
			rc = hrfs_of_load(fs, of);
	}
	/* All versions: deleting only the latest would bring an old one back. */
	if (rc == 0)
		HRFS_RETRY(fs, rc, "unlink",
			   hr_delete_column(fs->srv, dp.table, dp.row, dp.row_len, dp.family, key,
					    (size_t)klen, 0));
	if (rc == 0) {
		pthread_mutex_lock(&fs->lock);
		struct hrfs_mem *m = hrfs_mem_find_locked(fs, mp);
		if (m && m->kind == HRFS_MEM_CELL)
			hrfs_mem_del_locked(fs, mp);
		if (in) {
			in->unlinked = 1;
			hrfs_ino_unhash_locked(fs, in);
		}
		if (of)
			of->created = 0; /* its listing entry went just now */
		dir->dir_mtime_ns = hrfs_now_ns();
		hrfs_dir_changed_locked(fs, dir);
		pthread_mutex_unlock(&fs->lock);
	}
	if (of) {
		pthread_mutex_unlock(&of->lock);
		hrfs_of_put(fs, of);
	}
	if (in)
		hrfs_ino_unref(fs, in);
	if (rc < 0)
		goto fail;
	fuse_reply_err(req, 0);
	return;
fail:
	if (rc != -ENOENT && rc != -EISDIR)
		hr_log_error("fs", "unlink %s/%s: %s", dp.mpath, name, hr_strerror(rc));
	fuse_reply_err(req, hrfs_errno(rc));
}

void hrfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	int rc;
	HRFS_RETRY(fs, rc, "fsyncdir", hr_sync(fs->srv));
	if (rc < 0)
		hr_log_error("fs", "fsyncdir: %s", hr_strerror(rc));
	fuse_reply_err(req, rc < 0 ? hrfs_errno(rc) : 0);
}

void hrfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct hrfs *fs = FS(req);
	struct statvfs sv;
	if (statvfs(fs->cfg.data_dir, &sv) != 0)
		memset(&sv, 0, sizeof(sv));
	sv.f_namemax = HRFS_NAME_MAX;
	if (sv.f_bsize == 0)
		sv.f_bsize = sv.f_frsize = 4096;
	sv.f_files = 1ULL << 32;
	sv.f_ffree = sv.f_favail = 1ULL << 31;
	sv.f_flag = 0;
	fuse_reply_statfs(req, &sv);
}
