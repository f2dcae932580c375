// Drives Debian's Chromium (playwright-core) through starling-signal's demo page, run by
// test_signal_chromium.sh inside the browser-side network namespace:
//   node chromium_demo.js http://10.200.0.1:PORT
// Two pages (Alice, Bob) join one room through the page's own form and client library:
// dev token, join, camera+microphone published with h/m/l simulcast (the scripted SFU test
// double answers the offer; no media flows), tiles for both, chat over the WebSocket `data`
// fallback, mute reaching the other side, the stats overlay, a dropped WebSocket resumed, and
// leave; then a third page (Carol) whose answers the node "loses" once each way, and a fourth
// (Dave) without a camera. Prints one JSON object with what it saw; the shell script judges it.
const { chromium } = require('playwright-core');

const base = process.argv[2];
const out = { steps: [] };
const step = (name, data) => out.steps.push(Object.assign({ name }, data || {}));

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
           '--autoplay-policy=no-user-gesture-required',
           `--unsafely-treat-insecure-origin-as-secure=${base}`],
  });
  const open = async (name, publishedWithin = 15000, initScript = null) => {
    const ctx = await browser.newContext();
    if (initScript) await ctx.addInitScript(initScript);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => step('pageerror', { who: name, error: String(e) }));
    page.on('console', (m) => { if (m.type() === 'error') step('console', { who: name, text: m.text() }); });
    await page.goto(`${base}/?room=e2e-room&name=${name}&autojoin=1`);
    await page.waitForFunction(() => window.starling && window.starling.client &&
                                     window.starling.client.state === 'joined', null, { timeout: 15000 });
    // Published: the answer applied, three simulcast encodings kept.
    await page.waitForFunction(() => {
      const c = window.starling.client;
      return c.pub && c.pub.signalingState === 'stable' && c.pub.remoteDescription;
    }, null, { timeout: publishedWithin });
    return page;
  };
  try {
    const alice = await open('Alice');
    const a = await alice.evaluate(() => {
      const c = window.starling.client;
      const video = c.pub.getSenders().find((s) => s.track && s.track.kind === 'video');
      return {
        id: c.me.id, displayName: c.me.name, room: c.roomInfo.name,
        rids: video ? video.getParameters().encodings.map((e) => e.rid) : [],
        kinds: c.pub.getSenders().filter((s) => s.track).map((s) => s.track.kind).sort(),
        lobbyHidden: document.getElementById('lobby').hidden,
        tiles: [...document.querySelectorAll('.tile .name')].map((n) => n.textContent),
        localVideo: !!document.querySelector('.tile.local video').srcObject,
      };
    });
    step('alice joined and published', a);

    const bob = await open('Bob');
    await alice.waitForFunction(() => document.querySelectorAll('.tile').length === 2, null, { timeout: 10000 });
    const tilesA = await alice.evaluate(() => [...document.querySelectorAll('.tile .name')].map((n) => n.textContent));
    const tilesB = await bob.evaluate(() => [...document.querySelectorAll('.tile .name')].map((n) => n.textContent));
    step('tiles', { alice: tilesA, bob: tilesB });

    // Chat: typed into Bob's page, shown in Alice's.
    await bob.fill('#chat-input', 'hello from Bob');
    await bob.click('#chat-form button');
    await alice.waitForFunction(() => document.getElementById('chat-log').textContent.includes('hello from Bob'),
                                null, { timeout: 10000 });
    const via = await bob.evaluate(() => window.starling.client.sendData('second line'));
    await alice.waitForFunction(() => document.getElementById('chat-log').textContent.includes('second line'),
                                null, { timeout: 10000 });
    step('chat', { via });

    // Mute: Alice mutes her microphone; Bob's tile for Alice shows it.
    await alice.click('#mute-mic');
    await bob.waitForFunction((id) => {
      const t = document.querySelector(`.tile[data-participant="${id}"]`);
      return t && t.classList.contains('muted');
    }, a.id, { timeout: 10000 });
    const micLabel = await alice.textContent('#mute-mic');
    step('mute', { micLabel });

    // Stats overlay.
    await alice.click('#stats-toggle');
    await alice.waitForFunction(() => {
      const s = document.querySelector('.tile.local .stats');
      return s && !s.hidden && s.textContent.includes('RTT');
    }, null, { timeout: 10000 });
    await alice.waitForTimeout(1500); // a second stats sample gives bitrates
    step('stats', { text: await alice.textContent('.tile.local .stats') });
    if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, '-call.png') });

    // Resume: Alice's WebSocket drops; the client reconnects and resumes the same participant.
    await alice.evaluate(() => {
      window.__resumed = false;
      window.starling.client.on('resumed', () => { window.__resumed = true; });
      window.starling.client.ws.close(4000, 'test drop');
    });
    await alice.waitForFunction(() => window.__resumed && window.starling.client.state === 'joined',
                                null, { timeout: 15000 });
    const after = await alice.evaluate(() => window.starling.client.me.id);
    await bob.evaluate(() => window.starling.client.sendData('after resume'));
    await alice.waitForFunction(() => document.getElementById('chat-log').textContent.includes('after resume'),
                                null, { timeout: 10000 });
    step('resume', { sameId: after === a.id });

    // Leave: Bob leaves, Alice's tile for Bob goes away.
    await bob.click('#leave');
    await alice.waitForFunction(() => document.querySelectorAll('.tile').length === 1, null, { timeout: 10000 });
    step('leave', { bobState: await bob.evaluate(() => window.starling.client.state) });
    if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT });

    // Lost answers (the node runs with --lossy-name Carol): Carol's first publisher answer
    // never comes, so her client makes the offer again (after 10 s); the answer to her
    // subscriber offer is "lost" once, so the node sends the same offer (same offer_id)
    // again, and the client answers it again with the answer it already applied.
    const t0 = Date.now();
    const carol = await open('Carol', 30000);
    const publishedAfter = Date.now() - t0;
    await carol.waitForFunction(() => {
      const c = window.starling.client;
      return c.sub && c.sub.signalingState === 'stable' && c.sub.remoteDescription;
    }, null, { timeout: 15000 });
    await carol.waitForTimeout(1000); // the repeated offer and its answer
    step('lost answers', Object.assign({ publishedAfter }, await carol.evaluate(() => {
      const c = window.starling.client;
      return { id: c.me.id, subState: c.sub.signalingState, pubState: c.pub.signalingState,
               sentAnswer: (c.sub._starlingLastAnswer || {}).msg };
    })));

    // No camera (getUserMedia with video fails with NotFoundError, as on a machine without
    // one): Dave still joins, publishing his microphone only, and the page says so.
    const dave = await open('Dave', 15000, () => {
      const orig = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (c) => (c && c.video
        ? Promise.reject(new DOMException('Requested device not found', 'NotFoundError'))
        : orig(c));
    });
    const noCamera = await dave.evaluate(() => ({
      kinds: window.starling.client.local.map((l) => l.track.kind),
      notice: document.getElementById('notice').hidden ? null : document.getElementById('notice').textContent,
      camDisabled: document.getElementById('mute-cam').disabled,
      micDisabled: document.getElementById('mute-mic').disabled,
    }));
    step('no camera', noCamera);

    // Missed while away: Dave's WebSocket drops and he stays away ~3 s (his reconnect
    // backoff); meanwhile Carol leaves. Dave resumes, and the `joined` of the resume tells him
    // who is there now: Carol's tile goes although he never got her participant_left.
    await carol.waitForFunction(() => window.starling.client.participants.size >= 2, null, { timeout: 10000 });
    const carolId = await carol.evaluate(() => window.starling.client.me.id);
    await dave.waitForFunction((id) => !!document.querySelector(`.tile[data-participant="${id}"]`), carolId,
                               { timeout: 10000 });
    await dave.evaluate(() => {
      const c = window.starling.client;
      window.__resumed = false;
      c.on('resumed', () => { window.__resumed = true; });
      c.backoff = 3000;
      c.ws.close(4000, 'test drop');
    });
    await carol.evaluate(() => document.getElementById('leave').click());
    await dave.waitForFunction(() => window.__resumed && window.starling.client.state === 'joined',
                               null, { timeout: 20000 });
    await dave.waitForTimeout(300);
    step('missed while away', await dave.evaluate((id) => ({
      carolTile: !!document.querySelector(`.tile[data-participant="${id}"]`),
      carolKnown: window.starling.client.participants.has(id),
      others: window.starling.client.participants.size,
    }), carolId));
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.stack || e);
  }
  console.log(JSON.stringify(out, null, 1));
  await browser.close();
})();
