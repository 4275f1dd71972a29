/*
 * dircache.c — when the kernel may keep a directory's listing
 * (FOPEN_CACHE_DIR and FOPEN_KEEP_CACHE in the OPENDIR reply, kernel 4.20+),
 * so that `ls`, `cp -r` and `rm -r` of an unchanged directory cost no
 * READDIR request.
 *
 * What the kernel does (fs/fuse/readdir.c): a handle opened with
 * FOPEN_CACHE_DIR appends each entry it reads from us to a cache kept in
 * the directory inode's pages, when the entry continues the cache at its
 * end (entry offsets chain); an empty reply at that end marks the cache
 * complete, and from then on a read from offset 0 of any FOPEN_CACHE_DIR
 * handle is served from it. An OPENDIR reply without FOPEN_KEEP_CACHE drops
 * the pages, and a cache found with a page missing is started again. The
 * kernel discards the cache by itself only for changes it makes in that
 * very directory (create, mkdir, unlink, rmdir, rename) or a new mtime it
 * sees; our namespace also changes implicitly (a row or family leaves its
 * parent's listing with its last cell, a cell created by a shell sitting
 * in an emptied row brings the row back, a mkdir'd row lives in memory).
 *
 * So the daemon decides at every OPENDIR:
 *  - every change that may alter a listing gives the directory a new
 *    list_gen (and its ancestors up to the table: conservative), once the
 *    change is visible (hrfs_dir_changed_locked);
 *  - a handle that sent the kernel the whole listing, offset 0 to the end,
 *    while list_gen stayed what it was at its open, records that
 *    generation in list_cached (hrfs_dirc_complete);
 *  - an OPENDIR sets FOPEN_KEEP_CACHE only while list_cached == list_gen;
 *    otherwise the kernel drops what it holds and refills it from the
 *    handles reading from now on;
 *  - a handle opened before a change may still add what it read (its own
 *    listing, as POSIX allows a directory stream, but stale for later
 *    opens) to the kernel's cache after that drop. While such a handle is
 *    open (list_dirty), new handles get no FOPEN_CACHE_DIR: they neither
 *    read nor fill the kernel's cache, and ask us.
 * Why that suffices: KEEP_CACHE is granted at generation g only after a
 * handle H opened at g, with no dirty handle open, read the listing whole
 * and unchanged. H's open dropped the kernel's pages (or an earlier open at
 * g did, by the same argument), and every handle that may have filled them
 * since was opened at g and saw no change: a change moves list_gen, and
 * KEEP_CACHE is granted again only after the same holds at the new one
 * (list_cached cannot reach the new generation while a dirty handle is
 * open, nor after, without a full read by a handle opened after it).
 *
 * Never cached: the status tree (it changes all the time), tables with a
 * TTL family (cells expire without a request), and directories below an
 * unhashed one (a subtree of an rmdir'd directory or of a dropped table:
 * the same path then has two inodes, and changes are followed on the one
 * that holds the path, see hrfs_dir_changed_locked).
 *
 * Locking: fs->lock for every field (hrfs.h).
 */
#include "fs/hrfs.h"

static int is_list_dir(int kind)
{
	return kind == HRFS_TABLE || kind == HRFS_ROW || kind == HRFS_FAMILY;
}

static void bump_locked(struct hrfs *fs, struct hrfs_inode *d)
{
	d->list_gen = ++fs->list_gen;
	if (d->list_fillers)
		d->list_dirty = 1;
}

void hrfs_root_changed_locked(struct hrfs *fs)
{
	bump_locked(fs, fs->root);
}

void hrfs_dir_changed_locked(struct hrfs *fs, struct hrfs_inode *dir)
{
	struct hrfs_inode *chain[3];
	size_t depth = 0;
	int unhashed = 0;
	for (struct hrfs_inode *x = dir; x && x->kind != HRFS_ROOT; x = x->parent) {
		if (!is_list_dir(x->kind) || depth == 3)
			return; /* not a table-tree directory */
		bump_locked(fs, x);
		unhashed |= !x->hashed_name;
		chain[depth++] = x;
	}
	if (!unhashed)
		return;
	/* Changes made through a stale subtree: the directories that hold
	 * its path now list them too. */
	struct hrfs_inode *cur = fs->root;
	for (size_t i = depth; i-- > 0;) {
		cur = hrfs_ino_peek_locked(fs, cur, chain[i]->name);
		if (!cur || cur->kind != chain[i]->kind)
			return;
		if (cur != chain[i])
			bump_locked(fs, cur);
	}
}

void hrfs_dir_changed(struct hrfs *fs, struct hrfs_inode *dir)
{
	pthread_mutex_lock(&fs->lock);
	hrfs_dir_changed_locked(fs, dir);
	pthread_mutex_unlock(&fs->lock);
}

/* 1 if every directory from dir up to the root holds its name. */
static int path_hashed(const struct hrfs *fs, const struct hrfs_inode *dir)
{
	for (const struct hrfs_inode *x = dir; x && x != fs->root; x = x->parent)
		if (!x->hashed_name || x->unlinked)
			return 0;
	return 1;
}

void hrfs_dirc_open(struct hrfs *fs, struct hrfs_inode *dir, int cacheable, struct hrfs_dirc *c)
{
	c->fill = c->keep = 0;
	c->gen = 0;
	pthread_mutex_lock(&fs->lock);
	if (cacheable && !dir->list_dirty && path_hashed(fs, dir)) {
		if (!dir->list_gen)
			dir->list_gen = ++fs->list_gen;
		c->fill = 1;
		c->keep = dir->list_cached == dir->list_gen;
		c->gen = dir->list_gen;
		dir->list_fillers++;
	}
	pthread_mutex_unlock(&fs->lock);
}

void hrfs_dirc_complete(struct hrfs *fs, struct hrfs_inode *dir, const struct hrfs_dirc *c)
{
	if (!c->fill)
		return;
	pthread_mutex_lock(&fs->lock);
	if (dir->list_gen == c->gen)
		dir->list_cached = c->gen;
	pthread_mutex_unlock(&fs->lock);
}

void hrfs_dirc_release(struct hrfs *fs, struct hrfs_inode *dir, const struct hrfs_dirc *c)
{
	if (!c->fill)
		return;
	pthread_mutex_lock(&fs->lock);
	if (--dir->list_fillers == 0)
		dir->list_dirty = 0;
	pthread_mutex_unlock(&fs->lock);
}
