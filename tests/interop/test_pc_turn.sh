#!/bin/sh
# PeerConnection over our own TURN relay only (issue 6: iceTransportPolicy "relay" through
# starling-turn), against aiortc and Pion on 127.0.0.1, both roles (Chromium:
# test_pc_turn_chromium.sh). starling-turn (services/turn) runs
# on loopback with peers.allow = 127.0.0.1 (loopback is a denied peer range by default).
#   relay-relay: starling-peer --relay-only AND aiortc relay-only (aioice's RELAY policy), so
#     every packet crosses starling-turn twice; the selected pair must be relay on both ends
#     as each side reports it (our getStats, aioice's nominated pair).
#   relay-host:  starling-peer --relay-only against aiortc with host candidates (one
#     role), our local candidate must be relay.
#   Pion relay-relay: Pion with ICETransportPolicy relay, both roles, data mode (Pion's RTP
#     reflected too); skipped with a note if Pion's Debian sources are not installed.
# Data channel echo (200 mixed-size messages, up to 64 KiB) and aiortc's video reflected by
# starling-peer and decoded by aiortc must all arrive. starling-turn's own log must show
# the allocations (it, not something else, relayed).
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
PY=/usr/bin/python3
. "$SRC_DIR/tests/lib/starling_turn.sh"
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
[ -x "$STURN_BIN" ] || { echo "skip: starling-turn not built"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl not installed"; exit 77; }
$PY -c 'import aiortc' 2>/dev/null || { echo "skip: python3-aiortc missing"; exit 77; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d)
STURN_PID=
trap '[ -n "$STURN_PID" ] && kill $STURN_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
PORT=$(free_port)
STURN_HTTP_PORT=$(free_port)
sturn_conf "$TMP/turn.conf" 127.0.0.1 "$PORT" 127.0.0.1/32
echo "log.level = info" >>"$TMP/turn.conf"
sturn_start "$TMP/turn.conf" "$TMP/turn.log" || exit 1
URL="turn:127.0.0.1:$PORT?transport=udp"
ARGS="--relay-only --ice-server $URL --ice-username u --ice-credential p"
export PC_N_MESSAGES=200
fail=0
. "$SRC_DIR/tests/lib/retry_json.sh"
AIORTC="$SRC_DIR/tests/interop/pc/aiortc_peer.py"
for role in offer answer; do
  retry "relay-relay aiortc role=$role" '"ok": true' '"starling_local_candidate": "relay"' \
    '"starling_remote_candidate": "relay"' '"aiortc_local_candidate": "relay"' '"aiortc_remote_candidate": "relay"' -- \
    env PC_STARLING_ARGS="$ARGS" PC_AIORTC_ICE_SERVER="$URL" PC_AIORTC_ICE_USER=u PC_AIORTC_ICE_PASS=p \
      PC_AIORTC_RELAY_ONLY=1 timeout 150 $PY "$AIORTC" "$PEER" $role data
done
retry "relay-host aiortc role=offer" '"ok": true' '"starling_local_candidate": "relay"' -- \
  env PC_STARLING_ARGS="$ARGS" timeout 150 $PY "$AIORTC" "$PEER" offer data
. "$SRC_DIR/tests/lib/pion_peer.sh"
if pion_available && pion_build "$TMP"; then
  for role in offer answer; do
    retry "relay-relay pion role=$role" '"ok":true' '"starling_local_candidate":"relay"' \
      '"starling_remote_candidate":"relay"' '"pion_local_candidate":"relay"' '"pion_remote_candidate":"relay"' -- \
      env PC_STARLING_ARGS="$ARGS" PC_PION_ICE_SERVER="$URL" PC_PION_ICE_USER=u PC_PION_ICE_PASS=p \
        PC_PION_RELAY_ONLY=1 timeout 150 "$TMP/pion_peer" "$PEER" $role data
  done
else
  echo "note: Pion relay-relay not run (see above)"
fi
# Each relay-relay run allocates twice (us and the other peer), relay-host once.
n=$(grep -c 'allocation [^ ]* for [^ ]* (user u, ' "$TMP/turn.log")
echo "starling-turn allocations logged: $n"
[ "$n" -ge 5 ] || { echo "FAIL: starling-turn logged $n allocations (want >= 5)"; tail -20 "$TMP/turn.log"; fail=1; }
[ $fail -eq 0 ] || { echo "--- starling-turn log (tail)"; tail -30 "$TMP/turn.log"; }
exit $fail
