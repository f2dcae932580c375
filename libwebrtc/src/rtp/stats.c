/* Receive statistics (RFC 3550 A.1 sequence validation, A.3 loss, A.8 jitter) and send
 * statistics (SR sender info, RTT from report blocks). */
#include <stdlib.h>

#include "rtc/rtp.h"

/* RFC 3550 suggests 2 for unvalidated sources; WebRTC sources are authenticated by SRTP and
 * signalled, so (like libwebrtc) the first packet already counts. */
#define MIN_SEQUENTIAL 1
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define RTP_SEQ_MOD (1u << 16)

struct rtc_rtp_recv_stats {
    uint32_t ssrc;
    uint32_t clock_rate;
    /* A.1 source state */
    uint16_t max_seq;
    uint32_t cycles;        /* shifted count of seq wraps */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t probation;
    uint64_t received;
    uint64_t expected_prior;
    uint64_t received_prior;
    uint64_t bytes;
    bool started;           /* at least one packet validated */
    bool any;               /* any packet seen */
    /* A.8 jitter */
    double jitter;
    int64_t last_transit;   /* in RTP units */
    bool have_transit;
    /* LSR/DLSR */
    uint32_t lsr;
    rtc_time_t sr_received;
};

rtc_rtp_recv_stats_t *rtc_rtp_recv_stats_new(uint32_t ssrc, uint32_t clock_rate) {
    if (clock_rate == 0) return NULL;
    rtc_rtp_recv_stats_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
    return s;
}

void rtc_rtp_recv_stats_free(rtc_rtp_recv_stats_t *s) { free(s); }

static void init_seq(rtc_rtp_recv_stats_t *s, uint16_t seq) {
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

/* RFC 3550 A.1 update_seq(); returns true when the packet is valid for the statistics. */
static bool update_seq(rtc_rtp_recv_stats_t *s, uint16_t seq) {
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                init_seq(s, seq);
                s->received++;
                s->started = true;
                return true;
            }
        } else {
            s->probation = MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        return false;
    } else if (udelta < MAX_DROPOUT) {
        if (seq < s->max_seq) s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        /* A very large jump: accept it only if the next packet follows it (the sender
         * restarted). */
        if (seq == s->bad_seq) {
            init_seq(s, seq);
        } else {
            s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
            return false;
        }
    } else {
        /* duplicate or reordered packet */
    }
    s->received++;
    return true;
}

void rtc_rtp_recv_stats_on_packet(rtc_rtp_recv_stats_t *s, uint16_t seq, uint32_t rtp_ts,
                                  size_t bytes, bool retransmitted, rtc_time_t now) {
    if (!s->any) {
        s->any = true;
        init_seq(s, seq);
        s->max_seq = (uint16_t)(seq - 1);
        s->probation = MIN_SEQUENTIAL;
    }
    if (!update_seq(s, seq)) return;
    s->bytes += bytes;
    if (retransmitted) return;
    /* A.8: transit = arrival (in RTP units) - timestamp; J += (|D| - J) / 16. */
    int64_t arrival = (int64_t)((__int128)now * s->clock_rate / RTC_US_PER_SEC);
    int64_t transit = arrival - (int64_t)rtp_ts;
    if (s->have_transit) {
        /* RTP timestamps wrap at 2^32: take the difference modulo 2^32, signed. */
        int64_t d = (int32_t)(uint32_t)(transit - s->last_transit);
        if (d < 0) d = -d;
        s->jitter += ((double)d - s->jitter) / 16.0;
    }
    s->last_transit = transit;
    s->have_transit = true;
}

void rtc_rtp_recv_stats_on_sr(rtc_rtp_recv_stats_t *s, uint64_t ntp_time, rtc_time_t now) {
    s->lsr = rtc_rtcp_ntp_mid32(ntp_time);
    s->sr_received = now;
}

static uint32_t ext_max(const rtc_rtp_recv_stats_t *s) { return s->cycles + s->max_seq; }

void rtc_rtp_recv_stats_get(const rtc_rtp_recv_stats_t *s, rtc_rtp_recv_stats_info_t *out) {
    memset(out, 0, sizeof *out);
    if (!s->started) return;
    out->packets = s->received;
    out->bytes = s->bytes;
    out->ext_highest_seq = ext_max(s);
    out->base_seq = s->base_seq;
    int64_t expected = (int64_t)ext_max(s) - (int64_t)s->base_seq + 1;
    out->cumulative_lost = expected - (int64_t)s->received;
    out->jitter = s->jitter;
    out->jitter_rtp = (uint32_t)(s->jitter + 0.5);
}

int rtc_rtp_recv_stats_report_block(rtc_rtp_recv_stats_t *s, rtc_time_t now,
                                    rtc_rtcp_report_block_t *out) {
    if (!s->started) return RTC_ERR_STATE;
    uint64_t expected = (uint64_t)ext_max(s) - s->base_seq + 1;
    int64_t lost = (int64_t)expected - (int64_t)s->received;
    uint64_t expected_interval = expected - s->expected_prior;
    uint64_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
    uint8_t fraction = 0;
    if (expected_interval != 0 && lost_interval > 0)
        fraction = (uint8_t)(((uint64_t)lost_interval << 8) / expected_interval);
    out->ssrc = s->ssrc;
    out->fraction_lost = fraction;
    out->cumulative_lost = lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : (int32_t)lost;
    out->ext_highest_seq = ext_max(s);
    out->jitter = (uint32_t)(s->jitter + 0.5);
    out->lsr = s->lsr;
    out->dlsr = 0;
    if (s->lsr) {
        rtc_time_t d = now - s->sr_received;
        if (d < 0) d = 0;
        out->dlsr = (uint32_t)(((uint64_t)d << 16) / RTC_US_PER_SEC);
    }
    return RTC_OK;
}

/* ---- send side ------------------------------------------------------------------------ */

struct rtc_rtp_send_stats {
    uint32_t ssrc;
    uint32_t clock_rate;
    uint64_t packets;
    uint64_t octets;
    bool have_last;
    uint32_t last_ts;
    rtc_time_t last_capture;
    int64_t rtt;
};

rtc_rtp_send_stats_t *rtc_rtp_send_stats_new(uint32_t ssrc, uint32_t clock_rate) {
    if (clock_rate == 0) return NULL;
    rtc_rtp_send_stats_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
    s->rtt = -1;
    return s;
}

void rtc_rtp_send_stats_free(rtc_rtp_send_stats_t *s) { free(s); }

void rtc_rtp_send_stats_on_packet(rtc_rtp_send_stats_t *s, uint32_t rtp_ts, size_t payload_bytes,
                                  rtc_time_t capture_time) {
    s->packets++;
    s->octets += payload_bytes;
    s->have_last = true;
    s->last_ts = rtp_ts;
    s->last_capture = capture_time;
}

int rtc_rtp_send_stats_sender_info(rtc_rtp_send_stats_t *s, uint64_t ntp_now, rtc_time_t now,
                                   rtc_rtcp_sender_info_t *out) {
    if (!s->have_last) return RTC_ERR_STATE;
    int64_t elapsed = now - s->last_capture;
    int64_t ticks = (int64_t)((__int128)elapsed * s->clock_rate / RTC_US_PER_SEC);
    out->ntp_time = ntp_now;
    out->rtp_time = (uint32_t)(s->last_ts + (uint32_t)ticks);
    out->packet_count = (uint32_t)s->packets;
    out->octet_count = (uint32_t)s->octets;
    return RTC_OK;
}

int64_t rtc_rtp_send_stats_on_report_block(rtc_rtp_send_stats_t *s, const rtc_rtcp_report_block_t *rb,
                                           uint64_t ntp_now) {
    int64_t rtt = rtc_rtcp_rtt_us(rb, ntp_now);
    if (rtt >= 0) s->rtt = rtt;
    return rtt;
}

int64_t rtc_rtp_send_stats_rtt(const rtc_rtp_send_stats_t *s) { return s->rtt; }
uint64_t rtc_rtp_send_stats_packets(const rtc_rtp_send_stats_t *s) { return s->packets; }
uint64_t rtc_rtp_send_stats_octets(const rtc_rtp_send_stats_t *s) { return s->octets; }

/* ---- compound report ------------------------------------------------------------------- */

int rtc_rtp_write_compound_report(rtc_writer_t *w, uint32_t ssrc, rtc_rtp_send_stats_t *snd,
                                  rtc_rtp_recv_stats_t *const *rcv, size_t n_rcv, const char *cname,
                                  uint64_t ntp_now, rtc_time_t now) {
    if (!w || !cname || (n_rcv && !rcv)) return RTC_ERR_INVALID_ARG;
    size_t start = w->len;
    rtc_rtcp_report_t r;
    r.ssrc = snd ? snd->ssrc : ssrc;
    r.has_sender_info = snd && rtc_rtp_send_stats_sender_info(snd, ntp_now, now, &r.sender) == RTC_OK;
    if (!r.has_sender_info) r.ssrc = ssrc;
    r.profile_ext = NULL;
    r.profile_ext_len = 0;
    size_t i = 0;
    bool first = true;
    do {
        r.report_count = 0;
        for (; i < n_rcv && r.report_count < RTC_RTCP_MAX_REPORTS; i++) {
            if (rtc_rtp_recv_stats_report_block(rcv[i], now, &r.reports[r.report_count]) == RTC_OK)
                r.report_count++;
        }
        if (!first) r.has_sender_info = false; /* continuation blocks go in RRs */
        int e = rtc_rtcp_write_report(w, &r);
        if (e < 0) return e;
        first = false;
    } while (i < n_rcv);
    int e = rtc_rtcp_write_sdes_cname(w, r.ssrc, cname);
    if (e < 0) return e;
    return (int)(w->len - start);
}
