/* NACK generator (receive side, RFC 4585 generic NACK) and send-side packet history that
 * answers NACKs, optionally with RTX (RFC 4588). */
#include <stdlib.h>

#include "rtc/rtp.h"

#define MOD "rtp"

typedef struct {
    int64_t seq;         /* unwrapped */
    rtc_time_t first_seen;
    rtc_time_t last_sent; /* RTC_TIME_NEVER before the first request */
    unsigned retries;
} missing_t;

struct rtc_rtp_nack_generator {
    rtc_rtp_nack_config_t cfg;
    rtc_time_t rtt;
    rtc_rtp_unwrapper_t u;  /* u.last is the highest sequence number seen */
    missing_t *list;        /* sorted by seq; list[0..count) */
    size_t count;
    bool keyframe;
    uint64_t given_up;
};

rtc_rtp_nack_generator_t *rtc_rtp_nack_generator_new(const rtc_rtp_nack_config_t *cfg) {
    rtc_rtp_nack_generator_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    if (cfg) g->cfg = *cfg;
    if (!g->cfg.max_retries) g->cfg.max_retries = 10;
    if (!g->cfg.max_missing) g->cfg.max_missing = 1000;
    if (!g->cfg.default_rtt_us) g->cfg.default_rtt_us = RTC_MS(100);
    if (!g->cfg.min_resend_us) g->cfg.min_resend_us = RTC_MS(5);
    if (!g->cfg.max_age_us) g->cfg.max_age_us = RTC_SEC(1);
    g->rtt = g->cfg.default_rtt_us;
    rtc_rtp_unwrapper_init(&g->u);
    g->list = calloc(g->cfg.max_missing, sizeof *g->list);
    if (!g->list) {
        free(g);
        return NULL;
    }
    return g;
}

void rtc_rtp_nack_generator_free(rtc_rtp_nack_generator_t *g) {
    if (!g) return;
    free(g->list);
    free(g);
}

void rtc_rtp_nack_generator_set_rtt(rtc_rtp_nack_generator_t *g, rtc_time_t rtt_us) {
    if (rtt_us > 0) g->rtt = rtt_us;
}

static void drop_front(rtc_rtp_nack_generator_t *g, size_t k) {
    memmove(g->list, g->list + k, (g->count - k) * sizeof *g->list);
    g->count -= k;
}

int rtc_rtp_nack_generator_on_packet(rtc_rtp_nack_generator_t *g, uint16_t seq, rtc_time_t now) {
    if (!g->u.started) {
        rtc_rtp_unwrap_seq(&g->u, seq);
        return 0;
    }
    int64_t ext = rtc_rtp_unwrap_seq_peek(&g->u, seq);
    int64_t highest = g->u.last;
    if (ext > highest) {
        int64_t gap = ext - highest - 1;
        g->u.last = ext;
        if (gap <= 0) return 0;
        if ((uint64_t)gap > g->cfg.max_missing) {
            /* Too much is missing to recover by retransmission: start over from a keyframe. */
            RTC_LOGD(MOD, "nack: %lld packets missing at once, asking for a keyframe", (long long)gap);
            g->given_up += g->count + (uint64_t)gap;
            g->count = 0;
            g->keyframe = true;
            return 0;
        }
        if (g->count + (size_t)gap > g->cfg.max_missing) {
            size_t k = g->count + (size_t)gap - g->cfg.max_missing;
            g->given_up += k;
            drop_front(g, k);
            g->keyframe = true;
        }
        for (int64_t s = highest + 1; s < ext; s++) {
            missing_t *m = &g->list[g->count++];
            m->seq = s;
            m->first_seen = now;
            m->last_sent = RTC_TIME_NEVER;
            m->retries = 0;
        }
        return (int)gap;
    }
    if (ext < highest && g->count) {
        /* Late or recovered: binary search and remove. */
        size_t lo = 0, hi = g->count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (g->list[mid].seq < ext) lo = mid + 1;
            else hi = mid;
        }
        if (lo < g->count && g->list[lo].seq == ext) {
            memmove(g->list + lo, g->list + lo + 1, (g->count - lo - 1) * sizeof *g->list);
            g->count--;
        }
    }
    return 0;
}

static rtc_time_t resend_interval(const rtc_rtp_nack_generator_t *g) {
    return g->rtt > g->cfg.min_resend_us ? g->rtt : g->cfg.min_resend_us;
}

static rtc_time_t due_at(const rtc_rtp_nack_generator_t *g, const missing_t *m) {
    return m->last_sent == RTC_TIME_NEVER ? m->first_seen : m->last_sent + resend_interval(g);
}

rtc_time_t rtc_rtp_nack_generator_next_timeout(const rtc_rtp_nack_generator_t *g) {
    rtc_time_t t = RTC_TIME_NEVER;
    for (size_t i = 0; i < g->count; i++) {
        rtc_time_t d = due_at(g, &g->list[i]);
        if (d < t) t = d;
    }
    return t;
}

size_t rtc_rtp_nack_generator_poll(rtc_rtp_nack_generator_t *g, rtc_time_t now, uint16_t *out, size_t cap) {
    size_t k = 0, w = 0;
    for (size_t i = 0; i < g->count; i++) {
        missing_t m = g->list[i];
        bool expired = m.retries >= g->cfg.max_retries || now - m.first_seen >= g->cfg.max_age_us;
        if (expired) {
            g->given_up++;
            g->keyframe = true;
            continue; /* drop it */
        }
        if (k < cap && due_at(g, &m) <= now) {
            out[k++] = (uint16_t)m.seq;
            m.last_sent = now;
            m.retries++;
        }
        g->list[w++] = m;
    }
    g->count = w;
    return k;
}

bool rtc_rtp_nack_generator_take_keyframe_request(rtc_rtp_nack_generator_t *g) {
    bool k = g->keyframe;
    g->keyframe = false;
    return k;
}

size_t rtc_rtp_nack_generator_missing(const rtc_rtp_nack_generator_t *g) { return g->count; }
uint64_t rtc_rtp_nack_generator_given_up(const rtc_rtp_nack_generator_t *g) { return g->given_up; }

/* ---- packet history ------------------------------------------------------------------- */

typedef struct {
    bool used;
    uint16_t seq;
    uint16_t len;
    uint8_t pt;
    rtc_time_t stored_at;
    rtc_time_t last_resend; /* RTC_TIME_NEVER when not resent yet */
} slot_t;

struct rtc_rtp_history {
    size_t mask;
    size_t max_packet;
    slot_t *slots;
    uint8_t *data;
    rtc_time_t rtt;
    uint32_t rtx_ssrc;
    uint16_t rtx_seq;
    bool rtx_on;
    uint8_t rtx_pt[128]; /* 0xff: no RTX for this payload type */
};

rtc_rtp_history_t *rtc_rtp_history_new(size_t capacity, size_t max_packet) {
    if (capacity == 0 || capacity > (1u << 16) || max_packet < RTC_RTP_HEADER_LEN || max_packet > 0xffff)
        return NULL;
    size_t cap = 1;
    while (cap < capacity) cap <<= 1;
    rtc_rtp_history_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->mask = cap - 1;
    h->max_packet = max_packet;
    h->slots = calloc(cap, sizeof *h->slots);
    h->data = malloc(cap * max_packet);
    if (!h->slots || !h->data) {
        rtc_rtp_history_free(h);
        return NULL;
    }
    h->rtt = RTC_MS(100);
    memset(h->rtx_pt, 0xff, sizeof h->rtx_pt);
    return h;
}

void rtc_rtp_history_free(rtc_rtp_history_t *h) {
    if (!h) return;
    free(h->slots);
    free(h->data);
    free(h);
}

int rtc_rtp_history_set_rtx(rtc_rtp_history_t *h, uint8_t pt, uint8_t rtx_pt, uint32_t rtx_ssrc,
                            uint16_t first_rtx_seq) {
    if (!h || pt > 127 || rtx_pt > 127) return RTC_ERR_INVALID_ARG;
    h->rtx_pt[pt] = rtx_pt;
    if (!h->rtx_on) h->rtx_seq = first_rtx_seq;
    h->rtx_ssrc = rtx_ssrc;
    h->rtx_on = true;
    return RTC_OK;
}

void rtc_rtp_history_set_rtt(rtc_rtp_history_t *h, rtc_time_t rtt_us) {
    if (rtt_us > 0) h->rtt = rtt_us;
}

int rtc_rtp_history_put(rtc_rtp_history_t *h, const uint8_t *pkt, size_t n, rtc_time_t now) {
    if (!h || !pkt) return RTC_ERR_INVALID_ARG;
    if (n > h->max_packet) return RTC_ERR_OVERFLOW;
    rtc_rtp_header_t hdr;
    int r = rtc_rtp_header_parse(pkt, n, &hdr);
    if (r < 0) return r;
    size_t i = hdr.seq & h->mask;
    slot_t *s = &h->slots[i];
    s->used = true;
    s->seq = hdr.seq;
    s->len = (uint16_t)n;
    s->pt = hdr.payload_type;
    s->stored_at = now;
    s->last_resend = RTC_TIME_NEVER;
    memcpy(h->data + i * h->max_packet, pkt, n);
    return RTC_OK;
}

const uint8_t *rtc_rtp_history_get(const rtc_rtp_history_t *h, uint16_t seq, size_t *n) {
    size_t i = seq & h->mask;
    const slot_t *s = &h->slots[i];
    if (!s->used || s->seq != seq) return NULL;
    if (n) *n = s->len;
    return h->data + i * h->max_packet;
}

int rtc_rtp_history_next_rtx_seq(rtc_rtp_history_t *h) {
    if (!h || !h->rtx_on) return -1;
    return h->rtx_seq++;
}

int rtc_rtp_history_resend(rtc_rtp_history_t *h, uint16_t seq, rtc_time_t now, uint8_t *out, size_t cap) {
    if (!h || !out) return RTC_ERR_INVALID_ARG;
    size_t i = seq & h->mask;
    slot_t *s = &h->slots[i];
    if (!s->used || s->seq != seq) return RTC_ERR_NOT_FOUND;
    if (s->last_resend != RTC_TIME_NEVER && now - s->last_resend < h->rtt) return RTC_ERR_AGAIN;
    const uint8_t *p = h->data + i * h->max_packet;
    int r;
    if (h->rtx_on && h->rtx_pt[s->pt] != 0xff) {
        r = rtc_rtp_rtx_wrap(p, s->len, h->rtx_pt[s->pt], h->rtx_ssrc, h->rtx_seq, out, cap);
        if (r >= 0) h->rtx_seq++;
    } else {
        if (s->len > cap) return RTC_ERR_OVERFLOW;
        memcpy(out, p, s->len);
        r = s->len;
    }
    if (r >= 0) s->last_resend = now;
    return r;
}
