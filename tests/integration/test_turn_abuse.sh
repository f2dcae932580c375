#!/bin/sh
# starling-turn under abuse, driven by an independent Python TURN client
# (tests/integration/turn_client.py): malformed and truncated datagrams, wrong integrity,
# wrong realm, forged and stale nonces, expired REST usernames, unknown comprehension-required
# attributes (420), unsupported transport (442), peers in denied ranges in every disguise
# (403), allocation mismatch (437), per-user quota (486), and two floods of 10 000 Allocate
# requests (signed and over quota; unauthenticated and rate-limited) while a legitimate
# client is served. Loopback only; everything started here is stopped by PID.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
BIN=$BUILD_DIR/services/turn/starling-turn
[ -x "$BIN" ] || { echo "skip: $BIN is not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skip: python3 missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl missing"; exit 77; }

TMP=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HTTP=$(free_port)

cat > "$TMP/turn.conf" <<CONF
listen = 127.0.0.1:$PORT
tcp.listen =
workers = 2
realm = abuse
users = alice:wonderland, quota:q, mallory:m
relay.ipv4 = 127.0.0.1
relay.ipv6 = ::1
relay.min_port = 25000
relay.max_port = 25999
peers.allow = 127.0.0.1
rest.secrets = abuse-secret
rest.redis = false
nonce.lifetime = 2s
quota.allocations_per_user = 5
auth.rate = 10
auth.burst = 20
http.listen = 127.0.0.1:$HTTP
CONF

"$BIN" --config "$TMP/turn.conf" >"$TMP/turn.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

timeout 300 python3 "$SRC_DIR/tests/integration/turn_abuse.py" "$PORT" "$HTTP"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: the server died"; tail -20 "$TMP/turn.log"; exit 1
fi
[ $rc -eq 0 ] || { echo "server log tail:"; tail -20 "$TMP/turn.log"; }
exit $rc
