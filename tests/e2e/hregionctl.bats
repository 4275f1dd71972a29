#!/usr/bin/env bats
# hregionctl, the operator's tool, on a data directory made through the
# mount and then unmounted (its offline mode): every command, its --json
# output parsed, and its refusals (verify beside a daemon, a drop of a
# table with rows, damage found by verify). Live mode, through the daemon's
# control socket: hregionctl_live.bats.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

# put ROW QUAL VALUE — one cell of table t, family cf, through the mount.
put() {
	t mkdir -p "$M/t/$1/cf"
	tsh 'printf "%s" "$2" > "$1"' "$M/t/$1/cf/$2" "$3"
}

# fill N [TAG] — rows r1..rN of table t, family cf, cell q = "value I TAG".
fill() {
	local i
	t mkdir -p "$M/t"
	for i in $(seq 1 "$1"); do
		t mkdir -p "$M/t/r$i/cf"
		tsh 'printf "value %s %s" "$2" "$3" > "$1"' "$M/t/r$i/cf/q" "$i" "${2:-a}"
	done
}
# check_cells N [TAG] — every cell written by fill reads back through the mount.
check_cells() {
	local i
	for i in $(seq 1 "$1"); do
		run t cat "$M/t/r$i/cf/q"
		assert_output "value $i ${2:-a}"
	done
}

store_files() { find "$HR_DATA/store" -name '*.hsf' | sort; }

@test "hregionctl offline: verify refused beside a daemon; a directory that is not one" {
	put r1 q v
	# (live commands: hregionctl_live.bats)
	run ctl verify
	assert_failure 3
	assert_output --partial "a daemon is serving $HR_DATA (pid $HR_PID)"
	unmount_fs
	run ctl status
	assert_success
	assert_line "tables 1"
	assert_line "mode offline"
	# a directory that is not one is not created
	run tsh 'cd "$1" && exec "$2" -o "data_dir=$1/nothing" status' "$HR_TMP" "$HRCTL_BIN"
	assert_failure 4
	assert_output --partial "not an hregionfs data directory"
	[[ ! -e $HR_TMP/nothing ]]
}

@test "hregionctl status, list, describe and regions, as text and JSON" {
	put r1 q1 v1
	put r2 q2 v2
	t mkdir "$M/other"
	unmount_fs
	run ctl status
	assert_success
	assert_line "tables 2"
	assert_line "mode offline"
	run ctl list
	assert_success
	assert_line "table other families=1 regions=1"
	assert_line "table t families=1 regions=1"
	run ctl describe t
	assert_success
	assert_line "table t"
	assert_line "  family cf max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=none keep_deleted_cells=false"
	run ctl regions t
	assert_success
	assert_line --regexp '^region id=[0-9]+ start="" end="" state=open '
	assert_line --regexp '^  store cf .*files=0 '
	run ctl_json 'assert [x["name"] for x in d["tables"]] == ["other", "t"], d; print("ok")' list
	assert_output ok
	run ctl_json 'assert d["tables"] == 2 and d["regions"] == 2, d; print("ok")' status
	assert_output ok
	run ctl_json 'f = d["table"]["families"][0]; assert f["name"] == "cf" and f["max_versions"] == 3 and f["bloom"] == "row", d; print("ok")' describe t
	assert_output ok
	run ctl_json 'r = d["regions"]; assert len(r) == 1 and r[0]["start"] == "" and r[0]["stores"][0]["family"] == "cf", d; print("ok")' regions t
	assert_output ok
	run ctl describe nosuch
	assert_failure 1
	assert_output --partial "no such table"
	run ctl_json 'assert d["exit"] == 1 and "no such table" in d["error"], d; print("ok")' describe nosuch
	assert_output ok
}

@test "hregionctl create: family settings reach the mount; refusals" {
	unmount_fs
	run ctl create u cf,info info:max_versions=5 info:ttl_ms=3600000 cf:bloom=none \
		cf:keep_deleted_cells=true cf:block_size=4K
	assert_success
	assert_line --partial "family info max_versions=5 ttl_ms=3600000 "
	run ctl_json 'f = {x["name"]: x for x in d["table"]["families"]}
assert f["cf"]["bloom"] == "none" and f["cf"]["keep_deleted_cells"] and f["cf"]["block_size"] == 4096, f
assert f["info"]["max_versions"] == 5 and f["info"]["ttl_ms"] == 3600000, f
print("ok")' describe u
	assert_output ok
	run ctl create u cf
	assert_failure 1
	assert_output --partial "table exists"
	run ctl create v cf nosuch:max_versions=2
	assert_failure 2
	run ctl create v cf cf:colour=blue
	assert_failure 2
	run ctl create v cf cf:max_versions=0
	assert_failure 2
	run ctl create 'bad/name' cf
	assert_failure 2
	run ctl list
	refute_line --partial "table v"
	mount_fs
	run t cat "$M/.hregionfs/tables/u/schema"
	assert_line "family info max_versions=5 ttl_ms=3600000 block_size=65536 bloom=row compression=none keep_deleted_cells=false"
	assert_line "family cf max_versions=3 ttl_ms=0 block_size=4096 bloom=none compression=none keep_deleted_cells=true"
	t mkdir -p "$M/u/row/info"
	tsh 'echo hello > "$1"' "$M/u/row/info/q"
	run t cat "$M/u/row/info/q"
	assert_output hello
}

@test "hregionctl drop refuses a table with rows without --force" {
	put r1 q v
	t mkdir "$M/empty"
	unmount_fs
	run ctl drop t
	assert_failure 1
	assert_output --partial "the table has rows"
	run ctl_json 'assert d["exit"] == 1 and "--force" in d["error"], d; print("ok")' drop t
	assert_output ok
	run ctl drop empty
	assert_success
	assert_output "dropped empty"
	run ctl drop t --force
	assert_success
	run ctl drop t --force
	assert_failure 1
	assert_output --partial "no such table"
	run ctl list
	assert_output ""
	mount_fs
	run t ls "$M"
	assert_output ""
}

@test "hregionctl flush, compact --major and split; every cell reads back" {
	fill 40 a
	unmount_fs
	[[ -z $(store_files) ]]
	run ctl flush t
	assert_success
	assert_output --regexp '^flushed t .*files=1$'
	mount_fs
	fill 40 b
	unmount_fs
	run ctl_json 'assert d["flushed"]["files"] == 2, d; print("ok")' flush t
	assert_output ok
	run ctl compact --major t
	assert_success
	assert_output --regexp '^compacted t major=true files_before=2 files_after=1 '
	run ctl split t r2
	assert_success
	assert_output "split t regions_split=1 regions=2"
	run ctl split t
	assert_success
	assert_output "split t regions_split=2 regions=4"
	run ctl_json 'r = d["regions"]; assert len(r) == 4 and r[0]["start"] == "" and r[-1]["end"] == "", r
for a, b in zip(r, r[1:]): assert a["end"] == b["start"], r
print("ok")' regions t
	assert_output ok
	# a region's start row is no split point
	run ctl split t r2
	assert_failure 1
	assert_output --partial "not a row inside a region"
	run ctl flush
	assert_failure 2
	run ctl flush --all
	assert_success
	run ctl verify
	assert_success
	mount_fs
	check_cells 40 b
}

@test "hregionctl sfile dump shows the trailer, index, keys, counts and cells" {
	skip_rados "dumps a store file found on the local disk"
	put r1 q1 v1
	put r2 q2 v2
	t mkdir -p "$M/t/$(hr_esc_hex 610062)/cf"
	tsh 'printf "x\001y" > "$1"' "$M/t/$(hr_esc_hex 610062)/cf/bin"
	unmount_fs
	ctl flush t >/dev/null
	local f
	f=$(store_files)
	[[ -n $f && $f != *$'\n'* ]]
	run ctl sfile dump "$f"
	assert_success
	assert_line "file $f"
	assert_line --regexp '^trailer version=3 index_off=[0-9]+ index_len=[0-9]+ bloom_off=[0-9]+ bloom_len=[0-9]+ '
	# each cell: its empty O_TRUNC put and its value (one ms apart or one version)
	assert_line --regexp '^info file_size=[0-9]+ entries=[36] rows=3 deletes=0 '
	assert_line --regexp '^first_key row=a\\x00b qualifier=bin '
	assert_line --regexp '^last_key row=r2 qualifier=q2 '
	assert_line --regexp '^bloom present=true hashes=7 bits=[0-9]+$'
	assert_line --regexp '^block offset=0 length=[0-9]+ first_row=a\\x00b first_qualifier=bin codec=none raw_len=[0-9]+$'
	refute_line --partial "cell "
	run ctl sfile dump "$f" --cells
	assert_success
	assert_line --regexp '^cell row=r1 qualifier=q1 ts=[0-9]+ type=put seq=[0-9]+ value_len=2 value=v1 tags_len=43$'
	assert_line --regexp '^cell row=a\\x00b qualifier=bin ts=[0-9]+ type=put seq=[0-9]+ value_len=3 value=x\\x01y '
	run ctl_json 'cells = [c for c in d["cells"] if c["value_len"]]
got = {(c["row"].encode("latin-1"), c["qualifier"]): c["value"].encode("latin-1") for c in cells}
assert got == {(b"r1", "q1"): b"v1", (b"r2", "q2"): b"v2", (b"a\x00b", "bin"): b"x\x01y"}, got
assert d["info"]["rows"] == 3 and d["trailer"]["version"] == 3, d
print("ok")' sfile dump "$f" --cells
	assert_output ok
	# not a store file
	run ctl sfile dump "$HR_DATA/meta/data.mdb"
	assert_failure 1
	run ctl sfile dump "$HR_TMP/none.hsf"
	assert_failure 4
}

@test "hregionctl wal dump shows one record per write: seq, table, row, cells" {
	skip_rados "dumps a WAL segment found on the local disk"
	put r1 q1 v1
	put r2 q2 v2
	tsh 'rm "$1"' "$M/t/r1/cf/q1"
	unmount_fs
	local seg
	seg=$(ls -S "$HR_DATA"/wal/*.wal | head -n 1)
	run ctl wal dump "$seg"
	assert_success
	assert_line --regexp '^record seq=[0-9]+ region=[0-9]+ table=t row=r1$'
	assert_line --regexp '^  cell family=cf qualifier=q1 ts=[0-9]+ type=put value_len=2 value=v1 tags_len=43$'
	assert_line --regexp '^  cell family=cf qualifier=q2 ts=[0-9]+ type=put value_len=2 value=v2 tags_len=43$'
	assert_line --regexp '^  cell family=cf qualifier=q1 ts=[0-9]+ type=delete_column value_len=0 '
	assert_line "state clean"
	run ctl_json 'r = d["records"]
seqs = [x["seq"] for x in r]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
vals = [(x["row"], c["qualifier"], c["type"], c["value"]) for x in r for c in x["cells"] if c["value_len"] or c["type"] != "put"]
assert vals == [("r1", "q1", "put", "v1"), ("r2", "q2", "put", "v2"), ("r1", "q1", "delete_column", "")], vals
assert d["records_read"] == len(r) and d["state"] == "clean", d
print("ok")' wal dump "$seg"
	assert_output ok
	run ctl wal dump "$HR_DATA/meta/data.mdb"
	assert_failure 2
}

@test "hregionctl verify: clean after flush, compaction and split; names each damage" {
	skip_rados "damages local store files (dd, truncate, rm) and plants orphans"
	fill 30 a
	unmount_fs
	ctl flush t >/dev/null
	mount_fs
	fill 30 b
	unmount_fs
	ctl flush t >/dev/null
	ctl split t r2 >/dev/null
	mount_fs
	fill 30 c
	unmount_fs
	ctl flush t >/dev/null
	ctl compact t >/dev/null
	run ctl verify
	assert_success
	assert_line "clean true"
	assert_line "problems_found 0"
	run ctl_json 'assert d["clean"] and d["problems"] == [] and d["store_files_read"] >= 2, d; print("ok")' verify
	assert_output ok

	local files f orphan
	files=$(store_files)
	f=$(head -n 1 <<<"$files")
	# an extra store file nobody references, and a stray entry
	orphan=$(dirname "$f")/00000000000fffff.hsf
	cp "$f" "$orphan"
	run ctl verify
	assert_failure 1
	assert_line "problem unreferenced $orphan detail=\"store file LMDB does not reference\""
	assert_line "clean false"
	P=$orphan run ctl_json 'p = d["problems"]; assert [x["kind"] for x in p] == ["unreferenced"] and p[0]["path"] == os.environ["P"], p; print("ok")' verify
	assert_output ok
	# the report is of what was found, the exit status of what is left
	run ctl verify --repair
	assert_success
	assert_line "problems_found 1"
	assert_line "problems_left 0"
	assert_line --regexp "^moved $orphan $HR_DATA/lost/store~.*~00000000000fffff.hsf$"
	[[ ! -e $orphan ]]
	[[ -e $HR_DATA/lost/$(sed "s|^$HR_DATA/||; s|/|~|g" <<<"$orphan") ]]
	run ctl verify
	assert_success

	# a flipped byte in a data block
	cp "$f" "$HR_TMP/saved.hsf"
	printf '\xAA' | dd of="$f" bs=1 seek=20 conv=notrunc status=none
	run ctl verify
	assert_failure 1
	assert_line "problem corrupt $f detail=\"a data block is unreadable (CRC or entry lengths)\""
	cp "$HR_TMP/saved.hsf" "$f"
	# a truncated one
	truncate -s -7 "$f"
	run ctl verify
	assert_failure 1
	assert_line --regexp "^problem corrupt $f detail=\"does not open"
	# a deleted one
	rm "$f"
	run ctl verify
	assert_failure 1
	assert_line "problem missing $f detail=\"referenced by LMDB, missing on disk\""
	cp "$HR_TMP/saved.hsf" "$f"
	run ctl verify
	assert_success
	mount_fs
	check_cells 30 c
}

@test "hregionctl verify names a corrupt WAL record; --repair moves only orphans" {
	skip_rados "corrupts a local WAL segment with dd"
	local i
	t mkdir -p "$M/t"
	for i in $(seq 1 10); do put "r$i" q "value $i"; done
	unmount_fs
	local seg
	seg=$(ls -S "$HR_DATA"/wal/*.wal | head -n 1)
	run ctl verify
	assert_success
	# a byte inside the first record's payload (header 32 + record header
	# 16): good records follow, so this is corruption, not a torn tail
	cp "$seg" "$HR_TMP/saved.wal"
	printf '\x55' | dd of="$seg" bs=1 seek=60 conv=notrunc status=none
	cmp -s "$seg" "$HR_TMP/saved.wal" && printf '\xAA' | dd of="$seg" bs=1 seek=60 conv=notrunc status=none
	run ctl verify
	assert_failure 1
	assert_line --regexp "^problem corrupt $seg detail=\"1 corrupt stretch\\(es\\), the first at offset 32: "
	run ctl verify --repair
	assert_failure 1
	[[ -e $seg ]]
	[[ ! -e $HR_DATA/lost ]] || [[ -z $(ls -A "$HR_DATA/lost") ]]
	run ctl wal dump "$seg"
	assert_failure 1
	assert_line "state corrupt"
	assert_line "bad_offset 32"
	assert_line --regexp '^record seq=[0-9]+ region=[0-9]+ table=t row=r10$'
	cp "$HR_TMP/saved.wal" "$seg"
	run ctl verify
	assert_success
	# a segment LMDB lists and the disk lacks; one it does not list
	mv "$seg" "$HR_TMP/moved.wal"
	run ctl verify
	assert_failure 1
	assert_line "problem missing $seg detail=\"WAL segment referenced by LMDB, missing on disk\""
	mv "$HR_TMP/moved.wal" "$seg"
	local extra=$HR_DATA/wal/00000000000000ff.wal
	cp "$seg" "$extra"
	run ctl verify
	assert_failure 1
	assert_line --regexp "^problem unreferenced_wal $extra "
	rm "$extra"
	run ctl verify
	assert_success
}

@test "hregionctl --help lists every command; usage errors exit 2" {
	run "$HRCTL_BIN" --help
	assert_success
	local c
	for c in status list describe create alter drop regions flush compact split verify "sfile dump" "wal dump" metrics; do
		assert_line --partial "  $c "
	done
	assert_output --partial "exit codes:"
	unmount_fs
	run ctl
	assert_failure 2
	run ctl frobnicate
	assert_failure 2
	run ctl describe
	assert_failure 2
	run ctl list --force
	assert_failure 2
	run ctl -o nosuchkey=1 list
	assert_failure 2
	run ctl --bogus list
	assert_failure 2
}

@test "hregionctl's bash completion: commands, flags, tables of the directory" {
	put r1 q v
	t mkdir "$M/other"
	unmount_fs
	# complete WORD... — what the completion offers for the last word
	complete_words() {
		(
			# shellcheck source=scripts/hregionctl.bash-completion
			source "$HR_REPO/scripts/hregionctl.bash-completion"
			COMP_WORDS=("$HRCTL_BIN" "$@")
			COMP_CWORD=$#
			_hregionctl
			printf '%s\n' "${COMPREPLY[@]}"
		)
	}
	run complete_words dr
	assert_output drop
	run complete_words sfile ""
	assert_output dump
	run complete_words -o "data_dir=$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}" drop ""
	assert_output $'--json\n--force\nother\nt'
	run complete_words -o "data_dir=$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}" compact --major o
	assert_output other
	run complete_words verify --
	assert_output $'--repair\n--json'
}
