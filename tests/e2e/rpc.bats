#!/usr/bin/env bats
# rpc.bats — the mount as a client (cluster mode) of one region server over
# the RPC, without ZooKeeper: build/hrfs_rpcserve serves a local engine and
# places every table on itself; the mount runs with
# -o cluster=rpc://127.0.0.1:PORT and holds no data.

load helpers

: "${HRFS_RPCSERVE:=$HR_REPO/build/hrfs_rpcserve}"

setup_file() {
	local d=$BATS_FILE_TMPDIR/server i
	mkdir -p "$d/data"
	"$HRFS_RPCSERVE" "$d/data" "$d/port" </dev/null >"$d/log" 2>&1 3>&- &
	echo $! >"$d/pid"
	for ((i = 0; i < 200; i++)); do
		[[ -s $d/port ]] && return 0
		kill -0 "$(cat "$d/pid")" 2>/dev/null || break
		sleep 0.05
	done
	cat "$d/log" >&2
	return 1
}

teardown_file() {
	local d=$BATS_FILE_TMPDIR/server pid
	pid=$(cat "$d/pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
}

setup() {
	HR_OPTS=("cluster=rpc://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/server/port")")
	hr_setup
}

@test "echo, cat, ls and rm through a client-mode mount land on the server" {
	t mkdir "$M/t1"
	t mkdir -p "$M/t1/row1/cf"
	tsh "echo hello > '$M/t1/row1/cf/greeting'"
	run t cat "$M/t1/row1/cf/greeting"
	assert_success
	assert_output hello
	for i in 1 2 3 4 5; do
		t mkdir -p "$M/t1/r$i/cf"
		tsh "printf 'v$i' > '$M/t1/r$i/cf/q'"
	done
	run t ls "$M/t1"
	assert_success
	assert_line row1
	assert_line r3
	run t cat "$M/t1/r3/cf/q"
	assert_output v3
	t rm "$M/t1/row1/cf/greeting"
	run t cat "$M/t1/row1/cf/greeting"
	assert_failure
	run t ls "$M/t1/row1/cf"
	assert_output ""
	# the mount's own data directory holds no table data
	run find "$HR_DATA" -name '*.hsf'
	assert_output ""
}

@test "two client mounts of one server see each other's closed writes" {
	local m2=$HR_TMP/mnt2
	mkdir -p "$m2" "$HR_TMP/data2"
	start_daemon "$m2" "data_dir=$HR_TMP/data2,${HR_OPTS[0]},entry_timeout_s=0" "$HR_LOG"
	HR_EXTRA_MNTS+=("$m2")
	wait_mounted "$m2" "$HR_LAST_PID"
	t mkdir -p "$M/t2/a/cf"
	tsh "echo from-one > '$M/t2/a/cf/x'"
	run t cat "$m2/t2/a/cf/x"
	assert_success
	assert_output from-one
	t mkdir -p "$m2/t2/b/cf"
	tsh "echo from-two > '$m2/t2/b/cf/y'"
	run t cat "$M/t2/b/cf/y"
	assert_output from-two
}

@test "the status tree's stats show the client's counters" {
	run t cat "$M/.hregionfs/stats"
	assert_success
	assert_output --partial "mode client"
	assert_output --partial "rpc_calls"
}

@test "sed -i, mv, cp -r, rsync, tar and rm -r through a client-mode mount" {
	t mkdir -p "$M/u/alice/cf"
	tsh 'printf "%s" "x=1" > "$1"' "$M/u/alice/cf/conf"
	t sed -i 's/x=1/x=2/' "$M/u/alice/cf/conf"
	t mv "$M/u/alice/cf/conf" "$M/u/alice/cf/settings"
	run t ls "$M/u/alice/cf"
	assert_output settings
	run t cat "$M/u/alice/cf/settings"
	assert_output "x=2"
	local src=$HR_TMP/src r q
	for r in r01 r02 r03 r04 r05 r06; do
		mkdir -p "$src/$r/cf"
		for q in a b c; do head -c $((RANDOM % 4000 + 1)) /dev/urandom >"$src/$r/cf/$q"; done
	done
	t mkdir "$M/copied" "$M/synced"
	tlong cp -r "$src/." "$M/copied/"
	tlong diff -r "$src" "$M/copied"
	tlong rsync -r "$src/" "$M/synced/"
	tlong diff -r "$src" "$M/synced"
	mkdir "$HR_TMP/untar"
	tlongsh 'tar -C "$1" -cf - . | tar -C "$2" -xf -' "$M/copied" "$HR_TMP/untar"
	tlong diff -r "$src" "$HR_TMP/untar"
	t rm -r "$M/copied/r01"
	run t ls "$M/copied"
	refute_line r01
	assert_line r02
}
