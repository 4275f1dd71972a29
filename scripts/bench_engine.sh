#!/usr/bin/env bash
# bench_engine.sh — the engine benchmark of issue 2: runs build/bench_engine
# and, when RocksDB's db_bench is installed (Debian rocksdb-tools), the
# matching db_bench workloads on the same machine in the same invocation,
# then prints one table: workload, hregionfs ops/s, rocksdb ops/s, ratio.
#
# Usage: scripts/bench_engine.sh [extra bench_engine options, e.g. -o put_os]
# Environment (defaults in brackets):
#   PUTS [200000]     puts in the os-durability put workloads (split over threads)
#   GETS [100000]     rows loaded for, and gets in, each get workload
#   SYNC_OPS [2000]   puts per writer in the fsync workloads
#   KEY_SIZE [16] VALUE_SIZE [100]
#   BUILD [build]     build directory (make is run there first)
#   BENCH_DIR [$TMPDIR or /tmp]   where the temporary data directories go
#   DB_BENCH [db_bench from PATH] set to "" to skip RocksDB
#   REPEAT [3]        rounds (both engines each round); the summary takes the best
#
# Matching of workloads (db_bench: --compression_type=none, 256 MiB block
# cache and 10-bit bloom filters, as hregionfs's defaults; WAL on):
#   put_os_1t/2t      fillrandom --threads=1/2 (PUTS split over the threads)
#   put_fsync_Nw      fillrandom --sync=1 --threads=N --num=SYNC_OPS (per thread)
#   get_memstore      readrandom right after fillrandom (memtable)
#   get_files         readrandom after flush, second pass (warm block cache)
#   get_miss          readmissing after flush
#   scan_memstore     readseq before flush (memtable)
#   scan_files        readseq after flush
# db_bench's fillrandom draws keys with replacement, so about 37% of its
# readrandom gets are misses; hregionfs's get_memstore/get_files are all hits.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
PUTS=${PUTS:-200000}
GETS=${GETS:-100000}
SYNC_OPS=${SYNC_OPS:-2000}
KEY_SIZE=${KEY_SIZE:-16}
VALUE_SIZE=${VALUE_SIZE:-100}
BUILD=${BUILD:-build}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
DB_BENCH=${DB_BENCH-$(command -v db_bench || true)}
REPEAT=${REPEAT:-3}

make -s BUILD="$BUILD" "$BUILD/bench_engine" >&2 || { echo "bench_engine.sh: build failed" >&2; exit 1; }

tmp=$(mktemp -d "$BENCH_DIR/hrbench-sh.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

have_db=0
if [ -n "$DB_BENCH" ] && command -v "$DB_BENCH" >/dev/null 2>&1; then
	have_db=1
fi

# dbb NAME ARGS... : one db_bench call on a fresh db; its per-benchmark lines
# ("readrandom : 1.8 micros/op 555148 ops/sec ...") are shown and appended
# to $tmp/NAME.txt.
dbb() {
	local name=$1
	shift
	if ! "$DB_BENCH" --db="$tmp/rdb-$name" --use_existing_db=0 --key_size="$KEY_SIZE" \
		--value_size="$VALUE_SIZE" --compression_type=none --cache_size=268435456 \
		--bloom_bits=10 --seed=1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		echo "bench_engine.sh: db_bench $name failed:" >&2
		tail -5 "$tmp/$name.err" >&2
	fi
	grep -E '^[a-z]+ +: ' "$tmp/$name.out" | tee -a "$tmp/$name.txt" | sed "s/^/  $name: /"
	rm -rf "$tmp/rdb-$name"
}

# Other processes on a small machine make single runs noisy: each round runs
# both engines back to back, and the summary takes each one's best round.
hr_rc=0
for rep in $(seq 1 "$REPEAT"); do
	echo "== round $rep/$REPEAT: hregionfs engine ($(nproc) CPUs, data under $BENCH_DIR)"
	"$BUILD/bench_engine" -d "$tmp" -n "$PUTS" -g "$GETS" -s "$SYNC_OPS" -k "$KEY_SIZE" \
		-v "$VALUE_SIZE" "$@" | tee -a "$tmp/hr.txt"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		echo "bench_engine.sh: bench_engine failed (exit $rc)" >&2
		hr_rc=$rc
	fi
	[ "$have_db" = 1 ] || continue
	echo "== round $rep/$REPEAT: RocksDB $("$DB_BENCH" --version 2>/dev/null | head -1)"
	dbb fill1 --benchmarks=fillrandom --threads=1 --num="$PUTS"
	dbb fill2 --benchmarks=fillrandom --threads=2 --num=$((PUTS / 2))
	for w in 1 4 16; do
		dbb sync$w --benchmarks=fillrandom --sync=1 --threads=$w --num="$SYNC_OPS"
	done
	dbb read --benchmarks=fillrandom,readrandom,readseq,flush,readrandom,readrandom,readmissing,readseq \
		--threads=1 --num="$GETS"
done
[ "$have_db" = 1 ] || echo "== db_bench not found: hregionfs figures only"

# hr FIGURE -> best ops/s of that figure over the rounds, or empty
hr() { awk -v n="$1" '$1 == n && $4 > m { m = $4 } END { if (m) print m }' "$tmp/hr.txt"; }
# dbv NAME BENCHMARK [NTH PER] -> best ops/s over the rounds of the NTH of
# the PER BENCHMARK lines that each db_bench call NAME prints (default 1 1)
dbv() {
	[ -f "$tmp/$1.txt" ] || return 0
	awk -v b="$2" -v k="${3:-1}" -v per="${4:-1}" '
		$1 == b && $2 == ":" && (n++ % per) + 1 == k && $5 > m { m = $5 }
		END { if (m) print m }' "$tmp/$1.txt"
}

declare -A rdb=()
if [ "$have_db" = 1 ]; then
	rdb[put_os_1t]=$(dbv fill1 fillrandom)
	rdb[put_os_2t]=$(dbv fill2 fillrandom)
	rdb[put_fsync_1w]=$(dbv sync1 fillrandom)
	rdb[put_fsync_4w]=$(dbv sync4 fillrandom)
	rdb[put_fsync_16w]=$(dbv sync16 fillrandom)
	# the read call's list has readrandom x3 and readseq x2
	rdb[get_memstore]=$(dbv read readrandom 1 3)
	rdb[get_files]=$(dbv read readrandom 3 3)
	rdb[get_miss]=$(dbv read readmissing 1 1)
	rdb[scan_memstore]=$(dbv read readseq 1 2)
	rdb[scan_files]=$(dbv read readseq 2 2)
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo
echo "== summary (ratio = hregionfs / rocksdb; targets: puts and gets >= 1.0, 16w/1w >= 8)"
printf '%-16s %14s %14s %8s\n' workload "hregionfs ops/s" "rocksdb ops/s" ratio
for w in put_os_1t put_os_2t put_fsync_1w put_fsync_4w put_fsync_16w get_memstore \
	get_files get_miss scan_memstore scan_files; do
	h=$(hr "$w")
	r=${rdb[$w]:-}
	[ -n "$h$r" ] || continue
	printf '%-16s %14s %14s %8s\n' "$w" "${h:--}" "${r:--}" "$(ratio "$h" "$r")"
done
# Group-commit gain: the median over the rounds of each round's 16w/1w (the
# two run seconds apart; a ratio of bests from different rounds would mix
# different disk latencies).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
hg=$(awk '$2 == "group_commit_gain" { print $4 }' "$tmp/hr.txt" | median)
rg=-
if [ "$have_db" = 1 ]; then
	rg=$(paste <(awk '$1 == "fillrandom" { print $5 }' "$tmp/sync16.txt") \
		<(awk '$1 == "fillrandom" { print $5 }' "$tmp/sync1.txt") |
		awk '$1 > 0 && $2 > 0 { printf "%.2f\n", $1 / $2 }' | median)
fi
printf '%-16s %14s %14s %8s\n' "gain_16w/1w" "$hg" "$rg" "(median of rounds)"
exit "$hr_rc"
