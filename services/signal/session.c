/* One client connection speaking docs/signalling.md: admission of each message (rate, size,
 * validity, state, grants), join and resume, relaying to the SFU node, keepalive. */
#include "signal/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/turn_rest.h"

/* ------------------------------------------------------------------------------------------
 * Local rooms membership.
 */
void signal_session_attach_room(signal_session_t *s, const char *node, const char *sid) {
    signal_server_t *srv = s->srv;
    snprintf(s->node, sizeof s->node, "%s", node);
    if (s->lroom) return;
    signal_room_t *r = signal_room_get(srv, s->room, true);
    if (!r) return;
    if (!r->node[0] || r->n_members == 0) snprintf(r->node, sizeof r->node, "%s", node);
    if (sid && sid[0]) snprintf(r->sid, sizeof r->sid, "%s", sid);
    s->lroom = r;
    s->room_prev = NULL;
    s->room_next = r->members;
    if (r->members) r->members->room_prev = s;
    r->members = s;
    r->n_members++;
}

void signal_session_detach_room(signal_session_t *s) {
    signal_room_t *r = s->lroom;
    if (!r) return;
    if (s->room_prev) s->room_prev->room_next = s->room_next;
    else r->members = s->room_next;
    if (s->room_next) s->room_next->room_prev = s->room_prev;
    s->room_next = s->room_prev = NULL;
    s->lroom = NULL;
    r->n_members--;
    signal_room_maybe_free(s->srv, r);
}

/* ------------------------------------------------------------------------------------------
 * ICE servers with TURN REST credentials.
 */
cJSON *signal_ice_servers(signal_server_t *srv, const char *identity) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    const st_strlist_t *urls = &srv->cfg->turn_urls;
    cJSON *stun = NULL, *turn = NULL;
    for (size_t i = 0; i < urls->n; i++) {
        const char *u = urls->items[i];
        bool is_turn = strncmp(u, "turn:", 5) == 0 || strncmp(u, "turns:", 6) == 0;
        if (is_turn && !srv->turn_secret) continue; /* no credentials, no use */
        cJSON **list = is_turn ? &turn : &stun;
        if (!*list) *list = cJSON_CreateArray();
        cJSON_AddItemToArray(*list, cJSON_CreateString(u));
    }
    if (stun) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "urls", stun);
        cJSON_AddItemToArray(arr, o);
    }
    if (turn) {
        char user[ST_TURN_REST_USERNAME_MAX + 1], pass[ST_TURN_REST_PASSWORD_SIZE + 1];
        int64_t expiry = (int64_t)time(NULL) + srv->cfg->turn_ttl_ms / 1000;
        if (st_turn_rest_make(srv->turn_secret, strlen(srv->turn_secret), identity, expiry, user,
                              sizeof user, pass, sizeof pass) == RTC_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "urls", turn);
            cJSON_AddStringToObject(o, "username", user);
            cJSON_AddStringToObject(o, "credential", pass);
            cJSON_AddItemToArray(arr, o);
        } else {
            cJSON_Delete(turn);
        }
    }
    return arr;
}

/* ------------------------------------------------------------------------------------------
 * joined.
 */
void signal_session_send_joined(signal_session_t *s, const cJSON *payload) {
    signal_server_t *srv = s->srv;
    bool first = s->state == SESS_JOINING;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "joined");
    cJSON *me = cJSON_AddObjectToObject(o, "participant");
    cJSON_AddStringToObject(me, "id", s->pid);
    cJSON_AddStringToObject(me, "identity", s->identity);
    cJSON_AddStringToObject(me, "name", s->name);
    cJSON *room = cJSON_AddObjectToObject(o, "room");
    cJSON_AddStringToObject(room, "name", s->room);
    const cJSON *sid = payload ? cJSON_GetObjectItemCaseSensitive(payload, "sid") : NULL;
    if (cJSON_IsString(sid)) {
        cJSON_AddStringToObject(room, "sid", sid->valuestring);
        if (s->lroom) snprintf(s->lroom->sid, sizeof s->lroom->sid, "%s", sid->valuestring);
    } else {
        cJSON_AddStringToObject(room, "sid", s->lroom ? s->lroom->sid : "");
    }
    /* The others in the room, as the SFU knows them; never ourselves. */
    cJSON *parts = cJSON_AddArrayToObject(o, "participants");
    const cJSON *list = payload ? cJSON_GetObjectItemCaseSensitive(payload, "participants") : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsObject(it) || (cJSON_IsString(id) && strcmp(id->valuestring, s->pid) == 0))
            continue;
        cJSON *copy = cJSON_Duplicate(it, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "signal"); /* internal routing */
        cJSON_AddItemToArray(parts, copy);
    }
    cJSON_AddItemToObject(o, "ice_servers", signal_ice_servers(srv, s->identity));
    cJSON_AddStringToObject(o, "session_token", s->session_token);
    cJSON_AddBoolToObject(o, "resumed", !first || s->resumed);
    if (first && s->join_rid[0]) cJSON_AddStringToObject(o, "rid", s->join_rid);
    signal_session_send_json(s, o);
    cJSON_Delete(o);
    if (first) {
        s->state = SESS_JOINED;
        s->last_refresh_ms = signal_now_ms();
        st_counter_inc(s->resumed ? srv->m_resumes : srv->m_joins);
        s->counted = true;
        st_gauge_set(srv->m_participants, (double)++srv->n_joined);
        st_log_kv(RTC_LOG_INFO, SIGNAL_LOG,
                  ST_KVS(ST_KV_S("room", s->room), ST_KV_S("participant", s->pid),
                         ST_KV_S("identity", s->identity), ST_KV_S("node", s->node),
                         ST_KV_B("resumed", s->resumed)),
                  "participant joined");
    }
}

/* ------------------------------------------------------------------------------------------
 * Join / resume: the parts that need no Redis. cluster.c does the rest.
 */
static void random_token(char *out, size_t cap, size_t bytes) {
    uint8_t r[32];
    if (bytes > sizeof r) bytes = sizeof r;
    rtc_random_bytes(r, bytes);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t k = 0;
    for (size_t i = 0; i < bytes && k + 1 < cap; i++) out[k++] = alphabet[r[i] & 63];
    out[k] = 0;
}

static void hash_token(const char *token, char out[65]) {
    uint8_t d[RTC_SHA256_LEN];
    rtc_iov_t iov = {token, strlen(token)};
    rtc_digest(RTC_DIGEST_SHA256, &iov, 1, d);
    rtc_hex_encode(d, sizeof d, 0, false, out, 65);
}

static void on_join(signal_session_t *s, const signal_msg_t *m) {
    signal_server_t *srv = s->srv;
    signal_claims_t c;
    const char *why = NULL;
    if (signal_token_verify(&srv->keys, m->token, strlen(m->token), 0, &c, &why) != RTC_OK) {
        st_log_kv(RTC_LOG_INFO, SIGNAL_LOG,
                  ST_KVS(ST_KV_I("conn", s->conn_id), ST_KV_S("room", m->room), ST_KV_S("why", why)),
                  "join refused: bad token");
        signal_session_fail(s, SIGNAL_E_UNAUTHORIZED, why, m->rid, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    if (!signal_claims_room_ok(&c, m->room)) {
        signal_session_fail(s, SIGNAL_E_UNAUTHORIZED, "the token is for another room", m->rid,
                            LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    if (srv->draining || !signal_redis_joinable(srv)) {
        signal_session_fail(s, SIGNAL_E_UNAVAILABLE,
                            srv->draining ? "this server is restarting; connect again"
                                          : "room service temporarily unavailable (Redis)",
                            m->rid, SIGNAL_CLOSE_TRY_AGAIN_LATER);
        return;
    }
    snprintf(s->room, sizeof s->room, "%s", m->room);
    snprintf(s->identity, sizeof s->identity, "%s", c.identity);
    snprintf(s->name, sizeof s->name, "%s", c.name);
    s->grants = c.grants & SIGNAL_GRANTS_PARTICIPANT;
    snprintf(s->join_rid, sizeof s->join_rid, "%s", m->rid ? m->rid : "");
    s->state = SESS_JOINING;
    s->join_deadline_ms = signal_now_ms() + srv->cfg->join_timeout_ms;
    if (m->resume_pid) {
        s->resuming = true;
        snprintf(s->pid, sizeof s->pid, "%s", m->resume_pid);
        snprintf(s->session_token, sizeof s->session_token, "%s", m->resume_token);
        hash_token(s->session_token, s->token_hash);
        signal_cluster_claim(s, m->resume_token);
        return;
    }
    s->has_pid = true;
    char r[17];
    random_token(r, sizeof r, 16);
    /* A participant id is "PA_" plus 16 characters of [A-Za-z0-9_-] (96 bits). */
    snprintf(s->pid, sizeof s->pid, "PA_%s", r);
    for (char *p = s->pid + 3; *p; p++)
        if (*p == '-') *p = 'x';
    random_token(s->session_token, sizeof s->session_token, 32);
    hash_token(s->session_token, s->token_hash);
    signal_map_put(&srv->by_pid, s->pid, s);
    signal_cluster_place_session(s);
}

static void on_leave(signal_session_t *s, const signal_msg_t *m) {
    signal_server_t *srv = s->srv;
    (void)m;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "left");
    cJSON_AddStringToObject(o, "reason", "left");
    signal_session_send_json(s, o);
    cJSON_Delete(o);
    if (s->node[0] && signal_redis_ready(srv)) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "reason", "left");
        signal_bus_send(srv, s->node, "leave", s->room, s->pid, p, NULL, NULL);
    }
    signal_session_end(s);
    signal_session_close(s, LWS_CLOSE_STATUS_NORMAL, "left");
}

static void on_relay(signal_session_t *s, const signal_msg_t *m) {
    signal_server_t *srv = s->srv;
    cJSON *payload = signal_msg_relay_payload(m);
    if (!payload) {
        signal_session_error(s, SIGNAL_E_INTERNAL, "out of memory", m->rid);
        return;
    }
    if (m->rid) cJSON_AddStringToObject(payload, "rid", m->rid);
    /* signal_bus_send consumes the payload, whatever it returns. */
    if (signal_bus_send(srv, s->node, signal_msg_type_name(m->type), s->room, s->pid, payload,
                        NULL, NULL) != RTC_OK) {
        /* Existing sessions survive a Redis outage; this one message is lost and said so. */
        signal_session_error(s, SIGNAL_E_UNAVAILABLE,
                             "room service temporarily unavailable; message not delivered",
                             m->rid);
    }
}

void signal_session_on_message(signal_session_t *s, const uint8_t *p, size_t n) {
    signal_server_t *srv = s->srv;
    int64_t now = signal_now_ms();
    s->last_rx_ms = now;
    if (s->state == SESS_CLOSING) return;
    switch (signal_ratelimit_take(&s->rl, now)) {
    case SIGNAL_RL_ACCEPT: break;
    case SIGNAL_RL_REFUSE: return;
    case SIGNAL_RL_NOTIFY:
        signal_session_error(s, SIGNAL_E_RATE_LIMITED, "too many messages; slow down", NULL);
        return;
    case SIGNAL_RL_DISCONNECT:
        st_counter_inc(srv->m_rate_disconnects);
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG, ST_KVS(ST_KV_I("conn", s->conn_id)),
                  "disconnecting a client that keeps flooding");
        signal_session_fail(s, SIGNAL_E_RATE_LIMITED, "too many messages; disconnected", NULL,
                            LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }

    signal_msg_t m;
    signal_perr_t err;
    if (signal_msg_parse(p, n, &srv->limits, &m, &err) != RTC_OK) {
        st_log_kv(RTC_LOG_DEBUG, SIGNAL_LOG,
                  ST_KVS(ST_KV_I("conn", s->conn_id), ST_KV_S("code", signal_error_name(err.code))),
                  "refused a message: %s", err.message);
        signal_session_error(s, err.code, err.message, err.has_rid ? err.rid : NULL);
        return;
    }
    st_counter_inc(srv->m_rx[m.type]);
    bool joined = m.type == SIGNAL_MSG_JOIN ? s->state != SESS_OPEN : s->state == SESS_JOINED;
    if (signal_msg_permitted(&m, joined, s->grants, &err) != RTC_OK) {
        signal_session_error(s, err.code, err.message, err.has_rid ? err.rid : NULL);
        signal_msg_free(&m);
        return;
    }
    switch (m.type) {
    case SIGNAL_MSG_JOIN: on_join(s, &m); break;
    case SIGNAL_MSG_LEAVE: on_leave(s, &m); break;
    case SIGNAL_MSG_PING: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "pong");
        if (m.has_ts) cJSON_AddNumberToObject(o, "ts", m.ts);
        signal_session_send_json(s, o);
        cJSON_Delete(o);
        break;
    }
    case SIGNAL_MSG_PONG: break;
    default: on_relay(s, &m); break;
    }
    signal_msg_free(&m);
}

/* ------------------------------------------------------------------------------------------
 * End of a participant, end of a socket, keepalive.
 */
void signal_session_end(signal_session_t *s) {
    s->no_grace = true;
    if (s->has_pid) {
        signal_cluster_delete_participant(s->srv, s->pid);
        signal_cluster_forget_orphan(s->srv, s->pid);
    }
}

void signal_session_on_closed(signal_session_t *s) {
    signal_server_t *srv = s->srv;
    s->state = SESS_CLOSING;
    if (s->has_pid) {
        if (signal_map_get(&srv->by_pid, s->pid) == s) signal_map_del(&srv->by_pid, s->pid);
        /* The participant waits resume_grace for its client to come back (through this or
         * any other signal process) before it is released. */
        if (!s->no_grace) signal_cluster_add_orphan(srv, s);
    }
    signal_session_detach_room(s);
    if (s->counted) {
        s->counted = false;
        st_gauge_set(srv->m_participants, (double)--srv->n_joined);
    }
    signal_server_check_stopped(srv);
}

void signal_session_tick(signal_session_t *s, int64_t now) {
    signal_server_t *srv = s->srv;
    if (!s->wsi || s->state == SESS_CLOSING) return;
    if (s->state == SESS_JOINING && now >= s->join_deadline_ms) {
        st_log_kv(RTC_LOG_WARN, SIGNAL_LOG,
                  ST_KVS(ST_KV_S("room", s->room), ST_KV_S("node", s->node),
                         ST_KV_S("participant", s->pid)),
                  "SFU node did not answer the join in time");
        signal_session_fail(s, SIGNAL_E_UNAVAILABLE, "the media server did not answer; retry",
                            s->join_rid[0] ? s->join_rid : NULL, SIGNAL_CLOSE_TRY_AGAIN_LATER);
        return;
    }
    if (now - s->last_rx_ms >= srv->cfg->idle_timeout_ms) {
        signal_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "idle timeout");
        return;
    }
    if (now - s->last_rx_ms >= srv->cfg->ping_interval_ms &&
        now - s->last_ping_ms >= srv->cfg->ping_interval_ms) {
        s->last_ping_ms = now;
        char t[64];
        int n = snprintf(t, sizeof t, "{\"type\":\"ping\",\"ts\":%lld}", (long long)now);
        signal_session_send(s, t, (size_t)n);
    }
    if (s->state == SESS_JOINED && now - s->last_refresh_ms >= 5000) {
        s->last_refresh_ms = now;
        signal_cluster_refresh_participant(s);
    }
}
