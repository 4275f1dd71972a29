/*
 * attr.c — attributes. A cell's size is its value's length, exactly; its
 * mode, owner and times are those of its open-file state, or of the
 * stored cell (0644, the mounting user and the cell's timestamp for a cell
 * stored without attributes). Directories are 0755 and owned by the
 * mounting user; their mtime is when their listing last changed through
 * this mount (else the mount's start). Status files are 0444.
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

static struct timespec ns_ts(int64_t ns)
{
	struct timespec t;
	t.tv_sec = (time_t)(ns / 1000000000LL);
	t.tv_nsec = (long)(ns % 1000000000LL);
	if (t.tv_nsec < 0) {
		t.tv_nsec += 1000000000L;
		t.tv_sec--;
	}
	return t;
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
	st->st_mtim = ns_ts(fs->start_ms * 1000000LL);
	st->st_atim = st->st_ctim = st->st_mtim;
}

void hrfs_attr_file(const struct hrfs *fs, uint64_t ino, uint64_t size,
		    const hr_file_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | (a->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 4096;
	st->st_mtim = ns_ts(a->mtime_ns);
	st->st_atim = ns_ts(a->atime_ns);
	st->st_ctim = ns_ts(a->ctime_ns);
}

/* A directory inode: its listing's last change through this mount. */
static void attr_dir_inode(struct hrfs *fs, struct hrfs_inode *in, struct stat *st)
{
	hrfs_attr_dir(fs, in->ino, st);
	pthread_mutex_lock(&fs->lock);
	int64_t mt = in->dir_mtime_ns;
	pthread_mutex_unlock(&fs->lock);
	if (mt) {
		st->st_mtim = ns_ts(mt);
		st->st_ctim = st->st_mtim;
	}
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
	case HRFS_ST_VERSIONS:
	case HRFS_ST_ASOF:
	case HRFS_ST_ASOF_TS:
	case HRFS_ST_SNAPS:
	case HRFS_ST_SNAP_TABLE:
	case HRFS_HV_TABLE:
	case HRFS_HV_ROW:
	case HRFS_HV_FAMILY:
	case HRFS_HV_CELL:
	case HRFS_HV_VCELL:
	case HRFS_HV_VERSION:
		return hrfs_hist_getattr(fs, in, st);
	case HRFS_ST_FILE: {
		char *text = NULL;
		size_t len = 0;
		hr_file_attr a;
		hrfs_ino_path(fs, in, &p);
		rc = hrfs_status_render(fs, &p, &text, &len);
		free(text);
		if (rc < 0)
			return rc;
		hrfs_fattr_default(fs, hrfs_now_ms(), &a);
		a.mode = 0444;
		hrfs_attr_file(fs, in->ino, len, &a, st);
		return 0;
	}
	case HRFS_SCRATCH:
	case HRFS_CELL: {
		/* An open-file state is the file while it exists. */
		struct hrfs_of *of = hrfs_of_get(fs, in, 0);
		if (of) {
			pthread_mutex_lock(&of->lock);
			rc = of->init ? 0 : -EAGAIN;
			if (rc == 0)
				hrfs_of_stat(fs, of, in->ino, st);
			pthread_mutex_unlock(&of->lock);
			hrfs_of_put(fs, of);
			if (rc == 0)
				return 0;
			/* a state being opened: ask the store, as without one */
		}
		if (in->kind == HRFS_SCRATCH)
			return -ENOENT; /* its name was removed and nothing holds it */
		break;
	}
	default:
		break;
	}

	pthread_mutex_lock(&fs->lock);
	hrfs_ino_path_locked(in, &p);
	int unlinked = in->unlinked;
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
		attr_dir_inode(fs, in, st);
		return 0;
	}
	case HRFS_ROW:
	case HRFS_FAMILY:
		/* A row or family directory the kernel still holds stays a
		 * (possibly empty) directory, as on a local disk, after its last
		 * cell goes: `mv` of the last cell must not make `ls` of the
		 * directory fail. A fresh lookup (or a remount) no longer finds
		 * it: HBase has no empty rows. */
		attr_dir_inode(fs, in, st);
		return 0;
	case HRFS_CELL: {
		struct hrfs_ver v;
		hr_file_attr a;
		if (unlinked)
			return -ENOENT; /* removed, and no descriptor holds it */
		rc = hrfs_cell_read(fs, &p, NULL, &v, &a);
		if (rc < 0) {
			if (rc == -ENOENT)
				hrfs_cell_seen(fs, in, NULL);
			return rc;
		}
		hrfs_cell_seen(fs, in, &v);
		hrfs_attr_file(fs, in->ino, v.len, &a, st);
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

/* The table name of an inode in a table tree. */
static void table_of(struct hrfs *fs, struct hrfs_inode *in, char *table)
{
	pthread_mutex_lock(&fs->lock);
	const struct hrfs_inode *x = in;
	while (x->parent && x->parent->kind != HRFS_ROOT)
		x = x->parent;
	snprintf(table, HR_MAX_NAME + 1, "%s", x->name);
	pthread_mutex_unlock(&fs->lock);
}

int hrfs_in_ttl_table(struct hrfs *fs, struct hrfs_inode *in)
{
	char table[HR_MAX_NAME + 1];
	if (in->kind != HRFS_CELL && in->kind != HRFS_ROW && in->kind != HRFS_FAMILY &&
	    in->kind != HRFS_TABLE && in->kind != HRFS_SCRATCH)
		return 0;
	table_of(fs, in, table);
	return table_has_ttl(fs, table);
}

double hrfs_timeout_of(struct hrfs *fs, struct hrfs_inode *in)
{
	if (hrfs_kind_is_hist(in->kind))
		return 0; /* every write changes history listings */
	switch (in->kind) {
	case HRFS_ST_FILE:
	case HRFS_ST_TABLES:
	case HRFS_ST_TABLE:
		return 0; /* status changes all the time */
	case HRFS_ROW:
	case HRFS_FAMILY:
	case HRFS_CELL:
		/* Expired cells must vanish at once. (Everything else that
		 * changes a cell goes through the kernel's inode for it.) */
		return hrfs_in_ttl_table(fs, in) ? 0 : fs->timeout;
	default:
		return fs->timeout;
	}
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
