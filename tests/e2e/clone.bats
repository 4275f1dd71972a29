#!/usr/bin/env bats
# clone_snapshot, restore_snapshot, export_snapshot and import_snapshot,
# run by hregionctl on an unmounted data directory; what they made is then
# read through the mount:
#   - a clone is an independent table sharing the snapshot's files (the data
#     directory grows by less than 1% of the table);
#   - a restore killed (SIGKILL) at any of its durable points leaves the old
#     table or the restored one, nothing else;
#   - export + import into a fresh data directory gives a table equal to the
#     snapshot (diff -r through the mounts, modes and mtimes included).

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

S=.hregionfs/snapshots

setup() { hr_setup; }
teardown() { hr_teardown; }

# fill N TAG — rows r1..rN of table t, family cf: a 100 KB cell (random,
# so it does not compress) and a small one holding TAG.
fill() {
	t mkdir -p "$M/t"
	tsh 'for i in $(seq 1 "$2"); do
		mkdir -p "$1/t/r$i/cf"
		head -c 100000 /dev/urandom > "$1/t/r$i/cf/big"
		printf "%s %s" "$3" "$i" > "$1/t/r$i/cf/tag"
	done' "$M" "$1" "$2"
}

# tags N — the tag cells of t (or $2), one per line
tags() {
	tsh 'for i in $(seq 1 "$2"); do cat "$1/r$i/cf/tag"; echo; done' "$M/${2:-t}" "$1"
}

@test "clone_snapshot: an independent table that shares the snapshot's files" {
	skip_rados "measures the local disk use of the data directory"
	fill 80 one
	t chmod 600 "$M/t/r1/cf/tag"
	unmount_fs
	run ctl snapshot t s
	assert_success
	local before after table
	before=$(du -sk "$HR_DATA" | cut -f1)
	table=$(find "$HR_DATA/store" -name '*.hsf' -printf '%s\n' | awk '{ s += $1 } END { print int(s / 1024) }')
	run ctl clone_snapshot t s c
	assert_success
	assert_output --partial "cloned c"
	after=$(du -sk "$HR_DATA" | cut -f1)
	echo "# du before $before KB, after $after KB, table $table KB" >&3
	((table > 7000)) || fail "table too small for the check: $table KB"
	((after - before < table / 100)) || fail "clone grew the data directory by $((after - before)) KB (table $table KB)"
	run ctl clone_snapshot t s c
	assert_failure 1
	run ctl --json list_snapshots
	assert_success
	assert_output --partial '"name":"s"'
	# the bash completion offers the snapshot names of the table typed
	run bash -c 'source "$1"; COMP_WORDS=("$2" -o "data_dir=$3" restore_snapshot t ""); COMP_CWORD=5
		_hregionctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$HR_REPO/scripts/hregionctl.bash-completion" \
		"$HRCTL_BIN" "$HR_DATA"
	assert_output $'--json\ns'
	mount_fs
	# equal to the snapshot, names, sizes, modes and mtimes
	run t diff -r "$M/$S/t/s" "$M/c"
	assert_success
	[[ $(stat -c %a "$M/c/r1/cf/tag") == 600 ]] || fail "mode not kept"
	# writes to one never show in the other
	tsh 'echo new > "$1/c/r1/cf/tag"; mkdir -p "$1/c/zz/cf"; echo z > "$1/c/zz/cf/q"' "$M"
	tsh 'echo other > "$1/t/r2/cf/tag"' "$M"
	run t cat "$M/t/r1/cf/tag"
	assert_output "one 1"
	run t ls "$M/t/zz"
	assert_failure
	run t cat "$M/c/r2/cf/tag"
	assert_output "one 2"
	# dropping the source leaves the clone whole; it survives a remount
	t rm -r "$M/t"
	remount_fs
	run t cat "$M/c/r1/cf/tag" "$M/c/r3/cf/tag" "$M/c/zz/cf/q"
	assert_output $'new\none 3z'
	unmount_fs
	run ctl verify
	assert_success
	mount_fs
}

@test "restore_snapshot killed at any durable point leaves the old table or the restored one" {
	skip_rados "restores the data directory from a cp -a copy of the local files"
	fill 20 old
	unmount_fs
	run ctl snapshot t s
	assert_success
	mount_fs
	# after the snapshot: overwrites, a new row, a new family, a delete
	tsh 'for i in $(seq 1 20); do printf "new %s" "$i" > "$1/t/r$i/cf/tag"; done' "$M"
	t mkdir -p "$M/t/r99/cf" "$M/t/r1/extra"
	tsh 'echo x > "$1/t/r99/cf/q"; echo y > "$1/t/r1/extra/q"; rm "$1/t/r5/cf/big"' "$M"
	unmount_fs
	cp -a "$HR_DATA" "$HR_TMP/before"
	local old new n got saw_old=0 saw_new=0 killed=0
	old=$(printf 'new %s\n' $(seq 1 20))
	new=$(printf 'old %s\n' $(seq 1 20))
	for n in 0 1 2 3 5 8 12 20 40 1000; do
		rm -rf "$HR_DATA"
		cp -a "$HR_TMP/before" "$HR_DATA"
		HREGIONCTL_TEST_CRASH_AFTER=$n run ctl restore_snapshot t s
		if [[ $status == 137 ]]; then
			killed=$((killed + 1))
		else
			assert_success
		fi
		mount_fs
		got=$(tags 20)
		if [[ $got == "$old" ]]; then
			saw_old=1
			[[ -e $M/t/r99 && -e $M/t/r1/extra/q && ! -e $M/t/r5/cf/big ]] ||
				fail "crash after $n points: old tags but not the old table"
		elif [[ $got == "$new" ]]; then
			saw_new=1
			[[ ! -e $M/t/r99 && ! -e $M/t/r1/extra && -e $M/t/r5/cf/big ]] ||
				fail "crash after $n points: restored tags but not the restored table"
		else
			fail "crash after $n points: neither old nor new: $got"
		fi
		run t diff -r "$M/t" "$M/$S/t/s"
		if ((saw_new)) && [[ $got == "$new" ]]; then assert_success; fi
		unmount_fs
		# what the kill left unreferenced went at the open
		run ctl verify
		assert_success
	done
	echo "# $killed of 10 runs killed mid-restore" >&3
	((saw_old && saw_new && killed >= 5)) || fail "old $saw_old new $saw_new killed $killed"
	mount_fs
}

@test "export_snapshot + import_snapshot into a fresh data directory equals the snapshot" {
	fill 30 exp
	t chmod 640 "$M/t/r2/cf/tag"
	t touch -d '2001-02-03 04:05:06' "$M/t/r3/cf/tag"
	unmount_fs
	run ctl snapshot t s
	assert_success
	run ctl export_snapshot t s "$HR_TMP/export"
	assert_success
	[[ -f $HR_TMP/export/MANIFEST ]] || fail "no MANIFEST"
	run ctl export_snapshot t s "$HR_TMP/export"
	assert_failure 1
	[[ -z $(find "$HR_TMP" -maxdepth 1 -name '.tmp-*') ]] || fail "a temporary export was left"
	# a missing parent and a missing snapshot are told apart
	run ctl export_snapshot t s "$HR_TMP/no/such/dir"
	assert_failure 1
	assert_output --partial "parent does not exist"
	run ctl export_snapshot t nosnap "$HR_TMP/export2"
	assert_failure 1
	assert_output --partial "no such snapshot"
	# a fresh data directory, made by a mount of its own
	local orig=$HR_DATA
	HR_DATA=$HR_TMP/data2
	mkdir "$HR_DATA"
	mount_fs
	unmount_fs
	# a damaged copy is refused and creates nothing
	cp -r "$HR_TMP/export" "$HR_TMP/bad"
	local f
	f=$(find "$HR_TMP/bad" -name '*.hsf' | head -1)
	printf '\x55' | dd of="$f" bs=1 seek=200 conv=notrunc status=none
	run ctl import_snapshot "$HR_TMP/bad" u
	assert_failure 1
	assert_output --partial "CRC32C"
	run ctl list
	refute_output --partial "u"
	run ctl import_snapshot "$HR_TMP/export" u
	assert_success
	mount_fs
	tlongsh 'cp -a "$1/u" "$2/u-copy"' "$M" "$HR_TMP"
	unmount_fs
	HR_DATA=$orig
	mount_fs
	run t diff -r "$M/$S/t/s" "$HR_TMP/u-copy"
	assert_success
	[[ $(stat -c '%a %Y' "$HR_TMP/u-copy/r2/cf/tag") == "640 $(stat -c %Y "$M/t/r2/cf/tag")" ]] ||
		fail "mode or mtime not kept"
	[[ $(stat -c %Y "$HR_TMP/u-copy/r3/cf/tag") == $(date -d '2001-02-03 04:05:06' +%s) ]] ||
		fail "back-dated mtime not kept"
}

@test "a restore through a running daemon is seen by the mount at once (names, listings, pages)" {
	fill 5 old
	t mkdir -p "$M/t/gone/cf"
	tsh 'echo later > "$1"' "$M/t/gone/cf/q"
	t rm "$M/t/gone/cf/q"
	run ctl snapshot t s
	assert_success
	# after the snapshot: overwrites, a new row, a removed row; everything
	# read once, so the kernel caches names, attributes, pages and listings
	tsh 'for i in 1 2 3 4 5; do printf "new %s" "$i" > "$1/t/r$i/cf/tag"; done' "$M"
	t mkdir -p "$M/t/later/cf"
	tsh 'echo x > "$1/t/later/cf/q"; rm -r "$1/t/r5"' "$M"
	run t ls "$M/t"
	assert_output $'later\nr1\nr2\nr3\nr4'
	run tags 4
	assert_output $'new 1\nnew 2\nnew 3\nnew 4'
	run t stat -c %s "$M/t/r1/cf/tag"
	assert_output 5
	run t ls "$M/t/r5"
	assert_failure
	run ctl restore_snapshot t s
	assert_success
	# at once: no remount, no entry timeout
	run t ls "$M/t"
	assert_output $'r1\nr2\nr3\nr4\nr5'
	run tags 5
	assert_output $'old 1\nold 2\nold 3\nold 4\nold 5'
	run t ls "$M/t/later"
	assert_failure
	run t diff -r "$M/t" "$M/$S/t/s"
	assert_success
	# a clone made through the daemon is listed at once
	run t ls "$M/c"
	assert_failure
	run ctl clone_snapshot t s c
	assert_success
	run t ls "$M"
	assert_output $'c\nt'
	run t diff -r "$M/c" "$M/$S/t/s"
	assert_success
}
