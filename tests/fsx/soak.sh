#!/usr/bin/env bash
# soak.sh [BUILD_DIR] — a long run of the file-semantics exerciser
# (hrfs_fsx): SOAK_OPS operations (default 2,000,000) with seed SOAK_SEED
# (default random, printed) on a fresh hregionfs mount, then the same seed
# in a tmpfs directory; the digests must agree, and after a remount the
# cells must equal the tmpfs files. SOAK_OPTS adds -o options to the mount
# (e.g. flush_size=64K); SOAK_FSX_ARGS adds exerciser options (-f, -d, -S).
# Exit status 0 only if all of that holds. Leaves no mount behind.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
hr=$build/hregionfs
fsx=$build/hrfs_fsx
ops=${SOAK_OPS:-2000000}
seed=${SOAK_SEED:-$(od -An -tu8 -N8 /dev/urandom | tr -d ' ')}
read -r -a fsx_args <<<"${SOAK_FSX_ARGS:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/hrsoak.XXXXXX")
shm=$(mktemp -d /dev/shm/hrsoak.XXXXXX)
mnt=$work/mnt
pid=
mkdir -p "$mnt" "$work/data"

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

start() {
	local opts="data_dir=$work/data"
	[[ -n ${SOAK_OPTS:-} ]] && opts+=",$SOAK_OPTS"
	(cd "$work" && exec "$hr" -f -o "$opts" "$mnt") </dev/null >>"$work/daemon.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		is_mounted "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null || { echo "soak: hregionfs exited" >&2; return 1; }
		sleep 0.05
	done
	echo "soak: hregionfs did not mount" >&2
	return 1
}

stop() {
	is_mounted "$mnt" && { timeout 60 fusermount3 -u "$mnt" || timeout 10 fusermount3 -uz "$mnt"; }
	[[ -n $pid ]] && { timeout 60 tail --pid="$pid" -f /dev/null || kill -9 "$pid"; wait "$pid" || true; }
	pid=
}

cleanup() {
	local rc=$?
	set +e
	stop
	if ((rc != 0)); then
		echo "soak: FAILED (seed $seed); logs kept in $work" >&2
		tail -n 30 "$work/daemon.log" >&2
	else
		rm -rf "$work"
	fi
	rm -rf "$shm"
	exit "$rc"
}
trap cleanup EXIT

echo "soak: seed $seed, $ops operations ${fsx_args[*]}"
start
mkdir -p "$mnt/t/r/cf"
a=$("$fsx" "$mnt/t/r/cf" -s "$seed" -n "$ops" -l "$work/mount.log" "${fsx_args[@]}" | tail -n 1)
b=$("$fsx" "$shm" -s "$seed" -n "$ops" -l "$work/tmpfs.log" "${fsx_args[@]}" | tail -n 1)
echo "mount: $a"
echo "tmpfs: $b"
if [[ $a != "$b" ]]; then
	diff "$work/tmpfs.log" "$work/mount.log" | head -20
	echo "soak: the mount and tmpfs differ" >&2
	exit 1
fi
stop
start
diff -r "$shm" "$mnt/t/r/cf"
echo "soak: passed ($ops operations, seed $seed; the remounted cells equal tmpfs)"
rm -f "$work/mount.log" "$work/tmpfs.log"
