/* Base layer: errors, readers/writers, CRC, digests/HMAC, base64/hex, addresses, logging,
 * clock and random hooks. Vectors are quoted with their RFC. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/base.h"

START_TEST(strerror_covers_every_code_and_rejects_unknown) {
    for (int e = 0; e >= RTC_ERR_FAILED; e--) ck_assert_str_ne(rtc_strerror(e), "unknown error");
    ck_assert_str_eq(rtc_strerror(RTC_ERR_FAILED - 1), "unknown error");
    ck_assert_str_eq(rtc_strerror(5), "unknown error");
    ck_assert_str_eq(rtc_strerror(RTC_ERR_INTEGRITY), "integrity check failed");
}
END_TEST

START_TEST(reader_stops_at_end_and_sticks_in_error) {
    const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05};
    rtc_reader_t r;
    rtc_reader_init(&r, b, sizeof b);
    ck_assert_uint_eq(rtc_reader_u16(&r), 0x0102);
    ck_assert_uint_eq(rtc_reader_u8(&r), 0x03);
    ck_assert_uint_eq(rtc_reader_left(&r), 2);
    ck_assert_uint_eq(rtc_reader_u32(&r), 0); /* only 2 left */
    ck_assert(r.err);
    ck_assert_uint_eq(rtc_reader_u8(&r), 0);  /* still failed, does not read 0x04 */
    ck_assert_ptr_null(rtc_reader_bytes(&r, 1));
    ck_assert_uint_eq(rtc_reader_left(&r), 0);
}
END_TEST

START_TEST(reader_huge_length_does_not_wrap) {
    const uint8_t b[4] = {0};
    rtc_reader_t r;
    rtc_reader_init(&r, b, sizeof b);
    rtc_reader_u8(&r);
    ck_assert_ptr_null(rtc_reader_bytes(&r, SIZE_MAX));
    ck_assert(r.err);
}
END_TEST

START_TEST(writer_refuses_overflow) {
    uint8_t b[5];
    rtc_writer_t w;
    rtc_writer_init(&w, b, sizeof b);
    rtc_writer_u32(&w, 0xdeadbeef);
    ck_assert(!w.err);
    rtc_writer_u16(&w, 0x1234);
    ck_assert(w.err);
    ck_assert_uint_eq(w.len, 4);
    ck_assert_uint_eq(rtc_be32(b), 0xdeadbeef);
}
END_TEST

START_TEST(byte_order_round_trips) {
    uint8_t b[8];
    rtc_put_be64(b, 0x0102030405060708ULL);
    ck_assert_uint_eq(b[0], 1);
    ck_assert_uint_eq(b[7], 8);
    ck_assert(rtc_be64(b) == 0x0102030405060708ULL);
    rtc_put_be24(b, 0xabcdef);
    ck_assert_uint_eq(rtc_be24(b), 0xabcdef);
}
END_TEST

START_TEST(buf_grows_and_formats) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    for (int i = 0; i < 100; i++) ck_assert_int_eq(rtc_buf_appendf(&b, "%d,", i), 0);
    ck_assert(b.len > 250);
    ck_assert_int_eq(strncmp((char *)b.data, "0,1,2,", 6), 0);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    size_t before = b.len;
    ck_assert_int_eq(rtc_buf_appendf(&b, "%s", big), 0);
    ck_assert_uint_eq(b.len, before + 599);
    ck_assert_int_eq(b.data[b.len], 0);
    rtc_buf_free(&b);
}
END_TEST

START_TEST(crc32_check_values) {
    /* The standard "check" value of each CRC catalogue entry for "123456789". */
    const uint8_t s[] = "123456789";
    ck_assert_uint_eq(rtc_crc32(0, s, 9), 0xCBF43926u);
    ck_assert_uint_eq(rtc_crc32c(0, s, 9), 0xE3069283u);
    ck_assert_uint_eq(rtc_crc32(rtc_crc32(0, s, 4), s + 4, 5), 0xCBF43926u);
}
END_TEST

START_TEST(hmac_sha1_rfc2202_vectors) {
    /* RFC 2202 §3 test cases 1 and 6 (key longer than the block). */
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof key1);
    uint8_t out[20];
    ck_assert_int_eq(rtc_hmac_sha1(key1, 20, "Hi There", 8, out), 20);
    char hex[41];
    rtc_hex_encode(out, 20, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    uint8_t key6[80];
    memset(key6, 0xaa, sizeof key6);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    rtc_hmac_sha1(key6, 80, d6, strlen(d6), out);
    rtc_hex_encode(out, 20, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}
END_TEST

START_TEST(hmac_sha256_rfc4231_vector_in_parts) {
    /* RFC 4231 §4.3 test case 2, fed as two parts to check scattered input. */
    rtc_iov_t parts[] = {{"what do ya want ", 16}, {"for nothing?", 12}};
    uint8_t out[32];
    ck_assert_int_eq(rtc_hmac(RTC_DIGEST_SHA256, "Jefe", 4, parts, 2, out), 32);
    char hex[65];
    rtc_hex_encode(out, 32, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(digests_known_answers) {
    uint8_t out[32];
    char hex[65];
    rtc_iov_t abc = {"abc", 3};
    ck_assert_int_eq(rtc_digest(RTC_DIGEST_MD5, &abc, 1, out), 16);
    rtc_hex_encode(out, 16, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "900150983cd24fb0d6963f7d28e17f72"); /* RFC 1321 A.5 */
    ck_assert_int_eq(rtc_digest(RTC_DIGEST_SHA256, &abc, 1, out), 32);
    rtc_hex_encode(out, 32, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert(rtc_ct_equal("abc", "abc", 3));
    ck_assert(!rtc_ct_equal("abc", "abd", 3));
}
END_TEST

START_TEST(base64_rfc4648_vectors) {
    /* RFC 4648 §10. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char enc[16];
        ck_assert_int_eq(rtc_base64_encode((const uint8_t *)in[i], strlen(in[i]), enc, sizeof enc),
                         (int)strlen(want[i]));
        ck_assert_str_eq(enc, want[i]);
        uint8_t dec[16];
        int n = rtc_base64_decode(want[i], strlen(want[i]), dec, sizeof dec);
        ck_assert_int_eq(n, (int)strlen(in[i]));
        ck_assert_int_eq(memcmp(dec, in[i], (size_t)n), 0);
    }
}
END_TEST

START_TEST(base64_rejects_bad_input_and_small_buffers) {
    uint8_t out[8];
    ck_assert_int_eq(rtc_base64_decode("Zm9v!", 5, out, sizeof out), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_base64_decode("Z", 1, out, sizeof out), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_base64_decode("Zh==", 4, out, sizeof out), RTC_ERR_MALFORMED); /* non-zero tail bits */
    ck_assert_int_eq(rtc_base64_decode("Zm9vYmFy", 8, out, 5), RTC_ERR_OVERFLOW);
    char enc[4];
    ck_assert_int_eq(rtc_base64_encode((const uint8_t *)"foo", 3, enc, sizeof enc), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(hex_with_separators) {
    const uint8_t b[] = {0xab, 0x01, 0xff};
    char s[16];
    ck_assert_int_eq(rtc_hex_encode(b, 3, ':', true, s, sizeof s), 8);
    ck_assert_str_eq(s, "AB:01:FF");
    uint8_t d[3];
    ck_assert_int_eq(rtc_hex_decode("AB:01:ff", 8, d, sizeof d), 3);
    ck_assert_int_eq(memcmp(b, d, 3), 0);
    ck_assert_int_eq(rtc_hex_decode("ab01ff", 6, d, sizeof d), 3);
    ck_assert_int_eq(rtc_hex_decode("AB:01ff", 7, d, sizeof d), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_hex_decode("ABC", 3, d, sizeof d), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_hex_decode("AB0102FF", 8, d, sizeof d), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(addr_parse_and_format) {
    rtc_addr_t a;
    char s[RTC_ADDR_STRLEN];
    ck_assert_int_eq(rtc_addr_parse(&a, "192.0.2.1:3478", 0), 0);
    ck_assert_uint_eq(a.family, RTC_AF_INET4);
    ck_assert_uint_eq(a.port, 3478);
    rtc_addr_format(&a, s, sizeof s);
    ck_assert_str_eq(s, "192.0.2.1:3478");
    ck_assert_int_eq(rtc_addr_parse(&a, "[2001:db8::1]:5349", 0), 0);
    ck_assert_uint_eq(a.family, RTC_AF_INET6);
    rtc_addr_format(&a, s, sizeof s);
    ck_assert_str_eq(s, "[2001:db8::1]:5349");
    ck_assert_int_eq(rtc_addr_parse(&a, "::1", 9), 0);
    ck_assert_uint_eq(a.port, 9);
    ck_assert(rtc_addr_is_loopback(&a));
    ck_assert_int_eq(rtc_addr_parse(&a, "fe80::1%3", 0), 0);
    ck_assert_uint_eq(a.scope_id, 3);
    ck_assert(rtc_addr_is_link_local(&a));
    const char *bad[] = {"", "1.2.3", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:x", "[::1", "[::1]x",
                         "[1.2.3.4]:5", "host.example:80", "::1::2", "1.2.3.4.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(rtc_addr_parse(&a, bad[i], 0) == RTC_ERR_ADDR, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(addr_compare_hash_unmap_prefix) {
    rtc_addr_t a, b, p;
    ck_assert_int_eq(rtc_addr_parse(&a, "[::ffff:10.1.2.3]:80", 0), 0);
    rtc_addr_parse(&b, "10.1.2.3:80", 0);
    ck_assert(!rtc_addr_equal(&a, &b));
    ck_assert(rtc_addr_unmap(&a));
    ck_assert(rtc_addr_equal(&a, &b));
    ck_assert_uint_eq(rtc_addr_hash(&a), rtc_addr_hash(&b));
    ck_assert(rtc_addr_is_private(&a));
    b.port = 81;
    ck_assert(rtc_addr_equal_ip(&a, &b));
    ck_assert_int_lt(rtc_addr_compare(&a, &b), 0);
    unsigned bits;
    ck_assert_int_eq(rtc_addr_parse_cidr("10.0.0.0/8", &p, &bits), 0);
    ck_assert_uint_eq(bits, 8);
    ck_assert(rtc_addr_in_prefix(&a, &p, bits));
    ck_assert_int_eq(rtc_addr_parse_cidr("fc00::/7", &p, &bits), 0);
    ck_assert(!rtc_addr_in_prefix(&a, &p, bits));
    rtc_addr_parse(&b, "fd12::1", 0);
    ck_assert(rtc_addr_in_prefix(&b, &p, bits));
    ck_assert_int_eq(rtc_addr_parse_cidr("10.0.0.0/33", &p, &bits), RTC_ERR_ADDR);
    ck_assert_int_eq(rtc_addr_parse_cidr("172.16.0.0/12", &p, &bits), 0);
    rtc_addr_parse(&b, "172.31.255.255", 0);
    ck_assert(rtc_addr_in_prefix(&b, &p, bits));
    rtc_addr_parse(&b, "172.32.0.0", 0);
    ck_assert(!rtc_addr_in_prefix(&b, &p, bits));
}
END_TEST

static char last_msg[256];
static rtc_log_level_t last_level;
static void capture(rtc_log_level_t level, const char *module, const char *msg, void *user) {
    (void)module;
    (*(int *)user)++;
    last_level = level;
    snprintf(last_msg, sizeof last_msg, "%s", msg);
}

START_TEST(log_callback_and_level_filter) {
    int calls = 0;
    rtc_log_set_callback(capture, &calls);
    rtc_log_set_level(RTC_LOG_WARN);
    RTC_LOGI("test", "hidden %d", 1);
    ck_assert_int_eq(calls, 0);
    RTC_LOGW("test", "shown %d", 2);
    ck_assert_int_eq(calls, 1);
    ck_assert_str_eq(last_msg, "shown 2");
    ck_assert_int_eq(last_level, RTC_LOG_WARN);
    rtc_log_set_callback(NULL, NULL);
    rtc_log_set_level(RTC_LOG_INFO);
    rtc_log_level_t l;
    ck_assert_int_eq(rtc_log_level_parse("debug", &l), 0);
    ck_assert_int_eq(l, RTC_LOG_DEBUG);
    ck_assert_int_eq(rtc_log_level_parse("loud", &l), RTC_ERR_INVALID_ARG);
    char esc[32];
    rtc_json_escape(esc, sizeof esc, "a\"b\\c\n\x01");
    ck_assert_str_eq(esc, "a\\\"b\\\\c\\n\\u0001");
}
END_TEST

static rtc_time_t fake_now(void *user) { return *(rtc_time_t *)user; }
static int fake_random(uint8_t *buf, size_t n, void *user) {
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(*(int *)user)++;
    return 0;
}

START_TEST(clock_and_random_can_be_replaced) {
    rtc_time_t t0 = rtc_clock_now(), t1 = rtc_clock_now();
    ck_assert(t1 >= t0);
    rtc_time_t fake = RTC_SEC(42);
    rtc_clock_set_source(fake_now, &fake);
    ck_assert(rtc_clock_now() == RTC_SEC(42));
    rtc_clock_set_source(NULL, NULL);
    ck_assert(rtc_clock_now() >= t1);

    int counter = 0;
    rtc_random_set_source(fake_random, &counter);
    ck_assert_uint_eq(rtc_random_u32(), 0x00010203u);
    rtc_random_set_source(NULL, NULL);
    uint8_t a[16] = {0}, b[16] = {0};
    rtc_random_bytes(a, 16);
    rtc_random_bytes(b, 16);
    ck_assert(memcmp(a, b, 16) != 0);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(rtc_random_uniform(7), 7);
    char ice[23];
    rtc_random_ice_string(ice, 22);
    ck_assert_uint_eq(strlen(ice), 22);
}
END_TEST

static Suite *base_suite(void) {
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, strerror_covers_every_code_and_rejects_unknown);
    tcase_add_test(tc, reader_stops_at_end_and_sticks_in_error);
    tcase_add_test(tc, reader_huge_length_does_not_wrap);
    tcase_add_test(tc, writer_refuses_overflow);
    tcase_add_test(tc, byte_order_round_trips);
    tcase_add_test(tc, buf_grows_and_formats);
    tcase_add_test(tc, crc32_check_values);
    tcase_add_test(tc, hmac_sha1_rfc2202_vectors);
    tcase_add_test(tc, hmac_sha256_rfc4231_vector_in_parts);
    tcase_add_test(tc, digests_known_answers);
    tcase_add_test(tc, base64_rfc4648_vectors);
    tcase_add_test(tc, base64_rejects_bad_input_and_small_buffers);
    tcase_add_test(tc, hex_with_separators);
    tcase_add_test(tc, addr_parse_and_format);
    tcase_add_test(tc, addr_compare_hash_unmap_prefix);
    tcase_add_test(tc, log_callback_and_level_filter);
    tcase_add_test(tc, clock_and_random_can_be_replaced);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(base_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
