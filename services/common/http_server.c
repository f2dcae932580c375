/* The HTTP server's I/O: one libuv TCP handle and one timer per connection.
 *
 * Life of a connection: READING (until the head and Content-Length body are in, or a limit
 * or the request timeout is hit) -> WRITING (the whole response in one uv_write) -> LINGER
 * (FIN sent; keep reading and discarding until the client closes or a short timer fires) ->
 * closed. The linger step matters: closing a socket that still has unread request bytes
 * makes the kernel send RST, and the client may then lose the 413 we just wrote. */
#include "common/http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/metrics.h"

#define LINGER_MS 2000
#define INITIAL_BUF 2048

typedef struct route {
    struct route *next;
    char *method;
    char *path;
    st_http_handler_fn fn;
    void *user;
} route_t;

typedef struct {
    uv_tcp_t tcp;
    st_http_server_t *srv;
    rtc_addr_t addr;
    bool active;
} listener_t;

typedef enum { C_READING, C_WRITING, C_LINGER, C_CLOSING } cstate_t;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    st_http_server_t *srv;
    struct conn *next, *prev;
    cstate_t state;
    uint8_t *buf;
    size_t len, cap, limit;
    bool head_done;
    bool continue_sent;
    bool peer_done; /* EOF seen */
    size_t need;    /* head + body bytes, once the head is parsed */
    uint64_t start_ns;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    char *out;
    int handles;
} conn_t;

struct st_http_server {
    uv_loop_t *loop;
    st_http_options_t opt;
    route_t *routes;
    listener_t **listeners;
    size_t n_listeners;
    size_t open_listeners;
    conn_t *conns;
    unsigned n_conns;
    bool closing;
    st_metric_family_t *requests;
    st_histogram_t *duration;
};

static void close_conn(conn_t *c);
static void maybe_free_server(st_http_server_t *srv);

/* ------------------------------------------------------------------------------------------
 * Responses.
 */
int st_http_reply(st_http_response_t *res, int status, const char *content_type,
                  const void *body, size_t len) {
    res->status = status;
    res->content_type = content_type;
    rtc_buf_clear(&res->body);
    return len ? rtc_buf_append(&res->body, body, len) : RTC_OK;
}

int st_http_reply_text(st_http_response_t *res, int status, const char *text) {
    return st_http_reply(res, status, "text/plain; charset=utf-8", text, strlen(text));
}

int st_http_reply_json(st_http_response_t *res, int status, const cJSON *json) {
    char *s = cJSON_PrintUnformatted(json);
    if (!s) return RTC_ERR_NOMEM;
    int rc = st_http_reply(res, status, "application/json", s, strlen(s));
    if (rc == RTC_OK) rc = rtc_buf_append(&res->body, "\n", 1);
    cJSON_free(s);
    return rc;
}

int st_http_reply_error(st_http_response_t *res, int status, const char *message) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", message ? message : st_http_reason(status))) {
        cJSON_Delete(o);
        return RTC_ERR_NOMEM;
    }
    int rc = st_http_reply_json(res, status, o);
    cJSON_Delete(o);
    return rc;
}

int st_http_response_header(st_http_response_t *res, const char *name, const char *value) {
    if (!name || !value || !*name || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return RTC_ERR_INVALID_ARG;
    return rtc_buf_appendf(&res->headers, "%s: %s\r\n", name, value);
}

/* ------------------------------------------------------------------------------------------
 * Connection handling.
 */
static void on_conn_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    if (--c->handles > 0) return;
    st_http_server_t *srv = c->srv;
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->n_conns--;
    free(c->buf);
    free(c->out);
    free(c);
    maybe_free_server(srv);
}

static void close_conn(conn_t *c) {
    if (c->state == C_CLOSING) return;
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_linger_timeout(uv_timer_t *t) { close_conn(t->data); }

static void on_shutdown(uv_shutdown_t *req, int status) {
    conn_t *c = req->data;
    if (c->state == C_CLOSING) return;
    if (status < 0 || c->peer_done) close_conn(c);
}

static void on_write_done(uv_write_t *req, int status) {
    conn_t *c = req->data;
    if (c->state == C_CLOSING) return;
    if (status < 0 || c->peer_done) {
        close_conn(c);
        return;
    }
    c->state = C_LINGER;
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) close_conn(c);
}

static void send_response(conn_t *c, const st_http_request_t *req, st_http_response_t *res) {
    st_http_server_t *srv = c->srv;
    bool head_only = req && req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    rtc_buf_t out;
    rtc_buf_init(&out);
    int rc = rtc_buf_appendf(&out,
                             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\nCache-Control: no-store\r\n",
                             res->status, st_http_reason(res->status),
                             res->content_type ? res->content_type : "text/plain; charset=utf-8",
                             res->body.len);
    if (res->headers.len) rc |= rtc_buf_append(&out, res->headers.data, res->headers.len);
    rc |= rtc_buf_append(&out, "\r\n", 2);
    if (!head_only && res->body.len) rc |= rtc_buf_append(&out, res->body.data, res->body.len);
    if (rc != RTC_OK) {
        rtc_buf_free(&out);
        close_conn(c);
        return;
    }

    double secs = (double)(uv_hrtime() - c->start_ns) / 1e9;
    if (srv->requests) {
        char code[8];
        snprintf(code, sizeof code, "%d", res->status);
        const char *values[] = {code};
        st_counter_inc(st_family_counter(srv->requests, values));
    }
    st_histogram_observe(srv->duration, secs);
    if (RTC_LOG_ENABLED(RTC_LOG_DEBUG)) {
        char path[256];
        size_t pl = req ? (req->path_len < sizeof path - 1 ? req->path_len : sizeof path - 1) : 0;
        if (req) memcpy(path, req->path, pl);
        path[pl] = '\0';
        char method[16];
        size_t ml = req ? (req->method_len < sizeof method - 1 ? req->method_len : sizeof method - 1) : 0;
        if (req) memcpy(method, req->method, ml);
        method[ml] = '\0';
        st_log_kv(RTC_LOG_DEBUG, "http",
                  ST_KVS(ST_KV_S("method", method), ST_KV_S("path", path),
                         ST_KV_I("status", res->status), ST_KV_D("seconds", secs)),
                  "request");
    }

    c->state = C_WRITING;
    c->out = (char *)out.data; /* freed with the connection */
    uv_buf_t b = uv_buf_init(c->out, (unsigned)out.len);
    c->wreq.data = c;
    /* The write must finish within the request timeout too (a client that never reads). */
    uv_timer_start(&c->timer, on_linger_timeout, srv->opt.request_timeout_ms, 0);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0) close_conn(c);
}

static void respond_status(conn_t *c, int status) {
    st_http_response_t res = {0};
    rtc_buf_init(&res.body);
    rtc_buf_init(&res.headers);
    st_http_reply_error(&res, status, st_http_reason(status));
    send_response(c, NULL, &res);
    rtc_buf_free(&res.body);
    rtc_buf_free(&res.headers);
}

static bool eq(const char *a, size_t alen, const char *b) {
    return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

static void dispatch(conn_t *c, const st_http_request_t *req) {
    st_http_server_t *srv = c->srv;
    st_http_response_t res = {0};
    rtc_buf_init(&res.body);
    rtc_buf_init(&res.headers);
    bool is_head = eq(req->method, req->method_len, "HEAD");
    route_t *match = NULL;
    rtc_buf_t allow;
    rtc_buf_init(&allow);
    for (route_t *r = srv->routes; r; r = r->next) {
        if (!eq(req->path, req->path_len, r->path)) continue;
        if (eq(req->method, req->method_len, r->method) || (is_head && strcmp(r->method, "GET") == 0)) {
            match = r;
            break;
        }
        rtc_buf_appendf(&allow, "%s%s", allow.len ? ", " : "", r->method);
        if (strcmp(r->method, "GET") == 0) rtc_buf_append_str(&allow, ", HEAD");
    }
    if (match) {
        match->fn(req, &res, match->user);
        if (res.status < 100 || res.status > 599) {
            RTC_LOGE("http", "handler for %s %s set no valid status (%d)", match->method,
                     match->path, res.status);
            st_http_reply_error(&res, 500, NULL);
        }
    } else if (allow.len) {
        st_http_reply_error(&res, 405, NULL);
        st_http_response_header(&res, "Allow", (char *)allow.data);
    } else {
        st_http_reply_error(&res, 404, NULL);
    }
    rtc_buf_free(&allow);
    send_response(c, req, &res);
    rtc_buf_free(&res.body);
    rtc_buf_free(&res.headers);
}

static void on_continue_written(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static void send_continue(conn_t *c) {
    static char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_write_t *w = malloc(sizeof *w);
    if (!w) return; /* the client sends the body anyway after a short wait */
    uv_buf_t b = uv_buf_init(msg, sizeof msg - 1);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written) != 0) free(w);
    c->continue_sent = true;
}

static void process(conn_t *c) {
    st_http_server_t *srv = c->srv;
    st_http_limits_t lim = {srv->opt.max_head_bytes, srv->opt.max_body_bytes};
    st_http_request_t req;
    int status = 0;
    if (!c->head_done) {
        int rc = st_http_parse_request(c->buf, c->len, &lim, &req, &status);
        if (rc == RTC_ERR_AGAIN) {
            if (c->len >= c->limit) respond_status(c, 431);
            return;
        }
        if (rc < 0) {
            RTC_LOGD("http", "bad request: answering %d", status);
            respond_status(c, status);
            return;
        }
        c->head_done = true;
        c->need = req.head_len + req.content_length;
        if (req.expect_continue && req.version_minor >= 1 && c->len < c->need && !c->continue_sent)
            send_continue(c);
    }
    if (c->len < c->need) return;
    /* The buffer may have moved while the body arrived: parse the head again for pointers
     * into its final place (the result cannot differ). */
    if (st_http_parse_request(c->buf, c->len, &lim, &req, &status) != RTC_OK) {
        respond_status(c, 400);
        return;
    }
    req.body = c->buf + req.head_len;
    req.body_len = req.content_length;
    dispatch(c, &req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn_t *c = h->data;
    if (c->state != C_READING) {
        /* Draining what the client still sends: overwrite the start of the buffer. */
        if (!c->buf && (c->buf = malloc(INITIAL_BUF)) != NULL) c->cap = INITIAL_BUF;
        *buf = uv_buf_init((char *)c->buf, (unsigned)c->cap);
        return;
    }
    if (c->len == c->cap && c->cap < c->limit) {
        size_t cap = c->cap ? c->cap * 2 : INITIAL_BUF;
        if (cap > c->limit) cap = c->limit;
        uint8_t *p = realloc(c->buf, cap);
        if (p) {
            c->buf = p;
            c->cap = cap;
        }
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    conn_t *c = s->data;
    if (c->state == C_CLOSING) return;
    if (nread < 0) {
        c->peer_done = true;
        uv_read_stop(s);
        /* While our response is still being written, let it finish (the client may have
         * only shut down its sending side). */
        if (c->state != C_WRITING) close_conn(c);
        return;
    }
    if (nread == 0 || c->state != C_READING) return;
    c->len += (size_t)nread;
    process(c);
}

static void on_request_timeout(uv_timer_t *t) {
    conn_t *c = t->data;
    if (c->state != C_READING) {
        close_conn(c);
        return;
    }
    RTC_LOGD("http", "request not complete after %llums (%zu bytes): 408",
             (unsigned long long)c->srv->opt.request_timeout_ms, c->len);
    respond_status(c, 408);
}

static void on_connection(uv_stream_t *server, int status) {
    listener_t *l = server->data;
    st_http_server_t *srv = l->srv;
    if (status < 0) {
        RTC_LOGW("http", "accept on %s failed: %s", rtc_addr_str(&l->addr), uv_strerror(status));
        return;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = srv;
    c->limit = srv->opt.max_head_bytes + srv->opt.max_body_bytes;
    c->start_ns = uv_hrtime();
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        close_conn(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        close_conn(c);
        return;
    }
    if (srv->n_conns > srv->opt.max_connections) {
        RTC_LOGW("http", "%u connections open (limit %u): answering 503", srv->n_conns - 1,
                 srv->opt.max_connections);
        respond_status(c, 503);
        return;
    }
    uv_timer_start(&c->timer, on_request_timeout, srv->opt.request_timeout_ms, 0);
}

/* ------------------------------------------------------------------------------------------
 * Server.
 */
st_http_server_t *st_http_server_new(uv_loop_t *loop, const st_http_options_t *opts) {
    if (!loop) return NULL;
    st_http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->loop = loop;
    if (opts) srv->opt = *opts;
    if (!srv->opt.max_head_bytes) srv->opt.max_head_bytes = 8192;
    if (!srv->opt.max_body_bytes) srv->opt.max_body_bytes = 65536;
    if (!srv->opt.request_timeout_ms) srv->opt.request_timeout_ms = 10000;
    if (!srv->opt.max_connections) srv->opt.max_connections = 256;
    return srv;
}

int st_http_server_route(st_http_server_t *srv, const char *method, const char *path,
                         st_http_handler_fn fn, void *user) {
    if (!srv || !method || !path || path[0] != '/' || !fn) return RTC_ERR_INVALID_ARG;
    route_t **tail = &srv->routes;
    for (route_t *r = srv->routes; r; r = r->next) {
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0) return RTC_ERR_DUPLICATE;
        tail = &r->next;
    }
    route_t *r = calloc(1, sizeof *r);
    if (!r) return RTC_ERR_NOMEM;
    r->method = strdup(method);
    r->path = strdup(path);
    r->fn = fn;
    r->user = user;
    if (!r->method || !r->path) {
        free(r->method);
        free(r->path);
        free(r);
        return RTC_ERR_NOMEM;
    }
    *tail = r;
    return RTC_OK;
}

static void on_listener_closed(uv_handle_t *h) {
    listener_t *l = h->data;
    st_http_server_t *srv = l->srv;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        if (srv->listeners[i] == l) srv->listeners[i] = NULL;
    }
    free(l);
    srv->open_listeners--;
    maybe_free_server(srv);
}

int st_http_server_listen(st_http_server_t *srv, const rtc_addr_t *addr) {
    if (!srv || !addr || srv->closing) return RTC_ERR_INVALID_ARG;
    struct sockaddr_storage ss;
    if (rtc_addr_to_sockaddr(addr, &ss, sizeof ss) < 0) return RTC_ERR_ADDR;
    listener_t **arr = realloc(srv->listeners, (srv->n_listeners + 1) * sizeof *arr);
    if (!arr) return RTC_ERR_NOMEM;
    srv->listeners = arr;
    listener_t *l = calloc(1, sizeof *l);
    if (!l) return RTC_ERR_NOMEM;
    l->srv = srv;
    l->addr = *addr;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = l;
    srv->listeners[srv->n_listeners++] = l;
    srv->open_listeners++;
    unsigned flags = addr->family == RTC_AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    int rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, flags);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
    if (rc != 0) {
        RTC_LOGE("http", "cannot listen on %s: %s", rtc_addr_str(addr), uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return RTC_ERR_IO;
    }
    l->active = true;
    rtc_addr_t local;
    if (st_http_server_local_addr(srv, srv->n_listeners - 1, &local) == RTC_OK)
        RTC_LOGI("http", "listening on %s", rtc_addr_str(&local));
    return RTC_OK;
}

int st_http_server_local_addr(const st_http_server_t *srv, size_t i, rtc_addr_t *out) {
    if (!srv || i >= srv->n_listeners || !srv->listeners[i] || !srv->listeners[i]->active)
        return RTC_ERR_NOT_FOUND;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&srv->listeners[i]->tcp, (struct sockaddr *)&ss, &len) != 0)
        return RTC_ERR_IO;
    return rtc_addr_from_sockaddr(out, (struct sockaddr *)&ss, (size_t)len);
}

int st_http_server_use_metrics(st_http_server_t *srv, st_metrics_t *m) {
    static const char *const labels[] = {"code"};
    srv->requests = st_metrics_counter_vec(m, "http_requests_total",
                                           "HTTP requests answered, by status code.", labels, 1);
    srv->duration = st_metrics_histogram(m, "http_request_duration_seconds",
                                         "Time from accepting a connection to its response.",
                                         st_metrics_latency_buckets, st_metrics_latency_buckets_n);
    return srv->requests && srv->duration ? RTC_OK : RTC_ERR_DUPLICATE;
}

void st_http_server_stop_listening(st_http_server_t *srv) {
    if (!srv) return;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        listener_t *l = srv->listeners[i];
        if (l && l->active) {
            l->active = false;
            uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        }
    }
}

static void maybe_free_server(st_http_server_t *srv) {
    if (!srv->closing || srv->open_listeners > 0 || srv->conns) return;
    for (route_t *r = srv->routes, *next; r; r = next) {
        next = r->next;
        free(r->method);
        free(r->path);
        free(r);
    }
    free(srv->listeners);
    free(srv);
}

void st_http_server_close(st_http_server_t *srv) {
    if (!srv || srv->closing) return;
    st_http_server_stop_listening(srv);
    srv->closing = true;
    for (conn_t *c = srv->conns; c; c = c->next) close_conn(c);
    maybe_free_server(srv);
}
