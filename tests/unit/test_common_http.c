/* common/http: the request parser on its own, then the server on a real libuv loop bound to
 * 127.0.0.1, driven by raw sockets (for malformed, oversized and slow requests) and by curl
 * (an HTTP client nobody here wrote): routes, 404/405, HEAD, bodies with and without
 * Expect: 100-continue, query strings, 400/413/431/501/505, request timeout against
 * slowloris-style clients, the connection cap, /metrics and /healthz. */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/health.h"
#include "common/http.h"
#include "common/metrics.h"
#include "common/turn_rest.h"

/* ------------------------------------------------------------------------------------------
 * Parser (no sockets).
 */
static int parse(const char *s, st_http_request_t *req, int *status) {
    st_http_limits_t lim = {1024, 4096};
    return st_http_parse_request((const uint8_t *)s, strlen(s), &lim, req, status);
}

START_TEST(parser_reads_request_line_headers_and_query) {
    st_http_request_t r;
    int st;
    const char *req = "\r\nPOST /?service=turn&username=al%69ce+b&flag HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\nContent-Length:  12 \r\nX-Empty:\r\n\r\nbody follows";
    ck_assert_int_eq(parse(req, &r, &st), RTC_OK);
    ck_assert_uint_eq(r.method_len, 4);
    ck_assert(memcmp(r.method, "POST", 4) == 0);
    ck_assert_uint_eq(r.path_len, 1);
    ck_assert_uint_eq(r.query_len, strlen("service=turn&username=al%69ce+b&flag"));
    ck_assert_int_eq(r.version_minor, 1);
    ck_assert(r.has_content_length);
    ck_assert_uint_eq(r.content_length, 12);
    ck_assert_uint_eq(r.head_len, strlen(req) - strlen("body follows"));
    const st_http_header_t *h = st_http_header(&r, "HOST");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->value_len, 9);
    ck_assert_uint_eq(st_http_header(&r, "x-empty")->value_len, 0);
    char v[64];
    ck_assert_int_eq(st_http_query_param(&r, "username", v, sizeof v), 7);
    ck_assert_str_eq(v, "alice b");
    ck_assert_int_eq(st_http_query_param(&r, "service", v, sizeof v), 4);
    ck_assert_int_eq(st_http_query_param(&r, "flag", v, sizeof v), 0);
    ck_assert_int_eq(st_http_query_param(&r, "missing", v, sizeof v), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(st_http_query_param(&r, "username", v, 4), RTC_ERR_OVERFLOW);

    /* Bare LF line endings are accepted (RFC 9112 §2.2); HTTP/1.0 too. */
    ck_assert_int_eq(parse("GET /metrics HTTP/1.0\nAccept: */*\n\n", &r, &st), RTC_OK);
    ck_assert_int_eq(r.version_minor, 0);
    ck_assert_ptr_null(r.query);
    ck_assert(!r.has_content_length);
}
END_TEST

START_TEST(parser_waits_for_more_and_refuses_bad_input) {
    st_http_request_t r;
    int st;
    ck_assert_int_eq(parse("", &r, &st), RTC_ERR_AGAIN);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n", &r, &st), RTC_ERR_AGAIN);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r", &r, &st), RTC_ERR_AGAIN);
    static const struct {
        const char *req;
        int status;
    } bad[] = {
        {"GET / HTTP/1.1 extra\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET http://example.com/ HTTP/1.1\r\n\r\n", 400},
        {"G@T / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\n\r\n", 505},
        {"GET / HTTX/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = 0;
        int rc = parse(bad[i].req, &r, &st);
        ck_assert_msg(rc < 0 && rc != RTC_ERR_AGAIN && st == bad[i].status,
                      "case %zu: rc %d status %d, want %d", i, rc, st, bad[i].status);
    }
    /* Bytes that cannot begin a request are refused before the line is complete. */
    ck_assert_int_eq(parse("\x16\x03\x01", &r, &st), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st, 400);
    ck_assert_int_eq(parse("GE", &r, &st), RTC_ERR_AGAIN);
    ck_assert_int_eq(parse("GET /partial", &r, &st), RTC_ERR_AGAIN);
    /* Equal duplicate Content-Length values are tolerated (RFC 9112 §6.3). */
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", &r, &st), RTC_OK);
    /* Head over the limit: 431 whether or not it is complete. */
    char big[2048];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %01900d\r\n", 0);
    ck_assert_int_eq(parse(big, &r, &st), RTC_ERR_LIMIT);
    ck_assert_int_eq(st, 431);
    rtc_buf_t many;
    rtc_buf_init(&many);
    rtc_buf_append_str(&many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < ST_HTTP_MAX_HEADERS + 1; i++) rtc_buf_append_str(&many, "A: b\r\n");
    rtc_buf_append_str(&many, "\r\n");
    ck_assert_int_eq(st_http_parse_request(many.data, many.len, NULL, &r, &st), RTC_ERR_LIMIT);
    ck_assert_int_eq(st, 431);
    rtc_buf_free(&many);
}
END_TEST

START_TEST(percent_decoding) {
    char out[32];
    ck_assert_int_eq(st_http_percent_decode("a%41%7e+b", 9, true, out, sizeof out), 5);
    ck_assert_str_eq(out, "aA~ b");
    ck_assert_int_eq(st_http_percent_decode("a+b", 3, false, out, sizeof out), 3);
    ck_assert_str_eq(out, "a+b");
    ck_assert_int_eq(st_http_percent_decode("%zz", 3, true, out, sizeof out), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_http_percent_decode("%4", 2, true, out, sizeof out), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_http_percent_decode("%00", 3, true, out, sizeof out), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_http_percent_decode("abcd", 4, true, out, 4), RTC_ERR_OVERFLOW);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * A server on its own loop thread.
 */
typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    uv_async_t stop_listening;
    st_http_server_t *srv;
    st_metrics_t *metrics;
    st_health_t *health;
    pthread_t thread;
    uint16_t port;
} fixture_t;

static fixture_t fx;

static void hello(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)req;
    (void)user;
    st_http_reply_text(res, 200, "hello");
}

static void echo(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)user;
    st_http_reply(res, 200, "application/octet-stream", req->body, req->body_len);
    char n[32];
    snprintf(n, sizeof n, "%zu", req->body_len);
    st_http_response_header(res, "X-Length", n);
}

static void no_status(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)req;
    (void)user;
    (void)res;
}

/* What starling-turn's POST /?service=turn&username=NAME does. */
static void turn_credentials(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)user;
    char service[16], name[128];
    if (st_http_query_param(req, "service", service, sizeof service) < 0 || strcmp(service, "turn") != 0 ||
        st_http_query_param(req, "username", name, sizeof name) <= 0) {
        st_http_reply_error(res, 400, "need service=turn and username");
        return;
    }
    char u[ST_TURN_REST_USERNAME_MAX + 1], p[ST_TURN_REST_PASSWORD_SIZE];
    int64_t exp = rtc_clock_wall_us() / RTC_US_PER_SEC + 86400;
    if (st_turn_rest_make("secret", 6, name, exp, u, sizeof u, p, sizeof p) < 0) {
        st_http_reply_error(res, 400, "username too long");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "username", u);
    cJSON_AddStringToObject(o, "password", p);
    cJSON_AddNumberToObject(o, "ttl", 86400);
    st_http_reply_json(res, 200, o);
    cJSON_Delete(o);
}

static void on_stop(uv_async_t *a) {
    st_http_server_close(fx.srv);
    uv_close((uv_handle_t *)a, NULL);
    uv_close((uv_handle_t *)&fx.stop_listening, NULL);
}

static void on_stop_listening(uv_async_t *a) {
    (void)a;
    st_http_server_stop_listening(fx.srv);
}

static void *loop_thread(void *arg) {
    (void)arg;
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_server(const st_http_options_t *opts, const char *bind) {
    signal(SIGPIPE, SIG_IGN);
    memset(&fx, 0, sizeof fx);
    ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
    fx.srv = st_http_server_new(&fx.loop, opts);
    fx.metrics = st_metrics_new();
    fx.health = st_health_new("test");
    ck_assert_int_eq(st_http_server_use_metrics(fx.srv, fx.metrics), RTC_OK);
    ck_assert_int_eq(st_http_add_standard_routes(fx.srv, fx.health, fx.metrics), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "GET", "/hello", hello, NULL), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "POST", "/echo", echo, NULL), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "PUT", "/echo", echo, NULL), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "POST", "/", turn_credentials, NULL), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "GET", "/boom", no_status, NULL), RTC_OK);
    ck_assert_int_eq(st_http_server_route(fx.srv, "GET", "/hello", hello, NULL), RTC_ERR_DUPLICATE);
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse(&a, bind ? bind : "127.0.0.1:0", 0), RTC_OK);
    ck_assert_int_eq(st_http_server_listen(fx.srv, &a), RTC_OK);
    rtc_addr_t local;
    ck_assert_int_eq(st_http_server_local_addr(fx.srv, 0, &local), RTC_OK);
    fx.port = local.port;
    ck_assert_uint_ne(fx.port, 0);
    uv_async_init(&fx.loop, &fx.stop, on_stop);
    uv_async_init(&fx.loop, &fx.stop_listening, on_stop_listening);
    pthread_create(&fx.thread, NULL, loop_thread, NULL);
}

static void stop_server(void) {
    uv_async_send(&fx.stop);
    pthread_join(fx.thread, NULL);
    /* Every handle closed and freed: closing the loop must succeed. */
    ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
    st_metrics_free(fx.metrics);
    st_health_free(fx.health);
}

static int connect_to(const char *ip, uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF (or `ms` pass with nothing new). Returns bytes read; *eof says whether
 * the server closed. */
static size_t read_until_close(int fd, char *buf, size_t cap, int ms, bool *eof) {
    size_t got = 0;
    *eof = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) != 1) break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *eof = true;
            break;
        }
        got += (size_t)n;
        if (got == cap - 1) break;
    }
    buf[got] = '\0';
    return got;
}

static char *request(const char *raw, size_t len) {
    int fd = connect_to("127.0.0.1", fx.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, raw, len, 0), (ssize_t)len);
    char *buf = malloc(1 << 20);
    bool eof;
    read_until_close(fd, buf, 1 << 20, 5000, &eof);
    ck_assert_msg(eof, "server did not close the connection");
    close(fd);
    return buf;
}

static char *get(const char *path) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    return request(req, (size_t)n);
}

static const char *body_of(const char *resp) {
    const char *b = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    return b + 4;
}

START_TEST(routes_404_405_head_and_500) {
    start_server(NULL, NULL);
    char *r = get("/hello");
    ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r);
    ck_assert_ptr_nonnull(strstr(r, "\r\nContent-Length: 5\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "\r\nConnection: close\r\n"));
    ck_assert_str_eq(body_of(r), "hello");
    free(r);

    r = get("/nope");
    ck_assert(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    ck_assert_ptr_nonnull(strstr(r, "Content-Type: application/json"));
    cJSON *j = cJSON_Parse(body_of(r));
    ck_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring, "Not Found");
    cJSON_Delete(j);
    free(r);

    /* The path exists, the method does not: 405 with the methods that do. */
    const char *del = "DELETE /echo HTTP/1.1\r\n\r\n";
    r = request(del, strlen(del));
    ck_assert(strncmp(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: POST, PUT\r\n"));
    free(r);
    const char *post_hello = "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    r = request(post_hello, strlen(post_hello));
    ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
    free(r);

    /* HEAD: the GET's headers, no body. */
    const char *head = "HEAD /hello HTTP/1.1\r\n\r\n";
    r = request(head, strlen(head));
    ck_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert_ptr_nonnull(strstr(r, "Content-Length: 5\r\n"));
    ck_assert_str_eq(body_of(r), "");
    free(r);

    r = get("/boom");
    ck_assert(strncmp(r, "HTTP/1.1 500 ", 13) == 0);
    free(r);
    stop_server();
}
END_TEST

START_TEST(bodies_arrive_in_pieces_and_are_echoed) {
    start_server(NULL, NULL);
    int fd = connect_to("127.0.0.1", fx.port);
    const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n";
    send(fd, head, 20, 0); /* split inside the request line ... */
    usleep(30000);
    send(fd, head + 20, strlen(head) - 20, 0);
    usleep(30000);
    send(fd, "hello ", 6, 0); /* ... and inside the body */
    usleep(30000);
    send(fd, "world", 5, 0);
    char buf[4096];
    bool eof;
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert(eof);
    ck_assert_ptr_nonnull(strstr(buf, "X-Length: 11\r\n"));
    ck_assert_str_eq(body_of(buf), "hello world");

    /* A 60 KiB binary body (under the 64 KiB default limit), NULs included. */
    size_t n = 60 * 1024;
    char *req = malloc(n + 128);
    int hl = snprintf(req, 128, "PUT /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
    for (size_t i = 0; i < n; i++) req[hl + (int)i] = (char)(i * 7);
    char *r = request(req, (size_t)hl + n);
    const char *b = body_of(r);
    ck_assert(memcmp(b, req + hl, n) == 0);
    free(r);
    free(req);
    stop_server();
}
END_TEST

START_TEST(oversized_head_and_body_get_431_and_413_without_harm) {
    st_http_options_t o = {.max_head_bytes = 4096, .max_body_bytes = 1000};
    start_server(&o, NULL);
    /* Headers far beyond the limit, still arriving when the server answers. */
    rtc_buf_t big;
    rtc_buf_init(&big);
    rtc_buf_append_str(&big, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 2000; i++) rtc_buf_appendf(&big, "X-Filler-%d: %032d\r\n", i, i);
    rtc_buf_append_str(&big, "\r\n");
    int fd = connect_to("127.0.0.1", fx.port);
    size_t sent = 0;
    while (sent < big.len) {
        ssize_t w = send(fd, big.data + sent, big.len - sent, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may close once it has answered */
        sent += (size_t)w;
    }
    char buf[4096];
    bool eof;
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0, "%s", buf);
    rtc_buf_free(&big);

    /* A declared body over the limit is refused before it is read; the client that sends it
     * anyway still gets to read the 413 (the server drains instead of resetting). */
    fd = connect_to("127.0.0.1", fx.port);
    const char *head = "POST /echo HTTP/1.1\r\nContent-Length: 200000\r\n\r\n";
    send(fd, head, strlen(head), 0);
    char *junk = calloc(1, 200000);
    ssize_t w = send(fd, junk, 200000, MSG_NOSIGNAL);
    (void)w;
    free(junk);
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413 Content Too Large\r\n", 32) == 0, "%s", buf);

    const char *others[] = {"GET / HTTP/2.0\r\n\r\n", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03"}; /* TLS hello */
    const char *want[] = {"HTTP/1.1 505 ", "HTTP/1.1 501 ", "HTTP/1.1 400 "};
    for (int i = 0; i < 3; i++) {
        char *r = request(others[i], strlen(others[i]));
        ck_assert_msg(strncmp(r, want[i], 13) == 0, "%d: %s", i, r);
        free(r);
    }
    /* And the server is fine afterwards. */
    char *r = get("/hello");
    ck_assert_str_eq(body_of(r), "hello");
    free(r);
    stop_server();
}
END_TEST

START_TEST(slow_and_idle_clients_are_cut_off) {
    st_http_options_t o = {.request_timeout_ms = 300};
    start_server(&o, NULL);
    /* Half a request, then silence: 408 and close once the timeout passes. */
    int fd = connect_to("127.0.0.1", fx.port);
    const char *part = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    send(fd, part, strlen(part), 0);
    char buf[4096];
    bool eof;
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert(eof);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0, "%s", buf);

    /* Slowloris: a byte every 50 ms keeps the connection busy but never finishes in time. */
    fd = connect_to("127.0.0.1", fx.port);
    const char *slow = "GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    size_t i = 0;
    bool cut = false;
    for (; i < strlen(slow); i++) {
        if (send(fd, slow + i, 1, MSG_NOSIGNAL) != 1) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            cut = true;
            break;
        }
    }
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert_msg(cut && eof, "slow client was not cut off (sent %zu bytes)", i);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "%s", buf);

    /* An idle connection that sends nothing at all is closed too. */
    fd = connect_to("127.0.0.1", fx.port);
    read_until_close(fd, buf, sizeof buf, 5000, &eof);
    close(fd);
    ck_assert(eof);
    stop_server();
}
END_TEST

START_TEST(connections_over_the_cap_get_503) {
    st_http_options_t o = {.max_connections = 2};
    start_server(&o, NULL);
    int a = connect_to("127.0.0.1", fx.port), b = connect_to("127.0.0.1", fx.port);
    usleep(100000);
    int c = connect_to("127.0.0.1", fx.port);
    char buf[4096];
    bool eof;
    read_until_close(c, buf, sizeof buf, 5000, &eof);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
    close(c);
    close(a);
    close(b);
    /* Capacity comes back once the server has seen the two closes. */
    bool ok = false;
    for (int i = 0; i < 100 && !ok; i++) {
        char *r = get("/hello");
        ok = strncmp(r, "HTTP/1.1 200 ", 13) == 0;
        free(r);
        if (!ok) usleep(50000);
    }
    ck_assert(ok);
    stop_server();
}
END_TEST

static char *sh(const char *cmd) {
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(1, 1 << 20);
    size_t n = fread(out, 1, (1 << 20) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    ck_assert_msg(st == 0, "`%s` failed (%d):\n%s", cmd, st, out);
    return out;
}

START_TEST(curl_talks_to_the_server) {
    start_server(NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "curl -sS --max-time 10 -i http://127.0.0.1:%u/hello", fx.port);
    char *out = sh(cmd);
    ck_assert_msg(strncmp(out, "HTTP/1.1 200 OK", 15) == 0, "%s", out);
    ck_assert_str_eq(body_of(out), "hello");
    free(out);

    /* The TURN REST endpoint shape: POST /?service=turn&username=NAME. */
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 10 -X POST 'http://127.0.0.1:%u/?service=turn&username=alice%%40example.org'",
             fx.port);
    out = sh(cmd);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "%s", out);
    const char *u = cJSON_GetObjectItem(j, "username")->valuestring;
    const char *p = cJSON_GetObjectItem(j, "password")->valuestring;
    ck_assert_ptr_nonnull(strstr(u, ":alice@example.org"));
    ck_assert_int_eq(st_turn_rest_verify("secret", 6, u, strlen(u), p, strlen(p),
                                         rtc_clock_wall_us() / RTC_US_PER_SEC), RTC_OK);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 -o /dev/null -w '%%{http_code}' -X POST 'http://127.0.0.1:%u/?service=turn'",
             fx.port);
    out = sh(cmd);
    ck_assert_str_eq(out, "400");
    free(out);

    /* A client that asks "Expect: 100-continue" waits for our 100 before the body. */
    snprintf(cmd, sizeof cmd,
             "head -c 5000 /dev/zero | tr '\\0' 'z' | curl -sS --max-time 10 -v "
             "-H 'Expect: 100-continue' --expect100-timeout 8 --data-binary @- "
             "http://127.0.0.1:%u/echo 2>&1",
             fx.port);
    out = sh(cmd);
    ck_assert_ptr_nonnull(strstr(out, "Expect: 100-continue"));
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 100 Continue"));
    ck_assert_ptr_nonnull(strstr(out, "X-Length: 5000"));
    free(out);

    snprintf(cmd, sizeof cmd, "curl -sS --max-time 10 -I http://127.0.0.1:%u/metrics", fx.port);
    out = sh(cmd);
    ck_assert_ptr_nonnull(strstr(out, "Content-Type: text/plain; version=0.0.4"));
    free(out);
    stop_server();
}
END_TEST

START_TEST(metrics_and_health_endpoints) {
    start_server(NULL, NULL);
    free(get("/nope"));
    free(get("/nope"));
    free(get("/hello"));
    char *r = get("/metrics");
    ck_assert_ptr_nonnull(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    ck_assert_ptr_nonnull(strstr(r, "http_requests_total{code=\"404\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(r, "http_requests_total{code=\"200\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r, "http_request_duration_seconds_count 3\n"));
    free(r);

    r = get("/healthz");
    ck_assert(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
    cJSON *j = cJSON_Parse(body_of(r));
    ck_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "ok");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "service")->valuestring, "test");
    cJSON_Delete(j);
    free(r);

    st_health_set(fx.health, "redis", false, "connection refused");
    r = get("/healthz");
    ck_assert(strncmp(r, "HTTP/1.1 503 ", 13) == 0);
    j = cJSON_Parse(body_of(r));
    ck_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "failing");
    cJSON *redis = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "checks"), "redis");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(redis, "ok")));
    ck_assert_str_eq(cJSON_GetObjectItem(redis, "detail")->valuestring, "connection refused");
    cJSON_Delete(j);
    free(r);

    st_health_set(fx.health, "redis", true, "connected");
    st_health_set_draining(fx.health, true);
    r = get("/healthz");
    ck_assert(strncmp(r, "HTTP/1.1 503 ", 13) == 0);
    ck_assert_ptr_nonnull(strstr(r, "\"status\":\"draining\""));
    free(r);
    stop_server();
}
END_TEST

START_TEST(binds_only_the_configured_address_and_stops_listening) {
    start_server(NULL, "127.0.0.2:0");
    int fd = connect_to("127.0.0.1", fx.port);
    ck_assert_int_lt(fd, 0); /* not on 127.0.0.1, only where it was told */
    fd = connect_to("127.0.0.2", fx.port);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* Draining: stop accepting; the port is then closed. */
    uv_async_send(&fx.stop_listening);
    for (int i = 0; i < 50 && (fd = connect_to("127.0.0.2", fx.port)) >= 0; i++) {
        close(fd);
        usleep(20000);
    }
    ck_assert_int_lt(fd, 0);
    stop_server();
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parser_reads_request_line_headers_and_query);
    tcase_add_test(tc, parser_waits_for_more_and_refuses_bad_input);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, routes_404_405_head_and_500);
    tcase_add_test(tc, bodies_arrive_in_pieces_and_are_echoed);
    tcase_add_test(tc, oversized_head_and_body_get_431_and_413_without_harm);
    tcase_add_test(tc, slow_and_idle_clients_are_cut_off);
    tcase_add_test(tc, connections_over_the_cap_get_503);
    tcase_add_test(tc, curl_talks_to_the_server);
    tcase_add_test(tc, metrics_and_health_endpoints);
    tcase_add_test(tc, binds_only_the_configured_address_and_stops_listening);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
