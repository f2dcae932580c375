/* sfu/speaker: active speakers from RFC 6464 audio levels on a fake clock — talk spurts,
 * pauses between words, DTX silence, two people talking, the 4-per-second limit. */
#include <check.h>
#include <stdlib.h>

#include "sfu/speaker.h"

static int A, B, C; /* handles */

/* Feeds 20 ms audio packets for [from, to) at a level (dBov), 127 for silence. With dtx,
 * silence sends no packets at all (Opus DTX). */
static void talk(sfu_speakers_t *s, int slot, rtc_time_t from, rtc_time_t to, uint8_t dbov,
                 bool dtx) {
    for (rtc_time_t t = from; t < to; t += RTC_MS(20)) {
        if (dtx && dbov == 127) continue;
        sfu_speakers_on_level(s, slot, dbov, dbov < 127, t);
    }
}

typedef struct {
    int changes;
    sfu_speaker_t last[8];
    size_t n_last;
    rtc_time_t at[64];
} rec_t;

/* Polls at every evaluation time up to `to` (as the worker's timer does), and at `to`. */
static void poll_until(sfu_speakers_t *s, rtc_time_t to, rec_t *r) {
    for (rtc_time_t t = sfu_speakers_next_timeout(s); t != RTC_TIME_NEVER;) {
        if (t > to) t = to;
        sfu_speaker_t out[8];
        size_t n;
        if (sfu_speakers_poll(s, t, out, 8, &n)) {
            if (r->changes < 64) r->at[r->changes] = t;
            r->changes++;
            memcpy(r->last, out, n * sizeof out[0]);
            r->n_last = n;
        }
        if (t == to) break;
        t = sfu_speakers_next_timeout(s);
    }
}

START_TEST(test_one_speaker_starts_and_stops) {
    sfu_speakers_t *s = sfu_speakers_new(NULL);
    int a = sfu_speakers_add(s, &A), b = sfu_speakers_add(s, &B);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    rec_t r = {0};
    /* 1 s of silence from both (DTX comfort noise at -90 dBov): no report at all. */
    talk(s, a, 0, RTC_SEC(1), 90, false);
    talk(s, b, 0, RTC_SEC(1), 90, false);
    poll_until(s, RTC_SEC(1), &r);
    ck_assert_int_eq(r.changes, 0);
    /* A talks at -25 dBov for 2 s (fed and polled in real time, 20 ms steps). */
    for (rtc_time_t t = RTC_SEC(1); t < RTC_SEC(3); t += RTC_MS(20)) {
        talk(s, a, t, t + RTC_MS(20), 25, false);
        talk(s, b, t, t + RTC_MS(20), 90, false);
        poll_until(s, t, &r);
    }
    poll_until(s, RTC_SEC(3), &r);
    ck_assert_int_eq(r.changes, 1);
    ck_assert_uint_eq(r.n_last, 1);
    ck_assert_ptr_eq(r.last[0].who, &A);
    /* -25 dBov is 0.056; at first detection the smoothing has not caught up yet. */
    ck_assert_double_ge(r.last[0].level, 0.02);
    ck_assert_double_le(r.last[0].level, 0.06);
    /* Detected within two intervals of the start. */
    ck_assert_int_le(r.at[0], RTC_SEC(1) + RTC_MS(500));
    /* A stops (DTX: no packets). The list empties once the smoothed level has decayed and
     * the hold passed: between 0.5 and 1.5 s later. */
    poll_until(s, RTC_SEC(5), &r);
    ck_assert_int_eq(r.changes, 2);
    ck_assert_uint_eq(r.n_last, 0);
    ck_assert_int_ge(r.at[1], RTC_SEC(3) + RTC_MS(500));
    ck_assert_int_le(r.at[1], RTC_SEC(3) + RTC_MS(1500));
    sfu_speakers_free(s);
}
END_TEST

START_TEST(test_pauses_between_words_do_not_flicker) {
    sfu_speakers_t *s = sfu_speakers_new(NULL);
    int a = sfu_speakers_add(s, &A);
    rec_t r = {0};
    /* Words of 300 ms with 200 ms pauses (DTX) for 5 s. */
    for (rtc_time_t t = 0; t < RTC_SEC(5); t += RTC_MS(500)) {
        talk(s, a, t, t + RTC_MS(300), 30, false);
        poll_until(s, t + RTC_MS(500), &r);
    }
    ck_assert_int_eq(r.changes, 1); /* became active once, stayed */
    ck_assert_uint_eq(r.n_last, 1);
    sfu_speakers_free(s);
}
END_TEST

START_TEST(test_loudest_first_and_rate_limited) {
    sfu_speakers_t *s = sfu_speakers_new(NULL);
    int a = sfu_speakers_add(s, &A), b = sfu_speakers_add(s, &B), c = sfu_speakers_add(s, &C);
    rec_t r = {0};
    talk(s, a, 0, RTC_SEC(2), 35, false);
    talk(s, b, 0, RTC_SEC(2), 20, false);
    talk(s, c, 0, RTC_SEC(2), 100, false); /* background noise: never listed */
    poll_until(s, RTC_SEC(2), &r);
    ck_assert_uint_eq(r.n_last, 2);
    ck_assert_ptr_eq(r.last[0].who, &B);
    ck_assert_ptr_eq(r.last[1].who, &A);
    ck_assert_double_gt(r.last[0].level, r.last[1].level);
    /* Now A gets louder than B: the order flips. */
    talk(s, a, RTC_SEC(2), RTC_SEC(4), 10, false);
    talk(s, b, RTC_SEC(2), RTC_SEC(4), 30, false);
    int before = r.changes;
    poll_until(s, RTC_SEC(4), &r);
    ck_assert_int_gt(r.changes, before);
    ck_assert_ptr_eq(r.last[0].who, &A);
    /* However levels alternate, never more than 4 reports a second. */
    rec_t storm = {0};
    for (int i = 0; i < 100; i++) {
        rtc_time_t t = RTC_SEC(4) + RTC_MS(20) * i;
        sfu_speakers_on_level(s, a, (i / 5) % 2 ? 5 : 40, true, t);
        sfu_speakers_on_level(s, b, (i / 5) % 2 ? 40 : 5, true, t);
        poll_until(s, t, &storm);
    }
    ck_assert_int_le(storm.changes, 9); /* 2 s: at most 8 intervals, plus one boundary */
    for (int i = 1; i < storm.changes && i < 64; i++)
        ck_assert_int_ge(storm.at[i] - storm.at[i - 1], RTC_MS(250));
    sfu_speakers_free(s);
}
END_TEST

START_TEST(test_removed_speaker_leaves_the_list_and_slots_are_reused) {
    sfu_speakers_t *s = sfu_speakers_new(NULL);
    int a = sfu_speakers_add(s, &A), b = sfu_speakers_add(s, &B);
    rec_t r = {0};
    talk(s, a, 0, RTC_SEC(1), 20, false);
    talk(s, b, 0, RTC_SEC(1), 25, false);
    poll_until(s, RTC_SEC(1), &r);
    ck_assert_uint_eq(r.n_last, 2);
    sfu_speakers_remove(s, a);
    talk(s, b, RTC_SEC(1), RTC_MS(1250), 25, false);
    poll_until(s, RTC_MS(1250), &r);
    ck_assert_uint_eq(r.n_last, 1);
    ck_assert_ptr_eq(r.last[0].who, &B);
    ck_assert_int_eq(sfu_speakers_add(s, &C), a); /* the freed slot */
    /* Levels for bad slots are ignored. */
    sfu_speakers_on_level(s, -1, 0, true, RTC_MS(1300));
    sfu_speakers_on_level(s, 99, 0, true, RTC_MS(1300));
    /* max_speakers cuts the list. */
    sfu_speaker_config_t cfg;
    sfu_speaker_config_init(&cfg);
    cfg.max_speakers = 1;
    sfu_speakers_t *one = sfu_speakers_new(&cfg);
    int x = sfu_speakers_add(one, &A), y = sfu_speakers_add(one, &B);
    rec_t r1 = {0};
    talk(one, x, 0, RTC_SEC(1), 30, false);
    talk(one, y, 0, RTC_SEC(1), 10, false);
    poll_until(one, RTC_SEC(1), &r1);
    ck_assert_uint_eq(r1.n_last, 1);
    ck_assert_ptr_eq(r1.last[0].who, &B);
    sfu_speakers_free(one);
    sfu_speakers_free(s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_speaker");
    TCase *tc = tcase_create("speaker");
    tcase_add_test(tc, test_one_speaker_starts_and_stops);
    tcase_add_test(tc, test_pauses_between_words_do_not_flicker);
    tcase_add_test(tc, test_loudest_first_and_rate_limited);
    tcase_add_test(tc, test_removed_speaker_leaves_the_list_and_slots_are_reused);
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
