/* The ICE agent on its own, fed datagrams by hand: correct checks are answered as RFC 8445
 * §7.3 says; unauthenticated or malformed input is counted and dropped without an answer or
 * any change of state; API misuse is refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/ice.h"
#include "rtc/stun.h"

#define LUFRAG "LOCALufrag"
#define LPWD "LOCALpassword123456789012"
#define RUFRAG "PEERufrag"
#define RPWD "PEERpassword1234567890123"

static int sock_tag; /* the socket handle is just an address */
#define SOCK ((void *)&sock_tag)

typedef struct {
    uint8_t data[64][1500];
    size_t len[64];
    rtc_addr_t dest[64];
    size_t n;
    int states[32];
    size_t n_states;
    size_t candidates;
    bool eoc;
    size_t data_rx;
    rtc_ice_agent_t *reenter;  /* add a candidate from the state callback */
} capture_t;

static void cap_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    capture_t *c = user;
    ck_assert_ptr_eq(sock, SOCK);
    if (c->n < 64 && n <= 1500) {
        memcpy(c->data[c->n], p, n);
        c->len[c->n] = n;
        c->dest[c->n] = *dest;
        c->n++;
    }
}

static void cap_state(void *user, rtc_ice_state_t s) {
    capture_t *c = user;
    if (c->n_states < 32) c->states[c->n_states++] = s;
    if (c->reenter) {
        rtc_ice_agent_add_remote_candidate_str(c->reenter, "candidate:9 1 udp 100 127.0.0.9 9999 typ host", 0);
    }
}

static void cap_candidate(void *user, const rtc_ice_candidate_t *cand) {
    capture_t *c = user;
    if (cand) c->candidates++;
    else c->eoc = true;
}

static void cap_data(void *user, const uint8_t *p, size_t n, const rtc_ice_pair_info_t *pair) {
    capture_t *c = user;
    (void)p;
    (void)n;
    (void)pair;
    c->data_rx++;
}

static rtc_ice_agent_t *make_agent(capture_t *cap, rtc_ice_role_t role, uint64_t tie) {
    memset(cap, 0, sizeof *cap);
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    cfg.role = role;
    cfg.tie_breaker = tie;
    snprintf(cfg.ufrag, sizeof cfg.ufrag, LUFRAG);
    snprintf(cfg.pwd, sizeof cfg.pwd, LPWD);
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1");
    rtc_ice_callbacks_t cb = {.send = cap_send, .state_change = cap_state, .candidate = cap_candidate,
                              .data = cap_data};
    rtc_ice_agent_t *a = rtc_ice_agent_create(&cfg, &cb, cap);
    ck_assert_ptr_nonnull(a);
    rtc_addr_t local;
    rtc_addr_parse(&local, "127.0.0.1:5000", 0);
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, SOCK, &local, "lo"), RTC_OK);
    return a;
}

typedef struct {
    const char *username;      /* NULL: omit */
    const char *key;           /* NULL: no MESSAGE-INTEGRITY */
    bool fingerprint;
    bool priority;
    int role;                  /* 1 controlling, -1 controlled, 0 none */
    uint64_t tie;
    bool use_candidate;
    bool unknown_attr;
} req_opts_t;

static size_t build_request(uint8_t *buf, size_t cap, const req_opts_t *o) {
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, cap, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
    if (o->username) rtc_stun_add_string(&b, RTC_STUN_ATTR_USERNAME, o->username);
    if (o->priority) rtc_stun_add_u32(&b, RTC_STUN_ATTR_PRIORITY, 1862270975u);
    if (o->role > 0) rtc_stun_add_u64(&b, RTC_STUN_ATTR_ICE_CONTROLLING, o->tie);
    if (o->role < 0) rtc_stun_add_u64(&b, RTC_STUN_ATTR_ICE_CONTROLLED, o->tie);
    if (o->use_candidate) rtc_stun_add_flag(&b, RTC_STUN_ATTR_USE_CANDIDATE);
    if (o->unknown_attr) {
        uint8_t v[4] = {0};
        rtc_stun_add_attr(&b, 0x7FF0, v, 4);
    }
    if (o->key) rtc_stun_add_integrity(&b, (const uint8_t *)o->key, strlen(o->key));
    if (o->fingerprint) rtc_stun_add_fingerprint(&b);
    int n = rtc_stun_builder_finish(&b);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

static const req_opts_t good_check = {RUFRAG ":" "x", NULL, true, true, 1, 1, false, false};

static req_opts_t valid(void) {
    req_opts_t o = good_check;
    o.username = LUFRAG ":" RUFRAG;
    o.key = LPWD;
    o.role = -1;
    o.tie = 7;
    return o;
}

/* A snapshot of everything a dropped datagram must not change. */
typedef struct {
    rtc_ice_state_t state;
    rtc_ice_role_t role;
    size_t pairs, remotes, sent;
    bool selected;
} snapshot_t;

static snapshot_t snap(rtc_ice_agent_t *a, capture_t *cap) {
    snapshot_t s;
    rtc_ice_pair_info_t p;
    s.state = rtc_ice_agent_state(a);
    s.role = rtc_ice_agent_role(a);
    s.pairs = rtc_ice_agent_get_pairs(a, NULL, 0);
    s.remotes = rtc_ice_agent_remote_candidates(a, NULL, 0);
    s.sent = cap->n;
    s.selected = rtc_ice_agent_get_selected_pair(a, &p) == RTC_OK;
    return s;
}

static void assert_unchanged(const snapshot_t *x, const snapshot_t *y) {
    ck_assert_int_eq(x->state, y->state);
    ck_assert_int_eq(x->role, y->role);
    ck_assert_uint_eq(x->pairs, y->pairs);
    ck_assert_uint_eq(x->remotes, y->remotes);
    ck_assert_uint_eq(x->sent, y->sent);
    ck_assert_int_eq(x->selected, y->selected);
}

START_TEST(valid_check_gets_signed_response_and_teaches_prflx) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 100);
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    uint8_t buf[512];
    req_opts_t o = valid();
    size_t n = build_request(buf, sizeof buf, &o);
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_OK);
    ck_assert_uint_eq(cap.n, 1);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[0], cap.len[0]), RTC_OK);
    ck_assert_int_eq(m.cls, RTC_STUN_SUCCESS);
    ck_assert(memcmp(m.tid, buf + 8, 12) == 0);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&m, (const uint8_t *)LPWD, strlen(LPWD)), RTC_OK);
    ck_assert_int_ge(m.fingerprint, 0);
    rtc_addr_t mapped;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped), RTC_OK);
    ck_assert(rtc_addr_equal(&mapped, &from));
    ck_assert(rtc_addr_equal(&cap.dest[0], &from));
    rtc_ice_candidate_t r;
    ck_assert_uint_eq(rtc_ice_agent_remote_candidates(a, &r, 1), 1);
    ck_assert_int_eq(r.type, RTC_ICE_CANDIDATE_PRFLX);
    ck_assert_uint_eq(r.priority, 1862270975u);
    ck_assert_uint_eq(rtc_ice_agent_get_pairs(a, NULL, 0), 1);
    /* The triggered check goes out at the next pacing slot, signed with the peer's password. */
    rtc_ice_agent_handle_timeout(a, rtc_ice_agent_next_timeout(a));
    ck_assert_uint_eq(cap.n, 2);
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[1], cap.len[1]), RTC_OK);
    ck_assert_int_eq(m.cls, RTC_STUN_REQUEST);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&m, (const uint8_t *)RPWD, strlen(RPWD)), RTC_OK);
    char user[64];
    rtc_stun_msg_get_string(&m, RTC_STUN_ATTR_USERNAME, user, sizeof user);
    ck_assert_str_eq(user, RUFRAG ":" LUFRAG);
    ck_assert(rtc_stun_msg_has(&m, RTC_STUN_ATTR_ICE_CONTROLLING));
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(bad_checks_are_counted_and_dropped_without_effect) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 100);
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    uint8_t buf[512];

    struct { const char *what; req_opts_t o; int rc; } cases[] = {
        {"no integrity", valid(), RTC_ERR_AUTH},
        {"no username", valid(), RTC_ERR_AUTH},
        {"no fingerprint", valid(), RTC_ERR_AUTH},
        {"unknown ufrag", valid(), RTC_ERR_AUTH},
        {"stale remote ufrag", valid(), RTC_ERR_AUTH},
        {"username without colon", valid(), RTC_ERR_AUTH},
        {"wrong password", valid(), RTC_ERR_INTEGRITY},
    };
    cases[0].o.key = NULL;
    cases[1].o.username = NULL;
    cases[2].o.fingerprint = false;
    cases[3].o.username = "someoneelse:" RUFRAG;
    cases[4].o.username = LUFRAG ":oldufrag";
    cases[5].o.username = LUFRAG;
    cases[6].o.key = "not-the-password-at-all-123";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snapshot_t before = snap(a, &cap);
        size_t n = build_request(buf, sizeof buf, &cases[i].o);
        int rc = rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000);
        ck_assert_msg(rc == cases[i].rc, "%s: %s", cases[i].what, rtc_strerror(rc));
        snapshot_t after = snap(a, &cap);
        assert_unchanged(&before, &after);
    }
    /* A valid check with its FINGERPRINT corrupted. */
    req_opts_t o = valid();
    size_t n = build_request(buf, sizeof buf, &o);
    buf[n - 1] ^= 0x55;
    snapshot_t before = snap(a, &cap);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_ERR_FINGERPRINT);
    /* Truncated, garbage, empty, stray response, TURN ChannelData from a peer, data from a
     * stranger. */
    ck_assert_int_lt(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, 30, 1000), 0);
    uint8_t garbage[200];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37 + 11);
    garbage[0] = 0x01;
    ck_assert_int_lt(rtc_ice_agent_handle_datagram(a, SOCK, &from, garbage, sizeof garbage, 1000), 0);
    ck_assert_int_lt(rtc_ice_agent_handle_datagram(a, SOCK, &from, garbage, 0, 1000), 0);
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_BINDING, RTC_STUN_SUCCESS, NULL);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &from);
    rtc_stun_add_fingerprint(&b);
    n = (size_t)rtc_stun_builder_finish(&b);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_ERR_NOT_FOUND);
    uint8_t chan[8] = {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4};
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, chan, sizeof chan, 1000), RTC_ERR_DENIED);
    uint8_t rtp[20] = {0x80, 0x60};
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, rtp, sizeof rtp, 1000), RTC_ERR_DENIED);
    /* Unknown socket. */
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, (void *)&cap, &from, rtp, sizeof rtp, 1000), RTC_ERR_NOT_FOUND);
    snapshot_t after = snap(a, &cap);
    assert_unchanged(&before, &after);
    ck_assert_uint_eq(cap.data_rx, 0);

    rtc_ice_stats_t st;
    rtc_ice_agent_get_stats(a, &st);
    ck_assert_uint_eq(st.dropped_unauthenticated, 3);
    ck_assert_uint_eq(st.dropped_bad_username, 3);
    ck_assert_uint_eq(st.dropped_bad_integrity, 1);
    ck_assert_uint_eq(st.dropped_malformed, 4); /* fingerprint, truncated, garbage, empty */
    ck_assert_uint_eq(st.dropped_unmatched, 1);
    ck_assert_uint_eq(st.dropped_unknown_source, 2);
    ck_assert_uint_eq(st.checks_received, 0);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(role_conflict_answered_with_signed_487_when_our_tie_breaker_wins) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 100);
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    uint8_t buf[512];
    req_opts_t o = valid();
    o.role = 1;
    o.tie = 50; /* ours is 100: we keep controlling, the peer must yield */
    size_t n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_ERR_CONFLICT);
    ck_assert_uint_eq(cap.n, 1);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[0], cap.len[0]), RTC_OK);
    ck_assert_int_eq(m.cls, RTC_STUN_ERROR);
    int code;
    ck_assert_int_eq(rtc_stun_msg_get_error(&m, &code, NULL, 0), RTC_OK);
    ck_assert_int_eq(code, 487);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&m, (const uint8_t *)LPWD, strlen(LPWD)), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_role(a), RTC_ICE_ROLE_CONTROLLING);
    /* With a bigger tie-breaker the peer wins: we switch to controlled and answer success. */
    o.tie = 5000;
    n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_role(a), RTC_ICE_ROLE_CONTROLLED);
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[1], cap.len[1]), RTC_OK);
    ck_assert_int_eq(m.cls, RTC_STUN_SUCCESS);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(authenticated_but_bad_requests_get_400_and_420) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLED, 100);
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    uint8_t buf[512];
    req_opts_t o = valid();
    o.priority = false;
    size_t n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_ERR_MALFORMED);
    rtc_stun_msg_t m;
    int code;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[0], cap.len[0]), RTC_OK);
    rtc_stun_msg_get_error(&m, &code, NULL, 0);
    ck_assert_int_eq(code, 400);
    o = valid();
    o.unknown_attr = true;
    n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_ERR_UNKNOWN_ATTR);
    ck_assert_int_eq(rtc_stun_msg_decode(&m, cap.data[1], cap.len[1]), RTC_OK);
    rtc_stun_msg_get_error(&m, &code, NULL, 0);
    ck_assert_int_eq(code, 420);
    uint16_t types[4];
    ck_assert_int_eq(rtc_stun_msg_get_unknown_attributes(&m, types, 4), 1);
    ck_assert_uint_eq(types[0], 0x7FF0);
    ck_assert_uint_eq(rtc_ice_agent_get_pairs(a, NULL, 0), 0);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(forged_response_to_our_check_is_ignored_until_the_real_one) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 100);
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    rtc_ice_agent_gather(a, 0);
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate_str(a, "candidate:1 1 udp 2130706431 127.0.0.1 6000 typ host", 0),
                     RTC_OK);
    rtc_ice_agent_handle_timeout(a, rtc_ice_agent_next_timeout(a));
    size_t sent = cap.n;
    ck_assert_uint_ge(sent, 1);
    rtc_stun_msg_t req;
    ck_assert_int_eq(rtc_stun_msg_decode(&req, cap.data[sent - 1], cap.len[sent - 1]), RTC_OK);
    rtc_addr_t peer, me;
    rtc_addr_parse(&peer, "127.0.0.1:6000", 0);
    rtc_addr_parse(&me, "127.0.0.1:5000", 0);
    uint8_t buf[512];
    for (int forged = 1; forged >= 0; forged--) {
        rtc_stun_builder_t b;
        rtc_stun_builder_init_response(&b, buf, sizeof buf, &req, RTC_STUN_SUCCESS);
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &me);
        const char *key = forged ? "attacker-guess-0123456789" : RPWD;
        rtc_stun_add_integrity(&b, (const uint8_t *)key, strlen(key));
        rtc_stun_add_fingerprint(&b);
        size_t n = (size_t)rtc_stun_builder_finish(&b);
        int rc = rtc_ice_agent_handle_datagram(a, SOCK, &peer, buf, n, 2000);
        rtc_ice_pair_info_t p;
        ck_assert_uint_eq(rtc_ice_agent_get_pairs(a, &p, 1), 1);
        if (forged) {
            ck_assert_int_eq(rc, RTC_ERR_INTEGRITY);
            ck_assert_int_eq(p.state, RTC_ICE_PAIR_IN_PROGRESS);
            ck_assert_int_ne(rtc_ice_agent_state(a), RTC_ICE_STATE_CONNECTED);
        } else {
            ck_assert_int_eq(rc, RTC_OK);
            ck_assert_int_eq(p.state, RTC_ICE_PAIR_SUCCEEDED);
            ck_assert_int_eq(rtc_ice_agent_state(a), RTC_ICE_STATE_CONNECTED);
        }
    }
    rtc_ice_stats_t st;
    rtc_ice_agent_get_stats(a, &st);
    ck_assert_uint_eq(st.dropped_bad_integrity, 1);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(gathering_announces_host_candidates_then_end_of_candidates) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 1);
    ck_assert_int_eq(rtc_ice_agent_gathering_state(a), RTC_ICE_GATHERING_NEW);
    ck_assert_int_eq(rtc_ice_agent_gather(a, 0), RTC_OK);
    ck_assert_uint_eq(cap.candidates, 1);
    ck_assert(cap.eoc);
    ck_assert_int_eq(rtc_ice_agent_gathering_state(a), RTC_ICE_GATHERING_COMPLETE);
    rtc_ice_candidate_t c;
    ck_assert_uint_eq(rtc_ice_agent_local_candidates(a, &c, 1), 1);
    ck_assert_int_eq(c.type, RTC_ICE_CANDIDATE_HOST);
    ck_assert_uint_eq(c.priority, 2130706431u);
    ck_assert_str_eq(c.ufrag, LUFRAG);
    ck_assert_int_eq(rtc_ice_agent_gather(a, 0), RTC_ERR_STATE);
    rtc_addr_t other;
    rtc_addr_parse(&other, "127.0.0.1:5001", 0);
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, (void *)&cap, &other, "lo"), RTC_ERR_STATE);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(configuration_and_api_misuse_refused) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 1);
    /* Filter: only 127.0.0.1 may be used. */
    rtc_addr_t outside, dup;
    rtc_addr_parse(&outside, "10.1.2.3:5000", 0);
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, (void *)&cap, &outside, "eth0"), RTC_ERR_DENIED);
    rtc_addr_parse(&dup, "127.0.0.1:5000", 0);
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, (void *)&cap, &dup, "lo"), RTC_ERR_DUPLICATE);
    /* Credentials: RFC 8445 lengths and ice-chars. */
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, "abc", RPWD, 0), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, RUFRAG, "short", 0), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, "bad ufrag", RPWD, 0), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_set_remote_credentials(a, "OtherUfrag", RPWD, 0), RTC_ERR_STATE);
    /* Candidates: another generation, another component, garbage, after end-of-candidates. */
    rtc_ice_candidate_t c;
    const char *line = "candidate:1 1 udp 100 127.0.0.1 7000 typ host ufrag OtherUfrag";
    rtc_ice_candidate_parse(&c, line, strlen(line));
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate(a, &c, 0), RTC_ERR_STALE);
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate_str(a, "candidate:1 2 udp 100 127.0.0.1 7000 typ host", 0),
                     RTC_ERR_UNSUPPORTED);
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate_str(a, "nonsense", 0), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_ice_agent_end_of_remote_candidates(a, 0), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate_str(a, "candidate:1 1 udp 100 127.0.0.1 7000 typ host", 0),
                     RTC_ERR_STATE);
    /* Sending without a pair. */
    ck_assert_int_eq(rtc_ice_agent_send(a, (const uint8_t *)"x", 1, 0), RTC_ERR_STATE);
    rtc_ice_agent_close(a);
    ck_assert_int_eq(rtc_ice_agent_state(a), RTC_ICE_STATE_CLOSED);
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, (const uint8_t *)"x", 1, 0), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_ice_agent_next_timeout(a), RTC_TIME_NEVER);
    rtc_ice_agent_destroy(a);

    /* Bad local credentials in the configuration. */
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    snprintf(cfg.ufrag, sizeof cfg.ufrag, "no spaces allowed");
    rtc_ice_callbacks_t cb = {.send = cap_send};
    ck_assert_ptr_null(rtc_ice_agent_create(&cfg, &cb, &cap));
    rtc_ice_config_default(&cfg);
    rtc_ice_callbacks_t nocb = {0};
    ck_assert_ptr_null(rtc_ice_agent_create(&cfg, &nocb, &cap));
    /* Too many servers. */
    rtc_addr_t s;
    rtc_addr_parse(&s, "127.0.0.1:3478", 0);
    for (int i = 0; i < RTC_ICE_MAX_SERVERS; i++)
        ck_assert_int_eq(rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_STUN, &s, RTC_ICE_RELAY_UDP, NULL, NULL), RTC_OK);
    ck_assert_int_eq(rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_STUN, &s, RTC_ICE_RELAY_UDP, NULL, NULL), RTC_ERR_LIMIT);
}
END_TEST

START_TEST(callbacks_may_call_back_into_the_agent) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 1);
    cap.reenter = a;
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    rtc_ice_agent_gather(a, 0);
    /* The first remote candidate moves the agent to "checking"; the callback then adds another
     * candidate from inside the callback. */
    ck_assert_int_eq(rtc_ice_agent_add_remote_candidate_str(a, "candidate:1 1 udp 100 127.0.0.1 7000 typ host", 0),
                     RTC_OK);
    ck_assert_uint_ge(cap.n_states, 1);
    ck_assert_int_eq(cap.states[0], RTC_ICE_STATE_CHECKING);
    ck_assert_uint_eq(rtc_ice_agent_remote_candidates(a, NULL, 0), 2);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(remote_candidate_limit_holds) {
    capture_t cap;
    rtc_ice_agent_t *a = make_agent(&cap, RTC_ICE_ROLE_CONTROLLING, 1);
    int ok = 0, limit = 0;
    for (int i = 0; i < 100; i++) {
        char line[128];
        snprintf(line, sizeof line, "candidate:%d 1 udp 100 127.0.0.%d %d typ host", i, 2 + i % 200, 7000 + i);
        int rc = rtc_ice_agent_add_remote_candidate_str(a, line, 0);
        if (rc == RTC_OK) ok++;
        else if (rc == RTC_ERR_LIMIT) limit++;
    }
    ck_assert_int_eq(ok, 64);
    ck_assert_int_eq(limit, 36);
    rtc_ice_agent_destroy(a);
}
END_TEST

START_TEST(peek_ufrag_finds_the_addressed_agent) {
    uint8_t buf[512];
    req_opts_t o = valid();
    size_t n = build_request(buf, sizeof buf, &o);
    char u[64];
    ck_assert_int_eq(rtc_ice_peek_ufrag(buf, n, u, sizeof u), (int)strlen(LUFRAG));
    ck_assert_str_eq(u, LUFRAG);
    ck_assert_int_eq(rtc_ice_peek_ufrag(buf, n, u, 4), RTC_ERR_OVERFLOW);
    o.username = NULL;
    n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_peek_ufrag(buf, n, u, sizeof u), RTC_ERR_NOT_FOUND);
    o = valid();
    o.username = ":" RUFRAG;
    n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_peek_ufrag(buf, n, u, sizeof u), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_ice_peek_ufrag((const uint8_t *)"\x80garbage", 8, u, sizeof u), RTC_ERR_NOT_FOUND);
}
END_TEST

/* 1:1 NAT (cfg.nat_1to1_ipv4): the host candidate is signalled with the public IP and the
 * socket's port, while checks are still answered on, and pairs still use, the private socket. */
static rtc_addr_t nat_announced;
static void nat_candidate(void *user, const rtc_ice_candidate_t *cand) {
    (void)user;
    if (cand && cand->type == RTC_ICE_CANDIDATE_HOST) nat_announced = cand->addr;
}

START_TEST(nat_1to1_announces_the_public_ip_and_keeps_the_private_socket) {
    capture_t cap;
    memset(&cap, 0, sizeof cap);
    memset(&nat_announced, 0, sizeof nat_announced);
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    cfg.role = RTC_ICE_ROLE_CONTROLLED;
    snprintf(cfg.ufrag, sizeof cfg.ufrag, LUFRAG);
    snprintf(cfg.pwd, sizeof cfg.pwd, LPWD);
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1");
    ck_assert_int_eq(rtc_addr_parse(&cfg.nat_1to1_ipv4, "203.0.113.5", 0), RTC_OK);
    rtc_ice_callbacks_t cb = {.send = cap_send, .candidate = nat_candidate};
    rtc_ice_agent_t *a = rtc_ice_agent_create(&cfg, &cb, &cap);
    ck_assert_ptr_nonnull(a);
    rtc_addr_t local, pub, from;
    rtc_addr_parse(&local, "127.0.0.1:5000", 0);
    rtc_addr_parse(&pub, "203.0.113.5:5000", 0);
    rtc_addr_parse(&from, "127.0.0.1:6000", 0);
    ck_assert_int_eq(rtc_ice_agent_add_socket(a, SOCK, &local, "lo"), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_gather(a, 0), RTC_OK);
    ck_assert_msg(rtc_addr_equal(&nat_announced, &pub), "announced %s", rtc_addr_str(&nat_announced));
    rtc_ice_candidate_t lc;
    ck_assert_uint_eq(rtc_ice_agent_local_candidates(a, &lc, 1), 1);
    ck_assert(rtc_addr_equal(&lc.addr, &pub));
    /* A check that came through the NAT arrives on the private socket and is answered there. */
    rtc_ice_agent_set_remote_credentials(a, RUFRAG, RPWD, 0);
    uint8_t buf[512];
    req_opts_t o = valid();
    o.role = 1;
    size_t n = build_request(buf, sizeof buf, &o);
    ck_assert_int_eq(rtc_ice_agent_handle_datagram(a, SOCK, &from, buf, n, 1000), RTC_OK);
    ck_assert_uint_ge(cap.n, 1);
    ck_assert(rtc_addr_equal(&cap.dest[0], &from));
    rtc_ice_pair_info_t pair;
    ck_assert_uint_eq(rtc_ice_agent_get_pairs(a, &pair, 1), 1);
    ck_assert(rtc_addr_equal(&pair.local.addr, &local));
    rtc_ice_agent_destroy(a);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_agent");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, valid_check_gets_signed_response_and_teaches_prflx);
    tcase_add_test(tc, bad_checks_are_counted_and_dropped_without_effect);
    tcase_add_test(tc, role_conflict_answered_with_signed_487_when_our_tie_breaker_wins);
    tcase_add_test(tc, authenticated_but_bad_requests_get_400_and_420);
    tcase_add_test(tc, forged_response_to_our_check_is_ignored_until_the_real_one);
    tcase_add_test(tc, gathering_announces_host_candidates_then_end_of_candidates);
    tcase_add_test(tc, configuration_and_api_misuse_refused);
    tcase_add_test(tc, callbacks_may_call_back_into_the_agent);
    tcase_add_test(tc, remote_candidate_limit_holds);
    tcase_add_test(tc, peek_ufrag_finds_the_addressed_agent);
    tcase_add_test(tc, nat_1to1_announces_the_public_ip_and_keeps_the_private_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
