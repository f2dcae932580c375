/*
 * netsim — a deterministic simulated network for tests, on a fake clock.
 *
 * The world has a public realm and any number of NATs, each with a private realm behind it
 * (private realms may reuse the same addresses, as real LANs do). Hosts are IP addresses in a
 * realm; sockets are (IP, port) on a host. Datagrams cross a link model (delay, jitter, loss,
 * duplication, reordering) and NATs that follow RFC 4787's behaviours: endpoint-independent,
 * address-dependent or address-and-port-dependent mapping and filtering, with mapping
 * timeouts refreshed by outbound traffic. Inbound filtering is decided when a packet arrives
 * at the NAT, so the races of simultaneous hole punching play out as on a real network.
 *
 * Everything random comes from one seeded generator, so the same seed gives the same run,
 * event for event; netsim_trace_hash() summarises a run for asserting exactly that.
 *
 * Time only moves in netsim_step/netsim_run_until: the next event is either a datagram
 * arriving, a scheduled callback, or a registered timer (e.g. a sans-I/O agent's
 * next_timeout) coming due.
 */
#ifndef NETSIM_H
#define NETSIM_H

#include "rtc/base.h"
#include "rtc/ice.h"

typedef struct netsim netsim_t;
typedef struct netsim_nat netsim_nat_t;
typedef struct netsim_socket netsim_socket_t;

typedef enum { NETSIM_EIM = 0, NETSIM_ADM, NETSIM_APDM } netsim_mapping_t;
typedef enum { NETSIM_EIF = 0, NETSIM_ADF, NETSIM_APDF } netsim_filtering_t;

/* "EIM", "ADM", "APDM" / "EIF", "ADF", "APDF". */
const char *netsim_mapping_name(netsim_mapping_t m);
const char *netsim_filtering_name(netsim_filtering_t f);

typedef struct {
    rtc_time_t delay;          /* one-way delay */
    rtc_time_t jitter;         /* uniform extra delay in [0, jitter] */
    double loss;               /* probability a datagram is lost */
    double duplicate;          /* probability a datagram arrives twice */
    double reorder;            /* probability a datagram is held back by reorder_delay */
    rtc_time_t reorder_delay;
} netsim_link_t;

typedef struct {
    uint64_t sent, delivered, lost, duplicated, filtered, unroutable, no_socket, blackholed;
} netsim_stats_t;

/* Creates a world at time `start` (0 is fine) with a lossless 10 ms link. */
netsim_t *netsim_create(uint64_t seed, rtc_time_t start);
/* Frees everything, closing sockets; restores the default random and clock sources if this
 * simulation installed its own. */
void netsim_destroy(netsim_t *sim);
rtc_time_t netsim_now(const netsim_t *sim);
void netsim_set_link(netsim_t *sim, const netsim_link_t *link);
const netsim_stats_t *netsim_stats(const netsim_t *sim);

/* The simulation's generator. netsim_install_random makes it libwebrtc's random source
 * (rtc_random_*) and the simulation's time its clock, so sans-I/O code under test draws
 * transaction IDs, credentials and tie-breakers deterministically. */
uint64_t netsim_random(netsim_t *sim);
double netsim_random_unit(netsim_t *sim);
void netsim_install_random(netsim_t *sim);

/* A NAT with `public_ip` in the public realm and an empty private realm behind it.
 * mapping_timeout 0 = 120 s. Ports are allocated at random (deterministically) in
 * 20000-59999, never preserved, so a mapping is visible as such. */
netsim_nat_t *netsim_add_nat(netsim_t *sim, const char *public_ip, netsim_mapping_t m,
                             netsim_filtering_t f, rtc_time_t mapping_timeout);
void netsim_nat_set_hairpin(netsim_nat_t *nat, bool on);
size_t netsim_nat_mappings(const netsim_nat_t *nat);

/* Declares host address `ip` in the realm behind `nat` (NULL: the public realm). */
int netsim_add_host(netsim_t *sim, netsim_nat_t *nat, const char *ip);
/* Drops everything to and from host `ip` in that realm while on (a cable pulled). */
void netsim_set_blackhole(netsim_t *sim, netsim_nat_t *nat, const char *ip, bool on);

typedef void (*netsim_recv_fn)(void *user, netsim_socket_t *s, const rtc_addr_t *from,
                               const uint8_t *p, size_t n);

/* Opens a socket on a declared host; port 0 picks a free one (deterministically). */
netsim_socket_t *netsim_socket_open(netsim_t *sim, netsim_nat_t *nat, const char *ip,
                                    uint16_t port, netsim_recv_fn fn, void *user);
void netsim_socket_close(netsim_socket_t *s);
const rtc_addr_t *netsim_socket_addr(const netsim_socket_t *s);
/* Sends one datagram (copied). */
void netsim_send(netsim_socket_t *s, const rtc_addr_t *dest, const uint8_t *p, size_t n);

/* Runs fn(user, now) at time `at` (payload copied, may be NULL). */
typedef void (*netsim_event_fn)(void *user, const void *payload, size_t len, rtc_time_t now);
void netsim_schedule(netsim_t *sim, rtc_time_t at, netsim_event_fn fn, void *user,
                     const void *payload, size_t len);

/* A participant with its own timer: next(user) says when it wants fire(user, now). */
typedef rtc_time_t (*netsim_next_fn)(void *user);
typedef void (*netsim_fire_fn)(void *user, rtc_time_t now);
void netsim_add_timer(netsim_t *sim, netsim_next_fn next, netsim_fire_fn fire, void *user);
void netsim_remove_timer(netsim_t *sim, void *user);

/* Advances to the next event no later than `limit` and processes it. Returns false (time
 * unchanged) when nothing is due by then. A participant that keeps asking to be woken at the
 * same instant without progress is a bug: after 100000 wake-ups at one time netsim aborts the
 * test with a message. */
bool netsim_step(netsim_t *sim, rtc_time_t limit);
/* Steps until stop(user) is true (checked after every step) or time `until` is reached;
 * returns true if stopped by the predicate. stop may be NULL. */
bool netsim_run_until(netsim_t *sim, rtc_time_t until, bool (*stop)(void *user), void *user);

/* Observes every datagram a socket sends (before any NAT), e.g. to count STUN requests. */
typedef void (*netsim_tap_fn)(void *user, rtc_time_t now, const rtc_addr_t *src, const rtc_addr_t *dst,
                              const uint8_t *p, size_t n);
void netsim_set_tap(netsim_t *sim, netsim_tap_fn fn, void *user);

/* A running hash of every delivery and drop (time, addresses, bytes); mix in other events. */
uint64_t netsim_trace_hash(const netsim_t *sim);
void netsim_trace_mix(netsim_t *sim, const void *p, size_t n);

/* ------------------------------------------------------------------------------------------
 * A STUN server (Binding only, RFC 8489) on a public host.
 */
netsim_socket_t *netsim_stun_server(netsim_t *sim, const char *ip, uint16_t port);

/* ------------------------------------------------------------------------------------------
 * A TURN server (RFC 8656 over UDP, long-term credentials, realm "netsim") on a public host,
 * relaying from the same IP. A test model for the real TURN client, not a production server.
 */
typedef struct netsim_turn netsim_turn_t;
typedef struct {
    uint64_t allocations, permissions, channels, relayed_to_peer, relayed_to_client;
    uint64_t dropped_no_permission, auth_failures;
    uint64_t channel_data_from_client, send_indications_from_client;
} netsim_turn_stats_t;
netsim_turn_t *netsim_turn_server(netsim_t *sim, const char *ip, uint16_t port, const char *user,
                                  const char *pass);
const netsim_turn_stats_t *netsim_turn_stats(const netsim_turn_t *t);
/* Closes its sockets; call before netsim_destroy. */
void netsim_turn_free(netsim_turn_t *t);

/* ------------------------------------------------------------------------------------------
 * ICE peers: an rtc_ice_agent_t on simulated sockets, with a signalling channel to another
 * peer that carries credentials, trickled candidates and end-of-candidates after a delay.
 */
#define NETSIM_ICE_MAX_STATES 64
#define NETSIM_ICE_MAX_SOCKETS 4

typedef struct netsim_ice_peer {
    netsim_t *sim;
    char name[16];
    rtc_ice_agent_t *agent;
    netsim_socket_t *socks[NETSIM_ICE_MAX_SOCKETS];
    size_t n_socks;
    struct netsim_ice_peer *remote;
    rtc_time_t signal_delay;
    bool trickle;              /* false: candidates go out together once gathering completes */
    rtc_ice_candidate_t pending[32];
    size_t n_pending;
    bool hold, pending_eoc;

    rtc_ice_state_t states[NETSIM_ICE_MAX_STATES];
    size_t n_states;
    rtc_ice_state_t state;
    rtc_ice_gathering_state_t gathering;
    rtc_ice_pair_info_t selected;
    bool has_selected;
    unsigned selected_changes;
    unsigned candidates_sent;
    uint64_t data_packets;
    uint64_t data_bytes;
    uint8_t last_data[256];
    size_t last_data_len;
    rtc_time_t connected_at;
    bool echo;                 /* send every data packet straight back */
    bool mdns;                 /* signal host candidates as "<uuid>.local" names, as browsers do */
} netsim_ice_peer_t;

/* Creates a peer with one socket per IP in `ips` (hosts declared in the realm of `nat`).
 * cfg->filter is set to allow exactly those IPs. Returns NULL on failure. */
netsim_ice_peer_t *netsim_ice_peer_create(netsim_t *sim, const char *name, const rtc_ice_config_t *cfg,
                                          netsim_nat_t *nat, const char *const *ips, size_t n_ips);
void netsim_ice_peer_destroy(netsim_ice_peer_t *p);
/* Links two peers' signalling (credentials sent at once, after `delay`). */
void netsim_ice_link(netsim_ice_peer_t *a, netsim_ice_peer_t *b, rtc_time_t delay);
/* Starts gathering on both. */
void netsim_ice_start(netsim_ice_peer_t *a, netsim_ice_peer_t *b);
/* Sends the local credentials again (after an ICE restart). */
void netsim_ice_signal_credentials(netsim_ice_peer_t *p);
/* ICE restart: new credentials signalled first, then the new generation's candidates. */
void netsim_ice_restart(netsim_ice_peer_t *p);
bool netsim_ice_saw_state(const netsim_ice_peer_t *p, rtc_ice_state_t s);
/* Stop predicates for netsim_run_until (user = netsim_ice_peer_t *[2]). */
bool netsim_ice_both_connected(void *peers);
bool netsim_ice_both_completed(void *peers);
bool netsim_ice_any_failed(void *peers);
bool netsim_ice_both_failed(void *peers);
int netsim_ice_send(netsim_ice_peer_t *p, const void *data, size_t n);

#endif
