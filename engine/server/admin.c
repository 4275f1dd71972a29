/* admin.c — region listing and statistics (contract in hregionfs.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_client.h"

static int fill_region(hr_region *r, hr_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->id = r->id;
	ri->state = atomic_load(&r->state);
	ri->start_key = malloc(r->start_len ? r->start_len : 1);
	ri->end_key = malloc(r->end_len ? r->end_len : 1);
	unsigned ns = atomic_load(&r->nstores);
	ri->stores = calloc(ns ? ns : 1, sizeof(*ri->stores));
	if (!ri->start_key || !ri->end_key || !ri->stores)
		return -ENOMEM;
	memcpy(ri->start_key, r->start, r->start_len);
	ri->start_len = r->start_len;
	memcpy(ri->end_key, r->end, r->end_len);
	ri->end_len = r->end_len;
	ri->max_seq = hr_mvcc_read_point(&r->mvcc);
	ri->flush_pending = atomic_load(&r->flush_queued);
	for (unsigned s = 0; s < ns; s++) {
		hr_store *st = r->stores[s];
		hr_store_info *si = &ri->stores[s];
		snprintf(si->family, sizeof(si->family), "%s", st->fam.name);
		pthread_mutex_lock(&st->mu);
		si->memstore_bytes = hr_memstore_bytes(st->active) +
				     (st->snapshot ? hr_memstore_bytes(st->snapshot) : 0);
		si->file_count = st->nfiles;
		for (uint32_t i = 0; i < st->nfiles; i++)
			si->file_bytes += hr_sfile_get_info(st->files[i])->file_size;
		si->flushed_seq = st->flushed_seq;
		si->compacting = atomic_load(&st->compacting);
		pthread_mutex_unlock(&st->mu);
		ri->memstore_bytes += si->memstore_bytes;
	}
	ri->nstores = ns;
	return 0;
}

const char *hr_region_state_name(int state)
{
	switch (state) {
	case HR_REGION_OPEN:
		return "open";
	case HR_REGION_CLOSED:
		return "closed";
	case HR_REGION_SPLITTING:
		return "splitting";
	case HR_REGION_OFFLINE:
		return "offline";
	default:
		return "unknown";
	}
}

int hr_region_list(hr_server *srv, const char *table, hr_region_info **out, size_t *n)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_region_list(srv->client, table, out, n);
	int rc = 0;
	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&srv->map_lock);
	hr_table *t = hr_server_table(srv, table);
	if (!t) {
		pthread_rwlock_unlock(&srv->map_lock);
		return -ENOENT;
	}
	hr_region_info *v = calloc(t->nregions ? t->nregions : 1, sizeof(*v));
	size_t k = 0;
	if (!v)
		rc = -ENOMEM;
	for (; v && k < t->nregions && rc == 0; k++)
		rc = fill_region(t->regions[k], &v[k]);
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0) {
		hr_region_list_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

void hr_region_list_free(hr_region_info *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].start_key);
		free(r[i].end_key);
		free(r[i].stores);
	}
	free(r);
}

int hr_stats_get(hr_server *srv, hr_stats *o)
{
	if (srv->client) {
		memset(o, 0, sizeof(*o));
		return -EOPNOTSUPP;
	}
	memset(o, 0, sizeof(*o));
	o->puts = atomic_load(&srv->st.puts);
	o->gets = atomic_load(&srv->st.gets);
	o->scans = atomic_load(&srv->st.scans);
	o->flushes = atomic_load(&srv->st.flushes);
	o->flush_bytes = atomic_load(&srv->st.flush_bytes);
	o->blocked_writes = atomic_load(&srv->st.blocked);
	o->compactions = atomic_load(&srv->st.compactions);
	o->compaction_bytes_in = atomic_load(&srv->st.compaction_bytes_in);
	o->compaction_bytes_out = atomic_load(&srv->st.compaction_bytes_out);
	o->splits = atomic_load(&srv->st.splits);
	o->memstore_bytes = atomic_load(&srv->memstore_total);
	o->seq = atomic_load(&srv->seq);
	hr_wal_stats ws;
	hr_wal_get_stats(srv->wal, &ws);
	o->wal_appends = ws.appends;
	o->wal_syncs = ws.syncs;
	o->wal_bytes = ws.bytes;
	o->wal_errors = ws.errors;
	o->wal_recoveries = ws.recoveries;
	o->wal_failed_segments = ws.failed_segments;
	o->wal_torn_tails = atomic_load(&srv->st.wal_torn_tails);
	o->wal_corrupt_records = atomic_load(&srv->st.wal_corrupt_records);
	o->wal_corrupt_segments = atomic_load(&srv->st.wal_corrupt_segments);
	o->snapshot_blocked_writes = atomic_load(&srv->st.blocked_gate);
	o->snapshot_gate_timeouts = atomic_load(&srv->st.gate_timeouts);
	hr_snapshot_stats(srv, o);
	uint64_t bytes;
	hr_bcache_stats(srv->bc, &o->cache_hits, &o->cache_misses, &bytes);
	return 0;
}

int hr_stats_format(hr_server *srv, char **text, size_t *len)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_stats_format(srv->client, text, len);
	hr_stats s;
	hr_stats_get(srv, &s);
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return -ENOMEM;
#define S(k) fprintf(f, "%s %llu\n", #k, (unsigned long long)s.k)
	S(puts);
	S(gets);
	S(scans);
	S(wal_appends);
	S(wal_syncs);
	S(wal_bytes);
	S(flushes);
	S(flush_bytes);
	S(compactions);
	S(compaction_bytes_in);
	S(compaction_bytes_out);
	S(splits);
	S(blocked_writes);
	S(cache_hits);
	S(cache_misses);
	S(memstore_bytes);
	S(seq);
	S(wal_errors);
	S(wal_recoveries);
	S(wal_failed_segments);
	S(wal_torn_tails);
	S(wal_corrupt_records);
	S(wal_corrupt_segments);
	S(snapshots);
	S(archive_files);
	S(archive_bytes);
	S(archive_own_bytes);
	S(snapshot_blocked_writes);
	S(snapshot_gate_timeouts);
#undef S
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = n;
	return 0;
}

const char *hr_strerror(int err) { return strerror(err < 0 ? -err : err); }
