#!/usr/bin/env bash
# cluster_down.sh DIR — stops what cluster_up.sh DIR started, by the PIDs it
# wrote: the servers first (all at once), then the OSD and the manager, then
# the monitor and ZooKeeper; SIGTERM, a bounded wait (HR_CLUSTER_STOP_WAIT
# seconds, 5), then SIGKILL. A PID is signalled only while its command line
# still names DIR (every daemon cluster_up.sh starts is given a path under
# DIR), so a stale PID file whose number the kernel has since given to
# another process never reaches that process. Running it twice, or on a
# directory that holds no cluster, is harmless. The directory itself is left
# for the logs; remove it yourself.
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: cluster_down.sh DIR" >&2; exit 1; }
[[ -d $1 ]] || exit 0
DIR=$(cd "$1" && pwd)
WAIT=${HR_CLUSTER_STOP_WAIT:-5}

# ours PID — true while PID runs a command whose arguments name DIR.
ours() {
	local args
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	args=$(tr "\\0" " " 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ $args == *"$DIR/"* ]]
}

# stop PIDFILE... — TERM every live process of the files, wait for all of
# them together, KILL the ones left, then remove the files.
stop() {
	local f pid pids=() i
	for f in "$@"; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		if ours "$pid"; then
			kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
		fi
	done
	for ((i = 0; i < WAIT * 20 && ${#pids[@]} > 0; i++)); do
		local left=()
		for pid in "${pids[@]}"; do
			ours "$pid" && left+=("$pid")
		done
		pids=("${left[@]}")
		((${#pids[@]} > 0)) && sleep 0.05
	done
	for pid in "${pids[@]}"; do
		ours "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	# A killed process leaves /proc/PID/cmdline readable until it is reaped;
	# wait (bounded) until it is gone so that the ports are free on return.
	for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do
		local left=()
		for pid in "${pids[@]}"; do
			[[ -e /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] && left+=("$pid")
		done
		pids=("${left[@]}")
		((${#pids[@]} > 0)) && sleep 0.05
	done
	rm -f "$@"
}

shopt -s nullglob
stop "$DIR"/servers/*.pid
stop "$DIR/ceph/osd.pid" "$DIR/ceph/mgr.pid" # OSDs before the monitor they report to
stop "$DIR/ceph/mon.pid" "$DIR/zk.pid"
exit 0
