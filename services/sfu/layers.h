/*
 * sfu/layers.h — which simulcast layer each subscriber gets.
 *
 * Three pieces, each a plain value with no clock of its own:
 *
 *   sfu_rate_t        bitrate of a stream over the last second (ten 100 ms buckets), so the
 *                     allocator knows what each layer costs as the publisher sends it now.
 *   sfu_layer_cap()   the layer a subscriber asked for by size (`subscription` max_width /
 *                     max_height): the smallest layer that covers the requested box, so a
 *                     640x360 tile gets the 640x360 layer, not the 1280x720 one, and not a
 *                     blurry 320x180 one.
 *   sfu_alloc()       splits one subscriber's estimated bandwidth (TWCC/BWE or REMB on its
 *                     leg) across its video tracks: every track gets its lowest active layer
 *                     first, then tracks are upgraded in priority order while the budget
 *                     allows (an upgrade needs 15 % headroom, a layer already forwarded
 *                     needs none, so a stable estimate never flips the choice).
 *   sfu_layer_hyst_t  per subscriber track: a downgrade is taken at once (congestion), an
 *                     upgrade only once the allocator has proposed something higher
 *                     continuously for `upgrade_hold`, and then to the lowest layer proposed
 *                     in that time (a BWE estimate that wobbles around a layer's bitrate does
 *                     not make the picture flip between layers).
 *
 * Layers are indexed from the lowest (0) to the highest; the caller sorts them that way (by
 * size once known, else in the publisher's order, low to high).
 */
#ifndef STARLING_SFU_LAYERS_H
#define STARLING_SFU_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SFU_MAX_LAYERS 3

/* ---- bitrate meter ---------------------------------------------------------------------- */
#define SFU_RATE_BUCKETS 10
#define SFU_RATE_BUCKET_US RTC_MS(100)

typedef struct {
    uint32_t bytes[SFU_RATE_BUCKETS];
    int64_t bucket_start;   /* start time of the bucket `cur` */
    unsigned cur;
    bool started;
    rtc_time_t first;       /* first packet, to scale while less than a window has passed */
    rtc_time_t last_packet;
} sfu_rate_t;

void sfu_rate_init(sfu_rate_t *r);
void sfu_rate_add(sfu_rate_t *r, size_t bytes, rtc_time_t now);
/* Bits per second over the last second (or since the first packet, when younger). */
uint64_t sfu_rate_bps(sfu_rate_t *r, rtc_time_t now);

/* ---- one publisher layer as the allocator sees it --------------------------------------- */
typedef struct {
    bool active;            /* packets arrived recently (see SFU_LAYER_ACTIVE_US) */
    uint64_t bitrate_bps;   /* measured; 0 when unknown */
    uint16_t width, height; /* from its keyframes; 0 when unknown */
} sfu_layer_state_t;

/* A layer that sent nothing for this long is inactive (a browser stops its top layers when
 * its own bandwidth estimate drops). */
#define SFU_LAYER_ACTIVE_US RTC_MS(1500)

/* The highest layer index the subscriber's requested size justifies: the lowest layer whose
 * width >= max_width and height >= max_height (0 = that dimension not limited); the top layer
 * when none is that large or sizes are unknown. Returns -1 when paused. */
int sfu_layer_cap(const sfu_layer_state_t *layers, size_t n, uint16_t max_width,
                  uint16_t max_height, bool paused);

/* ---- allocation across one subscriber's tracks ------------------------------------------ */
typedef struct {
    const sfu_layer_state_t *layers; /* n_layers entries, low to high */
    size_t n_layers;                 /* 1 for a track without simulcast */
    int max_layer;                   /* from sfu_layer_cap; -1: paused (gets -1) */
    int current;                     /* layer forwarded now, -1 none */
    uint32_t priority;               /* higher is upgraded first (screen share, speaker) */
    int target;                      /* out: the layer to forward, -1 none */
} sfu_alloc_track_t;

/* Fills every track's target. Audio and other fixed costs are the caller's to subtract from
 * budget_bps first. A track whose every layer is inactive keeps its current layer (nothing
 * to switch to), or, when it has none yet, aims at its cap; one with no affordable layer
 * still gets its lowest active layer (degrading to the lowest layer, never to nothing, is
 * the policy). A layer costs at least as much as any active layer below it (the meter is
 * noisy), and when the lowest layers already fill the budget no track climbs. Returns the
 * bits per second the targets are expected to use. */
uint64_t sfu_alloc(sfu_alloc_track_t *tracks, size_t n, uint64_t budget_bps);

/* ---- upgrade hysteresis ----------------------------------------------------------------- */
typedef struct {
    int current;            /* last decided layer */
    int proposed;           /* upgrade being waited for, -1 none */
    rtc_time_t since;       /* when it was first proposed */
    rtc_time_t upgrade_hold;
} sfu_layer_hyst_t;

void sfu_layer_hyst_init(sfu_layer_hyst_t *h, rtc_time_t upgrade_hold);
/* Feeds the allocator's target; returns the layer to use from now. */
int sfu_layer_hyst_update(sfu_layer_hyst_t *h, int target, rtc_time_t now);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_LAYERS_H */
