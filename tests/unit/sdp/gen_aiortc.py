import asyncio, sys
import aioice.ice
async def _lo(*a, **k): return ['127.0.0.1']
aioice.ice.get_host_addresses = lambda *a, **k: ['127.0.0.1']
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
async def main():
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    print("==== aiortc_offer"); print(pc.localDescription.sdp)
    if len(sys.argv) > 1:
        pc2 = RTCPeerConnection()
        @pc2.on("track")
        def on_track(t): pass
        await pc2.setRemoteDescription(RTCSessionDescription(open(sys.argv[1]).read(), "offer"))
        for t in pc2.getTransceivers():
            if t.kind == "audio": t.sender.replaceTrack(AudioStreamTrack()) if False else None
        await pc2.setLocalDescription(await pc2.createAnswer())
        print("==== aiortc_answer"); print(pc2.localDescription.sdp)
        await pc2.close()
    await pc.close()
asyncio.run(main())
