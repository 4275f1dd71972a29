#!/usr/bin/env bats
# Schema changes with hregionctl alter (offline: the data directory
# unmounted) and store-file compression: a major compaction after
# compression=zstd shrinks a table of text cells and every cell reads back
# identical; a remount reads files written before and after the alter side
# by side; max_versions changed by alter holds through flushes and
# compactions (seen in /.hregionfs/versions/); bad keys, values, tables and
# families are refused with exit 1 and change nothing.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

store_bytes() { find "$HR_DATA/store" -name '*.hsf' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
store_files() { find "$HR_DATA/store" -name '*.hsf' | sort; }

# make_text DIR N — N text files of a few KB (words, as documents are),
# deterministic.
make_text() {
	mkdir -p "$1"
	python3 - "$1" "$2" <<'EOF'
import random, sys
d, n = sys.argv[1], int(sys.argv[2])
words = ("region server store file flush compaction memstore table family row "
         "qualifier version timestamp delete marker bloom filter block index "
         "the a of and to in is that it for on with as").split()
rnd = random.Random(42)
for i in range(n):
    with open(f"{d}/doc{i}.txt", "w") as f:
        lines = []
        for _ in range(rnd.randint(20, 60)):
            lines.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 14))))
        f.write("\n".join(lines) + "\n")
EOF
}

# copy_in SRC PREFIX — each file of SRC into t/PREFIX<i>/cf/text.
copy_in() {
	local f i=0
	for f in "$1"/doc*.txt; do
		i=${f##*/doc}
		i=${i%.txt}
		t mkdir -p "$M/t/$2$i/cf"
		t cp "$f" "$M/t/$2$i/cf/text"
	done
}

# same_as SRC PREFIX — every cell reads back byte for byte.
same_as() {
	local f i n=0
	for f in "$1"/doc*.txt; do
		i=${f##*/doc}
		i=${i%.txt}
		t cmp "$f" "$M/t/$2$i/cf/text" || fail "cell $2$i differs from $f"
		n=$((n + 1))
	done
	((n > 0)) || fail "no source files in $1"
}

@test "alter compression=zstd then compact --major shrinks text cells; every cell reads back" {
	skip_rados "measures the store files' bytes on the local disk"
	make_text "$HR_TMP/src" 150
	copy_in "$HR_TMP/src" r
	unmount_fs
	run ctl flush t
	assert_success
	local before after
	before=$(store_bytes)
	run ctl alter t cf compression=zstd
	assert_success
	assert_line --partial "family cf max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=zstd "
	run ctl describe t
	assert_line --partial "family cf max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=zstd "
	# the alter rewrites nothing: the files stay as they are until compacted
	[[ $(store_bytes) == "$before" ]] || fail "alter changed the files"
	run ctl compact --major t
	assert_success
	after=$(store_bytes)
	echo "# ratio $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a / b }') (store bytes $before -> $after, 150 text cells, zstd)" >&3
	((after < before)) || fail "zstd did not shrink the store: $before -> $after"
	local f
	f=$(store_files)
	[[ $(wc -l <<<"$f") == 1 ]] || fail "not one file after a major compaction: $f"
	run ctl sfile dump "$f"
	assert_success
	assert_line --regexp '^trailer version=3 '
	assert_line --regexp '^block offset=0 length=[0-9]+ first_row=r0 first_qualifier=text codec=zstd raw_len=[0-9]+$'
	refute_line --regexp 'codec=none'
	assert_line --regexp '^compression stored_bytes=[0-9]+ raw_bytes=[0-9]+ ratio=0\.'
	run ctl verify
	assert_success
	mount_fs
	same_as "$HR_TMP/src" r
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "compression=zstd"
}

@test "a remount reads files written before and after alter compression (no compaction)" {
	skip_rados "reads the codec of each local store file"
	make_text "$HR_TMP/old" 40
	copy_in "$HR_TMP/old" a
	unmount_fs
	run ctl flush t
	assert_success
	run ctl alter t cf compression=lz4
	assert_success
	mount_fs
	make_text "$HR_TMP/new" 40
	copy_in "$HR_TMP/new" b
	same_as "$HR_TMP/old" a
	unmount_fs
	run ctl flush t
	assert_success
	local f codecs=''
	while read -r f; do
		run ctl sfile dump "$f"
		assert_success
		if grep -q 'codec=lz4' <<<"$output"; then codecs+=" lz4"; else codecs+=" none"; fi
	done < <(store_files)
	echo "# store files by codec:$codecs" >&3
	[[ $codecs == *none* && $codecs == *lz4* ]] || fail "want an old and a new file, got:$codecs"
	mount_fs
	same_as "$HR_TMP/old" a
	same_as "$HR_TMP/new" b
	remount_fs
	same_as "$HR_TMP/old" a
	same_as "$HR_TMP/new" b
}

now_ms() { date +%s%3N; }
until_after() {
	local i
	for ((i = 0; i < 100000; i++)); do
		(($(now_ms) > $1)) && return 0
	done
	return 1
}

# write_versions N — N overwrites of t/r/cf/q, each at its own millisecond.
write_versions() {
	local i ts
	for ((i = 1; i <= $1; i++)); do
		tsh 'echo "v$2" > "$1"' "$M/t/r/cf/q" "$i"
		ts=$(t ls -U "$M/.hregionfs/versions/t/r/cf/q" | head -n 1)
		[[ $ts =~ ^[0-9]+$ ]] || fail "version name '$ts'"
		until_after "$ts" || fail "the clock does not pass $ts"
	done
}

nversions() { t ls -U "$M/.hregionfs/versions/t/r/cf/q" | wc -l; }

@test "alter max_versions: reads follow at once, flush and major compaction keep the new number" {
	t mkdir -p "$M/t/r/cf"
	write_versions 6
	[[ $(nversions) == 3 ]] || fail "default max_versions: $(nversions) versions"
	unmount_fs
	run ctl flush t
	assert_success
	# raised: the versions no compaction has dropped yet show again
	run ctl alter t cf max_versions=5
	assert_success
	mount_fs
	[[ $(nversions) == 5 ]] || fail "after max_versions=5: $(nversions) versions"
	unmount_fs
	run ctl alter t cf max_versions=2
	assert_success
	run ctl compact --major t
	assert_success
	run ctl alter t cf max_versions=5
	assert_success
	mount_fs
	# the compaction kept 2: raising the number again brings nothing back
	[[ $(nversions) == 2 ]] || fail "after a major compaction at 2: $(nversions) versions"
	run t cat "$M/t/r/cf/q"
	assert_output "v6"
	write_versions 4
	unmount_fs
	run ctl flush t
	assert_success
	run ctl compact --major t
	assert_success
	mount_fs
	[[ $(nversions) == 5 ]] || fail "after 4 more writes at 5: $(nversions) versions"
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "max_versions=5 "
}

@test "alter refuses bad keys, values, tables and families with exit 1 and changes nothing" {
	t mkdir -p "$M/t/r/cf"
	unmount_fs
	local want
	want=$(ctl describe t)
	run ctl alter t cf compression=gzip
	assert_failure 1
	assert_output --partial "compression is none, lz4 or zstd"
	run ctl alter t cf colour=blue
	assert_failure 1
	assert_output --partial "unknown key"
	run ctl alter t cf max_versions=0
	assert_failure 1
	assert_output --partial "bad value"
	run ctl alter t cf block_size=1
	assert_failure 1
	run ctl alter t cf nonsense
	assert_failure 1
	# one bad argument: the good ones before it are not applied either
	run ctl alter t cf max_versions=9 bloom=maybe
	assert_failure 1
	run ctl alter nosuch cf max_versions=2
	assert_failure 1
	assert_output --partial "no such table"
	run ctl alter t nosuch max_versions=2
	assert_failure 1
	assert_output --partial "no family 'nosuch'"
	run ctl alter t cf
	assert_failure 2
	[[ $(ctl describe t) == "$want" ]] || fail "a refused alter changed the schema"
	# both spellings of the TTL, and JSON
	run ctl --json alter t cf ttl=86400000 block_size=16K bloom=none keep_deleted_cells=true
	assert_success
	python3 -c 'import json,sys; d=json.loads(sys.argv[1])["altered"]; f=d["families"][0]
assert d["table"] == "t" and f["ttl_ms"] == 86400000 and f["block_size"] == 16384, d
assert f["bloom"] == "none" and f["keep_deleted_cells"] is True and f["compression"] == "none", d' "$output"
	run ctl alter t cf ttl_ms=0
	assert_success
	assert_line --partial "ttl_ms=0 block_size=16384 bloom=none compression=none keep_deleted_cells=true"
	# create takes compression too
	run ctl create t2 a,b a:compression=lz4
	assert_success
	run ctl describe t2
	assert_line --partial "family a max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=lz4 "
	assert_line --partial "family b max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=none "
}

@test "default_compression: families made by mkdir compress their files" {
	skip_rados "reads the codec of each local store file"
	remount_fs default_compression=zstd
	make_text "$HR_TMP/src" 20
	copy_in "$HR_TMP/src" r
	run t cat "$M/.hregionfs/tables/t/schema"
	assert_output --partial "compression=zstd"
	unmount_fs
	run ctl flush t
	assert_success
	run ctl sfile dump "$(store_files | head -n 1)"
	assert_line --regexp 'codec=zstd'
	mount_fs
	same_as "$HR_TMP/src" r
}
