/* sdp/model.c — the SDP model's life cycle, builders, lookups and deep comparison. */
#include <stdlib.h>
#include <strings.h>

#include "sdp/sdp_internal.h"

void *rtc_sdp_grow(void **arr, size_t *n, size_t elem) {
    size_t count = *n;
    /* Capacity is implied: 4 slots first, doubling whenever count reaches a power of two. */
    if (count == 0 || (count >= 4 && (count & (count - 1)) == 0)) {
        size_t cap = count == 0 ? 4 : count * 2;
        if (cap > SIZE_MAX / elem) return NULL;
        void *p = realloc(*arr, cap * elem);
        if (!p) return NULL;
        *arr = p;
    }
    uint8_t *slot = (uint8_t *)*arr + count * elem;
    memset(slot, 0, elem);
    *n = count + 1;
    return slot;
}

char *rtc_sdp_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

bool rtc_sdp_streq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

bool rtc_sdp_strcaseeq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcasecmp(a, b) == 0;
}

int rtc_sdp_set_str(char **dst, const char *src) {
    char *copy = NULL;
    if (src) {
        copy = rtc_sdp_strndup(src, strlen(src));
        if (!copy) return RTC_ERR_NOMEM;
    }
    free(*dst);
    *dst = copy;
    return RTC_OK;
}

int rtc_sdp_strv_push(char ***v, size_t *n, const char *s) {
    char *copy = rtc_sdp_strndup(s, strlen(s));
    if (!copy) return RTC_ERR_NOMEM;
    char **slot = RTC_SDP_PUSH(*v, *n);
    if (!slot) {
        free(copy);
        return RTC_ERR_NOMEM;
    }
    *slot = copy;
    return RTC_OK;
}

static void strv_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ---- directions and setup ---------------------------------------------------------------- */

const char *rtc_sdp_dir_name(rtc_sdp_dir_t d) {
    switch (d) {
    case RTC_SDP_DIR_SENDRECV: return "sendrecv";
    case RTC_SDP_DIR_SENDONLY: return "sendonly";
    case RTC_SDP_DIR_RECVONLY: return "recvonly";
    case RTC_SDP_DIR_INACTIVE: return "inactive";
    default: return "";
    }
}

rtc_sdp_dir_t rtc_sdp_dir_reverse(rtc_sdp_dir_t d) {
    switch (d) {
    case RTC_SDP_DIR_SENDONLY: return RTC_SDP_DIR_RECVONLY;
    case RTC_SDP_DIR_RECVONLY: return RTC_SDP_DIR_SENDONLY;
    case RTC_SDP_DIR_INACTIVE: return RTC_SDP_DIR_INACTIVE;
    default: return RTC_SDP_DIR_SENDRECV;
    }
}

bool rtc_sdp_dir_sends(rtc_sdp_dir_t d) {
    return d == RTC_SDP_DIR_NONE || d == RTC_SDP_DIR_SENDRECV || d == RTC_SDP_DIR_SENDONLY;
}

bool rtc_sdp_dir_receives(rtc_sdp_dir_t d) {
    return d == RTC_SDP_DIR_NONE || d == RTC_SDP_DIR_SENDRECV || d == RTC_SDP_DIR_RECVONLY;
}

rtc_sdp_dir_t rtc_sdp_dir_make(bool send, bool recv) {
    if (send && recv) return RTC_SDP_DIR_SENDRECV;
    if (send) return RTC_SDP_DIR_SENDONLY;
    if (recv) return RTC_SDP_DIR_RECVONLY;
    return RTC_SDP_DIR_INACTIVE;
}

const char *rtc_sdp_setup_name(rtc_sdp_setup_t s) {
    switch (s) {
    case RTC_SDP_SETUP_ACTPASS: return "actpass";
    case RTC_SDP_SETUP_ACTIVE: return "active";
    case RTC_SDP_SETUP_PASSIVE: return "passive";
    case RTC_SDP_SETUP_HOLDCONN: return "holdconn";
    default: return "";
    }
}

/* ---- life cycle --------------------------------------------------------------------------- */

void rtc_sdp_init(rtc_sdp_t *sdp) {
    memset(sdp, 0, sizeof *sdp);
}

static void conn_free(rtc_sdp_conn_t *c) {
    free(c->nettype);
    free(c->addrtype);
    free(c->address);
    memset(c, 0, sizeof *c);
}

static void bw_free(rtc_sdp_bandwidth_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) free(b[i].type);
    free(b);
}

static void lines_free(rtc_sdp_line_t *l, size_t n) {
    for (size_t i = 0; i < n; i++) free(l[i].value);
    free(l);
}

static void attrs_free(rtc_sdp_attr_t *a, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].value);
    }
    free(a);
}

void rtc_sdp_codec_clear(rtc_sdp_codec_t *c) {
    free(c->fmtp);
    strv_free(c->fb, c->n_fb);
    memset(c, 0, sizeof *c);
}

int rtc_sdp_codec_copy(rtc_sdp_codec_t *dst, const rtc_sdp_codec_t *src) {
    memset(dst, 0, sizeof *dst);
    dst->pt = src->pt;
    dst->has_rtpmap = src->has_rtpmap;
    memcpy(dst->name, src->name, sizeof dst->name);
    dst->name[sizeof dst->name - 1] = '\0';
    dst->clock = src->clock;
    dst->channels = src->channels;
    if (rtc_sdp_set_str(&dst->fmtp, src->fmtp) != RTC_OK) goto fail;
    for (size_t i = 0; i < src->n_fb; i++)
        if (rtc_sdp_strv_push(&dst->fb, &dst->n_fb, src->fb[i]) != RTC_OK) goto fail;
    return RTC_OK;
fail:
    rtc_sdp_codec_clear(dst);
    return RTC_ERR_NOMEM;
}

void rtc_sdp_media_clear(rtc_sdp_media_t *m) {
    free(m->media);
    free(m->proto);
    free(m->fmt);
    conn_free(&m->conn);
    bw_free(m->bw, m->n_bw);
    free(m->mid);
    free(m->rtcp);
    free(m->ice_ufrag);
    free(m->ice_pwd);
    free(m->ice_options);
    free(m->fingerprints);
    free(m->candidates);
    for (size_t i = 0; i < m->n_extmaps; i++) {
        free(m->extmaps[i].uri);
        free(m->extmaps[i].attrs);
    }
    free(m->extmaps);
    for (size_t i = 0; i < m->n_codecs; i++) rtc_sdp_codec_clear(&m->codecs[i]);
    free(m->codecs);
    for (size_t i = 0; i < m->n_msids; i++) {
        free(m->msids[i].stream);
        free(m->msids[i].track);
    }
    free(m->msids);
    for (size_t i = 0; i < m->n_ssrc_groups; i++) {
        free(m->ssrc_groups[i].semantics);
        free(m->ssrc_groups[i].ssrcs);
    }
    free(m->ssrc_groups);
    for (size_t i = 0; i < m->n_ssrcs; i++) {
        free(m->ssrcs[i].attr);
        free(m->ssrcs[i].value);
    }
    free(m->ssrcs);
    for (size_t i = 0; i < m->n_rids; i++) {
        free(m->rids[i].id);
        free(m->rids[i].params);
    }
    free(m->rids);
    free(m->simulcast.send);
    free(m->simulcast.recv);
    lines_free(m->lines, m->n_lines);
    attrs_free(m->attrs, m->n_attrs);
    memset(m, 0, sizeof *m);
}

void rtc_sdp_free(rtc_sdp_t *sdp) {
    if (!sdp) return;
    free(sdp->origin_user);
    free(sdp->session_id);
    free(sdp->origin_nettype);
    free(sdp->origin_addrtype);
    free(sdp->origin_address);
    free(sdp->name);
    conn_free(&sdp->conn);
    bw_free(sdp->bw, sdp->n_bw);
    for (size_t i = 0; i < sdp->n_groups; i++) {
        free(sdp->groups[i].semantics);
        strv_free(sdp->groups[i].mids, sdp->groups[i].n_mids);
    }
    free(sdp->groups);
    free(sdp->msid_semantic.token);
    free(sdp->msid_semantic.ids);
    free(sdp->ice_ufrag);
    free(sdp->ice_pwd);
    free(sdp->ice_options);
    free(sdp->fingerprints);
    lines_free(sdp->lines, sdp->n_lines);
    attrs_free(sdp->attrs, sdp->n_attrs);
    for (size_t i = 0; i < sdp->n_media; i++) rtc_sdp_media_clear(&sdp->media[i]);
    free(sdp->media);
    memset(sdp, 0, sizeof *sdp);
}

/* ---- builders ----------------------------------------------------------------------------- */

rtc_sdp_media_t *rtc_sdp_add_media(rtc_sdp_t *sdp) { return RTC_SDP_PUSH(sdp->media, sdp->n_media); }
rtc_sdp_codec_t *rtc_sdp_media_add_codec(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->codecs, m->n_codecs); }
rtc_sdp_extmap_t *rtc_sdp_media_add_extmap(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->extmaps, m->n_extmaps); }
rtc_sdp_candidate_t *rtc_sdp_media_add_candidate(rtc_sdp_media_t *m) {
    return RTC_SDP_PUSH(m->candidates, m->n_candidates);
}
rtc_sdp_fingerprint_t *rtc_sdp_media_add_fingerprint(rtc_sdp_media_t *m) {
    return RTC_SDP_PUSH(m->fingerprints, m->n_fingerprints);
}
rtc_sdp_msid_t *rtc_sdp_media_add_msid(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->msids, m->n_msids); }
rtc_sdp_ssrc_t *rtc_sdp_media_add_ssrc(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->ssrcs, m->n_ssrcs); }
rtc_sdp_ssrc_group_t *rtc_sdp_media_add_ssrc_group(rtc_sdp_media_t *m) {
    return RTC_SDP_PUSH(m->ssrc_groups, m->n_ssrc_groups);
}
rtc_sdp_rid_t *rtc_sdp_media_add_rid(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->rids, m->n_rids); }
rtc_sdp_attr_t *rtc_sdp_media_add_attr(rtc_sdp_media_t *m) { return RTC_SDP_PUSH(m->attrs, m->n_attrs); }
rtc_sdp_group_t *rtc_sdp_add_group(rtc_sdp_t *sdp) { return RTC_SDP_PUSH(sdp->groups, sdp->n_groups); }

/* ---- lookups ------------------------------------------------------------------------------ */

rtc_sdp_media_t *rtc_sdp_find_mid(const rtc_sdp_t *sdp, const char *mid) {
    if (!mid) return NULL;
    for (size_t i = 0; i < sdp->n_media; i++)
        if (sdp->media[i].mid && strcmp(sdp->media[i].mid, mid) == 0) return &sdp->media[i];
    return NULL;
}

const rtc_sdp_codec_t *rtc_sdp_media_find_pt(const rtc_sdp_media_t *m, unsigned pt) {
    for (size_t i = 0; i < m->n_codecs; i++)
        if (m->codecs[i].pt == pt) return &m->codecs[i];
    return NULL;
}

const rtc_sdp_group_t *rtc_sdp_find_group(const rtc_sdp_t *sdp, const char *semantics) {
    for (size_t i = 0; i < sdp->n_groups; i++)
        if (rtc_sdp_streq(sdp->groups[i].semantics, semantics)) return &sdp->groups[i];
    return NULL;
}

bool rtc_sdp_group_has(const rtc_sdp_group_t *g, const char *mid) {
    if (!g || !mid) return false;
    for (size_t i = 0; i < g->n_mids; i++)
        if (strcmp(g->mids[i], mid) == 0) return true;
    return false;
}

const char *rtc_sdp_media_ssrc_attr(const rtc_sdp_media_t *m, uint32_t ssrc, const char *attr) {
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == ssrc && rtc_sdp_streq(m->ssrcs[i].attr, attr)) return m->ssrcs[i].value;
    return NULL;
}

bool rtc_sdp_media_is_rtp(const rtc_sdp_media_t *m) {
    return m->proto && strstr(m->proto, "RTP/") != NULL;
}

bool rtc_sdp_media_is_sctp(const rtc_sdp_media_t *m) {
    return m->proto && strstr(m->proto, "SCTP") != NULL;
}

const char *rtc_sdp_media_ice_ufrag(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m) {
    return m->ice_ufrag ? m->ice_ufrag : sdp->ice_ufrag;
}

const char *rtc_sdp_media_ice_pwd(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m) {
    return m->ice_pwd ? m->ice_pwd : sdp->ice_pwd;
}

rtc_sdp_setup_t rtc_sdp_media_setup(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m) {
    return m->setup != RTC_SDP_SETUP_NONE ? m->setup : sdp->setup;
}

const rtc_sdp_fingerprint_t *rtc_sdp_media_fingerprint(const rtc_sdp_t *sdp,
                                                      const rtc_sdp_media_t *m) {
    if (m->n_fingerprints) return &m->fingerprints[0];
    if (sdp->n_fingerprints) return &sdp->fingerprints[0];
    return NULL;
}

static bool options_have(const char *opts, const char *option) {
    if (!opts) return false;
    size_t ol = strlen(option);
    const char *p = opts;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) == ol && memcmp(p, option, ol) == 0) return true;
        p = e;
    }
    return false;
}

bool rtc_sdp_media_has_ice_option(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m,
                                  const char *option) {
    return options_have(m->ice_options, option) || options_have(sdp->ice_options, option);
}

int rtc_sdp_simulcast_rids(const char *list, char *buf, size_t cap, const char **ids, int max) {
    if (!list || cap == 0) return 0;
    size_t n = strlen(list);
    if (n + 1 > cap) return RTC_ERR_OVERFLOW;
    memcpy(buf, list, n + 1);
    int count = 0;
    char *p = buf;
    while (*p && count < max) {
        char *stream_end = strchr(p, ';');
        if (stream_end) *stream_end = '\0';
        char *alt_end = strchr(p, ',');
        if (alt_end) *alt_end = '\0';
        if (*p == '~') p++;
        if (*p) ids[count++] = p;
        if (!stream_end) break;
        p = stream_end + 1;
    }
    return count;
}

int rtc_sdp_rid_pts(const rtc_sdp_rid_t *r, uint8_t *pts, int max) {
    const char *p = r->params;
    if (!p) return 0;
    /* params: "pt=96,97;max-width=1280" — find the pt= restriction. */
    while (*p) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 3 && memcmp(p, "pt=", 3) == 0) {
            int count = 0;
            const char *q = p + 3, *end = p + len;
            while (q < end) {
                unsigned v = 0;
                int digits = 0;
                while (q < end && *q >= '0' && *q <= '9' && digits < 4) v = v * 10 + (unsigned)(*q++ - '0'), digits++;
                if (digits == 0 || v > 127) return RTC_ERR_MALFORMED;
                if (count < max) pts[count++] = (uint8_t)v;
                if (q < end && *q != ',') return RTC_ERR_MALFORMED;
                if (q < end) q++;
            }
            return count;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* ---- deep comparison ---------------------------------------------------------------------- */

#define SEQ(a, b) rtc_sdp_streq((a), (b))

static bool conn_eq(const rtc_sdp_conn_t *a, const rtc_sdp_conn_t *b) {
    return a->present == b->present && SEQ(a->nettype, b->nettype) && SEQ(a->addrtype, b->addrtype) &&
           SEQ(a->address, b->address);
}

static bool bw_eq(const rtc_sdp_bandwidth_t *a, size_t na, const rtc_sdp_bandwidth_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!SEQ(a[i].type, b[i].type) || a[i].value != b[i].value) return false;
    return true;
}

static bool lines_eq(const rtc_sdp_line_t *a, size_t na, const rtc_sdp_line_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].type != b[i].type || !SEQ(a[i].value, b[i].value)) return false;
    return true;
}

static bool attrs_eq(const rtc_sdp_attr_t *a, size_t na, const rtc_sdp_attr_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!SEQ(a[i].name, b[i].name) || !SEQ(a[i].value, b[i].value) || a[i].after != b[i].after)
            return false;
    return true;
}

static bool fps_eq(const rtc_sdp_fingerprint_t *a, size_t na, const rtc_sdp_fingerprint_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].hash, b[i].hash) || strcmp(a[i].value, b[i].value)) return false;
    return true;
}

static bool strv_eq(char **a, size_t na, char **b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!SEQ(a[i], b[i])) return false;
    return true;
}

static bool cand_eq(const rtc_sdp_candidate_t *a, const rtc_sdp_candidate_t *b) {
    return !strcmp(a->foundation, b->foundation) && a->component == b->component &&
           !strcmp(a->transport, b->transport) && a->priority == b->priority &&
           !strcmp(a->address, b->address) && a->port == b->port && !strcmp(a->type, b->type) &&
           a->has_related == b->has_related && !strcmp(a->raddr, b->raddr) && a->rport == b->rport &&
           !strcmp(a->tcptype, b->tcptype) && a->generation == b->generation &&
           !strcmp(a->ufrag, b->ufrag) && a->network_id == b->network_id &&
           a->network_cost == b->network_cost && !strcmp(a->ext, b->ext);
}

static bool media_eq(const rtc_sdp_media_t *a, const rtc_sdp_media_t *b) {
    if (a->kind != b->kind || !SEQ(a->media, b->media) || a->port != b->port || a->nports != b->nports ||
        !SEQ(a->proto, b->proto) || !SEQ(a->fmt, b->fmt) || !conn_eq(&a->conn, &b->conn) ||
        !bw_eq(a->bw, a->n_bw, b->bw, b->n_bw))
        return false;
    if (!SEQ(a->mid, b->mid) || a->dir != b->dir || a->rtcp_mux != b->rtcp_mux ||
        a->rtcp_mux_only != b->rtcp_mux_only || a->rtcp_rsize != b->rtcp_rsize ||
        a->bundle_only != b->bundle_only || a->extmap_allow_mixed != b->extmap_allow_mixed ||
        !SEQ(a->rtcp, b->rtcp) || !SEQ(a->ice_ufrag, b->ice_ufrag) || !SEQ(a->ice_pwd, b->ice_pwd) ||
        !SEQ(a->ice_options, b->ice_options) ||
        !fps_eq(a->fingerprints, a->n_fingerprints, b->fingerprints, b->n_fingerprints) ||
        a->setup != b->setup || a->end_of_candidates != b->end_of_candidates)
        return false;
    if (a->n_candidates != b->n_candidates) return false;
    for (size_t i = 0; i < a->n_candidates; i++)
        if (!cand_eq(&a->candidates[i], &b->candidates[i])) return false;
    if (a->n_extmaps != b->n_extmaps) return false;
    for (size_t i = 0; i < a->n_extmaps; i++) {
        const rtc_sdp_extmap_t *x = &a->extmaps[i], *y = &b->extmaps[i];
        if (x->id != y->id || x->dir != y->dir || !SEQ(x->uri, y->uri) || !SEQ(x->attrs, y->attrs)) return false;
    }
    if (a->n_codecs != b->n_codecs) return false;
    for (size_t i = 0; i < a->n_codecs; i++) {
        const rtc_sdp_codec_t *x = &a->codecs[i], *y = &b->codecs[i];
        if (x->pt != y->pt || x->has_rtpmap != y->has_rtpmap || strcmp(x->name, y->name) ||
            x->clock != y->clock || x->channels != y->channels || !SEQ(x->fmtp, y->fmtp) ||
            !strv_eq(x->fb, x->n_fb, y->fb, y->n_fb))
            return false;
    }
    if (a->n_msids != b->n_msids) return false;
    for (size_t i = 0; i < a->n_msids; i++)
        if (!SEQ(a->msids[i].stream, b->msids[i].stream) || !SEQ(a->msids[i].track, b->msids[i].track))
            return false;
    if (a->n_ssrc_groups != b->n_ssrc_groups) return false;
    for (size_t i = 0; i < a->n_ssrc_groups; i++) {
        const rtc_sdp_ssrc_group_t *x = &a->ssrc_groups[i], *y = &b->ssrc_groups[i];
        if (!SEQ(x->semantics, y->semantics) || x->n_ssrcs != y->n_ssrcs ||
            (x->n_ssrcs && memcmp(x->ssrcs, y->ssrcs, x->n_ssrcs * sizeof *x->ssrcs)))
            return false;
    }
    if (a->n_ssrcs != b->n_ssrcs) return false;
    for (size_t i = 0; i < a->n_ssrcs; i++)
        if (a->ssrcs[i].ssrc != b->ssrcs[i].ssrc || !SEQ(a->ssrcs[i].attr, b->ssrcs[i].attr) ||
            !SEQ(a->ssrcs[i].value, b->ssrcs[i].value))
            return false;
    if (a->n_rids != b->n_rids) return false;
    for (size_t i = 0; i < a->n_rids; i++)
        if (!SEQ(a->rids[i].id, b->rids[i].id) || a->rids[i].send != b->rids[i].send ||
            !SEQ(a->rids[i].params, b->rids[i].params))
            return false;
    if (a->simulcast.present != b->simulcast.present || a->simulcast.recv_first != b->simulcast.recv_first ||
        !SEQ(a->simulcast.send, b->simulcast.send) || !SEQ(a->simulcast.recv, b->simulcast.recv))
        return false;
    return a->sctp_port == b->sctp_port && a->max_message_size == b->max_message_size &&
           lines_eq(a->lines, a->n_lines, b->lines, b->n_lines) &&
           attrs_eq(a->attrs, a->n_attrs, b->attrs, b->n_attrs);
}

bool rtc_sdp_equal(const rtc_sdp_t *a, const rtc_sdp_t *b) {
    if (!SEQ(a->origin_user, b->origin_user) || !SEQ(a->session_id, b->session_id) ||
        a->session_version != b->session_version || !SEQ(a->origin_nettype, b->origin_nettype) ||
        !SEQ(a->origin_addrtype, b->origin_addrtype) || !SEQ(a->origin_address, b->origin_address) ||
        !SEQ(a->name, b->name) || !conn_eq(&a->conn, &b->conn) || !bw_eq(a->bw, a->n_bw, b->bw, b->n_bw) ||
        a->t_start != b->t_start || a->t_stop != b->t_stop)
        return false;
    if (a->n_groups != b->n_groups) return false;
    for (size_t i = 0; i < a->n_groups; i++)
        if (!SEQ(a->groups[i].semantics, b->groups[i].semantics) ||
            !strv_eq(a->groups[i].mids, a->groups[i].n_mids, b->groups[i].mids, b->groups[i].n_mids))
            return false;
    const rtc_sdp_msid_semantic_t *x = &a->msid_semantic, *y = &b->msid_semantic;
    if (x->present != y->present || x->space != y->space || !SEQ(x->token, y->token) || !SEQ(x->ids, y->ids))
        return false;
    if (a->extmap_allow_mixed != b->extmap_allow_mixed || a->ice_lite != b->ice_lite ||
        !SEQ(a->ice_ufrag, b->ice_ufrag) || !SEQ(a->ice_pwd, b->ice_pwd) ||
        !SEQ(a->ice_options, b->ice_options) ||
        !fps_eq(a->fingerprints, a->n_fingerprints, b->fingerprints, b->n_fingerprints) ||
        a->setup != b->setup || !lines_eq(a->lines, a->n_lines, b->lines, b->n_lines) ||
        !attrs_eq(a->attrs, a->n_attrs, b->attrs, b->n_attrs))
        return false;
    if (a->n_media != b->n_media) return false;
    for (size_t i = 0; i < a->n_media; i++)
        if (!media_eq(&a->media[i], &b->media[i])) return false;
    return true;
}
