#!/usr/bin/env bats
# WAL recovery modes (wal_recovery): one flipped byte in the middle of a
# rolled log segment after a crash. The default (tolerate_tail) refuses to
# mount and says where and what to do; point_in_time mounts with a prefix
# of the acknowledged cells and moves the damaged segments to wal/corrupt/;
# after that the default mounts again and nothing more is lost.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016,SC2034
load helpers

HR_OPTS=(segment_size=1M)

# write_cells N — cell i of row r is i zero-padded to 10240 bytes; each
# acknowledged index goes to $HR_TMP/acked.
write_cells() {
	t mkdir -p "$M/t/r/cf" || return 1
	: >"$HR_TMP/acked"
	run tlongsh '
		for ((i = 0; i < $2; i++)); do
			/usr/bin/printf "%010240d" "$i" >"$1/t/r/cf/q$i" || exit 1
			echo "$i" >>"$3"
		done' "$M" "$1" "$HR_TMP/acked"
	assert_success
}

# flip_byte FILE OFFSET
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0x5a)))" |
		dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# present_prefix N — prints k if cells 0..k-1 are whole and k..N-1 absent,
# but for cell k, which may exist empty (a file is created empty before its
# value is stored at close: the cut may fall between the two).
present_prefix() {
	tlongsh '
		k=0
		while ((k < $2)) && [[ -s $1/t/r/cf/q$k ]]; do
			[[ $(cat "$1/t/r/cf/q$k") == $(/usr/bin/printf "%010240d" "$k") ]] ||
				{ echo "q$k: wrong value"; exit 1; }
			k=$((k + 1))
		done
		for ((i = k + 1; i < $2; i++)); do
			[[ -e $1/t/r/cf/q$i ]] && { echo "q$i present after missing q$k"; exit 1; }
		done
		echo "$k"' "$M" "$1"
}

@test "a flipped byte in a rolled WAL segment: refused by default, a prefix with point_in_time" {
	skip_rados "flips a byte of a local WAL segment with dd"
	write_cells 300
	crash_fs || fail "could not crash the daemon"
	seg=$HR_DATA/wal/0000000000000002.wal
	size=$(stat -c %s "$seg")
	((size > 1048576)) || fail "segment 2 has $size bytes: not a rolled 1 MiB segment"
	flip_byte "$seg" $((size / 2))

	# the default refuses, naming the segment, the offset and what to do
	run hrfs_t -o "data_dir=$HR_DATA,segment_size=1M" "$HR_MNT"
	assert_failure
	assert_output --regexp "0000000000000002\.wal offset [0-9]+: record CRC mismatch"
	assert_output --partial "Not opening"
	assert_output --partial "-o wal_recovery=point_in_time"
	run is_mounted "$HR_MNT"
	assert_failure
	[[ -e $seg ]] || fail "the damaged segment is gone"

	# point_in_time: a prefix of the acknowledged cells, the rest moved aside
	mount_fs wal_recovery=point_in_time || fail "point_in_time did not mount"
	run present_prefix 300
	assert_success
	k=$output
	echo "# point_in_time: $k of 300 acknowledged cells (the prefix before the damage)" >&3
	((k > 100 && k < 200)) || fail "prefix of $k cells"
	[[ -e $HR_DATA/wal/corrupt/0000000000000002.wal ]] || fail "segment 2 not in wal/corrupt/"
	[[ -e $HR_DATA/wal/corrupt/0000000000000003.wal ]] || fail "segment 3 not in wal/corrupt/"
	[[ ! -e $seg ]] || fail "segment 2 still in wal/"
	run t cat "$M/.hregionfs/stats"
	assert_success
	assert_line "wal_corrupt_records 1"
	assert_line "wal_corrupt_segments 2"
	tsh '/usr/bin/printf after >"$1/t/r/cf/new"' "$M" || fail "write after recovery"

	# the default mounts again: the same cells and the new one
	remount_fs || fail "could not remount in the default mode"
	run present_prefix 300
	assert_success
	assert_output "$k"
	run t cat "$M/t/r/cf/new"
	assert_output "after"
	run t cat "$M/.hregionfs/stats"
	assert_line "wal_corrupt_records 0"
}
