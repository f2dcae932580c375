#!/usr/bin/python3
"""Makes the simulcast fixtures of the SFU tests with encoders and packetizers nobody here
wrote: libvpx VP8 through aiortc's Vp8Encoder (RFC 7741 packetization with a 15-bit picture
ID), and libx264 through PyAV with aiortc's H.264 packetizer (RFC 6184 STAP-A + FU-A).

Three layers per codec, like a browser's simulcast with rids q/h/f: 80x46, 160x90, 320x180,
30 frames at 30 fps of a moving pattern. Keyframes at different frames per layer (q: 0 and
15, h: 0, 10 and 20, f: 0, 12 and 24), as they come from a real simulcast encoder. Each layer
gets its own SSRC, random initial sequence number and random initial RTP timestamp.

Output files <codec>_<rid>.rtp: records of
    u32 arrival time in ms (big endian), u16 length, the RTP packet (12-byte header, no
    extensions, PT 96 for VP8 / 102 for H.264, marker on the last packet of a frame).

Run with Debian's interpreter: /usr/bin/python3 gen_simulcast.py OUTDIR
"""
import fractions
import random
import struct
import sys

import av
import numpy
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

LAYERS = [("q", 80, 46, (0, 15)), ("h", 160, 90, (0, 10, 20)), ("f", 320, 180, (0, 12, 24))]
FRAMES = 30
rng = random.Random(20261130)


def picture(width, height, i):
    y, x = numpy.mgrid[0:height, 0:width]
    img = numpy.zeros((height, width, 3), numpy.uint8)
    img[..., 0] = (x * 255 // width + i * 8) % 256
    img[..., 1] = (y * 255 // height + i * 4) % 256
    bx = (i * width // FRAMES) % max(1, width - width // 4)
    img[height // 4: height // 2, bx: bx + width // 4, 2] = 255
    frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
    frame.pts = i
    frame.time_base = fractions.Fraction(1, 30)
    return frame


def vp8_frames(width, height, keys):
    enc = Vp8Encoder()
    for i in range(FRAMES):
        payloads, _ = enc.encode(picture(width, height, i), force_keyframe=i in keys)
        yield payloads


def h264_frames(width, height, keys):
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 30)
    ctx.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast"}
    ctx.gop_size = 1000
    packer = H264Encoder()
    for i in range(FRAMES):
        frame = picture(width, height, i)
        frame.pict_type = av.video.frame.PictureType.I if i in keys else av.video.frame.PictureType.NONE
        out = []
        for pkt in ctx.encode(frame):
            pkt.time_base = ctx.time_base
            payloads, _ = packer.pack(pkt)
            out.extend(payloads)
        yield out


def write(path, pt, frames):
    ssrc = rng.getrandbits(32)
    seq = rng.getrandbits(16)
    ts0 = rng.getrandbits(32)
    with open(path, "wb") as f:
        for i, payloads in enumerate(frames):
            arrival = i * 1000 // 30
            for k, payload in enumerate(payloads):
                marker = 0x80 if k == len(payloads) - 1 else 0
                hdr = struct.pack("!BBHII", 0x80, marker | pt, seq, (ts0 + i * 3000) & 0xFFFFFFFF, ssrc)
                pkt = hdr + payload
                f.write(struct.pack("!IH", arrival, len(pkt)) + pkt)
                seq = (seq + 1) & 0xFFFF


def main():
    out = sys.argv[1]
    for rid, w, h, keys in LAYERS:
        write(f"{out}/vp8_{rid}.rtp", 96, vp8_frames(w, h, keys))
        write(f"{out}/h264_{rid}.rtp", 102, h264_frames(w, h, keys))


if __name__ == "__main__":
    main()
