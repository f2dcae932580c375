/* sfu/keyreq: keyframe requests to a publisher are throttled per stream on a fake clock. */
#include <check.h>
#include <stdlib.h>

#include "sfu/keyreq.h"

START_TEST(test_first_request_goes_out_then_throttled) {
    sfu_keyreq_t k;
    sfu_keyreq_init(&k, RTC_MS(500));
    rtc_time_t t0 = RTC_SEC(100);
    ck_assert(sfu_keyreq_want(&k, t0));
    ck_assert(k.waiting);
    /* Ten subscribers ask within the next 499 ms: absorbed. */
    for (int i = 1; i <= 10; i++) ck_assert(!sfu_keyreq_want(&k, t0 + RTC_MS(49 * i)));
    ck_assert_uint_eq(k.sent, 1);
    ck_assert_uint_eq(k.absorbed, 10);
    /* At 500 ms the next one goes out (the first PLI or its keyframe may have been lost). */
    ck_assert(sfu_keyreq_want(&k, t0 + RTC_MS(500)));
    ck_assert_uint_eq(k.sent, 2);
}
END_TEST

START_TEST(test_keyframe_clears_waiting_but_not_the_interval) {
    sfu_keyreq_t k;
    sfu_keyreq_init(&k, RTC_MS(300));
    ck_assert(sfu_keyreq_want(&k, 0));
    sfu_keyreq_on_keyframe(&k, RTC_MS(80));
    ck_assert(!k.waiting);
    ck_assert_int_eq(k.last_keyframe, RTC_MS(80));
    /* A request right after the keyframe is still throttled: at most one per interval. */
    ck_assert(!sfu_keyreq_want(&k, RTC_MS(100)));
    ck_assert(sfu_keyreq_want(&k, RTC_MS(300)));
}
END_TEST

START_TEST(test_rate_over_a_storm_is_bounded) {
    /* 50 subscribers sending PLIs every 20 ms for 10 s: 20 requests reach the publisher. */
    sfu_keyreq_t k;
    sfu_keyreq_init(&k, RTC_MS(500));
    uint64_t sent = 0;
    for (rtc_time_t t = 0; t < RTC_SEC(10); t += RTC_MS(20))
        for (int s = 0; s < 50; s++) sent += sfu_keyreq_want(&k, t);
    ck_assert_uint_eq(sent, 20);
    /* A zero interval is replaced by the default rather than letting everything through. */
    sfu_keyreq_init(&k, 0);
    ck_assert_int_eq(k.min_interval, RTC_MS(500));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_keyreq");
    TCase *tc = tcase_create("keyreq");
    tcase_add_test(tc, test_first_request_goes_out_then_throttled);
    tcase_add_test(tc, test_keyframe_clears_waiting_but_not_the_interval);
    tcase_add_test(tc, test_rate_over_a_storm_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
