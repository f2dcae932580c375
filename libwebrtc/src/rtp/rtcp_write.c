/* RTCP packet writers, NTP time helpers and RTT. */
#include "rtc/rtcp.h"

/* Starts a packet: reserves the header; returns its offset. */
static size_t begin(rtc_writer_t *w) {
    size_t at = w->len;
    rtc_writer_zeros(w, 4);
    return at;
}

/* Pads to 32 bits (zeros, or Chrome-style P bit + count when p_bit) and fills the header. */
static int finish(rtc_writer_t *w, size_t at, uint8_t count, uint8_t type, bool p_bit) {
    size_t body = w->len - at;
    size_t pad = (4 - body % 4) % 4;
    if (pad) {
        uint8_t *q = rtc_writer_reserve(w, pad);
        if (q) {
            memset(q, 0, pad);
            if (p_bit) q[pad - 1] = (uint8_t)pad;
        }
    }
    if (w->err) return RTC_ERR_OVERFLOW;
    size_t words = (w->len - at) / 4 - 1;
    if (words > 0xffff) {
        w->err = true;
        return RTC_ERR_OVERFLOW;
    }
    w->p[at] = (uint8_t)(0x80 | (p_bit && pad ? 0x20 : 0) | (count & 0x1f));
    w->p[at + 1] = type;
    rtc_put_be16(w->p + at + 2, (uint16_t)words);
    return RTC_OK;
}

static void write_block(rtc_writer_t *w, const rtc_rtcp_report_block_t *b) {
    rtc_writer_u32(w, b->ssrc);
    rtc_writer_u8(w, b->fraction_lost);
    int32_t cl = b->cumulative_lost;
    if (cl > 0x7fffff) cl = 0x7fffff;
    if (cl < -0x800000) cl = -0x800000;
    rtc_writer_u24(w, (uint32_t)cl & 0xffffff);
    rtc_writer_u32(w, b->ext_highest_seq);
    rtc_writer_u32(w, b->jitter);
    rtc_writer_u32(w, b->lsr);
    rtc_writer_u32(w, b->dlsr);
}

int rtc_rtcp_write_report(rtc_writer_t *w, const rtc_rtcp_report_t *r) {
    if (!w || !r || r->report_count > RTC_RTCP_MAX_REPORTS || r->profile_ext_len % 4 ||
        (r->profile_ext_len && !r->profile_ext))
        return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    rtc_writer_u32(w, r->ssrc);
    if (r->has_sender_info) {
        rtc_writer_u64(w, r->sender.ntp_time);
        rtc_writer_u32(w, r->sender.rtp_time);
        rtc_writer_u32(w, r->sender.packet_count);
        rtc_writer_u32(w, r->sender.octet_count);
    }
    for (unsigned i = 0; i < r->report_count; i++) write_block(w, &r->reports[i]);
    rtc_writer_bytes(w, r->profile_ext, r->profile_ext_len);
    return finish(w, at, r->report_count, r->has_sender_info ? RTC_RTCP_SR : RTC_RTCP_RR, false);
}

int rtc_rtcp_write_sdes(rtc_writer_t *w, const rtc_rtcp_sdes_item_t *items, size_t n) {
    if (!w || (n && !items)) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    unsigned chunks = 0;
    for (size_t i = 0; i < n;) {
        uint32_t ssrc = items[i].ssrc;
        if (++chunks > RTC_RTCP_MAX_REPORTS) return RTC_ERR_INVALID_ARG;
        rtc_writer_u32(w, ssrc);
        for (; i < n && items[i].ssrc == ssrc; i++) {
            if (items[i].type == RTC_RTCP_SDES_END || (items[i].len && !items[i].data)) return RTC_ERR_INVALID_ARG;
            rtc_writer_u8(w, items[i].type);
            rtc_writer_u8(w, items[i].len);
            rtc_writer_bytes(w, items[i].data, items[i].len);
        }
        /* null item, then zeros to the next 32-bit boundary (at least one null octet) */
        size_t used = w->len - at;
        rtc_writer_zeros(w, 4 - used % 4);
    }
    return finish(w, at, (uint8_t)chunks, RTC_RTCP_SDES, false);
}

int rtc_rtcp_write_sdes_cname(rtc_writer_t *w, uint32_t ssrc, const char *cname) {
    if (!cname || strlen(cname) > 255) return RTC_ERR_INVALID_ARG;
    rtc_rtcp_sdes_item_t it = {ssrc, RTC_RTCP_SDES_CNAME, (uint8_t)strlen(cname), (const uint8_t *)cname};
    return rtc_rtcp_write_sdes(w, &it, 1);
}

int rtc_rtcp_write_bye(rtc_writer_t *w, const rtc_rtcp_bye_t *b) {
    if (!w || !b || b->count > RTC_RTCP_MAX_REPORTS || (b->reason_len && !b->reason)) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    for (unsigned i = 0; i < b->count; i++) rtc_writer_u32(w, b->ssrcs[i]);
    if (b->reason) {
        rtc_writer_u8(w, b->reason_len);
        rtc_writer_bytes(w, b->reason, b->reason_len);
    }
    return finish(w, at, b->count, RTC_RTCP_BYE, false);
}

int rtc_rtcp_write_app(rtc_writer_t *w, const rtc_rtcp_app_t *a) {
    if (!w || !a || a->subtype > 31 || a->data_len % 4 || (a->data_len && !a->data)) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    rtc_writer_u32(w, a->ssrc);
    rtc_writer_bytes(w, a->name, 4);
    rtc_writer_bytes(w, a->data, a->data_len);
    return finish(w, at, a->subtype, RTC_RTCP_APP, false);
}

int rtc_rtcp_write_nack(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *seqs, size_t n) {
    if (!w || !seqs || n == 0) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    rtc_writer_u32(w, sender_ssrc);
    rtc_writer_u32(w, media_ssrc);
    uint16_t pid = seqs[0], blp = 0;
    for (size_t i = 1; i < n; i++) {
        uint16_t d = (uint16_t)(seqs[i] - pid);
        if (d == 0) continue;
        if (d <= 16) {
            blp |= (uint16_t)(1u << (d - 1));
            continue;
        }
        rtc_writer_u16(w, pid);
        rtc_writer_u16(w, blp);
        pid = seqs[i];
        blp = 0;
    }
    rtc_writer_u16(w, pid);
    rtc_writer_u16(w, blp);
    return finish(w, at, RTC_RTCP_FMT_NACK, RTC_RTCP_RTPFB, false);
}

/* Re-encodes a parsed NACK's PID/BLP pairs as they came. */
static int write_nack_items(rtc_writer_t *w, const rtc_rtcp_nack_t *nk) {
    size_t at = begin(w);
    rtc_writer_u32(w, nk->sender_ssrc);
    rtc_writer_u32(w, nk->media_ssrc);
    for (size_t i = 0; i < nk->count; i++) {
        rtc_writer_u16(w, rtc_be16(nk->items + 4 * i));
        rtc_writer_u16(w, rtc_be16(nk->items + 4 * i + 2));
    }
    return finish(w, at, RTC_RTCP_FMT_NACK, RTC_RTCP_RTPFB, false);
}

int rtc_rtcp_write_pli(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc) {
    if (!w) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    rtc_writer_u32(w, sender_ssrc);
    rtc_writer_u32(w, media_ssrc);
    return finish(w, at, RTC_RTCP_FMT_PLI, RTC_RTCP_PSFB, false);
}

static int write_fir_impl(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          const rtc_rtcp_fir_entry_t *e, size_t n) {
    size_t at = begin(w);
    rtc_writer_u32(w, sender_ssrc);
    rtc_writer_u32(w, media_ssrc);
    for (size_t i = 0; i < n; i++) {
        rtc_writer_u32(w, e[i].ssrc);
        rtc_writer_u8(w, e[i].seq);
        rtc_writer_zeros(w, 3);
    }
    return finish(w, at, RTC_RTCP_FMT_FIR, RTC_RTCP_PSFB, false);
}

int rtc_rtcp_write_fir(rtc_writer_t *w, uint32_t sender_ssrc, const rtc_rtcp_fir_entry_t *e, size_t n) {
    if (!w || !e || n == 0) return RTC_ERR_INVALID_ARG;
    return write_fir_impl(w, sender_ssrc, 0, e, n);
}

int rtc_rtcp_write_remb(rtc_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, size_t n) {
    if (!w || n > 255 || (n && !ssrcs)) return RTC_ERR_INVALID_ARG;
    unsigned exp = 0;
    while ((bitrate >> exp) > 0x3ffff) exp++;
    uint32_t mantissa = (uint32_t)(bitrate >> exp);
    size_t at = begin(w);
    rtc_writer_u32(w, sender_ssrc);
    rtc_writer_u32(w, 0);
    rtc_writer_bytes(w, "REMB", 4);
    rtc_writer_u8(w, (uint8_t)n);
    rtc_writer_u8(w, (uint8_t)((exp << 2) | (mantissa >> 16)));
    rtc_writer_u16(w, (uint16_t)mantissa);
    for (size_t i = 0; i < n; i++) rtc_writer_u32(w, ssrcs[i]);
    return finish(w, at, RTC_RTCP_FMT_AFB, RTC_RTCP_PSFB, false);
}

/* ---- TWCC ----------------------------------------------------------------------------- */

/* A restartable source of packet results: an array, or a parsed feedback's iterator. */
typedef struct {
    const rtc_rtcp_twcc_packet_t *arr;
    size_t n, i;
    const rtc_rtcp_twcc_t *fb;
    rtc_rtcp_twcc_iter_t it;
} twcc_src_t;

static void src_reset(twcc_src_t *s) {
    s->i = 0;
    if (s->fb) rtc_rtcp_twcc_iter_init(&s->it, s->fb);
}

static int src_next(twcc_src_t *s, rtc_rtcp_twcc_packet_t *p) {
    if (s->fb) return rtc_rtcp_twcc_next(&s->it, p);
    if (s->i >= s->n) return 0;
    *p = s->arr[s->i++];
    return 1;
}

/* Delta in 250 us ticks from *last to t, rounded half away from zero; advances *last by
 * the encoded amount so rounding errors do not accumulate. */
static int64_t twcc_delta(int64_t *last, int64_t t) {
    int64_t d = t - *last;
    d += d < 0 ? -(RTC_RTCP_TWCC_DELTA_US / 2) : RTC_RTCP_TWCC_DELTA_US / 2;
    d /= RTC_RTCP_TWCC_DELTA_US;
    *last += d * RTC_RTCP_TWCC_DELTA_US;
    return d;
}

static bool is_received(uint8_t status) {
    return status == RTC_RTCP_TWCC_SMALL_DELTA || status == RTC_RTCP_TWCC_LARGE_DELTA;
}

/* The chunk being filled, as libwebrtc's LastChunk: up to 14 symbols kept, or a run. */
typedef struct {
    uint8_t sym[14];
    size_t size;
    bool all_same;
    bool has_large; /* a symbol >= 2 (large delta or reserved) forbids one-bit vectors */
} last_chunk_t;

static bool lc_can_add(const last_chunk_t *c, uint8_t s) {
    if (c->size < 7) return true;
    if (c->size < 14 && !c->has_large && s < 2) return true;
    if (c->size < 0x1fff && c->all_same && c->sym[0] == s) return true;
    return false;
}

static void lc_add(last_chunk_t *c, uint8_t s) {
    if (c->size < 14) c->sym[c->size] = s;
    if (c->size == 0) c->all_same = true;
    else if (s != c->sym[0]) c->all_same = false;
    if (s >= 2) c->has_large = true;
    c->size++;
}

static uint16_t lc_run(const last_chunk_t *c) {
    return (uint16_t)((c->sym[0] << 13) | c->size);
}
static uint16_t lc_two_bit(const last_chunk_t *c, size_t k) {
    uint16_t v = 0xc000;
    for (size_t i = 0; i < k; i++) v |= (uint16_t)(c->sym[i] << (2 * (6 - i)));
    return v;
}
static uint16_t lc_one_bit(const last_chunk_t *c, size_t k) {
    uint16_t v = 0x8000;
    for (size_t i = 0; i < k; i++) v |= (uint16_t)((c->sym[i] & 1) << (13 - i));
    return v;
}

static uint16_t lc_emit(last_chunk_t *c) {
    uint16_t v;
    if (c->all_same) {
        v = lc_run(c);
        c->size = 0;
        c->has_large = false;
        return v;
    }
    if (c->size == 14) {
        v = lc_one_bit(c, 14);
        c->size = 0;
        c->has_large = false;
        return v;
    }
    v = lc_two_bit(c, 7);
    size_t rest = c->size - 7;
    memmove(c->sym, c->sym + 7, rest);
    c->size = 0;
    c->has_large = false;
    for (size_t i = 0; i < rest; i++) lc_add(c, c->sym[i]);
    return v;
}

static uint16_t lc_last(const last_chunk_t *c) {
    if (c->all_same) return lc_run(c);
    if (c->size <= 7) return lc_two_bit(c, c->size);
    return lc_one_bit(c, c->size);
}

static int write_twcc_src(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          uint16_t base_seq, int32_t ref_time, uint8_t fb_count, twcc_src_t *src) {
    if (ref_time < -0x800000 || ref_time > 0x7fffff) return RTC_ERR_INVALID_ARG;
    size_t at = begin(w);
    rtc_writer_u32(w, sender_ssrc);
    rtc_writer_u32(w, media_ssrc);
    rtc_writer_u16(w, base_seq);
    size_t count_at = w->len;
    rtc_writer_u16(w, 0);
    rtc_writer_u24(w, (uint32_t)ref_time & 0xffffff);
    rtc_writer_u8(w, fb_count);
    /* Pass 1: symbols -> chunks. */
    last_chunk_t lc = {{0}, 0, true, false};
    int64_t last = (int64_t)ref_time * RTC_RTCP_TWCC_REF_TIME_US;
    size_t count = 0;
    rtc_rtcp_twcc_packet_t p;
    int r;
    src_reset(src);
    while ((r = src_next(src, &p)) == 1) {
        if (p.seq != (uint16_t)(base_seq + count)) return RTC_ERR_INVALID_ARG;
        if (++count > 0xffff) return RTC_ERR_OVERFLOW;
        uint8_t s = p.status;
        if (is_received(s)) {
            int64_t d = twcc_delta(&last, p.arrival_us);
            if (d < INT16_MIN || d > INT16_MAX) return RTC_ERR_OVERFLOW;
            s = (d >= 0 && d <= 255) ? RTC_RTCP_TWCC_SMALL_DELTA : RTC_RTCP_TWCC_LARGE_DELTA;
        } else if (s != RTC_RTCP_TWCC_RESERVED) {
            s = RTC_RTCP_TWCC_NOT_RECEIVED;
        }
        if (!lc_can_add(&lc, s)) rtc_writer_u16(w, lc_emit(&lc));
        lc_add(&lc, s);
    }
    if (r < 0) return r;
    if (lc.size) rtc_writer_u16(w, lc_last(&lc));
    /* Pass 2: deltas, recomputed the same way. */
    last = (int64_t)ref_time * RTC_RTCP_TWCC_REF_TIME_US;
    src_reset(src);
    while (src_next(src, &p) == 1) {
        if (!is_received(p.status)) continue;
        int64_t d = twcc_delta(&last, p.arrival_us);
        if (d >= 0 && d <= 255) rtc_writer_u8(w, (uint8_t)d);
        else rtc_writer_u16(w, (uint16_t)(int16_t)d);
    }
    if (w->err) return RTC_ERR_OVERFLOW;
    rtc_put_be16(w->p + count_at, (uint16_t)count);
    return finish(w, at, RTC_RTCP_FMT_TWCC, RTC_RTCP_RTPFB, true);
}

int rtc_rtcp_write_twcc(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint16_t base_seq, int32_t ref_time, uint8_t fb_count,
                        const rtc_rtcp_twcc_packet_t *pkts, size_t n) {
    if (!w || (n && !pkts)) return RTC_ERR_INVALID_ARG;
    twcc_src_t src = {pkts, n, 0, NULL, {0}};
    size_t mark = w->len;
    int r = write_twcc_src(w, sender_ssrc, media_ssrc, base_seq, ref_time, fb_count, &src);
    if (r < 0 && r != RTC_ERR_OVERFLOW) w->len = mark; /* bad argument: leave nothing half-written */
    return r;
}

int rtc_rtcp_write_packet(rtc_writer_t *w, const rtc_rtcp_packet_t *pkt) {
    if (!w || !pkt) return RTC_ERR_INVALID_ARG;
    switch (pkt->kind) {
    case RTC_RTCP_KIND_SR:
    case RTC_RTCP_KIND_RR:
        return rtc_rtcp_write_report(w, &pkt->u.report);
    case RTC_RTCP_KIND_SDES: {
        /* Re-emit chunk by chunk so chunks without items survive too. */
        size_t at = begin(w);
        const uint8_t *c = pkt->u.sdes.chunks;
        size_t pos = 0;
        for (unsigned k = 0; k < pkt->u.sdes.chunk_count; k++) {
            if (pkt->u.sdes.chunks_len - pos < 4) return RTC_ERR_MALFORMED;
            rtc_writer_u32(w, rtc_be32(c + pos));
            pos += 4;
            while (pos < pkt->u.sdes.chunks_len && c[pos] != 0) {
                uint8_t len = c[pos + 1];
                rtc_writer_u8(w, c[pos]);
                rtc_writer_u8(w, len);
                rtc_writer_bytes(w, c + pos + 2, len);
                pos += 2 + (size_t)len;
            }
            pos = (pos + 4) & ~(size_t)3;
            rtc_writer_zeros(w, 4 - (w->len - at) % 4);
        }
        return finish(w, at, pkt->u.sdes.chunk_count, RTC_RTCP_SDES, false);
    }
    case RTC_RTCP_KIND_BYE:
        return rtc_rtcp_write_bye(w, &pkt->u.bye);
    case RTC_RTCP_KIND_APP:
        return rtc_rtcp_write_app(w, &pkt->u.app);
    case RTC_RTCP_KIND_NACK:
        return write_nack_items(w, &pkt->u.nack);
    case RTC_RTCP_KIND_PLI:
        return rtc_rtcp_write_pli(w, pkt->u.pli.sender_ssrc, pkt->u.pli.media_ssrc);
    case RTC_RTCP_KIND_FIR: {
        size_t at = begin(w);
        rtc_writer_u32(w, pkt->u.fir.sender_ssrc);
        rtc_writer_u32(w, pkt->u.fir.media_ssrc);
        rtc_writer_bytes(w, pkt->u.fir.entries, pkt->u.fir.count * 8);
        return finish(w, at, RTC_RTCP_FMT_FIR, RTC_RTCP_PSFB, false);
    }
    case RTC_RTCP_KIND_REMB: {
        uint32_t ssrcs[255];
        for (unsigned i = 0; i < pkt->u.remb.num_ssrc; i++) ssrcs[i] = rtc_rtcp_remb_ssrc(&pkt->u.remb, i);
        return rtc_rtcp_write_remb(w, pkt->u.remb.sender_ssrc, pkt->u.remb.bitrate, ssrcs, pkt->u.remb.num_ssrc);
    }
    case RTC_RTCP_KIND_TWCC: {
        twcc_src_t src = {NULL, 0, 0, &pkt->u.twcc, {0}};
        const rtc_rtcp_twcc_t *t = &pkt->u.twcc;
        return write_twcc_src(w, t->sender_ssrc, t->media_ssrc, t->base_seq, t->ref_time, t->fb_count, &src);
    }
    case RTC_RTCP_KIND_UNKNOWN:
    default:
        rtc_writer_bytes(w, pkt->raw, pkt->raw_len);
        return w->err ? RTC_ERR_OVERFLOW : RTC_OK;
    }
}

/* ---- time ----------------------------------------------------------------------------- */

#define NTP_UNIX_OFFSET 2208988800LL

uint64_t rtc_rtcp_ntp_from_unix_us(int64_t unix_us) {
    int64_t secs = unix_us / RTC_US_PER_SEC;
    int64_t us = unix_us % RTC_US_PER_SEC;
    if (us < 0) { us += RTC_US_PER_SEC; secs--; }
    uint64_t frac = ((uint64_t)us << 32) / RTC_US_PER_SEC;
    return ((uint64_t)(secs + NTP_UNIX_OFFSET) << 32) | frac;
}

int64_t rtc_rtcp_ntp_to_unix_us(uint64_t ntp) {
    int64_t secs = (int64_t)(ntp >> 32) - NTP_UNIX_OFFSET;
    uint64_t frac = ntp & 0xffffffffu;
    return secs * RTC_US_PER_SEC + (int64_t)((frac * RTC_US_PER_SEC + (1ULL << 31)) >> 32);
}

int64_t rtc_rtcp_rtt_us(const rtc_rtcp_report_block_t *rb, uint64_t ntp_now) {
    if (!rb || rb->lsr == 0) return -1;
    uint32_t a = rtc_rtcp_ntp_mid32(ntp_now);
    int32_t rtt = (int32_t)(a - rb->lsr - rb->dlsr);
    if (rtt < 0) return -1;
    return ((int64_t)rtt * RTC_US_PER_SEC) >> 16;
}
