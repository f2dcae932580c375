#!/bin/sh
# ICE through real Linux NATs built in network namespaces (see ice_netns_lib.sh for the
# topology): two ice-probe processes (libwebrtc's ICE agent on real sockets) signal through
# FIFOs and exchange ping/pong datagrams on the selected pair; coTURN is the STUN server.
#
# Scenarios: both behind cone NATs (direct, server-reflexive); a symmetric NAT facing a
# public peer (direct, peer-reflexive); an ICE-lite public server and a full agent behind a
# NAT; both behind symmetric NATs (no direct path: must not connect without a relay); IPv6.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
. "$SRC_DIR/tests/integration/ice_netns_lib.sh"
start_coturn

STUN="--stun 10.201.0.1:3478"
PING="--ping 20 --echo --hold 2"

# 1. Both behind cone NATs: server-reflexive (or peer-reflexive) pair, hole punched.
set_nat "$NS_NA" cone; set_nat "$NS_NB" cone
run_pair cone "$NS_HA" "--filter 10.201.1.2 $STUN --role controlling $PING" \
              "$NS_HB" "--filter 10.201.2.2 $STUN --role controlled $PING" 20
ta=$(selected_types "$TMP/cone.a.log"); tb=$(selected_types "$TMP/cone.b.log")
if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show cone; fail "cone/cone did not connect (exit $RA/$RB)"
else
    case "$ta" in srflx/srflx|srflx/prflx|prflx/srflx|prflx/prflx) ;; *) show cone; fail "cone/cone pair $ta";; esac
    grep -q 'typ srflx raddr 10.201.1.2' "$TMP/cone.a.log" || { show cone; fail "A announced no srflx from coTURN"; }
    grep -q '^candidate .* 10.201.0.2 .* typ srflx' "$TMP/cone.a.log" || { show cone; fail "A's srflx is not natA's address"; }
    echo "ok: cone NAT <-> cone NAT: A $ta, B $tb"
fi

# 2. Symmetric NAT facing a public peer: the public side learns A peer-reflexive.
set_nat "$NS_NA" symmetric
run_pair sympub "$NS_HA" "--filter 10.201.1.2 $STUN --role controlling $PING" \
                "$NS_PUB" "--filter 10.201.0.1 $STUN --role controlled $PING" 20
tb=$(selected_types "$TMP/sympub.b.log")
if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show sympub; fail "symmetric/public did not connect (exit $RA/$RB)"
else
    case "$tb" in host/prflx|host/srflx) ;; *) show sympub; fail "symmetric/public: B pair $tb";; esac
    echo "ok: symmetric NAT <-> public: B $tb"
fi

# 3. ICE-lite server in pub, full agent behind a cone NAT.
set_nat "$NS_NA" cone
run_pair lite "$NS_HA" "--filter 10.201.1.2 $STUN --role controlling $PING" \
              "$NS_PUB" "--filter 10.201.0.1 --lite $PING" 20
if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show lite; fail "full/lite did not connect (exit $RA/$RB)"
else
    grep -q '^state completed' "$TMP/lite.b.log" || { show lite; fail "lite server never completed"; }
    echo "ok: full agent behind NAT <-> ICE-lite server: A $(selected_types "$TMP/lite.a.log")"
fi

# 4. Both behind symmetric NATs: no direct path exists; without a relay ICE must not connect.
set_nat "$NS_NA" symmetric; set_nat "$NS_NB" symmetric
run_pair symsym "$NS_HA" "--filter 10.201.1.2 $STUN --role controlling $PING" \
                "$NS_HB" "--filter 10.201.2.2 $STUN --role controlled $PING" 12
if [ $RA -eq 0 ] || [ $RB -eq 0 ]; then show symsym; fail "symmetric/symmetric connected without a relay?"
elif grep -q '^state connected' "$TMP/symsym.a.log"; then show symsym; fail "symmetric/symmetric reached connected"
else
    echo "ok: symmetric NAT <-> symmetric NAT: no direct connection, as expected"
fi

# 5. IPv6, routed end to end (no NAT): host candidates connect directly.
run_pair v6 "$NS_HA" "--filter fd00:201:1::2 --role controlling $PING" \
            "$NS_HB" "--filter fd00:201:2::2 --role controlled $PING" 20
if [ $RA -ne 0 ] || [ $RB -ne 0 ]; then show v6; fail "IPv6 did not connect (exit $RA/$RB)"
else
    grep -q '^selected host \[fd00:201:1::2\]:[0-9]* host \[fd00:201:2::2\]' "$TMP/v6.a.log" ||
        { show v6; fail "IPv6: unexpected pair"; }
    echo "ok: IPv6 routed: $(grep '^selected' "$TMP/v6.a.log" | tail -1)"
fi

[ $FAILS -eq 0 ] || exit 1
echo "PASS"
