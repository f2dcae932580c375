/* A small WebSocket client (RFC 6455) for the loadtest: how its simulated participants reach
 * starling-signal (docs/signalling.md) and Janus's WebSocket transport.
 *
 * Two parts, as everywhere in this tree:
 *   - a sans-I/O codec: the opening handshake (request writer, response checker) and the
 *     frame format (client frames are written masked; server frames are parsed, never
 *     trusting a length). tests/unit/test_loadtest_ws.c checks it against the RFC's
 *     examples; tests/fuzz/fuzz_loadtest_ws.c fuzzes both parsers.
 *   - a libuv client (lt_ws_connect): TCP to a numeric address, the handshake, text messages
 *     in and out (fragmented messages reassembled), pings answered, close handshake.
 * No TLS (ws:// only), no extensions (no permessage-deflate), text and binary frames only.
 */
#ifndef LT_WS_H
#define LT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#define LT_WS_OP_CONT 0x0
#define LT_WS_OP_TEXT 0x1
#define LT_WS_OP_BINARY 0x2
#define LT_WS_OP_CLOSE 0x8
#define LT_WS_OP_PING 0x9
#define LT_WS_OP_PONG 0xa

/* ---- handshake (RFC 6455 §4.1, §4.2.2) --------------------------------------------------- */

/* The Sec-WebSocket-Accept value for a key: base64(SHA-1(key + the RFC's GUID)). out needs 29
 * bytes. Returns RTC_OK or a negative rtc_err_t. */
int lt_ws_accept_for_key(const char *key, char out[29]);

/* Appends the client's opening handshake for ws://host/path to out. protocol (may be NULL) is
 * sent as Sec-WebSocket-Protocol; key is the base64 of 16 random bytes. */
int lt_ws_write_request(rtc_buf_t *out, const char *host, const char *path, const char *protocol,
                        const char *key);

/* Checks the server's handshake response in p[0..n): returns the length of the header block
 * (through the blank line) when it is complete and accepts the upgrade (status 101, Upgrade:
 * websocket, Connection: upgrade, the right Sec-WebSocket-Accept, and the protocol asked for
 * if any), 0 when more bytes are needed, RTC_ERR_PROTOCOL when the server refused or
 * answered wrongly (status in *status when it got that far), RTC_ERR_MALFORMED for a header
 * block that does not parse or exceeds 16 KiB. */
int lt_ws_parse_response(const uint8_t *p, size_t n, const char *key, const char *protocol, int *status);

/* ---- frames (RFC 6455 §5.2) -------------------------------------------------------------- */

typedef struct {
    bool fin;
    uint8_t opcode;
    const uint8_t *payload; /* points into the input (unmasked in place when the frame was masked) */
    size_t len;
} lt_ws_frame_t;

/* Parses one frame at p[0..n). Returns the frame's total length (> 0) with *f filled, 0 when
 * more bytes are needed, or RTC_ERR_MALFORMED (reserved bits set, unknown opcode, control
 * frame fragmented or over 125 bytes, a 64-bit length with the top bit set or a non-minimal
 * length encoding) or RTC_ERR_LIMIT (payload over max_payload). Masked frames (which a server
 * must not send) are refused with RTC_ERR_PROTOCOL unless allow_masked (the server side, used
 * by the tests); their payload is unmasked in place, hence the non-const p. */
int64_t lt_ws_parse_frame(uint8_t *p, size_t n, size_t max_payload, bool allow_masked, lt_ws_frame_t *f);

/* Appends one client frame (FIN set, masked with mask) to out. */
int lt_ws_write_frame(rtc_buf_t *out, uint8_t opcode, const void *payload, size_t n, uint32_t mask);

/* ---- libuv client ------------------------------------------------------------------------- */

struct uv_loop_s;
typedef struct lt_ws lt_ws_t;

typedef struct {
    /* The handshake completed: messages may be sent. */
    void (*on_open)(void *user, lt_ws_t *ws);
    /* One whole text message (NUL-terminated copy; valid during the call). */
    void (*on_text)(void *user, lt_ws_t *ws, char *msg, size_t n);
    /* The connection is gone (refused, handshake failed, closed by the server with `code`,
     * or broken: code 1006). Called once; the object is freed after it returns unless
     * lt_ws_close was called earlier (then on_closed is not called at all). */
    void (*on_closed)(void *user, lt_ws_t *ws, int code, const char *why);
} lt_ws_callbacks_t;

/* Connects to ws://server/path (numeric address). host is the Host header value. Returns
 * NULL when the socket cannot be created; failures after that arrive as on_closed. */
lt_ws_t *lt_ws_connect(struct uv_loop_s *loop, const rtc_addr_t *server, const char *path,
                       const char *protocol, const lt_ws_callbacks_t *cb, void *user);
/* Sends one text message. RTC_ERR_STATE before on_open or after close. */
int lt_ws_send_text(lt_ws_t *ws, const char *s, size_t n);
/* Sends a close frame (1000) when open, then closes the socket; no callback after this. The
 * object is freed once libuv has closed the handle. NULL is a no-op. */
void lt_ws_close(lt_ws_t *ws);
bool lt_ws_is_open(const lt_ws_t *ws);

#endif
