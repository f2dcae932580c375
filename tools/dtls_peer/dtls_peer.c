/* rtc_dtls_peer: one of our DTLS endpoints on a real UDP socket, driven by poll() and the
 * real clock — the runtime glue a sans-I/O layer needs, in miniature. Used by
 * tests/interop/test_openssl_dtls.sh against openssl s_server / s_client.
 *
 * It prints one line per fact, for scripts to read:
 *   BOUND <addr>            FINGERPRINT <sdp fingerprint of our certificate>
 *   CONNECTED cipher=<iana name> profile=0x<srtp profile>
 *   SRTPKEYS <hex>          our split keys re-joined in RFC 5764 4.2 order
 *   KEYMAT <hex>            raw "EXTRACTOR-dtls_srtp" export of --keymat-len bytes
 *   RECEIVED <text>         ALERT <sent|received> <warning|fatal> <name>
 *   FAILED <reason>         CLOSED
 * and exits 0 once connected and every --expect was seen, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/dtls.h"
#include "rtc/net.h"

typedef struct {
    rtc_dtls_role_t role;
    const char *bind, *connect, *fingerprint, *cert, *key, *send, *expect;
    const char *profiles;
    size_t mtu, keymat_len;
    long timeout_ms;
    bool close;
} opts_t;

static void usage(void) {
    fprintf(stderr,
            "usage: rtc_dtls_peer --role client|server [--bind 127.0.0.1:0] [--connect ADDR]\n"
            "         [--fingerprint 'sha-256 AB:..'] [--cert PEM --key PEM] [--profiles gcm,cm80]\n"
            "         [--mtu N] [--send TEXT] [--expect TEXT] [--keymat-len N] [--close]\n"
            "         [--timeout-ms N]\n"
            "Only loopback or test-namespace addresses belong in tests.\n");
}

static int parse_opts(int argc, char **argv, opts_t *o) {
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1:0";
    o->timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--close")) {
            o->close = true;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--role")) {
            if (!strcmp(v, "client")) o->role = RTC_DTLS_ROLE_CLIENT;
            else if (!strcmp(v, "server")) o->role = RTC_DTLS_ROLE_SERVER;
            else return -1;
        } else if (!strcmp(a, "--bind")) o->bind = v;
        else if (!strcmp(a, "--connect")) o->connect = v;
        else if (!strcmp(a, "--fingerprint")) o->fingerprint = v;
        else if (!strcmp(a, "--cert")) o->cert = v;
        else if (!strcmp(a, "--key")) o->key = v;
        else if (!strcmp(a, "--profiles")) o->profiles = v;
        else if (!strcmp(a, "--send")) o->send = v;
        else if (!strcmp(a, "--expect")) o->expect = v;
        else if (!strcmp(a, "--mtu")) o->mtu = (size_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--keymat-len")) o->keymat_len = (size_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--timeout-ms")) o->timeout_ms = strtol(v, NULL, 10);
        else return -1;
    }
    if (o->role == RTC_DTLS_ROLE_CLIENT && !o->connect) return -1;
    if (!o->cert != !o->key) return -1;
    return 0;
}

static void print_hex(const char *tag, const uint8_t *p, size_t n) {
    char hex[1024];
    if (rtc_hex_encode(p, n, 0, true, hex, sizeof hex) < 0) return;
    printf("%s %s\n", tag, hex);
}

static int set_profiles(rtc_dtls_config_t *c, const char *list) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (c->n_srtp_profiles == RTC_DTLS_SRTP_MAX_PROFILES) return -1;
        if (!strcmp(t, "gcm")) c->srtp_profiles[c->n_srtp_profiles++] = RTC_DTLS_SRTP_AEAD_AES_128_GCM;
        else if (!strcmp(t, "cm80")) c->srtp_profiles[c->n_srtp_profiles++] = RTC_DTLS_SRTP_AES128_CM_SHA1_80;
        else return -1;
    }
    return 0;
}

static void on_connected(rtc_dtls_t *d, const opts_t *o) {
    printf("CONNECTED cipher=%s profile=0x%04x\n", rtc_dtls_cipher(d) ? rtc_dtls_cipher(d) : "?",
           rtc_dtls_srtp_profile(d));
    rtc_dtls_srtp_keys_t k;
    if (rtc_dtls_get_srtp_keys(d, &k) == RTC_OK) {
        uint8_t joined[2 * (32 + 14)];
        size_t n = 0;
        memcpy(joined + n, k.client_key, k.key_len), n += k.key_len;
        memcpy(joined + n, k.server_key, k.key_len), n += k.key_len;
        memcpy(joined + n, k.client_salt, k.salt_len), n += k.salt_len;
        memcpy(joined + n, k.server_salt, k.salt_len), n += k.salt_len;
        print_hex("SRTPKEYS", joined, n);
    }
    if (o->keymat_len > 0 && o->keymat_len <= 256) {
        uint8_t km[256];
        if (rtc_dtls_export_keying_material(d, "EXTRACTOR-dtls_srtp", NULL, 0, km, o->keymat_len) == RTC_OK)
            print_hex("KEYMAT", km, o->keymat_len);
    }
    if (o->send && rtc_dtls_send(d, o->send, strlen(o->send)) != RTC_OK) printf("FAILED send\n");
}

int main(int argc, char **argv) {
    opts_t o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rtc_log_set_level(RTC_LOG_WARN);

    rtc_dtls_cert_t *cert = NULL;
    int r = o.cert ? rtc_dtls_cert_load_files(o.cert, o.key, &cert) : rtc_dtls_cert_generate("rtc-dtls-peer", 1, &cert);
    if (r != RTC_OK) {
        printf("FAILED certificate: %s\n", rtc_strerror(r));
        return 1;
    }
    rtc_dtls_config_t cfg;
    rtc_dtls_config_init(&cfg);
    cfg.cert = cert;
    cfg.role = o.role;
    cfg.mtu = o.mtu;
    cfg.log_id = o.role == RTC_DTLS_ROLE_CLIENT ? "peer-client" : "peer-server";
    if (o.profiles && set_profiles(&cfg, o.profiles) != 0) {
        usage();
        return 2;
    }
    if (o.fingerprint) {
        if (rtc_dtls_fingerprint_parse(o.fingerprint, strlen(o.fingerprint), &cfg.remote_fingerprints[0]) != RTC_OK) {
            printf("FAILED bad --fingerprint\n");
            return 2;
        }
        cfg.n_remote_fingerprints = 1;
    }
    rtc_dtls_fingerprint_t mine;
    char fps[RTC_DTLS_FINGERPRINT_STRLEN];
    rtc_dtls_cert_fingerprint(cert, RTC_DIGEST_SHA256, &mine);
    rtc_dtls_fingerprint_format(&mine, fps, sizeof fps);
    printf("FINGERPRINT %s\n", fps);

    rtc_addr_t bind_addr, peer;
    bool have_peer = false;
    memset(&peer, 0, sizeof peer);
    if (rtc_addr_parse(&bind_addr, o.bind, 0) != RTC_OK ||
        (o.connect && rtc_addr_parse(&peer, o.connect, 0) != RTC_OK)) {
        printf("FAILED bad address\n");
        return 2;
    }
    have_peer = o.connect != NULL;
    rtc_udp_socket_t *sock = NULL;
    if ((r = rtc_udp_socket_open(&bind_addr, NULL, &sock)) != RTC_OK) {
        printf("FAILED bind: %s\n", rtc_strerror(r));
        return 1;
    }
    printf("BOUND %s\n", rtc_addr_str(rtc_udp_socket_local(sock)));

    rtc_dtls_t *d = NULL;
    if ((r = rtc_dtls_create(&cfg, &d)) != RTC_OK) {
        printf("FAILED create: %s\n", rtc_strerror(r));
        return 1;
    }
    rtc_time_t now = rtc_clock_now();
    rtc_time_t deadline = now + RTC_MS(o.timeout_ms);
    rtc_dtls_start(d, now);

    bool connected = false, got_expect = !o.expect, finished = false;
    int status = 1;
    static uint8_t buf[RTC_DTLS_MAX_APP_DATA + 512];
    while (!finished) {
        int n;
        while (have_peer && (n = rtc_dtls_poll_transmit(d, buf, sizeof buf)) > 0)
            rtc_udp_send(sock, &peer, buf, (size_t)n);
        rtc_dtls_event_t ev;
        while (rtc_dtls_poll_event(d, &ev)) {
            switch (ev.type) {
            case RTC_DTLS_EVENT_CONNECTED:
                connected = true;
                on_connected(d, &o);
                break;
            case RTC_DTLS_EVENT_ALERT:
                printf("ALERT %s %s %s\n", ev.alert_sent ? "sent" : "received",
                       ev.alert_level == 2 ? "fatal" : "warning", rtc_dtls_alert_name(ev.alert_description));
                break;
            case RTC_DTLS_EVENT_CLOSED:
                printf("CLOSED\n");
                finished = true;
                break;
            case RTC_DTLS_EVENT_FAILED:
                printf("FAILED %s\n", rtc_strerror(ev.error));
                finished = true;
                break;
            }
        }
        while ((n = rtc_dtls_recv(d, buf, sizeof buf - 1)) > 0) {
            buf[n] = 0;
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
            printf("RECEIVED %s\n", (char *)buf);
            if (o.expect && strstr((char *)buf, o.expect)) got_expect = true;
        }
        if (connected && got_expect) {
            status = 0;
            break;
        }
        if (finished) break;
        now = rtc_clock_now();
        if (now >= deadline) {
            printf("FAILED timeout in state %s\n", rtc_dtls_state_name(rtc_dtls_state(d)));
            break;
        }
        rtc_time_t wake = rtc_dtls_next_timeout(d);
        if (wake > deadline) wake = deadline;
        int ms = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
        struct pollfd pfd = {.fd = rtc_udp_socket_fd(sock), .events = POLLIN};
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
            printf("FAILED poll: %s\n", strerror(errno));
            break;
        }
        now = rtc_clock_now();
        if (pfd.revents & POLLIN) {
            rtc_datagram_t msgs[8];
            static uint8_t space[8][65536];
            for (int i = 0; i < 8; i++) msgs[i] = (rtc_datagram_t){.data = space[i], .cap = sizeof space[i]};
            int got = rtc_udp_recv_batch(sock, msgs, 8);
            for (int i = 0; i < got; i++) {
                if (!have_peer && o.role == RTC_DTLS_ROLE_SERVER) {
                    peer = msgs[i].peer; /* the first sender is our peer */
                    have_peer = true;
                }
                if (rtc_addr_equal(&msgs[i].peer, &peer)) rtc_dtls_handle_datagram(d, msgs[i].data, msgs[i].len, now);
            }
        }
        if (rtc_dtls_next_timeout(d) <= now) rtc_dtls_handle_timeout(d, now);
    }
    if (o.close && connected) {
        rtc_dtls_close(d, rtc_clock_now());
        int n;
        while (have_peer && (n = rtc_dtls_poll_transmit(d, buf, sizeof buf)) > 0)
            rtc_udp_send(sock, &peer, buf, (size_t)n);
    }
    rtc_dtls_destroy(d);
    rtc_dtls_cert_unref(cert);
    rtc_udp_socket_close(sock);
    return status;
}
