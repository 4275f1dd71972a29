#!/usr/bin/env bats
# Snapshots through the mount, like ZFS's .zfs/snapshot:
#   mkdir /.hregionfs/snapshots/<t>/<name>   takes one (hr_snapshot_create)
#   rmdir /.hregionfs/snapshots/<t>/<name>   deletes it, tree and all
#   /.hregionfs/snapshots/<t>/<name>/<row>/<f>/<q>  the table as of it
# The snapshot tree has the live tree's names, sizes, modes and mtimes, is
# read-only (EROFS), and outlives overwrites, deletes, a major compaction,
# rm -r of its table and a remount.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

S=.hregionfs/snapshots

setup() { hr_setup; }
teardown() { hr_teardown; }

# wait_for DESC CMD... — polls a condition (0.1 s) for at most 60 s.
wait_for() {
	local desc=$1 i
	shift
	for ((i = 0; i < 600; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out waiting for $desc"
}

# tree_attrs DIR — every file's relative path, mode, size and mtime (ns).
tree_attrs() {
	t find "$1" -type f -printf '%P %m %s %T@\n' | LC_ALL=C sort
}

# fill_table — table t: rows with escaped names, two families' worth of
# cells, a chmod'ed and a back-dated cell.
fill_table() {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf" "$M/t/a%2Fb/cf" "$M/t/r3/cf"
	tsh 'for i in 1 2 3; do echo "one $i" > "$1/t/r1/cf/q$i"; done' "$M"
	tsh 'echo two > "$1/t/r2/cf/q"; echo slash > "$1/t/a%2Fb/cf/x%2Fy"' "$M"
	tsh 'head -c 70000 /dev/urandom > "$1/t/r3/cf/big"' "$M"
	t chmod 600 "$M/t/r1/cf/q2"
	t touch -d '2001-02-03 04:05:06' "$M/t/r2/cf/q"
}

@test "mkdir takes a snapshot, ls lists it, rmdir deletes it even when it holds cells" {
	fill_table
	run t ls "$M/.hregionfs"
	assert_line "snapshots"
	run t ls "$M/$S"
	assert_output "t"
	run t ls "$M/$S/t"
	assert_success
	assert_output ""
	taken=$(date +%s)
	run t mkdir "$M/$S/t/s1"
	assert_success
	t mkdir "$M/$S/t/s0"
	run t ls "$M/$S/t"
	assert_output $'s0\ns1'
	run t ls "$M/$S/t/s1"
	assert_output $'a%2Fb\nr1\nr2\nr3'
	run t ls "$M/$S/t/s1/a%2Fb/cf"
	assert_output "x%2Fy"
	run t cat "$M/$S/t/s1/r1/cf/q3"
	assert_output "one 3"
	run t stat -c '%F' "$M/$S/t/s1" "$M/$S/t/s1/r1/cf/q1"
	assert_output $'directory\nregular file'
	# a snapshot's directory has the time it was taken as its mtime
	run t stat -c '%Y' "$M/$S/t/s1"
	(( output >= taken - 1 && output <= $(date +%s) )) || fail "snapshot mtime $output, taken at $taken"
	# the status file lists them too
	run t cat "$M/.hregionfs/tables/t/snapshots"
	assert_output --partial "s0"
	assert_output --partial "s1"
	run t rmdir "$M/$S/t/s1"
	assert_success
	run t ls "$M/$S/t"
	assert_output "s0"
	run t stat "$M/$S/t/s1"
	assert_failure
	assert_output --partial "No such file or directory"
	# the name is free again, and a new snapshot sees the table as it is now
	tsh 'echo later > "$1"' "$M/t/r1/cf/q3"
	run t mkdir "$M/$S/t/s1"
	assert_success
	run t cat "$M/$S/t/s1/r1/cf/q3"
	assert_output "later"
	run t cat "$M/$S/t/s0/r1/cf/q3"
	assert_output "one 3"
	t rmdir "$M/$S/t/s0" "$M/$S/t/s1"
	run t ls "$M/$S/t"
	assert_output ""
	run t cat "$M/.hregionfs/stats"
	assert_line "snapshots 0"
}

@test "cp -a of a snapshot equals a copy of the table taken at that moment; later changes show only live" {
	fill_table
	before=$(tree_attrs "$M/t")
	run t cp -a "$M/t" "$HR_TMP/live0"
	assert_success
	t mkdir "$M/$S/t/nightly"
	# overwrite, delete, add, chmod, remove a row
	tsh 'echo changed > "$1/t/r1/cf/q1"; echo new > "$1/t/r2/cf/qnew"' "$M"
	t rm "$M/t/r1/cf/q3"
	t chmod 640 "$M/t/r1/cf/q2"
	t rm -r "$M/t/r3"
	run t cp -a "$M/$S/t/nightly" "$HR_TMP/snap"
	assert_success
	run t diff -r "$HR_TMP/live0" "$HR_TMP/snap"
	assert_success
	assert_output ""
	# modes, sizes and mtimes are those the live cells had
	run tree_attrs "$M/$S/t/nightly"
	assert_output "$before"
	[[ $before == *"r1/cf/q2 600 "* ]] || fail "mode 600 missing from: $before"
	[[ $before == *"r2/cf/q 644 4 981173106."* ]] || fail "back-dated mtime missing from: $before"
	# ...while the live table moved on
	run t diff -r "$HR_TMP/live0" "$M/t"
	assert_failure
	run t cat "$M/t/r1/cf/q1"
	assert_output "changed"
	run t cat "$M/$S/t/nightly/r1/cf/q1"
	assert_output "one 1"
	run t stat -c '%a' "$M/t/r1/cf/q2" "$M/$S/t/nightly/r1/cf/q2"
	assert_output $'640\n600'
	run t cmp "$HR_TMP/live0/r3/cf/big" "$M/$S/t/nightly/r3/cf/big"
	assert_success
	run t ls "$M/$S/t/nightly/r2/cf"
	assert_output "q"
}

@test "a snapshot is read-only (EROFS), and its errors: EEXIST, ENOENT, EINVAL" {
	fill_table
	t mkdir "$M/$S/t/s"
	run t mkdir "$M/$S/t/s"
	assert_failure
	assert_output --partial "File exists"
	run t mkdir "$M/$S/t/a@b"
	assert_failure
	assert_output --partial "Invalid argument"
	run t mkdir "$M/$S/nosuch"
	assert_failure
	assert_output --partial "Read-only file system"
	run t mkdir "$M/$S/nosuch/s"
	assert_failure
	assert_output --partial "No such file or directory"
	run t ls "$M/$S/t/nosuch"
	assert_failure
	assert_output --partial "No such file or directory"
	run t rmdir "$M/$S/t/nosuch"
	assert_failure
	assert_output --partial "No such file or directory"
	run t ls "$M/$S/t/s/r9"
	assert_failure
	assert_output --partial "No such file or directory"
	# nothing in a snapshot changes
	run tsh 'echo x > "$1"' "$M/$S/t/s/r1/cf/q1"
	assert_failure
	assert_output --partial "Read-only file system"
	run tsh 'echo x >> "$1"' "$M/$S/t/s/r1/cf/q1"
	assert_failure
	assert_output --partial "Read-only file system"
	run tsh 'echo x > "$1"' "$M/$S/t/s/r1/cf/qnew"
	assert_failure
	assert_output --partial "Read-only file system"
	run t rm "$M/$S/t/s/r1/cf/q1"
	assert_failure
	assert_output --partial "Read-only file system"
	run t rm -r "$M/$S/t/s/r1"
	assert_failure
	assert_output --partial "Read-only file system"
	run t mv "$M/$S/t/s/r1/cf/q1" "$M/$S/t/s/r1/cf/q9"
	assert_failure
	assert_output --partial "Read-only file system"
	run t mv "$M/$S/t/s" "$M/$S/t/s2"
	assert_failure
	run t chmod 600 "$M/$S/t/s/r1/cf/q1"
	assert_failure
	assert_output --partial "Read-only file system"
	run t truncate -s 0 "$M/$S/t/s/r1/cf/q1"
	assert_failure
	run t mkdir "$M/$S/t/s/r9"
	assert_failure
	assert_output --partial "Read-only file system"
	run t mknod "$M/$S/t/s/r1/cf/p" p
	assert_failure
	assert_output --partial "Read-only file system"
	run t cat "$M/$S/t/s/r1/cf/q1"
	assert_output "one 1"
	run t ls "$M/$S/t/s/r1/cf"
	assert_output $'q1\nq2\nq3'
}

@test "a snapshot survives overwrites and a major compaction, rm -r of its table, and a remount" {
	# shellcheck disable=SC2034 # read by mount_fs (helpers.bash)
	HR_OPTS=(flush_interval=1s major_interval=1s min_files=100 max_files=100 blocking_store_files=1000)
	remount_fs
	fill_table
	t cp -a "$M/t" "$HR_TMP/live0"
	t mkdir "$M/$S/t/keep"
	majors=$(grep -c "family 'cf': major of" "$HR_LOG" || true)
	# every cell overwritten or deleted: the store files the snapshot
	# holds are all rewritten by the major compaction
	tsh 'for c in r1/cf/q1 r1/cf/q2 r2/cf/q a%2Fb/cf/x%2Fy r3/cf/big; do echo gone > "$1/t/$c"; done' "$M"
	t rm "$M/t/r1/cf/q3"
	major_after() {
		(($(grep -c "family 'cf': major of" "$HR_LOG") > majors)) &&
			t grep -q "store cf memstore_bytes=0 files=1 " "$M/.hregionfs/tables/t/regions"
	}
	wait_for "a major compaction of the overwritten table" major_after
	run t diff -r "$HR_TMP/live0" "$M/$S/t/keep"
	assert_success
	run t cat "$M/.hregionfs/stats"
	assert_line "snapshots 1"
	refute_line "archive_own_bytes 0"
	# the table goes: the snapshot stays, listed under the table's name
	run t rm -r "$M/t"
	assert_success
	run t ls "$M"
	assert_output ""
	run t ls "$M/$S"
	assert_output "t"
	run t diff -r "$HR_TMP/live0" "$M/$S/t/keep"
	assert_success
	# a snapshot of a table that is gone cannot be taken
	run t mkdir "$M/$S/t/again"
	assert_failure
	assert_output --partial "No such file or directory"
	remount_fs
	run t ls "$M/$S/t"
	assert_output "keep"
	run t diff -r "$HR_TMP/live0" "$M/$S/t/keep"
	assert_success
	run tree_attrs "$M/$S/t/keep"
	assert_output "$(tree_attrs "$HR_TMP/live0")"
	t rmdir "$M/$S/t/keep"
	run t ls "$M/$S"
	assert_output ""
	run t ls "$M/$S/t"
	assert_failure
}

# 4 writers each rewrite their 8 rows in order, round after round: round n
# writes "n n" to every row (one put per row, a scratch file renamed onto
# the cell, so a cell is never seen half-written). A snapshot is one moment
# of the table: per writer, rows [0, k) hold round n and rows [k, 8) round
# n - 1 (k the row the writer was at), never a later round after an
# earlier one, and every cell holds one round twice.
@test "snapshots taken while 4 writers rewrite rows are each one moment of the table" {
	local w
	tsh 'for w in 0 1 2 3; do for r in 0 1 2 3 4 5 6 7; do
		mkdir -p "$1/t/w$w-r$r/cf" && echo "0 0" > "$1/t/w$w-r$r/cf/c" || exit 1; done; done' "$M"
	for w in 0 1 2 3; do
		tlongsh 'n=1; while [ ! -e "$2/stop" ]; do for r in 0 1 2 3 4 5 6 7; do
			printf "%s %s\n" $n $n > "$1/t/w$3-r$r/cf/.c.tmp" &&
			mv "$1/t/w$3-r$r/cf/.c.tmp" "$1/t/w$3-r$r/cf/c" || exit 1; done; n=$((n + 1)); done' \
			"$M" "$HR_TMP" "$w" &
		bg_track $!
	done
	for s in 1 2 3 4 5; do
		sleep 0.3 # let the writers move on between snapshots
		run t mkdir "$M/$S/t/s$s"
		assert_success
	done
	touch "$HR_TMP/stop"
	for pid in "${HR_BG_PIDS[@]}"; do
		wait "$pid" || fail "writer $pid failed"
	done
	local rounds=0 mixed=0
	for s in 1 2 3 4 5; do
		for w in 0 1 2 3; do
			run tsh 'for r in 0 1 2 3 4 5 6 7; do cat "$1/w$2-r$r/cf/c"; done' "$M/$S/t/s$s" "$w"
			assert_success
			# one round per cell, and never a later round after an earlier one
			run awk 'NF != 2 || $1 != $2 { print "torn: " $0; exit 1 }
				NR > 1 && ($1 > prev || $1 < prev - 1) { print "row " NR - 1 ": " $1 " after " prev; exit 1 }
				{ prev = $1 }' <<<"$output"
			assert_success
			local first last
			first=$(t cat "$M/$S/t/s$s/w$w-r0/cf/c")
			last=$(t cat "$M/$S/t/s$s/w$w-r7/cf/c")
			[[ $first != "$last" ]] && mixed=$((mixed + 1))
			rounds=$((rounds + ${first%% *}))
		done
	done
	# the writers did run while the snapshots were taken
	((rounds > 0)) || fail "no writer got past round 0"
	echo "# 5 snapshots x 4 writers: $rounds rounds seen in all, $mixed caught mid-round" >&3
}

@test "a write held back by a snapshot longer than snapshot_gate_timeout_ms fails with EAGAIN, and the snapshot completes" {
	# every flush takes 3 s (the engine's test hook), so the snapshot holds
	# the table's writes for at least that long; a write gives up after
	# 100 ms at the gate and one retry of the mount
	unmount_fs
	HREGIONFS_TEST_FLUSH_DELAY_MS=3000 mount_fs snapshot_gate_timeout_ms=100 retries=1 \
		retry_pause_ms=1
	t mkdir -p "$M/t/r/cf"
	tsh 'echo before > "$1/t/r/cf/q"' "$M"
	timeout -k 5 60 mkdir "$M/$S/t/held" &
	local mk=$! out=""
	bg_track "$mk"
	# writes succeed until the snapshot takes the gate, then one is refused
	while kill -0 "$mk" 2>/dev/null; do
		if ! out=$(t truncate -s 3 "$M/t/r/cf/q" 2>&1); then
			break
		fi
		out=""
	done
	[[ $out == *"Resource temporarily unavailable"* ]] ||
		fail "no write was refused while the snapshot held the table (last: '$out')"
	wait "$mk" || fail "the snapshot failed"
	run t cat "$M/.hregionfs/stats"
	assert_output --regexp $'snapshot_gate_timeouts [1-9]'
	# the table takes writes again, and the snapshot is whole
	tsh 'echo after > "$1/t/r/cf/q"' "$M"
	run t cat "$M/t/r/cf/q"
	assert_output "after"
	run t ls "$M/$S/t/held/r/cf"
	assert_output "q"
}
