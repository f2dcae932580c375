/*
 * sfu/room.h — a room on an SFU node: its participants, their published tracks and their
 * subscriptions, and the signalling protocol's SFU side (docs/signalling.md, docs/redis.md).
 *
 * Sans-I/O like the forwarding path under it: bus commands, media events and `now` come in;
 * client messages, persistence updates and media requests go out through the callbacks of
 * sfu_room_env_t. A room lives on one worker thread and is touched only there.
 *
 * Participants. `join` creates one (answering `joined` and telling the others
 * `participant_joined`); `leave` (signal already told the client), `remove`, `close_room`,
 * a second join with the same identity (`replaced`) and a media failure (ICE failure or
 * consent loss: `failed`) remove one: it gets `left {reason}` (not for `leave`), the others
 * `participant_left`, its tracks disappear from every subscriber, its media is detached. `resume` re-attaches a participant to a new
 * signal process.
 *
 * Media. The room does not know PeerConnections. The media layer (sfu_media_ops_t: the
 * worker's PeerConnection glue in the service, a scripted double in tests) sets up each
 * participant's publisher and subscriber PeerConnections, applies offers and answers, and
 * reports back what happens on them through the sfu_room_* entry points below: tracks found
 * in a publisher offer, RTP received, keyframe requests from subscribers, data channel
 * messages, bandwidth estimates, failures, and subscriber offers to send.
 *
 * Forwarding. Every published track is a sfu_fwd_track_t with one downtrack per subscriber
 * (forward.h). Each subscriber's downtracks get their layers from sfu_fwd_allocate() every
 * `alloc_interval` and whenever its bandwidth estimate or a `subscription` changes.
 * Audio levels feed the room's active speaker detector (speaker.h), whose changes go to
 * everyone as `active_speakers`.
 */
#ifndef STARLING_SFU_ROOM_H
#define STARLING_SFU_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rtc/base.h"
#include "sfu/bus.h"
#include "sfu/forward.h"
#include "sfu/speaker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sfu_room sfu_room_t;
typedef struct sfu_participant sfu_participant_t;
typedef struct sfu_track sfu_track_t;

#define SFU_RID_MAX 16

/* A track the media layer found in a publisher's offer. */
typedef struct {
    char id[SFU_ID_MAX + 1];     /* the publisher's msid track id */
    char mid[33];
    bool video;
    char source[16];             /* camera / microphone / screen / screen_audio */
    char name[SFU_NAME_MAX + 1];
    size_t n_layers;             /* 1, or the simulcast rids below */
    char rids[SFU_MAX_LAYERS][SFU_RID_MAX + 1];
    uint32_t clock_rate;         /* 0: 90000 video, 48000 audio */
    uint8_t audio_level_ext;     /* negotiated ssrc-audio-level id, 0 none */
} sfu_track_desc_t;

typedef struct {
    /* Sets up media for a participant (publisher + subscriber PeerConnections). NULL: the
     * participant has none (offers are answered with error `unavailable`). */
    void *(*attach)(void *mu, sfu_room_t *r, sfu_participant_t *p);
    void (*detach)(void *mu, void *m);
    /* Applies a publisher offer and writes the answer SDP. Tracks in it are reported with
     * sfu_room_publish_track() (labels: the offer's `tracks` [{mid, source, name}], may be
     * NULL). Returns RTC_OK or an error with a reason for the client. */
    int (*publisher_offer)(void *mu, void *m, const char *sdp, const cJSON *labels,
                           rtc_buf_t *answer, char *why, size_t why_cap, rtc_time_t now);
    /* The client's answer to a subscriber offer; offer_id is the one it echoes (-1 when
     * absent). Returns RTC_OK (also for a stale answer, which is ignored) or an error with a
     * reason for the client. */
    int (*subscriber_answer)(void *mu, void *m, const char *sdp, int64_t offer_id, char *why,
                             size_t why_cap, rtc_time_t now);
    /* candidate NULL: end of candidates. */
    int (*add_candidate)(void *mu, void *m, bool publisher, const char *candidate,
                         const char *mid, rtc_time_t now);
    /* The subscriber gets a new track / loses one (the media layer renegotiates and calls
     * sfu_room_subscriber_offer). */
    int (*subscribe)(void *mu, void *m, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now);
    void (*unsubscribe)(void *mu, void *m, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now);
    /* A forwarded packet for the subscriber (hot path; pkt is scratch the callee may
     * change in place). */
    void (*send_rtp)(void *mu, void *m, sfu_downtrack_t *dt, uint8_t *pkt, size_t n,
                     rtc_time_t now);
    /* Ask the publisher of t for a keyframe on a layer. */
    void (*request_keyframe)(void *mu, void *m, sfu_track_t *t, int layer, rtc_time_t now);
    /* A data message on the subscriber's data channel; RTC_ERR_STATE when it is not open
     * (the room then sends it through signalling). Optional. */
    int (*send_data)(void *mu, void *m, const char *msg, size_t n);
    /* The participant resumed on a new signal connection (messages may have been lost with
     * the old one). Optional. */
    void (*resumed)(void *mu, void *m, rtc_time_t now);
} sfu_media_ops_t;

typedef struct {
    /* A client message for p (through its signal process). Takes ownership of payload,
     * which already has "type". Required. */
    void (*send)(void *user, sfu_room_t *r, sfu_participant_t *p, const char *type,
                 cJSON *payload);
    /* Persistence (docs/redis.md): a participant's info changed or was added / was removed;
     * the room's participant count changed (0: the room is empty and will be freed). */
    void (*save_participant)(void *user, sfu_room_t *r, sfu_participant_t *p);
    void (*delete_participant)(void *user, sfu_room_t *r, const char *pid);
    void (*save_room)(void *user, sfu_room_t *r);
    /* Load accounting: participants and tracks added (+) or removed (-). */
    void (*load_changed)(void *user, int d_participants, int d_tracks);
    const sfu_media_ops_t *media; /* NULL: no media at all */
    void *media_user;
} sfu_room_env_t;

typedef struct {
    size_t max_participants;       /* default 100 */
    size_t max_tracks;             /* per participant, default 8 */
    rtc_time_t keyframe_interval;  /* default 500 ms */
    rtc_time_t alloc_interval;     /* default 500 ms */
    rtc_time_t upgrade_hold;       /* default 2 s */
    uint64_t default_bandwidth;    /* a subscriber's budget until its estimate arrives:
                                      default 2.5 Mbps */
    sfu_speaker_config_t speakers;
} sfu_room_config_t;

void sfu_room_config_init(sfu_room_config_t *cfg);

/* ---- life cycle ------------------------------------------------------------------------- */
/* NULL on a bad name or allocation failure. env and cfg are copied. */
sfu_room_t *sfu_room_new(const char *name, const sfu_room_config_t *cfg, const sfu_room_env_t *env,
                         void *user);
/* Frees everything without telling anyone (use close first to tell participants). */
void sfu_room_free(sfu_room_t *r);
/* Removes everyone with `left {reason}` (room_closed) — the room is then empty. */
void sfu_room_close(sfu_room_t *r, const char *reason, rtc_time_t now);

const char *sfu_room_name(const sfu_room_t *r);
const char *sfu_room_sid(const sfu_room_t *r);
size_t sfu_room_participant_count(const sfu_room_t *r);
size_t sfu_room_track_count(const sfu_room_t *r);
sfu_participant_t *sfu_room_participant(const sfu_room_t *r, size_t i);
sfu_participant_t *sfu_room_find(const sfu_room_t *r, const char *pid);
void *sfu_room_user(const sfu_room_t *r);

/* ---- bus commands ----------------------------------------------------------------------- */
/* Handles one parsed command for this room (msg->room is this room's name). Errors go back
 * to the client as `error` messages; nothing a client sends makes this fail. */
void sfu_room_handle_bus(sfu_room_t *r, const sfu_bus_msg_t *msg, rtc_time_t now);
/* Sends `error {code, message, rid}` to whoever a (possibly unparsable) command came from,
 * when it can be routed (participant known, or signal + participant given). */
void sfu_room_send_error(sfu_room_t *r, const sfu_bus_msg_t *msg, const char *code,
                         const char *message);

/* ---- timers ------------------------------------------------------------------------------- */
rtc_time_t sfu_room_next_timeout(const sfu_room_t *r);
void sfu_room_handle_timeout(sfu_room_t *r, rtc_time_t now);

/* ---- participants --------------------------------------------------------------------------- */
const char *sfu_participant_id(const sfu_participant_t *p);
const char *sfu_participant_identity(const sfu_participant_t *p);
const char *sfu_participant_signal(const sfu_participant_t *p);
sfu_grants_t sfu_participant_grants(const sfu_participant_t *p);
void *sfu_participant_media(const sfu_participant_t *p);
size_t sfu_participant_track_count(const sfu_participant_t *p);
sfu_track_t *sfu_participant_track(const sfu_participant_t *p, size_t i);
/* participant_info (docs/signalling.md); with_signal adds "signal" (the Redis form). */
cJSON *sfu_participant_info(const sfu_participant_t *p, bool with_signal);

/* ---- tracks ---------------------------------------------------------------------------------- */
const char *sfu_track_id(const sfu_track_t *t);
sfu_participant_t *sfu_track_owner(const sfu_track_t *t);
sfu_fwd_track_t *sfu_track_fwd(const sfu_track_t *t);
const sfu_track_desc_t *sfu_track_desc(const sfu_track_t *t);
bool sfu_track_muted(const sfu_track_t *t);
cJSON *sfu_track_info(const sfu_track_t *t);
/* Set by the media layer for its own bookkeeping (e.g. the transceiver). */
void sfu_track_set_media(sfu_track_t *t, void *m);
void *sfu_track_media(const sfu_track_t *t);
/* The subscriber's downtrack of t, NULL when it has none. */
sfu_downtrack_t *sfu_track_downtrack_of(const sfu_track_t *t, const sfu_participant_t *sub);

/* ---- media layer entry points ------------------------------------------------------------- */
/* A publisher's offer has a new track. Announced to everyone (`track_published`) and
 * subscribed by everyone with the subscribe grant. NULL (logged) for a duplicate id, more
 * than max_tracks, or a participant without the publish grant. */
sfu_track_t *sfu_room_publish_track(sfu_room_t *r, sfu_participant_t *p,
                                    const sfu_track_desc_t *desc, rtc_time_t now);
/* The track ended (renegotiated away). `track_unpublished` to everyone. */
void sfu_room_unpublish_track(sfu_room_t *r, sfu_track_t *t, rtc_time_t now);
/* RTP from the publisher of t on a layer (hot path). Returns what forward.h returns. */
int sfu_room_on_rtp(sfu_room_t *r, sfu_track_t *t, int layer, sfu_codec_t codec,
                    const uint8_t *pkt, size_t n, rtc_time_t now);
/* A subscriber asked for a keyframe on its downtrack (PLI/FIR). */
void sfu_room_on_keyframe_request(sfu_room_t *r, sfu_downtrack_t *dt, rtc_time_t now);
/* The media layer has a (re)offer for p's subscriber PeerConnection: sent as `offer`. */
void sfu_room_subscriber_offer(sfu_room_t *r, sfu_participant_t *p, const char *sdp,
                               uint32_t offer_id);
/* A trickled local candidate (NULL: end of candidates) for p's publisher or subscriber. */
void sfu_room_local_candidate(sfu_room_t *r, sfu_participant_t *p, bool publisher,
                              const char *candidate, const char *mid, int mline_index);
/* p's bandwidth estimate on its subscriber leg (TWCC/BWE or REMB), bits per second. */
void sfu_room_set_bandwidth(sfu_room_t *r, sfu_participant_t *p, uint64_t bps, rtc_time_t now);
/* The last estimate given (0: none yet, the room's default budget applies). */
uint64_t sfu_participant_bandwidth(const sfu_participant_t *p);
/* What p's subscriptions would use with an unlimited budget (sfu_fwd_allocate's return, at
 * the last allocation; 0 before any or with nothing subscribed). Above the estimate, the
 * media engine probes p's subscriber leg. */
uint64_t sfu_participant_wanted_bandwidth(const sfu_participant_t *p);
/* A message p sent on its publisher data channel: its text is the payload, relayed to the
 * whole room (docs/signalling.md); binary messages are dropped (counted). */
void sfu_room_on_data(sfu_room_t *r, sfu_participant_t *p, const uint8_t *msg, size_t n,
                      bool is_string, rtc_time_t now);
/* p's signal process is gone and nobody will send its `leave` (its participant key expired):
 * p is removed; the others get `participant_left {reason: "disconnected"}`. */
void sfu_room_participant_disconnected(sfu_room_t *r, sfu_participant_t *p, rtc_time_t now);
/* p's media failed (ICE failure, consent lost, DTLS failure): p is removed with reason. */
void sfu_room_participant_failed(sfu_room_t *r, sfu_participant_t *p, const char *reason,
                                 rtc_time_t now);

typedef struct {
    uint64_t bus_commands, bus_errors, data_relayed, data_dropped;
    uint64_t rtp_in, rtp_out, keyframe_requests;
} sfu_room_stats_t;
void sfu_room_stats(const sfu_room_t *r, sfu_room_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_ROOM_H */
