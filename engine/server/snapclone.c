/* snapclone.c — HBase's clone_snapshot: a new table from a snapshot, its
 * store files hard links of the archived ones (contract in hregionfs.h,
 * "snapshots"; the build in snapbuild.c). No byte of data is copied; the
 * clone and the snapshot share the files' blocks, which go when the last
 * name (a store's, an archive's) does. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "hr_log.h"
#include "engine/hr_client.h"

/* hr_snap_place_fn: archive/<src>.hsf linked as the store's <new_id>.hsf */
static int link_archived(void *ctx, hr_store *st, const hr_snap_file *src, uint64_t new_id)
{
	hr_server *srv = ctx;
	char from[PATH_MAX], to[PATH_MAX];
	int rc = hr_fname_archive_file(srv->archive_dir, src->id, from, sizeof(from));
	if (rc == 0)
		rc = hr_store_file_path(st, new_id, 0, to, sizeof(to));
	if (rc == 0 && (rc = hr_io_link(srv->io, from, to)) < 0)
		hr_log_error("snapshot", "cannot link %s to %s: %s", from, to, strerror(-rc));
	return rc == -ENOENT ? -EIO : rc; /* a missing archived file is damage */
}

int hr_snap_materialise(hr_server *srv, const hr_snap_manifest *m, const char *name,
			hr_table **out)
{
	return hr_snap_build(srv, m, name, link_archived, srv, out);
}

int hr_snapshot_clone(hr_server *srv, const char *table, const char *snap, const char *new_table)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!table || !snap || !new_table || !hr_table_name_valid(new_table))
		return -EINVAL;
	hr_table *nt = NULL;
	int rc;
	pthread_mutex_lock(&srv->snap_mu);
	const hr_snap_manifest *m = hr_snap_catalog_find(srv, table, snap);
	if (!m) {
		rc = -ENOENT;
		goto out;
	}
	pthread_rwlock_rdlock(&srv->map_lock);
	rc = hr_server_table(srv, new_table) ? -EEXIST : 0;
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0)
		goto out;
	if ((rc = hr_snap_materialise(srv, m, new_table, &nt)) < 0)
		goto out;
	if ((rc = hr_snap_build_commit(srv, nt, NULL)) < 0)
		goto out;
	hr_log_info("snapshot", "cloned '%s' of '%s' as '%s' (%u regions, no data copied)", snap,
		    table, new_table, m->nregions);
out:
	pthread_mutex_unlock(&srv->snap_mu);
	if (rc == 0)
		hr_server_notify_table(srv, new_table, HR_TABLE_CREATED);
	return rc;
}
