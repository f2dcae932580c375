#!/bin/sh
# coTURN's turnutils_uclient — a TURN client nobody here wrote — against starling-turn on
# loopback: UDP, TCP and TLS; channels (default) and Send/Data indications (-s); long-term
# (-u/-w) and TURN REST (-W) credentials; IPv6 (-x) and dual-stack (-Z) relays; DONT-FRAGMENT
# (-g); relaying to coTURN's echo peer (turnutils_peer) as well as client-to-client (-y); and
# a nonce lifetime so short that nonces go stale during setup, so 438 and the client's retry
# happen for real. Every run must end with every packet sent received ("lost 0").
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
BIN=$BUILD_DIR/services/turn/starling-turn
[ -x "$BIN" ] || { echo "skip: $BIN is not built (services/common missing?)"; exit 77; }
for t in turnutils_uclient turnutils_peer openssl curl python3; do
  command -v $t >/dev/null 2>&1 || { echo "skip: $t not installed (scripts/install-deps.sh)"; exit 77; }
done

TMP=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
PEER_PORT=$(free_port)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || { echo "FAIL: openssl req"; exit 1; }

cat > "$TMP/turn.conf" <<EOF
listen = 127.0.0.1:$PORT
tcp.listen = 127.0.0.1:$PORT
tls.listen = 127.0.0.1:$TLS_PORT
tls.cert = $TMP/cert.pem
tls.key = $TMP/key.pem
workers = 2
realm = interop
users = alice:wonderland
relay.ipv4 = 127.0.0.1
relay.ipv6 = ::1
relay.min_port = 20000
relay.max_port = 24999
peers.allow = 127.0.0.1, ::1
rest.secrets = interop-rest-secret
rest.redis = false
nonce.lifetime = 1s
quota.allocations_per_user = 0
auth.rate = 0
http.listen = 127.0.0.1:$HTTP_PORT
EOF

"$BIN" --config "$TMP/turn.conf" >"$TMP/turn.log" 2>&1 &
pids="$pids $!"
turnutils_peer -p "$PEER_PORT" -L 127.0.0.1 >"$TMP/peer.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || { echo "FAIL: server did not come up"; cat "$TMP/turn.log"; exit 1; }

failures=0
# run NAME EXPECTED_MSGS uclient-args...
# One retry, announced: on this shared 2-core machine a loaded moment can make
# turnutils_uclient give up waiting for its last echoes. A real bug fails both attempts.
attempt() {
  out=$1; expect=$2; shift 2
  timeout 120 turnutils_uclient "$@" >"$out" 2>&1
  rc=$?
  sent=$(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1/p' "$out" | tail -1)
  recv=$(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\2/p' "$out" | tail -1)
  # TLS clients first try TLS 1.0/1.1, which we refuse ("alert protocol version"), then 1.2/1.3.
  # On a loaded machine uclient sometimes sends a second Allocate, a new transaction, on a
  # socket whose first one already made an allocation (seen with -v: "allocate sent",
  # "allocate response received", "allocate sent", "error 437"); RFC 8656 §7.2 answers that
  # with 437 Allocation Mismatch, and uclient carries on. The run must still deliver every
  # message.
  [ $rc -eq 0 ] && grep -q "Total lost packets 0 (0.000000%)" "$out" \
     && ! grep -v "protocol version\|cannot connect\|error 437 (Allocation Mismatch)" "$out" | grep -qi "error" \
     && [ "${sent:-0}" = "$expect" ] && [ "${recv:-0}" = "$expect" ]
}
run() {
  name=$1; expect=$2; shift 2
  out="$TMP/$name.out"
  if attempt "$out" "$expect" "$@"; then
    m=$(grep -c "error 437" "$out")
    echo "ok   $name: $recv/$sent messages, 0 lost$([ "$m" -gt 0 ] && echo " ($m late Allocate answers met 437 on uclient's new try)")"
    return
  fi
  echo "retry $name (first attempt: rc=$rc, sent=${sent:-?} recv=${recv:-?}, want $expect):"
  grep -v "^$" "$out" | tail -5
  if attempt "$out" "$expect" "$@"; then
    echo "ok   $name (second attempt): $recv/$sent messages, 0 lost"
  else
    echo "FAIL $name (rc=$rc, sent=${sent:-?} recv=${recv:-?}, want $expect):"
    grep -v "^$" "$out" | tail -15
    failures=$((failures + 1))
  fi
}

U="-u alice -w wonderland"
run udp_channels        200 -p "$PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run udp_indications     200 -p "$PORT" $U -e 127.0.0.1 -y -s -m 4 -n 50 -l 150 127.0.0.1
run udp_echo_peer       200 -p "$PORT" $U -e 127.0.0.1 -r "$PEER_PORT" -m 4 -n 50 -l 150 127.0.0.1
run tcp_channels        200 -t -p "$PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run tcp_indications     200 -t -s -p "$PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run tcp_padded_channels 200 -t -D -p "$PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 151 127.0.0.1
run tls_channels        200 -t -S -p "$TLS_PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run tls_indications     200 -t -S -s -p "$TLS_PORT" $U -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run rest_udp            200 -p "$PORT" -u carol -W interop-rest-secret -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run rest_tls            200 -t -S -p "$TLS_PORT" -u carol -W interop-rest-secret -e 127.0.0.1 -y -m 4 -n 50 -l 150 127.0.0.1
run ipv6_relay          200 -x -p "$PORT" $U -e 127.0.0.1 -y -m 2 -n 50 -l 150 127.0.0.1
run dual_stack          100 -Z -p "$PORT" $U -e 127.0.0.1 -y -m 2 -n 50 -l 150 127.0.0.1
run dont_fragment       200 -g -p "$PORT" $U -e 127.0.0.1 -y -m 2 -n 50 -l 150 127.0.0.1
# 60 clients set up one after another take longer than the 1 s nonce lifetime, so their
# later requests meet 438 Stale Nonce and must retry with the fresh nonce.
run stale_nonce_retry   600 -p "$PORT" $U -e 127.0.0.1 -y -m 60 -n 10 -l 100 127.0.0.1

# Wrong credentials must not work.
timeout 30 turnutils_uclient -p "$PORT" -u alice -w wrong -e 127.0.0.1 -y -m 1 -n 5 127.0.0.1 >"$TMP/wrong.out" 2>&1
if grep -q "tot_recv_msgs=5$" "$TMP/wrong.out"; then
  echo "FAIL wrong_password: data flowed"; failures=$((failures + 1))
else
  echo "ok   wrong_password: refused"
fi

# The server saw those 438s (metrics are published once a second).
sleep 1.5
stale=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^starling_turn_stale_nonces_total/ {s += $2} END {print s + 0}')
if [ "${stale%.*}" -gt 0 ]; then echo "ok   stale nonces answered: $stale"; else echo "FAIL: no 438 was sent"; failures=$((failures + 1)); fi
relayed=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^starling_turn_packets_total/ {s += $2} END {print s + 0}')
echo "     packets relayed in total: $relayed"

if [ $failures -ne 0 ]; then
  echo "server log tail:"; tail -20 "$TMP/turn.log"
  exit 1
fi
echo "PASS"
