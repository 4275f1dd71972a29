/* snapimport.c — an export directory (hr_format.h, "Snapshot exports")
 * brought into the data directory as a new table (contract in
 * hregionfs.h, "snapshots").
 *
 * The MANIFEST is checked (magic, version, CRC, every file it names listed
 * once), then each file is copied into its new store as <id>.tmp with its
 * CRC32C computed on the way, compared with the manifest's, fsynced and
 * renamed; the stores' directories are synced (hr_snap_build) and ONE LMDB
 * transaction creates the table, its regions and stores. A crash before
 * that commit leaves region directories LMDB does not know, which the next
 * open removes: no table. A bad file stops the import before the commit:
 * what it copied is removed, and nothing is created. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_fname.h"
#include "engine/hr_format.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

typedef struct import_ctx {
	hr_server *srv;
	const char *dir;
	const hr_snap_export *x;
	uint64_t bytes;
} import_ctx;

static const hr_snap_export_file *listed(const hr_snap_export *x, uint64_t id)
{
	for (uint32_t i = 0; i < x->nfiles; i++)
		if (x->files[i].id == id)
			return &x->files[i];
	return NULL;
}

/* hr_snap_place_fn: <dir>/<src>.hsf copied, verified, as the store's <new_id>.hsf */
static int copy_verified(void *ctx, hr_store *st, const hr_snap_file *sf, uint64_t new_id)
{
	import_ctx *c = ctx;
	hr_io *io = c->srv->io;
	char from[PATH_MAX], tmp[PATH_MAX], to[PATH_MAX];
	const hr_snap_export_file *ef = listed(c->x, sf->id);
	uint64_t size = 0;
	uint32_t crc = 0;
	int rc, in = -1, out = -1;
	if ((rc = hr_fname_export_file(c->dir, sf->id, from, sizeof(from))) < 0 ||
	    (rc = hr_store_file_path(st, new_id, 1, tmp, sizeof(tmp))) < 0 ||
	    (rc = hr_store_file_path(st, new_id, 0, to, sizeof(to))) < 0)
		return rc;
	if ((in = hr_io_open(io, from, HR_IO_RDONLY)) < 0) {
		hr_log_error("snapshot", "import: %s: %s", from, strerror(-in));
		return -EIO;
	}
	if ((rc = hr_io_size(io, in, &size)) < 0)
		goto out;
	if (size != ef->size) {
		hr_log_error("snapshot", "import: %s is %" PRIu64 " bytes, the manifest says %" PRIu64
			     ": refused", from, size, ef->size);
		rc = -EIO;
		goto out;
	}
	if ((out = hr_io_open(io, tmp, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_TRUNC | HR_IO_WRITEBACK)) < 0) {
		rc = out;
		goto out;
	}
	if ((rc = hr_io_copy(io, in, out, size, &crc)) < 0)
		goto out;
	if (crc != ef->crc) {
		hr_log_error("snapshot", "import: %s fails its CRC32C (%08x, the manifest says %08x): "
			     "refused", from, crc, ef->crc);
		rc = -EIO;
		goto out;
	}
	if ((rc = hr_io_sync(io, out, 0)) < 0)
		goto out;
	hr_io_close(io, out);
	out = -1;
	rc = hr_io_rename(io, tmp, to);
	c->bytes += size;
out:
	if (in >= 0)
		hr_io_close(io, in);
	if (out >= 0)
		hr_io_close(io, out);
	if (rc < 0)
		hr_io_unlink(io, tmp);
	return rc;
}

/* every file the manifest names is listed, with a size that agrees */
static int check_listed(const hr_snap_export *x, const char *mpath)
{
	const hr_snap_manifest *m = x->m;
	for (uint32_t r = 0; r < m->nregions; r++)
		for (uint32_t s = 0; s < m->regions[r].nstores; s++)
			for (uint32_t f = 0; f < m->regions[r].stores[s].nfiles; f++) {
				const hr_snap_file *sf = &m->regions[r].stores[s].files[f];
				const hr_snap_export_file *ef = listed(x, sf->id);
				if (!ef || ef->size != sf->size) {
					hr_log_error("snapshot", "import: %s: file %016" PRIx64 ".hsf "
						     "is %s: refused", mpath, sf->id,
						     ef ? "listed with another size" : "not listed");
					return -EIO;
				}
			}
	return 0;
}

static int read_manifest(hr_io *io, const char *path, hr_snap_export **out)
{
	uint64_t size = 0;
	uint8_t *buf = NULL;
	int fd = hr_io_open(io, path, HR_IO_RDONLY);
	if (fd < 0) {
		hr_log_error("snapshot", "import: %s: %s (not a complete export)", path,
			     strerror(-fd));
		return fd == -ENOENT ? -EIO : fd;
	}
	int rc = hr_io_size(io, fd, &size);
	if (rc == 0 && (size < 32 || size > HR_EXPORT_MANIFEST_MAX))
		rc = -EIO;
	if (rc == 0 && !(buf = malloc(size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = hr_io_pread_all(io, fd, buf, size, 0);
	hr_io_close(io, fd);
	if (rc == 0)
		rc = hr_snap_export_decode(buf, size, out);
	free(buf);
	if (rc == -EIO || rc == -ENODATA) {
		hr_log_error("snapshot", "import: %s: not a valid export manifest (magic, version, "
			     "length or CRC): refused", path);
		rc = -EIO;
	}
	return rc;
}

int hr_snapshot_import(hr_server *srv, const char *dir, const char *new_table)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!dir || !new_table || !hr_table_name_valid(new_table))
		return -EINVAL;
	char mpath[PATH_MAX];
	hr_snap_export *x = NULL;
	hr_table *nt = NULL;
	uint64_t t0 = hr_mono_ns();
	int rc = hr_fname_export_manifest(dir, mpath, sizeof(mpath));
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&srv->map_lock);
	rc = hr_server_table(srv, new_table) ? -EEXIST : 0;
	pthread_rwlock_unlock(&srv->map_lock);
	if (rc < 0)
		return rc;
	if ((rc = read_manifest(srv->io, mpath, &x)) < 0 || (rc = check_listed(x, mpath)) < 0)
		goto out;
	import_ctx c = {.srv = srv, .dir = dir, .x = x};
	if ((rc = hr_snap_build(srv, x->m, new_table, copy_verified, &c, &nt)) < 0)
		goto out;
	if ((rc = hr_snap_build_commit(srv, nt, NULL)) < 0)
		goto out;
	hr_log_info("snapshot", "imported %s (snapshot '%s' of '%s') as '%s': %u files, %" PRIu64
		    " bytes, %.2f s", dir, x->m->name, x->m->table, new_table, x->nfiles, c.bytes,
		    (double)(hr_mono_ns() - t0) / 1e9);
out:
	hr_snap_export_free(x);
	if (rc == 0)
		hr_server_notify_table(srv, new_table, HR_TABLE_CREATED);
	return rc;
}
