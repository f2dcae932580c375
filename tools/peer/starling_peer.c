/* starling-peer — one RTCPeerConnection of our stack on real sockets, for poking at the stack
 * and for the interop tests.
 *
 * Signalling is JSON, one object per line: the remote description {"type","sdp"} comes from
 * stdin (or --remote FILE); our own description is printed to stdout once ICE gathering has
 * completed (no trickle). With --offer we print the offer first and then read the answer.
 * Everything else we print is an event line {"event":...}: connection state changes, data
 * channels, tracks, and at exit a summary with counters and the time from offer to connected.
 *
 *   starling-peer --offer --datachannel chat --bind 127.0.0.1 --echo
 *   starling-peer --answer --echo --send-test-media --bind 10.200.0.1 < offer.json
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rtc/pc.h"
#include "test_media.h"

typedef struct {
    uv_loop_t *loop;
    rtc_pc_runtime_t *rt;
    rtc_peer_connection_t *pc;
    bool offer, echo, send_media, lite;
    const char *dc_label;
    const char *remote_file;
    double timeout_s;
    rtc_time_t t_start;
    int64_t connected_ms;
    rtc_pc_state_t state;
    rtc_ice_gathering_state_t gathering;
    bool printed_desc;
    bool waiting_answer;
    uint64_t dc_msgs_in, dc_bytes_in, dc_msgs_out, dc_send_errors;
    uint64_t rtp_in, rtp_out, kf_requests;
    rtc_pc_transceiver_t *video_t, *audio_t;
    test_video_t *vid;
    uv_timer_t video_timer, audio_timer, exit_timer;
    uv_signal_t sigterm, sigint;
    uint32_t video_ts, audio_ts;
    uint64_t frames_sent;
    bool media_started;
    bool quitting;
} app_t;

static app_t app;

static void emit(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
    }
    cJSON_Delete(o);
}

static void event_str(const char *ev, const char *k, const char *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", ev);
    if (k) cJSON_AddStringToObject(o, k, v);
    emit(o);
}

static void print_description(void) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    rtc_pc_sdp_type_t type;
    if (rtc_peer_connection_local_description(app.pc, &b, &type) != RTC_OK) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", rtc_pc_sdp_type_name(type));
    cJSON_AddStringToObject(o, "sdp", (const char *)b.data);
    emit(o);
    rtc_buf_free(&b);
    app.printed_desc = true;
}

/* Reads one JSON object from stdin (possibly spread over lines) or the file. */
static cJSON *read_description(void) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    if (app.remote_file && !app.waiting_answer) {
        FILE *f = fopen(app.remote_file, "rb");
        if (!f) { fprintf(stderr, "starling-peer: cannot open %s\n", app.remote_file); return NULL; }
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) rtc_buf_append(&b, tmp, n);
        fclose(f);
        rtc_buf_append(&b, "", 1);
        cJSON *o = cJSON_Parse((const char *)b.data);
        rtc_buf_free(&b);
        return o;
    }
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        rtc_buf_append_str(&b, line);
        cJSON *o = cJSON_Parse((const char *)b.data);
        if (o) { rtc_buf_free(&b); return o; }
    }
    rtc_buf_free(&b);
    return NULL;
}

static int apply_remote(cJSON *o) {
    cJSON *t = cJSON_GetObjectItem(o, "type"), *s = cJSON_GetObjectItem(o, "sdp");
    if (!cJSON_IsString(t) || !cJSON_IsString(s)) {
        fprintf(stderr, "starling-peer: description needs \"type\" and \"sdp\" strings\n");
        return -1;
    }
    rtc_pc_sdp_type_t type;
    if (rtc_pc_sdp_type_parse(t->valuestring, &type) != RTC_OK) return -1;
    int rc = rtc_peer_connection_set_remote_description(app.pc, type, s->valuestring, rtc_clock_now());
    if (rc) fprintf(stderr, "starling-peer: setRemoteDescription: %s\n", rtc_strerror(rc));
    return rc;
}

static void summary(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "summary");
    cJSON_AddStringToObject(o, "connectionState", rtc_pc_state_name(app.state));
    cJSON_AddNumberToObject(o, "connected_ms", (double)app.connected_ms);
    cJSON_AddNumberToObject(o, "dc_messages_received", (double)app.dc_msgs_in);
    cJSON_AddNumberToObject(o, "dc_bytes_received", (double)app.dc_bytes_in);
    cJSON_AddNumberToObject(o, "dc_messages_sent", (double)app.dc_msgs_out);
    cJSON_AddNumberToObject(o, "dc_send_errors", (double)app.dc_send_errors);
    cJSON_AddNumberToObject(o, "rtp_received", (double)app.rtp_in);
    cJSON_AddNumberToObject(o, "rtp_sent", (double)app.rtp_out);
    cJSON_AddNumberToObject(o, "video_frames_sent", (double)app.frames_sent);
    cJSON_AddNumberToObject(o, "keyframe_requests", (double)app.kf_requests);
    rtc_buf_t st;
    rtc_buf_init(&st);
    if (rtc_peer_connection_get_stats(app.pc, rtc_clock_now(), &st) == RTC_OK) {
        cJSON *stats = cJSON_Parse((const char *)st.data);
        if (stats) cJSON_AddItemToObject(o, "stats", stats);
    }
    rtc_buf_free(&st);
    emit(o);
}

static void quit(void) {
    if (app.quitting) return;
    app.quitting = true;
    summary();
    rtc_peer_connection_close(app.pc, rtc_clock_now());
    uv_stop(app.loop);
}

/* ---- data channels --------------------------------------------------------------------- */
static void dc_open(void *u, rtc_pc_datachannel_t *d) {
    (void)u;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "datachannel-open");
    cJSON_AddStringToObject(o, "label", rtc_pc_datachannel_label(d));
    cJSON_AddNumberToObject(o, "id", rtc_pc_datachannel_id(d));
    emit(o);
}
/* Echoes that did not fit the association's send queue wait here, in order, until the
 * channel's buffered amount drops (bufferedamountlow). */
typedef struct pending {
    struct pending *next;
    rtc_pc_datachannel_t *dc;
    bool is_string;
    size_t n;
    uint8_t data[];
} pending_t;
static pending_t *pend_head, *pend_tail;

static void flush_pending(void) {
    while (pend_head) {
        pending_t *m = pend_head;
        int rc = rtc_pc_datachannel_send(m->dc, m->data, m->n, m->is_string);
        if (rc == RTC_ERR_AGAIN) return;
        if (rc == RTC_OK) app.dc_msgs_out++;
        else app.dc_send_errors++;
        pend_head = m->next;
        if (!pend_head) pend_tail = NULL;
        free(m);
    }
}

static void dc_message(void *u, rtc_pc_datachannel_t *d, const uint8_t *p, size_t n, bool is_string) {
    (void)u;
    app.dc_msgs_in++;
    app.dc_bytes_in += n;
    if (!app.echo) return;
    int rc = pend_head ? RTC_ERR_AGAIN : rtc_pc_datachannel_send(d, p, n, is_string);
    if (rc == RTC_OK) {
        app.dc_msgs_out++;
    } else if (rc == RTC_ERR_AGAIN) {
        pending_t *m = malloc(sizeof *m + n);
        if (!m) { app.dc_send_errors++; return; }
        m->next = NULL;
        m->dc = d;
        m->is_string = is_string;
        m->n = n;
        if (n) memcpy(m->data, p, n);
        if (pend_tail) pend_tail->next = m;
        else pend_head = m;
        pend_tail = m;
    } else {
        app.dc_send_errors++;
    }
}

static void dc_low(void *u, rtc_pc_datachannel_t *d) {
    (void)u;
    (void)d;
    flush_pending();
}
static void dc_close(void *u, rtc_pc_datachannel_t *d) {
    (void)u;
    event_str("datachannel-close", "label", rtc_pc_datachannel_label(d));
}
static const rtc_pc_datachannel_callbacks_t dc_cb = {
    .on_open = dc_open, .on_message = dc_message, .on_close = dc_close, .on_buffered_amount_low = dc_low,
};

static void on_datachannel(void *u, rtc_pc_datachannel_t *d) {
    (void)u;
    rtc_pc_datachannel_set_callbacks(d, &dc_cb, NULL);
    rtc_pc_datachannel_set_buffered_amount_low_threshold(d, 1 << 20);
    event_str("datachannel", "label", rtc_pc_datachannel_label(d));
}

/* ---- media ----------------------------------------------------------------------------- */
static void on_track(void *u, rtc_pc_transceiver_t *t) {
    (void)u;
    bool video = rtc_pc_transceiver_kind(t) == RTC_PC_MEDIA_VIDEO;
    event_str("track", "kind", video ? "video" : "audio");
    if (video && !app.video_t) app.video_t = t;
    if (!video && !app.audio_t) app.audio_t = t;
}

static void on_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n, const rtc_pc_rtp_info_t *info) {
    (void)u;
    (void)info;
    app.rtp_in++;
    if (app.echo && !app.send_media && rtc_pc_transceiver_send_rtp(t, p, n, rtc_clock_now()) == RTC_OK) app.rtp_out++;
}

static void on_keyframe(void *u, rtc_pc_transceiver_t *t, bool fir) {
    (void)u;
    (void)fir;
    app.kf_requests++;
    if (app.send_media && app.vid) test_video_request_keyframe(app.vid);
    else if (app.echo) rtc_pc_transceiver_request_keyframe(t, rtc_clock_now()); /* ask the source */
}

static void on_video_tick(uv_timer_t *h) {
    (void)h;
    if (!app.video_t || !app.vid) return;
    const uint8_t *f;
    size_t n;
    bool kf;
    int rc = test_video_next(app.vid, &f, &n, &kf);
    app.video_ts += 90000 / 15;
    if (rc != 0) return;
    if (rtc_pc_transceiver_send_frame(app.video_t, "VP8", f, n, app.video_ts, rtc_clock_now()) == RTC_OK) {
        app.frames_sent++;
        app.rtp_out += (n + 1099) / 1100;
    }
}

static void on_audio_tick(uv_timer_t *h) {
    (void)h;
    if (!app.audio_t) return;
    app.audio_ts += 960;
    if (rtc_pc_transceiver_send_frame(app.audio_t, "opus", test_opus_silence, 3, app.audio_ts, rtc_clock_now()) == RTC_OK)
        app.rtp_out++;
}

static void start_media(void) {
    if (app.media_started || !app.send_media) return;
    app.media_started = true;
    for (size_t i = 0; i < rtc_peer_connection_transceiver_count(app.pc); i++) {
        rtc_pc_transceiver_t *t = rtc_peer_connection_transceiver(app.pc, i);
        if (rtc_pc_transceiver_kind(t) == RTC_PC_MEDIA_VIDEO && !app.video_t) app.video_t = t;
        if (rtc_pc_transceiver_kind(t) == RTC_PC_MEDIA_AUDIO && !app.audio_t) app.audio_t = t;
    }
    if (app.video_t && rtc_pc_transceiver_payload_type(app.video_t, "VP8") >= 0) {
        app.vid = test_video_new(320, 240, 15);
        if (!app.vid) fprintf(stderr, "starling-peer: no VP8 encoder (built without libvpx)\n");
        else uv_timer_start(&app.video_timer, on_video_tick, 0, 1000 / 15);
    }
    if (app.audio_t && rtc_pc_transceiver_payload_type(app.audio_t, "opus") >= 0)
        uv_timer_start(&app.audio_timer, on_audio_tick, 0, 20);
}

/* ---- states ---------------------------------------------------------------------------- */
static void on_state(void *u, rtc_pc_state_t s) {
    (void)u;
    app.state = s;
    if (s == RTC_PC_STATE_CONNECTED && app.connected_ms < 0) {
        app.connected_ms = (rtc_clock_now() - app.t_start) / 1000;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "connected");
        cJSON_AddNumberToObject(o, "ms", (double)app.connected_ms);
        emit(o);
        start_media();
    } else {
        event_str("connectionstatechange", "state", rtc_pc_state_name(s));
    }
    if (s == RTC_PC_STATE_FAILED) quit();
}

static void on_gathering(void *u, rtc_ice_gathering_state_t s) {
    (void)u;
    app.gathering = s;
}

static void run_until_gathered(void) {
    while (app.gathering != RTC_ICE_GATHERING_COMPLETE && !app.quitting) uv_run(app.loop, UV_RUN_ONCE);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)h;
    (void)sig;
    quit();
}
static void on_exit_timer(uv_timer_t *h) {
    (void)h;
    quit();
}

static void usage(void) {
    fprintf(stderr,
            "usage: starling-peer [--offer|--answer] [options]\n"
            "  --offer               create the offer (print it, then read the answer from stdin)\n"
            "  --answer              read the offer (stdin or --remote) and answer it (default)\n"
            "  --remote FILE         read the remote description from FILE instead of stdin\n"
            "  --bind LIST           use only these addresses/interfaces for ICE (\"127.0.0.1,10.0.0.0/8,lo\")\n"
            "  --ice-server URL      stun:IP[:port] or turn:IP[:port][?transport=udp|tcp] (repeatable)\n"
            "  --ice-username U      TURN username for the preceding --ice-server\n"
            "  --ice-credential P    TURN password for the preceding --ice-server\n"
            "  --relay-only          iceTransportPolicy relay\n"
            "  --lite                ICE-lite (server mode)\n"
            "  --datachannel LABEL   create a data channel (offerer)\n"
            "  --video, --audio      add a sendrecv transceiver (offerer)\n"
            "  --echo                echo data channel messages and reflect received RTP back\n"
            "  --send-test-media     send synthetic VP8 (libvpx) and Opus\n"
            "  --timeout SECONDS     exit after this long (default: until SIGTERM/SIGINT)\n"
            "  --log LEVEL           trace|debug|info|warn|error (default warn)\n");
}

int main(int argc, char **argv) {
    memset(&app, 0, sizeof app);
    app.connected_ms = -1;
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    bool want_video = false, want_audio = false;
    const char *last_url = NULL, *user = NULL, *cred = NULL;
    rtc_log_set_level(RTC_LOG_WARN);
    static const struct option opts[] = {
        {"offer", no_argument, 0, 'o'}, {"answer", no_argument, 0, 'a'}, {"remote", required_argument, 0, 'r'},
        {"bind", required_argument, 0, 'b'}, {"ice-server", required_argument, 0, 's'},
        {"ice-username", required_argument, 0, 'u'}, {"ice-credential", required_argument, 0, 'p'},
        {"relay-only", no_argument, 0, 'R'}, {"lite", no_argument, 0, 'L'}, {"datachannel", required_argument, 0, 'd'},
        {"video", no_argument, 0, 'V'}, {"audio", no_argument, 0, 'A'}, {"echo", no_argument, 0, 'e'},
        {"send-test-media", no_argument, 0, 'm'}, {"timeout", required_argument, 0, 't'},
        {"log", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    int c;
    /* ICE servers are added once their credentials are known. */
    const char *urls[RTC_PC_MAX_ICE_SERVERS], *users[RTC_PC_MAX_ICE_SERVERS], *creds[RTC_PC_MAX_ICE_SERVERS];
    int n_urls = 0;
    (void)last_url;
    (void)user;
    (void)cred;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': app.offer = true; break;
        case 'a': app.offer = false; break;
        case 'r': app.remote_file = optarg; break;
        case 'b':
            if (rtc_net_filter_parse(&cfg.filter, optarg) != RTC_OK) {
                fprintf(stderr, "starling-peer: bad --bind list\n");
                return 2;
            }
            break;
        case 's':
            if (n_urls == RTC_PC_MAX_ICE_SERVERS) return 2;
            urls[n_urls] = optarg;
            users[n_urls] = creds[n_urls] = NULL;
            n_urls++;
            break;
        case 'u': if (n_urls) users[n_urls - 1] = optarg; break;
        case 'p': if (n_urls) creds[n_urls - 1] = optarg; break;
        case 'R': cfg.ice_transport_policy = RTC_PC_ICE_POLICY_RELAY; break;
        case 'L': cfg.ice_lite = true; app.lite = true; break;
        case 'd': app.dc_label = optarg; break;
        case 'V': want_video = true; break;
        case 'A': want_audio = true; break;
        case 'e': app.echo = true; break;
        case 'm': app.send_media = true; break;
        case 't': app.timeout_s = atof(optarg); break;
        case 'l': {
            rtc_log_level_t lv;
            if (rtc_log_level_parse(optarg, &lv) == RTC_OK) rtc_log_set_level(lv);
            break;
        }
        default: usage(); return c == 'h' ? 0 : 2;
        }
    }
    for (int i = 0; i < n_urls; i++) {
        if (rtc_pc_config_add_ice_server(&cfg, urls[i], users[i], creds[i]) != RTC_OK) {
            fprintf(stderr, "starling-peer: bad --ice-server %s\n", urls[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    app.loop = uv_default_loop();
    app.rt = rtc_pc_runtime_create(app.loop, NULL);
    rtc_pc_callbacks_t cb = {
        .on_connection_state = on_state, .on_ice_gathering_state = on_gathering, .on_datachannel = on_datachannel,
        .on_track = on_track, .on_rtp = on_rtp, .on_keyframe_request = on_keyframe,
    };
    app.pc = rtc_pc_runtime_create_pc(app.rt, &cfg, &cb, NULL);
    if (!app.pc) {
        fprintf(stderr, "starling-peer: cannot create the PeerConnection\n");
        return 1;
    }
    uv_timer_init(app.loop, &app.video_timer);
    uv_timer_init(app.loop, &app.audio_timer);
    uv_timer_init(app.loop, &app.exit_timer);
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sigint, on_signal, SIGINT);

    if (app.offer) {
        if (app.dc_label) {
            rtc_pc_datachannel_t *d = rtc_peer_connection_create_data_channel(app.pc, app.dc_label, NULL);
            if (d) rtc_pc_datachannel_set_callbacks(d, &dc_cb, NULL);
            if (d) rtc_pc_datachannel_set_buffered_amount_low_threshold(d, 1 << 20);
        }
        if (want_video || app.send_media || app.echo) {
            if (want_video || !want_audio) app.video_t = rtc_peer_connection_add_transceiver(app.pc, RTC_PC_MEDIA_VIDEO, NULL);
            if (want_audio || (!want_video && app.send_media)) app.audio_t = rtc_peer_connection_add_transceiver(app.pc, RTC_PC_MEDIA_AUDIO, NULL);
        } else if (want_audio) {
            app.audio_t = rtc_peer_connection_add_transceiver(app.pc, RTC_PC_MEDIA_AUDIO, NULL);
        }
        app.t_start = rtc_clock_now();
        if (rtc_peer_connection_set_local_description(app.pc, RTC_PC_SDP_OFFER, NULL, app.t_start) != RTC_OK) return 1;
        run_until_gathered();
        print_description();
        app.waiting_answer = true;
        cJSON *ans = read_description();
        if (!ans || apply_remote(ans) != RTC_OK) {
            cJSON_Delete(ans);
            fprintf(stderr, "starling-peer: no usable answer\n");
            quit();
        } else {
            cJSON_Delete(ans);
        }
    } else {
        cJSON *off = read_description();
        app.t_start = rtc_clock_now();
        if (!off || apply_remote(off) != RTC_OK) {
            cJSON_Delete(off);
            fprintf(stderr, "starling-peer: no usable offer\n");
            return 1;
        }
        cJSON_Delete(off);
        /* Echo and test media answer every audio/video section with sendrecv. */
        if (app.echo || app.send_media) {
            for (size_t i = 0; i < rtc_peer_connection_transceiver_count(app.pc); i++) {
                rtc_pc_transceiver_t *t = rtc_peer_connection_transceiver(app.pc, i);
                rtc_peer_connection_add_track(app.pc, rtc_pc_transceiver_kind(t), NULL, NULL);
            }
        }
        if (rtc_peer_connection_set_local_description(app.pc, RTC_PC_SDP_ANSWER, NULL, rtc_clock_now()) != RTC_OK)
            return 1;
        run_until_gathered();
        print_description();
    }
    if (app.timeout_s > 0) uv_timer_start(&app.exit_timer, on_exit_timer, (uint64_t)(app.timeout_s * 1000), 0);
    if (!app.quitting) uv_run(app.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&app.video_timer, NULL);
    uv_close((uv_handle_t *)&app.audio_timer, NULL);
    uv_close((uv_handle_t *)&app.exit_timer, NULL);
    uv_close((uv_handle_t *)&app.sigterm, NULL);
    uv_close((uv_handle_t *)&app.sigint, NULL);
    rtc_pc_runtime_destroy(app.rt);
    uv_run(app.loop, UV_RUN_DEFAULT);
    test_video_free(app.vid);
    uv_loop_close(app.loop);
    return app.state == RTC_PC_STATE_FAILED ? 1 : 0;
}
