/* WebSocket client (RFC 6455): sans-I/O handshake and frame codec, plus a libuv client. */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_HEADER 16384
#define WS_MAX_MESSAGE (1u << 20)

/* ---- handshake ----------------------------------------------------------------------------- */

int lt_ws_accept_for_key(const char *key, char out[29]) {
    rtc_iov_t parts[2] = {{key, strlen(key)}, {WS_GUID, sizeof WS_GUID - 1}};
    uint8_t sha[RTC_SHA1_LEN];
    int rc = rtc_digest(RTC_DIGEST_SHA1, parts, 2, sha);
    if (rc < 0) return rc;
    rc = rtc_base64_encode(sha, sizeof sha, out, 29);
    return rc < 0 ? rc : RTC_OK;
}

int lt_ws_write_request(rtc_buf_t *out, const char *host, const char *path, const char *protocol,
                        const char *key) {
    int rc = rtc_buf_appendf(out,
                             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                             path, host, key);
    if (rc == RTC_OK && protocol && *protocol) rc = rtc_buf_appendf(out, "Sec-WebSocket-Protocol: %s\r\n", protocol);
    if (rc == RTC_OK) rc = rtc_buf_append_str(out, "\r\n");
    return rc;
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *token) {
    size_t tl = strlen(token), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0) return true;
    }
    return false;
}

int lt_ws_parse_response(const uint8_t *p, size_t n, const char *key, const char *protocol, int *status) {
    if (status) *status = 0;
    const char *s = (const char *)p;
    size_t end = 0;
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            end = i + 4;
            break;
        }
    }
    if (!end) return n > WS_MAX_HEADER ? RTC_ERR_MALFORMED : 0;
    if (end > WS_MAX_HEADER) return RTC_ERR_MALFORMED;
    /* Status line: HTTP/1.1 SP 3DIGIT SP reason */
    if (end < 13 || memcmp(s, "HTTP/1.1 ", 9) != 0) return RTC_ERR_MALFORMED;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9') return RTC_ERR_MALFORMED;
        code = code * 10 + (s[i] - '0');
    }
    if (status) *status = code;
    if (code != 101) return RTC_ERR_PROTOCOL;
    char want[29];
    if (lt_ws_accept_for_key(key, want) != RTC_OK) return RTC_ERR_FAILED;
    bool upgrade = false, connection = false, accept = false, proto_ok = !(protocol && *protocol);
    size_t i = 0;
    while (i < end && s[i] != '\n') i++; /* past the status line */
    i++;
    while (i + 2 <= end) {
        size_t ls = i;
        while (i < end && s[i] != '\n') i++;
        if (i >= end) return RTC_ERR_MALFORMED;
        size_t le = i; /* at '\n' */
        i++;
        if (le == ls || s[le - 1] != '\r') return RTC_ERR_MALFORMED;
        le--; /* at '\r' */
        if (le == ls) break; /* the blank line */
        const char *colon = memchr(s + ls, ':', le - ls);
        if (!colon || colon == s + ls) return RTC_ERR_MALFORMED;
        size_t nl = (size_t)(colon - (s + ls));
        const char *v = colon + 1;
        size_t vl = le - (size_t)(v - s);
        while (vl && (*v == ' ' || *v == '\t')) { v++; vl--; }
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
#define IS(name) (nl == sizeof name - 1 && strncasecmp(s + ls, name, nl) == 0)
        if (IS("Upgrade")) upgrade = has_token(v, vl, "websocket");
        else if (IS("Connection")) connection = has_token(v, vl, "upgrade");
        else if (IS("Sec-WebSocket-Accept")) accept = vl == 28 && memcmp(v, want, 28) == 0;
        else if (IS("Sec-WebSocket-Protocol"))
            proto_ok = protocol && *protocol && vl == strlen(protocol) && memcmp(v, protocol, vl) == 0;
        else if (IS("Sec-WebSocket-Extensions") && vl) return RTC_ERR_PROTOCOL; /* we asked for none */
#undef IS
    }
    if (!upgrade || !connection || !accept || !proto_ok) return RTC_ERR_PROTOCOL;
    return (int)end;
}

/* ---- frames -------------------------------------------------------------------------------- */

int64_t lt_ws_parse_frame(uint8_t *p, size_t n, size_t max_payload, bool allow_masked, lt_ws_frame_t *f) {
    if (n < 2) return 0;
    uint8_t b0 = p[0], b1 = p[1];
    if (b0 & 0x70) return RTC_ERR_MALFORMED;
    uint8_t op = b0 & 0x0f;
    if (op != LT_WS_OP_CONT && op != LT_WS_OP_TEXT && op != LT_WS_OP_BINARY && op != LT_WS_OP_CLOSE &&
        op != LT_WS_OP_PING && op != LT_WS_OP_PONG)
        return RTC_ERR_MALFORMED;
    bool fin = b0 & 0x80, masked = b1 & 0x80;
    if (masked && !allow_masked) return RTC_ERR_PROTOCOL;
    uint64_t len = b1 & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = rtc_be16(p + 2);
        if (len < 126) return RTC_ERR_MALFORMED;
        hdr = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = rtc_be64(p + 2);
        if (len >> 63 || len < 65536) return RTC_ERR_MALFORMED;
        hdr = 10;
    }
    if (op & 0x8) {
        if (!fin || len > 125) return RTC_ERR_MALFORMED;
    }
    if (len > max_payload) return RTC_ERR_LIMIT;
    size_t mask_at = hdr;
    if (masked) hdr += 4;
    if (n < hdr || n - hdr < len) return 0;
    uint8_t *pl = p + hdr;
    if (masked) {
        const uint8_t *m = p + mask_at;
        for (size_t i = 0; i < len; i++) pl[i] ^= m[i & 3];
    }
    f->fin = fin;
    f->opcode = op;
    f->payload = pl;
    f->len = (size_t)len;
    return (int64_t)(hdr + len);
}

int lt_ws_write_frame(rtc_buf_t *out, uint8_t opcode, const void *payload, size_t n, uint32_t mask) {
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        h[hl++] = 0x80 | 126;
        rtc_put_be16(h + hl, (uint16_t)n);
        hl += 2;
    } else {
        h[hl++] = 0x80 | 127;
        rtc_put_be64(h + hl, (uint64_t)n);
        hl += 8;
    }
    uint8_t m[4];
    rtc_put_be32(m, mask);
    memcpy(h + hl, m, 4);
    hl += 4;
    if (rtc_buf_reserve(out, hl + n) != RTC_OK) return RTC_ERR_NOMEM;
    rtc_buf_append(out, h, hl);
    uint8_t *dst = out->data + out->len;
    const uint8_t *src = payload;
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ m[i & 3];
    out->len += n;
    return RTC_OK;
}

/* ---- libuv client --------------------------------------------------------------------------- */

typedef enum { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_DONE } ws_state_t;

struct lt_ws {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_shutdown_t shut;
    ws_state_t state;
    bool user_closed;   /* lt_ws_close called: no more callbacks */
    bool handle_closing;
    lt_ws_callbacks_t cb;
    void *user;
    char key[25];
    char protocol[64];
    rtc_buf_t in;       /* bytes received, not yet parsed */
    rtc_buf_t msg;      /* a fragmented message being reassembled */
    uint8_t msg_op;
    bool in_msg;
    char rbuf[65536];
};

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
} wreq_t;

static void on_handle_closed(uv_handle_t *h) {
    lt_ws_t *ws = h->data;
    rtc_buf_free(&ws->in);
    rtc_buf_free(&ws->msg);
    free(ws);
}

static void close_handle(lt_ws_t *ws) {
    if (ws->handle_closing) return;
    ws->handle_closing = true;
    uv_close((uv_handle_t *)&ws->tcp, on_handle_closed);
}

/* The connection ended: tell the user once (unless they closed it), then close the handle. */
static void finish(lt_ws_t *ws, int code, const char *why) {
    if (ws->state == WS_DONE) return;
    ws->state = WS_DONE;
    uv_read_stop((uv_stream_t *)&ws->tcp);
    if (!ws->user_closed && ws->cb.on_closed) ws->cb.on_closed(ws->user, ws, code, why);
    close_handle(ws);
}

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static int write_raw(lt_ws_t *ws, const void *p, size_t n) {
    wreq_t *w = malloc(sizeof *w + n);
    if (!w) return RTC_ERR_NOMEM;
    memcpy(w->data, p, n);
    w->buf = uv_buf_init(w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&ws->tcp, &w->buf, 1, on_written);
    if (rc) {
        free(w);
        return RTC_ERR_IO;
    }
    return RTC_OK;
}

static int send_frame(lt_ws_t *ws, uint8_t op, const void *p, size_t n) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    int rc = lt_ws_write_frame(&b, op, p, n, rtc_random_u32());
    if (rc == RTC_OK) rc = write_raw(ws, b.data, b.len);
    rtc_buf_free(&b);
    return rc;
}

static void deliver(lt_ws_t *ws, uint8_t op, const uint8_t *p, size_t n) {
    if (op != LT_WS_OP_TEXT || !ws->cb.on_text) return; /* binary messages are not ours to read */
    char *s = malloc(n + 1);
    if (!s) return;
    memcpy(s, p, n);
    s[n] = '\0';
    ws->cb.on_text(ws->user, ws, s, n);
    free(s);
}

/* Handles one parsed frame; false when the connection ended. */
static bool handle_frame(lt_ws_t *ws, const lt_ws_frame_t *f) {
    switch (f->opcode) {
    case LT_WS_OP_PING:
        send_frame(ws, LT_WS_OP_PONG, f->payload, f->len);
        return true;
    case LT_WS_OP_PONG:
        return true;
    case LT_WS_OP_CLOSE: {
        int code = f->len >= 2 ? rtc_be16(f->payload) : 1005;
        char why[126] = "";
        if (f->len > 2) {
            memcpy(why, f->payload + 2, f->len - 2);
            why[f->len - 2] = '\0';
        }
        uint8_t echo[2];
        rtc_put_be16(echo, (uint16_t)(f->len >= 2 ? code : 1000));
        send_frame(ws, LT_WS_OP_CLOSE, echo, 2);
        finish(ws, code, why);
        return false;
    }
    case LT_WS_OP_CONT:
        if (!ws->in_msg) { finish(ws, 1002, "continuation without a message"); return false; }
        if (ws->msg.len + f->len > WS_MAX_MESSAGE) { finish(ws, 1009, "message too large"); return false; }
        rtc_buf_append(&ws->msg, f->payload, f->len);
        if (f->fin) {
            ws->in_msg = false;
            deliver(ws, ws->msg_op, ws->msg.data, ws->msg.len);
            rtc_buf_clear(&ws->msg);
        }
        return ws->state == WS_OPEN;
    default: /* text, binary */
        if (ws->in_msg) { finish(ws, 1002, "new message inside a fragmented one"); return false; }
        if (f->fin) {
            deliver(ws, f->opcode, f->payload, f->len);
        } else {
            ws->in_msg = true;
            ws->msg_op = f->opcode;
            rtc_buf_clear(&ws->msg);
            rtc_buf_append(&ws->msg, f->payload, f->len);
        }
        return ws->state == WS_OPEN;
    }
}

static void process_input(lt_ws_t *ws) {
    size_t off = 0;
    if (ws->state == WS_HANDSHAKE) {
        int status = 0;
        int rc = lt_ws_parse_response(ws->in.data, ws->in.len, ws->key, ws->protocol, &status);
        if (rc == 0) return;
        if (rc < 0) {
            char why[64];
            snprintf(why, sizeof why, "handshake refused (HTTP %d, %s)", status, rtc_strerror(rc));
            finish(ws, 1002, why);
            return;
        }
        off = (size_t)rc;
        ws->state = WS_OPEN;
        if (!ws->user_closed && ws->cb.on_open) ws->cb.on_open(ws->user, ws);
        if (ws->state != WS_OPEN) return;
    }
    while (ws->state == WS_OPEN && off < ws->in.len) {
        lt_ws_frame_t f;
        int64_t rc = lt_ws_parse_frame(ws->in.data + off, ws->in.len - off, WS_MAX_MESSAGE, false, &f);
        if (rc == 0) break;
        if (rc < 0) {
            finish(ws, 1002, rtc_strerror((int)rc));
            return;
        }
        off += (size_t)rc;
        if (!handle_frame(ws, &f)) return;
    }
    if (ws->state == WS_DONE) return;
    if (off) {
        memmove(ws->in.data, ws->in.data + off, ws->in.len - off);
        ws->in.len -= off;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    lt_ws_t *ws = h->data;
    *buf = uv_buf_init(ws->rbuf, sizeof ws->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    lt_ws_t *ws = s->data;
    if (nread < 0) {
        finish(ws, 1006, nread == UV_EOF ? "connection closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || ws->state == WS_DONE) return;
    if (rtc_buf_append(&ws->in, buf->base, (size_t)nread) != RTC_OK) {
        finish(ws, 1006, "out of memory");
        return;
    }
    process_input(ws);
}

static void on_connected(uv_connect_t *req, int status) {
    lt_ws_t *ws = req->data;
    if (ws->state == WS_DONE) return;
    if (status < 0) {
        finish(ws, 1006, uv_strerror(status));
        return;
    }
    ws->state = WS_HANDSHAKE;
    rtc_buf_t b;
    rtc_buf_init(&b);
    const char *host = ws->rbuf; /* stashed by lt_ws_connect */
    const char *path = ws->rbuf + 256;
    int rc = lt_ws_write_request(&b, host, path, ws->protocol, ws->key);
    if (rc == RTC_OK) rc = write_raw(ws, b.data, b.len);
    rtc_buf_free(&b);
    if (rc != RTC_OK) {
        finish(ws, 1006, "cannot send the handshake");
        return;
    }
    if (uv_read_start((uv_stream_t *)&ws->tcp, on_alloc, on_read) != 0) finish(ws, 1006, "read failed");
}

lt_ws_t *lt_ws_connect(uv_loop_t *loop, const rtc_addr_t *server, const char *path, const char *protocol,
                       const lt_ws_callbacks_t *cb, void *user) {
    lt_ws_t *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->cb = *cb;
    ws->user = user;
    rtc_buf_init(&ws->in);
    rtc_buf_init(&ws->msg);
    snprintf(ws->protocol, sizeof ws->protocol, "%s", protocol ? protocol : "");
    uint8_t nonce[16];
    rtc_random_bytes(nonce, sizeof nonce);
    rtc_base64_encode(nonce, sizeof nonce, ws->key, sizeof ws->key);
    /* Host and path wait in the read buffer until the TCP connection is up. */
    rtc_addr_format(server, ws->rbuf, 256);
    snprintf(ws->rbuf + 256, 256, "%s", path && *path ? path : "/");
    struct sockaddr_storage ss;
    if (uv_tcp_init(loop, &ws->tcp) != 0) {
        free(ws);
        return NULL;
    }
    ws->tcp.data = ws;
    ws->conn.data = ws;
    if (rtc_addr_to_sockaddr(server, &ss, sizeof ss) < 0 ||
        uv_tcp_connect(&ws->conn, &ws->tcp, (struct sockaddr *)&ss, on_connected) != 0) {
        ws->state = WS_DONE;
        close_handle(ws);
        return NULL;
    }
    uv_tcp_nodelay(&ws->tcp, 1);
    return ws;
}

int lt_ws_send_text(lt_ws_t *ws, const char *s, size_t n) {
    if (!ws || ws->state != WS_OPEN || ws->user_closed) return RTC_ERR_STATE;
    return send_frame(ws, LT_WS_OP_TEXT, s, n);
}

bool lt_ws_is_open(const lt_ws_t *ws) { return ws && ws->state == WS_OPEN && !ws->user_closed; }

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    close_handle(req->data);
}

void lt_ws_close(lt_ws_t *ws) {
    if (!ws || ws->user_closed) return;
    ws->user_closed = true;
    if (ws->state == WS_OPEN) {
        uint8_t code[2];
        rtc_put_be16(code, 1000);
        send_frame(ws, LT_WS_OP_CLOSE, code, 2);
        ws->state = WS_DONE;
        uv_read_stop((uv_stream_t *)&ws->tcp);
        ws->shut.data = ws;
        if (uv_shutdown(&ws->shut, (uv_stream_t *)&ws->tcp, on_shutdown) == 0) return;
        close_handle(ws);
        return;
    }
    if (ws->state == WS_DONE) return; /* finish() already closes the handle */
    ws->state = WS_DONE;
    close_handle(ws);
}
