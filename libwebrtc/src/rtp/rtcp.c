/* RTCP packet parsing and compound iteration (RFC 3550, 4585, 5104, 5506, REMB, TWCC). */
#include "rtc/rtcp.h"

#define MOD "rtcp"

static int bad(int err, const char *what, const char *why) {
    RTC_LOGD(MOD, "rejecting RTCP %s: %s", what, why);
    return err;
}

int rtc_rtcp_header_parse(const uint8_t *p, size_t n, rtc_rtcp_header_t *h) {
    if (!p || !h) return RTC_ERR_INVALID_ARG;
    if (n < RTC_RTCP_HEADER_LEN) return bad(RTC_ERR_TRUNCATED, "packet", "shorter than a header");
    h->version = p[0] >> 6;
    if (h->version != 2) return bad(RTC_ERR_MALFORMED, "packet", "version is not 2");
    h->padding = (p[0] & 0x20) != 0;
    h->count = p[0] & 0x1f;
    h->type = p[1];
    h->length = rtc_be16(p + 2);
    if (((size_t)h->length + 1) * 4 > n) return bad(RTC_ERR_TRUNCATED, "packet", "length field exceeds the data");
    return RTC_OK;
}

static void parse_block(const uint8_t *q, rtc_rtcp_report_block_t *b) {
    b->ssrc = rtc_be32(q);
    b->fraction_lost = q[4];
    uint32_t cl = rtc_be24(q + 5);
    b->cumulative_lost = (cl & 0x800000) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
    b->ext_highest_seq = rtc_be32(q + 8);
    b->jitter = rtc_be32(q + 12);
    b->lsr = rtc_be32(q + 16);
    b->dlsr = rtc_be32(q + 20);
}

static int parse_report(const uint8_t *b, size_t n, const rtc_rtcp_header_t *h, bool sr,
                        rtc_rtcp_report_t *r) {
    const char *what = sr ? "SR" : "RR";
    size_t fixed = sr ? 24 : 4;
    if (n < fixed + (size_t)h->count * 24) return bad(RTC_ERR_TRUNCATED, what, "report blocks exceed the length");
    r->ssrc = rtc_be32(b);
    r->has_sender_info = sr;
    memset(&r->sender, 0, sizeof r->sender);
    if (sr) {
        r->sender.ntp_time = rtc_be64(b + 4);
        r->sender.rtp_time = rtc_be32(b + 12);
        r->sender.packet_count = rtc_be32(b + 16);
        r->sender.octet_count = rtc_be32(b + 20);
    }
    r->report_count = h->count;
    for (unsigned i = 0; i < h->count; i++) parse_block(b + fixed + i * 24, &r->reports[i]);
    size_t used = fixed + (size_t)h->count * 24;
    r->profile_ext = n > used ? b + used : NULL;
    r->profile_ext_len = n - used;
    return RTC_OK;
}

/* Walks one SDES chunk from *pos: SSRC, items, null item and padding to 32 bits. */
static int sdes_chunk(const uint8_t *b, size_t n, size_t *pos) {
    size_t i = *pos;
    if (n - i < 4) return bad(RTC_ERR_TRUNCATED, "SDES", "chunk SSRC cut");
    i += 4;
    for (;;) {
        if (i >= n) return bad(RTC_ERR_TRUNCATED, "SDES", "chunk has no end item");
        if (b[i] == RTC_RTCP_SDES_END) {
            i = (i + 4) & ~(size_t)3; /* the null octet plus padding to the next word */
            if (i > n) return bad(RTC_ERR_TRUNCATED, "SDES", "chunk padding cut");
            break;
        }
        if (n - i < 2 || n - i - 2 < b[i + 1]) return bad(RTC_ERR_TRUNCATED, "SDES", "item overruns the packet");
        i += 2 + (size_t)b[i + 1];
    }
    *pos = i;
    return RTC_OK;
}

static int parse_sdes(const uint8_t *b, size_t n, const rtc_rtcp_header_t *h, rtc_rtcp_sdes_t *s) {
    size_t pos = 0;
    for (unsigned c = 0; c < h->count; c++) {
        int r = sdes_chunk(b, n, &pos);
        if (r < 0) return r;
    }
    s->chunk_count = h->count;
    s->chunks = b;
    s->chunks_len = pos;
    return RTC_OK;
}

void rtc_rtcp_sdes_iter_init(rtc_rtcp_sdes_iter_t *it, const rtc_rtcp_sdes_t *s) {
    it->p = s->chunks;
    it->n = s->chunks_len;
    it->pos = 0;
    it->ssrc = 0;
    it->in_chunk = false;
    it->chunks_left = s->chunk_count;
}

int rtc_rtcp_sdes_next(rtc_rtcp_sdes_iter_t *it, rtc_rtcp_sdes_item_t *item) {
    for (;;) {
        if (!it->in_chunk) {
            if (it->chunks_left == 0) return 0;
            if (it->n - it->pos < 4) return RTC_ERR_MALFORMED;
            it->ssrc = rtc_be32(it->p + it->pos);
            it->pos += 4;
            it->in_chunk = true;
            it->chunks_left--;
        }
        if (it->pos >= it->n) return RTC_ERR_MALFORMED;
        uint8_t type = it->p[it->pos];
        if (type == RTC_RTCP_SDES_END) {
            it->pos = (it->pos + 4) & ~(size_t)3;
            if (it->pos > it->n) return RTC_ERR_MALFORMED;
            it->in_chunk = false;
            continue;
        }
        if (it->n - it->pos < 2 || it->n - it->pos - 2 < it->p[it->pos + 1]) return RTC_ERR_MALFORMED;
        item->ssrc = it->ssrc;
        item->type = type;
        item->len = it->p[it->pos + 1];
        item->data = it->p + it->pos + 2;
        it->pos += 2 + (size_t)item->len;
        return 1;
    }
}

static int parse_bye(const uint8_t *b, size_t n, const rtc_rtcp_header_t *h, rtc_rtcp_bye_t *y) {
    size_t need = (size_t)h->count * 4;
    if (n < need) return bad(RTC_ERR_TRUNCATED, "BYE", "SSRC list exceeds the length");
    y->count = h->count;
    for (unsigned i = 0; i < h->count; i++) y->ssrcs[i] = rtc_be32(b + i * 4);
    y->reason = NULL;
    y->reason_len = 0;
    if (n > need) {
        uint8_t rl = b[need];
        if (n - need - 1 < rl) return bad(RTC_ERR_TRUNCATED, "BYE", "reason overruns the packet");
        y->reason = b + need + 1;
        y->reason_len = rl;
    }
    return RTC_OK;
}

static int parse_app(const uint8_t *b, size_t n, const rtc_rtcp_header_t *h, rtc_rtcp_app_t *a) {
    if (n < 8) return bad(RTC_ERR_TRUNCATED, "APP", "no SSRC and name");
    a->subtype = h->count;
    a->ssrc = rtc_be32(b);
    memcpy(a->name, b + 4, 4);
    a->data = n > 8 ? b + 8 : NULL;
    a->data_len = n - 8;
    return RTC_OK;
}

/* Symbols carried by one status chunk, and how many delta bytes they need, limited to
 * `want` statuses. */
static size_t chunk_statuses(uint16_t c, size_t want, size_t *delta_bytes) {
    static const uint8_t sz[4] = {0, 1, 2, 0};
    size_t k = 0;
    if (!(c & 0x8000)) {
        size_t run = c & 0x1fff;
        k = run < want ? run : want;
        *delta_bytes += k * sz[(c >> 13) & 3];
    } else if (!(c & 0x4000)) {
        k = want < 14 ? want : 14;
        for (size_t i = 0; i < k; i++) *delta_bytes += (c >> (13 - i)) & 1;
    } else {
        k = want < 7 ? want : 7;
        for (size_t i = 0; i < k; i++) *delta_bytes += sz[(c >> (2 * (6 - i))) & 3];
    }
    return k;
}

static int parse_twcc(const uint8_t *b, size_t n, rtc_rtcp_twcc_t *t) {
    if (n < 16) return bad(RTC_ERR_TRUNCATED, "TWCC", "shorter than its fixed fields");
    t->sender_ssrc = rtc_be32(b);
    t->media_ssrc = rtc_be32(b + 4);
    t->base_seq = rtc_be16(b + 8);
    t->status_count = rtc_be16(b + 10);
    uint32_t rt = rtc_be24(b + 12);
    t->ref_time = (rt & 0x800000) ? (int32_t)rt - 0x1000000 : (int32_t)rt;
    t->fb_count = b[15];
    size_t pos = 16, have = 0, delta_bytes = 0, chunks = 0;
    while (have < t->status_count) {
        if (n - pos < 2) return bad(RTC_ERR_TRUNCATED, "TWCC", "status chunks end before status count");
        have += chunk_statuses(rtc_be16(b + pos), t->status_count - have, &delta_bytes);
        pos += 2;
        chunks++;
    }
    if (n - pos < delta_bytes) return bad(RTC_ERR_TRUNCATED, "TWCC", "receive deltas cut");
    t->chunks = b + 16;
    t->chunk_count = chunks;
    t->deltas = b + pos;
    t->deltas_len = delta_bytes;
    return RTC_OK;
}

void rtc_rtcp_twcc_iter_init(rtc_rtcp_twcc_iter_t *it, const rtc_rtcp_twcc_t *fb) {
    memset(it, 0, sizeof *it);
    it->fb = fb;
    it->time_us = (int64_t)fb->ref_time * RTC_RTCP_TWCC_REF_TIME_US;
}

int rtc_rtcp_twcc_next(rtc_rtcp_twcc_iter_t *it, rtc_rtcp_twcc_packet_t *out) {
    const rtc_rtcp_twcc_t *fb = it->fb;
    if (it->index >= fb->status_count) return 0;
    while (it->in_chunk >= it->cap) { /* load the next chunk (runs of 0 are skipped) */
        if (it->chunk >= fb->chunk_count) return 0;
        uint16_t c = rtc_be16(fb->chunks + 2 * it->chunk++);
        it->cur = c;
        it->cap = !(c & 0x8000) ? (size_t)(c & 0x1fff) : !(c & 0x4000) ? 14 : 7;
        it->in_chunk = 0;
    }
    uint16_t c = it->cur;
    uint8_t sym;
    if (!(c & 0x8000)) sym = (c >> 13) & 3;
    else if (!(c & 0x4000)) sym = (c >> (13 - it->in_chunk)) & 1;
    else sym = (c >> (2 * (6 - it->in_chunk))) & 3;
    it->in_chunk++;
    out->seq = (uint16_t)(fb->base_seq + it->index);
    out->status = sym;
    out->arrival_us = -1;
    if (sym == RTC_RTCP_TWCC_SMALL_DELTA) {
        if (it->delta_pos + 1 > fb->deltas_len) return RTC_ERR_MALFORMED;
        it->time_us += (int64_t)fb->deltas[it->delta_pos] * RTC_RTCP_TWCC_DELTA_US;
        it->delta_pos += 1;
        out->arrival_us = it->time_us;
    } else if (sym == RTC_RTCP_TWCC_LARGE_DELTA) {
        if (it->delta_pos + 2 > fb->deltas_len) return RTC_ERR_MALFORMED;
        it->time_us += (int64_t)(int16_t)rtc_be16(fb->deltas + it->delta_pos) * RTC_RTCP_TWCC_DELTA_US;
        it->delta_pos += 2;
        out->arrival_us = it->time_us;
    }
    it->index++;
    return 1;
}

static int parse_remb(const uint8_t *b, size_t n, rtc_rtcp_remb_t *r) {
    /* b: sender SSRC, media SSRC (0), "REMB", num, exp|mantissa, ssrcs. */
    r->sender_ssrc = rtc_be32(b);
    r->num_ssrc = b[12];
    uint8_t exp = b[13] >> 2;
    uint64_t mantissa = ((uint64_t)(b[13] & 3) << 16) | rtc_be16(b + 14);
    if (exp > 46 && (mantissa >> (64 - exp)) != 0) return bad(RTC_ERR_MALFORMED, "REMB", "bitrate does not fit 64 bits");
    r->bitrate = mantissa << exp;
    if (n - 16 < (size_t)r->num_ssrc * 4) return bad(RTC_ERR_TRUNCATED, "REMB", "SSRC list exceeds the length");
    r->ssrcs = b + 16;
    return RTC_OK;
}

int rtc_rtcp_parse(const uint8_t *p, size_t n, rtc_rtcp_packet_t *out) {
    if (!p || !out) return RTC_ERR_INVALID_ARG;
    rtc_rtcp_header_t h;
    int r = rtc_rtcp_header_parse(p, n, &h);
    if (r < 0) return r;
    size_t size = ((size_t)h.length + 1) * 4;
    const uint8_t *b = p + 4;
    size_t bn = size - 4;
    if (h.padding) {
        uint8_t pad = p[size - 1];
        if (pad == 0) return bad(RTC_ERR_MALFORMED, "packet", "padding bit set but padding count is zero");
        if (pad > bn) return bad(RTC_ERR_MALFORMED, "packet", "padding longer than the packet");
        bn -= pad;
    }
    /* No memset of the whole struct (it holds 31 report blocks): each parser fills every
     * field of its own union member, and callers read only the member of out->kind. */
    out->hdr = h;
    out->raw = p;
    out->raw_len = size;
    out->kind = RTC_RTCP_KIND_UNKNOWN;
    switch (h.type) {
    case RTC_RTCP_SR:
        out->kind = RTC_RTCP_KIND_SR;
        r = parse_report(b, bn, &h, true, &out->u.report);
        break;
    case RTC_RTCP_RR:
        out->kind = RTC_RTCP_KIND_RR;
        r = parse_report(b, bn, &h, false, &out->u.report);
        break;
    case RTC_RTCP_SDES:
        out->kind = RTC_RTCP_KIND_SDES;
        r = parse_sdes(b, bn, &h, &out->u.sdes);
        break;
    case RTC_RTCP_BYE:
        out->kind = RTC_RTCP_KIND_BYE;
        r = parse_bye(b, bn, &h, &out->u.bye);
        break;
    case RTC_RTCP_APP:
        out->kind = RTC_RTCP_KIND_APP;
        r = parse_app(b, bn, &h, &out->u.app);
        break;
    case RTC_RTCP_RTPFB:
        if (bn < 8) { r = bad(RTC_ERR_TRUNCATED, "RTPFB", "no sender and media SSRC"); break; }
        if (h.count == RTC_RTCP_FMT_NACK) {
            out->kind = RTC_RTCP_KIND_NACK;
            if (bn < 12) { r = bad(RTC_ERR_TRUNCATED, "NACK", "no FCI entry"); break; }
            if ((bn - 8) % 4) { r = bad(RTC_ERR_MALFORMED, "NACK", "FCI not a multiple of 4 bytes"); break; }
            out->u.nack.sender_ssrc = rtc_be32(b);
            out->u.nack.media_ssrc = rtc_be32(b + 4);
            out->u.nack.items = b + 8;
            out->u.nack.count = (bn - 8) / 4;
        } else if (h.count == RTC_RTCP_FMT_TWCC) {
            out->kind = RTC_RTCP_KIND_TWCC;
            r = parse_twcc(b, bn, &out->u.twcc);
        }
        break;
    case RTC_RTCP_PSFB:
        if (bn < 8) { r = bad(RTC_ERR_TRUNCATED, "PSFB", "no sender and media SSRC"); break; }
        if (h.count == RTC_RTCP_FMT_PLI) {
            out->kind = RTC_RTCP_KIND_PLI;
            out->u.pli.sender_ssrc = rtc_be32(b);
            out->u.pli.media_ssrc = rtc_be32(b + 4);
        } else if (h.count == RTC_RTCP_FMT_FIR) {
            out->kind = RTC_RTCP_KIND_FIR;
            if (bn < 16) { r = bad(RTC_ERR_TRUNCATED, "FIR", "no FCI entry"); break; }
            if ((bn - 8) % 8) { r = bad(RTC_ERR_MALFORMED, "FIR", "FCI not a multiple of 8 bytes"); break; }
            out->u.fir.sender_ssrc = rtc_be32(b);
            out->u.fir.media_ssrc = rtc_be32(b + 4);
            out->u.fir.entries = b + 8;
            out->u.fir.count = (bn - 8) / 8;
        } else if (h.count == RTC_RTCP_FMT_AFB && bn >= 16 && memcmp(b + 8, "REMB", 4) == 0) {
            out->kind = RTC_RTCP_KIND_REMB;
            r = parse_remb(b, bn, &out->u.remb);
        }
        break;
    default:
        break;
    }
    if (r < 0) return r;
    return (int)size;
}

void rtc_rtcp_iter_init(rtc_rtcp_iter_t *it, const uint8_t *p, size_t n) {
    it->p = p;
    it->n = p ? n : 0;
    it->pos = 0;
    it->index = 0;
    it->err = 0;
}

int rtc_rtcp_iter_next(rtc_rtcp_iter_t *it, rtc_rtcp_packet_t *out) {
    if (it->err) return it->err;
    if (it->pos == it->n) return 0;
    int r = rtc_rtcp_parse(it->p + it->pos, it->n - it->pos, out);
    if (r < 0) {
        it->err = r; /* sticky: later calls repeat the error */
        return r;
    }
    it->pos += (size_t)r;
    it->index++;
    return 1;
}

int rtc_rtcp_validate(const uint8_t *p, size_t n, bool reduced_size) {
    if (!p) return RTC_ERR_INVALID_ARG;
    if (n == 0) return bad(RTC_ERR_TRUNCATED, "compound", "empty");
    rtc_rtcp_iter_t it;
    rtc_rtcp_packet_t pkt;
    rtc_rtcp_iter_init(&it, p, n);
    int count = 0, r;
    while ((r = rtc_rtcp_iter_next(&it, &pkt)) == 1) {
        if (count == 0 && !reduced_size && pkt.kind != RTC_RTCP_KIND_SR && pkt.kind != RTC_RTCP_KIND_RR)
            return bad(RTC_ERR_MALFORMED, "compound", "first packet is neither SR nor RR");
        if (pkt.hdr.padding && it.pos != n)
            return bad(RTC_ERR_MALFORMED, "compound", "padding on a packet that is not the last");
        count++;
    }
    return r < 0 ? r : count;
}

size_t rtc_rtcp_nack_seqs(const rtc_rtcp_nack_t *nk, uint16_t *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < nk->count; i++) {
        uint16_t pid = rtc_be16(nk->items + 4 * i);
        uint16_t blp = rtc_be16(nk->items + 4 * i + 2);
        if (k < cap) out[k++] = pid;
        for (unsigned bit = 0; bit < 16; bit++)
            if ((blp >> bit) & 1) {
                if (k < cap) out[k++] = (uint16_t)(pid + bit + 1);
            }
    }
    return k;
}

rtc_rtcp_fir_entry_t rtc_rtcp_fir_entry(const rtc_rtcp_fir_t *f, size_t i) {
    rtc_rtcp_fir_entry_t e = {0, 0};
    if (i < f->count) {
        e.ssrc = rtc_be32(f->entries + 8 * i);
        e.seq = f->entries[8 * i + 4];
    }
    return e;
}

uint32_t rtc_rtcp_remb_ssrc(const rtc_rtcp_remb_t *r, size_t i) {
    return i < r->num_ssrc ? rtc_be32(r->ssrcs + 4 * i) : 0;
}
