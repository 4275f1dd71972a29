#!/usr/bin/env bats
# Errors a shell user meets, with the messages POSIX tools print for them.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# HR_OPTS and HR_EXTRA_MNTS are read by helpers.bash in the same test process.
# shellcheck disable=SC2016,SC2034,SC2030,SC2031
load helpers

HR_OPTS=(max_cell_size=1M)

@test "a name longer than 255 bytes: File name too long" {
	t mkdir -p "$M/t/r/cf"
	local long
	long=$(printf 'x%.0s' $(seq 256))
	run tsh 'echo v > "$1"' "$M/t/r/cf/$long"
	assert_failure
	assert_output --partial "File name too long"
	run t mkdir "$M/t/$long"
	assert_failure
	assert_output --partial "File name too long"
	run t mkdir "$M/$long"
	assert_failure
	assert_output --partial "File name too long"
}

@test "a value over max_cell_size (1M): writing 2M fails with File too large" {
	t mkdir -p "$M/t/r/cf"
	run tsh 'head -c 1048576 /dev/zero > "$1"' "$M/t/r/cf/exact"
	assert_success
	run file_size "$M/t/r/cf/exact"
	assert_output 1048576
	run tsh 'head -c 2M /dev/zero > "$1"' "$M/t/r/cf/big"
	assert_failure
	assert_output --partial "File too large"
	head -c 2M /dev/urandom >"$HR_TMP/big"
	run t cp "$HR_TMP/big" "$M/t/r/cf/big2"
	assert_failure
	assert_output --partial "File too large"
	run t dd if="$HR_TMP/big" of="$M/t/r/cf/big3" bs=64k status=none
	assert_failure
	assert_output --partial "File too large"
	# No stored value ever exceeds the limit.
	local f
	for f in big big2 big3; do
		if [ -e "$M/t/r/cf/$f" ]; then
			run file_size "$M/t/r/cf/$f"
			[ "$output" -le 1048576 ] || fail "$f holds $output bytes > max_cell_size"
		fi
	done
	run t cat "$M/t/r/cf/exact"
	assert_success
}

@test "appending or truncating past max_cell_size fails; no value exceeds it" {
	t mkdir -p "$M/t/r/cf"
	tsh 'head -c 1000000 /dev/zero | tr "\0" a > "$1"' "$M/t/r/cf/q"
	run tsh 'head -c 100000 /dev/zero >> "$1"' "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "File too large"
	run file_size "$M/t/r/cf/q"
	[ "$output" -le 1048576 ] || fail "cell holds $output bytes > max_cell_size"
	run t truncate -s 2M "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "File too large"
}

@test "writing into a missing table, row or family fails" {
	run tsh 'echo v > "$1"' "$M/nosuch/r/cf/q"
	assert_failure
	assert_output --partial "No such file or directory"
	run t ls "$M"
	assert_output ""
	t mkdir "$M/t"
	run tsh 'echo v > "$1"' "$M/t/norow/cf/q"
	assert_failure
	assert_output --partial "No such file or directory"
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo v > "$1"' "$M/t/r/nofamily/q"
	assert_failure
	assert_output --partial "No such file or directory"
	run t rm "$M/t/r/cf/nosuchcell"
	assert_failure
	assert_output --partial "No such file or directory"
}

@test "directory depth: no files at the root, table or row level" {
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo v > "$1"' "$M/file"
	assert_failure
	run tsh 'echo v > "$1"' "$M/t/file"
	assert_failure
	run tsh 'echo v > "$1"' "$M/t/r/file"
	assert_failure
	run t ls -A "$M/t"
	assert_output "r"
	run t ls -A "$M/t/r"
	assert_output "cf"
}

@test "directory depth: no directories at the qualifier level or below a cell" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	run t mkdir "$M/t/r/cf/dir"
	assert_failure
	run t mkdir "$M/t/r/cf/q/below"
	assert_failure
	assert_output --partial "Not a directory"
	run tsh 'echo v > "$1"' "$M/t/r/cf/q/below"
	assert_failure
	assert_output --partial "Not a directory"
	run t ls "$M/t/r/cf"
	assert_output "q"
	# the tools' own checks: rmdir of a cell, rm of a row
	run t rmdir "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "Not a directory"
	run t rm "$M/t/r"
	assert_failure
	assert_output --partial "Is a directory"
}

@test "an invalid family name is refused" {
	t mkdir -p "$M/t/r"
	run t mkdir "$M/t/r/bad%20family"
	assert_failure
	run t mkdir "$M/t/r/bad%2Ffamily"
	assert_failure
	run t ls -A "$M/t/r"
	assert_output ""
}

@test "a second mount of the same data directory is refused (foreground)" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	local mnt2=$HR_TMP/mnt2
	mkdir "$mnt2"
	HR_EXTRA_MNTS+=("$mnt2")
	HR_TIMEOUT=15 run hrfs_t -f -o "data_dir=$HR_DATA" "$mnt2"
	[ "$status" -ne 124 ] || fail "the second instance was still running after 15 s (it mounted?)"
	assert_failure
	[ -n "$output" ] || fail "no message on the refusal"
	echo "$output" | grep -qiE "lock|in use|already|busy|running" || fail "unclear message: $output"
	run is_mounted "$mnt2"
	assert_failure
	# The first mount is untouched.
	run t cat "$M/t/r/cf/q"
	assert_output "v"
	tsh 'echo w > "$1"' "$M/t/r/cf/q2"
	remount_fs
	run t cat "$M/t/r/cf/q" "$M/t/r/cf/q2"
	assert_output $'v\nw'
}

@test "a second mount of the same data directory is refused (daemon mode)" {
	local mnt2=$HR_TMP/mnt2
	mkdir "$mnt2"
	HR_EXTRA_MNTS+=("$mnt2")
	run hrfs_t -o "data_dir=$HR_DATA" "$mnt2"
	assert_failure
	run is_mounted "$mnt2"
	assert_failure
}

@test "bad options are rejected with a message and a non-zero exit" {
	local mnt2=$HR_TMP/mnt2
	mkdir "$mnt2" "$HR_TMP/data2"
	HR_EXTRA_MNTS+=("$mnt2")
	run hrfs_t -f -o "data_dir=$HR_TMP/data2,flush_size=lots" "$mnt2"
	assert_failure
	assert_output --partial "flush_size"
	run hrfs_t -f -o "data_dir=$HR_TMP/data2,no_such_key=1" "$mnt2"
	assert_failure
	assert_output --partial "no_such_key"
	printf '[wal]\ndurability = sometimes\n' >"$HR_TMP/bad.ini"
	run hrfs_t -f -c "$HR_TMP/bad.ini" -o "data_dir=$HR_TMP/data2" "$mnt2"
	assert_failure
	assert_output --partial "bad.ini:2"
	run is_mounted "$mnt2"
	assert_failure
}

@test "mkdir of an existing table, row or family: File exists" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	run t mkdir "$M/t"
	assert_failure
	assert_output --partial "File exists"
	run t mkdir "$M/t/r"
	assert_failure
	assert_output --partial "File exists"
	run t mkdir "$M/t/r/cf"
	assert_failure
	assert_output --partial "File exists"
}

@test "symlinks, hard links and device nodes are refused; the mount stays up" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	run t ln -s q "$M/t/r/cf/link"
	assert_failure
	run t ln "$M/t/r/cf/q" "$M/t/r/cf/hard"
	assert_failure
	run t mkfifo "$M/t/r/cf/fifo"
	assert_failure
	run t ls "$M/t/r/cf"
	assert_output "q"
	run t cat "$M/t/r/cf/q"
	assert_output "v"
}

@test "default_families and auto_create_families=false are honoured" {
	# a comma inside a value is escaped for the -o list (libfuse option syntax)
	HR_OPTS=('default_families=cf\,meta' auto_create_families=false)
	remount_fs
	t mkdir "$M/t"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "cf"
	assert_output --partial "meta"
	run t mkdir -p "$M/t/r/meta"
	assert_success
	run t mkdir "$M/t/r/other"
	assert_failure
	assert_output --partial "No such file or directory"
	run t cat "$M/.hregionfs/tables/t/schema"
	refute_output --partial "other"
}

@test "the shipped hregionfs.ini is accepted (-c)" {
	[ -f "$HR_REPO/hregionfs.ini" ] || fail "no hregionfs.ini at the top of the repository"
	local mnt2=$HR_TMP/mnt2
	mkdir "$mnt2" "$HR_TMP/data2"
	HR_EXTRA_MNTS+=("$mnt2")
	(cd "$HR_TMP" && exec "$HREGIONFS_BIN" -f -c "$HR_REPO/hregionfs.ini" -o "data_dir=$HR_TMP/data2" "$mnt2") </dev/null >>"$HR_LOG" 2>&1 3>&- &
	local pid=$!
	HR_PIDS+=("$pid")
	wait_mounted "$mnt2" "$pid"
	t mkdir -p "$mnt2/t/r/cf"
	run tsh 'echo v > "$1" && cat "$1"' "$mnt2/t/r/cf/q"
	assert_output "v"
	run t fusermount3 -u "$mnt2"
	assert_success
	wait_exit "$pid" 20 || fail "daemon did not exit"
	[ "$HR_EXIT_STATUS" = 0 ]
}
