/* DTLS certificates: ECDSA P-256 self-signed generation, PEM load/save, fingerprints.
 * A certificate is immutable after creation and reference-counted so that an SFU can make
 * one at start-up and hand it to thousands of endpoints on several threads. */
#include "dtls/dtls_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const EVP_MD *md_for(rtc_digest_t alg) {
    switch (alg) {
    case RTC_DIGEST_SHA1: return EVP_sha1();
    case RTC_DIGEST_SHA256: return EVP_sha256();
    case RTC_DIGEST_SHA384: return EVP_sha384();
    case RTC_DIGEST_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

int rtc_dtls__x509_fingerprint(X509 *x, rtc_digest_t alg, rtc_dtls_fingerprint_t *out) {
    const EVP_MD *md = md_for(alg);
    if (!x || !out || !md) return RTC_ERR_INVALID_ARG;
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(x, md, buf, &len) != 1 || len != rtc_digest_len(alg)) {
        rtc_dtls__log_ssl_errors("X509_digest", NULL);
        return RTC_ERR_CRYPTO;
    }
    memset(out, 0, sizeof *out);
    out->alg = alg;
    out->len = (uint8_t)len;
    memcpy(out->value, buf, len);
    return RTC_OK;
}

/* Takes ownership of x509 and pkey (freed on failure too). */
static int cert_wrap(X509 *x509, EVP_PKEY *pkey, rtc_dtls_cert_t **out) {
    rtc_dtls_cert_t *c = calloc(1, sizeof *c);
    SSL_CTX *ctx = c ? rtc_dtls__new_ctx(x509, pkey) : NULL;
    if (!c || !ctx) {
        free(c);
        X509_free(x509);
        EVP_PKEY_free(pkey);
        return c ? RTC_ERR_CRYPTO : RTC_ERR_NOMEM;
    }
    atomic_init(&c->refs, 1);
    c->x509 = x509;
    c->pkey = pkey;
    c->ctx = ctx;
    *out = c;
    return RTC_OK;
}

int rtc_dtls_cert_generate(const char *common_name, unsigned valid_days, rtc_dtls_cert_t **out) {
    if (!out) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    if (!common_name) common_name = "starling";
    if (valid_days == 0) valid_days = 30;
    if (valid_days > 3650) return RTC_ERR_INVALID_ARG;

    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    uint8_t rnd[8];
    int ok = pkey && x && serial && rtc_random_bytes(rnd, sizeof rnd) == RTC_OK;
    if (ok) {
        rnd[0] &= 0x7f; /* a positive serial */
        rnd[0] |= 0x01; /* and a non-zero one */
        X509_NAME *name = X509_get_subject_name(x);
        ok = X509_set_version(x, X509_VERSION_3) == 1 && BN_bin2bn(rnd, sizeof rnd, serial) &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -86400L) &&
             X509_gmtime_adj(X509_getm_notAfter(x), (long)valid_days * 86400L) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)common_name, -1, -1, 0) == 1 &&
             X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, pkey) == 1 &&
             X509_sign(x, pkey, EVP_sha256()) > 0;
    }
    BN_free(serial);
    if (!ok) {
        rtc_dtls__log_ssl_errors("certificate generation", NULL);
        X509_free(x);
        EVP_PKEY_free(pkey);
        return RTC_ERR_CRYPTO;
    }
    return cert_wrap(x, pkey, out);
}

int rtc_dtls_cert_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                           size_t key_len, rtc_dtls_cert_t **out) {
    if (!out || !cert_pem || !key_pem || cert_len > INT32_MAX || key_len > INT32_MAX)
        return RTC_ERR_INVALID_ARG;
    *out = NULL;
    BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
    BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    BIO_free(cb);
    BIO_free(kb);
    if (!x || !k) {
        rtc_dtls__log_ssl_errors("PEM certificate/key", NULL);
        X509_free(x);
        EVP_PKEY_free(k);
        return RTC_ERR_MALFORMED;
    }
    if (X509_check_private_key(x, k) != 1) {
        rtc_dtls__log_ssl_errors("certificate and key do not match", NULL);
        X509_free(x);
        EVP_PKEY_free(k);
        return RTC_ERR_INVALID_ARG;
    }
    return cert_wrap(x, k, out);
}

static int read_file(const char *path, rtc_buf_t *b) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        RTC_LOGW("dtls", "cannot open %s: %s", path, strerror(errno));
        return RTC_ERR_IO;
    }
    char chunk[4096];
    size_t n;
    int r = RTC_OK;
    while (r == RTC_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        r = rtc_buf_append(b, chunk, n);
        if (b->len > (1u << 20)) r = RTC_ERR_LIMIT; /* no PEM certificate is this large */
    }
    if (r == RTC_OK && ferror(f)) r = RTC_ERR_IO;
    fclose(f);
    return r;
}

int rtc_dtls_cert_load_files(const char *cert_path, const char *key_path, rtc_dtls_cert_t **out) {
    if (!cert_path || !key_path || !out) return RTC_ERR_INVALID_ARG;
    rtc_buf_t c, k;
    rtc_buf_init(&c);
    rtc_buf_init(&k);
    int r = read_file(cert_path, &c);
    if (r == RTC_OK) r = read_file(key_path, &k);
    if (r == RTC_OK)
        r = rtc_dtls_cert_from_pem((const char *)c.data, c.len, (const char *)k.data, k.len, out);
    rtc_buf_free(&c);
    rtc_buf_free(&k);
    return r;
}

static int bio_to_buf(BIO *b, rtc_buf_t *out) {
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0 || !p) return RTC_ERR_CRYPTO;
    return rtc_buf_append(out, p, (size_t)n);
}

int rtc_dtls_cert_to_pem(const rtc_dtls_cert_t *c, rtc_buf_t *cert_pem, rtc_buf_t *key_pem) {
    if (!c || !cert_pem) return RTC_ERR_INVALID_ARG;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return RTC_ERR_NOMEM;
    int r = PEM_write_bio_X509(b, c->x509) == 1 ? bio_to_buf(b, cert_pem) : RTC_ERR_CRYPTO;
    if (r == RTC_OK && key_pem) {
        (void)BIO_reset(b);
        r = PEM_write_bio_PrivateKey(b, c->pkey, NULL, NULL, 0, NULL, NULL) == 1
                ? bio_to_buf(b, key_pem)
                : RTC_ERR_CRYPTO;
    }
    BIO_free(b);
    return r;
}

int rtc_dtls_cert_fingerprint(const rtc_dtls_cert_t *c, rtc_digest_t alg, rtc_dtls_fingerprint_t *out) {
    if (!c) return RTC_ERR_INVALID_ARG;
    return rtc_dtls__x509_fingerprint(c->x509, alg, out);
}

rtc_dtls_cert_t *rtc_dtls_cert_ref(rtc_dtls_cert_t *c) {
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void rtc_dtls_cert_unref(rtc_dtls_cert_t *c) {
    if (!c) return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    SSL_CTX_free(c->ctx);
    X509_free(c->x509);
    EVP_PKEY_free(c->pkey);
    free(c);
}
