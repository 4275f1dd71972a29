#!/usr/bin/env bats
# History through the mount: /.hregionfs/versions/<t>/<row>/<f>/<q>/<ts>
# and /.hregionfs/asof/<ts>/<t>/... (HBase Get/Scan with a time range
# [0, ts + 1)), on a family with max_versions=5 and keep_deleted_cells (an
# option; the mount's default is HBase's, false): what HBase (with NEW_VERSION_BEHAVIOR) answers, the
# same in the memstore, in store files, after a major compaction and after
# a remount.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

V=.hregionfs/versions
A=.hregionfs/asof

now_ms() { date +%s%3N; }

# until_after MS — returns once the clock is past MS (the next write gets a
# later timestamp: two writes in one millisecond are one version, as in
# HBase). A bounded busy wait on the clock itself, not a sleep.
until_after() {
	local i
	for ((i = 0; i < 100000; i++)); do
		(($(now_ms) > $1)) && return 0
	done
	return 1
}

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

cf_files() {
	t grep -q "store cf memstore_bytes=0 files=$1 " "$M/.hregionfs/tables/t/regions"
}

major_done() { grep -q "table 't' region [0-9]* family 'cf': major of" "$HR_LOG"; }

# TS[1..7]: the timestamps of the 7 writes; DEL: a moment after the delete.
declare -a TS
DEL=0

# write_versions FROM TO — overwrites t/r/cf/q with v$i, each at its own
# millisecond, and records its timestamp from the versions directory.
write_versions() {
	local i
	for ((i = $1; i <= $2; i++)); do
		run tsh 'echo "v$2" > "$1"' "$M/t/r/cf/q" "$i"
		assert_success
		run t ls -U "$M/$V/t/r/cf/q"
		assert_success
		TS[i]=${lines[0]}
		[[ ${TS[i]} =~ ^[0-9]+$ ]] || fail "version name '${TS[i]}'"
		until_after "${TS[i]}" || fail "the clock does not pass ${TS[i]}"
	done
}

# check_history WHERE — everything the versions and asof trees must show.
check_history() {
	local where=$1 i want
	# the 5 newest of the 7 versions, newest first
	want=$(printf '%s\n' "${TS[7]}" "${TS[6]}" "${TS[5]}" "${TS[4]}" "${TS[3]}")
	run t ls -U "$M/$V/t/r/cf/q"
	assert_success
	[[ $output == "$want" ]] || fail "$where: versions listed '$output', want '$want'"
	for i in 3 4 5 6 7; do
		run t cat "$M/$V/t/r/cf/q/${TS[i]}"
		[[ $status == 0 && $output == "v$i" ]] || fail "$where: version ${TS[i]}: '$output' ($status)"
		run t cat "$M/$A/${TS[i]}/t/r/cf/q"
		[[ $status == 0 && $output == "v$i" ]] || fail "$where: asof ${TS[i]}: '$output' ($status)"
		# the moment just before the next write still shows it
		if ((i < 7)); then
			run t cat "$M/$A/$((TS[i + 1] - 1))/t/r/cf/q"
			[[ $output == "v$i" ]] || fail "$where: asof $((TS[i + 1] - 1)): '$output'"
		fi
		run t stat -c '%s %a' "$M/$A/${TS[i]}/t/r/cf/q"
		assert_output "3 644"
	done
	# beyond max_versions: gone from every moment (HBase drops them at
	# the next major compaction; reads never show them)
	for i in 1 2; do
		run t cat "$M/$V/t/r/cf/q/${TS[i]}"
		assert_failure
		run t cat "$M/$A/${TS[i]}/t/r/cf/q"
		assert_failure
		assert_output --partial "No such file or directory"
	done
	# before the first write and after the delete: absent
	run t ls "$M/$A/$((TS[1] - 1))/t"
	assert_success
	assert_output ""
	run t ls "$M/$A/$DEL/t"
	assert_success
	assert_output ""
	run t cat "$M/$A/$DEL/t/r/cf/q"
	assert_failure
	assert_output --partial "No such file or directory"
	# the tree as of a moment: names and listings like the live tree
	run t ls "$M/$A/${TS[5]}/t"
	assert_output "r"
	run t ls "$M/$A/${TS[5]}/t/r"
	assert_output "cf"
	run t ls -l "$M/$A/${TS[5]}/t/r/cf"
	assert_output --regexp '-rw-r--r-- .* 3 .* q$'
	run t find "$M/$V/t" -type f
	assert_output "$(for i in 7 6 5 4 3; do echo "$M/$V/t/r/cf/q/${TS[i]}"; done)"
	# the live cell is gone
	run t cat "$M/t/r/cf/q"
	assert_failure
}

@test "versions and asof: max_versions=5, 7 overwrites and a delete, across flush, major compaction and remount" {
	# flushes by age (1 s) and a periodic major compaction (1 s), no
	# minor one: the history goes memstore -> 2 files -> 1 file
	HR_OPTS=(default_max_versions=5 default_keep_deleted_cells=true flush_interval=1s
		major_interval=1s min_files=100 max_files=100 blocking_store_files=1000)
	remount_fs
	t mkdir -p "$M/t/r/cf"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "family cf max_versions=5 "
	assert_output --partial "keep_deleted_cells=true"
	write_versions 1 4
	wait_for "the first flush" cf_files 1
	write_versions 5 7
	run t rm "$M/t/r/cf/q"
	assert_success
	DEL=$(now_ms)
	check_history "written"
	# the major compaction needs two files (one with the delete)
	wait_for "the second flush or the major compaction" \
		bash -c "grep -q 'store cf memstore_bytes=0 files=2 ' '$M/.hregionfs/tables/t/regions' || grep -q \"family 'cf': major of\" '$HR_LOG'"
	check_history "flushed"
	wait_for "a major compaction of cf" major_done
	wait_for "one file after the major compaction" cf_files 1
	check_history "major compacted"
	echo "# $(grep -c "region [0-9]* of 't'" "$HR_LOG") flushes, $(grep -c "family 'cf': major of" "$HR_LOG") major compactions of cf; versions ${TS[*]}" >&3
	remount_fs default_max_versions=5 default_keep_deleted_cells=true
	check_history "remounted"
}

@test "deleted cells stay absent in the past with keep_deleted_cells=false (the default, HBase's)" {
	t mkdir -p "$M/t/r/cf"
	local t1 t2
	tsh 'echo old > "$1"' "$M/t/r/cf/q"
	t1=$(t ls -U "$M/$V/t/r/cf/q" | head -1)
	until_after "$t1"
	tsh 'echo new > "$1"' "$M/t/r/cf/gone"
	t2=$(t ls -U "$M/$V/t/r/cf/gone" | head -1)
	until_after "$t2"
	run t cat "$M/$A/$t2/t/r/cf/gone"
	assert_output "new"
	run t rm "$M/t/r/cf/gone"
	assert_success
	# HBase applies a marker after the range too: the past loses it
	run t cat "$M/$A/$t2/t/r/cf/gone"
	assert_failure
	run t ls "$M/$V/t/r/cf"
	assert_output "q"
	run t cat "$M/$A/$t1/t/r/cf/q"
	assert_output "old"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "max_versions=3 "
	assert_output --partial "keep_deleted_cells=false"
}

@test "the history trees are read-only, reject bad timestamps and follow every write" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo a > "$1"' "$M/t/r/cf/q"
	local t1
	t1=$(t ls -U "$M/$V/t/r/cf/q" | head -1)
	run t ls "$M/.hregionfs"
	assert_line "versions"
	assert_line "asof"
	run t ls "$M/$A"
	assert_output ""
	run t ls "$M/$V"
	assert_output "t"
	run tsh 'echo x > "$1"' "$M/$A/$t1/t/r/cf/q"
	assert_failure
	assert_output --partial "Read-only file system"
	run tsh 'echo x > "$1"' "$M/$A/$t1/t/r/cf/new"
	assert_failure
	assert_output --partial "Read-only file system"
	run t rm "$M/$V/t/r/cf/q/$t1"
	assert_failure
	assert_output --partial "Read-only file system"
	run t mkdir "$M/$A/$t1/t/r/other"
	assert_failure
	assert_output --partial "Read-only file system"
	run t touch "$M/$V/t/r/cf/q/$t1"
	assert_failure
	local bad
	for bad in abc 0123 -5 1e3 99999999999999999999 ""; do
		run t stat "$M/$A/$bad/t"
		[[ -z $bad ]] && continue
		assert_failure
		assert_output --partial "No such file or directory"
	done
	run t stat "$M/$V/t/r/cf/q/0$t1"
	assert_failure
	run t stat "$M/$V/t/r/cf/q/nope"
	assert_failure
	run t stat "$M/$V/nosuchtable"
	assert_failure
	# asof 0: before everything
	run t ls "$M/$A/0/t"
	assert_output ""
	# every write changes the listing at once (nothing is cached)
	until_after "$t1"
	tsh 'echo b > "$1"' "$M/t/r/cf/q"
	run t ls -U "$M/$V/t/r/cf/q"
	assert_equal "${#lines[@]}" 2
	assert_equal "${lines[1]}" "$t1"
	run t cat "$M/$V/t/r/cf/q/${lines[0]}"
	assert_output "b"
	run t cat "$M/$A/$(now_ms)/t/r/cf/q"
	assert_output "b"
	run t cat "$M/$A/$t1/t/r/cf/q"
	assert_output "a"
	# escaped names are the live tree's
	tsh 'echo s > "$1"' "$M/t/r/cf/a%2Fb"
	run t ls "$M/$A/$(now_ms)/t/r/cf"
	assert_output $'a%2Fb\nq'
	run t ls "$M/$V/t/r/cf"
	assert_output $'a%2Fb\nq'
}

@test "cmd > f is one version, also when the file is renamed while open" {
	t mkdir -p "$M/t/r/cf"
	local i
	for i in 1 2 3; do
		tsh 'echo "v$2" > "$1"' "$M/t/r/cf/q" "$i"
		run t ls -U "$M/$V/t/r/cf/q"
		assert_equal "${#lines[@]}" "$i"
		until_after "${lines[0]}"
	done
	run t cat "$M/$V/t/r/cf/q/${lines[2]}"
	assert_output "v1"
	# the truncation is stored (a second descriptor closed), the file is
	# renamed, then the value comes: it is the renamed cell's value
	run tsh 'exec 3>"$1/f"; exec 4>&3; exec 4>&-; mv "$1/f" "$1/g"; echo new >&3; exec 3>&-; cat "$1/g"' \
		"$M/t/r/cf"
	assert_success
	assert_output "new"
	run t cat "$M/t/r/cf/g"
	assert_output "new"
}
