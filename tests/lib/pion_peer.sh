# Builds the Pion WebRTC v3 driver (tests/interop/pc/pion_peer.go) offline, in GOPATH mode.
# Debian installs Pion's sources without their "/v3"-suffixed import paths for webrtc and sdp,
# so a small GOPATH overlay maps those paths onto /usr/share/gocode (no network, no proxy).
# Source it, then: pion_available || exit 77; pion_build WORKDIR || exit 1  -> WORKDIR/pion_peer
PION_GOCODE=/usr/share/gocode/src/github.com/pion

pion_available() {
  command -v go >/dev/null 2>&1 || { echo "skip: golang-go not installed"; return 1; }
  [ -d "$PION_GOCODE/webrtc" ] || { echo "skip: golang-github-pion-webrtc.v3-dev not installed"; return 1; }
}

pion_build() {
  w=$1
  mkdir -p "$w/gopath/src/github.com/pion/webrtc" "$w/gopath/src/github.com/pion/sdp" "$w/src/pion_peer"
  ln -sfn "$PION_GOCODE/webrtc" "$w/gopath/src/github.com/pion/webrtc/v3"
  ln -sfn "$PION_GOCODE/sdp" "$w/gopath/src/github.com/pion/sdp/v3"
  cp "$SRC_DIR/tests/interop/pc/pion_peer.go" "$w/src/pion_peer/main.go"
  mkdir -p "$BUILD_DIR/gocache"
  (cd "$w/src/pion_peer" && GO111MODULE=off GOPATH="$w/gopath:/usr/share/gocode" GOCACHE="$BUILD_DIR/gocache" \
     GOFLAGS= GOPROXY=off go build -o "$w/pion_peer" .) || { echo "FAIL: cannot build the Pion driver"; return 1; }
}
