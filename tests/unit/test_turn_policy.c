/* TURN server building blocks: peer address canonicalisation and deny ranges, REST
 * credentials, the relay port pool, the rate limiter, policy users and shared quotas. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/stun.h"
#include "turn/auth.h"
#include "turn/peer_filter.h"
#include "turn/policy.h"
#include "turn/ports.h"
#include "turn/shared.h"

static rtc_addr_t A(const char *s) {
    rtc_addr_t a;
    ck_assert_msg(rtc_addr_parse(&a, s, 0) == RTC_OK, "parse %s", s);
    return a;
}

static int check(const turn_peer_filter_t *f, const char *s) {
    rtc_addr_t a = A(s);
    return turn_peer_filter_check(f, &a, NULL);
}

/* ---- canonicalisation ------------------------------------------------------------------ */

START_TEST(embedded_ipv4_forms_are_recognised) {
    struct { const char *in; turn_embed_t kind; const char *v4; } cases[] = {
        {"[::ffff:10.1.2.3]:5", TURN_EMBED_MAPPED, "10.1.2.3:5"},
        {"[::10.1.2.3]:5", TURN_EMBED_COMPAT, "10.1.2.3:5"},
        {"[64:ff9b::10.1.2.3]:5", TURN_EMBED_NAT64, "10.1.2.3:5"},
        {"[64:ff9b::a01:203]:5", TURN_EMBED_NAT64, "10.1.2.3:5"},
        {"[2002:a01:203::1]:5", TURN_EMBED_6TO4, "10.1.2.3:5"},
        {"[2002:a01:203:ffff::]:5", TURN_EMBED_6TO4, "10.1.2.3:5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rtc_addr_t in = A(cases[i].in), v4, want = A(cases[i].v4);
        ck_assert_int_eq(turn_peer_embedded_v4(&in, &v4), cases[i].kind);
        ck_assert_msg(rtc_addr_equal(&v4, &want), "%s -> %s", cases[i].in, rtc_addr_str(&v4));
    }
    const char *none[] = {"10.1.2.3:5", "[::1]:5", "[::]:5", "[2001:db8::1]:5", "[64:ff9b:1::a01:203]:5",
                          "[fe80::1]:5"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        rtc_addr_t in = A(none[i]), v4;
        ck_assert_msg(turn_peer_embedded_v4(&in, &v4) == TURN_EMBED_NONE, "%s", none[i]);
    }
}
END_TEST

/* Every default-denied IPv4 range, in every IPv6 form that embeds it. */
START_TEST(default_deny_covers_ranges_in_every_form) {
    turn_peer_filter_t f;
    turn_peer_filter_init(&f);
    const char *v4[] = {"127.0.0.1",      "127.255.255.254", "10.0.0.1",     "10.255.255.255", "172.16.0.1",
                        "172.31.255.254", "192.168.0.1",     "169.254.0.1",  "169.254.169.254", "224.0.0.1",
                        "239.255.255.250", "255.255.255.255", "0.0.0.0",     "0.1.2.3",        "100.64.0.1",
                        "100.127.255.254", "240.0.0.1",      "198.18.0.1",   "192.0.0.170"};
    for (size_t i = 0; i < sizeof v4 / sizeof *v4; i++) {
        char s[96];
        const uint8_t *ip;
        rtc_addr_t a = A(v4[i]);
        ip = a.ip;
        snprintf(s, sizeof s, "%s:9", v4[i]);
        ck_assert_msg(check(&f, s) == RTC_ERR_DENIED, "%s", s);
        snprintf(s, sizeof s, "[::ffff:%s]:9", v4[i]);
        ck_assert_msg(check(&f, s) == RTC_ERR_DENIED, "%s", s);
        snprintf(s, sizeof s, "[64:ff9b::%s]:9", v4[i]);
        ck_assert_msg(check(&f, s) == RTC_ERR_DENIED, "%s", s);
        snprintf(s, sizeof s, "[2002:%02x%02x:%02x%02x::1]:9", ip[0], ip[1], ip[2], ip[3]);
        ck_assert_msg(check(&f, s) == RTC_ERR_DENIED, "%s", s);
        if (ip[0] != 0) {
            snprintf(s, sizeof s, "[::%s]:9", v4[i]);
            ck_assert_msg(check(&f, s) == RTC_ERR_DENIED, "%s", s);
        }
    }
    const char *v6[] = {"[::]:9",       "[::1]:9",         "[fe80::1]:9",     "[fe80::1%1]:9", "[fc00::1]:9",
                        "[fdff::1]:9",  "[ff02::1]:9",     "[ff0e::1]:9",     "[fec0::1]:9",   "[100::1]:9",
                        "[64:ff9b:1::1]:9", "[::ffff:0:a00:1]:9"};
    for (size_t i = 0; i < sizeof v6 / sizeof *v6; i++) {
        rtc_addr_t a;
        if (rtc_addr_parse(&a, v6[i], 0) != RTC_OK) continue; /* scope syntax may be refused */
        ck_assert_msg(turn_peer_filter_check(&f, &a, NULL) == RTC_ERR_DENIED, "%s", v6[i]);
    }
    const char *ok[] = {"8.8.8.8:53", "1.1.1.1:1", "[2001:4860:4860::8888]:53", "[::ffff:8.8.8.8]:53",
                        "[64:ff9b::8.8.8.8]:53", "[2002:808:808::1]:53", "172.32.0.1:1", "100.128.0.1:1",
                        "11.0.0.1:1", "169.255.0.1:1"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        ck_assert_msg(check(&f, ok[i]) == RTC_OK, "%s", ok[i]);
}
END_TEST

START_TEST(allow_list_overrides_and_mapped_sends_as_ipv4) {
    turn_peer_filter_t f;
    turn_peer_filter_init(&f);
    ck_assert_int_eq(turn_peer_filter_allow(&f, "127.0.0.1"), RTC_OK);
    ck_assert_int_eq(turn_peer_filter_allow(&f, "::1"), RTC_OK);
    ck_assert_int_eq(turn_peer_filter_allow(&f, "10.20.0.0/16"), RTC_OK);
    ck_assert_int_eq(check(&f, "127.0.0.1:5"), RTC_OK);
    ck_assert_int_eq(check(&f, "127.0.0.2:5"), RTC_ERR_DENIED);
    ck_assert_int_eq(check(&f, "[::1]:5"), RTC_OK);
    ck_assert_int_eq(check(&f, "10.20.3.4:5"), RTC_OK);
    ck_assert_int_eq(check(&f, "10.21.3.4:5"), RTC_ERR_DENIED);
    rtc_addr_t in = A("[::ffff:127.0.0.1]:5"), out, want = A("127.0.0.1:5");
    ck_assert_int_eq(turn_peer_filter_check(&f, &in, &out), RTC_OK);
    ck_assert(rtc_addr_equal(&out, &want));
    /* NAT64 form of an allowed IPv4 host: both forms are checked, the IPv6 one is not in a
     * deny range, so it passes and is sent as IPv6 (to the translator). */
    in = A("[64:ff9b::127.0.0.1]:5");
    ck_assert_int_eq(turn_peer_filter_check(&f, &in, &out), RTC_OK);
    ck_assert_int_eq(out.family, RTC_AF_INET6);
    /* A mapped-form allow entry means the IPv4 range. */
    turn_peer_filter_t g;
    turn_peer_filter_init(&g);
    ck_assert_int_eq(turn_peer_filter_allow(&g, "::ffff:192.168.7.0/120"), RTC_OK);
    ck_assert_int_eq(check(&g, "192.168.7.9:1"), RTC_OK);
    ck_assert_int_eq(check(&g, "192.168.8.9:1"), RTC_ERR_DENIED);
    ck_assert_int_eq(turn_peer_filter_allow(&g, "bogus"), RTC_ERR_ADDR);
}
END_TEST

START_TEST(own_addresses_and_extra_deny) {
    turn_peer_filter_t f;
    turn_peer_filter_init(&f);
    rtc_addr_t own = A("203.0.113.5:3478");
    ck_assert_int_eq(turn_peer_filter_add_own(&f, &own), RTC_OK);
    ck_assert_int_eq(turn_peer_filter_add_own(&f, &own), RTC_OK); /* duplicate ignored */
    ck_assert_uint_eq(f.n_own, 1);
    ck_assert_int_eq(check(&f, "203.0.113.5:1"), RTC_ERR_DENIED);
    ck_assert_int_eq(check(&f, "[::ffff:203.0.113.5]:1"), RTC_ERR_DENIED);
    ck_assert_int_eq(check(&f, "[64:ff9b::203.0.113.5]:1"), RTC_ERR_DENIED);
    ck_assert_int_eq(check(&f, "[2002:cb00:7105::]:1"), RTC_ERR_DENIED);
    ck_assert_int_eq(check(&f, "203.0.113.6:1"), RTC_OK);
    ck_assert_int_eq(turn_peer_filter_deny(&f, "203.0.113.0/24"), RTC_OK);
    ck_assert_int_eq(check(&f, "203.0.113.6:1"), RTC_ERR_DENIED);
    turn_peer_filter_clear_deny(&f);
    ck_assert_int_eq(check(&f, "10.0.0.1:1"), RTC_OK);
    ck_assert_int_eq(check(&f, "203.0.113.5:1"), RTC_ERR_DENIED); /* still own */
}
END_TEST

/* ---- REST credentials ------------------------------------------------------------------ */

START_TEST(rest_password_matches_reference_vector) {
    /* Computed independently: base64(HMAC-SHA1("mysecret", "1700000000:alice")) and the
     * long-term key MD5("1700000000:alice:test:<password>") (Python hmac/hashlib). */
    char pw[64];
    ck_assert_int_eq(turn_rest_password("mysecret", "1700000000:alice", pw, sizeof pw), 28);
    ck_assert_str_eq(pw, "PSwWMIID0EkUrZ8pwY2wbdTQnTc=");
    uint8_t key[16];
    char hex[40];
    ck_assert_int_eq(turn_rest_key("mysecret", "1700000000:alice", "test", key), 16);
    rtc_hex_encode(key, 16, 0, false, hex, sizeof hex);
    ck_assert_str_eq(hex, "8c522e35c01450f72933f714d6f0a0de");
    ck_assert_int_eq(turn_rest_password("mysecret", "1700000000:alice", pw, 28), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(rest_username_expiry_parsing) {
    int64_t e;
    ck_assert_int_eq(turn_rest_parse_expiry("1700000000:alice", &e), RTC_OK);
    ck_assert_int_eq(e, 1700000000);
    ck_assert_int_eq(turn_rest_parse_expiry("42", &e), RTC_OK);
    ck_assert_int_eq(e, 42);
    ck_assert_int_eq(turn_rest_parse_expiry("1700000000:a:b", &e), RTC_OK);
    ck_assert_int_eq(turn_rest_parse_expiry("alice:1700000000", &e), RTC_ERR_MALFORMED);
    ck_assert_int_eq(turn_rest_parse_expiry(":alice", &e), RTC_ERR_MALFORMED);
    ck_assert_int_eq(turn_rest_parse_expiry("", &e), RTC_ERR_MALFORMED);
    ck_assert_int_eq(turn_rest_parse_expiry("17x:alice", &e), RTC_ERR_MALFORMED);
    ck_assert_int_eq(turn_rest_parse_expiry("99999999999999999999999:a", &e), RTC_ERR_MALFORMED);
}
END_TEST

/* ---- ports ----------------------------------------------------------------------------- */

START_TEST(port_pool_acquire_release_even_and_families) {
    turn_ports_t *p = turn_ports_new(1000, 1009);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(turn_ports_new(0, 10));
    ck_assert_ptr_null(turn_ports_new(20, 10));
    bool seen[10] = {false};
    for (int i = 0; i < 10; i++) {
        int port = turn_ports_acquire(p, RTC_AF_INET4, false, false, NULL, 0);
        ck_assert_int_ge(port, 1000);
        ck_assert_int_le(port, 1009);
        ck_assert(!seen[port - 1000]);
        seen[port - 1000] = true;
    }
    ck_assert_int_eq(turn_ports_acquire(p, RTC_AF_INET4, false, false, NULL, 0), RTC_ERR_LIMIT);
    /* IPv6 is a separate namespace. */
    int port = turn_ports_acquire(p, RTC_AF_INET6, true, false, NULL, 0);
    ck_assert_int_eq(port % 2, 0);
    turn_ports_release(p, RTC_AF_INET4, 1003);
    ck_assert_int_eq(turn_ports_acquire(p, RTC_AF_INET4, false, false, NULL, 0), 1003);
    turn_ports_release(p, RTC_AF_INET4, 1003);
    ck_assert_int_eq(turn_ports_acquire(p, RTC_AF_INET4, true, false, NULL, 0), RTC_ERR_LIMIT); /* 1003 is odd */
    ck_assert_uint_eq(turn_ports_in_use(p, RTC_AF_INET4), 9);
    ck_assert_int_eq(turn_ports_acquire(p, 99, false, false, NULL, 0), RTC_ERR_INVALID_ARG);
    turn_ports_free(p);
}
END_TEST

START_TEST(port_pool_reservations_claim_and_expire) {
    turn_ports_t *p = turn_ports_new(2000, 2003);
    uint64_t token = 0;
    int port = turn_ports_acquire(p, RTC_AF_INET4, true, true, &token, 0);
    ck_assert_int_ge(port, 2000);
    ck_assert_int_eq(port % 2, 0);
    ck_assert(token != 0);
    ck_assert_uint_eq(turn_ports_in_use(p, RTC_AF_INET4), 2);
    uint8_t fam;
    uint16_t got;
    ck_assert_int_eq(turn_ports_claim(p, token + 1, 0, &fam, &got, NULL), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(turn_ports_claim(p, token, RTC_SEC(1), &fam, &got, NULL), RTC_OK);
    ck_assert_uint_eq(got, port + 1);
    ck_assert_int_eq(fam, RTC_AF_INET4);
    ck_assert_int_eq(turn_ports_claim(p, token, RTC_SEC(1), &fam, &got, NULL), RTC_ERR_NOT_FOUND);
    ck_assert_uint_eq(turn_ports_in_use(p, RTC_AF_INET4), 2);
    /* A second reservation that nobody claims frees both... no: the reserved port only. */
    uint64_t t2 = 0;
    int port2 = turn_ports_acquire(p, RTC_AF_INET4, true, true, &t2, RTC_SEC(2));
    ck_assert_int_ge(port2, 2000);
    ck_assert_uint_eq(turn_ports_in_use(p, RTC_AF_INET4), 4);
    turn_ports_expire(p, RTC_SEC(2) + TURN_RESERVATION_LIFETIME);
    ck_assert_uint_eq(turn_ports_in_use(p, RTC_AF_INET4), 3);
    ck_assert_int_eq(turn_ports_claim(p, t2, RTC_SEC(40), &fam, &got, NULL), RTC_ERR_NOT_FOUND);
    turn_ports_free(p);
}
END_TEST

/* ---- rate limiter, users, quotas ------------------------------------------------------- */

START_TEST(rate_limiter_bursts_then_refills) {
    static turn_ratelimit_t rl;
    turn_ratelimit_init(&rl);
    rtc_addr_t a = A("192.0.2.1:5"), a2 = A("192.0.2.1:6");
    int ok = 0;
    for (int i = 0; i < 10; i++) ok += turn_ratelimit_allow(&rl, &a, 2, 4, RTC_SEC(10));
    ck_assert_int_eq(ok, 4);
    ck_assert(!turn_ratelimit_allow(&rl, &a2, 2, 4, RTC_SEC(10))); /* port does not matter */
    ck_assert(turn_ratelimit_allow(&rl, &a, 2, 4, RTC_SEC(10) + RTC_MS(500)));
    ck_assert(!turn_ratelimit_allow(&rl, &a, 2, 4, RTC_SEC(10) + RTC_MS(500)));
    ck_assert(turn_ratelimit_allow(&rl, &a, 0, 0, 0)); /* rate 0: unlimited */
}
END_TEST

START_TEST(policy_users_by_password_and_hex_key) {
    turn_policy_t *p = turn_policy_new();
    turn_policy_set_realm(p, "test");
    ck_assert_int_eq(turn_policy_add_user_spec(p, "zed:pw"), RTC_OK);
    ck_assert_int_eq(turn_policy_add_user(p, "amy", "0x8c522e35c01450f72933f714d6f0a0de"), RTC_OK);
    ck_assert_int_eq(turn_policy_add_user(p, "zed", "other"), RTC_ERR_DUPLICATE);
    ck_assert_int_eq(turn_policy_add_user_spec(p, "nocolon"), RTC_ERR_MALFORMED);
    ck_assert_int_eq(turn_policy_add_user_spec(p, ":pw"), RTC_ERR_MALFORMED);
    turn_policy_finish(p);
    const turn_user_t *u = turn_policy_find_user(p, "zed");
    ck_assert_ptr_nonnull(u);
    uint8_t full[32];
    rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, "zed", "test", "pw", full);
    ck_assert_int_eq(memcmp(u->key, full, 16), 0);
    u = turn_policy_find_user(p, "amy");
    ck_assert_ptr_nonnull(u);
    ck_assert_uint_eq(u->key[0], 0x8c);
    ck_assert_ptr_null(turn_policy_find_user(p, "nobody"));
    turn_policy_unref(p);
}
END_TEST

START_TEST(shared_quotas_and_secret_snapshots) {
    turn_policy_t *p = turn_policy_new();
    p->max_allocs_per_user = 2;
    p->max_allocs_total = 3;
    turn_policy_add_static_secret(p, "cfg");
    turn_shared_t *sh = turn_shared_new(p, 1000, 2000);
    ck_assert_ptr_nonnull(sh);
    turn_policy_t *pol;
    turn_secrets_t *sec;
    uint8_t nonce[TURN_NONCE_SECRET_LEN];
    uint64_t gen;
    turn_shared_snapshot(sh, &pol, &sec, nonce, &gen);
    bool per_user;
    ck_assert_int_eq(turn_shared_quota_acquire(sh, pol, "a", &per_user), RTC_OK);
    ck_assert_int_eq(turn_shared_quota_acquire(sh, pol, "a", &per_user), RTC_OK);
    ck_assert_int_eq(turn_shared_quota_acquire(sh, pol, "a", &per_user), RTC_ERR_LIMIT);
    ck_assert(per_user);
    ck_assert_int_eq(turn_shared_quota_acquire(sh, pol, "b", &per_user), RTC_OK);
    ck_assert_int_eq(turn_shared_quota_acquire(sh, pol, "c", &per_user), RTC_ERR_LIMIT);
    ck_assert(!per_user);
    turn_shared_quota_release(sh, "a");
    ck_assert_uint_eq(turn_shared_user_allocations(sh, "a"), 1);
    ck_assert_uint_eq(turn_shared_allocations(sh), 2);
    ck_assert_uint_eq(sec->n, 1);
    ck_assert_str_eq(sec->secrets[0], "cfg");
    /* Redis secrets come first; the generation moves only when something changed. */
    char *r[] = {"new", "old", "cfg"};
    ck_assert_int_eq(turn_shared_set_redis_secrets(sh, r, NULL, 3), RTC_OK);
    uint64_t g2 = turn_shared_generation(sh);
    ck_assert_uint_gt(g2, gen);
    ck_assert_int_eq(turn_shared_set_redis_secrets(sh, r, NULL, 3), RTC_OK);
    ck_assert_uint_eq(turn_shared_generation(sh), g2);
    turn_policy_t *pol2;
    turn_secrets_t *sec2;
    turn_shared_snapshot(sh, &pol2, &sec2, nonce, &gen);
    ck_assert_uint_eq(sec2->n, 3);
    ck_assert_str_eq(sec2->secrets[0], "new");
    ck_assert_str_eq(sec2->secrets[2], "cfg");
    /* The old snapshot is still intact for whoever holds it. */
    ck_assert_str_eq(sec->secrets[0], "cfg");
    turn_secrets_unref(sec);
    turn_secrets_unref(sec2);
    turn_policy_unref(pol);
    turn_policy_unref(pol2);
    turn_shared_free(sh);
}
END_TEST

int main(void) {
    Suite *s = suite_create("turn_policy");
    TCase *tc = tcase_create("peer_filter");
    tcase_add_test(tc, embedded_ipv4_forms_are_recognised);
    tcase_add_test(tc, default_deny_covers_ranges_in_every_form);
    tcase_add_test(tc, allow_list_overrides_and_mapped_sends_as_ipv4);
    tcase_add_test(tc, own_addresses_and_extra_deny);
    suite_add_tcase(s, tc);
    tc = tcase_create("credentials");
    tcase_add_test(tc, rest_password_matches_reference_vector);
    tcase_add_test(tc, rest_username_expiry_parsing);
    tcase_add_test(tc, rate_limiter_bursts_then_refills);
    tcase_add_test(tc, policy_users_by_password_and_hex_key);
    tcase_add_test(tc, shared_quotas_and_secret_snapshots);
    suite_add_tcase(s, tc);
    tc = tcase_create("ports");
    tcase_add_test(tc, port_pool_acquire_release_even_and_families);
    tcase_add_test(tc, port_pool_reservations_claim_and_expire);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
