#!/bin/sh
# PeerConnection interop with aiortc (Debian python3-aiortc), everything on 127.0.0.1:
# starling-peer as answerer and as offerer; 1000 mixed-size messages (<= 64 KiB) echoed in
# order over an ordered channel while aiortc's video is reflected back and decoded; and our
# synthetic VP8 (libvpx) decoded by aiortc. Prints the offer->connected times.
set -u
PEER="$BUILD_DIR/tools/peer/starling-peer"
PY=/usr/bin/python3
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
$PY -c 'import aiortc, av, numpy' 2>/dev/null || { echo "skip: python3-aiortc/python3-av missing"; exit 77; }
fail=0
for role in offer answer; do
  for mode in data media; do
    out=$(timeout 120 $PY "$SRC_DIR/tests/interop/pc/aiortc_peer.py" "$PEER" $role $mode 2>/tmp/pc_aiortc_$$.err | tail -1)
    echo "aiortc role=$role mode=$mode: $out"
    case "$out" in
      *'"ok": true'*) ;;
      *) fail=1; tail -20 /tmp/pc_aiortc_$$.err ;;
    esac
  done
done
rm -f /tmp/pc_aiortc_$$.err
exit $fail
