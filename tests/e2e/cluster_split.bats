#!/usr/bin/env bats
# Cluster mode (issue 11): kill -9 of the master in the middle of a split
# of a region it hosts. The next master (elected through ZooKeeper) finishes
# or rolls back the split: afterwards no region is SPLITTING, every region
# is OPEN on a live server, the table's rows are listed once each and in
# order (no parent and daughter serving the same rows), and every cell whose
# close returned reads back its value.
#
# The crash point is a test hook of hregionfs-server (no timing race):
# HREGIONFS_TEST_CRASH_IN_SPLIT=FILE in its environment makes a server whose
# PID is the first line of FILE raise SIGKILL at the step named by FILE's
# second line, in a split it takes part in (FILE is read at each step):
#   before  /regions/<parent> is SPLITTING, the daughters are not yet in meta
#   after   the daughters are committed in meta, ZooKeeper not yet updated
# Every server gets the variable; only the one whose PID the test writes in
# FILE (the master) crashes. Expects, like cluster.bats, build/hregionfs-server,
# scripts/cluster_servers.sh passing HR_SERVER_OPTS and the environment on,
# and the ZooKeeper layout of ISSUE11.md.

load cluster_helpers

setup_file() {
	export HR_SERVER_OPTS=flush_size=64K
	export HR_SPLIT_ARM=$BATS_FILE_TMPDIR/crash_in_split
	export HREGIONFS_TEST_CRASH_IN_SPLIT=$HR_SPLIT_ARM
	cluster_setup_file
}

teardown() {
	rm -f "$HR_SPLIT_ARM"
	hr_teardown
}

master_name() { zk get /master | awk '{ print $2 }'; }
region_ids() { zk ls /regions; }
no_transition() { ! zk dump /regions | awk '$2 != "OPEN" && $2 != "OFFLINE" { f = 1 } END { exit !f }'; }
settled_without() { no_transition && all_open_or_offline_without "$1"; }
all_open_or_offline_without() {
	local live
	live=$(zk ls /rs) || return 1
	zk dump /regions | awk -v dead="$1" -v live="$live" '
		BEGIN { split(live, l, "\n"); for (i in l) ok[l[i]] = 1 }
		$2 == "OPEN" { n++; if ($3 == dead || !($3 in ok)) bad++ }
		END { exit !(n > 0 && bad == 0) }'
}
new_master() { local m; m=$(master_name 2>/dev/null) && [[ -n $m && $m != "$1" ]]; }

# split_crash STEP — the body of both tests.
split_crash() {
	local step=$1 master mpid before table="" id owner i
	master=$(master_name)
	[[ -n $master ]] || fail "no /master"
	mpid=$(pid_of_server "$master")
	[[ -n $mpid ]] || fail "no process listens for the master $master"
	# A new table whose only region the master hosts.
	before=$(region_ids)
	for i in 1 2 3 4 5 6; do
		t mkdir "$M/sp$step$i"
		wait_until 30 bash -c '[[ -n $(comm -13 <(printf "%s\n" "$1") <(timeout 10 python3 "$2" "$3" ls /regions)) ]]' _ \
			"$before" "$ZKREAD" "${HR_CLUSTER_OPT#cluster=}" || fail "table sp$step$i got no region"
		id=$(comm -13 <(printf '%s\n' "$before") <(region_ids) | head -n 1)
		before=$(region_ids)
		wait_until 30 bash -c '[[ $(timeout 10 python3 "$1" "$2" get /regions/"$3") == OPEN\ * ]]' _ \
			"$ZKREAD" "${HR_CLUSTER_OPT#cluster=}" "$id" || fail "region $id of sp$step$i not OPEN"
		owner=$(zk get "/regions/$id" | awk '{ print $2 }')
		if [[ $owner == "$master" ]]; then table=sp$step$i; break; fi
	done
	[[ -n $table ]] || fail "none of 6 new tables landed on the master $master"
	printf '%s\n%s\n' "$mpid" "$step" >"$HR_SPLIT_ARM"

	local w=$HR_TMP/w pw
	mkdir -p "$w"
	writer "$M/$table" r "$w/r.log" 4000 &
	pw=$!
	bg_track "$pw"
	# 64K flush_size: the table's only region splits at 128K; 4K cells.
	wait_until 120 bash -c '! kill -0 "$1" 2>/dev/null' _ "$mpid" ||
		fail "the master ($mpid) did not crash in a split (is HREGIONFS_TEST_CRASH_IN_SPLIT implemented?)"
	local t0 t1
	t0=$(date +%s.%N)
	wait_until 120 new_master "$master" || fail "no new master 120 s after the old one died"
	wait_until 120 settled_without "$master" ||
		fail "regions did not settle after the master's crash: $(zk dump /regions)"
	t1=$(date +%s.%N)
	echo "# $step: master crash to regions settled: $(echo "$t1 - $t0" | bc) s; $(zk dump /regions | tr '\n' ';')" >&3
	# It died at the hook, not of something else.
	grep -q "test hook: SIGKILL $step a split" "$HR_CLUSTER_DIR"/log/server-*.log ||
		fail "the master died, but not at the hook '$step'; the servers' last log lines: $(tail -n 8 "$HR_CLUSTER_DIR"/log/server-*.log)"
	# Meta has the daughters once 'after' is reached: the split must be
	# finished (the parent's znode gone). Before it, either outcome is right.
	if [[ $step == after ]]; then
		! zk ls /regions | grep -qx "$id" || fail "parent region $id still in /regions after its split committed"
	fi
	local na
	na=$(grep -c '^ack' "$w/r.log" || true)
	wait_until 60 acks_above "$w/r.log" $((na + 10)) || fail "no writes after the split settled; the writer's last lines: $(tail -n 5 "$w/r.log" | tr "\n" ";")"
	touch "$w/stop"
	wait_until 60 bash -c '! kill -0 "$1" 2>/dev/null' _ "$pw" || fail "writer did not stop"

	run grep '^bad' "$w/r.log"
	assert_output ""
	run verify_acked "$M/$table" r "$w/r.log" 4000
	assert_success
	# Each row once, in key order: no two regions serve the same rows.
	run t ls -U "$M/$table"
	assert_success
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" "${#lines[@]}"
	assert_equal "$(printf '%s\n' "${lines[@]}")" "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)"
}

@test "kill -9 of the master before the split's meta commit: the next master rolls back or finishes it" {
	split_crash before
}

@test "kill -9 of the master after the split's meta commit: the next master finishes it" {
	split_crash after
}
