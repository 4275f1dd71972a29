#!/usr/bin/env bats
# Names are a bijection with keys: bytes outside the safe set, '%' and a
# leading '.' are %XX (uppercase hex); only the canonical spelling resolves.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

# roundtrip_qualifier KEY — creates the cell whose qualifier is KEY through
# its escaped name, checks ls shows exactly that spelling and reads it back.
roundtrip_qualifier() {
	local key=$1 name
	name=$(hr_esc "$key")
	t mkdir -p "$M/t/r/cf"
	run tsh 'printf "%s" "$2" > "$1"' "$M/t/r/cf/$name" "value of $name"
	assert_success
	run t ls "$M/t/r/cf"
	assert_success
	assert_output "$name"
	run t cat "$M/t/r/cf/$name"
	assert_success
	assert_output "value of $name"
	# Exactly one spelling per key: the fully escaped one is refused unless
	# it is the canonical one.
	local alt
	alt=$(hr_esc_all "$key")
	if [[ $alt != "$name" ]]; then
		run t stat "$M/t/r/cf/$alt"
		assert_failure
		assert_output --partial "No such file or directory"
		run tsh 'echo v > "$1"' "$M/t/r/cf/$alt"
		assert_failure
		assert_output --partial "Invalid argument"
	fi
	remount_fs
	run t ls "$M/t/r/cf"
	assert_output "$name"
	run t cat "$M/t/r/cf/$name"
	assert_output "value of $name"
}

@test "the test's escaper agrees with the spec on fixed examples" {
	[ "$(hr_esc 'a/b')" = "a%2Fb" ]
	[ "$(hr_esc '50%')" = "50%25" ]
	[ "$(hr_esc '.x.y')" = "%2Ex.y" ]
	[ "$(hr_esc $'l1\nl2')" = "l1%0Al2" ]
	[ "$(hr_esc_hex 0001ff)" = "%00%01%FF" ]
	[ "$(hr_esc plain_name-1.txt)" = "plain_name-1.txt" ]
	[ "$(hr_esc 'a b~+=,@:')" = "a b~+=,@:" ]
	[ "$(hr_esc_hex '')" = "%" ]
}

@test "'/' in a qualifier round-trips as %2F" {
	roundtrip_qualifier "etc/passwd"
	[ "$(hr_esc etc/passwd)" = "etc%2Fpasswd" ]
}

@test "'/' in a row key round-trips as %2F" {
	t mkdir -p "$M/t/com.example%2Findex.html/cf"
	tsh 'echo page > "$1"' "$M/t/com.example%2Findex.html/cf/body"
	run t ls "$M/t"
	assert_output "com.example%2Findex.html"
	remount_fs
	run t cat "$M/t/com.example%2Findex.html/cf/body"
	assert_output "page"
}

@test "'%' round-trips as %25" {
	roundtrip_qualifier "100%"
	run t ls "$M/t/r/cf"
	assert_output "100%25"
}

@test "spaces round-trip (space is a literal byte)" {
	roundtrip_qualifier "a name with spaces"
	run t ls "$M/t/r/cf"
	assert_output "a name with spaces"
}

@test "the empty qualifier is spelled %" {
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo empty-qualifier > "$1"' "$M/t/r/cf/%"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "%"
	remount_fs
	run t cat "$M/t/r/cf/%"
	assert_output "empty-qualifier"
}

@test "newlines round-trip as %0A" {
	roundtrip_qualifier $'line1\nline2'
	run t ls "$M/t/r/cf"
	assert_output "line1%0Aline2"
}

@test "a leading dot is escaped (%2E) and the cell is not hidden" {
	roundtrip_qualifier ".profile"
	run t ls "$M/t/r/cf"
	assert_output "%2Eprofile"
	# An inner dot is literal.
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/a.b.c"
	run t ls "$M/t/r/cf"
	assert_output $'%2Eprofile\na.b.c'
}

@test "keys '.' and '..' round-trip as %2E and %2E." {
	t mkdir -p "$M/t/%2E/cf" "$M/t/%2E./cf"
	tsh 'echo dot > "$1/%2E/cf/%2E"; echo dotdot > "$1/%2E./cf/%2E."' "$M/t"
	run t ls "$M/t"
	assert_output $'%2E\n%2E.'
	run t cat "$M/t/%2E/cf/%2E" "$M/t/%2E./cf/%2E."
	assert_output $'dot\ndotdot'
}

@test "UTF-8 names round-trip (printable UTF-8 is literal)" {
	roundtrip_qualifier "héllo wörld ☃ 日本"
	run t ls "$M/t/r/cf"
	assert_output "héllo wörld ☃ 日本"
}

@test "invalid UTF-8 and C1 controls are escaped" {
	local name
	name=$(hr_esc_hex 61c3c280eda080)
	[ "$name" = "a%C3%C2%80%ED%A0%80" ]
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo v > "$1"' "$M/t/r/cf/$name"
	assert_success
	run t ls "$M/t/r/cf"
	assert_output "$name"
}

@test "binary bytes (NUL, control, 0x7F-0xFF) round-trip" {
	local name
	name=$(hr_esc_hex 00017f80fffe41)
	[ "$name" = "%00%01%7F%80%FF%FEA" ]
	t mkdir -p "$M/t/%00%FF/cf"
	run tsh 'printf bin > "$1"' "$M/t/%00%FF/cf/$name"
	assert_success
	run t ls "$M/t"
	assert_output "%00%FF"
	run t ls "$M/t/%00%FF/cf"
	assert_output "$name"
	remount_fs
	run t cat "$M/t/%00%FF/cf/$name"
	assert_output "bin"
}

@test "rows list in key (byte) order, not name order" {
	# keys: 0x00 < "A" < "a" < 0xFF; names: %00 %FF A a sort differently
	local n
	for n in %FF a %00 A; do
		t mkdir -p "$M/t/$n/cf"
		tsh 'echo x > "$1"' "$M/t/$n/cf/q"
	done
	run t ls -U "$M/t"
	assert_output $'%00\nA\na\n%FF'
}

@test "a malformed or non-canonical name is EINVAL on create" {
	t mkdir -p "$M/t/r/cf"
	local bad
	# lone '%', short escape, bad hex, lowercase hex, an escaped safe byte,
	# an escaped inner dot (only a leading dot is escaped)
	for bad in '50%' 'a%2' 'a%zz' 'a%2f' '%41' 'x%2Ey'; do
		run tsh 'echo v > "$1"' "$M/t/r/cf/$bad"
		assert_failure
		assert_output --partial "Invalid argument"
	done
	run tsh 'echo v > "$1"' "$M/t/r/cf/"$'new\nline'
	assert_failure
	assert_output --partial "Invalid argument"
	run t mkdir "$M/t/row%2f"
	assert_failure
	assert_output --partial "Invalid argument"
	run t ls -A "$M/t/r/cf"
	assert_output ""
}

@test "a non-canonical spelling of an existing key is ENOENT on lookup" {
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1/a%2Fb"; echo w > "$1/A"' "$M/t/r/cf"
	run t stat "$M/t/r/cf/a%2fb"
	assert_failure
	assert_output --partial "No such file or directory"
	run t cat "$M/t/r/cf/%41"
	assert_failure
	assert_output --partial "No such file or directory"
	run t cat "$M/t/r/cf/a%2Fb" "$M/t/r/cf/A"
	assert_output $'v\nw'
}

@test "a 255-byte escaped name works; 256 bytes is ENAMETOOLONG" {
	local n255 n256
	n255=$(printf '%0255d' 0)
	n256=$(printf '%0256d' 0)
	t mkdir -p "$M/t/r/cf"
	run tsh 'echo ok > "$1"' "$M/t/r/cf/$n255"
	assert_success
	run t cat "$M/t/r/cf/$n255"
	assert_output "ok"
	run tsh 'echo no > "$1"' "$M/t/r/cf/$n256"
	assert_failure
	assert_output --partial "File name too long"
	# 85 escaped bytes = 255 characters: fine; the key itself is 85 bytes.
	local k85
	k85=$(printf '%%FF%.0s' $(seq 85))
	run tsh 'echo ff > "$1"' "$M/t/r/cf/$k85"
	assert_success
	run t cat "$M/t/r/cf/$k85"
	assert_output "ff"
}

@test "escaped names round-trip through cp -r to a local directory and back" {
	local names=("a%2Fb" "%2Edot" "50%25" "$(hr_esc 'sp ace')" "%00%FF" "$(hr_esc 'é')")
	local n
	t mkdir -p "$M/t/r/cf"
	for n in "${names[@]}"; do
		tsh 'printf "%s" "$2" > "$1"' "$M/t/r/cf/$n" "v:$n"
	done
	run t cp -r "$M/t" "$HR_TMP/copy"
	assert_success
	run tsh 'ls "$1" | sort' "$HR_TMP/copy/r/cf"
	assert_output "$(printf '%s\n' "${names[@]}" | sort)"
	t mkdir "$M/t2"
	run t cp -r "$HR_TMP/copy/." "$M/t2/"
	assert_success
	run t diff -r "$M/t" "$M/t2"
	assert_success
	for n in "${names[@]}"; do
		run t cat "$M/t2/r/cf/$n"
		assert_output "v:$n"
	done
}

@test "table names follow HBase rules" {
	run t mkdir "$M/good_Name-1.x"
	assert_success
	local bad
	for bad in 'bad name' '-dash' 'a%2Fb' 'semi;colon'; do
		run t mkdir "$M/$bad"
		assert_failure
		assert_output --partial "Invalid argument"
	done
	run t ls "$M"
	assert_output "good_Name-1.x"
}

@test "the empty row key (%) is refused: rows are 1 byte or more" {
	t mkdir "$M/t"
	run t mkdir "$M/t/%"
	assert_failure
	assert_output --partial "Invalid argument"
}
