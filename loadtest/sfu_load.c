/* starling-loadtest sfu / janus — the engine (see sfu_load.h).
 *
 * Timeline of a run:
 *   1. prepare: the protocol module's own setup (Janus: an admin session creates the rooms).
 *   2. publishers join, paced at --join-rate, and publish (offer -> answer -> ICE/DTLS); each
 *      starts sending as soon as its PeerConnection is connected.
 *   3. once every publisher is connected (or failed), subscribers join and subscribe; with
 *      --publishers-subscribe the publishers subscribe to each other too.
 *   4. once everyone is connected (or --setup-timeout passed): --warmup seconds, then the
 *      measurement window of --duration seconds: packets sent and received, losses by RTP
 *      sequence numbers, the server's CPU time from /proc/PID/stat and our own.
 *   5. report, leave, close.
 * Everything runs on one libuv loop: one PeerConnection runtime drives every PeerConnection
 * (each with its own UDP socket on the --bind addresses).
 */
#include "sfu_load.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lt.h"
#include "sdp_filter.h"
#include "test_media.h"

#define MEDIA_TICK_MS 5
#define MAX_FRAMES_BEHIND 3 /* a publisher further behind skips frames (counted as late) */

static lt_app_t *g_app;

static rtc_time_t now_us(void) { return rtc_clock_now(); }

/* ---- helpers --------------------------------------------------------------------------------- */

void lt_room_name(const lt_app_t *a, unsigned room, char *out, size_t cap) {
    snprintf(out, cap, "%s-%u", a->room_prefix, room);
}

uint64_t lt_janus_room_id(const lt_app_t *a, unsigned room) { return a->janus_room_base + room; }

int lt_part_send_json(lt_part_t *p, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return RTC_ERR_NOMEM;
    int rc = lt_ws_send_text(p->ws, s, strlen(s));
    cJSON_free(s);
    return rc;
}

static bool part_settled(const lt_part_t *p);
static void check_progress(lt_app_t *a);

void lt_part_fail(lt_part_t *p, const char *fmt, ...) {
    if (p->phase == LT_P_FAILED || p->phase == LT_P_DONE) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fail_reason, sizeof p->fail_reason, fmt, ap);
    va_end(ap);
    p->phase = LT_P_FAILED;
    if (!p->app->quiet || p->app->stage < 3)
        fprintf(stderr, "[%s] %s failed: %s\n", p->app->label, p->identity, p->fail_reason);
    check_progress(p->app);
}

/* Number of participants in p's room, other than p, that receive p's media. */
static unsigned receivers_of(const lt_app_t *a, const lt_part_t *p) {
    unsigned n = 0;
    size_t per_room = a->publishers + a->subscribers;
    for (size_t i = 0; i < per_room; i++) {
        const lt_part_t *q = &a->parts[(size_t)p->room * per_room + i];
        if (q != p && q->subscribes && q->sub_connected && q->phase == LT_P_JOINED) n++;
    }
    return n;
}

/* Publishers in the room that p should receive. */
static unsigned sources_for(const lt_app_t *a, const lt_part_t *p) {
    return p->subscribes ? a->publishers - (p->publishes ? 1 : 0) : 0;
}

/* ---- PeerConnection callbacks ------------------------------------------------------------------ */

static void send_local(lt_part_t *p, bool publisher) {
    rtc_peer_connection_t *pc = publisher ? p->pub : p->sub;
    rtc_buf_t b;
    rtc_buf_init(&b);
    if (rtc_peer_connection_local_description(pc, &b, NULL) != RTC_OK || !b.data) {
        rtc_buf_free(&b);
        lt_part_fail(p, "no local description");
        return;
    }
    if (publisher) {
        p->pub_offer_pending = false;
        p->t_pub_offer = now_us();
        p->app->proto->send_offer(p, (const char *)b.data);
    } else {
        p->sub_answer_pending = false;
        p->app->proto->send_answer(p, (const char *)b.data);
    }
    rtc_buf_free(&b);
}

static void on_pub_gathering(void *u, rtc_ice_gathering_state_t s) {
    lt_part_t *p = u;
    if (s == RTC_ICE_GATHERING_COMPLETE && p->pub_offer_pending && p->phase == LT_P_JOINED) send_local(p, true);
}

static void on_sub_gathering(void *u, rtc_ice_gathering_state_t s) {
    lt_part_t *p = u;
    if (s == RTC_ICE_GATHERING_COMPLETE && p->sub_answer_pending && p->phase == LT_P_JOINED) send_local(p, false);
}

static void on_pub_state(void *u, rtc_pc_state_t s) {
    lt_part_t *p = u;
    if (s == RTC_PC_STATE_CONNECTED && !p->pub_connected) {
        p->pub_connected = true;
        p->t_pub_connected = now_us();
        p->media_t0 = p->t_pub_connected;
        p->vts0 = rtc_random_u32();
        p->ats0 = rtc_random_u32();
        check_progress(p->app);
    } else if (s == RTC_PC_STATE_FAILED) {
        lt_part_fail(p, "publisher PeerConnection failed");
    }
}

static void on_sub_state(void *u, rtc_pc_state_t s) {
    lt_part_t *p = u;
    if (s == RTC_PC_STATE_CONNECTED && !p->sub_connected) {
        p->sub_connected = true;
        p->t_sub_connected = now_us();
        check_progress(p->app);
    } else if (s == RTC_PC_STATE_FAILED) {
        lt_part_fail(p, "subscriber PeerConnection failed");
    }
}

static void on_pub_keyframe(void *u, rtc_pc_transceiver_t *t, bool fir) {
    (void)fir;
    lt_part_t *p = u;
    p->kf_requests++;
    if (t == p->vt) p->want_keyframe = true;
}

static int64_t stream_expected(const lt_stream_t *s) { return s->cycles + s->max_seq - s->base + 1; }

static void on_sub_rtp(void *u, rtc_pc_transceiver_t *t, const uint8_t *pkt, size_t n, const rtc_pc_rtp_info_t *info) {
    lt_part_t *p = u;
    lt_app_t *a = p->app;
    if (n < 12) return;
    uint16_t seq = rtc_be16(pkt + 2);
    lt_stream_t *s = NULL;
    for (size_t i = 0; i < p->n_streams; i++)
        if (p->streams[i].ssrc == info->ssrc) { s = &p->streams[i]; break; }
    if (!s) {
        if (p->n_streams == LT_MAX_STREAMS) return;
        s = &p->streams[p->n_streams++];
        memset(s, 0, sizeof *s);
        s->ssrc = info->ssrc;
        s->video = rtc_pc_transceiver_kind(t) == RTC_PC_MEDIA_VIDEO;
        s->max_seq = seq;
        s->base = seq;
    } else {
        uint16_t delta = (uint16_t)(seq - s->max_seq);
        if (delta != 0 && delta < 0x8000) {
            if (seq < s->max_seq) s->cycles += 65536;
            s->max_seq = seq;
        }
    }
    s->received++;
    s->bytes += n;
    p->rx_pkts++;
    p->rx_bytes += n;
    if (info->retransmission) p->rx_rtx++;
    a->rx_pkts++;
    a->rx_bytes += n;
}

static rtc_peer_connection_t *make_pc(lt_part_t *p, bool publisher) {
    lt_app_t *a = p->app;
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    cfg.filter = a->filter;
    cfg.certificate = a->cert;
    cfg.aggressive_nomination = true;
    snprintf(cfg.log_id, sizeof cfg.log_id, "%.24s/%s", p->identity, publisher ? "pub" : "sub");
    rtc_pc_callbacks_t cb = {0};
    if (publisher) {
        cb.on_connection_state = on_pub_state;
        cb.on_ice_gathering_state = on_pub_gathering;
        cb.on_keyframe_request = on_pub_keyframe;
    } else {
        cb.on_connection_state = on_sub_state;
        cb.on_ice_gathering_state = on_sub_gathering;
        cb.on_rtp = on_sub_rtp;
    }
    return rtc_pc_runtime_create_pc(a->rt, &cfg, &cb, p);
}

/* ---- engine entry points ------------------------------------------------------------------------ */

void lt_part_joined(lt_part_t *p) {
    lt_app_t *a = p->app;
    if (p->phase != LT_P_JOINING) return;
    p->phase = LT_P_JOINED;
    p->t_joined = now_us();
    if (p->publishes) {
        p->pub = make_pc(p, true);
        if (!p->pub) {
            lt_part_fail(p, "cannot create the publisher PeerConnection");
            return;
        }
        rtc_pc_transceiver_init_t ti;
        rtc_pc_transceiver_init_defaults(&ti);
        ti.direction = RTC_SDP_DIR_SENDONLY;
        ti.stream_id = p->identity;
        p->vt = rtc_peer_connection_add_transceiver(p->pub, RTC_PC_MEDIA_VIDEO, &ti);
        if (a->audio) p->at = rtc_peer_connection_add_transceiver(p->pub, RTC_PC_MEDIA_AUDIO, &ti);
        int rc = p->vt ? rtc_peer_connection_set_local_description(p->pub, RTC_PC_SDP_OFFER, NULL, now_us())
                       : RTC_ERR_FAILED;
        if (rc != RTC_OK) {
            lt_part_fail(p, "publisher offer: %s", rtc_strerror(rc));
            return;
        }
        p->pub_offer_pending = true;
        if (rtc_peer_connection_ice_gathering_state(p->pub) == RTC_ICE_GATHERING_COMPLETE) send_local(p, true);
    }
    if (p->subscribes && a->stage >= 2 && !p->sub_started && sources_for(a, p) > 0) {
        p->sub_started = true;
        a->proto->start_subscribing(p);
    }
    check_progress(a);
}

/* Remote candidates we may send checks to: loopback, or inside one of the --bind prefixes
 * (the network rule: nothing leaves for an address the test does not own). */
static bool remote_allowed(void *u, const rtc_addr_t *addr) {
    const lt_app_t *a = u;
    if (rtc_addr_is_loopback(addr)) return true;
    for (size_t i = 0; i < a->filter.n_prefixes; i++)
        if (rtc_addr_in_prefix(addr, &a->filter.prefixes[i], a->filter.prefix_bits[i])) return true;
    return false;
}

/* The remote description without the candidates we must not use (counted). */
static char *filtered_sdp(lt_app_t *a, const char *sdp) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    int dropped = lt_sdp_filter_candidates(sdp, strlen(sdp), remote_allowed, a, &b);
    if (dropped < 0) {
        rtc_buf_free(&b);
        return NULL;
    }
    if (dropped && !a->dropped_candidates)
        fprintf(stderr, "[%s] ignoring the server's candidates outside loopback and --bind (first of them now)\n",
                a->label);
    a->dropped_candidates += (uint64_t)dropped;
    return (char *)b.data;
}

void lt_part_publisher_answer(lt_part_t *p, const char *sdp) {
    if (!p->pub || p->phase != LT_P_JOINED) return;
    char *f = filtered_sdp(p->app, sdp);
    int rc = f ? rtc_peer_connection_set_remote_description(p->pub, RTC_PC_SDP_ANSWER, f, now_us()) : RTC_ERR_NOMEM;
    free(f);
    if (rc != RTC_OK) lt_part_fail(p, "server's publisher answer refused: %s", rtc_strerror(rc));
}

void lt_part_subscriber_offer(lt_part_t *p, const char *sdp) {
    if (p->phase != LT_P_JOINED) return;
    if (!p->sub) {
        p->sub = make_pc(p, false);
        if (!p->sub) {
            lt_part_fail(p, "cannot create the subscriber PeerConnection");
            return;
        }
    }
    if (!p->t_sub_offer) p->t_sub_offer = now_us();
    p->sub_offers++;
    char *f = filtered_sdp(p->app, sdp);
    int rc = f ? rtc_peer_connection_set_remote_description(p->sub, RTC_PC_SDP_OFFER, f, now_us()) : RTC_ERR_NOMEM;
    free(f);
    if (rc == RTC_OK) rc = rtc_peer_connection_set_local_description(p->sub, RTC_PC_SDP_ANSWER, NULL, now_us());
    if (rc != RTC_OK) {
        lt_part_fail(p, "subscriber offer: %s", rtc_strerror(rc));
        return;
    }
    p->sub_answer_pending = true;
    if (rtc_peer_connection_ice_gathering_state(p->sub) == RTC_ICE_GATHERING_COMPLETE) send_local(p, false);
}

void lt_part_remote_candidate(lt_part_t *p, bool publisher, const char *cand, const char *mid) {
    rtc_peer_connection_t *pc = publisher ? p->pub : p->sub;
    if (!pc) return;
    if (cand && *cand && !lt_candidate_allowed(cand, strlen(cand), remote_allowed, p->app)) {
        p->app->dropped_candidates++;
        return;
    }
    rtc_peer_connection_add_ice_candidate(pc, cand, mid, now_us());
}

/* ---- WebSocket ------------------------------------------------------------------------------------ */

static void ws_open(void *u, lt_ws_t *ws) {
    (void)ws;
    lt_part_t *p = u;
    p->app->proto->on_open(p);
}

static void ws_text(void *u, lt_ws_t *ws, char *msg, size_t n) {
    (void)ws;
    (void)n;
    lt_part_t *p = u;
    cJSON *m = cJSON_Parse(msg);
    if (!m) {
        p->app->proto_errors++;
        return;
    }
    p->app->proto->on_message(p, m);
    cJSON_Delete(m);
}

static void ws_closed(void *u, lt_ws_t *ws, int code, const char *why) {
    (void)ws;
    lt_part_t *p = u;
    p->ws = NULL;
    if (!p->app->stopping) lt_part_fail(p, "signalling closed (%d %s)", code, why);
}

static const lt_ws_callbacks_t ws_cb = {.on_open = ws_open, .on_text = ws_text, .on_closed = ws_closed};

static void part_start(lt_part_t *p) {
    p->t_start = now_us();
    p->phase = LT_P_JOINING;
    p->ws = lt_ws_connect(p->app->loop, &p->app->server, p->app->proto->ws_path, p->app->proto->ws_protocol,
                          &ws_cb, p);
    if (!p->ws) lt_part_fail(p, "cannot open a TCP socket");
}

/* ---- stages ------------------------------------------------------------------------------------------ */

static bool part_settled(const lt_part_t *p) {
    if (p->phase == LT_P_FAILED || p->phase == LT_P_DONE) return true;
    if (p->phase != LT_P_JOINED) return false;
    if (p->publishes && !p->pub_connected) return false;
    if (sources_for(p->app, p) > 0 && !p->sub_connected) return false;
    return true;
}

static bool publishers_settled(const lt_app_t *a) {
    for (size_t i = 0; i < a->n_parts; i++) {
        const lt_part_t *p = &a->parts[i];
        if (!p->publishes) continue;
        if (p->phase == LT_P_IDLE) return false;
        if (p->phase == LT_P_JOINING) return false;
        if (p->phase == LT_P_JOINED && !p->pub_connected) return false;
    }
    return true;
}

static void open_window(lt_app_t *a);
static void close_window(lt_app_t *a);
static void on_end_timer(uv_timer_t *t);
static void on_start_timer(uv_timer_t *t);

static void report(lt_app_t *a);
static void teardown(lt_app_t *a);

static void setup_done(lt_app_t *a) {
    if (a->stage >= 3) return;
    a->stage = 3;
    a->t_setup_done = now_us();
    bool anyone = false;
    for (size_t i = 0; i < a->n_parts; i++)
        if (a->parts[i].phase == LT_P_JOINED && (a->parts[i].pub_connected || a->parts[i].sub_connected)) anyone = true;
    if (!anyone) {
        fprintf(stderr, "[%s] nobody connected: no measurement\n", a->label);
        report(a);
        teardown(a);
        return;
    }
    uv_timer_start(&a->end_timer, on_end_timer, (uint64_t)(a->warmup_s * 1000), 0);
}

static void start_timer_run(lt_app_t *a) {
    uint64_t iv = (uint64_t)(1000.0 / a->join_rate);
    uv_timer_start(&a->start_timer, on_start_timer, 0, iv ? iv : 1);
}

static void enter_stage2(lt_app_t *a) {
    a->stage = 2;
    a->t_stage2 = now_us();
    a->next_start = 0; /* the list again, for the subscribers */
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->publishes && p->subscribes && p->phase == LT_P_JOINED && !p->sub_started && sources_for(a, p) > 0) {
            p->sub_started = true;
            a->proto->start_subscribing(p);
        }
    }
    if (!a->stopping) start_timer_run(a);
}

static void check_progress(lt_app_t *a) {
    if (a->stopping) return;
    if (a->stage == 1 && a->next_start >= a->n_parts && publishers_settled(a)) enter_stage2(a);
    if (a->stage == 2 && a->next_start >= a->n_parts) {
        for (size_t i = 0; i < a->n_parts; i++)
            if (!part_settled(&a->parts[i])) return;
        setup_done(a);
    }
}

/* Starts the next participant of the current stage: publishers in stage 1, the others in
 * stage 2. Once the list is exhausted the timer stops until the next stage. */
static void on_start_timer(uv_timer_t *t) {
    lt_app_t *a = t->data;
    if (a->stopping || a->stage > 2) {
        uv_timer_stop(t);
        return;
    }
    while (a->next_start < a->n_parts) {
        lt_part_t *p = &a->parts[a->next_start++];
        if (p->phase == LT_P_IDLE && (a->stage == 1 ? p->publishes : !p->publishes)) {
            part_start(p);
            return;
        }
    }
    uv_timer_stop(t);
    check_progress(a);
}

/* ---- media --------------------------------------------------------------------------------------------- */

static void send_media(lt_app_t *a, lt_part_t *p, rtc_time_t now) {
    const lt_clip_t *c = &a->clip;
    rtc_time_t el = now - p->media_t0;
    if (p->vt) {
        uint64_t due = (uint64_t)el * c->fps / 1000000 + 1;
        if (due - p->v_due_sent > MAX_FRAMES_BEHIND) {
            /* The loop stalled: skip to the frame due now (the clip moves on as well). */
            uint64_t skip = due - 1 - p->v_due_sent;
            p->late_frames += skip;
            p->v_due_sent += skip;
            p->clip_pos = (p->clip_pos + (size_t)(skip % c->n)) % c->n;
        }
        while (p->v_due_sent < due) {
            if (p->want_keyframe && now - p->last_forced_kf >= RTC_MS(300)) {
                p->want_keyframe = false;
                p->last_forced_kf = now;
                p->clip_pos = 0;
            }
            const lt_clip_frame_t *f = &c->frames[p->clip_pos];
            uint32_t ts = p->vts0 + (uint32_t)(p->v_due_sent * 90000 / c->fps);
            if (f->len) {
                int rc = rtc_pc_transceiver_send_frame(p->vt, "VP8", f->data, f->len, ts, now);
                if (rc == RTC_OK) {
                    unsigned k = lt_vp8_packets(f->len);
                    p->tx_pkts += k;
                    p->tx_bytes += f->len;
                    a->tx_pkts += k;
                    a->tx_bytes += f->len;
                    p->v_frames++;
                } else {
                    p->send_errors++;
                }
            }
            p->clip_pos = (p->clip_pos + 1) % c->n;
            p->v_due_sent++;
        }
    }
    if (p->at) {
        uint64_t due = (uint64_t)el / 20000 + 1;
        if (due - p->a_due_sent > MAX_FRAMES_BEHIND * 2) p->a_due_sent = due - 1;
        while (p->a_due_sent < due) {
            uint32_t ts = p->ats0 + (uint32_t)(p->a_due_sent * 960);
            if (rtc_pc_transceiver_send_frame(p->at, "opus", test_opus_silence, sizeof test_opus_silence, ts, now) ==
                RTC_OK) {
                p->tx_pkts++;
                p->tx_bytes += sizeof test_opus_silence;
                a->tx_pkts++;
                a->tx_bytes += sizeof test_opus_silence;
            }
            p->a_due_sent++;
        }
    }
}

static void on_media_timer(uv_timer_t *t) {
    lt_app_t *a = t->data;
    rtc_time_t now = now_us();
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->pub_connected && p->phase == LT_P_JOINED) send_media(a, p, now);
    }
}

/* ---- measurement window and report --------------------------------------------------------------------- */

static double cpu_now(const lt_app_t *a) { return a->server_pid > 0 ? lt_proc_cpu_seconds(a->server_pid) : NAN; }

static void open_window(lt_app_t *a) {
    a->window_open = true;
    a->t_window0 = now_us();
    a->cpu0 = cpu_now(a);
    a->self_cpu0 = lt_self_cpu_seconds();
    a->rx0 = a->rx_pkts;
    a->rxb0 = a->rx_bytes;
    a->tx0 = a->tx_pkts;
    a->txb0 = a->tx_bytes;
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        p->w_tx_pkts0 = p->tx_pkts;
        for (size_t k = 0; k < p->n_streams; k++) {
            p->streams[k].w_expected0 = stream_expected(&p->streams[k]);
            p->streams[k].w_received0 = p->streams[k].received;
        }
    }
}

static void close_window(lt_app_t *a) {
    if (!a->window_open || a->window_closed) return;
    a->window_closed = true;
    a->t_window1 = now_us();
    a->cpu1 = cpu_now(a);
    a->self_cpu1 = lt_self_cpu_seconds();
    a->rx1 = a->rx_pkts;
    a->rxb1 = a->rx_bytes;
    a->tx1 = a->tx_pkts;
    a->txb1 = a->tx_bytes;
    uint64_t expected = 0, exp_seq = 0, recv_seq = 0;
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->publishes) expected += (p->tx_pkts - p->w_tx_pkts0) * receivers_of(a, p);
        for (size_t k = 0; k < p->n_streams; k++) {
            const lt_stream_t *s = &p->streams[k];
            int64_t e = stream_expected(s) - s->w_expected0;
            exp_seq += e > 0 ? (uint64_t)e : 0;
            recv_seq += s->received - s->w_received0;
        }
    }
    a->expected_window = expected;
    a->recv_window = recv_seq;
    a->lost_window = exp_seq > recv_seq ? exp_seq - recv_seq : 0;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

typedef struct {
    size_t n;
    double p50, p95, max;
} dist_t;

static dist_t dist_of(double *v, size_t n) {
    dist_t d = {n, NAN, NAN, NAN};
    if (!n) return d;
    qsort(v, n, sizeof *v, cmp_double);
    d.p50 = v[(n - 1) / 2];
    d.p95 = v[(size_t)ceil(0.95 * (double)n) - 1];
    d.max = v[n - 1];
    return d;
}

static void report(lt_app_t *a) {
    size_t n = a->n_parts, joined = 0, failed = 0, pubs = 0, pub_conn = 0, subs = 0, sub_conn = 0;
    double *jv = calloc(n + 1, sizeof *jv), *pv = calloc(n + 1, sizeof *pv), *sv = calloc(n + 1, sizeof *sv);
    size_t nj = 0, np = 0, ns = 0;
    uint64_t late = 0, frames = 0, kfreq = 0, rtx = 0, send_err = 0;
    const char *first_fail = NULL;
    for (size_t i = 0; i < n; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->t_joined) { joined++; jv[nj++] = (double)(p->t_joined - p->t_start) / 1000.0; }
        if (p->phase == LT_P_FAILED) { failed++; if (!first_fail) first_fail = p->fail_reason; }
        if (p->publishes) {
            pubs++;
            if (p->pub_connected) { pub_conn++; pv[np++] = (double)(p->t_pub_connected - p->t_pub_offer) / 1000.0; }
        }
        if (sources_for(a, p) > 0) {
            subs++;
            if (p->sub_connected) { sub_conn++; sv[ns++] = (double)(p->t_sub_connected - p->t_sub_offer) / 1000.0; }
        }
        late += p->late_frames;
        frames += p->v_frames;
        kfreq += p->kf_requests;
        rtx += p->rx_rtx;
        send_err += p->send_errors;
    }
    dist_t dj = dist_of(jv, nj), dp = dist_of(pv, np), ds = dist_of(sv, ns);
    free(jv);
    free(pv);
    free(sv);
    double win = a->window_closed ? (double)(a->t_window1 - a->t_window0) / 1e6 : 0;
    uint64_t tx = a->tx1 - a->tx0, rx = a->rx1 - a->rx0;
    double tx_pps = win > 0 ? (double)tx / win : 0, rx_pps = win > 0 ? (double)rx / win : 0;
    double tx_kbps = win > 0 ? (double)(a->txb1 - a->txb0) * 8 / 1000 / win : 0;
    double rx_kbps = win > 0 ? (double)(a->rxb1 - a->rxb0) * 8 / 1000 / win : 0;
    double server_cpu = win > 0 ? (a->cpu1 - a->cpu0) / win * 100 : NAN;
    double self_cpu = win > 0 ? (a->self_cpu1 - a->self_cpu0) / win * 100 : NAN;
    double us_per_pkt = rx && !isnan(server_cpu) ? (a->cpu1 - a->cpu0) * 1e6 / (double)rx : NAN;
    double delivery = a->expected_window ? 100.0 * (double)rx / (double)a->expected_window : NAN;
    double loss_pct = a->recv_window + a->lost_window
                          ? 100.0 * (double)a->lost_window / (double)(a->recv_window + a->lost_window) : 0;
    /* Frames the generator meant to send in the window vs. what it skipped for being late. */
    bool kept_up = frames == 0 || (double)late <= 0.03 * (double)(frames + late);
    if (!isnan(self_cpu) && self_cpu > 95) kept_up = false;

    const char *L = a->label;
    printf("[%s] %s at %s: %u rooms x (%u publishers + %u subscribers)%s, VP8 %ux%u@%u %s at %u kbit/s "
           "(clip carries %.0f kbit/s)%s\n",
           L, a->proto->server_name, a->server_str, a->rooms, a->publishers, a->subscribers,
           a->pub_subscribe ? ", publishers subscribe too" : "", a->clip.width, a->clip.height, a->clip.fps,
           a->clip.real_vp8 ? "libvpx" : "synthetic", a->kbps, a->clip.kbps, a->audio ? " + Opus 20 ms" : "");
    printf("[%s] participants %zu: joined %zu, publishers connected %zu/%zu, subscribers connected %zu/%zu, failed %zu\n",
           L, n, joined, pub_conn, pubs, sub_conn, subs, failed);
    if (first_fail) printf("[%s] first failure: %s\n", L, first_fail);
    printf("[%s] join ms p50 %.1f p95 %.1f max %.1f; publisher connect (offer -> connected) ms p50 %.1f p95 %.1f max %.1f; "
           "subscriber connect ms p50 %.1f p95 %.1f max %.1f\n",
           L, dj.p50, dj.p95, dj.max, dp.p50, dp.p95, dp.max, ds.p50, ds.p95, ds.max);
    if (!a->window_closed) {
        printf("[%s] no measurement window (setup did not finish)\n", L);
    } else {
        printf("[%s] window %.1f s: sent %llu packets (%.0f pkt/s, %.0f kbit/s); received %llu forwarded packets "
               "(%.0f pkt/s, %.0f kbit/s) = %.1f%% of the expected fan-out %llu\n",
               L, win, (unsigned long long)tx, tx_pps, tx_kbps, (unsigned long long)rx, rx_pps, rx_kbps, delivery,
               (unsigned long long)a->expected_window);
        printf("[%s] loss by sequence numbers %llu of %llu (%.3f%%), retransmissions received %llu (whole run), "
               "keyframe requests %llu, late frames skipped %llu%s\n",
               L, (unsigned long long)a->lost_window, (unsigned long long)(a->recv_window + a->lost_window), loss_pct,
               (unsigned long long)rtx, (unsigned long long)kfreq, (unsigned long long)late,
               kept_up ? "" : "  << GENERATOR COULD NOT KEEP UP");
        printf("[%s] server cpu %.1f%% (pid %d) = %.2f us per forwarded packet, loadtest cpu %.1f%%\n", L, server_cpu,
               a->server_pid, us_per_pkt, self_cpu);
    }
    if (send_err) printf("[%s] %llu frames could not be sent\n", L, (unsigned long long)send_err);
    if (a->dropped_candidates)
        printf("[%s] %llu server candidates ignored (outside loopback and --bind)\n", L,
               (unsigned long long)a->dropped_candidates);
    printf("RESULT label=%s target=%s rooms=%u publishers=%u subscribers=%u pub_subscribe=%d participants=%zu "
           "joined=%zu pub_connected=%zu pub_expected=%zu sub_connected=%zu sub_expected=%zu failed=%zu "
           "kbps=%u fps=%u width=%u height=%u clip_kbps=%.0f audio=%d "
           "join_p50_ms=%.1f join_p95_ms=%.1f join_max_ms=%.1f pub_connect_p50_ms=%.1f pub_connect_p95_ms=%.1f "
           "pub_connect_max_ms=%.1f sub_connect_p50_ms=%.1f sub_connect_p95_ms=%.1f sub_connect_max_ms=%.1f "
           "window_s=%.2f sent_pkts=%llu sent_pps=%.0f sent_kbps=%.0f recv_pkts=%llu recv_pps=%.0f recv_kbps=%.0f "
           "expected_pkts=%llu delivery_pct=%.2f lost=%llu loss_pct=%.4f rtx=%llu keyframe_requests=%llu "
           "late_frames=%llu kept_up=%d server_cpu_pct=%.1f server_us_per_pkt=%.2f loadtest_cpu_pct=%.1f "
           "dropped_candidates=%llu\n",
           L, a->proto->name, a->rooms, a->publishers, a->subscribers, a->pub_subscribe ? 1 : 0, n, joined, pub_conn,
           pubs, sub_conn, subs, failed, a->kbps, a->clip.fps, a->clip.width, a->clip.height, a->clip.kbps,
           a->audio ? 1 : 0, dj.p50, dj.p95, dj.max, dp.p50, dp.p95, dp.max, ds.p50, ds.p95, ds.max, win,
           (unsigned long long)tx, tx_pps, tx_kbps, (unsigned long long)rx, rx_pps, rx_kbps,
           (unsigned long long)a->expected_window, delivery, (unsigned long long)a->lost_window, loss_pct,
           (unsigned long long)rtx, (unsigned long long)kfreq, (unsigned long long)late, kept_up ? 1 : 0, server_cpu,
           us_per_pkt, self_cpu, (unsigned long long)a->dropped_candidates);
    fflush(stdout);
    a->exit_code = (a->window_closed && tx > 0 && rx > 0) ? 0 : 1;
}

/* ---- progress, end -------------------------------------------------------------------------------------- */

static uint64_t last_tx, last_rx;
static double last_cpu, last_self;
static rtc_time_t last_t;

static void on_second(uv_timer_t *t) {
    lt_app_t *a = t->data;
    rtc_time_t now = now_us();
    size_t joined = 0, pubc = 0, subc = 0, failed = 0;
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->phase == LT_P_JOINED || p->phase == LT_P_FAILED || p->phase == LT_P_DONE) {
            if (p->t_joined) joined++;
        }
        if (p->pub_connected) pubc++;
        if (p->sub_connected) subc++;
        if (p->phase == LT_P_FAILED) failed++;
        if (p->phase == LT_P_JOINED && a->proto->tick) a->proto->tick(p, now);
    }
    double cpu = cpu_now(a), self = lt_self_cpu_seconds();
    double dt = last_t ? (double)(now - last_t) / 1e6 : 0;
    if (!a->quiet && dt > 0) {
        const char *what = a->stage <= 2 ? "setup" : a->window_open && !a->window_closed ? "measuring" : "warmup";
        fprintf(stderr, "[%s] t=%4.0fs %-9s joined=%zu/%zu pub=%zu sub=%zu failed=%zu sent=%.0f pkt/s recv=%.0f pkt/s "
                        "server_cpu=%.0f%% self_cpu=%.0f%%\n",
                a->label, (double)(now - a->t_begin) / 1e6, what, joined, a->n_parts, pubc, subc, failed,
                (double)(a->tx_pkts - last_tx) / dt, (double)(a->rx_pkts - last_rx) / dt, (cpu - last_cpu) / dt * 100,
                (self - last_self) / dt * 100);
    }
    last_tx = a->tx_pkts;
    last_rx = a->rx_pkts;
    last_cpu = cpu;
    last_self = self;
    last_t = now;
    /* Setup that does not finish: measure whoever made it. */
    if (a->stage < 3 && (double)(now - a->t_begin) / 1e6 >= a->setup_timeout_s) {
        size_t unsettled = 0;
        for (size_t i = 0; i < a->n_parts; i++) unsettled += !part_settled(&a->parts[i]);
        fprintf(stderr, "[%s] setup timed out after %.0f s with %zu participants not connected; measuring the rest\n",
                a->label, a->setup_timeout_s, unsettled);
        if (a->stage < 2) enter_stage2(a);
        setup_done(a);
    }
}

static void stop_loop_cb(uv_timer_t *t) { uv_stop(t->loop); }

static void teardown(lt_app_t *a) {
    if (a->stopping) return;
    a->stopping = true;
    uv_timer_stop(&a->start_timer);
    uv_timer_stop(&a->media_timer);
    uv_timer_stop(&a->second_timer);
    rtc_time_t now = now_us();
    for (size_t i = 0; i < a->n_parts; i++) {
        lt_part_t *p = &a->parts[i];
        if (p->ws && p->phase == LT_P_JOINED && a->proto->leave) a->proto->leave(p);
        lt_ws_close(p->ws);
        p->ws = NULL;
        if (p->pub) rtc_peer_connection_close(p->pub, now);
        if (p->sub) rtc_peer_connection_close(p->sub, now);
        if (p->phase == LT_P_JOINED) p->phase = LT_P_DONE;
    }
    if (a->proto->finish) a->proto->finish(a);
    /* Let the close frames and DTLS alerts go out. */
    uv_timer_start(&a->end_timer, stop_loop_cb, 300, 0);
}

static void on_end_timer(uv_timer_t *t) {
    lt_app_t *a = t->data;
    if (!a->window_open) {
        open_window(a);
        uv_timer_start(&a->end_timer, on_end_timer, (uint64_t)(a->duration_s * 1000), 0);
        return;
    }
    close_window(a);
    report(a);
    teardown(a);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)sig;
    lt_app_t *a = h->data;
    if (a->stopping) return;
    fprintf(stderr, "[%s] interrupted\n", a->label);
    close_window(a);
    report(a);
    teardown(a);
}

static void prepared(lt_app_t *a, bool ok) {
    if (!ok) {
        fprintf(stderr, "[%s] %s preparation failed\n", a->label, a->proto->server_name);
        report(a);
        a->exit_code = 1;
        teardown(a);
        return;
    }
    a->stage = 1;
    start_timer_run(a);
}

/* ---- main --------------------------------------------------------------------------------------------- */

static void usage(const lt_proto_t *proto) {
    bool janus = proto == &lt_proto_janus;
    printf("usage: starling-loadtest %s %s\n"
           "         [--rooms N=1] [--publishers P=1] [--subscribers S=2] [--publishers-subscribe]\n"
           "         [--bitrate KBITPS=500] [--fps 30] [--video-size WxH (by bitrate)] [--audio]\n"
           "         [--duration SEC=10] [--warmup SEC=2] [--setup-timeout SEC=60] [--join-rate N/s=20]\n"
           "         [--bind LIST=127.0.0.1] [--server-pid PID] [--label NAME] [--quiet] [--log LEVEL]\n"
           "         [--room-prefix NAME] [--clip FILE.ivf]\n"
           "  Each of N rooms gets P publishers and S subscribers; every participant is a real\n"
           "  PeerConnection of our stack (ICE on the --bind addresses only, DTLS, SRTP). Publishers\n"
           "  join first and loop a VP8 clip (libvpx, encoded once at start) at the bitrate; once they are\n"
           "  connected the subscribers join and receive every publisher of their room (with\n"
           "  --publishers-subscribe the publishers receive each other too). --clip FILE loops the frames of\n"
           "  that IVF file (written by an earlier run with the same --clip), so runs against different\n"
           "  servers send identical media; --bitrate/--fps/--video-size then only apply when it is made.\n"
           "  After --warmup the window of\n"
           "  --duration seconds counts packets sent and received, losses (RTP sequence numbers) and,\n"
           "  with --server-pid, the server's CPU time (/proc/PID/stat) per forwarded packet.\n"
           "  Prints a progress line each second and a final report; the 'RESULT' line is for scripts.\n"
           "  Exit status: 0 when media was forwarded and received in the window, 1 otherwise, 2 on bad usage.\n",
           janus ? "janus" : "sfu",
           janus ? "--janus HOST:PORT   (Janus's WebSocket transport, videoroom plugin)"
                 : "--signal HOST:PORT --api-key KEY --api-secret SECRET   (starling-signal)");
}

static void default_size(unsigned kbps, unsigned *w, unsigned *h) {
    if (kbps <= 300) { *w = 320; *h = 240; }
    else if (kbps <= 1200) { *w = 640; *h = 360; }
    else { *w = 1280; *h = 720; }
}

int lt_sfu_load_main(int argc, char **argv, const lt_proto_t *proto) {
    static lt_app_t A;
    lt_app_t *a = &A;
    memset(a, 0, sizeof *a);
    g_app = a;
    a->proto = proto;
    a->rooms = 1;
    a->publishers = 1;
    a->subscribers = 2;
    a->kbps = 500;
    a->fps = 30;
    a->duration_s = 10;
    a->warmup_s = 2;
    a->setup_timeout_s = 60;
    a->join_rate = 20;
    a->label = proto->name;
    const char *server_s = NULL, *bind = "127.0.0.1", *size_s = NULL, *prefix = NULL;
    rtc_log_set_level(RTC_LOG_WARN);
    static const struct option opts[] = {
        {"signal", required_argument, 0, 'g'},      {"janus", required_argument, 0, 'j'},
        {"api-key", required_argument, 0, 'k'},     {"api-secret", required_argument, 0, 'K'},
        {"rooms", required_argument, 0, 'r'},       {"publishers", required_argument, 0, 'p'},
        {"subscribers", required_argument, 0, 's'}, {"publishers-subscribe", no_argument, 0, 'X'},
        {"bitrate", required_argument, 0, 'b'},     {"fps", required_argument, 0, 'f'},
        {"video-size", required_argument, 0, 'v'},  {"audio", no_argument, 0, 'a'},
        {"duration", required_argument, 0, 'd'},    {"warmup", required_argument, 0, 'w'},
        {"setup-timeout", required_argument, 0, 'T'}, {"join-rate", required_argument, 0, 'J'},
        {"bind", required_argument, 0, 'B'},        {"server-pid", required_argument, 0, 'P'},
        {"label", required_argument, 0, 'L'},       {"quiet", no_argument, 0, 'q'},
        {"log", required_argument, 0, 'l'},         {"room-prefix", required_argument, 0, 'R'},
        {"clip", required_argument, 0, 'C'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'g': case 'j': server_s = optarg; break;
        case 'k': a->api_key = optarg; break;
        case 'K': a->api_secret = optarg; break;
        case 'r': a->rooms = (unsigned)atoi(optarg); break;
        case 'p': a->publishers = (unsigned)atoi(optarg); break;
        case 's': a->subscribers = (unsigned)atoi(optarg); break;
        case 'X': a->pub_subscribe = true; break;
        case 'b': a->kbps = (unsigned)atoi(optarg); break;
        case 'f': a->fps = (unsigned)atoi(optarg); break;
        case 'v': size_s = optarg; break;
        case 'a': a->audio = true; break;
        case 'd': a->duration_s = atof(optarg); break;
        case 'w': a->warmup_s = atof(optarg); break;
        case 'T': a->setup_timeout_s = atof(optarg); break;
        case 'J': a->join_rate = atof(optarg); break;
        case 'B': bind = optarg; break;
        case 'P': a->server_pid = atoi(optarg); break;
        case 'L': a->label = optarg; break;
        case 'q': a->quiet = true; break;
        case 'R': prefix = optarg; break;
        case 'C': a->clip_path = optarg; break;
        case 'l': {
            rtc_log_level_t lv;
            if (rtc_log_level_parse(optarg, &lv) != RTC_OK) { fprintf(stderr, "bad --log level\n"); return 2; }
            rtc_log_set_level(lv);
            break;
        }
        case 'h': usage(proto); return 0;
        default: usage(proto); return 2;
        }
    }
    if (!server_s) {
        fprintf(stderr, "need %s HOST:PORT\n", proto == &lt_proto_janus ? "--janus" : "--signal");
        return 2;
    }
    if (proto == &lt_proto_starling && (!a->api_key || !a->api_secret)) {
        fprintf(stderr, "need --api-key and --api-secret (starling-signal's api_key/api_secret) to mint tokens\n");
        return 2;
    }
    if (a->rooms < 1 || a->rooms > 10000 || a->publishers < 1 || a->publishers > 16 || a->subscribers > 1000 ||
        a->kbps < 10 || a->kbps > 20000 || a->fps < 1 || a->fps > 60 || a->duration_s <= 0 || a->duration_s > 3600 ||
        a->warmup_s < 0 || a->setup_timeout_s <= 0 || a->join_rate <= 0 ||
        (size_t)a->publishers * 2 + 2 > LT_MAX_STREAMS) {
        fprintf(stderr, "bad option values (rooms 1..10000, publishers 1..16, subscribers 0..1000, bitrate 10..20000, "
                        "fps 1..60, duration 0..3600 s)\n");
        return 2;
    }
    if (lt_parse_addr(&a->server, server_s, proto == &lt_proto_janus ? 8188 : 8080) < 0) return 2;
    rtc_addr_format(&a->server, a->server_str, sizeof a->server_str);
    if (size_s) {
        if (sscanf(size_s, "%ux%u", &a->width, &a->height) != 2 || a->width < 16 || a->height < 16 ||
            a->width > 1920 || a->height > 1080 || (a->width & 1) || (a->height & 1)) {
            fprintf(stderr, "bad --video-size (WxH, even, 16..1920 x 16..1080)\n");
            return 2;
        }
    } else {
        default_size(a->kbps, &a->width, &a->height);
    }
    rtc_net_filter_init(&a->filter);
    if (rtc_net_filter_parse(&a->filter, bind) != RTC_OK) {
        fprintf(stderr, "bad --bind list\n");
        return 2;
    }
    if (prefix) {
        snprintf(a->room_prefix, sizeof a->room_prefix, "%s", prefix);
    } else {
        char rnd[7];
        rtc_random_ice_string(rnd, sizeof rnd);
        for (char *q = rnd; *q; q++)
            if (*q == '+' || *q == '/') *q = 'x';
        snprintf(a->room_prefix, sizeof a->room_prefix, "lt-%s", rnd);
    }
    a->janus_room_base = 100000 + (uint64_t)rtc_random_uniform(800000) * 10;
    signal(SIGPIPE, SIG_IGN);
    lt_raise_nofile();

    if (a->clip_path && access(a->clip_path, R_OK) == 0) {
        /* The same frames as an earlier run (another server, another round). */
        if (lt_clip_load(&a->clip, a->clip_path) < 0) return 1;
        a->fps = a->clip.fps;
        a->width = a->clip.width;
        a->height = a->clip.height;
    } else {
        if (lt_clip_make(&a->clip, a->kbps, a->fps, a->width, a->height, 2.0) < 0) return 1;
        if (a->clip_path && lt_clip_save(&a->clip, a->clip_path) < 0) return 1;
    }
    if (rtc_dtls_cert_generate("starling-loadtest", 30, &a->cert) != RTC_OK) {
        fprintf(stderr, "cannot generate a DTLS certificate\n");
        return 1;
    }
    size_t per_room = a->publishers + a->subscribers;
    a->n_parts = (size_t)a->rooms * per_room;
    a->parts = calloc(a->n_parts, sizeof *a->parts);
    if (!a->parts) return 1;
    /* Room-major storage; stage order walks publishers of every room first, then subscribers. */
    for (unsigned r = 0; r < a->rooms; r++) {
        for (unsigned k = 0; k < per_room; k++) {
            lt_part_t *p = &a->parts[(size_t)r * per_room + k];
            p->app = a;
            p->room = r;
            p->index = k;
            p->publishes = k < a->publishers;
            p->subscribes = !p->publishes || a->pub_subscribe;
            snprintf(p->identity, sizeof p->identity, "lt-r%u-%s%u", r, p->publishes ? "p" : "s",
                     p->publishes ? k : k - a->publishers);
        }
    }
    a->loop = uv_default_loop();
    a->rt = rtc_pc_runtime_create(a->loop, NULL);
    if (!a->rt) return 1;
    uv_timer_init(a->loop, &a->start_timer);
    uv_timer_init(a->loop, &a->media_timer);
    uv_timer_init(a->loop, &a->second_timer);
    uv_timer_init(a->loop, &a->end_timer);
    a->start_timer.data = a->media_timer.data = a->second_timer.data = a->end_timer.data = a;
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);

    fprintf(stderr, "[%s] %s at %s: %u rooms x (%u publishers + %u subscribers) = %zu participants, VP8 %ux%u@%u "
                    "%u kbit/s (%s clip: %.0f kbit/s)%s, ICE on %s, %.0f s window after %.0f s warmup\n",
            a->label, proto->server_name, a->server_str, a->rooms, a->publishers, a->subscribers, a->n_parts,
            a->width, a->height, a->fps, a->kbps, a->clip.real_vp8 ? "libvpx" : "synthetic", a->clip.kbps,
            a->audio ? " + Opus" : "", bind, a->duration_s, a->warmup_s);
    a->t_begin = now_us();
    last_cpu = cpu_now(a);
    last_self = lt_self_cpu_seconds();
    last_t = a->t_begin;
    uv_timer_start(&a->media_timer, on_media_timer, MEDIA_TICK_MS, MEDIA_TICK_MS);
    uv_timer_start(&a->second_timer, on_second, 1000, 1000);
    a->exit_code = 1;
    if (proto->prepare) {
        if (proto->prepare(a, prepared) < 0) {
            teardown(a);
        }
    } else {
        prepared(a, true);
    }
    uv_run(a->loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&a->start_timer, NULL);
    uv_close((uv_handle_t *)&a->media_timer, NULL);
    uv_close((uv_handle_t *)&a->second_timer, NULL);
    uv_close((uv_handle_t *)&a->end_timer, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    rtc_pc_runtime_destroy(a->rt);
    uv_run(a->loop, UV_RUN_DEFAULT);
    uv_loop_close(a->loop);
    rtc_dtls_cert_unref(a->cert);
    lt_clip_free(&a->clip);
    free(a->parts);
    return a->exit_code;
}
