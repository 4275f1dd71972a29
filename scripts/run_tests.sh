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

# run NAME TIMEOUT CMD... — runs CMD with a fresh TMPDIR, echoes its output
# and adds its TAP results to the totals.
run() {
	local name=$1 limit=$2
	shift 2
	local tmp log status
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hrtest.XXXXXX") || {
		echo "# $name: cannot create a temporary directory"
		failed=$((failed + 1))
		return
	}
	log=$(mktemp "${TMPDIR:-/tmp}/hrtest-log.XXXXXX")
	echo "# --- $name"
	TMPDIR=$tmp timeout -k 10 "$limit" "$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	unmount_under "$tmp"
	rm -rf "$tmp"

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
	rm -f "$log"

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

if [[ $unit_only -eq 0 ]]; then
	bats_files=(tests/e2e/*.bats)
	if [[ ${#bats_files[@]} -gt 0 ]]; then
		if ! command -v bats >/dev/null; then
			echo "# FAIL: bats is not installed (apt-get install bats bats-support bats-assert)"
			failed=$((failed + 1))
		else
			export HREGIONFS_BIN="$build/hregionfs"
			run "bats tests/e2e" "$E2E_TIMEOUT" bats --tap tests/e2e
		fi
	fi
fi

summary="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && summary+=", $skipped skipped"
echo "$summary"
[[ $failed -eq 0 ]]
