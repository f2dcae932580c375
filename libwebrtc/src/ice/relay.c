/* Relayed candidates (RFC 8445 §5.1.1.2) through libwebrtc's TURN client (rtc/turn.h).
 *
 * One relay per (TURN server, socket of the server's family) over UDP — the allocation shares
 * the socket with host and server-reflexive traffic and datagrams from the server's address
 * are handed to the TURN client first — or one per server over a TCP/TLS stream that the
 * runtime opens on request (callbacks stream_open/stream_close). An allocation becomes a base
 * of its own (BASE_RELAY): checks, answers and data from the relayed candidate go out through
 * rtc_turn_client_send (ChannelData once a channel is bound, Send indications before), and
 * what the server relays to us comes back as RTC_TURN_EVENT_DATA and is processed as if it had
 * arrived on that base from the peer. Permissions are installed when a pair with a relayed
 * local candidate is formed; a channel is bound when such a pair is selected. */
#include <stdio.h>
#include <stdlib.h>

#include "ice/ice_internal.h"
#include "rtc/turn.h"

#define LOG "ice"

struct ice_relay {
    rtc_ice_agent_t *agent;
    unsigned server;            /* index into cfg.servers */
    ice_base_t *via;            /* UDP: the socket base that reaches the server */
    void *stream;               /* TCP/TLS: the runtime's stream handle */
    bool stream_up;
    rtc_turn_client_t *client;
    ice_base_t *base;           /* BASE_RELAY, once allocated */
    ice_local_t *local;
    bool started, done, failed;
};

static const rtc_ice_server_t *server_of(const ice_relay_t *r) {
    return &r->agent->cfg.servers[r->server];
}

bool ice_relays_pending(const rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->relays.n; i++) {
        const ice_relay_t *r = a->relays.v[i];
        if (!r->started) return true;
    }
    return false;
}

bool ice_relays_done(const rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->relays.n; i++) {
        const ice_relay_t *r = a->relays.v[i];
        if (!r->done) return false;
    }
    return true;
}

static void relay_new(rtc_ice_agent_t *a, unsigned server, ice_base_t *via) {
    ice_relay_t *r = calloc(1, sizeof *r);
    if (!r) return;
    r->agent = a;
    r->server = server;
    r->via = via;
    if (ice_vec_push(&a->relays, r) != RTC_OK) free(r);
}

void ice_relays_setup(rtc_ice_agent_t *a) {
    if (a->relays.n) {
        /* Restart: allocations are kept (RFC 8445 §9 allows reusing candidates); announce the
         * relayed ones again with the new ufrag. */
        for (size_t i = 0; i < a->relays.n; i++) {
            ice_relay_t *r = a->relays.v[i];
            if (r->local && r->base && r->base->usable) ice_announce(a, r->local);
        }
        return;
    }
    for (size_t s = 0; s < a->cfg.n_servers; s++) {
        const rtc_ice_server_t *srv = &a->cfg.servers[s];
        if (srv->kind != RTC_ICE_SERVER_TURN) continue;
        if (srv->protocol != RTC_ICE_RELAY_UDP) {
            relay_new(a, (unsigned)s, NULL);
            continue;
        }
        for (size_t i = 0; i < a->bases.n; i++) {
            ice_base_t *b = a->bases.v[i];
            if (b->kind == BASE_SOCKET && b->addr.family == srv->addr.family) relay_new(a, (unsigned)s, b);
        }
    }
}

static void relay_finish(ice_relay_t *r, bool failed, const char *why) {
    rtc_ice_agent_t *a = r->agent;
    if (failed && why)
        RTC_LOGW(LOG, "TURN server %s: no relayed candidate (%s)", rtc_addr_str(&server_of(r)->addr), why);
    r->failed = r->failed || failed;
    if (failed && r->stream) {
        /* We are done with this TCP/TLS connection: the runtime may close it. */
        void *stream = r->stream;
        r->stream = NULL;
        if (r->base) r->base->sock = NULL;
        if (a->cb.stream_close) a->cb.stream_close(a->user, stream);
    }
    if (!r->done) {
        r->done = true;
        ice_check_gathering_complete(a);
    }
}

/* The allocation is gone: its candidate can no longer carry anything. */
static void relay_lost(ice_relay_t *r) {
    rtc_ice_agent_t *a = r->agent;
    if (!r->base) return;
    r->base->usable = false;
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->local->base == r->base) p->state = RTC_ICE_PAIR_FAILED;
    }
    /* If the selected pair went through this relay, move to the best pair still working. */
    ice_update_selected(a, a->now);
}


static void client_send(void *user, const uint8_t *p, size_t n) {
    ice_relay_t *r = user;
    rtc_ice_agent_t *a = r->agent;
    if (a->closed && !r->client) return;
    void *handle = r->via ? r->via->sock : r->stream;
    if (!handle) return;
    a->cb.send(a->user, handle, &server_of(r)->addr, p, n);
}

static void on_allocated(ice_relay_t *r, const rtc_turn_event_t *ev) {
    rtc_ice_agent_t *a = r->agent;
    if (r->base) return;
    ice_base_t *b = calloc(1, sizeof *b);
    if (!b) { relay_finish(r, true, "out of memory"); return; }
    b->agent = a;
    b->kind = BASE_RELAY;
    b->sock = r->via ? r->via->sock : r->stream;
    b->addr = ev->relayed;
    b->relay = r;
    b->usable = true;
    b->index = (unsigned)a->bases.n;
    b->txns = rtc_stun_txns_create(NULL, ice_txns_send, ice_txn_done, b);
    if (!b->txns || ice_vec_push(&a->bases, b) != RTC_OK) {
        rtc_stun_txns_destroy(b->txns);
        free(b);
        relay_finish(r, true, "out of memory");
        return;
    }
    r->base = b;
    rtc_ice_relay_protocol_t proto = server_of(r)->protocol;
    uint32_t prio = rtc_ice_candidate_priority(RTC_ICE_TYPE_PREF_RELAY, ice_local_preference(b, proto), 1);
    const rtc_addr_t *related = ev->mapped.family ? &ev->mapped : NULL;
    r->local = ice_add_local(a, b, RTC_ICE_CANDIDATE_RELAY, &ev->relayed, related, &server_of(r)->addr, prio);
    if (r->local) {
        r->local->c.relay_protocol = proto;
        RTC_LOGI(LOG, "relayed candidate %s on TURN server %s (%s)", rtc_addr_str(&ev->relayed),
                 rtc_addr_str(&server_of(r)->addr), proto == RTC_ICE_RELAY_TLS ? "tls" : proto == RTC_ICE_RELAY_TCP ? "tcp" : "udp");
        ice_announce(a, r->local);
        ice_pair_local_with_remotes(a, r->local);
    }
    relay_finish(r, false, NULL);
}

static void client_event(void *user, const rtc_turn_event_t *ev) {
    ice_relay_t *r = user;
    rtc_ice_agent_t *a = r->agent;
    switch (ev->type) {
    case RTC_TURN_EVENT_ALLOCATED:
        on_allocated(r, ev);
        break;
    case RTC_TURN_EVENT_FAILED: {
        char why[96];
        snprintf(why, sizeof why, "%s%s%d", rtc_strerror(ev->error), ev->stun_code ? ", error " : "",
                 ev->stun_code);
        if (!ev->stun_code) snprintf(why, sizeof why, "%s", rtc_strerror(ev->error));
        relay_lost(r);
        relay_finish(r, true, why);
        break;
    }
    case RTC_TURN_EVENT_RELEASED:
        relay_lost(r);
        break;
    case RTC_TURN_EVENT_PERMISSION:
    case RTC_TURN_EVENT_CHANNEL:
        if (ev->error)
            RTC_LOGI(LOG, "TURN %s for %s failed: %s", ev->type == RTC_TURN_EVENT_CHANNEL ? "ChannelBind" : "CreatePermission",
                     rtc_addr_str(&ev->peer), rtc_strerror(ev->error));
        break;
    case RTC_TURN_EVENT_DATA:
        if (r->base && !a->closed) ice_process_datagram(a, r->base, &ev->peer, ev->data, ev->len, a->now);
        break;
    case RTC_TURN_EVENT_REFRESHED:
        break;
    }
}

static bool relay_create_client(ice_relay_t *r, rtc_time_t now) {
    rtc_ice_agent_t *a = r->agent;
    const rtc_ice_server_t *srv = server_of(r);
    rtc_stun_txn_config_t tc;
    rtc_stun_txn_config_default(&tc);
    bool stream = srv->protocol != RTC_ICE_RELAY_UDP;
    if (!stream) {
        /* Gathering should not hang on a dead server: 0, .5, 1.5, 3.5, 7.5 s, then give up
         * at 15.5 s (also the budget of later refreshes). */
        tc.rto = a->cfg.gather_rto;
        tc.rc = 5;
    } else {
        tc.reliable = true;
        tc.ti = RTC_SEC(15);
    }
    rtc_turn_client_config_t cc = {
        .server = srv->addr,
        .stream = stream,
        .username = srv->username,
        .password = srv->password,
        .family = srv->addr.family,
        .software = "starling",
        .txn = &tc,
    };
    rtc_turn_client_callbacks_t cb = {.send = client_send, .event = client_event, .user = r};
    r->client = rtc_turn_client_create(&cc, &cb);
    if (!r->client) {
        relay_finish(r, true, "bad TURN configuration (username/password?)");
        return false;
    }
    if (rtc_turn_client_allocate(r->client, now) != RTC_OK) {
        relay_finish(r, true, "allocate refused");
        return false;
    }
    return true;
}

bool ice_relay_start_next(rtc_ice_agent_t *a, rtc_time_t now) {
    for (size_t i = 0; i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        if (r->started) continue;
        r->started = true;
        if (r->via) {
            relay_create_client(r, now);
            return true;
        }
        /* TCP/TLS: ask the runtime for a stream; the Allocate waits for it to connect. */
        r->stream = a->cb.stream_open ? a->cb.stream_open(a->user, server_of(r)) : NULL;
        if (!r->stream) relay_finish(r, true, "the runtime cannot open TCP/TLS streams");
        return true;
    }
    return false;
}

int ice_relay_input(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p, size_t n,
                    rtc_time_t now) {
    for (size_t i = 0; i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        if (r->via != b || !r->client || !rtc_addr_equal(from, &server_of(r)->addr)) continue;
        int rc = rtc_turn_client_handle_datagram(r->client, p, n, now);
        if (rc != RTC_ERR_NOT_FOUND) return rc == RTC_OK ? RTC_OK : rc;
    }
    return RTC_ERR_NOT_FOUND;
}

static ice_relay_t *relay_by_stream(const rtc_ice_agent_t *a, const void *stream) {
    for (size_t i = 0; stream && i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        if (r->stream == stream) return r;
    }
    return NULL;
}

int rtc_ice_agent_stream_connected(rtc_ice_agent_t *a, void *stream, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    ice_relay_t *r = relay_by_stream(a, stream);
    if (!r) return RTC_ERR_NOT_FOUND;
    if (r->stream_up || r->done) return RTC_ERR_STATE;
    a->now = now;
    r->stream_up = true;
    relay_create_client(r, now);
    ice_update_state(a, now);
    ice_flush_events(a);
    return RTC_OK;
}

int rtc_ice_agent_handle_stream(rtc_ice_agent_t *a, void *stream, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!a || (!p && n)) return RTC_ERR_INVALID_ARG;
    ice_relay_t *r = relay_by_stream(a, stream);
    if (!r || !r->client) return RTC_ERR_NOT_FOUND;
    a->now = now;
    int rc = rtc_turn_client_handle_stream(r->client, p, n, now);
    if (rc == RTC_ERR_MALFORMED) RTC_LOGW(LOG, "TURN stream to %s carries garbage", rtc_addr_str(&server_of(r)->addr));
    ice_maybe_nominate(a, now);
    ice_update_state(a, now);
    ice_flush_events(a);
    return rc;
}

void rtc_ice_agent_stream_closed(rtc_ice_agent_t *a, void *stream, rtc_time_t now) {
    if (!a) return;
    ice_relay_t *r = relay_by_stream(a, stream);
    if (!r) return;
    a->now = now;
    r->stream = NULL;
    if (r->base) r->base->sock = NULL;
    relay_lost(r);
    relay_finish(r, true, "stream closed");
    ice_update_state(a, now);
    ice_flush_events(a);
}

void ice_relay_send(ice_base_t *rb, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    ice_relay_t *r = rb->relay;
    if (!r || !r->client || !rb->usable) return;
    int rc = rtc_turn_client_send(r->client, dest, p, n, rb->agent->now);
    if (rc != RTC_OK) RTC_LOGD(LOG, "relayed send to %s not sent: %s", rtc_addr_str(dest), rtc_strerror(rc));
}

void ice_relay_permit(ice_base_t *rb, const rtc_addr_t *peer) {
    ice_relay_t *r = rb->relay;
    if (r && r->client) rtc_turn_client_create_permission(r->client, peer, rb->agent->now);
}

void ice_relay_bind(ice_base_t *rb, const rtc_addr_t *peer) {
    ice_relay_t *r = rb->relay;
    if (r && r->client) rtc_turn_client_bind_channel(r->client, peer, rb->agent->now);
}

rtc_time_t ice_relays_next_timeout(const rtc_ice_agent_t *a) {
    rtc_time_t next = RTC_TIME_NEVER;
    for (size_t i = 0; i < a->relays.n; i++) {
        const ice_relay_t *r = a->relays.v[i];
        if (!r->client) continue;
        rtc_time_t t = rtc_turn_client_next_timeout(r->client);
        if (t < next) next = t;
    }
    return next;
}

void ice_relays_handle_timeout(rtc_ice_agent_t *a, rtc_time_t now) {
    for (size_t i = 0; i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        if (r->client && rtc_turn_client_next_timeout(r->client) <= now)
            rtc_turn_client_handle_timeout(r->client, now);
    }
}

void ice_relays_release(rtc_ice_agent_t *a, rtc_time_t now) {
    for (size_t i = 0; i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        if (r->client && rtc_turn_client_state(r->client) == RTC_TURN_CLIENT_ALLOCATED)
            rtc_turn_client_release(r->client, now);
    }
}

void ice_relays_free(rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->relays.n; i++) {
        ice_relay_t *r = a->relays.v[i];
        rtc_turn_client_destroy(r->client);
        free(r);
    }
    ice_vec_free(&a->relays);
}
