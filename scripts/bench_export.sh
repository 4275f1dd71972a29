#!/usr/bin/env bash
# bench_export.sh — issue 9's export benchmark (figures, not a test; never
# run in CI): a table of ~BENCH_MB through a mount, a snapshot of it, then in
# one run
#   1. `hregionctl export_snapshot` of the snapshot (store files copied
#      whole, each fsynced),
#   2. `cp -r` of the same table from the mount, then `sync`,
#   3. the disk's sequential write speed: dd of BENCH_MB with conv=fsync,
#   4. the disk's sequential copy speed: cat of the archived files into dd
#      with conv=fsync (what an export has to do at least: read + write),
# and prints each time, the cp/export ratio, and export MB/s against both.
# The page cache is dropped before each timed step when the script runs as
# root (else every step reads what the previous one left cached: the table
# fits in memory either way, so the comparison is of the copy paths).
#
#   scripts/bench_export.sh [BUILD_DIR]       (default: build)
#
# Environment (defaults in brackets):
#   BENCH_MB [1024]     table size in MB (cells of 1 MB of random bytes)
#   BENCH_DIR [$TMPDIR or /var/tmp]   where everything goes (removed after,
#                       unless BENCH_KEEP is set); use a real disk, not tmpfs
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
mb=${BENCH_MB:-1024}
base=${BENCH_DIR:-${TMPDIR:-/var/tmp}}

make -C "$root" BUILD="$build" "$build/hregionfs" "$build/hregionctl" >/dev/null || exit 1
work=$(mktemp -d "$base/hrbench-export.XXXXXX") || exit 1
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		fusermount3 -u "$work/mnt" 2>/dev/null || fusermount3 -uz "$work/mnt" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	fi
	rm -rf "$work"
}
[[ -n ${BENCH_KEEP:-} ]] || trap cleanup EXIT

mkdir -p "$work/data" "$work/mnt"
ctl() { (cd "$work" && "$build/hregionctl" -o "data_dir=$work/data" "$@"); }
mount_it() {
	(cd "$work" && exec "$build/hregionfs" -f -o "data_dir=$work/data" "$work/mnt") \
		>>"$work/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		mountpoint -q "$work/mnt" && return 0
		sleep 0.05
	done
	echo "bench_export: the mount did not come up (see $work/daemon.log)" >&2
	exit 1
}
unmount_it() {
	fusermount3 -u "$work/mnt" || exit 1
	for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || { pid=; return 0; }; sleep 0.1; done
	echo "bench_export: the daemon did not exit" >&2
	exit 1
}
drop_caches() {
	sync
	[[ $(id -u) == 0 ]] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	return 0
}
# secs CMD... — runs CMD, prints its wall time in seconds
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null || { echo "bench_export: '$*' failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "bench_export: building a table of $mb MB through the mount in $work"
mount_it
mkdir -p "$work/mnt/t"
head -c $((1 << 20)) /dev/urandom >"$work/cell"
for ((i = 0; i < mb; i++)); do
	d=$work/mnt/t/$(printf 'r%06d' "$i")/cf
	mkdir -p "$d"
	# a different value per row (its first bytes), so nothing dedups
	{ printf '%08d' "$i"; tail -c +9 "$work/cell"; } >"$d/v"
done
unmount_it
# a settled table (one file per store): otherwise the compactions the
# flushes queued run inside whichever hregionctl opens the engine next,
# and the export would be timed with a compaction beside it
ctl compact --major t >/dev/null || exit 1
ctl snapshot t s >/dev/null || exit 1
store_mb=$(du -sm "$work/data/store" | cut -f1)

drop_caches
t_export=$(secs ctl export_snapshot t s "$work/export")
export_mb=$(du -sm "$work/export" | cut -f1)

mount_it
drop_caches
t_cp=$(secs bash -c "cp -r '$work/mnt/t' '$work/cp-copy' && sync")
unmount_it

drop_caches
t_dd=$(secs dd if=/dev/zero of="$work/dd.out" bs=4M count=$((mb / 4)) conv=fsync status=none)
rm -f "$work/dd.out"
# what an export has to do at least: read the files and write them once
drop_caches
t_ddc=$(secs bash -c "cat '$work'/data/archive/*.hsf | dd of='$work/dd.copy' bs=4M iflag=fullblock conv=fsync status=none")

awk -v te="$t_export" -v tc="$t_cp" -v td="$t_dd" -v tdc="$t_ddc" -v mb="$mb" -v emb="$export_mb" \
	-v smb="$store_mb" 'BEGIN {
	printf "table: %d MB of cells, %d MB of store files; export: %d MB\n", mb, smb, emb
	printf "export_snapshot: %8.2f s  %7.1f MB/s\n", te, emb / te
	printf "cp -r + sync:    %8.2f s  %7.1f MB/s  (%.2fx the export time)\n", tc, mb / tc, tc / te
	printf "dd conv=fsync:   %8.2f s  %7.1f MB/s  (write only; export runs at %.0f%% of it)\n", td,
		mb / td, 100 * (emb / te) / (mb / td)
	printf "cat | dd fsync:  %8.2f s  %7.1f MB/s  (read + write of the files; export at %.0f%%)\n",
		tdc, emb / tdc, 100 * tdc / te
}'
