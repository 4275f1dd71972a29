#!/usr/bin/env bash
# cluster_servers.sh DIR N — starts N hregionfs-server processes for the
# test cluster of cluster_up.sh DIR (which calls it): server n (1..N) keeps
# its local directory in DIR/servers/<n>/, its PID in DIR/servers/<n>.pid
# and its log in DIR/log/server-<n>.log; all share the cluster's ZooKeeper
# chroot and one RADOS namespace of the pool (storage=rados), so any of
# them can open any region. It returns once every server registered in
# ZooKeeper (its log says so right after its /rs znode was created), or
# fails naming the server that did not (cluster_down.sh DIR stops what did).
#
# Environment: HR_SERVER_BIN (default build/hregionfs-server of this
# checkout), HR_SERVER_OPTS (more -o KEY=VALUE,... for every server),
# HR_SERVER_STORAGE (rados, or local for a cluster without shared storage:
# only useful with one server), HR_CLUSTER_TIMEOUT (seconds, 60).
# Servers start with setsid so a `timeout` around this script does not take
# them down with it. Adding servers to a running cluster: run it again with
# a larger N (servers already running are left alone).
set -euo pipefail

die() { echo "cluster_servers: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: cluster_servers.sh DIR N"
DIR=$(cd "$1" && pwd) || die "no directory $1"
N=$2
TMO=${HR_CLUSTER_TIMEOUT:-60}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${HR_SERVER_BIN:-$HERE/../build/hregionfs-server}
[[ -x $BIN ]] || die "no server program $BIN (make first)"
[[ -f $DIR/env ]] || die "$DIR/env missing: start the cluster with cluster_up.sh"
# shellcheck disable=SC1091
source "$DIR/env"
mkdir -p "$DIR/servers" "$DIR/log"

# durability stays the ini's (os by default): over RADOS a WAL write is
# acknowledged by RADOS before the put is (io_rados's pwrite waits for it),
# so a kill -9 keeps it as the page cache would (tests/unit/test_kill_rados.c)
OPTS="cluster=$HR_ZK$HR_ZK_CHROOT,server_listen=127.0.0.1:0"
if [[ ${HR_SERVER_STORAGE:-rados} == rados ]]; then
	OPTS+=",storage=rados,ceph_conf=$HR_CEPH_CONF,rados_pool=$HR_RADOS_POOL"
	OPTS+=",rados_namespace=hregionfs-cluster"
fi
[[ -n ${HR_SERVER_OPTS:-} ]] && OPTS+=",$HR_SERVER_OPTS"

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

for ((n = 1; n <= N; n++)); do
	pidf=$DIR/servers/$n.pid
	alive "$pidf" && continue
	mkdir -p "$DIR/servers/$n"
	: >"$DIR/log/server-$n.log"
	setsid "$BIN" -o "$OPTS" "$DIR/servers/$n" >>"$DIR/log/server-$n.log" 2>&1 </dev/null &
	echo $! >"$pidf"
done

for ((n = 1; n <= N; n++)); do
	pidf=$DIR/servers/$n.pid log=$DIR/log/server-$n.log
	end=$((SECONDS + TMO))
	until grep -q ' registered at ' "$log"; do
		alive "$pidf" || die "server $n exited before registering (see $log)"
		((SECONDS < end)) || die "server $n not registered after ${TMO}s (see $log)"
		sleep 0.1
	done
done
