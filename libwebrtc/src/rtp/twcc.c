/* Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * the receive side records arrivals and writes feedback; the send side remembers when each
 * packet left and turns feedback into per-packet (send time, arrival time) results. */
#include <stdlib.h>

#include "rtc/rtp.h"

#define MOD "twcc"
#define RECV_WINDOW 16384 /* arrivals remembered (power of two) */
/* Largest delta a feedback can carry is +-8.19 s; cut a feedback before a jump that big. */
#define MAX_DELTA_US (INT16_MAX * (int64_t)RTC_RTCP_TWCC_DELTA_US - RTC_MS(1))

struct rtc_rtp_twcc_receiver {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    rtc_time_t interval;
    rtc_time_t last_feedback;
    bool started;
    rtc_rtp_unwrapper_t u;       /* u.last: highest received */
    int64_t next_report;         /* first unwrapped seq not yet reported */
    uint8_t fb_count;
    rtc_time_t *arrival;         /* RECV_WINDOW slots, -1 = not received */
    int64_t *slot_seq;           /* which seq a slot holds */
    rtc_rtcp_twcc_packet_t *scratch;
};

rtc_rtp_twcc_receiver_t *rtc_rtp_twcc_receiver_new(uint32_t sender_ssrc, rtc_time_t interval_us) {
    rtc_rtp_twcc_receiver_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->sender_ssrc = sender_ssrc;
    r->interval = interval_us > 0 ? interval_us : RTC_MS(100);
    r->arrival = malloc(RECV_WINDOW * sizeof *r->arrival);
    r->slot_seq = malloc(RECV_WINDOW * sizeof *r->slot_seq);
    r->scratch = malloc(RECV_WINDOW * sizeof *r->scratch);
    if (!r->arrival || !r->slot_seq || !r->scratch) {
        rtc_rtp_twcc_receiver_free(r);
        return NULL;
    }
    for (size_t i = 0; i < RECV_WINDOW; i++) r->slot_seq[i] = -1;
    rtc_rtp_unwrapper_init(&r->u);
    return r;
}

void rtc_rtp_twcc_receiver_free(rtc_rtp_twcc_receiver_t *r) {
    if (!r) return;
    free(r->arrival);
    free(r->slot_seq);
    free(r->scratch);
    free(r);
}

static bool recv_get(const rtc_rtp_twcc_receiver_t *r, int64_t seq, rtc_time_t *t) {
    size_t i = (size_t)seq & (RECV_WINDOW - 1);
    if (r->slot_seq[i] != seq) return false;
    *t = r->arrival[i];
    return true;
}

void rtc_rtp_twcc_receiver_on_packet(rtc_rtp_twcc_receiver_t *r, uint16_t seq, uint32_t media_ssrc,
                                     rtc_time_t arrival) {
    int64_t ext;
    r->media_ssrc = media_ssrc;
    if (!r->started) {
        ext = rtc_rtp_unwrap_seq(&r->u, seq);
        r->next_report = ext;
        r->started = true;
        r->last_feedback = arrival;
    } else {
        ext = rtc_rtp_unwrap_seq_peek(&r->u, seq);
        if (ext > r->u.last) r->u.last = ext;
    }
    if (ext < r->next_report) return; /* already reported */
    if (r->u.last - r->next_report >= RECV_WINDOW) r->next_report = r->u.last - RECV_WINDOW + 1;
    size_t i = (size_t)ext & (RECV_WINDOW - 1);
    r->slot_seq[i] = ext;
    r->arrival[i] = arrival;
}

rtc_time_t rtc_rtp_twcc_receiver_next_timeout(const rtc_rtp_twcc_receiver_t *r) {
    if (!r->started || r->u.last < r->next_report) return RTC_TIME_NEVER;
    return r->last_feedback + r->interval;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int rtc_rtp_twcc_receiver_build(rtc_rtp_twcc_receiver_t *r, rtc_time_t now, bool force, uint8_t *out, size_t cap) {
    if (!r || !out) return RTC_ERR_INVALID_ARG;
    if (!r->started || r->u.last < r->next_report) return 0;
    if (!force && now < r->last_feedback + r->interval) return 0;
    if (cap < 32) return RTC_ERR_OVERFLOW;
    /* A received packet costs up to ~3 bytes (a 2-byte delta and its share of a status
     * chunk). Lost ones in a row cost nothing much: one run-length chunk holds 8191 of them.
     * So only received packets count against the room; a run of losses longer than that
     * room (an outage, a peer that stalled) fits in one feedback instead of blocking every
     * later one. */
    size_t max_received = (cap - 24) / 3;
    int64_t first = r->next_report;
    /* The reference time comes from the first received packet in range. */
    rtc_time_t t0 = 0;
    int64_t s = first;
    while (s <= r->u.last && !recv_get(r, s, &t0)) s++;
    if (s > r->u.last) return 0; /* cannot happen: u.last was received */
    int64_t ref = floor_div(t0, RTC_RTCP_TWCC_REF_TIME_US);
    ref &= 0xffffff; /* 24-bit wrap; both sides unwrap */
    int32_t ref24 = (int32_t)(ref >= 0x800000 ? ref - 0x1000000 : ref);
    /* Times are written relative to ref24*64ms; shift arrivals so they sit on that base. */
    int64_t shift = ref24 * (int64_t)RTC_RTCP_TWCC_REF_TIME_US - floor_div(t0, RTC_RTCP_TWCC_REF_TIME_US) * RTC_RTCP_TWCC_REF_TIME_US;
    size_t n = 0, received = 0;
    int64_t last_recv = ref24 * (int64_t)RTC_RTCP_TWCC_REF_TIME_US;
    for (int64_t q = first; q <= r->u.last && n < RECV_WINDOW && received < max_received; q++) {
        rtc_time_t t;
        rtc_rtcp_twcc_packet_t *p = &r->scratch[n];
        p->seq = (uint16_t)q;
        if (recv_get(r, q, &t)) {
            int64_t at = t + shift;
            int64_t d = at - last_recv;
            if (d > MAX_DELTA_US || d < -MAX_DELTA_US) break; /* next feedback takes it */
            p->status = RTC_RTCP_TWCC_SMALL_DELTA; /* the writer picks small or large */
            p->arrival_us = at;
            last_recv = at;
            received++;
        } else {
            p->status = RTC_RTCP_TWCC_NOT_RECEIVED;
            p->arrival_us = -1;
        }
        n++;
    }
    /* Do not end a feedback on lost packets: they may still arrive (reordering). The packet
     * at s is received, so n stays above s - first. */
    while (n > 0 && r->scratch[n - 1].status == RTC_RTCP_TWCC_NOT_RECEIVED) n--;
    if (n == 0) return 0;
    /* Losses scattered between received packets cost chunk bytes the estimate above does not
     * count: if it does not fit, send fewer (never fewer than up to the first received one). */
    size_t at_least = (size_t)(s - first) + 1;
    rtc_writer_t w;
    int e;
    for (;;) {
        rtc_writer_init(&w, out, cap);
        e = rtc_rtcp_write_twcc(&w, r->sender_ssrc, r->media_ssrc, (uint16_t)first, ref24, r->fb_count,
                                r->scratch, n);
        if (e != RTC_ERR_OVERFLOW || n <= at_least) break;
        n = n / 2 > at_least ? n / 2 : at_least;
        while (n > at_least && r->scratch[n - 1].status == RTC_RTCP_TWCC_NOT_RECEIVED) n--;
    }
    if (e < 0) {
        RTC_LOGW(MOD, "could not write feedback for %zu packets: %s", n, rtc_strerror(e));
        return e;
    }
    int64_t last_included = first + (int64_t)n - 1;
    r->fb_count++;
    r->next_report = last_included + 1;
    r->last_feedback = now;
    return (int)w.len;
}

/* ---- send side ------------------------------------------------------------------------ */

typedef struct {
    bool used;
    bool acked;          /* a received result was produced */
    bool lost_reported;  /* a lost result was produced */
    uint16_t seq;
    uint32_t size;
    rtc_time_t send_time;
} sent_t;

struct rtc_rtp_twcc_sender {
    size_t mask;
    sent_t *sent;
    uint16_t next_seq;
    bool have_ref;
    int64_t ref_unwrapped;   /* last feedback's reference time, unwrapped across 24 bits */
};

rtc_rtp_twcc_sender_t *rtc_rtp_twcc_sender_new(size_t history) {
    if (history == 0) history = 8192;
    if (history > (1u << 15)) history = 1u << 15; /* must stay below half the seq space */
    size_t cap = 1;
    while (cap < history) cap <<= 1;
    rtc_rtp_twcc_sender_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mask = cap - 1;
    s->sent = calloc(cap, sizeof *s->sent);
    if (!s->sent) {
        free(s);
        return NULL;
    }
    return s;
}

void rtc_rtp_twcc_sender_free(rtc_rtp_twcc_sender_t *s) {
    if (!s) return;
    free(s->sent);
    free(s);
}

uint16_t rtc_rtp_twcc_sender_next_seq(rtc_rtp_twcc_sender_t *s) { return s->next_seq++; }

void rtc_rtp_twcc_sender_on_sent(rtc_rtp_twcc_sender_t *s, uint16_t seq, size_t size, rtc_time_t send_time) {
    sent_t *e = &s->sent[seq & s->mask];
    e->used = true;
    e->acked = false;
    e->lost_reported = false;
    e->seq = seq;
    e->size = (uint32_t)size;
    e->send_time = send_time;
}

int rtc_rtp_twcc_sender_on_feedback(rtc_rtp_twcc_sender_t *s, const rtc_rtcp_twcc_t *fb,
                                    rtc_bwe_packet_t *out, size_t cap) {
    if (!s || !fb || (cap && !out)) return RTC_ERR_INVALID_ARG;
    /* Unwrap the 24-bit reference time relative to the previous feedback. */
    int64_t ref;
    if (!s->have_ref) {
        ref = fb->ref_time;
        s->have_ref = true;
    } else {
        int32_t diff = (int32_t)(((uint32_t)fb->ref_time - (uint32_t)s->ref_unwrapped) << 8) >> 8;
        ref = s->ref_unwrapped + diff;
    }
    s->ref_unwrapped = ref;
    int64_t offset = (ref - fb->ref_time) * RTC_RTCP_TWCC_REF_TIME_US;
    rtc_rtcp_twcc_iter_t it;
    rtc_rtcp_twcc_packet_t p;
    rtc_rtcp_twcc_iter_init(&it, fb);
    size_t k = 0;
    int r;
    while ((r = rtc_rtcp_twcc_next(&it, &p)) == 1) {
        sent_t *e = &s->sent[p.seq & s->mask];
        if (!e->used || e->seq != p.seq || e->acked) continue;
        bool received = p.status == RTC_RTCP_TWCC_SMALL_DELTA || p.status == RTC_RTCP_TWCC_LARGE_DELTA;
        if (!received && (e->lost_reported || p.status == RTC_RTCP_TWCC_RESERVED)) continue;
        if (k >= cap) break;
        out[k].seq = p.seq;
        out[k].size = e->size;
        out[k].send_time = e->send_time;
        out[k].received = received;
        out[k].arrival = received ? p.arrival_us + offset : 0;
        if (received) e->acked = true;
        else e->lost_reported = true;
        k++;
    }
    if (r < 0) return r;
    return (int)k;
}
