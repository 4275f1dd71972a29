#!/usr/bin/env bash
# bench_cluster.sh — cluster mode against its ceiling and against one node,
# all in one run on this host (figures, not a test):
#
#   rados            RADOS 4 KiB objects, `rados bench` with 1 op in flight
#                    (what one synchronous writer can get) and with 16: the
#                    ceiling every cluster figure sits under
#   local            a single-node mount on local disk (storage=local)
#   1 mount/1 srv    a client mount of a cluster of 1 hregionfs server
#   1 mount/3 srv    a client mount of a cluster of 3 servers
#   2 mounts/3 srv   two client mounts of that cluster at once (sum)
#
# Workload per mount: HR_BENCH_CELLS cells (2000) of HR_BENCH_SIZE bytes
# (100), one row each (open/write/close, as `echo >` does): puts/s; then a
# remount (nothing cached) and a read of each: gets/s. Ratios are against
# `local`. Every cluster is private (scripts/cluster_up.sh under a
# temporary directory, stopped at the end, always).
#
#   scripts/bench_cluster.sh [BUILD_DIR]     (default: build)
#
# Without build/hregionfs-server and scripts/cluster_servers.sh the cluster
# rows say "not available" and the exit status is 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
hr_bin=${HREGIONFS_BIN:-$build/hregionfs}
CELLS=${HR_BENCH_CELLS:-2000}
SIZE=${HR_BENCH_SIZE:-100}
SECS=${HR_BENCH_RADOS_SECONDS:-5}
[[ -x $hr_bin ]] || { echo "no $hr_bin: run make first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hrbench-cluster.XXXXXX")
mounts=() clusters=() pids=()
cleanup() {
	local m c p
	for m in "${mounts[@]}"; do
		grep -qs " $m " /proc/mounts && { timeout 15 fusermount3 -u "$m" 2>/dev/null || timeout 10 fusermount3 -uz "$m" 2>/dev/null || true; }
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	for c in "${clusters[@]}"; do "$root/scripts/cluster_down.sh" "$c" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# up NAME N — a private cluster of N servers; prints its cluster= option.
up() {
	local d=$work/$1
	clusters+=("$d")
	timeout -k 10 300 "$root/scripts/cluster_up.sh" "$d" "$2" 2>"$d.err" | tail -n 1 || {
		echo "cluster_up.sh $1 $2 failed:" >&2
		cat "$d.err" >&2
		return 1
	}
}

# mnt NAME OPTS — mounts with OPTS; prints nothing, fails if no mount in 20 s.
mnt() {
	local m=$work/$1
	mkdir -p "$m" "$m.data"
	mounts+=("$m")
	(cd "$work" && exec "$hr_bin" -f -o "data_dir=$m.data${2:+,$2}" "$m") </dev/null >>"$work/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 200); do
		grep -qs " $m " /proc/mounts && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "mount $1 failed; its log:" >&2
	tail -n 20 "$work/$1.log" >&2
	return 1
}
umnt() {
	local m=$work/$1
	timeout 30 fusermount3 -u "$m"
	for _ in $(seq 1 200); do grep -qs " $m " /proc/mounts || return 0; sleep 0.1; done
	return 1
}

# load DIR TABLE put|get TAG — cells/s of one phase, on stdout.
load() {
	timeout -k 5 600 python3 - "$@" "$CELLS" "$SIZE" <<'PY'
import os, sys, time
d, table, phase, tag, cells, size = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
base = os.path.join(d, table)
os.makedirs(base, exist_ok=True)
val = (tag.encode() * size)[:size]
t0 = time.monotonic()
for i in range(cells):
    p = os.path.join(base, f"{tag}{i:07d}", "cf")
    if phase == "put":
        os.makedirs(p, exist_ok=True)
        fd = os.open(os.path.join(p, "q"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, val)
        os.close(fd)
    else:
        with open(os.path.join(p, "q"), "rb") as f:
            if f.read() != val:
                sys.exit(f"wrong value at {tag}{i}")
print(f"{cells / (time.monotonic() - t0):.0f}")
PY
}

declare -A put get
# one NAME OPTS — puts, remount, gets on one mount.
one() {
	mnt "$1" "$2"
	put[$1]=$(load "$work/$1" bench put a)
	umnt "$1"
	mnt "$1" "$2"
	get[$1]=$(load "$work/$1" bench get a)
	umnt "$1"
}
# two NAME OPTS — two mounts at once: the sum of their rates.
two() {
	local a b
	mnt "$1-a" "$2"
	mnt "$1-b" "$2"
	load "$work/$1-a" bench2 put a >"$work/pa" &
	a=$!
	load "$work/$1-b" bench2 put b >"$work/pb" &
	b=$!
	wait "$a" && wait "$b"
	put[$1]=$(($(<"$work/pa") + $(<"$work/pb")))
	umnt "$1-a"; umnt "$1-b"
	mnt "$1-a" "$2"
	mnt "$1-b" "$2"
	load "$work/$1-a" bench2 get a >"$work/pa" &
	a=$!
	load "$work/$1-b" bench2 get b >"$work/pb" &
	b=$!
	wait "$a" && wait "$b"
	get[$1]=$(($(<"$work/pa") + $(<"$work/pb")))
	umnt "$1-a"; umnt "$1-b"
}

# ---- the RADOS ceiling ----------------------------------------------------------
echo "# starting a private Ceph + ZooKeeper..." >&2
up ceiling 0 >/dev/null
conf=$work/ceiling/ceph.conf
rbench() { # rbench THREADS write|rand [ARG] — average IOPS (reads take the written objects' size)
	local size=()
	[[ $2 == write ]] && size=(-b 4096)
	{ timeout 120 rados -c "$conf" -p hregionfs bench "$SECS" "$2" "${size[@]}" -t "$1" ${3:-} 2>"$work/rbench.err" || true; } |
		awk '/^Average IOPS/ { print $3 }'
}
rw1=$(rbench 1 write --no-cleanup); rr1=$(rbench 1 rand)
timeout 120 rados -c "$conf" -p hregionfs cleanup >/dev/null 2>&1 || true
rw16=$(rbench 16 write --no-cleanup); rr16=$(rbench 16 rand)
"$root/scripts/cluster_down.sh" "$work/ceiling"

# ---- single node, local disk --------------------------------------------------
echo "# local mount..." >&2
one local "" # the default storage: local disk

# ---- cluster mode ------------------------------------------------------------------
have_cluster=1
[[ -x $build/hregionfs-server && -x $root/scripts/cluster_servers.sh ]] || have_cluster=0
if ((have_cluster)); then
	echo "# cluster of 1 server..." >&2
	c1=$(up c1 1)
	one m1s1 "$c1"
	"$root/scripts/cluster_down.sh" "$work/c1"
	echo "# cluster of 3 servers..." >&2
	c3=$(up c3 3)
	one m1s3 "$c3"
	two m2s3 "$c3"
	"$root/scripts/cluster_down.sh" "$work/c3"
fi

# ---- figures -----------------------------------------------------------------------
ratio() { [[ -n ${1:-} && -n ${2:-} && $2 != 0 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo -; }
printf '%s cells of %s bytes per mount; RADOS: 4 KiB objects, %s s each\n' "$CELLS" "$SIZE" "$SECS"
printf '%-28s %10s %10s %12s %12s\n' target puts/s gets/s "puts/local" "gets/local"
printf '%-28s %10s %10s %12s %12s\n' "rados, 1 in flight" "${rw1:-?}" "${rr1:-?}" "$(ratio "${rw1:-}" "${put[local]}")" "$(ratio "${rr1:-}" "${get[local]}")"
printf '%-28s %10s %10s %12s %12s\n' "rados, 16 in flight" "${rw16:-?}" "${rr16:-?}" "$(ratio "${rw16:-}" "${put[local]}")" "$(ratio "${rr16:-}" "${get[local]}")"
printf '%-28s %10s %10s %12s %12s\n' "local disk, 1 mount" "${put[local]}" "${get[local]}" 1.00 1.00
if ((have_cluster)); then
	for k in m1s1:"cluster, 1 mount, 1 server" m1s3:"cluster, 1 mount, 3 servers" m2s3:"cluster, 2 mounts, 3 servers"; do
		printf '%-28s %10s %10s %12s %12s\n' "${k#*:}" "${put[${k%%:*}]}" "${get[${k%%:*}]}" \
			"$(ratio "${put[${k%%:*}]}" "${put[local]}")" "$(ratio "${get[${k%%:*}]}" "${get[local]}")"
	done
else
	printf '%-28s %s\n' "cluster rows" "not available: no build/hregionfs-server or scripts/cluster_servers.sh"
	exit 1
fi
