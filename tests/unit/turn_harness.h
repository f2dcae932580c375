/*
 * A harness around the sans-I/O TURN server core for unit tests and fuzzing: fake relay
 * sockets, recorded sends, a fake clock, and a tiny STUN client that builds, signs and sends
 * requests and decodes the answers. Header-only (static functions) so each suite includes it.
 */
#ifndef TURN_HARNESS_H
#define TURN_HARNESS_H

/* Not every includer uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdio.h>
#include <stdlib.h>

#include "rtc/stun.h"
#include "rtc/turn.h"
#include "turn/auth.h"
#include "turn/server.h"

#define H_MAX_SENT 64
#define H_MAX_RELAYS 512
#define H_WALL_BASE 1700000000LL /* wall seconds at fake time 0 */

typedef struct {
    uint8_t data[2048];
    size_t len;
    turn_endpoint_t to;
    unsigned flags;
} h_sent_client_t;

typedef struct {
    uint8_t data[2048];
    size_t len;
    void *io;
    rtc_addr_t peer;
    unsigned flags;
} h_sent_peer_t;

typedef struct {
    turn_relay_t *relay;
    rtc_addr_t addr;
    bool open;
    bool df;
} h_relay_t;

typedef struct {
    turn_shared_t *sh;
    turn_server_t *s;
    rtc_time_t now;
    h_sent_client_t cl[H_MAX_SENT];
    size_t n_cl;
    size_t dropped_cl; /* sends beyond H_MAX_SENT */
    h_sent_peer_t pe[H_MAX_SENT];
    size_t n_pe;
    h_relay_t relays[H_MAX_RELAYS];
    size_t n_relays;
    uint16_t busy_port;       /* relay_open fails for this port (simulates another process) */
    /* The last response decoded by h_do. */
    uint8_t resp_buf[2048];
    rtc_stun_msg_t resp;
    bool have_resp;
} harness_t;

/* Holds made by h_port_hold and not yet adopted or released. */
static int h_live_holds;

static void h_release_hold(int64_t hold) {
    (void)hold;
    h_live_holds--;
}

static int h_port_hold(void *user, const rtc_addr_t *addr, int64_t *hold) {
    harness_t *h = user;
    if (addr->port == h->busy_port && h->busy_port) return RTC_ERR_IO;
    *hold = 1000 + addr->port;
    h_live_holds++;
    return RTC_OK;
}

static int h_relay_open(void *user, turn_relay_t *relay, const rtc_addr_t *addr, bool df, int64_t hold, void **io) {
    harness_t *h = user;
    if (hold >= 0) {
        /* Adopting a hold: it must be the one made for this very port. */
        if (hold != 1000 + addr->port) return RTC_ERR_INVALID_ARG;
        h_live_holds--;
    }
    if (addr->port == h->busy_port && h->busy_port) return RTC_ERR_IO;
    for (size_t i = 0; i < h->n_relays; i++)
        if (h->relays[i].open && rtc_addr_equal(&h->relays[i].addr, addr)) return RTC_ERR_IO;
    if (h->n_relays >= H_MAX_RELAYS) return RTC_ERR_IO;
    h_relay_t *r = &h->relays[h->n_relays++];
    r->relay = relay;
    r->addr = *addr;
    r->open = true;
    r->df = df;
    *io = r;
    return RTC_OK;
}

static void h_relay_close(void *user, void *io) {
    (void)user;
    ((h_relay_t *)io)->open = false;
}

static void h_send_client(void *user, const turn_endpoint_t *to, const uint8_t *p, size_t n, unsigned flags) {
    harness_t *h = user;
    if (h->n_cl >= H_MAX_SENT || n > sizeof h->cl[0].data) { h->dropped_cl++; return; }
    h_sent_client_t *m = &h->cl[h->n_cl++];
    memcpy(m->data, p, n);
    m->len = n;
    m->to = *to;
    m->flags = flags;
}

static void h_send_peer(void *user, void *io, const rtc_addr_t *peer, const uint8_t *p, size_t n, unsigned flags) {
    harness_t *h = user;
    if (h->n_pe >= H_MAX_SENT || n > sizeof h->pe[0].data) return;
    h_sent_peer_t *m = &h->pe[h->n_pe++];
    memcpy(m->data, p, n);
    m->len = n;
    m->io = io;
    m->peer = *peer;
    m->flags = flags;
}

static const turn_server_ops_t h_ops = {h_relay_open, h_relay_close, h_send_client, h_send_peer, h_port_hold};

/* A policy for tests: realm "test", users alice:secret and bob:hunter2, relay 127.0.0.1,
 * 127.0.0.1 and ::1 allowed as peers. The caller may adjust it before h_init. */
static turn_policy_t *h_policy(void) {
    turn_policy_t *p = turn_policy_new();
    turn_policy_set_realm(p, "test");
    turn_policy_add_user(p, "alice", "secret");
    turn_policy_add_user(p, "bob", "hunter2");
    turn_policy_finish(p);
    rtc_addr_parse(&p->relay_v4, "127.0.0.1", 0);
    turn_peer_filter_allow(&p->filter, "127.0.0.1");
    turn_peer_filter_allow(&p->filter, "::1");
    p->unauth_rate = 0; /* unlimited unless a test says otherwise */
    return p;
}

static void h_init_with(harness_t *h, turn_policy_t *p, uint16_t port_min, uint16_t port_max) {
    memset(h, 0, sizeof *h);
    h->sh = turn_shared_new(p, port_min, port_max);
    turn_ports_set_hold_release(h->sh->ports, h_release_hold);
    h->s = turn_server_new(h->sh, &h_ops, h);
    h->now = RTC_SEC(1000);
    turn_server_set_wall_offset(h->s, RTC_SEC(H_WALL_BASE));
}

static void h_init(harness_t *h) { h_init_with(h, h_policy(), 50000, 50999); }

static void h_free(harness_t *h) {
    turn_server_free(h->s);
    turn_shared_free(h->sh);
}

static void h_clear(harness_t *h) {
    h->n_cl = 0;
    h->n_pe = 0;
    h->dropped_cl = 0;
}

static void h_advance(harness_t *h, rtc_time_t dt) {
    h->now += dt;
    if (turn_server_next_timeout(h->s) <= h->now) turn_server_handle_timeout(h->s, h->now);
}

/* ---- a minimal client ---------------------------------------------------------------- */

typedef struct {
    turn_endpoint_t ep;
    rtc_stun_credentials_t cred;
    bool fingerprint;
} h_client_t;

static void h_client(h_client_t *c, const char *remote, const char *user, const char *pass) {
    memset(c, 0, sizeof *c);
    c->ep.conn = (void *)(uintptr_t)1;
    rtc_addr_parse(&c->ep.remote, remote, 0);
    rtc_addr_parse(&c->ep.local, c->ep.remote.family == RTC_AF_INET6 ? "[::1]:3478" : "127.0.0.1:3478", 0);
    c->ep.transport = TURN_TRANSPORT_UDP;
    rtc_stun_credentials_init(&c->cred, user, pass);
}

typedef void (*h_attrs_fn)(rtc_stun_builder_t *b, const void *arg);

/* Feeds raw bytes from client c. */
static void h_feed(harness_t *h, const h_client_t *c, const uint8_t *p, size_t n) {
    turn_server_on_client(h->s, &c->ep, p, n, h->now);
}

/* Builds a request (method + attrs from fn), signs it if the credentials are ready, feeds it
 * and decodes the single answer. Returns 0 for success, the error code for an error answer,
 * -1 when nothing came back. tid may be NULL (random). */
static int h_do_tid(harness_t *h, h_client_t *c, uint16_t method, h_attrs_fn fn, const void *arg,
                    const uint8_t *tid) {
    uint8_t buf[1500];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, method, RTC_STUN_REQUEST, tid);
    if (fn) fn(&b, arg);
    if (c->cred.ready) rtc_stun_credentials_sign(&c->cred, &b);
    if (c->fingerprint) rtc_stun_add_fingerprint(&b);
    int n = rtc_stun_builder_finish(&b);
    if (n <= 0) return -2;
    h_clear(h);
    size_t before = h->n_cl;
    h_feed(h, c, buf, (size_t)n);
    h->have_resp = false;
    if (h->n_cl == before) return -1;
    h_sent_client_t *m = &h->cl[h->n_cl - 1];
    memcpy(h->resp_buf, m->data, m->len);
    if (rtc_stun_msg_decode(&h->resp, h->resp_buf, m->len) != RTC_OK) return -3;
    if (memcmp(h->resp.tid, buf + 8, 12) != 0) return -4;
    h->have_resp = true;
    if (h->resp.cls == RTC_STUN_SUCCESS) return 0;
    int code = 0;
    if (rtc_stun_msg_get_error(&h->resp, &code, NULL, 0) != RTC_OK) return -5;
    return code;
}

static int h_do(harness_t *h, h_client_t *c, uint16_t method, h_attrs_fn fn, const void *arg) {
    return h_do_tid(h, c, method, fn, arg, NULL);
}

/* Like h_do, but follows 401/438 challenges the way a real client does (at most twice). */
static int h_do_auth(harness_t *h, h_client_t *c, uint16_t method, h_attrs_fn fn, const void *arg) {
    int code = -1;
    for (int i = 0; i < 3; i++) {
        code = h_do(h, c, method, fn, arg);
        if ((code == 401 || code == 438) && rtc_stun_credentials_handle_error(&c->cred, &h->resp) == RTC_OK)
            continue;
        break;
    }
    return code;
}

static void h_attr_udp(rtc_stun_builder_t *b, const void *arg) {
    (void)arg;
    rtc_stun_add_requested_transport(b, RTC_TURN_TRANSPORT_UDP);
}

/* Allocates for c; returns the answer code, relayed address (first) in *relayed if non-NULL. */
static int h_allocate(harness_t *h, h_client_t *c, rtc_addr_t *relayed) {
    int code = h_do_auth(h, c, RTC_STUN_ALLOCATE, h_attr_udp, NULL);
    if (code == 0 && relayed) rtc_stun_msg_get_xor_address(&h->resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, relayed);
    return code;
}

static void h_attr_peer(rtc_stun_builder_t *b, const void *arg) {
    rtc_stun_add_xor_address(b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, (const rtc_addr_t *)arg);
}

static int h_permit(harness_t *h, h_client_t *c, const char *peer) {
    rtc_addr_t a;
    if (rtc_addr_parse(&a, peer, 0) != RTC_OK) return -10;
    return h_do_auth(h, c, RTC_STUN_CREATE_PERMISSION, h_attr_peer, &a);
}

typedef struct {
    uint16_t channel;
    rtc_addr_t peer;
} h_bind_t;

static void h_attr_bind(rtc_stun_builder_t *b, const void *arg) {
    const h_bind_t *x = arg;
    rtc_stun_add_channel(b, x->channel);
    rtc_stun_add_xor_address(b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &x->peer);
}

static int h_bind(harness_t *h, h_client_t *c, uint16_t channel, const char *peer) {
    h_bind_t x = {.channel = channel};
    if (rtc_addr_parse(&x.peer, peer, 0) != RTC_OK) return -10;
    return h_do_auth(h, c, RTC_STUN_CHANNEL_BIND, h_attr_bind, &x);
}

static void h_attr_lifetime(rtc_stun_builder_t *b, const void *arg) {
    rtc_stun_add_u32(b, RTC_STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

static int h_refresh(harness_t *h, h_client_t *c, uint32_t lifetime) {
    return h_do_auth(h, c, RTC_STUN_REFRESH, h_attr_lifetime, &lifetime);
}

/* Sends a Send indication from c to peer with payload. */
static void h_send_ind(harness_t *h, h_client_t *c, const char *peer, const void *data, size_t len, bool df) {
    uint8_t buf[2048];
    rtc_addr_t a;
    rtc_addr_parse(&a, peer, 0);
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_SEND, RTC_STUN_INDICATION, NULL);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &a);
    if (df) rtc_stun_add_flag(&b, RTC_STUN_ATTR_DONT_FRAGMENT);
    rtc_stun_add_attr(&b, RTC_STUN_ATTR_DATA, data, len);
    int n = rtc_stun_builder_finish(&b);
    if (n > 0) h_feed(h, c, buf, (size_t)n);
}

/* Sends ChannelData from c. */
static void h_send_cd(harness_t *h, h_client_t *c, uint16_t channel, const void *data, size_t len) {
    uint8_t buf[2048];
    int n = rtc_turn_channel_data_write(buf, sizeof buf, channel, data, len, false);
    if (n > 0) h_feed(h, c, buf, (size_t)n);
}

/* The fake relay socket currently bound to address `relayed`, or NULL. */
static h_relay_t *h_find_relay(harness_t *h, const rtc_addr_t *relayed) {
    for (size_t i = 0; i < h->n_relays; i++)
        if (h->relays[i].open && rtc_addr_equal(&h->relays[i].addr, relayed)) return &h->relays[i];
    return NULL;
}

/* Delivers a datagram from peer to the relay bound at `relayed`, with the headroom the core
 * needs. Returns false if no such relay is open. */
static bool h_peer_send(harness_t *h, const rtc_addr_t *relayed, const char *peer, const void *data, size_t len) {
    h_relay_t *r = h_find_relay(h, relayed);
    if (!r) return false;
    static uint8_t buf[TURN_PEER_HEADROOM + 4096 + TURN_PEER_TAILROOM];
    memset(buf, 0xAA, sizeof buf); /* catch reliance on zeroed memory */
    memcpy(buf + TURN_PEER_HEADROOM, data, len);
    rtc_addr_t p;
    rtc_addr_parse(&p, peer, 0);
    turn_server_on_peer(h->s, r->relay, &p, buf + TURN_PEER_HEADROOM, len, h->now);
    return true;
}

static uint8_t h_key[16];
/* The long-term key of user/pass in realm "test". */
static const uint8_t *h_lt_key(const char *user, const char *pass) {
    uint8_t full[RTC_STUN_KEY_MAX];
    rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, user, "test", pass, full);
    memcpy(h_key, full, 16);
    return h_key;
}

#endif /* TURN_HARNESS_H */
