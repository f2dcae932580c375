/* Simulcast interop: a Pion WebRTC v3 publisher (tests/unit/sfu/pion_simulcast.go, Debian's
 * Pion built offline) sends one VP8 track as three rid encodings (q/h/f, the libvpx
 * fixtures) to the SFU's media engine; one of our PeerConnections subscribes. The SFU must
 * accept the simulcast offer, tell the layers apart by rid, forward f while the subscriber
 * wants a big picture and q after it asks for an 80x46 tile, switching at keyframes (it asks
 * Pion for them with PLI, for the one layer that needs it), announce each layer (`layer` with rid and size), and the
 * subscriber's stream must stay gapless and decode (libvpx) with the sizes changing from
 * 320x180 to 80x46. Loopback only.
 *
 * Needs rtc/pc.h, Go and golang-github-pion-webrtc.v3-dev (else a skip). */
#if __has_include("rtc/pc.h")
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "rtc/pc.h"
#include "sfu/media_pc.h"
#include "sfu/room.h"
#include "unit/sfu/media_room.h"
#include "unit/sfu/pc_client.h"

static uv_loop_t loop;
static sfu_room_t *room;
static void *engine;
static rtc_pc_runtime_t *rt;
static char pion_bin[256];

static void pump(void);
#define RUN_UNTIL(cond, ms) SFU_TEST_RUN_UNTIL(&loop, cond, ms, pump)

/* ------------------------------------------------------------------------------------------
 * bob, our subscriber.
 */
static rtc_peer_connection_t *bob;
static rtc_pc_state_t bob_state;
static bool bob_answer_pending;
static int bob_offers;
static sfu_test_rx_t rx;
static char layers_seen[16][8];
static int n_layers_seen;
static int layer_w[16], layer_h[16];

static void bob_state_cb(void *u, rtc_pc_state_t s) { (void)u; bob_state = s; }
static void bob_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n, const rtc_pc_rtp_info_t *info) {
    (void)u;
    (void)t;
    (void)info;
    sfu_test_rx_packet(&rx, p, n);
}

/* ------------------------------------------------------------------------------------------
 * Pion, through pipes.
 */
static uv_process_t proc;
static uv_pipe_t p_in, p_out;
static char linebuf[1 << 20];
static size_t linelen;
static bool pion_connected, pion_done, pion_exited;
static cJSON *pion_result;

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    (void)status;
    (void)sig;
    pion_exited = true;
    uv_close((uv_handle_t *)p, NULL);
}

static void write_line(const char *s) {
    size_t n = strlen(s);
    char *b = malloc(n + 1);
    memcpy(b, s, n);
    b[n] = '\n';
    uv_buf_t buf = uv_buf_init(b, (unsigned)n + 1);
    ck_assert_int_eq(uv_try_write((uv_stream_t *)&p_in, &buf, 1), (int)n + 1);
    free(b);
}

static void bus(const char *json) {
    sfu_bus_msg_t m;
    char why[200];
    ck_assert_msg(sfu_bus_parse(json, strlen(json), &m, why, sizeof why) == RTC_OK, "%s", why);
    sfu_room_handle_bus(room, &m, rtc_clock_now());
    sfu_bus_msg_free(&m);
}

static void send_sdp(const char *pid, const char *type, const char *pc, const char *sdp, const char *tracks) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "room", "sim");
    cJSON_AddStringToObject(o, "participant", pid);
    cJSON *pl = cJSON_AddObjectToObject(o, "payload");
    cJSON_AddStringToObject(pl, "pc", pc);
    cJSON_AddStringToObject(pl, "sdp", sdp);
    if (tracks) cJSON_AddItemToObject(pl, "tracks", cJSON_Parse(tracks));
    char *s = cJSON_PrintUnformatted(o);
    bus(s);
    free(s);
    cJSON_Delete(o);
}

static void on_line(const char *line) {
    cJSON *o = cJSON_Parse(line);
    if (!o) return;
    const cJSON *offer = cJSON_GetObjectItem(o, "offer");
    if (cJSON_IsString(offer)) send_sdp("PA_pion", "offer", "publisher", offer->valuestring,
                                        "[{\"mid\":\"0\",\"source\":\"camera\",\"name\":\"pion\"}]");
    if (cJSON_GetObjectItem(o, "connected")) pion_connected = true;
    if (cJSON_GetObjectItem(o, "done")) {
        pion_done = true;
        pion_result = cJSON_Duplicate(o, 1);
    }
    if (cJSON_GetObjectItem(o, "error")) ck_abort_msg("pion: %s", line);
    cJSON_Delete(o);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b) {
    (void)h;
    static char rb[65536];
    (void)sz;
    *b = uv_buf_init(rb, sizeof rb);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (b->base[i] == '\n') {
            linebuf[linelen] = 0;
            on_line(linebuf);
            linelen = 0;
        } else if (linelen + 1 < sizeof linebuf) {
            linebuf[linelen++] = b->base[i];
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * The room's messages.
 */
typedef struct {
    char pid[65];
    char type[32];
    cJSON *payload;
} qmsg_t;
static qmsg_t q[512];
static size_t qh, qt;

static void env_send(void *user, sfu_room_t *r, sfu_participant_t *p, const char *type, cJSON *payload) {
    (void)user;
    (void)r;
    ck_assert_uint_lt(qt, 512);
    snprintf(q[qt].pid, sizeof q[qt].pid, "%s", sfu_participant_id(p));
    snprintf(q[qt].type, sizeof q[qt].type, "%s", type);
    q[qt++].payload = payload;
}

static void pump(void) {
    while (qh < qt) {
        qmsg_t *m = &q[qh++];
        const cJSON *sdp = cJSON_GetObjectItem(m->payload, "sdp");
        if (!strcmp(m->pid, "PA_pion")) {
            if (!strcmp(m->type, "answer")) {
                cJSON *a = cJSON_CreateObject();
                cJSON_AddStringToObject(a, "answer", sdp->valuestring);
                char *s = cJSON_PrintUnformatted(a);
                write_line(s);
                free(s);
                cJSON_Delete(a);
            } else if (!strcmp(m->type, "error")) {
                char *s = cJSON_PrintUnformatted(m->payload);
                ck_abort_msg("pion's participant got an error: %s", s);
            }
            /* Its subscriber offers are not answered: Pion only publishes here. */
        } else if (!strcmp(m->type, "offer")) {
            bob_offers++;
            rtc_time_t now = rtc_clock_now();
            ck_assert_int_eq(rtc_peer_connection_set_remote_description(bob, RTC_PC_SDP_OFFER, sdp->valuestring, now), RTC_OK);
            ck_assert_int_eq(rtc_peer_connection_set_local_description(bob, RTC_PC_SDP_ANSWER, NULL, now), RTC_OK);
            bob_answer_pending = true;
        } else if (!strcmp(m->type, "layer") && n_layers_seen < 16) {
            snprintf(layers_seen[n_layers_seen], 8, "%s", cJSON_GetObjectItem(m->payload, "rid")->valuestring);
            layer_w[n_layers_seen] = (int)cJSON_GetObjectItem(m->payload, "width")->valuedouble;
            layer_h[n_layers_seen] = (int)cJSON_GetObjectItem(m->payload, "height")->valuedouble;
            n_layers_seen++;
        } else if (!strcmp(m->type, "error")) {
            char *s = cJSON_PrintUnformatted(m->payload);
            ck_abort_msg("bob got an error: %s", s);
        }
        cJSON_Delete(m->payload);
        m->payload = NULL;
    }
    if (bob_answer_pending && rtc_peer_connection_ice_gathering_state(bob) == RTC_ICE_GATHERING_COMPLETE) {
        bob_answer_pending = false;
        char *a = sfu_test_local_desc(bob);
        send_sdp("PA_bob", "answer", "subscriber", a, NULL);
        free(a);
    }
}

static bool build_pion(void) {
    const char *src = getenv("SRC_DIR"), *build = getenv("BUILD_DIR");
    if (!src || !build) return false;
    if (system("command -v go >/dev/null 2>&1") != 0) return false;
    if (access("/usr/share/gocode/src/github.com/pion/webrtc", F_OK) != 0) return false;
    snprintf(pion_bin, sizeof pion_bin, "%s/sfu_pion_simulcast", build);
    char cmd[2048];
    /* Debian installs Pion without the /v3 import-path suffixes: a GOPATH overlay maps them
     * (as tests/interop/test_pc_pion.sh does). Offline: no module proxy. */
    snprintf(cmd, sizeof cmd,
             "set -e; W=$(mktemp -d); trap 'rm -rf $W' EXIT; "
             "mkdir -p $W/gopath/src/github.com/pion/webrtc $W/gopath/src/github.com/pion/sdp $W/src/p; "
             "ln -s /usr/share/gocode/src/github.com/pion/webrtc $W/gopath/src/github.com/pion/webrtc/v3; "
             "ln -s /usr/share/gocode/src/github.com/pion/sdp $W/gopath/src/github.com/pion/sdp/v3; "
             "cp %s/tests/unit/sfu/pion_simulcast.go $W/src/p/main.go; mkdir -p %s/gocache; "
             "cd $W/src/p && GO111MODULE=off GOPATH=$W/gopath:/usr/share/gocode GOCACHE=%s/gocache "
             "GOFLAGS= GOPROXY=off GOENV=off go build -o %s .",
             src, build, build, pion_bin);
    return system(cmd) == 0;
}

START_TEST(test_pion_simulcast_publisher_layers_follow_subscription) {
    uv_loop_init(&loop);
    rt = sfu_test_runtime_new(&loop);
    engine = sfu_test_media_engine_new(&loop, 0);
    room = sfu_test_room_new("sim", engine, env_send);

    static const rtc_pc_callbacks_t bob_cb = {.on_connection_state = bob_state_cb, .on_rtp = bob_rtp};
    bob = sfu_test_client_pc(rt, "bob", false, &bob_cb, NULL);
    sfu_test_rx_open(&rx, "sfu_pion");

    bus("{\"type\":\"join\",\"room\":\"sim\",\"participant\":\"PA_pion\",\"signal\":\"s\",\"payload\":{\"identity\":\"pion\"}}");
    bus("{\"type\":\"join\",\"room\":\"sim\",\"participant\":\"PA_bob\",\"signal\":\"s\",\"payload\":{\"identity\":\"bob\"}}");
    RUN_UNTIL(bob_offers >= 1 && !bob_answer_pending, 5000);

    /* Pion: 4 s of simulcast. */
    uv_pipe_init(&loop, &p_in, 0);
    uv_pipe_init(&loop, &p_out, 0);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&p_in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p_out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    char *args[] = {pion_bin, (char *)getenv("SRC_DIR"), "4", NULL};
    uv_process_options_t po = {.exit_cb = on_exit_cb, .file = pion_bin, .args = args, .stdio = stdio, .stdio_count = 3};
    ck_assert_int_eq(uv_spawn(&loop, &proc, &po), 0);
    uv_read_start((uv_stream_t *)&p_out, alloc_cb, read_cb);
    RUN_UNTIL(pion_connected, 20000);
    ck_assert(pion_connected);
    /* The SFU understood the simulcast offer: one track with three layers. */
    sfu_participant_t *pp = sfu_room_find(room, "PA_pion");
    ck_assert_uint_eq(sfu_participant_track_count(pp), 1);
    const sfu_track_desc_t *d = sfu_track_desc(sfu_participant_track(pp, 0));
    ck_assert_uint_eq(d->n_layers, 3);
    RUN_UNTIL(bob_state == RTC_PC_STATE_CONNECTED && bob_offers >= 2 && !bob_answer_pending, 10000);
    ck_assert_int_eq(bob_state, RTC_PC_STATE_CONNECTED);
    /* 1.5 s on the big picture, then bob asks for an 80x46 tile. */
    RUN_UNTIL(false, 1500);
    ck_assert_int_ge(n_layers_seen, 1);
    ck_assert_str_eq(layers_seen[0], "f");
    ck_assert_int_eq(layer_w[0], 320);
    bus("{\"type\":\"subscription\",\"room\":\"sim\",\"participant\":\"PA_bob\",\"payload\":"
        "{\"track_id\":\"video\",\"max_width\":80,\"max_height\":46}}"); /* Pion's msid track id */
    RUN_UNTIL(pion_done, 10000);
    ck_assert(pion_done);
    RUN_UNTIL(false, 300);
    ck_assert_int_ge(n_layers_seen, 2);
    ck_assert_str_eq(layers_seen[n_layers_seen - 1], "q");
    ck_assert_int_eq(layer_h[n_layers_seen - 1], 46);
    ck_assert_uint_eq(rx.gaps, 0);
    ck_assert_uint_gt(rx.packets, 60);
    /* The switch asked Pion for a keyframe of q, the layer bob went to, and of that layer
     * only — a PLI names one SSRC, and h was never wanted (asking every layer would make all
     * three send keyframes at each switch). f's first keyframe needs no request. */
    const cJSON *pli = cJSON_GetObjectItem(pion_result, "pli");
    const cJSON *pli_q = cJSON_GetObjectItem(pli, "q");
    const cJSON *pli_h = cJSON_GetObjectItem(pli, "h");
    char *plis = cJSON_PrintUnformatted(pli);
    printf("PLIs Pion got per rid: %s\n", plis ? plis : "?");
    free(plis);
    ck_assert_msg(pli_q && pli_q->valuedouble > 0, "no PLI for q");
    ck_assert_msg(!pli_h || pli_h->valuedouble == 0, "%d PLIs for h, a layer nobody wanted",
                  pli_h ? (int)pli_h->valuedouble : 0);
    fflush(rx.dump);
    if (system("/usr/bin/python3 -c 'import aiortc, av' >/dev/null 2>&1") == 0) {
        char cmdline[512];
        snprintf(cmdline, sizeof cmdline, "/usr/bin/python3 %s/tests/unit/sfu/decode_rtp.py vp8 %s",
                 getenv("SRC_DIR"), rx.dump_path);
        FILE *p = popen(cmdline, "r");
        char line[128], first[32] = "", last[32] = "";
        while (fgets(line, sizeof line, p)) {
            line[strcspn(line, "\n")] = 0;
            if (!strncmp(line, "frames", 6)) continue;
            if (!first[0]) snprintf(first, sizeof first, "%.31s", line);
            snprintf(last, sizeof last, "%.31s", line);
        }
        int st = pclose(p);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bob's stream does not decode");
        ck_assert_str_eq(first, "320x180");
        ck_assert_str_eq(last, "80x46");
    }
    uv_close((uv_handle_t *)&p_in, NULL); /* EOF: Pion exits */
    RUN_UNTIL(pion_exited, 5000);
    uv_read_stop((uv_stream_t *)&p_out);
    uv_close((uv_handle_t *)&p_out, NULL);
    cJSON_Delete(pion_result);
    sfu_test_rx_close(&rx);
    sfu_room_free(room);
    sfu_media_pc_free(engine);
    rtc_pc_runtime_destroy(rt);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    for (size_t i = qh; i < qt; i++) cJSON_Delete(q[i].payload);
}
END_TEST

int main(void) {
    if (!build_pion()) {
        puts("test_sfu_pion: SKIP: Go or Debian's Pion sources missing (or the build failed)");
        return 0;
    }
    Suite *s = suite_create("sfu_pion");
    TCase *tc = tcase_create("simulcast");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pion_simulcast_publisher_layers_follow_subscription);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#else
#include <stdio.h>
int main(void) {
    puts("test_sfu_pion: SKIP: this tree has no PeerConnection layer (rtc/pc.h)");
    return 0;
}
#endif
