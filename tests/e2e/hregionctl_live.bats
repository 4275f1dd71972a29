#!/usr/bin/env bats
# hregionctl against a live mount, through the daemon's control socket
# (<data>/ctl.sock): every command, its effect seen in the mount at once,
# and the refusals (verify needs the directory offline, a daemon whose
# socket is gone, another user by the socket's mode and by the daemon's
# peer check, malformed requests that must not stop the daemon).

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

fill() {
	local i
	t mkdir -p "$M/t"
	for i in $(seq 1 "$1"); do
		t mkdir -p "$M/t/r$i/cf"
		tsh 'printf "value %s %s" "$2" "$3" > "$1"' "$M/t/r$i/cf/q" "$i" "$2"
	done
}
check_cells() {
	local i
	for i in $(seq 1 "$1"); do
		run t cat "$M/t/r$i/cf/q"
		assert_output "value $i $2"
	done
}

store_files() { find "$HR_DATA/store" -name '*.hsf' | sort; }

# nobody_ctl ARGS... — hregionctl as user nobody on the test's socket.
# The test's directories are root's (0700, as are bats's own): the socket
# is named through a descriptor of the data directory (which the test
# opens to search, 0711), so only the socket itself (its mode, then the
# daemon) decides.
nobody_ctl() {
	local fd rc=0
	exec {fd}<"$HR_DATA"
	timeout -k 5 "$HR_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$HRCTL_BIN" -s "/proc/self/fd/$fd/ctl.sock" "$@" || rc=$?
	exec {fd}<&-
	return "$rc"
}

@test "live: status, list, describe and regions come from the daemon" {
	t mkdir -p "$M/t/r1/cf"
	tsh 'printf v > "$1"' "$M/t/r1/cf/q"
	[[ -S $HR_DATA/ctl.sock ]]
	[[ $(stat -c %a "$HR_DATA/ctl.sock") == 600 ]]
	run ctl status
	assert_success
	assert_line "mode live"
	assert_line "daemon_pid $HR_PID"
	assert_line "tables 1"
	# the write is in the daemon's memstore, which only it can see
	assert_line --regexp '^memstore_bytes [1-9][0-9]*$'
	run ctl list
	assert_success
	assert_output "table t families=1 regions=1"
	run ctl describe t
	assert_success
	assert_line "  family cf max_versions=3 ttl_ms=0 block_size=65536 bloom=row compression=none keep_deleted_cells=false"
	run ctl regions t
	assert_success
	assert_line --regexp '^region id=[0-9]+ start="" end="" state=open memstore_bytes=[1-9]'
	run ctl_json 'assert d["mode"] == "live" and d["tables"] == 1, d; print("ok")' status
	assert_output ok
	# the socket named directly, from anywhere
	run t "$HRCTL_BIN" --socket "$HR_DATA/ctl.sock" list
	assert_success
	assert_output "table t families=1 regions=1"
	run t "$HRCTL_BIN" --socket="$HR_DATA/ctl.sock" --json list
	assert_output '{"tables":[{"name":"t","families":1,"regions":1}]}'
	run ctl describe nosuch
	assert_failure 1
	assert_output "hregionctl: describe nosuch: no such table"
	run ctl_json 'assert d["exit"] == 1 and "no such table" in d["error"], d; print("ok")' describe nosuch
	assert_output ok
	# usage errors are found by the daemon's parser as by the program's
	run ctl list --force
	assert_failure 2	# --help says where each command runs
	run "$HRCTL_BIN" --help
	assert_success
	assert_line "      tables, regions, store files, memstore, sequence id [live, offline]"
	assert_line --regexp '^      check LMDB against the disk.* \[offline\]$'
	assert_line --regexp '^      a store file.* \[anywhere\]$'
	assert_line --partial "5 the daemon refused this user"
}

@test "live: create is in the mount at once; drop refuses rows, then --force removes it" {
	# a lookup that failed leaves a negative entry in the kernel
	run t ls "$M/u"
	assert_failure
	run ctl create u cf,info info:max_versions=5
	assert_success
	assert_line "created u"
	run t ls "$M"
	assert_output "u"
	t test -d "$M/u"
	t mkdir -p "$M/u/r1/info"
	tsh 'printf one > "$1"' "$M/u/r1/info/q"
	run ctl_json 'f = {x["name"]: x["max_versions"] for x in d["table"]["families"]}; assert f == {"cf": 3, "info": 5}, f; print("ok")' describe u
	assert_output ok
	run ctl create u cf
	assert_failure 1
	assert_output --partial "table exists"

	run ctl drop u
	assert_failure 1
	assert_output --partial "the table has rows"
	run t cat "$M/u/r1/info/q"
	assert_output one
	# a row made by mkdir lives in the mount's memory until a cell arrives
	t mkdir -p "$M/u/r2/cf"
	run t ls "$M/u"
	assert_output $'r1\nr2'
	run ctl drop u --force
	assert_success
	assert_output "dropped u"
	run t ls "$M"
	assert_output ""
	run t cat "$M/u/r1/info/q"
	assert_failure
	run t stat "$M/u"
	assert_failure
	# the name again: a new, empty table, nothing of the old one
	run ctl create u cf
	assert_success
	run t ls "$M/u"
	assert_success
	assert_output ""
	run t cat "$M/u/r1/info/q"
	assert_failure
	# an empty table drops without --force
	run ctl drop u
	assert_success
	run t ls "$M"
	assert_output ""
}

@test "live: flush, compact --major and split beside the mount; dumps of its files" {
	skip_rados "dumps a WAL segment found on the local disk"
	fill 40 a
	local seg
	seg=$(find "$HR_DATA/wal" -maxdepth 1 -name "*.wal" | sort | tail -n 1)
	# the WAL dump reads the segment the daemon appends to; region ids only
	run ctl wal dump "$seg"
	assert_success
	assert_line --regexp '^record seq=[0-9]+ region=[0-9]+ row=r1$'
	[[ -z $(store_files) ]]
	run ctl flush t
	assert_success
	assert_output --regexp '^flushed t memstore_bytes_before=[1-9][0-9]* files=1$'
	run ctl regions t
	assert_line --regexp '^  store cf memstore_bytes=0 files=1 file_bytes=[1-9]'
	fill 40 b
	run ctl_json 'assert d["flushed"]["files"] == 2, d; print("ok")' flush t
	assert_output ok
	[[ $(store_files | wc -l) == 2 ]]
	run ctl compact --major t
	assert_success
	assert_output --regexp '^compacted t major=true files_before=2 files_after=1 '
	local f
	f=$(store_files)
	[[ -n $f && $f != *$'\n'* ]]
	run ctl sfile dump "$f"
	assert_success
	assert_line --regexp '^info file_size=[0-9]+ entries=[0-9]+ rows=40 '
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
	run ctl flush --all
	assert_success
	# the mount reads every cell through the new regions, and writes on
	check_cells 40 b
	fill 40 c
	check_cells 40 c
	remount_fs
	check_cells 40 c
}

@test "live: verify is refused (exit 3); a daemon whose socket is gone names its pid" {
	t mkdir "$M/t"
	run ctl verify
	assert_failure 3
	assert_output --partial "a daemon is serving $HR_DATA (pid $HR_PID); this command needs it offline"
	run ctl --json verify
	assert_failure 3
	run ctl -s "$HR_DATA/ctl.sock" verify
	assert_failure 3
	rm "$HR_DATA/ctl.sock"
	run ctl list
	assert_failure 3
	assert_output --partial "a daemon is serving $HR_DATA (pid $HR_PID), and its control socket $HR_DATA/ctl.sock does not answer"
	run ctl_json 'assert d["exit"] == 3 and "pid" in d["error"], d; print("ok")' status
	assert_output ok
	# the mount goes on; the next mount makes the socket again
	t mkdir "$M/u"
	remount_fs
	run ctl list
	assert_success
	assert_line "table u families=1 regions=1"
	# a stale socket (the daemon was killed) is replaced by the next daemon
	crash_fs
	[[ -S $HR_DATA/ctl.sock ]]
	run ctl list
	assert_success
	assert_line "table u families=1 regions=1"
	mount_fs
	run ctl status
	assert_success
	assert_line "mode live"
}

@test "live: another user is refused, by the socket's mode and by the daemon's peer check" {
	setpriv --version >/dev/null 2>&1 || skip "setpriv is missing"
	[[ $(id -u) == 0 ]] || skip "needs root to run a client as nobody"
	t mkdir "$M/t"
	# nobody may search the directory (not read it): only the socket stops it
	chmod 0711 "$HR_DATA"
	run nobody_ctl list
	assert_failure 5
	assert_output --partial "Permission denied"
	# a socket everyone may connect to: the daemon's check refuses
	unmount_fs
	HREGIONFS_TEST_CTL_SOCKET_MODE=0666 mount_fs
	[[ $(stat -c %a "$HR_DATA/ctl.sock") == 666 ]]
	chmod 0711 "$HR_DATA" # (the daemon made it its own again)
	run nobody_ctl list
	assert_failure 5
	assert_output --partial "refused: the daemon serving $HR_DATA answers only root and uid 0 (you are uid $(id -u nobody))"
	run nobody_ctl --json drop t --force
	assert_failure 5
	run grep -E "refused a connection from uid $(id -u nobody) \(pid [0-9]+\)" "$HR_LOG"
	assert_success
	# nothing was done, and root is still served
	run ctl list
	assert_success
	assert_output "table t families=1 regions=1"
}

# raw_request PYTHON-BYTES — sends these bytes on the socket (then half
# closes) and prints the response: its exit code and stderr, or "none".
raw_request() {
	timeout -k 5 "$HR_TIMEOUT" python3 - "$HR_DATA/ctl.sock" "$1" <<'EOF'
import socket, struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def frame(typ, payload):
    head = struct.pack("<IBB", len(payload) + 6, 1, typ) + payload
    return head + struct.pack("<I", crc32c(head))

s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sys.argv[1])
try:
    s.sendall(eval(sys.argv[2]))
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
buf = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break  # the daemon closed with our unread bytes: after its answer
    if not chunk:
        break
    buf += chunk
if len(buf) < 10:
    print("none")
    sys.exit(0)
n, ver, typ = struct.unpack("<IBB", buf[:6])
assert len(buf) == n + 4 and ver == 1 and typ == 2, buf
assert struct.unpack("<I", buf[-4:])[0] == crc32c(buf[:-4]), "bad crc"
p = buf[6:-4]
code = p[0]
on = struct.unpack("<I", p[1:5])[0]
en = struct.unpack("<I", p[5 + on:9 + on])[0]
print(("%d %s" % (code, p[9 + on:9 + on + en].decode())).strip())
EOF
}

@test "live: malformed requests get an error and the daemon goes on serving" {
	t mkdir "$M/t"
	run raw_request 'b"garbage that is not a frame at all"'
	assert_output --partial "2 hregionctl: the daemon could not read the request"
	run raw_request 'b"\xff\xff\xff\x7f" + b"x" * 100'
	assert_output "2 hregionctl: the daemon could not read the request: Message too long"
	run raw_request 'frame(1, b"\x00\x01\x00\x00\x00\x04\x00\x00\x00list")[:-1] + b"\x00"'
	assert_output --partial "2 hregionctl: the daemon could not read the request"
	run raw_request 'frame(1, b"\x00\x09\x00\x00\x00\x04\x00\x00\x00list")'
	assert_output "2 hregionctl: the daemon could not read the request"
	run raw_request 'frame(2, b"\x00")'
	assert_output --partial "2 hregionctl: the daemon could not read the request"
	run raw_request 'b""'
	assert_output --partial "2 hregionctl: the daemon could not read the request: cut short"
	# a well-formed request, by hand: the same answer as hregionctl's
	run raw_request 'frame(1, b"\x00\x01\x00\x00\x00\x04\x00\x00\x00list")'
	assert_output "0"
	run raw_request 'frame(1, b"\x00\x02\x00\x00\x00\x08\x00\x00\x00describe\x06\x00\x00\x00nosuch")'
	assert_output "1 hregionctl: describe nosuch: no such table"
	grep -q "control socket: a bad request" "$HR_LOG"
	# still serving, and the mount too
	run ctl list
	assert_success
	assert_output "table t families=1 regions=1"
	t mkdir -p "$M/t/r/cf"
	tsh 'printf x > "$1"' "$M/t/r/cf/q"
	run t cat "$M/t/r/cf/q"
	assert_output x
}

@test "live: the mount answers while a command runs in the daemon" {
	skip_rados "waits for a temporary store file on the local disk"
	# every flush sleeps 10 s after its temporary file exists
	unmount_fs
	HREGIONFS_TEST_FLUSH_DELAY_MS=10000 mount_fs
	t mkdir -p "$M/t/r1/cf"
	tsh 'printf one > "$1"' "$M/t/r1/cf/q"
	ctl flush t >"$HR_TMP/flush.out" 2>&1 &
	local pid=$! i
	bg_track "$pid"
	for ((i = 0; i < HR_TIMEOUT * 20; i++)); do
		[[ -n $(find "$HR_DATA/store" -name '*.tmp') ]] && break
		sleep 0.05
	done
	[[ -n $(find "$HR_DATA/store" -name '*.tmp') ]]
	# the flush is inside its delay: reads, writes and a new table go on
	run t cat "$M/t/r1/cf/q"
	assert_output one
	tsh 'printf two > "$1"' "$M/t/r1/cf/q2"
	t mkdir "$M/u"
	run t ls "$M"
	assert_output $'t\nu'
	pid_alive "$pid"
	[[ -n $(find "$HR_DATA/store" -name '*.tmp') ]]
	wait_exit "$pid" "$HR_TIMEOUT"
	[[ $HR_EXIT_STATUS == 0 ]]
	run cat "$HR_TMP/flush.out"
	assert_output --regexp '^flushed t .*files=1$'
}

@test "live: alter applies at once to what the mount shows" {
	t mkdir -p "$M/t/r/cf"
	local v
	for v in one two three; do
		tsh 'printf "%s" "$2" > "$1"' "$M/t/r/cf/q" "$v"
	done
	run t ls "$M/.hregionfs/versions/t/r/cf/q"
	assert_success
	[[ ${#lines[@]} == 3 ]]
	run ctl alter t cf max_versions=1 compression=zstd
	assert_success
	assert_line --partial "family cf max_versions=1 "
	run ctl_json 'f = d["table"]["families"][0]; assert f["max_versions"] == 1 and f["compression"] == "zstd", f; print("ok")' describe t
	assert_output ok
	# reads follow max_versions at once
	run t ls "$M/.hregionfs/versions/t/r/cf/q"
	assert_success
	[[ ${#lines[@]} == 1 ]]
	run t cat "$M/t/r/cf/q"
	assert_output three
	run ctl alter t nosuch max_versions=2
	assert_failure 1
}

@test "live: snapshot, export and import with paths relative to the caller, seen in the mount" {
	fill 5 a
	run ctl snapshot t s
	assert_success
	run ctl list_snapshots t
	assert_success
	assert_output --partial "name=s"
	# a relative DIR is the caller's, not the daemon's (which runs in $HR_TMP)
	mkdir "$HR_TMP/here"
	run tsh 'cd "$1" && exec "$2" -o "data_dir=$3" export_snapshot t s exp' \
		"$HR_TMP/here" "$HRCTL_BIN" "$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}"
	assert_success
	[[ -f $HR_TMP/here/exp/MANIFEST && ! -e $HR_TMP/exp ]]
	run tsh 'cd "$1" && exec "$2" -o "data_dir=$3" import_snapshot exp t2' \
		"$HR_TMP/here" "$HRCTL_BIN" "$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}"
	assert_success
	run t ls "$M"
	assert_output $'t\nt2'
	run t diff -r "$M/t" "$M/t2"
	assert_success
	run ctl delete_snapshot t s
	assert_success
	run ctl export_snapshot t s exp2
	assert_failure 1
	[[ ! -e $HR_TMP/exp2 ]]
}
