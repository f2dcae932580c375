/* Test harness shared by the SCTP suites: two associations (DTLS client and server roles)
 * wired back to back through an in-memory pipe with optional loss, latency and reordering,
 * driven by one fake clock. Deterministic for a given seed: the pipe's random decisions come
 * from a seeded xorshift generator, never from the system. */
#ifndef TEST_SCTP_PAIR_H
#define TEST_SCTP_PAIR_H

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "rtc/sctp.h"

typedef struct tpkt {
    struct tpkt *next;
    rtc_time_t due;
    size_t n;
    uint8_t d[];
} tpkt_t;

typedef struct tpeer tpeer_t;

typedef struct {
    rtc_dc_t *dc;
    int id;
    bool opened, closing, closed;
    int errors, last_error;
    int lows;
    /* received messages: count, bytes, and a log of (len, is_string, first byte) */
    size_t msgs, bytes;
    size_t strings, binaries, empties;
    uint64_t next_seq;       /* for sequence-checking payloads */
    bool order_ok, content_ok;
    size_t max_len;
    uint64_t last_seq;
    bool check_seq;
    bool seen_seq[4096];
} tchan_t;

#define TP_MAX_CHANS 512

struct tpeer {
    rtc_sctp_t *a;
    tpeer_t *other;
    tpkt_t *q_head, *q_tail;   /* packets in flight TO this peer */
    size_t sent_pkts, dropped_pkts;
    int states[8];
    int close_reason;
    tchan_t ch[TP_MAX_CHANS];
    size_t nch;
    size_t incoming;           /* channels announced by on_datachannel */
};

typedef struct {
    tpeer_t c, s;              /* DTLS client, DTLS server */
    double loss;               /* drop probability per packet */
    rtc_time_t latency;        /* one-way */
    rtc_time_t jitter;         /* extra random delay up to this (reorders) */
    uint64_t rng;
    rtc_time_t now;
    bool corrupt;              /* flip random bytes instead of only dropping */
} tpair_t;

static tpair_t *g_pair;

/* usrsctp drives its timers from our clock (usrsctp_handle_timers), but it also reads
 * gettimeofday() directly: for RTT samples, for which chunks a T3 expiry may retransmit (only
 * those sent at least one RTO ago), and for PR-SCTP lifetimes. With a fake clock that runs
 * far ahead of real time those decisions would be wrong (nothing is ever old enough to be
 * retransmitted), so the test executable interposes gettimeofday() — usrsctp is a shared
 * library and resolves the symbol to ours — and reports the fake time while a pair exists.
 * In production both clocks advance together and no such thing is needed. */
int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    if (g_pair) {
        extern rtc_time_t tp_fake_now(void);
        rtc_time_t t = RTC_SEC(1700000000) + tp_fake_now();
        tv->tv_sec = (time_t)(t / RTC_US_PER_SEC);
        tv->tv_usec = (suseconds_t)(t % RTC_US_PER_SEC);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

rtc_time_t tp_fake_now(void);
rtc_time_t tp_fake_now(void) { return g_pair ? g_pair->now : 0; }

static inline uint64_t tp_rand(tpair_t *p) {
    uint64_t x = p->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p->rng = x;
    return x;
}

static inline double tp_unit(tpair_t *p) { return (double)(tp_rand(p) >> 11) / (double)(1ULL << 53); }

/* Payload pattern: 8-byte sequence number, then bytes derived from it and the offset. */
static inline void tp_fill(uint8_t *b, size_t n, uint64_t seq) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i < 8) ? (seq >> (8 * i)) : (seq * 131 + i * 7));
}

static inline bool tp_check(const uint8_t *b, size_t n, uint64_t *seq_out) {
    if (n < 8) return false;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) seq |= (uint64_t)b[i] << (8 * i);
    for (size_t i = 8; i < n; i++)
        if (b[i] != (uint8_t)(seq * 131 + i * 7)) return false;
    *seq_out = seq;
    return true;
}

static inline void tp_on_packet(void *user, const uint8_t *d, size_t n) {
    tpeer_t *from = user;
    tpair_t *p = g_pair;
    tpeer_t *to = from->other;
    from->sent_pkts++;
    if (p->loss > 0 && tp_unit(p) < p->loss) {
        from->dropped_pkts++;
        return;
    }
    tpkt_t *k = malloc(sizeof *k + n);
    k->next = NULL;
    k->n = n;
    memcpy(k->d, d, n);
    if (p->corrupt && n > 12 && tp_unit(p) < 0.3) k->d[12 + tp_rand(p) % (n - 12)] ^= (uint8_t)(1 + tp_rand(p) % 255);
    k->due = p->now + p->latency + (p->jitter ? (rtc_time_t)(tp_rand(p) % (uint64_t)p->jitter) : 0);
    /* keep the queue sorted by due time (stable) */
    tpkt_t **pp = &to->q_head;
    while (*pp && (*pp)->due <= k->due) pp = &(*pp)->next;
    k->next = *pp;
    *pp = k;
    if (!k->next) to->q_tail = k;
}

static inline tchan_t *tp_chan(tpeer_t *pe, rtc_dc_t *dc) {
    for (size_t i = 0; i < pe->nch; i++)
        if (pe->ch[i].dc == dc) return &pe->ch[i];
    return NULL;
}

static inline tpeer_t *tp_peer_of(void *user) { return user; }

static inline void tp_on_open(void *user, rtc_dc_t *dc) {
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (c) c->opened = true;
}
static inline void tp_on_message(void *user, rtc_dc_t *dc, const uint8_t *p, size_t n, bool is_string) {
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (!c) return;
    c->msgs++;
    c->bytes += n;
    if (n == 0) c->empties++;
    else if (is_string) c->strings++;
    else c->binaries++;
    if (n > c->max_len) c->max_len = n;
    if (c->check_seq && n >= 8) {
        uint64_t seq;
        if (!tp_check(p, n, &seq)) c->content_ok = false;
        else {
            if (seq != c->next_seq) c->order_ok = false;
            c->next_seq = seq + 1;
            if (seq < 4096) c->seen_seq[seq] = true;
            c->last_seq = seq;
        }
    }
}
static inline void tp_on_closing(void *user, rtc_dc_t *dc) {
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (c) c->closing = true;
}
static inline void tp_on_close(void *user, rtc_dc_t *dc) {
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (c) {
        c->closed = true;
        c->dc = NULL; /* freed after this call */
    }
}
static inline void tp_on_error(void *user, rtc_dc_t *dc, int err, const char *what) {
    (void)what;
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (c) {
        c->errors++;
        c->last_error = err;
    }
}
static inline void tp_on_low(void *user, rtc_dc_t *dc) {
    tchan_t *c = tp_chan(tp_peer_of(user), dc);
    if (c) c->lows++;
}

static const rtc_dc_callbacks_t tp_dc_cb = {
    .on_open = tp_on_open,
    .on_message = tp_on_message,
    .on_closing = tp_on_closing,
    .on_close = tp_on_close,
    .on_error = tp_on_error,
    .on_buffered_amount_low = tp_on_low,
};

static inline tchan_t *tp_track(tpeer_t *pe, rtc_dc_t *dc) {
    if (pe->nch >= TP_MAX_CHANS) return NULL;
    tchan_t *c = &pe->ch[pe->nch++];
    memset(c, 0, sizeof *c);
    c->dc = dc;
    c->id = rtc_dc_id(dc);
    c->order_ok = c->content_ok = true;
    rtc_dc_set_callbacks(dc, &tp_dc_cb, pe);
    return c;
}

static inline void tp_on_datachannel(void *user, rtc_dc_t *dc) {
    tpeer_t *pe = user;
    pe->incoming++;
    tp_track(pe, dc);
}

static inline void tp_on_state(void *user, rtc_sctp_state_t st, int reason) {
    tpeer_t *pe = user;
    pe->states[st]++;
    if (st == RTC_SCTP_STATE_CLOSED) pe->close_reason = reason;
}

/* Finds the tracked channel for a stream id (most recent). */
static inline tchan_t *tp_find(tpeer_t *pe, int id) {
    for (size_t i = pe->nch; i-- > 0;)
        if (pe->ch[i].id == id) return &pe->ch[i];
    return NULL;
}

static inline void tp_config(rtc_sctp_config_t *cfg, tpeer_t *pe, bool client) {
    rtc_sctp_config_init(cfg);
    cfg->dtls_client = client;
    cfg->cb.on_packet = tp_on_packet;
    cfg->cb.on_state = tp_on_state;
    cfg->cb.on_datachannel = tp_on_datachannel;
    cfg->user = pe;
    cfg->remote_max_message_size = 262144;
}

static inline int tp_create(tpair_t *p, uint64_t seed, const rtc_sctp_config_t *cc, const rtc_sctp_config_t *sc) {
    memset(p, 0, sizeof *p);
    g_pair = p;
    p->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    p->now = RTC_SEC(1000);
    p->c.other = &p->s;
    p->s.other = &p->c;
    rtc_sctp_config_t c1, c2;
    if (cc) c1 = *cc; else tp_config(&c1, &p->c, true);
    if (sc) c2 = *sc; else tp_config(&c2, &p->s, false);
    c1.user = &p->c;
    c2.user = &p->s;
    int rc = rtc_sctp_create(&c1, &p->c.a);
    if (rc) return rc;
    return rtc_sctp_create(&c2, &p->s.a);
}

static inline void tp_free_queue(tpeer_t *pe) {
    while (pe->q_head) {
        tpkt_t *k = pe->q_head;
        pe->q_head = k->next;
        free(k);
    }
    pe->q_tail = NULL;
}

static inline void tp_destroy(tpair_t *p) {
    rtc_sctp_destroy(p->c.a);
    rtc_sctp_destroy(p->s.a);
    tp_free_queue(&p->c);
    tp_free_queue(&p->s);
    g_pair = NULL;
}

/* Delivers due packets and timers once. Returns true if anything happened. */
static inline bool tp_step(tpair_t *p) {
    bool any = false;
    tpeer_t *peers[2] = {&p->c, &p->s};
    for (int i = 0; i < 2; i++) {
        tpeer_t *pe = peers[i];
        while (pe->q_head && pe->q_head->due <= p->now) {
            tpkt_t *k = pe->q_head;
            pe->q_head = k->next;
            if (!pe->q_head) pe->q_tail = NULL;
            if (pe->a) rtc_sctp_handle_packet(pe->a, k->d, k->n, p->now);
            free(k);
            any = true;
        }
    }
    for (int i = 0; i < 2; i++) {
        tpeer_t *pe = peers[i];
        if (pe->a && rtc_sctp_next_timeout(pe->a) <= p->now) {
            rtc_sctp_handle_timeout(pe->a, p->now);
            any = true;
        }
    }
    return any;
}

static inline rtc_time_t tp_next_event(tpair_t *p) {
    rtc_time_t t = RTC_TIME_NEVER;
    tpeer_t *peers[2] = {&p->c, &p->s};
    for (int i = 0; i < 2; i++) {
        if (peers[i]->q_head && peers[i]->q_head->due < t) t = peers[i]->q_head->due;
        if (peers[i]->a) {
            rtc_time_t n = rtc_sctp_next_timeout(peers[i]->a);
            if (n < t) t = n;
        }
    }
    return t;
}

/* Runs the simulation for `dur` of simulated time, or until cond(p) holds. */
static inline bool tp_run(tpair_t *p, rtc_time_t dur, bool (*cond)(tpair_t *p)) {
    rtc_time_t end = p->now + dur;
    int guard = 0;
    while (p->now <= end) {
        if (cond && cond(p)) return true;
        if (tp_step(p)) {
            if (++guard > 100000) { guard = 0; p->now += RTC_MS(1); }
            continue;
        }
        guard = 0;
        rtc_time_t t = tp_next_event(p);
        if (t == RTC_TIME_NEVER || t > end) {
            p->now = end + 1;
            break;
        }
        p->now = t > p->now ? t : p->now + 1;
    }
    return cond ? cond(p) : true;
}

static inline bool tp_both_connected(tpair_t *p) {
    return rtc_sctp_state(p->c.a) == RTC_SCTP_STATE_CONNECTED &&
           rtc_sctp_state(p->s.a) == RTC_SCTP_STATE_CONNECTED;
}

static inline bool tp_connect(tpair_t *p) {
    rtc_sctp_connect(p->c.a, p->now);
    rtc_sctp_connect(p->s.a, p->now);
    return tp_run(p, RTC_SEC(30), tp_both_connected);
}

#endif
