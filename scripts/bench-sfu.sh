#!/bin/sh
# SFU forwarding benchmark (`make bench-sfu`, part of `make bench`): the same simulated
# participants (`starling-loadtest sfu` / `janus`: real PeerConnections of our stack, ICE + DTLS
# + SRTP, looping the same VP8 IVF clip) against
#   starling  redis-server + starling-signal + starling-sfu
#   janus     Debian's Janus with only its videoroom plugin and WebSocket transport
# one after the other, same rooms / publishers / subscribers / clip, each server started fresh
# for its run and stopped by PID. Reports the CPU time of the SFU process only (starling-sfu,
# or janus; not redis, not starling-signal, not the loadtest) per forwarded packet, and the
# ratio starling / Janus.
#
# Network: Janus gathers ICE candidates only on non-loopback interfaces (libnice skips lo), and
# must never offer the machine's real addresses. So everything (servers and loadtest) runs in a
# network namespace this script creates, whose only interfaces are lo and a veth pair, one end
# with 10.207.0.1/24; both servers hand out 10.207.0.1 and the loadtest binds it. Nothing
# leaves the namespace; it is deleted at the end. Needs root (exits 77 otherwise).
#
# Environment: DURATION (s of measurement per run, default 15), WARMUP (s, default 3),
# REPEAT (rounds with the servers taking turns; each row is the median run by CPU µs/pkt,
# default 3), SCENARIOS ("rooms:publishers:subscribers:kbps ...", default below), SERVERS
# (default "starling janus"), WORKERS (starling-sfu worker threads, default 1; Janus's threads
# are its own), NICE (default -10, as bench-turn.sh), NO_DOCS=1 to skip writing the doc.
# Bounded in time: each loadtest run is killed after setup-timeout + warmup + duration + 60 s.
set -eu
BUILD_DIR=${1:-build/release}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$SRC_DIR/$BUILD_DIR" ;; esac
LT="$BUILD_DIR/loadtest/starling-loadtest"
SFU="$BUILD_DIR/services/sfu/starling-sfu"
SIGNAL="$BUILD_DIR/services/signal/starling-signal"
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
SETUP_TIMEOUT=${SETUP_TIMEOUT:-60}
REPEAT=${REPEAT:-3}
WORKERS=${WORKERS:-1}
NICE=${NICE:--10}
SCENARIOS=${SCENARIOS:-"1:1:10:1000 4:2:3:500 1:2:25:500 1:2:50:1500"}
SERVERS=${SERVERS:-"starling janus"}
DOC="$SRC_DIR/docs/benchmarks.md"
IP_ADDR=10.207.0.1
IFACE=sfub0
API_KEY=bench
API_SECRET=bench-secret-0123456789abcdef
. "$SRC_DIR/scripts/lib/bench_report.sh"
. "$SRC_DIR/tests/lib/janus.sh"

for b in "$LT" "$SFU" "$SIGNAL"; do
  [ -x "$b" ] || { echo "bench-sfu: build first ($b missing)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench-sfu: SKIP: needs root for its network namespace"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "bench-sfu: redis-server missing (scripts/install-deps.sh)"; exit 1; }

TMP=$(mktemp -d /tmp/bench-sfu.XXXXXX)
NS="sfub$$"
PIDS=""     # everything started here (by PID), stopped in reverse order
cleanup() {
  stop_all
  # Runs happen in command substitutions (subshells without the trap): if one was interrupted,
  # what it started is still in our namespace, and everything there was started by us.
  left=$(ip netns pids "$NS" 2>/dev/null || true)
  if [ -n "$left" ]; then
    for p in $left; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in $(ip netns pids "$NS" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
  fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
stop_all() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=""
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! ip netns add "$NS" 2>"$TMP/err"; then
  echo "bench-sfu: SKIP: cannot create a network namespace: $(cat "$TMP/err")"
  exit 77
fi
ip -n "$NS" link set lo up
# A veth pair with both ends in the namespace (this kernel has no dummy driver); only one end
# has an address, and traffic to it is local (it never crosses the pair).
ip -n "$NS" link add "$IFACE" type veth peer name "${IFACE}p"
ip -n "$NS" link set "${IFACE}p" up
ip -n "$NS" addr add "$IP_ADDR/24" dev "$IFACE"
ip -n "$NS" link set "$IFACE" up
nsx() { ip netns exec "$NS" "$@"; }
# A background process in the namespace at $NICE whose PID is the command's own (ip netns
# exec, setsid (not a group leader here) and sh all exec in place).
nsbg() { # logfile command args...
  log=$1; shift
  ip netns exec "$NS" setsid sh -c "$BENCH_PRIO" "$NICE" "$@" >"$log" 2>&1 &
  LAST_PID=$!
  PIDS="$LAST_PID $PIDS"
}

wait_for() { t=$1; shift; i=0; while [ "$i" -lt $((t * 10)) ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
tcp_listening() { nsx ss -ltnH "sport = :$1" | grep -q .; }

# Fixed ports: the namespace is ours alone.
RPORT=6390; WPORT=7880; HPORT=9642; UPORT=7882; JPORT=8188

# ---- servers ----------------------------------------------------------------------------------
# start_SERVER: starts it (and what it needs), sets SERVER_PID (the SFU process), SERVER_CMD
# and LT_ARGS; returns non-zero if unavailable.
start_starling() {
  nsbg "$TMP/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP"
  wait_for 10 nsx redis-cli -p "$RPORT" ping || { echo "bench-sfu: redis did not start" >&2; return 1; }
  SERVER_CMD="$SFU --node_id sfu-bench --redis.port $RPORT --workers $WORKERS --udp.listen $IP_ADDR:$UPORT --public_ip $IP_ADDR --http.listen 127.0.0.1:$HPORT --room.max_participants 1000 --log.level warn"
  nsbg "$TMP/sfu.log" $SERVER_CMD
  SERVER_PID=$LAST_PID
  SIGNAL_CMD="$SIGNAL --listen 127.0.0.1:$WPORT --api_key $API_KEY --api_secret $API_SECRET --redis.port $RPORT --limits.max_participants 100000 --limits.max_connections 100000 --log.level warn"
  nsbg "$TMP/signal.log" $SIGNAL_CMD
  wait_for 15 sh -c "ip netns exec $NS redis-cli -p $RPORT hget starling:node:sfu-bench state | grep -q up" ||
    { echo "bench-sfu: starling-sfu did not register" >&2; tail -5 "$TMP/sfu.log" >&2; return 1; }
  wait_for 15 tcp_listening "$WPORT" || { echo "bench-sfu: starling-signal did not start" >&2; tail -5 "$TMP/signal.log" >&2; return 1; }
  SERVER_CMD="$SERVER_CMD
  signal:   $SIGNAL_CMD
  redis:    redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no"
  LT_ARGS="sfu --signal 127.0.0.1:$WPORT --api-key $API_KEY --api-secret $API_SECRET"
}

start_janus() {
  command -v janus >/dev/null 2>&1 || return 1
  [ -d "$TMP/janus" ] || janus_config "$TMP/janus" "$IFACE" "$JPORT" || return 1
  SERVER_CMD="janus -F $TMP/janus/conf -C $TMP/janus/conf/janus.jcfg -N -L $TMP/janus.log -o"
  nsbg "$TMP/janus.out" $SERVER_CMD
  SERVER_PID=$LAST_PID
  wait_for 20 tcp_listening "$JPORT" || { echo "bench-sfu: janus did not start" >&2; tail -20 "$TMP/janus.log" >&2; return 1; }
  SERVER_CMD="janus -F CONF -C CONF/janus.jcfg -N -L LOG -o   (CONF: videoroom plugin and WebSocket transport only, ice_enforce_list=$IFACE, debug_level 3)"
  LT_ARGS="janus --janus 127.0.0.1:$JPORT"
}

CLIP="$TMP/clip"
mkdir -p "$CLIP"
run_one() { # server rooms pubs subs kbps -> prints the RESULT line (empty if unavailable)
  server=$1; rooms=$2; pubs=$3; subs=$4; kbps=$5
  if ! start_"$server"; then stop_all; return 0; fi
  if [ "$(cat /proc/$SERVER_PID/comm 2>/dev/null)" = sh ]; then
    echo "bench-sfu: $server PID is not the server" >&2; stop_all; return 0
  fi
  clip="$CLIP/clip-$kbps.ivf"
  cmd="$LT $LT_ARGS --rooms $rooms --publishers $pubs --subscribers $subs --bitrate $kbps --clip $clip --bind $IP_ADDR --duration $DURATION --warmup $WARMUP --setup-timeout $SETUP_TIMEOUT --server-pid $SERVER_PID --label $server --quiet"
  # The commands once per scenario and server (later rounds repeat them with another PID).
  if [ "$round" = 1 ]; then
    echo "  server:   $SERVER_CMD" | sed "s|$SRC_DIR/||g; s|$TMP/|TMP/|g" >>"$CMDS"
    echo "  loadtest: $cmd" | sed "s|$SRC_DIR/||g; s|$TMP/|TMP/|g; s|--server-pid $SERVER_PID|--server-pid SERVER_PID|" >>"$CMDS"
  fi
  limit=$((SETUP_TIMEOUT + WARMUP + DURATION + 60))
  nsx setsid sh -c "$BENCH_PRIO" "$NICE" timeout -k 5 "$limit" $cmd >"$TMP/out" 2>"$TMP/err" || true
  stop_all
  sed 's/^/    /' "$TMP/out" >&2
  grep -v '^\[.*\] t=' "$TMP/err" | tail -5 | sed 's/^/    /' >&2
  line=$(grep '^RESULT ' "$TMP/out" | tail -1)
  [ -n "$line" ] && echo "$line"
  return 0
}

LOAD_START=$(bench_loadavg)
JANUS_VERSION=$(janus --version 2>/dev/null | sed -n 's/^Janus version: [0-9]* (\(.*\))/\1/p' | head -1)
COMMIT=$(bench_commit)
echo "bench-sfu: $(bench_machine); load average $LOAD_START; ${DURATION}s per run after ${WARMUP}s warmup, starling-sfu $WORKERS worker(s), nice $NICE, namespace $NS ($IP_ADDR)"

ROWS="$TMP/rows"; CMDS="$TMP/cmds"; NOTES="$TMP/notes"
: >"$ROWS"; : >"$CMDS"; : >"$NOTES"
for sc in $SCENARIOS; do
  rooms=${sc%%:*}; rest=${sc#*:}; pubs=${rest%%:*}; rest=${rest#*:}; subs=${rest%%:*}; kbps=${rest#*:}
  name="$rooms room(s) x ($pubs pub + $subs sub) x $kbps kbit/s"
  echo "== scenario $name" >&2
  echo "scenario $name:" >>"$CMDS"
  rm -f "$TMP"/runs.*
  round=1
  while [ $round -le "$REPEAT" ]; do
    for server in $SERVERS; do
      line=$(run_one "$server" "$rooms" "$pubs" "$subs" "$kbps")
      [ -n "$line" ] || { echo "bench-sfu: $server: no result, skipped" >&2; echo "- $name: $server gave no result in round $round." >>"$NOTES"; continue; }
      [ "$(bench_get kept_up "$line")" = 1 ] || echo "- $name: the generator could not keep up in the $server run of round $round (late frames skipped: $(bench_get late_frames "$line"))." >>"$NOTES"
      echo "$line" >>"$TMP/runs.$server"
    done
    round=$((round + 1))
  done
  for server in $SERVERS; do
    [ -f "$TMP/runs.$server" ] || continue
    each=$(tr ' ' '\n' <"$TMP/runs.$server" | sed -n 's/^server_us_per_pkt=//p' | paste -sd/ -)
    echo "$name|$server|$(bench_median_run "$TMP/runs.$server") each=$each" >>"$ROWS"
  done
done
LOAD_END=$(bench_loadavg)

TABLE="$TMP/table"
awk -F'|' "$BENCH_AWK_GET"'
BEGIN {
  print "| scenario | server | runs | connected pub / sub | sent pkt/s | forwarded pkt/s received | delivery % | loss % | SFU CPU % | SFU CPU µs per forwarded pkt | (each run) | loadtest CPU % |"
  print "|---|---|---|---|---|---|---|---|---|---|---|---|"
}
{
  sc = $1; srv = $2; r = $3
  printf "| %s | %s | %s | %s/%s / %s/%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc, srv, get("runs", r), get("pub_connected", r), get("pub_expected", r), get("sub_connected", r), get("sub_expected", r), get("sent_pps", r), get("recv_pps", r), get("delivery_pct", r), get("loss_pct", r), get("server_cpu_pct", r), get("server_us_per_pkt", r), get("each", r), get("loadtest_cpu_pct", r)
  upp[sc, srv] = get("server_us_per_pkt", r); cpu[sc, srv] = get("server_cpu_pct", r); scs[sc] = 1
  if (get("loss_pct", r) + 0 > 1)
    lossy = lossy sprintf("\n%s: %s lost %.1f %% of the packets in its median run (at %s %% CPU); its CPU per packet is over the packets that arrived, so it is overstated by up to that fraction; compare the other server'"'"'s loss under the same load (the generator and the machine were the same).", sc, srv, get("loss_pct", r), get("server_cpu_pct", r))
}
END {
  for (sc in scs) if (upp[sc, "starling"] != "" && upp[sc, "janus"] > 0 && cpu[sc, "janus"] > 0)
    summary = summary sprintf("\n%s: starling-sfu CPU per forwarded packet is %.2fx Janus'"'"'s (CPU %% %.2fx).", sc, upp[sc, "starling"] / upp[sc, "janus"], cpu[sc, "starling"] / cpu[sc, "janus"])
  if (summary != "") print summary
  if (lossy != "") print lossy
}' "$ROWS" >"$TABLE"
bench_show_table "$TABLE" "$NOTES"

[ "${NO_DOCS:-0}" = 1 ] && exit 0

SECTION="$TMP/section"
{
  echo "## SFU forwarding: starling-sfu vs Janus"
  echo
  echo "\`make bench-sfu\` (scripts/bench-sfu.sh; also part of \`make bench\`) drives each server with the same"
  echo "simulated participants: \`starling-loadtest sfu\` (through starling-signal to starling-sfu) or"
  echo "\`starling-loadtest janus\` (Janus's videoroom plugin over its WebSocket API). Every participant is"
  echo "a real PeerConnection of our stack (ICE, DTLS, SRTP). Publishers loop the same VP8 clip (an IVF"
  echo "file encoded once with libvpx by the first run and reused by every other, so both servers get"
  echo "identical frames), no audio; subscribers receive every publisher of their room. After a"
  echo "warmup the loadtest counts, over the measurement window, packets sent, forwarded packets"
  echo "received, loss by RTP sequence numbers, and the CPU time (user + system, /proc/PID/stat, all"
  echo "threads) of the SFU process only: starling-sfu or janus — not redis, not starling-signal, not"
  echo "the loadtest. \"SFU CPU µs per forwarded pkt\" divides that CPU time by the forwarded packets"
  echo "the subscribers received; it is the number to compare (it stays comparable when the machine is"
  echo "busy, unlike CPU %). Delivery % is forwarded packets received over the expected fan-out"
  echo "(packets sent x subscribers of that publisher)."
  echo
  echo "Setup: everything runs in a network namespace the script creates (lo plus a veth pair inside it,"
  echo "one end with $IP_ADDR; Janus gathers no loopback candidates, and must not offer the machine's real"
  echo "addresses), deleted at the end. starling-sfu with $WORKERS worker thread(s), Redis and"
  echo "starling-signal beside it; Janus $JANUS_VERSION (Debian package) with only the videoroom plugin and the"
  echo "WebSocket transport loaded, debug level 3, ICE on that interface only, its own threading"
  echo "defaults (a loop thread per handle). Janus rooms are created by the loadtest (VP8 + Opus, as"
  echo "many publishers as the room has)."
  echo
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT. Machine: $(bench_machine). Load average"
  echo "before / after: $LOAD_START / $LOAD_END. The machine has 2 cores shared with other engineers'"
  echo "test runs (Chromium, aiortc, builds), and the loadtest itself (all participants' SRTP and"
  echo "DTLS) runs on the same 2 cores as the server, so absolute CPU % is noisy and loss can come"
  echo "from the generator being starved; servers and loadtest each ran in their own session at nice"
  echo "$NICE (autogroup included). ${DURATION} s window after ${WARMUP} s warmup per run, $REPEAT round(s) with the"
  echo "servers taking turns, each row the median run by CPU µs per forwarded packet."
  echo
  echo "Reading the numbers: the CPU per forwarded packet includes each server's fixed costs"
  echo "(timers, RTCP, keepalives, per-participant bookkeeping), which weigh more at low packet"
  echo "rates, so compare servers within a row pair rather than across scenarios. Delivery can read"
  echo "a little over 100 %: packets sent just before the window opened arrive inside it. The"
  echo "loadtest CPU % column shows the generator's headroom (it shares the 2 cores). CPU times"
  echo "come from /proc in 10 ms ticks, so short or nearly idle runs read coarsely (keep DURATION"
  echo "at 10 s or more)."
  bench_section_results "$TABLE" "$NOTES" "Notes:" "$CMDS" \
    "Commands, in order (TMP = the script's temporary directory; run inside the namespace):"
  if [ -f "$TMP/janus/conf/janus.jcfg" ]; then
    echo
    echo "Janus's configuration (CONF; J = TMP/janus; plugins and transports folders hold only links to"
    echo "libjanus_videoroom.so and libjanus_websockets.so):"
    echo
    echo '```'
    for f in janus.jcfg janus.transport.websockets.jcfg janus.plugin.videoroom.jcfg; do
      echo "# $f"
      sed "s|$TMP/janus|J|g" "$TMP/janus/conf/$f"
    done
    echo '```'
  fi
} >"$SECTION"
bench_doc_section "$DOC" bench-sfu "$SECTION"
echo "bench-sfu: wrote the SFU section of $DOC"
