/* A minimal TURN server (RFC 8656, UDP) for the simulated network: long-term credentials with
 * a 401 challenge, Allocate/Refresh, CreatePermission, ChannelBind, Send and Data indications,
 * ChannelData both ways, and Binding (it is a STUN server too). One allocation per client
 * 5-tuple, each with its own relay socket on the server's IP. It exists so relayed ICE can be
 * tested in the simulator against the real TURN client; the production server is
 * services/turn and is tested on its own. */
#include <stdio.h>
#include <stdlib.h>

#include "netsim.h"
#include "rtc/stun.h"
#include "rtc/turn.h"

#define NONCE "netsimNonce0123"
#define MAX_ALLOCS 32
#define MAX_PERMS 32
#define MAX_CHANNELS 32

typedef struct netsim_turn netsim_turn_t;

typedef struct {
    netsim_turn_t *srv;
    bool used;
    rtc_addr_t client;          /* as the server sees it */
    uint8_t tid[RTC_STUN_TID_LEN]; /* of the Allocate that created it, for retransmissions */
    uint32_t lifetime;
    netsim_socket_t *relay;
    rtc_time_t expires;
    rtc_addr_t perms[MAX_PERMS];
    rtc_time_t perm_expires[MAX_PERMS];
    size_t n_perms;
    rtc_addr_t chan_peer[MAX_CHANNELS];
    uint16_t chan_num[MAX_CHANNELS];
    size_t n_chans;
} alloc_t;

struct netsim_turn {
    netsim_t *sim;
    netsim_socket_t *sock;
    char ip[64];
    char user[128], pass[128], realm[64];
    uint8_t key[RTC_STUN_KEY_MAX];
    size_t key_len;
    alloc_t allocs[MAX_ALLOCS];
    netsim_turn_stats_t stats;
};

static alloc_t *find_alloc(netsim_turn_t *t, const rtc_addr_t *client) {
    for (int i = 0; i < MAX_ALLOCS; i++) {
        alloc_t *a = &t->allocs[i];
        if (!a->used) continue;
        if (netsim_now(t->sim) > a->expires) {
            netsim_socket_close(a->relay);
            a->used = false;
            continue;
        }
        if (rtc_addr_equal(&a->client, client)) return a;
    }
    return NULL;
}

static bool permitted(alloc_t *a, const rtc_addr_t *peer) {
    for (size_t i = 0; i < a->n_perms; i++)
        if (rtc_addr_equal_ip(&a->perms[i], peer) && a->perm_expires[i] >= netsim_now(a->srv->sim)) return true;
    return false;
}

static void add_perm(alloc_t *a, const rtc_addr_t *peer) {
    rtc_time_t exp = netsim_now(a->srv->sim) + RTC_SEC(RTC_TURN_PERMISSION_LIFETIME);
    for (size_t i = 0; i < a->n_perms; i++) {
        if (rtc_addr_equal_ip(&a->perms[i], peer)) { a->perm_expires[i] = exp; return; }
    }
    if (a->n_perms < MAX_PERMS) {
        a->perms[a->n_perms] = *peer;
        a->perm_expires[a->n_perms++] = exp;
    }
}

static void reply(netsim_turn_t *t, const rtc_addr_t *to, rtc_stun_builder_t *b, bool sign) {
    if (sign) rtc_stun_add_integrity(b, t->key, t->key_len);
    rtc_stun_add_fingerprint(b);
    int n = rtc_stun_builder_finish(b);
    if (n > 0) netsim_send(t->sock, to, b->buf, (size_t)n);
}

static void error_reply(netsim_turn_t *t, const rtc_addr_t *to, const rtc_stun_msg_t *req, int code, bool sign) {
    uint8_t buf[512];
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, buf, sizeof buf, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    if (code == 401 || code == 438) {
        rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, t->realm);
        rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, NONCE);
    }
    reply(t, to, &b, sign);
}

/* Data from a peer to one of our relay sockets. */
static void relay_recv(void *user, netsim_socket_t *s, const rtc_addr_t *from, const uint8_t *p, size_t n) {
    alloc_t *a = user;
    netsim_turn_t *t = a->srv;
    (void)s;
    if (!a->used || !permitted(a, from)) {
        t->stats.dropped_no_permission++;
        return;
    }
    t->stats.relayed_to_client++;
    for (size_t i = 0; i < a->n_chans; i++) {
        if (rtc_addr_equal(&a->chan_peer[i], from)) {
            uint8_t buf[1600];
            int len = rtc_turn_channel_data_write(buf, sizeof buf, a->chan_num[i], p, n, false);
            if (len > 0) netsim_send(t->sock, &a->client, buf, (size_t)len);
            return;
        }
    }
    uint8_t buf[1700];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_DATA, RTC_STUN_INDICATION, NULL);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, from);
    rtc_stun_add_attr(&b, RTC_STUN_ATTR_DATA, p, n);
    rtc_stun_add_fingerprint(&b);
    int len = rtc_stun_builder_finish(&b);
    if (len > 0) netsim_send(t->sock, &a->client, buf, (size_t)len);
}

static void handle_request(netsim_turn_t *t, const rtc_addr_t *from, const rtc_stun_msg_t *m) {
    uint8_t buf[512];
    rtc_stun_builder_t b;
    if (m->method == RTC_STUN_BINDING) {
        rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
        reply(t, from, &b, false);
        return;
    }
    /* Long-term credentials (RFC 8489 §9.2): no integrity → 401 with realm and nonce. */
    if (m->integrity < 0) { error_reply(t, from, m, 401, false); return; }
    char user[256], nonce[128];
    if (rtc_stun_msg_get_string(m, RTC_STUN_ATTR_USERNAME, user, sizeof user) != RTC_OK ||
        rtc_stun_msg_get_string(m, RTC_STUN_ATTR_NONCE, nonce, sizeof nonce) != RTC_OK) {
        error_reply(t, from, m, 400, false);
        return;
    }
    if (strcmp(user, t->user) != 0 || rtc_stun_msg_check_integrity(m, t->key, t->key_len) != RTC_OK) {
        t->stats.auth_failures++;
        error_reply(t, from, m, 401, false);
        return;
    }
    if (strcmp(nonce, NONCE) != 0) { error_reply(t, from, m, 438, false); return; }
    alloc_t *a = find_alloc(t, from);
    uint32_t lifetime = RTC_TURN_DEFAULT_LIFETIME;
    rtc_stun_msg_get_u32(m, RTC_STUN_ATTR_LIFETIME, &lifetime);
    if (lifetime > RTC_TURN_MAX_LIFETIME) lifetime = RTC_TURN_MAX_LIFETIME;
    switch (m->method) {
    case RTC_STUN_ALLOCATE: {
        if (a && memcmp(a->tid, m->tid, RTC_STUN_TID_LEN) != 0) { error_reply(t, from, m, 437, true); return; }
        if (a) {
            /* A retransmission of the Allocate whose answer was lost (RFC 8656 §7.2). */
            rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
            rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, netsim_socket_addr(a->relay));
            rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
            rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, a->lifetime);
            reply(t, from, &b, true);
            return;
        }
        uint8_t proto = 0;
        if (rtc_stun_msg_get_requested_transport(m, &proto) != RTC_OK || proto != RTC_TURN_TRANSPORT_UDP) {
            error_reply(t, from, m, proto ? 442 : 400, true);
            return;
        }
        for (int i = 0; i < MAX_ALLOCS && !a; i++) if (!t->allocs[i].used) a = &t->allocs[i];
        if (!a) { error_reply(t, from, m, 486, true); return; }
        memset(a, 0, sizeof *a);
        a->srv = t;
        a->used = true;
        a->client = *from;
        memcpy(a->tid, m->tid, RTC_STUN_TID_LEN);
        a->lifetime = lifetime;
        a->relay = netsim_socket_open(t->sim, NULL, t->ip, 0, relay_recv, a);
        a->expires = netsim_now(t->sim) + RTC_SEC(lifetime);
        t->stats.allocations++;
        rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, netsim_socket_addr(a->relay));
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, lifetime);
        reply(t, from, &b, true);
        return;
    }
    case RTC_STUN_REFRESH:
        if (!a) { error_reply(t, from, m, 437, true); return; }
        if (lifetime == 0) {
            netsim_socket_close(a->relay);
            a->used = false;
        } else {
            a->expires = netsim_now(t->sim) + RTC_SEC(lifetime);
        }
        rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, lifetime);
        reply(t, from, &b, true);
        return;
    case RTC_STUN_CREATE_PERMISSION: {
        if (!a) { error_reply(t, from, m, 437, true); return; }
        const rtc_stun_attr_t *pa = rtc_stun_msg_find(m, RTC_STUN_ATTR_XOR_PEER_ADDRESS);
        if (!pa) { error_reply(t, from, m, 400, true); return; }
        for (; pa; pa = rtc_stun_msg_find_next(m, pa)) {
            rtc_addr_t peer;
            if (rtc_stun_attr_get_xor_address(m, pa, &peer) == RTC_OK) add_perm(a, &peer);
        }
        t->stats.permissions++;
        rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
        reply(t, from, &b, true);
        return;
    }
    case RTC_STUN_CHANNEL_BIND: {
        if (!a) { error_reply(t, from, m, 437, true); return; }
        uint16_t ch;
        rtc_addr_t peer;
        if (rtc_stun_msg_get_channel(m, &ch) != RTC_OK || !rtc_turn_channel_valid(ch) ||
            rtc_stun_msg_get_xor_address(m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK) {
            error_reply(t, from, m, 400, true);
            return;
        }
        bool known = false;
        for (size_t i = 0; i < a->n_chans; i++) {
            if (a->chan_num[i] == ch || rtc_addr_equal(&a->chan_peer[i], &peer)) {
                if (a->chan_num[i] != ch || !rtc_addr_equal(&a->chan_peer[i], &peer)) {
                    error_reply(t, from, m, 400, true);
                    return;
                }
                known = true;
            }
        }
        if (!known && a->n_chans < MAX_CHANNELS) {
            a->chan_num[a->n_chans] = ch;
            a->chan_peer[a->n_chans++] = peer;
        }
        add_perm(a, &peer);
        t->stats.channels++;
        rtc_stun_builder_init_response(&b, buf, sizeof buf, m, RTC_STUN_SUCCESS);
        reply(t, from, &b, true);
        return;
    }
    default:
        error_reply(t, from, m, 400, true);
    }
}

static void server_recv(void *user, netsim_socket_t *s, const rtc_addr_t *from, const uint8_t *p, size_t n) {
    netsim_turn_t *t = user;
    (void)s;
    if (rtc_turn_is_channel_data(p, n)) {
        uint16_t ch;
        const uint8_t *d;
        size_t len;
        alloc_t *a = find_alloc(t, from);
        if (!a || rtc_turn_channel_data_parse(p, n, &ch, &d, &len) != RTC_OK) return;
        for (size_t i = 0; i < a->n_chans; i++) {
            if (a->chan_num[i] == ch) {
                if (!permitted(a, &a->chan_peer[i])) return;
                t->stats.relayed_to_peer++;
                t->stats.channel_data_from_client++;
                netsim_send(a->relay, &a->chan_peer[i], d, len);
                return;
            }
        }
        return;
    }
    rtc_stun_msg_t m;
    if (!rtc_stun_is_message(p, n) || rtc_stun_msg_decode(&m, p, n) != RTC_OK) return;
    if (m.cls == RTC_STUN_REQUEST) {
        handle_request(t, from, &m);
    } else if (m.cls == RTC_STUN_INDICATION && m.method == RTC_STUN_SEND) {
        alloc_t *a = find_alloc(t, from);
        rtc_addr_t peer;
        const uint8_t *d;
        size_t len;
        if (!a || rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK ||
            rtc_stun_msg_get_data(&m, &d, &len) != RTC_OK || !permitted(a, &peer))
            return;
        t->stats.relayed_to_peer++;
        t->stats.send_indications_from_client++;
        netsim_send(a->relay, &peer, d, len);
    }
}

netsim_turn_t *netsim_turn_server(netsim_t *sim, const char *ip, uint16_t port, const char *user,
                                  const char *pass) {
    netsim_turn_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->sim = sim;
    snprintf(t->ip, sizeof t->ip, "%s", ip);
    snprintf(t->user, sizeof t->user, "%s", user);
    snprintf(t->pass, sizeof t->pass, "%s", pass);
    snprintf(t->realm, sizeof t->realm, "netsim");
    int k = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, user, t->realm, pass, t->key);
    if (k < 0) { free(t); return NULL; }
    t->key_len = (size_t)k;
    netsim_add_host(sim, NULL, ip);
    t->sock = netsim_socket_open(sim, NULL, ip, port, server_recv, t);
    if (!t->sock) { free(t); return NULL; }
    return t;
}

const netsim_turn_stats_t *netsim_turn_stats(const netsim_turn_t *t) { return &t->stats; }

void netsim_turn_free(netsim_turn_t *t) {
    if (!t) return;
    for (int i = 0; i < MAX_ALLOCS; i++)
        if (t->allocs[i].used) netsim_socket_close(t->allocs[i].relay);
    netsim_socket_close(t->sock);
    free(t);
}
