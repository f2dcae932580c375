/* HTTP/1.1 request-head parser (RFC 9112 §2-§6), strict where leniency invites request
 * smuggling (whitespace before the colon, obs-fold, conflicting Content-Length,
 * Transfer-Encoding) and lenient where RFC 9112 allows it (bare LF line endings, blank
 * lines before the request line). Stateless: each call re-reads the buffer from the start,
 * which is cheap because heads are capped at a few KiB. */
#include "common/http.h"

#include <ctype.h>
#include <strings.h>

#define DEFAULT_MAX_HEAD 8192
#define DEFAULT_MAX_BODY 65536

static bool is_tchar(unsigned char c) {
    if (isalnum(c)) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Next line starting at *pos, without its LF or CRLF. Returns false if no LF yet. */
static bool next_line(const uint8_t *p, size_t n, size_t *pos, const char **line, size_t *len) {
    const uint8_t *nl = memchr(p + *pos, '\n', n - *pos);
    if (!nl) return false;
    *line = (const char *)p + *pos;
    *len = (size_t)(nl - (p + *pos));
    if (*len && (*line)[*len - 1] == '\r') (*len)--;
    *pos = (size_t)(nl - p) + 1;
    return true;
}

static bool ieq(const char *a, size_t alen, const char *b) {
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

static int fail(int *status, int code) {
    *status = code;
    return code == 413 || code == 431 ? RTC_ERR_LIMIT
         : code == 501 || code == 505 ? RTC_ERR_UNSUPPORTED
                                      : RTC_ERR_MALFORMED;
}

static int parse_request_line(const char *l, size_t len, st_http_request_t *req, int *status) {
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)l[i])) i++;
    if (i == 0 || i >= len || l[i] != ' ') return fail(status, 400);
    req->method = l;
    req->method_len = i;
    size_t t = ++i;
    while (i < len && l[i] > 0x20 && l[i] < 0x7f) i++;
    if (i == t || i >= len || l[i] != ' ') return fail(status, 400);
    req->target = l + t;
    req->target_len = i - t;
    if (req->target[0] != '/') return fail(status, 400); /* origin-form only */
    const char *q = memchr(req->target, '?', req->target_len);
    req->path = req->target;
    req->path_len = q ? (size_t)(q - req->target) : req->target_len;
    if (q) {
        req->query = q + 1;
        req->query_len = req->target_len - req->path_len - 1;
    }
    const char *v = l + i + 1;
    size_t vlen = len - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]))
        return fail(status, 400);
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return fail(status, 505);
    req->version_minor = v[7] - '0';
    return RTC_OK;
}

static int parse_content_length(const char *v, size_t len, size_t *out) {
    if (len == 0 || len > 15) return RTC_ERR_MALFORMED; /* 15 digits: far above any limit */
    size_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)v[i])) return RTC_ERR_MALFORMED;
        x = x * 10 + (size_t)(v[i] - '0');
    }
    *out = x;
    return RTC_OK;
}

int st_http_parse_request(const uint8_t *p, size_t n, const st_http_limits_t *limits,
                          st_http_request_t *req, int *status) {
    int dummy;
    if (!status) status = &dummy;
    *status = 0;
    memset(req, 0, sizeof *req);
    size_t max_head = limits && limits->max_head_bytes ? limits->max_head_bytes : DEFAULT_MAX_HEAD;
    size_t max_body = limits && limits->max_body_bytes ? limits->max_body_bytes : DEFAULT_MAX_BODY;
    /* Only the first max_head bytes can hold a head we accept. */
    size_t scan = n > max_head ? max_head : n;

    size_t pos = 0;
    const char *line;
    size_t len;
    /* RFC 9112 §2.2: ignore empty lines before the request line. */
    for (;;) {
        if (!next_line(p, scan, &pos, &line, &len)) goto incomplete;
        if (len > 0) break;
    }
    int rc = parse_request_line(line, len, req, status);
    if (rc < 0) return rc;

    for (;;) {
        if (!next_line(p, scan, &pos, &line, &len)) goto incomplete;
        if (len == 0) break;
        if (line[0] == ' ' || line[0] == '\t') return fail(status, 400); /* obs-fold */
        size_t c = 0;
        while (c < len && is_tchar((unsigned char)line[c])) c++;
        if (c == 0 || c >= len || line[c] != ':') return fail(status, 400);
        size_t a = c + 1, b = len;
        while (a < b && (line[a] == ' ' || line[a] == '\t')) a++;
        while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t')) b--;
        for (size_t i = a; i < b; i++) {
            unsigned char ch = (unsigned char)line[i];
            if (ch < 0x20 ? ch != '\t' : ch == 0x7f) return fail(status, 400);
        }
        if (req->n_headers == ST_HTTP_MAX_HEADERS) return fail(status, 431);
        st_http_header_t *h = &req->headers[req->n_headers++];
        *h = (st_http_header_t){line, c, line + a, b - a};

        if (ieq(h->name, h->name_len, "content-length")) {
            size_t cl;
            if (parse_content_length(h->value, h->value_len, &cl) < 0) return fail(status, 400);
            if (req->has_content_length && cl != req->content_length) return fail(status, 400);
            req->has_content_length = true;
            req->content_length = cl;
        } else if (ieq(h->name, h->name_len, "transfer-encoding")) {
            return fail(status, 501); /* no chunked request bodies here */
        } else if (ieq(h->name, h->name_len, "expect")) {
            if (ieq(h->value, h->value_len, "100-continue")) req->expect_continue = true;
        }
    }
    req->head_len = pos;
    if (req->content_length > max_body) return fail(status, 413);
    return RTC_OK;

incomplete:
    if (n >= max_head) return fail(status, 431);
    /* Bytes that can never start a request (a TLS ClientHello sent to the plain port, a
     * binary probe) are refused now rather than after the request timeout. */
    if (!req->method) {
        size_t i = pos;
        while (i < scan && (p[i] == '\r' || p[i] == '\n')) i++;
        while (i < scan && is_tchar(p[i])) i++;
        if (i < scan && p[i] != ' ') return fail(status, 400);
    }
    return RTC_ERR_AGAIN;
}

const st_http_header_t *st_http_header(const st_http_request_t *req, const char *name) {
    for (size_t i = 0; i < req->n_headers; i++) {
        if (ieq(req->headers[i].name, req->headers[i].name_len, name)) return &req->headers[i];
    }
    return NULL;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int st_http_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap) {
    size_t o = 0;
    if (cap == 0) return RTC_ERR_OVERFLOW;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return RTC_ERR_MALFORMED;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return RTC_ERR_MALFORMED;
            c = (char)(hi << 4 | lo);
            if (c == '\0') return RTC_ERR_MALFORMED;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return RTC_ERR_MALFORMED;
        }
        if (o + 1 >= cap) return RTC_ERR_OVERFLOW;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

int st_http_query_param(const st_http_request_t *req, const char *name, char *out, size_t cap) {
    if (!req->query) return RTC_ERR_NOT_FOUND;
    const char *q = req->query, *end = req->query + req->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        const char *ke = eq ? eq : pe;
        char key[128];
        int kl = st_http_percent_decode(q, (size_t)(ke - q), true, key, sizeof key);
        if (kl >= 0 && strcmp(key, name) == 0) {
            if (!eq) {
                if (cap == 0) return RTC_ERR_OVERFLOW;
                out[0] = '\0';
                return 0;
            }
            return st_http_percent_decode(eq + 1, (size_t)(pe - eq - 1), true, out, cap);
        }
        q = pe + 1;
    }
    return RTC_ERR_NOT_FOUND;
}

const char *st_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
