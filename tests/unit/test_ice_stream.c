/* ICE agent with a TURN server over TCP/TLS (a stream the runtime opens): the agent's stream
 * entry points (stream_connected, handle_stream, stream_closed) deliver their deferred events
 * before they return, like every other entry point (rtc/ice.h). A scripted TURN server built
 * from our STUN codec answers over the stream; no timer is ever run, so an event that only
 * came out of a later rtc_ice_agent_handle_timeout would fail these tests. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/ice.h"
#include "rtc/net.h"
#include "rtc/stun.h"

#define USER "alice"
#define PASS "secret"
#define REALM "example.org"

typedef struct {
    int stream_tag;             /* the handle the agent gets from stream_open */
    int udp_tag;
    int opened, closed;
    uint8_t out[4096];          /* bytes written to the stream */
    size_t out_len;
    int n_candidates, n_relay, n_eoc;
    rtc_ice_gathering_state_t gathering;
    rtc_time_t now;
} h_t;

static void h_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    h_t *h = user;
    (void)dest;
    if (sock != &h->stream_tag) return; /* host-socket traffic is not part of these tests */
    ck_assert_uint_le(h->out_len + n, sizeof h->out);
    memcpy(h->out + h->out_len, p, n);
    h->out_len += n;
}

static void h_candidate(void *user, const rtc_ice_candidate_t *c) {
    h_t *h = user;
    if (!c) { h->n_eoc++; return; }
    h->n_candidates++;
    if (c->type == RTC_ICE_CANDIDATE_RELAY) {
        h->n_relay++;
        ck_assert_int_eq(c->relay_protocol, RTC_ICE_RELAY_TCP);
    }
}

static void h_gathering(void *user, rtc_ice_gathering_state_t s) {
    ((h_t *)user)->gathering = s;
}

static void *h_stream_open(void *user, const rtc_ice_server_t *server) {
    h_t *h = user;
    ck_assert_int_eq(server->protocol, RTC_ICE_RELAY_TCP);
    h->opened++;
    return &h->stream_tag;
}

static void h_stream_close(void *user, void *stream) {
    h_t *h = user;
    ck_assert_ptr_eq(stream, &h->stream_tag);
    h->closed++;
}

static rtc_addr_t addr(const char *s) {
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse(&a, s, 0), 0);
    return a;
}

static rtc_ice_agent_t *make_agent(h_t *h, bool relay_only) {
    memset(h, 0, sizeof *h);
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    cfg.relay_only = relay_only;
    rtc_net_filter_init(&cfg.filter);
    ck_assert_int_eq(rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1/32"), 0);
    rtc_addr_t srv = addr("127.0.0.1:3478");
    ck_assert_int_eq(rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_TURN, &srv, RTC_ICE_RELAY_TCP, USER, PASS), 0);
    rtc_ice_callbacks_t cb = {.send = h_send, .candidate = h_candidate, .gathering_state_change = h_gathering,
                              .stream_open = h_stream_open, .stream_close = h_stream_close};
    rtc_ice_agent_t *a = rtc_ice_agent_create(&cfg, &cb, h);
    ck_assert_ptr_nonnull(a);
    rtc_addr_t local = addr("127.0.0.1:40000");
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, &h->udp_tag, &local, "lo"), 0);
    return a;
}

/* Gathering paces its server transactions (Ta): run the agent's timers until it asks for the
 * stream. Returns the time then; no timer runs after this in the tests. */
static rtc_time_t open_stream(h_t *h, rtc_ice_agent_t *a) {
    rtc_time_t now = RTC_SEC(1);
    ck_assert_int_eq(rtc_ice_agent_gather(a, now), 0);
    for (int i = 0; i < 20 && !h->opened; i++) {
        rtc_time_t next = rtc_ice_agent_next_timeout(a);
        ck_assert(next != RTC_TIME_NEVER);
        if (next > now) now = next;
        rtc_ice_agent_handle_timeout(a, now);
    }
    ck_assert_int_eq(h->opened, 1);
    return now;
}

/* Takes the one STUN message the agent wrote to the stream. */
static rtc_stun_msg_t take_request(h_t *h, uint8_t *copy) {
    ck_assert_uint_gt(h->out_len, 0);
    memcpy(copy, h->out, h->out_len);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, copy, h->out_len), 0);
    ck_assert_int_eq(m.method, RTC_STUN_ALLOCATE);
    h->out_len = 0;
    return m;
}

static size_t challenge(const rtc_stun_msg_t *req, uint8_t *buf, size_t cap) {
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, buf, cap, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, 401, NULL);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, REALM);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, "nonce-1");
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

static size_t allocated(const rtc_stun_msg_t *req, uint8_t *buf, size_t cap) {
    uint8_t key[RTC_STUN_KEY_MAX];
    int kl = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, USER, REALM, PASS, key);
    ck_assert_int_gt(kl, 0);
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, buf, cap, req, RTC_STUN_SUCCESS);
    rtc_addr_t relayed = addr("127.0.0.1:50000"), mapped = addr("127.0.0.1:40001");
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
    rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, 600);
    rtc_stun_add_integrity(&b, key, (size_t)kl);
    rtc_stun_add_fingerprint(&b);
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

START_TEST(relayed_candidate_is_delivered_before_handle_stream_returns) {
    h_t h;
    rtc_ice_agent_t *a = make_agent(&h, true);
    rtc_time_t now = open_stream(&h, a);
    ck_assert_int_eq(rtc_ice_agent_stream_connected(a, &h.stream_tag, now), 0);
    uint8_t reqbuf[2048], resp[1024];
    rtc_stun_msg_t req = take_request(&h, reqbuf);
    size_t n = challenge(&req, resp, sizeof resp);
    ck_assert_int_eq(rtc_ice_agent_handle_stream(a, &h.stream_tag, resp, n, now), 0);
    req = take_request(&h, reqbuf);  /* the signed retry */
    n = allocated(&req, resp, sizeof resp);
    /* Split in two: a stream may deliver any split. */
    ck_assert_int_eq(rtc_ice_agent_handle_stream(a, &h.stream_tag, resp, 7, now), 0);
    ck_assert_int_eq(h.n_relay, 0);
    ck_assert_int_eq(rtc_ice_agent_handle_stream(a, &h.stream_tag, resp + 7, n - 7, now), 0);
    /* No handle_timeout in between: the candidate, end-of-candidates and "complete" (the
     * only server has answered, relay-only announces nothing else) came out of that call. */
    ck_assert_int_eq(h.n_relay, 1);
    ck_assert_int_eq(h.n_candidates, 1);
    ck_assert_int_eq(h.n_eoc, 1);
    ck_assert_int_eq(h.gathering, RTC_ICE_GATHERING_COMPLETE);
    ck_assert_int_eq(h.closed, 0);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(stream_closed_before_allocation_completes_gathering_at_once) {
    h_t h;
    rtc_ice_agent_t *a = make_agent(&h, true);
    rtc_time_t now = open_stream(&h, a);
    ck_assert_int_eq(rtc_ice_agent_stream_connected(a, &h.stream_tag, now), 0);
    ck_assert_int_ne(h.gathering, RTC_ICE_GATHERING_COMPLETE);
    /* The server hangs up (TLS verification failed, reset, ...). */
    rtc_ice_agent_stream_closed(a, &h.stream_tag, now);
    ck_assert_int_eq(h.n_relay, 0);
    ck_assert_int_eq(h.n_eoc, 1);
    ck_assert_int_eq(h.gathering, RTC_ICE_GATHERING_COMPLETE);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(garbage_on_the_stream_is_malformed_and_harmless) {
    h_t h;
    rtc_ice_agent_t *a = make_agent(&h, true);
    rtc_time_t now = open_stream(&h, a);
    ck_assert_int_eq(rtc_ice_agent_stream_connected(a, &h.stream_tag, now), 0);
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    ck_assert_int_eq(rtc_ice_agent_handle_stream(a, &h.stream_tag, junk, sizeof junk, now), RTC_ERR_MALFORMED);
    int other = 0;
    ck_assert_int_eq(rtc_ice_agent_handle_stream(a, &other, junk, sizeof junk, now), RTC_ERR_NOT_FOUND);
    rtc_ice_agent_stream_closed(a, &h.stream_tag, now);
    ck_assert_int_eq(h.gathering, RTC_ICE_GATHERING_COMPLETE);
    rtc_ice_agent_destroy(a);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_stream");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, relayed_candidate_is_delivered_before_handle_stream_returns);
    tcase_add_test(tc, stream_closed_before_allocation_completes_gathering_at_once);
    tcase_add_test(tc, garbage_on_the_stream_is_malformed_and_harmless);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
