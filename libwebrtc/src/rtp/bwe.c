/* Send-side bandwidth estimation in the spirit of GCC (draft-ietf-rmcat-gcc-02), with the
 * constants libwebrtc uses: packets are grouped into 5 ms send bursts, the one-way delay
 * variation between groups feeds a trendline (linear regression over 20 smoothed samples),
 * an adaptive threshold turns the trend into overuse/normal/underuse, and an AIMD controller
 * moves the delay-based rate (multiplicative +8%/s far from the link capacity, additive near
 * it, x0.85 of the acknowledged rate on overuse). A loss-based controller (+8% under 2% loss,
 * x(1 - loss/2) over 10%) caps the result. */
#include <math.h>
#include <stdlib.h>

#include "rtc/rtp.h"

#define MOD "bwe"

#define GROUP_SPAN_US RTC_MS(5)
#define TREND_WINDOW 20
#define TREND_SMOOTHING 0.9
#define TREND_GAIN 4.0
#define TREND_MIN_DELTAS 60
#define OVERUSE_TIME_MS 10.0
#define K_UP 0.0087
#define K_DOWN 0.039
#define MAX_ADAPT_OFFSET_MS 15.0
#define ACK_WINDOW_US RTC_MS(500)
#define ACK_RING 8192
#define BETA 0.85
#define HIST_N 64

typedef enum { RC_HOLD, RC_INCREASE, RC_DECREASE } rc_state_t;

typedef struct {
    rtc_time_t first_send, last_send, first_arrival, last_arrival;
    size_t size;
} group_t;

struct rtc_bwe {
    rtc_bwe_config_t cfg;
    rtc_time_t rtt;
    /* acknowledged bitrate: FIFO of (arrival, size) within the last ACK_WINDOW_US */
    rtc_time_t ack_t[ACK_RING];
    uint32_t ack_s[ACK_RING];
    size_t ack_head, ack_count;
    uint64_t ack_bytes;
    rtc_time_t ack_first_ever;
    bool ack_any;
    uint64_t acked_bps;
    /* inter-arrival groups */
    bool have_cur, have_prev;
    group_t cur, prev;
    /* trendline */
    double accumulated_delay, smoothed_delay;
    unsigned num_deltas;
    double first_arrival_ms;
    bool have_first_arrival;
    double hx[TREND_WINDOW], hy[TREND_WINDOW];
    size_t hn, hhead;
    double prev_trend;
    double threshold;
    double time_over_using;
    int overuse_counter;
    rtc_bwe_usage_t usage;
    double last_threshold_update_ms;
    bool have_threshold_update;
    /* AIMD */
    rc_state_t state;
    double delay_bps;
    bool have_last_change;
    rtc_time_t last_change;
    bool lc_has;
    double lc_est_kbps, lc_dev;
    /* loss based */
    uint64_t lost_acc, expected_acc;
    double loss;
    rtc_time_t last_loss_decrease;
    double loss_bps;
    /* target history for the loss-based increase (min over the last second) */
    rtc_time_t hist_t[HIST_N];
    double hist_v[HIST_N];
    size_t hist_head, hist_count;
    double target;
};

rtc_bwe_t *rtc_bwe_new(const rtc_bwe_config_t *cfg) {
    rtc_bwe_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    if (cfg) b->cfg = *cfg;
    if (!b->cfg.min_bps) b->cfg.min_bps = 30000;
    if (!b->cfg.max_bps) b->cfg.max_bps = 20000000;
    if (!b->cfg.start_bps) b->cfg.start_bps = 300000;
    if (b->cfg.max_bps < b->cfg.min_bps) b->cfg.max_bps = b->cfg.min_bps;
    if (b->cfg.start_bps < b->cfg.min_bps) b->cfg.start_bps = b->cfg.min_bps;
    if (b->cfg.start_bps > b->cfg.max_bps) b->cfg.start_bps = b->cfg.max_bps;
    b->rtt = RTC_MS(100);
    b->threshold = 12.5;
    b->time_over_using = -1;
    b->usage = RTC_BWE_NORMAL;
    b->state = RC_HOLD;
    b->delay_bps = (double)b->cfg.start_bps;
    b->loss_bps = (double)b->cfg.start_bps;
    b->target = (double)b->cfg.start_bps;
    b->lc_dev = 0.4;
    b->last_loss_decrease = INT64_MIN / 2;
    return b;
}

void rtc_bwe_free(rtc_bwe_t *b) { free(b); }

void rtc_bwe_set_rtt(rtc_bwe_t *b, rtc_time_t rtt_us) {
    if (rtt_us > 0) b->rtt = rtt_us;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- acknowledged bitrate ------------------------------------------------------------- */

static void ack_add(rtc_bwe_t *b, rtc_time_t arrival, size_t size) {
    if (!b->ack_any) {
        b->ack_any = true;
        b->ack_first_ever = arrival;
    }
    if (b->ack_count == ACK_RING) { /* full: forget the oldest */
        b->ack_bytes -= b->ack_s[b->ack_head];
        b->ack_head = (b->ack_head + 1) % ACK_RING;
        b->ack_count--;
    }
    size_t i = (b->ack_head + b->ack_count) % ACK_RING;
    b->ack_t[i] = arrival;
    b->ack_s[i] = (uint32_t)size;
    b->ack_count++;
    b->ack_bytes += size;
}

static void ack_update(rtc_bwe_t *b) {
    if (!b->ack_count) return;
    /* The newest arrival defines "now" on the receiver's clock. */
    rtc_time_t newest = b->ack_t[(b->ack_head + b->ack_count - 1) % ACK_RING];
    while (b->ack_count && b->ack_t[b->ack_head] <= newest - ACK_WINDOW_US) {
        b->ack_bytes -= b->ack_s[b->ack_head];
        b->ack_head = (b->ack_head + 1) % ACK_RING;
        b->ack_count--;
    }
    rtc_time_t span = newest - b->ack_first_ever;
    if (span > ACK_WINDOW_US) span = ACK_WINDOW_US;
    if (span < RTC_MS(100)) return; /* too little to say */
    b->acked_bps = b->ack_bytes * 8 * RTC_US_PER_SEC / (uint64_t)span;
}

/* ---- trendline overuse detector ------------------------------------------------------- */

static void update_threshold(rtc_bwe_t *b, double modified_trend, double now_ms) {
    if (!b->have_threshold_update) {
        b->have_threshold_update = true;
        b->last_threshold_update_ms = now_ms;
    }
    double abs_trend = fabs(modified_trend);
    if (abs_trend > b->threshold + MAX_ADAPT_OFFSET_MS) {
        /* A spike (e.g. a route change) should not drag the threshold along. */
        b->last_threshold_update_ms = now_ms;
        return;
    }
    double k = abs_trend < b->threshold ? K_DOWN : K_UP;
    double dt = now_ms - b->last_threshold_update_ms;
    if (dt > 100) dt = 100;
    if (dt < 0) dt = 0;
    b->threshold += k * (abs_trend - b->threshold) * dt;
    b->threshold = clampd(b->threshold, 6.0, 600.0);
    b->last_threshold_update_ms = now_ms;
}

static void detect(rtc_bwe_t *b, double trend, double send_delta_ms, double now_ms) {
    if (b->num_deltas < 2) {
        b->usage = RTC_BWE_NORMAL;
        return;
    }
    double n = b->num_deltas < TREND_MIN_DELTAS ? b->num_deltas : TREND_MIN_DELTAS;
    double modified = n * trend * TREND_GAIN;
    if (modified > b->threshold) {
        if (b->time_over_using == -1) b->time_over_using = send_delta_ms / 2;
        else b->time_over_using += send_delta_ms;
        b->overuse_counter++;
        if (b->time_over_using > OVERUSE_TIME_MS && b->overuse_counter > 1 && trend >= b->prev_trend) {
            b->time_over_using = 0;
            b->overuse_counter = 0;
            b->usage = RTC_BWE_OVERUSE;
            RTC_LOGD(MOD, "overuse: trend %.4f (x%.0f = %.1f) over threshold %.1f; estimate %.0f, acked %llu bit/s",
                     trend, n * TREND_GAIN, modified, b->threshold, b->delay_bps,
                     (unsigned long long)b->acked_bps);
        }
    } else if (modified < -b->threshold) {
        b->time_over_using = -1;
        b->overuse_counter = 0;
        b->usage = RTC_BWE_UNDERUSE;
    } else {
        b->time_over_using = -1;
        b->overuse_counter = 0;
        b->usage = RTC_BWE_NORMAL;
    }
    b->prev_trend = trend;
    update_threshold(b, modified, now_ms);
}

static void trend_update(rtc_bwe_t *b, double recv_delta_ms, double send_delta_ms, double arrival_ms) {
    double delta = recv_delta_ms - send_delta_ms;
    if (b->num_deltas < 1000) b->num_deltas++;
    if (!b->have_first_arrival) {
        b->have_first_arrival = true;
        b->first_arrival_ms = arrival_ms;
    }
    b->accumulated_delay += delta;
    b->smoothed_delay = TREND_SMOOTHING * b->smoothed_delay + (1 - TREND_SMOOTHING) * b->accumulated_delay;
    size_t i = (b->hhead + b->hn) % TREND_WINDOW;
    if (b->hn == TREND_WINDOW) {
        i = b->hhead;
        b->hhead = (b->hhead + 1) % TREND_WINDOW;
    } else {
        b->hn++;
    }
    b->hx[i] = arrival_ms - b->first_arrival_ms;
    b->hy[i] = b->smoothed_delay;
    double trend = b->prev_trend;
    if (b->hn == TREND_WINDOW) {
        double sx = 0, sy = 0;
        for (size_t k = 0; k < TREND_WINDOW; k++) { sx += b->hx[k]; sy += b->hy[k]; }
        double mx = sx / TREND_WINDOW, my = sy / TREND_WINDOW, num = 0, den = 0;
        for (size_t k = 0; k < TREND_WINDOW; k++) {
            num += (b->hx[k] - mx) * (b->hy[k] - my);
            den += (b->hx[k] - mx) * (b->hx[k] - mx);
        }
        if (den != 0) trend = num / den;
    }
    detect(b, trend, send_delta_ms, arrival_ms);
}

/* A packet that arrives right behind the current group (within BURST_DELTA_US of its last
 * packet) although it was sent later than that gap: the receiver read a backlog in one go
 * (its reading thread was not scheduled, or the network delivered a burst). That is no queue
 * growing on the path, so the packet joins the group (for up to BURST_MAX_US) instead of
 * starting groups whose delays first jump and then fall back: a busy receiver's read stalls
 * of 50-150 ms otherwise read as overuse, again and again. libwebrtc's inter-arrival
 * grouping does the same. */
#define BURST_DELTA_US RTC_MS(5)
#define BURST_MAX_US RTC_MS(100)
static bool in_burst(const group_t *g, const rtc_bwe_packet_t *p) {
    rtc_time_t arrival_delta = p->arrival - g->last_arrival;
    rtc_time_t send_delta = p->send_time - g->last_send;
    if (send_delta == 0) return true;
    return arrival_delta - send_delta < 0 && arrival_delta <= BURST_DELTA_US &&
           p->arrival - g->first_arrival < BURST_MAX_US;
}

static void group_packet(rtc_bwe_t *b, const rtc_bwe_packet_t *p) {
    if (!b->have_cur) {
        b->cur = (group_t){p->send_time, p->send_time, p->arrival, p->arrival, p->size};
        b->have_cur = true;
        return;
    }
    if (p->send_time < b->cur.first_send) return; /* reordered in send time: not useful */
    if (p->send_time - b->cur.first_send <= GROUP_SPAN_US || in_burst(&b->cur, p)) {
        if (p->send_time > b->cur.last_send) b->cur.last_send = p->send_time;
        if (p->arrival > b->cur.last_arrival) b->cur.last_arrival = p->arrival;
        b->cur.size += p->size;
        return;
    }
    /* The current group is complete. */
    if (b->have_prev) {
        double send_delta = (double)(b->cur.last_send - b->prev.last_send) / 1000.0;
        double recv_delta = (double)(b->cur.last_arrival - b->prev.last_arrival) / 1000.0;
        trend_update(b, recv_delta, send_delta, (double)b->cur.last_arrival / 1000.0);
    }
    b->prev = b->cur;
    b->have_prev = true;
    b->cur = (group_t){p->send_time, p->send_time, p->arrival, p->arrival, p->size};
}

/* ---- AIMD rate control ---------------------------------------------------------------- */

static double lc_upper(const rtc_bwe_t *b) {
    return (b->lc_est_kbps + 3 * sqrt(b->lc_est_kbps * b->lc_dev)) * 1000;
}
static double lc_lower(const rtc_bwe_t *b) {
    double v = b->lc_est_kbps - 3 * sqrt(b->lc_est_kbps * b->lc_dev);
    return (v > 0 ? v : 0) * 1000;
}
static void lc_on_overuse(rtc_bwe_t *b, double sample_bps) {
    double s = sample_bps / 1000;
    if (!b->lc_has) {
        b->lc_est_kbps = s;
        b->lc_has = true;
    } else {
        b->lc_est_kbps = 0.95 * b->lc_est_kbps + 0.05 * s;
    }
    double norm = b->lc_est_kbps > 1 ? b->lc_est_kbps : 1;
    double err = b->lc_est_kbps - s;
    b->lc_dev = clampd(0.95 * b->lc_dev + 0.05 * err * err / norm, 0.4, 2.5);
}

static double additive_increase_per_s(const rtc_bwe_t *b) {
    /* About one average packet per response time (draft-ietf-rmcat-gcc-02 5.5). */
    double frame_bits = b->delay_bps / 30.0;
    double packets = ceil(frame_bits / (8 * 1200.0));
    if (packets < 1) packets = 1;
    double avg_packet_bits = frame_bits / packets;
    double response_s = (double)(b->rtt + RTC_MS(100)) / 1e6;
    double r = avg_packet_bits / response_s;
    return r > 4000 ? r : 4000;
}

static bool time_to_reduce_further(const rtc_bwe_t *b, rtc_time_t now) {
    rtc_time_t interval = b->rtt < RTC_MS(10) ? RTC_MS(10) : b->rtt > RTC_MS(200) ? RTC_MS(200) : b->rtt;
    if (!b->have_last_change || now - b->last_change >= interval) return true;
    return b->acked_bps && b->delay_bps / 2 > (double)b->acked_bps;
}

static void aimd_update(rtc_bwe_t *b, rtc_time_t now) {
    double acked = (double)b->acked_bps;
    switch (b->usage) {
    case RTC_BWE_NORMAL:
        if (b->state == RC_HOLD) {
            b->state = RC_INCREASE;
            b->last_change = now;
            b->have_last_change = true;
        }
        break;
    case RTC_BWE_OVERUSE:
        if (!time_to_reduce_further(b, now)) return;
        b->state = RC_DECREASE;
        break;
    case RTC_BWE_UNDERUSE:
        b->state = RC_HOLD;
        break;
    }
    double cur = b->delay_bps, next = cur;
    if (b->state == RC_INCREASE) {
        if (b->lc_has && acked > lc_upper(b)) b->lc_has = false; /* the link got faster */
        double dt = b->have_last_change ? (double)(now - b->last_change) / 1e6 : 1.0;
        if (dt < 0) dt = 0;
        if (b->lc_has) {
            next = cur + additive_increase_per_s(b) * dt;
        } else {
            double alpha = pow(1.08, dt < 1.0 ? dt : 1.0);
            double inc = cur * (alpha - 1);
            next = cur + (inc > 1000 ? inc : 1000);
        }
        b->last_change = now;
        b->have_last_change = true;
        /* Do not run far ahead of what actually gets through. */
        if (acked > 0 && next > 1.5 * acked + 10000) next = cur > 1.5 * acked + 10000 ? cur : 1.5 * acked + 10000;
    } else if (b->state == RC_DECREASE) {
        double dec = BETA * (acked > 0 ? acked : cur);
        if (dec > cur && b->lc_has) dec = BETA * b->lc_est_kbps * 1000;
        if (dec < cur) next = dec;
        if (acked > 0) {
            if (b->lc_has && acked < lc_lower(b)) b->lc_has = false;
            lc_on_overuse(b, acked);
        }
        b->state = RC_HOLD;
        b->last_change = now;
        b->have_last_change = true;
    }
    b->delay_bps = clampd(next, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
}

/* ---- loss based and the combined target ----------------------------------------------- */

static double hist_min(const rtc_bwe_t *b, rtc_time_t now) {
    double m = b->target;
    for (size_t k = 0; k < b->hist_count; k++) {
        size_t i = (b->hist_head + k) % HIST_N;
        if (b->hist_t[i] >= now - RTC_SEC(1) && b->hist_v[i] < m) m = b->hist_v[i];
    }
    return m;
}

static void hist_push(rtc_bwe_t *b, rtc_time_t now, double v) {
    size_t i = (b->hist_head + b->hist_count) % HIST_N;
    if (b->hist_count == HIST_N) {
        i = b->hist_head;
        b->hist_head = (b->hist_head + 1) % HIST_N;
    } else {
        b->hist_count++;
    }
    b->hist_t[i] = now;
    b->hist_v[i] = v;
}

static void loss_update(rtc_bwe_t *b, rtc_time_t now) {
    if (b->expected_acc < 20) return; /* too few packets to call it a loss rate */
    b->loss = (double)b->lost_acc / (double)b->expected_acc;
    b->lost_acc = b->expected_acc = 0;
    if (b->loss < 0.02) {
        b->loss_bps = hist_min(b, now) * 1.08 + 1000;
    } else if (b->loss > 0.10) {
        if (now - b->last_loss_decrease >= RTC_MS(300) + b->rtt) {
            double base = b->loss_bps < b->target ? b->loss_bps : b->target;
            b->loss_bps = base * (1 - 0.5 * b->loss);
            b->last_loss_decrease = now;
        }
    } else if (b->loss_bps > b->target) {
        b->loss_bps = b->target; /* hold where we are */
    }
    b->loss_bps = clampd(b->loss_bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
}

void rtc_bwe_on_feedback(rtc_bwe_t *b, const rtc_bwe_packet_t *pkts, size_t n, rtc_time_t now) {
    if (!b || (n && !pkts)) return;
    for (size_t i = 0; i < n; i++) {
        b->expected_acc++;
        if (!pkts[i].received) {
            b->lost_acc++;
            continue;
        }
        ack_add(b, pkts[i].arrival, pkts[i].size);
        group_packet(b, &pkts[i]);
    }
    ack_update(b);
    aimd_update(b, now);
    loss_update(b, now);
    double t = b->delay_bps < b->loss_bps ? b->delay_bps : b->loss_bps;
    b->target = clampd(t, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
    hist_push(b, now, b->target);
}

void rtc_bwe_on_probe_result(rtc_bwe_t *b, uint64_t bps, rtc_time_t now) {
    if (!b || !bps || (double)bps <= b->target || b->usage == RTC_BWE_OVERUSE) return;
    double v = clampd((double)bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
    RTC_LOGD(MOD, "probe result %.0f bit/s (target was %.0f)", v, b->target);
    b->delay_bps = v;
    if (b->loss_bps < v) b->loss_bps = v;
    b->target = v;
    /* A link faster than the one the overuse history describes: forget that history (the
     * additive near-capacity mode would otherwise crawl from here). */
    if (b->lc_has && v > lc_upper(b)) b->lc_has = false;
    b->last_change = now;
    b->have_last_change = true;
    /* The loss-based increase starts from the minimum of the last second: start it here. */
    b->hist_count = 0;
    hist_push(b, now, v);
}

/* ---- probe cluster measurement ---------------------------------------------------------- */
#define PROBE_MIN_PACKETS 5
#define PROBE_MIN_RECEIVED_FRACTION 0.8
#define PROBE_MAX_INTERVAL_US RTC_SEC(1)
#define PROBE_MAX_RATIO 2.0
#define PROBE_SLOW_RATIO 0.9
#define PROBE_TARGET_UTILISATION 0.95

void rtc_bwe_probe_add(rtc_bwe_probe_t *p, const rtc_bwe_packet_t *pkt) {
    if (!p || !pkt) return;
    if (!pkt->received) {
        p->lost++;
        return;
    }
    if (!p->received || pkt->send_time < p->first_send) p->first_send = pkt->send_time;
    if (!p->received || pkt->send_time >= p->last_send) {
        p->last_send = pkt->send_time;
        p->last_send_size = pkt->size;
    }
    if (!p->received || pkt->arrival < p->first_arrival) {
        p->first_arrival = pkt->arrival;
        p->first_arrival_size = pkt->size;
    }
    if (!p->received || pkt->arrival > p->last_arrival) p->last_arrival = pkt->arrival;
    p->received++;
    p->bytes += pkt->size;
}

uint64_t rtc_bwe_probe_rate(const rtc_bwe_probe_t *p) {
    if (!p || p->received < PROBE_MIN_PACKETS) return 0;
    if ((double)p->received < PROBE_MIN_RECEIVED_FRACTION * (double)p->sent) return 0;
    rtc_time_t send_iv = p->last_send - p->first_send, recv_iv = p->last_arrival - p->first_arrival;
    if (send_iv <= 0 || send_iv > PROBE_MAX_INTERVAL_US || recv_iv <= 0 || recv_iv > PROBE_MAX_INTERVAL_US)
        return 0;
    /* The last packet sent ends the send interval and the first one received starts the
     * receive interval: neither one's bytes went out / came in inside its interval. */
    double send_bps = (double)(p->bytes - p->last_send_size) * 8e6 / (double)send_iv;
    double recv_bps = (double)(p->bytes - p->first_arrival_size) * 8e6 / (double)recv_iv;
    if (recv_bps > PROBE_MAX_RATIO * send_bps) return 0;
    double r = send_bps < recv_bps ? send_bps : recv_bps;
    if (recv_bps < PROBE_SLOW_RATIO * send_bps) r = PROBE_TARGET_UTILISATION * recv_bps;
    if (p->target_bps && r > (double)p->target_bps) r = (double)p->target_bps;
    return (uint64_t)r;
}

uint64_t rtc_bwe_target_bps(const rtc_bwe_t *b) { return (uint64_t)b->target; }
uint64_t rtc_bwe_delay_based_bps(const rtc_bwe_t *b) { return (uint64_t)b->delay_bps; }
uint64_t rtc_bwe_loss_based_bps(const rtc_bwe_t *b) { return (uint64_t)b->loss_bps; }
uint64_t rtc_bwe_acked_bps(const rtc_bwe_t *b) { return b->acked_bps; }
rtc_bwe_usage_t rtc_bwe_usage(const rtc_bwe_t *b) { return b->usage; }
double rtc_bwe_loss_ratio(const rtc_bwe_t *b) { return b->loss; }
