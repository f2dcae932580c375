/* The TURN server core (RFC 8656) driven through its sans-I/O API with a fake clock and fake
 * relay sockets: authentication flow, Allocate/Refresh/CreatePermission/ChannelBind and their
 * errors, relaying in both directions, lifetimes and expiry, quotas. */
#include <check.h>

#include "unit/turn_harness.h"

typedef struct {
    int transport;      /* -1: omit REQUESTED-TRANSPORT */
    bool even, reserve;
    uint64_t token;
    uint8_t rfam, afam; /* REQUESTED-/ADDITIONAL-ADDRESS-FAMILY, 0: omit */
    int64_t lifetime;   /* -1: omit */
    bool df;
    uint16_t unknown;   /* an unknown comprehension-required attribute type, 0: none */
} alloc_opts_t;

static alloc_opts_t opts_default(void) {
    return (alloc_opts_t){.transport = RTC_TURN_TRANSPORT_UDP, .lifetime = -1};
}

static void attr_alloc(rtc_stun_builder_t *b, const void *arg) {
    const alloc_opts_t *o = arg;
    if (o->transport >= 0) rtc_stun_add_requested_transport(b, (uint8_t)o->transport);
    if (o->even) rtc_stun_add_even_port(b, o->reserve);
    if (o->token) rtc_stun_add_u64(b, RTC_STUN_ATTR_RESERVATION_TOKEN, o->token);
    if (o->rfam) rtc_stun_add_family(b, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, o->rfam);
    if (o->afam) rtc_stun_add_family(b, RTC_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, o->afam);
    if (o->lifetime >= 0) rtc_stun_add_u32(b, RTC_STUN_ATTR_LIFETIME, (uint32_t)o->lifetime);
    if (o->df) rtc_stun_add_flag(b, RTC_STUN_ATTR_DONT_FRAGMENT);
    if (o->unknown) rtc_stun_add_u32(b, o->unknown, 0);
}

static void attr_rfam6(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_family(b, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, RTC_AF_INET6);
}

static void attr_draft_dual(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_requested_transport(b, RTC_TURN_TRANSPORT_UDP);
    const uint8_t v6[4] = {0x02, 0, 0, 0};
    rtc_stun_add_attr(b, 0x8032, v6, 4);
}

static int allocate_with(harness_t *h, h_client_t *c, const alloc_opts_t *o) {
    return h_do_auth(h, c, RTC_STUN_ALLOCATE, attr_alloc, o);
}

static uint32_t resp_lifetime(harness_t *h) {
    uint32_t v = 0;
    ck_assert_int_eq(rtc_stun_msg_get_u32(&h->resp, RTC_STUN_ATTR_LIFETIME, &v), RTC_OK);
    return v;
}

/* ---- authentication ------------------------------------------------------------------ */

START_TEST(allocate_401_then_signed_request_succeeds) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    /* First leg: no credentials → 401 with REALM and NONCE, no integrity. */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    char realm[64], nonce[128];
    ck_assert_int_eq(rtc_stun_msg_get_string(&h.resp, RTC_STUN_ATTR_REALM, realm, sizeof realm), RTC_OK);
    ck_assert_str_eq(realm, "test");
    ck_assert_int_eq(rtc_stun_msg_get_string(&h.resp, RTC_STUN_ATTR_NONCE, nonce, sizeof nonce), RTC_OK);
    ck_assert_int_eq(h.resp.integrity, -1);
    ck_assert_int_eq(rtc_stun_credentials_handle_error(&c.cred, &h.resp), RTC_OK);
    /* Second leg: signed → success, signed with the long-term key. */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 0);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&h.resp, h_lt_key("alice", "secret"), 16), RTC_OK);
    rtc_addr_t relayed, mapped;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed), RTC_OK);
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped), RTC_OK);
    ck_assert(rtc_addr_equal(&mapped, &c.ep.remote));
    ck_assert_int_eq(relayed.family, RTC_AF_INET4);
    ck_assert(relayed.port >= 50000 && relayed.port <= 50999);
    ck_assert_uint_eq(resp_lifetime(&h), 600);
    ck_assert_ptr_nonnull(h_find_relay(&h, &relayed));
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, 1);
    ck_assert_uint_eq(turn_shared_allocations(h.sh), 1);
    h_free(&h);
}
END_TEST

START_TEST(wrong_password_unknown_user_and_wrong_realm_get_401) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "not-the-password");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    /* The credentials helper gives up after a 401 to a signed request with the same nonce. */
    ck_assert_int_eq(rtc_stun_credentials_handle_error(&c.cred, &h.resp), RTC_ERR_AUTH);
    h_client(&c, "127.0.0.1:40001", "mallory", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    /* Right password, wrong realm: the key differs and the realm is not ours. */
    h_client(&c, "127.0.0.1:40002", "alice", "secret");
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    rtc_stun_credentials_handle_error(&c.cred, &h.resp);
    snprintf(c.cred.realm, sizeof c.cred.realm, "other");
    rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, "alice", "other", "secret", c.cred.key);
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, 0);
    ck_assert_uint_ge(turn_server_stats(h.s)->auth_failures, 3);
    h_free(&h);
}
END_TEST

START_TEST(stale_nonce_gets_438_and_retry_succeeds) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->nonce_lifetime = 30;
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    char old_nonce[800];
    snprintf(old_nonce, sizeof old_nonce, "%s", c.cred.nonce);
    h_advance(&h, RTC_SEC(31));
    /* The nonce expired: 438 with a new nonce, then the retry works. */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_REFRESH, NULL, NULL), 438);
    char nonce[64];
    ck_assert_int_eq(rtc_stun_msg_get_string(&h.resp, RTC_STUN_ATTR_NONCE, nonce, sizeof nonce), RTC_OK);
    ck_assert_str_ne(nonce, old_nonce);
    ck_assert_int_eq(rtc_stun_credentials_handle_error(&c.cred, &h.resp), RTC_OK);
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_REFRESH, NULL, NULL), 0);
    ck_assert_uint_eq(turn_server_stats(h.s)->stale_nonces, 1);
    h_free(&h);
}
END_TEST

START_TEST(nonce_of_another_client_ip_is_stale) {
    harness_t h;
    h_init(&h);
    h_client_t a, b;
    h_client(&a, "127.0.0.1:40000", "alice", "secret");
    h_client(&b, "127.0.0.2:40000", "alice", "secret");
    ck_assert_int_eq(h_do(&h, &a, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    rtc_stun_credentials_handle_error(&b.cred, &h.resp); /* b replays a's nonce */
    ck_assert_int_eq(h_do(&h, &b, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 438);
    h_free(&h);
}
END_TEST

START_TEST(signed_request_missing_nonce_is_400) {
    harness_t h;
    h_init(&h);
    uint8_t buf[256];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_ALLOCATE, RTC_STUN_REQUEST, NULL);
    rtc_stun_add_requested_transport(&b, 17);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_USERNAME, "alice");
    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, "test");
    rtc_stun_add_integrity(&b, h_lt_key("alice", "secret"), 16);
    int n = rtc_stun_builder_finish(&b);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    h_feed(&h, &c, buf, (size_t)n);
    ck_assert_uint_eq(h.n_cl, 1);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, h.cl[0].data, h.cl[0].len), RTC_OK);
    int code;
    rtc_stun_msg_get_error(&m, &code, NULL, 0);
    ck_assert_int_eq(code, 400);
    h_free(&h);
}
END_TEST

START_TEST(unauthenticated_answers_are_rate_limited_per_source) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->unauth_rate = 1;
    p->unauth_burst = 5;
    h_init_with(&h, p, 50000, 50999);
    h_client_t c, other;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    h_client(&other, "127.0.0.9:40000", "alice", "secret");
    int answered = 0;
    for (int i = 0; i < 20; i++) answered += h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL) == 401;
    ck_assert_int_eq(answered, 5);
    ck_assert_uint_eq(turn_server_stats(h.s)->ratelimited, 15);
    /* Another source has its own bucket (they could share a slot only by a 1/4096 chance
     * for this fixed pair; the seed is random, so retry a few sources to be robust). */
    ck_assert_int_eq(h_do(&h, &other, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    /* Tokens come back with time. */
    h.now += RTC_SEC(2);
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    h_free(&h);
}
END_TEST

/* ---- REST credentials ---------------------------------------------------------------- */

static void rest_client(h_client_t *c, const char *remote, const char *secret, int64_t expiry, const char *id) {
    char user[128], pw[64];
    snprintf(user, sizeof user, "%lld:%s", (long long)expiry, id);
    turn_rest_password(secret, user, pw, sizeof pw);
    h_client(c, remote, user, pw);
}

START_TEST(rest_credentials_accepted_expired_and_wrong_secret_refused) {
    harness_t h;
    h_init(&h);
    char *secrets[] = {"s3cret"};
    ck_assert_int_eq(turn_shared_set_redis_secrets(h.sh, secrets, NULL, 1), RTC_OK);
    int64_t wall = H_WALL_BASE + h.now / RTC_US_PER_SEC;
    h_client_t c;
    rest_client(&c, "127.0.0.1:40000", "s3cret", wall + 3600, "alice");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    rest_client(&c, "127.0.0.1:40001", "s3cret", wall - 1, "alice");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    rest_client(&c, "127.0.0.1:40002", "wrong", wall + 3600, "alice");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    /* Not a REST username at all, and not a static user. */
    h_client(&c, "127.0.0.1:40003", "x1234:alice", "whatever");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    h_free(&h);
}
END_TEST

START_TEST(rest_secrets_rotate_without_dropping_sessions) {
    harness_t h;
    h_init(&h);
    int64_t wall = H_WALL_BASE + h.now / RTC_US_PER_SEC;
    char *old_only[] = {"old"};
    turn_shared_set_redis_secrets(h.sh, old_only, NULL, 1);
    h_client_t c1;
    rest_client(&c1, "127.0.0.1:40000", "old", wall + 3600, "u1");
    ck_assert_int_eq(h_allocate(&h, &c1, NULL), 0);
    /* Rotation, phase 1: new secret added, old still valid. Both kinds of client work. */
    char *both[] = {"new", "old"};
    turn_shared_set_redis_secrets(h.sh, both, NULL, 2);
    h_client_t c2, c3;
    rest_client(&c2, "127.0.0.1:40001", "new", wall + 3600, "u2");
    ck_assert_int_eq(h_allocate(&h, &c2, NULL), 0);
    rest_client(&c3, "127.0.0.1:40002", "old", wall + 3600, "u3");
    ck_assert_int_eq(h_allocate(&h, &c3, NULL), 0);
    /* Phase 2: old secret retired. New logins with it fail... */
    char *new_only[] = {"new"};
    turn_shared_set_redis_secrets(h.sh, new_only, NULL, 1);
    h_client_t c4;
    rest_client(&c4, "127.0.0.1:40003", "old", wall + 3600, "u4");
    ck_assert_int_eq(h_allocate(&h, &c4, NULL), 401);
    /* ...but the session made with it keeps refreshing (its key is cached). */
    ck_assert_int_eq(h_refresh(&h, &c1, 600), 0);
    ck_assert_int_eq(h_permit(&h, &c1, "127.0.0.1:9"), 0);
    h_free(&h);
}
END_TEST

START_TEST(rest_secret_past_its_redis_expiry_is_not_accepted) {
    harness_t h;
    h_init(&h);
    int64_t wall = H_WALL_BASE + h.now / RTC_US_PER_SEC;
    char *secrets[] = {"short", "long"};
    int64_t expires[] = {wall + 10, 0};
    turn_shared_set_redis_secrets(h.sh, secrets, expires, 2);
    h_client_t c;
    rest_client(&c, "127.0.0.1:40000", "short", wall + 3600, "a");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    h.now += RTC_SEC(11);
    rest_client(&c, "127.0.0.1:40001", "short", wall + 3600, "b");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 401);
    rest_client(&c, "127.0.0.1:40002", "long", wall + 3600, "c");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    h_free(&h);
}
END_TEST

START_TEST(rest_static_secret_from_config_and_expiry_ends_refresh) {
    harness_t h;
    turn_policy_t *p = h_policy();
    turn_policy_add_static_secret(p, "cfgsecret");
    h_init_with(&h, p, 50000, 50999);
    int64_t wall = H_WALL_BASE + h.now / RTC_US_PER_SEC;
    h_client_t c;
    rest_client(&c, "127.0.0.1:40000", "cfgsecret", wall + 100, "carol");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    h_advance(&h, RTC_SEC(50));
    ck_assert_int_eq(h_refresh(&h, &c, 600), 0);
    h_advance(&h, RTC_SEC(60)); /* username expired now */
    ck_assert_int_eq(h_refresh(&h, &c, 600), 401);
    h_free(&h);
}
END_TEST

/* ---- Allocate errors ----------------------------------------------------------------- */

START_TEST(allocate_errors_400_442_420) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.transport = -1;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 400);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&h.resp, h_lt_key("alice", "secret"), 16), RTC_OK);
    o.transport = 6; /* TCP relaying (RFC 6062) is not offered */
    ck_assert_int_eq(allocate_with(&h, &c, &o), 442);
    o = opts_default();
    o.unknown = 0x0031;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 420);
    uint16_t types[4];
    ck_assert_int_eq(rtc_stun_msg_get_unknown_attributes(&h.resp, types, 4), 1);
    ck_assert_uint_eq(types[0], 0x0031);
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&h.resp, h_lt_key("alice", "secret"), 16), RTC_OK);
    /* An unknown comprehension-optional attribute is ignored. */
    o.unknown = 0;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    h_free(&h);
}
END_TEST

/* alice at 127.0.0.1:40000, after the 401 that gives her client the realm and a nonce. */
static void challenged_alice(harness_t *h, h_client_t *c) {
    h_client(c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_do(h, c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 401);
    rtc_stun_credentials_handle_error(&c->cred, &h->resp);
}

/* An Allocate with transaction id tid that must succeed; its relayed address. */
static rtc_addr_t allocate_tid(harness_t *h, h_client_t *c, const uint8_t *tid) {
    ck_assert_int_eq(h_do_tid(h, c, RTC_STUN_ALLOCATE, h_attr_udp, NULL, tid), 0);
    rtc_addr_t r;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&h->resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r), RTC_OK);
    return r;
}

START_TEST(allocate_same_5tuple_437_but_retransmission_answered) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    challenged_alice(&h, &c);
    const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    rtc_addr_t r1 = allocate_tid(&h, &c, tid);
    /* Same transaction again (lost response): same answer. */
    rtc_addr_t r2 = allocate_tid(&h, &c, tid);
    ck_assert(rtc_addr_equal(&r1, &r2));
    /* A new Allocate on the same 5-tuple: 437. */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 437);
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, 1);
    h_free(&h);
}
END_TEST

/* The Allocate that created an allocation, retransmitted after its nonce went stale (its
 * answer lost or late on a loaded path): the same answer again, not 438 — a 438 makes the
 * client sign a new transaction, which can only get 437 (coTURN's uclient did that here). */
START_TEST(allocate_retransmitted_with_stale_nonce_answered) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->nonce_lifetime = 1;
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    challenged_alice(&h, &c);
    const uint8_t tid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
    rtc_addr_t r1 = allocate_tid(&h, &c, tid);
    h_advance(&h, RTC_SEC(3));
    /* Another request with that nonce is stale now... */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_REFRESH, NULL, NULL), 438);
    /* ...but the creating Allocate again gets its answer, signed, same relayed address. */
    rtc_addr_t r2 = allocate_tid(&h, &c, tid);
    ck_assert(rtc_addr_equal(&r1, &r2));
    ck_assert_int_eq(rtc_stun_msg_check_integrity(&h.resp, h_lt_key("alice", "secret"), 16), RTC_OK);
    /* A different transaction with the stale nonce: 438 as before, and no second allocation. */
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_ALLOCATE, h_attr_udp, NULL), 438);
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, 1);
    h_free(&h);
}
END_TEST

START_TEST(requests_without_allocation_437_and_other_user_441) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_refresh(&h, &c, 600), 437);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:9"), 437);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:9"), 437);
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    /* Same 5-tuple, bob's valid credentials: 441 Wrong Credentials. */
    h_client_t b;
    h_client(&b, "127.0.0.1:40000", "bob", "hunter2");
    ck_assert_int_eq(h_refresh(&h, &b, 600), 441);
    h_free(&h);
}
END_TEST

START_TEST(allocation_quota_per_user_and_total_486) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->max_allocs_per_user = 2;
    p->max_allocs_total = 3;
    h_init_with(&h, p, 50000, 50999);
    h_client_t c[5];
    h_client(&c[0], "127.0.0.1:40000", "alice", "secret");
    h_client(&c[1], "127.0.0.1:40001", "alice", "secret");
    h_client(&c[2], "127.0.0.1:40002", "alice", "secret");
    h_client(&c[3], "127.0.0.1:40003", "bob", "hunter2");
    h_client(&c[4], "127.0.0.1:40004", "bob", "hunter2");
    ck_assert_int_eq(h_allocate(&h, &c[0], NULL), 0);
    ck_assert_int_eq(h_allocate(&h, &c[1], NULL), 0);
    ck_assert_int_eq(h_allocate(&h, &c[2], NULL), 486);  /* alice's quota */
    ck_assert_int_eq(h_allocate(&h, &c[3], NULL), 0);
    ck_assert_int_eq(h_allocate(&h, &c[4], NULL), 486);  /* server total */
    /* Deleting one frees quota. */
    ck_assert_int_eq(h_refresh(&h, &c[0], 0), 0);
    ck_assert_int_eq(h_allocate(&h, &c[2], NULL), 0);
    ck_assert_uint_eq(turn_server_stats(h.s)->quota_rejections, 2);
    h_free(&h);
}
END_TEST

START_TEST(port_range_exhausted_508) {
    harness_t h;
    h_init_with(&h, h_policy(), 50000, 50001);
    h_client_t c[3];
    for (int i = 0; i < 3; i++) {
        char a[32];
        snprintf(a, sizeof a, "127.0.0.1:%d", 40000 + i);
        h_client(&c[i], a, "alice", "secret");
    }
    ck_assert_int_eq(h_allocate(&h, &c[0], NULL), 0);
    ck_assert_int_eq(h_allocate(&h, &c[1], NULL), 0);
    ck_assert_int_eq(h_allocate(&h, &c[2], NULL), 508);
    /* The failed attempt did not leak quota. */
    ck_assert_uint_eq(turn_shared_allocations(h.sh), 2);
    h_free(&h);
}
END_TEST

START_TEST(busy_port_is_skipped) {
    harness_t h;
    h_init_with(&h, h_policy(), 50000, 50001);
    h.busy_port = 50000;
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_uint_eq(r.port, 50001);
    h_free(&h);
}
END_TEST

START_TEST(even_port_reservation_token_flow) {
    harness_t h;
    h_init(&h);
    h_client_t c, d, e;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    h_client(&d, "127.0.0.1:40001", "alice", "secret");
    h_client(&e, "127.0.0.1:40002", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.even = true;
    o.reserve = true;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    rtc_addr_t r;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
    ck_assert_uint_eq(r.port % 2, 0);
    uint64_t token;
    ck_assert_int_eq(rtc_stun_msg_get_u64(&h.resp, RTC_STUN_ATTR_RESERVATION_TOKEN, &token), RTC_OK);
    ck_assert_int_eq(h_live_holds, 1); /* the odd neighbour is held by a placeholder socket */
    /* Token together with EVEN-PORT: 400. */
    alloc_opts_t bad = opts_default();
    bad.token = token;
    bad.even = true;
    ck_assert_int_eq(allocate_with(&h, &d, &bad), 400);
    /* A made-up token: 508. */
    alloc_opts_t fake = opts_default();
    fake.token = token ^ 0x5555;
    ck_assert_int_eq(allocate_with(&h, &d, &fake), 508);
    /* The real token, from another 5-tuple: the odd port next to the first. */
    alloc_opts_t t = opts_default();
    t.token = token;
    ck_assert_int_eq(allocate_with(&h, &d, &t), 0);
    rtc_addr_t r2;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r2);
    ck_assert_uint_eq(r2.port, r.port + 1);
    ck_assert_int_eq(h_live_holds, 0); /* adopted by the new relay, not reopened */
    /* Used once only. */
    ck_assert_int_eq(allocate_with(&h, &e, &t), 508);
    h_free(&h);
}
END_TEST

START_TEST(reservation_skips_a_pair_whose_neighbour_is_busy) {
    harness_t h;
    h_init_with(&h, h_policy(), 50000, 50003);
    h.busy_port = 50001; /* another process has it: 50000/50001 cannot be a pair */
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.even = true;
    o.reserve = true;
    for (int i = 0; i < 10; i++) {
        /* The start of the port search is random: repeat to meet both orders. */
        ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
        rtc_addr_t r;
        rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
        ck_assert_uint_eq(r.port, 50002);
        ck_assert_int_eq(h_refresh(&h, &c, 0), 0);
        h_advance(&h, RTC_SEC(31)); /* let the reservation of 50003 lapse */
    }
    turn_ports_expire(h.sh->ports, h.now); /* the runtime does this on every tick */
    ck_assert_int_eq(h_live_holds, 0);
    h_free(&h);
}
END_TEST

START_TEST(reservation_expires_after_30s) {
    harness_t h;
    h_init_with(&h, h_policy(), 50000, 50001);
    h_client_t c, d;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    h_client(&d, "127.0.0.1:40001", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.even = true;
    o.reserve = true;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    /* Both ports taken (one allocated, one reserved). */
    ck_assert_int_eq(h_allocate(&h, &d, NULL), 508);
    ck_assert_int_eq(h_live_holds, 1);
    h_advance(&h, RTC_SEC(31));
    ck_assert_int_eq(h_live_holds, 0); /* the expired reservation let its placeholder go */
    ck_assert_int_eq(h_allocate(&h, &d, NULL), 0);
    h_free(&h);
}
END_TEST

START_TEST(dual_stack_allocation_and_family_errors) {
    harness_t h;
    turn_policy_t *p = h_policy();
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.afam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    const rtc_stun_attr_t *a1 = rtc_stun_msg_find(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS);
    ck_assert_ptr_nonnull(a1);
    const rtc_stun_attr_t *a2 = rtc_stun_msg_find_next(&h.resp, a1);
    ck_assert_ptr_nonnull(a2);
    rtc_addr_t v4, v6;
    rtc_stun_attr_get_xor_address(&h.resp, a1, &v4);
    rtc_stun_attr_get_xor_address(&h.resp, a2, &v6);
    ck_assert_int_eq(v4.family, RTC_AF_INET4);
    ck_assert_int_eq(v6.family, RTC_AF_INET6);
    /* Permissions for both families; relaying to an IPv6 peer uses the IPv6 relay. */
    ck_assert_int_eq(h_permit(&h, &c, "[::1]:7000"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:7000"), 0);
    h_clear(&h);
    h_send_ind(&h, &c, "[::1]:7000", "six", 3, false);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert_ptr_eq(h.pe[0].io, h_find_relay(&h, &v6));
    /* Refresh naming a family the allocation lacks: 443 (needs a v4-only allocation). */
    h_client_t d;
    h_client(&d, "127.0.0.1:40001", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &d, NULL), 0);
    ck_assert_int_eq(h_permit(&h, &d, "[::1]:7000"), 443);
    ck_assert_int_eq(h_do_auth(&h, &d, RTC_STUN_REFRESH, attr_rfam6, NULL), 443);
    /* The draft's attribute number gives a dual allocation too. */
    h_client_t f;
    h_client(&f, "127.0.0.1:40009", "alice", "secret");
    ck_assert_int_eq(h_do_auth(&h, &f, RTC_STUN_ALLOCATE, attr_draft_dual, NULL), 0);
    a1 = rtc_stun_msg_find(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS);
    ck_assert_ptr_nonnull(rtc_stun_msg_find_next(&h.resp, a1));
    ck_assert_int_eq(h_do_auth(&h, &f, RTC_STUN_REFRESH, attr_rfam6, NULL), 0);
    /* ADDITIONAL-ADDRESS-FAMILY = IPv4 is a 400; both family attributes: 400. */
    h_client_t e;
    h_client(&e, "127.0.0.1:40002", "alice", "secret");
    o = opts_default();
    o.afam = RTC_AF_INET4;
    ck_assert_int_eq(allocate_with(&h, &e, &o), 400);
    o = opts_default();
    o.afam = RTC_AF_INET6;
    o.rfam = RTC_AF_INET4;
    ck_assert_int_eq(allocate_with(&h, &e, &o), 400);
    /* EVEN-PORT R with ADDITIONAL-ADDRESS-FAMILY: 400. */
    o = opts_default();
    o.afam = RTC_AF_INET6;
    o.even = o.reserve = true;
    ck_assert_int_eq(allocate_with(&h, &e, &o), 400);
    /* IPv6-only allocation. */
    o = opts_default();
    o.rfam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &e, &o), 0);
    rtc_addr_t r;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
    ck_assert_int_eq(r.family, RTC_AF_INET6);
    ck_assert_int_eq(h_permit(&h, &e, "127.0.0.1:7000"), 443);
    h_free(&h);
}
END_TEST

static void attr_delete_v4(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_u32(b, RTC_STUN_ATTR_LIFETIME, 0);
    rtc_stun_add_family(b, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, RTC_AF_INET4);
}

START_TEST(refresh_zero_with_family_deletes_one_half_of_a_dual_allocation) {
    harness_t h;
    turn_policy_t *p = h_policy();
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.afam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    const rtc_stun_attr_t *a1 = rtc_stun_msg_find(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS);
    rtc_addr_t v4, v6;
    rtc_stun_attr_get_xor_address(&h.resp, a1, &v4);
    rtc_stun_attr_get_xor_address(&h.resp, rtc_stun_msg_find_next(&h.resp, a1), &v6);
    ck_assert_int_eq(h_permit(&h, &c, "[::1]:1"), 0);
    ck_assert_int_eq(h_do_auth(&h, &c, RTC_STUN_REFRESH, attr_delete_v4, NULL), 0);
    ck_assert_ptr_null(h_find_relay(&h, &v4));
    ck_assert_ptr_nonnull(h_find_relay(&h, &v6));
    turn_alloc_info_t info;
    ck_assert_int_eq(turn_server_alloc_info(h.s, &c.ep, &info), RTC_OK);
    ck_assert_uint_eq(info.n_relayed, 1);
    ck_assert(rtc_addr_equal(&info.relayed[0], &v6));
    /* The IPv6 half still relays; IPv4 peers now have no relay. */
    h_clear(&h);
    ck_assert(h_peer_send(&h, &v6, "[::1]:7000", "six", 3));
    ck_assert_uint_eq(h.n_cl, 1);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 443);
    /* Deleting the last family deletes the allocation; the retired slot's port is not freed
     * twice (a double release would hand the v4 port to two allocations). */
    ck_assert_int_eq(h_refresh(&h, &c, 0), 0);
    ck_assert_uint_eq(turn_ports_in_use(h.sh->ports, RTC_AF_INET4), 0);
    ck_assert_uint_eq(turn_ports_in_use(h.sh->ports, RTC_AF_INET6), 0);
    h_free(&h);
}
END_TEST

START_TEST(dual_stack_without_ipv6_relay_reports_address_error) {
    harness_t h;
    h_init(&h); /* IPv4 relay only */
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.afam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    const rtc_stun_attr_t *ae = rtc_stun_msg_find(&h.resp, RTC_STUN_ATTR_ADDRESS_ERROR_CODE);
    ck_assert_ptr_nonnull(ae);
    const uint8_t *v = rtc_stun_attr_value(&h.resp, ae);
    ck_assert_uint_eq(v[0], 0x02);                  /* IPv6 */
    ck_assert_uint_eq(v[2] * 100 + v[3], 440);
    /* The pre-RFC draft's attribute number (0x8032, as coTURN sends it) works alike and is
     * answered with the draft's ADDRESS-ERROR-CODE number (0x8033). */
    h_client_t e;
    h_client(&e, "127.0.0.1:40003", "alice", "secret");
    ck_assert_int_eq(h_do_auth(&h, &e, RTC_STUN_ALLOCATE, attr_draft_dual, NULL), 0);
    ck_assert_ptr_nonnull(rtc_stun_msg_find(&h.resp, 0x8033));
    /* REQUESTED-ADDRESS-FAMILY IPv6 alone: 440. */
    h_client_t d;
    h_client(&d, "127.0.0.1:40001", "alice", "secret");
    o = opts_default();
    o.rfam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &d, &o), 440);
    h_free(&h);
}
END_TEST

/* ---- Refresh and lifetimes ----------------------------------------------------------- */

START_TEST(lifetimes_default_clamped_and_refresh_zero_deletes) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.lifetime = 100000; /* above the 3600 s cap */
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    ck_assert_uint_eq(resp_lifetime(&h), 3600);
    rtc_addr_t r;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
    ck_assert_int_eq(h_refresh(&h, &c, 30), 0); /* below default: default */
    ck_assert_uint_eq(resp_lifetime(&h), 600);
    ck_assert_int_eq(h_do_auth(&h, &c, RTC_STUN_REFRESH, NULL, NULL), 0); /* no LIFETIME: default */
    ck_assert_uint_eq(resp_lifetime(&h), 600);
    ck_assert_int_eq(h_refresh(&h, &c, 1200), 0);
    ck_assert_uint_eq(resp_lifetime(&h), 1200);
    ck_assert_int_eq(h_refresh(&h, &c, 0), 0);
    ck_assert_uint_eq(resp_lifetime(&h), 0);
    ck_assert_ptr_null(h_find_relay(&h, &r));
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, 0);
    ck_assert_uint_eq(turn_shared_allocations(h.sh), 0);
    /* Deleted: a retransmitted delete gets 437. */
    ck_assert_int_eq(h_refresh(&h, &c, 0), 437);
    h_free(&h);
}
END_TEST

START_TEST(allocation_expires_on_fake_clock) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    h_advance(&h, RTC_SEC(599));
    ck_assert_ptr_nonnull(h_find_relay(&h, &r));
    h_advance(&h, RTC_SEC(2));
    ck_assert_ptr_null(h_find_relay(&h, &r));
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations_expired, 1);
    ck_assert_int_eq(turn_server_next_timeout(h.s), RTC_TIME_NEVER);
    h_free(&h);
}
END_TEST

/* ---- permissions and relaying -------------------------------------------------------- */

START_TEST(create_permission_errors_and_denied_forms) {
    harness_t h;
    turn_policy_t *p = h_policy();
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.afam = RTC_AF_INET6; /* dual-stack, so IPv6 forms reach the filter */
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    ck_assert_int_eq(h_do_auth(&h, &c, RTC_STUN_CREATE_PERMISSION, NULL, NULL), 400); /* no peer */
    const char *denied[] = {"10.0.0.1:1",           "[::ffff:10.0.0.1]:1",    "[64:ff9b::a00:1]:1",
                            "[2002:a00:1::1]:1",    "169.254.169.254:80",     "[::ffff:169.254.169.254]:80",
                            "192.168.1.1:1",        "100.64.0.1:1",           "224.0.0.1:1",
                            "0.0.0.0:1",            "127.0.0.2:1",            "[::ffff:127.0.0.2]:1",
                            "[::]:1",               "[fe80::1]:1",            "[fd00::1]:1",
                            "[ff02::1]:1",          "[::a00:1]:1",            "[64:ff9b::7f00:2]:1",
                            "[2002:c0a8:101::]:1",  "[64:ff9b:1::8.8.8.8]:1", "[::ffff:0.0.0.0]:1"};
    for (size_t i = 0; i < sizeof denied / sizeof *denied; i++) {
        int code = h_permit(&h, &c, denied[i]);
        ck_assert_msg(code == 403, "%s gave %d", denied[i], code);
    }
    /* Allowed: the allow-listed 127.0.0.1 and ::1, 127.0.0.1 in mapped form, public
     * addresses, and NAT64/6to4 forms of public addresses. */
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "[::ffff:127.0.0.1]:1"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "[::1]:1"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "8.8.8.8:53"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "[64:ff9b::808:808]:53"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "[2002:808:808::1]:53"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "[2001:4860::8888]:53"), 0);
    turn_alloc_info_t info;
    ck_assert_int_eq(turn_server_alloc_info(h.s, &c.ep, &info), RTC_OK);
    ck_assert_uint_eq(info.n_permissions, 6); /* 127.0.0.1 (both forms) counts once */
    ck_assert_uint_eq(turn_server_stats(h.s)->denied_peers, sizeof denied / sizeof *denied);
    h_free(&h);
}
END_TEST

static void attr_two_peers(rtc_stun_builder_t *b, const void *arg) {
    const rtc_addr_t *two = arg;
    rtc_stun_add_xor_address(b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &two[0]);
    rtc_stun_add_xor_address(b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &two[1]);
}

START_TEST(create_permission_is_all_or_nothing) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    rtc_addr_t two[2];
    rtc_addr_parse(&two[0], "127.0.0.1:1", 0);
    rtc_addr_parse(&two[1], "10.1.1.1:1", 0);
    ck_assert_int_eq(h_do_auth(&h, &c, RTC_STUN_CREATE_PERMISSION, attr_two_peers, two), 403);
    turn_alloc_info_t info;
    turn_server_alloc_info(h.s, &c.ep, &info);
    ck_assert_uint_eq(info.n_permissions, 0);
    rtc_addr_parse(&two[1], "8.8.4.4:1", 0);
    ck_assert_int_eq(h_do_auth(&h, &c, RTC_STUN_CREATE_PERMISSION, attr_two_peers, two), 0);
    turn_server_alloc_info(h.s, &c.ep, &info);
    ck_assert_uint_eq(info.n_permissions, 2);
    h_free(&h);
}
END_TEST

START_TEST(permission_quota_508) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->max_perms_per_alloc = 2;
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    ck_assert_int_eq(h_permit(&h, &c, "8.8.8.8:1"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "8.8.4.4:1"), 0);
    ck_assert_int_eq(h_permit(&h, &c, "8.8.8.8:2"), 0); /* refresh of an existing one */
    ck_assert_int_eq(h_permit(&h, &c, "1.1.1.1:1"), 508);
    h_free(&h);
}
END_TEST

START_TEST(send_and_data_indications_need_a_permission) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    h_clear(&h);
    /* No permission yet: nothing relayed either way. */
    h_send_ind(&h, &c, "127.0.0.1:7000", "hello", 5, false);
    ck_assert_uint_eq(h.n_pe, 0);
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "back", 4));
    ck_assert_uint_eq(h.n_cl, 0);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    h_clear(&h);
    /* Client → peer: payload only, from the relay socket, borrowed from the input buffer. */
    h_send_ind(&h, &c, "127.0.0.1:7000", "hello", 5, false);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert_uint_eq(h.pe[0].len, 5);
    ck_assert_int_eq(memcmp(h.pe[0].data, "hello", 5), 0);
    ck_assert(h.pe[0].flags & TURN_SEND_BORROWED);
    ck_assert(!(h.pe[0].flags & TURN_SEND_DF));
    ck_assert_ptr_eq(h.pe[0].io, h_find_relay(&h, &r));
    rtc_addr_t want;
    rtc_addr_parse(&want, "127.0.0.1:7000", 0);
    ck_assert(rtc_addr_equal(&h.pe[0].peer, &want));
    /* Mapped form of the same peer uses the same permission and is sent as IPv4. */
    h_send_ind(&h, &c, "[::ffff:127.0.0.1]:7001", "x", 1, true);
    ck_assert_uint_eq(h.n_pe, 2);
    ck_assert_int_eq(h.pe[1].peer.family, RTC_AF_INET4);
    ck_assert(h.pe[1].flags & TURN_SEND_DF);
    /* Peer → client: a Data indication with XOR-PEER-ADDRESS and DATA. */
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "back", 4));
    ck_assert_uint_eq(h.n_cl, 1);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, h.cl[0].data, h.cl[0].len), RTC_OK);
    ck_assert_uint_eq(m.method, RTC_STUN_DATA);
    ck_assert_int_eq(m.cls, RTC_STUN_INDICATION);
    rtc_addr_t from;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &from), RTC_OK);
    ck_assert(rtc_addr_equal(&from, &want));
    const uint8_t *d;
    size_t dl;
    ck_assert_int_eq(rtc_stun_msg_get_data(&m, &d, &dl), RTC_OK);
    ck_assert_uint_eq(dl, 4);
    ck_assert_int_eq(memcmp(d, "back", 4), 0);
    ck_assert(rtc_addr_equal(&h.cl[0].to.remote, &c.ep.remote));
    /* Another peer IP without permission: dropped. */
    h_clear(&h);
    ck_assert(h_peer_send(&h, &r, "8.8.8.8:7000", "no", 2));
    ck_assert_uint_eq(h.n_cl, 0);
    /* Permission lapses after 300 s. */
    h_advance(&h, RTC_SEC(301));
    h_send_ind(&h, &c, "127.0.0.1:7000", "late", 4, false);
    ck_assert_uint_eq(h.n_pe, 0);
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "late", 4));
    ck_assert_uint_eq(h.n_cl, 0);
    ck_assert_uint_eq(turn_server_stats(h.s)->permissions, 0);
    h_free(&h);
}
END_TEST

START_TEST(data_indication_for_ipv6_peer_decodes) {
    harness_t h;
    turn_policy_t *p = h_policy();
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "[::1]:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.rfam = RTC_AF_INET6;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    rtc_addr_t r;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
    ck_assert_int_eq(h_permit(&h, &c, "[::1]:1"), 0);
    h_clear(&h);
    uint8_t payload[1001];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
    ck_assert(h_peer_send(&h, &r, "[::1]:7000", payload, sizeof payload));
    ck_assert_uint_eq(h.n_cl, 1);
    rtc_stun_msg_t m;
    ck_assert_int_eq(rtc_stun_msg_decode(&m, h.cl[0].data, h.cl[0].len), RTC_OK);
    rtc_addr_t from, want;
    rtc_addr_parse(&want, "[::1]:7000", 0);
    rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &from);
    ck_assert(rtc_addr_equal(&from, &want));
    const uint8_t *d;
    size_t dl;
    rtc_stun_msg_get_data(&m, &d, &dl);
    ck_assert_uint_eq(dl, sizeof payload);
    ck_assert_int_eq(memcmp(d, payload, dl), 0);
    h_free(&h);
}
END_TEST

START_TEST(channel_data_both_ways_and_lifetimes) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4001, "127.0.0.1:7000"), 0);
    h_clear(&h);
    /* Client → peer: header stripped, payload borrowed. */
    h_send_cd(&h, &c, 0x4001, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert_uint_eq(h.pe[0].len, 3);
    ck_assert_int_eq(memcmp(h.pe[0].data, "abc", 3), 0);
    ck_assert(h.pe[0].flags & TURN_SEND_BORROWED);
    /* Unbound channel number: dropped. */
    h_send_cd(&h, &c, 0x4002, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 1);
    /* Peer → client: ChannelData, unpadded over UDP. */
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "hello", 5));
    ck_assert_uint_eq(h.n_cl, 1);
    ck_assert_uint_eq(h.cl[0].len, 9);
    ck_assert_uint_eq(rtc_be16(h.cl[0].data), 0x4001);
    ck_assert_uint_eq(rtc_be16(h.cl[0].data + 2), 5);
    ck_assert_int_eq(memcmp(h.cl[0].data + 4, "hello", 5), 0);
    /* Another port of the same IP has the permission but no channel: Data indication. */
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7001", "ind", 3));
    ck_assert_uint_eq(h.n_cl, 2);
    ck_assert_uint_eq(h.cl[1].data[0] & 0xC0, 0);
    /* At 301 s the permission installed by ChannelBind lapses: data stops though the channel
     * is still bound... */
    h_clear(&h);
    h_advance(&h, RTC_SEC(301));
    h_send_cd(&h, &c, 0x4001, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 0);
    /* ...until a CreatePermission brings it back. */
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    h_send_cd(&h, &c, 0x4001, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 1);
    /* The channel itself ends at 600 s. */
    ck_assert_int_eq(h_refresh(&h, &c, 3600), 0);
    h_clear(&h);
    h_advance(&h, RTC_SEC(300));
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    h_send_cd(&h, &c, 0x4001, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 0);
    ck_assert_uint_eq(turn_server_stats(h.s)->channels, 0);
    h_free(&h);
}
END_TEST

START_TEST(channel_bind_conflicts_and_quarantine) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x3FFF, "127.0.0.1:7000"), 400);
    ck_assert_int_eq(h_bind(&h, &c, 0x8000, "127.0.0.1:7000"), 400);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "10.0.0.1:7000"), 403);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7000"), 0);
    /* ChannelData on it (the allocation now remembers channel and peer for the next one). */
    h_clear(&h);
    h_send_cd(&h, &c, 0x4000, "abc", 3);
    ck_assert_uint_eq(h.n_pe, 1);
    rtc_addr_t p7000, p7001;
    rtc_addr_parse(&p7000, "127.0.0.1:7000", 0);
    rtc_addr_parse(&p7001, "127.0.0.1:7001", 0);
    ck_assert(rtc_addr_equal(&h.pe[0].peer, &p7000));
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7000"), 0);  /* refresh */
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7001"), 400); /* number taken */
    ck_assert_int_eq(h_bind(&h, &c, 0x4001, "127.0.0.1:7000"), 400); /* peer taken */
    ck_assert_int_eq(h_refresh(&h, &c, 3600), 0);
    h_advance(&h, RTC_SEC(601));
    /* Expired, but quarantined for 5 minutes: no rebinding elsewhere... */
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7001"), 400);
    ck_assert_int_eq(h_bind(&h, &c, 0x4001, "127.0.0.1:7000"), 400);
    h_advance(&h, RTC_SEC(300));
    /* ...and afterwards both are free. */
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7001"), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4001, "127.0.0.1:7000"), 0);
    /* ChannelData on 0x4000 goes to its new peer, not to the one it had before. */
    h_clear(&h);
    h_send_cd(&h, &c, 0x4000, "abc", 3);
    h_send_cd(&h, &c, 0x4001, "def", 3);
    ck_assert_uint_eq(h.n_pe, 2);
    ck_assert(rtc_addr_equal(&h.pe[0].peer, &p7001));
    ck_assert(rtc_addr_equal(&h.pe[1].peer, &p7000));
    h_free(&h);
}
END_TEST

START_TEST(channel_number_ranges_rfc5766_and_strict_rfc8656) {
    harness_t h;
    h_init(&h); /* default: RFC 5766's 0x4000-0x7FFF accepted */
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x7abc, "127.0.0.1:7000"), 0);
    h_clear(&h);
    uint8_t cd[16] = {0x7a, 0xbc, 0x00, 0x03, 'x', 'y', 'z'};
    h_feed(&h, &c, cd, 7);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "back", 4));
    ck_assert_uint_eq(rtc_be16(h.cl[0].data), 0x7abc);
    uint8_t frame[8] = {0x7a, 0xbc, 0x00, 0x01, 'q', 0, 0, 0};
    ck_assert_int_eq(turn_server_frame_length(h.s, frame, 8), 8);
    h_free(&h);

    turn_policy_t *p = h_policy();
    p->channel_max = RTC_TURN_CHANNEL_MAX;
    h_init_with(&h, p, 50000, 50999);
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x5000, "127.0.0.1:7000"), 400);
    ck_assert_int_eq(h_bind(&h, &c, 0x4fff, "127.0.0.1:7000"), 0);
    ck_assert_int_eq(turn_server_frame_length(h.s, frame, 8), RTC_ERR_MALFORMED);
    h_free(&h);
}
END_TEST

START_TEST(tcp_client_gets_padded_channel_data_and_close_deletes) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    c.ep.transport = TURN_TRANSPORT_TCP;
    c.ep.conn = (void *)(uintptr_t)77;
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4abc, "127.0.0.1:7000"), 0);
    h_clear(&h);
    ck_assert(h_peer_send(&h, &r, "127.0.0.1:7000", "hello", 5));
    ck_assert_uint_eq(h.n_cl, 1);
    ck_assert_uint_eq(h.cl[0].len, 12); /* 4 + 5, padded to 12 */
    ck_assert_uint_eq(rtc_be16(h.cl[0].data + 2), 5);
    ck_assert_uint_eq(h.cl[0].data[9], 0);
    ck_assert_uint_eq(h.cl[0].data[11], 0);
    ck_assert_int_eq(rtc_turn_stream_frame_length(h.cl[0].data, h.cl[0].len), 12);
    /* A padded ChannelData frame from the client is accepted too. */
    uint8_t frame[12];
    int n = rtc_turn_channel_data_write(frame, sizeof frame, 0x4abc, (const uint8_t *)"abcde", 5, true);
    ck_assert_int_eq(n, 12);
    h_feed(&h, &c, frame, (size_t)n);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert_uint_eq(h.pe[0].len, 5);
    turn_server_on_conn_closed(h.s, &c.ep);
    ck_assert_ptr_null(h_find_relay(&h, &r));
    ck_assert_uint_eq(turn_shared_allocations(h.sh), 0);
    h_free(&h);
}
END_TEST

START_TEST(dont_fragment_opens_relay_with_df) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    alloc_opts_t o = opts_default();
    o.df = true;
    ck_assert_int_eq(allocate_with(&h, &c, &o), 0);
    rtc_addr_t r;
    rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
    ck_assert(h_find_relay(&h, &r)->df);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    h_clear(&h);
    h_send_ind(&h, &c, "127.0.0.1:7000", "x", 1, false);
    ck_assert(h.pe[0].flags & TURN_SEND_DF);
    h_free(&h);
}
END_TEST

START_TEST(draining_refuses_new_allocations_but_keeps_relaying) {
    harness_t h;
    h_init(&h);
    h_client_t c, d;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    h_client(&d, "127.0.0.1:40001", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7000"), 0);
    turn_shared_set_draining(h.sh, true);
    ck_assert_int_eq(h_allocate(&h, &d, NULL), 508);
    h_clear(&h);
    h_send_cd(&h, &c, 0x4000, "still", 5);
    ck_assert_uint_eq(h.n_pe, 1);
    ck_assert_int_eq(h_refresh(&h, &c, 600), 0);
    h_free(&h);
}
END_TEST

START_TEST(bandwidth_quota_drops_excess) {
    harness_t h;
    turn_policy_t *p = h_policy();
    p->max_bps_per_alloc = 1000; /* bytes per second */
    h_init_with(&h, p, 50000, 50999);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7000"), 0);
    h_clear(&h);
    uint8_t blob[300] = {0};
    for (int i = 0; i < 5; i++) h_send_cd(&h, &c, 0x4000, blob, sizeof blob);
    ck_assert_uint_eq(h.n_pe, 3); /* 900 of the 1000-byte bucket */
    ck_assert_uint_eq(turn_server_stats(h.s)->dropped_bandwidth, 2);
    h.now += RTC_MS(600); /* +600 bytes of credit */
    h_send_cd(&h, &c, 0x4000, blob, sizeof blob);
    h_send_cd(&h, &c, 0x4000, blob, sizeof blob);
    ck_assert_uint_eq(h.n_pe, 5);
    h_free(&h);
}
END_TEST

START_TEST(binding_request_answered_on_turn_port) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    c.fingerprint = true;
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_BINDING, NULL, NULL), 0);
    rtc_addr_t mapped;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&h.resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped), RTC_OK);
    ck_assert(rtc_addr_equal(&mapped, &c.ep.remote));
    ck_assert_int_ge(h.resp.fingerprint, 0);
    h_free(&h);
}
END_TEST

START_TEST(garbage_and_truncated_input_is_dropped) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    rtc_addr_t r;
    ck_assert_int_eq(h_allocate(&h, &c, &r), 0);
    ck_assert_int_eq(h_bind(&h, &c, 0x4000, "127.0.0.1:7000"), 0);
    h_clear(&h);
    const uint8_t cd_short[] = {0x40, 0x00, 0x00, 0x10, 1, 2}; /* says 16, has 2 */
    h_feed(&h, &c, cd_short, sizeof cd_short);
    const uint8_t tiny[] = {0x00, 0x01};
    h_feed(&h, &c, tiny, sizeof tiny);
    const uint8_t rtp[] = {0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    h_feed(&h, &c, rtp, sizeof rtp);
    uint8_t stun[64];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, stun, sizeof stun, RTC_STUN_ALLOCATE, RTC_STUN_REQUEST, NULL);
    rtc_stun_add_requested_transport(&b, 17);
    int n = rtc_stun_builder_finish(&b);
    h_feed(&h, &c, stun, (size_t)n - 4); /* truncated STUN */
    stun[n - 1] ^= 0xff;                   /* corrupt attribute value: still decodes */
    ck_assert_uint_eq(h.n_cl, 0);
    ck_assert_uint_eq(h.n_pe, 0);
    ck_assert_uint_ge(turn_server_stats(h.s)->dropped, 4);
    /* And the session is unaffected. */
    h_send_cd(&h, &c, 0x4000, "ok", 2);
    ck_assert_uint_eq(h.n_pe, 1);
    h_free(&h);
}
END_TEST

START_TEST(wrong_integrity_on_established_allocation_is_401) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    c.cred.key[0] ^= 1;
    ck_assert_int_eq(h_do(&h, &c, RTC_STUN_REFRESH, NULL, NULL), 401);
    ck_assert_int_eq(h.resp.integrity, -1);
    h_free(&h);
}
END_TEST

START_TEST(policy_reload_applies_to_new_requests) {
    harness_t h;
    h_init(&h);
    h_client_t c;
    h_client(&c, "127.0.0.1:40000", "alice", "secret");
    ck_assert_int_eq(h_allocate(&h, &c, NULL), 0);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 0);
    /* Reload without the loopback allow entry and without bob; add dave. */
    turn_policy_t *p = turn_policy_new();
    turn_policy_set_realm(p, "test");
    turn_policy_add_user(p, "alice", "secret");
    turn_policy_add_user(p, "dave", "pw");
    turn_policy_finish(p);
    rtc_addr_parse(&p->relay_v4, "127.0.0.1", 0);
    p->unauth_rate = 0;
    turn_shared_set_policy(h.sh, p);
    ck_assert_int_eq(h_permit(&h, &c, "127.0.0.1:1"), 403);
    h_client_t b, d;
    h_client(&b, "127.0.0.1:40001", "bob", "hunter2");
    ck_assert_int_eq(h_allocate(&h, &b, NULL), 401);
    h_client(&d, "127.0.0.1:40002", "dave", "pw");
    ck_assert_int_eq(h_allocate(&h, &d, NULL), 0);
    h_free(&h);
}
END_TEST

START_TEST(many_allocations_tables_stay_consistent) {
    harness_t h;
    h_init(&h);
    enum { N = 300 };
    static h_client_t cs[N];
    rtc_addr_t relayed[N];
    for (int i = 0; i < N; i++) {
        char a[32];
        snprintf(a, sizeof a, "127.0.0.%d:%d", 1 + i % 3, 20000 + i);
        h_client(&cs[i], a, i % 2 ? "alice" : "bob", i % 2 ? "secret" : "hunter2");
        ck_assert_int_eq(h_allocate(&h, &cs[i], &relayed[i]), 0);
        ck_assert_int_eq(h_bind(&h, &cs[i], (uint16_t)(0x4000 + i), "127.0.0.1:7000"), 0);
    }
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, N);
    ck_assert_uint_eq(turn_server_stats(h.s)->channels, N);
    /* Each relay's data reaches its own client with its own channel number. */
    for (int i = 0; i < N; i += 37) {
        h_clear(&h);
        ck_assert(h_peer_send(&h, &relayed[i], "127.0.0.1:7000", "z", 1));
        ck_assert_uint_eq(h.n_cl, 1);
        ck_assert(rtc_addr_equal(&h.cl[0].to.remote, &cs[i].ep.remote));
        ck_assert_uint_eq(rtc_be16(h.cl[0].data), 0x4000 + i);
    }
    /* Delete every other one; the rest still work. */
    for (int i = 0; i < N; i += 2) ck_assert_int_eq(h_refresh(&h, &cs[i], 0), 0);
    ck_assert_uint_eq(turn_server_stats(h.s)->allocations, N / 2);
    h_clear(&h);
    h_send_cd(&h, &cs[1], 0x4001, "q", 1);
    ck_assert_uint_eq(h.n_pe, 1);
    h_send_cd(&h, &cs[0], 0x4000, "q", 1);
    ck_assert_uint_eq(h.n_pe, 1);
    h_free(&h);
}
END_TEST

int main(void) {
    Suite *s = suite_create("turn_server");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, allocate_401_then_signed_request_succeeds);
    tcase_add_test(tc, wrong_password_unknown_user_and_wrong_realm_get_401);
    tcase_add_test(tc, stale_nonce_gets_438_and_retry_succeeds);
    tcase_add_test(tc, nonce_of_another_client_ip_is_stale);
    tcase_add_test(tc, signed_request_missing_nonce_is_400);
    tcase_add_test(tc, unauthenticated_answers_are_rate_limited_per_source);
    tcase_add_test(tc, rest_credentials_accepted_expired_and_wrong_secret_refused);
    tcase_add_test(tc, rest_secrets_rotate_without_dropping_sessions);
    tcase_add_test(tc, rest_static_secret_from_config_and_expiry_ends_refresh);
    tcase_add_test(tc, rest_secret_past_its_redis_expiry_is_not_accepted);
    tcase_add_test(tc, wrong_integrity_on_established_allocation_is_401);
    tcase_add_test(tc, policy_reload_applies_to_new_requests);
    suite_add_tcase(s, tc);
    tc = tcase_create("allocate");
    tcase_add_test(tc, allocate_errors_400_442_420);
    tcase_add_test(tc, allocate_same_5tuple_437_but_retransmission_answered);
    tcase_add_test(tc, allocate_retransmitted_with_stale_nonce_answered);
    tcase_add_test(tc, requests_without_allocation_437_and_other_user_441);
    tcase_add_test(tc, allocation_quota_per_user_and_total_486);
    tcase_add_test(tc, port_range_exhausted_508);
    tcase_add_test(tc, busy_port_is_skipped);
    tcase_add_test(tc, even_port_reservation_token_flow);
    tcase_add_test(tc, reservation_expires_after_30s);
    tcase_add_test(tc, reservation_skips_a_pair_whose_neighbour_is_busy);
    tcase_add_test(tc, dual_stack_allocation_and_family_errors);
    tcase_add_test(tc, dual_stack_without_ipv6_relay_reports_address_error);
    tcase_add_test(tc, refresh_zero_with_family_deletes_one_half_of_a_dual_allocation);
    tcase_add_test(tc, lifetimes_default_clamped_and_refresh_zero_deletes);
    tcase_add_test(tc, allocation_expires_on_fake_clock);
    tcase_add_test(tc, draining_refuses_new_allocations_but_keeps_relaying);
    suite_add_tcase(s, tc);
    tc = tcase_create("relay");
    tcase_add_test(tc, create_permission_errors_and_denied_forms);
    tcase_add_test(tc, create_permission_is_all_or_nothing);
    tcase_add_test(tc, permission_quota_508);
    tcase_add_test(tc, send_and_data_indications_need_a_permission);
    tcase_add_test(tc, data_indication_for_ipv6_peer_decodes);
    tcase_add_test(tc, channel_data_both_ways_and_lifetimes);
    tcase_add_test(tc, channel_bind_conflicts_and_quarantine);
    tcase_add_test(tc, channel_number_ranges_rfc5766_and_strict_rfc8656);
    tcase_add_test(tc, tcp_client_gets_padded_channel_data_and_close_deletes);
    tcase_add_test(tc, dont_fragment_opens_relay_with_df);
    tcase_add_test(tc, bandwidth_quota_drops_excess);
    tcase_add_test(tc, binding_request_answered_on_turn_port);
    tcase_add_test(tc, garbage_and_truncated_input_is_dropped);
    tcase_add_test(tc, many_allocations_tables_stay_consistent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
