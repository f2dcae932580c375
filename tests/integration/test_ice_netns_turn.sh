#!/bin/sh
# Relayed ICE through real Linux NATs and coTURN (see ice_netns_lib.sh for the topology):
# libwebrtc's TURN client inside the ICE agent allocates on coTURN over UDP, TCP and TLS.
#
#   1. both peers behind symmetric NATs, TURN over UDP: no direct path, the relay carries it;
#   2. the same with TURN over TCP;
#   3. the same with TURN over TLS, the certificate verified against the test's own CA
#      (SSL_CERT_FILE) and the name turn.test; a wrong name makes the TLS handshake fail and
#      then nothing connects;
#   4. relay-only policy between cone NATs: relayed candidates only, relay to relay;
#   5. wrong TURN password: no relayed candidate, symmetric NATs do not connect.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
command -v openssl >/dev/null 2>&1 || { echo "FAIL: openssl not installed"; exit 1; }

CERTDIR=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=turn.test \
    -addext "subjectAltName=DNS:turn.test" \
    -keyout "$CERTDIR/key.pem" -out "$CERTDIR/cert.pem" >/dev/null 2>&1 ||
    { echo "FAIL: cannot make a test certificate"; rm -rf "$CERTDIR"; exit 1; }
COTURN_ARGS="--cert=$CERTDIR/cert.pem --pkey=$CERTDIR/key.pem --tls-listening-port=5349"
. "$SRC_DIR/tests/integration/ice_netns_lib.sh"
trap 'cleanup; rm -rf "$CERTDIR"' EXIT
start_coturn
until ip netns exec "$NS_PUB" ss -tln 2>/dev/null | grep -q '10.201.0.1:5349'; do sleep 0.1; done

STUN="--stun 10.201.0.1:3478"
PING="--ping 20 --echo --hold 2"
TURN="--turn 10.201.0.1:3478 --turn-user u --turn-pass p"
TURN_TLS="--turn 10.201.0.1:5349 --turn-user u --turn-pass p --turn-transport tls"

# relayed_ok NAME PROTO: both exited 0 and at least one side's selected pair is relayed over PROTO
relayed_ok() {
    if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show "$1"; fail "$1: did not connect (exit $RA/$RB)"; return; fi
    la=$(grep '^selected' "$TMP/$1.a.log" | tail -1); lb=$(grep '^selected' "$TMP/$1.b.log" | tail -1)
    case "$la $lb" in
        *"selected relay "*" $2"*) echo "ok: $1: A: $la | B: $lb" ;;
        *) show "$1"; fail "$1: no relayed local candidate over $2 selected ($la | $lb)" ;;
    esac
    grep -q "typ relay raddr" "$TMP/$1.a.log" || { show "$1"; fail "$1: A announced no relayed candidate"; }
}

set_nat "$NS_NA" symmetric; set_nat "$NS_NB" symmetric

# 1. TURN over UDP.
run_pair udp "$NS_HA" "--filter 10.201.1.2 $STUN $TURN --role controlling $PING" \
             "$NS_HB" "--filter 10.201.2.2 $STUN $TURN --role controlled $PING" 30
relayed_ok udp udp

# 2. TURN over TCP.
run_pair tcp "$NS_HA" "--filter 10.201.1.2 $STUN $TURN --turn-transport tcp --role controlling $PING" \
             "$NS_HB" "--filter 10.201.2.2 $STUN $TURN --turn-transport tcp --role controlled $PING" 30
relayed_ok tcp tcp

# 3. TURN over TLS, verified; then a wrong name.
export SSL_CERT_FILE="$CERTDIR/cert.pem"
run_pair tls "$NS_HA" "--filter 10.201.1.2 $STUN $TURN_TLS --turn-tls-name turn.test --role controlling $PING" \
             "$NS_HB" "--filter 10.201.2.2 $STUN $TURN_TLS --turn-tls-name turn.test --role controlled $PING" 30
relayed_ok tls tls
run_pair tlsbad "$NS_HA" "--filter 10.201.1.2 $STUN $TURN_TLS --turn-tls-name other.test --role controlling $PING" \
                "$NS_HB" "--filter 10.201.2.2 $STUN $TURN_TLS --turn-tls-name other.test --role controlled $PING" 12
if [ $RA -eq 0 ] || grep -q 'typ relay' "$TMP/tlsbad.a.log"; then
    show tlsbad; fail "TLS with the wrong server name still gave a relayed candidate"
else
    echo "ok: TLS with a wrong server name: refused, no relay"
fi
unset SSL_CERT_FILE

# 4. Relay-only between cone NATs.
set_nat "$NS_NA" cone; set_nat "$NS_NB" cone
run_pair relayonly "$NS_HA" "--filter 10.201.1.2 $TURN --relay-only --role controlling $PING" \
                   "$NS_HB" "--filter 10.201.2.2 $TURN --relay-only --role controlled $PING" 30
if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show relayonly; fail "relay-only did not connect"
elif grep -q 'typ host\|typ srflx' "$TMP/relayonly.a.log"; then show relayonly; fail "relay-only announced non-relay candidates"
else
    case "$(selected_types "$TMP/relayonly.a.log")" in
        relay/relay) echo "ok: relay-only: relay/relay" ;;
        *) show relayonly; fail "relay-only pair $(selected_types "$TMP/relayonly.a.log")" ;;
    esac
fi

# 5. Wrong password, symmetric NATs: nothing to connect with.
set_nat "$NS_NA" symmetric; set_nat "$NS_NB" symmetric
BAD="--turn 10.201.0.1:3478 --turn-user u --turn-pass wrong"
run_pair badpass "$NS_HA" "--filter 10.201.1.2 $STUN $BAD --role controlling $PING" \
                 "$NS_HB" "--filter 10.201.2.2 $STUN $BAD --role controlled $PING" 12
if [ $RA -eq 0 ] || grep -q 'typ relay' "$TMP/badpass.a.log"; then show badpass; fail "wrong TURN password still relayed"
else echo "ok: wrong TURN password: no relayed candidate, no connection"; fi

[ $FAILS -eq 0 ] || exit 1
echo "PASS"
