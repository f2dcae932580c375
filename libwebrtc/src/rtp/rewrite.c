/* In-place rewriting of RTP packets for forwarding (SFU), RTX wrap/unwrap, unwrapping of
 * sequence numbers and timestamps. */
#include "rtc/rtp.h"

#define MOD "rtp"

int rtc_rtp_set_ssrc(uint8_t *p, size_t n, uint32_t ssrc) {
    if (!p || n < RTC_RTP_HEADER_LEN) return RTC_ERR_TRUNCATED;
    rtc_put_be32(p + 8, ssrc);
    return RTC_OK;
}

int rtc_rtp_set_seq(uint8_t *p, size_t n, uint16_t seq) {
    if (!p || n < RTC_RTP_HEADER_LEN) return RTC_ERR_TRUNCATED;
    rtc_put_be16(p + 2, seq);
    return RTC_OK;
}

int rtc_rtp_set_timestamp(uint8_t *p, size_t n, uint32_t ts) {
    if (!p || n < RTC_RTP_HEADER_LEN) return RTC_ERR_TRUNCATED;
    rtc_put_be32(p + 4, ts);
    return RTC_OK;
}

int rtc_rtp_set_payload_type(uint8_t *p, size_t n, uint8_t pt) {
    if (!p || n < RTC_RTP_HEADER_LEN) return RTC_ERR_TRUNCATED;
    if (pt > 127) return RTC_ERR_INVALID_ARG;
    p[1] = (uint8_t)((p[1] & 0x80) | pt);
    return RTC_OK;
}

int rtc_rtp_set_marker(uint8_t *p, size_t n, bool marker) {
    if (!p || n < RTC_RTP_HEADER_LEN) return RTC_ERR_TRUNCATED;
    p[1] = (uint8_t)((p[1] & 0x7f) | (marker ? 0x80 : 0));
    return RTC_OK;
}

/* Largest extension block a parsed header can describe: 16 elements of 255 bytes plus their
 * two-byte headers, plus the block header and alignment. */
#define EXT_SCRATCH (RTC_RTP_MAX_EXT * 257 + 8)

/* Replaces the extension block of the packet with exts[0..n) (whose data may point into the
 * packet itself: values are staged in a scratch copy first). Moves the payload and padding.
 * The packet is untouched when it would not fit in cap. */
static int rebuild_ext(uint8_t *p, size_t *len, size_t cap, const rtc_rtp_header_t *h,
                       const rtc_rtp_ext_t *exts, size_t n, bool two_byte) {
    uint8_t scratch[EXT_SCRATCH];
    rtc_rtp_ext_t staged[RTC_RTP_MAX_EXT + 1];
    if (n > RTC_RTP_MAX_EXT) return RTC_ERR_LIMIT; /* keep the result parseable */
    for (size_t i = 0; i < n; i++)
        if (exts[i].id < 1 || (exts[i].len && !exts[i].data)) return RTC_ERR_INVALID_ARG;
    if (!two_byte) {
        for (size_t i = 0; i < n; i++)
            if (exts[i].id > 14 || exts[i].len < 1 || exts[i].len > 16) two_byte = true;
    }
    size_t new_block = 0, used = 0;
    if (n) {
        new_block = 4;
        size_t s = 0;
        for (size_t i = 0; i < n; i++) s += (two_byte ? 2u : 1u) + exts[i].len;
        new_block += (s + 3) & ~(size_t)3;
        if (new_block - 4 > 0xffff * 4) return RTC_ERR_OVERFLOW;
    }
    /* Where the block starts and ends now. */
    size_t start = RTC_RTP_HEADER_LEN + (size_t)h->csrc_count * 4;
    size_t old_block = h->extension ? (size_t)h->ext_block_len + 4 : 0;
    size_t tail = *len - start - old_block; /* payload + padding */
    size_t new_len = start + new_block + tail;
    if (new_len > cap) return RTC_ERR_OVERFLOW;
    for (size_t i = 0; i < n; i++) {
        staged[i] = exts[i];
        if (exts[i].len) {
            if (used + exts[i].len > sizeof scratch) return RTC_ERR_LIMIT;
            memcpy(scratch + used, exts[i].data, exts[i].len);
            staged[i].data = scratch + used;
            used += exts[i].len;
        }
    }
    memmove(p + start + new_block, p + start + old_block, tail);
    if (n) {
        rtc_put_be16(p + start, two_byte ? RTC_RTP_EXT_PROFILE_TWO_BYTE : RTC_RTP_EXT_PROFILE_ONE_BYTE);
        rtc_put_be16(p + start + 2, (uint16_t)((new_block - 4) / 4));
        size_t i = start + 4;
        for (size_t k = 0; k < n; k++) {
            if (two_byte) {
                p[i++] = staged[k].id;
                p[i++] = staged[k].len;
            } else {
                p[i++] = (uint8_t)((staged[k].id << 4) | (staged[k].len - 1));
            }
            if (staged[k].len) memcpy(p + i, staged[k].data, staged[k].len);
            i += staged[k].len;
        }
        memset(p + i, 0, start + new_block - i);
        p[0] |= 0x10;
    } else {
        p[0] &= (uint8_t)~0x10;
    }
    *len = new_len;
    return RTC_OK;
}

static bool block_is_rfc8285(const rtc_rtp_header_t *h) {
    return !h->extension || h->ext_profile == RTC_RTP_EXT_PROFILE_ONE_BYTE ||
           (h->ext_profile & 0xfff0) == RTC_RTP_EXT_PROFILE_TWO_BYTE;
}

int rtc_rtp_ext_set(uint8_t *p, size_t *len, size_t cap, uint8_t id, const void *val, size_t vlen) {
    if (!p || !len || id == 0 || vlen > 255 || (vlen && !val)) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int r = rtc_rtp_header_parse(p, *len, &h);
    if (r < 0) return r;
    if (!block_is_rfc8285(&h)) return RTC_ERR_UNSUPPORTED;
    bool two_byte = h.extension && h.ext_profile != RTC_RTP_EXT_PROFILE_ONE_BYTE;
    const rtc_rtp_ext_t *cur = rtc_rtp_header_find_ext(&h, id);
    if (cur && cur->len == vlen) {
        if (vlen) memmove(p + cur->offset, val, vlen);
        return RTC_OK;
    }
    rtc_rtp_ext_t list[RTC_RTP_MAX_EXT + 1];
    size_t n = 0;
    bool placed = false;
    for (unsigned i = 0; i < h.ext_count; i++) {
        list[n] = h.ext[i];
        if (h.ext[i].id == id) {
            if (placed) continue; /* a duplicate id: keep one */
            list[n].len = (uint8_t)vlen;
            list[n].data = val;
            placed = true;
        }
        n++;
    }
    if (!placed) {
        list[n].id = id;
        list[n].len = (uint8_t)vlen;
        list[n].offset = 0;
        list[n].data = val;
        n++;
    }
    return rebuild_ext(p, len, cap, &h, list, n, two_byte);
}

int rtc_rtp_ext_remove(uint8_t *p, size_t *len, uint8_t id) {
    if (!p || !len || id == 0) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int r = rtc_rtp_header_parse(p, *len, &h);
    if (r < 0) return r;
    if (!block_is_rfc8285(&h)) return RTC_ERR_UNSUPPORTED;
    rtc_rtp_ext_t list[RTC_RTP_MAX_EXT];
    size_t n = 0;
    for (unsigned i = 0; i < h.ext_count; i++)
        if (h.ext[i].id != id) list[n++] = h.ext[i];
    if (n == h.ext_count) return RTC_ERR_NOT_FOUND;
    bool two_byte = h.ext_profile != RTC_RTP_EXT_PROFILE_ONE_BYTE;
    return rebuild_ext(p, len, *len, &h, list, n, two_byte); /* never grows */
}

int rtc_rtp_ext_remap(uint8_t *p, size_t *len, size_t cap, const rtc_rtp_ext_map_t *from,
                      const rtc_rtp_ext_map_t *to) {
    if (!p || !len || !from || !to) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int r = rtc_rtp_header_parse(p, *len, &h);
    if (r < 0) return r;
    if (!h.extension || h.ext_count == 0) return RTC_OK;
    if (!block_is_rfc8285(&h)) return RTC_ERR_UNSUPPORTED;
    bool two_byte = h.ext_profile != RTC_RTP_EXT_PROFILE_ONE_BYTE;
    rtc_rtp_ext_t list[RTC_RTP_MAX_EXT];
    size_t n = 0;
    bool in_place = true;
    for (unsigned i = 0; i < h.ext_count; i++) {
        uint8_t kind = from->kind_of[h.ext[i].id];
        uint8_t nid = kind ? to->id_of[kind] : 0;
        if (!nid) { in_place = false; continue; }
        if (!two_byte && nid > 14) in_place = false;
        list[n] = h.ext[i];
        list[n].id = nid;
        n++;
    }
    if (in_place) {
        /* Same elements at the same offsets: only the id bits change. */
        for (size_t i = 0; i < n; i++) {
            size_t hdr = list[i].offset - (two_byte ? 2u : 1u);
            if (two_byte) p[hdr] = list[i].id;
            else p[hdr] = (uint8_t)((list[i].id << 4) | (p[hdr] & 0x0f));
        }
        return RTC_OK;
    }
    return rebuild_ext(p, len, cap, &h, list, n, two_byte);
}

/* ---- RTX ------------------------------------------------------------------------------ */

int rtc_rtp_rtx_wrap(const uint8_t *pkt, size_t n, uint8_t rtx_pt, uint32_t rtx_ssrc,
                     uint16_t rtx_seq, uint8_t *out, size_t cap) {
    if (!pkt || !out || rtx_pt > 127) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int r = rtc_rtp_header_parse(pkt, n, &h);
    if (r < 0) return r;
    size_t total = h.header_len + 2 + h.payload_len;
    if (total > cap) return RTC_ERR_OVERFLOW;
    memcpy(out, pkt, h.header_len);
    out[0] &= (uint8_t)~0x20; /* the original's padding is not carried */
    out[1] = (uint8_t)((out[1] & 0x80) | rtx_pt);
    rtc_put_be16(out + 2, rtx_seq);
    rtc_put_be32(out + 8, rtx_ssrc);
    rtc_put_be16(out + h.header_len, h.seq);
    memcpy(out + h.header_len + 2, pkt + h.header_len, h.payload_len);
    return (int)total;
}

int rtc_rtp_rtx_unwrap(const uint8_t *rtx, size_t n, uint8_t orig_pt, uint32_t orig_ssrc,
                       uint8_t *out, size_t cap) {
    if (!rtx || !out || orig_pt > 127) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int r = rtc_rtp_header_parse(rtx, n, &h);
    if (r < 0) return r;
    if (h.payload_len < 2) {
        RTC_LOGD(MOD, "rejecting RTX packet: payload has no original sequence number");
        return RTC_ERR_TRUNCATED;
    }
    size_t total = h.header_len + h.payload_len - 2;
    if (total > cap) return RTC_ERR_OVERFLOW;
    memcpy(out, rtx, h.header_len);
    out[0] &= (uint8_t)~0x20;
    out[1] = (uint8_t)((out[1] & 0x80) | orig_pt);
    rtc_put_be16(out + 2, rtc_be16(rtx + h.header_len));
    rtc_put_be32(out + 8, orig_ssrc);
    memcpy(out + h.header_len, rtx + h.header_len + 2, h.payload_len - 2);
    return (int)total;
}

/* ---- unwrapping ----------------------------------------------------------------------- */

int64_t rtc_rtp_unwrap_seq_peek(const rtc_rtp_unwrapper_t *u, uint16_t seq) {
    if (!u->started) return seq;
    int16_t diff = (int16_t)(uint16_t)(seq - (uint16_t)u->last);
    return u->last + diff;
}

int64_t rtc_rtp_unwrap_seq(rtc_rtp_unwrapper_t *u, uint16_t seq) {
    int64_t v = rtc_rtp_unwrap_seq_peek(u, seq);
    u->last = v;
    u->started = true;
    return v;
}

int64_t rtc_rtp_unwrap_ts(rtc_rtp_unwrapper_t *u, uint32_t ts) {
    int64_t v;
    if (!u->started) v = ts;
    else v = u->last + (int32_t)(uint32_t)(ts - (uint32_t)u->last);
    u->last = v;
    u->started = true;
    return v;
}
