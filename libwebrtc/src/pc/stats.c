/* pc/stats.c — getStats(): the W3C statistics dictionaries (webrtc-stats) as one JSON object
 * keyed by stats id, the shape RTCStatsReport has when serialised from a browser. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pc/pc_internal.h"

typedef struct {
    rtc_buf_t *out;
    bool first;
    double ts;
    int rc;
} js_t;

static void js_open(js_t *j, const char *id, const char *type) {
    char eid[256];
    rtc_json_escape(eid, sizeof eid, id);
    if (rtc_buf_appendf(j->out, "%s\"%s\":{\"id\":\"%s\",\"type\":\"%s\",\"timestamp\":%.3f", j->first ? "" : ",",
                        eid, eid, type, j->ts) != RTC_OK)
        j->rc = RTC_ERR_NOMEM;
    j->first = false;
}
static void js_close(js_t *j) {
    if (rtc_buf_append_str(j->out, "}") != RTC_OK) j->rc = RTC_ERR_NOMEM;
}
static void js_str(js_t *j, const char *k, const char *v) {
    char e[1024];
    rtc_json_escape(e, sizeof e, v ? v : "");
    if (rtc_buf_appendf(j->out, ",\"%s\":\"%s\"", k, e) != RTC_OK) j->rc = RTC_ERR_NOMEM;
}
static void js_u64(js_t *j, const char *k, uint64_t v) {
    if (rtc_buf_appendf(j->out, ",\"%s\":%" PRIu64, k, v) != RTC_OK) j->rc = RTC_ERR_NOMEM;
}
static void js_i64(js_t *j, const char *k, int64_t v) {
    if (rtc_buf_appendf(j->out, ",\"%s\":%" PRId64, k, v) != RTC_OK) j->rc = RTC_ERR_NOMEM;
}
static void js_dbl(js_t *j, const char *k, double v) {
    if (rtc_buf_appendf(j->out, ",\"%s\":%.6f", k, v) != RTC_OK) j->rc = RTC_ERR_NOMEM;
}
static void js_bool(js_t *j, const char *k, bool v) {
    if (rtc_buf_appendf(j->out, ",\"%s\":%s", k, v ? "true" : "false") != RTC_OK) j->rc = RTC_ERR_NOMEM;
}

static const char *dc_state_name(rtc_dc_state_t s) {
    switch (s) {
    case RTC_DC_CONNECTING: return "connecting";
    case RTC_DC_OPEN: return "open";
    case RTC_DC_CLOSING: return "closing";
    case RTC_DC_CLOSED: return "closed";
    }
    return "closed";
}

static void cand_id(const rtc_ice_candidate_t *c, bool local, char *out, size_t cap) {
    char a[RTC_ADDR_STRLEN];
    rtc_addr_format(&c->addr, a, sizeof a);
    snprintf(out, cap, "%s-%s-%s-%s", local ? "L" : "R", rtc_ice_candidate_type_name(c->type), a, c->foundation);
}

static void candidate(js_t *j, const rtc_ice_candidate_t *c, bool local) {
    char id[160], ip[64];
    cand_id(c, local, id, sizeof id);
    js_open(j, id, local ? "local-candidate" : "remote-candidate");
    js_str(j, "transportId", "T01");
    if (c->addr.family != RTC_AF_UNSPEC) {
        rtc_addr_format_ip(&c->addr, ip, sizeof ip);
        js_str(j, "address", ip);
    } else {
        js_str(j, "address", c->hostname);
    }
    js_u64(j, "port", c->addr.port);
    js_str(j, "protocol", c->transport == RTC_ICE_TRANSPORT_TCP ? "tcp" : "udp");
    js_str(j, "candidateType", rtc_ice_candidate_type_name(c->type));
    js_u64(j, "priority", c->priority);
    js_str(j, "foundation", c->foundation);
    if (local && c->type == RTC_ICE_CANDIDATE_RELAY)
        js_str(j, "relayProtocol", c->relay_protocol == RTC_ICE_RELAY_UDP ? "udp"
                                   : c->relay_protocol == RTC_ICE_RELAY_TCP ? "tcp" : "tls");
    js_close(j);
}

static void codec_stats(js_t *j, const rtc_pc_transceiver_t *t, const rtc_sdp_codec_t *c) {
    char id[96], mime[64];
    snprintf(id, sizeof id, "CIT01_%u_%s", c->pt, t->mid);
    js_open(j, id, "codec");
    js_str(j, "transportId", "T01");
    js_u64(j, "payloadType", c->pt);
    snprintf(mime, sizeof mime, "%s/%s", t->kind == RTC_PC_MEDIA_AUDIO ? "audio" : "video", c->name);
    js_str(j, "mimeType", mime);
    js_u64(j, "clockRate", c->clock);
    if (c->channels) js_u64(j, "channels", c->channels);
    if (c->fmtp) js_str(j, "sdpFmtpLine", c->fmtp);
    js_close(j);
}

int rtc_peer_connection_get_stats(const rtc_peer_connection_t *pc, rtc_time_t now, rtc_buf_t *out) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    js_t j = {.out = out, .first = true, .rc = RTC_OK};
    int64_t wall = pc->have_first_now ? pc->created_wall_us + (now - pc->first_now) : pc->created_wall_us;
    j.ts = (double)wall / 1000.0;
    if (rtc_buf_append_str(out, "{") != RTC_OK) return RTC_ERR_NOMEM;

    js_open(&j, "P", "peer-connection");
    js_u64(&j, "dataChannelsOpened", pc->dc_opened);
    js_u64(&j, "dataChannelsClosed", pc->dc_closed);
    js_close(&j);

    /* Transport, selected pair, candidates. */
    rtc_ice_pair_info_t sel;
    bool have_sel = pc->ice && rtc_ice_agent_get_selected_pair(pc->ice, &sel) == RTC_OK;
    char sel_id[340] = "";
    if (have_sel) {
        char l[160], r[160];
        cand_id(&sel.local, true, l, sizeof l);
        cand_id(&sel.remote, false, r, sizeof r);
        snprintf(sel_id, sizeof sel_id, "CP%s_%s", l, r);
    }
    uint64_t tb_sent = 0, tb_recv = 0, tp_sent = 0, tp_recv = 0;
    if (pc->ice) {
        size_t np = rtc_ice_agent_get_pairs(pc->ice, NULL, 0);
        rtc_ice_pair_info_t *pairs = np ? calloc(np, sizeof *pairs) : NULL;
        if (pairs) np = rtc_ice_agent_get_pairs(pc->ice, pairs, np);
        else np = 0;
        for (size_t i = 0; i < np; i++) {
            const rtc_ice_pair_info_t *p = &pairs[i];
            char l[160], r[160], id[340];
            cand_id(&p->local, true, l, sizeof l);
            cand_id(&p->remote, false, r, sizeof r);
            snprintf(id, sizeof id, "CP%s_%s", l, r);
            js_open(&j, id, "candidate-pair");
            js_str(&j, "transportId", "T01");
            js_str(&j, "localCandidateId", l);
            js_str(&j, "remoteCandidateId", r);
            js_str(&j, "state", rtc_ice_pair_state_name(p->state));
            js_bool(&j, "nominated", p->nominated);
            js_u64(&j, "priority", p->priority);
            js_u64(&j, "packetsSent", p->packets_sent);
            js_u64(&j, "packetsReceived", p->packets_received);
            js_u64(&j, "bytesSent", p->bytes_sent);
            js_u64(&j, "bytesReceived", p->bytes_received);
            js_u64(&j, "requestsSent", p->requests_sent);
            js_u64(&j, "requestsReceived", p->requests_received);
            js_u64(&j, "responsesSent", p->responses_sent);
            js_u64(&j, "responsesReceived", p->responses_received);
            if (p->rtt > 0) js_dbl(&j, "currentRoundTripTime", (double)p->rtt / 1e6);
            if (p->selected && pc->bwe) js_u64(&j, "availableOutgoingBitrate", rtc_bwe_target_bps(pc->bwe));
            js_close(&j);
            tb_sent += p->bytes_sent;
            tb_recv += p->bytes_received;
            tp_sent += p->packets_sent;
            tp_recv += p->packets_received;
        }
        free(pairs);
        size_t nl = rtc_ice_agent_local_candidates(pc->ice, NULL, 0);
        size_t nr = rtc_ice_agent_remote_candidates(pc->ice, NULL, 0);
        rtc_ice_candidate_t *cs = calloc(nl + nr + 1, sizeof *cs);
        if (cs) {
            nl = rtc_ice_agent_local_candidates(pc->ice, cs, nl);
            for (size_t i = 0; i < nl; i++) candidate(&j, &cs[i], true);
            nr = rtc_ice_agent_remote_candidates(pc->ice, cs, nr);
            for (size_t i = 0; i < nr; i++) candidate(&j, &cs[i], false);
            free(cs);
        }
    }
    js_open(&j, "T01", "transport");
    js_u64(&j, "bytesSent", tb_sent);
    js_u64(&j, "bytesReceived", tb_recv);
    js_u64(&j, "packetsSent", tp_sent);
    js_u64(&j, "packetsReceived", tp_recv);
    js_str(&j, "iceState", rtc_ice_state_name(pc->ice_state));
    js_str(&j, "dtlsState", pc->dtls ? rtc_dtls_state_name(rtc_dtls_state(pc->dtls)) : "new");
    if (pc->dtls_role_known) js_str(&j, "dtlsRole", pc->dtls_client ? "client" : "server");
    if (pc->ice) js_str(&j, "iceRole", rtc_ice_agent_role(pc->ice) == RTC_ICE_ROLE_CONTROLLING ? "controlling" : "controlled");
    if (pc->ice) js_str(&j, "iceLocalUsernameFragment", rtc_ice_agent_local_ufrag(pc->ice));
    if (have_sel) js_str(&j, "selectedCandidatePairId", sel_id);
    if (pc->dtls && rtc_dtls_cipher(pc->dtls)) js_str(&j, "dtlsCipher", rtc_dtls_cipher(pc->dtls));
    if (pc->srtp) {
        rtc_srtp_profile_t p = rtc_srtp_session_profile(pc->srtp);
        js_str(&j, "srtpCipher", p == RTC_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80");
    }
    js_str(&j, "localCertificateId", "CFlocal");
    if (pc->dtls && rtc_dtls_state(pc->dtls) == RTC_DTLS_STATE_CONNECTED) js_str(&j, "remoteCertificateId", "CFremote");
    js_close(&j);

    /* Certificates. */
    {
        char fp[RTC_DTLS_FINGERPRINT_STRLEN];
        rtc_buf_t pem;
        rtc_buf_init(&pem);
        js_open(&j, "CFlocal", "certificate");
        js_str(&j, "fingerprint", pc->local_fp.value);
        js_str(&j, "fingerprintAlgorithm", pc->local_fp.hash);
        if (rtc_dtls_cert_to_pem(pc->cert, &pem, NULL) == RTC_OK && pem.data) {
            /* base64Certificate: the DER in base64 = the PEM body without armour/newlines. */
            rtc_buf_t b64;
            rtc_buf_init(&b64);
            const char *s = (const char *)pem.data;
            const char *body = strstr(s, "-----\n");
            const char *end = strstr(s, "\n-----END");
            if (body && end && end > body) {
                for (const char *c = body + 6; c < end; c++)
                    if (*c != '\n' && *c != '\r') rtc_buf_append(&b64, c, 1);
                rtc_buf_append(&b64, "", 1);
                js_str(&j, "base64Certificate", (const char *)b64.data);
            }
            rtc_buf_free(&b64);
        }
        rtc_buf_free(&pem);
        js_close(&j);
        rtc_dtls_fingerprint_t rfp;
        if (pc->dtls && rtc_dtls_state(pc->dtls) == RTC_DTLS_STATE_CONNECTED &&
            rtc_dtls_get_remote_fingerprint(pc->dtls, RTC_DIGEST_SHA256, &rfp) == RTC_OK &&
            rtc_dtls_fingerprint_format(&rfp, fp, sizeof fp) > 0) {
            js_open(&j, "CFremote", "certificate");
            char *sp = strchr(fp, ' ');
            js_str(&j, "fingerprint", sp ? sp + 1 : fp);
            js_str(&j, "fingerprintAlgorithm", "sha-256");
            js_close(&j);
        }
    }

    /* RTP streams and codecs. */
    for (size_t i = 0; i < pc->n_tr; i++) {
        const rtc_pc_transceiver_t *t = pc->tr[i];
        const char *kind = t->kind == RTC_PC_MEDIA_AUDIO ? "audio" : "video";
        for (size_t c = 0; c < t->n_neg_codecs; c++) codec_stats(&j, t, &t->neg_codecs[c]);
        char id[96], cid[96], rid_[96];
        if (t->packets_sent || t->sending) {
            snprintf(id, sizeof id, "OT01%c%u", kind[0], t->ssrc);
            snprintf(rid_, sizeof rid_, "RI01%c%u", kind[0], t->ssrc);
            js_open(&j, id, "outbound-rtp");
            js_u64(&j, "ssrc", t->ssrc);
            js_str(&j, "kind", kind);
            js_str(&j, "transportId", "T01");
            if (t->mid[0]) js_str(&j, "mid", t->mid);
            if (t->packets_sent) {
                snprintf(cid, sizeof cid, "CIT01_%u_%s", t->last_pt, t->mid);
                js_str(&j, "codecId", cid);
            }
            js_u64(&j, "packetsSent", t->packets_sent);
            js_u64(&j, "bytesSent", t->bytes_sent);
            js_u64(&j, "headerBytesSent", t->header_bytes_sent);
            js_u64(&j, "retransmittedPacketsSent", t->retransmitted_packets);
            js_u64(&j, "retransmittedBytesSent", t->retransmitted_bytes);
            js_u64(&j, "nackCount", t->nacks_received);
            if (t->kind == RTC_PC_MEDIA_VIDEO) {
                js_u64(&j, "pliCount", t->plis_received);
                js_u64(&j, "firCount", t->firs_received);
            }
            if (t->rtx_ssrc) js_u64(&j, "rtxSsrc", t->rtx_ssrc);
            if (t->remote_fraction_lost >= 0) js_str(&j, "remoteId", rid_);
            js_close(&j);
            if (t->remote_fraction_lost >= 0) {
                js_open(&j, rid_, "remote-inbound-rtp");
                js_u64(&j, "ssrc", t->ssrc);
                js_str(&j, "kind", kind);
                js_str(&j, "transportId", "T01");
                js_str(&j, "localId", id);
                js_i64(&j, "packetsLost", t->remote_cumulative_lost);
                js_dbl(&j, "fractionLost", (double)t->remote_fraction_lost / 256.0);
                js_dbl(&j, "jitter", (double)t->remote_jitter / (t->kind == RTC_PC_MEDIA_VIDEO ? 90000.0 : 48000.0));
                int64_t rtt = rtc_rtp_send_stats_rtt(t->send_stats);
                if (rtt > 0) js_dbl(&j, "roundTripTime", (double)rtt / 1e6);
                js_close(&j);
            }
        }
        for (size_t k = 0; k < t->n_streams; k++) {
            const pc_recv_stream_t *s = &t->streams[k];
            rtc_rtp_recv_stats_info_t st;
            rtc_rtp_recv_stats_get(s->stats, &st);
            snprintf(id, sizeof id, "IT01%c%u", kind[0], s->ssrc);
            js_open(&j, id, "inbound-rtp");
            js_u64(&j, "ssrc", s->ssrc);
            js_str(&j, "kind", kind);
            js_str(&j, "transportId", "T01");
            if (t->mid[0]) js_str(&j, "mid", t->mid);
            if (s->rid[0]) js_str(&j, "rid", s->rid);
            snprintf(cid, sizeof cid, "CIT01_%u_%s", s->last_pt, t->mid);
            js_str(&j, "codecId", cid);
            js_str(&j, "trackIdentifier", t->track_id);
            js_u64(&j, "packetsReceived", s->packets);
            js_u64(&j, "bytesReceived", s->bytes);
            js_u64(&j, "headerBytesReceived", s->header_bytes);
            js_i64(&j, "packetsLost", st.cumulative_lost);
            js_dbl(&j, "jitter", st.jitter / (double)s->clock);
            js_u64(&j, "nackCount", s->nacks_sent);
            if (t->kind == RTC_PC_MEDIA_VIDEO) {
                js_u64(&j, "pliCount", s->plis_sent);
                js_u64(&j, "firCount", s->firs_sent);
            }
            js_u64(&j, "retransmittedPacketsReceived", s->retransmitted);
            if (s->rtx_ssrc) js_u64(&j, "rtxSsrc", s->rtx_ssrc);
            if (s->last_packet_us) js_dbl(&j, "lastPacketReceivedTimestamp", (double)s->last_packet_us / 1000.0);
            js_close(&j);
        }
    }

    /* Data channels. */
    for (size_t i = 0; i < pc->n_dcs; i++) {
        const rtc_pc_datachannel_t *d = pc->dcs[i];
        char id[32];
        snprintf(id, sizeof id, "D%zu", i);
        js_open(&j, id, "data-channel");
        js_str(&j, "label", d->label);
        js_str(&j, "protocol", d->protocol);
        if (d->id >= 0) js_i64(&j, "dataChannelIdentifier", d->id);
        js_str(&j, "state", dc_state_name(d->state));
        js_u64(&j, "messagesSent", d->messages_sent);
        js_u64(&j, "bytesSent", d->bytes_sent);
        js_u64(&j, "messagesReceived", d->messages_received);
        js_u64(&j, "bytesReceived", d->bytes_received);
        js_close(&j);
    }
    if (j.rc == RTC_OK && rtc_buf_append_str(out, "}") != RTC_OK) j.rc = RTC_ERR_NOMEM;
    return j.rc;
}
