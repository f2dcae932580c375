/* starling-loadtest sfu / janus: simulated participants — each with real PeerConnections of
 * our stack (ICE, DTLS, SRTP) — that join rooms through a signalling server, publish
 * synthetic VP8 (+ Opus) and measure what comes back. The engine (sfu_load.c) owns the
 * participants, their PeerConnections, the media and the numbers; a protocol module speaks
 * the server's signalling: proto_starling.c (starling-signal, docs/signalling.md) or
 * proto_janus.c (Janus's videoroom plugin over its WebSocket API).
 */
#ifndef LT_SFU_LOAD_H
#define LT_SFU_LOAD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "clip.h"
#include "rtc/pc.h"
#include "ws.h"

#define LT_MAX_STREAMS 64 /* received RTP streams per participant (2 per publisher seen) */

typedef struct lt_app lt_app_t;
typedef struct lt_part lt_part_t;

/* One received RTP stream: RFC 3550 A.1-style sequence accounting. */
typedef struct {
    uint32_t ssrc;
    bool video;
    uint16_t max_seq;
    int64_t cycles;
    int64_t base;          /* extended seq of the first packet */
    uint64_t received;
    uint64_t bytes;
    /* at the start of the measurement window */
    int64_t w_expected0;
    uint64_t w_received0;
} lt_stream_t;

typedef enum {
    LT_P_IDLE = 0,   /* not started */
    LT_P_JOINING,    /* WebSocket open or opening, join sent */
    LT_P_JOINED,     /* in the room */
    LT_P_FAILED,
    LT_P_DONE,       /* left at the end */
} lt_phase_t;

struct lt_part {
    lt_app_t *app;
    unsigned room, index;     /* index within the room: publishers first */
    bool publishes, subscribes;
    char identity[48];
    lt_phase_t phase;
    char fail_reason[160];
    lt_ws_t *ws;

    rtc_peer_connection_t *pub, *sub;
    rtc_pc_transceiver_t *vt, *at;  /* our video and audio senders */
    bool pub_offer_pending;         /* waiting for gathering to finish before sending */
    bool sub_answer_pending;
    bool pub_connected, sub_connected;
    bool sub_started;               /* subscribing began (Janus: the subscriber join was sent) */
    int sub_offers;                 /* offers received on the subscriber leg */

    /* times (rtc_clock_now, µs); 0 = not yet */
    rtc_time_t t_start, t_joined, t_pub_offer, t_pub_connected, t_sub_offer, t_sub_connected;

    /* sending */
    rtc_time_t media_t0;
    uint64_t v_due_sent;            /* frames handled (sent or skipped) since media_t0 */
    uint64_t a_due_sent;
    size_t clip_pos;
    uint32_t vts0, ats0;
    bool want_keyframe;
    rtc_time_t last_forced_kf;
    uint64_t tx_pkts, tx_bytes, v_frames, late_frames, send_errors, kf_requests;
    uint64_t w_tx_pkts0;

    /* receiving */
    lt_stream_t streams[LT_MAX_STREAMS];
    size_t n_streams;
    uint64_t rx_pkts, rx_bytes, rx_rtx;

    /* protocol state */
    char participant_id[64];        /* starling */
    uint64_t j_session, j_pub_handle, j_sub_handle, j_feed;  /* janus */
    unsigned j_tx;
    rtc_time_t last_keepalive;
};

/* What a protocol module does; the engine calls these. */
typedef struct {
    const char *name;        /* "starling", "janus" */
    const char *server_name; /* for reports: "starling-sfu", "Janus" */
    const char *ws_path;
    const char *ws_protocol; /* Sec-WebSocket-Protocol, NULL for none */
    /* Called once before participants start; may open connections of its own. Returns 0 or
     * -1 (message printed). `ready` is called (from the loop) when it is done: the engine
     * starts participants then. */
    int (*prepare)(lt_app_t *a, void (*ready)(lt_app_t *a, bool ok));
    /* The participant's WebSocket is open: join. */
    void (*on_open)(lt_part_t *p);
    /* A message from the server (parsed; owned by the caller). */
    void (*on_message)(lt_part_t *p, const cJSON *m);
    /* Our publisher offer, candidates included. */
    void (*send_offer)(lt_part_t *p, const char *sdp);
    /* Our answer to the server's subscriber offer, candidates included. */
    void (*send_answer)(lt_part_t *p, const char *sdp);
    /* Publishers are in: a joined participant that subscribes may start (Janus: attach and
     * join as subscriber to the room's feeds; starling: the SFU offers on its own). */
    void (*start_subscribing)(lt_part_t *p);
    /* Once a second for every joined participant (keepalives). */
    void (*tick)(lt_part_t *p, rtc_time_t now);
    /* Leave politely (the socket is closed right after). */
    void (*leave)(lt_part_t *p);
    /* At the very end, after the participants left. */
    void (*finish)(lt_app_t *a);
} lt_proto_t;

extern const lt_proto_t lt_proto_starling;
extern const lt_proto_t lt_proto_janus;

struct lt_app {
    uv_loop_t *loop;
    rtc_pc_runtime_t *rt;
    const lt_proto_t *proto;
    rtc_dtls_cert_t *cert;
    rtc_net_filter_t filter;

    /* options */
    rtc_addr_t server;             /* signalling server (starling-signal or Janus WS) */
    char server_str[64];
    unsigned rooms, publishers, subscribers;
    bool pub_subscribe;
    unsigned kbps, fps, width, height;
    bool audio;
    const char *clip_path;          /* --clip: load it if present, else encode and save */
    double duration_s, warmup_s, setup_timeout_s;
    double join_rate;
    int server_pid;
    const char *label;
    bool quiet;
    char room_prefix[48];
    const char *api_key, *api_secret;     /* starling tokens */
    uint64_t janus_room_base;

    lt_clip_t clip;

    lt_part_t *parts;
    size_t n_parts;
    size_t next_start;             /* next participant to start in the current stage */
    int stage;                     /* 0 prepare, 1 publishers, 2 subscribers, 3 measuring, 4 done */
    rtc_time_t t_begin, t_stage2, t_setup_done, t_window0, t_window1;
    bool window_open, window_closed;

    /* window snapshots */
    double cpu0, cpu1, self_cpu0, self_cpu1;
    uint64_t rx0, rx1, rxb0, rxb1, tx0, tx1, txb0, txb1;
    uint64_t expected_window, lost_window, recv_window;

    /* totals (running) */
    uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
    uint64_t proto_errors;
    uint64_t janus_slowlinks;
    uint64_t dropped_candidates; /* remote candidates outside loopback and --bind */

    uv_timer_t start_timer, media_timer, second_timer, end_timer;
    uv_signal_t sigint, sigterm;
    bool stopping;
    int exit_code;

    /* Janus: the admin session that creates the rooms */
    void *proto_state;
};

/* ---- engine entry points for the protocol modules ---- */
void lt_part_joined(lt_part_t *p);
/* The server's answer to our publisher offer. */
void lt_part_publisher_answer(lt_part_t *p, const char *sdp);
/* An offer for the subscriber leg; the engine answers through proto->send_answer. */
void lt_part_subscriber_offer(lt_part_t *p, const char *sdp);
/* A trickled remote candidate (NULL or "" = end of candidates). */
void lt_part_remote_candidate(lt_part_t *p, bool publisher, const char *cand, const char *mid);
void lt_part_fail(lt_part_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends a JSON object on the participant's socket (and deletes it). */
int lt_part_send_json(lt_part_t *p, cJSON *o);
/* The room name / Janus room id of a participant. */
void lt_room_name(const lt_app_t *a, unsigned room, char *out, size_t cap);
uint64_t lt_janus_room_id(const lt_app_t *a, unsigned room);

int lt_sfu_load_main(int argc, char **argv, const lt_proto_t *proto);

#endif
