#!/usr/bin/env bash
# bench_fs.sh — the file-system benchmark of issue 3: the same workloads on a
# tmpfs directory and on a fresh hregionfs mount, in one invocation, printed
# side by side with the ratio (hregionfs speed / tmpfs speed).
#
#   scripts/bench_fs.sh [BUILD_DIR]          (default: build)
#
# Workloads:
#   C:     build/bench_fs — single-threaded mkdir/create/read/walk/unlink of
#          10,000 cells of 32 bytes in 2,500 rows x 4 qualifiers.
#   shell: 2,000 `echo >` (bash builtin), one `cat` of all of them, `ls -R`,
#          `ls -lR`, `cp -r` out (to the tmpfs), `rm -rf`.
# Figures, not a pass/fail test. Run as root (mount -t tmpfs); without root
# the tmpfs side falls back to a directory under /dev/shm.
#
# Environment: HREGIONFS_BIN, BENCH_FS_BIN (binaries), HR_BENCH_OPTS (extra
# -o options for the mount, e.g. durability=fsync), HR_BENCH_ROWS (2500),
# HR_BENCH_RUNS (3: the C figures are the median of this many runs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
hr_bin=${HREGIONFS_BIN:-$build/hregionfs}
bench_bin=${BENCH_FS_BIN:-$build/bench_fs}
[[ $hr_bin == /* ]] || hr_bin=$PWD/$hr_bin
[[ $bench_bin == /* ]] || bench_bin=$PWD/$bench_bin
rows=${HR_BENCH_ROWS:-2500}
runs=${HR_BENCH_RUNS:-3}
shell_cells=2000

if [[ ! -x $hr_bin || ! -x $bench_bin ]]; then
	echo "building ($build)..." >&2
	make -C "$root" BUILD="$build" "$build/hregionfs" "$build/bench_fs" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hrbench.XXXXXX")
mnt=$work/mnt
data=$work/data
tmpfs=$work/tmpfs
log=$work/daemon.log
mkdir -p "$mnt" "$data" "$tmpfs"
daemon_pid=
tmpfs_mounted=0
shm_dir=

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

cleanup() {
	local rc=$? i
	set +e
	cd /
	if is_mounted "$mnt"; then
		timeout 30 fusermount3 -u "$mnt" || timeout 10 fusermount3 -uz "$mnt"
	fi
	if [[ -n $daemon_pid ]]; then
		for ((i = 0; i < 300; i++)); do
			kill -0 "$daemon_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$daemon_pid" 2>/dev/null; then
			echo "bench_fs.sh: hregionfs did not exit after unmount; kill -9" >&2
			kill -9 "$daemon_pid" 2>/dev/null
		fi
		wait "$daemon_pid" 2>/dev/null
	fi
	if ((tmpfs_mounted)); then
		umount "$tmpfs" || umount -l "$tmpfs"
	fi
	[[ -n $shm_dir ]] && rm -rf "$shm_dir"
	if ((rc != 0)) && [[ -s $log ]]; then
		echo "--- hregionfs log (last 40 lines) ---" >&2
		tail -n 40 "$log" >&2
	fi
	if is_mounted "$mnt" || is_mounted "$tmpfs"; then
		echo "bench_fs.sh: leaving $work (still mounted)" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the two targets ---------------------------------------------------------

if [[ $(id -u) == 0 ]]; then
	mount -t tmpfs -o size=1g,mode=0755 hrbench-tmpfs "$tmpfs"
	tmpfs_mounted=1
	tmpfs_kind="tmpfs"
else
	echo "bench_fs.sh: not root, using a /dev/shm directory instead of a new tmpfs" >&2
	rmdir "$tmpfs"
	shm_dir=$(mktemp -d /dev/shm/hrbench.XXXXXX)
	tmpfs=$shm_dir
	tmpfs_kind="/dev/shm"
fi

opts="data_dir=$data"
[[ -n ${HR_BENCH_OPTS:-} ]] && opts+=",$HR_BENCH_OPTS"
# From $work, so no ./hregionfs.ini applies: built-in defaults + -o only.
(cd "$work" && exec "$hr_bin" -f -o "$opts" "$mnt") </dev/null >"$log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 200; i++)); do
	is_mounted "$mnt" && break
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		echo "bench_fs.sh: hregionfs exited before mounting" >&2
		exit 1
	fi
	sleep 0.05
done
is_mounted "$mnt" || { echo "bench_fs.sh: hregionfs did not mount within 10 s" >&2; exit 1; }

# ---- workloads -----------------------------------------------------------------

declare -A R # R[<target>.<phase>] = figure

# run_c TARGET DIR — the C program, HR_BENCH_RUNS times; records the
# median ops/s per phase (the machine may be shared and noisy).
run_c() {
	local target=$1 dir=$2 phase ops secs rate run
	local -A all=()
	for ((run = 1; run <= runs; run++)); do
		echo "== bench_fs on $target ($dir), run $run/$runs" >&2
		while read -r phase ops secs rate; do
			[[ $phase == phase ]] && continue
			all[$phase]+="$rate "
			printf '   %-7s %8s ops %9s s %10s ops/s\n' "$phase" "$ops" "$secs" "$rate" >&2
		done < <(timeout 1800 "$bench_bin" "$dir" "$rows" 4 32)
		[[ -n ${all[rmdir]:-} ]] || { echo "bench_fs failed on $target" >&2; exit 1; }
	done
	for phase in "${!all[@]}"; do
		R[$target.c_$phase]=$(tr ' ' '\n' <<<"${all[$phase]}" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	done
}

# usec — microseconds since the epoch (bash 5).
usec() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }

# run_shell TARGET DIR OUT — the shell workload; records ops/s for echo and
# cat, milliseconds for the tree commands.
run_shell() {
	local target=$1 dir=$2 out=$3 i t0 t1 val
	local -a dirs=() cells=()
	echo "== shell workload on $target ($dir)" >&2
	for ((i = 0; i < shell_cells / 4; i++)); do
		dirs+=("$dir/s$i" "$dir/s$i/cf")
	done
	for ((i = 0; i < shell_cells; i++)); do
		cells+=("$dir/s$((i / 4))/cf/q$((i % 4))")
	done
	mkdir -p "$dir"
	t0=$(usec)
	mkdir "${dirs[@]}"
	t1=$(usec)
	R[$target.sh_mkdir]=$(((${#dirs[@]} * 1000000) / (t1 - t0 + 1)))

	t0=$(usec)
	for ((i = 0; i < shell_cells; i++)); do
		printf -v val 'cell %06d of the shell bench' "$i"
		echo "$val" >"${cells[i]}"
	done
	t1=$(usec)
	R[$target.sh_echo]=$(((shell_cells * 1000000) / (t1 - t0 + 1)))

	t0=$(usec)
	cat "${cells[@]}" >/dev/null
	t1=$(usec)
	R[$target.sh_cat]=$(((shell_cells * 1000000) / (t1 - t0 + 1)))

	t0=$(usec)
	ls -R "$dir" >/dev/null
	t1=$(usec)
	R[$target.sh_lsR]=$(((t1 - t0) / 1000))

	t0=$(usec)
	ls -lR "$dir" >/dev/null
	t1=$(usec)
	R[$target.sh_lslR]=$(((t1 - t0) / 1000))

	t0=$(usec)
	cp -r "$dir" "$out"
	t1=$(usec)
	R[$target.sh_cp]=$(((t1 - t0) / 1000))
	if [[ $(find "$out" -type f | wc -l) != "$shell_cells" ]]; then
		echo "cp -r from $target copied $(find "$out" -type f | wc -l) files, expected $shell_cells" >&2
		exit 1
	fi

	t0=$(usec)
	rm -rf "$dir"
	t1=$(usec)
	R[$target.sh_rm]=$(((t1 - t0) / 1000))
	rm -rf "$out"
}

export LC_ALL=C
run_c tmpfs "$tmpfs/t"
run_c hregionfs "$mnt/t"
rm -rf "${tmpfs:?}/t"
rmdir "$mnt/t" 2>/dev/null || true
run_shell tmpfs "$tmpfs/sh" "$tmpfs/out-tmpfs"
run_shell hregionfs "$mnt/sh" "$tmpfs/out-hregionfs"

# ---- report --------------------------------------------------------------------

# row LABEL KEY KIND TARGET — KIND rate (bigger is better) or ms (smaller).
row() {
	local label=$1 key=$2 kind=$3 target=${4:-} a b ratio
	a=${R[tmpfs.$key]}
	b=${R[hregionfs.$key]}
	if [[ $kind == rate ]]; then
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
	else
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
	fi
	local verdict=
	if [[ -n $target ]]; then
		if ((b >= target)); then verdict="ok (>= $target)"; else verdict="below $target"; fi
	fi
	printf '%-26s %12s %12s %8sx  %s\n' "$label" "$a" "$b" "$ratio" "$verdict"
}

echo
echo "hregionfs file-system benchmark  $(date -u +%FT%TZ)  $(nproc) CPUs  kernel $(uname -r)"
echo "C: $((rows * 4)) cells of 32 B in $rows rows x 4 qualifiers, median of $runs runs; shell: $shell_cells cells, one run"
echo "tmpfs side: $tmpfs_kind; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mount options: $opts"
printf '%-26s %12s %12s %9s  %s\n' "workload" "tmpfs" "hregionfs" "ratio" "issue target (hregionfs)"
row "C mkdir (dirs/s)" c_mkdir rate
row "C create (cells/s)" c_create rate 4000
row "C read (cells/s)" c_read rate 12700
row "C walk (entries/s)" c_walk rate 24600
row "C unlink (cells/s)" c_unlink rate 7500
row "C rmdir (dirs/s)" c_rmdir rate
row "sh mkdir (dirs/s)" sh_mkdir rate
row "sh echo > (cells/s)" sh_echo rate
row "sh cat (cells/s)" sh_cat rate
row "sh ls -R (ms)" sh_lsR ms
row "sh ls -lR (ms)" sh_lslR ms
row "sh cp -r out (ms)" sh_cp ms
row "sh rm -rf (ms)" sh_rm ms
echo "ratio = hregionfs speed / tmpfs speed (1.0 = as fast as tmpfs)"
