/* Digests and HMAC over scattered input. HMAC is built from the digest (RFC 2104) rather than
 * OpenSSL's MAC objects so that callers can MAC a message in pieces — STUN integrity covers a
 * header whose length field differs from the bytes on the wire — without copying it.
 * Digest methods are fetched once: per-call implicit fetches cost more than the hash of a
 * STUN message. */
#include "rtc/base.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>

static EVP_MD *methods[5];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_methods(void) {
    static const char *const names[] = {"MD5", "SHA1", "SHA256", "SHA384", "SHA512"};
    for (int i = 0; i < 5; i++) methods[i] = EVP_MD_fetch(NULL, names[i], NULL);
}

static const EVP_MD *method(rtc_digest_t alg) {
    pthread_once(&fetch_once, fetch_methods);
    return (unsigned)alg < 5 ? methods[alg] : NULL;
}

size_t rtc_digest_len(rtc_digest_t alg) {
    switch (alg) {
    case RTC_DIGEST_MD5: return 16;
    case RTC_DIGEST_SHA1: return 20;
    case RTC_DIGEST_SHA256: return 32;
    case RTC_DIGEST_SHA384: return 48;
    case RTC_DIGEST_SHA512: return 64;
    }
    return 0;
}

static size_t block_len(rtc_digest_t alg) {
    return (alg == RTC_DIGEST_SHA384 || alg == RTC_DIGEST_SHA512) ? 128 : 64;
}

static int digest_with_prefix(const EVP_MD *md, const uint8_t *prefix, size_t prefix_len,
                              const rtc_iov_t *parts, size_t nparts, uint8_t *out) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return RTC_ERR_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, md, NULL);
    if (ok && prefix_len) ok = EVP_DigestUpdate(ctx, prefix, prefix_len);
    for (size_t i = 0; ok && i < nparts; i++) {
        if (parts[i].n) ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
    }
    unsigned int len = 0;
    if (ok) ok = EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? (int)len : RTC_ERR_CRYPTO;
}

int rtc_digest(rtc_digest_t alg, const rtc_iov_t *parts, size_t nparts, uint8_t *out) {
    const EVP_MD *md = method(alg);
    if (!md || !out) return RTC_ERR_INVALID_ARG;
    return digest_with_prefix(md, NULL, 0, parts, nparts, out);
}

int rtc_hmac(rtc_digest_t alg, const void *key, size_t key_len, const rtc_iov_t *parts,
             size_t nparts, uint8_t *out) {
    const EVP_MD *md = method(alg);
    if (!md || !out || (!key && key_len)) return RTC_ERR_INVALID_ARG;
    size_t bl = block_len(alg);
    uint8_t k0[128] = {0};
    if (key_len > bl) {
        rtc_iov_t kp = {key, key_len};
        int rc = digest_with_prefix(md, NULL, 0, &kp, 1, k0);
        if (rc < 0) return rc;
    } else if (key_len) {
        memcpy(k0, key, key_len);
    }
    uint8_t pad[128];
    for (size_t i = 0; i < bl; i++) pad[i] = k0[i] ^ 0x36;
    uint8_t inner[RTC_DIGEST_MAX_LEN];
    int ilen = digest_with_prefix(md, pad, bl, parts, nparts, inner);
    if (ilen < 0) return ilen;
    for (size_t i = 0; i < bl; i++) pad[i] = k0[i] ^ 0x5c;
    rtc_iov_t ip = {inner, (size_t)ilen};
    int rc = digest_with_prefix(md, pad, bl, &ip, 1, out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(pad, sizeof pad);
    return rc;
}

int rtc_hmac_sha1(const void *key, size_t key_len, const void *p, size_t n, uint8_t out[RTC_SHA1_LEN]) {
    rtc_iov_t part = {p, n};
    return rtc_hmac(RTC_DIGEST_SHA1, key, key_len, &part, 1, out);
}

int rtc_hmac_sha256(const void *key, size_t key_len, const void *p, size_t n, uint8_t out[RTC_SHA256_LEN]) {
    rtc_iov_t part = {p, n};
    return rtc_hmac(RTC_DIGEST_SHA256, key, key_len, &part, 1, out);
}

bool rtc_ct_equal(const void *a, const void *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}
