/* Rooms end to end without a browser: the starling-sfu binary (two workers, media on
 * 127.0.0.1) and a real redis-server, with this test playing starling-signal on the bus
 * (commands on starling:sfu:{node}, client messages from starling:to-signal:{signal}) and
 * two of our own PeerConnection clients. alice publishes VP8 (the libvpx fixture) and sends
 * data; bob receives her video on his subscriber PeerConnection — decoded by libvpx — and
 * her data on his data channel. Redis is killed and restarted (empty) in the middle: media
 * keeps flowing and the node registers again. Then the SFU is told to drain with SIGTERM
 * while both are in the room: media keeps flowing, and once both leave the process exits.
 *
 * Needs rtc/pc.h (else a skip) and the binary in $BUILD_DIR. */
#if __has_include("rtc/pc.h")
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "common/redis.h"
#include "rtc/pc.h"
#include "rtc/sdp.h"
#include "unit/child_proc.h"
#include "unit/sfu/pc_client.h"
#include "unit/sfu_fixture.h"

static uv_loop_t loop;
static rtc_pc_runtime_t *rt;
static st_redis_t *cmd, *sub;
static pid_t redis_pid, sfu_pid;
static uint16_t redis_port;
static char tmpdir[64];
static const char *NODE = "sfu-e2e";

static void pump(void);
#define RUN_UNTIL(cond, ms) SFU_TEST_RUN_UNTIL(&loop, cond, ms, pump)

/* ------------------------------------------------------------------------------------------
 * Clients (as in test_sfu_media.c, signalled through Redis).
 */
typedef struct {
    const char *pid;
    rtc_peer_connection_t *pub, *sub;
    rtc_pc_transceiver_t *video;
    rtc_pc_datachannel_t *pub_dc;
    rtc_pc_state_t pub_state, sub_state;
    bool pub_dc_open, sub_dc_open, answer_pending;
    int offers;
    char types[64][32];
    int n_types;
    char dc_msg[256];
    sfu_test_rx_t rx; /* the video of the others */
} client_t;

static client_t A, B;

static client_t *client_of(const char *pid) {
    if (A.pid && !strcmp(pid, A.pid)) return &A;
    if (B.pid && !strcmp(pid, B.pid)) return &B;
    return NULL;
}

static void pub_state(void *u, rtc_pc_state_t s) { ((client_t *)u)->pub_state = s; }
static void sub_state(void *u, rtc_pc_state_t s) { ((client_t *)u)->sub_state = s; }
static void pub_dc_open(void *u, rtc_pc_datachannel_t *d) { (void)d; ((client_t *)u)->pub_dc_open = true; }
static void sub_dc_open(void *u, rtc_pc_datachannel_t *d) { (void)d; ((client_t *)u)->sub_dc_open = true; }
static void sub_dc_msg(void *u, rtc_pc_datachannel_t *d, const uint8_t *p, size_t n, bool s) {
    (void)d;
    (void)s;
    snprintf(((client_t *)u)->dc_msg, 256, "%.*s", (int)n, (const char *)p);
}
static const rtc_pc_datachannel_callbacks_t pub_dc_cb = {pub_dc_open, NULL, NULL, NULL, NULL, NULL};
static const rtc_pc_datachannel_callbacks_t sub_dc_cb = {sub_dc_open, sub_dc_msg, NULL, NULL, NULL, NULL};
static void on_sub_dc(void *u, rtc_pc_datachannel_t *d) {
    rtc_pc_datachannel_set_callbacks(d, &sub_dc_cb, u);
    if (rtc_pc_datachannel_state(d) == RTC_DC_OPEN) ((client_t *)u)->sub_dc_open = true;
}
static void on_sub_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n,
                       const rtc_pc_rtp_info_t *info) {
    (void)info;
    if (rtc_pc_transceiver_kind(t) == RTC_PC_MEDIA_VIDEO) sfu_test_rx_packet(&((client_t *)u)->rx, p, n);
}

static rtc_peer_connection_t *client_pc(client_t *c, bool publisher) {
    static const rtc_pc_callbacks_t pub_cb = {.on_connection_state = pub_state};
    static const rtc_pc_callbacks_t sub_cb = {.on_connection_state = sub_state,
                                              .on_datachannel = on_sub_dc, .on_rtp = on_sub_rtp};
    return sfu_test_client_pc(rt, c->pid, publisher, publisher ? &pub_cb : &sub_cb, c);
}

/* ------------------------------------------------------------------------------------------
 * The signal side on the bus.
 */
typedef struct {
    char pid[65];
    char type[32];
    cJSON *payload;
} qmsg_t;
static qmsg_t q[512];
static size_t qh, qt;

static void on_to_signal(st_redis_t *r, const char *channel, const char *payload, size_t len, void *user) {
    (void)r;
    (void)channel;
    (void)user;
    cJSON *o = cJSON_ParseWithLength(payload, len);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_lt(qt, 512);
    snprintf(q[qt].pid, sizeof q[qt].pid, "%s", cJSON_GetObjectItem(o, "participant")->valuestring);
    snprintf(q[qt].type, sizeof q[qt].type, "%s", cJSON_GetObjectItem(o, "type")->valuestring);
    q[qt].payload = cJSON_DetachItemFromObject(o, "payload");
    qt++;
    cJSON_Delete(o);
}

static void publish(const char *type, const char *pid, cJSON *payload) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "room", "e2e-room");
    cJSON_AddStringToObject(o, "participant", pid);
    cJSON_AddStringToObject(o, "signal", "sig-e2e");
    if (payload) cJSON_AddItemToObject(o, "payload", payload);
    char *s = cJSON_PrintUnformatted(o);
    char ch[128];
    snprintf(ch, sizeof ch, "starling:sfu:%s", NODE);
    ck_assert_int_eq(st_redis_command(cmd, NULL, NULL, "PUBLISH", ch, s, NULL), RTC_OK);
    free(s);
    cJSON_Delete(o);
}

static void send_sdp(client_t *c, const char *type, const char *pc, const char *sdp) {
    cJSON *pl = cJSON_CreateObject();
    cJSON_AddStringToObject(pl, "type", type);
    cJSON_AddStringToObject(pl, "pc", pc);
    cJSON_AddStringToObject(pl, "sdp", sdp);
    publish(type, c->pid, pl);
}

static void pump(void) {
    while (qh < qt) {
        qmsg_t *m = &q[qh++];
        client_t *c = client_of(m->pid);
        ck_assert_ptr_nonnull(c);
        if (c->n_types < 64) snprintf(c->types[c->n_types++], 32, "%s", m->type);
        const cJSON *sdp = cJSON_GetObjectItem(m->payload, "sdp");
        rtc_time_t now = rtc_clock_now();
        if (!strcmp(m->type, "offer")) {
            c->offers++;
            ck_assert_int_eq(rtc_peer_connection_set_remote_description(c->sub, RTC_PC_SDP_OFFER, sdp->valuestring, now), RTC_OK);
            ck_assert_int_eq(rtc_peer_connection_set_local_description(c->sub, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
            c->answer_pending = true;
        } else if (!strcmp(m->type, "answer")) {
            ck_assert_int_eq(rtc_peer_connection_set_remote_description(c->pub, RTC_PC_SDP_ANSWER, sdp->valuestring, now), RTC_OK);
        } else if (!strcmp(m->type, "error")) {
            char *s = cJSON_PrintUnformatted(m->payload);
            ck_abort_msg("%s got an error: %s", c->pid, s);
        }
        cJSON_Delete(m->payload);
        m->payload = NULL;
    }
    client_t *cs[2] = {&A, &B};
    for (int i = 0; i < 2; i++) {
        client_t *c = cs[i];
        if (!c->pid || !c->answer_pending ||
            rtc_peer_connection_ice_gathering_state(c->sub) != RTC_ICE_GATHERING_COMPLETE)
            continue;
        c->answer_pending = false;
        char *a = sfu_test_local_desc(c->sub);
        send_sdp(c, "answer", "subscriber", a);
        free(a);
    }
}

static bool got(const client_t *c, const char *type) {
    for (int i = 0; i < c->n_types; i++)
        if (!strcmp(c->types[i], type)) return true;
    return false;
}

/* What signal writes for a participant whose socket it holds (the SFU removes participants
 * whose key stays missing). */
static void participant_key(const char *pid) {
    char k[128];
    snprintf(k, sizeof k, "starling:participant:%s", pid);
    ck_assert_int_eq(st_redis_command(cmd, NULL, NULL, "HSET", k, "room", "e2e-room", "signal", "sig-e2e", NULL),
                     RTC_OK);
}

static void join(client_t *c, const char *pid, const char *identity) {
    participant_key(pid);
    c->pid = pid;
    c->pub = client_pc(c, true);
    c->sub = client_pc(c, false);
    sfu_test_rx_open(&c->rx, "sfu_e2e");
    cJSON *pl = cJSON_CreateObject();
    cJSON_AddStringToObject(pl, "identity", identity);
    publish("join", pid, pl);
}

static bool sub_ready;
static void on_sub_connect(st_redis_t *r, void *u) { (void)r; (void)u; sub_ready = true; }

static bool redis_answers(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(redis_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static bool node_registered, node_draining;
static void on_hget(st_redis_t *r, const redisReply *reply, void *u) {
    (void)r;
    (void)u;
    node_registered = reply && reply->type == REDIS_REPLY_STRING && !strcmp(reply->str, "up");
    node_draining = reply && reply->type == REDIS_REPLY_STRING && !strcmp(reply->str, "draining");
}

START_TEST(test_rooms_end_to_end_through_redis_and_the_binary) {
    const char *build = getenv("BUILD_DIR");
    ck_assert_ptr_nonnull(build);
    char sfu_bin[512];
    snprintf(sfu_bin, sizeof sfu_bin, "%s/services/sfu/starling-sfu", build);
    ck_assert_msg(access(sfu_bin, X_OK) == 0, "%s not built", sfu_bin);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sfu_e2e_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char log[128], log_redis[128], port[8], udp[32], http[32];
    redis_port = test_free_port(SOCK_STREAM);
    snprintf(port, sizeof port, "%u", redis_port);
    snprintf(log_redis, sizeof log_redis, "%s/redis.log", tmpdir);
    char *rargv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", tmpdir, NULL};
    redis_pid = test_spawn(rargv, log_redis, true);
    for (int i = 0; i < 50 && !redis_answers(); i++) usleep(100000);
    ck_assert(redis_answers());
    /* Two consecutive free UDP ports (worker i uses base + i). */
    uint16_t base = 0;
    for (int tries = 0; tries < 100 && !base; tries++) {
        uint16_t p = test_free_port(SOCK_DGRAM);
        int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        sa.sin_port = htons(p);
        bool ok = bind(a, (struct sockaddr *)&sa, sizeof sa) == 0;
        sa.sin_port = htons((uint16_t)(p + 1));
        ok = ok && bind(b, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(a);
        close(b);
        if (ok) base = p;
    }
    ck_assert_uint_ne(base, 0);
    snprintf(udp, sizeof udp, "127.0.0.1:%u", base);
    snprintf(http, sizeof http, "127.0.0.1:%u", test_free_port(SOCK_STREAM));
    snprintf(log, sizeof log, "%s/sfu.log", tmpdir);
    char *sargv[] = {sfu_bin, "--node_id", (char *)NODE, "--redis.port", port, "--workers", "2",
                     "--udp.listen", udp, "--http.listen", http, "--shutdown.drain_timeout", "30s",
                     "--redis.reconnect_max", "500ms", "--log.level", "info", NULL};
    sfu_pid = test_spawn(sargv, log, true);

    uv_loop_init(&loop);
    rt = sfu_test_runtime_new(&loop);
    st_redis_options_t ro = {0};
    ro.name = "test";
    ro.host = "127.0.0.1";
    ro.port = redis_port;
    cmd = st_redis_new(&loop, &ro);
    ro.subscriber = true;
    ro.on_connect = on_sub_connect;
    sub = st_redis_new(&loop, &ro);
    st_redis_subscribe(sub, "starling:to-signal:sig-e2e", on_to_signal, NULL);
    RUN_UNTIL(sub_ready && st_redis_is_connected(cmd), 5000);
    char key[128];
    snprintf(key, sizeof key, "starling:node:%s", NODE);
    for (int i = 0; i < 50 && !node_registered; i++) {
        st_redis_command(cmd, on_hget, NULL, "HGET", key, "state", NULL);
        RUN_UNTIL(false, 100);
    }
    ck_assert_msg(node_registered, "the SFU did not register (see %s)", log);

    join(&A, "PA_alice", "alice");
    join(&B, "PA_bob", "bob");
    RUN_UNTIL(got(&A, "joined") && got(&B, "joined") && A.offers && B.offers && !A.answer_pending &&
              !B.answer_pending, 10000);
    ck_assert(got(&A, "participant_joined"));

    /* alice publishes VP8 and a data channel. */
    A.video = rtc_peer_connection_add_transceiver(A.pub, RTC_PC_MEDIA_VIDEO, NULL);
    A.pub_dc = rtc_peer_connection_create_data_channel(A.pub, "starling", NULL);
    rtc_pc_datachannel_set_callbacks(A.pub_dc, &pub_dc_cb, &A);
    ck_assert_int_eq(rtc_peer_connection_set_local_description(A.pub, RTC_PC_SDP_OFFER, NULL, rtc_clock_now()), RTC_OK);
    RUN_UNTIL(rtc_peer_connection_ice_gathering_state(A.pub) == RTC_ICE_GATHERING_COMPLETE, 3000);
    char *offer = sfu_test_local_desc(A.pub);
    send_sdp(&A, "offer", "publisher", offer);
    free(offer);
    RUN_UNTIL(A.pub_state == RTC_PC_STATE_CONNECTED && B.sub_state == RTC_PC_STATE_CONNECTED &&
              got(&B, "track_published") && B.offers >= 2 && !B.answer_pending && A.pub_dc_open &&
              B.sub_dc_open, 15000);
    ck_assert_int_eq(A.pub_state, RTC_PC_STATE_CONNECTED);
    ck_assert_int_eq(B.sub_state, RTC_PC_STATE_CONNECTED);
    ck_assert(B.sub_dc_open);

    /* 3 s of the 160x90 libvpx layer: in the second, Redis dies and comes back (empty);
     * at the start of the third the SFU gets SIGTERM. Media flows throughout. */
    fx_stream_t s;
    ck_assert_int_eq(fx_load(&s, "vp8_h"), 0);
    int pt = rtc_pc_transceiver_payload_type(A.video, "VP8");
    uint64_t t0 = uv_now(&loop);
    uint32_t rx_before_outage = 0, rx_after_outage = 0;
    for (int rep = 0; rep < 3; rep++) {
        if (rep == 1) {
            rx_before_outage = B.rx.packets;
            kill(redis_pid, SIGKILL);
            waitpid(redis_pid, NULL, 0);
            redis_pid = test_spawn(rargv, log_redis, true); /* the same log, appended */
        }
        if (rep == 2) {
            rx_after_outage = B.rx.packets;
            ck_assert_int_eq(kill(sfu_pid, SIGTERM), 0);
        }
        for (size_t i = 0; i < s.n; i++) {
            uint8_t buf[1500];
            memcpy(buf, s.pkts[i].pkt, s.pkts[i].len);
            buf[1] = (uint8_t)((buf[1] & 0x80) | pt);
            rtc_put_be16(buf + 2, (uint16_t)(rtc_be16(buf + 2) + rep * s.n));
            rtc_put_be32(buf + 4, rtc_be32(buf + 4) + (uint32_t)rep * 90000u);
            RUN_UNTIL(uv_now(&loop) >= t0 + s.pkts[i].arrival_ms + 1000u * (uint64_t)rep, 100);
            ck_assert_int_eq(rtc_pc_transceiver_send_rtp(A.video, buf, s.pkts[i].len, rtc_clock_now()), RTC_OK);
        }
    }
    /* Media went on while Redis was down... */
    ck_assert_uint_ge(rx_after_outage - rx_before_outage, 25);
    /* ...and the node registered itself again (with draining state by now). Signal would
     * rewrite its participants' keys; so does this test. */
    participant_key(A.pid);
    participant_key(B.pid);
    node_registered = false;
    for (int i = 0; i < 50 && !node_draining; i++) {
        st_redis_command(cmd, on_hget, NULL, "HGET", key, "state", NULL);
        RUN_UNTIL(false, 100);
    }
    ck_assert_msg(node_draining, "the SFU did not register again after the Redis restart");
    fx_free(&s);
    ck_assert_int_eq(rtc_pc_datachannel_send(A.pub_dc, "hi bob", 6, true), RTC_OK);
    RUN_UNTIL(B.dc_msg[0], 5000);
    ck_assert_str_eq(B.dc_msg, "{\"from\":\"PA_alice\",\"payload\":\"hi bob\"}");
    RUN_UNTIL(false, 300);
    ck_assert_uint_ge(B.rx.packets, 50);
    ck_assert_uint_eq(B.rx.gaps, 0);
    /* Draining did not stop the room; the process waits for it to empty. */
    ck_assert_int_eq(waitpid(sfu_pid, NULL, WNOHANG), 0);
    /* bob's resume window ends (disconnected), alice leaves: the others are told, then the
     * empty node exits. */
    cJSON *why = cJSON_CreateObject();
    cJSON_AddStringToObject(why, "reason", "disconnected");
    publish("leave", B.pid, why);
    RUN_UNTIL(got(&A, "participant_left"), 5000);
    ck_assert(got(&A, "participant_left"));
    why = cJSON_CreateObject();
    cJSON_AddStringToObject(why, "reason", "left");
    publish("leave", A.pid, why);
    int status = -1;
    for (int i = 0; i < 100; i++) {
        if (waitpid(sfu_pid, &status, WNOHANG) == sfu_pid) break;
        RUN_UNTIL(false, 100);
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the SFU did not exit cleanly (%d)", status);
    sfu_pid = 0;
    /* Decoding last: it blocks this loop for a while (Python start-up). */
    fflush(B.rx.dump);
    if (system("/usr/bin/python3 -c 'import aiortc, av' >/dev/null 2>&1") == 0) {
        char cmdline[512];
        const char *src = getenv("SRC_DIR");
        snprintf(cmdline, sizeof cmdline, "/usr/bin/python3 %s/tests/unit/sfu/decode_rtp.py vp8 %s | tail -1",
                 src ? src : ".", B.rx.dump_path);
        FILE *p = popen(cmdline, "r");
        char line[128] = "";
        ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
        int st = pclose(p);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bob's video does not decode: %s", line);
    }

    st_redis_free(cmd);
    st_redis_free(sub);
    rtc_pc_runtime_destroy(rt);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    sfu_test_rx_close(&A.rx);
    sfu_test_rx_close(&B.rx);
    for (size_t i = qh; i < qt; i++) cJSON_Delete(q[i].payload);
}
END_TEST

static void teardown(void) {
    if (sfu_pid > 0) {
        /* Failed: show what the SFU said. */
        char cmdline[200];
        snprintf(cmdline, sizeof cmdline, "grep -v '\"level\":\"debug\"' %s/sfu.log | tail -25", tmpdir);
        (void)system(cmdline);
        kill(sfu_pid, SIGKILL);
        waitpid(sfu_pid, NULL, 0);
    }
    if (redis_pid > 0) { kill(redis_pid, SIGKILL); waitpid(redis_pid, NULL, 0); }
    char cmdline[160];
    snprintf(cmdline, sizeof cmdline, "rm -rf %s", tmpdir);
    if (tmpdir[0]) (void)system(cmdline);
}

static Suite *suite(void) {
    Suite *s = suite_create("sfu_node_media");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_rooms_end_to_end_through_redis_and_the_binary);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        puts("test_sfu_node_media: SKIP: redis-server missing");
        return 0;
    }
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#else
#include <stdio.h>
int main(void) {
    puts("test_sfu_node_media: SKIP: this tree has no PeerConnection layer (rtc/pc.h)");
    return 0;
}
#endif
