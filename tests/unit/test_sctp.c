/* SCTP association + data channels: two associations back to back in memory (DTLS client
 * role <-> server role) over a fake clock and an optionally lossy pipe (sctp_pair.h). */
#include <check.h>
#include <stdio.h>

#include "rtc/sctp.h"
#include "sctp_pair.h"

static tpair_t P;

static void setup_pair(uint64_t seed) {
    rtc_log_set_level(getenv("SCTP_LOG") ? RTC_LOG_DEBUG : RTC_LOG_ERROR);
    ck_assert_int_eq(tp_create(&P, seed, NULL, NULL), RTC_OK);
}

static rtc_dc_t *open_local(tpeer_t *pe, const char *label, const rtc_dc_init_t *init) {
    rtc_dc_t *dc = NULL;
    ck_assert_int_eq(rtc_sctp_create_channel(pe->a, label, init, &dc), RTC_OK);
    ck_assert_ptr_nonnull(tp_track(pe, dc));
    return dc;
}

static int g_want_id;
static bool remote_has_open(tpair_t *p) {
    tchan_t *a = tp_find(&p->c, g_want_id), *b = tp_find(&p->s, g_want_id);
    return a && b && a->opened && b->opened;
}

START_TEST(test_handshake_connects_both_roles) {
    setup_pair(1);
    ck_assert_int_eq(rtc_sctp_state(P.c.a), RTC_SCTP_STATE_NEW);
    ck_assert(tp_connect(&P));
    ck_assert_int_eq(P.c.states[RTC_SCTP_STATE_CONNECTED], 1);
    ck_assert_int_eq(P.s.states[RTC_SCTP_STATE_CONNECTED], 1);
    ck_assert_uint_eq(rtc_sctp_outbound_streams(P.c.a), 1024);
    ck_assert_uint_eq(rtc_sctp_inbound_streams(P.c.a), 1024);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_inband_channel_opens_and_carries_messages) {
    setup_pair(2);
    ck_assert(tp_connect(&P));
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.protocol = "chat";
    rtc_dc_t *dc = open_local(&P.c, "hello", &init);
    ck_assert_int_eq(rtc_dc_id(dc), 0); /* DTLS client: even ids */
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_uint_eq(P.s.incoming, 1);
    tchan_t *r = tp_find(&P.s, 0);
    ck_assert_str_eq(rtc_dc_label(r->dc), "hello");
    ck_assert_str_eq(rtc_dc_protocol(r->dc), "chat");
    ck_assert(rtc_dc_ordered(r->dc));
    ck_assert_int_eq(rtc_dc_send(dc, "hi there", 8, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(r->dc, "\x01\x02\x03", 3, false), RTC_OK);
    tp_run(&P, RTC_SEC(1), NULL);
    ck_assert_uint_eq(r->strings, 1);
    ck_assert_uint_eq(r->bytes, 8);
    ck_assert_uint_eq(tp_find(&P.c, 0)->binaries, 1);
    tp_destroy(&P);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sctp");
    TCase *tc = tcase_create("pair");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_handshake_connects_both_roles);
    tcase_add_test(tc, test_inband_channel_opens_and_carries_messages);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
