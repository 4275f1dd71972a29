# shellcheck shell=bash
# tests/e2e/helpers.bash — shared setup and teardown of the hregionfs
# end-to-end tests (bats-core + bats-support + bats-assert).
#
# Every test gets its own temporary directory holding a data directory, a
# mountpoint and the daemon's log, and a daemon started with -f in the
# background of the test shell (so its PID is known and it can be killed
# with -9 for crash tests). Teardown always unmounts and reaps it, even when
# the test failed half-way; the daemon log is printed when a test fails.
#
# Every command that touches the mount runs under `timeout` (the `t`, `tsh`
# and `tlong` wrappers): a hung FUSE request fails its test instead of
# hanging the suite.
#
# A .bats file may set HR_OPTS=(key=value ...) after `load helpers` to mount
# every test of the file with extra -o options, or define its own setup().
#
# HREGIONFS_TEST_STORAGE=rados runs the suite with storage=rados: every
# daemon start_daemon starts and every hregionctl run of `ctl` gets
# -o storage=rados,ceph_conf=$HR_CEPH_CONF,rados_pool=$HR_RADOS_POOL (the
# default rados_namespace is the data directory's path, so each test is
# isolated), and teardown removes the objects of every namespace below the
# test's directory. A test that looks at local store files skips there
# (skip_rados "why").

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# Error messages are compared literally ("File name too long") and ls must
# print names bytewise.
export LC_ALL=C

HR_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${HREGIONFS_BIN:=$HR_REPO/build/hregionfs}"
# The daemon runs in the test's own directory (so that it never picks up a
# ./hregionfs.ini from wherever bats was started): make the path absolute.
[[ $HREGIONFS_BIN == */* && $HREGIONFS_BIN != /* ]] && HREGIONFS_BIN=$PWD/$HREGIONFS_BIN
: "${HRCTL_BIN:=$HR_REPO/build/hregionctl}"
[[ $HRCTL_BIN == */* && $HRCTL_BIN != /* ]] && HRCTL_BIN=$PWD/$HRCTL_BIN
: "${HR_TIMEOUT:=20}"		# seconds, one command
# seconds, one long workload (storage=rados: each acknowledged write waits
# for a RADOS round trip, and the long workloads outgrew 120 s there)
if [[ ${HREGIONFS_TEST_STORAGE:-local} == rados ]]; then
	: "${HR_LONG_TIMEOUT:=300}"
else
	: "${HR_LONG_TIMEOUT:=120}"
fi
: "${HR_MOUNT_WAIT:=10}"	# seconds until the mount must show
: "${HR_EXIT_WAIT:=20}"		# seconds until an unmounted daemon must exit
# A last resort per test (bats kills the test's processes when it expires);
# every command also has its own, shorter timeout (longer under rados, as
# HR_LONG_TIMEOUT).
if [[ ${HREGIONFS_TEST_STORAGE:-local} == rados ]]; then
	: "${BATS_TEST_TIMEOUT:=600}"
else
	: "${BATS_TEST_TIMEOUT:=300}"
fi
HR_OPTS=()
: "${HREGIONFS_TEST_STORAGE:=local}"
HR_STORAGE_OPTS=
if [[ $HREGIONFS_TEST_STORAGE == rados ]]; then
	HR_STORAGE_OPTS="storage=rados,ceph_conf=${HR_CEPH_CONF:-},rados_pool=${HR_RADOS_POOL:-}"
fi

# skip_rados WHY — skips the test under HREGIONFS_TEST_STORAGE=rados; WHY
# names what it inspects on the local disk that RADOS holds instead.
skip_rados() {
	[[ $HREGIONFS_TEST_STORAGE != rados ]] || skip "storage=rados: $1"
}

# rados_purge DIR — removes the RADOS objects of every namespace that is
# DIR or below it (the data directories of a test under storage=rados).
rados_purge() {
	local dir ns obj
	dir=$(realpath "$1" 2>/dev/null) || return 0
	local -A byns=()
	while IFS=$'\t' read -r ns obj; do
		[[ $ns == "$dir" || $ns == "$dir"/* ]] && byns[$ns]+="$obj"$'\n'
	done < <(timeout -k 2 30 rados -c "$HR_CEPH_CONF" -p "$HR_RADOS_POOL" --all ls 2>/dev/null)
	for ns in "${!byns[@]}"; do
		printf '%s' "${byns[$ns]}" | timeout -k 2 60 xargs -r -d '\n' \
			rados -c "$HR_CEPH_CONF" -p "$HR_RADOS_POOL" -N "$ns" rm 2>/dev/null || true
	done
}

t() { timeout -k 5 "$HR_TIMEOUT" "$@"; }
tlong() { timeout -k 5 "$HR_LONG_TIMEOUT" "$@"; }
# tsh 'SCRIPT' ARG... — a shell snippet (redirections, loops) under timeout;
# the arguments are $1... inside the snippet.
tsh() {
	local script=$1
	shift
	timeout -k 5 "$HR_TIMEOUT" bash -c "$script" tsh "$@"
}
tlongsh() {
	local script=$1
	shift
	timeout -k 5 "$HR_LONG_TIMEOUT" bash -c "$script" tsh "$@"
}

# hrfs_t ARG... — runs the daemon binary in the foreground of the test
# under timeout, from the test's directory (no stray ./hregionfs.ini).
hrfs_t() {
	(cd "$HR_TMP" && exec timeout -k 5 "$HR_TIMEOUT" "$HREGIONFS_BIN" "$@")
}

# Succeeds if MNT is in /proc/mounts. Never touches the mount itself, so it cannot
# block on a hung daemon.
is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# pid_alive PID — true while any thread of PID has not finished exiting. A
# zombie still answers kill -0, and a killed multithreaded process shows a
# zombie leader while its other threads are still exiting (`wait` blocks on
# them), so the state of every thread is read. Only builtins read /proc, and
# a file that cannot be read means that thread is gone: a process reaped
# between two reads is dead, never alive (a grep that found status gone used
# to count as alive: killed daemons were reported "still alive 20s after
# kill -9" a few ms after the kill).
pid_alive() {
	local stat line
	[[ -n ${1:-} ]] || return 1
	for stat in /proc/"$1"/task/*/stat; do
		read -r line 2>/dev/null <"$stat" || continue
		line=${line##*) } # the state follows the last ") " (comm may hold spaces)
		[[ ${line%% *} == [ZX] ]] || return 0
	done
	return 1
}

# wait_exit PID SECONDS — waits for PID to exit; reaps it and stores its
# status in HR_EXIT_STATUS. Returns 1 if it is still alive after SECONDS.
wait_exit() {
	local pid=$1 secs=$2 i
	HR_EXIT_STATUS=
	for ((i = 0; i < secs * 20; i++)); do
		pid_alive "$pid" || break
		sleep 0.05
	done
	pid_alive "$pid" && return 1
	HR_EXIT_STATUS=0
	wait "$pid" 2>/dev/null || HR_EXIT_STATUS=$?
	return 0
}

hr_log() { printf '=== %s %s\n' "$(date +%T.%N)" "$*" >>"$HR_LOG"; }

# start_daemon MNT OPTS LOG — starts the daemon in the foreground (-f) as a
# background job; sets HR_LAST_PID. fd 3 is closed so bats does not wait for
# the job.
start_daemon() {
	local mnt=$1 opts=$2 log=$3
	[[ -n $HR_STORAGE_OPTS ]] && opts+=",$HR_STORAGE_OPTS"
	hr_log "start $HREGIONFS_BIN -f -o $opts $mnt"
	# cd in a subshell that execs: $! is the daemon itself. The directory
	# holds no hregionfs.ini, so only the -o options apply.
	(cd "$HR_TMP" && exec "$HREGIONFS_BIN" -f -o "$opts" "$mnt") </dev/null >>"$log" 2>&1 3>&- &
	HR_LAST_PID=$!
	HR_PIDS+=("$HR_LAST_PID")
}

# wait_mounted MNT PID — bounded wait for the mount to appear.
wait_mounted() {
	local mnt=$1 pid=$2 i
	for ((i = 0; i < HR_MOUNT_WAIT * 20; i++)); do
		is_mounted "$mnt" && return 0
		if ! pid_alive "$pid"; then
			wait_exit "$pid" 1 || true
			echo "hregionfs (pid $pid) exited with status $HR_EXIT_STATUS before mounting $mnt" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "hregionfs (pid $pid) did not mount $mnt within ${HR_MOUNT_WAIT}s" >&2
	return 1
}

# mount_fs [KEY=VALUE...] — mounts HR_DATA on HR_MNT with HR_OPTS plus the
# given options.
mount_fs() {
	local opts="data_dir=$HR_DATA" o
	for o in "${HR_OPTS[@]}" "$@"; do
		opts+=",$o"
	done
	if is_mounted "$HR_MNT"; then
		echo "mount_fs: $HR_MNT is already mounted" >&2
		return 1
	fi
	start_daemon "$HR_MNT" "$opts" "$HR_LOG"
	HR_PID=$HR_LAST_PID
	wait_mounted "$HR_MNT" "$HR_PID"
}

# unmount_fs — clean unmount (fusermount3 -u); fails unless the daemon then
# exits by itself with status 0, as the issue requires.
unmount_fs() {
	hr_log "fusermount3 -u $HR_MNT"
	if ! t fusermount3 -u "$HR_MNT" >>"$HR_LOG" 2>&1; then
		echo "fusermount3 -u $HR_MNT failed (busy?); detaching lazily" >&2
		t fusermount3 -uz "$HR_MNT" >>"$HR_LOG" 2>&1 || true
		return 1
	fi
	if ! wait_exit "$HR_PID" "$HR_EXIT_WAIT"; then
		echo "hregionfs (pid $HR_PID) still running ${HR_EXIT_WAIT}s after unmount" >&2
		return 1
	fi
	hr_log "daemon $HR_PID exited with status $HR_EXIT_STATUS"
	if [[ $HR_EXIT_STATUS != 0 ]]; then
		echo "hregionfs exited with status $HR_EXIT_STATUS after a clean unmount" >&2
		return 1
	fi
}

remount_fs() {
	unmount_fs && mount_fs "$@"
}

# kill_daemon — SIGKILL the daemon and reap it; the mount is left dead
# ("Transport endpoint is not connected") until detach_fs. A killed daemon
# must be gone at once: one that is not within 20s fails the test, after its
# threads' kernel stacks are printed and its connection is aborted (so that
# teardown can clean up).
kill_daemon() {
	hr_log "kill -9 $HR_PID"
	kill -9 "$HR_PID" 2>/dev/null || true
	wait_exit "$HR_PID" 20 && return 0
	echo "hregionfs (pid $HR_PID) still alive 20s after kill -9; its threads:" >&2
	dump_threads "$HR_PID" >&2
	abort_conn "$HR_MNT"
	wait_exit "$HR_PID" 20 || echo "hregionfs (pid $HR_PID) survives kill -9 and a connection abort" >&2
	return 1
}

# abort_conn MNT — aborts the FUSE connection of MNT: every request waiting
# on it fails, and a daemon blocked in the kernel on one of them is freed.
# Through fusectl when it is mounted, else fusermount3 -uz (which aborts
# only once nothing uses the mount any more).
abort_conn() {
	local dev
	dev=$(awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
	if [[ -n $dev && -w /sys/fs/fuse/connections/${dev#*:}/abort ]]; then
		echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort"
	else
		t fusermount3 -uz "$1" >>"$HR_LOG" 2>&1 || true
	fi
}

# dump_threads PID — state, wait channel and kernel stack of every thread,
# for a process that does not die.
dump_threads() {
	local task
	echo "  $(grep -E '^(State|Threads):' /proc/"$1"/status 2>/dev/null | tr '\n' ' ')"
	for task in /proc/"$1"/task/*; do
		[[ -d $task ]] || continue
		echo "  thread ${task##*/}: $(awk '{ print $3 }' "$task/stat" 2>/dev/null) wchan=$(cat "$task/wchan" 2>/dev/null)"
		sed 's/^/      /' "$task/stack" 2>/dev/null | head -12
	done
}

detach_fs() {
	hr_log "fusermount3 -u $HR_MNT (dead daemon)"
	t fusermount3 -u "$HR_MNT" >>"$HR_LOG" 2>&1 ||
		t fusermount3 -uz "$HR_MNT" >>"$HR_LOG" 2>&1
	! is_mounted "$HR_MNT"
}

# crash_fs — kill -9 the daemon, then detach the dead mount.
crash_fs() {
	kill_daemon && detach_fs
}

hr_setup() {
	local base=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
	HR_TMP=$(mktemp -d "$base/hr.XXXXXX")
	HR_DATA=$HR_TMP/data
	HR_MNT=$HR_TMP/mnt
	HR_LOG=$HR_TMP/daemon.log
	HR_PIDS=()
	HR_BG_PIDS=()
	HR_EXTRA_MNTS=()
	# shellcheck disable=SC2034 # M: the mountpoint, short, for the tests
	M=$HR_MNT
	mkdir -p "$HR_DATA" "$HR_MNT"
	: >"$HR_LOG"
	if [[ ! -x $HREGIONFS_BIN ]]; then
		echo "hregionfs binary $HREGIONFS_BIN not found: run make first" >&2
		return 1
	fi
	if [[ $HREGIONFS_TEST_STORAGE == rados && (-z ${HR_CEPH_CONF:-} || -z ${HR_RADOS_POOL:-}) ]]; then
		echo "HREGIONFS_TEST_STORAGE=rados needs HR_CEPH_CONF and HR_RADOS_POOL" >&2
		return 1
	fi
	mount_fs
}

# bg_track PID — a background helper (writer, reader) of the test; teardown
# kills it if it is still running, so that it cannot keep the mount busy.
bg_track() { HR_BG_PIDS+=("$1"); }

hr_teardown() {
	local mnt pid rc=0 main_alive=0 main_clean=0
	cd / || true
	for pid in "${HR_BG_PIDS[@]}"; do
		if pid_alive "$pid"; then
			kill -9 "$pid" 2>/dev/null || true
			wait_exit "$pid" 5 || true
		fi
	done
	# The test's own mount first: a clean unmount must end the daemon with
	# status 0 (a crash or a sanitizer report at exit fails the test).
	pid_alive "${HR_PID:-}" && main_alive=1
	if [[ -n ${HR_MNT:-} ]] && is_mounted "$HR_MNT"; then
		if timeout -k 2 15 fusermount3 -u "$HR_MNT" >>"$HR_LOG" 2>&1; then
			main_clean=1
		else
			timeout -k 2 10 fusermount3 -uz "$HR_MNT" >>"$HR_LOG" 2>&1 || true
		fi
	fi
	if ((main_alive)); then
		if ! wait_exit "$HR_PID" "$HR_EXIT_WAIT"; then
			echo "teardown: hregionfs pid $HR_PID did not exit ${HR_EXIT_WAIT}s after unmount; kill -9" >&2
			kill -9 "$HR_PID" 2>/dev/null || true
			wait_exit "$HR_PID" 5 || true
			rc=1
		elif ((main_clean)) && [[ $HR_EXIT_STATUS != 0 ]]; then
			echo "teardown: hregionfs exited with status $HR_EXIT_STATUS after a clean unmount" >&2
			rc=1
		fi
	fi
	for mnt in "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] || continue
		if is_mounted "$mnt"; then
			timeout -k 2 15 fusermount3 -u "$mnt" >>"$HR_LOG" 2>&1 ||
				timeout -k 2 10 fusermount3 -uz "$mnt" >>"$HR_LOG" 2>&1 || true
		fi
	done
	for pid in "${HR_PIDS[@]}"; do
		pid_alive "$pid" || continue
		if ! wait_exit "$pid" "$HR_EXIT_WAIT"; then
			echo "teardown: hregionfs pid $pid did not exit after unmount; kill -9" >&2
			kill -9 "$pid" 2>/dev/null || true
			wait_exit "$pid" 5 || echo "teardown: pid $pid survives kill -9" >&2
		fi
	done
	for mnt in "${HR_MNT:-}" "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] || continue
		if is_mounted "$mnt"; then
			timeout -k 2 10 fusermount3 -uz "$mnt" >>"$HR_LOG" 2>&1 || true
		fi
	done
	if [[ -s ${HR_LOG:-/nonexistent} ]] &&
		grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$HR_LOG"; then
		echo "teardown: sanitizer report in the daemon log" >&2
		rc=1
	fi
	if [[ ${BATS_TEST_COMPLETED:-} != 1 || $rc != 0 ]] && [[ -s ${HR_LOG:-/nonexistent} ]]; then
		echo "----- daemon log ($HR_LOG, last 150 lines) -----"
		tail -n 150 "$HR_LOG"
		echo "----- end of daemon log -----"
	fi
	# Never rm -rf into a mount that is still attached.
	local still=0
	for mnt in "${HR_MNT:-}" "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] && is_mounted "$mnt" && still=1
	done
	if ((still)); then
		echo "teardown: a mount under $HR_TMP is still attached; leaving it" >&2
		return 1
	fi
	[[ -n ${HR_TMP:-} && $HREGIONFS_TEST_STORAGE == rados ]] && rados_purge "$HR_TMP"
	[[ -n ${HR_TMP:-} ]] && rm -rf "$HR_TMP"
	return "$rc"
}

setup() { hr_setup; }
teardown() { hr_teardown; }

# ---- names -----------------------------------------------------------------

# hr_esc_hex HEX — the canonical file name of the key given as hex bytes
# (so keys with NUL bytes can be expressed). An independent statement of the
# naming rule: literal are [A-Za-z0-9] and "._~+=,@:- " (space included) and
# well-formed UTF-8 of printable characters (>= U+00A0; no overlongs, no
# surrogates); every other byte, '%' and a leading '.' are %XX, uppercase;
# the empty key is "%".
hr_esc_hex() {
	perl -e '
		my $k = pack("H*", $ARGV[0]);
		if ($k eq "") { print "%"; exit 0 }
		my ($o, $i, $n) = ("", 0, length $k);
		sub u8len {
			my @b = map { ord } split //, $_[0];
			my $c = sub { defined $b[$_[0]] && ($b[$_[0]] & 0xC0) == 0x80 };
			my $x = $b[0];
			if ($x >= 0xC2 && $x <= 0xDF) {
				return 0 unless $c->(1);
				return ($x == 0xC2 && $b[1] < 0xA0) ? 0 : 2;
			}
			if ($x >= 0xE0 && $x <= 0xEF) {
				return 0 unless $c->(1) && $c->(2);
				return 0 if $x == 0xE0 && $b[1] < 0xA0;
				return 0 if $x == 0xED && $b[1] >= 0xA0;
				return 3;
			}
			if ($x >= 0xF0 && $x <= 0xF4) {
				return 0 unless $c->(1) && $c->(2) && $c->(3);
				return 0 if $x == 0xF0 && $b[1] < 0x90;
				return 0 if $x == 0xF4 && $b[1] >= 0x90;
				return 4;
			}
			return 0;
		}
		while ($i < $n) {
			my $ch = substr($k, $i, 1);
			my $b = ord $ch;
			if ($ch =~ /^[A-Za-z0-9._~+=,\@: -]$/ && !($i == 0 && $ch eq ".")) {
				$o .= $ch; $i++; next;
			}
			if ($b >= 0x80) {
				my $u = u8len(substr($k, $i, 4));
				if ($u) { $o .= substr($k, $i, $u); $i += $u; next }
			}
			$o .= sprintf("%%%02X", $b); $i++;
		}
		print $o;
	' "$1"
}

# hr_esc_all STRING — every byte escaped: a non-canonical spelling of any key
# that has a literal byte.
hr_esc_all() {
	printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g' | tr 'a-f' 'A-F'
}

# hr_esc STRING — the canonical file name of a key given as a string.
hr_esc() {
	hr_esc_hex "$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')"
}

# ---- values ----------------------------------------------------------------

# mkval FILE BYTES — a random binary value kept in a local file.
mkval() { head -c "$2" /dev/urandom >"$1"; }

# mkpat FILE BYTES CHAR — a value of one repeated character: any mix of two
# such values (a torn read) equals neither.
mkpat() { head -c "$2" /dev/zero | tr '\0' "$3" >"$1"; }

# assert_same FILE1 FILE2 — byte equality with a readable failure.
assert_same() {
	if ! cmp -s "$1" "$2"; then
		echo "files differ: $1 ($(stat -c %s "$1" 2>&1) bytes) vs $2 ($(stat -c %s "$2" 2>&1) bytes)" >&2
		cmp "$1" "$2" >&2 || true
		return 1
	fi
}

# file_size PATH — st_size as the mount reports it.
file_size() { t stat -c %s "$1"; }

# ctl ARGS... — hregionctl on the test's data directory (so its daemon, when
# one is mounted), from the test's directory (no stray ./hregionfs.ini),
# under timeout.
ctl() {
	(cd "$HR_TMP" && exec timeout -k 5 "$HR_TIMEOUT" "$HRCTL_BIN" -o "data_dir=$HR_DATA" \
		${HR_STORAGE_OPTS:+-o "$HR_STORAGE_OPTS"} "$@")
}

# ctl_json PYTHON ARGS... — runs hregionctl --json ARGS, parses its stdout
# as JSON into `d` and runs the python statements (asserts) on it; prints
# what they print. Values for the statements go through the environment.
ctl_json() {
	local py=$1
	shift
	ctl --json "$@" 2>/dev/null >"$HR_TMP/out.json" || true
	python3 -c "import json,os,sys
d = json.load(open(sys.argv[1]))
$py" "$HR_TMP/out.json"
}
