/* One SFU process in the cluster: registration, heartbeat, bus routing, health, draining. */
#include "sfu/node.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/health.h"
#include "common/http.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/signals.h"
#include "sfu/bus.h"
#include "sfu/worker.h"

static const st_option_t sfu_options[] = {
    {"node_id", ST_OPT_STRING, offsetof(sfu_config_t, node_id), NULL,
     "this node's id in Redis (default: sfu-<hostname>-<random>)", 0, 0, NULL, 0},
    {"public_ip", ST_OPT_STRING, offsetof(sfu_config_t, public_ip), "127.0.0.1",
     "IP address clients reach the media ports on (node key; ICE candidates with ice.nat_1to1)", 0, 0, NULL, 0},
    {"ice.nat_1to1", ST_OPT_BOOL, offsetof(sfu_config_t, nat_1to1), "false",
     "1:1 NAT: announce public_ip in ICE candidates instead of the bound address (ports unchanged)", 0, 0, NULL, 0},
    {"udp.listen", ST_OPT_ADDRESS, offsetof(sfu_config_t, udp_listen), "0.0.0.0:7882",
     "media UDP address; worker i uses port + i", 0, 0, NULL, 0},
    {"http.listen", ST_OPT_ADDRESS, offsetof(sfu_config_t, http_listen), "127.0.0.1:9642",
     "address for /metrics and /healthz", 0, 0, NULL, 0},
    {"workers", ST_OPT_INT, offsetof(sfu_config_t, workers), "0",
     "worker threads (0: one per CPU)", 0, 256, NULL, 0},
    {"capacity", ST_OPT_INT, offsetof(sfu_config_t, capacity), "1000",
     "participants this node takes (advertised for placement)", 1, 10000000, NULL, 0},
    {"redis.prefix", ST_OPT_STRING, offsetof(sfu_config_t, redis_prefix), "starling:",
     "prefix of every Redis key and channel", 0, 0, NULL, 0},
    {"node.ttl", ST_OPT_DURATION, offsetof(sfu_config_t, node_ttl_ms), "4s",
     "TTL of the node key: the node counts as dead this long after its last heartbeat",
     1000, 3600000, NULL, 0},
    {"node.heartbeat", ST_OPT_DURATION, offsetof(sfu_config_t, heartbeat_ms), "1s",
     "how often the node key and load are refreshed", 100, 600000, NULL, 0},
    {"room.empty_ttl", ST_OPT_DURATION, offsetof(sfu_config_t, room_ttl_ms), "60s",
     "keys of an empty room expire after this", 1000, 86400000, NULL, 0},
    {"room.max_participants", ST_OPT_INT, offsetof(sfu_config_t, max_participants), "100",
     "participants per room (room_full beyond)", 1, 100000, NULL, 0},
    {"keyframe.min_interval", ST_OPT_DURATION, offsetof(sfu_config_t, keyframe_interval_ms), "500ms",
     "at most one keyframe request per publisher stream per interval", 50, 60000, NULL, 0},
    {"bandwidth.default", ST_OPT_INT, offsetof(sfu_config_t, default_bandwidth), "2500000",
     "a subscriber's bandwidth (bit/s) until its estimate is known", 10000, 1000000000, NULL, 0},
    {"bandwidth.probing", ST_OPT_BOOL, offsetof(sfu_config_t, probing), "true",
     "probe subscriber legs (padding-only RTX) whose estimate is below what their layers need", 0, 0, NULL, 0},
    {"bandwidth.probe_max", ST_OPT_INT, offsetof(sfu_config_t, probe_max_pct), "200",
     "a probe's rate, at most this many percent of the leg's estimate", 110, 1000, NULL, 0},
    {"subscriber.offer_timeout", ST_OPT_DURATION, offsetof(sfu_config_t, offer_timeout_ms), "10s",
     "a subscriber offer unanswered this long is sent again (doubling per repeat, up to 8x)",
     100, 600000, NULL, 0},
};

const st_config_spec_t sfu_config_spec = {
    "sfu", "Starling SFU: selective forwarding of rooms' media.", sfu_options,
    sizeof sfu_options / sizeof sfu_options[0], 1, offsetof(sfu_config_t, common)};

struct sfu_node {
    uv_loop_t *loop;
    const sfu_config_t *cfg;
    char id[SFU_ID_MAX + 1];
    char node_key[192], nodes_key[128], sfu_channel[192], events_channel[128];
    char udp_ports[512];
    unsigned n_workers;
    sfu_worker_t **workers;
    st_redis_t *redis, *sub;
    st_metrics_t *metrics;
    st_health_t *health;
    st_http_server_t *http;
    st_signals_t *signals;
    uv_timer_t heartbeat, drain_timer, final_timer;
    bool draining, stopping, closed;
    rtc_time_t drain_started;
    rtc_time_t last_heartbeat; /* when on_heartbeat last ran (0: not yet) */
    int64_t started_at;
    /* Random per process: a node that restarts under the same node_id (a fixed id, as in
     * Kubernetes) is a new instance with none of the old one's rooms; signal tells their
     * participants to reconnect when it sees the instance change (docs/redis.md). */
    char instance[17];
    int final_pending;
    atomic_uint_fast64_t bus_in, bus_bad, bus_unroutable, events_in;
};

/* ------------------------------------------------------------------------------------------
 * Load and registration.
 */
static void total_load(const sfu_node_t *n, sfu_worker_load_t *t) {
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < n->n_workers; i++) {
        sfu_worker_load_t l;
        sfu_worker_load(n->workers[i], &l);
        t->participants += l.participants;
        t->tracks += l.tracks;
        t->rooms += l.rooms;
        t->commands += l.commands;
        t->publishes += l.publishes;
        t->publish_dropped += l.publish_dropped;
        t->rtp_in += l.rtp_in;
        t->rtp_out += l.rtp_out;
        t->keyframe_requests += l.keyframe_requests;
        t->data_relayed += l.data_relayed;
    }
}

static void register_node(sfu_node_t *n) {
    if (!n->redis || !st_redis_is_connected(n->redis) || n->stopping) return;
    sfu_worker_load_t l;
    total_load(n, &l);
    char load[32], workers[16], capacity[24], started[24], ttl[24];
    snprintf(load, sizeof load, "%.1f", l.participants + 0.1 * l.tracks);
    snprintf(workers, sizeof workers, "%u", n->n_workers);
    snprintf(capacity, sizeof capacity, "%lld", (long long)n->cfg->capacity);
    snprintf(started, sizeof started, "%lld", (long long)n->started_at);
    snprintf(ttl, sizeof ttl, "%lld", (long long)n->cfg->node_ttl_ms);
    const char *hset[] = {"HSET", n->node_key, "id", n->id, "public_ip", n->cfg->public_ip,
                          "udp_ports", n->udp_ports, "workers", workers, "load", load,
                          "capacity", capacity, "state", n->draining ? "draining" : "up",
                          "started_at", started, "version", STARLING_SFU_VERSION,
                          "instance", n->instance};
    st_redis_command_argv(n->redis, NULL, NULL, (int)(sizeof hset / sizeof hset[0]), hset, NULL);
    const char *pexpire[] = {"PEXPIRE", n->node_key, ttl};
    st_redis_command_argv(n->redis, NULL, NULL, 3, pexpire, NULL);
    /* New rooms only while our command channel is subscribed: after a Redis restart the two
     * connections come back on their own backoffs, and a join published before we listen
     * again would reach nobody. The node key stays (our rooms are fine). */
    bool listening = n->sub && st_redis_is_connected(n->sub);
    if (n->draining || !listening) {
        const char *zrem[] = {"ZREM", n->nodes_key, n->id};
        st_redis_command_argv(n->redis, NULL, NULL, 3, zrem, NULL);
    } else {
        const char *zadd[] = {"ZADD", n->nodes_key, load, n->id};
        st_redis_command_argv(n->redis, NULL, NULL, 4, zadd, NULL);
    }
}

/* A heartbeat that comes much later than its period means this process was not scheduled
 * (a starved host) or its loop was blocked: say so, since past node.ttl the cluster takes
 * the node for dead (docs/redis.md, Faults). */
static void on_heartbeat(uv_timer_t *t) {
    sfu_node_t *n = t->data;
    rtc_time_t now = rtc_clock_now();
    if (n->last_heartbeat) {
        int64_t late_ms = (int64_t)((now - n->last_heartbeat) / RTC_MS(1)) - n->cfg->heartbeat_ms;
        if (late_ms >= n->cfg->heartbeat_ms)
            RTC_LOGW("sfu", "node %s: heartbeat %lld ms late (the node counts as dead after "
                     "%lld ms without one)", n->id, (long long)late_ms, (long long)n->cfg->node_ttl_ms);
    }
    n->last_heartbeat = now;
    register_node(n);
}

static void on_redis_connect(st_redis_t *r, void *user) {
    (void)r;
    sfu_node_t *n = user;
    RTC_LOGI("sfu", "node %s: registered in Redis", n->id);
    st_health_set(n->health, "redis", true, "connected");
    register_node(n);
}

static void on_redis_disconnect(st_redis_t *r, void *user) {
    (void)r;
    sfu_node_t *n = user;
    st_health_set(n->health, "redis", false, "reconnecting");
}

static void on_sub_connect(st_redis_t *r, void *user) {
    (void)r;
    sfu_node_t *n = user;
    st_health_set(n->health, "bus", true, "subscribed");
    register_node(n); /* placeable again */
}

static void on_sub_disconnect(st_redis_t *r, void *user) {
    (void)r;
    sfu_node_t *n = user;
    st_health_set(n->health, "bus", false, "reconnecting");
    register_node(n); /* not placeable until subscribed again */
}

/* ------------------------------------------------------------------------------------------
 * Bus.
 */
static void on_command(st_redis_t *r, const char *channel, const char *payload, size_t len,
                       void *user) {
    (void)r;
    (void)channel;
    sfu_node_t *n = user;
    atomic_fetch_add(&n->bus_in, 1);
    sfu_bus_msg_t m;
    char why[200];
    int rc = sfu_bus_parse(payload, len, &m, why, sizeof why);
    if (rc < 0) atomic_fetch_add(&n->bus_bad, 1);
    if (!*m.room) {
        RTC_LOGW("sfu", "bus: command without a usable room dropped: %s", rc < 0 ? why : "no room");
        atomic_fetch_add(&n->bus_unroutable, 1);
        sfu_bus_msg_free(&m);
        return;
    }
    sfu_worker_t *w = n->workers[sfu_worker_for_room(m.room, n->n_workers)];
    sfu_worker_post_bus(w, &m, rc < 0 ? why : NULL);
}

static void on_event(st_redis_t *r, const char *channel, const char *payload, size_t len,
                     void *user) {
    (void)r;
    (void)channel;
    sfu_node_t *n = user;
    atomic_fetch_add(&n->events_in, 1);
    sfu_event_t ev;
    if (sfu_event_parse(payload, len, &ev) < 0) {
        RTC_LOGW("sfu", "events: malformed event ignored");
        return;
    }
    switch (ev.type) {
    case SFU_EVENT_NODE_DOWN:
        if (!strcmp(ev.node, n->id) && !n->stopping) {
            /* Someone thought we were dead (our key expired while Redis was unreachable).
             * Our rooms were or will be moved (room_moved events); come back as a live node. */
            RTC_LOGW("sfu", "node %s: declared down by the cluster; registering again", n->id);
            register_node(n);
        }
        break;
    case SFU_EVENT_ROOM_MOVED:
    case SFU_EVENT_ROOM_CLOSED:
        sfu_worker_post_event(n->workers[sfu_worker_for_room(ev.room, n->n_workers)], &ev);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------------
 * Shutdown and draining.
 */
static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_all(sfu_node_t *n) {
    if (n->closed) return;
    n->closed = true;
    st_redis_free(n->redis);
    st_redis_free(n->sub);
    n->redis = n->sub = NULL;
    st_http_server_close(n->http);
    n->http = NULL;
    st_signals_close(n->signals);
    n->signals = NULL;
    uv_close((uv_handle_t *)&n->heartbeat, on_handle_closed);
    uv_close((uv_handle_t *)&n->drain_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->final_timer, on_handle_closed);
    RTC_LOGI("sfu", "node %s: stopped", n->id);
}

/* The two events this node says about itself, node_draining and node_down, are both
 * {"type", "node": our id} (docs/redis.md, Channels). NULL when out of memory. */
static char *node_event(const sfu_node_t *n, const char *type) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "node", n->id);
    return sfu_event_build(type, x);
}

static void on_final_reply(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    (void)reply;
    sfu_node_t *n = user;
    if (--n->final_pending == 0) close_all(n);
}

static void on_final_timeout(uv_timer_t *t) { close_all(t->data); }

static void shutdown_node(sfu_node_t *n) {
    if (n->stopping) return;
    n->stopping = true;
    uv_timer_stop(&n->heartbeat);
    uv_timer_stop(&n->drain_timer);
    sfu_worker_load_t l;
    total_load(n, &l);
    RTC_LOGI("sfu", "node %s: shutting down (%d participants left)", n->id, l.participants);
    for (unsigned i = 0; i < n->n_workers; i++) sfu_worker_stop(n->workers[i]);
    n->n_workers = 0;
    /* Leave the cluster explicitly rather than waiting for the TTL: signal can fail rooms
     * over at once. */
    if (n->redis && st_redis_is_connected(n->redis)) {
        const char *del[] = {"DEL", n->node_key};
        const char *zrem[] = {"ZREM", n->nodes_key, n->id};
        char *ev = node_event(n, "node_down");
        const char *pub[] = {"PUBLISH", n->events_channel, ev ? ev : "{}"};
        n->final_pending = 3;
        if (st_redis_command_argv(n->redis, on_final_reply, n, 2, del, NULL) != RTC_OK) n->final_pending--;
        if (st_redis_command_argv(n->redis, on_final_reply, n, 3, zrem, NULL) != RTC_OK) n->final_pending--;
        if (st_redis_command_argv(n->redis, on_final_reply, n, 3, pub, NULL) != RTC_OK) n->final_pending--;
        free(ev);
        if (n->final_pending > 0) {
            uv_timer_start(&n->final_timer, on_final_timeout, 1500, 0);
            return;
        }
    }
    close_all(n);
}

static void on_drain_check(uv_timer_t *t) {
    sfu_node_t *n = t->data;
    sfu_worker_load_t l;
    total_load(n, &l);
    rtc_time_t elapsed = rtc_clock_now() - n->drain_started;
    if (l.participants == 0 && l.rooms == 0) {
        RTC_LOGI("sfu", "node %s: drained", n->id);
        shutdown_node(n);
    } else if (elapsed >= RTC_MS(n->cfg->common.drain_timeout_ms)) {
        RTC_LOGW("sfu", "node %s: drain timeout with %d participants in %d rooms", n->id,
                 l.participants, l.rooms);
        shutdown_node(n);
    }
}

void sfu_node_drain(sfu_node_t *n) {
    if (n->stopping) return;
    if (n->draining) {
        shutdown_node(n);
        return;
    }
    n->draining = true;
    n->drain_started = rtc_clock_now();
    RTC_LOGI("sfu", "node %s: draining (up to %lld ms)", n->id, (long long)n->cfg->common.drain_timeout_ms);
    st_health_set_draining(n->health, true);
    for (unsigned i = 0; i < n->n_workers; i++) sfu_worker_set_draining(n->workers[i], true);
    register_node(n);
    if (n->redis && st_redis_is_connected(n->redis)) {
        char *ev = node_event(n, "node_draining");
        if (ev) {
            const char *pub[] = {"PUBLISH", n->events_channel, ev};
            st_redis_command_argv(n->redis, NULL, NULL, 3, pub, NULL);
            free(ev);
        }
    }
    uv_timer_start(&n->drain_timer, on_drain_check, 0, 200);
}

static void on_signal_drain(int signum, unsigned count, void *user) {
    (void)signum;
    sfu_node_t *n = user;
    if (count > 1) shutdown_node(n);
    else sfu_node_drain(n);
}

static void on_reload(void *user) {
    sfu_node_t *n = user;
    RTC_LOGI("sfu", "node %s: SIGHUP: configuration reload is not supported; ignored", n->id);
}

/* ------------------------------------------------------------------------------------------
 * Metrics.
 */
#define LOAD_GAUGE(fname, field)                                  \
    static double fname(void *user) {                             \
        sfu_worker_load_t l;                                      \
        total_load(user, &l);                                     \
        return (double)l.field;                                   \
    }
LOAD_GAUGE(m_participants, participants)
LOAD_GAUGE(m_tracks, tracks)
LOAD_GAUGE(m_rooms, rooms)
LOAD_GAUGE(m_publishes, publishes)
LOAD_GAUGE(m_publish_dropped, publish_dropped)
LOAD_GAUGE(m_rtp_in, rtp_in)
LOAD_GAUGE(m_rtp_out, rtp_out)
LOAD_GAUGE(m_keyframes, keyframe_requests)
LOAD_GAUGE(m_data, data_relayed)
static double m_bus_in(void *u) { return (double)atomic_load(&((sfu_node_t *)u)->bus_in); }
static double m_bus_bad(void *u) { return (double)atomic_load(&((sfu_node_t *)u)->bus_bad); }
static double m_unroutable(void *u) { return (double)atomic_load(&((sfu_node_t *)u)->bus_unroutable); }
static double m_events(void *u) { return (double)atomic_load(&((sfu_node_t *)u)->events_in); }
static double m_draining(void *u) { return ((sfu_node_t *)u)->draining ? 1 : 0; }
static double m_redis(void *u) {
    sfu_node_t *n = u;
    return n->redis && st_redis_is_connected(n->redis) ? 1 : 0;
}

static void add_metrics(sfu_node_t *n) {
    st_metrics_t *m = n->metrics;
    st_metrics_add_process(m);
    st_metrics_gauge_fn(m, "sfu_participants", "participants on this node", m_participants, n);
    st_metrics_gauge_fn(m, "sfu_tracks", "published tracks on this node", m_tracks, n);
    st_metrics_gauge_fn(m, "sfu_rooms", "rooms on this node", m_rooms, n);
    st_metrics_gauge_fn(m, "sfu_draining", "1 while draining", m_draining, n);
    st_metrics_gauge_fn(m, "sfu_redis_connected", "1 while the command connection is up", m_redis, n);
    st_metrics_counter_fn(m, "sfu_bus_commands_total", "commands received on the node channel", m_bus_in, n);
    st_metrics_counter_fn(m, "sfu_bus_rejected_total", "commands that did not parse", m_bus_bad, n);
    st_metrics_counter_fn(m, "sfu_bus_unroutable_total", "commands without a usable room", m_unroutable, n);
    st_metrics_counter_fn(m, "sfu_events_total", "cluster events received", m_events, n);
    st_metrics_counter_fn(m, "sfu_bus_published_total", "messages published to signal", m_publishes, n);
    st_metrics_counter_fn(m, "sfu_bus_publish_dropped_total",
                          "messages for signal given up while Redis was unreachable (outbox bounds or age)", m_publish_dropped, n);
    st_metrics_counter_fn(m, "sfu_rtp_packets_received_total", "RTP packets received from publishers", m_rtp_in, n);
    st_metrics_counter_fn(m, "sfu_rtp_packets_forwarded_total", "RTP packets forwarded to subscribers", m_rtp_out, n);
    st_metrics_counter_fn(m, "sfu_keyframe_requests_total", "keyframe requests sent to publishers (after throttling)",
                          m_keyframes, n);
    st_metrics_counter_fn(m, "sfu_data_messages_relayed_total", "data messages delivered to participants", m_data, n);
}

/* ------------------------------------------------------------------------------------------
 * Start.
 */
static void make_node_id(char *out, size_t cap) {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '-';
        if (!ok) *c = '-';
    }
    char r[7];
    rtc_random_ice_string(r, 6);
    for (char *c = r; *c; c++)
        if (*c == '+' || *c == '/') *c = 'x';
    /* sfu- + at most 40 of the host name + - + 6: within SFU_ID_MAX. */
    snprintf(out, cap, "sfu-%.40s-%s", host, r);
}

static unsigned ncpus(void) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)c : 1;
}

sfu_node_t *sfu_node_start(uv_loop_t *loop, const sfu_config_t *cfg,
                           const sfu_media_engine_t *engine) {
    sfu_node_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->loop = loop;
    n->cfg = cfg;
    if (cfg->node_id && *cfg->node_id) snprintf(n->id, sizeof n->id, "%s", cfg->node_id);
    else make_node_id(n->id, sizeof n->id);
    /* docs/redis.md: 1..64 of A-Z a-z 0-9 _ - . not starting with '.' (signal ignores
     * placements naming anything else). */
    bool id_ok = n->id[0] && n->id[0] != '.' && strlen(n->id) <= SFU_ID_MAX;
    for (const char *c = n->id; *c && id_ok; c++)
        id_ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '_' || *c == '-' || *c == '.';
    if (!id_ok) {
        RTC_LOGE("sfu", "node_id '%s' is not a valid node id (1..%d of A-Z a-z 0-9 _ - ., not "
                 "starting with '.')", n->id, SFU_ID_MAX);
        free(n);
        return NULL;
    }
    const char *prefix = cfg->redis_prefix ? cfg->redis_prefix : "starling:";
    snprintf(n->node_key, sizeof n->node_key, "%snode:%s", prefix, n->id);
    snprintf(n->nodes_key, sizeof n->nodes_key, "%snodes", prefix);
    snprintf(n->sfu_channel, sizeof n->sfu_channel, "%ssfu:%s", prefix, n->id);
    snprintf(n->events_channel, sizeof n->events_channel, "%sevents", prefix);
    n->started_at = rtc_clock_wall_us() / RTC_US_PER_SEC;
    snprintf(n->instance, sizeof n->instance, "%016llx", (unsigned long long)rtc_random_u64());
    n->n_workers = cfg->workers > 0 ? (unsigned)cfg->workers : ncpus();

    n->metrics = st_metrics_new();
    n->health = st_health_new("sfu");
    st_health_set(n->health, "redis", false, "connecting");
    st_health_set(n->health, "bus", false, "connecting");
    add_metrics(n);
    n->http = st_http_server_new(loop, NULL);
    st_http_add_standard_routes(n->http, n->health, n->metrics);
    st_http_server_use_metrics(n->http, n->metrics);
    if (st_http_server_listen(n->http, &cfg->http_listen) != RTC_OK) goto fail_early;

    /* Workers. */
    n->workers = calloc(n->n_workers, sizeof *n->workers);
    size_t len = 0;
    for (unsigned i = 0; i < n->n_workers; i++) {
        sfu_worker_config_t wc = {0};
        wc.index = i;
        wc.node_id = n->id;
        wc.prefix = prefix;
        st_redis_options_from_config(&wc.redis, &cfg->common);
        sfu_room_config_init(&wc.room);
        wc.room.max_participants = (size_t)cfg->max_participants;
        wc.room.keyframe_interval = RTC_MS(cfg->keyframe_interval_ms);
        wc.room.default_bandwidth = (uint64_t)cfg->default_bandwidth;
        wc.room_ttl_ms = cfg->room_ttl_ms;
        wc.udp_port = cfg->udp_listen.port ? (uint16_t)(cfg->udp_listen.port + i) : 0;
        if (engine) {
            wc.media = engine->ops;
            wc.media_new = engine->media_new;
            wc.media_free = engine->media_free;
            wc.media_arg = engine->arg;
        }
        n->workers[i] = sfu_worker_start(&wc);
        if (!n->workers[i]) {
            for (unsigned k = 0; k < i; k++) sfu_worker_stop(n->workers[k]);
            free(n->workers);
            goto fail_early;
        }
        len += (size_t)snprintf(n->udp_ports + len, sizeof n->udp_ports - len, "%s%u",
                                i ? "," : "", wc.udp_port);
        if (len >= sizeof n->udp_ports) len = sizeof n->udp_ports - 1;
    }

    st_redis_options_t ro;
    st_redis_options_from_config(&ro, &cfg->common);
    ro.name = "redis";
    ro.on_connect = on_redis_connect;
    ro.on_disconnect = on_redis_disconnect;
    ro.user = n;
    n->redis = st_redis_new(loop, &ro);
    ro.name = "redis-sub";
    ro.subscriber = true;
    ro.on_connect = on_sub_connect;
    ro.on_disconnect = on_sub_disconnect;
    n->sub = st_redis_new(loop, &ro);
    if (!n->redis || !n->sub) {
        RTC_LOGE("sfu", "cannot create the Redis clients");
        st_redis_free(n->redis);
        st_redis_free(n->sub);
        for (unsigned k = 0; k < n->n_workers; k++) sfu_worker_stop(n->workers[k]);
        free(n->workers);
        goto fail_early;
    }
    st_redis_subscribe(n->sub, n->sfu_channel, on_command, n);
    st_redis_subscribe(n->sub, n->events_channel, on_event, n);

    uv_timer_init(loop, &n->heartbeat);
    n->heartbeat.data = n;
    uv_timer_start(&n->heartbeat, on_heartbeat, (uint64_t)cfg->heartbeat_ms, (uint64_t)cfg->heartbeat_ms);
    uv_timer_init(loop, &n->drain_timer);
    n->drain_timer.data = n;
    uv_timer_init(loop, &n->final_timer);
    n->final_timer.data = n;
    st_signals_callbacks_t scb = {on_signal_drain, on_reload, n};
    n->signals = st_signals_new(loop, &scb);

    rtc_addr_t http_addr;
    st_http_server_local_addr(n->http, 0, &http_addr);
    RTC_LOGI("sfu", "node %s: %u workers, media ports %s on %s, http %s, redis %s:%lld", n->id,
             n->n_workers, n->udp_ports, cfg->public_ip, rtc_addr_str(&http_addr),
             cfg->common.redis_host, (long long)cfg->common.redis_port);
    return n;

fail_early:
    st_http_server_close(n->http);
    uv_run(loop, UV_RUN_DEFAULT);
    st_health_free(n->health);
    st_metrics_free(n->metrics);
    free(n);
    return NULL;
}

void sfu_node_free(sfu_node_t *n) {
    if (!n) return;
    for (unsigned i = 0; i < n->n_workers; i++) sfu_worker_stop(n->workers[i]);
    free(n->workers);
    st_health_free(n->health);
    st_metrics_free(n->metrics);
    free(n);
}

const char *sfu_node_id(const sfu_node_t *n) { return n->id; }
