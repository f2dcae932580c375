#!/bin/sh
# starling-signal admin API (list rooms, room detail, remove a participant, close a room) with
# two signal processes, a real redis-server and the scripted SFU node (a test double).
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
/usr/bin/python3 -c 'import websockets, redis' 2>/dev/null ||
  { echo "SKIP: /usr/bin/python3 lacks python3-websockets or python3-redis (scripts/install-deps.sh)"; exit 77; }
export SRC_DIR BUILD_DIR
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/signal/test_admin.py"
