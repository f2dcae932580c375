/* Janus's videoroom plugin through Janus's WebSocket API (subprotocol "janus-protocol"), so
 * the same simulated participants can be pointed at Janus for comparison.
 *
 *   prepare:    an admin session creates the rooms (videoroom "create": VP8/Opus, as many
 *               publishers as each room has), then destroys itself.
 *   publisher:  create session -> attach janus.plugin.videoroom -> "join" as publisher ("joined"
 *               gives the feed id) -> "publish" with our offer -> Janus's answer.
 *   subscriber: create session -> attach -> (publishers are in) "join" as subscriber with
 *               streams = every publisher feed of the room -> "attached" with Janus's offer ->
 *               "start" with our answer.
 *   keepalive every 20 s per session (Janus drops sessions idle for 60 s); "destroy" at the end.
 * Our descriptions carry all candidates ("trickle": false); Janus's trickled candidates are
 * applied. Ids are written as raw JSON integers (they can exceed what a double prints with
 * 15 digits) and read back as doubles: Janus keeps them within 2^53 for JavaScript.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu_load.h"

#define KEEPALIVE_US RTC_SEC(20)

static void add_id(cJSON *o, const char *name, uint64_t v) {
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, name, s);
}

static uint64_t get_id(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static const char *get_str(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* {"janus": kind, "transaction": tx, "session_id": s[, "handle_id": h]} */
static cJSON *jreq(const char *kind, const char *tx, uint64_t session, uint64_t handle) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "janus", kind);
    cJSON_AddStringToObject(o, "transaction", tx);
    if (session) add_id(o, "session_id", session);
    if (handle) add_id(o, "handle_id", handle);
    return o;
}

static void add_jsep(cJSON *o, const char *type, const char *sdp) {
    cJSON *j = cJSON_AddObjectToObject(o, "jsep");
    cJSON_AddStringToObject(j, "type", type);
    cJSON_AddStringToObject(j, "sdp", sdp);
    cJSON_AddBoolToObject(j, "trickle", false);
}

static void send_or_fail(lt_part_t *p, cJSON *o, const char *what) {
    if (lt_part_send_json(p, o) != RTC_OK) lt_part_fail(p, "cannot send %s", what);
}

/* ---- admin session: creates the rooms -------------------------------------------------------- */

typedef struct {
    lt_app_t *a;
    lt_ws_t *ws;
    uint64_t session, handle;
    unsigned created;
    bool done;
    void (*ready)(lt_app_t *a, bool ok);
} jadmin_t;

static jadmin_t g_admin;

static void admin_done(jadmin_t *ad, bool ok, const char *why) {
    if (ad->done) return;
    ad->done = true;
    if (!ok) fprintf(stderr, "[%s] Janus admin session: %s\n", ad->a->label, why);
    if (ad->ws && ad->session) {
        cJSON *o = jreq("destroy", "destroy", ad->session, 0);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s) lt_ws_send_text(ad->ws, s, strlen(s));
        cJSON_free(s);
    }
    lt_ws_close(ad->ws);
    ad->ws = NULL;
    ad->ready(ad->a, ok);
}

static void admin_send(jadmin_t *ad, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s || lt_ws_send_text(ad->ws, s, strlen(s)) != RTC_OK) admin_done(ad, false, "send failed");
    cJSON_free(s);
}

static void admin_open(void *u, lt_ws_t *ws) {
    (void)ws;
    jadmin_t *ad = u;
    admin_send(ad, jreq("create", "create", 0, 0));
}

static void admin_text(void *u, lt_ws_t *ws, char *msg, size_t n) {
    (void)ws;
    (void)n;
    jadmin_t *ad = u;
    lt_app_t *a = ad->a;
    cJSON *m = cJSON_Parse(msg);
    if (!m) return;
    const char *j = get_str(m, "janus"), *tx = get_str(m, "transaction");
    if (j && !strcmp(j, "success") && tx && !strcmp(tx, "create")) {
        ad->session = get_id(cJSON_GetObjectItemCaseSensitive(m, "data"), "id");
        cJSON *o = jreq("attach", "attach", ad->session, 0);
        cJSON_AddStringToObject(o, "plugin", "janus.plugin.videoroom");
        admin_send(ad, o);
    } else if (j && !strcmp(j, "success") && tx && !strcmp(tx, "attach")) {
        ad->handle = get_id(cJSON_GetObjectItemCaseSensitive(m, "data"), "id");
        for (unsigned r = 0; r < a->rooms && !ad->done; r++) {
            cJSON *o = jreq("message", "room", ad->session, ad->handle);
            cJSON *b = cJSON_AddObjectToObject(o, "body");
            cJSON_AddStringToObject(b, "request", "create");
            add_id(b, "room", lt_janus_room_id(a, r));
            char desc[96];
            lt_room_name(a, r, desc, sizeof desc);
            cJSON_AddStringToObject(b, "description", desc);
            cJSON_AddNumberToObject(b, "publishers", a->publishers);
            cJSON_AddNumberToObject(b, "bitrate", 0);
            cJSON_AddStringToObject(b, "videocodec", "vp8");
            cJSON_AddStringToObject(b, "audiocodec", "opus");
            cJSON_AddBoolToObject(b, "permanent", false);
            cJSON_AddBoolToObject(b, "notify_joining", false);
            admin_send(ad, o);
        }
    } else if (j && !strcmp(j, "success") && tx && !strcmp(tx, "room")) {
        const cJSON *pd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "plugindata"), "data");
        const char *vr = get_str(pd, "videoroom");
        if (vr && !strcmp(vr, "created")) {
            if (++ad->created == a->rooms) admin_done(ad, true, NULL);
        } else {
            const char *err = get_str(pd, "error");
            char why[256];
            snprintf(why, sizeof why, "room creation refused: %s", err ? err : msg);
            admin_done(ad, false, why);
        }
    } else if (j && !strcmp(j, "error")) {
        const char *reason = get_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "reason");
        char why[256];
        snprintf(why, sizeof why, "error: %s", reason ? reason : msg);
        admin_done(ad, false, why);
    }
    cJSON_Delete(m);
}

static void admin_closed(void *u, lt_ws_t *ws, int code, const char *why) {
    (void)ws;
    jadmin_t *ad = u;
    ad->ws = NULL;
    char msg[160];
    snprintf(msg, sizeof msg, "connection closed (%d %s)", code, why);
    admin_done(ad, false, msg);
}

static const lt_ws_callbacks_t admin_cb = {.on_open = admin_open, .on_text = admin_text, .on_closed = admin_closed};

static int j_prepare(lt_app_t *a, void (*ready)(lt_app_t *a, bool ok)) {
    memset(&g_admin, 0, sizeof g_admin);
    g_admin.a = a;
    g_admin.ready = ready;
    g_admin.ws = lt_ws_connect(a->loop, &a->server, "/", "janus-protocol", &admin_cb, &g_admin);
    if (!g_admin.ws) {
        fprintf(stderr, "[%s] cannot open a socket to Janus\n", a->label);
        return -1;
    }
    return 0;
}

/* ---- participants ----------------------------------------------------------------------------- */

static void attach(lt_part_t *p, bool publisher) {
    cJSON *o = jreq("attach", publisher ? "attach-pub" : "attach-sub", p->j_session, 0);
    cJSON_AddStringToObject(o, "plugin", "janus.plugin.videoroom");
    send_or_fail(p, o, "attach");
}

static void j_open(lt_part_t *p) {
    p->last_keepalive = rtc_clock_now();
    send_or_fail(p, jreq("create", "create", 0, 0), "create");
}

static void join_publisher(lt_part_t *p) {
    cJSON *o = jreq("message", "join-pub", p->j_session, p->j_pub_handle);
    cJSON *b = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(b, "request", "join");
    cJSON_AddStringToObject(b, "ptype", "publisher");
    add_id(b, "room", lt_janus_room_id(p->app, p->room));
    cJSON_AddStringToObject(b, "display", p->identity);
    send_or_fail(p, o, "join");
}

static void join_subscriber(lt_part_t *p) {
    lt_app_t *a = p->app;
    cJSON *o = jreq("message", "join-sub", p->j_session, p->j_sub_handle);
    cJSON *b = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(b, "request", "join");
    cJSON_AddStringToObject(b, "ptype", "subscriber");
    add_id(b, "room", lt_janus_room_id(a, p->room));
    cJSON *streams = cJSON_AddArrayToObject(b, "streams");
    size_t per_room = a->publishers + a->subscribers;
    int feeds = 0;
    for (size_t i = 0; i < a->publishers; i++) {
        const lt_part_t *q = &a->parts[(size_t)p->room * per_room + i];
        if (q == p || !q->j_feed || !q->pub_connected) continue;
        cJSON *s = cJSON_CreateObject();
        add_id(s, "feed", q->j_feed);
        cJSON_AddItemToArray(streams, s);
        feeds++;
    }
    if (!feeds) {
        cJSON_Delete(o);
        lt_part_fail(p, "no publisher of room %u is connected: nothing to subscribe to", p->room);
        return;
    }
    send_or_fail(p, o, "subscriber join");
}

static void plugin_event(lt_part_t *p, const cJSON *m, uint64_t sender) {
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "plugindata"), "data");
    const cJSON *jsep = cJSON_GetObjectItemCaseSensitive(m, "jsep");
    const char *vr = get_str(pd, "videoroom");
    const char *err = get_str(pd, "error");
    if (err) {
        p->app->proto_errors++;
        lt_part_fail(p, "videoroom error %d: %s", (int)get_id(pd, "error_code"), err);
        return;
    }
    bool pub = sender && sender == p->j_pub_handle;
    if (pub && vr && !strcmp(vr, "joined")) {
        p->j_feed = get_id(pd, "id");
        lt_part_joined(p);
    }
    if (jsep) {
        const char *type = get_str(jsep, "type"), *sdp = get_str(jsep, "sdp");
        if (!type || !sdp) return;
        if (pub && !strcmp(type, "answer")) lt_part_publisher_answer(p, sdp);
        else if (!pub && sender == p->j_sub_handle && !strcmp(type, "offer")) lt_part_subscriber_offer(p, sdp);
    }
}

static void j_message(lt_part_t *p, const cJSON *m) {
    const char *j = get_str(m, "janus"), *tx = get_str(m, "transaction");
    if (!j) {
        p->app->proto_errors++;
        return;
    }
    uint64_t sender = get_id(m, "sender");
    if (!strcmp(j, "success") && tx) {
        uint64_t id = get_id(cJSON_GetObjectItemCaseSensitive(m, "data"), "id");
        if (!strcmp(tx, "create")) {
            p->j_session = id;
            attach(p, p->publishes);
        } else if (!strcmp(tx, "attach-pub")) {
            p->j_pub_handle = id;
            join_publisher(p);
        } else if (!strcmp(tx, "attach-sub")) {
            p->j_sub_handle = id;
            if (!p->publishes) lt_part_joined(p); /* a pure subscriber is "in" once attached */
            else join_subscriber(p);
        }
    } else if (!strcmp(j, "event")) {
        plugin_event(p, m, sender);
    } else if (!strcmp(j, "trickle")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "candidate");
        const cJSON *done = cJSON_GetObjectItemCaseSensitive(c, "completed");
        bool pub = sender == p->j_pub_handle;
        if (cJSON_IsTrue(done)) lt_part_remote_candidate(p, pub, NULL, NULL);
        else lt_part_remote_candidate(p, pub, get_str(c, "candidate"), get_str(c, "sdpMid"));
    } else if (!strcmp(j, "hangup")) {
        const char *reason = get_str(m, "reason");
        lt_part_fail(p, "Janus hung up the %s PeerConnection (%s)", sender == p->j_pub_handle ? "publisher" : "subscriber",
                     reason ? reason : "?");
    } else if (!strcmp(j, "error")) {
        const char *reason = get_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "reason");
        p->app->proto_errors++;
        lt_part_fail(p, "Janus error: %s", reason ? reason : "?");
    } else if (!strcmp(j, "slowlink")) {
        p->app->janus_slowlinks++;
    } else if (!strcmp(j, "timeout")) {
        lt_part_fail(p, "Janus session timed out");
    }
    /* ack, webrtcup, media, detached: nothing to do. */
}

static void j_send_offer(lt_part_t *p, const char *sdp) {
    cJSON *o = jreq("message", "publish", p->j_session, p->j_pub_handle);
    cJSON *b = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(b, "request", "publish");
    add_jsep(o, "offer", sdp);
    send_or_fail(p, o, "publish");
}

static void j_send_answer(lt_part_t *p, const char *sdp) {
    cJSON *o = jreq("message", "start", p->j_session, p->j_sub_handle);
    cJSON *b = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(b, "request", "start");
    add_jsep(o, "answer", sdp);
    send_or_fail(p, o, "start");
}

static void j_start_subscribing(lt_part_t *p) {
    if (p->j_sub_handle) join_subscriber(p);
    else attach(p, false);
}

static void j_tick(lt_part_t *p, rtc_time_t now) {
    if (!p->j_session || now - p->last_keepalive < KEEPALIVE_US) return;
    p->last_keepalive = now;
    lt_part_send_json(p, jreq("keepalive", "keepalive", p->j_session, 0));
}

static void j_leave(lt_part_t *p) {
    if (p->j_session) lt_part_send_json(p, jreq("destroy", "destroy", p->j_session, 0));
}

const lt_proto_t lt_proto_janus = {
    .name = "janus",
    .server_name = "Janus",
    .ws_path = "/",
    .ws_protocol = "janus-protocol",
    .prepare = j_prepare,
    .on_open = j_open,
    .on_message = j_message,
    .send_offer = j_send_offer,
    .send_answer = j_send_answer,
    .start_subscribing = j_start_subscribing,
    .tick = j_tick,
    .leave = j_leave,
    .finish = NULL,
};
