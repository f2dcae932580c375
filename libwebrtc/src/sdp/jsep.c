/* sdp/jsep.c — JSEP (RFC 8829) offers, answers and what an exchange negotiated. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sdp/sdp_internal.h"

#define TRY(expr) do { int rc_ = (expr); if (rc_) return rc_; } while (0)
#define NN(ptr) do { if (!(ptr)) return RTC_ERR_NOMEM; } while (0)

static const char *kind_media(rtc_sdp_media_kind_t k) {
    switch (k) {
    case RTC_SDP_MEDIA_AUDIO: return "audio";
    case RTC_SDP_MEDIA_VIDEO: return "video";
    case RTC_SDP_MEDIA_APPLICATION: return "application";
    default: return NULL;
    }
}

static int check_local(const rtc_jsep_local_t *l) {
    if (!l || !l->ice_ufrag || !l->ice_pwd || !l->fingerprints || l->n_fingerprints == 0) {
        RTC_LOGW("sdp", "jsep: local ICE credentials and a DTLS fingerprint are required");
        return RTC_ERR_INVALID_ARG;
    }
    return RTC_OK;
}

static int init_session(const rtc_jsep_local_t *l, rtc_sdp_t *out) {
    rtc_sdp_init(out);
    char id[24];
    if (l->session_id) {
        TRY(rtc_sdp_set_str(&out->session_id, l->session_id));
    } else {
        snprintf(id, sizeof id, "%" PRIu64, rtc_random_u64() >> 1); /* 63 bits, like browsers */
        TRY(rtc_sdp_set_str(&out->session_id, id));
    }
    out->session_version = l->session_version;
    TRY(rtc_sdp_set_str(&out->origin_user, "-"));
    TRY(rtc_sdp_set_str(&out->origin_nettype, "IN"));
    TRY(rtc_sdp_set_str(&out->origin_addrtype, "IP4"));
    TRY(rtc_sdp_set_str(&out->origin_address, "127.0.0.1"));
    TRY(rtc_sdp_set_str(&out->name, "-"));
    out->ice_lite = l->ice_lite;
    if (l->stream_ids_semantic) {
        out->msid_semantic.present = true;
        out->msid_semantic.space = false;
        TRY(rtc_sdp_set_str(&out->msid_semantic.token, "WMS"));
        if (l->stream_ids_semantic[0]) TRY(rtc_sdp_set_str(&out->msid_semantic.ids, l->stream_ids_semantic));
    }
    return RTC_OK;
}

/* ICE and DTLS attributes, the same on every section we write. */
static int add_transport(const rtc_jsep_local_t *l, rtc_sdp_media_t *m, rtc_sdp_setup_t setup) {
    TRY(rtc_sdp_set_str(&m->ice_ufrag, l->ice_ufrag));
    TRY(rtc_sdp_set_str(&m->ice_pwd, l->ice_pwd));
    if (l->trickle) TRY(rtc_sdp_set_str(&m->ice_options, "trickle"));
    for (size_t i = 0; i < l->n_fingerprints; i++) {
        rtc_sdp_fingerprint_t *fp = rtc_sdp_media_add_fingerprint(m);
        NN(fp);
        *fp = l->fingerprints[i];
    }
    m->setup = setup;
    return RTC_OK;
}

static int add_candidates(const rtc_jsep_local_t *l, rtc_sdp_media_t *m) {
    for (size_t i = 0; i < l->n_candidates; i++) {
        rtc_sdp_candidate_t *c = rtc_sdp_media_add_candidate(m);
        NN(c);
        *c = l->candidates[i];
    }
    m->end_of_candidates = l->end_of_candidates;
    return RTC_OK;
}

static int set_conn(rtc_sdp_media_t *m) {
    m->conn.present = true;
    TRY(rtc_sdp_set_str(&m->conn.nettype, "IN"));
    TRY(rtc_sdp_set_str(&m->conn.addrtype, "IP4"));
    return rtc_sdp_set_str(&m->conn.address, "0.0.0.0");
}

static int add_ssrc_line(rtc_sdp_media_t *m, uint32_t ssrc, const char *attr, const char *value) {
    rtc_sdp_ssrc_t *s = rtc_sdp_media_add_ssrc(m);
    NN(s);
    s->ssrc = ssrc;
    TRY(rtc_sdp_set_str(&s->attr, attr));
    return rtc_sdp_set_str(&s->value, value);
}

/* a=msid and the a=ssrc/a=ssrc-group lines of what a section sends. */
static int add_sender(const rtc_jsep_section_t *sec, rtc_sdp_media_t *m) {
    const char *stream = sec->stream_id ? sec->stream_id : "-";
    char msid_val[160];
    if (sec->track_id) {
        rtc_sdp_msid_t *ms = rtc_sdp_media_add_msid(m);
        NN(ms);
        TRY(rtc_sdp_set_str(&ms->stream, stream));
        TRY(rtc_sdp_set_str(&ms->track, sec->track_id));
        snprintf(msid_val, sizeof msid_val, "%s %s", stream, sec->track_id);
    }
    for (size_t i = 0; i < sec->n_ssrcs && sec->ssrcs; i++) {
        if (sec->rtx_ssrcs) {
            rtc_sdp_ssrc_group_t *g = rtc_sdp_media_add_ssrc_group(m);
            NN(g);
            TRY(rtc_sdp_set_str(&g->semantics, "FID"));
            uint32_t *a = RTC_SDP_PUSH(g->ssrcs, g->n_ssrcs);
            NN(a);
            *a = sec->ssrcs[i];
            uint32_t *b = RTC_SDP_PUSH(g->ssrcs, g->n_ssrcs);
            NN(b);
            *b = sec->rtx_ssrcs[i];
        }
    }
    for (size_t i = 0; i < sec->n_ssrcs && sec->ssrcs; i++) {
        uint32_t list[2] = {sec->ssrcs[i], sec->rtx_ssrcs ? sec->rtx_ssrcs[i] : 0};
        for (int k = 0; k < (sec->rtx_ssrcs ? 2 : 1); k++) {
            if (sec->cname) TRY(add_ssrc_line(m, list[k], "cname", sec->cname));
            if (sec->track_id) TRY(add_ssrc_line(m, list[k], "msid", msid_val));
        }
    }
    return RTC_OK;
}

static bool mid_used(const rtc_jsep_section_t *s, size_t n, size_t upto, const char *mid) {
    for (size_t i = 0; i < upto && i < n; i++)
        if (s[i].mid && strcmp(s[i].mid, mid) == 0) return true;
    return false;
}

/* ---- offer -------------------------------------------------------------------------------- */

static int offer_section(const rtc_jsep_local_t *l, const rtc_jsep_section_t *sec, rtc_sdp_media_t *m,
                         bool bundle_only, bool tag) {
    m->kind = sec->kind;
    TRY(rtc_sdp_set_str(&m->media, kind_media(sec->kind)));
    TRY(rtc_sdp_set_str(&m->mid, sec->mid));
    TRY(set_conn(m));
    m->port = sec->stopped || bundle_only ? 0 : 9;
    m->bundle_only = bundle_only && !sec->stopped;
    if (sec->kind == RTC_SDP_MEDIA_APPLICATION) {
        TRY(rtc_sdp_set_str(&m->proto, "UDP/DTLS/SCTP"));
        TRY(rtc_sdp_set_str(&m->fmt, "webrtc-datachannel"));
        if (sec->stopped) return RTC_OK;
        TRY(add_transport(l, m, RTC_SDP_SETUP_ACTPASS));
        m->sctp_port = sec->sctp_port ? sec->sctp_port : 5000;
        m->max_message_size = sec->max_message_size ? sec->max_message_size : 262144;
        if (tag) TRY(add_candidates(l, m));
        return RTC_OK;
    }
    TRY(rtc_sdp_set_str(&m->proto, "UDP/TLS/RTP/SAVPF"));
    for (size_t i = 0; i < sec->n_codecs; i++) {
        rtc_sdp_codec_t *c = rtc_sdp_media_add_codec(m);
        NN(c);
        TRY(rtc_sdp_codec_copy(c, &sec->codecs[i]));
        c->has_rtpmap = true;
    }
    if (m->n_codecs == 0) {
        RTC_LOGW("sdp", "jsep: section %s has no codecs", sec->mid);
        return RTC_ERR_INVALID_ARG;
    }
    if (sec->stopped) return RTC_OK;
    TRY(add_transport(l, m, RTC_SDP_SETUP_ACTPASS));
    for (size_t i = 0; i < sec->n_extmaps; i++) {
        rtc_sdp_extmap_t *e = rtc_sdp_media_add_extmap(m);
        NN(e);
        e->id = sec->extmaps[i].id;
        e->dir = sec->extmaps[i].dir;
        TRY(rtc_sdp_set_str(&e->uri, sec->extmaps[i].uri));
        TRY(rtc_sdp_set_str(&e->attrs, sec->extmaps[i].attrs));
    }
    m->dir = sec->direction ? sec->direction : RTC_SDP_DIR_SENDRECV;
    m->rtcp_mux = true;
    m->rtcp_rsize = true;
    if (rtc_sdp_dir_sends(m->dir)) {
        TRY(add_sender(sec, m));
        for (size_t i = 0; i < sec->n_send_rids; i++) {
            rtc_sdp_rid_t *r = rtc_sdp_media_add_rid(m);
            NN(r);
            r->send = true;
            TRY(rtc_sdp_set_str(&r->id, sec->send_rids[i]));
        }
        if (sec->n_send_rids > 1) {
            rtc_buf_t b;
            rtc_buf_init(&b);
            for (size_t i = 0; i < sec->n_send_rids; i++)
                if (rtc_buf_appendf(&b, "%s%s", i ? ";" : "", sec->send_rids[i])) {
                    rtc_buf_free(&b);
                    return RTC_ERR_NOMEM;
                }
            m->simulcast.present = true;
            m->simulcast.send = (char *)b.data; /* NUL-terminated by rtc_buf */
        }
    }
    if (tag) TRY(add_candidates(l, m));
    return RTC_OK;
}

int rtc_jsep_create_offer(const rtc_jsep_local_t *local, const rtc_jsep_section_t *sections,
                          size_t n_sections, rtc_sdp_t *out) {
    if (!out) return RTC_ERR_INVALID_ARG;
    rtc_sdp_init(out);
    TRY(check_local(local));
    if (n_sections == 0 || !sections || n_sections > RTC_SDP_MAX_MEDIA) return RTC_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_sections; i++) {
        if (!sections[i].mid || !sections[i].mid[0] || !kind_media(sections[i].kind) ||
            mid_used(sections, n_sections, i, sections[i].mid)) {
            RTC_LOGW("sdp", "jsep: offer section %zu has no mid, a duplicate mid or no kind", i);
            return RTC_ERR_INVALID_ARG;
        }
    }
    int rc = init_session(local, out);
    rtc_sdp_group_t *g = NULL;
    if (rc == RTC_OK) {
        g = rtc_sdp_add_group(out);
        if (!g) rc = RTC_ERR_NOMEM;
        else rc = rtc_sdp_set_str(&g->semantics, "BUNDLE");
    }
    bool have_tag = false;
    for (size_t i = 0; i < n_sections && rc == RTC_OK; i++) {
        const rtc_jsep_section_t *sec = &sections[i];
        rtc_sdp_media_t *m = rtc_sdp_add_media(out);
        if (!m) {
            rc = RTC_ERR_NOMEM;
            break;
        }
        bool tag = !sec->stopped && !have_tag;
        bool bundle_only = !sec->stopped && have_tag && local->initial &&
                           local->bundle_policy == RTC_JSEP_BUNDLE_MAX_BUNDLE;
        rc = offer_section(local, sec, m, bundle_only, tag);
        if (rc == RTC_OK && !sec->stopped) {
            rc = rtc_sdp_strv_push(&g->mids, &g->n_mids, sec->mid);
            have_tag = true;
        }
    }
    if (rc == RTC_OK && g && g->n_mids == 0) {
        /* Everything stopped: no BUNDLE group at all. */
        free(g->semantics);
        free(g->mids);
        out->n_groups = 0;
    }
    if (rc) rtc_sdp_free(out);
    return rc;
}

/* ---- answer ------------------------------------------------------------------------------- */

static bool is_secondary(const rtc_sdp_codec_t *c) {
    return strcasecmp(c->name, "rtx") == 0 || strcasecmp(c->name, "red") == 0 ||
           strcasecmp(c->name, "ulpfec") == 0 || strcasecmp(c->name, "flexfec-03") == 0;
}

static const rtc_sdp_codec_t *local_by_name(const rtc_jsep_section_t *sec, const char *name, uint32_t clock) {
    for (size_t i = 0; i < sec->n_codecs; i++)
        if (strcasecmp(sec->codecs[i].name, name) == 0 && sec->codecs[i].clock == clock) return &sec->codecs[i];
    return NULL;
}

static bool has_pt(const rtc_sdp_media_t *m, unsigned pt) { return rtc_sdp_media_find_pt(m, pt) != NULL; }

/* Replaces (or appends) key=value in an fmtp string; returns a new heap string. */
static char *fmtp_with(const char *fmtp, const char *key, const char *value) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    bool done = false;
    const char *p = fmtp ? fmtp : "";
    size_t kl = strlen(key);
    while (*p) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (b.len && rtc_buf_append(&b, ";", 1)) goto fail;
        if (len > kl && p[kl] == '=' && strncasecmp(p, key, kl) == 0) {
            if (rtc_buf_appendf(&b, "%s=%s", key, value)) goto fail;
            done = true;
        } else if (rtc_buf_append(&b, p, len)) {
            goto fail;
        }
        p += len;
        if (*p == ';') p++;
    }
    if (!done && rtc_buf_appendf(&b, "%s%s=%s", b.len ? ";" : "", key, value)) goto fail;
    if (!b.data && rtc_buf_append(&b, "", 0)) goto fail;
    return (char *)b.data;
fail:
    rtc_buf_free(&b);
    return NULL;
}

/* The fmtp we answer with for a primary codec: ours, with H.264's level lowered to the
 * offer's unless both sides allow level asymmetry (RFC 6184 section 8.2.2). */
static int answer_fmtp(const rtc_sdp_codec_t *offered, const rtc_sdp_codec_t *ours, char **out) {
    *out = NULL;
    if (strcasecmp(ours->name, "H264") == 0) {
        bool asym = rtc_sdp_fmtp_get_uint(offered->fmtp, "level-asymmetry-allowed", 0) == 1 &&
                    rtc_sdp_fmtp_get_uint(ours->fmtp, "level-asymmetry-allowed", 0) == 1;
        rtc_h264_plid_t po, pl;
        char plid[16];
        if (!asym && rtc_h264_plid_from_fmtp(offered->fmtp, &po) == RTC_OK &&
            rtc_h264_plid_from_fmtp(ours->fmtp, &pl) == RTC_OK && rtc_h264_level_cmp(po.level_idc, pl.level_idc) < 0 &&
            rtc_sdp_fmtp_get(offered->fmtp, "profile-level-id", plid, sizeof plid) > 0) {
            *out = fmtp_with(ours->fmtp, "profile-level-id", plid);
            return *out ? RTC_OK : RTC_ERR_NOMEM;
        }
    }
    return rtc_sdp_set_str(out, ours->fmtp);
}

/* rtcp-fb values compared word by word, ignoring extra spaces. */
static bool fb_equal(const char *a, const char *b) {
    for (;;) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (!*a || !*b) return !*a && !*b;
        while (*a && *a != ' ' && *a == *b) a++, b++;
        if ((*a && *a != ' ') || (*b && *b != ' ')) return false;
    }
}

static int take_codec(rtc_sdp_media_t *am, const rtc_sdp_codec_t *offered, const rtc_sdp_codec_t *ours,
                      bool own_fmtp) {
    rtc_sdp_codec_t *c = rtc_sdp_media_add_codec(am);
    NN(c);
    c->pt = offered->pt;
    c->has_rtpmap = true;
    memcpy(c->name, offered->name, sizeof c->name);
    c->clock = offered->clock;
    c->channels = offered->channels;
    if (own_fmtp) TRY(answer_fmtp(offered, ours, &c->fmtp));
    else TRY(rtc_sdp_set_str(&c->fmtp, offered->fmtp));
    /* Feedback both sides list, in the offer's order, in our spelling, once each (Pion writes
     * "nack " with a trailing space, and some values twice). */
    for (size_t i = 0; i < offered->n_fb; i++)
        for (size_t k = 0; k < ours->n_fb; k++) {
            if (!fb_equal(offered->fb[i], ours->fb[k])) continue;
            bool dup = false;
            for (size_t j = 0; j < c->n_fb; j++) dup |= fb_equal(c->fb[j], ours->fb[k]);
            if (!dup) TRY(rtc_sdp_strv_push(&c->fb, &c->n_fb, ours->fb[k]));
            break;
        }
    return RTC_OK;
}

/* RED's fmtp lists the payload types it carries ("111/111"); keep RED only when all are kept. */
static bool red_targets_kept(const rtc_sdp_codec_t *red, const rtc_sdp_media_t *am) {
    if (!red->fmtp) return true; /* video RED: no parameters */
    const char *p = red->fmtp;
    while (*p) {
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) v = v * 10 + (unsigned)(*p++ - '0'), digits++;
        if (!digits || !has_pt(am, v)) return false;
        if (*p == '/') p++;
        else if (*p) return false;
    }
    return true;
}

static int answer_codecs(const rtc_sdp_media_t *om, const rtc_jsep_section_t *sec, rtc_sdp_media_t *am) {
    /* Primaries in our preference order; each offered payload type is used at most once. */
    for (size_t i = 0; i < sec->n_codecs; i++) {
        const rtc_sdp_codec_t *ours = &sec->codecs[i];
        if (is_secondary(ours)) continue;
        for (size_t k = 0; k < om->n_codecs; k++) {
            const rtc_sdp_codec_t *o = &om->codecs[k];
            if (is_secondary(o) || has_pt(am, o->pt) || !rtc_sdp_codec_match(ours, o)) continue;
            TRY(take_codec(am, o, ours, true));
        }
    }
    if (am->n_codecs == 0) return RTC_OK;
    /* RED and ULPFEC (tolerated: kept when we list them and their targets are kept). */
    for (size_t k = 0; k < om->n_codecs; k++) {
        const rtc_sdp_codec_t *o = &om->codecs[k];
        if (strcasecmp(o->name, "rtx") == 0 || !is_secondary(o)) continue;
        const rtc_sdp_codec_t *ours = local_by_name(sec, o->name, o->clock);
        if (!ours || (strcasecmp(o->name, "red") == 0 && !red_targets_kept(o, am))) continue;
        TRY(take_codec(am, o, ours, false));
    }
    /* RTX after the codec it repairs, when we do RTX at that clock rate. Rebuild the list in
     * order: each kept codec followed by its offered RTX. */
    size_t n_prim = am->n_codecs;
    for (size_t p = 0; p < n_prim; p++) {
        unsigned pt = am->codecs[p].pt;
        for (size_t k = 0; k < om->n_codecs; k++) {
            const rtc_sdp_codec_t *o = &om->codecs[k];
            if (strcasecmp(o->name, "rtx") != 0 || has_pt(am, o->pt)) continue;
            if (rtc_sdp_fmtp_get_uint(o->fmtp, "apt", 1000) != pt) continue;
            const rtc_sdp_codec_t *ours = local_by_name(sec, "rtx", o->clock);
            if (!ours) continue;
            TRY(take_codec(am, o, ours, false));
        }
    }
    /* Move each RTX right after its primary (stable insertion). */
    for (size_t i = n_prim; i < am->n_codecs; i++) {
        rtc_sdp_codec_t rtx = am->codecs[i];
        unsigned apt = (unsigned)rtc_sdp_fmtp_get_uint(rtx.fmtp, "apt", 1000);
        size_t pos = 0;
        while (pos < i && am->codecs[pos].pt != apt) pos++;
        if (pos == i) continue;
        pos++;
        while (pos < i && strcasecmp(am->codecs[pos].name, "rtx") == 0) pos++;
        memmove(&am->codecs[pos + 1], &am->codecs[pos], (i - pos) * sizeof rtx);
        am->codecs[pos] = rtx;
    }
    return RTC_OK;
}

static int answer_extmaps(const rtc_sdp_media_t *om, const rtc_jsep_section_t *sec, rtc_sdp_media_t *am) {
    for (size_t k = 0; k < om->n_extmaps; k++) {
        const rtc_sdp_extmap_t *o = &om->extmaps[k];
        for (size_t i = 0; i < sec->n_extmaps; i++) {
            if (!rtc_sdp_streq(o->uri, sec->extmaps[i].uri)) continue;
            rtc_sdp_extmap_t *e = rtc_sdp_media_add_extmap(am);
            NN(e);
            e->id = o->id;
            e->dir = o->dir ? rtc_sdp_dir_reverse(o->dir) : RTC_SDP_DIR_NONE;
            TRY(rtc_sdp_set_str(&e->uri, o->uri));
            break;
        }
    }
    return RTC_OK;
}

/* The rid's params with pt= reduced to the payload types we kept. Returns 0 and sets *keep
 * false when none of its payload types survived. */
static int answer_rid_params(const rtc_sdp_rid_t *r, const rtc_sdp_media_t *am, char **out, bool *keep) {
    *keep = true;
    *out = NULL;
    uint8_t pts[64];
    int n = rtc_sdp_rid_pts(r, pts, 64);
    if (n <= 0) return rtc_sdp_set_str(out, r->params);
    rtc_buf_t b;
    rtc_buf_init(&b);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (has_pt(am, pts[i]) && rtc_buf_appendf(&b, "%s%u", kept++ ? "," : "pt=", pts[i])) goto nomem;
    if (!kept) {
        *keep = false;
        rtc_buf_free(&b);
        return RTC_OK;
    }
    /* The other restrictions as written. */
    for (const char *p = r->params; *p;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!(len >= 3 && memcmp(p, "pt=", 3) == 0) && (rtc_buf_append(&b, ";", 1) || rtc_buf_append(&b, p, len)))
            goto nomem;
        p += len;
        if (*p == ';') p++;
    }
    *out = (char *)b.data;
    return RTC_OK;
nomem:
    rtc_buf_free(&b);
    return RTC_ERR_NOMEM;
}

static const rtc_sdp_rid_t *find_rid(const rtc_sdp_media_t *m, const char *id, bool send) {
    for (size_t i = 0; i < m->n_rids; i++)
        if (m->rids[i].send == send && strcmp(m->rids[i].id, id) == 0) return &m->rids[i];
    return NULL;
}

/* Rebuilds an sc-str-list keeping only ids for which keep(id) is true. */
static char *filter_sc_list(const char *list, const rtc_sdp_media_t *am, bool send) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    const char *p = list;
    bool first_stream = true;
    while (*p) {
        const char *se = strchr(p, ';');
        size_t slen = se ? (size_t)(se - p) : strlen(p);
        bool first_alt = true;
        const char *q = p, *end = p + slen;
        while (q < end) {
            const char *ae = memchr(q, ',', (size_t)(end - q));
            size_t alen = ae ? (size_t)(ae - q) : (size_t)(end - q);
            const char *id = q;
            size_t idl = alen;
            if (idl && *id == '~') id++, idl--;
            char tmp[256];
            if (idl < sizeof tmp) {
                memcpy(tmp, id, idl);
                tmp[idl] = '\0';
                if (find_rid(am, tmp, send)) {
                    if (rtc_buf_appendf(&b, "%s%.*s", first_alt ? (first_stream ? "" : ";") : ",", (int)alen, q)) goto fail;
                    first_alt = false;
                }
            }
            q += alen;
            if (q < end) q++;
        }
        if (!first_alt) first_stream = false;
        p += slen;
        if (*p == ';') p++;
    }
    if (!b.len) {
        rtc_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
fail:
    rtc_buf_free(&b);
    return NULL;
}

static int answer_simulcast(const rtc_sdp_media_t *om, const rtc_jsep_section_t *sec, rtc_sdp_media_t *am) {
    if (!om->simulcast.present) return RTC_OK;
    /* Offerer sends simulcast: we receive the same rids (a=rid:<id> recv). */
    if (om->simulcast.send && sec->receive_simulcast && rtc_sdp_dir_receives(am->dir)) {
        const char *ids[32];
        char buf[1024];
        int n = rtc_sdp_simulcast_rids(om->simulcast.send, buf, sizeof buf, ids, 32);
        for (int i = 0; i < n; i++) {
            const rtc_sdp_rid_t *orid = find_rid(om, ids[i], true);
            if (!orid) continue;
            bool keep;
            char *params;
            TRY(answer_rid_params(orid, am, &params, &keep));
            if (!keep) continue;
            rtc_sdp_rid_t *r = rtc_sdp_media_add_rid(am);
            if (!r) {
                free(params);
                return RTC_ERR_NOMEM;
            }
            r->send = false;
            r->params = params;
            TRY(rtc_sdp_set_str(&r->id, orid->id));
        }
        char *recv = filter_sc_list(om->simulcast.send, am, false);
        if (recv) {
            am->simulcast.present = true;
            am->simulcast.recv = recv;
        }
    }
    /* Offerer wants to receive simulcast: we send those of its rids we have encodings for. */
    if (om->simulcast.recv && sec->n_send_rids && rtc_sdp_dir_sends(am->dir)) {
        const char *ids[32];
        char buf[1024];
        int n = rtc_sdp_simulcast_rids(om->simulcast.recv, buf, sizeof buf, ids, 32);
        for (int i = 0; i < n; i++) {
            const rtc_sdp_rid_t *orid = find_rid(om, ids[i], false);
            bool ours = false;
            for (size_t k = 0; k < sec->n_send_rids; k++)
                if (strcmp(sec->send_rids[k], ids[i]) == 0) ours = true;
            if (!orid || !ours) continue;
            bool keep;
            char *params;
            TRY(answer_rid_params(orid, am, &params, &keep));
            if (!keep) continue;
            rtc_sdp_rid_t *r = rtc_sdp_media_add_rid(am);
            if (!r) {
                free(params);
                return RTC_ERR_NOMEM;
            }
            r->send = true;
            r->params = params;
            TRY(rtc_sdp_set_str(&r->id, orid->id));
        }
        char *send = filter_sc_list(om->simulcast.recv, am, true);
        if (send) {
            am->simulcast.present = true;
            am->simulcast.send = send;
            am->simulcast.recv_first = am->simulcast.recv != NULL;
        }
    }
    return RTC_OK;
}

/* "m=application <port> DTLS/SCTP <sctp-port>" with "a=sctpmap:<sctp-port> webrtc-datachannel". */
static bool is_legacy_sctp(const rtc_sdp_media_t *m) {
    if (!m->proto || strcmp(m->proto, "DTLS/SCTP") != 0 || !m->fmt) return false;
    for (size_t i = 0; i < m->n_attrs; i++)
        if (rtc_sdp_streq(m->attrs[i].name, "sctpmap") && m->attrs[i].value &&
            strstr(m->attrs[i].value, "webrtc-datachannel"))
            return true;
    return false;
}

static uint16_t media_sctp_port(const rtc_sdp_media_t *m) {
    if (m->sctp_port) return m->sctp_port;
    if (is_legacy_sctp(m)) {
        unsigned v = 0;
        for (const char *p = m->fmt; *p >= '0' && *p <= '9' && v < 65536; p++) v = v * 10 + (unsigned)(*p - '0');
        return v < 65536 ? (uint16_t)v : 0;
    }
    return 0;
}

static const rtc_jsep_section_t *match_section(const rtc_sdp_media_t *om, const rtc_jsep_section_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i].mid && om->mid && strcmp(s[i].mid, om->mid) == 0) return s[i].kind == om->kind ? &s[i] : NULL;
    for (size_t i = 0; i < n; i++)
        if (!s[i].mid && s[i].kind == om->kind) return &s[i];
    return NULL;
}

static int reject_section(const rtc_sdp_media_t *om, rtc_sdp_media_t *am) {
    am->port = 0;
    am->bundle_only = false;
    if (rtc_sdp_media_is_rtp(om)) {
        for (size_t i = 0; i < om->n_codecs; i++) {
            rtc_sdp_codec_t *c = rtc_sdp_media_add_codec(am);
            NN(c);
            TRY(rtc_sdp_codec_copy(c, &om->codecs[i]));
        }
    } else {
        TRY(rtc_sdp_set_str(&am->fmt, om->fmt));
    }
    return RTC_OK;
}

static int answer_setup(const rtc_sdp_t *offer, const rtc_sdp_media_t *om, const rtc_jsep_local_t *l,
                        rtc_sdp_setup_t *out) {
    switch (rtc_sdp_media_setup(offer, om)) {
    case RTC_SDP_SETUP_ACTPASS:
        *out = l->answer_setup == RTC_SDP_SETUP_PASSIVE ? RTC_SDP_SETUP_PASSIVE : RTC_SDP_SETUP_ACTIVE;
        return RTC_OK;
    case RTC_SDP_SETUP_ACTIVE:
    case RTC_SDP_SETUP_NONE: /* RFC 4145 section 4: absent means active */
        *out = RTC_SDP_SETUP_PASSIVE;
        return RTC_OK;
    case RTC_SDP_SETUP_PASSIVE:
        *out = RTC_SDP_SETUP_ACTIVE;
        return RTC_OK;
    default:
        RTC_LOGW("sdp", "jsep: offer section %s has a=setup:holdconn", om->mid ? om->mid : "?");
        return RTC_ERR_PROTOCOL;
    }
}

static int answer_section(const rtc_sdp_t *offer, const rtc_sdp_media_t *om, const rtc_jsep_local_t *l,
                          const rtc_jsep_section_t *sections, size_t n_sections, rtc_sdp_media_t *am,
                          bool *accepted) {
    *accepted = false;
    am->kind = om->kind;
    am->nports = 0;
    TRY(rtc_sdp_set_str(&am->media, om->media));
    TRY(rtc_sdp_set_str(&am->proto, om->proto));
    TRY(rtc_sdp_set_str(&am->mid, om->mid));
    TRY(set_conn(am));

    const rtc_jsep_section_t *sec = match_section(om, sections, n_sections);
    /* Port 0 rejects a section unless it is bundle-only inside the offer's BUNDLE group. */
    bool bundle_only = om->port == 0 && om->bundle_only &&
                       rtc_sdp_group_has(rtc_sdp_find_group(offer, "BUNDLE"), om->mid);
    bool usable = sec && !sec->stopped && (om->port != 0 || bundle_only);
    bool legacy_sctp = false;
    if (usable && om->kind == RTC_SDP_MEDIA_APPLICATION) {
        legacy_sctp = is_legacy_sctp(om);
        usable = legacy_sctp || (rtc_sdp_media_is_sctp(om) && om->fmt && strcmp(om->fmt, "webrtc-datachannel") == 0);
    }
    else if (usable)
        usable = (om->kind == RTC_SDP_MEDIA_AUDIO || om->kind == RTC_SDP_MEDIA_VIDEO) && rtc_sdp_media_is_rtp(om);
    if (usable && rtc_sdp_media_is_rtp(om)) {
        TRY(answer_codecs(om, sec, am));
        if (am->n_codecs == 0) usable = false;
    }
    if (!usable) {
        for (size_t i = 0; i < am->n_codecs; i++) rtc_sdp_codec_clear(&am->codecs[i]);
        am->n_codecs = 0;
        return reject_section(om, am);
    }
    rtc_sdp_setup_t setup;
    TRY(answer_setup(offer, om, l, &setup));
    am->port = 9;
    TRY(add_transport(l, am, setup));
    *accepted = true;
    if (om->kind == RTC_SDP_MEDIA_APPLICATION) {
        uint16_t port = sec->sctp_port ? sec->sctp_port : 5000;
        am->max_message_size = sec->max_message_size ? sec->max_message_size : 262144;
        if (!legacy_sctp) {
            TRY(rtc_sdp_set_str(&am->fmt, om->fmt));
            am->sctp_port = port;
            return RTC_OK;
        }
        /* Pre-RFC 8841 form (aiortc 1.4, old browsers): "DTLS/SCTP <port>" + a=sctpmap. */
        char v[48];
        snprintf(v, sizeof v, "%u", port);
        TRY(rtc_sdp_set_str(&am->fmt, v));
        rtc_sdp_attr_t *a = rtc_sdp_media_add_attr(am);
        NN(a);
        a->after = RTC_SDP_MS_MAX_MESSAGE_SIZE; /* written right after a=max-message-size */
        snprintf(v, sizeof v, "%u webrtc-datachannel 65535", port);
        TRY(rtc_sdp_set_str(&a->name, "sctpmap"));
        return rtc_sdp_set_str(&a->value, v);
    }
    TRY(answer_extmaps(om, sec, am));
    rtc_sdp_dir_t want = sec->direction ? sec->direction : RTC_SDP_DIR_SENDRECV;
    rtc_sdp_dir_t offered = om->dir ? om->dir : RTC_SDP_DIR_SENDRECV;
    am->dir = rtc_sdp_dir_make(rtc_sdp_dir_sends(want) && rtc_sdp_dir_receives(offered),
                               rtc_sdp_dir_receives(want) && rtc_sdp_dir_sends(offered));
    am->rtcp_mux = om->rtcp_mux;
    am->rtcp_rsize = om->rtcp_rsize;
    if (rtc_sdp_dir_sends(am->dir)) TRY(add_sender(sec, am));
    return answer_simulcast(om, sec, am);
}

int rtc_jsep_create_answer(const rtc_sdp_t *offer, const rtc_jsep_local_t *local,
                           const rtc_jsep_section_t *sections, size_t n_sections, rtc_sdp_t *out) {
    if (!out) return RTC_ERR_INVALID_ARG;
    rtc_sdp_init(out);
    if (!offer || (n_sections && !sections)) return RTC_ERR_INVALID_ARG;
    TRY(check_local(local));
    for (size_t i = 0; i < offer->n_media; i++) {
        if (!offer->media[i].mid) {
            RTC_LOGW("sdp", "jsep: offered m= section %zu has no a=mid", i);
            return RTC_ERR_PROTOCOL;
        }
    }
    int rc = init_session(local, out);
    const rtc_sdp_group_t *obundle = rtc_sdp_find_group(offer, "BUNDLE");
    bool *accepted = calloc(offer->n_media ? offer->n_media : 1, sizeof *accepted);
    if (!accepted) rc = RTC_ERR_NOMEM;
    for (size_t i = 0; i < offer->n_media && rc == RTC_OK; i++) {
        rtc_sdp_media_t *am = rtc_sdp_add_media(out);
        if (!am) {
            rc = RTC_ERR_NOMEM;
            break;
        }
        rc = answer_section(offer, &offer->media[i], local, sections, n_sections, am, &accepted[i]);
    }
    /* BUNDLE: the accepted offered-bundled mids, in the offer's order. */
    if (rc == RTC_OK && obundle) {
        rtc_sdp_group_t *g = rtc_sdp_add_group(out);
        if (!g) rc = RTC_ERR_NOMEM;
        else rc = rtc_sdp_set_str(&g->semantics, "BUNDLE");
        for (size_t k = 0; rc == RTC_OK && k < obundle->n_mids; k++) {
            for (size_t i = 0; i < offer->n_media; i++)
                if (accepted[i] && strcmp(offer->media[i].mid, obundle->mids[k]) == 0)
                    rc = rtc_sdp_strv_push(&g->mids, &g->n_mids, obundle->mids[k]);
        }
        if (rc == RTC_OK && g->n_mids == 0) {
            free(g->semantics);
            free(g->mids);
            out->n_groups = 0;
        }
    }
    /* Candidates go with the first accepted section (the BUNDLE tag when bundled). */
    if (rc == RTC_OK) {
        const rtc_sdp_group_t *ab = rtc_sdp_find_group(out, "BUNDLE");
        rtc_sdp_media_t *tag = ab ? rtc_sdp_find_mid(out, ab->mids[0]) : NULL;
        for (size_t i = 0; !tag && i < out->n_media; i++)
            if (accepted[i]) tag = &out->media[i];
        if (tag) rc = add_candidates(local, tag);
    }
    free(accepted);
    if (rc) rtc_sdp_free(out);
    return rc;
}

/* ---- negotiated result -------------------------------------------------------------------- */

void rtc_jsep_result_free(rtc_jsep_result_t *r) {
    if (!r) return;
    free(r->media);
    memset(r, 0, sizeof *r);
}

#define PROTO_ERR(...) do { RTC_LOGW("sdp", __VA_ARGS__); rc = RTC_ERR_PROTOCOL; goto done; } while (0)

int rtc_jsep_negotiate(const rtc_sdp_t *offer, const rtc_sdp_t *answer, bool we_offered,
                       rtc_jsep_result_t *out) {
    if (!offer || !answer || !out) return RTC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    int rc = RTC_OK;
    if (offer->n_media != answer->n_media) {
        RTC_LOGW("sdp", "jsep: answer has %zu m= sections, offer %zu", answer->n_media, offer->n_media);
        return RTC_ERR_PROTOCOL;
    }
    const rtc_sdp_t *local = we_offered ? offer : answer;
    const rtc_sdp_t *remote = we_offered ? answer : offer;
    const rtc_sdp_group_t *ob = rtc_sdp_find_group(offer, "BUNDLE");
    const rtc_sdp_group_t *ab = rtc_sdp_find_group(answer, "BUNDLE");
    size_t tag = SIZE_MAX;
    if (ab) {
        for (size_t k = 0; k < ab->n_mids; k++)
            if (!rtc_sdp_group_has(ob, ab->mids[k])) {
                RTC_LOGW("sdp", "jsep: answer bundles mid %s that the offer did not", ab->mids[k]);
                return RTC_ERR_PROTOCOL;
            }
        for (size_t i = 0; ab->n_mids && i < answer->n_media; i++)
            if (rtc_sdp_streq(answer->media[i].mid, ab->mids[0])) tag = i;
        if (ab->n_mids && tag == SIZE_MAX) {
            RTC_LOGW("sdp", "jsep: answer BUNDLE tag %s has no m= section", ab->mids[0]);
            return RTC_ERR_PROTOCOL;
        }
    }
    out->media = calloc(offer->n_media ? offer->n_media : 1, sizeof *out->media);
    if (!out->media) return RTC_ERR_NOMEM;
    out->n_media = offer->n_media;
    out->remote_ice_lite = remote->ice_lite;
    bool first = true;
    for (size_t i = 0; i < offer->n_media; i++) {
        const rtc_sdp_media_t *om = &offer->media[i], *am = &answer->media[i];
        rtc_jsep_media_result_t *r = &out->media[i];
        const char *mid = om->mid ? om->mid : "?";
        if (!rtc_sdp_streq(om->mid, am->mid) || !rtc_sdp_streq(om->media, am->media))
            PROTO_ERR("jsep: answer section %zu (mid %s) does not match the offer's (mid %s)", i,
                      am->mid ? am->mid : "?", mid);
        r->mid = om->mid;
        r->kind = om->kind;
        r->local = we_offered ? om : am;
        r->remote = we_offered ? am : om;
        r->rejected = (am->port == 0 && !am->bundle_only) || (om->port == 0 && !om->bundle_only);
        r->transport = i;
        if (r->rejected) {
            r->direction = RTC_SDP_DIR_INACTIVE;
            continue;
        }
        if (ab && rtc_sdp_group_has(ab, om->mid)) {
            r->bundled = true;
            r->transport = tag;
        }
        rtc_sdp_dir_t ad = am->dir ? am->dir : RTC_SDP_DIR_SENDRECV;
        r->direction = we_offered ? rtc_sdp_dir_reverse(ad) : ad;
        if (rtc_sdp_media_is_rtp(am)) {
            if (am->n_codecs == 0) PROTO_ERR("jsep: mid %s accepted with no codec", mid);
            for (size_t k = 0; k < am->n_codecs; k++) {
                const rtc_sdp_codec_t *ac = &am->codecs[k];
                const rtc_sdp_codec_t *oc = rtc_sdp_media_find_pt(om, ac->pt);
                if (!oc || strcasecmp(oc->name, ac->name) != 0 || oc->clock != ac->clock)
                    PROTO_ERR("jsep: mid %s answers payload type %u that the offer did not offer as %s", mid,
                              ac->pt, ac->name);
            }
            for (size_t k = 0; k < am->n_extmaps; k++) {
                bool ok = false;
                for (size_t j = 0; j < om->n_extmaps; j++)
                    if (om->extmaps[j].id == am->extmaps[k].id && rtc_sdp_streq(om->extmaps[j].uri, am->extmaps[k].uri))
                        ok = true;
                if (!ok) PROTO_ERR("jsep: mid %s answers extmap id %u that was not offered", mid, am->extmaps[k].id);
            }
            r->codecs = am->codecs;
            r->n_codecs = am->n_codecs;
            r->extmaps = am->extmaps;
            r->n_extmaps = am->n_extmaps;
        } else {
            r->sctp_port = media_sctp_port(r->remote);
            r->max_message_size = r->remote->max_message_size;
        }
        /* DTLS roles (RFC 8842): the answer picks active or passive; it may not keep the
         * offer's own fixed role. */
        const rtc_sdp_media_t *tm = &answer->media[r->transport];
        rtc_sdp_setup_t as = rtc_sdp_media_setup(answer, tm);
        rtc_sdp_setup_t os = rtc_sdp_media_setup(offer, &offer->media[r->transport]);
        if (as != RTC_SDP_SETUP_ACTIVE && as != RTC_SDP_SETUP_PASSIVE)
            PROTO_ERR("jsep: mid %s: answer a=setup must be active or passive", mid);
        if ((os == RTC_SDP_SETUP_ACTIVE && as != RTC_SDP_SETUP_PASSIVE) ||
            (os == RTC_SDP_SETUP_PASSIVE && as != RTC_SDP_SETUP_ACTIVE))
            PROTO_ERR("jsep: mid %s: answer a=setup conflicts with the offer's", mid);
        if (first) {
            first = false;
            out->dtls_client = we_offered ? as == RTC_SDP_SETUP_PASSIVE : as == RTC_SDP_SETUP_ACTIVE;
            const rtc_sdp_media_t *rm = &remote->media[r->transport];
            out->remote_ice_ufrag = rtc_sdp_media_ice_ufrag(remote, rm);
            out->remote_ice_pwd = rtc_sdp_media_ice_pwd(remote, rm);
            out->remote_fingerprint = rtc_sdp_media_fingerprint(remote, rm);
        }
    }
    (void)local;
done:
    if (rc) rtc_jsep_result_free(out);
    return rc;
}
