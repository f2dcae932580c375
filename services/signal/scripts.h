/*
 * signal/scripts.h — the Redis Lua scripts that make signal's shared-state changes atomic,
 * and the argument vectors they take (docs/redis.md, "Placement").
 *
 * Why scripts: two signal processes joining the same new room at the same moment must place
 * it on the same SFU node, and several signal processes noticing the same dead node must move
 * each of its rooms once. A script runs atomically inside Redis, so "read the placement,
 * check the node is alive, pick the least-loaded live node, write it" cannot interleave.
 *
 * Scripts are sent with EVALSHA and fall back to EVAL when Redis answers NOSCRIPT (after a
 * restart or SCRIPT FLUSH), so nothing needs loading in advance. They touch node keys whose
 * names are built inside the script from a prefix, which a Redis Cluster would refuse: Starling
 * uses one Redis (or a primary with replicas), not a cluster.
 */
#ifndef STARLING_SIGNAL_SCRIPTS_H
#define STARLING_SIGNAL_SCRIPTS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/redis.h"
#include "signal/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;
    const char *src;
    char sha[41];     /* filled by signal_scripts_init */
} signal_script_t;

/*
 * place: find or make the room's placement.
 *   KEYS: room hash, nodes zset, rooms set, room participants hash
 *   ARGV: node key prefix, room name, from (node being abandoned, or ""), prefer (node id to
 *         use if it is up, or ""; "!" + id: that node if it is up, else "none" and nothing
 *         written, unless the room is on a live node already), sid for a new room, now (Unix s), max participants (0: none)
 *   -> {status, node, sid}; status "ok" (already on a live node; or, with `from`, no longer
 *      on `from` or `from` is alive after all), "placed" (new placement), "moved" (was on a
 *      dead node / `from`), "none" (no live node with room to spare), "full".
 *   Dead members of the nodes zset are removed on the way. Draining nodes keep the rooms they
 *   have but get no new ones.
 */
extern signal_script_t signal_script_place;
/*
 * poll: KEYS: nodes zset. ARGV: node key prefix, then node ids to check.
 *   -> {live_up_count, {dead ids...}, {id, instance, id, instance...}}: the ids among ARGV
 *   whose node key is gone, and for the others their `instance` ("" when the node wrote
 *   none), which changes when a node restarts under the same id.
 */
extern signal_script_t signal_script_poll;
/*
 * register: KEYS: participant key. ARGV: ttl seconds, field, value, field, value...
 *   HSET + EXPIRE in one step.
 */
extern signal_script_t signal_script_register;
/*
 * refresh: KEYS: participant key. ARGV: signal id, ttl seconds.
 *   -> 1 refreshed (still ours), 0 another signal process holds it now, -1 the key is gone.
 */
extern signal_script_t signal_script_refresh;
/*
 * claim (resume): KEYS: participant key. ARGV: signal id, ttl, session token hash, room,
 * identity. -> {"ok", previous signal, name} | {"missing"} | {"mismatch"}
 */
extern signal_script_t signal_script_claim;
/*
 * release (grace period over): KEYS: participant key, room hash. ARGV: signal id.
 *   -> the room's node id if the key was still ours and is now deleted, else "".
 */
extern signal_script_t signal_script_release;
/*
 * rooms (admin): KEYS: rooms set. ARGV: room key prefix ("starling:room:").
 *   -> {{name, node, sid, created_at, participant_count}...}; names whose room key expired
 *   are removed from the set.
 */
extern signal_script_t signal_script_rooms;

/* Computes the SHA-1 of every script (idempotent, not thread-safe on first call). */
void signal_scripts_init(void);

/* Runs a script: EVALSHA, and EVAL again with the same arguments if Redis answers NOSCRIPT.
 * args[0..nkeys) are keys, the rest arguments; all are copied. fn is called exactly once on
 * RTC_OK, as for st_redis_command_argv. Returns RTC_OK or that function's errors. */
int signal_eval(st_redis_t *r, const signal_script_t *s, st_redis_reply_fn fn, void *user,
                int nkeys, int nargs, const char *const *args);

/* Key names: prefix + kind + id + suffix ("starling:" "room:" "demo" ":participants").
 * Returns the length or RTC_ERR_OVERFLOW. */
int signal_key(char *out, size_t cap, const char *prefix, const char *kind, const char *id,
               const char *suffix);

/* ------------------------------------------------------------------------------------------
 * The placement call, shared by the service and the tests.
 */
typedef struct {
    const char *prefix;     /* "starling:" */
    const char *room;
    const char *from;       /* "" or NULL: normal join */
    const char *prefer;     /* "" or NULL: least loaded */
    const char *sid;        /* sid to give a new room */
    int64_t now;
    int64_t max_participants;
} signal_place_req_t;

#define SIGNAL_KEY_MAX 256
typedef struct {
    char keys[4][SIGNAL_KEY_MAX];
    char nodepfx[SIGNAL_KEY_MAX];
    char now[24], maxp[24];
    const char *args[11];   /* 4 keys + 7 arguments */
} signal_place_argv_t;

/* Fills a->args (4 keys, 7 args). Returns RTC_OK or RTC_ERR_OVERFLOW/INVALID_ARG. */
int signal_place_argv(const signal_place_req_t *req, signal_place_argv_t *a);

typedef enum {
    SIGNAL_PLACE_OK,
    SIGNAL_PLACE_PLACED,
    SIGNAL_PLACE_MOVED,
    SIGNAL_PLACE_NONE,
    SIGNAL_PLACE_FULL,
} signal_place_status_t;

typedef struct {
    signal_place_status_t status;
    char node[SIGNAL_ID_MAX + 1];
    char sid[SIGNAL_ID_MAX + 1];
} signal_place_result_t;

/* Reads the script's reply. Returns RTC_OK, or RTC_ERR_MALFORMED for anything else (a Redis
 * error reply included). */
int signal_place_parse(const redisReply *r, signal_place_result_t *out);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_SCRIPTS_H */
