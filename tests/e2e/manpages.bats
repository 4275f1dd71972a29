#!/usr/bin/env bats
# The man pages (scripts/hregionfs.8, scripts/hregionctl.8) against what
# the programs and hregionfs.ini say, so that neither can change alone:
#   - every command of `hregionctl --help` is an entry of hregionctl(8)'s
#     COMMANDS, and every entry there is a command of --help; each entry
#     says where it runs (its paragraph starts "Offline", "Live" or
#     "Anywhere");
#   - every --flag of `hregionctl --help` appears in hregionctl(8);
#   - every option of each program's --help is an entry of its OPTIONS;
#   - every `key =` line of hregionfs.ini (commented or not) is an entry of
#     hregionfs(8)'s CONFIGURATION, with the same default when the line is
#     not commented, and no other key is;
#   - `make install DESTDIR=...` puts the pages, the completion and the
#     programs where they belong;
#   - the bash completion offers every command of --help.
# The pages are read from their source (tests/e2e/roff_tags.py), so no
# groff is needed; only the rendering test uses it, when it is installed.

load helpers

FS_MAN=$HR_REPO/scripts/hregionfs.8
CTL_MAN=$HR_REPO/scripts/hregionctl.8
SRV_MAN=$HR_REPO/scripts/hregionfs-server.8
SRV_BIN=$(dirname "$HRCTL_BIN")/hregionfs-server
INI=$HR_REPO/hregionfs.ini
ROFF="python3 $HR_REPO/tests/e2e/roff_tags.py"

# No mount: these tests only read files and run --help.
setup() {
	HR_TMP=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/hr.XXXXXX")
}
teardown() {
	rm -rf "$HR_TMP"
}

# lead_words — the leading lowercase words of each input line: the name of
# a command ("sfile dump FILE" -> "sfile dump", "flush TABLE|--all" -> "flush").
lead_words() {
	awk '{ n = ""; for (i = 1; i <= NF && $i ~ /^[a-z][a-z0-9_-]*$/; i++) n = n (n == "" ? "" : " ") $i; print n }'
}

# help_commands — the commands listed by hregionctl --help (the lines under the
# "commands" heading, indented by two spaces; descriptions are indented more).
help_commands() {
	t "$HRCTL_BIN" --help | awk '/^commands/ { c = 1; next } /^[^ ]/ { c = 0 } c && /^  [^ ]/' |
		lead_words | sort -u
}

# help_options PROGRAM — the options of PROGRAM --help, one per line: "-c",
# "--help", or "-o NAME" for "-o NAME=VALUE" (the lines under "options:"
# that start with a dash, up to the first blank line).
help_options() {
	t "$1" --help | awk '/^options:/ { o = 1; next } /^$/ { o = 0 } o && /^  -/' |
		sed -E 's/^  //; s/   +.*//' | tr ',' '\n' | sed -E 's/^ +//' |
		sed -E 's/^(-o [^ =]+).*/\1/; t; s/^([^ =]+).*/\1/'
}

# man_tags PAGE SECTION — the tags of the entries of SECTION, plain text.
man_tags() { $ROFF tags "$1" "$2" | cut -f1; }

# ini_keys [--set] — every key of hregionfs.ini (a `key = value` line,
# commented or not: "; metrics_listen = 127.0.0.1:9110" is a key, prose such
# as "; compression=zstd (...)" is not); with --set only the uncommented
# ones, as "key = value".
ini_keys() {
	if [[ ${1:-} == --set ]]; then
		sed -nE 's/^([a-z_][a-z0-9_]*)[ \t]*=[ \t]*(.*[^ \t])[ \t]*$/\1 = \2/p' "$INI"
	else
		sed -nE 's/^[;#]?[ \t]*([a-z_][a-z0-9_]*) =( .*)?$/\1/p' "$INI" | sort -u
	fi
}

@test "the parsers find what they look for (an empty list would pass everything)" {
	run help_commands
	assert_success
	assert_line 'status'
	assert_line 'sfile dump'
	assert_line 'verify'
	run man_tags "$CTL_MAN" COMMANDS
	assert_line 'sfile dump FILE [--cells]'
	assert_line 'flush TABLE|--all'
	run help_options "$HREGIONFS_BIN"
	assert_line '-c'
	assert_line '-o data_dir'
	assert_line '-o no_default_permissions'
	assert_line '--version'
	run ini_keys
	assert_line 'data_dir'
	assert_line 'retry_pause_ms'
	[[ $(ini_keys | wc -l) -ge 30 ]]
	run ini_keys --set
	assert_line 'durability = os'
}

@test "every command of hregionctl --help is in hregionctl(8), and no other" {
	help_commands >"$HR_TMP/help"
	man_tags "$CTL_MAN" COMMANDS | lead_words | sort -u >"$HR_TMP/man"
	run comm -3 "$HR_TMP/help" "$HR_TMP/man"
	# left column: in --help only; right (indented): in the man page only
	assert_output ''
}

@test "each command of hregionctl(8) says whether it runs offline, live or anywhere" {
	run bash -c "$ROFF tags '$CTL_MAN' COMMANDS | awk -F '\t' '\$2 !~ /^(Offline|Live|Anywhere)/ { print \$1 }'"
	assert_success
	assert_output ''
}

@test "every --flag of hregionctl --help appears in hregionctl(8)" {
	local flag missing=()
	t "$HRCTL_BIN" --help >"$HR_TMP/help"
	$ROFF text "$CTL_MAN" >"$HR_TMP/man.txt"
	while read -r flag; do
		grep -qF -- "$flag" "$HR_TMP/man.txt" || missing+=("$flag")
	done < <(grep -oE -- '--[a-z][a-z-]*' "$HR_TMP/help" | sort -u)
	[[ $(grep -coE -- '--[a-z]' "$HR_TMP/help") -ge 5 ]]
	run echo "${missing[*]}"
	assert_output ''
}

@test "every option of each program's --help is in the OPTIONS of its page" {
	local prog bin page opt missing=()
	for prog in hregionfs hregionctl hregionfs-server; do
		case $prog in
		hregionfs) bin=$HREGIONFS_BIN page=$FS_MAN ;;
		hregionctl) bin=$HRCTL_BIN page=$CTL_MAN ;;
		*) bin=$SRV_BIN page=$SRV_MAN ;;
		esac
		man_tags "$page" OPTIONS | tr ',' '\n' | sed -E 's/^ +//' >"$HR_TMP/tags"
		while read -r opt; do
			# a tag names the option when it starts with it: "-o data_dir=DIR"
			# names "-o data_dir", "-c CONFIG" names "-c"
			awk -v o="$opt" 'index($0, o) == 1 && (length($0) == length(o) ||
				substr($0, length(o) + 1, 1) ~ /[ =[]/) { f = 1 } END { exit !f }' \
				"$HR_TMP/tags" || missing+=("$prog: $opt")
		done < <(help_options "$bin")
	done
	run echo "${missing[*]}"
	assert_output ''
}

@test "every key of hregionfs.ini is in hregionfs(8) with its default, and no other key" {
	local kv
	ini_keys >"$HR_TMP/ini"
	man_tags "$FS_MAN" CONFIGURATION >"$HR_TMP/tags"
	sed -E 's/^([a-z_][a-z0-9_]*).*/\1/' "$HR_TMP/tags" | sort -u >"$HR_TMP/man"
	run comm -3 "$HR_TMP/ini" "$HR_TMP/man"
	assert_output ''
	# an uncommented line is the default: the page shows the same
	while read -r kv; do
		grep -qxF -- "$kv" "$HR_TMP/tags" || echo "default differs: ini '$kv'"
	done < <(ini_keys --set) >"$HR_TMP/diff"
	run cat "$HR_TMP/diff"
	assert_output ''
}

@test "the pages name the version the programs print" {
	local v
	v=$(t "$HRCTL_BIN" --version | awk '{ print $2 }')
	[[ -n $v ]]
	run t "$HREGIONFS_BIN" --version
	assert_line "hregionfs $v"
	grep -qE "^\.TH HREGIONFS 8 \"[^\"]*\" \"hregionfs $v\"" "$FS_MAN"
	grep -qE "^\.TH HREGIONCTL 8 \"[^\"]*\" \"hregionfs $v\"" "$CTL_MAN"
	run t "$SRV_BIN" --version
	assert_line "hregionfs-server $v"
	grep -qE "^\.TH HREGIONFS-SERVER 8 \"[^\"]*\" \"hregionfs $v\"" "$SRV_MAN"
}

@test "every key hregionfs-server(8) names in CONFIGURATION is a key of hregionfs.ini" {
	local k missing=() n=0
	while read -r k; do
		n=$((n + 1))
		ini_keys | grep -qx "$k" || missing+=("$k")
	done < <(man_tags "$SRV_MAN" CONFIGURATION | tr ',' '\n' | sed -E 's/^ +//; s/ +$//')
	((n >= 8))
	run echo "${missing[*]}"
	assert_output ''
}

@test "make install DESTDIR=... installs the programs, both man pages and the completion" {
	local d=$HR_TMP/root build
	build=$(dirname "$HREGIONFS_BIN")
	# -o: install what is built, never rebuild (a test must not compile)
	run t make -C "$HR_REPO" --no-print-directory BUILD="$build" -o "$build/hregionfs" \
		-o "$build/hregionctl" -o "$build/hregionfs-server" install DESTDIR="$d" PREFIX=/usr
	assert_success
	[[ -x $d/usr/bin/hregionfs && -x $d/usr/bin/hregionctl && -x $d/usr/sbin/hregionfs-server ]]
	cmp "$SRV_MAN" "$d/usr/share/man/man8/hregionfs-server.8"
	cmp "$FS_MAN" "$d/usr/share/man/man8/hregionfs.8"
	cmp "$CTL_MAN" "$d/usr/share/man/man8/hregionctl.8"
	cmp "$HR_REPO/scripts/hregionctl.bash-completion" \
		"$d/usr/share/bash-completion/completions/hregionctl"
	[[ $(stat -c %a "$d/usr/share/man/man8/hregionfs.8") == 644 ]]
	# compressed, as packages ship them
	run t make -C "$HR_REPO" --no-print-directory BUILD="$build" -o "$build/hregionfs" \
		-o "$build/hregionctl" -o "$build/hregionfs-server" install DESTDIR="$d.gz" PREFIX=/usr MAN_GZIP=1
	assert_success
	gzip -dc "$d.gz/usr/share/man/man8/hregionctl.8.gz" | cmp - "$CTL_MAN"
	gzip -dc "$d.gz/usr/share/man/man8/hregionfs.8.gz" | cmp - "$FS_MAN"
	[[ ! -e $d.gz/usr/share/man/man8/hregionfs.8 ]]
}

@test "the pages render without groff warnings (when groff is installed)" {
	command -v groff >/dev/null || skip "groff is not installed"
	local page
	for page in "$FS_MAN" "$CTL_MAN" "$SRV_MAN"; do
		run t groff -man -Tutf8 -ww -z "$page"
		assert_success
		assert_output ''
	done
}

@test "the bash completion offers every command of hregionctl --help" {
	local cmd missing=() words
	# the words completed in first position: the "''" case of _hregionctl
	words=$(awk "/^\t'')/ { c = 1; next } c && /;;/ { exit } c" \
		"$HR_REPO/scripts/hregionctl.bash-completion")
	words=${words//words=/}
	words=" $(tr -d '"' <<<"$words" | tr -s '[:space:]' ' ') "
	[[ $words == *" status "* ]]
	while read -r cmd; do
		[[ $words == *" ${cmd%% *} "* ]] || missing+=("$cmd")
	done < <(help_commands)
	run echo "${missing[*]}"
	assert_output ''
}

# help_modes — "NAME<TAB>MODES" for each command of hregionctl --help, MODES
# being the "[live, offline]" that ends its description.
help_modes() {
	t "$HRCTL_BIN" --help | awk '
		/^commands/ { c = 1; next }
		/^[^ ]/ { c = 0 }
		c && /^  [^ ]/ { name = ""; for (i = 1; i <= NF && $i ~ /^[a-z][a-z0-9_-]*$/; i++) name = name (name == "" ? "" : " ") $i }
		c && /^      / && match($0, /\[[a-z, ]+\]$/) { print name "\t" substr($0, RSTART + 1, RLENGTH - 2) }' |
		sort
}

@test "where each command runs is the same in hregionctl --help and hregionctl(8)" {
	help_modes >"$HR_TMP/help"
	[[ $(wc -l <"$HR_TMP/help") -eq $(help_commands | wc -l) ]]
	# the man page's paragraph starts "Live or offline.", "Offline only ...",
	# "Anywhere."; --help says "live, offline", "offline", "anywhere"
	$ROFF tags "$CTL_MAN" COMMANDS | awk -F '\t' '{
		n = split($1, w, " "); name = ""
		for (i = 1; i <= n && w[i] ~ /^[a-z][a-z0-9_-]*$/; i++) name = name (name == "" ? "" : " ") w[i]
		m = tolower($2); sub(/[.;:(].*/, "", m); sub(/ +$/, "", m); sub(/ only$/, "", m); gsub(/ or /, ", ", m)
		print name "\t" m }' | sort >"$HR_TMP/man"
	run diff "$HR_TMP/help" "$HR_TMP/man"
	assert_output ''
}
