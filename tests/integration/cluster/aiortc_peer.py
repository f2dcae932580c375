#!/usr/bin/python3
"""One Starling participant made of aiortc (an independent WebRTC stack) and python3-websockets,
kept running while a cluster test breaks things around it. It behaves like a real client
(docs/signalling.md, "Resume and failover"):

* joins ROOM through the first signal URL that answers; when its WebSocket drops it reconnects
  — the same URL first, the next one when that is refused (as a client behind a load
  balancer would land on another process) — and sends `join` with `resume`;
* `error unavailable` / close 1013 (Redis or every SFU down): retries with backoff;
* `reconnect` (its room moved to another SFU node): closes both PeerConnections and publishes
  again on new ones (a new *generation*);
* publishes (--publish) a 320x180 VP8 test pattern and an Opus tone on its publisher
  PeerConnection and decodes everything the SFU sends on its subscriber PeerConnection.

ICE stays on --host (aioice's host addresses are replaced), so nothing leaves loopback.

It prints JSON event lines on stdout, each with "t" (time.time()):
  {"ev":"ws_open","url"}  {"ev":"ws_closed","code"}  {"ev":"joined","id","resumed","participants"}
  {"ev":"reconnect","reason"}  {"ev":"first_frame","gen","from","kind"}  {"ev":"error",...}
  {"ev":"tick","gen","rx":{"<from>/<kind>":frames},"rx_gen":{...this generation only},
   "tx_frames","pub_offers","sub_offers","pub_sld","pub":state,"sub":state}   every --tick s
and reads commands on stdin: `leave` (leave, print {"ev":"bye",...}, exit); with --hold it
prints {"ev":"ready"} once started and joins only when it reads `join`.

PEER_TRACE=1 in the environment adds debug events: each receiver's first RTP packets (and
whether a VP8 packet starts a keyframe), packets aiortc's router drops, receivers started,
PLIs sent (trace_rtp, trace_drop, trace_receive, trace_pli).

usage: aiortc_peer.py --url WS [--url WS2 ...] --token-url HTTP --room R --identity I [--publish]
"""
import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request

import aioice.ice
import aiortc.codecs.vpx
import numpy
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack
from av import VideoFrame

ap = argparse.ArgumentParser()
ap.add_argument("--url", action="append", required=True)
ap.add_argument("--token-url", required=True)
ap.add_argument("--room", required=True)
ap.add_argument("--identity", required=True)
ap.add_argument("--publish", action="store_true")
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--tick", type=float, default=0.2)
ap.add_argument("--hold", action="store_true",
                help="start up (imports, token), print {ev: ready}, and join only on a `join` line")
args = ap.parse_args()

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.host]
# Browsers send RTP packets of ~1200 bytes; the SFU forwards packets at the size they come and
# its sender refuses more than 1200 bytes with its header extensions (docs/sfu.md).
aiortc.codecs.vpx.PACKET_MAX = 1100


if os.environ.get("PEER_TRACE"):
    # Debug aid: log each receiver's first RTP packets (VP8 keyframe or not) and its PLIs.
    import aiortc.rtcrtpreceiver as _rr
    _orig_handle = _rr.RTCRtpReceiver._handle_rtp_packet
    _orig_pli = _rr.RTCRtpReceiver._send_rtcp_pli

    async def _handle(self, packet, arrival_time_ms):
        n = getattr(self, "_trace_n", 0)
        self._trace_n = n + 1
        if n < 3 or (packet.payload_type == 96 and len(packet.payload) > 3 and packet.payload[0] & 0x10
                     and not packet.payload[_vp8_hdr(packet.payload)] & 1 and n < 2000):
            kf = packet.payload_type == 96 and len(packet.payload) > 3 and packet.payload[0] & 0x10 and \
                not packet.payload[_vp8_hdr(packet.payload)] & 1
            emit("trace_rtp", ssrc=packet.ssrc, pt=packet.payload_type, seq=packet.sequence_number, n=n,
                 keyframe=bool(kf))
        return await _orig_handle(self, packet, arrival_time_ms)

    async def _pli(self, ssrc):
        emit("trace_pli", ssrc=ssrc)
        return await _orig_pli(self, ssrc)

    def _vp8_hdr(p):
        i = 1
        if p[0] & 0x80:
            x = p[1]
            i = 2
            if x & 0x80:
                i += 2 if p[i] & 0x80 else 1
            if x & 0x40:
                i += 1
            if x & 0x30:
                i += 1
        return min(i, len(p) - 1)
    import aiortc.rtcdtlstransport as _dt
    _orig_route = _dt.RtpRouter.route_rtp
    _drops = [0]

    def _route(self, packet):
        r = _orig_route(self, packet)
        if r is None and _drops[0] < 20:
            _drops[0] += 1
            emit("trace_drop", ssrc=packet.ssrc, pt=packet.payload_type, seq=packet.sequence_number,
                 known=sorted(self.ssrc_table))
        return r
    _dt.RtpRouter.route_rtp = _route
    _orig_receive = _rr.RTCRtpReceiver.receive

    async def _receive(self, params):
        emit("trace_receive", kind=self._kind if hasattr(self, "_kind") else None,
             ssrcs=[e.ssrc for e in params.encodings])
        return await _orig_receive(self, params)
    _rr.RTCRtpReceiver.receive = _receive
    _rr.RTCRtpReceiver._handle_rtp_packet = _handle
    _rr.RTCRtpReceiver._send_rtcp_pli = _pli


def emit(ev, **kw):
    kw = dict(ev=ev, t=round(time.time(), 4), **kw)
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


class Pattern(VideoStreamTrack):
    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        y, x = numpy.mgrid[0:180, 0:320]
        img = numpy.zeros((180, 320, 3), numpy.uint8)
        img[..., 0] = (x + self.n * 4) % 256
        img[..., 1] = (y + self.n * 2) % 256
        self.n += 1
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    async def recv(self):
        frame = await super().recv()
        t = (numpy.arange(frame.samples) + frame.pts) / frame.sample_rate
        frame.planes[0].update((numpy.sin(2 * numpy.pi * 440 * t) * 3000).astype(numpy.int16).tobytes())
        return frame


class Peer:
    def __init__(self):
        self.urls = args.url
        self.idx = 0
        self.ws = None
        self.me = None
        self.session_token = None
        self.gen = 0
        self.pub = None
        self.sub = None
        self.pattern = None
        self.tx_frames = 0
        self.rx = {}          # "<from>/<kind>" -> frames, every generation
        self.rx_gen = {}      # same, this generation only
        self.mid_owner = {}   # subscriber mid -> publishing participant id (from the msid lines)
        self.pub_offers = 0
        self.pub_sld = 0      # setLocalDescription calls on publisher PeerConnections
        self.sub_offers = 0
        self.leaving = False
        self.tasks = []
        self.token = None

    # -- WebSocket ---------------------------------------------------------------------------
    async def send(self, o):
        if self.ws is not None:
            try:
                await self.ws.send(json.dumps(o))
            except websockets.ConnectionClosed:
                pass

    async def run_ws(self):
        backoff = 0.25
        while not self.leaving:
            url = self.urls[self.idx % len(self.urls)]
            try:
                ws = await websockets.connect(url, open_timeout=3, ping_interval=None, max_size=None)
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as e:
                emit("ws_refused", url=url, error=type(e).__name__)
                self.idx += 1  # that process is gone: try the next one
                await asyncio.sleep(0.1)
                continue
            self.ws = ws
            emit("ws_open", url=url)
            join = {"type": "join", "room": args.room, "token": self.token, "rid": "join"}
            if self.me and self.session_token:
                join["resume"] = {"participant_id": self.me, "session_token": self.session_token}
            await self.send(join)
            code = None
            try:
                async for raw in ws:
                    await self.on_message(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            code = ws.close_code
            self.ws = None
            emit("ws_closed", code=code, url=url)
            if self.leaving:
                return
            if code == 1013:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            elif code == 1012:
                self.idx += 1  # that process is shutting down: go to another at once
            else:
                await asyncio.sleep(0.1)

    async def on_message(self, m):
        t = m.get("type")
        if t == "joined":
            resumed = bool(m.get("resumed"))
            fresh = self.me != m["participant"]["id"]
            self.me = m["participant"]["id"]
            self.session_token = m.get("session_token")
            emit("joined", id=self.me, resumed=resumed, url=self.urls[self.idx % len(self.urls)],
                 participants=[p["id"] for p in m.get("participants", [])])
            if fresh and args.publish and self.pub is None:
                await self.start_publisher()
        elif t == "answer" and m.get("pc") == "publisher":
            if self.pub is not None:
                await self.pub.setRemoteDescription(RTCSessionDescription(m["sdp"], "answer"))
        elif t == "offer" and m.get("pc") == "subscriber":
            self.sub_offers += 1
            if self.sub is None:
                self.new_subscriber()
            # Who published each m-line: its msid is "<participant id> <track id>". (aiortc
            # only takes the msid as the track's id with an a=msid-semantic line, so the
            # owner is looked up by mid.)
            for section in m["sdp"].split("\nm=")[1:]:
                lines = section.splitlines()
                mid = next((l[6:].strip() for l in lines if l.startswith("a=mid:")), None)
                msid = next((l[7:].split() for l in lines if l.startswith("a=msid:")), [])
                if mid is not None and len(msid) == 2:
                    self.mid_owner[mid] = msid[0]
            sub = self.sub
            # aiortc starts the receivers of m-lines added by a re-offer only if DTLS is already
            # up when it applies that offer (RTCPeerConnection.__connect skips transceivers
            # whose transport is still handshaking, and nothing starts them later): an SFU
            # re-offer that arrives during the first handshake would leave those tracks
            # silent. Browsers have no such gap, so wait here instead of working around it in
            # the SFU.
            if self.sub_offers_pc > 0:
                for _ in range(100):
                    if sub.connectionState in ("connected", "failed", "closed"):
                        break
                    await asyncio.sleep(0.05)
            self.sub_offers_pc += 1
            emit("sub_offer", n=self.sub_offers, mlines=m["sdp"].count("\nm="),
                 owners=sorted(set(self.mid_owner.values())))
            await sub.setRemoteDescription(RTCSessionDescription(m["sdp"], "offer"))
            await sub.setLocalDescription(await sub.createAnswer())
            if sub is self.sub:
                await self.send({"type": "answer", "pc": "subscriber", "sdp": sub.localDescription.sdp})
        elif t == "reconnect":
            emit("reconnect", reason=m.get("reason"))
            await self.rebuild()
        elif t == "error":
            emit("error", code=m.get("code"), message=m.get("message"))
            if m.get("code") == "resume_failed":
                self.me = None
                self.session_token = None
                await self.close_pcs()
                if self.ws is not None:
                    await self.ws.close()
        elif t == "left":
            emit("left", reason=m.get("reason"))
        elif t in ("participant_joined", "participant_left"):
            emit(t, id=m.get("participant", {}).get("id") or m.get("participant_id"), reason=m.get("reason"))
        elif t == "ping":
            await self.send({"type": "pong", "ts": m.get("ts")})

    # -- PeerConnections -----------------------------------------------------------------------
    async def start_publisher(self):
        pc = RTCPeerConnection()
        self.pub = pc
        self.pattern = Pattern()
        pc.addTrack(self.pattern)
        pc.addTrack(Tone())
        pc.createDataChannel("starling")
        await pc.setLocalDescription(await pc.createOffer())
        self.pub_sld += 1
        if pc is not self.pub:
            return
        labels = [{"mid": t.mid, "source": "camera" if t.kind == "video" else "microphone",
                   "name": args.identity + "-" + t.kind} for t in pc.getTransceivers()]
        self.pub_offers += 1
        await self.send({"type": "offer", "pc": "publisher", "sdp": pc.localDescription.sdp,
                         "tracks": labels})

    def new_subscriber(self):
        pc = RTCPeerConnection()
        self.sub = pc
        self.sub_offers_pc = 0
        gen = self.gen

        @pc.on("track")
        def on_track(track):
            async def consume():
                first = True
                owner = None
                while True:
                    try:
                        await track.recv()
                    except Exception:  # noqa: BLE001 — track ended (PeerConnection closed)
                        return
                    if owner is None:
                        mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
                        owner = self.mid_owner.get(mid, "?")
                    key = f"{owner}/{track.kind}"
                    self.rx[key] = self.rx.get(key, 0) + 1
                    if gen == self.gen:
                        self.rx_gen[key] = self.rx_gen.get(key, 0) + 1
                    if first:
                        first = False
                        emit("first_frame", gen=gen, **{"from": owner}, kind=track.kind)
            self.tasks.append(asyncio.ensure_future(consume()))

    async def close_pcs(self):
        pub, sub = self.pub, self.sub
        self.pub = self.sub = None
        for pc in (pub, sub):
            if pc is not None:
                await pc.close()

    async def rebuild(self):
        self.gen += 1
        self.rx_gen = {}
        self.mid_owner = {}
        if self.pattern is not None:
            self.tx_frames += self.pattern.n
            self.pattern = None
        await self.close_pcs()
        if args.publish:
            await self.start_publisher()

    # -- main ----------------------------------------------------------------------------------
    async def ticker(self):
        while True:
            await asyncio.sleep(args.tick)
            emit("tick", gen=self.gen, rx=self.rx, rx_gen=self.rx_gen,
                 tx_frames=self.tx_frames + (self.pattern.n if self.pattern else 0),
                 pub_offers=self.pub_offers, pub_sld=self.pub_sld, sub_offers=self.sub_offers,
                 pub=self.pub.connectionState if self.pub else None,
                 sub=self.sub.connectionState if self.sub else None,
                 pub_signaling=self.pub.signalingState if self.pub else None)

    async def stdin_commands(self, until):
        """Reads command lines until `until` (or EOF). True if it came."""
        if self.stdin is None:
            loop = asyncio.get_event_loop()
            self.stdin = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.stdin), sys.stdin)
        while True:
            line = await self.stdin.readline()
            if not line:
                return False
            if line.strip() == until:
                return True

    async def main(self):
        base = args.token_url
        self.token = json.loads(urllib.request.urlopen(
            f"{base}/token?room={args.room}&identity={args.identity}", timeout=5).read())["token"]
        self.stdin = None
        if args.hold:
            # A slow start (importing aiortc takes seconds on a loaded machine) must not decide
            # when the join happens: the test says when.
            emit("ready")
            if not await self.stdin_commands(b"join"):
                return
        ws_task = asyncio.ensure_future(self.run_ws())
        tick = asyncio.ensure_future(self.ticker())
        await self.stdin_commands(b"leave")
        self.leaving = True
        await self.send({"type": "leave"})
        await asyncio.sleep(0.2)
        rtp = []
        for name, pc in (("pub", self.pub), ("sub", self.sub)):
            if pc is None:
                continue
            for st in (await pc.getStats()).values():
                if st.type in ("inbound-rtp", "outbound-rtp"):
                    rtp.append({"pc": name, "type": st.type, "kind": st.kind,
                                "packets": getattr(st, "packetsReceived", getattr(st, "packetsSent", None))})
        emit("bye", rtp=rtp, rx=self.rx, tx_frames=self.tx_frames + (self.pattern.n if self.pattern else 0),
             pub_offers=self.pub_offers, sub_offers=self.sub_offers)
        for t in self.tasks + [tick, ws_task]:
            t.cancel()
        await self.close_pcs()
        if self.ws is not None:
            await self.ws.close()


asyncio.run(Peer().main())
