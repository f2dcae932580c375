#!/bin/sh
# ICE interop with aioice across real Linux NATs and coTURN (topology: tests/integration/
# ice_netns_lib.sh). aioice runs behind natA, libwebrtc's agent (ice-probe) behind natB.
#
#   1. aioice behind a cone NAT, our agent behind a symmetric NAT: no direct path (a symmetric
#      NAT facing address-and-port-dependent filtering), so the connection must use a relay —
#      ours (libwebrtc's TURN client on coTURN); aioice has no TURN server here.
#   2. the other way round: aioice behind the symmetric NAT with coTURN as its TURN server, our
#      agent behind the cone NAT without one: we must pair with aioice's relayed candidate.
#   3. both behind cone NATs with STUN only: a direct server-reflexive path.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
PY=/usr/bin/python3
$PY -c 'import aioice' 2>/dev/null ||
    { echo "FAIL: python3-aioice is not installed for /usr/bin/python3 (scripts/install-deps.sh)"; exit 1; }
. "$SRC_DIR/tests/integration/ice_netns_lib.sh"
start_coturn

SCRIPT="$SRC_DIR/tests/interop/ice_aioice.py"
STUN=10.201.0.1:3478
# aioice_run NAME ROLE [args...]: aioice in hostA's namespace, the probe in hostB's
aioice_run() {
    name=$1; shift
    ip netns exec "$NS_HA" timeout 90 $PY "$SCRIPT" "$PROBE" "$@" >"$TMP/$name.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    wait $pid; rc=$?
    PIDS=$(echo "$PIDS" | sed "s/ $pid//")
    if [ $rc -ne 0 ]; then cat "$TMP/$name.log"; fail "$name (exit $rc)"
    else echo "ok: $name: $(grep '^probe: selected' "$TMP/$name.log" | tail -1)"; fi
}

set_nat "$NS_NA" cone; set_nat "$NS_NB" symmetric
aioice_run our-relay controlling --host 10.201.1.2 --stun $STUN --probe-netns "$NS_HB" \
    --probe-filter 10.201.2.2 --expect-selected '^selected relay 10\.201\.0\.1:' --timeout 30 \
    -- --stun $STUN --turn $STUN --turn-user u --turn-pass p

set_nat "$NS_NA" symmetric; set_nat "$NS_NB" cone
aioice_run aioice-relay controlled --host 10.201.1.2 --stun $STUN --turn $STUN --probe-netns "$NS_HB" \
    --probe-filter 10.201.2.2 --expect-selected '^selected \S+ \S+ relay 10\.201\.0\.1:' --timeout 30 \
    -- --stun $STUN

set_nat "$NS_NA" cone; set_nat "$NS_NB" cone
aioice_run direct controlling --host 10.201.1.2 --stun $STUN --probe-netns "$NS_HB" \
    --probe-filter 10.201.2.2 --expect-selected '^selected (srflx|prflx) \S+ (srflx|prflx) ' --timeout 30 \
    -- --stun $STUN

[ $FAILS -eq 0 ] || exit 1
echo "PASS"
