/* Health checks and the standard /healthz and /metrics routes. */
#include "common/health.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct check {
    struct check *next;
    char *name;
    char *detail;
    bool ok;
} check_t;

struct st_health {
    pthread_mutex_t mu;
    char *service;
    check_t *checks;
    bool draining;
};

st_health_t *st_health_new(const char *service) {
    st_health_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->service = strdup(service ? service : "");
    if (!h->service) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void st_health_free(st_health_t *h) {
    if (!h) return;
    for (check_t *c = h->checks, *next; c; c = next) {
        next = c->next;
        free(c->name);
        free(c->detail);
        free(c);
    }
    pthread_mutex_destroy(&h->mu);
    free(h->service);
    free(h);
}

int st_health_set(st_health_t *h, const char *name, bool ok, const char *detail) {
    if (!h || !name) return RTC_ERR_INVALID_ARG;
    char *d = detail ? strdup(detail) : NULL;
    if (detail && !d) return RTC_ERR_NOMEM;
    pthread_mutex_lock(&h->mu);
    check_t **pp = &h->checks;
    while (*pp && strcmp((*pp)->name, name) != 0) pp = &(*pp)->next;
    check_t *c = *pp;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c) c->name = strdup(name);
        if (!c || !c->name) {
            pthread_mutex_unlock(&h->mu);
            if (c) free(c);
            free(d);
            return RTC_ERR_NOMEM;
        }
        *pp = c;
    }
    c->ok = ok;
    free(c->detail);
    c->detail = d;
    pthread_mutex_unlock(&h->mu);
    return RTC_OK;
}

void st_health_set_draining(st_health_t *h, bool draining) {
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->draining = draining;
    pthread_mutex_unlock(&h->mu);
}

static bool ok_locked(const st_health_t *h) {
    if (h->draining) return false;
    for (const check_t *c = h->checks; c; c = c->next) {
        if (!c->ok) return false;
    }
    return true;
}

bool st_health_ok(st_health_t *h) {
    if (!h) return false;
    pthread_mutex_lock(&h->mu);
    bool ok = ok_locked(h);
    pthread_mutex_unlock(&h->mu);
    return ok;
}

int st_health_render(st_health_t *h, rtc_buf_t *out) {
    if (!h || !out) return RTC_ERR_INVALID_ARG;
    cJSON *o = cJSON_CreateObject();
    cJSON *checks = cJSON_CreateObject();
    if (!o || !checks) {
        cJSON_Delete(o);
        cJSON_Delete(checks);
        return RTC_ERR_NOMEM;
    }
    pthread_mutex_lock(&h->mu);
    bool ok = ok_locked(h);
    cJSON_AddStringToObject(o, "status", h->draining ? "draining" : ok ? "ok" : "failing");
    cJSON_AddStringToObject(o, "service", h->service);
    for (const check_t *c = h->checks; c; c = c->next) {
        cJSON *item = cJSON_CreateObject();
        if (!item) continue;
        cJSON_AddBoolToObject(item, "ok", c->ok);
        if (c->detail) cJSON_AddStringToObject(item, "detail", c->detail);
        cJSON_AddItemToObject(checks, c->name, item);
    }
    pthread_mutex_unlock(&h->mu);
    cJSON_AddItemToObject(o, "checks", checks);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return RTC_ERR_NOMEM;
    int rc = rtc_buf_append_str(out, s);
    if (rc == RTC_OK) rc = rtc_buf_append_str(out, "\n");
    cJSON_free(s);
    if (rc < 0) return rc;
    return ok ? 200 : 503;
}

static void healthz(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)req;
    int status = st_health_render(user, &res->body);
    if (status < 0) {
        st_http_reply_error(res, 500, NULL);
        return;
    }
    res->status = status;
    res->content_type = "application/json";
}

static void metrics(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)req;
    if (st_metrics_render(user, &res->body) < 0) {
        st_http_reply_error(res, 500, NULL);
        return;
    }
    res->status = 200;
    res->content_type = ST_METRICS_CONTENT_TYPE;
}

int st_http_add_standard_routes(st_http_server_t *srv, st_health_t *h, st_metrics_t *m) {
    int rc = RTC_OK;
    if (h) rc = st_http_server_route(srv, "GET", "/healthz", healthz, h);
    if (rc == RTC_OK && m) rc = st_http_server_route(srv, "GET", "/metrics", metrics, m);
    return rc;
}
