# Shell helpers that run our own TURN server (services/turn, starling-turn) for a test.
# Source it after setting BUILD_DIR: `. "$SRC_DIR/tests/lib/starling_turn.sh"`.
#
#   sturn_conf FILE LISTEN_IP PORT ALLOW [TLS_PORT CERT KEY]
#       write a config: UDP and TCP listeners on LISTEN_IP:PORT (TLS on TLS_PORT when given),
#       relays from LISTEN_IP (ports 20000-24999), user u:p in realm "test", peers.allow =
#       ALLOW (comma-separated CIDRs: the test's own peer addresses, which the default
#       deny ranges refuse: loopback, RFC 1918, the server's own address), HTTP /healthz on
#       127.0.0.1:$STURN_HTTP_PORT (default 9641, fine inside a namespace of the test's own).
#   sturn_start FILE LOG [cmd-prefix...]
#       start it in the background (optionally through a prefix such as `ip netns exec NS`),
#       wait for /healthz (curl through the same prefix); sets STURN_PID. Returns 1 if it did
#       not come up (the log is printed).
STURN_BIN=${STURN_BIN:-$BUILD_DIR/services/turn/starling-turn}
STURN_HTTP_PORT=${STURN_HTTP_PORT:-9641}

sturn_conf() {
  f=$1; ip=$2; port=$3; allow=$4
  cat >"$f" <<EOC
listen = $ip:$port
tcp.listen = $ip:$port
workers = 1
realm = test
users = u:p
relay.ipv4 = $ip
relay.min_port = 20000
relay.max_port = 24999
peers.allow = $allow
rest.redis = false
quota.allocations_per_user = 0
auth.rate = 0
http.listen = 127.0.0.1:$STURN_HTTP_PORT
EOC
  if [ $# -ge 7 ]; then
    printf 'tls.listen = %s:%s\ntls.cert = %s\ntls.key = %s\n' "$ip" "$5" "$6" "$7" >>"$f"
  fi
}

sturn_start() {
  conf=$1; log=$2; shift 2
  "$@" "$STURN_BIN" --config "$conf" >"$log" 2>&1 &
  STURN_PID=$!
  for _ in $(seq 100); do
    "$@" curl -sf "http://127.0.0.1:$STURN_HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$STURN_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "starling-turn did not come up:"; cat "$log"
  return 1
}
