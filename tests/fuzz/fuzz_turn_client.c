/* libFuzzer target for the TURN client's input path (rtc_turn_client_handle_datagram and
 * _handle_stream) in every state that input can reach.
 *
 * Each run builds a client and, steered by the first byte, walks it to a state with a scripted
 * server: allocating; allocated (optionally after a 401, so responses need integrity) with a
 * permission and a channel. The rest of the input is a list of records
 *   [op u8][len u16][bytes...]
 * where op's low bits pick: feed bytes as a datagram / as stream bytes; feed them with the
 * transaction ID of the last request the client sent patched in (so they reach response
 * handling); advance the clock and run timers; send data; bind/permit/release. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/turn.h"

typedef struct {
    uint8_t last[2048];
    size_t last_len;
    size_t bytes;
} fz_t;

static void fz_send(void *user, const uint8_t *p, size_t n) {
    fz_t *f = user;
    f->bytes += n;
    /* Remember the last request (for tid patching). */
    if (n >= RTC_STUN_HEADER_LEN && n <= sizeof f->last && rtc_stun_is_message(p, n) && (p[0] & 0x01) == 0 &&
        (p[1] & 0x10) == 0) {
        memcpy(f->last, p, n);
        f->last_len = n;
    }
}

static void fz_event(void *user, const rtc_turn_event_t *ev) {
    fz_t *f = user;
    /* Touch the data so ASan checks the pointer/length the client handed out. */
    if (ev->type == RTC_TURN_EVENT_DATA && ev->len) f->bytes += ev->data[0] + ev->data[ev->len - 1];
}

static const uint8_t KEY_USER[] = "u";

static int respond(rtc_turn_client_t *c, fz_t *f, bool sign, int error_code, bool stream, rtc_time_t now) {
    rtc_stun_msg_t req;
    if (!f->last_len || rtc_stun_msg_decode(&req, f->last, f->last_len) != RTC_OK) return -1;
    uint8_t buf[512];
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, buf, sizeof buf, &req, error_code ? RTC_STUN_ERROR : RTC_STUN_SUCCESS);
    if (error_code) {
        rtc_stun_add_error(&b, error_code, NULL);
        rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, "r");
        rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, "n");
    } else if (req.method == RTC_STUN_ALLOCATE) {
        rtc_addr_t relayed;
        rtc_addr_parse(&relayed, "10.0.0.1:5000", 0);
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, 600);
    }
    if (sign) {
        uint8_t key[RTC_STUN_KEY_MAX];
        int kl = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, (const char *)KEY_USER, "r", "p", key);
        rtc_stun_add_integrity(&b, key, (size_t)kl);
    }
    int n = rtc_stun_builder_finish(&b);
    if (n < 0) return -1;
    f->last_len = 0;
    return stream ? rtc_turn_client_handle_stream(c, buf, (size_t)n, now)
                  : rtc_turn_client_handle_datagram(c, buf, (size_t)n, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool init;
    if (!init) { rtc_log_set_level(RTC_LOG_OFF); init = true; }
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    bool stream = mode & 1, auth = mode & 2, allocate = !(mode & 4), setup_peers = mode & 8;
    fz_t f = {0};
    rtc_turn_client_config_t cfg = {.stream = stream, .username = (const char *)KEY_USER, .password = "p"};
    rtc_addr_parse(&cfg.server, "127.0.0.1:3478", 0);
    rtc_turn_client_callbacks_t cb = {.send = fz_send, .event = fz_event, .user = &f};
    rtc_turn_client_t *c = rtc_turn_client_create(&cfg, &cb);
    if (!c) return 0;
    rtc_time_t now = 1000;
    rtc_addr_t peer;
    rtc_addr_parse(&peer, "10.0.0.2:6000", 0);
    rtc_turn_client_allocate(c, now);
    if (allocate) {
        if (auth) respond(c, &f, false, 401, stream, now);
        respond(c, &f, auth, 0, stream, now);
        if (setup_peers && rtc_turn_client_state(c) == RTC_TURN_CLIENT_ALLOCATED) {
            rtc_turn_client_create_permission(c, &peer, now);
            respond(c, &f, auth, 0, stream, now);
            rtc_turn_client_bind_channel(c, &peer, now);
            respond(c, &f, auth, 0, stream, now);
        }
    }
    uint8_t patched[70000];
    while (size >= 3) {
        uint8_t op = data[0];
        size_t len = rtc_be16(data + 1);
        data += 3;
        size -= 3;
        if (len > size) len = size;
        const uint8_t *p = data;
        data += len;
        size -= len;
        switch (op & 7) {
        case 0: rtc_turn_client_handle_datagram(c, p, len, now); break;
        case 1: rtc_turn_client_handle_stream(c, p, len, now); break;
        case 2: /* a response to the last request: patch its type-compatible tid in */
            if (len >= RTC_STUN_HEADER_LEN && f.last_len) {
                memcpy(patched, p, len);
                memcpy(patched + 8, f.last + 8, RTC_STUN_TID_LEN);
                if (stream) rtc_turn_client_handle_stream(c, patched, len, now);
                else rtc_turn_client_handle_datagram(c, patched, len, now);
            }
            break;
        case 3: now += (rtc_time_t)(op >> 3) * RTC_SEC(20) + 1; rtc_turn_client_handle_timeout(c, now); break;
        case 4: rtc_turn_client_send(c, &peer, p, len, now); break;
        case 5: {
            rtc_addr_t other = peer;
            other.port = (uint16_t)(op << 4);
            if (op & 0x80) rtc_turn_client_bind_channel(c, &other, now);
            else rtc_turn_client_create_permission(c, &other, now);
            break;
        }
        case 6: respond(c, &f, auth, (op & 0x80) ? 438 : 0, stream, now); break;
        case 7: if (op & 0x80) rtc_turn_client_release(c, now); break;
        }
        rtc_time_t next = rtc_turn_client_next_timeout(c);
        (void)next;
    }
    rtc_turn_client_destroy(c);
    return 0;
}
