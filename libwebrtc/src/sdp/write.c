/* sdp/write.c — writes the model back as SDP text, in a canonical order.
 *
 * Known attributes go in Chromium's order (see sdp_internal.h); each unknown attribute is
 * written right after the group of known lines it followed when parsed, so a browser's
 * description comes back line for line. */
#include <inttypes.h>

#include "sdp/sdp_internal.h"

#define W(...) do { if (rtc_buf_appendf(out, __VA_ARGS__) != RTC_OK) return RTC_ERR_NOMEM; } while (0)
#define TRYW(expr) do { int rc_ = (expr); if (rc_) return rc_; } while (0)

static int write_lines(rtc_buf_t *out, const rtc_sdp_line_t *l, size_t n, char type) {
    for (size_t i = 0; i < n; i++)
        if (l[i].type == type) W("%c=%s\r\n", type, l[i].value ? l[i].value : "");
    return RTC_OK;
}

static int write_conn(rtc_buf_t *out, const rtc_sdp_conn_t *c) {
    if (!c->present) return RTC_OK;
    if (!c->nettype || !c->addrtype || !c->address) return RTC_ERR_INVALID_ARG;
    W("c=%s %s %s\r\n", c->nettype, c->addrtype, c->address);
    return RTC_OK;
}

static int write_bw(rtc_buf_t *out, const rtc_sdp_bandwidth_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) W("b=%s:%" PRIu64 "\r\n", b[i].type ? b[i].type : "AS", b[i].value);
    return RTC_OK;
}

static int write_unknown(rtc_buf_t *out, const rtc_sdp_attr_t *a, size_t n, unsigned stage) {
    for (size_t i = 0; i < n; i++) {
        if (a[i].after != stage || !a[i].name) continue;
        if (a[i].value) W("a=%s:%s\r\n", a[i].name, a[i].value);
        else W("a=%s\r\n", a[i].name);
    }
    return RTC_OK;
}

static int write_fps(rtc_buf_t *out, const rtc_sdp_fingerprint_t *fp, size_t n) {
    for (size_t i = 0; i < n; i++) W("a=fingerprint:%s %s\r\n", fp[i].hash, fp[i].value);
    return RTC_OK;
}

static int write_session_stage(rtc_buf_t *out, const rtc_sdp_t *s, unsigned stage) {
    switch (stage) {
    case RTC_SDP_SS_GROUP:
        for (size_t i = 0; i < s->n_groups; i++) {
            W("a=group:%s", s->groups[i].semantics ? s->groups[i].semantics : "BUNDLE");
            for (size_t k = 0; k < s->groups[i].n_mids; k++) W(" %s", s->groups[i].mids[k]);
            W("\r\n");
        }
        break;
    case RTC_SDP_SS_EXTMAP_ALLOW_MIXED:
        if (s->extmap_allow_mixed) W("a=extmap-allow-mixed\r\n");
        break;
    case RTC_SDP_SS_MSID_SEMANTIC:
        if (s->msid_semantic.present) {
            const rtc_sdp_msid_semantic_t *m = &s->msid_semantic;
            W("a=msid-semantic:%s%s", m->space ? " " : "", m->token ? m->token : "WMS");
            if (m->ids) W(" %s", m->ids);
            W("\r\n");
        }
        break;
    case RTC_SDP_SS_ICE_LITE:
        if (s->ice_lite) W("a=ice-lite\r\n");
        break;
    case RTC_SDP_SS_ICE_UFRAG:
        if (s->ice_ufrag) W("a=ice-ufrag:%s\r\n", s->ice_ufrag);
        break;
    case RTC_SDP_SS_ICE_PWD:
        if (s->ice_pwd) W("a=ice-pwd:%s\r\n", s->ice_pwd);
        break;
    case RTC_SDP_SS_ICE_OPTIONS:
        if (s->ice_options) W("a=ice-options:%s\r\n", s->ice_options);
        break;
    case RTC_SDP_SS_FINGERPRINT:
        return write_fps(out, s->fingerprints, s->n_fingerprints);
    case RTC_SDP_SS_SETUP:
        if (s->setup) W("a=setup:%s\r\n", rtc_sdp_setup_name(s->setup));
        break;
    default:
        break;
    }
    return RTC_OK;
}

static int write_codec(rtc_buf_t *out, const rtc_sdp_codec_t *c) {
    if (c->has_rtpmap) {
        W("a=rtpmap:%u %s/%u", c->pt, c->name, c->clock);
        if (c->channels) W("/%u", c->channels);
        W("\r\n");
    }
    for (size_t i = 0; i < c->n_fb; i++) W("a=rtcp-fb:%u %s\r\n", c->pt, c->fb[i]);
    if (c->fmtp) W("a=fmtp:%u %s\r\n", c->pt, c->fmtp);
    return RTC_OK;
}

static int write_media_stage(rtc_buf_t *out, const rtc_sdp_media_t *m, unsigned stage) {
    switch (stage) {
    case RTC_SDP_MS_RTCP:
        if (m->rtcp) W("a=rtcp:%s\r\n", m->rtcp);
        break;
    case RTC_SDP_MS_CANDIDATE:
        for (size_t i = 0; i < m->n_candidates; i++) {
            char line[RTC_SDP_MAX_LINE];
            int n = rtc_sdp_candidate_format(&m->candidates[i], line, sizeof line);
            if (n < 0) return n;
            W("a=%s\r\n", line);
        }
        break;
    case RTC_SDP_MS_ICE_UFRAG:
        if (m->ice_ufrag) W("a=ice-ufrag:%s\r\n", m->ice_ufrag);
        break;
    case RTC_SDP_MS_ICE_PWD:
        if (m->ice_pwd) W("a=ice-pwd:%s\r\n", m->ice_pwd);
        break;
    case RTC_SDP_MS_ICE_OPTIONS:
        if (m->ice_options) W("a=ice-options:%s\r\n", m->ice_options);
        break;
    case RTC_SDP_MS_FINGERPRINT:
        return write_fps(out, m->fingerprints, m->n_fingerprints);
    case RTC_SDP_MS_SETUP:
        if (m->setup) W("a=setup:%s\r\n", rtc_sdp_setup_name(m->setup));
        break;
    case RTC_SDP_MS_MID:
        if (m->mid) W("a=mid:%s\r\n", m->mid);
        break;
    case RTC_SDP_MS_BUNDLE_ONLY:
        if (m->bundle_only) W("a=bundle-only\r\n");
        break;
    case RTC_SDP_MS_EXTMAP:
        for (size_t i = 0; i < m->n_extmaps; i++) {
            const rtc_sdp_extmap_t *e = &m->extmaps[i];
            W("a=extmap:%u", e->id);
            if (e->dir) W("/%s", rtc_sdp_dir_name(e->dir));
            W(" %s", e->uri ? e->uri : "");
            if (e->attrs) W(" %s", e->attrs);
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_EXTMAP_ALLOW_MIXED:
        if (m->extmap_allow_mixed) W("a=extmap-allow-mixed\r\n");
        break;
    case RTC_SDP_MS_DIRECTION:
        if (m->dir) W("a=%s\r\n", rtc_sdp_dir_name(m->dir));
        break;
    case RTC_SDP_MS_MSID:
        for (size_t i = 0; i < m->n_msids; i++) {
            W("a=msid:%s", m->msids[i].stream ? m->msids[i].stream : "-");
            if (m->msids[i].track) W(" %s", m->msids[i].track);
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_RTCP_MUX:
        if (m->rtcp_mux) W("a=rtcp-mux\r\n");
        break;
    case RTC_SDP_MS_RTCP_MUX_ONLY:
        if (m->rtcp_mux_only) W("a=rtcp-mux-only\r\n");
        break;
    case RTC_SDP_MS_RTCP_RSIZE:
        if (m->rtcp_rsize) W("a=rtcp-rsize\r\n");
        break;
    case RTC_SDP_MS_CODECS:
        for (size_t i = 0; i < m->n_codecs; i++) TRYW(write_codec(out, &m->codecs[i]));
        break;
    case RTC_SDP_MS_RID:
        for (size_t i = 0; i < m->n_rids; i++) {
            W("a=rid:%s %s", m->rids[i].id ? m->rids[i].id : "", m->rids[i].send ? "send" : "recv");
            if (m->rids[i].params) W(" %s", m->rids[i].params);
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_SIMULCAST:
        if (m->simulcast.present) {
            const rtc_sdp_simulcast_t *sc = &m->simulcast;
            W("a=simulcast:");
            if (sc->recv_first && sc->recv) {
                W("recv %s", sc->recv);
                if (sc->send) W(" send %s", sc->send);
            } else if (sc->send) {
                W("send %s", sc->send);
                if (sc->recv) W(" recv %s", sc->recv);
            } else if (sc->recv) {
                W("recv %s", sc->recv);
            }
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_SSRC_GROUP:
        for (size_t i = 0; i < m->n_ssrc_groups; i++) {
            W("a=ssrc-group:%s", m->ssrc_groups[i].semantics ? m->ssrc_groups[i].semantics : "FID");
            for (size_t k = 0; k < m->ssrc_groups[i].n_ssrcs; k++) W(" %" PRIu32, m->ssrc_groups[i].ssrcs[k]);
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_SSRC:
        for (size_t i = 0; i < m->n_ssrcs; i++) {
            W("a=ssrc:%" PRIu32 " %s", m->ssrcs[i].ssrc, m->ssrcs[i].attr ? m->ssrcs[i].attr : "cname");
            if (m->ssrcs[i].value) W(":%s", m->ssrcs[i].value);
            W("\r\n");
        }
        break;
    case RTC_SDP_MS_SCTP_PORT:
        if (m->sctp_port) W("a=sctp-port:%u\r\n", m->sctp_port);
        break;
    case RTC_SDP_MS_MAX_MESSAGE_SIZE:
        if (m->max_message_size) W("a=max-message-size:%" PRIu64 "\r\n", m->max_message_size);
        break;
    case RTC_SDP_MS_END_OF_CANDIDATES:
        if (m->end_of_candidates) W("a=end-of-candidates\r\n");
        break;
    default:
        break;
    }
    return RTC_OK;
}

static int write_media(rtc_buf_t *out, const rtc_sdp_media_t *m) {
    if (!m->media || !m->proto) return RTC_ERR_INVALID_ARG;
    W("m=%s %u", m->media, m->port);
    if (m->nports) W("/%u", m->nports);
    W(" %s", m->proto);
    if (rtc_sdp_media_is_rtp(m)) {
        if (m->n_codecs == 0) return RTC_ERR_INVALID_ARG;
        for (size_t i = 0; i < m->n_codecs; i++) W(" %u", m->codecs[i].pt);
    } else {
        if (!m->fmt || !m->fmt[0]) return RTC_ERR_INVALID_ARG;
        W(" %s", m->fmt);
    }
    W("\r\n");
    TRYW(write_lines(out, m->lines, m->n_lines, 'i'));
    TRYW(write_conn(out, &m->conn));
    TRYW(write_bw(out, m->bw, m->n_bw));
    TRYW(write_lines(out, m->lines, m->n_lines, 'k'));
    for (unsigned st = 0; st < RTC_SDP_MS_COUNT; st++) {
        TRYW(write_media_stage(out, m, st));
        TRYW(write_unknown(out, m->attrs, m->n_attrs, st));
    }
    /* Positions past the known groups (a model built by hand) still get written. */
    for (size_t i = 0; i < m->n_attrs; i++)
        if (m->attrs[i].after >= RTC_SDP_MS_COUNT) TRYW(write_unknown(out, &m->attrs[i], 1, m->attrs[i].after));
    return RTC_OK;
}

int rtc_sdp_write(const rtc_sdp_t *s, rtc_buf_t *out) {
    if (!s || !out) return RTC_ERR_INVALID_ARG;
    if (!s->origin_user || !s->session_id || !s->origin_nettype || !s->origin_addrtype || !s->origin_address)
        return RTC_ERR_INVALID_ARG;
    W("v=0\r\n");
    W("o=%s %s %" PRIu64 " %s %s %s\r\n", s->origin_user, s->session_id, s->session_version,
      s->origin_nettype, s->origin_addrtype, s->origin_address);
    W("s=%s\r\n", s->name ? s->name : "-");
    TRYW(write_lines(out, s->lines, s->n_lines, 'i'));
    TRYW(write_lines(out, s->lines, s->n_lines, 'u'));
    TRYW(write_lines(out, s->lines, s->n_lines, 'e'));
    TRYW(write_lines(out, s->lines, s->n_lines, 'p'));
    TRYW(write_conn(out, &s->conn));
    TRYW(write_bw(out, s->bw, s->n_bw));
    W("t=%" PRIu64 " %" PRIu64 "\r\n", s->t_start, s->t_stop);
    TRYW(write_lines(out, s->lines, s->n_lines, 'r'));
    TRYW(write_lines(out, s->lines, s->n_lines, 'z'));
    TRYW(write_lines(out, s->lines, s->n_lines, 'k'));
    for (unsigned st = 0; st < RTC_SDP_SS_COUNT; st++) {
        TRYW(write_session_stage(out, s, st));
        TRYW(write_unknown(out, s->attrs, s->n_attrs, st));
    }
    for (size_t i = 0; i < s->n_attrs; i++)
        if (s->attrs[i].after >= RTC_SDP_SS_COUNT) TRYW(write_unknown(out, &s->attrs[i], 1, s->attrs[i].after));
    for (size_t i = 0; i < s->n_media; i++) TRYW(write_media(out, &s->media[i]));
    if (out->len == 0) return RTC_ERR_INVALID_ARG;
    return RTC_OK;
}
