/*
 * sfu/worker.h — a worker thread: its own libuv loop, its own Redis command connection, and
 * the rooms pinned to it (room -> worker is a hash of the room name, so every command for a
 * room lands on the same thread and the room needs no lock).
 *
 * The main thread hands parsed bus commands and cluster events over through a queue and a
 * uv_async_t (the queue's mutex is held only to link or unlink an item; the media path never
 * touches it). The worker answers clients by publishing on `starling:to-signal:{signal}`
 * and keeps `starling:room:{room}` and `starling:room:{room}:participants` up to date
 * (docs/redis.md); when its Redis connection comes back it writes them all again.
 *
 * Load (participants, tracks, rooms) is kept in atomics the main thread reads for the
 * heartbeat.
 */
#ifndef STARLING_SFU_WORKER_H
#define STARLING_SFU_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"
#include "sfu/bus.h"
#include "sfu/room.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sfu_worker sfu_worker_t;

typedef struct {
    unsigned index;
    const char *node_id;
    const char *prefix;            /* "starling:" */
    st_redis_options_t redis;      /* name, host, port, auth...; callbacks are the worker's */
    sfu_room_config_t room;
    int64_t room_ttl_ms;           /* keys of an empty room expire after this */
    uint16_t udp_port;             /* this worker's media port (advertised by the node) */
    /* The media engine for this worker's participants (NULL: none; offers are answered
     * `unavailable`). Created and used on the worker thread: `media_new` is called there with
     * the worker's loop. */
    const sfu_media_ops_t *media;
    void *(*media_new)(void *loop, unsigned index, uint16_t udp_port, void *arg);
    void (*media_free)(void *media_user);
    void *media_arg;
} sfu_worker_config_t;

typedef struct {
    int participants, tracks, rooms;
    uint64_t commands, publishes, publish_dropped;
    /* RTP packets received from publishers / forwarded to subscribers, keyframe requests
     * sent to publishers, data messages relayed (as of the last 20 ms tick). */
    uint64_t rtp_in, rtp_out, keyframe_requests, data_relayed;
} sfu_worker_load_t;

/* Starts the thread. Strings in cfg are copied. NULL on failure (logged). */
sfu_worker_t *sfu_worker_start(const sfu_worker_config_t *cfg);
/* Hands over a parsed command (ownership of *msg's tree passes; *msg is cleared). why != NULL
 * marks a command that did not parse: the worker answers `error bad_request` with it when
 * the command can be routed. Thread-safe. */
void sfu_worker_post_bus(sfu_worker_t *w, sfu_bus_msg_t *msg, const char *why);
void sfu_worker_post_event(sfu_worker_t *w, const sfu_event_t *ev);
/* While draining, a join for a room the worker does not host is refused (`unavailable`). */
void sfu_worker_set_draining(sfu_worker_t *w, bool draining);
void sfu_worker_load(const sfu_worker_t *w, sfu_worker_load_t *out);
/* Stops the thread (rooms are freed without messages; what was published before is flushed
 * to Redis first, waiting at most 1 s) and frees the worker. */
void sfu_worker_stop(sfu_worker_t *w);

/* Which of n workers hosts a room. */
unsigned sfu_worker_for_room(const char *room, unsigned n);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_WORKER_H */
