/* Per-SSRC SRTP state for the EVP backend: a small open-addressing hash table of streams,
 * rollover counter estimation and the SRTP/SRTCP replay windows.
 *
 * The replay rules are libsrtp 2's, reproduced on purpose (the differential tests hold us to
 * them): an SRTP packet is new if its index is above the highest seen, a replay if its bit in
 * the window is set, too old if it is window - 1 or more behind; SRTCP keeps a 128-packet
 * window that starts at window_start. Nothing here allocates per packet: a stream is
 * allocated when its SSRC first appears and freed when it is removed. */
#include <stdlib.h>

#include "srtp/srtp_internal.h"

#define SEQ_MEDIAN (1 << 15)
#define SEQ_MAX (1 << 16)
#define RTCP_WINDOW 128
#define MIN_CAP 8

static uint32_t pow2_at_least(uint32_t v) {
    uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

void rtc_srtp__streams_init(rtc_srtp_streams_t *t, uint32_t window, uint32_t max) {
    memset(t, 0, sizeof *t);
    /* libsrtp's bitvector_alloc rounds the window up to whole 32-bit words. */
    t->window = (window + 31) & ~31u;
    t->ring_bits = pow2_at_least(t->window < 64 ? 64 : t->window);
    t->max = max;
}

void rtc_srtp__streams_free(rtc_srtp_streams_t *t) {
    for (uint32_t i = 0; i < t->cap; i++) free(t->slots[i]);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static inline uint32_t slot_of(const rtc_srtp_streams_t *t, uint32_t ssrc) {
    /* Fibonacci hashing: SSRCs are random, but a sender may pick consecutive ones. */
    return (uint32_t)(ssrc * 2654435769u) & (t->cap - 1);
}

rtc_srtp_stream_t *rtc_srtp__streams_find(rtc_srtp_streams_t *t, uint32_t ssrc) {
    if (t->last && t->last->ssrc == ssrc) return t->last;
    if (!t->cap) return NULL;
    for (uint32_t i = slot_of(t, ssrc);; i = (i + 1) & (t->cap - 1)) {
        rtc_srtp_stream_t *st = t->slots[i];
        if (!st) return NULL;
        if (st->ssrc == ssrc) {
            t->last = st;
            return st;
        }
    }
}

static void insert(rtc_srtp_streams_t *t, rtc_srtp_stream_t *st) {
    uint32_t i = slot_of(t, st->ssrc);
    while (t->slots[i]) i = (i + 1) & (t->cap - 1);
    t->slots[i] = st;
}

static int grow(rtc_srtp_streams_t *t) {
    uint32_t ncap = t->cap ? t->cap * 2 : MIN_CAP;
    rtc_srtp_stream_t **old = t->slots;
    uint32_t ocap = t->cap;
    t->slots = calloc(ncap, sizeof *t->slots);
    if (!t->slots) {
        t->slots = old;
        return RTC_ERR_NOMEM;
    }
    t->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++)
        if (old[i]) insert(t, old[i]);
    free(old);
    return RTC_OK;
}

rtc_srtp_stream_t *rtc_srtp__streams_add(rtc_srtp_streams_t *t, uint32_t ssrc, int *err) {
    if (t->count >= t->max) {
        *err = RTC_ERR_LIMIT;
        return NULL;
    }
    /* Keep the load at or under one half so probes stay short. */
    if ((t->count + 1) * 2 > t->cap && grow(t) != RTC_OK) {
        *err = RTC_ERR_NOMEM;
        return NULL;
    }
    rtc_srtp_stream_t *st = calloc(1, sizeof *st + t->ring_bits / 8);
    if (!st) {
        *err = RTC_ERR_NOMEM;
        return NULL;
    }
    st->ssrc = ssrc;
    insert(t, st);
    t->count++;
    t->last = st;
    return st;
}

int rtc_srtp__streams_remove(rtc_srtp_streams_t *t, uint32_t ssrc) {
    if (!t->cap) return RTC_ERR_NOT_FOUND;
    uint32_t mask = t->cap - 1, i = slot_of(t, ssrc);
    while (t->slots[i] && t->slots[i]->ssrc != ssrc) i = (i + 1) & mask;
    rtc_srtp_stream_t *st = t->slots[i];
    if (!st) return RTC_ERR_NOT_FOUND;
    if (t->last == st) t->last = NULL;
    free(st);
    t->slots[i] = NULL;
    t->count--;
    /* Backward-shift deletion: pull up every later entry of the cluster that may sit in the
     * hole, so lookups never need tombstones. */
    for (uint32_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        uint32_t home = slot_of(t, t->slots[j]->ssrc);
        /* Entry j may move to hole i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        t->slots[j] = NULL;
        i = j;
    }
    return RTC_OK;
}

/* ---- SRTP rollover counter and replay window ---- */

int32_t rtc_srtp__rtp_estimate(const rtc_srtp_stream_t *st, uint16_t seq, uint64_t *guess) {
    uint64_t local = st ? st->index : 0;
    /* While the stream is young (ROC 0 and no sequence number past the median) the index is
     * the sequence number itself: guessing ROC - 1 would make it 0xffffffff. */
    if (local <= SEQ_MEDIAN) {
        *guess = seq;
        return (int32_t)seq - (int32_t)local;
    }
    uint32_t local_roc = (uint32_t)(local >> 16), guess_roc;
    uint16_t local_seq = (uint16_t)local;
    int32_t diff;
    if (local_seq < SEQ_MEDIAN) {
        if (seq - local_seq > SEQ_MEDIAN) {
            guess_roc = local_roc - 1;
            diff = seq - local_seq - SEQ_MAX;
        } else {
            guess_roc = local_roc;
            diff = seq - local_seq;
        }
    } else {
        if (local_seq - SEQ_MEDIAN > seq) {
            guess_roc = local_roc + 1;
            diff = seq - local_seq + SEQ_MAX;
        } else {
            guess_roc = local_roc;
            diff = seq - local_seq;
        }
    }
    *guess = (uint64_t)guess_roc << 16 | seq;
    return diff;
}

static inline bool ring_get(const rtc_srtp_streams_t *t, const rtc_srtp_stream_t *st, uint64_t idx) {
    uint64_t b = idx & (t->ring_bits - 1);
    return (st->ring[b >> 6] >> (b & 63)) & 1;
}

int rtc_srtp__rtp_replay_check(const rtc_srtp_streams_t *t, const rtc_srtp_stream_t *st,
                               int32_t delta) {
    if (delta > 0) return RTC_OK;
    if ((int64_t)t->window - 1 + delta < 0) return RTC_ERR_REPLAY; /* older than the window */
    if (!st) return RTC_OK;                                         /* new stream: nothing seen */
    return ring_get(t, st, st->index + (uint64_t)(int64_t)delta) ? RTC_ERR_REPLAY : RTC_OK;
}

/* Clears the ring bits of indexes from+1 .. from+n (the ones the window moves over). */
static void ring_clear_after(const rtc_srtp_streams_t *t, rtc_srtp_stream_t *st, uint64_t from,
                             uint64_t n) {
    uint32_t words = t->ring_bits / 64;
    if (n >= t->ring_bits) {
        memset(st->ring, 0, words * sizeof(uint64_t));
        return;
    }
    uint64_t b = (from + 1) & (t->ring_bits - 1);
    while (n > 0) {
        uint32_t bit = (uint32_t)(b & 63);
        uint64_t take = 64 - bit < n ? 64 - bit : n;
        uint64_t mask = take == 64 ? ~0ull : ((1ull << take) - 1) << bit;
        st->ring[b >> 6] &= ~mask;
        n -= take;
        b = (b + take) & (t->ring_bits - 1);
    }
}

void rtc_srtp__rtp_replay_add(const rtc_srtp_streams_t *t, rtc_srtp_stream_t *st, int32_t delta) {
    if (delta > 0) {
        ring_clear_after(t, st, st->index, (uint64_t)delta);
        /* libsrtp advances by delta truncated to 16 bits; delta never exceeds 65535 here. */
        st->index += (uint16_t)delta;
    }
    uint64_t b = (st->index + (uint64_t)(int64_t)(delta > 0 ? 0 : delta)) & (t->ring_bits - 1);
    st->ring[b >> 6] |= 1ull << (b & 63);
}

/* ---- SRTCP replay window (libsrtp's rdb: 128 bits from window_start) ---- */

static inline bool bits_get(const uint64_t *v, uint32_t i) { return (v[i >> 6] >> (i & 63)) & 1; }

int rtc_srtp__rtcp_replay_check(const rtc_srtp_stream_t *st, uint32_t index) {
    if (!st) return RTC_OK;
    uint32_t ws = st->rtcp_window_start;
    if (index >= ws + RTCP_WINDOW) return RTC_OK;
    if (index < ws) return RTC_ERR_REPLAY;
    return bits_get(st->rtcp_bits, index - ws) ? RTC_ERR_REPLAY : RTC_OK;
}

void rtc_srtp__rtcp_replay_add(rtc_srtp_stream_t *st, uint32_t index) {
    uint32_t ws = st->rtcp_window_start;
    if (index < ws) return;
    uint32_t delta = index - ws;
    if (delta >= RTCP_WINDOW) {
        /* Move the window so that index is its last bit. */
        uint32_t shift = delta - (RTCP_WINDOW - 1);
        uint64_t lo = st->rtcp_bits[0], hi = st->rtcp_bits[1];
        if (shift >= 128) {
            lo = hi = 0;
        } else if (shift >= 64) {
            lo = hi >> (shift - 64);
            hi = 0;
        } else if (shift > 0) {
            lo = (lo >> shift) | (hi << (64 - shift));
            hi >>= shift;
        }
        st->rtcp_bits[0] = lo;
        st->rtcp_bits[1] = hi;
        st->rtcp_window_start = ws + shift;
        delta = RTCP_WINDOW - 1;
    }
    st->rtcp_bits[delta >> 6] |= 1ull << (delta & 63);
}
