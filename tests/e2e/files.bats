#!/usr/bin/env bats
# Cells behave like local files (issue 7): one open-file state per cell
# shared by every descriptor and process, visible at once to fstat, stat and
# lseek; an unlinked open file lives until its last close; close and fsync
# store it; the kernel's page cache serves reads and is dropped exactly when
# a cell changed by another path; MAP_SHARED and O_DIRECT work.

# The tsh and perl snippets are single-quoted on purpose: they expand their
# own arguments.
# shellcheck disable=SC2016
load helpers

FTOOL=$HR_REPO/build/hrfs_ftool

# stat_of NAME — a counter of /.hregionfs/stats
stat_of() { t awk -v k="$1" '$1 == k { print $2 }' "$M/.hregionfs/stats"; }

@test "fstat sees ftruncate up and down and every write at once, on every descriptor" {
	t mkdir -p "$M/t/r/cf"
	run t perl -e '
		use Fcntl;
		my $p = shift;
		sysopen(my $a, $p, O_RDWR | O_CREAT) or die "open: $!";
		sysopen(my $b, $p, O_RDONLY) or die "open 2: $!";
		my @out;
		truncate($a, 100000) or die "ftruncate: $!";
		push @out, (stat($a))[7], (stat($b))[7], -s $p, sysseek($b, 0, 2);
		syswrite($a, "hello") == 5 or die "write: $!";
		push @out, (stat($b))[7];
		sysseek($a, 200000, 0);
		syswrite($a, "x") == 1 or die "write: $!";
		push @out, (stat($a))[7], (stat($b))[7], -s $p;
		truncate($a, 3) or die "ftruncate: $!";
		push @out, (stat($b))[7], -s $p, sysseek($b, 0, 2);
		sysseek($b, 0, 0);
		sysread($b, my $buf, 100) // die "read: $!";
		push @out, $buf;
		print join(" ", @out), "\n";
	' "$M/t/r/cf/q"
	assert_success
	assert_output "100000 100000 100000 100000 100000 200001 200001 200001 3 3 3 hel"
	run file_size "$M/t/r/cf/q"
	assert_output 3
	remount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "hel"
}

@test "another process sees a write, a truncate and an extension before the writer closes" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf old-value > "$1"' "$M/t/r/cf/q"
	# The writer (its own process) waits for go.N files between steps and
	# reports ready.N; the test reads through new descriptors meanwhile.
	perl -e '
		my ($cell, $dir) = @ARGV;
		sub step { my $n = shift; open(my $r, ">", "$dir/ready.$n") or die; close $r;
			for (1 .. 400) { return if -e "$dir/go.$n"; select(undef, undef, undef, 0.05) }
			die "no go.$n\n" }
		open(my $f, "+<", $cell) or die "open: $!";
		truncate($f, 0) or die "truncate: $!";
		step(1);
		syswrite($f, "new") or die "write: $!";
		step(2);
		syswrite($f, "-value-longer") or die "write: $!";
		step(3);
		truncate($f, 6) or die "truncate: $!";
		step(4);
		close($f) or die "close: $!";
	' "$M/t/r/cf/q" "$HR_TMP" 3>&- &
	local w=$! n i
	bg_track "$w"
	local expect=("" "" "new" "new-value-longer" "new-va")
	for n in 1 2 3 4; do
		for ((i = 0; i < 200; i++)); do
			[[ -e $HR_TMP/ready.$n ]] && break
			sleep 0.05
		done
		[[ -e $HR_TMP/ready.$n ]] || fail "writer did not reach step $n"
		run t stat -c %s "$M/t/r/cf/q"
		assert_output "${#expect[n]}"
		run t cat "$M/t/r/cf/q"
		assert_output "${expect[n]}"
		touch "$HR_TMP/go.$n"
	done
	wait_exit "$w" 20 || fail "writer hung"
	[ "$HR_EXIT_STATUS" = 0 ] || fail "writer failed ($HR_EXIT_STATUS)"
	remount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "new-va"
}

@test "open, unlink, fstat, read, write, close: the unlinked cell lives until its last close" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "0123456789" > "$1"' "$M/t/r/cf/q"
	run t perl -e '
		use Fcntl;
		my $p = shift;
		sysopen(my $f, $p, O_RDWR) or die "open: $!";
		sysopen(my $g, $p, O_RDONLY) or die "open 2: $!";
		unlink($p) or die "unlink: $!";
		print -e $p ? "still there\n" : "gone\n";
		my @st = stat($f) or die "fstat: $!";
		print "size $st[7] nlink $st[3]\n";
		sysseek($f, 10, 0);
		syswrite($f, "ABC") == 3 or die "write: $!";
		sysread($g, my $buf, 100) // die "read: $!";
		print "read $buf\n";
		# a new file of the same name is another file
		open(my $n, ">", $p) or die "create: $!";
		print $n "new file\n";
		close($n) or die "close new: $!";
		sysseek($g, 0, 0);
		sysread($g, $buf, 100);
		print "old still $buf\n";
		close($f) or die "close: $!";
		close($g) or die "close 2: $!";
	' "$M/t/r/cf/q"
	assert_success
	assert_output $'gone\nsize 10 nlink 0\nread 0123456789ABC\nold still 0123456789ABC'
	run t cat "$M/t/r/cf/q"
	assert_output "new file"
	remount_fs
	run t cat "$M/t/r/cf/q"
	assert_output "new file"
	# and an unlinked cell is gone for good, although it was written to
	tsh 'printf x > "$1"' "$M/t/r/cf/gone"
	run t perl -e 'open(my $f, ">>", $ARGV[0]) or die; unlink($ARGV[0]) or die; print $f "more" x 100; close($f) or die "close: $!"' "$M/t/r/cf/gone"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "q"
	remount_fs
	run t ls "$M/t/r/cf"
	assert_output "q"
}

@test "a renamed open cell keeps its descriptors' writes under its new name" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "start " > "$1"' "$M/t/r/cf/a"
	run t perl -e '
		my ($a, $b) = @ARGV;
		open(my $f, ">>", $a) or die "open: $!";
		syswrite($f, "before ");
		rename($a, $b) or die "rename: $!";
		syswrite($f, "after");
		close($f) or die "close: $!";
	' "$M/t/r/cf/a" "$M/t/r/cf/b"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "b"
	run t cat "$M/t/r/cf/b"
	assert_output "start before after"
	remount_fs
	run t ls "$M/t/r/cf"
	assert_output "b"
	run t cat "$M/t/r/cf/b"
	assert_output "start before after"
}

@test "close(2) stores the file: kill -9 right after : > cell keeps the truncation" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "a long old value" > "$1"; printf "other" > "$2"' "$M/t/r/cf/q" "$M/t/r/cf/o"
	remount_fs
	run tsh ': > "$1" && perl -e "open(my \$f, \"+<\", \$ARGV[0]) or die; truncate(\$f, 3); close(\$f) or die" "$2"' \
		"$M/t/r/cf/q" "$M/t/r/cf/o"
	assert_success
	crash_fs
	mount_fs
	run file_size "$M/t/r/cf/q"
	assert_output 0
	run t cat "$M/t/r/cf/o"
	assert_output "oth"
}

@test "cmd > cell cut short by a crash leaves the old value or an empty cell, never a part" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "the old value" > "$1"' "$M/t/r/cf/q"
	remount_fs
	# The shell truncates (and closes a descriptor: stored), the command
	# writes part of its output and waits: then the daemon dies.
	bash -c 'perl -e "\$| = 1; print \"partial output\"; open(my \$r, \">\", \"$2/ready\"); close \$r; sleep 30" > "$1"' \
		tsh "$M/t/r/cf/q" "$HR_TMP" </dev/null >/dev/null 2>&1 3>&- &
	local w=$! i
	bg_track "$w"
	for ((i = 0; i < 200; i++)); do
		[[ -e $HR_TMP/ready ]] && break
		sleep 0.05
	done
	[[ -e $HR_TMP/ready ]] || fail "the writer did not start"
	crash_fs
	kill -9 "$w" 2>/dev/null || true
	mount_fs
	run t cat "$M/t/r/cf/q"
	assert_success
	[[ $output == "" || $output == "the old value" ]] || fail "after the crash the cell holds '$output'"
}

@test "fsync stores the file and syncs the log; a write past max_cell_size fails" {
	HR_OPTS=(max_cell_size=64K)
	remount_fs
	t mkdir -p "$M/t/r/cf"
	run t dd if=/dev/zero of="$M/t/r/cf/q" bs=1k count=8 conv=fsync status=none
	assert_success
	local syncs
	syncs=$(stat_of wal_syncs)
	run t perl -e 'open(my $f, "+<", $ARGV[0]) or die; syswrite($f, "xyz"); $f->sync or die "fsync: $!"; close($f)' "$M/t/r/cf/q"
	assert_success
	(($(stat_of wal_syncs) > syncs)) || fail "fsync did not sync the log"
	# a value over max_cell_size: the write fails at once
	run tsh 'head -c 100000 /dev/zero > "$1"' "$M/t/r/cf/big"
	assert_failure
	assert_output --partial "File too large"
	crash_fs
	mount_fs
	run t head -c 3 "$M/t/r/cf/q"
	assert_output "xyz"
	run file_size "$M/t/r/cf/q"
	assert_output 8192
}

@test "MAP_SHARED mappings: writes reach other processes and the store" {
	t mkdir -p "$M/t/r/cf"
	tsh 'printf "hello, world: mapped file" > "$1"' "$M/t/r/cf/q"
	run t "$FTOOL" mmap-write "$M/t/r/cf/q" 0 "HELLO"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "HELLO, world: mapped file"
	run t "$FTOOL" mmap-read "$M/t/r/cf/q"
	assert_output "HELLO, world: mapped file"
	# the descriptor closed before munmap: the page comes back after the
	# last close and is stored at the release
	run t "$FTOOL" mmap-write "$M/t/r/cf/q" 7 "WORLD" close-first
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "HELLO, WORLD: mapped file"
	remount_fs
	run t "$FTOOL" mmap-read "$M/t/r/cf/q"
	assert_output "HELLO, WORLD: mapped file"
}

@test "O_DIRECT opens read and write the same file" {
	t mkdir -p "$M/t/r/cf"
	run t "$FTOOL" direct-write "$M/t/r/cf/q" "written with O_DIRECT"
	assert_success
	run t cat "$M/t/r/cf/q"
	assert_output "written with O_DIRECT"
	tsh 'printf " and appended" >> "$1"' "$M/t/r/cf/q"
	run t "$FTOOL" direct-read "$M/t/r/cf/q"
	assert_output "written with O_DIRECT and appended"
	remount_fs
	run t "$FTOOL" direct-read "$M/t/r/cf/q"
	assert_output "written with O_DIRECT and appended"
}

@test "reads come from the page cache; a cell changed by another path is read again" {
	t mkdir -p "$M/t/r/cf"
	tsh 'for i in $(seq 1 20); do echo "value $i" > "$1/q$i"; done; echo "source" > "$1/src"' "$M/t/r/cf"
	remount_fs
	run t cat "$M/t/r/cf/q7"
	assert_output "value 7"
	local before after
	before=$(stat_of fs_read_requests)
	run tsh 'for i in $(seq 1 20); do cat "$1/q$i"; done >/dev/null; for i in 1 2 3; do cat "$1/q7"; done' "$M/t/r/cf"
	assert_success
	after=$(stat_of fs_read_requests)
	# the first round reads the 19 uncached cells; then nothing
	((after - before <= 19)) || fail "$((after - before)) READ requests for 19 uncached cells and 3 cached reads"
	before=$after
	run tsh 'for i in $(seq 1 20); do cat "$1/q$i"; done >/dev/null' "$M/t/r/cf"
	after=$(stat_of fs_read_requests)
	((after == before)) || fail "$((after - before)) READ requests for 20 cached cells"
	# replaced by a rename: the new content, at once
	run t mv "$M/t/r/cf/src" "$M/t/r/cf/q7"
	run t cat "$M/t/r/cf/q7"
	assert_output "source"
	# removed and created again: the new content
	t rm "$M/t/r/cf/q8"
	tsh 'echo "second life" > "$1"' "$M/t/r/cf/q8"
	run t cat "$M/t/r/cf/q8"
	assert_output "second life"
	# changed through another descriptor while this one is open
	run t perl -e '
		my $p = shift;
		open(my $r, "<", $p) or die; my $x = <$r>;
		open(my $w, "+<", $p) or die; syswrite($w, "VALUE"); close($w);
		seek($r, 0, 0); my $y = <$r>; print $x, $y;
	' "$M/t/r/cf/q9"
	assert_output $'value 9\nVALUE 9'
}

@test "a scratch file: fstat and stat while it is written, renamed onto a cell with its descriptors" {
	t mkdir -p "$M/t/r/cf"
	run t perl -e '
		use Fcntl;
		my ($s, $c) = @ARGV;
		sysopen(my $f, $s, O_RDWR | O_CREAT) or die "open: $!";
		syswrite($f, "scratch");
		truncate($f, 20);
		print((stat($f))[7], " ", -s $s, "\n");
		rename($s, $c) or die "rename: $!";
		sysseek($f, 20, 0);
		syswrite($f, "+tail");
		close($f) or die "close: $!";
	' "$M/t/r/cf/.q.tmp" "$M/t/r/cf/q"
	assert_success
	assert_output "20 20"
	run t ls -A "$M/t/r/cf"
	assert_output "q"
	run file_size "$M/t/r/cf/q"
	assert_output 25
	remount_fs
	run tsh 'tr "\0" . < "$1"' "$M/t/r/cf/q"
	assert_output "scratch.............+tail"
}
