/* PeerConnection suite: two of our PeerConnections on one libuv loop over real UDP sockets on
 * 127.0.0.1, signalling in-process. Data channels (ordered delivery, binary/string, sizes up to
 * max-message-size, negotiated channels, close), media (VP8 frames through SRTP, reflection,
 * RTCP), renegotiation, ICE restart, the fingerprint check in both DTLS roles, the shared-port
 * runtime with ICE-lite and getStats. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "rtc/pc.h"
#include "rtc/rtp.h"

typedef struct peer {
    const char *name;
    rtc_pc_runtime_t *rt;
    rtc_peer_connection_t *pc;
    rtc_pc_state_t state;
    rtc_ice_gathering_state_t gathering;
    rtc_pc_datachannel_t *dc;      /* ours or the one the peer opened */
    int dc_opened, dc_closed;
    int n_msgs;
    size_t bytes;
    int order_errors;
    bool echo;
    int tracks;
    int rtp_packets;
    int rtp_reflected;
    rtc_pc_transceiver_t *track_t;
    int negotiation_needed;
    int keyframe_requests;
    size_t last_len;
    size_t rtp_max_len;            /* largest RTP packet delivered by on_rtp */
    bool last_string;
    uint8_t last_first;
} peer_t;

static uv_loop_t loop;

static void on_state(void *u, rtc_pc_state_t s) { ((peer_t *)u)->state = s; }
static void on_gath(void *u, rtc_ice_gathering_state_t s) { ((peer_t *)u)->gathering = s; }
static void on_negneeded(void *u) { ((peer_t *)u)->negotiation_needed++; }

static void dc_open(void *u, rtc_pc_datachannel_t *d) { (void)d; ((peer_t *)u)->dc_opened++; }
static void dc_close(void *u, rtc_pc_datachannel_t *d) { (void)d; ((peer_t *)u)->dc_closed++; }
static void dc_msg(void *u, rtc_pc_datachannel_t *d, const uint8_t *p, size_t n, bool is_string) {
    peer_t *pe = u;
    /* Messages carry their index in the first 4 bytes (when long enough). */
    if (n >= 4) {
        uint32_t idx = rtc_be32(p);
        if ((int)idx != pe->n_msgs) pe->order_errors++;
        for (size_t i = 4; i < n; i++)
            if (p[i] != (uint8_t)(idx + i)) { pe->order_errors++; break; }
    }
    pe->n_msgs++;
    pe->bytes += n;
    pe->last_len = n;
    pe->last_string = is_string;
    pe->last_first = n ? p[0] : 0;
    if (pe->echo) rtc_pc_datachannel_send(d, p, n, is_string);
}
static const rtc_pc_datachannel_callbacks_t dc_cb = {
    .on_open = dc_open, .on_message = dc_msg, .on_close = dc_close,
};
static void on_dc(void *u, rtc_pc_datachannel_t *d) {
    peer_t *pe = u;
    pe->dc = d;
    rtc_pc_datachannel_set_callbacks(d, &dc_cb, pe);
}
static void on_track(void *u, rtc_pc_transceiver_t *t) {
    peer_t *pe = u;
    pe->tracks++;
    pe->track_t = t;
}
static void on_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n, const rtc_pc_rtp_info_t *info) {
    peer_t *pe = u;
    pe->rtp_packets++;
    if (n > pe->rtp_max_len) pe->rtp_max_len = n;
    ck_assert_ptr_nonnull(info->codec);
    if (pe->echo && rtc_pc_transceiver_send_rtp(t, p, n, rtc_clock_now()) == RTC_OK) pe->rtp_reflected++;
}
static void on_kf(void *u, rtc_pc_transceiver_t *t, bool fir) {
    (void)t;
    (void)fir;
    ((peer_t *)u)->keyframe_requests++;
}

static const rtc_pc_callbacks_t cbs = {
    .on_connection_state = on_state, .on_ice_gathering_state = on_gath, .on_datachannel = on_dc,
    .on_track = on_track, .on_rtp = on_rtp, .on_negotiation_needed = on_negneeded,
    .on_keyframe_request = on_kf,
};

static void guard_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag becomes true (checked via cond) or timeout. */
#define RUN_UNTIL(cond, ms)                                                        \
    do {                                                                           \
        uv_timer_t g_;                                                             \
        uv_timer_init(&loop, &g_);                                                 \
        uv_timer_start(&g_, guard_cb, 5, 5);                                       \
        uint64_t end_ = uv_now(&loop) + (ms);                                      \
        while (!(cond) && uv_now(&loop) < end_) uv_run(&loop, UV_RUN_ONCE);        \
        uv_timer_stop(&g_);                                                        \
        uv_close((uv_handle_t *)&g_, NULL);                                        \
        uv_run(&loop, UV_RUN_NOWAIT);                                              \
    } while (0)

static rtc_pc_runtime_t *rt_plain;

static void peer_init(peer_t *p, const char *name, rtc_pc_runtime_t *rt, bool lite) {
    memset(p, 0, sizeof *p);
    p->name = name;
    p->rt = rt;
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1");
    cfg.filter.ipv6 = false;
    cfg.ice_lite = lite;
    snprintf(cfg.log_id, sizeof cfg.log_id, "%s", name);
    p->pc = rtc_pc_runtime_create_pc(rt, &cfg, &cbs, p);
    ck_assert_ptr_nonnull(p->pc);
}

static char *local_desc(peer_t *p) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_peer_connection_local_description(p->pc, &b, NULL), RTC_OK);
    return (char *)b.data;
}

/* Runs `loop` and a second loop lb (a peer on its own loop), turn about, until cond holds or
 * ms pass. */
#define RUN_BOTH(lb, cond, ms)                                                     \
    do {                                                                           \
        uint64_t end_ = uv_now(&loop) + (ms);                                      \
        while (!(cond) && uv_now(&loop) < end_) {                                  \
            uv_run(&loop, UV_RUN_NOWAIT);                                          \
            uv_run((lb), UV_RUN_NOWAIT);                                           \
            uv_sleep(1);                                                           \
            uv_update_time(&loop);                                                 \
        }                                                                          \
    } while (0)

/* Full (non-trickle) exchange: offer from a, answer from b. `tamper` may edit either text.
 * lb: b's own loop when it has one (turned alongside `loop`), else NULL. */
static void exchange_on(peer_t *a, peer_t *b, uv_loop_t *lb, void (*tamper_offer)(char *),
                        void (*tamper_answer)(char *)) {
    rtc_time_t now = rtc_clock_now();
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a->pc, RTC_PC_SDP_OFFER, NULL, now), RTC_OK);
    if (lb) RUN_BOTH(lb, rtc_peer_connection_ice_gathering_state(a->pc) == RTC_ICE_GATHERING_COMPLETE, 3000);
    else RUN_UNTIL(rtc_peer_connection_ice_gathering_state(a->pc) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *offer = local_desc(a);
    if (tamper_offer) tamper_offer(offer);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b->pc, RTC_PC_SDP_OFFER, offer, rtc_clock_now()), RTC_OK);
    free(offer);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b->pc, RTC_PC_SDP_ANSWER, NULL, rtc_clock_now()), RTC_OK);
    if (lb) RUN_BOTH(lb, rtc_peer_connection_ice_gathering_state(b->pc) == RTC_ICE_GATHERING_COMPLETE, 3000);
    else RUN_UNTIL(rtc_peer_connection_ice_gathering_state(b->pc) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *answer = local_desc(b);
    if (tamper_answer) tamper_answer(answer);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a->pc, RTC_PC_SDP_ANSWER, answer, rtc_clock_now()), RTC_OK);
    free(answer);
    ck_assert_int_eq(rtc_peer_connection_signaling_state(a->pc), RTC_PC_SIGNALING_STABLE);
    ck_assert_int_eq(rtc_peer_connection_signaling_state(b->pc), RTC_PC_SIGNALING_STABLE);
}

static void exchange(peer_t *a, peer_t *b, void (*tamper_offer)(char *), void (*tamper_answer)(char *)) {
    exchange_on(a, b, NULL, tamper_offer, tamper_answer);
}

/* A sendonly video transceiver on p. */
static rtc_pc_transceiver_t *video_sender(peer_t *p) {
    rtc_pc_transceiver_t *t = rtc_peer_connection_add_transceiver(p->pc, RTC_PC_MEDIA_VIDEO, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(rtc_pc_transceiver_set_direction(t, RTC_SDP_DIR_SENDONLY), RTC_OK);
    return t;
}

static void setup(void) {
    uv_loop_init(&loop);
    rt_plain = rtc_pc_runtime_create(&loop, NULL);
    ck_assert_ptr_nonnull(rt_plain);
}

static void teardown(void) {
    rtc_pc_runtime_destroy(rt_plain);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void send_numbered(rtc_pc_datachannel_t *d, uint32_t idx, size_t n) {
    uint8_t *m = malloc(n);
    rtc_put_be32(m, idx);
    for (size_t i = 4; i < n; i++) m[i] = (uint8_t)(idx + i);
    int rc;
    do {
        rc = rtc_pc_datachannel_send(d, m, n, false);
        if (rc == RTC_ERR_AGAIN) uv_run(&loop, UV_RUN_NOWAIT);
    } while (rc == RTC_ERR_AGAIN);
    ck_assert_int_eq(rc, RTC_OK);
    free(m);
}

START_TEST(datachannel_ordered_mixed_sizes_echo) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    b.echo = true;
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "chat", NULL);
    ck_assert_ptr_nonnull(a.dc);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    ck_assert_int_eq(rtc_pc_datachannel_state(a.dc), RTC_DC_CONNECTING);
    exchange(&a, &b, NULL, NULL);
    RUN_UNTIL(a.state == RTC_PC_STATE_CONNECTED && b.state == RTC_PC_STATE_CONNECTED && a.dc_opened, 10000);
    ck_assert_int_eq(a.state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(b.state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(a.dc_opened, 1);
    RUN_UNTIL(b.dc != NULL, 2000);
    ck_assert_ptr_nonnull(b.dc);
    ck_assert_str_eq(rtc_pc_datachannel_label(b.dc), "chat");
    /* Our a=max-message-size (256 KiB) is the peer's limit. */
    ck_assert_uint_eq(rtc_peer_connection_max_message_size(a.pc), 262144);
    const int N = 300;
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = 4 + (size_t)((i * 7919) % 65533);
        total += n;
        send_numbered(a.dc, (uint32_t)i, n);
        if (i % 20 == 0) uv_run(&loop, UV_RUN_NOWAIT);
    }
    RUN_UNTIL(a.n_msgs == N, 20000);
    ck_assert_int_eq(b.n_msgs, N);
    ck_assert_int_eq(a.n_msgs, N);
    ck_assert_int_eq(b.order_errors, 0);
    ck_assert_int_eq(a.order_errors, 0);
    ck_assert_uint_eq(a.bytes, total);
    /* A string, an empty message and one at the 256 KiB limit. */
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, "hi", 2, true), RTC_OK);
    RUN_UNTIL(a.n_msgs == N + 1, 3000);
    ck_assert(a.last_string);
    ck_assert_uint_eq(a.last_len, 2);
    uint8_t *big = calloc(1, 262144);
    big[0] = 0; /* index N+1 in the first 4 bytes */
    rtc_put_be32(big, (uint32_t)(N + 1));
    for (size_t i = 4; i < 262144; i++) big[i] = (uint8_t)(N + 1 + i);
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, big, 262144, false), RTC_OK);
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, big, 262145, false), RTC_ERR_LIMIT);
    free(big);
    RUN_UNTIL(a.n_msgs == N + 2, 5000);
    ck_assert_uint_eq(a.last_len, 262144);
    ck_assert_int_eq(a.order_errors, 0);

    /* getStats. */
    rtc_buf_t st;
    rtc_buf_init(&st);
    ck_assert_int_eq(rtc_peer_connection_get_stats(a.pc, rtc_clock_now(), &st), RTC_OK);
    const char *js = (const char *)st.data;
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"data-channel\""));
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"candidate-pair\""));
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"transport\""));
    ck_assert_ptr_nonnull(strstr(js, "\"dtlsState\":\"connected\""));
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"certificate\""));
    ck_assert_ptr_nonnull(strstr(js, "\"dataChannelsOpened\":1"));
    rtc_buf_free(&st);

    /* Clean close: both ends see close. */
    rtc_pc_datachannel_close(a.dc);
    RUN_UNTIL(a.dc_closed && b.dc_closed, 5000);
    ck_assert_int_eq(a.dc_closed, 1);
    ck_assert_int_eq(b.dc_closed, 1);
    ck_assert_int_eq(rtc_pc_datachannel_state(b.dc), RTC_DC_CLOSED);
    rtc_peer_connection_close(a.pc, rtc_clock_now());
    ck_assert_int_eq(a.state, RTC_PC_STATE_CLOSED);
    RUN_UNTIL(b.state != RTC_PC_STATE_CONNECTED, 200);
}
END_TEST

START_TEST(datachannel_negotiated_and_unordered) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.negotiated = true;
    init.id = 7;
    init.ordered = false;
    init.max_retransmits = 3;
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "neg", &init);
    b.dc = rtc_peer_connection_create_data_channel(b.pc, "neg", &init);
    ck_assert_ptr_nonnull(a.dc);
    ck_assert_ptr_nonnull(b.dc);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    rtc_pc_datachannel_set_callbacks(b.dc, &dc_cb, &b);
    /* Both exclusive reliability options are refused. */
    rtc_dc_init_t bad = init;
    bad.max_packet_life_time = 100;
    ck_assert_ptr_null(rtc_peer_connection_create_data_channel(a.pc, "bad", &bad));
    exchange(&a, &b, NULL, NULL);
    RUN_UNTIL(a.dc_opened && b.dc_opened, 10000);
    ck_assert_int_eq(rtc_pc_datachannel_id(a.dc), 7);
    ck_assert_int_eq(rtc_pc_datachannel_id(b.dc), 7);
    ck_assert(!rtc_pc_datachannel_ordered(b.dc));
    ck_assert_int_eq(rtc_pc_datachannel_max_retransmits(b.dc), 3);
    ck_assert_int_eq(rtc_pc_datachannel_send(b.dc, "xyz", 3, true), RTC_OK);
    RUN_UNTIL(a.n_msgs == 1, 3000);
    ck_assert_int_eq(a.n_msgs, 1);
    ck_assert(a.last_string);
    ck_assert_int_eq(a.last_first, 'x');
}
END_TEST

/* A VP8 "frame" of n bytes (not decodable; the layers below do not care). */
START_TEST(media_vp8_frames_reflected_with_rtcp) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    b.echo = true;
    rtc_pc_transceiver_t *ta = rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_VIDEO, NULL);
    ck_assert_ptr_nonnull(ta);
    rtc_time_t now = rtc_clock_now();
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_OFFER, NULL, now), RTC_OK);
    RUN_UNTIL(a.gathering == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *offer = local_desc(&a);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b.pc, RTC_PC_SDP_OFFER, offer, rtc_clock_now()), RTC_OK);
    free(offer);
    ck_assert_int_eq(b.tracks, 1);
    /* The offer's sendrecv section made a recvonly transceiver; addTrack reuses it. */
    ck_assert_ptr_eq(rtc_peer_connection_add_track(b.pc, RTC_PC_MEDIA_VIDEO, "echo", "s"), b.track_t);
    ck_assert_int_eq(rtc_pc_transceiver_direction(b.track_t), RTC_SDP_DIR_SENDRECV);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b.pc, RTC_PC_SDP_ANSWER, NULL, rtc_clock_now()), RTC_OK);
    RUN_UNTIL(b.gathering == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *answer = local_desc(&b);
    ck_assert_ptr_nonnull(strstr(answer, "a=sendrecv"));
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a.pc, RTC_PC_SDP_ANSWER, answer, rtc_clock_now()), RTC_OK);
    free(answer);
    ck_assert_int_eq(a.tracks, 1);
    RUN_UNTIL(a.state == RTC_PC_STATE_CONNECTED && b.state == RTC_PC_STATE_CONNECTED, 10000);
    ck_assert_int_eq(a.state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(rtc_pc_transceiver_current_direction(ta), RTC_SDP_DIR_SENDRECV);
    ck_assert_int_ge(rtc_pc_transceiver_payload_type(ta, "VP8"), 96);
    uint8_t frame[3000];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)i;
    for (int f = 0; f < 30; f++) {
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(ta, "VP8", frame, f % 5 ? 500 : sizeof frame,
                                                       (uint32_t)(f * 3000), rtc_clock_now()), RTC_OK);
        RUN_UNTIL(false, 10);
    }
    /* 6 frames of 3 packets + 24 of 1 = 42 packets, all reflected back. */
    RUN_UNTIL(a.rtp_packets >= 42, 5000);
    ck_assert_int_eq(b.rtp_packets, 42);
    ck_assert_int_eq(b.rtp_reflected, 42);
    ck_assert_int_eq(a.rtp_packets, 42);
    /* A PLI reaches the sender as a keyframe request. */
    ck_assert_int_eq(rtc_pc_transceiver_request_keyframe(b.track_t, rtc_clock_now()), RTC_OK);
    RUN_UNTIL(a.keyframe_requests > 0, 2000);
    ck_assert_int_eq(a.keyframe_requests, 1);
    /* One rid only: this stream has none, so a rid names nothing and nothing is sent (the
     * per-layer case against Pion's simulcast: test_sfu_pion). */
    ck_assert_int_eq(rtc_pc_transceiver_request_keyframe_rid(b.track_t, "h", rtc_clock_now()), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_pc_transceiver_request_keyframe_rid(b.track_t, "", rtc_clock_now()), RTC_OK);
    RUN_UNTIL(a.keyframe_requests > 1, 2000);
    ck_assert_int_eq(a.keyframe_requests, 2);
    /* Receiver reports flow within ~1.5 s: remote-inbound-rtp appears. */
    rtc_buf_t st;
    rtc_buf_init(&st);
    RUN_UNTIL(false, 1600);
    ck_assert_int_eq(rtc_peer_connection_get_stats(a.pc, rtc_clock_now(), &st), RTC_OK);
    const char *js = (const char *)st.data;
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"outbound-rtp\""));
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"inbound-rtp\""));
    ck_assert_ptr_nonnull(strstr(js, "\"type\":\"remote-inbound-rtp\""));
    ck_assert_ptr_nonnull(strstr(js, "\"packetsSent\":42"));
    ck_assert_ptr_nonnull(strstr(js, "\"mimeType\":\"video/VP8\""));
    rtc_buf_free(&st);
}
END_TEST

/* RTP packets above the old 1200-byte limit, up to what fits a 1500-byte datagram once SRTP
 * protected: A sends them, B receives them and forwards them back (what the SFU does with a
 * publisher's packets). */
START_TEST(media_large_rtp_packets_received_and_forwarded) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    b.echo = true;
    rtc_pc_transceiver_t *ta = rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_VIDEO, NULL);
    ck_assert_ptr_nonnull(ta);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_OFFER, NULL, rtc_clock_now()), RTC_OK);
    RUN_UNTIL(a.gathering == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *offer = local_desc(&a);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b.pc, RTC_PC_SDP_OFFER, offer, rtc_clock_now()), RTC_OK);
    free(offer);
    rtc_peer_connection_add_track(b.pc, RTC_PC_MEDIA_VIDEO, "echo", "s");
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b.pc, RTC_PC_SDP_ANSWER, NULL, rtc_clock_now()), RTC_OK);
    RUN_UNTIL(b.gathering == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *answer = local_desc(&b);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a.pc, RTC_PC_SDP_ANSWER, answer, rtc_clock_now()), RTC_OK);
    free(answer);
    RUN_UNTIL(a.state == RTC_PC_STATE_CONNECTED && b.state == RTC_PC_STATE_CONNECTED, 10000);
    ck_assert_int_eq(b.state, RTC_PC_STATE_CONNECTED);
    int pt = rtc_pc_transceiver_payload_type(ta, "VP8");
    /* Payload sizes: 1300-byte RTP packets as aiortc sends them, and the largest whose SRTP
     * datagram (12-byte header, our 3 header extensions in 20 bytes, 10-byte tag) is 1500. */
    const size_t payloads[] = {1288, 1458};
    int sent = 0;
    for (int i = 0; i < 20; i++) {
        size_t pl = payloads[i % 2];
        uint8_t pkt[1600];
        rtc_rtp_header_t h;
        memset(&h, 0, sizeof h);
        h.payload_type = (uint8_t)pt;
        h.seq = (uint16_t)(100 + i);
        h.timestamp = (uint32_t)(i * 3000);
        h.ssrc = 1;
        uint8_t payload[1500];
        memset(payload, 0x5a, sizeof payload);
        payload[0] = 0x10; /* VP8 descriptor: S=1 */
        int len = rtc_rtp_packet_write(&h, NULL, 0, false, payload, pl, 0, pkt, sizeof pkt);
        ck_assert_int_gt(len, 0);
        ck_assert_int_eq(rtc_pc_transceiver_send_rtp(ta, pkt, (size_t)len, rtc_clock_now()), RTC_OK);
        sent++;
        RUN_UNTIL(false, 5);
    }
    RUN_UNTIL(a.rtp_packets >= sent, 5000);
    ck_assert_int_eq(b.rtp_packets, sent);
    ck_assert_int_eq(b.rtp_reflected, sent);
    ck_assert_int_eq(a.rtp_packets, sent);
    ck_assert_uint_ge(b.rtp_max_len, 12 + 1458);
    ck_assert_uint_ge(a.rtp_max_len, 12 + 1458);
    rtc_buf_t st;
    rtc_buf_init(&st);
    ck_assert_int_eq(rtc_peer_connection_get_stats(a.pc, rtc_clock_now(), &st), RTC_OK);
    ck_assert_ptr_nonnull(strstr((const char *)st.data, "\"packetsSent\":20"));
    rtc_buf_free(&st);
}
END_TEST

/* Renegotiation: a data-only session adds audio later, from the answerer's side. */
START_TEST(renegotiation_from_answerer_adds_audio) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "d", NULL);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    exchange(&a, &b, NULL, NULL);
    RUN_UNTIL(a.dc_opened, 10000);
    ck_assert_int_eq(a.dc_opened, 1);
    rtc_pc_transceiver_t *tb = rtc_peer_connection_add_transceiver(b.pc, RTC_PC_MEDIA_AUDIO, NULL);
    ck_assert_ptr_nonnull(tb);
    RUN_UNTIL(b.negotiation_needed, 1000);
    ck_assert_int_eq(b.negotiation_needed, 1);
    exchange(&b, &a, NULL, NULL);
    ck_assert_int_eq(a.tracks, 1);
    ck_assert_int_eq(rtc_pc_transceiver_current_direction(tb), RTC_SDP_DIR_SENDONLY);
    uint8_t opus[3] = {0xf8, 0xff, 0xfe};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(tb, "opus", opus, 3, (uint32_t)i * 960, rtc_clock_now()), RTC_OK);
    }
    RUN_UNTIL(a.rtp_packets == 5, 3000);
    ck_assert_int_eq(a.rtp_packets, 5);
    /* The data channel kept working across the renegotiation. */
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, "still", 5, true), RTC_OK);
    RUN_UNTIL(b.n_msgs == 1, 3000);
    ck_assert_int_eq(b.n_msgs, 1);
}
END_TEST

/* m= sections come in creation order, the data section included: a channel created before
 * any transceiver (an SFU's subscriber PeerConnection) owns the first m-line, the BUNDLE tag,
 * so stopping the transceivers added after it never moves the tag. (A moved tag makes
 * Chromium tear down its transport: every later packet of the session is lost.) */
static size_t pos_of(const char *sdp, const char *what) {
    const char *p = strstr(sdp, what);
    ck_assert_msg(p != NULL, "%s not in the SDP", what);
    return (size_t)(p - sdp);
}

START_TEST(sections_in_creation_order_bundle_tag_kept) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "d", NULL);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    rtc_pc_transceiver_init_t init;
    rtc_pc_transceiver_init_defaults(&init);
    init.direction = RTC_SDP_DIR_SENDONLY;
    rtc_pc_transceiver_t *t1 = rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_AUDIO, &init);
    rtc_pc_transceiver_t *t2 = rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_VIDEO, &init);
    ck_assert_ptr_nonnull(t1);
    ck_assert_ptr_nonnull(t2);
    exchange(&a, &b, NULL, NULL);
    char *offer = local_desc(&a);
    ck_assert_uint_lt(pos_of(offer, "m=application"), pos_of(offer, "m=audio"));
    ck_assert_uint_lt(pos_of(offer, "m=audio"), pos_of(offer, "m=video"));
    ck_assert_ptr_nonnull(strstr(offer, "a=group:BUNDLE 0 1 2"));
    free(offer);
    RUN_UNTIL(a.dc_opened && b.dc, 10000);
    ck_assert_int_eq(a.dc_opened, 1);

    /* The first transceiver stops: its section is rejected, the tag stays on the data one. */
    rtc_pc_transceiver_stop(t1);
    exchange(&a, &b, NULL, NULL);
    offer = local_desc(&a);
    ck_assert_ptr_nonnull(strstr(offer, "a=group:BUNDLE 0 2"));
    ck_assert_ptr_nonnull(strstr(offer, "m=audio 0 "));
    free(offer);
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, "after stop", 10, true), RTC_OK);
    RUN_UNTIL(b.n_msgs == 1, 3000);
    ck_assert_int_eq(b.n_msgs, 1);
    ck_assert_int_eq(a.state, RTC_PC_STATE_CONNECTED);

    /* A transceiver created before the first channel keeps its place before the data section. */
    peer_t c;
    peer_init(&c, "C", rt_plain, false);
    ck_assert_ptr_nonnull(rtc_peer_connection_add_transceiver(c.pc, RTC_PC_MEDIA_AUDIO, &init));
    ck_assert_ptr_nonnull(rtc_peer_connection_create_data_channel(c.pc, "d", NULL));
    ck_assert_ptr_nonnull(rtc_peer_connection_add_transceiver(c.pc, RTC_PC_MEDIA_VIDEO, &init));
    ck_assert_int_eq(rtc_peer_connection_set_local_description(c.pc, RTC_PC_SDP_OFFER, NULL, rtc_clock_now()), RTC_OK);
    offer = local_desc(&c);
    ck_assert_uint_lt(pos_of(offer, "m=audio"), pos_of(offer, "m=application"));
    ck_assert_uint_lt(pos_of(offer, "m=application"), pos_of(offer, "m=video"));
    free(offer);
}
END_TEST

START_TEST(ice_restart_keeps_data_flowing) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "d", NULL);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    exchange(&a, &b, NULL, NULL);
    RUN_UNTIL(a.dc_opened && b.dc, 10000);
    const char *old = strdup(rtc_peer_connection_local_ufrag(a.pc));
    a.negotiation_needed = 0;
    rtc_peer_connection_restart_ice(a.pc);
    RUN_UNTIL(a.negotiation_needed, 1000);
    ck_assert_int_eq(a.negotiation_needed, 1);
    exchange(&a, &b, NULL, NULL);
    ck_assert_str_ne(old, rtc_peer_connection_local_ufrag(a.pc));
    free((void *)old);
    RUN_UNTIL(false, 1500);
    ck_assert_int_eq(a.state, RTC_PC_STATE_CONNECTED);
    rtc_pc_datachannel_set_callbacks(b.dc, &dc_cb, &b);
    ck_assert_int_eq(rtc_pc_datachannel_send(a.dc, "after", 5, true), RTC_OK);
    RUN_UNTIL(b.n_msgs == 1, 3000);
    ck_assert_int_eq(b.n_msgs, 1);
}
END_TEST

/* Replace the last hex pair of the first a=fingerprint line. */
static void tamper_fp(char *sdp) {
    char *f = strstr(sdp, "a=fingerprint:");
    ck_assert_ptr_nonnull(f);
    char *eol = strstr(f, "\r\n");
    eol[-1] = eol[-1] == '0' ? '1' : '0';
}

/* B answers active (DTLS client): a wrong fingerprint in B's answer fails A, the server. */
START_TEST(fingerprint_mismatch_fails_dtls_server) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "d", NULL);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    exchange(&a, &b, NULL, tamper_fp);
    RUN_UNTIL(a.state == RTC_PC_STATE_FAILED, 10000);
    ck_assert_int_eq(a.state, RTC_PC_STATE_FAILED);
    ck_assert_int_eq(a.dc_opened, 0);
    ck_assert(!rtc_peer_connection_dtls_client(a.pc));
}
END_TEST

/* A wrong fingerprint in A's offer fails B, the DTLS client. */
START_TEST(fingerprint_mismatch_fails_dtls_client) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    a.dc = rtc_peer_connection_create_data_channel(a.pc, "d", NULL);
    rtc_pc_datachannel_set_callbacks(a.dc, &dc_cb, &a);
    exchange(&a, &b, tamper_fp, NULL);
    RUN_UNTIL(b.state == RTC_PC_STATE_FAILED, 10000);
    ck_assert_int_eq(b.state, RTC_PC_STATE_FAILED);
    ck_assert(rtc_peer_connection_dtls_client(b.pc));
    ck_assert_int_eq(a.dc_opened, 0);
}
END_TEST

/* The SFU model: one ICE-lite runtime with one shared port serves several clients. */
START_TEST(shared_port_lite_server_many_clients) {
    rtc_pc_runtime_config_t rc;
    rtc_pc_runtime_config_init(&rc);
    rc.shared_port = 0;
    /* Pick a free port by binding once. */
    rtc_addr_t any;
    rtc_addr_parse(&any, "127.0.0.1:0", 0);
    rtc_udp_socket_t *probe;
    ck_assert_int_eq(rtc_udp_socket_open(&any, NULL, &probe), RTC_OK);
    rc.shared_port = rtc_udp_socket_local(probe)->port;
    rtc_udp_socket_close(probe);
    rtc_net_filter_add_prefix(&rc.filter, "127.0.0.1");
    rc.filter.ipv6 = false;
    rtc_pc_runtime_t *srv = rtc_pc_runtime_create(&loop, &rc);
    ck_assert_ptr_nonnull(srv);
    enum { K = 4 };
    peer_t cl[K], sv[K];
    for (int i = 0; i < K; i++) {
        peer_init(&cl[i], "client", rt_plain, false);
        peer_init(&sv[i], "sfu", srv, true);
        sv[i].echo = true;
        cl[i].dc = rtc_peer_connection_create_data_channel(cl[i].pc, "d", NULL);
        rtc_pc_datachannel_set_callbacks(cl[i].dc, &dc_cb, &cl[i]);
        exchange(&cl[i], &sv[i], NULL, NULL);
    }
    bool all = false;
    RUN_UNTIL((all = cl[0].dc_opened && cl[1].dc_opened && cl[2].dc_opened && cl[3].dc_opened), 15000);
    ck_assert(all);
    for (int i = 0; i < K; i++) send_numbered(cl[i].dc, 0, 100 + (size_t)i);
    RUN_UNTIL(cl[0].n_msgs && cl[1].n_msgs && cl[2].n_msgs && cl[3].n_msgs, 5000);
    for (int i = 0; i < K; i++) {
        ck_assert_int_eq(cl[i].n_msgs, 1);
        ck_assert_uint_eq(cl[i].last_len, 100 + (size_t)i); /* each got its own echo */
        ck_assert_int_eq(sv[i].n_msgs, 1);
    }
    rtc_buf_t st;
    rtc_buf_init(&st);
    rtc_peer_connection_get_stats(sv[2].pc, rtc_clock_now(), &st);
    char port[16];
    snprintf(port, sizeof port, "%u", rc.shared_port);
    ck_assert_ptr_nonnull(strstr((char *)st.data, "\"iceRole\":\"controlled\""));
    rtc_buf_free(&st);
    ck_assert_uint_eq(rtc_pc_runtime_pc_count(srv), K);
    rtc_pc_runtime_destroy(srv);
    uv_run(&loop, UV_RUN_NOWAIT);
}
END_TEST

START_TEST(bad_input_is_refused_without_effect) {
    peer_t a;
    peer_init(&a, "A", rt_plain, false);
    rtc_time_t now = rtc_clock_now();
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a.pc, RTC_PC_SDP_OFFER, "garbage", now), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_peer_connection_signaling_state(a.pc), RTC_PC_SIGNALING_STABLE);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a.pc, RTC_PC_SDP_ANSWER, "v=0\r\n", now) < 0, 1);
    ck_assert_int_eq(rtc_peer_connection_add_ice_candidate(a.pc, "candidate:1 1 udp 1 127.0.0.1 9 typ host", NULL, now),
                     RTC_ERR_STATE);
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_peer_connection_create_answer(a.pc, &b), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_ROLLBACK, NULL, now), RTC_ERR_STATE);
    /* Offer then rollback. */
    rtc_peer_connection_create_data_channel(a.pc, "x", NULL);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_OFFER, NULL, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_signaling_state(a.pc), RTC_PC_SIGNALING_HAVE_LOCAL_OFFER);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_ROLLBACK, NULL, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_signaling_state(a.pc), RTC_PC_SIGNALING_STABLE);
    rtc_buf_free(&b);
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    ck_assert_int_eq(rtc_pc_config_add_ice_server(&cfg, "turn:127.0.0.1:3478", "u", "p"), RTC_OK);
    ck_assert_int_eq(rtc_pc_config_add_ice_server(&cfg, "stun:example.org", NULL, NULL), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_pc_config_add_ice_server(&cfg, "turn:127.0.0.1", NULL, NULL), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_pc_config_add_ice_server(&cfg, "http://x", NULL, NULL), RTC_ERR_INVALID_ARG);
}
END_TEST

/* The a=mid values of an SDP in m-line order, joined with ','. */
static void mid_order(const char *sdp, char *out, size_t cap) {
    out[0] = '\0';
    for (const char *p = strstr(sdp, "a=mid:"); p; p = strstr(p + 1, "a=mid:")) {
        size_t l = strcspn(p + 6, "\r\n");
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", out[0] ? "," : "", (int)l, p + 6);
    }
}

/* p offers (setLocalDescription): returns the offer; *mids gets its mid order. */
static char *offer_with_mids(peer_t *p, char *mids, size_t cap) {
    ck_assert_int_eq(rtc_peer_connection_set_local_description(p->pc, RTC_PC_SDP_OFFER, NULL, rtc_clock_now()), RTC_OK);
    char *o = local_desc(p);
    mid_order(o, mids, cap);
    return o;
}

/* An offer rolled back and made again keeps the withdrawn offer's m-line order: the peer may
 * have applied the withdrawn one (an SFU withdraws an offer whose answer is late or lost), and
 * Chromium refuses a re-offer whose m-line at an index carries a different mid. Both for a
 * first offer (nothing agreed yet: the data channel, created first, stays first) and for a
 * renegotiation that adds sections. */
START_TEST(reoffer_after_rollback_keeps_the_mline_order) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    rtc_time_t now = rtc_clock_now();
    rtc_peer_connection_create_data_channel(a.pc, "starling", NULL);
    rtc_pc_transceiver_init_t init;
    rtc_pc_transceiver_init_defaults(&init);
    init.direction = RTC_SDP_DIR_SENDONLY;
    ck_assert_ptr_nonnull(rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_VIDEO, &init));
    char first[64], again[64];
    char *o1 = offer_with_mids(&a, first, sizeof first);
    ck_assert_str_eq(first, "0,1");
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_ROLLBACK, NULL, now), RTC_OK);
    /* Meanwhile another track came: it follows the withdrawn offer's sections. */
    ck_assert_ptr_nonnull(rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_AUDIO, &init));
    char *o2 = offer_with_mids(&a, again, sizeof again);
    ck_assert_str_eq(again, "0,1,2");
    /* B applied the withdrawn offer (and answered it: that answer is stale now); the new
     * offer is a valid renegotiation for it, and the exchange completes. */
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b.pc, RTC_PC_SDP_OFFER, o1, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b.pc, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b.pc, RTC_PC_SDP_OFFER, o2, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b.pc, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
    RUN_UNTIL(rtc_peer_connection_ice_gathering_state(b.pc) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *ans = local_desc(&b);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(a.pc, RTC_PC_SDP_ANSWER, ans, now), RTC_OK);
    free(ans);
    free(o1);
    free(o2);

    /* A renegotiation rolled back: its new sections keep their places too. */
    ck_assert_ptr_nonnull(rtc_peer_connection_add_transceiver(a.pc, RTC_PC_MEDIA_VIDEO, &init));
    char *o3 = offer_with_mids(&a, first, sizeof first);
    ck_assert_str_eq(first, "0,1,2,3");
    ck_assert_int_eq(rtc_peer_connection_set_local_description(a.pc, RTC_PC_SDP_ROLLBACK, NULL, now), RTC_OK);
    char *o4 = offer_with_mids(&a, again, sizeof again);
    ck_assert_str_eq(again, first);
    free(o3);
    free(o4);
    rtc_pc_runtime_destroy_pc(rt_plain, a.pc);
    rtc_pc_runtime_destroy_pc(rt_plain, b.pc);
}
END_TEST

/* The number after `"key":` in the first stats object of type `type` (-1 when absent). */
static long long stat_of(const char *js, const char *type, const char *key) {
    char t[64], k[64];
    snprintf(t, sizeof t, "\"type\":\"%s\"", type);
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *o = strstr(js, t);
    if (!o) return -1;
    const char *end = strstr(o, "}");
    const char *v = strstr(o, k);
    if (!v || (end && v > end)) return -1;
    return strtoll(v + strlen(k), NULL, 10);
}

/* Bandwidth probing (rtc_peer_connection_probe). A sends ~200 kbps of VP8 to B for 3 s
 * without probing: its TWCC estimate cannot grow past 1.5x what B acknowledges (or the
 * 300 kbps start). Then 3 s more of the same media with a probe cluster (30 ms at twice the
 * estimate) whenever none is out: the estimate climbs far above the media rate, because
 * loopback carries what the probes send. B delivers exactly the media packets (padding-only
 * RTX packets are dropped before the application) and counts no loss or NACK. */
START_TEST(probes_lift_the_estimate_without_loss_at_the_receiver) {
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rt_plain, false);
    rtc_pc_transceiver_t *ta = video_sender(&a);
    exchange(&a, &b, NULL, NULL);
    RUN_UNTIL(a.state == RTC_PC_STATE_CONNECTED && b.state == RTC_PC_STATE_CONNECTED, 10000);
    ck_assert_int_eq(a.state, RTC_PC_STATE_CONNECTED);
    rtc_pc_bandwidth_t bw;
    /* Nothing sent yet: no estimator, nothing to probe on. */
    ck_assert_int_eq(rtc_peer_connection_bandwidth(a.pc, &bw), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_peer_connection_probe(a.pc, 1000000, RTC_MS(30), rtc_clock_now()), RTC_ERR_STATE);
    ck_assert_int_eq(rtc_peer_connection_probe(a.pc, 0, RTC_MS(30), rtc_clock_now()), RTC_ERR_INVALID_ARG);

    uint8_t frame[800];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 7);
    int frames = 0;
    uint64_t max_without = 0, max_with = 0;
    for (int phase = 0; phase < 2; phase++) {
        uint64_t start_ms = uv_now(&loop);
        while (uv_now(&loop) - start_ms < 3000) {
            ck_assert_int_eq(rtc_pc_transceiver_send_frame(ta, "VP8", frame, sizeof frame, (uint32_t)(frames * 3000),
                                                           rtc_clock_now()),
                             RTC_OK);
            frames++;
            if (phase == 1) {
                rtc_peer_connection_bandwidth(a.pc, &bw);
                if (!bw.probing && bw.target_bps < 15000000)
                    ck_assert_int_eq(rtc_peer_connection_probe(a.pc, 2 * bw.target_bps, RTC_MS(30), rtc_clock_now()),
                                     RTC_OK);
                else if (bw.probing)
                    ck_assert_int_eq(rtc_peer_connection_probe(a.pc, 1000000, RTC_MS(30), rtc_clock_now()),
                                     RTC_ERR_AGAIN);
            }
            RUN_UNTIL(false, 33);
            ck_assert_int_eq(rtc_peer_connection_bandwidth(a.pc, &bw), RTC_OK);
            uint64_t *mx = phase ? &max_with : &max_without;
            if (bw.target_bps > *mx) *mx = bw.target_bps;
        }
        if (phase == 0) {
            ck_assert_uint_eq(bw.probes, 0);
            ck_assert_uint_eq(bw.probe_packets, 0);
        }
    }
    RUN_UNTIL(b.rtp_packets >= frames, 3000);
    RUN_UNTIL(false, 1600); /* receiver reports */
    rtc_peer_connection_bandwidth(a.pc, &bw);
    /* The media rate: 800-byte frames, ~30 a second (what the loop managed), on the wire. */
    rtc_buf_t st;
    rtc_buf_init(&st);
    ck_assert_int_eq(rtc_peer_connection_get_stats(a.pc, rtc_clock_now(), &st), RTC_OK);
    long long a_sent = stat_of((const char *)st.data, "outbound-rtp", "packetsSent");
    long long a_lost = stat_of((const char *)st.data, "remote-inbound-rtp", "packetsLost");
    rtc_buf_free(&st);
    double media_bps = (double)frames * (sizeof frame + 40) * 8 / 6.0;
    printf("probing: media %.0f kbps; estimate max %.0f kbps without probes, %.0f kbps with "
           "(%llu clusters, %llu packets, %llu bytes; last cluster measured %.0f kbps)\n",
           media_bps / 1e3, (double)max_without / 1e3, (double)max_with / 1e3, (unsigned long long)bw.probes,
           (unsigned long long)bw.probe_packets, (unsigned long long)bw.probe_bytes, (double)bw.last_probe_bps / 1e3);
    /* Without probes: held at the 300 kbps start / 1.5x the acknowledged media. */
    ck_assert_double_le((double)max_without, 1.5 * media_bps * 1.2 + 10e3 > 300e3 ? 1.5 * media_bps * 1.2 + 10e3 : 300e3);
    /* With probes: several times the media rate and the estimate without probes. */
    ck_assert_uint_ge(bw.probes, 2);
    ck_assert_double_ge((double)max_with, 5 * media_bps);
    ck_assert_uint_ge(max_with, 3 * max_without);
    /* The receiver: exactly the media packets delivered, no loss, no NACK. */
    ck_assert_int_eq(a_sent, frames);
    ck_assert_int_eq(b.rtp_packets, frames);
    rtc_buf_init(&st);
    ck_assert_int_eq(rtc_peer_connection_get_stats(b.pc, rtc_clock_now(), &st), RTC_OK);
    const char *js = (const char *)st.data;
    ck_assert_int_eq(stat_of(js, "inbound-rtp", "packetsReceived"), frames);
    ck_assert_int_eq(stat_of(js, "inbound-rtp", "packetsLost"), 0);
    ck_assert_int_eq(stat_of(js, "inbound-rtp", "nackCount"), 0);
    rtc_buf_free(&st);
    ck_assert_int_le(a_lost, 0);
}
END_TEST

static void count_tick(uv_timer_t *t) { (*(int *)t->data)++; }

/* B stalls (its loop does not run, as when its process is stopped) while A keeps sending:
 * B's socket fills up and the kernel drops the rest, thousands of transport-wide sequence
 * numbers in a row, more than one TWCC feedback has room for. Once B runs again its loop must
 * keep turning (feedback used to stop at the gap, its deadline stayed due, and the timer
 * re-armed for 0 ms held the loop: libuv before 1.45 runs it again in the same pass) and A
 * must hear about the loss and about what B received after it. Seen in the SFU as a worker
 * frozen ~30 s after the process was stopped for 6 s. */
START_TEST(receiver_stall_long_loss_run_feedback_goes_on) {
    uv_loop_t lb;
    ck_assert_int_eq(uv_loop_init(&lb), 0);
    rtc_pc_runtime_t *rtb = rtc_pc_runtime_create(&lb, NULL);
    ck_assert_ptr_nonnull(rtb);
    peer_t a, b;
    peer_init(&a, "A", rt_plain, false);
    peer_init(&b, "B", rtb, false);
    rtc_pc_transceiver_t *ta = video_sender(&a);
    exchange_on(&a, &b, &lb, NULL, NULL);
    RUN_BOTH(&lb, a.state == RTC_PC_STATE_CONNECTED && b.state == RTC_PC_STATE_CONNECTED, 10000);
    ck_assert_int_eq(b.state, RTC_PC_STATE_CONNECTED);

    uint8_t frame[800];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 13);
    uint32_t ts = 0;
    /* One second of media at ~30 packets a second, both running. */
    for (int i = 0; i < 30; i++) {
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(ta, "VP8", frame, sizeof frame, ts += 3000, rtc_clock_now()), RTC_OK);
        RUN_BOTH(&lb, false, 33);
    }
    /* B stalls; A sends 6000 packets (B's 2 MiB socket buffer holds well under 2000 of them). */
    for (int i = 0; i < 6000; i++) {
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(ta, "VP8", frame, sizeof frame, ts += 3000, rtc_clock_now()), RTC_OK);
        if (i % 100 == 0) uv_run(&loop, UV_RUN_NOWAIT);
    }
    /* B runs again: its loop keeps turning, A hears about the loss and what came after. */
    int ticks = 0;
    uv_timer_t tick;
    uv_timer_init(&lb, &tick);
    tick.data = &ticks;
    uv_timer_start(&tick, count_tick, 10, 10);
    rtc_pc_bandwidth_t bw;
    double max_loss = 0;
    uint64_t acked_late = 0;
    for (int i = 0; i < 60; i++) {
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(ta, "VP8", frame, sizeof frame, ts += 3000, rtc_clock_now()), RTC_OK);
        RUN_BOTH(&lb, false, 33);
        ck_assert_int_eq(rtc_peer_connection_bandwidth(a.pc, &bw), RTC_OK);
        if (bw.loss > max_loss) max_loss = bw.loss;
        if (i >= 40) acked_late = bw.acked_bps > acked_late ? bw.acked_bps : acked_late;
    }
    rtc_buf_t st;
    rtc_buf_init(&st);
    ck_assert_int_eq(rtc_peer_connection_get_stats(b.pc, rtc_clock_now(), &st), RTC_OK);
    /* Lost in the stall: what A sent less what B got (a jump that long is a sequence restart
     * for RFC 3550's packetsLost, which does not count it). */
    long long lost = 30 + 6000 + 60 - stat_of((const char *)st.data, "inbound-rtp", "packetsReceived");
    rtc_buf_free(&st);
    printf("receiver stall: %lld packets lost at B; B's loop ticked %d times in ~2 s; A's estimator "
           "saw loss up to %.2f, acked %llu bit/s at the end\n", lost, ticks, max_loss, (unsigned long long)acked_late);
    fflush(stdout);
    /* The stall lost a run longer than one feedback's room (392 received packets of 1200 bytes). */
    ck_assert_int_ge(lost, 1000);
    ck_assert_int_ge(ticks, 50);
    ck_assert_double_ge(max_loss, 0.1);
    ck_assert_uint_gt(acked_late, 0);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    rtc_pc_runtime_destroy(rtb);
    for (int i = 0; i < 5; i++) uv_run(&lb, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&lb), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("pc");
    TCase *tc = tcase_create("loopback");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, datachannel_ordered_mixed_sizes_echo);
    tcase_add_test(tc, datachannel_negotiated_and_unordered);
    tcase_add_test(tc, reoffer_after_rollback_keeps_the_mline_order);
    tcase_add_test(tc, media_vp8_frames_reflected_with_rtcp);
    tcase_add_test(tc, media_large_rtp_packets_received_and_forwarded);
    tcase_add_test(tc, renegotiation_from_answerer_adds_audio);
    tcase_add_test(tc, sections_in_creation_order_bundle_tag_kept);
    tcase_add_test(tc, ice_restart_keeps_data_flowing);
    tcase_add_test(tc, fingerprint_mismatch_fails_dtls_server);
    tcase_add_test(tc, fingerprint_mismatch_fails_dtls_client);
    tcase_add_test(tc, shared_port_lite_server_many_clients);
    tcase_add_test(tc, bad_input_is_refused_without_effect);
    tcase_add_test(tc, probes_lift_the_estimate_without_loss_at_the_receiver);
    tcase_add_test(tc, receiver_stall_long_loss_run_feedback_goes_on);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rtc_log_set_level(getenv("RTC_LOG") ? RTC_LOG_DEBUG : RTC_LOG_WARN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
