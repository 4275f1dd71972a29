# shellcheck shell=bash
# tests/e2e/cluster_helpers.bash — what a cluster-mode .bats file loads
# instead of helpers.bash (it loads helpers.bash itself).
#
# One cluster per file: setup_file starts ZooKeeper, a one-node Ceph and
# HR_CLUSTER_SERVERS hregionfs servers (default 3) with scripts/cluster_up.sh
# under the file's temporary directory; teardown_file always runs
# scripts/cluster_down.sh, also when setup_file failed half-way. Every test
# mounts the cluster in client mode (HR_OPTS gets cluster=...) through
# helpers.bash's hr_setup, and its teardown (hr_teardown) always unmounts:
# fusermount3 -u, then -uz, for the test's own and every extra mount.
#
# A file that needs something else defines its own setup_file and calls
# cluster_setup_file / cluster_teardown_file from it. A file that starts
# no servers (HR_CLUSTER_SERVERS=0) gets ZooKeeper and Ceph only.
#
# Exported to the tests: HR_CLUSTER_DIR, HR_CLUSTER_OPT (cluster=...), and
# from DIR/env HR_ZK, HR_ZK_CHROOT, HR_CEPH_CONF, HR_RADOS_POOL.

load helpers

# A client mount holds no data: storage= is the servers' business, so a
# cluster file runs the same under HREGIONFS_TEST_STORAGE=rados.
HREGIONFS_TEST_STORAGE=local
HR_STORAGE_OPTS=

: "${HR_CLUSTER_UP_TIMEOUT:=180}" # seconds for cluster_up.sh as a whole
: "${HR_CLUSTER_SERVERS:=3}"

# cluster_up_into DIR N — starts a cluster under DIR and prints its
# cluster= option. fd 3 (bats' TAP channel) is closed for the daemons: a
# daemon that held it would keep bats waiting after the last test.
cluster_up_into() {
	local out rc=0
	out=$(timeout -k 10 "$HR_CLUSTER_UP_TIMEOUT" "$HR_REPO/scripts/cluster_up.sh" "$1" "$2" 3>&- 2>"$1.up.err") || rc=$?
	if ((rc != 0)); then
		echo "cluster_up.sh $1 $2 failed (exit $rc):" >&2
		cat "$1.up.err" >&2
		tail -n 30 "$1"/log/*.log "$1"/log/*.out 2>/dev/null >&2
		return 1
	fi
	printf '%s\n' "$out" | tail -n 1
}

cluster_setup_file() {
	export HR_CLUSTER_DIR=$BATS_FILE_TMPDIR/cluster
	local last
	last=$(cluster_up_into "$HR_CLUSTER_DIR" "$HR_CLUSTER_SERVERS") || return 1
	[[ $last == cluster=* ]] || {
		echo "cluster_up.sh did not end with cluster=...: '$last'" >&2
		return 1
	}
	export HR_CLUSTER_OPT=$last
	set -a
	# shellcheck disable=SC1091
	source "$HR_CLUSTER_DIR/env"
	set +a
}

cluster_teardown_file() {
	[[ -n ${HR_CLUSTER_DIR:-} ]] || return 0
	timeout -k 5 60 "$HR_REPO/scripts/cluster_down.sh" "$HR_CLUSTER_DIR"
}

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }

# The test's mount is a client of the file's cluster.
setup() {
	HR_OPTS+=("$HR_CLUSTER_OPT")
	hr_setup
}
teardown() { hr_teardown; }

# mount_client MNT [KEY=VALUE...] — a further client mount of the cluster
# (own data directory, log appended to the test's log); teardown unmounts
# it. Sets HR_LAST_PID.
mount_client() {
	local mnt=$1 opts o
	shift
	mkdir -p "$mnt" "$mnt.data"
	opts="data_dir=$mnt.data,$HR_CLUSTER_OPT"
	for o in "$@"; do opts+=",$o"; done
	HR_EXTRA_MNTS+=("$mnt")
	start_daemon "$mnt" "$opts" "$HR_LOG"
	wait_mounted "$mnt" "$HR_LAST_PID"
}

# cluster_server_pids — the PIDs of the cluster's live servers, one a line.
cluster_server_pids() {
	local f
	for f in "$HR_CLUSTER_DIR"/servers/*.pid; do
		[[ -f $f ]] && pid_alive "$(<"$f")" && cat "$f"
	done
	return 0
}

# wait_until SECONDS CMD... — polls CMD (every 0.1 s) until it succeeds;
# fails after SECONDS. For conditions no hook reports (a znode, a process).
wait_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# ---- ZooKeeper, read from the tests (tests/e2e/zkread.py) -----------------

ZKREAD="$BATS_TEST_DIRNAME/zkread.py"
zk() { timeout 10 python3 "$ZKREAD" "${HR_CLUSTER_OPT#cluster=}" "$@"; }

# regions_by_server — "COUNT server_name" of OPEN regions, most first.
regions_by_server() {
	zk dump /regions | awk '$2 == "OPEN" { n[$3]++ } END { for (s in n) print n[s], s }' | sort -rn
}

# all_open_without SERVER — every region is OPEN on a live server other
# than SERVER (empty: any live server).
all_open_without() {
	local dead=$1 live
	live=$(zk ls /rs) || return 1
	zk dump /regions | awk -v dead="$dead" -v live="$live" '
		BEGIN { split(live, l, "\n"); for (i in l) ok[l[i]] = 1 }
		{ n++; if ($2 != "OPEN" || $3 == dead || !($3 in ok)) bad++ }
		END { exit !(n > 0 && bad == 0) }'
}

# pid_of_server SERVER_NAME — the PID listening on the server's port.
pid_of_server() {
	local port
	port=$(cut -d, -f2 <<<"$1")
	ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# ---- writers -------------------------------------------------------------

# writer DIR TAG LOG [PAD] — writes cells DIR/<TAG>-<i>/cf/q = "<TAG>-<i>"
# followed by PAD dots (0) until LOG's directory holds a file "stop"; after
# each close that returned 0 it reads the cell back. Logs "ack i",
# "eagain i" or "bad i ERROR" a line each.
writer() {
	# exec: the background job's PID is python's own, so bg_track's kill in
	# teardown ends the writer (a surviving writer keeps the mount busy).
	exec python3 - "$@" <<'PY'
import errno, os, sys
d, tag, log = sys.argv[1:4]
pad = int(sys.argv[4]) if len(sys.argv) > 4 else 0
stop = os.path.join(os.path.dirname(log), "stop")
out = open(log, "w", buffering=1)
i = 0
while not os.path.exists(stop):
    i += 1
    row = os.path.join(d, f"{tag}-{i:06d}")
    val = f"{tag}-{i}".encode() + b"." * pad
    try:
        os.makedirs(os.path.join(row, "cf"), exist_ok=True)
        fd = os.open(os.path.join(row, "cf", "q"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, val)
        finally:
            os.close(fd)
    except OSError as e:
        out.write(("eagain %d\n" if e.errno == errno.EAGAIN else "bad %d " + str(e) + "\n") % i)
        continue
    try:
        with open(os.path.join(row, "cf", "q"), "rb") as f:
            got = f.read()
    except OSError as e:
        out.write(("ack %d\neagain-read %d\n" if e.errno == errno.EAGAIN else "ack %d\nbad %d " + str(e) + "\n") % (i, i))
        continue
    out.write("ack %d\n" % i if got == val else "ack %d\nbad %d read %r\n" % (i, i, got))
PY
}

# verify_acked DIR TAG LOG [PAD] — every cell LOG acknowledges reads back
# its value; prints the ones that do not and fails if any.
verify_acked() {
	timeout -k 5 "$HR_LONG_TIMEOUT" python3 - "$@" <<'PY'
import os, sys
d, tag, log = sys.argv[1:4]
pad = int(sys.argv[4]) if len(sys.argv) > 4 else 0
bad = 0
for line in open(log):
    if not line.startswith("ack "):
        continue
    i = int(line.split()[1])
    want = f"{tag}-{i}".encode() + b"." * pad
    try:
        with open(os.path.join(d, f"{tag}-{i:06d}", "cf", "q"), "rb") as f:
            got = f.read()
    except OSError as e:
        got = str(e).encode()
    if got != want:
        bad += 1
        print(f"cell {tag}-{i}: {got[:60]!r}")
sys.exit(1 if bad else 0)
PY
}

acks_above() { [[ $(grep -c '^ack' "$1") -gt $2 ]]; }
