/* The ICE layer's I/O glue on libuv, for tools and tests (the PeerConnection runtime will have
 * its own): one non-blocking UDP socket per local address the configured filter allows, read
 * in batches from a uv_poll_t, one uv_timer_t following rtc_ice_agent_next_timeout, the
 * agent's `send` callback mapped to sendto, and TCP or TLS connections to TURN servers when the
 * agent asks for them (net/stream_uv.c: uv_tcp_t, OpenSSL over memory BIOs, shared with the
 * PeerConnection runtime). This is the only file of src/ice/
 * that touches sockets, TLS or the clock; the agent itself stays sans-I/O. */
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <uv.h>

#include "rtc/ice.h"
#include "net/stream_uv.h"
#include "rtc/net.h"

#define LOG "ice"
#define MAX_SOCKS 16
#define BATCH 16

/* Every handle given to the agent starts with its kind, so `send` knows what it got. */
enum { HANDLE_UDP = 1, HANDLE_STREAM = 2 };

typedef struct {
    int kind;                   /* HANDLE_UDP */
    rtc_ice_uv_t *owner;
    rtc_udp_socket_t *sock;
    uv_poll_t poll;
    bool polling;
} uv_sock_t;

struct rtc_ice_uv {
    uv_loop_t *loop;
    rtc_ice_agent_t *agent;
    rtc_ice_callbacks_t user_cb;
    void *user;
    uv_sock_t socks[MAX_SOCKS];
    size_t n_socks;
    uv_timer_t timer;
    bool timer_init;
    int open_handles;
    bool destroying;
    rtc_uv_tls_contexts_t tls;
    rtc_uv_stream_t *streams[RTC_ICE_MAX_SERVERS];   /* open TURN streams */
    uint8_t bufs[BATCH][2048];
};

static void rearm(rtc_ice_uv_t *u);
static void finish_destroy(rtc_ice_uv_t *u);

/* ---- agent callbacks: forward to the user's, then rearm the timer (a callback may have
 *      called the agent) ------------------------------------------------------------------ */
static void cb_send(void *user, void *handle, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    (void)user;
    if (!handle) return;
    if (*(int *)handle == HANDLE_STREAM) {
        rtc_uv_stream_write(handle, p, n);
        return;
    }
    uv_sock_t *s = handle;
    int rc = rtc_udp_send(s->sock, dest, p, n);
    if (rc != RTC_OK) RTC_LOGD(LOG, "send to %s failed: %s", rtc_addr_str(dest), rtc_strerror(rc));
}

/* ---- TCP/TLS streams to TURN servers (net/stream_uv.c) ---------------------------------- */
static void st_connected(void *user, rtc_uv_stream_t *s) {
    rtc_ice_uv_t *u = user;
    rtc_ice_agent_stream_connected(u->agent, s, rtc_clock_now());
    rearm(u);
}

static void st_data(void *user, rtc_uv_stream_t *s, const uint8_t *p, size_t n) {
    rtc_ice_uv_t *u = user;
    if (rtc_ice_agent_handle_stream(u->agent, s, p, n, rtc_clock_now()) == RTC_ERR_MALFORMED) {
        RTC_LOGI(LOG, "TURN stream closed: garbage on the stream");
        rtc_uv_stream_close(s);
        rtc_ice_agent_stream_closed(u->agent, s, rtc_clock_now());
    }
    rearm(u);
}

static void st_failed(void *user, rtc_uv_stream_t *s, const char *why) {
    rtc_ice_uv_t *u = user;
    (void)why;
    if (u->destroying) return;
    rtc_ice_agent_stream_closed(u->agent, s, rtc_clock_now());
    rearm(u);
}

static void st_freed(void *user, rtc_uv_stream_t *s) {
    rtc_ice_uv_t *u = user;
    for (size_t i = 0; i < RTC_ICE_MAX_SERVERS; i++)
        if (u->streams[i] == s) u->streams[i] = NULL;
    if (--u->open_handles == 0 && u->destroying) finish_destroy(u); /* the last handle */
}

static void *cb_stream_open(void *user, const rtc_ice_server_t *server) {
    rtc_ice_uv_t *u = user;
    if (u->destroying) return NULL;
    size_t slot = 0;
    while (slot < RTC_ICE_MAX_SERVERS && u->streams[slot]) slot++;
    if (slot == RTC_ICE_MAX_SERVERS) return NULL;
    /* Leave from an allowed address of the server's family, like everything else. */
    const uv_sock_t *from = NULL;
    for (size_t i = 0; i < u->n_socks && !from; i++)
        if (rtc_udp_socket_local(u->socks[i].sock)->family == server->addr.family) from = &u->socks[i];
    if (!from) return NULL;
    rtc_uv_stream_options_t o = {
        .tls = server->protocol == RTC_ICE_RELAY_TLS, .tls_name = server->tls_name,
        .tls_no_verify = server->tls_no_verify, .contexts = &u->tls,
    };
    static const rtc_uv_stream_callbacks_t cb = {st_connected, st_data, st_failed, st_freed};
    rtc_uv_stream_t *s = rtc_uv_stream_open(u->loop, HANDLE_STREAM, rtc_udp_socket_local(from->sock), &server->addr,
                                            &o, &cb, u);
    if (!s) return NULL;
    u->streams[slot] = s;
    u->open_handles++;
    return s;
}

static void cb_stream_close(void *user, void *stream) {
    (void)user;
    rtc_uv_stream_close(stream);
}

static void cb_candidate(void *user, const rtc_ice_candidate_t *c) {
    rtc_ice_uv_t *u = user;
    if (u->user_cb.candidate) u->user_cb.candidate(u->user, c);
}

static void cb_state(void *user, rtc_ice_state_t s) {
    rtc_ice_uv_t *u = user;
    if (u->user_cb.state_change) u->user_cb.state_change(u->user, s);
}

static void cb_gathering(void *user, rtc_ice_gathering_state_t s) {
    rtc_ice_uv_t *u = user;
    if (u->user_cb.gathering_state_change) u->user_cb.gathering_state_change(u->user, s);
}

static void cb_selected(void *user, const rtc_ice_pair_info_t *p) {
    rtc_ice_uv_t *u = user;
    if (u->user_cb.selected_pair_change) u->user_cb.selected_pair_change(u->user, p);
}

static void cb_data(void *user, const uint8_t *p, size_t n, const rtc_ice_pair_info_t *pair) {
    rtc_ice_uv_t *u = user;
    if (u->user_cb.data) u->user_cb.data(u->user, p, n, pair);
}

/* ---- timer and sockets ---------------------------------------------------------------- */
static void rearm_min(rtc_ice_uv_t *u, uint64_t min_ms);

static void on_timer(uv_timer_t *t) {
    rtc_ice_uv_t *u = t->data;
    rtc_ice_agent_handle_timeout(u->agent, rtc_clock_now());
    /* At least 1 ms: an agent still due right after its timeout would otherwise run again in
     * the same libuv pass (before 1.45) and hold the loop (see pc/pc_runtime_uv.c). */
    rearm_min(u, 1);
}

static void rearm_min(rtc_ice_uv_t *u, uint64_t min_ms) {
    if (u->destroying || !u->timer_init) return;
    rtc_time_t next = rtc_ice_agent_next_timeout(u->agent);
    if (next == RTC_TIME_NEVER) {
        uv_timer_stop(&u->timer);
        return;
    }
    rtc_time_t now = rtc_clock_now();
    uint64_t ms = next <= now ? 0 : (uint64_t)((next - now + RTC_US_PER_MS - 1) / RTC_US_PER_MS);
    uv_timer_start(&u->timer, on_timer, ms < min_ms ? min_ms : ms, 0);
}

static void rearm(rtc_ice_uv_t *u) { rearm_min(u, 0); }

static void on_readable(uv_poll_t *h, int status, int events) {
    uv_sock_t *s = h->data;
    rtc_ice_uv_t *u = s->owner;
    if (status < 0 || !(events & UV_READABLE)) return;
    rtc_datagram_t msgs[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].data = u->bufs[i];
            msgs[i].cap = sizeof u->bufs[i];
        }
        int n = rtc_udp_recv_batch(s->sock, msgs, BATCH);
        if (n <= 0) break;
        rtc_time_t now = rtc_clock_now();
        for (int i = 0; i < n && !u->destroying; i++) {
            if (msgs[i].truncated) continue;
            rtc_addr_unmap(&msgs[i].peer);
            rtc_ice_agent_handle_datagram(u->agent, s, &msgs[i].peer, msgs[i].data, msgs[i].len, now);
        }
        if (n < BATCH || u->destroying) break;
    }
    rearm(u);
}

/* The interface carrying `a`, for interface-name filters. */
static void ifname_of(const rtc_addr_t *a, char *out, size_t cap) {
    out[0] = '\0';
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6) continue;
        rtc_addr_t x;
        size_t len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        if (rtc_addr_from_sockaddr(&x, i->ifa_addr, len) == RTC_OK && rtc_addr_equal_ip(&x, a)) {
            snprintf(out, cap, "%s", i->ifa_name);
            break;
        }
    }
    freeifaddrs(ifs);
    if (!out[0] && rtc_addr_is_loopback(a)) snprintf(out, cap, "lo");
}

rtc_ice_uv_t *rtc_ice_uv_create(struct uv_loop_s *loop, const rtc_ice_config_t *cfg, uint16_t port,
                                const rtc_ice_callbacks_t *cb, void *user) {
    if (!loop || !cfg) return NULL;
    rtc_ice_uv_t *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    if (cb) u->user_cb = *cb;
    u->user = user;
    rtc_ice_callbacks_t mine = {
        .send = cb_send, .candidate = cb_candidate, .state_change = cb_state,
        .gathering_state_change = cb_gathering, .selected_pair_change = cb_selected, .data = cb_data,
        .stream_open = cb_stream_open, .stream_close = cb_stream_close,
    };
    u->agent = rtc_ice_agent_create(cfg, &mine, u);
    if (!u->agent) { free(u); return NULL; }

    rtc_addr_t addrs[MAX_SOCKS];
    int n = rtc_ice_gather_addresses(cfg, addrs, MAX_SOCKS);
    if (n <= 0) {
        RTC_LOGE(LOG, "no local address allowed by the filter");
        rtc_ice_agent_destroy(u->agent);
        free(u);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        rtc_addr_t bind = addrs[i];
        bind.port = port;
        rtc_udp_options_t opts = {.v6_only = true};
        rtc_udp_socket_t *s;
        if (rtc_udp_socket_open(&bind, &opts, &s) != RTC_OK) {
            RTC_LOGW(LOG, "cannot bind %s; skipping it", rtc_addr_str(&bind));
            continue;
        }
        char ifname[IF_NAMESIZE + 1];
        ifname_of(&bind, ifname, sizeof ifname);
        uv_sock_t *us = &u->socks[u->n_socks];
        if (rtc_ice_agent_add_socket(u->agent, us, rtc_udp_socket_local(s), ifname[0] ? ifname : NULL) != RTC_OK) {
            rtc_udp_socket_close(s);
            continue;
        }
        u->n_socks++;
        us->kind = HANDLE_UDP;
        us->owner = u;
        us->sock = s;
    }
    if (u->n_socks == 0) {
        RTC_LOGE(LOG, "could not open any socket");
        rtc_ice_agent_destroy(u->agent);
        free(u);
        return NULL;
    }
    return u;
}

rtc_ice_agent_t *rtc_ice_uv_agent(rtc_ice_uv_t *u) { return u ? u->agent : NULL; }

int rtc_ice_uv_start(rtc_ice_uv_t *u) {
    if (!u || u->timer_init) return RTC_ERR_STATE;
    uv_timer_init(u->loop, &u->timer);
    u->timer.data = u;
    u->timer_init = true;
    u->open_handles++;
    for (size_t i = 0; i < u->n_socks; i++) {
        uv_sock_t *s = &u->socks[i];
        if (uv_poll_init(u->loop, &s->poll, rtc_udp_socket_fd(s->sock)) != 0) return RTC_ERR_IO;
        s->poll.data = s;
        s->polling = true;
        u->open_handles++;
        uv_poll_start(&s->poll, UV_READABLE, on_readable);
    }
    int rc = rtc_ice_agent_gather(u->agent, rtc_clock_now());
    rearm(u);
    return rc;
}

void rtc_ice_uv_kick(rtc_ice_uv_t *u) {
    if (u) rearm(u);
}

static void finish_destroy(rtc_ice_uv_t *u) {
    for (size_t i = 0; i < u->n_socks; i++) rtc_udp_socket_close(u->socks[i].sock);
    rtc_ice_agent_destroy(u->agent);
    rtc_uv_tls_contexts_free(&u->tls);
    free(u);
}

static void on_closed(uv_handle_t *h) {
    rtc_ice_uv_t *u = h->type == UV_TIMER ? h->data : ((uv_sock_t *)h->data)->owner;
    if (--u->open_handles == 0) finish_destroy(u);
}

void rtc_ice_uv_destroy(rtc_ice_uv_t *u) {
    if (!u || u->destroying) return;
    u->destroying = true;
    if (u->open_handles == 0) {
        finish_destroy(u);
        return;
    }
    /* The agent first: releases TURN allocations while the sockets still exist. */
    rtc_ice_agent_close(u->agent);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, on_closed);
    for (size_t i = 0; i < RTC_ICE_MAX_SERVERS; i++)
        if (u->streams[i]) rtc_uv_stream_close(u->streams[i]);
    for (size_t i = 0; i < u->n_socks; i++) {
        if (!u->socks[i].polling) continue;
        uv_poll_stop(&u->socks[i].poll);
        uv_close((uv_handle_t *)&u->socks[i].poll, on_closed);
    }
}
