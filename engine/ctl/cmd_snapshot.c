/* cmd_snapshot.c — HBase shell's snapshot commands: snapshot, list_snapshots,
 * delete_snapshot, clone_snapshot, restore_snapshot, and ExportSnapshot's
 * export and import (the engine's hregionfs.h, "snapshots"). Plain
 * commands on the server they are given: no state of their own. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl/hrctl.h"

static int snap_fail(hrctl *c, const char *what, int rc, const char *enoent)
{
	const char *why = rc == -ENOENT	  ? enoent
			  : rc == -EEXIST ? "already exists"
			  : rc == -EINVAL ? "not a valid name"
			  : rc == -EIO	  ? "damaged or unreadable (see the log line above)"
			  : rc == -EBUSY  ? "the table's writes could not be held back"
					  : strerror(-rc);
	return hrctl_fail(c, rc == -EIO ? HRCTL_PROBLEM : hrctl_code(rc), "%s: %s", what, why);
}

int hrctl_cmd_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_create(c->srv, argv[0], argv[1]);
	if (rc < 0) {
		char what[600];
		snprintf(what, sizeof(what), "snapshot %s %s", argv[0], argv[1]);
		return snap_fail(c, what, rc, "no such table");
	}
	hrctl_out_begin(c->out, "snapshot", "snapshot");
	hrctl_out_name(c->out, "table", argv[0]);
	hrctl_out_str(c->out, "name", argv[1]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

int hrctl_cmd_list_snapshots(hrctl *c, int argc, char **argv)
{
	hr_snapshot_info *v;
	size_t n;
	int rc = hr_snapshot_list(c->srv, argc ? argv[0] : NULL, &v, &n);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "list_snapshots: %s", strerror(-rc));
	hrctl_out_list(c->out, "snapshots");
	for (size_t i = 0; i < n; i++) {
		hrctl_out_begin(c->out, NULL, "snapshot");
		hrctl_out_name(c->out, "table", v[i].table);
		hrctl_out_str(c->out, "name", v[i].name);
		hrctl_out_i64(c->out, "time_ms", v[i].time_ms);
		hrctl_out_u64(c->out, "seq", v[i].seq);
		hrctl_out_u64(c->out, "regions", v[i].regions);
		hrctl_out_u64(c->out, "files", v[i].files);
		hrctl_out_u64(c->out, "bytes", v[i].bytes);
		hrctl_out_u64(c->out, "shared_bytes", v[i].shared_bytes);
		hrctl_out_end(c->out);
	}
	hrctl_out_list_end(c->out);
	free(v);
	return HRCTL_OK;
}

int hrctl_cmd_delete_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_delete(c->srv, argv[0], argv[1]);
	if (rc < 0) {
		char what[600];
		snprintf(what, sizeof(what), "delete_snapshot %s %s", argv[0], argv[1]);
		return snap_fail(c, what, rc, "no such snapshot");
	}
	hrctl_out_begin(c->out, "deleted", "deleted");
	hrctl_out_name(c->out, "table", argv[0]);
	hrctl_out_str(c->out, "name", argv[1]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

int hrctl_cmd_clone_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_clone(c->srv, argv[0], argv[1], argv[2]);
	if (rc < 0) {
		char what[900];
		snprintf(what, sizeof(what), "clone_snapshot %s %s %s%s", argv[0], argv[1], argv[2],
			 rc == -EEXIST ? " (the new table)" : "");
		return snap_fail(c, what, rc, "no such snapshot");
	}
	hrctl_out_begin(c->out, "cloned", "cloned");
	hrctl_out_name(c->out, "table", argv[2]);
	hrctl_out_str(c->out, "from_table", argv[0]);
	hrctl_out_str(c->out, "snapshot", argv[1]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

int hrctl_cmd_restore_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_restore(c->srv, argv[0], argv[1]);
	if (rc < 0) {
		char what[600];
		snprintf(what, sizeof(what), "restore_snapshot %s %s", argv[0], argv[1]);
		return snap_fail(c, what, rc, "no such table or snapshot");
	}
	hrctl_out_begin(c->out, "restored", "restored");
	hrctl_out_name(c->out, "table", argv[0]);
	hrctl_out_str(c->out, "snapshot", argv[1]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

/* The engine's -ENOENT of an export means a missing snapshot or a missing
 * parent of the target; the operator needs to know which. */
static int parent_exists(const char *dir)
{
	char buf[PATH_MAX];
	struct stat st;
	if (strlen(dir) >= sizeof(buf))
		return 1;
	strcpy(buf, dir);
	return stat(dirname(buf), &st) == 0 && S_ISDIR(st.st_mode);
}

int hrctl_cmd_export_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_export(c->srv, argv[0], argv[1], argv[2]);
	if (rc < 0) {
		char what[PATH_MAX + 600];
		int no_parent = rc == -ENOENT && !parent_exists(argv[2]);
		snprintf(what, sizeof(what), "export_snapshot %s %s %s%s", argv[0], argv[1], argv[2],
			 rc == -EEXIST ? " (the directory)" : "");
		return snap_fail(c, what, rc,
				 no_parent ? "the directory's parent does not exist"
					   : "no such snapshot");
	}
	hrctl_out_begin(c->out, "exported", "exported");
	hrctl_out_name(c->out, "dir", argv[2]);
	hrctl_out_str(c->out, "table", argv[0]);
	hrctl_out_str(c->out, "snapshot", argv[1]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}

int hrctl_cmd_import_snapshot(hrctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = hr_snapshot_import(c->srv, argv[0], argv[1]);
	if (rc < 0) {
		char what[PATH_MAX + 600];
		snprintf(what, sizeof(what), "import_snapshot %s %s%s", argv[0], argv[1],
			 rc == -EEXIST ? " (the new table)" : "");
		return snap_fail(c, what, rc, "no such directory");
	}
	hrctl_out_begin(c->out, "imported", "imported");
	hrctl_out_name(c->out, "table", argv[1]);
	hrctl_out_str(c->out, "dir", argv[0]);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}
