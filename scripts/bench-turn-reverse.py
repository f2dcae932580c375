#!/usr/bin/env python3
"""Peer→client relay cost (the direction scripts/bench-turn.sh does not load): N clients
allocate on a TURN server and bind a channel to one peer socket; the peer sends fixed-size
datagrams round-robin to their relayed addresses at a fixed rate; a forked reader drains the clients. Prints the server's CPU (utime+stime of PID, from
/proc) per datagram the clients received. Loopback only; bounded by --duration.

    starling-turn --listen=127.0.0.1:PORT --tcp.listen=127.0.0.1:PORT --workers=1 \
        --realm=bench --users=bench:bench \
        --relay.ipv4=127.0.0.1 --peers.allow=127.0.0.1 --http.listen= --no-rest.redis \
        --quota.allocations_per_user=0 --auth.rate=0 &
    scripts/bench-turn-reverse.py --server 127.0.0.1:PORT --pid $! [--clients 50 --rate 4000]

The sender is Python: a few thousand datagrams per second at most, so this measures the
cost per wake-up at low rates, not throughput. User bench/bench (any TURN server).
"""
import argparse, os, select, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import turn_client as tc

ap = argparse.ArgumentParser()
ap.add_argument("--server", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--clients", type=int, default=50)
ap.add_argument("--rate", type=int, default=4000)
ap.add_argument("--size", type=int, default=150)
ap.add_argument("--duration", type=float, default=8)
a = ap.parse_args()
host, port = a.server.rsplit(":", 1)
server = (host, int(port))
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    f = open("/proc/%d/stat" % a.pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(("127.0.0.1", 0))
pport = peer.getsockname()[1]
clients, relays = [], []
for i in range(a.clients):
    c = tc.Client(server, "bench", "bench")
    relays.append(c.allocate())
    c.bind(0x4000, "127.0.0.1", pport)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    c.sock.setblocking(False)
    clients.append(c)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    n, end = 0, time.monotonic() + a.duration + 1.5
    fds = [c.sock for c in clients]
    while time.monotonic() < end:
        ready, _, _ = select.select(fds, [], [], 0.2)
        for s in ready:
            while True:
                try:
                    s.recv(4096)
                    n += 1
                except BlockingIOError:
                    break
    os.write(w, str(n).encode())
    os._exit(0)
os.close(w)
payload = b"x" * a.size
c0, t0 = cpu(), time.monotonic()
sent, k = 0, 0
while True:
    now = time.monotonic()
    if now - t0 >= a.duration:
        break
    due = int((now - t0) * a.rate)
    while sent < due:
        peer.sendto(payload, relays[k])
        k = (k + 1) % len(relays)
        sent += 1
    time.sleep(0.001)
time.sleep(0.3)
c1 = cpu()
got = int(os.read(r, 64).decode() or 0)
os.waitpid(pid, 0)
print("sent=%d received=%d server_cpu_s=%.2f us_per_pkt=%.2f" % (sent, got, c1 - c0, (c1 - c0) / max(got, 1) * 1e6))
