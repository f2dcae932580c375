/* DTLS layer: SDP fingerprints (RFC 8122), certificates, and two of our endpoints talking
 * over a simulated network driven by a fake clock — lossless, 20% loss with fixed seeds,
 * small MTUs — plus fingerprint mismatches in both roles, late fingerprints, SRTP profile
 * negotiation and key export (RFC 5764 4.2), close_notify, timeouts and garbage input.
 *
 * Debugging: NET_TRACE=1 prints every datagram (and whether the network dropped it),
 * LOSS_SEED=n runs only that seed of the lossy test, RTC_TEST_LOG=1 turns on debug logs;
 * add CK_FORK=no to see them in order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "rtc/dtls.h"

/* ------------------------------------------------------------------------------------------
 * Shared certificates (generation is the slow part of a test).
 */
static rtc_dtls_cert_t *cert_a, *cert_b, *cert_c;

static void certs_setup(void) {
    ck_assert_int_eq(rtc_dtls_cert_generate("alice", 0, &cert_a), RTC_OK);
    ck_assert_int_eq(rtc_dtls_cert_generate("bob", 0, &cert_b), RTC_OK);
    ck_assert_int_eq(rtc_dtls_cert_generate("mallory", 0, &cert_c), RTC_OK);
}

static void certs_teardown(void) {
    rtc_dtls_cert_unref(cert_a);
    rtc_dtls_cert_unref(cert_b);
    rtc_dtls_cert_unref(cert_c);
}

static rtc_dtls_fingerprint_t fp_of(rtc_dtls_cert_t *c) {
    rtc_dtls_fingerprint_t fp;
    ck_assert_int_eq(rtc_dtls_cert_fingerprint(c, RTC_DIGEST_SHA256, &fp), RTC_OK);
    return fp;
}

/* Client uses cert_a and expects `server_fp_of`; server uses cert_b and expects
 * `client_fp_of` (NULL leaves the fingerprint unset). */
static rtc_dtls_t *make_ep(rtc_dtls_role_t role, rtc_dtls_cert_t *mine, rtc_dtls_cert_t *expect_peer,
                           size_t mtu) {
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    c.cert = mine;
    c.role = role;
    c.mtu = mtu;
    c.log_id = role == RTC_DTLS_ROLE_CLIENT ? "client" : "server";
    c.handshake_timeout = RTC_SEC(600); /* fake time is free; OpenSSL gives up after 12 retransmissions anyway */
    if (expect_peer) {
        c.remote_fingerprints[0] = fp_of(expect_peer);
        c.n_remote_fingerprints = 1;
    }
    rtc_dtls_t *d = NULL;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_OK);
    return d;
}

/* ------------------------------------------------------------------------------------------
 * A simulated network: datagrams between two endpoints with a fixed one-way delay and
 * seeded random loss; the clock only moves when the test moves it.
 */
#define NET_MAX_INFLIGHT 256
#define NET_MAX_EVENTS 64

typedef struct {
    uint8_t data[RTC_DTLS_MAX_APP_DATA + 256];
    size_t len;
    rtc_time_t at;
    int to;
} flight_t;

typedef struct {
    rtc_dtls_t *ep[2];
    rtc_time_t now, delay;
    uint64_t rng;
    unsigned loss_pct;
    size_t mtu_seen_max;
    flight_t inflight[NET_MAX_INFLIGHT];
    size_t n_inflight;
    unsigned sent, dropped;
    rtc_dtls_event_t events[2][NET_MAX_EVENTS];
    size_t n_events[2];
} net_t;

static uint32_t net_rand(net_t *n) {
    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return (uint32_t)(n->rng >> 32);
}

static void net_init(net_t *n, rtc_dtls_t *client, rtc_dtls_t *server, unsigned loss_pct, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->ep[0] = client;
    n->ep[1] = server;
    n->delay = RTC_MS(20);
    n->loss_pct = loss_pct;
    n->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
}

/* Moves every queued datagram and event out of the endpoints. */
static void net_collect(net_t *n) {
    for (int i = 0; i < 2; i++) {
        static uint8_t buf[RTC_DTLS_MAX_APP_DATA + 256];
        int len;
        while ((len = rtc_dtls_poll_transmit(n->ep[i], buf, sizeof buf)) > 0) {
            if ((size_t)len > n->mtu_seen_max) n->mtu_seen_max = (size_t)len;
            n->sent++;
            bool drop = net_rand(n) % 100 < n->loss_pct;
            if (getenv("NET_TRACE"))
                fprintf(stderr, "t=%lld %d->%d %d bytes%s\n", (long long)n->now, i, 1 - i, len, drop ? " DROPPED" : "");
            if (drop) {
                n->dropped++;
                continue;
            }
            ck_assert_uint_lt(n->n_inflight, NET_MAX_INFLIGHT);
            flight_t *f = &n->inflight[n->n_inflight++];
            memcpy(f->data, buf, (size_t)len);
            f->len = (size_t)len;
            f->at = n->now + n->delay;
            f->to = 1 - i;
        }
        ck_assert_int_eq(len, 0);
        rtc_dtls_event_t ev;
        while (rtc_dtls_poll_event(n->ep[i], &ev)) {
            ck_assert_uint_lt(n->n_events[i], NET_MAX_EVENTS);
            n->events[i][n->n_events[i]++] = ev;
        }
    }
}

static bool net_done(net_t *n) {
    for (int i = 0; i < 2; i++) {
        rtc_dtls_state_t s = rtc_dtls_state(n->ep[i]);
        if (s == RTC_DTLS_STATE_NEW || s == RTC_DTLS_STATE_CONNECTING) return false;
    }
    return true;
}

/* One step: advance to the next delivery or timeout and process it. Returns false if
 * nothing is scheduled before `until` (the clock then stays put). */
static bool net_step(net_t *n, rtc_time_t until) {
    net_collect(n);
    rtc_time_t next = RTC_TIME_NEVER;
    for (size_t k = 0; k < n->n_inflight; k++)
        if (n->inflight[k].at < next) next = n->inflight[k].at;
    for (int i = 0; i < 2; i++) {
        rtc_time_t t = rtc_dtls_next_timeout(n->ep[i]);
        if (t < next) next = t;
    }
    if (next == RTC_TIME_NEVER || next > until) return false;
    if (next > n->now) n->now = next;
    for (size_t k = 0; k < n->n_inflight;) {
        if (n->inflight[k].at <= n->now) {
            /* In order: the same delay for everyone means FIFO per direction. */
            static flight_t f;
            f = n->inflight[k];
            memmove(&n->inflight[k], &n->inflight[k + 1], (n->n_inflight - k - 1) * sizeof f);
            n->n_inflight--;
            rtc_dtls_handle_datagram(n->ep[f.to], f.data, f.len, n->now);
        } else {
            k++;
        }
    }
    for (int i = 0; i < 2; i++)
        if (rtc_dtls_next_timeout(n->ep[i]) <= n->now) rtc_dtls_handle_timeout(n->ep[i], n->now);
    net_collect(n);
    return true;
}

/* Runs until both endpoints left "connecting", or the deadline. */
static void net_run(net_t *n, rtc_time_t until) {
    net_collect(n);
    while (!net_done(n))
        if (!net_step(n, until)) break;
    /* Let in-flight datagrams (e.g. the server's last flight, alerts) land. */
    rtc_time_t settle = n->now + RTC_MS(200);
    while (n->n_inflight > 0)
        if (!net_step(n, settle)) break;
}

static bool has_event(const net_t *n, int side, rtc_dtls_event_type_t type, int error) {
    for (size_t k = 0; k < n->n_events[side]; k++)
        if (n->events[side][k].type == type && (type != RTC_DTLS_EVENT_FAILED || n->events[side][k].error == error))
            return true;
    return false;
}

static bool has_alert(const net_t *n, int side, bool sent, uint8_t desc) {
    for (size_t k = 0; k < n->n_events[side]; k++) {
        const rtc_dtls_event_t *e = &n->events[side][k];
        if (e->type == RTC_DTLS_EVENT_ALERT && e->alert_sent == sent && e->alert_description == desc)
            return true;
    }
    return false;
}

static void start_both(net_t *n) {
    ck_assert_int_eq(rtc_dtls_start(n->ep[0], n->now), RTC_OK);
    ck_assert_int_eq(rtc_dtls_start(n->ep[1], n->now), RTC_OK);
}

static void assert_keys_agree(rtc_dtls_t *cli, rtc_dtls_t *srv, uint16_t profile) {
    rtc_dtls_srtp_keys_t kc, ks;
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(cli, &kc), RTC_OK);
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(srv, &ks), RTC_OK);
    ck_assert_uint_eq(kc.profile, profile);
    ck_assert_uint_eq(ks.profile, profile);
    ck_assert_uint_eq(kc.key_len, 16);
    ck_assert_uint_eq(kc.salt_len, profile == RTC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14);
    ck_assert_mem_eq(kc.client_key, ks.client_key, 16);
    ck_assert_mem_eq(kc.server_key, ks.server_key, 16);
    ck_assert_mem_eq(kc.client_salt, ks.client_salt, kc.salt_len);
    ck_assert_mem_eq(kc.server_salt, ks.server_salt, kc.salt_len);
    ck_assert(memcmp(kc.client_key, kc.server_key, 16) != 0);
    /* Each side's local key is the other's remote key. */
    ck_assert_mem_eq(kc.local_key, ks.remote_key, 16);
    ck_assert_mem_eq(kc.local_salt, ks.remote_salt, kc.salt_len);
    ck_assert_mem_eq(ks.local_key, kc.remote_key, 16);
    ck_assert_mem_eq(kc.local_key, kc.client_key, 16);
    ck_assert_mem_eq(ks.local_key, ks.server_key, 16);
    /* And the split is the RFC 5764 4.2 layout of the raw exporter output. */
    uint8_t raw[60];
    size_t total = 2u * (16 + kc.salt_len);
    ck_assert_int_eq(rtc_dtls_export_keying_material(srv, "EXTRACTOR-dtls_srtp", NULL, 0, raw, total), RTC_OK);
    ck_assert_mem_eq(raw, kc.client_key, 16);
    ck_assert_mem_eq(raw + 16, kc.server_key, 16);
    ck_assert_mem_eq(raw + 32, kc.client_salt, kc.salt_len);
    ck_assert_mem_eq(raw + 32 + kc.salt_len, kc.server_salt, kc.salt_len);
}

/* ------------------------------------------------------------------------------------------
 * Fingerprints.
 */
START_TEST(fingerprint_parse_accepts_sdp_forms) {
    rtc_dtls_fingerprint_t fp;
    const char *s = "sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2";
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(s, strlen(s), &fp), RTC_OK);
    ck_assert_int_eq(fp.alg, RTC_DIGEST_SHA256);
    ck_assert_uint_eq(fp.len, 32);
    ck_assert_uint_eq(fp.value[0], 0x19);
    ck_assert_uint_eq(fp.value[31], 0xa2);
    char out[RTC_DTLS_FINGERPRINT_STRLEN];
    ck_assert_int_eq(rtc_dtls_fingerprint_format(&fp, out, sizeof out), (int)strlen(s));
    ck_assert_str_eq(out, s);
    /* Hash names are case-insensitive (RFC 8122 5), hex in either case, extra spaces. */
    const char *t = "SHA-256   19:e2:1c:3b:4b:9f:81:e6:b8:5c:f4:a5:a8:d8:73:04:bb:05:2f:70:9f:04:a9:0e:05:e9:26:33:e8:70:88:a2";
    rtc_dtls_fingerprint_t fp2;
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(t, strlen(t), &fp2), RTC_OK);
    ck_assert(rtc_dtls_fingerprint_equal(&fp, &fp2));
    const char *sha1 = "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB";
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(sha1, strlen(sha1), &fp2), RTC_OK);
    ck_assert_int_eq(fp2.alg, RTC_DIGEST_SHA1);
    ck_assert(!rtc_dtls_fingerprint_equal(&fp, &fp2));
    /* Only the first n bytes are read. */
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(s, strlen(s) - 3, &fp2), RTC_ERR_MALFORMED);
}
END_TEST

START_TEST(fingerprint_parse_rejects_junk) {
    rtc_dtls_fingerprint_t fp;
    const char *bad[] = {
        "",
        "sha-256",
        "sha-256 ",
        "sha256 AB:CD",
        "sha-256 AB:CD",                               /* too short */
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:00", /* too long */
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:A",     /* half byte */
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:",   /* trailing colon */
        "sha-1 4AAD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:CD",  /* missing colon */
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:GG",    /* not hex */
        "sha-1 4A-AD-B9-B1-3F-82-18-3B-54-02-12-DF-3E-5D-49-6B-19-E5-7C-AB",
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB ",   /* trailing space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(rtc_dtls_fingerprint_parse(bad[i], strlen(bad[i]), &fp) == RTC_ERR_MALFORMED,
                      "accepted: '%s'", bad[i]);
    const char *md5 = "md5 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(md5, strlen(md5), &fp), RTC_ERR_UNSUPPORTED);
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(NULL, 0, &fp), RTC_ERR_INVALID_ARG);
    char small[20];
    rtc_dtls_fingerprint_t ok;
    const char *s = "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB";
    ck_assert_int_eq(rtc_dtls_fingerprint_parse(s, strlen(s), &ok), RTC_OK);
    ck_assert_int_eq(rtc_dtls_fingerprint_format(&ok, small, sizeof small), RTC_ERR_OVERFLOW);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Certificates.
 */
START_TEST(generated_cert_is_self_signed_ecdsa_p256) {
    rtc_buf_t pem;
    rtc_buf_init(&pem);
    ck_assert_int_eq(rtc_dtls_cert_to_pem(cert_a, &pem, NULL), RTC_OK);
    BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(x);
    EVP_PKEY *pub = X509_get0_pubkey(x);
    ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    char group[64] = "";
    size_t glen = 0;
    ck_assert_int_eq(EVP_PKEY_get_group_name(pub, group, sizeof group, &glen), 1);
    ck_assert_str_eq(group, "prime256v1");
    ck_assert_int_eq(X509_verify(x, pub), 1); /* signed by its own key */
    ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
    ck_assert_int_lt(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
    ck_assert_int_gt(X509_cmp_current_time(X509_get0_notAfter(x)), 0);
    /* The fingerprint is SHA-256 over the DER, as OpenSSL computes it. */
    unsigned char md[32];
    unsigned int mdlen = 0;
    ck_assert_int_eq(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
    rtc_dtls_fingerprint_t fp = fp_of(cert_a);
    ck_assert_mem_eq(fp.value, md, 32);
    X509_free(x);
    BIO_free(b);
    rtc_buf_free(&pem);
    /* Two generated certificates differ. */
    rtc_dtls_fingerprint_t fa = fp_of(cert_a), fb = fp_of(cert_b);
    ck_assert(!rtc_dtls_fingerprint_equal(&fa, &fb));
}
END_TEST

START_TEST(cert_pem_round_trip_keeps_fingerprint) {
    rtc_buf_t c, k;
    rtc_buf_init(&c);
    rtc_buf_init(&k);
    ck_assert_int_eq(rtc_dtls_cert_to_pem(cert_a, &c, &k), RTC_OK);
    ck_assert(strstr((char *)c.data, "BEGIN CERTIFICATE") != NULL);
    ck_assert(strstr((char *)k.data, "PRIVATE KEY") != NULL);
    rtc_dtls_cert_t *again = NULL;
    ck_assert_int_eq(rtc_dtls_cert_from_pem((char *)c.data, c.len, (char *)k.data, k.len, &again), RTC_OK);
    rtc_dtls_fingerprint_t f1 = fp_of(cert_a), f2 = fp_of(again);
    ck_assert(rtc_dtls_fingerprint_equal(&f1, &f2));

    /* From files too. */
    char cpath[] = "/tmp/rtc_dtls_cert_XXXXXX", kpath[] = "/tmp/rtc_dtls_key_XXXXXX";
    int cfd = mkstemp(cpath), kfd = mkstemp(kpath);
    ck_assert(cfd >= 0 && kfd >= 0);
    ck_assert(write(cfd, c.data, c.len) == (ssize_t)c.len);
    ck_assert(write(kfd, k.data, k.len) == (ssize_t)k.len);
    close(cfd);
    close(kfd);
    rtc_dtls_cert_t *from_files = NULL;
    ck_assert_int_eq(rtc_dtls_cert_load_files(cpath, kpath, &from_files), RTC_OK);
    rtc_dtls_fingerprint_t f3 = fp_of(from_files);
    ck_assert(rtc_dtls_fingerprint_equal(&f1, &f3));
    unlink(cpath);
    unlink(kpath);
    ck_assert_int_eq(rtc_dtls_cert_load_files("/nonexistent/cert.pem", "/nonexistent/key.pem", &from_files),
                     RTC_ERR_IO);

    /* A key that is not the certificate's is refused; so is garbage. */
    rtc_buf_t k2;
    rtc_buf_init(&k2);
    ck_assert_int_eq(rtc_dtls_cert_to_pem(cert_b, &k2, &k2), RTC_OK); /* cert then key */
    rtc_dtls_cert_t *bad = NULL;
    ck_assert_int_eq(rtc_dtls_cert_from_pem((char *)c.data, c.len, (char *)k2.data, k2.len, &bad),
                     RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_dtls_cert_from_pem("junk", 4, (char *)k.data, k.len, &bad), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_dtls_cert_from_pem((char *)c.data, c.len / 2, (char *)k.data, k.len, &bad),
                     RTC_ERR_MALFORMED);
    ck_assert_ptr_null(bad);

    rtc_dtls_cert_unref(again);
    rtc_dtls_cert_unref(from_files);
    rtc_buf_free(&c);
    rtc_buf_free(&k);
    rtc_buf_free(&k2);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Handshakes.
 */
START_TEST(handshake_completes_and_both_sides_derive_the_same_keys) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_NEW);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 1);
    start_both(n);
    net_run(n, RTC_SEC(10));
    ck_assert_str_eq(rtc_dtls_state_name(rtc_dtls_state(cli)), "connected");
    ck_assert_str_eq(rtc_dtls_state_name(rtc_dtls_state(srv)), "connected");
    ck_assert(has_event(n, 0, RTC_DTLS_EVENT_CONNECTED, 0));
    ck_assert(has_event(n, 1, RTC_DTLS_EVENT_CONNECTED, 0));
    /* No loss: two round trips, no retransmissions, nothing scheduled afterwards. */
    rtc_dtls_stats_t sc, ss;
    rtc_dtls_get_stats(cli, &sc);
    rtc_dtls_get_stats(srv, &ss);
    ck_assert_uint_eq(sc.retransmissions + ss.retransmissions, 0);
    ck_assert_int_le(n->now, RTC_MS(100));
    ck_assert(rtc_dtls_next_timeout(cli) == RTC_TIME_NEVER);
    ck_assert(rtc_dtls_next_timeout(srv) == RTC_TIME_NEVER);
    ck_assert_uint_le(n->mtu_seen_max, 1200);

    /* The server prefers AEAD_AES_128_GCM; both offered it. */
    ck_assert_uint_eq(rtc_dtls_srtp_profile(cli), RTC_DTLS_SRTP_AEAD_AES_128_GCM);
    assert_keys_agree(cli, srv, RTC_DTLS_SRTP_AEAD_AES_128_GCM);
    ck_assert_ptr_nonnull(rtc_dtls_cipher(cli));
    ck_assert_str_eq(rtc_dtls_cipher(cli), rtc_dtls_cipher(srv));
    ck_assert(strstr(rtc_dtls_cipher(cli), "ECDHE_ECDSA") != NULL);
    ck_assert_uint_gt(rtc_dtls_data_mtu(cli), 1100);
    ck_assert_uint_lt(rtc_dtls_data_mtu(cli), 1200);

    /* Each side sees the other's certificate. */
    rtc_dtls_fingerprint_t seen, want = fp_of(cert_b);
    ck_assert_int_eq(rtc_dtls_get_remote_fingerprint(cli, RTC_DIGEST_SHA256, &seen), RTC_OK);
    ck_assert(rtc_dtls_fingerprint_equal(&seen, &want));
    rtc_buf_t der;
    rtc_buf_init(&der);
    ck_assert_int_eq(rtc_dtls_get_remote_certificate_der(srv, &der), RTC_OK);
    ck_assert_uint_gt(der.len, 100);
    ck_assert_uint_eq(der.data[0], 0x30); /* DER SEQUENCE */
    rtc_buf_free(&der);

    /* A generic exporter label agrees too, and differs from the SRTP one. */
    uint8_t e1[32], e2[32];
    const uint8_t ctx[3] = {1, 2, 3};
    ck_assert_int_eq(rtc_dtls_export_keying_material(cli, "EXPORTER-test", ctx, 3, e1, 32), RTC_OK);
    ck_assert_int_eq(rtc_dtls_export_keying_material(srv, "EXPORTER-test", ctx, 3, e2, 32), RTC_OK);
    ck_assert_mem_eq(e1, e2, 32);

    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(application_data_flows_both_ways_record_by_record) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    uint8_t msg[RTC_DTLS_MAX_APP_DATA + 1];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 31);
    ck_assert_int_eq(rtc_dtls_send(cli, msg, 10), RTC_ERR_STATE); /* not connected yet */
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 2);
    start_both(n);
    net_run(n, RTC_SEC(10));
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);

    size_t sizes[] = {1, 100, 1000, 1100, 5000, RTC_DTLS_MAX_APP_DATA};
    for (size_t k = 0; k < 6; k++) {
        ck_assert_int_eq(rtc_dtls_send(cli, msg, sizes[k]), RTC_OK);
        ck_assert_int_eq(rtc_dtls_send(srv, msg + 1, sizes[k]), RTC_OK);
    }
    ck_assert_int_eq(rtc_dtls_send(cli, msg, RTC_DTLS_MAX_APP_DATA + 1), RTC_ERR_OVERFLOW);
    ck_assert_int_eq(rtc_dtls_send(cli, msg, 0), RTC_ERR_INVALID_ARG);
    net_run(n, n->now + RTC_SEC(1));
    static uint8_t got[RTC_DTLS_MAX_APP_DATA];
    for (size_t k = 0; k < 6; k++) {
        if (sizes[k] > 1) ck_assert_int_eq(rtc_dtls_recv(srv, got, sizes[k] - 1), RTC_ERR_OVERFLOW);
        ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), (int)sizes[k]);
        ck_assert_mem_eq(got, msg, sizes[k]);
        ck_assert_int_eq(rtc_dtls_recv(cli, got, sizeof got), (int)sizes[k]);
        ck_assert_mem_eq(got, msg + 1, sizes[k]);
    }
    ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), RTC_ERR_AGAIN);
    rtc_dtls_stats_t st;
    rtc_dtls_get_stats(srv, &st);
    ck_assert_uint_eq(st.records_received, 6);
    ck_assert_uint_eq(st.records_sent, 6);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(receive_queue_is_bounded_and_drops_are_counted) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    c.cert = cert_b;
    c.role = RTC_DTLS_ROLE_SERVER;
    c.remote_fingerprints[0] = fp_of(cert_a);
    c.n_remote_fingerprints = 1;
    c.recv_queue_limit = 100;
    rtc_dtls_t *srv;
    ck_assert_int_eq(rtc_dtls_create(&c, &srv), RTC_OK);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 11);
    start_both(n);
    net_run(n, RTC_SEC(10));
    uint8_t msg[40];
    for (int k = 0; k < 5; k++) {
        memset(msg, 'a' + k, sizeof msg);
        ck_assert_int_eq(rtc_dtls_send(cli, msg, sizeof msg), RTC_OK);
    }
    net_run(n, n->now + RTC_SEC(1));
    uint8_t got[64];
    ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), 40);
    ck_assert_uint_eq(got[0], 'a');
    ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), 40);
    ck_assert_uint_eq(got[0], 'b');
    ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), RTC_ERR_AGAIN);
    rtc_dtls_stats_t st;
    rtc_dtls_get_stats(srv, &st);
    ck_assert_uint_eq(st.records_received, 5);
    ck_assert_uint_eq(st.recv_queue_dropped, 3);
    /* Draining makes room again. */
    ck_assert_int_eq(rtc_dtls_send(cli, "z", 1), RTC_OK);
    net_run(n, n->now + RTC_SEC(1));
    ck_assert_int_eq(rtc_dtls_recv(srv, got, sizeof got), 1);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(handshake_completes_with_20_percent_loss) {
    /* Loop index = seed. Loss hits every datagram independently, both directions. */
    uint64_t seed = (uint64_t)_i + 1;
    if (getenv("LOSS_SEED") && strtoull(getenv("LOSS_SEED"), NULL, 10) != seed) return;
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 20, seed);
    start_both(n);
    net_run(n, RTC_SEC(600));
    ck_assert_msg(rtc_dtls_state(cli) == RTC_DTLS_STATE_CONNECTED &&
                      rtc_dtls_state(srv) == RTC_DTLS_STATE_CONNECTED,
                  "seed %llu: client %s server %s after %lld ms", (unsigned long long)seed,
                  rtc_dtls_state_name(rtc_dtls_state(cli)), rtc_dtls_state_name(rtc_dtls_state(srv)),
                  (long long)(n->now / 1000));
    assert_keys_agree(cli, srv, RTC_DTLS_SRTP_AEAD_AES_128_GCM);
    /* Data still flows over the lossy link once connected. */
    ck_assert_int_eq(rtc_dtls_send(cli, "ping", 4), RTC_OK);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

/* Over all seeds, loss must actually have forced retransmissions (else the test above proves
 * nothing about recovery). */
START_TEST(lossy_handshakes_really_retransmit) {
    uint64_t rtx = 0, dropped = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
        rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
        net_t *n = calloc(1, sizeof *n);
        net_init(n, cli, srv, 20, seed);
        start_both(n);
        net_run(n, RTC_SEC(600));
        ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
        rtc_dtls_stats_t a, b;
        rtc_dtls_get_stats(cli, &a);
        rtc_dtls_get_stats(srv, &b);
        rtx += a.retransmissions + b.retransmissions;
        dropped += n->dropped;
        rtc_dtls_destroy(cli);
        rtc_dtls_destroy(srv);
        free(n);
    }
    ck_assert_uint_gt(dropped, 3);
    ck_assert_uint_gt(rtx, 3);
}
END_TEST

START_TEST(small_mtu_fragments_flights_and_survives_loss) {
    size_t mtus[] = {300, 576};
    for (int m = 0; m < 2; m++) {
        for (uint64_t seed = 1; seed <= 5; seed++) {
            rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, mtus[m]);
            rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, mtus[m]);
            net_t *n = calloc(1, sizeof *n);
            net_init(n, cli, srv, seed == 1 ? 0 : 20, seed);
            if (getenv("NET_TRACE")) fprintf(stderr, "mtu %zu seed %llu\n", mtus[m], (unsigned long long)seed);
            start_both(n);
            net_run(n, RTC_SEC(600));
            ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
            ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
            ck_assert_uint_le(n->mtu_seen_max, mtus[m]);
            ck_assert_uint_le(rtc_dtls_data_mtu(cli), mtus[m]);
            if (seed == 1) ck_assert_uint_ge(n->sent, 5); /* flights were split (4 datagrams at 1200) */
            rtc_dtls_destroy(cli);
            rtc_dtls_destroy(srv);
            free(n);
        }
    }
}
END_TEST

START_TEST(retransmission_follows_the_callers_clock_with_backoff) {
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    c.cert = cert_a;
    c.role = RTC_DTLS_ROLE_CLIENT;
    c.initial_rto = RTC_MS(500);
    c.max_rto = RTC_SEC(2);
    c.handshake_timeout = RTC_SEC(10);
    rtc_dtls_t *cli;
    ck_assert_int_eq(rtc_dtls_create(&c, &cli), RTC_OK);
    /* Times far from the real clock: only our values can matter. */
    rtc_time_t t0 = RTC_SEC(1000000);
    ck_assert(rtc_dtls_next_timeout(cli) == RTC_TIME_NEVER);
    ck_assert_int_eq(rtc_dtls_start(cli, t0), RTC_OK);
    uint8_t first[1500], again[1500];
    int n1 = rtc_dtls_poll_transmit(cli, first, sizeof first);
    ck_assert_int_gt(n1, 13 + 12);
    ck_assert_uint_eq(first[0], 22);  /* handshake record */
    ck_assert_uint_eq(first[13], 1);  /* ClientHello */
    ck_assert_int_eq(rtc_dtls_poll_transmit(cli, again, sizeof again), 0);

    rtc_time_t expect[] = {t0 + RTC_MS(500), t0 + RTC_MS(1500), t0 + RTC_MS(3500), t0 + RTC_MS(5500),
                           t0 + RTC_MS(7500)};
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(rtc_dtls_next_timeout(cli), expect[k]);
        ck_assert_int_eq(rtc_dtls_handle_timeout(cli, expect[k] - 1), RTC_OK); /* early: nothing */
        ck_assert_int_eq(rtc_dtls_poll_transmit(cli, again, sizeof again), 0);
        ck_assert_int_eq(rtc_dtls_handle_timeout(cli, expect[k]), RTC_OK);
        int n2 = rtc_dtls_poll_transmit(cli, again, sizeof again);
        ck_assert_int_eq(n2, n1);
        ck_assert_uint_eq(again[13], 1);
        /* Same ClientHello body, new record sequence number: OpenSSL re-sent it. */
        ck_assert_mem_eq(again + 13, first + 13, (size_t)n1 - 13);
        ck_assert(memcmp(again + 3, first + 3, 8) != 0);
        ck_assert_int_eq(rtc_dtls_poll_transmit(cli, again, sizeof again), 0);
    }
    rtc_dtls_stats_t st;
    rtc_dtls_get_stats(cli, &st);
    ck_assert_uint_eq(st.retransmissions, 5);
    /* The handshake deadline (10 s) comes next and fails the endpoint. */
    ck_assert_int_eq(rtc_dtls_next_timeout(cli), t0 + RTC_MS(9500));
    rtc_dtls_handle_timeout(cli, t0 + RTC_MS(9500));
    ck_assert_int_eq(rtc_dtls_next_timeout(cli), t0 + RTC_SEC(10));
    rtc_dtls_handle_timeout(cli, t0 + RTC_SEC(10));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_FAILED);
    ck_assert_int_eq(rtc_dtls_error(cli), RTC_ERR_TIMEOUT);
    rtc_dtls_event_t ev;
    ck_assert(rtc_dtls_poll_event(cli, &ev));
    ck_assert_int_eq(ev.type, RTC_DTLS_EVENT_FAILED);
    ck_assert_int_eq(ev.error, RTC_ERR_TIMEOUT);
    ck_assert(rtc_dtls_next_timeout(cli) == RTC_TIME_NEVER);
    uint8_t junk[20] = {22, 0xfe, 0xfd};
    ck_assert_int_eq(rtc_dtls_handle_datagram(cli, junk, sizeof junk, t0 + RTC_SEC(11)), RTC_ERR_CLOSED);
    rtc_dtls_destroy(cli);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Fingerprint verification.
 */
START_TEST(client_rejects_server_with_wrong_fingerprint) {
    /* The client expects mallory's certificate; the server presents bob's. */
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_c, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 3);
    start_both(n);
    net_run(n, RTC_SEC(60));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_FAILED);
    ck_assert_int_eq(rtc_dtls_error(cli), RTC_ERR_FINGERPRINT);
    ck_assert(has_event(n, 0, RTC_DTLS_EVENT_FAILED, RTC_ERR_FINGERPRINT));
    ck_assert(has_alert(n, 0, true, 42)); /* bad_certificate sent */
    ck_assert(!has_event(n, 0, RTC_DTLS_EVENT_CONNECTED, 0));
    /* The server learns it from the alert, well before its handshake timeout. */
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_FAILED);
    ck_assert(has_alert(n, 1, false, 42));
    ck_assert(has_event(n, 1, RTC_DTLS_EVENT_FAILED, RTC_ERR_PROTOCOL));
    ck_assert(!has_event(n, 1, RTC_DTLS_EVENT_CONNECTED, 0));
    ck_assert_int_lt(n->now, RTC_SEC(5));
    rtc_dtls_srtp_keys_t k;
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(cli, &k), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(srv, &k), RTC_ERR_STATE);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(server_rejects_client_with_wrong_fingerprint) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_c, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 4);
    start_both(n);
    net_run(n, RTC_SEC(60));
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_FAILED);
    ck_assert_int_eq(rtc_dtls_error(srv), RTC_ERR_FINGERPRINT);
    ck_assert(has_event(n, 1, RTC_DTLS_EVENT_FAILED, RTC_ERR_FINGERPRINT));
    ck_assert(has_alert(n, 1, true, 42));
    ck_assert(!has_event(n, 1, RTC_DTLS_EVENT_CONNECTED, 0));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_FAILED);
    ck_assert(has_event(n, 0, RTC_DTLS_EVENT_FAILED, RTC_ERR_PROTOCOL));
    ck_assert(!has_event(n, 0, RTC_DTLS_EVENT_CONNECTED, 0));
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(any_of_several_fingerprints_may_match) {
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    c.cert = cert_a;
    c.role = RTC_DTLS_ROLE_CLIENT;
    c.remote_fingerprints[0] = fp_of(cert_c);
    ck_assert_int_eq(rtc_dtls_cert_fingerprint(cert_b, RTC_DIGEST_SHA512, &c.remote_fingerprints[1]), 0);
    c.n_remote_fingerprints = 2;
    rtc_dtls_t *cli;
    ck_assert_int_eq(rtc_dtls_create(&c, &cli), RTC_OK);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 5);
    start_both(n);
    net_run(n, RTC_SEC(10));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(late_fingerprint_holds_connected_until_it_matches) {
    /* _i = 0: both fingerprints arrive late and match; 1: the server's is wrong. */
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, NULL, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, NULL, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 6);
    start_both(n);
    net_run(n, RTC_SEC(1)); /* the handshake takes ~100 ms; the next event is the 600 s deadline */
    /* Handshake finished on the wire, but nobody is "connected" without the fingerprint. */
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTING);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTING);
    ck_assert(!has_event(n, 0, RTC_DTLS_EVENT_CONNECTED, 0));
    ck_assert_int_eq(rtc_dtls_send(cli, "x", 1), RTC_ERR_STATE);
    rtc_dtls_srtp_keys_t k;
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(cli, &k), RTC_ERR_STATE);

    rtc_dtls_fingerprint_t fa = fp_of(cert_a), fb = fp_of(cert_b), fc = fp_of(cert_c);
    ck_assert_int_eq(rtc_dtls_set_remote_fingerprints(cli, &fb, 1, n->now), RTC_OK);
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
    ck_assert_int_eq(rtc_dtls_set_remote_fingerprints(srv, _i ? &fc : &fa, 1, n->now), RTC_OK);
    net_collect(n);
    if (_i == 0) {
        ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
        ck_assert(has_event(n, 1, RTC_DTLS_EVENT_CONNECTED, 0));
        assert_keys_agree(cli, srv, RTC_DTLS_SRTP_AEAD_AES_128_GCM);
    } else {
        ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_FAILED);
        ck_assert(has_event(n, 1, RTC_DTLS_EVENT_FAILED, RTC_ERR_FINGERPRINT));
        ck_assert(!has_event(n, 1, RTC_DTLS_EVENT_CONNECTED, 0));
        /* The server told the client (close_notify), so the client closes. */
        net_run(n, n->now + RTC_SEC(1));
        ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CLOSED);
        ck_assert(has_event(n, 0, RTC_DTLS_EVENT_CLOSED, 0));
    }
    ck_assert_int_eq(rtc_dtls_set_remote_fingerprints(cli, &fb, 1, n->now), RTC_ERR_STATE);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(data_sent_before_late_verification_is_held_then_delivered) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, NULL, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 7);
    start_both(n);
    net_run(n, RTC_SEC(5));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
    ck_assert_int_eq(rtc_dtls_send(cli, "early", 5), RTC_OK);
    net_run(n, n->now + RTC_SEC(1));
    uint8_t buf[64];
    ck_assert_int_eq(rtc_dtls_recv(srv, buf, sizeof buf), RTC_ERR_AGAIN); /* not verified */
    rtc_dtls_fingerprint_t fa = fp_of(cert_a);
    ck_assert_int_eq(rtc_dtls_set_remote_fingerprints(srv, &fa, 1, n->now), RTC_OK);
    ck_assert_int_eq(rtc_dtls_recv(srv, buf, sizeof buf), 5);
    ck_assert_mem_eq(buf, "early", 5);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * SRTP negotiation.
 */
START_TEST(srtp_profile_follows_what_both_support) {
    struct {
        uint16_t cli[2];
        size_t ncli;
        bool cli_no_srtp;
        uint16_t srv[2];
        size_t nsrv;
        uint16_t want;
    } cases[] = {
        {{RTC_DTLS_SRTP_AES128_CM_SHA1_80}, 1, false, {0}, 0, RTC_DTLS_SRTP_AES128_CM_SHA1_80},
        {{0}, 0, false, {RTC_DTLS_SRTP_AES128_CM_SHA1_80}, 1, RTC_DTLS_SRTP_AES128_CM_SHA1_80},
        /* The server's order wins. */
        {{RTC_DTLS_SRTP_AES128_CM_SHA1_80, RTC_DTLS_SRTP_AEAD_AES_128_GCM}, 2, false, {0}, 0,
         RTC_DTLS_SRTP_AEAD_AES_128_GCM},
        {{0}, 0, false, {RTC_DTLS_SRTP_AES128_CM_SHA1_80, RTC_DTLS_SRTP_AEAD_AES_128_GCM}, 2,
         RTC_DTLS_SRTP_AES128_CM_SHA1_80},
        {{0}, 0, true, {0}, 0, 0}, /* data channels only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtc_dtls_config_t c1, c2;
        rtc_dtls_config_init(&c1);
        rtc_dtls_config_init(&c2);
        c1.cert = cert_a;
        c1.role = RTC_DTLS_ROLE_CLIENT;
        memcpy(c1.srtp_profiles, cases[i].cli, sizeof cases[i].cli);
        c1.n_srtp_profiles = cases[i].ncli;
        c1.no_srtp = cases[i].cli_no_srtp;
        c1.remote_fingerprints[0] = fp_of(cert_b);
        c1.n_remote_fingerprints = 1;
        c2.cert = cert_b;
        c2.role = RTC_DTLS_ROLE_SERVER;
        memcpy(c2.srtp_profiles, cases[i].srv, sizeof cases[i].srv);
        c2.n_srtp_profiles = cases[i].nsrv;
        c2.remote_fingerprints[0] = fp_of(cert_a);
        c2.n_remote_fingerprints = 1;
        rtc_dtls_t *cli, *srv;
        ck_assert_int_eq(rtc_dtls_create(&c1, &cli), RTC_OK);
        ck_assert_int_eq(rtc_dtls_create(&c2, &srv), RTC_OK);
        net_t *n = calloc(1, sizeof *n);
        net_init(n, cli, srv, 0, 8);
        start_both(n);
        net_run(n, RTC_SEC(10));
        ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
        ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
        ck_assert_msg(rtc_dtls_srtp_profile(srv) == cases[i].want, "case %zu: got 0x%x", i,
                      rtc_dtls_srtp_profile(srv));
        ck_assert_uint_eq(rtc_dtls_srtp_profile(cli), cases[i].want);
        if (cases[i].want) {
            assert_keys_agree(cli, srv, cases[i].want);
        } else {
            rtc_dtls_srtp_keys_t k;
            ck_assert_int_eq(rtc_dtls_get_srtp_keys(cli, &k), RTC_ERR_NOT_FOUND);
        }
        rtc_dtls_destroy(cli);
        rtc_dtls_destroy(srv);
        free(n);
    }
}
END_TEST

START_TEST(bad_configs_are_refused) {
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    rtc_dtls_t *d = NULL;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_ERR_INVALID_ARG); /* no cert */
    c.cert = cert_a;
    c.mtu = 100;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_ERR_INVALID_ARG);
    c.mtu = 0;
    c.srtp_profiles[0] = 0x0002; /* AES128_CM_SHA1_32: not supported by our SRTP layer */
    c.n_srtp_profiles = 1;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_ERR_INVALID_ARG);
    c.n_srtp_profiles = 0;
    c.role = (rtc_dtls_role_t)7;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_ERR_INVALID_ARG);
    c.role = RTC_DTLS_ROLE_CLIENT;
    c.n_remote_fingerprints = 1; /* zeroed fingerprint: wrong length for its algorithm */
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_ERR_INVALID_ARG);
    ck_assert_ptr_null(d);
    c.n_remote_fingerprints = 0;
    ck_assert_int_eq(rtc_dtls_create(&c, &d), RTC_OK);
    uint8_t p[20] = {22};
    ck_assert_int_eq(rtc_dtls_handle_datagram(d, p, sizeof p, 0), RTC_ERR_STATE); /* client not started */
    ck_assert_int_eq(rtc_dtls_start(d, 0), RTC_OK);
    ck_assert_int_eq(rtc_dtls_start(d, 0), RTC_ERR_STATE);
    rtc_dtls_destroy(d);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Close, failure, garbage.
 */
START_TEST(close_notify_reaches_the_peer) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 9);
    start_both(n);
    net_run(n, RTC_SEC(10));
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
    /* Data then close in the same instant: the data is still readable after the close. */
    ck_assert_int_eq(rtc_dtls_send(srv, "bye", 3), RTC_OK);
    ck_assert_int_eq(rtc_dtls_close(srv, n->now), RTC_OK);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CLOSED);
    ck_assert_int_eq(rtc_dtls_close(srv, n->now), RTC_OK); /* idempotent */
    ck_assert_int_eq(rtc_dtls_send(srv, "x", 1), RTC_ERR_STATE);
    net_run(n, n->now + RTC_SEC(1));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CLOSED);
    ck_assert(has_event(n, 0, RTC_DTLS_EVENT_CLOSED, 0));
    ck_assert(has_alert(n, 0, false, 0)); /* close_notify received */
    ck_assert(has_alert(n, 1, true, 0));  /* and sent */
    ck_assert(!has_event(n, 1, RTC_DTLS_EVENT_CLOSED, 0)); /* no event for a local close */
    uint8_t buf[16];
    ck_assert_int_eq(rtc_dtls_recv(cli, buf, sizeof buf), 3);
    ck_assert_mem_eq(buf, "bye", 3);
    ck_assert_str_eq(rtc_dtls_alert_name(0), "close_notify");
    ck_assert_str_eq(rtc_dtls_alert_name(42), "bad_certificate");
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(garbage_does_not_disturb_a_handshake) {
    rtc_dtls_t *cli = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, cert_b, 0);
    rtc_dtls_t *srv = make_ep(RTC_DTLS_ROLE_SERVER, cert_b, cert_a, 0);
    uint64_t r = 12345;
    uint8_t junk[300];
    /* Before start the server accepts DTLS-looking junk (starting implicitly). */
    for (int k = 0; k < 200; k++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            junk[i] = (uint8_t)r;
        }
        size_t len = 1 + (size_t)(r % sizeof junk);
        if (k % 2) {
            junk[0] = (uint8_t)(20 + k % 4); /* a plausible record header */
            junk[1] = 0xfe;
            junk[2] = 0xfd;
        }
        int rc = rtc_dtls_handle_datagram(srv, junk, len, 0);
        ck_assert(rc == RTC_OK || rc == RTC_ERR_MALFORMED);
    }
    ck_assert_int_eq(rtc_dtls_handle_datagram(srv, junk, 0, 0), RTC_ERR_MALFORMED);
    junk[0] = 0x80; /* RTP, not ours */
    ck_assert_int_eq(rtc_dtls_handle_datagram(srv, junk, 100, 0), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTING);
    rtc_dtls_stats_t st;
    rtc_dtls_get_stats(srv, &st);
    ck_assert_uint_ge(st.malformed_dropped, 2);
    while (rtc_dtls_poll_transmit(srv, junk, sizeof junk) > 0) {
    }
    net_t *n = calloc(1, sizeof *n);
    net_init(n, cli, srv, 0, 10);
    ck_assert_int_eq(rtc_dtls_start(cli, 0), RTC_OK);
    net_run(n, RTC_SEC(10));
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
    /* And junk after the handshake neither breaks the session nor yields data. */
    for (int k = 0; k < 100; k++) {
        junk[0] = 23;
        junk[1] = 0xfe;
        junk[2] = 0xfd;
        rtc_dtls_handle_datagram(srv, junk, 40 + (size_t)k, n->now);
    }
    uint8_t buf[64];
    ck_assert_int_eq(rtc_dtls_recv(srv, buf, sizeof buf), RTC_ERR_AGAIN);
    ck_assert_int_eq(rtc_dtls_send(cli, "still", 5), RTC_OK);
    net_run(n, n->now + RTC_SEC(1));
    ck_assert_int_eq(rtc_dtls_recv(srv, buf, sizeof buf), 5);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    free(n);
}
END_TEST

START_TEST(one_certificate_serves_many_sessions) {
    /* The creator drops its reference right after handing the cert to the endpoints. */
    rtc_dtls_cert_t *shared;
    ck_assert_int_eq(rtc_dtls_cert_generate("sfu", 7, &shared), RTC_OK);
    rtc_dtls_fingerprint_t fs = fp_of(shared);
    enum { N = 8 };
    rtc_dtls_t *srv[N], *cli[N];
    for (int i = 0; i < N; i++) {
        rtc_dtls_config_t c;
        rtc_dtls_config_init(&c);
        c.cert = shared;
        c.role = RTC_DTLS_ROLE_SERVER;
        c.remote_fingerprints[0] = fp_of(cert_a);
        c.n_remote_fingerprints = 1;
        ck_assert_int_eq(rtc_dtls_create(&c, &srv[i]), RTC_OK);
        cli[i] = make_ep(RTC_DTLS_ROLE_CLIENT, cert_a, NULL, 0);
        ck_assert_int_eq(rtc_dtls_set_remote_fingerprints(cli[i], &fs, 1, 0), RTC_OK);
    }
    rtc_dtls_cert_unref(shared);
    uint8_t keys[N][16];
    for (int i = 0; i < N; i++) {
        net_t *n = calloc(1, sizeof *n);
        net_init(n, cli[i], srv[i], 0, 20 + (uint64_t)i);
        start_both(n);
        net_run(n, RTC_SEC(10));
        ck_assert_int_eq(rtc_dtls_state(srv[i]), RTC_DTLS_STATE_CONNECTED);
        rtc_dtls_srtp_keys_t k;
        ck_assert_int_eq(rtc_dtls_get_srtp_keys(srv[i], &k), RTC_OK);
        memcpy(keys[i], k.server_key, 16);
        for (int j = 0; j < i; j++) ck_assert(memcmp(keys[i], keys[j], 16) != 0); /* fresh keys */
        free(n);
    }
    for (int i = 0; i < N; i++) {
        rtc_dtls_destroy(srv[i]);
        rtc_dtls_destroy(cli[i]);
    }
}
END_TEST

int main(void) {
    rtc_log_set_level(getenv("RTC_TEST_LOG") ? RTC_LOG_DEBUG : RTC_LOG_ERROR);
    Suite *s = suite_create("dtls");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, certs_setup, certs_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fingerprint_parse_accepts_sdp_forms);
    tcase_add_test(tc, fingerprint_parse_rejects_junk);
    tcase_add_test(tc, generated_cert_is_self_signed_ecdsa_p256);
    tcase_add_test(tc, cert_pem_round_trip_keeps_fingerprint);
    tcase_add_test(tc, handshake_completes_and_both_sides_derive_the_same_keys);
    tcase_add_test(tc, application_data_flows_both_ways_record_by_record);
    tcase_add_test(tc, receive_queue_is_bounded_and_drops_are_counted);
    tcase_add_loop_test(tc, handshake_completes_with_20_percent_loss, 0, 20);
    tcase_add_test(tc, lossy_handshakes_really_retransmit);
    tcase_add_test(tc, small_mtu_fragments_flights_and_survives_loss);
    tcase_add_test(tc, retransmission_follows_the_callers_clock_with_backoff);
    tcase_add_test(tc, client_rejects_server_with_wrong_fingerprint);
    tcase_add_test(tc, server_rejects_client_with_wrong_fingerprint);
    tcase_add_test(tc, any_of_several_fingerprints_may_match);
    tcase_add_loop_test(tc, late_fingerprint_holds_connected_until_it_matches, 0, 2);
    tcase_add_test(tc, data_sent_before_late_verification_is_held_then_delivered);
    tcase_add_test(tc, srtp_profile_follows_what_both_support);
    tcase_add_test(tc, bad_configs_are_refused);
    tcase_add_test(tc, close_notify_reaches_the_peer);
    tcase_add_test(tc, garbage_does_not_disturb_a_handshake);
    tcase_add_test(tc, one_certificate_serves_many_sessions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
