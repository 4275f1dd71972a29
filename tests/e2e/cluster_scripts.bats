#!/usr/bin/env bats
# scripts/cluster_up.sh and cluster_down.sh: two test clusters (ZooKeeper
# and a one-node Ceph, no servers) started at the same time on one host,
# each answering on its own ports; down stops exactly its own daemons, by
# PID, and nothing else; up refuses a directory whose cluster runs.

load cluster_helpers

setup_file() {
	export CA=$BATS_FILE_TMPDIR/a CB=$BATS_FILE_TMPDIR/b
	mkdir -p "$CA" "$CB"
	# Both at once: the free-port choice is what keeps them apart.
	cluster_up_into "$CA" 0 >"$BATS_FILE_TMPDIR/a.last" &
	local pa=$!
	cluster_up_into "$CB" 0 >"$BATS_FILE_TMPDIR/b.last" &
	local pb=$! rc=0
	wait "$pa" || rc=1
	wait "$pb" || rc=1
	return "$rc"
}

teardown_file() {
	[[ -n ${UNRELATED_PID:-} ]] && kill -9 "$UNRELATED_PID" 2>/dev/null
	timeout -k 5 60 "$HR_REPO/scripts/cluster_down.sh" "$CA"
	timeout -k 5 60 "$HR_REPO/scripts/cluster_down.sh" "$CB"
}

setup() { :; }
teardown() {
	[[ -n ${UNRELATED_PID:-} ]] && kill -9 "$UNRELATED_PID" 2>/dev/null
	return 0
}

envof() { (source "$1/env" && eval "echo \"\$$2\""); }

zk_ruok() {
	local hp=$1
	timeout 5 bash -c 'exec 3<>/dev/tcp/${1%:*}/${1#*:} && printf ruok >&3 && cat <&3' _ "$hp"
}

# rados_rt DIR OBJ TEXT — put TEXT as OBJ in DIR's pool and read it back.
rados_put() { printf '%s' "$3" >"$BATS_TEST_TMPDIR/v" && timeout 30 rados -c "$1/ceph.conf" -p hregionfs put "$2" "$BATS_TEST_TMPDIR/v"; }
rados_get() { timeout 30 rados -c "$1/ceph.conf" -p hregionfs get "$2" -; }

# daemon_pids DIR — the PIDs in DIR's PID files.
daemon_pids() {
	local f
	for f in "$1/zk.pid" "$1"/ceph/*.pid "$1"/servers/*.pid; do
		[[ -f $f ]] && cat "$f"
	done
	return 0
}

@test "cluster_up prints cluster=127.0.0.1:PORT/CHROOT last and writes the env and a PID file per daemon" {
	for d in "$CA" "$CB"; do
		run cat "$d.last"
		assert_output --regexp '^cluster=127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]+$'
		[[ $output == "cluster=$(envof "$d" HR_ZK)$(envof "$d" HR_ZK_CHROOT)" ]]
		[[ $(envof "$d" HR_CEPH_CONF) == "$d/ceph.conf" ]]
		[[ $(envof "$d" HR_RADOS_POOL) == hregionfs ]]
		run daemon_pids "$d"
		assert_equal "${#lines[@]}" 4 # zk, mon, mgr, osd
		for p in "${lines[@]}"; do pid_alive "$p"; done
	done
}

@test "both clusters answer on their own ports: ZooKeeper ruok, RADOS put and get" {
	[[ $(envof "$CA" HR_ZK) != "$(envof "$CB" HR_ZK)" ]]
	run zk_ruok "$(envof "$CA" HR_ZK)"
	assert_output imok
	run zk_ruok "$(envof "$CB" HR_ZK)"
	assert_output imok
	rados_put "$CA" obj-a "written to a"
	rados_put "$CB" obj-b "written to b"
	run rados_get "$CA" obj-a
	assert_output "written to a"
	run rados_get "$CB" obj-b
	assert_output "written to b"
	# Two clusters, not one: each misses the other's object.
	run rados_get "$CA" obj-b
	assert_failure
	run rados_get "$CB" obj-a
	assert_failure
}

@test "cluster_up refuses a directory whose cluster runs, and that cluster keeps running" {
	local before
	before=$(daemon_pids "$CA")
	run timeout 60 "$HR_REPO/scripts/cluster_up.sh" "$CA" 0 3>&-
	assert_failure
	assert_output --partial "already holds a running cluster"
	assert_equal "$(daemon_pids "$CA")" "$before"
	run zk_ruok "$(envof "$CA" HR_ZK)"
	assert_output imok
	run rados_get "$CA" obj-a
	assert_output "written to a"
}

@test "cluster_down stops exactly its own PIDs: not another cluster, not a process a stale PID file names" {
	local pids p
	pids=$(daemon_pids "$CA")
	# An unrelated process, and a stale PID file of A that names it (the
	# kernel gave a dead server's PID to someone else).
	setsid sleep 600 </dev/null >/dev/null 2>&1 3>&- &
	UNRELATED_PID=$!
	disown "$UNRELATED_PID" # its kill -9 in teardown is not reported as a job
	echo "$UNRELATED_PID" >"$CA/servers/9.pid"
	run timeout 60 "$HR_REPO/scripts/cluster_down.sh" "$CA"
	assert_success
	for p in $pids; do
		! pid_alive "$p" || fail "daemon $p of cluster A survived cluster_down"
	done
	pid_alive "$UNRELATED_PID" || fail "cluster_down killed an unrelated process"
	[[ ! -e $CA/zk.pid && ! -e $CA/servers/9.pid ]]
	for p in $(daemon_pids "$CB"); do pid_alive "$p"; done
	run zk_ruok "$(envof "$CB" HR_ZK)"
	assert_output imok
	run rados_get "$CB" obj-b
	assert_output "written to b"
}

@test "cluster_down twice, and on a directory that holds nothing, is harmless" {
	run timeout 60 "$HR_REPO/scripts/cluster_down.sh" "$CA"
	assert_success
	run timeout 60 "$HR_REPO/scripts/cluster_down.sh" "$BATS_TEST_TMPDIR/nothing-here"
	assert_success
	run zk_ruok "$(envof "$CB" HR_ZK)"
	assert_output imok
}

@test "a stopped directory starts again as a fresh cluster" {
	run cluster_up_into "$CA" 0
	assert_success
	assert_output --regexp '^cluster=127\.0\.0\.1:[0-9]+/'
	run zk_ruok "$(envof "$CA" HR_ZK)"
	assert_output imok
	run rados_get "$CA" obj-a # memstore: the old cluster's objects are gone
	assert_failure
	rados_put "$CA" obj-a2 "again"
	run rados_get "$CA" obj-a2
	assert_output again
}
