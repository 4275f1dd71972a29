/* host.c — server mode: region open/close/recovery on a shared store
 * (contract in include/engine/hr_host.h). */
#include <errno.h>

#include "engine/hr_host.h"
#include "engine/hr_region.h"

int hr_host_mode(const hr_server *srv) { return srv->cfg.server_name[0] != 0; }

int hr_host_open_region(hr_server *srv, uint64_t region_id, const char *const *recover_from,
			size_t n)
{
	return -ENOSYS;
}

int hr_host_close_region(hr_server *srv, uint64_t region_id) { return -ENOSYS; }

int hr_host_regions(hr_server *srv, uint64_t **ids, size_t *n) { return -ENOSYS; }

int hr_host_table_create(hr_server *srv, const hr_table_schema *schema, uint64_t *region_id)
{
	return -ENOSYS;
}

int hr_host_table_drop(hr_server *srv, const char *table) { return -ENOSYS; }

void hr_host_set_split_hooks(hr_server *srv, hr_host_split_before_fn before,
			     hr_host_split_after_fn after, void *ctx)
{
}

int hr_host_wal_retire(hr_server *srv, const char *dead_server) { return -ENOSYS; }
