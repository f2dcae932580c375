/* Worker threads: rooms pinned to a loop, commands in through a queue, Redis out. */
#include "sfu/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "common/redis_outbox.h"

typedef enum { IT_BUS, IT_EVENT } item_kind_t;

typedef struct item {
    struct item *next;
    item_kind_t kind;
    sfu_bus_msg_t msg;
    bool bad;
    char why[200];
    sfu_event_t ev;
} item_t;

/* A participant whose participant key was found missing, and since when. */
typedef struct {
    char pid[SFU_ID_MAX + 1];
    rtc_time_t since;
} missing_t;

/* How often participant keys are checked, how long one may be missing before the participant
 * is removed (docs/redis.md: 5 s), and how long after a (re)connect to Redis nothing is
 * concluded (a restarted-empty Redis is refilled by signal within a second). */
#define KEY_CHECK_MS 2000
#define KEY_MISSING_US RTC_SEC(5)
#define KEY_GRACE_US RTC_SEC(5)

struct sfu_worker {
    unsigned index;
    char *node_id, *prefix;
    char *redis_name, *redis_host, *redis_user, *redis_pass;
    st_redis_options_t redis_opts;
    sfu_room_config_t room_cfg;
    int64_t room_ttl_ms;
    uint16_t udp_port;
    const sfu_media_ops_t *media;
    void *(*media_new)(void *loop, unsigned index, uint16_t udp_port, void *arg);
    void (*media_free)(void *media_user);
    void *media_arg;
    void *media_user;

    pthread_t thread;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t tick;
    uv_timer_t stop_timer;
    bool closing;

    pthread_mutex_t mu;
    item_t *head, *tail;
    bool stop;

    st_redis_t *redis;
    st_redis_outbox_t *outbox;   /* messages for clients: kept across Redis hiccups */
    rtc_time_t redis_up_since;   /* 0 while disconnected */
    uv_timer_t key_check;
    unsigned key_checks;         /* on_key_check runs, for the reconcile period */
    missing_t *missing;
    size_t n_missing, cap_missing;
    sfu_room_t **rooms;
    size_t n_rooms, cap_rooms;

    atomic_int participants, tracks, n_rooms_atomic;
    sfu_room_stats_t gone;   /* counters of rooms already freed */
    atomic_uint_fast64_t rtp_in, rtp_out, keyframe_requests, data_relayed;
    atomic_bool draining;
    atomic_uint_fast64_t commands, publishes, publish_dropped;
};

unsigned sfu_worker_for_room(const char *room, unsigned n) {
    /* FNV-1a: stable across processes, so every signal process and restart agrees. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)room; *p; p++) h = (h ^ *p) * 16777619u;
    return n ? h % n : 0;
}

/* ------------------------------------------------------------------------------------------
 * Redis writes.
 */
/* The outbox's counters, for the node's metrics thread. */
static void count_publishes(sfu_worker_t *w) {
    st_redis_outbox_stats_t st;
    st_redis_outbox_stats(w->outbox, &st);
    atomic_store(&w->publishes, st.published);
    atomic_store(&w->publish_dropped, st.dropped);
}

static void publish(sfu_worker_t *w, const char *signal, char *json) {
    if (!json) return;
    char channel[256];
    snprintf(channel, sizeof channel, "%sto-signal:%s", w->prefix, signal);
    st_redis_outbox_publish(w->outbox, channel, json);
    free(json);
    count_publishes(w);
}

static void room_keys(sfu_worker_t *w, const char *room, char *rkey, size_t rcap, char *pkey,
                      size_t pcap) {
    snprintf(rkey, rcap, "%sroom:%s", w->prefix, room);
    snprintf(pkey, pcap, "%sroom:%s:participants", w->prefix, room);
}

static void cmd(sfu_worker_t *w, int argc, const char *const *argv) {
    if (w->redis) (void)st_redis_command_argv(w->redis, NULL, NULL, argc, argv, NULL);
}

static void env_send(void *user, sfu_room_t *r, sfu_participant_t *p, const char *type,
                     cJSON *payload) {
    sfu_worker_t *w = user;
    publish(w, sfu_participant_signal(p),
            sfu_bus_envelope(type, sfu_room_name(r), sfu_participant_id(p), sfu_participant_signal(p),
                             payload));
}

static void env_save_participant(void *user, sfu_room_t *r, sfu_participant_t *p) {
    sfu_worker_t *w = user;
    char rkey[256], pkey[280];
    room_keys(w, sfu_room_name(r), rkey, sizeof rkey, pkey, sizeof pkey);
    cJSON *info = sfu_participant_info(p, true);
    char *json = cJSON_PrintUnformatted(info);
    cJSON_Delete(info);
    if (!json) return;
    const char *hset[] = {"HSET", pkey, sfu_participant_id(p), json};
    cmd(w, 4, hset);
    const char *persist[] = {"PERSIST", pkey};
    cmd(w, 2, persist);
    free(json);
}

static void env_delete_participant(void *user, sfu_room_t *r, const char *pid) {
    sfu_worker_t *w = user;
    char rkey[256], pkey[280];
    room_keys(w, sfu_room_name(r), rkey, sizeof rkey, pkey, sizeof pkey);
    const char *hdel[] = {"HDEL", pkey, pid};
    cmd(w, 3, hdel);
}

static void env_save_room(void *user, sfu_room_t *r) {
    sfu_worker_t *w = user;
    char rkey[256], pkey[280], count[24], ttl[24];
    room_keys(w, sfu_room_name(r), rkey, sizeof rkey, pkey, sizeof pkey);
    size_t n = sfu_room_participant_count(r);
    snprintf(count, sizeof count, "%zu", n);
    /* `node` is the placement signal wrote; writing it again re-registers the room after a
     * Redis restart (docs/redis.md: "re-registers ... its rooms' placement"). */
    const char *hset[] = {"HSET", rkey, "sid", sfu_room_sid(r), "participants", count, "node", w->node_id};
    cmd(w, 8, hset);
    if (n == 0) {
        snprintf(ttl, sizeof ttl, "%lld", (long long)((w->room_ttl_ms + 999) / 1000));
        const char *e1[] = {"EXPIRE", rkey, ttl}, *e2[] = {"EXPIRE", pkey, ttl};
        cmd(w, 3, e1);
        cmd(w, 3, e2);
    } else {
        const char *p1[] = {"PERSIST", rkey};
        cmd(w, 2, p1);
        char rooms[256];
        snprintf(rooms, sizeof rooms, "%srooms", w->prefix);
        const char *sadd[] = {"SADD", rooms, sfu_room_name(r)};
        cmd(w, 3, sadd);
    }
}

static void env_load(void *user, int dp, int dt) {
    sfu_worker_t *w = user;
    atomic_fetch_add(&w->participants, dp);
    atomic_fetch_add(&w->tracks, dt);
}

/* The participants hash lists exactly the room's participants. A removal whose HDEL was
 * issued while the connection was down, or in flight when it dropped, is lost: the hash
 * would keep a participant that left (counted by `limits.max_participants`, listed by the
 * admin API) for as long as the room lives. So every RECONCILE_EVERY key checks, and after
 * each reconnect, the hash loses the fields the room does not have — only while the room is
 * still placed on this node (a room moved away belongs to its new node's writes). */
#define RECONCILE_EVERY 5
static const char reconcile_script[] =
    "if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end\n"
    "local keep = {}\n"
    "for i = 2, #ARGV do keep[ARGV[i]] = true end\n"
    "local n = 0\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do\n"
    "  if not keep[f] then redis.call('HDEL', KEYS[2], f) n = n + 1 end\n"
    "end\n"
    "return n\n";

typedef struct {
    sfu_worker_t *w;
    unsigned worker;
    char room[SFU_ROOM_NAME_MAX + 1];
} room_ref_t;

static void on_reconciled(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    room_ref_t *rc = user;
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        RTC_LOGW("sfu", "worker %u: room %s: %lld participant(s) in Redis that had left removed "
                 "(a removal was lost with the Redis connection)", rc->worker, rc->room,
                 (long long)reply->integer);
    free(rc);
}

static void reconcile_room(sfu_worker_t *w, sfu_room_t *r) {
    size_t n = sfu_room_participant_count(r);
    const char **argv = calloc(n + 6, sizeof *argv);
    room_ref_t *rc = calloc(1, sizeof *rc);
    if (!argv || !rc) {
        free(argv);
        free(rc);
        return;
    }
    char rkey[256], pkey[280];
    room_keys(w, sfu_room_name(r), rkey, sizeof rkey, pkey, sizeof pkey);
    rc->worker = w->index;
    snprintf(rc->room, sizeof rc->room, "%s", sfu_room_name(r));
    argv[0] = "EVAL";
    argv[1] = reconcile_script;
    argv[2] = "2";
    argv[3] = rkey;
    argv[4] = pkey;
    argv[5] = w->node_id;
    for (size_t k = 0; k < n; k++) argv[6 + k] = sfu_participant_id(sfu_room_participant(r, k));
    if (!w->redis || st_redis_command_argv(w->redis, on_reconciled, rc, (int)(n + 6), argv, NULL) != RTC_OK)
        free(rc);
    free(argv);
}

static void drop_room(sfu_worker_t *w, sfu_room_t *r);
static sfu_room_t *find_room(sfu_worker_t *w, const char *name);

/* After a reconnect each room is written again — unless it was moved to another node while
 * we were away from Redis (our key expired: we were taken for dead, docs/redis.md "Faults").
 * Its participants were then told to reconnect there, the room_moved event never reached
 * us, and writing our id back would split the room between two nodes. So a room is claimed
 * first, atomically: ours when its hash names no node (Redis restarted empty) or us. */
static const char claim_script[] =
    "local cur = redis.call('HGET', KEYS[1], 'node')\n"
    "if cur and cur ~= ARGV[1] then return cur end\n"
    "redis.call('HSET', KEYS[1], 'node', ARGV[1])\n"
    "return ''\n";

static void on_room_claimed(st_redis_t *rd, const redisReply *reply, void *user) {
    (void)rd;
    room_ref_t *rc = user; /* the worker index and the room name */
    sfu_worker_t *w = rc->w;
    sfu_room_t *r = w->closing ? NULL : find_room(w, rc->room);
    if (r && reply && reply->type == REDIS_REPLY_STRING) {
        if (reply->str[0]) {
            RTC_LOGW("sfu", "worker %u: room %s was moved to %s while Redis was out of reach; "
                     "dropping it here", w->index, rc->room, reply->str);
            drop_room(w, r);
        } else {
            env_save_room(w, r);
            for (size_t k = 0; k < sfu_room_participant_count(r); k++)
                env_save_participant(w, r, sfu_room_participant(r, k));
            reconcile_room(w, r);
        }
    }
    free(rc);
}

/* Everything this worker owns, written again (after a reconnect). */
static void resync(sfu_worker_t *w) {
    for (size_t i = 0; i < w->n_rooms; i++) {
        sfu_room_t *r = w->rooms[i];
        room_ref_t *rc = calloc(1, sizeof *rc);
        if (!rc) continue;
        rc->w = w;
        rc->worker = w->index;
        snprintf(rc->room, sizeof rc->room, "%s", sfu_room_name(r));
        char rkey[256], pkey[280];
        room_keys(w, sfu_room_name(r), rkey, sizeof rkey, pkey, sizeof pkey);
        const char *argv[] = {"EVAL", claim_script, "1", rkey, w->node_id};
        if (!w->redis || st_redis_command_argv(w->redis, on_room_claimed, rc, 5, argv, NULL) != RTC_OK)
            free(rc);
    }
    if (w->n_rooms) RTC_LOGI("sfu", "worker %u: re-registering %zu rooms in Redis", w->index, w->n_rooms);
}

static void on_redis_connect(st_redis_t *r, void *user) {
    (void)r;
    sfu_worker_t *w = user;
    w->redis_up_since = rtc_clock_now();
    w->n_missing = 0; /* start over: Redis may have restarted empty */
    resync(w);
    /* Then what clients were sent while Redis was away (offers, answers, events), in order. */
    st_redis_outbox_flush(w->outbox);
    count_publishes(w);
}

static void on_redis_disconnect(st_redis_t *r, void *user) {
    (void)r;
    ((sfu_worker_t *)user)->redis_up_since = 0;
}

/* ------------------------------------------------------------------------------------------
 * Rooms.
 */
static sfu_room_t *find_room(sfu_worker_t *w, const char *name) {
    for (size_t i = 0; i < w->n_rooms; i++)
        if (!strcmp(sfu_room_name(w->rooms[i]), name)) return w->rooms[i];
    return NULL;
}

static void drop_room(sfu_worker_t *w, sfu_room_t *r) {
    sfu_room_stats_t st;
    sfu_room_stats(r, &st);
    w->gone.rtp_in += st.rtp_in;
    w->gone.rtp_out += st.rtp_out;
    w->gone.keyframe_requests += st.keyframe_requests;
    w->gone.data_relayed += st.data_relayed;
    for (size_t i = 0; i < w->n_rooms; i++) {
        if (w->rooms[i] == r) {
            w->rooms[i] = w->rooms[--w->n_rooms];
            break;
        }
    }
    atomic_store(&w->n_rooms_atomic, (int)w->n_rooms);
    /* Participants still inside (a move away, shutdown) leave the load without messages. */
    int np = (int)sfu_room_participant_count(r), nt = (int)sfu_room_track_count(r);
    atomic_fetch_sub(&w->participants, np);
    atomic_fetch_sub(&w->tracks, nt);
    sfu_room_free(r);
}

static sfu_room_t *create_room(sfu_worker_t *w, const char *name) {
    if (w->n_rooms == w->cap_rooms) {
        size_t cap = w->cap_rooms ? w->cap_rooms * 2 : 16;
        sfu_room_t **a = realloc(w->rooms, cap * sizeof *a);
        if (!a) return NULL;
        w->rooms = a;
        w->cap_rooms = cap;
    }
    sfu_room_env_t env = {env_send, env_save_participant, env_delete_participant, env_save_room,
                          env_load, w->media, w->media_user};
    sfu_room_t *r = sfu_room_new(name, &w->room_cfg, &env, w);
    if (!r) return NULL;
    w->rooms[w->n_rooms++] = r;
    atomic_store(&w->n_rooms_atomic, (int)w->n_rooms);
    RTC_LOGI("sfu", "worker %u: room %s created (sid %s)", w->index, name, sfu_room_sid(r));
    return r;
}

/* An error for a command no room can answer (no such room, or refused before one exists). */
static void direct_error(sfu_worker_t *w, const sfu_bus_msg_t *m, const char *code, const char *text) {
    if (!*m->signal) {
        RTC_LOGW("sfu", "worker %u: %s for '%s' in room '%s' cannot be routed: %s", w->index, code,
                 m->type_name, m->room, text);
        return;
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", text);
    if (m->rid) cJSON_AddStringToObject(e, "rid", m->rid);
    publish(w, m->signal, sfu_bus_envelope("error", m->room, m->participant, m->signal, e));
}

static void handle_bus(sfu_worker_t *w, item_t *it) {
    sfu_bus_msg_t *m = &it->msg;
    rtc_time_t now = rtc_clock_now();
    atomic_fetch_add(&w->commands, 1);
    sfu_room_t *r = *m->room ? find_room(w, m->room) : NULL;
    if (it->bad) {
        if (r) sfu_room_send_error(r, m, "bad_request", it->why);
        else direct_error(w, m, "bad_request", it->why);
        return;
    }
    if (m->type == SFU_BUS_UNKNOWN) {
        char text[96];
        snprintf(text, sizeof text, "unknown type '%.40s'", m->type_name);
        if (r) sfu_room_send_error(r, m, "unknown_type", text);
        else direct_error(w, m, "unknown_type", text);
        return;
    }
    if (!r) {
        if (m->type == SFU_BUS_CLOSE_ROOM) return;
        if (m->type != SFU_BUS_JOIN) {
            direct_error(w, m, m->type == SFU_BUS_RESUME ? "resume_failed" : "not_joined",
                         "no such room on this node");
            return;
        }
        if (atomic_load(&w->draining)) {
            direct_error(w, m, "unavailable", "this SFU node is draining");
            return;
        }
        r = create_room(w, m->room);
        if (!r) {
            direct_error(w, m, "internal", "cannot create the room");
            return;
        }
    }
    sfu_room_handle_bus(r, m, now);
    if (sfu_room_participant_count(r) == 0) drop_room(w, r);
}

static void handle_event(sfu_worker_t *w, const sfu_event_t *ev) {
    sfu_room_t *r = ev->room[0] ? find_room(w, ev->room) : NULL;
    if (!r) return;
    if (ev->type == SFU_EVENT_ROOM_CLOSED) {
        RTC_LOGI("sfu", "worker %u: room %s closed by the cluster", w->index, ev->room);
        sfu_room_close(r, "room_closed", rtc_clock_now());
        drop_room(w, r);
    } else if (ev->type == SFU_EVENT_ROOM_MOVED && strcmp(ev->to, w->node_id) != 0) {
        /* Signal moved the room away (we were thought dead); its participants were told to
         * reconnect to the new node. What is left here is stale. */
        RTC_LOGW("sfu", "worker %u: room %s moved to %s; dropping it here", w->index, ev->room, ev->to);
        drop_room(w, r);
    }
}

/* ------------------------------------------------------------------------------------------
 * Participant keys: a participant whose `starling:participant:{pid}` stayed missing for 5 s
 * lost its signal process for good (docs/redis.md) and is removed as disconnected.
 */
typedef struct {
    sfu_worker_t *w;
    char room[SFU_ROOM_NAME_MAX + 1];
    char pid[SFU_ID_MAX + 1];
} key_check_t;

static missing_t *find_missing(sfu_worker_t *w, const char *pid) {
    for (size_t i = 0; i < w->n_missing; i++)
        if (!strcmp(w->missing[i].pid, pid)) return &w->missing[i];
    return NULL;
}

static void forget_missing(sfu_worker_t *w, const char *pid) {
    missing_t *m = find_missing(w, pid);
    if (m) *m = w->missing[--w->n_missing];
}

static void on_key_exists(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    key_check_t *kc = user;
    sfu_worker_t *w = kc->w;
    if (!w->closing && reply && reply->type == REDIS_REPLY_INTEGER && w->redis_up_since) {
        sfu_room_t *room = find_room(w, kc->room);
        sfu_participant_t *p = room ? sfu_room_find(room, kc->pid) : NULL;
        rtc_time_t now = rtc_clock_now();
        if (!p || reply->integer == 1) {
            forget_missing(w, kc->pid);
        } else if (now - w->redis_up_since >= KEY_GRACE_US) {
            missing_t *m = find_missing(w, kc->pid);
            if (!m && w->n_missing < w->cap_missing) {
                m = &w->missing[w->n_missing++];
                snprintf(m->pid, sizeof m->pid, "%s", kc->pid);
                m->since = now;
            }
            if (m && now - m->since >= KEY_MISSING_US) {
                RTC_LOGI("sfu", "worker %u: %s in %s has no participant key for %lld ms: disconnected",
                         w->index, kc->pid, kc->room, (long long)((now - m->since) / 1000));
                forget_missing(w, kc->pid);
                sfu_room_participant_disconnected(room, p, now);
                if (sfu_room_participant_count(room) == 0) drop_room(w, room);
            }
        }
    }
    free(kc);
}

static void on_key_check(uv_timer_t *t) {
    sfu_worker_t *w = t->data;
    if (!w->redis_up_since || !w->redis) return;
    if (++w->key_checks % RECONCILE_EVERY == 0)
        for (size_t i = 0; i < w->n_rooms; i++) reconcile_room(w, w->rooms[i]);
    size_t total = 0;
    for (size_t i = 0; i < w->n_rooms; i++) total += sfu_room_participant_count(w->rooms[i]);
    if (total > w->cap_missing) {
        missing_t *a = realloc(w->missing, total * sizeof *a);
        if (!a) return;
        w->missing = a;
        w->cap_missing = total;
    }
    for (size_t i = 0; i < w->n_rooms; i++) {
        sfu_room_t *r = w->rooms[i];
        for (size_t k = 0; k < sfu_room_participant_count(r); k++) {
            sfu_participant_t *p = sfu_room_participant(r, k);
            key_check_t *kc = calloc(1, sizeof *kc);
            if (!kc) return;
            kc->w = w;
            snprintf(kc->room, sizeof kc->room, "%s", sfu_room_name(r));
            snprintf(kc->pid, sizeof kc->pid, "%s", sfu_participant_id(p));
            char key[256];
            snprintf(key, sizeof key, "%sparticipant:%s", w->prefix, kc->pid);
            if (st_redis_command(w->redis, on_key_exists, kc, "EXISTS", key, NULL) != RTC_OK) free(kc);
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Loop.
 */
static void on_close_free(uv_handle_t *h) { (void)h; }

static void finish(sfu_worker_t *w) {
    if (w->closing) return;
    w->closing = true;
    st_redis_free(w->redis);
    w->redis = NULL;
    st_redis_outbox_free(w->outbox);
    w->outbox = NULL;
    uv_close((uv_handle_t *)&w->key_check, on_close_free);
    uv_close((uv_handle_t *)&w->async, on_close_free);
    uv_close((uv_handle_t *)&w->tick, on_close_free);
    uv_close((uv_handle_t *)&w->stop_timer, on_close_free);
}

static void on_flushed(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    (void)reply;
    finish(user);
}

static void on_stop_timeout(uv_timer_t *t) { finish(t->data); }

static void begin_stop(sfu_worker_t *w) {
    uv_timer_stop(&w->tick);
    uv_timer_stop(&w->key_check);
    while (w->n_rooms) drop_room(w, w->rooms[w->n_rooms - 1]);
    if (w->media_free && w->media_user) w->media_free(w->media_user);
    w->media_user = NULL;
    /* Redis answers in order: the PING's reply means everything before it was done. */
    if (w->redis && st_redis_command(w->redis, on_flushed, w, "PING", NULL) == RTC_OK) {
        uv_timer_start(&w->stop_timer, on_stop_timeout, 1000, 0);
        return;
    }
    finish(w);
}

static void on_async(uv_async_t *a) {
    sfu_worker_t *w = a->data;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        item_t *it = w->head;
        if (it) {
            w->head = it->next;
            if (!w->head) w->tail = NULL;
        }
        bool stop = w->stop && !it;
        pthread_mutex_unlock(&w->mu);
        if (!it) {
            if (stop && !w->closing && !uv_is_active((uv_handle_t *)&w->stop_timer)) begin_stop(w);
            return;
        }
        if (!w->closing) {
            if (it->kind == IT_BUS) handle_bus(w, it);
            else handle_event(w, &it->ev);
        }
        sfu_bus_msg_free(&it->msg);
        free(it);
    }
}

static void on_tick(uv_timer_t *t) {
    sfu_worker_t *w = t->data;
    rtc_time_t now = rtc_clock_now();
    for (size_t i = 0; i < w->n_rooms; i++)
        if (sfu_room_next_timeout(w->rooms[i]) <= now) sfu_room_handle_timeout(w->rooms[i], now);
    /* Rooms emptied by media events (a participant's connection failed) rather than by a
     * command: gone now. drop_room moves the last room into the freed slot. */
    for (size_t i = w->n_rooms; i-- > 0;)
        if (sfu_room_participant_count(w->rooms[i]) == 0) drop_room(w, w->rooms[i]);
    /* Counters for /metrics, published for the main thread. */
    sfu_room_stats_t sum = w->gone;
    for (size_t i = 0; i < w->n_rooms; i++) {
        sfu_room_stats_t st;
        sfu_room_stats(w->rooms[i], &st);
        sum.rtp_in += st.rtp_in;
        sum.rtp_out += st.rtp_out;
        sum.keyframe_requests += st.keyframe_requests;
        sum.data_relayed += st.data_relayed;
    }
    atomic_store(&w->rtp_in, sum.rtp_in);
    atomic_store(&w->rtp_out, sum.rtp_out);
    atomic_store(&w->keyframe_requests, sum.keyframe_requests);
    atomic_store(&w->data_relayed, sum.data_relayed);
}

static void *thread_main(void *arg) {
    sfu_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "sfu-w%u", w->index);
    pthread_setname_np(pthread_self(), name);
    if (w->media_new) {
        w->media_user = w->media_new(&w->loop, w->index, w->udp_port, w->media_arg);
        if (!w->media_user) {
            RTC_LOGE("sfu", "worker %u: no media engine: offers will be answered 'unavailable'", w->index);
            w->media = NULL;
        }
    }
    w->redis_opts.on_connect = on_redis_connect;
    w->redis_opts.on_disconnect = on_redis_disconnect;
    w->redis_opts.user = w;
    w->redis_opts.subscriber = false;
    w->redis = st_redis_new(&w->loop, &w->redis_opts);
    if (!w->redis) RTC_LOGE("sfu", "worker %u: cannot create its Redis client", w->index);
    st_redis_outbox_options_t oo = {.name = w->redis_name};
    if (w->redis) w->outbox = st_redis_outbox_new(w->redis, &oo);
    uv_timer_start(&w->tick, on_tick, 20, 20);
    uv_timer_start(&w->key_check, on_key_check, KEY_CHECK_MS, KEY_CHECK_MS);
    /* Items posted before the loop ran. */
    uv_async_send(&w->async);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

sfu_worker_t *sfu_worker_start(const sfu_worker_config_t *cfg) {
    sfu_worker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->index = cfg->index;
    w->node_id = strdup(cfg->node_id);
    w->prefix = strdup(cfg->prefix);
    char rn[32];
    snprintf(rn, sizeof rn, "redis-w%u", cfg->index);
    w->redis_name = strdup(rn);
    w->redis_host = dup_or_null(cfg->redis.host);
    w->redis_user = dup_or_null(cfg->redis.username);
    w->redis_pass = dup_or_null(cfg->redis.password);
    w->redis_opts = cfg->redis;
    w->redis_opts.name = w->redis_name;
    w->redis_opts.host = w->redis_host;
    w->redis_opts.username = w->redis_user;
    w->redis_opts.password = w->redis_pass;
    w->room_cfg = cfg->room;
    w->room_ttl_ms = cfg->room_ttl_ms > 0 ? cfg->room_ttl_ms : 60000;
    w->udp_port = cfg->udp_port;
    w->media = cfg->media;
    w->media_new = cfg->media_new;
    w->media_free = cfg->media_free;
    w->media_arg = cfg->media_arg;
    pthread_mutex_init(&w->mu, NULL);
    if (uv_loop_init(&w->loop) != 0) goto fail;
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->stop_timer);
    w->stop_timer.data = w;
    uv_timer_init(&w->loop, &w->key_check);
    w->key_check.data = w;
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        RTC_LOGE("sfu", "worker %u: cannot start its thread", cfg->index);
        uv_close((uv_handle_t *)&w->async, NULL);
        uv_close((uv_handle_t *)&w->tick, NULL);
        uv_close((uv_handle_t *)&w->stop_timer, NULL);
        uv_close((uv_handle_t *)&w->key_check, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        goto fail;
    }
    return w;
fail:
    free(w->node_id);
    free(w->prefix);
    free(w->redis_name);
    free(w->redis_host);
    free(w->redis_user);
    free(w->redis_pass);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
}

static void post(sfu_worker_t *w, item_t *it) {
    pthread_mutex_lock(&w->mu);
    if (w->tail) w->tail->next = it;
    else w->head = it;
    w->tail = it;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

void sfu_worker_post_bus(sfu_worker_t *w, sfu_bus_msg_t *msg, const char *why) {
    item_t *it = calloc(1, sizeof *it);
    if (!it) {
        sfu_bus_msg_free(msg);
        return;
    }
    it->kind = IT_BUS;
    it->msg = *msg;
    memset(msg, 0, sizeof *msg);
    if (why) {
        it->bad = true;
        snprintf(it->why, sizeof it->why, "%s", why);
    }
    post(w, it);
}

void sfu_worker_post_event(sfu_worker_t *w, const sfu_event_t *ev) {
    item_t *it = calloc(1, sizeof *it);
    if (!it) return;
    it->kind = IT_EVENT;
    it->ev = *ev;
    post(w, it);
}

void sfu_worker_set_draining(sfu_worker_t *w, bool draining) { atomic_store(&w->draining, draining); }

void sfu_worker_load(const sfu_worker_t *w, sfu_worker_load_t *out) {
    sfu_worker_t *m = (sfu_worker_t *)w;
    out->participants = atomic_load(&m->participants);
    out->tracks = atomic_load(&m->tracks);
    out->rooms = atomic_load(&m->n_rooms_atomic);
    out->commands = atomic_load(&m->commands);
    out->publishes = atomic_load(&m->publishes);
    out->publish_dropped = atomic_load(&m->publish_dropped);
    out->rtp_in = atomic_load(&m->rtp_in);
    out->rtp_out = atomic_load(&m->rtp_out);
    out->keyframe_requests = atomic_load(&m->keyframe_requests);
    out->data_relayed = atomic_load(&m->data_relayed);
}

void sfu_worker_stop(sfu_worker_t *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    pthread_join(w->thread, NULL);
    /* Items that arrived after the stop. */
    for (item_t *it = w->head, *next; it; it = next) {
        next = it->next;
        sfu_bus_msg_free(&it->msg);
        free(it);
    }
    uv_loop_close(&w->loop);
    pthread_mutex_destroy(&w->mu);
    free(w->rooms);
    free(w->missing);
    free(w->node_id);
    free(w->prefix);
    free(w->redis_name);
    free(w->redis_host);
    free(w->redis_user);
    free(w->redis_pass);
    free(w);
}
