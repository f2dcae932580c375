#!/bin/sh
# PeerConnection over TURN on TCP and TLS (turn:IP:port?transport=tcp, turns:IP:port) through
# starling-turn's TCP and TLS listeners, against aiortc on 127.0.0.1. starling-peer is
# relay-only, so every packet it sends and receives crosses the TCP/TLS connection to the
# server (the PeerConnection runtime's streams, libwebrtc/src/net/stream_uv.c).
#   tcp: aiortc relay-only too (over UDP to the same server), both roles: relay/relay,
#        our relayProtocol "tcp".
#   tls: aiortc with host candidates; our relayProtocol "tls". The server certificate is a
#        self-signed one for IP 127.0.0.1 given as the trust store (SSL_CERT_FILE): the
#        certificate is really verified against the server's IP address.
#   tls with the wrong trust store: verification fails, so no relayed candidate at all.
# Data channel echo (200 messages up to 64 KiB) and aiortc's video reflected back must arrive;
# starling-turn's log must show the tcp and tls allocations.
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
PY=/usr/bin/python3
. "$SRC_DIR/tests/lib/starling_turn.sh"
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
[ -x "$STURN_BIN" ] || { echo "skip: starling-turn not built"; exit 77; }
for t in curl openssl; do command -v $t >/dev/null 2>&1 || { echo "skip: $t not installed"; exit 77; }; done
$PY -c 'import aiortc' 2>/dev/null || { echo "skip: python3-aiortc missing"; exit 77; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d)
STURN_PID=
trap '[ -n "$STURN_PID" ] && kill $STURN_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
mkcert() { # DIR: a self-signed certificate for IP 127.0.0.1
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=starling-turn-test \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1 \
    || { echo "FAIL: openssl req"; exit 1; }
}
mkcert "$TMP/good"
mkcert "$TMP/other"   # same name, different key: not the server's
PORT=$(free_port)
TLS_PORT=$(free_port)
STURN_HTTP_PORT=$(free_port)
sturn_conf "$TMP/turn.conf" 127.0.0.1 "$PORT" 127.0.0.1/32 "$TLS_PORT" "$TMP/good/cert.pem" "$TMP/good/key.pem"
echo "log.level = info" >>"$TMP/turn.conf"
sturn_start "$TMP/turn.conf" "$TMP/turn.log" || exit 1
UDP_URL="turn:127.0.0.1:$PORT?transport=udp"
TCP_ARGS="--relay-only --ice-server turn:127.0.0.1:$PORT?transport=tcp --ice-username u --ice-credential p"
TLS_ARGS="--relay-only --ice-server turns:127.0.0.1:$TLS_PORT --ice-username u --ice-credential p"
export PC_N_MESSAGES=200 SSL_CERT_FILE="$TMP/good/cert.pem"
fail=0
. "$SRC_DIR/tests/lib/retry_json.sh"
AIORTC="$SRC_DIR/tests/interop/pc/aiortc_peer.py"
for role in offer answer; do
  retry "tcp relay-relay aiortc role=$role" '"ok": true' '"starling_local_candidate": "relay"' \
    '"starling_relay_protocol": "tcp"' '"starling_remote_candidate": "relay"' '"aiortc_local_candidate": "relay"' -- \
    env PC_STARLING_ARGS="$TCP_ARGS" PC_AIORTC_ICE_SERVER="$UDP_URL" PC_AIORTC_ICE_USER=u PC_AIORTC_ICE_PASS=p \
      PC_AIORTC_RELAY_ONLY=1 timeout 150 $PY "$AIORTC" "$PEER" $role data
done
retry "tls relay-host aiortc role=answer" '"ok": true' '"starling_local_candidate": "relay"' \
  '"starling_relay_protocol": "tls"' -- env PC_STARLING_ARGS="$TLS_ARGS" timeout 150 $PY "$AIORTC" "$PEER" answer data
# The same TLS server with a trust store that does not hold its certificate: no candidate.
n=$(echo '' | SSL_CERT_FILE="$TMP/other/cert.pem" timeout 30 "$PEER" --offer --datachannel x --bind 127.0.0.1 \
      $TLS_ARGS --timeout 8 --log info 2>"$TMP/err.tlsbad" | grep -c 'typ relay')
echo "tls with the wrong trust store: $n relayed candidates"
[ "$n" = 0 ] || { echo "FAIL: a relayed candidate despite a certificate we do not trust"; fail=1; }
grep -qi "verif\|certificate" "$TMP/err.tlsbad" || { echo "FAIL: no certificate error logged"; tail -5 "$TMP/err.tlsbad"; fail=1; }
t=$(grep -c 'allocation [^ ]* for [^ ]* (user u, tcp)' "$TMP/turn.log")
s=$(grep -c 'allocation [^ ]* for [^ ]* (user u, tls)' "$TMP/turn.log")
echo "starling-turn allocations: tcp $t, tls $s"
[ "$t" -ge 2 ] && [ "$s" -ge 1 ] || { echo "FAIL: expected tcp and tls allocations on starling-turn"; fail=1; }
if [ $fail -ne 0 ]; then
  echo "--- starling-turn log (tail)"; tail -20 "$TMP/turn.log"
fi
exit $fail
