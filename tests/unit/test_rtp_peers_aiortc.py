"""aiortc side of tests/unit/test_rtp_peers.c: an independent RTP/RTCP implementation.

  describe FILE   each line "rtp HEX" or "rtcp HEX": parse with aiortc, print one canonical
                  description line per input line (ERROR ... when aiortc rejects it)
  make            serialize packets with aiortc and print "rtp|rtcp HEX" lines

Descriptions use the format that describe() in test_rtp_peers.c produces from our parser,
so the C side compares strings. Only what aiortc understands is described: aiortc drops APP
and cannot parse transport-cc feedback, so those are left out on both sides.

Extension ids (shared with the C side): mid 1, rid 2, repaired-rid 3, abs-send-time 4,
toffset 5, audio-level 6, transport-cc 7.
"""
import sys

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

URIS = [
    (1, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    (2, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
    (3, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
    (4, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    (5, "urn:ietf:params:rtp-hdrext:toffset"),
    (6, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    (7, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"),
]


def ext_map():
    m = HeaderExtensionsMap()
    m.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in URIS]))
    return m


def describe_rtp(p):
    s = "rtp pt=%d m=%d seq=%d ts=%d ssrc=%d csrc=%s pad=%d payload=%s" % (
        p.payload_type, p.marker, p.sequence_number, p.timestamp, p.ssrc,
        ",".join(str(c) for c in p.csrc), p.padding_size, p.payload.hex())
    x = p.extensions
    if x.mid is not None:
        s += " mid=" + x.mid
    if x.rtp_stream_id is not None:
        s += " rid=" + x.rtp_stream_id
    if x.repaired_rtp_stream_id is not None:
        s += " rrid=" + x.repaired_rtp_stream_id
    if x.abs_send_time is not None:
        s += " ast=%d" % x.abs_send_time
    if x.transmission_offset is not None:
        s += " tof=%d" % x.transmission_offset
    if x.audio_level is not None:
        s += " lvl=%d:%d" % (1 if x.audio_level[0] else 0, x.audio_level[1])
    if x.transport_sequence_number is not None:
        s += " twcc=%d" % x.transport_sequence_number
    return s


def blocks(reports):
    return "".join(" rb=%d,%d,%d,%d,%d,%d,%d" % (r.ssrc, r.fraction_lost, r.packets_lost,
                   r.highest_sequence, r.jitter, r.lsr, r.dlsr) for r in reports)


def describe_rtcp(pkts):
    out = []
    for p in pkts:
        if isinstance(p, RtcpSrPacket):
            i = p.sender_info
            out.append("SR ssrc=%d ntp=%d rtp=%d pc=%d oc=%d%s" % (
                p.ssrc, i.ntp_timestamp, i.rtp_timestamp, i.packet_count, i.octet_count,
                blocks(p.reports)))
        elif isinstance(p, RtcpRrPacket):
            out.append("RR ssrc=%d%s" % (p.ssrc, blocks(p.reports)))
        elif isinstance(p, RtcpSdesPacket):
            s = "SDES"
            for c in p.chunks:
                s += " c=%d" % c.ssrc
                for t, v in c.items:
                    s += " %d:%s" % (t, v.hex())
            out.append(s)
        elif isinstance(p, RtcpByePacket):
            out.append("BYE" + "".join(" %d" % x for x in p.sources))
        elif isinstance(p, RtcpRtpfbPacket):
            if p.fmt != 1:
                continue
            out.append("NACK ssrc=%d media=%d lost=%s" % (p.ssrc, p.media_ssrc,
                       ",".join(str(x) for x in p.lost)))
        elif isinstance(p, RtcpPsfbPacket):
            if p.fmt == 1:
                out.append("PLI ssrc=%d media=%d" % (p.ssrc, p.media_ssrc))
            elif p.fmt == 15:
                bitrate, ssrcs = unpack_remb_fci(p.fci)
                out.append("REMB ssrc=%d bitrate=%d ssrcs=%s" % (p.ssrc, bitrate,
                           ",".join(str(x) for x in ssrcs)))
            else:
                out.append("PSFB fmt=%d ssrc=%d media=%d fci=%s" % (p.fmt, p.ssrc, p.media_ssrc,
                           p.fci.hex()))
    return "rtcp " + " | ".join(out)


def describe(path):
    m = ext_map()
    for line in open(path):
        kind, hexdata = line.split()
        data = bytes.fromhex(hexdata)
        try:
            if kind == "rtp":
                print(describe_rtp(RtpPacket.parse(data, m)))
            else:
                print(describe_rtcp(RtcpPacket.parse(data)))
        except Exception as e:  # reported to the C side as a mismatch
            print("ERROR %s: %s" % (type(e).__name__, e))


def make():
    m = ext_map()
    p = RtpPacket(payload_type=111, marker=1, sequence_number=4321, timestamp=987654321,
                  ssrc=0x0badcafe, payload=bytes(range(40)))
    p.csrc = [11, 22]
    p.extensions.mid = "audio"
    p.extensions.abs_send_time = 0x123456
    p.extensions.audio_level = (True, 55)
    p.extensions.transport_sequence_number = 65000
    print("rtp " + p.serialize(m).hex())
    p = RtpPacket(payload_type=96, marker=0, sequence_number=7, timestamp=1, ssrc=42,
                  payload=b"\x01\x02\x03")
    p.extensions.rtp_stream_id = "hi"
    p.extensions.repaired_rtp_stream_id = "lo"
    p.extensions.mid = "v1"
    print("rtp " + p.serialize(m).hex())
    p = RtpPacket(payload_type=100, sequence_number=65535, timestamp=4294967295, ssrc=1,
                  payload=b"plain")
    print("rtp " + p.serialize(m).hex())
    rb = RtcpReceiverInfo(ssrc=0x22222222, fraction_lost=12, packets_lost=-3,
                          highest_sequence=70001, jitter=250, lsr=0xabcdef01, dlsr=65536)
    sr = RtcpSrPacket(ssrc=0x11111111, sender_info=RtcpSenderInfo(
        ntp_timestamp=0xe1234567_89abcdef, rtp_timestamp=3000, packet_count=10,
        octet_count=12000), reports=[rb])
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=0x11111111, items=[(1, b"aiortc@test")])])
    bye = RtcpByePacket(sources=[0x11111111, 0x33333333])
    print("rtcp " + (bytes(sr) + bytes(sdes) + bytes(bye)).hex())
    rr = RtcpRrPacket(ssrc=5, reports=[rb, rb])
    nack = RtcpRtpfbPacket(fmt=1, ssrc=5, media_ssrc=0x22222222, lost=[100, 101, 105, 200])
    pli = RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=0x22222222)
    remb = RtcpPsfbPacket(fmt=15, ssrc=5, media_ssrc=0, fci=pack_remb_fci(1234567, [0x22222222]))
    print("rtcp " + (bytes(rr) + bytes(nack) + bytes(pli) + bytes(remb)).hex())


if __name__ == "__main__":
    if sys.argv[1] == "describe":
        describe(sys.argv[2])
    else:
        make()
