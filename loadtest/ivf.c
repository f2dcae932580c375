/* IVF reader and writer (see ivf.h). */
#include "ivf.h"

#include <string.h>

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_le32(uint8_t *p, uint32_t v) { put_le16(p, (uint16_t)v); put_le16(p + 2, (uint16_t)(v >> 16)); }

int lt_ivf_parse(const uint8_t *p, size_t n, lt_ivf_info_t *info, lt_ivf_frame_fn fn, void *user) {
    if (n < 32 || memcmp(p, "DKIF", 4) != 0) return RTC_ERR_MALFORMED;
    size_t hdr = le16(p + 6);
    if (hdr < 32 || hdr > n) return RTC_ERR_MALFORMED;
    memcpy(info->fourcc, p + 8, 4);
    info->fourcc[4] = '\0';
    info->width = le16(p + 12);
    info->height = le16(p + 14);
    info->rate = le32(p + 16);
    info->scale = le32(p + 20);
    info->frames = le32(p + 24);
    size_t off = hdr;
    int count = 0;
    while (off < n) {
        if (n - off < 12) return RTC_ERR_MALFORMED;
        size_t len = le32(p + off);
        uint64_t pts = (uint64_t)le32(p + off + 4) | (uint64_t)le32(p + off + 8) << 32;
        off += 12;
        if (len > n - off) return RTC_ERR_MALFORMED;
        if (fn) {
            int rc = fn(user, p + off, len, pts);
            if (rc) return rc;
        }
        off += len;
        if (count == INT32_MAX) return RTC_ERR_LIMIT;
        count++;
    }
    return count;
}

void lt_ivf_write_header(rtc_buf_t *out, const char *fourcc, unsigned w, unsigned h, uint32_t rate,
                         uint32_t scale, uint32_t frames) {
    uint8_t b[32] = {'D', 'K', 'I', 'F'};
    put_le16(b + 4, 0);
    put_le16(b + 6, 32);
    memcpy(b + 8, fourcc, 4);
    put_le16(b + 12, (uint16_t)w);
    put_le16(b + 14, (uint16_t)h);
    put_le32(b + 16, rate);
    put_le32(b + 20, scale);
    put_le32(b + 24, frames);
    rtc_buf_append(out, b, sizeof b);
}

void lt_ivf_write_frame(rtc_buf_t *out, const uint8_t *frame, size_t n, uint64_t pts) {
    uint8_t h[12];
    put_le32(h, (uint32_t)n);
    put_le32(h + 4, (uint32_t)pts);
    put_le32(h + 8, (uint32_t)(pts >> 32));
    rtc_buf_append(out, h, sizeof h);
    if (n) rtc_buf_append(out, frame, n);
}
