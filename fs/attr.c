/*
 * attr.c — attributes. Only values and their timestamps are stored, so
 * everything else is synthesized: dirs 0755, cells 0644, status files 0444,
 * owner = the mounting user, size = value length (exact), mtime = cell ts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

int64_t hrfs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hrfs_errno(int rc)
{
	return rc < 0 ? -rc : EIO;
}

static void set_times(struct stat *st, int64_t ms)
{
	st->st_mtim.tv_sec = (time_t)(ms / 1000);
	st->st_mtim.tv_nsec = (long)(ms % 1000) * 1000000L;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

void hrfs_attr_dir(const struct hrfs *fs, uint64_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	set_times(st, fs->start_ms);
}

void hrfs_attr_file(const struct hrfs *fs, uint64_t ino, uint64_t size, int64_t mtime_ms,
		    mode_t mode, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 4096;
	set_times(st, mtime_ms > 0 ? mtime_ms : fs->start_ms);
}

static int mem_present(struct hrfs *fs, const char *mpath)
{
	pthread_mutex_lock(&fs->lock);
	int r = hrfs_mem_find_locked(fs, mpath) != NULL || hrfs_mem_has_children_locked(fs, mpath);
	pthread_mutex_unlock(&fs->lock);
	return r;
}

int hrfs_getattr_inode(struct hrfs *fs, struct hrfs_inode *in, struct stat *st)
{
	struct hrfs_path p;
	int rc;

	switch (in->kind) {
	case HRFS_ROOT:
	case HRFS_ST_ROOT:
	case HRFS_ST_TABLES:
	case HRFS_ST_TABLE:
		hrfs_attr_dir(fs, in->ino, st);
		return 0;
	case HRFS_ST_FILE: {
		char *text = NULL;
		size_t len = 0;
		hrfs_ino_path(fs, in, &p);
		rc = hrfs_status_render(fs, &p, &text, &len);
		free(text);
		if (rc < 0)
			return rc;
		hrfs_attr_file(fs, in->ino, len, hrfs_now_ms(), 0444, st);
		return 0;
	}
	case HRFS_SCRATCH: {
		struct hrfs_mem *m = in->scratch;
		pthread_mutex_lock(&m->lock);
		hrfs_attr_file(fs, in->ino, m->len, m->mtime_ms, 0644, st);
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	default:
		break;
	}

	pthread_mutex_lock(&fs->lock);
	hrfs_ino_path_locked(in, &p);
	int have_ov = in->ov_fh != NULL;
	uint64_t ov_size = in->ov_size;
	int64_t ov_mtime = in->ov_mtime_ms;
	pthread_mutex_unlock(&fs->lock);

	switch (in->kind) {
	case HRFS_TABLE: {
		hr_table_schema *sc = malloc(sizeof(*sc));
		if (!sc)
			return -ENOMEM;
		HRFS_RETRY(fs, rc, "getattr table", hr_table_schema_get(fs->srv, p.table, sc));
		free(sc);
		if (rc < 0)
			return rc;
		hrfs_attr_dir(fs, in->ino, st);
		return 0;
	}
	case HRFS_ROW:
	case HRFS_FAMILY:
		if (!mem_present(fs, p.mpath)) {
			HRFS_RETRY(fs, rc, "getattr dir",
				   hr_exists(fs->srv, p.table, p.row, p.row_len,
					     in->kind == HRFS_FAMILY ? p.family : NULL, NULL, 0));
			if (rc < 0)
				return rc;
			if (rc == 0)
				return -ENOENT;
		}
		hrfs_attr_dir(fs, in->ino, st);
		return 0;
	case HRFS_CELL: {
		if (have_ov) {
			hrfs_attr_file(fs, in->ino, ov_size, ov_mtime, 0644, st);
			return 0;
		}
		hr_value v = {0};
		HRFS_RETRY(fs, rc, "getattr cell",
			   hr_get(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len,
				  0, &v));
		free(v.data);
		if (rc < 0)
			return rc;
		hrfs_attr_file(fs, in->ino, v.len, v.ts, 0644, st);
		return 0;
	}
	default:
		return -EIO;
	}
}

void hrfs_fill_entry(const struct hrfs *fs, struct hrfs_inode *in, const struct stat *st,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr = *st;
	/* Status files change under us all the time: never cache them. */
	int volatile_attr = in->kind == HRFS_ST_FILE || in->kind == HRFS_ST_TABLES ||
			    in->kind == HRFS_ST_TABLE;
	e->attr_timeout = volatile_attr ? 0 : fs->timeout;
	e->entry_timeout = volatile_attr ? 0 : fs->timeout;
}
