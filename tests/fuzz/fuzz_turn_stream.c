/* libFuzzer target: the TURN server's TCP/TLS receive path — a byte stream cut into frames
 * with turn_server_frame_length exactly as the runtime does (arbitrary chunk sizes,
 * STUN and padded ChannelData back to back), each frame handed to a server core; plus the
 * REST username parser and the peer filter on addresses taken from the input. */
#include <stdint.h>
#include <stdlib.h>

#include "../unit/turn_harness.h"
#include "turn/peer_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_log_set_level(RTC_LOG_OFF);
    static harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    c.ep.transport = TURN_TRANSPORT_TCP;
    /* The runtime's buffer: frames are taken from the front as they complete. */
    enum { RBUF = 65536 + 4096 };
    uint8_t *rbuf = malloc(RBUF);
    size_t rlen = 0, pos = 0;
    bool dead = false;
    while (pos < size && !dead) {
        /* Chunk size from the input itself, so framing across reads is exercised. */
        size_t chunk = 1 + data[pos] % 97;
        pos++;
        if (chunk > size - pos) chunk = size - pos;
        if (rlen + chunk > RBUF) break;
        memcpy(rbuf + rlen, data + pos, chunk);
        rlen += chunk;
        pos += chunk;
        size_t off = 0;
        while (off < rlen) {
            int fl = turn_server_frame_length(h.s, rbuf + off, rlen - off);
            if (fl == RTC_ERR_AGAIN) break;
            if (fl < 0 || (size_t)fl > RBUF) { dead = true; break; }
            if (rlen - off < (size_t)fl) break;
            uint8_t *frame = malloc((size_t)fl);
            memcpy(frame, rbuf + off, (size_t)fl);
            turn_server_on_client(h.s, &c.ep, frame, (size_t)fl, h.now);
            free(frame);
            h_clear(&h);
            off += (size_t)fl;
        }
        memmove(rbuf, rbuf + off, rlen - off);
        rlen -= off;
    }
    free(rbuf);
    turn_server_on_conn_closed(h.s, &c.ep);
    h_free(&h);

    /* REST username parsing and peer filtering on input-derived values. */
    char name[64];
    size_t nl = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, nl);
    name[nl] = '\0';
    int64_t expiry;
    turn_rest_parse_expiry(name, &expiry);
    if (size >= 18) {
        static turn_peer_filter_t f;
        static bool init;
        if (!init) {
            turn_peer_filter_init(&f);
            turn_peer_filter_allow(&f, "127.0.0.1");
            init = true;
        }
        uint8_t ip[16];
        memcpy(ip, data + 2, 16);
        rtc_addr_t a, out;
        rtc_addr_set_v6(&a, ip, rtc_be16(data));
        turn_peer_filter_check(&f, &a, &out);
        rtc_addr_set_v4(&a, ip, rtc_be16(data));
        turn_peer_filter_check(&f, &a, &out);
    }
    return 0;
}
