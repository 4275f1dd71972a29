/*
 * ops_readdir.c — directory listings. A table is listed by streaming an
 * engine scan cursor, so memory does not grow with the table. The stream of
 * a directory is: ".", "..", scratch files, then the engine's entries merged
 * (in key order) with the mount's memory-only entries (mkdir'd rows and
 * families, created-but-uncommitted cells). Entry i has offset i + 1. The
 * dir handle keeps the cursor and a ring of the last HRFS_DH_RING entries
 * produced, so the kernel may ask again from any offset inside the ring (it
 * does when a getdents buffer fills in the middle of a reply) without a
 * rescan: entries deleted meanwhile (rm -r) cannot shift what comes next.
 * Only an offset before the ring (seekdir far back) restarts the stream
 * and skips to it.
 *
 * The kernel may keep listings (dircache.c decides at each opendir): a
 * handle reports when it has sent the whole listing, and an entry it had to
 * leave out of a reply (vanished, or no memory) counts as a change of the
 * listing, since the kernel's copy lacks it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

#define FS(req) ((struct hrfs *)fuse_req_userdata(req))

struct hrfs_dent {
	char name[HRFS_NAME_MAX + 1];
	uint8_t key[HRFS_NAME_MAX];
	size_t key_len;
	int kind;		/* kind of the child inode */
	int has_attr;		/* size, version and attributes below come from the scan */
	uint64_t size;
	int64_t ts;
	uint64_t seq;
	hr_file_attr attr;
	int dot;		/* "." or ".." */
};

struct hrfs_dh {
	pthread_mutex_t lock;
	struct hrfs_path p;
	int kind;
	struct hrfs_inode *in;	/* the directory (one inode reference) */
	struct hrfs_dirc dc;	/* what the kernel may do with its listing cache */
	int whole;		/* the kernel got every entry so far, in order from 0 */
	off_t served;		/* entries [0, served) were sent to the kernel */
	/* memory-only children, snapshot at opendir */
	struct hrfs_mem_name *mem;
	size_t nmem, mi;
	/* root and status dirs: a snapshot list */
	char **names;
	int *kinds;
	size_t nnames, ni;
	hr_scan *sc;
	int scan_done;
	uint8_t *last;		/* key of the last scan entry, for resuming */
	size_t last_len, last_cap;
	int have_last;
	int have_peek;
	struct hrfs_dent peek;
	int special;		/* 0, 1: "." and ".." still to come */
	off_t next_off;		/* entries produced so far */
	struct hrfs_dent *ring;	/* entry i at ring[i % HRFS_DH_RING] */
};

#define HRFS_DH_RING 256

/* 0 a table, 1 a row, 2 a family (live or in a history view: listed by
 * a scan), -1 a directory listed from a snapshot list (or not at all). */
static int dir_level(int kind)
{
	switch (kind) {
	case HRFS_TABLE:
	case HRFS_HV_TABLE:
		return 0;
	case HRFS_ROW:
	case HRFS_HV_ROW:
		return 1;
	case HRFS_FAMILY:
	case HRFS_HV_FAMILY:
		return 2;
	default:
		return -1;
	}
}

static int child_kind(int dirkind)
{
	switch (dirkind) {
	case HRFS_TABLE:
		return HRFS_ROW;
	case HRFS_ROW:
		return HRFS_FAMILY;
	case HRFS_HV_TABLE:
		return HRFS_HV_ROW;
	case HRFS_HV_ROW:
		return HRFS_HV_FAMILY;
	default:
		return HRFS_CELL;
	}
}

static int dh_child_kind(const struct hrfs_dh *dh)
{
	if (dh->kind == HRFS_HV_FAMILY)
		return dh->p.hv_view == HRFS_HV_VERSIONS_VIEW ? HRFS_HV_VCELL : HRFS_HV_CELL;
	return child_kind(dh->kind);
}

static int mem_kind_to_inode(int dirkind, int mk)
{
	return mk == HRFS_MEM_SCRATCH ? HRFS_SCRATCH : child_kind(dirkind);
}

static void dh_reset(struct hrfs_dh *dh)
{
	if (dh->sc)
		hr_scan_close(dh->sc);
	dh->sc = NULL;
	dh->scan_done = 0;
	dh->have_last = 0;
	dh->have_peek = 0;
	dh->mi = dh->ni = 0;
	dh->special = 0;
	dh->next_off = 0;
}

static void dh_free(struct hrfs *fs, struct hrfs_dh *dh)
{
	if (dh->in) {
		hrfs_dirc_release(fs, dh->in, &dh->dc);
		hrfs_ino_unref(fs, dh->in);
	}
	dh_reset(dh);
	free(dh->ring);
	free(dh->last);
	free(dh->mem);
	for (size_t i = 0; i < dh->nnames; i++)
		free(dh->names[i]);
	free(dh->names);
	free(dh->kinds);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
}

void hrfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrfs *fs = FS(req);
	struct hrfs_inode *in = hrfs_ino_find(fs, ino);
	int rc = 0;
	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->kind == HRFS_CELL || in->kind == HRFS_SCRATCH || in->kind == HRFS_ST_FILE ||
	    in->kind == HRFS_HV_CELL || in->kind == HRFS_HV_VERSION) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	struct hrfs_dh *dh = calloc(1, sizeof(*dh));
	if (!dh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&dh->lock, NULL);
	pthread_mutex_lock(&fs->lock);
	hrfs_ino_ref_locked(in);
	hrfs_ino_path_locked(in, &dh->p);
	pthread_mutex_unlock(&fs->lock);
	dh->in = in;
	dh->kind = in->kind;
	dh->whole = 1;
	/* Before the listing is read (a change after this moves list_gen). */
	hrfs_dirc_open(fs, in,
		       in->kind == HRFS_ROOT ||
			       ((in->kind == HRFS_TABLE || in->kind == HRFS_ROW ||
				 in->kind == HRFS_FAMILY) &&
				!hrfs_in_ttl_table(fs, in)),
		       &dh->dc);
	switch (in->kind) {
	case HRFS_ROOT: {
		char **t = NULL;
		size_t n = 0;
		HRFS_RETRY(fs, rc, "readdir /", hr_table_list(fs->srv, &t, &n));
		if (rc < 0)
			break;
		dh->names = calloc(n + 1, sizeof(char *));
		dh->kinds = calloc(n + 1, sizeof(int));
		if (!dh->names || !dh->kinds) {
			hr_names_free(t, n);
			rc = -ENOMEM;
			break;
		}
		/* /.hregionfs is reachable by name but not listed, so that
		 * cp -r, tar, rsync and diff -r of the whole mount see data only. */
		for (size_t i = 0; i < n; i++) {
			dh->names[dh->nnames] = t[i]; /* ownership moves */
			dh->kinds[dh->nnames++] = HRFS_TABLE;
		}
		free(t);
		break;
	}
	case HRFS_ST_ROOT:
	case HRFS_ST_TABLES:
	case HRFS_ST_TABLE:
		rc = hrfs_status_list(fs, &dh->p, &dh->names, &dh->kinds, &dh->nnames);
		break;
	case HRFS_ST_VERSIONS:
	case HRFS_ST_ASOF:
	case HRFS_ST_ASOF_TS:
	case HRFS_ST_SNAPS:
	case HRFS_ST_SNAP_TABLE:
	case HRFS_HV_VCELL:
		rc = hrfs_hist_list(fs, &dh->p, &dh->names, &dh->kinds, &dh->nnames);
		break;
	case HRFS_HV_TABLE:
	case HRFS_HV_ROW:
	case HRFS_HV_FAMILY:
		break; /* a scan only: no memory-only entries in the past */
	default:
		rc = hrfs_mem_list(fs, dh->p.mpath, &dh->mem, &dh->nmem);
		break;
	}
	if (rc < 0) {
		hr_log_error("fs", "opendir %s: %s", dh->p.mpath, hr_strerror(rc));
		dh_free(fs, dh);
		fuse_reply_err(req, hrfs_errno(rc));
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dh;
	fi->cache_readdir = dh->dc.fill;
	fi->keep_cache = dh->dc.keep;
	if (dh->dc.keep)
		atomic_fetch_add(&fs->ctr.dir_cached, 1);
	if (fuse_reply_open(req, fi) != 0)
		dh_free(fs, dh);
}

void hrfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dh_free(FS(req), (struct hrfs_dh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Opens the scan of dh, resuming strictly after the last key it returned
 * when it has returned one (after a busy or moved region). */
static int open_scan(struct hrfs *fs, struct hrfs_dh *dh)
{
	hr_scan_opts o;
	uint8_t stop[HRFS_NAME_MAX + 1];
	int rc;
	memset(&o, 0, sizeof(o));
	if (dir_level(dh->kind) == 0) {
		o.mode = HR_SCAN_ROWS;
		if (dh->have_last) {
			o.start = dh->last;
			o.start_len = dh->last_len;
			o.start_after_row = 1;
		}
	} else {
		/* Exactly this row: [row, row + "\0"). */
		memcpy(stop, dh->p.row, dh->p.row_len);
		stop[dh->p.row_len] = 0;
		o.start = dh->p.row;
		o.start_len = dh->p.row_len;
		o.stop = stop;
		o.stop_len = dh->p.row_len + 1;
		if (dir_level(dh->kind) == 1) {
			o.mode = HR_SCAN_FAMILIES;
			if (dh->have_last)
				o.resume_family = (const char *)dh->last;
		} else {
			o.mode = HR_SCAN_CELLS;
			o.family = dh->p.family;
			if (dh->have_last) {
				o.resume_family = dh->p.family;
				o.resume_qualifier = dh->last;
				o.resume_qualifier_len = dh->last_len;
			}
		}
	}
	if (hrfs_kind_is_hist(dh->kind))
		return hrfs_hist_scan_open(fs, &dh->p, &o, &dh->sc);
	HRFS_RETRY(fs, rc, "readdir (scan open)", hr_scan_open(fs->srv, dh->p.table, &o, &dh->sc));
	return rc;
}

/* Remembers the key of a scan entry (for resuming). */
static void note_last(struct hrfs_dh *dh, const hr_scan_entry *e)
{
	const uint8_t *k;
	size_t kl;
	if (dir_level(dh->kind) == 0) {
		k = e->row;
		kl = e->row_len;
	} else if (dir_level(dh->kind) == 1) {
		k = (const uint8_t *)e->family;
		kl = e->family ? strlen(e->family) : 0;
	} else {
		k = e->qualifier;
		kl = e->qualifier_len;
	}
	if (kl + 1 > dh->last_cap) {
		uint8_t *n = realloc(dh->last, kl + 1);
		if (!n) {
			dh->have_last = 0; /* a resume would restart: duplicates, no loss */
			return;
		}
		dh->last = n;
		dh->last_cap = kl + 1;
	}
	memcpy(dh->last, k, kl);
	dh->last[kl] = 0; /* a family name is used as a C string */
	dh->last_len = kl;
	dh->have_last = 1;
}

/* Fetches the next engine entry into dh->peek. 1, 0 (end) or -errno. */
static int fill_peek(struct hrfs *fs, struct hrfs_dh *dh)
{
	int rc;
	unsigned attempt = 0;
	if (dh->have_peek)
		return 1;
	if (dh->scan_done)
		return 0;
	if (!dh->sc && (rc = open_scan(fs, dh)) < 0)
		return rc;
	for (;;) {
		hr_scan_entry e;
		rc = hr_scan_next(dh->sc, &e);
		if (hrfs_retryable(rc) && attempt < fs->cfg.retries) {
			/* The region moved or is busy: reopen after the last key. */
			hr_scan_close(dh->sc);
			dh->sc = NULL;
			hrfs_backoff(fs, attempt++);
			if ((rc = open_scan(fs, dh)) < 0)
				return rc;
			continue;
		}
		if (hrfs_retryable(rc))
			rc = -EAGAIN;
		if (rc <= 0) {
			if (rc == 0)
				dh->scan_done = 1;
			return rc;
		}
		note_last(dh, &e);
		struct hrfs_dent *d = &dh->peek;
		memset(d, 0, offsetof(struct hrfs_dent, key));
		d->has_attr = d->dot = 0;
		d->kind = dh_child_kind(dh);
		const uint8_t *k;
		size_t kl;
		if (dir_level(dh->kind) == 0) {
			k = e.row;
			kl = e.row_len;
		} else if (dir_level(dh->kind) == 1) {
			k = (const uint8_t *)e.family;
			kl = e.family ? strlen(e.family) : 0;
		} else {
			k = e.qualifier;
			kl = e.qualifier_len;
			d->has_attr = 1;
			d->size = e.value_len;
			d->ts = e.ts;
			d->seq = e.seq;
			hrfs_attr_from_tags(fs, e.tags, e.tags_len, e.ts, &d->attr);
		}
		if (kl > HRFS_NAME_MAX)
			continue; /* no 255-byte name can spell it */
		if (dir_level(dh->kind) == 1) {
			memcpy(d->name, k, kl);
			d->name[kl] = '\0';
		} else if (hrfs_name_encode(k, kl, d->name) < 0) {
			hr_log_debug("fs", "readdir %s: a key of %zu bytes has no name", dh->p.mpath, kl);
			continue;
		}
		memcpy(d->key, k, kl);
		d->key_len = kl;
		dh->have_peek = 1;
		return 1;
	}
}

static int mem_key(const struct hrfs_dh *dh, const struct hrfs_mem_name *m, uint8_t *key)
{
	if (dh->kind == HRFS_ROW) {
		size_t l = strlen(m->name);
		memcpy(key, m->name, l);
		return (int)l;
	}
	return hrfs_name_decode(m->name, key);
}

static void set_mem_dent(const struct hrfs_dh *dh, const struct hrfs_mem_name *m,
			 struct hrfs_dent *d)
{
	memset(d, 0, offsetof(struct hrfs_dent, key));
	d->has_attr = d->dot = 0;
	snprintf(d->name, sizeof(d->name), "%s", m->name);
	d->kind = mem_kind_to_inode(dh->kind, m->kind);
	int kl = m->kind == HRFS_MEM_SCRATCH ? -1 : mem_key(dh, m, d->key);
	if (kl < 0) {
		kl = (int)strlen(m->name);
		memcpy(d->key, m->name, (size_t)kl);
	}
	d->key_len = (size_t)kl;
}

/* The next entry of the stream. 1, 0 (end) or -errno. */
static int dh_next(struct hrfs *fs, struct hrfs_dh *dh, struct hrfs_dent *out)
{
	if (dh->special < 2) {
		memset(out, 0, sizeof(*out));
		strcpy(out->name, dh->special == 0 ? "." : "..");
		out->dot = 1;
		dh->special++;
		return 1;
	}
	if (dh->names) {
		if (dh->ni >= dh->nnames)
			return 0;
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", dh->names[dh->ni]);
		out->kind = dh->kinds[dh->ni];
		dh->ni++;
		return 1;
	}
	if (dir_level(dh->kind) < 0)
		return 0;
	/* Scratch files first (the mem list is sorted that way). */
	if (dh->mi < dh->nmem && dh->mem[dh->mi].kind == HRFS_MEM_SCRATCH) {
		set_mem_dent(dh, &dh->mem[dh->mi++], out);
		return 1;
	}
	int rc = fill_peek(fs, dh);
	if (rc < 0)
		return rc;
	if (dh->mi < dh->nmem) {
		struct hrfs_dent md;
		set_mem_dent(dh, &dh->mem[dh->mi], &md);
		int c = 1; /* >0: mem first */
		if (rc > 0) {
			size_t l = md.key_len < dh->peek.key_len ? md.key_len : dh->peek.key_len;
			c = memcmp(md.key, dh->peek.key, l);
			if (c == 0)
				c = (md.key_len > dh->peek.key_len) - (md.key_len < dh->peek.key_len);
			c = -c; /* c > 0 now means the mem entry sorts first */
		}
		if (c > 0) {
			dh->mi++;
			*out = md;
			return 1;
		}
		if (c == 0)
			dh->mi++; /* in both: the engine's entry (with attrs) wins */
	}
	if (rc == 0)
		return 0;
	*out = dh->peek;
	dh->have_peek = 0;
	return 1;
}

/* Attributes for a readdirplus entry; creates the inode (nlookup + 1). */
static struct hrfs_inode *plus_entry(struct hrfs *fs, fuse_ino_t dirino, const struct hrfs_dh *dh,
				     const struct hrfs_dent *d, struct fuse_entry_param *e)
{
	struct hrfs_inode *dir = hrfs_ino_find(fs, dirino);
	struct stat st;
	char mp[HRFS_PATH_MAX];
	if (!dir)
		return NULL;
	if (hrfs_kind_is_hist(d->kind) && dir_level(dh->kind) >= 0) {
		/* a history view's scan just saw it: no second look */
		struct hrfs_inode *hi = hrfs_ino_child(fs, dir, d->kind, d->name, d->key,
						       d->key_len, 1);
		if (!hi)
			return NULL;
		if (d->kind == HRFS_HV_CELL)
			hrfs_attr_file(fs, hi->ino, d->size, &d->attr, &st);
		else
			hrfs_attr_dir(fs, hi->ino, &st);
		hrfs_fill_entry(fs, hi, &st, e);
		return hi;
	}
	if (hrfs_kind_is_hist(d->kind)) {
		/* from a snapshot list, by lookup: a version may have gone
		 * since the listing (then it is skipped) */
		struct hrfs_inode *hi = NULL;
		int rc = hrfs_kind_is_hist(dir->kind) ? hrfs_hist_lookup(fs, dir, d->name, &hi)
						      : hrfs_status_lookup(fs, dir, d->name, &hi);
		if (rc < 0)
			return NULL;
		if (hrfs_getattr_inode(fs, hi, &st) < 0) {
			hrfs_ino_forget(fs, hi->ino, 1);
			return NULL;
		}
		hrfs_fill_entry(fs, hi, &st, e);
		return hi;
	}
	if (d->kind == HRFS_ST_FILE) {
		struct hrfs_inode *sf = NULL;
		if (hrfs_status_lookup(fs, dir, d->name, &sf) < 0)
			return NULL;
		if (hrfs_getattr_inode(fs, sf, &st) < 0) {
			hr_file_attr a;
			hrfs_fattr_default(fs, 0, &a);
			a.mode = 0444;
			hrfs_attr_file(fs, sf->ino, 0, &a, &st);
		}
		hrfs_fill_entry(fs, sf, &st, e);
		return sf;
	}
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *m = NULL;
	if (d->kind == HRFS_SCRATCH && hrfs_child_mpath(&dh->p, d->name, mp) == 0) {
		m = hrfs_mem_find_locked(fs, mp);
		if (!m || m->kind != HRFS_MEM_SCRATCH) {
			pthread_mutex_unlock(&fs->lock);
			return NULL; /* unlinked since opendir */
		}
	}
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, dir, d->kind, d->name,
						      d->kind == HRFS_SCRATCH ? NULL : d->key,
						      d->key_len, 1);
	if (in && m && in->scratch != m) {
		if (in->scratch)
			hrfs_mem_unref_locked(fs, in->scratch);
		hrfs_mem_ref_locked(m);
		in->scratch = m;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!in)
		return NULL;
	if (d->kind == HRFS_CELL || d->kind == HRFS_SCRATCH) {
		/* An open state is the file (its size may be ahead of the
		 * store); else the scan's cell. */
		struct hrfs_of *of = hrfs_of_get(fs, in, 0);
		int have = 0;
		if (of) {
			pthread_mutex_lock(&of->lock);
			if (of->init) {
				hrfs_of_stat(fs, of, in->ino, &st);
				have = 1;
			}
			pthread_mutex_unlock(&of->lock);
			hrfs_of_put(fs, of);
		}
		if (!have && d->has_attr) {
			struct hrfs_ver v = {.ts = d->ts, .seq = d->seq, .len = d->size};
			hrfs_attr_file(fs, in->ino, d->size, &d->attr, &st);
			hrfs_cell_seen(fs, in, &v);
		} else if (!have) {
			/* created, not stored, and its handle gone: vanishing */
			hrfs_ino_forget(fs, in->ino, 1);
			return NULL;
		}
	} else {
		hrfs_attr_dir(fs, in->ino, &st);
		pthread_mutex_lock(&fs->lock);
		if (in->dir_mtime_ns) {
			st.st_mtim.tv_sec = (time_t)(in->dir_mtime_ns / 1000000000LL);
			st.st_mtim.tv_nsec = (long)(in->dir_mtime_ns % 1000000000LL);
			st.st_ctim = st.st_mtim;
		}
		pthread_mutex_unlock(&fs->lock);
	}
	hrfs_fill_entry(fs, in, &st, e);
	return in;
}

static ino_t synth_ino(const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (ino_t)(h | (1ULL << 63));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct hrfs *fs = FS(req);
	struct hrfs_dh *dh = (struct hrfs_dh *)(uintptr_t)fi->fh;
	struct hrfs_dent d;
	int rc = 0;
	size_t used = 0;
	char *buf = malloc(size ? size : 1);

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	atomic_fetch_add(&fs->ctr.readdirs, 1);
	pthread_mutex_lock(&dh->lock);
	if (off > dh->served)
		dh->whole = 0; /* a seek past what was sent: the kernel lacks a part */
	if (!dh->ring && !(dh->ring = malloc(HRFS_DH_RING * sizeof(*dh->ring)))) {
		rc = -ENOMEM;
		goto out;
	}
	if (off < 0 || off < dh->next_off - HRFS_DH_RING)
		dh_reset(dh); /* before the ring: produce the stream again */
	while (dh->next_off < off) {
		rc = dh_next(fs, dh, &dh->ring[dh->next_off % HRFS_DH_RING]);
		if (rc <= 0)
			goto out;
		dh->next_off++;
	}
	for (off_t pos = off < 0 ? 0 : off;; pos++) {
		if (pos == dh->next_off) {
			rc = dh_next(fs, dh, &dh->ring[pos % HRFS_DH_RING]);
			if (rc <= 0)
				break;
			dh->next_off++;
		}
		d = dh->ring[pos % HRFS_DH_RING];
		size_t need;
		struct stat st;
		memset(&st, 0, sizeof(st));
		int is_dir = d.dot || (d.kind != HRFS_CELL && d.kind != HRFS_SCRATCH &&
				       d.kind != HRFS_ST_FILE && d.kind != HRFS_HV_CELL &&
				       d.kind != HRFS_HV_VERSION);
		st.st_mode = is_dir ? S_IFDIR : S_IFREG;
		if (plus)
			need = fuse_add_direntry_plus(req, NULL, 0, d.name, NULL, 0);
		else
			need = fuse_add_direntry(req, NULL, 0, d.name, NULL, 0);
		if (used + need > size)
			break; /* the kernel asks again from pos */
		if (plus) {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			if (d.dot) {
				/* No lookup count for "." and "..": ino 0. */
				e.attr = st;
				e.attr.st_ino = ino;
			} else if (!plus_entry(fs, ino, dh, &d, &e)) {
				/* Vanished (or no memory): skipped, so the kernel's
				 * copy of the listing lacks it. */
				dh->whole = 0;
				hrfs_dir_changed(fs, dh->in);
				continue;
			}
			used += fuse_add_direntry_plus(req, buf + used, size - used, d.name, &e,
						       pos + 1);
		} else {
			/* d_ino must be nonzero for some tools; the inode
			 * number proper comes with lookup. */
			st.st_ino = d.dot ? ino : synth_ino(d.name);
			used += fuse_add_direntry(req, buf + used, size - used, d.name, &st, pos + 1);
		}
		if (pos + 1 > dh->served)
			dh->served = pos + 1;
	}
	/* An empty reply at the end: the kernel has had the whole listing. */
	if (rc == 0 && used == 0 && dh->whole && off == dh->next_off)
		hrfs_dirc_complete(fs, dh->in, &dh->dc);
out:
	pthread_mutex_unlock(&dh->lock);
	if (rc < 0 && used == 0) {
		hr_log_error("fs", "readdir %s: %s", dh->p.mpath, hr_strerror(rc));
		fuse_reply_err(req, hrfs_errno(rc));
	} else {
		fuse_reply_buf(req, buf, used);
	}
	free(buf);
}

void hrfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

void hrfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}
