/*
 * common/redis.h — a Redis client on the libuv loop (hiredis async) that survives Redis.
 *
 * Redis being down at start, restarting, or hanging must never crash or block a service.
 * The client connects in the background and keeps reconnecting with jittered exponential
 * backoff (100 ms doubling up to backoff_max). Host names are resolved with
 * uv_getaddrinfo, so not even DNS blocks the loop. Each connection is set up with AUTH and
 * SELECT when configured, then announced through on_connect — the place where a service
 * (re-)registers its keys — and its loss through on_disconnect. A command that gets no
 * reply within command_timeout drops the connection (a hung Redis looks like a dead one)
 * and reconnects; a reply already waiting in the socket when the timeout is checked counts
 * (a thread that was not scheduled for a while is not a dead Redis).
 *
 * Commands are built only from argument vectors (redisAsyncCommandArgv): no format
 * strings, so a room name or user id can never inject Redis syntax.
 *
 * One st_redis_t is one connection, either for commands or, when created with
 * `subscriber`, for pub/sub (Redis allows nothing else on a subscribed connection).
 * Subscriptions are remembered and sent again after every reconnect. A subscriber sends no
 * commands whose replies could time out, so a silently vanished peer (no FIN, no RST) is
 * found by TCP keepalive (hiredis' 15 s setting: about half a minute), not by
 * command_timeout.
 *
 * Everything runs on the loop thread that owns the client; it is not thread-safe.
 */
#ifndef STARLING_COMMON_REDIS_H
#define STARLING_COMMON_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "common/config.h"
#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_redis st_redis_t;

typedef struct {
    const char *name;             /* for log lines, e.g. "redis" or "redis-sub" */
    const char *host;             /* host name or IP; default "127.0.0.1" */
    int port;                     /* default 6379 */
    const char *username;         /* ACL user (Redis 6+); NULL: AUTH with password only */
    const char *password;         /* NULL or "": no AUTH */
    int db;                       /* SELECT when > 0 */
    uint64_t connect_timeout_ms;  /* default 2000 */
    uint64_t command_timeout_ms;  /* default 2000 */
    uint64_t backoff_min_ms;      /* default 100 */
    uint64_t backoff_max_ms;      /* default 5000 */
    bool subscriber;              /* pub/sub connection: subscribe only, no commands */
    /* Called on the loop each time a connection is ready (after AUTH/SELECT and, for a
     * subscriber, after re-sending the subscriptions). */
    void (*on_connect)(st_redis_t *r, void *user);
    /* Called when a ready connection is lost, before reconnecting starts. Commands issued
     * before it have already had their callbacks (with NULL). */
    void (*on_disconnect)(st_redis_t *r, void *user);
    void *user;
} st_redis_options_t;

/* Fills *o from the redis.* options every service shares (host, port, username, password,
 * db, timeouts, reconnect_max), zeroing everything else: the caller then sets name,
 * subscriber and the callbacks. One place, so a new redis.* option reaches every service's
 * clients (signal, sfu node and workers, turn) instead of some of them. Pointers into c are
 * borrowed: c must outlive st_redis_new (which copies the strings). */
void st_redis_options_from_config(st_redis_options_t *o, const st_common_config_t *c);

/* reply is NULL when the command failed without a reply: connection lost, timed out, or
 * client freed. A Redis error is a reply of type REDIS_REPLY_ERROR. The reply is freed
 * after the callback returns. */
typedef void (*st_redis_reply_fn)(st_redis_t *r, const redisReply *reply, void *user);

/* A message on a subscribed channel. For pattern subscriptions `channel` is the channel the
 * message was published to. payload is not NUL-terminated-safe: use len. */
typedef void (*st_redis_message_fn)(st_redis_t *r, const char *channel, const char *payload,
                                    size_t len, void *user);

/* Creates the client and starts connecting. Strings in opts are copied. NULL on bad
 * options or out of memory. */
st_redis_t *st_redis_new(uv_loop_t *loop, const st_redis_options_t *opts);

/* Disconnects and frees. Pending commands get their callback with NULL; on_disconnect is not
 * called. Safe inside any callback of this client (the teardown is then deferred). The
 * memory is released once libuv has closed the client's handles: keep the loop running. */
void st_redis_free(st_redis_t *r);

bool st_redis_is_connected(const st_redis_t *r);
/* How many times a connection became ready since creation. */
uint64_t st_redis_connect_count(const st_redis_t *r);

/* Sends a command given as an argument vector (argvlen may be NULL for C strings). On
 * RTC_OK, fn (may be NULL) is called exactly once, with the reply or NULL. Returns
 * RTC_ERR_CLOSED when not connected (fn is then never called), RTC_ERR_STATE on a
 * subscriber connection, RTC_ERR_INVALID_ARG for argc < 1. */
int st_redis_command_argv(st_redis_t *r, st_redis_reply_fn fn, void *user, int argc,
                          const char *const *argv, const size_t *argvlen);
/* The same with C-string arguments ending in NULL:
 *   st_redis_command(r, on_reply, ctx, "HSET", key, "load", load_str, NULL); */
int st_redis_command(st_redis_t *r, st_redis_reply_fn fn, void *user, ...)
    __attribute__((sentinel));

/* Subscribes to a channel (SUBSCRIBE) or a pattern (PSUBSCRIBE) on a subscriber client.
 * Kept across reconnects. Returns RTC_OK (also while disconnected: it is sent on connect),
 * RTC_ERR_DUPLICATE if already subscribed, RTC_ERR_AGAIN while an unsubscribe of the same
 * name is still in flight, RTC_ERR_STATE on a command client. */
int st_redis_subscribe(st_redis_t *r, const char *channel, st_redis_message_fn fn, void *user);
int st_redis_psubscribe(st_redis_t *r, const char *pattern, st_redis_message_fn fn, void *user);
/* Stops delivering at once and unsubscribes. RTC_ERR_NOT_FOUND if not subscribed. */
int st_redis_unsubscribe(st_redis_t *r, const char *channel);
int st_redis_punsubscribe(st_redis_t *r, const char *pattern);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_REDIS_H */
