/* libFuzzer target: the DTLS record input path. Arbitrary datagrams go to an endpoint in
 * one of four states, chosen by the first input byte:
 *   0  a fresh server (waiting for a ClientHello),
 *   1  a client that has sent its ClientHello (waiting for the server's flight),
 *   2  a server that answered a real ClientHello (waiting for the client's flight),
 *   3  a server with a completed handshake (application data, alerts, close_notify).
 * The rest is a sequence of datagrams, each as a 2-byte big-endian length and the bytes; a
 * zero length instead advances the clock by a second and fires the timers. Whatever comes
 * out is drained, as a caller would. The properties checked are the sanitizers' plus: no
 * datagram exceeds the MTU, and receive never hands back more than was asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/dtls.h"

static rtc_dtls_cert_t *cert_s, *cert_c;
static rtc_dtls_fingerprint_t fp_s, fp_c;

static void init_once(void) {
    if (cert_s) return;
    rtc_log_set_level(RTC_LOG_OFF);
    if (rtc_dtls_cert_generate("fuzz-server", 1, &cert_s) != RTC_OK ||
        rtc_dtls_cert_generate("fuzz-client", 1, &cert_c) != RTC_OK)
        abort();
    rtc_dtls_cert_fingerprint(cert_s, RTC_DIGEST_SHA256, &fp_s);
    rtc_dtls_cert_fingerprint(cert_c, RTC_DIGEST_SHA256, &fp_c);
}

static rtc_dtls_t *make(rtc_dtls_role_t role) {
    rtc_dtls_config_t c;
    rtc_dtls_config_init(&c);
    c.role = role;
    c.cert = role == RTC_DTLS_ROLE_SERVER ? cert_s : cert_c;
    c.remote_fingerprints[0] = role == RTC_DTLS_ROLE_SERVER ? fp_c : fp_s;
    c.n_remote_fingerprints = 1;
    c.mtu = 1200;
    rtc_dtls_t *d = NULL;
    if (rtc_dtls_create(&c, &d) != RTC_OK) abort();
    return d;
}

static void drain(rtc_dtls_t *d, rtc_dtls_t *forward_to, rtc_time_t now) {
    static uint8_t buf[RTC_DTLS_MAX_APP_DATA + 512];
    int n;
    while ((n = rtc_dtls_poll_transmit(d, buf, sizeof buf)) > 0) {
        if (n > 1200) abort(); /* nothing we send here may exceed the MTU */
        if (forward_to) rtc_dtls_handle_datagram(forward_to, buf, (size_t)n, now);
    }
    if (n < 0) abort();
    rtc_dtls_event_t ev;
    while (rtc_dtls_poll_event(d, &ev)) {
    }
    uint8_t small[64];
    while ((n = rtc_dtls_recv(d, small, sizeof small)) != RTC_ERR_AGAIN) {
        if (n > (int)sizeof small) abort();
        if (n == RTC_ERR_OVERFLOW) {
            if ((n = rtc_dtls_recv(d, buf, sizeof buf)) < 0) abort();
        }
    }
}

/* Runs a real handshake between a client and a server up to the requested point. */
static rtc_dtls_t *prepare(int mode, rtc_dtls_t **peer_out) {
    rtc_dtls_t *srv = make(RTC_DTLS_ROLE_SERVER), *cli = NULL;
    rtc_dtls_t *target = srv;
    switch (mode) {
    case 0:
        rtc_dtls_start(srv, 0);
        break;
    case 1:
        rtc_dtls_destroy(srv);
        cli = make(RTC_DTLS_ROLE_CLIENT);
        rtc_dtls_start(cli, 0);
        drain(cli, NULL, 0);
        target = cli;
        cli = NULL;
        break;
    case 2:
        cli = make(RTC_DTLS_ROLE_CLIENT);
        rtc_dtls_start(cli, 0);
        rtc_dtls_start(srv, 0);
        drain(cli, srv, 0); /* ClientHello -> server */
        drain(srv, NULL, 0); /* the server's flight is lost */
        break;
    default:
        cli = make(RTC_DTLS_ROLE_CLIENT);
        rtc_dtls_start(cli, 0);
        rtc_dtls_start(srv, 0);
        for (int i = 0; i < 4; i++) {
            drain(cli, srv, 0);
            drain(srv, cli, 0);
        }
        if (rtc_dtls_state(srv) != RTC_DTLS_STATE_CONNECTED) abort();
        break;
    }
    *peer_out = cli;
    return target;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    rtc_dtls_t *peer = NULL;
    rtc_dtls_t *d = prepare(data[0] % 4, &peer);
    rtc_time_t now = 0;
    size_t i = 1;
    while (i + 2 <= size) {
        size_t len = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (len == 0) {
            now += RTC_SEC(1);
            rtc_dtls_handle_timeout(d, now);
        } else {
            if (len > size - i) len = size - i;
            rtc_dtls_handle_datagram(d, data + i, len, now);
            i += len;
        }
        drain(d, NULL, now);
        if (rtc_dtls_state(d) == RTC_DTLS_STATE_CONNECTED) (void)rtc_dtls_send(d, "x", 1);
    }
    rtc_dtls_destroy(d);
    rtc_dtls_destroy(peer);
    return 0;
}
