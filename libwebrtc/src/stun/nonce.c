/* Stateless server nonces. A nonce is 16 hex digits of expiry time followed by 16 hex digits
 * of HMAC-SHA256(secret, expiry || client IP), so verifying needs only the secret: a server
 * keeps no state for clients that have not authenticated, and a flood of unauthenticated
 * requests costs it nothing but CPU. */
#include "rtc/stun.h"

#include <stdio.h>

static int nonce_mac(const uint8_t *secret, size_t secret_len, const rtc_addr_t *client,
                     uint64_t expires_at, uint8_t mac[RTC_SHA256_LEN]) {
    uint8_t when[8];
    rtc_put_be64(when, expires_at);
    rtc_iov_t parts[3] = {{when, 8}, {&client->family, 1}, {client->ip, rtc_addr_ip_len(client)}};
    return rtc_hmac(RTC_DIGEST_SHA256, secret, secret_len, parts, 3, mac);
}

int rtc_stun_nonce_make(const uint8_t *secret, size_t secret_len, const rtc_addr_t *client,
                        int64_t expires_at, char out[RTC_STUN_NONCE_LEN + 1]) {
    if (!secret || !client || expires_at < 0) return RTC_ERR_INVALID_ARG;
    uint8_t mac[RTC_SHA256_LEN];
    int rc = nonce_mac(secret, secret_len, client, (uint64_t)expires_at, mac);
    if (rc < 0) return rc;
    snprintf(out, 17, "%016llx", (unsigned long long)expires_at);
    rtc_hex_encode(mac, 8, 0, false, out + 16, 17);
    return RTC_OK;
}

int rtc_stun_nonce_check(const uint8_t *secret, size_t secret_len, const rtc_addr_t *client,
                         const char *nonce, size_t nonce_len, int64_t now) {
    if (!secret || !client || !nonce || nonce_len != RTC_STUN_NONCE_LEN) return RTC_ERR_AUTH;
    uint8_t when[8], got[8], mac[RTC_SHA256_LEN];
    if (rtc_hex_decode(nonce, 16, when, sizeof when) != 8) return RTC_ERR_AUTH;
    if (rtc_hex_decode(nonce + 16, 16, got, sizeof got) != 8) return RTC_ERR_AUTH;
    uint64_t expires_at = rtc_be64(when);
    if (nonce_mac(secret, secret_len, client, expires_at, mac) < 0) return RTC_ERR_AUTH;
    if (!rtc_ct_equal(mac, got, 8)) return RTC_ERR_AUTH;
    return (int64_t)expires_at < now ? RTC_ERR_STALE : RTC_OK;
}
