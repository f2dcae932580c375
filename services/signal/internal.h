/*
 * signal/internal.h — what server.c (libwebsockets glue, timers), session.c (the client
 * protocol), cluster.c (Redis: bus, placement, failover, heartbeats) and http.c (HTTP routes)
 * share. Not used outside services/signal/.
 *
 * Ownership: the server owns sessions, local rooms and orphans. A session lives from
 * LWS_CALLBACK_ESTABLISHED until its socket has closed *and* no Redis callback still refers to
 * it (refs == 0): async callbacks take a reference and check `wsi` (NULL once closed) before
 * touching the socket.
 */
#ifndef STARLING_SIGNAL_INTERNAL_H
#define STARLING_SIGNAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <uv.h>

#include "common/health.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "signal/config.h"
#include "signal/map.h"
#include "signal/protocol.h"
#include "signal/ratelimit.h"
#include "signal/scripts.h"
#include "signal/server.h"
#include "signal/token.h"

#define SIGNAL_LOG "signal"

/* RFC 6455 §7.4.1 codes lws 4.1 has no names for (IANA registry additions). */
#define SIGNAL_CLOSE_SERVICE_RESTART 1012
#define SIGNAL_CLOSE_TRY_AGAIN_LATER 1013

typedef struct signal_session signal_session_t;
typedef struct signal_room signal_room_t;
typedef struct signal_out signal_out_t;

typedef enum {
    SESS_OPEN,      /* connected, not joined */
    SESS_JOINING,   /* join accepted by signal, waiting for the SFU node's `joined` */
    SESS_JOINED,
    SESS_CLOSING,   /* close queued; nothing more is processed */
} signal_sess_state_t;

struct signal_out {
    signal_out_t *next;
    size_t len;
    uint8_t buf[];   /* LWS_PRE bytes of headroom, then the text */
};

struct signal_session {
    signal_server_t *srv;
    struct lws *wsi;            /* NULL once the socket closed */
    uint64_t conn_id;
    signal_sess_state_t state;
    int refs;

    /* receive */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    size_t rx_discard;          /* bytes of an oversized message thrown away */
    bool rx_binary;

    /* send */
    signal_out_t *tx_head, *tx_tail;
    size_t tx_bytes;
    bool close_after_tx;
    uint16_t close_code;
    char close_reason[64];

    signal_ratelimit_t rl;
    int64_t last_rx_ms, last_ping_ms, join_deadline_ms, last_refresh_ms;

    /* participant (set from join on) */
    bool has_pid;               /* participant id allocated (JOINING/JOINED) */
    char pid[SIGNAL_ID_MAX + 1];
    char room[SIGNAL_ROOM_MAX + 1];
    char identity[SIGNAL_TEXT_MAX + 1];
    char name[SIGNAL_TEXT_MAX + 1];
    unsigned grants;
    char node[SIGNAL_ID_MAX + 1];
    char session_token[64];
    char token_hash[65];        /* SHA-256 hex of session_token */
    char join_rid[SIGNAL_RID_MAX + 1];
    bool resuming;              /* the join carries resume */
    bool resumed;               /* ... and it succeeded */
    bool no_grace;              /* the participant is gone for good: no resume window */
    bool counted;               /* included in n_joined */

    signal_room_t *lroom;
    signal_session_t *room_next, *room_prev;
    signal_session_t *next, *prev;
};

/* A room with at least one session on this process. */
struct signal_room {
    char name[SIGNAL_ROOM_MAX + 1];
    char node[SIGNAL_ID_MAX + 1];
    char sid[SIGNAL_ID_MAX + 1];
    signal_session_t *members;
    size_t n_members;
    bool needs_register;        /* re-run placement after a Redis reconnect */
    bool moving;                /* a failover placement is in flight */
    int64_t no_node_since_ms;   /* its node failed with no other to move to (0: it has one) */
    char node_instance[SIGNAL_ID_MAX + 1]; /* the node's `instance` when last polled ("": not yet) */
    int refs;                   /* in-flight Redis callbacks */
};

/* A participant whose socket dropped: kept for resume_grace, then released. */
typedef struct signal_orphan {
    struct signal_orphan *next;
    char pid[SIGNAL_ID_MAX + 1];
    char room[SIGNAL_ROOM_MAX + 1];
    int64_t deadline_ms;
} signal_orphan_t;

typedef struct http_req http_req_t;

/* Per-wsi user data for the one lws protocol (HTTP and WebSocket). */
typedef struct {
    signal_session_t *sess;
    http_req_t *req;
} signal_pss_t;

struct signal_server {
    uv_loop_t *loop;
    const signal_config_t *cfg;
    char id[SIGNAL_ID_MAX + 1];
    signal_keys_t keys;
    signal_limits_t limits;
    char web_root[1024];

    struct lws_context *lws;        /* cleared by lws when finally freed */
    struct lws_vhost *vhost;
    int port;
    char listen_ip[64];

    st_redis_t *redis, *sub;
    st_metrics_t *metrics;
    st_health_t *health;

    uv_timer_t tick;
    bool tick_running;
    int64_t last_heartbeat_ms, last_turn_fetch_ms, redis_up_since_ms;

    signal_session_t *sessions;
    size_t n_sessions;
    uint64_t next_conn_id;
    signal_map_t by_pid;        /* pid -> session (JOINING/JOINED, socket open) */
    signal_map_t rooms;         /* name -> signal_room_t */
    signal_orphan_t *orphans;

    char *turn_secret;          /* current minting secret (Redis, else config) */
    bool turn_secret_from_redis;
    bool turn_checked;          /* logged the secret state once */
    int live_nodes;             /* from the last poll; -1 unknown */
    int64_t resync_at_ms;       /* ask the nodes for our participants' room state then (0: no) */
    size_t poll_offset;         /* rotates which rooms' nodes are checked first */
    size_t n_joined;            /* sessions in SESS_JOINED */

    bool draining;
    int64_t drain_deadline_ms;
    void (*on_stopped)(void *);
    void *on_stopped_user;
    bool stopped;
    bool freeing;

    char chan_self[SIGNAL_KEY_MAX];
    char chan_events[SIGNAL_KEY_MAX];

    /* metrics */
    st_gauge_t *m_connections, *m_participants, *m_rooms, *m_live_nodes;
    st_counter_t *m_rx[SIGNAL_MSG_COUNT_];
    st_counter_t *m_errors[SIGNAL_E_COUNT_];
    st_counter_t *m_joins, *m_resumes, *m_resume_failed, *m_moved, *m_bus_in, *m_bus_out,
        *m_rejected_conn, *m_rate_disconnects;
};

/* server.c */
int64_t signal_now_ms(void);
void signal_session_ref(signal_session_t *s);
void signal_session_unref(signal_session_t *s);
/* Queues text for the client (copied). Oversized queues close the client. */
void signal_session_send(signal_session_t *s, const char *text, size_t len);
void signal_session_send_json(signal_session_t *s, const cJSON *o);
void signal_session_error(signal_session_t *s, signal_error_t code, const char *message,
                          const char *rid);
/* Sends what is queued, then closes with code/reason. Processing of input stops now. */
void signal_session_close(signal_session_t *s, uint16_t code, const char *reason);
void signal_session_fail(signal_session_t *s, signal_error_t code, const char *message,
                         const char *rid, uint16_t close_code);
void signal_server_check_stopped(signal_server_t *srv);

/* session.c */
void signal_session_on_message(signal_session_t *s, const uint8_t *p, size_t n);
void signal_session_on_closed(signal_session_t *s);
void signal_session_tick(signal_session_t *s, int64_t now);
/* Builds and sends the client's `joined` (payload: the SFU's joined payload, may be NULL). */
void signal_session_send_joined(signal_session_t *s, const cJSON *payload);
void signal_session_attach_room(signal_session_t *s, const char *node, const char *sid);
void signal_session_detach_room(signal_session_t *s);
/* The participant is over for good (left/removed/room closed): no resume window; deletes
 * its participant key. */
void signal_session_end(signal_session_t *s);
cJSON *signal_ice_servers(signal_server_t *srv, const char *identity);

/* cluster.c */
void signal_cluster_start(signal_server_t *srv);
void signal_cluster_tick(signal_server_t *srv, int64_t now);
bool signal_redis_ready(signal_server_t *srv);
/* Ready for joins and resumes: the command connection and the pub/sub connection (which
 * carries the nodes' answers) are both up. After Redis restarts they reconnect on their own
 * backoffs, seconds apart: a join sent to a node while our subscription is still down would
 * have its `joined` published to nobody and time out. */
bool signal_redis_joinable(signal_server_t *srv);
/* Publishes a bus message {"type","room","participant","signal","payload"} to the node's
 * channel. payload is consumed. fn may be NULL. */
int signal_bus_send(signal_server_t *srv, const char *node, const char *type, const char *room,
                    const char *pid, cJSON *payload, st_redis_reply_fn fn, void *user);
/* Publishes a cluster event ({"type", fields...}) on starling:events; o is consumed. */
void signal_event_publish(signal_server_t *srv, cJSON *o);
/* Runs placement for a joining session (takes a reference). */
void signal_cluster_place_session(signal_session_t *s);
void signal_cluster_claim(signal_session_t *s, const char *resume_token);
void signal_cluster_register_participant(signal_session_t *s);
void signal_cluster_refresh_participant(signal_session_t *s);
void signal_cluster_delete_participant(signal_server_t *srv, const char *pid);
void signal_cluster_add_orphan(signal_server_t *srv, signal_session_t *s);
void signal_cluster_forget_orphan(signal_server_t *srv, const char *pid);
signal_room_t *signal_room_get(signal_server_t *srv, const char *name, bool create);
void signal_room_maybe_free(signal_server_t *srv, signal_room_t *r);
/* Moves a local room off `dead` (placement with from=dead), then rejoins its sessions on the
 * new node and sends them `reconnect {reason}`. */
void signal_room_failover(signal_server_t *srv, signal_room_t *r, const char *dead,
                          const char *reason);
void signal_room_close_local(signal_server_t *srv, const char *room, const char *reason);
void signal_cluster_free(signal_server_t *srv);

/* http.c */
int signal_http_request(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss,
                        const char *uri, size_t len);
int signal_http_body(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss, const void *in,
                     size_t len);
int signal_http_body_done(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss);
int signal_http_writeable(signal_server_t *srv, struct lws *wsi, signal_pss_t *pss);
void signal_http_closed(signal_server_t *srv, signal_pss_t *pss);

#endif /* STARLING_SIGNAL_INTERNAL_H */
