/*
 * events.c — what the mount does when a table changes behind the kernel:
 * the engine's event hook (hregionfs.h, "events"), for the changes other
 * callers make through the same engine (hregionctl's create, drop and,
 * from other commands, a table replaced whole: restore, alter). The
 * mount's own mkdir and rmdir of a table do their bookkeeping themselves
 * (ops_dir.c) and mark their engine call (hrfs_ev_own), so the hook skips
 * them.
 *
 * For a table created: the root's listing generation moves (the kernel's
 * cached listing is not kept at the next opendir) and its name in the root
 * is invalidated in the kernel (a negative dentry from an earlier lookup
 * would hide it for entry_timeout_s). Dropped: the same, and the table's
 * inode leaves the name table, marked removed (like rmdir's), so a later
 * table of that name gets a fresh inode tree and nothing the kernel
 * cached of the old one (names, attributes, pages) is reached by path;
 * its memory-only rows, families and scratch files go too (descriptors
 * open on a scratch file keep its data, nameless).
 * Changed whole: the same as dropped, without the removal mark (the path
 * still exists; descriptors open on its cells keep their states).
 * The TTL-table cache forgets the table (its schema may differ now).
 *
 * Runs on the thread that changed the table, with no engine lock held:
 * takes fs->lock briefly and queues the kernel notifications on the
 * invalidation thread (inval.c), never waiting for the kernel.
 */
#include <string.h>

#include "fs/hrfs.h"

static _Thread_local int own_call;

void hrfs_ev_own(int on)
{
	own_call = on;
}

static void on_event(void *ctx, hr_event ev, const char *table)
{
	struct hrfs *fs = ctx;
	if (own_call)
		return;
	pthread_mutex_lock(&fs->lock);
	if (ev != HR_EV_TABLE_CREATED) {
		struct hrfs_inode *in = hrfs_ino_peek_locked(fs, fs->root, table);
		if (in && in->kind == HRFS_TABLE) {
			if (ev == HR_EV_TABLE_DROPPED)
				in->unlinked = 1;
			hrfs_ino_unhash_locked(fs, in);
		}
		if (ev == HR_EV_TABLE_DROPPED)
			hrfs_mem_drop_table_locked(fs, table);
	}
	for (unsigned i = 0; i < sizeof(fs->ttl) / sizeof(fs->ttl[0]); i++)
		if (strcmp(fs->ttl[i].table, table) == 0)
			fs->ttl[i].checked_ms = 0;
	fs->root->dir_mtime_ns = hrfs_now_ns();
	hrfs_root_changed_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	hrfs_inval_entry_queue(fs, FUSE_ROOT_ID, table);
	hr_log_info("fs", "table %s %s outside the mount", table,
		    ev == HR_EV_TABLE_CREATED   ? "created"
		    : ev == HR_EV_TABLE_DROPPED ? "dropped"
						: "changed");
}

void hrfs_events_register(struct hrfs *fs)
{
	hr_server_set_event_hook(fs->srv, on_event, fs);
}
