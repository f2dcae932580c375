#!/bin/sh
# SFU node failover with real browsers (issue 7): two headless Chromium pages on the demo page,
# entering through two different starling-signal processes, meet on one of two starling-sfu
# nodes (one redis-server) and decode each other's video; kill -9 of that node moves them to
# the other, where they decode again within 10 s of the kill
# (tests/integration/cluster/chromium_cluster.py). Per tests/interop/README.md: the services run
# in a network namespace this test creates (10.207.0.1), Chromium in another (10.207.0.2),
# joined by a veth pair. Needs root, chromium, node, playwright-core (scripts/install-deps.sh).
# Everything started is stopped by PID (cluster.py), then the namespaces are deleted.
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "SKIP: node not installed"; exit 77; }
/usr/bin/python3 -c 'import redis' 2>/dev/null || { echo "SKIP: python3-redis missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
[ -d "$SRC_DIR/tests/interop/node_modules/playwright-core" ] ||
  { echo "FAIL: playwright-core missing; scripts/install-deps.sh installs it"; exit 1; }
. "$SRC_DIR/tests/lib/netns.sh"
netns_require
trap netns_cleanup EXIT
trap 'exit 1' INT TERM
netns_add srv >/dev/null
netns_add br >/dev/null
netns_link srv 10.207.0.1/24 br 10.207.0.2/24
netns_exec srv env BUILD_DIR="$BUILD_DIR" SRC_DIR="$SRC_DIR" timeout 300 \
  /usr/bin/python3 "$SRC_DIR/tests/integration/cluster/chromium_cluster.py" 10.207.0.1 "$NETNS_PREFIX-br"
