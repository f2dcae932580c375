/* Lua scripts for atomic placement and participant ownership, and EVALSHA with fallback. */
#include "signal/scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

signal_script_t signal_script_place = {
    "place",
    "local room, nodes, rooms, parts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
    "local prefix, name, from, prefer = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local sid, now, maxp = ARGV[5], ARGV[6], tonumber(ARGV[7]) or 0\n"
    "local strict = string.sub(prefer, 1, 1) == '!'\n"
    "if strict then prefer = string.sub(prefer, 2) end\n"
    "local cur = redis.call('HGET', room, 'node')\n"
    "if maxp > 0 and redis.call('HLEN', parts) >= maxp then\n"
    "  return {'full', cur or '', redis.call('HGET', room, 'sid') or ''}\n"
    "end\n"
    "if cur then\n"
    "  local alive = redis.call('EXISTS', prefix .. cur) == 1\n"
    "  if (from ~= '' and cur ~= from) or alive then\n"
    "    return {'ok', cur, redis.call('HGET', room, 'sid') or ''}\n"
    "  end\n"
    "end\n"
    "local pick = nil\n"
    "if prefer ~= '' and prefer ~= from and redis.call('HGET', prefix .. prefer, 'state') == 'up' then\n"
    "  pick = prefer\n"
    "end\n"
    "if not pick and strict then return {'none', '', ''} end\n"
    "if not pick then\n"
    "  for _, id in ipairs(redis.call('ZRANGE', nodes, 0, -1)) do\n"
    "    local key = prefix .. id\n"
    "    if redis.call('EXISTS', key) == 0 then\n"
    "      redis.call('ZREM', nodes, id)\n"
    "    elseif id ~= from then\n"
    "      local h = redis.call('HMGET', key, 'state', 'load', 'capacity')\n"
    "      local load, cap = tonumber(h[2]) or 0, tonumber(h[3]) or 0\n"
    "      if h[1] == 'up' and (cap <= 0 or load < cap) then pick = id break end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if not pick then return {'none', '', ''} end\n"
    "redis.call('HSET', room, 'node', pick)\n"
    "if redis.call('HSETNX', room, 'sid', sid) == 1 then\n"
    "  redis.call('HSET', room, 'created_at', now)\n"
    "end\n"
    "redis.call('PERSIST', room)\n"
    "redis.call('SADD', rooms, name)\n"
    "return {cur and 'moved' or 'placed', pick, redis.call('HGET', room, 'sid')}\n",
    ""};

signal_script_t signal_script_poll = {
    "poll",
    "local n = 0\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  if redis.call('HGET', ARGV[1] .. id, 'state') == 'up' then n = n + 1 end\n"
    "end\n"
    "local dead, live = {}, {}\n"
    "for i = 2, #ARGV do\n"
    "  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then dead[#dead + 1] = ARGV[i]\n"
    "  else\n"
    "    live[#live + 1] = ARGV[i]\n"
    "    live[#live + 1] = redis.call('HGET', ARGV[1] .. ARGV[i], 'instance') or ''\n"
    "  end\n"
    "end\n"
    "return {n, dead, live}\n",
    ""};

signal_script_t signal_script_register = {
    "register",
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n",
    ""};

signal_script_t signal_script_refresh = {
    "refresh",
    "local s = redis.call('HGET', KEYS[1], 'signal')\n"
    "if not s then return -1 end\n"
    "if s ~= ARGV[1] then return 0 end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n",
    ""};

signal_script_t signal_script_claim = {
    "claim",
    "local h = redis.call('HMGET', KEYS[1], 'room', 'identity', 'session_token_hash', 'signal', 'name')\n"
    "if not h[1] then return {'missing'} end\n"
    "if h[1] ~= ARGV[4] or h[2] ~= ARGV[5] or h[3] ~= ARGV[3] then return {'mismatch'} end\n"
    "redis.call('HSET', KEYS[1], 'signal', ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return {'ok', h[4] or '', h[5] or ''}\n",
    ""};

signal_script_t signal_script_release = {
    "release",
    "if redis.call('HGET', KEYS[1], 'signal') == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return redis.call('HGET', KEYS[2], 'node') or ''\n"
    "end\n"
    "return ''\n",
    ""};

signal_script_t signal_script_rooms = {
    "rooms",
    "local out = {}\n"
    "for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local rk = ARGV[1] .. name\n"
    "  if redis.call('EXISTS', rk) == 0 then\n"
    "    redis.call('SREM', KEYS[1], name)\n"
    "  else\n"
    "    local h = redis.call('HMGET', rk, 'node', 'sid', 'created_at')\n"
    "    out[#out + 1] = {name, h[1] or '', h[2] or '', h[3] or '',\n"
    "                     redis.call('HLEN', rk .. ':participants')}\n"
    "  end\n"
    "end\n"
    "return out\n",
    ""};

static signal_script_t *const all_scripts[] = {
    &signal_script_place,  &signal_script_poll,    &signal_script_register,
    &signal_script_refresh, &signal_script_claim,  &signal_script_release,
    &signal_script_rooms,
};

void signal_scripts_init(void) {
    for (size_t i = 0; i < sizeof all_scripts / sizeof all_scripts[0]; i++) {
        signal_script_t *s = all_scripts[i];
        if (s->sha[0]) continue;
        uint8_t d[RTC_SHA1_LEN];
        rtc_iov_t iov = {s->src, strlen(s->src)};
        rtc_digest(RTC_DIGEST_SHA1, &iov, 1, d);
        rtc_hex_encode(d, sizeof d, 0, false, s->sha, sizeof s->sha);
    }
}

int signal_key(char *out, size_t cap, const char *prefix, const char *kind, const char *id,
               const char *suffix) {
    int n = snprintf(out, cap, "%s%s%s%s", prefix ? prefix : "", kind ? kind : "", id ? id : "",
                     suffix ? suffix : "");
    if (n < 0 || (size_t)n >= cap) return RTC_ERR_OVERFLOW;
    return n;
}

/* ------------------------------------------------------------------------------------------
 * EVALSHA, falling back to EVAL.
 */
typedef struct {
    const signal_script_t *script;
    st_redis_reply_fn fn;
    void *user;
    int argc;
    char **argv;   /* "EVALSHA", sha, nkeys, keys..., args... (owned copies) */
} eval_ctx_t;

static void eval_ctx_free(eval_ctx_t *c) {
    for (int i = 0; i < c->argc; i++) free(c->argv[i]);
    free(c->argv);
    free(c);
}

static void on_eval_reply(st_redis_t *r, const redisReply *reply, void *user) {
    eval_ctx_t *c = user;
    if (reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && strcmp(c->argv[0], "EVALSHA") == 0) {
        /* Redis lost its script cache: send the source this once; EVAL caches it again. */
        free(c->argv[0]);
        free(c->argv[1]);
        c->argv[0] = strdup("EVAL");
        c->argv[1] = strdup(c->script->src);
        if (c->argv[0] && c->argv[1] &&
            st_redis_command_argv(r, on_eval_reply, c, c->argc, (const char *const *)c->argv,
                                  NULL) == RTC_OK)
            return;
        reply = NULL;
    }
    if (c->fn) c->fn(r, reply, c->user);
    eval_ctx_free(c);
}

int signal_eval(st_redis_t *r, const signal_script_t *s, st_redis_reply_fn fn, void *user,
                int nkeys, int nargs, const char *const *args) {
    if (!s->sha[0]) signal_scripts_init();
    eval_ctx_t *c = calloc(1, sizeof *c);
    if (!c) return RTC_ERR_NOMEM;
    c->script = s;
    c->fn = fn;
    c->user = user;
    c->argc = 3 + nkeys + nargs;
    c->argv = calloc((size_t)c->argc, sizeof *c->argv);
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    bool ok = c->argv != NULL;
    if (ok) {
        c->argv[0] = strdup("EVALSHA");
        c->argv[1] = strdup(s->sha);
        c->argv[2] = strdup(nk);
        for (int i = 0; i < nkeys + nargs; i++) c->argv[3 + i] = strdup(args[i] ? args[i] : "");
        for (int i = 0; i < c->argc; i++) ok &= c->argv[i] != NULL;
    }
    if (!ok) {
        if (c->argv) eval_ctx_free(c);
        else free(c);
        return RTC_ERR_NOMEM;
    }
    int rc = st_redis_command_argv(r, on_eval_reply, c, c->argc, (const char *const *)c->argv,
                                   NULL);
    if (rc != RTC_OK) eval_ctx_free(c);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Placement arguments and reply.
 */
int signal_place_argv(const signal_place_req_t *req, signal_place_argv_t *a) {
    memset(a, 0, sizeof *a);
    if (!req->prefix || !signal_room_valid(req->room) || !req->sid) return RTC_ERR_INVALID_ARG;
    if (signal_key(a->keys[0], SIGNAL_KEY_MAX, req->prefix, "room:", req->room, NULL) < 0 ||
        signal_key(a->keys[1], SIGNAL_KEY_MAX, req->prefix, "nodes", NULL, NULL) < 0 ||
        signal_key(a->keys[2], SIGNAL_KEY_MAX, req->prefix, "rooms", NULL, NULL) < 0 ||
        signal_key(a->keys[3], SIGNAL_KEY_MAX, req->prefix, "room:", req->room,
                   ":participants") < 0 ||
        signal_key(a->nodepfx, SIGNAL_KEY_MAX, req->prefix, "node:", NULL, NULL) < 0)
        return RTC_ERR_OVERFLOW;
    snprintf(a->now, sizeof a->now, "%lld", (long long)req->now);
    snprintf(a->maxp, sizeof a->maxp, "%lld", (long long)req->max_participants);
    for (int i = 0; i < 4; i++) a->args[i] = a->keys[i];
    a->args[4] = a->nodepfx;
    a->args[5] = req->room;
    a->args[6] = req->from ? req->from : "";
    a->args[7] = req->prefer ? req->prefer : "";
    a->args[8] = req->sid;
    a->args[9] = a->now;
    a->args[10] = a->maxp;
    return RTC_OK;
}

int signal_place_parse(const redisReply *r, signal_place_result_t *out) {
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return RTC_ERR_MALFORMED;
    for (size_t i = 0; i < 3; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) return RTC_ERR_MALFORMED;
    const char *st = r->element[0]->str;
    if (strcmp(st, "ok") == 0) out->status = SIGNAL_PLACE_OK;
    else if (strcmp(st, "placed") == 0) out->status = SIGNAL_PLACE_PLACED;
    else if (strcmp(st, "moved") == 0) out->status = SIGNAL_PLACE_MOVED;
    else if (strcmp(st, "none") == 0) out->status = SIGNAL_PLACE_NONE;
    else if (strcmp(st, "full") == 0) out->status = SIGNAL_PLACE_FULL;
    else return RTC_ERR_MALFORMED;
    if (r->element[1]->len > SIGNAL_ID_MAX || r->element[2]->len > SIGNAL_ID_MAX)
        return RTC_ERR_MALFORMED;
    memcpy(out->node, r->element[1]->str, r->element[1]->len);
    memcpy(out->sid, r->element[2]->str, r->element[2]->len);
    bool need_node = out->status == SIGNAL_PLACE_OK || out->status == SIGNAL_PLACE_PLACED ||
                     out->status == SIGNAL_PLACE_MOVED;
    /* Node ids are chosen by SFU nodes: the room-name alphabet (dots allowed, no ':'). */
    if (need_node && !signal_room_valid(out->node)) return RTC_ERR_MALFORMED;
    return RTC_OK;
}
