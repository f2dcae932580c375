/* Sequence number / timestamp / VP8 picture ID rewriting across source switches. */
#include "sfu/rewriter.h"

#define WINDOW_BITS 64

void sfu_rewriter_init(sfu_rewriter_t *r, uint32_t clock_rate, uint16_t first_seq,
                       uint32_t first_ts) {
    memset(r, 0, sizeof *r);
    r->clock_rate = clock_rate ? clock_rate : 90000;
    r->out_seq_next = first_seq;
    r->out_ts_last = first_ts;
}

/* The unwrapped value of seq nearest to ref. */
static int64_t unwrap_near(int64_t ref, uint16_t seq) {
    int64_t base = ref & ~(int64_t)0xffff;
    int64_t v = base | seq;
    if (v - ref > 0x8000) v -= 0x10000;
    else if (ref - v > 0x8000) v += 0x10000;
    return v;
}

static void start_source(sfu_rewriter_t *r, uint32_t ssrc, uint16_t seq, uint32_t ts,
                         rtc_time_t now) {
    uint32_t out_ts = r->out_ts_last;
    if (r->started) {
        /* Advance by the time that passed since the last packet went out, so the receiver's
         * playout keeps pace with the wall clock; never by 0, which would put two frames on
         * one timestamp. */
        int64_t dt = now - r->out_time_last;
        if (dt < 0) dt = 0;
        uint64_t ticks = (uint64_t)dt * r->clock_rate / RTC_US_PER_SEC;
        if (ticks < 1) ticks = 1;
        out_ts = r->out_ts_last + (uint32_t)ticks;
    }
    r->have_source = true;
    r->src_ssrc = ssrc;
    r->src_highest = 0x10000 + seq; /* room below for reordered packets */
    r->src_first = r->src_highest;
    r->src_barrier = r->src_highest;
    r->window = 0;
    r->seq_offset = (uint16_t)(seq - r->out_seq_next);
    r->ts_offset = ts - out_ts;
    if (r->started) r->switches++;
}

sfu_rw_result_t sfu_rewriter_map(sfu_rewriter_t *r, uint32_t ssrc, uint16_t seq, uint32_t ts,
                                 bool resync, rtc_time_t now, uint16_t *out_seq,
                                 uint32_t *out_ts) {
    if (resync || !r->have_source) {
        if (!resync && !r->have_source) return SFU_RW_DROP_SOURCE;
        start_source(r, ssrc, seq, ts, now);
    } else if (ssrc != r->src_ssrc) {
        return SFU_RW_DROP_SOURCE;
    }
    int64_t ext = unwrap_near(r->src_highest, seq);
    bool newest = false;
    if (ext > r->src_highest || r->window == 0) {
        int64_t shift = ext - r->src_highest;
        r->window = shift >= WINDOW_BITS ? 0 : r->window << shift;
        r->window |= 1;
        r->src_highest = ext;
        newest = true;
    } else {
        if (ext < r->src_first || ext < r->src_barrier) return SFU_RW_DROP_OLD;
        int64_t d = r->src_highest - ext;
        if (d >= WINDOW_BITS) return SFU_RW_DROP_OLD;
        uint64_t bit = (uint64_t)1 << d;
        if (r->window & bit) return SFU_RW_DROP_DUP;
        r->window |= bit;
    }
    uint16_t os = (uint16_t)(seq - r->seq_offset);
    uint32_t ot = ts - r->ts_offset;
    if (newest) {
        r->out_seq_next = (uint16_t)(os + 1);
        r->out_ts_last = ot;
        r->out_time_last = now;
    }
    r->started = true;
    *out_seq = os;
    *out_ts = ot;
    return SFU_RW_FORWARD;
}

int sfu_rewriter_skip(sfu_rewriter_t *r, uint32_t ssrc, uint16_t seq) {
    if (!r->have_source || ssrc != r->src_ssrc) return RTC_ERR_NOT_FOUND;
    int64_t ext = unwrap_near(r->src_highest, seq);
    if (ext != r->src_highest + 1) return RTC_ERR_STATE;
    r->window = (r->window << 1) | 1;
    r->src_highest = ext;
    /* Every later packet moves down by one; earlier ones would now map onto numbers already
     * used, so the barrier refuses them. */
    r->seq_offset++;
    r->src_barrier = ext;
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * VP8.
 */
void sfu_vp8_munger_init(sfu_vp8_munger_t *m) {
    memset(m, 0, sizeof *m);
    m->src_pid_highest = -1;
}

int sfu_vp8_munger_rewrite(sfu_vp8_munger_t *m, uint32_t ssrc, bool resync, uint8_t *p,
                           size_t n) {
    sfu_vp8_desc_t d;
    int rc = sfu_vp8_desc_parse(p, n, &d);
    if (rc < 0) return rc;
    if (!d.has_picture_id) return RTC_OK;
    uint16_t mask = d.picture_id_15 ? 0x7fff : 0x7f;
    if (resync || !m->have_source || ssrc != m->src_ssrc || d.picture_id_15 != m->src_pid_15) {
        uint16_t pid_out = m->started ? (uint16_t)((m->out_pid_last + 1) & 0x7fff) : d.picture_id;
        uint8_t tl0_out = m->started ? (uint8_t)(m->out_tl0_last + 1) : d.tl0picidx;
        uint8_t key_out = m->started ? (uint8_t)((m->out_key_last + 1) & 0x1f) : d.keyidx;
        m->have_source = true;
        m->src_ssrc = ssrc;
        m->src_pid_15 = d.picture_id_15;
        m->pid_offset = (uint16_t)((d.picture_id - pid_out) & mask);
        m->tl0_offset = (uint8_t)(d.tl0picidx - tl0_out);
        m->key_offset = (uint8_t)((d.keyidx - key_out) & 0x1f);
        m->src_pid_highest = -1;
    }
    uint16_t pid = (uint16_t)((d.picture_id - m->pid_offset) & mask);
    uint8_t tl0 = (uint8_t)(d.tl0picidx - m->tl0_offset);
    uint8_t key = (uint8_t)((d.keyidx - m->key_offset) & 0x1f);
    sfu_vp8_desc_write(p, &d, pid, tl0, key);
    /* Remember the newest picture (by input order within the ID space) for the next switch. */
    int32_t half = (mask + 1) / 2;
    int32_t diff = m->src_pid_highest < 0 ? 1
                 : (int32_t)((d.picture_id - (uint16_t)m->src_pid_highest) & mask);
    if (m->src_pid_highest < 0 || (diff > 0 && diff < half)) {
        m->src_pid_highest = d.picture_id;
        m->out_pid_last = pid;
        if (d.has_tl0picidx) m->out_tl0_last = tl0;
        if (d.has_keyidx) m->out_key_last = key;
    }
    m->started = true;
    return RTC_OK;
}
