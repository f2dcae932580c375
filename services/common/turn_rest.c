/* TURN REST API credentials: HMAC-SHA1 over the username, base64-encoded. */
#include "common/turn_rest.h"

#include <inttypes.h>
#include <stdio.h>

int st_turn_rest_password(const void *secret, size_t secret_len, const char *username,
                          size_t username_len, char *password, size_t password_cap) {
    if (!secret || secret_len == 0 || !username) return RTC_ERR_INVALID_ARG;
    uint8_t mac[RTC_SHA1_LEN];
    if (rtc_hmac_sha1(secret, secret_len, username, username_len, mac) != RTC_SHA1_LEN)
        return RTC_ERR_CRYPTO;
    return rtc_base64_encode(mac, sizeof mac, password, password_cap);
}

int st_turn_rest_make(const void *secret, size_t secret_len, const char *identity,
                      int64_t expiry, char *username, size_t username_cap, char *password,
                      size_t password_cap) {
    if (!secret || secret_len == 0 || expiry < 0 || !username || !password)
        return RTC_ERR_INVALID_ARG;
    size_t cap = username_cap < ST_TURN_REST_USERNAME_MAX + 1 ? username_cap
                                                              : ST_TURN_REST_USERNAME_MAX + 1;
    int n = identity && *identity
                ? snprintf(username, cap, "%" PRId64 ":%s", expiry, identity)
                : snprintf(username, cap, "%" PRId64, expiry);
    if (n < 0 || (size_t)n >= cap) {
        if (username_cap) username[0] = '\0';
        return RTC_ERR_OVERFLOW;
    }
    int rc = st_turn_rest_password(secret, secret_len, username, (size_t)n, password, password_cap);
    return rc < 0 ? rc : RTC_OK;
}

int st_turn_rest_expiry(const char *username, size_t username_len, int64_t *expiry) {
    int64_t v = 0;
    size_t i = 0;
    for (; i < username_len && username[i] != ':'; i++) {
        char c = username[i];
        if (c < '0' || c > '9') return RTC_ERR_MALFORMED;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v))
            return RTC_ERR_MALFORMED;
    }
    if (i == 0) return RTC_ERR_MALFORMED;
    *expiry = v;
    return RTC_OK;
}

int st_turn_rest_verify(const void *secret, size_t secret_len, const char *username,
                        size_t username_len, const char *password, size_t password_len,
                        int64_t now) {
    if (!secret || secret_len == 0 || !username || !password) return RTC_ERR_INVALID_ARG;
    if (username_len > ST_TURN_REST_USERNAME_MAX) return RTC_ERR_MALFORMED;
    int64_t expiry;
    if (st_turn_rest_expiry(username, username_len, &expiry) < 0) return RTC_ERR_MALFORMED;
    if (now >= expiry) return RTC_ERR_STALE;
    char want[ST_TURN_REST_PASSWORD_SIZE];
    int n = st_turn_rest_password(secret, secret_len, username, username_len, want, sizeof want);
    if (n < 0) return n;
    if (password_len != (size_t)n || !rtc_ct_equal(want, password, (size_t)n)) return RTC_ERR_AUTH;
    return RTC_OK;
}
