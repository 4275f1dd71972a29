/*
 * config.c — the configuration (contract in hr_config.h).
 *
 * One table below is the single source of truth for every key: its section,
 * type, field, default (as text, parsed by the same code as the file), range
 * and a one-line doc. Defaults, the ini loader, -o overrides, validation and
 * the formatter all walk it, so adding a key is adding one row (plus its
 * field in hr_config.h and its documented line in hregionfs.ini; the unit
 * test checks that file against the defaults).
 *
 * inih (Debian's build) does not pass line numbers to the handler, so the
 * file is fed through a reader of our own that counts the lines: inih calls
 * the reader once per line and the handler for that line before it reads
 * the next one, so the reader's count is the handler's line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "engine/hr_metrics.h"
#include "hr_config.h"
#include "hr_log.h"

enum cfg_type { T_PATH, T_STRING, T_SIZE, T_UINT, T_BOOL, T_ENUM, T_DURATION };

static const char *const type_names[] = {
	[T_PATH] = "path", [T_STRING] = "string", [T_SIZE] = "size", [T_UINT] = "integer",
	[T_BOOL] = "boolean", [T_ENUM] = "enum", [T_DURATION] = "duration",
};

/* What the error message suggests for each type. */
static const char *const type_hints[] = {
	[T_PATH] = "a non-empty path", [T_STRING] = "text", [T_SIZE] = "e.g. 64M",
	[T_UINT] = "a decimal integer", [T_BOOL] = "true or false",
	[T_ENUM] = "", [T_DURATION] = "e.g. 1h, 30m, 90s or 500ms",
};

typedef int (*cfg_check_fn)(const char *value, char *why, size_t whylen);

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t off;
	size_t width;			/* sizeof the field */
	const char *def;		/* default, in the file's syntax */
	uint64_t min, max;		/* numeric types (durations in ms) */
	const char *const *names;	/* T_ENUM: value i is names[i] */
	cfg_check_fn check;		/* T_STRING: extra syntax */
	const char *doc;
};

static const char *const durability_names[] = {
	[HR_DURABILITY_OS] = "os", [HR_DURABILITY_FSYNC] = "fsync", NULL,
};
static const char *const wal_recovery_names[] = {
	[HR_WAL_TOLERATE_TAIL] = "tolerate_tail", [HR_WAL_POINT_IN_TIME] = "point_in_time",
	[HR_WAL_SKIP_CORRUPT] = "skip_corrupt", NULL,
};
static const char *const storage_names[] = {
	[HR_STORAGE_LOCAL] = "local", [HR_STORAGE_RADOS] = "rados", NULL,
};
static const char *const log_level_names[] = {
	[HR_LOG_ERROR] = "error", [HR_LOG_WARN] = "warn", [HR_LOG_INFO] = "info",
	[HR_LOG_DEBUG] = "debug", NULL,
};

/* the values of hregionfs.h's HR_COMPRESSION_* */
static const char *const compression_names[] = {"none", "lz4", "zstd", NULL};

static int check_families(const char *value, char *why, size_t whylen);
static int check_ratio(const char *value, char *why, size_t whylen);
static int check_listen(const char *value, char *why, size_t whylen);
static int check_server_listen(const char *value, char *why, size_t whylen);

#define K_ 1024ULL
#define M_ (1024ULL * K_)
#define G_ (1024ULL * M_)
#define T_ (1024ULL * G_)
#define SEC_ 1000ULL
#define FLD(f) offsetof(hr_config, f), sizeof(((hr_config *)0)->f)

static const struct cfg_key keys[] = {
	{"storage", "data_dir", T_PATH, FLD(data_dir), "./hregionfs-data", 0, 0, NULL, NULL,
	 "directory holding the WAL, store files and LMDB metadata"},
	{"storage", "open_files", T_UINT, FLD(open_files), "1024", 16, 16384, NULL, NULL,
	 "most store-file descriptors kept open at once"},
	{"storage", "zstd_level", T_UINT, FLD(zstd_level), "3", 1, 19, NULL, NULL,
	 "zstd level of store-file blocks in families with compression=zstd"},
	{"storage", "storage", T_ENUM, FLD(storage), "local", 0, 0, storage_names, NULL,
	 "local: WAL and store files in data_dir; rados: objects in a Ceph pool"},
	{"storage", "ceph_conf", T_PATH, FLD(ceph_conf), "/etc/ceph/ceph.conf", 0, 0, NULL, NULL,
	 "with storage=rados: the ceph.conf naming the cluster's monitors"},
	{"storage", "rados_pool", T_STRING, FLD(rados_pool), "hregionfs", 0, 0, NULL, NULL,
	 "with storage=rados: the pool holding the objects (it must exist)"},
	{"storage", "rados_namespace", T_STRING, FLD(rados_namespace), "", 0, 0, NULL, NULL,
	 "with storage=rados: the namespace in the pool; empty = the absolute data_dir"},

	{"wal", "durability", T_ENUM, FLD(durability), "os", 0, 0, durability_names, NULL,
	 "os: a put returns after write(2) to the log; fsync: after the log is synced"},
	{"wal", "sync_interval_ms", T_UINT, FLD(sync_interval_ms), "1000", 1, 3600 * SEC_, NULL,
	 NULL, "in os mode, how often (ms) a background thread syncs the log"},
	{"wal", "segment_size", T_SIZE, FLD(segment_size), "64M", 4 * K_, 64 * G_, NULL, NULL,
	 "roll the log to a new segment file at this size"},
	{"wal", "max_segments", T_UINT, FLD(max_segments), "32", 2, 100000, NULL, NULL,
	 "above this many segments, flush the regions pinning the oldest"},
	{"wal", "wal_recovery", T_ENUM, FLD(wal_recovery), "tolerate_tail", 0, 0, wal_recovery_names,
	 NULL, "on a corrupt log record: tolerate_tail, point_in_time or skip_corrupt"},

	{"memstore", "flush_size", T_SIZE, FLD(flush_size), "64M", 4 * K_, 64 * G_, NULL, NULL,
	 "flush a region once its memstores hold this much"},
	{"memstore", "global_limit", T_SIZE, FLD(global_limit), "1G", 4 * K_, T_, NULL, NULL,
	 "flush the largest regions once all memstores together hold this much"},
	{"memstore", "global_limit_low", T_SIZE, FLD(global_limit_low), "950M", 4 * K_, T_, NULL,
	 NULL, "... until they hold less than this (at most global_limit)"},
	{"memstore", "flush_interval", T_DURATION, FLD(flush_interval_ms), "1h", 10, 30 * 86400 * SEC_,
	 NULL, NULL, "flush a memstore whose oldest edit is older than this"},
	{"memstore", "flush_threads", T_UINT, FLD(flush_threads), "2", 1, 64, NULL, NULL,
	 "background threads writing flushes"},
	{"memstore", "block_multiplier", T_UINT, FLD(block_multiplier), "4", 1, 1000, NULL, NULL,
	 "writes to a region wait once its memstores hold flush_size x this"},
	{"memstore", "busy_wait_ms", T_UINT, FLD(busy_wait_ms), "2000", 0, 3600 * SEC_, NULL, NULL,
	 "longest wait (ms) of a write for memory before the engine answers busy"},

	{"region", "split_size", T_SIZE, FLD(split_size), "10G", 64 * K_, T_, NULL, NULL,
	 "split a region whose largest store outgrows this (a table's first region: 2 x flush_size)"},
	{"region", "scanner_lease_ms", T_UINT, FLD(scanner_lease_ms), "60000", 10, 86400 * SEC_, NULL,
	 NULL, "an idle scan cursor (an open directory) lets go of memory and files after this"},

	{"compaction", "min_files", T_UINT, FLD(compact_min_files), "3", 2, 1000, NULL, NULL,
	 "fewest files a minor compaction merges"},
	{"compaction", "max_files", T_UINT, FLD(compact_max_files), "10", 2, 1000, NULL, NULL,
	 "most files one compaction merges (at least min_files)"},
	{"compaction", "ratio", T_STRING, FLD(compact_ratio), "1.2", 0, 0, NULL, check_ratio,
	 "a file joins a minor compaction if at most ratio x the others' total size"},
	{"compaction", "blocking_store_files", T_UINT, FLD(blocking_store_files), "16", 2, 100000,
	 NULL, NULL, "a store with this many files compacts even outside the ratio"},
	{"compaction", "blocking_wait_ms", T_UINT, FLD(blocking_wait_ms), "10000", 0, 3600 * SEC_,
	 NULL, NULL, "longest delay (ms) of a flush into a store at blocking_store_files"},
	{"compaction", "throttle_size", T_SIZE, FLD(compact_throttle_size), "256M", 0, T_, NULL,
	 NULL, "compactions of more bytes than this run in the large pool"},
	{"compaction", "major_interval", T_DURATION, FLD(major_interval_ms), "0", 0,
	 365 * 86400 * SEC_, NULL, NULL, "major-compact each store this often (+-50%); 0 = never"},
	{"compaction", "throughput_limit", T_UINT, FLD(compact_throughput_mb), "0", 0, 1000000, NULL,
	 NULL, "MB/s all compactions together may write; 0 = unlimited"},
	{"compaction", "threads_small", T_UINT, FLD(compact_threads_small), "1", 1, 64, NULL, NULL,
	 "threads compacting up to throttle_size"},
	{"compaction", "threads_large", T_UINT, FLD(compact_threads_large), "1", 1, 64, NULL, NULL,
	 "threads compacting more than throttle_size"},

	{"cache", "block_cache_size", T_SIZE, FLD(block_cache_size), "256M", 64 * K_, T_, NULL, NULL,
	 "memory for the shared LRU cache of store-file blocks"},

	{"limits", "max_cell_size", T_SIZE, FLD(max_cell_size), "10M", 1, G_, NULL, NULL,
	 "largest value of one cell; larger puts fail with EFBIG"},
	{"limits", "row_lock_timeout_ms", T_UINT, FLD(row_lock_timeout_ms), "5000", 1, 3600 * SEC_,
	 NULL, NULL, "longest wait (ms) for a row lock before ETIMEDOUT"},
	{"limits", "snapshot_gate_timeout_ms", T_UINT, FLD(snapshot_gate_timeout_ms), "10000", 1,
	 3600 * SEC_, NULL, NULL,
	 "longest wait (ms) of a write held back by a snapshot or a restore before EBUSY"},

	{"log", "log_level", T_ENUM, FLD(log_level), "info", 0, 0, log_level_names, NULL,
	 "error, warn, info or debug"},

	{"metrics", "metrics_listen", T_STRING, FLD(metrics_listen), "off", 0, 0, NULL, check_listen,
	 "HOST:PORT of the Prometheus endpoint (GET /metrics), or off"},
	{"metrics", "metrics_histograms", T_BOOL, FLD(metrics_histograms), "true", 0, 1, NULL, NULL,
	 "record latency histograms (two clock reads per put, get and scan step)"},

	{"fs", "default_families", T_STRING, FLD(default_families), "cf", 0, 0, NULL,
	 check_families, "comma-separated families of a table created by mkdir"},
	{"fs", "auto_create_families", T_BOOL, FLD(auto_create_families), "true", 0, 1, NULL, NULL,
	 "mkdir of a missing family adds it to the table's schema"},
	{"fs", "default_max_versions", T_UINT, FLD(default_max_versions), "3", 1, 1000000, NULL,
	 NULL, "versions per cell kept by families made by mkdir (HBase's default: 1)"},
	{"fs", "default_keep_deleted_cells", T_BOOL, FLD(default_keep_deleted_cells), "false", 0, 1,
	 NULL, NULL, "families made by mkdir keep deleted cells for time travel (HBase: false)"},
	{"fs", "default_compression", T_ENUM, FLD(default_compression), "none", 0, 0,
	 compression_names, NULL, "store-file compression of families made by mkdir: none, lz4, zstd"},
	{"fs", "entry_timeout_s", T_UINT, FLD(entry_timeout_s), "60", 0, 86400, NULL, NULL,
	 "seconds the kernel may cache names and attributes"},
	{"fs", "retries", T_UINT, FLD(retries), "10", 0, 1000, NULL, NULL,
	 "tries of a request the engine answers busy before EAGAIN"},
	{"fs", "retry_pause_ms", T_UINT, FLD(retry_pause_ms), "20", 0, 60 * SEC_, NULL, NULL,
	 "first pause (ms) between tries; it doubles each try"},

	/* cluster mode (issue 11): empty cluster = single node */
	{"cluster", "cluster", T_STRING, FLD(cluster), "", 0, 0, NULL, NULL,
	 "ZooKeeper connect string HOST:PORT[,HOST:PORT...][/chroot]; empty = single node"},
	{"cluster", "server_listen", T_STRING, FLD(server_listen), "127.0.0.1:0", 0, 0, NULL,
	 check_server_listen, "HOST:PORT the region server's RPC listens on (port 0 = any free)"},
	{"cluster", "zk_session_timeout_ms", T_UINT, FLD(zk_session_timeout_ms), "6000", 100,
	 600 * SEC_, NULL, NULL, "ZooKeeper session timeout (ms): a silent server is dead after it"},
	{"cluster", "rpc_timeout_ms", T_UINT, FLD(rpc_timeout_ms), "10000", 10, 3600 * SEC_, NULL,
	 NULL, "longest wait (ms) for an RPC answer (and per frame at the server) before a retry"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- value syntax ---------------------------------------------------- */

static int check_listen(const char *value, char *why, size_t whylen)
{
	if (strcmp(value, "off") == 0 || hr_metrics_listen_parse(value, NULL, NULL) == 0)
		return 0;
	errf(why, whylen, "off, or HOST:PORT with an IPv4 address or [IPv6] and a port 0..65535");
	return -EINVAL;
}

static int check_server_listen(const char *value, char *why, size_t whylen)
{
	if (hr_metrics_listen_parse(value, NULL, NULL) == 0)
		return 0;
	errf(why, whylen, "HOST:PORT with an IPv4 address or [IPv6] and a port 0..65535");
	return -EINVAL;
}

static int check_families(const char *value, char *why, size_t whylen)
{
	const char *p = value;
	for (;;) {
		const char *start = p;
		while (*p && *p != ',') {
			char ch = *p;
			bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
			if (!ok) {
				errf(why, whylen, "family names use only [A-Za-z0-9_.-]");
				return -EINVAL;
			}
			p++;
		}
		if (p == start) {
			errf(why, whylen, "empty family name");
			return -EINVAL;
		}
		if (*start == '.') {
			errf(why, whylen, "a family name may not start with '.'");
			return -EINVAL;
		}
		if (!*p)
			return 0;
		p++;
	}
}

/* A decimal number like "1.2" (at most three decimals), > 0 and <= 100. */
static int check_ratio(const char *value, char *why, size_t whylen)
{
	const char *p = value;
	int digits = 0, decimals = -1;
	for (; *p; p++) {
		if (*p == '.' && decimals < 0 && digits) {
			decimals = 0;
		} else if (*p >= '0' && *p <= '9') {
			if (decimals >= 0 && ++decimals > 3)
				break;
			digits++;
		} else {
			break;
		}
	}
	double v = strtod(value, NULL);
	if (*p || !digits || decimals == 0 || v <= 0 || v > 100) {
		errf(why, whylen, "want a decimal number above 0 and at most 100, e.g. 1.2");
		return -EINVAL;
	}
	return 0;
}

/* Decimal digits only (no sign, no spaces), into *v; -ERANGE on overflow.
 * *end is left on the first non-digit. */
static int parse_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t n = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	*v = n;
	*end = p;
	return 0;
}

/* "4096", "64K", "64M", "64MiB", "64MB", "1g", "2T": 1024-based. */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t n, mult = 1;
	const char *p;
	int rc = parse_digits(s, &n, &p);
	if (rc)
		return rc;
	if (*p) {
		switch (*p) {
		case 'k': case 'K': mult = K_; break;
		case 'm': case 'M': mult = M_; break;
		case 'g': case 'G': mult = G_; break;
		case 't': case 'T': mult = T_; break;
		default: return -EINVAL;
		}
		p++;
		if (strcasecmp(p, "") != 0 && strcasecmp(p, "b") != 0 && strcasecmp(p, "ib") != 0)
			return -EINVAL;
	}
	if (n > UINT64_MAX / mult)
		return -ERANGE;
	*out = n * mult;
	return 0;
}

/* "500ms", "90s", "30m", "1h", "2d" -> milliseconds. A unit is required
 * (except for 0) so that nobody has to guess what a bare number means. */
static int parse_duration(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{"ms", 1}, {"s", SEC_}, {"m", 60 * SEC_}, {"h", 3600 * SEC_}, {"d", 86400 * SEC_},
	};
	uint64_t n;
	const char *p;
	int rc = parse_digits(s, &n, &p);
	if (rc)
		return rc;
	if (!*p && n == 0) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].unit) == 0) {
			if (n > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*out = n * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Renders a byte count with the largest suffix that divides it exactly. */
static void fmt_size(uint64_t v, char *buf, size_t len)
{
	static const struct { char suffix; uint64_t mult; } s[] = {
		{'T', T_}, {'G', G_}, {'M', M_}, {'K', K_},
	};
	for (size_t i = 0; v && i < 4; i++) {
		if (v % s[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v / s[i].mult, s[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static void fmt_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; uint64_t ms; } u[] = {
		{"d", 86400 * SEC_}, {"h", 3600 * SEC_}, {"m", 60 * SEC_}, {"s", SEC_},
	};
	for (size_t i = 0; ms && i < 4; i++) {
		if (ms % u[i].ms == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ms / u[i].ms, u[i].unit);
			return;
		}
	}
	snprintf(buf, len, ms ? "%" PRIu64 "ms" : "%" PRIu64, ms);
}

static void fmt_range_value(const struct cfg_key *k, uint64_t v, char *buf, size_t len)
{
	if (k->type == T_SIZE)
		fmt_size(v, buf, len);
	else if (k->type == T_DURATION)
		fmt_duration(v, buf, len);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

/* ---- fields ------------------------------------------------------------ */

static void *field(hr_config *c, const struct cfg_key *k) { return (char *)c + k->off; }
static const void *cfield(const hr_config *c, const struct cfg_key *k)
{
	return (const char *)c + k->off;
}

static uint64_t get_uint(const hr_config *c, const struct cfg_key *k)
{
	if (k->width == sizeof(uint32_t)) {
		uint32_t v;
		memcpy(&v, cfield(c, k), sizeof(v));
		return v;
	}
	uint64_t v;
	memcpy(&v, cfield(c, k), sizeof(v));
	return v;
}

static void put_uint(hr_config *c, const struct cfg_key *k, uint64_t v)
{
	if (k->width == sizeof(uint32_t)) {
		uint32_t v32 = (uint32_t)v;
		memcpy(field(c, k), &v32, sizeof(v32));
	} else {
		memcpy(field(c, k), &v, sizeof(v));
	}
}

static int get_int(const hr_config *c, const struct cfg_key *k)
{
	int v;
	memcpy(&v, cfield(c, k), sizeof(v));
	return v;
}

static void put_int(hr_config *c, const struct cfg_key *k, int v)
{
	memcpy(field(c, k), &v, sizeof(v));
}

/* A text key whose default is empty (rados_namespace) may be set empty:
 * empty means "derive it" there, not "missing". */
static bool may_be_empty(const struct cfg_key *k)
{
	return k->type == T_STRING && k->def[0] == '\0';
}

static bool is_numeric(const struct cfg_key *k)
{
	return k->type == T_SIZE || k->type == T_UINT || k->type == T_DURATION;
}

/* Range message for a numeric key. */
static void range_why(const struct cfg_key *k, char *why, size_t whylen)
{
	char lo[32], hi[32];
	fmt_range_value(k, k->min, lo, sizeof(lo));
	fmt_range_value(k, k->max, hi, sizeof(hi));
	errf(why, whylen, "must be between %s and %s", lo, hi);
}

/*
 * Parses value for key k into c. On error, why gets the part of the message
 * after "bad value 'v' for <type> key 'k'".
 */
static int apply(hr_config *c, const struct cfg_key *k, const char *value, char *why,
		 size_t whylen)
{
	uint64_t v = 0;
	int iv = 0, rc = 0;

	why[0] = '\0';
	switch (k->type) {
	case T_PATH:
	case T_STRING:
		if (!*value && may_be_empty(k)) {
			memset(field(c, k), 0, k->width);
			return 0;
		}
		if (!*value) {
			errf(why, whylen, "(want %s)", k->type == T_PATH ? "a non-empty path" : "a value");
			return -EINVAL;
		}
		if (strlen(value) >= k->width) {
			errf(why, whylen, "(longer than %zu bytes)", k->width - 1);
			return -EINVAL;
		}
		if (k->check) {
			char sub[128];
			if (k->check(value, sub, sizeof(sub))) {
				errf(why, whylen, "(%s)", sub);
				return -EINVAL;
			}
		}
		memset(field(c, k), 0, k->width);
		memcpy(field(c, k), value, strlen(value));
		return 0;
	case T_SIZE:
		rc = parse_size(value, &v);
		break;
	case T_UINT: {
		const char *end;
		rc = parse_digits(value, &v, &end);
		if (!rc && *end)
			rc = -EINVAL;
		break;
	}
	case T_DURATION:
		rc = parse_duration(value, &v);
		break;
	case T_BOOL:
		if (parse_bool(value, &iv)) {
			errf(why, whylen, "(want true/false, yes/no, on/off or 1/0)");
			return -EINVAL;
		}
		put_int(c, k, iv);
		return 0;
	case T_ENUM: {
		size_t off = 0;
		for (int i = 0; k->names[i]; i++) {
			if (strcasecmp(value, k->names[i]) == 0) {
				put_int(c, k, i);
				return 0;
			}
		}
		off += (size_t)snprintf(why, whylen, "(want ");
		for (int i = 0; k->names[i] && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, "%s%s",
						i ? (k->names[i + 1] ? ", " : " or ") : "",
						k->names[i]);
		if (off < whylen)
			snprintf(why + off, whylen - off, ")");
		return -EINVAL;
	}
	}
	if (rc == -ERANGE || (!rc && (v < k->min || v > k->max))) {
		char sub[96];
		range_why(k, sub, sizeof(sub));
		errf(why, whylen, "(%s)", sub);
		return -EINVAL;
	}
	if (rc) {
		errf(why, whylen, "(want %s)", type_hints[k->type]);
		return -EINVAL;
	}
	put_uint(c, k, v);
	return 0;
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, name) == 0)
			return &keys[i];
	return NULL;
}

/* ---- public ---------------------------------------------------------------- */

void hr_config_defaults(hr_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		char why[160];
		int rc = apply(c, &keys[i], keys[i].def, why, sizeof(why));
		if (rc) /* a bad row in the table above: a programming error */
			hr_log_error("config", "built-in default '%s' for '%s' is invalid %s",
				     keys[i].def, keys[i].key, why);
	}
}

int hr_config_set(hr_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = find_key(key);
	if (!k) {
		errf(err, errlen, "unknown option '%s'", key);
		return -EINVAL;
	}
	char why[160];
	if (apply(c, k, value, why, sizeof(why))) {
		errf(err, errlen, "bad value '%s' for %s key '%s' %s", value, type_names[k->type],
		     k->key, why);
		return -EINVAL;
	}
	return 0;
}

struct load_ctx {
	hr_config *c;
	const char *path;
	FILE *f;
	char *line;		/* getline buffer */
	size_t cap;
	int lineno;		/* lines handed to inih so far */
	int read_errno;		/* errno of a failed read */
	int err_line;		/* first error (0 = none) */
	char msg[512];		/* its message, without "path:line: " */
	int seen[sizeof(keys) / sizeof(keys[0])];	/* line a key was set on */
};

static void load_fail(struct load_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void load_fail(struct load_ctx *x, const char *fmt, ...)
{
	if (x->err_line)
		return;
	x->err_line = x->lineno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
}

/*
 * inih's line reader. Leading blanks are dropped so that inih never treats
 * an indented line as a multi-line continuation (we have no such values; a
 * stray indented word is then a syntax error instead of silently joining
 * the previous value). Lines too long for inih's buffer are an error here
 * rather than being split by it.
 */
/* The longest line inih's reader passes on (its buffer, INI_MAX_LINE, is
 * 200 bytes: 197 and the newline and NUL); hr_config_format keeps to it. */
#define CFG_LINE_MAX 197

static char *load_reader(char *str, int num, void *stream)
{
	struct load_ctx *x = stream;
	if (x->err_line)
		return NULL;
	errno = 0;
	ssize_t n = getline(&x->line, &x->cap, x->f);
	if (n < 0) {
		x->read_errno = ferror(x->f) ? (errno ? errno : EIO) : 0;
		return NULL;
	}
	x->lineno++;
	const char *p = x->line;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strlen(p);
	/* the same limit for a last line without its newline: one byte more
	 * would fit inih's buffer there, but then no file could hold the
	 * configuration hr_config_format writes back */
	size_t content = len && p[len - 1] == '\n' ? len - 1 : len;
	if (num < 3 || content > (size_t)num - 3) {
		load_fail(x, "line too long (at most %d bytes)", num - 3);
		return NULL;
	}
	memcpy(str, p, len + 1);
	return str;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *x = user;
	if (x->err_line)
		return 0;
	const struct cfg_key *k = NULL;
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, name) == 0 && strcmp(keys[i].section, section) == 0)
			k = &keys[i];
	if (!k) {
		const struct cfg_key *other = find_key(name);
		if (other && !*section)
			load_fail(x, "key '%s' outside any section (it belongs in [%s])", name,
				  other->section);
		else if (other)
			load_fail(x, "key '%s' belongs in section [%s], not [%s]", name,
				  other->section, section);
		else
			load_fail(x, "unknown key '%s' in section [%s]", name, section);
		return 0;
	}
	size_t idx = (size_t)(k - keys);
	if (x->seen[idx]) {
		load_fail(x, "duplicate key '%s' (first set on line %d)", name, x->seen[idx]);
		return 0;
	}
	x->seen[idx] = x->lineno;
	char why[160];
	if (apply(x->c, k, value ? value : "", why, sizeof(why))) {
		load_fail(x, "bad value '%s' for %s key '%s' %s", value ? value : "",
			  type_names[k->type], name, why);
		return 0;
	}
	return 1;
}

int hr_config_load(hr_config *c, const char *path, char *err, size_t errlen)
{
	struct load_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		errf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	int rc = 0;
	x->path = path;
	x->f = fopen(path, "r");
	if (!x->f) {
		rc = -errno;
		errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Parse into a copy so that a bad file leaves *c as it was. */
	hr_config tmp;
	memcpy(&tmp, c, sizeof(tmp)); /* bytewise, so padding compares equal too */
	x->c = &tmp;
	int line = ini_parse_stream(load_reader, x, load_handler, x);
	if (!x->err_line && x->read_errno) {
		rc = -x->read_errno;
		errf(err, errlen, "%s:%d: %s", path, x->lineno + 1, strerror(x->read_errno));
		goto out;
	}
	if (line > 0 && (!x->err_line || line < x->err_line)) {
		/* inih's own complaint: no '=' or an unclosed [section]. */
		rc = -EINVAL;
		errf(err, errlen, "%s:%d: syntax error (want 'key = value', '[section]' or a "
			     "comment starting with ';' or '#')", path, line);
		goto out;
	}
	if (x->err_line) {
		rc = -EINVAL;
		errf(err, errlen, "%s:%d: %s", path, x->err_line, x->msg);
		goto out;
	}
	if (line < 0) {
		rc = -ENOMEM;
		errf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	memcpy(c, &tmp, sizeof(tmp));
out:
	if (x->f)
		fclose(x->f);
	free(x->line);
	free(x);
	return rc;
}

int hr_config_validate(const hr_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &keys[i];
		if (is_numeric(k)) {
			uint64_t v = get_uint(c, k);
			if (v < k->min || v > k->max) {
				char why[96], got[32];
				range_why(k, why, sizeof(why));
				fmt_range_value(k, v, got, sizeof(got));
				errf(err, errlen, "%s = %s: %s", k->key, got, why);
				return -EINVAL;
			}
		} else if (k->type == T_PATH || k->type == T_STRING) {
			const char *s = cfield(c, k);
			if (!memchr(s, '\0', k->width) || (!*s && !may_be_empty(k))) {
				errf(err, errlen, "%s is empty or unterminated", k->key);
				return -EINVAL;
			}
			char why[128];
			if (*s && k->check && k->check(s, why, sizeof(why))) {
				errf(err, errlen, "%s = %s: %s", k->key, s, why);
				return -EINVAL;
			}
		} else if (k->type == T_ENUM) {
			int v = get_int(c, k), n = 0;
			while (k->names[n])
				n++;
			if (v < 0 || v >= n) {
				errf(err, errlen, "%s has no valid value (%d)", k->key, v);
				return -EINVAL;
			}
		}
	}
	if (c->compact_max_files < c->compact_min_files) {
		errf(err, errlen, "max_files (%u) must be at least min_files (%u)",
		     c->compact_max_files, c->compact_min_files);
		return -EINVAL;
	}
	if (c->global_limit_low > c->global_limit) {
		char lo[32], hi[32];
		fmt_size(c->global_limit_low, lo, sizeof(lo));
		fmt_size(c->global_limit, hi, sizeof(hi));
		errf(err, errlen, "global_limit_low (%s) must not exceed global_limit (%s)", lo, hi);
		return -EINVAL;
	}
	return 0;
}

/* Appends to a growing buffer; *failed set on allocation failure. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

int hr_config_format(const hr_config *c, char **text, size_t *len)
{
	struct sbuf b = {0};
	const char *section = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &keys[i];
		if (!section || strcmp(section, k->section) != 0) {
			sb_printf(&b, "%s[%s]\n", section ? "\n" : "", k->section);
			section = k->section;
		}
		char val[64];
		const char *v = val;
		switch (k->type) {
		case T_PATH:
		case T_STRING:
			v = cfield(c, k);
			break;
		case T_SIZE:
			fmt_size(get_uint(c, k), val, sizeof(val));
			break;
		case T_DURATION:
			fmt_duration(get_uint(c, k), val, sizeof(val));
			break;
		case T_UINT:
			snprintf(val, sizeof(val), "%" PRIu64, get_uint(c, k));
			break;
		case T_BOOL:
			v = get_int(c, k) ? "true" : "false";
			break;
		case T_ENUM: {
			int e = get_int(c, k), n = 0;
			while (k->names[n])
				n++;
			v = e >= 0 && e < n ? k->names[e] : "?";
			break;
		}
		}
		/* a value that fills a line of a file (load_reader's limit) only
		 * fits back without the spaces around '=' */
		int tight = strlen(k->key) + 3 + strlen(v) > CFG_LINE_MAX;
		if (!*v) /* an empty value: no trailing space for editors to strip */
			sb_printf(&b, "%s =\n", k->key);
		else
			sb_printf(&b, tight ? "%s=%s\n" : "%s = %s\n", k->key, v);
	}
	if (b.failed || !b.p) {
		free(b.p);
		return -ENOMEM;
	}
	*text = b.p;
	if (len)
		*len = b.len;
	return 0;
}
