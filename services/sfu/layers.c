/* Bitrate meter, size cap, bandwidth allocation and upgrade hysteresis for simulcast. */
#include "sfu/layers.h"

void sfu_rate_init(sfu_rate_t *r) { memset(r, 0, sizeof *r); }

/* Moves the ring forward to the bucket holding `now`, clearing the buckets skipped. */
static void rate_advance(sfu_rate_t *r, rtc_time_t now) {
    if (!r->started) return;
    int64_t elapsed = now - r->bucket_start;
    if (elapsed < SFU_RATE_BUCKET_US) return;
    int64_t steps = elapsed / SFU_RATE_BUCKET_US;
    if (steps >= SFU_RATE_BUCKETS) {
        memset(r->bytes, 0, sizeof r->bytes);
        r->cur = 0;
    } else {
        for (int64_t i = 0; i < steps; i++) {
            r->cur = (r->cur + 1) % SFU_RATE_BUCKETS;
            r->bytes[r->cur] = 0;
        }
    }
    r->bucket_start += steps * SFU_RATE_BUCKET_US;
}

void sfu_rate_add(sfu_rate_t *r, size_t bytes, rtc_time_t now) {
    if (!r->started) {
        r->started = true;
        r->bucket_start = now;
        r->first = now;
        r->cur = 0;
    }
    rate_advance(r, now);
    r->bytes[r->cur] += (uint32_t)bytes;
    r->last_packet = now;
}

uint64_t sfu_rate_bps(sfu_rate_t *r, rtc_time_t now) {
    if (!r->started) return 0;
    rate_advance(r, now);
    uint64_t sum = 0;
    for (unsigned i = 0; i < SFU_RATE_BUCKETS; i++) sum += r->bytes[i];
    /* The window is the full second, except while the meter is younger than that. The
     * current bucket counts for the part of it that has passed. */
    int64_t window = (int64_t)(SFU_RATE_BUCKETS - 1) * SFU_RATE_BUCKET_US + (now - r->bucket_start);
    if (now - r->first < window) window = now - r->first;
    if (window < SFU_RATE_BUCKET_US) window = SFU_RATE_BUCKET_US;
    return sum * 8 * (uint64_t)RTC_US_PER_SEC / (uint64_t)window;
}

int sfu_layer_cap(const sfu_layer_state_t *layers, size_t n, uint16_t max_width,
                  uint16_t max_height, bool paused) {
    if (paused) return -1;
    if (n == 0) return -1;
    if (!max_width && !max_height) return (int)n - 1;
    for (size_t i = 0; i < n; i++) {
        const sfu_layer_state_t *l = &layers[i];
        /* A layer whose size is not known yet (no keyframe seen: Chromium starts its top
         * layer only once its own estimate allows) is no basis to cap, but the known ones
         * still are: a 320x180 request must not get the 640x360 layer because the 1280x720
         * one has not started. Nothing known covers the box: the top. */
        if (!l->width || !l->height) continue;
        bool w_ok = !max_width || l->width >= max_width;
        bool h_ok = !max_height || l->height >= max_height;
        if (w_ok && h_ok) return (int)i;
    }
    return (int)n - 1;
}

/* What forwarding `layer` costs: its measured rate, but never less than an active layer below
 * it. A one-second meter is noisy (a keyframe, a publisher dropping frames under CPU load): an
 * upper layer measured cheaper than the lowest is not really cheaper, and taking it as such
 * moved a subscriber whose link could not carry even the lowest layers up to the top one. */
static uint64_t cost(const sfu_alloc_track_t *t, int layer) {
    uint64_t c = 0;
    for (int l = 0; l <= layer; l++)
        if (l == layer || t->layers[l].active)
            if (t->layers[l].bitrate_bps > c) c = t->layers[l].bitrate_bps;
    return c;
}

uint64_t sfu_alloc(sfu_alloc_track_t *tracks, size_t n, uint64_t budget_bps) {
    uint64_t used = 0;
    for (size_t i = 0; i < n; i++) {
        sfu_alloc_track_t *t = &tracks[i];
        t->target = -1;
        if (t->max_layer < 0 || t->n_layers == 0) continue;
        int top = t->max_layer < (int)t->n_layers ? t->max_layer : (int)t->n_layers - 1;
        int pick = -1;
        for (int l = 0; l <= top && pick < 0; l++)
            if (t->layers[l].active) pick = l;
        /* Nothing active at or below the cap: the lowest active one above it beats a black
         * tile. */
        for (int l = top + 1; l < (int)t->n_layers && pick < 0; l++)
            if (t->layers[l].active) pick = l;
        /* Nothing active: keep what we had; a new subscription aims at its cap and starts
         * at whichever keyframe comes first. */
        if (pick < 0) pick = t->current >= 0 ? t->current : top;
        t->target = pick;
        used += cost(t, pick);
    }
    uint64_t left = budget_bps > used ? budget_bps - used : 0;
    /* The floor alone fills the budget: nobody climbs, even where a step measures free. */
    if (!left) return used;

    /* Upgrade in priority order (stable: earlier tracks first among equals). */
    bool done[64] = {false};
    size_t m = n < 64 ? n : 64;
    for (size_t round = 0; round < m; round++) {
        int best = -1;
        for (size_t i = 0; i < m; i++)
            if (!done[i] && (best < 0 || tracks[i].priority > tracks[best].priority)) best = (int)i;
        done[best] = true;
        sfu_alloc_track_t *t = &tracks[best];
        if (t->target < 0 || t->max_layer < 0) continue;
        int top = t->max_layer < (int)t->n_layers ? t->max_layer : (int)t->n_layers - 1;
        for (int l = top; l > t->target; l--) {
            if (!t->layers[l].active) continue;
            uint64_t now_cost = cost(t, t->target), new_cost = cost(t, l);
            uint64_t extra = new_cost > now_cost ? new_cost - now_cost : 0;
            /* Staying on (or returning below) the layer already forwarded needs no headroom;
             * climbing above it needs 15 %. */
            uint64_t need = l <= t->current ? extra : extra + extra * 15 / 100;
            if (need <= left) {
                left -= extra;
                used += extra;
                t->target = l;
                break;
            }
        }
    }
    return used;
}

void sfu_layer_hyst_init(sfu_layer_hyst_t *h, rtc_time_t upgrade_hold) {
    h->current = -1;
    h->proposed = -1;
    h->since = 0;
    h->upgrade_hold = upgrade_hold;
}

int sfu_layer_hyst_update(sfu_layer_hyst_t *h, int target, rtc_time_t now) {
    if (target <= h->current || h->current < 0) {
        h->current = target;
        h->proposed = -1;
        return h->current;
    }
    /* An upgrade period: the target has been above the current layer since `since`; what
     * is taken when it ends is the smallest target seen in it (held the whole time). */
    if (h->proposed < 0) {
        h->proposed = target;
        h->since = now;
    } else if (target < h->proposed) {
        h->proposed = target;
    }
    if (now - h->since >= h->upgrade_hold) {
        h->current = h->proposed;
        h->proposed = -1;
    }
    return h->current;
}
