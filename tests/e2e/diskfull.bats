#!/usr/bin/env bats
# A full disk: the data directory lives on a tmpfs of a few MB made (and
# always removed) by the test, filled up by a file beside it. Writes then
# fail with ENOSPC at close ("No space left on device"), reads keep working,
# nothing acknowledged is lost, and once the filler is deleted writes work
# again without a remount; a remount finally finds every acknowledged cell.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016,SC2034
load helpers

setup() {
	[[ $(id -u) == 0 ]] || skip "mounting a tmpfs needs root"
	local base=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
	HR_SMALL=$(mktemp -d "$base/small.XXXXXX")
	if ! mount -t tmpfs -o size=8m,mode=0700 hregionfs-test "$HR_SMALL"; then
		rmdir "$HR_SMALL"
		HR_SMALL=
		skip "cannot mount a tmpfs"
	fi
	mkdir "$HR_SMALL/data"
	# later -o options win: the data directory goes onto the small disk
	HR_OPTS=("data_dir=$HR_SMALL/data" segment_size=256K)
	hr_setup
}

teardown() {
	local rc=0
	hr_teardown || rc=$?
	if [[ -n ${HR_SMALL:-} ]]; then
		umount "$HR_SMALL" || umount -l "$HR_SMALL" || rc=1
		rmdir "$HR_SMALL" || rc=1
	fi
	return "$rc"
}

# verify_acked FILE — every cell listed (index i) holds i padded to 4096.
verify_acked() {
	run tlongsh '
		bad=0
		while read -r i; do
			v=$(cat "$1/t/r/cf/q$i" 2>&1) || { echo "q$i: $v"; bad=$((bad + 1)); continue; }
			[[ $v == $(/usr/bin/printf "%04096d" "$i") ]] || { echo "q$i: wrong value"; bad=$((bad + 1)); }
		done < "$2"
		echo "checked $(wc -l < "$2") acknowledged cells, $bad bad"
		((bad == 0))' "$M" "$1"
	assert_success
}

# stat_of NAME — the value of one line of /.hregionfs/stats
stat_of() { t cat "$M/.hregionfs/stats" | awk -v k="$1" '$1 == k { print $2 }'; }

@test "a full disk: ENOSPC at close, reads work, nothing acknowledged lost, writes resume without a remount" {
	skip_rados "fills a small local file system under the data directory"
	t mkdir -p "$M/t/r/cf" || fail "mkdir"
	: >"$HR_TMP/acked"
	# leave about 512 KB: the next writes fill it
	avail=$(df --output=avail -B1 "$HR_SMALL" | tail -n 1)
	fallocate -l $((avail - 524288)) "$HR_SMALL/filler" || fail "fallocate"

	run tlongsh '
		for ((i = 0; i < 2000; i++)); do
			/usr/bin/printf "%04096d" "$i" >"$1/t/r/cf/q$i" 2>"$2/err" || { cat "$2/err"; exit 0; }
			echo "$i" >>"$2/acked"
		done
		echo "the disk never filled up"; exit 1' "$M" "$HR_TMP"
	assert_success
	assert_output --partial "No space left on device"
	n=$(wc -l <"$HR_TMP/acked")
	echo "# $n cells of 4 KB acknowledged before the disk was full" >&3
	((n >= 10)) || fail "only $n cells before ENOSPC"

	# it stays full: more writes fail the same way, at close
	run tsh '/bin/echo x >"$1/t/r/cf/more"' "$M"
	assert_failure
	assert_output --partial "No space left on device"
	# reads keep working, and nothing acknowledged is missing
	verify_acked "$HR_TMP/acked"
	run t ls "$M/t/r/cf"
	assert_success
	errors=$(stat_of wal_errors)
	((errors >= 1)) || fail "wal_errors is $errors"

	# space comes back: writes work again, no remount
	rm "$HR_SMALL/filler"
	run tsh '/bin/echo x >"$1/t/r/cf/after"' "$M"
	assert_success
	run tlongsh '
		for ((i = 5000; i < 5050; i++)); do
			/usr/bin/printf "%04096d" "$i" >"$1/t/r/cf/q$i" || exit 1
			echo "$i" >>"$2/acked"
		done' "$M" "$HR_TMP"
	assert_success
	run t cat "$M/t/r/cf/after"
	assert_output "x"
	# the failed segments go once their edits are flushed (the chore does
	# that within a tick or two); then an fsync succeeds again
	for ((i = 0; i < 200; i++)); do
		[[ $(stat_of wal_failed_segments) == 0 ]] && break
		sleep 0.1
	done
	[[ $(stat_of wal_failed_segments) == 0 ]] || fail "failed WAL segments still kept 20s after space came back"
	echo "# $(stat_of wal_errors) WAL errors, $(stat_of wal_recoveries) recoveries, $(stat_of flushes) flushes" >&3
	run t python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M/t/r/cf/after"
	assert_success

	# a remount finds every acknowledged cell
	remount_fs || fail "remount"
	verify_acked "$HR_TMP/acked"
	run t cat "$M/t/r/cf/after"
	assert_output "x"
}
