/*
 * hrctl_server.h — the daemon's side of hregionctl: a control socket in
 * the data directory on which the daemon runs hregionctl's commands with
 * its own hr_server (engine/ctl/server.c; protocol in ctl/hrctl_proto.h).
 * The one header of engine/ctl/ the FUSE layer includes.
 *
 * hrctl_server_start makes <data_dir>/ctl.sock (bound under a temporary
 * name, given its mode, then renamed over any stale socket a crashed
 * daemon left: the caller holds the data directory's lock, so no live
 * daemon owns that one) and starts one thread that accepts connections and
 * runs their commands one at a time. A peer whose credentials
 * (SO_PEERCRED) are neither root nor opts->owner is answered "refused"
 * (exit 5) and logged with its uid and pid. Every read and write on a
 * connection has a deadline, and a malformed request is answered with an
 * error; neither stops the thread. hrctl_server_stop wakes the thread,
 * waits for the command in progress (if any) to finish, joins it and
 * removes the socket; call it before the hr_server closes. Both are called
 * from one thread (the daemon's main).
 */
#ifndef HRCTL_SERVER_H
#define HRCTL_SERVER_H

#include <sys/types.h>

#include "hr_config.h"
#include "hregionfs.h"

typedef struct hrctl_server hrctl_server;

typedef struct hrctl_server_opts {
	uid_t owner;		/* the user who mounted: served, as is root */
	unsigned mode;		/* the socket's mode; 0 = 0600 */
	int request_timeout_ms;	/* to receive a request; 0 = 10 s */
	int response_timeout_ms; /* to send a response; 0 = 30 s */
} hrctl_server_opts;

/* srv and cfg must outlive the server (cfg: the daemon's configuration,
 * data_dir absolute). */
int hrctl_server_start(hr_server *srv, const hr_config *cfg, const hrctl_server_opts *opts,
		       hrctl_server **out);
/* NULL is a no-op. */
void hrctl_server_stop(hrctl_server *s);

#endif
