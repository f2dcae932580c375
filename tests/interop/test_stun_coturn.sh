#!/bin/sh
# STUN interop with coTURN, on 127.0.0.1 only:
#  1. our Binding client (starling-stun) against coTURN's turnserver: the XOR-MAPPED-ADDRESS
#     must be exactly the address we sent from;
#  2. coTURN's turnutils_stunclient against our Binding responder: the reflexive address it
#     prints must be the source address our responder saw.
set -eu
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
STUN="$BUILD_DIR/tools/stun/starling-stun"
command -v turnserver >/dev/null || { echo "SKIP: coturn not installed (scripts/install-deps.sh installs it)"; exit 77; }
[ -x "$STUN" ] || { echo "FAIL: $STUN not built"; exit 1; }

WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- 1: our client, coTURN server ------------------------------------------------------------
TPORT=$(free_port)
turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$TPORT" \
  --realm=test --user=u:p --lt-cred-mech --no-cli --no-tls --no-dtls --no-tcp-relay \
  --min-port=49152 --max-port=49200 --log-file=stdout --simple-log >"$WORK/coturn.log" 2>&1 &
PIDS="$PIDS $!"
# Ready when it answers; coTURN prints no single "ready" line.
i=0
until "$STUN" --timeout 1 "127.0.0.1:$TPORT" >/dev/null 2>&1 || [ $i -ge 20 ]; do sleep 0.2; i=$((i+1)); done

CPORT=$(free_port)
out=$("$STUN" --json --timeout 5 --bind "127.0.0.1:$CPORT" "127.0.0.1:$TPORT") || {
  echo "FAIL: no Binding answer from coTURN"; cat "$WORK/coturn.log"; exit 1; }
echo "ours -> coTURN: $out"
echo "$out" | grep -q "\"mapped\":\"127.0.0.1:$CPORT\"" || { echo "FAIL: expected mapped 127.0.0.1:$CPORT"; exit 1; }
echo "$out" | grep -qi "coturn" || { echo "FAIL: expected coTURN's SOFTWARE in the answer"; exit 1; }

# --- 2: coTURN client, our responder ---------------------------------------------------------
SPORT=$(free_port)
"$STUN" --serve "127.0.0.1:$SPORT" --count 4 >"$WORK/ours.out" 2>"$WORK/ours.log" &
PIDS="$PIDS $!"
i=0
until grep -q "^listening" "$WORK/ours.out" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done
client=$(turnutils_stunclient -p "$SPORT" -L 127.0.0.1 127.0.0.1 2>&1) || { echo "FAIL: turnutils_stunclient: $client"; exit 1; }
echo "coTURN client -> ours: $client"
reflexive=$(echo "$client" | sed -n 's/.*UDP reflexive addr: \([0-9.]*:[0-9]*\).*/\1/p' | head -1)
[ -n "$reflexive" ] || { echo "FAIL: turnutils_stunclient printed no reflexive address"; exit 1; }
sleep 0.2
grep -q "^answered $reflexive\$" "$WORK/ours.out" || {
  echo "FAIL: client saw $reflexive but our responder answered:"; cat "$WORK/ours.out"; exit 1; }
echo "PASS: STUN interop with coTURN both ways"
