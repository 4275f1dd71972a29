/*
 * hrfs.h — shared state of the FUSE front end (fs/).
 *
 * Ownership and locking
 * - struct hrfs is created by main.c, lives for the whole mount and is the
 *   userdata of the FUSE session. fs->srv and fs->cfg are read-only after
 *   start-up.
 * - fs->lock protects the inode table (inode.c: both hash tables and every
 *   inode's parent, name, key, nlookup, refs, unlinked, ov_* and cache_*
 *   fields) and the memory registry (mem.c: mkdir'd rows and families,
 *   created-but-uncommitted cells, scratch files). It is never held across
 *   an engine call or a FUSE reply.
 * - A file handle (struct hrfs_fh) has its own mutex for its buffer; a
 *   scratch entry (struct hrfs_mem) has its own mutex for its data. Lock
 *   order: fh->lock or mem->lock first, then fs->lock.
 * - Inodes are reference counted twice: nlookup (the kernel's, dropped by
 *   forget) and refs (children and open handles). An inode is freed when
 *   both reach zero; a child keeps its parent alive, so a key can always
 *   be rebuilt by walking up.
 */
#ifndef HRFS_H
#define HRFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hr_config.h"
#include "hr_log.h"
#include "hregionfs.h"
#include "fs/hrfs_names.h"

enum hrfs_kind {
	HRFS_ROOT = 1,
	HRFS_TABLE,	/* /<table> */
	HRFS_ROW,	/* /<table>/<row> */
	HRFS_FAMILY,	/* /<table>/<row>/<family> */
	HRFS_CELL,	/* /<table>/<row>/<family>/<qualifier> */
	HRFS_SCRATCH,	/* a literal leading-dot file inside a table tree */
	HRFS_ST_ROOT,	/* /.hregionfs */
	HRFS_ST_TABLES, /* /.hregionfs/tables */
	HRFS_ST_TABLE,	/* /.hregionfs/tables/<t> */
	HRFS_ST_FILE,	/* a status file; st_sub says which */
};

enum hrfs_st_sub { HRFS_ST_STATS = 1, HRFS_ST_CONFIG, HRFS_ST_SCHEMA, HRFS_ST_REGIONS };

#define HRFS_STATUS_DIR ".hregionfs"
/* Registry path: "<table>/<row name>/<family>/<name>", names encoded. */
#define HRFS_PATH_MAX (4 * (HRFS_NAME_MAX + 1))

struct hrfs_fh;
struct hrfs_mem;

struct hrfs_inode {
	uint64_t ino;
	int kind;
	int st_sub;
	struct hrfs_inode *parent;
	char *name;		/* the file name (encoded), NUL-terminated */
	uint8_t *key;		/* decoded key bytes (row/qualifier), else = name */
	size_t key_len;
	uint64_t nlookup;
	uint32_t refs;
	int hashed_name;	/* in the (parent, name) table */
	int unlinked;		/* removed: handles must not commit */
	/* A handle holding a newer, uncommitted value (or a created cell). */
	struct hrfs_fh *ov_fh;
	uint64_t ov_size;
	int64_t ov_mtime_ms;
	struct hrfs_mem *scratch; /* HRFS_SCRATCH: the data (one reference) */
	struct hrfs_inode *next_ino, *next_name;
};

/* Memory registry entry kinds. */
enum { HRFS_MEM_ROW = 1, HRFS_MEM_FAMILY, HRFS_MEM_CELL, HRFS_MEM_SCRATCH };

struct hrfs_mem {
	char *path;		/* full registry path */
	size_t parent_len;	/* path[0..parent_len) is the parent's path */
	int kind;
	uint32_t refs;		/* registry (while listed) + inodes + handles */
	int listed;
	pthread_mutex_t lock;	/* data, len, mtime_ms */
	uint8_t *data;
	size_t len, cap;
	int64_t mtime_ms;
	struct hrfs_mem *next;
};

struct hrfs_itab {
	struct hrfs_inode **by_ino, **by_name;
	size_t nbuckets, count;
	uint64_t next_ino;
};

/* How many listed entries a parent path has (so "has children?" and an
 * empty listing cost one hash lookup, not a walk of the registry). */
struct hrfs_pcount {
	char *parent;
	size_t n;
	struct hrfs_pcount *next;
};

struct hrfs_memtab {
	struct hrfs_mem **b;
	size_t nbuckets, count;
	struct hrfs_pcount *pc[512];
};

struct hrfs {
	hr_server *srv;
	hr_config cfg;
	uid_t uid;
	gid_t gid;
	int64_t start_ms;
	double timeout;		/* entry and attr timeout, seconds */
	struct fuse_session *se;
	pthread_mutex_t lock;
	struct hrfs_itab itab;
	struct hrfs_memtab mem;
	struct hrfs_inode *root;
	/* Tables with a TTL family: their entries and attributes are not
	 * cached by the kernel, so expired cells vanish at once. */
	struct hrfs_ttl_entry {
		char table[HR_MAX_NAME + 1];
		int has_ttl;
		int64_t checked_ms;
	} ttl[32];
	unsigned ttl_next;
};

/* The key of an inode, copied out under fs->lock for engine calls. */
struct hrfs_path {
	int kind;
	int st_sub;
	char table[HR_MAX_NAME + 1];
	uint8_t row[HRFS_NAME_MAX];
	size_t row_len;
	char family[HR_MAX_NAME + 1];
	uint8_t qual[HRFS_NAME_MAX];
	size_t qual_len;
	char name[HRFS_NAME_MAX + 1];	/* this node's file name */
	char mpath[HRFS_PATH_MAX];	/* registry path of this node */
};

/* ---- inode.c ------------------------------------------------------------- */
int hrfs_itab_init(struct hrfs *fs);
void hrfs_itab_destroy(struct hrfs *fs);
/* The inode of a kernel inode number, or NULL. */
struct hrfs_inode *hrfs_ino_find(struct hrfs *fs, fuse_ino_t ino);
/* Finds or creates the child (parent, name) of kind, adds nlookup (0 or 1).
 * Returns NULL on ENOMEM. Caller holds fs->lock. */
struct hrfs_inode *hrfs_ino_child_locked(struct hrfs *fs, struct hrfs_inode *parent,
					 int kind, const char *name, const uint8_t *key,
					 size_t key_len, uint64_t nlookup);
struct hrfs_inode *hrfs_ino_child(struct hrfs *fs, struct hrfs_inode *parent, int kind,
				  const char *name, const uint8_t *key, size_t key_len,
				  uint64_t nlookup);
/* The hashed child (parent, name), or NULL. Caller holds fs->lock. */
struct hrfs_inode *hrfs_ino_peek_locked(struct hrfs *fs, struct hrfs_inode *parent,
					const char *name);
void hrfs_ino_forget(struct hrfs *fs, fuse_ino_t ino, uint64_t n);
void hrfs_ino_ref_locked(struct hrfs_inode *in);
void hrfs_ino_unref(struct hrfs *fs, struct hrfs_inode *in);
/* Removes (parent, name) from the name table: later lookups make a new
 * inode. Caller holds fs->lock. */
void hrfs_ino_unhash_locked(struct hrfs *fs, struct hrfs_inode *in);
/* Moves an inode to a new (parent, name, key). Caller holds fs->lock. */
int hrfs_ino_move_locked(struct hrfs *fs, struct hrfs_inode *in, struct hrfs_inode *newparent,
			 const char *name, const uint8_t *key, size_t key_len);
/* Copies the key of in (and its registry path). Caller holds fs->lock. */
void hrfs_ino_path_locked(const struct hrfs_inode *in, struct hrfs_path *p);
void hrfs_ino_path(struct hrfs *fs, const struct hrfs_inode *in, struct hrfs_path *p);
/* Builds the registry path of a child name of dir path p. */
int hrfs_child_mpath(const struct hrfs_path *p, const char *name, char *out);

/* ---- mem.c --------------------------------------------------------------- */
int hrfs_mem_init(struct hrfs *fs);
void hrfs_mem_destroy(struct hrfs *fs);
/* Caller holds fs->lock for all of these. */
struct hrfs_mem *hrfs_mem_find_locked(struct hrfs *fs, const char *path);
/* Adds (or returns the existing) entry; NULL on ENOMEM. */
struct hrfs_mem *hrfs_mem_add_locked(struct hrfs *fs, const char *path, int kind);
void hrfs_mem_del_locked(struct hrfs *fs, const char *path);
/* Renames a listed entry (the new path must be free). */
int hrfs_mem_rename_locked(struct hrfs *fs, struct hrfs_mem *m, const char *newpath);
void hrfs_mem_ref_locked(struct hrfs_mem *m);
void hrfs_mem_unref_locked(struct hrfs *fs, struct hrfs_mem *m);
/* 1 if any listed entry has this parent path. */
int hrfs_mem_has_children_locked(struct hrfs *fs, const char *parent);
/* Takes fs->lock itself: the scratch file at path, referenced, or NULL. */
struct hrfs_mem *hrfs_mem_get_scratch(struct hrfs *fs, const char *path);

struct hrfs_mem_name {
	char name[HRFS_NAME_MAX + 1];
	int kind;
};
/* The listed children of parent, scratch files first, then the rest in
 * key order (the engine's order). *out is malloc'd. */
int hrfs_mem_list(struct hrfs *fs, const char *parent, struct hrfs_mem_name **out, size_t *n);
/* A cell arrived under path p (a row or family path): it no longer needs
 * its mkdir mark, nor do its ancestors. */
void hrfs_mem_cell_arrived_locked(struct hrfs *fs, const struct hrfs_path *cell);

/* ---- attr.c -------------------------------------------------------------- */
void hrfs_attr_dir(const struct hrfs *fs, uint64_t ino, struct stat *st);
void hrfs_attr_file(const struct hrfs *fs, uint64_t ino, uint64_t size, int64_t mtime_ms,
		    mode_t mode, struct stat *st);
/* Fills st for inode in (engine calls as needed). 0 or negative errno. */
int hrfs_getattr_inode(struct hrfs *fs, struct hrfs_inode *in, struct stat *st);
/* Replies to a lookup/mkdir/create-style request with entry for in. */
void hrfs_fill_entry(struct hrfs *fs, struct hrfs_inode *in, const struct stat *st,
		     struct fuse_entry_param *e);
int hrfs_errno(int rc); /* negative engine rc -> positive errno for FUSE */
/* The kernel cache timeout for inode in (0 for status files and for the
 * tree of a table with a TTL family). */
double hrfs_timeout_of(struct hrfs *fs, struct hrfs_inode *in);
int64_t hrfs_now_ms(void);

/* ---- ops_dir.c / ops_file.c / status.c ----------------------------------- */
void hrfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void hrfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void hrfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void hrfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi);
void hrfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void hrfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void hrfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void hrfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags);
void hrfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void hrfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi);
void hrfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void hrfs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void hrfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi);
void hrfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void hrfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void hrfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi);
void hrfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hrfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* Attributes as seen through an open cell handle. */
int hrfs_fh_stat(struct hrfs *fs, struct fuse_file_info *fi, struct stat *st);
/* Truncates a closed cell (path truncate). */
int hrfs_cell_truncate(struct hrfs *fs, struct hrfs_inode *in, uint64_t size);
/* Truncates through an open handle. */
int hrfs_fh_truncate(struct hrfs *fs, struct hrfs_fh *fh, uint64_t size);

/* status.c: the read-only /.hregionfs tree. */
int hrfs_status_lookup(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		       struct hrfs_inode **out);
/* The text of a status file (malloc'd). */
int hrfs_status_render(struct hrfs *fs, const struct hrfs_path *p, char **text, size_t *len);
/* Names of a status dir (malloc'd array of malloc'd strings + kinds). */
int hrfs_status_list(struct hrfs *fs, const struct hrfs_path *p, char ***names, int **kinds,
		     size_t *n);

#endif
