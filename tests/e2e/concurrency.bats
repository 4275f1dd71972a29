#!/usr/bin/env bats
# Concurrent writers and readers. Cells are local files: every descriptor
# sees a write at once, so a reader racing a writer may see a value being
# written (empty after the O_TRUNC, or a prefix), as on ext4; but never
# bytes nobody wrote, and once the writers are done every cell holds the
# last value written to it, whole, also after a remount.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# HR_OPTS is read by helpers.bash in the same test process.
# shellcheck disable=SC2016,SC2034
load helpers

: "${HR_CONC_ROUNDS:=300}"

@test "4 concurrent writers to the same cell: reads see only written bytes, the last value wins whole" {
	local i letters=ABCDE
	for i in 0 1 2 3 4; do
		mkpat "$HR_TMP/v$i" 65536 "${letters:i:1}"
	done
	t mkdir -p "$M/t/r/cf"
	run t cp "$HR_TMP/v0" "$M/t/r/cf/q"
	assert_success
	run tlongsh '
		cell=$1 V=$2 N=$3
		pids=()
		sums=$(md5sum "$V"/v? | cut -c1-32)
		for w in 1 2 3 4; do
			(
				for ((k = 1; k <= N; k++)); do
					# two shell redirections, two cp (one open, no dup)
					if ((w <= 2)); then
						cat "$V/v$w" > "$cell"
					else
						cp "$V/v$w" "$cell"
					fi || { echo "writer $w: write $k failed"; exit 1; }
				done
			) &
			pids+=($!)
		done
		reads=0 bad=0 whole=0
		while [[ -n $(jobs -rp) ]]; do
			if ((reads % 2)); then
				cat "$cell" > "$V/got" || { echo "cat failed"; bad=$((bad + 1)); }
			else
				dd if="$cell" of="$V/got" bs=4096 status=none || { echo "dd failed"; bad=$((bad + 1)); }
			fi
			# each writer writes one letter 65536 times in one write at
			# offset 0 after its truncation: any read holds only letters
			# A-E, at most 65536 of them
			n=$(stat -c %s "$V/got")
			if ((n > 65536)) || [[ -n $(tr -d ABCDE < "$V/got" | head -c 1) ]]; then
				bad=$((bad + 1))
				cp "$V/got" "$V/torn.$reads"
				echo "read $reads holds bytes nobody wrote: $n bytes: $(od -An -c "$V/got" | uniq -c | head -5 | tr -s " ")"
			fi
			s=$(md5sum < "$V/got" | cut -c1-32)
			grep -qx "$s" <<<"$sums" && whole=$((whole + 1))
			reads=$((reads + 1))
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		echo "reads=$reads whole=$whole bad=$bad writers_failed=$fail"
		((bad == 0 && fail == 0 && reads > 0))
	' "$M/t/r/cf/q" "$HR_TMP" "$HR_CONC_ROUNDS"
	assert_success
	echo "$output" # reads=..., shown with --show-output-of-passing-tests
	run tsh 'md5sum < "$1" | cut -c1-32' "$M/t/r/cf/q"
	local final=$output
	run tsh 'md5sum "$1"/v[1-4] | cut -c1-32' "$HR_TMP"
	assert_line "$final"
	# After a remount the value is still one of the last writes.
	remount_fs
	run tsh 'md5sum < "$1" | cut -c1-32' "$M/t/r/cf/q"
	assert_output "$final"
}

@test "4 concurrent writers to distinct cells (same row and other rows): no foreign bytes, nothing lost" {
	head -c 65524 /dev/zero | tr '\0' 'p' >"$HR_TMP/pad"
	t mkdir -p "$M/t/shared/cf" "$M/t/own3/cf" "$M/t/own4/cf"
	run tlongsh '
		T=$1 V=$2 N=$3
		pids=()
		cellof() { case $1 in 1|2) echo "$T/shared/cf/q$1";; *) echo "$T/own$1/cf/q$1";; esac; }
		# Every cell starts with a whole value (k=0).
		for w in 1 2 3 4; do
			{ printf "w%d-k%07d|" "$w" 0; cat "$V/pad"; } > "$(cellof $w)" || exit 1
		done
		for w in 1 2 3 4; do
			(
				c=$(cellof $w)
				for ((k = 1; k <= N; k++)); do
					{ printf "w%d-k%07d|" "$w" "$k"; cat "$V/pad"; } > "$c" || { echo "writer $w: write $k failed"; exit 1; }
				done
			) &
			pids+=($!)
		done
		bad=0 reads=0
		while [[ -n $(jobs -rp) ]]; do
			for w in 1 2 3 4; do
				c=$(cellof $w)
				cat "$c" > "$V/got" || { echo "cat $c failed"; bad=$((bad + 1)); continue; }
				# a value being written is a prefix of a whole one: its
				# own header (12 bytes) then the pad, never bytes of
				# another writer, never zeros
				n=$(stat -c %s "$V/got")
				h=$(head -c 12 "$V/got" | tr "\\0" @)
				if ((n > 65536)) || { ((n >= 12)) && [[ ! $h =~ ^w${w}-k[0-9]{7}\|$ ]]; } ||
					{ ((n < 12)) && [[ ! $h =~ ^(w(${w}(-(k[0-9]*)?)?)?)?$ ]]; } ||
					{ ((n > 12)) && ! tail -c +13 "$V/got" | cmp -s - <(head -c $((n - 12)) "$V/pad"); }; then
					echo "cell $w: a read holds bytes nobody wrote (header \"$h\", $n bytes)"
					bad=$((bad + 1))
				fi
				reads=$((reads + 1))
			done
			ls -lR "$T" > /dev/null || { echo "ls -lR failed"; bad=$((bad + 1)); }
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		echo "reads=$reads bad=$bad writers_failed=$fail"
		((bad == 0 && fail == 0))
	' "$M/t" "$HR_TMP" "$HR_CONC_ROUNDS"
	assert_success
	echo "$output" # reads=..., shown with --show-output-of-passing-tests
	local w
	for w in 1 2 3 4; do
		local c="$M/t/own$w/cf/q$w"
		((w <= 2)) && c="$M/t/shared/cf/q$w"
		run t head -c 12 "$c"
		assert_output "$(printf 'w%d-k%07d|' "$w" "$HR_CONC_ROUNDS")"
		run file_size "$c"
		assert_output 65536
	done
	run t ls "$M/t/shared/cf"
	assert_output $'q1\nq2'
}

@test "4 concurrent processes creating 200 rows each: all rows present" {
	run tlongsh '
		T=$1
		pids=()
		for w in 1 2 3 4; do
			(
				for i in $(seq -w 1 200); do
					mkdir -p "$T/w$w-$i/cf" && echo "w$w-$i" > "$T/w$w-$i/cf/q" || { echo "writer $w: row $i failed"; exit 1; }
				done
			) &
			pids+=($!)
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		exit $fail
	' "$M/t"
	assert_success
	run tsh 'ls "$1" | wc -l' "$M/t"
	assert_output 800
	run tlongsh 'for d in "$1"/*; do [ "$(cat "$d/cf/q")" = "${d##*/}" ] || { echo "bad $d"; exit 1; }; done' "$M/t"
	assert_success
	remount_fs
	run tsh 'ls -U "$1" | wc -l' "$M/t"
	assert_output 800
}

@test "concurrent rm and create in one family keep the listing consistent" {
	t mkdir -p "$M/t/r/cf"
	run tlongsh '
		F=$1
		pids=()
		( for i in $(seq 1 300); do echo "$i" > "$F/a$i" || exit 1; done ) &
		pids+=($!)
		( for i in $(seq 1 300); do echo "$i" > "$F/b$i" || exit 1; rm "$F/b$i" || exit 1; done ) &
		pids+=($!)
		( for i in $(seq 1 100); do ls "$F" > /dev/null || exit 1; done ) &
		pids+=($!)
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		exit $fail
	' "$M/t/r/cf"
	assert_success
	run tsh 'ls "$1" | grep -c "^a"' "$M/t/r/cf"
	assert_output 300
	run tsh 'ls "$1" | grep -c "^b" || true' "$M/t/r/cf"
	assert_output 0
}

@test "write back-pressure: busy regions are retried by the mount, writes succeed" {
	# Slow flushes (test hook) and a tight region limit make puts wait for
	# flushes and answer busy; the mount must retry them with backoff.
	export HREGIONFS_TEST_FLUSH_DELAY_MS=300
	HR_OPTS=(flush_size=64K block_multiplier=2 busy_wait_ms=50 retries=12 retry_pause_ms=20)
	remount_fs
	unset HREGIONFS_TEST_FLUSH_DELAY_MS
	mkval "$HR_TMP/v" 32768
	t mkdir -p "$M/t/r/cf"
	run tlongsh '
		pids=()
		for w in 1 2 3 4; do
			( for i in $(seq 1 20); do cp "$2" "$1/w$w-$i" || exit 1; done ) &
			pids+=($!)
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		exit $fail
	' "$M/t/r/cf" "$HR_TMP/v"
	assert_success
	run tsh 'ls "$1" | wc -l' "$M/t/r/cf"
	assert_output 80
	run tsh 'for f in "$1"/*; do cmp -s "$f" "$2" || echo "bad $f"; done' "$M/t/r/cf" "$HR_TMP/v"
	assert_output ""
	run tsh 'awk "\$1 == \"blocked_writes\" { print \$2 }" "$1"' "$M/.hregionfs/stats"
	[ -n "$output" ] && [ "$output" -gt 0 ] || fail "no write was blocked (blocked_writes='$output'): the test did not exercise back-pressure"
}

@test "a writer appending to a cell while it is renamed 1,000 times loses nothing" {
	t mkdir -p "$M/t/r/cf"
	# The writer appends numbered lines to src, one open-append-close each
	# (O_APPEND, O_CREAT), until the renamer is done; the renamer moves src
	# to moved.1 ... moved.1000 (waiting for src to exist again). Every line
	# must then be in exactly one file, in order: moved.1 ... moved.1000,
	# then src.
	run tlongsh '
		F=$1 V=$2
		perl -e '\''
			my ($f, $v) = @ARGV;
			my $n = 0;
			until (-e "$v/renamed") {
				$n++;
				open(my $h, ">>", "$f/src") or die "open: $!";
				print $h "line $n\n" or die "write: $!";
				close($h) or die "close: $!";
			}
			open(my $c, ">", "$v/count") or die; print $c "$n\n"; close $c;
		'\'' "$F" "$V" &
		w=$!
		perl -e '\''
			my ($f, $v) = @ARGV;
			for my $j (1 .. 1000) {
				my $spins = 0;
				until (rename("$f/src", "$f/moved.$j")) {
					die "rename $j: $!\n" unless $!{ENOENT};
					die "src never came back\n" if ++$spins > 20000;
					select(undef, undef, undef, 0.001);
				}
			}
			open(my $d, ">", "$v/renamed") or die; close $d;
		'\'' "$F" "$V" || { kill $w; exit 1; }
		wait $w || exit 1
		n=$(cat "$V/count")
		{ for j in $(seq 1 1000); do cat "$F/moved.$j"; done; cat "$F/src" 2>/dev/null; } > "$V/all"
		seq 1 "$n" | sed "s/^/line /" > "$V/expect"
		echo "$n lines appended during 1000 renames"
		cmp "$V/expect" "$V/all"
	' "$M/t/r/cf" "$HR_TMP"
	assert_success
	echo "# $output" >&3
	# and so it stays after a remount
	remount_fs
	run tlongsh '{ for j in $(seq 1 1000); do cat "$1/moved.$j"; done; cat "$1/src" 2>/dev/null; } | cmp - "$2/expect"' \
		"$M/t/r/cf" "$HR_TMP"
	assert_success
}
