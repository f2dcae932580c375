/* ICE peers on the simulated network: an rtc_ice_agent_t per peer, its sockets, its timer,
 * and a signalling channel (credentials, trickled candidates, end-of-candidates) to the
 * other peer with a configurable delay. Every agent event is mixed into the trace hash. */
#include <stdio.h>
#include <stdlib.h>

#include "netsim.h"

static void peer_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    (void)user;
    netsim_send(sock, dest, p, n);
}

static void peer_recv(void *user, netsim_socket_t *s, const rtc_addr_t *from, const uint8_t *p, size_t n) {
    netsim_ice_peer_t *peer = user;
    rtc_ice_agent_handle_datagram(peer->agent, s, from, p, n, netsim_now(peer->sim));
}

/* ---- signalling ------------------------------------------------------------------------ */
typedef struct {
    int kind;   /* 0 credentials, 1 candidate, 2 end-of-candidates */
    char ufrag[RTC_ICE_UFRAG_MAX + 1];
    char pwd[RTC_ICE_PWD_MAX + 1];
    rtc_ice_candidate_t cand;
} signal_msg_t;

static void on_signal(void *user, const void *payload, size_t len, rtc_time_t now) {
    netsim_ice_peer_t *to = user;
    const signal_msg_t *m = payload;
    (void)len;
    if (!to->agent) return;
    netsim_trace_mix(to->sim, &m->kind, sizeof m->kind);
    switch (m->kind) {
    case 0:
        /* New credentials from a peer that restarted: restart too and answer with ours, as a
         * PeerConnection does on an offer with a new ufrag (RFC 8445 §9). */
        if (rtc_ice_agent_set_remote_credentials(to->agent, m->ufrag, m->pwd, now) == RTC_ERR_STATE) {
            netsim_ice_restart(to);
            rtc_ice_agent_set_remote_credentials(to->agent, m->ufrag, m->pwd, now);
        }
        break;
    case 1: {
        /* Through the SDP string form, as a real signalling channel would carry it. */
        char line[RTC_ICE_CANDIDATE_STRLEN];
        if (rtc_ice_candidate_format(&m->cand, line, sizeof line) > 0)
            rtc_ice_agent_add_remote_candidate_str(to->agent, line, now);
        break;
    }
    case 2: rtc_ice_agent_end_of_remote_candidates(to->agent, now); break;
    }
}

static void signal_to(netsim_ice_peer_t *from, const signal_msg_t *m) {
    if (!from->remote) return;
    netsim_schedule(from->sim, netsim_now(from->sim) + from->signal_delay, on_signal, from->remote, m,
                    sizeof *m);
}

void netsim_ice_signal_credentials(netsim_ice_peer_t *p) {
    signal_msg_t *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->kind = 0;
    snprintf(m->ufrag, sizeof m->ufrag, "%s", rtc_ice_agent_local_ufrag(p->agent));
    snprintf(m->pwd, sizeof m->pwd, "%s", rtc_ice_agent_local_pwd(p->agent));
    signal_to(p, m);
    free(m);
}

static void signal_candidate(netsim_ice_peer_t *p, const rtc_ice_candidate_t *c) {
    signal_msg_t *m = calloc(1, sizeof *m);
    if (!m) abort();
    if (c) {
        m->kind = 1;
        m->cand = *c;
        if (p->mdns && c->type == RTC_ICE_CANDIDATE_HOST) {
            uint64_t r = netsim_random(p->sim);
            snprintf(m->cand.hostname, sizeof m->cand.hostname, "%08x-%04x-4%03x-8%03x-%012llx.local",
                     (unsigned)(r >> 32), (unsigned)(r >> 16) & 0xffff, (unsigned)r & 0xfff,
                     (unsigned)(r >> 40) & 0xfff, (unsigned long long)(r & 0xffffffffffffull));
            uint16_t port = c->addr.port;
            memset(&m->cand.addr, 0, sizeof m->cand.addr);
            m->cand.addr.port = port;
        }
        p->candidates_sent++;
    } else {
        m->kind = 2;
    }
    signal_to(p, m);
    free(m);
}

void netsim_ice_restart(netsim_ice_peer_t *p) {
    p->hold = true;
    p->n_pending = 0;
    p->pending_eoc = false;
    rtc_ice_agent_restart(p->agent, NULL, NULL, netsim_now(p->sim));
    netsim_ice_signal_credentials(p);
    p->hold = false;
    if (!p->trickle && !p->pending_eoc) return; /* the rest goes out with end-of-candidates */
    for (size_t i = 0; i < p->n_pending; i++) signal_candidate(p, &p->pending[i]);
    p->n_pending = 0;
    if (p->pending_eoc) signal_candidate(p, NULL);
    p->pending_eoc = false;
}

/* ---- agent callbacks ------------------------------------------------------------------- */
static void on_candidate(void *user, const rtc_ice_candidate_t *c) {
    netsim_ice_peer_t *p = user;
    if (c) netsim_trace_mix(p->sim, &c->addr, sizeof c->addr);
    if (p->hold) {
        if (!c) p->pending_eoc = true;
        else if (p->n_pending < sizeof p->pending / sizeof p->pending[0]) p->pending[p->n_pending++] = *c;
        return;
    }
    if (p->trickle) {
        signal_candidate(p, c);
        return;
    }
    if (c) {
        if (p->n_pending < sizeof p->pending / sizeof p->pending[0]) p->pending[p->n_pending++] = *c;
        return;
    }
    for (size_t i = 0; i < p->n_pending; i++) signal_candidate(p, &p->pending[i]);
    p->n_pending = 0;
    signal_candidate(p, NULL);
}

static void on_state(void *user, rtc_ice_state_t s) {
    netsim_ice_peer_t *p = user;
    p->state = s;
    if (p->n_states < NETSIM_ICE_MAX_STATES) p->states[p->n_states++] = s;
    if ((s == RTC_ICE_STATE_CONNECTED || s == RTC_ICE_STATE_COMPLETED) && !p->connected_at)
        p->connected_at = netsim_now(p->sim);
    netsim_trace_mix(p->sim, &s, sizeof s);
}

static void on_gathering(void *user, rtc_ice_gathering_state_t s) {
    netsim_ice_peer_t *p = user;
    p->gathering = s;
}

static void on_selected(void *user, const rtc_ice_pair_info_t *pair) {
    netsim_ice_peer_t *p = user;
    p->selected = *pair;
    p->has_selected = true;
    p->selected_changes++;
    netsim_trace_mix(p->sim, &pair->id, sizeof pair->id);
}

static void on_data(void *user, const uint8_t *d, size_t n, const rtc_ice_pair_info_t *pair) {
    netsim_ice_peer_t *p = user;
    (void)pair;
    p->data_packets++;
    p->data_bytes += n;
    p->last_data_len = n < sizeof p->last_data ? n : sizeof p->last_data;
    memcpy(p->last_data, d, p->last_data_len);
    if (p->echo) rtc_ice_agent_send(p->agent, d, n, netsim_now(p->sim));
}

static rtc_time_t peer_next(void *user) {
    netsim_ice_peer_t *p = user;
    return rtc_ice_agent_next_timeout(p->agent);
}

static void peer_fire(void *user, rtc_time_t now) {
    netsim_ice_peer_t *p = user;
    rtc_ice_agent_handle_timeout(p->agent, now);
}

netsim_ice_peer_t *netsim_ice_peer_create(netsim_t *sim, const char *name, const rtc_ice_config_t *cfg,
                                          netsim_nat_t *nat, const char *const *ips, size_t n_ips) {
    if (n_ips > NETSIM_ICE_MAX_SOCKETS) return NULL;
    netsim_ice_peer_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->sim = sim;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->trickle = true;
    rtc_ice_config_t c = *cfg;
    rtc_net_filter_init(&c.filter);
    for (size_t i = 0; i < n_ips; i++) rtc_net_filter_add_prefix(&c.filter, ips[i]);
    rtc_ice_callbacks_t cb = {
        .send = peer_send, .candidate = on_candidate, .state_change = on_state,
        .gathering_state_change = on_gathering, .selected_pair_change = on_selected, .data = on_data,
    };
    p->agent = rtc_ice_agent_create(&c, &cb, p);
    if (!p->agent) { free(p); return NULL; }
    for (size_t i = 0; i < n_ips; i++) {
        netsim_add_host(sim, nat, ips[i]);
        netsim_socket_t *s = netsim_socket_open(sim, nat, ips[i], 0, peer_recv, p);
        if (!s || rtc_ice_agent_add_socket(p->agent, s, netsim_socket_addr(s), NULL) != RTC_OK) {
            netsim_socket_close(s);
            netsim_ice_peer_destroy(p);
            return NULL;
        }
        p->socks[p->n_socks++] = s;
    }
    netsim_add_timer(sim, peer_next, peer_fire, p);
    return p;
}

void netsim_ice_peer_destroy(netsim_ice_peer_t *p) {
    if (!p) return;
    netsim_remove_timer(p->sim, p);
    rtc_ice_agent_destroy(p->agent);
    p->agent = NULL;
    for (size_t i = 0; i < p->n_socks; i++) netsim_socket_close(p->socks[i]);
    if (p->remote && p->remote->remote == p) p->remote->remote = NULL;
    free(p);
}

void netsim_ice_link(netsim_ice_peer_t *a, netsim_ice_peer_t *b, rtc_time_t delay) {
    a->remote = b;
    b->remote = a;
    a->signal_delay = b->signal_delay = delay;
    netsim_ice_signal_credentials(a);
    netsim_ice_signal_credentials(b);
}

void netsim_ice_start(netsim_ice_peer_t *a, netsim_ice_peer_t *b) {
    rtc_ice_agent_gather(a->agent, netsim_now(a->sim));
    if (b) rtc_ice_agent_gather(b->agent, netsim_now(b->sim));
}

bool netsim_ice_saw_state(const netsim_ice_peer_t *p, rtc_ice_state_t s) {
    for (size_t i = 0; i < p->n_states; i++) if (p->states[i] == s) return true;
    return false;
}

static bool up(const netsim_ice_peer_t *p) {
    return p->state == RTC_ICE_STATE_CONNECTED || p->state == RTC_ICE_STATE_COMPLETED;
}

bool netsim_ice_both_connected(void *peers) {
    netsim_ice_peer_t **p = peers;
    return up(p[0]) && up(p[1]);
}

bool netsim_ice_both_completed(void *peers) {
    netsim_ice_peer_t **p = peers;
    return p[0]->state == RTC_ICE_STATE_COMPLETED && p[1]->state == RTC_ICE_STATE_COMPLETED;
}

bool netsim_ice_any_failed(void *peers) {
    netsim_ice_peer_t **p = peers;
    return p[0]->state == RTC_ICE_STATE_FAILED || p[1]->state == RTC_ICE_STATE_FAILED;
}

bool netsim_ice_both_failed(void *peers) {
    netsim_ice_peer_t **p = peers;
    return p[0]->state == RTC_ICE_STATE_FAILED && p[1]->state == RTC_ICE_STATE_FAILED;
}

int netsim_ice_send(netsim_ice_peer_t *p, const void *data, size_t n) {
    return rtc_ice_agent_send(p->agent, data, n, netsim_now(p->sim));
}
