/* TURN REST credentials and the unauthenticated-answer rate limiter. */
#include "turn/auth.h"

#include "rtc/stun.h"
#include "turn/hash.h"

int turn_rest_parse_expiry(const char *username, int64_t *expiry) {
    if (!username) return RTC_ERR_MALFORMED;
    int64_t v = 0;
    size_t i = 0;
    for (; username[i] >= '0' && username[i] <= '9'; i++) {
        if (i >= 18) return RTC_ERR_MALFORMED; /* would overflow int64 soon; no real expiry is that long */
        v = v * 10 + (username[i] - '0');
    }
    if (i == 0 || (username[i] != ':' && username[i] != '\0')) return RTC_ERR_MALFORMED;
    *expiry = v;
    return RTC_OK;
}

int turn_rest_password(const char *secret, const char *username, char *out, size_t cap) {
    if (!secret || !username || !out) return RTC_ERR_INVALID_ARG;
    uint8_t mac[RTC_SHA1_LEN];
    int rc = rtc_hmac_sha1(secret, strlen(secret), username, strlen(username), mac);
    if (rc < 0) return rc;
    return rtc_base64_encode(mac, sizeof mac, out, cap);
}

int turn_rest_key(const char *secret, const char *username, const char *realm,
                  uint8_t key[TURN_LT_KEY_LEN]) {
    char pw[TURN_REST_PASSWORD_LEN + 1];
    int rc = turn_rest_password(secret, username, pw, sizeof pw);
    if (rc < 0) return rc;
    uint8_t full[RTC_STUN_KEY_MAX];
    rc = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, username, realm, pw, full);
    if (rc != TURN_LT_KEY_LEN) return rc < 0 ? rc : RTC_ERR_FAILED;
    memcpy(key, full, TURN_LT_KEY_LEN);
    return TURN_LT_KEY_LEN;
}

void turn_ratelimit_init(turn_ratelimit_t *r) {
    memset(r, 0, sizeof *r);
    r->seed = rtc_random_u64();
    for (size_t i = 0; i < TURN_RATELIMIT_SLOTS; i++) r->slot[i].last = INT64_MIN;
}

bool turn_ratelimit_allow(turn_ratelimit_t *r, const rtc_addr_t *ip, uint32_t rate, uint32_t burst,
                          rtc_time_t now) {
    if (rate == 0) return true;
    if (rate > 1000000) rate = 1000000; /* keeps elapsed * rate inside int64 */
    if (burst == 0) burst = 1;
    turn_rl_slot_t *s = &r->slot[turn_hash_addr(r->seed, 0, ip, false) % TURN_RATELIMIT_SLOTS];
    int64_t cap = (int64_t)burst * RTC_US_PER_SEC;
    if (s->last == INT64_MIN || now - s->last > RTC_SEC(3600)) {
        s->tokens_us = cap;
    } else if (now > s->last) {
        /* tokens accrue at `rate` per second: rate tokens * elapsed us, in 1e-6 token units */
        int64_t add = (now - s->last) * (int64_t)rate;
        s->tokens_us = s->tokens_us + add > cap ? cap : s->tokens_us + add;
    }
    s->last = now;
    if (s->tokens_us < RTC_US_PER_SEC) return false;
    s->tokens_us -= RTC_US_PER_SEC;
    return true;
}
