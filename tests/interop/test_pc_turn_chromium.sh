#!/bin/sh
# Issue 6: headless Chromium with iceTransportPolicy "relay" and iceServers pointing at OUR
# TURN server (starling-turn), against starling-peer. Chromium runs in a namespace of its own
# (10.203.x.2), starling-peer and starling-turn in the server namespace (10.203.x.1), linked by
# a veth; starling-turn's peers.allow is the test's /24 (RFC 1918 and the server's own address
# are denied peers by default).
#   relay-relay: starling-peer --relay-only through the same starling-turn; both roles; the
#     selected pair must be relay/relay as Chromium's getStats and ours both report it.
#   relay-host:  starling-peer with host candidates (as the SFU would be), Chromium offering;
#     Chromium's local candidate relay, ours host.
#   relay-tcp:   as relay-host with Chromium reaching starling-turn over TCP
#     (turn:...?transport=tcp): Chromium's relayProtocol must be "tcp".
# Each case: 200 mixed-size messages echoed in order on a data channel while Chromium's fake
# camera is reflected back by starling-peer and decoded (framesDecoded grows).
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
. "$SRC_DIR/tests/lib/starling_turn.sh"
command -v chromium >/dev/null 2>&1 || { echo "skip: chromium not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "skip: node not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
[ -x "$STURN_BIN" ] || { echo "skip: starling-turn not built"; exit 77; }
NODE_DIR="$SRC_DIR/tests/interop"
[ -d "$NODE_DIR/node_modules/playwright-core" ] || { echo "FAIL: playwright-core missing (scripts/install-deps.sh)"; exit 1; }
. "$SRC_DIR/tests/lib/netns.sh"
NETNS_PREFIX="pct$$"
netns_require
TMP=$(mktemp -d)
STURN_PID=
cleanup() { [ -n "$STURN_PID" ] && kill "$STURN_PID" 2>/dev/null; wait 2>/dev/null; netns_cleanup; rm -rf "$TMP"; }
trap cleanup EXIT
trap "exit 1" INT TERM
# A /24 per run so that parallel runs on one machine never share addresses.
NET="10.203.$(( $$ % 200 + 20 ))"
netns_add srv >/dev/null
netns_add br >/dev/null
netns_link srv "$NET.1/24" br "$NET.2/24"
SRV="$NETNS_PREFIX-srv"
sturn_conf "$TMP/turn.conf" "$NET.1" 3478 "$NET.0/24"
echo "log.level = info" >>"$TMP/turn.conf"
sturn_start "$TMP/turn.conf" "$TMP/turn.log" ip netns exec "$SRV" || exit 1
URL="turn:$NET.1:3478?transport=udp"
config() { echo "{\"iceServers\":[{\"urls\":\"$1\",\"username\":\"u\",\"credential\":\"p\"}],\"iceTransportPolicy\":\"relay\"}"; }
STARLING_RELAY="--relay-only --ice-server $URL --ice-username u --ice-credential p"
fail=0
run() { # NAME TURN_URL CASES EXPECT_REMOTE STARLING_ARGS
  echo "== $1"
  netns_exec br env NODE_PATH="$NODE_DIR/node_modules" HOME="$TMP" PC_CASES="$3" PC_N_MESSAGES=200 \
    PC_RTC_CONFIG="$(config "$2")" PC_EXPECT_LOCAL=relay PC_EXPECT_REMOTE="$4" PC_STARLING_ARGS="$5" \
    timeout 300 node "$SRC_DIR/tests/interop/pc/chromium_peer.js" "$PEER" "$SRV" "$NET.1" >"$TMP/$1.out" || fail=1
  cat "$TMP/$1.out"
}
run relay-relay "$URL" chromium-data,starling-data relay "$STARLING_RELAY"
run relay-host "$URL" chromium-data host ""
run relay-tcp "turn:$NET.1:3478?transport=tcp" chromium-data host ""
grep -q '"localRelayProtocol":"tcp"' "$TMP/relay-tcp.out" || { echo "FAIL: Chromium did not relay over TCP"; fail=1; }
t=$(grep -c "allocation [^ ]* for $NET.2:[0-9]* (user u, tcp)" "$TMP/turn.log")
[ "$t" -ge 1 ] || { echo "FAIL: no TCP allocation from Chromium on starling-turn"; fail=1; }
# Chromium's allocations (one per run at least) and ours (relay-relay) went through starling-turn.
n=$(grep -c "allocation [^ ]* for $NET.2:[0-9]* (user u, " "$TMP/turn.log")
m=$(grep -c "allocation [^ ]* for $NET.1:[0-9]* (user u, " "$TMP/turn.log")
echo "starling-turn allocations: Chromium $n, starling-peer $m"
[ "$n" -ge 3 ] && [ "$m" -ge 2 ] || { echo "FAIL: too few allocations on starling-turn"; fail=1; }
if [ $fail -ne 0 ]; then
  # What starling-turn did not relay (a full send buffer towards a slow TCP client, ...).
  echo "--- starling-turn drops"
  ip netns exec "$SRV" curl -s -m 3 http://127.0.0.1:$STURN_HTTP_PORT/metrics | grep '^starling_turn_dropped_total' || true
  echo "--- starling-turn log (tail)"; tail -30 "$TMP/turn.log"
fi
exit $fail
