#!/usr/bin/env bash
# scripts/setup_and_mount.sh — from a fresh Debian/Ubuntu machine to a
# mounted hregionfs: installs the build and runtime dependencies (apt-get,
# through sudo when not root), builds the daemon, and mounts ./mnt with the
# built-in defaults (data in ./hregionfs-data). Safe to run again: it skips
# what is done already. Unmount with: fusermount3 -u mnt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PKGS=(build-essential pkg-config libfuse3-dev fuse3 liblmdb-dev libinih-dev
	liblz4-dev libzstd-dev)
PKGS+=(libmicrohttpd-dev) # the metrics endpoint (metrics_listen)
PKGS+=(librados-dev libzookeeper-mt-dev ceph-mon ceph-osd ceph-mgr ceph-common zookeeper) # storage=rados, cluster mode and their one-host test cluster (scripts/cluster_up.sh)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
	sudo_cmd=(sudo)
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "==> installing: ${missing[*]}"
	"${sudo_cmd[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

echo "==> building"
make -j"$(nproc)" build/hregionfs

mkdir -p mnt
if awk -v m="$PWD/mnt" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
	echo "==> $PWD/mnt is already mounted"
	exit 0
fi
# Without -c, ./hregionfs.ini is read when present (it holds the defaults).
./build/hregionfs mnt
echo "==> hregionfs mounted on $PWD/mnt (data in $PWD/hregionfs-data)"
echo "    try:     mkdir mnt/t && mkdir -p mnt/t/row1/cf && echo hello > mnt/t/row1/cf/q && cat mnt/t/row1/cf/q"
echo "    unmount: fusermount3 -u mnt"
