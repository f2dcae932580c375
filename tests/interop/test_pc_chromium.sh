#!/bin/sh
# PeerConnection interop with headless Chromium (Debian chromium + playwright-core), both
# roles: Chromium's fake camera reflected back by starling-peer (framesDecoded grows,
# videoWidth > 0) while 1000 mixed-size messages (<= 64 KiB) are echoed in order on an ordered
# data channel; and starling-peer's synthetic VP8 (libvpx) decoded by Chromium.
# Chromium runs in a network namespace of its own, linked by a veth to the namespace where
# starling-peer runs (tests/interop/README.md); nothing leaves the two namespaces.
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
PEER="$BUILD_DIR/tools/peer/starling-peer"
command -v chromium >/dev/null 2>&1 || { echo "skip: chromium not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "skip: node not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
[ -x "$PEER" ] || { echo "skip: starling-peer not built"; exit 77; }
NODE_DIR="$SRC_DIR/tests/interop"
[ -d "$NODE_DIR/node_modules/playwright-core" ] || { echo "FAIL: playwright-core missing (scripts/install-deps.sh)"; exit 1; }
. "$SRC_DIR/tests/lib/netns.sh"
NETNS_PREFIX="pcc$$"
netns_require
PROFILE_HOME=$(mktemp -d)
cleanup() { netns_cleanup; rm -rf "$PROFILE_HOME"; }
trap cleanup EXIT
trap "exit 1" INT TERM
netns_add srv >/dev/null
netns_add br >/dev/null
netns_link srv 10.203.0.1/24 br 10.203.0.2/24
netns_exec br env NODE_PATH="$NODE_DIR/node_modules" HOME="$PROFILE_HOME" \
  timeout 300 node "$SRC_DIR/tests/interop/pc/chromium_peer.js" "$PEER" "$NETNS_PREFIX-srv" 10.203.0.1
