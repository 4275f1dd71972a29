#!/usr/bin/env bats
# The read-only status tree /.hregionfs/: tables/<t>/schema,
# tables/<t>/regions, stats.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

@test "the status tree lists tables, schema, regions and stats" {
	t mkdir -p "$M/t1/r/cf" "$M/t2"
	tsh 'echo v > "$1"' "$M/t1/r/cf/q"
	run t ls "$M/.hregionfs"
	assert_success
	assert_line "tables"
	assert_line "stats"
	run t ls "$M/.hregionfs/tables"
	assert_output $'t1\nt2'
	run t ls "$M/.hregionfs/tables/t1"
	assert_line "schema"
	assert_line "regions"
	assert_line "snapshots"
	# no snapshot yet: an empty list, and no archive in the stats
	run t cat "$M/.hregionfs/tables/t1/snapshots"
	assert_success
	assert_output ""
	run t cat "$M/.hregionfs/stats"
	assert_line "snapshots 0"
	assert_line "archive_files 0"
	assert_line "archive_bytes 0"
}

@test "schema shows the families and follows mkdir of a new family" {
	t mkdir -p "$M/t/r/cf"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_success
	assert_output --partial "cf"
	refute_output --partial "extra"
	t mkdir "$M/t/r/extra"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_success
	assert_output --partial "cf"
	assert_output --partial "extra"
}

@test "regions and stats are readable, non-empty and sized exactly" {
	t mkdir -p "$M/t/r/cf"
	tsh 'for i in $(seq 1 20); do echo $i > "$1/q$i"; done' "$M/t/r/cf"
	local f
	for f in "$M/.hregionfs/tables/t/regions" "$M/.hregionfs/stats"; do
		run t cat "$f"
		assert_success
		[ -n "$output" ] || fail "$f is empty"
		# what cat reads is whole: head -c and dd see the same bytes
		run tsh 'a=$(cat "$1" | wc -c); b=$(dd if="$1" bs=7 status=none | wc -c); [ "$a" = "$b" ]' "$f"
		assert_success
	done
	run t cat "$M/.hregionfs/stats"
	assert_output --partial "puts"
	run tsh 'awk "\$1 == \"puts\" { print \$2 }" "$1"' "$M/.hregionfs/stats"
	assert_success
	[ -n "$output" ] && [ "$output" -ge 20 ] || fail "stats puts = '$output' after 20 puts"
}

@test "a dropped table leaves the status tree" {
	t mkdir "$M/gone" "$M/kept"
	run t ls "$M/.hregionfs/tables"
	assert_output $'gone\nkept'
	t rmdir "$M/gone"
	run t ls "$M/.hregionfs/tables"
	assert_output "kept"
	run t cat "$M/.hregionfs/tables/gone/schema"
	assert_failure
}

@test "the status tree is read-only" {
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo x > "$1"' "$M/.hregionfs/stats"
	assert_failure
	run tsh 'echo x >> "$1"' "$M/.hregionfs/tables/t/schema"
	assert_failure
	run tsh 'echo x > "$1"' "$M/.hregionfs/newfile"
	assert_failure
	run t mkdir "$M/.hregionfs/newdir"
	assert_failure
	run t mkdir "$M/.hregionfs/tables/newtable"
	assert_failure
	run t rm -f "$M/.hregionfs/stats"
	assert_failure
	run t rm -rf "$M/.hregionfs/tables/t"
	assert_failure
	run t rmdir "$M/.hregionfs"
	assert_failure
	run t truncate -s 0 "$M/.hregionfs/tables/t/schema"
	assert_failure
	run t mv "$M/.hregionfs/stats" "$M/.hregionfs/stats2"
	assert_failure
	# still intact, and the table still exists
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_success
	assert_output --partial "cf"
	run t ls "$M"
	assert_output "t"
}

@test "a leading-dot table name is refused; the status tree stays" {
	run t mkdir "$M/.hregionfs2"
	assert_failure
	run t ls "$M"
	assert_output ""
	run t ls -d "$M/.hregionfs"
	assert_success
}
