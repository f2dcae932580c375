// starling-client.js — a small browser client for Starling's signalling protocol
// (docs/signalling.md). Plain ES module, no build step, no dependencies. The demo page
// (app.js) and the browser tests drive the same code.
//
//   import { StarlingClient } from '/starling-client.js';
//   const c = new StarlingClient({ url: 'ws://host:8080/ws', room: 'demo',
//                                  getToken: async () => token });
//   c.on('participant_joined', p => ...);  c.on('track', ({participantId, track, stream}) => ...);
//   await c.connect();                     // resolves with the `joined` message
//   await c.publish(await navigator.mediaDevices.getUserMedia({audio: true, video: true}));
//   c.sendData('hello');                   // data channel, or `data` over the WebSocket
//
// Two PeerConnections per participant: `publisher` (we offer) and `subscriber` (the SFU
// offers), so renegotiation never collides. On a lost WebSocket the client reconnects with
// backoff and resumes its participant (media keeps flowing meanwhile); on `reconnect` from
// the server (the room moved to another SFU node) it rebuilds both PeerConnections and
// publishes again.

const PUBLISHER_ANSWER_TIMEOUT_MS = 10000;

const SIMULCAST = [
  { rid: 'h', maxBitrate: 1_500_000 },
  { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
];

export class StarlingClient extends EventTarget {
  constructor(opts) {
    super();
    if (!opts || !opts.room) throw new Error('StarlingClient: room is required');
    this.opts = Object.assign({ simulcast: true, maxBackoffMs: 5000 }, opts);
    this.url = opts.url || StarlingClient.defaultUrl();
    this.room = opts.room;
    this.state = 'idle';          // idle, connecting, joined, reconnecting, left, failed
    this.me = null;               // {id, identity, name}
    this.roomInfo = null;         // {name, sid}
    this.sessionToken = null;
    this.iceServers = [];
    this.participants = new Map();// id -> participant_info
    this.local = [];              // [{track, stream, source, name, transceiver}]
    this.pub = null;
    this.sub = null;
    this.pubData = null;          // our data channel on the publisher pc
    this.subData = null;
    this.ws = null;
    this.backoff = 250;
    this.rtt = null;
    this.layers = new Map();      // track id -> {rid, width, height}
    this._joinWaiters = null;
    this._answerWaiters = [];
    this._reconnectTimer = null;
    this._pingTimer = null;
    this._prevStats = new Map();
    this._pendingRemote = { publisher: [], subscriber: [] };
  }

  static defaultUrl() {
    const l = globalThis.location;
    return `${l.protocol === 'https:' ? 'wss' : 'ws'}://${l.host}/ws`;
  }

  on(type, fn) {
    this.addEventListener(type, (e) => fn(e.detail));
    return this;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _log(...a) {
    if (this.opts.log) this.opts.log(...a);
  }

  async _token() {
    if (this.opts.getToken) return await this.opts.getToken();
    return this.opts.token;
  }

  // ---------------------------------------------------------------------------------------
  // WebSocket: connect, join/resume, reconnect.
  connect() {
    if (this.state === 'joined') return Promise.resolve(this._joined);
    this._setState('connecting');
    return new Promise((resolve, reject) => {
      this._joinWaiters = { resolve, reject };
      this._open();
    });
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._emit('state', s);
  }

  async _open() {
    let token;
    try {
      token = await this._token();
    } catch (e) {
      this._scheduleReconnect(`token: ${e.message || e}`);
      return;
    }
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const join = { type: 'join', room: this.room, token, rid: 'join' };
      if (this.me && this.sessionToken) {
        join.resume = { participant_id: this.me.id, session_token: this.sessionToken };
      }
      this._send(join);
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      this._onMessage(m).catch((e) => this._emit('error', { code: 'client', message: String(e) }));
    };
    ws.onclose = (ev) => this._onClose(ws, ev);
  }

  _send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(m));
      return true;
    }
    return false;
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this._pingTimer);
    this._emit('disconnected', { code: ev.code, reason: ev.reason });
    if (this.state === 'left' || this.state === 'failed' || this.state === 'idle') return;
    if (ev.code === 1008 && this._lastError && this._lastError.code === 'unauthorized') {
      this._fail(this._lastError);
      return;
    }
    // 1012: this signal process is restarting; reconnect at once (another one will answer).
    this._scheduleReconnect(ev.code === 1012 ? 'service restart' : `closed ${ev.code}`,
                            ev.code === 1012 ? 0 : undefined);
  }

  _scheduleReconnect(why, delay) {
    if (this.state === 'left' || this.state === 'failed') return;
    this._setState('reconnecting');
    const d = delay !== undefined ? delay
      : Math.round(this.backoff * (0.8 + Math.random() * 0.4));
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs);
    this._log(`reconnecting in ${d} ms (${why})`);
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._open(), d);
  }

  _fail(err) {
    this._setState('failed');
    if (this._joinWaiters) {
      this._joinWaiters.reject(Object.assign(new Error(err.message), err));
      this._joinWaiters = null;
    }
    this._emit('failed', err);
  }

  _startPings() {
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(() => this._send({ type: 'ping', ts: Date.now() }), 5000);
  }

  // ---------------------------------------------------------------------------------------
  // Messages from the server.
  async _onMessage(m) {
    switch (m.type) {
      case 'joined': return this._onJoined(m);
      case 'ping': this._send({ type: 'pong', ts: m.ts }); return;
      case 'pong':
        if (typeof m.ts === 'number') {
          this.rtt = Date.now() - m.ts;
          this._emit('rtt', this.rtt);
        }
        return;
      case 'participant_joined':
        this.participants.set(m.participant.id, m.participant);
        this._emit('participant_joined', m.participant);
        return;
      case 'participant_left': {
        const p = this.participants.get(m.participant_id);
        this.participants.delete(m.participant_id);
        this._emit('participant_left', { id: m.participant_id, participant: p, reason: m.reason });
        return;
      }
      case 'track_published': {
        const p = this.participants.get(m.participant_id);
        if (p) p.tracks = (p.tracks || []).filter((t) => t.id !== m.track.id).concat([m.track]);
        this._emit('track_published', { participantId: m.participant_id, track: m.track });
        return;
      }
      case 'track_unpublished': {
        const p = this.participants.get(m.participant_id);
        if (p) p.tracks = (p.tracks || []).filter((t) => t.id !== m.track_id);
        this._emit('track_unpublished', { participantId: m.participant_id, trackId: m.track_id });
        return;
      }
      case 'track_muted': {
        const p = this.participants.get(m.participant_id);
        const t = p && (p.tracks || []).find((x) => x.id === m.track_id);
        if (t) t.muted = m.muted;
        this._emit('track_muted', { participantId: m.participant_id, trackId: m.track_id, muted: m.muted });
        return;
      }
      case 'active_speakers': this._emit('active_speakers', m.speakers || []); return;
      case 'layer':
        this.layers.set(m.track_id, { rid: m.rid, width: m.width, height: m.height });
        this._emit('layer', m);
        return;
      case 'data': this._emit('data', { from: m.from, payload: m.payload, via: 'ws' }); return;
      case 'answer': return this._onAnswer(m);
      case 'offer': return this._onSubscriberOffer(m);
      case 'candidate': return this._onCandidate(m);
      case 'reconnect': return this._onReconnect(m);
      case 'left':
        this._setState('left');
        this._closePeers();
        this._emit('left', { reason: m.reason });
        return;
      case 'error': return this._onError(m);
      default: this._emit('message', m);
    }
  }

  async _onJoined(m) {
    const first = !this.me || this.me.id !== m.participant.id;
    this.me = m.participant;
    this.roomInfo = m.room;
    this.sessionToken = m.session_token;
    this.iceServers = (m.ice_servers || []).map((s) => ({
      urls: s.urls, username: s.username, credential: s.credential,
    }));
    this.backoff = 250;
    this._joined = m;
    this._setState('joined');
    this._startPings();
    const before = new Map(this.participants);
    if (!m.resumed || first) this.participants.clear();
    for (const p of m.participants || []) this.participants.set(p.id, p);
    // After a move (`reconnect`) the new node's list fills up as the others rejoin it, and
    // their participant_joined follow: nobody there yet has not left.
    if (m.resumed && !first && !this._moved) this._reconcileParticipants(before, m.participants || []);
    this._moved = false;
    if (this._joinWaiters) {
      this._joinWaiters.resolve(m);
      this._joinWaiters = null;
    }
    if (m.resumed && !first) {
      this._emit('resumed', m);
      return;
    }
    this._emit('joined', m);
    if (first && this.local.length && !m.resumed) {
      // A new participant after a failed resume: publish again from scratch.
      await this._rebuildPeers('rejoined');
    }
  }

  // After a resume (or a move to another node) `joined` lists who is in the room now. Events
  // missed while the socket was down (someone left or came) are made up for from it, so the
  // page drops the tiles of those who left and adds those who came.
  _reconcileParticipants(before, now) {
    const ids = new Set(now.map((p) => p.id));
    for (const [id, p] of before) {
      if (ids.has(id)) continue;
      this.participants.delete(id);
      this._emit('participant_left', { id, participant: p, reason: 'left while you were away' });
    }
    for (const p of now) if (!before.has(p.id)) this._emit('participant_joined', p);
  }

  _onError(m) {
    this._lastError = m;
    this._emit('error', m);
    // Our publisher offer did not get through (e.g. `unavailable` while Redis is away): again
    // in a moment.
    if (m.rid === 'offer' && this.pub && this.pub.signalingState === 'have-local-offer') this._armPublisherRetry(2000);
    if (m.code === 'resume_failed') {
      // Our participant is gone (grace period over): join as a new one.
      this.me = null;
      this.sessionToken = null;
      this._closePeers();
      if (this.ws) this.ws.close(1000, 'rejoin');
      return;
    }
    if (m.code === 'unauthorized') this._fail(m);
    else if (m.rid === 'join' && this._joinWaiters && m.code !== 'unavailable') this._fail(m);
  }

  // ---------------------------------------------------------------------------------------
  // Publisher: we offer.
  _newPc(kind) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      this._send({
        type: 'candidate', pc: kind,
        candidate: c && c.candidate ? { candidate: c.candidate, sdp_mid: c.sdpMid,
                                        sdp_mline_index: c.sdpMLineIndex } : null,
      });
    };
    pc.onconnectionstatechange = () => this._emit('pc_state', { pc: kind, state: pc.connectionState });
    return pc;
  }

  _ensurePublisher() {
    if (this.pub) return this.pub;
    this.pub = this._newPc('publisher');
    this.pubData = this.pub.createDataChannel('starling');
    this.pubData.onopen = () => this._emit('data_channel', { open: true });
    return this.pub;
  }

  async publish(stream, opts = {}) {
    const simulcast = opts.simulcast ?? this.opts.simulcast;
    for (const track of stream.getTracks()) {
      const source = track.kind === 'audio' ? (opts.audioSource || 'microphone')
                                            : (opts.videoSource || 'camera');
      this.local.push({ track, stream, source, name: opts.name || source, simulcast });
    }
    return this._negotiatePublisher();
  }

  _addTransceivers() {
    const pc = this._ensurePublisher();
    for (const l of this.local) {
      if (l.transceiver && pc.getTransceivers().includes(l.transceiver)) continue;
      const init = { direction: 'sendonly', streams: [l.stream] };
      if (l.track.kind === 'video' && l.simulcast) init.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
      l.transceiver = pc.addTransceiver(l.track, init);
    }
  }

  async _negotiatePublisher() {
    this._addTransceivers();
    const answered = new Promise((resolve, reject) => this._answerWaiters.push({ resolve, reject }));
    await this._sendPublisherOffer();
    return answered;
  }

  // Offers (again, after a rollback if one is out). An offer or its answer can be lost on the
  // way (a Redis outage between signal and the SFU): without an answer in
  // PUBLISHER_ANSWER_TIMEOUT_MS, or on an `error` for it, the offer is made again; the SFU
  // takes a repeated offer as a renegotiation. Waiters stay until an answer is applied.
  async _sendPublisherOffer() {
    const pc = this.pub;
    if (!pc || pc.signalingState === 'closed') return;
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const tracks = this.local
      .filter((l) => l.transceiver && l.transceiver.mid !== null)
      .map((l) => ({ mid: l.transceiver.mid, source: l.source, name: l.name }));
    this._send({ type: 'offer', pc: 'publisher', sdp: pc.localDescription.sdp, tracks, rid: 'offer' });
    this._armPublisherRetry(PUBLISHER_ANSWER_TIMEOUT_MS);
  }

  _armPublisherRetry(ms) {
    clearTimeout(this._pubRetryTimer);
    this._pubRetryTimer = setTimeout(() => {
      if (!this.pub || this.pub.signalingState !== 'have-local-offer') return;
      this._log('publisher offer not answered: offering again');
      this._sendPublisherOffer().catch((e) => this._emit('error', { code: 'client', message: `publisher offer: ${e.message}` }));
    }, ms);
  }

  async _onAnswer(m) {
    if (!this.pub || this.pub.signalingState !== 'have-local-offer') {
      this._log('publisher answer without an offer out (a repeat): ignored');
      return;
    }
    clearTimeout(this._pubRetryTimer);
    try {
      await this.pub.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      await this._flushCandidates('publisher');
      for (const w of this._answerWaiters.splice(0)) w.resolve(m);
      this._emit('published', { sdp: m.sdp });
    } catch (e) {
      // Most likely the answer to an offer we replaced: the current one's answer may follow,
      // else the offer is made again.
      this._emit('error', { code: 'client', message: `publisher answer: ${e.message}` });
      if (this.pub && this.pub.signalingState === 'have-local-offer') this._armPublisherRetry(PUBLISHER_ANSWER_TIMEOUT_MS);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Subscriber: the SFU offers.
  async _onSubscriberOffer(m) {
    if (!this.sub) {
      this.sub = this._newPc('subscriber');
      this.sub.ontrack = (e) => {
        const stream = e.streams[0];
        this._emit('track', { participantId: stream ? stream.id : null, track: e.track, stream,
                              trackId: e.track.id });
      };
      this.sub.ondatachannel = (e) => {
        this.subData = e.channel;
        e.channel.onmessage = (ev) => {
          let d;
          try {
            d = JSON.parse(ev.data);
          } catch {
            d = { from: null, payload: ev.data };
          }
          this._emit('data', { from: d.from, payload: d.payload, via: 'dc' });
        };
      };
    }
    // One offer at a time, in arrival order (a re-offer may arrive while an earlier one is
    // still being applied).
    const pc = this.sub;
    this._subChain = (this._subChain || Promise.resolve()).then(() => this._answerSubscriber(pc, m));
    return this._subChain;
  }

  async _answerSubscriber(pc, m) {
    if (pc !== this.sub) return; // the subscriber pc was rebuilt meanwhile
    // The SFU sends an offer again when our answer is late or was lost: answer it again.
    const last = pc._starlingLastAnswer;
    if (last && m.offer_id !== undefined && last.offer_id === m.offer_id && pc.signalingState === 'stable') {
      this._send(last.msg);
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await this._flushCandidates('subscriber');
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      // offer_id tells the SFU which offer this answers (answers to offers it withdrew are stale).
      const a = { type: 'answer', pc: 'subscriber', sdp: pc.localDescription.sdp };
      if (m.offer_id !== undefined) a.offer_id = m.offer_id;
      pc._starlingLastAnswer = { offer_id: m.offer_id, msg: a };
      this._send(a);
    } catch (e) {
      // Not answering is the report: the SFU sends the offer again after its timeout (a
      // passing failure then succeeds). Back to stable first, so that it can be applied.
      this._log(`subscriber offer ${m.offer_id}: ${e.message}`);
      this._emit('error', { code: 'client', message: `subscriber offer: ${e.message}` });
      if (pc.signalingState === 'have-remote-offer') {
        try { await pc.setRemoteDescription({ type: 'rollback' }); } catch { /* closed */ }
      }
    }
  }

  async _onCandidate(m) {
    const pc = m.pc === 'publisher' ? this.pub : this.sub;
    const c = m.candidate ? { candidate: m.candidate.candidate, sdpMid: m.candidate.sdp_mid,
                              sdpMLineIndex: m.candidate.sdp_mline_index } : null;
    if (!pc || !pc.remoteDescription) {
      this._pendingRemote[m.pc === 'publisher' ? 'publisher' : 'subscriber'].push(c);
      return;
    }
    await pc.addIceCandidate(c || undefined);
  }

  async _flushCandidates(kind) {
    const pc = kind === 'publisher' ? this.pub : this.sub;
    const list = this._pendingRemote[kind];
    this._pendingRemote[kind] = [];
    for (const c of list) await pc.addIceCandidate(c || undefined).catch(() => {});
  }

  // The room moved to another SFU node: start media over with it.
  async _onReconnect(m) {
    this._moved = true; /* the next `joined` is the new node's (see _onJoined) */
    this._emit('reconnect', { reason: m.reason });
    await this._rebuildPeers(m.reason);
  }

  async _rebuildPeers(reason) {
    this._closePeers();
    for (const l of this.local) l.transceiver = null;
    if (this.local.length) {
      try {
        await this._negotiatePublisher();
        this._emit('renegotiated', { reason });
      } catch (e) {
        this._emit('error', { code: 'client', message: `renegotiation: ${e.message}` });
      }
    }
  }

  _closePeers() {
    clearTimeout(this._pubRetryTimer);
    for (const w of this._answerWaiters) w.reject(new Error('peer connection closed'));
    this._answerWaiters = [];
    if (this.pub) this.pub.close();
    if (this.sub) this.sub.close();
    this.pub = this.sub = this.pubData = this.subData = null;
    this._pendingRemote = { publisher: [], subscriber: [] };
    this._prevStats.clear();
  }

  // ---------------------------------------------------------------------------------------
  // Actions.
  sendData(payload, to) {
    if (!to && this.pubData && this.pubData.readyState === 'open') {
      this.pubData.send(payload);
      return 'dc';
    }
    const m = { type: 'data', payload };
    if (to) m.to = to;
    return this._send(m) ? 'ws' : null;
  }

  setMuted(kind, muted) {
    for (const l of this.local) {
      if (l.track.kind !== kind) continue;
      l.track.enabled = !muted;
      this._send({ type: 'mute', track_id: l.track.id, muted });
    }
  }

  isMuted(kind) {
    const l = this.local.find((x) => x.track.kind === kind);
    return l ? !l.track.enabled : true;
  }

  setSubscription(trackId, { maxWidth, maxHeight, paused } = {}) {
    const m = { type: 'subscription', track_id: trackId };
    if (maxWidth !== undefined) m.max_width = maxWidth;
    if (maxHeight !== undefined) m.max_height = maxHeight;
    if (paused !== undefined) m.paused = paused;
    this._send(m);
  }

  leave() {
    this._send({ type: 'leave' });
    this._setState('left');
    clearTimeout(this._reconnectTimer);
    clearInterval(this._pingTimer);
    this._closePeers();
    for (const l of this.local) l.track.stop();
    this.local = [];
    const ws = this.ws;
    setTimeout(() => ws && ws.readyState <= 1 && ws.close(1000, 'left'), 1000);
  }

  // ---------------------------------------------------------------------------------------
  // Stats: bitrates from byte counters between calls, RTT and loss.
  async getStats() {
    const now = performance.now();
    const out = { rtt: this.rtt, publisher: [], subscriber: [], candidateRtt: null };
    const rate = (key, bytes) => {
      const prev = this._prevStats.get(key);
      this._prevStats.set(key, { t: now, bytes });
      if (!prev || now <= prev.t) return null;
      return Math.round(((bytes - prev.bytes) * 8) / ((now - prev.t) / 1000));
    };
    for (const [kind, pc] of [['publisher', this.pub], ['subscriber', this.sub]]) {
      if (!pc) continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'outbound-rtp') {
          out.publisher.push({ kind: s.kind, rid: s.rid || '', bitrate: rate(s.id, s.bytesSent),
                               width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond,
                               limitation: s.qualityLimitationReason });
        } else if (s.type === 'inbound-rtp') {
          out.subscriber.push({ kind: s.kind, trackId: s.trackIdentifier, bitrate: rate(s.id, s.bytesReceived),
                                packetsLost: s.packetsLost, packetsReceived: s.packetsReceived,
                                jitter: s.jitter, width: s.frameWidth, height: s.frameHeight,
                                layer: this.layers.get(s.trackIdentifier) || null });
        } else if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) {
          out.candidateRtt = Math.round(s.currentRoundTripTime * 1000);
        } else if (s.type === 'remote-inbound-rtp' && s.fractionLost !== undefined) {
          out.publisher.push({ kind: s.kind, remote: true, fractionLost: s.fractionLost,
                               rtt: s.roundTripTime });
        }
      });
    }
    return out;
  }
}
