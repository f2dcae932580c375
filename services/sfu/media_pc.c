/* The SFU's media engine on RTCPeerConnection (see media_pc.h). */
#include "sfu/media_pc.h"

#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "rtc/pc.h"
#include "rtc/rtp.h"
#include "rtc/sdp.h"

typedef struct part part_t;

/* One forwarded track on a subscriber PeerConnection. */
typedef struct {
    part_t *part;
    rtc_pc_transceiver_t *t;
    sfu_downtrack_t *dt;
    sfu_track_t *track;
    int16_t pt_map[128];    /* publisher payload type -> ours, -1 unknown, -2 not negotiated */
    uint64_t send_errors;   /* packets the PeerConnection refused (e.g. too large) */
} msub_t;

typedef struct {
    uv_loop_t *loop;
    unsigned index;
    rtc_pc_runtime_t *rt;
    rtc_dtls_cert_t *cert;
    rtc_net_filter_t filter;
    rtc_addr_t announce;        /* 1:1 NAT address for host candidates, or RTC_AF_UNSPEC */
    rtc_time_t offer_timeout;   /* a subscriber offer unanswered this long is made again */
    unsigned probe_max_pct;     /* a probe's rate, at most this % of the estimate; 0: none */
    uv_timer_t work;         /* deferred negotiation / failure handling */
    uv_timer_t reaper;       /* frees detached participants once their PCs are gone */
    uv_timer_t tick;         /* once a second: bandwidth estimates, unanswered offers */
    part_t *live;            /* attached parts */
    part_t *pending;         /* parts with deferred work */
    part_t *dead;            /* detached, waiting to be freed */
} mworker_t;

struct part {
    mworker_t *w;
    sfu_room_t *room;
    sfu_participant_t *p;
    rtc_peer_connection_t *pub, *sub;
    rtc_pc_datachannel_t *sub_dc;
    msub_t **subs;
    size_t n_subs, cap_subs;
    bool negotiate;          /* the subscriber PC needs an offer */
    uint32_t offer_id;       /* the last offer's `offer_id` (answers echo it) */
    rtc_time_t offer_sent;   /* when it went out */
    unsigned offers_unanswered; /* times the offer out was sent again for want of an answer */
    unsigned answers_rejected;  /* answers in a row the subscriber PC refused */
    /* Bandwidth probing of the subscriber leg. */
    bool probe_pending;      /* a probe went out; judged at the next tick it is done */
    uint64_t probe_from;     /* the estimate when it went out */
    unsigned probe_fails;    /* probes in a row that did not raise the estimate */
    rtc_time_t probe_next;   /* no probe before this */
    bool failed;
    const char *fail_reason;
    bool queued;
    bool detached;
    rtc_time_t dead_since;
    part_t *next_pending, *next_dead, *next_live;
};

static rtc_time_t now_of(const mworker_t *w) { return rtc_pc_runtime_now(w->rt); }

/* ------------------------------------------------------------------------------------------
 * Deferred work: negotiation and failures run on the next loop turn, outside any
 * PeerConnection callback and after the message that caused them was answered.
 */
static void on_work(uv_timer_t *t);

static void queue(part_t *pt) {
    if (pt->queued || pt->detached) return;
    pt->queued = true;
    pt->next_pending = pt->w->pending;
    pt->w->pending = pt;
    uv_timer_start(&pt->w->work, on_work, 0, 0);
}

/* An offer is out (sent, no answer yet) exactly while the subscriber PC has a local offer. */
static bool offer_out(const part_t *pt) {
    return pt->sub && rtc_peer_connection_signaling_state(pt->sub) == RTC_PC_SIGNALING_HAVE_LOCAL_OFFER;
}

/* Sends the subscriber PC's local offer (the one out) to the client as offer_id. */
static int send_offer(part_t *pt) {
    rtc_buf_t sdp;
    rtc_buf_init(&sdp);
    int rc = rtc_peer_connection_local_description(pt->sub, &sdp, NULL);
    if (rc == RTC_OK && sdp.data) {
        pt->offer_sent = now_of(pt->w);
        sfu_room_subscriber_offer(pt->room, pt->p, (const char *)sdp.data, pt->offer_id);
    }
    rtc_buf_free(&sdp);
    return rc;
}

static void negotiate(part_t *pt) {
    if (rtc_peer_connection_signaling_state(pt->sub) != RTC_PC_SIGNALING_STABLE) {
        pt->negotiate = true; /* after the answer */
        return;
    }
    pt->negotiate = false;
    int rc = rtc_peer_connection_set_local_description(pt->sub, RTC_PC_SDP_OFFER, NULL, now_of(pt->w));
    if (rc == RTC_OK) {
        pt->offer_id++;
        pt->offers_unanswered = 0;
        rc = send_offer(pt);
    }
    if (rc != RTC_OK)
        RTC_LOGW("sfu", "subscriber offer for %s failed: %s", sfu_participant_id(pt->p), rtc_strerror(rc));
}

/* Sends the offer that is out once more, same offer_id: it may have been lost on the way (a
 * signal process that died, a Redis restart) or the client may simply be slow; a client that
 * already answered it answers again, and the repeat is ignored as stale. The subscriber PC
 * stays as it is (no rollback: ICE and DTLS keep their state while the client catches up). */
static void resend_offer(part_t *pt, const char *why) {
    RTC_LOGW("sfu", "%s: subscriber offer %u %s; sending it again", sfu_participant_id(pt->p),
             pt->offer_id, why);
    send_offer(pt);
}

/* Takes back the offer that is out (its answer could not be applied) and makes a new one on
 * the next loop turn. The subscriber PC returns to its last agreed state; transceivers keep
 * the mids the withdrawn offer gave them, so the new offer lines up with whatever the client
 * may already have applied. Stale answers to the withdrawn offer are recognised by offer_id. */
static void withdraw_offer(part_t *pt, const char *why) {
    RTC_LOGW("sfu", "%s: subscriber offer %u %s; offering again", sfu_participant_id(pt->p),
             pt->offer_id, why);
    if (offer_out(pt)) rtc_peer_connection_set_local_description(pt->sub, RTC_PC_SDP_ROLLBACK, NULL, now_of(pt->w));
    pt->negotiate = true;
    queue(pt);
}

static void on_work(uv_timer_t *t) {
    mworker_t *w = t->data;
    while (w->pending) {
        part_t *pt = w->pending;
        w->pending = pt->next_pending;
        pt->queued = false;
        if (pt->detached) continue;
        if (pt->failed) {
            /* Removes the participant; the room detaches us (which puts pt on the dead list). */
            sfu_room_participant_failed(pt->room, pt->p, pt->fail_reason, now_of(w));
            continue;
        }
        if (pt->negotiate) negotiate(pt);
    }
}

/* An offer without an answer for offer_timeout (doubling per repeat, up to 8x: a slow client
 * is not flooded) is sent again: a client whose offer was lost in signalling, or that could not
 * apply it then, would otherwise block every later change of its subscriber leg. */
static void check_offer(part_t *pt, rtc_time_t now) {
    if (!offer_out(pt)) return;
    unsigned shift = pt->offers_unanswered < 3 ? pt->offers_unanswered : 3;
    if (now - pt->offer_sent < (pt->w->offer_timeout << shift)) return;
    pt->offers_unanswered++;
    resend_offer(pt, "not answered in time");
}

/* Probes pt's subscriber leg when the room would forward more than its estimate allows (see
 * media_pc.h). Runs once a second, after the estimate was handed to the room. */
#define PROBE_DURATION RTC_MS(30)
#define PROBE_MAX_LOSS 0.02
#define PROBE_MAX_BACKOFF_SHIFT 4
static void probe_leg(part_t *pt, const rtc_pc_bandwidth_t *bw, rtc_time_t now) {
    mworker_t *w = pt->w;
    uint64_t est = bw->target_bps;
    if (!w->probe_max_pct || bw->probing) return;
    if (pt->probe_pending) {
        pt->probe_pending = false;
        if (bw->target_bps * 10 < pt->probe_from * 11) {
            if (pt->probe_fails < PROBE_MAX_BACKOFF_SHIFT) pt->probe_fails++;
            pt->probe_next = now + (RTC_SEC(1) << pt->probe_fails);
        } else {
            pt->probe_fails = 0;
        }
    }
    uint64_t wanted = sfu_participant_wanted_bandwidth(pt->p);
    uint64_t goal = wanted + wanted / 10;
    if (!wanted || est >= goal) return;
    if (bw->loss > PROBE_MAX_LOSS) {
        RTC_LOGD("sfu", "%s: subscriber leg shows %.1f %% loss: not probing", sfu_participant_id(pt->p),
                 bw->loss * 100);
        return;
    }
    if (now < pt->probe_next) return;
    uint64_t rate = est * w->probe_max_pct / 100;
    if (rate > goal) rate = goal;
    if (rate <= est) return;
    int rc = rtc_peer_connection_probe(pt->sub, rate, PROBE_DURATION, now);
    if (rc != RTC_OK) {
        RTC_LOGD("sfu", "%s: no probe: %s", sfu_participant_id(pt->p), rtc_strerror(rc));
        return;
    }
    RTC_LOGD("sfu", "%s: probing the subscriber leg at %llu bit/s (estimate %llu, wanted %llu)",
             sfu_participant_id(pt->p), (unsigned long long)rate, (unsigned long long)est,
             (unsigned long long)wanted);
    pt->probe_pending = true;
    pt->probe_from = est;
}

static void on_tick(uv_timer_t *t) {
    mworker_t *w = t->data;
    rtc_time_t now = now_of(w);
    for (part_t *pt = w->live; pt; pt = pt->next_live) {
        if (pt->detached || pt->failed) continue;
        check_offer(pt, now);
        if (rtc_peer_connection_connection_state(pt->sub) != RTC_PC_STATE_CONNECTED) continue;
        /* The leg's estimate: the PeerConnection's TWCC-based estimator (what getStats()
         * reports as availableOutgoingBitrate); 0 while there is none yet. */
        rtc_pc_bandwidth_t bw;
        if (rtc_peer_connection_bandwidth(pt->sub, &bw) != RTC_OK || !bw.target_bps) continue;
        RTC_LOGD("sfu", "%s: subscriber leg estimate %llu bit/s", sfu_participant_id(pt->p),
                 (unsigned long long)bw.target_bps);
        sfu_room_set_bandwidth(pt->room, pt->p, bw.target_bps, now);
        probe_leg(pt, &bw, now);
    }
}

static void on_reap(uv_timer_t *t) {
    mworker_t *w = t->data;
    rtc_time_t now = now_of(w);
    part_t **pp = &w->dead;
    while (*pp) {
        part_t *pt = *pp;
        if (now - pt->dead_since < RTC_SEC(1)) {
            pp = &pt->next_dead;
            continue;
        }
        *pp = pt->next_dead;
        for (size_t i = 0; i < pt->n_subs; i++) free(pt->subs[i]);
        free(pt->subs);
        free(pt);
    }
}

/* ------------------------------------------------------------------------------------------
 * PeerConnection callbacks.
 */
static void fail(part_t *pt, const char *why) {
    if (pt->detached || pt->failed) return;
    pt->failed = true;
    pt->fail_reason = why;
    queue(pt);
}

static void on_pub_state(void *user, rtc_pc_state_t s) {
    if (s == RTC_PC_STATE_FAILED) fail(user, "publisher connection failed");
}

static void on_sub_state(void *user, rtc_pc_state_t s) {
    if (s == RTC_PC_STATE_FAILED) fail(user, "subscriber connection failed");
}

static void on_sub_negotiation(void *user) {
    part_t *pt = user;
    if (pt->detached) return;
    pt->negotiate = true;
    queue(pt);
}

static void on_pub_rtp(void *user, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n,
                       const rtc_pc_rtp_info_t *info) {
    part_t *pt = user;
    sfu_track_t *track = rtc_pc_transceiver_user(t);
    if (pt->detached || !track) return;
    const sfu_track_desc_t *d = sfu_track_desc(track);
    int layer = 0;
    if (info->rid[0] && d->n_layers > 1) {
        layer = -1;
        for (size_t i = 0; i < d->n_layers; i++)
            if (!strcmp(d->rids[i], info->rid)) layer = (int)i;
        if (layer < 0) return; /* a rid we did not accept */
    }
    sfu_codec_t codec = info->codec ? sfu_codec_from_name(info->codec->name) : SFU_CODEC_UNKNOWN;
    sfu_room_on_rtp(pt->room, track, layer, codec, p, n, now_of(pt->w));
}

static void on_sub_keyframe(void *user, rtc_pc_transceiver_t *t, bool fir) {
    (void)fir;
    part_t *pt = user;
    msub_t *ms = rtc_pc_transceiver_user(t);
    if (pt->detached || !ms || !ms->dt) return;
    sfu_room_on_keyframe_request(pt->room, ms->dt, now_of(pt->w));
}

static void on_dc_message(void *user, rtc_pc_datachannel_t *dc, const uint8_t *p, size_t n,
                          bool is_string) {
    (void)dc;
    part_t *pt = user;
    if (pt->detached) return;
    sfu_room_on_data(pt->room, pt->p, p, n, is_string, now_of(pt->w));
}

static void on_pub_datachannel(void *user, rtc_pc_datachannel_t *dc) {
    static const rtc_pc_datachannel_callbacks_t cb = {NULL, on_dc_message, NULL, NULL, NULL, NULL};
    rtc_pc_datachannel_set_callbacks(dc, &cb, user);
}

/* ------------------------------------------------------------------------------------------
 * Media ops.
 */
static rtc_peer_connection_t *make_pc(part_t *pt, const char *role, bool publisher) {
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    cfg.ice_lite = true;
    cfg.certificate = pt->w->cert;
    cfg.filter = pt->w->filter;
    if (pt->w->announce.family == RTC_AF_INET4) cfg.nat_1to1_ipv4 = pt->w->announce;
    if (pt->w->announce.family == RTC_AF_INET6) cfg.nat_1to1_ipv6 = pt->w->announce;
    snprintf(cfg.log_id, sizeof cfg.log_id, "%.20s/%s", sfu_participant_id(pt->p), role);
    rtc_pc_callbacks_t cb = {0};
    if (publisher) {
        cb.on_connection_state = on_pub_state;
        cb.on_rtp = on_pub_rtp;
        cb.on_datachannel = on_pub_datachannel;
    } else {
        cb.on_connection_state = on_sub_state;
        cb.on_negotiation_needed = on_sub_negotiation;
        cb.on_keyframe_request = on_sub_keyframe;
    }
    return rtc_pc_runtime_create_pc(pt->w->rt, &cfg, &cb, pt);
}

static void *m_attach(void *mu, sfu_room_t *r, sfu_participant_t *p) {
    mworker_t *w = mu;
    part_t *pt = calloc(1, sizeof *pt);
    if (!pt) return NULL;
    pt->w = w;
    pt->room = r;
    pt->p = p;
    pt->pub = make_pc(pt, "pub", true);
    pt->sub = make_pc(pt, "sub", false);
    if (!pt->pub || !pt->sub) {
        if (pt->pub) rtc_pc_runtime_destroy_pc(w->rt, pt->pub);
        if (pt->sub) rtc_pc_runtime_destroy_pc(w->rt, pt->sub);
        free(pt);
        return NULL;
    }
    /* Data for the participant travels on the subscriber PC's "starling" channel; creating
     * it makes the first subscriber offer (sent on the next loop turn, after `joined`). */
    pt->sub_dc = rtc_peer_connection_create_data_channel(pt->sub, "starling", NULL);
    pt->next_live = w->live;
    w->live = pt;
    return pt;
}

static void m_detach(void *mu, void *m) {
    mworker_t *w = mu;
    part_t *pt = m;
    if (!pt || pt->detached) return;
    pt->detached = true;
    for (part_t **pp = &w->live; *pp; pp = &(*pp)->next_live) {
        if (*pp == pt) {
            *pp = pt->next_live;
            break;
        }
    }
    rtc_time_t now = now_of(w);
    for (size_t i = 0; i < pt->n_subs; i++) {
        if (pt->subs[i]->t) rtc_pc_transceiver_set_user(pt->subs[i]->t, NULL);
        pt->subs[i]->dt = NULL;
    }
    rtc_peer_connection_close(pt->pub, now);
    rtc_peer_connection_close(pt->sub, now);
    rtc_pc_runtime_destroy_pc_later(w->rt, pt->pub);
    rtc_pc_runtime_destroy_pc_later(w->rt, pt->sub);
    pt->pub = pt->sub = NULL;
    pt->dead_since = now;
    pt->next_dead = w->dead;
    w->dead = pt;
}

static sfu_track_t *track_of_mid(part_t *pt, const char *mid) {
    for (size_t i = 0; i < sfu_participant_track_count(pt->p); i++) {
        sfu_track_t *t = sfu_participant_track(pt->p, i);
        if (!strcmp(sfu_track_desc(t)->mid, mid)) return t;
    }
    return NULL;
}

static rtc_pc_transceiver_t *transceiver_of_mid(rtc_peer_connection_t *pc, const char *mid) {
    for (size_t i = 0; i < rtc_peer_connection_transceiver_count(pc); i++) {
        rtc_pc_transceiver_t *t = rtc_peer_connection_transceiver(pc, i);
        const char *tm = rtc_pc_transceiver_mid(t);
        if (tm && !strcmp(tm, mid)) return t;
    }
    return NULL;
}

/* The label the client gave an m-line in its offer's `tracks` ([{mid, source, name}]). */
static void label_of(const cJSON *labels, const char *mid, sfu_track_desc_t *d) {
    const cJSON *e;
    cJSON_ArrayForEach(e, labels) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "mid");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, mid)) continue;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "source");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(s)) snprintf(d->source, sizeof d->source, "%s", s->valuestring);
        if (cJSON_IsString(n)) snprintf(d->name, sizeof d->name, "%s", n->valuestring);
    }
}

static uint8_t extmap_id(const rtc_sdp_media_t *m, const char *uri) {
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (m->extmaps[i].uri && !strcmp(m->extmaps[i].uri, uri) && m->extmaps[i].id < 256)
            return (uint8_t)m->extmaps[i].id;
    return 0;
}

/* Publishes the tracks the offer sends that are new, unpublishes those it stopped sending. */
static void sync_tracks(part_t *pt, const rtc_sdp_t *offer, const rtc_sdp_t *answer,
                        const cJSON *labels, rtc_time_t now) {
    for (size_t i = 0; i < offer->n_media; i++) {
        const rtc_sdp_media_t *m = &offer->media[i];
        if ((m->kind != RTC_SDP_MEDIA_AUDIO && m->kind != RTC_SDP_MEDIA_VIDEO) || !m->mid) continue;
        const rtc_sdp_media_t *am = answer ? rtc_sdp_find_mid(answer, m->mid) : NULL;
        bool sends = m->port != 0 && rtc_sdp_dir_sends(m->dir) && am && am->port != 0 &&
                     rtc_sdp_dir_receives(am->dir);
        sfu_track_t *have = track_of_mid(pt, m->mid);
        if (!sends) {
            if (have) sfu_room_unpublish_track(pt->room, have, now);
            continue;
        }
        if (have) continue;
        sfu_track_desc_t d = {0};
        d.video = m->kind == RTC_SDP_MEDIA_VIDEO;
        snprintf(d.mid, sizeof d.mid, "%s", m->mid);
        if (m->n_msids && m->msids[0].track)
            snprintf(d.id, sizeof d.id, "%s", m->msids[0].track);
        else
            snprintf(d.id, sizeof d.id, "%.40s-%s", sfu_participant_id(pt->p), m->mid);
        d.clock_rate = m->n_codecs ? m->codecs[0].clock : 0;
        d.n_layers = 1;
        if (d.video && m->simulcast.present && m->simulcast.send) {
            char buf[256];
            const char *ids[SFU_MAX_LAYERS];
            int n = rtc_sdp_simulcast_rids(m->simulcast.send, buf, sizeof buf, ids, SFU_MAX_LAYERS);
            if (n > 1) {
                d.n_layers = (size_t)n;
                for (int k = 0; k < n; k++) snprintf(d.rids[k], sizeof d.rids[k], "%s", ids[k]);
            }
        }
        /* Only when the answer kept it is the extension on the wire. */
        const char *lvl = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
        if (!d.video && extmap_id(am, lvl)) d.audio_level_ext = extmap_id(am, lvl);
        if (labels) label_of(labels, d.mid, &d);
        sfu_track_t *t = sfu_room_publish_track(pt->room, pt->p, &d, now);
        rtc_pc_transceiver_t *tr = transceiver_of_mid(pt->pub, d.mid);
        if (t && tr) {
            rtc_pc_transceiver_set_user(tr, t);
            sfu_track_set_media(t, tr);
        }
    }
}

static int m_publisher_offer(void *mu, void *m, const char *sdp, const cJSON *labels,
                             rtc_buf_t *answer, char *why, size_t why_cap, rtc_time_t now) {
    (void)now;
    mworker_t *w = mu;
    part_t *pt = m;
    rtc_time_t t = now_of(w);
    rtc_sdp_t offer, ans;
    rtc_sdp_error_t err;
    int rc = rtc_sdp_parse((const uint8_t *)sdp, strlen(sdp), &offer, &err);
    if (rc < 0) {
        snprintf(why, why_cap, "SDP line %u: %s", err.line, err.reason);
        return rc;
    }
    rc = rtc_peer_connection_set_remote_description(pt->pub, RTC_PC_SDP_OFFER, sdp, t);
    if (rc == RTC_OK) rc = rtc_peer_connection_set_local_description(pt->pub, RTC_PC_SDP_ANSWER, NULL, t);
    if (rc == RTC_OK) rc = rtc_peer_connection_local_description(pt->pub, answer, NULL);
    if (rc < 0) {
        snprintf(why, why_cap, "offer rejected: %s", rtc_strerror(rc));
        rtc_sdp_free(&offer);
        return rc;
    }
    if (rtc_sdp_parse(answer->data, answer->len, &ans, NULL) == RTC_OK) {
        sync_tracks(pt, &offer, &ans, labels, t);
        rtc_sdp_free(&ans);
    }
    rtc_sdp_free(&offer);
    return RTC_OK;
}

/* Three refused answers in a row end the participant: its client cannot agree with us. */
#define MAX_ANSWERS_REJECTED 3

static int m_subscriber_answer(void *mu, void *m, const char *sdp, int64_t offer_id, char *why,
                               size_t why_cap, rtc_time_t now) {
    (void)now;
    mworker_t *w = mu;
    part_t *pt = m;
    if (!offer_out(pt) || (offer_id >= 0 && offer_id != pt->offer_id)) {
        /* The answer to an offer we withdrew (or a duplicate): the offer that replaced it
         * gets its own answer. Not an error for the client. */
        RTC_LOGI("sfu", "%s: stale subscriber answer (offer_id %lld, current %u%s) ignored",
                 sfu_participant_id(pt->p), (long long)offer_id, pt->offer_id,
                 offer_out(pt) ? "" : ", none out");
        return RTC_OK;
    }
    int rc = rtc_peer_connection_set_remote_description(pt->sub, RTC_PC_SDP_ANSWER, sdp, now_of(w));
    if (rc < 0) {
        snprintf(why, why_cap, "answer rejected: %s", rtc_strerror(rc));
        if (++pt->answers_rejected >= MAX_ANSWERS_REJECTED) {
            RTC_LOGW("sfu", "%s: %u subscriber answers in a row rejected (%s)", sfu_participant_id(pt->p),
                     pt->answers_rejected, rtc_strerror(rc));
            fail(pt, "subscriber negotiation failed");
        } else {
            withdraw_offer(pt, "answer rejected");
        }
        return rc;
    }
    pt->offers_unanswered = 0;
    pt->answers_rejected = 0;
    if (pt->negotiate) queue(pt);
    return RTC_OK;
}

/* The client is back (through another signal connection): the offer that is out may have
 * been lost with the old connection. Send it again. */
static void m_resumed(void *mu, void *m, rtc_time_t now) {
    (void)mu;
    (void)now;
    part_t *pt = m;
    if (!pt->detached && !pt->failed && offer_out(pt)) resend_offer(pt, "out when the client resumed");
}

static int m_add_candidate(void *mu, void *m, bool publisher, const char *candidate,
                           const char *mid, rtc_time_t now) {
    (void)now;
    mworker_t *w = mu;
    part_t *pt = m;
    rtc_peer_connection_t *pc = publisher ? pt->pub : pt->sub;
    return rtc_peer_connection_add_ice_candidate(pc, candidate, mid, now_of(w));
}

static int m_subscribe(void *mu, void *m, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now) {
    (void)mu;
    (void)now;
    part_t *pt = m;
    const sfu_track_desc_t *d = sfu_track_desc(t);
    if (pt->n_subs == pt->cap_subs) {
        size_t cap = pt->cap_subs ? pt->cap_subs * 2 : 8;
        msub_t **a = realloc(pt->subs, cap * sizeof *a);
        if (!a) return RTC_ERR_NOMEM;
        pt->subs = a;
        pt->cap_subs = cap;
    }
    msub_t *ms = calloc(1, sizeof *ms);
    if (!ms) return RTC_ERR_NOMEM;
    rtc_pc_transceiver_init_t init;
    rtc_pc_transceiver_init_defaults(&init);
    init.direction = RTC_SDP_DIR_SENDONLY;
    init.track_id = d->id;
    init.stream_id = sfu_participant_id(sfu_track_owner(t));
    ms->t = rtc_peer_connection_add_transceiver(pt->sub, d->video ? RTC_PC_MEDIA_VIDEO : RTC_PC_MEDIA_AUDIO,
                                                &init);
    if (!ms->t) {
        free(ms);
        return RTC_ERR_FAILED;
    }
    ms->part = pt;
    ms->dt = dt;
    ms->track = t;
    for (int i = 0; i < 128; i++) ms->pt_map[i] = -1;
    rtc_pc_transceiver_set_user(ms->t, ms);
    sfu_downtrack_set_media(dt, ms);
    pt->subs[pt->n_subs++] = ms;
    return RTC_OK;
}

static void m_unsubscribe(void *mu, void *m, sfu_track_t *t, sfu_downtrack_t *dt, rtc_time_t now) {
    (void)mu;
    (void)t;
    (void)now;
    part_t *pt = m;
    msub_t *ms = sfu_downtrack_media(dt);
    if (!ms) return;
    sfu_downtrack_set_media(dt, NULL);
    ms->dt = NULL;
    if (ms->t) {
        rtc_pc_transceiver_set_user(ms->t, NULL);
        rtc_pc_transceiver_stop(ms->t); /* fires negotiationneeded */
    }
    for (size_t i = 0; i < pt->n_subs; i++) {
        if (pt->subs[i] == ms) {
            pt->subs[i] = pt->subs[--pt->n_subs];
            break;
        }
    }
    free(ms);
}

/* The subscriber leg's payload type for a packet's: same codec name, looked up once per
 * publisher payload type. Nothing is remembered before the subscriber leg is negotiated
 * (audio flows at once, before the subscriber's answer: a miss then is not final). */
static int map_pt(msub_t *ms, uint8_t pt) {
    if (ms->pt_map[pt] != -1) return ms->pt_map[pt];
    if (rtc_pc_transceiver_current_direction(ms->t) == RTC_SDP_DIR_NONE) return -1;
    ms->pt_map[pt] = -2;
    rtc_pc_transceiver_t *pub = sfu_track_media(ms->track);
    size_t n = 0;
    const rtc_sdp_codec_t *c = pub ? rtc_pc_transceiver_codecs(pub, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (c[i].pt != pt) continue;
        int ours = rtc_pc_transceiver_payload_type(ms->t, c[i].name);
        if (ours >= 0) ms->pt_map[pt] = (int16_t)ours;
    }
    return ms->pt_map[pt];
}

static void m_send_rtp(void *mu, void *m, sfu_downtrack_t *dt, uint8_t *pkt, size_t n,
                       rtc_time_t now) {
    (void)now;
    mworker_t *w = mu;
    (void)m;
    msub_t *ms = sfu_downtrack_media(dt);
    if (!ms || !ms->t || n < 12) return;
    int pt = map_pt(ms, pkt[1] & 0x7f);
    int rc;
    if (pt == -1) {
        rc = RTC_ERR_STATE; /* the subscriber leg is not negotiated yet */
    } else if (pt < 0) {
        return; /* the subscriber did not accept this codec */
    } else {
        rtc_rtp_set_payload_type(pkt, n, (uint8_t)pt);
        rc = rtc_pc_transceiver_send_rtp(ms->t, pkt, n, now_of(w));
    }
    if (rc == RTC_ERR_STATE) {
        /* The subscriber leg is not connected (or not negotiated) yet: what was forwarded
         * did not leave. Start over at a keyframe that will (a decoder that never saw the
         * first keyframe would wait for the next one forever: nothing looks lost to it). */
        sfu_downtrack_restart(dt, now_of(w));
        return;
    }
    /* Anything else loses a packet the subscriber sees as a gap. Said once per
     * subscription. */
    if (rc < 0 && ms->send_errors++ == 0)
        RTC_LOGW("sfu", "%s: forwarding a %zu-byte packet of %s failed: %s",
                 sfu_participant_id(ms->part->p), n, sfu_track_id(ms->track), rtc_strerror(rc));
}

/* A PLI for the one layer that needs a keyframe (its rid's SSRC): the others keep their
 * normal frame sizes. A single-layer track has no rid: its one SSRC. */
static void m_request_keyframe(void *mu, void *m, sfu_track_t *t, int layer, rtc_time_t now) {
    (void)now;
    mworker_t *w = mu;
    part_t *pt = m;
    rtc_pc_transceiver_t *tr = sfu_track_media(t);
    if (pt->detached || !tr) return;
    const sfu_track_desc_t *d = sfu_track_desc(t);
    const char *rid = d->n_layers > 1 && layer >= 0 && (size_t)layer < d->n_layers ? d->rids[layer] : NULL;
    rtc_pc_transceiver_request_keyframe_rid(tr, rid, now_of(w));
}

static int m_send_data(void *mu, void *m, const char *msg, size_t n) {
    (void)mu;
    part_t *pt = m;
    if (!pt->sub_dc || rtc_pc_datachannel_state(pt->sub_dc) != RTC_DC_OPEN) return RTC_ERR_STATE;
    return rtc_pc_datachannel_send(pt->sub_dc, msg, n, true);
}

const sfu_media_ops_t sfu_media_pc_ops = {
    m_attach, m_detach, m_publisher_offer, m_subscriber_answer, m_add_candidate,
    m_subscribe, m_unsubscribe, m_send_rtp, m_request_keyframe, m_send_data, m_resumed,
};

/* ------------------------------------------------------------------------------------------
 * Per-worker engine.
 */
void *sfu_media_pc_new(void *uv_loop, unsigned index, uint16_t udp_port, void *arg) {
    const sfu_media_pc_config_t *cfg = arg;
    mworker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->loop = uv_loop;
    w->index = index;
    rtc_net_filter_init(&w->filter);
    if (cfg) w->announce = cfg->announce;
    w->offer_timeout = cfg && cfg->offer_timeout > 0 ? cfg->offer_timeout : RTC_SEC(10);
    w->probe_max_pct = cfg && cfg->no_probing ? 0 : cfg && cfg->probe_max_pct ? cfg->probe_max_pct : 200;
    if (cfg && !rtc_addr_is_any(&cfg->bind)) {
        char ip[RTC_ADDR_STRLEN];
        rtc_addr_format_ip(&cfg->bind, ip, sizeof ip);
        rtc_net_filter_add_prefix(&w->filter, ip);
    }
    if (rtc_dtls_cert_generate("starling-sfu", 30, &w->cert) != RTC_OK) {
        RTC_LOGE("sfu", "worker %u: cannot make a DTLS certificate", index);
        free(w);
        return NULL;
    }
    rtc_pc_runtime_config_t rc;
    rtc_pc_runtime_config_init(&rc);
    rc.shared_port = udp_port;
    rc.filter = w->filter;
    w->rt = rtc_pc_runtime_create(uv_loop, &rc);
    if (!w->rt) {
        RTC_LOGE("sfu", "worker %u: cannot open the media port %u", index, udp_port);
        rtc_dtls_cert_unref(w->cert);
        free(w);
        return NULL;
    }
    uv_timer_init(uv_loop, &w->work);
    w->work.data = w;
    uv_timer_init(uv_loop, &w->reaper);
    w->reaper.data = w;
    uv_timer_start(&w->reaper, on_reap, 500, 500);
    uv_timer_init(uv_loop, &w->tick);
    w->tick.data = w;
    uv_timer_start(&w->tick, on_tick, 1000, 1000);
    RTC_LOGI("sfu", "worker %u: media on port %u", index, udp_port);
    return w;
}

static void free_after_close(uv_handle_t *h) {
    mworker_t *w = h->data;
    if (h == (uv_handle_t *)&w->reaper) free(w);
}

void sfu_media_pc_free(void *media_user) {
    mworker_t *w = media_user;
    if (!w) return;
    rtc_pc_runtime_destroy(w->rt); /* every PeerConnection left, without callbacks */
    while (w->dead) {
        part_t *pt = w->dead;
        w->dead = pt->next_dead;
        for (size_t i = 0; i < pt->n_subs; i++) free(pt->subs[i]);
        free(pt->subs);
        free(pt);
    }
    rtc_dtls_cert_unref(w->cert);
    uv_close((uv_handle_t *)&w->work, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->reaper, free_after_close);
}
