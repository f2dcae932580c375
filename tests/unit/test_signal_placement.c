/* signal/scripts: the Lua scripts behind placement, failover and resume, run by a real
 * redis-server started here on 127.0.0.1 (free port, killed by PID). Checks least-loaded
 * placement, skipping dead/draining/full nodes and pruning dead ones, sticky placement while
 * loads change, moving off a dead node exactly once when several callers notice, `prefer`,
 * room_full, the participant ownership scripts (register/refresh/claim/release), the node
 * poll, the admin rooms listing, EVALSHA falling back to EVAL after SCRIPT FLUSH — and a race:
 * many processes placing the same new rooms while node loads flip, all agreeing. */
#include <check.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "signal/scripts.h"
#include "unit/child_proc.h"

static pid_t redis_pid;
static uint16_t redis_port;
static char redis_dir[64];

static redisContext *connect_redis(void) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void start_redis(void) {
    redis_port = test_free_port(SOCK_STREAM);
    snprintf(redis_dir, sizeof redis_dir, "/tmp/st_sigplace_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(redis_dir));
    char port[8];
    snprintf(port, sizeof port, "%u", redis_port);
    redis_pid = fork();
    ck_assert_int_ge(redis_pid, 0);
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        redisContext *c = connect_redis();
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return;
        }
        usleep(50000);
    }
    ck_abort_msg("redis-server did not start");
}

static void stop_redis(void) {
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
        rmdir(redis_dir);
    }
}

static redisContext *rc;

static void setup(void) {
    start_redis();
    rc = connect_redis();
    ck_assert_ptr_nonnull(rc);
    signal_scripts_init();
}

static void teardown(void) {
    if (rc) redisFree(rc);
    rc = NULL;
    stop_redis();
}

static redisReply *cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void do_cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "%s", r->str);
    freeReplyObject(r);
}

/* A node as docs/redis.md describes it. ttl 0: no node key at all (dead). */
static void node(const char *id, double load, int capacity, const char *state, bool alive) {
    do_cmd("ZADD starling:nodes %f %s", load, id);
    if (alive)
        do_cmd("HSET starling:node:%s id %s load %f capacity %d state %s", id, id, load, capacity, state);
    else
        do_cmd("DEL starling:node:%s", id);
}

/* Runs a script with EVAL (the production argv, prefixed the way signal_eval does). */
static redisReply *eval_on(redisContext *c, const signal_script_t *s, int nkeys, int nargs,
                           const char *const *args) {
    const char *argv[32];
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = s->src;
    argv[2] = nk;
    for (int i = 0; i < nkeys + nargs; i++) argv[3 + i] = args[i];
    redisReply *r = redisCommandArgv(c, 3 + nkeys + nargs, argv, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "%s: %s", s->name, r->str);
    return r;
}

static signal_place_result_t place_on(redisContext *c, const char *room, const char *from,
                                      const char *prefer, int64_t maxp) {
    signal_place_req_t req = {"starling:", room, from, prefer, "RM_test", 1764500000, maxp};
    signal_place_argv_t a;
    ck_assert_int_eq(signal_place_argv(&req, &a), RTC_OK);
    redisReply *r = eval_on(c, &signal_script_place, 4, 7, a.args);
    signal_place_result_t res;
    ck_assert_int_eq(signal_place_parse(r, &res), RTC_OK);
    freeReplyObject(r);
    return res;
}

static signal_place_result_t place(const char *room, const char *from, const char *prefer) {
    return place_on(rc, room, from, prefer, 0);
}

static char *hget(const char *key, const char *field) {
    redisReply *r = cmd("HGET %s %s", key, field);
    char *s = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

START_TEST(least_loaded_live_up_node_with_room) {
    node("n-dead", 0, 0, "up", false);       /* in the set, key expired */
    node("n-drain", 1, 0, "draining", true); /* no new rooms */
    node("n-full", 2, 2, "up", true);        /* load 2 of capacity 2 */
    node("n-busy", 5, 0, "up", true);
    node("n-idle", 3, 10, "up", true);
    signal_place_result_t r = place("room1", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_PLACED);
    ck_assert_str_eq(r.node, "n-idle");
    ck_assert_str_eq(r.sid, "RM_test");
    /* The room hash, the rooms set, and the dead node pruned from the set. */
    char *n = hget("starling:room:room1", "node");
    ck_assert_str_eq(n, "n-idle");
    free(n);
    n = hget("starling:room:room1", "created_at");
    ck_assert_str_eq(n, "1764500000");
    free(n);
    redisReply *x = cmd("SISMEMBER starling:rooms room1");
    ck_assert_int_eq(x->integer, 1);
    freeReplyObject(x);
    x = cmd("ZSCORE starling:nodes n-dead");
    ck_assert_int_eq(x->type, REDIS_REPLY_NIL);
    freeReplyObject(x);
    /* A room that expired away: PERSIST on placement. */
    do_cmd("EXPIRE starling:room:room1 60");
    r = place("room1", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_OK);
    x = cmd("TTL starling:room:room1");
    ck_assert_int_eq(x->integer, 60); /* an existing placement is only read */
    freeReplyObject(x);
}
END_TEST

START_TEST(no_node_means_none) {
    signal_place_result_t r = place("r", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_NONE);
    node("d1", 0, 0, "draining", true);
    node("x1", 0, 0, "up", false);
    r = place("r", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_NONE);
    redisReply *x = cmd("EXISTS starling:room:r");
    ck_assert_int_eq(x->integer, 0); /* nothing written */
    freeReplyObject(x);
}
END_TEST

START_TEST(placement_sticks_while_loads_change) {
    node("a", 0, 0, "up", true);
    node("b", 1, 0, "up", true);
    ck_assert_str_eq(place("r", "", "").node, "a");
    node("a", 9, 0, "up", true);
    node("b", 0, 0, "up", true);
    signal_place_result_t r = place("r", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_OK);
    ck_assert_str_eq(r.node, "a");
    /* A draining node keeps the rooms it has. */
    node("a", 9, 0, "draining", true);
    ck_assert_str_eq(place("r", "", "").node, "a");
    ck_assert_str_eq(place("new", "", "").node, "b");
}
END_TEST

START_TEST(dead_node_rooms_move_once) {
    node("a", 0, 0, "up", true);
    node("b", 1, 0, "up", true);
    node("c", 2, 0, "up", true);
    ck_assert_str_eq(place("r", "", "").node, "a");
    /* `from` while a is alive: nothing moves. */
    signal_place_result_t r = place("r", "a", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_OK);
    ck_assert_str_eq(r.node, "a");
    node("a", 0, 0, "up", false); /* dies */
    /* Three signal processes notice: the first moves the room, the others are told where. */
    r = place("r", "a", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_MOVED);
    ck_assert_str_eq(r.node, "b");
    ck_assert_str_eq(r.sid, "RM_test");
    node("b", 0, 0, "up", true);
    node("c", -1, 0, "up", true); /* c is now least loaded: must not matter */
    for (int i = 0; i < 2; i++) {
        r = place("r", "a", "");
        ck_assert_int_eq(r.status, SIGNAL_PLACE_OK);
        ck_assert_str_eq(r.node, "b");
    }
    /* A plain join for a room on a dead node also moves it. */
    ck_assert_str_eq(place("r2", "", "").node, "c");
    node("c", 0, 0, "up", false);
    r = place("r2", "", "");
    ck_assert_int_eq(r.status, SIGNAL_PLACE_MOVED);
    ck_assert_str_eq(r.node, "b");
}
END_TEST

START_TEST(prefer_and_room_full) {
    node("a", 0, 0, "up", true);
    node("b", 5, 0, "up", true);
    node("c", 1, 0, "draining", true);
    ck_assert_str_eq(place("r", "", "b").node, "b");     /* preferred over less loaded */
    ck_assert_str_eq(place("r2", "", "c").node, "a");    /* not if draining */
    ck_assert_str_eq(place("r3", "", "gone").node, "a"); /* not if dead */
    /* "!" + node: that node or nothing (signal right after a Redis restart, before the node
     * re-registered): nothing is written. */
    ck_assert_int_eq(place("r4", "", "!gone").status, SIGNAL_PLACE_NONE);
    ck_assert_int_eq(place("r4", "", "!c").status, SIGNAL_PLACE_NONE); /* draining */
    redisReply *x = cmd("EXISTS starling:room:r4");
    ck_assert_int_eq(x->integer, 0);
    freeReplyObject(x);
    signal_place_result_t st = place("r4", "", "!b");
    ck_assert_int_eq(st.status, SIGNAL_PLACE_PLACED);
    ck_assert_str_eq(st.node, "b");
    ck_assert_str_eq(place("r4", "", "!a").node, "b"); /* the room's live node wins, as always */
    /* room_full counts the SFU's participants hash. */
    do_cmd("HSET starling:room:r:participants p1 {} p2 {}");
    ck_assert_int_eq(place_on(rc, "r", "", "", 2).status, SIGNAL_PLACE_FULL);
    ck_assert_int_eq(place_on(rc, "r", "", "", 3).status, SIGNAL_PLACE_OK);
    ck_assert_int_eq(place_on(rc, "r", "", "", 0).status, SIGNAL_PLACE_OK);
}
END_TEST

START_TEST(argv_and_reply_parsing) {
    signal_place_req_t req = {"starling:", "bad:room", "", "", "s", 1, 0};
    signal_place_argv_t a;
    ck_assert_int_eq(signal_place_argv(&req, &a), RTC_ERR_INVALID_ARG);
    redisReply *r = cmd("EVAL %s 0", "return {'ok', 'a:b', 's'}");
    signal_place_result_t res;
    ck_assert_int_eq(signal_place_parse(r, &res), RTC_ERR_MALFORMED); /* node ids have no ':' */
    freeReplyObject(r);
    r = cmd("EVAL %s 0", "return {'ok', 'n', 's', 'x'}");
    ck_assert_int_eq(signal_place_parse(r, &res), RTC_ERR_MALFORMED);
    freeReplyObject(r);
    r = cmd("EVAL %s 0", "return {'maybe', 'n', 's'}");
    ck_assert_int_eq(signal_place_parse(r, &res), RTC_ERR_MALFORMED);
    freeReplyObject(r);
    ck_assert_int_eq(signal_place_parse(NULL, &res), RTC_ERR_MALFORMED);
    char k[16];
    ck_assert_int_eq(signal_key(k, sizeof k, "starling:", "room:", "toolongname", NULL), RTC_ERR_OVERFLOW);
}
END_TEST

START_TEST(participant_ownership_scripts) {
    const char *reg[] = {"starling:participant:P1", "30", "room", "r", "identity", "alice",
                         "name", "Alice", "signal", "sig-1", "session_token_hash", "H"};
    freeReplyObject(eval_on(rc, &signal_script_register, 1, 11, reg));
    redisReply *x = cmd("TTL starling:participant:P1");
    ck_assert_int_gt(x->integer, 25);
    freeReplyObject(x);
    /* refresh: ours -> 1; someone else's -> 0; gone -> -1 */
    const char *mine[] = {"starling:participant:P1", "sig-1", "40"};
    x = eval_on(rc, &signal_script_refresh, 1, 2, mine);
    ck_assert_int_eq(x->integer, 1);
    freeReplyObject(x);
    const char *theirs[] = {"starling:participant:P1", "sig-2", "40"};
    x = eval_on(rc, &signal_script_refresh, 1, 2, theirs);
    ck_assert_int_eq(x->integer, 0);
    freeReplyObject(x);
    const char *none[] = {"starling:participant:P9", "sig-1", "40"};
    x = eval_on(rc, &signal_script_refresh, 1, 2, none);
    ck_assert_int_eq(x->integer, -1);
    freeReplyObject(x);
    /* claim (resume): every credential must match; on success the owner changes. */
    const char *bad_hash[] = {"starling:participant:P1", "sig-2", "40", "WRONG", "r", "alice"};
    x = eval_on(rc, &signal_script_claim, 1, 5, bad_hash);
    ck_assert_str_eq(x->element[0]->str, "mismatch");
    freeReplyObject(x);
    const char *bad_room[] = {"starling:participant:P1", "sig-2", "40", "H", "other", "alice"};
    x = eval_on(rc, &signal_script_claim, 1, 5, bad_room);
    ck_assert_str_eq(x->element[0]->str, "mismatch");
    freeReplyObject(x);
    const char *bad_ident[] = {"starling:participant:P1", "sig-2", "40", "H", "r", "mallory"};
    x = eval_on(rc, &signal_script_claim, 1, 5, bad_ident);
    ck_assert_str_eq(x->element[0]->str, "mismatch");
    freeReplyObject(x);
    const char *missing[] = {"starling:participant:P9", "sig-2", "40", "H", "r", "alice"};
    x = eval_on(rc, &signal_script_claim, 1, 5, missing);
    ck_assert_str_eq(x->element[0]->str, "missing");
    freeReplyObject(x);
    char *owner = hget("starling:participant:P1", "signal");
    ck_assert_str_eq(owner, "sig-1");
    free(owner);
    const char *good[] = {"starling:participant:P1", "sig-2", "40", "H", "r", "alice"};
    x = eval_on(rc, &signal_script_claim, 1, 5, good);
    ck_assert_str_eq(x->element[0]->str, "ok");
    ck_assert_str_eq(x->element[1]->str, "sig-1"); /* the previous owner */
    freeReplyObject(x);
    owner = hget("starling:participant:P1", "signal");
    ck_assert_str_eq(owner, "sig-2");
    free(owner);
    /* release: only the owner's grace timer deletes it, and learns the room's node. */
    do_cmd("HSET starling:room:r node n-1");
    const char *rel_old[] = {"starling:participant:P1", "starling:room:r", "sig-1"};
    x = eval_on(rc, &signal_script_release, 2, 1, rel_old);
    ck_assert_str_eq(x->str, "");
    freeReplyObject(x);
    const char *rel_new[] = {"starling:participant:P1", "starling:room:r", "sig-2"};
    x = eval_on(rc, &signal_script_release, 2, 1, rel_new);
    ck_assert_str_eq(x->str, "n-1");
    freeReplyObject(x);
    x = cmd("EXISTS starling:participant:P1");
    ck_assert_int_eq(x->integer, 0);
    freeReplyObject(x);
}
END_TEST

START_TEST(poll_and_rooms_listing) {
    node("a", 0, 0, "up", true);
    node("b", 0, 0, "draining", true);
    node("c", 0, 0, "up", true);
    node("d", 0, 0, "up", false);
    do_cmd("HSET starling:node:a instance 0123abcd");
    const char *args[] = {"starling:nodes", "starling:node:", "a", "d", "zz", "c"};
    redisReply *x = eval_on(rc, &signal_script_poll, 1, 5, args);
    ck_assert_uint_eq(x->elements, 3);
    ck_assert_int_eq(x->element[0]->integer, 2); /* a and c are up */
    redisReply *dead = x->element[1], *live = x->element[2];
    ck_assert_uint_eq(dead->elements, 2);
    ck_assert_str_eq(dead->element[0]->str, "d");
    ck_assert_str_eq(dead->element[1]->str, "zz");
    ck_assert_uint_eq(live->elements, 4); /* id, instance pairs */
    ck_assert_str_eq(live->element[0]->str, "a");
    ck_assert_str_eq(live->element[1]->str, "0123abcd");
    ck_assert_str_eq(live->element[2]->str, "c");
    ck_assert_str_eq(live->element[3]->str, ""); /* a node that writes no instance */
    freeReplyObject(x);

    place("r1", "", "");
    place("r2", "", "");
    do_cmd("HSET starling:room:r1:participants p1 {} p2 {}");
    do_cmd("SADD starling:rooms ghost"); /* its room key expired long ago */
    const char *la[] = {"starling:rooms", "starling:room:"};
    x = eval_on(rc, &signal_script_rooms, 1, 1, la);
    ck_assert_uint_eq(x->elements, 2);
    for (size_t i = 0; i < 2; i++) {
        redisReply *e = x->element[i];
        ck_assert_uint_eq(e->elements, 5);
        ck_assert_int_eq(e->element[4]->integer, strcmp(e->element[0]->str, "r1") == 0 ? 2 : 0);
    }
    freeReplyObject(x);
    x = cmd("SISMEMBER starling:rooms ghost");
    ck_assert_int_eq(x->integer, 0);
    freeReplyObject(x);
}
END_TEST

/* The race that matters: concurrent callers placing the same fresh rooms while the node loads
 * keep flipping. Every caller must get the same node for a room. */
START_TEST(concurrent_callers_agree) {
    node("a", 0, 0, "up", true);
    node("b", 1, 0, "up", true);
    enum { PROCS = 6, ROOMS = 60 };
    int pipes[PROCS][2];
    pid_t kids[PROCS + 1];
    /* The flipper. */
    kids[PROCS] = fork();
    if (kids[PROCS] == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        redisContext *c = connect_redis();
        for (int i = 0; c; i++) {
            redisReply *r = redisCommand(c, "ZADD starling:nodes %d a %d b", i % 2, (i + 1) % 2);
            if (!r) _exit(0);
            freeReplyObject(r);
        }
        _exit(0);
    }
    for (int p = 0; p < PROCS; p++) {
        ck_assert_int_eq(pipe(pipes[p]), 0);
        kids[p] = fork();
        if (kids[p] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            redisContext *c = connect_redis();
            for (int i = 0; i < ROOMS; i++) {
                char room[32];
                snprintf(room, sizeof room, "race-%d", (i + p * 7) % ROOMS);
                signal_place_result_t r = place_on(c, room, "", "", 0);
                char line[64];
                int n = snprintf(line, sizeof line, "%s %s\n", room, r.node);
                if (write(pipes[p][1], line, (size_t)n) != n) _exit(2);
            }
            _exit(0);
        }
        close(pipes[p][1]);
    }
    char seen[ROOMS][16];
    memset(seen, 0, sizeof seen);
    int used_a = 0, used_b = 0;
    for (int p = 0; p < PROCS; p++) {
        FILE *f = fdopen(pipes[p][0], "r");
        char room[32], nd[16];
        int lines = 0;
        while (fscanf(f, "%31s %15s", room, nd) == 2) {
            int i = atoi(room + 5);
            if (!seen[i][0]) {
                snprintf(seen[i], sizeof seen[i], "%s", nd);
                if (strcmp(nd, "a") == 0) used_a++;
                else used_b++;
            }
            ck_assert_msg(strcmp(seen[i], nd) == 0, "%s placed on %s and %s", room, seen[i], nd);
            lines++;
        }
        fclose(f);
        ck_assert_int_eq(lines, ROOMS);
        int st;
        waitpid(kids[p], &st, 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    kill(kids[PROCS], SIGKILL);
    waitpid(kids[PROCS], NULL, 0);
    ck_assert_msg(used_a > 0 && used_b > 0, "loads did not flip during the race (a %d b %d)", used_a, used_b);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * signal_eval on the real async client: EVALSHA, and EVAL after the script cache is flushed.
 */
typedef struct {
    bool connected, done;
    long long value;
    int calls;
} eval_state_t;

static void on_conn(st_redis_t *r, void *user) {
    (void)r;
    ((eval_state_t *)user)->connected = true;
}

static void on_reply(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    eval_state_t *s = user;
    s->calls++;
    s->done = true;
    s->value = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -100;
}

static void run_until(uv_loop_t *loop, const bool *flag) {
    for (int i = 0; i < 400 && !*flag; i++) uv_run(loop, UV_RUN_NOWAIT), usleep(5000);
}

START_TEST(evalsha_falls_back_to_eval) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    eval_state_t st = {0};
    st_redis_options_t o = {.host = "127.0.0.1", .port = redis_port, .on_connect = on_conn, .user = &st};
    st_redis_t *r = st_redis_new(&loop, &o);
    run_until(&loop, &st.connected);
    ck_assert(st.connected);
    const char *reg[] = {"starling:participant:E", "30", "signal", "s1"};
    const char *ref[] = {"starling:participant:E", "s1", "30"};
    for (int round = 0; round < 3; round++) {
        do_cmd("SCRIPT FLUSH"); /* as after a Redis restart */
        st.done = false;
        ck_assert_int_eq(signal_eval(r, &signal_script_register, on_reply, &st, 1, 3, reg), RTC_OK);
        run_until(&loop, &st.done);
        ck_assert_int_eq(st.value, 1);
        st.done = false;
        ck_assert_int_eq(signal_eval(r, &signal_script_refresh, on_reply, &st, 1, 2, ref), RTC_OK);
        run_until(&loop, &st.done);
        ck_assert_int_eq(st.value, 1);
    }
    ck_assert_int_eq(st.calls, 6); /* exactly one callback per call, fallback or not */
    st_redis_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("signal_placement");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, least_loaded_live_up_node_with_room);
    tcase_add_test(tc, no_node_means_none);
    tcase_add_test(tc, placement_sticks_while_loads_change);
    tcase_add_test(tc, dead_node_rooms_move_once);
    tcase_add_test(tc, prefer_and_room_full);
    tcase_add_test(tc, argv_and_reply_parsing);
    tcase_add_test(tc, participant_ownership_scripts);
    tcase_add_test(tc, poll_and_rooms_listing);
    tcase_add_test(tc, concurrent_callers_agree);
    tcase_add_test(tc, evalsha_falls_back_to_eval);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
