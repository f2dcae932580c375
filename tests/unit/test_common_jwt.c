/* common/jwt: the HS256 example of RFC 7519 §3.1 (key from RFC 7515 Appendix A.1) and the
 * jwt.io example verify; tokens cross-checked both ways with PyJWT (Debian python3-jwt),
 * an implementation nobody here wrote; expiry, nbf, leeway, wrong signatures, alg "none"
 * and other algorithms, malformed segments and huge tokens are refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/jwt.h"

/* RFC 7519 §3.1 example JWT, signed with the HMAC key of RFC 7515 Appendix A.1. */
static const char rfc_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_key_b64u[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
#define RFC_EXP 1300819380

static size_t rfc_key(uint8_t *key) {
    int n = st_base64url_decode(rfc_key_b64u, strlen(rfc_key_b64u), key, 64);
    ck_assert_int_eq(n, 64);
    return (size_t)n;
}

static int verify(const char *tok, const void *key, size_t klen, int64_t now, int64_t leeway,
                  cJSON **claims) {
    st_jwt_verify_opts_t o = {.now = now, .leeway = leeway};
    return st_jwt_verify_hs256(tok, strlen(tok), key, klen, &o, claims);
}

/* header.payload.signature from raw JSON texts, for hand-made test tokens. */
static char *make_token(const char *header, const char *payload, const char *key) {
    char *t = malloc(32768);
    int n = st_base64url_encode((const uint8_t *)header, strlen(header), t, 32768);
    ck_assert_int_gt(n, 0);
    size_t o = (size_t)n;
    t[o++] = '.';
    n = st_base64url_encode((const uint8_t *)payload, strlen(payload), t + o, 32768 - o);
    ck_assert_int_gt(n, 0);
    o += (size_t)n;
    uint8_t mac[32];
    rtc_hmac_sha256(key, strlen(key), t, o, mac);
    t[o++] = '.';
    ck_assert_int_gt(st_base64url_encode(mac, 32, t + o, 32768 - o), 0);
    return t;
}

START_TEST(rfc7519_example_verifies_before_its_expiry_only) {
    uint8_t key[64];
    size_t klen = rfc_key(key);
    cJSON *claims = NULL;
    ck_assert_int_eq(verify(rfc_token, key, klen, RFC_EXP - 1, 0, &claims), RTC_OK);
    ck_assert_str_eq(st_jwt_claim_string(claims, "iss"), "joe");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(claims, "http://example.com/is_root")));
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(claims, "exp")->valuedouble, RFC_EXP);
    cJSON_Delete(claims);
    /* At exp the token is expired (the current time must be before exp) ... */
    ck_assert_int_eq(verify(rfc_token, key, klen, RFC_EXP, 0, &claims), RTC_ERR_STALE);
    ck_assert_ptr_null(claims);
    /* ... unless the leeway covers the skew. */
    ck_assert_int_eq(verify(rfc_token, key, klen, RFC_EXP + 9, 10, NULL), RTC_OK);
    ck_assert_int_eq(verify(rfc_token, key, klen, RFC_EXP + 10, 10, NULL), RTC_ERR_STALE);
    /* The wall clock (now = 0) is long past 2011. */
    ck_assert_int_eq(verify(rfc_token, key, klen, 0, 0, NULL), RTC_ERR_STALE);
}
END_TEST

START_TEST(jwt_io_example_verifies) {
    const char *tok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
                      ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
                      ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    const char *secret = "your-256-bit-secret";
    cJSON *claims = NULL;
    ck_assert_int_eq(verify(tok, secret, strlen(secret), 0, 0, &claims), RTC_OK);
    ck_assert_str_eq(st_jwt_claim_string(claims, "sub"), "1234567890");
    ck_assert_str_eq(st_jwt_claim_string(claims, "name"), "John Doe");
    ck_assert_ptr_null(st_jwt_claim_string(claims, "iat")); /* a number, not a string */
    cJSON_Delete(claims);
    /* No exp: refused only when the caller requires one. */
    st_jwt_verify_opts_t o = {.require_exp = true};
    ck_assert_int_eq(st_jwt_verify_hs256(tok, strlen(tok), secret, strlen(secret), &o, NULL),
                     RTC_ERR_DENIED);
    ck_assert_int_eq(verify(tok, "your-256-bit-secreT", 19, 0, 0, NULL), RTC_ERR_INTEGRITY);
}
END_TEST

static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(1, 8192);
    size_t n = fread(out, 1, 8191, p);
    out[n] = '\0';
    int st = pclose(p);
    ck_assert_msg(st == 0, "command failed (python3-jwt installed?): %s\n%s", cmd, out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = '\0';
    return out;
}

START_TEST(tokens_interoperate_with_pyjwt) {
    const char *secret = "a-long-enough-secret-for-hs256-0123456789";
    int64_t exp = rtc_clock_wall_us() / RTC_US_PER_SEC + 600;
    cJSON *claims = cJSON_CreateObject();
    cJSON_AddStringToObject(claims, "room", "lobby \xE2\x98\x83");
    cJSON_AddStringToObject(claims, "sub", "alice");
    cJSON_AddNumberToObject(claims, "exp", (double)exp);
    char *ours = NULL;
    ck_assert_int_eq(st_jwt_sign_hs256(secret, strlen(secret), claims, &ours), RTC_OK);
    cJSON_Delete(claims);

    /* PyJWT verifies our token (it checks exp itself) and reads the claims back. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import jwt,sys; c = jwt.decode(sys.argv[1], sys.argv[2], "
             "algorithms=[\"HS256\"]); print(c[\"sub\"], c[\"room\"].encode(\"unicode_escape\").decode(), "
             "jwt.get_unverified_header(sys.argv[1])[\"alg\"])' '%s' '%s'",
             ours, secret);
    char *out = run(cmd);
    ck_assert_str_eq(out, "alice lobby \\u2603 HS256");
    free(out);
    free(ours);

    /* And we verify PyJWT's token, with its claims intact. */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import jwt,sys; print(jwt.encode({\"sub\": \"bob\", "
             "\"exp\": %lld, \"nbf\": %lld}, sys.argv[1], algorithm=\"HS256\"))' '%s'",
             (long long)exp, (long long)exp - 1200, secret);
    char *theirs = run(cmd);
    cJSON *got = NULL;
    ck_assert_int_eq(verify(theirs, secret, strlen(secret), 0, 0, &got), RTC_OK);
    ck_assert_str_eq(st_jwt_claim_string(got, "sub"), "bob");
    cJSON_Delete(got);
    ck_assert_int_eq(verify(theirs, "other", 5, 0, 0, NULL), RTC_ERR_INTEGRITY);
    free(theirs);
}
END_TEST

START_TEST(not_before_and_expiry_with_leeway) {
    const char *key = "k";
    char *t = make_token("{\"alg\":\"HS256\"}", "{\"nbf\":1000,\"exp\":2000}", key);
    ck_assert_int_eq(verify(t, key, 1, 999, 0, NULL), RTC_ERR_AGAIN);
    ck_assert_int_eq(verify(t, key, 1, 995, 5, NULL), RTC_OK);
    ck_assert_int_eq(verify(t, key, 1, 1000, 0, NULL), RTC_OK);
    ck_assert_int_eq(verify(t, key, 1, 1999, 0, NULL), RTC_OK);
    ck_assert_int_eq(verify(t, key, 1, 2000, 0, NULL), RTC_ERR_STALE);
    free(t);
    t = make_token("{\"alg\":\"HS256\"}", "{\"exp\":\"tomorrow\"}", key);
    ck_assert_int_eq(verify(t, key, 1, 1, 0, NULL), RTC_ERR_MALFORMED);
    free(t);
    t = make_token("{\"alg\":\"HS256\"}", "[1,2,3]", key);
    ck_assert_int_eq(verify(t, key, 1, 1, 0, NULL), RTC_ERR_MALFORMED);
    free(t);
}
END_TEST

START_TEST(any_change_to_the_signature_or_content_is_caught) {
    uint8_t key[64];
    size_t klen = rfc_key(key);
    size_t len = strlen(rfc_token);
    char *t = strdup(rfc_token);
    /* Every single-character change anywhere in the token must be refused. */
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') continue;
        char orig = t[i];
        t[i] = orig == 'A' ? 'B' : 'A';
        int rc = verify(t, key, klen, RFC_EXP - 1, 0, NULL);
        ck_assert_msg(rc != RTC_OK, "change at %zu accepted", i);
        t[i] = orig;
    }
    /* A truncated signature, and one with an extra character. */
    t[len - 1] = '\0';
    ck_assert_int_ne(verify(t, key, klen, RFC_EXP - 1, 0, NULL), RTC_OK);
    free(t);
    char longer[512];
    snprintf(longer, sizeof longer, "%sAAAA", rfc_token);
    ck_assert_int_eq(verify(longer, key, klen, RFC_EXP - 1, 0, NULL), RTC_ERR_INTEGRITY);
}
END_TEST

START_TEST(alg_none_and_other_algorithms_are_refused) {
    const char *key = "secret";
    /* The classic: alg none with an empty signature. */
    char *t = make_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"sub\":\"admin\"}", key);
    *(strrchr(t, '.') + 1) = '\0';
    ck_assert_int_ne(verify(t, key, 6, 0, 0, NULL), RTC_OK);
    free(t);
    static const char *const headers[] = {
        "{\"alg\":\"none\"}", "{\"alg\":\"None\"}",  "{\"alg\":\"HS384\"}",
        "{\"alg\":\"RS256\"}", "{\"alg\":\"hs256\"}", "{\"typ\":\"JWT\"}",
        "{\"alg\":256}",       "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        /* Even with a correct HMAC-SHA256 signature over the content. */
        t = make_token(headers[i], "{\"sub\":\"admin\"}", key);
        ck_assert_msg(verify(t, key, 6, 0, 0, NULL) == RTC_ERR_UNSUPPORTED, "header %s accepted",
                      headers[i]);
        free(t);
    }
    t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}", "{\"sub\":\"x\"}", key);
    ck_assert_int_eq(verify(t, key, 6, 0, 0, NULL), RTC_OK);
    free(t);
}
END_TEST

START_TEST(malformed_tokens_are_refused) {
    const char *key = "k";
    /* eyJhbGciOiJIUzI1NiJ9 is {"alg":"HS256"}; e30 is {}. */
    static const char *const bad[] = {
        "", ".", "..", "abc", "a.b", "a.b.c.d", ".e30.c", "eyJhbGciOiJIUzI1NiJ9..c",
        "eyJhbGciOiJIUzI1NiJ9.e30.", "ey J9.e30.abc", "eyJhbGciOiJIUzI1NiJ9=.e30.abc",
        "eyJhbGciOiJIUzI1NiJ9.e30.ab+c", "eyJhbGciOiJIUzI1NiJ9.e30.ab/c",
        "eyJhbGciOiJIUzI1NiJ9.e30.a", "e.e30.abcd",
        "bm90IGpzb24.e30.abcd", /* header "not json" */
        "WzFd.e30.abcd",        /* header [1] */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(bad[i], key, 1, 0, 0, NULL);
        ck_assert_msg(rc == RTC_ERR_MALFORMED, "\"%s\" gave %d", bad[i], rc);
    }
    /* A NUL inside the token: the length says where it ends, not strlen. */
    static const char with_nul[] = "eyJhbGciOiJIUzI1NiJ9\0.e30.abc";
    ck_assert_int_eq(st_jwt_verify_hs256(with_nul, sizeof with_nul - 1, key, 1, NULL, NULL),
                     RTC_ERR_MALFORMED);
    ck_assert_int_eq(verify("a.b.c", "", 0, 0, 0, NULL), RTC_ERR_INVALID_ARG);
}
END_TEST

START_TEST(huge_tokens_are_refused_unread) {
    size_t n = 1 << 20;
    char *t = malloc(n + 1);
    memset(t, 'A', n);
    t[100] = '.';
    t[200] = '.';
    t[n] = '\0';
    ck_assert_int_eq(verify(t, "k", 1, 0, 0, NULL), RTC_ERR_LIMIT);
    /* The limit is exact: a well-formed token one byte over it is refused on length. */
    char payload[ST_JWT_MAX_LEN];
    memset(payload, 0, sizeof payload);
    strcpy(payload, "{\"pad\":\"");
    size_t base = strlen(payload);
    memset(payload + base, 'p', 6500);
    strcpy(payload + base + 6500, "\"}");
    char *big = make_token("{\"alg\":\"HS256\"}", payload, "k");
    size_t len = strlen(big);
    ck_assert_uint_gt(len, ST_JWT_MAX_LEN);
    ck_assert_int_eq(verify(big, "k", 1, 0, 0, NULL), RTC_ERR_LIMIT);
    free(big);
    payload[base + 5000] = '\0';
    strcat(payload, "\"}");
    big = make_token("{\"alg\":\"HS256\"}", payload, "k");
    ck_assert_uint_le(strlen(big), ST_JWT_MAX_LEN);
    ck_assert_int_eq(verify(big, "k", 1, 0, 0, NULL), RTC_OK);
    free(big);
    free(t);
}
END_TEST

START_TEST(base64url_vectors_and_strictness) {
    /* RFC 4648 §10 vectors, in the URL-safe alphabet without padding. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char enc[32];
        uint8_t dec[32];
        ck_assert_int_eq(st_base64url_encode((const uint8_t *)in[i], strlen(in[i]), enc, sizeof enc),
                         (int)strlen(out[i]));
        ck_assert_str_eq(enc, out[i]);
        ck_assert_int_eq(st_base64url_decode(out[i], strlen(out[i]), dec, sizeof dec),
                         (int)strlen(in[i]));
        ck_assert(memcmp(dec, in[i], strlen(in[i])) == 0);
    }
    static const uint8_t raw[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    st_base64url_encode(raw, 3, enc, sizeof enc);
    ck_assert_str_eq(enc, "-_-_");
    uint8_t dec[8];
    ck_assert_int_eq(st_base64url_decode("Zh", 2, dec, sizeof dec), RTC_ERR_MALFORMED); /* bits */
    ck_assert_int_eq(st_base64url_decode("Zg==", 4, dec, sizeof dec), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_base64url_decode("+/+/", 4, dec, sizeof dec), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_base64url_decode("Z", 1, dec, sizeof dec), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_base64url_encode((const uint8_t *)"foobar", 6, enc, 8), RTC_ERR_OVERFLOW);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_jwt");
    TCase *tc = tcase_create("jwt");
    tcase_add_test(tc, rfc7519_example_verifies_before_its_expiry_only);
    tcase_add_test(tc, jwt_io_example_verifies);
    tcase_add_test(tc, tokens_interoperate_with_pyjwt);
    tcase_add_test(tc, not_before_and_expiry_with_leeway);
    tcase_add_test(tc, any_change_to_the_signature_or_content_is_caught);
    tcase_add_test(tc, alg_none_and_other_algorithms_are_refused);
    tcase_add_test(tc, malformed_tokens_are_refused);
    tcase_add_test(tc, huge_tokens_are_refused_unread);
    tcase_add_test(tc, base64url_vectors_and_strictness);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
