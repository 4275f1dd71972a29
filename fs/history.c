/*
 * history.c — the read-only history trees of the status directory:
 *   /.hregionfs/versions/<t>/<row>/<f>/<q>/       a cell's retained versions
 *   /.hregionfs/versions/<t>/<row>/<f>/<q>/<ts>   one version (ts in ms)
 *   /.hregionfs/asof/<ts>/<t>/<row>/<f>/<q>       the table as of ts
 *   /.hregionfs/snapshots/<t>/<name>/<row>/<f>/<q> the table as of snapshot
 *                                                 <name> (hr_snapshot_*)
 * "As of ts" is HBase's time range [0, ts + 1): per column the newest
 * retained version with a timestamp <= ts, delete markers applied as the
 * family says (hregionfs.h, "Versions and time ranges"). The versions tree
 * lists what time travel can reach (HR_GET_HISTORY): the retained versions,
 * deleted ones too where the family keeps deleted cells.
 * A snapshot view reads the snapshot's handle (the engine caches open
 * handles: opening one per request is a lookup); mkdir and rmdir of
 * snapshots/<t>/<name> take and delete snapshots, and rmdir needs no empty
 * directory (the tree is the snapshot, not files of the user's).
 * snapshots/ lists the live tables and the dropped ones that still have
 * snapshots.
 * Names, sizes, modes and mtimes are those of the live tree (%XX names,
 * the file-attribute tag). Timestamps are canonical decimals ("0", or no
 * leading zero); anything else is ENOENT. Nothing here is cached by the
 * kernel (timeout 0, direct I/O, no listing cache): every write changes a
 * versions listing, a put that pushes a version out of max_versions changes
 * the past, and a snapshot name may be deleted and taken again.
 * Locking: engine calls with no lock held; fs->lock only to make inodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

/* A canonical decimal timestamp, at most INT64_MAX - 1 (so ts + 1, the
 * exclusive bound, fits). */
static int parse_ts(const char *name, int64_t *out)
{
	size_t n = strlen(name);
	if (n == 0 || n > 19 || (name[0] == '0' && n > 1))
		return -ENOENT;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -ENOENT;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v >= (uint64_t)INT64_MAX)
		return -ENOENT;
	*out = (int64_t)v;
	return 0;
}

void hrfs_hist_path_locked(const struct hrfs_inode *in, struct hrfs_path *p)
{
	p->table[0] = '\0';
	p->family[0] = '\0';
	p->row_len = p->qual_len = 0;
	p->mpath[0] = '\0'; /* nothing here is in the memory registry */
	p->hv_view = 0;
	p->hv_asof = p->hv_vts = 0;
	p->hv_snap[0] = '\0';
	for (const struct hrfs_inode *x = in; x; x = x->parent) {
		switch (x->kind) {
		case HRFS_HV_VERSION:
			parse_ts(x->name, &p->hv_vts);
			break;
		case HRFS_HV_CELL:
		case HRFS_HV_VCELL:
			p->qual_len = x->key_len;
			memcpy(p->qual, x->key, x->key_len);
			break;
		case HRFS_HV_FAMILY:
			snprintf(p->family, sizeof(p->family), "%s", x->name);
			break;
		case HRFS_HV_ROW:
			p->row_len = x->key_len;
			memcpy(p->row, x->key, x->key_len);
			break;
		case HRFS_HV_TABLE:
			snprintf(p->table, sizeof(p->table), "%s", x->name);
			break;
		case HRFS_ST_ASOF_TS:
			p->hv_view = HRFS_HV_ASOF_VIEW;
			parse_ts(x->name, &p->hv_asof);
			break;
		case HRFS_ST_VERSIONS:
			p->hv_view = HRFS_HV_VERSIONS_VIEW;
			break;
		case HRFS_ST_SNAP_TABLE:
			/* below it, the HV_TABLE's name is the snapshot's */
			p->hv_view = HRFS_HV_SNAP_VIEW;
			memcpy(p->hv_snap, p->table, sizeof(p->hv_snap));
			snprintf(p->table, sizeof(p->table), "%s", x->name);
			break;
		default:
			break;
		}
	}
}

/* The open snapshot of a snapshot view (a reference). */
static int snap_open(struct hrfs *fs, const struct hrfs_path *p, hr_snap **out)
{
	int rc;
	HRFS_RETRY(fs, rc, "snapshot open", hr_snapshot_open(fs->srv, p->table, p->hv_snap, out));
	return rc;
}

int hrfs_hist_scan_open(struct hrfs *fs, const struct hrfs_path *p, hr_scan_opts *o,
			hr_scan **out)
{
	hr_snap *s = NULL;
	int rc;
	if (p->hv_view == HRFS_HV_ASOF_VIEW)
		o->max_ts = p->hv_asof + 1;
	else if (p->hv_view == HRFS_HV_VERSIONS_VIEW)
		o->history = 1;
	else if ((rc = snap_open(fs, p, &s)) < 0)
		return rc;
	o->snapshot = s;
	HRFS_RETRY(fs, rc, "history scan", hr_scan_open(fs->srv, p->table, o, out));
	if (s)
		hr_snapshot_close(s); /* the scan holds its own reference */
	return rc;
}

/* The version a history file (or, with kind HRFS_HV_VCELL, the newest
 * version of a versions directory) stands for; a snapshot's cell in a
 * snapshot view. 1 found, 0 none, or -errno; v->data (with value only
 * where a snapshot is read) and v->tags are the caller's. */
static int hv_get(struct hrfs *fs, const struct hrfs_path *p, int kind, int value, hr_value *v)
{
	hr_get_opts o = {.max_versions = 1, .flags = HR_GET_TAGS};
	hr_value *out = NULL;
	int rc;
	if (p->hv_view == HRFS_HV_SNAP_VIEW) {
		hr_snap *s;
		if ((rc = snap_open(fs, p, &s)) < 0)
			return rc;
		HRFS_RETRY(fs, rc, "snapshot get",
			   hr_snapshot_get(s, p->row, p->row_len, p->family, p->qual, p->qual_len,
					   HR_GET_TAGS | (value ? HR_GET_VALUE : 0), v));
		hr_snapshot_close(s);
		return rc == -ENOENT ? 0 : rc == 0 ? 1 : rc;
	}
	if (kind == HRFS_HV_CELL) {
		o.max_ts = p->hv_asof + 1;
	} else {
		o.flags |= HR_GET_HISTORY;
		if (kind == HRFS_HV_VERSION) {
			o.min_ts = p->hv_vts;
			o.max_ts = p->hv_vts + 1;
		}
	}
	HRFS_RETRY(fs, rc, "history get",
		   hr_get_versions(fs->srv, p->table, p->row, p->row_len, p->family, p->qual,
				   p->qual_len, &o, &out));
	if (rc == -ENOENT)
		rc = 0; /* a family the table lacks: nothing */
	if (rc <= 0)
		return rc;
	*v = out[0];
	memset(&out[0], 0, sizeof(out[0]));
	hr_values_free(out, (size_t)rc);
	return 1;
}

/* 1 if the view holds a cell in row (and, with family, in that family). */
static int scan_exists(struct hrfs *fs, const struct hrfs_path *p, const char *family)
{
	uint8_t stop[HRFS_NAME_MAX + 1];
	hr_scan_opts o;
	hr_scan *sc;
	hr_scan_entry e;
	int rc;
	memset(&o, 0, sizeof(o));
	memcpy(stop, p->row, p->row_len);
	stop[p->row_len] = 0;
	o.start = p->row;
	o.start_len = p->row_len;
	o.stop = stop;
	o.stop_len = p->row_len + 1;
	o.family = family;
	o.mode = family ? HR_SCAN_FAMILIES : HR_SCAN_ROWS;
	for (unsigned attempt = 0;; attempt++) {
		rc = hrfs_hist_scan_open(fs, p, &o, &sc);
		if (rc == 0) {
			rc = hr_scan_next(sc, &e);
			hr_scan_close(sc);
		}
		if (!hrfs_retryable(rc))
			break;
		if (attempt >= fs->cfg.retries) {
			hrfs_retry_exhausted("history lookup", rc);
			return -EAGAIN;
		}
		hrfs_backoff(fs, attempt);
	}
	return rc;
}

/* How many snapshots the table (dropped or not) has, or -errno. */
static int snap_count(struct hrfs *fs, const char *table)
{
	hr_snapshot_info *si = NULL;
	size_t n = 0;
	int rc;
	HRFS_RETRY(fs, rc, "snapshot list", hr_snapshot_list(fs->srv, table, &si, &n));
	free(si);
	return rc < 0 ? rc : (int)(n > INT32_MAX ? INT32_MAX : n);
}

int hrfs_hist_lookup(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		     struct hrfs_inode **out)
{
	struct hrfs_path p;
	uint8_t key[HRFS_NAME_MAX];
	int klen = -1, kind, rc;
	int64_t ts;
	hr_value v;

	hrfs_ino_path(fs, dir, &p);
	switch (dir->kind) {
	case HRFS_ST_VERSIONS:
	case HRFS_ST_ASOF_TS:
		if ((rc = hrfs_table_exists(fs, name)) < 0)
			return rc;
		kind = HRFS_HV_TABLE;
		break;
	case HRFS_ST_ASOF:
		if ((rc = parse_ts(name, &ts)) < 0)
			return rc;
		kind = HRFS_ST_ASOF_TS;
		break;
	case HRFS_ST_SNAPS:
		if ((rc = hrfs_table_exists(fs, name)) == -ENOENT && hr_table_name_valid(name))
			rc = snap_count(fs, name) > 0 ? 0 : -ENOENT;
		if (rc < 0)
			return rc;
		kind = HRFS_ST_SNAP_TABLE;
		break;
	case HRFS_ST_SNAP_TABLE: {
		hr_snap *s;
		if (!hr_table_name_valid(name))
			return -ENOENT;
		snprintf(p.hv_snap, sizeof(p.hv_snap), "%s", name);
		if ((rc = snap_open(fs, &p, &s)) < 0)
			return rc;
		hr_snapshot_close(s);
		kind = HRFS_HV_TABLE;
		break;
	}
	case HRFS_HV_TABLE:
		klen = hrfs_name_decode(name, key);
		if (klen <= 0)
			return -ENOENT;
		memcpy(p.row, key, (size_t)klen);
		p.row_len = (size_t)klen;
		if ((rc = scan_exists(fs, &p, NULL)) <= 0)
			return rc == 0 ? -ENOENT : rc;
		kind = HRFS_HV_ROW;
		break;
	case HRFS_HV_ROW:
		if (!hr_family_name_valid(name))
			return -ENOENT;
		if ((rc = scan_exists(fs, &p, name)) <= 0)
			return rc == 0 ? -ENOENT : rc;
		kind = HRFS_HV_FAMILY;
		break;
	case HRFS_HV_FAMILY:
		klen = hrfs_name_decode(name, key);
		if (klen < 0)
			return -ENOENT;
		memcpy(p.qual, key, (size_t)klen);
		p.qual_len = (size_t)klen;
		kind = p.hv_view == HRFS_HV_VERSIONS_VIEW ? HRFS_HV_VCELL : HRFS_HV_CELL;
		if ((rc = hv_get(fs, &p, kind, 0, &v)) <= 0)
			return rc == 0 ? -ENOENT : rc;
		hr_value_free(&v);
		break;
	case HRFS_HV_VCELL:
		if ((rc = parse_ts(name, &p.hv_vts)) < 0)
			return rc;
		kind = HRFS_HV_VERSION;
		if ((rc = hv_get(fs, &p, kind, 0, &v)) <= 0)
			return rc == 0 ? -ENOENT : rc;
		hr_value_free(&v);
		break;
	default:
		return -ENOTDIR;
	}
	struct hrfs_inode *in = hrfs_ino_child(fs, dir, kind, name, klen >= 0 ? key : NULL,
					       klen >= 0 ? (size_t)klen : 0, 1);
	if (!in)
		return -ENOMEM;
	*out = in;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* snapshots/: the live tables and the tables snapshots were taken of (a
 * dropped table's snapshots stay reachable under its name), sorted, once. */
static int snap_tables(struct hrfs *fs, char ***names, int **kinds, size_t *n)
{
	char **t = NULL, **all = NULL;
	size_t nt = 0, ns = 0, na = 0;
	hr_snapshot_info *si = NULL;
	int rc;
	HRFS_RETRY(fs, rc, "snapshot tables", hr_table_list(fs->srv, &t, &nt));
	if (rc == 0)
		HRFS_RETRY(fs, rc, "snapshot list", hr_snapshot_list(fs->srv, NULL, &si, &ns));
	if (rc == 0 && !(all = malloc((nt + ns + 1) * sizeof(*all))))
		rc = -ENOMEM;
	if (rc == 0) {
		for (size_t i = 0; i < nt; i++)
			all[na++] = t[i];
		for (size_t i = 0; i < ns; i++)
			all[na++] = si[i].table;
		qsort(all, na, sizeof(*all), name_cmp);
		for (size_t i = 0; rc == 0 && i < na; i++)
			if (i == 0 || strcmp(all[i], all[i - 1]) != 0)
				rc = hrfs_status_add_name(names, kinds, n, all[i], HRFS_ST_SNAP_TABLE);
	}
	free(all);
	free(si);
	if (t)
		hr_names_free(t, nt);
	return rc;
}

int hrfs_snap_mkdir(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		    struct hrfs_inode **out)
{
	struct hrfs_path p;
	int rc;
	hrfs_ino_path(fs, dir, &p);
	HRFS_RETRY(fs, rc, "snapshot create", hr_snapshot_create(fs->srv, p.table, name));
	if (rc < 0)
		return rc;
	/* a name deleted and taken again is a new snapshot: a new inode */
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *old = hrfs_ino_peek_locked(fs, dir, name);
	if (old)
		hrfs_ino_unhash_locked(fs, old);
	pthread_mutex_unlock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child(fs, dir, HRFS_HV_TABLE, name, NULL, 0, 1);
	if (!in)
		return -ENOMEM;
	*out = in;
	return 0;
}

int hrfs_snap_rmdir(struct hrfs *fs, struct hrfs_inode *dir, const char *name)
{
	struct hrfs_path p;
	int rc;
	hrfs_ino_path(fs, dir, &p);
	if (!hr_table_name_valid(name))
		return -ENOENT;
	HRFS_RETRY(fs, rc, "snapshot delete", hr_snapshot_delete(fs->srv, p.table, name));
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_peek_locked(fs, dir, name);
	if (in)
		hrfs_ino_unhash_locked(fs, in);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int hrfs_hist_list(struct hrfs *fs, const struct hrfs_path *p, char ***names, int **kinds,
		   size_t *n)
{
	int rc = 0;
	*names = NULL;
	*kinds = NULL;
	*n = 0;
	switch (p->kind) {
	case HRFS_ST_ASOF:
		break; /* every moment is a directory: none is listed */
	case HRFS_ST_VERSIONS:
	case HRFS_ST_ASOF_TS: {
		char **t = NULL;
		size_t nt = 0;
		HRFS_RETRY(fs, rc, "history tables", hr_table_list(fs->srv, &t, &nt));
		for (size_t i = 0; rc == 0 && i < nt; i++)
			rc = hrfs_status_add_name(names, kinds, n, t[i], HRFS_HV_TABLE);
		if (t)
			hr_names_free(t, nt);
		break;
	}
	case HRFS_ST_SNAPS:
		rc = snap_tables(fs, names, kinds, n);
		break;
	case HRFS_ST_SNAP_TABLE: {
		hr_snapshot_info *si = NULL;
		size_t ns = 0;
		HRFS_RETRY(fs, rc, "snapshot list", hr_snapshot_list(fs->srv, p->table, &si, &ns));
		for (size_t i = 0; rc == 0 && i < ns; i++)
			rc = hrfs_status_add_name(names, kinds, n, si[i].name, HRFS_HV_TABLE);
		free(si);
		break;
	}
	case HRFS_HV_VCELL: {
		hr_get_opts o = {.flags = HR_GET_HISTORY};
		hr_value *v = NULL;
		int nv;
		HRFS_RETRY(fs, nv, "history versions",
			   hr_get_versions(fs->srv, p->table, p->row, p->row_len, p->family, p->qual,
					   p->qual_len, &o, &v));
		if (nv == -ENOENT)
			nv = 0;
		if (nv < 0) {
			rc = nv;
			break;
		}
		/* newest first, as the engine returns them */
		char name[32];
		for (int i = 0; rc == 0 && i < nv; i++) {
			snprintf(name, sizeof(name), "%" PRId64, v[i].ts);
			rc = hrfs_status_add_name(names, kinds, n, name, HRFS_HV_VERSION);
		}
		if (nv > 0)
			hr_values_free(v, (size_t)nv);
		break;
	}
	default:
		rc = -ENOTDIR;
	}
	if (rc < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*names)[i]);
		free(*names);
		free(*kinds);
		*names = NULL;
		*kinds = NULL;
		*n = 0;
	}
	return rc;
}

/* A snapshot's directory: the time it was taken is its mtime (as ls -l
 * of ZFS's .zfs/snapshot shows); ENOENT once it is deleted. */
static int snap_dir_time(struct hrfs *fs, struct hrfs_inode *in, struct stat *st)
{
	struct hrfs_path p;
	hr_snapshot_info *si = NULL;
	size_t n = 0;
	int rc;
	hrfs_ino_path(fs, in, &p);
	if (p.hv_view != HRFS_HV_SNAP_VIEW)
		return 0;
	HRFS_RETRY(fs, rc, "snapshot list", hr_snapshot_list(fs->srv, p.table, &si, &n));
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (strcmp(si[i].name, p.hv_snap) == 0) {
			st->st_mtim.tv_sec = (time_t)(si[i].time_ms / 1000);
			st->st_mtim.tv_nsec = (long)(si[i].time_ms % 1000) * 1000000L;
			st->st_atim = st->st_ctim = st->st_mtim;
			rc = 0;
		}
	free(si);
	return rc;
}

int hrfs_hist_getattr(struct hrfs *fs, struct hrfs_inode *in, struct stat *st)
{
	struct hrfs_path p;
	hr_value v;
	hr_file_attr a;
	int rc;
	if (in->kind != HRFS_HV_CELL && in->kind != HRFS_HV_VERSION) {
		hrfs_attr_dir(fs, in->ino, st);
		if (in->kind == HRFS_HV_TABLE)
			return snap_dir_time(fs, in, st);
		return 0;
	}
	hrfs_ino_path(fs, in, &p);
	if ((rc = hv_get(fs, &p, in->kind, 0, &v)) <= 0)
		return rc == 0 ? -ENOENT : rc;
	hrfs_attr_from_tags(fs, v.tags, v.tags_len, v.ts, &a);
	hrfs_attr_file(fs, in->ino, v.len, &a, st);
	hr_value_free(&v);
	return 0;
}

int hrfs_hist_read(struct hrfs *fs, const struct hrfs_path *p, char **data, size_t *len)
{
	hr_value v;
	int rc = hv_get(fs, p, p->kind, 1, &v);
	if (rc <= 0)
		return rc == 0 ? -ENOENT : rc;
	free(v.tags);
	*len = v.len;
	*data = v.data ? v.data : strdup("");
	return *data ? 0 : -ENOMEM;
}
