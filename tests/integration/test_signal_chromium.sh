#!/bin/sh
# Real Chromium (Debian's, driven by playwright-core) loads starling-signal's demo page and two
# pages join one room through it: dev token, join, camera+microphone published with h/m/l
# simulcast, tiles, chat, mute, stats overlay, resume after a dropped WebSocket, leave; a third
# page whose publisher answer and first subscriber answer the node "loses" (the client offers
# again; it answers the repeated subscriber offer with the same answer); a fourth without a
# camera (joins with its microphone only, and says so), whose socket drops while the third
# leaves (the resume's `joined` removes her tile). The
# SFU node is the scripted test double (it answers offers; no media flows) until the real SFU
# lands. Per tests/interop/README.md: the servers (redis-server, the node, starling-signal on
# 10.200.0.1) run in one network namespace this test creates, Chromium in another
# (10.200.0.2), joined by a veth pair; nothing else is reachable. Needs root, chromium, node,
# playwright-core (scripts/install-deps.sh). Everything started is stopped by PID on exit.
set -eu
SRC_DIR=${SRC_DIR:?} BUILD_DIR=${BUILD_DIR:?}
SIG="$BUILD_DIR/services/signal/starling-signal"
[ -x "$SIG" ] || { echo "SKIP: $SIG not built"; exit 77; }
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "SKIP: node not installed"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server not installed"; exit 77; }
/usr/bin/python3 -c 'import redis' 2>/dev/null || { echo "SKIP: python3-redis missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
NODE_DIR="$SRC_DIR/tests/interop"
[ -d "$NODE_DIR/node_modules/playwright-core" ] ||
  { echo "FAIL: playwright-core missing; scripts/install-deps.sh installs it"; exit 1; }

. "$SRC_DIR/tests/lib/netns.sh"
netns_require
WORK=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

netns_add srv >/dev/null
netns_add br >/dev/null
netns_link srv 10.200.0.1/24 br 10.200.0.2/24
# Background servers run through `ip netns exec` directly (it execs the command), so $! is the
# server's own PID.
SRV="$NETNS_PREFIX-srv"
REDIS_PORT=6390
PORT=8080

ip netns exec "$SRV" redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until netns_exec srv redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: redis-server did not start"; exit 1; }; sleep 0.1
done
# TEST DOUBLE for the SFU node (tests/integration/signal/fake_sfu.py).
ip netns exec "$SRV" /usr/bin/python3 "$SRC_DIR/tests/integration/signal/fake_sfu.py" \
  --redis-port $REDIS_PORT --node-id node-e2e --heartbeat 0.5 --lossy-name Carol \
  --record "$WORK/bus.jsonl" >"$WORK/sfu.log" 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$SRV" "$SIG" --listen=10.200.0.1:$PORT --redis.port=$REDIS_PORT --dev_mode \
  --api_secret=chromium-test-secret-0123456789 --heartbeat=500ms >"$WORK/signal.log" 2>&1 &
SIG_PID=$!
PIDS="$PIDS $SIG_PID"
i=0
until netns_exec br curl -sf "http://10.200.0.1:$PORT/healthz" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: starling-signal not healthy"; tail -20 "$WORK/signal.log"; exit 1; }
  sleep 0.2
done

mkdir -p "$WORK/home"
netns_exec br env NODE_PATH="$NODE_DIR/node_modules" HOME="$WORK/home" SCREENSHOT="${SCREENSHOT:-}" \
  timeout 150 node "$SRC_DIR/tests/integration/signal/chromium_demo.js" "http://10.200.0.1:$PORT" \
  >"$WORK/out.json" 2>"$WORK/node.err" || { echo "FAIL: driver exited non-zero"; cat "$WORK/out.json" "$WORK/node.err"; exit 1; }

node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const s = Object.fromEntries(r.steps.map((x) => [x.name, x]));
// What reached the node from Carol (the lost-answers step): her publisher offers, and her
// answers to the subscriber offer the node sent twice.
const lost = s["lost answers"] || {};
const bus = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .filter((m) => lost.id && m.participant === lost.id);
const pubOffers = bus.filter((m) => m.type === "offer");
const subAnswers = bus.filter((m) => m.type === "answer" && m.payload.pc === "subscriber");
const checks = [
  ["driver finished", r.ok === true],
  ["no page errors", !r.steps.some((x) => x.name === "pageerror")],
  ["joined through the page form", s["alice joined and published"] && s["alice joined and published"].lobbyHidden],
  ["participant id from signal", s["alice joined and published"] && /^PA_/.test(s["alice joined and published"].id)],
  ["audio + video published", s["alice joined and published"] && s["alice joined and published"].kinds.join() === "audio,video"],
  ["simulcast encodings h,m,l kept", s["alice joined and published"] && s["alice joined and published"].rids.join() === "h,m,l"],
  ["local preview attached", s["alice joined and published"] && s["alice joined and published"].localVideo],
  ["both pages show both tiles", s.tiles && s.tiles.alice.length === 2 && s.tiles.bob.length === 2 &&
      s.tiles.alice.some((n) => n.startsWith("Bob")) && s.tiles.bob.some((n) => n.startsWith("Alice"))],
  ["chat delivered (WebSocket data fallback)", s.chat && s.chat.via === "ws"],
  ["mute shown on the other page", s.mute && /off/.test(s.mute.micLabel)],
  ["stats overlay shows RTT and layers", s.stats && /RTT/.test(s.stats.text) && /video h/.test(s.stats.text)],
  ["dropped WebSocket resumed, same participant", s.resume && s.resume.sameId],
  ["leave removes the tile", s.leave && s.leave.bobState === "left"],
  ["publisher answer lost: the client offered again (after ~10 s) and applied the answer",
      pubOffers.length === 2 && lost.pubState === "stable" && lost.publishedAfter >= 9000],
  ["subscriber offer repeated (same offer_id): answered twice, the same answer, applied once",
      subAnswers.length === 2 && subAnswers.every((m) => m.payload.offer_id === 1) &&
      subAnswers[0].payload.sdp === subAnswers[1].payload.sdp && lost.subState === "stable"],
  ["no camera: joined with the microphone only, the page says so, camera button disabled",
      s["no camera"] && s["no camera"].kinds.join() === "audio" && /audio only/.test(s["no camera"].notice || "") &&
      s["no camera"].camDisabled && !s["no camera"].micDisabled],
  ["someone left while the socket was down: the resume drops the tile (no participant_left seen)",
      s["missed while away"] && !s["missed while away"].carolTile && !s["missed while away"].carolKnown &&
      s["missed while away"].others >= 1],
];
if (!(pubOffers.length === 2 && subAnswers.length === 2))
  console.log("Carol at the node: " + JSON.stringify(bus.map((m) => [m.type, (m.payload || {}).pc, (m.payload || {}).offer_id])));
let failed = 0;
for (const [name, ok] of checks) { console.log((ok ? "PASS " : "FAIL ") + name); if (!ok) failed++; }
if (failed) console.log(JSON.stringify(r, null, 1));
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);' "$WORK/out.json" "$WORK/bus.jsonl" || { tail -30 "$WORK/signal.log"; exit 1; }

# A clean SIGTERM exit of the signal process.
kill -TERM $SIG_PID
wait $SIG_PID || { echo "FAIL: starling-signal exited $?"; exit 1; }
PIDS=$(echo "$PIDS" | sed "s/ $SIG_PID//")
