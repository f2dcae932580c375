/* libFuzzer target: the ICE agent's input path. The input is a script of operations, so the
 * fuzzer can drive the agent deep into its state machine, not just throw garbage at it:
 *
 *   op 0    a raw datagram from peer address 0 (anything at all)
 *   op 1    a raw datagram from the TURN server's address (TURN client input path)
 *   op 2    advance time by (byte) * 10 ms and run timers
 *   op 3    a correctly signed check from peer address (byte & 1), flags from the next byte
 *           (role attribute, tie-breaker, USE-CANDIDATE, PRIORITY present), extra attributes
 *           from the rest
 *   op 4    a correctly signed response to the last request the agent sent, success or error
 *           (487/other), with a fuzzer-chosen mapped address and source
 *   op 5    application data to send on the selected pair
 *   op 6    a remote candidate line from the rest of the record
 *   op 7    ICE restart, then the peer's credentials again
 *   op 8    the TURN server answers the last request sent to it: 401 with realm/nonce,
 *           a signed Allocate success (relayed address), a signed success for other methods,
 *           a Data indication or ChannelData from peer 0 carrying the rest of the record
 *
 * Each record is [op][len][len bytes]. Randomness is reset per input, so runs reproduce. */
#include <stdio.h>
#include <stdlib.h>

#include "rtc/ice.h"
#include "rtc/stun.h"
#include "rtc/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LUFRAG "fuzzLocal"
#define LPWD "fuzzLocalPassword0123456"
#define RUFRAG "fuzzPeer"
#define RPWD "fuzzPeerPassword01234567"

static int sock_tag;
static uint8_t last_req[1500];
static size_t last_req_len;
static rtc_addr_t last_req_dest;
static uint8_t last_turn[1500];   /* last request to the TURN server */
static size_t last_turn_len;
static rtc_addr_t turn_addr;
static uint64_t rng;

static int fuzz_random(uint8_t *buf, size_t n, void *user) {
    (void)user;
    for (size_t i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(rng >> 56);
    }
    return RTC_OK;
}

static void on_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    (void)user;
    (void)sock;
    if (n >= 20 && n <= sizeof last_req && (p[0] & 0x01) == 0 && (p[1] & 0x10) == 0 && rtc_stun_is_message(p, n)) {
        if (rtc_addr_equal(dest, &turn_addr)) {
            memcpy(last_turn, p, n);
            last_turn_len = n;
            return;
        }
        memcpy(last_req, p, n); /* requests only (class bits 00) */
        last_req_len = n;
        last_req_dest = *dest;
    }
}

static void on_data(void *user, const uint8_t *p, size_t n, const rtc_ice_pair_info_t *pair) {
    (void)user;
    (void)pair;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++) sink ^= p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool init;
    if (!init) {
        rtc_log_set_level(RTC_LOG_OFF);
        rtc_random_set_source(fuzz_random, NULL);
        init = true;
    }
    rng = 1;
    last_req_len = 0;
    last_turn_len = 0;
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    cfg.role = size && (data[0] & 1) ? RTC_ICE_ROLE_CONTROLLING : RTC_ICE_ROLE_CONTROLLED;
    cfg.nomination = size && (data[0] & 2) ? RTC_ICE_NOMINATION_AGGRESSIVE : RTC_ICE_NOMINATION_REGULAR;
    cfg.lite = size && (data[0] & 4);
    cfg.tie_breaker = 0x8000000000000000ull;
    snprintf(cfg.ufrag, sizeof cfg.ufrag, LUFRAG);
    snprintf(cfg.pwd, sizeof cfg.pwd, LPWD);
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.0/8");
    rtc_addr_t stun;
    rtc_addr_parse(&stun, "127.0.0.9:3478", 0);
    rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_STUN, &stun, RTC_ICE_RELAY_UDP, NULL, NULL);
    rtc_addr_t turn;
    rtc_addr_parse(&turn, "127.0.0.8:3478", 0);
    turn_addr = turn;
    rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_TURN, &turn, RTC_ICE_RELAY_UDP, "user", "pass");
    rtc_ice_callbacks_t cb = {.send = on_send, .data = on_data};
    rtc_ice_agent_t *a = rtc_ice_agent_create(&cfg, &cb, NULL);
    if (!a) abort();
    rtc_addr_t local, peers[2];
    rtc_addr_parse(&local, "127.0.0.1:5000", 0);
    rtc_addr_parse(&peers[0], "127.0.0.2:6000", 0);
    rtc_addr_parse(&peers[1], "127.0.0.3:7000", 0);
    rtc_ice_agent_add_socket(a, &sock_tag, &local, "lo");
    rtc_time_t now = 1000000;
    rtc_ice_agent_gather(a, now);
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, now);
    rtc_ice_agent_add_remote_candidate_str(a, "candidate:1 1 udp 2130706431 127.0.0.2 6000 typ host", now);

    size_t pos = size ? 1 : 0;
    while (pos + 2 <= size) {
        uint8_t op = data[pos] % 9;
        size_t len = data[pos + 1];
        pos += 2;
        if (len > size - pos) len = size - pos;
        const uint8_t *p = data + pos;
        pos += len;
        uint8_t buf[1500];
        switch (op) {
        case 0:
            rtc_ice_agent_handle_datagram(a, &sock_tag, &peers[0], p, len, now);
            break;
        case 1:
            rtc_ice_agent_handle_datagram(a, &sock_tag, &turn, p, len, now);
            break;
        case 2:
            now += (len ? p[0] : 1) * RTC_MS(10);
            rtc_ice_agent_handle_timeout(a, now);
            break;
        case 3: {
            uint8_t flags = len > 1 ? p[1] : 0;
            rtc_stun_builder_t b;
            rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
            rtc_stun_add_string(&b, RTC_STUN_ATTR_USERNAME, (flags & 0x80) ? "junk:" RUFRAG : LUFRAG ":" RUFRAG);
            if (!(flags & 1)) rtc_stun_add_u32(&b, RTC_STUN_ATTR_PRIORITY, 1862270975u);
            if (flags & 2) rtc_stun_add_u64(&b, RTC_STUN_ATTR_ICE_CONTROLLING, (flags & 8) ? 1 : UINT64_MAX);
            else if (flags & 4) rtc_stun_add_u64(&b, RTC_STUN_ATTR_ICE_CONTROLLED, (flags & 8) ? 1 : UINT64_MAX);
            if (flags & 16) rtc_stun_add_flag(&b, RTC_STUN_ATTR_USE_CANDIDATE);
            if (len > 2) rtc_stun_add_attr(&b, 0x8000 | (p[2] & 0x7F), p + 2, len - 2);
            rtc_stun_add_integrity(&b, (const uint8_t *)LPWD, strlen(LPWD));
            rtc_stun_add_fingerprint(&b);
            int n = rtc_stun_builder_finish(&b);
            if (n > 0) rtc_ice_agent_handle_datagram(a, &sock_tag, &peers[len ? p[0] & 1 : 0], buf, (size_t)n, now);
            break;
        }
        case 4: {
            if (!last_req_len) break;
            rtc_stun_msg_t req;
            if (rtc_stun_msg_decode(&req, last_req, last_req_len) < 0) break;
            uint8_t kind = len ? p[0] : 0;
            rtc_stun_builder_t b;
            rtc_stun_builder_init_response(&b, buf, sizeof buf, &req, (kind & 3) ? RTC_STUN_SUCCESS : RTC_STUN_ERROR);
            if (kind & 3) {
                rtc_addr_t mapped = local;
                if (len >= 3) mapped.port = (uint16_t)(p[1] << 8 | p[2]);
                rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
            } else {
                rtc_stun_add_error(&b, (kind & 4) ? 487 : 400 + (kind >> 3), NULL);
            }
            rtc_stun_add_integrity(&b, (const uint8_t *)RPWD, strlen(RPWD));
            rtc_stun_add_fingerprint(&b);
            int n = rtc_stun_builder_finish(&b);
            const rtc_addr_t *from = (kind & 0x40) ? &peers[1] : &last_req_dest;
            if (n > 0) rtc_ice_agent_handle_datagram(a, &sock_tag, from, buf, (size_t)n, now);
            break;
        }
        case 5:
            rtc_ice_agent_send(a, p, len, now);
            break;
        case 6: {
            char line[300];
            memcpy(line, p, len);
            line[len] = '\0';
            rtc_ice_agent_add_remote_candidate_str(a, line, now);
            break;
        }
        case 7:
            rtc_ice_agent_restart(a, NULL, NULL, now);
            rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, now);
            break;
        case 8: {
            uint8_t kind = len ? p[0] % 5 : 0;
            const uint8_t *rest = len > 1 ? p + 1 : p;
            size_t rlen = len > 1 ? len - 1 : 0;
            int n = -1;
            rtc_stun_builder_t b;
            if (kind <= 2) {
                rtc_stun_msg_t req;
                if (!last_turn_len || rtc_stun_msg_decode(&req, last_turn, last_turn_len) < 0) break;
                uint8_t key[RTC_STUN_KEY_MAX];
                int klen = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, "user", "fuzzrealm", "pass", key);
                if (kind == 0) {
                    rtc_stun_builder_init_response(&b, buf, sizeof buf, &req, RTC_STUN_ERROR);
                    rtc_stun_add_error(&b, 401, NULL);
                    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, "fuzzrealm");
                    rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, "fuzznonce");
                } else {
                    rtc_stun_builder_init_response(&b, buf, sizeof buf, &req, RTC_STUN_SUCCESS);
                    if (kind == 1) {
                        rtc_addr_t relayed = turn;
                        relayed.port = 50000;
                        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
                        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &local);
                    }
                    rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, rlen ? rest[0] : 600);
                    if (klen > 0) rtc_stun_add_integrity(&b, key, (size_t)klen);
                }
                rtc_stun_add_fingerprint(&b);
                n = rtc_stun_builder_finish(&b);
            } else if (kind == 3) {
                rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_DATA, RTC_STUN_INDICATION, NULL);
                rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peers[0]);
                rtc_stun_add_attr(&b, RTC_STUN_ATTR_DATA, rest, rlen);
                rtc_stun_add_fingerprint(&b);
                n = rtc_stun_builder_finish(&b);
            } else {
                n = rtc_turn_channel_data_write(buf, sizeof buf, 0x4000, rest, rlen, false);
            }
            if (n > 0) rtc_ice_agent_handle_datagram(a, &sock_tag, &turn, buf, (size_t)n, now);
            break;
        }
        }
        (void)rtc_ice_agent_next_timeout(a);
    }
    rtc_ice_pair_info_t pairs[8];
    rtc_ice_agent_get_pairs(a, pairs, 8);
    rtc_ice_agent_destroy(a);
    return 0;
}
