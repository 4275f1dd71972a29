#!/usr/bin/env bats
# Maintenance under load (issue 4): with tiny thresholds, flushes,
# compactions and splits run all the time while 2 writers write cells
# through the mount and a reader lists and cats. Then every cell reads back
# with its last value, the table has split, no store is left with more than
# blocking_store_files files, LMDB references exactly the .hsf files on
# disk, and a remount sees the same. kill -9 of the daemon at random moments
# of the same workload loses no cell whose close(2) returned. Back-pressure
# with a slow flush (test hook): writers get EAGAIN, nothing hangs or is
# lost.
#
# Sizes: CI runs 20,000 cells and 5 crash rounds; HREGIONFS_FULL=1 runs the
# issue's 200,000 cells and 50 rounds. The workload is
# tests/e2e/maint_load.pl (one process per writer/reader: no fork per cell).

# shellcheck disable=SC2016,SC2034
load helpers

LOAD=$BATS_TEST_DIRNAME/maint_load.pl
if [[ ${HREGIONFS_FULL:-0} == 1 ]]; then
	NROWS=10000 NQUAL=10 CRASH_ROUNDS=50 HR_LONG_TIMEOUT=900 BATS_TEST_TIMEOUT=7200
else
	NROWS=2000 NQUAL=5 CRASH_ROUNDS=5
fi
# 2 writers x NROWS x NQUAL cells
BLOCKING=8
HR_OPTS=(flush_size=8K split_size=256K min_files=3 max_files=10
	blocking_store_files=$BLOCKING log_level=warn)

# regions_file — the table's regions status file, printed
regions_file() { t cat "$M/.hregionfs/tables/t/regions"; }

# region_count, referenced_files, max_store_files — from the status tree
region_count() { regions_file | grep -c '^region '; }
referenced_files() {
	regions_file | awk '/^  store / { for (i = 1; i <= NF; i++) if ($i ~ /^files=/) { sub(/files=/, "", $i); s += $i } } END { print s + 0 }'
}
max_store_files() {
	regions_file | awk '/^  store / { for (i = 1; i <= NF; i++) if ($i ~ /^files=/) { sub(/files=/, "", $i); if ($i + 0 > m) m = $i + 0 } } END { print m + 0 }'
}
# Under storage=rados the store files are objects, not local files: the
# count is taken as the referenced one (the leftover check is local-only;
# the workload and every cell check still run).
disk_files() {
	if [[ $HREGIONFS_TEST_STORAGE == rados ]]; then
		referenced_files
	else
		find "$HR_DATA/store" -name '*.hsf' | wc -l
	fi
}

# wait_at_rest SECS — until no store holds more than BLOCKING files and the
# referenced files equal the ones on disk (background compactions and splits
# have settled); fails with the figures after SECS.
wait_at_rest() {
	local secs=$1 i ref disk mx
	for ((i = 0; i < secs * 4; i++)); do
		ref=$(referenced_files) disk=$(disk_files) mx=$(max_store_files)
		if ((mx <= BLOCKING && ref == disk)); then
			echo "# at rest: $(region_count) regions, $ref store files, at most $mx per store" >&3
			return 0
		fi
		sleep 0.25
	done
	echo "not at rest after ${secs}s: $ref files referenced, $disk on disk, at most $mx per store" >&2
	regions_file >&2
	return 1
}

# start_writers COUNTER MODE — 2 background writers on table t, each logging
# to $HR_TMP/log.<w> (appended), starting at random rows. $HR_TMP/pass holds
# the counter being written from before the first write (the reader's clue
# that a cell may be in the middle of an overwrite).
start_writers() {
	local c=$1 mode=$2 w
	echo "$c" >"$HR_TMP/pass"
	HR_WRITERS=()
	for w in 0 1; do
		(exec timeout -k 5 "$HR_LONG_TIMEOUT" perl "$LOAD" write "$M/t" "$w" "$NROWS" "$NQUAL" \
			"$c" "$HR_TMP/log.$w" "$RANDOM" "$mode") </dev/null >>"$HR_TMP/writers.out" 2>&1 3>&- &
		HR_WRITERS+=($!)
		bg_track $!
	done
}

start_reader() {
	rm -f "$HR_TMP/stop"
	(HR_STOP=$HR_TMP/stop HR_PASS=$HR_TMP/pass exec timeout -k 5 "$HR_LONG_TIMEOUT" perl "$LOAD" read "$M/t" \
		"$HR_TMP/log.0" "$HR_TMP/log.1") </dev/null >"$HR_TMP/reader.out" 2>&1 3>&- &
	HR_READER=$!
	bg_track "$HR_READER"
}

# wait_pid PID — waits for a background helper and returns its status
wait_pid() {
	local st=0
	wait "$1" || st=$?
	return "$st"
}

verify_cells() {
	run tlong perl "$LOAD" verify "$M/t" "$1" "$HR_TMP/log.0" "$HR_TMP/log.1"
	echo "# $output" | tail -n 1 >&3
	assert_success
}

@test "2 writers and a reader under flushes, compactions and splits; remount sees the same" {
	t mkdir "$M/t"
	start_reader
	start_writers 1 all
	local w st=0
	for w in "${HR_WRITERS[@]}"; do wait_pid "$w" || st=1; done
	# a second pass over every cell: the last value must win
	start_writers 2 all
	for w in "${HR_WRITERS[@]}"; do wait_pid "$w" || st=1; done
	touch "$HR_TMP/stop"
	wait_pid "$HR_READER" || { cat "$HR_TMP/reader.out"; fail "the reader saw a wrong listing or value"; }
	cat "$HR_TMP/writers.out" "$HR_TMP/reader.out" | sed 's/^/# /' >&3
	((st == 0)) || { cat "$HR_TMP/writers.out"; fail "a writer failed"; }

	verify_cells exact
	local n
	n=$(region_count)
	echo "# $n regions" >&3
	((n >= 4)) || { regions_file; fail "the table did not split into several regions ($n)"; }
	wait_at_rest 60
	local before
	before=$(regions_file | grep '^region ' | awk '{ print $3, $4 }')

	remount_fs
	verify_cells exact
	# the same regions (background work may only have split further)
	local after
	after=$(regions_file | grep '^region ' | awk '{ print $3, $4 }')
	(($(region_count) >= n)) || fail "fewer regions after the remount"
	[[ $before == "$after" ]] || echo "# regions changed across the remount (a later split)" >&3
	wait_at_rest 60
}

@test "kill -9 at random moments of the workload: acknowledged cells survive, no leftover files" {
	t mkdir "$M/t"
	local round c w ms
	for ((round = 1; round <= CRASH_ROUNDS; round++)); do
		c=$((round * 10))
		start_writers "$c" crash
		# 0.3 .. 3 s into the workload: flushes, compactions and splits run
		ms=$((300 + RANDOM % 2700))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		kill_daemon || fail "round $round: daemon did not die on kill -9"
		for w in "${HR_WRITERS[@]}"; do
			wait_exit "$w" 20 || fail "round $round: a writer still blocked 20s after the crash"
		done
		detach_fs || fail "round $round: could not detach the dead mount"
		mount_fs || fail "round $round: remount failed"
		run tlong perl "$LOAD" verify "$M/t" atleast "$HR_TMP/log.0" "$HR_TMP/log.1"
		echo "# round $round (kill after $ms ms): ${output##*$'\n'}" >&3
		[[ $status == 0 ]] || fail "round $round: $output"
		# LMDB references exactly the files on disk (compare once settled:
		# a compaction or split may run right after the open)
		wait_at_rest 60 || fail "round $round: store files on disk != referenced"
	done
	echo "# $(region_count) regions at the end" >&3
}

@test "back-pressure: a slow flush gives writers EAGAIN, nothing hangs or is lost" {
	unmount_fs
	export HREGIONFS_TEST_FLUSH_DELAY_MS=500
	mount_fs flush_size=16K block_multiplier=2 busy_wait_ms=100 retries=3 retry_pause_ms=10
	unset HREGIONFS_TEST_FLUSH_DELAY_MS
	t mkdir "$M/t"
	rm -f "$HR_TMP/stop"
	local w pids=()
	for w in 0 1 2 3; do
		(HR_STOP=$HR_TMP/stop exec timeout -k 5 60 perl "$LOAD" write "$M/t" "$w" 50 4 1 \
			"$HR_TMP/log.$w" 0 pressure) </dev/null >"$HR_TMP/pw.$w" 2>&1 3>&- &
		pids+=($!)
		bg_track $!
	done
	# until every writer has been refused with EAGAIN at least once (its
	# first refusals go to pw.<w> as they happen), or 30 s: the assertions
	# below then say what was missing
	local deadline=$((SECONDS + 30)) left
	while ((SECONDS < deadline)); do
		left=0
		for w in 0 1 2 3; do
			grep -q 'Resource temporarily unavailable' "$HR_TMP/pw.$w" || left=1
		done
		((left)) || break
		sleep 0.1
	done
	touch "$HR_TMP/stop"
	local st=0
	for w in "${pids[@]}"; do wait_pid "$w" || st=$?; done
	cat "$HR_TMP"/pw.* | sed 's/^/# /' >&3
	((st != 124 && st != 137)) || fail "a writer hung (timeout)"
	((st == 0)) || fail "a writer failed with status $st"
	is_mounted "$M" || fail "the mount went away"
	# EAGAIN is errno 11 in the writers' error counts
	grep -q 'errors:.*\b11=' "$HR_TMP"/pw.* || fail "no writer saw EAGAIN"
	grep -q 'Resource temporarily unavailable' "$HR_TMP"/pw.* ||
		fail "EAGAIN not reported as 'Resource temporarily unavailable'"
	run t cat "$M/.hregionfs/stats"
	assert_success
	echo "$output" | grep -E 'blocked|retr|gave' | sed 's/^/# /' >&3
	run tlong perl "$LOAD" verify "$M/t" atleast "$HR_TMP"/log.0 "$HR_TMP"/log.1 "$HR_TMP"/log.2 "$HR_TMP"/log.3
	echo "# ${output##*$'\n'}" >&3
	assert_success
	t ls "$M/t" >/dev/null
	remount_fs
	run tlong perl "$LOAD" verify "$M/t" atleast "$HR_TMP"/log.0 "$HR_TMP"/log.1 "$HR_TMP"/log.2 "$HR_TMP"/log.3
	assert_success
}
