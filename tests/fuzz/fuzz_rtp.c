/* libFuzzer target: RTP header parse, typed extension values, re-encoding, in-place
 * extension rewriting, RTX wrap/unwrap. Invariants are checked with __builtin_trap(). */
#include <stdlib.h>

#include "rtc/rtp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) { rtc_log_set_level(RTC_LOG_OFF); quiet = true; }
    rtc_rtp_header_t h;
    if (rtc_rtp_header_parse(data, size, &h) != RTC_OK) return 0;
    CHECK(h.header_len + h.payload_len + h.padding_len == size);
    char s[256];
    for (unsigned i = 0; i < h.ext_count; i++) {
        const rtc_rtp_ext_t *e = &h.ext[i];
        CHECK(e->offset + e->len <= size && e->data == data + e->offset);
        uint32_t u32; uint16_t u16; int32_t i32; bool b; uint8_t u8; rtc_rtp_video_orientation_t vo;
        (void)rtc_rtp_ext_parse_sdes(e, s, sizeof s);
        (void)rtc_rtp_ext_parse_abs_send_time(e, &u32);
        (void)rtc_rtp_ext_parse_twcc(e, &u16);
        (void)rtc_rtp_ext_parse_audio_level(e, &b, &u8);
        (void)rtc_rtp_ext_parse_video_orientation(e, &vo);
        (void)rtc_rtp_ext_parse_toffset(e, &i32);
    }
    /* Re-encode from the parsed fields and parse again: same header values. */
    size_t cap = size + 4096;
    uint8_t *out = malloc(cap);
    if (!out) return 0;
    bool rfc8285 = h.extension && (h.ext_profile == 0xbede || (h.ext_profile & 0xfff0) == 0x1000);
    if (!h.extension || rfc8285) {
        int n = rtc_rtp_packet_write(&h, h.ext, h.ext_count, h.ext_profile != 0xbede && h.extension,
                                     data + h.header_len, h.payload_len, h.padding_len, out, cap);
        if (n > 0) {
            rtc_rtp_header_t g;
            CHECK(rtc_rtp_header_parse(out, (size_t)n, &g) == RTC_OK);
            CHECK(g.seq == h.seq && g.ssrc == h.ssrc && g.ext_count == h.ext_count && g.payload_len == h.payload_len);
            for (unsigned i = 0; i < g.ext_count; i++)
                CHECK(g.ext[i].id == h.ext[i].id && g.ext[i].len == h.ext[i].len &&
                      memcmp(g.ext[i].data, h.ext[i].data, g.ext[i].len) == 0);
        }
    }
    /* In-place rewriting on a copy with room to grow. */
    memcpy(out, data, size);
    size_t len = size;
    uint8_t id = size > 12 ? (uint8_t)(data[size - 1] % 20 + 1) : 3;
    uint8_t val[40] = {0};
    size_t vlen = size > 13 ? data[size - 2] % 40 : 2;
    if (rtc_rtp_ext_set(out, &len, cap, id, val, vlen) == RTC_OK) {
        rtc_rtp_header_t g;
        CHECK(rtc_rtp_header_parse(out, len, &g) == RTC_OK);
        const rtc_rtp_ext_t *e = rtc_rtp_header_find_ext(&g, id);
        CHECK(e && e->len == vlen);
        CHECK(g.payload_len == h.payload_len && memcmp(out + g.header_len, data + h.header_len, h.payload_len) == 0);
        (void)rtc_rtp_ext_remove(out, &len, id);
        CHECK(rtc_rtp_header_parse(out, len, &g) == RTC_OK);
    }
    rtc_rtp_ext_map_t a, b2;
    rtc_rtp_ext_map_init(&a);
    rtc_rtp_ext_map_init(&b2);
    for (int k = 1; k < RTC_RTP_EXT_KIND_COUNT; k++) {
        rtc_rtp_ext_map_set(&a, (rtc_rtp_ext_kind_t)k, (uint8_t)k);
        if (k % 2) rtc_rtp_ext_map_set(&b2, (rtc_rtp_ext_kind_t)k, (uint8_t)(15 - k));
    }
    memcpy(out, data, size);
    len = size;
    if (rtc_rtp_ext_remap(out, &len, cap, &a, &b2) == RTC_OK) {
        rtc_rtp_header_t g;
        CHECK(rtc_rtp_header_parse(out, len, &g) == RTC_OK);
    }
    /* RTX round trip */
    uint8_t *rtx = malloc(size + 16), *back = malloc(size + 16);
    if (rtx && back) {
        int rn = rtc_rtp_rtx_wrap(data, size, 97, 1, 2, rtx, size + 16);
        if (rn > 0) {
            int bn = rtc_rtp_rtx_unwrap(rtx, (size_t)rn, h.payload_type, h.ssrc, back, size + 16);
            CHECK(bn == (int)(size - h.padding_len));
            CHECK(memcmp(back + h.header_len, data + h.header_len, h.payload_len) == 0);
        }
    }
    free(rtx);
    free(back);
    free(out);
    return 0;
}
