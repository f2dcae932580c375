/* sfu/room: the SFU side of the signalling protocol, driven by bus commands exactly as
 * starling-signal publishes them (JSON text through sfu_bus_parse), with a scripted media
 * layer standing in for the PeerConnections (it declares the tracks a publisher offer would
 * contain and records what the room asks of it). Media payloads are the real libvpx
 * simulcast fixtures. Checks the messages each participant gets, persistence callbacks,
 * forwarding, subscriptions, mute, data, speakers, and every way of leaving. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "sfu/room.h"
#include "unit/sfu_fixture.h"

/* ------------------------------------------------------------------------------------------
 * What the room sends, per participant id.
 */
#define MAX_MSGS 512

typedef struct {
    char pid[SFU_ID_MAX + 1];
    char signal[SFU_ID_MAX + 1];
    char type[32];
    cJSON *payload;
} out_t;

static out_t outs[MAX_MSGS];
static size_t n_outs;
static int saved, deleted, room_saves, d_participants, d_tracks;

static void env_send(void *user, sfu_room_t *r, sfu_participant_t *p, const char *type, cJSON *payload) {
    (void)user;
    (void)r;
    ck_assert_uint_lt(n_outs, MAX_MSGS);
    out_t *o = &outs[n_outs++];
    snprintf(o->pid, sizeof o->pid, "%s", sfu_participant_id(p));
    snprintf(o->signal, sizeof o->signal, "%s", sfu_participant_signal(p));
    snprintf(o->type, sizeof o->type, "%s", type);
    o->payload = payload;
    /* The payload carries its type, so signal can forward it as is. */
    ck_assert_str_eq(cJSON_GetObjectItem(payload, "type")->valuestring, type);
}
static void env_save(void *u, sfu_room_t *r, sfu_participant_t *p) { (void)u; (void)r; (void)p; saved++; }
static void env_delete(void *u, sfu_room_t *r, const char *pid) { (void)u; (void)r; (void)pid; deleted++; }
static void env_room(void *u, sfu_room_t *r) { (void)u; (void)r; room_saves++; }
static void env_load(void *u, int dp, int dt) { (void)u; d_participants += dp; d_tracks += dt; }

static void clear_outs(void) {
    for (size_t i = 0; i < n_outs; i++) cJSON_Delete(outs[i].payload);
    n_outs = 0;
}

/* The n-th message of a type for a participant (NULL when absent). */
static cJSON *got(const char *pid, const char *type, int nth) {
    for (size_t i = 0; i < n_outs; i++)
        if (!strcmp(outs[i].pid, pid) && !strcmp(outs[i].type, type) && nth-- == 0) return outs[i].payload;
    return NULL;
}

static int count(const char *pid, const char *type) {
    int n = 0;
    for (size_t i = 0; i < n_outs; i++)
        if ((!pid || !strcmp(outs[i].pid, pid)) && !strcmp(outs[i].type, type)) n++;
    return n;
}

static const char *str_at(const cJSON *o, const char *k, int line) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    ck_assert_msg(cJSON_IsString(v), "line %d: no string '%s'", line, k);
    return v->valuestring;
}
#define str(o, k) str_at((o), (k), __LINE__)

/* ------------------------------------------------------------------------------------------
 * Scripted media: one record per participant.
 */
typedef struct {
    sfu_room_t *room;
    sfu_participant_t *p;
    int subscribes, unsubscribes, offers_applied, answers, candidates, resumes;
    int64_t last_offer_id;
    bool dc_open;
    int data_msgs;
    char last_data[512];
    size_t rtp;
    uint16_t last_seq;
    bool seq_started;
    bool detached;
} med_t;

static med_t meds[16];
static size_t n_meds;
static int keyframe_requests;
/* What the next publisher offer "contains". */
static sfu_track_desc_t next_tracks[4];
static size_t n_next_tracks;

static void *m_attach(void *mu, sfu_room_t *r, sfu_participant_t *p) {
    (void)mu;
    ck_assert_uint_lt(n_meds, 16);
    med_t *m = &meds[n_meds++];
    memset(m, 0, sizeof *m);
    m->room = r;
    m->p = p;
    return m;
}
static void m_detach(void *mu, void *m) { (void)mu; ((med_t *)m)->detached = true; }
static int m_offer(void *mu, void *mm, const char *sdp, const cJSON *labels, rtc_buf_t *answer,
                   char *why, size_t cap, rtc_time_t now) {
    (void)mu;
    (void)labels;
    med_t *m = mm;
    if (!strncmp(sdp, "bad", 3)) {
        snprintf(why, cap, "line 1: not SDP");
        return RTC_ERR_MALFORMED;
    }
    m->offers_applied++;
    for (size_t i = 0; i < n_next_tracks; i++) sfu_room_publish_track(m->room, m->p, &next_tracks[i], now);
    n_next_tracks = 0;
    rtc_buf_append_str(answer, "v=0 answer");
    return RTC_OK;
}
static int m_answer(void *mu, void *mm, const char *sdp, int64_t offer_id, char *why, size_t cap,
                    rtc_time_t now) {
    (void)mu; (void)sdp; (void)why; (void)cap; (void)now;
    ((med_t *)mm)->answers++;
    ((med_t *)mm)->last_offer_id = offer_id;
    return RTC_OK;
}
static void m_resumed(void *mu, void *mm, rtc_time_t now) {
    (void)mu; (void)now;
    ((med_t *)mm)->resumes++;
}
static int m_cand(void *mu, void *mm, bool pub, const char *c, const char *mid, rtc_time_t now) {
    (void)mu; (void)pub; (void)mid; (void)now;
    ((med_t *)mm)->candidates++;
    return c && !strncmp(c, "garbage", 7) ? RTC_ERR_MALFORMED : RTC_OK;
}
static int m_subscribe(void *mu, void *mm, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now) {
    (void)mu; (void)t; (void)dt; (void)now;
    med_t *m = mm;
    m->subscribes++;
    sfu_room_subscriber_offer(m->room, m->p, "v=0 subscriber offer", (uint32_t)m->subscribes);
    return RTC_OK;
}
static void m_unsubscribe(void *mu, void *mm, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now) {
    (void)mu; (void)t; (void)dt; (void)now;
    ((med_t *)mm)->unsubscribes++;
}
static void m_send_rtp(void *mu, void *mm, sfu_downtrack_t *dt, uint8_t *pkt, size_t n, rtc_time_t now) {
    (void)mu; (void)dt; (void)n; (void)now;
    med_t *m = mm;
    uint16_t seq = rtc_be16(pkt + 2);
    if (m->seq_started) ck_assert_uint_eq(seq, (uint16_t)(m->last_seq + 1));
    m->seq_started = true;
    m->last_seq = seq;
    m->rtp++;
}
static void m_keyframe(void *mu, void *mm, sfu_track_t *t, int layer, rtc_time_t now) {
    (void)mu; (void)mm; (void)t; (void)layer; (void)now;
    keyframe_requests++;
}
static int m_data(void *mu, void *mm, const char *msg, size_t n) {
    (void)mu;
    med_t *m = mm;
    if (!m->dc_open) return RTC_ERR_STATE;
    m->data_msgs++;
    snprintf(m->last_data, sizeof m->last_data, "%.*s", (int)n, msg);
    return RTC_OK;
}

static const sfu_media_ops_t media = {m_attach, m_detach, m_offer, m_answer, m_cand, m_subscribe,
                                      m_unsubscribe, m_send_rtp, m_keyframe, m_data, m_resumed};

static med_t *med_of(const char *pid) {
    for (size_t i = 0; i < n_meds; i++)
        if (!meds[i].detached && !strcmp(sfu_participant_id(meds[i].p), pid)) return &meds[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Harness.
 */
static sfu_room_t *room;

static sfu_room_t *make_room(const sfu_room_config_t *cfg, bool with_media) {
    sfu_room_env_t env = {env_send, env_save, env_delete, env_room, env_load,
                          with_media ? &media : NULL, NULL};
    n_outs = 0;
    n_meds = 0;
    saved = deleted = room_saves = d_participants = d_tracks = keyframe_requests = 0;
    return sfu_room_new("demo", cfg, &env, NULL);
}

/* Feeds a bus command (JSON) the way the worker does. */
static void bus(const char *json, rtc_time_t now) {
    sfu_bus_msg_t m;
    char why[200];
    int rc = sfu_bus_parse(json, strlen(json), &m, why, sizeof why);
    if (rc == RTC_OK) sfu_room_handle_bus(room, &m, now);
    else sfu_room_send_error(room, &m, "bad_request", why);
    sfu_bus_msg_free(&m);
}

static void join(const char *pid, const char *identity, const char *grants, rtc_time_t now) {
    char j[512];
    snprintf(j, sizeof j, "{\"type\":\"join\",\"room\":\"demo\",\"participant\":\"%s\",\"signal\":\"sig-a\","
             "\"payload\":{\"identity\":\"%s\",\"name\":\"N %s\"%s%s}}", pid, identity, identity,
             grants ? ",\"grants\":" : "", grants ? grants : "");
    bus(j, now);
}

static sfu_track_desc_t video_desc(const char *id) {
    sfu_track_desc_t d = {0};
    snprintf(d.id, sizeof d.id, "%s", id);
    snprintf(d.mid, sizeof d.mid, "0");
    d.video = true;
    d.n_layers = 3;
    snprintf(d.rids[0], sizeof d.rids[0], "q");
    snprintf(d.rids[1], sizeof d.rids[1], "h");
    snprintf(d.rids[2], sizeof d.rids[2], "f");
    snprintf(d.name, sizeof d.name, "cam");
    return d;
}

static sfu_track_desc_t audio_desc(const char *id) {
    sfu_track_desc_t d = {0};
    snprintf(d.id, sizeof d.id, "%s", id);
    snprintf(d.mid, sizeof d.mid, "1");
    d.n_layers = 1;
    d.audio_level_ext = 1;
    return d;
}

static void offer(const char *pid, rtc_time_t now) {
    char j[512];
    snprintf(j, sizeof j, "{\"type\":\"offer\",\"room\":\"demo\",\"participant\":\"%s\",\"payload\":"
             "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"v=0\",\"tracks\":[{\"mid\":\"0\","
             "\"source\":\"camera\",\"name\":\"cam\"}]}}", pid);
    bus(j, now);
}

/* Replays the three VP8 layers from t0 for `ms` milliseconds (looping the 1 s fixtures with
 * continuing seq/ts) into a track. */
typedef struct {
    fx_stream_t s[3];
    size_t rep[3], idx[3];
} vp8_t;

static void vp8_open(vp8_t *v) {
    static const char *n[3] = {"vp8_q", "vp8_h", "vp8_f"};
    memset(v, 0, sizeof *v);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(fx_load(&v->s[i], n[i]), 0);
}

static void vp8_close(vp8_t *v) {
    for (int i = 0; i < 3; i++) fx_free(&v->s[i]);
}

static void vp8_play(vp8_t *v, sfu_track_t *t, rtc_time_t t0, rtc_time_t until) {
    for (;;) {
        int best = -1;
        rtc_time_t bt = 0;
        for (int i = 0; i < 3; i++) {
            rtc_time_t at = t0 + RTC_MS(v->s[i].pkts[v->idx[i]].arrival_ms + 1000 * v->rep[i]);
            if (best < 0 || at < bt) { best = i; bt = at; }
        }
        if (bt >= until) return;
        const fx_packet_t *fp = &v->s[best].pkts[v->idx[best]];
        uint8_t buf[1500];
        memcpy(buf, fp->pkt, fp->len);
        uint32_t r = (uint32_t)v->rep[best];
        rtc_put_be16(buf + 2, (uint16_t)(rtc_be16(buf + 2) + r * v->s[best].n));
        rtc_put_be32(buf + 4, rtc_be32(buf + 4) + r * 90000u);
        if (sfu_room_next_timeout(room) <= bt) sfu_room_handle_timeout(room, bt);
        ck_assert_int_ge(sfu_room_on_rtp(room, t, best, SFU_CODEC_VP8, buf, fp->len, bt), 0);
        if (++v->idx[best] == v->s[best].n) {
            v->idx[best] = 0;
            v->rep[best]++;
        }
    }
}

static void teardown(void) {
    sfu_room_free(room);
    room = NULL;
    clear_outs();
}

/* ------------------------------------------------------------------------------------------
 * Tests.
 */
START_TEST(test_join_announces_and_persists) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    cJSON *j = got("PA_a", "joined", 0);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(str(cJSON_GetObjectItem(j, "participant"), "identity"), "alice");
    ck_assert_str_eq(str(cJSON_GetObjectItem(j, "room"), "name"), "demo");
    ck_assert_str_eq(str(cJSON_GetObjectItem(j, "room"), "sid"), sfu_room_sid(room));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "participants")), 0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "resumed")));
    ck_assert_str_eq(str(j, "sid"), sfu_room_sid(room)); /* what signal reads */
    ck_assert_str_eq(outs[0].signal, "sig-a");
    join("PA_b", "bob", NULL, RTC_MS(10));
    j = got("PA_b", "joined", 0);
    cJSON *others = cJSON_GetObjectItem(j, "participants");
    ck_assert_int_eq(cJSON_GetArraySize(others), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(others, 0), "id"), "PA_a");
    cJSON *pj = got("PA_a", "participant_joined", 0);
    ck_assert_str_eq(str(cJSON_GetObjectItem(pj, "participant"), "name"), "N bob");
    ck_assert_int_eq(count("PA_b", "participant_joined"), 0);
    ck_assert_int_eq(saved, 2);
    ck_assert_int_eq(room_saves, 2);
    ck_assert_int_eq(d_participants, 2);
    ck_assert_uint_eq(sfu_room_participant_count(room), 2);
    /* The Redis form of participant_info carries the signal process. */
    cJSON *info = sfu_participant_info(sfu_room_find(room, "PA_a"), true);
    ck_assert_str_eq(str(info, "signal"), "sig-a");
    cJSON_Delete(info);
    /* A join without a participant id gets one. */
    bus("{\"type\":\"join\",\"room\":\"demo\",\"signal\":\"sig-b\",\"payload\":{\"identity\":\"carol\"}}", RTC_MS(20));
    ck_assert_uint_eq(sfu_room_participant_count(room), 3);
    ck_assert_int_eq(strncmp(sfu_participant_id(sfu_room_participant(room, 2)), "PA_", 3), 0);
    teardown();
}
END_TEST

START_TEST(test_publish_subscribe_forward_and_layers) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    join("PA_v", "viewer", "{\"publish\":false,\"subscribe\":false,\"data\":false}", 0);
    clear_outs();
    next_tracks[0] = video_desc("TR_cam");
    n_next_tracks = 1;
    offer("PA_a", RTC_MS(100));
    cJSON *ans = got("PA_a", "answer", 0);
    ck_assert_ptr_nonnull(ans);
    ck_assert_str_eq(str(ans, "pc"), "publisher");
    ck_assert_str_eq(str(ans, "sdp"), "v=0 answer");
    /* Everyone else hears of it; bob (subscribe grant) gets it on his subscriber PC. */
    cJSON *tp = got("PA_b", "track_published", 0);
    ck_assert_str_eq(str(tp, "participant_id"), "PA_a");
    cJSON *ti = cJSON_GetObjectItem(tp, "track");
    ck_assert_str_eq(str(ti, "id"), "TR_cam");
    ck_assert_str_eq(str(ti, "kind"), "video");
    ck_assert_str_eq(str(ti, "source"), "camera");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ti, "simulcast")), 3);
    ck_assert_ptr_nonnull(got("PA_v", "track_published", 0));
    ck_assert_int_eq(count("PA_a", "track_published"), 0);
    ck_assert_int_eq(med_of("PA_b")->subscribes, 1);
    ck_assert_int_eq(med_of("PA_v")->subscribes, 0);
    ck_assert_str_eq(str(got("PA_b", "offer", 0), "pc"), "subscriber");
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(got("PA_b", "offer", 0), "offer_id")), 1);
    ck_assert_int_eq(d_tracks, 1);
    sfu_track_t *t = sfu_participant_track(sfu_room_find(room, "PA_a"), 0);
    ck_assert_ptr_nonnull(t);

    /* Media flows: bob gets a clean stream, starting on f (room default budget 2.5 Mbps). */
    vp8_t v;
    vp8_open(&v);
    vp8_play(&v, t, RTC_MS(100), RTC_MS(1100));
    ck_assert_uint_ge(med_of("PA_b")->rtp, 30); /* f: one packet per frame, 30 frames */
    cJSON *lay = got("PA_b", "layer", 0);
    ck_assert_ptr_nonnull(lay);
    ck_assert_str_eq(str(lay, "rid"), "f");
    ck_assert_int_eq((int)cJSON_GetObjectItem(lay, "width")->valuedouble, 320);
    /* Bob shrinks the tile: the room moves him to h at h's next keyframe. */
    bus("{\"type\":\"subscription\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"max_width\":160,\"max_height\":90}}", RTC_MS(1100));
    vp8_play(&v, t, RTC_MS(100), RTC_MS(2100));
    lay = got("PA_b", "layer", 1);
    ck_assert_ptr_nonnull(lay);
    ck_assert_str_eq(str(lay, "rid"), "h");
    ck_assert_int_eq((int)cJSON_GetObjectItem(lay, "height")->valuedouble, 90);
    /* A poor estimate on bob's leg: down to q (the fixtures' q is ~26 kbps, h ~46 kbps). */
    sfu_room_set_bandwidth(room, sfu_room_find(room, "PA_b"), 35000, RTC_MS(2100));
    vp8_play(&v, t, RTC_MS(100), RTC_MS(3100));
    ck_assert_str_eq(str(got("PA_b", "layer", 2), "rid"), "q");
    ck_assert_int_gt(keyframe_requests, 0);
    /* Bob pauses the track: nothing more reaches him. */
    bus("{\"type\":\"subscription\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"paused\":true}}", RTC_MS(3100));
    size_t before = med_of("PA_b")->rtp;
    vp8_play(&v, t, RTC_MS(100), RTC_MS(3600));
    ck_assert_uint_eq(med_of("PA_b")->rtp, before);
    /* Unknown track in a subscription: an error echoing the rid. */
    bus("{\"type\":\"subscription\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":"
        "{\"track_id\":\"TR_none\",\"rid\":\"r7\"}}", RTC_MS(3600));
    cJSON *e = got("PA_b", "error", 0);
    ck_assert_str_eq(str(e, "code"), "bad_request");
    ck_assert_str_eq(str(e, "rid"), "r7");
    /* The track info now knows its size. */
    cJSON *info = sfu_track_info(t);
    ck_assert_int_eq((int)cJSON_GetObjectItem(info, "width")->valuedouble, 320);
    cJSON_Delete(info);
    vp8_close(&v);
    teardown();
}
END_TEST

START_TEST(test_mute_unmute) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    next_tracks[0] = video_desc("TR_cam");
    n_next_tracks = 1;
    offer("PA_a", 0);
    sfu_track_t *t = sfu_participant_track(sfu_room_find(room, "PA_a"), 0);
    vp8_t v;
    vp8_open(&v);
    vp8_play(&v, t, 0, RTC_MS(500));
    clear_outs();
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"muted\":true}}", RTC_MS(500));
    cJSON *m = got("PA_b", "track_muted", 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "muted")));
    ck_assert_str_eq(str(m, "track_id"), "TR_cam");
    ck_assert(sfu_track_muted(t));
    size_t before = med_of("PA_b")->rtp;
    vp8_play(&v, t, 0, RTC_MS(1000));
    ck_assert_uint_eq(med_of("PA_b")->rtp, before);
    /* Muting again changes nothing and says nothing. */
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"muted\":true}}", RTC_MS(1000));
    ck_assert_int_eq(count("PA_b", "track_muted"), 1);
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"muted\":false}}", RTC_MS(1000));
    vp8_play(&v, t, 0, RTC_MS(2000));
    ck_assert_uint_gt(med_of("PA_b")->rtp, before); /* resumed, still gapless (m_send_rtp) */
    /* Only the owner can mute a track. */
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":"
        "{\"track_id\":\"TR_cam\",\"muted\":true}}", RTC_MS(2000));
    ck_assert_str_eq(str(got("PA_b", "error", 0), "code"), "bad_request");
    vp8_close(&v);
    teardown();
}
END_TEST

START_TEST(test_data_relay_paths_and_grants) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    join("PA_c", "carol", NULL, 0);
    join("PA_m", "mute", "{\"publish\":true,\"subscribe\":true,\"data\":false}", 0);
    clear_outs();
    med_of("PA_c")->dc_open = true;
    /* Through signalling to everyone: bob by signal, carol by data channel. */
    bus("{\"type\":\"data\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"payload\":\"hello\"}}", 0);
    cJSON *d = got("PA_b", "data", 0);
    ck_assert_str_eq(str(d, "from"), "PA_a");
    ck_assert_str_eq(str(d, "payload"), "hello");
    ck_assert_int_eq(count("PA_c", "data"), 0);
    ck_assert_int_eq(med_of("PA_c")->data_msgs, 1);
    ck_assert_str_eq(med_of("PA_c")->last_data, "{\"from\":\"PA_a\",\"payload\":\"hello\"}");
    ck_assert_int_eq(count("PA_a", "data"), 0); /* not echoed to the sender */
    ck_assert_ptr_nonnull(got("PA_m", "data", 0)); /* receiving needs no data grant */
    /* To named participants only (unknown ids ignored). */
    clear_outs();
    bus("{\"type\":\"data\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"payload\":\"psst\","
        "\"to\":[\"PA_b\",\"PA_zz\"]}}", 0);
    ck_assert_int_eq(count(NULL, "data"), 1);
    ck_assert_ptr_nonnull(got("PA_b", "data", 0));
    /* From a publisher data channel: the whole text is the payload, for the room (even when
     * it looks like JSON); on an open subscriber channel it arrives as {"from","payload"}. */
    clear_outs();
    const char *dcmsg = "{\"payload\":\"via dc\",\"to\":[\"PA_b\"]}";
    sfu_room_on_data(room, sfu_room_find(room, "PA_a"), (const uint8_t *)dcmsg, strlen(dcmsg), true, 0);
    ck_assert_str_eq(str(got("PA_b", "data", 0), "payload"), dcmsg);
    ck_assert_str_eq(str(got("PA_m", "data", 0), "payload"), dcmsg);
    ck_assert_str_eq(med_of("PA_c")->last_data,
                     "{\"from\":\"PA_a\",\"payload\":\"{\\\"payload\\\":\\\"via dc\\\",\\\"to\\\":[\\\"PA_b\\\"]}\"}");
    sfu_room_on_data(room, sfu_room_find(room, "PA_a"), (const uint8_t *)"plain text", 10, true, 0);
    ck_assert_str_eq(str(got("PA_b", "data", 1), "payload"), "plain text");
    /* Binary and grant-less data are dropped. */
    sfu_room_on_data(room, sfu_room_find(room, "PA_a"), (const uint8_t *)"\x01\x02", 2, false, 0);
    sfu_room_on_data(room, sfu_room_find(room, "PA_m"), (const uint8_t *)"x", 1, true, 0);
    ck_assert_int_eq(count("PA_b", "data"), 2);
    sfu_room_stats_t st;
    sfu_room_stats(room, &st);
    ck_assert_uint_eq(st.data_dropped, 2);
    bus("{\"type\":\"data\",\"room\":\"demo\",\"participant\":\"PA_m\",\"payload\":{\"payload\":\"x\"}}", 0);
    ck_assert_str_eq(str(got("PA_m", "error", 0), "code"), "forbidden");
    teardown();
}
END_TEST

/* 20 ms audio packets with the ssrc-audio-level extension (id 1). */
static void audio_packets(sfu_track_t *t, uint16_t *seq, rtc_time_t from, rtc_time_t to, uint8_t dbov) {
    for (rtc_time_t now = from; now < to; now += RTC_MS(20)) {
        uint8_t b[64] = {0x90, 111};
        rtc_put_be16(b + 2, (*seq)++);
        rtc_put_be32(b + 4, (uint32_t)(now / 1000) * 48);
        rtc_put_be32(b + 8, 0xa0d10);
        rtc_put_be16(b + 12, 0xBEDE);
        rtc_put_be16(b + 14, 1);
        b[16] = 0x10;
        b[17] = 0x80 | dbov;
        if (sfu_room_next_timeout(room) <= now) sfu_room_handle_timeout(room, now);
        sfu_room_on_rtp(room, t, 0, SFU_CODEC_OPUS, b, 40, now);
    }
}

START_TEST(test_active_speakers) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    next_tracks[0] = audio_desc("TR_mic");
    n_next_tracks = 1;
    offer("PA_a", 0);
    sfu_track_t *t = sfu_participant_track(sfu_room_find(room, "PA_a"), 0);
    clear_outs();
    uint16_t seq = 1;
    audio_packets(t, &seq, 0, RTC_SEC(1), 100);     /* background */
    ck_assert_int_eq(count(NULL, "active_speakers"), 0);
    audio_packets(t, &seq, RTC_SEC(1), RTC_SEC(2), 20); /* alice talks */
    cJSON *s = got("PA_b", "active_speakers", 0);
    ck_assert_ptr_nonnull(s);
    cJSON *sp = cJSON_GetObjectItem(s, "speakers");
    ck_assert_int_eq(cJSON_GetArraySize(sp), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(sp, 0), "participant_id"), "PA_a");
    ck_assert_ptr_nonnull(got("PA_a", "active_speakers", 0)); /* the speaker hears it too */
    /* Someone joining now learns who is speaking, without waiting for a change. */
    join("PA_c", "carol", NULL, RTC_SEC(2));
    cJSON *now_speaking = got("PA_c", "active_speakers", 0);
    ck_assert_ptr_nonnull(now_speaking);
    ck_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(now_speaking, "speakers"), 0), "participant_id"), "PA_a");
    ck_assert_uint_gt(med_of("PA_b")->rtp, 90);
    /* Muted audio is silence for the detector. */
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":"
        "{\"track_id\":\"TR_mic\",\"muted\":true}}", RTC_SEC(2));
    audio_packets(t, &seq, RTC_SEC(2), RTC_SEC(4), 20);
    cJSON *last = got("PA_b", "active_speakers", 1);
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(last, "speakers")), 0);
    teardown();
}
END_TEST

START_TEST(test_leave_remove_replace_fail_close) {
    room = make_room(NULL, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    join("PA_c", "carol", NULL, 0);
    next_tracks[0] = video_desc("TR_cam");
    next_tracks[1] = audio_desc("TR_mic");
    n_next_tracks = 2;
    offer("PA_a", 0);
    ck_assert_int_eq(med_of("PA_b")->subscribes, 2);
    clear_outs();
    med_t *mb = med_of("PA_b"), *ma = med_of("PA_a");
    /* alice leaves (signal already told her `left`): participant_left to the others, her
     * tracks leave their subscriber PeerConnections, her media is detached, Redis forgets
     * her. */
    bus("{\"type\":\"leave\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"reason\":\"left\"}}", RTC_MS(10));
    ck_assert_int_eq(count("PA_a", "left"), 0);
    cJSON *pl = got("PA_b", "participant_left", 0);
    ck_assert_str_eq(str(pl, "participant_id"), "PA_a");
    ck_assert_str_eq(str(pl, "reason"), "left");
    ck_assert_ptr_nonnull(got("PA_c", "participant_left", 0));
    ck_assert_int_eq(mb->unsubscribes, 2);
    ck_assert(ma->detached);
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(d_tracks, 0);
    ck_assert_uint_eq(sfu_room_track_count(room), 0);
    /* A second session of bob's identity replaces the first. */
    clear_outs();
    join("PA_b2", "bob", NULL, RTC_MS(20));
    ck_assert_str_eq(str(got("PA_b", "left", 0), "reason"), "replaced");
    ck_assert_ptr_nonnull(got("PA_b2", "joined", 0));
    ck_assert_str_eq(str(got("PA_c", "participant_left", 0), "participant_id"), "PA_b");
    ck_assert_ptr_null(sfu_room_find(room, "PA_b"));
    /* Admin removal. */
    clear_outs();
    bus("{\"type\":\"remove\",\"room\":\"demo\",\"participant\":\"PA_c\"}", RTC_MS(30));
    ck_assert_str_eq(str(got("PA_c", "left", 0), "reason"), "removed");
    ck_assert_str_eq(str(got("PA_b2", "participant_left", 0), "reason"), "removed");
    /* ICE failure. */
    join("PA_d", "dave", NULL, RTC_MS(40));
    clear_outs();
    sfu_room_participant_failed(room, sfu_room_find(room, "PA_d"), "ice failed", RTC_MS(50));
    ck_assert_str_eq(str(got("PA_d", "left", 0), "reason"), "failed");
    ck_assert_str_eq(str(got("PA_b2", "participant_left", 0), "reason"), "failed");
    /* Her resume window ended on signal: disconnected. */
    join("PA_f", "frank", NULL, RTC_MS(55));
    clear_outs();
    bus("{\"type\":\"leave\",\"room\":\"demo\",\"participant\":\"PA_f\",\"payload\":{\"reason\":\"disconnected\"}}", RTC_MS(56));
    ck_assert_str_eq(str(got("PA_b2", "participant_left", 0), "reason"), "disconnected");
    ck_assert_int_eq(count("PA_f", "left"), 0);
    /* Its participant key expired (the signal process died): the same, from the worker. */
    join("PA_g", "gina", NULL, RTC_MS(57));
    clear_outs();
    sfu_room_participant_disconnected(room, sfu_room_find(room, "PA_g"), RTC_MS(58));
    ck_assert_str_eq(str(got("PA_b2", "participant_left", 0), "reason"), "disconnected");
    ck_assert_ptr_null(sfu_room_find(room, "PA_g"));
    /* close_room: everyone out. */
    join("PA_e", "erin", NULL, RTC_MS(60));
    clear_outs();
    bus("{\"type\":\"close_room\",\"room\":\"demo\"}", RTC_MS(70));
    ck_assert_str_eq(str(got("PA_b2", "left", 0), "reason"), "room_closed");
    ck_assert_str_eq(str(got("PA_e", "left", 0), "reason"), "room_closed");
    ck_assert_uint_eq(sfu_room_participant_count(room), 0);
    ck_assert_int_eq(d_participants, 0);
    ck_assert_int_eq(sfu_room_next_timeout(room), RTC_TIME_NEVER);
    teardown();
}
END_TEST

START_TEST(test_errors_resume_and_limits) {
    sfu_room_config_t cfg;
    sfu_room_config_init(&cfg);
    cfg.max_participants = 2;
    cfg.max_tracks = 1;
    room = make_room(&cfg, true);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", "{\"publish\":false,\"subscribe\":true}", 0);
    /* Full room: answered on the joiner's signal process. */
    join("PA_c", "carol", NULL, 0);
    cJSON *e = got("PA_c", "error", 0);
    ck_assert_str_eq(str(e, "code"), "room_full");
    ck_assert_ptr_null(sfu_room_find(room, "PA_c"));
    /* Commands for someone not in the room. */
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_x\",\"signal\":\"sig-z\",\"payload\":"
        "{\"track_id\":\"t\",\"muted\":true}}", 0);
    ck_assert_str_eq(str(got("PA_x", "error", 0), "code"), "not_joined");
    ck_assert_str_eq(outs[n_outs - 1].signal, "sig-z");
    bus("{\"type\":\"resume\",\"room\":\"demo\",\"participant\":\"PA_y\",\"signal\":\"sig-z\"}", 0);
    ck_assert_str_eq(str(got("PA_y", "error", 0), "code"), "resume_failed");
    /* Unparsable commands are answered bad_request when they can be routed. */
    bus("{\"type\":\"mute\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"track_id\":1}}", 0);
    ck_assert_str_eq(str(got("PA_a", "error", 0), "code"), "bad_request");
    bus("{\"type\":\"wave\",\"room\":\"demo\",\"participant\":\"PA_a\"}", 0);
    ck_assert_str_eq(str(got("PA_a", "error", 1), "code"), "unknown_type");
    /* Publishing without the grant; a rejected offer. */
    offer("PA_b", 0);
    ck_assert_str_eq(str(got("PA_b", "error", 0), "code"), "forbidden");
    bus("{\"type\":\"offer\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":"
        "{\"pc\":\"publisher\",\"sdp\":\"bad sdp\"}}", 0);
    e = got("PA_a", "error", 2);
    ck_assert_str_eq(str(e, "code"), "bad_request");
    ck_assert_str_eq(str(e, "message"), "line 1: not SDP");
    /* Track limit (1) and duplicate ids. */
    next_tracks[0] = video_desc("TR_1");
    next_tracks[1] = video_desc("TR_2");
    n_next_tracks = 2;
    offer("PA_a", 0);
    ck_assert_uint_eq(sfu_participant_track_count(sfu_room_find(room, "PA_a")), 1);
    sfu_track_desc_t dup = video_desc("TR_1");
    ck_assert_ptr_null(sfu_room_publish_track(room, sfu_room_find(room, "PA_b"), &dup, 0));
    /* Candidates and answers reach the media layer; a garbled candidate is reported. */
    bus("{\"type\":\"candidate\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"pc\":\"publisher\","
        "\"candidate\":{\"candidate\":\"garbage\"}}}", 0);
    ck_assert_int_eq(med_of("PA_a")->candidates, 1);
    ck_assert_str_eq(str(got("PA_a", "error", 3), "code"), "bad_request");
    bus("{\"type\":\"answer\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":{\"pc\":\"subscriber\","
        "\"sdp\":\"v=0\"}}", 0);
    ck_assert_int_eq(med_of("PA_b")->answers, 1);
    ck_assert_int_eq(med_of("PA_b")->last_offer_id, -1); /* no offer_id: -1 */
    bus("{\"type\":\"answer\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":{\"pc\":\"subscriber\","
        "\"sdp\":\"v=0\",\"offer_id\":7}}", 0);
    ck_assert_int_eq(med_of("PA_b")->answers, 2);
    ck_assert_int_eq(med_of("PA_b")->last_offer_id, 7);
    /* A malformed offer_id never reaches the media layer. */
    bus("{\"type\":\"answer\",\"room\":\"demo\",\"participant\":\"PA_b\",\"payload\":{\"pc\":\"subscriber\","
        "\"sdp\":\"v=0\",\"offer_id\":\"7\"}}", 0);
    ck_assert_int_eq(med_of("PA_b")->answers, 2);
    /* Resume from another signal process: joined again, resumed, routed to the new one. */
    clear_outs();
    bus("{\"type\":\"resume\",\"room\":\"demo\",\"participant\":\"PA_a\",\"signal\":\"sig-new\"}", 0);
    cJSON *j = got("PA_a", "joined", 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "resumed")));
    ck_assert_str_eq(outs[0].signal, "sig-new");
    ck_assert_str_eq(sfu_participant_signal(sfu_room_find(room, "PA_a")), "sig-new");
    ck_assert_int_eq(med_of("PA_a")->resumes, 1); /* the media layer re-sends an offer that is out */
    /* Local candidates are trickled to the client. */
    sfu_room_local_candidate(room, sfu_room_find(room, "PA_a"), true, "candidate:1 1 udp 1 127.0.0.1 9 typ host", "0", 0);
    sfu_room_local_candidate(room, sfu_room_find(room, "PA_a"), false, NULL, NULL, -1);
    ck_assert_str_eq(str(cJSON_GetObjectItem(got("PA_a", "candidate", 0), "candidate"), "sdp_mid"), "0");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(got("PA_a", "candidate", 1), "candidate")));
    teardown();
}
END_TEST

START_TEST(test_without_media_engine) {
    room = make_room(NULL, false);
    join("PA_a", "alice", NULL, 0);
    join("PA_b", "bob", NULL, 0);
    clear_outs();
    offer("PA_a", 0);
    ck_assert_str_eq(str(got("PA_a", "error", 0), "code"), "unavailable");
    /* Data still works, through signalling. */
    bus("{\"type\":\"data\",\"room\":\"demo\",\"participant\":\"PA_a\",\"payload\":{\"payload\":\"hi\"}}", 0);
    ck_assert_ptr_nonnull(got("PA_b", "data", 0));
    teardown();
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_room");
    TCase *tc = tcase_create("room");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_join_announces_and_persists);
    tcase_add_test(tc, test_publish_subscribe_forward_and_layers);
    tcase_add_test(tc, test_mute_unmute);
    tcase_add_test(tc, test_data_relay_paths_and_grants);
    tcase_add_test(tc, test_active_speakers);
    tcase_add_test(tc, test_leave_remove_replace_fail_close);
    tcase_add_test(tc, test_errors_resume_and_limits);
    tcase_add_test(tc, test_without_media_engine);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
