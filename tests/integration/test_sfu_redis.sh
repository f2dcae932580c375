#!/bin/sh
# starling-sfu against a real redis-server on 127.0.0.1, driven the way starling-signal drives
# it (docs/redis.md): commands published on starling:sfu:{node}, answers read from
# starling:to-signal:{signal}. Checks, in order:
#   1. registration: node hash fields, TTL, membership in starling:nodes; heartbeats keep the
#      TTL up; /healthz and /metrics
#   2. join / data / mute errors / leave over the bus: the messages each participant gets, the
#      room and participants hashes, load in the node hash and the zset, an empty room's keys
#      expiring, errors routed back (bad JSON, unknown participant, unknown type)
#   3. a Redis restart (empty, as without persistence): the node, its room and its
#      participants are registered again and the bus works again; participants in the hash
#      that the room no longer has are removed; a room moved away meanwhile is not taken back
#   4. SIGTERM drain: state draining, out of starling:nodes, node_draining event, joins for
#      new rooms refused, exit once the last participant left, node key deleted, node_down
#   5. kill -9: the node key expires on its TTL
# Everything started here is stopped by PID on every exit path.
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
SFU="$BUILD_DIR/services/sfu/starling-sfu"
[ -x "$SFU" ] || { echo "SKIP: $SFU not built"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server missing"; exit 77; }
command -v redis-cli >/dev/null 2>&1 || { echo "SKIP: redis-cli missing"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl missing"; exit 77; }

TMP=$(mktemp -d /tmp/test_sfu_redis.XXXXXX)
PIDS=""
REDIS_PID=""
SFU_PID=""
cleanup() {
  for p in $PIDS $SFU_PID $REDIS_PID; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
RPORT=$(free_port)
HPORT=$(free_port)
NODE=sfu-itest
fail() { echo "FAIL: $*"; echo "--- sfu log"; tail -30 "$TMP/sfu.log"; exit 1; }
ok() { echo "ok: $*"; }
r() { redis-cli -p "$RPORT" "$@"; }

# wait_for SECONDS COMMAND...: polls every 100 ms until COMMAND succeeds.
wait_for() {
  t=$1; shift
  i=0
  while [ "$i" -lt $((t * 10)) ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# wait_eq SECONDS VALUE REDIS-ARGS...: polls until the redis-cli output equals VALUE.
wait_eq() {
  t=$1; want=$2; shift 2
  i=0
  while [ "$i" -lt $((t * 10)) ]; do
    [ "$(r "$@" 2>/dev/null)" = "$want" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

start_redis() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
    --daemonize no >>"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_for 5 r ping || fail "redis-server did not start"
}

start_sfu() {
  "$SFU" --node_id "$NODE" --redis.port "$RPORT" --http.listen "127.0.0.1:$HPORT" --workers 2 \
    --udp.listen 127.0.0.1:0 --node.ttl 3s --node.heartbeat 500ms --room.empty_ttl 2s \
    --shutdown.drain_timeout 20s --redis.reconnect_max 1s --log.level debug "$@" >>"$TMP/sfu.log" 2>&1 &
  SFU_PID=$!
}

# Subscribes to a channel into a file (one line per field: subscribe/message/channel/payload).
listen() {
  redis-cli -p "$RPORT" subscribe "$1" >"$TMP/$2" 2>&1 &
  PIDS="$PIDS $!"
  wait_for 5 grep -q "^$1\$" "$TMP/$2" || fail "could not subscribe to $1"
}
bus() { r publish "starling:sfu:$NODE" "$1" >/dev/null; }
# What signal writes for a participant whose socket it holds (docs/redis.md); the SFU removes
# participants whose key stays missing.
pkey() { r hset "starling:participant:$1" room "$2" identity "$1" signal "$3" >/dev/null; }
# has FILE TEXT: the captured channel has a message containing TEXT (fixed string).
has() { grep -F -q -- "$2" "$TMP/$1"; }
count() { grep -F -c -- "$2" "$TMP/$1"; }

start_redis
start_sfu

# 1. Registration ------------------------------------------------------------------------
wait_eq 10 up hget starling:node:$NODE state || fail "node key not written"
[ "$(r hget starling:node:$NODE id)" = "$NODE" ] || fail "node id"
[ "$(r hget starling:node:$NODE workers)" = 2 ] || fail "workers field"
[ "$(r hget starling:node:$NODE public_ip)" = 127.0.0.1 ] || fail "public_ip field"
[ -n "$(r hget starling:node:$NODE udp_ports)" ] || fail "udp_ports field"
[ "$(r hget starling:node:$NODE capacity)" = 1000 ] || fail "capacity field"
[ "$(r hget starling:node:$NODE version)" = 0.1.0 ] || fail "version field"
[ -n "$(r hget starling:node:$NODE started_at)" ] || fail "started_at field"
ttl=$(r pttl starling:node:$NODE)
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3000 ] || fail "node TTL $ttl"
[ "$(r zscore starling:nodes $NODE)" = 0 ] || fail "not in starling:nodes"
sleep 2.5
ttl=$(r pttl starling:node:$NODE)
[ "$ttl" -gt 1500 ] || fail "heartbeat does not refresh the TTL ($ttl)"
ok "registered, heartbeat keeps TTL ($ttl ms)"
# Placeable (in starling:nodes) only while it listens on its command channel: when its
# pub/sub connection (the one subscribed to two channels) drops, it leaves the zset at once
# (joins published meanwhile would reach nobody) and is back once subscribed again.
SUBID=$(r client list type pubsub | tr ' ' '\n' | awk -F= '$1 == "id" {id = $2} $1 == "sub" && $2 == 2 {print id}' | head -1)
[ -n "$SUBID" ] || fail "no pub/sub connection of the node"
redis-cli -p "$RPORT" monitor >"$TMP/monitor" 2>&1 &
MON=$!
PIDS="$PIDS $MON"
wait_for 5 grep -q OK "$TMP/monitor" || fail "monitor"
r client kill id "$SUBID" >/dev/null || fail "client kill"
wait_for 5 grep -q "\"ZREM\" \"starling:nodes\" \"$NODE\"" "$TMP/monitor" || fail "not out of starling:nodes while its bus is down"
wait_for 5 grep -q "\"SUBSCRIBE\"" "$TMP/monitor" || fail "did not subscribe again"
wait_eq 5 0 zscore starling:nodes $NODE || fail "not back in starling:nodes once subscribed"
kill "$MON" 2>/dev/null
ok "out of starling:nodes while its pub/sub connection is down, back once subscribed"
wait_for 5 sh -c "curl -sf http://127.0.0.1:$HPORT/healthz | grep -q '\"status\":\"ok\"'" || fail "/healthz not ok"
curl -sf "http://127.0.0.1:$HPORT/metrics" | grep -q '^sfu_redis_connected 1' || fail "/metrics"
ok "/healthz ok, /metrics served"

# 2. Join / data / errors / leave ----------------------------------------------------------
listen starling:to-signal:sig1 sig1.out
listen starling:to-signal:sig2 sig2.out
listen starling:events events.out
pkey PA_a itest sig1
pkey PA_b itest sig2
bus '{"type":"join","room":"itest","participant":"PA_a","signal":"sig1","payload":{"identity":"alice","name":"Alice","grants":{"publish":true,"subscribe":true,"data":true}}}'
bus '{"type":"join","room":"itest","participant":"PA_b","signal":"sig2","payload":{"identity":"bob","grants":{"publish":true,"subscribe":true,"data":true}}}'
wait_for 10 has sig2.out '"type":"joined","room":"itest","participant":"PA_b"' || fail "bob got no joined"
grep -q '"payload":{"type":"joined".*"sid":"RM_' "$TMP/sig2.out" || fail "joined has no sid for signal"
has sig2.out '"participants":[{"id":"PA_a","identity":"alice","name":"Alice","tracks":[]}]' || fail "joined lists alice"
wait_for 10 has sig1.out '"type":"participant_joined"' || fail "alice not told of bob"
sid=$(r hget starling:room:itest sid)
case "$sid" in RM_*) ;; *) fail "room sid '$sid'";; esac
[ "$(r hget starling:room:itest participants)" = 2 ] || fail "room participant count"
[ "$(r hget starling:room:itest node)" = "$NODE" ] || fail "room node"
r hget starling:room:itest:participants PA_a | grep -q '"signal":"sig1"' || fail "participant hash"
[ "$(r sismember starling:rooms itest)" = 1 ] || fail "starling:rooms"
wait_eq 8 2.0 hget starling:node:$NODE load || fail "load not updated"
[ "$(r zscore starling:nodes $NODE)" = 2 ] || fail "zset score not updated"
ok "join: joined / participant_joined, room + participants hashes, load 2.0"

bus '{"type":"data","room":"itest","participant":"PA_a","payload":{"payload":"hello bob","to":["PA_b"]}}'
wait_for 10 has sig2.out '"payload":{"type":"data","from":"PA_a","payload":"hello bob"}' || fail "data not relayed"
bus '{"type":"subscription","room":"itest","participant":"PA_b","payload":{"track_id":"TR_nope","rid":"q1"}}'
wait_for 10 has sig2.out '"code":"bad_request","message":"not subscribed to that track","rid":"q1"' || fail "subscription error"
bus '{"type":"mute","room":"itest","participant":"PA_x","signal":"sig2","payload":{"track_id":"t","muted":true}}'
wait_for 10 has sig2.out '"participant":"PA_x","signal":"sig2","payload":{"type":"error","code":"not_joined"' || fail "not_joined error"
bus '{"type":"mute","room":"itest","participant":"PA_a","payload":{"track_id":5}}'
wait_for 10 has sig1.out '"code":"bad_request"' || fail "bad payload error"
bus '{"type":"dance","room":"itest","participant":"PA_a","signal":"sig1"}'
wait_for 10 has sig1.out '"code":"unknown_type","message":"unknown type' || fail "unknown type error"
bus 'this is not json'
bus '{"type":"offer","room":"itest","participant":"PA_a","payload":{"type":"offer","pc":"publisher","sdp":"v=0"}}'
# A broken SDP: refused by the media engine (bad_request naming the SDP line), or, in a build
# without the PeerConnection layer, `unavailable`.
wait_for 5 sh -c "grep -F -q '\"code\":\"unavailable\"' '$TMP/sig1.out' || grep -F -q 'SDP line' '$TMP/sig1.out'" ||
  fail "broken offer not refused"
ok "data relayed; errors routed back (bad_request, not_joined, unknown_type, bad offer)"

bus '{"type":"leave","room":"itest","participant":"PA_a","payload":{"reason":"left"}}'
wait_for 10 has sig2.out '"type":"participant_left","participant_id":"PA_a","reason":"left"' || fail "bob not told"
! has sig1.out '"type":"left"' || fail "alice was sent left (signal does that for leave)"
wait_eq 8 0 hexists starling:room:itest:participants PA_a || fail "alice still in hash"
[ "$(r hget starling:room:itest participants)" = 1 ] || fail "count after leave"
bus '{"type":"remove","room":"itest","participant":"PA_b","payload":{"reason":"removed"}}'
wait_for 10 has sig2.out '"type":"left","reason":"removed"' || fail "bob got no left removed"
wait_eq 8 0 hget starling:room:itest participants || fail "count after both left"
ttl=$(r pttl starling:room:itest)
[ "$ttl" -gt 0 ] || fail "empty room key has no TTL ($ttl)"
wait_eq 10 0 exists starling:room:itest || fail "empty room key did not expire"
wait_eq 8 0.0 hget starling:node:$NODE load || fail "load not back to 0"
ok "leave / remove: participant_left, left removed, hashes updated, empty room expired"

# 3. Redis restart ---------------------------------------------------------------------------
pkey PA_c durable sig1
bus '{"type":"join","room":"durable","participant":"PA_c","signal":"sig1","payload":{"identity":"carol"}}'
wait_for 10 has sig1.out '"participant":"PA_c","signal":"sig1","payload":{"type":"joined"' || fail "carol not joined"
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=""
for p in $PIDS; do kill "$p" 2>/dev/null; done
PIDS=""
sleep 1
kill -0 "$SFU_PID" 2>/dev/null || fail "sfu died with Redis"
start_redis
pkey PA_c durable sig1   # signal rewrites the keys of the sockets it holds
wait_eq 10 up hget starling:node:$NODE state || fail "node not re-registered"
wait_eq 10 1 zscore starling:nodes $NODE || fail "zset not re-registered"
wait_eq 10 "$NODE" hget starling:room:durable node || fail "room not re-registered"
r hget starling:room:durable:participants PA_c | grep -q '"identity":"carol"' || fail "participant not re-registered"
listen starling:to-signal:sig1 sig1b.out
wait_for 10 sh -c "curl -sf http://127.0.0.1:$HPORT/healthz | grep -q '\"status\":\"ok\"'" || fail "/healthz after restart"
# The subscriber connection is back too: commands work.
pkey PA_d durable sig1
bus '{"type":"join","room":"durable","participant":"PA_d","signal":"sig1","payload":{"identity":"dave"}}'
wait_for 10 has sig1b.out '"type":"participant_joined"' || fail "bus dead after Redis restart"
ok "Redis restart: node, room and participants re-registered; bus works again"

# A participant whose signal process died: its key expires, nobody sends leave; the SFU
# removes it within 5 s of noticing (checks every 2 s).
pkey PA_e durable sig1
bus '{"type":"join","room":"durable","participant":"PA_e","signal":"sig1","payload":{"identity":"erin"}}'
wait_for 10 has sig1b.out '"participant":"PA_e","signal":"sig1","payload":{"type":"joined"' || fail "erin not joined"
r del starling:participant:PA_e >/dev/null
wait_for 15 has sig1b.out '"type":"participant_left","participant_id":"PA_e","reason":"disconnected"' ||
  fail "participant without a key not removed"
[ "$(r hexists starling:room:durable:participants PA_c)" = 1 ] || fail "a participant with a key was removed"
ok "a participant whose key is gone is removed as disconnected; the others stay"

# A participant left in the hash although the room no longer has it (its HDEL was lost with a
# dropped connection; written here by hand): the SFU removes it after a reconnect of its
# workers' connections, and by itself within ~10 s; the participants it has stay.
r hset starling:room:durable:participants PA_ghost1 '{"id":"PA_ghost1"}' >/dev/null
r client kill type normal >/dev/null
wait_eq 5 0 hexists starling:room:durable:participants PA_ghost1 || fail "stale participant kept after a reconnect"
r hset starling:room:durable:participants PA_ghost2 '{"id":"PA_ghost2"}' >/dev/null
wait_eq 15 0 hexists starling:room:durable:participants PA_ghost2 || fail "stale participant kept"
[ "$(r hexists starling:room:durable:participants PA_c)" = 1 ] || fail "a live participant was removed"
[ "$(r hexists starling:room:durable:participants PA_d)" = 1 ] || fail "a live participant was removed"
grep -q 'PA_ghost\|participant(s) in Redis that had left removed' "$TMP/sfu.log" || fail "no log line for the stale participants"
ok "participants in Redis that the room does not have are removed (after a reconnect, and periodically)"

# A room moved to another node while this one was out of Redis's reach (signal took it for
# dead; the room_moved event never reached it): after the reconnect it is dropped here, not
# taken back (that would split it between two nodes); the other rooms are written again.
pkey PA_m moved sig1
bus '{"type":"join","room":"moved","participant":"PA_m","signal":"sig1","payload":{"identity":"mia"}}'
wait_for 10 has sig1b.out '"participant":"PA_m","signal":"sig1","payload":{"type":"joined"' || fail "mia not joined"
r hset starling:room:moved node sfu-elsewhere >/dev/null
r hset starling:room:durable participants 0 >/dev/null # rewritten by the reconnect
r client kill type normal >/dev/null
wait_for 5 grep -q 'room moved was moved to sfu-elsewhere' "$TMP/sfu.log" || fail "moved room not dropped"
wait_eq 5 2 hget starling:room:durable participants || fail "durable not written again after the reconnect"
[ "$(r hget starling:room:moved node)" = sfu-elsewhere ] || fail "a room moved away was taken back"
ok "after a reconnect: a room moved away meanwhile is dropped, not taken back; the others written again"

# 4. Drain -------------------------------------------------------------------------------------
listen starling:events events.out
listen starling:to-signal:sig9 sig9.out
kill -TERM "$SFU_PID"
wait_eq 10 draining hget starling:node:$NODE state || fail "state not draining"
wait_eq 8 "" zscore starling:nodes $NODE || fail "draining node still in starling:nodes"
wait_for 10 has events.out "{\"type\":\"node_draining\",\"node\":\"$NODE\"}" || fail "no node_draining event"
curl -s "http://127.0.0.1:$HPORT/healthz" | grep -q '"status":"draining"' || fail "/healthz not draining"
bus '{"type":"join","room":"fresh","participant":"PA_z","signal":"sig9","payload":{"identity":"zed"}}'
wait_for 10 has sig9.out '"code":"unavailable"' || fail "new room accepted while draining"
kill -0 "$SFU_PID" 2>/dev/null || fail "exited with participants left"
bus '{"type":"leave","room":"durable","participant":"PA_c"}'
bus '{"type":"leave","room":"durable","participant":"PA_d"}'
wait_for 10 sh -c "! kill -0 $SFU_PID 2>/dev/null" || fail "did not exit after the last participant left"
wait "$SFU_PID"; st=$?; SFU_PID=""
[ "$st" = 0 ] || fail "exit status $st"
[ "$(r exists starling:node:$NODE)" = 0 ] || fail "node key left behind"
wait_for 10 has events.out "{\"type\":\"node_down\",\"node\":\"$NODE\"}" || fail "no node_down event"
ok "SIGTERM: draining, node_draining, no new rooms, exit when empty, node key deleted, node_down"

# 5. kill -9: the key expires --------------------------------------------------------------
start_sfu
wait_eq 10 up hget starling:node:$NODE state || fail "restarted node not registered"
kill -9 "$SFU_PID"; wait "$SFU_PID" 2>/dev/null; SFU_PID=""
[ "$(r exists starling:node:$NODE)" = 1 ] || fail "key gone too early"
wait_eq 10 0 exists starling:node:$NODE || fail "node key did not expire after kill -9"
ok "kill -9: node key expired on its TTL"
echo "PASS"
