// The demo page: join a room with a dev token (GET /token, dev_mode only), publish camera and
// microphone with simulcast, a tile per participant, mute buttons, chat, stats overlay.
// All protocol work is in starling-client.js; this file is only UI. `window.starling` exposes
// the live client to tests.
import { StarlingClient } from '/starling-client.js';

const $ = (id) => document.getElementById(id);
const tiles = new Map(); // participant id -> {el, video, stream, name}
let client = null;
let localStream = null;
let statsOn = false;
let statsTimer = null;

window.starling = { StarlingClient, get client() { return client; }, tiles };

function status(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = `status ${cls || ''}`;
}

function initials(name) {
  return (name || '?').split(/\s+/).map((w) => w[0]).join('').slice(0, 2).toUpperCase();
}

function tileFor(id, name, local) {
  let t = tiles.get(id);
  if (t) {
    if (name) t.el.querySelector('.name').textContent = name;
    return t;
  }
  const el = $('tile-template').content.firstElementChild.cloneNode(true);
  el.dataset.participant = id;
  el.classList.add('no-video');
  if (local) el.classList.add('local');
  el.querySelector('.name').textContent = name + (local ? ' (you)' : '');
  el.querySelector('.avatar').textContent = initials(name);
  const video = el.querySelector('video');
  if (local) video.muted = true;
  $('tiles').appendChild(el);
  t = { el, video, stream: null, name, local };
  tiles.set(id, t);
  return t;
}

function removeTile(id) {
  const t = tiles.get(id);
  if (!t) return;
  t.el.remove();
  tiles.delete(id);
}

function attach(t, stream) {
  t.stream = stream;
  t.video.srcObject = stream;
  const hasVideo = () => stream.getVideoTracks().some((v) => v.readyState === 'live');
  t.el.classList.toggle('no-video', !hasVideo());
  stream.onaddtrack = () => t.el.classList.toggle('no-video', !hasVideo());
  stream.onremovetrack = () => t.el.classList.toggle('no-video', !hasVideo());
}

function chatLine(who, text, system) {
  const li = document.createElement('li');
  if (system) {
    li.className = 'system';
    li.textContent = text;
  } else {
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who;
    li.append(w, document.createTextNode(text));
  }
  $('chat-log').appendChild(li);
  li.scrollIntoView({ block: 'end' });
}

function nameOf(id) {
  if (client && client.me && id === client.me.id) return client.me.name;
  const p = client && client.participants.get(id);
  return p ? p.name || p.identity : id;
}

async function fetchToken(room, name, identity) {
  const q = new URLSearchParams({ room, name, identity });
  const r = await fetch(`/token?${q}`);
  if (!r.ok) throw new Error(`GET /token: ${r.status} (is dev_mode on?)`);
  return (await r.json()).token;
}

function fmtRate(bps) {
  if (bps === null || bps === undefined) return '-';
  return bps > 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`;
}

async function renderStats() {
  if (!client) return;
  const s = await client.getStats();
  const rtt = s.candidateRtt ?? s.rtt;
  const me = client.me && tiles.get(client.me.id);
  if (me) {
    const lines = [`RTT ${rtt ?? '-'} ms`];
    for (const o of s.publisher) {
      if (o.remote) lines.push(`  ${o.kind} loss ${(o.fractionLost * 100).toFixed(1)}%`);
      else lines.push(`${o.kind}${o.rid ? ' ' + o.rid : ''}: ${fmtRate(o.bitrate)}` +
                      (o.width ? ` ${o.width}x${o.height}` : '') +
                      (o.limitation && o.limitation !== 'none' ? ` (${o.limitation})` : ''));
    }
    me.el.querySelector('.stats').textContent = lines.join('\n');
  }
  for (const [, t] of tiles) {
    if (t.local) continue;
    if (!t.stream) {
      t.el.querySelector('.stats').textContent = `no media yet\nRTT ${rtt ?? '-'} ms`;
      continue;
    }
    const ids = t.stream.getTracks().map((x) => x.id);
    const lines = [];
    for (const i of s.subscriber.filter((x) => ids.includes(x.trackId))) {
      const lost = i.packetsReceived ? (100 * i.packetsLost) / (i.packetsLost + i.packetsReceived) : 0;
      lines.push(`${i.kind}: ${fmtRate(i.bitrate)} loss ${lost.toFixed(1)}%` +
                 (i.layer ? ` layer ${i.layer.rid} ${i.layer.width}x${i.layer.height}` :
                  i.width ? ` ${i.width}x${i.height}` : ''));
    }
    lines.push(`RTT ${rtt ?? '-'} ms`);
    t.el.querySelector('.stats').textContent = lines.join('\n');
  }
}

function toggleStats() {
  statsOn = !statsOn;
  $('stats-toggle').classList.toggle('on', statsOn);
  for (const t of tiles.values()) t.el.querySelector('.stats').hidden = !statsOn;
  clearInterval(statsTimer);
  if (statsOn) {
    renderStats();
    statsTimer = setInterval(renderStats, 1000);
  }
}

function wire(c) {
  c.on('state', (s) => status(s === 'joined' ? 'connected' : s, s));
  c.on('joined', (m) => {
    for (const p of m.participants) tileFor(p.id, p.name || p.identity, false);
    chatLine(null, `You joined ${m.room.name} as ${m.participant.name}`, true);
  });
  c.on('resumed', () => chatLine(null, 'Reconnected (session resumed)', true));
  c.on('reconnect', (r) => chatLine(null, `Media moving to another server (${r.reason})`, true));
  c.on('participant_joined', (p) => {
    tileFor(p.id, p.name || p.identity, false);
    chatLine(null, `${p.name || p.identity} joined`, true);
  });
  c.on('participant_left', ({ id, participant, reason }) => {
    removeTile(id);
    chatLine(null, `${participant ? participant.name : id} left (${reason})`, true);
  });
  c.on('track', ({ participantId, stream }) => {
    if (!participantId || !stream) return;
    const t = tileFor(participantId, nameOf(participantId), false);
    if (t.stream !== stream) attach(t, stream);
  });
  c.on('track_muted', ({ participantId, muted, trackId }) => {
    const p = c.participants.get(participantId);
    const tr = p && (p.tracks || []).find((x) => x.id === trackId);
    const t = tiles.get(participantId);
    if (t && (!tr || tr.kind === 'audio')) t.el.classList.toggle('muted', muted);
  });
  c.on('active_speakers', (speakers) => {
    const loud = new Set(speakers.filter((s) => s.level > 0.05).map((s) => s.participant_id));
    for (const [id, t] of tiles) t.el.classList.toggle('speaking', loud.has(id));
  });
  c.on('data', ({ from, payload }) => chatLine(nameOf(from), payload));
  c.on('left', ({ reason }) => {
    chatLine(null, `You are out of the room (${reason})`, true);
    status('left', 'left');
  });
  c.on('failed', (e) => {
    status('failed', 'failed');
    chatLine(null, `Connection failed: ${e.message || e.code}`, true);
  });
  c.on('error', (e) => console.warn('starling:', e));
}

async function join(ev) {
  ev.preventDefault();
  const room = $('room').value.trim();
  const name = $('name').value.trim() || 'Guest';
  const identity = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24)}-${Math.random().toString(36).slice(2, 8)}`;
  $('lobby-error').hidden = true;
  $('join').disabled = true;
  try {
    client = new StarlingClient({
      room, simulcast: $('simulcast').checked,
      getToken: () => fetchToken(room, name, identity),
      log: (...a) => console.log('starling:', ...a),
    });
    wire(client);
    const joined = await client.connect();
    $('lobby').hidden = true;
    $('call').hidden = false;
    $('room-label').textContent = `room: ${joined.room.name}`;
    const me = tileFor(joined.participant.id, name, true);
    if ($('publish').checked) {
      const media = await openMedia();
      localStream = media.stream;
      showNotice(media.notice);
      if (localStream) {
        attach(me, localStream);
        await client.publish(localStream, { simulcast: $('simulcast').checked });
      }
    }
    updateControls();
  } catch (e) {
    $('lobby-error').textContent = e.message || String(e);
    $('lobby-error').hidden = false;
    $('join').disabled = false;
  }
}

// Camera and microphone, or what of them can be had: a missing camera, one in use by another
// program or a refused permission must not keep anyone out of the room. Falls back to audio
// only, then video only, then watching only; `notice` says which (null when both work).
async function openMedia() {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
  const gum = (c) => navigator.mediaDevices.getUserMedia(c);
  let both;
  try {
    return { stream: await gum({ audio: true, video }), notice: null };
  } catch (e) {
    both = e;
  }
  const why = `${both.name || 'Error'}: ${both.message || both}`;
  try {
    return { stream: await gum({ audio: true }), notice: `Camera unavailable (${why}): audio only.` };
  } catch { /* no microphone either, or refused */ }
  try {
    return { stream: await gum({ video }), notice: `Microphone unavailable (${why}): video only.` };
  } catch { /* neither */ }
  return { stream: null, notice: `No camera or microphone (${why}): you are watching only.` };
}

function showNotice(text) {
  $('notice').textContent = text || '';
  $('notice').hidden = !text;
}

function updateControls() {
  const mic = client && client.isMuted('audio');
  const cam = client && client.isMuted('video');
  $('mute-mic').classList.toggle('off', !!mic);
  $('mute-mic').textContent = mic ? 'Mic off' : 'Mic';
  $('mute-cam').classList.toggle('off', !!cam);
  $('mute-cam').textContent = cam ? 'Camera off' : 'Camera';
  // Nothing to mute without the device.
  const has = (kind) => !!(client && client.local.some((l) => l.track.kind === kind));
  $('mute-mic').disabled = !has('audio');
  $('mute-cam').disabled = !has('video');
  const me = client && client.me && tiles.get(client.me.id);
  if (me) {
    me.el.classList.toggle('muted', !!mic);
    me.el.classList.toggle('no-video', !!cam);
  }
}

$('join-form').addEventListener('submit', join);
$('chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text || !client) return;
  client.sendData(text);
  chatLine(client.me ? `${client.me.name} (you)` : 'you', text);
  $('chat-input').value = '';
});
$('mute-mic').addEventListener('click', () => {
  client.setMuted('audio', !client.isMuted('audio'));
  updateControls();
});
$('mute-cam').addEventListener('click', () => {
  client.setMuted('video', !client.isMuted('video'));
  updateControls();
});
$('stats-toggle').addEventListener('click', toggleStats);
$('leave').addEventListener('click', () => {
  client.leave();
  for (const id of [...tiles.keys()]) removeTile(id);
  $('call').hidden = true;
  $('lobby').hidden = false;
  showNotice(null);
  $('join').disabled = false;
});

// ?room=NAME&name=N prefills the form; &autojoin=1 joins at once (for links and tests).
const q = new URLSearchParams(location.search);
if (q.get('room')) $('room').value = q.get('room');
if (q.get('name')) $('name').value = q.get('name');
if (q.get('publish') === '0') $('publish').checked = false;
if (q.get('autojoin') === '1') $('join-form').requestSubmit();
