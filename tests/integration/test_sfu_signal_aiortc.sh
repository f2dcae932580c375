#!/bin/sh
# Rooms end to end with an independent WebRTC stack: redis-server, starling-sfu (its media
# engine on 127.0.0.1) and starling-signal (dev tokens), with two aiortc clients
# (tests/unit/sfu/aiortc_client.py) speaking docs/signalling.md over the WebSocket. alice
# publishes libvpx VP8 and sends data-channel messages; bob only watches. bob's aiortc must
# decode alice's video (320x180) and her Opus tone, see her as the active speaker (from the
# ssrc-audio-level extension aiortc writes), and get her messages on his subscriber data
# channel; both see each other join. Loopback only; everything started here is stopped by PID.
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
SFU="$BUILD_DIR/services/sfu/starling-sfu"
SIGNAL="$BUILD_DIR/services/signal/starling-signal"
PY=/usr/bin/python3
[ -x "$SFU" ] || { echo "SKIP: $SFU not built"; exit 77; }
[ -x "$SIGNAL" ] || { echo "SKIP: $SIGNAL not built"; exit 77; }
[ -f "$SRC_DIR/libwebrtc/include/rtc/pc.h" ] || { echo "SKIP: no PeerConnection layer: the SFU has no media engine"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server missing"; exit 77; }
$PY -c 'import aiortc, websockets, numpy' 2>/dev/null || { echo "SKIP: aiortc/websockets missing for $PY"; exit 77; }

TMP=$(mktemp -d /tmp/test_sfu_signal_aiortc.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
free_port() {
  $PY -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' "$1"
}
fail() { echo "FAIL: $*"; for f in sfu signal; do echo "--- $f log"; grep -v '"level":"debug"' "$TMP/$f.log" | tail -15; done; exit 1; }
wait_for() { t=$1; shift; i=0; while [ "$i" -lt $((t * 10)) ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }

RPORT=$(free_port t)
WPORT=$(free_port t)
HPORT=$(free_port t)
# Two consecutive free UDP ports (worker i of the SFU uses base + i).
UPORT=$($PY -c '
import socket
for _ in range(100):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
')
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 5 redis-cli -p "$RPORT" ping || fail "redis-server did not start"
"$SFU" --node_id sfu-aiortc --redis.port "$RPORT" --workers 2 --udp.listen "127.0.0.1:$UPORT" \
  --http.listen "127.0.0.1:$HPORT" >"$TMP/sfu.log" 2>&1 &
PIDS="$PIDS $!"
"$SIGNAL" --listen "127.0.0.1:$WPORT" --dev_mode --api_key test --api_secret "test-secret-0123456789abcdef" \
  --redis.port "$RPORT" --web_root "$SRC_DIR/services/signal/web" >"$TMP/signal.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 sh -c "redis-cli -p $RPORT hget starling:node:sfu-aiortc state | grep -q up" || fail "SFU did not register"
wait_for 10 curl -sf "http://127.0.0.1:$WPORT/healthz" || fail "signal not healthy"

$PY "$SRC_DIR/tests/unit/sfu/aiortc_client.py" "http://127.0.0.1:$WPORT" e2e alice 16 publish >"$TMP/alice.json" 2>"$TMP/alice.err" &
A=$!
PIDS="$PIDS $A"
sleep 1
$PY "$SRC_DIR/tests/unit/sfu/aiortc_client.py" "http://127.0.0.1:$WPORT" e2e bob 14 watch >"$TMP/bob.json" 2>"$TMP/bob.err" &
B=$!
PIDS="$PIDS $B"
wait "$A" || { tail -20 "$TMP/alice.err"; fail "alice's client failed"; }
wait "$B" || { tail -20 "$TMP/bob.err"; fail "bob's client failed"; }
echo "alice: $(cat "$TMP/alice.json")"
echo "bob:   $(cat "$TMP/bob.json")"
$PY - "$TMP/alice.json" "$TMP/bob.json" <<'EOF' || fail "results"
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
assert a["joined"] and b["joined"], "not both joined"
assert not a["errors"] and not b["errors"], (a["errors"], b["errors"])
assert len(b["participants_seen"]) == 1 and len(a["participants_seen"]) == 1, "did not see each other"
video = [k for k, v in b["sizes"].items() if v != "audio"]
audio = [k for k, v in b["sizes"].items() if v == "audio"]
assert len(video) == 1 and len(audio) == 1, b["sizes"]
frames = b["frames"][video[0]]
assert frames >= 60, f"bob decoded {frames} frames of alice's video"
assert b["frames"][audio[0]] >= 100, f"bob decoded {b['frames'][audio[0]]} audio frames"
spk = b.get("speakers", [])
assert any(s[:1] == [b["participants_seen"][0]] for s in spk), f"alice never the active speaker: {spk}"
assert "320x180" in b["sizes"].values(), b["sizes"]
msgs = [d for d in b["data"] if d.get("payload", "").startswith("hello")]
alice_id = b["participants_seen"][0]
assert len(msgs) >= 5, f"bob got {len(msgs)} data messages"
assert all(d["from"] == alice_id for d in msgs), msgs
dc = [d for d in msgs if d.get("via") != "signal"]
assert dc, "no message came over bob's subscriber data channel"
assert sum(a["frames"].values()) == 0, "alice got video although nobody else publishes"
print(f"ok: bob decoded {frames} video frames (320x180) and {b['frames'][audio[0]]} audio frames, "
      f"got {len(msgs)} data messages ({len(dc)} on his data channel), active speakers {spk[:2]}")
EOF
# The SFU counted what it did.
sleep 0.2
M=$(curl -sf "http://127.0.0.1:$HPORT/metrics") || fail "/metrics"
fwd=$(echo "$M" | awk '/^sfu_rtp_packets_forwarded_total/ {print $2}')
rcv=$(echo "$M" | awk '/^sfu_rtp_packets_received_total/ {print $2}')
dat=$(echo "$M" | awk '/^sfu_data_messages_relayed_total/ {print $2}')
echo "metrics: received $rcv, forwarded $fwd, data $dat"
[ "${fwd%.*}" -gt 500 ] && [ "${rcv%.*}" -ge "${fwd%.*}" ] && [ "${dat%.*}" -ge 5 ] || fail "metrics do not add up"
echo "PASS"
