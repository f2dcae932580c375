/* Internal structures of the ICE agent, shared by agent.c (API, gathering, demultiplexing,
 * states) and checklist.c (pairs, checks, nomination, consent). Not a public header. */
#ifndef RTC_ICE_INTERNAL_H
#define RTC_ICE_INTERNAL_H

#include "rtc/ice.h"
#include "rtc/stun.h"

/* Where traffic leaves from: a UDP socket the runtime gave us (host candidate) or a TURN
 * allocation reached through one of those sockets (relayed candidate). */
typedef enum { BASE_SOCKET = 0, BASE_RELAY = 1 } ice_base_kind_t;

typedef struct ice_relay ice_relay_t;

typedef struct ice_base {
    rtc_ice_agent_t *agent;
    ice_base_kind_t kind;
    void *sock;             /* the runtime's socket handle (a relay's underlying socket) */
    rtc_addr_t addr;        /* bound address, or the relayed address */
    char ifname[32];
    unsigned index;         /* order of creation, for local preferences */
    rtc_stun_txns_t *txns;  /* transactions sent from this base */
    ice_relay_t *relay;     /* BASE_RELAY: the TURN allocation */
    bool usable;            /* relay: allocated */
} ice_base_t;

typedef struct {
    rtc_ice_candidate_t c;
    ice_base_t *base;
    bool announced;         /* signalled to the peer (prflx ones are learned, never signalled) */
} ice_local_t;

typedef struct {
    rtc_ice_candidate_t c;
    bool pairable;          /* UDP with a literal address */
} ice_remote_t;

typedef struct ice_pair {
    uint32_t id;
    ice_local_t *local;     /* the base's own candidate: host or relay */
    ice_local_t *mapped;    /* after success: the local candidate the peer saw (srflx/prflx) */
    ice_remote_t *remote;
    uint64_t priority;
    rtc_ice_pair_state_t state;
    bool nominated;
    bool remote_nominated;  /* controlled: USE-CANDIDATE seen; nominated once our check succeeds */
    bool nominating;        /* controlling, regular: the next check carries USE-CANDIDATE */
    bool triggered;         /* sits in the triggered-check queue */
    bool peer_checked;      /* an authenticated check from the peer arrived on this pair */
    bool pruned;            /* removed from checking after nomination */
    unsigned inflight;      /* open check transactions */
    rtc_time_t succeeded_at;
    rtc_time_t last_fresh;  /* last consent response (full) or peer check (lite) */
    rtc_time_t last_sent;   /* for keepalives */
    rtc_time_t next_consent;
    rtc_time_t rtt;
    uint64_t requests_sent, responses_received, requests_received, responses_sent;
    uint64_t packets_sent, packets_received, bytes_sent, bytes_received;
} ice_pair_t;

typedef enum { TXN_CHECK = 0, TXN_CONSENT, TXN_GATHER, TXN_RELAY } ice_txn_kind_t;

/* What an open STUN transaction is for (the txn_user of rtc_stun_txns). */
typedef struct {
    ice_txn_kind_t kind;
    uint8_t tid[RTC_STUN_TID_LEN];
    ice_base_t *base;
    ice_pair_t *pair;       /* CHECK, CONSENT */
    unsigned gather;        /* GATHER: index into agent->gathers */
    bool use_candidate;
    rtc_ice_role_t role;    /* role when sent, for 487 handling */
    uint32_t prio_sent;
} ice_txn_t;

/* One server-reflexive query: a STUN server asked through one socket. */
typedef struct {
    ice_base_t *base;
    unsigned server;
    bool started;
    bool done;
} ice_gather_t;

typedef enum { EV_CANDIDATE, EV_EOC, EV_STATE, EV_GATHERING, EV_SELECTED } ice_event_kind_t;

typedef struct {
    ice_event_kind_t kind;
    int value;
    rtc_ice_candidate_t cand;
} ice_event_t;

/* A growable array of pointers. */
typedef struct {
    void **v;
    size_t n, cap;
} ice_vec_t;

int ice_vec_push(ice_vec_t *v, void *p);
void ice_vec_remove_at(ice_vec_t *v, size_t i);     /* keeps order */
bool ice_vec_remove(ice_vec_t *v, void *p);
void ice_vec_free(ice_vec_t *v);

struct rtc_ice_agent {
    rtc_ice_config_t cfg;
    rtc_ice_callbacks_t cb;
    void *user;

    char ufrag[RTC_ICE_UFRAG_MAX + 1];
    char pwd[RTC_ICE_PWD_MAX + 1];
    char remote_ufrag[RTC_ICE_UFRAG_MAX + 1];
    char remote_pwd[RTC_ICE_PWD_MAX + 1];
    bool have_remote_creds;
    bool remote_lite;
    rtc_ice_role_t role;
    uint64_t tie_breaker;

    ice_vec_t bases;        /* ice_base_t* */
    ice_vec_t locals;       /* ice_local_t* */
    ice_vec_t remotes;      /* ice_remote_t* */
    ice_vec_t pairs;        /* ice_pair_t* */
    ice_vec_t triggered;    /* ice_pair_t*, FIFO */
    ice_vec_t txns;         /* ice_txn_t* */
    ice_vec_t relays;       /* ice_relay_t* */
    ice_gather_t *gathers;
    size_t n_gathers;

    rtc_ice_state_t state;
    rtc_ice_gathering_state_t gathering;
    bool gathering_started;
    bool remote_eoc;
    bool failed;            /* latched until restart */
    bool closed;
    ice_pair_t *selected;
    ice_pair_t *pruned_for;  /* nominated pair the checklist was last pruned for */

    /* Previous selected path kept across an ICE restart until a new pair is selected. */
    bool have_prev;
    ice_base_t *prev_base;
    rtc_ice_pair_info_t prev_info;

    rtc_time_t now;
    rtc_time_t next_pace;
    rtc_time_t first_valid_at;
    uint32_t next_pair_id;
    unsigned prflx_counter;

    ice_event_t *events;
    size_t n_events, cap_events;
    bool dispatching;

    rtc_ice_stats_t stats;
};

/* agent.c */
void ice_emit(rtc_ice_agent_t *a, ice_event_kind_t kind, int value, const rtc_ice_candidate_t *c);
/* Delivers the queued events; every public entry point calls it just before returning. */
void ice_flush_events(rtc_ice_agent_t *a);
void ice_update_state(rtc_ice_agent_t *a, rtc_time_t now);
void ice_base_send(ice_base_t *b, const rtc_addr_t *dest, const uint8_t *p, size_t n);
ice_local_t *ice_add_local(rtc_ice_agent_t *a, ice_base_t *base, rtc_ice_candidate_type_t type,
                           const rtc_addr_t *addr, const rtc_addr_t *related,
                           const rtc_addr_t *server, uint32_t priority);
void ice_gather_done(rtc_ice_agent_t *a, const ice_txn_t *t, int result,
                     const rtc_stun_msg_t *resp);
void ice_pair_info(const rtc_ice_agent_t *a, const ice_pair_t *p, rtc_ice_pair_info_t *out);
ice_txn_t *ice_txn_new(rtc_ice_agent_t *a, ice_txn_kind_t kind, ice_base_t *base,
                       const uint8_t tid[RTC_STUN_TID_LEN]);
void ice_txn_free(rtc_ice_agent_t *a, ice_txn_t *t);

bool ice_has_gather_work(const rtc_ice_agent_t *a);
unsigned ice_local_preference(const ice_base_t *b, rtc_ice_relay_protocol_t proto);
void ice_compute_foundation(rtc_ice_candidate_type_t type, const ice_base_t *base,
                            const rtc_addr_t *server, char out[RTC_ICE_FOUNDATION_MAX + 1]);
void ice_pair_local_with_remotes(rtc_ice_agent_t *a, ice_local_t *l);
void ice_announce(rtc_ice_agent_t *a, ice_local_t *l);
void ice_check_gathering_complete(rtc_ice_agent_t *a);
int ice_process_datagram(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p,
                         size_t n, rtc_time_t now);
void ice_txns_send(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest);

/* relay.c: relayed candidates through the TURN client */
void ice_relays_setup(rtc_ice_agent_t *a);
bool ice_relays_pending(const rtc_ice_agent_t *a);
bool ice_relays_done(const rtc_ice_agent_t *a);
bool ice_relay_start_next(rtc_ice_agent_t *a, rtc_time_t now);
int ice_relay_input(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *from, const uint8_t *p, size_t n,
                    rtc_time_t now);
void ice_relay_send(ice_base_t *relay_base, const rtc_addr_t *dest, const uint8_t *p, size_t n);
void ice_relay_permit(ice_base_t *relay_base, const rtc_addr_t *peer);
void ice_relay_bind(ice_base_t *relay_base, const rtc_addr_t *peer);
rtc_time_t ice_relays_next_timeout(const rtc_ice_agent_t *a);
void ice_relays_handle_timeout(rtc_ice_agent_t *a, rtc_time_t now);
void ice_relays_release(rtc_ice_agent_t *a, rtc_time_t now);
void ice_relays_free(rtc_ice_agent_t *a);
ice_remote_t *ice_add_remote(rtc_ice_agent_t *a, const rtc_ice_candidate_t *c);
ice_local_t *ice_base_candidate(const rtc_ice_agent_t *a, const ice_base_t *b);

/* checklist.c */
void ice_pair_candidates(rtc_ice_agent_t *a, ice_local_t *l, ice_remote_t *r);
void ice_recompute_priorities(rtc_ice_agent_t *a);
bool ice_has_paced_work(const rtc_ice_agent_t *a);
bool ice_send_next_check(rtc_ice_agent_t *a, rtc_time_t now);
void ice_txn_done(void *user, void *txn_user, int result, const rtc_stun_msg_t *resp,
                  const rtc_addr_t *from, rtc_time_t rtt);
int ice_handle_request(rtc_ice_agent_t *a, ice_base_t *base, const rtc_addr_t *from,
                       const rtc_stun_msg_t *msg, int decode_rc, rtc_time_t now);
int ice_handle_response(rtc_ice_agent_t *a, ice_base_t *base, const rtc_addr_t *from,
                        const rtc_stun_msg_t *msg, rtc_time_t now);
ice_pair_t *ice_find_pair(const rtc_ice_agent_t *a, const ice_base_t *base, const rtc_addr_t *raddr);
void ice_update_selected(rtc_ice_agent_t *a, rtc_time_t now);
void ice_maybe_nominate(rtc_ice_agent_t *a, rtc_time_t now);
rtc_time_t ice_nomination_deadline(const rtc_ice_agent_t *a);
void ice_consent_tick(rtc_ice_agent_t *a, rtc_time_t now);
rtc_time_t ice_consent_next(const rtc_ice_agent_t *a);
void ice_free_pairs(rtc_ice_agent_t *a);
bool ice_checks_exhausted(const rtc_ice_agent_t *a);
bool ice_checks_settled(const rtc_ice_agent_t *a);
void ice_set_role(rtc_ice_agent_t *a, rtc_ice_role_t role);

#endif
