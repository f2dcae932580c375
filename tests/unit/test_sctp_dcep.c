/* DCEP codec (RFC 8832 §5): hand-built vectors, every truncation and malformation, and
 * DATA_CHANNEL_OPEN bytes produced by another implementation — aiortc's RTCSctpTransport,
 * run with /usr/bin/python3 (tests/unit/sctp_aiortc_peer.py dcep, no networking) — which our
 * parser must decode and our encoder must reproduce byte for byte. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/sctp.h"

/* RFC 8832 §5.1 layout: type 3, channel type, priority, reliability, label len, protocol len */
static const uint8_t open_vec[] = {0x03, 0x81, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x03,
                                   0x00, 0x04, 'c', 'h', 'a', 't', 'b', 'i', 'n'};

START_TEST(test_parse_open_fields) {
    rtc_dcep_open_t o;
    ck_assert_int_eq(rtc_dcep_parse_open(&o, open_vec, sizeof open_vec), RTC_OK);
    ck_assert_uint_eq(o.channel_type, RTC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED);
    ck_assert_uint_eq(o.priority, RTC_DCEP_PRIORITY_NORMAL);
    ck_assert_uint_eq(o.reliability, 5);
    ck_assert_uint_eq(o.label_len, 3);
    ck_assert_uint_eq(o.protocol_len, 4);
    ck_assert(memcmp(o.label, "cha", 3) == 0);
    ck_assert(memcmp(o.protocol, "tbin", 4) == 0);
    ck_assert_int_eq(rtc_dcep_msg_type(open_vec, sizeof open_vec), RTC_DCEP_MSG_OPEN);
}
END_TEST

START_TEST(test_write_open_roundtrip) {
    rtc_dcep_open_t o;
    ck_assert_int_eq(rtc_dcep_parse_open(&o, open_vec, sizeof open_vec), RTC_OK);
    uint8_t out[64];
    ck_assert_int_eq(rtc_dcep_write_open(&o, out, sizeof out), (int)sizeof open_vec);
    ck_assert(memcmp(out, open_vec, sizeof open_vec) == 0);
    ck_assert_int_eq(rtc_dcep_write_open(&o, out, sizeof open_vec - 1), RTC_ERR_OVERFLOW);
    o.channel_type = 0x03;
    ck_assert_int_eq(rtc_dcep_write_open(&o, out, sizeof out), RTC_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_every_truncation_is_rejected) {
    rtc_dcep_open_t o;
    for (size_t n = 0; n < sizeof open_vec; n++)
        ck_assert_int_eq(rtc_dcep_parse_open(&o, open_vec, n), RTC_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_malformed_open_rejected) {
    uint8_t v[sizeof open_vec + 1];
    memcpy(v, open_vec, sizeof open_vec);
    rtc_dcep_open_t o;
    v[sizeof open_vec] = 0;  /* a trailing byte */
    ck_assert_int_eq(rtc_dcep_parse_open(&o, v, sizeof v), RTC_ERR_MALFORMED);
    v[1] = 0x03;             /* unknown channel type */
    ck_assert_int_eq(rtc_dcep_parse_open(&o, v, sizeof open_vec), RTC_ERR_MALFORMED);
    v[1] = 0x00;
    v[0] = RTC_DCEP_MSG_ACK; /* not an OPEN */
    ck_assert_int_eq(rtc_dcep_parse_open(&o, v, sizeof open_vec), RTC_ERR_MALFORMED);
    /* label length pointing past the end */
    memcpy(v, open_vec, sizeof open_vec);
    v[8] = 0xff;
    ck_assert_int_eq(rtc_dcep_parse_open(&o, v, sizeof open_vec), RTC_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_ack_codec) {
    uint8_t b[2] = {0};
    ck_assert_int_eq(rtc_dcep_write_ack(b, sizeof b), 1);
    ck_assert_uint_eq(b[0], 0x02);
    ck_assert_int_eq(rtc_dcep_parse_ack(b, 1), RTC_OK);
    ck_assert_int_eq(rtc_dcep_parse_ack(b, 0), RTC_ERR_TRUNCATED);
    ck_assert_int_eq(rtc_dcep_parse_ack(b, 2), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_dcep_parse_ack(open_vec, 1), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_dcep_write_ack(b, 0), RTC_ERR_OVERFLOW);
    ck_assert_int_eq(rtc_dcep_msg_type(b, 0), RTC_ERR_TRUNCATED);
}
END_TEST

static int unhex(const char *s, uint8_t *out, size_t cap) {
    return rtc_hex_decode(s, strlen(s), out, cap);
}

/* Splits "a|b|c" in place into at most n fields. */
static int split(char *line, char **f, int n) {
    int k = 0;
    f[k++] = line;
    for (char *p = line; *p && k < n; p++)
        if (*p == '|') {
            *p = 0;
            f[k++] = p + 1;
        }
    return k;
}

START_TEST(test_aiortc_open_bytes_decode_and_reencode) {
    const char *src = getenv("SRC_DIR");
    ck_assert_msg(src != NULL, "SRC_DIR not set (run through ctest)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/sctp_aiortc_peer.py dcep", src);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char line[2048];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *fld[6];
        ck_assert_int_eq(split(line, fld, 6), 6);
        uint8_t bytes[512];
        int n = unhex(fld[5], bytes, sizeof bytes);
        ck_assert_int_gt(n, 0);
        rtc_dcep_open_t o;
        ck_assert_int_eq(rtc_dcep_parse_open(&o, bytes, (size_t)n), RTC_OK);
        ck_assert_uint_eq(o.label_len, strlen(fld[0]));
        ck_assert(memcmp(o.label, fld[0], o.label_len) == 0);
        ck_assert_uint_eq(o.protocol_len, strlen(fld[1]));
        ck_assert(memcmp(o.protocol, fld[1], o.protocol_len) == 0);
        bool ordered = fld[2][0] == '1';
        ck_assert_int_eq(!(o.channel_type & 0x80), ordered);
        if (*fld[3]) {
            ck_assert_uint_eq(o.channel_type & 0x7f, RTC_DCEP_PARTIAL_RELIABLE_REXMIT);
            ck_assert_uint_eq(o.reliability, strtoul(fld[3], NULL, 10));
        } else if (*fld[4]) {
            ck_assert_uint_eq(o.channel_type & 0x7f, RTC_DCEP_PARTIAL_RELIABLE_TIMED);
            ck_assert_uint_eq(o.reliability, strtoul(fld[4], NULL, 10));
        } else {
            ck_assert_uint_eq(o.channel_type & 0x7f, RTC_DCEP_RELIABLE);
        }
        /* Our encoder, fed the same fields (aiortc sends priority 0), gives the same bytes. */
        rtc_dcep_open_t mine = {0};
        mine.channel_type = o.channel_type;
        mine.priority = 0;
        mine.reliability = *fld[3] ? (uint32_t)strtoul(fld[3], NULL, 10)
                           : *fld[4] ? (uint32_t)strtoul(fld[4], NULL, 10) : 0;
        mine.label = (const uint8_t *)fld[0];
        mine.label_len = (uint16_t)strlen(fld[0]);
        mine.protocol = (const uint8_t *)fld[1];
        mine.protocol_len = (uint16_t)strlen(fld[1]);
        uint8_t out[512];
        ck_assert_int_eq(rtc_dcep_write_open(&mine, out, sizeof out), n);
        ck_assert(memcmp(out, bytes, (size_t)n) == 0);
        lines++;
    }
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_int_eq(lines, 7);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sctp_dcep");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_parse_open_fields);
    tcase_add_test(tc, test_write_open_roundtrip);
    tcase_add_test(tc, test_every_truncation_is_rejected);
    tcase_add_test(tc, test_malformed_open_rejected);
    tcase_add_test(tc, test_ack_codec);
    tcase_add_test(tc, test_aiortc_open_bytes_decode_and_reencode);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
