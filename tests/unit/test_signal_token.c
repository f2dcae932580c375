/* signal/token: access tokens. Round trips with grants, every refusal (forged, expired, not
 * yet valid, wrong issuer, no expiry, bad claims, "*" rooms without admin), and interop both
 * ways with PyJWT (python3-jwt), an implementation nobody here wrote. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jwt.h"
#include "signal/token.h"

static const char SECRET[] = "unit-test-secret-0123456789abcdef";
static const signal_keys_t KEYS = {"APIKEY", SECRET, sizeof SECRET - 1};
static const int64_t NOW = 1764500000;

static int verify(const char *tok, int64_t now, signal_claims_t *c, const char **why) {
    return signal_token_verify(&KEYS, tok, strlen(tok), now, c, why);
}

/* A token with arbitrary claims (JSON text), signed with `secret`. */
static char *signed_claims(const char *json, const char *secret) {
    cJSON *c = cJSON_Parse(json);
    ck_assert_ptr_nonnull(c);
    char *out = NULL;
    ck_assert_int_eq(st_jwt_sign_hs256(secret, strlen(secret), c, &out), RTC_OK);
    cJSON_Delete(c);
    return out;
}

START_TEST(mint_verify_round_trip_with_grants) {
    char *t = NULL;
    ck_assert_int_eq(signal_token_mint(&KEYS, "demo", "alice", "Alice A", SIGNAL_GRANT_SUBSCRIBE |
                                       SIGNAL_GRANT_DATA, 600, NOW, &t), RTC_OK);
    signal_claims_t c;
    const char *why = NULL;
    ck_assert_int_eq(verify(t, NOW + 10, &c, &why), RTC_OK);
    ck_assert_str_eq(c.identity, "alice");
    ck_assert_str_eq(c.name, "Alice A");
    ck_assert_str_eq(c.room, "demo");
    ck_assert_uint_eq(c.grants, SIGNAL_GRANT_SUBSCRIBE | SIGNAL_GRANT_DATA);
    ck_assert_int_eq(c.exp, NOW + 600);
    ck_assert(signal_claims_room_ok(&c, "demo"));
    ck_assert(!signal_claims_room_ok(&c, "other"));
    /* The claims are what docs/signalling.md says. */
    cJSON *claims = NULL;
    st_jwt_verify_opts_t o = {.now = NOW};
    ck_assert_int_eq(st_jwt_verify_hs256(t, strlen(t), SECRET, sizeof SECRET - 1, &o, &claims), RTC_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(claims, "iss")->valuestring, "APIKEY");
    ck_assert_str_eq(cJSON_GetObjectItem(claims, "sub")->valuestring, "alice");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(claims, "grants"), "publish")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(claims, "grants"), "data")));
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(claims, "nbf")->valuedouble, NOW);
    cJSON_Delete(claims);
    free(t);
    /* Name defaults to the identity. */
    ck_assert_int_eq(signal_token_mint(&KEYS, "demo", "bob", NULL, SIGNAL_GRANTS_PARTICIPANT, 60, NOW, &t), RTC_OK);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_OK);
    ck_assert_str_eq(c.name, "bob");
    free(t);
}
END_TEST

START_TEST(time_checks_with_leeway) {
    char *t = NULL;
    ck_assert_int_eq(signal_token_mint(&KEYS, "demo", "a", NULL, SIGNAL_GRANTS_PARTICIPANT, 100, NOW, &t), RTC_OK);
    signal_claims_t c;
    const char *why;
    ck_assert_int_eq(verify(t, NOW + 100 + SIGNAL_TOKEN_LEEWAY_S - 1, &c, &why), RTC_OK);
    ck_assert_int_eq(verify(t, NOW + 100 + SIGNAL_TOKEN_LEEWAY_S, &c, &why), RTC_ERR_STALE);
    ck_assert_str_eq(why, "token expired");
    ck_assert_str_eq(c.identity, ""); /* nothing handed out on failure */
    ck_assert_int_eq(verify(t, NOW - SIGNAL_TOKEN_LEEWAY_S - 1, &c, &why), RTC_ERR_AGAIN);
    free(t);
}
END_TEST

START_TEST(forged_and_foreign_tokens_refused) {
    signal_claims_t c;
    const char *why;
    char *t = NULL;
    /* Signed with another secret. */
    signal_keys_t other = {"APIKEY", "another-secret-xxxxxxxxxxxxxxx", 30};
    ck_assert_int_eq(signal_token_mint(&other, "demo", "a", NULL, SIGNAL_GRANTS_PARTICIPANT, 100, NOW, &t), RTC_OK);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_ERR_INTEGRITY);
    free(t);
    /* Right secret, wrong issuer. */
    signal_keys_t other_key = {"OTHERKEY", SECRET, sizeof SECRET - 1};
    ck_assert_int_eq(signal_token_mint(&other_key, "demo", "a", NULL, SIGNAL_GRANTS_PARTICIPANT, 100, NOW, &t), RTC_OK);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_ERR_DENIED);
    ck_assert(strstr(why, "issuer"));
    free(t);
    /* A flipped signature bit. */
    ck_assert_int_eq(signal_token_mint(&KEYS, "demo", "a", NULL, SIGNAL_GRANTS_PARTICIPANT, 100, NOW, &t), RTC_OK);
    char *last = t + strlen(t) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_ERR_INTEGRITY);
    free(t);
    ck_assert_int_eq(verify("a.b", NOW, &c, &why), RTC_ERR_MALFORMED);
    ck_assert_int_eq(verify("", NOW, &c, &why), RTC_ERR_MALFORMED);
}
END_TEST

START_TEST(claims_must_be_usable) {
    signal_claims_t c;
    const char *why;
    struct {
        const char *json;
        int rc;
        const char *why;
    } cases[] = {
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"r\"}", RTC_ERR_DENIED, "expiry"},
        {"{\"iss\":\"APIKEY\",\"room\":\"r\",\"exp\":1864500000}", RTC_ERR_DENIED, "sub"},
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\\nb\",\"room\":\"r\",\"exp\":1864500000}", RTC_ERR_DENIED, "sub"},
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\",\"exp\":1864500000}", RTC_ERR_DENIED, "room"},
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"a:b\",\"exp\":1864500000}", RTC_ERR_DENIED, "room"},
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"*\",\"exp\":1864500000}", RTC_ERR_DENIED, "room"},
        {"{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"r\",\"grants\":true,\"exp\":1864500000}", RTC_ERR_DENIED, "grants"},
        {"{\"sub\":\"a\",\"room\":\"r\",\"exp\":1864500000}", RTC_ERR_DENIED, "issuer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = signed_claims(cases[i].json, SECRET);
        why = NULL;
        ck_assert_msg(verify(t, NOW, &c, &why) == cases[i].rc, "case %zu", i);
        ck_assert_msg(why && strstr(why, cases[i].why), "case %zu: why '%s'", i, why);
        free(t);
    }
}
END_TEST

START_TEST(grants_default_and_explicit) {
    signal_claims_t c;
    const char *why;
    /* No grants object: a participant (publish, subscribe, data), never admin. */
    char *t = signed_claims("{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"r\",\"exp\":1864500000}", SECRET);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_OK);
    ck_assert_uint_eq(c.grants, SIGNAL_GRANTS_PARTICIPANT);
    free(t);
    /* With one: exactly the ones set to true (not "truthy"). */
    t = signed_claims("{\"iss\":\"APIKEY\",\"sub\":\"a\",\"room\":\"r\",\"exp\":1864500000,"
                      "\"grants\":{\"subscribe\":true,\"publish\":1,\"admin\":\"yes\"}}", SECRET);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_OK);
    ck_assert_uint_eq(c.grants, SIGNAL_GRANT_SUBSCRIBE);
    free(t);
    /* "*" is every room, for admin tokens only. */
    ck_assert_int_eq(signal_token_mint(&KEYS, "*", "ops", NULL, SIGNAL_GRANTS_PARTICIPANT, 60, NOW, &t), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(signal_token_mint(&KEYS, "*", "ops", NULL, SIGNAL_GRANT_ADMIN, 60, NOW, &t), RTC_OK);
    ck_assert_int_eq(verify(t, NOW, &c, &why), RTC_OK);
    ck_assert(signal_claims_room_ok(&c, "anything"));
    free(t);
    /* Minting refuses what verifying would refuse. */
    ck_assert_int_eq(signal_token_mint(&KEYS, "a b", "x", NULL, 0, 60, NOW, &t), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(signal_token_mint(&KEYS, "r", "", NULL, 0, 60, NOW, &t), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(signal_token_mint(&KEYS, "r", "x", NULL, 0, 0, NOW, &t), RTC_ERR_INVALID_ARG);
    signal_keys_t nokey = {"K", "", 0};
    ck_assert_int_eq(signal_token_mint(&nokey, "r", "x", NULL, 0, 60, NOW, &t), RTC_ERR_INVALID_ARG);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * PyJWT interop.
 */
static bool have_pyjwt(void) {
    return system("/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1") == 0;
}

START_TEST(pyjwt_verifies_our_tokens) {
    if (!have_pyjwt()) {
        fprintf(stderr, "skip: python3-jwt not installed\n");
        return;
    }
    char *t = NULL;
    ck_assert_int_eq(signal_token_mint(&KEYS, "demo", "alice", "Alice", SIGNAL_GRANT_PUBLISH, 600,
                                       (int64_t)time(NULL), &t), RTC_OK);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import jwt,sys; c=jwt.decode(sys.argv[1], sys.argv[2], "
             "algorithms=[\"HS256\"], issuer=\"APIKEY\"); "
             "assert c[\"sub\"]==\"alice\" and c[\"room\"]==\"demo\" and c[\"grants\"][\"publish\"] "
             "and not c[\"grants\"][\"subscribe\"], c' '%s' '%s'", t, SECRET);
    ck_assert_int_eq(system(cmd), 0);
    free(t);
}
END_TEST

START_TEST(we_verify_pyjwt_tokens) {
    if (!have_pyjwt()) {
        fprintf(stderr, "skip: python3-jwt not installed\n");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import jwt,sys,time; print(jwt.encode({\"iss\":\"APIKEY\","
             "\"sub\":\"py\",\"name\":\"Py Thon\",\"room\":\"demo\",\"exp\":int(time.time())+60,"
             "\"grants\":{\"data\":True}}, sys.argv[1], algorithm=\"HS256\"))' '%s'", SECRET);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char tok[2048] = "";
    ck_assert_ptr_nonnull(fgets(tok, sizeof tok, p));
    pclose(p);
    tok[strcspn(tok, "\n")] = 0;
    signal_claims_t c;
    const char *why;
    ck_assert_int_eq(signal_token_verify(&KEYS, tok, strlen(tok), 0, &c, &why), RTC_OK);
    ck_assert_str_eq(c.identity, "py");
    ck_assert_str_eq(c.name, "Py Thon");
    ck_assert_uint_eq(c.grants, SIGNAL_GRANT_DATA);
    /* And PyJWT's alg=none token is refused. */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import jwt; print(jwt.encode({\"iss\":\"APIKEY\",\"sub\":\"x\","
             "\"room\":\"demo\",\"exp\":9999999999}, None, algorithm=\"none\"))'");
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(tok, sizeof tok, p));
    pclose(p);
    tok[strcspn(tok, "\n")] = 0;
    int rc = signal_token_verify(&KEYS, tok, strlen(tok), 0, &c, &why);
    ck_assert_msg(rc == RTC_ERR_UNSUPPORTED || rc == RTC_ERR_MALFORMED, "alg none: %d", rc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("signal_token");
    TCase *tc = tcase_create("token");
    tcase_add_test(tc, mint_verify_round_trip_with_grants);
    tcase_add_test(tc, time_checks_with_leeway);
    tcase_add_test(tc, forged_and_foreign_tokens_refused);
    tcase_add_test(tc, claims_must_be_usable);
    tcase_add_test(tc, grants_default_and_explicit);
    tcase_add_test(tc, pyjwt_verifies_our_tokens);
    tcase_add_test(tc, we_verify_pyjwt_tokens);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
