#!/bin/sh
# ICE interop with aioice (Debian python3-aioice), over loopback only: aioice controlling with
# our agent controlled, then the roles swapped; each time both connect and exchange 20 ping/pong
# datagrams each way on the selected pair. See ice_aioice.py.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
PROBE=$BUILD_DIR/tools/ice-probe/ice-probe
PY=/usr/bin/python3

[ -x "$PROBE" ] || { echo "FAIL: $PROBE is not built"; exit 1; }
if ! $PY -c 'import aioice' 2>/dev/null; then
    echo "FAIL: python3-aioice is not installed for /usr/bin/python3 (scripts/install-deps.sh)"
    exit 1
fi
status=0
for role in controlling controlled; do
    echo "== aioice $role, libwebrtc $( [ $role = controlling ] && echo controlled || echo controlling)"
    # The script starts the probe itself (as its child, waited for) and stops on its own.
    if ! timeout 60 $PY "$SRC_DIR/tests/interop/ice_aioice.py" "$PROBE" "$role"; then status=1; fi
done
# Aggressive nomination on our side, aioice controlled.
echo "== aioice controlled, libwebrtc controlling with aggressive nomination"
timeout 60 $PY "$SRC_DIR/tests/interop/ice_aioice.py" "$PROBE" controlled -- --aggressive || status=1
# IPv6 loopback.
echo "== IPv6 (::1): aioice controlling, libwebrtc controlled"
timeout 60 $PY "$SRC_DIR/tests/interop/ice_aioice.py" "$PROBE" controlling --ipv6 || status=1
exit $status
