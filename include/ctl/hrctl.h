/*
 * hrctl.h — hregionctl, the operator's tool (engine/ctl/): HBase shell's
 * admin commands, hbck (verify) and the HFile / WAL pretty-printers, on a
 * data directory that no daemon is serving.
 *
 * Shape (so that a control socket can be added without touching the
 * commands): main.c parses the command line and the configuration, picks
 * the command from one table (hrctl_cmds), gives it what it says it needs
 * (HRCTL_NEED_SERVER: an open hr_server; HRCTL_NEED_DIR: the data directory
 * locked and its LMDB open, without the recovery an hr_server_open makes;
 * HRCTL_NEED_NONE: nothing, the command reads the files it is given), runs
 * it and maps its result to the exit code. A command writes everything
 * through one printer (hrctl_out), which renders text for people or JSON
 * for scripts; a daemon answering over a socket would hand the command its
 * own hr_server and a printer writing to the connection.
 *
 * Exit codes (README, "hregionctl"): HRCTL_OK 0; HRCTL_PROBLEM 1 (verify
 * found problems, or the command was refused: a non-empty drop without
 * --force, an existing or missing table); HRCTL_USAGE 2; HRCTL_BUSY 3 (a
 * daemon holds the data directory's lock); HRCTL_ERROR 4 (the data
 * directory is missing or unreadable, or the engine failed).
 *
 * Single-threaded: one command per process.
 */
#ifndef HRCTL_H
#define HRCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/hr_io.h"
#include "engine/hr_kv.h"
#include "engine/hr_meta.h"
#include "hr_config.h"
#include "hregionfs.h"

enum { HRCTL_OK = 0, HRCTL_PROBLEM = 1, HRCTL_USAGE = 2, HRCTL_BUSY = 3, HRCTL_ERROR = 4 };

/* ---- the printer (out.c) ---------------------------------------------------
 * One document per command. JSON: a root object; objects, lists and fields
 * nest as called. Text: fields at the top level are "key value" lines; an
 * object (hrctl_out_begin with a label) is one line "label field..." with
 * its fields as " key=value" (hrctl_out_name: the bare value), indented two
 * spaces per nesting level; lists only group, in text.
 * Strings: JSON escapes '"', '\\' and control bytes (\u00XX); other bytes
 * pass through (names and paths are UTF-8). Binary keys and values
 * (hrctl_out_bytes): JSON strings whose code points U+0000..U+00FF are the
 * bytes (printable ASCII as itself, every other byte \u00XX), so a script
 * gets the bytes back with .encode('latin-1'); text uses HBase's
 * toStringBinary: printable ASCII as itself, any other byte, '\\' and '"'
 * and space as \xHH (hrctl_parse_binary reads that back). */
typedef struct hrctl_out hrctl_out;

hrctl_out *hrctl_out_new(FILE *f, int json);
/* Closes the JSON document (and every object still open); frees. */
void hrctl_out_free(hrctl_out *o);
int hrctl_out_json(const hrctl_out *o);
/* key: the field name in the enclosing object (NULL inside a list);
 * label: the first word of its text line. */
void hrctl_out_begin(hrctl_out *o, const char *key, const char *label);
void hrctl_out_end(hrctl_out *o);
void hrctl_out_list(hrctl_out *o, const char *key);
void hrctl_out_list_end(hrctl_out *o);
void hrctl_out_str(hrctl_out *o, const char *key, const char *s);
/* A string shown bare in text (the object's identity: a name, a path). */
void hrctl_out_name(hrctl_out *o, const char *key, const char *s);
void hrctl_out_bytes(hrctl_out *o, const char *key, const void *p, size_t n);
void hrctl_out_u64(hrctl_out *o, const char *key, uint64_t v);
void hrctl_out_i64(hrctl_out *o, const char *key, int64_t v);
void hrctl_out_bool(hrctl_out *o, const char *key, int v);
/* A document of its own: text, the bytes as they are (on lines of their
 * own); JSON, the string field key. */
void hrctl_out_text(hrctl_out *o, const char *key, const char *text, size_t len);
/* A string element of a list (JSON) / a word on the current line (text). */
void hrctl_out_item(hrctl_out *o, const char *s);

/* JSON: closes whatever is open and adds "error": msg, "exit": code to
 * the root object (text: nothing; the message goes to stderr). */
void hrctl_out_error(hrctl_out *o, const char *msg, int code);

/* Reads a toStringBinary spelling (\xHH escapes) into a malloc'd buffer. */
int hrctl_parse_binary(const char *s, uint8_t **out, size_t *len);

/* ---- a command's context ---------------------------------------------------- */

typedef struct hrctl {
	hr_config cfg;
	hrctl_out *out;
	hr_server *srv;		/* HRCTL_NEED_SERVER */
	hr_meta *meta;		/* HRCTL_NEED_DIR */
	hr_io *io;		/* HRCTL_NEED_DIR: the seam the checks read through */
	int force;		/* --force */
	int major;		/* --major */
	int all;		/* --all */
	int repair;		/* --repair */
	int cells;		/* --cells */
} hrctl;

/* Reports an error: "hregionctl: ..." on stderr, and the "error" field of
 * the JSON document. Returns code, for `return hrctl_fail(...)`. */
int hrctl_fail(hrctl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The exit code for an engine error (-ENOENT: PROBLEM, ...). */
int hrctl_code(int err);

enum { HRCTL_NEED_NONE = 0, HRCTL_NEED_SERVER = 1, HRCTL_NEED_DIR = 2 };
/* The command flags a command accepts (any other is a usage error). */
enum {
	HRCTL_F_FORCE = 1u << 0,
	HRCTL_F_MAJOR = 1u << 1,
	HRCTL_F_ALL = 1u << 2,
	HRCTL_F_REPAIR = 1u << 3,
	HRCTL_F_CELLS = 1u << 4,
};

typedef struct hrctl_cmd {
	const char *name;	/* "sfile dump" for two-word commands */
	int needs;
	int min_args, max_args;	/* positional arguments after the name (-1: any) */
	unsigned flags;		/* HRCTL_F_* it accepts */
	int (*fn)(hrctl *c, int argc, char **argv);
	const char *usage;	/* arguments, for --help */
	const char *help;	/* one line */
} hrctl_cmd;

/* cmd_schema.c */
int hrctl_cmd_list(hrctl *c, int argc, char **argv);
int hrctl_cmd_describe(hrctl *c, int argc, char **argv);
int hrctl_cmd_create(hrctl *c, int argc, char **argv);
int hrctl_cmd_alter(hrctl *c, int argc, char **argv);
int hrctl_cmd_drop(hrctl *c, int argc, char **argv);
/* cmd_admin.c */
int hrctl_cmd_status(hrctl *c, int argc, char **argv);
int hrctl_cmd_regions(hrctl *c, int argc, char **argv);
int hrctl_cmd_flush(hrctl *c, int argc, char **argv);
int hrctl_cmd_compact(hrctl *c, int argc, char **argv);
int hrctl_cmd_split(hrctl *c, int argc, char **argv);
/* cmd_snapshot.c */
int hrctl_cmd_snapshot(hrctl *c, int argc, char **argv);
int hrctl_cmd_list_snapshots(hrctl *c, int argc, char **argv);
int hrctl_cmd_delete_snapshot(hrctl *c, int argc, char **argv);
int hrctl_cmd_clone_snapshot(hrctl *c, int argc, char **argv);
int hrctl_cmd_restore_snapshot(hrctl *c, int argc, char **argv);
int hrctl_cmd_export_snapshot(hrctl *c, int argc, char **argv);
int hrctl_cmd_import_snapshot(hrctl *c, int argc, char **argv);
/* cmd_metrics.c */
int hrctl_cmd_metrics(hrctl *c, int argc, char **argv);
/* cmd_verify.c */
int hrctl_cmd_verify(hrctl *c, int argc, char **argv);
/* cmd_dump.c */
int hrctl_cmd_sfile_dump(hrctl *c, int argc, char **argv);
int hrctl_cmd_wal_dump(hrctl *c, int argc, char **argv);
/* Prints one cell as an object labelled "cell": family (when not NULL),
 * row (when with_row), qualifier, ts, type, seq (when with_seq), value and
 * the tag area's length (when with_value). */
void hrctl_out_cell(hrctl_out *o, const char *family, const hr_kv *kv, int with_row,
		    int with_seq, int with_value);

#endif
