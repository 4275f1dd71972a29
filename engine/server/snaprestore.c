/* snaprestore.c — HBase's restore_snapshot: a table brought back to one of
 * its snapshots (regions, key ranges, schema, files), in place (contract in
 * hregionfs.h, "snapshots").
 *
 * The table's writes are held back for the whole restore (its gate,
 * exclusive: a writer waits at most snapshot_gate_timeout_ms, then -EBUSY).
 * The snapshot's files are linked into NEW regions (new ids) and synced;
 * then ONE LMDB transaction deletes the old regions' records and writes the
 * schema and the new regions, and the map swaps the tables. So a crash
 * leaves the old table (the new directories are unreferenced: removed at
 * open) or the new one (the old directories are: removed at open). What
 * the old regions held in memory, and their edits in the WAL, are
 * discarded: a WAL edit names its region id, and replay skips the ids LMDB
 * no longer has, so no edit made before the restore comes back after a
 * crash. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "hr_log.h"
#include "engine/hr_client.h"

int hr_snapshot_restore(hr_server *srv, const char *table, const char *snap)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!table || !snap)
		return -EINVAL;
	hr_table *t = NULL, *nt = NULL;
	int rc, gated = 0;
	pthread_mutex_lock(&srv->snap_mu);
	const hr_snap_manifest *m = hr_snap_catalog_find(srv, table, snap);
	pthread_rwlock_rdlock(&srv->map_lock);
	if ((t = hr_server_table(srv, table)))
		hr_table_ref(t);
	pthread_rwlock_unlock(&srv->map_lock);
	if (!m || !t) {
		rc = -ENOENT;
		goto out;
	}
	pthread_rwlock_wrlock(&t->gate);
	gated = 1;
	if (srv->test_gate_hook)
		srv->test_gate_hook(srv->test_gate_ctx);
	if ((rc = hr_snap_materialise(srv, m, table, &nt)) < 0)
		goto out;
	if ((rc = hr_snap_build_commit(srv, nt, t)) < 0)
		goto out;
	hr_log_info("snapshot", "restored '%s' to its snapshot '%s' (%u regions, seq %" PRIu64 ")",
		    table, snap, m->nregions, m->seq);
out:
	if (gated)
		pthread_rwlock_unlock(&t->gate);
	if (t)
		hr_table_unref(t);
	pthread_mutex_unlock(&srv->snap_mu);
	if (rc == 0)
		hr_server_notify_table(srv, table, HR_TABLE_RESTORED);
	return rc;
}
