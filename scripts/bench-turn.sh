#!/bin/sh
# TURN relay benchmark (`make bench-turn`): the same load from `starling-loadtest turn` against
#   floor     starling-floor, a bare recvmmsg/sendmmsg UDP relay (the least work possible)
#   coturn    Debian's coTURN turnserver
#   starling  our starling-turn (when built)
# one after the other in one run, each started fresh for its run and stopped by PID, all on
# 127.0.0.1 with the same number of relay threads. Prints a table and writes it, with the
# exact commands and machine info, into the TURN section of docs/benchmarks.md.
#
# Environment: DURATION (s per run, default 20), REPEAT (rounds; each row is the median run
# by CPU per packet, default 1), THREADS (relay threads, default 1),
# SCENARIOS ("clients:kbps:bytes ...", default the three below), SERVERS (default
# "floor coturn starling"), NICE (niceness for servers and loadtest, default -10 so other work
# on a shared machine disturbs the runs less; 0 to disable), MODE (channel|send), TRANSPORT (udp|tcp; the floor is UDP-only
# and is skipped for tcp), RCVBUF (SO_RCVBUF asked for the floor's and starling-turn's
# listening sockets; default 2 MiB, which the kernel doubles to the 4 MiB coTURN gives its own
# listening sockets (`ss -uam` shows rb4194304); 0 = system default), NO_DOCS=1 to skip writing the doc,
# BASE_TURN (path of another starling-turn build, e.g. of an older commit: server "base" in
# SERVERS runs it with the same options, for before/after comparisons in one run).
set -eu
BUILD_DIR=${1:-build/release}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$SRC_DIR/$BUILD_DIR" ;; esac
LT="$BUILD_DIR/loadtest/starling-loadtest"
FLOOR="$BUILD_DIR/loadtest/starling-floor"
STARLING_TURN="$BUILD_DIR/services/turn/starling-turn"
DURATION=${DURATION:-20}
THREADS=${THREADS:-1}
MODE=${MODE:-channel}
TRANSPORT=${TRANSPORT:-udp}
RCVBUF=${RCVBUF:-2097152}
REPEAT=${REPEAT:-1}
NICE=${NICE:--10}
. "$SRC_DIR/scripts/lib/bench_report.sh"
. "$SRC_DIR/tests/lib/free_port.sh"
SCENARIOS=${SCENARIOS:-"2000:50:150 2000:50:1200 1000:1500:1200"}
SERVERS=${SERVERS:-"floor coturn starling"}
DOC="$SRC_DIR/docs/benchmarks.md"

case $TRANSPORT in udp|tcp) ;; *) echo "bench-turn: TRANSPORT must be udp or tcp"; exit 2 ;; esac
[ -x "$LT" ] && [ -x "$FLOOR" ] || { echo "bench-turn: build first ($LT, $FLOOR missing)"; exit 1; }

TMP=$(mktemp -d)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

wait_udp() { # port pid: until something is bound to UDP port
  i=0
  while [ $i -lt 100 ]; do
    kill -0 "$2" 2>/dev/null || return 1
    ss -lunH "sport = :$1" 2>/dev/null | grep -q . && { sleep 0.3; return 0; }
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# start_SERVER PORT: sets SERVER_PID and SERVER_CMD; returns non-zero if unavailable.
start_floor() {
  [ "$TRANSPORT" = udp ] || return 1
  SERVER_CMD="$FLOOR --listen 127.0.0.1:$1 --relay-ip 127.0.0.1 --threads $THREADS --rcvbuf $RCVBUF"
  setsid sh -c "$BENCH_PRIO" "$NICE" $SERVER_CMD 2>"$TMP/floor.log" &
  SERVER_PID=$!
}
start_coturn() {
  command -v turnserver >/dev/null 2>&1 || return 1
  SERVER_CMD="turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=$1 --realm=bench \
--user=bench:bench --lt-cred-mech --allow-loopback-peers --no-cli --no-tls --no-dtls --relay-threads=$THREADS \
--no-stdout-log --simple-log --log-file=$TMP/coturn.log"
  setsid sh -c "$BENCH_PRIO" "$NICE" $SERVER_CMD >/dev/null 2>&1 &
  SERVER_PID=$!
}
start_starling() {
  [ -x "$STARLING_TURN" ] || return 1
  # Static user, no Redis (REST secrets from Redis off), no HTTP listener, no per-user quota
  # or rate limit on 401s (every loadtest client shares one user and one source IP).
  SERVER_CMD="$STARLING_TURN --listen=127.0.0.1:$1 --tcp.listen=127.0.0.1:$1 --workers=$THREADS --realm=bench \
--users=bench:bench --relay.ipv4=127.0.0.1 --peers.allow=127.0.0.1 --http.listen= --no-rest.redis \
--quota.allocations_per_user=0 --auth.rate=0 --udp.recv_buffer=$RCVBUF --log.level=warn"
  setsid sh -c "$BENCH_PRIO" "$NICE" $SERVER_CMD >"$TMP/starling.log" 2>&1 &
  SERVER_PID=$!
}

start_base() {
  [ -n "${BASE_TURN:-}" ] && [ -x "$BASE_TURN" ] || return 1
  STARLING_TURN_SAVED=$STARLING_TURN; STARLING_TURN=$BASE_TURN
  start_starling "$1"
  STARLING_TURN=$STARLING_TURN_SAVED
}

LOAD_START=$(bench_loadavg)
COTURN_VERSION=$(turnserver --version 2>/dev/null | head -1 || echo "not installed")
COMMIT=$(bench_commit)
echo "bench-turn: $(bench_machine); load average $LOAD_START; ${DURATION}s per run, $THREADS relay thread(s), mode $MODE over $TRANSPORT, nice $NICE"

ROWS="$TMP/rows"
CMDS="$TMP/cmds"
NOTES="$TMP/notes"
: >"$ROWS"; : >"$CMDS"; : >"$NOTES"

run_one() { # server clients kbps bytes -> prints the RESULT line (empty if the server is unavailable)
  server=$1; clients=$2; kbps=$3; bytes=$4
  port=$(free_port)
  if ! start_"$server" "$port"; then return 0; fi
  # SERVER_PID must be the server itself (setsid and sh exec in place), or CPU is misread.
  if ! wait_udp "$port" "$SERVER_PID" || [ "$(cat /proc/$SERVER_PID/comm 2>/dev/null)" = sh ]; then
    echo "bench-turn: $server did not start" >&2
    stop_server
    return 0
  fi
  cmd="$LT turn --server 127.0.0.1:$port --user bench --password bench --clients $clients --rate $kbps --size $bytes --mode $MODE --transport $TRANSPORT --duration $DURATION --server-pid $SERVER_PID --label $server --quiet"
  echo "  server:   $SERVER_CMD" | sed "s|$SRC_DIR/||g" >>"$CMDS"
  echo "  loadtest: $cmd" | sed "s|$SRC_DIR/||g" >>"$CMDS"
  setsid sh -c "$BENCH_PRIO" "$NICE" $cmd >"$TMP/out" 2>"$TMP/err" || true
  # Datagrams the kernel dropped on the server's sockets bound to the listening port (its
  # receive buffers overflowed: the server did not read fast enough).
  hexport=$(printf '%04X' "$port")
  sdrops=$(awk -v p=":$hexport" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp)
  stop_server
  sed 's/^/    /' "$TMP/out" >&2
  line=$(grep '^RESULT ' "$TMP/out" | tail -1)
  [ -n "$line" ] && echo "$line server_socket_drops=$sdrops"
  return 0
}

for sc in $SCENARIOS; do
  clients=${sc%%:*}; rest=${sc#*:}; kbps=${rest%%:*}; bytes=${rest#*:}
  name="$clients x $kbps kbit/s x $bytes B"
  echo "== scenario $name" >&2
  echo "scenario $name:" >>"$CMDS"
  # The floor is the cheapest server, so if the generator cannot keep up against it, it
  # cannot against anyone: scale clients down (same factor for every server) and retry.
  floor_line=""
  tries=0
  while :; do
    floor_line=$(run_one floor "$clients" "$kbps" "$bytes")
    [ -n "$floor_line" ] || { kept=""; break; }
    kept=$(bench_get kept_up "$floor_line")
    [ "$kept" = 1 ] && break
    tries=$((tries + 1))
    ach=$(bench_get achieved_pps "$floor_line"); req=$(bench_get requested_pps "$floor_line")
    [ $tries -gt 2 ] || [ -z "$ach" ] && break
    new=$(awk -v c="$clients" -v a="$ach" -v r="$req" 'BEGIN{n=int(c*a/r*0.85/10)*10; if(n<10)n=10; print n}')
    echo "bench-turn: generator reached $ach of $req pkt/s against the floor; scaling $clients -> $new clients" >&2
    echo "- $name: generator reached $ach of $req pkt/s against the floor; scaled down to $new clients for every server." >>"$NOTES"
    clients=$new
    echo "  (scaled to $clients clients)" >>"$CMDS"
  done
  rm -f "$TMP"/runs.*
  if [ -n "$floor_line" ]; then
    [ "$kept" = 1 ] || echo "- $name: generator still below the requested rate at $clients clients (see achieved column)." >>"$NOTES"
    echo "$floor_line" >>"$TMP/runs.floor"
  fi
  # Servers take turns, REPEAT rounds, so that changes in the machine's load hit all alike.
  round=1
  while [ $round -le "$REPEAT" ]; do
    for server in $SERVERS; do
      [ "$server" = floor ] && { [ -n "$floor_line" ] && [ $round -gt 1 ] || continue; }
      line=$(run_one "$server" "$clients" "$kbps" "$bytes")
      [ -n "$line" ] || { echo "bench-turn: $server unavailable, skipped" >&2; continue; }
      echo "$line" >>"$TMP/runs.$server"
    done
    round=$((round + 1))
  done
  # Each server's row is its median run by CPU per relayed packet.
  for server in $SERVERS; do
    [ -f "$TMP/runs.$server" ] || continue
    echo "$name|$clients|$server|$(bench_median_run "$TMP/runs.$server")" >>"$ROWS"
  done
done
LOAD_END=$(bench_loadavg)

# ---- table ----
TABLE="$TMP/table"
awk -F'|' "$BENCH_AWK_GET"'
BEGIN {
  print "| scenario | clients | server | runs | achieved / requested pkt/s | loss % | dropped at server socket | dropped at sink | p50 / p99 latency (µs) | server CPU % | CPU µs/pkt | µs/pkt vs floor | loadtest CPU % |"
  print "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}
{
  sc = $1; cl = $2; srv = $3; r = $4
  cpu = get("server_cpu_pct", r); upp = get("server_us_per_pkt", r)
  if (srv == "floor") floor_upp[sc] = upp
  ratio = (floor_upp[sc] > 0) ? sprintf("%.2fx", upp / floor_upp[sc]) : "-"
  if (srv == "floor") ratio = "1.00x"
  printf "| %s | %s | %s | %s | %s / %s | %.3f | %s | %s | %s / %s | %s | %s | %s | %s |\n", sc, get("ready", r) "/" cl, srv, get("runs", r), get("achieved_pps", r), get("requested_pps", r), get("loss_pct", r), get("server_socket_drops", r), get("sink_drops", r), get("p50_us", r), get("p99_us", r), cpu, upp, ratio, get("loadtest_cpu_pct", r)
  cpus[sc, srv] = cpu; upps[sc, srv] = upp
  scs[sc] = 1
}
END {
  for (sc in scs) if (cpus[sc, "starling"] != "" && cpus[sc, "coturn"] > 0 && upps[sc, "coturn"] > 0)
    summary = summary sprintf("\n%s: starling-turn CPU %% is %.2fx coTURN'"'"'s, CPU per relayed packet %.2fx.", sc, cpus[sc, "starling"] / cpus[sc, "coturn"], upps[sc, "starling"] / upps[sc, "coturn"])
  if (summary != "") print summary
}' "$ROWS" >"$TABLE"
bench_show_table "$TABLE" "$NOTES"

[ "${NO_DOCS:-0}" = 1 ] && exit 0

# ---- docs/benchmarks.md, TURN section between markers ----
SECTION="$TMP/section"
{
  echo "## TURN relay"
  echo
  echo "\`make bench-turn\` (scripts/bench-turn.sh) drives each server with \`starling-loadtest turn\`: N"
  echo "UDP clients allocate on the server, bind a channel to a sink socket the loadtest runs on"
  echo "127.0.0.1, and send fixed-size payloads at a fixed bit rate (ChannelData; \`MODE=send\` for Send"
  echo "indications). The sink counts sequence numbers and one-way latency (sender and sink share"
  echo "CLOCK_MONOTONIC). Server CPU % is user+system time from /proc/PID/stat over the send window"
  echo "(100 % = one core); CPU µs/pkt divides it by the packets relayed, which stays comparable when"
  echo "the machine is busy. The floor is \`starling-floor\` (loadtest/floor_forwarder.c): recvmmsg on"
  echo "the listening socket, allocation lookup by client address, channel lookup, sendmmsg from the"
  echo "allocation's relay socket, and nothing else (no auth, permissions, expiry, quotas)."
  echo "Loss counts every payload sent and not received at the sink; \"dropped at server socket\" is the"
  echo "kernel's drop counter of the server's sockets on the listening port (it did not read fast"
  echo "enough), \"dropped at sink\" that of the loadtest's own sinks (generator overload). \"loadtest"
  echo "CPU %\" is the generator's own use (both threads), to show its headroom."
  echo
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT. Machine: $(bench_machine). Load average"
  echo "before / after: $LOAD_START / $LOAD_END (the machine is shared; other work competes for the"
  echo "same cores; servers and loadtest each ran in their own session at nice $NICE, autogroup included). ${DURATION} s per run, $REPEAT round(s) with the servers taking turns, each row the median run by CPU µs/pkt, $THREADS relay thread(s) for every server, mode $MODE over $TRANSPORT. coTURN"
  echo "$COTURN_VERSION with static user, no database configured (Debian's build still opens its default"
  echo "SQLite userdb, unused for static users), loopback peers allowed. starling-turn with a static"
  echo "user, no Redis (it needs Redis only for REST secrets and its node registry, both unused"
  echo "here, so none is started), per-user allocation quota and 401 rate limit off. Listening"
  echo "socket receive buffers: $( [ "$RCVBUF" = 0 ] && echo "system default ($(cat /proc/sys/net/core/rmem_default) bytes) for the floor and starling-turn" || echo "SO_RCVBUF $RCVBUF for the floor and starling-turn (kernel: $((RCVBUF * 2)))"); coTURN sets its own (4194304 here)."
  if [ -f "$TMP/runs.base" ] || grep -q '|base|' "$ROWS"; then
    echo "\"base\" is another starling-turn build, $(echo "$BASE_TURN" | sed "s|$SRC_DIR/||") (BASE_TURN), with the same options: the before of a before/after comparison in the same run."
  fi
  bench_section_results "$TABLE" "$NOTES" "Scaling:" "$CMDS" "Commands, in order:"
} >"$SECTION"
bench_doc_section "$DOC" bench-turn "$SECTION"
echo "bench-turn: wrote the TURN section of $DOC"
