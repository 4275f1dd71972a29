#!/usr/bin/env bats
# Tables, rows, families and cells through everyday shell tools.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

@test "mkdir creates a table that ls lists; rmdir of the empty table drops it" {
	run t mkdir "$M/t1"
	assert_success
	run t mkdir "$M/t2"
	assert_success
	run t ls "$M"
	assert_success
	assert_output $'t1\nt2'
	run t rmdir "$M/t2"
	assert_success
	run t ls "$M"
	assert_output "t1"
	run t stat "$M/t2"
	assert_failure
	assert_output --partial "No such file or directory"
}

@test "echo and printf create cells that cat reads back exactly" {
	t mkdir -p "$M/t/row1/cf"
	tsh 'echo hello > "$1"' "$M/t/row1/cf/greeting"
	tsh 'printf "no newline" > "$1"' "$M/t/row1/cf/plain"
	tsh 'printf "\x00\x01\xff\n\x00" > "$1"' "$M/t/row1/cf/binary"
	run t cat "$M/t/row1/cf/greeting"
	assert_success
	assert_output "hello"
	run t cat "$M/t/row1/cf/plain"
	assert_output "no newline"
	run tsh 'od -An -tx1 "$1"' "$M/t/row1/cf/binary"
	assert_success
	assert_output " 00 01 ff 0a 00"
}

@test "ls lists rows, families and qualifiers; ls -l shows exact sizes" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf" "$M/t/r2/f2"
	tsh 'printf abc > "$1"' "$M/t/r1/cf/a"
	tsh 'printf 1234567 > "$1"' "$M/t/r1/cf/b"
	tsh 'printf "" > "$1"' "$M/t/r1/cf/empty"
	tsh 'head -c 100000 /dev/zero > "$1"' "$M/t/r2/cf/big"
	tsh 'echo x > "$1"' "$M/t/r2/f2/other"
	run t ls "$M/t"
	assert_output $'r1\nr2'
	run t ls "$M/t/r2"
	assert_output $'cf\nf2'
	run t ls "$M/t/r1/cf"
	assert_output $'a\nb\nempty'
	run tsh 'ls -l "$1" | awk "NR > 1 { print \$1, \$5, \$9 }"' "$M/t/r1/cf"
	assert_success
	assert_output $'-rw-r--r-- 3 a\n-rw-r--r-- 7 b\n-rw-r--r-- 0 empty'
	run file_size "$M/t/r2/cf/big"
	assert_output "100000"
	run tsh 'stat -c "%F %a" "$1"' "$M/t/r2"
	assert_output "directory 755"
	run tsh 'ls -ld "$1" | cut -c1' "$M/t/r2/f2"
	assert_output "d"
}

@test "ls lists rows in key order as readdir returns them (ls -U)" {
	local r
	for r in m b z a y c; do
		t mkdir -p "$M/t/$r/cf"
		tsh 'echo v > "$1"' "$M/t/$r/cf/q"
	done
	run t ls -U "$M/t"
	assert_success
	assert_output $'a\nb\nc\nm\ny\nz'
}

@test "mtime is the cell's timestamp; owner is the mounting user" {
	t mkdir -p "$M/t/r/cf"
	local before after m
	before=$(date +%s)
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	after=$(date +%s)
	run t stat -c %Y "$M/t/r/cf/q"
	assert_success
	m=$output
	((m >= before - 1 && m <= after + 1)) || fail "mtime $m not within [$before, $after]"
	run t stat -c %u:%g "$M/t/r/cf/q"
	assert_output "$(id -u):$(id -g)"
	# an old mtime first (a put with that timestamp), so that the overwrite
	# must move it forward without waiting for the clock's next second
	t touch -d @1000000000 "$M/t/r/cf/q"
	run t stat -c %Y "$M/t/r/cf/q"
	assert_output 1000000000
	tsh 'echo w > "$1"' "$M/t/r/cf/q"
	run t stat -c %Y "$M/t/r/cf/q"
	((output >= before)) || fail "mtime did not move on overwrite: 1000000000 -> $output"
}

@test "head -c and dd skip read parts of a cell" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "0123456789abcdefghij" > "$1"' "$M/t/r/cf/q"
	run t head -c 4 "$M/t/r/cf/q"
	assert_output "0123"
	run t dd if="$M/t/r/cf/q" bs=1 skip=10 count=5 status=none
	assert_output "abcde"
	run t dd if="$M/t/r/cf/q" bs=5 skip=3 status=none
	assert_output "fghij"
	run t tail -c 3 "$M/t/r/cf/q"
	assert_output "hij"
}

@test "a 5 MiB cell round-trips byte for byte" {
	mkval "$HR_TMP/big" $((5 * 1024 * 1024))
	t mkdir -p "$M/t/r/cf"
	run t cp "$HR_TMP/big" "$M/t/r/cf/big"
	assert_success
	run file_size "$M/t/r/cf/big"
	assert_output $((5 * 1024 * 1024))
	assert_same "$HR_TMP/big" "$M/t/r/cf/big"
}

@test "find walks the whole table" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf" "$M/t/r2/f2"
	tsh 'echo 1 > "$1/r1/cf/a"; echo 2 > "$1/r2/cf/b"; echo 3 > "$1/r2/f2/c"' "$M/t"
	run tsh 'cd "$1" && find . | sort' "$M/t"
	assert_success
	assert_output $'.\n./r1\n./r1/cf\n./r1/cf/a\n./r2\n./r2/cf\n./r2/cf/b\n./r2/f2\n./r2/f2/c'
	run tsh 'cd "$1" && find . -type f | sort' "$M/t"
	assert_output $'./r1/cf/a\n./r2/cf/b\n./r2/f2/c'
	run tsh 'cd "$1" && find . -name b -type f' "$M/t"
	assert_output "./r2/cf/b"
}

@test "du reports the cells' sizes" {
	t mkdir -p "$M/t/r/cf"
	tsh 'head -c 100000 /dev/zero > "$1"' "$M/t/r/cf/a"
	tsh 'head -c 50000 /dev/zero > "$1"' "$M/t/r/cf/b"
	run t du -ab "$M/t/r/cf/a"
	assert_success
	assert_output "100000	$M/t/r/cf/a"
	# Disk usage (st_blocks) must not be zero for 150 KB of data.
	run tsh 'du -sk "$1" | cut -f1' "$M/t"
	assert_success
	[ "$output" -ge 140 ] || fail "du -sk of the table reports ${output} KiB for 150 KB of cells"
}

@test "a second family in a row; mkdir of a new family adds it to the table" {
	t mkdir -p "$M/t/r/cf" "$M/t/r/meta"
	tsh 'echo one > "$1"' "$M/t/r/cf/q"
	tsh 'echo two > "$1"' "$M/t/r/meta/q"
	run t cat "$M/t/r/cf/q" "$M/t/r/meta/q"
	assert_output $'one\ntwo'
	# The family exists in every row of the table now.
	run t mkdir -p "$M/t/other/meta"
	assert_success
	tsh 'echo three > "$1"' "$M/t/other/meta/x"
	run t cat "$M/t/other/meta/x"
	assert_output "three"
}

@test "overwrite replaces the value; the size follows" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo "a rather long first value" > "$1"' "$M/t/r/cf/q"
	tsh 'echo short > "$1"' "$M/t/r/cf/q"
	run t cat "$M/t/r/cf/q"
	assert_output "short"
	run file_size "$M/t/r/cf/q"
	assert_output 6
}

@test "touch creates an empty cell that survives a remount" {
	t mkdir -p "$M/t/r/cf"
	run t touch "$M/t/r/cf/empty"
	assert_success
	run file_size "$M/t/r/cf/empty"
	assert_output 0
	remount_fs
	run t ls "$M/t/r/cf"
	assert_output "empty"
	run file_size "$M/t/r/cf/empty"
	assert_output 0
}

@test "rm removes a cell; the emptied row disappears" {
	t mkdir -p "$M/t/r/cf" "$M/t/s/cf"
	tsh 'echo 1 > "$1/r/cf/a"; echo 2 > "$1/r/cf/b"; echo 3 > "$1/s/cf/c"' "$M/t"
	run t rm "$M/t/r/cf/a"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "b"
	run t cat "$M/t/r/cf/a"
	assert_failure
	assert_output --partial "No such file or directory"
	run t rm "$M/t/r/cf/b"
	assert_success
	# HBase has no empty rows: after a remount the row is gone.
	remount_fs
	run t ls "$M/t"
	assert_output "s"
}

@test "rmdir of a non-empty row or family fails with ENOTEMPTY" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo 1 > "$1"' "$M/t/r/cf/a"
	run t rmdir "$M/t/r/cf"
	assert_failure
	assert_output --partial "Directory not empty"
	run t rmdir "$M/t/r"
	assert_failure
	assert_output --partial "Directory not empty"
	run t rmdir "$M/t"
	assert_failure
	assert_output --partial "Directory not empty"
	run t cat "$M/t/r/cf/a"
	assert_output "1"
}

@test "rm -r of a row removes all its cells and families" {
	t mkdir -p "$M/t/r/cf" "$M/t/r/f2" "$M/t/keep/cf"
	tsh 'for q in a b c; do echo $q > "$1/r/cf/$q"; echo $q > "$1/r/f2/$q"; done; echo k > "$1/keep/cf/k"' "$M/t"
	run t rm -r "$M/t/r"
	assert_success
	run t ls "$M/t"
	assert_output "keep"
	run t stat "$M/t/r/cf/a"
	assert_failure
	remount_fs
	run t ls "$M/t"
	assert_output "keep"
	run t cat "$M/t/keep/cf/k"
	assert_output "k"
}

@test "rm -r of a table drops it; a new table of that name starts empty" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf" "$M/u/r/cf"
	tsh 'echo 1 > "$1/t/r1/cf/a"; echo 2 > "$1/t/r2/cf/b"; echo u > "$1/u/r/cf/q"' "$M"
	run t rm -r "$M/t"
	assert_success
	run t ls "$M"
	assert_output "u"
	run t mkdir "$M/t"
	assert_success
	run t ls -A "$M/t"
	assert_success
	assert_output ""
	remount_fs
	run t ls -A "$M/t"
	assert_output ""
	run t cat "$M/u/r/cf/q"
	assert_output "u"
}

@test "an empty row made by mkdir is listed while the mount lasts" {
	t mkdir -p "$M/t/empty/cf"
	run t ls "$M/t"
	assert_output "empty"
	run t ls "$M/t/empty"
	assert_output "cf"
	# HBase has no empty rows: it does not survive the mount.
	remount_fs
	run t ls -A "$M/t"
	assert_output ""
}

@test "many rows list completely and in order (readdir across batches)" {
	run tlongsh 'for i in $(seq -w 1 1500); do mkdir -p "$1/r$i/cf" && echo "$i" > "$1/r$i/cf/q" || exit 1; done' "$M/t"
	assert_success
	run tsh 'ls -U "$1" | wc -l' "$M/t"
	assert_output 1500
	run tsh 'ls -U "$1" > "$2"; seq -w 1 1500 | sed s/^/r/ | cmp - "$2"' "$M/t" "$HR_TMP/ls"
	assert_success
	run tsh 'ls -lU "$1" | grep -c "^d"' "$M/t"
	assert_output 1500
	run t cat "$M/t/r0777/cf/q"
	assert_output "0777"
}

@test "statfs reports f_namemax 255" {
	run t stat -f -c %l "$M"
	assert_success
	assert_output 255
	run t df "$M"
	assert_success
}

@test "fusermount3 -u makes the daemon exit 0" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	unmount_fs
	run is_mounted "$M"
	assert_failure
	[ "$HR_EXIT_STATUS" = 0 ]
}

@test "SIGTERM unmounts cleanly and keeps the data" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	kill -TERM "$HR_PID"
	wait_exit "$HR_PID" "$HR_EXIT_WAIT" || fail "daemon still running after SIGTERM"
	[ "$HR_EXIT_STATUS" = 0 ] || fail "exit status $HR_EXIT_STATUS after SIGTERM"
	run is_mounted "$M"
	assert_failure
	mount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "v"
}

@test "--help and --version" {
	run hrfs_t --help
	assert_success
	assert_output --partial "data_dir"
	run hrfs_t --version
	assert_success
	assert_output --partial "0."
}

@test "a family with 1000 qualifiers lists fully; rm -rf of big rows and tables removes all" {
	t mkdir -p "$M/t/r/cf"
	run tlongsh 'for i in $(seq -w 1 1000); do echo "$i" > "$1/q$i" || exit 1; done' "$M/t/r/cf"
	assert_success
	run tsh 'ls -U "$1" > "$2"; seq -w 1 1000 | sed s/^/q/ | cmp - "$2"' "$M/t/r/cf" "$HR_TMP/ls"
	assert_success
	run tlongsh 'for i in $(seq -w 1 600); do mkdir -p "$1/row$i/cf" && echo "$i" > "$1/row$i/cf/q" || exit 1; done' "$M/t"
	assert_success
	# rm -rf deletes while it reads the listing: readdir offsets must stay
	# valid as entries vanish, or entries are skipped and rmdir fails.
	run tlong rm -rf "$M/t/r"
	assert_success
	run tsh 'ls "$1" | wc -l' "$M/t"
	assert_output 600
	run tlong rm -rf "$M/t"
	assert_success
	run t ls -A "$M"
	assert_output ""
	remount_fs
	run t ls -A "$M"
	assert_output ""
}

@test "rows made by mkdir merge in key order with stored rows" {
	t mkdir -p "$M/t/b/cf" "$M/t/d/cf"
	tsh 'echo b > "$1/b/cf/q"; echo d > "$1/d/cf/q"' "$M/t"
	t mkdir "$M/t/a" "$M/t/c" "$M/t/e"
	run t ls -U "$M/t"
	assert_output $'a\nb\nc\nd\ne'
	# and a cell arriving in a mkdir'd row makes it a stored row
	t mkdir "$M/t/c/cf"
	tsh 'echo c > "$1"' "$M/t/c/cf/q"
	remount_fs
	run t ls -U "$M/t"
	assert_output $'b\nc\nd'
}

@test "rmdir of empty (mkdir'd) family, row and table succeeds" {
	t mkdir -p "$M/t/r/cf"
	run t rmdir "$M/t/r/cf"
	assert_success
	run t ls -A "$M/t/r"
	assert_output ""
	run t rmdir "$M/t/r"
	assert_success
	run t ls -A "$M/t"
	assert_output ""
	run t rmdir "$M/t"
	assert_success
	run t ls -A "$M"
	assert_output ""
}
