#!/usr/bin/env bash
# run_tests.sh [--unit-only] BUILD_DIR
#
# Runs every unit test binary BUILD_DIR/tests/test_* and then (without
# --unit-only) the bats end-to-end suite in tests/e2e, echoing all their
# TAP output, and ends with exactly one summary line:
#     N passed, N failed[, N skipped]
# Exit status is non-zero iff something failed. A test program that dies or
# times out before finishing its plan, or exits non-zero with no failing
# test (a sanitizer report at exit), counts as one more failure.
#
# storage=rados and cluster mode (issue 11): when Ceph and ZooKeeper are
# installed, one test cluster (ZooKeeper + a one-node Ceph, no servers;
# scripts/cluster_up.sh DIR 0, ~6 s) is started first and stopped at the
# end, always. Its HR_ZK, HR_CEPH_CONF and HR_RADOS_POOL are exported, so
# the unit tests that need RADOS or ZooKeeper run (they skip without them),
# and after the local bats pass the bats suite runs a second time with
# HREGIONFS_TEST_STORAGE=rados (the files HR_RADOS_BATS names; default: all).
# The cluster-mode .bats files start their own clusters.
#   HR_TEST_CLUSTER=auto|1|0  auto (default): start it when the packages are
#                             there; 1: a cluster that does not start is a
#                             failure; 0: no cluster, no rados pass
#   HR_RADOS_BATS=all|0|"a.bats b.bats"  what the storage=rados pass runs
#   HR_RADOS_PARALLEL=0       run the rados pass after the local pass
#                             instead of beside it (the default, 1: the
#                             suite is latency-bound, ~1/3 of a core)
set -uo pipefail

UNIT_TIMEOUT=${HR_UNIT_TIMEOUT:-300}
E2E_TIMEOUT=${HR_E2E_TIMEOUT:-900}

unit_only=0
if [[ ${1:-} == --unit-only ]]; then
	unit_only=1
	shift
fi
if [[ $# -ne 1 ]]; then
	echo "usage: $0 [--unit-only] BUILD_DIR" >&2
	echo "0 passed, 1 failed"
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
build=$(cd "$1" 2>/dev/null && pwd) || {
	echo "# no build directory '$1' (run make first)"
	echo "0 passed, 1 failed"
	exit 1
}

passed=0 failed=0 skipped=0

# Unmounts whatever a crashed test left mounted under $1, so that removing
# its directory cannot reach through a live mount into someone's data.
unmount_under() {
	local dir=$1 mnt
	[[ -r /proc/self/mounts ]] || return 0
	while read -r _ mnt _; do
		mnt=$(printf '%b' "$mnt") # /proc/mounts escapes spaces as \040
		if [[ $mnt == "$dir"/* ]]; then
			echo "# unmounting leftover mount $mnt"
			fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
		fi
	done < <(sort -r -k2 /proc/self/mounts)
}

# run_exec NAME TIMEOUT LOG CMD... — runs CMD with a fresh TMPDIR, its
# output into LOG (and echoed unless HR_RUN_QUIET=1); sets run_status.
run_exec() {
	local name=$1 limit=$2 log=$3
	shift 3
	local tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hrtest.XXXXXX") || {
		echo "# $name: cannot create a temporary directory" >"$log"
		run_status=1
		return
	}
	if [[ ${HR_RUN_QUIET:-0} == 1 ]]; then
		TMPDIR=$tmp timeout -k 10 "$limit" "$@" >"$log" 2>&1
		run_status=$?
	else
		TMPDIR=$tmp timeout -k 10 "$limit" "$@" 2>&1 | tee "$log"
		run_status=${PIPESTATUS[0]}
	fi
	unmount_under "$tmp"
	rm -rf "$tmp"
}

# run_count NAME TIMEOUT LOG STATUS — adds LOG's TAP results to the totals;
# a missing plan, tests that did not run, or a non-zero exit with no failing
# test are failures too.
run_count() {
	local name=$1 limit=$2 log=$3 status=$4
	local ok=0 notok=0 skip=0 plan=-1 line
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line =~ ^not\ ok\ [0-9]+ ]]; then
			if [[ $line =~ \#\ [Ss][Kk][Ii][Pp] ]]; then skip=$((skip + 1)); else notok=$((notok + 1)); fi
		elif [[ $line =~ ^ok\ [0-9]+ ]]; then
			if [[ $line =~ \#\ [Ss][Kk][Ii][Pp] ]]; then skip=$((skip + 1)); else ok=$((ok + 1)); fi
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
		fi
	done <"$log"

	passed=$((passed + ok))
	failed=$((failed + notok))
	skipped=$((skipped + skip))
	local seen=$((ok + notok + skip)) why=
	if [[ $status -eq 124 || $status -eq 137 ]]; then
		why="timed out after ${limit}s"
	elif [[ $status -gt 128 ]]; then
		why="killed by signal $((status - 128))"
	else
		why="exit status $status"
	fi
	if [[ $plan -lt 0 ]]; then
		echo "# FAIL $name: ended without its plan ($why)"
		failed=$((failed + 1))
	elif [[ $seen -lt $plan ]]; then
		echo "# FAIL $name: $((plan - seen)) of $plan tests did not run ($why)"
		failed=$((failed + plan - seen))
	elif [[ $status -ne 0 && $notok -eq 0 ]]; then
		echo "# FAIL $name: no test failed but $why"
		failed=$((failed + 1))
	fi
}

# run NAME TIMEOUT CMD... — runs CMD, echoes its output, counts its results.
run() {
	local name=$1 limit=$2 log
	shift 2
	local t0=$SECONDS
	log=$(mktemp "${TMPDIR:-/tmp}/hrtest-log.XXXXXX")
	echo "# --- $name"
	run_exec "$name" "$limit" "$log" "$@"
	run_count "$name" "$limit" "$log" "$run_status"
	rm -f "$log"
	[[ $name == bats* ]] && echo "# $name: $((SECONDS - t0))s"
	return 0
}

# ---- the test cluster (storage=rados, ZooKeeper) ----------------------------
cluster_dir=
stop_cluster() {
	[[ -n $cluster_dir ]] || return 0
	"$root/scripts/cluster_down.sh" "$cluster_dir/c" >/dev/null 2>&1
	rm -rf "$cluster_dir"
	cluster_dir=
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

# start_cluster — 0 with HR_ZK, HR_CEPH_CONF, HR_RADOS_POOL exported, or 1.
start_cluster() {
	local mode=${HR_TEST_CLUSTER:-auto} t0 p missing=()
	[[ $mode == 0 ]] && { echo "# test cluster: off (HR_TEST_CLUSTER=0)"; return 1; }
	for p in ceph-mon ceph-osd ceph-mgr rados monmaptool java; do
		command -v "$p" >/dev/null || missing+=("$p")
	done
	[[ -f /usr/share/java/zookeeper.jar ]] || missing+=(zookeeper.jar)
	if [[ ${#missing[@]} -gt 0 ]]; then
		if [[ $mode == 1 ]]; then
			echo "# FAIL test cluster: not installed: ${missing[*]}"
			failed=$((failed + 1))
		else
			echo "# test cluster: not started, not installed: ${missing[*]} (.ci/run installs them); the RADOS/ZooKeeper unit tests skip, no storage=rados pass"
		fi
		return 1
	fi
	cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/hrcluster.XXXXXX") || return 1
	t0=$SECONDS
	if ! timeout -k 10 180 "$root/scripts/cluster_up.sh" "$cluster_dir/c" 0 >"$cluster_dir/up.log" 2>&1; then
		echo "# FAIL test cluster: cluster_up.sh failed:"
		sed 's/^/#   /' "$cluster_dir/up.log" | tail -n 20
		failed=$((failed + 1))
		stop_cluster
		return 1
	fi
	set -a
	# shellcheck disable=SC1091
	source "$cluster_dir/c/env"
	set +a
	echo "# test cluster up in $((SECONDS - t0))s: HR_ZK=$HR_ZK HR_CEPH_CONF=$HR_CEPH_CONF HR_RADOS_POOL=$HR_RADOS_POOL"
}

cluster=0
start_cluster && cluster=1

shopt -s nullglob
bins=()
for b in "$build"/tests/test_*; do
	[[ -f $b && -x $b ]] && bins+=("$b")
done
if [[ ${#bins[@]} -eq 0 ]]; then
	echo "# FAIL: no unit test binaries in $build/tests"
	failed=$((failed + 1))
fi
for b in "${bins[@]}"; do
	run "$(basename "$b")" "$UNIT_TIMEOUT" "$b"
done

# rados_bats — the files of the storage=rados pass, or nothing.
rados_bats() {
	local sel=${HR_RADOS_BATS:-all} f
	[[ $cluster == 1 && $sel != 0 ]] || return 0
	if ! grep -q HREGIONFS_TEST_STORAGE tests/e2e/helpers.bash; then
		echo "# storage=rados pass: not run: tests/e2e/helpers.bash has no HREGIONFS_TEST_STORAGE yet" >&2
		return 0
	fi
	if [[ $sel == all ]]; then
		for f in tests/e2e/*.bats; do
			[[ $(basename "$f") == cluster* ]] || echo "$f"
		done
	else
		for f in $sel; do echo "tests/e2e/${f#tests/e2e/}"; done
	fi
}

if [[ $unit_only -eq 0 ]]; then
	bats_files=(tests/e2e/*.bats)
	if [[ ${#bats_files[@]} -gt 0 ]]; then
		if ! command -v bats >/dev/null; then
			echo "# FAIL: bats is not installed (apt-get install bats bats-support bats-assert)"
			failed=$((failed + 1))
		else
			export HREGIONFS_BIN="$build/hregionfs"
			mapfile -t rfiles < <(rados_bats)
			rlog=
			if [[ ${#rfiles[@]} -gt 0 && ${HR_RADOS_PARALLEL:-1} == 1 ]]; then
				# Beside the local pass; its output is shown when it is counted.
				rlog=$(mktemp "${TMPDIR:-/tmp}/hrtest-log.XXXXXX")
				(HR_RUN_QUIET=1 HREGIONFS_TEST_STORAGE=rados run_exec "bats (storage=rados)" "$E2E_TIMEOUT" "$rlog" \
					bats --tap "${rfiles[@]}"; echo "$run_status" >"$rlog.status") &
				rpid=$!
				rt0=$SECONDS
			fi
			run "bats tests/e2e" "$E2E_TIMEOUT" bats --tap tests/e2e
			if [[ -n $rlog ]]; then
				wait "$rpid"
				echo "# --- bats (storage=rados, ${#rfiles[@]} files, beside the local pass)"
				cat "$rlog"
				run_count "bats (storage=rados)" "$E2E_TIMEOUT" "$rlog" "$(cat "$rlog.status" 2>/dev/null || echo 1)"
				echo "# bats (storage=rados) beside the local pass: both done $((SECONDS - rt0))s after they started"
				rm -f "$rlog" "$rlog.status"
			elif [[ ${#rfiles[@]} -gt 0 ]]; then
				HREGIONFS_TEST_STORAGE=rados run "bats (storage=rados, ${#rfiles[@]} files)" "$E2E_TIMEOUT" bats --tap "${rfiles[@]}"
			fi
		fi
	fi
fi
stop_cluster

summary="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && summary+=", $skipped skipped"
echo "$summary"
[[ $failed -eq 0 ]]
