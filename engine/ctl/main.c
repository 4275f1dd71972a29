/* main.c — hregionctl: command line, configuration, the command table and
 * what each command needs (an open server, the locked directory, nothing);
 * contract in hrctl.h.
 *
 *   hregionctl [-c CONFIG] [-o KEY=VALUE[,...]] [--json] COMMAND [ARGS] [FLAGS]
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <unistd.h>

#include "ctl/hrctl.h"
#include "engine/hr_fname.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "hr_log.h"

static const hrctl_cmd cmds[] = {
	{"status", HRCTL_NEED_SERVER, 0, 0, 0, hrctl_cmd_status, "",
	 "tables, regions, store files, memstore, sequence id"},
	{"list", HRCTL_NEED_SERVER, 0, 0, 0, hrctl_cmd_list, "", "the tables"},
	{"describe", HRCTL_NEED_SERVER, 1, 1, 0, hrctl_cmd_describe, "TABLE",
	 "a table's families and their settings"},
	{"create", HRCTL_NEED_SERVER, 2, -1, 0, hrctl_cmd_create,
	 "TABLE FAMILY[,FAMILY...] [FAMILY:KEY=VALUE...]",
	 "create a table (keys: max_versions ttl_ms block_size bloom keep_deleted_cells "
	 "compression)"},
	{"alter", HRCTL_NEED_SERVER, 3, -1, 0, hrctl_cmd_alter, "TABLE FAMILY KEY=VALUE...",
	 "change a family's settings (max_versions ttl_ms block_size bloom compression "
	 "keep_deleted_cells); new files use them from the next flush or compaction"},
	{"drop", HRCTL_NEED_SERVER, 1, 1, HRCTL_F_FORCE, hrctl_cmd_drop, "TABLE [--force]",
	 "drop a table and its data (a table with rows only with --force)"},
	{"regions", HRCTL_NEED_SERVER, 1, 1, 0, hrctl_cmd_regions, "TABLE",
	 "a table's regions: key range, stores, files, sequence ids"},
	{"flush", HRCTL_NEED_SERVER, 0, 1, HRCTL_F_ALL, hrctl_cmd_flush, "TABLE|--all",
	 "write the memstores (the WAL's edits) to store files"},
	{"compact", HRCTL_NEED_SERVER, 1, 1, HRCTL_F_MAJOR, hrctl_cmd_compact,
	 "[--major] TABLE", "compact every store of the table (--major: into one file each)"},
	{"split", HRCTL_NEED_SERVER, 1, 2, 0, hrctl_cmd_split, "TABLE [ROW]",
	 "split the region holding ROW at ROW (without ROW: every region at its middle row)"},
	{"snapshot", HRCTL_NEED_SERVER, 2, 2, 0, hrctl_cmd_snapshot, "TABLE NAME",
	 "take a snapshot of the table (flushes it; no data is copied)"},
	{"list_snapshots", HRCTL_NEED_SERVER, 0, 1, 0, hrctl_cmd_list_snapshots, "[TABLE]",
	 "the snapshots (of one table): time, regions, files, bytes"},
	{"delete_snapshot", HRCTL_NEED_SERVER, 2, 2, 0, hrctl_cmd_delete_snapshot, "TABLE NAME",
	 "delete a snapshot (its archived files go unless another one uses them)"},
	{"clone_snapshot", HRCTL_NEED_SERVER, 3, 3, 0, hrctl_cmd_clone_snapshot,
	 "TABLE SNAPSHOT NEW_TABLE", "a new table from a snapshot, sharing its files (no copy)"},
	{"restore_snapshot", HRCTL_NEED_SERVER, 2, 2, 0, hrctl_cmd_restore_snapshot,
	 "TABLE SNAPSHOT", "bring the table back to its snapshot (later writes are discarded)"},
	{"export_snapshot", HRCTL_NEED_SERVER, 3, 3, 0, hrctl_cmd_export_snapshot,
	 "TABLE SNAPSHOT DIR", "write the snapshot to a new directory: store files and a checksummed manifest"},
	{"import_snapshot", HRCTL_NEED_SERVER, 2, 2, 0, hrctl_cmd_import_snapshot, "DIR NEW_TABLE",
	 "a new table from an exported snapshot (every checksum verified)"},
	{"verify", HRCTL_NEED_DIR, 0, 0, HRCTL_F_REPAIR, hrctl_cmd_verify, "[--repair]",
	 "check LMDB against the disk, every CRC, region coverage (--repair: move orphans to lost/)"},
	{"sfile dump", HRCTL_NEED_NONE, 1, 1, HRCTL_F_CELLS, hrctl_cmd_sfile_dump,
	 "FILE [--cells]", "a store file's trailer, index, bloom, keys, counts (and cells)"},
	{"wal dump", HRCTL_NEED_NONE, 1, 1, 0, hrctl_cmd_wal_dump, "SEGMENT",
	 "a WAL segment's records: sequence id, table, row, cells"},
	{"metrics", HRCTL_NEED_SERVER, 0, 0, 0, hrctl_cmd_metrics, "",
	 "the engine's metrics, Prometheus text format (offline: of the engine hregionctl\n"
	 "      opened, counters from zero; a live daemon's need the control socket, or\n"
	 "      /.hregionfs/metrics and metrics_listen)"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static hrctl_out *g_out; /* for hrctl_fail */

int hrctl_fail(hrctl *c, int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "hregionctl: %s\n", msg);
	hrctl_out *o = c && c->out ? c->out : g_out;
	if (o)
		hrctl_out_error(o, msg, code);
	return code;
}

int hrctl_code(int err)
{
	switch (err) {
	case 0:
		return HRCTL_OK;
	case -ENOENT:
	case -EEXIST:
	case -ENOTEMPTY:
	case -EINVAL:
		return HRCTL_PROBLEM;
	case -EBUSY:
		return HRCTL_BUSY;
	default:
		return HRCTL_ERROR;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hregionctl [-c CONFIG] [-o KEY=VALUE[,...]] [--json] COMMAND [ARGS]\n"
		"\n"
		"Works on a data directory that no hregionfs daemon is serving (offline).\n"
		"\n"
		"options:\n"
		"  -c CONFIG         read this ini file (default: ./hregionfs.ini if present)\n"
		"  -o data_dir=DIR   the data directory\n"
		"  -o KEY=VALUE      any key of hregionfs.ini\n"
		"  --json            print JSON instead of text\n"
		"  --help, --version\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %s %s\n      %s\n", cmds[i].name, cmds[i].usage, cmds[i].help);
	fprintf(f, "\n"
		   "exit codes: 0 ok; 1 problems found (verify) or refused (non-empty drop\n"
		   "without --force, no such table, table exists); 2 usage; 3 a daemon is\n"
		   "serving the data directory; 4 the data directory is missing or an\n"
		   "engine error.\n");
}

/* The pid holding an flock on path, from /proc/locks (0 if not found). */
static long lock_holder(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	FILE *f = fopen("/proc/locks", "r");
	if (!f)
		return 0;
	char line[512];
	long pid = 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		char kind[32], mode[32], access[32];
		long p;
		unsigned maj, min;
		unsigned long long ino;
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a blocked
		 * waiter's line has "->" after the number */
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %31s %31s %31s %ld %x:%x:%llu", kind, mode, access, &p, &maj,
			   &min, &ino) == 7 &&
		    strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev))
			pid = p;
	}
	fclose(f);
	return pid;
}

/* HRCTL_BUSY with the message, if the lock file is held by someone. */
static int busy_check(hrctl *c, const char *lock)
{
	int fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no lock file yet: nobody holds it */
	int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* releases the probe's lock, if it got it */
	if (!held)
		return 0;
	return -1;
}

static int busy_fail(hrctl *c, const char *lock)
{
	long pid = lock_holder(lock);
	if (pid > 0)
		return hrctl_fail(c, HRCTL_BUSY, "a daemon is serving %s (pid %ld)", c->cfg.data_dir,
				  pid);
	return hrctl_fail(c, HRCTL_BUSY, "a daemon is serving %s (its lock file is held)",
			  c->cfg.data_dir);
}

static int absolutize(char *path, size_t len)
{
	if (path[0] == '/')
		return 0;
	char cwd[PATH_MAX], buf[PATH_MAX];
	while (path[0] == '.' && path[1] == '/')
		memmove(path, path + 2, strlen(path + 2) + 1);
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= sizeof(buf) ||
	    strlen(buf) >= len)
		return -ENAMETOOLONG;
	strcpy(path, buf);
	return 0;
}

/* Applies "-o KEY=VALUE[,KEY=VALUE...]"; 1 if log_level was set. */
static int apply_o(hr_config *cfg, char *arg, int *log_set)
{
	char err[512];
	for (char *save = NULL, *kv = strtok_r(arg, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			fprintf(stderr, "hregionctl: -o %s: expected KEY=VALUE\n", kv);
			return -EINVAL;
		}
		*eq = '\0';
		if (hr_config_set(cfg, kv, eq + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "hregionctl: -o %s=%s: %s\n", kv, eq + 1, err);
			return -EINVAL;
		}
		if (strcmp(kv, "log_level") == 0)
			*log_set = 1;
	}
	return 0;
}

static int run(hrctl *c, const hrctl_cmd *cmd, int argc, char **argv)
{
	char lock[PATH_MAX], meta[PATH_MAX], mdb[PATH_MAX + 16];
	struct stat st;
	int code, token = -1;
	if (cmd->needs == HRCTL_NEED_NONE)
		return cmd->fn(c, argc, argv);
	hr_fname_lock(c->cfg.data_dir, lock, sizeof(lock));
	hr_fname_meta_dir(c->cfg.data_dir, meta, sizeof(meta));
	snprintf(mdb, sizeof(mdb), "%s/data.mdb", meta);
	/* an operator's typo must not create a new data directory */
	if (stat(mdb, &st) < 0)
		return hrctl_fail(c, HRCTL_ERROR, "%s: not an hregionfs data directory (no %s)",
				  c->cfg.data_dir, mdb);
	if (busy_check(c, lock) < 0)
		return busy_fail(c, lock);
	if (cmd->needs == HRCTL_NEED_SERVER) {
		/* test hook: the disk freezes after N durable points of the
		 * command, and the process then dies by SIGKILL (a kill -9 at
		 * exactly that point, without a timing race) */
		const char *crash = getenv("HREGIONCTL_TEST_CRASH_AFTER");
		hr_io *fio = NULL;
		if (crash && *crash && hr_io_fault_new(hr_io_posix(), &fio) < 0)
			return hrctl_fail(c, HRCTL_ERROR, "out of memory");
		int rc = hr_server_open_io(&c->cfg, fio, &c->srv);
		if (rc < 0)
			hr_io_destroy(fio);
		if (rc == -EBUSY)
			return busy_fail(c, lock);
		if (rc < 0)
			return hrctl_fail(c, HRCTL_ERROR, "cannot open %s: %s", c->cfg.data_dir,
					  strerror(-rc));
		if (fio)
			hr_io_fault_crash_after(fio, strtoull(crash, NULL, 10));
		code = cmd->fn(c, argc, argv);
		if (fio && hr_io_fault_crashed(fio)) {
			fprintf(stderr, "hregionctl: test hook: crashed after %s durable points\n",
				crash);
			fflush(NULL);
			kill(getpid(), SIGKILL);
		}
		rc = hr_server_close(c->srv);
		c->srv = NULL;
		hr_io_destroy(fio);
		if (rc < 0 && code == HRCTL_OK)
			code = hrctl_fail(c, HRCTL_ERROR, "closing %s: %s", c->cfg.data_dir,
					  strerror(-rc));
		return code;
	}
	/* HRCTL_NEED_DIR: the lock and LMDB, no recovery (it would repair) */
	c->io = hr_io_posix();
	int rc = hr_io_lock(c->io, lock, &token);
	if (rc == -EBUSY)
		return busy_fail(c, lock);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "%s: cannot lock: %s", lock, strerror(-rc));
	rc = hr_meta_open(meta, c->io, &c->meta);
	if (rc < 0) {
		hr_io_unlock(c->io, token);
		return hrctl_fail(c, HRCTL_ERROR, "%s: cannot open LMDB: %s", meta, strerror(-rc));
	}
	code = cmd->fn(c, argc, argv);
	hr_meta_close(c->meta);
	c->meta = NULL;
	hr_io_unlock(c->io, token);
	return code;
}

static const struct {
	const char *name;
	unsigned flag;
} flag_names[] = {
	{"--force", HRCTL_F_FORCE},   {"--major", HRCTL_F_MAJOR}, {"--all", HRCTL_F_ALL},
	{"--repair", HRCTL_F_REPAIR}, {"--cells", HRCTL_F_CELLS},
};

int main(int argc, char *argv[])
{
	static hrctl c;
	char err[512];
	const char *config = NULL;
	char **pos = calloc((size_t)argc + 1, sizeof(char *));
	char **opts = calloc((size_t)argc + 1, sizeof(char *));
	int npos = 0, nopts = 0, json = 0, log_set = 0, dashdash = 0, code = HRCTL_USAGE;
	unsigned flags = 0;
	if (!pos || !opts) {
		fprintf(stderr, "hregionctl: out of memory\n");
		return HRCTL_ERROR;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = argv[i];
			continue;
		}
		size_t f;
		for (f = 0; f < sizeof(flag_names) / sizeof(flag_names[0]); f++)
			if (strcmp(a, flag_names[f].name) == 0)
				break;
		if (f < sizeof(flag_names) / sizeof(flag_names[0])) {
			flags |= flag_names[f].flag;
		} else if (strcmp(a, "--") == 0) {
			dashdash = 1;
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			code = HRCTL_OK;
			goto out;
		} else if (strcmp(a, "--version") == 0) {
			printf("hregionctl %s\n", HR_VERSION_STRING);
			code = HRCTL_OK;
			goto out;
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "-o") == 0) && i + 1 < argc) {
			if (a[1] == 'c')
				config = argv[++i];
			else
				opts[nopts++] = argv[++i];
		} else if (strncmp(a, "-o", 2) == 0 && a[2]) {
			opts[nopts++] = argv[i] + 2;
		} else {
			fprintf(stderr, "hregionctl: unknown option '%s' (try --help)\n", a);
			goto out;
		}
	}
	if (npos == 0) {
		usage(stderr);
		goto out;
	}
	/* two-word commands: "sfile dump", "wal dump" */
	const hrctl_cmd *cmd = NULL;
	int words = 1;
	for (size_t i = 0; i < NCMDS && !cmd; i++) {
		const char *sp = strchr(cmds[i].name, ' ');
		if (!sp && strcmp(cmds[i].name, pos[0]) == 0) {
			cmd = &cmds[i];
		} else if (sp && npos >= 2 && strlen(pos[0]) == (size_t)(sp - cmds[i].name) &&
			   strncmp(cmds[i].name, pos[0], (size_t)(sp - cmds[i].name)) == 0 &&
			   strcmp(sp + 1, pos[1]) == 0) {
			cmd = &cmds[i];
			words = 2;
		}
	}
	if (!cmd) {
		fprintf(stderr, "hregionctl: unknown command '%s%s%s' (try --help)\n", pos[0],
			npos > 1 && (strcmp(pos[0], "sfile") == 0 || strcmp(pos[0], "wal") == 0)
				? " "
				: "",
			npos > 1 && (strcmp(pos[0], "sfile") == 0 || strcmp(pos[0], "wal") == 0)
				? pos[1]
				: "");
		goto out;
	}
	int nargs = npos - words;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args) ||
	    (flags & ~cmd->flags)) {
		fprintf(stderr, "hregionctl: usage: hregionctl %s %s\n", cmd->name, cmd->usage);
		goto out;
	}
	c.force = !!(flags & HRCTL_F_FORCE);
	c.major = !!(flags & HRCTL_F_MAJOR);
	c.all = !!(flags & HRCTL_F_ALL);
	c.repair = !!(flags & HRCTL_F_REPAIR);
	c.cells = !!(flags & HRCTL_F_CELLS);

	hr_config_defaults(&c.cfg);
	if (config || access("hregionfs.ini", F_OK) == 0) {
		const char *path = config ? config : "hregionfs.ini";
		if (hr_config_load(&c.cfg, path, err, sizeof(err)) < 0) {
			fprintf(stderr, "hregionctl: %s\n", err[0] ? err : path);
			goto out;
		}
	}
	for (int i = 0; i < nopts; i++)
		if (apply_o(&c.cfg, opts[i], &log_set) < 0)
			goto out;
	if (hr_config_validate(&c.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "hregionctl: %s\n", err);
		goto out;
	}
	if (absolutize(c.cfg.data_dir, sizeof(c.cfg.data_dir)) < 0) {
		fprintf(stderr, "hregionctl: data directory '%s': path too long\n", c.cfg.data_dir);
		goto out;
	}
	/* the engine's info lines (opened, replayed) are not the tool's
	 * output; warnings and errors still reach stderr */
	hr_log_set_level(log_set ? c.cfg.log_level
				 : (c.cfg.log_level < HR_LOG_WARN ? c.cfg.log_level : HR_LOG_WARN));
	c.out = g_out = hrctl_out_new(stdout, json);
	if (!c.out) {
		fprintf(stderr, "hregionctl: out of memory\n");
		code = HRCTL_ERROR;
		goto out;
	}
	code = run(&c, cmd, nargs, pos + words);
	hrctl_out_free(c.out);
out:
	free(pos);
	free(opts);
	return code;
}
