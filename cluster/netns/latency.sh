#!/usr/bin/env bash
# Prints the one-way latency between netns host 1 and host 2 in microseconds: half the
# median round trip of an 8-byte TCP message (TCP_NODELAY), over ROUNDS round trips.
# This kernel has no netem, so that is veth's and the TCP stack's own latency; the
# Python sender and receiver add their system calls, a few microseconds.
# usage: cluster/netns/latency.sh [ROUNDS]     (default 2000; needs a cluster of 2+ hosts)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-2000}
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 10 ]] || netns_die "ROUNDS must be a number >= 10, got '$rounds'"
netns_need_root
netns_load
(( DIGITNET_NETNS_HOSTS >= 2 )) || netns_die "needs 2 hosts, the cluster has $DIGITNET_NETNS_HOSTS"
port=5$(( RANDOM % 9000 + 1000 ))
server=$DIGITNET_NETNS_SUBNET.2

# host 2 echoes every 8-byte message back until the client closes
ip netns exec "$DIGITNET_NETNS_PREFIX-h2" /usr/bin/python3 - "$server" "$port" <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(1)
srv.settimeout(10)
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while (msg := conn.recv(8)):
    conn.sendall(msg)
PY
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT

ip netns exec "$DIGITNET_NETNS_PREFIX-h1" /usr/bin/python3 - "$server" "$port" "$rounds" <<'PY'
import socket, statistics, sys, time
host, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 10
while True:  # the echo server may not listen yet
    try:
        s = socket.create_connection((host, port), timeout=2)
        break
    except ConnectionRefusedError:
        if time.monotonic() > deadline:
            sys.exit(f"latency.sh: no echo server at {host}:{port}")
        time.sleep(0.05)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(rounds):
    t = time.perf_counter()
    s.sendall(b"12345678")
    got = b""
    while len(got) < 8:
        got += s.recv(8 - len(got))
    rtts.append(time.perf_counter() - t)
s.close()
print(f"{1e6 * statistics.median(rtts[rounds // 10:]) / 2:.1f}")  # the first tenth is warm-up
PY
wait "$echo_pid"
