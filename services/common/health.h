/*
 * common/health.h — the service's health, served as GET /healthz, plus the wiring of the
 * standard /healthz and /metrics routes onto an st_http_server.
 *
 * A service keeps named checks ("redis", "workers") up to date as things change, e.g. from
 * the Redis client's connected/disconnected callbacks. /healthz answers 200 with
 *   {"status":"ok","service":"turn","checks":{"redis":{"ok":true,"detail":"connected"}}}
 * while every check is ok, and 503 with "status":"failing" when one is not, or
 * "status":"draining" after SIGTERM so that load balancers stop sending new work.
 */
#ifndef STARLING_COMMON_HEALTH_H
#define STARLING_COMMON_HEALTH_H

#include <stdbool.h>

#include "common/http.h"
#include "common/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct st_health st_health_t;

st_health_t *st_health_new(const char *service);
void st_health_free(st_health_t *h);

/* Creates or updates check `name`. detail may be NULL. Thread-safe. */
int st_health_set(st_health_t *h, const char *name, bool ok, const char *detail);
void st_health_set_draining(st_health_t *h, bool draining);
/* True when not draining and every check is ok. */
bool st_health_ok(st_health_t *h);

/* Appends the JSON document; returns the HTTP status for it (200 or 503), or a negative
 * rtc_err_t. */
int st_health_render(st_health_t *h, rtc_buf_t *out);

/* Adds GET /healthz (if h) and GET /metrics (if m). Both objects must outlive srv. */
int st_http_add_standard_routes(st_http_server_t *srv, st_health_t *h, st_metrics_t *m);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_HEALTH_H */
