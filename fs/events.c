/* events.c — a table changed behind the mount (the engine's table events,
 * hregionfs.h): a table made (hregionctl create, clone, import) or dropped
 * (hregionctl drop), a family altered, or a restore (hr_snapshot_restore, run by hregionctl through a live
 * daemon), which replaces every cell of the table at once.
 *
 * What could show the old table after a restore, and what is done about it:
 * - listings the kernel keeps (dircache.c): every directory of the table
 *   gets a new list generation, so the next opendir drops them;
 * - pages the kernel keeps of a cell: its inode forgets the version they
 *   hold (pc_valid), so an open never lets the kernel keep them, and its
 *   pages and attributes are invalidated (inval.c, bounded queue);
 * - whether the table has a TTL family (attr.c remembers it for a few
 *   seconds): asked again;
 * - names and attributes the kernel caches for entry_timeout_s (negative
 *   ones included: a restored row that was absent): the table's own entry
 *   in the root is invalidated, which makes the kernel forget every name
 *   below it; lookups then ask the daemon again.
 * Not covered: a cell open across the restore keeps its open-file state
 * (one per cell while open) until its last close, as a file replaced under
 * an open descriptor keeps its content on a local file system.
 *
 * A family altered (hr_family_alter, e.g. by hregionctl: a TTL set or
 * changed decides whether the kernel may cache the table's names at all):
 * the table's cached names and listings go as after a restore, and the TTL
 * question is asked again; pages stay (the cells did not change).
 *
 * A table created (hr_table_create by hregionctl through the control
 * socket, a clone, an import) or dropped by someone else: the root's
 * listing gets a new generation, the table's name in the root is
 * invalidated in the kernel (a negative entry from an earlier lookup would
 * hide a new table for entry_timeout_s; a dropped one's positive entry and
 * everything below it go); a dropped table's inode leaves the name table,
 * marked removed (as rmdir does), so a later table of that name gets a
 * fresh inode tree, and its memory-only rows, families and scratch files
 * go (descriptors open on a scratch file keep its data, nameless). The
 * mount's own mkdir and rmdir of a table mark their engine call
 * (hrfs_ev_own) and do their bookkeeping in ops_dir.c.
 *
 * Runs on the engine's calling thread with no engine lock held; takes
 * fs->lock briefly and never waits for the kernel (inval.c's thread does). */
#include <string.h>

#include "fs/hrfs.h"

#define MAX_INODES 256

static int under(const struct hrfs_inode *in, const struct hrfs_inode *table)
{
	for (const struct hrfs_inode *x = in; x; x = x->parent)
		if (x == table)
			return 1;
	return 0;
}

static _Thread_local int own_call;

void hrfs_ev_own(int on)
{
	own_call = on;
}

/* The schema may have changed: whether the table has a TTL family is asked
 * again (attr.c). */
static void ttl_forget_locked(struct hrfs *fs, const char *table)
{
	for (unsigned i = 0; i < sizeof(fs->ttl) / sizeof(fs->ttl[0]); i++)
		if (strcmp(fs->ttl[i].table, table) == 0)
			fs->ttl[i].checked_ms = 0;
}

/* A new name in the root, or one gone. */
static void table_came_or_went(struct hrfs *fs, const char *table, int event)
{
	pthread_mutex_lock(&fs->lock);
	if (event == HR_TABLE_DROPPED) {
		struct hrfs_inode *in = hrfs_ino_peek_locked(fs, fs->root, table);
		if (in && in->kind == HRFS_TABLE) {
			in->unlinked = 1;
			hrfs_ino_unhash_locked(fs, in);
		}
		hrfs_mem_drop_table_locked(fs, table);
	}
	ttl_forget_locked(fs, table);
	fs->root->dir_mtime_ns = hrfs_now_ns();
	hrfs_root_changed_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	hrfs_inval_entry_queue(fs, FUSE_ROOT_ID, table);
	hr_log_info("fs", "table '%s' %s outside the mount", table,
		    event == HR_TABLE_CREATED ? "created" : "dropped");
}

void hrfs_table_event(void *arg, const char *table, int event)
{
	struct hrfs *fs = arg;
	uint64_t inos[MAX_INODES];
	size_t n = 0;
	if (event == HR_TABLE_CREATED || event == HR_TABLE_DROPPED) {
		if (!own_call)
			table_came_or_went(fs, table, event);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	ttl_forget_locked(fs, table);
	struct hrfs_inode *t = hrfs_ino_peek_locked(fs, fs->root, table);
	for (size_t b = 0; t && b < fs->itab.nbuckets; b++)
		for (struct hrfs_inode *in = fs->itab.by_ino[b]; in; in = in->next_ino) {
			if (!under(in, t))
				continue;
			if (in->kind == HRFS_TABLE || in->kind == HRFS_ROW || in->kind == HRFS_FAMILY)
				hrfs_dir_changed_locked(fs, in);
			if (event == HR_TABLE_ALTERED)
				continue; /* the cells are what they were */
			in->pc_valid = 0;
			if (n < MAX_INODES)
				inos[n++] = in->ino;
		}
	pthread_mutex_unlock(&fs->lock);
	hrfs_inval_entry_queue(fs, FUSE_ROOT_ID, table);
	for (size_t i = 0; i < n; i++)
		hrfs_inval_queue(fs, inos[i]);
	hr_log_info("fs", "table '%s' %s behind the mount: its cached names, listings%s are dropped",
		    table, event == HR_TABLE_ALTERED ? "altered" : "changed",
		    event == HR_TABLE_ALTERED ? "" : " and pages");
}
