/* main.c — hregionctl's command table (what each command needs: an open
 * server, the locked directory, nothing) and the parsing of a command's
 * words, shared by the program (client.c, which has main()) and the daemon
 * (server.c); contract in hrctl.h.
 *
 *   hregionctl [-c CONFIG] [-o KEY=VALUE[,...]] [--json] COMMAND [ARGS] [FLAGS]
 */
#include <errno.h>
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
	 "TABLE SNAPSHOT DIR", "write the snapshot to a new directory: store files and a checksummed manifest",
	 1u << 2},
	{"import_snapshot", HRCTL_NEED_SERVER, 2, 2, 0, hrctl_cmd_import_snapshot, "DIR NEW_TABLE",
	 "a new table from an exported snapshot (every checksum verified)", 1u << 0},
	{"verify", HRCTL_NEED_DIR, 0, 0, HRCTL_F_REPAIR, hrctl_cmd_verify, "[--repair]",
	 "check LMDB against the disk, every CRC, region coverage (--repair: move orphans to lost/)"},
	{"sfile dump", HRCTL_NEED_NONE, 1, 1, HRCTL_F_CELLS, hrctl_cmd_sfile_dump,
	 "FILE [--cells]", "a store file's trailer, index, bloom, keys, counts (and cells)"},
	{"wal dump", HRCTL_NEED_NONE, 1, 1, 0, hrctl_cmd_wal_dump, "SEGMENT",
	 "a WAL segment's records: sequence id, table, row, cells"},
	{"metrics", HRCTL_NEED_SERVER, 0, 0, 0, hrctl_cmd_metrics, "",
	 "the engine's metrics, Prometheus text format (live: the daemon's; offline: of\n"
	 "      the engine hregionctl opened, counters from zero)"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))
const hrctl_cmd *const hrctl_cmds = cmds;
const size_t hrctl_ncmds = NCMDS;

int hrctl_fail(hrctl *c, int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(c->err ? c->err : stderr, "hregionctl: %s\n", msg);
	if (c->out)
		hrctl_out_error(c->out, msg, code);
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

const char *hrctl_cmd_modes(const hrctl_cmd *cmd)
{
	switch (cmd->needs) {
	case HRCTL_NEED_SERVER:
		return "live, offline";
	case HRCTL_NEED_DIR:
		return "offline";
	default:
		return "anywhere";
	}
}

static const struct {
	const char *name;
	unsigned flag;
} flag_names[] = {
	{"--force", HRCTL_F_FORCE},   {"--major", HRCTL_F_MAJOR}, {"--all", HRCTL_F_ALL},
	{"--repair", HRCTL_F_REPAIR}, {"--cells", HRCTL_F_CELLS},
};

void hrctl_set_flags(hrctl *c, unsigned flags)
{
	c->force = !!(flags & HRCTL_F_FORCE);
	c->major = !!(flags & HRCTL_F_MAJOR);
	c->all = !!(flags & HRCTL_F_ALL);
	c->repair = !!(flags & HRCTL_F_REPAIR);
	c->cells = !!(flags & HRCTL_F_CELLS);
}

void hrctl_parsed_free(hrctl_parsed *p)
{
	free(p->args);
	p->args = NULL;
}

int hrctl_cmd_parse(int nwords, char **words, FILE *err, hrctl_parsed *p)
{
	char **pos = calloc((size_t)nwords + 1, sizeof(char *));
	int npos = 0, dashdash = 0;
	unsigned flags = 0;
	memset(p, 0, sizeof(*p));
	if (!pos) {
		fprintf(err, "hregionctl: out of memory\n");
		return HRCTL_ERROR;
	}
	for (int i = 0; i < nwords; i++) {
		const char *a = words[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = words[i];
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
		} else {
			fprintf(err, "hregionctl: unknown option '%s' (try --help)\n", a);
			goto usage;
		}
	}
	if (npos == 0) {
		fprintf(err, "hregionctl: no command given (try --help)\n");
		goto usage;
	}
	/* two-word commands: "sfile dump", "wal dump" */
	const hrctl_cmd *cmd = NULL;
	int nw = 1;
	for (size_t i = 0; i < NCMDS && !cmd; i++) {
		const char *sp = strchr(cmds[i].name, ' ');
		if (!sp && strcmp(cmds[i].name, pos[0]) == 0) {
			cmd = &cmds[i];
		} else if (sp && npos >= 2 && strlen(pos[0]) == (size_t)(sp - cmds[i].name) &&
			   strncmp(cmds[i].name, pos[0], (size_t)(sp - cmds[i].name)) == 0 &&
			   strcmp(sp + 1, pos[1]) == 0) {
			cmd = &cmds[i];
			nw = 2;
		}
	}
	if (!cmd) {
		int two = npos > 1 && (strcmp(pos[0], "sfile") == 0 || strcmp(pos[0], "wal") == 0);
		fprintf(err, "hregionctl: unknown command '%s%s%s' (try --help)\n", pos[0],
			two ? " " : "", two ? pos[1] : "");
		goto usage;
	}
	int nargs = npos - nw;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args) ||
	    (flags & ~cmd->flags)) {
		fprintf(err, "hregionctl: usage: hregionctl %s %s\n", cmd->name, cmd->usage);
		goto usage;
	}
	memmove(pos, pos + nw, (size_t)nargs * sizeof(char *));
	pos[nargs] = NULL;
	p->cmd = cmd;
	p->args = pos;
	p->nargs = nargs;
	p->flags = flags;
	return HRCTL_OK;
usage:
	free(pos);
	return HRCTL_USAGE;
}
