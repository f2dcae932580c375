/* The ICE agent's public face: lifecycle, sockets and gathering, credentials and remote
 * candidates, demultiplexing of incoming datagrams (RFC 7983), the data path, timers and the
 * W3C state machine. The checklist itself (pairs, checks, nomination, consent) is in
 * checklist.c. Sans-I/O: everything leaves through the `send` callback. */
#include "ice/ice_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "rtc/turn.h"

#define LOG "ice"

/* ------------------------------------------------------------------------------------------
 * Small containers.
 */
int ice_vec_push(ice_vec_t *v, void *p) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **nv = realloc(v->v, cap * sizeof *nv);
        if (!nv) return RTC_ERR_NOMEM;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = p;
    return RTC_OK;
}

void ice_vec_remove_at(ice_vec_t *v, size_t i) {
    if (i >= v->n) return;
    memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof *v->v);
    v->n--;
}

bool ice_vec_remove(ice_vec_t *v, void *p) {
    for (size_t i = 0; i < v->n; i++) {
        if (v->v[i] == p) { ice_vec_remove_at(v, i); return true; }
    }
    return false;
}

void ice_vec_free(ice_vec_t *v) {
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

/* ------------------------------------------------------------------------------------------
 * Configuration.
 */
void rtc_ice_config_default(rtc_ice_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->role = RTC_ICE_ROLE_CONTROLLING;
    cfg->nomination = RTC_ICE_NOMINATION_REGULAR;
    cfg->ta = RTC_MS(50);
    cfg->check_rto = RTC_MS(500);
    cfg->check_max_sends = 7;
    cfg->gather_rto = RTC_MS(500);
    cfg->gather_max_sends = 4;
    cfg->nomination_delay = RTC_MS(500);
    cfg->consent_interval = RTC_SEC(5);
    cfg->disconnected_timeout = RTC_SEC(8);
    cfg->consent_timeout = RTC_SEC(30);
    cfg->keepalive_interval = RTC_SEC(15);
    cfg->max_pairs = 100;
    cfg->max_remote_candidates = 64;
    rtc_net_filter_init(&cfg->filter);
}

int rtc_ice_config_add_server(rtc_ice_config_t *cfg, rtc_ice_server_kind_t kind,
                              const rtc_addr_t *addr, rtc_ice_relay_protocol_t protocol,
                              const char *username, const char *password) {
    if (!cfg || !addr || addr->family == RTC_AF_UNSPEC || addr->port == 0)
        return RTC_ERR_INVALID_ARG;
    if (cfg->n_servers >= RTC_ICE_MAX_SERVERS) return RTC_ERR_LIMIT;
    rtc_ice_server_t *s = &cfg->servers[cfg->n_servers];
    memset(s, 0, sizeof *s);
    if ((username && strlen(username) >= sizeof s->username) ||
        (password && strlen(password) >= sizeof s->password))
        return RTC_ERR_INVALID_ARG;
    s->kind = kind;
    s->addr = *addr;
    s->protocol = protocol;
    if (username) snprintf(s->username, sizeof s->username, "%s", username);
    if (password) snprintf(s->password, sizeof s->password, "%s", password);
    cfg->n_servers++;
    return RTC_OK;
}

int rtc_ice_gather_addresses(const rtc_ice_config_t *cfg, rtc_addr_t *out, size_t max) {
    if (!cfg || !out) return RTC_ERR_INVALID_ARG;
    return rtc_net_local_addresses(&cfg->filter, out, max);
}

/* ufrag: 4..256 ice-chars; pwd: 22..256. */
static bool valid_ice_string(const char *s, size_t min, size_t max) {
    size_t n = strlen(s);
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static int set_local_credentials(rtc_ice_agent_t *a, const char *ufrag, const char *pwd) {
    if (ufrag && *ufrag) {
        if (!valid_ice_string(ufrag, 4, RTC_ICE_UFRAG_MAX)) return RTC_ERR_INVALID_ARG;
        snprintf(a->ufrag, sizeof a->ufrag, "%s", ufrag);
    } else {
        rtc_random_ice_string(a->ufrag, 8);
    }
    if (pwd && *pwd) {
        if (!valid_ice_string(pwd, 22, RTC_ICE_PWD_MAX)) return RTC_ERR_INVALID_ARG;
        snprintf(a->pwd, sizeof a->pwd, "%s", pwd);
    } else {
        rtc_random_ice_string(a->pwd, 24);
    }
    return RTC_OK;
}

static void sanitize_config(rtc_ice_config_t *c) {
    rtc_ice_config_t d;
    rtc_ice_config_default(&d);
    if (c->ta <= 0) c->ta = d.ta;
    if (c->check_rto <= 0) c->check_rto = d.check_rto;
    if (c->check_max_sends == 0) c->check_max_sends = d.check_max_sends;
    if (c->gather_rto <= 0) c->gather_rto = d.gather_rto;
    if (c->gather_max_sends == 0) c->gather_max_sends = d.gather_max_sends;
    if (c->nomination_delay < 0) c->nomination_delay = 0;
    if (c->consent_interval < 0) c->consent_interval = 0;
    if (c->disconnected_timeout <= 0) c->disconnected_timeout = d.disconnected_timeout;
    if (c->consent_timeout <= 0) c->consent_timeout = d.consent_timeout;
    if (c->keepalive_interval <= 0) c->keepalive_interval = d.keepalive_interval;
    if (c->max_pairs == 0) c->max_pairs = d.max_pairs;
    if (c->max_remote_candidates == 0) c->max_remote_candidates = d.max_remote_candidates;
    if (c->n_servers > RTC_ICE_MAX_SERVERS) c->n_servers = RTC_ICE_MAX_SERVERS;
    if (c->lite) c->role = RTC_ICE_ROLE_CONTROLLED;
}

rtc_ice_agent_t *rtc_ice_agent_create(const rtc_ice_config_t *cfg, const rtc_ice_callbacks_t *cb,
                                      void *user) {
    if (!cfg || !cb || !cb->send) return NULL;
    rtc_ice_agent_t *a = calloc(1, sizeof *a);
    if (!a) {
        RTC_LOGE(LOG, "out of memory creating agent");
        return NULL;
    }
    a->cfg = *cfg;
    sanitize_config(&a->cfg);
    a->cb = *cb;
    a->user = user;
    if (set_local_credentials(a, cfg->ufrag, cfg->pwd) != RTC_OK) {
        RTC_LOGW(LOG, "invalid local ufrag/pwd in configuration");
        free(a);
        return NULL;
    }
    a->role = a->cfg.role;
    a->tie_breaker = cfg->tie_breaker ? cfg->tie_breaker : rtc_random_u64();
    a->next_pair_id = 1;
    a->next_pace = 0;
    return a;
}

static void free_locals(rtc_ice_agent_t *a, bool keep_hosts) {
    size_t i = 0;
    while (i < a->locals.n) {
        ice_local_t *l = a->locals.v[i];
        if (keep_hosts && (l->c.type == RTC_ICE_CANDIDATE_HOST || l->c.type == RTC_ICE_CANDIDATE_RELAY)) {
            i++;
            continue;
        }
        free(l);
        ice_vec_remove_at(&a->locals, i);
    }
}

static void cancel_all_txns(rtc_ice_agent_t *a) {
    while (a->txns.n) {
        ice_txn_t *t = a->txns.v[a->txns.n - 1];
        if (t->base && t->base->txns) rtc_stun_txns_cancel(t->base->txns, t);
        ice_txn_free(a, t);
    }
}

void rtc_ice_agent_destroy(rtc_ice_agent_t *a) {
    if (!a) return;
    cancel_all_txns(a);
    ice_free_pairs(a);
    ice_vec_free(&a->pairs);
    for (size_t i = 0; i < a->remotes.n; i++) free(a->remotes.v[i]);
    ice_vec_free(&a->remotes);
    free_locals(a, false);
    ice_vec_free(&a->locals);
    ice_relays_free(a);
    for (size_t i = 0; i < a->bases.n; i++) {
        ice_base_t *b = a->bases.v[i];
        rtc_stun_txns_destroy(b->txns);
        free(b);
    }
    ice_vec_free(&a->bases);
    ice_vec_free(&a->txns);
    ice_vec_free(&a->triggered);
    free(a->gathers);
    free(a->events);
    free(a);
}

/* ------------------------------------------------------------------------------------------
 * Events: queued while the agent works, delivered when the public call is about to return,
 * so callbacks see a consistent agent and may call back into it.
 */
void ice_emit(rtc_ice_agent_t *a, ice_event_kind_t kind, int value, const rtc_ice_candidate_t *c) {
    if (a->n_events == a->cap_events) {
        size_t cap = a->cap_events ? a->cap_events * 2 : 16;
        ice_event_t *ev = realloc(a->events, cap * sizeof *ev);
        if (!ev) {
            RTC_LOGE(LOG, "out of memory queueing an event; event lost");
            return;
        }
        a->events = ev;
        a->cap_events = cap;
    }
    ice_event_t *e = &a->events[a->n_events++];
    e->kind = kind;
    e->value = value;
    if (c) e->cand = *c;
}

void ice_flush_events(rtc_ice_agent_t *a) {
    if (a->dispatching) return;
    a->dispatching = true;
    for (size_t i = 0; i < a->n_events; i++) {
        ice_event_t e = a->events[i]; /* copy: callbacks may grow the queue */
        switch (e.kind) {
        case EV_CANDIDATE:
            if (a->cb.candidate) a->cb.candidate(a->user, &e.cand);
            break;
        case EV_EOC:
            if (a->cb.candidate) a->cb.candidate(a->user, NULL);
            break;
        case EV_STATE:
            if (a->cb.state_change) a->cb.state_change(a->user, (rtc_ice_state_t)e.value);
            break;
        case EV_GATHERING:
            if (a->cb.gathering_state_change)
                a->cb.gathering_state_change(a->user, (rtc_ice_gathering_state_t)e.value);
            break;
        case EV_SELECTED:
            if (a->cb.selected_pair_change && a->selected) {
                rtc_ice_pair_info_t info;
                ice_pair_info(a, a->selected, &info);
                a->cb.selected_pair_change(a->user, &info);
            }
            break;
        }
    }
    a->n_events = 0;
    a->dispatching = false;
}

/* ------------------------------------------------------------------------------------------
 * Sending.
 */
void ice_base_send(ice_base_t *b, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    rtc_ice_agent_t *a = b->agent;
    if (a->closed) return;
    if (b->kind == BASE_SOCKET) {
        a->cb.send(a->user, b->sock, dest, p, n);
        return;
    }
    ice_relay_send(b, dest, p, n);
}

void ice_txns_send(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest) {
    ice_base_t *b = user;
    b->agent->stats.checks_sent++;
    ice_base_send(b, dest, p, n);
}

ice_txn_t *ice_txn_new(rtc_ice_agent_t *a, ice_txn_kind_t kind, ice_base_t *base,
                       const uint8_t tid[RTC_STUN_TID_LEN]) {
    ice_txn_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->base = base;
    memcpy(t->tid, tid, RTC_STUN_TID_LEN);
    if (ice_vec_push(&a->txns, t) != RTC_OK) {
        free(t);
        return NULL;
    }
    return t;
}

void ice_txn_free(rtc_ice_agent_t *a, ice_txn_t *t) {
    ice_vec_remove(&a->txns, t);
    free(t);
}

/* ------------------------------------------------------------------------------------------
 * Sockets and local candidates.
 */
static ice_base_t *find_socket_base(const rtc_ice_agent_t *a, const void *sock) {
    for (size_t i = 0; i < a->bases.n; i++) {
        ice_base_t *b = a->bases.v[i];
        if (b->kind == BASE_SOCKET && b->sock == sock) return b;
    }
    return NULL;
}

/* Local preference: distinct per base so that candidates of different bases never tie;
 * relayed candidates prefer UDP to the server over TCP over TLS. */
unsigned ice_local_preference(const ice_base_t *b, rtc_ice_relay_protocol_t proto) {
    unsigned pref = 65535 - 16 * (b->index % 4000);
    if (b->kind == BASE_RELAY) pref -= (unsigned)proto;
    return pref;
}

/* RFC 8445 §5.1.1.3: same type, base IP, server IP and transport -> same foundation. */
void ice_compute_foundation(rtc_ice_candidate_type_t type, const ice_base_t *base,
                               const rtc_addr_t *server, char out[RTC_ICE_FOUNDATION_MAX + 1]) {
    uint8_t key[1 + 16 + 16 + 1];
    memset(key, 0, sizeof key);
    key[0] = (uint8_t)type;
    const rtc_addr_t *bip = &base->addr;
    memcpy(key + 1, bip->ip, 16);
    if (server) memcpy(key + 17, server->ip, 16);
    key[33] = base->kind == BASE_RELAY ? 1 : 0;
    uint32_t h = rtc_crc32(0, key, sizeof key);
    snprintf(out, RTC_ICE_FOUNDATION_MAX + 1, "%u", h);
}

ice_local_t *ice_add_local(rtc_ice_agent_t *a, ice_base_t *base, rtc_ice_candidate_type_t type,
                           const rtc_addr_t *addr, const rtc_addr_t *related,
                           const rtc_addr_t *server, uint32_t priority) {
    ice_local_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base = base;
    l->c.type = type;
    l->c.component = 1;
    l->c.transport = RTC_ICE_TRANSPORT_UDP;
    l->c.addr = *addr;
    l->c.generation = -1;
    if (related) l->c.related = *related;
    l->c.priority = priority ? priority
                             : rtc_ice_candidate_priority(rtc_ice_type_preference(type),
                                                          ice_local_preference(base, RTC_ICE_RELAY_UDP), 1);
    ice_compute_foundation(type, base, server, l->c.foundation);
    snprintf(l->c.ufrag, sizeof l->c.ufrag, "%s", a->ufrag);
    if (ice_vec_push(&a->locals, l) != RTC_OK) {
        free(l);
        return NULL;
    }
    return l;
}

ice_local_t *ice_base_candidate(const rtc_ice_agent_t *a, const ice_base_t *b) {
    for (size_t i = 0; i < a->locals.n; i++) {
        ice_local_t *l = a->locals.v[i];
        if (l->base == b && (l->c.type == RTC_ICE_CANDIDATE_HOST || l->c.type == RTC_ICE_CANDIDATE_RELAY))
            return l;
    }
    return NULL;
}

/* A local candidate takes part in pairing (host unless relay-only, and relayed ones). */
static bool local_pairable(const rtc_ice_agent_t *a, const ice_local_t *l) {
    if (l->c.type == RTC_ICE_CANDIDATE_RELAY) return l->base->usable && l->base->kind == BASE_RELAY;
    return l->c.type == RTC_ICE_CANDIDATE_HOST && !a->cfg.relay_only;
}

void ice_pair_local_with_remotes(rtc_ice_agent_t *a, ice_local_t *l) {
    if (!local_pairable(a, l)) return;
    for (size_t i = 0; i < a->remotes.n; i++) ice_pair_candidates(a, l, a->remotes.v[i]);
}

int rtc_ice_agent_add_socket(rtc_ice_agent_t *a, void *sock, const rtc_addr_t *local,
                             const char *ifname) {
    if (!a || !local || local->family == RTC_AF_UNSPEC || local->port == 0)
        return RTC_ERR_INVALID_ARG;
    if (a->closed || a->gathering_started) return RTC_ERR_STATE;
    if (!rtc_net_filter_allows(&a->cfg.filter, ifname, local)) {
        RTC_LOGW(LOG, "address %s not allowed by the configured filter", rtc_addr_str(local));
        return RTC_ERR_DENIED;
    }
    for (size_t i = 0; i < a->bases.n; i++) {
        ice_base_t *b = a->bases.v[i];
        if (b->kind == BASE_SOCKET && (b->sock == sock || rtc_addr_equal(&b->addr, local)))
            return RTC_ERR_DUPLICATE;
    }
    ice_base_t *b = calloc(1, sizeof *b);
    if (!b) return RTC_ERR_NOMEM;
    b->agent = a;
    b->kind = BASE_SOCKET;
    b->sock = sock;
    b->addr = *local;
    b->usable = true;
    b->index = (unsigned)a->bases.n;
    if (ifname) snprintf(b->ifname, sizeof b->ifname, "%s", ifname);
    b->txns = rtc_stun_txns_create(NULL, ice_txns_send, ice_txn_done, b);
    if (!b->txns || ice_vec_push(&a->bases, b) != RTC_OK) {
        rtc_stun_txns_destroy(b->txns);
        free(b);
        return RTC_ERR_NOMEM;
    }
    /* The host candidate exists from now on, so that checks arriving before gathering
     * starts can be answered and paired; it is announced by rtc_ice_agent_gather. */
    ice_local_t *l = ice_add_local(a, b, RTC_ICE_CANDIDATE_HOST, local, NULL, NULL, 0);
    if (!l) return RTC_ERR_NOMEM;
    ice_pair_local_with_remotes(a, l);
    return RTC_OK;
}

/* A local candidate as the peer is told about it: behind a 1:1 NAT a host candidate carries
 * the public IP (cfg.nat_1to1_ipv4/6), same port. */
static rtc_ice_candidate_t announced_form(const rtc_ice_agent_t *a, const ice_local_t *l) {
    rtc_ice_candidate_t c = l->c;
    if (c.type != RTC_ICE_CANDIDATE_HOST) return c;
    const rtc_addr_t *pub = c.addr.family == RTC_AF_INET4 ? &a->cfg.nat_1to1_ipv4
                          : c.addr.family == RTC_AF_INET6 ? &a->cfg.nat_1to1_ipv6 : NULL;
    if (pub && pub->family == c.addr.family) {
        uint16_t port = c.addr.port;
        c.addr = *pub;
        c.addr.port = port;
    }
    return c;
}

void ice_announce(rtc_ice_agent_t *a, ice_local_t *l) {
    if (l->announced) return;
    l->announced = true;
    snprintf(l->c.ufrag, sizeof l->c.ufrag, "%s", a->ufrag);
    rtc_ice_candidate_t c = announced_form(a, l);
    ice_emit(a, EV_CANDIDATE, 0, &c);
}

static bool gathering_finished(const rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->n_gathers; i++)
        if (!a->gathers[i].done) return false;
    return ice_relays_done(a);
}

void ice_check_gathering_complete(rtc_ice_agent_t *a) {
    if (a->gathering != RTC_ICE_GATHERING_GATHERING || !gathering_finished(a)) return;
    a->gathering = RTC_ICE_GATHERING_COMPLETE;
    ice_emit(a, EV_EOC, 0, NULL);
    ice_emit(a, EV_GATHERING, RTC_ICE_GATHERING_COMPLETE, NULL);
}

static int start_gathering(rtc_ice_agent_t *a, rtc_time_t now) {
    a->gathering_started = true;
    a->gathering = RTC_ICE_GATHERING_GATHERING;
    ice_emit(a, EV_GATHERING, RTC_ICE_GATHERING_GATHERING, NULL);
    if (!a->cfg.relay_only) {
        for (size_t i = 0; i < a->locals.n; i++) {
            ice_local_t *l = a->locals.v[i];
            if (l->c.type == RTC_ICE_CANDIDATE_HOST) ice_announce(a, l);
        }
    }
    /* One server-reflexive query per (socket, STUN server of the same family). TURN servers
     * answer Binding requests too, but a TURN allocation reports the mapped address itself. */
    free(a->gathers);
    a->gathers = NULL;
    a->n_gathers = 0;
    if (!a->cfg.lite && !a->cfg.relay_only) {
        size_t max = a->bases.n * a->cfg.n_servers;
        if (max) {
            a->gathers = calloc(max, sizeof *a->gathers);
            if (!a->gathers) return RTC_ERR_NOMEM;
        }
        for (size_t i = 0; i < a->bases.n; i++) {
            ice_base_t *b = a->bases.v[i];
            if (b->kind != BASE_SOCKET) continue;
            for (size_t s = 0; s < a->cfg.n_servers; s++) {
                const rtc_ice_server_t *srv = &a->cfg.servers[s];
                if (srv->kind != RTC_ICE_SERVER_STUN || srv->addr.family != b->addr.family) continue;
                ice_gather_t *g = &a->gathers[a->n_gathers++];
                g->base = b;
                g->server = (unsigned)s;
            }
        }
    }
    if (!a->cfg.lite) ice_relays_setup(a);
    if (a->next_pace < now) a->next_pace = now;
    ice_check_gathering_complete(a);
    return RTC_OK;
}

int rtc_ice_agent_gather(rtc_ice_agent_t *a, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    if (a->closed || a->gathering_started) return RTC_ERR_STATE;
    a->now = now;
    int rc = start_gathering(a, now);
    ice_update_state(a, now);
    ice_flush_events(a);
    return rc;
}

/* Starts the next server-reflexive query, if any is waiting. Called by the pacer. */
static bool start_next_gather(rtc_ice_agent_t *a, rtc_time_t now) {
    for (size_t i = 0; i < a->n_gathers; i++) {
        ice_gather_t *g = &a->gathers[i];
        if (g->started) continue;
        g->started = true;
        uint8_t buf[128];
        rtc_stun_builder_t bld;
        rtc_stun_builder_init(&bld, buf, sizeof buf, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
        rtc_stun_add_fingerprint(&bld);
        int len = rtc_stun_builder_finish(&bld);
        ice_txn_t *t = len > 0 ? ice_txn_new(a, TXN_GATHER, g->base, rtc_stun_builder_tid(&bld)) : NULL;
        if (!t) { g->done = true; ice_check_gathering_complete(a); return true; }
        t->gather = (unsigned)i;
        rtc_stun_txn_config_t tc;
        rtc_stun_txn_config_default(&tc);
        tc.rto = a->cfg.gather_rto;
        tc.rc = a->cfg.gather_max_sends;
        tc.rm = 8;
        if (rtc_stun_txns_start(g->base->txns, buf, (size_t)len, &a->cfg.servers[g->server].addr, t,
                                &tc, now) != RTC_OK) {
            ice_txn_free(a, t);
            g->done = true;
            ice_check_gathering_complete(a);
        }
        return true;
    }
    return false;
}

bool ice_has_gather_work(const rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->n_gathers; i++)
        if (!a->gathers[i].started) return true;
    return ice_relays_pending(a);
}

void ice_gather_done(rtc_ice_agent_t *a, const ice_txn_t *t, int result, const rtc_stun_msg_t *resp) {
    if (t->gather >= a->n_gathers) return;
    ice_gather_t *g = &a->gathers[t->gather];
    g->done = true;
    rtc_addr_t mapped;
    const rtc_ice_server_t *srv = &a->cfg.servers[g->server];
    if (result != RTC_OK || !resp || resp->cls != RTC_STUN_SUCCESS ||
        (rtc_stun_msg_get_xor_address(resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) != RTC_OK &&
         rtc_stun_msg_get_address(resp, RTC_STUN_ATTR_MAPPED_ADDRESS, &mapped) != RTC_OK)) {
        RTC_LOGI(LOG, "STUN server %s gave no reflexive address for %s (%s)", rtc_addr_str(&srv->addr),
                 rtc_addr_str(&g->base->addr), result ? rtc_strerror(result) : "error response");
        ice_check_gathering_complete(a);
        return;
    }
    /* Redundant (RFC 8445 §5.1.3): the same address as the base (no NAT) or as a candidate
     * already gathered through this base. */
    bool redundant = rtc_addr_equal(&mapped, &g->base->addr);
    for (size_t i = 0; !redundant && i < a->locals.n; i++) {
        ice_local_t *l = a->locals.v[i];
        if (l->base != g->base || !rtc_addr_equal(&l->c.addr, &mapped)) continue;
        if (l->c.type == RTC_ICE_CANDIDATE_PRFLX) {
            /* Learned from a check first; the server confirms it is server-reflexive. */
            l->c.type = RTC_ICE_CANDIDATE_SRFLX;
            l->c.priority = rtc_ice_candidate_priority(RTC_ICE_TYPE_PREF_SRFLX,
                                                       ice_local_preference(g->base, RTC_ICE_RELAY_UDP), 1);
            ice_compute_foundation(RTC_ICE_CANDIDATE_SRFLX, g->base, &srv->addr, l->c.foundation);
            l->c.related = g->base->addr;
            ice_announce(a, l);
        }
        redundant = true;
    }
    if (!redundant) {
        ice_local_t *l = ice_add_local(a, g->base, RTC_ICE_CANDIDATE_SRFLX, &mapped, &g->base->addr,
                                       &srv->addr, 0);
        if (l) {
            RTC_LOGD(LOG, "server-reflexive %s for base %s", rtc_addr_str(&mapped),
                     rtc_addr_str(&g->base->addr));
            ice_announce(a, l);
        }
    }
    ice_check_gathering_complete(a);
}

const char *rtc_ice_agent_local_ufrag(const rtc_ice_agent_t *a) { return a ? a->ufrag : ""; }
const char *rtc_ice_agent_local_pwd(const rtc_ice_agent_t *a) { return a ? a->pwd : ""; }

/* ------------------------------------------------------------------------------------------
 * The peer.
 */
int rtc_ice_agent_set_remote_credentials(rtc_ice_agent_t *a, const char *ufrag, const char *pwd,
                                         rtc_time_t now) {
    if (!a || !ufrag || !pwd) return RTC_ERR_INVALID_ARG;
    if (a->closed) return RTC_ERR_STATE;
    /* RFC 8445 allows ufrag >= 4 and pwd >= 22 characters; some peers use shorter ufrags
     * only in violation, which we refuse as well. */
    if (!valid_ice_string(ufrag, 4, RTC_ICE_UFRAG_MAX) || !valid_ice_string(pwd, 22, RTC_ICE_PWD_MAX))
        return RTC_ERR_INVALID_ARG;
    if (a->have_remote_creds) {
        if (strcmp(ufrag, a->remote_ufrag) == 0 && strcmp(pwd, a->remote_pwd) == 0) return RTC_OK;
        return RTC_ERR_STATE;
    }
    snprintf(a->remote_ufrag, sizeof a->remote_ufrag, "%s", ufrag);
    snprintf(a->remote_pwd, sizeof a->remote_pwd, "%s", pwd);
    a->have_remote_creds = true;
    a->now = now;
    if (a->next_pace < now) a->next_pace = now;
    /* Checks that arrived before the credentials were answered but could not be verified
     * against the peer's ufrag; prflx candidates learned from a stale ufrag would be harmless
     * (their triggered checks would fail authentication at the peer). */
    ice_update_state(a, now);
    ice_flush_events(a);
    return RTC_OK;
}

void rtc_ice_agent_set_remote_lite(rtc_ice_agent_t *a, bool lite) {
    if (!a) return;
    a->remote_lite = lite;
    if (lite && !a->cfg.lite && a->role != RTC_ICE_ROLE_CONTROLLING)
        ice_set_role(a, RTC_ICE_ROLE_CONTROLLING);
}

static ice_remote_t *find_remote(const rtc_ice_agent_t *a, const rtc_addr_t *addr) {
    for (size_t i = 0; i < a->remotes.n; i++) {
        ice_remote_t *r = a->remotes.v[i];
        if (r->pairable && rtc_addr_equal(&r->c.addr, addr)) return r;
    }
    return NULL;
}

ice_remote_t *ice_add_remote(rtc_ice_agent_t *a, const rtc_ice_candidate_t *c) {
    if (a->remotes.n >= a->cfg.max_remote_candidates) return NULL;
    ice_remote_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->c = *c;
    if (r->c.component == 0) r->c.component = 1;
    r->pairable = c->transport == RTC_ICE_TRANSPORT_UDP && c->addr.family != RTC_AF_UNSPEC &&
                  c->addr.port != 0 && !rtc_addr_is_any(&c->addr);
    if (ice_vec_push(&a->remotes, r) != RTC_OK) {
        free(r);
        return NULL;
    }
    if (r->pairable) {
        for (size_t i = 0; i < a->locals.n; i++) {
            ice_local_t *l = a->locals.v[i];
            if (local_pairable(a, l)) ice_pair_candidates(a, l, r);
        }
    }
    return r;
}

int rtc_ice_agent_add_remote_candidate(rtc_ice_agent_t *a, const rtc_ice_candidate_t *c,
                                       rtc_time_t now) {
    if (!a || !c) return RTC_ERR_INVALID_ARG;
    if (a->closed || a->remote_eoc) return RTC_ERR_STATE;
    if (c->ufrag[0] && a->have_remote_creds && strcmp(c->ufrag, a->remote_ufrag) != 0) {
        RTC_LOGD(LOG, "ignoring candidate of another generation (ufrag %s)", c->ufrag);
        return RTC_ERR_STALE;
    }
    if (c->component != 1) return RTC_ERR_UNSUPPORTED;
    a->now = now;
    if (c->transport == RTC_ICE_TRANSPORT_UDP && c->addr.family != RTC_AF_UNSPEC) {
        ice_remote_t *r = find_remote(a, &c->addr);
        if (r) {
            /* RFC 8838 §11: a signalled candidate replaces the peer-reflexive one learned for
             * the same address, with its type and priority. */
            if (r->c.type == RTC_ICE_CANDIDATE_PRFLX && c->type != RTC_ICE_CANDIDATE_PRFLX) {
                r->c.type = c->type;
                r->c.priority = c->priority;
                snprintf(r->c.foundation, sizeof r->c.foundation, "%s", c->foundation);
                r->c.related = c->related;
                ice_recompute_priorities(a);
            }
            return RTC_OK;
        }
    }
    if (a->remotes.n >= a->cfg.max_remote_candidates) {
        RTC_LOGW(LOG, "remote candidate limit (%u) reached", a->cfg.max_remote_candidates);
        return RTC_ERR_LIMIT;
    }
    if (!ice_add_remote(a, c)) return RTC_ERR_NOMEM;
    if (a->next_pace < now) a->next_pace = now;
    ice_update_state(a, now);
    ice_flush_events(a);
    return RTC_OK;
}

int rtc_ice_agent_add_remote_candidate_str(rtc_ice_agent_t *a, const char *line, rtc_time_t now) {
    if (!a || !line) return RTC_ERR_INVALID_ARG;
    rtc_ice_candidate_t c;
    int rc = rtc_ice_candidate_parse(&c, line, strlen(line));
    if (rc) return rc;
    return rtc_ice_agent_add_remote_candidate(a, &c, now);
}

int rtc_ice_agent_end_of_remote_candidates(rtc_ice_agent_t *a, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    if (a->closed) return RTC_ERR_STATE;
    a->remote_eoc = true;
    a->now = now;
    ice_update_state(a, now);
    ice_flush_events(a);
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Incoming datagrams.
 */
static int handle_data(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p,
                       size_t n, rtc_time_t now) {
    (void)now;
    ice_pair_t *pair = NULL;
    if (a->selected && a->selected->local->base == b && rtc_addr_equal(&a->selected->remote->c.addr, from))
        pair = a->selected;
    else
        pair = ice_find_pair(a, b, from);
    /* Data is accepted on a pair the peer or we have validated: a successful check of ours, or
     * an authenticated check from the peer (its DTLS may race ahead of our check). */
    if (pair && (pair->state == RTC_ICE_PAIR_SUCCEEDED || pair->peer_checked)) {
        pair->packets_received++;
        pair->bytes_received += n;
        a->stats.data_received++;
        if (a->cb.data) {
            rtc_ice_pair_info_t info;
            ice_pair_info(a, pair, &info);
            a->cb.data(a->user, p, n, &info);
        }
        return RTC_OK;
    }
    if (a->have_prev && a->prev_base == b && rtc_addr_equal(&a->prev_info.remote.addr, from)) {
        a->stats.data_received++;
        a->prev_info.packets_received++;
        a->prev_info.bytes_received += n;
        if (a->cb.data) a->cb.data(a->user, p, n, &a->prev_info);
        return RTC_OK;
    }
    a->stats.dropped_unknown_source++;
    RTC_LOGD(LOG, "dropping %zu bytes from %s: no established pair", n, rtc_addr_str(from));
    return RTC_ERR_DENIED;
}

static int handle_stun(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p,
                       size_t n, rtc_time_t now) {
    a->stats.stun_received++;
    rtc_stun_msg_t msg;
    int rc = rtc_stun_msg_decode(&msg, p, n);
    if (rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) {
        a->stats.dropped_malformed++;
        RTC_LOGD(LOG, "dropping undecodable STUN from %s: %s", rtc_addr_str(from), rtc_strerror(rc));
        return rc;
    }
    switch (msg.cls) {
    case RTC_STUN_REQUEST:
        if (msg.method != RTC_STUN_BINDING) {
            a->stats.dropped_other++;
            return RTC_ERR_UNSUPPORTED;
        }
        return ice_handle_request(a, b, from, &msg, rc, now);
    case RTC_STUN_SUCCESS:
    case RTC_STUN_ERROR:
        return ice_handle_response(a, b, from, &msg, now);
    case RTC_STUN_INDICATION:
        /* Binding indications are the peer's keepalives (RFC 8445 §11): nothing to do. */
        if (msg.method != RTC_STUN_BINDING) a->stats.dropped_other++;
        return RTC_OK;
    }
    return RTC_ERR_MALFORMED;
}

/* One datagram that arrived on base b from `from`: directly on a socket, or relayed by a TURN
 * server from the peer (then b is the relay's base and `from` the peer). */
int ice_process_datagram(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p,
                         size_t n, rtc_time_t now) {
    int rc;
    if (n == 0) {
        a->stats.dropped_malformed++;
        rc = RTC_ERR_MALFORMED;
    } else if (p[0] < 4) {
        /* RFC 7983: 0-3 is STUN. */
        if (!rtc_stun_is_message(p, n)) {
            a->stats.dropped_malformed++;
            rc = RTC_ERR_MALFORMED;
        } else {
            rc = handle_stun(a, b, from, p, n, now);
        }
    } else {
        rc = handle_data(a, b, from, p, n, now);
    }
    return rc;
}

int rtc_ice_agent_handle_datagram(rtc_ice_agent_t *a, void *sock, const rtc_addr_t *from,
                                  const uint8_t *p, size_t n, rtc_time_t now) {
    if (!a || !from || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (a->closed) return RTC_ERR_STATE;
    ice_base_t *b = find_socket_base(a, sock);
    if (!b) return RTC_ERR_NOT_FOUND;
    a->now = now;
    a->stats.datagrams_received++;
    /* From a TURN server we use through this socket: the TURN client's (RFC 7983: STUN
     * responses, Data indications, ChannelData). Anything it does not claim is ordinary. */
    int rc = ice_relay_input(a, b, from, p, n, now);
    if (rc == RTC_ERR_NOT_FOUND) rc = ice_process_datagram(a, b, from, p, n, now);
    ice_maybe_nominate(a, now);
    ice_update_state(a, now);
    ice_flush_events(a);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Data path.
 */
int rtc_ice_agent_send(rtc_ice_agent_t *a, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!a || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (a->closed || a->failed) return RTC_ERR_STATE;
    if (n > 65535) return RTC_ERR_OVERFLOW;
    ice_pair_t *pair = a->selected;
    if (pair) {
        ice_base_send(pair->local->base, &pair->remote->c.addr, p, n);
        pair->last_sent = now;
        pair->packets_sent++;
        pair->bytes_sent += n;
        return RTC_OK;
    }
    if (a->have_prev) {
        ice_base_send(a->prev_base, &a->prev_info.remote.addr, p, n);
        a->prev_info.packets_sent++;
        a->prev_info.bytes_sent += n;
        return RTC_OK;
    }
    return RTC_ERR_STATE;
}

/* ------------------------------------------------------------------------------------------
 * Timers.
 */
rtc_time_t rtc_ice_agent_next_timeout(const rtc_ice_agent_t *a) {
    if (!a || a->closed) return RTC_TIME_NEVER;
    rtc_time_t next = RTC_TIME_NEVER;
    for (size_t i = 0; i < a->bases.n; i++) {
        ice_base_t *b = a->bases.v[i];
        rtc_time_t t = rtc_stun_txns_next_timeout(b->txns);
        if (t < next) next = t;
    }
    if (ice_has_paced_work(a) && a->next_pace < next) next = a->next_pace;
    rtc_time_t r = ice_relays_next_timeout(a);
    if (r < next) next = r;
    rtc_time_t t = ice_nomination_deadline(a);
    if (t < next) next = t;
    t = ice_consent_next(a);
    if (t < next) next = t;
    return next;
}

void rtc_ice_agent_handle_timeout(rtc_ice_agent_t *a, rtc_time_t now) {
    if (!a || a->closed) return;
    a->now = now;
    for (size_t i = 0; i < a->bases.n; i++) {
        ice_base_t *b = a->bases.v[i];
        rtc_stun_txns_handle_timeout(b->txns, now);
    }
    ice_relays_handle_timeout(a, now);
    if (now >= a->next_pace) {
        bool sent = start_next_gather(a, now);
        if (!sent) sent = ice_relay_start_next(a, now);
        if (!sent) sent = ice_send_next_check(a, now);
        if (sent) a->next_pace = now + a->cfg.ta;
    }
    ice_maybe_nominate(a, now);
    ice_consent_tick(a, now);
    ice_update_state(a, now);
    ice_flush_events(a);
}

/* ------------------------------------------------------------------------------------------
 * States (W3C RTCIceTransportState).
 */
static rtc_ice_state_t compute_state(rtc_ice_agent_t *a, rtc_time_t now) {
    if (a->closed) return RTC_ICE_STATE_CLOSED;
    if (a->failed) return RTC_ICE_STATE_FAILED;
    ice_pair_t *s = a->selected;
    if (s) {
        bool track = a->cfg.lite || a->cfg.consent_interval > 0;
        rtc_time_t quiet = now - s->last_fresh;
        if (track && quiet >= a->cfg.consent_timeout) {
            RTC_LOGI(LOG, "consent expired on %s -> %s after %lld ms without a response",
                     rtc_addr_str(&s->local->c.addr), rtc_addr_str(&s->remote->c.addr),
                     (long long)(quiet / RTC_US_PER_MS));
            a->failed = true;
            return RTC_ICE_STATE_FAILED;
        }
        if (track && quiet >= a->cfg.disconnected_timeout) return RTC_ICE_STATE_DISCONNECTED;
        bool done = s->nominated && a->remote_eoc && ice_checks_settled(a) &&
                    (a->cfg.lite || a->gathering == RTC_ICE_GATHERING_COMPLETE);
        return done ? RTC_ICE_STATE_COMPLETED : RTC_ICE_STATE_CONNECTED;
    }
    /* Checks have run out: end-of-candidates on both sides, every pair failed, nothing queued.
     * With no pairs at all but remote candidates we could not pair (mDNS names), the peer's
     * checks may still teach us peer-reflexive ones, so that is not failure yet. */
    if (!a->cfg.lite && a->have_remote_creds && a->remote_eoc &&
        a->gathering == RTC_ICE_GATHERING_COMPLETE && ice_checks_exhausted(a) &&
        (a->pairs.n > 0 || a->remotes.n == 0)) {
        RTC_LOGI(LOG, "all candidate pairs failed");
        a->failed = true;
        return RTC_ICE_STATE_FAILED;
    }
    if (a->have_prev) return RTC_ICE_STATE_CONNECTED;
    if (a->pairs.n == 0 && !(a->have_remote_creds && a->remotes.n > 0)) return RTC_ICE_STATE_NEW;
    return RTC_ICE_STATE_CHECKING;
}

void ice_update_state(rtc_ice_agent_t *a, rtc_time_t now) {
    rtc_ice_state_t s = compute_state(a, now);
    if (s == a->state) return;
    RTC_LOGI(LOG, "state %s -> %s", rtc_ice_state_name(a->state), rtc_ice_state_name(s));
    a->state = s;
    if (s == RTC_ICE_STATE_FAILED) {
        /* Consent gone or nothing worked: stop checking and stop sending (RFC 7675 §5.1). */
        cancel_all_txns(a);
        a->triggered.n = 0;
        for (size_t i = 0; i < a->pairs.n; i++) {
            ice_pair_t *p = a->pairs.v[i];
            p->inflight = 0;
            p->triggered = false;
        }
        a->have_prev = false;
    }
    ice_emit(a, EV_STATE, s, NULL);
}

/* ------------------------------------------------------------------------------------------
 * Restart and close.
 */
int rtc_ice_agent_restart(rtc_ice_agent_t *a, const char *ufrag, const char *pwd, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    if (a->closed) return RTC_ERR_STATE;
    char old_ufrag[sizeof a->ufrag], old_pwd[sizeof a->pwd];
    memcpy(old_ufrag, a->ufrag, sizeof old_ufrag);
    memcpy(old_pwd, a->pwd, sizeof old_pwd);
    if (set_local_credentials(a, ufrag, pwd) != RTC_OK) {
        memcpy(a->ufrag, old_ufrag, sizeof old_ufrag);
        memcpy(a->pwd, old_pwd, sizeof old_pwd);
        return RTC_ERR_INVALID_ARG;
    }
    a->now = now;
    /* Keep the path in use for data until the new session selects one (RFC 8445 §9). */
    if (a->selected && !a->failed) {
        ice_pair_info(a, a->selected, &a->prev_info);
        a->prev_base = a->selected->local->base;
        a->have_prev = true;
    }
    cancel_all_txns(a);
    ice_free_pairs(a);
    for (size_t i = 0; i < a->remotes.n; i++) free(a->remotes.v[i]);
    a->remotes.n = 0;
    free_locals(a, true);
    for (size_t i = 0; i < a->locals.n; i++) ((ice_local_t *)a->locals.v[i])->announced = false;
    a->selected = NULL;
    /* The peer must send new credentials too (RFC 8445 §9); until then checks cannot go
     * out, and incoming ones are verified against our new credentials only. */
    a->have_remote_creds = false;
    a->remote_ufrag[0] = a->remote_pwd[0] = '\0';
    a->remote_eoc = false;
    a->failed = false;
    a->first_valid_at = 0;
    bool regather = a->gathering_started;
    a->gathering_started = false;
    a->gathering = RTC_ICE_GATHERING_NEW;
    int rc = RTC_OK;
    if (regather) rc = start_gathering(a, now);
    ice_update_state(a, now);
    ice_flush_events(a);
    return rc;
}

void rtc_ice_agent_close(rtc_ice_agent_t *a) {
    if (!a || a->closed) return;
    cancel_all_txns(a);
    ice_relays_release(a, a->now);
    a->closed = true;
    a->have_prev = false;
    ice_update_state(a, a->now);
    ice_flush_events(a);
}

/* ------------------------------------------------------------------------------------------
 * Queries.
 */
rtc_ice_state_t rtc_ice_agent_state(const rtc_ice_agent_t *a) { return a ? a->state : RTC_ICE_STATE_CLOSED; }
rtc_ice_gathering_state_t rtc_ice_agent_gathering_state(const rtc_ice_agent_t *a) {
    return a ? a->gathering : RTC_ICE_GATHERING_NEW;
}
rtc_ice_role_t rtc_ice_agent_role(const rtc_ice_agent_t *a) { return a ? a->role : RTC_ICE_ROLE_CONTROLLED; }

void ice_pair_info(const rtc_ice_agent_t *a, const ice_pair_t *p, rtc_ice_pair_info_t *out) {
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->local = p->mapped ? p->mapped->c : p->local->c;
    out->remote = p->remote->c;
    out->state = p->state;
    out->priority = p->priority;
    out->nominated = p->nominated;
    out->selected = a->selected == p;
    out->requests_sent = p->requests_sent;
    out->responses_received = p->responses_received;
    out->requests_received = p->requests_received;
    out->responses_sent = p->responses_sent;
    out->packets_sent = p->packets_sent;
    out->packets_received = p->packets_received;
    out->bytes_sent = p->bytes_sent;
    out->bytes_received = p->bytes_received;
    out->rtt = p->rtt;
}

int rtc_ice_agent_get_selected_pair(const rtc_ice_agent_t *a, rtc_ice_pair_info_t *out) {
    if (!a || !out) return RTC_ERR_INVALID_ARG;
    if (a->selected) {
        ice_pair_info(a, a->selected, out);
        return RTC_OK;
    }
    if (a->have_prev) {
        *out = a->prev_info;
        return RTC_OK;
    }
    return RTC_ERR_NOT_FOUND;
}

size_t rtc_ice_agent_local_candidates(const rtc_ice_agent_t *a, rtc_ice_candidate_t *out, size_t max) {
    if (!a) return 0;
    size_t n = 0;
    for (size_t i = 0; i < a->locals.n; i++) {
        const ice_local_t *l = a->locals.v[i];
        if (!l->announced && l->c.type != RTC_ICE_CANDIDATE_PRFLX) continue;
        if (out && n < max) out[n] = announced_form(a, l);
        n++;
    }
    return n;
}

size_t rtc_ice_agent_remote_candidates(const rtc_ice_agent_t *a, rtc_ice_candidate_t *out, size_t max) {
    if (!a) return 0;
    for (size_t i = 0; out && i < a->remotes.n && i < max; i++)
        out[i] = ((const ice_remote_t *)a->remotes.v[i])->c;
    return a->remotes.n;
}

static int cmp_pair_prio(const void *x, const void *y) {
    const ice_pair_t *p = *(ice_pair_t *const *)x, *q = *(ice_pair_t *const *)y;
    if (p->priority != q->priority) return p->priority > q->priority ? -1 : 1;
    return p->id < q->id ? -1 : p->id > q->id;
}

size_t rtc_ice_agent_get_pairs(const rtc_ice_agent_t *a, rtc_ice_pair_info_t *out, size_t max) {
    if (!a) return 0;
    size_t n = a->pairs.n;
    if (!out || max == 0 || n == 0) return n;
    ice_pair_t **sorted = malloc(n * sizeof *sorted);
    if (!sorted) return n;
    memcpy(sorted, a->pairs.v, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_pair_prio);
    for (size_t i = 0; i < n && i < max; i++) ice_pair_info(a, sorted[i], &out[i]);
    free(sorted);
    return n;
}

void rtc_ice_agent_get_stats(const rtc_ice_agent_t *a, rtc_ice_stats_t *out) {
    if (!out) return;
    if (!a) { memset(out, 0, sizeof *out); return; }
    *out = a->stats;
}
