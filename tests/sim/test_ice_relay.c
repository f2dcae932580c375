/* Relayed ICE over the simulated network: the real TURN client (libwebrtc/src/turn) against
 * netsim's TURN server model. Both peers behind symmetric NATs connect through the relay;
 * relay-only policy; wrong TURN credentials; ICE restart keeps the allocation; determinism. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "netsim.h"
#include "rtc/ice.h"
#include "rtc/turn.h"

#define STUN_IP "198.51.100.1"
#define TURN_IP "198.51.100.2"
#define TURN_PORT 3478

typedef struct {
    netsim_t *sim;
    netsim_turn_t *turn;
    netsim_nat_t *nat[2];
    netsim_ice_peer_t *p[2];
} world_t;

static void cfg_make(rtc_ice_config_t *c, rtc_ice_role_t role, const char *turn_pass, bool relay_only) {
    rtc_ice_config_default(c);
    c->role = role;
    c->relay_only = relay_only;
    rtc_addr_t s, t;
    rtc_addr_parse(&s, STUN_IP, 3478);
    rtc_addr_parse(&t, TURN_IP, TURN_PORT);
    rtc_ice_config_add_server(c, RTC_ICE_SERVER_STUN, &s, RTC_ICE_RELAY_UDP, NULL, NULL);
    if (turn_pass) rtc_ice_config_add_server(c, RTC_ICE_SERVER_TURN, &t, RTC_ICE_RELAY_UDP, "alice", turn_pass);
}

/* Both peers behind NATs with the given mapping/filtering. */
static void world_make(world_t *w, uint64_t seed, netsim_mapping_t m, netsim_filtering_t f,
                       const char *turn_pass, bool relay_only) {
    memset(w, 0, sizeof *w);
    w->sim = netsim_create(seed, RTC_SEC(100));
    netsim_install_random(w->sim);
    netsim_stun_server(w->sim, STUN_IP, 3478);
    w->turn = netsim_turn_server(w->sim, TURN_IP, TURN_PORT, "alice", "secret");
    ck_assert_ptr_nonnull(w->turn);
    for (int i = 0; i < 2; i++) {
        char pub[32], ip[32];
        snprintf(pub, sizeof pub, "203.0.113.%d", i + 1);
        snprintf(ip, sizeof ip, "192.168.%d.10", i + 1);
        w->nat[i] = netsim_add_nat(w->sim, pub, m, f, 0);
        rtc_ice_config_t c;
        cfg_make(&c, i ? RTC_ICE_ROLE_CONTROLLED : RTC_ICE_ROLE_CONTROLLING, turn_pass, relay_only);
        const char *ips[1] = {ip};
        w->p[i] = netsim_ice_peer_create(w->sim, i ? "B" : "A", &c, w->nat[i], ips, 1);
        ck_assert_ptr_nonnull(w->p[i]);
    }
    netsim_ice_link(w->p[0], w->p[1], RTC_MS(50));
}

static void world_free(world_t *w) {
    netsim_ice_peer_destroy(w->p[0]);
    netsim_ice_peer_destroy(w->p[1]);
    netsim_turn_free(w->turn);
    netsim_destroy(w->sim);
}

static void exchange_data(world_t *w, int rounds) {
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 2; i++) {
            uint64_t before = w->p[1 - i]->data_packets;
            char msg[32];
            int n = snprintf(msg, sizeof msg, "\x80relay %d/%d", r, i);
            ck_assert_int_eq(netsim_ice_send(w->p[i], msg, (size_t)n), RTC_OK);
            netsim_run_until(w->sim, netsim_now(w->sim) + RTC_MS(500), NULL, NULL);
            ck_assert_uint_eq(w->p[1 - i]->data_packets, before + 1);
            ck_assert(memcmp(w->p[1 - i]->last_data, msg, (size_t)n) == 0);
        }
    }
}

START_TEST(symmetric_nats_on_both_sides_connect_through_turn) {
    world_t w;
    world_make(&w, 1, NETSIM_APDM, NETSIM_APDF, "secret", false);
    netsim_ice_start(w.p[0], w.p[1]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_connected, w.p));
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_completed, w.p));
    rtc_ice_pair_info_t a, b;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w.p[0]->agent, &a), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w.p[1]->agent, &b), RTC_OK);
    /* No direct path exists: at least one end of the pair is a relayed candidate, and each
     * side sends to what the other sees as its own local candidate. */
    ck_assert(a.local.type == RTC_ICE_CANDIDATE_RELAY || a.remote.type == RTC_ICE_CANDIDATE_RELAY);
    ck_assert(rtc_addr_equal(&a.remote.addr, &b.local.addr));
    ck_assert(rtc_addr_equal(&b.remote.addr, &a.local.addr));
    bool a_rel = a.local.type == RTC_ICE_CANDIDATE_RELAY;
    ck_assert_str_eq(rtc_addr_str(a_rel ? &a.local.addr : &a.remote.addr), rtc_addr_str(a_rel ? &a.local.addr : &b.local.addr));
    uint64_t relayed_before = netsim_turn_stats(w.turn)->relayed_to_peer + netsim_turn_stats(w.turn)->relayed_to_client;
    uint64_t ind_before = netsim_turn_stats(w.turn)->send_indications_from_client;
    uint64_t chan_before = netsim_turn_stats(w.turn)->channel_data_from_client;
    exchange_data(&w, 5);
    /* With a channel bound on the selected relayed pair, data leaves as ChannelData, never as
     * Send indications. */
    ck_assert_uint_ge(netsim_turn_stats(w.turn)->channel_data_from_client, chan_before + 5);
    ck_assert_uint_eq(netsim_turn_stats(w.turn)->send_indications_from_client, ind_before);
    const netsim_turn_stats_t *ts = netsim_turn_stats(w.turn);
    ck_assert_uint_ge(ts->allocations, 2);
    ck_assert_uint_ge(ts->relayed_to_peer + ts->relayed_to_client, relayed_before + 10);
    ck_assert_uint_ge(ts->channels, 1); /* the selected relayed pair got a channel */
    ck_assert_uint_eq(ts->auth_failures, 0);
    world_free(&w);
}
END_TEST

START_TEST(relay_only_policy_uses_only_relayed_candidates) {
    world_t w;
    world_make(&w, 2, NETSIM_EIM, NETSIM_EIF, "secret", true);
    netsim_ice_start(w.p[0], w.p[1]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(30), netsim_ice_both_completed, w.p));
    for (int i = 0; i < 2; i++) {
        rtc_ice_candidate_t c[8];
        size_t n = rtc_ice_agent_local_candidates(w.p[i]->agent, c, 8);
        ck_assert_uint_ge(n, 1);
        for (size_t k = 0; k < n && k < 8; k++) ck_assert_int_eq(c[k].type, RTC_ICE_CANDIDATE_RELAY);
        rtc_ice_pair_info_t s;
        ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w.p[i]->agent, &s), RTC_OK);
        ck_assert_int_eq(s.local.type, RTC_ICE_CANDIDATE_RELAY);
        ck_assert_int_eq(s.remote.type, RTC_ICE_CANDIDATE_RELAY);
        ck_assert_int_eq(s.local.relay_protocol, RTC_ICE_RELAY_UDP);
    }
    exchange_data(&w, 3);
    world_free(&w);
}
END_TEST

START_TEST(wrong_turn_password_gives_no_relay_and_gathering_still_completes) {
    world_t w;
    world_make(&w, 3, NETSIM_APDM, NETSIM_APDF, "wrong-password", false);
    netsim_ice_start(w.p[0], w.p[1]);
    netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(20), NULL, NULL);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(w.p[i]->gathering, RTC_ICE_GATHERING_COMPLETE);
        rtc_ice_candidate_t c[8];
        size_t n = rtc_ice_agent_local_candidates(w.p[i]->agent, c, 8);
        for (size_t k = 0; k < n && k < 8; k++) ck_assert_int_ne(c[k].type, RTC_ICE_CANDIDATE_RELAY);
    }
    ck_assert_uint_gt(netsim_turn_stats(w.turn)->auth_failures, 0);
    ck_assert_uint_eq(netsim_turn_stats(w.turn)->allocations, 0);
    /* Symmetric NATs and no relay: ICE fails. */
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_failed, w.p));
    world_free(&w);
}
END_TEST

START_TEST(restart_over_relay_reuses_the_allocation) {
    world_t w;
    world_make(&w, 4, NETSIM_APDM, NETSIM_APDF, "secret", false);
    netsim_ice_start(w.p[0], w.p[1]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_completed, w.p));
    uint64_t allocs = netsim_turn_stats(w.turn)->allocations;
    uint32_t pair = w.p[0]->selected.id;
    netsim_ice_restart(w.p[0]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_completed, w.p));
    ck_assert_uint_ne(w.p[0]->selected.id, pair);
    ck_assert_uint_eq(netsim_turn_stats(w.turn)->allocations, allocs);
    exchange_data(&w, 2);
    world_free(&w);
}
END_TEST

START_TEST(allocation_survives_long_calls_through_refreshes) {
    world_t w;
    world_make(&w, 5, NETSIM_APDM, NETSIM_APDF, "secret", false);
    netsim_ice_start(w.p[0], w.p[1]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_completed, w.p));
    /* 25 minutes: past the 10-minute allocation and 5-minute permission lifetimes. */
    netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(25 * 60), NULL, NULL);
    ck_assert_int_eq(w.p[0]->state, RTC_ICE_STATE_COMPLETED);
    ck_assert_int_eq(w.p[1]->state, RTC_ICE_STATE_COMPLETED);
    exchange_data(&w, 2);
    world_free(&w);
}
END_TEST

static uint64_t relay_run(uint64_t seed) {
    world_t w;
    world_make(&w, seed, NETSIM_APDM, NETSIM_APDF, "secret", false);
    netsim_link_t link = {.delay = RTC_MS(30), .jitter = RTC_MS(20), .loss = 0.05};
    netsim_set_link(w.sim, &link);
    netsim_ice_start(w.p[0], w.p[1]);
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_connected, w.p));
    netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(10), NULL, NULL);
    uint64_t h = netsim_trace_hash(w.sim);
    world_free(&w);
    return h;
}

START_TEST(relayed_runs_are_deterministic) {
    ck_assert_uint_eq(relay_run(77), relay_run(77));
    ck_assert_uint_ne(relay_run(77), relay_run(78));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_relay");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, symmetric_nats_on_both_sides_connect_through_turn);
    tcase_add_test(tc, relay_only_policy_uses_only_relayed_candidates);
    tcase_add_test(tc, wrong_turn_password_gives_no_relay_and_gathering_still_completes);
    tcase_add_test(tc, restart_over_relay_reuses_the_allocation);
    tcase_add_test(tc, allocation_survives_long_calls_through_refreshes);
    tcase_add_test(tc, relayed_runs_are_deterministic);
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
