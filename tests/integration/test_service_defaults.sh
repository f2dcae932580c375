#!/bin/sh
# Defaults that matter in production, checked on the real binaries:
#   * ports do not collide: starling-sfu and starling-turn started side by side with no port
#     options at all both come up, each on its documented HTTP port (sfu 9642, turn 9641), and
#     every shipped config and script agrees with those numbers;
#   * starling-turn's UDP listener gets a 4 MiB receive buffer by default (udp.recv_buffer),
#     not the kernel's ~208 KiB default, even above net.core.rmem_max (SO_RCVBUFFORCE as root).
# The services run inside a network namespace the test creates, so their default addresses
# (127.0.0.1:9641/9642, 0.0.0.0:3478, 0.0.0.0:7882) are that namespace's own and nothing else
# on the machine is touched.
set -u
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
SFU="$BUILD_DIR/services/sfu/starling-sfu"
TURN="$BUILD_DIR/services/turn/starling-turn"
[ -x "$SFU" ] && [ -x "$TURN" ] || { echo "SKIP: services not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
. "$SRC_DIR/tests/lib/netns.sh"
NETNS_PREFIX="dp$$"
netns_require
TMP=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do wait "$p" 2>/dev/null; done
  netns_cleanup
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# 1. The binaries' own defaults, side by side (no Redis: both still serve HTTP).
netns_add box >/dev/null
# The SFU's media default is every non-loopback address: give the namespace one.
ip -n "$NETNS_PREFIX-box" link add v0 type veth peer name v1
ip -n "$NETNS_PREFIX-box" addr add 10.209.0.1/24 dev v0
ip -n "$NETNS_PREFIX-box" link set v0 up
ip -n "$NETNS_PREFIX-box" link set v1 up
netns_exec box "$TURN" --workers 1 >"$TMP/turn.log" 2>&1 &
PIDS="$PIDS $!"
netns_exec box "$SFU" --workers 1 --node_id sfu-ports >"$TMP/sfu.log" 2>&1 &
PIDS="$PIDS $!"
listening() { netns_exec box ss -tlnH "sport = :$1" 2>/dev/null | grep -q "127.0.0.1:$1"; }
i=0
until listening 9641 && listening 9642; do
  i=$((i + 1))
  [ $i -gt 50 ] && break
  sleep 0.1
done
listening 9641 && echo "ok: starling-turn serves HTTP on its default 127.0.0.1:9641" ||
  { fail "starling-turn is not listening on 127.0.0.1:9641"; tail -5 "$TMP/turn.log"; }
listening 9642 && echo "ok: starling-sfu serves HTTP on its default 127.0.0.1:9642" ||
  { fail "starling-sfu is not listening on 127.0.0.1:9642"; tail -5 "$TMP/sfu.log"; }
for p in $PIDS; do kill -0 "$p" 2>/dev/null || fail "a service exited (pid $p)"; done
# The kernel reports twice the buffer it grants: 4 MiB -> rb8388608.
rb=$(netns_exec box ss -ulmnH "sport = :3478" 2>/dev/null | tr ',(' '\n\n' | sed -n 's/^rb\([0-9]*\)$/\1/p' | head -1)
if [ -n "$rb" ] && [ "$rb" -ge 8388608 ]; then
  echo "ok: starling-turn's UDP listener has a ${rb}-byte receive buffer (kernel accounting: 2 x 4 MiB)"
else
  fail "starling-turn's UDP listener receive buffer is '${rb}' (want >= 8388608)"
  netns_exec box ss -ulmn
fi
# Past rmem_max: an explicit 16 MiB is granted to root (SO_RCVBUFFORCE).
netns_exec box "$TURN" --workers 1 --listen 127.0.0.1:3479 --tcp.listen= --http.listen= --no-rest.redis \
  --udp.recv_buffer 16777216 >"$TMP/turn2.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until netns_exec box ss -ulnH "sport = :3479" | grep -q 3479; do i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1; done
rb=$(netns_exec box ss -ulmnH "sport = :3479" 2>/dev/null | tr ',(' '\n\n' | sed -n 's/^rb\([0-9]*\)$/\1/p' | head -1)
max=$(cat /proc/sys/net/core/rmem_max)
if [ -n "$rb" ] && [ "$rb" -ge 33554432 ]; then
  echo "ok: udp.recv_buffer=16MiB gives rb$rb although net.core.rmem_max is $max"
else
  fail "udp.recv_buffer=16MiB gave '${rb}' (rmem_max $max)"
fi
"$TURN" --help 2>&1 | grep -q '127.0.0.1:9641' || fail "starling-turn --help does not show 127.0.0.1:9641"
"$SFU" --help 2>&1 | grep -q '127.0.0.1:9642' || fail "starling-sfu --help does not show 127.0.0.1:9642"

# 2. Shipped files agree: every turn config's HTTP port is 9641, every sfu config's 9642, the
#    image's health check falls back to the same defaults, and run-local.sh uses them.
http_port() { # FILE -> port of "http.listen = ..." or of "listen = ..." inside [http]
  awk '/^\[/ {sec=$0} /^http\.listen *=/ || (sec=="[http]" && /^listen *=/) {sub(/.*:/, ""); sub(/[ #].*/, ""); print; exit}' "$1"
}
for f in "$SRC_DIR"/deploy/config/turn.*.conf; do
  p=$(http_port "$f")
  [ "$p" = 9641 ] || fail "$(basename "$f"): turn HTTP port $p, not 9641"
done
for f in "$SRC_DIR"/deploy/config/sfu.*.conf; do
  p=$(http_port "$f")
  [ "$p" = 9642 ] || fail "$(basename "$f"): sfu HTTP port $p, not 9642"
done
grep -q 'starling-turn) .*def=127.0.0.1:9641' "$SRC_DIR/deploy/docker/healthcheck.sh" || fail "healthcheck.sh: turn default is not 9641"
grep -q 'starling-sfu) .*def=127.0.0.1:9642' "$SRC_DIR/deploy/docker/healthcheck.sh" || fail "healthcheck.sh: sfu default is not 9642"
grep -q 'TURN_HTTP_PORT=${TURN_HTTP_PORT:-9641}' "$SRC_DIR/scripts/run-local.sh" || fail "run-local.sh: TURN_HTTP_PORT is not 9641"
grep -q 'SFU_HTTP_PORT=${SFU_HTTP_PORT:-9642}' "$SRC_DIR/scripts/run-local.sh" || fail "run-local.sh: SFU_HTTP_PORT is not 9642"
grep -q '"9641"' "$SRC_DIR/deploy/k8s/50-turn.yaml" || fail "k8s 50-turn.yaml does not use 9641"
[ $FAILS -eq 0 ] && echo "ok: deploy/config, healthcheck.sh, run-local.sh and k8s agree" || exit 1
echo "PASS"
