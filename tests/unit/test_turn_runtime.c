/* The TURN runtime on real loopback sockets: worker threads with SO_REUSEPORT listeners,
 * batched UDP, TCP and TLS (certificate made by the openssl CLI), relaying through real
 * relay sockets to a real UDP peer. The client here is a small blocking STUN/TURN client. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/io_uring.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rtc/stun.h"
#include "rtc/turn.h"
#include "turn/runtime.h"

static rtc_addr_t A(const char *s) {
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse(&a, s, 0), RTC_OK);
    return a;
}

static int udp_open(const char *bind_addr) {
    rtc_addr_t a = A(bind_addr);
    int fd = socket(a.family == RTC_AF_INET6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(&a, &ss, sizeof ss);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, (socklen_t)sl), 0);
    return fd;
}

static rtc_addr_t local_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    rtc_addr_t a;
    rtc_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len);
    return a;
}

/* A client over UDP, TCP or TLS. */
typedef struct {
    int fd;
    SSL *ssl;
    bool stream;
    rtc_addr_t server;
    rtc_stun_credentials_t cred;
    uint8_t rbuf[70000];
    size_t rlen;
} client_t;

static SSL_CTX *client_ctx;

static void client_open(client_t *c, turn_transport_t t, const rtc_addr_t *server, const char *user, const char *pw) {
    memset(c, 0, sizeof *c);
    c->server = *server;
    rtc_stun_credentials_init(&c->cred, user, pw);
    if (t == TURN_TRANSPORT_UDP) {
        c->fd = udp_open(server->family == RTC_AF_INET6 ? "[::1]:0" : "127.0.0.1:0");
        return;
    }
    c->stream = true;
    c->fd = socket(server->family == RTC_AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(server, &ss, sizeof ss);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&ss, (socklen_t)sl), 0);
    if (t == TURN_TRANSPORT_TLS) {
        if (!client_ctx) client_ctx = SSL_CTX_new(TLS_client_method());
        c->ssl = SSL_new(client_ctx);
        SSL_set_fd(c->ssl, c->fd);
        ck_assert_int_eq(SSL_connect(c->ssl), 1);
    }
}

static void client_close(client_t *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
}

static void client_send(client_t *c, const uint8_t *p, size_t n) {
    if (c->ssl) {
        ck_assert_int_eq(SSL_write(c->ssl, p, (int)n), (int)n);
    } else if (c->stream) {
        ck_assert_int_eq(write(c->fd, p, n), (ssize_t)n);
    } else {
        struct sockaddr_storage ss;
        int sl = rtc_addr_to_sockaddr(&c->server, &ss, sizeof ss);
        ck_assert_int_eq(sendto(c->fd, p, n, 0, (struct sockaddr *)&ss, (socklen_t)sl), (ssize_t)n);
    }
}

static bool wait_readable(int fd, int ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, ms) == 1;
}

/* Receives one datagram or one stream frame (up to 2 s). Returns its length or -1. */
static int client_recv(client_t *c, uint8_t *out, size_t cap) {
    if (!c->stream) {
        if (!wait_readable(c->fd, 2000)) return -1;
        return (int)recv(c->fd, out, cap, 0);
    }
    for (int i = 0; i < 200; i++) {
        int fl = rtc_turn_stream_frame_length(c->rbuf, c->rlen);
        if (fl > 0 && (size_t)fl <= c->rlen) {
            ck_assert_uint_le((size_t)fl, cap);
            memcpy(out, c->rbuf, (size_t)fl);
            memmove(c->rbuf, c->rbuf + fl, c->rlen - (size_t)fl);
            c->rlen -= (size_t)fl;
            return fl;
        }
        if (!(c->ssl && SSL_pending(c->ssl)) && !wait_readable(c->fd, 2000)) return -1;
        int n = c->ssl ? SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof c->rbuf - c->rlen))
                       : (int)read(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
        if (n <= 0) return -1;
        c->rlen += (size_t)n;
    }
    return -1;
}

typedef void (*attrs_fn)(rtc_stun_builder_t *b, const void *arg);

/* A request with the 401/438 dance. Returns 0 for success, the error code, or -1. */
static int client_request(client_t *c, uint16_t method, attrs_fn fn, const void *arg, rtc_stun_msg_t *resp,
                          uint8_t *rb) {
    for (int attempt = 0; attempt < 3; attempt++) {
        uint8_t buf[1024];
        rtc_stun_builder_t b;
        rtc_stun_builder_init(&b, buf, sizeof buf, method, RTC_STUN_REQUEST, NULL);
        if (fn) fn(&b, arg);
        if (c->cred.ready) rtc_stun_credentials_sign(&c->cred, &b);
        int n = rtc_stun_builder_finish(&b);
        client_send(c, buf, (size_t)n);
        int got;
        for (;;) {
            got = client_recv(c, rb, 2048);
            if (got < 0) return -1;
            if (rtc_stun_msg_decode(resp, rb, (size_t)got) == RTC_OK && memcmp(resp->tid, buf + 8, 12) == 0) break;
        }
        if (resp->cls == RTC_STUN_SUCCESS) return 0;
        int code = 0;
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if ((code == 401 || code == 438) && rtc_stun_credentials_handle_error(&c->cred, resp) == RTC_OK) continue;
        return code;
    }
    return -1;
}

static void attr_udp(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_requested_transport(b, RTC_TURN_TRANSPORT_UDP);
}

typedef struct {
    uint16_t ch;
    rtc_addr_t peer;
} bind_t;

static void attr_bind(rtc_stun_builder_t *b, const void *arg) {
    const bind_t *x = arg;
    rtc_stun_add_channel(b, x->ch);
    rtc_stun_add_xor_address(b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &x->peer);
}

static turn_shared_t *make_shared(void) {
    turn_policy_t *p = turn_policy_new();
    turn_policy_set_realm(p, "test");
    turn_policy_add_user(p, "alice", "secret");
    turn_policy_finish(p);
    rtc_addr_parse(&p->relay_v4, "127.0.0.1", 0);
    rtc_addr_parse(&p->relay_v6, "::1", 0);
    turn_peer_filter_allow(&p->filter, "127.0.0.1");
    turn_peer_filter_allow(&p->filter, "::1");
    p->unauth_rate = 0;
    return turn_shared_new(p, 51000, 51999);
}

/* Allocate, bind a channel to the peer socket, relay both ways with ChannelData and then
 * with Send/Data indications. */
static void attr_udp_v6(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_requested_transport(b, RTC_TURN_TRANSPORT_UDP);
    rtc_stun_add_family(b, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, RTC_AF_INET6);
}

static void relay_round_trip_with(client_t *c, int peer_fd, uint16_t ch, bool pad, attrs_fn alloc_attrs) {
    static uint8_t rb[70000];
    rtc_stun_msg_t resp;
    ck_assert_int_eq(client_request(c, RTC_STUN_ALLOCATE, alloc_attrs, NULL, &resp, rb), 0);
    rtc_addr_t relayed;
    ck_assert_int_eq(rtc_stun_msg_get_xor_address(&resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed), RTC_OK);
    bind_t x = {.ch = ch, .peer = local_of(peer_fd)};
    ck_assert_int_eq(client_request(c, RTC_STUN_CHANNEL_BIND, attr_bind, &x, &resp, rb), 0);
    /* client → peer */
    uint8_t msg[1200];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + ch);
    uint8_t cd[1300];
    int n = rtc_turn_channel_data_write(cd, sizeof cd, ch, msg, 1001, pad);
    client_send(c, cd, (size_t)n);
    ck_assert(wait_readable(peer_fd, 2000));
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t got = recvfrom(peer_fd, rb, sizeof rb, 0, (struct sockaddr *)&from, &fl);
    ck_assert_int_eq(got, 1001);
    ck_assert_int_eq(memcmp(rb, msg, 1001), 0);
    rtc_addr_t src;
    rtc_addr_from_sockaddr(&src, (struct sockaddr *)&from, fl);
    ck_assert(rtc_addr_equal(&src, &relayed)); /* it came from the relayed address */
    /* peer → client */
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(&relayed, &ss, sizeof ss);
    ck_assert_int_eq(sendto(peer_fd, msg, 999, 0, (struct sockaddr *)&ss, (socklen_t)sl), 999);
    n = client_recv(c, rb, sizeof rb);
    ck_assert_int_eq(n, pad ? 1004 : 1003);
    ck_assert_uint_eq(rtc_be16(rb), ch);
    ck_assert_uint_eq(rtc_be16(rb + 2), 999);
    ck_assert_int_eq(memcmp(rb + 4, msg, 999), 0);
}

static void relay_round_trip(client_t *c, int peer_fd, uint16_t ch, bool pad) {
    relay_round_trip_with(c, peer_fd, ch, pad, attr_udp);
}

START_TEST(udp_relay_across_workers) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 2};
    cfg.udp[cfg.n_udp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    ck_assert_int_eq(turn_runtime_start(rt), RTC_OK);
    rtc_addr_t server;
    ck_assert_int_eq(turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &server), RTC_OK);
    ck_assert_uint_ne(server.port, 0);
    int peer = udp_open("127.0.0.1:0");
    enum { N = 8 };
    client_t cs[N];
    for (int i = 0; i < N; i++) {
        client_open(&cs[i], TURN_TRANSPORT_UDP, &server, "alice", "secret");
        relay_round_trip(&cs[i], peer, (uint16_t)(0x4000 + i), false);
    }
    /* Stats arrive within a tick; every allocation is on exactly one worker. */
    usleep(400000);
    uint64_t allocs = 0, pkts = 0;
    unsigned busy = 0;
    for (unsigned i = 0; i < turn_runtime_workers(rt); i++) {
        turn_worker_stats_t st;
        ck_assert_int_eq(turn_runtime_worker_stats(rt, i, &st), RTC_OK);
        allocs += st.core.allocations;
        pkts += st.core.pkts_client_to_peer + st.core.pkts_peer_to_client;
        busy += st.core.allocations > 0;
    }
    ck_assert_uint_eq(allocs, N);
    ck_assert_uint_eq(pkts, 2 * N);
    ck_assert_uint_ge(busy, 1);
    for (int i = 0; i < N; i++) client_close(&cs[i]);
    close(peer);
    turn_runtime_free(rt);
    ck_assert_uint_eq(turn_shared_allocations(sh), 0); /* stopping deleted them */
    turn_shared_free(sh);
}
END_TEST

/* Can this process use io_uring (kernel built with it, not turned off by the
 * kernel.io_uring_disabled sysctl or a seccomp filter)? */
static bool io_uring_usable(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, 4, &p);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* Client→peer datagrams of several allocations arrive interleaved in one receive batch and
 * leave from as many relay sockets: through io_uring (one submission for the batch) when the
 * kernel allows it, through one sendmmsg per relay socket otherwise or when it is turned off.
 * Every datagram must reach the peer once, intact, from its own allocation's relayed address. */
static void burst_from_interleaved_allocations(bool no_io_uring, int per_client) {
    turn_shared_t *sh = make_shared();
    /* Room in the socket buffers for the whole burst: datagrams the kernel drops for want
     * of buffer would not be the server's fault. */
    turn_runtime_config_t cfg = {.workers = 1, .no_io_uring = no_io_uring, .udp_recv_buffer = 4 << 20};
    cfg.udp[cfg.n_udp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    ck_assert_int_eq(turn_runtime_start(rt), RTC_OK);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &server);
    int peer = udp_open("127.0.0.1:0");
    int rcvbuf = 4 << 20;
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    enum { C = 4, KMAX = 250 };
    const int K = per_client;
    ck_assert_int_le(K, KMAX);
    static client_t cs[C];
    rtc_addr_t relayed[C];
    static uint8_t rb[70000];
    for (int i = 0; i < C; i++) {
        client_open(&cs[i], TURN_TRANSPORT_UDP, &server, "alice", "secret");
        rtc_stun_msg_t resp;
        ck_assert_int_eq(client_request(&cs[i], RTC_STUN_ALLOCATE, attr_udp, NULL, &resp, rb), 0);
        ck_assert_int_eq(rtc_stun_msg_get_xor_address(&resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed[i]), RTC_OK);
        bind_t x = {.ch = 0x4000, .peer = local_of(peer)};
        ck_assert_int_eq(client_request(&cs[i], RTC_STUN_CHANNEL_BIND, attr_bind, &x, &resp, rb), 0);
    }
    /* Which path the worker took is published from its start. */
    turn_worker_stats_t st;
    ck_assert_int_eq(turn_runtime_worker_stats(rt, 0, &st), RTC_OK);
    ck_assert(st.io_uring == (!no_io_uring && io_uring_usable()));
    ck_assert(st.io_uring_loop == st.io_uring);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < C; i++) {
            uint8_t msg[32], cd[64];
            memset(msg, 0, sizeof msg);
            msg[0] = (uint8_t)i;
            msg[1] = (uint8_t)k;
            for (size_t j = 2; j < sizeof msg; j++) msg[j] = (uint8_t)(i * 31 + k * 7 + j);
            int n = rtc_turn_channel_data_write(cd, sizeof cd, 0x4000, msg, sizeof msg, false);
            client_send(&cs[i], cd, (size_t)n);
        }
    static int seen[C][KMAX];
    memset(seen, 0, sizeof seen);
    for (int got = 0; got < C * K; got++) {
        ck_assert_msg(wait_readable(peer, 2000), "only %d of %d datagrams reached the peer", got, C * K);
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(peer, rb, sizeof rb, 0, (struct sockaddr *)&from, &fl);
        ck_assert_int_eq(n, 32);
        int i = rb[0], k = rb[1];
        ck_assert(i < C && k < K);
        for (size_t j = 2; j < 32; j++) ck_assert_uint_eq(rb[j], (uint8_t)(i * 31 + k * 7 + j));
        rtc_addr_t src;
        rtc_addr_from_sockaddr(&src, (struct sockaddr *)&from, fl);
        ck_assert(rtc_addr_equal(&src, &relayed[i]));
        seen[i][k]++;
    }
    for (int i = 0; i < C; i++)
        for (int k = 0; k < K; k++) ck_assert_int_eq(seen[i][k], 1);
    usleep(400000);
    ck_assert_int_eq(turn_runtime_worker_stats(rt, 0, &st), RTC_OK);
    ck_assert_uint_eq(st.core.pkts_client_to_peer, C * K);
    ck_assert_uint_eq(st.send_drops, 0);
    if (st.io_uring_loop) /* how often the multishot receive ran out of buffers (timing) */
        fprintf(stderr, "burst of %d: listener receive re-armed %llu times\n", C * K,
                (unsigned long long)st.rx_rearms);
    for (int i = 0; i < C; i++) client_close(&cs[i]);
    close(peer);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}

/* The other direction: a peer sends 250 datagrams to each of 4 relayed addresses back to
 * back; each client must get all of its own, once, intact, as ChannelData — relay sockets
 * received through the io_uring loop when usable (sharing its receive buffers, so the same
 * running-out and re-arming applies), through libuv otherwise. */
static void peer_burst_to_clients(bool no_io_uring) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 1, .no_io_uring = no_io_uring, .udp_recv_buffer = 4 << 20};
    cfg.udp[cfg.n_udp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    ck_assert_int_eq(turn_runtime_start(rt), RTC_OK);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &server);
    int peer = udp_open("127.0.0.1:0");
    enum { C = 4, K = 250 };
    static client_t cs[C];
    rtc_addr_t relayed[C];
    static uint8_t rb[70000];
    int rcvbuf = 4 << 20;
    for (int i = 0; i < C; i++) {
        client_open(&cs[i], TURN_TRANSPORT_UDP, &server, "alice", "secret");
        setsockopt(cs[i].fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        rtc_stun_msg_t resp;
        ck_assert_int_eq(client_request(&cs[i], RTC_STUN_ALLOCATE, attr_udp, NULL, &resp, rb), 0);
        ck_assert_int_eq(rtc_stun_msg_get_xor_address(&resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed[i]), RTC_OK);
        bind_t x = {.ch = (uint16_t)(0x4000 + i), .peer = local_of(peer)};
        ck_assert_int_eq(client_request(&cs[i], RTC_STUN_CHANNEL_BIND, attr_bind, &x, &resp, rb), 0);
    }
    for (int k = 0; k < K; k++)
        for (int i = 0; i < C; i++) {
            uint8_t msg[40];
            msg[0] = (uint8_t)i;
            msg[1] = (uint8_t)k;
            for (size_t j = 2; j < sizeof msg; j++) msg[j] = (uint8_t)(i * 17 + k * 3 + j);
            struct sockaddr_storage to;
            int tl = rtc_addr_to_sockaddr(&relayed[i], &to, sizeof to);
            ck_assert_int_eq(sendto(peer, msg, sizeof msg, 0, (struct sockaddr *)&to, (socklen_t)tl), (ssize_t)sizeof msg);
        }
    for (int i = 0; i < C; i++) {
        static int seen[K];
        memset(seen, 0, sizeof seen);
        for (int got = 0; got < K; got++) {
            int n = client_recv(&cs[i], rb, sizeof rb);
            ck_assert_msg(n == 44, "client %d: datagram %d of %d: length %d", i, got, K, n);
            ck_assert_uint_eq(rtc_be16(rb), 0x4000 + i);
            ck_assert_uint_eq(rtc_be16(rb + 2), 40);
            ck_assert_uint_eq(rb[4], i);
            int k = rb[5];
            for (size_t j = 2; j < 40; j++) ck_assert_uint_eq(rb[4 + j], (uint8_t)(i * 17 + k * 3 + j));
            seen[k]++;
        }
        for (int k = 0; k < K; k++) ck_assert_int_eq(seen[k], 1);
    }
    usleep(400000);
    turn_worker_stats_t st;
    ck_assert_int_eq(turn_runtime_worker_stats(rt, 0, &st), RTC_OK);
    ck_assert_uint_eq(st.core.pkts_peer_to_client, C * K);
    for (int i = 0; i < C; i++) client_close(&cs[i]);
    close(peer);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}

START_TEST(udp_peer_burst_to_clients_io_uring) { peer_burst_to_clients(false); }
END_TEST

START_TEST(udp_peer_burst_to_clients_libuv) { peer_burst_to_clients(true); }
END_TEST

START_TEST(udp_burst_from_interleaved_allocations_io_uring) { burst_from_interleaved_allocations(false, 25); }
END_TEST

START_TEST(udp_burst_from_interleaved_allocations_sendmmsg) { burst_from_interleaved_allocations(true, 25); }
END_TEST

/* 1000 datagrams sent back to back, far more than the io_uring loop has receive buffers
 * (128): when a wake-up finds more queued than it has buffers, its multishot receive ends
 * (ENOBUFS) and must be re-armed once they are handed back, without losing or repeating a
 * datagram. */
START_TEST(udp_burst_longer_than_the_receive_buffers) { burst_from_interleaved_allocations(false, 250); }
END_TEST

START_TEST(ipv6_udp_relay) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 1};
    cfg.udp[cfg.n_udp++] = A("[::1]:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    turn_runtime_start(rt);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &server);
    int peer = udp_open("[::1]:0");
    client_t c;
    client_open(&c, TURN_TRANSPORT_UDP, &server, "alice", "secret");
    /* IPv6-only allocation via REQUESTED-ADDRESS-FAMILY, relaying to an IPv6 peer. */
    relay_round_trip_with(&c, peer, 0x4777, false, attr_udp_v6);
    client_close(&c);
    close(peer);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}
END_TEST

START_TEST(tcp_relay_with_padding_and_close) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 2};
    cfg.tcp[cfg.n_tcp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    turn_runtime_start(rt);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_TCP, 0, &server);
    int peer = udp_open("127.0.0.1:0");
    client_t c;
    client_open(&c, TURN_TRANSPORT_TCP, &server, "alice", "secret");
    relay_round_trip(&c, peer, 0x4321, true);
    client_close(&c);
    /* The allocation goes with the connection. */
    for (int i = 0; i < 50 && turn_shared_allocations(sh) > 0; i++) usleep(20000);
    ck_assert_uint_eq(turn_shared_allocations(sh), 0);
    close(peer);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}
END_TEST

START_TEST(tls_relay_with_openssl_cli_certificate) {
    char dir[] = "/tmp/turn-tls-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024], cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=localhost -keyout %s -out %s >/dev/null 2>&1", key, cert);
    ck_assert_int_eq(system(cmd), 0);
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 2, .tls_cert = cert, .tls_key = key};
    cfg.tls[cfg.n_tls++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    turn_runtime_start(rt);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_TLS, 0, &server);
    int peer = udp_open("127.0.0.1:0");
    client_t c;
    client_open(&c, TURN_TRANSPORT_TLS, &server, "alice", "secret");
    relay_round_trip(&c, peer, 0x4001, true);
    client_close(&c);
    close(peer);
    turn_runtime_free(rt);
    turn_shared_free(sh);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(tls_without_certificate_fails_cleanly) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 1, .tls_cert = "/nonexistent.pem", .tls_key = "/nonexistent.key"};
    cfg.tls[cfg.n_tls++] = A("127.0.0.1:0");
    ck_assert_ptr_null(turn_runtime_new(&cfg, sh));
    turn_shared_free(sh);
}
END_TEST

START_TEST(garbage_on_tcp_closes_only_that_connection) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 1};
    cfg.tcp[cfg.n_tcp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    turn_runtime_start(rt);
    rtc_addr_t server;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_TCP, 0, &server);
    client_t bad, good;
    client_open(&bad, TURN_TRANSPORT_TCP, &server, "alice", "secret");
    client_open(&good, TURN_TRANSPORT_TCP, &server, "alice", "secret");
    const uint8_t junk[8] = {0x80, 1, 2, 3, 4, 5, 6, 7};
    client_send(&bad, junk, sizeof junk);
    uint8_t rb[2048];
    ck_assert_int_eq(client_recv(&bad, rb, sizeof rb), -1); /* closed by the server */
    rtc_stun_msg_t resp;
    ck_assert_int_eq(client_request(&good, RTC_STUN_BINDING, NULL, NULL, &resp, rb), 0);
    client_close(&bad);
    client_close(&good);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}
END_TEST

START_TEST(wildcard_listener_answers_from_the_address_it_was_asked_on) {
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 1};
    cfg.udp[cfg.n_udp++] = A("0.0.0.0:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    turn_runtime_start(rt);
    rtc_addr_t bound;
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &bound);
    /* Ask on 127.0.0.2 from 127.0.0.1: routing alone would answer from 127.0.0.1. */
    rtc_addr_t server = A("127.0.0.2:0");
    server.port = bound.port;
    int fd = udp_open("127.0.0.1:0");
    uint8_t req[64], rb[512];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, req, sizeof req, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
    int n = rtc_stun_builder_finish(&b);
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(&server, &ss, sizeof ss);
    ck_assert_int_eq(sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&ss, (socklen_t)sl), n);
    ck_assert(wait_readable(fd, 2000));
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ck_assert_int_gt(recvfrom(fd, rb, sizeof rb, 0, (struct sockaddr *)&from, &fl), 0);
    rtc_addr_t src;
    rtc_addr_from_sockaddr(&src, (struct sockaddr *)&from, fl);
    ck_assert_msg(rtc_addr_equal(&src, &server), "answer came from %s", rtc_addr_str(&src));
    close(fd);
    turn_runtime_free(rt);
    turn_shared_free(sh);
}
END_TEST

START_TEST(second_server_on_the_same_port_refuses_to_start) {
    /* SO_REUSEPORT would let it share the port and take part of the traffic. */
    turn_shared_t *sh = make_shared();
    turn_runtime_config_t cfg = {.workers = 2};
    cfg.udp[cfg.n_udp++] = A("127.0.0.1:0");
    cfg.tcp[cfg.n_tcp++] = A("127.0.0.1:0");
    turn_runtime_t *rt = turn_runtime_new(&cfg, sh);
    ck_assert_ptr_nonnull(rt);
    turn_runtime_config_t again = {.workers = 1};
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_UDP, 0, &again.udp[again.n_udp++]);
    ck_assert_ptr_null(turn_runtime_new(&again, sh));
    turn_runtime_config_t again_tcp = {.workers = 1};
    turn_runtime_listen_addr(rt, TURN_TRANSPORT_TCP, 0, &again_tcp.tcp[again_tcp.n_tcp++]);
    ck_assert_ptr_null(turn_runtime_new(&again_tcp, sh));
    turn_runtime_free(rt);
    turn_shared_free(sh);
}
END_TEST

START_TEST(bind_conflict_is_reported) {
    turn_shared_t *sh = make_shared();
    int fd = udp_open("127.0.0.1:0"); /* without SO_REUSEPORT: nobody can share it */
    rtc_addr_t taken = local_of(fd);
    turn_runtime_config_t cfg = {.workers = 1};
    cfg.udp[cfg.n_udp++] = taken;
    ck_assert_ptr_null(turn_runtime_new(&cfg, sh));
    close(fd);
    turn_shared_free(sh);
}
END_TEST

int main(void) {
    Suite *s = suite_create("turn_runtime");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, udp_relay_across_workers);
    tcase_add_test(tc, udp_burst_from_interleaved_allocations_io_uring);
    tcase_add_test(tc, udp_burst_from_interleaved_allocations_sendmmsg);
    tcase_add_test(tc, udp_burst_longer_than_the_receive_buffers);
    tcase_add_test(tc, udp_peer_burst_to_clients_io_uring);
    tcase_add_test(tc, udp_peer_burst_to_clients_libuv);
    tcase_add_test(tc, ipv6_udp_relay);
    tcase_add_test(tc, tcp_relay_with_padding_and_close);
    tcase_add_test(tc, tls_relay_with_openssl_cli_certificate);
    tcase_add_test(tc, tls_without_certificate_fails_cleanly);
    tcase_add_test(tc, garbage_on_tcp_closes_only_that_connection);
    tcase_add_test(tc, bind_conflict_is_reported);
    tcase_add_test(tc, second_server_on_the_same_port_refuses_to_start);
    tcase_add_test(tc, wildcard_listener_answers_from_the_address_it_was_asked_on);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
