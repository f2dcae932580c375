/* TURN client state machine (RFC 8656) against a scripted server built from our STUN codec,
 * with a fake clock: every time below is an explicit `now`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/turn.h"

#define USER "alice"
#define PASS "secret"
#define REALM "example.org"

/* ---- harness: captures what the client sends and the events it raises --------------------- */

#define MAX_OUT 64
#define MAX_EV 64

typedef struct {
    uint8_t out[MAX_OUT][2048];
    size_t out_len[MAX_OUT];
    int n_out;
    rtc_turn_event_t ev[MAX_EV];
    uint8_t ev_data[MAX_EV][256];
    int n_ev;
    uint8_t key[RTC_STUN_KEY_MAX];
    size_t key_len;
} harness_t;

static void h_send(void *user, const uint8_t *p, size_t n) {
    harness_t *h = user;
    ck_assert_int_lt(h->n_out, MAX_OUT);
    ck_assert_uint_le(n, sizeof h->out[0]);
    memcpy(h->out[h->n_out], p, n);
    h->out_len[h->n_out++] = n;
}

static void h_event(void *user, const rtc_turn_event_t *ev) {
    harness_t *h = user;
    ck_assert_int_lt(h->n_ev, MAX_EV);
    h->ev[h->n_ev] = *ev;
    if (ev->data) {
        ck_assert_uint_le(ev->len, sizeof h->ev_data[0]);
        memcpy(h->ev_data[h->n_ev], ev->data, ev->len);
        h->ev[h->n_ev].data = h->ev_data[h->n_ev];
    }
    h->n_ev++;
}

static rtc_addr_t addr(const char *s) {
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse(&a, s, 0), 0);
    return a;
}

static rtc_turn_client_t *make_client(harness_t *h, bool stream, uint8_t family) {
    memset(h, 0, sizeof *h);
    h->key_len = (size_t)rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, USER, REALM, PASS, h->key);
    rtc_turn_client_config_t cfg = {0};
    cfg.server = addr("127.0.0.1:3478");
    cfg.stream = stream;
    cfg.username = USER;
    cfg.password = PASS;
    cfg.family = family;
    cfg.software = "starling-test";
    rtc_turn_client_callbacks_t cb = {.send = h_send, .event = h_event, .user = h};
    rtc_turn_client_t *c = rtc_turn_client_create(&cfg, &cb);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Decodes the i-th sent message (negative: from the end). */
static rtc_stun_msg_t sent(harness_t *h, int i) {
    if (i < 0) i += h->n_out;
    ck_assert_int_ge(i, 0);
    ck_assert_int_lt(i, h->n_out);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, h->out[i], h->out_len[i]), 0);
    return m;
}

static void str_attr(const rtc_stun_msg_t *m, uint16_t type, char *out, size_t cap) {
    ck_assert_int_eq(rtc_stun_msg_get_string(m, type, out, cap), 0);
}

/* The server side: checks a request is signed for USER/REALM with the given nonce. */
static void assert_signed(harness_t *h, const rtc_stun_msg_t *req, const char *nonce) {
    char s[800];
    str_attr(req, RTC_STUN_ATTR_USERNAME, s, sizeof s);
    ck_assert_str_eq(s, USER);
    str_attr(req, RTC_STUN_ATTR_REALM, s, sizeof s);
    ck_assert_str_eq(s, REALM);
    str_attr(req, RTC_STUN_ATTR_NONCE, s, sizeof s);
    ck_assert_str_eq(s, nonce);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(req, h->key, h->key_len), 0);
}

typedef struct {
    uint8_t buf[1024];
    size_t len;
} reply_t;

static reply_t challenge(const rtc_stun_msg_t *req, int code, const char *nonce) {
    reply_t r;
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, r.buf, sizeof r.buf, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, REALM);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, nonce);
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    r.len = (size_t)n;
    return r;
}

static reply_t error_reply(harness_t *h, const rtc_stun_msg_t *req, int code) {
    reply_t r;
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, r.buf, sizeof r.buf, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    rtc_stun_add_integrity(&b, h->key, h->key_len);
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    r.len = (size_t)n;
    return r;
}

/* A signed success; relayed non-NULL for Allocate; lifetime 0 omits LIFETIME unless
 * with_lifetime. */
static reply_t success(harness_t *h, const rtc_stun_msg_t *req, const rtc_addr_t *relayed, bool with_lifetime,
                       uint32_t lifetime) {
    reply_t r;
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, r.buf, sizeof r.buf, req, RTC_STUN_SUCCESS);
    if (relayed) {
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, relayed);
        rtc_addr_t mapped = addr("192.0.2.7:40000");
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
    }
    if (with_lifetime) rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, lifetime);
    rtc_stun_add_integrity(&b, h->key, h->key_len);
    rtc_stun_add_fingerprint(&b);
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    r.len = (size_t)n;
    return r;
}

static int feed(rtc_turn_client_t *c, reply_t r, rtc_time_t now) {
    return rtc_turn_client_handle_datagram(c, r.buf, r.len, now);
}

/* Drives a client through 401 + success to ALLOCATED at time t0 with a 600 s lifetime. */
static rtc_turn_client_t *allocated_client(harness_t *h, bool stream, rtc_time_t t0) {
    rtc_turn_client_t *c = make_client(h, stream, 0);
    ck_assert_int_eq(rtc_turn_client_allocate(c, t0), 0);
    rtc_stun_msg_t req = sent(h, -1);
    reply_t r = challenge(&req, 401, "nonce-1");
    if (stream) ck_assert_int_eq(rtc_turn_client_handle_stream(c, r.buf, r.len, t0), 0);
    else ck_assert_int_eq(feed(c, r, t0), 0);
    req = sent(h, -1);
    rtc_addr_t relayed = addr("198.51.100.1:50000");
    r = success(h, &req, &relayed, true, 600);
    if (stream) ck_assert_int_eq(rtc_turn_client_handle_stream(c, r.buf, r.len, t0), 0);
    else ck_assert_int_eq(feed(c, r, t0), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED);
    return c;
}

/* Answers the last request with a signed success. */
static void ok_last(harness_t *h, rtc_turn_client_t *c, rtc_time_t now) {
    rtc_stun_msg_t req = sent(h, -1);
    ck_assert_int_eq(feed(c, success(h, &req, NULL, false, 0), now), 0);
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(allocate_answers_401_challenge_then_succeeds) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_IDLE);
    ck_assert_int_eq(rtc_turn_client_allocate(c, 0), 0);
    ck_assert_int_eq(rtc_turn_client_allocate(c, 0), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATING);
    ck_assert_int_eq(h.n_out, 1);
    rtc_stun_msg_t req = sent(&h, 0);
    ck_assert_uint_eq(req.method, RTC_STUN_ALLOCATE);
    ck_assert_int_eq(req.cls, RTC_STUN_REQUEST);
    uint8_t proto = 0;
    ck_assert_int_eq(rtc_stun_msg_get_requested_transport(&req, &proto), 0);
    ck_assert_uint_eq(proto, 17);
    /* The first Allocate goes unauthenticated (RFC 8656 §7.1): the server's 401 tells us
     * the realm and nonce. */
    ck_assert(!rtc_stun_msg_has(&req, RTC_STUN_ATTR_USERNAME));
    ck_assert_int_lt(req.integrity, 0);
    ck_assert(!rtc_stun_msg_has(&req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY));

    ck_assert_int_eq(feed(c, challenge(&req, 401, "nonce-1"), RTC_MS(10)), 0);
    ck_assert_int_eq(h.n_out, 2);
    rtc_stun_msg_t req2 = sent(&h, 1);
    ck_assert_uint_eq(req2.method, RTC_STUN_ALLOCATE);
    ck_assert_int_ne(memcmp(req.tid, req2.tid, RTC_STUN_TID_LEN), 0); /* a new transaction */
    assert_signed(&h, &req2, "nonce-1");
    ck_assert_int_eq(h.n_ev, 0);

    rtc_addr_t relayed = addr("198.51.100.1:50000");
    ck_assert_int_eq(feed(c, success(&h, &req2, &relayed, true, 600), RTC_MS(20)), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED);
    ck_assert_int_eq(h.n_ev, 1);
    ck_assert_int_eq(h.ev[0].type, RTC_TURN_EVENT_ALLOCATED);
    ck_assert_int_eq(h.ev[0].error, 0);
    ck_assert(rtc_addr_equal(&h.ev[0].relayed, &relayed));
    rtc_addr_t mapped = addr("192.0.2.7:40000");
    ck_assert(rtc_addr_equal(&h.ev[0].mapped, &mapped));
    ck_assert(rtc_addr_equal(rtc_turn_client_mapped(c), &mapped));
    ck_assert_uint_eq(h.ev[0].lifetime, 600);
    ck_assert(rtc_addr_equal(rtc_turn_client_relayed(c), &relayed));
    ck_assert_int_eq(rtc_turn_client_expires(c), RTC_MS(20) + RTC_SEC(600));
    /* A duplicate of the success (a retransmission's answer) matches nothing. */
    ck_assert_int_eq(feed(c, success(&h, &req2, &relayed, true, 600), RTC_MS(30)), RTC_ERR_NOT_FOUND);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(requested_address_family_is_sent_and_440_reported) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, RTC_AF_INET6);
    ck_assert_int_eq(rtc_turn_client_allocate(c, 0), 0);
    rtc_stun_msg_t req = sent(&h, 0);
    uint8_t fam = 0;
    ck_assert_int_eq(rtc_stun_msg_get_family(&req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &fam), 0);
    ck_assert_uint_eq(fam, RTC_AF_INET6);
    ck_assert_int_eq(feed(c, challenge(&req, 401, "n"), 0), 0);
    req = sent(&h, -1);
    ck_assert_int_eq(rtc_stun_msg_get_family(&req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &fam), 0);
    ck_assert_int_eq(feed(c, error_reply(&h, &req, 440), 0), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    int code = 0;
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(code, 440);
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_FAILED);
    ck_assert_int_eq(h.ev[h.n_ev - 1].stun_code, 440);
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_TIME_NEVER);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(wrong_password_fails_with_auth_error) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    feed(c, challenge(&req, 401, "nonce-1"), 0);
    req = sent(&h, -1);
    /* The same realm and nonce again: the server refuses our password. No retry loop. */
    ck_assert_int_eq(feed(c, challenge(&req, 401, "nonce-1"), 0), 0);
    ck_assert_int_eq(h.n_out, 2);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    int code = 0;
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_AUTH);
    ck_assert_int_eq(code, 401);
    ck_assert_int_eq(h.ev[0].type, RTC_TURN_EVENT_FAILED);
    ck_assert_int_eq(h.ev[0].error, RTC_ERR_AUTH);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(stale_nonce_438_retries_but_not_forever) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    feed(c, challenge(&req, 401, "nonce-1"), 0);
    char nonce[32];
    for (int i = 2; i <= 3; i++) {
        req = sent(&h, -1);
        snprintf(nonce, sizeof nonce, "nonce-%d", i);
        ck_assert_int_eq(feed(c, challenge(&req, 438, nonce), 0), 0);
        rtc_stun_msg_t again = sent(&h, -1);
        assert_signed(&h, &again, nonce);
        ck_assert_int_ne(memcmp(req.tid, again.tid, RTC_STUN_TID_LEN), 0);
    }
    /* A server that keeps calling every nonce stale is not followed forever. */
    req = sent(&h, -1);
    ck_assert_int_eq(feed(c, challenge(&req, 438, "nonce-4"), 0), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    int code = 0;
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_STALE);
    ck_assert_int_eq(code, 438);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(allocation_error_is_reported_with_its_code) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    feed(c, challenge(&req, 401, "n"), 0);
    req = sent(&h, -1);
    ck_assert_int_eq(feed(c, error_reply(&h, &req, 486), 0), 0);
    int code = 0;
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(code, 486);
    ck_assert_str_eq(rtc_turn_client_state_name(rtc_turn_client_state(c)), "failed");
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(allocate_times_out_after_rfc_retransmissions) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_time_t now = 0;
    int guard = 0;
    while (rtc_turn_client_state(c) == RTC_TURN_CLIENT_ALLOCATING && guard++ < 100) {
        now = rtc_turn_client_next_timeout(c);
        ck_assert_int_ne(now, RTC_TIME_NEVER);
        rtc_turn_client_handle_timeout(c, now);
    }
    /* RFC 8489 §6.2.1: Rc = 7 sends, giving up at 39.5 s with the default RTO. */
    ck_assert_int_eq(h.n_out, 7);
    ck_assert_int_eq(now, RTC_MS(39500));
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    ck_assert_int_eq(rtc_turn_client_error(c, NULL), RTC_ERR_TIMEOUT);
    ck_assert_int_eq(h.ev[0].type, RTC_TURN_EVENT_FAILED);
    ck_assert_int_eq(h.ev[0].error, RTC_ERR_TIMEOUT);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(allocation_is_refreshed_a_minute_before_expiry) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    int before = h.n_out;
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_SEC(540));
    rtc_turn_client_handle_timeout(c, RTC_SEC(539));
    ck_assert_int_eq(h.n_out, before);
    rtc_turn_client_handle_timeout(c, RTC_SEC(540));
    ck_assert_int_eq(h.n_out, before + 1);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_REFRESH);
    uint32_t lt = 0;
    ck_assert_int_eq(rtc_stun_msg_get_u32(&req, RTC_STUN_ATTR_LIFETIME, &lt), 0);
    ck_assert_uint_eq(lt, 600);
    assert_signed(&h, &req, "nonce-1");
    /* Stale nonce on the refresh: retried with the new nonce. */
    ck_assert_int_eq(feed(c, challenge(&req, 438, "nonce-2"), RTC_SEC(541)), 0);
    req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_REFRESH);
    assert_signed(&h, &req, "nonce-2");
    ck_assert_int_eq(feed(c, success(&h, &req, NULL, true, 300), RTC_SEC(541)), 0);
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_REFRESHED);
    ck_assert_uint_eq(h.ev[h.n_ev - 1].lifetime, 300);
    ck_assert_int_eq(rtc_turn_client_expires(c), RTC_SEC(841));
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_SEC(541 + 240));
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(refresh_answered_437_means_allocation_lost) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_turn_client_handle_timeout(c, RTC_SEC(540));
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_int_eq(feed(c, error_reply(&h, &req, 437), RTC_SEC(540)), 0);
    int code;
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(code, 437);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(unanswered_refreshes_end_in_expiry) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_time_t now = 0;
    int guard = 0;
    while (rtc_turn_client_state(c) == RTC_TURN_CLIENT_ALLOCATED && guard++ < 1000) {
        now = rtc_turn_client_next_timeout(c);
        rtc_turn_client_handle_timeout(c, now);
    }
    /* Refreshes are retried while the allocation lives, then it expires at 600 s. */
    ck_assert_int_eq(now, RTC_SEC(600));
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    ck_assert_int_eq(rtc_turn_client_error(c, NULL), RTC_ERR_TIMEOUT);
    int refreshes = 0;
    for (int i = 0; i < h.n_out; i++)
        if (sent(&h, i).method == RTC_STUN_REFRESH) refreshes++;
    ck_assert_int_gt(refreshes, 7);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(release_sends_lifetime_zero) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    ck_assert_int_eq(rtc_turn_client_release(c, RTC_SEC(10)), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_RELEASING);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_REFRESH);
    uint32_t lt = 99;
    ck_assert_int_eq(rtc_stun_msg_get_u32(&req, RTC_STUN_ATTR_LIFETIME, &lt), 0);
    ck_assert_uint_eq(lt, 0);
    ck_assert_int_eq(feed(c, success(&h, &req, NULL, true, 0), RTC_SEC(10)), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_CLOSED);
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_RELEASED);
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_TIME_NEVER);
    ck_assert_int_eq(rtc_turn_client_release(c, RTC_SEC(11)), RTC_ERR_STATE);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(permission_is_created_and_refreshed_under_300s) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("203.0.113.5:7000");
    rtc_addr_t peer_v6 = addr("[2001:db8::1]:7000");
    ck_assert_int_eq(rtc_turn_client_create_permission(c, &peer_v6, 0), RTC_ERR_ADDR);
    ck_assert_int_eq(rtc_turn_client_create_permission(c, &peer, RTC_SEC(1)), 0);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_CREATE_PERMISSION);
    rtc_addr_t got;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&req, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &got), 0);
    ck_assert(rtc_addr_equal_ip(&got, &peer));
    assert_signed(&h, &req, "nonce-1");
    int n = h.n_out;
    ck_assert_int_eq(rtc_turn_client_create_permission(c, &peer, RTC_SEC(1)), 0); /* idempotent */
    ck_assert_int_eq(h.n_out, n);
    ck_assert(!rtc_turn_client_has_permission(c, &peer));
    ok_last(&h, c, RTC_SEC(1));
    ck_assert(rtc_turn_client_has_permission(c, &peer));
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_PERMISSION);
    ck_assert_int_eq(h.ev[h.n_ev - 1].error, 0);
    /* Refreshed at 240 s after it was installed, then every 240 s. */
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_SEC(241));
    rtc_turn_client_handle_timeout(c, RTC_SEC(241));
    req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_CREATE_PERMISSION);
    int events = h.n_ev;
    ok_last(&h, c, RTC_SEC(241));
    ck_assert_int_eq(h.n_ev, events); /* refreshes raise no event */
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_SEC(481));
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(permission_refused_is_reported) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("10.0.0.1:1");
    ck_assert_int_eq(rtc_turn_client_create_permission(c, &peer, 0), 0);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_int_eq(feed(c, error_reply(&h, &req, 403), 0), 0);
    rtc_turn_event_t *ev = &h.ev[h.n_ev - 1];
    ck_assert_int_eq(ev->type, RTC_TURN_EVENT_PERMISSION);
    ck_assert_int_eq(ev->error, RTC_ERR_PROTOCOL);
    ck_assert_int_eq(ev->stun_code, 403);
    ck_assert(!rtc_turn_client_has_permission(c, &peer));
    uint8_t out[64];
    ck_assert_int_eq(rtc_turn_client_wrap(c, &peer, (const uint8_t *)"x", 1, out, sizeof out), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED); /* allocation unaffected */
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(channel_is_bound_and_refreshed_under_600s) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("203.0.113.5:7000");
    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer, RTC_SEC(2)), 0x4000);
    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer, RTC_SEC(2)), 0x4000);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_uint_eq(req.method, RTC_STUN_CHANNEL_BIND);
    uint16_t ch = 0;
    ck_assert_int_eq(rtc_stun_msg_get_channel(&req, &ch), 0);
    ck_assert_uint_eq(ch, 0x4000);
    rtc_addr_t got;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&req, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &got), 0);
    ck_assert(rtc_addr_equal(&got, &peer));
    ck_assert_uint_eq(rtc_turn_client_channel(c, &peer), 0);
    ok_last(&h, c, RTC_SEC(2));
    ck_assert_uint_eq(rtc_turn_client_channel(c, &peer), 0x4000);
    /* The bind installed the permission too (RFC 8656 §12.1), and both events came. */
    ck_assert(rtc_turn_client_has_permission(c, &peer));
    ck_assert_int_eq(h.ev[h.n_ev - 2].type, RTC_TURN_EVENT_PERMISSION);
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_CHANNEL);
    ck_assert_uint_eq(h.ev[h.n_ev - 1].channel, 0x4000);
    rtc_addr_t peer2 = addr("203.0.113.5:7001");
    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer2, RTC_SEC(2)), 0x4001);
    ok_last(&h, c, RTC_SEC(2));

    /* Answer every refresh until 1200 s and record when each kind went out. */
    rtc_time_t now = RTC_SEC(2);
    rtc_time_t last_bind[2] = {RTC_SEC(2), RTC_SEC(2)}, last_perm = RTC_SEC(2);
    int binds = 0, perms = 0;
    while ((now = rtc_turn_client_next_timeout(c)) <= RTC_SEC(1200)) {
        int before = h.n_out;
        rtc_turn_client_handle_timeout(c, now);
        for (int i = before; i < h.n_out; i++) {
            rtc_stun_msg_t m = sent(&h, i);
            if (m.method == RTC_STUN_CHANNEL_BIND) {
                uint16_t num;
                rtc_stun_msg_get_channel(&m, &num);
                ck_assert_int_lt(now - last_bind[num - 0x4000], RTC_SEC(600));
                last_bind[num - 0x4000] = now;
                binds++;
            } else if (m.method == RTC_STUN_CREATE_PERMISSION) {
                ck_assert_int_lt(now - last_perm, RTC_SEC(300));
                last_perm = now;
                perms++;
            }
            ck_assert_int_eq(feed(c, success(&h, &m, NULL, m.method == RTC_STUN_REFRESH, 600), now), 0);
        }
    }
    ck_assert_int_eq(binds, 4);  /* each channel at 542 s and 1082 s */
    ck_assert_int_eq(perms, 4);  /* one IP: 242, 482, 722, 962 s */
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(send_uses_indication_until_channel_is_bound) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("203.0.113.5:7000");
    const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, payload, 5, 0), RTC_ERR_STATE);
    rtc_turn_client_create_permission(c, &peer, 0);
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, payload, 5, 0), RTC_ERR_AGAIN);
    ok_last(&h, c, 0);
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, payload, 5, 0), 0);
    rtc_stun_msg_t ind = sent(&h, -1);
    ck_assert_uint_eq(ind.method, RTC_STUN_SEND);
    ck_assert_int_eq(ind.cls, RTC_STUN_INDICATION);
    rtc_addr_t got;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&ind, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &got), 0);
    ck_assert(rtc_addr_equal(&got, &peer));
    const uint8_t *d;
    size_t len;
    ck_assert_int_eq(rtc_stun_msg_get_data(&ind, &d, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(d, payload, 5), 0);
    /* Two indications never share a transaction ID. */
    rtc_turn_client_send(c, &peer, payload, 5, 0);
    rtc_stun_msg_t ind2 = sent(&h, -1);
    ck_assert_int_ne(memcmp(ind.tid, ind2.tid, RTC_STUN_TID_LEN), 0);

    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer, 0), 0x4000);
    rtc_stun_msg_t bind = sent(&h, -1);
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, payload, 5, 0), 0);
    ck_assert_uint_eq(sent(&h, -1).method, RTC_STUN_SEND); /* bind pending: still indications */
    ck_assert_int_eq(feed(c, success(&h, &bind, NULL, false, 0), 0), 0);
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, payload, 5, 0), 0);
    ck_assert_uint_eq(h.out_len[h.n_out - 1], 9); /* datagram ChannelData: not padded */
    ck_assert_uint_eq(rtc_be16(h.out[h.n_out - 1]), 0x4000);
    ck_assert_uint_eq(rtc_be16(h.out[h.n_out - 1] + 2), 5);
    ck_assert_int_eq(memcmp(h.out[h.n_out - 1] + 4, payload, 5), 0);
    uint8_t small[8];
    ck_assert_int_eq(rtc_turn_client_wrap(c, &peer, payload, 5, small, sizeof small), RTC_ERR_OVERFLOW);
    rtc_turn_client_destroy(c);
}
END_TEST

static reply_t data_indication(const rtc_addr_t *peer, const char *text) {
    reply_t r;
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, r.buf, sizeof r.buf, RTC_STUN_DATA, RTC_STUN_INDICATION, NULL);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, peer);
    rtc_stun_add_attr(&b, RTC_STUN_ATTR_DATA, text, strlen(text));
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    r.len = (size_t)n;
    return r;
}

START_TEST(received_data_indications_and_channel_data_become_events) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("203.0.113.5:7000");
    rtc_addr_t stranger = addr("203.0.113.99:7000");
    rtc_turn_client_create_permission(c, &peer, 0);
    ok_last(&h, c, 0);
    int events = h.n_ev;
    ck_assert_int_eq(feed(c, data_indication(&peer, "ping"), 0), 0);
    ck_assert_int_eq(h.n_ev, events + 1);
    rtc_turn_event_t *ev = &h.ev[h.n_ev - 1];
    ck_assert_int_eq(ev->type, RTC_TURN_EVENT_DATA);
    ck_assert(rtc_addr_equal(&ev->peer, &peer));
    ck_assert_uint_eq(ev->channel, 0);
    ck_assert_uint_eq(ev->len, 4);
    ck_assert_int_eq(memcmp(ev->data, "ping", 4), 0);
    /* RFC 8656 §11.6: data from a peer without permission is discarded. */
    ck_assert_int_eq(feed(c, data_indication(&stranger, "evil"), 0), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(h.n_ev, events + 1);

    uint8_t cd[64];
    int n = rtc_turn_channel_data_write(cd, sizeof cd, 0x4000, (const uint8_t *)"pong", 4, false);
    ck_assert_int_eq(rtc_turn_client_handle_datagram(c, cd, (size_t)n, 0), RTC_ERR_NOT_FOUND); /* unbound */
    rtc_turn_client_bind_channel(c, &peer, 0);
    ok_last(&h, c, 0);
    events = h.n_ev;
    ck_assert_int_eq(rtc_turn_client_handle_datagram(c, cd, (size_t)n, 0), 0);
    ev = &h.ev[h.n_ev - 1];
    ck_assert_int_eq(h.n_ev, events + 1);
    ck_assert_int_eq(ev->type, RTC_TURN_EVENT_DATA);
    ck_assert(rtc_addr_equal(&ev->peer, &peer));
    ck_assert_uint_eq(ev->channel, 0x4000);
    ck_assert_int_eq(memcmp(ev->data, "pong", 4), 0);
    /* Truncated ChannelData and non-TURN bytes are refused without events. */
    ck_assert_int_eq(rtc_turn_client_handle_datagram(c, cd, 6, 0), RTC_ERR_TRUNCATED);
    ck_assert_int_eq(rtc_turn_client_handle_datagram(c, (const uint8_t *)"\x80\x00\x00\x00", 4, 0), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(h.n_ev, events + 1);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(response_with_bad_integrity_is_dropped) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    feed(c, challenge(&req, 401, "nonce-1"), 0);
    req = sent(&h, -1);
    rtc_addr_t relayed = addr("198.51.100.1:50000");
    reply_t r = success(&h, &req, &relayed, true, 600);
    reply_t forged = r;
    forged.buf[30] ^= 1; /* inside XOR-RELAYED-ADDRESS, before integrity and fingerprint */
    /* Recompute nothing: FINGERPRINT now fails too, so decode refuses it. */
    ck_assert_int_lt(feed(c, forged, 0), 0);
    /* Unsigned success to a signed request: dropped too. */
    reply_t unsigned_ok;
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, unsigned_ok.buf, sizeof unsigned_ok.buf, &req, RTC_STUN_SUCCESS);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
    unsigned_ok.len = (size_t)rtc_stun_builder_finish(&b);
    ck_assert_int_eq(feed(c, unsigned_ok, 0), RTC_ERR_INTEGRITY);
    /* Signed with another key (someone who saw the transaction ID but not the password). */
    harness_t other = h;
    other.key[0] ^= 0xff;
    ck_assert_int_eq(feed(c, success(&other, &req, &relayed, true, 600), 0), RTC_ERR_INTEGRITY);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATING);
    /* The genuine answer still completes the transaction. */
    ck_assert_int_eq(feed(c, r, 0), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(stream_transport_frames_in_any_split) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, true, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    reply_t r = challenge(&req, 401, "nonce-1");
    /* One byte at a time. */
    for (size_t i = 0; i < r.len; i++) ck_assert_int_eq(rtc_turn_client_handle_stream(c, r.buf + i, 1, 0), 0);
    ck_assert_int_eq(h.n_out, 2);
    req = sent(&h, -1);
    rtc_addr_t relayed = addr("198.51.100.1:50000");
    r = success(&h, &req, &relayed, true, 600);
    ck_assert_int_eq(rtc_turn_client_handle_stream(c, r.buf, r.len, 0), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_ALLOCATED);
    /* Over a stream nothing is retransmitted: the only timer is the reliable Ti. */
    rtc_addr_t peer = addr("203.0.113.5:7000");
    rtc_turn_client_bind_channel(c, &peer, 0);
    req = sent(&h, -1);
    r = success(&h, &req, NULL, false, 0);
    /* Success + padded ChannelData + Data indication in one read, split awkwardly. */
    uint8_t stream[2048];
    size_t n = 0;
    memcpy(stream, r.buf, r.len);
    n += r.len;
    int cd = rtc_turn_channel_data_write(stream + n, sizeof stream - n, 0x4000, (const uint8_t *)"abcde", 5, true);
    ck_assert_int_eq(cd, 12);
    n += (size_t)cd;
    reply_t di = data_indication(&peer, "xyz");
    memcpy(stream + n, di.buf, di.len);
    n += di.len;
    int events = h.n_ev;
    ck_assert_int_eq(rtc_turn_client_handle_stream(c, stream, 7, 0), 0);
    ck_assert_int_eq(rtc_turn_client_handle_stream(c, stream + 7, r.len + 3 - 7, 0), 0);
    ck_assert_int_eq(rtc_turn_client_handle_stream(c, stream + r.len + 3, n - r.len - 3, 0), 0);
    /* PERMISSION + CHANNEL from the bind, then two DATA events. */
    ck_assert_int_eq(h.n_ev, events + 4);
    ck_assert_int_eq(h.ev[events + 2].type, RTC_TURN_EVENT_DATA);
    ck_assert_uint_eq(h.ev[events + 2].len, 5);
    ck_assert_int_eq(memcmp(h.ev[events + 2].data, "abcde", 5), 0);
    ck_assert_int_eq(h.ev[events + 3].type, RTC_TURN_EVENT_DATA);
    ck_assert_int_eq(memcmp(h.ev[events + 3].data, "xyz", 3), 0);
    /* Sending over a stream pads ChannelData to 4 bytes (RFC 8656 §12.5). */
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, (const uint8_t *)"abcde", 5, 0), 0);
    ck_assert_uint_eq(h.out_len[h.n_out - 1], 12);
    /* A datagram-only entry point refuses; garbage on the stream is a framing error. */
    ck_assert_int_eq(rtc_turn_client_handle_stream(c, (const uint8_t *)"\x80\x01\x02\x03", 4, 0), RTC_ERR_MALFORMED);
    rtc_turn_client_destroy(c);

    rtc_turn_client_t *u = make_client(&h, false, 0);
    ck_assert_int_eq(rtc_turn_client_handle_stream(u, stream, 4, 0), RTC_ERR_STATE);
    rtc_turn_client_destroy(u);
}
END_TEST

START_TEST(stream_requests_are_not_retransmitted) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, true, 0);
    rtc_turn_client_allocate(c, 0);
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_MS(39500));
    rtc_turn_client_handle_timeout(c, RTC_MS(39500));
    ck_assert_int_eq(h.n_out, 1);
    ck_assert_int_eq(rtc_turn_client_error(c, NULL), RTC_ERR_TIMEOUT);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(create_rejects_bad_config) {
    rtc_turn_client_config_t cfg = {0};
    rtc_turn_client_callbacks_t cb = {0};
    ck_assert_ptr_null(rtc_turn_client_create(&cfg, &cb));
    cb.send = h_send;
    ck_assert_ptr_null(rtc_turn_client_create(&cfg, &cb)); /* no credentials */
    cfg.username = "u";
    cfg.password = "p";
    cfg.family = 5;
    ck_assert_ptr_null(rtc_turn_client_create(&cfg, &cb));
    rtc_turn_client_destroy(NULL);
}
END_TEST

START_TEST(release_while_allocating_closes_at_once) {
    harness_t h;
    rtc_turn_client_t *c = make_client(&h, false, 0);
    rtc_turn_client_allocate(c, 0);
    rtc_stun_msg_t req = sent(&h, 0);
    ck_assert_int_eq(rtc_turn_client_release(c, RTC_MS(5)), 0);
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_CLOSED);
    ck_assert_int_eq(h.ev[h.n_ev - 1].type, RTC_TURN_EVENT_RELEASED);
    ck_assert_int_eq(rtc_turn_client_next_timeout(c), RTC_TIME_NEVER);
    /* The abandoned Allocate's answer is no longer ours. */
    ck_assert_int_eq(feed(c, challenge(&req, 401, "n"), RTC_MS(6)), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(h.n_out, 1);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(failed_channel_bind_falls_back_to_send_indications) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_addr_t peer = addr("203.0.113.5:7000");
    rtc_turn_client_create_permission(c, &peer, 0);
    ok_last(&h, c, 0);
    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer, 0), 0x4000);
    rtc_stun_msg_t req = sent(&h, -1);
    ck_assert_int_eq(feed(c, error_reply(&h, &req, 400), 0), 0);
    rtc_turn_event_t *ev = &h.ev[h.n_ev - 1];
    ck_assert_int_eq(ev->type, RTC_TURN_EVENT_CHANNEL);
    ck_assert_int_eq(ev->error, RTC_ERR_PROTOCOL);
    ck_assert_int_eq(ev->stun_code, 400);
    ck_assert_uint_eq(ev->channel, 0x4000);
    ck_assert_uint_eq(rtc_turn_client_channel(c, &peer), 0);
    ck_assert(rtc_turn_client_has_permission(c, &peer)); /* the permission is unaffected */
    ck_assert_int_eq(rtc_turn_client_send(c, &peer, (const uint8_t *)"x", 1, 0), 0);
    ck_assert_uint_eq(sent(&h, -1).method, RTC_STUN_SEND);
    /* ChannelData on the dead channel is refused; a new bind takes a fresh number. */
    uint8_t cd[16];
    int n = rtc_turn_channel_data_write(cd, sizeof cd, 0x4000, (const uint8_t *)"x", 1, false);
    ck_assert_int_eq(rtc_turn_client_handle_datagram(c, cd, (size_t)n, 0), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_turn_client_bind_channel(c, &peer, 0), 0x4001);
    rtc_turn_client_destroy(c);
}
END_TEST

START_TEST(wrong_credentials_on_refresh_fail_the_allocation) {
    harness_t h;
    rtc_turn_client_t *c = allocated_client(&h, false, 0);
    rtc_turn_client_handle_timeout(c, RTC_SEC(540));
    rtc_stun_msg_t req = sent(&h, -1);
    /* A 401 with the nonce we just used: the server no longer accepts our credentials (an
     * expired REST username, say). */
    ck_assert_int_eq(feed(c, challenge(&req, 401, "nonce-1"), RTC_SEC(540)), 0);
    int code;
    ck_assert_int_eq(rtc_turn_client_state(c), RTC_TURN_CLIENT_FAILED);
    ck_assert_int_eq(rtc_turn_client_error(c, &code), RTC_ERR_AUTH);
    ck_assert_int_eq(code, 401);
    rtc_turn_client_destroy(c);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    Suite *s = suite_create("turn_client");
    TCase *tc = tcase_create("client");
    tcase_add_test(tc, allocate_answers_401_challenge_then_succeeds);
    tcase_add_test(tc, requested_address_family_is_sent_and_440_reported);
    tcase_add_test(tc, wrong_password_fails_with_auth_error);
    tcase_add_test(tc, stale_nonce_438_retries_but_not_forever);
    tcase_add_test(tc, allocation_error_is_reported_with_its_code);
    tcase_add_test(tc, allocate_times_out_after_rfc_retransmissions);
    tcase_add_test(tc, allocation_is_refreshed_a_minute_before_expiry);
    tcase_add_test(tc, refresh_answered_437_means_allocation_lost);
    tcase_add_test(tc, unanswered_refreshes_end_in_expiry);
    tcase_add_test(tc, release_sends_lifetime_zero);
    tcase_add_test(tc, permission_is_created_and_refreshed_under_300s);
    tcase_add_test(tc, permission_refused_is_reported);
    tcase_add_test(tc, channel_is_bound_and_refreshed_under_600s);
    tcase_add_test(tc, send_uses_indication_until_channel_is_bound);
    tcase_add_test(tc, received_data_indications_and_channel_data_become_events);
    tcase_add_test(tc, response_with_bad_integrity_is_dropped);
    tcase_add_test(tc, stream_transport_frames_in_any_split);
    tcase_add_test(tc, stream_requests_are_not_retransmitted);
    tcase_add_test(tc, create_rejects_bad_config);
    tcase_add_test(tc, release_while_allocating_closes_at_once);
    tcase_add_test(tc, failed_channel_bind_falls_back_to_send_indications);
    tcase_add_test(tc, wrong_credentials_on_refresh_fail_the_allocation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
