#!/usr/bin/env bats
# Fencing (README "Cluster mode"): a server that stops (SIGSTOP: a long
# pause, a partition) loses its ZooKeeper session; the master blocklists
# its RADOS client before its regions reopen elsewhere replaying its WAL.
# When the paused server resumes it may still hold requests: every RADOS
# operation it tries is refused, so it acknowledges nothing more and says
# it was fenced; every put whose close returned 0 reads back; nothing it
# would have written after the fence is there.
#
# HREGIONFS_TEST_HOLD_EXPIRY_MS (a test hook of hregionfs-server) keeps a
# server whose session expired serving until RADOS refuses it, as one that
# has not noticed its expiry yet: the window fencing closes, held open on
# purpose instead of racing the expiry notice against a request.

load cluster_helpers

setup_file() {
	export HR_SERVER_OPTS=zk_session_timeout_ms=4000
	export HREGIONFS_TEST_HOLD_EXPIRY_MS=60000
	cluster_setup_file
}

# recv_queued PORT — bytes waiting in the receive queues of PORT's
# connections (a stopped server does not read; the kernel still queues).
# With a state filter ss prints no State column: Recv-Q is the first.
recv_queued() { ss -Htn state established "sport = :$1" | awk '{ s += $1 } END { print s + 0 }'; }
queued_above() { (($(recv_queued "$1") > $2)); }
exited() { ! pid_alive "$1"; }

@test "SIGSTOP of a region's server under a writer: fenced before its WAL is replayed; on SIGCONT it acknowledges nothing and stops" {
	local old w=$HR_TMP/w m2=$HR_TMP/m2
	old=$(zk ls /regions)
	t mkdir "$M/fence"
	t mkdir -p "$M/fence/ghost/cf"
	tsh 'printf before > "$1"' "$M/fence/ghost/cf/q"
	# the table's one region and its server
	local id victim pid port
	id=$(comm -13 <(printf '%s\n' "$old") <(zk ls /regions))
	[[ -n $id && $(wc -l <<<"$id") == 1 ]] || fail "new regions: '$id'"
	victim=$(zk get "/regions/$id" | awk '$1 == "OPEN" { print $2 }')
	[[ -n $victim ]] || fail "region $id: $(zk get "/regions/$id")"
	pid=$(pid_of_server "$victim")
	port=$(cut -d, -f2 <<<"$victim")
	[[ -n $pid ]] || fail "no process listens for $victim"
	grep -qx "$pid" <(cluster_server_pids) || fail "$pid is not one of the cluster's servers"
	local vlog
	vlog=$(grep -l "serving as $victim " "$HR_CLUSTER_DIR"/log/server-*.log)
	[[ -n $vlog ]] || fail "no log for $victim"

	# a second mount that never retries and waits long: what it sends the
	# stopped server stays there, and its answer is the stopped server's
	mount_client "$m2" retries=0 rpc_timeout_ms=120000
	run t cat "$m2/fence/ghost/cf/q" # caches the region's location
	assert_output before

	mkdir -p "$w"
	local pw
	writer "$M/fence" a "$w/a.log" &
	pw=$!
	bg_track $pw
	wait_until 60 acks_above "$w/a.log" 20 || fail "the writer made no progress"

	local t0 t1
	t0=$(date +%s.%N)
	kill -STOP "$pid"
	wait_until 90 all_open_without "$victim" ||
		fail "regions not all reopened 90 s after SIGSTOP of $victim: $(zk dump /regions)"
	t1=$(date +%s.%N)
	echo "# SIGSTOP to all regions OPEN elsewhere: $(echo "$t1 - $t0" | bc) s" >&3
	# its RADOS client was blocklisted before that (the master's log)
	grep -q "fenced $victim: its RADOS client .* is blocklisted" "$HR_CLUSTER_DIR"/log/server-*.log ||
		fail "no server logged the fence of $victim"

	# a delete through the mount whose cached location is the stopped
	# server (a delete: a failed store would be tried again at release,
	# elsewhere, and land legitimately; a failed unlink is not)
	local q0
	q0=$(recv_queued "$port")
	timeout -k 5 150 python3 - "$m2/fence/ghost/cf/q" "$w/ghost.out" <<'PY' &
import os, sys
path, out = sys.argv[1:3]
try:
    os.unlink(path)
    res = "acked"
except OSError as e:
    res = "failed " + e.strerror
open(out, "w").write(res + "\n")
PY
	local pg=$!
	bg_track $pg
	wait_until 30 queued_above "$port" "$q0" || fail "the delete never reached $victim's socket"
	local acks_at_cont
	acks_at_cont=$(grep -c '^ack' "$w/a.log" || true)

	kill -CONT "$pid"
	wait_until 60 exited "$pid" || fail "$victim still runs 60 s after SIGCONT"
	wait_until 30 exited "$pg" || fail "the delete did not return"
	# (a) it was fenced: RADOS refused it, it said so and stopped
	run grep -E "RADOS refuses this process's operations|fenced: RADOS refuses this server" "$vlog"
	assert_line --partial "RADOS refuses this process's operations"
	assert_line --partial "fenced: RADOS refuses this server's operations"
	# the delete it held was not acknowledged (its WAL write was refused) ...
	run cat "$w/ghost.out"
	assert_output --partial failed
	# (c) ... and did not happen: the cell is still there
	run t cat "$M/fence/ghost/cf/q"
	assert_output before

	# the writer goes on, then (b) every put whose close returned 0 reads back
	wait_until 60 acks_above "$w/a.log" $((acks_at_cont + 20)) ||
		fail "the writer made no progress after SIGCONT"
	touch "$w/stop"
	wait_until 60 exited "$pw" || fail "the writer did not stop"
	echo "# acks: $(grep -c '^ack' "$w/a.log"), refused/EAGAIN: $(grep -c -v '^ack' "$w/a.log" || true)" >&3
	run verify_acked "$M/fence" a "$w/a.log"
	assert_success
	# the writer's failures are refusals, never a wrong value read back
	run grep -E '^bad [0-9]+ read' "$w/a.log"
	assert_output ""
}
