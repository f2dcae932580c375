/* Client messages: parse, validate, permit, relay. Every check names the field it refused,
 * because the person reading the error is a developer wiring up a client. */
#include "signal/protocol.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/sdp.h"

static const char *const type_names[SIGNAL_MSG_COUNT_] = {
    [SIGNAL_MSG_JOIN] = "join",         [SIGNAL_MSG_OFFER] = "offer",
    [SIGNAL_MSG_ANSWER] = "answer",     [SIGNAL_MSG_CANDIDATE] = "candidate",
    [SIGNAL_MSG_MUTE] = "mute",         [SIGNAL_MSG_SUBSCRIPTION] = "subscription",
    [SIGNAL_MSG_DATA] = "data",         [SIGNAL_MSG_LEAVE] = "leave",
    [SIGNAL_MSG_PING] = "ping",         [SIGNAL_MSG_PONG] = "pong",
};

static const char *const error_names[SIGNAL_E_COUNT_] = {
    [SIGNAL_E_NONE] = "none",
    [SIGNAL_E_BAD_REQUEST] = "bad_request",
    [SIGNAL_E_UNAUTHORIZED] = "unauthorized",
    [SIGNAL_E_FORBIDDEN] = "forbidden",
    [SIGNAL_E_NOT_JOINED] = "not_joined",
    [SIGNAL_E_ALREADY_JOINED] = "already_joined",
    [SIGNAL_E_UNKNOWN_TYPE] = "unknown_type",
    [SIGNAL_E_TOO_LARGE] = "too_large",
    [SIGNAL_E_RATE_LIMITED] = "rate_limited",
    [SIGNAL_E_ROOM_FULL] = "room_full",
    [SIGNAL_E_UNAVAILABLE] = "unavailable",
    [SIGNAL_E_RESUME_FAILED] = "resume_failed",
    [SIGNAL_E_INTERNAL] = "internal",
};

static const char *const sources[] = {"camera", "microphone", "screen", "screen_audio", NULL};

const char *signal_msg_type_name(signal_msg_type_t t) {
    return (unsigned)t < SIGNAL_MSG_COUNT_ ? type_names[t] : "?";
}

const char *signal_error_name(signal_error_t e) {
    return (unsigned)e < SIGNAL_E_COUNT_ ? error_names[e] : "internal";
}

const char *signal_pc_name(signal_pc_t pc) {
    return pc == SIGNAL_PC_PUBLISHER ? "publisher" : pc == SIGNAL_PC_SUBSCRIBER ? "subscriber" : "";
}

void signal_limits_default(signal_limits_t *lim) {
    lim->max_sdp = 65536;
    lim->max_data_payload = 16384;
}

/* ------------------------------------------------------------------------------------------
 * Field validators.
 */
static bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool signal_room_valid(const char *s) {
    if (!s || !s[0]) return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= SIGNAL_ROOM_MAX) return false;
        bool ok = is_alnum(*p) || *p == '_' || *p == '-' || (*p == '.' && n > 0);
        if (!ok) return false;
    }
    return true;
}

bool signal_id_valid(const char *s) {
    if (!s || !s[0]) return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= SIGNAL_ID_MAX) return false;
        if (!is_alnum(*p) && *p != '_' && *p != '-') return false;
    }
    return true;
}

bool signal_text_valid(const char *s, size_t max) {
    if (!s || !s[0]) return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= max) return false;
        if (*p < 0x20 || *p == 0x7f) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Errors.
 */
static int fail(signal_perr_t *err, signal_error_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(signal_perr_t *err, signal_error_t code, const char *fmt, ...) {
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return RTC_ERR_MALFORMED;
}

char *signal_error_json(signal_error_t code, const char *message, const char *rid) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", signal_error_name(code));
    cJSON_AddStringToObject(o, "message", message ? message : "");
    if (rid) cJSON_AddStringToObject(o, "rid", rid);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ------------------------------------------------------------------------------------------
 * Typed field access. Each returns false after filling err.
 */
static bool get_string(const cJSON *o, const char *name, bool required, size_t max,
                       const char **out, signal_perr_t *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required) fail(err, SIGNAL_E_BAD_REQUEST, "missing field '%s'", name);
        return !required;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        fail(err, SIGNAL_E_BAD_REQUEST, "field '%s' must be a string", name);
        return false;
    }
    if (strlen(v->valuestring) > max) {
        fail(err, SIGNAL_E_BAD_REQUEST, "field '%s' is longer than %zu bytes", name, max);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool get_bool(const cJSON *o, const char *name, bool required, bool *present, bool *out,
                     signal_perr_t *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (present) *present = false;
    if (!v) {
        if (required) fail(err, SIGNAL_E_BAD_REQUEST, "missing field '%s'", name);
        return !required;
    }
    if (!cJSON_IsBool(v)) {
        fail(err, SIGNAL_E_BAD_REQUEST, "field '%s' must be true or false", name);
        return false;
    }
    *out = cJSON_IsTrue(v);
    if (present) *present = true;
    return true;
}

/* An integer in [lo, hi]; absent or null leaves *present false. */
static bool get_int(const cJSON *o, const char *name, double lo, double hi, bool *present,
                    int64_t *out, signal_perr_t *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *present = false;
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi) {
        fail(err, SIGNAL_E_BAD_REQUEST, "field '%s' must be an integer in %.0f..%.0f", name, lo,
             hi);
        return false;
    }
    *out = (int64_t)v->valuedouble;
    *present = true;
    return true;
}

static bool get_pc(const cJSON *o, signal_pc_t *pc, signal_perr_t *err) {
    const char *s;
    if (!get_string(o, "pc", true, 16, &s, err)) return false;
    if (strcmp(s, "publisher") == 0) *pc = SIGNAL_PC_PUBLISHER;
    else if (strcmp(s, "subscriber") == 0) *pc = SIGNAL_PC_SUBSCRIBER;
    else {
        fail(err, SIGNAL_E_BAD_REQUEST, "field 'pc' must be \"publisher\" or \"subscriber\"");
        return false;
    }
    return true;
}

static bool check_sdp(const char *sdp, size_t max, signal_perr_t *err) {
    size_t n = strlen(sdp);
    if (n > max) {
        fail(err, SIGNAL_E_BAD_REQUEST, "SDP is longer than %zu bytes", max);
        return false;
    }
    rtc_sdp_t parsed;
    rtc_sdp_error_t e;
    memset(&e, 0, sizeof e);
    int rc = rtc_sdp_parse((const uint8_t *)sdp, n, &parsed, &e);
    size_t n_media = parsed.n_media;
    rtc_sdp_free(&parsed);
    if (rc != RTC_OK) {
        if (e.line)
            fail(err, SIGNAL_E_BAD_REQUEST, "SDP rejected at line %u (%.60s): %.100s", e.line,
                 e.text, e.reason[0] ? e.reason : rtc_strerror(rc));
        else
            fail(err, SIGNAL_E_BAD_REQUEST, "SDP rejected: %.120s",
                 e.reason[0] ? e.reason : rtc_strerror(rc));
        return false;
    }
    if (n_media == 0) {
        fail(err, SIGNAL_E_BAD_REQUEST, "SDP has no m= section");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Per-type validation.
 */
static bool parse_join(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    if (!get_string(o, "room", true, 1024, &m->room, err)) return false;
    if (!signal_room_valid(m->room))
        return fail(err, SIGNAL_E_BAD_REQUEST,
                    "field 'room' must be 1..%d characters of A-Z a-z 0-9 _ - . (not starting "
                    "with '.')",
                    SIGNAL_ROOM_MAX),
               false;
    if (!get_string(o, "token", true, 8192, &m->token, err)) return false;
    if (!m->token[0]) return fail(err, SIGNAL_E_BAD_REQUEST, "field 'token' is empty"), false;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "resume");
    if (r && !cJSON_IsNull(r)) {
        if (!cJSON_IsObject(r))
            return fail(err, SIGNAL_E_BAD_REQUEST, "field 'resume' must be an object"), false;
        if (!get_string(r, "participant_id", true, SIGNAL_ID_MAX, &m->resume_pid, err) ||
            !get_string(r, "session_token", true, SIGNAL_SESSION_TOKEN_MAX, &m->resume_token,
                        err))
            return false;
        if (!signal_id_valid(m->resume_pid))
            return fail(err, SIGNAL_E_BAD_REQUEST, "field 'resume.participant_id' is not a "
                                                   "participant id"),
                   false;
        if (!m->resume_token[0])
            return fail(err, SIGNAL_E_BAD_REQUEST, "field 'resume.session_token' is empty"),
                   false;
    }
    return true;
}

static bool parse_tracks(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tracks");
    if (!t || cJSON_IsNull(t)) return true;
    if (!cJSON_IsArray(t)) return fail(err, SIGNAL_E_BAD_REQUEST, "field 'tracks' must be an array"), false;
    int n = cJSON_GetArraySize(t);
    if (n > SIGNAL_MAX_TRACKS)
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'tracks' has more than %d entries",
                    SIGNAL_MAX_TRACKS),
               false;
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, t) {
        if (!cJSON_IsObject(it))
            return fail(err, SIGNAL_E_BAD_REQUEST, "tracks[%d] must be an object", i), false;
        const char *mid, *source, *name;
        if (!get_string(it, "mid", true, SIGNAL_MID_MAX, &mid, err) ||
            !get_string(it, "source", true, 32, &source, err) ||
            !get_string(it, "name", false, SIGNAL_TEXT_MAX, &name, err)) {
            char tmp[sizeof err->message];
            memcpy(tmp, err->message, sizeof tmp);
            snprintf(err->message, sizeof err->message, "tracks[%d]: %.160s", i, tmp);
            return false;
        }
        if (!signal_text_valid(mid, SIGNAL_MID_MAX))
            return fail(err, SIGNAL_E_BAD_REQUEST, "tracks[%d].mid is empty or has control "
                                                   "characters", i),
                   false;
        bool known = false;
        for (const char *const *s = sources; *s; s++) known |= strcmp(*s, source) == 0;
        if (!known)
            return fail(err, SIGNAL_E_BAD_REQUEST, "tracks[%d].source must be camera, "
                                                   "microphone, screen or screen_audio", i),
                   false;
        if (name && name[0] && !signal_text_valid(name, SIGNAL_TEXT_MAX))
            return fail(err, SIGNAL_E_BAD_REQUEST, "tracks[%d].name has control characters", i),
                   false;
        i++;
    }
    m->n_tracks = (size_t)n;
    return true;
}

static bool parse_sdp_msg(const cJSON *o, signal_msg_t *m, const signal_limits_t *lim,
                          signal_perr_t *err) {
    if (!get_pc(o, &m->pc, err)) return false;
    if (m->type == SIGNAL_MSG_OFFER && m->pc != SIGNAL_PC_PUBLISHER)
        return fail(err, SIGNAL_E_BAD_REQUEST, "clients offer only on the publisher pc"), false;
    if (m->type == SIGNAL_MSG_ANSWER && m->pc != SIGNAL_PC_SUBSCRIBER)
        return fail(err, SIGNAL_E_BAD_REQUEST, "clients answer only on the subscriber pc"), false;
    if (!get_string(o, "sdp", true, lim->max_sdp, &m->sdp, err)) return false;
    if (!check_sdp(m->sdp, lim->max_sdp, err)) return false;
    if (m->type == SIGNAL_MSG_OFFER) return parse_tracks(o, m, err);
    /* The SFU numbers its subscriber offers; an answer echoes the number, so that an answer to
     * an offer the SFU withdrew is recognised as stale. */
    bool present = false;
    m->offer_id = -1;
    if (!get_int(o, "offer_id", 0, 2147483647.0, &present, &m->offer_id, err)) return false;
    if (!present) m->offer_id = -1;
    return true;
}

static bool parse_candidate(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    if (!get_pc(o, &m->pc, err)) return false;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "candidate");
    if (!c) return fail(err, SIGNAL_E_BAD_REQUEST, "missing field 'candidate'"), false;
    if (cJSON_IsNull(c)) {
        m->end_of_candidates = true;
        return true;
    }
    if (!cJSON_IsObject(c))
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'candidate' must be an object or null"),
               false;
    const char *cand, *mid;
    if (!get_string(c, "candidate", true, SIGNAL_CANDIDATE_MAX, &cand, err) ||
        !get_string(c, "sdp_mid", false, SIGNAL_MID_MAX, &mid, err))
        return false;
    bool has_index;
    int64_t index;
    if (!get_int(c, "sdp_mline_index", 0, 1023, &has_index, &index, err)) return false;
    if (!cand[0]) {
        m->end_of_candidates = true; /* browsers signal end-of-candidates with "" */
        return true;
    }
    if (!mid && !has_index)
        return fail(err, SIGNAL_E_BAD_REQUEST,
                    "candidate needs 'sdp_mid' or 'sdp_mline_index'"),
               false;
    rtc_sdp_candidate_t parsed;
    const char *why = NULL;
    if (rtc_sdp_candidate_parse(cand, strlen(cand), &parsed, &why) != RTC_OK)
        return fail(err, SIGNAL_E_BAD_REQUEST, "candidate rejected: %s",
                    why ? why : "malformed"),
               false;
    return true;
}

static bool parse_track_id(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    if (!get_string(o, "track_id", true, SIGNAL_TEXT_MAX, &m->track_id, err)) return false;
    if (!signal_text_valid(m->track_id, SIGNAL_TEXT_MAX))
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'track_id' is empty or has control "
                                               "characters"),
               false;
    return true;
}

static bool parse_subscription(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    if (!parse_track_id(o, m, err)) return false;
    bool has;
    int64_t v;
    bool paused;
    if (!get_int(o, "max_width", 0, 65535, &has, &v, err) ||
        !get_int(o, "max_height", 0, 65535, &has, &v, err) ||
        !get_bool(o, "paused", false, NULL, &paused, err))
        return false;
    return true;
}

static bool parse_data(const cJSON *o, signal_msg_t *m, const signal_limits_t *lim,
                       signal_perr_t *err) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "payload");
    if (!p) return fail(err, SIGNAL_E_BAD_REQUEST, "missing field 'payload'"), false;
    if (!cJSON_IsString(p) || !p->valuestring)
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'payload' must be a string"), false;
    if (strlen(p->valuestring) > lim->max_data_payload)
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'payload' is longer than %zu bytes",
                    lim->max_data_payload),
               false;
    m->payload = p->valuestring;
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "to");
    if (!to || cJSON_IsNull(to)) return true;
    if (!cJSON_IsArray(to)) return fail(err, SIGNAL_E_BAD_REQUEST, "field 'to' must be an array"), false;
    int n = cJSON_GetArraySize(to);
    if (n > SIGNAL_MAX_TO)
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'to' has more than %d entries",
                    SIGNAL_MAX_TO),
               false;
    const cJSON *it;
    cJSON_ArrayForEach(it, to) {
        if (!cJSON_IsString(it) || !signal_id_valid(it->valuestring))
            return fail(err, SIGNAL_E_BAD_REQUEST, "field 'to' must list participant ids"),
                   false;
    }
    m->n_to = (size_t)n;
    return true;
}

static bool parse_ping(const cJSON *o, signal_msg_t *m, signal_perr_t *err) {
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    if (!ts || cJSON_IsNull(ts)) return true;
    if (!cJSON_IsNumber(ts) || !isfinite(ts->valuedouble))
        return fail(err, SIGNAL_E_BAD_REQUEST, "field 'ts' must be a number"), false;
    m->has_ts = true;
    m->ts = ts->valuedouble;
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Entry points.
 */
int signal_msg_parse(const uint8_t *p, size_t n, const signal_limits_t *lim, signal_msg_t *out,
                     signal_perr_t *err) {
    signal_limits_t def;
    if (!lim) {
        signal_limits_default(&def);
        lim = &def;
    }
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (!p || n == 0) return fail(err, SIGNAL_E_BAD_REQUEST, "empty message");

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p, n, &end, 0);
    if (!root) return fail(err, SIGNAL_E_BAD_REQUEST, "not valid JSON");
    /* cJSON stops after the first value: anything but whitespace after it is an error. */
    for (const char *q = end; q && q < (const char *)p + n; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') {
            cJSON_Delete(root);
            return fail(err, SIGNAL_E_BAD_REQUEST, "not valid JSON (data after the object)");
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, SIGNAL_E_BAD_REQUEST, "a message must be a JSON object");
    }
    out->root = root;

    /* rid first, so that every later error can echo it. */
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "rid");
    if (rid && !cJSON_IsNull(rid)) {
        if (!cJSON_IsString(rid) || !rid->valuestring || strlen(rid->valuestring) > SIGNAL_RID_MAX) {
            fail(err, SIGNAL_E_BAD_REQUEST, "field 'rid' must be a string of at most %d bytes",
                 SIGNAL_RID_MAX);
            goto bad;
        }
        out->rid = rid->valuestring;
        snprintf(err->rid, sizeof err->rid, "%s", out->rid);
        err->has_rid = true;
    }

    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!type) {
        fail(err, SIGNAL_E_BAD_REQUEST, "missing field 'type'");
        goto bad;
    }
    if (!cJSON_IsString(type) || !type->valuestring) {
        fail(err, SIGNAL_E_BAD_REQUEST, "field 'type' must be a string");
        goto bad;
    }
    int t = -1;
    for (int i = 0; i < SIGNAL_MSG_COUNT_; i++)
        if (strcmp(type->valuestring, type_names[i]) == 0) t = i;
    if (t < 0) {
        /* Echo a printable prefix of the unknown type; never raw bytes. */
        char shown[33];
        size_t k = 0;
        for (const unsigned char *c = (const unsigned char *)type->valuestring;
             *c && k < sizeof shown - 1; c++)
            shown[k++] = (*c >= 0x20 && *c < 0x7f) ? (char)*c : '?';
        shown[k] = 0;
        fail(err, SIGNAL_E_UNKNOWN_TYPE, "unknown message type '%s'", shown);
        goto bad;
    }
    out->type = (signal_msg_type_t)t;

    bool ok = true;
    switch (out->type) {
    case SIGNAL_MSG_JOIN: ok = parse_join(root, out, err); break;
    case SIGNAL_MSG_OFFER:
    case SIGNAL_MSG_ANSWER: ok = parse_sdp_msg(root, out, lim, err); break;
    case SIGNAL_MSG_CANDIDATE: ok = parse_candidate(root, out, err); break;
    case SIGNAL_MSG_MUTE:
        ok = parse_track_id(root, out, err) && get_bool(root, "muted", true, NULL, &out->muted, err);
        break;
    case SIGNAL_MSG_SUBSCRIPTION: ok = parse_subscription(root, out, err); break;
    case SIGNAL_MSG_DATA: ok = parse_data(root, out, lim, err); break;
    case SIGNAL_MSG_PING:
    case SIGNAL_MSG_PONG: ok = parse_ping(root, out, err); break;
    case SIGNAL_MSG_LEAVE:
    case SIGNAL_MSG_COUNT_: break;
    }
    if (ok) return RTC_OK;
bad:
    cJSON_Delete(root);
    memset(out, 0, sizeof *out);
    return RTC_ERR_MALFORMED;
}

void signal_msg_free(signal_msg_t *m) {
    if (!m) return;
    cJSON_Delete(m->root);
    memset(m, 0, sizeof *m);
}

static int deny(const signal_msg_t *m, signal_perr_t *err, signal_error_t code, const char *msg) {
    memset(err, 0, sizeof *err);
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", msg);
    if (m->rid) {
        snprintf(err->rid, sizeof err->rid, "%s", m->rid);
        err->has_rid = true;
    }
    return RTC_ERR_DENIED;
}

int signal_msg_permitted(const signal_msg_t *m, bool joined, unsigned grants,
                         signal_perr_t *err) {
    switch (m->type) {
    case SIGNAL_MSG_PING:
    case SIGNAL_MSG_PONG: return RTC_OK;
    case SIGNAL_MSG_JOIN:
        return joined ? deny(m, err, SIGNAL_E_ALREADY_JOINED, "this connection has already joined")
                      : RTC_OK;
    default: break;
    }
    if (!joined) return deny(m, err, SIGNAL_E_NOT_JOINED, "send 'join' first");
    switch (m->type) {
    case SIGNAL_MSG_OFFER:
        if (m->n_tracks > 0 && !(grants & SIGNAL_GRANT_PUBLISH))
            return deny(m, err, SIGNAL_E_FORBIDDEN, "the token has no publish grant");
        if (!(grants & (SIGNAL_GRANT_PUBLISH | SIGNAL_GRANT_DATA)))
            return deny(m, err, SIGNAL_E_FORBIDDEN, "the token has neither publish nor data grant");
        return RTC_OK;
    case SIGNAL_MSG_CANDIDATE:
        if (m->pc == SIGNAL_PC_PUBLISHER && !(grants & (SIGNAL_GRANT_PUBLISH | SIGNAL_GRANT_DATA)))
            return deny(m, err, SIGNAL_E_FORBIDDEN, "the token has neither publish nor data grant");
        if (m->pc == SIGNAL_PC_SUBSCRIBER && !(grants & SIGNAL_GRANT_SUBSCRIBE))
            return deny(m, err, SIGNAL_E_FORBIDDEN, "the token has no subscribe grant");
        return RTC_OK;
    case SIGNAL_MSG_MUTE:
        return grants & SIGNAL_GRANT_PUBLISH
                   ? RTC_OK
                   : deny(m, err, SIGNAL_E_FORBIDDEN, "the token has no publish grant");
    case SIGNAL_MSG_ANSWER:
    case SIGNAL_MSG_SUBSCRIPTION:
        return grants & SIGNAL_GRANT_SUBSCRIBE
                   ? RTC_OK
                   : deny(m, err, SIGNAL_E_FORBIDDEN, "the token has no subscribe grant");
    case SIGNAL_MSG_DATA:
        return grants & SIGNAL_GRANT_DATA
                   ? RTC_OK
                   : deny(m, err, SIGNAL_E_FORBIDDEN, "the token has no data grant");
    default: return RTC_OK;
    }
}

/* Copies o[name] into dst when present (validated earlier). */
static void copy_field(cJSON *dst, const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(dst, name, cJSON_Duplicate(v, 1));
}

cJSON *signal_msg_relay_payload(const signal_msg_t *m) {
    const cJSON *o = m->root;
    switch (m->type) {
    case SIGNAL_MSG_OFFER:
    case SIGNAL_MSG_ANSWER:
    case SIGNAL_MSG_CANDIDATE:
    case SIGNAL_MSG_MUTE:
    case SIGNAL_MSG_SUBSCRIPTION:
    case SIGNAL_MSG_DATA: break;
    default: return NULL;
    }
    cJSON *p = cJSON_CreateObject();
    if (!p) return NULL;
    cJSON_AddStringToObject(p, "type", signal_msg_type_name(m->type));
    switch (m->type) {
    case SIGNAL_MSG_OFFER:
    case SIGNAL_MSG_ANSWER: {
        cJSON_AddStringToObject(p, "pc", signal_pc_name(m->pc));
        cJSON_AddStringToObject(p, "sdp", m->sdp);
        if (m->type == SIGNAL_MSG_ANSWER && m->offer_id >= 0) cJSON_AddNumberToObject(p, "offer_id", (double)m->offer_id);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tracks");
        if (m->type == SIGNAL_MSG_OFFER && cJSON_IsArray(t)) {
            cJSON *arr = cJSON_AddArrayToObject(p, "tracks");
            const cJSON *it;
            cJSON_ArrayForEach(it, t) {
                cJSON *e = cJSON_CreateObject();
                copy_field(e, it, "mid");
                copy_field(e, it, "source");
                copy_field(e, it, "name");
                cJSON_AddItemToArray(arr, e);
            }
        }
        break;
    }
    case SIGNAL_MSG_CANDIDATE: {
        cJSON_AddStringToObject(p, "pc", signal_pc_name(m->pc));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "candidate");
        if (m->end_of_candidates) {
            cJSON_AddNullToObject(p, "candidate");
        } else {
            cJSON *e = cJSON_AddObjectToObject(p, "candidate");
            copy_field(e, c, "candidate");
            copy_field(e, c, "sdp_mid");
            copy_field(e, c, "sdp_mline_index");
        }
        break;
    }
    case SIGNAL_MSG_MUTE:
        cJSON_AddStringToObject(p, "track_id", m->track_id);
        cJSON_AddBoolToObject(p, "muted", m->muted);
        break;
    case SIGNAL_MSG_SUBSCRIPTION:
        cJSON_AddStringToObject(p, "track_id", m->track_id);
        copy_field(p, o, "max_width");
        copy_field(p, o, "max_height");
        copy_field(p, o, "paused");
        break;
    case SIGNAL_MSG_DATA:
        cJSON_AddStringToObject(p, "payload", m->payload);
        copy_field(p, o, "to");
        break;
    default: break;
    }
    return p;
}
