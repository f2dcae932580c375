/*
 * sfu/node.h — one starling-sfu process as the cluster sees it (docs/redis.md):
 *
 *   - its configuration (the option table behind --help, the config file and the
 *     STARLING_SFU_* environment);
 *   - registration: the hash `starling:node:{node_id}` (id, public_ip, udp_ports, workers,
 *     load, capacity, state, started_at, version) with a TTL refreshed by a heartbeat, and its
 *     score (load) in the sorted set `starling:nodes`; written again whenever the Redis
 *     connection comes back;
 *   - the bus: subscribed to `starling:sfu:{node_id}` (commands, routed to the worker that
 *     hosts the room) and `starling:events` (cluster events);
 *   - /healthz (Redis connected, not draining) and /metrics;
 *   - draining on SIGTERM: state `draining`, out of `starling:nodes`, an event
 *     `node_draining {node}` on `starling:events` so signal moves the rooms, no new rooms;
 *     the process exits once its rooms are empty or shutdown.drain_timeout passed, deleting
 *     its node key and publishing `node_down {node}` on the way out. A second SIGTERM exits
 *     at once.
 *
 * Runs on the main thread's loop; the rooms live on the workers (worker.h).
 */
#ifndef STARLING_SFU_NODE_H
#define STARLING_SFU_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/config.h"
#include "rtc/base.h"
#include "sfu/room.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STARLING_SFU_VERSION "0.1.0"

typedef struct {
    st_common_config_t common;
    char *node_id;            /* "" / unset: sfu-<hostname>-<random> */
    char *public_ip;          /* advertised in the node key (and ICE candidates with nat_1to1) */
    bool nat_1to1;            /* ice.nat_1to1: host candidates carry public_ip (1:1 NAT) */
    rtc_addr_t udp_listen;    /* media: worker i listens on port + i */
    rtc_addr_t http_listen;   /* /metrics, /healthz */
    int64_t workers;          /* 0: one per CPU */
    int64_t capacity;         /* participants this node takes */
    char *redis_prefix;
    int64_t node_ttl_ms;
    int64_t heartbeat_ms;
    int64_t room_ttl_ms;
    int64_t max_participants; /* per room */
    int64_t keyframe_interval_ms;
    int64_t default_bandwidth;
    int64_t offer_timeout_ms; /* subscriber.offer_timeout: unanswered offers are sent again */
    bool probing;             /* bandwidth.probing */
    int64_t probe_max_pct;    /* bandwidth.probe_max */
} sfu_config_t;

extern const st_config_spec_t sfu_config_spec;

typedef struct sfu_node sfu_node_t;

/* The media engine each worker runs (worker.h: media, media_new, media_free). */
typedef struct {
    const sfu_media_ops_t *ops;
    void *(*media_new)(void *loop, unsigned index, uint16_t udp_port, void *arg);
    void (*media_free)(void *media_user);
    void *arg;
} sfu_media_engine_t;

/* Starts everything on `loop`: workers, Redis clients, HTTP server, signal handlers,
 * heartbeat. engine NULL: no media (offers are answered `unavailable`). NULL on failure
 * (logged: e.g. the HTTP port is taken). The node keeps cfg and engine. */
sfu_node_t *sfu_node_start(uv_loop_t *loop, const sfu_config_t *cfg,
                           const sfu_media_engine_t *engine);
/* Frees what is left after the loop ended (the node stops itself on SIGTERM/SIGINT). */
void sfu_node_free(sfu_node_t *n);
/* Begins draining (what SIGTERM does). */
void sfu_node_drain(sfu_node_t *n);
const char *sfu_node_id(const sfu_node_t *n);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_NODE_H */
