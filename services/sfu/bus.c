/* Bus command parsing and envelope building (docs/redis.md, docs/signalling.md). */
#include "sfu/bus.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
    const char *name;
    sfu_bus_type_t type;
} types[] = {
    {"join", SFU_BUS_JOIN},         {"resume", SFU_BUS_RESUME},
    {"offer", SFU_BUS_OFFER},       {"answer", SFU_BUS_ANSWER},
    {"candidate", SFU_BUS_CANDIDATE}, {"mute", SFU_BUS_MUTE},
    {"subscription", SFU_BUS_SUBSCRIPTION}, {"data", SFU_BUS_DATA},
    {"leave", SFU_BUS_LEAVE},       {"remove", SFU_BUS_REMOVE},
    {"close_room", SFU_BUS_CLOSE_ROOM},
};

const char *sfu_bus_type_name(sfu_bus_type_t t) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == t) return types[i].name;
    return "unknown";
}

bool sfu_bus_valid_id(const char *s) {
    if (!s) return false;
    size_t n = strlen(s);
    if (n == 0 || n > SFU_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == ':' || c == '{' || c == '}';
        if (!ok) return false;
    }
    return true;
}

/* UTF-8 validity without overlongs or surrogates, and no C0/DEL controls. */
static bool valid_text(const char *s, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (n > max) return false;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x20 || c == 0x7f) return false;
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return false;
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool sfu_bus_valid_room(const char *s) { return s && *s && valid_text(s, SFU_ROOM_NAME_MAX); }

static int fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t cap, const char *fmt, ...) {
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return RTC_ERR_MALFORMED;
}

/* A string member: NULL when absent; *bad when present but not a string. */
static const char *str_member(const cJSON *o, const char *name, bool *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (!cJSON_IsString(v)) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

static int bool_member(const cJSON *o, const char *name, bool def, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

/* Optional integer in [0, max]; -1 when absent. */
static int int_member(const cJSON *o, const char *name, int max, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) { *out = -1; return 0; }
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d < 0 || d > max || d != (double)(int)d) return -1;
    *out = (int)d;
    return 0;
}

static int parse_payload(sfu_bus_msg_t *m, char *why, size_t cap) {
    const cJSON *pl = m->payload;
    bool bad = false;
    switch (m->type) {
    case SFU_BUS_JOIN: {
        if (!pl) return fail(why, cap, "join without payload");
        m->u.join.identity = str_member(pl, "identity", &bad);
        m->u.join.name = str_member(pl, "name", &bad);
        if (bad || !m->u.join.identity || !*m->u.join.identity ||
            !valid_text(m->u.join.identity, SFU_NAME_MAX))
            return fail(why, cap, "join: identity must be a string of 1..%d bytes", SFU_NAME_MAX);
        if (m->u.join.name && !valid_text(m->u.join.name, SFU_NAME_MAX))
            return fail(why, cap, "join: name must be text of at most %d bytes", SFU_NAME_MAX);
        if (!m->u.join.name) m->u.join.name = m->u.join.identity;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(pl, "grants");
        sfu_grants_t *gr = &m->u.join.grants;
        if (!g || cJSON_IsNull(g)) {
            *gr = (sfu_grants_t){true, true, true, false};
        } else {
            if (!cJSON_IsObject(g)) return fail(why, cap, "join: grants must be an object");
            if (bool_member(g, "publish", false, &gr->publish) < 0 ||
                bool_member(g, "subscribe", false, &gr->subscribe) < 0 ||
                bool_member(g, "data", false, &gr->data) < 0 ||
                bool_member(g, "admin", false, &gr->admin) < 0)
                return fail(why, cap, "join: grants must be booleans");
        }
        const char *sig = str_member(pl, "signal", &bad);
        if (bad) return fail(why, cap, "join: signal must be a string");
        if (!*m->signal && sig) m->signal = sig;
        if (!sfu_bus_valid_id(m->signal)) return fail(why, cap, "join: no valid signal id");
        if (*m->participant && !sfu_bus_valid_id(m->participant))
            return fail(why, cap, "join: bad participant id");
        return RTC_OK;
    }
    case SFU_BUS_RESUME:
        if (!sfu_bus_valid_id(m->signal)) return fail(why, cap, "resume: no valid signal id");
        return RTC_OK;
    case SFU_BUS_OFFER:
    case SFU_BUS_ANSWER: {
        if (!pl) return fail(why, cap, "%s without payload", m->type_name);
        const char *want = m->type == SFU_BUS_OFFER ? "publisher" : "subscriber";
        m->u.sdp.pc = str_member(pl, "pc", &bad);
        m->u.sdp.sdp = str_member(pl, "sdp", &bad);
        if (bad || !m->u.sdp.pc || strcmp(m->u.sdp.pc, want) != 0)
            return fail(why, cap, "%s: pc must be \"%s\"", m->type_name, want);
        if (!m->u.sdp.sdp || !*m->u.sdp.sdp) return fail(why, cap, "%s: sdp missing", m->type_name);
        if (strlen(m->u.sdp.sdp) > SFU_SDP_MAX) return fail(why, cap, "%s: sdp too large", m->type_name);
        int offer_id = -1;
        if (int_member(pl, "offer_id", INT_MAX, &offer_id) < 0 || (offer_id >= 0 && m->type != SFU_BUS_ANSWER))
            return fail(why, cap, "%s: offer_id must be a non-negative integer (answers only)", m->type_name);
        m->u.sdp.offer_id = offer_id;
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(pl, "tracks");
        if (tr && !cJSON_IsNull(tr)) {
            if (m->type != SFU_BUS_OFFER || !cJSON_IsArray(tr))
                return fail(why, cap, "offer: tracks must be an array");
            const cJSON *e;
            cJSON_ArrayForEach(e, tr) {
                bool b = false;
                if (!cJSON_IsObject(e)) return fail(why, cap, "offer: tracks[] must be objects");
                const char *mid = str_member(e, "mid", &b), *src = str_member(e, "source", &b);
                const char *nm = str_member(e, "name", &b);
                if (b || !mid || !valid_text(mid, 32) || (src && !valid_text(src, 32)) ||
                    (nm && !valid_text(nm, SFU_NAME_MAX)))
                    return fail(why, cap, "offer: tracks[] needs a string mid, source, name");
            }
            m->u.sdp.tracks = tr;
        }
        return RTC_OK;
    }
    case SFU_BUS_CANDIDATE: {
        if (!pl) return fail(why, cap, "candidate without payload");
        m->u.cand.pc = str_member(pl, "pc", &bad);
        if (bad || !m->u.cand.pc ||
            (strcmp(m->u.cand.pc, "publisher") && strcmp(m->u.cand.pc, "subscriber")))
            return fail(why, cap, "candidate: pc must be \"publisher\" or \"subscriber\"");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(pl, "candidate");
        m->u.cand.mline_index = -1;
        if (!c || cJSON_IsNull(c)) return RTC_OK; /* end of candidates */
        if (!cJSON_IsObject(c)) return fail(why, cap, "candidate: must be an object or null");
        m->u.cand.candidate = str_member(c, "candidate", &bad);
        m->u.cand.mid = str_member(c, "sdp_mid", &bad);
        if (bad || !m->u.cand.candidate || strlen(m->u.cand.candidate) > 1024 ||
            (m->u.cand.mid && strlen(m->u.cand.mid) > 32))
            return fail(why, cap, "candidate: candidate must be a string");
        if (int_member(c, "sdp_mline_index", 1024, &m->u.cand.mline_index) < 0)
            return fail(why, cap, "candidate: sdp_mline_index must be a small integer");
        return RTC_OK;
    }
    case SFU_BUS_MUTE: {
        if (!pl) return fail(why, cap, "mute without payload");
        m->u.mute.track_id = str_member(pl, "track_id", &bad);
        if (bad || !sfu_bus_valid_id(m->u.mute.track_id)) return fail(why, cap, "mute: bad track_id");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pl, "muted");
        if (!cJSON_IsBool(v)) return fail(why, cap, "mute: muted must be a boolean");
        m->u.mute.muted = cJSON_IsTrue(v);
        return RTC_OK;
    }
    case SFU_BUS_SUBSCRIPTION: {
        if (!pl) return fail(why, cap, "subscription without payload");
        m->u.sub.track_id = str_member(pl, "track_id", &bad);
        if (bad || !sfu_bus_valid_id(m->u.sub.track_id))
            return fail(why, cap, "subscription: bad track_id");
        if (int_member(pl, "max_width", 16384, &m->u.sub.max_width) < 0 ||
            int_member(pl, "max_height", 16384, &m->u.sub.max_height) < 0)
            return fail(why, cap, "subscription: max_width/max_height must be integers 0..16384");
        if (bool_member(pl, "paused", false, &m->u.sub.paused) < 0)
            return fail(why, cap, "subscription: paused must be a boolean");
        return RTC_OK;
    }
    case SFU_BUS_DATA: {
        if (!pl) return fail(why, cap, "data without payload");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pl, "payload");
        if (!cJSON_IsString(v)) return fail(why, cap, "data: payload must be a string");
        m->u.data.payload = v->valuestring;
        m->u.data.len = strlen(v->valuestring);
        if (m->u.data.len > SFU_DATA_MAX) return fail(why, cap, "data: payload over %d bytes", SFU_DATA_MAX);
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(pl, "to");
        if (to && !cJSON_IsNull(to)) {
            if (!cJSON_IsArray(to)) return fail(why, cap, "data: to must be an array of ids");
            const cJSON *e;
            cJSON_ArrayForEach(e, to) {
                if (!cJSON_IsString(e) || !sfu_bus_valid_id(e->valuestring))
                    return fail(why, cap, "data: to must be an array of ids");
                if (m->u.data.n_to == SFU_DATA_MAX_TO)
                    return fail(why, cap, "data: at most %d recipients", SFU_DATA_MAX_TO);
                m->u.data.to[m->u.data.n_to++] = e->valuestring;
            }
            if (m->u.data.n_to == 0) return fail(why, cap, "data: to is empty");
        }
        return RTC_OK;
    }
    case SFU_BUS_LEAVE:
    case SFU_BUS_REMOVE:
        m->u.leave.reason = pl ? str_member(pl, "reason", &bad) : NULL;
        if (bad || (m->u.leave.reason && !sfu_bus_valid_id(m->u.leave.reason)))
            return fail(why, cap, "%s: reason must be a short word", m->type_name);
        return RTC_OK;
    default:
        return RTC_OK;
    }
}

int sfu_bus_parse(const char *p, size_t n, sfu_bus_msg_t *m, char *why, size_t cap) {
    memset(m, 0, sizeof *m);
    m->type_name = "";
    m->room = "";
    m->participant = "";
    m->signal = "";
    if (why && cap) why[0] = 0;
    if (n > SFU_BUS_MAX_MESSAGE) {
        fail(why, cap, "message over %d bytes", SFU_BUS_MAX_MESSAGE);
        return RTC_ERR_LIMIT;
    }
    m->root = cJSON_ParseWithLength(p, n);
    if (!m->root) return fail(why, cap, "not JSON");
    if (!cJSON_IsObject(m->root)) return fail(why, cap, "not a JSON object");
    bool bad = false;
    const char *type = str_member(m->root, "type", &bad);
    const char *room = str_member(m->root, "room", &bad);
    const char *pid = str_member(m->root, "participant", &bad);
    const char *sig = str_member(m->root, "signal", &bad);
    if (bad) return fail(why, cap, "envelope fields must be strings");
    if (!type) return fail(why, cap, "no type");
    m->type_name = type;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].name, type)) m->type = types[i].type;
    /* Keep what is valid so an error can still be routed back. */
    if (sig && sfu_bus_valid_id(sig)) m->signal = sig;
    if (pid && sfu_bus_valid_id(pid)) m->participant = pid;
    if (room && sfu_bus_valid_room(room)) m->room = room;
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(m->root, "payload");
    if (pl && !cJSON_IsNull(pl)) {
        if (!cJSON_IsObject(pl)) return fail(why, cap, "payload must be an object");
        m->payload = pl;
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(pl, "rid");
        if (cJSON_IsString(rid) && strlen(rid->valuestring) <= 64) m->rid = rid->valuestring;
    }
    if (m->type == SFU_BUS_UNKNOWN) return RTC_OK;
    if (!room || !*m->room) return fail(why, cap, "bad or missing room");
    if (sig && *sig && !*m->signal) return fail(why, cap, "bad signal id");
    if (pid && *pid && !*m->participant) return fail(why, cap, "bad participant id");
    if (m->type != SFU_BUS_JOIN && m->type != SFU_BUS_CLOSE_ROOM && !*m->participant)
        return fail(why, cap, "%s: participant missing", type);
    return parse_payload(m, why, cap);
}

void sfu_bus_msg_free(sfu_bus_msg_t *m) {
    cJSON_Delete(m->root);
    m->root = NULL;
    m->payload = NULL;
}

/* ------------------------------------------------------------------------------------------
 * Events.
 */
static bool copy_id(char *dst, size_t cap, const cJSON *o, const char *name, bool room) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v)) return false;
    if (room ? !sfu_bus_valid_room(v->valuestring) : !sfu_bus_valid_id(v->valuestring)) return false;
    snprintf(dst, cap, "%s", v->valuestring);
    return true;
}

int sfu_event_parse(const char *p, size_t n, sfu_event_t *ev) {
    memset(ev, 0, sizeof *ev);
    if (n > 64 * 1024) return RTC_ERR_LIMIT;
    cJSON *o = cJSON_ParseWithLength(p, n);
    if (!o) return RTC_ERR_MALFORMED;
    int rc = RTC_OK;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsObject(o) || !cJSON_IsString(t)) {
        rc = RTC_ERR_MALFORMED;
    } else if (!strcmp(t->valuestring, "node_down") || !strcmp(t->valuestring, "node_draining")) {
        ev->type = !strcmp(t->valuestring, "node_down") ? SFU_EVENT_NODE_DOWN
                                                        : SFU_EVENT_NODE_DRAINING;
        if (!copy_id(ev->node, sizeof ev->node, o, "node", false)) rc = RTC_ERR_MALFORMED;
    } else if (!strcmp(t->valuestring, "room_moved")) {
        ev->type = SFU_EVENT_ROOM_MOVED;
        /* `from` may be absent (docs/redis.md). */
        if (!copy_id(ev->room, sizeof ev->room, o, "room", true) ||
            !copy_id(ev->to, sizeof ev->to, o, "to", false) ||
            (cJSON_GetObjectItemCaseSensitive(o, "from") &&
             !copy_id(ev->from, sizeof ev->from, o, "from", false)))
            rc = RTC_ERR_MALFORMED;
    } else if (!strcmp(t->valuestring, "room_closed")) {
        ev->type = SFU_EVENT_ROOM_CLOSED;
        if (!copy_id(ev->room, sizeof ev->room, o, "room", true)) rc = RTC_ERR_MALFORMED;
    }
    cJSON_Delete(o);
    if (rc < 0) ev->type = SFU_EVENT_UNKNOWN;
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Building.
 */
char *sfu_bus_envelope(const char *type, const char *room, const char *participant,
                       const char *signal, cJSON *payload) {
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(payload);
        return NULL;
    }
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "room", room ? room : "");
    cJSON_AddStringToObject(o, "participant", participant ? participant : "");
    cJSON_AddStringToObject(o, "signal", signal ? signal : "");
    if (payload) cJSON_AddItemToObject(o, "payload", payload);
    else cJSON_AddItemToObject(o, "payload", cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *sfu_event_build(const char *type, cJSON *extra) {
    /* "type" first, like every other message on the bus. */
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(extra);
        return NULL;
    }
    cJSON_AddStringToObject(o, "type", type);
    while (extra && extra->child) {
        cJSON *c = cJSON_DetachItemViaPointer(extra, extra->child);
        cJSON_AddItemToObject(o, c->string, c);
    }
    cJSON_Delete(extra);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
