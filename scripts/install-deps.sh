#!/bin/sh
# Installs every build, run and test dependency of Starling on Debian 12, as root.
# Idempotent: packages already present are left alone; safe to run before every build.
set -eu

PACKAGES="
  build-essential gcc g++ clang llvm libclang-rt-14-dev cmake make pkg-config git ca-certificates
  libssl-dev openssl libsrtp2-dev libusrsctp-dev libhiredis-dev libcjson-dev check
  libwebsockets-dev libwebsockets-evlib-uv libuv1-dev liburing-dev
  redis-server redis-tools coturn
  iproute2 iptables nftables procps psmisc curl python3 python3-aiortc python3-aioice python3-websockets python3-av
  python3-prometheus-client python3-jwt python3-redis
  python3-yaml python3-kubernetes docker-compose
  tshark valgrind chromium nodejs
  golang-go golang-github-pion-rtcp-dev golang-github-pion-interceptor-dev golang-github-pion-srtp.v2-dev
  golang-github-pion-webrtc.v3-dev libvpx-dev
  janus
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -q --no-install-recommends $missing
else
  echo "install-deps: all packages present"
fi

# npm: Debian's own npm package conflicts with a nodejs that already bundles npm (NodeSource),
# so install it only when no npm is on PATH.
if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi

# Browser-driving test dependencies (playwright-core only: it never downloads a browser; the
# tests point it at Debian's /usr/bin/chromium).
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$SRC_DIR/tests/interop/package.json" ] && [ ! -d "$SRC_DIR/tests/interop/node_modules/playwright-core" ]; then
  (cd "$SRC_DIR/tests/interop" && npm install --no-audit --no-fund --loglevel=error)
fi

# coturn's package starts a system turnserver; tests start their own, so keep it off.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now coturn >/dev/null 2>&1 || true; fi
# janus: never start it at boot (scripts/bench-sfu.sh starts its own, in a
# network namespace of its own).
if command -v systemctl >/dev/null 2>&1; then systemctl disable janus >/dev/null 2>&1 || true; fi
# The packaged redis-server may have been started by the postinst; tests start their own on
# other ports, so leave it alone rather than kill a process we did not start.
