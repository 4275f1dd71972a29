/* meta_dir.c — a closed data directory's metadata for offline tools
 * (hr_meta.h, hr_meta_dir_*): the same storage choice as hr_server_open. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/hr_fname.h"
#include "engine/hr_io_rados.h"
#include "engine/hr_meta.h"
#include "hr_config.h"
#include "hr_log.h"

int hr_meta_dir_exists(const hr_config *cfg, char *what, size_t len)
{
	char meta[PATH_MAX];
	struct stat st;
	if (cfg->storage == HR_STORAGE_RADOS) {
		hr_fname_lock(cfg->data_dir, what, len);
	} else {
		hr_fname_meta_dir(cfg->data_dir, meta, sizeof(meta));
		snprintf(what, len, "%s/data.mdb", meta);
	}
	return stat(what, &st) == 0;
}

int hr_meta_dir_open(const hr_config *cfg, hr_meta_dir *d)
{
	char meta[PATH_MAX];
	int rc;
	memset(d, 0, sizeof(*d));
	if (cfg->storage != HR_STORAGE_RADOS) {
		d->io = hr_io_posix();
		hr_fname_meta_dir(cfg->data_dir, meta, sizeof(meta));
		return hr_meta_open(meta, d->io, &d->meta);
	}
	if ((rc = hr_io_rados_open(cfg, &d->rados, &d->own_io)) < 0)
		return rc;
	d->io = d->own_io;
	rados_ioctx_t ioc = hr_rados_ioctx(d->rados);
	/* opening would create it: a namespace without one is no data dir */
	if ((rc = rados_stat(ioc, HR_META_RADOS_OBJECT, NULL, NULL)) < 0 ||
	    (rc = hr_meta_open_rados(ioc, cfg->server_name, d->io, &d->meta)) < 0) {
		if (rc == -ENOENT)
			hr_log_error("meta", "%s: no %s in pool %s, namespace '%s'", cfg->data_dir,
				     HR_META_RADOS_OBJECT, hr_rados_pool(d->rados),
				     hr_rados_namespace(d->rados));
		hr_meta_dir_close(d);
		return rc;
	}
	return 0;
}

void hr_meta_dir_close(hr_meta_dir *d)
{
	hr_meta_close(d->meta);
	hr_io_destroy(d->own_io);
	hr_rados_close(d->rados);
	memset(d, 0, sizeof(*d));
}
