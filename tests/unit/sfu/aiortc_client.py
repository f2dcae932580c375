#!/usr/bin/python3
"""A Starling client made of aiortc (an independent WebRTC stack) and the websockets library,
for tests/integration/test_sfu_signal_aiortc.sh: it gets a dev token from starling-signal,
joins a room over the WebSocket protocol of docs/signalling.md, and runs the two
PeerConnections the SFU expects — a publisher (it offers: libvpx VP8 of a moving test pattern,
plus the "starling" data channel) and a subscriber (the SFU offers; aiortc decodes what
arrives). ICE is kept on 127.0.0.1 by restricting aioice's host addresses ($STARLING_ICE_HOST instead,
when set).

usage: aiortc_client.py BASE_URL ROOM IDENTITY SECONDS publish|watch
(leaves after SECONDS, or earlier once the file named by $STARLING_STOP_FILE exists;
$STARLING_MAX_SIZE=WxH sends a `subscription` with that size box for every video track;
$STARLING_CONTROL_FILE: lines "TRACK_ID WxH" in that file, re-read when it changes, send a
`subscription` for that track; $STARLING_VIDEO_LIMIT=N pauses every video track after the
first N; every `layer` message and every change of a decoded video size
is appended as a JSON line to $STARLING_EVENTS_FILE)
Prints one JSON summary line: {"joined", "participants_seen", "frames": {track: n},
"sizes": {track: "WxH"}, "data": [...], "sent_data": n, "errors": [...]}.
"""
import asyncio
import fractions
import json
import logging
import os
import sys
import urllib.request

import aioice.ice
import aiortc.codecs.vpx
import numpy
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack
from av import VideoFrame

if os.environ.get("STARLING_AIORTC_LOG"):
    # aioice/aiortc's own log (ICE states, consent, DTLS) on stderr, with times.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
# aioice gives up a connection after 6 consent checks in a row without an answer within 0.5 s;
# on a loaded machine a busy Python event loop alone can miss that many.
# STARLING_CONSENT_FAILURES raises the count.
aioice.ice.CONSENT_FAILURES = max(aioice.ice.CONSENT_FAILURES, int(os.environ.get("STARLING_CONSENT_FAILURES", "0")))
# STARLING_ICE_HOST (or STARLING_TEST_HOST_IP): the one address to gather (a test namespace's
# veth address).
HOST_IP = os.environ.get("STARLING_ICE_HOST") or os.environ.get("STARLING_TEST_HOST_IP", "127.0.0.1")
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [HOST_IP]


def candidate_addresses(sdp):
    """The "IP port" of every a=candidate line (what the SFU told us to reach it at)."""
    return sorted({" ".join(l.split()[4:6]) for l in sdp.splitlines() if l.startswith("a=candidate:")})


# aiortc packetizes VP8 into payloads of up to 1300 bytes (browsers stay near 1200): left as
# it is, so the SFU must forward packets above 1200 bytes whole (it once refused them).
assert aiortc.codecs.vpx.PACKET_MAX >= 1300


class Pattern(VideoStreamTrack):
    """320x180 frames of a moving gradient at 30 fps."""

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
    """A 440 Hz tone at about -24 dBov, so the SFU hears a speaker (aiortc puts the
    ssrc-audio-level extension on Opus packets when it is negotiated)."""

    async def recv(self):
        frame = await super().recv()
        t = (numpy.arange(frame.samples) + frame.pts) / frame.sample_rate
        data = (numpy.sin(2 * numpy.pi * 440 * t) * 3000).astype(numpy.int16)
        frame.planes[0].update(data.tobytes())
        return frame


EVENTS_FILE = os.environ.get("STARLING_EVENTS_FILE")


def event(o):
    if EVENTS_FILE:
        with open(EVENTS_FILE, "a") as f:
            f.write(json.dumps(dict(o, t=round(asyncio.get_event_loop().time(), 3))) + "\n")


async def main():
    base, room, identity, seconds, mode = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
    token = json.loads(urllib.request.urlopen(f"{base}/token?room={room}&identity={identity}").read())["token"]
    # No keepalive pings of the library's own (signal pings us): on a loaded machine a late pong
    # would close the socket.
    ws = await websockets.connect(base.replace("http", "ws") + "/ws", ping_interval=None)
    out = {"identity": identity, "joined": False, "participants_seen": [], "frames": {}, "sizes": {},
           "data": [], "sent_data": 0, "errors": [], "layers": []}
    pub = RTCPeerConnection()
    sub = RTCPeerConnection()
    tasks = []

    async def send(o):
        await ws.send(json.dumps(o))

    @sub.on("track")
    def on_track(track):
        key = track.id

        out.setdefault("track_events", []).append(track.kind)

        async def consume():
            nonlocal key
            # Key by the msid track id (the publisher's track id, as the SFU names it) when the
            # subscriber offer carries one; aiortc's own track ids are random.
            for tr in sub.getTransceivers():
                if tr.receiver.track is track and tr.mid and sub.remoteDescription:
                    sec = sub.remoteDescription.sdp.split("\r\nm=")
                    for part in sec:
                        if f"\r\na=mid:{tr.mid}\r\n" in part + "\r\n":
                            for line in part.split("\r\n"):
                                if line.startswith("a=msid:") and len(line.split()) == 2:
                                    key = line.split()[1]
                                    out.setdefault("publishers", {})[key] = line[7:].split()[0]
            out["frames"].setdefault(key, 0)
            while True:
                try:
                    f = await track.recv()
                except Exception as e:
                    out.setdefault("track_ended", []).append(f"{track.kind}: {type(e).__name__}")
                    return
                out["frames"][key] += 1
                size = f"{f.width}x{f.height}" if track.kind == "video" else "audio"
                if track.kind == "video" and out["sizes"].get(key) != size:
                    event({"type": "decoded", "track_id": key, "size": size})
                out["sizes"][key] = size
        tasks.append(asyncio.ensure_future(consume()))

    @sub.on("datachannel")
    def on_dc(ch):
        @ch.on("message")
        def on_message(m):
            out["data"].append(json.loads(m))

    dc = None
    pattern = None
    if mode == "publish":
        pattern = Pattern()
        pub.addTrack(pattern)
        pub.addTrack(Tone())
        dc = pub.createDataChannel("starling")

    await send({"type": "join", "room": room, "token": token})

    async def publish():
        await pub.setLocalDescription(await pub.createOffer())
        labels = [{"mid": t.mid, "source": "camera" if t.kind == "video" else "microphone",
                   "name": identity + "-" + t.kind} for t in pub.getTransceivers()]
        await send({"type": "offer", "pc": "publisher", "sdp": pub.localDescription.sdp,
                    "tracks": labels})

    max_size = os.environ.get("STARLING_MAX_SIZE")
    control_file = os.environ.get("STARLING_CONTROL_FILE")
    control_seen = None

    async def control():
        nonlocal control_seen
        try:
            text = open(control_file).read()
        except OSError:
            return
        if text == control_seen:
            return
        control_seen = text
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and "x" in parts[1]:
                w, h = (int(x) for x in parts[1].split("x"))
                await send({"type": "subscription", "track_id": parts[0], "max_width": w, "max_height": h})

    video_limit = int(os.environ.get("STARLING_VIDEO_LIMIT", "0"))
    videos_seen = []

    async def limit(tracks):
        for tr in tracks:
            if tr.get("kind") != "video":
                continue
            if tr["id"] not in videos_seen:
                videos_seen.append(tr["id"])
            if video_limit and videos_seen.index(tr["id"]) >= video_limit:
                await send({"type": "subscription", "track_id": tr["id"], "paused": True})
            elif max_size:
                w, h = (int(x) for x in max_size.split("x"))
                await send({"type": "subscription", "track_id": tr["id"], "max_width": w, "max_height": h})

    async def reader():
        async for raw in ws:
            m = json.loads(raw)
            t = m.get("type")
            if t == "joined":
                out["joined"] = True
                out["participants_seen"] += [p["id"] for p in m.get("participants", [])]
                for p in m.get("participants", []):
                    await limit(p.get("tracks", []))
                if mode == "publish":
                    tasks.append(asyncio.ensure_future(publish()))
            elif t == "participant_joined":
                out["participants_seen"].append(m["participant"]["id"])
                await limit(m["participant"].get("tracks", []))
            elif t == "track_published":
                await limit([m["track"]])
            elif t == "answer" and m.get("pc") == "publisher":
                out["sfu_candidates"] = sorted(set(out.get("sfu_candidates", []) + candidate_addresses(m["sdp"])))
                await pub.setRemoteDescription(RTCSessionDescription(m["sdp"], "answer"))
            elif t == "offer" and m.get("pc") == "subscriber":
                out["sub_offers"] = out.get("sub_offers", 0) + 1
                out["sfu_candidates"] = sorted(set(out.get("sfu_candidates", []) + candidate_addresses(m["sdp"])))
                await sub.setRemoteDescription(RTCSessionDescription(m["sdp"], "offer"))
                await sub.setLocalDescription(await sub.createAnswer())
                # offer_id echoed (docs/signalling.md): a repeated offer's second answer is then
                # known as stale, not taken for the answer to a newer offer.
                answer = {"type": "answer", "pc": "subscriber", "sdp": sub.localDescription.sdp}
                if "offer_id" in m:
                    answer["offer_id"] = m["offer_id"]
                await send(answer)
            elif t == "data":
                out["data"].append({"from": m["from"], "payload": m["payload"], "via": "signal"})
            elif t == "layer":
                out["layers"].append(m)
                event(m)
            elif t == "active_speakers":
                out.setdefault("speakers", []).append([s["participant_id"] for s in m["speakers"]])
            elif t == "error":
                out["errors"].append(m)
            elif t == "ping":
                await send({"type": "pong", "ts": m.get("ts")})

    tasks.append(asyncio.ensure_future(reader()))
    end = asyncio.get_event_loop().time() + seconds
    stop_file = os.environ.get("STARLING_STOP_FILE")
    while asyncio.get_event_loop().time() < end:
        await asyncio.sleep(0.5)
        if stop_file and os.path.exists(stop_file):
            break
        if control_file:
            await control()
        if dc is not None and dc.readyState == "open" and out["sent_data"] < 20:
            dc.send(f"hello {out['sent_data']} from {identity}")
            out["sent_data"] += 1
    out["frames_sent"] = pattern.n if pattern else 0
    out["states"] = {"pub": pub.connectionState, "sub": sub.connectionState}
    for name, pc in (("pub", pub), ("sub", sub)):
        for st in (await pc.getStats()).values():
            if st.type in ("inbound-rtp", "outbound-rtp"):
                out.setdefault("rtp", []).append({"pc": name, "type": st.type, "kind": st.kind,
                    "packets": getattr(st, "packetsReceived", getattr(st, "packetsSent", None)),
                    "lost": getattr(st, "packetsLost", None)})
    try:
        await send({"type": "leave"})
    except websockets.exceptions.ConnectionClosed:
        out["errors"].append({"type": "error", "code": "client", "message": "WebSocket closed before leave"})
    await asyncio.sleep(0.3)
    for t in tasks:
        t.cancel()
    await pub.close()
    await sub.close()
    await ws.close()
    print(json.dumps(out), flush=True)


asyncio.run(main())
