#!/usr/bin/python3
"""aiortc (Debian python3-aiortc) against starling-peer, on 127.0.0.1 only.

usage: aiortc_peer.py STARLING_PEER ROLE MODE
  ROLE: "offer"  -> aiortc offers, starling-peer answers
        "answer" -> starling-peer offers, aiortc answers
  MODE: "data"   -> 1000 binary messages of mixed sizes (up to 64 KiB) over an ordered
                    channel; starling-peer echoes them; every echo must come back, in order,
                    intact. Plus aiortc's video reflected by starling-peer and decoded here.
        "media"  -> starling-peer sends its synthetic VP8 (libvpx) + Opus; aiortc decodes it.
Prints one JSON line with the results and timings; exit status 0 on success.

Environment: PC_STARLING_ARGS (extra starling-peer arguments), PC_N_MESSAGES (data mode
message count, default 1000), PC_AIORTC_ICE_SERVER / _USER / _PASS (a "turn:" URL for
aiortc) and PC_AIORTC_RELAY_ONLY=1 (aioice's transport policy RELAY: aiortc 1.4 has no
iceTransportPolicy, aioice has). The selected pair's candidate types of both sides are
reported (aiortc_local/remote_candidate, starling_local/remote_candidate).
"""
import asyncio
import fractions
import json
import os
import subprocess
import sys
import time

import aioice.ice
import logging
if os.environ.get("PC_AIORTC_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)

# Never gather (or send checks to) anything but loopback.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

import aiortc.rtcicetransport  # noqa: E402
from aiortc import (RTCConfiguration, RTCIceServer, RTCPeerConnection,  # noqa: E402
                    RTCSessionDescription, VideoStreamTrack)
from av import VideoFrame  # noqa: E402

N_MESSAGES = int(os.environ.get("PC_N_MESSAGES", "1000"))

# Every ICE connection aiortc makes, so its selected pair can be read afterwards; relay-only
# when asked (aioice's transport_policy, which aiortc 1.4 does not expose).
ICE_CONNECTIONS = []
_Connection = aiortc.rtcicetransport.Connection


def _connection(*a, **kw):
    relay_only = os.environ.get("PC_AIORTC_RELAY_ONLY") == "1"
    if relay_only:
        kw["transport_policy"] = aioice.ice.TransportPolicy.RELAY
    c = _Connection(*a, **kw)
    ICE_CONNECTIONS.append(c)
    if relay_only:
        # aioice 0.8's RELAY policy only leaves host candidates out of the SDP: it still pairs
        # and checks from its host sockets, so the peer learns them as peer-reflexive and the
        # pair chosen is host. Drop the host sockets from the check list once gathered, as a
        # browser's relay policy does, so that every check really leaves through the TURN
        # allocation. (Not closed: aioice reports a closed socket as the connection closed;
        # they go when the process exits.)
        gather = c.gather_candidates

        async def gather_relay_only():
            await gather()
            for p in [p for p in c._protocols if p.local_candidate.type == "host"]:
                c._protocols.remove(p)
        c.gather_candidates = gather_relay_only
    return c


aiortc.rtcicetransport.Connection = _connection


def message(i):
    size = 4 + (i * 7919) % 65533  # 4 .. 65536 bytes, mixed
    body = bytes((i + k) & 0xFF for k in range(4, size))
    return i.to_bytes(4, "big") + body


class MovingVideo(VideoStreamTrack):
    """320x240 frames that change every frame (so the encoder sends real data)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        import numpy
        arr = numpy.zeros((240, 320, 3), numpy.uint8)
        arr[:, :, 0] = (self.n * 5) % 256
        arr[(self.n * 3) % 200:(self.n * 3) % 200 + 40, 100:140, 1] = 255
        self.n += 1
        frame = VideoFrame.from_ndarray(arr, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def read_json(proc, want_type):
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("starling-peer exited early")
        obj = json.loads(line)
        if want_type and obj.get("type"):
            return obj
        if not want_type:
            return obj


async def main():
    peer_bin, role, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    args = [peer_bin, "--bind", "127.0.0.1", "--timeout", "40"] + os.environ.get("PC_STARLING_ARGS", "").split()
    if mode == "data":
        args.append("--echo")
    else:
        args.append("--send-test-media")
    args.append("--offer" if role == "answer" else "--answer")
    if role == "answer":
        if mode == "data":
            args += ["--datachannel", "interop", "--video"]
    proc = await asyncio.create_subprocess_exec(*args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    servers = []
    if os.environ.get("PC_AIORTC_ICE_SERVER"):
        servers.append(RTCIceServer(os.environ["PC_AIORTC_ICE_SERVER"], os.environ.get("PC_AIORTC_ICE_USER"),
                                    os.environ.get("PC_AIORTC_ICE_PASS")))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
    result = {"peer": "aiortc", "role_of_starling": "answerer" if role == "offer" else "offerer", "mode": mode}
    done = asyncio.get_event_loop().create_future()
    echoed = []
    errors = []
    frames = {"n": 0, "w": 0}
    t_connected = {}
    t0 = time.monotonic()

    @pc.on("connectionstatechange")
    def on_state():
        if pc.connectionState == "connected" and "t" not in t_connected:
            t_connected["t"] = time.monotonic()
        if pc.connectionState == "failed" and not done.done():
            done.set_exception(RuntimeError("aiortc: connection failed"))

    async def consume(track):
        while True:
            try:
                f = await track.recv()
            except Exception:
                return
            if track.kind == "video":
                frames["n"] += 1
                frames["w"] = f.width

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    def run_channel(ch):
        @ch.on("message")
        def on_message(m):
            i = len(echoed)
            if m != message(i):
                errors.append(i)
            echoed.append(len(m))
            if len(echoed) == N_MESSAGES and not done.done():
                done.set_result(True)

        def start():
            for i in range(N_MESSAGES):
                ch.send(message(i))

        if ch.readyState == "open":
            start()
        else:
            ch.on("open", start)

    @pc.on("datachannel")
    def on_dc(ch):
        run_channel(ch)

    if role == "offer":
        if mode == "data":
            run_channel(pc.createDataChannel("interop"))
            pc.addTrack(MovingVideo())
        else:
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
        t0 = time.monotonic()
        await pc.setLocalDescription(await pc.createOffer())
        proc.stdin.write((json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}) + "\n").encode())
        await proc.stdin.drain()
        ans = await read_json(proc, True)
        await pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], ans["type"]))
    else:
        offer = await read_json(proc, True)
        t0 = time.monotonic()
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        if mode == "data":
            for t in pc.getTransceivers():
                if t.kind == "video":
                    t.sender.replaceTrack(MovingVideo())
                    t.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        proc.stdin.write((json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}) + "\n").encode())
        await proc.stdin.drain()

    ok = True
    try:
        if mode == "data":
            await asyncio.wait_for(done, 60)
            # let the reflected video run a little
            while frames["n"] < 10 and time.monotonic() - t0 < 30:
                await asyncio.sleep(0.2)
        else:
            while frames["n"] < 30 and time.monotonic() - t0 < 30:
                await asyncio.sleep(0.2)
    except Exception as e:  # noqa: BLE001
        result["error"] = str(e)
        ok = False
    result["connect_ms"] = int((t_connected.get("t", time.monotonic()) - t0) * 1000)
    result["echoed"] = len(echoed)
    result["echo_errors"] = len(errors)
    result["video_frames_decoded"] = frames["n"]
    result["video_width"] = frames["w"]
    for c in ICE_CONNECTIONS:
        pair = c._nominated.get(1)
        if pair:
            result["aiortc_local_candidate"] = pair.local_candidate.type
            result["aiortc_remote_candidate"] = pair.remote_candidate.type
    await pc.close()
    try:
        proc.send_signal(15)
    except ProcessLookupError:
        pass
    summary = {}
    while True:
        line = await proc.stdout.readline()
        if not line:
            break
        obj = json.loads(line)
        if obj.get("event") == "summary":
            summary = obj
    await proc.wait()
    result["starling_connected_ms"] = summary.get("connected_ms")
    stats = summary.get("stats", {})
    for v in stats.values():
        if v.get("type") == "transport" and v.get("selectedCandidatePairId"):
            pair = stats.get(v["selectedCandidatePairId"], {})
            local = stats.get(pair.get("localCandidateId"), {})
            result["starling_local_candidate"] = local.get("candidateType")
            if local.get("relayProtocol"):
                result["starling_relay_protocol"] = local["relayProtocol"]
            result["starling_remote_candidate"] = stats.get(pair.get("remoteCandidateId"), {}).get("candidateType")
    result["starling_dc_received"] = summary.get("dc_messages_received")
    result["starling_rtp_received"] = summary.get("rtp_received")
    if mode == "data":
        ok = ok and len(echoed) == N_MESSAGES and not errors and summary.get("dc_messages_received") == N_MESSAGES
        ok = ok and frames["n"] >= 10 and frames["w"] == 320
    else:
        ok = ok and frames["n"] >= 30 and frames["w"] == 320
    result["ok"] = ok
    print(json.dumps(result), flush=True)
    return 0 if ok else 1


sys.exit(asyncio.run(main()))
