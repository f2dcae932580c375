/* ICE over the simulated network: direct connectivity through every combination of RFC 4787
 * NAT behaviours, peer-reflexive learning, determinism of runs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "netsim.h"
#include "rtc/ice.h"

#define STUN_IP "198.51.100.1"
#define STUN_PORT 3478

typedef struct {
    bool natted;
    netsim_mapping_t m;
    netsim_filtering_t f;
} side_t;

typedef struct {
    netsim_t *sim;
    netsim_nat_t *nat[2];
    netsim_ice_peer_t *p[2];
} world_t;

static void base_config(rtc_ice_config_t *cfg, rtc_ice_role_t role, bool stun) {
    rtc_ice_config_default(cfg);
    cfg->role = role;
    if (stun) {
        rtc_addr_t s;
        rtc_addr_parse(&s, STUN_IP, STUN_PORT);
        rtc_ice_config_add_server(cfg, RTC_ICE_SERVER_STUN, &s, RTC_ICE_RELAY_UDP, NULL, NULL);
    }
}

/* Two peers; side i is behind a NAT when sides[i].natted, with inside address 192.168.(i+1).10
 * and public address 203.0.113.(i+1); otherwise it has public address 198.51.100.(i+10). */
static void world_make(world_t *w, uint64_t seed, const side_t sides[2], const rtc_ice_config_t cfgs[2]) {
    memset(w, 0, sizeof *w);
    w->sim = netsim_create(seed, RTC_SEC(1000));
    netsim_install_random(w->sim);
    netsim_stun_server(w->sim, STUN_IP, STUN_PORT);
    static const char *names[2] = {"A", "B"};
    for (int i = 0; i < 2; i++) {
        char ip[32], pub[32];
        if (sides[i].natted) {
            snprintf(pub, sizeof pub, "203.0.113.%d", i + 1);
            w->nat[i] = netsim_add_nat(w->sim, pub, sides[i].m, sides[i].f, 0);
            snprintf(ip, sizeof ip, "192.168.%d.10", i + 1);
        } else {
            snprintf(ip, sizeof ip, "198.51.100.%d", i + 10);
        }
        const char *ips[1] = {ip};
        w->p[i] = netsim_ice_peer_create(w->sim, names[i], &cfgs[i], w->nat[i], ips, 1);
        ck_assert_ptr_nonnull(w->p[i]);
    }
    netsim_ice_link(w->p[0], w->p[1], RTC_MS(50));
}

static void world_free(world_t *w) {
    netsim_ice_peer_destroy(w->p[0]);
    netsim_ice_peer_destroy(w->p[1]);
    netsim_destroy(w->sim);
}

static bool run_until_connected(world_t *w, rtc_time_t limit) {
    netsim_ice_start(w->p[0], w->p[1]);
    return netsim_run_until(w->sim, netsim_now(w->sim) + limit, netsim_ice_both_connected, w->p);
}

/* Sends a datagram each way on the selected pair and checks it arrives intact. */
static void assert_data_flows(world_t *w) {
    for (int i = 0; i < 2; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "\x80hello from %s", w->p[i]->name);
        uint64_t before = w->p[1 - i]->data_packets;
        ck_assert_int_eq(netsim_ice_send(w->p[i], msg, strlen(msg)), RTC_OK);
        netsim_run_until(w->sim, netsim_now(w->sim) + RTC_SEC(2), NULL, NULL);
        ck_assert_uint_gt(w->p[1 - i]->data_packets, before);
        ck_assert_uint_eq(w->p[1 - i]->last_data_len, strlen(msg));
        ck_assert(memcmp(w->p[1 - i]->last_data, msg, strlen(msg)) == 0);
    }
}

/* Both peers agree on the pair: each one's remote address is the other's local address. */
static void assert_pairs_mirror(world_t *w) {
    rtc_ice_pair_info_t a, b;
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w->p[0]->agent, &a), RTC_OK);
    ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w->p[1]->agent, &b), RTC_OK);
    ck_assert_msg(rtc_addr_equal(&a.remote.addr, &b.local.addr), "A sends to %s, B is at %s",
                  rtc_addr_str(&a.remote.addr), rtc_addr_str(&b.local.addr));
    ck_assert_msg(rtc_addr_equal(&b.remote.addr, &a.local.addr), "B sends to %s, A is at %s",
                  rtc_addr_str(&b.remote.addr), rtc_addr_str(&a.local.addr));
}

START_TEST(public_hosts_connect_complete_and_exchange_data) {
    world_t w;
    side_t sides[2] = {{false, 0, 0}, {false, 0, 0}};
    rtc_ice_config_t cfgs[2];
    base_config(&cfgs[0], RTC_ICE_ROLE_CONTROLLING, true);
    base_config(&cfgs[1], RTC_ICE_ROLE_CONTROLLED, true);
    world_make(&w, 1, sides, cfgs);
    ck_assert(run_until_connected(&w, RTC_SEC(10)));
    ck_assert(netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(10), netsim_ice_both_completed, w.p));
    ck_assert(netsim_ice_saw_state(w.p[0], RTC_ICE_STATE_CHECKING));
    ck_assert(netsim_ice_saw_state(w.p[1], RTC_ICE_STATE_CHECKING));
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(w.p[i]->gathering, RTC_ICE_GATHERING_COMPLETE);
        rtc_ice_pair_info_t sel;
        ck_assert_int_eq(rtc_ice_agent_get_selected_pair(w.p[i]->agent, &sel), RTC_OK);
        ck_assert(sel.nominated);
        ck_assert_int_eq(w.p[i]->selected.local.type, RTC_ICE_CANDIDATE_HOST);
        ck_assert_int_eq(w.p[i]->selected.remote.type, RTC_ICE_CANDIDATE_HOST);
    }
    /* No NAT: the server-reflexive address equals the host one and is not announced. */
    ck_assert_uint_eq(w.p[0]->candidates_sent, 1);
    assert_pairs_mirror(&w);
    assert_data_flows(&w);
    world_free(&w);
}
END_TEST

/* Which combinations can connect without a relay. With endpoint-independent mapping on both
 * sides (RFC 4787 REQ-1, "BEHAVE-compliant") hole punching always works. When only one side
 * has it, the other side's checks come from a new port per destination; they get through as
 * long as the EIM side's filter does not demand the exact address and port it sent to
 * (i.e. its filtering is endpoint-independent or address-dependent). An address-and-port-
 * dependent mapping ("symmetric NAT") facing an address-and-port-dependent filter, or facing
 * another symmetric NAT, cannot be traversed without a relay. Other mixed combinations
 * (address-dependent mappings) depend on the order packets meet and are not asserted. */
typedef enum { EXPECT_DIRECT, EXPECT_FAIL, EXPECT_ANY } expect_t;

static expect_t expectation(const side_t *a, const side_t *b) {
    if (!a->natted || !b->natted) return EXPECT_DIRECT;
    if (a->m == NETSIM_EIM && b->m == NETSIM_EIM) return EXPECT_DIRECT;
    if (a->m == NETSIM_APDM && (b->f == NETSIM_APDF || b->m == NETSIM_APDM)) return EXPECT_FAIL;
    if (b->m == NETSIM_APDM && (a->f == NETSIM_APDF || a->m == NETSIM_APDM)) return EXPECT_FAIL;
    if (a->m == NETSIM_EIM && a->f != NETSIM_APDF) return EXPECT_DIRECT;
    if (b->m == NETSIM_EIM && b->f != NETSIM_APDF) return EXPECT_DIRECT;
    return EXPECT_ANY;
}

START_TEST(nat_matrix_direct_where_rfc4787_allows_it) {
    /* _i enumerates side A's (mapping, filtering); all nine of side B's run inside. */
    side_t a = {true, (netsim_mapping_t)(_i / 3), (netsim_filtering_t)(_i % 3)};
    int direct = 0, failed = 0;
    for (int j = 0; j < 9; j++) {
        side_t b = {true, (netsim_mapping_t)(j / 3), (netsim_filtering_t)(j % 3)};
        side_t sides[2] = {a, b};
        expect_t want = expectation(&a, &b);
        rtc_ice_config_t cfgs[2];
        base_config(&cfgs[0], RTC_ICE_ROLE_CONTROLLING, true);
        base_config(&cfgs[1], RTC_ICE_ROLE_CONTROLLED, true);
        world_t w;
        world_make(&w, 100 + (uint64_t)(_i * 9 + j), sides, cfgs);
        netsim_ice_start(w.p[0], w.p[1]);
        /* Run until both connect, or until the checks have all failed (about 40 s). */
        netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_connected, w.p);
        bool ok = netsim_ice_both_connected(w.p);
        fprintf(stderr, "A %s/%s  B %s/%s: %s\n", netsim_mapping_name(a.m), netsim_filtering_name(a.f),
                netsim_mapping_name(b.m), netsim_filtering_name(b.f), ok ? "direct" : "no direct path");
        if (want == EXPECT_DIRECT) {
            ck_assert_msg(ok, "A %s/%s B %s/%s should connect directly", netsim_mapping_name(a.m),
                          netsim_filtering_name(a.f), netsim_mapping_name(b.m), netsim_filtering_name(b.f));
            assert_pairs_mirror(&w);
            assert_data_flows(&w);
            direct++;
        } else if (want == EXPECT_FAIL) {
            ck_assert_msg(!ok, "A %s/%s B %s/%s cannot connect without a relay", netsim_mapping_name(a.m),
                          netsim_filtering_name(a.f), netsim_mapping_name(b.m), netsim_filtering_name(b.f));
            netsim_run_until(w.sim, netsim_now(w.sim) + RTC_SEC(60), netsim_ice_both_failed, w.p);
            ck_assert_int_eq(w.p[0]->state, RTC_ICE_STATE_FAILED);
            ck_assert_int_eq(w.p[1]->state, RTC_ICE_STATE_FAILED);
            failed++;
        }
        world_free(&w);
    }
    (void)direct;
    (void)failed;
}
END_TEST

START_TEST(same_private_addresses_on_both_lans_do_not_confuse_checks) {
    /* Both LANs use 192.168.1.10: A's check to B's host candidate lands on A's own LAN. */
    world_t w;
    memset(&w, 0, sizeof w);
    w.sim = netsim_create(7, 0);
    netsim_install_random(w.sim);
    netsim_stun_server(w.sim, STUN_IP, STUN_PORT);
    rtc_ice_config_t cfg;
    const char *ips[1] = {"192.168.1.10"};
    for (int i = 0; i < 2; i++) {
        char pub[32];
        snprintf(pub, sizeof pub, "203.0.113.%d", i + 1);
        w.nat[i] = netsim_add_nat(w.sim, pub, NETSIM_EIM, NETSIM_APDF, 0);
        base_config(&cfg, i ? RTC_ICE_ROLE_CONTROLLED : RTC_ICE_ROLE_CONTROLLING, true);
        w.p[i] = netsim_ice_peer_create(w.sim, i ? "B" : "A", &cfg, w.nat[i], ips, 1);
        ck_assert_ptr_nonnull(w.p[i]);
    }
    netsim_ice_link(w.p[0], w.p[1], RTC_MS(30));
    ck_assert(run_until_connected(&w, RTC_SEC(20)));
    ck_assert_int_eq(w.p[0]->selected.local.type, RTC_ICE_CANDIDATE_SRFLX);
    assert_pairs_mirror(&w);
    assert_data_flows(&w);
    world_free(&w);
}
END_TEST

START_TEST(peer_reflexive_learned_when_candidates_arrive_late) {
    /* B's candidates reach A only after 3 s, but A's reach B at once: B's checks teach A a
     * peer-reflexive remote candidate and the connection is up before A hears of B's. */
    world_t w;
    side_t sides[2] = {{true, NETSIM_EIM, NETSIM_EIF}, {true, NETSIM_EIM, NETSIM_EIF}};
    rtc_ice_config_t cfgs[2];
    base_config(&cfgs[0], RTC_ICE_ROLE_CONTROLLING, true);
    base_config(&cfgs[1], RTC_ICE_ROLE_CONTROLLED, true);
    world_make(&w, 11, sides, cfgs);
    w.p[1]->signal_delay = RTC_SEC(3);
    ck_assert(run_until_connected(&w, RTC_SEC(3)));
    ck_assert_int_eq(w.p[0]->selected.remote.type, RTC_ICE_CANDIDATE_PRFLX);
    assert_data_flows(&w);
    world_free(&w);
}
END_TEST

START_TEST(mdns_host_candidates_are_learned_as_peer_reflexive) {
    /* B hides its host address behind an mDNS name, as browsers do. Both on one LAN: the only
     * way to pair is A learning B's address from B's checks. */
    netsim_t *sim = netsim_create(21, 0);
    netsim_install_random(sim);
    rtc_ice_config_t cfg;
    base_config(&cfg, RTC_ICE_ROLE_CONTROLLING, false);
    const char *ipa[1] = {"10.0.0.1"}, *ipb[1] = {"10.0.0.2"};
    netsim_ice_peer_t *p[2];
    p[0] = netsim_ice_peer_create(sim, "A", &cfg, NULL, ipa, 1);
    cfg.role = RTC_ICE_ROLE_CONTROLLED;
    p[1] = netsim_ice_peer_create(sim, "B", &cfg, NULL, ipb, 1);
    p[1]->mdns = true;
    netsim_ice_link(p[0], p[1], RTC_MS(20));
    netsim_ice_start(p[0], p[1]);
    ck_assert(netsim_run_until(sim, netsim_now(sim) + RTC_SEC(10), netsim_ice_both_connected, p));
    rtc_ice_candidate_t remotes[8];
    size_t n = rtc_ice_agent_remote_candidates(p[0]->agent, remotes, 8);
    bool saw_mdns = false;
    for (size_t i = 0; i < n && i < 8; i++)
        if (strstr(remotes[i].hostname, ".local")) saw_mdns = true;
    ck_assert(saw_mdns);
    ck_assert_int_eq(p[0]->selected.remote.type, RTC_ICE_CANDIDATE_PRFLX);
    ck_assert_str_eq(rtc_addr_str(&p[0]->selected.remote.addr), rtc_addr_str(netsim_socket_addr(p[1]->socks[0])));
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
}
END_TEST

START_TEST(ipv6_hosts_connect) {
    netsim_t *sim = netsim_create(31, 0);
    netsim_install_random(sim);
    rtc_ice_config_t cfg;
    base_config(&cfg, RTC_ICE_ROLE_CONTROLLING, false);
    const char *ipa[2] = {"2001:db8::1", "10.0.0.1"}, *ipb[1] = {"2001:db8::2"};
    netsim_ice_peer_t *p[2];
    p[0] = netsim_ice_peer_create(sim, "A", &cfg, NULL, ipa, 2);
    cfg.role = RTC_ICE_ROLE_CONTROLLED;
    p[1] = netsim_ice_peer_create(sim, "B", &cfg, NULL, ipb, 1);
    ck_assert_ptr_nonnull(p[0]);
    ck_assert_ptr_nonnull(p[1]);
    netsim_ice_link(p[0], p[1], RTC_MS(20));
    netsim_ice_start(p[0], p[1]);
    ck_assert(netsim_run_until(sim, netsim_now(sim) + RTC_SEC(10), netsim_ice_both_connected, p));
    ck_assert_int_eq(p[0]->selected.local.addr.family, RTC_AF_INET6);
    ck_assert_int_eq(p[1]->selected.remote.addr.family, RTC_AF_INET6);
    /* The IPv4 socket of A has nothing of the same family to pair with. */
    ck_assert_uint_eq(rtc_ice_agent_get_pairs(p[0]->agent, NULL, 0), 1);
    ck_assert_int_eq(netsim_ice_send(p[1], "\x80v6", 3), RTC_OK);
    netsim_run_until(sim, netsim_now(sim) + RTC_SEC(1), NULL, NULL);
    ck_assert_uint_eq(p[0]->data_packets, 1);
    netsim_ice_peer_destroy(p[0]);
    netsim_ice_peer_destroy(p[1]);
    netsim_destroy(sim);
}
END_TEST

/* One lossy, jittery, duplicating, reordering run; returns its trace hash. */
static uint64_t lossy_run(uint64_t seed, rtc_time_t *connected_at, uint32_t *pair_id) {
    world_t w;
    side_t sides[2] = {{true, NETSIM_EIM, NETSIM_APDF}, {true, NETSIM_EIM, NETSIM_ADF}};
    rtc_ice_config_t cfgs[2];
    base_config(&cfgs[0], RTC_ICE_ROLE_CONTROLLING, true);
    base_config(&cfgs[1], RTC_ICE_ROLE_CONTROLLED, true);
    world_make(&w, seed, sides, cfgs);
    netsim_link_t link = {.delay = RTC_MS(40), .jitter = RTC_MS(30), .loss = 0.15, .duplicate = 0.1,
                          .reorder = 0.1, .reorder_delay = RTC_MS(80)};
    netsim_set_link(w.sim, &link);
    bool ok = run_until_connected(&w, RTC_SEC(40));
    ck_assert_msg(ok, "seed %llu did not connect under 15%% loss", (unsigned long long)seed);
    for (int i = 0; i < 50; i++) {
        netsim_ice_send(w.p[i & 1], "\x80payload", 8);
        netsim_run_until(w.sim, netsim_now(w.sim) + RTC_MS(100), NULL, NULL);
    }
    *connected_at = w.p[0]->connected_at;
    *pair_id = w.p[0]->selected.id;
    ck_assert_uint_gt(netsim_stats(w.sim)->lost, 0);
    ck_assert_uint_gt(netsim_stats(w.sim)->duplicated, 0);
    uint64_t h = netsim_trace_hash(w.sim);
    world_free(&w);
    return h;
}

START_TEST(same_seed_same_run_under_loss_jitter_duplication_reordering) {
    rtc_time_t t1, t2, t3;
    uint32_t id1, id2, id3;
    uint64_t h1 = lossy_run(42, &t1, &id1);
    uint64_t h2 = lossy_run(42, &t2, &id2);
    uint64_t h3 = lossy_run(43, &t3, &id3);
    ck_assert_uint_eq(h1, h2);
    ck_assert_int_eq(t1, t2);
    ck_assert_uint_eq(id1, id2);
    ck_assert_uint_ne(h1, h3);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ice_nat");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, public_hosts_connect_complete_and_exchange_data);
    tcase_add_loop_test(tc, nat_matrix_direct_where_rfc4787_allows_it, 0, 9);
    tcase_add_test(tc, same_private_addresses_on_both_lans_do_not_confuse_checks);
    tcase_add_test(tc, peer_reflexive_learned_when_candidates_arrive_late);
    tcase_add_test(tc, mdns_host_candidates_are_learned_as_peer_reflexive);
    tcase_add_test(tc, ipv6_hosts_connect);
    tcase_add_test(tc, same_seed_same_run_under_loss_jitter_duplication_reordering);
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
