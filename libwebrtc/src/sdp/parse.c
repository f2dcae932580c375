/* sdp/parse.c — RFC 8866 parser into the typed WebRTC model of rtc/sdp.h.
 *
 * The input is split into lines (CRLF or LF); each line is checked for length and bytes, then
 * dispatched on its type letter and, for a=, on the attribute name. Any malformed line stops
 * the parse with the line's number and text in the error, so a bad description never gives a
 * half-filled model to the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sdp/sdp_internal.h"

typedef struct {
    const char *p;
    size_t n;
} span_t;

typedef struct {
    rtc_sdp_t *sdp;
    rtc_sdp_media_t *m; /* current media section, NULL at session level */
    rtc_sdp_error_t *err;
    unsigned lineno;
    span_t line;
    uint8_t stage;      /* canonical group of the last known attribute, for unknown ones */
    bool seen_t;
    size_t n_lines;     /* lines consumed so far (limit) */
} ctx_t;

static int fail(ctx_t *c, int code, const char *reason) {
    if (c->err) {
        c->err->code = code;
        c->err->line = c->lineno;
        size_t n = c->line.n < sizeof c->err->text - 1 ? c->line.n : sizeof c->err->text - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)c->line.p[i];
            c->err->text[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
        }
        c->err->text[n] = '\0';
        snprintf(c->err->reason, sizeof c->err->reason, "%s", reason);
    }
    RTC_LOGD("sdp", "line %u: %s", c->lineno, reason);
    return code;
}

#define BAD(reason) return fail(c, RTC_ERR_MALFORMED, reason)
#define NOMEM() return fail(c, RTC_ERR_NOMEM, "out of memory")
#define TRY(expr) do { int rc_ = (expr); if (rc_) return rc_; } while (0)

/* ---- small lexing helpers ----------------------------------------------------------------- */

static bool span_eq(span_t s, const char *lit) {
    size_t l = strlen(lit);
    return s.n == l && memcmp(s.p, lit, l) == 0;
}

/* Next token separated by one or more spaces; returns false at the end. */
static bool next_tok(span_t *rest, span_t *tok) {
    size_t i = 0;
    while (i < rest->n && rest->p[i] == ' ') i++;
    if (i == rest->n) {
        rest->p += i;
        rest->n = 0;
        return false;
    }
    size_t b = i;
    while (i < rest->n && rest->p[i] != ' ') i++;
    *tok = (span_t){rest->p + b, i - b};
    rest->p += i;
    rest->n -= i;
    return true;
}

/* Whatever follows the next run of spaces, as written (may be empty). */
static span_t skip_spaces(span_t s) {
    while (s.n && s.p[0] == ' ') s.p++, s.n--;
    return s;
}

static bool span_uint(span_t t, uint64_t max, uint64_t *out) {
    if (t.n == 0 || t.n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (ch < '0' || ch > '9') return false;
        uint64_t d = (uint64_t)(ch - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool is_token_char(char ch) {
    /* RFC 8866 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
    unsigned char u = (unsigned char)ch;
    return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2a || u == 0x2b || u == 0x2d || u == 0x2e ||
           (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) || (u >= 0x5e && u <= 0x7e);
}

static bool span_is_token(span_t t) {
    if (t.n == 0) return false;
    for (size_t i = 0; i < t.n; i++)
        if (!is_token_char(t.p[i])) return false;
    return true;
}

/* A run of visible ASCII (no spaces). */
static bool span_is_word(span_t t) {
    if (t.n == 0) return false;
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] <= 0x20 || t.p[i] >= 0x7f) return false;
    return true;
}

static bool span_is_ice_chars(span_t t) {
    if (t.n == 0) return false;
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/'))
            return false;
    }
    return true;
}

static int dup_span(ctx_t *c, char **dst, span_t s) {
    char *d = rtc_sdp_strndup(s.p, s.n);
    if (!d) NOMEM();
    free(*dst);
    *dst = d;
    return RTC_OK;
}

static bool copy_fixed(span_t s, char *out, size_t cap) {
    if (s.n + 1 > cap) return false;
    memcpy(out, s.p, s.n);
    out[s.n] = '\0';
    return true;
}

/* ---- line types --------------------------------------------------------------------------- */

static int parse_origin(ctx_t *c, span_t v) {
    span_t t[6], rest = v;
    for (int i = 0; i < 6; i++)
        if (!next_tok(&rest, &t[i])) BAD("o= needs 6 fields: username sess-id sess-version nettype addrtype address");
    span_t extra;
    if (next_tok(&rest, &extra)) BAD("o= has more than 6 fields");
    uint64_t ver;
    if (t[1].n > 64) BAD("o= session id longer than 64 digits");
    for (size_t i = 0; i < t[1].n; i++)
        if (t[1].p[i] < '0' || t[1].p[i] > '9') BAD("o= session id is not a number");
    if (!span_uint(t[2], UINT64_MAX, &ver)) BAD("o= session version is not a 64-bit number");
    rtc_sdp_t *s = c->sdp;
    TRY(dup_span(c, &s->origin_user, t[0]));
    TRY(dup_span(c, &s->session_id, t[1]));
    s->session_version = ver;
    TRY(dup_span(c, &s->origin_nettype, t[3]));
    TRY(dup_span(c, &s->origin_addrtype, t[4]));
    TRY(dup_span(c, &s->origin_address, t[5]));
    return RTC_OK;
}

static int parse_conn(ctx_t *c, span_t v, rtc_sdp_conn_t *conn) {
    if (conn->present) BAD("second c= line in the same section");
    span_t t[3], rest = v, extra;
    for (int i = 0; i < 3; i++)
        if (!next_tok(&rest, &t[i])) BAD("c= needs nettype addrtype address");
    if (next_tok(&rest, &extra)) BAD("c= has more than 3 fields");
    TRY(dup_span(c, &conn->nettype, t[0]));
    TRY(dup_span(c, &conn->addrtype, t[1]));
    TRY(dup_span(c, &conn->address, t[2]));
    conn->present = true;
    return RTC_OK;
}

static int parse_bw(ctx_t *c, span_t v, rtc_sdp_bandwidth_t **bw, size_t *n) {
    const char *colon = memchr(v.p, ':', v.n);
    if (!colon || colon == v.p) BAD("b= needs <bwtype>:<bandwidth>");
    span_t type = {v.p, (size_t)(colon - v.p)};
    span_t val = {colon + 1, v.n - type.n - 1};
    uint64_t x;
    if (!span_is_word(type)) BAD("b= type is not a token");
    if (!span_uint(val, UINT64_MAX, &x)) BAD("b= bandwidth is not a number");
    rtc_sdp_bandwidth_t *b = RTC_SDP_PUSH(*bw, *n);
    if (!b) NOMEM();
    b->value = x;
    return dup_span(c, &b->type, type);
}

static int parse_timing(ctx_t *c, span_t v) {
    span_t a, b, rest = v, extra;
    uint64_t x, y;
    if (!next_tok(&rest, &a) || !next_tok(&rest, &b) || next_tok(&rest, &extra)) BAD("t= needs <start> <stop>");
    if (!span_uint(a, UINT64_MAX, &x) || !span_uint(b, UINT64_MAX, &y)) BAD("t= times are not numbers");
    /* Only the first t= is modelled; WebRTC always sends "t=0 0". Later ones are refused to
     * keep the model exact. */
    if (c->seen_t) BAD("more than one t= line");
    c->sdp->t_start = x;
    c->sdp->t_stop = y;
    c->seen_t = true;
    return RTC_OK;
}

/* The writer puts these lines in RFC 8866 order; keeping the list in that order (stable for
 * lines of one type) makes parse -> write -> parse give the same list. */
static int line_rank(char type) {
    static const char order[] = "iuepcbtrzk";
    const char *p = strchr(order, type);
    return p ? (int)(p - order) : 99;
}

static int add_line(ctx_t *c, char type, span_t v, rtc_sdp_line_t **lines, size_t *n) {
    char *value = rtc_sdp_strndup(v.p, v.n);
    if (!value) NOMEM();
    rtc_sdp_line_t *l = RTC_SDP_PUSH(*lines, *n);
    if (!l) {
        free(value);
        NOMEM();
    }
    size_t i = *n - 1;
    while (i > 0 && line_rank((*lines)[i - 1].type) > line_rank(type)) {
        (*lines)[i] = (*lines)[i - 1];
        i--;
    }
    (*lines)[i] = (rtc_sdp_line_t){.type = type, .value = value};
    return RTC_OK;
}

static int static_or_empty(rtc_sdp_codec_t *cd, uint8_t pt) {
    cd->pt = pt;
    rtc_sdp_static_pt(pt, cd);
    cd->pt = pt;
    return RTC_OK;
}

static int parse_media_line(ctx_t *c, span_t v) {
    if (c->sdp->n_media >= RTC_SDP_MAX_MEDIA) return fail(c, RTC_ERR_LIMIT, "too many m= sections");
    rtc_sdp_media_t *m = rtc_sdp_add_media(c->sdp);
    if (!m) NOMEM();
    c->m = m;
    c->stage = RTC_SDP_MS_START;
    span_t media, port, proto, rest = v;
    if (!next_tok(&rest, &media) || !next_tok(&rest, &port) || !next_tok(&rest, &proto))
        BAD("m= needs <media> <port> <proto> <fmt>...");
    if (!span_is_token(media)) BAD("m= media is not a token");
    TRY(dup_span(c, &m->media, media));
    if (span_eq(media, "audio")) m->kind = RTC_SDP_MEDIA_AUDIO;
    else if (span_eq(media, "video")) m->kind = RTC_SDP_MEDIA_VIDEO;
    else if (span_eq(media, "application")) m->kind = RTC_SDP_MEDIA_APPLICATION;
    else m->kind = RTC_SDP_MEDIA_OTHER;

    const char *slash = memchr(port.p, '/', port.n);
    uint64_t x;
    span_t pnum = {port.p, slash ? (size_t)(slash - port.p) : port.n};
    if (!span_uint(pnum, 65535, &x)) BAD("m= port is not 0..65535");
    m->port = (uint16_t)x;
    if (slash) {
        span_t cnt = {slash + 1, port.n - pnum.n - 1};
        if (!span_uint(cnt, 65535, &x) || x == 0) BAD("m= port count is not 1..65535");
        m->nports = (uint16_t)x;
    }
    if (!span_is_word(proto)) BAD("m= proto is not a token");
    TRY(dup_span(c, &m->proto, proto));

    span_t fmts = skip_spaces(rest);
    if (fmts.n == 0) BAD("m= line has no formats");
    if (!rtc_sdp_media_is_rtp(m)) {
        for (size_t i = 0; i < fmts.n; i++)
            if ((unsigned char)fmts.p[i] < 0x20) BAD("m= formats contain a control byte");
        return dup_span(c, &m->fmt, fmts);
    }
    span_t f;
    while (next_tok(&fmts, &f)) {
        if (!span_uint(f, 127, &x)) BAD("RTP m= format is not a payload type 0..127");
        if (m->n_codecs >= RTC_SDP_MAX_FORMATS) return fail(c, RTC_ERR_LIMIT, "too many formats");
        if (rtc_sdp_media_find_pt(m, (unsigned)x)) BAD("payload type listed twice on the m= line");
        rtc_sdp_codec_t *cd = rtc_sdp_media_add_codec(m);
        if (!cd) NOMEM();
        static_or_empty(cd, (uint8_t)x);
    }
    return RTC_OK;
}

/* ---- attributes --------------------------------------------------------------------------- */

static int parse_fingerprint(ctx_t *c, span_t v, rtc_sdp_fingerprint_t **arr, size_t *n) {
    span_t hash, val, rest = v, extra;
    if (!next_tok(&rest, &hash) || !next_tok(&rest, &val) || next_tok(&rest, &extra))
        BAD("a=fingerprint needs <hash-func> <fingerprint>");
    for (size_t i = 0; i < val.n; i++) {
        char ch = val.p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':'))
            BAD("a=fingerprint value is not hex bytes separated by ':'");
    }
    if (*n >= 16) return fail(c, RTC_ERR_LIMIT, "too many fingerprints");
    rtc_sdp_fingerprint_t *fp = RTC_SDP_PUSH(*arr, *n);
    if (!fp) NOMEM();
    if (!span_is_token(hash) || !copy_fixed(hash, fp->hash, sizeof fp->hash)) BAD("a=fingerprint hash name too long");
    if (!copy_fixed(val, fp->value, sizeof fp->value)) BAD("a=fingerprint value too long");
    return RTC_OK;
}

static int parse_setup(ctx_t *c, span_t v, rtc_sdp_setup_t *out) {
    if (*out != RTC_SDP_SETUP_NONE) BAD("a=setup appears twice");
    if (span_eq(v, "actpass")) *out = RTC_SDP_SETUP_ACTPASS;
    else if (span_eq(v, "active")) *out = RTC_SDP_SETUP_ACTIVE;
    else if (span_eq(v, "passive")) *out = RTC_SDP_SETUP_PASSIVE;
    else if (span_eq(v, "holdconn")) *out = RTC_SDP_SETUP_HOLDCONN;
    else BAD("a=setup is not actpass/active/passive/holdconn");
    return RTC_OK;
}

static int parse_ice_str(ctx_t *c, span_t v, char **dst, size_t min, const char *what) {
    char reason[64];
    if (*dst) {
        snprintf(reason, sizeof reason, "a=%s appears twice", what);
        BAD(reason);
    }
    if (!span_is_ice_chars(v) || v.n < min || v.n > 256) {
        snprintf(reason, sizeof reason, "a=%s is not %zu..256 ice-chars", what, min);
        BAD(reason);
    }
    return dup_span(c, dst, v);
}

static int parse_ice_options(ctx_t *c, span_t v, char **dst) {
    if (*dst) BAD("a=ice-options appears twice");
    span_t rest = v, t;
    bool any = false;
    while (next_tok(&rest, &t)) {
        if (!span_is_word(t)) BAD("a=ice-options has a bad option");
        any = true;
    }
    if (!any) BAD("a=ice-options is empty");
    return dup_span(c, dst, v);
}

static int parse_group(ctx_t *c, span_t v) {
    span_t sem, rest = v, t;
    if (!next_tok(&rest, &sem) || !span_is_token(sem)) BAD("a=group needs <semantics> [<mid>...]");
    if (c->sdp->n_groups >= 16) return fail(c, RTC_ERR_LIMIT, "too many a=group lines");
    rtc_sdp_group_t *g = rtc_sdp_add_group(c->sdp);
    if (!g) NOMEM();
    TRY(dup_span(c, &g->semantics, sem));
    while (next_tok(&rest, &t)) {
        if (!span_is_word(t)) BAD("a=group has a bad mid");
        char *mid = rtc_sdp_strndup(t.p, t.n);
        if (!mid) NOMEM();
        if (rtc_sdp_group_has(g, mid)) {
            free(mid);
            BAD("a=group lists a mid twice");
        }
        char **slot = RTC_SDP_PUSH(g->mids, g->n_mids);
        if (!slot) {
            free(mid);
            NOMEM();
        }
        *slot = mid;
    }
    return RTC_OK;
}

static int parse_msid_semantic(ctx_t *c, span_t v) {
    rtc_sdp_msid_semantic_t *ms = &c->sdp->msid_semantic;
    if (ms->present) BAD("a=msid-semantic appears twice");
    ms->space = v.n && v.p[0] == ' ';
    span_t rest = v, tok;
    if (!next_tok(&rest, &tok) || !span_is_token(tok)) BAD("a=msid-semantic needs a semantic token");
    TRY(dup_span(c, &ms->token, tok));
    rest = skip_spaces(rest);
    if (rest.n) {
        for (size_t i = 0; i < rest.n; i++)
            if ((unsigned char)rest.p[i] < 0x20) BAD("a=msid-semantic has a control byte");
        TRY(dup_span(c, &ms->ids, rest));
    }
    ms->present = true;
    return RTC_OK;
}

static int parse_extmap(ctx_t *c, span_t v) {
    rtc_sdp_media_t *m = c->m;
    span_t idt, uri, rest = v;
    if (!next_tok(&rest, &idt) || !next_tok(&rest, &uri)) BAD("a=extmap needs <id>[/<direction>] <uri>");
    const char *slash = memchr(idt.p, '/', idt.n);
    span_t num = {idt.p, slash ? (size_t)(slash - idt.p) : idt.n};
    uint64_t id;
    if (!span_uint(num, 255, &id) || id == 0) BAD("a=extmap id is not 1..255");
    rtc_sdp_dir_t dir = RTC_SDP_DIR_NONE;
    if (slash) {
        span_t d = {slash + 1, idt.n - num.n - 1};
        if (span_eq(d, "sendrecv")) dir = RTC_SDP_DIR_SENDRECV;
        else if (span_eq(d, "sendonly")) dir = RTC_SDP_DIR_SENDONLY;
        else if (span_eq(d, "recvonly")) dir = RTC_SDP_DIR_RECVONLY;
        else if (span_eq(d, "inactive")) dir = RTC_SDP_DIR_INACTIVE;
        else BAD("a=extmap direction is not sendrecv/sendonly/recvonly/inactive");
    }
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (m->extmaps[i].id == id) BAD("a=extmap id used twice");
    if (!span_is_word(uri)) BAD("a=extmap URI is not a token");
    rtc_sdp_extmap_t *e = rtc_sdp_media_add_extmap(m);
    if (!e) NOMEM();
    e->id = (uint16_t)id;
    e->dir = dir;
    TRY(dup_span(c, &e->uri, uri));
    rest = skip_spaces(rest);
    if (rest.n) TRY(dup_span(c, &e->attrs, rest));
    return RTC_OK;
}

/* "<pt> <rest>" for rtpmap/fmtp/rtcp-fb: returns the codec, or NULL when the payload type is
 * not on the m= line ("*" or unlisted), in which case the caller keeps the line verbatim. */
static int pt_prefix(ctx_t *c, span_t v, rtc_sdp_codec_t **cd, span_t *rest, const char *what) {
    char reason[80];
    span_t r = v, ptt;
    *cd = NULL;
    if (!next_tok(&r, &ptt)) {
        snprintf(reason, sizeof reason, "a=%s needs <payload type> <value>", what);
        BAD(reason);
    }
    *rest = skip_spaces(r);
    if (span_eq(ptt, "*")) return RTC_OK;
    uint64_t pt;
    if (!span_uint(ptt, 127, &pt)) {
        snprintf(reason, sizeof reason, "a=%s payload type is not 0..127", what);
        BAD(reason);
    }
    for (size_t i = 0; i < c->m->n_codecs; i++)
        if (c->m->codecs[i].pt == pt) *cd = &c->m->codecs[i];
    return RTC_OK;
}

static int parse_rtpmap(ctx_t *c, rtc_sdp_codec_t *cd, span_t v) {
    if (cd->has_rtpmap) BAD("a=rtpmap for a payload type given twice");
    /* <encoding name>/<clock rate>[/<encoding parameters>] */
    span_t rest = v, enc, extra;
    if (!next_tok(&rest, &enc) || next_tok(&rest, &extra)) BAD("a=rtpmap needs <pt> <name>/<clock>[/<channels>]");
    const char *s1 = memchr(enc.p, '/', enc.n);
    if (!s1 || s1 == enc.p) BAD("a=rtpmap needs <name>/<clock>");
    span_t name = {enc.p, (size_t)(s1 - enc.p)};
    span_t after = {s1 + 1, enc.n - name.n - 1};
    const char *s2 = memchr(after.p, '/', after.n);
    span_t clk = {after.p, s2 ? (size_t)(s2 - after.p) : after.n};
    uint64_t clock, ch = 0;
    if (!span_uint(clk, UINT32_MAX, &clock) || clock == 0) BAD("a=rtpmap clock rate is not a positive number");
    if (s2) {
        span_t chs = {s2 + 1, after.n - clk.n - 1};
        if (!span_uint(chs, 255, &ch) || ch == 0) BAD("a=rtpmap channels is not 1..255");
    }
    if (!span_is_token(name)) BAD("a=rtpmap encoding name is not a token");
    char nm[RTC_SDP_CODEC_NAME_SIZE];
    if (!copy_fixed(name, nm, sizeof nm)) BAD("a=rtpmap encoding name too long");
    memcpy(cd->name, nm, sizeof nm);
    cd->clock = (uint32_t)clock;
    cd->channels = (uint8_t)ch;
    cd->has_rtpmap = true;
    return RTC_OK;
}

static int parse_msid(ctx_t *c, span_t v) {
    span_t rest = v, stream, track, extra;
    if (!next_tok(&rest, &stream)) BAD("a=msid needs <stream id> [<track id>]");
    bool has_track = next_tok(&rest, &track);
    if (next_tok(&rest, &extra)) BAD("a=msid has more than 2 fields");
    if (stream.n > 64 || !span_is_word(stream) || (has_track && (track.n > 64 || !span_is_word(track))))
        BAD("a=msid id is not 1..64 visible characters");
    if (c->m->n_msids >= 16) return fail(c, RTC_ERR_LIMIT, "too many a=msid lines");
    rtc_sdp_msid_t *ms = rtc_sdp_media_add_msid(c->m);
    if (!ms) NOMEM();
    TRY(dup_span(c, &ms->stream, stream));
    if (has_track) TRY(dup_span(c, &ms->track, track));
    return RTC_OK;
}

static int parse_ssrc(ctx_t *c, span_t v) {
    span_t rest = v, num;
    uint64_t ssrc;
    if (!next_tok(&rest, &num) || !span_uint(num, UINT32_MAX, &ssrc)) BAD("a=ssrc needs <ssrc> <attribute>[:<value>]");
    rest = skip_spaces(rest);
    if (rest.n == 0) BAD("a=ssrc has no attribute");
    const char *colon = memchr(rest.p, ':', rest.n);
    span_t attr = {rest.p, colon ? (size_t)(colon - rest.p) : rest.n};
    if (!span_is_word(attr)) BAD("a=ssrc attribute name is not a token");
    rtc_sdp_ssrc_t *s = rtc_sdp_media_add_ssrc(c->m);
    if (!s) NOMEM();
    s->ssrc = (uint32_t)ssrc;
    TRY(dup_span(c, &s->attr, attr));
    if (colon) TRY(dup_span(c, &s->value, (span_t){colon + 1, rest.n - attr.n - 1}));
    return RTC_OK;
}

static int parse_ssrc_group(ctx_t *c, span_t v) {
    span_t rest = v, sem, num;
    if (!next_tok(&rest, &sem) || !span_is_token(sem)) BAD("a=ssrc-group needs <semantics> <ssrc>...");
    rtc_sdp_ssrc_group_t *g = rtc_sdp_media_add_ssrc_group(c->m);
    if (!g) NOMEM();
    TRY(dup_span(c, &g->semantics, sem));
    while (next_tok(&rest, &num)) {
        uint64_t x;
        if (!span_uint(num, UINT32_MAX, &x)) BAD("a=ssrc-group SSRC is not a 32-bit number");
        if (g->n_ssrcs >= 32) return fail(c, RTC_ERR_LIMIT, "too many SSRCs in a=ssrc-group");
        uint32_t *slot = RTC_SDP_PUSH(g->ssrcs, g->n_ssrcs);
        if (!slot) NOMEM();
        *slot = (uint32_t)x;
    }
    if (g->n_ssrcs == 0) BAD("a=ssrc-group lists no SSRC");
    return RTC_OK;
}

static bool is_rid_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

static int parse_rid(ctx_t *c, span_t v) {
    span_t rest = v, id, dir;
    if (!next_tok(&rest, &id) || !next_tok(&rest, &dir)) BAD("a=rid needs <rid-id> send|recv [<params>]");
    if (id.n > 255) BAD("a=rid id too long");
    for (size_t i = 0; i < id.n; i++)
        if (!is_rid_char(id.p[i])) BAD("a=rid id has a character outside [A-Za-z0-9_-]");
    bool send;
    if (span_eq(dir, "send")) send = true;
    else if (span_eq(dir, "recv")) send = false;
    else BAD("a=rid direction is not send or recv");
    for (size_t i = 0; i < c->m->n_rids; i++)
        if (strlen(c->m->rids[i].id) == id.n && memcmp(c->m->rids[i].id, id.p, id.n) == 0 &&
            c->m->rids[i].send == send)
            BAD("a=rid id given twice for the same direction");
    if (c->m->n_rids >= 32) return fail(c, RTC_ERR_LIMIT, "too many a=rid lines");
    rest = skip_spaces(rest);
    for (size_t i = 0; i < rest.n; i++)
        if (rest.p[i] <= 0x20 || rest.p[i] >= 0x7f) BAD("a=rid parameters contain a space or control byte");
    rtc_sdp_rid_t *r = rtc_sdp_media_add_rid(c->m);
    if (!r) NOMEM();
    r->send = send;
    TRY(dup_span(c, &r->id, id));
    if (rest.n) TRY(dup_span(c, &r->params, rest));
    if (rest.n) {
        uint8_t pts[64];
        if (rtc_sdp_rid_pts(r, pts, 64) < 0) BAD("a=rid pt= list is not payload types");
    }
    return RTC_OK;
}

static bool valid_sc_list(span_t l) {
    /* sc-str-list: alternatives separated by ',' and streams by ';', each an optional '~'
     * followed by a rid-id. No empty entries. */
    bool need_id = true;
    for (size_t i = 0; i < l.n; i++) {
        char ch = l.p[i];
        if (ch == ',' || ch == ';') {
            if (need_id) return false;
            need_id = true;
        } else if (ch == '~') {
            if (!need_id || (i && l.p[i - 1] == '~')) return false;
        } else if (is_rid_char(ch)) {
            need_id = false;
        } else {
            return false;
        }
    }
    return !need_id;
}

static int parse_simulcast(ctx_t *c, span_t v) {
    rtc_sdp_simulcast_t *sc = &c->m->simulcast;
    if (sc->present) BAD("a=simulcast appears twice");
    span_t rest = v, d1, l1, d2, l2, extra;
    if (!next_tok(&rest, &d1) || !next_tok(&rest, &l1)) BAD("a=simulcast needs send|recv <list>");
    bool two = next_tok(&rest, &d2);
    if (two && !next_tok(&rest, &l2)) BAD("a=simulcast direction without a list");
    if (next_tok(&rest, &extra)) BAD("a=simulcast has extra fields");
    span_t dirs[2] = {d1, two ? d2 : (span_t){0}};
    span_t lists[2] = {l1, two ? l2 : (span_t){0}};
    for (int i = 0; i < (two ? 2 : 1); i++) {
        char **dst;
        if (span_eq(dirs[i], "send")) dst = &sc->send;
        else if (span_eq(dirs[i], "recv")) dst = &sc->recv;
        else BAD("a=simulcast direction is not send or recv");
        if (*dst) BAD("a=simulcast gives the same direction twice");
        if (!valid_sc_list(lists[i])) BAD("a=simulcast list is not rid ids separated by ';' and ','");
        TRY(dup_span(c, dst, lists[i]));
        if (i == 0 && two) sc->recv_first = dst == &sc->recv;
    }
    sc->present = true;
    return RTC_OK;
}

static int set_flag(ctx_t *c, bool *flag, const char *name) {
    char reason[64];
    if (*flag) {
        snprintf(reason, sizeof reason, "a=%s appears twice", name);
        BAD(reason);
    }
    *flag = true;
    return RTC_OK;
}

/* Unknown attributes are kept in the order they will be written (by position, then as
 * parsed), so parse -> write -> parse gives the same list. */
static int add_unknown(ctx_t *c, rtc_sdp_attr_t **arr, size_t *n, span_t name, const span_t *value) {
    char *nm = rtc_sdp_strndup(name.p, name.n);
    char *val = value ? rtc_sdp_strndup(value->p, value->n) : NULL;
    rtc_sdp_attr_t *a = (nm && (val || !value)) ? RTC_SDP_PUSH(*arr, *n) : NULL;
    if (!a) {
        free(nm);
        free(val);
        NOMEM();
    }
    size_t i = *n - 1;
    while (i > 0 && (*arr)[i - 1].after > c->stage) {
        (*arr)[i] = (*arr)[i - 1];
        i--;
    }
    (*arr)[i] = (rtc_sdp_attr_t){.name = nm, .value = val, .after = c->stage};
    return RTC_OK;
}

static int parse_session_attr(ctx_t *c, span_t name, const span_t *val) {
    rtc_sdp_t *s = c->sdp;
    span_t v = val ? *val : (span_t){"", 0};
    bool flag = val == NULL;
    uint8_t stage = 0;
    int rc = RTC_OK;
    if (span_eq(name, "group") && !flag) {
        rc = parse_group(c, v), stage = RTC_SDP_SS_GROUP;
    } else if (span_eq(name, "msid-semantic") && !flag) {
        rc = parse_msid_semantic(c, v), stage = RTC_SDP_SS_MSID_SEMANTIC;
    } else if (span_eq(name, "extmap-allow-mixed") && flag) {
        rc = set_flag(c, &s->extmap_allow_mixed, "extmap-allow-mixed"), stage = RTC_SDP_SS_EXTMAP_ALLOW_MIXED;
    } else if (span_eq(name, "ice-lite") && flag) {
        rc = set_flag(c, &s->ice_lite, "ice-lite"), stage = RTC_SDP_SS_ICE_LITE;
    } else if (span_eq(name, "ice-ufrag") && !flag) {
        rc = parse_ice_str(c, v, &s->ice_ufrag, 4, "ice-ufrag"), stage = RTC_SDP_SS_ICE_UFRAG;
    } else if (span_eq(name, "ice-pwd") && !flag) {
        rc = parse_ice_str(c, v, &s->ice_pwd, 22, "ice-pwd"), stage = RTC_SDP_SS_ICE_PWD;
    } else if (span_eq(name, "ice-options") && !flag) {
        rc = parse_ice_options(c, v, &s->ice_options), stage = RTC_SDP_SS_ICE_OPTIONS;
    } else if (span_eq(name, "fingerprint") && !flag) {
        rc = parse_fingerprint(c, v, &s->fingerprints, &s->n_fingerprints), stage = RTC_SDP_SS_FINGERPRINT;
    } else if (span_eq(name, "setup") && !flag) {
        rc = parse_setup(c, v, &s->setup), stage = RTC_SDP_SS_SETUP;
    } else {
        return add_unknown(c, &s->attrs, &s->n_attrs, name, val);
    }
    if (rc == RTC_OK) c->stage = stage;
    return rc;
}

static int parse_media_attr(ctx_t *c, span_t name, const span_t *val) {
    rtc_sdp_media_t *m = c->m;
    span_t v = val ? *val : (span_t){"", 0};
    bool flag = val == NULL;
    uint8_t stage = 0;
    int rc = RTC_OK;
    uint64_t x;
    bool rtp = rtc_sdp_media_is_rtp(m);

    if (span_eq(name, "mid") && !flag) {
        if (m->mid) BAD("a=mid appears twice");
        if (!span_is_word(v) || v.n > 255) BAD("a=mid is not a token");
        for (size_t i = 0; i + 1 < c->sdp->n_media; i++)
            if (c->sdp->media[i].mid && strlen(c->sdp->media[i].mid) == v.n &&
                memcmp(c->sdp->media[i].mid, v.p, v.n) == 0)
                BAD("a=mid value used by another m= section");
        rc = dup_span(c, &m->mid, v), stage = RTC_SDP_MS_MID;
    } else if (flag && (span_eq(name, "sendrecv") || span_eq(name, "sendonly") || span_eq(name, "recvonly") ||
                        span_eq(name, "inactive"))) {
        if (m->dir != RTC_SDP_DIR_NONE) BAD("more than one direction attribute");
        m->dir = span_eq(name, "sendrecv") ? RTC_SDP_DIR_SENDRECV
                 : span_eq(name, "sendonly") ? RTC_SDP_DIR_SENDONLY
                 : span_eq(name, "recvonly") ? RTC_SDP_DIR_RECVONLY
                                             : RTC_SDP_DIR_INACTIVE;
        stage = RTC_SDP_MS_DIRECTION;
    } else if (span_eq(name, "rtcp-mux") && flag) {
        rc = set_flag(c, &m->rtcp_mux, "rtcp-mux"), stage = RTC_SDP_MS_RTCP_MUX;
    } else if (span_eq(name, "rtcp-mux-only") && flag) {
        rc = set_flag(c, &m->rtcp_mux_only, "rtcp-mux-only"), stage = RTC_SDP_MS_RTCP_MUX_ONLY;
    } else if (span_eq(name, "rtcp-rsize") && flag) {
        rc = set_flag(c, &m->rtcp_rsize, "rtcp-rsize"), stage = RTC_SDP_MS_RTCP_RSIZE;
    } else if (span_eq(name, "bundle-only") && flag) {
        rc = set_flag(c, &m->bundle_only, "bundle-only"), stage = RTC_SDP_MS_BUNDLE_ONLY;
    } else if (span_eq(name, "extmap-allow-mixed") && flag) {
        rc = set_flag(c, &m->extmap_allow_mixed, "extmap-allow-mixed"), stage = RTC_SDP_MS_EXTMAP_ALLOW_MIXED;
    } else if (span_eq(name, "end-of-candidates") && flag) {
        rc = set_flag(c, &m->end_of_candidates, "end-of-candidates"), stage = RTC_SDP_MS_END_OF_CANDIDATES;
    } else if (span_eq(name, "rtcp") && !flag) {
        span_t rest = v, port;
        if (m->rtcp) BAD("a=rtcp appears twice");
        if (!next_tok(&rest, &port) || !span_uint(port, 65535, &x)) BAD("a=rtcp port is not 0..65535");
        rc = dup_span(c, &m->rtcp, v), stage = RTC_SDP_MS_RTCP;
    } else if (span_eq(name, "ice-ufrag") && !flag) {
        rc = parse_ice_str(c, v, &m->ice_ufrag, 4, "ice-ufrag"), stage = RTC_SDP_MS_ICE_UFRAG;
    } else if (span_eq(name, "ice-pwd") && !flag) {
        rc = parse_ice_str(c, v, &m->ice_pwd, 22, "ice-pwd"), stage = RTC_SDP_MS_ICE_PWD;
    } else if (span_eq(name, "ice-options") && !flag) {
        rc = parse_ice_options(c, v, &m->ice_options), stage = RTC_SDP_MS_ICE_OPTIONS;
    } else if (span_eq(name, "fingerprint") && !flag) {
        rc = parse_fingerprint(c, v, &m->fingerprints, &m->n_fingerprints), stage = RTC_SDP_MS_FINGERPRINT;
    } else if (span_eq(name, "setup") && !flag) {
        rc = parse_setup(c, v, &m->setup), stage = RTC_SDP_MS_SETUP;
    } else if (span_eq(name, "candidate") && !flag) {
        rtc_sdp_candidate_t cand;
        const char *why = "malformed";
        if (rtc_sdp_candidate_parse(v.p, v.n, &cand, &why) != RTC_OK) {
            char reason[100];
            snprintf(reason, sizeof reason, "a=candidate: %s", why);
            BAD(reason);
        }
        if (m->n_candidates >= 256) return fail(c, RTC_ERR_LIMIT, "too many candidates");
        rtc_sdp_candidate_t *slot = rtc_sdp_media_add_candidate(m);
        if (!slot) NOMEM();
        *slot = cand;
        stage = RTC_SDP_MS_CANDIDATE;
    } else if (span_eq(name, "extmap") && !flag) {
        rc = parse_extmap(c, v), stage = RTC_SDP_MS_EXTMAP;
    } else if (rtp && !flag && (span_eq(name, "rtpmap") || span_eq(name, "fmtp") || span_eq(name, "rtcp-fb"))) {
        rtc_sdp_codec_t *cd;
        span_t rest;
        char what[16];
        snprintf(what, sizeof what, "%.*s", (int)name.n, name.p);
        TRY(pt_prefix(c, v, &cd, &rest, what));
        if (!cd) return add_unknown(c, &m->attrs, &m->n_attrs, name, val); /* "*" or unlisted pt */
        if (span_eq(name, "rtpmap")) {
            rc = parse_rtpmap(c, cd, rest);
        } else if (span_eq(name, "fmtp")) {
            if (cd->fmtp) BAD("a=fmtp for a payload type given twice");
            for (size_t i = 0; i < rest.n; i++)
                if ((unsigned char)rest.p[i] < 0x20) BAD("a=fmtp has a control byte");
            rc = dup_span(c, &cd->fmtp, rest);
        } else {
            if (rest.n == 0) BAD("a=rtcp-fb has no feedback type");
            if (cd->n_fb >= 16) return fail(c, RTC_ERR_LIMIT, "too many a=rtcp-fb for one payload type");
            char *fb = rtc_sdp_strndup(rest.p, rest.n);
            if (!fb) NOMEM();
            char **slot = RTC_SDP_PUSH(cd->fb, cd->n_fb);
            if (!slot) {
                free(fb);
                NOMEM();
            }
            *slot = fb;
        }
        stage = RTC_SDP_MS_CODECS;
    } else if (span_eq(name, "msid") && !flag) {
        rc = parse_msid(c, v), stage = RTC_SDP_MS_MSID;
    } else if (span_eq(name, "ssrc") && !flag) {
        if (m->n_ssrcs >= 256) return fail(c, RTC_ERR_LIMIT, "too many a=ssrc lines");
        rc = parse_ssrc(c, v), stage = RTC_SDP_MS_SSRC;
    } else if (span_eq(name, "ssrc-group") && !flag) {
        if (m->n_ssrc_groups >= 32) return fail(c, RTC_ERR_LIMIT, "too many a=ssrc-group lines");
        rc = parse_ssrc_group(c, v), stage = RTC_SDP_MS_SSRC_GROUP;
    } else if (span_eq(name, "rid") && !flag) {
        rc = parse_rid(c, v), stage = RTC_SDP_MS_RID;
    } else if (span_eq(name, "simulcast") && !flag) {
        rc = parse_simulcast(c, v), stage = RTC_SDP_MS_SIMULCAST;
    } else if (span_eq(name, "sctp-port") && !flag) {
        if (m->sctp_port) BAD("a=sctp-port appears twice");
        if (!span_uint(v, 65535, &x) || x == 0) BAD("a=sctp-port is not 1..65535");
        m->sctp_port = (uint16_t)x;
        stage = RTC_SDP_MS_SCTP_PORT;
    } else if (span_eq(name, "max-message-size") && !flag) {
        if (m->max_message_size) BAD("a=max-message-size appears twice");
        if (!span_uint(v, UINT64_MAX, &x) || x == 0) BAD("a=max-message-size is not a positive number");
        m->max_message_size = x;
        stage = RTC_SDP_MS_MAX_MESSAGE_SIZE;
    } else {
        return add_unknown(c, &m->attrs, &m->n_attrs, name, val);
    }
    if (rc == RTC_OK) c->stage = stage;
    return rc;
}

static int parse_attr(ctx_t *c, span_t v) {
    const char *colon = memchr(v.p, ':', v.n);
    span_t name = {v.p, colon ? (size_t)(colon - v.p) : v.n};
    if (!span_is_token(name)) BAD("attribute name is not a token");
    span_t val;
    if (colon) val = (span_t){colon + 1, v.n - name.n - 1};
    return c->m ? parse_media_attr(c, name, colon ? &val : NULL)
                : parse_session_attr(c, name, colon ? &val : NULL);
}

/* ---- driver ------------------------------------------------------------------------------- */

static int parse_line(ctx_t *c) {
    span_t l = c->line;
    if (l.n < 2 || l.p[1] != '=') BAD("line is not <type>=<value>");
    char type = l.p[0];
    span_t v = {l.p + 2, l.n - 2};
    unsigned n = c->lineno;
    if (n == 1) {
        if (type != 'v') BAD("first line is not v=");
        if (!span_eq(v, "0")) BAD("v= is not 0");
        return RTC_OK;
    }
    if (n == 2) {
        if (type != 'o') BAD("second line is not o=");
        return parse_origin(c, v);
    }
    if (n == 3) {
        if (type != 's') BAD("third line is not s=");
        return dup_span(c, &c->sdp->name, v);
    }
    switch (type) {
    case 'v': BAD("v= after the first line");
    case 'o': BAD("o= after the second line");
    case 's': BAD("s= after the third line");
    case 'm':
        if (!c->seen_t) BAD("m= before any t= line");
        return parse_media_line(c, v);
    case 'c': return parse_conn(c, v, c->m ? &c->m->conn : &c->sdp->conn);
    case 'b':
        return c->m ? parse_bw(c, v, &c->m->bw, &c->m->n_bw) : parse_bw(c, v, &c->sdp->bw, &c->sdp->n_bw);
    case 't':
        if (c->m) BAD("t= inside a media section");
        return parse_timing(c, v);
    case 'a': return parse_attr(c, v);
    case 'i': case 'k':
        if (c->m) return add_line(c, type, v, &c->m->lines, &c->m->n_lines);
        return add_line(c, type, v, &c->sdp->lines, &c->sdp->n_lines);
    case 'u': case 'e': case 'p': case 'r': case 'z':
        if (c->m) BAD("session-level line inside a media section");
        if (type == 'r' && !c->seen_t) BAD("r= before t=");
        return add_line(c, type, v, &c->sdp->lines, &c->sdp->n_lines);
    default: BAD("unknown line type");
    }
}

int rtc_sdp_parse(const uint8_t *p, size_t n, rtc_sdp_t *out, rtc_sdp_error_t *err) {
    if (!out || (!p && n)) return RTC_ERR_INVALID_ARG;
    rtc_sdp_init(out);
    if (err) memset(err, 0, sizeof *err);
    ctx_t c = {.sdp = out, .err = err};
    int rc = RTC_OK;
    if (n > RTC_SDP_MAX_SIZE) {
        rc = fail(&c, RTC_ERR_LIMIT, "description larger than RTC_SDP_MAX_SIZE");
        goto done;
    }
    const char *s = (const char *)p;
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n;
        size_t len = end - pos;
        if (len && s[pos + len - 1] == '\r') len--;
        c.lineno++;
        c.line = (span_t){s + pos, len};
        pos = nl ? end + 1 : n;
        if (len == 0) {
            /* A blank line: tolerated only at the very end (a trailing line break). */
            bool rest_blank = true;
            for (size_t k = pos; k < n; k++)
                if (s[k] != '\r' && s[k] != '\n') rest_blank = false;
            if (rest_blank) break;
            rc = fail(&c, RTC_ERR_MALFORMED, "empty line");
            goto done;
        }
        if (len > RTC_SDP_MAX_LINE) {
            rc = fail(&c, RTC_ERR_LIMIT, "line longer than RTC_SDP_MAX_LINE");
            goto done;
        }
        if (++c.n_lines > RTC_SDP_MAX_LINES) {
            rc = fail(&c, RTC_ERR_LIMIT, "more than RTC_SDP_MAX_LINES lines");
            goto done;
        }
        for (size_t k = 0; k < len; k++) {
            unsigned char ch = (unsigned char)c.line.p[k];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                rc = fail(&c, RTC_ERR_MALFORMED, "control byte in line");
                goto done;
            }
        }
        rc = parse_line(&c);
        if (rc) goto done;
    }
    if (c.lineno < 3 || !out->origin_user || !out->name) {
        c.line = (span_t){"", 0};
        c.lineno = 0;
        rc = fail(&c, RTC_ERR_MALFORMED, "description lacks v=, o= or s=");
        goto done;
    }
    if (!c.seen_t) {
        c.line = (span_t){"", 0};
        c.lineno = 0;
        rc = fail(&c, RTC_ERR_MALFORMED, "description has no t= line");
        goto done;
    }
done:
    if (rc) rtc_sdp_free(out);
    return rc;
}
