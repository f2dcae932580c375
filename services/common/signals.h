/*
 * common/signals.h — process signals delivered on the libuv loop.
 *
 * SIGTERM and SIGINT ask the service to drain (stop accepting, let sessions finish within
 * shutdown.drain_timeout, then stop the loop); SIGHUP asks it to reload its configuration.
 * Kubernetes and docker-compose stop containers with SIGTERM, then SIGKILL after a grace
 * period, so draining must finish inside that period.
 *
 * The callbacks run on the loop thread like any other libuv callback, so they may touch
 * service state freely (unlike a raw signal handler). A repeated SIGTERM/SIGINT calls
 * on_drain again with a higher count; services usually exit at once on the second one.
 * Creating the watcher also ignores SIGPIPE process-wide: a peer that closes a socket
 * while we write must produce EPIPE, not kill the service.
 */
#ifndef STARLING_COMMON_SIGNALS_H
#define STARLING_COMMON_SIGNALS_H

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_signals st_signals_t;

typedef struct {
    /* signum is SIGTERM or SIGINT; count is 1 for the first such signal, 2 for the next... */
    void (*on_drain)(int signum, unsigned count, void *user);
    /* SIGHUP. NULL: SIGHUP is logged and ignored (rather than killing the process). */
    void (*on_reload)(void *user);
    void *user;
} st_signals_callbacks_t;

/* Starts watching on `loop`. Returns NULL on failure (logged). The watchers keep the loop
 * alive until st_signals_close(). */
st_signals_t *st_signals_new(uv_loop_t *loop, const st_signals_callbacks_t *cb);

/* Stops watching and frees once libuv has closed the handles (the loop must run on). */
void st_signals_close(st_signals_t *s);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_SIGNALS_H */
