/* Transport-wide CC end to end without a network: the receive side records arrivals and
 * writes feedback bytes, the send side parses them and matches each packet's send time with
 * its arrival time. Fake clock throughout. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/rtp.h"

typedef struct {
    rtc_rtp_twcc_sender_t *snd;
    rtc_rtp_twcc_receiver_t *rcv;
    rtc_bwe_packet_t res[70000];
    size_t nres;
    int feedbacks;
} pair_t;

static pair_t *pair_new(rtc_time_t interval) {
    pair_t *p = calloc(1, sizeof *p);
    p->snd = rtc_rtp_twcc_sender_new(0);
    p->rcv = rtc_rtp_twcc_receiver_new(0xfeed, interval);
    return p;
}

static void pair_free(pair_t *p) {
    rtc_rtp_twcc_sender_free(p->snd);
    rtc_rtp_twcc_receiver_free(p->rcv);
    free(p);
}

/* Builds feedback (forced or due) into a buffer of cap bytes and feeds the sender. */
static int pump(pair_t *p, rtc_time_t now, bool force, size_t cap) {
    uint8_t buf[1500];
    int total = 0;
    for (;;) {
        int n = rtc_rtp_twcc_receiver_build(p->rcv, now, force, buf, cap);
        ck_assert_int_ge(n, 0);
        if (n == 0) return total;
        rtc_rtcp_packet_t pkt;
        ck_assert_int_eq(rtc_rtcp_parse(buf, (size_t)n, &pkt), n);
        ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_TWCC);
        ck_assert_uint_eq(pkt.u.twcc.sender_ssrc, 0xfeed);
        ck_assert_uint_eq(pkt.u.twcc.fb_count, (uint8_t)p->feedbacks);
        p->feedbacks++;
        int k = rtc_rtp_twcc_sender_on_feedback(p->snd, &pkt.u.twcc, p->res + p->nres,
                                                sizeof p->res / sizeof p->res[0] - p->nres);
        ck_assert_int_ge(k, 0);
        p->nres += (size_t)k;
        total += k;
        force = true; /* drain a split range */
    }
}

START_TEST(feedback_matches_send_and_arrival_times) {
    pair_t *p = pair_new(RTC_MS(100));
    rtc_time_t send0 = RTC_SEC(5), owd = RTC_MS(40);
    rtc_time_t arrival[400];
    int lost = 0;
    for (int i = 0; i < 400; i++) {
        uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
        ck_assert_uint_eq(seq, (uint16_t)i);
        rtc_time_t st = send0 + i * RTC_MS(2) + (i % 7) * 37;
        rtc_rtp_twcc_sender_on_sent(p->snd, seq, 1000 + (size_t)i, st);
        /* queueing: delay grows then shrinks; every 13th packet lost */
        arrival[i] = st + owd + (i % 50) * 300;
        if (i % 13 == 12) { lost++; arrival[i] = -1; continue; }
        rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 0xabcd, arrival[i]);
        rtc_time_t now = arrival[i];
        if (now >= rtc_rtp_twcc_receiver_next_timeout(p->rcv)) pump(p, now, false, 1500);
    }
    pump(p, send0 + RTC_SEC(10), true, 1500);
    ck_assert_uint_eq(p->nres, 400);
    ck_assert_int_gt(p->feedbacks, 5);
    int seen_lost = 0;
    for (size_t k = 0; k < p->nres; k++) {
        const rtc_bwe_packet_t *r = &p->res[k];
        ck_assert_uint_eq(r->seq, k);
        ck_assert_uint_eq(r->size, 1000 + k);
        ck_assert_int_eq(r->send_time, send0 + (rtc_time_t)k * RTC_MS(2) + (rtc_time_t)(k % 7) * 37);
        if (arrival[k] < 0) {
            ck_assert(!r->received);
            seen_lost++;
            continue;
        }
        ck_assert(r->received);
        /* Arrival times are on the receiver's clock up to a constant: compare differences
         * with packet 0; 250 us quantisation without drift keeps each within 250 us. */
        int64_t got = r->arrival - p->res[0].arrival, want = arrival[k] - arrival[0];
        ck_assert_int_le(llabs(got - want), 250);
    }
    ck_assert_int_eq(seen_lost, lost);
    /* nothing new: no feedback */
    ck_assert_int_eq(pump(p, send0 + RTC_SEC(20), true, 1500), 0);
    pair_free(p);
}
END_TEST

START_TEST(feedback_interval_wrap_split_and_late_packets) {
    pair_t *p = pair_new(RTC_MS(50));
    rtc_time_t t = RTC_SEC(1);
    /* start near the 16-bit wrap */
    for (int i = 0; i < 65500; i++) rtc_rtp_twcc_sender_next_seq(p->snd);
    for (int i = 0; i < 100; i++) {
        uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
        rtc_rtp_twcc_sender_on_sent(p->snd, seq, 1200, t + i * RTC_MS(1));
        if (i == 50) continue; /* arrives late, after its feedback: stays reported lost */
        rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 1, t + i * RTC_MS(1) + RTC_MS(30));
    }
    rtc_time_t now = t + RTC_MS(130);
    ck_assert_int_eq(rtc_rtp_twcc_receiver_next_timeout(p->rcv), t + RTC_MS(30) + RTC_MS(50));
    /* a tiny buffer splits the range across several feedback packets */
    int k = pump(p, now, false, 64);
    ck_assert_int_eq(k, 100);
    ck_assert_int_ge(p->feedbacks, 4);
    ck_assert_uint_eq(p->res[0].seq, 65500);
    ck_assert_uint_eq(p->res[99].seq, (uint16_t)(65500 + 99));
    ck_assert(!p->res[50].received);
    rtc_rtp_twcc_receiver_on_packet(p->rcv, (uint16_t)(65500 + 50), 1, now + RTC_MS(1));
    ck_assert_int_eq(pump(p, now + RTC_SEC(1), true, 1500), 0);
    /* before the interval nothing is sent unless forced */
    uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
    rtc_rtp_twcc_sender_on_sent(p->snd, seq, 500, now + RTC_SEC(2));
    rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 1, now + RTC_SEC(2) + RTC_MS(30));
    uint8_t buf[256];
    ck_assert_int_eq(rtc_rtp_twcc_receiver_build(p->rcv, now + RTC_MS(10), false, buf, sizeof buf), 0);
    ck_assert_int_eq(pump(p, now + RTC_SEC(3), false, 1500), 1);
    ck_assert_uint_eq(p->res[100].seq, seq);
    ck_assert_int_eq(rtc_rtp_twcc_receiver_build(p->rcv, now, true, buf, 16), 0); /* nothing left */
    pair_free(p);
}
END_TEST

START_TEST(reference_time_wraps_and_long_gaps_split) {
    pair_t *p = pair_new(RTC_MS(100));
    /* The 24-bit reference time (64 ms units) wraps after 2^24 * 64 ms = 1073741.824 s.
     * Run the receiver clock across that point; the sender must see continuous times. */
    rtc_time_t wrap = (rtc_time_t)(1 << 24) * 64000;
    rtc_time_t t0 = wrap - RTC_SEC(1);
    int n = 0;
    for (int i = 0; i < 200; i++, n++) {
        uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
        rtc_rtp_twcc_sender_on_sent(p->snd, seq, 100, RTC_MS(i * 10));
        rtc_time_t at = t0 + i * RTC_MS(10);
        /* a 9 s silence mid-way: too long for one 16-bit delta */
        if (i >= 150) at += RTC_SEC(9);
        rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 1, at);
        if (i % 10 == 9) pump(p, at, true, 1500);
    }
    ck_assert_uint_eq(p->nres, 200);
    for (size_t k = 1; k < p->nres; k++) {
        int64_t d = p->res[k].arrival - p->res[k - 1].arrival;
        int64_t want = k == 150 ? RTC_MS(10) + RTC_SEC(9) : RTC_MS(10);
        ck_assert_int_le(llabs(d - want), 250);
    }
    /* one feedback holding packets 149 and 150 would need a 9 s delta: it was split */
    pair_free(p);
}
END_TEST

/* A run of losses longer than a feedback has room for (a receiver that stalled, an outage):
 * reported as lost in one feedback, with what came after it; the receiver's deadline moves
 * on. It used to stop at the run for good, its deadline due for ever (a PeerConnection timer
 * re-armed for 0 ms without end). Then losses scattered between widely spaced packets, whose
 * chunks and 2-byte deltas do not fit the first guess: split, never an error. */
START_TEST(long_loss_runs_do_not_stall_feedback) {
    pair_t *p = pair_new(RTC_MS(100));
    rtc_time_t t = RTC_SEC(3);
    for (int i = 0; i < 2020; i++) {
        uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
        rtc_rtp_twcc_sender_on_sent(p->snd, seq, 1000, t + i * RTC_MS(1));
        if (i < 10 || i >= 2010) rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 1, t + i * RTC_MS(1) + RTC_MS(20));
    }
    rtc_time_t now = t + RTC_SEC(3);
    ck_assert_int_eq(pump(p, now, false, 1200), 2020);
    for (size_t k = 0; k < p->nres; k++) ck_assert(p->res[k].received == (k < 10 || k >= 2010));
    ck_assert_int_eq(p->feedbacks, 1);
    ck_assert_int_gt(rtc_rtp_twcc_receiver_next_timeout(p->rcv), now);

    /* One received in four, 100 ms apart: 2-byte deltas. */
    size_t before = p->nres;
    t = now + RTC_SEC(1);
    for (int i = 0; i < 2400; i++) {
        uint16_t seq = rtc_rtp_twcc_sender_next_seq(p->snd);
        rtc_rtp_twcc_sender_on_sent(p->snd, seq, 1000, t + i * RTC_MS(25));
        if (i % 4 == 0) rtc_rtp_twcc_receiver_on_packet(p->rcv, seq, 1, t + i * RTC_MS(25) + RTC_MS(20));
    }
    now = t + RTC_SEC(70);
    int fb = p->feedbacks;
    ck_assert_int_eq(pump(p, now, false, 1200), 2397); /* the last three: lost, maybe late */
    ck_assert_int_ge(p->feedbacks - fb, 3);
    for (size_t k = before; k < p->nres; k++) ck_assert(p->res[k].received == ((k - before) % 4 == 0));
    pair_free(p);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_OFF);
    Suite *s = suite_create("rtp_twcc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, feedback_matches_send_and_arrival_times);
    tcase_add_test(tc, feedback_interval_wrap_split_and_late_packets);
    tcase_add_test(tc, reference_time_wraps_and_long_gaps_split);
    tcase_add_test(tc, long_loss_runs_do_not_stall_feedback);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
