/* In-place RTP header view for the forwarding path (RFC 3550, RFC 8285). */
#include "sfu/rtpview.h"

int sfu_rtp_parse(const uint8_t *p, size_t n, sfu_rtp_t *h) {
    memset(h, 0, sizeof *h);
    if (n < 12) return RTC_ERR_TRUNCATED;
    if (n > 0xffff) return RTC_ERR_MALFORMED;
    if ((p[0] >> 6) != 2) return RTC_ERR_MALFORMED;
    bool padding = p[0] & 0x20, ext = p[0] & 0x10;
    size_t cc = p[0] & 0x0f;
    h->marker = p[1] & 0x80;
    h->pt = p[1] & 0x7f;
    h->seq = rtc_be16(p + 2);
    h->ts = rtc_be32(p + 4);
    h->ssrc = rtc_be32(p + 8);
    size_t off = 12 + 4 * cc;
    if (off > n) return RTC_ERR_TRUNCATED;
    if (ext) {
        if (n - off < 4) return RTC_ERR_TRUNCATED;
        h->ext_profile = rtc_be16(p + off);
        size_t len = (size_t)rtc_be16(p + off + 2) * 4;
        off += 4;
        if (n - off < len) return RTC_ERR_TRUNCATED;
        h->ext_off = (uint16_t)off;
        h->ext_len = (uint16_t)len;
        off += len;
    }
    size_t end = n;
    if (padding) {
        uint8_t pad = p[n - 1];
        if (pad == 0 || pad > end - off) return RTC_ERR_MALFORMED;
        h->padding_len = pad;
        end -= pad;
    }
    h->payload_off = (uint16_t)off;
    h->payload_len = (uint16_t)(end - off);
    return RTC_OK;
}

int sfu_rtp_find_ext(const uint8_t *p, const sfu_rtp_t *h, uint8_t id, size_t *off) {
    if (!h->ext_profile || id == 0) return -1;
    const uint8_t *b = p + h->ext_off;
    size_t n = h->ext_len, i = 0;
    if (h->ext_profile == 0xBEDE) {
        while (i < n) {
            uint8_t e = b[i];
            if (e == 0) { i++; continue; }       /* padding */
            uint8_t eid = e >> 4;
            size_t len = (size_t)(e & 0x0f) + 1;
            if (eid == 15) return -1;             /* RFC 8285 4.2: stop */
            if (n - i - 1 < len) return -1;
            if (eid == id) { *off = h->ext_off + i + 1; return (int)len; }
            i += 1 + len;
        }
    } else if ((h->ext_profile & 0xfff0) == 0x1000) {
        while (i < n) {
            uint8_t eid = b[i];
            if (eid == 0) { i++; continue; }
            if (n - i < 2) return -1;
            size_t len = b[i + 1];
            if (n - i - 2 < len) return -1;
            if (eid == id) { *off = h->ext_off + i + 2; return (int)len; }
            i += 2 + len;
        }
    }
    return -1;
}
