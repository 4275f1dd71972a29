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

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# Error messages are compared literally ("File name too long") and ls must
# print names bytewise.
export LC_ALL=C

HR_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${HREGIONFS_BIN:=$HR_REPO/build/hregionfs}"
: "${HR_TIMEOUT:=20}"		# seconds, one command
: "${HR_LONG_TIMEOUT:=120}"	# seconds, one long workload
: "${HR_MOUNT_WAIT:=10}"	# seconds until the mount must show
: "${HR_EXIT_WAIT:=20}"		# seconds until an unmounted daemon must exit
HR_OPTS=()

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

# 1 if MNT is in /proc/mounts. Never touches the mount itself, so it cannot
# block on a hung daemon.
is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# A zombie child still answers kill -0, so look at its state.
pid_alive() {
	[[ -n ${1:-} && -r /proc/$1/status ]] || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
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
	hr_log "start $HREGIONFS_BIN -f -o $opts $mnt"
	"$HREGIONFS_BIN" -f -o "$opts" "$mnt" </dev/null >>"$log" 2>&1 3>&- &
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
# ("Transport endpoint is not connected") until detach_fs.
kill_daemon() {
	hr_log "kill -9 $HR_PID"
	kill -9 "$HR_PID" 2>/dev/null || true
	wait_exit "$HR_PID" 10
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
	HR_EXTRA_MNTS=()
	M=$HR_MNT
	mkdir -p "$HR_DATA" "$HR_MNT"
	: >"$HR_LOG"
	if [[ ! -x $HREGIONFS_BIN ]]; then
		echo "hregionfs binary $HREGIONFS_BIN not found: run make first" >&2
		return 1
	fi
	mount_fs
}

hr_teardown() {
	local mnt pid
	cd / || true
	for mnt in "$HR_MNT" "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] || continue
		if is_mounted "$mnt"; then
			timeout -k 2 15 fusermount3 -u "$mnt" >>"$HR_LOG" 2>&1 ||
				timeout -k 2 10 fusermount3 -uz "$mnt" >>"$HR_LOG" 2>&1 || true
		fi
	done
	for pid in "${HR_PIDS[@]}"; do
		if ! wait_exit "$pid" "$HR_EXIT_WAIT"; then
			echo "teardown: hregionfs pid $pid did not exit after unmount; kill -9" >&2
			kill -9 "$pid" 2>/dev/null || true
			wait_exit "$pid" 5 || echo "teardown: pid $pid survives kill -9" >&2
		fi
	done
	for mnt in "$HR_MNT" "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] || continue
		if is_mounted "$mnt"; then
			timeout -k 2 10 fusermount3 -uz "$mnt" >>"$HR_LOG" 2>&1 || true
		fi
	done
	if [[ ${BATS_TEST_COMPLETED:-} != 1 && -s ${HR_LOG:-/nonexistent} ]]; then
		echo "----- daemon log ($HR_LOG, last 150 lines) -----"
		tail -n 150 "$HR_LOG"
		echo "----- end of daemon log -----"
	fi
	# Never rm -rf into a mount that is still attached.
	local still=0
	for mnt in "$HR_MNT" "${HR_EXTRA_MNTS[@]}"; do
		[[ -n $mnt ]] && is_mounted "$mnt" && still=1
	done
	if ((still)); then
		echo "teardown: a mount under $HR_TMP is still attached; leaving it" >&2
		return 1
	fi
	[[ -n ${HR_TMP:-} ]] && rm -rf "$HR_TMP"
	return 0
}

setup() { hr_setup; }
teardown() { hr_teardown; }

# ---- names -----------------------------------------------------------------

# The bytes a name may hold literally (the daemon's safe set); every other
# byte, '%' itself and a leading '.' are written %XX with uppercase hex.
: "${HR_SAFE_CHARS:=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-}"

# hr_esc_hex HEX — the canonical file name of the key given as hex bytes
# (so keys with NUL bytes can be expressed).
hr_esc_hex() {
	local hex=${1,,} out= i b ch
	for ((i = 0; i < ${#hex}; i += 2)); do
		b=${hex:i:2}
		printf -v ch "\\x$b"
		if [[ $b == 2e && $i == 0 ]] || [[ $b == 00 ]] ||
			[[ $HR_SAFE_CHARS != *"$ch"* ]]; then
			out+="%${b^^}"
		else
			out+=$ch
		fi
	done
	printf '%s' "$out"
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
