#!/usr/bin/env bash
# cluster_up.sh DIR [N] — starts a test cluster on 127.0.0.1 under DIR:
# a standalone ZooKeeper, a one-node Ceph (one monitor, one manager, one
# memstore OSD, pool "hregionfs", replication 1, auth none) and N
# hregionfs servers (default 3). Every port is chosen free at start, so two
# runs on one host do not clash. Every daemon's PID is written under DIR
# (zk.pid, ceph/*.pid, servers/<n>.pid); scripts/cluster_down.sh DIR stops
# exactly those. The last line printed is the mount option
#     cluster=127.0.0.1:PORT/CHROOT
# Also written: DIR/ceph.conf (for storage=rados: ceph_conf=DIR/ceph.conf,
# rados_pool=hregionfs), DIR/env (shell assignments of all of the above).
#
# Refuses a DIR that holds a running cluster; a DIR left by cluster_down.sh
# is reused (its old state is removed, its logs kept). If a step fails, what
# was already started is stopped before the script exits non-zero.
#
# Environment: HR_CLUSTER_TIMEOUT (seconds to wait for each service, 60),
# HR_CLUSTER_NO_SERVERS=1 (ZooKeeper and Ceph only, like N=0).
# Daemons are started with setsid so a `timeout` around this script does
# not take them down with it.
set -euo pipefail

die() { echo "cluster_up: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: cluster_up.sh DIR [N]"
DIR=$1
N=${2:-3}
[[ ${HR_CLUSTER_NO_SERVERS:-0} == 1 ]] && N=0
TMO=${HR_CLUSTER_TIMEOUT:-60}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# A directory whose PID files name a live process holds a running cluster:
# refuse (starting a second one there would overwrite the PIDs that
# cluster_down.sh needs). PID files of a cluster that is gone are stale:
# cluster_down.sh removes them and the old state with them.
shopt -s nullglob
for f in "$DIR/zk.pid" "$DIR"/ceph/*.pid "$DIR"/servers/*.pid; do
	[[ -f $f ]] || continue
	pid=$(<"$f")
	if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$DIR/"; then
		die "$DIR already holds a running cluster (${f#"$DIR"/}: pid $pid); run cluster_down.sh $DIR first"
	fi
done
shopt -u nullglob
"$HERE/cluster_down.sh" "$DIR"
rm -rf "$DIR/zk" "$DIR/ceph" "$DIR/servers" "$DIR/env" "$DIR/ceph.conf"
mkdir -p "$DIR/zk/data" "$DIR/ceph" "$DIR/log" "$DIR/servers"
# Whatever was started is stopped again if a step fails (or the script is
# interrupted): a failed start leaves no daemon behind.
started=0
cleanup() {
	local rc=$?
	if ((rc != 0 && !started)); then
		echo "cluster_up: failed; stopping what was started (logs in $DIR/log)" >&2
		"$HERE/cluster_down.sh" "$DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (bound and released by the kernel's choice;
# a clash with another starter in the window is retried by the caller).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# A run of free ports [p, p+n) for Ceph's messenger range.
free_range() {
	local n=$1 p i ok
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 20000) + 30000 ))
		ok=1
		for ((i = 0; i < n; i++)); do
			if (exec 3<>/dev/tcp/127.0.0.1/$((p + i))) 2>/dev/null; then ok=0; break; fi
		done
		[[ $ok == 1 ]] && { echo "$p"; return 0; }
	done
	return 1
}
wait_for() { # wait_for DESC CMD... : retries CMD until it succeeds or TMO passes
	local desc=$1; shift
	local end=$((SECONDS + TMO))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || die "$desc not ready after ${TMO}s (logs in $DIR/log)"
		sleep 0.2
	done
}

# ---- ZooKeeper ---------------------------------------------------------------
ZK_PORT=$(free_port)
cat >"$DIR/zk/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$DIR/zk/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr
maxSessionTimeout=60000
EOF
ZK_CP=/etc/zookeeper/conf
for j in zookeeper zookeeper-jute slf4j-api slf4j-log4j12 log4j-1.2 netty-handler netty-common \
	netty-buffer netty-transport netty-resolver netty-codec netty-transport-native-epoll \
	netty-transport-native-unix-common metrics-core; do
	[[ -f /usr/share/java/$j.jar ]] && ZK_CP+=:/usr/share/java/$j.jar
done
setsid java -Xmx256m -Dzookeeper.log.dir="$DIR/log" -Dzookeeper.root.logger=INFO,CONSOLE \
	-Dcom.sun.management.jmxremote=false -cp "$ZK_CP" \
	org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zk/zoo.cfg" \
	>"$DIR/log/zookeeper.log" 2>&1 </dev/null &
echo $! >"$DIR/zk.pid"
zk_ok() { [[ $(exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT && printf ruok >&3 && timeout 2 cat <&3) == imok ]]; }
wait_for ZooKeeper zk_ok

# ---- Ceph --------------------------------------------------------------------
MON_PORT=$(free_port)
MS_MIN=$(free_range 40) || die "no free port range for Ceph"
FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')
C=$DIR/ceph
CONF=$DIR/ceph.conf
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind port min = $MS_MIN
ms bind port max = $((MS_MIN + 39))
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon mgr mkfs grace = 3600
mgr initial modules = iostat
run dir = $C/run
admin socket = $C/run/\$name.asok
log file = $DIR/log/ceph-\$name.log
mon data = $C/mon/\$name
mgr data = $C/mgr/\$name
osd data = $C/osd/\$name
osd objectstore = memstore
# pages, not one growing buffer list per object: a WAL object appended to
# record by record otherwise costs more per append as it grows (put_os_1t
# over RADOS: 2,224 puts/s at 5,000 puts, 1,071 at 20,000; with pages
# 3,970 and 4,027)
memstore page set = true
memstore device bytes = 2147483648
osd journal size = 0
keyring = /dev/null
EOF
mkdir -p "$C/run" "$C/mon/mon.a" "$C/mgr/mgr.x" "$C/osd/osd.0"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$C/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$C/monmap" >>"$DIR/log/ceph-setup.log" 2>&1
setsid ceph-mon -c "$CONF" -i a -f >>"$DIR/log/ceph-mon.out" 2>&1 </dev/null &
echo $! >"$C/mon.pid"
cephc() { timeout 20 ceph -c "$CONF" --connect-timeout 10 "$@"; }
wait_for "Ceph monitor" cephc mon stat
setsid ceph-mgr -c "$CONF" -i x -f >>"$DIR/log/ceph-mgr.out" 2>&1 </dev/null &
echo $! >"$C/mgr.pid"
OSD_UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
OSD_ID=$(cephc osd new "$OSD_UUID")
[[ $OSD_ID == 0 ]] || die "unexpected osd id $OSD_ID"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/ceph-setup.log" 2>&1
setsid ceph-osd -c "$CONF" -i 0 -f >>"$DIR/log/ceph-osd.out" 2>&1 </dev/null &
echo $! >"$C/osd.pid"
cephc osd pool create hregionfs 8 >>"$DIR/log/ceph-setup.log" 2>&1
cephc osd pool application enable hregionfs hregionfs >>"$DIR/log/ceph-setup.log" 2>&1
echo probe >"$C/probe"
wait_for "Ceph pool hregionfs" timeout 10 rados -c "$CONF" -p hregionfs put hr-probe "$C/probe"
rados -c "$CONF" -p hregionfs rm hr-probe

ZK_CHROOT=/hregionfs
cat >"$DIR/env" <<EOF
HR_ZK=127.0.0.1:$ZK_PORT
HR_ZK_CHROOT=$ZK_CHROOT
HR_CEPH_CONF=$CONF
HR_RADOS_POOL=hregionfs
EOF

# ---- hregionfs servers ---------------------------------------------------------
if ((N > 0)); then
	[[ -x $HERE/cluster_servers.sh ]] || die "no scripts/cluster_servers.sh: servers are not built yet (use N=0)"
	"$HERE/cluster_servers.sh" "$DIR" "$N"
fi
started=1
echo "cluster=127.0.0.1:$ZK_PORT$ZK_CHROOT"
