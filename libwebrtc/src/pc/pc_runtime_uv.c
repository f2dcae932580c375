/* pc/pc_runtime_uv.c — the PeerConnection runtime on libuv: sockets (rtc/net.h, recvmmsg
 * batches read from a uv_poll_t), one uv_timer_t per PeerConnection following its
 * next_timeout, and the shared-port demultiplexer an SFU worker uses (see rtc/pc.h).
 * This is the only file of src/pc/ that does I/O or reads the clock. */
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/stream_uv.h"
#include "pc/pc_internal.h"
#include "rtc/stun.h"

#define LOG "pc-rt"
#define BATCH 32
#define MAX_SOCKS 16
#define ADDR_BUCKETS 4096

typedef struct rt_pc rt_pc_t;

/* Every handle given to a PeerConnection starts with its kind, so `send` knows what it got:
 * a UDP socket (rt_sock_t) or a TCP/TLS stream to a TURN server (rtc_uv_stream_t). */
enum { HANDLE_UDP = 1, HANDLE_STREAM = 2 };

typedef struct {
    int kind;                   /* HANDLE_UDP */
    rtc_pc_runtime_t *rt;
    rt_pc_t *owner;             /* NULL: a shared socket */
    rtc_udp_socket_t *sock;
    uv_poll_t poll;
    bool polling;
} rt_sock_t;

struct rt_pc {
    rtc_pc_runtime_t *rt;
    rtc_peer_connection_t *pc;
    rtc_pc_callbacks_t user_cb;
    void *user;
    uv_timer_t timer;
    rt_sock_t *socks[MAX_SOCKS];
    size_t n_socks;
    rtc_uv_stream_t *streams[RTC_ICE_MAX_SERVERS];  /* TURN over TCP/TLS */
    int open_handles;
    bool destroying;
    bool destroy_later;
    unsigned due_again;          /* timeouts in a row after which it was still due */
    rt_pc_t *prev, *next;
};

typedef struct addr_entry {
    rtc_addr_t addr;
    rt_pc_t *pc;
    struct addr_entry *next;
} addr_entry_t;

struct rtc_pc_runtime {
    uv_loop_t *loop;
    rtc_pc_runtime_config_t cfg;
    rt_sock_t *shared[MAX_SOCKS];
    size_t n_shared;
    rt_pc_t *pcs;                /* doubly linked list */
    size_t n_pcs;
    addr_entry_t *buckets[ADDR_BUCKETS];
    uv_timer_t reaper;           /* destroys PeerConnections marked destroy_later */
    bool reaper_init;
    int open_handles;            /* shared sockets + reaper */
    bool destroying;
    rtc_uv_tls_contexts_t tls;   /* for turns: servers */
    rtc_pc_runtime_stats_t stats;
    uint8_t bufs[BATCH][2048];
};

void rtc_pc_runtime_config_init(rtc_pc_runtime_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    rtc_net_filter_init(&cfg->filter);
    cfg->reuse_port = true;
}

rtc_time_t rtc_pc_runtime_now(const rtc_pc_runtime_t *rt) {
    (void)rt;
    return rtc_clock_now();
}

/* ---- remote address table (shared mode) ----------------------------------------------- */
static addr_entry_t **bucket(rtc_pc_runtime_t *rt, const rtc_addr_t *a) {
    return &rt->buckets[rtc_addr_hash(a) % ADDR_BUCKETS];
}

static rt_pc_t *addr_lookup(rtc_pc_runtime_t *rt, const rtc_addr_t *a) {
    for (addr_entry_t *e = *bucket(rt, a); e; e = e->next)
        if (rtc_addr_equal(&e->addr, a)) return e->pc;
    return NULL;
}

static void addr_learn(rtc_pc_runtime_t *rt, const rtc_addr_t *a, rt_pc_t *p) {
    addr_entry_t **b = bucket(rt, a);
    for (addr_entry_t *e = *b; e; e = e->next) {
        if (rtc_addr_equal(&e->addr, a)) { e->pc = p; return; }
    }
    addr_entry_t *e = malloc(sizeof *e);
    if (!e) return;
    e->addr = *a;
    e->pc = p;
    e->next = *b;
    *b = e;
}

static void addr_forget_pc(rtc_pc_runtime_t *rt, rt_pc_t *p) {
    for (size_t i = 0; i < ADDR_BUCKETS; i++) {
        addr_entry_t **pp = &rt->buckets[i];
        while (*pp) {
            if ((*pp)->pc == p) {
                addr_entry_t *dead = *pp;
                *pp = dead->next;
                free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

/* ---- timers --------------------------------------------------------------------------- */
static void on_pc_timer(uv_timer_t *t);

static uint64_t timer_ms(rtc_time_t next, rtc_time_t now) {
    return next <= now ? 0 : (uint64_t)((next - now + RTC_US_PER_MS - 1) / RTC_US_PER_MS);
}

/* Arms p's timer for its next deadline. After its own timeout (after_timeout) a deadline
 * that is still due means a part that cannot make progress: libuv before 1.45 runs a timer
 * re-armed for 0 ms again in the same pass, before any I/O, so that would hold the whole loop
 * (every PeerConnection of the worker). It gets 1 ms, so the loop reads its sockets in
 * between, and a warning after 1000 in a row names the stuck part. */
static void rearm_timer(rt_pc_t *p, bool after_timeout) {
    if (p->destroying || p->destroy_later) return;
    rtc_time_t next = rtc_peer_connection_next_timeout(p->pc);
    if (next == RTC_TIME_NEVER) {
        uv_timer_stop(&p->timer);
        return;
    }
    rtc_time_t now = rtc_clock_now();
    uint64_t ms = timer_ms(next, now);
    if (after_timeout && ms == 0) {
        ms = 1;
        if (++p->due_again == 1000)
            RTC_LOGW(LOG, "%s: timer due again right after each timeout, 1000 times in a row (%s part)",
                     p->pc->log_id, pc_transport_next_timeout(p->pc) <= now ? "transport" : "media");
    } else if (after_timeout) {
        p->due_again = 0;
    }
    uv_timer_start(&p->timer, on_pc_timer, ms, 0);
}

static void rearm(rt_pc_t *p) { rearm_timer(p, false); }

static void on_pc_timer(uv_timer_t *t) {
    rt_pc_t *p = t->data;
    if (p->destroying) return;
    rtc_peer_connection_handle_timeout(p->pc, rtc_clock_now());
    rearm_timer(p, true);
}

/* ---- PeerConnection callbacks: runtime-supplied send/wakeup, the rest forwarded --------- */
static void cb_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *d, size_t n) {
    rt_pc_t *p = user;
    if (*(int *)sock == HANDLE_STREAM) {
        if (rtc_uv_stream_write(sock, d, n) == RTC_OK) p->rt->stats.datagrams_sent++;
        else p->rt->stats.send_errors++;
        return;
    }
    rt_sock_t *s = sock;
    int rc = rtc_udp_send(s->sock, dest, d, n);
    if (rc == RTC_OK) p->rt->stats.datagrams_sent++;
    else p->rt->stats.send_errors++;
    if (!s->owner && !addr_lookup(p->rt, dest)) addr_learn(p->rt, dest, p);
}
static void cb_wakeup(void *user) { rearm(user); }
static void cb_cand(void *u, const char *c, const char *mid, int idx) {
    rt_pc_t *p = u;
    if (p->user_cb.on_ice_candidate) p->user_cb.on_ice_candidate(p->user, c, mid, idx);
}
static void cb_sig(void *u, rtc_pc_signaling_state_t s) {
    rt_pc_t *p = u;
    if (p->user_cb.on_signaling_state) p->user_cb.on_signaling_state(p->user, s);
}
static void cb_gath(void *u, rtc_ice_gathering_state_t s) {
    rt_pc_t *p = u;
    if (p->user_cb.on_ice_gathering_state) p->user_cb.on_ice_gathering_state(p->user, s);
}
static void cb_ice(void *u, rtc_ice_state_t s) {
    rt_pc_t *p = u;
    if (p->user_cb.on_ice_connection_state) p->user_cb.on_ice_connection_state(p->user, s);
}
static void cb_conn(void *u, rtc_pc_state_t s) {
    rt_pc_t *p = u;
    if (p->user_cb.on_connection_state) p->user_cb.on_connection_state(p->user, s);
}
static void cb_neg(void *u) {
    rt_pc_t *p = u;
    if (p->user_cb.on_negotiation_needed) p->user_cb.on_negotiation_needed(p->user);
}
static void cb_track(void *u, rtc_pc_transceiver_t *t) {
    rt_pc_t *p = u;
    if (p->user_cb.on_track) p->user_cb.on_track(p->user, t);
}
static void cb_dc(void *u, rtc_pc_datachannel_t *d) {
    rt_pc_t *p = u;
    if (p->user_cb.on_datachannel) p->user_cb.on_datachannel(p->user, d);
}
static void cb_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *d, size_t n, const rtc_pc_rtp_info_t *i) {
    rt_pc_t *p = u;
    if (p->user_cb.on_rtp) p->user_cb.on_rtp(p->user, t, d, n, i);
}
static void cb_kf(void *u, rtc_pc_transceiver_t *t, bool fir) {
    rt_pc_t *p = u;
    if (p->user_cb.on_keyframe_request) p->user_cb.on_keyframe_request(p->user, t, fir);
}

/* ---- TCP/TLS streams to TURN servers (net/stream_uv.c, shared with the ICE driver) ----- */
static void pc_handle_closed(uv_handle_t *h);

static void st_connected(void *user, rtc_uv_stream_t *s) {
    rt_pc_t *p = user;
    if (p->destroying) return;
    rtc_peer_connection_stream_connected(p->pc, s, rtc_clock_now());
    rearm(p);
}

static void st_data(void *user, rtc_uv_stream_t *s, const uint8_t *d, size_t n) {
    rt_pc_t *p = user;
    if (p->destroying) return;
    if (rtc_peer_connection_handle_stream(p->pc, s, d, n, rtc_clock_now()) == RTC_ERR_MALFORMED) {
        RTC_LOGI(LOG, "TURN stream closed: garbage on the stream");
        rtc_uv_stream_close(s);
        rtc_peer_connection_stream_closed(p->pc, s, rtc_clock_now());
    }
    if (!p->destroying) rearm(p);
}

static void st_failed(void *user, rtc_uv_stream_t *s, const char *why) {
    rt_pc_t *p = user;
    (void)why;
    if (p->destroying) return;
    rtc_peer_connection_stream_closed(p->pc, s, rtc_clock_now());
    rearm(p);
}

static void st_freed(void *user, rtc_uv_stream_t *s) {
    rt_pc_t *p = user;
    for (size_t i = 0; i < RTC_ICE_MAX_SERVERS; i++)
        if (p->streams[i] == s) p->streams[i] = NULL;
    if (--p->open_handles == 0) free(p);
}

static void *cb_stream_open(void *user, const rtc_ice_server_t *server) {
    rt_pc_t *p = user;
    if (p->destroying) return NULL;
    size_t slot = 0;
    while (slot < RTC_ICE_MAX_SERVERS && p->streams[slot]) slot++;
    if (slot == RTC_ICE_MAX_SERVERS) return NULL;
    /* Leave from one of the PC's own addresses of the server's family, like its UDP. */
    const rtc_addr_t *from = NULL;
    rt_sock_t *const *socks = p->n_socks ? p->socks : p->rt->shared;
    size_t n = p->n_socks ? p->n_socks : p->rt->n_shared;
    for (size_t i = 0; i < n && !from; i++)
        if (rtc_udp_socket_local(socks[i]->sock)->family == server->addr.family) from = rtc_udp_socket_local(socks[i]->sock);
    if (!from) return NULL;
    rtc_uv_stream_options_t o = {
        .tls = server->protocol == RTC_ICE_RELAY_TLS, .tls_name = server->tls_name,
        .tls_no_verify = server->tls_no_verify, .contexts = &p->rt->tls,
    };
    static const rtc_uv_stream_callbacks_t cb = {st_connected, st_data, st_failed, st_freed};
    rtc_uv_stream_t *s = rtc_uv_stream_open(p->rt->loop, HANDLE_STREAM, from, &server->addr, &o, &cb, p);
    if (!s) return NULL;
    p->streams[slot] = s;
    p->open_handles++;
    return s;
}

static void cb_stream_close(void *user, void *stream) {
    (void)user;
    rtc_uv_stream_close(stream);
}

/* ---- sockets -------------------------------------------------------------------------- */
/* In shared mode: which PeerConnection does a datagram from `from` belong to? */
static rt_pc_t *demux_shared(rtc_pc_runtime_t *rt, const rtc_addr_t *from, const uint8_t *d, size_t n,
                             bool *by_ufrag) {
    *by_ufrag = false;
    rt_pc_t *p = addr_lookup(rt, from);
    if (p) return p;
    if (n < 20 || d[0] > 3 || !rtc_stun_is_message(d, n)) return NULL;
    rtc_stun_msg_t msg;
    int rc = rtc_stun_msg_decode(&msg, d, n);
    if (rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) return NULL;
    const rtc_stun_attr_t *u = rtc_stun_msg_find(&msg, RTC_STUN_ATTR_USERNAME);
    if (!u) return NULL;
    const uint8_t *v = rtc_stun_attr_value(&msg, u);
    size_t len = u->len, colon = 0;
    while (colon < len && v[colon] != ':') colon++;
    if (colon == len || colon == 0) return NULL;
    /* A linear scan, only for the first check from a new address; later datagrams from it
     * hit the address table. */
    for (rt_pc_t *c = rt->pcs; c; c = c->next) {
        if (c->destroying) continue;
        const char *uf = rtc_peer_connection_local_ufrag(c->pc);
        if (strlen(uf) == colon && memcmp(uf, v, colon) == 0) {
            *by_ufrag = true;
            return c;
        }
    }
    return NULL;
}

static void on_readable(uv_poll_t *h, int status, int events) {
    rt_sock_t *s = h->data;
    rtc_pc_runtime_t *rt = s->rt;
    if (status < 0 || !(events & UV_READABLE)) return;
    rtc_datagram_t msgs[BATCH];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < BATCH; i++) {
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].data = rt->bufs[i];
            msgs[i].cap = sizeof rt->bufs[i];
        }
        int n = rtc_udp_recv_batch(s->sock, msgs, BATCH);
        if (n <= 0) break;
        rt->stats.batches++;
        rtc_time_t now = rtc_clock_now();
        for (int i = 0; i < n; i++) {
            if (msgs[i].truncated) continue;
            rt->stats.datagrams_received++;
            rtc_addr_unmap(&msgs[i].peer);
            rt_pc_t *p = s->owner;
            bool by_ufrag = false;
            if (!p) p = demux_shared(rt, &msgs[i].peer, msgs[i].data, msgs[i].len, &by_ufrag);
            if (!p || p->destroying) {
                rt->stats.unknown_dropped++;
                if (rt->cfg.unknown_datagram)
                    rt->cfg.unknown_datagram(rt->cfg.user, rtc_udp_socket_local(s->sock), &msgs[i].peer,
                                             msgs[i].data, msgs[i].len);
                continue;
            }
            int rc = rtc_peer_connection_handle_datagram(p->pc, s, &msgs[i].peer, msgs[i].data, msgs[i].len, now);
            if (by_ufrag && rc == RTC_OK) addr_learn(rt, &msgs[i].peer, p);
            if (!p->destroying) rearm(p);
        }
        if (n < BATCH) break;
    }
}

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

static rt_sock_t *open_sock(rtc_pc_runtime_t *rt, rt_pc_t *owner, const rtc_addr_t *addr, bool reuse) {
    rt_sock_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->kind = HANDLE_UDP;
    rtc_udp_options_t opts = {.v6_only = true, .reuse_port = reuse, .recv_buffer = 1 << 20, .send_buffer = 1 << 20};
    if (rtc_udp_socket_open(addr, &opts, &s->sock) != RTC_OK) {
        RTC_LOGW(LOG, "cannot bind %s", rtc_addr_str(addr));
        free(s);
        return NULL;
    }
    s->rt = rt;
    s->owner = owner;
    if (uv_poll_init(rt->loop, &s->poll, rtc_udp_socket_fd(s->sock)) != 0) {
        rtc_udp_socket_close(s->sock);
        free(s);
        return NULL;
    }
    s->poll.data = s;
    s->polling = true;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    return s;
}

/* ---- runtime -------------------------------------------------------------------------- */
static void on_reaper(uv_timer_t *t);

rtc_pc_runtime_t *rtc_pc_runtime_create(struct uv_loop_s *loop, const rtc_pc_runtime_config_t *cfg) {
    if (!loop) return NULL;
    rtc_pc_runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt) return NULL;
    rt->loop = loop;
    if (cfg) rt->cfg = *cfg;
    else rtc_pc_runtime_config_init(&rt->cfg);
    uv_timer_init(loop, &rt->reaper);
    rt->reaper.data = rt;
    rt->reaper_init = true;
    rt->open_handles = 1;
    if (rt->cfg.shared_port) {
        rtc_addr_t addrs[MAX_SOCKS];
        int n = rtc_net_local_addresses(&rt->cfg.filter, addrs, MAX_SOCKS);
        for (int i = 0; i < n; i++) {
            addrs[i].port = rt->cfg.shared_port;
            rt_sock_t *s = open_sock(rt, NULL, &addrs[i], rt->cfg.reuse_port);
            if (!s) continue;
            rt->shared[rt->n_shared++] = s;
            rt->open_handles++;
        }
        if (!rt->n_shared) {
            RTC_LOGE(LOG, "shared port %u: no socket could be opened", rt->cfg.shared_port);
            rtc_pc_runtime_destroy(rt);
            return NULL;
        }
    }
    return rt;
}

static void free_sock_handle_closed(uv_handle_t *h);

static void pc_handle_closed(uv_handle_t *h) {
    rt_pc_t *p = h->data;
    if (--p->open_handles == 0) free(p);
}

static void sock_closed(uv_handle_t *h) {
    rt_sock_t *s = h->data;
    rtc_udp_socket_close(s->sock);
    rt_pc_t *owner = s->owner;
    free(s);
    if (owner && --owner->open_handles == 0) free(owner);
}

static void free_sock_handle_closed(uv_handle_t *h) {
    rt_sock_t *s = h->data;
    rtc_pc_runtime_t *rt = s->rt;
    rtc_udp_socket_close(s->sock);
    free(s);
    if (--rt->open_handles == 0) free(rt);
}

static void reaper_closed(uv_handle_t *h) {
    rtc_pc_runtime_t *rt = h->data;
    if (--rt->open_handles == 0) free(rt);
}

static void unlink_pc(rtc_pc_runtime_t *rt, rt_pc_t *p) {
    if (p->prev) p->prev->next = p->next;
    else rt->pcs = p->next;
    if (p->next) p->next->prev = p->prev;
    rt->n_pcs--;
}

static void destroy_rt_pc(rt_pc_t *p) {
    if (p->destroying) return;
    p->destroying = true;
    rtc_pc_runtime_t *rt = p->rt;
    unlink_pc(rt, p);
    if (rt->cfg.shared_port) addr_forget_pc(rt, p);
    rtc_peer_connection_destroy(p->pc);
    p->pc = NULL;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, pc_handle_closed);
    for (size_t i = 0; i < p->n_socks; i++) {
        uv_poll_stop(&p->socks[i]->poll);
        uv_close((uv_handle_t *)&p->socks[i]->poll, sock_closed);
    }
    for (size_t i = 0; i < RTC_ICE_MAX_SERVERS; i++)
        if (p->streams[i]) rtc_uv_stream_close(p->streams[i]);
}

void rtc_pc_runtime_destroy(rtc_pc_runtime_t *rt) {
    if (!rt || rt->destroying) return;
    rt->destroying = true;
    while (rt->pcs) destroy_rt_pc(rt->pcs);
    for (size_t i = 0; i < ADDR_BUCKETS; i++) {
        while (rt->buckets[i]) {
            addr_entry_t *e = rt->buckets[i];
            rt->buckets[i] = e->next;
            free(e);
        }
    }
    for (size_t i = 0; i < rt->n_shared; i++) {
        uv_poll_stop(&rt->shared[i]->poll);
        uv_close((uv_handle_t *)&rt->shared[i]->poll, free_sock_handle_closed);
    }
    rtc_uv_tls_contexts_free(&rt->tls); /* open streams keep their own reference */
    uv_timer_stop(&rt->reaper);
    uv_close((uv_handle_t *)&rt->reaper, reaper_closed);
}

rtc_peer_connection_t *rtc_pc_runtime_create_pc(rtc_pc_runtime_t *rt, const rtc_pc_config_t *cfg,
                                                const rtc_pc_callbacks_t *cb, void *user) {
    if (!rt || !cfg || rt->destroying) return NULL;
    rt_pc_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->rt = rt;
    if (cb) p->user_cb = *cb;
    p->user = user;
    rtc_pc_callbacks_t mine = {
        .send = cb_send, .wakeup = cb_wakeup, .on_ice_candidate = cb_cand, .on_signaling_state = cb_sig,
        .on_ice_gathering_state = cb_gath, .on_ice_connection_state = cb_ice, .on_connection_state = cb_conn,
        .on_negotiation_needed = cb_neg, .on_track = cb_track, .on_datachannel = cb_dc, .on_rtp = cb_rtp,
        .on_keyframe_request = cb_kf, .stream_open = cb_stream_open, .stream_close = cb_stream_close,
    };
    rtc_pc_config_t c = *cfg;
    p->pc = rtc_peer_connection_create(&c, &mine, p);
    if (!p->pc) { free(p); return NULL; }
    size_t added = 0;
    if (rt->cfg.shared_port) {
        for (size_t i = 0; i < rt->n_shared; i++) {
            const rtc_addr_t *local = rtc_udp_socket_local(rt->shared[i]->sock);
            char ifn[IF_NAMESIZE + 1];
            ifname_of(local, ifn, sizeof ifn);
            if (rtc_peer_connection_add_socket(p->pc, rt->shared[i], local, ifn[0] ? ifn : NULL) == RTC_OK) added++;
        }
    } else {
        rtc_addr_t addrs[MAX_SOCKS];
        int n = rtc_net_local_addresses(&cfg->filter, addrs, MAX_SOCKS);
        for (int i = 0; i < n && p->n_socks < MAX_SOCKS; i++) {
            addrs[i].port = 0;
            rt_sock_t *s = open_sock(rt, p, &addrs[i], false);
            if (!s) continue;
            const rtc_addr_t *local = rtc_udp_socket_local(s->sock);
            char ifn[IF_NAMESIZE + 1];
            ifname_of(local, ifn, sizeof ifn);
            if (rtc_peer_connection_add_socket(p->pc, s, local, ifn[0] ? ifn : NULL) == RTC_OK) added++;
            p->socks[p->n_socks++] = s;
            p->open_handles++;
        }
    }
    if (!added) RTC_LOGW(LOG, "PeerConnection has no usable local address (check the filter)");
    uv_timer_init(rt->loop, &p->timer);
    p->timer.data = p;
    p->open_handles++;
    p->next = rt->pcs;
    if (rt->pcs) rt->pcs->prev = p;
    rt->pcs = p;
    rt->n_pcs++;
    return p->pc;
}

static rt_pc_t *find_pc(rtc_pc_runtime_t *rt, rtc_peer_connection_t *pc) {
    for (rt_pc_t *p = rt->pcs; p; p = p->next)
        if (p->pc == pc) return p;
    return NULL;
}

void rtc_pc_runtime_destroy_pc(rtc_pc_runtime_t *rt, rtc_peer_connection_t *pc) {
    if (!rt || !pc) return;
    rt_pc_t *p = find_pc(rt, pc);
    if (p) destroy_rt_pc(p);
}

static void on_reaper(uv_timer_t *t) {
    rtc_pc_runtime_t *rt = t->data;
    rt_pc_t *p = rt->pcs;
    while (p) {
        rt_pc_t *next = p->next;
        if (p->destroy_later) destroy_rt_pc(p);
        p = next;
    }
}

void rtc_pc_runtime_destroy_pc_later(rtc_pc_runtime_t *rt, rtc_peer_connection_t *pc) {
    if (!rt || !pc) return;
    rt_pc_t *p = find_pc(rt, pc);
    if (!p) return;
    p->destroy_later = true;
    uv_timer_stop(&p->timer);
    uv_timer_start(&rt->reaper, on_reaper, 0, 0);
}

size_t rtc_pc_runtime_pc_count(const rtc_pc_runtime_t *rt) { return rt ? rt->n_pcs : 0; }

void rtc_pc_runtime_get_stats(const rtc_pc_runtime_t *rt, rtc_pc_runtime_stats_t *out) {
    if (rt && out) *out = rt->stats;
}
