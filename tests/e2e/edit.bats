#!/usr/bin/env bats
# Changing cells in place: append, truncate, partial writes, sed -i, rename,
# and the in-memory scratch files that editors and rsync use.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

@test "append with >> extends the value" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo one > "$1"; echo two >> "$1"; printf three >> "$1"' "$M/t/r/cf/log"
	run t cat "$M/t/r/cf/log"
	assert_output $'one\ntwo\nthree'
	run file_size "$M/t/r/cf/log"
	assert_output 13
	remount_fs
	run t cat "$M/t/r/cf/log"
	assert_output $'one\ntwo\nthree'
}

@test "truncate -s shrinks, empties and extends with zero bytes" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf 0123456789 > "$1"' "$M/t/r/cf/q"
	run t truncate -s 4 "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "0123"
	run t truncate -s 6 "$M/t/r/cf/q"
	assert_success
	run file_size "$M/t/r/cf/q"
	assert_output 6
	run tsh 'od -An -c "$1" | tr -s " "' "$M/t/r/cf/q"
	assert_output " 0 1 2 3 \\0 \\0"
	run t truncate -s 0 "$M/t/r/cf/q"
	assert_success
	run file_size "$M/t/r/cf/q"
	assert_output 0
	remount_fs
	run file_size "$M/t/r/cf/q"
	assert_output 0
	run t ls "$M/t/r/cf"
	assert_output "q"
}

@test "truncate -s creates a missing cell" {
	t mkdir -p "$M/t/r/cf"
	run t truncate -s 3 "$M/t/r/cf/new"
	assert_success
	run tsh 'od -An -tx1 "$1"' "$M/t/r/cf/new"
	assert_output " 00 00 00"
}

@test "a write in the middle (dd conv=notrunc) keeps the rest" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf abcdefghij > "$1"' "$M/t/r/cf/q"
	run tsh 'printf XY | dd of="$1" bs=1 seek=3 conv=notrunc status=none' "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "abcXYfghij"
	# A write past the end leaves a zero-filled gap.
	run tsh 'printf Z | dd of="$1" bs=1 seek=12 conv=notrunc status=none' "$M/t/r/cf/q"
	assert_success
	run tsh 'od -An -c "$1" | tr -s " "' "$M/t/r/cf/q"
	assert_output " a b c X Y f g h i j \\0 \\0 Z"
}

@test "sed -i edits a cell and leaves no temp cell behind" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "colour=red\nsize=3\n" > "$1"' "$M/t/r/cf/conf"
	tsh 'echo other > "$1"' "$M/t/r/cf/other"
	run t sed -i 's/red/blue/' "$M/t/r/cf/conf"
	assert_success
	run t cat "$M/t/r/cf/conf"
	assert_output $'colour=blue\nsize=3'
	run t ls -A "$M/t/r/cf"
	assert_output $'conf\nother'
	remount_fs
	run t cat "$M/t/r/cf/conf"
	assert_output $'colour=blue\nsize=3'
	run t ls -A "$M/t/r/cf"
	assert_output $'conf\nother'
}

@test "perl -i and cp onto an existing cell replace it" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "aaa\n" > "$1"' "$M/t/r/cf/q"
	run t perl -pi -e 's/a/b/g' "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "bbb"
	printf 'from disk\n' >"$HR_TMP/src"
	run t cp "$HR_TMP/src" "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "from disk"
	run t ls -A "$M/t/r/cf"
	assert_output "q"
}

@test "mv within a row renames the cell, also across families" {
	t mkdir -p "$M/t/r/cf" "$M/t/r/f2"
	tsh 'echo v1 > "$1"' "$M/t/r/cf/a"
	run t mv "$M/t/r/cf/a" "$M/t/r/cf/b"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "b"
	run t mv "$M/t/r/cf/b" "$M/t/r/f2/c"
	assert_success
	# cf holds no cell now (the directory itself may go: a row lists the
	# families that hold cells)
	run tsh 'ls -A "$1" 2>/dev/null || true' "$M/t/r/cf"
	assert_output ""
	run t cat "$M/t/r/f2/c"
	assert_output "v1"
	remount_fs
	run t ls -R "$M/t/r"
	assert_output --partial "c"
	run t cat "$M/t/r/f2/c"
	assert_output "v1"
	run t stat "$M/t/r/cf/a"
	assert_failure
}

@test "mv onto an existing cell within a row replaces it" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo new > "$1/tmp1"; echo old > "$1/target"' "$M/t/r/cf"
	run t mv -f "$M/t/r/cf/tmp1" "$M/t/r/cf/target"
	assert_success
	run t cat "$M/t/r/cf/target"
	assert_output "new"
	run t ls "$M/t/r/cf"
	assert_output "target"
}

@test "rename(2) across rows or tables is EXDEV; mv falls back to copy" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf" "$M/u/r1/cf"
	tsh 'echo moving > "$1"' "$M/t/r1/cf/q"
	run t perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$M/t/r1/cf/q" "$M/t/r2/cf/q"
	assert_failure
	assert_output --partial "Invalid cross-device link"
	run t perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$M/t/r1/cf/q" "$M/u/r1/cf/q"
	assert_failure
	assert_output --partial "Invalid cross-device link"
	run t mv "$M/t/r1/cf/q" "$M/t/r2/cf/q"
	assert_success
	run t cat "$M/t/r2/cf/q"
	assert_output "moving"
	run t stat "$M/t/r1/cf/q"
	assert_failure
	run t mv "$M/t/r2/cf/q" "$M/u/r1/cf/q"
	assert_success
	run t cat "$M/u/r1/cf/q"
	assert_output "moving"
}

@test "renaming a row or a table is EXDEV" {
	t mkdir -p "$M/t/r1/cf"
	tsh 'echo v > "$1"' "$M/t/r1/cf/q"
	run t perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$M/t/r1" "$M/t/r9"
	assert_failure
	assert_output --partial "Invalid cross-device link"
	run t perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$M/t" "$M/t9"
	assert_failure
	assert_output --partial "Invalid cross-device link"
	run t cat "$M/t/r1/cf/q"
	assert_output "v"
}

@test "a literal leading-dot file is a scratch file: usable, never stored" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo real > "$1"' "$M/t/r/cf/q"
	run tsh 'echo scratch > "$1"' "$M/t/r/cf/.q.swp"
	assert_success
	run t cat "$M/t/r/cf/.q.swp"
	assert_output "scratch"
	run t ls -A "$M/t/r/cf"
	assert_output $'.q.swp\nq'
	run tsh 'echo more >> "$1"' "$M/t/r/cf/.q.swp"
	run t cat "$M/t/r/cf/.q.swp"
	assert_output $'scratch\nmore'
	run t rm "$M/t/r/cf/.q.swp"
	assert_success
	run t ls -A "$M/t/r/cf"
	assert_output "q"
	# A scratch file left behind is not stored either.
	tsh 'echo junk > "$1"' "$M/t/r/cf/.leftover"
	remount_fs
	run t ls -A "$M/t/r/cf"
	assert_output "q"
}

@test "renaming a scratch file onto a real name stores its value (rsync's pattern)" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo old > "$1"' "$M/t/r/cf/q"
	tsh 'printf "new value\n" > "$1"' "$M/t/r/cf/.q.AbC123"
	run t mv "$M/t/r/cf/.q.AbC123" "$M/t/r/cf/q"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "new value"
	run t ls -A "$M/t/r/cf"
	assert_output "q"
	remount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "new value"
	run t ls -A "$M/t/r/cf"
	assert_output "q"
}

@test "an editor-style save (write swap, write temp, rename) keeps one cell" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "line 1\n" > "$1"' "$M/t/r/cf/notes.txt"
	# vim: .swp while editing, then writes a backup~-less new file over it
	tsh 'printf "swap" > "$1"' "$M/t/r/cf/.notes.txt.swp"
	tsh 'printf "line 1\nline 2\n" > "$1"' "$M/t/r/cf/4913"
	run t rm "$M/t/r/cf/4913"
	tsh 'printf "line 1\nline 2\n" > "$1"' "$M/t/r/cf/notes.txt"
	run t rm "$M/t/r/cf/.notes.txt.swp"
	assert_success
	run t ls -A "$M/t/r/cf"
	assert_output "notes.txt"
	run t cat "$M/t/r/cf/notes.txt"
	assert_output $'line 1\nline 2'
}
