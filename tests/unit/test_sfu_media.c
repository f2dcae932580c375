/* The SFU's media engine end to end over loopback UDP: three of our own PeerConnection
 * clients (each a publisher and a subscriber PeerConnection, as a browser or the loadtest
 * has them) join a room whose participants' media runs on sfu/media_pc.c (ICE-lite, one
 * shared port), signalled through the room exactly as the bus would carry it. Two publish
 * (VP8 from the libvpx fixtures, Opus), all three receive each other's media and data:
 * every subscriber gets each track as a clean RTP stream that a real decoder decodes, data
 * channel messages reach the others, a subscriber's PLI reaches the publisher, and a
 * participant that leaves disappears from the others' subscriber PeerConnections.
 *
 * Needs the PeerConnection layer (rtc/pc.h); without it the suite reports a skip. */
#if __has_include("rtc/pc.h")
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "rtc/pc.h"
#include "rtc/sdp.h"
#include "sfu/media_pc.h"
#include "sfu/room.h"
#include "unit/sfu/media_room.h"
#include "unit/sfu/pc_client.h"
#include "unit/sfu_fixture.h"

static uv_loop_t loop;
static sfu_room_t *room;
static void *engine;
static rtc_pc_runtime_t *rt_clients;

/* ------------------------------------------------------------------------------------------
 * Clients.
 */
#define MAX_RX 8

typedef struct {
    char track[SFU_ID_MAX + 1];
    char stream[SFU_ID_MAX + 1];
    bool video;
    sfu_test_rx_t got;
} rx_t;

typedef struct {
    const char *pid, *identity;
    rtc_peer_connection_t *pub, *sub;
    rtc_pc_transceiver_t *pub_video, *pub_audio;
    rtc_pc_datachannel_t *pub_dc, *sub_dc;
    rtc_pc_state_t pub_state, sub_state;
    bool pub_dc_open, sub_dc_open;
    bool answer_pending;
    bool manual;             /* the test answers subscriber offers itself (pump only records) */
    int offers, answers_sent, keyframe_requests;
    cJSON *msgs[256];
    int n_msgs;
    char dc_msgs[16][256];
    int n_dc;
    rx_t rx[MAX_RX];
    int n_rx;
} client_t;

static client_t clients[3];

static client_t *client_of(const char *pid) {
    for (int i = 0; i < 3; i++)
        if (clients[i].pid && !strcmp(clients[i].pid, pid)) return &clients[i];
    return NULL;
}

static void pump(void);
#define RUN_UNTIL(cond, ms) SFU_TEST_RUN_UNTIL(&loop, cond, ms, pump)

static void pub_state(void *u, rtc_pc_state_t s) { ((client_t *)u)->pub_state = s; }
static void sub_state(void *u, rtc_pc_state_t s) { ((client_t *)u)->sub_state = s; }

static void pub_dc_open(void *u, rtc_pc_datachannel_t *d) { (void)d; ((client_t *)u)->pub_dc_open = true; }
static void sub_dc_open(void *u, rtc_pc_datachannel_t *d) { (void)d; ((client_t *)u)->sub_dc_open = true; }
static void sub_dc_msg(void *u, rtc_pc_datachannel_t *d, const uint8_t *p, size_t n, bool is_string) {
    (void)d;
    client_t *c = u;
    ck_assert(is_string);
    if (c->n_dc < 16) snprintf(c->dc_msgs[c->n_dc++], 256, "%.*s", (int)n, (const char *)p);
}
static const rtc_pc_datachannel_callbacks_t pub_dc_cb = {pub_dc_open, NULL, NULL, NULL, NULL, NULL};
static const rtc_pc_datachannel_callbacks_t sub_dc_cb = {sub_dc_open, sub_dc_msg, NULL, NULL, NULL, NULL};

static void on_sub_dc(void *u, rtc_pc_datachannel_t *d) {
    client_t *c = u;
    ck_assert_str_eq(rtc_pc_datachannel_label(d), "starling");
    c->sub_dc = d;
    rtc_pc_datachannel_set_callbacks(d, &sub_dc_cb, c);
    if (rtc_pc_datachannel_state(d) == RTC_DC_OPEN) c->sub_dc_open = true;
}

/* Which remote track a subscriber transceiver carries: the msid of its m-line. */
static rx_t *rx_of(client_t *c, rtc_pc_transceiver_t *t) {
    rx_t *r = rtc_pc_transceiver_user(t);
    if (r) return r;
    const char *mid = rtc_pc_transceiver_mid(t);
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_peer_connection_remote_description(c->sub, &b, NULL), RTC_OK);
    rtc_sdp_t sdp;
    ck_assert_int_eq(rtc_sdp_parse(b.data, b.len, &sdp, NULL), RTC_OK);
    rtc_sdp_media_t *m = rtc_sdp_find_mid(&sdp, mid);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_ge(m->n_msids, 1);
    ck_assert_int_lt(c->n_rx, MAX_RX);
    r = &c->rx[c->n_rx++];
    memset(r, 0, sizeof *r);
    snprintf(r->track, sizeof r->track, "%s", m->msids[0].track);
    snprintf(r->stream, sizeof r->stream, "%s", m->msids[0].stream);
    r->video = m->kind == RTC_SDP_MEDIA_VIDEO;
    sfu_test_rx_open(&r->got, "sfu_media");
    rtc_sdp_free(&sdp);
    rtc_buf_free(&b);
    rtc_pc_transceiver_set_user(t, r);
    return r;
}

static void on_sub_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n,
                       const rtc_pc_rtp_info_t *info) {
    (void)info;
    sfu_test_rx_packet(&rx_of(u, t)->got, p, n);
}

static void on_pub_keyframe(void *u, rtc_pc_transceiver_t *t, bool fir) {
    (void)t;
    (void)fir;
    ((client_t *)u)->keyframe_requests++;
}

static rtc_peer_connection_t *client_pc(client_t *c, bool publisher) {
    static const rtc_pc_callbacks_t pub_cb = {.on_connection_state = pub_state,
                                              .on_keyframe_request = on_pub_keyframe};
    static const rtc_pc_callbacks_t sub_cb = {.on_connection_state = sub_state,
                                              .on_datachannel = on_sub_dc, .on_rtp = on_sub_rtp};
    return sfu_test_client_pc(rt_clients, c->identity, publisher, publisher ? &pub_cb : &sub_cb, c);
}

/* ------------------------------------------------------------------------------------------
 * The room's messages, delivered to the clients the way signal would.
 */
typedef struct {
    char pid[SFU_ID_MAX + 1];
    char type[32];
    cJSON *payload;
} qmsg_t;
static qmsg_t queue_[1024];
static size_t q_head, q_tail;

static void env_send(void *user, sfu_room_t *r, sfu_participant_t *p, const char *type, cJSON *payload) {
    (void)user;
    (void)r;
    ck_assert_uint_lt(q_tail, 1024);
    qmsg_t *m = &queue_[q_tail++];
    snprintf(m->pid, sizeof m->pid, "%s", sfu_participant_id(p));
    snprintf(m->type, sizeof m->type, "%s", type);
    m->payload = payload;
}

static void bus(const char *json) {
    sfu_bus_msg_t m;
    char why[200];
    ck_assert_msg(sfu_bus_parse(json, strlen(json), &m, why, sizeof why) == RTC_OK, "%s", why);
    sfu_room_handle_bus(room, &m, rtc_clock_now());
    sfu_bus_msg_free(&m);
}

static void send_sdp(client_t *c, const char *type, const char *pc, const char *sdp, const char *tracks) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "room", "e2e");
    cJSON_AddStringToObject(o, "participant", c->pid);
    cJSON *pl = cJSON_AddObjectToObject(o, "payload");
    cJSON_AddStringToObject(pl, "type", type);
    cJSON_AddStringToObject(pl, "pc", pc);
    cJSON_AddStringToObject(pl, "sdp", sdp);
    if (tracks) cJSON_AddItemToObject(pl, "tracks", cJSON_Parse(tracks));
    char *s = cJSON_PrintUnformatted(o);
    bus(s);
    free(s);
    cJSON_Delete(o);
}

static void pump(void) {
    while (q_head < q_tail) {
        qmsg_t *m = &queue_[q_head++];
        client_t *c = client_of(m->pid);
        ck_assert_ptr_nonnull(c);
        rtc_time_t now = rtc_clock_now();
        const cJSON *sdp = cJSON_GetObjectItem(m->payload, "sdp");
        if (c->manual) {
            /* recorded below, nothing applied */
        } else if (!strcmp(m->type, "offer")) {
            c->offers++;
            ck_assert_int_eq(rtc_peer_connection_set_remote_description(c->sub, RTC_PC_SDP_OFFER,
                                                                         sdp->valuestring, now), RTC_OK);
            ck_assert_int_eq(rtc_peer_connection_set_local_description(c->sub, RTC_PC_SDP_ANSWER, NULL, now),
                             RTC_OK);
            c->answer_pending = true;
        } else if (!strcmp(m->type, "answer")) {
            ck_assert_int_eq(rtc_peer_connection_set_remote_description(c->pub, RTC_PC_SDP_ANSWER,
                                                                         sdp->valuestring, now), RTC_OK);
        } else if (!strcmp(m->type, "error")) {
            char *s = cJSON_PrintUnformatted(m->payload);
            ck_abort_msg("%s got an error: %s", c->pid, s);
        }
        ck_assert_int_lt(c->n_msgs, 256);
        c->msgs[c->n_msgs++] = m->payload;
        m->payload = NULL;
    }
    /* Answers go once gathering is complete (no trickle, like the loadtest). */
    for (int i = 0; i < 3; i++) {
        client_t *c = &clients[i];
        if (!c->answer_pending ||
            rtc_peer_connection_ice_gathering_state(c->sub) != RTC_ICE_GATHERING_COMPLETE)
            continue;
        c->answer_pending = false;
        char *a = sfu_test_local_desc(c->sub);
        send_sdp(c, "answer", "subscriber", a, NULL);
        c->answers_sent++;
        free(a);
    }
}

static int count_msgs(const client_t *c, const char *type) {
    int n = 0;
    for (int i = 0; i < c->n_msgs; i++)
        if (!strcmp(cJSON_GetObjectItem(c->msgs[i], "type")->valuestring, type)) n++;
    return n;
}

static void client_join(client_t *c, const char *pid, const char *identity) {
    memset(c, 0, sizeof *c);
    c->pid = pid;
    c->identity = identity;
    c->pub = client_pc(c, true);
    c->sub = client_pc(c, false);
    char j[256];
    snprintf(j, sizeof j, "{\"type\":\"join\",\"room\":\"e2e\",\"participant\":\"%s\",\"signal\":\"sig\","
             "\"payload\":{\"identity\":\"%s\"}}", pid, identity);
    bus(j);
}

static void client_publish(client_t *c, bool video, bool audio) {
    if (video) c->pub_video = rtc_peer_connection_add_transceiver(c->pub, RTC_PC_MEDIA_VIDEO, NULL);
    if (audio) c->pub_audio = rtc_peer_connection_add_transceiver(c->pub, RTC_PC_MEDIA_AUDIO, NULL);
    c->pub_dc = rtc_peer_connection_create_data_channel(c->pub, "starling", NULL);
    rtc_pc_datachannel_set_callbacks(c->pub_dc, &pub_dc_cb, c);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(c->pub, RTC_PC_SDP_OFFER, NULL, rtc_clock_now()),
                     RTC_OK);
    RUN_UNTIL(rtc_peer_connection_ice_gathering_state(c->pub) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *offer = sfu_test_local_desc(c->pub);
    char labels[200];
    snprintf(labels, sizeof labels, "[{\"mid\":\"0\",\"source\":\"%s\",\"name\":\"%s-0\"}]",
             video ? "camera" : "microphone", c->identity);
    send_sdp(c, "offer", "publisher", offer, labels);
    free(offer);
}

/* ------------------------------------------------------------------------------------------
 * Fixture.
 */
static void setup(void) {
    uv_loop_init(&loop);
    rt_clients = sfu_test_runtime_new(&loop);
    engine = sfu_test_media_engine_new(&loop, RTC_MS(300)); /* test_offers_are_made_again */
    room = sfu_test_room_new("e2e", engine, env_send);
    q_head = q_tail = 0;
}

static void teardown(void) {
    sfu_room_free(room);
    sfu_media_pc_free(engine);
    rtc_pc_runtime_destroy(rt_clients);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < clients[i].n_msgs; k++) cJSON_Delete(clients[i].msgs[k]);
        for (int k = 0; k < clients[i].n_rx; k++) sfu_test_rx_close(&clients[i].rx[k].got);
    }
    for (size_t i = q_head; i < q_tail; i++) cJSON_Delete(queue_[i].payload);
    memset(clients, 0, sizeof clients);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static rx_t *rx_for(client_t *c, const char *stream, bool video) {
    for (int i = 0; i < c->n_rx; i++)
        if (!strcmp(c->rx[i].stream, stream) && c->rx[i].video == video) return &c->rx[i];
    return NULL;
}

static bool have_decoder(void) {
    return system("/usr/bin/python3 -c 'import aiortc, av' >/dev/null 2>&1") == 0;
}

START_TEST(test_three_peers_media_and_data_through_the_sfu) {
    client_t *a = &clients[0], *b = &clients[1], *c = &clients[2];
    client_join(a, "PA_a", "alice");
    client_join(b, "PA_b", "bob");
    client_join(c, "PA_c", "carol");
    /* Everyone gets a subscriber offer (data channel only so far) and answers it. */
    RUN_UNTIL(a->answers_sent && b->answers_sent && c->answers_sent, 5000);
    ck_assert_int_ge(count_msgs(c, "joined"), 1);
    /* alice publishes VP8 video and Opus audio, bob Opus audio. */
    client_publish(a, true, true);
    client_publish(b, false, true);
    RUN_UNTIL(a->pub_state == RTC_PC_STATE_CONNECTED && b->pub_state == RTC_PC_STATE_CONNECTED &&
              a->sub_state == RTC_PC_STATE_CONNECTED && c->sub_state == RTC_PC_STATE_CONNECTED &&
              b->sub_state == RTC_PC_STATE_CONNECTED, 15000);
    ck_assert_int_eq(a->pub_state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(c->sub_state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_ge(count_msgs(c, "track_published"), 3);
    ck_assert_uint_eq(sfu_room_track_count(room), 3);
    /* The renegotiations that added the tracks are answered. */
    RUN_UNTIL(c->offers >= 2 && !c->answer_pending && b->offers >= 2 && !b->answer_pending, 5000);
    RUN_UNTIL(a->pub_dc_open && b->sub_dc_open && c->sub_dc_open, 10000);
    ck_assert(a->pub_dc_open && c->sub_dc_open);

    /* alice sends 2 s of the libvpx 160x90 layer, bob Opus frames. */
    fx_stream_t s;
    ck_assert_int_eq(fx_load(&s, "vp8_h"), 0);
    int vp8_pt = rtc_pc_transceiver_payload_type(a->pub_video, "VP8");
    ck_assert_int_ge(vp8_pt, 96);
    uint64_t t0 = uv_now(&loop);
    size_t sent = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (size_t i = 0; i < s.n; i++) {
            uint8_t buf[1500];
            memcpy(buf, s.pkts[i].pkt, s.pkts[i].len);
            buf[1] = (uint8_t)((buf[1] & 0x80) | vp8_pt);
            rtc_put_be16(buf + 2, (uint16_t)(rtc_be16(buf + 2) + rep * s.n));
            rtc_put_be32(buf + 4, rtc_be32(buf + 4) + (uint32_t)rep * 90000u);
            uint64_t due = t0 + s.pkts[i].arrival_ms + 1000u * (uint64_t)rep;
            RUN_UNTIL(uv_now(&loop) >= due, 100);
            ck_assert_int_eq(rtc_pc_transceiver_send_rtp(a->pub_video, buf, s.pkts[i].len, rtc_clock_now()), RTC_OK);
            sent++;
            if (i % 3 == 0) {
                const uint8_t opus[] = {0xfc, 0xff, 0xfe};
                ck_assert_int_eq(rtc_pc_transceiver_send_frame(b->pub_audio, "opus", opus, 3,
                                                               (uint32_t)(rep * 48000 + i * 1600), rtc_clock_now()),
                                 RTC_OK);
                ck_assert_int_eq(rtc_pc_transceiver_send_frame(a->pub_audio, "opus", opus, 3,
                                                               (uint32_t)(rep * 48000 + i * 1600), rtc_clock_now()),
                                 RTC_OK);
            }
        }
    }
    RUN_UNTIL(false, 500);
    /* carol's subscriber leg has a bandwidth estimate from TWCC feedback, and the room uses
     * it for her layer choice. */
    uint64_t est = sfu_participant_bandwidth(sfu_room_find(room, "PA_c"));
    ck_assert_uint_gt(est, 0);
    /* bob and carol got alice's video; alice and carol got bob's audio; nobody their own. */
    rx_t *bv = rx_for(b, "PA_a", true), *cv = rx_for(c, "PA_a", true);
    rx_t *aa = rx_for(a, "PA_b", false), *ca = rx_for(c, "PA_b", false);
    ck_assert_ptr_nonnull(bv);
    ck_assert_ptr_nonnull(cv);
    ck_assert_ptr_nonnull(aa);
    ck_assert_ptr_nonnull(ca);
    ck_assert_ptr_null(rx_for(a, "PA_a", true));
    ck_assert_ptr_null(rx_for(b, "PA_b", false));
    ck_assert_uint_ge(bv->got.packets, sent * 9 / 10);
    ck_assert_uint_ge(cv->got.packets, sent * 9 / 10);
    ck_assert_uint_eq(bv->got.gaps, 0);
    ck_assert_uint_eq(cv->got.gaps, 0);
    ck_assert_uint_ge(ca->got.packets, 15);
    ck_assert_uint_eq(ca->got.gaps, 0);
    /* alice's own audio reached the others too, on its own transceiver. */
    rx_t *ba = rx_for(b, "PA_a", false), *caa = rx_for(c, "PA_a", false);
    ck_assert_ptr_nonnull(ba);
    ck_assert_ptr_nonnull(caa);
    ck_assert_uint_ge(caa->got.packets, 15);
    ck_assert_uint_eq(caa->got.gaps, 0);
    if (have_decoder()) {
        fflush(cv->got.dump);
        char cmd[512];
        const char *src = getenv("SRC_DIR");
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/sfu/decode_rtp.py vp8 %s | tail -1",
                 src ? src : ".", cv->got.dump_path);
        FILE *p = popen(cmd, "r");
        char line[128] = "";
        ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
        int st = pclose(p);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "carol's video does not decode: %s", line);
        int frames = 0, decoded = 0;
        ck_assert_int_eq(sscanf(line, "frames %d decoded %d", &frames, &decoded), 2);
        ck_assert_int_ge(frames, 50);
        ck_assert_int_eq(decoded, frames);
    }

    /* Packets above 1200 bytes (aiortc's VP8 packetizer makes 1300-byte ones; a full
     * 1500-byte datagram is the limit) reach the subscribers whole: the last frame's packet
     * again, its payload grown, with the following sequence numbers and timestamps. */
    const fx_packet_t *last = &s.pkts[s.n - 1];
    uint32_t bv_before = bv->got.packets, cv_before = cv->got.packets;
    const size_t sizes[] = {1300, 1400, 1460};
    for (int k = 0; k < 6; k++) {
        uint8_t big[1500];
        size_t len = sizes[k % 3];
        memset(big, 0x33, sizeof big);
        memcpy(big, last->pkt, last->len < len ? last->len : len);
        big[1] = (uint8_t)(0x80 | vp8_pt);
        rtc_put_be16(big + 2, (uint16_t)(rtc_be16(last->pkt + 2) + s.n + 1 + (size_t)k));
        rtc_put_be32(big + 4, rtc_be32(last->pkt + 4) + 90000u + 3000u * (uint32_t)(k + 1));
        ck_assert_int_eq(rtc_pc_transceiver_send_rtp(a->pub_video, big, len, rtc_clock_now()), RTC_OK);
        RUN_UNTIL(false, 20);
    }
    RUN_UNTIL(bv->got.packets >= bv_before + 6 && cv->got.packets >= cv_before + 6, 3000);
    ck_assert_uint_eq(bv->got.packets, bv_before + 6);
    ck_assert_uint_eq(cv->got.packets, cv_before + 6);
    ck_assert_uint_ge(cv->got.max_len, 1460);
    ck_assert_uint_eq(cv->got.gaps, 0);
    fx_free(&s);

    /* Data: alice's publisher channel to the room, over the others' subscriber channels, as
     * {"from","payload"} (docs/signalling.md); her own message does not come back to her. */
    ck_assert_int_eq(rtc_pc_datachannel_send(a->pub_dc, "hello room", 10, true), RTC_OK);
    ck_assert_int_eq(rtc_pc_datachannel_send(a->pub_dc, "second", 6, true), RTC_OK);
    RUN_UNTIL(b->n_dc >= 2 && c->n_dc >= 2, 5000);
    ck_assert_str_eq(c->dc_msgs[0], "{\"from\":\"PA_a\",\"payload\":\"hello room\"}");
    ck_assert_str_eq(b->dc_msgs[1], "{\"from\":\"PA_a\",\"payload\":\"second\"}");
    RUN_UNTIL(false, 200);
    ck_assert_int_eq(a->n_dc, 0);
    /* Through the bus (to one participant): signalling when... carol's channel is open, so
     * it arrives there. */
    bus("{\"type\":\"data\",\"room\":\"e2e\",\"participant\":\"PA_b\",\"payload\":{\"payload\":\"psst\",\"to\":[\"PA_c\"]}}");
    RUN_UNTIL(c->n_dc >= 3, 5000);
    ck_assert_str_eq(c->dc_msgs[2], "{\"from\":\"PA_b\",\"payload\":\"psst\"}");
    ck_assert_int_eq(a->n_dc, 0);

    /* carol's PLI on alice's video reaches alice (through the throttle). */
    int before = a->keyframe_requests;
    for (size_t i = 0; i < rtc_peer_connection_transceiver_count(c->sub); i++) {
        rtc_pc_transceiver_t *t = rtc_peer_connection_transceiver(c->sub, i);
        if (rtc_pc_transceiver_user(t) == cv) rtc_pc_transceiver_request_keyframe(t, rtc_clock_now());
    }
    RUN_UNTIL(a->keyframe_requests > before, 3000);
    ck_assert_int_gt(a->keyframe_requests, before);

    /* alice leaves: the others are told and renegotiated without her track. */
    int c_offers = c->offers;
    bus("{\"type\":\"leave\",\"room\":\"e2e\",\"participant\":\"PA_a\",\"payload\":{\"reason\":\"left\"}}");
    RUN_UNTIL(c->offers > c_offers && !c->answer_pending, 5000);
    ck_assert_int_eq(count_msgs(c, "participant_left"), 1);
    ck_assert_uint_eq(sfu_room_track_count(room), 1);
    ck_assert_uint_eq(sfu_room_participant_count(room), 2);
}
END_TEST

/* A client that vanishes (no close, no BYE, no more packets: a laptop lid shut) is taken out
 * of the room when the SFU's PeerConnections lose ICE consent (RFC 7675: 30 s). */
START_TEST(test_vanished_client_is_removed_on_consent_loss) {
    client_t *a = &clients[0], *b = &clients[1];
    client_join(a, "PA_a", "alice");
    client_join(b, "PA_b", "bob");
    RUN_UNTIL(a->answers_sent && b->answers_sent, 5000);
    client_publish(a, true, false);
    RUN_UNTIL(a->pub_state == RTC_PC_STATE_CONNECTED && b->sub_state == RTC_PC_STATE_CONNECTED &&
              a->sub_state == RTC_PC_STATE_CONNECTED && b->offers >= 2 && !b->answer_pending, 15000);
    ck_assert_int_eq(a->pub_state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(count_msgs(b, "track_published"), 1);
    /* alice's PeerConnections disappear without a word. */
    rtc_pc_runtime_destroy_pc(rt_clients, a->pub);
    rtc_pc_runtime_destroy_pc(rt_clients, a->sub);
    a->pub = a->sub = NULL;
    uint64_t t0 = uv_now(&loop);
    RUN_UNTIL(count_msgs(b, "participant_left") == 1, 45000);
    ck_assert_int_eq(count_msgs(b, "participant_left"), 1);
    uint64_t took = uv_now(&loop) - t0;
    ck_assert_uint_ge(took, 25000); /* consent, not something else */
    cJSON *pl = NULL;
    for (int i = 0; i < b->n_msgs; i++)
        if (!strcmp(cJSON_GetObjectItem(b->msgs[i], "type")->valuestring, "participant_left")) pl = b->msgs[i];
    ck_assert_str_eq(cJSON_GetObjectItem(pl, "reason")->valuestring, "failed");
    ck_assert_str_eq(cJSON_GetObjectItem(pl, "participant_id")->valuestring, "PA_a");
    ck_assert_int_eq(count_msgs(a, "left"), 1); /* sent to her signal process, for the record */
    ck_assert_uint_eq(sfu_room_participant_count(room), 1);
    ck_assert_uint_eq(sfu_room_track_count(room), 0);
    /* bob's subscriber PeerConnection was renegotiated without her track. */
    RUN_UNTIL(b->offers >= 3 && !b->answer_pending, 5000);
    ck_assert_int_ge(b->offers, 3);
}
END_TEST

/* The last message of a type p got (NULL: none), and how many. */
static cJSON *last_msg(const client_t *c, const char *type, int *n) {
    cJSON *last = NULL;
    *n = 0;
    for (int i = 0; i < c->n_msgs; i++)
        if (!strcmp(cJSON_GetObjectItem(c->msgs[i], "type")->valuestring, type)) {
            last = c->msgs[i];
            (*n)++;
        }
    return last;
}

static int offer_id_of(const cJSON *offer) {
    return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(offer, "offer_id"));
}

static void send_answer(client_t *c, const char *sdp, int offer_id) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "answer");
    cJSON_AddStringToObject(o, "room", "e2e");
    cJSON_AddStringToObject(o, "participant", c->pid);
    cJSON *pl = cJSON_AddObjectToObject(o, "payload");
    cJSON_AddStringToObject(pl, "pc", "subscriber");
    cJSON_AddStringToObject(pl, "sdp", sdp);
    cJSON_AddNumberToObject(pl, "offer_id", offer_id);
    char *s = cJSON_PrintUnformatted(o);
    bus(s);
    free(s);
    cJSON_Delete(o);
}

/* A subscriber offer that is never answered (a client whose setRemoteDescription failed, or
 * a message lost on the way), or whose answer the SFU cannot apply, must not block the
 * subscriber leg: the SFU sends it again (on resume at once, else after
 * subscriber.offer_timeout), or rolls back and makes a new one (refused answer), numbering
 * its offers so that a late answer to a withdrawn offer is ignored. Without this, bob never
 * gets alice's tracks. */
START_TEST(test_offers_are_made_again) {
    client_t *a = &clients[0], *b = &clients[1];
    client_join(a, "PA_a", "alice");
    client_join(b, "PA_b", "bob");
    b->manual = true;
    client_publish(a, true, true);
    int n;
    RUN_UNTIL(last_msg(b, "offer", &n) && count_msgs(b, "track_published") == 2, 5000);
    ck_assert_ptr_nonnull(last_msg(b, "offer", &n));
    ck_assert_int_eq(offer_id_of(last_msg(b, "offer", &n)), 1);
    ck_assert_int_eq(n, 1); /* one offer at a time: alice's tracks wait for its answer */

    cJSON *o1 = last_msg(b, "offer", &n);
    const char *sdp1 = cJSON_GetObjectItem(o1, "sdp")->valuestring;

    /* 1. bob reconnects (resume) while offer 1 is out: it is sent again at once, same id. */
    bus("{\"type\":\"resume\",\"room\":\"e2e\",\"participant\":\"PA_b\",\"signal\":\"sig2\"}");
    pump();
    cJSON *again = last_msg(b, "offer", &n);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(offer_id_of(again), 1);
    ck_assert_str_eq(cJSON_GetObjectItem(again, "sdp")->valuestring, sdp1);

    /* 2. Not answered: sent again after the timeout (300 ms here). */
    RUN_UNTIL(count_msgs(b, "offer") == 3, 4000);
    again = last_msg(b, "offer", &n);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(offer_id_of(again), 1);

    /* 3. An answer the SFU cannot apply: an error for bob, offer 1 withdrawn and a new one
     *    made, now with alice's tracks — its first m-line still the data section, as in offer
     *    1 (bob may have applied offer 1; a browser refuses a moved m-line). */
    send_answer(b, "v=0\r\nnot an answer\r\n", 1);
    RUN_UNTIL(count_msgs(b, "offer") == 4, 2000);
    cJSON *err = last_msg(b, "error", &n);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(err, "message")->valuestring, "answer rejected"));
    cJSON *o2 = last_msg(b, "offer", &n);
    ck_assert_int_eq(offer_id_of(o2), 2);
    const char *sdp2 = cJSON_GetObjectItem(o2, "sdp")->valuestring;
    ck_assert_ptr_nonnull(strstr(sdp2, "msid:PA_a "));
    ck_assert_ptr_nonnull(strstr(sdp1, "\r\nm=application"));
    ck_assert_ptr_eq(strstr(sdp2, "\r\nm="), strstr(sdp2, "\r\nm=application"));

    /* 4. bob had applied offer 1 and answers it late: that answer is stale (ignored, no error,
     *    no new offer). He applies offer 2 on top and its answer completes the leg; a repeat
     *    of that answer is ignored too. */
    rtc_time_t now = rtc_clock_now();
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b->sub, RTC_PC_SDP_OFFER, sdp1, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b->sub, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
    RUN_UNTIL(rtc_peer_connection_ice_gathering_state(b->sub) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *ans = sfu_test_local_desc(b->sub);
    send_answer(b, ans, 1);
    free(ans);
    pump();
    ck_assert_int_eq(count_msgs(b, "error"), 1);
    ck_assert_int_eq(rtc_peer_connection_set_remote_description(b->sub, RTC_PC_SDP_OFFER, sdp2, now), RTC_OK);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(b->sub, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
    ans = sfu_test_local_desc(b->sub);
    send_answer(b, ans, 2);
    send_answer(b, ans, 2);
    free(ans);
    RUN_UNTIL(b->sub_state == RTC_PC_STATE_CONNECTED && b->n_rx >= 2, 10000);
    ck_assert_int_eq(b->sub_state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(count_msgs(b, "error"), 1);
    ck_assert_int_eq(count_msgs(b, "offer"), 4); /* and no offer since: the leg is settled */
}
END_TEST

/* Bandwidth probing of a subscriber leg (media_pc.c probe_leg). alice publishes ~1 Mbps of
 * single-layer VP8 (synthetic frames with real VP8 keyframe headers, not decodable: only the
 * rate matters); bob's subscriber leg starts at GCC's 300 kbps. Without probe results GCC's
 * estimate grows at most 8 %/s (multiplicative increase, plus 1 kbps per feedback): after t
 * seconds it is at most 300 kbps x 1.08^t + 10 kbps x t, however the media flows. With the
 * SFU probing toward what the room wants for bob (alice's video + 10 %), bob's estimate goes
 * well past that bound while the video still arrives gapless (the probes are padding-only
 * RTX packets his PeerConnection drops). */
/* 1.08^t, rounded up (1 + 0.08 f >= 1.08^f for the fraction f). */
static double growth_8pct(double t) {
    double r = 1;
    for (; t >= 1; t -= 1) r *= 1.08;
    return r * (1 + 0.08 * t);
}

START_TEST(test_subscriber_leg_is_probed_up_to_what_it_wants) {
    client_t *a = &clients[0], *b = &clients[1];
    client_join(a, "PA_a", "alice");
    client_join(b, "PA_b", "bob");
    RUN_UNTIL(a->answers_sent && b->answers_sent, 5000);
    client_publish(a, true, false);
    RUN_UNTIL(a->pub_state == RTC_PC_STATE_CONNECTED && b->sub_state == RTC_PC_STATE_CONNECTED, 15000);
    ck_assert_int_eq(b->sub_state, RTC_PC_STATE_CONNECTED);
    RUN_UNTIL(b->offers >= 2 && !b->answer_pending, 5000);
    ck_assert(!b->answer_pending);
    sfu_participant_t *pb = sfu_room_find(room, "PA_b");
    ck_assert_ptr_nonnull(pb);

    uint8_t frame[4000];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 31 + 7);
    uint64_t t0 = uv_now(&loop), max_est = 0;
    double max_ratio = 0, elapsed_at_max = 0;
    int frames = 0;
    while (uv_now(&loop) - t0 < 5000) {
        bool key = frames % 15 == 0;
        /* RFC 6386 9.1: frame tag (P = 0 on a keyframe, show_frame), start code, 320x180. */
        frame[0] = key ? 0x10 : 0x11;
        frame[1] = frame[2] = 0;
        if (key) memcpy(frame + 3, "\x9d\x01\x2a\x40\x01\xb4\x00", 7);
        else memset(frame + 3, 0x55, 7);
        ck_assert_int_eq(rtc_pc_transceiver_send_frame(a->pub_video, "VP8", frame, sizeof frame,
                                                       (uint32_t)frames * 3000u, rtc_clock_now()),
                         RTC_OK);
        frames++;
        RUN_UNTIL(false, 33);
        uint64_t est = sfu_participant_bandwidth(pb);
        /* What GCC could reach by now on its own (the time counted from before the first
         * packet, so the bound is generous). */
        double t = (double)(uv_now(&loop) - t0) / 1000.0;
        double bound = 300e3 * growth_8pct(t) + 10e3 * t;
        if ((double)est / bound > max_ratio) {
            max_ratio = (double)est / bound;
            elapsed_at_max = t;
        }
        /* The highest estimate, not the one at the best ratio (on a loaded machine the best
         * ratio can come early, below what the probes reach later). */
        if (est > max_est) max_est = est;
    }
    RUN_UNTIL(false, 300);
    uint64_t wanted = sfu_participant_wanted_bandwidth(pb);
    rx_t *bv = rx_for(b, "PA_a", true);
    ck_assert_ptr_nonnull(bv);
    printf("probing: bob wants %llu bit/s; his estimate reached %llu bit/s; at %.1f s it was %.2fx what GCC "
           "reaches alone by then; %u video packets, %u gaps\n",
           (unsigned long long)wanted, (unsigned long long)max_est, elapsed_at_max, max_ratio, bv->got.packets, bv->got.gaps);
    ck_assert_uint_gt(wanted, 700000);
    ck_assert_double_ge(max_ratio, 1.5);
    ck_assert_uint_ge(max_est, wanted * 9 / 10);
    ck_assert_uint_eq(bv->got.gaps, 0);
    ck_assert_uint_ge(bv->got.packets, (uint32_t)frames * 3u);
}
END_TEST

/* A client whose answers the SFU cannot apply three times in a row cannot agree with it: the
 * participant ends (`left {reason: "failed"}`), after two errors and two offers made anew. */
START_TEST(test_three_refused_answers_end_the_participant) {
    client_t *a = &clients[0], *b = &clients[1];
    client_join(a, "PA_a", "alice");
    client_join(b, "PA_b", "bob");
    b->manual = true;
    int n;
    for (int id = 1; id <= 3; id++) {
        RUN_UNTIL(count_msgs(b, "offer") == id, 5000);
        ck_assert_int_eq(offer_id_of(last_msg(b, "offer", &n)), id);
        ck_assert_int_eq(count_msgs(b, "left"), 0);
        send_answer(b, "v=0\r\nnot an answer\r\n", id);
        pump();
    }
    RUN_UNTIL(count_msgs(b, "left") == 1, 5000);
    ck_assert_int_eq(count_msgs(b, "error"), 3);
    ck_assert_str_eq(cJSON_GetObjectItem(last_msg(b, "left", &n), "reason")->valuestring, "failed");
    ck_assert_int_eq(count_msgs(b, "offer"), 3);
    ck_assert_uint_eq(sfu_room_participant_count(room), 1); /* alice stays */
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_media");
    TCase *tc = tcase_create("media");
    tcase_set_timeout(tc, 150);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_three_peers_media_and_data_through_the_sfu);
    tcase_add_test(tc, test_vanished_client_is_removed_on_consent_loss);
    tcase_add_test(tc, test_offers_are_made_again);
    tcase_add_test(tc, test_three_refused_answers_end_the_participant);
    tcase_add_test(tc, test_subscriber_leg_is_probed_up_to_what_it_wants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#else
#include <stdio.h>
int main(void) {
    puts("test_sfu_media: SKIP: this tree has no PeerConnection layer (rtc/pc.h)");
    return 0;
}
#endif
