#!/usr/bin/env bash
# bench_metrics.sh — what the latency histograms cost: build/bench_engine
# with them (the default) and without (-H: metrics_histograms = false), in
# alternating rounds in one invocation, then one table: workload, ops/s
# with, ops/s without, ratio (best round of each). Counters are recorded
# either way; only the histograms' two clock reads and three relaxed atomic
# adds per operation differ.
#
# Usage: scripts/bench_metrics.sh [extra bench_engine options]
# Environment: PUTS [200000], GETS [100000], REPEAT [5],
#   PHASES [put_os_1t,put_os_2t,get_memstore,get_files,scan_memstore,scan_files],
#   BUILD [build], BENCH_DIR [$TMPDIR or /tmp]
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
PUTS=${PUTS:-200000}
GETS=${GETS:-100000}
REPEAT=${REPEAT:-5}
PHASES=${PHASES:-put_os_1t,put_os_2t,get_memstore,get_files,scan_memstore,scan_files}
BUILD=${BUILD:-build}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}

make -s -j2 BUILD="$BUILD" "$BUILD/bench_engine" >&2 || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((r = 1; r <= REPEAT; r++)); do
	echo "round $r/$REPEAT" >&2
	for mode in on off; do
		flag=()
		[[ $mode == off ]] && flag=(-H)
		"$BUILD/bench_engine" -d "$BENCH_DIR" -n "$PUTS" -g "$GETS" -o "$PHASES" \
			"${flag[@]}" "$@" | awk -v m="$mode" '!/^#/ && NF >= 7 { print m, $1, $4, $7 }' >>"$out" ||
			exit 1
	done
done
awk '
	{
		if ($3 > best[$1, $2]) best[$1, $2] = $3
		if (!(($1, $2) in cpu) || $4 < cpu[$1, $2]) cpu[$1, $2] = $4
		if (!($2 in seen)) { seen[$2] = 1; order[n++] = $2 }
	}
	END {
		printf "%-16s %13s %13s %7s   %11s %11s %7s\n", "workload", "ops/s with", "without",
			"ratio", "cpu us/op w", "without", "ratio"
		for (i = 0; i < n; i++) {
			w = order[i]
			printf "%-16s %13.0f %13.0f %7.3f   %11.2f %11.2f %7.3f\n", w, best["on", w],
				best["off", w], best["off", w] ? best["on", w] / best["off", w] : 0,
				cpu["on", w], cpu["off", w], cpu["off", w] ? cpu["on", w] / cpu["off", w] : 0
		}
	}' "$out"
