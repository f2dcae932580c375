/* MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT verification, key derivation
 * (RFC 8489 §9, §14.5-14.7). */
#include "rtc/stun.h"

#include <stdio.h>

/* The MAC or CRC covers the message up to the attribute's header, with the header length
 * field rewritten to end just after the attribute. Hash a patched copy of the 20-byte header
 * and then the rest in place, so the caller's buffer is never modified. */
static void patched_header(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a, uint8_t hdr[20]) {
    memcpy(hdr, msg->raw, RTC_STUN_HEADER_LEN);
    size_t end = a->offset + ((a->len + 3u) & ~3u);
    rtc_put_be16(hdr + 2, (uint16_t)(end - RTC_STUN_HEADER_LEN));
}

static int check_mac(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a, rtc_digest_t alg,
                     const uint8_t *key, size_t key_len) {
    uint8_t hdr[RTC_STUN_HEADER_LEN];
    patched_header(msg, a, hdr);
    size_t start = a->offset - 4; /* the attribute's own header is not covered */
    rtc_iov_t parts[2] = {{hdr, RTC_STUN_HEADER_LEN},
                          {msg->raw + RTC_STUN_HEADER_LEN, start - RTC_STUN_HEADER_LEN}};
    uint8_t mac[RTC_DIGEST_MAX_LEN];
    if (rtc_hmac(alg, key, key_len, parts, 2, mac) < 0) return RTC_ERR_CRYPTO;
    return rtc_ct_equal(mac, rtc_stun_attr_value(msg, a), a->len) ? RTC_OK : RTC_ERR_INTEGRITY;
}

int rtc_stun_msg_check_integrity(const rtc_stun_msg_t *msg, const uint8_t *key, size_t key_len) {
    if (!msg || (!key && key_len)) return RTC_ERR_INVALID_ARG;
    if (msg->integrity_sha256 >= 0)
        return check_mac(msg, &msg->attrs[msg->integrity_sha256], RTC_DIGEST_SHA256, key, key_len);
    if (msg->integrity >= 0)
        return check_mac(msg, &msg->attrs[msg->integrity], RTC_DIGEST_SHA1, key, key_len);
    return RTC_ERR_NOT_FOUND;
}

int rtc_stun_msg_check_fingerprint(const rtc_stun_msg_t *msg) {
    if (msg->fingerprint < 0) return RTC_ERR_NOT_FOUND;
    const rtc_stun_attr_t *a = &msg->attrs[msg->fingerprint];
    uint8_t hdr[RTC_STUN_HEADER_LEN];
    patched_header(msg, a, hdr);
    size_t start = a->offset - 4;
    uint32_t crc = rtc_crc32(0, hdr, RTC_STUN_HEADER_LEN);
    crc = rtc_crc32(crc, msg->raw + RTC_STUN_HEADER_LEN, start - RTC_STUN_HEADER_LEN);
    return (crc ^ RTC_STUN_FINGERPRINT_XOR) == rtc_be32(rtc_stun_attr_value(msg, a)) ? RTC_OK
                                                                                  : RTC_ERR_FINGERPRINT;
}

int rtc_stun_short_term_key(const char *password, uint8_t *out, size_t cap) {
    if (!password || !out) return RTC_ERR_INVALID_ARG;
    size_t n = strlen(password);
    if (n > cap) return RTC_ERR_OVERFLOW;
    memcpy(out, password, n);
    return (int)n;
}

int rtc_stun_long_term_key(rtc_stun_password_alg_t alg, const char *username, const char *realm,
                           const char *password, uint8_t out[RTC_STUN_KEY_MAX]) {
    if (!username || !realm || !password || !out) return RTC_ERR_INVALID_ARG;
    rtc_iov_t parts[5] = {{username, strlen(username)}, {":", 1}, {realm, strlen(realm)}, {":", 1},
                          {password, strlen(password)}};
    rtc_digest_t d = alg == RTC_STUN_PASSWORD_SHA256 ? RTC_DIGEST_SHA256
                   : alg == RTC_STUN_PASSWORD_MD5 ? RTC_DIGEST_MD5 : (rtc_digest_t)-1;
    if ((int)d < 0) return RTC_ERR_UNSUPPORTED;
    return rtc_digest(d, parts, 5, out);
}

int rtc_stun_userhash(const char *username, const char *realm, uint8_t out[32]) {
    if (!username || !realm) return RTC_ERR_INVALID_ARG;
    rtc_iov_t parts[3] = {{username, strlen(username)}, {":", 1}, {realm, strlen(realm)}};
    return rtc_digest(RTC_DIGEST_SHA256, parts, 3, out);
}
