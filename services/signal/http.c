/* HTTP routes of starling-signal (docs/signalling.md, "HTTP endpoints"), served by
 * libwebsockets: the demo page, /healthz, /metrics, dev tokens, TURN credentials and the
 * admin API. Responses that need Redis are answered asynchronously: the request waits for
 * its replies, then asks lws for a writeable callback. */
#include "signal/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/jwt.h"
#include "common/log.h"

#define MAX_BODY 4096

typedef void (*http_finish_fn)(http_req_t *req);

struct http_req {
    signal_server_t *srv;
    struct lws *wsi;        /* NULL once the connection closed */
    int method;
    char path[512];
    bool head;
    int status;
    const char *ctype;
    rtc_buf_t body;
    int phase;              /* 0 working, 1 send headers, 2 send body */
    int pending;            /* Redis replies outstanding */
    bool failed;
    http_finish_fn finish;
    bool await_body;
    size_t body_in;
    /* admin state */
    char room[SIGNAL_ROOM_MAX + 1];
    char pid[SIGNAL_ID_MAX + 1];
    cJSON *acc;
};

static void req_free(http_req_t *req) {
    rtc_buf_free(&req->body);
    cJSON_Delete(req->acc);
    free(req);
}

static void respond(http_req_t *req, int status, const char *ctype, const char *body, size_t n) {
    req->status = status;
    req->ctype = ctype;
    rtc_buf_clear(&req->body);
    /* LWS_PRE bytes of headroom in front of the body, as lws_write wants. */
    if (rtc_buf_reserve(&req->body, LWS_PRE + n + 1) != RTC_OK) {
        req->status = 500;
        body = "";
        n = 0;
        rtc_buf_reserve(&req->body, LWS_PRE + 1);
    }
    if (req->body.data) {
        memset(req->body.data, 0, LWS_PRE);
        req->body.len = LWS_PRE;
        rtc_buf_append(&req->body, body, n);
    }
    req->phase = 1;
    if (req->wsi) lws_callback_on_writable(req->wsi);
}

static void respond_json(http_req_t *req, int status, cJSON *o) {
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!t) {
        respond(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
        return;
    }
    respond(req, status, "application/json", t, strlen(t));
    cJSON_free(t);
}

static void respond_error(http_req_t *req, int status, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    respond_json(req, status, o);
}

/* ------------------------------------------------------------------------------------------
 * Auth.
 */
static bool bearer(http_req_t *req, signal_claims_t *c, const char **why) {
    *why = "out of memory";
    char *h = malloc(ST_JWT_MAX_LEN + 64);
    if (!h) return false;
    int n = lws_hdr_copy(req->wsi, h, ST_JWT_MAX_LEN + 64, WSI_TOKEN_HTTP_AUTHORIZATION);
    bool ok = false;
    *why = "missing Authorization: Bearer <token>";
    if (n > 7 && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ') t++;
        ok = signal_token_verify(&req->srv->keys, t, strlen(t), 0, c, why) == RTC_OK;
    }
    free(h);
    return ok;
}

static bool admin_ok(http_req_t *req, const char *room) {
    signal_claims_t c;
    const char *why = NULL;
    if (!bearer(req, &c, &why)) {
        respond_error(req, 401, why);
        return false;
    }
    if (!(c.grants & SIGNAL_GRANT_ADMIN)) {
        respond_error(req, 403, "the token has no admin grant");
        return false;
    }
    if (strcmp(c.room, "*") != 0 && (!room || strcmp(room, c.room) != 0)) {
        respond_error(req, 403, "the admin token is for another room");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Async Redis plumbing: every reply lands here; the last one finishes the request.
 */
static void reply_done(http_req_t *req) {
    if (--req->pending > 0) return;
    if (!req->wsi) {
        req_free(req);
        return;
    }
    if (req->failed) respond_error(req, 503, "Redis is unavailable");
    else req->finish(req);
}

static bool issue(http_req_t *req, int rc) {
    if (rc == RTC_OK) {
        req->pending++;
        return true;
    }
    req->failed = true;
    return false;
}

/* Starts the finish step once every issued command has answered (or at once if none was). */
static void await_replies(http_req_t *req, http_finish_fn fn) {
    req->finish = fn;
    req->pending++;   /* our own hold while issuing */
    reply_done(req);
}

/* ------------------------------------------------------------------------------------------
 * Admin: list rooms.
 */
static void on_rooms(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        req->failed = true;
    } else {
        cJSON *rooms = cJSON_AddArrayToObject(req->acc, "rooms");
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *e = reply->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 5) continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->element[0]->str ? e->element[0]->str : "");
            cJSON_AddStringToObject(o, "node", e->element[1]->str ? e->element[1]->str : "");
            cJSON_AddStringToObject(o, "sid", e->element[2]->str ? e->element[2]->str : "");
            cJSON_AddNumberToObject(o, "created_at",
                                    e->element[3]->str ? atof(e->element[3]->str) : 0);
            cJSON_AddNumberToObject(o, "participants", (double)e->element[4]->integer);
            cJSON_AddItemToArray(rooms, o);
        }
    }
    reply_done(req);
}

static void finish_acc(http_req_t *req) {
    cJSON *o = req->acc;
    req->acc = NULL;
    respond_json(req, 200, o);
}

static void admin_list(http_req_t *req) {
    signal_server_t *srv = req->srv;
    char k[SIGNAL_KEY_MAX], pfx[SIGNAL_KEY_MAX];
    signal_key(k, sizeof k, srv->cfg->redis_prefix, "rooms", NULL, NULL);
    signal_key(pfx, sizeof pfx, srv->cfg->redis_prefix, "room:", NULL, NULL);
    req->acc = cJSON_CreateObject();
    const char *args[] = {k, pfx};
    if (signal_redis_ready(srv)) issue(req, signal_eval(srv->redis, &signal_script_rooms, on_rooms, req, 1, 1, args));
    else req->failed = true;
    await_replies(req, finish_acc);
}

/* ------------------------------------------------------------------------------------------
 * Admin: one room.
 */
static void on_room_hash(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) req->failed = true;
    else if (reply->element[0]->type == REDIS_REPLY_STRING) {
        cJSON_AddStringToObject(req->acc, "node", reply->element[0]->str);
        cJSON_AddStringToObject(req->acc, "sid",
                                reply->element[1]->type == REDIS_REPLY_STRING ? reply->element[1]->str : "");
        cJSON_AddNumberToObject(req->acc, "created_at",
                                reply->element[2]->type == REDIS_REPLY_STRING ? atof(reply->element[2]->str) : 0);
    }
    reply_done(req);
}

static void on_room_participants(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        req->failed = true;
    } else {
        cJSON *arr = cJSON_AddArrayToObject(req->acc, "participants");
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            const redisReply *v = reply->element[i + 1];
            cJSON *p = v->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(v->str, v->len) : NULL;
            if (!cJSON_IsObject(p)) {
                cJSON_Delete(p);
                p = cJSON_CreateObject();
            }
            if (!cJSON_GetObjectItemCaseSensitive(p, "id") && reply->element[i]->str)
                cJSON_AddStringToObject(p, "id", reply->element[i]->str);
            cJSON_AddItemToArray(arr, p);
        }
    }
    reply_done(req);
}

static void finish_room(http_req_t *req) {
    if (!cJSON_GetObjectItemCaseSensitive(req->acc, "node")) {
        respond_error(req, 404, "no such room");
        return;
    }
    finish_acc(req);
}

static void admin_room(http_req_t *req) {
    signal_server_t *srv = req->srv;
    char rk[SIGNAL_KEY_MAX], pk[SIGNAL_KEY_MAX];
    signal_key(rk, sizeof rk, srv->cfg->redis_prefix, "room:", req->room, NULL);
    signal_key(pk, sizeof pk, srv->cfg->redis_prefix, "room:", req->room, ":participants");
    req->acc = cJSON_CreateObject();
    cJSON_AddStringToObject(req->acc, "name", req->room);
    if (signal_redis_ready(srv)) {
        issue(req, st_redis_command(srv->redis, on_room_hash, req, "HMGET", rk, "node", "sid",
                                    "created_at", NULL));
        issue(req, st_redis_command(srv->redis, on_room_participants, req, "HGETALL", pk, NULL));
    } else {
        req->failed = true;
    }
    await_replies(req, finish_room);
}

/* ------------------------------------------------------------------------------------------
 * Admin: close a room, remove a participant.
 */
static void on_node(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply) req->failed = true;
    else if (reply->type == REDIS_REPLY_STRING) cJSON_AddStringToObject(req->acc, "node", reply->str);
    reply_done(req);
}

static void finish_close(http_req_t *req) {
    signal_server_t *srv = req->srv;
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(req->acc, "node");
    if (!cJSON_IsString(node)) {
        respond_error(req, 404, "no such room");
        return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "reason", "room_closed");
    signal_bus_send(srv, node->valuestring, "close_room", req->room, "", p, NULL, NULL);
    /* Every signal process tells its own participants in the room. */
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "room_closed");
    cJSON_AddStringToObject(e, "room", req->room);
    signal_event_publish(srv, e);
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_S("room", req->room)), "admin closed a room");
    cJSON_AddBoolToObject(req->acc, "closed", true);
    finish_acc(req);
}

static void admin_close(http_req_t *req) {
    signal_server_t *srv = req->srv;
    char rk[SIGNAL_KEY_MAX];
    signal_key(rk, sizeof rk, srv->cfg->redis_prefix, "room:", req->room, NULL);
    req->acc = cJSON_CreateObject();
    cJSON_AddStringToObject(req->acc, "room", req->room);
    if (signal_redis_ready(srv))
        issue(req, st_redis_command(srv->redis, on_node, req, "HGET", rk, "node", NULL));
    else
        req->failed = true;
    await_replies(req, finish_close);
}

static void on_participant(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        req->failed = true;
    } else if (reply->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(reply->element[0]->str, req->room) == 0 &&
               reply->element[1]->type == REDIS_REPLY_STRING) {
        cJSON_AddStringToObject(req->acc, "signal", reply->element[1]->str);
    }
    reply_done(req);
}

static void on_hexists(st_redis_t *r, const redisReply *reply, void *user) {
    http_req_t *req = user;
    (void)r;
    if (!reply) req->failed = true;
    else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)
        cJSON_AddBoolToObject(req->acc, "on_node", true);
    reply_done(req);
}

static void finish_remove(http_req_t *req) {
    signal_server_t *srv = req->srv;
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(req->acc, "node");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(req->acc, "signal");
    bool on_node = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req->acc, "on_node"));
    if (!cJSON_IsString(node) || (!cJSON_IsString(sig) && !on_node)) {
        respond_error(req, 404, "no such participant in this room");
        return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "reason", "removed");
    signal_bus_send(srv, node->valuestring, "remove", req->room, req->pid, p, NULL, NULL);
    if (cJSON_IsString(sig) && signal_id_valid(sig->valuestring)) {
        /* The signal process holding the socket tells the client, whatever the node does. */
        char chan[SIGNAL_KEY_MAX];
        signal_key(chan, sizeof chan, srv->cfg->redis_prefix, "to-signal:", sig->valuestring, NULL);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", "left");
        cJSON_AddStringToObject(m, "room", req->room);
        cJSON_AddStringToObject(m, "participant", req->pid);
        cJSON *pl = cJSON_AddObjectToObject(m, "payload");
        cJSON_AddStringToObject(pl, "reason", "removed");
        char *t = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        if (t && signal_redis_ready(srv))
            st_redis_command(srv->redis, NULL, NULL, "PUBLISH", chan, t, NULL);
        cJSON_free(t);
    }
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_S("room", req->room), ST_KV_S("participant", req->pid)),
              "admin removed a participant");
    cJSON_AddBoolToObject(req->acc, "removed", true);
    cJSON_DeleteItemFromObjectCaseSensitive(req->acc, "signal");
    cJSON_DeleteItemFromObjectCaseSensitive(req->acc, "on_node");
    finish_acc(req);
}

static void admin_remove(http_req_t *req) {
    signal_server_t *srv = req->srv;
    char rk[SIGNAL_KEY_MAX], pk[SIGNAL_KEY_MAX], ppk[SIGNAL_KEY_MAX];
    signal_key(rk, sizeof rk, srv->cfg->redis_prefix, "room:", req->room, NULL);
    signal_key(pk, sizeof pk, srv->cfg->redis_prefix, "room:", req->room, ":participants");
    signal_key(ppk, sizeof ppk, srv->cfg->redis_prefix, "participant:", req->pid, NULL);
    req->acc = cJSON_CreateObject();
    cJSON_AddStringToObject(req->acc, "room", req->room);
    cJSON_AddStringToObject(req->acc, "participant", req->pid);
    if (signal_redis_ready(srv)) {
        issue(req, st_redis_command(srv->redis, on_node, req, "HGET", rk, "node", NULL));
        issue(req, st_redis_command(srv->redis, on_participant, req, "HMGET", ppk, "room", "signal", NULL));
        issue(req, st_redis_command(srv->redis, on_hexists, req, "HEXISTS", pk, req->pid, NULL));
    } else {
        req->failed = true;
    }
    await_replies(req, finish_remove);
}

/* ------------------------------------------------------------------------------------------
 * Small synchronous routes.
 */
static void route_health(http_req_t *req) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    int status = st_health_render(req->srv->health, &b);
    if (status < 0) respond_error(req, 500, "health render failed");
    else respond(req, status, "application/json", (const char *)b.data, b.len);
    rtc_buf_free(&b);
}

static void route_metrics(http_req_t *req) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    if (st_metrics_render(req->srv->metrics, &b) != RTC_OK) respond_error(req, 500, "metrics render failed");
    else respond(req, 200, ST_METRICS_CONTENT_TYPE, (const char *)b.data, b.len);
    rtc_buf_free(&b);
}

static int urlarg(http_req_t *req, const char *name, char *out, size_t cap) {
    char buf[512], nm[32];
    snprintf(nm, sizeof nm, "%s=", name);
    const char *v = lws_get_urlarg_by_name(req->wsi, nm, buf, (int)sizeof buf);
    if (!v) return -1;
    snprintf(out, cap, "%s", v);
    return (int)strlen(out);
}

static void route_token(http_req_t *req) {
    signal_server_t *srv = req->srv;
    if (!srv->cfg->dev_mode) {
        respond_error(req, 404, "not found (GET /token exists only in dev_mode)");
        return;
    }
    char room[128] = "", identity[160] = "", name[160] = "";
    urlarg(req, "room", room, sizeof room);
    urlarg(req, "identity", identity, sizeof identity);
    urlarg(req, "name", name, sizeof name);
    if (!signal_room_valid(room)) {
        respond_error(req, 400, "room: 1..64 characters of A-Z a-z 0-9 _ - .");
        return;
    }
    if (!identity[0]) {
        uint8_t r[6];
        rtc_random_bytes(r, sizeof r);
        memcpy(identity, "guest-", 6);
        rtc_hex_encode(r, sizeof r, 0, false, identity + 6, sizeof identity - 6);
    }
    char *tok = NULL;
    if (signal_token_mint(&srv->keys, room, identity, name[0] ? name : NULL,
                          SIGNAL_GRANTS_PARTICIPANT, srv->cfg->token_ttl_ms / 1000, 0,
                          &tok) != RTC_OK) {
        respond_error(req, 400, "identity/name: 1..128 printable characters");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddStringToObject(o, "identity", identity);
    cJSON_AddStringToObject(o, "room", room);
    free(tok);
    respond_json(req, 200, o);
}

static void route_turn(http_req_t *req) {
    signal_claims_t c;
    const char *why = NULL;
    if (!bearer(req, &c, &why)) {
        respond_error(req, 401, why);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ice_servers", signal_ice_servers(req->srv, c.identity));
    respond_json(req, 200, o);
}

/* ------------------------------------------------------------------------------------------
 * Static files: only plain names directly under web_root, with known types.
 */
static const char *static_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},     {".svg", "image/svg+xml"},
        {".png", "image/png"},                   {".ico", "image/x-icon"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return NULL;
}

static int route_static(http_req_t *req, const char *name) {
    if (!name[0]) name = "index.html";
    bool ok = name[0] != '.';
    for (const char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_' || *p == '.';
    const char *type = ok ? static_type(name) : NULL;
    char path[1200];
    struct stat st;
    if (!type || snprintf(path, sizeof path, "%s/%s", req->srv->web_root, name) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        respond_error(req, 404, "not found");
        return 0;
    }
    unsigned char hb[512], *p = hb, *end = hb + sizeof hb;
    static const char nosniff[] = "nosniff", nocache[] = "no-cache";
    if (lws_add_http_header_by_name(req->wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)nosniff, sizeof nosniff - 1, &p, end) ||
        lws_add_http_header_by_name(req->wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)nocache, sizeof nocache - 1, &p, end))
        return -1;
    /* The file is sent by lws; our request object is done. */
    signal_pss_t *pss = lws_wsi_user(req->wsi);
    if (pss) pss->req = NULL;
    struct lws *wsi = req->wsi;
    req_free(req);
    int n = lws_serve_http_file(wsi, path, type, (const char *)hb, (int)(p - hb));
    if (n < 0) return -1;
    if (n > 0 && lws_http_transaction_completed(wsi)) return -1;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Dispatch.
 */
static bool segment(const char **p, char *out, size_t cap) {
    const char *s = *p;
    size_t n = 0;
    while (s[n] && s[n] != '/') n++;
    if (n == 0 || n >= cap) return false;
    memcpy(out, s, n);
    out[n] = 0;
    *p = s + n;
    return true;
}

static int dispatch(http_req_t *req) {
    const char *path = req->path;
    int m = req->method;
    bool get = m == LWSHUMETH_GET || m == LWSHUMETH_HEAD;
    if (strcmp(path, "/healthz") == 0) {
        if (!get) return respond_error(req, 405, "method not allowed"), 0;
        route_health(req);
    } else if (strcmp(path, "/metrics") == 0) {
        if (!get) return respond_error(req, 405, "method not allowed"), 0;
        route_metrics(req);
    } else if (strcmp(path, "/token") == 0) {
        if (!get) return respond_error(req, 405, "method not allowed"), 0;
        route_token(req);
    } else if (strcmp(path, "/turn-credentials") == 0) {
        if (m != LWSHUMETH_POST) return respond_error(req, 405, "method not allowed"), 0;
        route_turn(req);
    } else if (strcmp(path, "/ws") == 0) {
        respond_error(req, 426, "WebSocket upgrade required");
    } else if (strcmp(path, "/admin/rooms") == 0 || strcmp(path, "/admin/rooms/") == 0) {
        if (!get) return respond_error(req, 405, "method not allowed"), 0;
        if (admin_ok(req, NULL)) admin_list(req);
    } else if (strncmp(path, "/admin/rooms/", 13) == 0) {
        const char *p = path + 13;
        if (!segment(&p, req->room, sizeof req->room) || !signal_room_valid(req->room))
            return respond_error(req, 404, "not found"), 0;
        if (*p == 0 || strcmp(p, "/") == 0) {
            if (get) {
                if (admin_ok(req, req->room)) admin_room(req);
            } else if (m == LWSHUMETH_DELETE) {
                if (admin_ok(req, req->room)) admin_close(req);
            } else {
                respond_error(req, 405, "method not allowed");
            }
        } else if (strncmp(p, "/participants/", 14) == 0) {
            p += 14;
            if (!segment(&p, req->pid, sizeof req->pid) || *p || !signal_id_valid(req->pid))
                return respond_error(req, 404, "not found"), 0;
            if (m != LWSHUMETH_DELETE) return respond_error(req, 405, "method not allowed"), 0;
            if (admin_ok(req, req->room)) admin_remove(req);
        } else {
            respond_error(req, 404, "not found");
        }
    } else if (path[0] == '/' && !strchr(path + 1, '/') && get) {
        return route_static(req, path + 1);
    } else {
        respond_error(req, 404, "not found");
    }
    return 0;
}

int signal_http_request(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss,
                        const char *uri, size_t len) {
    if (!srv || !pss) return -1;
    if (pss->req) return -1; /* pipelined request while one is in progress: refuse */
    http_req_t *req = calloc(1, sizeof *req);
    if (!req) return -1;
    req->srv = srv;
    req->wsi = wsi;
    rtc_buf_init(&req->body);
    char *u = NULL;
    int ulen = 0;
    req->method = lws_http_get_uri_and_method(wsi, &u, &ulen);
    req->head = req->method == LWSHUMETH_HEAD;
    snprintf(req->path, sizeof req->path, "%.*s", (int)(len < sizeof req->path ? len : sizeof req->path - 1),
             uri ? uri : "");
    pss->req = req;
    pss->sess = NULL;
    if (req->method == LWSHUMETH_POST && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        /* lws reads the body (even an empty one) and then calls BODY_COMPLETION, where the
         * request is answered. */
        req->await_body = true;
        return 0;
    }
    return dispatch(req);
}

int signal_http_body(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss, const void *in,
                     size_t len) {
    (void)srv;
    (void)wsi;
    (void)in;
    if (!pss || !pss->req) return -1;
    pss->req->body_in += len;
    return pss->req->body_in > MAX_BODY ? -1 : 0; /* we read no bodies: keep them small */
}

int signal_http_body_done(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss) {
    (void)srv;
    (void)wsi;
    if (!pss || !pss->req || !pss->req->await_body) return 0;
    pss->req->await_body = false;
    return dispatch(pss->req);
}

int signal_http_writeable(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss) {
    (void)srv;
    http_req_t *req = pss ? pss->req : NULL;
    if (!req || req->phase == 0) return 0;
    if (req->body.len < LWS_PRE) return -1;
    if (req->phase == 1) {
        unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                            *end = buf + sizeof buf - 1;
        size_t blen = req->body.len - LWS_PRE;
        static const char nocache[] = "no-store", nosniff[] = "nosniff";
        if (lws_add_http_common_headers(wsi, (unsigned)req->status, req->ctype, blen, &p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)nocache, sizeof nocache - 1, &p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                        (const unsigned char *)nosniff, sizeof nosniff - 1, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        req->phase = 2;
        if (req->head || blen == 0) goto done;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (lws_write(wsi, req->body.data + LWS_PRE, req->body.len - LWS_PRE, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
done:
    pss->req = NULL;
    req_free(req);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void signal_http_closed(signal_server_t *srv, signal_pss_t *pss) {
    (void)srv;
    http_req_t *req = pss->req;
    if (!req) return;
    pss->req = NULL;
    req->wsi = NULL;
    if (req->pending == 0) req_free(req); /* else the last Redis reply frees it */
}
