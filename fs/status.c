/*
 * status.c — the read-only /.hregionfs tree:
 *   /.hregionfs/stats                  engine counters (hr_stats_format)
 *   /.hregionfs/config                 the running configuration
 *   /.hregionfs/metrics                every metric, Prometheus text format 0.0.4
 *   /.hregionfs/tables/<t>/schema      the table's families and settings
 *   /.hregionfs/tables/<t>/regions     one line per region (hr_region_list)
 *   /.hregionfs/tables/<t>/snapshots   one line per snapshot of the table
 *   /.hregionfs/versions/, asof/,      the history trees and the
 *   snapshots/                         snapshots (history.c)
 * Files are rendered when opened (and for getattr, to report an exact
 * size); their attributes are never cached by the kernel.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"
#include "fs/hrfs_retry.h"

struct sbuf {
	char *s;
	size_t len, cap;
	int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EIO;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = b->cap ? b->cap * 2 : 1024;
		while (nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *ns = realloc(b->s, nc);
		if (!ns) {
			b->err = -ENOMEM;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
}

static void sb_key(struct sbuf *b, const uint8_t *k, size_t len)
{
	char name[HRFS_NAME_MAX + 1];
	if (len == 0)
		sb_printf(b, "-");
	else if (hrfs_name_encode(k, len, name) >= 0)
		sb_printf(b, "%s", name);
	else
		sb_printf(b, "(%zu bytes)", len);
}

static int render_schema(struct hrfs *fs, const char *table, struct sbuf *b)
{
	int rc;
	hr_table_schema *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	HRFS_RETRY(fs, rc, "status schema", hr_table_schema_get(fs->srv, table, sc));
	if (rc == 0) {
		sb_printf(b, "table %s\n", sc->name);
		for (uint32_t i = 0; i < sc->nfamilies; i++) {
			const hr_family_schema *f = &sc->families[i];
			sb_printf(b,
				  "family %s max_versions=%" PRIu32 " ttl_ms=%" PRId64
				  " block_size=%" PRIu32 " bloom=%s compression=%s"
				  " keep_deleted_cells=%s\n",
				  f->name, f->max_versions, f->ttl_ms, f->block_size,
				  f->bloom == HR_BLOOM_ROW ? "row" : "none",
				  hr_compression_name(f->compression),
				  f->keep_deleted_cells ? "true" : "false");
		}
	}
	free(sc);
	return rc;
}

/* name, time, regions, files, bytes: shared (still in the table's stores)
 * and own (kept only by snapshots) */
static int render_snapshots(struct hrfs *fs, const char *table, struct sbuf *b)
{
	hr_snapshot_info *v = NULL;
	size_t n = 0;
	int rc;
	HRFS_RETRY(fs, rc, "status snapshots", hr_snapshot_list(fs->srv, table, &v, &n));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		sb_printf(b,
			  "snapshot %s time_ms=%" PRId64 " seq=%" PRIu64 " regions=%u files=%" PRIu64
			  " bytes=%" PRIu64 " shared_bytes=%" PRIu64 " own_bytes=%" PRIu64 "\n",
			  v[i].name, v[i].time_ms, v[i].seq, v[i].regions, v[i].files, v[i].bytes,
			  v[i].shared_bytes, v[i].bytes - v[i].shared_bytes);
	free(v);
	return 0;
}

static int render_regions(struct hrfs *fs, const char *table, struct sbuf *b)
{
	hr_region_info *r = NULL;
	size_t n = 0;
	int rc;
	HRFS_RETRY(fs, rc, "status regions", hr_region_list(fs->srv, table, &r, &n));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		sb_printf(b, "region %" PRIu64 " start=", r[i].id);
		sb_key(b, r[i].start_key, r[i].start_len);
		sb_printf(b, " end=");
		sb_key(b, r[i].end_key, r[i].end_len);
		sb_printf(b, " state=%s memstore_bytes=%" PRIu64 " max_seq=%" PRIu64
			  " flush_pending=%d\n",
			  hr_region_state_name(r[i].state), r[i].memstore_bytes, r[i].max_seq,
			  r[i].flush_pending);
		for (uint32_t s = 0; s < r[i].nstores; s++) {
			const hr_store_info *st = &r[i].stores[s];
			sb_printf(b,
				  "  store %s memstore_bytes=%" PRIu64 " files=%" PRIu32
				  " file_bytes=%" PRIu64 " flushed_seq=%" PRIu64 " compacting=%d\n",
				  st->family, st->memstore_bytes, st->file_count, st->file_bytes,
				  st->flushed_seq, st->compacting);
		}
	}
	hr_region_list_free(r, n);
	return 0;
}

int hrfs_status_render(struct hrfs *fs, const struct hrfs_path *p, char **text, size_t *len)
{
	struct sbuf b = {0};
	int rc = 0;
	switch (p->st_sub) {
	case HRFS_ST_STATS:
		HRFS_RETRY(fs, rc, "status stats", hr_stats_format(fs->srv, text, len));
		if (rc == 0) {
			uint64_t retries, gave_up;
			hrfs_retry_counts(&retries, &gave_up);
			sb_printf(&b, "%.*sfs_retries %" PRIu64 "\nfs_eagain %" PRIu64 "\n",
				  (int)*len, *text, retries, gave_up);
			sb_printf(&b,
				  "fs_read_requests %" PRIu64 "\nfs_read_bytes %" PRIu64
				  "\nfs_write_requests %" PRIu64 "\nfs_commits %" PRIu64
				  "\nfs_invalidations %" PRIu64 "\nfs_invalidations_dropped %" PRIu64
				  "\nfs_readdir_requests %" PRIu64 "\nfs_dir_cache_opens %" PRIu64
				  "\n",
				  (uint64_t)atomic_load(&fs->ctr.reads),
				  (uint64_t)atomic_load(&fs->ctr.read_bytes),
				  (uint64_t)atomic_load(&fs->ctr.writes),
				  (uint64_t)atomic_load(&fs->ctr.commits),
				  (uint64_t)atomic_load(&fs->ctr.inval_sent),
				  (uint64_t)atomic_load(&fs->ctr.inval_dropped),
				  (uint64_t)atomic_load(&fs->ctr.readdirs),
				  (uint64_t)atomic_load(&fs->ctr.dir_cached));
			free(*text);
			*text = NULL;
		}
		break;
	case HRFS_ST_CONFIG:
		return hr_config_format(&fs->cfg, text, len);
	case HRFS_ST_METRICS:
		return hr_metrics_render(hr_server_metrics(fs->srv), text, len);
	case HRFS_ST_SCHEMA:
		rc = render_schema(fs, p->table, &b);
		break;
	case HRFS_ST_REGIONS:
		rc = render_regions(fs, p->table, &b);
		break;
	case HRFS_ST_SNAPSHOTS:
		rc = render_snapshots(fs, p->table, &b);
		break;
	default:
		return -ENOENT;
	}
	if (rc == 0 && b.err)
		rc = b.err;
	if (rc < 0) {
		free(b.s);
		return rc;
	}
	if (!b.s) {
		b.s = strdup("");
		if (!b.s)
			return -ENOMEM;
	}
	*text = b.s;
	*len = b.len;
	return 0;
}

static struct hrfs_inode *child(struct hrfs *fs, struct hrfs_inode *dir, int kind, int sub,
				const char *name)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, dir, kind, name, NULL, 0, 1);
	if (in)
		in->st_sub = sub;
	pthread_mutex_unlock(&fs->lock);
	return in;
}

int hrfs_table_exists(struct hrfs *fs, const char *name)
{
	int rc;
	if (!hr_table_name_valid(name))
		return -ENOENT;
	hr_table_schema *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	HRFS_RETRY(fs, rc, "table lookup", hr_table_schema_get(fs->srv, name, sc));
	free(sc);
	return rc;
}

int hrfs_status_lookup(struct hrfs *fs, struct hrfs_inode *dir, const char *name,
		       struct hrfs_inode **out)
{
	struct hrfs_inode *in = NULL;
	switch (dir->kind) {
	case HRFS_ST_ROOT:
		if (strcmp(name, "tables") == 0)
			in = child(fs, dir, HRFS_ST_TABLES, 0, name);
		else if (strcmp(name, "stats") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_STATS, name);
		else if (strcmp(name, "config") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_CONFIG, name);
		else if (strcmp(name, "metrics") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_METRICS, name);
		else if (strcmp(name, "versions") == 0)
			in = child(fs, dir, HRFS_ST_VERSIONS, 0, name);
		else if (strcmp(name, "asof") == 0)
			in = child(fs, dir, HRFS_ST_ASOF, 0, name);
		else if (strcmp(name, "snapshots") == 0)
			in = child(fs, dir, HRFS_ST_SNAPS, 0, name);
		else
			return -ENOENT;
		break;
	case HRFS_ST_TABLES: {
		int rc = hrfs_table_exists(fs, name);
		if (rc < 0)
			return rc;
		in = child(fs, dir, HRFS_ST_TABLE, 0, name);
		break;
	}
	case HRFS_ST_TABLE:
		if (strcmp(name, "schema") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_SCHEMA, name);
		else if (strcmp(name, "regions") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_REGIONS, name);
		else if (strcmp(name, "snapshots") == 0)
			in = child(fs, dir, HRFS_ST_FILE, HRFS_ST_SNAPSHOTS, name);
		else
			return -ENOENT;
		break;
	default:
		return -ENOTDIR;
	}
	if (!in)
		return -ENOMEM;
	*out = in;
	return 0;
}

int hrfs_status_add_name(char ***names, int **kinds, size_t *n, const char *name, int kind)
{
	char **nn = realloc(*names, (*n + 1) * sizeof(char *));
	if (!nn)
		return -ENOMEM;
	*names = nn;
	int *nk = realloc(*kinds, (*n + 1) * sizeof(int));
	if (!nk)
		return -ENOMEM;
	*kinds = nk;
	nn[*n] = strdup(name);
	if (!nn[*n])
		return -ENOMEM;
	nk[*n] = kind;
	(*n)++;
	return 0;
}

int hrfs_status_list(struct hrfs *fs, const struct hrfs_path *p, char ***names, int **kinds,
		     size_t *n)
{
	int rc = 0;
	*names = NULL;
	*kinds = NULL;
	*n = 0;
	switch (p->kind) {
	case HRFS_ST_ROOT:
		if ((rc = hrfs_status_add_name(names, kinds, n, "asof", HRFS_ST_ASOF)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "config", HRFS_ST_FILE)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "metrics", HRFS_ST_FILE)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "snapshots", HRFS_ST_SNAPS)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "stats", HRFS_ST_FILE)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "tables", HRFS_ST_TABLES)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "versions", HRFS_ST_VERSIONS)) < 0)
			break;
		break;
	case HRFS_ST_TABLES: {
		char **t = NULL;
		size_t nt = 0;
		HRFS_RETRY(fs, rc, "status tables", hr_table_list(fs->srv, &t, &nt));
		for (size_t i = 0; rc == 0 && i < nt; i++)
			rc = hrfs_status_add_name(names, kinds, n, t[i], HRFS_ST_TABLE);
		if (t)
			hr_names_free(t, nt);
		break;
	}
	case HRFS_ST_TABLE:
		if ((rc = hrfs_status_add_name(names, kinds, n, "regions", HRFS_ST_FILE)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "schema", HRFS_ST_FILE)) < 0 ||
		    (rc = hrfs_status_add_name(names, kinds, n, "snapshots", HRFS_ST_FILE)) < 0)
			break;
		break;
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
