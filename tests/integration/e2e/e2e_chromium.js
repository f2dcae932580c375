// Drives three Debian Chromium instances (playwright-core) through starling-signal's demo page
// for tests/integration/test_e2e_chromium.sh. Each browser runs in its own client network
// namespace: playwright launches tests/integration/e2e/chromium-netns.sh, which execs
// /usr/bin/chromium inside $E2E_NETNS (the launch pipes do not care about namespaces).
//
//   node e2e_chromium.js BASE_URL NS_A NS_B NS_C SRV_NS
//
// Environment: E2E_TMP (where screenshots go when E2E_SCREENSHOTS is set), E2E_CHROME_LOG=1
// for Chromium's WebRTC logs on stderr, E2E_AIORTC=1 when an aiortc participant ("aio") joins
// the room beside the browsers.
// Prints one JSON object with what it saw; the shell script judges it. The steps:
//   media     every browser decodes the other two browsers' video and receives their audio
//             (and the aiortc participant's video), counters growing between two samples
//   chat      a message typed into A's page reaches B and C
//   bandwidth C's downlink limited (tbf on p-C, the bridge side of its veth): the SFU
//             switches what C gets of A's and B's video to the lowest simulcast layers;
//             limit lifted: back up
//   stall     the SFU stopped for 6 s (E2E_SFU_PID): nobody disconnected, media back after
//   leave     B leaves: A and C lose B's tile, the SFU's room has one participant less
if (process.env.E2E_CHROME_LOG) process.env.DEBUG = 'pw:browser';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const path = require('path');

const [base, nsA, nsB, nsC, srvNs] = process.argv.slice(2);
const out = { steps: [], log: [] };
const t0 = Date.now();
const note = (m) => out.log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
const step = (name, data) => { note(`step ${name}`); out.steps.push(Object.assign({ name }, data || {})); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const wrapper = path.join(__dirname, 'chromium-netns.sh');

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
}
const inSrv = (...a) => sh('ip', ['netns', 'exec', srvNs, ...a]);

async function launch(name, ns) {
  const browser = await chromium.launch({
    executablePath: wrapper,
    env: Object.assign({}, process.env, { E2E_NETNS: ns }),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           // 15 fps keeps three 1280x720 simulcast encoders and six decoders within a loaded
           // machine's means (Chromium drops layers when its CPU adaptation kicks in).
           `--use-fake-device-for-media-stream=fps=${process.env.E2E_FPS || 15}`,
           '--use-fake-ui-for-media-stream',
           '--autoplay-policy=no-user-gesture-required',
           `--unsafely-treat-insecure-origin-as-secure=${base}`,
           // E2E_CHROME_LOG=1: the browsers' WebRTC logs (ICE, DTLS), through playwright's
           // pw:browser debug log, on the driver's stderr ($E2E_TMP/node.err).
           ...(process.env.E2E_CHROME_LOG ? ['--enable-logging=stderr', '--v=0', '--vmodule=*/webrtc/p2p/*=1,*/webrtc/pc/*=1'] : [])],
  });
  const ctx = await browser.newContext();
  if (name === 'C') {
    // C's browser fails to answer the first subscriber offer that carries video (createAnswer
    // rejects once, after the offer was applied): the client must roll back and not answer,
    // and the SFU must send that offer again after subscriber.offer_timeout. C then has to
    // answer it and decode everyone like the others (step media).
    await ctx.addInitScript(() => {
      window.__failedAnswers = [];
      window.__answersAfterFailure = 0;
      const orig = RTCPeerConnection.prototype.createAnswer;
      RTCPeerConnection.prototype.createAnswer = function (...a) {
        const r = this.remoteDescription;
        if (!window.__failedAnswers.length && r && r.type === 'offer' && /\nm=video /.test(r.sdp)) {
          window.__failedAnswers.push({ t: Date.now() });
          return Promise.reject(new Error('injected: createAnswer failed'));
        }
        if (window.__failedAnswers.length) window.__answersAfterFailure++;
        return orig.apply(this, a);
      };
    });
  }
  const page = await ctx.newPage();
  page.on('pageerror', (e) => out.steps.push({ name: 'pageerror', who: name, error: String(e) }));
  page.on('console', (m) => { if (m.type() === 'error') out.log.push(`${name} console: ${m.text()}`); });
  await page.goto(`${base}/?room=e2e&name=${name}&autojoin=1`);
  // Record every `layer` message the SFU sends this page.
  await page.waitForFunction(() => window.starling && window.starling.client, null, { timeout: 20000 });
  await page.evaluate(() => {
    window.__layers = [];
    window.__data = [];
    const c = window.starling.client;
    c.on('layer', (m) => window.__layers.push(Object.assign({ t: Date.now() }, m)));
    c.on('data', (d) => window.__data.push(d));
    // The BUNDLE group and m-lines of every subscriber offer (for the report on failure).
    window.__subOffers = [];
    const orig = c._onSubscriberOffer.bind(c);
    c._onSubscriberOffer = (m) => {
      window.__subOffers.push({ t: Date.now(), lines: m.sdp.split(/\r?\n/).filter((l) => /^(a=group|m=|a=mid)/.test(l)) });
      return orig(m);
    };
  });
  await page.waitForFunction(() => {
    const c = window.starling.client;
    return c.state === 'joined' && c.pub && c.pub.signalingState === 'stable' && c.pub.remoteDescription;
  }, null, { timeout: 90000 });
  return { name, browser, page };
}

// What a page sees: its own published tracks, the tiles, and the subscriber's inbound-rtp.
async function sample(b) {
  return b.page.evaluate(async () => {
    const c = window.starling.client;
    const mine = c.local.map((l) => ({ kind: l.track.kind, id: l.track.id }));
    const inbound = [];
    if (c.sub) {
      (await c.sub.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        inbound.push({ kind: s.kind, track: s.trackIdentifier, packets: s.packetsReceived || 0,
                       frames: s.framesDecoded || 0, width: s.frameWidth || 0, height: s.frameHeight || 0,
                       samples: s.totalSamplesReceived || 0, bytes: s.bytesReceived || 0 });
      });
    }
    const tiles = [...document.querySelectorAll('.tile:not(.local)')].map((el) => {
      const v = el.querySelector('video');
      return { id: el.dataset.participant, name: el.querySelector('.name').textContent,
               videoWidth: v.videoWidth, videoHeight: v.videoHeight };
    });
    const participants = [...c.participants.values()].map((p) => ({
      id: p.id, name: p.name, tracks: (p.tracks || []).map((t) => ({ id: t.id, kind: t.kind, simulcast: t.simulcast })),
    }));
    let sendRids = [];
    if (c.pub) {
      (await c.pub.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') {
          sendRids.push({ rid: s.rid, width: s.frameWidth || 0, height: s.frameHeight || 0,
                          active: s.active, limitation: s.qualityLimitationReason });
        }
      });
    }
    return { me: c.me.id, mine, inbound, tiles, participants, sendRids, layers: window.__layers,
             subOffers: window.__subOffers, subState: c.sub ? c.sub.connectionState : null,
             failedAnswers: window.__failedAnswers || null, answersAfterFailure: window.__answersAfterFailure };
  });
}

// Polls until every publisher named in `want` (participant name -> kinds) is being received
// and decoded by page b, with counters growing between two samples.
async function waitMedia(b, wantNames, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last = null;
  let result = null;
  while (Date.now() < end) {
    const s = await sample(b);
    const per = {};
    for (const p of s.participants) {
      if (!wantNames.includes(p.name)) continue;
      const r = { id: p.id };
      for (const t of p.tracks) {
        const now = s.inbound.find((i) => i.track === t.id);
        const before = last && last.inbound.find((i) => i.track === t.id);
        if (!now) continue;
        if (t.kind === 'video') {
          const tile = s.tiles.find((x) => x.id === p.id);
          r.video = { frames: now.frames, grew: !!before && now.frames > before.frames,
                      width: now.width, height: now.height, videoWidth: tile ? tile.videoWidth : 0 };
        } else {
          r.audio = { packets: now.packets, samples: now.samples,
                      grew: !!before && now.packets > before.packets && now.samples > before.samples };
        }
      }
      per[p.name] = r;
    }
    result = { per, tiles: s.tiles.map((t) => t.name) };
    const ok = wantNames.every((n) => {
      const r = per[n];
      if (!r || !r.video || !r.video.grew || !(r.video.videoWidth > 0)) return false;
      return n === 'aio' ? true : !!(r.audio && r.audio.grew);
    });
    if (ok) { result.ok = true; return result; }
    last = s;
    await sleep(1000);
  }
  result.ok = false;
  return result;
}

const area = (l) => (l.width || 0) * (l.height || 0);

// The publisher and subscriber PeerConnections of page b: states, and the selected ICE
// pair's STUN counters and last packet times (ms ago), from getStats.
async function legStates(b) {
  return b.page.evaluate(async () => {
    const c = window.starling.client;
    const one = async (pc) => {
      if (!pc) return null;
      const r = { conn: pc.connectionState, ice: pc.iceConnectionState };
      const st = await pc.getStats();
      const now = performance.timeOrigin + performance.now();
      st.forEach((s) => {
        if (s.type === 'transport') {
          r.dtls = s.dtlsState;
          const p = st.get(s.selectedCandidatePairId);
          if (p) {
            const remote = st.get(p.remoteCandidateId) || {};
            r.pair = { state: p.state, remote: `${remote.address}:${remote.port}`,
                       reqSent: p.requestsSent, respRecv: p.responsesReceived,
                       reqRecv: p.requestsReceived, respSent: p.responsesSent,
                       consentSent: p.consentRequestsSent,
                       lastRecvAgo: p.lastPacketReceivedTimestamp ? Math.round(now - p.lastPacketReceivedTimestamp) : null,
                       lastSentAgo: p.lastPacketSentTimestamp ? Math.round(now - p.lastPacketSentTimestamp) : null };
          }
        }
      });
      return r;
    };
    return { pub: await one(c.pub), sub: await one(c.sub) };
  });
}

(async () => {
  const browsers = [];
  try {
    const aio = process.env.E2E_AIORTC === '1';
    // The three start together (what takes time is the machine, not the order).
    const started = await Promise.allSettled([['A', nsA], ['B', nsB], ['C', nsC]].map(async ([n, ns]) => {
      const b = await launch(n, ns);
      browsers.push(b);
      note(`${n} joined and published`);
      return b;
    }));
    const failedLaunch = started.find((x) => x.status === 'rejected');
    if (failedLaunch) throw failedLaunch.reason;
    const [A, B, C] = started.map((x) => x.value);

    // What each browser publishes: audio + video with three simulcast encodings.
    const pubs = {};
    for (const b of browsers) {
      const s = await sample(b);
      pubs[b.name] = { id: s.me, mine: s.mine };
    }
    step('published', { pubs });

    // 1 + 5 (browser side): media from everyone decoded everywhere.
    const others = (n) => ['A', 'B', 'C'].filter((x) => x !== n).concat(aio ? ['aio'] : []);
    const media = {};
    for (const b of browsers) media[b.name] = await waitMedia(b, others(b.name), 60000);
    const cs = await sample(C);
    step('media', { media, injected: { failedAnswers: cs.failedAnswers, answersAfterFailure: cs.answersAfterFailure } });

    // What Chromium sends: rids with their sizes (three layers at 1280x720).
    const a = await sample(A);
    step('simulcast', { sendRids: a.sendRids });

    // 2: chat over the data channel, typed into A's page. A message that does not arrive is
    // recorded with the state of every channel on its way (and a second message tells a lost
    // message from a dead path); the steps after it still run.
    const typed = async (text) => {
      await A.page.fill('#chat-input', text);
      await A.page.click('#chat-form button');
    };
    const arrives = (b, text, ms) => b.page.waitForFunction((t) => document.getElementById('chat-log').textContent.includes(t),
                                                          text, { timeout: ms }).then(() => true, () => false);
    const channels = (b) => b.page.evaluate(() => {
      const c = window.starling.client;
      const pcState = (pc) => pc ? { ice: pc.iceConnectionState, sctp: pc.sctp ? pc.sctp.state : null } : null;
      return { pubData: c.pubData ? c.pubData.readyState : null, subData: c.subData ? c.subData.readyState : null,
               pub: pcState(c.pub), sub: pcState(c.sub), state: c.state, data: window.__data.slice(-3) };
    });
    await typed('hello from A');
    const via = await A.page.evaluate(() => (window.starling.client.pubData || {}).readyState);
    const got = {};
    const lost = {};
    for (const b of [B, C]) {
      const ok = await arrives(b, 'hello from A', 15000);
      // The client's `data` event says how it came: 'dc' (subscriber data channel) or 'ws'.
      got[b.name] = await b.page.evaluate((aId) => window.__data.filter((d) => d.payload === 'hello from A')
        .map((d) => ({ via: d.via, fromA: d.from === aId })), pubs.A.id);
      if (!ok) lost[b.name] = await channels(b).catch((e) => ({ error: String(e) }));
    }
    if (Object.keys(lost).length) {
      lost.A = await channels(A).catch((e) => ({ error: String(e) }));
      try {
        lost.sfu = inSrv('curl', '-sf', 'http://127.0.0.1:9642/metrics').split('\n')
          .filter((l) => /^sfu_(data|bus|participants)/.test(l));
      } catch (e) {
        lost.sfu = `metrics: ${e.message}`;
      }
      await typed('second message from A');
      for (const n of Object.keys(lost)) {
        const b = { A, B, C }[n];
        if (b && n !== 'A') lost[n].secondArrived = await arrives(b, 'second message from A', 10000);
      }
      note(`chat lost: ${JSON.stringify(lost)}`);
    }
    step('chat', { senderChannel: via, receivers: got, lost });

    // 4a: bandwidth. The simulcast layers C gets of A's and B's video (the SFU's latest
    // `layer` message for each; "score" = the sum of their areas), then with C's downlink
    // limited by tbf on p-C (the bridge side of C's veth), then with the limit lifted.
    const simTracks = ['A', 'B'].map((n) => pubs[n].mine.find((m) => m.kind === 'video').id);
    const aVideo = simTracks[0];
    const current = async () => {
      const smp = await sample(C);
      const cur = {};
      for (const l of smp.layers) if (simTracks.includes(l.track_id)) cur[l.track_id] = l;
      const score = simTracks.reduce((a, t) => a + area(cur[t] || {}), 0);
      const inA = smp.inbound.find((x) => x.track === aVideo) || {};
      return { score, frames: inA.frames || 0, decoded: `${inA.width || 0}x${inA.height || 0}`,
               desc: simTracks.map((t) => cur[t] ? `${cur[t].rid} ${cur[t].width}x${cur[t].height}` : '-').join(' + ') };
    };
    const lowest = 2 * 320 * 180;
    // Until pred holds for two samples a second apart (frames compared between them).
    const waitFor = async (pred, ms) => {
      const end = Date.now() + ms;
      let prev = await current();
      for (;;) {
        await sleep(1000);
        const c = await current();
        if (pred(c, prev)) return Object.assign(c, { ok: true });
        if (Date.now() > end) return Object.assign(c, { ok: false });
        prev = c;
      }
    };
    // The estimate of C's leg starts at 300 kbps and climbs through the SFU's probes, so C may
    // still be on the lowest layers when this step starts: then a first limit-and-lift cycle,
    // until C gets more than the lowest layers.
    // The SFU never pauses video for lack of bandwidth: the limit has to carry the lowest
    // layers. C pauses aiortc's (single-layer) video through the page's client
    // (`subscription` paused), so what is left at the lowest is A's and B's l layers and the
    // audio, which 500 kbit/s carries; above-lowest layers do not fit.
    if (aio) {
      await C.page.evaluate(() => {
        const c = window.starling.client;
        for (const p of c.participants.values()) {
          if (p.name !== 'aio') continue;
          for (const t of p.tracks || []) if (t.kind === 'video') c.setSubscription(t.id, { paused: true });
        }
      });
    }
    const limit = () => inSrv('tc', 'qdisc', 'add', 'dev', 'p-C', 'root', 'tbf', 'rate',
                              process.env.E2E_LIMIT || '500kbit', 'burst', '20kb', 'latency', '200ms');
    const lift = () => inSrv('tc', 'qdisc', 'del', 'dev', 'p-C', 'root');
    // Limit-and-lift cycles until one shows the whole story: C above the lowest layers, down
    // to the lowest under the limit (still decoding), back up after the lift. The first cycle
    // may start on the lowest layers (the estimate of C's leg starts at 300 kbps and the
    // probes have not lifted it yet); its lift is what gets C above them.
    const start = await current();
    note(`C gets ${start.desc}`);
    const cycles = [];
    let before = start;
    let limited = null;
    let climbed = null;
    for (let cycle = 0; cycle < 4; cycle++) {
      before = await current();
      limit();
      limited = await waitFor((c, p) => c.score <= lowest && c.score > 0 && c.frames > p.frames, 30000);
      lift();
      climbed = await waitFor((c, p) => c.score > limited.score && c.frames > p.frames, 30000);
      cycles.push(`${before.desc} -> limited ${limited.desc} -> free ${climbed.desc}`);
      note(`cycle ${cycle}: ${cycles[cycles.length - 1]}`);
      if (before.score > lowest && limited.ok && climbed.ok) break;
    }
    step('bandwidth', { start, before, limited, climbed, cycles });

    if (process.env.E2E_SCREENSHOTS) await C.page.screenshot({ path: `${process.env.E2E_TMP}/C.png` });

    // 7: the SFU stalls (SIGSTOP, 6 s: longer than its node key's 4 s TTL, so signal takes
    // it for dead, and there is no other node). Signal waits `failover_wait` for it instead
    // of ending the sessions: nobody is disconnected or told to reconnect, and everyone
    // decodes everyone again once it runs. After the bandwidth step: the stall drops
    // thousands of packets, which TWCC reports to the publishers, whose estimates (and so
    // their upper layers) take a while to come back.
    if (process.env.E2E_SFU_PID) {
      const events = ['reconnect', 'failed', 'disconnected', 'reconnecting'];
      for (const b of browsers) {
        await b.page.evaluate((evs) => {
          window.__stallEvents = [];
          for (const e of evs) window.starling.client.on(e, () => window.__stallEvents.push(e));
        }, events);
      }
      const pid = Number(process.env.E2E_SFU_PID);
      process.kill(pid, 'SIGSTOP');
      note('SFU stopped');
      try { await sleep(6000); } finally { process.kill(pid, 'SIGCONT'); }
      note('SFU running again');
      const after = {};
      for (const b of browsers) after[b.name] = await waitMedia(b, others(b.name).filter((n) => n !== 'aio'), 30000);
      const seen = {};
      for (const b of browsers) {
        seen[b.name] = await b.page.evaluate(() => ({ events: window.__stallEvents, state: window.starling.client.state }));
      }
      // A leg that did not come back: what each of the page's PeerConnections says of its
      // ICE pair and DTLS (who stopped answering whom).
      const legs = {};
      for (const b of browsers) if (!after[b.name].ok) legs[b.name] = await legStates(b).catch((e) => ({ error: String(e) }));
      step('stall', { after, seen, legs });
    }


    // 3: B leaves through its Leave button; A and C lose its tile; the SFU drops it.
    const bId = pubs.B.id;
    const countBefore = inSrv('redis-cli', '-p', '6379', 'hlen', 'starling:room:e2e:participants').trim();
    // The page's own Leave button (a DOM click: with four tiles the button may sit under the
    // tile grid, which playwright's actionability check refuses).
    await B.page.evaluate(() => document.getElementById('leave').click());
    const tilesGone = {};
    for (const b of [A, C]) {
      await b.page.waitForFunction((id) => !document.querySelector(`.tile[data-participant="${id}"]`),
                                   bId, { timeout: 15000 });
      tilesGone[b.name] = (await sample(b)).tiles.map((t) => t.name);
    }
    let countAfter = countBefore;
    let bInRedis = '1';
    for (let i = 0; i < 50; i++) {
      countAfter = inSrv('redis-cli', '-p', '6379', 'hlen', 'starling:room:e2e:participants').trim();
      bInRedis = inSrv('redis-cli', '-p', '6379', 'hexists', 'starling:room:e2e:participants', bId).trim();
      if (bInRedis === '0') break;
      await sleep(200);
    }
    const othersInRedis = [pubs.A.id, pubs.C.id].map((id) =>
      Number(inSrv('redis-cli', '-p', '6379', 'hexists', 'starling:room:e2e:participants', id).trim())).reduce((a, b) => a + b, 0);
    const metrics = inSrv('curl', '-sf', 'http://127.0.0.1:9642/metrics');
    const gauge = (n) => { const m = metrics.match(new RegExp(`^${n} (\\S+)`, 'm')); return m ? Number(m[1]) : null; };
    for (const b of [A, C]) {
      const s = await sample(b);
      note(`${b.name} sub ${s.subState}; offers ${JSON.stringify(s.subOffers.slice(-2))}`);
    }
    step('leave', { tilesGone, countBefore: Number(countBefore), countAfter: Number(countAfter),
                    bInRedis: Number(bInRedis), othersInRedis, sfuParticipants: gauge('sfu_participants'),
                    bState: await B.page.evaluate(() => window.starling.client.state) });
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.stack || e);
  }
  for (const b of browsers) {
    try { await b.browser.close(); } catch (e) { /* already gone */ }
  }
  out.seconds = (Date.now() - t0) / 1000;
  console.log(JSON.stringify(out, null, 1));
})();
