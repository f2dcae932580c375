/*
 * common/redis_outbox.h — PUBLISH messages that outlive a Redis hiccup.
 *
 * Messages for clients travel over Redis pub/sub (an SFU worker to a signal process). A
 * PUBLISH issued while the connection is down, or in flight when it drops, used to be lost —
 * and a lost subscriber offer or publisher answer leaves a client's PeerConnection waiting
 * forever. The outbox keeps such messages, in order, and publishes them once the connection
 * is back (call st_redis_outbox_flush from on_connect).
 *
 * Delivery is at least once: a PUBLISH in flight when the connection drops may have reached
 * Redis (a hung server can still execute it later), and it is sent again. Clients treat
 * duplicates of their messages as harmless (docs/signalling.md).
 *
 * Bounded: at most max_msgs messages / max_bytes bytes are kept (the oldest go first), and a
 * message older than max_age when its turn comes is dropped (by then its client has
 * reconnected or left). Drops are counted and logged once per outage.
 *
 * Same thread rules as st_redis_t: one loop thread.
 */
#ifndef STARLING_COMMON_REDIS_OUTBOX_H
#define STARLING_COMMON_REDIS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"
#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_redis_outbox st_redis_outbox_t;

typedef struct {
    const char *name;      /* for log lines */
    size_t max_msgs;       /* default 10000 */
    size_t max_bytes;      /* default 16 MiB */
    rtc_time_t max_age;    /* default 30 s */
} st_redis_outbox_options_t;

/* opts may be NULL (defaults). The outbox does not own r. */
st_redis_outbox_t *st_redis_outbox_new(st_redis_t *r, const st_redis_outbox_options_t *opts);
/* Frees what is still queued (counted as dropped). PUBLISHes in flight keep a reference
 * that is released when their callback runs (st_redis_free runs them): free the outbox
 * after the st_redis_t, or keep the loop running until they are answered. */
void st_redis_outbox_free(st_redis_outbox_t *ob);

/* PUBLISH channel message: at once when connected and nothing older waits, else queued. */
void st_redis_outbox_publish(st_redis_outbox_t *ob, const char *channel, const char *message);
/* Publishes what waits, in order (from on_connect). */
void st_redis_outbox_flush(st_redis_outbox_t *ob);

typedef struct {
    uint64_t published;    /* PUBLISH commands issued (retries included) */
    uint64_t retried;      /* in flight when the connection dropped, queued again */
    uint64_t dropped;      /* given up: bounds, age, or freed while queued */
    size_t queued;         /* waiting now */
} st_redis_outbox_stats_t;
void st_redis_outbox_stats(const st_redis_outbox_t *ob, st_redis_outbox_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_REDIS_OUTBOX_H */
