/* `starling-loadtest turn`: N TURN clients relay a constant-bit-rate stream each to a peer sink
 * this process runs on loopback, through any TURN server, and the run reports what came
 * through: sent/received/lost packets, one-way latency, the achieved vs requested send rate,
 * and the server's CPU use over the send window (from /proc/PID/stat).
 *
 * Two threads. The client thread owns every client socket (one per allocation: TURN keys
 * allocations by 5-tuple), paces sends from a 1 ms tick with sendmmsg per socket, and reads
 * control traffic through epoll + recvmmsg. The sink thread owns a few sink sockets and drains
 * them with recvmmsg in batches of 64, timestamping each batch once.
 *
 * Payload layout (big-endian): magic "STLT", client index u32, sequence u32, send time u64
 * (µs, CLOCK_MONOTONIC, same clock as the sink), then zeros up to --size. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/sock_diag.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lt.h"

#define PAYLOAD_HDR 20
#define MAGIC 0x53544c54u /* "STLT" */
#define MAX_SINKS 64
#define BATCH 64
#define HIST_LINEAR 1000       /* 1 µs buckets below 1 ms */
#define HIST_COARSE 10000      /* then 100 µs buckets up to 1 s */
#define HIST_BUCKETS (HIST_LINEAR + HIST_COARSE + 1)

typedef enum { C_IDLE, C_ALLOCATING, C_BINDING, C_READY, C_FAILED, C_DONE } cphase_t;

#define TCP_OUT_MAX (256 * 1024) /* per-client backlog before packets are dropped */

typedef struct {
    int fd;
    uint32_t id;
    rtc_turn_client_t *tc;
    cphase_t phase;
    rtc_addr_t sink;
    rtc_time_t next_send;
    uint32_t seq;
    uint64_t sent;
    /* TCP/TLS: bytes the kernel (or TLS) has not taken yet (from out.data + out_off) */
    bool tcp;
    SSL *ssl;
    bool want_out;
    rtc_buf_t out;
    size_t out_off;
} lt_client_t;

typedef struct {
    /* options */
    rtc_addr_t server;
    lt_creds_t creds;
    int clients;
    double rate_kbps;
    int size;
    bool use_send_indication;
    double duration;
    pid_t server_pid;
    int sinks;
    rtc_addr_t peer_ip;
    rtc_addr_t local_ip;
    int setup_inflight;
    double setup_timeout;
    bool quiet;
    bool tcp;
    bool tls;
    SSL_CTX *ssl_ctx;
    const char *label;

    /* run state */
    lt_client_t *cl;
    int epfd;
    int sink_fd[MAX_SINKS];
    rtc_addr_t sink_addr[MAX_SINKS];
    int ready, failed, allocating;
    int first_fail_err, first_fail_code;
    rtc_time_t interval;

    /* sink thread results; totals are atomics so the progress line can read them */
    atomic_bool sink_stop;
    _Atomic uint64_t received;
    _Atomic uint64_t sent_total;
    uint64_t bad_payload;
    uint64_t *hist;
    uint32_t *recv_per_client;
} lt_run_t;

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) { (void)sig; g_interrupted = 1; }

/* ---- client callbacks -------------------------------------------------------------------- */

static int g_epfd;

/* TCP: writes what the kernel takes; keeps the rest and asks epoll for EPOLLOUT. */
static void tcp_flush(lt_client_t *c) {
    while (c->out_off < c->out.len) {
        size_t left = c->out.len - c->out_off;
        ssize_t w;
        if (c->ssl) {
            /* Partial writes are enabled, so a short count or WANT_WRITE leaves the rest queued
             * here; the retry passes the same bytes again, as OpenSSL requires. */
            int n = SSL_write(c->ssl, c->out.data + c->out_off, left > 65536 ? 65536 : (int)left);
            w = n > 0 ? n : -1;
        } else {
            w = send(c->fd, c->out.data + c->out_off, left, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (w <= 0) break;
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out.len) {
        rtc_buf_clear(&c->out);
        c->out_off = 0;
    } else if (c->out_off > 65536) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    bool want = c->out.len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = c->id};
        epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
}

/* TCP: queues bytes; false (nothing queued) when the backlog is full. */
static bool tcp_queue(lt_client_t *c, const uint8_t *p, size_t n) {
    if (c->out.len - c->out_off + n > TCP_OUT_MAX) return false;
    return rtc_buf_append(&c->out, p, n) == RTC_OK;
}

static void client_send(void *user, const uint8_t *p, size_t n) {
    lt_client_t *c = user;
    /* Control traffic only (requests); data goes through the batched path. */
    if (c->tcp) {
        if (tcp_queue(c, p, n)) tcp_flush(c);
        return;
    }
    if (send(c->fd, p, n, 0) < 0 && errno != EAGAIN) {
        /* ECONNREFUSED after an ICMP from a dead server: the transaction will time out. */
    }
}

static lt_run_t *g_run; /* for the event callback: one run per process */

static void client_event(void *user, const rtc_turn_event_t *ev) {
    lt_client_t *c = user;
    lt_run_t *r = g_run;
    switch (ev->type) {
    case RTC_TURN_EVENT_ALLOCATED: {
        c->phase = C_BINDING;
        rtc_time_t now = rtc_clock_now();
        int rc = r->use_send_indication ? rtc_turn_client_create_permission(c->tc, &c->sink, now)
                                        : rtc_turn_client_bind_channel(c->tc, &c->sink, now);
        if (rc < 0) {
            fprintf(stderr, "client %u: %s: %s\n", c->id, r->use_send_indication ? "CreatePermission" : "ChannelBind",
                    rtc_strerror(rc));
            c->phase = C_FAILED;
            r->failed++;
            r->allocating--;
        }
        break;
    }
    case RTC_TURN_EVENT_PERMISSION:
        if (ev->error) goto failed;
        if (r->use_send_indication && c->phase == C_BINDING) {
            c->phase = C_READY;
            r->ready++;
            r->allocating--;
        }
        break;
    case RTC_TURN_EVENT_CHANNEL:
        if (ev->error) goto failed;
        if (!r->use_send_indication && c->phase == C_BINDING) {
            c->phase = C_READY;
            r->ready++;
            r->allocating--;
        }
        break;
    case RTC_TURN_EVENT_FAILED:
    failed:
        if (!r->first_fail_err) {
            r->first_fail_err = ev->error;
            r->first_fail_code = ev->stun_code;
        }
        if (c->phase == C_READY) r->ready--;
        else if (c->phase == C_ALLOCATING || c->phase == C_BINDING) r->allocating--;
        if (c->phase != C_FAILED) r->failed++;
        c->phase = C_FAILED;
        break;
    case RTC_TURN_EVENT_RELEASED: c->phase = C_DONE; break;
    default: break;
    }
}

/* ---- sink thread ------------------------------------------------------------------------- */

static void hist_add(uint64_t *hist, int64_t us) {
    if (us < 0) us = 0;
    size_t b = us < HIST_LINEAR ? (size_t)us : HIST_LINEAR + (size_t)((us - HIST_LINEAR) / 100);
    if (b >= HIST_BUCKETS) b = HIST_BUCKETS - 1;
    hist[b]++;
}

static double hist_quantile(const uint64_t *hist, uint64_t total, double q) {
    if (!total) return NAN;
    uint64_t want = (uint64_t)ceil(q * (double)total), acc = 0;
    if (want == 0) want = 1;
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
        acc += hist[b];
        if (acc >= want) return b < HIST_LINEAR ? (double)b : HIST_LINEAR + (double)(b - HIST_LINEAR) * 100 + 50;
    }
    return NAN;
}

static void *sink_thread(void *arg) {
    lt_run_t *r = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < r->sinks; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, r->sink_fd[i], &ev);
    }
    static __thread uint8_t bufs[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizeof bufs[i];
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (!atomic_load_explicit(&r->sink_stop, memory_order_relaxed)) {
        struct epoll_event evs[MAX_SINKS];
        int n = epoll_wait(ep, evs, MAX_SINKS, 50);
        for (int e = 0; e < n; e++) {
            int fd = r->sink_fd[evs[e].data.u32];
            for (;;) {
                int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
                if (got <= 0) break;
                rtc_time_t now = rtc_clock_now();
                uint64_t ok = 0;
                for (int i = 0; i < got; i++) {
                    const uint8_t *p = bufs[i];
                    if (msgs[i].msg_len < PAYLOAD_HDR || rtc_be32(p) != MAGIC) { r->bad_payload++; continue; }
                    uint32_t id = rtc_be32(p + 4);
                    if (id >= (uint32_t)r->clients) { r->bad_payload++; continue; }
                    r->recv_per_client[id]++;
                    hist_add(r->hist, now - (rtc_time_t)rtc_be64(p + 12));
                    ok++;
                }
                atomic_fetch_add_explicit(&r->received, ok, memory_order_relaxed);
                if (got < BATCH) break;
            }
        }
    }
    close(ep);
    return NULL;
}

/* ---- client thread ----------------------------------------------------------------------- */

static void read_client(lt_run_t *r, lt_client_t *c, uint32_t events, rtc_time_t now) {
    if (c->tcp) {
        if (events & EPOLLOUT) tcp_flush(c);
        static uint8_t sbuf[65536];
        for (;;) {
            ssize_t n;
            if (c->ssl) {
                int got = SSL_read(c->ssl, sbuf, sizeof sbuf);
                if (got <= 0) {
                    int e = SSL_get_error(c->ssl, got);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
                    got = 0; /* closed or failed */
                }
                n = got;
                errno = 0;
            } else {
                n = recv(c->fd, sbuf, sizeof sbuf, MSG_DONTWAIT);
            }
            if (n > 0) {
                if (c->tc && rtc_turn_client_handle_stream(c->tc, sbuf, (size_t)n, now) != RTC_OK) n = 0;
                else continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                /* The server closed the connection (or broke framing): the allocation is gone. */
                if (c->phase != C_FAILED && c->phase != C_DONE) {
                    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_FAILED, .error = RTC_ERR_CLOSED};
                    client_event(c, &ev);
                }
                epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            }
            break;
        }
        return;
    }
    static uint8_t bufs[16][2048];
    struct mmsghdr msgs[16];
    struct iovec iov[16];
    for (int i = 0; i < 16; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizeof bufs[i];
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    (void)r;
    for (;;) {
        int got = recvmmsg(c->fd, msgs, 16, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        for (int i = 0; i < got && c->tc; i++) rtc_turn_client_handle_datagram(c->tc, bufs[i], msgs[i].msg_len, now);
        if (got < 16) break;
    }
}

/* Polls sockets for up to timeout_ms and runs due client timers. */
static void service(lt_run_t *r, int timeout_ms, bool timers) {
    struct epoll_event evs[256];
    int n = epoll_wait(r->epfd, evs, 256, timeout_ms);
    rtc_time_t now = rtc_clock_now();
    for (int i = 0; i < n; i++) read_client(r, &r->cl[evs[i].data.u32], evs[i].events, now);
    if (!timers) return;
    for (int i = 0; i < r->clients; i++) {
        lt_client_t *c = &r->cl[i];
        if (c->tc && rtc_turn_client_next_timeout(c->tc) <= now) rtc_turn_client_handle_timeout(c->tc, now);
    }
}

static void fill_payload(uint8_t *p, int size, uint32_t id, uint32_t seq, rtc_time_t now) {
    rtc_put_be32(p, MAGIC);
    rtc_put_be32(p + 4, id);
    rtc_put_be32(p + 8, seq);
    rtc_put_be64(p + 12, (uint64_t)now);
    (void)size;
}

typedef struct {
    double t0;
    double cpu0;
    double self0;
} cpu_mark_t;

static cpu_mark_t cpu_mark(const lt_run_t *r) {
    cpu_mark_t m = {(double)rtc_clock_now() / 1e6, r->server_pid ? lt_proc_cpu_seconds(r->server_pid) : -1,
                    lt_self_cpu_seconds()};
    return m;
}

/* Datagrams the kernel dropped on our own sink sockets (full receive buffer): loss that is
 * the generator's fault, not the server's. */
static uint64_t sink_drops(const lt_run_t *r) {
    uint64_t total = 0;
    for (int i = 0; i < r->sinks; i++) {
        uint32_t mem[SK_MEMINFO_VARS] = {0};
        socklen_t len = sizeof mem;
        if (getsockopt(r->sink_fd[i], SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof mem[0])
            total += mem[SK_MEMINFO_DROPS];
    }
    return total;
}

static double cpu_pct(double a, double b, double dt) { return (a < 0 || b < 0 || dt <= 0) ? NAN : (b - a) / dt * 100; }

/* TLS over an already connected non-blocking TCP socket: the handshake runs to completion here
 * (setup phase; loopback answers fast), then the socket stays non-blocking. */
static SSL *tls_connect(lt_run_t *r, int fd) {
    if (!r->ssl_ctx) {
        r->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!r->ssl_ctx) return NULL;
        SSL_CTX_set_mode(r->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    SSL *ssl = SSL_new(r->ssl_ctx);
    if (!ssl) return NULL;
    SSL_set_fd(ssl, fd);
    rtc_time_t deadline = rtc_clock_now() + RTC_SEC(5);
    for (;;) {
        int rc = SSL_connect(ssl);
        if (rc == 1) return ssl;
        int e = SSL_get_error(ssl, rc);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || rtc_clock_now() > deadline) break;
        struct pollfd pfd = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        poll(&pfd, 1, 100);
    }
    SSL_free(ssl);
    return NULL;
}

static void usage(void) {
    printf("usage: starling-loadtest turn --server HOST:PORT (--user U --password P | --secret S)\n"
           "         [--clients N=10] [--rate KBITPS=50] [--size BYTES=150] [--duration SEC=10]\n"
           "         [--mode channel|send] [--server-pid PID] [--sinks K=4] [--peer-ip 127.0.0.1]\n"
           "         [--local-ip 127.0.0.1] [--setup-inflight 200] [--setup-timeout 30]\n"
           "         [--transport udp|tcp|tls] [--label NAME] [--quiet]\n"
           "  Each client allocates on the server (over UDP or its own TCP/TLS connection; TLS does not\n"
           "  verify the certificate: a load generator, not a client to trust), binds a channel (--mode channel) or\n"
           "  creates a permission (--mode send) to a sink socket on --peer-ip, then sends --size\n"
           "  byte payloads at --rate kbit/s for --duration seconds. Prints a progress line each\n"
           "  second and a final report; the line starting 'RESULT' is for scripts.\n"
           "  Exit status: 0 when data flowed, 1 when nothing could be relayed, 2 on bad usage.\n");
}

int lt_turn_load_main(int argc, char **argv) {
    lt_run_t R;
    memset(&R, 0, sizeof R);
    lt_run_t *r = &R;
    g_run = r;
    r->clients = 10;
    r->rate_kbps = 50;
    r->size = 150;
    r->duration = 10;
    r->sinks = 4;
    r->setup_inflight = 200;
    r->setup_timeout = 30;
    r->label = "turn";
    const char *server_s = NULL, *user = NULL, *password = NULL, *secret = NULL, *mode = "channel";
    const char *peer_ip = "127.0.0.1", *local_ip = NULL;
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'},      {"user", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'p'},    {"secret", required_argument, 0, 'S'},
        {"clients", required_argument, 0, 'n'},     {"rate", required_argument, 0, 'r'},
        {"size", required_argument, 0, 'b'},        {"duration", required_argument, 0, 'd'},
        {"mode", required_argument, 0, 'm'},        {"server-pid", required_argument, 0, 'P'},
        {"sinks", required_argument, 0, 'k'},       {"peer-ip", required_argument, 0, 'i'},
        {"local-ip", required_argument, 0, 'l'},    {"setup-inflight", required_argument, 0, 'I'},
        {"setup-timeout", required_argument, 0, 'T'}, {"label", required_argument, 0, 'L'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"transport", required_argument, 0, 't'},
        {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's': server_s = optarg; break;
        case 'u': user = optarg; break;
        case 'p': password = optarg; break;
        case 'S': secret = optarg; break;
        case 'n': r->clients = atoi(optarg); break;
        case 'r': r->rate_kbps = atof(optarg); break;
        case 'b': r->size = atoi(optarg); break;
        case 'd': r->duration = atof(optarg); break;
        case 'm': mode = optarg; break;
        case 'P': r->server_pid = (pid_t)atoi(optarg); break;
        case 'k': r->sinks = atoi(optarg); break;
        case 'i': peer_ip = optarg; break;
        case 'l': local_ip = optarg; break;
        case 'I': r->setup_inflight = atoi(optarg); break;
        case 'T': r->setup_timeout = atof(optarg); break;
        case 'L': r->label = optarg; break;
        case 'q': r->quiet = true; break;
        case 't':
            if (!strcmp(optarg, "tcp")) r->tcp = true;
            else if (!strcmp(optarg, "tls")) r->tcp = r->tls = true;
            else if (strcmp(optarg, "udp")) { fprintf(stderr, "--transport udp|tcp|tls\n"); return 2; }
            break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!server_s || lt_parse_addr(&r->server, server_s, 3478) < 0) { usage(); return 2; }
    if (r->clients < 1 || r->clients > 100000 || r->rate_kbps <= 0 || r->size < PAYLOAD_HDR || r->size > 1400 ||
        r->duration <= 0 || r->duration > 3600 || r->sinks < 1 || r->sinks > MAX_SINKS || r->setup_inflight < 1) {
        fprintf(stderr, "bad option values (size %d..1400, duration 0..3600 s, sinks 1..%d)\n", PAYLOAD_HDR, MAX_SINKS);
        return 2;
    }
    if (!strcmp(mode, "send")) r->use_send_indication = true;
    else if (strcmp(mode, "channel")) { fprintf(stderr, "--mode channel|send\n"); return 2; }
    if (lt_parse_addr(&r->peer_ip, peer_ip, 0) < 0) return 2;
    if (local_ip) {
        if (lt_parse_addr(&r->local_ip, local_ip, 0) < 0) return 2;
    } else {
        rtc_addr_parse(&r->local_ip, r->server.family == RTC_AF_INET6 ? "::1" : "127.0.0.1", 0);
    }
    if (lt_creds_make(&r->creds, user, password, secret, 86400) < 0) return 2;
    rtc_log_set_level(RTC_LOG_ERROR);
    lt_raise_nofile();
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    /* packet interval from the rate: bits per packet / bits per second */
    r->interval = (rtc_time_t)((double)r->size * 8.0 / (r->rate_kbps * 1000.0) * 1e6);
    if (r->interval < 1) r->interval = 1;
    double req_pps = (double)r->clients * 1e6 / (double)r->interval;

    /* sinks */
    for (int i = 0; i < r->sinks; i++) {
        rtc_addr_t a = r->peer_ip;
        a.port = 0;
        r->sink_fd[i] = lt_udp_socket(&a, NULL, 8 << 20, 0);
        if (r->sink_fd[i] < 0) { fprintf(stderr, "sink socket on %s: %s\n", peer_ip, strerror(errno)); return 1; }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(r->sink_fd[i], (struct sockaddr *)&ss, &sl);
        rtc_addr_from_sockaddr(&r->sink_addr[i], (struct sockaddr *)&ss, sl);
    }
    r->hist = calloc(HIST_BUCKETS, sizeof *r->hist);
    r->recv_per_client = calloc((size_t)r->clients, sizeof *r->recv_per_client);
    r->cl = calloc((size_t)r->clients, sizeof *r->cl);
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    g_epfd = r->epfd;
    if (!r->hist || !r->recv_per_client || !r->cl || r->epfd < 0) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int i = 0; i < r->clients; i++) r->cl[i].fd = -1;

    fprintf(stderr, "[%s] %d clients x %.0f kbit/s x %d B (%s over %s) to %s, %d sinks on %s, %.0f s; requested %.0f pkt/s\n",
            r->label, r->clients, r->rate_kbps, r->size, r->use_send_indication ? "Send indications" : "ChannelData",
            r->tls ? "TLS" : r->tcp ? "TCP" : "UDP", server_s, r->sinks, peer_ip, r->duration, req_pps);

    /* ---- setup: allocate, bind, with a bounded number in flight ---- */
    rtc_time_t setup_start = rtc_clock_now();
    rtc_time_t setup_deadline = setup_start + (rtc_time_t)(r->setup_timeout * 1e6);
    int next = 0, open_fail = 0;
    while (!g_interrupted) {
        while (next < r->clients && r->allocating < r->setup_inflight) {
            lt_client_t *c = &r->cl[next];
            c->id = (uint32_t)next;
            c->sink = r->sink_addr[next % r->sinks];
            c->tcp = r->tcp;
            rtc_buf_init(&c->out);
            c->fd = r->tcp ? lt_tcp_connect(&r->local_ip, &r->server) : lt_udp_socket(&r->local_ip, &r->server, 0, 0);
            if (c->fd >= 0 && r->tls && !(c->ssl = tls_connect(r, c->fd))) {
                close(c->fd);
                c->fd = -1;
            }
            next++;
            if (c->fd < 0) { c->phase = C_FAILED; r->failed++; open_fail++; continue; }
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = c->id};
            epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
            rtc_turn_client_config_t cfg = {.server = r->server, .stream = r->tcp, .username = r->creds.username,
                                            .password = r->creds.password, .software = "starling-loadtest"};
            rtc_turn_client_callbacks_t cb = {.send = client_send, .event = client_event, .user = c};
            c->tc = rtc_turn_client_create(&cfg, &cb);
            c->phase = C_ALLOCATING;
            r->allocating++;
            if (!c->tc || rtc_turn_client_allocate(c->tc, rtc_clock_now()) != RTC_OK) {
                c->phase = C_FAILED;
                r->failed++;
                r->allocating--;
            }
        }
        if (next >= r->clients && r->allocating == 0) break;
        if (rtc_clock_now() > setup_deadline) {
            fprintf(stderr, "[%s] setup timed out with %d clients still allocating\n", r->label, r->allocating);
            break;
        }
        service(r, 5, true);
    }
    double setup_s = (double)(rtc_clock_now() - setup_start) / 1e6;
    fprintf(stderr, "[%s] setup: %d ready, %d failed in %.1f s", r->label, r->ready, r->failed, setup_s);
    if (open_fail) fprintf(stderr, " (%d sockets could not be opened)", open_fail);
    if (r->first_fail_err)
        fprintf(stderr, " (first failure: %s, STUN %d)", rtc_strerror(r->first_fail_err), r->first_fail_code);
    fprintf(stderr, "\n");

    /* ---- send window ---- */
    pthread_t sink_tid;
    pthread_create(&sink_tid, NULL, sink_thread, r);
    rtc_time_t start = rtc_clock_now() + RTC_MS(20);
    int ready_at_start = r->ready;
    for (int i = 0; i < r->clients; i++) {
        /* Stagger first sends across one interval so the load is smooth, not 2000-wide bursts. */
        r->cl[i].next_send = start + (rtc_time_t)((double)r->interval * i / r->clients);
    }
    rtc_time_t end = start + (rtc_time_t)(r->duration * 1e6);
    cpu_mark_t m0 = cpu_mark(r), mlast = m0;
    uint64_t last_sent = 0, last_recv = 0, skipped = 0, send_errors = 0;
    rtc_time_t next_progress = start + RTC_SEC(1), next_timers = start + RTC_MS(100);
    uint8_t (*pkt)[1500] = malloc(sizeof *pkt * 16);
    uint8_t payload[1500];
    memset(payload, 0, sizeof payload);
    struct mmsghdr mm[16];
    struct iovec iov[16];
    rtc_time_t late_limit = RTC_MS(50); /* a client further behind than this skips ahead */
    while (!g_interrupted) {
        rtc_time_t now = rtc_clock_now();
        if (now >= end) break;
        for (int i = 0; i < r->clients; i++) {
            lt_client_t *c = &r->cl[i];
            if (c->phase != C_READY || c->next_send > now) continue;
            if (now - c->next_send > late_limit) {
                /* The generator fell behind: don't burst to catch up, count what was missed. */
                uint64_t miss = (uint64_t)((now - c->next_send) / r->interval);
                skipped += miss;
                c->next_send += (rtc_time_t)miss * r->interval;
            }
            int k = 0;
            while (c->next_send <= now && k < 16) {
                fill_payload(payload, r->size, c->id, c->seq, now);
                int len = rtc_turn_client_wrap(c->tc, &c->sink, payload, (size_t)r->size, pkt[k], sizeof pkt[k]);
                if (len < 0) break;
                iov[k].iov_base = pkt[k];
                iov[k].iov_len = (size_t)len;
                memset(&mm[k], 0, sizeof mm[k]);
                mm[k].msg_hdr.msg_iov = &iov[k];
                mm[k].msg_hdr.msg_iovlen = 1;
                c->seq++;
                c->next_send += r->interval;
                k++;
            }
            if (k == 0) continue;
            if (c->tcp) {
                /* One send() for everything due: the stream batches for us. */
                int queued = 0;
                for (int j = 0; j < k; j++) {
                    if (!tcp_queue(c, mm[j].msg_hdr.msg_iov->iov_base, mm[j].msg_hdr.msg_iov->iov_len)) break;
                    queued++;
                }
                tcp_flush(c);
                send_errors += (uint64_t)(k - queued);
                c->sent += (uint64_t)queued;
                atomic_fetch_add_explicit(&r->sent_total, (uint64_t)queued, memory_order_relaxed);
                continue;
            }
            int w = sendmmsg(c->fd, mm, (unsigned)k, MSG_DONTWAIT);
            if (w < 0) { send_errors += (uint64_t)k; w = 0; }
            else if (w < k) send_errors += (uint64_t)(k - w);
            c->sent += (uint64_t)w;
            atomic_fetch_add_explicit(&r->sent_total, (uint64_t)w, memory_order_relaxed);
        }
        now = rtc_clock_now();
        if (now >= next_timers) {
            service(r, 0, true);
            next_timers = now + RTC_MS(100);
        }
        if (now >= next_progress) {
            cpu_mark_t m = cpu_mark(r);
            uint64_t s = atomic_load(&r->sent_total), rv = atomic_load(&r->received);
            double dt = m.t0 - mlast.t0;
            if (!r->quiet)
                fprintf(stderr, "[%s] t=%4.0fs ready=%d sent=%.0f/s (req %.0f) recv=%.0f/s server_cpu=%.0f%% self_cpu=%.0f%%\n",
                        r->label, (double)(now - start) / 1e6, r->ready, (double)(s - last_sent) / dt, req_pps,
                        (double)(rv - last_recv) / dt, cpu_pct(mlast.cpu0, m.cpu0, dt), cpu_pct(mlast.self0, m.self0, dt));
            last_sent = s;
            last_recv = rv;
            mlast = m;
            next_progress += RTC_SEC(1);
        }
        /* Sleep until the next tick (~1 ms), reading control traffic meanwhile. */
        service(r, 1, false);
    }
    cpu_mark_t m1 = cpu_mark(r);
    double window = m1.t0 - m0.t0;
    /* Drain: let in-flight packets land before counting losses. */
    rtc_time_t drain_end = rtc_clock_now() + RTC_MS(1000);
    while (rtc_clock_now() < drain_end) service(r, 10, false);
    atomic_store(&r->sink_stop, true);
    pthread_join(sink_tid, NULL);

    /* ---- release allocations (best effort, bounded) ---- */
    for (int i = 0; i < r->clients; i++)
        if (r->cl[i].tc && r->cl[i].phase == C_READY) rtc_turn_client_release(r->cl[i].tc, rtc_clock_now());
    rtc_time_t rel_end = rtc_clock_now() + RTC_SEC(2);
    while (rtc_clock_now() < rel_end) {
        int open = 0;
        for (int i = 0; i < r->clients; i++)
            if (r->cl[i].tc && rtc_turn_client_state(r->cl[i].tc) == RTC_TURN_CLIENT_RELEASING) open++;
        if (!open) break;
        service(r, 10, true);
    }

    /* ---- report ---- */
    uint64_t sent = atomic_load(&r->sent_total), received = atomic_load(&r->received);
    uint64_t lost = sent > received ? sent - received : 0;
    double loss_pct = sent ? 100.0 * (double)lost / (double)sent : 0;
    double p50 = hist_quantile(r->hist, received, 0.50), p99 = hist_quantile(r->hist, received, 0.99);
    double req_total = req_pps * window * (ready_at_start ? (double)ready_at_start / r->clients : 0);
    double achieved_pps = window > 0 ? (double)sent / window : 0;
    double achieved_kbps = achieved_pps * r->size * 8 / 1000.0;
    double requested_kbps = (double)ready_at_start * r->rate_kbps;
    double server_cpu = cpu_pct(m0.cpu0, m1.cpu0, window), self_cpu = cpu_pct(m0.self0, m1.self0, window);
    bool kept_up = req_total <= 0 || (double)sent >= 0.97 * req_total;
    uint64_t sdrops = sink_drops(r);
    int clients_with_loss = 0;
    for (int i = 0; i < r->clients; i++)
        if (r->cl[i].sent > r->recv_per_client[i]) clients_with_loss++;

    printf("[%s] clients ready %d/%d, window %.1f s\n", r->label, ready_at_start, r->clients, window);
    printf("[%s] sent %llu, received %llu, lost %llu (%.3f%%), clients with loss %d, bad payloads %llu\n", r->label,
           (unsigned long long)sent, (unsigned long long)received, (unsigned long long)lost, loss_pct, clients_with_loss,
           (unsigned long long)r->bad_payload);
    if (sdrops)
        printf("[%s] of the lost, %llu were dropped at the loadtest's own sink sockets (generator overload)\n",
               r->label, (unsigned long long)sdrops);
    printf("[%s] one-way latency p50 %.0f us, p99 %.0f us\n", r->label, p50, p99);
    printf("[%s] send rate achieved %.0f pkt/s = %.1f Mbit/s payload, requested %.0f pkt/s = %.1f Mbit/s%s\n", r->label,
           achieved_pps, achieved_kbps / 1000, req_pps * ready_at_start / r->clients, requested_kbps / 1000,
           kept_up ? "" : "  << GENERATOR COULD NOT KEEP UP");
    if (skipped || send_errors)
        printf("[%s] generator skipped %llu late packets, %llu send errors (socket buffer full)\n", r->label,
               (unsigned long long)skipped, (unsigned long long)send_errors);
    /* CPU per relayed packet: comparable between servers even when the machine is shared. */
    double us_per_pkt = (received && !isnan(server_cpu)) ? server_cpu / 100.0 * window / (double)received * 1e6 : NAN;
    printf("[%s] server cpu %.1f%% (pid %d) = %.2f us per relayed packet, loadtest cpu %.1f%%\n", r->label, server_cpu,
           (int)r->server_pid, us_per_pkt, self_cpu);
    printf("RESULT label=%s transport=%s clients=%d ready=%d rate_kbps=%.0f size=%d mode=%s duration=%.1f sent=%llu received=%llu "
           "lost=%llu loss_pct=%.4f p50_us=%.0f p99_us=%.0f achieved_pps=%.0f requested_pps=%.0f kept_up=%d "
           "server_cpu_pct=%.1f server_us_per_pkt=%.2f loadtest_cpu_pct=%.1f sink_drops=%llu\n",
           r->label, r->tls ? "tls" : r->tcp ? "tcp" : "udp", r->clients, ready_at_start, r->rate_kbps, r->size, r->use_send_indication ? "send" : "channel",
           window, (unsigned long long)sent, (unsigned long long)received, (unsigned long long)lost, loss_pct, p50, p99,
           achieved_pps, req_pps * ready_at_start / r->clients, kept_up ? 1 : 0, server_cpu, us_per_pkt, self_cpu, (unsigned long long)sdrops);
    fflush(stdout);

    for (int i = 0; i < r->clients; i++) {
        rtc_turn_client_destroy(r->cl[i].tc);
        rtc_buf_free(&r->cl[i].out);
        SSL_free(r->cl[i].ssl);
        if (r->cl[i].fd >= 0) close(r->cl[i].fd);
    }
    for (int i = 0; i < r->sinks; i++) close(r->sink_fd[i]);
    close(r->epfd);
    free(pkt);
    free(r->cl);
    free(r->hist);
    free(r->recv_per_client);
    SSL_CTX_free(r->ssl_ctx);
    return (ready_at_start > 0 && received > 0) ? 0 : 1;
}
