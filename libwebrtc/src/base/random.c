/* Secure random from OpenSSL, replaceable by a seeded source for deterministic tests. */
#include "rtc/base.h"

#include <openssl/rand.h>

static rtc_random_fn random_fn;
static void *random_user;

void rtc_random_set_source(rtc_random_fn fn, void *user) {
    random_fn = fn;
    random_user = user;
}

int rtc_random_bytes(uint8_t *buf, size_t n) {
    if (n == 0) return RTC_OK;
    if (!buf) return RTC_ERR_INVALID_ARG;
    if (random_fn) return random_fn(buf, n, random_user);
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        if (RAND_bytes(buf, chunk) != 1) {
            RTC_LOGE("base", "RAND_bytes failed");
            return RTC_ERR_CRYPTO;
        }
        buf += chunk;
        n -= (size_t)chunk;
    }
    return RTC_OK;
}

uint32_t rtc_random_u32(void) {
    uint8_t b[4] = {0};
    (void)rtc_random_bytes(b, sizeof b);
    return rtc_be32(b);
}

uint64_t rtc_random_u64(void) {
    uint8_t b[8] = {0};
    (void)rtc_random_bytes(b, sizeof b);
    return rtc_be64(b);
}

uint32_t rtc_random_uniform(uint32_t bound) {
    if (bound < 2) return 0;
    /* Reject values in the short final bucket so every result is equally likely. */
    uint32_t limit = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = rtc_random_u32();
        if (r >= limit) return r % bound;
    }
}

int rtc_random_ice_string(char *out, size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i++) out[i] = alphabet[rtc_random_uniform(64)];
    out[n] = '\0';
    return RTC_OK;
}
