/* events.c — a table changed behind the mount (the engine's table events,
 * hregionfs.h): a table made by clone or import (a new name in the root),
 * or a restore (hr_snapshot_restore, run by hregionctl through a live
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

void hrfs_table_event(void *arg, const char *table, int event)
{
	struct hrfs *fs = arg;
	uint64_t inos[MAX_INODES];
	size_t n = 0;
	if (event == HR_TABLE_CREATED) {
		/* a new name in the root: its listing changes, and a lookup of
		 * the name made before (a negative entry) is forgotten */
		pthread_mutex_lock(&fs->lock);
		hrfs_root_changed_locked(fs);
		pthread_mutex_unlock(&fs->lock);
		hrfs_inval_entry_queue(fs, FUSE_ROOT_ID, table);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	/* the schema may have changed: whether it has a TTL family is asked again */
	for (unsigned i = 0; i < sizeof(fs->ttl) / sizeof(fs->ttl[0]); i++)
		if (strcmp(fs->ttl[i].table, table) == 0)
			fs->ttl[i].checked_ms = 0;
	struct hrfs_inode *t = hrfs_ino_peek_locked(fs, fs->root, table);
	for (size_t b = 0; t && b < fs->itab.nbuckets; b++)
		for (struct hrfs_inode *in = fs->itab.by_ino[b]; in; in = in->next_ino) {
			if (!under(in, t))
				continue;
			if (in->kind == HRFS_TABLE || in->kind == HRFS_ROW || in->kind == HRFS_FAMILY)
				hrfs_dir_changed_locked(fs, in);
			in->pc_valid = 0;
			if (n < MAX_INODES)
				inos[n++] = in->ino;
		}
	pthread_mutex_unlock(&fs->lock);
	hrfs_inval_entry_queue(fs, FUSE_ROOT_ID, table);
	for (size_t i = 0; i < n; i++)
		hrfs_inval_queue(fs, inos[i]);
	hr_log_info("fs", "table '%s' changed behind the mount: its cached names, listings and "
		    "pages are dropped", table);
}
