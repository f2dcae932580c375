#!/bin/sh
# Starts the whole system on 127.0.0.1: redis-server, then each Starling service whose
# binary has been built. Ctrl-C (or SIGTERM) stops everything this script started, by PID.
set -eu
BUILD_DIR=${1:-build/release}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${RUN_DIR:-$SRC_DIR/build/run}
REDIS_PORT=${REDIS_PORT:-6379}
mkdir -p "$RUN_DIR"
pids=""

cleanup() {
  trap - INT TERM EXIT
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "run-local: stopped"
}
trap cleanup INT TERM EXIT

if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "run-local: using the redis-server already on 127.0.0.1:$REDIS_PORT"
else
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN_DIR" --logfile "$RUN_DIR/redis.log" &
  pids="$pids $!"
  for _ in 1 2 3 4 5 6 7 8 9 10; do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

start() { # name binary args...
  name=$1; bin=$2; shift 2
  if [ -x "$bin" ]; then
    "$bin" "$@" >>"$RUN_DIR/$name.log" 2>&1 &
    pids="$pids $!"
    echo "run-local: started $name (pid $!), log $RUN_DIR/$name.log"
  else
    echo "run-local: $name not built yet ($bin missing), skipped"
  fi
}

start turn   "$BUILD_DIR/services/turn/starling-turn"     --config "$SRC_DIR/deploy/config/turn.local.conf"
start sfu    "$BUILD_DIR/services/sfu/starling-sfu"       --config "$SRC_DIR/deploy/config/sfu.local.conf"
start signal "$BUILD_DIR/services/signal/starling-signal" --config "$SRC_DIR/deploy/config/signal.local.conf"

echo "run-local: demo page at http://127.0.0.1:8080 (once starling-signal is built); Ctrl-C stops"
wait
