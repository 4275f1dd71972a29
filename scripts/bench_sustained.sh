#!/usr/bin/env bash
# bench_sustained.sh — issue 4's benchmark (figures, not a test; never run
# in CI): sustained puts with flushes, compactions and splits on, per
# 10-second interval (ops/s, p50/p99 put latency), read latency during a
# major compaction vs idle, and write amplification; first through the
# engine API, then through a fresh hregionfs mount (a C writer: open, write,
# close per cell).
#
#   scripts/bench_sustained.sh [BUILD_DIR]       (default: build)
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [600]   seconds of puts per run (the issue's 10 minutes;
#                         60 for a quick look)
#   BENCH_THREADS [2]     writer threads
#   BENCH_VALUE_SIZE [100]
#   BENCH_FLUSH_SIZE [4M] BENCH_SPLIT_SIZE [64M]   small, so that flushes,
#                         compactions and splits happen within the run
#   BENCH_DIR [$TMPDIR or /tmp]   where the data directories go (removed)
#   BENCH_ONLY [engine,fs]        one of them only
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
secs=${BENCH_SECONDS:-600}
threads=${BENCH_THREADS:-2}
vsize=${BENCH_VALUE_SIZE:-100}
fsize=${BENCH_FLUSH_SIZE:-4M}
ssize=${BENCH_SPLIT_SIZE:-64M}
only=${BENCH_ONLY:-engine,fs}
base=${BENCH_DIR:-${TMPDIR:-/tmp}}

make -C "$root" BUILD="$build" "$build/bench_sustained" "$build/hregionfs" >/dev/null || exit 1
work=$(mktemp -d "$base/hrbench-sustained.XXXXXX") || exit 1
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		fusermount3 -u "$work/mnt" 2>/dev/null || fusermount3 -uz "$work/mnt" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(uname -r), data on $(df -P "$work" | awk 'NR == 2 { print $1 }')"
rc=0
if [[ $only == *engine* ]]; then
	echo "## engine"
	"$build/bench_sustained" engine -d "$work/engine" -s "$secs" -t "$threads" -v "$vsize" \
		-f "$fsize" -S "$ssize" || rc=1
fi
if [[ $only == *fs* ]]; then
	echo "## mount (-o flush_size=$fsize,split_size=$ssize)"
	mkdir -p "$work/mnt" "$work/data"
	(cd "$work" && exec "$build/hregionfs" -f \
		-o "data_dir=$work/data,flush_size=$fsize,split_size=$ssize,log_level=warn" \
		"$work/mnt") </dev/null >"$work/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		awk -v m="$work/mnt" '$2 == m { f = 1 } END { exit !f }' /proc/mounts && break
		sleep 0.1
	done
	"$build/bench_sustained" fs -m "$work/mnt" -p "$pid" -s "$secs" -t "$threads" -v "$vsize" || rc=1
	echo "# regions at the end: $(grep -c '^region ' "$work/mnt/.hregionfs/tables/bench/regions")"
	fusermount3 -u "$work/mnt"
	for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	grep -iE 'error' "$work/daemon.log" | head -5
fi
exit $rc
