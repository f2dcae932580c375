#!/bin/sh
# starling-sfu behind a 1:1 NAT (ice.nat_1to1 = true, public_ip = the NAT's public address):
# its ICE candidates must carry public_ip, not the private address it is bound to, and
# clients that can only reach the public address must get media through.
#
# Topology (namespaces made here, tests/lib/netns.sh):
#   cli 10.N.1.2 --- 10.N.1.1 rtr 10.N.2.1 --- 10.N.2.2 srv
# rtr forwards and DNATs everything sent to 10.N.1.1 to 10.N.2.2 (what a cloud provider's 1:1
# NAT does); cli has no route to 10.N.2.0/24, so the private address is unreachable from it.
# srv runs redis-server, starling-sfu (udp.listen 10.N.2.2, public_ip 10.N.1.1) and
# starling-signal; two aiortc clients (tests/unit/sfu/aiortc_client.py) in cli join over
# ws://10.N.1.1: alice publishes VP8 + Opus + data, bob must decode her video. Every SFU
# candidate the clients receive must be 10.N.1.1.
# A control run without ice.nat_1to1 shows the candidates then carry 10.N.2.2 (and the test
# would fail): the feature, not the topology, makes it work.
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
SFU="$BUILD_DIR/services/sfu/starling-sfu"
SIGNAL="$BUILD_DIR/services/signal/starling-signal"
PY=/usr/bin/python3
[ -x "$SFU" ] || { echo "SKIP: $SFU not built"; exit 77; }
[ -x "$SIGNAL" ] || { echo "SKIP: $SIGNAL not built"; exit 77; }
[ -f "$SRC_DIR/libwebrtc/include/rtc/pc.h" ] || { echo "SKIP: no PeerConnection layer"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in redis-server redis-cli curl iptables; do
  command -v $t >/dev/null 2>&1 || { echo "SKIP: $t missing"; exit 77; }
done
$PY -c 'import aiortc, websockets, numpy' 2>/dev/null || { echo "SKIP: aiortc/websockets missing for $PY"; exit 77; }
. "$SRC_DIR/tests/lib/netns.sh"
NETNS_PREFIX="nat$$"
netns_require
TMP=$(mktemp -d /tmp/test_sfu_nat_1to1.XXXXXX)
cleanup() { netns_cleanup; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
N=$(( $$ % 200 + 20 ))
PUB="10.$N.1.1" PRIV="10.$N.2.2" CLI="10.$N.1.2"
netns_add cli >/dev/null
netns_add rtr >/dev/null
netns_add srv >/dev/null
netns_link cli "$CLI/24" rtr "$PUB/24"
netns_link rtr "10.$N.2.1/24" srv "$PRIV/24"
netns_exec srv ip route add default via "10.$N.2.1"
netns_exec rtr sysctl -qw net.ipv4.ip_forward=1
netns_exec rtr iptables -t nat -A PREROUTING -d "$PUB" -j DNAT --to-destination "$PRIV" 2>"$TMP/ipt" \
  || { echo "SKIP: iptables DNAT unavailable in a namespace: $(cat "$TMP/ipt")"; exit 77; }
fail() { echo "FAIL: $*"; for f in sfu signal; do echo "--- $f log"; grep -v '"level":"debug"' "$TMP/$f.log" | tail -15; done; exit 1; }
wait_for() { t=$1; shift; i=0; while [ "$i" -lt $((t * 10)) ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
S="netns_exec srv"

$S redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
wait_for 5 $S redis-cli ping || fail "redis-server did not start"
$S "$SIGNAL" --listen "$PRIV:8080" --dev_mode --api_key test --api_secret "test-secret-0123456789abcdef" \
  --web_root "$SRC_DIR/services/signal/web" >"$TMP/signal.log" 2>&1 &
wait_for 10 $S curl -s -o /dev/null "http://$PRIV:8080/healthz" || fail "signal not answering"

# run NAME SFU_ARGS...: one SFU, alice and bob; leaves $TMP/NAME.alice.json, .bob.json
run() {
  name=$1; shift
  $S "$SFU" --node_id "sfu-$name" --workers 1 --udp.listen "$PRIV:7882" --http.listen "127.0.0.1:9642" \
    --public_ip "$PUB" "$@" >"$TMP/sfu.log" 2>&1 &
  wait_for 10 sh -c "ip netns exec $NETNS_PREFIX-srv redis-cli hget starling:node:sfu-$name state | grep -q up" \
    || fail "SFU did not register"
  netns_exec cli env STARLING_TEST_HOST_IP="$CLI" $PY "$SRC_DIR/tests/unit/sfu/aiortc_client.py" "http://$PUB:8080" \
    "room-$name" alice 16 publish >"$TMP/$name.alice.json" 2>"$TMP/$name.alice.err" &
  a=$!
  sleep 1
  netns_exec cli env STARLING_TEST_HOST_IP="$CLI" $PY "$SRC_DIR/tests/unit/sfu/aiortc_client.py" "http://$PUB:8080" \
    "room-$name" bob 14 watch >"$TMP/$name.bob.json" 2>"$TMP/$name.bob.err" &
  b=$!
  wait $a; wait $b
  echo "$name alice: $(cat "$TMP/$name.alice.json")" | cut -c1-600
  echo "$name bob:   $(cat "$TMP/$name.bob.json")" | cut -c1-600
  for pid in $(ip netns pids "$NETNS_PREFIX-srv"); do
    grep -q starling-sfu "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
  done
  wait_for 15 sh -c "! ip netns pids $NETNS_PREFIX-srv | xargs -r -I{} grep -l starling-sfu /proc/{}/cmdline 2>/dev/null | grep -q ."
  ! grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$TMP/sfu.log" || fail "sanitizer report in the SFU log"
}

run nat --ice.nat_1to1=true
grep -q "1:1 NAT: ICE candidates announce $PUB" "$TMP/sfu.log" || fail "the SFU did not log its 1:1 NAT address"
$PY - "$TMP/nat.alice.json" "$TMP/nat.bob.json" "$PUB" "$PRIV" <<'PYEOF' || fail "1:1 NAT run"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
pub, priv = sys.argv[3], sys.argv[4]
for who, r in (("alice", a), ("bob", b)):
    cands = r.get("sfu_candidates", [])
    assert cands, f"{who}: no SFU candidates seen"
    assert all(c.split()[0] == pub for c in cands), f"{who}: SFU candidates {cands}, want only {pub}"
assert a["states"] == {"pub": "connected", "sub": "connected"}, f"alice: {a['states']}"
assert b["states"]["sub"] == "connected", f"bob (watching only): {b['states']}"
video = [k for k, v in b["sizes"].items() if v != "audio"]
assert len(video) == 1 and b["frames"][video[0]] >= 30, f"bob decoded {b['frames']} ({b['sizes']})"
msgs = [d for d in b["data"] if d.get("payload", "").startswith("hello")]
assert msgs, "bob got no data message"
print(f"ok: SFU candidates {a['sfu_candidates']}, bob decoded {b['frames'][video[0]]} frames through the NAT")
PYEOF

# Control: the same without ice.nat_1to1 announces the private address.
run plain
$PY - "$TMP/plain.alice.json" "$PRIV" <<'PYEOF' || fail "control run"
import json, sys
a = json.load(open(sys.argv[1]))
cands = a.get("sfu_candidates", [])
assert cands and all(c.split()[0] == sys.argv[2] for c in cands), cands
assert a["states"]["pub"] != "connected", "connected without the NAT mapping: the topology does not test it"
print(f"control ok: without ice.nat_1to1 the SFU announces {cands} and alice cannot connect")
PYEOF
echo PASS
