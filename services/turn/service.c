/* starling-turn's process: options → policy → workers, plus the main-thread loop with HTTP,
 * Redis, metrics and signals. Nothing here is on the packet path: workers never wait on
 * this thread, and this thread never waits on Redis (secrets are cached and refreshed in
 * the background; when Redis is away the cache keeps working). */
#include "turn/service.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "common/config.h"
#include "common/health.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/signals.h"
#include "common/turn_rest.h"
#include "turn/options.h"
#include "turn/runtime.h"
#include "turn/shared.h"

extern char **environ;

#define STATS_INTERVAL_MS 1000
#define REGISTRY_TTL_S 10
#define DRAIN_POLL_MS 250

typedef struct {
    st_counter_t *created, *expired, *deleted;
    st_counter_t *pkts_c2p, *pkts_p2c, *bytes_c2p, *bytes_p2c;
    st_counter_t *requests, *challenges, *auth_failures, *stale_nonces, *ratelimited;
    st_counter_t *rej_486, *rej_508, *rej_403;
    st_counter_t *drop_route, *drop_bw, *drop_send;
    st_gauge_t *allocations, *permissions, *channels, *connections;
    turn_worker_stats_t last;
} worker_metrics_t;

typedef struct {
    int argc;
    char **argv;
    uv_loop_t *loop;
    turn_options_t opts;
    char **uris;
    turn_shared_t *sh;
    turn_runtime_t *rt;
    st_metrics_t *metrics;
    st_health_t *health;
    st_http_server_t *http;
    st_redis_t *redis;
    st_signals_t *signals;
    uv_timer_t stats_timer, secrets_timer, drain_timer;
    worker_metrics_t *wm;
    st_gauge_t *g_secrets, *g_redis, *g_draining;
    bool draining, stopping;
    uint64_t drain_deadline_ms;
    char node_key[256];
    char node_addr[RTC_ADDR_STRLEN];
    size_t last_secret_count;
    bool secrets_loaded;
} app_t;

/* ---- metrics --------------------------------------------------------------------------- */

static st_counter_t *counter(st_metric_family_t *f, const char *worker, const char *extra) {
    const char *v[2] = {worker, extra};
    return st_family_counter(f, v);
}

static st_gauge_t *gauge(st_metric_family_t *f, const char *worker) {
    const char *v[1] = {worker};
    return st_family_gauge(f, v);
}

static int metrics_init(app_t *a) {
    st_metrics_t *m = a->metrics;
    static const char *const w1[] = {"worker"};
    static const char *const wdir[] = {"worker", "direction"};
    static const char *const wcode[] = {"worker", "code"};
    static const char *const wreason[] = {"worker", "reason"};
    st_metric_family_t *allocs = st_metrics_gauge_vec(m, "starling_turn_allocations", "Allocations now", w1, 1);
    st_metric_family_t *perms = st_metrics_gauge_vec(m, "starling_turn_permissions", "Permissions now", w1, 1);
    st_metric_family_t *chans = st_metrics_gauge_vec(m, "starling_turn_channels", "Bound channels now", w1, 1);
    st_metric_family_t *conns = st_metrics_gauge_vec(m, "starling_turn_stream_connections",
                                                     "Open TCP/TLS client connections", w1, 1);
    st_metric_family_t *created = st_metrics_counter_vec(m, "starling_turn_allocations_created_total",
                                                         "Allocations created", w1, 1);
    st_metric_family_t *ended = st_metrics_counter_vec(m, "starling_turn_allocations_ended_total",
                                                       "Allocations ended", wreason, 2);
    st_metric_family_t *pkts = st_metrics_counter_vec(m, "starling_turn_packets_total",
                                                      "Relayed datagrams by direction", wdir, 2);
    st_metric_family_t *bytes = st_metrics_counter_vec(m, "starling_turn_bytes_total",
                                                       "Relayed payload bytes by direction", wdir, 2);
    st_metric_family_t *reqs = st_metrics_counter_vec(m, "starling_turn_requests_total", "STUN/TURN requests", w1, 1);
    st_metric_family_t *chall = st_metrics_counter_vec(m, "starling_turn_auth_challenges_total",
                                                       "401 answers to requests without credentials", w1, 1);
    st_metric_family_t *authf = st_metrics_counter_vec(m, "starling_turn_auth_failures_total",
                                                       "Requests with wrong or expired credentials (401, 441)", w1, 1);
    st_metric_family_t *stale = st_metrics_counter_vec(m, "starling_turn_stale_nonces_total", "438 Stale Nonce answers",
                                                       w1, 1);
    st_metric_family_t *rl = st_metrics_counter_vec(m, "starling_turn_ratelimited_total",
                                                    "Unauthenticated answers suppressed by the per-source limit", w1, 1);
    st_metric_family_t *rej = st_metrics_counter_vec(m, "starling_turn_rejections_total",
                                                     "Requests refused by quota (486), capacity (508), peer policy (403)",
                                                     wcode, 2);
    st_metric_family_t *drop = st_metrics_counter_vec(m, "starling_turn_dropped_total", "Data not relayed", wreason, 2);
    if (!allocs || !perms || !chans || !conns || !created || !ended || !pkts || !bytes || !reqs || !chall || !authf ||
        !stale || !rl || !rej || !drop)
        return RTC_ERR_FAILED;
    unsigned n = turn_runtime_workers(a->rt);
    a->wm = calloc(n, sizeof *a->wm);
    if (!a->wm) return RTC_ERR_NOMEM;
    for (unsigned i = 0; i < n; i++) {
        char w[16];
        snprintf(w, sizeof w, "%u", i);
        worker_metrics_t *x = &a->wm[i];
        x->allocations = gauge(allocs, w);
        x->permissions = gauge(perms, w);
        x->channels = gauge(chans, w);
        x->connections = gauge(conns, w);
        x->created = st_family_counter(created, (const char *const[]){w});
        x->expired = counter(ended, w, "expired");
        x->deleted = counter(ended, w, "deleted");
        x->pkts_c2p = counter(pkts, w, "client_to_peer");
        x->pkts_p2c = counter(pkts, w, "peer_to_client");
        x->bytes_c2p = counter(bytes, w, "client_to_peer");
        x->bytes_p2c = counter(bytes, w, "peer_to_client");
        x->requests = st_family_counter(reqs, (const char *const[]){w});
        x->challenges = st_family_counter(chall, (const char *const[]){w});
        x->auth_failures = st_family_counter(authf, (const char *const[]){w});
        x->stale_nonces = st_family_counter(stale, (const char *const[]){w});
        x->ratelimited = st_family_counter(rl, (const char *const[]){w});
        x->rej_486 = counter(rej, w, "486");
        x->rej_508 = counter(rej, w, "508");
        x->rej_403 = counter(rej, w, "403");
        x->drop_route = counter(drop, w, "no_route");
        x->drop_bw = counter(drop, w, "bandwidth");
        x->drop_send = counter(drop, w, "send_buffer");
    }
    a->g_secrets = st_metrics_gauge(m, "starling_turn_rest_secrets", "REST secrets currently accepted");
    a->g_redis = st_metrics_gauge(m, "starling_turn_redis_connected", "1 while connected to Redis");
    a->g_draining = st_metrics_gauge(m, "starling_turn_draining", "1 after SIGTERM, while draining");
    st_metrics_add_process(m);
    return RTC_OK;
}

#define DELTA(c, field) st_counter_add(x->c, s.field - x->last.field)

static void publish_metrics(app_t *a) {
    for (unsigned i = 0; i < turn_runtime_workers(a->rt); i++) {
        turn_worker_stats_t s;
        if (turn_runtime_worker_stats(a->rt, i, &s) != RTC_OK) continue;
        worker_metrics_t *x = &a->wm[i];
        st_gauge_set(x->allocations, (double)s.core.allocations);
        st_gauge_set(x->permissions, (double)s.core.permissions);
        st_gauge_set(x->channels, (double)s.core.channels);
        st_gauge_set(x->connections, (double)s.stream_connections);
        DELTA(created, core.allocations_created);
        DELTA(expired, core.allocations_expired);
        DELTA(deleted, core.allocations_deleted);
        DELTA(pkts_c2p, core.pkts_client_to_peer);
        DELTA(pkts_p2c, core.pkts_peer_to_client);
        DELTA(bytes_c2p, core.bytes_client_to_peer);
        DELTA(bytes_p2c, core.bytes_peer_to_client);
        DELTA(requests, core.requests);
        DELTA(challenges, core.challenges);
        DELTA(auth_failures, core.auth_failures);
        DELTA(stale_nonces, core.stale_nonces);
        DELTA(ratelimited, core.ratelimited);
        DELTA(rej_486, core.quota_rejections);
        DELTA(rej_508, core.capacity_rejections);
        DELTA(rej_403, core.denied_peers);
        DELTA(drop_route, core.dropped);
        DELTA(drop_bw, core.dropped_bandwidth);
        DELTA(drop_send, send_drops);
        x->last = s;
    }
    st_gauge_set(a->g_redis, a->redis && st_redis_is_connected(a->redis) ? 1 : 0);
    st_gauge_set(a->g_draining, a->draining ? 1 : 0);
}

/* ---- Redis: REST secrets cache and node registry ---------------------------------------- */

static void on_secrets(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    app_t *a = user;
    if (!reply) return; /* connection lost: the cache stays as it is */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
        RTC_LOGW("turn", "reading REST secrets from %s: unexpected reply (%s)", a->opts.rest_key,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "not a list of secret/score pairs");
        return;
    }
    size_t n = reply->elements / 2;
    if (n > TURN_SECRETS_MAX) n = TURN_SECRETS_MAX;
    char *secrets[TURN_SECRETS_MAX];
    int64_t expires[TURN_SECRETS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = reply->element[2 * i], *sc = reply->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || m->len == 0 || strlen(m->str) != m->len) continue;
        secrets[k] = m->str;
        /* Scores come as strings over RESP2: "1700000000", "inf". */
        double score = sc->type == REDIS_REPLY_STRING ? strtod(sc->str, NULL) : 0;
        expires[k] = score >= 9e18 || score != score ? 0 : (int64_t)score;
        k++;
    }
    turn_shared_set_redis_secrets(a->sh, secrets, expires, k);
    if (!a->secrets_loaded || k != a->last_secret_count)
        RTC_LOGI("turn", "REST secrets from Redis: %zu valid", k);
    a->secrets_loaded = true;
    a->last_secret_count = k;
    st_gauge_set(a->g_secrets, (double)(k + a->opts.rest_secrets.n));
}

static void refresh_secrets(app_t *a) {
    if (!a->redis || !st_redis_is_connected(a->redis)) return;
    char min[32];
    /* Unexpired only: score > now. Newest (latest expiry) first. */
    snprintf(min, sizeof min, "(%lld", (long long)(rtc_clock_wall_us() / RTC_US_PER_SEC));
    st_redis_command(a->redis, on_secrets, a, "ZREVRANGEBYSCORE", a->opts.rest_key, "+inf", min, "WITHSCORES", NULL);
}

static void register_node(app_t *a) {
    if (!a->redis || !st_redis_is_connected(a->redis)) return;
    char allocs[32];
    snprintf(allocs, sizeof allocs, "%zu", turn_shared_allocations(a->sh));
    st_redis_command(a->redis, NULL, NULL, "HSET", a->node_key, "addr", a->node_addr, "allocations", allocs, "state",
                     a->draining ? "draining" : "up", NULL);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", REGISTRY_TTL_S);
    st_redis_command(a->redis, NULL, NULL, "EXPIRE", a->node_key, ttl, NULL);
}

static void on_redis_connect(st_redis_t *r, void *user) {
    (void)r;
    app_t *a = user;
    st_health_set(a->health, "redis", true, "connected");
    refresh_secrets(a);
    register_node(a);
}

static void on_redis_disconnect(st_redis_t *r, void *user) {
    (void)r;
    app_t *a = user;
    /* Still healthy once secrets were loaded: the cache keeps authenticating REST users and
     * allocations keep relaying, so restarting this server would only hurt. */
    st_health_set(a->health, "redis", a->secrets_loaded,
                  a->secrets_loaded ? "disconnected (cached REST secrets in use)"
                                    : "disconnected (no REST secrets loaded yet)");
}

static void on_secrets_timer(uv_timer_t *t) { refresh_secrets(t->data); }

static void on_stats_timer(uv_timer_t *t) {
    app_t *a = t->data;
    publish_metrics(a);
    register_node(a);
}

/* ---- HTTP: POST /?service=turn&username=NAME -------------------------------------------- */

static bool api_key_ok(const app_t *a, const st_http_request_t *req) {
    const char *want = a->opts.http_api_key;
    if (!want || !*want) return true;
    size_t wl = strlen(want);
    char got[256];
    int n = st_http_query_param(req, "key", got, sizeof got);
    if (n >= 0 && (size_t)n == wl && rtc_ct_equal(got, want, wl)) return true;
    const st_http_header_t *h = st_http_header(req, "X-API-Key");
    if (h && h->value_len == wl && rtc_ct_equal(h->value, want, wl)) return true;
    h = st_http_header(req, "Authorization");
    if (h && h->value_len == wl + 7 && strncasecmp(h->value, "Bearer ", 7) == 0 && rtc_ct_equal(h->value + 7, want, wl))
        return true;
    return false;
}

static void on_credentials(const st_http_request_t *req, st_http_response_t *res, void *user) {
    app_t *a = user;
    char service[16], identity[256];
    if (!api_key_ok(a, req)) {
        st_http_reply_error(res, 401, "missing or wrong API key");
        return;
    }
    int sl = st_http_query_param(req, "service", service, sizeof service);
    if (sl < 0 || strcmp(service, "turn") != 0) {
        st_http_reply_error(res, 400, "service=turn required");
        return;
    }
    int il = st_http_query_param(req, "username", identity, sizeof identity);
    if (il == RTC_ERR_NOT_FOUND) identity[0] = '\0';
    else if (il < 0) {
        st_http_reply_error(res, 400, "bad username");
        return;
    }
    turn_policy_t *pol;
    turn_secrets_t *sec;
    uint8_t nonce[TURN_NONCE_SECRET_LEN];
    uint64_t gen;
    turn_shared_snapshot(a->sh, &pol, &sec, nonce, &gen);
    int64_t now = rtc_clock_wall_us() / RTC_US_PER_SEC;
    const char *secret = NULL;
    for (size_t i = 0; i < sec->n && !secret; i++)
        if (!sec->expires[i] || sec->expires[i] > now) secret = sec->secrets[i];
    int64_t ttl = a->opts.rest_ttl_ms / 1000;
    char username[ST_TURN_REST_USERNAME_MAX + 1], password[ST_TURN_REST_PASSWORD_SIZE];
    int rc = secret ? st_turn_rest_make(secret, strlen(secret), identity, now + ttl, username, sizeof username,
                                        password, sizeof password)
                    : RTC_ERR_NOT_FOUND;
    turn_policy_unref(pol);
    turn_secrets_unref(sec);
    if (rc == RTC_ERR_NOT_FOUND) {
        st_http_reply_error(res, 503, "no TURN REST secret available");
        return;
    }
    if (rc != RTC_OK) {
        st_http_reply_error(res, 400, "username too long");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "username", username);
    cJSON_AddStringToObject(j, "password", password);
    cJSON_AddNumberToObject(j, "ttl", (double)ttl);
    cJSON *uris = cJSON_AddArrayToObject(j, "uris");
    for (char **u = a->uris; u && *u; u++) cJSON_AddItemToArray(uris, cJSON_CreateString(*u));
    st_http_reply_json(res, 200, j);
    cJSON_Delete(j);
}

/* ---- drain, stop, reload ---------------------------------------------------------------- */

static void close_timer(uv_timer_t *t) {
    if (t->data && !uv_is_closing((uv_handle_t *)t)) {
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static void app_stop(app_t *a, const char *why) {
    if (a->stopping) return;
    a->stopping = true;
    RTC_LOGI("turn", "stopping: %s (%zu allocations left)", why, turn_shared_allocations(a->sh));
    turn_runtime_stop(a->rt); /* joins workers; remaining allocations are deleted */
    publish_metrics(a);
    close_timer(&a->stats_timer);
    close_timer(&a->secrets_timer);
    close_timer(&a->drain_timer);
    if (a->http) st_http_server_close(a->http);
    a->http = NULL;
    if (a->redis) st_redis_free(a->redis);
    a->redis = NULL;
    if (a->signals) st_signals_close(a->signals);
    a->signals = NULL;
}

static void on_drain_timer(uv_timer_t *t) {
    app_t *a = t->data;
    if (turn_shared_allocations(a->sh) == 0) app_stop(a, "drained");
    else if (uv_now(a->loop) >= a->drain_deadline_ms) app_stop(a, "drain timeout");
}

static void on_drain(int signum, unsigned count, void *user) {
    app_t *a = user;
    if (count > 1 || a->draining) {
        app_stop(a, "second signal");
        return;
    }
    a->draining = true;
    RTC_LOGI("turn", "signal %d: draining — no new allocations, relaying continues for up to %lld ms", signum,
             (long long)a->opts.common.drain_timeout_ms);
    turn_shared_set_draining(a->sh, true);
    st_health_set_draining(a->health, true);
    register_node(a);
    a->drain_deadline_ms = uv_now(a->loop) + (uint64_t)a->opts.common.drain_timeout_ms;
    uv_timer_start(&a->drain_timer, on_drain_timer, 0, DRAIN_POLL_MS);
}

static void on_reload(void *user) {
    app_t *a = user;
    turn_options_t fresh;
    memset(&fresh, 0, sizeof fresh);
    st_config_error_t err;
    int rc = st_config_load(&turn_options_spec, a->argc, a->argv, environ, &fresh, &err);
    if (rc != RTC_OK) {
        RTC_LOGE("turn", "reload failed, keeping the running configuration: %s", err.msg);
        return;
    }
    char msg[256];
    turn_policy_t *p;
    if (turn_options_policy(&fresh, &p, msg, sizeof msg) != RTC_OK) {
        RTC_LOGE("turn", "reload failed, keeping the running configuration: %s", msg);
        st_config_free(&turn_options_spec, &fresh);
        return;
    }
    /* Listeners, workers and the HTTP/Redis endpoints need a restart; everything the core
     * decides with (users, realm, lifetimes, quotas, peer filter, secrets) applies now. */
    turn_shared_set_policy(a->sh, p);
    st_log_set_level_name(fresh.common.log_level);
    if (fresh.nonce_secret) turn_shared_set_nonce_secret(a->sh, (const uint8_t *)fresh.nonce_secret, strlen(fresh.nonce_secret));
    /* Keep the running listener-related settings; take the rest. */
    turn_options_t old = a->opts;
    a->opts = fresh;
    char **uris = turn_options_uris(&a->opts);
    if (uris) {
        turn_options_free_uris(a->uris);
        a->uris = uris;
    }
    st_config_free(&turn_options_spec, &old);
    if (a->redis)
        uv_timer_start(&a->secrets_timer, on_secrets_timer, (uint64_t)a->opts.rest_refresh_ms,
                       (uint64_t)a->opts.rest_refresh_ms);
    RTC_LOGI("turn", "configuration reloaded");
    refresh_secrets(a);
}

/* ---- start-up --------------------------------------------------------------------------- */

static int start_http(app_t *a) {
    if (a->opts.http_listen.n == 0) return RTC_OK;
    a->http = st_http_server_new(a->loop, NULL);
    if (!a->http) return RTC_ERR_NOMEM;
    st_http_server_use_metrics(a->http, a->metrics);
    st_http_add_standard_routes(a->http, a->health, a->metrics);
    st_http_server_route(a->http, "POST", "/", on_credentials, a);
    for (size_t i = 0; i < a->opts.http_listen.n; i++) {
        rtc_addr_t addr;
        if (rtc_addr_parse(&addr, a->opts.http_listen.items[i], 9641) != RTC_OK) {
            RTC_LOGE("turn", "http.listen: bad address \"%s\"", a->opts.http_listen.items[i]);
            return RTC_ERR_MALFORMED;
        }
        if (st_http_server_listen(a->http, &addr) != RTC_OK) return RTC_ERR_IO;
        rtc_addr_t bound;
        if (st_http_server_local_addr(a->http, i, &bound) == RTC_OK)
            RTC_LOGI("turn", "HTTP (metrics, healthz, credentials) on %s", rtc_addr_str(&bound));
    }
    return RTC_OK;
}

static int start_redis(app_t *a) {
    if (!a->opts.rest_redis) {
        st_health_set(a->health, "redis", true, "not used");
        return RTC_OK;
    }
    st_redis_options_t ro;
    st_redis_options_from_config(&ro, &a->opts.common);
    ro.name = "redis";
    ro.on_connect = on_redis_connect;
    ro.on_disconnect = on_redis_disconnect;
    ro.user = a;
    st_health_set(a->health, "redis", false, "connecting");
    a->redis = st_redis_new(a->loop, &ro);
    if (!a->redis) return RTC_ERR_FAILED;
    uv_timer_start(&a->secrets_timer, on_secrets_timer, (uint64_t)a->opts.rest_refresh_ms,
                   (uint64_t)a->opts.rest_refresh_ms);
    return RTC_OK;
}

static void app_free(app_t *a) {
    turn_runtime_free(a->rt);
    turn_shared_free(a->sh);
    st_health_free(a->health);
    st_metrics_free(a->metrics);
    free(a->wm);
    turn_options_free_uris(a->uris);
    st_config_free(&turn_options_spec, &a->opts);
}

int turn_service_main(int argc, char **argv) {
    static app_t app;
    app_t *a = &app;
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    st_config_error_t err;
    int rc = st_config_load(&turn_options_spec, argc, argv, environ, &a->opts, &err);
    if (rc == ST_CONFIG_HELP) {
        rtc_buf_t b;
        rtc_buf_init(&b);
        st_config_help(&turn_options_spec, &b);
        fwrite(b.data, 1, b.len, stdout);
        rtc_buf_free(&b);
        st_config_free(&turn_options_spec, &a->opts);
        return 0;
    }
    if (rc != RTC_OK) {
        fprintf(stderr, "starling-turn: %s\n", err.msg);
        return 2;
    }
    st_log_init("turn", a->opts.common.log_level);
    rtc_buf_t dump;
    rtc_buf_init(&dump);
    if (st_config_dump_json(&turn_options_spec, &a->opts, &dump) == RTC_OK)
        RTC_LOGI("turn", "configuration %.*s", (int)dump.len, (const char *)dump.data);
    rtc_buf_free(&dump);

    char msg[256];
    turn_policy_t *policy;
    turn_runtime_config_t rcfg;
    if (turn_options_policy(&a->opts, &policy, msg, sizeof msg) != RTC_OK ||
        turn_options_runtime(&a->opts, &rcfg, msg, sizeof msg) != RTC_OK) {
        RTC_LOGE("turn", "configuration: %s", msg);
        fprintf(stderr, "starling-turn: %s\n", msg);
        st_config_free(&turn_options_spec, &a->opts);
        return 2;
    }
    a->sh = turn_shared_new(policy, (uint16_t)a->opts.port_min, (uint16_t)a->opts.port_max);
    if (!a->sh) {
        st_config_free(&turn_options_spec, &a->opts);
        return 1;
    }
    if (a->opts.nonce_secret)
        turn_shared_set_nonce_secret(a->sh, (const uint8_t *)a->opts.nonce_secret, strlen(a->opts.nonce_secret));
    a->rt = turn_runtime_new(&rcfg, a->sh);
    if (!a->rt) {
        app_free(a);
        return 1;
    }
    a->uris = turn_options_uris(&a->opts);
    rtc_addr_t first;
    if (turn_runtime_listen_addr(a->rt, rcfg.n_udp ? TURN_TRANSPORT_UDP : rcfg.n_tcp ? TURN_TRANSPORT_TCP
                                                                                     : TURN_TRANSPORT_TLS,
                                 0, &first) == RTC_OK)
        rtc_addr_format(&first, a->node_addr, sizeof a->node_addr);
    char host[128] = "turn";
    if (!a->opts.node_id) gethostname(host, sizeof host - 1);
    snprintf(a->node_key, sizeof a->node_key, "%s%s", a->opts.node_key_prefix ? a->opts.node_key_prefix : "",
             a->opts.node_id ? a->opts.node_id : host);

    a->loop = uv_default_loop();
    a->metrics = st_metrics_new();
    a->health = st_health_new("turn");
    if (!a->metrics || !a->health || metrics_init(a) != RTC_OK) {
        app_free(a);
        return 1;
    }
    uv_timer_init(a->loop, &a->stats_timer);
    a->stats_timer.data = a;
    uv_timer_init(a->loop, &a->secrets_timer);
    a->secrets_timer.data = a;
    uv_timer_init(a->loop, &a->drain_timer);
    a->drain_timer.data = a;
    st_signals_callbacks_t scb = {.on_drain = on_drain, .on_reload = on_reload, .user = a};
    a->signals = st_signals_new(a->loop, &scb);
    if (!a->signals || start_http(a) != RTC_OK || start_redis(a) != RTC_OK || turn_runtime_start(a->rt) != RTC_OK) {
        app_stop(a, "start-up failed");
        uv_run(a->loop, UV_RUN_DEFAULT);
        app_free(a);
        return 1;
    }
    st_health_set(a->health, "workers", true, NULL);
    for (int t = TURN_TRANSPORT_UDP; t <= TURN_TRANSPORT_TLS; t++) {
        rtc_addr_t la;
        for (size_t i = 0; turn_runtime_listen_addr(a->rt, (turn_transport_t)t, i, &la) == RTC_OK; i++)
            RTC_LOGI("turn", "listening on %s %s", t == TURN_TRANSPORT_UDP ? "udp" : t == TURN_TRANSPORT_TCP ? "tcp" : "tls",
                     rtc_addr_str(&la));
    }
    RTC_LOGI("turn", "started with %u workers, realm \"%s\", relay ports %lld-%lld", turn_runtime_workers(a->rt),
             policy->realm, (long long)a->opts.port_min, (long long)a->opts.port_max);
    uv_timer_start(&a->stats_timer, on_stats_timer, STATS_INTERVAL_MS, STATS_INTERVAL_MS);
    uv_run(a->loop, UV_RUN_DEFAULT);
    app_stop(a, "loop ended");
    uv_run(a->loop, UV_RUN_DEFAULT);
    app_free(a);
    uv_loop_close(a->loop);
    RTC_LOGI("turn", "stopped");
    return 0;
}
