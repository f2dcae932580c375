/* libFuzzer target: the loadtest WebSocket client's receive path (loadtest/ws.c) — the
 * server's handshake response, then the frames behind it, cut exactly as the client does
 * (lt_ws_parse_response on the accumulated bytes, then lt_ws_parse_frame frame after frame).
 * The first input byte picks the subprotocol asked for and whether masked frames are allowed
 * (the server-side mode the tests use). Checks that every frame stays inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_log_set_level(RTC_LOG_OFF);
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    int status = 0;
    const char *proto = (mode & 1) ? "janus-protocol" : NULL;
    int hl = lt_ws_parse_response(buf, size, "dGhlIHNhbXBsZSBub25jZQ==", proto, &status);
    /* Whether or not the handshake was accepted, walk the rest (or all) as frames. */
    size_t off = hl > 0 ? (size_t)hl : 0;
    if (hl > 0 && (size_t)hl > size) abort();
    while (off < size) {
        lt_ws_frame_t f;
        int64_t n = lt_ws_parse_frame(buf + off, size - off, (mode & 2) ? 1024 : 1 << 20, (mode & 4) != 0, &f);
        if (n <= 0) break;
        if ((uint64_t)n > size - off) abort();
        if (f.payload < buf + off || f.payload + f.len > buf + off + n) abort();
        if ((f.opcode & 8) && (f.len > 125 || !f.fin)) abort();
        off += (size_t)n;
    }
    free(buf);
    return 0;
}
