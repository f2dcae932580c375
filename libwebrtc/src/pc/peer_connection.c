/* pc/peer_connection.c — the RTCPeerConnection object: configuration, life cycle, the JSEP
 * signalling state machine (offers, answers, rollback, renegotiation, ICE restart), and the
 * W3C state aggregates. Transport wiring is in transport.c, RTP/RTCP in media.c, data channels
 * in datachannel.c, getStats in stats.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pc/pc_internal.h"

/* ------------------------------------------------------------------------------------------
 * Names.
 */
const char *rtc_pc_signaling_state_name(rtc_pc_signaling_state_t s) {
    switch (s) {
    case RTC_PC_SIGNALING_STABLE: return "stable";
    case RTC_PC_SIGNALING_HAVE_LOCAL_OFFER: return "have-local-offer";
    case RTC_PC_SIGNALING_HAVE_REMOTE_OFFER: return "have-remote-offer";
    case RTC_PC_SIGNALING_HAVE_LOCAL_PRANSWER: return "have-local-pranswer";
    case RTC_PC_SIGNALING_HAVE_REMOTE_PRANSWER: return "have-remote-pranswer";
    case RTC_PC_SIGNALING_CLOSED: return "closed";
    }
    return "unknown";
}

const char *rtc_pc_state_name(rtc_pc_state_t s) {
    switch (s) {
    case RTC_PC_STATE_NEW: return "new";
    case RTC_PC_STATE_CONNECTING: return "connecting";
    case RTC_PC_STATE_CONNECTED: return "connected";
    case RTC_PC_STATE_DISCONNECTED: return "disconnected";
    case RTC_PC_STATE_FAILED: return "failed";
    case RTC_PC_STATE_CLOSED: return "closed";
    }
    return "unknown";
}

const char *rtc_pc_sdp_type_name(rtc_pc_sdp_type_t t) {
    switch (t) {
    case RTC_PC_SDP_OFFER: return "offer";
    case RTC_PC_SDP_PRANSWER: return "pranswer";
    case RTC_PC_SDP_ANSWER: return "answer";
    case RTC_PC_SDP_ROLLBACK: return "rollback";
    }
    return "unknown";
}

int rtc_pc_sdp_type_parse(const char *s, rtc_pc_sdp_type_t *out) {
    static const char *names[] = {"offer", "pranswer", "answer", "rollback"};
    if (!s || !out) return RTC_ERR_INVALID_ARG;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) { *out = (rtc_pc_sdp_type_t)i; return RTC_OK; }
    return RTC_ERR_INVALID_ARG;
}

/* ------------------------------------------------------------------------------------------
 * Configuration.
 */
void rtc_pc_config_init(rtc_pc_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->bundle_policy = RTC_JSEP_BUNDLE_BALANCED;
    rtc_net_filter_init(&cfg->filter);
}

/* "stun:1.2.3.4:3478", "turn:[::1]:3478?transport=tcp", "turns:1.2.3.4". */
static int parse_ice_url(const char *url, const char *user, const char *cred, rtc_ice_server_t *out) {
    memset(out, 0, sizeof *out);
    const char *rest;
    bool tls = false;
    if (strncasecmp(url, "stun:", 5) == 0) { out->kind = RTC_ICE_SERVER_STUN; rest = url + 5; }
    else if (strncasecmp(url, "stuns:", 6) == 0) { out->kind = RTC_ICE_SERVER_STUN; rest = url + 6; tls = true; }
    else if (strncasecmp(url, "turn:", 5) == 0) { out->kind = RTC_ICE_SERVER_TURN; rest = url + 5; }
    else if (strncasecmp(url, "turns:", 6) == 0) { out->kind = RTC_ICE_SERVER_TURN; rest = url + 6; tls = true; }
    else return RTC_ERR_INVALID_ARG;
    char host[256];
    const char *q = strchr(rest, '?');
    size_t hl = q ? (size_t)(q - rest) : strlen(rest);
    if (hl == 0 || hl >= sizeof host) return RTC_ERR_INVALID_ARG;
    memcpy(host, rest, hl);
    host[hl] = '\0';
    out->protocol = tls ? RTC_ICE_RELAY_TLS : RTC_ICE_RELAY_UDP;
    if (q) {
        if (strcasecmp(q, "?transport=udp") == 0) { if (tls) return RTC_ERR_INVALID_ARG; }
        else if (strcasecmp(q, "?transport=tcp") == 0) out->protocol = tls ? RTC_ICE_RELAY_TLS : RTC_ICE_RELAY_TCP;
        else return RTC_ERR_INVALID_ARG;
    }
    if (rtc_addr_parse(&out->addr, host, tls ? 5349 : 3478) != RTC_OK) return RTC_ERR_INVALID_ARG;
    if (out->kind == RTC_ICE_SERVER_TURN) {
        if (!user || !cred) return RTC_ERR_INVALID_ARG;
        if (strlen(user) >= sizeof out->username || strlen(cred) >= sizeof out->password)
            return RTC_ERR_INVALID_ARG;
        snprintf(out->username, sizeof out->username, "%s", user);
        snprintf(out->password, sizeof out->password, "%s", cred);
    }
    return RTC_OK;
}

int rtc_pc_config_add_ice_server(rtc_pc_config_t *cfg, const char *url, const char *username,
                                 const char *credential) {
    if (!cfg || !url) return RTC_ERR_INVALID_ARG;
    if (cfg->n_ice_servers >= RTC_PC_MAX_ICE_SERVERS) return RTC_ERR_LIMIT;
    rtc_ice_server_t tmp;
    if (strlen(url) >= sizeof cfg->ice_servers[0].url ||
        parse_ice_url(url, username, credential, &tmp) != RTC_OK) {
        RTC_LOGW(PC_LOG, "unusable ICE server URL '%s'", url);
        return RTC_ERR_INVALID_ARG;
    }
    rtc_pc_ice_server_t *s = &cfg->ice_servers[cfg->n_ice_servers++];
    snprintf(s->url, sizeof s->url, "%s", url);
    snprintf(s->username, sizeof s->username, "%s", username ? username : "");
    snprintf(s->credential, sizeof s->credential, "%s", credential ? credential : "");
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Life cycle.
 */
static void random_creds(char *ufrag, size_t ucap, char *pwd, size_t pcap) {
    (void)ucap;
    (void)pcap;
    rtc_random_ice_string(ufrag, 8);
    rtc_random_ice_string(pwd, 24);
}

rtc_peer_connection_t *rtc_peer_connection_create(const rtc_pc_config_t *cfg,
                                                  const rtc_pc_callbacks_t *cb, void *user) {
    if (!cfg || !cb || !cb->send) {
        RTC_LOGW(PC_LOG, "create: configuration and a send callback are required");
        return NULL;
    }
    rtc_peer_connection_t *pc = calloc(1, sizeof *pc);
    if (!pc) return NULL;
    pc->cfg = *cfg;
    pc->cb = *cb;
    pc->user = user;
    snprintf(pc->log_id, sizeof pc->log_id, "%s", cfg->log_id[0] ? cfg->log_id : "pc");
    for (size_t i = 0; i < cfg->n_ice_servers && i < RTC_ICE_MAX_SERVERS; i++) {
        const rtc_pc_ice_server_t *s = &cfg->ice_servers[i];
        if (parse_ice_url(s->url, s->username, s->credential, &pc->ice_servers[pc->n_ice_servers]) != RTC_OK) {
            RTC_LOGW(PC_LOG, "%s: unusable ICE server URL '%s'", pc->log_id, s->url);
            free(pc);
            return NULL;
        }
        pc->n_ice_servers++;
    }
    if (cfg->certificate) {
        pc->cert = rtc_dtls_cert_ref(cfg->certificate);
    } else if (rtc_dtls_cert_generate(NULL, 30, &pc->cert) != RTC_OK) {
        RTC_LOGE(PC_LOG, "%s: cannot generate a certificate", pc->log_id);
        free(pc);
        return NULL;
    }
    pc->cfg.certificate = NULL; /* ours is pc->cert */
    rtc_dtls_fingerprint_t fp;
    char fps[RTC_DTLS_FINGERPRINT_STRLEN];
    if (rtc_dtls_cert_fingerprint(pc->cert, RTC_DIGEST_SHA256, &fp) != RTC_OK ||
        rtc_dtls_fingerprint_format(&fp, fps, sizeof fps) < 0) {
        rtc_dtls_cert_unref(pc->cert);
        free(pc);
        return NULL;
    }
    /* "sha-256 AB:CD..." -> hash and value. */
    char *sp = strchr(fps, ' ');
    if (!sp) { rtc_dtls_cert_unref(pc->cert); free(pc); return NULL; }
    size_t hl = (size_t)(sp - fps);
    if (hl >= sizeof pc->local_fp.hash || strlen(sp + 1) >= sizeof pc->local_fp.value) {
        rtc_dtls_cert_unref(pc->cert);
        free(pc);
        return NULL;
    }
    memcpy(pc->local_fp.hash, fps, hl);
    pc->local_fp.hash[hl] = '\0';
    memcpy(pc->local_fp.value, sp + 1, strlen(sp + 1) + 1);

    if (cfg->cname[0]) snprintf(pc->cname, sizeof pc->cname, "%s", cfg->cname);
    else rtc_random_ice_string(pc->cname, 16);
    random_creds(pc->ufrag, sizeof pc->ufrag, pc->pwd, sizeof pc->pwd);
    snprintf(pc->session_id, sizeof pc->session_id, "%" PRIu64, rtc_random_u64() >> 1);
    pc->session_version = 1;
    pc->signaling = RTC_PC_SIGNALING_STABLE;
    pc->gathering = RTC_ICE_GATHERING_NEW;
    pc->ice_state = RTC_ICE_STATE_NEW;
    pc->state = RTC_PC_STATE_NEW;
    pc->next_rtcp = RTC_TIME_NEVER;
    pc->created_wall_us = rtc_clock_wall_us();
    rtc_sdp_init(&pc->local);
    rtc_sdp_init(&pc->remote);
    rtc_sdp_init(&pc->prev_local);
    rtc_sdp_init(&pc->prev_remote);
    return pc;
}

void rtc_peer_connection_destroy(rtc_peer_connection_t *pc) {
    if (!pc) return;
    pc_transport_free(pc);
    for (size_t i = 0; i < pc->n_tr; i++) pc_transceiver_free(pc->tr[i]);
    free(pc->tr);
    for (size_t i = 0; i < pc->n_dcs; i++) pc_dc_free(pc->dcs[i]);
    free(pc->dcs);
    rtc_sdp_free(&pc->local);
    rtc_sdp_free(&pc->remote);
    rtc_sdp_free(&pc->prev_local);
    rtc_sdp_free(&pc->prev_remote);
    rtc_dtls_cert_unref(pc->cert);
    free(pc);
}

int rtc_peer_connection_add_socket(rtc_peer_connection_t *pc, void *sock, const rtc_addr_t *local,
                                   const char *ifname) {
    if (!pc || !sock || !local) return RTC_ERR_INVALID_ARG;
    if (pc->gathering != RTC_ICE_GATHERING_NEW || pc->ice) return RTC_ERR_STATE;
    if (pc->n_sockets >= PC_MAX_SOCKETS) return RTC_ERR_LIMIT;
    if (!rtc_net_filter_allows(&pc->cfg.filter, ifname, local)) return RTC_ERR_DENIED;
    pc_socket_t *s = &pc->sockets[pc->n_sockets++];
    s->sock = sock;
    s->local = *local;
    snprintf(s->ifname, sizeof s->ifname, "%s", ifname ? ifname : "");
    return RTC_OK;
}

void pc_wakeup(rtc_peer_connection_t *pc) {
    if (pc->cb.wakeup) pc->cb.wakeup(pc->user);
}

/* ------------------------------------------------------------------------------------------
 * States.
 */
static void set_signaling(rtc_peer_connection_t *pc, rtc_pc_signaling_state_t s) {
    if (pc->signaling == s) return;
    pc->signaling = s;
    RTC_LOGD(PC_LOG, "%s: signaling %s", pc->log_id, rtc_pc_signaling_state_name(s));
    if (pc->cb.on_signaling_state) pc->cb.on_signaling_state(pc->user, s);
}

void pc_set_ice_state(rtc_peer_connection_t *pc, rtc_ice_state_t s) {
    if (pc->ice_state == s) return;
    pc->ice_state = s;
    RTC_LOGI(PC_LOG, "%s: ICE %s", pc->log_id, rtc_ice_state_name(s));
    if (pc->cb.on_ice_connection_state) pc->cb.on_ice_connection_state(pc->user, s);
    pc_update_state(pc);
}

/* W3C RTCPeerConnectionState from the ICE and DTLS transports (section 4.3.3). */
void pc_update_state(rtc_peer_connection_t *pc) {
    rtc_pc_state_t s;
    rtc_dtls_state_t d = pc->dtls ? rtc_dtls_state(pc->dtls) : RTC_DTLS_STATE_NEW;
    if (pc->closed) s = RTC_PC_STATE_CLOSED;
    else if (pc->ice_state == RTC_ICE_STATE_FAILED || d == RTC_DTLS_STATE_FAILED) s = RTC_PC_STATE_FAILED;
    else if (pc->ice_state == RTC_ICE_STATE_DISCONNECTED) s = RTC_PC_STATE_DISCONNECTED;
    else if ((pc->ice_state == RTC_ICE_STATE_NEW || pc->ice_state == RTC_ICE_STATE_CLOSED) &&
             (d == RTC_DTLS_STATE_NEW || d == RTC_DTLS_STATE_CLOSED))
        s = RTC_PC_STATE_NEW;
    else if ((pc->ice_state == RTC_ICE_STATE_CONNECTED || pc->ice_state == RTC_ICE_STATE_COMPLETED) &&
             d == RTC_DTLS_STATE_CONNECTED)
        s = RTC_PC_STATE_CONNECTED;
    else if (d == RTC_DTLS_STATE_CLOSED && pc->state == RTC_PC_STATE_CONNECTED)
        s = RTC_PC_STATE_CONNECTED; /* peer's close_notify: stays until ICE says otherwise */
    else s = RTC_PC_STATE_CONNECTING;
    if (s == pc->state) return;
    pc->state = s;
    RTC_LOGI(PC_LOG, "%s: connection %s", pc->log_id, rtc_pc_state_name(s));
    if (pc->cb.on_connection_state) pc->cb.on_connection_state(pc->user, s);
}

void pc_mark_negotiation_needed(rtc_peer_connection_t *pc) {
    if (pc->closed) return;
    pc->negotiation_needed = true;
    pc_wakeup(pc);
}

rtc_pc_signaling_state_t rtc_peer_connection_signaling_state(const rtc_peer_connection_t *pc) {
    return pc->signaling;
}
rtc_ice_gathering_state_t rtc_peer_connection_ice_gathering_state(const rtc_peer_connection_t *pc) {
    return pc->gathering;
}
rtc_ice_state_t rtc_peer_connection_ice_connection_state(const rtc_peer_connection_t *pc) {
    return pc->ice_state;
}
rtc_pc_state_t rtc_peer_connection_connection_state(const rtc_peer_connection_t *pc) {
    return pc->state;
}
bool rtc_peer_connection_dtls_client(const rtc_peer_connection_t *pc) { return pc->dtls_client; }
const char *rtc_peer_connection_local_ufrag(const rtc_peer_connection_t *pc) {
    return pc->ice ? rtc_ice_agent_local_ufrag(pc->ice) : pc->ufrag;
}

/* ------------------------------------------------------------------------------------------
 * m= sections in order. Each transceiver and the data channel section remember their m-line
 * index once it is fixed (by our first offer or by the remote offer); sections are never
 * removed, only rejected.
 */
typedef struct {
    rtc_pc_transceiver_t *t;  /* NULL: the data section */
} mline_t;


/* m-line bookkeeping lives in the transceivers (t->index is creation order; mline order is
 * kept in pc->local when one exists). We rebuild the order from the last description. */
static size_t build_order(const rtc_peer_connection_t *pc, mline_t *out, size_t cap, bool add_new) {
    size_t n = 0;
    const rtc_sdp_t *ref = pc->has_local ? &pc->local : pc->has_remote ? &pc->remote : NULL;
    bool data_done = false;
    bool *used = calloc(pc->n_tr ? pc->n_tr : 1, sizeof *used);
    if (!used) return 0;
    if (ref) {
        for (size_t i = 0; i < ref->n_media && n < cap; i++) {
            const rtc_sdp_media_t *m = &ref->media[i];
            if (!m->mid) continue;
            if (m->kind == RTC_SDP_MEDIA_APPLICATION && pc->data_mid[0] && strcmp(m->mid, pc->data_mid) == 0) {
                out[n++].t = NULL;
                data_done = true;
                continue;
            }
            for (size_t k = 0; k < pc->n_tr; k++) {
                if (!used[k] && strcmp(pc->tr[k]->mid, m->mid) == 0) {
                    used[k] = true;
                    out[n++].t = pc->tr[k];
                    break;
                }
            }
        }
    }
    if (add_new) {
        /* Sections not in the last description that already have a mid come from an offer we
         * rolled back. The peer may well have applied that offer (an SFU withdraws an offer
         * whose answer is late, or was lost), so they keep that offer's order: the order their
         * mids were assigned in. Chromium refuses an offer whose m-line at an index has a
         * different mid than before. */
        for (;;) {
            unsigned best = 0;
            size_t best_k = SIZE_MAX;
            bool data_best = false;
            for (size_t k = 0; k < pc->n_tr; k++)
                if (!used[k] && pc->tr[k]->mid[0] && (!best || pc->tr[k]->mid_order < best)) {
                    best = pc->tr[k]->mid_order;
                    best_k = k;
                }
            if (!data_done && pc->data_mid[0] && (!best || pc->data_mid_order < best)) data_best = true;
            if (n >= cap || (!data_best && best_k == SIZE_MAX)) break;
            if (data_best) {
                out[n++].t = NULL;
                data_done = true;
            } else {
                used[best_k] = true;
                out[n++].t = pc->tr[best_k];
            }
        }
        /* New sections follow in creation order, the data section included (as browsers
         * do): a channel created before any transceiver gets the first m-line, i.e. the BUNDLE
         * tag, and keeps it. Were it placed after the transceivers, stopping the first of them
         * later (an SFU's subscriber PeerConnection when that publisher leaves) would move the
         * BUNDLE tag, and Chromium answers a moved tag by tearing down its transport. */
        bool data_new = !data_done && pc->want_data && !pc->data_mid[0];
        for (size_t k = 0; k < pc->n_tr && n < cap; k++) {
            if (used[k]) continue;
            /* A stopped transceiver that never got an m-line is simply not offered. */
            if (pc->tr[k]->stopped && !pc->tr[k]->mid[0]) continue;
            if (data_new && k >= pc->data_after_tr && n < cap) {
                out[n++].t = NULL;
                data_done = true;
                data_new = false;
                if (n >= cap) break;
            }
            out[n++].t = pc->tr[k];
        }
        if (!data_done && (pc->want_data || pc->data_mid[0]) && n < cap) out[n++].t = NULL;
    }
    free(used);
    return n;
}

static bool mid_in_use(const rtc_peer_connection_t *pc, const char *mid) {
    for (size_t i = 0; i < pc->n_tr; i++)
        if (strcmp(pc->tr[i]->mid, mid) == 0) return true;
    return strcmp(pc->data_mid, mid) == 0;
}

static void assign_mid(rtc_peer_connection_t *pc, char *mid) {
    if (mid[0]) return;
    for (;;) {
        char cand[PC_MID_SIZE];
        snprintf(cand, sizeof cand, "%u", pc->next_mid++);
        if (!mid_in_use(pc, cand)) { snprintf(mid, PC_MID_SIZE, "%s", cand); return; }
    }
}

const char *pc_bundle_mid(const rtc_peer_connection_t *pc) {
    const rtc_sdp_t *d = pc->has_local ? &pc->local : NULL;
    if (d) {
        const rtc_sdp_group_t *g = rtc_sdp_find_group(d, "BUNDLE");
        if (g && g->n_mids) return g->mids[0];
        for (size_t i = 0; i < d->n_media; i++)
            if (d->media[i].port != 0 && d->media[i].mid) return d->media[i].mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Building descriptions.
 */
typedef struct {
    rtc_jsep_section_t *secs;
    size_t n;
    uint32_t *rtx; /* one per section */
    rtc_sdp_candidate_t *cands;
    size_t n_cands;
} build_t;

static void build_free(build_t *b) {
    free(b->secs);
    free(b->rtx);
    free(b->cands);
    memset(b, 0, sizeof *b);
}

static bool has_rtx_codec(const rtc_pc_transceiver_t *t) {
    for (size_t i = 0; i < t->n_codecs; i++)
        if (strcasecmp(t->codecs[i].name, "rtx") == 0) return true;
    return false;
}

static int fill_section(const rtc_peer_connection_t *pc, rtc_pc_transceiver_t *t, rtc_jsep_section_t *s,
                        uint32_t *rtx_slot) {
    memset(s, 0, sizeof *s);
    if (!t) {
        s->kind = RTC_SDP_MEDIA_APPLICATION;
        s->mid = pc->data_mid;
        s->direction = RTC_SDP_DIR_SENDRECV;
        s->stopped = pc->data_rejected && false;
        s->sctp_port = RTC_SCTP_DEFAULT_PORT;
        s->max_message_size = pc->cfg.max_message_size ? pc->cfg.max_message_size : RTC_SCTP_DEFAULT_LOCAL_MMS;
        return RTC_OK;
    }
    s->kind = (rtc_sdp_media_kind_t)t->kind;
    s->mid = t->mid;
    s->direction = t->direction;
    s->stopped = t->stopped;
    s->codecs = t->codecs;
    s->n_codecs = t->n_codecs;
    pc_default_extmaps(t->kind, &s->extmaps, &s->n_extmaps);
    s->stream_id = t->stream_id;
    s->track_id = t->track_id;
    s->cname = pc->cname;
    s->receive_simulcast = t->receive_simulcast;
    if (rtc_sdp_dir_sends(t->direction) && !t->stopped) {
        s->ssrcs = &t->ssrc;
        s->n_ssrcs = 1;
        if (t->rtx_ssrc && has_rtx_codec(t)) {
            *rtx_slot = t->rtx_ssrc;
            s->rtx_ssrcs = rtx_slot;
        }
    }
    return RTC_OK;
}

/* The gathered candidates as SDP values. */
static int local_candidates(const rtc_peer_connection_t *pc, build_t *b) {
    if (!pc->ice) return RTC_OK;
    size_t total = rtc_ice_agent_local_candidates(pc->ice, NULL, 0);
    if (!total) return RTC_OK;
    rtc_ice_candidate_t *cs = calloc(total, sizeof *cs);
    b->cands = calloc(total, sizeof *b->cands);
    if (!cs || !b->cands) { free(cs); return RTC_ERR_NOMEM; }
    total = rtc_ice_agent_local_candidates(pc->ice, cs, total);
    for (size_t i = 0; i < total; i++) {
        if (cs[i].type == RTC_ICE_CANDIDATE_PRFLX) continue; /* learned, never signalled */
        char line[RTC_ICE_CANDIDATE_STRLEN];
        if (rtc_ice_candidate_format(&cs[i], line, sizeof line) < 0) continue;
        if (rtc_sdp_candidate_parse(line, strlen(line), &b->cands[b->n_cands], NULL) == RTC_OK) b->n_cands++;
    }
    free(cs);
    return RTC_OK;
}

static void fill_local(const rtc_peer_connection_t *pc, const build_t *b, const char *ufrag, const char *pwd,
                       rtc_jsep_local_t *l) {
    memset(l, 0, sizeof *l);
    l->session_id = pc->session_id;
    l->session_version = pc->session_version;
    l->ice_ufrag = ufrag;
    l->ice_pwd = pwd;
    l->ice_lite = pc->cfg.ice_lite;
    l->trickle = true;
    l->fingerprints = &pc->local_fp;
    l->n_fingerprints = 1;
    l->answer_setup = RTC_SDP_SETUP_ACTIVE;
    l->bundle_policy = pc->cfg.bundle_policy;
    l->initial = !pc->negotiated_once;
    l->candidates = b->cands;
    l->n_candidates = b->n_cands;
    l->end_of_candidates = pc->gathering == RTC_ICE_GATHERING_COMPLETE;
    l->stream_ids_semantic = "";
}

int rtc_peer_connection_create_offer(rtc_peer_connection_t *pc, const rtc_pc_offer_options_t *opts,
                                     rtc_buf_t *out) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    if (pc->closed) return RTC_ERR_STATE;
    if (pc->signaling != RTC_PC_SIGNALING_STABLE && pc->signaling != RTC_PC_SIGNALING_HAVE_LOCAL_OFFER)
        return RTC_ERR_STATE;
    if ((opts && opts->ice_restart) || pc->restart_requested) {
        if (!pc->next_ufrag[0]) random_creds(pc->next_ufrag, sizeof pc->next_ufrag, pc->next_pwd, sizeof pc->next_pwd);
        pc->restart_requested = true;
    }
    const char *ufrag = pc->restart_requested ? pc->next_ufrag : pc->ufrag;
    const char *pwd = pc->restart_requested ? pc->next_pwd : pc->pwd;

    size_t cap = pc->n_tr + 1;
    mline_t *order = calloc(cap, sizeof *order);
    build_t b = {0};
    if (!order) return RTC_ERR_NOMEM;
    size_t n = build_order(pc, order, cap, true);
    b.secs = calloc(n ? n : 1, sizeof *b.secs);
    b.rtx = calloc(n ? n : 1, sizeof *b.rtx);
    int rc = (!b.secs || !b.rtx) ? RTC_ERR_NOMEM : RTC_OK;
    for (size_t i = 0; rc == RTC_OK && i < n; i++) {
        if (order[i].t) {
            if (!order[i].t->mid[0]) order[i].t->mid_order = ++pc->mid_order_next;
            assign_mid(pc, order[i].t->mid);
        } else {
            if (!pc->data_mid[0]) pc->data_mid_order = ++pc->mid_order_next;
            assign_mid(pc, pc->data_mid);
        }
        rc = fill_section(pc, order[i].t, &b.secs[i], &b.rtx[i]);
        b.n++;
    }
    if (rc == RTC_OK) rc = local_candidates(pc, &b);
    rtc_sdp_t sdp;
    rtc_sdp_init(&sdp);
    if (rc == RTC_OK) {
        rtc_jsep_local_t l;
        pc->session_version++;
        fill_local(pc, &b, ufrag, pwd, &l);
        rc = rtc_jsep_create_offer(&l, b.secs, b.n, &sdp);
    }
    if (rc == RTC_OK) rc = rtc_sdp_write(&sdp, out);
    rtc_sdp_free(&sdp);
    build_free(&b);
    free(order);
    if (rc) RTC_LOGW(PC_LOG, "%s: createOffer failed: %s", pc->log_id, rtc_strerror(rc));
    return rc;
}

int rtc_peer_connection_create_answer(rtc_peer_connection_t *pc, rtc_buf_t *out) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    if (pc->closed || pc->signaling != RTC_PC_SIGNALING_HAVE_REMOTE_OFFER) return RTC_ERR_STATE;
    size_t cap = pc->n_tr + 1;
    mline_t *order = calloc(cap, sizeof *order);
    build_t b = {0};
    if (!order) return RTC_ERR_NOMEM;
    /* Sections in the remote offer's order. */
    size_t n = 0;
    for (size_t i = 0; i < pc->remote.n_media && n < cap; i++) {
        const rtc_sdp_media_t *m = &pc->remote.media[i];
        if (!m->mid) continue;
        if (m->kind == RTC_SDP_MEDIA_APPLICATION) {
            if (pc->data_mid[0] && strcmp(pc->data_mid, m->mid) == 0) order[n++].t = NULL;
            continue;
        }
        for (size_t k = 0; k < pc->n_tr; k++)
            if (strcmp(pc->tr[k]->mid, m->mid) == 0) { order[n++].t = pc->tr[k]; break; }
    }
    b.secs = calloc(n ? n : 1, sizeof *b.secs);
    b.rtx = calloc(n ? n : 1, sizeof *b.rtx);
    int rc = (!b.secs || !b.rtx) ? RTC_ERR_NOMEM : RTC_OK;
    for (size_t i = 0; rc == RTC_OK && i < n; i++) {
        rc = fill_section(pc, order[i].t, &b.secs[i], &b.rtx[i]);
        b.n++;
    }
    if (rc == RTC_OK) rc = local_candidates(pc, &b);
    rtc_sdp_t sdp;
    rtc_sdp_init(&sdp);
    if (rc == RTC_OK) {
        rtc_jsep_local_t l;
        pc->session_version++;
        fill_local(pc, &b, pc->ufrag, pc->pwd, &l);
        rc = rtc_jsep_create_answer(&pc->remote, &l, b.secs, b.n, &sdp);
    }
    if (rc == RTC_OK) rc = rtc_sdp_write(&sdp, out);
    rtc_sdp_free(&sdp);
    build_free(&b);
    free(order);
    if (rc) RTC_LOGW(PC_LOG, "%s: createAnswer failed: %s", pc->log_id, rtc_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Applying descriptions.
 */
static int parse_sdp(rtc_peer_connection_t *pc, const char *sdp, rtc_sdp_t *out) {
    rtc_sdp_error_t err;
    int rc = rtc_sdp_parse((const uint8_t *)sdp, strlen(sdp), out, &err);
    if (rc) {
        RTC_LOGW(PC_LOG, "%s: unparsable SDP (line %u: %s): %s", pc->log_id, err.line, err.reason,
                 rtc_strerror(rc));
        return rc == RTC_ERR_LIMIT ? RTC_ERR_LIMIT : RTC_ERR_MALFORMED;
    }
    for (size_t i = 0; i < out->n_media; i++) {
        if (!out->media[i].mid) {
            RTC_LOGW(PC_LOG, "%s: m= section %zu has no a=mid", pc->log_id, i);
            rtc_sdp_free(out);
            return RTC_ERR_PROTOCOL;
        }
    }
    return RTC_OK;
}

/* Moves src into dst (dst freed first), leaving src zeroed. */
static void sdp_move(rtc_sdp_t *dst, rtc_sdp_t *src) {
    rtc_sdp_free(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
    rtc_sdp_init(src);
}

/* The section carrying the transport: the BUNDLE tag, else the first accepted one. */
static const rtc_sdp_media_t *transport_section(const rtc_sdp_t *d) {
    const rtc_sdp_group_t *g = rtc_sdp_find_group(d, "BUNDLE");
    if (g && g->n_mids) {
        const rtc_sdp_media_t *m = rtc_sdp_find_mid(d, g->mids[0]);
        if (m) return m;
    }
    for (size_t i = 0; i < d->n_media; i++)
        if (d->media[i].port != 0) return &d->media[i];
    return d->n_media ? &d->media[0] : NULL;
}

/* Fingerprints of the remote description for DTLS. */
static int remote_fingerprints(rtc_peer_connection_t *pc, const rtc_sdp_t *d) {
    const rtc_sdp_media_t *m = transport_section(d);
    pc->n_remote_fps = 0;
    if (!m) return RTC_ERR_PROTOCOL;
    const rtc_sdp_fingerprint_t *fps = m->n_fingerprints ? m->fingerprints : d->fingerprints;
    size_t n = m->n_fingerprints ? m->n_fingerprints : d->n_fingerprints;
    for (size_t i = 0; i < n && pc->n_remote_fps < RTC_DTLS_MAX_REMOTE_FINGERPRINTS; i++) {
        char tmp[RTC_SDP_TOKEN_SIZE + RTC_SDP_FP_SIZE + 2];
        snprintf(tmp, sizeof tmp, "%s %s", fps[i].hash, fps[i].value);
        if (rtc_dtls_fingerprint_parse(tmp, strlen(tmp), &pc->remote_fps[pc->n_remote_fps]) == RTC_OK)
            pc->n_remote_fps++;
    }
    if (!pc->n_remote_fps) {
        RTC_LOGW(PC_LOG, "%s: remote description has no usable a=fingerprint", pc->log_id);
        return RTC_ERR_PROTOCOL;
    }
    return RTC_OK;
}

/* ICE credentials, lite flag and candidates of a remote description. */
static int apply_remote_ice(rtc_peer_connection_t *pc, const rtc_sdp_t *d, rtc_time_t now) {
    const rtc_sdp_media_t *m = transport_section(d);
    if (!m) return RTC_ERR_PROTOCOL;
    const char *ufrag = rtc_sdp_media_ice_ufrag(d, m);
    const char *pwd = rtc_sdp_media_ice_pwd(d, m);
    if (!ufrag || !pwd) {
        RTC_LOGW(PC_LOG, "%s: remote description lacks ICE credentials", pc->log_id);
        return RTC_ERR_PROTOCOL;
    }
    bool changed = pc->remote_ufrag[0] && (strcmp(pc->remote_ufrag, ufrag) || strcmp(pc->remote_pwd, pwd));
    if (changed) {
        /* The peer restarted ICE. If we did not (our offer), restart too, with new credentials
         * (RFC 8829 5.3.1: the answer to a restart carries new ones). */
        if (pc->signaling == RTC_PC_SIGNALING_STABLE || pc->signaling == RTC_PC_SIGNALING_HAVE_REMOTE_OFFER) {
            random_creds(pc->ufrag, sizeof pc->ufrag, pc->pwd, sizeof pc->pwd);
            int rc = rtc_ice_agent_restart(pc->ice, pc->ufrag, pc->pwd, now);
            if (rc) return rc;
            pc->gathering = RTC_ICE_GATHERING_GATHERING;
        }
        pc->remote_eoc = false;
    }
    if (!pc->remote_ufrag[0] || changed) {
        int rc = rtc_ice_agent_set_remote_credentials(pc->ice, ufrag, pwd, now);
        if (rc) {
            RTC_LOGW(PC_LOG, "%s: remote ICE credentials refused: %s", pc->log_id, rtc_strerror(rc));
            return rc;
        }
        snprintf(pc->remote_ufrag, sizeof pc->remote_ufrag, "%s", ufrag);
        snprintf(pc->remote_pwd, sizeof pc->remote_pwd, "%s", pwd);
    }
    rtc_ice_agent_set_remote_lite(pc->ice, d->ice_lite);
    /* Candidates: every section's (they all belong to the bundle transport). */
    for (size_t i = 0; i < d->n_media; i++) {
        const rtc_sdp_media_t *mm = &d->media[i];
        for (size_t k = 0; k < mm->n_candidates; k++) {
            char line[1024];
            if (rtc_sdp_candidate_format(&mm->candidates[k], line, sizeof line) < 0) continue;
            int rc = rtc_ice_agent_add_remote_candidate_str(pc->ice, line, now);
            if (rc && rc != RTC_ERR_STALE)
                RTC_LOGD(PC_LOG, "%s: remote candidate not used (%s): %s", pc->log_id, rtc_strerror(rc), line);
        }
        if (mm->end_of_candidates && !pc->remote_eoc && mm == m) {
            pc->remote_eoc = true;
            rtc_ice_agent_end_of_remote_candidates(pc->ice, now);
        }
    }
    return RTC_OK;
}

/* Remote offer: bind each offered section to a transceiver (existing by mid, an unassociated
 * addTrack one of the same kind, or a new recvonly one), or to the data section. */
static int associate_remote_offer(rtc_peer_connection_t *pc, const rtc_sdp_t *d) {
    for (size_t i = 0; i < d->n_media; i++) {
        const rtc_sdp_media_t *m = &d->media[i];
        if (m->kind == RTC_SDP_MEDIA_APPLICATION) {
            if (!pc->data_mid[0] && rtc_sdp_media_is_sctp(m)) {
                snprintf(pc->data_mid, sizeof pc->data_mid, "%s", m->mid);
                pc->data_mid_order = ++pc->mid_order_next;
            }
            continue;
        }
        if (m->kind != RTC_SDP_MEDIA_AUDIO && m->kind != RTC_SDP_MEDIA_VIDEO) continue;
        rtc_pc_transceiver_t *t = NULL;
        for (size_t k = 0; k < pc->n_tr && !t; k++)
            if (strcmp(pc->tr[k]->mid, m->mid) == 0) t = pc->tr[k];
        if (t && (rtc_sdp_media_kind_t)t->kind != m->kind) {
            RTC_LOGW(PC_LOG, "%s: remote offer changed the kind of mid %s", pc->log_id, m->mid);
            return RTC_ERR_PROTOCOL;
        }
        if (!t && m->port != 0) {
            for (size_t k = 0; k < pc->n_tr && !t; k++) {
                rtc_pc_transceiver_t *c = pc->tr[k];
                if (!c->mid[0] && !c->stopped && (rtc_sdp_media_kind_t)c->kind == m->kind && c->has_track) t = c;
            }
            if (!t) {
                rtc_pc_transceiver_init_t init;
                rtc_pc_transceiver_init_defaults(&init);
                init.direction = RTC_SDP_DIR_RECVONLY;
                t = pc_transceiver_new(pc, (rtc_pc_media_kind_t)m->kind, &init);
                if (!t) return RTC_ERR_NOMEM;
                t->from_remote = true;
            }
            snprintf(t->mid, sizeof t->mid, "%s", m->mid);
            t->mid_order = ++pc->mid_order_next;
        }
        if (t) pc_transceiver_remote_ssrcs(t, m);
    }
    return RTC_OK;
}

static void fire_tracks(rtc_peer_connection_t *pc, const rtc_sdp_t *remote) {
    for (size_t i = 0; i < remote->n_media; i++) {
        const rtc_sdp_media_t *m = &remote->media[i];
        if (m->kind != RTC_SDP_MEDIA_AUDIO && m->kind != RTC_SDP_MEDIA_VIDEO) continue;
        rtc_pc_transceiver_t *t = NULL;
        for (size_t k = 0; k < pc->n_tr && !t; k++)
            if (strcmp(pc->tr[k]->mid, m->mid) == 0) t = pc->tr[k];
        if (!t) continue;
        bool peer_sends = m->port != 0 && rtc_sdp_dir_sends(m->dir) && !t->stopped;
        if (peer_sends && !t->track_fired) {
            t->track_fired = true;
            if (pc->cb.on_track) pc->cb.on_track(pc->user, t);
        } else if (!peer_sends) {
            t->track_fired = false;
        }
    }
}

/* An offer/answer exchange completed: apply what it negotiated. */
static int apply_negotiation(rtc_peer_connection_t *pc, const rtc_sdp_t *offer, const rtc_sdp_t *answer,
                             bool we_offered, rtc_time_t now) {
    rtc_jsep_result_t r;
    int rc = rtc_jsep_negotiate(offer, answer, we_offered, &r);
    if (rc) {
        RTC_LOGW(PC_LOG, "%s: negotiation failed: %s", pc->log_id, rtc_strerror(rc));
        return rc;
    }
    size_t bundle_transport = SIZE_MAX;
    for (size_t i = 0; i < r.n_media; i++) {
        const rtc_jsep_media_result_t *m = &r.media[i];
        if (!m->rejected && bundle_transport == SIZE_MAX) bundle_transport = m->transport;
        if (!m->rejected && m->transport != bundle_transport && !pc->bundle_warned) {
            pc->bundle_warned = true;
            RTC_LOGW(PC_LOG, "%s: peer did not bundle mid %s; only one transport is supported", pc->log_id,
                     m->mid ? m->mid : "?");
        }
        if (m->kind == RTC_SDP_MEDIA_APPLICATION) {
            if (pc->data_mid[0] && m->mid && strcmp(m->mid, pc->data_mid) == 0) {
                pc->data_negotiated = !m->rejected;
                pc->data_rejected = m->rejected;
                pc->remote_sctp_port = m->sctp_port ? m->sctp_port : RTC_SCTP_DEFAULT_PORT;
                pc->remote_mms = m->max_message_size;
            }
            continue;
        }
        for (size_t k = 0; k < pc->n_tr; k++) {
            rtc_pc_transceiver_t *t = pc->tr[k];
            if (m->mid && strcmp(t->mid, m->mid) == 0) {
                pc_transceiver_apply(t, m);
                if (m->remote) pc_transceiver_remote_ssrcs(t, m->remote);
                break;
            }
        }
    }
    pc->dtls_client = r.dtls_client;
    pc->dtls_role_known = true;
    rtc_jsep_result_free(&r);
    pc->negotiated_once = true;
    pc_transport_negotiated(pc, now);
    return RTC_OK;
}

static void save_prev(rtc_peer_connection_t *pc, bool local) {
    rtc_sdp_t *src = local ? &pc->local : &pc->remote;
    rtc_sdp_t *dst = local ? &pc->prev_local : &pc->prev_remote;
    rtc_sdp_free(dst);
    rtc_sdp_init(dst);
    bool has = local ? pc->has_local : pc->has_remote;
    if (has) {
        rtc_buf_t b;
        rtc_buf_init(&b);
        if (rtc_sdp_write(src, &b) == RTC_OK) rtc_sdp_parse(b.data, b.len, dst, NULL);
        rtc_buf_free(&b);
    }
    if (local) { pc->has_prev_local = has; pc->prev_local_type = pc->local_type; }
    else { pc->has_prev_remote = has; pc->prev_remote_type = pc->remote_type; }
}

static void start_gathering(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc->ice || pc->gathering != RTC_ICE_GATHERING_NEW) return;
    int rc = rtc_ice_agent_gather(pc->ice, now);
    if (rc) RTC_LOGW(PC_LOG, "%s: gathering failed to start: %s", pc->log_id, rtc_strerror(rc));
}

static int sld_offer(rtc_peer_connection_t *pc, rtc_sdp_t *d, rtc_time_t now) {
    if (pc->signaling != RTC_PC_SIGNALING_STABLE && pc->signaling != RTC_PC_SIGNALING_HAVE_LOCAL_OFFER)
        return RTC_ERR_STATE;
    /* The description must be one of ours: every mid known. */
    for (size_t i = 0; i < d->n_media; i++) {
        const char *mid = d->media[i].mid;
        if (!mid_in_use(pc, mid)) {
            RTC_LOGW(PC_LOG, "%s: local offer has unknown mid %s", pc->log_id, mid);
            return RTC_ERR_PROTOCOL;
        }
    }
    const rtc_sdp_media_t *tm = transport_section(d);
    const char *ufrag = tm ? rtc_sdp_media_ice_ufrag(d, tm) : NULL;
    const char *pwd = tm ? rtc_sdp_media_ice_pwd(d, tm) : NULL;
    if (!ufrag || !pwd) return RTC_ERR_PROTOCOL;
    if (!pc->ice) {
        snprintf(pc->ufrag, sizeof pc->ufrag, "%s", ufrag);
        snprintf(pc->pwd, sizeof pc->pwd, "%s", pwd);
        int rc = pc_ice_create(pc, !pc->cfg.ice_lite, now);
        if (rc) return rc;
    } else if (strcmp(ufrag, pc->ufrag) || strcmp(pwd, pc->pwd)) {
        snprintf(pc->ufrag, sizeof pc->ufrag, "%s", ufrag);
        snprintf(pc->pwd, sizeof pc->pwd, "%s", pwd);
        int rc = rtc_ice_agent_restart(pc->ice, pc->ufrag, pc->pwd, now);
        if (rc) return rc;
        pc->remote_ufrag[0] = '\0'; /* the answer brings the peer's new ones */
        pc->remote_eoc = false;
        pc->gathering = RTC_ICE_GATHERING_GATHERING;
    }
    pc->restart_requested = false;
    pc->next_ufrag[0] = pc->next_pwd[0] = '\0';
    save_prev(pc, true);
    sdp_move(&pc->local, d);
    pc->has_local = true;
    pc->local_type = RTC_PC_SDP_OFFER;
    pc->we_offered_last = true;
    set_signaling(pc, RTC_PC_SIGNALING_HAVE_LOCAL_OFFER);
    start_gathering(pc, now);
    return RTC_OK;
}

static int sld_answer(rtc_peer_connection_t *pc, rtc_sdp_t *d, rtc_pc_sdp_type_t type, rtc_time_t now) {
    if (pc->signaling != RTC_PC_SIGNALING_HAVE_REMOTE_OFFER &&
        pc->signaling != RTC_PC_SIGNALING_HAVE_LOCAL_PRANSWER)
        return RTC_ERR_STATE;
    if (type == RTC_PC_SDP_ANSWER) {
        int rc = apply_negotiation(pc, &pc->remote, d, false, now);
        if (rc) return rc;
    }
    save_prev(pc, true);
    sdp_move(&pc->local, d);
    pc->has_local = true;
    pc->local_type = type;
    pc->we_offered_last = false;
    set_signaling(pc, type == RTC_PC_SDP_ANSWER ? RTC_PC_SIGNALING_STABLE : RTC_PC_SIGNALING_HAVE_LOCAL_PRANSWER);
    start_gathering(pc, now);
    pc_transport_maybe_start(pc, now);
    return RTC_OK;
}

int rtc_peer_connection_set_local_description(rtc_peer_connection_t *pc, rtc_pc_sdp_type_t type,
                                              const char *sdp, rtc_time_t now) {
    if (!pc) return RTC_ERR_INVALID_ARG;
    if (pc->closed) return RTC_ERR_STATE;
    pc_touch(pc, now);
    if (type == RTC_PC_SDP_ROLLBACK) {
        if (pc->signaling != RTC_PC_SIGNALING_HAVE_LOCAL_OFFER) return RTC_ERR_STATE;
        sdp_move(&pc->local, &pc->prev_local);
        pc->has_local = pc->has_prev_local;
        pc->local_type = pc->prev_local_type;
        set_signaling(pc, RTC_PC_SIGNALING_STABLE);
        pc_wakeup(pc);
        return RTC_OK;
    }
    rtc_buf_t text;
    rtc_buf_init(&text);
    int rc = RTC_OK;
    if (!sdp) {
        if (pc->signaling == RTC_PC_SIGNALING_HAVE_REMOTE_OFFER || pc->signaling == RTC_PC_SIGNALING_HAVE_LOCAL_PRANSWER) {
            type = RTC_PC_SDP_ANSWER;
            rc = rtc_peer_connection_create_answer(pc, &text);
        } else {
            type = RTC_PC_SDP_OFFER;
            rc = rtc_peer_connection_create_offer(pc, NULL, &text);
        }
        if (rc) { rtc_buf_free(&text); return rc; }
        sdp = (const char *)text.data;
    }
    rtc_sdp_t d;
    rc = parse_sdp(pc, sdp, &d);
    rtc_buf_free(&text);
    if (rc) return rc;
    if (type == RTC_PC_SDP_OFFER) rc = sld_offer(pc, &d, now);
    else rc = sld_answer(pc, &d, type, now);
    rtc_sdp_free(&d);
    if (rc) RTC_LOGW(PC_LOG, "%s: setLocalDescription(%s) failed: %s", pc->log_id, rtc_pc_sdp_type_name(type),
                     rtc_strerror(rc));
    pc_wakeup(pc);
    return rc;
}

static int srd_offer(rtc_peer_connection_t *pc, rtc_sdp_t *d, rtc_time_t now) {
    if (pc->signaling != RTC_PC_SIGNALING_STABLE && pc->signaling != RTC_PC_SIGNALING_HAVE_REMOTE_OFFER)
        return RTC_ERR_STATE;
    if (!pc->ice) {
        int rc = pc_ice_create(pc, false, now);
        if (rc) return rc;
    }
    int rc = associate_remote_offer(pc, d);
    if (rc) return rc;
    rc = remote_fingerprints(pc, d);
    if (rc) return rc;
    rc = apply_remote_ice(pc, d, now);
    if (rc) return rc;
    save_prev(pc, false);
    sdp_move(&pc->remote, d);
    pc->has_remote = true;
    pc->remote_type = RTC_PC_SDP_OFFER;
    set_signaling(pc, RTC_PC_SIGNALING_HAVE_REMOTE_OFFER);
    fire_tracks(pc, &pc->remote);
    return RTC_OK;
}

static int srd_answer(rtc_peer_connection_t *pc, rtc_sdp_t *d, rtc_pc_sdp_type_t type, rtc_time_t now) {
    if (pc->signaling != RTC_PC_SIGNALING_HAVE_LOCAL_OFFER &&
        pc->signaling != RTC_PC_SIGNALING_HAVE_REMOTE_PRANSWER)
        return RTC_ERR_STATE;
    int rc = remote_fingerprints(pc, d);
    if (rc) return rc;
    if (type == RTC_PC_SDP_ANSWER) {
        rc = apply_negotiation(pc, &pc->local, d, true, now);
        if (rc) return rc;
    }
    rc = apply_remote_ice(pc, d, now);
    if (rc) return rc;
    save_prev(pc, false);
    sdp_move(&pc->remote, d);
    pc->has_remote = true;
    pc->remote_type = type;
    set_signaling(pc, type == RTC_PC_SDP_ANSWER ? RTC_PC_SIGNALING_STABLE : RTC_PC_SIGNALING_HAVE_REMOTE_PRANSWER);
    fire_tracks(pc, &pc->remote);
    pc_transport_maybe_start(pc, now);
    return RTC_OK;
}

int rtc_peer_connection_set_remote_description(rtc_peer_connection_t *pc, rtc_pc_sdp_type_t type,
                                               const char *sdp, rtc_time_t now) {
    if (!pc) return RTC_ERR_INVALID_ARG;
    if (pc->closed) return RTC_ERR_STATE;
    pc_touch(pc, now);
    if (type == RTC_PC_SDP_ROLLBACK) {
        if (pc->signaling != RTC_PC_SIGNALING_HAVE_REMOTE_OFFER) return RTC_ERR_STATE;
        sdp_move(&pc->remote, &pc->prev_remote);
        pc->has_remote = pc->has_prev_remote;
        pc->remote_type = pc->prev_remote_type;
        set_signaling(pc, RTC_PC_SIGNALING_STABLE);
        pc_wakeup(pc);
        return RTC_OK;
    }
    if (!sdp) return RTC_ERR_INVALID_ARG;
    rtc_sdp_t d;
    int rc = parse_sdp(pc, sdp, &d);
    if (rc) return rc;
    if (type == RTC_PC_SDP_OFFER) rc = srd_offer(pc, &d, now);
    else rc = srd_answer(pc, &d, type, now);
    rtc_sdp_free(&d);
    if (rc) RTC_LOGW(PC_LOG, "%s: setRemoteDescription(%s) failed: %s", pc->log_id, rtc_pc_sdp_type_name(type),
                     rtc_strerror(rc));
    pc_wakeup(pc);
    return rc;
}

/* The description with the candidates gathered so far in the bundle section. */
static int write_with_candidates(const rtc_peer_connection_t *pc, const rtc_sdp_t *d, bool local, rtc_buf_t *out) {
    if (!local || !pc->ice) return rtc_sdp_write(d, out);
    rtc_buf_t tmp;
    rtc_buf_init(&tmp);
    int rc = rtc_sdp_write(d, &tmp);
    rtc_sdp_t copy;
    if (rc == RTC_OK) rc = rtc_sdp_parse(tmp.data, tmp.len, &copy, NULL);
    rtc_buf_free(&tmp);
    if (rc) return rc;
    rtc_sdp_media_t *m = (rtc_sdp_media_t *)transport_section(&copy);
    build_t b = {0};
    rc = local_candidates(pc, &b);
    if (rc == RTC_OK && m) {
        m->n_candidates = 0;
        for (size_t i = 0; i < b.n_cands && rc == RTC_OK; i++) {
            rtc_sdp_candidate_t *c = rtc_sdp_media_add_candidate(m);
            if (!c) rc = RTC_ERR_NOMEM;
            else *c = b.cands[i];
        }
        m->end_of_candidates = pc->gathering == RTC_ICE_GATHERING_COMPLETE;
    }
    if (rc == RTC_OK) rc = rtc_sdp_write(&copy, out);
    build_free(&b);
    rtc_sdp_free(&copy);
    return rc;
}

int rtc_peer_connection_local_description(const rtc_peer_connection_t *pc, rtc_buf_t *out,
                                          rtc_pc_sdp_type_t *type) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    if (!pc->has_local) return RTC_ERR_NOT_FOUND;
    if (type) *type = pc->local_type;
    return write_with_candidates(pc, &pc->local, true, out);
}

int rtc_peer_connection_remote_description(const rtc_peer_connection_t *pc, rtc_buf_t *out,
                                           rtc_pc_sdp_type_t *type) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    if (!pc->has_remote) return RTC_ERR_NOT_FOUND;
    if (type) *type = pc->remote_type;
    return rtc_sdp_write(&pc->remote, out);
}

int rtc_peer_connection_add_ice_candidate(rtc_peer_connection_t *pc, const char *candidate,
                                          const char *mid, rtc_time_t now) {
    if (!pc) return RTC_ERR_INVALID_ARG;
    if (pc->closed) return RTC_ERR_STATE;
    if (!pc->has_remote || !pc->ice) return RTC_ERR_STATE;
    pc_touch(pc, now);
    if (mid && !rtc_sdp_find_mid(&pc->remote, mid)) {
        RTC_LOGW(PC_LOG, "%s: addIceCandidate for unknown mid %s", pc->log_id, mid);
        return RTC_ERR_NOT_FOUND;
    }
    int rc;
    if (!candidate || !candidate[0]) {
        pc->remote_eoc = true;
        rc = rtc_ice_agent_end_of_remote_candidates(pc->ice, now);
    } else {
        rc = rtc_ice_agent_add_remote_candidate_str(pc->ice, candidate, now);
        if (rc == RTC_ERR_STALE) rc = RTC_OK; /* an old generation's: ignored, as browsers do */
        if (rc) RTC_LOGD(PC_LOG, "%s: candidate refused (%s): %s", pc->log_id, rtc_strerror(rc), candidate);
    }
    pc_wakeup(pc);
    return rc;
}

void rtc_peer_connection_restart_ice(rtc_peer_connection_t *pc) {
    if (!pc || pc->closed) return;
    pc->restart_requested = true;
    pc->next_ufrag[0] = '\0';
    pc_mark_negotiation_needed(pc);
}

/* ------------------------------------------------------------------------------------------
 * Transceivers at the PC level.
 */
rtc_pc_transceiver_t *rtc_peer_connection_add_transceiver(rtc_peer_connection_t *pc,
                                                          rtc_pc_media_kind_t kind,
                                                          const rtc_pc_transceiver_init_t *init) {
    if (!pc || pc->closed) return NULL;
    if (kind != RTC_PC_MEDIA_AUDIO && kind != RTC_PC_MEDIA_VIDEO) return NULL;
    rtc_pc_transceiver_init_t def;
    if (!init) { rtc_pc_transceiver_init_defaults(&def); init = &def; }
    rtc_pc_transceiver_t *t = pc_transceiver_new(pc, kind, init);
    if (!t) return NULL;
    t->has_track = rtc_sdp_dir_sends(init->direction);
    pc_mark_negotiation_needed(pc);
    return t;
}

rtc_pc_transceiver_t *rtc_peer_connection_add_track(rtc_peer_connection_t *pc,
                                                    rtc_pc_media_kind_t kind, const char *track_id,
                                                    const char *stream_id) {
    if (!pc || pc->closed) return NULL;
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        if (t->kind == kind && !t->has_track && !t->stopped && !t->ever_negotiated_send) {
            t->has_track = true;
            if (track_id) snprintf(t->track_id, sizeof t->track_id, "%s", track_id);
            if (stream_id) snprintf(t->stream_id, sizeof t->stream_id, "%s", stream_id);
            t->direction = rtc_sdp_dir_make(true, rtc_sdp_dir_receives(t->direction) ||
                                                      t->direction == RTC_SDP_DIR_RECVONLY);
            pc_mark_negotiation_needed(pc);
            return t;
        }
    }
    rtc_pc_transceiver_init_t init;
    rtc_pc_transceiver_init_defaults(&init);
    init.track_id = track_id;
    init.stream_id = stream_id;
    return rtc_peer_connection_add_transceiver(pc, kind, &init);
}

int rtc_peer_connection_remove_track(rtc_peer_connection_t *pc, rtc_pc_transceiver_t *t) {
    if (!pc || !t || t->pc != pc) return RTC_ERR_INVALID_ARG;
    if (pc->closed) return RTC_ERR_STATE;
    if (!t->has_track) return RTC_OK;
    t->has_track = false;
    t->direction = rtc_sdp_dir_make(false, rtc_sdp_dir_receives(t->direction));
    pc_mark_negotiation_needed(pc);
    return RTC_OK;
}

size_t rtc_peer_connection_transceiver_count(const rtc_peer_connection_t *pc) { return pc ? pc->n_tr : 0; }
rtc_pc_transceiver_t *rtc_peer_connection_transceiver(const rtc_peer_connection_t *pc, size_t i) {
    return pc && i < pc->n_tr ? pc->tr[i] : NULL;
}

/* ------------------------------------------------------------------------------------------
 * Timers and close.
 */
rtc_time_t rtc_peer_connection_next_timeout(const rtc_peer_connection_t *pc) {
    if (!pc || pc->closed) return RTC_TIME_NEVER;
    if (pc->negotiation_needed && pc->signaling == RTC_PC_SIGNALING_STABLE) return pc->now;
    rtc_time_t t = pc_transport_next_timeout(pc);
    rtc_time_t m = pc_media_next_timeout(pc);
    return m < t ? m : t;
}

void rtc_peer_connection_handle_timeout(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc || pc->closed) return;
    pc_touch(pc, now);
    if (pc->negotiation_needed && pc->signaling == RTC_PC_SIGNALING_STABLE) {
        pc->negotiation_needed = false;
        if (pc->cb.on_negotiation_needed) pc->cb.on_negotiation_needed(pc->user);
        if (pc->closed) return;
    }
    pc_transport_timeout(pc, now);
    if (pc->closed) return;
    pc_media_timeout(pc, now);
}

void rtc_peer_connection_close(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc || pc->closed) return;
    pc_touch(pc, now);
    pc->closed = true;
    pc_transport_close(pc, now);
    pc->signaling = RTC_PC_SIGNALING_CLOSED;
    if (pc->cb.on_signaling_state) pc->cb.on_signaling_state(pc->user, RTC_PC_SIGNALING_CLOSED);
    pc_set_ice_state(pc, RTC_ICE_STATE_CLOSED);
    pc_update_state(pc);
    pc_wakeup(pc);
}
