# free_port: prints a port that is free for both UDP and TCP on 127.0.0.1. TURN servers
# (coTURN, starling-turn) open both on their listening port, so a port free for only one
# would make them fail to start. Tries up to 100 ports; prints nothing if none was free.
# Source it: `. "$SRC_DIR/tests/lib/free_port.sh"` (used by tests and scripts/bench-turn.sh).
free_port() {
  /usr/bin/python3 -c 'import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p); break'
}
