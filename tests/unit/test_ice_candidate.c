/* ICE candidates: RFC 8445 §5.1.2 priorities, §6.1.2.3 pair priorities, and the RFC 8839
 * §5.1 candidate attribute as browsers and other stacks write it. */
#include <check.h>
#include <stdio.h>

#include "rtc/ice.h"

START_TEST(priorities_follow_rfc8445_formula) {
    /* (2^24)*126 + (2^8)*65535 + (256 - 1) */
    ck_assert_uint_eq(rtc_ice_candidate_priority(126, 65535, 1), 2130706431u);
    ck_assert_uint_eq(rtc_ice_candidate_priority(100, 65535, 1), 1694498815u);
    ck_assert_uint_eq(rtc_ice_candidate_priority(110, 65535, 1), 1862270975u);
    ck_assert_uint_eq(rtc_ice_candidate_priority(0, 65535, 1), 16777215u);
    /* RTCP component 2 is one lower. */
    ck_assert_uint_eq(rtc_ice_candidate_priority(126, 65535, 2), 2130706430u);
    ck_assert_uint_eq(rtc_ice_type_preference(RTC_ICE_CANDIDATE_HOST), 126);
    ck_assert_uint_eq(rtc_ice_type_preference(RTC_ICE_CANDIDATE_PRFLX), 110);
    ck_assert_uint_eq(rtc_ice_type_preference(RTC_ICE_CANDIDATE_SRFLX), 100);
    ck_assert_uint_eq(rtc_ice_type_preference(RTC_ICE_CANDIDATE_RELAY), 0);
}
END_TEST

START_TEST(pair_priority_follows_rfc8445_formula) {
    uint64_t g = 2130706431u, d = 1694498815u;
    ck_assert(rtc_ice_pair_priority((uint32_t)g, (uint32_t)d) == (d << 32) + 2 * g + 1);
    ck_assert(rtc_ice_pair_priority((uint32_t)d, (uint32_t)g) == (d << 32) + 2 * g + 0);
    /* Both agents compute the same value from their own viewpoint. */
    ck_assert(rtc_ice_pair_priority(5, 5) == (5ull << 32) + 10);
}
END_TEST

START_TEST(parses_rfc8839_host_and_srflx) {
    rtc_ice_candidate_t c;
    const char *host = "a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host\r\n";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, host, strlen(host)), RTC_OK);
    ck_assert_str_eq(c.foundation, "1");
    ck_assert_uint_eq(c.component, 1);
    ck_assert_int_eq(c.transport, RTC_ICE_TRANSPORT_UDP);
    ck_assert_uint_eq(c.priority, 2130706431u);
    ck_assert_str_eq(rtc_addr_str(&c.addr), "203.0.113.141:8998");
    ck_assert_int_eq(c.type, RTC_ICE_CANDIDATE_HOST);
    ck_assert_int_eq(c.related.family, RTC_AF_UNSPEC);
    ck_assert_int_eq(c.generation, -1);

    const char *srflx = "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, srflx, strlen(srflx)), RTC_OK);
    ck_assert_int_eq(c.type, RTC_ICE_CANDIDATE_SRFLX);
    ck_assert_str_eq(rtc_addr_str(&c.related), "10.0.1.1:8998");
}
END_TEST

START_TEST(parses_browser_extensions_and_mdns_names) {
    rtc_ice_candidate_t c;
    const char *chrome = "candidate:842163049 1 udp 1677729535 198.51.100.7 51523 typ srflx raddr 0.0.0.0 "
                         "rport 0 generation 0 ufrag EsAw network-cost 999";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, chrome, strlen(chrome)), RTC_OK);
    ck_assert_int_eq(c.generation, 0);
    ck_assert_str_eq(c.ufrag, "EsAw");
    ck_assert_str_eq(rtc_addr_str(&c.related), "0.0.0.0:0");

    const char *mdns = "candidate:1 1 udp 2122260223 6f2d4a05-2d0c-4c5d-9e49-fc1b4b6b3a9d.local 54321 typ host "
                       "generation 0 ufrag abcd network-id 1";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, mdns, strlen(mdns)), RTC_OK);
    ck_assert_str_eq(c.hostname, "6f2d4a05-2d0c-4c5d-9e49-fc1b4b6b3a9d.local");
    ck_assert_int_eq(c.addr.family, RTC_AF_UNSPEC);
    ck_assert_uint_eq(c.addr.port, 54321);

    const char *tcp = "candidate:3 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active generation 0";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, tcp, strlen(tcp)), RTC_OK);
    ck_assert_int_eq(c.transport, RTC_ICE_TRANSPORT_TCP);
    ck_assert_int_eq(c.tcp_type, RTC_ICE_TCP_ACTIVE);

    const char *v6 = "candidate:4 1 udp 2122262783 2001:db8::1 5000 typ host";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, v6, strlen(v6)), RTC_OK);
    ck_assert_int_eq(c.addr.family, RTC_AF_INET6);
    ck_assert_str_eq(rtc_addr_str(&c.addr), "[2001:db8::1]:5000");

    const char *relay = "candidate:5 1 udp 41885439 203.0.113.5 3478 typ relay raddr 198.51.100.2 rport 55555";
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, relay, strlen(relay)), RTC_OK);
    ck_assert_int_eq(c.type, RTC_ICE_CANDIDATE_RELAY);
}
END_TEST

START_TEST(refuses_malformed_lines) {
    static const struct { const char *s; int rc; } bad[] = {
        {"", RTC_ERR_MALFORMED},
        {"candidate:", RTC_ERR_MALFORMED},
        {"candidate:1 1 udp 100 1.2.3.4 5 host", RTC_ERR_MALFORMED},        /* no "typ" */
        {"candidate:1 0 udp 100 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},    /* component 0 */
        {"candidate:1 257 udp 100 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},  /* component > 256 */
        {"candidate:1 1 udp 100 1.2.3.4 65536 typ host", RTC_ERR_MALFORMED},
        {"candidate:1 1 udp 4294967296 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},
        {"candidate:1 1 udp -5 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},
        {"candidate:1 1 udp 100 1.2.3.4 5 typ foo", RTC_ERR_MALFORMED},
        {"candidate:1 1 sctp 100 1.2.3.4 5 typ host", RTC_ERR_UNSUPPORTED},
        {"candidate:1 1 udp 100 1.2.3.4 5 typ srflx raddr", RTC_ERR_MALFORMED}, /* name, no value */
        {"candidate:1 1 udp 100 1.2.3.4 5 typ srflx rport x", RTC_ERR_MALFORMED},
        {"candidate:1 1 udp 100 bad_host! 5 typ host", RTC_ERR_MALFORMED},
        {"candidate:f*o 1 udp 100 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},
        {"candidate:123456789012345678901234567890123 1 udp 100 1.2.3.4 5 typ host", RTC_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rtc_ice_candidate_t c;
        ck_assert_msg(rtc_ice_candidate_parse(&c, bad[i].s, strlen(bad[i].s)) == bad[i].rc, "%s", bad[i].s);
    }
    /* n is respected: a valid line cut short is not read past its end. */
    const char *ok = "candidate:1 1 udp 100 1.2.3.4 5 typ host";
    rtc_ice_candidate_t c;
    ck_assert_int_eq(rtc_ice_candidate_parse(&c, ok, strlen(ok) - 5), RTC_ERR_MALFORMED);
}
END_TEST

START_TEST(format_then_parse_round_trips) {
    rtc_ice_candidate_t c, d;
    memset(&c, 0, sizeof c);
    snprintf(c.foundation, sizeof c.foundation, "4242");
    c.component = 1;
    c.priority = 1694498815u;
    rtc_addr_parse(&c.addr, "198.51.100.9:40000", 0);
    c.type = RTC_ICE_CANDIDATE_SRFLX;
    rtc_addr_parse(&c.related, "10.0.0.9:5000", 0);
    c.generation = 0;
    snprintf(c.ufrag, sizeof c.ufrag, "abcd");
    char line[RTC_ICE_CANDIDATE_STRLEN];
    int n = rtc_ice_candidate_format(&c, line, sizeof line);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(line, "candidate:4242 1 udp 1694498815 198.51.100.9 40000 typ srflx raddr 10.0.0.9 rport 5000 "
                           "generation 0 ufrag abcd");
    ck_assert_int_eq(rtc_ice_candidate_parse(&d, line, (size_t)n), RTC_OK);
    ck_assert_str_eq(d.foundation, c.foundation);
    ck_assert_uint_eq(d.priority, c.priority);
    ck_assert(rtc_addr_equal(&d.addr, &c.addr));
    ck_assert(rtc_addr_equal(&d.related, &c.related));
    ck_assert_str_eq(d.ufrag, "abcd");
    /* Too small a buffer is refused, not truncated. */
    ck_assert_int_eq(rtc_ice_candidate_format(&c, line, 10), RTC_ERR_OVERFLOW);
    ck_assert_str_eq(rtc_ice_state_name(RTC_ICE_STATE_COMPLETED), "completed");
    ck_assert_str_eq(rtc_ice_gathering_state_name(RTC_ICE_GATHERING_COMPLETE), "complete");
    ck_assert_str_eq(rtc_ice_pair_state_name(RTC_ICE_PAIR_IN_PROGRESS), "in-progress");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_candidate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, priorities_follow_rfc8445_formula);
    tcase_add_test(tc, pair_priority_follows_rfc8445_formula);
    tcase_add_test(tc, parses_rfc8839_host_and_srflx);
    tcase_add_test(tc, parses_browser_extensions_and_mdns_names);
    tcase_add_test(tc, refuses_malformed_lines);
    tcase_add_test(tc, format_then_parse_round_trips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
