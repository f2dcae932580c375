#!/bin/sh
# `starling-loadtest turn` end to end against coTURN on 127.0.0.1: 10 clients for 3 s must
# allocate, bind channels, relay through the server to the loadtest's own peer sink, and
# produce the report. Loopback loses (next to) nothing, so at most 1% loss is tolerated; no
# timing is asserted. Also with Send indications instead of ChannelData, and over TCP and TLS.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
LT="$BUILD_DIR/loadtest/starling-loadtest"
[ -x "$LT" ] || { echo "SKIP: $LT not built"; exit 77; }
command -v turnserver >/dev/null 2>&1 || { echo "SKIP: coTURN not installed"; exit 77; }

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

. "$SRC_DIR/tests/lib/free_port.sh"
PORT=$(free_port)
TLS_PORT=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
  -subj /CN=localhost >/dev/null 2>&1
turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$PORT" --realm=test \
  --tls-listening-port="$TLS_PORT" --cert="$TMP/cert.pem" --pkey="$TMP/key.pem" \
  --user=load:test --lt-cred-mech --allow-loopback-peers --no-cli --no-dtls \
  --no-stdout-log --log-file="$TMP/coturn.log" >/dev/null 2>&1 &
SERVER_PID=$!
i=0
until ss -ltnH "sport = :$PORT" | grep -q .; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "FAIL: coTURN did not start"; exit 1; }
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "FAIL: coTURN exited"; exit 1; }
  sleep 0.1
done

status=0
for run in udp:channel udp:send tcp:channel tls:channel; do
  transport=${run%%:*}; mode=${run#*:}
  port=$PORT; [ "$transport" = tls ] && port=$TLS_PORT
  "$LT" turn --server 127.0.0.1:$port --user load --password test --clients 10 --rate 50 --size 150 \
    --duration 3 --mode $mode --transport $transport --server-pid "$SERVER_PID" --label smoke-$run \
    >"$TMP/out" 2>"$TMP/err"
  rc=$?
  cat "$TMP/err" "$TMP/out"
  line=$(grep '^RESULT ' "$TMP/out")
  [ $rc -eq 0 ] && [ -n "$line" ] || { echo "FAIL: $mode: exit $rc or no RESULT line"; status=1; continue; }
  get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  ready=$(get ready); sent=$(get sent); received=$(get received); lost=$(get lost); cpu=$(get server_cpu_pct)
  grep -q 'one-way latency p50' "$TMP/out" || { echo "FAIL: $mode: no latency line"; status=1; }
  grep -q 't=   1s' "$TMP/err" || { echo "FAIL: $mode: no progress line"; status=1; }
  [ "$ready" -eq 10 ] || { echo "FAIL: $mode: $ready/10 clients ready"; status=1; }
  [ "$sent" -gt 100 ] && [ "$received" -gt 0 ] || { echo "FAIL: $mode: sent $sent received $received"; status=1; }
  # "No more than a tiny fraction" lost: 1% (plus one packet, for tiny runs).
  [ $((lost * 100)) -le $((sent + 100)) ] || { echo "FAIL: $mode: lost $lost of $sent"; status=1; }
  case $cpu in nan|"") echo "FAIL: $mode: server CPU not measured"; status=1 ;; esac
  echo "ok: $run: ready=$ready sent=$sent received=$received lost=$lost server_cpu=$cpu%"
done
exit $status
