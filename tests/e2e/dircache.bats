#!/usr/bin/env bats
# Directory listings the kernel keeps (FOPEN_CACHE_DIR): an unchanged
# directory is listed again without a READDIR request, and every kind of
# change (explicit or implicit: a row or family leaving its parent's listing
# with its last cell) makes the next listing exact again.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

stat_of() { t awk -v k="$1" '$1 == k { print $2 }' "$M/.hregionfs/stats"; }

# listing DIR — the names ls -a prints, one per line (what the kernel
# serves, from its cache or from us)
listing() { t ls -a "$1"; }

# cached DIR... — lists each DIR twice; the second time must cost no
# READDIR request (the kernel served it), so that what follows tests the
# kernel's copy being dropped, not a listing the daemon made anyway.
cached() {
	local d before
	for d in "$@"; do
		listing "$d" >/dev/null
	done
	before=$(stat_of fs_readdir_requests)
	for d in "$@"; do
		listing "$d" >/dev/null
	done
	if [[ $(stat_of fs_readdir_requests) != "$before" ]]; then
		echo "listing $* again asked the daemon ($before -> $(stat_of fs_readdir_requests) READDIRs)" >&2
		return 1
	fi
}

# expect DIR NAME... — DIR lists exactly . .. NAME... (in this order)
expect() {
	local d=$1 want
	shift
	want=$(printf '%s\n' . .. "$@")
	run listing "$d"
	assert_success
	assert_output "$want"
}

@test "an unchanged tree is listed again from the kernel's cache; a change is seen at once" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf"
	tsh 'echo a > "$1"; echo b > "$2"' "$M/t/r1/cf/a" "$M/t/r2/cf/b"
	run t ls -R "$M/t"
	assert_success
	first=$output
	before=$(stat_of fs_readdir_requests)
	opens=$(stat_of fs_dir_cache_opens)
	run t ls -R "$M/t"
	assert_success
	assert_output "$first"
	assert_equal "$(stat_of fs_readdir_requests)" "$before"
	(($(stat_of fs_dir_cache_opens) - opens == 5))
	run t ls -lR "$M/t"
	assert_success
	assert_equal "$(stat_of fs_readdir_requests)" "$before"
	tsh 'echo c > "$1"' "$M/t/r2/cf/c"
	expect "$M/t/r2/cf" b c
	(($(stat_of fs_readdir_requests) > before))
}

@test "rm of the last cell of a row: the row leaves the table's cached listing" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf"
	tsh 'echo a > "$1"; echo b > "$2"' "$M/t/r1/cf/a" "$M/t/r2/cf/b"
	cached "$M/t" "$M/t/r1" "$M/t/r1/cf"
	t rm "$M/t/r1/cf/a"
	expect "$M/t" r2
	expect "$M/t/r1/cf"
	expect "$M/t/r1"
	run t find "$M/t"
	assert_output "$(printf '%s\n' "$M/t" "$M/t/r2" "$M/t/r2/cf" "$M/t/r2/cf/b")"
	# and it comes back with a cell (the shell's directory still works);
	# the table's listing, cached while the new cell was not stored yet
	# (the row was not listed), shows the row once the cell is stored
	run t perl -e 'chdir($ARGV[0]) or die; open(my $f, ">", "a") or die;
		sub ls { opendir(my $d, $ARGV[1]) or die; print join(" ", sort readdir($d)), "\n" }
		ls(); ls(); print $f "again\n"; close($f) or die; ls();' "$M/t/r1/cf" "$M/t"
	assert_success
	assert_output $'. .. r2\n. .. r2\n. .. r1 r2'
	expect "$M/t" r1 r2
	expect "$M/t/r1" cf
	expect "$M/t/r1/cf" a
}

@test "rm of the last cell of a family: the family leaves the row's cached listing" {
	t mkdir -p "$M/t/r/cf" "$M/t/r/f2"
	tsh 'echo a > "$1"; echo b > "$2"' "$M/t/r/cf/a" "$M/t/r/f2/b"
	cached "$M/t" "$M/t/r" "$M/t/r/f2"
	t rm "$M/t/r/f2/b"
	expect "$M/t/r" cf
	expect "$M/t/r/f2"
	expect "$M/t" r
}

@test "mv within a row: both families and the row list the cell where it is" {
	t mkdir -p "$M/t/r/cf" "$M/t/r/f2"
	tsh 'echo a > "$1"; echo b > "$2"' "$M/t/r/cf/a" "$M/t/r/cf/b"
	t mkdir "$M/t/r/f2" 2>/dev/null || true
	cached "$M/t/r" "$M/t/r/cf"
	t mv "$M/t/r/cf/a" "$M/t/r/cf/a2"
	expect "$M/t/r/cf" a2 b
	cached "$M/t/r" "$M/t/r/cf"
	t mv "$M/t/r/cf/b" "$M/t/r/f2/b"
	expect "$M/t/r/cf" a2
	expect "$M/t/r/f2" b
	expect "$M/t/r" cf f2
	cached "$M/t/r" "$M/t/r/cf" "$M/t/r/f2"
	# the last cell of cf moves out: cf leaves the row's listing
	t mv "$M/t/r/cf/a2" "$M/t/r/f2/a2"
	expect "$M/t/r" f2
	expect "$M/t/r/f2" a2 b
	expect "$M/t/r/cf"
}

@test "mkdir and rmdir of rows and families (memory only until a cell arrives)" {
	t mkdir -p "$M/t/r1/cf"
	tsh 'echo a > "$1"' "$M/t/r1/cf/a"
	cached "$M/t" "$M/t/r1"
	t mkdir "$M/t/r0" "$M/t/r9"
	expect "$M/t" r0 r1 r9
	t mkdir "$M/t/r1/f2"
	expect "$M/t/r1" cf f2
	cached "$M/t" "$M/t/r1" "$M/t/r0"
	t rmdir "$M/t/r0"
	expect "$M/t" r1 r9
	t rmdir "$M/t/r1/f2"
	expect "$M/t/r1" cf
	cached "$M/t" "$M/t/r9"
	t mkdir "$M/t/r9/cf"
	expect "$M/t/r9" cf
	tsh 'echo z > "$1"' "$M/t/r9/cf/z"
	expect "$M/t" r1 r9
	# a mkdir'd row that never got a cell is gone after a remount
	t mkdir "$M/t/r5"
	cached "$M/t"
	remount_fs
	expect "$M/t" r1 r9
	expect "$M/t/r9/cf" z
}

@test "a scratch file renamed onto a cell, and scratch files themselves, are listed exactly" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo a > "$1"' "$M/t/r/cf/a"
	cached "$M/t" "$M/t/r" "$M/t/r/cf"
	tsh 'echo s > "$1"' "$M/t/r/cf/.tmp.1"
	expect "$M/t/r/cf" .tmp.1 a
	cached "$M/t/r/cf"
	t mv "$M/t/r/cf/.tmp.1" "$M/t/r/cf/b"
	expect "$M/t/r/cf" a b
	run t cat "$M/t/r/cf/b"
	assert_output "s"
	# onto a cell of a row that did not exist: the row appears
	t mkdir -p "$M/t/new/cf"
	cached "$M/t" "$M/t/new"
	tsh 'echo s2 > "$1"' "$M/t/new/cf/.x"
	t mv "$M/t/new/cf/.x" "$M/t/new/cf/q"
	expect "$M/t" new r
	expect "$M/t/new/cf" q
	cached "$M/t/new/cf"
	t rm "$M/t/new/cf/q"
	expect "$M/t" r
}

@test "ls in a shell sitting in a directory sees changes made elsewhere" {
	t mkdir -p "$M/t/r1/cf" "$M/t/r2/cf"
	tsh 'echo a > "$1"; echo b > "$2"' "$M/t/r1/cf/a" "$M/t/r2/cf/b"
	cached "$M/t" "$M/t/r1/cf"
	run tsh 'cd "$1" && ls && rm "$2" && echo -- && ls && rm "$3" && echo -- && ls' \
		"$M/t" "$M/t/r1/cf/a" "$M/t/r2/cf/b"
	assert_success
	assert_output $'r1\nr2\n--\nr2\n--'
	t mkdir -p "$M/t/r3/cf"
	run tsh 'cd "$1" && ls && echo x > "$2" && echo -- && ls && echo -- && ls "$3"' \
		"$M/t/r3/cf" "$M/t/r3/cf/x" "$M/t"
	assert_success
	assert_output $'--\nx\n--\nr3'
}

# lister NAME DIR — a background perl that opens DIR, writes "open" to
# $HR_TMP/NAME.up, waits for a line on $HR_TMP/NAME.go, then reads DIR
# whole into $HR_TMP/NAME.out (names but . and .., one per line) and exits.
lister() {
	local name=$1 dir=$2
	mkfifo "$HR_TMP/$name.up" "$HR_TMP/$name.go"
	timeout -k 5 "$HR_TIMEOUT" perl -e '
		my ($dir, $up, $go, $out) = @ARGV;
		opendir(my $d, $dir) or die "opendir: $!";
		open(my $u, ">", $up) or die; print $u "open\n"; close $u;
		open(my $g, "<", $go) or die; my $l = <$g>; close $g;
		my @n = sort grep { $_ ne "." && $_ ne ".." } readdir($d);
		closedir($d);
		open(my $o, ">", $out) or die; print $o map { "$_\n" } @n; close $o or die;
	' "$dir" "$HR_TMP/$name.up" "$HR_TMP/$name.go" "$HR_TMP/$name.out" &
	bg_track $!
	eval "${name}_pid=$!"
	run t cat "$HR_TMP/$name.up"
	assert_output "open"
}

# go NAME — lets lister NAME read, and waits for it
go() {
	local pid_var=${1}_pid
	t sh -c 'echo go > "$1"' sh "$HR_TMP/$1.go"
	wait_exit "${!pid_var}" "$HR_TIMEOUT"
	assert_equal "$HR_EXIT_STATUS" 0
}

@test "a directory stream opened before a change does not leak its listing to later opens" {
	t mkdir -p "$M/t/r1/cf"
	tsh 'echo a > "$1"' "$M/t/r1/cf/a"
	t mkdir "$M/t/r0" # a row in memory only
	# old opens the table before r0 goes; new after; old reads first,
	# while new has not read yet
	lister old "$M/t"
	t rmdir "$M/t/r0"
	lister new "$M/t"
	go old
	go new
	run cat "$HR_TMP/new.out"
	assert_output "r1"
	expect "$M/t" r1
	cached "$M/t"
	# the same with an implicit change: the last cell of a row goes
	t mkdir -p "$M/t/r2/cf"
	tsh 'echo b > "$1"' "$M/t/r2/cf/b"
	cached "$M/t"
	rm -f "$HR_TMP"/old.* "$HR_TMP"/new.*
	lister old "$M/t"
	t rm "$M/t/r2/cf/b"
	lister new "$M/t"
	go old
	go new
	run cat "$HR_TMP/new.out"
	assert_output "r1"
	expect "$M/t" r1
}

@test "a listing read only in part is not taken for the whole one" {
	t mkdir -p "$M/t/r/cf"
	tsh 'cd "$1" && for i in $(seq 1 300); do echo $i > q$i; done' "$M/t/r/cf"
	run t perl -e 'opendir(my $d, $ARGV[0]) or die; my $n = 0;
		while (defined(my $e = readdir($d))) { last if ++$n == 10 } closedir($d); print "$n\n"' \
		"$M/t/r/cf"
	assert_output "10"
	run tsh 'ls "$1" | wc -l' "$M/t/r/cf"
	assert_output "300"
	t rm "$M/t/r/cf/q150"
	run tsh 'ls "$1" | wc -l; ls "$1" | grep -cx q150' "$M/t/r/cf"
	assert_output $'299\n0'
}

@test "tables: mkdir and rmdir are seen in the root's cached listing; the status tree is never cached" {
	t mkdir "$M/a" "$M/b"
	cached "$M"
	t mkdir "$M/c"
	expect "$M" a b c
	cached "$M"
	t rmdir "$M/b"
	expect "$M" a c
	run t ls "$M/.hregionfs/tables"
	assert_output $'a\nc'
	before=$(stat_of fs_readdir_requests)
	t ls "$M/.hregionfs/tables" >/dev/null
	(($(stat_of fs_readdir_requests) > before))
	t mkdir "$M/d"
	run t ls "$M/.hregionfs/tables"
	assert_output $'a\nc\nd'
}

@test "rm -r of a whole table and cp -r of it read every listing right" {
	t mkdir -p "$M/t"
	tsh 'for r in 1 2 3; do mkdir -p "$1/r$r/cf" "$1/r$r/f2"; for q in a b; do
		echo "$r$q" > "$1/r$r/cf/$q"; echo "2$r$q" > "$1/r$r/f2/$q"; done; done' "$M/t"
	run t ls -R "$M/t"
	first=$output
	t cp -r "$M/t" "$HR_TMP/copy1"
	t cp -r "$M/t" "$HR_TMP/copy2"
	run diff -r "$HR_TMP/copy1" "$HR_TMP/copy2"
	assert_success
	run t rm -r "$M/t/r2"
	assert_success
	t cp -r "$M/t" "$HR_TMP/copy3"
	run tsh 'cd "$1" && find . | sort' "$HR_TMP/copy3"
	assert_output "$(printf '%s\n' . ./r1 ./r1/cf ./r1/cf/a ./r1/cf/b ./r1/f2 ./r1/f2/a ./r1/f2/b \
		./r3 ./r3/cf ./r3/cf/a ./r3/cf/b ./r3/f2 ./r3/f2/a ./r3/f2/b)"
	run t rm -r "$M/t"
	assert_success
	expect "$M"
}
