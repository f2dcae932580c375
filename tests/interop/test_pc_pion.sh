#!/bin/sh
# PeerConnection interop with Pion WebRTC v3 (Debian golang-github-pion-webrtc.v3-dev), on
# 127.0.0.1, both roles: 1000 mixed-size messages echoed in order on an ordered channel while
# Pion's RTP is reflected back; our libvpx VP8 reassembled into whole frames by Pion's
# samplebuilder with valid 320x240 keyframe headers.
#
# The driver is built offline in GOPATH mode. Debian installs Pion's sources without their
# "/v3" / "/v2"-suffixed import paths for webrtc and sdp, so a small GOPATH overlay maps those
# paths onto /usr/share/gocode (no network, no module proxy).
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
command -v go >/dev/null 2>&1 || { echo "skip: golang-go not installed"; exit 77; }
GOCODE=/usr/share/gocode/src/github.com/pion
[ -d "$GOCODE/webrtc" ] || { echo "skip: golang-github-pion-webrtc.v3-dev not installed"; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/gopath/src/github.com/pion/webrtc" "$WORK/gopath/src/github.com/pion/sdp" "$WORK/src/pion_peer"
ln -s "$GOCODE/webrtc" "$WORK/gopath/src/github.com/pion/webrtc/v3"
ln -s "$GOCODE/sdp" "$WORK/gopath/src/github.com/pion/sdp/v3"
cp "$SRC_DIR/tests/interop/pc/pion_peer.go" "$WORK/src/pion_peer/main.go"
mkdir -p "$BUILD_DIR/gocache"
(cd "$WORK/src/pion_peer" && GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$BUILD_DIR/gocache" \
   GOFLAGS= GOPROXY=off go build -o "$WORK/pion_peer" .) || { echo "FAIL: cannot build the Pion driver"; exit 1; }
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
