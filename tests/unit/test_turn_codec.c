/* TURN ChannelData and stream framing (RFC 8656 §12.4-12.5). */
#include <check.h>
#include <stdlib.h>

#include "rtc/turn.h"

START_TEST(channel_data_round_trip_udp_and_stream) {
    uint8_t buf[64];
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    ck_assert_int_eq(rtc_turn_channel_data_write(buf, sizeof buf, 0x4001, payload, 5, false), 9);
    ck_assert_uint_eq(rtc_be16(buf), 0x4001);
    ck_assert_uint_eq(rtc_be16(buf + 2), 5);
    uint16_t ch;
    const uint8_t *data;
    size_t len;
    ck_assert_int_eq(rtc_turn_channel_data_parse(buf, 9, &ch, &data, &len), 0);
    ck_assert_uint_eq(ch, 0x4001);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(data, payload, 5), 0);
    /* Stream form pads to 4 with zeros; the padded datagram still parses. */
    memset(buf, 0xee, sizeof buf);
    ck_assert_int_eq(rtc_turn_channel_data_write(buf, sizeof buf, 0x4FFF, payload, 5, true), 12);
    ck_assert_uint_eq(buf[9], 0);
    ck_assert_uint_eq(buf[11], 0);
    ck_assert_int_eq(rtc_turn_channel_data_parse(buf, 12, &ch, &data, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(rtc_turn_stream_frame_length(buf, 4), 12);
}
END_TEST

START_TEST(channel_data_rejects_bad_input) {
    uint8_t buf[16] = {0x40, 0x01, 0x00, 0x08, 1, 2, 3};
    uint16_t ch;
    const uint8_t *data;
    size_t len;
    ck_assert_int_eq(rtc_turn_channel_data_parse(buf, 3, &ch, &data, &len), RTC_ERR_TRUNCATED);
    ck_assert_int_eq(rtc_turn_channel_data_parse(buf, 7, &ch, &data, &len), RTC_ERR_TRUNCATED);
    buf[0] = 0x50; /* channel 0x5001 is outside 0x4000-0x4FFF */
    ck_assert_int_eq(rtc_turn_channel_data_parse(buf, 12, &ch, &data, &len), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_turn_channel_data_write(buf, sizeof buf, 0x3FFF, NULL, 0, false), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_turn_channel_data_write(buf, 6, 0x4000, buf, 4, false), RTC_ERR_OVERFLOW);
    ck_assert_int_eq(rtc_turn_channel_data_header(buf, 7, 0x4000, 4, true), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(stream_framing_tells_stun_from_channel_data) {
    uint8_t stun[64];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, stun, sizeof stun, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_SOFTWARE, "x");
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_eq(rtc_turn_stream_frame_length(stun, 3), RTC_ERR_AGAIN);
    ck_assert_int_eq(rtc_turn_stream_frame_length(stun, 4), n);
    const uint8_t junk[4] = {0x80, 0, 0, 0}; /* RTP-looking: not allowed on a TURN stream */
    ck_assert_int_eq(rtc_turn_stream_frame_length(junk, 4), RTC_ERR_MALFORMED);
    ck_assert(rtc_turn_is_channel_data((const uint8_t *)"\x40\x00\x00\x00", 4));
    ck_assert(!rtc_turn_is_channel_data(stun, (size_t)n));
}
END_TEST

int main(void) {
    Suite *s = suite_create("turn_codec");
    TCase *tc = tcase_create("channel_data");
    tcase_add_test(tc, channel_data_round_trip_udp_and_stream);
    tcase_add_test(tc, channel_data_rejects_bad_input);
    tcase_add_test(tc, stream_framing_tells_stun_from_channel_data);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
