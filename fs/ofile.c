/*
 * ofile.c — open-file states: the one working copy of a cell that every
 * descriptor of it shares, on the mount, as a local file system has one
 * inode per file. Writes, truncates and attribute changes go to the state
 * at once, so every descriptor, stat, lseek and every process sees them;
 * the state is stored as one put at each close of a changed state, at
 * fsync, and at the last release (mmap'ed pages written back after the last
 * close). A scratch file's data is a state that is never stored.
 *
 * Content: a fresh state knows the stored version it stands for (base) and
 * loads the value only when something needs the bytes (a read the kernel's
 * page cache could not serve, a write, a truncate): a warm re-open of an
 * unchanged cell costs one engine lookup and no copy.
 *
 * Page cache: the kernel caches pages per inode. While a state exists every
 * change reaches the kernel's pages through the same inode, so its pages
 * stay the state's content. When the last handle goes, the inode remembers
 * the version it held (pc); the next open lets the kernel keep its pages
 * only if the cell is still exactly that version (ofile state creation in
 * ops_file.c); a lookup, getattr or listing that sees another version
 * forgets pc (hrfs_cell_seen), so that open drops them. Only a state that
 * finds, when it first reads its value, that the cell changed behind the
 * kernel's back while descriptors may hold its pages queues a data
 * invalidation (inval.c): the kernel cannot see such changes (a TTL expiry,
 * a write through another inode of the same key).
 *
 * Locking: see hrfs.h (of->lock, then fs->lock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

int64_t hrfs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void hrfs_fattr_default(const struct hrfs *fs, int64_t ts_ms, hr_file_attr *a)
{
	if (ts_ms <= 0)
		ts_ms = fs->start_ms;
	a->mode = 0644;
	a->uid = (uint32_t)fs->uid;
	a->gid = (uint32_t)fs->gid;
	a->mtime_ns = a->atime_ns = a->ctime_ns = ts_ms * 1000000LL;
}

int hrfs_ver_eq(const struct hrfs_ver *a, const struct hrfs_ver *b)
{
	return a->ts == b->ts && a->seq == b->seq && a->len == b->len;
}

void hrfs_attr_from_tags(const struct hrfs *fs, const void *tags, size_t tags_len, int64_t ts_ms,
			 hr_file_attr *a)
{
	if (!tags || hr_file_attr_tag_find(tags, tags_len, a) != 1)
		hrfs_fattr_default(fs, ts_ms, a);
}

int hrfs_cell_read(struct hrfs *fs, const struct hrfs_path *p, void **data,
		   struct hrfs_ver *ver, hr_file_attr *attr)
{
	hr_value v;
	int rc;
	memset(&v, 0, sizeof(v));
	HRFS_RETRY(fs, rc, "read cell",
		   hr_get(fs->srv, p->table, p->row, p->row_len, p->family, p->qual, p->qual_len,
			  (data ? HR_GET_VALUE : 0) | (attr ? HR_GET_TAGS : 0), &v));
	if (rc < 0)
		return rc;
	if (ver) {
		ver->ts = v.ts;
		ver->seq = v.seq;
		ver->len = v.len;
	}
	if (attr)
		hrfs_attr_from_tags(fs, v.tags, v.tags_len, v.ts, attr);
	if (data) {
		*data = v.data;
		v.data = NULL;
	}
	hr_value_free(&v);
	return 0;
}

void hrfs_cell_mcell(const struct hrfs_path *p, const void *data, size_t len,
		     const hr_file_attr *attr, uint8_t *tag, hr_mcell *mc)
{
	memset(mc, 0, sizeof(*mc));
	mc->family = p->family;
	mc->qualifier = p->qual;
	mc->qualifier_len = p->qual_len;
	mc->ts = HR_TS_NOW;
	mc->type = HR_PUT;
	mc->value = len ? data : "";
	mc->value_len = len;
	hr_file_attr_tag_encode(attr, tag);
	mc->tags = tag;
	mc->tags_len = HR_FILE_ATTR_TAG_LEN;
}

int hrfs_cell_put(struct hrfs *fs, const struct hrfs_path *p, const void *data, size_t len,
		  const hr_file_attr *attr, unsigned flags, const struct hrfs_ver *expect,
		  int expect_absent, int64_t ts, struct hrfs_ver *stored)
{
	uint8_t tag[HR_FILE_ATTR_TAG_LEN];
	hr_mcell mc;
	hr_check ck;
	hr_stamp st;
	int rc;
	hrfs_cell_mcell(p, data, len, attr, tag, &mc);
	mc.ts = ts;
	if (!expect && !expect_absent) {
		HRFS_RETRY(fs, rc, "store cell",
			   hr_mutate_stamped(fs->srv, p->table, p->row, p->row_len, &mc, 1, flags,
					     &st));
	} else {
		memset(&ck, 0, sizeof(ck));
		ck.family = p->family;
		ck.qualifier = p->qual;
		ck.qualifier_len = p->qual_len;
		ck.op = expect ? HR_CHECK_VERSION : HR_CHECK_ABSENT;
		if (expect) {
			ck.ts = expect->ts;
			ck.seq = expect->seq;
		}
		HRFS_RETRY(fs, rc, "store cell (checked)",
			   hr_check_and_mutate_stamped(fs->srv, p->table, p->row, p->row_len, &ck,
						       1, &mc, 1, flags, &st));
	}
	if (rc == 0 && stored) {
		stored->ts = st.ts;
		stored->seq = st.seq;
		stored->len = len;
	}
	return rc;
}

void hrfs_cell_seen(struct hrfs *fs, struct hrfs_inode *in, const struct hrfs_ver *ver)
{
	/* No state: nothing reads the inode's pages before an open, and the
	 * next open drops them (keep_cache only while pc_valid). So no kernel
	 * notification is needed here (each is a window in which a kill -9
	 * cannot end the daemon: inval.c). */
	pthread_mutex_lock(&fs->lock);
	if (in->kind == HRFS_CELL && in->pc_valid && !in->of &&
	    (!ver || !hrfs_ver_eq(&in->pc, ver)))
		in->pc_valid = 0;
	pthread_mutex_unlock(&fs->lock);
}

static struct hrfs_of *of_alloc(void)
{
	struct hrfs_of *of = calloc(1, sizeof(*of));
	if (!of)
		return NULL;
	pthread_mutex_init(&of->lock, NULL);
	of->refs = 1;
	return of;
}

struct hrfs_of *hrfs_of_new_scratch(const hr_file_attr *attr)
{
	struct hrfs_of *of = of_alloc();
	if (!of)
		return NULL;
	of->scratch = 1;
	of->init = 1;
	of->loaded = 1;
	of->attr = *attr;
	return of;
}

struct hrfs_of *hrfs_of_get(struct hrfs *fs, struct hrfs_inode *in, int create)
{
	struct hrfs_of *of = NULL;
	pthread_mutex_lock(&fs->lock);
	if (in->kind == HRFS_SCRATCH) {
		if (in->scratch && in->scratch->of)
			of = in->scratch->of;
	} else if (in->kind == HRFS_CELL) {
		of = in->of;
		if (!of && create && !in->unlinked && (of = of_alloc()) != NULL) {
			of->in = in;
			hrfs_ino_ref_locked(in);
			in->of = of;
			of->refs = 0; /* counted below */
		}
	}
	if (of)
		of->refs++;
	pthread_mutex_unlock(&fs->lock);
	return of;
}

/* The registry entry of a created cell that was never stored: its listing
 * goes with it. fs->lock held. */
static void drop_created_entry_locked(struct hrfs *fs, struct hrfs_of *of)
{
	if (!of->created || !of->in || of->in->unlinked)
		return; /* unlink dropped it, and the name may be another file's now */
	struct hrfs_path p;
	hrfs_ino_path_locked(of->in, &p);
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, p.mpath);
	if (m && m->kind == HRFS_MEM_CELL)
		hrfs_mem_del_locked(fs, p.mpath);
	of->created = 0;
	hrfs_dir_changed_locked(fs, of->in->parent);
}

void hrfs_of_put_locked(struct hrfs *fs, struct hrfs_of *of)
{
	if (--of->refs > 0)
		return;
	/* Nobody else can reach it now (in->of is cleared under this lock),
	 * so its fields are read without of->lock. */
	struct hrfs_inode *in = of->in;
	if (in) {
		drop_created_entry_locked(fs, of);
		if (in->of == of)
			in->of = NULL;
		/* The kernel's pages are this state's content: they stay valid
		 * while the cell is still the version stored from it. */
		if (of->init && of->pages_ok && !of->dirty && of->stored && !in->unlinked) {
			in->pc = of->base;
			in->pc_valid = 1;
		} else {
			in->pc_valid = 0;
		}
		hrfs_ino_unref_locked(fs, in);
	}
	pthread_mutex_destroy(&of->lock);
	free(of->buf);
	free(of);
}

void hrfs_of_put(struct hrfs *fs, struct hrfs_of *of)
{
	pthread_mutex_lock(&fs->lock);
	hrfs_of_put_locked(fs, of);
	pthread_mutex_unlock(&fs->lock);
}

/* The cell's path, or -ENOENT once its inode was unlinked. */
static int of_path(struct hrfs *fs, struct hrfs_of *of, struct hrfs_path *p)
{
	int rc = 0;
	pthread_mutex_lock(&fs->lock);
	if (!of->in || of->in->unlinked)
		rc = -ENOENT;
	else
		hrfs_ino_path_locked(of->in, p);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

int hrfs_of_init(struct hrfs *fs, struct hrfs_of *of, int want_value)
{
	/* pages_ok: whether the kernel's cached pages (if any) are the
	 * stored version this state starts from. */
	struct hrfs_path p;
	void *data = NULL;
	int rc = of_path(fs, of, &p);
	if (rc < 0)
		return rc;
	rc = hrfs_cell_read(fs, &p, want_value ? &data : NULL, &of->base, &of->attr);
	if (rc < 0) {
		if (rc != -ENOENT)
			hr_log_error("fs", "open %s: %s", p.mpath, hr_strerror(rc));
		return rc;
	}
	of->stored = 1;
	of->len = of->base.len;
	pthread_mutex_lock(&fs->lock);
	of->pages_ok = of->in->pc_valid && hrfs_ver_eq(&of->in->pc, &of->base);
	pthread_mutex_unlock(&fs->lock);
	if (want_value) {
		free(of->buf);
		of->buf = data;
		of->cap = of->len;
		of->loaded = 1;
	}
	of->init = 1;
	return 0;
}

void hrfs_of_init_created(struct hrfs *fs, struct hrfs_of *of, const hr_file_attr *attr)
{
	(void)fs;
	of->init = 1;
	of->loaded = 1;
	of->len = 0;
	of->stored = 0;
	of->created = 1;
	of->dirty = 1;
	of->attr = *attr;
	of->pages_ok = 1; /* a new inode: the kernel has no pages of it */
}

int hrfs_of_load(struct hrfs *fs, struct hrfs_of *of)
{
	struct hrfs_path p;
	struct hrfs_ver v;
	void *data = NULL;
	if (of->loaded)
		return 0;
	int rc = of_path(fs, of, &p);
	if (rc < 0)
		return -EIO; /* an unlinked state is always loaded first */
	rc = hrfs_cell_read(fs, &p, &data, &v, NULL);
	if (rc == -ENOENT) {
		/* gone behind this mount's back (an expired TTL): empty */
		memset(&v, 0, sizeof(v));
		of->stored = 0;
		rc = 0;
	} else if (rc < 0) {
		hr_log_error("fs", "read %s: %s", p.mpath, hr_strerror(rc));
		return rc;
	}
	if (!hrfs_ver_eq(&v, &of->base) && of->in) {
		/* Another version than the one the kernel may hold pages of:
		 * take it, and have those pages dropped. */
		hrfs_inval_queue(fs, of->in->ino);
		of->pages_ok = 0;
		of->base = v;
	}
	free(of->buf);
	of->buf = data;
	of->len = of->cap = v.len;
	of->loaded = 1;
	return 0;
}

/* Grows (zero-filling) or shrinks the loaded content to len bytes. */
static int of_resize(struct hrfs_of *of, size_t len)
{
	if (len > of->cap) {
		size_t nc = of->cap ? of->cap : 4096;
		while (nc < len)
			nc *= 2;
		uint8_t *nb = realloc(of->buf, nc);
		if (!nb)
			return -ENOMEM;
		of->buf = nb;
		of->cap = nc;
	}
	if (len > of->len)
		memset(of->buf + of->len, 0, len - of->len);
	of->len = len;
	return 0;
}

static void of_touch(struct hrfs_of *of)
{
	of->dirty = 1;
	of->attr.mtime_ns = of->attr.ctime_ns = hrfs_now_ns();
}

int hrfs_of_write(struct hrfs *fs, struct hrfs_of *of, const void *data, size_t size, uint64_t off)
{
	int rc = hrfs_of_load(fs, of);
	if (rc < 0)
		return rc;
	if (off + size > of->len && (rc = of_resize(of, (size_t)(off + size))) < 0)
		return rc;
	memcpy(of->buf + off, data, size);
	of_touch(of);
	return 0;
}

int hrfs_of_truncate(struct hrfs *fs, struct hrfs_of *of, uint64_t size)
{
	int rc;
	if (size == 0 && !of->loaded) {
		/* nothing to keep: no need to read the old value */
		of->loaded = 1;
		of->len = 0;
	} else if ((rc = hrfs_of_load(fs, of)) < 0) {
		return rc;
	}
	if ((rc = of_resize(of, (size_t)size)) < 0)
		return rc;
	of_touch(of);
	return 0;
}

void hrfs_of_reset(struct hrfs_of *of)
{
	free(of->buf);
	of->buf = NULL;
	of->len = of->cap = 0;
	of->loaded = of->stored = of->dirty = of->init = 0;
	of->trunc_ts = 0;
}

int hrfs_of_commit(struct hrfs *fs, struct hrfs_of *of, unsigned flags, int checked)
{
	struct hrfs_path p;
	struct hrfs_ver v;
	int rc;

	if (of->scratch || !of->dirty)
		return 0;
	if (of_path(fs, of, &p) < 0) {
		of->dirty = 0; /* removed while open: nothing to store */
		return 0;
	}
	/* An attribute-only change still stores the whole cell. */
	if ((rc = hrfs_of_load(fs, of)) < 0)
		return rc;
	/* checked: a read-modify-write by path; the cell must still be the
	 * version it was read at (-ECANCELED otherwise). v: the version
	 * stored, for the page cache of later opens, as the engine stamped it
	 * (no read back, so exact even if another write followed at once).
	 * The empty put's timestamp is reused only while the cell is still
	 * that put (a rename since then stored another version, with a later
	 * timestamp, that must not hide this one). */
	int64_t ts = HR_TS_NOW;
	if (of->trunc_ts && of->stored && of->base.ts == of->trunc_ts && of->base.len == 0)
		ts = of->trunc_ts;
	rc = hrfs_cell_put(fs, &p, of->buf, of->len, &of->attr, flags,
			   checked && of->stored ? &of->base : NULL, checked && !of->stored, ts,
			   &v);
	if (rc < 0) {
		if (rc != -ECANCELED)
			hr_log_error("fs", "store %s (%zu bytes): %s", p.mpath, of->len,
				     hr_strerror(rc));
		return rc;
	}
	atomic_fetch_add(&fs->ctr.commits, 1);
	of->dirty = 0;
	of->stored = 1;
	of->base = v;
	of->trunc_ts = of->len == 0 ? v.ts : 0;
	pthread_mutex_lock(&fs->lock);
	if (of->created) {
		struct hrfs_mem *m = hrfs_mem_find_locked(fs, p.mpath);
		if (m && m->kind == HRFS_MEM_CELL)
			hrfs_mem_del_locked(fs, p.mpath);
		of->created = 0;
	}
	hrfs_mem_cell_arrived_locked(fs, &p);
	/* A new cell may bring its row and family into their parents'
	 * listings (a stored one changes none, but a write through another
	 * inode of the same key, from a dropped table's subtree, is possible:
	 * any store counts). */
	if (of->in && of->in->parent)
		hrfs_dir_changed_locked(fs, of->in->parent);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

void hrfs_of_stat(struct hrfs *fs, struct hrfs_of *of, uint64_t ino, struct stat *st)
{
	hrfs_attr_file(fs, ino, of->len, &of->attr, st);
	pthread_mutex_lock(&fs->lock);
	if (of->scratch ? of->orphan : (!of->in || of->in->unlinked))
		st->st_nlink = 0;
	pthread_mutex_unlock(&fs->lock);
}
