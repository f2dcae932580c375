/*
 * common/http.h — a small HTTP/1.1 server on libuv for /metrics, /healthz and a few JSON
 * endpoints (starling-turn's credential endpoint, starling-sfu's status). Not a general web
 * server: starling-signal serves its own HTTP through libwebsockets.
 *
 * One request per connection ("Connection: close"), GET/HEAD/POST with a Content-Length
 * body (no chunked uploads: 501), exact-path routes, handlers that answer synchronously on
 * the loop. Limits protect the service: the request head (request line + headers) and the
 * body have maximum sizes (431 / 413), the whole request must arrive within a timeout
 * (else 408 and close, which is what stops slowloris clients), and connections are capped.
 * Errors get short, clean responses: 400, 404, 405 (with Allow), 408, 413, 431, 501,
 * 505. The server listens only on the addresses it is given.
 *
 * The request parser is separate from the I/O (st_http_parse_request) so that it can be
 * fuzzed and tested without sockets.
 */
#ifndef STARLING_COMMON_HTTP_H
#define STARLING_COMMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;
struct st_metrics;

/* ------------------------------------------------------------------------------------------
 * Request parsing (sans-I/O).
 */
#define ST_HTTP_MAX_HEADERS 48

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing whitespace removed */
    size_t value_len;
} st_http_header_t;

/* Pointers refer into the buffer that was parsed; they stay valid as long as it does. */
typedef struct {
    const char *method;
    size_t method_len;
    const char *target; /* the raw request-target, e.g. "/?service=turn&username=x" */
    size_t target_len;
    const char *path;   /* target up to '?' */
    size_t path_len;
    const char *query;  /* after '?' (without it); NULL when there is none */
    size_t query_len;
    int version_minor;  /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
    st_http_header_t headers[ST_HTTP_MAX_HEADERS];
    size_t n_headers;
    bool has_content_length;
    size_t content_length;
    bool expect_continue;
    size_t head_len;    /* bytes of request line + headers + blank line */
    const uint8_t *body;/* set by the server once the body has arrived */
    size_t body_len;
} st_http_request_t;

typedef struct {
    size_t max_head_bytes; /* request line + headers; more is 431 */
    size_t max_body_bytes; /* Content-Length above this is 413 */
} st_http_limits_t;

/* Parses the request head in p[0..n). Returns RTC_OK when the head is complete (req filled,
 * req->head_len set; the body, Content-Length bytes, follows), RTC_ERR_AGAIN when more bytes
 * are needed, or a negative error with *status set to the response to send: 400 malformed,
 * 413 body too large, 431 head too large or too many headers, 501 Transfer-Encoding,
 * 505 HTTP version other than 1.0/1.1. Never reads past n. */
int st_http_parse_request(const uint8_t *p, size_t n, const st_http_limits_t *limits,
                          st_http_request_t *req, int *status);

/* Header value by case-insensitive name (first occurrence), or NULL. */
const st_http_header_t *st_http_header(const st_http_request_t *req, const char *name);

/* Percent-decodes s[0..n) into out (NUL-terminated); '+' becomes a space when plus_is_space
 * (query strings). Returns the decoded length, RTC_ERR_MALFORMED (bad %xx, or %00 which
 * would cut a C string) or RTC_ERR_OVERFLOW. */
int st_http_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap);

/* Looks up query parameter `name` (first occurrence) and decodes its value into out.
 * Returns the decoded length, RTC_ERR_NOT_FOUND, RTC_ERR_MALFORMED or RTC_ERR_OVERFLOW. A
 * parameter without '=' has the empty value. */
int st_http_query_param(const st_http_request_t *req, const char *name, char *out, size_t cap);

/* The reason phrase for a status code ("Not Found"), "Unknown" if we have none. */
const char *st_http_reason(int status);

/* ------------------------------------------------------------------------------------------
 * Server.
 */
typedef struct st_http_server st_http_server_t;

typedef struct {
    int status;               /* 0 until set; a handler that sets nothing answers 500 */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    rtc_buf_t body;
    rtc_buf_t headers;        /* extra "Name: value\r\n" lines */
} st_http_response_t;

/* Called on the loop thread; fills res before returning (res->body is an empty buffer the
 * server frees). The request, including body, is valid only during the call. */
typedef void (*st_http_handler_fn)(const st_http_request_t *req, st_http_response_t *res,
                                   void *user);

typedef struct {
    size_t max_head_bytes;      /* default 8192 */
    size_t max_body_bytes;      /* default 65536 */
    uint64_t request_timeout_ms;/* default 10000: the whole request must arrive in this */
    unsigned max_connections;   /* default 256; more are answered 503 and closed */
} st_http_options_t;

/* Creates a server on `loop` with no listeners and no routes. opts may be NULL (defaults);
 * zero fields take their defaults too. */
st_http_server_t *st_http_server_new(uv_loop_t *loop, const st_http_options_t *opts);

/* Adds a route: exact method ("GET", "POST"...) and exact path ("/metrics"). A GET route
 * also answers HEAD. The same path may have several methods; a request for a known path
 * with another method gets 405 with an Allow header. Returns RTC_OK, RTC_ERR_DUPLICATE or
 * RTC_ERR_NOMEM. Strings are copied. */
int st_http_server_route(st_http_server_t *srv, const char *method, const char *path,
                         st_http_handler_fn fn, void *user);

/* Listens on exactly `addr` (port 0 picks one; an IPv6 address is IPv6-only). May be called
 * for several addresses. Returns RTC_OK or RTC_ERR_IO (logged with the address). */
int st_http_server_listen(st_http_server_t *srv, const rtc_addr_t *addr);

/* The address of listener i (with the port the kernel chose), or RTC_ERR_NOT_FOUND. */
int st_http_server_local_addr(const st_http_server_t *srv, size_t i, rtc_addr_t *out);

/* Counts requests into `m`: http_requests_total{code} and
 * http_request_duration_seconds. Call before serving. */
int st_http_server_use_metrics(st_http_server_t *srv, struct st_metrics *m);

/* Stops accepting new connections (for draining); requests in progress finish. */
void st_http_server_stop_listening(st_http_server_t *srv);

/* Closes listeners and all connections; memory is freed once libuv has closed every handle,
 * so the loop must run afterwards (uv_run until it returns). */
void st_http_server_close(st_http_server_t *srv);

/* Response helpers. They set status, content type and body (replacing any body). */
int st_http_reply(st_http_response_t *res, int status, const char *content_type,
                  const void *body, size_t len);
int st_http_reply_text(st_http_response_t *res, int status, const char *text);
/* Serialises json (not taken over) as application/json. */
int st_http_reply_json(st_http_response_t *res, int status, const struct cJSON *json);
/* {"error":"<message>"} with the given status. */
int st_http_reply_error(st_http_response_t *res, int status, const char *message);
/* Adds an extra header line; name and value must not contain CR or LF (refused). */
int st_http_response_header(st_http_response_t *res, const char *name, const char *value);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_HTTP_H */
