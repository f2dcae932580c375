#!/bin/sh
# `starling-loadtest sfu` end to end, so the SFU load generator cannot silently rot: real
# redis-server + starling-sfu + starling-signal on 127.0.0.1, one room with 2 publishers (who
# also subscribe to each other) and 2 subscribers, VP8 + Opus, 3 s of measurement. Every
# participant must join and connect, forwarded packets must arrive (about the whole expected
# fan-out; at most 5 % missing and 2 % lost by sequence numbers — loopback loses next to
# nothing, the margin is for a loaded machine), the SFU's CPU must have been read, and the
# SFU's own /metrics must have forwarded at least what the subscribers counted.
# Then, when root and Janus are available, `starling-loadtest janus` the same way against
# Janus's videoroom in a network namespace this test creates (Janus ignores loopback for ICE
# and must not offer the machine's addresses), 1 publisher + 2 subscribers.
# No timing is asserted. Everything started here is stopped by PID; the namespace is deleted.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
LT="$BUILD_DIR/loadtest/starling-loadtest"
SFU="$BUILD_DIR/services/sfu/starling-sfu"
SIGNAL="$BUILD_DIR/services/signal/starling-signal"
for b in "$LT" "$SFU" "$SIGNAL"; do [ -x "$b" ] || { echo "SKIP: $b not built"; exit 77; }; done
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server missing"; exit 77; }

TMP=$(mktemp -d /tmp/test_loadtest_sfu_smoke.XXXXXX)
PIDS=""
NS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do
    i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  PIDS=""
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
PY=/usr/bin/python3
free_port() {
  $PY -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' "$1"
}
wait_for() { t=$1; shift; i=0; while [ "$i" -lt $((t * 10)) ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
status=0
fail() { echo "FAIL: $*"; status=1; }

# check LABEL: asserts on $TMP/out (the loadtest's report) and its exit status $rc.
check() {
  cat "$TMP/err" "$TMP/out"
  line=$(grep '^RESULT ' "$TMP/out" | tail -1)
  [ "$rc" -eq 0 ] && [ -n "$line" ] || { fail "$1: exit $rc or no RESULT line"; return; }
  get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  n=$(get participants); joined=$(get joined); failed=$(get failed)
  pc=$(get pub_connected); pe=$(get pub_expected); sc=$(get sub_connected); se=$(get sub_expected)
  sent=$(get sent_pkts); recv=$(get recv_pkts); exp=$(get expected_pkts); lost=$(get lost)
  cpu=$(get server_cpu_pct)
  [ "$joined" -eq "$n" ] && [ "$failed" -eq 0 ] || fail "$1: joined $joined of $n, failed $failed"
  [ "$pc" -eq "$pe" ] && [ "$sc" -eq "$se" ] || fail "$1: publishers connected $pc/$pe, subscribers $sc/$se"
  [ "$sent" -gt 50 ] && [ "$recv" -gt 50 ] || fail "$1: sent $sent, received $recv forwarded packets"
  # At least 95 % of the expected fan-out arrived, and at most 2 % lost by sequence numbers.
  [ $((recv * 100)) -ge $((exp * 95)) ] || fail "$1: received $recv of the expected fan-out $exp"
  [ $((lost * 100)) -le $(( (recv + lost) * 2 + 100)) ] || fail "$1: lost $lost (received $recv)"
  case $cpu in nan|-nan|"") fail "$1: server CPU not measured" ;; esac
  grep -q 't=   1s' "$TMP/err" || fail "$1: no progress line"
  echo "ok: $1: $joined/$n joined, pub $pc/$pe sub $sc/$se connected, sent $sent, received $recv of $exp expected, lost $lost, server cpu $cpu%"
}

# ---- starling-signal + starling-sfu ------------------------------------------------------------
RPORT=$(free_port t); WPORT=$(free_port t); HPORT=$(free_port t); UPORT=$(free_port u)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 redis-cli -p "$RPORT" ping || { echo "FAIL: redis-server did not start"; exit 1; }
"$SFU" --node_id sfu-ltsmoke --redis.port "$RPORT" --workers 1 --udp.listen "127.0.0.1:$UPORT" \
  --http.listen "127.0.0.1:$HPORT" --log.level warn >"$TMP/sfu.log" 2>&1 &
SFU_PID=$!
PIDS="$PIDS $SFU_PID"
"$SIGNAL" --listen "127.0.0.1:$WPORT" --api_key smoke --api_secret "smoke-secret-0123456789abcdef" \
  --redis.port "$RPORT" --log.level warn >"$TMP/signal.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 15 sh -c "redis-cli -p $RPORT hget starling:node:sfu-ltsmoke state | grep -q up" ||
  { echo "FAIL: SFU did not register"; tail "$TMP/sfu.log"; exit 1; }
wait_for 15 curl -sf "http://127.0.0.1:$WPORT/healthz" || { echo "FAIL: signal not healthy"; tail "$TMP/signal.log"; exit 1; }

fwd0=$(curl -sf "http://127.0.0.1:$HPORT/metrics" | awk '/^sfu_rtp_packets_forwarded_total/ {print $2}')
timeout -k 5 120 "$LT" sfu --signal "127.0.0.1:$WPORT" --api-key smoke --api-secret "smoke-secret-0123456789abcdef" \
  --rooms 1 --publishers 2 --subscribers 2 --publishers-subscribe --audio --bitrate 300 \
  --duration 3 --warmup 1 --setup-timeout 30 --server-pid "$SFU_PID" --label smoke-sfu \
  --clip "$TMP/clip.ivf" >"$TMP/out" 2>"$TMP/err"
rc=$?
check starling
# Each publisher is received by 3 others (2 subscribers + the other publisher): the SFU's own
# counter must cover what the loadtest counted.
fwd1=$(curl -sf "http://127.0.0.1:$HPORT/metrics" | awk '/^sfu_rtp_packets_forwarded_total/ {print $2}')
recv=$(grep '^RESULT ' "$TMP/out" | tr ' ' '\n' | sed -n 's/^recv_pkts=//p')
fwd0=${fwd0:-0}; fwd1=${fwd1:-0}
fwd=$(( ${fwd1%.*} - ${fwd0%.*} ))
[ -n "$recv" ] && [ "$fwd" -ge "$recv" ] || fail "starling: SFU metrics forwarded $fwd, loadtest received ${recv:-?} in its window"
echo "starling-sfu /metrics: forwarded $fwd packets during the run"
[ -f "$TMP/clip.ivf" ] || fail "--clip did not write $TMP/clip.ivf"
grep -q '"level":"error"' "$TMP/sfu.log" && { echo "--- sfu errors"; grep '"level":"error"' "$TMP/sfu.log" | head -5; }
cleanup_servers() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do wait "$p" 2>/dev/null; done
  PIDS=""
}
cleanup_servers

# ---- Janus (root, network namespace) -----------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v janus >/dev/null 2>&1; then
  echo "note: janus part skipped (needs root and the janus package)"
  exit $status
fi
NS="ltsm$$"
if ! ip netns add "$NS" 2>/dev/null; then
  NS=""
  echo "note: janus part skipped (network namespaces forbidden here)"
  exit $status
fi
ip -n "$NS" link set lo up
ip -n "$NS" link add lt0 type veth peer name lt0p
ip -n "$NS" addr add 10.208.0.1/24 dev lt0
ip -n "$NS" link set lt0 up
ip -n "$NS" link set lt0p up
J="$TMP/janus"
. "$SRC_DIR/tests/lib/janus.sh"
janus_config "$J" lt0 8188 || { echo "FAIL: the janus package has no videoroom plugin"; exit 1; }
ip netns exec "$NS" janus -F "$J/conf" -C "$J/conf/janus.jcfg" -N -L "$TMP/janus.log" -o >/dev/null 2>&1 &
JANUS_PID=$!
PIDS="$JANUS_PID"
wait_for 20 sh -c "ip netns exec $NS ss -ltnH 'sport = :8188' | grep -q ." ||
  { echo "FAIL: janus did not start"; tail -20 "$TMP/janus.log"; exit 1; }
timeout -k 5 120 ip netns exec "$NS" "$LT" janus --janus 127.0.0.1:8188 --bind 10.208.0.1 \
  --rooms 1 --publishers 1 --subscribers 2 --audio --clip "$TMP/clip.ivf" \
  --duration 3 --warmup 1 --setup-timeout 30 --server-pid "$JANUS_PID" --label smoke-janus >"$TMP/out" 2>"$TMP/err"
rc=$?
check janus
exit $status
