/* metrics.c — the engine's metric families (README "Metrics"): the latency
 * histograms recorded on the hot paths, and one collector that reads
 * everything else at render time: hr_stats, the block cache, and per table
 * and per region figures. Reading at render time keeps the hot paths to
 * the counters they already had, and lets a dropped table's series go. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_compact.h"
#include "engine/hr_metrics.h"
#include "engine/hr_server.h"
#include "hr_log.h"

hr_metrics *hr_server_metrics(hr_server *srv) { return srv->metrics; }

/* hr_stats fields, one family each (blocked writes: below, by reason) */
static const struct {
	const char *name;
	int type;
	size_t off;
	const char *help;
} stat_families[] = {
#define F(n, t, f, h) {n, t, offsetof(hr_stats, f), h}
	F("hregionfs_puts_total", HR_METRIC_COUNTER, puts,
	  "Row mutations applied (hr_mutate and check-and-mutate; stats: puts)."),
	F("hregionfs_gets_total", HR_METRIC_COUNTER, gets, "Point reads (hr_get; stats: gets)."),
	F("hregionfs_scans_total", HR_METRIC_COUNTER, scans,
	  "Cursors opened (directory listings; stats: scans)."),
	F("hregionfs_wal_appends_total", HR_METRIC_COUNTER, wal_appends,
	  "WAL records appended (stats: wal_appends)."),
	F("hregionfs_wal_syncs_total", HR_METRIC_COUNTER, wal_syncs,
	  "fdatasync calls on WAL segments (stats: wal_syncs)."),
	F("hregionfs_wal_written_bytes_total", HR_METRIC_COUNTER, wal_bytes,
	  "WAL record bytes written, framing included (stats: wal_bytes)."),
	F("hregionfs_flushes_total", HR_METRIC_COUNTER, flushes,
	  "Region flushes that wrote store files (stats: flushes)."),
	F("hregionfs_flushed_bytes_total", HR_METRIC_COUNTER, flush_bytes,
	  "Bytes of store files written by flushes (stats: flush_bytes)."),
	F("hregionfs_compactions_total", HR_METRIC_COUNTER, compactions,
	  "Store compactions (stats: compactions)."),
	F("hregionfs_compaction_read_bytes_total", HR_METRIC_COUNTER, compaction_bytes_in,
	  "Bytes of store files compactions read (stats: compaction_bytes_in)."),
	F("hregionfs_compaction_written_bytes_total", HR_METRIC_COUNTER, compaction_bytes_out,
	  "Bytes of store files compactions wrote (stats: compaction_bytes_out)."),
	F("hregionfs_splits_total", HR_METRIC_COUNTER, splits, "Region splits (stats: splits)."),
	F("hregionfs_block_cache_hits_total", HR_METRIC_COUNTER, cache_hits,
	  "Store-file block reads served by the block cache (stats: cache_hits)."),
	F("hregionfs_block_cache_misses_total", HR_METRIC_COUNTER, cache_misses,
	  "Store-file block reads that went to the file (stats: cache_misses)."),
	F("hregionfs_memstore_bytes", HR_METRIC_GAUGE, memstore_bytes,
	  "Bytes in all memstores, active and being flushed (stats: memstore_bytes)."),
	F("hregionfs_sequence_id", HR_METRIC_GAUGE, seq,
	  "The last sequence id handed out (stats: seq)."),
	F("hregionfs_wal_errors_total", HR_METRIC_COUNTER, wal_errors,
	  "Failed WAL writes and syncs (stats: wal_errors)."),
	F("hregionfs_wal_recoveries_total", HR_METRIC_COUNTER, wal_recoveries,
	  "WAL rolls away from a failed segment (stats: wal_recoveries)."),
	F("hregionfs_wal_failed_segments", HR_METRIC_GAUGE, wal_failed_segments,
	  "Failed WAL segments kept until their edits are flushed (stats: wal_failed_segments)."),
	F("hregionfs_wal_torn_tails_total", HR_METRIC_COUNTER, wal_torn_tails,
	  "Torn WAL tails trimmed at open (stats: wal_torn_tails)."),
	F("hregionfs_wal_corrupt_records_total", HR_METRIC_COUNTER, wal_corrupt_records,
	  "Corrupt WAL stretches found at open (stats: wal_corrupt_records)."),
	F("hregionfs_wal_corrupt_segments_total", HR_METRIC_COUNTER, wal_corrupt_segments,
	  "WAL segments moved to wal/corrupt/ at open (stats: wal_corrupt_segments)."),
	F("hregionfs_snapshots", HR_METRIC_GAUGE, snapshots, "Snapshots (stats: snapshots)."),
	F("hregionfs_archive_files", HR_METRIC_GAUGE, archive_files,
	  "Store files snapshots reference in archive/ (stats: archive_files)."),
	F("hregionfs_archive_bytes", HR_METRIC_GAUGE, archive_bytes,
	  "Bytes of those files (stats: archive_bytes)."),
	F("hregionfs_archive_own_bytes", HR_METRIC_GAUGE, archive_own_bytes,
	  "Bytes only snapshots keep on disk (stats: archive_own_bytes)."),
	F("hregionfs_snapshot_gate_timeouts_total", HR_METRIC_COUNTER, snapshot_gate_timeouts,
	  "Writes refused with EBUSY after waiting snapshot_gate_timeout_ms for a snapshot "
	  "or restore of their table (stats: snapshot_gate_timeouts)."),
#undef F
};

struct table_fig {
	char name[HR_MAX_NAME + 1];
	uint64_t puts, gets, scans;
	uint64_t regions, offline, memstore, files, file_bytes;
};

struct region_fig {
	size_t table;		/* index into the table figures */
	char id[24];
	uint64_t memstore;
};

/* The tables' counters (under map_lock), then their regions (hr_region_list
 * takes the lock itself). A table dropped in between has no regions. */
static int gather(hr_server *srv, struct table_fig **tv, size_t *nt, struct region_fig **rv,
		  size_t *nr)
{
	struct table_fig *t = NULL;
	struct region_fig *r = NULL;
	size_t n = 0, k = 0, cap = 0;
	pthread_rwlock_rdlock(&srv->map_lock);
	if (srv->ntables && !(t = calloc(srv->ntables, sizeof(*t)))) {
		pthread_rwlock_unlock(&srv->map_lock);
		return -ENOMEM;
	}
	for (n = 0; n < srv->ntables; n++) {
		hr_table *x = srv->tables[n];
		strcpy(t[n].name, x->schema.name);
		t[n].puts = atomic_load_explicit(&x->puts, memory_order_relaxed);
		t[n].gets = atomic_load_explicit(&x->gets, memory_order_relaxed);
		t[n].scans = atomic_load_explicit(&x->scans, memory_order_relaxed);
	}
	pthread_rwlock_unlock(&srv->map_lock);
	for (size_t i = 0; i < n; i++) {
		hr_region_info *ri;
		size_t m;
		if (hr_region_list(srv, t[i].name, &ri, &m) < 0)
			continue;
		for (size_t j = 0; j < m; j++) {
			t[i].regions++;
			t[i].offline += ri[j].state == HR_REGION_OFFLINE;
			t[i].memstore += ri[j].memstore_bytes;
			for (uint32_t s = 0; s < ri[j].nstores; s++) {
				t[i].files += ri[j].stores[s].file_count;
				t[i].file_bytes += ri[j].stores[s].file_bytes;
			}
			if (k == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct region_fig *nv = realloc(r, nc * sizeof(*nv));
				if (!nv)
					continue;
				r = nv;
				cap = nc;
			}
			r[k].table = i;
			snprintf(r[k].id, sizeof(r[k].id), "%" PRIu64, ri[j].id);
			r[k].memstore = ri[j].memstore_bytes;
			k++;
		}
		hr_region_list_free(ri, m);
	}
	*tv = t;
	*nt = n;
	*rv = r;
	*nr = k;
	return 0;
}

#define TABLE_FAMILY(w, t, n, fname, type, field, help)                              \
	do {                                                                         \
		hr_mw_family(w, fname, help, type);                                  \
		for (size_t i_ = 0; i_ < (n); i_++)                                  \
			hr_mw_sample(w, (double)(t)[i_].field, "table", (t)[i_].name, \
				     (char *)NULL);                                  \
	} while (0)

static void engine_collect(void *ctx, hr_metrics_writer *w)
{
	hr_server *srv = ctx;
	hr_stats s;
	uint64_t hits, misses, cache_bytes;
	hr_mw_family(w, "hregionfs_build_info", "The engine's version (always 1).", HR_METRIC_GAUGE);
	hr_mw_sample(w, 1, "version", HR_VERSION_STRING, (char *)NULL);
	hr_mw_family(w, "hregionfs_start_time_seconds",
		     "When the engine was opened (seconds since the epoch): a restart resets the "
		     "counters.",
		     HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)srv->mx.start_ms / 1000.0, (char *)NULL);
	hr_stats_get(srv, &s);
	for (size_t i = 0; i < sizeof(stat_families) / sizeof(stat_families[0]); i++) {
		hr_mw_family(w, stat_families[i].name, stat_families[i].help, stat_families[i].type);
		uint64_t v;
		memcpy(&v, (const char *)&s + stat_families[i].off, sizeof(v));
		hr_mw_sample(w, (double)v, (char *)NULL);
	}
	hr_mw_family(w, "hregionfs_blocked_writes_total",
		     "Writes that waited: for memstore flushes (reason memstore; stats: "
		     "blocked_writes) or for a snapshot of their table (reason snapshot; stats: "
		     "snapshot_blocked_writes).",
		     HR_METRIC_COUNTER);
	hr_mw_sample(w, (double)s.blocked_writes, "reason", "memstore", (char *)NULL);
	hr_mw_sample(w, (double)s.snapshot_blocked_writes, "reason", "snapshot", (char *)NULL);

	pthread_mutex_lock(&srv->flush_mu);
	size_t fq = srv->fq_len;
	pthread_mutex_unlock(&srv->flush_mu);
	hr_mw_family(w, "hregionfs_flush_queue_length", "Regions queued for a flush (HBase's "
		     "flushQueueLength).", HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)fq, (char *)NULL);
	hr_mw_family(w, "hregionfs_compaction_queue_length",
		     "Store compactions queued or running (HBase's compactionQueueLength).",
		     HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)hr_compact_pending(srv), (char *)NULL);

	hr_bcache_stats(srv->bc, &hits, &misses, &cache_bytes);
	hr_mw_family(w, "hregionfs_block_cache_bytes", "Bytes of blocks in the block cache.",
		     HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)cache_bytes, (char *)NULL);
	hr_mw_family(w, "hregionfs_block_cache_capacity_bytes", "The block cache's size limit.",
		     HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)srv->cfg.block_cache_size, (char *)NULL);
	hr_mw_family(w, "hregionfs_block_cache_hit_ratio",
		     "Block-cache hits / lookups since the start (absent before the first lookup; "
		     "for a recent ratio use rate() of the hits and misses counters).",
		     HR_METRIC_GAUGE);
	if (hits + misses)
		hr_mw_sample(w, (double)hits / (double)(hits + misses), (char *)NULL);

	struct table_fig *t = NULL;
	struct region_fig *r = NULL;
	size_t nt = 0, nr = 0;
	if (gather(srv, &t, &nt, &r, &nr) < 0) {
		hr_log_error("metrics", "per-table figures: out of memory");
		return;
	}
	hr_mw_family(w, "hregionfs_tables", "Tables.", HR_METRIC_GAUGE);
	hr_mw_sample(w, (double)nt, (char *)NULL);
	TABLE_FAMILY(w, t, nt, "hregionfs_table_puts_total", HR_METRIC_COUNTER, puts,
		     "Row mutations applied to the table.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_gets_total", HR_METRIC_COUNTER, gets,
		     "Point reads of the table.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_scans_total", HR_METRIC_COUNTER, scans,
		     "Cursors opened on the table.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_regions", HR_METRIC_GAUGE, regions,
		     "Regions of the table.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_regions_offline", HR_METRIC_GAUGE, offline,
		     "Regions of the table that refused to open (a store file missing or corrupt).");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_memstore_bytes", HR_METRIC_GAUGE, memstore,
		     "Bytes in the table's memstores.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_store_files", HR_METRIC_GAUGE, files,
		     "Store files of the table.");
	TABLE_FAMILY(w, t, nt, "hregionfs_table_store_file_bytes", HR_METRIC_GAUGE, file_bytes,
		     "Bytes of the table's store files.");
	hr_mw_family(w, "hregionfs_region_memstore_bytes", "Bytes in the region's memstores.",
		     HR_METRIC_GAUGE);
	for (size_t i = 0; i < nr; i++)
		hr_mw_sample(w, (double)r[i].memstore, "table", t[r[i].table].name, "region", r[i].id,
			     (char *)NULL);
	free(t);
	free(r);
}

static int histogram(hr_server *srv, const char *name, const char *help, hr_series **out)
{
	hr_metric *f;
	int rc = hr_metric_register(srv->metrics, name, help, HR_METRIC_HISTOGRAM, NULL, 0, &f);
	if (rc < 0)
		return rc;
	*out = hr_metric_series(f, NULL);
	return *out ? 0 : -ENOMEM;
}

int hr_server_metrics_init(hr_server *srv)
{
	int rc;
	if (!(srv->metrics = hr_metrics_new()))
		return -ENOMEM;
	srv->mx.on = srv->cfg.metrics_histograms;
	srv->mx.start_ms = hr_now_ms();
	if (srv->mx.on &&
	    ((rc = histogram(srv, "hregionfs_put_seconds",
			     "Latency of row mutations that succeeded (hr_mutate, check-and-mutate), "
			     "WAL append and sync included.",
			     &srv->mx.put)) < 0 ||
	     (rc = histogram(srv, "hregionfs_get_seconds",
			     "Latency of point reads (hr_get, hr_get_versions), found or not.",
			     &srv->mx.get)) < 0 ||
	     (rc = histogram(srv, "hregionfs_scan_next_seconds",
			     "Latency of one cursor step that returned an entry (a row, a row's "
			     "family or a cell, by the cursor's mode); sampled: a cursor's first "
			     "step and every 16th are timed.",
			     &srv->mx.scan_next)) < 0 ||
	     (rc = histogram(srv, "hregionfs_wal_sync_seconds",
			     "Latency of one fdatasync of a WAL segment.", &srv->mx.wal_sync)) < 0 ||
	     (rc = histogram(srv, "hregionfs_flush_seconds",
			     "Duration of region flushes that wrote store files.",
			     &srv->mx.flush)) < 0 ||
	     (rc = histogram(srv, "hregionfs_compaction_seconds",
			     "Duration of store compactions that completed.",
			     &srv->mx.compaction)) < 0))
		return rc;
	return hr_metrics_add_collector(srv->metrics, engine_collect, srv);
}
