/* Rooms, participants, tracks and the SFU side of the signalling protocol (see room.h). */
#include "sfu/room.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct sub sub_t;

struct sfu_track {
    sfu_room_t *room;
    sfu_participant_t *owner;
    sfu_track_desc_t desc;
    sfu_fwd_track_t *fwd;
    bool muted;
    int speaker_slot;        /* audio: slot in the room's detector, -1 none */
    void *media;
};

/* One subscription: participant p receives track t through downtrack dt. */
struct sub {
    sfu_participant_t *p;
    sfu_track_t *t;
    sfu_downtrack_t *dt;
};

struct sfu_participant {
    sfu_room_t *room;
    char id[SFU_ID_MAX + 1];
    char identity[SFU_NAME_MAX + 1];
    char name[SFU_NAME_MAX + 1];
    char signal[SFU_ID_MAX + 1];
    sfu_grants_t grants;
    void *media;
    sfu_track_t **tracks;
    size_t n_tracks, cap_tracks;
    sub_t **subs;
    size_t n_subs, cap_subs;
    uint64_t bandwidth;      /* estimate, 0 until known */
    uint64_t wanted;         /* what the last allocation would have liked (bit/s) */
    bool removed;
};

struct sfu_room {
    char name[SFU_ROOM_NAME_MAX + 1];
    char sid[24];
    sfu_room_config_t cfg;
    sfu_room_env_t env;
    void *user;
    sfu_participant_t **ps;
    size_t n_ps, cap_ps;
    size_t n_tracks;
    sfu_speakers_t *speakers;
    rtc_time_t next_alloc;
    cJSON *speakers_msg;     /* the last active_speakers sent, for newcomers */
    sfu_room_stats_t stats;
};

void sfu_room_config_init(sfu_room_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_participants = 100;
    cfg->max_tracks = 8;
    cfg->keyframe_interval = RTC_MS(500);
    cfg->alloc_interval = RTC_MS(500);
    cfg->upgrade_hold = RTC_SEC(2);
    cfg->default_bandwidth = 2500000;
    sfu_speaker_config_init(&cfg->speakers);
}

/* Grows an array of pointers; false on allocation failure. */
static bool grow(void ***arr, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap * 2 : 4;
    while (c < need) c *= 2;
    void **a = realloc(*arr, c * sizeof *a);
    if (!a) return false;
    *arr = a;
    *cap = c;
    return true;
}

static void remove_ptr(void **arr, size_t *n, const void *p) {
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == p) {
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof *arr);
            (*n)--;
            return;
        }
    }
}

static void random_id(char *out, size_t cap, const char *prefix) {
    char r[13];
    rtc_random_ice_string(r, 12);
    for (char *c = r; *c; c++)
        if (*c == '+' || *c == '/') *c = 'x';
    snprintf(out, cap, "%s%s", prefix, r);
}

/* ------------------------------------------------------------------------------------------
 * Messages.
 */
static cJSON *msg(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static void send_to(sfu_room_t *r, sfu_participant_t *p, const char *type, cJSON *payload) {
    if (!payload) return;
    r->env.send(r->user, r, p, type, payload);
}

/* To everyone but `except` (may be NULL). The payload is duplicated per recipient. */
static void broadcast(sfu_room_t *r, sfu_participant_t *except, const char *type, cJSON *payload) {
    for (size_t i = 0; i < r->n_ps; i++) {
        sfu_participant_t *p = r->ps[i];
        if (p == except || p->removed) continue;
        send_to(r, p, type, cJSON_Duplicate(payload, 1));
    }
    cJSON_Delete(payload);
}

static void send_error_to(sfu_room_t *r, sfu_participant_t *p, const char *code, const char *text,
                          const char *rid) {
    cJSON *e = msg("error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", text);
    if (rid) cJSON_AddStringToObject(e, "rid", rid);
    r->stats.bus_errors++;
    send_to(r, p, "error", e);
}

void sfu_room_send_error(sfu_room_t *r, const sfu_bus_msg_t *m, const char *code,
                         const char *message) {
    sfu_participant_t *p = *m->participant ? sfu_room_find(r, m->participant) : NULL;
    if (p) {
        send_error_to(r, p, code, message, m->rid);
        return;
    }
    /* Not (or not yet) a participant: answer on the signal process it came from, through a
     * stand-in that carries only the routing fields. */
    if (!*m->signal || !*m->participant) return;
    sfu_participant_t tmp = {0};
    tmp.room = r;
    snprintf(tmp.id, sizeof tmp.id, "%s", m->participant);
    snprintf(tmp.signal, sizeof tmp.signal, "%s", m->signal);
    send_error_to(r, &tmp, code, message, m->rid);
}

cJSON *sfu_track_info(const sfu_track_t *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->desc.id);
    cJSON_AddStringToObject(o, "kind", t->desc.video ? "video" : "audio");
    cJSON_AddStringToObject(o, "source", t->desc.source);
    cJSON_AddStringToObject(o, "name", t->desc.name);
    cJSON_AddBoolToObject(o, "muted", t->muted);
    cJSON *sim = cJSON_AddArrayToObject(o, "simulcast");
    uint16_t w = 0, h = 0;
    if (t->desc.n_layers > 1)
        for (size_t i = 0; i < t->desc.n_layers; i++)
            cJSON_AddItemToArray(sim, cJSON_CreateString(t->desc.rids[i]));
    for (size_t i = 0; i < t->desc.n_layers && t->fwd; i++) {
        const sfu_fwd_layer_t *L = sfu_fwd_track_layer(t->fwd, (int)i);
        if ((uint32_t)L->width * L->height > (uint32_t)w * h) {
            w = L->width;
            h = L->height;
        }
    }
    cJSON_AddNumberToObject(o, "width", w);
    cJSON_AddNumberToObject(o, "height", h);
    return o;
}

cJSON *sfu_participant_info(const sfu_participant_t *p, bool with_signal) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "identity", p->identity);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON *tr = cJSON_AddArrayToObject(o, "tracks");
    for (size_t i = 0; i < p->n_tracks; i++) cJSON_AddItemToArray(tr, sfu_track_info(p->tracks[i]));
    if (with_signal) cJSON_AddStringToObject(o, "signal", p->signal);
    return o;
}

static void save_participant(sfu_room_t *r, sfu_participant_t *p) {
    if (r->env.save_participant && !p->removed) r->env.save_participant(r->user, r, p);
}

/* ------------------------------------------------------------------------------------------
 * Forwarding callbacks.
 */
static void fwd_send(void *user, sfu_downtrack_t *dt, uint8_t *pkt, size_t n, rtc_time_t now) {
    sub_t *s = user;
    sfu_room_t *r = s->p->room;
    r->stats.rtp_out++;
    if (r->env.media && r->env.media->send_rtp && s->p->media)
        r->env.media->send_rtp(r->env.media_user, s->p->media, dt, pkt, n, now);
}

static void fwd_keyframe(void *user, sfu_fwd_track_t *ft, int layer, rtc_time_t now) {
    (void)ft;
    sfu_track_t *t = user;
    sfu_room_t *r = t->room;
    r->stats.keyframe_requests++;
    if (r->env.media && r->env.media->request_keyframe && t->owner->media)
        r->env.media->request_keyframe(r->env.media_user, t->owner->media, t, layer, now);
}

static void fwd_layer(void *user, sfu_downtrack_t *dt, int layer, rtc_time_t now) {
    (void)dt;
    (void)now;
    sub_t *s = user;
    if (!s->t->desc.video || layer < 0) return;
    const sfu_fwd_layer_t *L = sfu_fwd_track_layer(s->t->fwd, layer);
    cJSON *o = msg("layer");
    cJSON_AddStringToObject(o, "track_id", s->t->desc.id);
    cJSON_AddStringToObject(o, "rid", s->t->desc.n_layers > 1 ? s->t->desc.rids[layer] : "");
    cJSON_AddNumberToObject(o, "width", L ? L->width : 0);
    cJSON_AddNumberToObject(o, "height", L ? L->height : 0);
    send_to(s->p->room, s->p, "layer", o);
}

static void fwd_level(void *user, sfu_fwd_track_t *ft, uint8_t level, bool voice, rtc_time_t now) {
    (void)ft;
    sfu_track_t *t = user;
    if (t->speaker_slot >= 0 && !t->muted)
        sfu_speakers_on_level(t->room->speakers, t->speaker_slot, level, voice, now);
}

static const sfu_fwd_callbacks_t fwd_cbs = {fwd_send, fwd_keyframe, fwd_layer, fwd_level};

/* ------------------------------------------------------------------------------------------
 * Life cycle.
 */
sfu_room_t *sfu_room_new(const char *name, const sfu_room_config_t *cfg, const sfu_room_env_t *env,
                         void *user) {
    if (!sfu_bus_valid_room(name) || !env || !env->send) return NULL;
    sfu_room_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    random_id(r->sid, sizeof r->sid, "RM_");
    if (cfg) r->cfg = *cfg;
    else sfu_room_config_init(&r->cfg);
    r->env = *env;
    r->user = user;
    r->speakers = sfu_speakers_new(&r->cfg.speakers);
    if (!r->speakers) {
        free(r);
        return NULL;
    }
    r->next_alloc = RTC_TIME_NEVER;
    return r;
}

static void free_track(sfu_track_t *t) {
    sfu_fwd_track_free(t->fwd); /* frees its downtracks */
    free(t);
}

static void free_participant(sfu_participant_t *p) {
    for (size_t i = 0; i < p->n_subs; i++) free(p->subs[i]);
    free(p->subs);
    free(p->tracks);
    free(p);
}

void sfu_room_free(sfu_room_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_ps; i++) {
        sfu_participant_t *p = r->ps[i];
        if (p->media && r->env.media && r->env.media->detach)
            r->env.media->detach(r->env.media_user, p->media);
        p->media = NULL;
    }
    /* Tracks first (their forwarders own the downtracks), then the participants. */
    for (size_t i = 0; i < r->n_ps; i++)
        for (size_t k = 0; k < r->ps[i]->n_tracks; k++) free_track(r->ps[i]->tracks[k]);
    for (size_t i = 0; i < r->n_ps; i++) free_participant(r->ps[i]);
    free(r->ps);
    sfu_speakers_free(r->speakers);
    cJSON_Delete(r->speakers_msg);
    free(r);
}

const char *sfu_room_name(const sfu_room_t *r) { return r->name; }
const char *sfu_room_sid(const sfu_room_t *r) { return r->sid; }
size_t sfu_room_participant_count(const sfu_room_t *r) { return r->n_ps; }
size_t sfu_room_track_count(const sfu_room_t *r) { return r->n_tracks; }
sfu_participant_t *sfu_room_participant(const sfu_room_t *r, size_t i) {
    return i < r->n_ps ? r->ps[i] : NULL;
}
void *sfu_room_user(const sfu_room_t *r) { return r->user; }
void sfu_room_stats(const sfu_room_t *r, sfu_room_stats_t *out) { *out = r->stats; }

sfu_participant_t *sfu_room_find(const sfu_room_t *r, const char *pid) {
    for (size_t i = 0; i < r->n_ps; i++)
        if (!strcmp(r->ps[i]->id, pid)) return r->ps[i];
    return NULL;
}

static sfu_participant_t *find_identity(const sfu_room_t *r, const char *identity) {
    for (size_t i = 0; i < r->n_ps; i++)
        if (!strcmp(r->ps[i]->identity, identity)) return r->ps[i];
    return NULL;
}

const char *sfu_participant_id(const sfu_participant_t *p) { return p->id; }
const char *sfu_participant_identity(const sfu_participant_t *p) { return p->identity; }
const char *sfu_participant_signal(const sfu_participant_t *p) { return p->signal; }
sfu_grants_t sfu_participant_grants(const sfu_participant_t *p) { return p->grants; }
void *sfu_participant_media(const sfu_participant_t *p) { return p->media; }
uint64_t sfu_participant_bandwidth(const sfu_participant_t *p) { return p->bandwidth; }
uint64_t sfu_participant_wanted_bandwidth(const sfu_participant_t *p) { return p->wanted; }
size_t sfu_participant_track_count(const sfu_participant_t *p) { return p->n_tracks; }
sfu_track_t *sfu_participant_track(const sfu_participant_t *p, size_t i) {
    return i < p->n_tracks ? p->tracks[i] : NULL;
}

const char *sfu_track_id(const sfu_track_t *t) { return t->desc.id; }
sfu_participant_t *sfu_track_owner(const sfu_track_t *t) { return t->owner; }
sfu_fwd_track_t *sfu_track_fwd(const sfu_track_t *t) { return t->fwd; }
const sfu_track_desc_t *sfu_track_desc(const sfu_track_t *t) { return &t->desc; }
bool sfu_track_muted(const sfu_track_t *t) { return t->muted; }
void sfu_track_set_media(sfu_track_t *t, void *m) { t->media = m; }
void *sfu_track_media(const sfu_track_t *t) { return t->media; }

static sub_t *find_sub(const sfu_participant_t *p, const sfu_track_t *t) {
    for (size_t i = 0; i < p->n_subs; i++)
        if (p->subs[i]->t == t) return p->subs[i];
    return NULL;
}

sfu_downtrack_t *sfu_track_downtrack_of(const sfu_track_t *t, const sfu_participant_t *sub) {
    sub_t *s = find_sub(sub, t);
    return s ? s->dt : NULL;
}

static sfu_track_t *find_track(const sfu_room_t *r, const char *id) {
    for (size_t i = 0; i < r->n_ps; i++)
        for (size_t k = 0; k < r->ps[i]->n_tracks; k++)
            if (!strcmp(r->ps[i]->tracks[k]->desc.id, id)) return r->ps[i]->tracks[k];
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Subscriptions and allocation.
 */
static void allocate(sfu_room_t *r, sfu_participant_t *p, rtc_time_t now) {
    enum { MAX = 128 };
    sfu_downtrack_t *dts[MAX];
    uint32_t prio[MAX];
    size_t n = 0;
    for (size_t i = 0; i < p->n_subs && n < MAX; i++) {
        sub_t *s = p->subs[i];
        dts[n] = s->dt;
        /* Screen shares first: their text must stay readable. */
        prio[n] = !strncmp(s->t->desc.source, "screen", 6) ? 10 : 0;
        n++;
    }
    if (!n) {
        p->wanted = 0;
        return;
    }
    uint64_t budget = p->bandwidth ? p->bandwidth : r->cfg.default_bandwidth;
    p->wanted = sfu_fwd_allocate(dts, prio, n, budget, r->cfg.upgrade_hold, now);
}

static void subscribe(sfu_room_t *r, sfu_participant_t *p, sfu_track_t *t, rtc_time_t now) {
    if (p == t->owner || !p->grants.subscribe || p->removed || find_sub(p, t)) return;
    if (!grow((void ***)&p->subs, &p->cap_subs, p->n_subs + 1)) return;
    sub_t *s = calloc(1, sizeof *s);
    if (!s) return;
    s->p = p;
    s->t = t;
    s->dt = sfu_downtrack_new(t->fwd, s);
    if (!s->dt) {
        RTC_LOGW("sfu", "room %s: track %s is full, %s not subscribed", r->name, t->desc.id, p->id);
        free(s);
        return;
    }
    p->subs[p->n_subs++] = s;
    if (r->env.media && r->env.media->subscribe && p->media)
        r->env.media->subscribe(r->env.media_user, p->media, t, s->dt, now);
    allocate(r, p, now);
}

static void unsubscribe(sfu_room_t *r, sub_t *s, bool tell_media, rtc_time_t now) {
    sfu_participant_t *p = s->p;
    if (tell_media && r->env.media && r->env.media->unsubscribe && p->media)
        r->env.media->unsubscribe(r->env.media_user, p->media, s->t, s->dt, now);
    sfu_downtrack_free(s->dt);
    remove_ptr((void **)p->subs, &p->n_subs, s);
    free(s);
}

/* ------------------------------------------------------------------------------------------
 * Tracks.
 */
sfu_track_t *sfu_room_publish_track(sfu_room_t *r, sfu_participant_t *p,
                                    const sfu_track_desc_t *desc, rtc_time_t now) {
    if (!p->grants.publish) {
        RTC_LOGW("sfu", "room %s: %s publishes without the publish grant", r->name, p->id);
        return NULL;
    }
    if (!sfu_bus_valid_id(desc->id) || find_track(r, desc->id)) {
        RTC_LOGW("sfu", "room %s: track id '%s' of %s invalid or taken", r->name, desc->id, p->id);
        return NULL;
    }
    if (p->n_tracks >= r->cfg.max_tracks || desc->n_layers < 1 || desc->n_layers > SFU_MAX_LAYERS ||
        (!desc->video && desc->n_layers != 1)) {
        RTC_LOGW("sfu", "room %s: track %s of %s refused (limit or layers)", r->name, desc->id, p->id);
        return NULL;
    }
    if (!grow((void ***)&p->tracks, &p->cap_tracks, p->n_tracks + 1)) return NULL;
    sfu_track_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->room = r;
    t->owner = p;
    t->desc = *desc;
    if (!t->desc.source[0]) snprintf(t->desc.source, sizeof t->desc.source, "%s", desc->video ? "camera" : "microphone");
    t->speaker_slot = -1;
    sfu_fwd_track_config_t fc = {desc->video, desc->clock_rate, desc->n_layers,
                                 r->cfg.keyframe_interval, desc->audio_level_ext,
                                 r->cfg.max_participants};
    t->fwd = sfu_fwd_track_new(&fc, &fwd_cbs, t);
    if (!t->fwd) {
        free(t);
        return NULL;
    }
    if (!desc->video) t->speaker_slot = sfu_speakers_add(r->speakers, p);
    p->tracks[p->n_tracks++] = t;
    r->n_tracks++;
    if (r->env.load_changed) r->env.load_changed(r->user, 0, 1);
    cJSON *o = msg("track_published");
    cJSON_AddStringToObject(o, "participant_id", p->id);
    cJSON_AddItemToObject(o, "track", sfu_track_info(t));
    broadcast(r, p, "track_published", o);
    save_participant(r, p);
    for (size_t i = 0; i < r->n_ps; i++) subscribe(r, r->ps[i], t, now);
    return t;
}

static void drop_track(sfu_room_t *r, sfu_track_t *t, bool announce, rtc_time_t now) {
    sfu_participant_t *owner = t->owner;
    for (size_t i = 0; i < r->n_ps; i++) {
        sub_t *s = find_sub(r->ps[i], t);
        if (s) unsubscribe(r, s, !r->ps[i]->removed, now);
    }
    if (t->speaker_slot >= 0) sfu_speakers_remove(r->speakers, t->speaker_slot);
    remove_ptr((void **)owner->tracks, &owner->n_tracks, t);
    r->n_tracks--;
    if (r->env.load_changed) r->env.load_changed(r->user, 0, -1);
    if (announce) {
        cJSON *o = msg("track_unpublished");
        cJSON_AddStringToObject(o, "participant_id", owner->id);
        cJSON_AddStringToObject(o, "track_id", t->desc.id);
        broadcast(r, owner, "track_unpublished", o);
        save_participant(r, owner);
    }
    free_track(t);
}

void sfu_room_unpublish_track(sfu_room_t *r, sfu_track_t *t, rtc_time_t now) {
    drop_track(r, t, true, now);
}

int sfu_room_on_rtp(sfu_room_t *r, sfu_track_t *t, int layer, sfu_codec_t codec,
                    const uint8_t *pkt, size_t n, rtc_time_t now) {
    r->stats.rtp_in++;
    return sfu_fwd_track_on_rtp(t->fwd, layer, codec, pkt, n, now);
}

void sfu_room_on_keyframe_request(sfu_room_t *r, sfu_downtrack_t *dt, rtc_time_t now) {
    (void)r;
    sfu_downtrack_request_keyframe(dt, now);
}

void sfu_room_set_bandwidth(sfu_room_t *r, sfu_participant_t *p, uint64_t bps, rtc_time_t now) {
    p->bandwidth = bps;
    allocate(r, p, now);
}

void sfu_room_subscriber_offer(sfu_room_t *r, sfu_participant_t *p, const char *sdp,
                               uint32_t offer_id) {
    cJSON *o = msg("offer");
    cJSON_AddStringToObject(o, "pc", "subscriber");
    cJSON_AddStringToObject(o, "sdp", sdp);
    cJSON_AddNumberToObject(o, "offer_id", offer_id);
    send_to(r, p, "offer", o);
}

void sfu_room_local_candidate(sfu_room_t *r, sfu_participant_t *p, bool publisher,
                              const char *candidate, const char *mid, int mline_index) {
    cJSON *o = msg("candidate");
    cJSON_AddStringToObject(o, "pc", publisher ? "publisher" : "subscriber");
    if (candidate) {
        cJSON *c = cJSON_AddObjectToObject(o, "candidate");
        cJSON_AddStringToObject(c, "candidate", candidate);
        if (mid) cJSON_AddStringToObject(c, "sdp_mid", mid);
        if (mline_index >= 0) cJSON_AddNumberToObject(c, "sdp_mline_index", mline_index);
    } else {
        cJSON_AddNullToObject(o, "candidate");
    }
    send_to(r, p, "candidate", o);
}

/* ------------------------------------------------------------------------------------------
 * Data.
 */
static bool in_list(const char *id, const char *const *to, size_t n_to) {
    for (size_t i = 0; i < n_to; i++)
        if (!strcmp(to[i], id)) return true;
    return false;
}

/* Delivers a data message to the room (or the listed ids): on the recipient's subscriber
 * data channel when it is open, as the text {"from","payload"} (docs/signalling.md), else
 * through signalling as the client message `data {from, payload}`. */
static void relay_data(sfu_room_t *r, sfu_participant_t *from, const char *payload,
                       const char *const *to, size_t n_to) {
    cJSON *o = msg("data");
    cJSON_AddStringToObject(o, "from", from->id);
    cJSON_AddStringToObject(o, "payload", payload);
    char *text = NULL;
    for (size_t i = 0; i < r->n_ps; i++) {
        sfu_participant_t *p = r->ps[i];
        if (p == from || p->removed || !p->grants.subscribe) continue;
        if (n_to && !in_list(p->id, to, n_to)) continue;
        bool sent = false;
        if (r->env.media && r->env.media->send_data && p->media) {
            if (!text) {
                cJSON *dc = cJSON_CreateObject();
                cJSON_AddStringToObject(dc, "from", from->id);
                cJSON_AddStringToObject(dc, "payload", payload);
                text = cJSON_PrintUnformatted(dc);
                cJSON_Delete(dc);
            }
            sent = text && r->env.media->send_data(r->env.media_user, p->media, text, strlen(text)) == RTC_OK;
        }
        if (!sent) send_to(r, p, "data", cJSON_Duplicate(o, 1));
        r->stats.data_relayed++;
    }
    cJSON_free(text);
    cJSON_Delete(o);
}

void sfu_room_on_data(sfu_room_t *r, sfu_participant_t *p, const uint8_t *m, size_t n,
                      bool is_string, rtc_time_t now) {
    (void)now;
    /* The whole text is the payload, for the whole room (docs/signalling.md); binary
     * messages, text with NUL bytes and oversized messages are dropped. */
    if (!is_string || !p->grants.data || n > SFU_DATA_MAX) {
        r->stats.data_dropped++;
        return;
    }
    char *text = malloc(n + 1);
    if (!text) return;
    memcpy(text, m, n);
    text[n] = 0;
    if (strlen(text) == n) relay_data(r, p, text, NULL, 0);
    else r->stats.data_dropped++;
    free(text);
}

/* ------------------------------------------------------------------------------------------
 * Joining and leaving.
 */
static void send_joined(sfu_room_t *r, sfu_participant_t *p, bool resumed) {
    cJSON *o = msg("joined");
    cJSON *me = cJSON_AddObjectToObject(o, "participant");
    cJSON_AddStringToObject(me, "id", p->id);
    cJSON_AddStringToObject(me, "identity", p->identity);
    cJSON_AddStringToObject(me, "name", p->name);
    /* Signal rebuilds the client's `joined` from `sid` and `participants` (docs/redis.md);
     * the rest makes the payload a complete client message on its own. */
    cJSON_AddStringToObject(o, "sid", r->sid);
    cJSON *room = cJSON_AddObjectToObject(o, "room");
    cJSON_AddStringToObject(room, "name", r->name);
    cJSON_AddStringToObject(room, "sid", r->sid);
    cJSON *others = cJSON_AddArrayToObject(o, "participants");
    for (size_t i = 0; i < r->n_ps; i++)
        if (r->ps[i] != p && !r->ps[i]->removed)
            cJSON_AddItemToArray(others, sfu_participant_info(r->ps[i], false));
    cJSON_AddBoolToObject(o, "resumed", resumed);
    send_to(r, p, "joined", o);
}

/* Takes p out of the room: `left` to p (unless reason_to_p is NULL), its tracks gone for
 * everyone, `participant_left` to the others, media detached, persistence updated. */
static void remove_participant(sfu_room_t *r, sfu_participant_t *p, const char *reason_to_p,
                               const char *reason_to_room, rtc_time_t now) {
    if (p->removed) return;
    if (reason_to_p) {
        cJSON *o = msg("left");
        cJSON_AddStringToObject(o, "reason", reason_to_p);
        send_to(r, p, "left", o);
    }
    p->removed = true;
    while (p->n_subs) unsubscribe(r, p->subs[p->n_subs - 1], false, now);
    while (p->n_tracks) drop_track(r, p->tracks[p->n_tracks - 1], false, now);
    if (p->media && r->env.media && r->env.media->detach)
        r->env.media->detach(r->env.media_user, p->media);
    p->media = NULL;
    remove_ptr((void **)r->ps, &r->n_ps, p);
    cJSON *o = msg("participant_left");
    cJSON_AddStringToObject(o, "participant_id", p->id);
    cJSON_AddStringToObject(o, "reason", reason_to_room);
    broadcast(r, p, "participant_left", o);
    if (r->env.delete_participant) r->env.delete_participant(r->user, r, p->id);
    if (r->env.load_changed) r->env.load_changed(r->user, -1, 0);
    if (r->env.save_room) r->env.save_room(r->user, r);
    RTC_LOGI("sfu", "room %s: %s (%s) left: %s", r->name, p->id, p->identity, reason_to_room);
    free_participant(p);
    if (!r->n_ps) r->next_alloc = RTC_TIME_NEVER;
}

void sfu_room_participant_failed(sfu_room_t *r, sfu_participant_t *p, const char *reason,
                                 rtc_time_t now) {
    RTC_LOGW("sfu", "room %s: %s failed: %s", r->name, p->id, reason ? reason : "media");
    remove_participant(r, p, "failed", "failed", now);
}

void sfu_room_participant_disconnected(sfu_room_t *r, sfu_participant_t *p, rtc_time_t now) {
    remove_participant(r, p, NULL, "disconnected", now);
}

void sfu_room_close(sfu_room_t *r, const char *reason, rtc_time_t now) {
    while (r->n_ps) remove_participant(r, r->ps[r->n_ps - 1], reason, "left", now);
}

static void on_join(sfu_room_t *r, const sfu_bus_msg_t *m, rtc_time_t now) {
    sfu_participant_t *p = *m->participant ? sfu_room_find(r, m->participant) : NULL;
    if (p) { /* the same join again (a retried command): answer as before */
        snprintf(p->signal, sizeof p->signal, "%s", m->signal);
        send_joined(r, p, false);
        return;
    }
    sfu_participant_t *old = find_identity(r, m->u.join.identity);
    if (old) remove_participant(r, old, "replaced", "left", now);
    if (r->n_ps >= r->cfg.max_participants) {
        sfu_room_send_error(r, m, "room_full", "the room is full");
        return;
    }
    if (!grow((void ***)&r->ps, &r->cap_ps, r->n_ps + 1)) {
        sfu_room_send_error(r, m, "internal", "out of memory");
        return;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        sfu_room_send_error(r, m, "internal", "out of memory");
        return;
    }
    p->room = r;
    if (*m->participant) snprintf(p->id, sizeof p->id, "%s", m->participant);
    else random_id(p->id, sizeof p->id, "PA_");
    snprintf(p->identity, sizeof p->identity, "%s", m->u.join.identity);
    snprintf(p->name, sizeof p->name, "%s", m->u.join.name);
    snprintf(p->signal, sizeof p->signal, "%s", m->signal);
    p->grants = m->u.join.grants;
    r->ps[r->n_ps++] = p;
    if (r->env.load_changed) r->env.load_changed(r->user, 1, 0);
    if (r->env.media && r->env.media->attach) p->media = r->env.media->attach(r->env.media_user, r, p);
    RTC_LOGI("sfu", "room %s: %s (%s) joined", r->name, p->id, p->identity);
    send_joined(r, p, false);
    cJSON *o = msg("participant_joined");
    cJSON_AddItemToObject(o, "participant", sfu_participant_info(p, false));
    broadcast(r, p, "participant_joined", o);
    save_participant(r, p);
    if (r->env.save_room) r->env.save_room(r->user, r);
    /* Who is speaking right now: reports go out only on changes. */
    if (r->speakers_msg) send_to(r, p, "active_speakers", cJSON_Duplicate(r->speakers_msg, 1));
    /* Everything already published, on the new subscriber PeerConnection. */
    for (size_t i = 0; i < r->n_ps; i++)
        for (size_t k = 0; k < r->ps[i]->n_tracks; k++) subscribe(r, p, r->ps[i]->tracks[k], now);
    if (r->next_alloc == RTC_TIME_NEVER) r->next_alloc = now + r->cfg.alloc_interval;
}

void sfu_room_handle_bus(sfu_room_t *r, const sfu_bus_msg_t *m, rtc_time_t now) {
    r->stats.bus_commands++;
    if (m->type == SFU_BUS_JOIN) {
        on_join(r, m, now);
        return;
    }
    if (m->type == SFU_BUS_CLOSE_ROOM) {
        sfu_room_close(r, "room_closed", now);
        return;
    }
    sfu_participant_t *p = sfu_room_find(r, m->participant);
    if (!p) {
        sfu_room_send_error(r, m, m->type == SFU_BUS_RESUME ? "resume_failed" : "not_joined",
                            "no such participant in this room");
        return;
    }
    char why[200] = "";
    const sfu_media_ops_t *media = r->env.media;
    switch (m->type) {
    case SFU_BUS_RESUME:
        snprintf(p->signal, sizeof p->signal, "%s", m->signal);
        save_participant(r, p);
        send_joined(r, p, true);
        if (media && media->resumed && p->media) media->resumed(r->env.media_user, p->media, now);
        break;
    case SFU_BUS_OFFER: {
        if (!p->grants.publish) {
            send_error_to(r, p, "forbidden", "no publish grant", m->rid);
            break;
        }
        if (!media || !media->publisher_offer || !p->media) {
            send_error_to(r, p, "unavailable", "this SFU node has no media engine", m->rid);
            break;
        }
        rtc_buf_t answer;
        rtc_buf_init(&answer);
        int rc = media->publisher_offer(r->env.media_user, p->media, m->u.sdp.sdp, m->u.sdp.tracks,
                                        &answer, why, sizeof why, now);
        if (rc == RTC_OK) {
            cJSON *o = msg("answer");
            cJSON_AddStringToObject(o, "pc", "publisher");
            cJSON_AddStringToObject(o, "sdp", answer.data ? (const char *)answer.data : "");
            send_to(r, p, "answer", o);
        } else {
            send_error_to(r, p, "bad_request", why[0] ? why : rtc_strerror(rc), m->rid);
        }
        rtc_buf_free(&answer);
        break;
    }
    case SFU_BUS_ANSWER:
        if (!media || !media->subscriber_answer || !p->media) {
            send_error_to(r, p, "unavailable", "this SFU node has no media engine", m->rid);
            break;
        }
        if (media->subscriber_answer(r->env.media_user, p->media, m->u.sdp.sdp, m->u.sdp.offer_id, why,
                                     sizeof why, now) < 0)
            send_error_to(r, p, "bad_request", why[0] ? why : "answer rejected", m->rid);
        break;
    case SFU_BUS_CANDIDATE:
        if (media && media->add_candidate && p->media &&
            media->add_candidate(r->env.media_user, p->media, !strcmp(m->u.cand.pc, "publisher"),
                                 m->u.cand.candidate, m->u.cand.mid, now) == RTC_ERR_MALFORMED)
            send_error_to(r, p, "bad_request", "candidate not understood", m->rid);
        break;
    case SFU_BUS_MUTE: {
        sfu_track_t *t = find_track(r, m->u.mute.track_id);
        if (!t || t->owner != p) {
            send_error_to(r, p, "bad_request", "no such track of yours", m->rid);
            break;
        }
        if (t->muted == m->u.mute.muted) break;
        t->muted = m->u.mute.muted;
        sfu_fwd_track_set_muted(t->fwd, t->muted);
        cJSON *o = msg("track_muted");
        cJSON_AddStringToObject(o, "participant_id", p->id);
        cJSON_AddStringToObject(o, "track_id", t->desc.id);
        cJSON_AddBoolToObject(o, "muted", t->muted);
        broadcast(r, p, "track_muted", o);
        save_participant(r, p);
        break;
    }
    case SFU_BUS_SUBSCRIPTION: {
        sfu_track_t *t = find_track(r, m->u.sub.track_id);
        sub_t *s = t ? find_sub(p, t) : NULL;
        if (!s) {
            send_error_to(r, p, "bad_request", "not subscribed to that track", m->rid);
            break;
        }
        sfu_downtrack_set_preference(s->dt, (uint16_t)(m->u.sub.max_width > 0 ? m->u.sub.max_width : 0),
                                     (uint16_t)(m->u.sub.max_height > 0 ? m->u.sub.max_height : 0),
                                     m->u.sub.paused);
        allocate(r, p, now);
        break;
    }
    case SFU_BUS_DATA:
        if (!p->grants.data) {
            send_error_to(r, p, "forbidden", "no data grant", m->rid);
            break;
        }
        relay_data(r, p, m->u.data.payload, m->u.data.to, m->u.data.n_to);
        break;
    case SFU_BUS_LEAVE:
        /* Signal already told the client `left` (or its socket is gone: "disconnected");
         * the others learn the reason. */
        remove_participant(r, p, NULL, m->u.leave.reason ? m->u.leave.reason : "left", now);
        break;
    case SFU_BUS_REMOVE:
        remove_participant(r, p, "removed", "removed", now);
        break;
    default: {
        char text[96];
        snprintf(text, sizeof text, "unknown type '%.40s'", m->type_name);
        send_error_to(r, p, "unknown_type", text, m->rid);
        break;
    }
    }
}

/* ------------------------------------------------------------------------------------------
 * Timers.
 */
rtc_time_t sfu_room_next_timeout(const sfu_room_t *r) {
    rtc_time_t t = r->next_alloc;
    if (r->n_tracks) {
        rtc_time_t s = sfu_speakers_next_timeout(r->speakers);
        if (s < t) t = s;
    }
    return t;
}

void sfu_room_handle_timeout(sfu_room_t *r, rtc_time_t now) {
    if (r->next_alloc != RTC_TIME_NEVER && now >= r->next_alloc) {
        for (size_t i = 0; i < r->n_ps; i++) allocate(r, r->ps[i], now);
        r->next_alloc = now + r->cfg.alloc_interval;
    }
    sfu_speaker_t sp[16];
    size_t n;
    if (sfu_speakers_poll(r->speakers, now, sp, 16, &n)) {
        cJSON *o = msg("active_speakers");
        cJSON *arr = cJSON_AddArrayToObject(o, "speakers");
        for (size_t i = 0; i < n; i++) {
            sfu_participant_t *p = sp[i].who;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "participant_id", p->id);
            /* Three decimals are plenty for a level meter. */
            cJSON_AddNumberToObject(e, "level", (double)(int)(sp[i].level * 1000 + 0.5) / 1000);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_Delete(r->speakers_msg);
        r->speakers_msg = n ? cJSON_Duplicate(o, 1) : NULL;
        broadcast(r, NULL, "active_speakers", o);
    }
}
