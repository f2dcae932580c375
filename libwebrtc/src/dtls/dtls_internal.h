/* Internal to src/dtls: the certificate object and the OpenSSL context it carries. */
#ifndef RTC_DTLS_INTERNAL_H
#define RTC_DTLS_INTERNAL_H

#include <stdatomic.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rtc/dtls.h"

struct rtc_dtls_cert {
    atomic_int refs;
    X509 *x509;
    EVP_PKEY *pkey;
    /* One SSL_CTX per certificate, shared read-only by every endpoint using it: SSL_new from
     * many threads on one context is safe, and per-session options are set on the SSL. */
    SSL_CTX *ctx;
};

/* Builds the DTLS context for a certificate (dtls.c owns the verification callback). */
SSL_CTX *rtc_dtls__new_ctx(X509 *x509, EVP_PKEY *pkey);

/* Digest of a DER certificate as a fingerprint. */
int rtc_dtls__x509_fingerprint(X509 *x, rtc_digest_t alg, rtc_dtls_fingerprint_t *out);

/* Logs and clears OpenSSL's error queue for this thread; returns the first error code. */
unsigned long rtc_dtls__log_ssl_errors(const char *what, const char *id);

#endif
