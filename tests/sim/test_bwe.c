/* The send-side bandwidth estimator in a simulated network: a sender paces packets at the
 * estimator's target through a bottleneck link (capacity, drop-tail queue, propagation delay;
 * deterministic), the receiver records arrivals with the real TWCC receive code, feedback
 * travels back as real RTCP bytes, the sender parses them, matches send times and feeds the
 * estimator. Capacity: 2 Mbps, then 500 kbps, then 2 Mbps again.
 *
 * The bottleneck model is local to this file (link_bottleneck_*), so it cannot collide with a
 * general simulated-network library. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/rtp.h"

/* ---- bottleneck link ------------------------------------------------------------------- */

#define LINK_MAX_INFLIGHT 8192

typedef struct {
    rtc_time_t arrival;   /* at the far end (after serialisation and propagation) */
    rtc_time_t departure; /* leaves the queue */
    uint16_t seq;
    uint32_t size;
} link_pkt_t;

typedef struct {
    double capacity_bps;
    size_t queue_limit;      /* bytes waiting, not counting the one on the wire */
    rtc_time_t prop_delay;
    rtc_time_t free_at;      /* when the wire is free */
    uint32_t loss_permille;  /* random (non-congestion) loss before the queue */
    link_pkt_t q[LINK_MAX_INFLIGHT]; /* FIFO of packets not yet delivered */
    size_t head, count;
    uint64_t dropped, sent;
} link_bottleneck_t;

static size_t link_bottleneck_queued_bytes(const link_bottleneck_t *l, rtc_time_t now) {
    size_t b = 0;
    for (size_t k = 0; k < l->count; k++) {
        const link_pkt_t *p = &l->q[(l->head + k) % LINK_MAX_INFLIGHT];
        if (p->departure > now) b += p->size;
    }
    return b;
}

static uint32_t rnd(uint32_t bound);

/* Offers a packet at time now; returns false when it is lost or the queue drops it. */
static bool link_bottleneck_send(link_bottleneck_t *l, rtc_time_t now, uint16_t seq, uint32_t size) {
    l->sent++;
    if (l->loss_permille && rnd(1000) < l->loss_permille) {
        l->dropped++;
        return false;
    }
    if (l->count == LINK_MAX_INFLIGHT || link_bottleneck_queued_bytes(l, now) + size > l->queue_limit) {
        l->dropped++;
        return false;
    }
    rtc_time_t start = l->free_at > now ? l->free_at : now;
    rtc_time_t tx = (rtc_time_t)((double)size * 8 * 1e6 / l->capacity_bps);
    l->free_at = start + tx;
    link_pkt_t *p = &l->q[(l->head + l->count) % LINK_MAX_INFLIGHT];
    p->departure = l->free_at;
    p->arrival = l->free_at + l->prop_delay;
    p->seq = seq;
    p->size = size;
    l->count++;
    return true;
}

/* Pops the next packet delivered at or before now. */
static bool link_bottleneck_deliver(link_bottleneck_t *l, rtc_time_t now, link_pkt_t *out) {
    if (!l->count || l->q[l->head].arrival > now) return false;
    *out = l->q[l->head];
    l->head = (l->head + 1) % LINK_MAX_INFLIGHT;
    l->count--;
    return true;
}

/* ---- scenario -------------------------------------------------------------------------- */

typedef struct {
    rtc_time_t at;
    uint8_t data[1500];
    size_t len;
} fb_msg_t;

#define SIM_SECONDS 120
#define SAMPLE_MS 100

static uint64_t lcg = 0x5eed1234abcdULL; /* deterministic seed */
static uint32_t rnd(uint32_t bound) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((lcg >> 33) % bound);
}

static double capacity_steps(rtc_time_t t) {
    if (t < RTC_SEC(40)) return 2e6;
    if (t < RTC_SEC(70)) return 500e3;
    return 2e6;
}

/* The receiver's side of one simulated millisecond: packets the bottleneck delivers by now go
 * to the TWCC receiver, and its feedback, when due, is queued in fb (head, count) to reach
 * the sender after the link's propagation delay (the return path is not congested). */
/* A receiver that is not scheduled for a while (a browser's network thread on a busy
 * machine): when reader_stalls is set, now and then it reads nothing for 50..150 ms, then reads
 * the backlog at once and stamps every packet with that moment, as a real receiver does. */
static bool reader_stalls;
static rtc_time_t reader_busy_until;
static unsigned reader_stall_count;

static void receiver_step(link_bottleneck_t *link, rtc_rtp_twcc_receiver_t *rx, fb_msg_t fb[64],
                          size_t fb_head, size_t *fb_count, rtc_time_t now) {
    if (reader_stalls) {
        if (now < reader_busy_until) return;
        if (rnd(250) == 0) {
            reader_busy_until = now + RTC_MS(50 + rnd(101));
            reader_stall_count++;
            return;
        }
    }
    link_pkt_t p;
    while (link_bottleneck_deliver(link, now, &p))
        rtc_rtp_twcc_receiver_on_packet(rx, p.seq, 0x2222, reader_stalls ? now : p.arrival);
    if (now < rtc_rtp_twcc_receiver_next_timeout(rx)) return;
    fb_msg_t *m = &fb[(fb_head + *fb_count) % 64];
    int n = rtc_rtp_twcc_receiver_build(rx, now, false, m->data, sizeof m->data);
    ck_assert_int_ge(n, 0);
    if (n == 0) return;
    ck_assert_int_lt(*fb_count, 64);
    m->len = (size_t)n;
    m->at = now + link->prop_delay;
    (*fb_count)++;
}

static double capacity_3m(rtc_time_t t) {
    (void)t;
    return 3e6;
}

static double (*capacity_at)(rtc_time_t) = capacity_steps;
static int sim_seconds = SIM_SECONDS;

static double samples[SIM_SECONDS * 1000 / SAMPLE_MS];

static double mean_between(int from_s, int to_s) {
    double sum = 0;
    int n = 0;
    for (int i = from_s * 1000 / SAMPLE_MS; i < to_s * 1000 / SAMPLE_MS; i++, n++) sum += samples[i];
    return sum / n;
}

static void run_scenario(link_bottleneck_t *link) {
    rtc_bwe_t *bwe = rtc_bwe_new(&(rtc_bwe_config_t){.start_bps = 300000});
    rtc_rtp_twcc_sender_t *tx = rtc_rtp_twcc_sender_new(0);
    rtc_rtp_twcc_receiver_t *rx = rtc_rtp_twcc_receiver_new(0x1111, RTC_MS(50));
    static fb_msg_t fb[64];
    size_t fb_head = 0, fb_count = 0;
    static rtc_bwe_packet_t res[8192];
    link->prop_delay = RTC_MS(20);
    link->queue_limit = 30000;
    rtc_bwe_set_rtt(bwe, RTC_MS(40));
    rtc_time_t next_send = 0;
    for (rtc_time_t now = 0; now < RTC_SEC(sim_seconds); now += RTC_MS(1)) {
        link->capacity_bps = capacity_at(now);
        /* sender: paced at the current target, packet sizes 900..1200 bytes */
        while (next_send <= now) {
            uint32_t size = 900 + rnd(301);
            uint16_t seq = rtc_rtp_twcc_sender_next_seq(tx);
            rtc_rtp_twcc_sender_on_sent(tx, seq, size, next_send);
            link_bottleneck_send(link, next_send, seq, size);
            double target = (double)rtc_bwe_target_bps(bwe);
            next_send += (rtc_time_t)((double)size * 8 * 1e6 / target);
        }
        receiver_step(link, rx, fb, fb_head, &fb_count, now);
        /* sender: feedback that has come back */
        while (fb_count && fb[fb_head].at <= now) {
            rtc_rtcp_iter_t it;
            rtc_rtcp_packet_t pkt;
            rtc_rtcp_iter_init(&it, fb[fb_head].data, fb[fb_head].len);
            while (rtc_rtcp_iter_next(&it, &pkt) == 1) {
                ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_TWCC);
                int k = rtc_rtp_twcc_sender_on_feedback(tx, &pkt.u.twcc, res, 8192);
                ck_assert_int_ge(k, 0);
                rtc_bwe_on_feedback(bwe, res, (size_t)k, now);
            }
            fb_head = (fb_head + 1) % 64;
            fb_count--;
        }
        if (now % RTC_MS(SAMPLE_MS) == 0) samples[now / RTC_MS(SAMPLE_MS)] = (double)rtc_bwe_target_bps(bwe);
        if (now % RTC_SEC(2) == 0)
            printf("t=%3llds cap=%5.0fk target=%6.0fk delay=%6.0fk loss_based=%6.0fk acked=%6.0fk loss=%.3f queue=%zuB\n",
                   (long long)(now / RTC_US_PER_SEC), link->capacity_bps / 1e3,
                   (double)rtc_bwe_target_bps(bwe) / 1e3, (double)rtc_bwe_delay_based_bps(bwe) / 1e3,
                   (double)rtc_bwe_loss_based_bps(bwe) / 1e3, (double)rtc_bwe_acked_bps(bwe) / 1e3,
                   rtc_bwe_loss_ratio(bwe), link_bottleneck_queued_bytes(link, now));
    }
    rtc_bwe_free(bwe);
    rtc_rtp_twcc_sender_free(tx);
    rtc_rtp_twcc_receiver_free(rx);
}

START_TEST(bwe_converges_backs_off_and_recovers) {
    static link_bottleneck_t link;
    memset(&link, 0, sizeof link);
    lcg = 0x5eed1234abcdULL;
    capacity_at = capacity_steps;
    sim_seconds = SIM_SECONDS;
    run_scenario(&link);
    double m1 = mean_between(30, 40), m2 = mean_between(60, 70), m3 = mean_between(110, 120);
    printf("mean target: %.0f kbps (2 Mbps), %.0f kbps (500 kbps), %.0f kbps (2 Mbps again); dropped %llu of %llu\n",
           m1 / 1e3, m2 / 1e3, m3 / 1e3, (unsigned long long)link.dropped, (unsigned long long)link.sent);
    /* converges to within 15% of the bottleneck */
    ck_assert_double_ge(m1, 2e6 * 0.85);
    ck_assert_double_le(m1, 2e6 * 1.15);
    /* backs off when the capacity drops: below 115% of 500 kbps within 3 s ... */
    double after_drop = mean_between(43, 44);
    ck_assert_double_le(after_drop, 500e3 * 1.15);
    /* ... and settles within 15% of it */
    ck_assert_double_ge(m2, 500e3 * 0.85);
    ck_assert_double_le(m2, 500e3 * 1.15);
    /* recovers when it rises again */
    ck_assert_double_ge(m3, 2e6 * 0.85);
    ck_assert_double_le(m3, 2e6 * 1.15);
    /* and never runs away above the link for long in any phase */
    for (int s = 10; s < SIM_SECONDS; s++) {
        double m = mean_between(s, s + 1), cap = capacity_at(RTC_SEC(s) + RTC_MS(500));
        if (s >= 40 && s < 44) continue; /* the drop itself */
        ck_assert_double_le(m, cap * 1.3);
    }
}
END_TEST

/* 1% random loss is below GCC's 2% "no action" threshold: the delay-based estimate still
 * finds the 3 Mbps link. */
START_TEST(bwe_ignores_light_random_loss) {
    static link_bottleneck_t link;
    memset(&link, 0, sizeof link);
    link.loss_permille = 10;
    lcg = 0xfeedULL;
    capacity_at = capacity_3m;
    sim_seconds = 60;
    run_scenario(&link);
    double m = mean_between(50, 60);
    printf("1%% random loss on 3 Mbps: mean target %.0f kbps\n", m / 1e3);
    ck_assert_double_ge(m, 3e6 * 0.85);
    ck_assert_double_le(m, 3e6 * 1.15);
}
END_TEST

/* 15% random loss (over GCC's 10% threshold) makes the loss-based controller cut the rate
 * even though the link is not congested. */
START_TEST(bwe_backs_off_under_heavy_loss) {
    static link_bottleneck_t link;
    memset(&link, 0, sizeof link);
    link.loss_permille = 150;
    lcg = 0xbeefULL;
    capacity_at = capacity_3m;
    sim_seconds = 30;
    run_scenario(&link);
    double m = mean_between(20, 30);
    printf("15%% random loss on 3 Mbps: mean target %.0f kbps\n", m / 1e3);
    ck_assert_double_lt(m, 300e3 * 0.5); /* well below the 300 kbps start */
    ck_assert_double_ge(m, 30e3);        /* but not below the configured minimum */
}
END_TEST

/* ---- probing an application-limited sender ---------------------------------------------
 * The SFU's case: media at a fixed 250 kbps (what the subscriber's lowest layers cost), far
 * below the link, and a wish for 1.8 Mbps. Without probes the estimate cannot grow past 1.5x
 * what is acknowledged. With probes (what rtc_peer_connection_probe does: once a second, a
 * 30 ms cluster of 300-byte packets at min(2x the estimate, the wish + 10 %), its TWCC results
 * measured by rtc_bwe_probe_rate and given to rtc_bwe_on_probe_result) it climbs to the wish
 * on a fast link and to the bottleneck, not beyond, on a slower one. */
#define MEDIA_BPS 250e3
#define WISH_BPS 1.8e6

static double media_bps = MEDIA_BPS;
static bool media_frames; /* media as 30 fps frames of back-to-back packets, not paced */

typedef struct {
    double final_mean;       /* mean target over the last 5 s */
    double max_target;
    unsigned probes;
    uint64_t probe_lost;
} probe_run_t;

static void run_app_limited(link_bottleneck_t *link, double capacity, bool probing, int seconds, probe_run_t *out) {
    memset(out, 0, sizeof *out);
    rtc_bwe_t *bwe = rtc_bwe_new(&(rtc_bwe_config_t){.start_bps = 300000});
    rtc_rtp_twcc_sender_t *tx = rtc_rtp_twcc_sender_new(0);
    rtc_rtp_twcc_receiver_t *rx = rtc_rtp_twcc_receiver_new(0x1111, RTC_MS(50));
    static fb_msg_t fb[64];
    size_t fb_head = 0, fb_count = 0;
    static rtc_bwe_packet_t res[8192];
    link->prop_delay = RTC_MS(20);
    link->queue_limit = 30000;
    link->capacity_bps = capacity;
    rtc_bwe_set_rtt(bwe, RTC_MS(40));
    rtc_time_t next_media = 0;
    /* the probe cluster in flight */
    bool in_cluster = false, cluster_sending = false;
    rtc_bwe_probe_t m;
    uint16_t first_seq = 0;
    double probe_bps = 0;
    rtc_time_t cluster_start = 0, next_probe_pkt = 0, next_cluster = RTC_SEC(1);
    size_t cluster_bytes = 0, cluster_total = 0;
    double sum = 0;
    int n_sum = 0;
    for (rtc_time_t now = 0; now < RTC_SEC(seconds); now += RTC_MS(1)) {
        while (next_media <= now && media_frames) {
            /* a video frame every 33 ms, its packets back to back (what an SFU forwards) */
            size_t frame = (size_t)(media_bps / 8 / 30) * (80 + rnd(41)) / 100;
            for (size_t off = 0, i = 0; off < frame; off += 1200, i++) {
                uint32_t size = frame - off < 1200 ? (uint32_t)(frame - off) : 1200;
                uint16_t seq = rtc_rtp_twcc_sender_next_seq(tx);
                rtc_time_t at = next_media + (rtc_time_t)i * 50;
                rtc_rtp_twcc_sender_on_sent(tx, seq, size, at);
                link_bottleneck_send(link, at, seq, size);
            }
            next_media += RTC_US_PER_SEC / 30;
        }
        while (next_media <= now && !media_frames) {
            uint32_t size = 900 + rnd(301);
            uint16_t seq = rtc_rtp_twcc_sender_next_seq(tx);
            rtc_rtp_twcc_sender_on_sent(tx, seq, size, next_media);
            link_bottleneck_send(link, next_media, seq, size);
            next_media += (rtc_time_t)((double)size * 8 * 1e6 / media_bps);
        }
        double target = (double)rtc_bwe_target_bps(bwe);
        if (probing && !in_cluster && now >= next_cluster && target < WISH_BPS) {
            probe_bps = target * 2 < WISH_BPS * 1.1 ? target * 2 : WISH_BPS * 1.1;
            in_cluster = cluster_sending = true;
            memset(&m, 0, sizeof m);
            m.target_bps = (uint64_t)probe_bps;
            cluster_start = next_probe_pkt = now;
            cluster_bytes = 0;
            cluster_total = (size_t)(probe_bps * 0.030 / 8);
            out->probes++;
        }
        while (cluster_sending && next_probe_pkt <= now) {
            uint16_t seq = rtc_rtp_twcc_sender_next_seq(tx);
            if (!m.sent) first_seq = seq;
            m.sent++;
            rtc_rtp_twcc_sender_on_sent(tx, seq, 300, next_probe_pkt);
            link_bottleneck_send(link, next_probe_pkt, seq, 300);
            cluster_bytes += 300;
            next_probe_pkt = cluster_start + (rtc_time_t)((double)cluster_bytes * 8 * 1e6 / probe_bps);
            if (cluster_bytes >= cluster_total) cluster_sending = false;
        }
        receiver_step(link, rx, fb, fb_head, &fb_count, now);
        while (fb_count && fb[fb_head].at <= now) {
            rtc_rtcp_iter_t it;
            rtc_rtcp_packet_t pkt;
            rtc_rtcp_iter_init(&it, fb[fb_head].data, fb[fb_head].len);
            while (rtc_rtcp_iter_next(&it, &pkt) == 1) {
                int k = rtc_rtp_twcc_sender_on_feedback(tx, &pkt.u.twcc, res, 8192);
                ck_assert_int_ge(k, 0);
                rtc_bwe_on_feedback(bwe, res, (size_t)k, now);
                if (!in_cluster) continue;
                for (int i = 0; i < k; i++)
                    if ((uint16_t)(res[i].seq - first_seq) < m.sent) rtc_bwe_probe_add(&m, &res[i]);
                if (!cluster_sending && m.received + m.lost >= m.sent) {
                    uint64_t r = rtc_bwe_probe_rate(&m);
                    printf("  t=%5.2fs probe at %5.0fk: %u/%u received -> %5.0fk (target %5.0fk)\n",
                           (double)now / 1e6, probe_bps / 1e3, m.received, m.sent, (double)r / 1e3,
                           (double)rtc_bwe_target_bps(bwe) / 1e3);
                    out->probe_lost += m.lost;
                    rtc_bwe_on_probe_result(bwe, r, now);
                    in_cluster = false;
                    next_cluster = now + RTC_SEC(1);
                }
            }
            fb_head = (fb_head + 1) % 64;
            fb_count--;
        }
        target = (double)rtc_bwe_target_bps(bwe);
        if (target > out->max_target) out->max_target = target;
        if (now >= RTC_SEC(seconds - 5) && now % RTC_MS(SAMPLE_MS) == 0) {
            sum += target;
            n_sum++;
        }
    }
    out->final_mean = sum / n_sum;
    rtc_bwe_free(bwe);
    rtc_rtp_twcc_sender_free(tx);
    rtc_rtp_twcc_receiver_free(rx);
}

START_TEST(bwe_probes_lift_an_app_limited_estimate_to_the_link) {
    static link_bottleneck_t link;
    probe_run_t without, fast, slow;
    memset(&link, 0, sizeof link);
    lcg = 0x9e0beULL;
    run_app_limited(&link, 5e6, false, 20, &without);
    memset(&link, 0, sizeof link);
    lcg = 0x9e0beULL;
    run_app_limited(&link, 5e6, true, 20, &fast);
    memset(&link, 0, sizeof link);
    lcg = 0x9e0beULL;
    run_app_limited(&link, 1e6, true, 20, &slow);
    printf("250 kbps of media, 1.8 Mbps wished: without probes %.0f kbps; with probes on 5 Mbps %.0f kbps "
           "(%u probes), on 1 Mbps %.0f kbps (max %.0f, %u probes, %llu probe packets lost)\n",
           without.final_mean / 1e3, fast.final_mean / 1e3, fast.probes, slow.final_mean / 1e3,
           slow.max_target / 1e3, slow.probes, (unsigned long long)slow.probe_lost);
    /* Without probes: held by 1.5x the acknowledged rate (+10 kbps), the start value at most. */
    ck_assert_double_le(without.max_target, 1.5 * MEDIA_BPS * 1.1 + 10e3 > 300e3 ? 1.5 * MEDIA_BPS * 1.1 + 10e3 : 300e3);
    /* With probes on a fast link: the wish is reached (upgrades become affordable), and
     * probing stops there: a handful of clusters, not one a second. */
    ck_assert_double_ge(fast.final_mean, WISH_BPS);
    ck_assert_double_ge(fast.final_mean, 4 * without.final_mean);
    ck_assert_uint_le(fast.probes, 6);
    /* On a 1 Mbps bottleneck: close to the link, never far above it. */
    ck_assert_double_ge(slow.final_mean, 0.7e6);
    ck_assert_double_le(slow.max_target, 1e6 * 1.3);
}
END_TEST

/* The e2e test's case: the same app-limited sender and probes on a fast link, but the
 * receiver is now and then not scheduled (about every 250 ms, for 50..150 ms) and stamps the
 * backlog with the time it reads it. That is no queue on the path: the estimate must still
 * reach the wish. Before packets arriving in such a burst joined the group before them (as
 * libwebrtc's inter-arrival grouping does), each stall read as a delay ramp, "overuse" cut
 * the estimate to 0.85x the acknowledged rate, and it never got far from the media rate. */
START_TEST(bwe_receiver_read_stalls_are_not_congestion) {
    static link_bottleneck_t link;
    probe_run_t r;
    memset(&link, 0, sizeof link);
    lcg = 0x57a11ULL;
    reader_stalls = true;
    reader_busy_until = 0;
    reader_stall_count = 0;
    media_bps = 600e3;
    media_frames = true;
    run_app_limited(&link, 5e6, true, 20, &r);
    reader_stalls = media_frames = false;
    media_bps = MEDIA_BPS;
    printf("600 kbps of video frames, 1.8 Mbps wished, 5 Mbps link, %u receiver stalls: final %.0f kbps (max %.0f, %u probes)\n",
           reader_stall_count, r.final_mean / 1e3, r.max_target / 1e3, r.probes);
    ck_assert_uint_ge(reader_stall_count, 40);
    ck_assert_double_ge(r.final_mean, WISH_BPS);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_OFF);
    Suite *s = suite_create("bwe");
    TCase *tc = tcase_create("sim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bwe_converges_backs_off_and_recovers);
    tcase_add_test(tc, bwe_ignores_light_random_loss);
    tcase_add_test(tc, bwe_backs_off_under_heavy_loss);
    tcase_add_test(tc, bwe_probes_lift_an_app_limited_estimate_to_the_link);
    tcase_add_test(tc, bwe_receiver_read_stalls_are_not_congestion);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
