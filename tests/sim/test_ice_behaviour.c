/* ICE agent behaviour over the simulated network: role conflicts both ways, regular and
 * aggressive nomination, ICE restart, consent freshness (loss and recovery), keepalives,
 * ICE-lite, pacing, trickle and non-trickle signalling. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "netsim.h"
#include "rtc/ice.h"
#include "rtc/stun.h"

#define STUN_IP "198.51.100.1"

/* ---- a packet tap that decodes STUN ----------------------------------------------------- */
typedef struct {
    rtc_addr_t who;            /* count only packets sent from this address (port 0: any) */
    unsigned requests, use_candidate, indications, responses, data;
    unsigned controlling_requests, controlled_requests;
    rtc_time_t first_request_times[256];
    uint8_t tids[256][12];
    unsigned n_new;            /* distinct transactions (first transmissions) */
    rtc_time_t min_gap;        /* smallest gap between two new transactions */
} tap_t;

static void tap_fn(void *user, rtc_time_t now, const rtc_addr_t *src, const rtc_addr_t *dst,
                   const uint8_t *p, size_t n) {
    tap_t *t = user;
    (void)dst;
    if (t->who.family && !rtc_addr_equal_ip(&t->who, src)) return;
    rtc_stun_msg_t m;
    if (!rtc_stun_is_message(p, n) || rtc_stun_msg_decode(&m, p, n) < 0) {
        t->data++;
        return;
    }
    if (m.cls == RTC_STUN_INDICATION) { t->indications++; return; }
    if (m.cls != RTC_STUN_REQUEST) { t->responses++; return; }
    t->requests++;
    if (rtc_stun_msg_has(&m, RTC_STUN_ATTR_USE_CANDIDATE)) t->use_candidate++;
    if (rtc_stun_msg_has(&m, RTC_STUN_ATTR_ICE_CONTROLLING)) t->controlling_requests++;
    if (rtc_stun_msg_has(&m, RTC_STUN_ATTR_ICE_CONTROLLED)) t->controlled_requests++;
    for (unsigned i = 0; i < t->n_new && i < 256; i++)
        if (memcmp(t->tids[i], m.tid, 12) == 0) return; /* a retransmission */
    if (t->n_new < 256) {
        memcpy(t->tids[t->n_new], m.tid, 12);
        t->first_request_times[t->n_new] = now;
        if (t->n_new > 0) {
            rtc_time_t gap = now - t->first_request_times[t->n_new - 1];
            if (t->min_gap == 0 || gap < t->min_gap) t->min_gap = gap;
        }
    }
    t->n_new++;
}

/* ---- two public peers ------------------------------------------------------------------- */
typedef struct {
    netsim_t *sim;
    netsim_ice_peer_t *p[2];
    tap_t tap;
} duo_t;

static void duo_make(duo_t *d, uint64_t seed, const rtc_ice_config_t *ca, const rtc_ice_config_t *cb) {
    memset(d, 0, sizeof *d);
    d->sim = netsim_create(seed, RTC_SEC(500));
    netsim_install_random(d->sim);
    netsim_set_tap(d->sim, tap_fn, &d->tap);
    const char *ipa[1] = {"198.51.100.10"}, *ipb[1] = {"198.51.100.11"};
    d->p[0] = netsim_ice_peer_create(d->sim, "A", ca, NULL, ipa, 1);
    d->p[1] = netsim_ice_peer_create(d->sim, "B", cb, NULL, ipb, 1);
    ck_assert_ptr_nonnull(d->p[0]);
    ck_assert_ptr_nonnull(d->p[1]);
    netsim_ice_link(d->p[0], d->p[1], RTC_MS(40));
}

static void duo_free(duo_t *d) {
    netsim_ice_peer_destroy(d->p[0]);
    netsim_ice_peer_destroy(d->p[1]);
    netsim_destroy(d->sim);
}

static bool duo_connect(duo_t *d, rtc_time_t limit) {
    netsim_ice_start(d->p[0], d->p[1]);
    return netsim_run_until(d->sim, netsim_now(d->sim) + limit, netsim_ice_both_connected, d->p);
}

static void run_for(duo_t *d, rtc_time_t dt) { netsim_run_until(d->sim, netsim_now(d->sim) + dt, NULL, NULL); }

static void cfg_role(rtc_ice_config_t *c, rtc_ice_role_t role, uint64_t tie) {
    rtc_ice_config_default(c);
    c->role = role;
    c->tie_breaker = tie;
}

static void assert_mirror(duo_t *d) {
    rtc_ice_pair_info_t a, b;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(d->p[0]->agent, &a), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(d->p[1]->agent, &b), RTC_OK);
    ck_assert(rtc_addr_equal(&a.remote.addr, &b.local.addr));
    ck_assert(rtc_addr_equal(&b.remote.addr, &a.local.addr));
}

static void assert_data_both_ways(duo_t *d) {
    for (int i = 0; i < 2; i++) {
        uint64_t before = d->p[1 - i]->data_packets;
        ck_assert_int_eq(netsim_ice_send(d->p[i], "\x80x", 2), RTC_OK);
        run_for(d, RTC_MS(500));
        ck_assert_uint_eq(d->p[1 - i]->data_packets, before + 1);
    }
}

/* ---- role conflicts (RFC 8445 §7.3.1.1, §7.2.5.1) ---------------------------------------- */
static void role_conflict_case(rtc_ice_role_t both, uint64_t tie_a, uint64_t tie_b, int expect_controlling) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, both, tie_a);
    cfg_role(&cb, both, tie_b);
    duo_t d;
    duo_make(&d, 3 + tie_a, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    ck_assert_int_eq(rtc_ice_agent_role(d.p[expect_controlling]->agent), RTC_ICE_ROLE_CONTROLLING);
    ck_assert_int_eq(rtc_ice_agent_role(d.p[1 - expect_controlling]->agent), RTC_ICE_ROLE_CONTROLLED);
    rtc_ice_stats_t sa, sb;
    rtc_ice_agent_get_stats(d.p[0]->agent, &sa);
    rtc_ice_agent_get_stats(d.p[1]->agent, &sb);
    ck_assert_uint_gt(sa.role_conflicts + sb.role_conflicts, 0);
    assert_mirror(&d);
    assert_data_both_ways(&d);
    duo_free(&d);
}

START_TEST(role_conflict_both_controlling_higher_tie_breaker_keeps_control) {
    role_conflict_case(RTC_ICE_ROLE_CONTROLLING, 1000, 10, 0);
    role_conflict_case(RTC_ICE_ROLE_CONTROLLING, 10, 1000, 1);
}
END_TEST

START_TEST(role_conflict_both_controlled_higher_tie_breaker_takes_control) {
    role_conflict_case(RTC_ICE_ROLE_CONTROLLED, 1000, 10, 0);
    role_conflict_case(RTC_ICE_ROLE_CONTROLLED, 10, 1000, 1);
}
END_TEST

/* ---- nomination ---------------------------------------------------------------------------- */
START_TEST(regular_nomination_one_use_candidate_check_after_validation) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 5, &ca, &cb);
    rtc_addr_parse_ip(&d.tap.who, "198.51.100.10", 0); /* A, the controlling agent */
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    /* The first check validates the pair without nominating; one more check nominates. */
    ck_assert_uint_ge(d.tap.controlling_requests, 2);
    ck_assert_uint_eq(d.tap.use_candidate, 1);
    rtc_ice_pair_info_t a;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(d.p[1]->agent, &a), RTC_OK);
    ck_assert(a.nominated);
    assert_mirror(&d);
    duo_free(&d);
}
END_TEST

START_TEST(aggressive_nomination_every_check_carries_use_candidate) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    ca.nomination = RTC_ICE_NOMINATION_AGGRESSIVE;
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 6, &ca, &cb);
    rtc_addr_parse_ip(&d.tap.who, "198.51.100.10", 0);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    rtc_ice_stats_t st;
    rtc_ice_agent_get_stats(d.p[0]->agent, &st);
    /* Every connectivity check (consent checks excluded: none yet) nominates. */
    unsigned consent = 0;
    ck_assert_uint_eq(d.tap.use_candidate + consent, d.tap.controlling_requests);
    ck_assert_uint_ge(d.tap.use_candidate, 1);
    rtc_ice_pair_info_t b;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(d.p[1]->agent, &b), RTC_OK);
    ck_assert(b.nominated);
    assert_mirror(&d);
    assert_data_both_ways(&d);
    duo_free(&d);
}
END_TEST

START_TEST(aggressive_nomination_switches_to_higher_priority_pair) {
    /* A has two addresses; the better one (first socket: higher local preference) is slow to
     * answer because its first checks are lost, so a lower pair is nominated first and the
     * better one replaces it when it succeeds. */
    netsim_t *sim = netsim_create(8, 0);
    netsim_install_random(sim);
    rtc_ice_config_t c;
    cfg_role(&c, RTC_ICE_ROLE_CONTROLLING, 0);
    c.nomination = RTC_ICE_NOMINATION_AGGRESSIVE;
    const char *ipa[2] = {"198.51.100.10", "198.51.100.20"}, *ipb[1] = {"198.51.100.11"};
    netsim_ice_peer_t *p[2];
    p[0] = netsim_ice_peer_create(sim, "A", &c, NULL, ipa, 2);
    c.role = RTC_ICE_ROLE_CONTROLLED;
    p[1] = netsim_ice_peer_create(sim, "B", &c, NULL, ipb, 1);
    netsim_ice_link(p[0], p[1], RTC_MS(40));
    netsim_set_blackhole(sim, NULL, "198.51.100.10", true);
    netsim_ice_start(p[0], p[1]);
    ck_assert(netsim_run_until(sim, netsim_now(sim) + RTC_SEC(10), netsim_ice_both_connected, p));
    ck_assert_str_eq(rtc_addr_str(&p[0]->selected.local.addr), rtc_addr_str(netsim_socket_addr(p[0]->socks[1])));
    netsim_set_blackhole(sim, NULL, "198.51.100.10", false);
    /* Retransmissions of the better pair's checks now get through. */
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(20), NULL, NULL);
    rtc_ice_pair_info_t a, b;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(p[0]->agent, &a), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(p[1]->agent, &b), RTC_OK);
    ck_assert_str_eq(rtc_addr_str(&a.local.addr), rtc_addr_str(netsim_socket_addr(p[0]->socks[0])));
    ck_assert(a.nominated && b.nominated);
    ck_assert(rtc_addr_equal(&b.remote.addr, &a.local.addr));
    ck_assert_uint_ge(p[1]->selected_changes, 2);
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
}
END_TEST

/* ---- pacing ---------------------------------------------------------------------------------- */
START_TEST(new_transactions_are_paced_by_ta) {
    /* A has four addresses and B four: sixteen pairs, checked no faster than Ta = 50 ms. */
    netsim_t *sim = netsim_create(9, 0);
    netsim_install_random(sim);
    tap_t tap;
    memset(&tap, 0, sizeof tap);
    netsim_set_tap(sim, tap_fn, &tap);
    rtc_addr_parse_ip(&tap.who, "10.0.0.1", 0);
    rtc_ice_config_t c;
    cfg_role(&c, RTC_ICE_ROLE_CONTROLLING, 0);
    c.ta = RTC_MS(50);
    const char *ipa[4] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    const char *ipb[4] = {"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"};
    netsim_ice_peer_t *p[2];
    p[0] = netsim_ice_peer_create(sim, "A", &c, NULL, ipa, 4);
    c.role = RTC_ICE_ROLE_CONTROLLED;
    p[1] = netsim_ice_peer_create(sim, "B", &c, NULL, ipb, 4);
    /* B's addresses are unreachable: every check of A's goes unanswered and A paces them. */
    for (int i = 0; i < 4; i++) netsim_set_blackhole(sim, NULL, ipb[i], true);
    netsim_ice_link(p[0], p[1], RTC_MS(10));
    netsim_ice_start(p[0], p[1]);
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(3), NULL, NULL);
    ck_assert_uint_ge(tap.n_new, 4); /* only 10.0.0.1's own checks are counted */
    ck_assert_uint_eq(rtc_ice_agent_get_pairs(p[0]->agent, NULL, 0), 16);
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
    /* Now all of A's sockets: the gaps between new transactions are never below Ta. */
    sim = netsim_create(9, 0);
    netsim_install_random(sim);
    memset(&tap, 0, sizeof tap);
    netsim_set_tap(sim, tap_fn, &tap);
    c.role = RTC_ICE_ROLE_CONTROLLING;
    p[0] = netsim_ice_peer_create(sim, "A", &c, NULL, ipa, 4);
    c.role = RTC_ICE_ROLE_CONTROLLED;
    p[1] = netsim_ice_peer_create(sim, "B", &c, NULL, ipb, 4);
    for (int i = 0; i < 4; i++) netsim_set_blackhole(sim, NULL, ipb[i], true);
    netsim_ice_link(p[0], p[1], RTC_MS(10));
    rtc_ice_agent_gather(p[0]->agent, netsim_now(sim)); /* only A runs: B's sends are not tapped */
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(3), NULL, NULL);
    ck_assert_uint_eq(tap.n_new, 16);
    ck_assert_int_ge(tap.min_gap, RTC_MS(50));
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
}
END_TEST

/* ---- ICE restart ----------------------------------------------------------------------------- */
START_TEST(ice_restart_new_credentials_new_pair_data_keeps_flowing) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 12, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    char old_a[64], old_b[64];
    snprintf(old_a, sizeof old_a, "%s", rtc_ice_agent_local_ufrag(d.p[0]->agent));
    snprintf(old_b, sizeof old_b, "%s", rtc_ice_agent_local_ufrag(d.p[1]->agent));
    uint32_t old_pair = d.p[0]->selected.id;
    unsigned changes = d.p[0]->selected_changes;

    netsim_ice_restart(d.p[0]);
    ck_assert_str_ne(rtc_ice_agent_local_ufrag(d.p[0]->agent), old_a);
    /* Data still goes out on the old path right after the restart. */
    uint64_t before = d.p[1]->data_packets;
    ck_assert_int_eq(netsim_ice_send(d.p[0], "\x80" "during", 7), RTC_OK);
    ck_assert(rtc_ice_agent_state(d.p[0]->agent) == RTC_ICE_STATE_CONNECTED);
    run_for(&d, RTC_MS(100));
    ck_assert_uint_eq(d.p[1]->data_packets, before + 1);
    /* The peer restarts too on seeing new credentials; both complete again on a new pair. */
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    ck_assert_str_ne(rtc_ice_agent_local_ufrag(d.p[1]->agent), old_b);
    ck_assert_uint_gt(d.p[0]->selected_changes, changes);
    ck_assert_uint_ne(d.p[0]->selected.id, old_pair);
    assert_mirror(&d);
    assert_data_both_ways(&d);
    /* Checks with the old credentials are now refused. */
    rtc_ice_stats_t st;
    rtc_ice_agent_get_stats(d.p[0]->agent, &st);
    ck_assert_uint_eq(rtc_ice_agent_gathering_state(d.p[0]->agent), RTC_ICE_GATHERING_COMPLETE);
    duo_free(&d);
}
END_TEST

/* ---- consent freshness (RFC 7675) --------------------------------------------------------------- */
START_TEST(consent_lost_disconnected_then_failed_after_30s_and_sending_stops) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 13, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    run_for(&d, RTC_SEC(20)); /* a few consent rounds while all is well */
    ck_assert_int_eq(d.p[0]->state, RTC_ICE_STATE_COMPLETED);
    ck_assert(!netsim_ice_saw_state(d.p[0], RTC_ICE_STATE_DISCONNECTED));
    rtc_time_t cut = netsim_now(d.sim);
    netsim_set_blackhole(d.sim, NULL, "198.51.100.11", true);
    ck_assert(netsim_run_until(d.sim, cut + RTC_SEC(40), netsim_ice_both_failed, d.p));
    ck_assert(netsim_ice_saw_state(d.p[0], RTC_ICE_STATE_DISCONNECTED));
    ck_assert(netsim_ice_saw_state(d.p[1], RTC_ICE_STATE_DISCONNECTED));
    /* Consent was last refreshed at most one interval (6 s) before the cut: failure comes
     * 30 s after that refresh. */
    rtc_time_t t = netsim_now(d.sim) - cut;
    ck_assert_int_ge(t, RTC_SEC(24));
    ck_assert_int_le(t, RTC_SEC(31));
    ck_assert_int_eq(netsim_ice_send(d.p[0], "\x80late", 5), RTC_ERR_STATE);
    ck_assert_int_eq(netsim_ice_send(d.p[1], "\x80late", 5), RTC_ERR_STATE);
    duo_free(&d);
}
END_TEST

START_TEST(consent_recovers_after_a_short_outage) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 14, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    run_for(&d, RTC_SEC(10));
    netsim_set_blackhole(d.sim, NULL, "198.51.100.11", true);
    run_for(&d, RTC_SEC(15));
    ck_assert_int_eq(d.p[0]->state, RTC_ICE_STATE_DISCONNECTED);
    netsim_set_blackhole(d.sim, NULL, "198.51.100.11", false);
    /* Checks go out every second while disconnected: recovery within a couple of seconds. */
    run_for(&d, RTC_SEC(3));
    ck_assert(d.p[0]->state == RTC_ICE_STATE_COMPLETED || d.p[0]->state == RTC_ICE_STATE_CONNECTED);
    ck_assert(d.p[1]->state == RTC_ICE_STATE_COMPLETED || d.p[1]->state == RTC_ICE_STATE_CONNECTED);
    ck_assert(!netsim_ice_saw_state(d.p[0], RTC_ICE_STATE_FAILED));
    assert_data_both_ways(&d);
    duo_free(&d);
}
END_TEST

START_TEST(consent_checks_every_4_to_6_seconds) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 15, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    run_for(&d, RTC_SEC(5));
    rtc_addr_parse_ip(&d.tap.who, "198.51.100.10", 0);
    d.tap.requests = 0;
    run_for(&d, RTC_SEC(60));
    /* 60 s / [4, 6] s */
    ck_assert_uint_ge(d.tap.requests, 10);
    ck_assert_uint_le(d.tap.requests, 15);
    ck_assert_int_eq(d.p[0]->state, RTC_ICE_STATE_COMPLETED);
    duo_free(&d);
}
END_TEST

START_TEST(keepalive_indications_when_consent_checks_are_off) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    ca.consent_interval = 0;
    ca.keepalive_interval = RTC_SEC(15);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    cb.consent_interval = 0;
    duo_t d;
    duo_make(&d, 16, &ca, &cb);
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    rtc_addr_parse_ip(&d.tap.who, "198.51.100.10", 0);
    d.tap.indications = d.tap.requests = 0;
    run_for(&d, RTC_SEC(61));
    ck_assert_uint_eq(d.tap.requests, 0);
    ck_assert_uint_ge(d.tap.indications, 4);
    ck_assert_uint_le(d.tap.indications, 5);
    /* Data counts as traffic: while A sends every 5 s, no keepalive is needed. */
    d.tap.indications = 0;
    for (int i = 0; i < 12; i++) {
        netsim_ice_send(d.p[0], "\x80k", 2);
        run_for(&d, RTC_SEC(5));
    }
    ck_assert_uint_eq(d.tap.indications, 0);
    duo_free(&d);
}
END_TEST

/* ---- ICE-lite ------------------------------------------------------------------------------- */
START_TEST(full_agent_behind_nat_connects_to_lite_server) {
    netsim_t *sim = netsim_create(17, 0);
    netsim_install_random(sim);
    tap_t tap;
    memset(&tap, 0, sizeof tap);
    netsim_set_tap(sim, tap_fn, &tap);
    rtc_addr_parse_ip(&tap.who, "198.51.100.50", 0); /* the server */
    netsim_stun_server(sim, STUN_IP, 3478);
    netsim_nat_t *nat = netsim_add_nat(sim, "203.0.113.1", NETSIM_EIM, NETSIM_APDF, 0);
    rtc_ice_config_t client, server;
    rtc_ice_config_default(&client);
    client.role = RTC_ICE_ROLE_CONTROLLED; /* corrected by set_remote_lite */
    rtc_addr_t stun;
    rtc_addr_parse(&stun, STUN_IP, 3478);
    rtc_ice_config_add_server(&client, RTC_ICE_SERVER_STUN, &stun, RTC_ICE_RELAY_UDP, NULL, NULL);
    rtc_ice_config_default(&server);
    server.lite = true;
    const char *ipc[1] = {"192.168.1.10"}, *ips[1] = {"198.51.100.50"};
    netsim_ice_peer_t *p[2];
    p[0] = netsim_ice_peer_create(sim, "client", &client, nat, ipc, 1);
    p[1] = netsim_ice_peer_create(sim, "server", &server, NULL, ips, 1);
    rtc_ice_agent_set_remote_lite(p[0]->agent, true);
    ck_assert_int_eq(rtc_ice_agent_role(p[0]->agent), RTC_ICE_ROLE_CONTROLLING);
    ck_assert_int_eq(rtc_ice_agent_role(p[1]->agent), RTC_ICE_ROLE_CONTROLLED);
    netsim_ice_link(p[0], p[1], RTC_MS(30));
    netsim_ice_start(p[0], p[1]);
    ck_assert(netsim_run_until(sim, netsim_now(sim) + RTC_SEC(10), netsim_ice_both_completed, p));
    /* The lite server never sends a check; it answered and learned the client's mapping. */
    ck_assert_uint_eq(tap.requests, 0);
    ck_assert_uint_gt(tap.responses, 0);
    /* The client's check comes from its NAT mapping, which it signalled as srflx. */
    ck_assert_int_eq(p[1]->selected.remote.type, RTC_ICE_CANDIDATE_SRFLX);
    ck_assert_str_eq(rtc_addr_str(&p[1]->selected.remote.addr), rtc_addr_str(&p[0]->selected.local.addr));
    p[1]->echo = true;
    ck_assert_int_eq(netsim_ice_send(p[0], "\x80ping", 5), RTC_OK);
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(1), NULL, NULL);
    ck_assert_uint_eq(p[1]->data_packets, 1);
    ck_assert_uint_eq(p[0]->data_packets, 1);
    /* The lite server judges freshness by the client's consent checks: cut the client off and
     * the server fails after 30 s. */
    netsim_set_blackhole(sim, nat, "192.168.1.10", true);
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(40), netsim_ice_both_failed, p);
    ck_assert_int_eq(p[1]->state, RTC_ICE_STATE_FAILED);
    ck_assert(netsim_ice_saw_state(p[1], RTC_ICE_STATE_DISCONNECTED));
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
}
END_TEST

/* ---- signalling styles ------------------------------------------------------------------------- */
START_TEST(non_trickle_all_candidates_at_once_connects) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 18, &ca, &cb);
    d.p[0]->trickle = d.p[1]->trickle = false;
    ck_assert(duo_connect(&d, RTC_SEC(10)));
    ck_assert(netsim_run_until(d.sim, netsim_now(d.sim) + RTC_SEC(10), netsim_ice_both_completed, d.p));
    assert_data_both_ways(&d);
    duo_free(&d);
}
END_TEST

START_TEST(no_remote_candidates_and_end_of_candidates_fails) {
    rtc_ice_config_t ca, cb;
    cfg_role(&ca, RTC_ICE_ROLE_CONTROLLING, 0);
    cfg_role(&cb, RTC_ICE_ROLE_CONTROLLED, 0);
    duo_t d;
    duo_make(&d, 19, &ca, &cb);
    /* B never gathers: it only sends end-of-candidates. */
    rtc_ice_agent_gather(d.p[0]->agent, netsim_now(d.sim));
    rtc_ice_agent_end_of_remote_candidates(d.p[0]->agent, netsim_now(d.sim));
    run_for(&d, RTC_SEC(1));
    ck_assert_int_eq(d.p[0]->state, RTC_ICE_STATE_FAILED);
    duo_free(&d);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_behaviour");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, role_conflict_both_controlling_higher_tie_breaker_keeps_control);
    tcase_add_test(tc, role_conflict_both_controlled_higher_tie_breaker_takes_control);
    tcase_add_test(tc, regular_nomination_one_use_candidate_check_after_validation);
    tcase_add_test(tc, aggressive_nomination_every_check_carries_use_candidate);
    tcase_add_test(tc, aggressive_nomination_switches_to_higher_priority_pair);
    tcase_add_test(tc, new_transactions_are_paced_by_ta);
    tcase_add_test(tc, ice_restart_new_credentials_new_pair_data_keeps_flowing);
    tcase_add_test(tc, consent_lost_disconnected_then_failed_after_30s_and_sending_stops);
    tcase_add_test(tc, consent_recovers_after_a_short_outage);
    tcase_add_test(tc, consent_checks_every_4_to_6_seconds);
    tcase_add_test(tc, keepalive_indications_when_consent_checks_are_off);
    tcase_add_test(tc, full_agent_behind_nat_connects_to_lite_server);
    tcase_add_test(tc, non_trickle_all_candidates_at_once_connects);
    tcase_add_test(tc, no_remote_candidates_and_end_of_candidates_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rtc_log_set_level(RTC_LOG_WARN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
