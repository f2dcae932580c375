// Headless Chromium (Debian chromium via playwright-core) against starling-peer.
// Runs inside the browser's network namespace; starling-peer runs in the server namespace
// (spawned with `ip netns exec`). The page is served from the browser namespace's own
// 127.0.0.1 so that getUserMedia (fake camera) has a secure context.
//
// usage: node chromium_peer.js PEER_BIN SERVER_NS SERVER_ADDR
// Prints one JSON line per case and a final {"ok":...}.
//
// Environment: PC_CASES (which cases, e.g. "chromium-data,starling-media"), PC_N_MESSAGES
// (data channel messages, default 1000), PC_RTC_CONFIG (JSON RTCConfiguration for Chromium,
// e.g. iceServers + iceTransportPolicy "relay"), PC_STARLING_ARGS (extra starling-peer
// arguments), PC_EXPECT_LOCAL / PC_EXPECT_REMOTE (candidate types the selected pair must
// have, as Chromium sees it: local = Chromium's; each side's view is checked, ours mirrored).
'use strict';
const http = require('http');
const readline = require('readline');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const [PEER, SRV_NS, SRV_ADDR] = process.argv.slice(2);
const N = parseInt(process.env.PC_N_MESSAGES || '1000', 10);
const RTC_CONFIG = process.env.PC_RTC_CONFIG ? JSON.parse(process.env.PC_RTC_CONFIG) : {};
const STARLING_ARGS = (process.env.PC_STARLING_ARGS || '').split(' ').filter((a) => a);
const EXPECT_LOCAL = process.env.PC_EXPECT_LOCAL || '';
const EXPECT_REMOTE = process.env.PC_EXPECT_REMOTE || '';

function startPeer(args) {
  const p = spawn('ip', ['netns', 'exec', SRV_NS, PEER, '--bind', SRV_ADDR, '--timeout', '60', ...STARLING_ARGS, ...args],
                  { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: p.stdout });
  const waiters = [];
  const lines = [];
  p.summary = null;
  rl.on('line', (l) => {
    let o;
    try { o = JSON.parse(l); } catch (e) { return; }
    if (o.event === 'summary') p.summary = o;
    lines.push(o);
    while (waiters.length) {
      const w = waiters[0];
      const i = lines.findIndex(w.pred);
      if (i < 0) break;
      waiters.shift();
      w.resolve(lines.splice(i, 1)[0]);
    }
  });
  p.next = (pred) => new Promise((resolve) => {
    const i = lines.findIndex(pred);
    if (i >= 0) resolve(lines.splice(i, 1)[0]);
    else waiters.push({ pred, resolve });
  });
  p.exited = new Promise((r) => p.on('exit', r));
  return p;
}

// The page's side of each case; runs in the browser.
const PAGE = `<!doctype html><html><body><video id=v autoplay muted playsinline></video><script>
const N = ${N};
const RTC_CONFIG = ${JSON.stringify(RTC_CONFIG)};
function message(i) {
  const size = 4 + (i * 7919) % 65533;
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  for (let k = 4; k < size; k++) b[k] = (i + k) & 255;
  return b;
}
function same(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
window.runChannel = (ch, res) => new Promise((resolve) => {
  ch.binaryType = 'arraybuffer';
  let got = 0, errors = 0, sent = 0;
  ch.onmessage = (e) => {
    if (!same(new Uint8Array(e.data), message(got))) errors++;
    got++;
    if (got === N) { res.echoed = got; res.echoErrors = errors; resolve(); }
  };
  ch.bufferedAmountLowThreshold = 1 << 20;
  const pump = () => {
    while (sent < N && ch.bufferedAmount < (4 << 20)) ch.send(message(sent++));
  };
  ch.onbufferedamountlow = pump;
  // And a poll besides the event: in one relay-relay run in ~25 Chromium never sent its last
  // message (its SCTP idle, sending heartbeats, our window open, 199 of 200 echoed): the
  // page waited for a bufferedamountlow that did not come. Our side is what is tested here.
  const poll = setInterval(() => { if (sent >= N) clearInterval(poll); else if (ch.readyState === 'open') pump(); }, 100);
  if (ch.readyState === 'open') pump(); else ch.onopen = pump;
});
window.watchVideo = async (pc, res, seconds) => {
  const v = document.getElementById('v');
  const end = Date.now() + seconds * 1000;
  let first = -1;
  while (Date.now() < end) {
    const st = await pc.getStats();
    st.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        res.framesDecoded = s.framesDecoded || 0;
        res.framesReceived = s.framesReceived || 0;
        res.inboundCodec = s.codecId;
        if (first < 0 && res.framesDecoded > 0) first = res.framesDecoded;
      }
    });
    res.videoWidth = v.videoWidth;
    if (first >= 0 && res.framesDecoded >= first + 20 && v.videoWidth > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  res.framesDecodedGrew = first >= 0 && res.framesDecoded > first;
};
window.makePc = (res) => {
  const pc = new RTCPeerConnection(RTC_CONFIG);
  res.t0 = performance.now();
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && !res.connectMs) res.connectMs = Math.round(performance.now() - res.t0);
    res.state = pc.connectionState;
  };
  pc.ontrack = (e) => {
    const v = document.getElementById('v');
    if (e.track.kind === 'video') v.srcObject = new MediaStream([e.track]);
  };
  return pc;
};
// The selected pair's candidate types, as this browser sees them.
window.selectedPair = async (pc, res) => {
  const st = await pc.getStats();
  st.forEach((s) => {
    if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
    const pair = st.get(s.selectedCandidatePairId);
    if (!pair) return;
    res.localCandidate = (st.get(pair.localCandidateId) || {}).candidateType;
    res.remoteCandidate = (st.get(pair.remoteCandidateId) || {}).candidateType;
    res.localRelayProtocol = (st.get(pair.localCandidateId) || {}).relayProtocol;
  });
};
window.gathered = (pc) => new Promise((r) => {
  if (pc.iceGatheringState === 'complete') return r();
  pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
});
</script></body></html>`;

async function caseChromiumOffers(page, mode) {
  const peer = startPeer(['--answer', mode === 'data' ? '--echo' : '--send-test-media']);
  const offer = await page.evaluate(async (mode) => {
    window.res = {};
    const pc = window.pc = makePc(res);
    if (mode === 'data') {
      window.ch = pc.createDataChannel('interop');
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
      pc.addTrack(s.getVideoTracks()[0], s);
    } else {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    res.t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription.toJSON();
  }, mode);
  peer.stdin.write(JSON.stringify(offer) + '\n');
  const answer = await peer.next((o) => o.type);
  const res = await page.evaluate(async ([answer, mode]) => {
    await pc.setRemoteDescription(answer);
    const jobs = [];
    if (mode === 'data') jobs.push(runChannel(ch, res));
    jobs.push(watchVideo(pc, res, 30));
    await Promise.race([Promise.all(jobs), new Promise((r) => setTimeout(r, 60000))]);
    delete res.t0;
    await selectedPair(pc, res);
    pc.close();
    return res;
  }, [answer, mode]);
  peer.kill('SIGTERM');
  await peer.exited;
  return finish('offerer=chromium', mode, res, peer);
}

async function caseStarlingOffers(page, mode) {
  const args = ['--offer'];
  if (mode === 'data') args.push('--echo', '--datachannel', 'interop', '--video');
  else args.push('--send-test-media');
  const peer = startPeer(args);
  const offer = await peer.next((o) => o.type);
  const answer = await page.evaluate(async ([offer, mode]) => {
    window.res = {};
    const pc = window.pc = makePc(res);
    window.chp = new Promise((r) => { pc.ondatachannel = (e) => r(e.channel); });
    await pc.setRemoteDescription(offer);
    if (mode === 'data') {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
      for (const t of pc.getTransceivers()) {
        if (t.receiver.track.kind === 'video') {
          await t.sender.replaceTrack(s.getVideoTracks()[0]);
          t.direction = 'sendrecv';
        }
      }
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    return pc.localDescription.toJSON();
  }, [offer, mode]);
  peer.stdin.write(JSON.stringify(answer) + '\n');
  const res = await page.evaluate(async (mode) => {
    const jobs = [];
    if (mode === 'data') jobs.push(chp.then((ch) => runChannel(ch, res)));
    jobs.push(watchVideo(pc, res, 30));
    await Promise.race([Promise.all(jobs), new Promise((r) => setTimeout(r, 60000))]);
    delete res.t0;
    await selectedPair(pc, res);
    pc.close();
    return res;
  }, mode);
  peer.kill('SIGTERM');
  await peer.exited;
  return finish('offerer=starling', mode, res, peer);
}

function finish(name, mode, res, peer) {
  const s = peer.summary || {};
  res.case = name;
  res.mode = mode;
  res.starlingConnectedMs = s.connected_ms;
  res.starlingDcReceived = s.dc_messages_received;
  res.starlingRtpReceived = s.rtp_received;
  res.starlingFramesSent = s.video_frames_sent;
  const stats = s.stats || {};
  for (const v of Object.values(stats)) {
    if (v.type !== 'transport' || !v.selectedCandidatePairId) continue;
    const pair = stats[v.selectedCandidatePairId] || {};
    res.starlingLocalCandidate = (stats[pair.localCandidateId] || {}).candidateType;
    res.starlingRemoteCandidate = (stats[pair.remoteCandidateId] || {}).candidateType;
  }
  let ok = res.state === 'connected' && res.framesDecodedGrew && res.videoWidth > 0;
  if (mode === 'data') ok = ok && res.echoed === N && res.echoErrors === 0 && s.dc_messages_received === N;
  // Each side's view of the selected pair: ours mirrors Chromium's.
  if (EXPECT_LOCAL) ok = ok && res.localCandidate === EXPECT_LOCAL && res.starlingRemoteCandidate === EXPECT_LOCAL;
  if (EXPECT_REMOTE) ok = ok && res.remoteCandidate === EXPECT_REMOTE && res.starlingLocalCandidate === EXPECT_REMOTE;
  res.ok = !!ok;
  console.log(JSON.stringify(res));
  return res.ok;
}

(async () => {
  const server = http.createServer((q, r) => { r.setHeader('content-type', 'text/html'); r.end(PAGE); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
           '--use-fake-ui-for-media-stream'],
  });
  let ok = true;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
    await page.goto(url);
    const only = process.env.PC_CASES ? process.env.PC_CASES.split(',') : null;
    const cases = [['chromium', 'data'], ['chromium', 'media'], ['starling', 'data'], ['starling', 'media']];
    for (const [who, mode] of cases) {
      if (only && !only.includes(who + '-' + mode)) continue;
      const r = who === 'chromium' ? await caseChromiumOffers(page, mode) : await caseStarlingOffers(page, mode);
      ok = ok && r;
    }
  } catch (e) {
    console.error(e);
    ok = false;
  } finally {
    await browser.close();
    server.close();
  }
  console.log(JSON.stringify({ ok }));
  process.exit(ok ? 0 : 1);
})();
