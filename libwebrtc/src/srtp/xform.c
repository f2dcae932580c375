/* SRTP/SRTCP packet transforms on OpenSSL 3: AES-CM + HMAC-SHA1 (RFC 3711) and AES-GCM
 * (RFC 7714), plus the RFC 3711 key derivation.
 *
 * Each transform holds one EVP_CIPHER_CTX keyed once with its session key; a packet only
 * sets a new IV (EVP_*Init_ex with a NULL cipher and key), so no key schedule and no
 * allocation happens per packet.
 *
 * HMAC-SHA1 uses the SHA-1 states after the key's ipad and opad blocks, computed once: a
 * packet then costs two SHA1_Update/Final runs on a copied 96-byte struct. OpenSSL 3's
 * EVP_MAC re-init copies a digest context (a malloc and a free inside OpenSSL) per packet and
 * measured about 80 ns slower at 172 bytes on our machines, so the low-level SHA-1 calls
 * (deprecated in 3.0, still built and using the same SHA-NI/AVX code) are used; a build of
 * OpenSSL without deprecated APIs falls back to EVP_MAC. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "srtp/srtp_internal.h"

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#define USE_EVP_MAC 1
#else
#define USE_EVP_MAC 0
#endif

#define HMAC_KEY_LEN 20
#define GCM_TAG_LEN 16
#define RTCP_HDR 8
#define E_FLAG 0x80000000u

struct rtc_srtp_xform {
    bool gcm, encrypt;
    size_t tag_len;
    EVP_CIPHER_CTX *ctx;
    uint8_t salt[RTC_SRTP_MAX_SALT_LEN];
#if USE_EVP_MAC
    EVP_MAC_CTX *mac;
#else
    SHA_CTX inner, outer;
#endif
};

/* Fetched once per process: an implicit fetch per EVP_*Init_ex with a cipher is costly. */
static EVP_CIPHER *ciphers[4]; /* aes-128-ctr, aes-256-ctr, aes-128-gcm, aes-256-gcm */
#if USE_EVP_MAC
static EVP_MAC *hmac;
#endif
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static int fetch_result = RTC_ERR_CRYPTO;

static void do_fetch(void) {
    static const char *names[4] = {"AES-128-CTR", "AES-256-CTR", "AES-128-GCM", "AES-256-GCM"};
    for (int i = 0; i < 4; i++) {
        ciphers[i] = EVP_CIPHER_fetch(NULL, names[i], NULL);
        if (!ciphers[i]) {
            RTC_LOGE("srtp", "OpenSSL has no %s", names[i]);
            return;
        }
    }
#if USE_EVP_MAC
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac) {
        RTC_LOGE("srtp", "OpenSSL has no HMAC");
        return;
    }
#endif
    fetch_result = RTC_OK;
}

int rtc_srtp__evp_init(void) {
    pthread_once(&fetch_once, do_fetch);
    return fetch_result;
}

int rtc_srtp__kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
                  size_t salt_len, uint8_t label, uint8_t *out, size_t out_len) {
    if ((key_len != 16 && key_len != 32) || salt_len > 14 || out_len > 256) return RTC_ERR_INVALID_ARG;
    if (rtc_srtp__evp_init() != RTC_OK) return RTC_ERR_CRYPTO;
    uint8_t iv[16] = {0};
    memcpy(iv, master_salt, salt_len);
    iv[7] ^= label; /* key_id = label || (index DIV kdr = 0), right-aligned under the salt */
    memset(out, 0, out_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c && EVP_EncryptInit_ex(c, ciphers[key_len == 32 ? 1 : 0], NULL, master_key, iv) &&
                    EVP_EncryptUpdate(c, out, &n, out, (int)out_len);
    EVP_CIPHER_CTX_free(c);
    return ok ? RTC_OK : RTC_ERR_CRYPTO;
}

static bool is_gcm(rtc_srtp_profile_t p) {
    return p == RTC_SRTP_AEAD_AES_128_GCM || p == RTC_SRTP_AEAD_AES_256_GCM;
}

void rtc_srtp__xform_free(rtc_srtp_xform_t *x) {
    if (!x) return;
    EVP_CIPHER_CTX_free(x->ctx);
#if USE_EVP_MAC
    EVP_MAC_CTX_free(x->mac);
#endif
    OPENSSL_cleanse(x, sizeof *x);
    free(x);
}

static bool hmac_init(rtc_srtp_xform_t *x, const uint8_t *key) {
#if USE_EVP_MAC
    x->mac = EVP_MAC_CTX_new(hmac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
                           OSSL_PARAM_construct_end()};
    return x->mac && EVP_MAC_init(x->mac, key, HMAC_KEY_LEN, params);
#else
    uint8_t pad[SHA_CBLOCK];
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < HMAC_KEY_LEN; i++) pad[i] ^= key[i];
    bool ok = SHA1_Init(&x->inner) && SHA1_Update(&x->inner, pad, sizeof pad);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < HMAC_KEY_LEN; i++) pad[i] ^= key[i];
    ok = ok && SHA1_Init(&x->outer) && SHA1_Update(&x->outer, pad, sizeof pad);
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
#endif
}

/* HMAC-SHA1 over a || b (b may be empty), the full 20 bytes into out. */
static bool hmac(rtc_srtp_xform_t *x, const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                 uint8_t out[20]) {
#if USE_EVP_MAC
    size_t ol = 0;
    return EVP_MAC_init(x->mac, NULL, 0, NULL) && EVP_MAC_update(x->mac, a, na) &&
           (nb == 0 || EVP_MAC_update(x->mac, b, nb)) && EVP_MAC_final(x->mac, out, &ol, 20);
#else
    SHA_CTX c = x->inner;
    SHA1_Update(&c, a, na);
    if (nb) SHA1_Update(&c, b, nb);
    SHA1_Final(out, &c);
    c = x->outer;
    SHA1_Update(&c, out, 20);
    SHA1_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
    return true;
#endif
}

rtc_srtp_xform_t *rtc_srtp__xform_new(rtc_srtp_profile_t profile, bool rtcp, bool encrypt,
                                      const uint8_t *key, const uint8_t *salt,
                                      const uint8_t *auth_key) {
    size_t key_len = rtc_srtp_key_len(profile);
    if (!key_len || !key || !salt || rtc_srtp__evp_init() != RTC_OK) return NULL;
    rtc_srtp_xform_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->gcm = is_gcm(profile);
    x->encrypt = encrypt;
    x->tag_len = rtc_srtp_overhead(profile, rtcp) - (rtcp ? 4 : 0);
    memcpy(x->salt, salt, rtc_srtp_salt_len(profile));
    const EVP_CIPHER *c = ciphers[(x->gcm ? 2 : 0) + (key_len == 32 ? 1 : 0)];
    x->ctx = EVP_CIPHER_CTX_new();
    bool ok = x->ctx != NULL;
    /* AES-CM is its own inverse: both directions encrypt. GCM decrypts to check the tag. */
    if (ok && (!x->gcm || encrypt)) ok = EVP_EncryptInit_ex(x->ctx, c, NULL, key, NULL) == 1;
    else if (ok) ok = EVP_DecryptInit_ex(x->ctx, c, NULL, key, NULL) == 1;
    if (ok && !x->gcm) ok = auth_key && hmac_init(x, auth_key);
    if (!ok) {
        RTC_LOGW("srtp", "cannot key the OpenSSL SRTP transform");
        rtc_srtp__xform_free(x);
        return NULL;
    }
    return x;
}

rtc_srtp_xform_t *rtc_srtp__xform_derive(rtc_srtp_profile_t profile, bool rtcp, bool encrypt,
                                         const uint8_t *master_key, const uint8_t *master_salt) {
    size_t key_len = rtc_srtp_key_len(profile), salt_len = rtc_srtp_salt_len(profile);
    if (!key_len) return NULL;
    uint8_t key[RTC_SRTP_MAX_KEY_LEN], salt[RTC_SRTP_MAX_SALT_LEN], auth[HMAC_KEY_LEN];
    uint8_t base = rtcp ? RTC_SRTP_LABEL_RTCP_ENC : RTC_SRTP_LABEL_RTP_ENC;
    rtc_srtp_xform_t *x = NULL;
    if (rtc_srtp__kdf(master_key, key_len, master_salt, salt_len, base, key, key_len) == RTC_OK &&
        rtc_srtp__kdf(master_key, key_len, master_salt, salt_len, (uint8_t)(base + 2), salt, salt_len) == RTC_OK &&
        (is_gcm(profile) ||
         rtc_srtp__kdf(master_key, key_len, master_salt, salt_len, (uint8_t)(base + 1), auth, HMAC_KEY_LEN) == RTC_OK))
        x = rtc_srtp__xform_new(profile, rtcp, encrypt, key, salt, auth);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(salt, sizeof salt);
    OPENSSL_cleanse(auth, sizeof auth);
    return x;
}

size_t rtc_srtp__xform_tag_len(const rtc_srtp_xform_t *x) { return x->tag_len; }

/* ---- IVs ---- */

/* AES-CM (RFC 3711 section 4.1.1): (salt << 16) XOR (SSRC << 64) XOR (index << 16). */
static inline void cm_iv(const rtc_srtp_xform_t *x, uint8_t iv[16], uint32_t ssrc, uint64_t index) {
    memcpy(iv, x->salt, 14);
    iv[14] = iv[15] = 0;
    iv[4] ^= (uint8_t)(ssrc >> 24);
    iv[5] ^= (uint8_t)(ssrc >> 16);
    iv[6] ^= (uint8_t)(ssrc >> 8);
    iv[7] ^= (uint8_t)ssrc;
    for (int i = 0; i < 6; i++) iv[13 - i] ^= (uint8_t)(index >> (8 * i));
}

/* GCM (RFC 7714 sections 8.1 and 9.1): salt XOR (00 00 || SSRC || 4 bytes || 2 bytes), the
 * last six being ROC || SEQ for SRTP and 00 00 || 0 + SRTCP index for SRTCP. */
static inline void gcm_iv(const rtc_srtp_xform_t *x, uint8_t iv[12], uint32_t ssrc, uint64_t low48) {
    memcpy(iv, x->salt, 12);
    iv[2] ^= (uint8_t)(ssrc >> 24);
    iv[3] ^= (uint8_t)(ssrc >> 16);
    iv[4] ^= (uint8_t)(ssrc >> 8);
    iv[5] ^= (uint8_t)ssrc;
    for (int i = 0; i < 6; i++) iv[11 - i] ^= (uint8_t)(low48 >> (8 * i));
}

/* ---- shared pieces ---- */

static bool ctr_xor(rtc_srtp_xform_t *x, const uint8_t iv[16], uint8_t *p, size_t n) {
    int l = 0;
    if (!EVP_EncryptInit_ex(x->ctx, NULL, NULL, NULL, iv)) return false;
    return n == 0 || EVP_EncryptUpdate(x->ctx, p, &l, p, (int)n);
}

/* GCM seal: aad1 || aad2 authenticated, p[0, n) encrypted in place, tag to tag_out. */
static bool gcm_seal(rtc_srtp_xform_t *x, const uint8_t iv[12], const uint8_t *aad1, size_t n1,
                     const uint8_t *aad2, size_t n2, uint8_t *p, size_t n, uint8_t *tag_out) {
    int l = 0;
    return EVP_EncryptInit_ex(x->ctx, NULL, NULL, NULL, iv) &&
           EVP_EncryptUpdate(x->ctx, NULL, &l, aad1, (int)n1) &&
           (n2 == 0 || EVP_EncryptUpdate(x->ctx, NULL, &l, aad2, (int)n2)) &&
           (n == 0 || EVP_EncryptUpdate(x->ctx, p, &l, p, (int)n)) &&
           EVP_EncryptFinal_ex(x->ctx, p + n, &l) &&
           EVP_CIPHER_CTX_ctrl(x->ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag_out);
}

/* GCM open; RTC_OK, RTC_ERR_INTEGRITY (OpenSSL compares the tag in constant time) or
 * RTC_ERR_CRYPTO. */
static int gcm_open(rtc_srtp_xform_t *x, const uint8_t iv[12], const uint8_t *aad1, size_t n1,
                    const uint8_t *aad2, size_t n2, uint8_t *p, size_t n, const uint8_t *tag) {
    int l = 0;
    uint8_t t[GCM_TAG_LEN];
    memcpy(t, tag, sizeof t);
    if (!EVP_DecryptInit_ex(x->ctx, NULL, NULL, NULL, iv) ||
        !EVP_DecryptUpdate(x->ctx, NULL, &l, aad1, (int)n1) ||
        (n2 && !EVP_DecryptUpdate(x->ctx, NULL, &l, aad2, (int)n2)) ||
        (n && !EVP_DecryptUpdate(x->ctx, p, &l, p, (int)n)) ||
        !EVP_CIPHER_CTX_ctrl(x->ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN, t))
        return RTC_ERR_CRYPTO;
    return EVP_DecryptFinal_ex(x->ctx, p + n, &l) > 0 ? RTC_OK : RTC_ERR_INTEGRITY;
}

/* ---- SRTP ---- */

size_t rtc_srtp__xform_rtp_protect(rtc_srtp_xform_t *x, uint8_t *buf, size_t hdr_len, size_t len,
                                   uint32_t ssrc, uint32_t roc, uint16_t seq) {
    uint64_t index = (uint64_t)roc << 16 | seq;
    if (x->gcm) {
        uint8_t iv[12];
        gcm_iv(x, iv, ssrc, index);
        if (!gcm_seal(x, iv, buf, hdr_len, NULL, 0, buf + hdr_len, len - hdr_len, buf + len)) return 0;
        return len + GCM_TAG_LEN;
    }
    uint8_t iv[16], roc_be[4], mac[20];
    cm_iv(x, iv, ssrc, index);
    if (!ctr_xor(x, iv, buf + hdr_len, len - hdr_len)) return 0;
    /* RFC 3711 section 4.2: the tag covers the authenticated portion || ROC. */
    rtc_put_be32(roc_be, roc);
    if (!hmac(x, buf, len, roc_be, 4, mac)) return 0;
    memcpy(buf + len, mac, x->tag_len);
    return len + x->tag_len;
}

int rtc_srtp__xform_rtp_unprotect(rtc_srtp_xform_t *x, uint8_t *buf, size_t hdr_len, size_t len,
                                  uint32_t ssrc, uint32_t roc, uint16_t seq) {
    uint64_t index = (uint64_t)roc << 16 | seq;
    size_t n = len - x->tag_len; /* end of the ciphertext */
    if (x->gcm) {
        uint8_t iv[12];
        gcm_iv(x, iv, ssrc, index);
        return gcm_open(x, iv, buf, hdr_len, NULL, 0, buf + hdr_len, n - hdr_len, buf + n);
    }
    uint8_t iv[16], roc_be[4], mac[20];
    rtc_put_be32(roc_be, roc);
    if (!hmac(x, buf, n, roc_be, 4, mac)) return RTC_ERR_CRYPTO;
    if (CRYPTO_memcmp(mac, buf + n, x->tag_len) != 0) return RTC_ERR_INTEGRITY;
    cm_iv(x, iv, ssrc, index);
    return ctr_xor(x, iv, buf + hdr_len, n - hdr_len) ? RTC_OK : RTC_ERR_CRYPTO;
}

/* ---- SRTCP ---- */

uint32_t rtc_srtp__rtcp_trailer(const rtc_srtp_xform_t *x, const uint8_t *buf, size_t len) {
    /* GCM (RFC 7714 section 9.2): ... tag || E+index. CM (RFC 3711 section 3.4): E+index || tag. */
    return rtc_be32(buf + len - 4 - (x->gcm ? 0 : x->tag_len));
}

size_t rtc_srtp__xform_rtcp_protect(rtc_srtp_xform_t *x, uint8_t *buf, size_t len, uint32_t ssrc,
                                    uint32_t index) {
    uint8_t trailer[4];
    rtc_put_be32(trailer, index | E_FLAG);
    if (x->gcm) {
        uint8_t iv[12];
        gcm_iv(x, iv, ssrc, index);
        /* AAD: the 8-byte header, then the E flag and index (RFC 7714 section 9.3). */
        if (!gcm_seal(x, iv, buf, RTCP_HDR, trailer, 4, buf + RTCP_HDR, len - RTCP_HDR, buf + len))
            return 0;
        memcpy(buf + len + GCM_TAG_LEN, trailer, 4);
        return len + GCM_TAG_LEN + 4;
    }
    uint8_t iv[16], mac[20];
    cm_iv(x, iv, ssrc, index);
    if (!ctr_xor(x, iv, buf + RTCP_HDR, len - RTCP_HDR)) return 0;
    memcpy(buf + len, trailer, 4);
    if (!hmac(x, buf, len + 4, NULL, 0, mac)) return 0;
    memcpy(buf + len + 4, mac, x->tag_len);
    return len + 4 + x->tag_len;
}

int rtc_srtp__xform_rtcp_unprotect(rtc_srtp_xform_t *x, uint8_t *buf, size_t len, uint32_t ssrc,
                                   uint32_t e_index) {
    uint32_t index = e_index & ~E_FLAG;
    bool encrypted = (e_index & E_FLAG) != 0;
    if (x->gcm) {
        size_t n = len - 4 - GCM_TAG_LEN; /* end of the (cipher)text */
        uint8_t iv[12], trailer[4];
        memcpy(trailer, buf + len - 4, 4);
        gcm_iv(x, iv, ssrc, index);
        if (encrypted)
            return gcm_open(x, iv, buf, RTCP_HDR, trailer, 4, buf + RTCP_HDR, n - RTCP_HDR, buf + n);
        /* Sent in the clear: the whole packet and the trailer are AAD (RFC 7714 section 9.3). */
        return gcm_open(x, iv, buf, n, trailer, 4, buf + n, 0, buf + n);
    }
    size_t n = len - x->tag_len; /* end of the authenticated portion (trailer included) */
    uint8_t iv[16], mac[20];
    if (!hmac(x, buf, n, NULL, 0, mac)) return RTC_ERR_CRYPTO;
    if (CRYPTO_memcmp(mac, buf + n, x->tag_len) != 0) return RTC_ERR_INTEGRITY;
    if (!encrypted) return RTC_OK;
    cm_iv(x, iv, ssrc, index);
    return ctr_xor(x, iv, buf + RTCP_HDR, n - 4 - RTCP_HDR) ? RTC_OK : RTC_ERR_CRYPTO;
}
