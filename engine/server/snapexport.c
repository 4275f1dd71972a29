/* snapexport.c — HBase's ExportSnapshot, to a plain directory: the store
 * files a snapshot references, copied whole, and a checksummed manifest
 * (format in hr_format.h, "Snapshot exports"; contract in hregionfs.h).
 *
 * Files are copied, not cells: one sequential read and write per file
 * (hr_io_copy), which runs at about the disk's speed. The archived files are
 * opened under snap_mu and copied after it is released: an open descriptor
 * keeps a file's bytes even if the snapshot is deleted meanwhile, and other
 * snapshot operations do not wait for a long copy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/hr_fname.h"
#include "engine/hr_server.h"
#include "engine/hr_snapshot.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

typedef struct src {
	uint64_t id, size;
	int fd;
} src;

static void close_all(hr_io *io, src *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].fd >= 0)
			hr_io_close(io, v[i].fd);
}

/* snap_mu held: a descriptor on each distinct file of m */
static int open_sources(hr_server *srv, const hr_snap_manifest *m, src **out, size_t *nout)
{
	size_t cap = 0, n = 0;
	src *v = NULL;
	for (uint32_t r = 0; r < m->nregions; r++)
		for (uint32_t s = 0; s < m->regions[r].nstores; s++)
			cap += m->regions[r].stores[s].nfiles;
	if (cap && !(v = calloc(cap, sizeof(*v))))
		return -ENOMEM;
	int rc = 0;
	for (uint32_t r = 0; rc == 0 && r < m->nregions; r++)
		for (uint32_t s = 0; rc == 0 && s < m->regions[r].nstores; s++) {
			const hr_snap_store *st = &m->regions[r].stores[s];
			for (uint32_t f = 0; rc == 0 && f < st->nfiles; f++) {
				int dup = 0;
				for (size_t k = 0; k < n && !dup; k++)
					dup = v[k].id == st->files[f].id;
				if (dup)
					continue;
				char path[PATH_MAX];
				v[n].id = st->files[f].id;
				v[n].size = st->files[f].size;
				rc = hr_fname_archive_file(srv->archive_dir, v[n].id, path, sizeof(path));
				if (rc == 0 && (rc = hr_io_open(srv->io, path, HR_IO_RDONLY)) < 0)
					hr_log_error("snapshot", "export: cannot open %s: %s", path,
						     strerror(-rc));
				v[n].fd = rc;
				if (rc >= 0) {
					n++;
					rc = 0;
				}
			}
		}
	if (rc < 0) {
		close_all(srv->io, v, n);
		free(v);
		return rc == -ENOENT ? -EIO : rc;
	}
	*out = v;
	*nout = n;
	return 0;
}

static int sync_file(hr_io *io, const char *tmp, uint64_t id)
{
	char path[PATH_MAX];
	int rc = hr_fname_export_file(tmp, id, path, sizeof(path));
	int fd = rc < 0 ? rc : hr_io_open(io, path, HR_IO_RDONLY);
	if (fd < 0)
		return fd;
	rc = hr_io_sync(io, fd, 0);
	hr_io_close(io, fd);
	if (rc < 0)
		hr_log_error("snapshot", "export: %s: %s", path, strerror(-rc));
	return rc;
}

static int copy_one(hr_io *io, const src *s, const char *tmp, hr_snap_export_file *o)
{
	char path[PATH_MAX];
	uint64_t size;
	int rc = hr_fname_export_file(tmp, s->id, path, sizeof(path));
	if (rc == 0)
		rc = hr_io_size(io, s->fd, &size);
	if (rc == 0 && size != s->size) {
		hr_log_error("snapshot", "export: archived file %016" PRIx64 ".hsf is %" PRIu64
			     " bytes, its manifest says %" PRIu64, s->id, size, s->size);
		rc = -EIO;
	}
	if (rc < 0)
		return rc;
	int fd = hr_io_open(io, path, HR_IO_WRONLY | HR_IO_CREATE | HR_IO_EXCL);
	if (fd < 0)
		return fd;
	o->id = s->id;
	o->size = size;
	rc = hr_io_copy(io, s->fd, fd, size, &o->crc);
	hr_io_close(io, fd);
	if (rc < 0)
		hr_log_error("snapshot", "export: %s: %s", path, strerror(-rc));
	return rc;
}

int hr_snapshot_export(hr_server *srv, const char *table, const char *snap, const char *dir)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return -EOPNOTSUPP;
	if (!table || !snap || !dir || !dir[0])
		return -EINVAL;
	hr_io *io = srv->io;
	hr_snap_export x = {0};
	src *v = NULL;
	size_t n = 0;
	uint8_t *man = NULL;
	size_t mlen;
	char tmp[PATH_MAX], parent[PATH_MAX], path[PATH_MAX];
	int rc, made = 0;
	hr_io_attr at;
	uint64_t t0 = hr_mono_ns(), bytes = 0;
	if ((rc = hr_fname_export_tmp(dir, (long)getpid(), tmp, sizeof(tmp))) < 0)
		return rc;
	snprintf(parent, sizeof(parent), "%s", tmp);
	*strrchr(parent, '/') = 0;
	if (!parent[0])
		snprintf(parent, sizeof(parent), "/");
	if (hr_io_stat(io, dir, &at) == 0)
		return -EEXIST;
	pthread_mutex_lock(&srv->snap_mu);
	const hr_snap_manifest *m = hr_snap_catalog_find(srv, table, snap);
	rc = m ? open_sources(srv, m, &v, &n) : -ENOENT;
	if (rc == 0) {
		/* a copy: the catalog's entry may go once snap_mu is released */
		rc = hr_snap_manifest_encode(m, &man, &mlen);
		if (rc == 0)
			rc = hr_snap_manifest_decode(m->table, m->name, man, mlen, &x.m);
		free(man);
		man = NULL;
	}
	pthread_mutex_unlock(&srv->snap_mu);
	if (rc < 0)
		goto out;
	if (n && !(x.files = calloc(n, sizeof(*x.files)))) {
		rc = -ENOMEM;
		goto out;
	}
	hr_io_rmrf(io, tmp); /* a leftover of an earlier export by a process of our pid */
	if ((rc = hr_io_mkdir(io, tmp)) < 0) {
		hr_log_error("snapshot", "export: cannot create %s: %s", tmp, strerror(-rc));
		goto out;
	}
	made = 1;
	for (size_t i = 0; i < n; i++) {
		if ((rc = copy_one(io, &v[i], tmp, &x.files[i])) < 0)
			goto out;
		x.nfiles = (uint32_t)i + 1;
		bytes += x.files[i].size;
	}
	/* synced once all are written: the kernel writes one file back while
	 * the next is read, instead of each fsync waiting in turn */
	for (size_t i = 0; i < n; i++)
		if ((rc = sync_file(io, tmp, v[i].id)) < 0)
			goto out;
	if ((rc = hr_snap_export_encode(&x, &man, &mlen)) < 0 ||
	    (rc = hr_fname_export_manifest(tmp, path, sizeof(path))) < 0 ||
	    (rc = hr_io_write_file(io, path, HR_IO_EXCL, man, mlen)) < 0 || (rc = hr_io_sync_dir(io, tmp)) < 0)
		goto out;
	/* published whole, at once */
	if ((rc = hr_io_rename(io, tmp, dir)) < 0) {
		hr_log_error("snapshot", "export: cannot rename %s to %s: %s", tmp, dir, strerror(-rc));
		goto out;
	}
	made = 0;
	if ((rc = hr_io_sync_dir(io, parent)) < 0)
		goto out;
	double s = (double)(hr_mono_ns() - t0) / 1e9;
	hr_log_info("snapshot", "exported '%s' of '%s' to %s: %zu files, %" PRIu64 " bytes, %.2f s",
		    snap, table, dir, n, bytes, s);
out:
	if (made)
		hr_io_rmrf(io, tmp);
	close_all(io, v, n);
	free(v);
	free(man);
	hr_snap_manifest_free(x.m);
	free(x.files);
	return rc;
}
