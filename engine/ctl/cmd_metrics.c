/* cmd_metrics.c — metrics: the registry of the server the command was
 * given, in the Prometheus text format (hregionfs.h "metrics"). Offline
 * that is the engine hregionctl opened: its gauges (tables, regions, store
 * files, memstore after the WAL replay) are the directory's, its counters
 * count only this run. Given a daemon's server (the control socket), the
 * same function prints the live figures. */
#include <stdlib.h>
#include <string.h>

#include "ctl/hrctl.h"

int hrctl_cmd_metrics(hrctl *c, int argc, char **argv)
{
	char *text;
	size_t len;
	int rc = hr_metrics_render(hr_server_metrics(c->srv), &text, &len);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "metrics: %s", strerror(-rc));
	hrctl_out_text(c->out, "metrics", text, len);
	free(text);
	return HRCTL_OK;
}
