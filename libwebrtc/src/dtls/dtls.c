/* DTLS 1.2 endpoint: OpenSSL 3 behind a datagram BIO of our own, driven sans-I/O.
 *
 * Datagrams. The BIO hands OpenSSL exactly one received datagram per read (pointing at the
 * caller's buffer, no copy) and collects what OpenSSL writes into a "current datagram". It
 * reports that datagram's size as BIO_wpending, which is how OpenSSL packs several records
 * (e.g. a whole flight) into one datagram up to the MTU; the end of every call into us, or a
 * record that would not fit, closes the datagram and queues it for rtc_dtls_poll_transmit.
 *
 * Timers. OpenSSL's DTLS timer reads gettimeofday() itself; a sans-I/O layer must instead
 * retransmit when the caller's clock says so (tests run a fake clock). So:
 *   - OpenSSL announces every start and stop of its timer to the BIO
 *     (BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT with the deadline, zero when stopped). We mirror that
 *     into our own timer: armed at now + rto on start, disarmed and reset on stop.
 *   - DTLS_set_timer_cb makes every OpenSSL timeout an hour long, so OpenSSL never decides
 *     on its own (it would otherwise retransmit from inside SSL_read whenever *its* clock
 *     said so).
 *   - When our timer fires we double rto (capped, RFC 6347 4.2.4.1), mark OpenSSL's timer as
 *     expired and call DTLSv1_handle_timeout, which retransmits the buffered flight. Marking
 *     it expired writes through the pointer OpenSSL passes with SET_NEXT_TIMEOUT, which in
 *     OpenSSL 3.0 and 3.1 is the session's own `next_timeout` field. From 3.2 the pointer is
 *     to a temporary, so we never keep it there: on those versions the timer callback
 *     returns our rto instead, and retransmission also waits for OpenSSL's clock (correct on
 *     a real clock, not controllable by a fake one). Debian 12 ships 3.0.
 */
#include "dtls/dtls_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/srtp.h>

#define DTLS_DEFAULT_MTU 1200
#define DTLS_MIN_MTU 256
#define DTLS_MAX_MTU 65535
#define DTLS_TX_QUEUE_MAX 512
#define DTLS_RX_QUEUE_MAX 4096 /* records; bytes are capped by cfg.recv_queue_limit */
#define DTLS_EVENT_RING 32
#define DTLS_EVENT_ALERT_MAX 24 /* leave room for state events when a peer floods alerts */
#define OSSL_TIMER_PARKED_US 3600000000u

#define DTLS_CIPHERS                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                              \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                              \
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"

typedef struct pkt {
    struct pkt *next;
    size_t len;
    uint8_t data[];
} pkt_t;

typedef struct {
    pkt_t *head, *tail;
    size_t count, bytes;
} pktq_t;

struct rtc_dtls {
    rtc_dtls_config_t cfg;
    char id[48];
    SSL *ssl;
    rtc_dtls_state_t state;
    int error;
    bool hs_done;         /* OpenSSL finished the handshake */
    bool peer_verified;   /* peer certificate matched a remote fingerprint */
    bool fp_mismatch;     /* ... or did not */
    bool got_fatal_alert;
    bool was_connected;
    rtc_time_t now;
    rtc_time_t start_time;

    /* Retransmission timer (see "Timers" above). */
    bool timer_writable;          /* OpenSSL 3.0/3.1: SET_NEXT_TIMEOUT points at the session */
    struct timeval *ossl_next_timeout;
    bool rtx_armed;
    rtc_time_t rtx_deadline;
    rtc_time_t rto;

    /* The datagram being fed in (valid only during handle_datagram). */
    const uint8_t *in_p;
    size_t in_n;

    rtc_buf_t cur; /* datagram being assembled from OpenSSL's writes */
    pktq_t txq, rxq;
    rtc_dtls_event_t events[DTLS_EVENT_RING];
    unsigned ev_head, ev_count;

    uint16_t srtp_profile;
    bool have_keys;
    rtc_dtls_srtp_keys_t keys;
    rtc_dtls_stats_t stats;
};

/* ------------------------------------------------------------------------------------------
 * Small queues.
 */
static int pktq_push(pktq_t *q, const uint8_t *p, size_t n) {
    pkt_t *k = malloc(sizeof *k + n);
    if (!k) return RTC_ERR_NOMEM;
    k->next = NULL;
    k->len = n;
    if (n) memcpy(k->data, p, n);
    if (q->tail) q->tail->next = k;
    else q->head = k;
    q->tail = k;
    q->count++;
    q->bytes += n;
    return RTC_OK;
}

static void pktq_pop(pktq_t *q) {
    pkt_t *k = q->head;
    if (!k) return;
    q->head = k->next;
    if (!q->head) q->tail = NULL;
    q->count--;
    q->bytes -= k->len;
    free(k);
}

static void pktq_clear(pktq_t *q) {
    while (q->head) pktq_pop(q);
}

static void push_event(rtc_dtls_t *d, const rtc_dtls_event_t *ev) {
    if (ev->type == RTC_DTLS_EVENT_ALERT && d->ev_count >= DTLS_EVENT_ALERT_MAX) return;
    if (d->ev_count == DTLS_EVENT_RING) { /* drop the oldest; only alerts can flood */
        d->ev_head = (d->ev_head + 1) % DTLS_EVENT_RING;
        d->ev_count--;
    }
    d->events[(d->ev_head + d->ev_count) % DTLS_EVENT_RING] = *ev;
    d->ev_count++;
}

static void push_simple_event(rtc_dtls_t *d, rtc_dtls_event_type_t type, int error) {
    rtc_dtls_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.error = error;
    push_event(d, &ev);
}

unsigned long rtc_dtls__log_ssl_errors(const char *what, const char *id) {
    unsigned long first = ERR_peek_error();
    char buf[256] = "no OpenSSL error";
    if (first) ERR_error_string_n(first, buf, sizeof buf);
    RTC_LOGW("dtls", "%s%s%s: %s", id ? id : "", id ? " " : "", what, buf);
    ERR_clear_error();
    return first;
}

/* ------------------------------------------------------------------------------------------
 * Output datagrams.
 */
static void close_datagram(rtc_dtls_t *d) {
    if (d->cur.len == 0) return;
    if (d->txq.count >= DTLS_TX_QUEUE_MAX || pktq_push(&d->txq, d->cur.data, d->cur.len) != RTC_OK) {
        d->stats.transmit_queue_dropped++;
        RTC_LOGW("dtls", "%s transmit queue full, datagram of %zu bytes dropped", d->id, d->cur.len);
    }
    rtc_buf_clear(&d->cur);
}

/* ------------------------------------------------------------------------------------------
 * Timer.
 */
static void on_ossl_timer(rtc_dtls_t *d, void *ptr) {
    const struct timeval *tv = ptr;
    bool running = tv && (tv->tv_sec != 0 || tv->tv_usec != 0);
    d->ossl_next_timeout = d->timer_writable ? (struct timeval *)ptr : NULL;
    if (!running) {
        d->rtx_armed = false;
        d->rto = d->cfg.initial_rto;
    } else if (!d->rtx_armed) {
        d->rtx_armed = true;
        d->rtx_deadline = d->now + d->rto;
    }
}

static unsigned int timer_cb(SSL *s, unsigned int prev_us) {
    (void)prev_us;
    rtc_dtls_t *d = SSL_get_app_data(s);
    if (!d) return 1000000;
    if (d->timer_writable) return OSSL_TIMER_PARKED_US;
    return d->rto > (rtc_time_t)UINT_MAX ? UINT_MAX : (unsigned int)d->rto;
}

static bool ossl_timer_writable(void) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L && OPENSSL_VERSION_NUMBER < 0x30200000L
    unsigned long v = OpenSSL_version_num();
    return v >= 0x30000000UL && v < 0x30200000UL;
#else
    return false;
#endif
}

/* ------------------------------------------------------------------------------------------
 * The datagram BIO.
 */
static int bio_write(BIO *b, const char *data, int len) {
    rtc_dtls_t *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d || len <= 0) return 0;
    /* OpenSSL keeps handshake records within the MTU using BIO_wpending; an alert or a CCS
     * written after them may not fit, so start a new datagram rather than exceed it. */
    if (d->cur.len > 0 && d->cur.len + (size_t)len > d->cfg.mtu) close_datagram(d);
    if (rtc_buf_append(&d->cur, data, (size_t)len) != RTC_OK) return -1;
    return len;
}

static int bio_read(BIO *b, char *out, int outl) {
    rtc_dtls_t *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d || !d->in_p || outl <= 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = d->in_n < (size_t)outl ? d->in_n : (size_t)outl;
    memcpy(out, d->in_p, n);
    d->in_p = NULL;
    d->in_n = 0;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num;
    rtc_dtls_t *d = BIO_get_data(b);
    if (!d) return 0;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        /* Ignored: OpenSSL flushes after every retransmitted message and after alerts, which
         * would send a flight as many small datagrams, each one more chance to lose it. We
         * close the datagram at the end of every call into this layer instead, and bio_write
         * starts a new one whenever a record would not fit. */
        return 1;
    case BIO_CTRL_WPENDING:
        return (long)d->cur.len;
    case BIO_CTRL_PENDING:
        return d->in_p ? (long)d->in_n : 0;
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
        on_ossl_timer(d, ptr);
        return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        return 28; /* IPv4 + UDP; only used by DTLS_set_link_mtu, which we do not call */
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return (long)d->cfg.mtu;
    default:
        return 0;
    }
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void) {
    int idx = BIO_get_new_index();
    if (idx == -1) return;
    BIO_METHOD *m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "rtc-dtls-datagram");
    if (!m) return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m; /* lives for the process */
}

/* ------------------------------------------------------------------------------------------
 * Certificate verification against the SDP fingerprint.
 */
static bool cert_matches(const rtc_dtls_t *d, X509 *peer) {
    for (size_t i = 0; i < d->cfg.n_remote_fingerprints; i++) {
        const rtc_dtls_fingerprint_t *want = &d->cfg.remote_fingerprints[i];
        rtc_dtls_fingerprint_t got;
        if (rtc_dtls__x509_fingerprint(peer, want->alg, &got) == RTC_OK &&
            rtc_dtls_fingerprint_equal(&got, want))
            return true;
    }
    return false;
}

/* Replaces OpenSSL's chain verification: WebRTC certificates are self-signed and are
 * authenticated only by the fingerprint the peer announced in SDP. */
static int verify_cb(X509_STORE_CTX *xs, void *arg) {
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    rtc_dtls_t *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *peer = X509_STORE_CTX_get0_cert(xs);
    if (!d || !peer) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (d->cfg.n_remote_fingerprints == 0) return 1; /* decided when the fingerprint arrives */
    if (cert_matches(d, peer)) {
        d->peer_verified = true;
        return 1;
    }
    d->fp_mismatch = true;
    RTC_LOGW("dtls", "%s peer certificate does not match its SDP fingerprint", d->id);
    X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED); /* alert bad_certificate */
    return 0;
}

static void info_cb(const SSL *s, int where, int ret) {
    rtc_dtls_t *d = SSL_get_app_data(s);
    if (!d || !(where & SSL_CB_ALERT)) return;
    rtc_dtls_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = RTC_DTLS_EVENT_ALERT;
    ev.alert_sent = (where & SSL_CB_WRITE) != 0;
    ev.alert_level = (uint8_t)((ret >> 8) & 0xff);
    ev.alert_description = (uint8_t)(ret & 0xff);
    if (!ev.alert_sent && ev.alert_level == 2) d->got_fatal_alert = true;
    if (ev.alert_description != 0 || ev.alert_level == 2)
        RTC_LOGI("dtls", "%s alert %s: %s %s", d->id, ev.alert_sent ? "sent" : "received",
                 ev.alert_level == 2 ? "fatal" : "warning", rtc_dtls_alert_name(ev.alert_description));
    push_event(d, &ev);
}

SSL_CTX *rtc_dtls__new_ctx(X509 *x509, EVP_PKEY *pkey) {
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    if (!ctx) return NULL;
    int ok = SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1 &&
             SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) == 1 &&
             SSL_CTX_use_certificate(ctx, x509) == 1 && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
             SSL_CTX_check_private_key(ctx) == 1 && SSL_CTX_set_cipher_list(ctx, DTLS_CIPHERS) == 1;
    if (!ok) {
        rtc_dtls__log_ssl_errors("SSL_CTX setup", NULL);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* No resumption (every WebRTC session is a fresh full handshake), no renegotiation. We
     * set the MTU ourselves, so OpenSSL must not query the BIO for one. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cb, NULL);
    return ctx;
}

/* ------------------------------------------------------------------------------------------
 * State changes.
 */
static void fail(rtc_dtls_t *d, int err, const char *why) {
    if (d->state == RTC_DTLS_STATE_FAILED || d->state == RTC_DTLS_STATE_CLOSED) return;
    d->state = RTC_DTLS_STATE_FAILED;
    d->error = err;
    d->rtx_armed = false;
    pktq_clear(&d->rxq);
    RTC_LOGW("dtls", "%s failed: %s (%s)", d->id, why, rtc_strerror(err));
    push_simple_event(d, RTC_DTLS_EVENT_FAILED, err);
}

static void fail_from_ssl(rtc_dtls_t *d, const char *what) {
    unsigned long e = ERR_peek_error();
    int err = RTC_ERR_CRYPTO;
    if (d->fp_mismatch) err = RTC_ERR_FINGERPRINT;
    else if (d->got_fatal_alert) err = RTC_ERR_PROTOCOL;
    else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_READ_TIMEOUT_EXPIRED)
        err = RTC_ERR_TIMEOUT;
    char buf[256] = "no OpenSSL error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    char why[320];
    snprintf(why, sizeof why, "%s: %s", what, buf);
    fail(d, err, why);
}

static void key_lengths(uint16_t profile, uint8_t *key_len, uint8_t *salt_len) {
    *key_len = 16;
    *salt_len = profile == RTC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
}

static int export_srtp_keys(rtc_dtls_t *d) {
    rtc_dtls_srtp_keys_t *k = &d->keys;
    memset(k, 0, sizeof *k);
    k->profile = d->srtp_profile;
    key_lengths(k->profile, &k->key_len, &k->salt_len);
    /* RFC 5764 4.2: client_write_key | server_write_key | client_salt | server_salt. */
    uint8_t km[2 * (16 + 14)];
    size_t kl = k->key_len, sl = k->salt_len, total = 2 * (kl + sl);
    static const char label[] = "EXTRACTOR-dtls_srtp";
    if (SSL_export_keying_material(d->ssl, km, total, label, sizeof label - 1, NULL, 0, 0) != 1) {
        rtc_dtls__log_ssl_errors("SRTP key export", d->id);
        return RTC_ERR_CRYPTO;
    }
    memcpy(k->client_key, km, kl);
    memcpy(k->server_key, km + kl, kl);
    memcpy(k->client_salt, km + 2 * kl, sl);
    memcpy(k->server_salt, km + 2 * kl + sl, sl);
    bool client = d->cfg.role == RTC_DTLS_ROLE_CLIENT;
    memcpy(k->local_key, client ? k->client_key : k->server_key, kl);
    memcpy(k->local_salt, client ? k->client_salt : k->server_salt, sl);
    memcpy(k->remote_key, client ? k->server_key : k->client_key, kl);
    memcpy(k->remote_salt, client ? k->server_salt : k->client_salt, sl);
    OPENSSL_cleanse(km, sizeof km);
    d->have_keys = true;
    return RTC_OK;
}

static void become_connected(rtc_dtls_t *d) {
    if (d->srtp_profile && export_srtp_keys(d) != RTC_OK) {
        fail(d, RTC_ERR_CRYPTO, "SRTP keying material export failed");
        return;
    }
    d->state = RTC_DTLS_STATE_CONNECTED;
    d->was_connected = true;
    RTC_LOGI("dtls", "%s connected as %s: %s, srtp profile 0x%04x", d->id,
             d->cfg.role == RTC_DTLS_ROLE_CLIENT ? "client" : "server",
             rtc_dtls_cipher(d) ? rtc_dtls_cipher(d) : "?", d->srtp_profile);
    push_simple_event(d, RTC_DTLS_EVENT_CONNECTED, RTC_OK);
}

/* The handshake finished but the certificate was not checked yet (no fingerprint then). */
static void verify_late(rtc_dtls_t *d) {
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (peer && cert_matches(d, peer)) {
        d->peer_verified = true;
        become_connected(d);
        return;
    }
    d->fp_mismatch = true;
    /* The session exists, so the peer at least learns we are gone. */
    ERR_clear_error();
    (void)SSL_shutdown(d->ssl);
    ERR_clear_error();
    fail(d, RTC_ERR_FINGERPRINT, "peer certificate does not match its SDP fingerprint");
}

static void on_handshake_done(rtc_dtls_t *d) {
    d->hs_done = true;
    const SRTP_PROTECTION_PROFILE *p = d->cfg.no_srtp ? NULL : SSL_get_selected_srtp_profile(d->ssl);
    d->srtp_profile = p ? (uint16_t)p->id : 0;
    if (d->peer_verified) {
        become_connected(d);
    } else if (d->cfg.n_remote_fingerprints > 0) {
        verify_late(d);
    } else {
        RTC_LOGI("dtls", "%s handshake done; waiting for the remote fingerprint", d->id);
    }
}

static void enqueue_app_data(rtc_dtls_t *d, const uint8_t *p, size_t n) {
    d->stats.records_received++;
    if (d->rxq.bytes + n > d->cfg.recv_queue_limit || d->rxq.count >= DTLS_RX_QUEUE_MAX ||
        pktq_push(&d->rxq, p, n) != RTC_OK) {
        if (d->stats.recv_queue_dropped++ == 0)
            RTC_LOGW("dtls", "%s receive queue full (%zu bytes); dropping records", d->id, d->rxq.bytes);
    }
}

static void on_peer_closed(rtc_dtls_t *d) {
    RTC_LOGI("dtls", "%s peer sent close_notify", d->id);
    ERR_clear_error();
    (void)SSL_shutdown(d->ssl); /* answer with our own close_notify */
    ERR_clear_error();
    d->state = RTC_DTLS_STATE_CLOSED;
    d->rtx_armed = false;
    push_simple_event(d, RTC_DTLS_EVENT_CLOSED, RTC_OK);
}

static void read_app_data(rtc_dtls_t *d) {
    uint8_t buf[RTC_DTLS_MAX_APP_DATA];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(d->ssl, buf, sizeof buf);
        if (r > 0) {
            enqueue_app_data(d, buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        if (e == SSL_ERROR_ZERO_RETURN) on_peer_closed(d);
        else fail_from_ssl(d, "SSL_read");
        return;
    }
}

/* Runs OpenSSL on whatever input is staged and collects its output. */
static void drive(rtc_dtls_t *d) {
    if (d->state != RTC_DTLS_STATE_CONNECTING && d->state != RTC_DTLS_STATE_CONNECTED) return;
    if (!d->hs_done) {
        ERR_clear_error();
        int r = SSL_do_handshake(d->ssl);
        if (r == 1) {
            on_handshake_done(d);
        } else {
            int e = SSL_get_error(d->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                fail_from_ssl(d, "handshake");
                return;
            }
        }
    }
    if (d->hs_done && (d->state == RTC_DTLS_STATE_CONNECTING || d->state == RTC_DTLS_STATE_CONNECTED))
        read_app_data(d);
}

/* ------------------------------------------------------------------------------------------
 * Public API.
 */
void rtc_dtls_config_init(rtc_dtls_config_t *cfg) {
    if (cfg) memset(cfg, 0, sizeof *cfg);
}

static bool profile_known(uint16_t p) {
    return p == RTC_DTLS_SRTP_AES128_CM_SHA1_80 || p == RTC_DTLS_SRTP_AEAD_AES_128_GCM;
}

static const char *profile_ossl_name(uint16_t p) {
    return p == RTC_DTLS_SRTP_AEAD_AES_128_GCM ? "SRTP_AEAD_AES_128_GCM" : "SRTP_AES128_CM_SHA1_80";
}

int rtc_dtls_create(const rtc_dtls_config_t *cfg, rtc_dtls_t **out) {
    if (!cfg || !out || !cfg->cert || !cfg->cert->ctx) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    if (cfg->role != RTC_DTLS_ROLE_CLIENT && cfg->role != RTC_DTLS_ROLE_SERVER) return RTC_ERR_INVALID_ARG;
    if (cfg->n_srtp_profiles > RTC_DTLS_SRTP_MAX_PROFILES ||
        cfg->n_remote_fingerprints > RTC_DTLS_MAX_REMOTE_FINGERPRINTS)
        return RTC_ERR_INVALID_ARG;
    for (size_t i = 0; i < cfg->n_srtp_profiles; i++)
        if (!profile_known(cfg->srtp_profiles[i])) return RTC_ERR_INVALID_ARG;
    for (size_t i = 0; i < cfg->n_remote_fingerprints; i++)
        if (cfg->remote_fingerprints[i].len != rtc_digest_len(cfg->remote_fingerprints[i].alg))
            return RTC_ERR_INVALID_ARG;
    size_t mtu = cfg->mtu ? cfg->mtu : DTLS_DEFAULT_MTU;
    if (mtu < DTLS_MIN_MTU || mtu > DTLS_MAX_MTU) return RTC_ERR_INVALID_ARG;
    pthread_once(&bio_once, bio_method_init);
    if (!bio_method) return RTC_ERR_CRYPTO;

    rtc_dtls_t *d = calloc(1, sizeof *d);
    if (!d) return RTC_ERR_NOMEM;
    d->cfg = *cfg;
    d->cfg.mtu = mtu;
    d->cfg.log_id = NULL;
    if (!d->cfg.initial_rto) d->cfg.initial_rto = RTC_SEC(1);
    if (!d->cfg.max_rto) d->cfg.max_rto = RTC_SEC(60);
    if (d->cfg.max_rto < d->cfg.initial_rto) d->cfg.max_rto = d->cfg.initial_rto;
    if (!d->cfg.handshake_timeout) d->cfg.handshake_timeout = RTC_SEC(30);
    if (!d->cfg.recv_queue_limit) d->cfg.recv_queue_limit = 1u << 20;
    if (d->cfg.n_srtp_profiles == 0) {
        d->cfg.srtp_profiles[0] = RTC_DTLS_SRTP_AEAD_AES_128_GCM;
        d->cfg.srtp_profiles[1] = RTC_DTLS_SRTP_AES128_CM_SHA1_80;
        d->cfg.n_srtp_profiles = 2;
    }
    snprintf(d->id, sizeof d->id, "[%s]", cfg->log_id ? cfg->log_id : "dtls");
    d->rto = d->cfg.initial_rto;
    d->timer_writable = ossl_timer_writable();
    rtc_buf_init(&d->cur);
    rtc_dtls_cert_ref(cfg->cert);

    d->ssl = SSL_new(cfg->cert->ctx);
    BIO *b = d->ssl ? BIO_new(bio_method) : NULL;
    if (!b) {
        rtc_dtls__log_ssl_errors("SSL_new", d->id);
        rtc_dtls_destroy(d);
        return RTC_ERR_CRYPTO;
    }
    BIO_set_data(b, d);
    BIO_set_init(b, 1);
    SSL_set_bio(d->ssl, b, b);
    SSL_set_app_data(d->ssl, d);
    SSL_set_info_callback(d->ssl, info_cb);
    DTLS_set_timer_cb(d->ssl, timer_cb);
    if (SSL_set_mtu(d->ssl, (long)mtu) <= 0) {
        rtc_dtls__log_ssl_errors("SSL_set_mtu", d->id);
        rtc_dtls_destroy(d);
        return RTC_ERR_INVALID_ARG;
    }
    if (!d->cfg.no_srtp) {
        char list[128] = "";
        for (size_t i = 0; i < d->cfg.n_srtp_profiles; i++) {
            if (i) strcat(list, ":");
            strcat(list, profile_ossl_name(d->cfg.srtp_profiles[i]));
        }
        if (SSL_set_tlsext_use_srtp(d->ssl, list) != 0) { /* 0 is success here */
            rtc_dtls__log_ssl_errors("use_srtp", d->id);
            rtc_dtls_destroy(d);
            return RTC_ERR_CRYPTO;
        }
    }
    if (d->cfg.role == RTC_DTLS_ROLE_CLIENT) SSL_set_connect_state(d->ssl);
    else SSL_set_accept_state(d->ssl);
    *out = d;
    return RTC_OK;
}

void rtc_dtls_destroy(rtc_dtls_t *d) {
    if (!d) return;
    if (d->ssl) {
        SSL_set_app_data(d->ssl, NULL);
        SSL_free(d->ssl); /* frees the BIO */
    }
    pktq_clear(&d->txq);
    pktq_clear(&d->rxq);
    rtc_buf_free(&d->cur);
    OPENSSL_cleanse(&d->keys, sizeof d->keys);
    rtc_dtls_cert_unref(d->cfg.cert);
    free(d);
}

int rtc_dtls_set_remote_fingerprints(rtc_dtls_t *d, const rtc_dtls_fingerprint_t *fps, size_t n,
                                     rtc_time_t now) {
    if (!d || (!fps && n) || n > RTC_DTLS_MAX_REMOTE_FINGERPRINTS) return RTC_ERR_INVALID_ARG;
    if (d->state != RTC_DTLS_STATE_NEW && d->state != RTC_DTLS_STATE_CONNECTING) return RTC_ERR_STATE;
    for (size_t i = 0; i < n; i++)
        if (fps[i].len == 0 || fps[i].len != rtc_digest_len(fps[i].alg)) return RTC_ERR_INVALID_ARG;
    if (n) memcpy(d->cfg.remote_fingerprints, fps, n * sizeof *fps);
    d->cfg.n_remote_fingerprints = n;
    d->now = now;
    if (d->hs_done && n > 0 && !d->peer_verified) {
        verify_late(d);
        close_datagram(d);
    }
    return RTC_OK;
}

int rtc_dtls_start(rtc_dtls_t *d, rtc_time_t now) {
    if (!d) return RTC_ERR_INVALID_ARG;
    if (d->state != RTC_DTLS_STATE_NEW) return RTC_ERR_STATE;
    d->now = now;
    d->start_time = now;
    d->state = RTC_DTLS_STATE_CONNECTING;
    if (d->cfg.role == RTC_DTLS_ROLE_CLIENT) drive(d); /* ClientHello */
    close_datagram(d);
    return RTC_OK;
}

int rtc_dtls_handle_datagram(rtc_dtls_t *d, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!d || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (d->state == RTC_DTLS_STATE_CLOSED || d->state == RTC_DTLS_STATE_FAILED) return RTC_ERR_CLOSED;
    /* RFC 7983: DTLS records start with a content type in 20..63. */
    if (n == 0 || p[0] < 20 || p[0] > 63) {
        d->stats.malformed_dropped++;
        RTC_LOGD("dtls", "%s dropped a %zu-byte datagram that is not DTLS", d->id, n);
        return RTC_ERR_MALFORMED;
    }
    if (d->state == RTC_DTLS_STATE_NEW) {
        if (d->cfg.role == RTC_DTLS_ROLE_CLIENT) return RTC_ERR_STATE;
        rtc_dtls_start(d, now);
    }
    d->now = now;
    d->stats.datagrams_received++;
    d->stats.bytes_received += n;
    d->in_p = p;
    d->in_n = n;
    drive(d);
    d->in_p = NULL;
    d->in_n = 0;
    close_datagram(d);
    return RTC_OK;
}

int rtc_dtls_poll_transmit(rtc_dtls_t *d, uint8_t *buf, size_t cap) {
    if (!d || (!buf && cap)) return RTC_ERR_INVALID_ARG;
    pkt_t *k = d->txq.head;
    if (!k) return 0;
    if (k->len > cap) return RTC_ERR_OVERFLOW;
    memcpy(buf, k->data, k->len);
    int n = (int)k->len;
    d->stats.datagrams_sent++;
    d->stats.bytes_sent += k->len;
    pktq_pop(&d->txq);
    return n;
}

bool rtc_dtls_poll_event(rtc_dtls_t *d, rtc_dtls_event_t *ev) {
    if (!d || !ev || d->ev_count == 0) return false;
    *ev = d->events[d->ev_head];
    d->ev_head = (d->ev_head + 1) % DTLS_EVENT_RING;
    d->ev_count--;
    return true;
}

rtc_time_t rtc_dtls_next_timeout(const rtc_dtls_t *d) {
    if (!d) return RTC_TIME_NEVER;
    rtc_time_t t = RTC_TIME_NEVER;
    if (d->state == RTC_DTLS_STATE_CONNECTING) t = d->start_time + d->cfg.handshake_timeout;
    if ((d->state == RTC_DTLS_STATE_CONNECTING || d->state == RTC_DTLS_STATE_CONNECTED) &&
        d->rtx_armed && d->rtx_deadline < t)
        t = d->rtx_deadline;
    return t;
}

int rtc_dtls_handle_timeout(rtc_dtls_t *d, rtc_time_t now) {
    if (!d) return RTC_ERR_INVALID_ARG;
    if (d->state != RTC_DTLS_STATE_CONNECTING && d->state != RTC_DTLS_STATE_CONNECTED) return RTC_OK;
    d->now = now;
    if (d->state == RTC_DTLS_STATE_CONNECTING && now >= d->start_time + d->cfg.handshake_timeout) {
        fail(d, RTC_ERR_TIMEOUT, d->hs_done ? "no remote fingerprint before the handshake timeout"
                                            : "handshake timed out");
        return RTC_OK;
    }
    if (!d->rtx_armed || now < d->rtx_deadline) return RTC_OK;

    d->rto = d->rto * 2 > d->cfg.max_rto ? d->cfg.max_rto : d->rto * 2;
    d->rtx_deadline = now + d->rto;
    struct timeval saved = {0, 0};
    if (d->ossl_next_timeout) { /* make OpenSSL see its timer as expired (see "Timers") */
        saved = *d->ossl_next_timeout;
        d->ossl_next_timeout->tv_sec = 0;
        d->ossl_next_timeout->tv_usec = 1;
    }
    ERR_clear_error();
    int r = DTLSv1_handle_timeout(d->ssl);
    if (r > 0) {
        d->stats.retransmissions++;
        RTC_LOGD("dtls", "%s retransmitted flight, next timeout in %lld ms", d->id,
                 (long long)(d->rto / RTC_US_PER_MS));
    } else if (r < 0) {
        close_datagram(d);
        fail_from_ssl(d, "retransmission");
        return RTC_OK;
    } else if (d->ossl_next_timeout) {
        *d->ossl_next_timeout = saved; /* nothing happened; put OpenSSL's timer back */
    }
    close_datagram(d);
    return RTC_OK;
}

int rtc_dtls_send(rtc_dtls_t *d, const void *p, size_t n) {
    if (!d || !p || n == 0) return RTC_ERR_INVALID_ARG;
    if (d->state != RTC_DTLS_STATE_CONNECTED) return RTC_ERR_STATE;
    if (n > RTC_DTLS_MAX_APP_DATA) return RTC_ERR_OVERFLOW;
    if (d->txq.count >= DTLS_TX_QUEUE_MAX) return RTC_ERR_AGAIN;
    close_datagram(d);
    ERR_clear_error();
    int r = SSL_write(d->ssl, p, (int)n);
    if (r <= 0) {
        close_datagram(d);
        fail_from_ssl(d, "SSL_write");
        return RTC_ERR_CRYPTO;
    }
    close_datagram(d);
    d->stats.records_sent++;
    return RTC_OK;
}

int rtc_dtls_recv(rtc_dtls_t *d, uint8_t *buf, size_t cap) {
    if (!d || (!buf && cap)) return RTC_ERR_INVALID_ARG;
    if (!d->was_connected || !d->rxq.head) return RTC_ERR_AGAIN;
    pkt_t *k = d->rxq.head;
    if (k->len > cap) return RTC_ERR_OVERFLOW;
    if (k->len) memcpy(buf, k->data, k->len);
    int n = (int)k->len;
    pktq_pop(&d->rxq);
    return n;
}

int rtc_dtls_close(rtc_dtls_t *d, rtc_time_t now) {
    if (!d) return RTC_ERR_INVALID_ARG;
    if (d->state == RTC_DTLS_STATE_CLOSED) return RTC_OK;
    d->now = now;
    if (d->hs_done && d->state != RTC_DTLS_STATE_FAILED) {
        ERR_clear_error();
        (void)SSL_shutdown(d->ssl); /* close_notify */
        ERR_clear_error();
        close_datagram(d);
    }
    if (d->state != RTC_DTLS_STATE_FAILED) d->state = RTC_DTLS_STATE_CLOSED;
    d->rtx_armed = false;
    return RTC_OK;
}

rtc_dtls_state_t rtc_dtls_state(const rtc_dtls_t *d) {
    return d ? d->state : RTC_DTLS_STATE_FAILED;
}

const char *rtc_dtls_state_name(rtc_dtls_state_t s) {
    switch (s) {
    case RTC_DTLS_STATE_NEW: return "new";
    case RTC_DTLS_STATE_CONNECTING: return "connecting";
    case RTC_DTLS_STATE_CONNECTED: return "connected";
    case RTC_DTLS_STATE_CLOSED: return "closed";
    case RTC_DTLS_STATE_FAILED: return "failed";
    }
    return "unknown";
}

rtc_dtls_role_t rtc_dtls_role(const rtc_dtls_t *d) {
    return d ? d->cfg.role : RTC_DTLS_ROLE_CLIENT;
}

int rtc_dtls_error(const rtc_dtls_t *d) {
    return d ? d->error : RTC_ERR_INVALID_ARG;
}

const char *rtc_dtls_alert_name(uint8_t description) {
    switch (description) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 110: return "unsupported_extension";
    default: return "unknown_alert";
    }
}

int rtc_dtls_get_srtp_keys(const rtc_dtls_t *d, rtc_dtls_srtp_keys_t *keys) {
    if (!d || !keys) return RTC_ERR_INVALID_ARG;
    if (!d->was_connected || d->state == RTC_DTLS_STATE_FAILED) return RTC_ERR_STATE;
    if (!d->have_keys) return RTC_ERR_NOT_FOUND;
    *keys = d->keys;
    return RTC_OK;
}

uint16_t rtc_dtls_srtp_profile(const rtc_dtls_t *d) {
    return d && d->hs_done ? d->srtp_profile : 0;
}

int rtc_dtls_export_keying_material(const rtc_dtls_t *d, const char *label, const uint8_t *context,
                                    size_t context_len, uint8_t *out, size_t out_len) {
    if (!d || !label || !out || out_len == 0 || (!context && context_len)) return RTC_ERR_INVALID_ARG;
    if (!d->hs_done || d->state == RTC_DTLS_STATE_FAILED) return RTC_ERR_STATE;
    ERR_clear_error();
    if (SSL_export_keying_material(d->ssl, out, out_len, label, strlen(label), context, context_len,
                                   context != NULL) != 1) {
        rtc_dtls__log_ssl_errors("keying material export", d->id);
        return RTC_ERR_CRYPTO;
    }
    return RTC_OK;
}

int rtc_dtls_get_remote_fingerprint(const rtc_dtls_t *d, rtc_digest_t alg, rtc_dtls_fingerprint_t *out) {
    if (!d || !out) return RTC_ERR_INVALID_ARG;
    X509 *peer = d->hs_done ? SSL_get0_peer_certificate(d->ssl) : NULL;
    if (!peer) return RTC_ERR_STATE;
    return rtc_dtls__x509_fingerprint(peer, alg, out);
}

int rtc_dtls_get_remote_certificate_der(const rtc_dtls_t *d, rtc_buf_t *out) {
    if (!d || !out) return RTC_ERR_INVALID_ARG;
    X509 *peer = d->hs_done ? SSL_get0_peer_certificate(d->ssl) : NULL;
    if (!peer) return RTC_ERR_STATE;
    int n = i2d_X509(peer, NULL);
    if (n <= 0) return RTC_ERR_CRYPTO;
    int r = rtc_buf_reserve(out, (size_t)n);
    if (r != RTC_OK) return r;
    unsigned char *p = out->data + out->len;
    if (i2d_X509(peer, &p) != n) return RTC_ERR_CRYPTO;
    out->len += (size_t)n;
    return RTC_OK;
}

const char *rtc_dtls_cipher(const rtc_dtls_t *d) {
    if (!d || !d->hs_done) return NULL;
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    return c ? SSL_CIPHER_standard_name(c) : NULL;
}

size_t rtc_dtls_data_mtu(const rtc_dtls_t *d) {
    if (!d || !d->hs_done) return 0;
    return DTLS_get_data_mtu(d->ssl);
}

void rtc_dtls_get_stats(const rtc_dtls_t *d, rtc_dtls_stats_t *st) {
    if (!st) return;
    if (!d) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = d->stats;
}
