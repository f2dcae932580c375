/*
 * sfu/codec.h — what the SFU needs to know about a video RTP payload without decoding it:
 * does this packet start a keyframe (a point where a subscriber may switch to this stream),
 * does it start a frame, the picture size when a keyframe carries it, and the VP8 payload
 * descriptor fields that must be rewritten when several simulcast streams are spliced into
 * one (picture ID, TL0PICIDX, KEYIDX).
 *
 *   VP8   RFC 7741 payload descriptor; the VP8 payload header's P bit (RFC 6386 9.1) says
 *         keyframe, and a keyframe's uncompressed chunk carries the size.
 *   VP9   RFC 9628 payload descriptor: P=0 on the first packet (B=1) of the base spatial
 *         layer is a keyframe; the scalability structure (V=1) carries the size.
 *   H.264 RFC 6184: a packet carrying a sequence parameter set (single NAL unit, STAP-A/B or
 *         the first FU-A/B fragment) starts a keyframe — a decoder needs the SPS/PPS of the
 *         new stream before its IDR, and browsers send them in front of every IDR. The SPS is
 *         parsed for the picture size.
 *   AV1   AV1 RTP payload format (AOM) aggregation header: N=1 marks the first packet of a
 *         coded video sequence, which starts with a keyframe.
 *
 * Everything here is a pure function over (p, n): never reads past n, never allocates, and
 * returns RTC_ERR_TRUNCATED / RTC_ERR_MALFORMED for input it cannot make sense of (the
 * caller then treats the packet as "not a keyframe" and forwards it as is).
 */
#ifndef STARLING_SFU_CODEC_H
#define STARLING_SFU_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SFU_CODEC_UNKNOWN = 0,
    SFU_CODEC_OPUS,
    SFU_CODEC_VP8,
    SFU_CODEC_VP9,
    SFU_CODEC_H264,
    SFU_CODEC_AV1,
} sfu_codec_t;

/* From an SDP rtpmap encoding name, case-insensitive ("VP8", "h264", "AV1", "opus"). */
sfu_codec_t sfu_codec_from_name(const char *name);
const char *sfu_codec_name(sfu_codec_t c);
bool sfu_codec_is_video(sfu_codec_t c);

typedef struct {
    bool keyframe;     /* the packet starts a keyframe: a decoder can start here */
    bool frame_start;  /* the packet is the first of a frame (when the format says so; for
                          H.264 both a parameter-set packet and the first slice after it
                          say so) */
    uint16_t width;    /* picture size when this packet carries it (keyframe), else 0 */
    uint16_t height;
    int8_t tid;        /* temporal layer id, -1 when the payload does not say */
    int8_t sid;        /* VP9 spatial layer id, -1 when absent */
} sfu_video_info_t;

/* Inspects one RTP payload (after the RTP header and extensions, without padding) of the
 * given codec. Fills *out (zeroed first, tid/sid -1) and returns RTC_OK; RTC_ERR_TRUNCATED or
 * RTC_ERR_MALFORMED when the payload is too short or inconsistent (the caller treats the
 * packet as not a keyframe and forwards it unchanged); RTC_ERR_UNSUPPORTED for a codec that
 * is not video. An H.264 SPS whose size cannot be parsed still counts as a keyframe (width and
 * height stay 0): the decoder, not the SFU, is the judge of the SPS. */
int sfu_video_inspect(sfu_codec_t codec, const uint8_t *p, size_t n, sfu_video_info_t *out);

/* ---- VP8 payload descriptor (RFC 7741 4.2) ---------------------------------------------- */
typedef struct {
    bool start;            /* S: start of a VP8 partition */
    uint8_t pid;           /* partition index */
    bool non_reference;    /* N */
    bool has_picture_id;   /* I */
    bool picture_id_15;    /* M: 15-bit picture ID (else 7-bit) */
    uint16_t picture_id;
    bool has_tl0picidx;    /* L */
    uint8_t tl0picidx;
    bool has_tid;          /* T */
    uint8_t tid;
    bool layer_sync;       /* Y */
    bool has_keyidx;       /* K */
    uint8_t keyidx;
    /* Offsets from the start of the payload, for in-place rewriting (0 when absent). */
    uint8_t picture_id_off;
    uint8_t tl0picidx_off;
    uint8_t tidkey_off;
    uint8_t size;          /* descriptor length: the VP8 payload starts here */
} sfu_vp8_desc_t;

/* Parses the descriptor. RTC_ERR_TRUNCATED when p is shorter than the descriptor it
 * announces (or has no byte after it). */
int sfu_vp8_desc_parse(const uint8_t *p, size_t n, sfu_vp8_desc_t *d);

/* Rewrites, in place, the fields of a descriptor parsed from p with sfu_vp8_desc_parse
 * (same p): picture ID (kept at its width: a 7-bit ID wraps at 128, a 15-bit one at
 * 32768), TL0PICIDX and KEYIDX, each only when present. */
void sfu_vp8_desc_write(uint8_t *p, const sfu_vp8_desc_t *d, uint16_t picture_id,
                        uint8_t tl0picidx, uint8_t keyidx);

/* ---- H.264 sequence parameter set -------------------------------------------------------- */
/* Parses the picture size from an SPS NAL unit (header byte included, emulation prevention
 * bytes still in), applying frame cropping. RTC_ERR_MALFORMED / TRUNCATED on a bad SPS. */
int sfu_h264_sps_size(const uint8_t *nal, size_t n, uint16_t *width, uint16_t *height);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_CODEC_H */
