#!/usr/bin/env bash
# cluster_down.sh DIR — stops what cluster_up.sh DIR started, by the PIDs it
# wrote (servers first, then the OSD before the monitor, then ZooKeeper):
# SIGTERM, a bounded wait, then SIGKILL. Never touches another process.
# The directory itself is left for the logs; remove it yourself.
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: cluster_down.sh DIR" >&2; exit 1; }
DIR=$1
[[ -d $DIR ]] || exit 0

stop_pidfile() {
	local f=$1 pid i
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$f"
}

for f in "$DIR"/servers/*.pid; do
	[[ -e $f ]] && stop_pidfile "$f"
done
stop_pidfile "$DIR/ceph/osd.pid"
stop_pidfile "$DIR/ceph/mgr.pid"
stop_pidfile "$DIR/ceph/mon.pid"
stop_pidfile "$DIR/zk.pid"
exit 0
