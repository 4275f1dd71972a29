#!/usr/bin/env bats
# Backups and restores with cp -r, tar and rsync -a: a table copied out and
# back into a new table is equal (diff -r: contents only, since modes and
# mtimes are not stored).

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

# make_fixture DIR — a table with several rows and families, escaped names,
# empty, binary and large values.
make_fixture() {
	local d=$1 hr
	hr=$(hr_esc ".hidden row")
	t mkdir -p "$d/row1/cf" "$d/row1/meta" "$d/row2/cf" "$d/a%2Fb/cf" "$d/$hr/cf"
	tsh 'echo "hello world" > "$1/row1/cf/greeting"' "$d"
	tsh 'printf "" > "$1/row1/cf/empty"' "$d"
	tsh 'printf "%s" "meta value" > "$1/row1/meta/m"' "$d"
	tsh 'head -c 4096 /dev/urandom > "$1/row1/cf/binary"' "$d"
	tsh 'head -c 300000 /dev/urandom > "$1/row2/cf/large"' "$d"
	tsh 'echo percent > "$1/row2/cf/50%25"' "$d"
	tsh 'echo slash > "$1/a%2Fb/cf/x%2Fy"' "$d"
	tsh 'echo dot > "$1/$2/cf/%2Eq"' "$d" "$hr"
	tsh 'echo nl > "$1/$2/cf/a%0Ab"' "$d" "$hr"
	tsh 'for i in $(seq 1 50); do mkdir -p "$1/many$i/cf" && echo "$i" > "$1/many$i/cf/n" || exit 1; done' "$d"
}

# assert_no_dot_cells DIR — no scratch (.something) entry anywhere.
assert_no_dot_cells() {
	run tsh 'find "$1" -mindepth 1 -name ".*"' "$1"
	assert_success
	assert_output ""
}

@test "cp -r backup to a local dir, restore into a new table, diff -r equal" {
	make_fixture "$M/t"
	run tlong cp -r "$M/t" "$HR_TMP/backup"
	assert_success
	run tlong diff -r "$M/t" "$HR_TMP/backup"
	assert_success
	t mkdir "$M/restored"
	run tlong cp -r "$HR_TMP/backup/." "$M/restored/"
	assert_success
	run tlong diff -r "$M/t" "$M/restored"
	assert_success
	assert_no_dot_cells "$M/restored"
	remount_fs
	run tlong diff -r "$HR_TMP/backup" "$M/restored"
	assert_success
}

@test "cp -a (modes, times, owners) restores without errors" {
	make_fixture "$M/t"
	run tlong cp -a "$M/t" "$HR_TMP/backup"
	assert_success
	t mkdir "$M/restored"
	run tlong cp -a "$HR_TMP/backup/." "$M/restored/"
	assert_success
	assert_output ""
	run tlong diff -r "$HR_TMP/backup" "$M/restored"
	assert_success
}

@test "tar backup and restore into a new table, diff -r equal" {
	make_fixture "$M/t"
	run tlong tar -C "$M/t" -cf "$HR_TMP/t.tar" .
	assert_success
	assert_output ""
	run tsh 'tar -tf "$1" | grep -c "/cf/"' "$HR_TMP/t.tar"
	assert_success
	t mkdir "$M/restored"
	run tlong tar -C "$M/restored" -xf "$HR_TMP/t.tar"
	assert_success
	assert_output ""
	run tlong diff -r "$M/t" "$M/restored"
	assert_success
	assert_no_dot_cells "$M/restored"
	remount_fs
	run tlong diff -r "$M/t" "$M/restored"
	assert_success
	# and out again through a pipe, to a local directory
	mkdir "$HR_TMP/untar"
	run tlongsh 'tar -C "$1" -cf - . | tar -C "$2" -xf -' "$M/restored" "$HR_TMP/untar"
	assert_success
	run tlong diff -r "$HR_TMP/untar" "$M/t"
	assert_success
}

@test "rsync -a out to a local dir and back into a new table; no .dot cells left" {
	make_fixture "$M/t"
	run tlong rsync -a "$M/t/" "$HR_TMP/out/"
	assert_success
	run tlong diff -r "$M/t" "$HR_TMP/out"
	assert_success
	t mkdir "$M/back"
	run tlong rsync -a "$HR_TMP/out/" "$M/back/"
	assert_success
	run tlong diff -r "$HR_TMP/out" "$M/back"
	assert_success
	assert_no_dot_cells "$M/back"
	remount_fs
	run tlong diff -r "$HR_TMP/out" "$M/back"
	assert_success
	assert_no_dot_cells "$M/back"
}

@test "rsync -a --delete applies changes and deletions to a table" {
	make_fixture "$M/t"
	run tlong rsync -a "$M/t/" "$HR_TMP/out/"
	assert_success
	echo "changed locally" >"$HR_TMP/out/row1/cf/greeting"
	echo "added locally" >"$HR_TMP/out/row2/cf/added"
	rm "$HR_TMP/out/row2/cf/50%25"
	rm -r "$HR_TMP/out/many7"
	run tlong rsync -a --delete "$HR_TMP/out/" "$M/t/"
	assert_success
	run tlong diff -r "$HR_TMP/out" "$M/t"
	assert_success
	run t cat "$M/t/row1/cf/greeting"
	assert_output "changed locally"
	assert_no_dot_cells "$M/t"
	remount_fs
	run tlong diff -r "$HR_TMP/out" "$M/t"
	assert_success
	run t stat "$M/t/many7"
	assert_failure
}

@test "rsync -a between two tables of the mount" {
	make_fixture "$M/t"
	t mkdir "$M/t2"
	run tlong rsync -a "$M/t/" "$M/t2/"
	assert_success
	run tlong diff -r "$M/t" "$M/t2"
	assert_success
	assert_no_dot_cells "$M/t2"
	# A second run with nothing to do changes nothing.
	run tlong rsync -a "$M/t/" "$M/t2/"
	assert_success
	run tlong diff -r "$M/t" "$M/t2"
	assert_success
}
