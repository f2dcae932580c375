/* RTP fixed header, CSRCs, padding and RFC 8285 header extensions: parse and write. */
#include "rtc/rtp.h"

#define MOD "rtp"

bool rtc_rtp_is_rtp_or_rtcp(const uint8_t *p, size_t n) {
    return p && n >= 2 && p[0] >= 128 && p[0] <= 191;
}

bool rtc_rtp_is_rtcp(const uint8_t *p, size_t n) {
    return rtc_rtp_is_rtp_or_rtcp(p, n) && p[1] >= 192 && p[1] <= 223;
}

static int bad(int err, const char *why) {
    RTC_LOGD(MOD, "rejecting RTP packet: %s", why);
    return err;
}

/* Walks the elements of a one-byte (0xBEDE) or two-byte (0x100X) block. */
static int parse_elements(const uint8_t *pkt, size_t start, size_t len, bool two_byte,
                          rtc_rtp_header_t *h) {
    size_t i = start, end = start + len;
    while (i < end) {
        uint8_t b = pkt[i];
        if (b == 0) { i++; continue; } /* padding between elements */
        uint8_t id, elen;
        if (!two_byte) {
            id = b >> 4;
            elen = (uint8_t)((b & 0x0f) + 1);
            if (id == 15) break; /* RFC 8285 4.2: stop processing the block */
            i += 1;
        } else {
            if (end - i < 2) return bad(RTC_ERR_TRUNCATED, "two-byte extension header cut");
            id = b;
            elen = pkt[i + 1];
            i += 2;
        }
        if (end - i < elen) return bad(RTC_ERR_TRUNCATED, "extension element overruns block");
        if (h->ext_count >= RTC_RTP_MAX_EXT) return bad(RTC_ERR_LIMIT, "too many extension elements");
        rtc_rtp_ext_t *e = &h->ext[h->ext_count++];
        e->id = id;
        e->len = elen;
        e->offset = (uint16_t)i;
        e->data = pkt + i;
        i += elen;
    }
    return RTC_OK;
}

int rtc_rtp_header_parse(const uint8_t *p, size_t n, rtc_rtp_header_t *h) {
    if (!p || !h) return RTC_ERR_INVALID_ARG;
    if (n < RTC_RTP_HEADER_LEN) return bad(RTC_ERR_TRUNCATED, "shorter than the fixed header");
    if ((p[0] >> 6) != 2) return bad(RTC_ERR_MALFORMED, "version is not 2");
    h->padding = (p[0] & 0x20) != 0;
    h->extension = (p[0] & 0x10) != 0;
    h->csrc_count = p[0] & 0x0f;
    h->marker = (p[1] & 0x80) != 0;
    h->payload_type = p[1] & 0x7f;
    h->seq = rtc_be16(p + 2);
    h->timestamp = rtc_be32(p + 4);
    h->ssrc = rtc_be32(p + 8);
    h->ext_profile = 0;
    h->ext_block_offset = 0;
    h->ext_block_len = 0;
    h->ext_count = 0;
    h->padding_len = 0;
    size_t off = RTC_RTP_HEADER_LEN;
    if (n - off < (size_t)h->csrc_count * 4) return bad(RTC_ERR_TRUNCATED, "CSRC list cut");
    for (unsigned i = 0; i < h->csrc_count; i++, off += 4) h->csrc[i] = rtc_be32(p + off);
    if (h->extension) {
        if (n - off < 4) return bad(RTC_ERR_TRUNCATED, "extension header cut");
        h->ext_profile = rtc_be16(p + off);
        size_t blen = (size_t)rtc_be16(p + off + 2) * 4;
        if (n - off - 4 < blen) return bad(RTC_ERR_TRUNCATED, "extension block overruns packet");
        h->ext_block_offset = (uint16_t)off;
        h->ext_block_len = (uint16_t)blen;
        off += 4;
        int r = RTC_OK;
        if (h->ext_profile == RTC_RTP_EXT_PROFILE_ONE_BYTE) r = parse_elements(p, off, blen, false, h);
        else if ((h->ext_profile & 0xfff0) == RTC_RTP_EXT_PROFILE_TWO_BYTE) r = parse_elements(p, off, blen, true, h);
        if (r < 0) return r;
        off += blen;
    }
    size_t end = n;
    if (h->padding) {
        if (end == off) return bad(RTC_ERR_MALFORMED, "padding bit set without padding");
        uint8_t pad = p[n - 1];
        if (pad == 0) return bad(RTC_ERR_MALFORMED, "padding count is zero");
        if (pad > end - off) return bad(RTC_ERR_MALFORMED, "padding longer than payload");
        h->padding_len = pad;
        end -= pad;
    }
    h->header_len = off;
    h->payload_len = end - off;
    return RTC_OK;
}

const rtc_rtp_ext_t *rtc_rtp_header_find_ext(const rtc_rtp_header_t *h, uint8_t id) {
    if (!h || id == 0) return NULL;
    for (unsigned i = 0; i < h->ext_count; i++)
        if (h->ext[i].id == id) return &h->ext[i];
    return NULL;
}

static bool fits_one_byte(const rtc_rtp_ext_t *exts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (exts[i].id < 1 || exts[i].id > 14 || exts[i].len < 1 || exts[i].len > 16) return false;
    return true;
}

/* Size of the extension block including its 4-byte header, or 0 when n_ext == 0. */
static size_t ext_block_size(const rtc_rtp_ext_t *exts, size_t n_ext, bool two_byte) {
    if (n_ext == 0) return 0;
    size_t s = 0;
    for (size_t i = 0; i < n_ext; i++) s += (two_byte ? 2u : 1u) + exts[i].len;
    return 4 + ((s + 3) & ~(size_t)3);
}

/* Writes the extension block (header + elements + zero padding) at out; returns its size. */
static size_t write_ext_block(const rtc_rtp_ext_t *exts, size_t n_ext, bool two_byte, uint8_t *out) {
    size_t total = ext_block_size(exts, n_ext, two_byte);
    rtc_put_be16(out, two_byte ? RTC_RTP_EXT_PROFILE_TWO_BYTE : RTC_RTP_EXT_PROFILE_ONE_BYTE);
    rtc_put_be16(out + 2, (uint16_t)((total - 4) / 4));
    size_t i = 4;
    for (size_t k = 0; k < n_ext; k++) {
        if (two_byte) {
            out[i++] = exts[k].id;
            out[i++] = exts[k].len;
        } else {
            out[i++] = (uint8_t)((exts[k].id << 4) | (exts[k].len - 1));
        }
        if (exts[k].len) memmove(out + i, exts[k].data, exts[k].len);
        i += exts[k].len;
    }
    memset(out + i, 0, total - i);
    return total;
}

static int check_exts(const rtc_rtp_ext_t *exts, size_t n_ext, bool *two_byte) {
    if (n_ext > 0 && !exts) return RTC_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_ext; i++) {
        if (exts[i].id == 0) return RTC_ERR_INVALID_ARG;
        if (exts[i].len && !exts[i].data) return RTC_ERR_INVALID_ARG;
    }
    if (!*two_byte && !fits_one_byte(exts, n_ext)) *two_byte = true;
    return RTC_OK;
}

int rtc_rtp_header_write(const rtc_rtp_header_t *h, const rtc_rtp_ext_t *exts, size_t n_ext,
                         bool two_byte, uint8_t *out, size_t cap) {
    if (!h || !out || h->csrc_count > RTC_RTP_MAX_CSRC || h->payload_type > 127)
        return RTC_ERR_INVALID_ARG;
    int r = check_exts(exts, n_ext, &two_byte);
    if (r < 0) return r;
    size_t need = RTC_RTP_HEADER_LEN + (size_t)h->csrc_count * 4 + ext_block_size(exts, n_ext, two_byte);
    if (need > cap) return RTC_ERR_OVERFLOW;
    out[0] = (uint8_t)(0x80 | (h->padding ? 0x20 : 0) | (n_ext ? 0x10 : 0) | h->csrc_count);
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    rtc_put_be16(out + 2, h->seq);
    rtc_put_be32(out + 4, h->timestamp);
    rtc_put_be32(out + 8, h->ssrc);
    size_t off = RTC_RTP_HEADER_LEN;
    for (unsigned i = 0; i < h->csrc_count; i++, off += 4) rtc_put_be32(out + off, h->csrc[i]);
    if (n_ext) off += write_ext_block(exts, n_ext, two_byte, out + off);
    return (int)off;
}

int rtc_rtp_packet_write(const rtc_rtp_header_t *h, const rtc_rtp_ext_t *exts, size_t n_ext,
                         bool two_byte, const uint8_t *payload, size_t payload_len,
                         uint8_t padding_len, uint8_t *out, size_t cap) {
    if (!h || (payload_len && !payload)) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t hh = *h;
    hh.padding = padding_len > 0;
    int hl = rtc_rtp_header_write(&hh, exts, n_ext, two_byte, out, cap);
    if (hl < 0) return hl;
    size_t total = (size_t)hl + payload_len + padding_len;
    if (total > cap || total > INT32_MAX) return RTC_ERR_OVERFLOW;
    if (payload_len) memcpy(out + hl, payload, payload_len);
    if (padding_len) {
        memset(out + hl + payload_len, 0, padding_len);
        out[total - 1] = padding_len;
    }
    return (int)total;
}

/* ---- extension map -------------------------------------------------------------------- */

static const char *const ext_uris[RTC_RTP_EXT_KIND_COUNT] = {
    [RTC_RTP_EXT_NONE] = NULL,
    [RTC_RTP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [RTC_RTP_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [RTC_RTP_EXT_REPAIRED_RID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    [RTC_RTP_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [RTC_RTP_EXT_TWCC] = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [RTC_RTP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    [RTC_RTP_EXT_VIDEO_ORIENTATION] = "urn:3gpp:video-orientation",
    [RTC_RTP_EXT_TOFFSET] = "urn:ietf:params:rtp-hdrext:toffset",
};

const char *rtc_rtp_ext_uri(rtc_rtp_ext_kind_t kind) {
    return (unsigned)kind < RTC_RTP_EXT_KIND_COUNT ? ext_uris[kind] : NULL;
}

rtc_rtp_ext_kind_t rtc_rtp_ext_kind_from_uri(const char *uri) {
    if (!uri) return RTC_RTP_EXT_NONE;
    for (int k = 1; k < RTC_RTP_EXT_KIND_COUNT; k++)
        if (strcmp(uri, ext_uris[k]) == 0) return (rtc_rtp_ext_kind_t)k;
    return RTC_RTP_EXT_NONE;
}

void rtc_rtp_ext_map_init(rtc_rtp_ext_map_t *m) { memset(m, 0, sizeof *m); }

int rtc_rtp_ext_map_set(rtc_rtp_ext_map_t *m, rtc_rtp_ext_kind_t kind, uint8_t id) {
    if (!m || id == 0 || kind <= RTC_RTP_EXT_NONE || kind >= RTC_RTP_EXT_KIND_COUNT)
        return RTC_ERR_INVALID_ARG;
    uint8_t old_id = m->id_of[kind];
    if (old_id) m->kind_of[old_id] = RTC_RTP_EXT_NONE;
    uint8_t old_kind = m->kind_of[id];
    if (old_kind) m->id_of[old_kind] = 0;
    m->id_of[kind] = id;
    m->kind_of[id] = (uint8_t)kind;
    return RTC_OK;
}

const rtc_rtp_ext_t *rtc_rtp_find_ext_kind(const rtc_rtp_header_t *h, const rtc_rtp_ext_map_t *m,
                                           rtc_rtp_ext_kind_t kind) {
    if (!m) return NULL;
    return rtc_rtp_header_find_ext(h, rtc_rtp_ext_map_id(m, kind));
}

/* ---- typed values --------------------------------------------------------------------- */

int rtc_rtp_ext_parse_sdes(const rtc_rtp_ext_t *e, char *out, size_t cap) {
    if (!e || !out) return RTC_ERR_INVALID_ARG;
    if (e->len == 0) return bad(RTC_ERR_MALFORMED, "empty SDES extension");
    if (cap <= e->len) return RTC_ERR_OVERFLOW;
    for (unsigned i = 0; i < e->len; i++) {
        uint8_t c = e->data[i];
        if (c < 0x21 || c > 0x7e) return bad(RTC_ERR_MALFORMED, "SDES extension has a non-printable byte");
        out[i] = (char)c;
    }
    out[e->len] = 0;
    return RTC_OK;
}

int rtc_rtp_ext_write_sdes(const char *s, uint8_t *out, size_t cap) {
    if (!s || !out) return RTC_ERR_INVALID_ARG;
    size_t n = strlen(s);
    if (n == 0 || n > 255) return RTC_ERR_INVALID_ARG;
    if (n > cap) return RTC_ERR_OVERFLOW;
    memcpy(out, s, n);
    return (int)n;
}

int rtc_rtp_ext_parse_abs_send_time(const rtc_rtp_ext_t *e, uint32_t *v) {
    if (!e || !v) return RTC_ERR_INVALID_ARG;
    if (e->len != 3) return bad(RTC_ERR_MALFORMED, "abs-send-time is not 3 bytes");
    *v = rtc_be24(e->data);
    return RTC_OK;
}

int rtc_rtp_ext_write_abs_send_time(uint32_t v, uint8_t out[3]) {
    rtc_put_be24(out, v & 0xffffff);
    return 3;
}

uint32_t rtc_rtp_abs_send_time_from_us(int64_t us) {
    /* 6.18 fixed point: seconds << 18, kept to 24 bits. Round to nearest. */
    int64_t m = us % (64 * RTC_US_PER_SEC);
    if (m < 0) m += 64 * RTC_US_PER_SEC;
    return (uint32_t)(((((uint64_t)m) << 18) + 500000) / 1000000) & 0xffffff;
}

int rtc_rtp_ext_parse_twcc(const rtc_rtp_ext_t *e, uint16_t *seq) {
    if (!e || !seq) return RTC_ERR_INVALID_ARG;
    if (e->len != 2) return bad(RTC_ERR_MALFORMED, "transport-cc extension is not 2 bytes");
    *seq = rtc_be16(e->data);
    return RTC_OK;
}

int rtc_rtp_ext_write_twcc(uint16_t seq, uint8_t out[2]) {
    rtc_put_be16(out, seq);
    return 2;
}

int rtc_rtp_ext_parse_audio_level(const rtc_rtp_ext_t *e, bool *voice, uint8_t *level) {
    if (!e || !voice || !level) return RTC_ERR_INVALID_ARG;
    /* RFC 6464 allows the one-byte value padded to more bytes in the two-byte form. */
    if (e->len < 1) return bad(RTC_ERR_MALFORMED, "audio level extension is empty");
    *voice = (e->data[0] & 0x80) != 0;
    *level = e->data[0] & 0x7f;
    return RTC_OK;
}

int rtc_rtp_ext_write_audio_level(bool voice, uint8_t level, uint8_t out[1]) {
    if (level > 127) return RTC_ERR_INVALID_ARG;
    out[0] = (uint8_t)((voice ? 0x80 : 0) | level);
    return 1;
}

int rtc_rtp_ext_parse_video_orientation(const rtc_rtp_ext_t *e, rtc_rtp_video_orientation_t *vo) {
    if (!e || !vo) return RTC_ERR_INVALID_ARG;
    if (e->len < 1) return bad(RTC_ERR_MALFORMED, "video orientation extension is empty");
    uint8_t b = e->data[0];
    vo->camera_back = (b & 0x08) != 0;
    vo->flip = (b & 0x04) != 0;
    vo->rotation = (uint16_t)((b & 0x03) * 90);
    return RTC_OK;
}

int rtc_rtp_ext_write_video_orientation(const rtc_rtp_video_orientation_t *vo, uint8_t out[1]) {
    if (!vo || vo->rotation % 90 || vo->rotation > 270) return RTC_ERR_INVALID_ARG;
    out[0] = (uint8_t)((vo->camera_back ? 0x08 : 0) | (vo->flip ? 0x04 : 0) | (vo->rotation / 90));
    return 1;
}

int rtc_rtp_ext_parse_toffset(const rtc_rtp_ext_t *e, int32_t *v) {
    if (!e || !v) return RTC_ERR_INVALID_ARG;
    if (e->len != 3) return bad(RTC_ERR_MALFORMED, "toffset is not 3 bytes");
    uint32_t u = rtc_be24(e->data);
    *v = (u & 0x800000) ? (int32_t)(u | 0xff000000u) : (int32_t)u;
    return RTC_OK;
}
