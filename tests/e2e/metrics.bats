#!/usr/bin/env bats
# Metrics in the Prometheus text format: /.hregionfs/metrics, the HTTP
# endpoint (metrics_listen) and `hregionctl metrics` (live and offline),
# each checked by promcheck.py (the format, histograms' buckets, +Inf =
# _count); counters and histograms grow by what a workload did; FUSE errors
# are counted by op and errno; a port in use refuses the mount.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

# every test gets the endpoint, on a free port the daemon logs
# shellcheck disable=SC2034 # read by mount_fs (helpers.bash)
HR_OPTS=(metrics_listen=127.0.0.1:0)

PROMCHECK=$HR_REPO/tests/e2e/promcheck.py
# the python that has Prometheus's own parser (python3-prometheus-client
# goes to Debian's python3, which may not be the first python3 on PATH), so
# promcheck.py runs it too
PROMPY=python3
if ! python3 -c 'import prometheus_client' 2>/dev/null &&
	/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	PROMPY=/usr/bin/python3
fi
N=40

# metrics [SERIES...] — checks /.hregionfs/metrics; prints each series' value
metrics() {
	t cat "$M/.hregionfs/metrics" >"$HR_TMP/metrics.txt" || return 1
	"$PROMPY" "$PROMCHECK" "$HR_TMP/metrics.txt" "$@"
}

# the address the daemon's endpoint listens on (from its log)
endpoint() {
	sed -n 's|.*serving http://\(.*\)/metrics$|\1|p' "$HR_LOG" | tail -n 1
}

# http METHOD PATH — "STATUS CONTENT-TYPE" of the request, the body in $HR_TMP/body
http() {
	t python3 - "$(endpoint)" "$1" "$2" "$HR_TMP/body" <<'EOF'
import sys, urllib.request, urllib.error
addr, method, path, out = sys.argv[1:]
req = urllib.request.Request('http://%s%s' % (addr, path), method=method)
try:
    r = urllib.request.urlopen(req, timeout=10)
    status, ctype, body = r.status, r.headers.get('Content-Type'), r.read()
except urllib.error.HTTPError as e:
    status, ctype, body = e.code, e.headers.get('Content-Type'), e.read()
open(out, 'wb').write(body)
print(status, ctype)
EOF
}

# put_cells N — N cells of table t, one row each
put_cells() {
	t mkdir -p "$M/t"
	tsh 'for ((i = 0; i < $2; i++)); do mkdir "$1/t/r$i" "$1/t/r$i/cf" && echo "v$i" > "$1/t/r$i/cf/q" || exit 1; done' "$M" "$1"
}

@test "/.hregionfs/metrics is listed and parses, with the engine's and the mount's families" {
	run t ls "$M/.hregionfs"
	assert_success
	assert_line metrics
	run metrics hregionfs_puts_total 'hregionfs_fuse_requests_total{op="lookup"}' \
		hregionfs_put_seconds_count 'hregionfs_blocked_writes_total{reason="snapshot"}' \
		hregionfs_fs_commits_total hregionfs_tables
	assert_success
	# a read-only status file
	run tsh 'echo x > "$1"' "$M/.hregionfs/metrics"
	assert_failure
}

@test "counters and histograms grow by what a workload did" {
	run metrics hregionfs_puts_total hregionfs_put_seconds_count \
		'hregionfs_fuse_requests_total{op="create"}' hregionfs_wal_appends_total
	assert_success
	read -r puts0 psec0 creates0 wal0 <<<"$(echo "$output" | tr '\n' ' ')"
	put_cells "$N"
	run metrics hregionfs_puts_total hregionfs_put_seconds_count \
		'hregionfs_fuse_requests_total{op="create"}' hregionfs_wal_appends_total \
		'hregionfs_table_puts_total{table="t"}' 'hregionfs_table_regions{table="t"}'
	assert_success
	read -r puts1 psec1 creates1 wal1 tputs1 regions <<<"$(echo "$output" | tr '\n' ' ')"
	((puts1 >= puts0 + N)) || fail "puts $puts0 -> $puts1"
	((psec1 >= psec0 + N)) || fail "put_seconds_count $psec0 -> $psec1"
	((creates1 >= creates0 + N)) || fail "create requests $creates0 -> $creates1"
	((wal1 >= wal0 + N)) || fail "wal appends $wal0 -> $wal1"
	((tputs1 >= N)) || fail "table puts $tputs1"
	((regions == 1)) || fail "regions $regions"

	# a fresh mount (the kernel caches nothing yet): reading the cells gets them
	remount_fs
	run metrics hregionfs_gets_total hregionfs_get_seconds_count
	assert_success
	read -r gets0 gsec0 <<<"$(echo "$output" | tr '\n' ' ')"
	run tsh 'for ((i = 0; i < $2; i++)); do cat "$1/t/r$i/cf/q" || exit 1; done' "$M" "$N"
	assert_success
	assert_line "v$((N - 1))"
	run metrics hregionfs_gets_total hregionfs_get_seconds_count \
		'hregionfs_table_gets_total{table="t"}' 'hregionfs_fuse_requests_total{op="read"}'
	assert_success
	read -r gets1 gsec1 tgets1 reads1 <<<"$(echo "$output" | tr '\n' ' ')"
	((gets1 >= gets0 + N)) || fail "gets $gets0 -> $gets1"
	((gsec1 >= gsec0 + N)) || fail "get_seconds_count $gsec0 -> $gsec1"
	((tgets1 >= N)) || fail "table gets $tgets1"
	((reads1 >= N)) || fail "read requests $reads1"
}

@test "FUSE errors are counted by operation and errno" {
	# a file in the root is EPERM (create); a missing name is ENOENT (lookup)
	run tsh 'echo x > "$1/file"' "$M"
	assert_failure
	run t cat "$M/no-such-table"
	assert_failure
	run metrics 'hregionfs_fuse_errors_total{op="create",errno="EPERM"}' \
		'hregionfs_fuse_errors_total{op="lookup",errno="ENOENT"}'
	assert_success
	read -r eperm enoent <<<"$(echo "$output" | tr '\n' ' ')"
	((eperm == 1)) || fail "create EPERM $eperm"
	((enoent >= 1)) || fail "lookup ENOENT $enoent"
}

@test "the HTTP endpoint answers GET /metrics in the text format, 404 elsewhere" {
	put_cells 3
	[[ -n $(endpoint) ]] || fail "no 'serving http://...' line in the daemon log"
	run http GET /metrics
	assert_success
	assert_output "200 text/plain; version=0.0.4; charset=utf-8"
	run "$PROMPY" "$PROMCHECK" "$HR_TMP/body" 'hregionfs_table_regions{table="t"}'
	assert_success
	assert_output 1
	run http HEAD /metrics
	assert_output --partial "200 text/plain; version=0.0.4"
	run http GET /
	assert_output --partial 404
	run http GET /metrics/x
	assert_output --partial 404
	run http POST /metrics
	assert_output --partial 405
}

@test "a metrics_listen address in use refuses the mount; a bad one is refused" {
	local addr d2=$HR_TMP/data2 m2=$HR_TMP/mnt2
	addr=$(endpoint)
	[[ -n $addr ]] || fail "no endpoint"
	mkdir -p "$d2" "$m2"
	HR_EXTRA_MNTS+=("$m2")
	run hrfs_t -f -o "data_dir=$d2,metrics_listen=$addr" "$m2"
	assert_failure 1
	assert_output --partial "metrics_listen = $addr: cannot listen: Address already in use; not mounting"
	run is_mounted "$m2"
	assert_failure
	run hrfs_t -f -o "data_dir=$d2,metrics_listen=localhost:99999" "$m2"
	assert_failure 1
	assert_output --partial "metrics_listen"
	# the first mount still serves
	run http GET /metrics
	assert_output --partial 200
}

@test "hregionctl metrics renders the engine it opened (offline)" {
	put_cells 5
	unmount_fs
	run t "$HRCTL_BIN" -o "data_dir=$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}" metrics
	assert_success
	printf '%s\n' "$output" >"$HR_TMP/ctl.txt"
	run "$PROMPY" "$PROMCHECK" "$HR_TMP/ctl.txt" 'hregionfs_table_regions{table="t"}' \
		hregionfs_tables hregionfs_puts_total
	assert_success
	# its own run's counters: nothing was put through it
	assert_output $'1\n1\n0'
	run bash -c '"$1" -o "data_dir=$2" --json metrics | python3 -c "
import json, sys; sys.stdout.write(json.load(sys.stdin)[\"metrics\"])" >"$3" &&
		"$5" "$4" "$3" hregionfs_tables' _ "$HRCTL_BIN" "$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}" "$HR_TMP/j.txt" "$PROMCHECK" \
		"$PROMPY"
	assert_success
	assert_output 1
}

@test "hregionctl metrics against a mounted directory: the daemon's figures" {
	put_cells 5
	run t "$HRCTL_BIN" -o "data_dir=$HR_DATA${HR_STORAGE_OPTS:+,$HR_STORAGE_OPTS}" metrics
	assert_success
	printf '%s\n' "$output" >"$HR_TMP/live.txt"
	t cat "$M/.hregionfs/metrics" >"$HR_TMP/mount.txt"
	# the daemon's own counters, the mount's families included; nothing
	# was written in between, so both renderings agree
	run "$PROMPY" "$PROMCHECK" "$HR_TMP/live.txt" hregionfs_puts_total hregionfs_fs_commits_total
	assert_success
	local live=$output
	[[ ${live%%$'\n'*} -ge 5 ]]
	run "$PROMPY" "$PROMCHECK" "$HR_TMP/mount.txt" hregionfs_puts_total hregionfs_fs_commits_total
	assert_success
	assert_output "$live"
}

@test "metrics_histograms=false leaves the histograms out, counters stay" {
	unmount_fs
	mount_fs metrics_histograms=false
	put_cells 2
	run metrics hregionfs_puts_total
	assert_success
	refute_output 0
	run grep -c '_seconds_bucket' "$HR_TMP/metrics.txt"
	assert_output 0
}
