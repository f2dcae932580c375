# The end-to-end topology of tests/integration/test_e2e_chromium.sh. Source it after setting
# SRC_DIR and BUILD_DIR. Everything lives in network namespaces this run creates (named with
# tests/lib/netns.sh's per-run prefix), on addresses the test chooses:
#
#   srv  10.210.0.1 on bridge br0    redis-server (the namespace's own 127.0.0.1:6379),
#        starling-sfu (media on 10.210.0.1:7882-7883, so its ICE candidates are only that
#        address), starling-signal (10.210.0.1:8080: demo page, /ws, /token in dev mode)
#   one namespace per client (e2e_client NAME N): a veth whose far end ("p-NAME") is a port
#        of br0, address 10.210.0.N/24, IPv6 off, nothing else. Shaping a client's downlink
#        is a qdisc on p-NAME (srv side), its uplink one on eth0 inside the client.
#
# Functions: e2e_require (exit 77/1 when something is missing), e2e_setup, e2e_client NAME N,
# e2e_services (E2E_SFU_ARGS / E2E_SIGNAL_ARGS add flags), e2e_fail MSG (prints the services'
# last warnings and errors), e2e_cleanup (the EXIT trap set by e2e_setup: stops every process
# this run started by PID, then anything left inside its namespaces, deletes the namespaces
# and the work directory).
# Variables: E2E_SRV (srv namespace), E2E_NS_<NAME>, E2E_BASE (http://10.210.0.1:8080),
# E2E_TMP (work directory, logs), E2E_NODE_DIR (node_modules parent), E2E_PIDS, E2E_SFU_PID.

E2E_NET=${E2E_NET:-10.210.0}
E2E_IP=$E2E_NET.1
E2E_SIGNAL_PORT=8080
E2E_BASE=http://$E2E_IP:$E2E_SIGNAL_PORT
E2E_API_SECRET=e2e-api-secret-0123456789abcdef
E2E_NODE_DIR=$SRC_DIR/tests/interop
E2E_PIDS=""
E2E_PY=/usr/bin/python3

. "$SRC_DIR/tests/lib/netns.sh"

e2e_require() {
  for b in services/signal/starling-signal services/sfu/starling-sfu; do
    [ -x "$BUILD_DIR/$b" ] || { echo "SKIP: $BUILD_DIR/$b not built"; exit 77; }
  done
  [ -f "$SRC_DIR/libwebrtc/include/rtc/pc.h" ] || { echo "SKIP: no PeerConnection layer: the SFU has no media engine"; exit 77; }
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
  for t in chromium node redis-server redis-cli curl tc ip; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed (scripts/install-deps.sh)"; exit 77; }
  done
  [ -d "$E2E_NODE_DIR/node_modules/playwright-core" ] ||
    { echo "FAIL: playwright-core missing; scripts/install-deps.sh installs it"; exit 1; }
  netns_require
}

e2e_cleanup() {
  rc=$?
  trap - EXIT
  for p in $E2E_PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $E2E_PIDS; do wait "$p" 2>/dev/null || true; done
  netns_cleanup
  if [ -n "${E2E_KEEP:-}" ]; then echo "logs kept in $E2E_TMP"; else rm -rf "$E2E_TMP"; fi
  exit $rc
}

e2e_setup() {
  E2E_TMP=$(mktemp -d /tmp/starling-e2e.XXXXXX)
  trap e2e_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  netns_add srv >/dev/null
  E2E_SRV=$NETNS_PREFIX-srv
  ip netns exec "$E2E_SRV" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$E2E_SRV" link add br0 type bridge
  ip -n "$E2E_SRV" addr add "$E2E_IP/24" dev br0
  ip -n "$E2E_SRV" link set br0 up
}

e2e_client() { # NAME N
  netns_add "$1" >/dev/null
  ns=$NETNS_PREFIX-$1
  eval "E2E_NS_$1=\$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$E2E_SRV" link add "p-$1" type veth peer name eth0 netns "$ns"
  ip -n "$E2E_SRV" link set "p-$1" master br0
  ip -n "$E2E_SRV" link set "p-$1" up
  ip -n "$ns" addr add "$E2E_NET.$2/24" dev eth0
  ip -n "$ns" link set eth0 up
}

e2e_fail() {
  echo "FAIL: $*"
  for f in signal sfu; do
    [ -f "$E2E_TMP/$f.log" ] || continue
    # Warnings and errors say why (a heartbeat late, a connection lost); info lines would
    # crowd them out of the part of the output a CI report keeps.
    echo "--- $f log (last warnings and errors)"
    grep -E '"level":"(warn|error)"' "$E2E_TMP/$f.log" | tail -n 25
  done
  # Who is who in those lines (participant ids to the names the checks use).
  [ -f "$E2E_TMP/sfu.log" ] && { echo "--- participants"; grep -oE 'PA_[A-Za-z0-9_]+ \([^)]*\) joined' "$E2E_TMP/sfu.log" | tail -n 12; }
  # aiortc's own view (aioice logs consent loss and ICE/DTLS failures at info level).
  [ -f "$E2E_TMP/aio.err" ] && { echo "--- aiortc (last notable lines)"; grep -iE 'consent|fail|clos|error|except|Traceback' "$E2E_TMP/aio.err" | tail -n 12; }
  exit 1
}

# e2e_wait SECONDS cmd...: poll until cmd succeeds.
e2e_wait() {
  t=$1; shift; i=0
  while [ "$i" -lt $((t * 10)) ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done
  return 1
}

e2e_services() {
  S=$E2E_SRV
  # `ip netns exec` execs the command, so $! is the server's own PID.
  ip netns exec "$S" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$E2E_TMP" >"$E2E_TMP/redis.log" 2>&1 &
  E2E_PIDS="$E2E_PIDS $!"
  e2e_wait 10 ip netns exec "$S" redis-cli -p 6379 ping || e2e_fail "redis-server did not start"
  ip netns exec "$S" "$BUILD_DIR/services/sfu/starling-sfu" --node_id sfu-e2e \
    --public_ip "$E2E_IP" --udp.listen "$E2E_IP:7882" --http.listen 127.0.0.1:9642 \
    --workers 2 --shutdown.drain_timeout 1s --redis.port 6379 --subscriber.offer_timeout 3s ${E2E_SFU_ARGS:-} >"$E2E_TMP/sfu.log" 2>&1 &
  E2E_SFU_PID=$!
  E2E_PIDS="$E2E_PIDS $E2E_SFU_PID"
  ip netns exec "$S" "$BUILD_DIR/services/signal/starling-signal" \
    --listen "$E2E_IP:$E2E_SIGNAL_PORT" --dev_mode --api_key e2e --api_secret "$E2E_API_SECRET" \
    --web_root "$SRC_DIR/services/signal/web" --redis.port 6379 ${E2E_SIGNAL_ARGS:-} >"$E2E_TMP/signal.log" 2>&1 &
  E2E_PIDS="$E2E_PIDS $!"
  e2e_wait 20 ip netns exec "$S" curl -sf http://127.0.0.1:9642/healthz || e2e_fail "starling-sfu not healthy"
  e2e_wait 20 ip netns exec "$S" curl -sf "$E2E_BASE/healthz" || e2e_fail "starling-signal not healthy"
}
