#!/bin/sh
# Rooms end to end with real browsers: redis-server, starling-sfu (the real SFU and its media
# engine) and starling-signal (dev tokens, the demo page), three headless Debian Chromium
# instances (playwright-core; fake camera and microphone, 1280x720 with h/m/l simulcast) joining
# one room through the demo page, and an aiortc participant (tests/unit/sfu/aiortc_client.py)
# beside them. Checks (tests/integration/e2e/e2e_chromium.js drives the browsers):
#   1. every browser decodes the other two browsers' video (framesDecoded growing, videoWidth
#      > 0) and receives their audio (packetsReceived and totalSamplesReceived growing);
#   2. a chat message typed into one page reaches the two others over the data channels;
#   3. one browser leaves: the two others lose its tile, the SFU drops the participant;
#   4. one browser's (C's) downlink limited with tbf on its veth: the SFU switches what C gets
#      of the two others' simulcast video to the lowest layers (`layer` messages) while C keeps
#      decoding, and back up once the limit is lifted (C must first be above the lowest layers:
#      the subscriber estimate starts at 300 kbps and climbs through the SFU's probes, so the
#      test runs up to four limit-and-lift cycles until one starts above them);
#   5. aiortc publishes (libvpx VP8 320x180) and its video is decoded by every browser, and it
#      decodes a browser's video (it pauses the other two: Python is the slowest peer here).
#   6. C's browser fails to answer the first subscriber offer that carries video (createAnswer
#      rejects once): the client rolls back, the SFU sends the offer again after its
#      subscriber.offer_timeout (3 s here), and C answers it and decodes everyone (1).
#   7. the SFU stalls (SIGSTOP for 6 s, longer than its node key's TTL, no other node): signal
#      waits for it (failover_wait) instead of ending the sessions; nobody is disconnected
#      or told to reconnect, and every browser decodes the others again afterwards.
# Network (tests/interop/README.md): the servers run in one namespace this test creates
# (10.210.0.1 on a bridge), each browser and aiortc in its own namespace (10.210.0.2-5) whose
# veth is a port of that bridge; the SFU's media address is pinned to 10.210.0.1, so its ICE
# candidates are only that address; nothing else is reachable. Needs root. Everything
# started is stopped by PID (then whatever is left in our namespaces) on exit.
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
E2E_DIR="$SRC_DIR/tests/integration/e2e"
. "$E2E_DIR/topology.sh"
e2e_require
$E2E_PY -c 'import aiortc, websockets, numpy' 2>/dev/null || { echo "SKIP: aiortc/websockets missing for $E2E_PY"; exit 77; }

e2e_setup
e2e_client A 2
e2e_client B 3
e2e_client C 4
e2e_client aio 5
e2e_services
e2e_wait 10 sh -c "ip netns exec $E2E_SRV redis-cli -p 6379 hget starling:node:sfu-e2e state | grep -q up" ||
  e2e_fail "SFU did not register"

# aiortc first, so that it is in the room when the browsers join; it stays until the browsers
# are done (the stop file).
# aiortc (pure Python, and the slowest peer on a loaded machine) watches one browser's video at
# 320x180 and pauses the others', and tolerates a slow event loop: consent checks answered
# late (0.5 s) count as lost in aioice, and on CI beside three Chromium encoding 720p its
# loop can stay that slow for long; 60 in a row (5 minutes, the whole run) end its
# connection. The SFU's consent to aiortc is checked as for every leg (30 s).
ip netns exec "$E2E_NS_aio" env STARLING_AIORTC_LOG=1 STARLING_CONSENT_FAILURES=60 STARLING_MAX_SIZE=320x180 STARLING_VIDEO_LIMIT=1 STARLING_ICE_HOST=$E2E_NET.5 STARLING_STOP_FILE="$E2E_TMP/aio.stop" \
  $E2E_PY "$SRC_DIR/tests/unit/sfu/aiortc_client.py" \
  "$E2E_BASE" e2e aio 480 publish >"$E2E_TMP/aio.json" 2>"$E2E_TMP/aio.err" &
AIO=$!
E2E_PIDS="$E2E_PIDS $AIO"

if [ -n "${E2E_DEBUG:-}" ]; then
  # Once a second: the SFU's threads (state, CPU ticks) and whether /healthz answers.
  SFUPID=$(ip netns pids "$E2E_SRV" | while read -r p; do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = starling-sfu ] && echo "$p"; done)
  ( while :; do
      echo "$(date +%T.%N | cut -c1-12) $(for t in /proc/$SFUPID/task/*; do awk '{printf "%s:%s:%s ", $2, $3, $14+$15}' $t/stat; done) health=$(ip netns exec "$E2E_SRV" curl -s -m 1 -o /dev/null -w %{http_code} http://127.0.0.1:9642/healthz)"
      sleep 1
    done ) >"$E2E_TMP/threads.log" 2>&1 &
  E2E_PIDS="$E2E_PIDS $!"
fi
mkdir -p "$E2E_TMP/home"
env NODE_PATH="$E2E_NODE_DIR/node_modules" HOME="$E2E_TMP/home" E2E_TMP="$E2E_TMP" E2E_AIORTC=1 \
  E2E_SFU_PID="$E2E_SFU_PID" timeout 420 node "$E2E_DIR/e2e_chromium.js" "$E2E_BASE" "$E2E_NS_A" "$E2E_NS_B" "$E2E_NS_C" "$E2E_SRV" \
  >"$E2E_TMP/browsers.json" 2>"$E2E_TMP/node.err" ||
  { cat "$E2E_TMP/browsers.json"; tail -20 "$E2E_TMP/node.err"; e2e_fail "browser driver exited non-zero"; }
touch "$E2E_TMP/aio.stop"
wait "$AIO" || { tail -20 "$E2E_TMP/aio.err"; e2e_fail "the aiortc client failed"; }
E2E_PIDS=$(echo "$E2E_PIDS" | sed "s/ $AIO//")

node - "$E2E_TMP/browsers.json" "$E2E_TMP/aio.json" <<'EOF' || e2e_fail "checks failed (logs kept with E2E_KEEP=1)"
const fs = require('fs');
const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const aio = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const s = Object.fromEntries(r.steps.map((x) => [x.name, x]));
const checks = [];
const check = (name, ok, detail) => checks.push([name, !!ok, detail]);
check('driver finished', r.ok === true, r.error);
check('no page errors', !r.steps.some((x) => x.name === 'pageerror'));
const pubs = (s.published || {}).pubs || {};
for (const n of ['A', 'B', 'C']) {
  const p = pubs[n];
  check(`${n} publishes audio + video`, p && p.mine.map((m) => m.kind).sort().join() === 'audio,video');
}
const media = (s.media || {}).media || {};
const inj = (s.media || {}).injected || {};
check('6. C failed to answer a subscriber offer with video, and answered again (the SFU sent it again)',
      (inj.failedAnswers || []).length === 1 && inj.answersAfterFailure >= 1, JSON.stringify(inj));
for (const n of ['A', 'B', 'C']) {
  const m = media[n] || { per: {} };
  for (const o of ['A', 'B', 'C'].filter((x) => x !== n)) {
    const v = (m.per[o] || {}).video;
    const a = (m.per[o] || {}).audio;
    check(`1. ${n} decodes ${o}'s video`, v && v.grew && v.videoWidth > 0, JSON.stringify(v));
    check(`1. ${n} receives ${o}'s audio`, a && a.grew, JSON.stringify(a));
  }
  const v = (m.per.aio || {}).video;
  check(`5. ${n} decodes the aiortc video (320x180)`, v && v.grew && v.videoWidth === 320 && v.videoHeight !== 0,
        JSON.stringify(v));
}
const rids = ((s.simulcast || {}).sendRids || []).map((x) => x.rid).sort().join();
check('Chromium sends three simulcast encodings h,l,m', rids === 'h,l,m', JSON.stringify((s.simulcast || {}).sendRids));
const chat = (s.chat || {}).receivers || {};
const lost = (s.chat || {}).lost || {};
for (const n of ['B', 'C'])
  check(`2. chat from A reaches ${n} on its data channel`, (chat[n] || []).some((d) => d.via === 'dc' && d.fromA),
        JSON.stringify({ got: chat[n], lost: lost[n], A: lost.A, sfu: lost.sfu }));
const bw = s.bandwidth || {};
const area = (l) => l ? l.width * l.height : 0;
check('4. before the limit C got more than the lowest layers of A\'s and B\'s video', bw.before && bw.before.score > 2 * 320 * 180, JSON.stringify(bw.before));
check('4. C\'s downlink limited (tbf 500 kbit/s): switched to the lowest layers, still decoding', bw.limited && bw.limited.ok, JSON.stringify(bw.limited));
check('4. limit lifted: switched back up', bw.climbed && bw.climbed.ok, JSON.stringify(bw.climbed));
const st = s.stall || {};
check('7. the SFU stalled 6 s (its node key expired): nobody disconnected or told to reconnect',
      st.seen && ['A', 'B', 'C'].every((n) => st.seen[n] && st.seen[n].state === 'joined' && st.seen[n].events.length === 0),
      JSON.stringify(st.seen));
check('7. after the stall everyone decodes everyone again', st.after && ['A', 'B', 'C'].every((n) => st.after[n] && st.after[n].ok),
      JSON.stringify({ after: st.after, legs: st.legs }));
const lv = s.leave || {};
check('3. B left: A and C lost its tile', lv.tilesGone && ['A', 'C'].every((n) => (lv.tilesGone[n] || []).every((t) => !t.startsWith('B'))),
      JSON.stringify(lv.tilesGone));
check('3. B gone from the SFU\'s room (Redis participants), A and C still there', lv.bInRedis === 0 && lv.othersInRedis === 2,
      JSON.stringify(lv));
check('3. SFU participants gauge', lv.sfuParticipants === lv.countAfter, JSON.stringify(lv));
// 5, aiortc side.
check('5. aiortc joined without errors', aio.joined && aio.errors.length === 0, JSON.stringify(aio.errors));
const vids = Object.entries(aio.sizes).filter(([, v]) => v !== 'audio');
const browserVideo = new Set(['A', 'B', 'C'].map((n) => ((pubs[n] || { mine: [] }).mine.find((m) => m.kind === 'video') || {}).id));
const decoded = vids.filter(([k]) => browserVideo.has(k) && aio.frames[k] >= 60);
check('5. aiortc decodes a browser\'s video (the one it did not pause)', decoded.length >= 1 && decoded.every(([, v]) => v === '320x180'),
      JSON.stringify({ sizes: aio.sizes, frames: aio.frames }));
let failed = 0;
for (const [name, ok, detail] of checks) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ': ' + detail}`);
  if (!ok) failed++;
}
console.log(`bandwidth cycles (C gets A's + B's video): ${JSON.stringify(bw.cycles)}`);
console.log(`aiortc decoded: ${JSON.stringify(decoded.map(([k, v]) => `${v} ${aio.frames[k]} frames`))}`);
// The whole report is long (E2E_KEEP=1 keeps it); the timeline says what happened when,
// and fits in the part of the output a CI report keeps.
if (failed || !r.ok) console.log(`timeline:\n  ${r.log.slice(-40).join('\n  ')}`);
console.log(`${checks.length - failed} passed, ${failed} failed, browsers ${r.seconds} s`);
process.exit(failed ? 1 : 0);
EOF
# The stall leaves long runs of lost packets behind; no PeerConnection timer of the SFU may
# get stuck on them (libwebrtc/src/pc/README.md, "Timers").
if grep -q 'timer due again' "$E2E_TMP/sfu.log"; then
  grep 'timer due again' "$E2E_TMP/sfu.log" | head -3
  e2e_fail "an SFU PeerConnection's deadline stayed due"
fi
echo PASS
