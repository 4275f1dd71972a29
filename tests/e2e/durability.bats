#!/usr/bin/env bats
# Durability: a clean remount keeps everything; after kill -9 of the daemon
# (then fusermount3 -u and a new mount) every cell whose close(2) returned
# success is there with its value. Writers are external commands
# (/usr/bin/printf, rm) so that their exit status includes the close.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# HR_OPTS and HR_EXTRA_MNTS are read by helpers.bash in the same test process.
# shellcheck disable=SC2016,SC2034,SC2030,SC2031
load helpers

# A log of acknowledged operations lives outside the mount.
pad=$(printf '%0200d' 0)

# start_writer — background writer: cell i = "value i <pad>" in row r(i%10);
# after each successful close it appends i to $HR_TMP/acked.
start_writer() {
	local i
	for i in 0 1 2 3 4 5 6 7 8 9; do
		t mkdir -p "$M/t/r$i/cf" || return 1
	done
	: >"$HR_TMP/acked"
	(
		for ((i = 1; i <= 100000; i++)); do
			/usr/bin/printf 'value %d %s\n' "$i" "$pad" >"$M/t/r$((i % 10))/cf/q$i" 2>/dev/null || break
			echo "$i" >>"$HR_TMP/acked"
		done
	) </dev/null >/dev/null 2>&1 3>&- &
	HR_WRITER=$!
	bg_track "$HR_WRITER"
}

# crash_and_remount SECONDS [KEY=VALUE...] — let the writer run, kill -9 the
# daemon, reap the writer, detach, mount again with the options.
crash_and_remount() {
	local secs=$1
	shift
	sleep "$secs" # the workload's duration before the crash, not a wait
	kill_daemon || fail "daemon did not die on kill -9"
	if ! wait_exit "$HR_WRITER" 20; then
		kill -9 "$HR_WRITER" 2>/dev/null
		fail "writer still blocked 20s after the daemon was killed"
	fi
	run t ls "$M"
	assert_failure
	assert_output --partial "Transport endpoint is not connected"
	detach_fs || fail "could not detach the dead mount"
	mount_fs "$@"
}

# verify_acked — every acknowledged cell has exactly its value; the one in
# flight at the crash is either absent, or empty, or whole.
verify_acked() {
	local n last
	n=$(wc -l <"$HR_TMP/acked")
	((n >= 20)) || fail "only $n writes acknowledged before the crash: too few to mean anything"
	last=$(tail -n 1 "$HR_TMP/acked")
	run tlongsh '
		M=$1 acked=$2 pad=$3 last=$4 bad=0
		while read -r i; do
			c="$M/t/r$((i % 10))/cf/q$i"
			v=$(cat "$c" 2>&1) || { echo "q$i: $v"; bad=$((bad + 1)); continue; }
			[[ $v == "value $i $pad" ]] || { echo "q$i: wrong value: ${v:0:60}"; bad=$((bad + 1)); }
		done < "$acked"
		i=$((last + 1)); c="$M/t/r$((i % 10))/cf/q$i"
		if [[ -e $c ]]; then
			v=$(cat "$c")
			[[ -z $v || $v == "value $i $pad" ]] || { echo "in-flight q$i torn: ${v:0:60}"; bad=$((bad + 1)); }
		fi
		echo "checked $(wc -l < "$acked") acknowledged cells, $bad bad"
		((bad == 0))
	' "$M" "$HR_TMP/acked" "$pad" "$last"
	assert_success
	echo "$output" # the count, shown with --show-output-of-passing-tests
}

@test "a remount keeps everything (cells, overwrites, deletes, families)" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r1/f2" "$M/t/r2/cf" "$M/u/x/cf"
	tsh 'for i in $(seq 1 100); do echo "v$i" > "$1/r1/cf/q$i" || exit 1; done' "$M/t"
	tsh 'echo other > "$1/r1/f2/o"; echo first > "$1/r2/cf/q"; echo second > "$1/r2/cf/q"' "$M/t"
	tsh 'head -c 200000 /dev/urandom > "$1"' "$M/u/x/cf/big"
	t rm "$M/t/r1/cf/q50"
	mkdir "$HR_TMP/before"
	run tlong cp -r "$M/t" "$M/u" "$HR_TMP/before/"
	assert_success
	remount_fs
	run tlong diff -r "$HR_TMP/before/t" "$M/t"
	assert_success
	run tlong diff -r "$HR_TMP/before/u" "$M/u"
	assert_success
	run t ls "$M"
	assert_output $'t\nu'
	run t cat "$M/t/r2/cf/q"
	assert_output "second"
	run t stat "$M/t/r1/cf/q50"
	assert_failure
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "f2"
}

@test "remounts keep everything when data went through flushes (flush_size=64K)" {
	HR_OPTS=(flush_size=64K)
	remount_fs
	run tlongsh 'for r in $(seq -w 1 40); do mkdir -p "$1/r$r/cf" || exit 1; for q in 1 2 3 4 5; do head -c 1000 /dev/urandom > "$1/r$r/cf/q$q" || exit 1; done; done' "$M/t"
	assert_success
	# overwrite and delete some after the flushes, so files and memstore disagree
	tsh 'for r in $(seq -w 1 40 | sed -n "1~3p"); do echo "over" > "$1/r$r/cf/q1"; rm "$1/r$r/cf/q2"; done' "$M/t"
	run tlong cp -r "$M/t" "$HR_TMP/before"
	assert_success
	remount_fs
	run tlong diff -r "$HR_TMP/before" "$M/t"
	assert_success
	remount_fs flush_size=64M
	run tlong diff -r "$HR_TMP/before" "$M/t"
	assert_success
	run tsh 'grep -iE "flush" "$1" | head -3' "$M/.hregionfs/stats"
	assert_success
}

@test "kill -9 while writing (durability=os): every closed cell survives" {
	start_writer
	crash_and_remount 1.5
	verify_acked
}

@test "kill -9 while writing (durability=fsync): every closed cell survives" {
	HR_OPTS=(durability=fsync)
	remount_fs
	start_writer
	crash_and_remount 2
	verify_acked
}

@test "kill -9 while writing with flushes under way (flush_size=64K)" {
	HR_OPTS=(flush_size=64K)
	remount_fs
	start_writer
	crash_and_remount 2
	verify_acked
	# and the flushed data is still readable after a clean remount
	remount_fs
	verify_acked
}

@test "kill -9 keeps acknowledged overwrites and deletes" {
	t mkdir -p "$M/t/r/cf"
	tsh 'for i in $(seq 1 50); do echo "old$i" > "$1/q$i" || exit 1; done' "$M/t/r/cf"
	remount_fs
	run tsh 'for i in $(seq 1 25); do /usr/bin/printf "new%d\n" "$i" > "$1/q$i" || exit 1; done; for i in $(seq 26 40); do rm "$1/q$i" || exit 1; done' "$M/t/r/cf"
	assert_success
	crash_fs
	mount_fs
	run tsh 'for i in $(seq 1 50); do if [ -e "$1/q$i" ]; then echo "$i=$(cat "$1/q$i")"; else echo "$i absent"; fi; done' "$M/t/r/cf"
	assert_success
	local expect i
	expect=$(for i in $(seq 1 50); do
		if ((i <= 25)); then echo "$i=new$i"; elif ((i <= 40)); then echo "$i absent"; else echo "$i=old$i"; fi
	done)
	assert_output "$expect"
}

@test "kill -9 twice (again right after recovery) keeps everything" {
	t mkdir -p "$M/t/r/cf"
	tsh 'for i in $(seq 1 200); do echo "v$i" > "$1/q$i" || exit 1; done' "$M/t/r/cf"
	run tlong cp -r "$M/t" "$HR_TMP/before"
	crash_fs
	mount_fs
	crash_fs
	mount_fs
	run tlong diff -r "$HR_TMP/before" "$M/t"
	assert_success
	remount_fs
	run tlong diff -r "$HR_TMP/before" "$M/t"
	assert_success
}

@test "kill -9 keeps tables and families created before the crash" {
	t mkdir -p "$M/t1/r/cf" "$M/t1/r/extra" "$M/t2/r/cf"
	tsh 'echo a > "$1/t1/r/extra/q"; echo b > "$1/t2/r/cf/q"' "$M"
	t rm -r "$M/t2"
	crash_fs
	mount_fs
	run t ls "$M"
	assert_output "t1"
	run t cat "$M/t1/r/extra/q"
	assert_output "a"
}

@test "fsync(2) of a cell and of a directory succeeds" {
	t mkdir -p "$M/t/r/cf"
	run t dd if=/dev/zero of="$M/t/r/cf/q" bs=1k count=4 conv=fsync status=none
	assert_success
	run t sync "$M/t/r/cf/q"
	assert_success
	run t sync "$M/t/r/cf"
	assert_success
	run t sync -f "$M/t/r/cf/q"
	assert_success
	crash_fs
	mount_fs
	run file_size "$M/t/r/cf/q"
	assert_output 4096
}

@test "unlink removes every version, also ones already flushed to store files" {
	HR_OPTS=(flush_size=64K)
	remount_fs
	t mkdir -p "$M/t/r/cf" "$M/t/filler/cf"
	tsh 'echo v1 > "$1"' "$M/t/r/cf/q"
	# push v1 into a store file
	run tlongsh 'for i in $(seq 1 100); do head -c 2000 /dev/urandom > "$1/f$i" || exit 1; done' "$M/t/filler/cf"
	assert_success
	tsh 'echo v2 > "$1"' "$M/t/r/cf/q"
	run t cat "$M/t/r/cf/q"
	assert_output "v2"
	run t rm "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "No such file or directory"
	remount_fs
	run t cat "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "No such file or directory"
	run t ls "$M/t"
	assert_output "filler"
}

@test "large values survive flushes to store files and a remount (flush_size=64K)" {
	HR_OPTS=(flush_size=64K)
	remount_fs
	t mkdir -p "$M/t/r/cf"
	mkval "$HR_TMP/big1" $((3 * 1024 * 1024))
	mkval "$HR_TMP/big2" 200000
	run t cp "$HR_TMP/big1" "$M/t/r/cf/big1"
	assert_success
	run t cp "$HR_TMP/big2" "$M/t/r/cf/big2"
	assert_success
	tsh 'for i in $(seq 1 50); do echo "$i" > "$1/small$i" || exit 1; done' "$M/t/r/cf"
	assert_same "$HR_TMP/big1" "$M/t/r/cf/big1"
	remount_fs
	assert_same "$HR_TMP/big1" "$M/t/r/cf/big1"
	assert_same "$HR_TMP/big2" "$M/t/r/cf/big2"
	run t cat "$M/t/r/cf/small50"
	assert_output "50"
	# the data went through store files: the region lists some
	run tsh 'cat "$1"' "$M/.hregionfs/tables/t/regions"
	assert_success
	refute_output --partial "files=0 "
}

# power_cut — after kill -9: every WAL segment is cut back to the size
# last made durable (from the sync log of libhrfs_synclog.so, or its size
# at the clean start), as a power loss would leave it.
power_cut() {
	local f d i s keep
	for f in "$HR_DATA"/wal/*.wal; do
		[[ -e $f ]] || continue
		read -r d i s < <(stat -c '%d %i %s' "$f")
		keep=$(awk -v d="$d" -v i="$i" '$1 == d && $2 == i && $3 > k { k = $3 } END { print k + 0 }' "$HR_TMP/synced")
		if ((keep < s)); then
			echo "# power cut: ${f##*/} $s -> $keep bytes" >&3
			truncate -s "$keep" "$f"
		fi
	done
}

@test "a fsynced scratch file renamed onto a cell survives a power loss (rsync --fsync)" {
	skip_rados "cuts the local WAL segments to their synced length"
	unmount_fs
	# what the clean unmount left is durable
	find "$HR_DATA/wal" -name '*.wal' -exec stat -c '%d %i %s' {} + >"$HR_TMP/synced"
	# (a daemon built with ASan needs its runtime first in the list)
	local asan
	asan=$(ldd "$HREGIONFS_BIN" 2>/dev/null | awk '/libasan/ { print $3 }')
	export LD_PRELOAD="${asan:+$asan }$HR_REPO/build/libhrfs_synclog.so" HRFS_SYNC_LOG=$HR_TMP/synced
	# no background sync of the log: only what is asked for is durable
	mount_fs sync_interval_ms=3600000
	unset LD_PRELOAD HRFS_SYNC_LOG
	t mkdir -p "$M/t/r/cf"
	run tsh 'printf "synced value" | dd of="$1/.q.XyZ123" conv=fsync status=none && mv "$1/.q.XyZ123" "$1/q"' "$M/t/r/cf"
	assert_success
	# the control: the same without fsync, and a cell written after
	run tsh 'printf "unsynced value" > "$1/.p.XyZ123" && mv "$1/.p.XyZ123" "$1/p" && echo later > "$1/later"' "$M/t/r/cf"
	assert_success
	[[ -s $HR_TMP/synced ]] || fail "no sync recorded (is libhrfs_synclog.so built?)"
	kill_daemon
	detach_fs
	power_cut
	mount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "synced value"
	# what was never synced is gone: the cut really is a power loss
	run t ls "$M/t/r/cf"
	assert_output "q"
}
