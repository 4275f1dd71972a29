#!/usr/bin/env python3
"""zkread.py HOST:PORT[/CHROOT] CMD PATH — reads ZooKeeper from the tests
without a JVM (zkCli.sh takes seconds to start; the cluster tests poll).

    ls PATH      the children of PATH, one a line, sorted
    get PATH     the data of PATH
    dump PATH    "CHILD DATA" for every child of PATH, sorted

Read-only, one short session, the ZooKeeper wire protocol (jute) spoken
directly: a connect request, then getChildren (8) or getData (4) requests.
Exit status 1 and a message for a missing node (NONODE), 2 for any other
error."""
import socket
import struct
import sys

NONODE = -101


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def zstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


class Zk:
    def __init__(self, hostport, timeout=5.0):
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.settimeout(timeout)
        # protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
        req = struct.pack(">iqiq", 0, 0, 10000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
        self.sock.sendall(frame(req))
        self.read_frame()
        self.xid = 0

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("ZooKeeper closed the connection")
            buf += chunk
        return buf

    def read_frame(self):
        (n,) = struct.unpack(">i", self.read_exact(4))
        return self.read_exact(n)

    def call(self, op, path):
        self.xid += 1
        self.sock.sendall(frame(struct.pack(">ii", self.xid, op) + zstr(path) + b"\0"))
        while True:
            body = self.read_frame()
            xid, _zxid, err = struct.unpack(">iqi", body[:16])
            if xid == self.xid:
                return err, body[16:]

    def children(self, path):
        err, body = self.call(8, path)
        if err:
            return err, None
        (count,) = struct.unpack(">i", body[:4])
        off, out = 4, []
        for _ in range(count):
            (n,) = struct.unpack(">i", body[off:off + 4])
            out.append(body[off + 4:off + 4 + n].decode())
            off += 4 + n
        return 0, sorted(out)

    def data(self, path):
        err, body = self.call(4, path)
        if err:
            return err, None
        (n,) = struct.unpack(">i", body[:4])
        return 0, body[4:4 + n] if n > 0 else b""


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in ("ls", "get", "dump"):
        print(__doc__, file=sys.stderr)
        return 2
    target, cmd, path = sys.argv[1:]
    hostport, _, chroot = target.partition("/")
    chroot = "/" + chroot if chroot else ""
    full = (chroot + path).rstrip("/") or "/"
    try:
        zk = Zk(hostport)
        if cmd == "get":
            err, d = zk.data(full)
            if not err:
                sys.stdout.write(d.decode(errors="replace") + "\n")
        else:
            err, kids = zk.children(full)
            if not err:
                for k in kids:
                    if cmd == "ls":
                        print(k)
                    else:
                        e2, d = zk.data(full.rstrip("/") + "/" + k)
                        if e2 == 0:  # a child gone between the two reads is skipped
                            print(k, d.decode(errors="replace"))
    except OSError as e:
        print(f"zkread: {hostport}: {e}", file=sys.stderr)
        return 2
    if err == NONODE:
        print(f"zkread: {full}: no such node", file=sys.stderr)
        return 1
    if err:
        print(f"zkread: {full}: error {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
