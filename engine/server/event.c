/* event.c — table events for front ends that cache (contract in
 * hregionfs.h, "table events"). */
#include "engine/hr_server.h"

void hr_server_set_table_events(hr_server *srv, hr_table_event_fn fn, void *ctx)
{
	srv->table_events_ctx = ctx;
	srv->table_events = fn;
}

void hr_server_notify_table(hr_server *srv, const char *table, int event)
{
	if (srv->table_events)
		srv->table_events(srv->table_events_ctx, table, event);
}
