/* A TCP (optionally TLS) client connection on libuv, shared by the ICE driver and the
 * PeerConnection runtime for TURN over TCP/TLS. See net/stream_uv.h. */
#include "net/stream_uv.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define LOG "net"

void rtc_uv_tls_contexts_free(rtc_uv_tls_contexts_t *c) {
    if (!c) return;
    SSL_CTX_free(c->verify);
    SSL_CTX_free(c->insecure);
    c->verify = c->insecure = NULL;
}

static SSL_CTX *tls_context(rtc_uv_tls_contexts_t *c, bool verify) {
    void **slot = verify ? &c->verify : &c->insecure;
    if (*slot) return *slot;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_default_verify_paths(ctx);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    *slot = ctx;
    return ctx;
}

static void on_closed(uv_handle_t *h) {
    rtc_uv_stream_t *s = h->data;
    if (s->cb.on_freed) s->cb.on_freed(s->user, s);
    if (s->ssl) SSL_free(s->ssl); /* frees both BIOs */
    free(s);
}

static void begin_close(rtc_uv_stream_t *s) {
    if (s->closing) return;
    s->closing = true;
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

void rtc_uv_stream_close(rtc_uv_stream_t *s) {
    if (s) begin_close(s);
}

/* Failure seen here: close, then tell the owner (once, and never after it closed it). */
static void stream_fail(rtc_uv_stream_t *s, const char *why) {
    if (s->closing) return;
    s->failed = true;
    begin_close(s);
    RTC_LOGI(LOG, "stream to %s closed: %s", rtc_addr_str(&s->remote), why);
    if (s->cb.on_failed) s->cb.on_failed(s->user, s, why);
}

static void on_written(uv_write_t *req, int status) {
    (void)status; /* a failed write shows up as a read error */
    free(req);
}

static int tcp_write(rtc_uv_stream_t *s, const uint8_t *p, size_t n) {
    if (s->closing) return RTC_ERR_STATE;
    if (n == 0) return RTC_OK;
    uv_write_t *req = malloc(sizeof *req + n);
    if (!req) return RTC_ERR_NOMEM;
    uint8_t *copy = (uint8_t *)(req + 1);
    memcpy(copy, p, n);
    uv_buf_t buf = uv_buf_init((char *)copy, (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&s->tcp, &buf, 1, on_written) != 0) {
        free(req);
        return RTC_ERR_IO;
    }
    return RTC_OK;
}

/* Moves whatever TLS produced for the network onto the TCP connection. */
static void tls_flush(rtc_uv_stream_t *s) {
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(s->wbio, buf, sizeof buf)) > 0) tcp_write(s, buf, (size_t)n);
}

int rtc_uv_stream_write(rtc_uv_stream_t *s, const uint8_t *p, size_t n) {
    if (!s || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (s->closing || !s->connected) return RTC_ERR_STATE;
    if (!s->ssl) return tcp_write(s, p, n);
    if (n == 0) return RTC_OK;
    if (SSL_write(s->ssl, p, (int)n) <= 0) {
        stream_fail(s, "TLS write failed");
        return RTC_ERR_IO;
    }
    tls_flush(s);
    return RTC_OK;
}

static void connected(rtc_uv_stream_t *s) {
    s->connected = true;
    if (s->cb.on_connected) s->cb.on_connected(s->user, s);
}

static void tls_handshake(rtc_uv_stream_t *s) {
    int r = SSL_do_handshake(s->ssl);
    tls_flush(s);
    if (r == 1) {
        connected(s);
        return;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char why[200];
        unsigned long err = ERR_get_error();
        long v = SSL_get_verify_result(s->ssl);
        snprintf(why, sizeof why, "TLS handshake failed: %s%s%s", err ? ERR_reason_error_string(err) : "error",
                 v != X509_V_OK ? ", certificate: " : "", v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        ERR_clear_error();
        stream_fail(s, why);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    rtc_uv_stream_t *s = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)s->rbuf, sizeof s->rbuf);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
    rtc_uv_stream_t *s = h->data;
    if (nread == 0 || s->closing) return;
    if (nread < 0) {
        stream_fail(s, nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
        return;
    }
    if (!s->ssl) {
        if (s->cb.on_data) s->cb.on_data(s->user, s, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    BIO_write(s->rbio, buf->base, (int)nread);
    if (!s->connected) {
        tls_handshake(s);
        if (!s->connected || s->closing) return;
    }
    uint8_t plain[16384];
    int n = 0;
    while (!s->closing && (n = SSL_read(s->ssl, plain, sizeof plain)) > 0)
        if (s->cb.on_data) s->cb.on_data(s->user, s, plain, (size_t)n);
    if (s->closing) return;
    int e = SSL_get_error(s->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN) {
        stream_fail(s, "TLS closed by the server");
        return;
    }
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        stream_fail(s, "TLS read failed");
        return;
    }
    tls_flush(s); /* TLS may answer (key updates, alerts) */
}

static void on_connect(uv_connect_t *req, int status) {
    rtc_uv_stream_t *s = req->data;
    if (s->closing) return;
    if (status < 0) {
        stream_fail(s, uv_strerror(status));
        return;
    }
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (s->ssl) tls_handshake(s);
    else connected(s);
}

static bool tls_setup(rtc_uv_stream_t *s, const rtc_uv_stream_options_t *o) {
    if (!o->contexts) return false;
    bool verify = !o->tls_no_verify;
    SSL_CTX *ctx = tls_context(o->contexts, verify);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!ssl || !rbio || !wbio) {
        SSL_free(ssl);
        BIO_free(rbio);
        BIO_free(wbio);
        return false;
    }
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    s->ssl = ssl;
    s->rbio = rbio;
    s->wbio = wbio;
    if (o->tls_name && o->tls_name[0]) {
        SSL_set_tlsext_host_name(ssl, o->tls_name);
        if (verify) SSL_set1_host(ssl, o->tls_name);
    } else if (verify) {
        /* No name (ICE server URLs carry literal IPs): the certificate must name the IP. */
        char ip[64];
        if (rtc_addr_format_ip(&s->remote, ip, sizeof ip) < 0 ||
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1)
            return false;
    }
    return true;
}

rtc_uv_stream_t *rtc_uv_stream_open(uv_loop_t *loop, int tag, const rtc_addr_t *local, const rtc_addr_t *remote,
                                    const rtc_uv_stream_options_t *opts, const rtc_uv_stream_callbacks_t *cb,
                                    void *user) {
    if (!loop || !local || !remote || !opts || !cb) return NULL;
    struct sockaddr_storage lss, rss;
    rtc_addr_t bind = *local;
    bind.port = 0;
    if (rtc_addr_to_sockaddr(&bind, &lss, sizeof lss) < 0 || rtc_addr_to_sockaddr(remote, &rss, sizeof rss) < 0)
        return NULL;
    rtc_uv_stream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->tag = tag;
    s->cb = *cb;
    s->user = user;
    s->remote = *remote;
    if (opts->tls && !tls_setup(s, opts)) {
        if (s->ssl) SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    if (uv_tcp_init(loop, &s->tcp) != 0) {
        if (s->ssl) SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    s->tcp.data = s;
    s->connect.data = s;
    if (uv_tcp_bind(&s->tcp, (struct sockaddr *)&lss, 0) != 0 ||
        uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&rss, on_connect) != 0) {
        /* on_freed must not run for a stream the caller never got: close silently. */
        s->cb.on_freed = NULL;
        begin_close(s);
        return NULL;
    }
    RTC_LOGD(LOG, "connecting to %s over %s", rtc_addr_str(remote), s->ssl ? "TLS" : "TCP");
    return s;
}
