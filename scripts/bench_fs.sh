#!/usr/bin/env bash
# bench_fs.sh — the file-system benchmark: the same workloads, in one
# invocation, on a tmpfs directory, on a mount of the baseline build (git tag
# baseline-issue4, built in a temporary directory from `git archive` and
# removed afterwards) and on a mount of this build, printed side by side
# with ratios.
#
#   scripts/bench_fs.sh [BUILD_DIR]          (default: build)
#
# Workloads:
#   C:     build/bench_fs — single-threaded mkdir/create/read/walk/unlink of
#          10,000 cells of 32 bytes in 2,500 rows x 4 qualifiers.
#   shell: 2,000 `echo >` (bash builtin); a remount (mounts only: nothing
#          cached); `cat` of all of them (cold); `cat` of all of them again
#          (warm); `ls -R`, `ls -lR`; a remount; `cp -r` out to the tmpfs
#          (cold), `cp -r` again (warm); `rm -rf`.
# Every figure is the best of HR_BENCH_RUNS rounds (5), the targets taking
# turns in each round: on a shared machine other work only ever slows a
# round down, so the fastest round is the steadiest estimate of each
# target's own cost. Figures, not a pass/fail test (the phases below the
# baseline are marked). Run as root (mount -t tmpfs); without root the
# tmpfs side falls back to a /dev/shm directory.
#
# Environment: HREGIONFS_BIN, BENCH_FS_BIN (binaries), HR_BENCH_OPTS (extra
# -o options for both mounts, e.g. durability=fsync), HR_BENCH_ROWS (2500),
# HR_BENCH_RUNS (5), HR_BENCH_BASELINE (git revision, default
# baseline-issue4; "none" skips the baseline), HR_BENCH_BASELINE_BIN (an
# already built baseline daemon instead), HR_BENCH_PASSTHROUGH (optional: a
# passthrough_hp binary from libfuse's examples, built outside this
# repository; it is mounted over a tmpfs directory and run as one more
# target, an outside reference for what a FUSE file system costs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
hr_bin=${HREGIONFS_BIN:-$build/hregionfs}
bench_bin=${BENCH_FS_BIN:-$build/bench_fs}
[[ $hr_bin == /* ]] || hr_bin=$PWD/$hr_bin
[[ $bench_bin == /* ]] || bench_bin=$PWD/$bench_bin
rows=${HR_BENCH_ROWS:-2500}
runs=${HR_BENCH_RUNS:-5}
base_rev=${HR_BENCH_BASELINE:-baseline-issue4}
shell_cells=2000

if [[ ! -x $hr_bin || ! -x $bench_bin ]]; then
	echo "building ($build)..." >&2
	make -C "$root" BUILD="$build" "$build/hregionfs" "$build/bench_fs" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hrbench.XXXXXX")
tmpfs=$work/tmpfs
mkdir -p "$tmpfs"
tmpfs_mounted=0
shm_dir=
declare -A MNT DATA PID BIN LOG

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# stop TARGET — unmounts a daemon and waits for it to exit
stop() {
	local t=$1 i
	local mnt=${MNT[$t]} pid=${PID[$t]:-}
	if is_mounted "$mnt"; then
		timeout 60 fusermount3 -u "$mnt" || timeout 10 fusermount3 -uz "$mnt" || true
	fi
	if [[ -n $pid ]]; then
		for ((i = 0; i < 600; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "bench_fs.sh: $t did not exit after unmount; kill -9" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	fi
	PID[$t]=
}

# start TARGET — mounts the target's data directory
start() {
	local t=$1 i
	local opts="data_dir=${DATA[$t]}"
	[[ -n ${HR_BENCH_OPTS:-} ]] && opts+=",$HR_BENCH_OPTS"
	if [[ $t == passthrough ]]; then
		"${BIN[$t]}" --foreground "$tmpfs/pt-src" "${MNT[$t]}" </dev/null >>"${LOG[$t]}" 2>&1 &
	else
		# From $work, so no ./hregionfs.ini applies: built-in defaults + -o only.
		(cd "$work" && exec "${BIN[$t]}" -f -o "$opts" "${MNT[$t]}") </dev/null >>"${LOG[$t]}" 2>&1 &
	fi
	PID[$t]=$!
	for ((i = 0; i < 400; i++)); do
		is_mounted "${MNT[$t]}" && return 0
		if ! kill -0 "${PID[$t]}" 2>/dev/null; then
			echo "bench_fs.sh: $t exited before mounting" >&2
			tail -n 20 "${LOG[$t]}" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "bench_fs.sh: $t did not mount within 20 s" >&2
	exit 1
}

cleanup() {
	local rc=$? t
	set +e
	cd /
	for t in "${!MNT[@]}"; do
		stop "$t"
	done
	if ((tmpfs_mounted)); then
		umount "$tmpfs" || umount -l "$tmpfs"
	fi
	[[ -n $shm_dir ]] && rm -rf "$shm_dir"
	local still=0
	for t in "${!MNT[@]}"; do
		is_mounted "${MNT[$t]}" && still=1
	done
	is_mounted "$tmpfs" && still=1
	if ((still)); then
		echo "bench_fs.sh: leaving $work (still mounted)" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the targets ---------------------------------------------------------------

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

targets=(tmpfs)
base_desc="none"
if [[ -n ${HR_BENCH_BASELINE_BIN:-} ]]; then
	BIN[baseline]=$HR_BENCH_BASELINE_BIN
	base_desc=$HR_BENCH_BASELINE_BIN
	targets+=(baseline)
elif [[ $base_rev != none ]]; then
	echo "== building the baseline ($base_rev) in $work/base" >&2
	mkdir -p "$work/base"
	git -C "$root" archive "$base_rev" | tar -x -C "$work/base"
	make -C "$work/base" -j2 build/hregionfs >"$work/base-build.log" 2>&1 ||
		{ tail -n 20 "$work/base-build.log" >&2; exit 1; }
	BIN[baseline]=$work/base/build/hregionfs
	base_desc="$base_rev ($(git -C "$root" rev-parse --short "$base_rev"))"
	targets+=(baseline)
fi
BIN[new]=$hr_bin
targets+=(new)
if [[ -n ${HR_BENCH_PASSTHROUGH:-} ]]; then
	BIN[passthrough]=$HR_BENCH_PASSTHROUGH
	mkdir -p "$tmpfs/pt-src"
	targets+=(passthrough)
fi
for t in "${targets[@]}"; do
	[[ $t == tmpfs ]] && continue
	MNT[$t]=$work/mnt-$t
	DATA[$t]=$work/data-$t
	LOG[$t]=$work/daemon-$t.log
	mkdir -p "${MNT[$t]}" "${DATA[$t]}"
	: >"${LOG[$t]}"
	start "$t"
done

# dir_of TARGET — where its workloads run
dir_of() { [[ $1 == tmpfs ]] && echo "$tmpfs" || echo "${MNT[$1]}"; }

# remount TARGET — drops everything the kernel and the daemon cache (tmpfs
# has nothing else to drop)
remount() {
	[[ $1 == tmpfs ]] && return 0
	stop "$1"
	start "$1"
}

# ---- workloads -----------------------------------------------------------------

declare -A ALL # ALL[<target>.<phase>] = "figure figure ..."

# usec — microseconds since the epoch (bash 5).
usec() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }

# run_c TARGET — the C program once; records ops/s per phase
run_c() {
	local target=$1 dir phase ops secs rate
	dir=$(dir_of "$target")/t
	echo "== bench_fs on $target ($dir)" >&2
	while read -r phase ops secs rate; do
		[[ $phase == phase ]] && continue
		ALL[$target.c_$phase]+="$rate "
		printf '   %-7s %8s ops %9s s %10s ops/s\n' "$phase" "$ops" "$secs" "$rate" >&2
	done < <(timeout 1800 "$bench_bin" "$dir" "$rows" 4 32)
	[[ -n ${ALL[$target.c_rmdir]:-} ]] || { echo "bench_fs failed on $target" >&2; exit 1; }
	rm -rf "$dir" 2>/dev/null || true
	rmdir "$dir" 2>/dev/null || true
}

# ms_since T0 — milliseconds since usec T0
ms_since() { echo $((($(usec) - $1) / 1000)); }
# rate_since T0 N — N per second since usec T0
rate_since() { echo $((($2 * 1000000) / ($(usec) - $1 + 1))); }

# run_shell TARGET — the shell workload once; rates for echo and cat
# (cells/s), milliseconds for the tree commands
run_shell() {
	local target=$1 dir out i t0 val n
	local -a dirs=() cells=()
	dir=$(dir_of "$target")/sh
	out=$tmpfs/out-$target
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
	ALL[$target.sh_mkdir]+="$(rate_since "$t0" ${#dirs[@]}) "

	t0=$(usec)
	for ((i = 0; i < shell_cells; i++)); do
		printf -v val 'cell %06d of the shell bench' "$i"
		echo "$val" >"${cells[i]}"
	done
	ALL[$target.sh_echo]+="$(rate_since "$t0" "$shell_cells") "

	remount "$target"
	t0=$(usec)
	cat "${cells[@]}" >/dev/null
	ALL[$target.sh_cat_cold]+="$(rate_since "$t0" "$shell_cells") "
	t0=$(usec)
	cat "${cells[@]}" >/dev/null
	ALL[$target.sh_cat_warm]+="$(rate_since "$t0" "$shell_cells") "

	t0=$(usec)
	ls -R "$dir" >/dev/null
	ALL[$target.sh_lsR]+="$(ms_since "$t0") "
	t0=$(usec)
	ls -lR "$dir" >/dev/null
	ALL[$target.sh_lslR]+="$(ms_since "$t0") "

	remount "$target"
	t0=$(usec)
	cp -r "$dir" "$out"
	ALL[$target.sh_cp_cold]+="$(ms_since "$t0") "
	n=$(find "$out" -type f | wc -l)
	[[ $n == "$shell_cells" ]] || { echo "cp -r from $target copied $n files, expected $shell_cells" >&2; exit 1; }
	rm -rf "$out"
	t0=$(usec)
	cp -r "$dir" "$out"
	ALL[$target.sh_cp_warm]+="$(ms_since "$t0") "
	rm -rf "$out"

	t0=$(usec)
	rm -rf "$dir"
	ALL[$target.sh_rm]+="$(ms_since "$t0") "
}

export LC_ALL=C
for ((run = 1; run <= runs; run++)); do
	echo "==== round $run/$runs" >&2
	for t in "${targets[@]}"; do
		run_c "$t"
	done
	for t in "${targets[@]}"; do
		run_shell "$t"
	done
done

# ---- report --------------------------------------------------------------------

# best KIND FIGURES — the highest rate, or the lowest milliseconds
best() {
	tr ' ' '\n' <<<"$2" | grep . | sort -n | if [[ $1 == rate ]]; then tail -n 1; else head -n 1; fi
}
declare -A R
for k in "${!ALL[@]}"; do
	case $k in
	*.sh_lsR | *.sh_lslR | *.sh_cp_* | *.sh_rm) R[$k]=$(best ms "${ALL[$k]}") ;;
	*) R[$k]=$(best rate "${ALL[$k]}") ;;
	esac
done

# speed KIND A B — how many times faster B is than A (rate: B/A; ms: A/B)
speed() {
	awk -v k="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (k == "rate") printf "%.2f", (a > 0 ? b / a : 0); else printf "%.2f", (b > 0 ? a / b : 0) }'
}

# row LABEL KEY KIND — KIND rate (bigger is better) or ms (smaller)
row() {
	local label=$1 key=$2 kind=$3 a b n p vb vt mark=
	a=${R[tmpfs.$key]:-0}
	b=${R[baseline.$key]:-}
	n=${R[new.$key]:-0}
	p=${R[passthrough.$key]:--}
	vt=$(speed "$kind" "$a" "$n")
	if [[ -n $b ]]; then
		vb=$(speed "$kind" "$b" "$n")
		awk -v v="$vb" 'BEGIN { exit !(v < 1.0) }' && mark=" below baseline"
	else
		b=- vb=-
	fi
	printf '%-28s %10s %10s %10s %9sx %9sx' "$label" "$a" "$b" "$n" "$vb" "$vt"
	[[ -n ${BIN[passthrough]:-} ]] && printf ' %11s' "$p"
	printf '%s\n' "$mark"
}

echo
echo "hregionfs file-system benchmark  $(date -u +%FT%TZ)  $(nproc) CPUs  kernel $(uname -r)"
echo "C: $((rows * 4)) cells of 32 B in $rows rows x 4 qualifiers; shell: $shell_cells cells; best of $runs rounds"
echo "tmpfs side: $tmpfs_kind; baseline: $base_desc; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mount options: data_dir=...${HR_BENCH_OPTS:+,$HR_BENCH_OPTS}"
printf '%-28s %10s %10s %10s %10s %10s' "workload" "tmpfs" "baseline" "new" "new/base" "new/tmpfs"
[[ -n ${BIN[passthrough]:-} ]] && printf ' %11s' "passthrough"
printf '\n'
row "C mkdir (dirs/s)" c_mkdir rate
row "C create (cells/s)" c_create rate
row "C read (cells/s)" c_read rate
row "C walk (entries/s)" c_walk rate
row "C unlink (cells/s)" c_unlink rate
row "C rmdir (dirs/s)" c_rmdir rate
row "sh mkdir (dirs/s)" sh_mkdir rate
row "sh echo > (cells/s)" sh_echo rate
row "sh cat, cold (cells/s)" sh_cat_cold rate
row "sh cat again, warm (cells/s)" sh_cat_warm rate
row "sh ls -R (ms)" sh_lsR ms
row "sh ls -lR (ms)" sh_lslR ms
row "sh cp -r out, cold (ms)" sh_cp_cold ms
row "sh cp -r out, warm (ms)" sh_cp_warm ms
row "sh rm -rf (ms)" sh_rm ms
echo "new/base, new/tmpfs = how many times faster the new build is (speed ratio; > 1 is faster)"
for t in baseline new; do
	[[ -n ${R[$t.sh_cat_cold]:-} ]] || continue
	printf '%-9s warm cat / cold cat = %sx\n' "$t" "$(speed rate "${R[$t.sh_cat_cold]}" "${R[$t.sh_cat_warm]}")"
done
if [[ -n ${R[baseline.sh_cp_cold]:-} ]]; then
	printf 'cp -r, cold: new is %sx the speed of the baseline\n' \
		"$(speed ms "${R[baseline.sh_cp_cold]}" "${R[new.sh_cp_cold]}")"
fi
