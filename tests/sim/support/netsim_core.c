/* netsim core: the event queue, the fake clock, hosts and sockets, the link model, NATs
 * (RFC 4787 mapping and filtering behaviours) and a STUN Binding server. See netsim.h. */
#include "netsim.h"

#include <stdio.h>
#include <stdlib.h>

#include "rtc/stun.h"

/* ------------------------------------------------------------------------------------------
 * Types.
 */
typedef enum { EV_PACKET = 0, EV_CALLBACK } ev_kind_t;

typedef struct {
    rtc_time_t at;
    uint64_t seq;
    ev_kind_t kind;
    /* packet */
    int realm;               /* realm where the datagram arrives */
    rtc_addr_t src, dst;
    /* callback */
    netsim_event_fn fn;
    void *user;
    /* payload (packet bytes or callback payload) */
    uint8_t *data;
    size_t len;
} event_t;

typedef struct {
    int realm;
    rtc_addr_t ip;
    bool blackhole;
} host_t;

struct netsim_socket {
    netsim_t *sim;
    int realm;
    rtc_addr_t addr;
    netsim_recv_fn fn;
    void *user;
};

typedef struct {
    rtc_addr_t priv;          /* inside address:port */
    rtc_addr_t key;           /* destination part of the mapping key (by mapping behaviour) */
    uint16_t port;            /* public port */
    rtc_addr_t *perms;        /* destinations sent to, for filtering */
    size_t n_perms, cap_perms;
    rtc_time_t last_out;
} mapping_t;

struct netsim_nat {
    netsim_t *sim;
    int realm;
    rtc_addr_t public_ip;
    netsim_mapping_t mapping;
    netsim_filtering_t filtering;
    rtc_time_t timeout;
    bool hairpin;
    mapping_t *maps;
    size_t n_maps, cap_maps;
};

typedef struct {
    netsim_next_fn next;
    netsim_fire_fn fire;
    void *user;
} timer_t_;

struct netsim {
    uint64_t rng;
    rtc_time_t now;
    uint64_t seq;
    netsim_link_t link;
    netsim_stats_t stats;
    uint64_t trace;
    event_t *heap;
    size_t n_heap, cap_heap;
    host_t *hosts;
    size_t n_hosts, cap_hosts;
    netsim_socket_t **socks;
    size_t n_socks, cap_socks;
    netsim_nat_t **nats;
    size_t n_nats;
    timer_t_ *timers;
    size_t n_timers, cap_timers;
    bool installed;
    uint64_t same_time_steps;
    netsim_tap_fn tap;
    void *tap_user;
    rtc_time_t last_step_time;
};

static void *grow(void *p, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return p;
    size_t c = *cap ? *cap * 2 : 16;
    void *q = realloc(p, c * elem);
    if (!q) { fprintf(stderr, "netsim: out of memory\n"); abort(); }
    *cap = c;
    return q;
}

const char *netsim_mapping_name(netsim_mapping_t m) {
    static const char *n[] = {"EIM", "ADM", "APDM"};
    return (unsigned)m < 3 ? n[m] : "?";
}

const char *netsim_filtering_name(netsim_filtering_t f) {
    static const char *n[] = {"EIF", "ADF", "APDF"};
    return (unsigned)f < 3 ? n[f] : "?";
}

/* ------------------------------------------------------------------------------------------
 * Randomness (splitmix64) and the trace hash (FNV-1a 64).
 */
uint64_t netsim_random(netsim_t *sim) {
    uint64_t z = (sim->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double netsim_random_unit(netsim_t *sim) {
    return (double)(netsim_random(sim) >> 11) / (double)(1ull << 53);
}

static int sim_random_fill(uint8_t *buf, size_t n, void *user) {
    netsim_t *sim = user;
    while (n) {
        uint64_t r = netsim_random(sim);
        size_t k = n < 8 ? n : 8;
        memcpy(buf, &r, k);
        buf += k;
        n -= k;
    }
    return RTC_OK;
}

static rtc_time_t sim_clock(void *user) { return ((netsim_t *)user)->now; }

void netsim_install_random(netsim_t *sim) {
    rtc_random_set_source(sim_random_fill, sim);
    rtc_clock_set_source(sim_clock, sim);
    sim->installed = true;
}

void netsim_trace_mix(netsim_t *sim, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        sim->trace ^= b[i];
        sim->trace *= 0x100000001B3ull;
    }
}

uint64_t netsim_trace_hash(const netsim_t *sim) { return sim->trace; }

static void trace_packet(netsim_t *sim, char what, const rtc_addr_t *src, const rtc_addr_t *dst,
                         const uint8_t *p, size_t n) {
    netsim_trace_mix(sim, &what, 1);
    netsim_trace_mix(sim, &sim->now, sizeof sim->now);
    netsim_trace_mix(sim, src, sizeof *src);
    netsim_trace_mix(sim, dst, sizeof *dst);
    netsim_trace_mix(sim, p, n);
}

/* ------------------------------------------------------------------------------------------
 * Lifecycle.
 */
netsim_t *netsim_create(uint64_t seed, rtc_time_t start) {
    netsim_t *sim = calloc(1, sizeof *sim);
    if (!sim) return NULL;
    sim->rng = seed ^ 0x5DEECE66Dull;
    sim->now = start;
    sim->trace = 0xCBF29CE484222325ull;
    sim->link.delay = RTC_MS(10);
    sim->last_step_time = -1;
    return sim;
}

void netsim_destroy(netsim_t *sim) {
    if (!sim) return;
    for (size_t i = 0; i < sim->n_heap; i++) free(sim->heap[i].data);
    free(sim->heap);
    for (size_t i = 0; i < sim->n_socks; i++) free(sim->socks[i]);
    free(sim->socks);
    for (size_t i = 0; i < sim->n_nats; i++) {
        netsim_nat_t *nat = sim->nats[i];
        for (size_t j = 0; j < nat->n_maps; j++) free(nat->maps[j].perms);
        free(nat->maps);
        free(nat);
    }
    free(sim->nats);
    free(sim->hosts);
    free(sim->timers);
    if (sim->installed) {
        rtc_random_set_source(NULL, NULL);
        rtc_clock_set_source(NULL, NULL);
    }
    free(sim);
}

rtc_time_t netsim_now(const netsim_t *sim) { return sim->now; }
void netsim_set_link(netsim_t *sim, const netsim_link_t *link) { sim->link = *link; }
const netsim_stats_t *netsim_stats(const netsim_t *sim) { return &sim->stats; }

/* ------------------------------------------------------------------------------------------
 * The event heap, ordered by (time, sequence) so equal times keep insertion order.
 */
static bool ev_before(const event_t *a, const event_t *b) {
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(netsim_t *sim, event_t ev) {
    sim->heap = grow(sim->heap, &sim->cap_heap, sim->n_heap, sizeof *sim->heap);
    ev.seq = sim->seq++;
    size_t i = sim->n_heap++;
    sim->heap[i] = ev;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&sim->heap[i], &sim->heap[parent])) break;
        event_t t = sim->heap[i];
        sim->heap[i] = sim->heap[parent];
        sim->heap[parent] = t;
        i = parent;
    }
}

static event_t heap_pop(netsim_t *sim) {
    event_t top = sim->heap[0];
    sim->heap[0] = sim->heap[--sim->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < sim->n_heap && ev_before(&sim->heap[l], &sim->heap[m])) m = l;
        if (r < sim->n_heap && ev_before(&sim->heap[r], &sim->heap[m])) m = r;
        if (m == i) break;
        event_t t = sim->heap[i];
        sim->heap[i] = sim->heap[m];
        sim->heap[m] = t;
        i = m;
    }
    return top;
}

void netsim_schedule(netsim_t *sim, rtc_time_t at, netsim_event_fn fn, void *user,
                     const void *payload, size_t len) {
    event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.at = at < sim->now ? sim->now : at;
    ev.kind = EV_CALLBACK;
    ev.fn = fn;
    ev.user = user;
    if (len) {
        ev.data = malloc(len);
        if (!ev.data) abort();
        memcpy(ev.data, payload, len);
        ev.len = len;
    }
    heap_push(sim, ev);
}

/* ------------------------------------------------------------------------------------------
 * Hosts and sockets.
 */
static int parse_ip(const char *ip, rtc_addr_t *out) {
    if (rtc_addr_parse_ip(out, ip, 0) != RTC_OK) {
        fprintf(stderr, "netsim: bad IP '%s'\n", ip);
        return -1;
    }
    return 0;
}

static int realm_of(const netsim_nat_t *nat) { return nat ? nat->realm : 0; }

static host_t *find_host(netsim_t *sim, int realm, const rtc_addr_t *ip) {
    for (size_t i = 0; i < sim->n_hosts; i++)
        if (sim->hosts[i].realm == realm && rtc_addr_equal_ip(&sim->hosts[i].ip, ip)) return &sim->hosts[i];
    return NULL;
}

int netsim_add_host(netsim_t *sim, netsim_nat_t *nat, const char *ip) {
    rtc_addr_t a;
    if (parse_ip(ip, &a)) return -1;
    if (find_host(sim, realm_of(nat), &a)) return 0;
    sim->hosts = grow(sim->hosts, &sim->cap_hosts, sim->n_hosts, sizeof *sim->hosts);
    host_t *h = &sim->hosts[sim->n_hosts++];
    h->realm = realm_of(nat);
    h->ip = a;
    h->blackhole = false;
    return 0;
}

void netsim_set_blackhole(netsim_t *sim, netsim_nat_t *nat, const char *ip, bool on) {
    rtc_addr_t a;
    if (parse_ip(ip, &a)) return;
    host_t *h = find_host(sim, realm_of(nat), &a);
    if (h) h->blackhole = on;
}

static netsim_socket_t *find_socket(netsim_t *sim, int realm, const rtc_addr_t *addr) {
    for (size_t i = 0; i < sim->n_socks; i++) {
        netsim_socket_t *s = sim->socks[i];
        if (s->realm == realm && rtc_addr_equal(&s->addr, addr)) return s;
    }
    return NULL;
}

netsim_socket_t *netsim_socket_open(netsim_t *sim, netsim_nat_t *nat, const char *ip, uint16_t port,
                                    netsim_recv_fn fn, void *user) {
    rtc_addr_t a;
    if (parse_ip(ip, &a)) return NULL;
    int realm = realm_of(nat);
    if (!find_host(sim, realm, &a)) {
        fprintf(stderr, "netsim: host %s not declared in realm %d\n", ip, realm);
        return NULL;
    }
    if (port == 0) {
        do {
            a.port = (uint16_t)(10000 + netsim_random(sim) % 10000);
        } while (find_socket(sim, realm, &a));
    } else {
        a.port = port;
        if (find_socket(sim, realm, &a)) return NULL;
    }
    netsim_socket_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sim = sim;
    s->realm = realm;
    s->addr = a;
    s->fn = fn;
    s->user = user;
    sim->socks = grow(sim->socks, &sim->cap_socks, sim->n_socks, sizeof *sim->socks);
    sim->socks[sim->n_socks++] = s;
    return s;
}

void netsim_socket_close(netsim_socket_t *s) {
    if (!s) return;
    netsim_t *sim = s->sim;
    for (size_t i = 0; i < sim->n_socks; i++) {
        if (sim->socks[i] == s) {
            sim->socks[i] = sim->socks[--sim->n_socks];
            break;
        }
    }
    free(s);
}

const rtc_addr_t *netsim_socket_addr(const netsim_socket_t *s) { return &s->addr; }

/* ------------------------------------------------------------------------------------------
 * NATs.
 */
netsim_nat_t *netsim_add_nat(netsim_t *sim, const char *public_ip, netsim_mapping_t m,
                             netsim_filtering_t f, rtc_time_t mapping_timeout) {
    netsim_nat_t *nat = calloc(1, sizeof *nat);
    if (!nat || parse_ip(public_ip, &nat->public_ip)) { free(nat); return NULL; }
    nat->sim = sim;
    nat->realm = (int)sim->n_nats + 1;
    nat->mapping = m;
    nat->filtering = f;
    nat->timeout = mapping_timeout > 0 ? mapping_timeout : RTC_SEC(120);
    size_t cap = sim->n_nats;
    netsim_nat_t **v = realloc(sim->nats, (cap + 1) * sizeof *v);
    if (!v) abort();
    sim->nats = v;
    sim->nats[sim->n_nats++] = nat;
    netsim_add_host(sim, NULL, public_ip);
    return nat;
}

void netsim_nat_set_hairpin(netsim_nat_t *nat, bool on) { nat->hairpin = on; }

static void expire_mappings(netsim_nat_t *nat) {
    size_t i = 0;
    while (i < nat->n_maps) {
        if (nat->sim->now - nat->maps[i].last_out > nat->timeout) {
            free(nat->maps[i].perms);
            nat->maps[i] = nat->maps[--nat->n_maps];
        } else {
            i++;
        }
    }
}

size_t netsim_nat_mappings(const netsim_nat_t *nat) { return nat->n_maps; }

/* The destination part of the mapping key (RFC 4787 §4.1). */
static rtc_addr_t mapping_key(const netsim_nat_t *nat, const rtc_addr_t *dst) {
    rtc_addr_t k;
    memset(&k, 0, sizeof k);
    if (nat->mapping == NETSIM_ADM) { k = *dst; k.port = 0; }
    else if (nat->mapping == NETSIM_APDM) k = *dst;
    return k;
}

static bool port_used(const netsim_nat_t *nat, uint16_t port) {
    for (size_t i = 0; i < nat->n_maps; i++) if (nat->maps[i].port == port) return true;
    return false;
}

/* Outbound: returns the public source address for a datagram from priv to dst. */
static rtc_addr_t nat_outbound(netsim_nat_t *nat, const rtc_addr_t *priv, const rtc_addr_t *dst) {
    expire_mappings(nat);
    rtc_addr_t key = mapping_key(nat, dst);
    mapping_t *m = NULL;
    for (size_t i = 0; i < nat->n_maps; i++) {
        if (rtc_addr_equal(&nat->maps[i].priv, priv) && rtc_addr_equal(&nat->maps[i].key, &key)) {
            m = &nat->maps[i];
            break;
        }
    }
    if (!m) {
        uint16_t port;
        do {
            port = (uint16_t)(20000 + netsim_random(nat->sim) % 40000);
        } while (port_used(nat, port));
        nat->maps = grow(nat->maps, &nat->cap_maps, nat->n_maps, sizeof *nat->maps);
        m = &nat->maps[nat->n_maps++];
        memset(m, 0, sizeof *m);
        m->priv = *priv;
        m->key = key;
        m->port = port;
    }
    m->last_out = nat->sim->now;
    bool known = false;
    for (size_t i = 0; i < m->n_perms; i++) if (rtc_addr_equal(&m->perms[i], dst)) known = true;
    if (!known) {
        m->perms = grow(m->perms, &m->cap_perms, m->n_perms, sizeof *m->perms);
        m->perms[m->n_perms++] = *dst;
    }
    rtc_addr_t pub = nat->public_ip;
    pub.port = m->port;
    return pub;
}

/* Inbound: maps a datagram from src to public port dst->port to the inside address, if a
 * mapping exists and the filtering behaviour lets src through. */
static bool nat_inbound(netsim_nat_t *nat, const rtc_addr_t *src, const rtc_addr_t *dst, rtc_addr_t *priv) {
    expire_mappings(nat);
    for (size_t i = 0; i < nat->n_maps; i++) {
        mapping_t *m = &nat->maps[i];
        if (m->port != dst->port) continue;
        bool ok = nat->filtering == NETSIM_EIF;
        for (size_t j = 0; !ok && j < m->n_perms; j++) {
            if (nat->filtering == NETSIM_ADF) ok = rtc_addr_equal_ip(&m->perms[j], src);
            else ok = rtc_addr_equal(&m->perms[j], src);
        }
        if (!ok) return false;
        *priv = m->priv;
        return true;
    }
    return false;
}

static netsim_nat_t *nat_by_public(netsim_t *sim, const rtc_addr_t *ip) {
    for (size_t i = 0; i < sim->n_nats; i++)
        if (rtc_addr_equal_ip(&sim->nats[i]->public_ip, ip)) return sim->nats[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Sending and delivery.
 */
static void schedule_packet(netsim_t *sim, int realm, const rtc_addr_t *src, const rtc_addr_t *dst,
                            const uint8_t *p, size_t n) {
    const netsim_link_t *l = &sim->link;
    if (l->loss > 0 && netsim_random_unit(sim) < l->loss) {
        sim->stats.lost++;
        trace_packet(sim, 'L', src, dst, p, n);
        return;
    }
    int copies = (l->duplicate > 0 && netsim_random_unit(sim) < l->duplicate) ? 2 : 1;
    if (copies == 2) sim->stats.duplicated++;
    for (int c = 0; c < copies; c++) {
        rtc_time_t d = l->delay;
        if (l->jitter > 0) d += (rtc_time_t)(netsim_random(sim) % (uint64_t)(l->jitter + 1));
        if (l->reorder > 0 && netsim_random_unit(sim) < l->reorder) d += l->reorder_delay;
        event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.at = sim->now + d;
        ev.kind = EV_PACKET;
        ev.realm = realm;
        ev.src = *src;
        ev.dst = *dst;
        ev.data = malloc(n ? n : 1);
        if (!ev.data) abort();
        memcpy(ev.data, p, n);
        ev.len = n;
        heap_push(sim, ev);
    }
}

void netsim_set_tap(netsim_t *sim, netsim_tap_fn fn, void *user) {
    sim->tap = fn;
    sim->tap_user = user;
}

void netsim_send(netsim_socket_t *s, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    netsim_t *sim = s->sim;
    sim->stats.sent++;
    if (sim->tap) sim->tap(sim->tap_user, sim->now, &s->addr, dest, p, n);
    host_t *h = find_host(sim, s->realm, &s->addr);
    if (h && h->blackhole) {
        sim->stats.blackholed++;
        trace_packet(sim, 'B', &s->addr, dest, p, n);
        return;
    }
    if (s->realm != 0) {
        if (find_host(sim, s->realm, dest)) {
            schedule_packet(sim, s->realm, &s->addr, dest, p, n);
            return;
        }
        netsim_nat_t *nat = sim->nats[s->realm - 1];
        rtc_addr_t pub = nat_outbound(nat, &s->addr, dest);
        schedule_packet(sim, 0, &pub, dest, p, n);
        return;
    }
    schedule_packet(sim, 0, &s->addr, dest, p, n);
}

static void deliver(netsim_t *sim, int realm, const rtc_addr_t *src, const rtc_addr_t *dst,
                    const uint8_t *p, size_t n) {
    host_t *h = find_host(sim, realm, dst);
    if (h && h->blackhole) {
        sim->stats.blackholed++;
        trace_packet(sim, 'B', src, dst, p, n);
        return;
    }
    netsim_socket_t *s = find_socket(sim, realm, dst);
    if (!s) {
        sim->stats.no_socket++;
        trace_packet(sim, 'N', src, dst, p, n);
        return;
    }
    sim->stats.delivered++;
    trace_packet(sim, 'D', src, dst, p, n);
    if (s->fn) s->fn(s->user, s, src, p, n);
}

static void arrive(netsim_t *sim, const event_t *ev) {
    if (ev->realm != 0) {
        deliver(sim, ev->realm, &ev->src, &ev->dst, ev->data, ev->len);
        return;
    }
    netsim_nat_t *nat = nat_by_public(sim, &ev->dst);
    if (nat) {
        /* Hairpinning: a datagram from behind this NAT to its own public address. */
        if (rtc_addr_equal_ip(&ev->src, &nat->public_ip) && !nat->hairpin) {
            sim->stats.filtered++;
            trace_packet(sim, 'F', &ev->src, &ev->dst, ev->data, ev->len);
            return;
        }
        rtc_addr_t priv;
        if (!nat_inbound(nat, &ev->src, &ev->dst, &priv)) {
            sim->stats.filtered++;
            trace_packet(sim, 'F', &ev->src, &ev->dst, ev->data, ev->len);
            return;
        }
        deliver(sim, nat->realm, &ev->src, &priv, ev->data, ev->len);
        return;
    }
    if (!find_host(sim, 0, &ev->dst)) {
        sim->stats.unroutable++;
        trace_packet(sim, 'U', &ev->src, &ev->dst, ev->data, ev->len);
        return;
    }
    deliver(sim, 0, &ev->src, &ev->dst, ev->data, ev->len);
}

/* ------------------------------------------------------------------------------------------
 * Timers and the main loop.
 */
void netsim_add_timer(netsim_t *sim, netsim_next_fn next, netsim_fire_fn fire, void *user) {
    sim->timers = grow(sim->timers, &sim->cap_timers, sim->n_timers, sizeof *sim->timers);
    sim->timers[sim->n_timers++] = (timer_t_){next, fire, user};
}

void netsim_remove_timer(netsim_t *sim, void *user) {
    for (size_t i = 0; i < sim->n_timers; i++) {
        if (sim->timers[i].user == user) {
            memmove(&sim->timers[i], &sim->timers[i + 1], (sim->n_timers - i - 1) * sizeof *sim->timers);
            sim->n_timers--;
            return;
        }
    }
}

bool netsim_step(netsim_t *sim, rtc_time_t limit) {
    rtc_time_t t = sim->n_heap ? sim->heap[0].at : RTC_TIME_NEVER;
    for (size_t i = 0; i < sim->n_timers; i++) {
        rtc_time_t x = sim->timers[i].next(sim->timers[i].user);
        if (x < t) t = x;
    }
    if (t == RTC_TIME_NEVER || t > limit) return false;
    if (t < sim->now) t = sim->now;
    if (t == sim->last_step_time) {
        if (++sim->same_time_steps > 100000) {
            fprintf(stderr, "netsim: no progress at t=%lld us (a participant keeps asking to be "
                            "woken now)\n", (long long)t);
            abort();
        }
    } else {
        sim->same_time_steps = 0;
        sim->last_step_time = t;
    }
    sim->now = t;
    /* Datagrams and callbacks due now, in order, then every timer that is due. */
    while (sim->n_heap && sim->heap[0].at <= sim->now) {
        event_t ev = heap_pop(sim);
        if (ev.kind == EV_PACKET) arrive(sim, &ev);
        else ev.fn(ev.user, ev.data, ev.len, sim->now);
        free(ev.data);
    }
    for (size_t i = 0; i < sim->n_timers; i++) {
        timer_t_ tm = sim->timers[i];
        if (tm.next(tm.user) <= sim->now) tm.fire(tm.user, sim->now);
    }
    return true;
}

bool netsim_run_until(netsim_t *sim, rtc_time_t until, bool (*stop)(void *user), void *user) {
    for (;;) {
        if (stop && stop(user)) return true;
        if (!netsim_step(sim, until)) {
            if (sim->now < until) sim->now = until;
            return stop ? stop(user) : false;
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * STUN server.
 */
static void stun_server_recv(void *user, netsim_socket_t *s, const rtc_addr_t *from, const uint8_t *p,
                             size_t n) {
    (void)user;
    uint8_t out[512];
    rtc_stun_responder_config_t cfg = {.software = "netsim", .always_fingerprint = true};
    int len = rtc_stun_binding_respond(&cfg, p, n, from, out, sizeof out);
    if (len > 0) netsim_send(s, from, out, (size_t)len);
}

netsim_socket_t *netsim_stun_server(netsim_t *sim, const char *ip, uint16_t port) {
    netsim_add_host(sim, NULL, ip);
    return netsim_socket_open(sim, NULL, ip, port, stun_server_recv, NULL);
}
