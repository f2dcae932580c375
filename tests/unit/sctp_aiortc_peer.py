#!/usr/bin/python3
"""aiortc's own SCTP (RTCSctpTransport, pure Python, independent of usrsctp) as a peer for
tests/unit/test_sctp_aiortc.c. No networking: SCTP packets travel over stdin/stdout as
frames (4-byte big-endian length + packet); DTLS is replaced by a stand-in object exposing
the hooks RTCSctpTransport uses (_register_data_receiver, _send_data, .transport.role).

Modes (argv[1]):
  server | client  run an association: "server" makes aiortc the DTLS server (ICE controlling,
                   SCTP client, odd channel ids), "client" the DTLS client (even ids).
                   aiortc opens "py-chan" and sends three messages on it; it echoes every
                   message received on any channel (same type); "close-please" makes it close
                   the channel it arrived on. Negotiated channel id 6 "neg" on both sides.
  dcep             print DATA_CHANNEL_OPEN bytes built by aiortc for several channel
                   configurations, one per line: label|protocol|ordered|maxRetransmits|
                   maxPacketLifeTime|hex  (empty field = None).
"""
import asyncio
import struct
import sys

from aiortc.rtcdatachannel import RTCDataChannel, RTCDataChannelParameters
from aiortc.rtcsctptransport import RTCSctpCapabilities, RTCSctpTransport


class FakeIce:
    def __init__(self, role):
        self.role = role


class FakeDtls:
    """What RTCSctpTransport needs from RTCDtlsTransport, minus the encryption."""

    def __init__(self, ice_role, out):
        self.state = "connected"
        self.transport = FakeIce(ice_role)
        self._data_receiver = None
        self._out = out

    def _register_data_receiver(self, receiver):
        self._data_receiver = receiver

    def _unregister_data_receiver(self, receiver):
        if self._data_receiver == receiver:
            self._data_receiver = None

    async def _send_data(self, data):
        self._out.write(struct.pack("!I", len(data)) + data)
        self._out.flush()


def log(*args):
    print("aiortc-peer:", *args, file=sys.stderr, flush=True)


def echo_on(channel):
    @channel.on("message")
    def on_message(message):
        if message == "close-please":
            log("closing", channel.label)
            channel.close()
            return
        channel.send(message)


async def run_association(mode):
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # aiortc as DTLS server = ICE controlling = SCTP "client" (sends INIT, odd ids)
    dtls = FakeDtls("controlling" if mode == "server" else "controlled", sys.stdout.buffer)
    sctp = RTCSctpTransport(dtls)

    @sctp.on("datachannel")
    def on_datachannel(channel):
        log("remote opened", channel.id, channel.label, channel.protocol, channel.ordered,
            channel.maxRetransmits, channel.maxPacketLifeTime)
        echo_on(channel)

    await sctp.start(RTCSctpCapabilities(maxMessageSize=262144), 5000)
    mine = RTCDataChannel(sctp, RTCDataChannelParameters(label="py-chan", protocol="py-proto"))
    neg = RTCDataChannel(sctp, RTCDataChannelParameters(label="neg", negotiated=True, id=6))
    echo_on(mine)
    echo_on(neg)

    @mine.on("open")
    def on_open():
        log("py-chan open, id", mine.id)
        mine.send("hello from aiortc")
        mine.send(b"\x00\x01binary")
        mine.send("")

    while True:
        try:
            hdr = await reader.readexactly(4)
            data = await reader.readexactly(struct.unpack("!I", hdr)[0])
        except asyncio.IncompleteReadError:
            break
        if dtls._data_receiver:
            await dtls._data_receiver._handle_data(data)
    await sctp.stop()


async def dump_dcep():
    class Sink(FakeDtls):
        async def _send_data(self, data):
            pass

    sctp = RTCSctpTransport(Sink("controlling", None))
    configs = [
        dict(label="chat", protocol=""),
        dict(label="", protocol=""),
        dict(label="files", protocol="x-proto", ordered=False),
        dict(label="rexmit", protocol="p", maxRetransmits=3),
        dict(label="rexmit-u", protocol="", ordered=False, maxRetransmits=0),
        dict(label="timed", protocol="q", maxPacketLifeTime=1500),
        dict(label="timed-u", protocol="proto", ordered=False, maxPacketLifeTime=65535),
    ]
    for c in configs:
        RTCDataChannel(sctp, RTCDataChannelParameters(**c))
    for channel, ppid, data in list(sctp._data_channel_queue):
        assert ppid == 50
        p = channel
        fields = [p.label, p.protocol, "1" if p.ordered else "0",
                  "" if p.maxRetransmits is None else str(p.maxRetransmits),
                  "" if p.maxPacketLifeTime is None else str(p.maxPacketLifeTime), data.hex()]
        print("|".join(fields))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "server"
    if mode == "dcep":
        asyncio.run(dump_dcep())
    else:
        asyncio.run(run_association(mode))
