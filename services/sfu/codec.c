/* Video payload inspection for forwarding decisions: keyframes, frame starts, picture sizes,
 * VP8 descriptor rewriting. See codec.h for the rules per codec. */
#include "sfu/codec.h"

#include <strings.h>

sfu_codec_t sfu_codec_from_name(const char *name) {
    if (!name) return SFU_CODEC_UNKNOWN;
    if (!strcasecmp(name, "opus")) return SFU_CODEC_OPUS;
    if (!strcasecmp(name, "VP8")) return SFU_CODEC_VP8;
    if (!strcasecmp(name, "VP9")) return SFU_CODEC_VP9;
    if (!strcasecmp(name, "H264")) return SFU_CODEC_H264;
    if (!strcasecmp(name, "AV1") || !strcasecmp(name, "AV1X")) return SFU_CODEC_AV1;
    return SFU_CODEC_UNKNOWN;
}

const char *sfu_codec_name(sfu_codec_t c) {
    switch (c) {
    case SFU_CODEC_OPUS: return "opus";
    case SFU_CODEC_VP8: return "VP8";
    case SFU_CODEC_VP9: return "VP9";
    case SFU_CODEC_H264: return "H264";
    case SFU_CODEC_AV1: return "AV1";
    default: return "unknown";
    }
}

bool sfu_codec_is_video(sfu_codec_t c) {
    return c == SFU_CODEC_VP8 || c == SFU_CODEC_VP9 || c == SFU_CODEC_H264 || c == SFU_CODEC_AV1;
}

/* ------------------------------------------------------------------------------------------
 * VP8 (RFC 7741).
 */
int sfu_vp8_desc_parse(const uint8_t *p, size_t n, sfu_vp8_desc_t *d) {
    memset(d, 0, sizeof *d);
    if (n < 1) return RTC_ERR_TRUNCATED;
    size_t i = 0;
    uint8_t b0 = p[i++];
    d->non_reference = (b0 & 0x20) != 0;
    d->start = (b0 & 0x10) != 0;
    d->pid = b0 & 0x07;
    if (b0 & 0x80) {
        if (i >= n) return RTC_ERR_TRUNCATED;
        uint8_t x = p[i++];
        d->has_picture_id = (x & 0x80) != 0;
        d->has_tl0picidx = (x & 0x40) != 0;
        d->has_tid = (x & 0x20) != 0;
        d->has_keyidx = (x & 0x10) != 0;
        if (d->has_picture_id) {
            if (i >= n) return RTC_ERR_TRUNCATED;
            d->picture_id_off = (uint8_t)i;
            if (p[i] & 0x80) {
                if (i + 1 >= n) return RTC_ERR_TRUNCATED;
                d->picture_id_15 = true;
                d->picture_id = (uint16_t)(((p[i] & 0x7f) << 8) | p[i + 1]);
                i += 2;
            } else {
                d->picture_id = p[i] & 0x7f;
                i += 1;
            }
        }
        if (d->has_tl0picidx) {
            if (i >= n) return RTC_ERR_TRUNCATED;
            d->tl0picidx_off = (uint8_t)i;
            d->tl0picidx = p[i++];
        }
        if (d->has_tid || d->has_keyidx) {
            if (i >= n) return RTC_ERR_TRUNCATED;
            d->tidkey_off = (uint8_t)i;
            d->tid = p[i] >> 6;
            d->layer_sync = (p[i] & 0x20) != 0;
            d->keyidx = p[i] & 0x1f;
            i++;
        }
    }
    /* A descriptor with nothing after it carries no VP8 data: not a valid packet. */
    if (i >= n) return RTC_ERR_TRUNCATED;
    d->size = (uint8_t)i;
    return RTC_OK;
}

void sfu_vp8_desc_write(uint8_t *p, const sfu_vp8_desc_t *d, uint16_t picture_id,
                        uint8_t tl0picidx, uint8_t keyidx) {
    if (d->has_picture_id && d->picture_id_off) {
        if (d->picture_id_15) {
            p[d->picture_id_off] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
            p[d->picture_id_off + 1] = (uint8_t)picture_id;
        } else {
            p[d->picture_id_off] = (uint8_t)(picture_id & 0x7f);
        }
    }
    if (d->has_tl0picidx && d->tl0picidx_off) p[d->tl0picidx_off] = tl0picidx;
    if (d->has_keyidx && d->tidkey_off)
        p[d->tidkey_off] = (uint8_t)((p[d->tidkey_off] & 0xe0) | (keyidx & 0x1f));
}

static int inspect_vp8(const uint8_t *p, size_t n, sfu_video_info_t *out) {
    sfu_vp8_desc_t d;
    int rc = sfu_vp8_desc_parse(p, n, &d);
    if (rc < 0) return rc;
    if (d.has_tid) out->tid = (int8_t)d.tid;
    if (!d.start || d.pid != 0) return RTC_OK;
    out->frame_start = true;
    /* VP8 payload header (RFC 7741 4.3): |Size0|H|VER|P|, P=0 for a keyframe. */
    const uint8_t *f = p + d.size;
    size_t fn = n - d.size;
    out->keyframe = (f[0] & 0x01) == 0;
    /* Keyframe: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height with a
     * 2-bit scale each, little endian (RFC 6386 9.1). */
    if (out->keyframe && fn >= 10) {
        if (f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a) return RTC_ERR_MALFORMED;
        out->width = (uint16_t)((f[6] | (f[7] << 8)) & 0x3fff);
        out->height = (uint16_t)((f[8] | (f[9] << 8)) & 0x3fff);
    }
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * VP9 (RFC 9628 4.2).
 */
static int inspect_vp9(const uint8_t *p, size_t n, sfu_video_info_t *out) {
    if (n < 1) return RTC_ERR_TRUNCATED;
    size_t i = 0;
    uint8_t b0 = p[i++];
    bool I = b0 & 0x80, P = b0 & 0x40, L = b0 & 0x20, F = b0 & 0x10, B = b0 & 0x08;
    bool V = b0 & 0x02;
    if (I) {
        if (i >= n) return RTC_ERR_TRUNCATED;
        i += (p[i] & 0x80) ? 2 : 1;
        if (i > n) return RTC_ERR_TRUNCATED;
    }
    int sid = -1;
    if (L) {
        if (i >= n) return RTC_ERR_TRUNCATED;
        out->tid = (int8_t)(p[i] >> 5);
        sid = (p[i] >> 1) & 0x07;
        out->sid = (int8_t)sid;
        i++;
        if (!F) { /* TL0PICIDX in non-flexible mode */
            if (i >= n) return RTC_ERR_TRUNCATED;
            i++;
        }
    }
    if (F && P) { /* up to 3 reference indices, N bit continues */
        int k = 0;
        for (;;) {
            if (i >= n) return RTC_ERR_TRUNCATED;
            bool more = p[i++] & 0x01;
            if (!more) break;
            if (++k >= 3) return RTC_ERR_MALFORMED;
        }
    }
    if (V) {
        if (i >= n) return RTC_ERR_TRUNCATED;
        uint8_t ss = p[i++];
        unsigned ns = (unsigned)(ss >> 5) + 1;
        bool Y = ss & 0x10, G = ss & 0x08;
        if (Y) {
            if (n - i < 4 * ns) return RTC_ERR_TRUNCATED;
            /* The highest spatial layer's size is the picture a subscriber sees. */
            const uint8_t *last = p + i + 4 * (ns - 1);
            out->width = rtc_be16(last);
            out->height = rtc_be16(last + 2);
            i += 4 * ns;
        }
        if (G) {
            if (i >= n) return RTC_ERR_TRUNCATED;
            unsigned ng = p[i++];
            for (unsigned g = 0; g < ng; g++) {
                if (i >= n) return RTC_ERR_TRUNCATED;
                unsigned r = (p[i++] >> 2) & 0x03;
                if (n - i < r) return RTC_ERR_TRUNCATED;
                i += r;
            }
        }
    }
    /* Like VP8, a descriptor must be followed by data, except that the SS alone may form a
     * packet (pion's "ScalabilityStructure...NoPayload" cases), so i == n is accepted. */
    if (i > n) return RTC_ERR_TRUNCATED;
    bool base = sid <= 0;
    out->frame_start = B && base;
    out->keyframe = B && !P && base;
    if (!out->keyframe) out->width = out->height = 0;
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * H.264 (RFC 6184) and its SPS (ITU-T H.264 7.3.2.1.1).
 */
typedef struct {
    const uint8_t *p;
    size_t n;     /* bytes */
    size_t bit;   /* next bit */
    bool err;
} bitreader_t;

static uint32_t br_bits(bitreader_t *b, unsigned k) {
    uint32_t v = 0;
    for (unsigned j = 0; j < k; j++) {
        if (b->bit >= b->n * 8) { b->err = true; return 0; }
        v = (v << 1) | ((b->p[b->bit >> 3] >> (7 - (b->bit & 7))) & 1u);
        b->bit++;
    }
    return v;
}

/* ue(v): at most 31 leading zeros (larger values do not fit 32 bits and are malformed). */
static uint32_t br_ue(bitreader_t *b) {
    unsigned zeros = 0;
    while (!b->err && br_bits(b, 1) == 0) {
        if (++zeros > 31) { b->err = true; return 0; }
    }
    if (b->err) return 0;
    if (zeros == 0) return 0;
    return ((1u << zeros) - 1u) + br_bits(b, zeros);
}

static int32_t br_se(bitreader_t *b) {
    uint32_t k = br_ue(b);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

#define SPS_MAX_RBSP 256

int sfu_h264_sps_size(const uint8_t *nal, size_t n, uint16_t *width, uint16_t *height) {
    if (n < 4) return RTC_ERR_TRUNCATED;
    if ((nal[0] & 0x1f) != 7) return RTC_ERR_MALFORMED;
    /* Remove emulation prevention bytes (00 00 03 -> 00 00). The fields we read sit in the
     * first few dozen bytes; an SPS longer than SPS_MAX_RBSP is cut (a read past the cut is
     * then reported as truncated). */
    uint8_t rbsp[SPS_MAX_RBSP];
    size_t m = 0;
    unsigned zeros = 0;
    for (size_t i = 1; i < n && m < sizeof rbsp; i++) {
        if (zeros >= 2 && nal[i] == 0x03) { zeros = 0; continue; }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        rbsp[m++] = nal[i];
    }
    bitreader_t b = {rbsp, m, 0, false};
    unsigned profile = br_bits(&b, 8);
    br_bits(&b, 8); /* constraint flags */
    br_bits(&b, 8); /* level */
    if (br_ue(&b) > 31) return RTC_ERR_MALFORMED;
    unsigned chroma_format = 1;
    bool separate_planes = false;
    switch (profile) {
    case 100: case 110: case 122: case 244: case 44: case 83: case 86: case 118: case 128:
    case 138: case 139: case 134: case 135: {
        chroma_format = br_ue(&b);
        if (chroma_format > 3) return RTC_ERR_MALFORMED;
        if (chroma_format == 3) separate_planes = br_bits(&b, 1);
        if (br_ue(&b) > 6 || br_ue(&b) > 6) return RTC_ERR_MALFORMED; /* bit depths - 8 */
        br_bits(&b, 1); /* qpprime_y_zero_transform_bypass */
        if (br_bits(&b, 1)) { /* seq_scaling_matrix_present: skip the lists */
            unsigned lists = chroma_format != 3 ? 8 : 12;
            for (unsigned l = 0; l < lists && !b.err; l++) {
                if (!br_bits(&b, 1)) continue;
                unsigned size = l < 6 ? 16 : 64;
                int last = 8, next = 8;
                for (unsigned j = 0; j < size && !b.err; j++) {
                    if (next != 0) {
                        int32_t delta = br_se(&b);
                        if (delta < -128 || delta > 127) return RTC_ERR_MALFORMED;
                        next = (last + delta + 256) % 256;
                    }
                    last = next == 0 ? last : next;
                }
            }
        }
        break;
    }
    default: break;
    }
    if (br_ue(&b) > 12) return RTC_ERR_MALFORMED; /* log2_max_frame_num_minus4 */
    uint32_t poc_type = br_ue(&b);
    if (poc_type == 0) {
        if (br_ue(&b) > 12) return RTC_ERR_MALFORMED;
    } else if (poc_type == 1) {
        br_bits(&b, 1);
        br_se(&b);
        br_se(&b);
        uint32_t cycle = br_ue(&b);
        if (cycle > 255) return RTC_ERR_MALFORMED;
        for (uint32_t j = 0; j < cycle && !b.err; j++) br_se(&b);
    } else if (poc_type != 2) {
        return RTC_ERR_MALFORMED;
    }
    br_ue(&b);      /* max_num_ref_frames */
    br_bits(&b, 1); /* gaps_in_frame_num_value_allowed */
    uint32_t w_mbs = br_ue(&b) + 1;
    uint32_t h_units = br_ue(&b) + 1;
    unsigned frame_mbs_only = br_bits(&b, 1);
    if (!frame_mbs_only) br_bits(&b, 1); /* mb_adaptive_frame_field */
    br_bits(&b, 1);                      /* direct_8x8_inference */
    uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (br_bits(&b, 1)) {
        cl = br_ue(&b);
        cr = br_ue(&b);
        ct = br_ue(&b);
        cb = br_ue(&b);
    }
    if (b.err) return RTC_ERR_TRUNCATED;
    if (w_mbs > 4096 || h_units > 4096) return RTC_ERR_MALFORMED;
    uint64_t w = (uint64_t)w_mbs * 16;
    uint64_t h = (uint64_t)(2 - frame_mbs_only) * h_units * 16;
    unsigned chroma_array = separate_planes ? 0 : chroma_format;
    unsigned sub_w = (chroma_array == 1 || chroma_array == 2) ? 2 : 1;
    unsigned sub_h = chroma_array == 1 ? 2 : 1;
    uint64_t unit_x = chroma_array == 0 ? 1 : sub_w;
    uint64_t unit_y = (chroma_array == 0 ? 1 : sub_h) * (2 - frame_mbs_only);
    uint64_t crop_w = unit_x * ((uint64_t)cl + cr), crop_h = unit_y * ((uint64_t)ct + cb);
    if (crop_w >= w || crop_h >= h) return RTC_ERR_MALFORMED;
    w -= crop_w;
    h -= crop_h;
    if (w > 0xffff || h > 0xffff) return RTC_ERR_MALFORMED;
    *width = (uint16_t)w;
    *height = (uint16_t)h;
    return RTC_OK;
}

/* A slice NAL unit (1 or 5) whose first_mb_in_slice is 0 begins a picture: ue(v) 0 is a
 * single '1' bit, the first bit after the NAL header. */
static bool h264_nal_starts_frame(const uint8_t *nal, size_t n) {
    unsigned t = nal[0] & 0x1f;
    if (t == 6 || t == 7 || t == 8 || t == 9) return true;
    if ((t == 1 || t == 5) && n >= 2) return (nal[1] & 0x80) != 0;
    return false;
}

static void h264_on_nal(const uint8_t *nal, size_t n, sfu_video_info_t *out) {
    if ((nal[0] & 0x1f) != 7) return;
    out->keyframe = true;
    uint16_t w, h;
    if (sfu_h264_sps_size(nal, n, &w, &h) == RTC_OK) {
        out->width = w;
        out->height = h;
    }
}

static int inspect_h264(const uint8_t *p, size_t n, sfu_video_info_t *out) {
    if (n < 1) return RTC_ERR_TRUNCATED;
    if (p[0] & 0x80) return RTC_ERR_MALFORMED; /* forbidden_zero_bit */
    unsigned type = p[0] & 0x1f;
    if (type >= 1 && type <= 23) {
        out->frame_start = h264_nal_starts_frame(p, n);
        h264_on_nal(p, n, out);
        return RTC_OK;
    }
    if (type == 24 || type == 25) { /* STAP-A, STAP-B (2-byte DON first) */
        size_t i = type == 25 ? 3 : 1;
        if (i >= n) return RTC_ERR_TRUNCATED;
        bool first = true;
        while (i < n) {
            if (n - i < 2) return RTC_ERR_TRUNCATED;
            size_t sz = rtc_be16(p + i);
            i += 2;
            if (sz == 0) return RTC_ERR_MALFORMED;
            if (n - i < sz) return RTC_ERR_TRUNCATED;
            if (first) out->frame_start = h264_nal_starts_frame(p + i, sz);
            first = false;
            h264_on_nal(p + i, sz, out);
            i += sz;
        }
        return RTC_OK;
    }
    if (type == 28 || type == 29) { /* FU-A, FU-B */
        if (n < 2) return RTC_ERR_TRUNCATED;
        bool start = p[1] & 0x80;
        unsigned inner = p[1] & 0x1f;
        size_t off = type == 29 ? 4 : 2;
        if (!start) return RTC_OK;
        if (inner == 7) out->keyframe = true; /* a fragmented SPS: no size from a fragment */
        if (inner == 6 || inner == 7 || inner == 8 || inner == 9) out->frame_start = true;
        else if ((inner == 1 || inner == 5) && n > off) out->frame_start = (p[off] & 0x80) != 0;
        return RTC_OK;
    }
    if (type == 26 || type == 27) return RTC_OK; /* MTAP: not used by WebRTC; no keyframes */
    return RTC_ERR_MALFORMED; /* 0, 30, 31: undefined */
}

/* ------------------------------------------------------------------------------------------
 * AV1 (AOM RTP payload format 4.4): aggregation header |Z|Y| W |N|-|-|-|.
 */
static int inspect_av1(const uint8_t *p, size_t n, sfu_video_info_t *out) {
    if (n < 2) return RTC_ERR_TRUNCATED; /* a header and at least one OBU byte */
    bool z = p[0] & 0x80, nbit = p[0] & 0x08;
    out->frame_start = !z;
    out->keyframe = nbit && !z;
    return RTC_OK;
}

int sfu_video_inspect(sfu_codec_t codec, const uint8_t *p, size_t n, sfu_video_info_t *out) {
    memset(out, 0, sizeof *out);
    out->tid = -1;
    out->sid = -1;
    if (!p && n) return RTC_ERR_INVALID_ARG;
    switch (codec) {
    case SFU_CODEC_VP8: return inspect_vp8(p, n, out);
    case SFU_CODEC_VP9: return inspect_vp9(p, n, out);
    case SFU_CODEC_H264: return inspect_h264(p, n, out);
    case SFU_CODEC_AV1: return inspect_av1(p, n, out);
    default: return RTC_ERR_UNSUPPORTED;
    }
}
