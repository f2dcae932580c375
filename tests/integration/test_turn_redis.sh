#!/bin/sh
# starling-turn with a real redis-server on loopback: REST secrets from the Redis sorted set,
# Redis down at start and lost mid-run (allocations keep relaying, cached secrets keep
# working), REST auth resuming when Redis returns, rotation without restart, the HTTP
# credential endpoint, the node registry, SIGHUP reload and SIGTERM drain. The scenario is in
# turn_redis.py; this script starts the server and stops everything it started, by PID.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
BIN=$BUILD_DIR/services/turn/starling-turn
[ -x "$BIN" ] || { echo "skip: $BIN is not built"; exit 77; }
for t in python3 redis-server redis-cli turnutils_uclient; do
  command -v $t >/dev/null 2>&1 || { echo "skip: $t missing (scripts/install-deps.sh)"; exit 77; }
done

TMP=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HTTP=$(free_port)
RPORT=$(free_port)

cat > "$TMP/turn.conf" <<CONF
listen = 127.0.0.1:$PORT
tcp.listen =
workers = 2
realm = itest
users = alice:wonderland
relay.ipv4 = 127.0.0.1
relay.min_port = 26000
relay.max_port = 26999
peers.allow = 127.0.0.1
rest.redis = true
rest.refresh = 300ms
rest.ttl = 1h
http.listen = 127.0.0.1:$HTTP
http.api_key = itest-key
node.id = itest
auth.rate = 0
quota.allocations_per_user = 0

[redis]
host = 127.0.0.1
port = $RPORT
reconnect_max = 500ms

[shutdown]
drain_timeout = 6s
CONF

"$BIN" --config "$TMP/turn.conf" >"$TMP/turn.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$HTTP/metrics" >/dev/null 2>&1 && break; sleep 0.1; done

timeout 300 python3 "$SRC_DIR/tests/integration/turn_redis.py" "$PORT" "$HTTP" "$RPORT" "$pid" "$TMP/turn.conf" "$TMP" "$BIN"
rc=$?
if [ $rc -eq 0 ]; then
  wait "$pid"; st=$?
  pid=""
  [ $st -eq 0 ] || { echo "FAIL: starling-turn exited with $st after draining"; rc=1; }
fi
[ $rc -eq 0 ] || { echo "server log tail:"; tail -25 "$TMP/turn.log"; }
exit $rc
