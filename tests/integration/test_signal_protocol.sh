#!/bin/sh
# starling-signal's client protocol over real WebSockets, with a real redis-server and the
# scripted SFU node (a test double until the real SFU lands): joins with CLI- and PyJWT-made
# tokens, relaying, every error path, floods, oversized frames, origin checks, keepalive,
# HTTP endpoints. The Python driver starts and stops (by PID) everything it uses.
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
/usr/bin/python3 -c 'import websockets, redis' 2>/dev/null ||
  { echo "SKIP: /usr/bin/python3 lacks python3-websockets or python3-redis (scripts/install-deps.sh)"; exit 77; }
export SRC_DIR BUILD_DIR
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/signal/test_protocol.py"
