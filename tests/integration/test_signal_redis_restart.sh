#!/bin/sh
# starling-signal with its real redis-server killed and restarted mid-run (scripted SFU node as
# a test double): sockets survive, joins get unavailable, state re-registered afterwards.
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
/usr/bin/python3 -c 'import websockets, redis' 2>/dev/null ||
  { echo "SKIP: /usr/bin/python3 lacks python3-websockets or python3-redis (scripts/install-deps.sh)"; exit 77; }
export SRC_DIR BUILD_DIR
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/signal/test_redis_restart.py"
