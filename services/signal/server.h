/*
 * signal/server.h — the starling-signal server: libwebsockets (WebSocket /ws and HTTP) and two
 * Redis clients (commands, pub/sub) sharing one libuv loop that the caller owns.
 *
 * Life cycle (all on the loop thread):
 *   srv = signal_server_new(loop, &cfg);      listens, starts connecting to Redis
 *   uv_run(loop)                               ... serves ...
 *   signal_server_drain(srv)                   SIGTERM: stop accepting, close every socket
 *                                              with 1012, keep participants for resume;
 *                                              on_stopped runs when done (or drain_timeout)
 *   signal_server_close(srv)                   from on_stopped or any time: closes the
 *                                              listener, every connection, the Redis clients
 *                                              and timers (asynchronously)
 *   uv_run(loop) until it returns; then signal_server_free(srv) releases the memory
 *   (libwebsockets may still call back while its handles close, so memory outlives the loop).
 */
#ifndef STARLING_SIGNAL_SERVER_H
#define STARLING_SIGNAL_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "signal/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct signal_server signal_server_t;

/* cfg must outlive the server. Returns NULL (logged) when the listener cannot be opened or
 * the configuration is unusable. */
signal_server_t *signal_server_new(uv_loop_t *loop, const signal_config_t *cfg);

/* The TCP port actually listened on (useful with port 0). */
int signal_server_port(const signal_server_t *srv);
const char *signal_server_id(const signal_server_t *srv);

/* Starts draining; on_stopped(user) is called once the last client is gone or
 * shutdown.drain_timeout has passed. Calling it again speeds nothing up: use
 * signal_server_free for an immediate stop. */
void signal_server_drain(signal_server_t *srv, void (*on_stopped)(void *user), void *user);

/* Applies what a configuration reload can change (log level). */
void signal_server_reload(signal_server_t *srv, const signal_config_t *cfg);

/* Starts the teardown (idempotent). Participants are not removed from their rooms: their
 * clients can resume through another signal process. */
void signal_server_close(signal_server_t *srv);
/* Frees the memory once the loop has run dry after signal_server_close. */
void signal_server_free(signal_server_t *srv);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_SERVER_H */
