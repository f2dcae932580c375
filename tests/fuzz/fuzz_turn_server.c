/* libFuzzer target: the TURN server core fed a script of events decoded from the input —
 * client datagrams and stream frames, requests the harness signs with valid long-term
 * credentials (so Allocate/Refresh/CreatePermission/ChannelBind handling is reachable with
 * arbitrary attributes), peer datagrams on open relays, clock jumps, closed connections.
 * No sockets: fake relays and a fake clock (tests/unit/turn_harness.h). Any crash, sanitizer
 * report or leak fails.
 *
 * Input: a sequence of records. Each starts with an opcode byte and a client/relay index
 * byte; lengths are 16-bit big-endian and clipped to what is left.
 *   0 raw datagram from a client          [op][idx][len:2][bytes]
 *   1 signed request from a client        [op][idx][method:2][len:2][raw attribute bytes]
 *   2 datagram from a peer to a relay     [op][idx][peer:1][len:2][bytes]
 *   3 advance the clock by n seconds      [op][n][n2]
 *   4 stream connection closed            [op][idx]
 *   5 run timers                          [op][x]
 *   6 unsigned request (a few raw attrs)  [op][idx][method:2][len:2][bytes]
 */
#include <stdint.h>
#include <stdlib.h>

#include "../unit/turn_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static harness_t H;
static h_client_t clients[4];

static void setup(void) {
    turn_policy_t *p = h_policy();
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    turn_policy_add_static_secret(p, "fuzzsecret");
    p->max_perms_per_alloc = 8;
    p->max_allocs_per_user = 4;
    p->max_bps_per_alloc = 100000;
    h_init_with(&H, p, 50000, 50015);
    h_client(&clients[0], "127.0.0.1:40000", "alice", "secret");
    h_client(&clients[1], "127.0.0.1:40001", "bob", "hunter2");
    h_client(&clients[2], "127.0.0.1:40002", "alice", "secret");
    clients[2].ep.transport = TURN_TRANSPORT_TCP;
    clients[2].ep.conn = (void *)(uintptr_t)2;
    h_client(&clients[3], "[::1]:40000", "alice", "secret");
}

static size_t take16(const uint8_t **p, size_t *n) {
    if (*n < 2) { *n = 0; return 0; }
    size_t v = rtc_be16(*p);
    *p += 2;
    *n -= 2;
    return v;
}

/* Builds method + raw attribute bytes, then USERNAME/REALM/NONCE (a nonce valid for this
 * client) and MESSAGE-INTEGRITY with the user's key. */
static void signed_request(h_client_t *c, uint16_t method, const uint8_t *attrs, size_t alen) {
    static uint8_t buf[4096];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, method & 0x0FFF, RTC_STUN_REQUEST, NULL);
    size_t padded = (alen + 3) & ~(size_t)3;
    if (padded > 2048) padded = alen = 2048;
    memcpy(buf + b.len, attrs, alen);
    memset(buf + b.len + alen, 0, padded - alen);
    b.len += padded;
    rtc_put_be16(buf + 2, (uint16_t)(b.len - RTC_STUN_HEADER_LEN));
    char nonce[RTC_STUN_NONCE_LEN + 1];
    int64_t wall = H_WALL_BASE + H.now / RTC_US_PER_SEC;
    rtc_stun_nonce_make(H.sh->nonce_secret, sizeof H.sh->nonce_secret, &c->ep.remote, wall + 600, nonce);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_USERNAME, c->cred.username);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, "test");
    rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, nonce);
    uint8_t full[RTC_STUN_KEY_MAX];
    rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, c->cred.username, "test", c->cred.password, full);
    rtc_stun_add_integrity(&b, full, 16);
    int n = rtc_stun_builder_finish(&b);
    if (n > 0) h_feed(&H, c, buf, (size_t)n);
}

static void unsigned_request(h_client_t *c, uint16_t method, const uint8_t *attrs, size_t alen) {
    static uint8_t buf[4096];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, method & 0x0FFF, RTC_STUN_REQUEST, NULL);
    if (alen > 2048) alen = 2048;
    size_t padded = (alen + 3) & ~(size_t)3;
    memcpy(buf + b.len, attrs, alen);
    memset(buf + b.len + alen, 0, padded - alen);
    b.len += padded;
    rtc_put_be16(buf + 2, (uint16_t)(b.len - RTC_STUN_HEADER_LEN));
    h_feed(&H, c, buf, b.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_log_set_level(RTC_LOG_OFF);
    setup();
    /* The harness's relay ops are in memory (nothing is sent). 203.0.113.7 (TEST-NET-3) plays a
     * public peer the default filter lets through, beside the allow-listed loopback peers. */
    static const char *const peers[] = {"127.0.0.1:7000", "127.0.0.1:7001", "[::1]:7000", "203.0.113.7:53"};
    const uint8_t *p = data;
    size_t n = size;
    int steps = 0;
    while (n >= 2 && steps++ < 64) {
        uint8_t op = p[0] % 7, idx = p[1];
        p += 2;
        n -= 2;
        h_client_t *c = &clients[idx % 4];
        switch (op) {
        case 0: {
            size_t len = take16(&p, &n);
            if (len > n) len = n;
            /* An exact-size heap copy so ASan sees any read past the datagram. */
            uint8_t *d = malloc(len ? len : 1);
            memcpy(d, p, len);
            h_feed(&H, c, d, len);
            free(d);
            p += len;
            n -= len;
            break;
        }
        case 1:
        case 6: {
            uint16_t method = (uint16_t)take16(&p, &n);
            size_t len = take16(&p, &n);
            if (len > n) len = n;
            if (op == 1) signed_request(c, method, p, len);
            else unsigned_request(c, method, p, len);
            p += len;
            n -= len;
            break;
        }
        case 2: {
            if (n < 1) break;
            const char *peer = peers[p[0] % 4];
            p++;
            n--;
            size_t len = take16(&p, &n);
            if (len > n) len = n;
            if (len > 4096) len = 4096;
            size_t open = 0;
            for (size_t i = 0; i < H.n_relays; i++) open += H.relays[i].open;
            if (open) {
                size_t k = idx % open;
                for (size_t i = 0; i < H.n_relays; i++) {
                    if (!H.relays[i].open) continue;
                    if (k-- == 0) {
                        h_peer_send(&H, &H.relays[i].addr, peer, p, len);
                        break;
                    }
                }
            }
            p += len;
            n -= len;
            break;
        }
        case 3: {
            size_t secs = (size_t)idx * 8;
            h_advance(&H, RTC_SEC(secs));
            break;
        }
        case 4:
            turn_server_on_conn_closed(H.s, &c->ep);
            break;
        case 5:
            turn_server_handle_timeout(H.s, H.now);
            break;
        }
        h_clear(&H);
    }
    h_free(&H);
    return 0;
}
