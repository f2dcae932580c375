# Captures aiortc SDP for tests/unit/test_sdp_fixtures.h. Run by hand with Debian's python3:
#   /usr/bin/python3 gen_aiortc.py [offer-to-answer.sdp]
# aioice is restricted to 127.0.0.1 so host candidates (and any check) stay on loopback.
import asyncio
import sys

import aioice.ice

aioice.ice.get_host_addresses = lambda *a, **k: ["127.0.0.1"]

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402


async def main():
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    print("==== aiortc_offer")
    print(pc.localDescription.sdp)
    if len(sys.argv) > 1:
        pc2 = RTCPeerConnection()
        await pc2.setRemoteDescription(RTCSessionDescription(open(sys.argv[1]).read(), "offer"))
        await pc2.setLocalDescription(await pc2.createAnswer())
        print("==== aiortc_answer")
        print(pc2.localDescription.sdp)
        await pc2.close()
    await pc.close()


asyncio.run(main())
