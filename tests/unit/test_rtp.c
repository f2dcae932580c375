/* RTP header codec, RFC 8285 extensions, typed extension values, SFU rewriting helpers, RTX
 * (RFC 4588) and sequence/timestamp unwrapping.
 *
 * Known-answer packets:
 *  - CHROME_ONE_BYTE_1/2, CHROME_TWO_BYTE: RTP headers captured from Chrome and decoded by
 *    Wireshark, published in github.com/olivermichel/webrtc-analysis test/include/data.h
 *    (rtp_pkt1, rtp_pkt2, rtp_pkt3). Header only: the captures stop after the extensions.
 *  - PION_BASIC: pion/rtp packet_test.go TestBasic (extension profile 0x0001, not RFC 8285).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/rtp.h"

static const uint8_t CHROME_ONE_BYTE_1[] = {
    0x90, 0x2d, 0x1a, 0x5f, 0xd4, 0x09, 0x05, 0x49, 0xf7, 0xb1, 0x6e, 0x83, 0xbe, 0xde, 0x00, 0x03,
    0x22, 0xf3, 0x43, 0x50, 0x41, 0x00, 0x9b, 0xd2, 0x81, 0x00, 0x45, 0x00,
};
static const uint8_t CHROME_ONE_BYTE_2[] = {
    0x90, 0xad, 0x19, 0xd4, 0xd4, 0x05, 0xe7, 0x97, 0xf7, 0xb1, 0x6e, 0x83, 0xbe, 0xde, 0x00, 0x08,
    0x22, 0xea, 0x43, 0x2b, 0x41, 0x00, 0x04, 0x90, 0x30, 0x30, 0x00, 0x60, 0x02,
    0x7c, 0x01, 0x00, 0x03, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x23, 0x00, 0x00, 0x00, 0x00,
    0xd2, 0x40, 0x00, 0x01, 0x00,
};
static const uint8_t CHROME_TWO_BYTE[] = {
    0x90, 0x2d, 0x61, 0xc5, 0x95, 0x0a, 0x0f, 0xee, 0x8d, 0x38, 0x14, 0xe5, 0x10, 0x00, 0x00, 0x11,
    0x02, 0x03, 0x03, 0xf7, 0xae, 0x04, 0x02, 0x00, 0x02, 0x09, 0x01, 0x30, 0x03, 0x01, 0x00,
    0x06, 0x01, 0x02, 0x07, 0x0d, 0x01, 0x00, 0x01, 0x00, 0x07, 0x00, 0x07, 0x00, 0x0a, 0x00,
    0x00, 0x00, 0x00, 0x0d, 0x21, 0xc0, 0x00, 0x01, 0x80, 0x03, 0x18, 0x7a, 0xaa, 0xf1, 0x30,
    0xa0, 0xa0, 0x14, 0xd1, 0x41, 0x38, 0x23, 0x04, 0x60, 0x08, 0x64, 0x22, 0x22, 0x26, 0x50,
    0x09, 0xf0, 0x07, 0x70, 0x13, 0xf0, 0x0e, 0xf0,
};
static const uint8_t PION_BASIC[] = {
    0x90, 0xe0, 0x69, 0x8f, 0xd9, 0xc2, 0x93, 0xda, 0x1c, 0x64, 0x27, 0x82, 0x00, 0x01, 0x00, 0x01,
    0xff, 0xff, 0xff, 0xff, 0x98, 0x36, 0xbe, 0x88, 0x9e,
};

/* Re-encodes a parsed header (fields + its extension elements) and compares bytes. */
static void assert_reencodes(const uint8_t *pkt, size_t n, bool two_byte) {
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(pkt, n, &h), RTC_OK);
    uint8_t out[1500];
    int len = rtc_rtp_packet_write(&h, h.ext, h.ext_count, two_byte, pkt + h.header_len, h.payload_len,
                                   h.padding_len, out, sizeof out);
    ck_assert_int_eq(len, (int)n);
    ck_assert_mem_eq(out, pkt, n);
}

START_TEST(chrome_one_byte_extensions_decode_and_reencode) {
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1, &h), RTC_OK);
    ck_assert(!h.padding);
    ck_assert(h.extension);
    ck_assert(!h.marker);
    ck_assert_uint_eq(h.payload_type, 45);
    ck_assert_uint_eq(h.seq, 6751);
    ck_assert_uint_eq(h.timestamp, 3557360969u);
    ck_assert_uint_eq(h.ssrc, 0xf7b16e83u);
    ck_assert_uint_eq(h.ext_profile, 0xbede);
    ck_assert_uint_eq(h.ext_block_len, 12);
    ck_assert_uint_eq(h.ext_count, 3);
    ck_assert_uint_eq(h.ext[0].id, 2);
    ck_assert_uint_eq(h.ext[0].len, 3);
    ck_assert_uint_eq(rtc_be24(h.ext[0].data), 0xf34350);
    ck_assert_uint_eq(h.ext[1].id, 4);
    ck_assert_uint_eq(h.ext[1].len, 2);
    ck_assert_uint_eq(rtc_be16(h.ext[1].data), 0x009b);
    ck_assert_uint_eq(h.ext[2].id, 13);
    ck_assert_uint_eq(h.ext[2].len, 3);
    ck_assert_uint_eq(rtc_be24(h.ext[2].data), 0x810045);
    ck_assert_uint_eq(h.header_len, 28);
    ck_assert_uint_eq(h.payload_len, 0);
    assert_reencodes(CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1, false);

    ck_assert_int_eq(rtc_rtp_header_parse(CHROME_ONE_BYTE_2, sizeof CHROME_ONE_BYTE_2, &h), RTC_OK);
    ck_assert(h.marker);
    ck_assert_uint_eq(h.seq, 6612);
    ck_assert_uint_eq(h.timestamp, 3557156759u);
    ck_assert_uint_eq(h.ext_count, 7);
    static const uint8_t ids[] = {2, 4, 9, 3, 6, 7, 13}, lens[] = {3, 2, 1, 1, 1, 13, 3};
    for (int i = 0; i < 7; i++) {
        ck_assert_uint_eq(h.ext[i].id, ids[i]);
        ck_assert_uint_eq(h.ext[i].len, lens[i]);
    }
    static const uint8_t e7[] = {0x01, 0x00, 0x03, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x23, 0x00, 0x00, 0x00, 0x00};
    ck_assert_mem_eq(h.ext[5].data, e7, 13);
    ck_assert_uint_eq(h.ext[2].data[0], 0x30);
    assert_reencodes(CHROME_ONE_BYTE_2, sizeof CHROME_ONE_BYTE_2, false);
}
END_TEST

START_TEST(chrome_two_byte_extensions_decode_and_reencode) {
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(CHROME_TWO_BYTE, sizeof CHROME_TWO_BYTE, &h), RTC_OK);
    ck_assert_uint_eq(h.seq, 25029);
    ck_assert_uint_eq(h.timestamp, 2500464622u);
    ck_assert_uint_eq(h.ssrc, 0x8d3814e5u);
    ck_assert_uint_eq(h.ext_profile, 0x1000);
    ck_assert_uint_eq(h.ext_block_len, 17 * 4);
    ck_assert_uint_eq(h.ext_count, 7);
    ck_assert_uint_eq(h.ext[6].id, 13);
    ck_assert_uint_eq(h.ext[6].len, 33);
    ck_assert_uint_eq(h.ext[6].data[0], 0xc0);
    ck_assert_uint_eq(h.ext[6].data[32], 0xf0);
    ck_assert_uint_eq(rtc_be24(h.ext[0].data), 0x03f7ae);
    /* A 33-byte value cannot be one-byte: the writer picks two-byte by itself. */
    assert_reencodes(CHROME_TWO_BYTE, sizeof CHROME_TWO_BYTE, false);
}
END_TEST

START_TEST(pion_basic_packet_with_opaque_profile) {
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(PION_BASIC, sizeof PION_BASIC, &h), RTC_OK);
    ck_assert(h.marker);
    ck_assert_uint_eq(h.payload_type, 96);
    ck_assert_uint_eq(h.seq, 27023);
    ck_assert_uint_eq(h.timestamp, 3653407706u);
    ck_assert_uint_eq(h.ssrc, 476325762u);
    ck_assert_uint_eq(h.ext_profile, 1);
    ck_assert_uint_eq(h.ext_count, 0); /* not RFC 8285: elements are not decoded */
    ck_assert_uint_eq(h.ext_block_len, 4);
    ck_assert_uint_eq(h.header_len, 20);
    ck_assert_uint_eq(h.payload_len, 5);
    ck_assert_uint_eq(PION_BASIC[h.header_len], 0x98);
}
END_TEST

START_TEST(csrc_padding_and_payload_round_trip) {
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = 111;
    h.seq = 65535;
    h.timestamp = 0xfffffff0u;
    h.ssrc = 0x11223344;
    h.csrc_count = 3;
    h.csrc[0] = 1; h.csrc[1] = 2; h.csrc[2] = 0xdeadbeef;
    h.marker = true;
    uint8_t lvl[1], mid[16];
    rtc_rtp_ext_write_audio_level(true, 42, lvl);
    int mlen = rtc_rtp_ext_write_sdes("audio0", mid, sizeof mid);
    rtc_rtp_ext_t exts[2] = {{.id = 1, .len = 1, .data = lvl}, {.id = 9, .len = (uint8_t)mlen, .data = mid}};
    const uint8_t payload[] = "opus frame bytes";
    uint8_t out[256];
    int n = rtc_rtp_packet_write(&h, exts, 2, false, payload, sizeof payload, 7, out, sizeof out);
    /* 12 + 3*4 CSRC + 4 ext header + (2 + 7 -> 12 bytes) + payload + 7 padding */
    ck_assert_int_eq(n, 12 + 12 + 4 + 12 + (int)sizeof payload + 7);
    ck_assert_uint_eq(out[0], 0x80 | 0x20 | 0x10 | 3);
    ck_assert_uint_eq(out[n - 1], 7);
    rtc_rtp_header_t p;
    ck_assert_int_eq(rtc_rtp_header_parse(out, (size_t)n, &p), RTC_OK);
    ck_assert(p.padding);
    ck_assert_uint_eq(p.padding_len, 7);
    ck_assert_uint_eq(p.csrc_count, 3);
    ck_assert_uint_eq(p.csrc[2], 0xdeadbeef);
    ck_assert_uint_eq(p.payload_len, sizeof payload);
    ck_assert_mem_eq(out + p.header_len, payload, sizeof payload);
    bool voice;
    uint8_t level;
    ck_assert_int_eq(rtc_rtp_ext_parse_audio_level(rtc_rtp_header_find_ext(&p, 1), &voice, &level), RTC_OK);
    ck_assert(voice);
    ck_assert_uint_eq(level, 42);
    char s[32];
    ck_assert_int_eq(rtc_rtp_ext_parse_sdes(rtc_rtp_header_find_ext(&p, 9), s, sizeof s), RTC_OK);
    ck_assert_str_eq(s, "audio0");
    ck_assert_ptr_null(rtc_rtp_header_find_ext(&p, 5));
    /* Forcing the two-byte form works too and decodes to the same elements. */
    n = rtc_rtp_packet_write(&h, exts, 2, true, payload, sizeof payload, 0, out, sizeof out);
    ck_assert_int_eq(rtc_rtp_header_parse(out, (size_t)n, &p), RTC_OK);
    ck_assert_uint_eq(p.ext_profile, 0x1000);
    ck_assert_uint_eq(p.ext_count, 2);
    ck_assert_uint_eq(p.ext[1].len, 6);
    /* A too small buffer is refused. */
    ck_assert_int_eq(rtc_rtp_packet_write(&h, exts, 2, false, payload, sizeof payload, 0, out, 30), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(typed_extensions_through_negotiated_map) {
    rtc_rtp_ext_map_t m;
    rtc_rtp_ext_map_init(&m);
    /* ids as in the Chrome capture: 2 abs-send-time, 4 transport-cc */
    ck_assert_int_eq(rtc_rtp_ext_map_set(&m, rtc_rtp_ext_kind_from_uri(
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"), 2), RTC_OK);
    ck_assert_int_eq(rtc_rtp_ext_map_set(&m, rtc_rtp_ext_kind_from_uri(
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"), 4), RTC_OK);
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1, &h), RTC_OK);
    uint32_t ast;
    uint16_t tseq;
    ck_assert_int_eq(rtc_rtp_ext_parse_abs_send_time(rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_ABS_SEND_TIME), &ast), RTC_OK);
    ck_assert_uint_eq(ast, 0xf34350);
    ck_assert_int_eq(rtc_rtp_ext_parse_twcc(rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_TWCC), &tseq), RTC_OK);
    ck_assert_uint_eq(tseq, 155);
    ck_assert_ptr_null(rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_MID)); /* not negotiated */
    /* Rebinding an id moves it. */
    ck_assert_int_eq(rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_MID, 4), RTC_OK);
    ck_assert_uint_eq(rtc_rtp_ext_map_id(&m, RTC_RTP_EXT_TWCC), 0);
    ck_assert_uint_eq(m.kind_of[4], RTC_RTP_EXT_MID);
    ck_assert_int_eq(rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_MID, 0), RTC_ERR_INVALID_ARG);
    for (int k = 1; k < RTC_RTP_EXT_KIND_COUNT; k++)
        ck_assert_int_eq(rtc_rtp_ext_kind_from_uri(rtc_rtp_ext_uri((rtc_rtp_ext_kind_t)k)), k);
    ck_assert_int_eq(rtc_rtp_ext_kind_from_uri("urn:nope"), RTC_RTP_EXT_NONE);

    /* abs-send-time: 6.18 fixed point; 1.5 s = 0x060000, wraps at 64 s. */
    ck_assert_uint_eq(rtc_rtp_abs_send_time_from_us(1500000), 0x060000);
    ck_assert_uint_eq(rtc_rtp_abs_send_time_from_us(RTC_SEC(64) + 1500000), 0x060000);
    /* video orientation: C=1 F=0 R=270 -> 0b1011 */
    uint8_t v[1];
    rtc_rtp_video_orientation_t vo = {true, false, 270}, back;
    ck_assert_int_eq(rtc_rtp_ext_write_video_orientation(&vo, v), 1);
    ck_assert_uint_eq(v[0], 0x0b);
    rtc_rtp_ext_t e = {.id = 3, .len = 1, .data = v};
    ck_assert_int_eq(rtc_rtp_ext_parse_video_orientation(&e, &back), RTC_OK);
    ck_assert(back.camera_back && !back.flip && back.rotation == 270);
    vo.rotation = 45;
    ck_assert_int_eq(rtc_rtp_ext_write_video_orientation(&vo, v), RTC_ERR_INVALID_ARG);
    /* toffset is 24-bit signed */
    uint8_t t[3] = {0xff, 0xff, 0xfe};
    int32_t to;
    e = (rtc_rtp_ext_t){.id = 5, .len = 3, .data = t};
    ck_assert_int_eq(rtc_rtp_ext_parse_toffset(&e, &to), RTC_OK);
    ck_assert_int_eq(to, -2);
    /* wrong lengths / content are rejected */
    e.len = 2;
    ck_assert_int_eq(rtc_rtp_ext_parse_abs_send_time(&e, &ast), RTC_ERR_MALFORMED);
    e.len = 3;
    ck_assert_int_eq(rtc_rtp_ext_parse_twcc(&e, &tseq), RTC_ERR_MALFORMED);
    const uint8_t badmid[] = {'a', 0x01, 'b'};
    char s[8];
    e = (rtc_rtp_ext_t){.id = 1, .len = 3, .data = badmid};
    ck_assert_int_eq(rtc_rtp_ext_parse_sdes(&e, s, sizeof s), RTC_ERR_MALFORMED);
    e.data = (const uint8_t *)"abc";
    ck_assert_int_eq(rtc_rtp_ext_parse_sdes(&e, s, 3), RTC_ERR_OVERFLOW);
    ck_assert_int_eq(rtc_rtp_ext_write_audio_level(false, 128, v), RTC_ERR_INVALID_ARG);
}
END_TEST

START_TEST(fixed_field_rewrites_touch_only_their_bytes) {
    uint8_t p[sizeof CHROME_ONE_BYTE_2];
    memcpy(p, CHROME_ONE_BYTE_2, sizeof p);
    ck_assert_int_eq(rtc_rtp_set_ssrc(p, sizeof p, 0x01020304), RTC_OK);
    ck_assert_int_eq(rtc_rtp_set_seq(p, sizeof p, 0xabcd), RTC_OK);
    ck_assert_int_eq(rtc_rtp_set_timestamp(p, sizeof p, 0x55667788), RTC_OK);
    ck_assert_int_eq(rtc_rtp_set_payload_type(p, sizeof p, 100), RTC_OK);
    ck_assert_int_eq(rtc_rtp_set_marker(p, sizeof p, false), RTC_OK);
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(p, sizeof p, &h), RTC_OK);
    ck_assert_uint_eq(h.ssrc, 0x01020304);
    ck_assert_uint_eq(h.seq, 0xabcd);
    ck_assert_uint_eq(h.timestamp, 0x55667788);
    ck_assert_uint_eq(h.payload_type, 100);
    ck_assert(!h.marker);
    ck_assert_mem_eq(p + 12, CHROME_ONE_BYTE_2 + 12, sizeof p - 12);
    ck_assert_uint_eq(p[0], CHROME_ONE_BYTE_2[0]);
    ck_assert_int_eq(rtc_rtp_set_payload_type(p, sizeof p, 128), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_rtp_set_seq(p, 11, 1), RTC_ERR_TRUNCATED);
}
END_TEST

START_TEST(extension_set_replace_in_place_and_grow) {
    uint8_t p[256];
    const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    memcpy(p + sizeof CHROME_ONE_BYTE_1, payload, sizeof payload);
    size_t len = sizeof CHROME_ONE_BYTE_1 + sizeof payload;
    /* Same length: the transport-cc value changes in place, nothing moves. */
    uint8_t seq[2];
    rtc_rtp_ext_write_twcc(0x1234, seq);
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, sizeof p, 4, seq, 2), RTC_OK);
    ck_assert_uint_eq(len, sizeof CHROME_ONE_BYTE_1 + sizeof payload);
    ck_assert_uint_eq(rtc_be16(p + 21), 0x1234);
    ck_assert_mem_eq(p + 28, payload, sizeof payload);
    /* New element: block grows by a word, payload moves, everything else kept. */
    uint8_t lvl[1] = {0x85};
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, sizeof p, 1, lvl, 1), RTC_OK);
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert_uint_eq(h.ext_count, 4);
    ck_assert_uint_eq(h.ext_profile, 0xbede);
    ck_assert_uint_eq(rtc_be24(rtc_rtp_header_find_ext(&h, 2)->data), 0xf34350);
    ck_assert_uint_eq(rtc_rtp_header_find_ext(&h, 1)->data[0], 0x85);
    ck_assert_uint_eq(h.payload_len, sizeof payload);
    ck_assert_mem_eq(p + h.header_len, payload, sizeof payload);
    ck_assert_uint_eq(h.seq, 6751);
    /* A longer value for an existing id resizes it. */
    const uint8_t mid[] = "video-main-1";
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, sizeof p, 13, mid, 12), RTC_OK);
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert_uint_eq(rtc_rtp_header_find_ext(&h, 13)->len, 12);
    ck_assert_mem_eq(p + h.header_len, payload, sizeof payload);
    /* id 15 cannot be one-byte: the block switches to two-byte and keeps every value. */
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, sizeof p, 15, lvl, 1), RTC_OK);
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert_uint_eq(h.ext_profile, 0x1000);
    ck_assert_uint_eq(h.ext_count, 5);
    ck_assert_uint_eq(rtc_be16(rtc_rtp_header_find_ext(&h, 4)->data), 0x1234);
    ck_assert_mem_eq(p + h.header_len, payload, sizeof payload);
    /* Not enough room: refused, packet untouched. */
    uint8_t before[256];
    memcpy(before, p, len);
    size_t len_before = len;
    uint8_t big[200] = {0};
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, len + 10, 20, big, sizeof big), RTC_ERR_OVERFLOW);
    ck_assert_uint_eq(len, len_before);
    ck_assert_mem_eq(p, before, len);
    /* Remove every element: the X bit and block go away, payload intact. */
    int ids[] = {2, 4, 13, 1, 15};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(rtc_rtp_ext_remove(p, &len, (uint8_t)ids[i]), RTC_OK);
    ck_assert_int_eq(rtc_rtp_ext_remove(p, &len, 2), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert(!h.extension);
    ck_assert_uint_eq(len, 12 + sizeof payload);
    ck_assert_mem_eq(p + 12, payload, sizeof payload);
    /* And adding to a packet without extensions creates the block. */
    ck_assert_int_eq(rtc_rtp_ext_set(p, &len, sizeof p, 3, seq, 2), RTC_OK);
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert(h.extension);
    ck_assert_uint_eq(h.ext_count, 1);
    ck_assert_mem_eq(p + h.header_len, payload, sizeof payload);
}
END_TEST

START_TEST(extension_remap_between_negotiated_maps) {
    rtc_rtp_ext_map_t pub, sub;
    rtc_rtp_ext_map_init(&pub);
    rtc_rtp_ext_map_init(&sub);
    rtc_rtp_ext_map_set(&pub, RTC_RTP_EXT_ABS_SEND_TIME, 2);
    rtc_rtp_ext_map_set(&pub, RTC_RTP_EXT_TWCC, 4);
    rtc_rtp_ext_map_set(&pub, RTC_RTP_EXT_MID, 13);
    /* Subscriber: same kinds, other ids: rewritten in place. */
    rtc_rtp_ext_map_set(&sub, RTC_RTP_EXT_ABS_SEND_TIME, 3);
    rtc_rtp_ext_map_set(&sub, RTC_RTP_EXT_TWCC, 5);
    rtc_rtp_ext_map_set(&sub, RTC_RTP_EXT_MID, 1);
    uint8_t p[64];
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    size_t len = sizeof CHROME_ONE_BYTE_1;
    ck_assert_int_eq(rtc_rtp_ext_remap(p, &len, sizeof p, &pub, &sub), RTC_OK);
    ck_assert_uint_eq(len, sizeof CHROME_ONE_BYTE_1);
    rtc_rtp_header_t h;
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert_uint_eq(h.ext[0].id, 3);
    ck_assert_uint_eq(h.ext[1].id, 5);
    ck_assert_uint_eq(h.ext[2].id, 1);
    ck_assert_uint_eq(rtc_be16(h.ext[1].data), 0x009b);
    /* Subscriber without transport-cc: that element is dropped, the block shrinks. */
    rtc_rtp_ext_map_t sub2;
    rtc_rtp_ext_map_init(&sub2);
    rtc_rtp_ext_map_set(&sub2, RTC_RTP_EXT_ABS_SEND_TIME, 2);
    rtc_rtp_ext_map_set(&sub2, RTC_RTP_EXT_MID, 13);
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    len = sizeof CHROME_ONE_BYTE_1;
    ck_assert_int_eq(rtc_rtp_ext_remap(p, &len, sizeof p, &pub, &sub2), RTC_OK);
    ck_assert_int_eq(rtc_rtp_header_parse(p, len, &h), RTC_OK);
    ck_assert_uint_eq(h.ext_count, 2);
    ck_assert_uint_eq(h.ext_block_len, 8);
    ck_assert_uint_eq(rtc_be24(rtc_rtp_header_find_ext(&h, 13)->data), 0x810045);
    ck_assert_ptr_null(rtc_rtp_header_find_ext(&h, 4));
}
END_TEST

START_TEST(rtx_wrap_and_unwrap_round_trip) {
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = 96;
    h.seq = 1000;
    h.timestamp = 90000;
    h.ssrc = 0xaaaa;
    h.marker = true;
    uint8_t tw[2];
    rtc_rtp_ext_write_twcc(77, tw);
    rtc_rtp_ext_t ext = {.id = 3, .len = 2, .data = tw};
    const uint8_t payload[] = {0x10, 0x20, 0x30, 0x40, 0x50};
    uint8_t orig[128], rtx[128], back[128];
    int n = rtc_rtp_packet_write(&h, &ext, 1, false, payload, sizeof payload, 4, orig, sizeof orig);
    ck_assert_int_gt(n, 0);
    int rn = rtc_rtp_rtx_wrap(orig, (size_t)n, 97, 0xbbbb, 5, rtx, sizeof rtx);
    /* padding dropped, OSN added */
    ck_assert_int_eq(rn, n - 4 + 2);
    rtc_rtp_header_t r;
    ck_assert_int_eq(rtc_rtp_header_parse(rtx, (size_t)rn, &r), RTC_OK);
    ck_assert_uint_eq(r.payload_type, 97);
    ck_assert_uint_eq(r.ssrc, 0xbbbb);
    ck_assert_uint_eq(r.seq, 5);
    ck_assert(r.marker && !r.padding);
    ck_assert_uint_eq(r.timestamp, 90000);
    ck_assert_uint_eq(rtc_be16(rtx + r.header_len), 1000); /* OSN, RFC 4588 4 */
    ck_assert_uint_eq(rtc_be16(rtc_rtp_header_find_ext(&r, 3)->data), 77);
    int bn = rtc_rtp_rtx_unwrap(rtx, (size_t)rn, 96, 0xaaaa, back, sizeof back);
    ck_assert_int_eq(bn, n - 4);
    rtc_rtp_header_t b;
    ck_assert_int_eq(rtc_rtp_header_parse(back, (size_t)bn, &b), RTC_OK);
    ck_assert_uint_eq(b.seq, 1000);
    ck_assert_uint_eq(b.ssrc, 0xaaaa);
    ck_assert_uint_eq(b.payload_type, 96);
    ck_assert_mem_eq(back + b.header_len, payload, sizeof payload);
    /* RTX padding-only packet (no OSN) is refused. */
    uint8_t empty[12];
    memcpy(empty, rtx, 12);
    empty[0] = 0x80;
    ck_assert_int_eq(rtc_rtp_rtx_unwrap(empty, 12, 96, 1, back, sizeof back), RTC_ERR_TRUNCATED);
    ck_assert_int_eq(rtc_rtp_rtx_wrap(orig, (size_t)n, 97, 1, 1, rtx, 10), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(sequence_and_timestamp_unwrapping) {
    rtc_rtp_unwrapper_t u;
    rtc_rtp_unwrapper_init(&u);
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 65530), 65530);
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 65535), 65535);
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 2), 65538);       /* forward across the wrap */
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 65534), 65534);   /* reordered back across it */
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 10), 65546);
    for (int i = 0; i < 5 * 65536; i += 1000) rtc_rtp_unwrap_seq(&u, (uint16_t)(10 + i));
    ck_assert_int_eq(rtc_rtp_unwrap_seq_peek(&u, (uint16_t)(10 + 327000)), 65546 + 327000);
    rtc_rtp_unwrapper_init(&u);
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 5), 5);
    ck_assert_int_eq(rtc_rtp_unwrap_seq(&u, 65533), -3);      /* older than the first */
    rtc_rtp_unwrapper_init(&u);
    ck_assert_int_eq(rtc_rtp_unwrap_ts(&u, 0xfffff000u), 0xfffff000LL);
    ck_assert_int_eq(rtc_rtp_unwrap_ts(&u, 0x00000100u), 0x100000100LL);
    ck_assert_int_eq(rtc_rtp_unwrap_ts(&u, 0xffffff00u), 0xffffff00LL);
    ck_assert(rtc_rtp_seq_newer(1, 65535));
    ck_assert(!rtc_rtp_seq_newer(65535, 1));
}
END_TEST

START_TEST(malformed_rtp_rejected_with_clear_errors) {
    rtc_rtp_header_t h;
    uint8_t p[64];
    /* every prefix shorter than the header fails */
    for (size_t n = 0; n < 48; n++)
        ck_assert_int_lt(rtc_rtp_header_parse(CHROME_ONE_BYTE_2, n, &h), 0);
    ck_assert_int_eq(rtc_rtp_header_parse(CHROME_ONE_BYTE_2, 11, &h), RTC_ERR_TRUNCATED);
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    p[0] = 0x50; /* version 1 */
    ck_assert_int_eq(rtc_rtp_header_parse(p, sizeof CHROME_ONE_BYTE_1, &h), RTC_ERR_MALFORMED);
    /* CSRC count beyond the data */
    memcpy(p, PION_BASIC, sizeof PION_BASIC);
    p[0] = 0x8f;
    ck_assert_int_eq(rtc_rtp_header_parse(p, sizeof PION_BASIC, &h), RTC_ERR_TRUNCATED);
    /* extension length beyond the data */
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    p[15] = 4;
    ck_assert_int_eq(rtc_rtp_header_parse(p, sizeof CHROME_ONE_BYTE_1, &h), RTC_ERR_TRUNCATED);
    /* an element longer than its block: id 13 claims 16 bytes */
    memcpy(p, CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1);
    p[23] = 0xdf;
    ck_assert_int_eq(rtc_rtp_header_parse(p, sizeof CHROME_ONE_BYTE_1, &h), RTC_ERR_TRUNCATED);
    /* two-byte element header cut at the block end */
    const uint8_t two_cut[] = {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05};
    ck_assert_int_eq(rtc_rtp_header_parse(two_cut, sizeof two_cut, &h), RTC_ERR_TRUNCATED);
    /* padding: count 0, longer than the payload, or bit set on a bare header */
    const uint8_t pad0[] = {0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0x00};
    ck_assert_int_eq(rtc_rtp_header_parse(pad0, sizeof pad0, &h), RTC_ERR_MALFORMED);
    const uint8_t padlong[] = {0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0x03};
    ck_assert_int_eq(rtc_rtp_header_parse(padlong, sizeof padlong, &h), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_rtp_header_parse(padlong, 12, &h), RTC_ERR_MALFORMED);
    /* 17 one-byte elements exceed RTC_RTP_MAX_EXT */
    uint8_t many[12 + 4 + 36] = {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9};
    for (int i = 0; i < 17; i++) { many[16 + 2 * i] = 0x10; many[17 + 2 * i] = (uint8_t)i; }
    ck_assert_int_eq(rtc_rtp_header_parse(many, sizeof many, &h), RTC_ERR_LIMIT);
    /* 16 elements parse; adding a 17th is refused so the result stays parseable (found by
     * fuzz_rtp, corpus regress-17th-extension) */
    uint8_t sixteen[12 + 4 + 32 + 64] = {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 8};
    for (int i = 0; i < 16; i++) { sixteen[16 + 2 * i] = 0x40; sixteen[17 + 2 * i] = (uint8_t)i; }
    size_t slen = 48;
    ck_assert_int_eq(rtc_rtp_header_parse(sixteen, slen, &h), RTC_OK);
    ck_assert_uint_eq(h.ext_count, 16);
    ck_assert_int_eq(rtc_rtp_ext_set(sixteen, &slen, sizeof sixteen, 1, "x", 1), RTC_ERR_LIMIT);
    ck_assert_uint_eq(slen, 48);
    ck_assert_int_eq(rtc_rtp_ext_set(sixteen, &slen, sizeof sixteen, 4, "y", 1), RTC_OK);
    /* id 15 stops the walk (RFC 8285 4.2): no error, later bytes ignored */
    uint8_t stop[] = {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0xf0, 0x33};
    ck_assert_int_eq(rtc_rtp_header_parse(stop, sizeof stop, &h), RTC_OK);
    ck_assert_uint_eq(h.ext_count, 1);
    ck_assert_int_eq(rtc_rtp_header_parse(NULL, 0, &h), RTC_ERR_INVALID_ARG);
    ck_assert(rtc_rtp_is_rtcp((const uint8_t[]){0x81, 0xc9}, 2));
    ck_assert(!rtc_rtp_is_rtcp(CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1));
    ck_assert(rtc_rtp_is_rtp_or_rtcp(CHROME_ONE_BYTE_1, sizeof CHROME_ONE_BYTE_1));
    ck_assert(!rtc_rtp_is_rtp_or_rtcp((const uint8_t[]){0x16, 0xfe}, 2)); /* DTLS */
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_OFF);
    Suite *s = suite_create("rtp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, chrome_one_byte_extensions_decode_and_reencode);
    tcase_add_test(tc, chrome_two_byte_extensions_decode_and_reencode);
    tcase_add_test(tc, pion_basic_packet_with_opaque_profile);
    tcase_add_test(tc, csrc_padding_and_payload_round_trip);
    tcase_add_test(tc, typed_extensions_through_negotiated_map);
    tcase_add_test(tc, fixed_field_rewrites_touch_only_their_bytes);
    tcase_add_test(tc, extension_set_replace_in_place_and_grow);
    tcase_add_test(tc, extension_remap_between_negotiated_maps);
    tcase_add_test(tc, rtx_wrap_and_unwrap_round_trip);
    tcase_add_test(tc, sequence_and_timestamp_unwrapping);
    tcase_add_test(tc, malformed_rtp_rejected_with_clear_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
