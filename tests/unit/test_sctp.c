/* SCTP association + data channels: two associations back to back in memory (DTLS client
 * role <-> server role) over a fake clock and an optionally lossy pipe (sctp_pair.h). */
#include <check.h>
#include <stdio.h>

#include "rtc/sctp.h"
#include "sctp_pair.h"
#include "sctp/sctp_internal.h" /* sctp_enqueue: inject raw DCEP as a broken peer would */

static tpair_t P;

static void setup_pair(uint64_t seed) {
    rtc_log_set_level(getenv("SCTP_LOG") ? RTC_LOG_DEBUG : RTC_LOG_ERROR);
    ck_assert_int_eq(tp_create(&P, seed, NULL, NULL), RTC_OK);
}

static rtc_dc_t *open_local(tpeer_t *pe, const char *label, const rtc_dc_init_t *init) {
    rtc_dc_t *dc = NULL;
    ck_assert_int_eq(rtc_sctp_create_channel(pe->a, label, init, &dc), RTC_OK);
    ck_assert_ptr_nonnull(tp_track(pe, dc));
    return dc;
}

static int g_want_id;
static bool remote_has_open(tpair_t *p) {
    tchan_t *a = tp_find(&p->c, g_want_id), *b = tp_find(&p->s, g_want_id);
    return a && b && a->opened && b->opened;
}

START_TEST(test_handshake_connects_both_roles) {
    setup_pair(1);
    ck_assert_int_eq(rtc_sctp_state(P.c.a), RTC_SCTP_STATE_NEW);
    ck_assert(tp_connect(&P));
    ck_assert_int_eq(P.c.states[RTC_SCTP_STATE_CONNECTED], 1);
    ck_assert_int_eq(P.s.states[RTC_SCTP_STATE_CONNECTED], 1);
    ck_assert_uint_eq(rtc_sctp_outbound_streams(P.c.a), 1024);
    ck_assert_uint_eq(rtc_sctp_inbound_streams(P.c.a), 1024);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_inband_channel_opens_and_carries_messages) {
    setup_pair(2);
    ck_assert(tp_connect(&P));
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.protocol = "chat";
    rtc_dc_t *dc = open_local(&P.c, "hello", &init);
    ck_assert_int_eq(rtc_dc_id(dc), 0); /* DTLS client: even ids */
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_uint_eq(P.s.incoming, 1);
    tchan_t *r = tp_find(&P.s, 0);
    ck_assert_str_eq(rtc_dc_label(r->dc), "hello");
    ck_assert_str_eq(rtc_dc_protocol(r->dc), "chat");
    ck_assert(rtc_dc_ordered(r->dc));
    ck_assert_int_eq(rtc_dc_send(dc, "hi there", 8, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(r->dc, "\x01\x02\x03", 3, false), RTC_OK);
    tp_run(&P, RTC_SEC(1), NULL);
    ck_assert_uint_eq(r->strings, 1);
    ck_assert_uint_eq(r->bytes, 8);
    ck_assert_uint_eq(tp_find(&P.c, 0)->binaries, 1);
    tp_destroy(&P);
}
END_TEST


static bool all_open(tpair_t *p) {
    for (size_t i = 0; i < p->c.nch; i++) if (!p->c.ch[i].opened) return false;
    for (size_t i = 0; i < p->s.nch; i++) if (!p->s.ch[i].opened) return false;
    return p->c.nch > 0 && p->s.nch > 0;
}

static bool all_open_3(tpair_t *p) { return all_open(p) && p->c.nch == 3 && p->s.nch == 3; }

START_TEST(test_inband_channels_both_ways_use_role_parity) {
    setup_pair(3);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "from-client", NULL);
    rtc_dc_t *b = open_local(&P.s, "from-server", NULL);
    rtc_dc_t *a2 = open_local(&P.c, "from-client-2", NULL);
    ck_assert_int_eq(rtc_dc_id(a), 0);
    ck_assert_int_eq(rtc_dc_id(a2), 2);
    ck_assert_int_eq(rtc_dc_id(b), 1); /* DTLS server: odd ids */
    ck_assert(tp_run(&P, RTC_SEC(5), all_open_3));
    ck_assert_uint_eq(P.s.incoming, 2);
    ck_assert_uint_eq(P.c.incoming, 1);
    ck_assert_str_eq(rtc_dc_label(tp_find(&P.c, 1)->dc), "from-server");
    ck_assert_str_eq(rtc_dc_label(tp_find(&P.s, 2)->dc), "from-client-2");
    ck_assert_uint_eq(rtc_sctp_channel_count(P.c.a), 3);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_channel_created_before_connect_opens_when_up) {
    setup_pair(4);
    rtc_dc_t *a = open_local(&P.c, "early", NULL);
    ck_assert_int_eq(rtc_dc_state(a), RTC_DC_CONNECTING);
    ck_assert_int_eq(rtc_dc_send(a, "x", 1, true), RTC_ERR_STATE);
    ck_assert(tp_connect(&P));
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_int_eq(rtc_dc_state(a), RTC_DC_OPEN);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_negotiated_channel_skips_dcep) {
    setup_pair(5);
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.negotiated = true;
    init.id = 7;
    init.ordered = false;
    rtc_dc_t *a = open_local(&P.c, "neg", &init);
    rtc_dc_t *b = open_local(&P.s, "neg", &init);
    ck_assert(tp_connect(&P));
    ck_assert(tp_run(&P, RTC_SEC(1), all_open));
    ck_assert_uint_eq(P.c.incoming + P.s.incoming, 0);
    ck_assert(rtc_dc_negotiated(a));
    ck_assert_int_eq(rtc_dc_id(b), 7);
    ck_assert_int_eq(rtc_dc_send(a, "ping", 4, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(b, "pong!", 5, false), RTC_OK);
    tp_run(&P, RTC_SEC(1), NULL);
    ck_assert_uint_eq(tp_find(&P.s, 7)->strings, 1);
    ck_assert_uint_eq(tp_find(&P.c, 7)->binaries, 1);
    /* negotiated without id, or an id in use, are refused */
    rtc_dc_t *x;
    init.id = -1;
    ck_assert_int_eq(rtc_sctp_create_channel(P.c.a, "bad", &init, &x), RTC_ERR_INVALID_ARG);
    init.id = 7;
    ck_assert_int_eq(rtc_sctp_create_channel(P.c.a, "dup", &init, &x), RTC_ERR_DUPLICATE);
    tp_destroy(&P);
}
END_TEST

/* Sends count messages of mixed sizes (up to 64 KiB) with sequence-numbered payloads,
 * running the simulation whenever the send queue is full. */
static size_t send_seq(tpair_t *p, rtc_dc_t *dc, size_t count, uint64_t first_seq, size_t fixed) {
    static uint8_t buf[262144];
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = fixed ? fixed : (i % 10 == 0 ? 65536 : 8 + (size_t)(tp_rand(p) % 8192));
        tp_fill(buf, n, first_seq + i);
        int rc;
        while ((rc = rtc_dc_send(dc, buf, n, false)) == RTC_ERR_AGAIN) tp_run(p, RTC_MS(20), NULL);
        ck_assert_int_eq(rc, RTC_OK);
        total += n;
    }
    return total;
}

static size_t g_expect;
static bool both_received(tpair_t *p) {
    tchan_t *a = tp_find(&p->c, 0), *b = tp_find(&p->s, 0);
    return a->msgs >= g_expect && b->msgs >= g_expect;
}

START_TEST(test_ordered_channel_1000_mixed_messages_each_way) {
    setup_pair(6);
    P.latency = RTC_MS(5);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "bulk", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    tchan_t *ra = tp_find(&P.s, 0), *rb = tp_find(&P.c, 0);
    ra->check_seq = rb->check_seq = true;
    /* small cap so the queue-full path is exercised */
    size_t sent_a = 0, sent_b = 0;
    for (int round = 0; round < 10; round++) {
        sent_a += send_seq(&P, a, 100, (uint64_t)round * 100, 0);
        sent_b += send_seq(&P, ra->dc, 100, (uint64_t)round * 100, 0);
    }
    g_expect = 1000;
    ck_assert(tp_run(&P, RTC_SEC(600), both_received));
    ck_assert_uint_eq(ra->msgs, 1000);
    ck_assert_uint_eq(rb->msgs, 1000);
    ck_assert_uint_eq(ra->bytes, sent_a);
    ck_assert_uint_eq(rb->bytes, sent_b);
    ck_assert(ra->order_ok && ra->content_ok);
    ck_assert(rb->order_ok && rb->content_ok);
    ck_assert_uint_eq(ra->max_len, 65536);
    ck_assert_uint_eq(rtc_dc_buffered_amount(a), 0);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_reliable_channel_survives_loss_and_reordering) {
    setup_pair(7);
    P.latency = RTC_MS(10);
    P.jitter = RTC_MS(8);
    ck_assert(tp_connect(&P));
    P.loss = 0.1;
    rtc_dc_t *a = open_local(&P.c, "lossy-reliable", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(30), remote_has_open));
    tchan_t *r = tp_find(&P.s, 0);
    r->check_seq = true;
    send_seq(&P, a, 300, 0, 0);
    g_expect = 300;
    tp_find(&P.c, 0)->msgs = 300;
    ck_assert(tp_run(&P, RTC_SEC(900), both_received));
    ck_assert_uint_eq(r->msgs, 300);
    ck_assert(r->order_ok && r->content_ok);
    ck_assert_uint_gt(P.c.dropped_pkts, 0);
    tp_destroy(&P);
}
END_TEST

static bool rexmit_done(tpair_t *p) {
    return rtc_sctp_next_timeout(p->c.a) > p->now + RTC_MS(50) && !p->c.q_head && !p->s.q_head;
}

START_TEST(test_unordered_partial_reliability_over_lossy_pipe) {
    setup_pair(8);
    P.latency = RTC_MS(10);
    P.jitter = RTC_MS(15);
    ck_assert(tp_connect(&P));
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.ordered = false;
    init.max_retransmits = 0;
    rtc_dc_t *a = open_local(&P.c, "unreliable", &init);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    tchan_t *r = tp_find(&P.s, 0);
    r->check_seq = true; /* content and uniqueness are checked; order is not asserted */
    ck_assert(!rtc_dc_ordered(r->dc));
    ck_assert_int_eq(rtc_dc_max_retransmits(r->dc), 0);
    /* the peer's first message acknowledges the open; then unordered sending is allowed */
    ck_assert_int_eq(rtc_dc_send(r->dc, "ack-me", 6, true), RTC_OK);
    tp_run(&P, RTC_MS(200), NULL);
    P.loss = 0.2;
    static uint8_t buf[1000];
    for (uint64_t i = 0; i < 400; i++) {
        tp_fill(buf, sizeof buf, i);
        ck_assert_int_eq(rtc_dc_send(a, buf, sizeof buf, false), RTC_OK);
        tp_run(&P, RTC_MS(2), NULL);
    }
    tp_run(&P, RTC_SEC(20), rexmit_done);
    /* messages may be lost but each one that arrives is intact and arrives once */
    size_t got = 0;
    for (int i = 0; i < 400; i++) got += r->seen_seq[i];
    ck_assert_uint_eq(got, r->msgs);
    ck_assert(r->content_ok);
    ck_assert_uint_lt(r->msgs, 400);
    ck_assert_uint_gt(r->msgs, 100);
    /* the channel still works once the loss stops */
    P.loss = 0;
    P.jitter = 0;
    ck_assert_int_eq(rtc_dc_send(a, "after", 5, true), RTC_OK);
    size_t before = r->strings;
    tp_run(&P, RTC_SEC(2), NULL);
    ck_assert_uint_eq(r->strings, before + 1);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_lifetime_partial_reliability_announced_in_open) {
    setup_pair(9);
    ck_assert(tp_connect(&P));
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.max_packet_life_time = 150;
    init.priority = RTC_DCEP_PRIORITY_HIGH;
    open_local(&P.c, "timed", &init);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    rtc_dc_t *r = tp_find(&P.s, 0)->dc;
    ck_assert_int_eq(rtc_dc_max_packet_life_time(r), 150);
    ck_assert_int_eq(rtc_dc_max_retransmits(r), -1);
    ck_assert(rtc_dc_ordered(r));
    ck_assert_uint_eq(rtc_dc_priority(r), RTC_DCEP_PRIORITY_HIGH);
    rtc_dc_t *x;
    init.max_retransmits = 3;
    ck_assert_int_eq(rtc_sctp_create_channel(P.c.a, "both", &init, &x), RTC_ERR_INVALID_ARG);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_string_binary_and_empty_messages) {
    setup_pair(10);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "kinds", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_int_eq(rtc_dc_send(a, "text", 4, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(a, "\0\1", 2, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(a, NULL, 0, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(a, NULL, 0, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_buffered_amount(a), 0);
    tp_run(&P, RTC_SEC(1), NULL);
    tchan_t *r = tp_find(&P.s, 0);
    ck_assert_uint_eq(r->msgs, 4);
    ck_assert_uint_eq(r->strings, 1);
    ck_assert_uint_eq(r->binaries, 1);
    ck_assert_uint_eq(r->empties, 2);
    ck_assert_uint_eq(r->bytes, 6);
    tp_destroy(&P);
}
END_TEST

static bool got_one(tpair_t *p) { return tp_find(&p->s, 0)->msgs >= 1; }

START_TEST(test_256k_message_and_too_big_rejected) {
    setup_pair(11);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "big", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    tchan_t *r = tp_find(&P.s, 0);
    r->check_seq = true;
    ck_assert_uint_eq(rtc_sctp_max_message_size(P.c.a), 262144);
    static uint8_t big[262145];
    tp_fill(big, sizeof big, 0);
    ck_assert_int_eq(rtc_dc_send(a, big, 262145, false), RTC_ERR_LIMIT);
    ck_assert_int_eq(rtc_dc_send(a, big, 262144, false), RTC_OK);
    ck_assert(tp_run(&P, RTC_SEC(30), got_one));
    ck_assert_uint_eq(r->max_len, 262144);
    ck_assert(r->content_ok);
    /* the peer's limit follows SDP: absent attribute = 64 KiB, 0 = any size */
    rtc_sctp_set_remote_max_message_size(P.c.a, 0);
    ck_assert_uint_eq(rtc_sctp_max_message_size(P.c.a), 65536);
    ck_assert_int_eq(rtc_dc_send(a, big, 65537, false), RTC_ERR_LIMIT);
    rtc_sctp_set_remote_max_message_size(P.c.a, RTC_SCTP_MMS_ANY);
    ck_assert_uint_eq(rtc_sctp_max_message_size(P.c.a), SIZE_MAX);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_incoming_message_over_local_limit_dropped_with_error) {
    rtc_log_set_level(RTC_LOG_OFF);
    rtc_sctp_config_t cc, sc;
    tp_config(&cc, NULL, true);
    tp_config(&sc, NULL, false);
    sc.local_max_message_size = 100000; /* the server accepts less than the client may send */
    ck_assert_int_eq(tp_create(&P, 12, &cc, &sc), RTC_OK);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "limit", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    static uint8_t big[200000];
    ck_assert_int_eq(rtc_dc_send(a, big, sizeof big, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(a, "ok", 2, true), RTC_OK);
    tp_run(&P, RTC_SEC(10), NULL);
    tchan_t *r = tp_find(&P.s, 0);
    ck_assert_int_eq(r->errors, 1);
    ck_assert_int_eq(r->last_error, RTC_ERR_LIMIT);
    ck_assert_uint_eq(r->msgs, 1); /* the small one after it arrives */
    ck_assert_uint_eq(r->strings, 1);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_buffered_amount_and_low_threshold_event) {
    setup_pair(13);
    P.latency = RTC_MS(20);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "buffered", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    tchan_t *mine = tp_find(&P.c, 0);
    rtc_dc_set_buffered_amount_low_threshold(a, 100000);
    ck_assert_uint_eq(rtc_dc_buffered_amount_low_threshold(a), 100000);
    static uint8_t buf[65536];
    for (int i = 0; i < 32; i++) ck_assert_int_eq(rtc_dc_send(a, buf, sizeof buf, false), RTC_OK);
    size_t ba = rtc_dc_buffered_amount(a);
    /* usrsctp took what fits in its send buffer; the rest waits in ours */
    ck_assert_uint_gt(ba, 1000000);
    ck_assert_uint_lt(ba, 32 * 65536);
    ck_assert_int_eq(mine->lows, 0);
    tp_run(&P, RTC_SEC(60), NULL);
    ck_assert_uint_eq(rtc_dc_buffered_amount(a), 0);
    ck_assert_int_eq(mine->lows, 1);
    ck_assert_uint_eq(tp_find(&P.s, 0)->msgs, 32);
    tp_destroy(&P);
}
END_TEST

static bool chans_closed(tpair_t *p) {
    tchan_t *a = tp_find(&p->c, g_want_id), *b = tp_find(&p->s, g_want_id);
    return a && b && a->closed && b->closed;
}

START_TEST(test_close_from_either_side_resets_streams) {
    setup_pair(14);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "c-closes", NULL);
    rtc_dc_t *b = open_local(&P.s, "s-closes", NULL);
    ck_assert(tp_run(&P, RTC_SEC(5), all_open));
    /* client closes its channel (id 0) with a message still queued: it is delivered first */
    ck_assert_int_eq(rtc_dc_send(a, "last words", 10, true), RTC_OK);
    rtc_dc_close(a);
    ck_assert_int_eq(rtc_dc_state(a), RTC_DC_CLOSING);
    ck_assert_int_eq(rtc_dc_send(a, "too late", 8, true), RTC_ERR_STATE);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), chans_closed));
    ck_assert(tp_find(&P.s, 0)->closing); /* the remote side saw closing first */
    ck_assert_uint_eq(tp_find(&P.s, 0)->strings, 1);
    /* server closes its channel (id 1) */
    rtc_dc_close(b);
    g_want_id = 1;
    ck_assert(tp_run(&P, RTC_SEC(5), chans_closed));
    ck_assert(tp_find(&P.c, 1)->closing);
    ck_assert_uint_eq(rtc_sctp_channel_count(P.c.a), 0);
    ck_assert_uint_eq(rtc_sctp_channel_count(P.s.a), 0);
    ck_assert_ptr_null(rtc_sctp_find_channel(P.c.a, 0));
    /* ids are reusable once both directions were reset */
    rtc_dc_t *again = open_local(&P.c, "again", NULL);
    ck_assert_int_eq(rtc_dc_id(again), 0);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_int_eq(rtc_dc_send(again, "new", 3, true), RTC_OK);
    tp_run(&P, RTC_SEC(1), NULL);
    ck_assert_uint_eq(tp_find(&P.s, 0)->strings, 1);
    ck_assert_str_eq(rtc_dc_label(tp_find(&P.s, 0)->dc), "again");
    tp_destroy(&P);
}
END_TEST

static size_t count_flag(tpeer_t *pe, int which) {
    size_t n = 0;
    for (size_t i = 0; i < pe->nch; i++) {
        tchan_t *c = &pe->ch[i];
        n += which == 0 ? c->opened : which == 1 ? c->closed : (c->msgs == 1);
    }
    return n;
}
static bool all_400_open(tpair_t *p) { return count_flag(&p->c, 0) == 200 && count_flag(&p->s, 0) == 200; }
static bool all_400_msg(tpair_t *p) { return count_flag(&p->c, 2) == 200 && count_flag(&p->s, 2) == 200; }
static bool all_400_closed(tpair_t *p) { return count_flag(&p->c, 1) == 200 && count_flag(&p->s, 1) == 200; }

START_TEST(test_200_channels_at_once) {
    setup_pair(15);
    P.latency = RTC_MS(5);
    ck_assert(tp_connect(&P));
    rtc_dc_t *mine[200];
    for (int i = 0; i < 100; i++) {
        char label[32];
        snprintf(label, sizeof label, "c%d", i);
        mine[i] = open_local(&P.c, label, NULL);
        snprintf(label, sizeof label, "s%d", i);
        mine[100 + i] = open_local(&P.s, label, NULL);
    }
    ck_assert(tp_run(&P, RTC_SEC(10), all_400_open));
    ck_assert_uint_eq(P.c.incoming, 100);
    ck_assert_uint_eq(P.s.incoming, 100);
    tpeer_t *sides[2] = {&P.c, &P.s};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sides[k]->nch; i++) {
            char m[32];
            int n = snprintf(m, sizeof m, "msg-%zu", i);
            ck_assert_int_eq(rtc_dc_send(sides[k]->ch[i].dc, m, (size_t)n, true), RTC_OK);
        }
    ck_assert(tp_run(&P, RTC_SEC(10), all_400_msg));
    for (int i = 0; i < 200; i++) rtc_dc_close(mine[i]);
    ck_assert(tp_run(&P, RTC_SEC(30), all_400_closed));
    ck_assert_uint_eq(rtc_sctp_channel_count(P.c.a), 0);
    ck_assert_uint_eq(rtc_sctp_channel_count(P.s.a), 0);
    tp_destroy(&P);
}
END_TEST

START_TEST(test_stream_ids_beyond_initial_count_grow_streams) {
    setup_pair(16);
    ck_assert(tp_connect(&P));
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.negotiated = true;
    init.id = 2000;
    rtc_dc_t *a = open_local(&P.c, "high", &init);
    rtc_dc_t *b = open_local(&P.s, "high", &init);
    ck_assert(tp_run(&P, RTC_SEC(2), all_open));
    ck_assert_int_eq(rtc_dc_send(a, "up", 2, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(b, "down", 4, true), RTC_OK);
    tp_run(&P, RTC_SEC(5), NULL);
    ck_assert_uint_eq(tp_find(&P.s, 2000)->strings, 1);
    ck_assert_uint_eq(tp_find(&P.c, 2000)->strings, 1);
    ck_assert_uint_gt(rtc_sctp_outbound_streams(P.c.a), 2000);
    ck_assert_uint_gt(rtc_sctp_outbound_streams(P.s.a), 2000);
    /* an in-band channel on a high id: OPEN and ACK both need the new streams */
    init.negotiated = false;
    init.id = 3001;
    open_local(&P.s, "high-inband", &init);
    g_want_id = 3001;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    tp_destroy(&P);
}
END_TEST

static bool both_closed(tpair_t *p) {
    return rtc_sctp_state(p->c.a) == RTC_SCTP_STATE_CLOSED &&
           rtc_sctp_state(p->s.a) == RTC_SCTP_STATE_CLOSED;
}

START_TEST(test_graceful_shutdown_closes_channels) {
    setup_pair(17);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "bye", NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    ck_assert_int_eq(rtc_dc_send(a, "queued before shutdown", 22, true), RTC_OK);
    ck_assert_int_eq(rtc_sctp_shutdown(P.c.a, P.now), RTC_OK);
    ck_assert(tp_run(&P, RTC_SEC(10), both_closed));
    ck_assert_int_eq(P.c.close_reason, RTC_OK);
    ck_assert_int_eq(P.s.close_reason, RTC_OK);
    ck_assert_uint_eq(tp_find(&P.s, 0)->strings, 1);
    ck_assert(tp_find(&P.c, 0)->closed);
    ck_assert(tp_find(&P.s, 0)->closed);
    ck_assert_int_eq(tp_find(&P.c, 0)->errors, 0);
    ck_assert(rtc_sctp_next_timeout(P.c.a) == RTC_TIME_NEVER);
    rtc_dc_t *x;
    ck_assert_int_eq(rtc_sctp_create_channel(P.c.a, "late", NULL, &x), RTC_ERR_STATE);
    tp_destroy(&P);
}
END_TEST

static bool client_closed(tpair_t *p) { return rtc_sctp_state(p->c.a) == RTC_SCTP_STATE_CLOSED; }

/* A connected pair with channel 0 open both ways, then the path dies (every packet lost)
 * with one message `msg` sent into it. */
static void send_into_dead_path(uint64_t seed, const char *label, const char *msg) {
    setup_pair(seed);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, label, NULL);
    g_want_id = 0;
    ck_assert(tp_run(&P, RTC_SEC(5), remote_has_open));
    P.loss = 1.0;
    ck_assert_int_eq(rtc_dc_send(a, msg, strlen(msg), true), RTC_OK);
}

/* The warnings logged (module sctp), to see that an ABORT we send says why. */
static char g_sctp_warn[2048];
static void capture_warn(rtc_log_level_t level, const char *module, const char *msg, void *user) {
    (void)user;
    if (level >= RTC_LOG_WARN && !strcmp(module, "sctp") && strlen(g_sctp_warn) + strlen(msg) + 2 < sizeof g_sctp_warn) {
        strcat(g_sctp_warn, msg);
        strcat(g_sctp_warn, "\n");
    }
}

START_TEST(test_silent_peer_times_out_and_channels_error) {
    send_into_dead_path(18, "doomed", "lost");
    g_sctp_warn[0] = 0;
    rtc_log_level_t was = rtc_log_get_level();
    if (was > RTC_LOG_WARN) rtc_log_set_level(RTC_LOG_WARN);
    rtc_log_set_callback(capture_warn, NULL);
    bool closed = tp_run(&P, RTC_SEC(1800), client_closed);
    rtc_log_set_callback(NULL, NULL);
    rtc_log_set_level(was);
    ck_assert(closed);
    ck_assert_int_eq(P.c.close_reason, RTC_ERR_TIMEOUT);
    /* The ABORT usrsctp sent for it is in our log (its close reports "timed out" either way). */
    ck_assert_msg(strstr(g_sctp_warn, "sending ABORT to the peer"), "warnings: %s", g_sctp_warn);
    tchan_t *c = tp_find(&P.c, 0);
    ck_assert(c->closed);
    ck_assert_int_eq(c->last_error, RTC_ERR_CLOSED);
    tp_destroy(&P);
}
END_TEST


static bool remote_got_a_message(tpair_t *p) {
    tchan_t *r = tp_find(&p->s, 0);
    return r && r->msgs >= 1;
}

/* After an outage the sender must notice the path is back within a few seconds: with the
 * SCTP default (RTO doubling up to 60 s) a 20 s outage leaves the next retransmission ~11 s
 * after the path returns — a data channel frozen that long after a network blip (or a burst
 * of drops in a TURN-over-TCP relay). Like libwebrtc (dcSCTP's max_timer_backoff_duration),
 * the backoff stops at 3 s. Fake clock: the times are exact, not measured. */
START_TEST(test_retransmission_backoff_capped_so_an_outage_heals_fast) {
    send_into_dead_path(19, "blip", "after the blip");
    tp_run(&P, RTC_SEC(20), NULL);
    ck_assert(!remote_got_a_message(&P));
    ck_assert_int_eq(rtc_sctp_state(P.c.a), RTC_SCTP_STATE_CONNECTED); /* 20 s: not given up */
    P.loss = 0;
    rtc_time_t back = P.now;
    ck_assert(tp_run(&P, RTC_SEC(30), remote_got_a_message));
    ck_assert_msg(P.now - back <= RTC_MS(3500), "delivered %lld ms after the path came back",
                  (long long)((P.now - back) / 1000));
    tp_destroy(&P);
}
END_TEST

static bool s_got_open(tpair_t *p) { return p->s.incoming >= 1; }

/* Sends raw bytes with a PPID on a stream from side pe, bypassing the channel layer. */
static void inject(tpeer_t *pe, uint16_t sid, uint32_t ppid, const void *b, size_t n) {
    ck_assert_int_eq(sctp_enqueue(pe->a, NULL, sid, ppid, b, n, false), RTC_OK);
    rtc_sctp_handle_timeout(pe->a, P.now);
    tp_run(&P, RTC_MS(500), NULL);
}

START_TEST(test_malformed_dcep_is_ignored_or_stream_reset) {
    setup_pair(19);
    rtc_log_set_level(RTC_LOG_OFF);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "victim", NULL);
    ck_assert(tp_run(&P, RTC_SEC(2), s_got_open));
    tchan_t *mine = tp_find(&P.c, 0);
    /* truncated OPEN on a free stream: no channel, the stream is reset */
    inject(&P.s, 4, RTC_SCTP_PPID_DCEP, "\x03\x00\x01", 3);
    ck_assert_uint_eq(P.c.incoming, 0);
    ck_assert_ptr_null(rtc_sctp_find_channel(P.c.a, 4));
    /* OPEN with a label length past the end */
    static const uint8_t longlabel[] = {3, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 'a', 'b'};
    inject(&P.s, 6, RTC_SCTP_PPID_DCEP, longlabel, sizeof longlabel);
    ck_assert_uint_eq(P.c.incoming, 0);
    /* a valid OPEN on a stream already in use is ignored: the channel keeps working */
    static const uint8_t open0[] = {3, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 'd', 'u', 'p'};
    inject(&P.s, 0, RTC_SCTP_PPID_DCEP, open0, sizeof open0);
    ck_assert_uint_eq(P.c.incoming, 0);
    ck_assert_str_eq(rtc_dc_label(a), "victim");
    /* unknown DCEP type on the channel's stream: error event, channel stays open */
    inject(&P.s, 0, RTC_SCTP_PPID_DCEP, "\x07zz", 3);
    ck_assert_int_eq(mine->last_error, RTC_ERR_PROTOCOL);
    ck_assert_int_eq(rtc_dc_state(a), RTC_DC_OPEN);
    /* unknown PPID, a stray ACK, and data on a stream without a channel: dropped */
    inject(&P.s, 0, 99, "??", 2);
    inject(&P.s, 8, RTC_SCTP_PPID_DCEP, "\x02", 1);
    inject(&P.s, 10, RTC_SCTP_PPID_STRING, "nobody", 6);
    ck_assert_uint_eq(mine->msgs, 0);
    /* the association and channel are unharmed */
    ck_assert_int_eq(rtc_dc_send(tp_find(&P.s, 0)->dc, "still fine", 10, true), RTC_OK);
    tp_run(&P, RTC_SEC(1), NULL);
    ck_assert_uint_eq(mine->strings, 1);
    ck_assert_int_eq(rtc_sctp_state(P.c.a), RTC_SCTP_STATE_CONNECTED);
    /* a proper OPEN from the peer on the stream we reset earlier works afterwards */
    static const uint8_t open4[] = {3, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0, 'g', 'o', 'o', 'd'};
    inject(&P.s, 4, RTC_SCTP_PPID_DCEP, open4, sizeof open4);
    ck_assert_uint_eq(P.c.incoming, 1);
    ck_assert_str_eq(rtc_dc_label(rtc_sctp_find_channel(P.c.a, 4)), "good");
    tp_destroy(&P);
}
END_TEST

START_TEST(test_garbage_packets_do_not_hurt_the_association) {
    setup_pair(20);
    rtc_log_set_level(RTC_LOG_OFF);
    ck_assert(tp_connect(&P));
    rtc_dc_t *a = open_local(&P.c, "robust", NULL);
    ck_assert(tp_run(&P, RTC_SEC(2), s_got_open));
    /* capture a genuine packet from the client to use as a base for mangling */
    ck_assert_int_eq(rtc_dc_send(a, "base packet", 11, true), RTC_OK);
    ck_assert_ptr_nonnull(P.s.q_head);
    uint8_t base[1500];
    size_t bn = P.s.q_head->n;
    memcpy(base, P.s.q_head->d, bn);
    tp_run(&P, RTC_SEC(1), NULL);
    uint8_t buf[1500];
    for (int i = 0; i < 3000; i++) {
        size_t n;
        switch (i % 3) {
        case 0: /* random bytes */
            n = 1 + tp_rand(&P) % sizeof buf;
            for (size_t k = 0; k < n; k++) buf[k] = (uint8_t)tp_rand(&P);
            break;
        case 1: /* a real packet cut short */
            n = 1 + tp_rand(&P) % bn;
            memcpy(buf, base, n);
            break;
        default: /* a real header with random chunks after it (wrong tag half the time) */
            n = 12 + tp_rand(&P) % (sizeof buf - 12);
            memcpy(buf, base, 12);
            for (size_t k = 12; k < n; k++) buf[k] = (uint8_t)tp_rand(&P);
            if (tp_rand(&P) & 1) buf[4] ^= 0x55;
            break;
        }
        rtc_sctp_handle_packet(P.s.a, buf, n, P.now);
    }
    ck_assert_int_eq(rtc_sctp_handle_packet(P.s.a, buf, 0, P.now), RTC_ERR_INVALID_ARG);
    tp_run(&P, RTC_SEC(2), NULL);
    tchan_t *r = tp_find(&P.s, 0);
    /* random chunks behind a valid tag may legitimately abort the association; if it is
     * still up, it must still carry data */
    if (rtc_sctp_state(P.s.a) == RTC_SCTP_STATE_CONNECTED &&
        rtc_sctp_state(P.c.a) == RTC_SCTP_STATE_CONNECTED) {
        size_t before = r->strings;
        ck_assert_int_eq(rtc_dc_send(a, "after garbage", 13, true), RTC_OK);
        tp_run(&P, RTC_SEC(2), NULL);
        ck_assert_uint_eq(r->strings, before + 1);
    }
    tp_destroy(&P);
}
END_TEST

START_TEST(test_many_associations_share_one_stack) {
    rtc_log_set_level(RTC_LOG_ERROR);
    enum { N = 40 };
    static tpair_t pairs[N];
    /* each pair's pipes are separate; the global clock is shared (one fake time) */
    rtc_time_t t = RTC_SEC(1000);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(tp_create(&pairs[i], (uint64_t)i + 1, NULL, NULL), RTC_OK);
        pairs[i].now = t;
    }
    for (int i = 0; i < N; i++) {
        g_pair = &pairs[i];
        rtc_sctp_connect(pairs[i].c.a, t);
        rtc_sctp_connect(pairs[i].s.a, t);
    }
    for (int step = 0; step < 300; step++) {
        t += RTC_MS(10);
        for (int i = 0; i < N; i++) {
            g_pair = &pairs[i];
            pairs[i].now = t;
            tp_step(&pairs[i]);
        }
    }
    for (int i = 0; i < N; i++) ck_assert(tp_both_connected(&pairs[i]));
    for (int i = 0; i < N; i++) {
        g_pair = &pairs[i];
        tp_destroy(&pairs[i]);
    }
}
END_TEST


START_TEST(test_packet_before_connect_starts_the_association) {
    setup_pair(21);
    /* only the client side starts; the server sees INIT while still NEW */
    rtc_sctp_connect(P.c.a, P.now);
    ck_assert(tp_run(&P, RTC_SEC(10), tp_both_connected));
    ck_assert_int_eq(rtc_sctp_connect(P.s.a, P.now), RTC_ERR_STATE);
    tp_destroy(&P);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sctp");
    TCase *tc = tcase_create("pair");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_handshake_connects_both_roles);
    tcase_add_test(tc, test_inband_channel_opens_and_carries_messages);
    tcase_add_test(tc, test_inband_channels_both_ways_use_role_parity);
    tcase_add_test(tc, test_channel_created_before_connect_opens_when_up);
    tcase_add_test(tc, test_negotiated_channel_skips_dcep);
    tcase_add_test(tc, test_ordered_channel_1000_mixed_messages_each_way);
    tcase_add_test(tc, test_reliable_channel_survives_loss_and_reordering);
    tcase_add_test(tc, test_unordered_partial_reliability_over_lossy_pipe);
    tcase_add_test(tc, test_lifetime_partial_reliability_announced_in_open);
    tcase_add_test(tc, test_string_binary_and_empty_messages);
    tcase_add_test(tc, test_256k_message_and_too_big_rejected);
    tcase_add_test(tc, test_incoming_message_over_local_limit_dropped_with_error);
    tcase_add_test(tc, test_buffered_amount_and_low_threshold_event);
    tcase_add_test(tc, test_close_from_either_side_resets_streams);
    tcase_add_test(tc, test_200_channels_at_once);
    tcase_add_test(tc, test_stream_ids_beyond_initial_count_grow_streams);
    tcase_add_test(tc, test_graceful_shutdown_closes_channels);
    tcase_add_test(tc, test_silent_peer_times_out_and_channels_error);
    tcase_add_test(tc, test_retransmission_backoff_capped_so_an_outage_heals_fast);
    tcase_add_test(tc, test_malformed_dcep_is_ignored_or_stream_reset);
    tcase_add_test(tc, test_garbage_packets_do_not_hurt_the_association);
    tcase_add_test(tc, test_many_associations_share_one_stack);
    tcase_add_test(tc, test_packet_before_connect_starts_the_association);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
