/*
 * sfu/forward.h — the forwarding path: one published track in, one rewritten stream out per
 * subscriber. Sans-I/O: packets and `now` in, packets and keyframe requests out through
 * callbacks; the caller (the worker, with PeerConnections) does the I/O.
 *
 * A track (sfu_fwd_track_t) is what one publisher sends for one m-line: audio, or video in
 * 1..3 simulcast layers (each its own SSRC). Each subscriber of it has a downtrack
 * (sfu_downtrack_t) with its own rewriter (rewriter.h), its current and target layer, and its
 * pause state. Per packet:
 *
 *   1. the RTP header is read in place (rtc/rtp.h) and, for video, the payload inspected once
 *      (codec.h: keyframe? size?) — shared by all downtracks;
 *   2. for every downtrack: a packet of its current layer is forwarded; a keyframe of its
 *      target layer switches it there (seamlessly: rewriter.h) and is forwarded; anything
 *      else is not. While a downtrack waits for a keyframe to switch or resume, the track asks
 *      the publisher for one, throttled per layer (keyreq.h);
 *   3. forwarding copies the packet into the track's scratch buffer, rewrites SSRC (the
 *      downtrack's), sequence number, timestamp and (VP8) picture ID there and hands it to
 *      send_rtp. Header extensions are the subscriber leg's business (the PeerConnection's
 *      sender maps or replaces them).
 *
 * Padding-only packets (bandwidth probes) are not forwarded and leave no gap. Nothing on
 * this path allocates or locks: tracks, downtracks and the scratch buffer are allocated when
 * created; a worker thread owns the tracks of its rooms.
 *
 * Layer choice: sfu_fwd_allocate() runs per subscriber (every few hundred ms and when its
 * bandwidth estimate or a `subscription` changes) and sets each of its downtracks' target
 * from the subscriber's estimated bandwidth, the sizes it asked for, and each layer's
 * measured bitrate and activity (layers.h).
 */
#ifndef STARLING_SFU_FORWARD_H
#define STARLING_SFU_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"
#include "sfu/codec.h"
#include "sfu/keyreq.h"
#include "sfu/layers.h"
#include "sfu/rewriter.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SFU_FWD_MAX_PACKET 1500

typedef struct sfu_fwd_track sfu_fwd_track_t;
typedef struct sfu_downtrack sfu_downtrack_t;

typedef struct {
    /* A rewritten packet for the subscriber of `dt`: the track's scratch buffer, valid only
     * during the call; the callee may change it in place (e.g. the payload type). */
    void (*send_rtp)(void *dt_user, sfu_downtrack_t *dt, uint8_t *pkt, size_t n,
                     rtc_time_t now);
    /* Ask the publisher for a keyframe on `layer` (already throttled). */
    void (*request_keyframe)(void *track_user, sfu_fwd_track_t *t, int layer, rtc_time_t now);
    /* The layer forwarded to `dt` changed (-1: nothing forwarded now). Optional. */
    void (*layer_switched)(void *dt_user, sfu_downtrack_t *dt, int layer, rtc_time_t now);
    /* An audio packet's ssrc-audio-level (RFC 6464). Optional. */
    void (*audio_level)(void *track_user, sfu_fwd_track_t *t, uint8_t level_dbov, bool voice,
                        rtc_time_t now);
} sfu_fwd_callbacks_t;

typedef struct {
    bool video;
    uint32_t clock_rate;          /* 90000 video, 48000 opus */
    size_t n_layers;              /* 1..SFU_MAX_LAYERS (1 for audio) */
    rtc_time_t keyframe_interval; /* per-layer keyframe request throttle; 0: 500 ms */
    uint8_t audio_level_ext;      /* negotiated id of ssrc-audio-level, 0 none */
    size_t max_downtracks;        /* capacity, fixed at creation */
} sfu_fwd_track_config_t;

typedef struct {
    uint32_t ssrc;                /* last SSRC seen on the layer, 0 none */
    sfu_rate_t rate;              /* new packets only: see max_seq */
    rtc_time_t last_packet;       /* RTC_TIME_NEVER before the first */
    uint16_t max_seq;             /* highest sequence number seen (valid once packets > 0) */
    uint64_t repeats;             /* packets at or below max_seq: retransmissions, RTX padding */
    uint16_t width, height;       /* from its last keyframe */
    sfu_keyreq_t keyreq;
    uint64_t packets, keyframes;
} sfu_fwd_layer_t;

/* ---- tracks ----------------------------------------------------------------------------- */
/* NULL on bad config or allocation failure. Keeps cb (copied) and user. */
sfu_fwd_track_t *sfu_fwd_track_new(const sfu_fwd_track_config_t *cfg,
                                   const sfu_fwd_callbacks_t *cb, void *user);
/* Frees the track and every downtrack still attached to it. */
void sfu_fwd_track_free(sfu_fwd_track_t *t);

/* One packet received from the publisher on `layer` (0..n_layers-1, the order given when the
 * track was made), decrypted, RTX already unwrapped. codec is the negotiated codec of its
 * payload type. Returns the number of downtracks it was sent to, or a negative error for a
 * packet that does not parse (dropped; nothing else happens). */
int sfu_fwd_track_on_rtp(sfu_fwd_track_t *t, int layer, sfu_codec_t codec, const uint8_t *pkt,
                         size_t n, rtc_time_t now);
/* Publisher mute: nothing is forwarded while muted; after unmute every downtrack resumes at
 * the next keyframe (video) or packet (audio). */
void sfu_fwd_track_set_muted(sfu_fwd_track_t *t, bool muted);
bool sfu_fwd_track_muted(const sfu_fwd_track_t *t);
const sfu_fwd_layer_t *sfu_fwd_track_layer(const sfu_fwd_track_t *t, int layer);
size_t sfu_fwd_track_layer_count(const sfu_fwd_track_t *t);
size_t sfu_fwd_track_downtrack_count(const sfu_fwd_track_t *t);
bool sfu_fwd_track_is_video(const sfu_fwd_track_t *t);
void *sfu_fwd_track_user(const sfu_fwd_track_t *t);
/* Layer states (activity, bitrate, size) as of now, sorted low to high; order[i] is the
 * track's layer index of sorted position i. Returns the count. */
size_t sfu_fwd_track_layer_states(sfu_fwd_track_t *t, rtc_time_t now, sfu_layer_state_t *out,
                                  int *order);

/* ---- downtracks ------------------------------------------------------------------------- */
/* Subscribes: the output stream starts at random sequence number and timestamp. NULL when
 * the track is full. The downtrack starts with target = highest layer (audio: 0) until the
 * first allocation. */
sfu_downtrack_t *sfu_downtrack_new(sfu_fwd_track_t *t, void *user);
void sfu_downtrack_free(sfu_downtrack_t *dt);
sfu_fwd_track_t *sfu_downtrack_track(const sfu_downtrack_t *dt);
void *sfu_downtrack_user(const sfu_downtrack_t *dt);
/* A slot for the media layer (e.g. the subscriber's transceiver), NULL until set. */
void sfu_downtrack_set_media(sfu_downtrack_t *dt, void *m);
void *sfu_downtrack_media(const sfu_downtrack_t *dt);
/* What the subscriber asked for (`subscription`): size box (0 = any) and pause. */
void sfu_downtrack_set_preference(sfu_downtrack_t *dt, uint16_t max_width, uint16_t max_height,
                                  bool paused);
/* Sets the target layer (the allocator does this; -1 stops forwarding). */
void sfu_downtrack_set_target(sfu_downtrack_t *dt, int layer, rtc_time_t now);
int sfu_downtrack_current(const sfu_downtrack_t *dt);
/* The SSRC written into forwarded packets (random at creation). */
void sfu_downtrack_set_ssrc(sfu_downtrack_t *dt, uint32_t ssrc);
uint32_t sfu_downtrack_ssrc(const sfu_downtrack_t *dt);
int sfu_downtrack_target(const sfu_downtrack_t *dt);
/* The subscriber did not get what was forwarded (its leg was not connected yet): start
 * again at the next keyframe of the target layer (asked for now, throttled), continuing
 * the same output numbering. Audio restarts at its next packet. */
void sfu_downtrack_restart(sfu_downtrack_t *dt, rtc_time_t now);
/* The subscriber sent PLI/FIR for this stream: asks the publisher (throttled). */
void sfu_downtrack_request_keyframe(sfu_downtrack_t *dt, rtc_time_t now);
typedef struct {
    uint64_t packets, bytes, switches, dropped_dup, dropped_old;
    uint64_t bitrate_bps;
} sfu_downtrack_stats_t;
void sfu_downtrack_stats(sfu_downtrack_t *dt, rtc_time_t now, sfu_downtrack_stats_t *out);

/* ---- allocation ------------------------------------------------------------------------- */
/* Chooses the target layer of each of one subscriber's downtracks (video and audio; audio is
 * charged its measured bitrate first) for an estimated budget_bps, with upgrade hysteresis
 * (upgrade_hold). priority[i] may be NULL (all equal). Calls sfu_downtrack_set_target.
 * Returns what the subscriber would want (bit/s): audio plus the layers an unlimited budget
 * would give (each track's highest active layer within its size cap, at today's measured
 * bitrates), with the 15 % headroom an upgrade needs on the part above the lowest layers —
 * a budget of at least this lets every track climb to its cap; the media engine probes the
 * leg toward it when its estimate is lower. */
uint64_t sfu_fwd_allocate(sfu_downtrack_t *const *dts, const uint32_t *priority, size_t n,
                      uint64_t budget_bps, rtc_time_t upgrade_hold, rtc_time_t now);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_FORWARD_H */
