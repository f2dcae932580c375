#!/bin/sh
# Our TURN client (libwebrtc/src/turn/, driven by `starling-loadtest turn-check`) against real
# TURN servers on 127.0.0.1: coTURN's turnserver always, and our starling-turn when it is
# built. For each server: long-term credentials over UDP, TCP and TLS, a wrong password (must fail
# with 401, no retry loop), and TURN REST API credentials (shared secret; and a wrong secret).
# Each run allocates, creates a permission, relays datagrams to a UDP peer socket on 127.0.0.1
# and back via Send/Data indications and via ChannelData, and releases.
#
# Usage: test_turn_client_coturn.sh [coturn|starling|all]   (default all available)
# Every server is started here and stopped by PID on every exit path.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
WHICH=${1:-all}
CHECK="$BUILD_DIR/loadtest/starling-loadtest"
STARLING_TURN="$BUILD_DIR/services/turn/starling-turn"
[ -x "$CHECK" ] || { echo "SKIP: $CHECK not built"; exit 77; }

TMP=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

. "$SRC_DIR/tests/lib/free_port.sh"
# Without python3, a guess from our PID (a taken port then fails the server's start, loudly).
free_port_or_guess() { free_port 2>/dev/null || echo $((20000 + $$ % 20000)); }

# wait_listen PORT PID: until something listens on TCP PORT (both servers open TCP too).
wait_listen() {
  i=0
  while [ $i -lt 100 ]; do
    kill -0 "$2" 2>/dev/null || return 1
    ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && { sleep 0.2; return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

FAIL=0
RAN=0
run() { # name, expected exit, args...
  name=$1; shift
  if "$CHECK" turn-check "$@" >"$TMP/out" 2>&1; then rc=0; else rc=$?; fi
  if [ $rc -eq 0 ]; then echo "PASS: $name"; else echo "FAIL: $name (exit $rc)"; FAIL=1; fi
  sed 's/^/    /' "$TMP/out"
}

start_coturn() { # port, extra args...
  port=$1; shift
  turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$port" \
    --realm=test --allow-loopback-peers --no-cli --no-dtls --no-stdout-log \
    --log-file="$TMP/coturn-$port.log" --pidfile="$TMP/coturn-$port.pid" "$@" >/dev/null 2>&1 &
  SERVER_PID=$!
  PIDS="$PIDS $SERVER_PID"
  wait_listen "$port" "$SERVER_PID" || { echo "FAIL: coTURN did not start on $port"; cat "$TMP"/coturn-$port*.log 2>/dev/null | tail -20; FAIL=1; return 1; }
}

test_coturn() {
  command -v turnserver >/dev/null 2>&1 || { echo "coTURN not installed (apt-get install coturn)"; return 2; }
  RAN=1
  P=$(free_port_or_guess)
  PT=$(free_port_or_guess)
  # TLS: a throwaway self-signed certificate; the client verifies against it.
  make_cert
  if start_coturn "$P" --lt-cred-mech --user=alice:wonderland --tls-listening-port="$PT" \
       --cert="$TMP/cert.pem" --pkey="$TMP/key.pem"; then
    run "coturn long-term UDP" 0 --server 127.0.0.1:$P --user alice --password wonderland
    run "coturn long-term TCP" 0 --server 127.0.0.1:$P --user alice --password wonderland --transport tcp
    run "coturn long-term TLS" 0 --server 127.0.0.1:$PT --user alice --password wonderland --transport tls \
      --ca "$TMP/cert.pem"
    run "coturn wrong password gets 401" 0 --server 127.0.0.1:$P --user alice --password nope --expect-fail 401
    run "coturn REQUESTED-ADDRESS-FAMILY IPv4" 0 --server 127.0.0.1:$P --user alice --password wonderland --family 4
  fi
  P=$(free_port_or_guess)
  if start_coturn "$P" --use-auth-secret --static-auth-secret=s3cr3t --no-tls; then
    run "coturn REST secret UDP" 0 --server 127.0.0.1:$P --secret s3cr3t --user bob
    run "coturn REST secret TCP" 0 --server 127.0.0.1:$P --secret s3cr3t --user bob --transport tcp
    run "coturn REST wrong secret gets 401" 0 --server 127.0.0.1:$P --secret wrong --user bob --expect-fail 401
  fi
}

# start_starling_turn PORT TLSPORT longterm|secret: our server with the same users as coTURN.
start_starling_turn() {
  port=$1
  if [ "$3" = secret ]; then auth="--rest.secrets=s3cr3t"; else auth="--users=alice:wonderland"; fi
  # shellcheck disable=SC2086
  "$STARLING_TURN" --listen=127.0.0.1:$port --tcp.listen=127.0.0.1:$port --tls.listen=127.0.0.1:$2 \
    --tls.cert="$TMP/cert.pem" --tls.key="$TMP/key.pem" --workers=1 --realm=test \
    --relay.ipv4=127.0.0.1 --peers.allow=127.0.0.1 --http.listen= --no-rest.redis $auth \
    >"$TMP/starling-$port.log" 2>&1 &
  SERVER_PID=$!
  PIDS="$PIDS $SERVER_PID"
  wait_listen "$port" "$SERVER_PID" || { echo "FAIL: starling-turn did not start on $port"; tail -20 "$TMP/starling-$port.log"; FAIL=1; return 1; }
}

make_cert() {
  [ -f "$TMP/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" \
    -out "$TMP/cert.pem" -days 1 -subj /CN=localhost >/dev/null 2>&1
}

test_starling() {
  [ -x "$STARLING_TURN" ] || { echo "starling-turn not built ($STARLING_TURN)"; return 2; }
  RAN=1
  make_cert
  P=$(free_port_or_guess)
  PT=$(free_port_or_guess)
  if start_starling_turn "$P" "$PT" longterm; then
    run "starling-turn long-term UDP" 0 --server 127.0.0.1:$P --user alice --password wonderland
    run "starling-turn long-term TCP" 0 --server 127.0.0.1:$P --user alice --password wonderland --transport tcp
    run "starling-turn long-term TLS" 0 --server 127.0.0.1:$PT --user alice --password wonderland --transport tls \
      --ca "$TMP/cert.pem"
    run "starling-turn wrong password gets 401" 0 --server 127.0.0.1:$P --user alice --password nope --expect-fail 401
    run "starling-turn REQUESTED-ADDRESS-FAMILY IPv4" 0 --server 127.0.0.1:$P --user alice --password wonderland --family 4
  fi
  P=$(free_port_or_guess)
  PT=$(free_port_or_guess)
  if start_starling_turn "$P" "$PT" secret; then
    run "starling-turn REST secret UDP" 0 --server 127.0.0.1:$P --secret s3cr3t --user bob
    run "starling-turn REST secret TCP" 0 --server 127.0.0.1:$P --secret s3cr3t --user bob --transport tcp
    run "starling-turn REST wrong secret gets 401" 0 --server 127.0.0.1:$P --secret wrong --user bob --expect-fail 401
  fi
}

case $WHICH in
  coturn) test_coturn ;;
  starling) test_starling ;;
  all) test_coturn; test_starling ;;
  *) echo "usage: $0 [coturn|starling|all]"; exit 2 ;;
esac
[ $RAN -eq 1 ] || { echo "SKIP: no TURN server available"; exit 77; }
[ $FAIL -eq 0 ] && echo "ALL PASSED" || echo "SOME FAILED"
exit $FAIL
