/* starling-stun: ask a STUN server for our mapped address, or answer Binding requests.
 *
 *   starling-stun [--bind ADDR] [--timeout SEC] SERVER[:PORT]   print the mapped address
 *   starling-stun --serve ADDR[:PORT] [--count N]                run a Binding responder
 *
 * Drives the sans-I/O Binding client/responder from libwebrtc with a plain poll() loop. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/net.h"
#include "rtc/stun.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: starling-stun [options] SERVER[:PORT]\n"
            "       starling-stun --serve ADDR[:PORT] [--count N]\n\n"
            "Client: sends a STUN Binding request (RFC 8489) and prints the mapped address.\n"
            "  --bind ADDR[:PORT]   local address to send from (default 0.0.0.0 / ::)\n"
            "  --timeout SEC        give up after SEC seconds (default 10; RFC schedule inside)\n"
            "  --json               print {\"mapped\":...,\"rtt_ms\":...,\"software\":...}\n"
            "Server: answers Binding requests with XOR-MAPPED-ADDRESS.\n"
            "  --serve ADDR[:PORT]  listen address (port default 3478)\n"
            "  --count N            exit after answering N requests (default: run until SIGTERM)\n"
            "  --software TEXT      SOFTWARE attribute to send (default \"starling-stun\")\n"
            "  -h, --help           this text\n"
            "Exit status: 0 success, 1 failure (timeout or error response), 2 usage.\n");
}

static void send_cb(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest) {
    rtc_udp_socket_t *s = user;
    int rc = rtc_udp_send(s, dest, p, n);
    if (rc) RTC_LOGW("stun-cli", "send to %s: %s", rtc_addr_str(dest), rtc_strerror(rc));
}

static int wait_readable(rtc_udp_socket_t *s, rtc_time_t until) {
    rtc_time_t now = rtc_clock_now();
    int ms = until == RTC_TIME_NEVER ? 1000 : (int)((until - now + 999) / 1000);
    if (ms < 0) ms = 0;
    if (ms > 1000) ms = 1000;
    struct pollfd p = {.fd = rtc_udp_socket_fd(s), .events = POLLIN};
    return poll(&p, 1, ms);
}

static int run_client(const char *server_s, const char *bind_s, int timeout_s, bool json) {
    rtc_addr_t server, local;
    if (rtc_addr_parse(&server, server_s, 3478)) {
        fprintf(stderr, "starling-stun: bad server address '%s' (IP[:PORT] or [IPv6]:PORT; no DNS)\n", server_s);
        return 2;
    }
    if (bind_s) {
        if (rtc_addr_parse(&local, bind_s, 0)) {
            fprintf(stderr, "starling-stun: bad --bind address '%s'\n", bind_s);
            return 2;
        }
    } else {
        rtc_addr_parse(&local, server.family == RTC_AF_INET6 ? "::" : "0.0.0.0", 0);
    }
    rtc_udp_socket_t *sock;
    int rc = rtc_udp_socket_open(&local, NULL, &sock);
    if (rc) {
        fprintf(stderr, "starling-stun: cannot bind %s: %s\n", rtc_addr_str(&local), rtc_strerror(rc));
        return 1;
    }
    rtc_stun_binding_client_t *c = rtc_stun_binding_client_create(&server, NULL, send_cb, sock);
    rtc_time_t deadline = rtc_clock_now() + RTC_SEC(timeout_s);
    rtc_stun_binding_client_start(c, rtc_clock_now());
    while (!stop && rtc_stun_binding_client_state(c) == RTC_STUN_BINDING_WAITING && rtc_clock_now() < deadline) {
        rtc_time_t next = rtc_stun_binding_client_next_timeout(c);
        if (next > deadline) next = deadline;
        if (wait_readable(sock, next) > 0) {
            uint8_t buf[1500];
            rtc_datagram_t d = {.data = buf, .cap = sizeof buf};
            while (rtc_udp_recv_batch(sock, &d, 1) == 1)
                rtc_stun_binding_client_handle(c, buf, d.len, &d.peer, rtc_clock_now());
        }
        rtc_stun_binding_client_handle_timeout(c, rtc_clock_now());
    }
    int status = 1;
    if (rtc_stun_binding_client_state(c) == RTC_STUN_BINDING_DONE) {
        const rtc_addr_t *m = rtc_stun_binding_client_mapped(c);
        double rtt = (double)rtc_stun_binding_client_rtt(c) / 1000.0;
        if (json) {
            char sw[800];
            rtc_json_escape(sw, sizeof sw, rtc_stun_binding_client_software(c));
            printf("{\"mapped\":\"%s\",\"rtt_ms\":%.3f,\"software\":\"%s\"}\n", rtc_addr_str(m), rtt, sw);
        } else {
            printf("mapped address: %s (rtt %.3f ms, server \"%s\")\n", rtc_addr_str(m), rtt,
                   rtc_stun_binding_client_software(c));
        }
        status = 0;
    } else {
        int code = 0;
        int err = rtc_stun_binding_client_state(c) == RTC_STUN_BINDING_FAILED
                      ? rtc_stun_binding_client_error(c, &code) : RTC_ERR_TIMEOUT;
        if (code) fprintf(stderr, "starling-stun: server %s answered error %d\n", rtc_addr_str(&server), code);
        else fprintf(stderr, "starling-stun: no answer from %s: %s\n", rtc_addr_str(&server), rtc_strerror(err));
    }
    rtc_stun_binding_client_destroy(c);
    rtc_udp_socket_close(sock);
    return status;
}

static int run_server(const char *listen_s, long count, const char *software) {
    rtc_addr_t local;
    if (rtc_addr_parse(&local, listen_s, 3478)) {
        fprintf(stderr, "starling-stun: bad --serve address '%s'\n", listen_s);
        return 2;
    }
    rtc_udp_socket_t *sock;
    int rc = rtc_udp_socket_open(&local, NULL, &sock);
    if (rc) {
        fprintf(stderr, "starling-stun: cannot bind %s: %s\n", rtc_addr_str(&local), rtc_strerror(rc));
        return 1;
    }
    RTC_LOGI("stun-cli", "answering Binding requests on %s", rtc_addr_str(rtc_udp_socket_local(sock)));
    /* Tell a test which port we got when it asked for port 0. */
    printf("listening %s\n", rtc_addr_str(rtc_udp_socket_local(sock)));
    fflush(stdout);
    rtc_stun_responder_config_t cfg = {.software = software};
    long answered = 0;
    uint8_t in[16][1500], out[16][1500];
    rtc_datagram_t rx[16], tx[16];
    while (!stop && (count <= 0 || answered < count)) {
        if (wait_readable(sock, RTC_TIME_NEVER) <= 0) continue;
        for (int i = 0; i < 16; i++) rx[i] = (rtc_datagram_t){.data = in[i], .cap = sizeof in[i]};
        int n = rtc_udp_recv_batch(sock, rx, 16);
        int ntx = 0;
        for (int i = 0; i < n; i++) {
            int len = rtc_stun_binding_respond(&cfg, rx[i].data, rx[i].len, &rx[i].peer, out[ntx], sizeof out[ntx]);
            if (len > 0) {
                /* One line per answer so scripts can check what we saw against the client. */
                printf("answered %s\n", rtc_addr_str(&rx[i].peer));
                tx[ntx] = (rtc_datagram_t){.data = out[ntx], .len = (size_t)len, .peer = rx[i].peer};
                ntx++;
            }
        }
        if (ntx) {
            fflush(stdout);
            rtc_udp_send_batch(sock, tx, ntx);
        }
        answered += ntx;
    }
    rtc_udp_socket_close(sock);
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"bind", required_argument, NULL, 'b'}, {"timeout", required_argument, NULL, 't'},
        {"serve", required_argument, NULL, 's'}, {"count", required_argument, NULL, 'c'},
        {"software", required_argument, NULL, 'w'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *bind_s = NULL, *serve_s = NULL, *software = "starling-stun";
    int timeout_s = 10;
    long count = 0;
    bool json = false;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'b': bind_s = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        case 's': serve_s = optarg; break;
        case 'c': count = atol(optarg); break;
        case 'w': software = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (serve_s) return run_server(serve_s, count, software);
    if (optind != argc - 1 || timeout_s <= 0) { usage(stderr); return 2; }
    return run_client(argv[optind], bind_s, timeout_s, json);
}
