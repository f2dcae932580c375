/* The forwarding path: publisher packets to rewritten subscriber streams (see forward.h). */
#include "sfu/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/base.h"
#include "rtc/rtp.h"

struct sfu_downtrack {
    sfu_fwd_track_t *t;
    void *user;
    size_t index;            /* position in t->dts */
    sfu_rewriter_t rw;
    sfu_vp8_munger_t vp8;
    int current;             /* layer forwarded now, -1 none */
    int target;              /* layer wanted, -1 none */
    int reported;            /* last layer given to layer_switched */
    uint32_t ssrc;           /* the subscriber stream's SSRC */
    void *media;
    bool pref_paused;
    uint16_t max_w, max_h;
    sfu_layer_hyst_t hyst;
    sfu_rate_t rate;
    uint64_t packets, bytes, dropped_dup, dropped_old;
};

struct sfu_fwd_track {
    sfu_fwd_track_config_t cfg;
    sfu_fwd_callbacks_t cb;
    void *user;
    bool muted;
    sfu_fwd_layer_t layers[SFU_MAX_LAYERS];
    sfu_downtrack_t **dts;
    size_t n_dts;
    uint8_t scratch[SFU_FWD_MAX_PACKET];
};

sfu_fwd_track_t *sfu_fwd_track_new(const sfu_fwd_track_config_t *cfg,
                                   const sfu_fwd_callbacks_t *cb, void *user) {
    if (!cfg || !cb || !cb->send_rtp) return NULL;
    if (cfg->n_layers < 1 || cfg->n_layers > SFU_MAX_LAYERS) return NULL;
    if (!cfg->video && cfg->n_layers != 1) return NULL;
    if (cfg->max_downtracks == 0) return NULL;
    sfu_fwd_track_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->dts = calloc(cfg->max_downtracks, sizeof *t->dts);
    if (!t->dts) {
        free(t);
        return NULL;
    }
    t->cfg = *cfg;
    if (!t->cfg.clock_rate) t->cfg.clock_rate = cfg->video ? 90000 : 48000;
    t->cb = *cb;
    t->user = user;
    for (size_t i = 0; i < SFU_MAX_LAYERS; i++) {
        sfu_rate_init(&t->layers[i].rate);
        t->layers[i].last_packet = RTC_TIME_NEVER;
        sfu_keyreq_init(&t->layers[i].keyreq, cfg->keyframe_interval);
    }
    return t;
}

void sfu_fwd_track_free(sfu_fwd_track_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_dts; i++) free(t->dts[i]);
    free(t->dts);
    free(t);
}

void sfu_fwd_track_set_muted(sfu_fwd_track_t *t, bool muted) {
    if (t->muted == muted) return;
    t->muted = muted;
    /* Resume at a keyframe (video) or the next packet (audio) after unmute. */
    for (size_t i = 0; i < t->n_dts; i++) t->dts[i]->current = -1;
}

bool sfu_fwd_track_muted(const sfu_fwd_track_t *t) { return t->muted; }
size_t sfu_fwd_track_layer_count(const sfu_fwd_track_t *t) { return t->cfg.n_layers; }
size_t sfu_fwd_track_downtrack_count(const sfu_fwd_track_t *t) { return t->n_dts; }
bool sfu_fwd_track_is_video(const sfu_fwd_track_t *t) { return t->cfg.video; }
void *sfu_fwd_track_user(const sfu_fwd_track_t *t) { return t->user; }

const sfu_fwd_layer_t *sfu_fwd_track_layer(const sfu_fwd_track_t *t, int layer) {
    if (layer < 0 || (size_t)layer >= t->cfg.n_layers) return NULL;
    return &t->layers[layer];
}

static void want_keyframe(sfu_fwd_track_t *t, int layer, rtc_time_t now) {
    if (!t->cfg.video || layer < 0 || (size_t)layer >= t->cfg.n_layers) return;
    if (sfu_keyreq_want(&t->layers[layer].keyreq, now) && t->cb.request_keyframe)
        t->cb.request_keyframe(t->user, t, layer, now);
}

static void report_layer(sfu_downtrack_t *dt, rtc_time_t now) {
    if (dt->reported == dt->current) return;
    dt->reported = dt->current;
    if (dt->t->cb.layer_switched) dt->t->cb.layer_switched(dt->user, dt, dt->current, now);
}

int sfu_fwd_track_on_rtp(sfu_fwd_track_t *t, int layer, sfu_codec_t codec, const uint8_t *pkt,
                         size_t n, rtc_time_t now) {
    if (layer < 0 || (size_t)layer >= t->cfg.n_layers) return RTC_ERR_INVALID_ARG;
    rtc_rtp_header_t h;
    int rc = rtc_rtp_header_parse(pkt, n, &h);
    if (rc < 0) return rc;
    if (n > sizeof t->scratch) return RTC_ERR_OVERFLOW;
    sfu_fwd_layer_t *L = &t->layers[layer];
    /* The layer's rate is what its encoder produces. A packet not newer than the newest seen
     * is a retransmission, or a browser's bandwidth probe sent as RTX copies of old packets
     * (Chromium pads that way, on one layer: it made a 150 kbit/s layer measure 400): the
     * allocator must not take that for the layer's cost. A new SSRC starts afresh. */
    bool repeat = L->packets && L->ssrc == h.ssrc && (int16_t)(uint16_t)(h.seq - L->max_seq) <= 0;
    if (repeat) L->repeats++;
    else L->max_seq = h.seq;
    L->ssrc = h.ssrc;
    L->packets++;
    if (!repeat) {
        L->last_packet = now;
        sfu_rate_add(&L->rate, n, now);
    }

    sfu_video_info_t vi = {0};
    if (t->cfg.video) {
        if (h.payload_len && sfu_video_inspect(codec, pkt + h.header_len, h.payload_len, &vi) < 0)
            memset(&vi, 0, sizeof vi);
        if (vi.keyframe) {
            L->keyframes++;
            sfu_keyreq_on_keyframe(&L->keyreq, now);
            if (vi.width && vi.height) {
                L->width = vi.width;
                L->height = vi.height;
            }
        }
    } else if (t->cfg.audio_level_ext && t->cb.audio_level) {
        const rtc_rtp_ext_t *e = rtc_rtp_header_find_ext(&h, t->cfg.audio_level_ext);
        bool voice;
        uint8_t level;
        if (e && rtc_rtp_ext_parse_audio_level(e, &voice, &level) == RTC_OK)
            t->cb.audio_level(t->user, t, level, voice, now);
    }
    if (t->muted) return 0;

    bool padding_only = h.payload_len == 0;
    unsigned want = 0; /* layers some downtrack waits a keyframe of */
    int sent = 0;
    for (size_t i = 0; i < t->n_dts; i++) {
        sfu_downtrack_t *dt = t->dts[i];
        if (dt->target < 0) continue;
        if (t->cfg.video && dt->current != dt->target) want |= 1u << dt->target;
        bool resync = false;
        if (layer != dt->current) {
            if (layer != dt->target || padding_only) continue;
            if (t->cfg.video && !vi.keyframe) continue;
            resync = true;
        } else if (padding_only && sfu_rewriter_skip(&dt->rw, h.ssrc, h.seq) == RTC_OK) {
            continue; /* a probe: not for the subscriber, and no gap left */
        }
        uint16_t os;
        uint32_t ot;
        sfu_rw_result_t r = sfu_rewriter_map(&dt->rw, h.ssrc, h.seq, h.timestamp, resync, now, &os, &ot);
        if (r != SFU_RW_FORWARD) {
            if (r == SFU_RW_DROP_DUP) dt->dropped_dup++;
            else dt->dropped_old++;
            continue;
        }
        if (resync) {
            dt->current = layer;
            report_layer(dt, now);
        }
        uint8_t *out = t->scratch;
        memcpy(out, pkt, n);
        rtc_rtp_set_seq(out, n, os);
        rtc_rtp_set_timestamp(out, n, ot);
        rtc_rtp_set_ssrc(out, n, dt->ssrc);
        if (codec == SFU_CODEC_VP8 && h.payload_len)
            (void)sfu_vp8_munger_rewrite(&dt->vp8, h.ssrc, resync, out + h.header_len,
                                         h.payload_len);
        t->cb.send_rtp(dt->user, dt, out, n, now);
        dt->packets++;
        dt->bytes += n;
        sfu_rate_add(&dt->rate, n, now);
        sent++;
    }
    /* Recompute after the loop: a switch above may have satisfied the wait. */
    if (want) {
        for (size_t i = 0; i < t->cfg.n_layers; i++) {
            if (!(want & (1u << i))) continue;
            bool still = false;
            for (size_t k = 0; k < t->n_dts && !still; k++)
                still = t->dts[k]->target == (int)i && t->dts[k]->current != (int)i;
            if (still) want_keyframe(t, (int)i, now);
        }
    }
    return sent;
}

static int cmp_layers(const sfu_layer_state_t *a, int ia, const sfu_layer_state_t *b, int ib) {
    uint32_t aa = (uint32_t)a->width * a->height, ab = (uint32_t)b->width * b->height;
    if (aa && ab && aa != ab) return aa < ab ? -1 : 1;
    if (a->bitrate_bps && b->bitrate_bps && a->bitrate_bps != b->bitrate_bps)
        return a->bitrate_bps < b->bitrate_bps ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

size_t sfu_fwd_track_layer_states(sfu_fwd_track_t *t, rtc_time_t now, sfu_layer_state_t *out,
                                  int *order) {
    size_t n = t->cfg.n_layers;
    sfu_layer_state_t s[SFU_MAX_LAYERS];
    for (size_t i = 0; i < n; i++) {
        sfu_fwd_layer_t *L = &t->layers[i];
        s[i].active = L->last_packet != RTC_TIME_NEVER && now - L->last_packet < SFU_LAYER_ACTIVE_US;
        s[i].bitrate_bps = sfu_rate_bps(&L->rate, now);
        s[i].width = L->width;
        s[i].height = L->height;
        order[i] = (int)i;
    }
    /* Insertion sort of at most three. */
    for (size_t i = 1; i < n; i++) {
        int v = order[i];
        size_t j = i;
        while (j > 0 && cmp_layers(&s[v], v, &s[order[j - 1]], order[j - 1]) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (size_t i = 0; i < n; i++) out[i] = s[order[i]];
    return n;
}

/* ------------------------------------------------------------------------------------------
 * Downtracks.
 */
sfu_downtrack_t *sfu_downtrack_new(sfu_fwd_track_t *t, void *user) {
    if (t->n_dts >= t->cfg.max_downtracks) return NULL;
    sfu_downtrack_t *dt = calloc(1, sizeof *dt);
    if (!dt) return NULL;
    dt->t = t;
    dt->user = user;
    sfu_rewriter_init(&dt->rw, t->cfg.clock_rate, (uint16_t)rtc_random_u32(), rtc_random_u32());
    sfu_vp8_munger_init(&dt->vp8);
    dt->current = -1;
    dt->reported = -1;
    dt->ssrc = rtc_random_u32();
    dt->target = (int)t->cfg.n_layers - 1;
    sfu_layer_hyst_init(&dt->hyst, RTC_SEC(2));
    sfu_rate_init(&dt->rate);
    dt->index = t->n_dts;
    t->dts[t->n_dts++] = dt;
    return dt;
}

void sfu_downtrack_free(sfu_downtrack_t *dt) {
    if (!dt) return;
    sfu_fwd_track_t *t = dt->t;
    size_t last = t->n_dts - 1;
    if (dt->index != last) {
        t->dts[dt->index] = t->dts[last];
        t->dts[dt->index]->index = dt->index;
    }
    t->dts[last] = NULL;
    t->n_dts--;
    free(dt);
}

sfu_fwd_track_t *sfu_downtrack_track(const sfu_downtrack_t *dt) { return dt->t; }
void *sfu_downtrack_user(const sfu_downtrack_t *dt) { return dt->user; }
void sfu_downtrack_set_media(sfu_downtrack_t *dt, void *m) { dt->media = m; }
void *sfu_downtrack_media(const sfu_downtrack_t *dt) { return dt->media; }
int sfu_downtrack_current(const sfu_downtrack_t *dt) { return dt->current; }
void sfu_downtrack_set_ssrc(sfu_downtrack_t *dt, uint32_t ssrc) { dt->ssrc = ssrc; }
uint32_t sfu_downtrack_ssrc(const sfu_downtrack_t *dt) { return dt->ssrc; }
int sfu_downtrack_target(const sfu_downtrack_t *dt) { return dt->target; }

void sfu_downtrack_set_preference(sfu_downtrack_t *dt, uint16_t max_width, uint16_t max_height,
                                  bool paused) {
    dt->max_w = max_width;
    dt->max_h = max_height;
    dt->pref_paused = paused;
}

void sfu_downtrack_set_target(sfu_downtrack_t *dt, int layer, rtc_time_t now) {
    if (layer >= (int)dt->t->cfg.n_layers) layer = (int)dt->t->cfg.n_layers - 1;
    if (layer < -1) layer = -1;
    if (layer == dt->target) return;
    dt->target = layer;
    if (layer < 0) {
        dt->current = -1;
        report_layer(dt, now);
        return;
    }
    if (dt->current != layer) want_keyframe(dt->t, layer, now);
}

void sfu_downtrack_restart(sfu_downtrack_t *dt, rtc_time_t now) {
    if (dt->current < 0) return;
    dt->current = -1;
    if (dt->target >= 0) want_keyframe(dt->t, dt->target, now);
}

void sfu_downtrack_request_keyframe(sfu_downtrack_t *dt, rtc_time_t now) {
    want_keyframe(dt->t, dt->current >= 0 ? dt->current : dt->target, now);
}

void sfu_downtrack_stats(sfu_downtrack_t *dt, rtc_time_t now, sfu_downtrack_stats_t *out) {
    out->packets = dt->packets;
    out->bytes = dt->bytes;
    out->switches = dt->rw.switches;
    out->dropped_dup = dt->dropped_dup;
    out->dropped_old = dt->dropped_old;
    out->bitrate_bps = sfu_rate_bps(&dt->rate, now);
}

/* ------------------------------------------------------------------------------------------
 * Allocation.
 */
#define ALLOC_MAX 64

/* Debug level: one line per allocation, what it had to work with and what it chose (the
 * measured rate of every layer, in kbit/s), so a test log tells why a layer was kept. */
static void log_allocation(const sfu_alloc_track_t *tr, size_t m, uint64_t budget, uint64_t audio,
                           uint64_t wanted) {
    char buf[512] = "";
    for (size_t i = 0; i < m; i++) {
        char one[96];
        int len = snprintf(one, sizeof one, "%s[", i ? " " : "");
        for (size_t k = 0; k < tr[i].n_layers && len > 0 && (size_t)len < sizeof one; k++)
            len += snprintf(one + len, sizeof one - (size_t)len, "%s%llu%s", k ? "/" : "",
                            (unsigned long long)(tr[i].layers[k].bitrate_bps / 1000),
                            tr[i].layers[k].active ? "" : "-");
        if (len > 0 && (size_t)len < sizeof one)
            snprintf(one + len, sizeof one - (size_t)len, " cap %d: %d->%d]", tr[i].max_layer,
                     tr[i].current, tr[i].target);
        strncat(buf, one, sizeof buf - strlen(buf) - 1);
    }
    RTC_LOGD("sfu", "allocation: budget %llu kbit/s (audio %llu, wanted %llu): %s",
             (unsigned long long)(budget / 1000), (unsigned long long)(audio / 1000),
             (unsigned long long)(wanted / 1000), buf);
}

uint64_t sfu_fwd_allocate(sfu_downtrack_t *const *dts, const uint32_t *priority, size_t n,
                          uint64_t budget_bps, rtc_time_t upgrade_hold, rtc_time_t now) {
    uint64_t audio = 0;
    for (size_t i = 0; i < n; i++) {
        sfu_downtrack_t *dt = dts[i];
        if (dt->t->cfg.video) continue;
        sfu_downtrack_set_target(dt, dt->pref_paused ? -1 : 0, now);
        if (!dt->pref_paused) audio += sfu_rate_bps(&dt->t->layers[0].rate, now);
    }
    uint64_t budget = budget_bps > audio ? budget_bps - audio : 0;

    sfu_layer_state_t states[ALLOC_MAX][SFU_MAX_LAYERS];
    int order[ALLOC_MAX][SFU_MAX_LAYERS];
    sfu_alloc_track_t tr[ALLOC_MAX];
    sfu_downtrack_t *which[ALLOC_MAX];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        sfu_downtrack_t *dt = dts[i];
        if (!dt->t->cfg.video) continue;
        if (m == ALLOC_MAX) { /* past the cap: the lowest layer, no questions */
            sfu_downtrack_set_target(dt, dt->pref_paused ? -1 : 0, now);
            continue;
        }
        size_t cnt = sfu_fwd_track_layer_states(dt->t, now, states[m], order[m]);
        int cur = -1;
        for (size_t k = 0; k < cnt; k++)
            if (order[m][k] == dt->current) cur = (int)k;
        tr[m] = (sfu_alloc_track_t){states[m], cnt,
                                    sfu_layer_cap(states[m], cnt, dt->max_w, dt->max_h, dt->pref_paused),
                                    cur, priority ? priority[i] : 0, -1};
        which[m++] = dt;
    }
    /* What an unlimited budget would buy: the floor (every track's lowest layer) plus the
     * upgrades with their headroom. */
    sfu_alloc_track_t want[ALLOC_MAX];
    memcpy(want, tr, m * sizeof *tr);
    uint64_t floor_bps = sfu_alloc(want, m, 0);
    uint64_t top_bps = sfu_alloc(want, m, UINT64_MAX / 4);
    uint64_t wanted = audio + top_bps + (top_bps - floor_bps) * 15 / 100;
    sfu_alloc(tr, m, budget);
    if (RTC_LOG_ENABLED(RTC_LOG_DEBUG)) log_allocation(tr, m, budget_bps, audio, wanted);
    for (size_t i = 0; i < m; i++) {
        sfu_downtrack_t *dt = which[i];
        dt->hyst.upgrade_hold = upgrade_hold;
        /* The hysteresis works on positions low..high; its "current" follows the layer
         * actually decided last time. */
        int logical = sfu_layer_hyst_update(&dt->hyst, tr[i].target, now);
        sfu_downtrack_set_target(dt, logical < 0 ? -1 : order[i][logical], now);
    }
    return wanted;
}
