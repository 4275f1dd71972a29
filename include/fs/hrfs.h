/*
 * hrfs.h — shared state of the FUSE front end (fs/).
 *
 * Ownership and locking
 * - struct hrfs is created by main.c, lives for the whole mount and is the
 *   userdata of the FUSE session. fs->srv and fs->cfg are read-only after
 *   start-up.
 * - fs->lock protects the inode table (inode.c: both hash tables and every
 *   inode's parent, name, key, nlookup, refs, unlinked, of, pc_*, dir
 *   mtime and list_* fields; fs->list_gen), the memory registry (mem.c:
 *   mkdir'd rows and families, created-but-uncommitted cells, scratch
 *   files) and every open-file state's refs. It is never held across an
 *   engine call or a FUSE reply.
 * - An open-file state (struct hrfs_of, ofile.c) is the one working copy of
 *   a cell or scratch file shared by all its descriptors; its mutex (of->lock)
 *   protects its content, attributes and version, and is held across the
 *   engine calls that read or store it (so that every engine write to a cell
 *   the kernel knows goes through its state in order) and across the READ
 *   reply that copies from it (a reply never waits for another request).
 * - Lock order: of->lock (two of them: the lower inode number first, a
 *   scratch file's after any cell's), then fs->lock. The invalidation
 *   queue's mutex (inval.c) is a leaf. No lock is held while waiting for the
 *   kernel (kernel invalidations run on their own thread, see inval.c).
 * - Inodes are reference counted twice: nlookup (the kernel's, dropped by
 *   forget) and refs (children, open-file states, and handles). An inode is
 *   freed when both reach zero; a child keeps its parent alive, so a key can
 *   always be rebuilt by walking up.
 */
#ifndef HRFS_H
#define HRFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
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
	/* history (history.c), read-only, never cached by the kernel: */
	HRFS_ST_VERSIONS, /* /.hregionfs/versions: lists tables */
	HRFS_ST_ASOF,	/* /.hregionfs/asof: lists nothing, <ts> by name */
	HRFS_ST_ASOF_TS, /* /.hregionfs/asof/<ts>: lists tables */
	HRFS_ST_SNAPS,	/* /.hregionfs/snapshots: tables, live or with snapshots */
	HRFS_ST_SNAP_TABLE, /* /.hregionfs/snapshots/<t>: its snapshots (mkdir, rmdir) */
	HRFS_HV_TABLE,	/* .../<table> under versions/ or asof/<ts>/; snapshots/<t>/<name> */
	HRFS_HV_ROW,
	HRFS_HV_FAMILY,
	HRFS_HV_CELL,	/* asof/<ts>/<t>/<r>/<f>/<q>: the cell as of ts (a file) */
	HRFS_HV_VCELL,	/* versions/<t>/<r>/<f>/<q>/: its versions (a directory) */
	HRFS_HV_VERSION, /* versions/<t>/<r>/<f>/<q>/<ts>: one version (a file) */
};

/* The status tree, history included: read-only (EROFS). */
static inline int hrfs_kind_is_status(int kind)
{
	return kind >= HRFS_ST_ROOT && kind <= HRFS_HV_VERSION;
}

/* The history tree (history.c). */
static inline int hrfs_kind_is_hist(int kind)
{
	return kind >= HRFS_ST_VERSIONS && kind <= HRFS_HV_VERSION;
}

enum hrfs_st_sub {
	HRFS_ST_STATS = 1,
	HRFS_ST_CONFIG,
	HRFS_ST_SCHEMA,
	HRFS_ST_REGIONS,
	HRFS_ST_SNAPSHOTS,
	HRFS_ST_METRICS,
};

#define HRFS_STATUS_DIR ".hregionfs"
/* Registry path: "<table>/<row name>/<family>/<name>", names encoded. */
#define HRFS_PATH_MAX (4 * (HRFS_NAME_MAX + 1))

struct hrfs_fh;
struct hrfs_mem;
struct hrfs_of;

/* The identity of one stored version of a cell: (ts, seq) names exactly
 * one write; len comes along for stat. */
struct hrfs_ver {
	int64_t ts;
	uint64_t seq;
	uint64_t len;
};

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
	int unlinked;		/* removed or replaced: its state must not commit */
	/* The open-file state of a cell while one exists (not a counted
	 * reference: the state clears it when it goes). */
	struct hrfs_of *of;
	/* The stored version the kernel's page cache of this inode holds
	 * (pc_valid): an open may let the kernel keep its pages only when the
	 * cell is still exactly that version. */
	int pc_valid;
	struct hrfs_ver pc;
	/* Directories: when their listing last changed through this mount. */
	int64_t dir_mtime_ns;
	/* Directories: the kernel's cached listing (dircache.c). list_gen
	 * changes with every change that may alter the listing; list_cached
	 * is the list_gen of the last whole, unchanged listing the kernel was
	 * sent (0: none); list_fillers counts open handles that may add to the
	 * kernel's cache; list_dirty: the listing changed while one was open. */
	uint64_t list_gen, list_cached;
	uint32_t list_fillers;
	int list_dirty;
	struct hrfs_mem *scratch; /* HRFS_SCRATCH: the registry entry (one reference) */
	struct hrfs_inode *next_ino, *next_name;
};

/* Memory registry entry kinds. */
enum { HRFS_MEM_ROW = 1, HRFS_MEM_FAMILY, HRFS_MEM_CELL, HRFS_MEM_SCRATCH };

struct hrfs_mem {
	char *path;		/* full registry path */
	size_t parent_len;	/* path[0..parent_len) is the parent's path */
	int kind;
	uint32_t refs;		/* registry (while listed) + inodes */
	int listed;
	struct hrfs_of *of;	/* HRFS_MEM_SCRATCH: its data (one reference) */
	struct hrfs_mem *next;
};

/* One open-file state: the working copy of a cell (or the data of a
 * scratch file) shared by every descriptor of it on the mount. */
struct hrfs_of {
	pthread_mutex_t lock;	/* every field from init on */
	uint32_t refs;		/* fs->lock: handles, a scratch entry, temporary holders */
	uint32_t nopen;		/* fs->lock: open handles */
	uint32_t nwriters;	/* fs->lock: open handles with write access */
	struct hrfs_inode *in;	/* fs->lock: the cell's inode (one inode reference);
				 * NULL for scratch data */
	int scratch;		/* scratch data: never stored */
	int init;		/* filled from the store, or created */
	uint8_t *buf;
	size_t len, cap;	/* len is the content's length, loaded or not */
	int loaded;		/* buf holds the content; else it is the stored version base */
	int stored;		/* base names a stored version */
	struct hrfs_ver base;	/* the version this state started from or last stored */
	int dirty;		/* content or attributes differ from what is stored */
	int created;		/* created through this mount, never stored (a listing entry in mem) */
	int synced;		/* fsync asked for: a scratch file renamed onto a cell is stored synced */
	int pages_ok;		/* the kernel's pages of the inode are this content */
	int orphan;		/* fs->lock: scratch data whose name was removed */
	/* The timestamp of an empty value this state stored (the truncation
	 * of "cmd > f", stored by the close of the shell's first descriptor
	 * before cmd writes): its next store reuses it, so that the value
	 * overwrites the empty one (one version per timestamp) and the cell's
	 * history shows one version per "cmd > f", not two. 0 = none. */
	int64_t trunc_ts;
	hr_file_attr attr;
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
	uint64_t list_gen;	/* fs->lock: the last listing generation handed out */
	struct hrfs_inval *inval; /* inval.c: the kernel-invalidation thread */
	struct hrfs_mx *mx;	/* metrics.c: FUSE request counters (set before the session) */
	/* Since the mount, for /.hregionfs/stats. */
	struct {
		atomic_uint_fast64_t reads;	/* READ requests (page-cache misses) */
		atomic_uint_fast64_t read_bytes;
		atomic_uint_fast64_t writes;	/* WRITE requests */
		atomic_uint_fast64_t commits;	/* states stored */
		atomic_uint_fast64_t inval_sent, inval_dropped;
		atomic_uint_fast64_t readdirs;	/* READDIR(PLUS) requests (kernel cache misses) */
		atomic_uint_fast64_t dir_cached; /* opendirs that let the kernel keep its listing */
	} ctr;
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
	/* the history tree: HRFS_HV_VERSIONS_VIEW, HRFS_HV_ASOF_VIEW or
	 * HRFS_HV_SNAP_VIEW (0 elsewhere), the asof moment, a version's
	 * timestamp, and the snapshot's name (table: its table) */
	int hv_view;
	int64_t hv_asof;
	int64_t hv_vts;
	char hv_snap[HR_MAX_NAME + 1];
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
void hrfs_ino_unref_locked(struct hrfs *fs, struct hrfs_inode *in);
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
/* Removes every entry under a table (dropped by someone else). */
void hrfs_mem_drop_table_locked(struct hrfs *fs, const char *table);
/* Renames a listed entry (the new path must be free). */
int hrfs_mem_rename_locked(struct hrfs *fs, struct hrfs_mem *m, const char *newpath);
void hrfs_mem_ref_locked(struct hrfs_mem *m);
void hrfs_mem_unref_locked(struct hrfs *fs, struct hrfs_mem *m);
/* 1 if any listed entry has this parent path. */
int hrfs_mem_has_children_locked(struct hrfs *fs, const char *parent);
/* Takes fs->lock itself: the scratch file at path, referenced, or NULL. */
struct hrfs_mem *hrfs_mem_get_scratch(struct hrfs *fs, const char *path);
/* Adds a scratch file with empty data; NULL on ENOMEM. Caller holds fs->lock. */
struct hrfs_mem *hrfs_mem_add_scratch_locked(struct hrfs *fs, const char *path,
					     const hr_file_attr *attr);

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

/* ---- ofile.c ------------------------------------------------------------- */
/* The state of in, referenced: a cell's (created when create is set and
 * there is none), a scratch file's (its registry entry's). NULL if there is
 * none (or ENOMEM). */
struct hrfs_of *hrfs_of_get(struct hrfs *fs, struct hrfs_inode *in, int create);
void hrfs_of_put(struct hrfs *fs, struct hrfs_of *of);
void hrfs_of_put_locked(struct hrfs *fs, struct hrfs_of *of);
/* A new scratch-data state (one reference) holding nothing. */
struct hrfs_of *hrfs_of_new_scratch(const hr_file_attr *attr);
/* The rest take of->lock held. */
/* Fills a fresh cell state from the store: its version and attributes, and
 * with want_value its content. -ENOENT if the cell does not exist (or the
 * inode was removed). */
int hrfs_of_init(struct hrfs *fs, struct hrfs_of *of, int want_value);
/* Initialises a fresh state as a cell created now (never stored). */
void hrfs_of_init_created(struct hrfs *fs, struct hrfs_of *of, const hr_file_attr *attr);
/* Makes buf hold the content (reads the stored version if needed). */
int hrfs_of_load(struct hrfs *fs, struct hrfs_of *of);
/* Changes: each marks the state dirty and stamps mtime/ctime. */
int hrfs_of_write(struct hrfs *fs, struct hrfs_of *of, const void *data, size_t size, uint64_t off);
int hrfs_of_truncate(struct hrfs *fs, struct hrfs_of *of, uint64_t size);
/* Stores a dirty cell state as one put (flags: HR_MUT_SYNC). An unlinked
 * cell's state is dropped instead: it has no name to be stored under.
 * checked: only if the cell is still the version the state was read at
 * (or still absent), else -ECANCELED (a read-modify-write by path). */
int hrfs_of_commit(struct hrfs *fs, struct hrfs_of *of, unsigned flags, int checked);
/* Forgets what a state read (it is read again by hrfs_of_init). */
void hrfs_of_reset(struct hrfs_of *of);
/* stat of the state (size = content length). */
void hrfs_of_stat(struct hrfs *fs, struct hrfs_of *of, uint64_t ino, struct stat *st);
/* The engine's view of a cell: reads its latest version (value into *data
 * when data is not NULL). Retries busy answers. */
int hrfs_cell_read(struct hrfs *fs, const struct hrfs_path *p, void **data,
		   struct hrfs_ver *ver, hr_file_attr *attr);
/* Stores value + attributes (its file-attribute tag) under p as one put
 * at ts (HR_TS_NOW: the server's clock); with expect, only if the cell is
 * still exactly that version, with expect_absent only if it has none (else
 * -ECANCELED). On success *stored (when not NULL) is the version written,
 * as a read of it would report it (the engine's stamp: no read back). */
int hrfs_cell_put(struct hrfs *fs, const struct hrfs_path *p, const void *data, size_t len,
		  const hr_file_attr *attr, unsigned flags, const struct hrfs_ver *expect,
		  int expect_absent, int64_t ts, struct hrfs_ver *stored);
/* The put cell of value + attributes for p (tag: HR_FILE_ATTR_TAG_LEN
 * bytes that must outlive mc). */
void hrfs_cell_mcell(const struct hrfs_path *p, const void *data, size_t len,
		     const hr_file_attr *attr, uint8_t *tag, hr_mcell *mc);
/* The attributes of a cell with this tag area (defaults when it has no
 * file-attribute tag). */
void hrfs_attr_from_tags(const struct hrfs *fs, const void *tags, size_t tags_len, int64_t ts_ms,
			 hr_file_attr *a);
int hrfs_ver_eq(const struct hrfs_ver *a, const struct hrfs_ver *b);
/* A cell's stored version as a lookup, getattr or listing saw it (NULL:
 * none): if the kernel may cache pages of another version of in, the next
 * open drops them. */
void hrfs_cell_seen(struct hrfs *fs, struct hrfs_inode *in, const struct hrfs_ver *ver);
int64_t hrfs_now_ns(void);
/* Attributes of a cell stored without any: 0644, the mounting user, the
 * cell's timestamp. */
void hrfs_fattr_default(const struct hrfs *fs, int64_t ts_ms, hr_file_attr *a);

/* ---- dircache.c ---------------------------------------------------------- */
/* The listing of dir (a directory inode) may have changed: its own and
 * those of its ancestors up to the table, and of the directories that now
 * hold its path if an ancestor was unhashed (rmdir'd or a dropped table).
 * Call after the change is visible (engine call returned, registry
 * updated). Caller holds fs->lock. */
void hrfs_dir_changed_locked(struct hrfs *fs, struct hrfs_inode *dir);
void hrfs_dir_changed(struct hrfs *fs, struct hrfs_inode *dir);
/* The root's listing (the tables) changed. Caller holds fs->lock. */
void hrfs_root_changed_locked(struct hrfs *fs);
/* What an OPENDIR of dir may let the kernel do with its listing cache. */
struct hrfs_dirc {
	int fill;		/* FOPEN_CACHE_DIR: the kernel may fill and use its cache */
	int keep;		/* FOPEN_KEEP_CACHE: what it holds is still this listing */
	uint64_t gen;		/* dir->list_gen at open */
};
/* Decides the flags of an OPENDIR (counts a filler). */
void hrfs_dirc_open(struct hrfs *fs, struct hrfs_inode *dir, int cacheable, struct hrfs_dirc *c);
/* The handle sent the kernel the whole listing, from offset 0 to its end. */
void hrfs_dirc_complete(struct hrfs *fs, struct hrfs_inode *dir, const struct hrfs_dirc *c);
/* The handle is released. */
void hrfs_dirc_release(struct hrfs *fs, struct hrfs_inode *dir, const struct hrfs_dirc *c);

/* ---- inval.c ------------------------------------------------------------- */
/* A thread that sends the kernel's page-cache invalidations, so that no
 * request handler ever waits for one (they take page and inode locks that a
 * request in flight may hold). Correctness never depends on them: a state
 * is created with keep_cache only when its stored version is the one the
 * kernel's pages hold. */
int hrfs_inval_start(struct hrfs *fs);
void hrfs_inval_stop(struct hrfs *fs);
/* Queues the invalidation of ino's pages and attributes (dropped if the
 * queue is full). */
void hrfs_inval_queue(struct hrfs *fs, uint64_t ino);
/* Queues the invalidation of the entry name in directory parent: the kernel
 * forgets it and every name it cached below it (negative ones too). */
void hrfs_inval_entry_queue(struct hrfs *fs, uint64_t parent, const char *name);

/* ---- events.c ------------------------------------------------------------ */
/* The engine's table events (hr_server_set_table_events): a table whose
 * contents changed behind the mount (a restore) loses every listing, page
 * and name the kernel or this layer keeps of it; a table made behind it
 * (clone, import) changes the root's listing. */
void hrfs_table_event(void *fs, const char *table, int event);
/* Tables created and dropped and families altered too (by hregionctl: the
 * mount sees them at once). The mount's own engine calls that create or
 * drop a table are marked (1 before, 0 after) and left to the caller's
 * bookkeeping. */
void hrfs_ev_own(int on);

/* ---- attr.c -------------------------------------------------------------- */
void hrfs_attr_dir(const struct hrfs *fs, uint64_t ino, struct stat *st);
void hrfs_attr_file(const struct hrfs *fs, uint64_t ino, uint64_t size,
		    const hr_file_attr *a, struct stat *st);
/* Fills st for inode in (engine calls as needed). 0 or negative errno. */
int hrfs_getattr_inode(struct hrfs *fs, struct hrfs_inode *in, struct stat *st);
/* 1 if in lies in a table with a TTL family (nothing of it is cached). */
int hrfs_in_ttl_table(struct hrfs *fs, struct hrfs_inode *in);
/* Replies to a lookup/mkdir/create-style request with entry for in. */
void hrfs_fill_entry(struct hrfs *fs, struct hrfs_inode *in, const struct stat *st,
		     struct fuse_entry_param *e);
int hrfs_errno(int rc); /* negative engine rc -> positive errno for FUSE */
/* The kernel cache timeout for inode in (0 for status files and for the
 * tree of a table with a TTL family). */
double hrfs_timeout_of(struct hrfs *fs, struct hrfs_inode *in);
int64_t hrfs_now_ms(void);

/* ---- metrics.c ------------------------------------------------------------ */
/* *out = the operation table inner with every handler wrapped to count its
 * requests (hregionfs_fuse_requests_total) and time them; sets fs->mx. */
int hrfs_metrics_ops(struct hrfs *fs, const struct fuse_lowlevel_ops *inner,
		     struct fuse_lowlevel_ops *out);
/* Registers the mount's families on the engine's registry (fs->srv open). */
int hrfs_metrics_register(struct hrfs *fs);
void hrfs_metrics_free(struct hrfs *fs);
/* fuse_reply_err that counts an error reply (err > 0) under the operation
 * being handled and the errno's name (hregionfs_fuse_errors_total). Every
 * fuse_reply_err in fs/ is this one (the macro below), so a new handler's
 * errors are counted without anyone remembering to. */
int hrfs_reply_err_counted(fuse_req_t req, int err);
/* Counts an error the kernel reports without an error reply (a negative
 * lookup entry is ENOENT to the caller). */
void hrfs_metrics_error(fuse_req_t req, int err);
#define fuse_reply_err(req, err) hrfs_reply_err_counted((req), (err))

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
/* getattr through an open handle: its state (also once unlinked). */
int hrfs_fh_getattr(struct hrfs *fs, struct fuse_file_info *fi, struct stat *st);


enum { HRFS_HV_VERSIONS_VIEW = 1, HRFS_HV_ASOF_VIEW = 2, HRFS_HV_SNAP_VIEW = 3 };

/* history.c: /.hregionfs/versions/, /.hregionfs/asof/ and
 * /.hregionfs/snapshots/ (the history kinds above). Lookup of a child of a
 * history dir (nlookup + 1). */
int hrfs_hist_lookup(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		     struct hrfs_inode **out);
/* The listing, taken at once, of ST_VERSIONS, ST_ASOF, ST_ASOF_TS, ST_SNAPS,
 * ST_SNAP_TABLE and HV_VCELL (as hrfs_status_list). HV_TABLE/ROW/FAMILY
 * stream a scan instead (ops_readdir.c, with hrfs_hist_scan_open). */
int hrfs_hist_list(struct hrfs *fs, const struct hrfs_path *p, char ***names, int **kinds,
		   size_t *n);
/* Opens the scan o of history dir p's view: o gets the view's time bound,
 * history flag or snapshot (busy answers retried). -ENOENT when the
 * snapshot is gone. */
int hrfs_hist_scan_open(struct hrfs *fs, const struct hrfs_path *p, hr_scan_opts *o,
			hr_scan **out);
/* mkdir / rmdir of snapshots/<t>/<name>: takes / deletes the snapshot
 * (mkdir: the new inode, nlookup + 1). */
int hrfs_snap_mkdir(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		    struct hrfs_inode **out);
int hrfs_snap_rmdir(struct hrfs *fs, struct hrfs_inode *dir, const char *name);
/* The stat of a history inode. */
int hrfs_hist_getattr(struct hrfs *fs, struct hrfs_inode *in, struct stat *st);
/* The content of a history file (HV_CELL, HV_VERSION), malloc'd. */
int hrfs_hist_read(struct hrfs *fs, const struct hrfs_path *p, char **data, size_t *len);
/* Fills the history fields of p for a history inode. Caller holds fs->lock. */
void hrfs_hist_path_locked(const struct hrfs_inode *in, struct hrfs_path *p);

/* status.c: the read-only /.hregionfs tree. */
/* 0 if the table exists, -ENOENT if not (or its name is invalid). */
int hrfs_table_exists(struct hrfs *fs, const char *name);
int hrfs_status_lookup(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		       struct hrfs_inode **out);
/* The text of a status file (malloc'd). */
int hrfs_status_render(struct hrfs *fs, const struct hrfs_path *p, char **text, size_t *len);
/* Names of a status dir (malloc'd array of malloc'd strings + kinds). */
int hrfs_status_list(struct hrfs *fs, const struct hrfs_path *p, char ***names, int **kinds,
		     size_t *n);
/* Appends a copy of name and its kind to such a listing (the status and
 * history trees build theirs with it); -ENOMEM leaves what is there. */
int hrfs_status_add_name(char ***names, int **kinds, size_t *n, const char *name, int kind);

#endif
