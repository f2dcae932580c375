#!/bin/sh
# PeerConnection interop with Pion WebRTC v3 (Debian golang-github-pion-webrtc.v3-dev), on
# 127.0.0.1, both roles: 1000 mixed-size messages echoed in order on an ordered channel while
# Pion's RTP is reflected back; our libvpx VP8 reassembled into whole frames by Pion's
# samplebuilder with valid 320x240 keyframe headers.
#
# The driver is built offline in GOPATH mode (tests/lib/pion_peer.sh).
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
. "$SRC_DIR/tests/lib/pion_peer.sh"
pion_available || exit 77
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pion_build "$WORK" || exit 1
fail=0
for role in offer answer; do
  for mode in data media; do
    out=$(timeout 120 "$WORK/pion_peer" "$PEER" $role $mode 2>"$WORK/err" | tail -1)
    echo "pion role=$role mode=$mode: $out"
    case "$out" in
      *'"ok":true'*) ;;
      *) fail=1; tail -20 "$WORK/err" ;;
    esac
  done
done
exit $fail
