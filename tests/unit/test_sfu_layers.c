/* sfu/layers: bitrate meter, layer choice by requested size, bandwidth allocation across a
 * subscriber's tracks as its estimate changes, and upgrade hysteresis — all on a fake clock.
 * Layer bitrates in the allocation tests are the ones the meter measures from the real
 * libvpx simulcast fixtures (tests/unit/sfu/vp8_*.rtp). */
#include <check.h>
#include <stdlib.h>

#include "sfu/codec.h"
#include "sfu/layers.h"
#include "unit/sfu_fixture.h"

START_TEST(test_rate_meter_constant_stream) {
    sfu_rate_t r;
    sfu_rate_init(&r);
    ck_assert_uint_eq(sfu_rate_bps(&r, 0), 0);
    /* 1000-byte packets every 10 ms = 800 kbps. */
    rtc_time_t t = RTC_SEC(5);
    for (int i = 0; i < 300; i++, t += RTC_MS(10)) sfu_rate_add(&r, 1000, t);
    uint64_t bps = sfu_rate_bps(&r, t);
    ck_assert_uint_ge(bps, 780000);
    ck_assert_uint_le(bps, 820000);
    /* Young meter: scaled to its age, not to a full second. */
    sfu_rate_t y;
    sfu_rate_init(&y);
    for (int i = 0; i < 20; i++) sfu_rate_add(&y, 1000, RTC_MS(10 * i));
    bps = sfu_rate_bps(&y, RTC_MS(200));
    ck_assert_uint_ge(bps, 760000);
    ck_assert_uint_le(bps, 840000);
    /* The stream stops: the rate decays to zero within a second. */
    bps = sfu_rate_bps(&r, t + RTC_MS(500));
    ck_assert_uint_lt(bps, 450000);
    ck_assert_uint_eq(sfu_rate_bps(&r, t + RTC_MS(1100)), 0);
    /* A long gap, then traffic again: old buckets do not come back. */
    sfu_rate_add(&r, 1000, t + RTC_SEC(10));
    ck_assert_uint_le(sfu_rate_bps(&r, t + RTC_SEC(10) + RTC_MS(50)), 80000);
}
END_TEST

static const sfu_layer_state_t L3[3] = {
    {true, 150000, 320, 180}, {true, 500000, 640, 360}, {true, 1500000, 1280, 720}};

START_TEST(test_cap_by_requested_size) {
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 0, 0, false), 2);
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 640, 360, false), 1);   /* exact */
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 500, 280, false), 1);   /* covered by 640x360 */
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 160, 90, false), 0);
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 641, 0, false), 2);     /* width alone */
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 0, 200, false), 1);     /* height alone */
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 3840, 2160, false), 2); /* bigger than all: top */
    ck_assert_int_eq(sfu_layer_cap(L3, 3, 640, 360, true), -1);   /* paused */
    sfu_layer_state_t unknown[3] = {{true, 0, 0, 0}, {true, 0, 0, 0}, {true, 0, 0, 0}};
    ck_assert_int_eq(sfu_layer_cap(unknown, 3, 320, 180, false), 2);
    /* Chromium's top layer not started yet (size unknown, sorted first by publisher order
     * h, m, l): the known 320x180 one still caps a 320x180 request. */
    sfu_layer_state_t no_top[3] = {{true, 0, 0, 0}, {true, 120000, 320, 180}, {true, 400000, 640, 360}};
    ck_assert_int_eq(sfu_layer_cap(no_top, 3, 320, 180, false), 1);
    ck_assert_int_eq(sfu_layer_cap(no_top, 3, 640, 360, false), 2);
    ck_assert_int_eq(sfu_layer_cap(no_top, 3, 1280, 720, false), 2);
    ck_assert_int_eq(sfu_layer_cap(L3, 1, 160, 90, false), 0);    /* no simulcast */
    ck_assert_int_eq(sfu_layer_cap(L3, 0, 160, 90, false), -1);
}
END_TEST

static sfu_alloc_track_t track(const sfu_layer_state_t *l, int max, int cur, uint32_t prio) {
    return (sfu_alloc_track_t){l, 3, max, cur, prio, -2};
}

START_TEST(test_alloc_single_track_follows_budget) {
    sfu_alloc_track_t t = track(L3, 2, -1, 0);
    /* Plenty: the top. */
    ck_assert_uint_eq(sfu_alloc(&t, 1, 5000000), 1500000);
    ck_assert_int_eq(t.target, 2);
    /* 1.6 Mbps covers f (1.5) but not with 15 % headroom to climb to it: h. */
    t.current = 1;
    sfu_alloc(&t, 1, 1600000);
    ck_assert_int_eq(t.target, 1);
    /* Already on f, the same 1.6 Mbps keeps it (no headroom needed to stay). */
    t.current = 2;
    sfu_alloc(&t, 1, 1600000);
    ck_assert_int_eq(t.target, 2);
    /* Budget collapses: down to q, and never below it. */
    sfu_alloc(&t, 1, 300000);
    ck_assert_int_eq(t.target, 0);
    sfu_alloc(&t, 1, 10000);
    ck_assert_int_eq(t.target, 0);
    /* Size cap wins over bandwidth. */
    t.max_layer = 1;
    sfu_alloc(&t, 1, 10000000);
    ck_assert_int_eq(t.target, 1);
    /* Paused: nothing. */
    t.max_layer = -1;
    ck_assert_uint_eq(sfu_alloc(&t, 1, 10000000), 0);
    ck_assert_int_eq(t.target, -1);
}
END_TEST

START_TEST(test_alloc_skips_inactive_layers) {
    sfu_layer_state_t l[3] = {L3[0], L3[1], L3[2]};
    l[2].active = false; /* the browser stopped its top layer */
    sfu_alloc_track_t t = track(l, 2, 2, 0);
    sfu_alloc(&t, 1, 10000000);
    ck_assert_int_eq(t.target, 1);
    /* Only the top is active but the subscriber capped at q: top beats a black tile. */
    l[0].active = l[1].active = false;
    l[2].active = true;
    t = track(l, 0, -1, 0);
    sfu_alloc(&t, 1, 100000);
    ck_assert_int_eq(t.target, 2);
    /* Nothing active at all: keep what is forwarded (it may come back)... */
    l[2].active = false;
    t = track(l, 2, 1, 0);
    sfu_alloc(&t, 1, 100000);
    ck_assert_int_eq(t.target, 1);
    /* ...or, for a subscription that has nothing yet, aim at the cap. */
    t = track(l, 1, -1, 0);
    sfu_alloc(&t, 1, 100000);
    ck_assert_int_eq(t.target, 1);
}
END_TEST

/* Seen in the end-to-end test under a 500 kbit/s limit: a one-second meter said the top layer
 * (a publisher dropping frames under CPU load) cost less than the lowest (a keyframe), and the
 * subscriber whose link could not carry even the lowest layers was moved up to the top. */
START_TEST(test_alloc_noisy_meter_no_free_climb_over_budget) {
    sfu_layer_state_t l[3] = {{true, 466000, 320, 180}, {true, 36000, 640, 360}, {true, 53000, 1280, 720}};
    sfu_alloc_track_t t = track(l, 2, 0, 0);
    sfu_alloc(&t, 1, 33000);
    ck_assert_int_eq(t.target, 0);
    /* Already on the top: still down to the lowest, the budget carries nothing more. */
    t.current = 2;
    sfu_alloc(&t, 1, 33000);
    ck_assert_int_eq(t.target, 0);
    /* Two tracks, the first one's lowest fills the budget: the second does not climb either. */
    sfu_layer_state_t k[3] = {{true, 150000, 320, 180}, {true, 100000, 640, 360}, {true, 90000, 1280, 720}};
    sfu_alloc_track_t two[2] = {track(l, 2, 0, 0), track(k, 2, 0, 0)};
    sfu_alloc(two, 2, 500000);
    ck_assert_int_eq(two[0].target, 0);
    ck_assert_int_eq(two[1].target, 0);
    /* With room, a step that measures free (150 -> 90) is taken as costing what the layer below
     * does: with 200 kbit/s left after the floor both climb. */
    sfu_alloc(two, 2, 816000);
    ck_assert_int_eq(two[0].target, 2);
    ck_assert_int_eq(two[1].target, 2);
}
END_TEST

START_TEST(test_alloc_priority_across_tracks) {
    /* Two cameras and a screen share (priority): 2.1 Mbps. The share climbs to f first
     * (0.45 for three q, then 1.35 more with 15 % headroom: 1.55 <= 1.65). */
    sfu_alloc_track_t t[3] = {track(L3, 2, -1, 0), track(L3, 2, -1, 0), track(L3, 2, -1, 10)};
    uint64_t used = sfu_alloc(t, 3, 2100000);
    ck_assert_int_eq(t[2].target, 2);
    ck_assert_int_eq(t[0].target, 0);
    ck_assert_int_eq(t[1].target, 0);
    ck_assert_uint_le(used, 2100000);
    /* 2 Mbps is not enough for the share's climb with headroom; once it is on f it stays. */
    t[2].current = -1;
    sfu_alloc(t, 3, 2000000);
    ck_assert_int_eq(t[2].target, 1);
    t[2].current = 2;
    sfu_alloc(t, 3, 2000000);
    ck_assert_int_eq(t[2].target, 2);
    /* 3 Mbps: both cameras climb to h as well (1.8 + 2 * 0.35 * 1.15 fits). */
    used = sfu_alloc(t, 3, 3000000);
    ck_assert_int_eq(t[2].target, 2);
    ck_assert_int_eq(t[0].target, 1);
    ck_assert_int_eq(t[1].target, 1);
    ck_assert_uint_le(used, 3000000);
    /* Below the sum of the lowest layers everyone still gets q. */
    sfu_alloc(t, 3, 100000);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(t[i].target, 0);
}
END_TEST

START_TEST(test_hysteresis_down_at_once_up_after_hold) {
    sfu_layer_hyst_t h;
    sfu_layer_hyst_init(&h, RTC_MS(1500));
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, 0), 2); /* first decision: at once */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 0, RTC_MS(100)), 0); /* down: at once */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(200)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(1000)), 0);
    /* The estimate wobbles to 1 inside the period: the upgrade, when it comes, is to 1. */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 1, RTC_MS(1300)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(1700)), 1);
    /* A new period for 2. */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(1800)), 1);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(3299)), 1);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(3300)), 2);
    /* Dropping back to equal or lower cancels a pending upgrade. */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 0, RTC_MS(3400)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 1, RTC_MS(3500)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 0, RTC_MS(3600)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 1, RTC_MS(4000)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 1, RTC_MS(5400)), 0);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 1, RTC_MS(5500)), 1);
    /* Pause and resume: both immediate. */
    ck_assert_int_eq(sfu_layer_hyst_update(&h, -1, RTC_MS(5600)), -1);
    ck_assert_int_eq(sfu_layer_hyst_update(&h, 2, RTC_MS(5700)), 2);
}
END_TEST

/* The meter on the real libvpx layers, then a subscriber whose estimate falls and recovers:
 * the decided layer steps down at once and back up only after the hold. */
START_TEST(test_real_layers_under_changing_bandwidth) {
    static const char *names[3] = {"vp8_q", "vp8_h", "vp8_f"};
    sfu_layer_state_t l[3];
    for (int i = 0; i < 3; i++) {
        fx_stream_t s;
        ck_assert_int_eq(fx_load(&s, names[i]), 0);
        sfu_rate_t r;
        sfu_rate_init(&r);
        rtc_time_t last = 0;
        for (size_t k = 0; k < s.n; k++) {
            last = RTC_MS(s.pkts[k].arrival_ms);
            sfu_rate_add(&r, s.pkts[k].len, last);
        }
        l[i].active = true;
        l[i].bitrate_bps = sfu_rate_bps(&r, last + RTC_MS(33));
        /* Size from the first keyframe. */
        sfu_video_info_t vi;
        sfu_video_inspect(SFU_CODEC_VP8, s.pkts[0].pkt + 12, s.pkts[0].len - 12u, &vi);
        l[i].width = vi.width;
        l[i].height = vi.height;
        fx_free(&s);
    }
    ck_assert_uint_lt(l[0].bitrate_bps, l[1].bitrate_bps);
    ck_assert_uint_lt(l[1].bitrate_bps, l[2].bitrate_bps);
    ck_assert_uint_eq(l[2].width, 320);

    sfu_layer_hyst_t h;
    sfu_layer_hyst_init(&h, RTC_SEC(2));
    /* Estimate over time (bps), sampled every 500 ms as the worker does. */
    uint64_t top = l[2].bitrate_bps, mid = l[1].bitrate_bps;
    struct { uint64_t bps; int expect; } steps[] = {
        {top * 2, 2}, {top * 2, 2},
        {mid + mid / 10, 1},          /* congestion: down to h at once */
        {l[0].bitrate_bps, 0},        /* worse: q */
        {top * 2, 0}, {top * 2, 0}, {top * 2, 0}, {top * 2, 0}, /* recovering: held */
        {top * 2, 2},                 /* 2 s later: up */
    };
    int cur = -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sfu_alloc_track_t t = {l, 3, sfu_layer_cap(l, 3, 0, 0, false), cur, 0, -1};
        sfu_alloc(&t, 1, steps[i].bps);
        cur = sfu_layer_hyst_update(&h, t.target, RTC_MS(500 * (int64_t)i));
        ck_assert_msg(cur == steps[i].expect, "step %zu: layer %d, expected %d", i, cur,
                      steps[i].expect);
    }
    /* A 160x90 tile never needs more than h, whatever the bandwidth. */
    sfu_alloc_track_t t = {l, 3, sfu_layer_cap(l, 3, 160, 90, false), 2, 0, -1};
    sfu_alloc(&t, 1, top * 10);
    ck_assert_int_eq(t.target, 1);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_rate_meter_constant_stream);
    tcase_add_test(tc, test_cap_by_requested_size);
    tcase_add_test(tc, test_alloc_single_track_follows_budget);
    tcase_add_test(tc, test_alloc_skips_inactive_layers);
    tcase_add_test(tc, test_alloc_noisy_meter_no_free_climb_over_budget);
    tcase_add_test(tc, test_alloc_priority_across_tracks);
    tcase_add_test(tc, test_hysteresis_down_at_once_up_after_hold);
    tcase_add_test(tc, test_real_layers_under_changing_bandwidth);
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
