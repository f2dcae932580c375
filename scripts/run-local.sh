#!/bin/sh
# `make run`: the whole system on 127.0.0.1 — redis-server (or the one already there), then
# starling-turn, starling-sfu and starling-signal with deploy/config/*.local.conf — waits until
# every /healthz is green, prints the demo URL, and on Ctrl-C / SIGTERM / SIGHUP stops what it
# started, by PID: the services first (they drain), Redis last, and only if it started it.
#
# Usage: scripts/run-local.sh [BUILD_DIR]        (default build/release)
#
# Everything listens on 127.0.0.1 only (the SFU's ICE candidates and the TURN relay included),
# whatever the config files say: the addresses and ports below are passed to every service as
# STARLING_<SERVICE>_<OPTION> environment overrides, which beat the config file
# (docs/configuration.md). Ports are overridable from the environment:
#
#   REDIS_PORT=6379        Redis (reused if a Redis already answers PING there)
#   SIGNAL_PORT=8080       starling-signal: demo page, /ws, /healthz, /metrics
#   SFU_PORT=7882          starling-sfu media (UDP); worker i uses SFU_PORT + i
#   SFU_HTTP_PORT=9642     starling-sfu /healthz, /metrics
#   TURN_PORT=3478         starling-turn STUN/TURN (UDP and TCP)
#   TURN_HTTP_PORT=9641    starling-turn /healthz, /metrics, credential endpoint
#   TURN_RELAY_MIN_PORT=49152, TURN_RELAY_MAX_PORT=49999   TURN relay ports (UDP)
#   TURN_SECRET            TURN REST shared secret, given to signal (which mints credentials)
#                          and turn (which checks them), and put into Redis
#                          starling:turn:secrets. Default: the dev secret of signal.local.conf.
#   RUN_DIR=build/run      logs (one per process, rewritten each run)
#   READY_TIMEOUT=30       seconds to wait for every /healthz before giving up
set -eu

BUILD_DIR=${1:-build/release}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
CONF_DIR=$SRC_DIR/deploy/config
RUN_DIR=${RUN_DIR:-$SRC_DIR/build/run}
REDIS_PORT=${REDIS_PORT:-6379}
SIGNAL_PORT=${SIGNAL_PORT:-8080}
SFU_PORT=${SFU_PORT:-7882}
SFU_HTTP_PORT=${SFU_HTTP_PORT:-9642}
TURN_PORT=${TURN_PORT:-3478}
TURN_HTTP_PORT=${TURN_HTTP_PORT:-9641}
TURN_RELAY_MIN_PORT=${TURN_RELAY_MIN_PORT:-49152}
TURN_RELAY_MAX_PORT=${TURN_RELAY_MAX_PORT:-49999}
TURN_SECRET=${TURN_SECRET:-dev-only-turn-secret-change-me}
READY_TIMEOUT=${READY_TIMEOUT:-30}
IP=127.0.0.1

say() { echo "run-local: $*"; }
die() { echo "run-local: error: $*" >&2; exit 1; }

# --- preflight: everything is checked before anything is started ------------------------------
for t in redis-server redis-cli curl; do
  command -v $t >/dev/null 2>&1 || die "$t is missing (scripts/install-deps.sh installs it)"
done
for p in "$REDIS_PORT" "$SIGNAL_PORT" "$SFU_PORT" "$SFU_HTTP_PORT" "$TURN_PORT" "$TURN_HTTP_PORT" \
         "$TURN_RELAY_MIN_PORT" "$TURN_RELAY_MAX_PORT"; do
  case $p in ''|*[!0-9]*) die "port '$p' is not a number";; esac
  [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "port $p is outside 1..65535"
done
[ "$TURN_RELAY_MIN_PORT" -le "$TURN_RELAY_MAX_PORT" ] || die "TURN_RELAY_MIN_PORT > TURN_RELAY_MAX_PORT"
TURN_BIN=$BUILD_DIR/services/turn/starling-turn
SFU_BIN=$BUILD_DIR/services/sfu/starling-sfu
SIGNAL_BIN=$BUILD_DIR/services/signal/starling-signal
for b in "$TURN_BIN" "$SFU_BIN" "$SIGNAL_BIN"; do
  [ -x "$b" ] || die "$b is not built (make build; services/turn and services/sfu must be in the tree)"
done
for c in turn sfu signal; do
  [ -f "$CONF_DIR/$c.local.conf" ] || die "$CONF_DIR/$c.local.conf is missing"
done
mkdir -p "$RUN_DIR"

# --- process bookkeeping ------------------------------------------------------------------------
services=""      # "name:pid" of the services, in start order
redis_pid=""     # set only if this script started redis-server
stopping=0

# setsid puts each child in its own session: a Ctrl-C in the terminal reaches only this script,
# which then stops the services in order (they must not all see SIGINT and Redis vanish first).
SETSID=""
command -v setsid >/dev/null 2>&1 && SETSID=setsid

pid_of() { echo "$1" | cut -d: -f2; }
name_of() { echo "$1" | cut -d: -f1; }

stop_all() {
  [ "$stopping" -eq 0 ] || return 0
  stopping=1
  # A second Ctrl-C / SIGTERM while draining: services exit at once on a second SIGTERM.
  trap 'say "stopping now"; for s in $services; do kill -TERM "$(pid_of "$s")" 2>/dev/null || true; done' INT TERM HUP
  for s in $services; do kill -TERM "$(pid_of "$s")" 2>/dev/null || true; done
  for s in $services; do
    wait "$(pid_of "$s")" 2>/dev/null || true
    say "stopped $(name_of "$s") (pid $(pid_of "$s"))"
  done
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    say "stopped redis-server (pid $redis_pid)"
  fi
}
on_signal() { say "stopping (services drain first; Ctrl-C again to hurry)"; stop_all; exit 0; }
on_exit() { rc=$?; trap - EXIT; stop_all; exit $rc; }
trap on_signal INT TERM HUP
trap on_exit EXIT

alive() { kill -0 "$1" 2>/dev/null; }

# --- Redis ------------------------------------------------------------------------------------
if redis-cli -h $IP -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
  say "using the redis-server already on $IP:$REDIS_PORT (left running on exit)"
else
  $SETSID redis-server --bind $IP --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN_DIR" --logfile "$RUN_DIR/redis.log" &
  redis_pid=$!
  say "started redis-server (pid $redis_pid) on $IP:$REDIS_PORT, log $RUN_DIR/redis.log"
  i=0
  until redis-cli -h $IP -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
    alive "$redis_pid" || die "redis-server exited at start (port $REDIS_PORT taken?); see $RUN_DIR/redis.log"
    i=$((i + 1)); [ $i -lt 100 ] || die "redis-server does not answer on $IP:$REDIS_PORT"
    sleep 0.1
  done
fi
# The TURN REST secret, where both signal (mints) and turn (checks) look: Redis first, so that
# turn has it on its first read whatever the start order. NX keeps an expiry set by an operator.
redis-cli -h $IP -p "$REDIS_PORT" zadd starling:turn:secrets NX +inf "$TURN_SECRET" >/dev/null \
  || die "cannot write starling:turn:secrets to Redis on $IP:$REDIS_PORT"

# --- services ---------------------------------------------------------------------------------
start() { # name binary envs... (each "VAR=value")
  name=$1; bin=$2; shift 2
  env "$@" $SETSID "$bin" --config "$CONF_DIR/$name.local.conf" >"$RUN_DIR/$name.log" 2>&1 &
  services="$services $name:$!"
  say "started $name (pid $!), log $RUN_DIR/$name.log"
}

start turn "$TURN_BIN" \
  STARLING_TURN_LISTEN=$IP:$TURN_PORT \
  STARLING_TURN_TCP_LISTEN=$IP:$TURN_PORT \
  STARLING_TURN_HTTP_LISTEN=$IP:$TURN_HTTP_PORT \
  STARLING_TURN_RELAY_IPV4=$IP \
  STARLING_TURN_RELAY_MIN_PORT="$TURN_RELAY_MIN_PORT" \
  STARLING_TURN_RELAY_MAX_PORT="$TURN_RELAY_MAX_PORT" \
  STARLING_TURN_REST_SECRETS="$TURN_SECRET" \
  STARLING_TURN_REDIS_HOST=$IP STARLING_TURN_REDIS_PORT="$REDIS_PORT"

start sfu "$SFU_BIN" \
  STARLING_SFU_UDP_LISTEN=$IP:$SFU_PORT \
  STARLING_SFU_PUBLIC_IP=$IP \
  STARLING_SFU_HTTP_LISTEN=$IP:$SFU_HTTP_PORT \
  STARLING_SFU_REDIS_HOST=$IP STARLING_SFU_REDIS_PORT="$REDIS_PORT"

start signal "$SIGNAL_BIN" \
  STARLING_SIGNAL_LISTEN=$IP:$SIGNAL_PORT \
  STARLING_SIGNAL_WEB_ROOT="$SRC_DIR/services/signal/web" \
  STARLING_SIGNAL_TURN_URLS="stun:$IP:$TURN_PORT, turn:$IP:$TURN_PORT?transport=udp, turn:$IP:$TURN_PORT?transport=tcp" \
  STARLING_SIGNAL_TURN_SECRET="$TURN_SECRET" \
  STARLING_SIGNAL_REDIS_HOST=$IP STARLING_SIGNAL_REDIS_PORT="$REDIS_PORT"

# --- wait until healthy -------------------------------------------------------------------------
health_url() {
  case $1 in
    turn) echo "http://$IP:$TURN_HTTP_PORT/healthz";;
    sfu) echo "http://$IP:$SFU_HTTP_PORT/healthz";;
    signal) echo "http://$IP:$SIGNAL_PORT/healthz";;
  esac
}
check_alive() {
  for s in $services; do
    if ! alive "$(pid_of "$s")"; then
      n=$(name_of "$s")
      echo "run-local: error: $n exited; last lines of $RUN_DIR/$n.log:" >&2
      tail -n 15 "$RUN_DIR/$n.log" >&2 || true
      exit 1
    fi
  done
  if [ -n "$redis_pid" ] && ! alive "$redis_pid"; then
    echo "run-local: error: redis-server exited; see $RUN_DIR/redis.log" >&2
    exit 1
  fi
}
deadline=$(( $(date +%s) + READY_TIMEOUT ))
for s in $services; do
  n=$(name_of "$s")
  url=$(health_url "$n")
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    check_alive
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "run-local: error: $n is not healthy after ${READY_TIMEOUT}s: $(curl -s --max-time 2 "$url")" >&2
      exit 1
    fi
    sleep 0.2
  done
  say "$n healthy ($url)"
done

say "ready. Demo: http://$IP:$SIGNAL_PORT  (STUN/TURN $IP:$TURN_PORT, TURN user demo:demo for tools)"
say "Ctrl-C stops everything this script started"

# --- run until a signal or until a service dies -----------------------------------------------
while :; do
  sleep 1 &
  wait $! 2>/dev/null || true
  [ "$stopping" -eq 0 ] || break
  check_alive
done
