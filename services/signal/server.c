/* starling-signal's server: libwebsockets on the caller's libuv loop, the send queues, the
 * periodic tick, drain and teardown. The protocol itself is in session.c, Redis in cluster.c,
 * HTTP routes in http.c. */
#include "signal/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define TICK_MS 250

int64_t signal_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------
 * Sessions: references, send queue, close.
 */
void signal_session_ref(signal_session_t *s) { s->refs++; }

static void session_free(signal_session_t *s) {
    signal_out_t *o = s->tx_head;
    while (o) {
        signal_out_t *next = o->next;
        free(o);
        o = next;
    }
    free(s->rx);
    free(s);
}

void signal_session_unref(signal_session_t *s) {
    if (--s->refs > 0) return;
    signal_server_t *srv = s->srv;
    session_free(s);
    signal_server_check_stopped(srv);
}

void signal_session_send(signal_session_t *s, const char *text, size_t len) {
    if (!s->wsi || s->close_after_tx) return;
    if (s->tx_bytes + len > (size_t)s->srv->cfg->send_queue) {
        /* A client that does not read is not allowed to make us buffer without bound. */
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
                  ST_KVS(ST_KV_I("conn", s->conn_id), ST_KV_I("queued", s->tx_bytes)),
                  "send queue overflow: disconnecting a client that does not read");
        lws_close_reason(s->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                         (unsigned char *)"send queue overflow", 19);
        s->close_after_tx = true;
        s->state = SESS_CLOSING;
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    signal_out_t *o = malloc(sizeof *o + LWS_PRE + len);
    if (!o) return;
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, text, len);
    if (s->tx_tail) s->tx_tail->next = o;
    else s->tx_head = o;
    s->tx_tail = o;
    s->tx_bytes += len;
    lws_callback_on_writable(s->wsi);
}

void signal_session_send_json(signal_session_t *s, const cJSON *o) {
    char *t = cJSON_PrintUnformatted(o);
    if (!t) return;
    signal_session_send(s, t, strlen(t));
    cJSON_free(t);
}

void signal_session_error(signal_session_t *s, signal_error_t code, const char *message,
                          const char *rid) {
    st_counter_inc(s->srv->m_errors[code]);
    char *t = signal_error_json(code, message, rid);
    if (!t) return;
    signal_session_send(s, t, strlen(t));
    free(t);
}

void signal_session_close(signal_session_t *s, uint16_t code, const char *reason) {
    if (!s->wsi || s->close_after_tx) return;
    s->state = SESS_CLOSING;
    s->close_after_tx = true;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason ? reason : "");
    lws_callback_on_writable(s->wsi);
    /* If the client never reads, the close cannot be sent: give it a few seconds. */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

void signal_session_fail(signal_session_t *s, signal_error_t code, const char *message,
                         const char *rid, uint16_t close_code) {
    signal_session_error(s, code, message, rid);
    signal_session_close(s, close_code, signal_error_name(code));
}

/* Writes one queued message; returns -1 to have lws close the socket. */
static int session_writeable(signal_session_t *s) {
    signal_out_t *o = s->tx_head;
    if (o) {
        int n = lws_write(s->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        s->tx_head = o->next;
        if (!s->tx_head) s->tx_tail = NULL;
        s->tx_bytes -= o->len;
        free(o);
        if (n < 0) return -1;
        if (s->tx_head || s->close_after_tx) lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->close_after_tx) {
        /* lws drops a socket whose WRITEABLE callback returns -1 without sending the Close
         * frame set by lws_close_reason (it takes that for a failed write), so the close is
         * done from a timer callback, which goes the polite way: Close with our code and
         * reason, then wait for the peer's Close. */
        lws_set_timer_usecs(s->wsi, 1);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * WebSocket admission: path, origin, capacity, draining.
 */
static bool origin_allowed(signal_server_t *srv, struct lws *wsi) {
    char origin[512] = "", host[256] = "";
    int on = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST);
    const st_strlist_t *allowed = &srv->cfg->allowed_origins;
    if (on <= 0) return true; /* not a browser: tokens are what protects /ws */
    for (size_t i = 0; i < allowed->n; i++) {
        if (strcmp(allowed->items[i], "*") == 0) return true;
        if (strcasecmp(allowed->items[i], origin) == 0) return true;
    }
    if (allowed->n == 0 && host[0]) {
        /* Same host: Origin is scheme://host[:port]; compare what follows "://". */
        const char *o = strstr(origin, "://");
        if (o && strcasecmp(o + 3, host) == 0) return true;
    }
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_S("origin", origin), ST_KV_S("host", host)),
              "refused a WebSocket from a disallowed origin");
    return false;
}

static int ws_filter(signal_server_t *srv, struct lws *wsi) {
    char uri[256] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
        st_counter_inc(srv->m_rejected_conn);
        return 1;
    }
    if (srv->draining || srv->n_sessions >= (size_t)srv->cfg->max_connections ||
        !origin_allowed(srv, wsi)) {
        st_counter_inc(srv->m_rejected_conn);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The lws protocol callback.
 */
static signal_session_t *session_new(signal_server_t *srv, struct lws *wsi) {
    signal_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->srv = srv;
    s->wsi = wsi;
    s->refs = 1; /* the socket's reference, dropped in on_closed */
    s->conn_id = ++srv->next_conn_id;
    s->state = SESS_OPEN;
    int64_t now = signal_now_ms();
    s->last_rx_ms = s->last_ping_ms = now;
    signal_ratelimit_init(&s->rl, (double)srv->cfg->rate, (double)srv->cfg->burst, now);
    s->next = srv->sessions;
    if (srv->sessions) srv->sessions->prev = s;
    srv->sessions = s;
    srv->n_sessions++;
    st_gauge_set(srv->m_connections, (double)srv->n_sessions);
    return s;
}

static void session_unlink(signal_session_t *s) {
    signal_server_t *srv = s->srv;
    if (s->prev) s->prev->next = s->next;
    else if (srv->sessions == s) srv->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    srv->n_sessions--;
    st_gauge_set(srv->m_connections, (double)srv->n_sessions);
}

static int on_receive(signal_session_t *s, struct lws *wsi, const void *in, size_t len) {
    signal_server_t *srv = s->srv;
    if (s->state == SESS_CLOSING) return 0;
    if (lws_is_first_fragment(wsi)) {
        s->rx_len = 0;
        s->rx_discard = 0;
        s->rx_binary = lws_frame_is_binary(wsi);
    }
    bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    size_t max = (size_t)srv->cfg->max_message;
    if (s->rx_discard || s->rx_len + len > max) {
        /* Too large. Read the rest of the message before answering: closing while the
         * client is still sending makes the kernel reset the connection, and the client
         * would never see the error or the 1009. A client that never ends its message is
         * cut off after 8 times the limit. */
        s->rx_discard += len;
        s->rx_len = 0;
        if (!last && s->rx_discard < 8 * max) return 0;
        char msg[96];
        snprintf(msg, sizeof msg, "message larger than %zu bytes", max);
        s->last_rx_ms = signal_now_ms();
        signal_session_fail(s, SIGNAL_E_TOO_LARGE, msg, NULL, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
        return 0;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 4096;
        while (cap < s->rx_len + len) cap *= 2;
        if (cap > max) cap = max;
        uint8_t *p = realloc(s->rx, cap);
        if (!p) return -1;
        s->rx = p;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!last) return 0;
    size_t n = s->rx_len;
    s->rx_len = 0;
    if (s->rx_binary) {
        s->last_rx_ms = signal_now_ms();
        signal_session_error(s, SIGNAL_E_BAD_REQUEST, "binary frames are not part of the protocol",
                             NULL);
        return 0;
    }
    signal_session_ref(s);
    signal_session_on_message(s, s->rx, n);
    signal_session_unref(s);
    return 0;
}

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    signal_server_t *srv = ctx ? lws_context_user(ctx) : NULL;
    signal_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return srv ? ws_filter(srv, wsi) : 1;
    case LWS_CALLBACK_ESTABLISHED:
        pss->req = NULL;
        pss->sess = session_new(srv, wsi);
        return pss->sess ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        return pss->sess ? on_receive(pss->sess, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->sess ? session_writeable(pss->sess) : 0;
    case LWS_CALLBACK_TIMER:
        if (pss->sess && pss->sess->close_after_tx && !pss->sess->tx_head) {
            signal_session_t *s = pss->sess;
            lws_close_reason(wsi, (enum lws_close_status)s->close_code,
                             (unsigned char *)s->close_reason, strlen(s->close_reason));
            return -1;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->sess) {
            signal_session_t *s = pss->sess;
            pss->sess = NULL;
            s->wsi = NULL;
            session_unlink(s);
            signal_session_on_closed(s);
            signal_session_unref(s);
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        return signal_http_request(srv, wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        return signal_http_body(srv, wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return signal_http_body_done(srv, wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return signal_http_writeable(srv, wsi, pss);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && srv) signal_http_closed(srv, pss);
        return 0;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"starling", lws_cb, sizeof(signal_pss_t), 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_emit(int level, const char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    rtc_log_level_t l = level == LLL_ERR ? RTC_LOG_ERROR : level == LLL_WARN ? RTC_LOG_WARN
                                                                              : RTC_LOG_DEBUG;
    st_log_kv(l, "lws", NULL, 0, "%.*s", (int)n, line);
}

/* ------------------------------------------------------------------------------------------
 * Tick: keepalive, join deadlines, cluster duties, drain.
 */
static void on_tick(uv_timer_t *t) {
    signal_server_t *srv = t->data;
    int64_t now = signal_now_ms();
    for (signal_session_t *s = srv->sessions, *next; s; s = next) {
        next = s->next;
        signal_session_tick(s, now);
    }
    signal_cluster_tick(srv, now);
    if (srv->draining && !srv->stopped && now >= srv->drain_deadline_ms) {
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_I("connections", srv->n_sessions)),
                  "drain timeout: stopping with clients still connected");
        srv->stopped = true;
        if (srv->on_stopped) srv->on_stopped(srv->on_stopped_user);
    }
}

void signal_server_check_stopped(signal_server_t *srv) {
    if (!srv->draining || srv->stopped || srv->n_sessions > 0) return;
    srv->stopped = true;
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, NULL, 0, "drained: every client is gone");
    if (srv->on_stopped) srv->on_stopped(srv->on_stopped_user);
}

/* ------------------------------------------------------------------------------------------
 * Metrics.
 */
static void metrics_init(signal_server_t *srv) {
    st_metrics_t *m = srv->metrics;
    st_metrics_add_process(m);
    srv->m_connections = st_metrics_gauge(m, "signal_connections", "open WebSocket connections");
    srv->m_participants = st_metrics_gauge(m, "signal_participants",
                                           "joined participants on this process");
    srv->m_rooms = st_metrics_gauge(m, "signal_rooms", "rooms with participants on this process");
    srv->m_live_nodes = st_metrics_gauge(m, "signal_sfu_nodes_live",
                                         "SFU nodes up, as of the last check");
    static const char *const type_label[] = {"type"};
    st_metric_family_t *rx = st_metrics_counter_vec(m, "signal_messages_received_total",
                                                    "valid client messages by type", type_label, 1);
    for (int i = 0; i < SIGNAL_MSG_COUNT_; i++) {
        const char *v[] = {signal_msg_type_name((signal_msg_type_t)i)};
        srv->m_rx[i] = st_family_counter(rx, v);
    }
    static const char *const code_label[] = {"code"};
    st_metric_family_t *err = st_metrics_counter_vec(m, "signal_errors_total",
                                                     "errors sent to clients by code", code_label, 1);
    for (int i = 1; i < SIGNAL_E_COUNT_; i++) {
        const char *v[] = {signal_error_name((signal_error_t)i)};
        srv->m_errors[i] = st_family_counter(err, v);
    }
    srv->m_joins = st_metrics_counter(m, "signal_joins_total", "participants joined");
    srv->m_resumes = st_metrics_counter(m, "signal_resumes_total", "sessions resumed");
    srv->m_resume_failed = st_metrics_counter(m, "signal_resume_failures_total",
                                              "resume attempts refused");
    srv->m_moved = st_metrics_counter(m, "signal_rooms_moved_total",
                                      "rooms moved off a failed SFU node by this process");
    srv->m_bus_in = st_metrics_counter(m, "signal_bus_received_total",
                                       "messages received from Redis channels");
    srv->m_bus_out = st_metrics_counter(m, "signal_bus_published_total",
                                        "messages published to Redis channels");
    srv->m_rejected_conn = st_metrics_counter(m, "signal_connections_refused_total",
                                              "WebSocket upgrades refused (path, origin, capacity, draining)");
    srv->m_rate_disconnects = st_metrics_counter(m, "signal_rate_limit_disconnects_total",
                                                 "clients disconnected for flooding");
}

/* ------------------------------------------------------------------------------------------
 * Life cycle.
 */
signal_server_t *signal_server_new(uv_loop_t *loop, const signal_config_t *cfg) {
    if (!cfg->api_secret || strlen(cfg->api_secret) < 16) {
        st_log_kv(RTC_LOG_ERROR, SIGNAL_LOG, NULL, 0,
                  "api_secret is required and must be at least 16 bytes");
        return NULL;
    }
    if (cfg->signal_id && !signal_id_valid(cfg->signal_id)) {
        st_log_kv(RTC_LOG_ERROR, SIGNAL_LOG, NULL, 0,
                  "signal_id must be 1..64 characters of A-Z a-z 0-9 _ -");
        return NULL;
    }
    signal_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->loop = loop;
    srv->cfg = cfg;
    srv->live_nodes = -1;
    if (cfg->signal_id) {
        snprintf(srv->id, sizeof srv->id, "%s", cfg->signal_id);
    } else {
        uint8_t r[6];
        char hex[13];
        rtc_random_bytes(r, sizeof r);
        rtc_hex_encode(r, sizeof r, 0, false, hex, sizeof hex);
        snprintf(srv->id, sizeof srv->id, "sig-%s", hex);
    }
    srv->keys.api_key = cfg->api_key ? cfg->api_key : "";
    srv->keys.secret = cfg->api_secret;
    srv->keys.secret_len = strlen(cfg->api_secret);
    signal_limits_default(&srv->limits);
    srv->limits.max_sdp = (size_t)cfg->max_message;
    srv->limits.max_data_payload = (size_t)cfg->data_payload;
    snprintf(srv->web_root, sizeof srv->web_root, "%s", cfg->web_root ? cfg->web_root : ".");
    signal_map_init(&srv->by_pid);
    signal_map_init(&srv->rooms);
    signal_scripts_init();

    srv->metrics = st_metrics_new();
    srv->health = st_health_new("signal");
    if (!srv->metrics || !srv->health) goto fail;
    metrics_init(srv);
    st_health_set(srv->health, "redis", false, "connecting");
    st_health_set(srv->health, "sfu_nodes", false, "unknown");

    /* libwebsockets on our loop. */
    int lws_levels = LLL_ERR | LLL_WARN;
    if (rtc_log_get_level() <= RTC_LOG_DEBUG) lws_levels |= LLL_NOTICE;
    lws_set_log_level(lws_levels, lws_log_emit);
    rtc_addr_format_ip(&cfg->listen, srv->listen_ip, sizeof srv->listen_ip);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign[1] = {loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = foreign;
    info.user = srv;
    info.count_threads = 1;
    info.max_http_header_data = 8192;
    info.timeout_secs = 10;
    info.server_string = "starling-signal";
    /* lws clears srv->lws itself once the context is finally freed, which with a foreign
     * loop happens only after libuv has closed its handles (see signal_server_free). */
    info.pcontext = &srv->lws;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        st_log_kv(RTC_LOG_ERROR, SIGNAL_LOG, NULL, 0, "libwebsockets context creation failed");
        goto fail;
    }
    info.vhost_name = "starling-signal";
    info.protocols = protocols;
    info.port = cfg->listen.port; /* 0: the kernel picks; lws_get_vhost_listen_port says which */
    bool any = (cfg->listen.family == RTC_AF_INET4 && strcmp(srv->listen_ip, "0.0.0.0") == 0);
    info.iface = any ? NULL : srv->listen_ip;
    if (cfg->listen.family == RTC_AF_INET4) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.keepalive_timeout = 5;
    srv->vhost = lws_create_vhost(srv->lws, &info);
    if (!srv->vhost) {
        st_log_kv(RTC_LOG_ERROR, SIGNAL_LOG, ST_KVS(ST_KV_S("listen", rtc_addr_str(&cfg->listen))),
                  "cannot listen");
        goto fail;
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    char addr[RTC_ADDR_STRLEN];
    rtc_addr_t bound = cfg->listen;
    bound.port = (uint16_t)srv->port;
    rtc_addr_format(&bound, addr, sizeof addr);
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG,
              ST_KVS(ST_KV_S("addr", addr), ST_KV_I("port", srv->port), ST_KV_S("signal_id", srv->id),
                     ST_KV_B("dev_mode", cfg->dev_mode)),
              "listening");

    uv_timer_init(loop, &srv->tick);
    srv->tick.data = srv;
    uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
    srv->tick_running = true;

    signal_cluster_start(srv);
    return srv;
fail:
    if (srv->lws) {
        lws_context_destroy(srv->lws);
        srv->lws = NULL;
    }
    st_health_free(srv->health);
    st_metrics_free(srv->metrics);
    signal_map_free(&srv->by_pid);
    signal_map_free(&srv->rooms);
    free(srv);
    return NULL;
}

int signal_server_port(const signal_server_t *srv) { return srv->port; }
const char *signal_server_id(const signal_server_t *srv) { return srv->id; }

void signal_server_drain(signal_server_t *srv, void (*on_stopped)(void *), void *user) {
    if (srv->draining) return;
    srv->draining = true;
    srv->on_stopped = on_stopped;
    srv->on_stopped_user = user;
    srv->drain_deadline_ms = signal_now_ms() + srv->cfg->common.drain_timeout_ms;
    st_health_set_draining(srv->health, true);
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_I("connections", srv->n_sessions)),
              "draining: telling clients to reconnect elsewhere (1012)");
    /* Participants stay in their rooms: the clients resume through another signal process. */
    for (signal_session_t *s = srv->sessions; s; s = s->next)
        signal_session_close(s, SIGNAL_CLOSE_SERVICE_RESTART, "service restart");
    signal_server_check_stopped(srv);
}

void signal_server_reload(signal_server_t *srv, const signal_config_t *cfg) {
    (void)srv;
    if (cfg->common.log_level) st_log_set_level_name(cfg->common.log_level);
}

void signal_server_close(signal_server_t *srv) {
    if (!srv || srv->freeing) return;
    srv->freeing = true;
    srv->draining = true;
    srv->stopped = true;
    /* Destroying the lws context closes every connection; their CLOSED callbacks (now or
     * while libuv closes the handles) find the Redis clients gone and only tidy up memory. */
    signal_cluster_free(srv);
    if (srv->lws) lws_context_destroy(srv->lws);
    if (srv->tick_running) {
        uv_timer_stop(&srv->tick);
        uv_close((uv_handle_t *)&srv->tick, NULL);
        srv->tick_running = false;
    }
}

void signal_server_free(signal_server_t *srv) {
    if (!srv) return;
    signal_server_close(srv);
    /* With a foreign loop, lws finishes destroying its context only when called again after
     * its handles have closed; it then clears srv->lws (info.pcontext). */
    if (srv->lws) lws_context_destroy(srv->lws);
    /* Sessions whose CLOSED callback never came (should not happen once the loop ran dry). */
    while (srv->sessions) {
        signal_session_t *s = srv->sessions;
        srv->sessions = s->next;
        s->refs = 1;
        signal_session_unref(s);
    }
    signal_cluster_free(srv);
    /* Rooms still listed (only if a session above never got its CLOSED callback). */
    size_t nr = srv->rooms.n;
    void **rooms = nr ? malloc(nr * sizeof *rooms) : NULL;
    if (rooms) {
        nr = signal_map_values(&srv->rooms, rooms, nr);
        for (size_t i = 0; i < nr; i++) free(rooms[i]);
        free(rooms);
    }
    signal_map_free(&srv->by_pid);
    signal_map_free(&srv->rooms);
    st_health_free(srv->health);
    st_metrics_free(srv->metrics);
    free(srv->turn_secret);
    free(srv);
}
