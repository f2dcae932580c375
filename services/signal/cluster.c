/* Everything signal does through Redis: the bus to SFU nodes, placement and failover, the
 * participant keys that make resume work across signal processes, heartbeats, TURN secrets.
 * docs/redis.md is the contract; this file is its signal half. */
#include "signal/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define SIGNAL_KEY_TTL_S 10
/* After a Redis (re)connect, how long a missing node key is not taken for a dead node. */
#define NODE_GRACE_MS 5000

static int64_t unix_now(void) { return (int64_t)time(NULL); }

static int participant_ttl_s(const signal_server_t *srv) {
    return (int)(srv->cfg->resume_grace_ms / 1000) + 10;
}

bool signal_redis_ready(signal_server_t *srv) {
    return srv->redis && st_redis_is_connected(srv->redis);
}

/* The first NODE_GRACE_MS after (re)connecting to Redis: a missing node key may only mean
 * Redis restarted empty and the node has not re-registered yet. */
static bool in_node_grace(const signal_server_t *srv) {
    return signal_now_ms() - srv->redis_up_since_ms < NODE_GRACE_MS;
}

bool signal_redis_joinable(signal_server_t *srv) {
    return signal_redis_ready(srv) && srv->sub && st_redis_is_connected(srv->sub);
}

static void key(signal_server_t *srv, char *out, const char *kind, const char *id,
                const char *suffix) {
    if (signal_key(out, SIGNAL_KEY_MAX, srv->cfg->redis_prefix, kind, id, suffix) < 0) out[0] = 0;
}

/* ------------------------------------------------------------------------------------------
 * Local rooms.
 */
signal_room_t *signal_room_get(signal_server_t *srv, const char *name, bool create) {
    signal_room_t *r = signal_map_get(&srv->rooms, name);
    if (r || !create) return r;
    r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    if (signal_map_put(&srv->rooms, r->name, r) != RTC_OK) {
        free(r);
        return NULL;
    }
    st_gauge_set(srv->m_rooms, (double)srv->rooms.n);
    return r;
}

/* A snapshot of the local rooms (malloc'd; the caller frees), safe to walk while rooms change. */
static signal_room_t **rooms_snapshot(signal_server_t *srv, size_t *n) {
    *n = 0;
    if (srv->rooms.n == 0) return NULL;
    void **v = malloc(srv->rooms.n * sizeof *v);
    if (!v) return NULL;
    *n = signal_map_values(&srv->rooms, v, srv->rooms.n);
    return (signal_room_t **)v;
}

void signal_room_maybe_free(signal_server_t *srv, signal_room_t *r) {
    if (r->n_members > 0 || r->refs > 0) return;
    if (signal_map_get(&srv->rooms, r->name) == r) signal_map_del(&srv->rooms, r->name);
    free(r);
    st_gauge_set(srv->m_rooms, (double)srv->rooms.n);
}

/* ------------------------------------------------------------------------------------------
 * Publishing.
 */
int signal_bus_send(signal_server_t *srv, const char *node, const char *type, const char *room,
                    const char *pid, cJSON *payload, st_redis_reply_fn fn, void *user) {
    char chan[SIGNAL_KEY_MAX];
    key(srv, chan, "sfu:", node, NULL);
    cJSON *o = cJSON_CreateObject();
    if (!o || !chan[0] || !node || !node[0]) {
        cJSON_Delete(o);
        cJSON_Delete(payload);
        return RTC_ERR_INVALID_ARG;
    }
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "room", room ? room : "");
    cJSON_AddStringToObject(o, "participant", pid ? pid : "");
    cJSON_AddStringToObject(o, "signal", srv->id);
    cJSON_AddItemToObject(o, "payload", payload ? payload : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return RTC_ERR_NOMEM;
    int rc = signal_redis_ready(srv)
                 ? st_redis_command(srv->redis, fn, user, "PUBLISH", chan, text, NULL)
                 : RTC_ERR_CLOSED;
    cJSON_free(text);
    if (rc == RTC_OK) st_counter_inc(srv->m_bus_out);
    return rc;
}

void signal_event_publish(signal_server_t *srv, cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return;
    if (signal_redis_ready(srv) &&
        st_redis_command(srv->redis, NULL, NULL, "PUBLISH", srv->chan_events, text, NULL) == RTC_OK)
        st_counter_inc(srv->m_bus_out);
    cJSON_free(text);
}

static cJSON *join_payload(signal_session_t *s, bool rejoin) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "identity", s->identity);
    cJSON_AddStringToObject(p, "name", s->name);
    cJSON_AddItemToObject(p, "grants", signal_grants_json(s->grants));
    cJSON_AddStringToObject(p, "signal", s->srv->id);
    if (rejoin) cJSON_AddBoolToObject(p, "rejoin", true);
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Participant keys.
 */
/* A participant's key and its TTL in seconds, the two arguments the register, refresh and
 * claim scripts all start with. */
typedef struct {
    char key[SIGNAL_KEY_MAX];
    char ttl[16];
} participant_key_t;

static void participant_key(signal_server_t *srv, const char *pid, participant_key_t *pk) {
    key(srv, pk->key, "participant:", pid, NULL);
    snprintf(pk->ttl, sizeof pk->ttl, "%d", participant_ttl_s(srv));
}

void signal_cluster_register_participant(signal_session_t *s) {
    signal_server_t *srv = s->srv;
    if (!signal_redis_ready(srv)) return;
    participant_key_t pk;
    participant_key(srv, s->pid, &pk);
    cJSON *g = signal_grants_json(s->grants);
    char *grants = cJSON_PrintUnformatted(g);
    cJSON_Delete(g);
    const char *args[] = {pk.key,   pk.ttl,     "room",   s->room,         "identity",
                          s->identity, "name",  s->name,  "grants",        grants ? grants : "{}",
                          "signal", srv->id,    "session_token_hash", s->token_hash};
    signal_eval(srv->redis, &signal_script_register, NULL, NULL, 1,
                (int)(sizeof args / sizeof args[0]) - 1, args);
    cJSON_free(grants);
}

static void on_refresh(st_redis_t *r, const redisReply *reply, void *user) {
    signal_session_t *s = user;
    (void)r;
    if (s->wsi && s->state == SESS_JOINED && reply && reply->type == REDIS_REPLY_INTEGER) {
        if (reply->integer == -1) {
            /* Redis lost the key (restarted empty, or flushed): write it again. */
            signal_cluster_register_participant(s);
        } else if (reply->integer == 0) {
            /* The participant was resumed through another connection: this one is stale. */
            st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_S("participant", s->pid)),
                      "participant resumed elsewhere; closing the stale socket");
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", "left");
            cJSON_AddStringToObject(o, "reason", "replaced");
            signal_session_send_json(s, o);
            cJSON_Delete(o);
            s->no_grace = true;
            signal_session_close(s, LWS_CLOSE_STATUS_NORMAL, "replaced");
        }
    }
    signal_session_unref(s);
}

void signal_cluster_refresh_participant(signal_session_t *s) {
    signal_server_t *srv = s->srv;
    if (!signal_redis_ready(srv)) return;
    participant_key_t pk;
    participant_key(srv, s->pid, &pk);
    const char *args[] = {pk.key, srv->id, pk.ttl};
    signal_session_ref(s);
    if (signal_eval(srv->redis, &signal_script_refresh, on_refresh, s, 1, 2, args) != RTC_OK)
        signal_session_unref(s);
}

void signal_cluster_delete_participant(signal_server_t *srv, const char *pid) {
    if (!signal_redis_ready(srv)) return;
    char k[SIGNAL_KEY_MAX];
    key(srv, k, "participant:", pid, NULL);
    st_redis_command(srv->redis, NULL, NULL, "DEL", k, NULL);
}

/* ------------------------------------------------------------------------------------------
 * Orphans: participants whose socket dropped, waiting resume_grace.
 */
void signal_cluster_add_orphan(signal_server_t *srv, signal_session_t *s) {
    if (srv->freeing) return;
    signal_orphan_t *o = calloc(1, sizeof *o);
    if (!o) return;
    snprintf(o->pid, sizeof o->pid, "%s", s->pid);
    snprintf(o->room, sizeof o->room, "%s", s->room);
    o->deadline_ms = signal_now_ms() + srv->cfg->resume_grace_ms;
    o->next = srv->orphans;
    srv->orphans = o;
}

void signal_cluster_forget_orphan(signal_server_t *srv, const char *pid) {
    for (signal_orphan_t **pp = &srv->orphans; *pp;) {
        if (strcmp((*pp)->pid, pid) == 0) {
            signal_orphan_t *o = *pp;
            *pp = o->next;
            free(o);
        } else {
            pp = &(*pp)->next;
        }
    }
}

typedef struct {
    signal_server_t *srv;
    char pid[SIGNAL_ID_MAX + 1];
    char room[SIGNAL_ROOM_MAX + 1];
} release_ctx_t;

static void on_release(st_redis_t *r, const redisReply *reply, void *user) {
    release_ctx_t *c = user;
    (void)r;
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len > 0 && !c->srv->freeing) {
        /* Still ours and now deleted: tell the node the participant is gone. */
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "reason", "disconnected");
        signal_bus_send(c->srv, reply->str, "leave", c->room, c->pid, p, NULL, NULL);
        st_log_kv(RTC_LOG_INFO, SIGNAL_LOG,
                  ST_KVS(ST_KV_S("room", c->room), ST_KV_S("participant", c->pid)),
                  "resume grace over: participant released");
    }
    free(c);
}

static void orphans_tick(signal_server_t *srv, int64_t now) {
    if (!signal_redis_ready(srv)) return; /* keep them until Redis is back */
    for (signal_orphan_t **pp = &srv->orphans; *pp;) {
        signal_orphan_t *o = *pp;
        if (now < o->deadline_ms) {
            pp = &o->next;
            continue;
        }
        release_ctx_t *c = calloc(1, sizeof *c);
        if (c) {
            c->srv = srv;
            snprintf(c->pid, sizeof c->pid, "%s", o->pid);
            snprintf(c->room, sizeof c->room, "%s", o->room);
            char pk[SIGNAL_KEY_MAX], rk[SIGNAL_KEY_MAX];
            key(srv, pk, "participant:", o->pid, NULL);
            key(srv, rk, "room:", o->room, NULL);
            const char *args[] = {pk, rk, srv->id};
            if (signal_eval(srv->redis, &signal_script_release, on_release, c, 2, 1, args) != RTC_OK)
                free(c);
        }
        *pp = o->next;
        free(o);
    }
}

/* ------------------------------------------------------------------------------------------
 * Joining: placement, then join (new) or resume (existing participant) on the node.
 */
static void room_apply_move(signal_server_t *srv, signal_room_t *r, const char *node,
                            const char *reason);

/* A reply for a joining session can arrive after its socket closed or after it stopped
 * joining: then all that is left is to drop the reference taken for the command. */
static bool still_joining(signal_session_t *s) {
    if (s->wsi && s->state == SESS_JOINING) return true;
    signal_session_unref(s);
    return false;
}

/* A join that Redis (or a node reached through it) cannot serve ends in `unavailable` and
 * close 1013: the client retries with backoff (docs/redis.md, Faults). */
static void join_unavailable(signal_session_t *s, const char *msg) {
    signal_session_fail(s, SIGNAL_E_UNAVAILABLE, msg, s->join_rid[0] ? s->join_rid : NULL,
                        SIGNAL_CLOSE_TRY_AGAIN_LATER);
}

static void on_join_published(st_redis_t *rd, const redisReply *reply, void *user) {
    signal_session_t *s = user;
    (void)rd;
    if (s->wsi && s->state == SESS_JOINING && reply && reply->type == REDIS_REPLY_INTEGER &&
        reply->integer == 0) {
        /* Nobody subscribed on the node's channel: the node is gone (its key will expire). */
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_S("node", s->node)),
                  "SFU node is not listening on its channel");
        join_unavailable(s, "the media server is not reachable; retry");
    }
    signal_session_unref(s);
}

static void on_session_placed(st_redis_t *rd, const redisReply *reply, void *user) {
    signal_session_t *s = user;
    signal_server_t *srv = s->srv;
    (void)rd;
    if (!still_joining(s)) return;
    signal_place_result_t res;
    if (!reply || signal_place_parse(reply, &res) != RTC_OK) {
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
                  ST_KVS(ST_KV_S("room", s->room),
                         ST_KV_S("redis", reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply")),
                  "placement failed");
        join_unavailable(s, "room service temporarily unavailable");
        signal_session_unref(s);
        return;
    }
    if (res.status == SIGNAL_PLACE_FULL) {
        signal_session_fail(s, SIGNAL_E_ROOM_FULL, "the room is full",
                            s->join_rid[0] ? s->join_rid : NULL, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        signal_session_unref(s);
        return;
    }
    if (!signal_redis_joinable(srv)) {
        /* The pub/sub connection dropped while placing: the node's answer would be lost. */
        join_unavailable(s, "room service temporarily unavailable (Redis)");
        signal_session_unref(s);
        return;
    }
    if (res.status == SIGNAL_PLACE_NONE) {
        join_unavailable(s, "no media server is available; retry later");
        signal_session_unref(s);
        return;
    }
    signal_room_t *lr = signal_room_get(srv, s->room, false);
    if (lr && lr->n_members > 0 && strcmp(lr->node, res.node) != 0) {
        /* Our other members of this room are on a node the room has left. */
        room_apply_move(srv, lr, res.node, "node_failed");
    }
    if (res.status == SIGNAL_PLACE_MOVED) {
        st_counter_inc(srv->m_moved);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "room_moved");
        cJSON_AddStringToObject(e, "room", s->room);
        cJSON_AddStringToObject(e, "to", res.node);
        signal_event_publish(srv, e);
    }
    signal_session_attach_room(s, res.node, res.sid);
    if (!s->resuming) signal_cluster_register_participant(s);
    signal_session_ref(s);
    if (signal_bus_send(srv, s->node, s->resuming ? "resume" : "join", s->room, s->pid,
                        join_payload(s, false), on_join_published, s) != RTC_OK) {
        signal_session_unref(s);
        join_unavailable(s, "room service temporarily unavailable");
    }
    signal_session_unref(s);
}

static int place(signal_server_t *srv, const char *room, const char *from, const char *prefer,
                 int64_t max_participants, st_redis_reply_fn fn, void *user) {
    char sid[24];
    uint8_t r[8];
    rtc_random_bytes(r, sizeof r);
    memcpy(sid, "RM_", 3);
    rtc_hex_encode(r, sizeof r, 0, false, sid + 3, sizeof sid - 3);
    signal_place_req_t req = {srv->cfg->redis_prefix, room, from, prefer, sid, unix_now(),
                              max_participants};
    signal_place_argv_t a;
    int rc = signal_place_argv(&req, &a);
    if (rc != RTC_OK) return rc;
    return signal_eval(srv->redis, &signal_script_place, fn, user, 4, 7, a.args);
}

void signal_cluster_place_session(signal_session_t *s) {
    signal_server_t *srv = s->srv;
    signal_session_ref(s);
    int64_t maxp = s->resuming ? 0 : srv->cfg->max_participants;
    /* Members of this room here are on lr->node: a join goes there too. Right after a Redis
     * restart the room hash may be gone (and that node not re-registered yet): the least
     * loaded node would be picked and the room moved away from a healthy node, so during
     * the grace it is that node or 'unavailable' (the client retries). */
    signal_room_t *lr = signal_room_get(srv, s->room, false);
    char prefer[SIGNAL_ID_MAX + 2] = "";
    if (lr && lr->n_members > 0 && lr->node[0])
        snprintf(prefer, sizeof prefer, "%s%s", in_node_grace(srv) ? "!" : "", lr->node);
    if (!signal_redis_ready(srv) ||
        place(srv, s->room, "", prefer, maxp, on_session_placed, s) != RTC_OK) {
        signal_session_unref(s);
        join_unavailable(s, "room service temporarily unavailable");
    }
}

static void resume_refused(signal_session_t *s, const char *why) {
    signal_server_t *srv = s->srv;
    st_counter_inc(srv->m_resume_failed);
    s->state = SESS_OPEN;
    s->resuming = false;
    s->pid[0] = 0;
    s->session_token[0] = 0;
    signal_session_error(s, SIGNAL_E_RESUME_FAILED, why, s->join_rid[0] ? s->join_rid : NULL);
}

static void on_claim(st_redis_t *rd, const redisReply *reply, void *user) {
    signal_session_t *s = user;
    signal_server_t *srv = s->srv;
    (void)rd;
    if (!still_joining(s)) return;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        join_unavailable(s, "room service temporarily unavailable");
        signal_session_unref(s);
        return;
    }
    const char *st = reply->element[0]->str;
    if (strcmp(st, "ok") != 0) {
        resume_refused(s, strcmp(st, "missing") == 0
                              ? "no such participant (expired?); join as a new participant"
                              : "resume credentials do not match this participant");
        signal_session_unref(s);
        return;
    }
    /* It is ours now. A stale socket of the same participant on this process goes away. */
    signal_session_t *old = signal_map_get(&srv->by_pid, s->pid);
    if (old && old != s) {
        old->no_grace = true;
        signal_map_del(&srv->by_pid, s->pid);
        signal_session_close(old, LWS_CLOSE_STATUS_NORMAL, "resumed on another connection");
    }
    signal_cluster_forget_orphan(srv, s->pid);
    s->has_pid = true;
    s->resumed = true;
    signal_map_put(&srv->by_pid, s->pid, s);
    /* The room may have moved while we were away: place again, then resume on its node. */
    signal_cluster_place_session(s);
    signal_session_unref(s);
}

void signal_cluster_claim(signal_session_t *s, const char *resume_token) {
    signal_server_t *srv = s->srv;
    (void)resume_token;
    participant_key_t pk;
    participant_key(srv, s->pid, &pk);
    const char *args[] = {pk.key, srv->id, pk.ttl, s->token_hash, s->room, s->identity};
    signal_session_ref(s);
    if (signal_eval(srv->redis, &signal_script_claim, on_claim, s, 1, 5, args) != RTC_OK) {
        signal_session_unref(s);
        join_unavailable(s, "room service temporarily unavailable");
    }
}

/* ------------------------------------------------------------------------------------------
 * Failover: rooms leaving a dead node.
 */
/* Our members of r join r->node afresh (with `rejoin`: same participant ids) and are told
 * to reconnect, i.e. to negotiate both PeerConnections again: the node they were on is
 * gone (moved away from, or restarted without their state). */
static void room_rejoin(signal_server_t *srv, signal_room_t *r, const char *reason) {
    const char *node = r->node;
    for (signal_session_t *s = r->members; s; s = s->room_next) {
        if (!s->wsi || (s->state != SESS_JOINED && s->state != SESS_JOINING)) continue;
        snprintf(s->node, sizeof s->node, "%s", node);
        signal_bus_send(srv, node, s->state == SESS_JOINED ? "join" : (s->resuming ? "resume" : "join"),
                        s->room, s->pid, join_payload(s, s->state == SESS_JOINED), NULL, NULL);
        if (s->state == SESS_JOINED) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", "reconnect");
            cJSON_AddStringToObject(o, "reason", reason);
            signal_session_send_json(s, o);
            cJSON_Delete(o);
        }
    }
}

static void room_apply_move(signal_server_t *srv, signal_room_t *r, const char *node,
                            const char *reason) {
    if (strcmp(r->node, node) == 0) return;
    st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
              ST_KVS(ST_KV_S("room", r->name), ST_KV_S("from", r->node), ST_KV_S("to", node),
                     ST_KV_I("participants", r->n_members)),
              "room moved to another SFU node: participants rejoin there");
    snprintf(r->node, sizeof r->node, "%s", node);
    r->node_instance[0] = 0; /* learnt at the next poll */
    room_rejoin(srv, r, reason);
}

typedef struct {
    signal_server_t *srv;
    signal_room_t *room;
    char dead[SIGNAL_ID_MAX + 1];
    char reason[32];
    bool reregister;
} failover_ctx_t;

/* A room whose node's key expired with no other node to move to. A node that stalls for
 * longer than its key's TTL (a starved host, a Redis hiccup) is taken for dead although its
 * media keeps flowing; with nowhere to move the room, ending the sessions at once would
 * turn a stall into an outage. So the room waits up to `failover_wait` (the poll retries the
 * placement every heartbeat): the node re-registering keeps everything as it was, another
 * node appearing takes the room over; only after the wait are its sessions ended.
 * Returns true once the wait is over (or there is none). */
static bool room_done_waiting_for_a_node(signal_server_t *srv, signal_room_t *r) {
    int64_t now = signal_now_ms();
    if (!r->no_node_since_ms) {
        r->no_node_since_ms = now;
        if (srv->cfg->failover_wait_ms > 0)
            st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
                      ST_KVS(ST_KV_S("room", r->name), ST_KV_S("node", r->node),
                             ST_KV_I("failover_wait_ms", srv->cfg->failover_wait_ms)),
                      "room's SFU node is not answering and no other node is available: waiting "
                      "for one");
    }
    return now - r->no_node_since_ms >= srv->cfg->failover_wait_ms;
}

/* A placement succeeded: a room that was waiting for a node has one again. */
static void room_has_node_again(signal_room_t *r, const char *node) {
    if (!r->no_node_since_ms) return;
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG,
              ST_KVS(ST_KV_S("room", r->name), ST_KV_S("node", node),
                     ST_KV_I("waited_ms", signal_now_ms() - r->no_node_since_ms)),
              strcmp(node, r->node) == 0 ? "room's SFU node is back: nothing moves"
                                         : "room's SFU node failed: another node takes the room");
    r->no_node_since_ms = 0;
}

static void on_failover_placed(st_redis_t *rd, const redisReply *reply, void *user) {
    failover_ctx_t *c = user;
    signal_server_t *srv = c->srv;
    signal_room_t *r = c->room;
    (void)rd;
    r->refs--;
    r->moving = false;
    signal_place_result_t res;
    if (!srv->freeing && reply && signal_place_parse(reply, &res) == RTC_OK) {
        switch (res.status) {
        case SIGNAL_PLACE_OK:
            if (c->reregister) r->needs_register = false;
            room_has_node_again(r, res.node);
            if (strcmp(res.node, r->node) != 0) room_apply_move(srv, r, res.node, c->reason);
            break;
        case SIGNAL_PLACE_PLACED:
        case SIGNAL_PLACE_MOVED: {
            if (c->reregister) r->needs_register = false;
            room_has_node_again(r, res.node);
            if (strcmp(res.node, r->node) == 0) break; /* re-registered where it was */
            st_counter_inc(srv->m_moved);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "type", "room_moved");
            cJSON_AddStringToObject(e, "room", r->name);
            cJSON_AddStringToObject(e, "from", r->node);
            cJSON_AddStringToObject(e, "to", res.node);
            signal_event_publish(srv, e);
            room_apply_move(srv, r, res.node, c->reason);
            break;
        }
        case SIGNAL_PLACE_NONE:
            if (c->reregister) break; /* the nodes may not have re-registered yet: retry */
            if (!room_done_waiting_for_a_node(srv, r)) break;
            st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
                      ST_KVS(ST_KV_S("room", r->name), ST_KV_S("node", r->node),
                             ST_KV_I("waited_ms", signal_now_ms() - r->no_node_since_ms)),
                      "room's SFU node failed and no other node is available: ending its sessions");
            r->no_node_since_ms = 0;
            for (signal_session_t *s = r->members; s; s = s->room_next) {
                if (!s->wsi || s->state == SESS_CLOSING) continue;
                signal_session_end(s);
                signal_session_fail(s, SIGNAL_E_UNAVAILABLE,
                                    "the media server failed and no other is available", NULL,
                                    SIGNAL_CLOSE_TRY_AGAIN_LATER);
            }
            break;
        case SIGNAL_PLACE_FULL: break;
        }
    }
    signal_room_maybe_free(srv, r);
    free(c);
}

static void room_place_again(signal_server_t *srv, signal_room_t *r, const char *dead,
                             const char *reason, bool reregister) {
    if (r->moving || !signal_redis_ready(srv)) return;
    failover_ctx_t *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = srv;
    c->room = r;
    c->reregister = reregister;
    snprintf(c->dead, sizeof c->dead, "%s", dead ? dead : "");
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    r->refs++;
    r->moving = true;
    /* Re-registering right after a Redis (re)connect: the node may not have re-registered
     * yet; placing elsewhere then would move a healthy room. Only its own node will do
     * until the grace is over (NONE: tried again at the next heartbeat). */
    char prefer[SIGNAL_ID_MAX + 2] = "";
    if (reregister) snprintf(prefer, sizeof prefer, "%s%s", in_node_grace(srv) ? "!" : "", r->node);
    if (place(srv, r->name, c->dead, prefer, 0, on_failover_placed, c) != RTC_OK) {
        r->refs--;
        r->moving = false;
        free(c);
    }
}

void signal_room_failover(signal_server_t *srv, signal_room_t *r, const char *dead,
                          const char *reason) {
    room_place_again(srv, r, dead, reason, false);
}

void signal_room_close_local(signal_server_t *srv, const char *room, const char *reason) {
    signal_room_t *r = signal_room_get(srv, room, false);
    if (!r) return;
    for (signal_session_t *s = r->members; s; s = s->room_next) {
        if (!s->wsi || s->state == SESS_CLOSING) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "left");
        cJSON_AddStringToObject(o, "reason", reason);
        signal_session_send_json(s, o);
        cJSON_Delete(o);
        signal_session_end(s);
        signal_session_close(s, LWS_CLOSE_STATUS_NORMAL, reason);
    }
}

static void rooms_on_node(signal_server_t *srv, const char *node, const char *reason) {
    size_t n;
    signal_room_t **rooms = rooms_snapshot(srv, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rooms[i]->node, node) == 0) signal_room_failover(srv, rooms[i], node, reason);
    free(rooms);
}

/* ------------------------------------------------------------------------------------------
 * Messages from SFU nodes and cluster events.
 */
/* {"type": type, ...payload} to the client. */
static void forward(signal_session_t *s, const char *type, const cJSON *payload) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    const cJSON *it;
    if (cJSON_IsObject(payload))
        cJSON_ArrayForEach(it, payload) {
            if (it->string && strcmp(it->string, "type") != 0)
                cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, 1));
        }
    signal_session_send_json(s, o);
    cJSON_Delete(o);
}

static void on_sfu_message(signal_server_t *srv, signal_session_t *s, const char *type,
                           const cJSON *payload) {
    if (strcmp(type, "joined") == 0) {
        if (s->state == SESS_JOINING || s->state == SESS_JOINED) signal_session_send_joined(s, payload);
        return;
    }
    if (strcmp(type, "left") == 0) {
        forward(s, "left", payload);
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(payload, "reason");
        signal_session_end(s);
        signal_session_close(s, LWS_CLOSE_STATUS_NORMAL,
                             cJSON_IsString(reason) ? reason->valuestring : "left");
        return;
    }
    if (strcmp(type, "error") == 0 && s->state == SESS_JOINING) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(payload, "code");
        const char *c = cJSON_IsString(code) ? code->valuestring : "";
        forward(s, "error", payload);
        if (strcmp(c, "resume_failed") == 0) {
            /* The node no longer has the participant: the client may join anew. */
            if (signal_map_get(&srv->by_pid, s->pid) == s) signal_map_del(&srv->by_pid, s->pid);
            signal_cluster_delete_participant(srv, s->pid);
            signal_session_detach_room(s);
            s->has_pid = false;
            s->state = SESS_OPEN;
            s->resuming = s->resumed = false;
            st_counter_inc(srv->m_resume_failed);
        } else {
            signal_session_end(s);
            signal_session_close(s, strcmp(c, "room_full") == 0 ? LWS_CLOSE_STATUS_POLICY_VIOLATION
                                                                : SIGNAL_CLOSE_TRY_AGAIN_LATER,
                                 c);
        }
        return;
    }
    if (s->state != SESS_JOINED) return; /* nothing but joined/error before joined */
    forward(s, type, payload);
}

static bool type_name_ok(const char *t) {
    size_t n = 0;
    for (; t[n]; n++)
        if (n >= 32 || !((t[n] >= 'a' && t[n] <= 'z') || t[n] == '_')) return false;
    return n > 0;
}

/* Both pub/sub channels carry JSON objects. Every message counts as bus input, and none is
 * looked at once the server is being freed. handle gets the parsed root (NULL when the
 * bytes are not JSON) and the message size for its log line; the root is freed after. */
typedef void (*bus_handler_fn)(signal_server_t *srv, const cJSON *root, size_t len);

static void bus_message(signal_server_t *srv, const char *payload, size_t len,
                        bus_handler_fn handle) {
    if (srv->freeing) return;
    st_counter_inc(srv->m_bus_in);
    cJSON *root = cJSON_ParseWithLength(payload, len);
    handle(srv, root, len);
    cJSON_Delete(root);
}

/* starling:to-signal:{id}: a node's message for one of our sockets. */
static void to_signal_message(signal_server_t *srv, const cJSON *root, size_t len) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(root, "participant");
    if (!cJSON_IsObject(root) || !cJSON_IsString(type) || !cJSON_IsString(pid) ||
        !type_name_ok(type->valuestring)) {
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_I("bytes", len)),
                  "ignored a malformed bus message");
        return;
    }
    signal_session_t *s = signal_map_get(&srv->by_pid, pid->valuestring);
    if (s && s->wsi && s->state != SESS_CLOSING)
        on_sfu_message(srv, s, type->valuestring, cJSON_GetObjectItemCaseSensitive(root, "payload"));
}

/* starling:events: cluster events; anything unknown or malformed is ignored quietly. */
static void event_message(signal_server_t *srv, const cJSON *root, size_t len) {
    (void)len;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsString(type)) return;
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
    const cJSON *room = cJSON_GetObjectItemCaseSensitive(root, "room");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(root, "from");
    if (strcmp(type->valuestring, "node_down") == 0 && cJSON_IsString(node)) {
        rooms_on_node(srv, node->valuestring, "node_failed");
    } else if (strcmp(type->valuestring, "room_moved") == 0 && cJSON_IsString(room)) {
        signal_room_t *lr = signal_room_get(srv, room->valuestring, false);
        if (lr && (!cJSON_IsString(from) || strcmp(lr->node, from->valuestring) == 0))
            signal_room_failover(srv, lr, lr->node, "node_failed");
    } else if (strcmp(type->valuestring, "room_closed") == 0 && cJSON_IsString(room)) {
        signal_room_close_local(srv, room->valuestring, "room_closed");
    }
}

static void on_to_signal(st_redis_t *r, const char *channel, const char *payload, size_t len,
                         void *user) {
    (void)r, (void)channel;
    bus_message(user, payload, len, to_signal_message);
}

static void on_event(st_redis_t *r, const char *channel, const char *payload, size_t len,
                     void *user) {
    (void)r, (void)channel;
    bus_message(user, payload, len, event_message);
}

/* ------------------------------------------------------------------------------------------
 * Heartbeats, node checks, TURN secrets.
 */
static void on_turn_secret(st_redis_t *r, const redisReply *reply, void *user) {
    signal_server_t *srv = user;
    (void)r;
    if (srv->freeing || !reply || reply->type != REDIS_REPLY_ARRAY) return;
    char *secret = NULL;
    if (reply->elements >= 1 && reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[0]->len > 0)
        secret = strndup(reply->element[0]->str, reply->element[0]->len);
    else if (srv->cfg->turn_secret && srv->cfg->turn_secret[0])
        secret = strdup(srv->cfg->turn_secret);
    bool from_redis = reply->elements >= 1;
    bool changed = (srv->turn_secret == NULL) != (secret == NULL) ||
                   (secret && strcmp(srv->turn_secret, secret) != 0) || !srv->turn_checked;
    srv->turn_checked = true;
    if (changed)
        st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_B("from_redis", from_redis)),
                  secret ? "TURN REST secret in use" : "no TURN REST secret: TURN URLs omitted");
    free(srv->turn_secret);
    srv->turn_secret = secret;
    srv->turn_secret_from_redis = from_redis;
}

static void fetch_turn_secret(signal_server_t *srv) {
    char k[SIGNAL_KEY_MAX], min[32];
    key(srv, k, "turn:secrets", NULL, NULL);
    snprintf(min, sizeof min, "(%lld", (long long)unix_now());
    /* Unexpired secrets, latest expiry first: that one mints. */
    st_redis_command(srv->redis, on_turn_secret, srv, "ZREVRANGEBYSCORE", k, "+inf", min, "LIMIT",
                     "0", "1", NULL);
}

/* Every local room on `node` is already waiting for a node (failover_wait). */
static bool all_rooms_waiting(signal_server_t *srv, const char *node) {
    size_t n;
    signal_room_t **rooms = rooms_snapshot(srv, &n);
    bool all = true;
    for (size_t i = 0; i < n && all; i++)
        if (strcmp(rooms[i]->node, node) == 0 && !rooms[i]->no_node_since_ms) all = false;
    free(rooms);
    return all;
}

static bool in_list(const redisReply *list, const char *id) {
    for (size_t j = 0; j < list->elements; j++)
        if (list->element[j]->type == REDIS_REPLY_STRING && strcmp(list->element[j]->str, id) == 0)
            return true;
    return false;
}

/* A live node's `instance`: the first one seen is remembered per room; a different one means
 * the node restarted under the same id (a fixed node_id) and has none of our participants:
 * they join it afresh and renegotiate, as after a move. */
static void node_instance_seen(signal_server_t *srv, const char *node, const char *instance) {
    if (!instance[0]) return; /* a node that does not say */
    size_t n;
    signal_room_t **rooms = rooms_snapshot(srv, &n);
    bool said = false;
    for (size_t i = 0; i < n; i++) {
        signal_room_t *r = rooms[i];
        if (strcmp(r->node, node) != 0) continue;
        if (r->node_instance[0] && strcmp(r->node_instance, instance) != 0) {
            if (!said)
                st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_S("node", node)),
                          "SFU node restarted (a new instance under the same id): its rooms' "
                          "participants join it again");
            said = true;
            r->no_node_since_ms = 0;
            room_rejoin(srv, r, "node_failed");
        }
        snprintf(r->node_instance, sizeof r->node_instance, "%s", instance);
    }
    free(rooms);
}

static void on_poll(st_redis_t *r, const redisReply *reply, void *user) {
    signal_server_t *srv = user;
    (void)r;
    if (srv->freeing || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[2]->type != REDIS_REPLY_ARRAY)
        return;
    int live = (int)reply->element[0]->integer;
    if (live != srv->live_nodes) {
        char detail[48];
        snprintf(detail, sizeof detail, "%d live", live);
        st_health_set(srv->health, "sfu_nodes", live > 0, detail);
        st_gauge_set(srv->m_live_nodes, live);
    }
    srv->live_nodes = live;
    /* Right after (re)connecting, a missing node key may only mean that Redis restarted
     * empty and the nodes have not re-registered yet (they do every 2 s): no failover then. */
    if (signal_now_ms() - srv->redis_up_since_ms < NODE_GRACE_MS) return;
    const redisReply *dead = reply->element[1], *alive = reply->element[2];
    for (size_t i = 0; i < dead->elements; i++) {
        const redisReply *e = dead->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        /* Said (and told to the cluster) once per failure: while our rooms wait for a node
         * (failover_wait) the node stays dead at every poll, and the placement is simply
         * tried again. */
        if (!all_rooms_waiting(srv, e->str)) {
            st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_S("node", e->str)),
                      "SFU node heartbeat expired: moving its rooms");
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "type", "node_down");
            cJSON_AddStringToObject(ev, "node", e->str);
            signal_event_publish(srv, ev);
        }
        rooms_on_node(srv, e->str, "node_failed");
    }
    for (size_t i = 0; i + 1 < alive->elements; i += 2)
        if (alive->element[i]->type == REDIS_REPLY_STRING && alive->element[i + 1]->type == REDIS_REPLY_STRING)
            node_instance_seen(srv, alive->element[i]->str, alive->element[i + 1]->str);
    /* Rooms waiting for a node whose node key is back (or was not polled this time): one
     * more placement says which (OK on the same node ends the wait, nothing moves). */
    size_t nr;
    signal_room_t **rooms = rooms_snapshot(srv, &nr);
    for (size_t i = 0; i < nr; i++) {
        signal_room_t *lr = rooms[i];
        if (lr->no_node_since_ms && !in_list(dead, lr->node))
            signal_room_failover(srv, lr, lr->node, "node_failed");
    }
    free(rooms);
}

static void heartbeat(signal_server_t *srv) {
    char k[SIGNAL_KEY_MAX], ttl[16];
    key(srv, k, "signal:", srv->id, NULL);
    snprintf(ttl, sizeof ttl, "%d", SIGNAL_KEY_TTL_S);
    st_redis_command(srv->redis, NULL, NULL, "SET", k, "alive", "EX", ttl, NULL);

    /* Which nodes do our rooms live on? Ask Redis which of them are gone. (Distinct node
     * ids: a few hundred at most in any real deployment; more are checked next time.) */
    const char *args[2 + 256];
    char nodes_key[SIGNAL_KEY_MAX], prefix[SIGNAL_KEY_MAX];
    key(srv, nodes_key, "nodes", NULL, NULL);
    key(srv, prefix, "node:", NULL, NULL);
    args[0] = nodes_key;
    args[1] = prefix;
    int n = 2;
    size_t nr;
    signal_room_t **rooms = rooms_snapshot(srv, &nr);
    for (size_t i = 0; i < nr && n < (int)(sizeof args / sizeof args[0]); i++) {
        signal_room_t *r = rooms[(i + srv->poll_offset) % nr];
        if (!r->node[0]) continue;
        bool dup = false;
        for (int j = 2; j < n; j++) dup |= strcmp(args[j], r->node) == 0;
        if (!dup) args[n++] = r->node;
    }
    srv->poll_offset++;
    signal_eval(srv->redis, &signal_script_poll, on_poll, srv, 1, n - 1, args);

    /* After a reconnect: make sure Redis still places our rooms (Redis may have restarted
     * empty), preferring the node they are on. */
    for (size_t i = 0; i < nr; i++) {
        signal_room_t *r = rooms[i];
        if (r->needs_register && r->n_members > 0) room_place_again(srv, r, "", "node_failed", true);
    }
    free(rooms);
}

/* Pub/sub keeps nothing: what the nodes sent our participants while our subscription was
 * down (a Redis restart: participant_joined/left, track events, an offer) is lost. Once it
 * is back (and the nodes have had time to listen again), each joined participant is sent
 * `resume` to its node, which answers with `joined {resumed}` — who is in the room now, with
 * their tracks — and sends again a subscriber offer that is out (docs/redis.md, Faults).
 * Clients reconcile their list from it (docs/signalling.md). */
static void resync_sessions(signal_server_t *srv) {
    int n = 0;
    for (signal_session_t *s = srv->sessions; s; s = s->next) {
        if (!s->wsi || s->state != SESS_JOINED || !s->node[0]) continue;
        if (signal_bus_send(srv, s->node, "resume", s->room, s->pid, join_payload(s, false), NULL,
                            NULL) == RTC_OK)
            n++;
    }
    if (n)
        st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_I("participants", n)),
                  "pub/sub back: asked the nodes for the room state of our participants");
}

void signal_cluster_tick(signal_server_t *srv, int64_t now) {
    if (srv->freeing) return;
    orphans_tick(srv, now);
    if (!signal_redis_ready(srv)) return;
    if (now - srv->last_heartbeat_ms >= srv->cfg->heartbeat_ms) {
        srv->last_heartbeat_ms = now;
        heartbeat(srv);
    }
    if (now - srv->last_turn_fetch_ms >= srv->cfg->heartbeat_ms) {
        srv->last_turn_fetch_ms = now;
        fetch_turn_secret(srv);
    }
    if (srv->resync_at_ms && now >= srv->resync_at_ms && signal_redis_joinable(srv)) {
        srv->resync_at_ms = 0;
        resync_sessions(srv);
    }
}

/* ------------------------------------------------------------------------------------------
 * Redis clients.
 */
static void update_redis_health(signal_server_t *srv) {
    bool cmd = srv->redis && st_redis_is_connected(srv->redis);
    bool sub = srv->sub && st_redis_is_connected(srv->sub);
    st_health_set(srv->health, "redis", cmd && sub,
                  cmd && sub ? "connected" : !cmd ? "commands: disconnected" : "pubsub: disconnected");
    if (!cmd) {
        st_health_set(srv->health, "sfu_nodes", false, "unknown (Redis down)");
        srv->live_nodes = -1;
    }
}

static void on_connect(st_redis_t *r, void *user) {
    signal_server_t *srv = user;
    if (srv->freeing) return;
    update_redis_health(srv);
    if (r == srv->sub && st_redis_connect_count(r) > 1) srv->resync_at_ms = signal_now_ms() + NODE_GRACE_MS;
    if (r != srv->redis) return;
    st_log_kv(RTC_LOG_INFO, SIGNAL_LOG, ST_KVS(ST_KV_I("connects", st_redis_connect_count(r))),
              "Redis connected: registering this process, its rooms and participants");
    if (srv->cfg->turn_secret && srv->cfg->turn_secret[0]) {
        char k[SIGNAL_KEY_MAX];
        key(srv, k, "turn:secrets", NULL, NULL);
        st_redis_command(r, NULL, NULL, "ZADD", k, "NX", "+inf", srv->cfg->turn_secret, NULL);
    }
    srv->redis_up_since_ms = signal_now_ms();
    fetch_turn_secret(srv);
    srv->last_turn_fetch_ms = signal_now_ms();
    size_t nr;
    signal_room_t **rooms = rooms_snapshot(srv, &nr);
    for (size_t i = 0; i < nr; i++) rooms[i]->needs_register = true;
    free(rooms);
    for (signal_session_t *s = srv->sessions; s; s = s->next) s->last_refresh_ms = 0;
    srv->last_heartbeat_ms = 0;
    heartbeat(srv);
    srv->last_heartbeat_ms = signal_now_ms();
}

static void on_disconnect(st_redis_t *r, void *user) {
    signal_server_t *srv = user;
    if (srv->freeing) return;
    st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_S("client", r == srv->redis ? "commands" : "pubsub")),
              "Redis connection lost: existing sockets stay up, new joins get 'unavailable'");
    update_redis_health(srv);
    if (r != srv->sub) return;
    /* The nodes answer joins on the channel this connection was subscribed to: an answer
     * published while it is down is lost. Joins waiting for one end now (the client retries
     * at once) instead of at join_timeout. */
    for (signal_session_t *s = srv->sessions; s; s = s->next) {
        if (!s->wsi || s->state != SESS_JOINING || !s->node[0]) continue;
        join_unavailable(s, "room service temporarily unavailable (Redis); retry");
    }
}

void signal_cluster_start(signal_server_t *srv) {
    key(srv, srv->chan_self, "to-signal:", srv->id, NULL);
    key(srv, srv->chan_events, "events", NULL, NULL);
    st_redis_options_t o;
    st_redis_options_from_config(&o, &srv->cfg->common);
    o.on_connect = on_connect;
    o.on_disconnect = on_disconnect;
    o.user = srv;
    o.name = "redis";
    srv->redis = st_redis_new(srv->loop, &o);
    o.name = "redis-sub";
    o.subscriber = true;
    srv->sub = st_redis_new(srv->loop, &o);
    if (srv->sub) {
        st_redis_subscribe(srv->sub, srv->chan_self, on_to_signal, srv);
        st_redis_subscribe(srv->sub, srv->chan_events, on_event, srv);
    }
}

void signal_cluster_free(signal_server_t *srv) {
    if (srv->redis) {
        st_redis_t *r = srv->redis;
        srv->redis = NULL;
        st_redis_free(r);
    }
    if (srv->sub) {
        st_redis_t *r = srv->sub;
        srv->sub = NULL;
        st_redis_free(r);
    }
    while (srv->orphans) {
        signal_orphan_t *o = srv->orphans;
        srv->orphans = o->next;
        free(o);
    }
}
