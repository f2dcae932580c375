/* signal/ratelimit: the per-connection token bucket with a fake clock — burst, refill at the
 * configured rate, the "told you" throttle (one notice a second), disconnection once a client
 * keeps going for more than a burst of refusals, and recovery for a client that slows down. */
#include <check.h>

#include "signal/ratelimit.h"

START_TEST(burst_then_refusals) {
    signal_ratelimit_t rl;
    signal_ratelimit_init(&rl, 50, 100, 0);
    for (int i = 0; i < 100; i++) ck_assert_int_eq(signal_ratelimit_take(&rl, 0), SIGNAL_RL_ACCEPT);
    ck_assert_int_eq(signal_ratelimit_take(&rl, 0), SIGNAL_RL_NOTIFY);
    for (int i = 0; i < 50; i++) ck_assert_int_eq(signal_ratelimit_take(&rl, 10), SIGNAL_RL_REFUSE);
}
END_TEST

START_TEST(refills_at_the_rate) {
    signal_ratelimit_t rl;
    signal_ratelimit_init(&rl, 50, 100, 0);
    for (int i = 0; i < 100; i++) signal_ratelimit_take(&rl, 0);
    /* 50/s: after 200 ms, 10 more; the 11th is refused. */
    for (int i = 0; i < 10; i++) ck_assert_int_eq(signal_ratelimit_take(&rl, 200), SIGNAL_RL_ACCEPT);
    ck_assert_int_ne(signal_ratelimit_take(&rl, 200), SIGNAL_RL_ACCEPT);
    /* Never more than the burst, however long the pause. */
    int accepted = 0;
    for (int i = 0; i < 300; i++) accepted += signal_ratelimit_take(&rl, 3600000) == SIGNAL_RL_ACCEPT;
    ck_assert_int_eq(accepted, 100);
    /* Time going backwards (it cannot, but) adds nothing. */
    ck_assert_int_ne(signal_ratelimit_take(&rl, 1000), SIGNAL_RL_ACCEPT);
}
END_TEST

START_TEST(notices_at_most_once_a_second) {
    signal_ratelimit_t rl;
    signal_ratelimit_init(&rl, 1, 10, 0);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(signal_ratelimit_take(&rl, 0), SIGNAL_RL_ACCEPT);
    ck_assert_int_eq(signal_ratelimit_take(&rl, 10), SIGNAL_RL_NOTIFY);
    ck_assert_int_eq(signal_ratelimit_take(&rl, 500), SIGNAL_RL_REFUSE);
    ck_assert_int_eq(signal_ratelimit_take(&rl, 900), SIGNAL_RL_REFUSE);
    ck_assert_int_eq(signal_ratelimit_take(&rl, 1010), SIGNAL_RL_ACCEPT); /* one token back */
    ck_assert_int_eq(signal_ratelimit_take(&rl, 1020), SIGNAL_RL_NOTIFY); /* a second later */
    ck_assert_int_eq(signal_ratelimit_take(&rl, 1030), SIGNAL_RL_REFUSE);
}
END_TEST

START_TEST(flooder_is_disconnected_slow_client_is_not) {
    signal_ratelimit_t rl;
    signal_ratelimit_init(&rl, 50, 100, 0);
    int verdicts[4] = {0};
    signal_rl_verdict_t v = SIGNAL_RL_ACCEPT;
    int i = 0;
    for (; i < 10000 && v != SIGNAL_RL_DISCONNECT; i++) {
        v = signal_ratelimit_take(&rl, i / 100); /* 100 000 messages a second */
        verdicts[v]++;
    }
    ck_assert_int_eq(v, SIGNAL_RL_DISCONNECT);
    ck_assert_int_ge(verdicts[SIGNAL_RL_ACCEPT], 100);
    ck_assert_int_le(verdicts[SIGNAL_RL_ACCEPT], 105);
    ck_assert_int_eq(verdicts[SIGNAL_RL_NOTIFY], 1);
    /* A client slightly over the rate (60/s against 50/s) is throttled but never cut off:
     * every accepted message resets the run of refusals. */
    signal_ratelimit_init(&rl, 50, 100, 0);
    int refused = 0;
    for (int k = 0; k < 60 * 120; k++) { /* two minutes */
        v = signal_ratelimit_take(&rl, (int64_t)k * 1000 / 60);
        ck_assert_int_ne(v, SIGNAL_RL_DISCONNECT);
        refused += v != SIGNAL_RL_ACCEPT;
    }
    ck_assert_int_gt(refused, 60 * 120 / 7);
}
END_TEST

START_TEST(rate_zero_disables) {
    signal_ratelimit_t rl;
    signal_ratelimit_init(&rl, 0, 1, 0);
    for (int i = 0; i < 100000; i++) ck_assert_int_eq(signal_ratelimit_take(&rl, 0), SIGNAL_RL_ACCEPT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("signal_ratelimit");
    TCase *tc = tcase_create("ratelimit");
    tcase_add_test(tc, burst_then_refusals);
    tcase_add_test(tc, refills_at_the_rate);
    tcase_add_test(tc, notices_at_most_once_a_second);
    tcase_add_test(tc, flooder_is_disconnected_slow_client_is_not);
    tcase_add_test(tc, rate_zero_disables);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
