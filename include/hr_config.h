/*
 * hr_config.h — the configuration: defaults, the .ini file (parsed with
 * inih) and KEY=VALUE overrides (the -o options of the mount command).
 *
 * Every key is documented with its default in the top-level hregionfs.ini.
 * Key names are unique across sections, so hr_config_set takes a bare key.
 * Sizes accept K/M/G/T suffixes (powers of 1024, optional "B"/"iB"); keys
 * ending in _ms/_s are plain integers in that unit; flush_interval, the one
 * duration, needs a unit: ms, s, m, h or d (stored in milliseconds).
 * Bad input is rejected with a message "file:line: ..." in err.
 * Not thread-safe while being filled; read-only (shared freely) after.
 */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum { HR_DURABILITY_OS = 0, HR_DURABILITY_FSYNC = 1 };
/* Where WAL segments and store files live: the local data directory, or
 * objects in a Ceph RADOS pool (hr_rados.h). */
enum { HR_STORAGE_LOCAL = 0, HR_STORAGE_RADOS = 1 };
/* What WAL replay does with a corrupt record (RocksDB's WALRecoveryMode). */
enum {
	HR_WAL_TOLERATE_TAIL = 0, /* trim a torn tail of the last segment; refuse anything else */
	HR_WAL_POINT_IN_TIME = 1, /* stop at the first corruption: a consistent prefix */
	HR_WAL_SKIP_CORRUPT = 2,  /* skip bad records, count them */
};

typedef struct hr_config {
	/* [storage] */
	char data_dir[PATH_MAX];
	uint32_t open_files;		/* bound on cached store-file descriptors */
	uint32_t zstd_level;		/* of compression=zstd store-file blocks */
	/* [storage]: where the data lives (h-io, storage=rados) */
	int storage;			/* HR_STORAGE_* */
	char ceph_conf[PATH_MAX];
	char rados_pool[128];
	char rados_namespace[PATH_MAX];	/* "" = derived from data_dir */
	/* [wal] */
	int durability;			/* HR_DURABILITY_* */
	uint32_t sync_interval_ms;
	uint64_t segment_size;
	uint32_t max_segments;
	int wal_recovery;		/* HR_WAL_TOLERATE_TAIL ... */
	/* [memstore] */
	uint64_t flush_size;
	uint64_t global_limit;
	uint64_t global_limit_low;
	uint64_t flush_interval_ms;
	uint32_t flush_threads;
	uint32_t block_multiplier;
	uint32_t busy_wait_ms;
	/* [region] */
	uint64_t split_size;
	uint32_t scanner_lease_ms;	/* an idle cursor releases its views after this */
	/* [compaction] */
	uint32_t compact_min_files;
	uint32_t compact_max_files;
	char compact_ratio[16];		/* a decimal number, e.g. "1.2" */
	uint32_t blocking_store_files;
	uint32_t blocking_wait_ms;
	uint64_t compact_throttle_size;
	uint64_t major_interval_ms;	/* 0 = no periodic major compaction */
	uint32_t compact_throughput_mb;	/* MB/s, 0 = unlimited */
	uint32_t compact_threads_small;
	uint32_t compact_threads_large;
	/* [cache] */
	uint64_t block_cache_size;
	/* [limits] */
	uint64_t max_cell_size;
	uint32_t row_lock_timeout_ms;
	uint32_t snapshot_gate_timeout_ms; /* a write held back by a snapshot or restore */
	/* [log] */
	int log_level;			/* HR_LOG_* from hr_log.h */
	/* [metrics] */
	char metrics_listen[128];	/* "HOST:PORT" of the HTTP endpoint, or "off" */
	int metrics_histograms;		/* record the latency histograms */
	/* [fs] — read by the front end only */
	char default_families[1024];	/* comma-separated */
	int auto_create_families;
	uint32_t default_max_versions;	/* of families made by mkdir */
	int default_keep_deleted_cells;
	int default_compression;	/* HR_COMPRESSION_* of families made by mkdir */
	uint32_t entry_timeout_s;
	uint32_t retries;
	uint32_t retry_pause_ms;
	/* [cluster] — issue 11 */
	char cluster[1024];		/* ZooKeeper connect string [/chroot]; "" = single node */
	char server_listen[128];	/* hregionfs-server's RPC "HOST:PORT" (port 0 = any) */
	uint32_t zk_session_timeout_ms;
	/* [server mode] — not an ini key: set by code (the hregionfs-server
	 * program) after hr_config_defaults/load; empty = single-node. The
	 * region server's name, "host,port,startcode" (include/engine/hr_host.h). */
	char server_name[256];
	/* [cluster] — the RPC (h-rpc) */
	uint32_t rpc_timeout_ms;	/* deadline of one RPC frame / call */
} hr_config;

void hr_config_defaults(hr_config *c);

/* Parses an ini file over the current values (left unchanged on error).
 * -ENOENT if it does not exist (err says so), -EINVAL on the first bad line
 * (err = "file:line: why": unknown key, key in the wrong section, duplicate
 * key, bad value, syntax error, line longer than inih's 200-byte buffer). */
int hr_config_load(hr_config *c, const char *path, char *err, size_t errlen);

/* Sets one key (bare name, e.g. "flush_size") from its text form, with the
 * file's syntax. -EINVAL with "unknown option 'x'" or "bad value ..." in err. */
int hr_config_set(hr_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Checks every key's range and the rules between keys (global_limit_low <=
 * global_limit ...). Load and set check one value at a time, so call this
 * once after the file and all overrides are applied: 0, or -EINVAL with a
 * message "key = value: why" in err. */
int hr_config_validate(const hr_config *c, char *err, size_t errlen);

/* Writes every key and its current value as an ini text (malloc'd). */
int hr_config_format(const hr_config *c, char **text, size_t *len);

#endif
