/* `starling-loadtest turn-check`: drives one rtc_turn_client_t through every TURN step against a
 * real server — allocate (answering its 401), CreatePermission, Send indication to a UDP peer
 * this process owns on loopback, the peer's answer back as a Data indication, ChannelBind,
 * ChannelData both ways, release — and exits 0 only if each step did what RFC 8656 says.
 * Over UDP or TCP (the stream is ours; the client only frames bytes). */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lt.h"

typedef struct {
    int fd;                 /* to the server: UDP connected, or TCP */
    bool tcp;               /* a stream: TCP, or TLS over it when ssl is set */
    SSL *ssl;
    rtc_turn_client_t *c;
    bool failed;
    int fail_err, fail_code;
    bool released;
    int data_events, data_via_channel, data_via_indication;
    char last_data[256];
    rtc_addr_t last_peer;
    int sent_channel_data, sent_indications;
} check_t;

static void on_send(void *user, const uint8_t *p, size_t n) {
    check_t *k = user;
    if (rtc_turn_is_channel_data(p, n)) k->sent_channel_data++;
    else if (n >= 20 && rtc_be16(p) == 0x0016) k->sent_indications++; /* Send indication */
    if (k->ssl) {
        /* Blocking socket under TLS: SSL_write takes it all or fails. */
        if (SSL_write(k->ssl, p, (int)n) <= 0) fprintf(stderr, "TLS write failed\n");
        return;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(k->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {.fd = k->fd, .events = POLLOUT};
            poll(&pfd, 1, 100);
            continue;
        }
        if (w < 0) {
            fprintf(stderr, "send to server: %s\n", strerror(errno));
            return;
        }
        off += (size_t)w;
        if (!k->tcp) break;
    }
}

static void on_event(void *user, const rtc_turn_event_t *ev) {
    check_t *k = user;
    switch (ev->type) {
    case RTC_TURN_EVENT_FAILED:
        k->failed = true;
        k->fail_err = ev->error;
        k->fail_code = ev->stun_code;
        break;
    case RTC_TURN_EVENT_RELEASED: k->released = true; break;
    case RTC_TURN_EVENT_DATA: {
        k->data_events++;
        if (ev->channel) k->data_via_channel++;
        else k->data_via_indication++;
        size_t n = ev->len < sizeof k->last_data - 1 ? ev->len : sizeof k->last_data - 1;
        memcpy(k->last_data, ev->data, n);
        k->last_data[n] = '\0';
        k->last_peer = ev->peer;
        break;
    }
    case RTC_TURN_EVENT_PERMISSION:
    case RTC_TURN_EVENT_CHANNEL:
        if (ev->error) {
            fprintf(stderr, "%s for %s failed: %s (STUN %d)\n",
                    ev->type == RTC_TURN_EVENT_CHANNEL ? "ChannelBind" : "CreatePermission",
                    rtc_addr_str(&ev->peer), rtc_strerror(ev->error), ev->stun_code);
            k->failed = true;
            k->fail_err = ev->error;
            k->fail_code = ev->stun_code;
        }
        break;
    default: break;
    }
}

/* Runs the client and the peer socket until done() or the deadline. The peer echoes every
 * datagram it gets back to where it came from with "echo:" in front, and records the source. */
typedef bool (*done_fn)(check_t *k);

static rtc_addr_t g_peer_seen_from;
static int g_peer_received;

static bool pump(check_t *k, int peer_fd, done_fn done, double seconds) {
    rtc_time_t deadline = rtc_clock_now() + (rtc_time_t)(seconds * 1e6);
    uint8_t buf[70000];
    while (!done(k)) {
        rtc_time_t now = rtc_clock_now();
        if (now >= deadline) return false;
        rtc_time_t next = rtc_turn_client_next_timeout(k->c);
        if (next > deadline) next = deadline;
        int ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
        if (ms > 100) ms = 100;
        struct pollfd pfd[2] = {{.fd = k->fd, .events = POLLIN}, {.fd = peer_fd, .events = POLLIN}};
        /* TLS may hold decrypted bytes the socket no longer shows as readable. */
        int rc = (k->ssl && SSL_pending(k->ssl) > 0) ? 1 : poll(pfd, 2, ms);
        if (k->ssl && SSL_pending(k->ssl) > 0) pfd[0].revents = POLLIN;
        now = rtc_clock_now();
        if (rc > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n;
            if (k->ssl) {
                n = SSL_read(k->ssl, buf, sizeof buf);
                if (n <= 0) {
                    int e = SSL_get_error(k->ssl, (int)n);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
                    fprintf(stderr, "TLS connection to the server: closed or failed (%d)\n", e);
                    return false;
                }
            } else {
                n = recv(k->fd, buf, sizeof buf, 0);
            }
            if (n > 0) {
                if (k->tcp) {
                    if (rtc_turn_client_handle_stream(k->c, buf, (size_t)n, now) != RTC_OK) {
                        fprintf(stderr, "framing error on the TCP stream\n");
                        return false;
                    }
                } else {
                    rtc_turn_client_handle_datagram(k->c, buf, (size_t)n, now);
                }
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "server connection: %s\n", n == 0 ? "closed" : strerror(errno));
                return false;
            }
        }
        if (rc > 0 && (pfd[1].revents & POLLIN)) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            ssize_t n = recvfrom(peer_fd, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&ss, &sl);
            if (n > 0) {
                rtc_addr_from_sockaddr(&g_peer_seen_from, (struct sockaddr *)&ss, sl);
                g_peer_received++;
                memcpy(buf, "echo:", 5);
                sendto(peer_fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&ss, sl);
            }
        }
        if (rtc_turn_client_next_timeout(k->c) <= now) rtc_turn_client_handle_timeout(k->c, now);
    }
    return true;
}

static bool is_settled(check_t *k) {
    rtc_turn_client_state_t s = rtc_turn_client_state(k->c);
    return k->failed || s == RTC_TURN_CLIENT_ALLOCATED || s == RTC_TURN_CLIENT_FAILED;
}
static rtc_addr_t g_peer;
static bool has_perm(check_t *k) { return k->failed || rtc_turn_client_has_permission(k->c, &g_peer); }
static bool has_chan(check_t *k) { return k->failed || rtc_turn_client_channel(k->c, &g_peer) != 0; }
static int g_want_events;
static bool got_events(check_t *k) { return k->data_events >= g_want_events; }
static bool is_released(check_t *k) { return k->released; }

static void usage(void) {
    printf("usage: starling-loadtest turn-check --server HOST:PORT [--transport udp|tcp|tls]\n"
           "         (--user U --password P | --secret S [--user U]) [--peer-ip 127.0.0.1]\n"
           "         [--family 4|6] [--expect-fail CODE] [--count N] [--ca FILE]\n"
           "  Allocates, permits and binds a channel to a UDP peer it runs on --peer-ip, relays\n"
           "  --count datagrams each way with Send/Data indications and with ChannelData, then\n"
           "  releases. With --expect-fail CODE, passes only if allocation fails with that STUN\n"
           "  error code (e.g. 401 for a wrong password). TLS verifies the server's certificate\n"
           "  against --ca when given (no host name check: loopback), else does not verify.\n");
}

int lt_turn_check_main(int argc, char **argv) {
    const char *server_s = NULL, *transport = "udp", *user = NULL, *password = NULL, *secret = NULL;
    const char *peer_ip = "127.0.0.1", *ca = NULL;
    int expect_fail = 0, count = 5, family = 0;
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'},   {"transport", required_argument, 0, 't'},
        {"user", required_argument, 0, 'u'},     {"password", required_argument, 0, 'p'},
        {"secret", required_argument, 0, 'S'},   {"peer-ip", required_argument, 0, 'P'},
        {"expect-fail", required_argument, 0, 'E'}, {"count", required_argument, 0, 'n'},
        {"family", required_argument, 0, 'f'},   {"help", no_argument, 0, 'h'},
        {"ca", required_argument, 0, 'C'},
        {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's': server_s = optarg; break;
        case 't': transport = optarg; break;
        case 'u': user = optarg; break;
        case 'p': password = optarg; break;
        case 'S': secret = optarg; break;
        case 'P': peer_ip = optarg; break;
        case 'E': expect_fail = atoi(optarg); break;
        case 'n': count = atoi(optarg); break;
        case 'f': family = atoi(optarg); break;
        case 'C': ca = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    rtc_addr_t server, bind_addr, peer_bind;
    if (!server_s || lt_parse_addr(&server, server_s, 3478) < 0) { usage(); return 2; }
    bool tls = !strcmp(transport, "tls");
    bool tcp = tls || !strcmp(transport, "tcp");
    if (!tcp && strcmp(transport, "udp")) { fprintf(stderr, "transport must be udp, tcp or tls\n"); return 2; }
    lt_creds_t creds;
    if (lt_creds_make(&creds, user, password, secret, 3600) < 0) return 2;
    rtc_log_set_level(RTC_LOG_WARN);

    check_t k = {.tcp = tcp};
    SSL_CTX *ctx = NULL;
    memset(&bind_addr, 0, sizeof bind_addr);
    bind_addr.family = server.family;
    if (server.family == RTC_AF_INET4) rtc_addr_parse(&bind_addr, "127.0.0.1", 0);
    else rtc_addr_parse(&bind_addr, "::1", 0);
    if (tcp) {
        k.fd = socket(server.family == RTC_AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage ss;
        int sl = rtc_addr_to_sockaddr(&server, &ss, sizeof ss);
        if (k.fd < 0 || connect(k.fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
            fprintf(stderr, "FAIL: TCP connect to %s: %s\n", server_s, strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (tls) {
            ctx = SSL_CTX_new(TLS_client_method());
            if (ca) {
                if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) { fprintf(stderr, "FAIL: cannot load %s\n", ca); return 1; }
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            }
            k.ssl = SSL_new(ctx);
            SSL_set_fd(k.ssl, k.fd);
            if (SSL_connect(k.ssl) != 1) {
                fprintf(stderr, "FAIL: TLS handshake with %s\n", server_s);
                ERR_print_errors_fp(stderr);
                return 1;
            }
            printf("ok: TLS %s with %s\n", SSL_get_version(k.ssl), SSL_get_cipher(k.ssl));
        }
    } else {
        k.fd = lt_udp_socket(&bind_addr, &server, 0, 0);
        if (k.fd < 0) { fprintf(stderr, "FAIL: UDP socket: %s\n", strerror(errno)); return 1; }
    }
    if (lt_parse_addr(&peer_bind, peer_ip, 0) < 0) return 2;
    int peer_fd = lt_udp_socket(&peer_bind, NULL, 0, 0);
    if (peer_fd < 0) { fprintf(stderr, "FAIL: peer socket on %s\n", peer_ip); return 1; }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(peer_fd, (struct sockaddr *)&ss, &sl);
    rtc_addr_from_sockaddr(&g_peer, (struct sockaddr *)&ss, sl);

    rtc_turn_client_config_t cfg = {.server = server, .stream = tcp, .username = creds.username,
                                    .password = creds.password, .software = "starling-loadtest",
                                    .family = (uint8_t)family};
    rtc_turn_client_callbacks_t cb = {.send = on_send, .event = on_event, .user = &k};
    k.c = rtc_turn_client_create(&cfg, &cb);
    int status = 1;
    if (!k.c) { fprintf(stderr, "FAIL: client create\n"); goto out; }

    rtc_turn_client_allocate(k.c, rtc_clock_now());
    if (!pump(&k, peer_fd, is_settled, 15)) { fprintf(stderr, "FAIL: no answer to Allocate\n"); goto out; }
    if (expect_fail) {
        int code = 0, err = rtc_turn_client_error(k.c, &code);
        if (rtc_turn_client_state(k.c) == RTC_TURN_CLIENT_FAILED && code == expect_fail) {
            printf("ok: allocation failed as expected: %s, STUN %d\n", rtc_strerror(err), code);
            status = 0;
        } else {
            fprintf(stderr, "FAIL: expected failure %d, got state %s error %d\n", expect_fail,
                    rtc_turn_client_state_name(rtc_turn_client_state(k.c)), code);
        }
        goto out;
    }
    if (rtc_turn_client_state(k.c) != RTC_TURN_CLIENT_ALLOCATED) {
        fprintf(stderr, "FAIL: allocation failed: %s, STUN %d\n", rtc_strerror(k.fail_err), k.fail_code);
        goto out;
    }
    printf("ok: allocated relayed=%s", rtc_addr_str(rtc_turn_client_relayed(k.c)));
    printf(" mapped=%s over %s\n", rtc_addr_str(rtc_turn_client_mapped(k.c)), transport);

    rtc_turn_client_create_permission(k.c, &g_peer, rtc_clock_now());
    if (!pump(&k, peer_fd, has_perm, 10) || k.failed) { fprintf(stderr, "FAIL: CreatePermission\n"); goto out; }
    printf("ok: permission for %s\n", rtc_addr_str(&g_peer));

    /* Send indications out, Data indications back. */
    for (int i = 0; i < count; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "via-send-indication-%d", i);
        int before = k.data_events;
        int rc = rtc_turn_client_send(k.c, &g_peer, (const uint8_t *)msg, (size_t)n, rtc_clock_now());
        if (rc != RTC_OK) { fprintf(stderr, "FAIL: send: %s\n", rtc_strerror(rc)); goto out; }
        g_want_events = before + 1;
        if (!pump(&k, peer_fd, got_events, 5)) { fprintf(stderr, "FAIL: no echo for %s\n", msg); goto out; }
        char want[80];
        snprintf(want, sizeof want, "echo:%s", msg);
        if (strcmp(k.last_data, want) || !rtc_addr_equal(&k.last_peer, &g_peer)) {
            fprintf(stderr, "FAIL: got '%s' from %s, want '%s'\n", k.last_data, rtc_addr_str(&k.last_peer), want);
            goto out;
        }
    }
    if (!rtc_addr_equal(&g_peer_seen_from, rtc_turn_client_relayed(k.c))) {
        fprintf(stderr, "FAIL: peer saw data from %s, not the relayed address\n", rtc_addr_str(&g_peer_seen_from));
        goto out;
    }
    if (k.sent_indications < count || k.data_via_indication < count) {
        fprintf(stderr, "FAIL: %d Send indications, %d Data indications\n", k.sent_indications, k.data_via_indication);
        goto out;
    }
    printf("ok: %d Send indications relayed to the peer from %s, %d Data indications back\n", count,
           rtc_addr_str(&g_peer_seen_from), k.data_via_indication);

    int ch = rtc_turn_client_bind_channel(k.c, &g_peer, rtc_clock_now());
    if (ch < 0 || !pump(&k, peer_fd, has_chan, 10) || k.failed) { fprintf(stderr, "FAIL: ChannelBind\n"); goto out; }
    printf("ok: channel 0x%04x bound to %s\n", ch, rtc_addr_str(&g_peer));
    int via_channel_before = k.data_via_channel;
    for (int i = 0; i < count; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "via-channel-data-%d", i);
        int before = k.data_events;
        if (rtc_turn_client_send(k.c, &g_peer, (const uint8_t *)msg, (size_t)n, rtc_clock_now()) != RTC_OK) goto out;
        g_want_events = before + 1;
        if (!pump(&k, peer_fd, got_events, 5)) { fprintf(stderr, "FAIL: no echo for %s\n", msg); goto out; }
        char want[80];
        snprintf(want, sizeof want, "echo:%s", msg);
        if (strcmp(k.last_data, want)) { fprintf(stderr, "FAIL: got '%s'\n", k.last_data); goto out; }
    }
    if (k.sent_channel_data < count || k.data_via_channel - via_channel_before < count) {
        fprintf(stderr, "FAIL: %d ChannelData sent, %d received\n", k.sent_channel_data,
                k.data_via_channel - via_channel_before);
        goto out;
    }
    printf("ok: %d ChannelData relayed each way\n", count);

    rtc_turn_client_release(k.c, rtc_clock_now());
    if (!pump(&k, peer_fd, is_released, 10)) { fprintf(stderr, "FAIL: release not answered\n"); goto out; }
    printf("ok: released\n");
    printf("PASS\n");
    status = 0;
out:
    rtc_turn_client_destroy(k.c);
    if (k.ssl) {
        SSL_shutdown(k.ssl);
        SSL_free(k.ssl);
    }
    SSL_CTX_free(ctx);
    close(k.fd);
    close(peer_fd);
    return status;
}
