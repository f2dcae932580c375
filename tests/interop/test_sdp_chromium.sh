#!/bin/sh
# Real Chromium applies Starling's JSEP answer (sdp/ layer) to its own offer: audio, video with
# three simulcast layers (rids h/m/l), and a data channel. Passes when setRemoteDescription
# resolves, the signaling state is stable and Chromium keeps all three encodings.
#
# Chromium runs inside a network namespace this test creates, with only loopback up, so its
# ICE gathering finds no interface and nothing leaves the namespace. Needs root, chromium,
# node and playwright-core (tests/interop/package.json, installed by scripts/install-deps.sh).
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
command -v chromium >/dev/null 2>&1 || { echo "skip: chromium not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "skip: node not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root for a network namespace"; exit 77; }
BIN="$BUILD_DIR/tests/unit_test_jsep"
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
NODE_DIR="$SRC_DIR/tests/interop"
[ -d "$NODE_DIR/node_modules/playwright-core" ] ||
  { echo "FAIL: playwright-core missing; scripts/install-deps.sh installs it"; exit 1; }
NS="sdp-chromium-$$"
OUT=$(mktemp)
PROFILE_HOME=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$OUT" "$PROFILE_HOME"; }
trap cleanup EXIT
trap "exit 1" INT TERM
ip netns add "$NS" || { echo "skip: cannot create a network namespace"; exit 77; }
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" env NODE_PATH="$NODE_DIR/node_modules" HOME="$PROFILE_HOME" \
  timeout 120 node "$SRC_DIR/tests/unit/sdp/chromium_applies_answer.js" "$BIN" >"$OUT" 2>&1 || {
  echo "FAIL: driver exited non-zero"; cat "$OUT"; exit 1; }
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).result;
const ok = r.ok && r.signalingState === "stable" && r.videoEncodings.join() === "h,m,l" &&
           r.videoCodecs.length > 0 && r.sctp > 0;
console.log(JSON.stringify(r));
process.exit(ok ? 0 : 1);' "$OUT" || { echo "FAIL: Chromium did not accept our answer"; exit 1; }
echo "1 passed, 0 failed"
