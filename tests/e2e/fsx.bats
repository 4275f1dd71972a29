#!/usr/bin/env bats
# The model-based exerciser (tests/fsx/hrfs_fsx.c, built as build/hrfs_fsx):
# random open/read/write/pwrite/ftruncate/fstat/lseek/close/reopen/mmap/
# fsync/rename/unlink over several cells and descriptors, every result
# checked against an in-memory model. The same seed is then run in a tmpfs
# directory: the two runs must log the same operations with the same
# results (equal digests), and after a remount the cells must equal the
# tmpfs files.
#
# HR_FSX_OPS (100000) and HR_FSX_SEED (random, printed) choose the run;
# `make soak` runs a long one.

# HR_OPTS is read by helpers.bash in the same test process.
# shellcheck disable=SC2034
load helpers

FSX=${HR_FSX_BIN:-$HR_REPO/build/hrfs_fsx}
: "${HR_FSX_OPS:=100000}"

# tmpfs_dir — a fresh directory on a tmpfs (/dev/shm, or a tmpfs mounted in
# the test's directory when /dev/shm is something else and we are root).
tmpfs_dir() {
	local d
	if [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
		d=$(mktemp -d /dev/shm/hrfsx.XXXXXX)
		HR_FSX_SHM+=("$d")
	else
		d=$HR_TMP/tmpfs
		mkdir -p "$d"
		mount -t tmpfs -o size=256m hrfsx "$d" || return 1
		HR_EXTRA_MNTS+=("$d")
	fi
	echo "$d"
}

setup() {
	HR_FSX_SHM=()
	hr_setup
	[[ -x $FSX ]] || fail "exerciser $FSX not built (make)"
}

teardown() {
	local d
	for d in "${HR_FSX_SHM[@]}"; do
		rm -rf "$d"
	done
	hr_teardown
}

# run_pair SEED OPS ARGS... — the exerciser on the mount and on tmpfs with
# the same seed; both must pass their model checks and give one digest.
run_pair() {
	local seed=$1 ops=$2
	shift 2
	local tdir
	tdir=$(tmpfs_dir) || fail "no tmpfs"
	t mkdir -p "$M/t/r/cf"
	echo "# seed $seed, $ops operations $*" >&3
	HR_TIMEOUT=600 run t "$FSX" "$M/t/r/cf" -s "$seed" -n "$ops" -l "$HR_TMP/mount.log" "$@"
	echo "$output" | sed 's/^/# mount: /' >&3
	assert_success
	local mount_digest=${lines[-1]}
	HR_TIMEOUT=600 run t "$FSX" "$tdir" -s "$seed" -n "$ops" -l "$HR_TMP/tmpfs.log" "$@"
	assert_success
	local tmpfs_digest=${lines[-1]}
	if [[ $mount_digest != "$tmpfs_digest" ]]; then
		diff "$HR_TMP/tmpfs.log" "$HR_TMP/mount.log" | head -20
		fail "the mount and tmpfs differ: '$mount_digest' vs '$tmpfs_digest'"
	fi
	[[ $mount_digest == "seed $seed ops $ops digest "* ]] || fail "no digest line: $mount_digest"
	# what was left is stored: equal to the tmpfs files after a remount
	remount_fs
	run tlong diff -r "$tdir" "$M/t/r/cf"
	assert_success
}

@test "exerciser: the model holds on the mount and tmpfs agrees ($HR_FSX_OPS operations)" {
	local seed=${HR_FSX_SEED:-$(((RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM))}
	run_pair "$seed" "$HR_FSX_OPS"
}

@test "exerciser: more files and descriptors, small cells, flushes under way" {
	HR_OPTS=(flush_size=64K)
	remount_fs
	local seed=${HR_FSX_SEED:-$(((RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM))}
	run_pair "$seed" $((HR_FSX_OPS / 4)) -f 12 -d 24 -S 16384
}

@test "the exerciser catches a wrong model (it can fail)" {
	# A file changed behind the exerciser's back breaks its model: the
	# run must stop with the seed and the operation.
	t mkdir -p "$M/t/r/cf"
	local tdir
	tdir=$(tmpfs_dir)
	mkdir -p "$tdir/x"
	printf 'intruder' >"$tdir/x/c0"
	run t "$FSX" "$tdir/x" -s 7 -n 2000 -f 1
	assert_failure
	assert_output --partial "seed 7 op "
}
