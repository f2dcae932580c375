#!/bin/sh
# Several starling-signal processes on one real redis-server with two scripted SFU nodes (test
# doubles): concurrent placement, cross-process relay, resume, grace expiry, node failover,
# SIGTERM drain, no nodes left. The Python driver stops everything it started, by PID.
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
/usr/bin/python3 -c 'import websockets, redis' 2>/dev/null ||
  { echo "SKIP: /usr/bin/python3 lacks python3-websockets or python3-redis (scripts/install-deps.sh)"; exit 77; }
export SRC_DIR BUILD_DIR
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/signal/test_cluster.py"
