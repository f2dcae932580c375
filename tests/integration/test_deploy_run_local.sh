#!/bin/sh
# `make run` end to end: scripts/run-local.sh on alternative ports (so it never meets a `make
# run` or another test on the defaults) must bring up redis-server, starling-turn, starling-sfu
# and starling-signal on 127.0.0.1 with green /healthz, serve the demo page, answer a STUN
# Binding on the TURN port, share the TURN REST secret between signal (mints) and turn (checks:
# coTURN's turnutils_uclient allocates and relays with the credentials signal hands out, and is
# refused with a wrong one), keep every socket of every process it started on 127.0.0.1, carry
# media between two aiortc clients (when the SFU's test client is in the tree), and stop every
# one of them on SIGTERM. A second run finds a Redis already on its port, reuses
# it, stops on SIGINT (Ctrl-C), and leaves that Redis running.
#
# sfu and turn not built (their branches not merged yet) is a failure, not a skip: `make run`
# cannot work without them.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
RUN_LOCAL=$SRC_DIR/scripts/run-local.sh
STUN=$BUILD_DIR/tools/stun/starling-stun
PY=/usr/bin/python3

fail() { echo "FAIL: $*"; exit 1; }
for b in services/turn/starling-turn services/sfu/starling-sfu services/signal/starling-signal \
         tools/stun/starling-stun; do
  [ -x "$BUILD_DIR/$b" ] || fail "$BUILD_DIR/$b is not built: make run needs all three services (are services/turn and services/sfu merged?)"
done
for c in turn sfu signal; do
  [ -f "$SRC_DIR/deploy/config/$c.local.conf" ] || fail "deploy/config/$c.local.conf is missing"
done
for t in redis-server redis-cli curl ss setsid turnutils_uclient $PY; do
  command -v $t >/dev/null 2>&1 || { echo "skip: $t missing (scripts/install-deps.sh)"; exit 77; }
done

TMP=$(mktemp -d)
rl=""          # run-local.sh
pids=""        # every process run-local said it started
own_redis=""   # the Redis this test starts for the reuse case
cleanup() {
  [ -n "$rl" ] && kill -TERM "$rl" 2>/dev/null
  for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$own_redis" ] && kill "$own_redis" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Ports: a random block whose every port is free for TCP and UDP (the SFU uses two UDP ports,
# TURN takes TCP and UDP on the same number, and the relay gets 50 ports of its own).
ports=$($PY - <<'EOF'
import random, socket
def free(p):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(200):
    base = random.randrange(20000, 28000, 100)
    if all(free(p) for p in range(base, base + 60)):
        print(base)
        break
EOF
)
[ -n "$ports" ] || fail "no free block of 60 ports on 127.0.0.1"
export REDIS_PORT=$ports SIGNAL_PORT=$((ports + 1)) SFU_PORT=$((ports + 2)) \
       SFU_HTTP_PORT=$((ports + 4)) TURN_PORT=$((ports + 5)) TURN_HTTP_PORT=$((ports + 6)) \
       TURN_RELAY_MIN_PORT=$((ports + 10)) TURN_RELAY_MAX_PORT=$((ports + 59)) \
       TURN_SECRET=deploy-test-secret-$$ READY_TIMEOUT=40
echo "ports: redis $REDIS_PORT signal $SIGNAL_PORT sfu udp $SFU_PORT,$((SFU_PORT + 1)) http $SFU_HTTP_PORT turn $TURN_PORT http $TURN_HTTP_PORT relay $TURN_RELAY_MIN_PORT-$TURN_RELAY_MAX_PORT"

# Waits for run-local's "ready" line; records the PIDs it printed.
wait_ready() { # output-file
  for _ in $(seq 450); do
    grep -q "run-local: ready" "$1" && break
    kill -0 "$rl" 2>/dev/null || { cat "$1"; fail "run-local.sh exited before it was ready"; }
    sleep 0.2
  done
  grep -q "run-local: ready" "$1" || { cat "$1"; fail "run-local.sh not ready after 90 s"; }
  pids=$(sed -n 's/^run-local: started [a-z-]* (pid \([0-9]*\)).*/\1/p' "$1")
}

# Sends SIGNAL to run-local and checks that it and everything it started are gone.
stop_and_check() { # signal output-file expected-count
  n=$(echo "$pids" | wc -w)
  [ "$n" -eq "$3" ] || { cat "$2"; fail "expected $3 started processes, run-local printed $n"; }
  kill -"$1" "$rl" || fail "run-local.sh is not running"
  for _ in $(seq 400); do kill -0 "$rl" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$rl" 2>/dev/null && { cat "$2"; fail "run-local.sh still running 40 s after SIG$1"; }
  wait "$rl"
  rl=""
  for p in $pids; do
    kill -0 "$p" 2>/dev/null && { cat "$2"; ps -o pid,args -p "$p"; fail "pid $p still running after run-local stopped"; }
  done
  pids=""
}

healthz() { # name url
  body=$(curl -s --max-time 3 -w ' HTTP%{http_code}' "$2")
  case $body in
    *'"status":"ok"'*' HTTP200') echo "ok: $1 /healthz green";;
    *) fail "$1 /healthz: $body";;
  esac
}

# --- run 1: run-local starts its own Redis; SIGTERM ---------------------------------------------
export RUN_DIR=$TMP/run1
"$RUN_LOCAL" "$BUILD_DIR" >"$TMP/run1.out" 2>&1 &
rl=$!
wait_ready "$TMP/run1.out"
grep -q "started redis-server" "$TMP/run1.out" || fail "run-local did not start its own redis-server"
grep -q "http://127.0.0.1:$SIGNAL_PORT" "$TMP/run1.out" || fail "run-local did not print the demo URL"
for p in $pids; do
  exe=$(basename "$(readlink "/proc/$p/exe")")
  case $exe in starling-turn|starling-sfu|starling-signal|redis-server|redis-check-rdb) ;;
    *) fail "pid $p is $exe, not a service";; esac
done

healthz signal "http://127.0.0.1:$SIGNAL_PORT/healthz"
healthz sfu "http://127.0.0.1:$SFU_HTTP_PORT/healthz"
healthz turn "http://127.0.0.1:$TURN_HTTP_PORT/healthz"

page=$(curl -s --max-time 3 "http://127.0.0.1:$SIGNAL_PORT/")
echo "$page" | grep -q "<title>Starling" || fail "demo page at / is not the Starling page: $(echo "$page" | head -c 200)"
curl -sf --max-time 3 -o /dev/null "http://127.0.0.1:$SIGNAL_PORT/app.js" || fail "demo page script /app.js not served"
echo "ok: demo page served"

stun=$("$STUN" --json --timeout 5 --bind 127.0.0.1 "127.0.0.1:$TURN_PORT") || fail "no STUN Binding answer from 127.0.0.1:$TURN_PORT"
case $stun in *'"mapped":"127.0.0.1:'*'"software":"starling-turn"'*) echo "ok: STUN binding: $stun";;
  *) fail "unexpected STUN answer: $stun";; esac

# The SFU node registered with its loopback address and its two media ports.
node=$(redis-cli -p "$REDIS_PORT" hmget starling:node:sfu-local public_ip udp_ports | tr '\n' ' ')
[ "$node" = "127.0.0.1 $SFU_PORT,$((SFU_PORT + 1)) " ] || fail "SFU node key: '$node'"
score=$(redis-cli -p "$REDIS_PORT" zscore starling:turn:secrets "$TURN_SECRET")
[ "$score" = "inf" ] || fail "TURN secret not in starling:turn:secrets (score '$score')"
echo "ok: SFU node key and TURN secret in Redis"

# TURN credentials from signal, used at turn by a client nobody here wrote.
token=$(curl -s --max-time 3 "http://127.0.0.1:$SIGNAL_PORT/token?room=deploytest&identity=tester" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "GET /token failed"
curl -s --max-time 3 -X POST -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$SIGNAL_PORT/turn-credentials" >"$TMP/creds.json"
creds=$($PY - "$TMP/creds.json" "$TURN_PORT" <<'EOF'
import json, sys
servers = json.load(open(sys.argv[1]))["ice_servers"]
turn = [s for s in servers if any(u.startswith("turn:") for u in s["urls"])]
assert turn, servers
assert "turn:127.0.0.1:%s?transport=udp" % sys.argv[2] in turn[0]["urls"], turn
print(turn[0]["username"], turn[0]["credential"])
EOF
) || fail "no TURN server in /turn-credentials: $(cat "$TMP/creds.json")"
set -- $creds
user=$1; pass=$2
timeout 60 turnutils_uclient -p "$TURN_PORT" -u "$user" -w "$pass" -e 127.0.0.1 -y -m 1 -n 10 -l 100 \
  127.0.0.1 >"$TMP/uclient.out" 2>&1 || { tail -5 "$TMP/uclient.out"; fail "turnutils_uclient with signal's credentials failed"; }
# Relayed data came back (loss is not the question here: a loaded machine may drop a datagram).
grep -q "start_mclient: tot_send_msgs=[0-9]*, tot_recv_msgs=[1-9]" "$TMP/uclient.out" ||
  { tail -5 "$TMP/uclient.out"; fail "turnutils_uclient relayed nothing with signal's credentials"; }
echo "ok: turnutils_uclient relayed through starling-turn with signal-minted credentials"
if timeout 30 turnutils_uclient -p "$TURN_PORT" -u "$user" -w "x$pass" -e 127.0.0.1 -y -m 1 -n 2 -l 100 \
   127.0.0.1 >"$TMP/uclient_bad.out" 2>&1; then
  fail "turnutils_uclient allocated with a wrong credential"
fi
echo "ok: a wrong credential is refused"

# Network rule: every socket of every process run-local started is on 127.0.0.1.
ss -H -anp -t -u >"$TMP/ss.out"
for p in $pids; do
  grep -q "pid=$p," "$TMP/ss.out" || fail "pid $p has no sockets"
  bad=$(grep "pid=$p," "$TMP/ss.out" | awk '{print $5}' | grep -v '^127\.0\.0\.1:' || true)
  [ -z "$bad" ] || fail "pid $p ($(basename "$(readlink "/proc/$p/exe")")) has sockets off loopback: $bad"
done
echo "ok: every socket of the $(echo "$pids" | wc -w) processes is on 127.0.0.1"

# Media through `make run`'s SFU with an independent WebRTC stack (aiortc, kept on 127.0.0.1 by
# the client), when the SFU's aiortc client is in the tree: alice publishes, bob must decode
# her video and get her data messages.
CLIENT=$SRC_DIR/tests/unit/sfu/aiortc_client.py
if [ -f "$CLIENT" ] && $PY -c 'import aiortc, websockets, numpy' 2>/dev/null; then
  $PY "$CLIENT" "http://127.0.0.1:$SIGNAL_PORT" deploymedia alice 12 publish >"$TMP/alice.json" 2>"$TMP/alice.err" &
  a=$!
  sleep 1
  $PY "$CLIENT" "http://127.0.0.1:$SIGNAL_PORT" deploymedia bob 10 watch >"$TMP/bob.json" 2>"$TMP/bob.err" &
  b=$!
  wait $a || { tail -5 "$TMP/alice.err"; fail "aiortc publisher failed against make run"; }
  wait $b || { tail -5 "$TMP/bob.err"; fail "aiortc subscriber failed against make run"; }
  $PY - "$TMP/bob.json" <<'EOF2' || fail "no media through make run's SFU: $(cat "$TMP/bob.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["joined"] and not b["errors"], b
video = [k for k, v in b["sizes"].items() if v != "audio"]
assert video and b["frames"][video[0]] >= 30, b["frames"]
assert any(d.get("payload", "").startswith("hello") for d in b["data"]), b["data"]
print("ok: media through make run: bob decoded %d frames of alice's video (%s) and got her data"
      % (b["frames"][video[0]], b["sizes"][video[0]]))
EOF2
else
  echo "note: no media check (tests/unit/sfu/aiortc_client.py or aiortc missing)"
fi

stop_and_check TERM "$TMP/run1.out" 4
grep -q "stopped redis-server" "$TMP/run1.out" || fail "run-local did not stop its redis-server"
echo "ok: SIGTERM stopped all 4 processes"

# --- run 2: a Redis already on the port is reused and left running; SIGINT (Ctrl-C) -------------
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$TMP" \
  --logfile "$TMP/own-redis.log" &
own_redis=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
export RUN_DIR=$TMP/run2
# A shell's background job ignores SIGINT, and a script cannot trap what it was started with
# ignored: start run-local with the default disposition, as a terminal would.
$PY -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
  "$RUN_LOCAL" "$BUILD_DIR" >"$TMP/run2.out" 2>&1 &
rl=$!
wait_ready "$TMP/run2.out"
grep -q "using the redis-server already on 127.0.0.1:$REDIS_PORT" "$TMP/run2.out" || { cat "$TMP/run2.out"; fail "run-local did not reuse the running Redis"; }
healthz signal "http://127.0.0.1:$SIGNAL_PORT/healthz"
[ "$(redis-cli -p "$REDIS_PORT" zscore starling:turn:secrets "$TURN_SECRET")" = inf ] || fail "secret not written to the reused Redis"
stop_and_check INT "$TMP/run2.out" 3
redis-cli -p "$REDIS_PORT" ping | grep -q PONG || fail "run-local stopped a Redis it did not start"
echo "ok: reused Redis, SIGINT stopped the 3 services and left that Redis running"
echo "PASS"
