/*
 * attr.c — attributes. Only values and their timestamps are stored, so
 * everything else is synthesized: dirs 0755, cells 0644, status files 0444,
 * owner = the mounting user, size = value length (exact), mtime = cell ts.
 */
#include <errno.h>
#include <stdio.h>
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
		/* A row or family directory the kernel still holds stays a
		 * (possibly empty) directory, as on a local disk, after its last
		 * cell goes: `mv` of the last cell must not make `ls` of the
		 * directory fail. A fresh lookup (or a remount) no longer finds
		 * it: HBase has no empty rows. */
		hrfs_attr_dir(fs, in->ino, st);
		return 0;
	case HRFS_CELL: {
		/* The committed value: an open handle's uncommitted buffer is
		 * seen through that handle only (hrfs_fh_stat). A created cell
		 * not yet committed is empty. */
		hr_value v = {0};
		HRFS_RETRY(fs, rc, "getattr cell",
			   hr_get(fs->srv, p.table, p.row, p.row_len, p.family, p.qual, p.qual_len,
				  0, &v));
		free(v.data);
		if (rc == -ENOENT && have_ov) {
			hrfs_attr_file(fs, in->ino, 0, ov_mtime, 0644, st);
			return 0;
		}
		if (rc < 0)
			return rc;
		hrfs_attr_file(fs, in->ino, v.len, v.ts, 0644, st);
		return 0;
	}
	default:
		return -EIO;
	}
}

/* 1 if the table has a family with a TTL; remembered for a few seconds. */
static int table_has_ttl(struct hrfs *fs, const char *table)
{
	int64_t now = hrfs_now_ms();
	int rc;
	pthread_mutex_lock(&fs->lock);
	for (unsigned i = 0; i < sizeof(fs->ttl) / sizeof(fs->ttl[0]); i++) {
		struct hrfs_ttl_entry *t = &fs->ttl[i];
		if (t->checked_ms && strcmp(t->table, table) == 0 && now - t->checked_ms < 5000) {
			int r = t->has_ttl;
			pthread_mutex_unlock(&fs->lock);
			return r;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	hr_table_schema *sc = malloc(sizeof(*sc));
	if (!sc)
		return 1; /* be safe: do not cache */
	HRFS_RETRY(fs, rc, "schema (ttl)", hr_table_schema_get(fs->srv, table, sc));
	int has = rc < 0;
	for (uint32_t i = 0; rc == 0 && i < sc->nfamilies; i++)
		if (sc->families[i].ttl_ms > 0)
			has = 1;
	free(sc);
	if (rc < 0)
		return 1;
	pthread_mutex_lock(&fs->lock);
	unsigned slot = sizeof(fs->ttl) / sizeof(fs->ttl[0]);
	for (unsigned i = 0; i < sizeof(fs->ttl) / sizeof(fs->ttl[0]); i++)
		if (strcmp(fs->ttl[i].table, table) == 0)
			slot = i;
	if (slot == sizeof(fs->ttl) / sizeof(fs->ttl[0]))
		slot = fs->ttl_next++ % (sizeof(fs->ttl) / sizeof(fs->ttl[0]));
	snprintf(fs->ttl[slot].table, sizeof(fs->ttl[slot].table), "%s", table);
	fs->ttl[slot].has_ttl = has;
	fs->ttl[slot].checked_ms = now;
	pthread_mutex_unlock(&fs->lock);
	return has;
}

double hrfs_timeout_of(struct hrfs *fs, struct hrfs_inode *in)
{
	char table[HR_MAX_NAME + 1];
	switch (in->kind) {
	case HRFS_ST_FILE:
	case HRFS_ST_TABLES:
	case HRFS_ST_TABLE:
		return 0; /* status changes all the time */
	case HRFS_ROW:
	case HRFS_FAMILY:
	case HRFS_CELL:
		break;
	default:
		return fs->timeout;
	}
	pthread_mutex_lock(&fs->lock);
	if (in->ov_fh) {
		/* Uncommitted changes in a handle: the size the kernel caches
		 * would be stale for that writer or for the readers. */
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	const struct hrfs_inode *x = in;
	while (x->parent && x->parent->kind != HRFS_ROOT)
		x = x->parent;
	snprintf(table, sizeof(table), "%s", x->name);
	pthread_mutex_unlock(&fs->lock);
	return table_has_ttl(fs, table) ? 0 : fs->timeout;
}

void hrfs_fill_entry(struct hrfs *fs, struct hrfs_inode *in, const struct stat *st,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr = *st;
	e->attr_timeout = e->entry_timeout = hrfs_timeout_of(fs, in);
}
