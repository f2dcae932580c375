// Two headless Chromium pages (Debian's chromium, driven by playwright-core) on starling-signal's
// demo page, for tests/integration/test_cluster_chromium.sh (run inside the browser-side network
// namespace):   node chromium_pages.js ROOM URL_ALICE URL_BOB
// Alice's page is served by (and its WebSocket goes to) the first signal process, Bob's by the
// second. Both join ROOM and publish the fake camera (320x180) and microphone (simulcast). Every
// 250 ms it prints, per page, one JSON line:
//   {"ev":"tick","who","t" (unix s),"state","id","gen" (subscriber PeerConnections seen so far),
//    "frames" (video frames decoded on the current subscriber PeerConnection),
//    "reconnects":[unix s...], "pub" / "sub" (connection states)}
// and {"ev":"error",...} on page errors. Reads `quit` on stdin: closes the browser and exits.
const { chromium } = require('playwright-core');
const readline = require('readline');

const [room, urlA, urlB] = process.argv.slice(2);
const emit = (o) => process.stdout.write(JSON.stringify(Object.assign({ t: Date.now() / 1000 }, o)) + '\n');

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
           '--autoplay-policy=no-user-gesture-required',
           `--unsafely-treat-insecure-origin-as-secure=${urlA},${urlB}`],
  });
  let quitting = false;
  const quit = async () => {
    if (quitting) return;
    quitting = true;
    await browser.close().catch(() => {});
    process.exit(0);
  };
  readline.createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim() === 'quit') quit(); })
    .on('close', quit);

  const pages = {};
  for (const [who, base] of [['alice', urlA], ['bob', urlB]]) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on('pageerror', (e) => emit({ ev: 'error', who, error: String(e) }));
    // A small camera (320x180, 15 fps; the page asks for 720p): the machine running this is
    // shared, and two pages encoding three 720p layers each would only measure its load.
    await page.addInitScript(() => {
      const md = navigator.mediaDevices;
      const gum = md.getUserMedia.bind(md);
      md.getUserMedia = (c) => gum(Object.assign({}, c, c && c.video ?
        { video: { width: 320, height: 180, frameRate: 15 } } : {}));
    });
    await page.goto(`${base}/?room=${room}&name=${who}&autojoin=1`);
    await page.waitForFunction(() => window.starling && window.starling.client, null, { timeout: 30000 });
    await page.evaluate(() => {
      window.__reconnects = [];
      window.__gen = 0;
      window.__sub = null;
      window.starling.client.on('reconnect', () => window.__reconnects.push(Date.now() / 1000));
    });
    pages[who] = page;
    emit({ ev: 'page', who });
  }
  for (;;) {
    for (const [who, page] of Object.entries(pages)) {
      try {
        const s = await page.evaluate(async () => {
          const c = window.starling.client;
          if (c.sub && c.sub !== window.__sub) {
            window.__sub = c.sub;
            window.__gen++;
          }
          let frames = 0;
          if (c.sub) {
            const st = await c.sub.getStats();
            st.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0; });
          }
          return { state: c.state, id: c.me && c.me.id, gen: window.__gen, frames,
                   reconnects: window.__reconnects, pub: c.pub && c.pub.connectionState,
                   sub: c.sub && c.sub.connectionState,
                   pubSignaling: c.pub && c.pub.signalingState,
                   pubGathering: c.pub && c.pub.iceGatheringState };
        });
        emit(Object.assign({ ev: 'tick', who }, s));
      } catch (e) {
        if (!quitting) emit({ ev: 'error', who, error: String(e) });
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
})().catch((e) => { emit({ ev: 'error', who: 'driver', error: String(e && e.stack || e) }); process.exit(1); });
