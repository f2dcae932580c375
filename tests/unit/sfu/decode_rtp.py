#!/usr/bin/python3
"""Decodes an RTP stream written by an SFU test with real decoders (libvpx through aiortc's
Vp8Decoder, FFmpeg's H.264 through aiortc's H264Decoder), after checking it the way a
receiver would: one SSRC, sequence numbers consecutive (no gap, no duplicate), timestamps
never going back.

Input: records of u32 arrival ms, u16 length, RTP packet (the format of gen_simulcast.py).
Output: one line per frame, "WxH" when it decoded or "FAIL" when it did not; a summary line
"frames N decoded M"; exit status 0 only when the stream is clean and every frame decoded.

Usage: /usr/bin/python3 decode_rtp.py vp8|h264 FILE
"""
import struct
import sys

from aiortc.codecs.h264 import H264Decoder, h264_depayload
from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame


def payload_of(p):
    """The RTP payload: after CSRCs and the header extension block, without padding."""
    off = 12 + 4 * (p[0] & 0x0F)
    if p[0] & 0x10:
        words = struct.unpack_from("!H", p, off + 2)[0]
        off += 4 + 4 * words
    end = len(p) - (p[-1] if p[0] & 0x20 else 0)
    return p[off:end]


def main():
    codec, path = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    pkts = []
    i = 0
    while i < len(data):
        _, n = struct.unpack_from("!IH", data, i)
        pkts.append(data[i + 6: i + 6 + n])
        i += 6 + n
    ok = True
    ssrcs = {struct.unpack_from("!I", p, 8)[0] for p in pkts}
    if len(ssrcs) != 1:
        print(f"error: {len(ssrcs)} SSRCs")
        ok = False
    frames = []  # (timestamp, [payloads])
    prev_seq = prev_ts = None
    for p in pkts:
        seq, ts = struct.unpack_from("!HI", p, 2)
        if prev_seq is not None and seq != (prev_seq + 1) & 0xFFFF:
            print(f"error: seq {prev_seq} -> {seq}")
            ok = False
        if prev_ts is not None and ((ts - prev_ts) & 0xFFFFFFFF) >= 0x80000000:
            print(f"error: timestamp went back {prev_ts} -> {ts}")
            ok = False
        prev_seq, prev_ts = seq, ts
        payload = payload_of(p)
        depay = vp8_depayload if codec == "vp8" else h264_depayload
        if not frames or frames[-1][0] != ts:
            frames.append((ts, []))
        frames[-1][1].append(depay(payload))
    dec = Vp8Decoder() if codec == "vp8" else H264Decoder()
    decoded = 0
    for ts, parts in frames:
        out = dec.decode(JitterFrame(data=b"".join(parts), timestamp=ts))
        if out:
            decoded += 1
            print(f"{out[0].width}x{out[0].height}")
        else:
            print("FAIL")
    print(f"frames {len(frames)} decoded {decoded}")
    sys.exit(0 if ok and decoded == len(frames) else 1)


if __name__ == "__main__":
    main()
