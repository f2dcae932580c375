/* common/redis against a real redis-server started here on 127.0.0.1 (free port, killed by
 * PID): commands with binary-safe argv (no injection), errors, AUTH/ACL and SELECT, pub/sub,
 * Redis killed mid-run (disconnected callbacks, NULL replies), restarted (reconnect and
 * automatic resubscribe), down at start (backoff, then connect), frozen with SIGSTOP
 * (command timeout drops and reconnects), a peer that resets connections (noticed at once),
 * freeing the client from inside its own callbacks, and a client configured from the shared
 * redis.* options (st_redis_options_from_config). */
#include <check.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/redis.h"
#include "common/redis_outbox.h"
#include "unit/child_proc.h"

/* ------------------------------------------------------------------------------------------
 * redis-server management.
 */
typedef struct {
    pid_t pid;
    uint16_t port;
    char dir[64];
    char log[96];
} server_t;

/* A raw RESP PING: true once the server answers +PONG (or -NOAUTH: it is up). */
static bool server_answers(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[64] = "";
        if (poll(&p, 1, 500) == 1 && recv(fd, buf, sizeof buf - 1, 0) > 0)
            ok = buf[0] == '+' || strncmp(buf, "-NOAUTH", 7) == 0;
    }
    close(fd);
    return ok;
}

static void server_start(server_t *s, const char *requirepass) {
    if (!s->port) s->port = test_free_port(SOCK_STREAM);
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/st_redis_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(s->dir));
        snprintf(s->log, sizeof s->log, "%s/redis.log", s->dir);
    }
    char port[8];
    snprintf(port, sizeof port, "%u", s->port);
    char *argv[20] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", s->dir, "--daemonize", "no", NULL};
    int n = 13;
    if (requirepass) {
        argv[n++] = "--requirepass";
        argv[n++] = (char *)requirepass;
    }
    argv[n] = NULL;
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 100 && !server_answers(s->port); i++) usleep(50000);
    ck_assert_msg(server_answers(s->port), "redis-server did not start (see %s)", s->log);
}

static void server_kill(server_t *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGCONT);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static void server_cleanup(server_t *s) {
    server_kill(s);
    if (s->dir[0]) {
        unlink(s->log);
        rmdir(s->dir);
    }
}

/* ------------------------------------------------------------------------------------------
 * Loop helpers.
 */
static bool deadline_hit;
static void on_deadline(uv_timer_t *t) { (void)t; deadline_hit = true; }

/* Runs the loop until *flag becomes true or ms pass. Returns *flag. */
static bool run_until(uv_loop_t *loop, const bool *flag, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    deadline_hit = false;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!*flag && !deadline_hit) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

static void run_for(uv_loop_t *loop, uint64_t ms) {
    bool never = false;
    run_until(loop, &never, ms);
}

/* Frees clients and runs the loop until every handle is closed. */
static void finish(uv_loop_t *loop) {
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

typedef struct {
    int connects;
    int disconnects;
    bool connected_flag;
    bool disconnected_flag;
} events_t;

static void on_connect(st_redis_t *r, void *user) {
    (void)r;
    events_t *e = user;
    e->connects++;
    e->connected_flag = true;
}

static void on_disconnect(st_redis_t *r, void *user) {
    (void)r;
    events_t *e = user;
    e->disconnects++;
    e->disconnected_flag = true;
}

static st_redis_t *client(uv_loop_t *loop, uint16_t port, bool subscriber, events_t *ev) {
    st_redis_options_t o = {.name = subscriber ? "sub" : "cmd", .host = "127.0.0.1", .port = port,
                            .subscriber = subscriber, .on_connect = on_connect,
                            .on_disconnect = on_disconnect, .user = ev,
                            .backoff_max_ms = 400,
                            /* Long, so that a failed connect must be noticed from the socket
                             * error itself, not rescued by the timeout. hiredis 0.14's stock
                             * libuv adapter drops that error, and then these tests fail. */
                            .connect_timeout_ms = 60000};
    st_redis_t *r = st_redis_new(loop, &o);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* A reply captured for later checks. */
typedef struct {
    bool done;
    bool null_reply;
    int type;
    long long integer;
    char str[256];
    size_t len;
    size_t elements;
    char items[8][64];
} result_t;

static void capture(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    result_t *res = user;
    res->done = true;
    res->null_reply = reply == NULL;
    if (!reply) return;
    res->type = reply->type;
    res->integer = reply->integer;
    if (reply->str) {
        res->len = reply->len < sizeof res->str ? reply->len : sizeof res->str - 1;
        memcpy(res->str, reply->str, res->len);
    }
    res->elements = reply->elements;
    for (size_t i = 0; i < reply->elements && i < 8; i++) {
        if (reply->element[i]->str)
            snprintf(res->items[i], sizeof res->items[i], "%s", reply->element[i]->str);
    }
}

static result_t cmd(uv_loop_t *loop, st_redis_t *r, int argc, const char **argv, const size_t *lens) {
    result_t res = {0};
    ck_assert_int_eq(st_redis_command_argv(r, capture, &res, argc, argv, lens), RTC_OK);
    ck_assert_msg(run_until(loop, &res.done, 5000), "no reply to %s", argv[0]);
    return res;
}

static void ignore_message(st_redis_t *r, const char *channel, const char *payload, size_t len,
                           void *user) {
    (void)r, (void)channel, (void)payload, (void)len, (void)user;
}

/* ------------------------------------------------------------------------------------------
 * Tests.
 */
START_TEST(commands_are_binary_safe_argv_with_no_injection) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_t *r = client(&loop, srv.port, false, &ev);
    ck_assert(run_until(&loop, &ev.connected_flag, 5000));
    ck_assert(st_redis_is_connected(r));

    /* A key and a value full of protocol characters and a NUL. */
    static const char evil_key[] = "room:\r\n*1\r\n$8\r\nFLUSHALL\r\n";
    static const char value[] = "bin\0ary \"quoted\" \r\n value";
    const char *set[] = {"SET", evil_key, value};
    size_t set_lens[] = {3, sizeof evil_key - 1, sizeof value - 1};
    result_t res = cmd(&loop, r, 3, set, set_lens);
    ck_assert_int_eq(res.type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(res.str, "OK");
    const char *other[] = {"SET", "other", "1"};
    cmd(&loop, r, 3, other, NULL);
    const char *get[] = {"GET", evil_key};
    res = cmd(&loop, r, 2, get, NULL);
    ck_assert_int_eq(res.type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(res.len, sizeof value - 1);
    ck_assert(memcmp(res.str, value, sizeof value - 1) == 0);
    const char *dbsize[] = {"DBSIZE"};
    res = cmd(&loop, r, 1, dbsize, NULL);
    ck_assert_int_eq(res.integer, 2); /* nothing was flushed */

    /* The variadic form, and a hash. */
    result_t h = {0};
    ck_assert_int_eq(st_redis_command(r, capture, &h, "HSET", "node:a", "load", "3", "addr",
                                      "127.0.0.1:4000", NULL), RTC_OK);
    ck_assert(run_until(&loop, &h.done, 5000));
    ck_assert_int_eq(h.integer, 2);
    const char *hget[] = {"HGET", "node:a", "addr"};
    res = cmd(&loop, r, 3, hget, NULL);
    ck_assert_str_eq(res.str, "127.0.0.1:4000");

    /* A Redis error is a reply, not a failure. */
    const char *bad[] = {"NOSUCHCOMMAND", "x"};
    res = cmd(&loop, r, 2, bad, NULL);
    ck_assert_int_eq(res.type, REDIS_REPLY_ERROR);
    ck_assert_ptr_nonnull(strstr(res.str, "unknown command"));

    /* Misuse is refused without a callback. */
    ck_assert_int_eq(st_redis_command_argv(r, capture, &res, 0, get, NULL), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(st_redis_subscribe(r, "ch", ignore_message, NULL), RTC_ERR_STATE);

    /* Many commands in flight at once come back in order. */
    result_t many[50];
    memset(many, 0, sizeof many);
    char vals[50][16];
    for (int i = 0; i < 50; i++) {
        snprintf(vals[i], sizeof vals[i], "%d", i);
        ck_assert_int_eq(st_redis_command(r, capture, &many[i], "ECHO", vals[i], NULL), RTC_OK);
    }
    ck_assert(run_until(&loop, &many[49].done, 5000));
    for (int i = 0; i < 50; i++) ck_assert_str_eq(many[i].str, vals[i]);

    st_redis_free(r);
    finish(&loop);
    ck_assert_int_eq(ev.disconnects, 0); /* freeing is not a disconnect event */
    server_cleanup(&srv);
}
END_TEST

typedef struct {
    int count;
    bool got;
    char channel[64];
    char payload[128];
    size_t len;
} inbox_t;

static void on_message(st_redis_t *r, const char *channel, const char *payload, size_t len,
                       void *user) {
    (void)r;
    inbox_t *in = user;
    in->count++;
    in->got = true;
    snprintf(in->channel, sizeof in->channel, "%s", channel);
    in->len = len < sizeof in->payload ? len : sizeof in->payload;
    memcpy(in->payload, payload, in->len);
}

static long long publish(uv_loop_t *loop, st_redis_t *pub, const char *ch, const char *msg, size_t len) {
    const char *argv[] = {"PUBLISH", ch, msg};
    size_t lens[] = {7, strlen(ch), len};
    return cmd(loop, pub, 3, argv, lens).integer;
}

/* PUBLISH until a subscriber receives it (SUBSCRIBE is asynchronous). */
static void publish_until_received(uv_loop_t *loop, st_redis_t *pub, const char *ch, inbox_t *in) {
    for (int i = 0; i < 100 && !in->got; i++) {
        publish(loop, pub, ch, "ping", 4);
        run_until(loop, &in->got, 50);
    }
    ck_assert_msg(in->got, "no message on %s", ch);
}

START_TEST(pubsub_delivers_and_unsubscribe_stops_delivery) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev_pub = {0}, ev_sub = {0};
    st_redis_t *pub = client(&loop, srv.port, false, &ev_pub);
    st_redis_t *sub = client(&loop, srv.port, true, &ev_sub);
    inbox_t room = {0}, nodes = {0};
    /* Subscribing before the connection is up is fine: it is sent on connect. */
    ck_assert_int_eq(st_redis_subscribe(sub, "room:lobby", on_message, &room), RTC_OK);
    ck_assert_int_eq(st_redis_psubscribe(sub, "node:*", on_message, &nodes), RTC_OK);
    ck_assert_int_eq(st_redis_subscribe(sub, "room:lobby", on_message, &room), RTC_ERR_DUPLICATE);
    ck_assert(run_until(&loop, &ev_pub.connected_flag, 5000));
    ck_assert(run_until(&loop, &ev_sub.connected_flag, 5000));
    ck_assert_int_eq(st_redis_command(sub, NULL, NULL, "PING", NULL), RTC_ERR_STATE);

    publish_until_received(&loop, pub, "room:lobby", &room);
    room.got = false;
    static const char bin[] = "{\"type\":\"offer\"}\0tail";
    ck_assert_int_eq(publish(&loop, pub, "room:lobby", bin, sizeof bin - 1), 1);
    ck_assert(run_until(&loop, &room.got, 5000));
    ck_assert_str_eq(room.channel, "room:lobby");
    ck_assert_uint_eq(room.len, sizeof bin - 1);
    ck_assert(memcmp(room.payload, bin, sizeof bin - 1) == 0);

    ck_assert_int_eq(publish(&loop, pub, "node:b7", "hb", 2), 1);
    ck_assert(run_until(&loop, &nodes.got, 5000));
    ck_assert_str_eq(nodes.channel, "node:b7"); /* the channel, not the pattern */

    ck_assert_int_eq(st_redis_unsubscribe(sub, "room:lobby"), RTC_OK);
    ck_assert_int_eq(st_redis_unsubscribe(sub, "room:lobby"), RTC_ERR_NOT_FOUND);
    int before = room.count;
    /* Redis confirms the unsubscribe; then nobody listens on the channel any more. */
    long long receivers = 1;
    for (int i = 0; i < 100 && receivers != 0; i++) {
        receivers = publish(&loop, pub, "room:lobby", "x", 1);
        run_for(&loop, 20);
    }
    ck_assert_int_eq(receivers, 0);
    ck_assert_int_eq(room.count, before); /* nothing delivered after unsubscribing */
    /* And it can be subscribed again. */
    ck_assert_int_eq(st_redis_subscribe(sub, "room:lobby", on_message, &room), RTC_OK);
    room.got = false;
    publish_until_received(&loop, pub, "room:lobby", &room);

    st_redis_free(pub);
    st_redis_free(sub);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

START_TEST(redis_killed_and_restarted_reconnects_and_resubscribes) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev_pub = {0}, ev_sub = {0};
    st_redis_t *pub = client(&loop, srv.port, false, &ev_pub);
    st_redis_t *sub = client(&loop, srv.port, true, &ev_sub);
    inbox_t in = {0};
    st_redis_subscribe(sub, "bus", on_message, &in);
    ck_assert(run_until(&loop, &ev_pub.connected_flag, 5000));
    ck_assert(run_until(&loop, &ev_sub.connected_flag, 5000));
    publish_until_received(&loop, pub, "bus", &in);

    /* A command in flight when Redis dies gets its callback, with NULL. */
    result_t pending = {0};
    ck_assert_int_eq(st_redis_command(pub, capture, &pending, "BLPOP", "never", "0", NULL), RTC_OK);
    run_for(&loop, 50);
    server_kill(&srv);
    ck_assert(run_until(&loop, &ev_pub.disconnected_flag, 5000));
    ck_assert(run_until(&loop, &ev_sub.disconnected_flag, 5000));
    ck_assert(pending.done && pending.null_reply);
    ck_assert(!st_redis_is_connected(pub));
    result_t refused = {0};
    ck_assert_int_eq(st_redis_command(pub, capture, &refused, "PING", NULL), RTC_ERR_CLOSED);

    /* Down for a while: the clients keep retrying without blocking the loop. */
    run_for(&loop, 700);
    ck_assert(!refused.done);
    ck_assert_int_eq(ev_pub.connects, 1);

    ev_pub.connected_flag = ev_sub.connected_flag = false;
    server_start(&srv, NULL); /* same port */
    ck_assert(run_until(&loop, &ev_pub.connected_flag, 10000));
    ck_assert(run_until(&loop, &ev_sub.connected_flag, 10000));
    ck_assert_int_eq(ev_pub.connects, 2);
    ck_assert_int_eq(ev_sub.connects, 2);
    ck_assert_uint_eq(st_redis_connect_count(sub), 2);
    /* The subscription came back by itself. */
    in.got = false;
    publish_until_received(&loop, pub, "bus", &in);

    st_redis_free(pub);
    st_redis_free(sub);
    finish(&loop);
    ck_assert_int_eq(ev_pub.disconnects, 1);
    server_cleanup(&srv);
}
END_TEST

static void tick(uv_timer_t *t) { (*(int *)t->data)++; }

START_TEST(redis_down_at_start_is_retried_until_it_appears) {
    server_t srv = {0};
    srv.port = test_free_port(SOCK_STREAM); /* nothing listens there yet */
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_t *r = client(&loop, srv.port, false, &ev);
    int ticks = 0;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &ticks;
    uv_timer_start(&t, tick, 10, 10);
    run_for(&loop, 1000);
    ck_assert_int_eq(ev.connects, 0);
    ck_assert_int_gt(ticks, 20); /* the loop kept running while Redis was absent */
    uv_close((uv_handle_t *)&t, NULL);
    server_start(&srv, NULL);
    ck_assert(run_until(&loop, &ev.connected_flag, 10000));
    result_t res = cmd(&loop, r, 1, (const char *[]){"PING"}, NULL);
    ck_assert_str_eq(res.str, "PONG");
    ck_assert_int_eq(ev.disconnects, 0);
    st_redis_free(r);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

START_TEST(frozen_redis_times_out_and_recovers) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_options_t o = {.name = "cmd", .host = "localhost", .port = srv.port,
                            .command_timeout_ms = 300, .connect_timeout_ms = 300,
                            .backoff_max_ms = 200, .on_connect = on_connect,
                            .on_disconnect = on_disconnect, .user = &ev};
    st_redis_t *r = st_redis_new(&loop, &o);
    ck_assert(run_until(&loop, &ev.connected_flag, 5000)); /* "localhost" resolved async */
    kill(srv.pid, SIGSTOP); /* accepts TCP (kernel backlog) but never answers */
    result_t res = {0};
    ck_assert_int_eq(st_redis_command(r, capture, &res, "PING", NULL), RTC_OK);
    ck_assert(run_until(&loop, &res.done, 5000));
    ck_assert(res.null_reply);
    ck_assert(ev.disconnected_flag);
    run_for(&loop, 800); /* reconnects connect, then time out in the handshake */
    ck_assert_int_eq(ev.connects, 1);
    ev.connected_flag = false;
    kill(srv.pid, SIGCONT);
    ck_assert(run_until(&loop, &ev.connected_flag, 10000));
    res = cmd(&loop, r, 1, (const char *[]){"PING"}, NULL);
    ck_assert_str_eq(res.str, "PONG");
    st_redis_free(r);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

/* A thread that was not scheduled for longer than the command timeout (a loaded machine)
 * comes back with the reply already waiting in the socket: that is a live Redis, and the
 * connection (with whatever else is in flight) must not be dropped. libuv runs timers before
 * reading sockets, so the timeout check has to look at the socket first. */
START_TEST(a_starved_loop_is_not_a_dead_redis) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_options_t o = {.name = "cmd", .host = "127.0.0.1", .port = srv.port,
                            .command_timeout_ms = 300, .on_connect = on_connect,
                            .on_disconnect = on_disconnect, .user = &ev};
    st_redis_t *r = st_redis_new(&loop, &o);
    ck_assert(run_until(&loop, &ev.connected_flag, 5000));
    for (int i = 0; i < 3; i++) {
        result_t res = {0};
        ck_assert_int_eq(st_redis_command(r, capture, &res, "PING", NULL), RTC_OK);
        uv_run(&loop, UV_RUN_ONCE); /* the command is written; its reply not read yet */
        usleep(800 * 1000);         /* starved: the reply arrives, the deadline passes */
        ck_assert(run_until(&loop, &res.done, 5000));
        ck_assert_msg(!res.null_reply, "round %d: the connection was dropped", i);
        ck_assert_str_eq(res.str, "PONG");
    }
    ck_assert_int_eq(ev.disconnects, 0);
    ck_assert_int_eq(ev.connects, 1);
    st_redis_free(r);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

/* The outbox (common/redis_outbox.h): PUBLISHes in flight when a hung Redis is dropped, and
 * those made while it is away, reach the subscriber once it is back, in order. */
typedef struct {
    char first[8][8];  /* payloads in order of first arrival */
    int n_first, total;
} order_t;

static void on_ordered(st_redis_t *r, const char *channel, const char *payload, size_t len, void *user) {
    (void)r, (void)channel;
    order_t *o = user;
    o->total++;
    char p[8];
    snprintf(p, sizeof p, "%.*s", (int)(len < 7 ? len : 7), payload);
    for (int i = 0; i < o->n_first; i++)
        if (!strcmp(o->first[i], p)) return; /* a duplicate: delivery is at least once */
    if (o->n_first < 8) snprintf(o->first[o->n_first++], sizeof o->first[0], "%s", p);
}

static st_redis_outbox_t *flush_on_connect;
static void on_connect_flush(st_redis_t *r, void *user) {
    on_connect(r, user);
    st_redis_outbox_flush(flush_on_connect);
}

START_TEST(outbox_keeps_messages_across_a_hung_redis) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev_pub = {0}, ev_sub = {0};
    st_redis_options_t o = {.name = "cmd", .host = "127.0.0.1", .port = srv.port,
                            .command_timeout_ms = 300, .connect_timeout_ms = 300,
                            .backoff_max_ms = 200, .on_connect = on_connect_flush,
                            .on_disconnect = on_disconnect, .user = &ev_pub};
    st_redis_t *pub = st_redis_new(&loop, &o);
    st_redis_outbox_t *ob = st_redis_outbox_new(pub, &(st_redis_outbox_options_t){.name = "test"});
    flush_on_connect = ob;
    st_redis_t *sub = client(&loop, srv.port, true, &ev_sub);
    inbox_t ready = {0};
    order_t got = {0};
    ck_assert_int_eq(st_redis_subscribe(sub, "ready", on_message, &ready), RTC_OK);
    ck_assert_int_eq(st_redis_subscribe(sub, "out", on_ordered, &got), RTC_OK);
    ck_assert(run_until(&loop, &ev_pub.connected_flag, 5000));
    ck_assert(run_until(&loop, &ev_sub.connected_flag, 5000));
    publish_until_received(&loop, pub, "ready", &ready); /* both subscriptions are in */

    st_redis_outbox_publish(ob, "out", "m0");
    for (int i = 0; i < 100 && got.n_first < 1; i++) run_for(&loop, 20);
    ck_assert_int_eq(got.n_first, 1);

    kill(srv.pid, SIGSTOP);
    st_redis_outbox_publish(ob, "out", "m1"); /* in flight when the timeout drops the connection */
    st_redis_outbox_publish(ob, "out", "m2");
    ck_assert(run_until(&loop, &ev_pub.disconnected_flag, 5000));
    st_redis_outbox_publish(ob, "out", "m3"); /* while it is away */
    st_redis_outbox_publish(ob, "out", "m4");
    st_redis_outbox_stats_t st;
    st_redis_outbox_stats(ob, &st);
    ck_assert_uint_eq(st.retried, 2);
    ck_assert_uint_eq(st.queued, 4);
    run_for(&loop, 400); /* reconnect attempts time out in the handshake */
    kill(srv.pid, SIGCONT);
    for (int i = 0; i < 500 && got.n_first < 5; i++) run_for(&loop, 20);
    ck_assert_int_eq(got.n_first, 5);
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%d", i);
        ck_assert_str_eq(got.first[i], want);
    }
    st_redis_outbox_stats(ob, &st);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_int_ge(ev_pub.connects, 2);

    st_redis_free(pub);
    st_redis_outbox_free(ob);
    st_redis_free(sub);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

/* Bounded: beyond max_msgs the oldest are dropped (and counted), never the newest. */
START_TEST(outbox_is_bounded) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_t *r = client(&loop, test_free_port(SOCK_STREAM), false, &ev); /* nothing listens there */
    st_redis_outbox_t *ob = st_redis_outbox_new(r, &(st_redis_outbox_options_t){.max_msgs = 3});
    for (int i = 0; i < 5; i++) st_redis_outbox_publish(ob, "out", "x");
    st_redis_outbox_stats_t st;
    st_redis_outbox_stats(ob, &st);
    ck_assert_uint_eq(st.queued, 3);
    ck_assert_uint_eq(st.dropped, 2);
    ck_assert_uint_eq(st.published, 0);
    st_redis_free(r);
    st_redis_outbox_free(ob);
    finish(&loop);
}
END_TEST

START_TEST(auth_acl_user_and_select) {
    server_t srv = {0};
    server_start(&srv, "topsecret");
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t bad_ev = {0}, ev = {0}, ev3 = {0}, acl_ev = {0};
    st_redis_options_t bad = {.name = "bad", .port = srv.port, .password = "wrong",
                              .on_connect = on_connect, .user = &bad_ev};
    st_redis_t *rb = st_redis_new(&loop, &bad);
    st_redis_options_t good = {.name = "good", .port = srv.port, .password = "topsecret",
                               .on_connect = on_connect, .user = &ev};
    st_redis_t *rg = st_redis_new(&loop, &good);
    st_redis_options_t db3 = {.name = "db3", .port = srv.port, .password = "topsecret", .db = 3,
                              .on_connect = on_connect, .user = &ev3};
    st_redis_t *r3 = st_redis_new(&loop, &db3);
    ck_assert(run_until(&loop, &ev.connected_flag, 5000));
    ck_assert(run_until(&loop, &ev3.connected_flag, 5000));
    run_for(&loop, 300);
    ck_assert_int_eq(bad_ev.connects, 0); /* refused AUTH never becomes ready */
    ck_assert(!st_redis_is_connected(rb));

    cmd(&loop, r3, 3, (const char *[]){"SET", "where", "db3"}, NULL);
    result_t res = cmd(&loop, rg, 2, (const char *[]){"GET", "where"}, NULL);
    ck_assert_int_eq(res.type, REDIS_REPLY_NIL);
    res = cmd(&loop, r3, 2, (const char *[]){"GET", "where"}, NULL);
    ck_assert_str_eq(res.str, "db3");

    /* An ACL user (Redis 6+): AUTH username password. */
    res = cmd(&loop, rg, 7, (const char *[]){"ACL", "SETUSER", "starling", "on", ">pw2", "~*", "+@all"}, NULL);
    ck_assert_str_eq(res.str, "OK");
    st_redis_options_t acl = {.name = "acl", .port = srv.port, .username = "starling",
                              .password = "pw2", .on_connect = on_connect, .user = &acl_ev};
    st_redis_t *ra = st_redis_new(&loop, &acl);
    ck_assert(run_until(&loop, &acl_ev.connected_flag, 5000));
    res = cmd(&loop, ra, 2, (const char *[]){"ACL", "WHOAMI"}, NULL);
    ck_assert_str_eq(res.str, "starling");

    st_redis_free(rb);
    st_redis_free(rg);
    st_redis_free(r3);
    st_redis_free(ra);
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

/* The redis.* options a service is configured with (here from flags, as an operator would
 * give them) reach the client through st_redis_options_from_config: the ACL user and
 * password are accepted, and the client writes to the configured database. */
typedef struct {
    st_common_config_t common;
} redis_only_cfg_t;

START_TEST(client_from_common_config_uses_every_redis_option) {
    server_t srv = {0};
    server_start(&srv, "topsecret");
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t admin_ev = {0}, cfg_ev = {0};
    st_redis_options_t admin = {.name = "admin", .port = srv.port, .password = "topsecret",
                                .db = 5, .on_connect = on_connect, .user = &admin_ev};
    st_redis_t *ra = st_redis_new(&loop, &admin);
    ck_assert(run_until(&loop, &admin_ev.connected_flag, 5000));
    result_t res = cmd(&loop, ra, 7, (const char *[]){"ACL", "SETUSER", "svc", "on", ">svcpw", "~*", "+@all"}, NULL);
    ck_assert_str_eq(res.str, "OK");

    static const st_config_spec_t spec = {"svc", "redis options only", NULL, 0, 1,
                                          offsetof(redis_only_cfg_t, common)};
    char port[32];
    snprintf(port, sizeof port, "--redis.port=%u", srv.port);
    char *argv[] = {"svc", "--redis.host=127.0.0.1", port, "--redis.username=svc",
                    "--redis.password=svcpw", "--redis.db=5", "--redis.connect_timeout=1500ms",
                    "--redis.command_timeout=2500ms", "--redis.reconnect_max=700ms", NULL};
    redis_only_cfg_t cfg = {0};
    st_config_error_t err;
    ck_assert_int_eq(st_config_load(&spec, 9, argv, NULL, &cfg, &err), RTC_OK);

    st_redis_options_t o;
    memset(&o, 0xAB, sizeof o); /* whatever was there before is replaced */
    st_redis_options_from_config(&o, &cfg.common);
    ck_assert_uint_eq(o.connect_timeout_ms, 1500);
    ck_assert_uint_eq(o.command_timeout_ms, 2500);
    ck_assert_uint_eq(o.backoff_max_ms, 700);
    ck_assert(!o.subscriber);
    ck_assert_ptr_null(o.name);
    ck_assert_ptr_null(o.on_connect);
    o.name = "from-config";
    o.on_connect = on_connect;
    o.user = &cfg_ev;
    st_redis_t *rc = st_redis_new(&loop, &o);
    ck_assert_ptr_nonnull(rc);
    ck_assert(run_until(&loop, &cfg_ev.connected_flag, 5000));
    res = cmd(&loop, rc, 2, (const char *[]){"ACL", "WHOAMI"}, NULL);
    ck_assert_str_eq(res.str, "svc");
    cmd(&loop, rc, 3, (const char *[]){"SET", "configured", "db5"}, NULL);
    res = cmd(&loop, ra, 2, (const char *[]){"GET", "configured"}, NULL);
    ck_assert_str_eq(res.str, "db5");

    st_redis_free(ra);
    st_redis_free(rc);
    finish(&loop);
    st_config_free(&spec, &cfg);
    server_cleanup(&srv);
}
END_TEST

/* A TCP peer that accepts and immediately resets (RST via SO_LINGER 0): every attempt fails
 * at once and is retried on the backoff schedule, never waiting for the (long) timeouts. */
typedef struct {
    uv_tcp_t server;
    int accepts;
} resetter_t;

static void free_handle(uv_handle_t *h) { free(h); }

static void on_reset_conn(uv_stream_t *s, int status) {
    resetter_t *rs = s->data;
    if (status < 0) return;
    uv_tcp_t *c = malloc(sizeof *c);
    uv_tcp_init(s->loop, c);
    if (uv_accept(s, (uv_stream_t *)c) == 0) {
        rs->accepts++;
        uv_os_fd_t fd;
        uv_fileno((uv_handle_t *)c, &fd);
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    uv_close((uv_handle_t *)c, free_handle);
}

START_TEST(reset_connections_are_noticed_immediately) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    resetter_t rs = {0};
    uv_tcp_init(&loop, &rs.server);
    rs.server.data = &rs;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(uv_tcp_bind(&rs.server, (struct sockaddr *)&a, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&rs.server, 16, on_reset_conn), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&rs.server, (struct sockaddr *)&a, &len);
    events_t ev = {0};
    st_redis_options_t o = {.name = "cmd", .port = ntohs(a.sin_port), .command_timeout_ms = 60000,
                            .connect_timeout_ms = 60000, .backoff_max_ms = 100,
                            .on_connect = on_connect, .user = &ev};
    st_redis_t *r = st_redis_new(&loop, &o);
    run_for(&loop, 2000);
    ck_assert_msg(rs.accepts >= 3, "only %d connection attempts: a reset went unnoticed", rs.accepts);
    ck_assert_int_eq(ev.connects, 0);
    st_redis_free(r);
    uv_close((uv_handle_t *)&rs.server, NULL);
    finish(&loop);
}
END_TEST

typedef struct {
    st_redis_t *r;
    int calls;
} self_free_t;

static void free_in_callback(st_redis_t *r, const redisReply *reply, void *user) {
    (void)reply;
    self_free_t *s = user;
    s->calls++;
    st_redis_free(r); /* from inside the client's own callback */
    ck_assert_int_eq(st_redis_command(r, NULL, NULL, "PING", NULL), RTC_ERR_CLOSED);
}

static void free_on_connect(st_redis_t *r, void *user) {
    (*(int *)user)++;
    st_redis_free(r);
}

START_TEST(freeing_inside_callbacks_is_safe) {
    server_t srv = {0};
    server_start(&srv, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    events_t ev = {0};
    st_redis_t *r = client(&loop, srv.port, false, &ev);
    ck_assert(run_until(&loop, &ev.connected_flag, 5000));
    self_free_t s = {r, 0};
    result_t second = {0};
    ck_assert_int_eq(st_redis_command(r, free_in_callback, &s, "PING", NULL), RTC_OK);
    ck_assert_int_eq(st_redis_command(r, capture, &second, "PING", NULL), RTC_OK);
    finish(&loop); /* runs until the client is gone */
    ck_assert_int_eq(s.calls, 1);
    ck_assert(second.done); /* the other pending command still got its (NULL) callback */

    uv_loop_init(&loop);
    int n = 0;
    st_redis_options_t o = {.port = srv.port, .on_connect = free_on_connect, .user = &n};
    st_redis_new(&loop, &o);
    finish(&loop);
    ck_assert_int_eq(n, 1);

    /* Freed while still resolving / connecting. */
    uv_loop_init(&loop);
    st_redis_options_t early = {.host = "localhost", .port = srv.port};
    st_redis_free(st_redis_new(&loop, &early));
    finish(&loop);
    server_cleanup(&srv);
}
END_TEST

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("common_redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, commands_are_binary_safe_argv_with_no_injection);
    tcase_add_test(tc, pubsub_delivers_and_unsubscribe_stops_delivery);
    tcase_add_test(tc, redis_killed_and_restarted_reconnects_and_resubscribes);
    tcase_add_test(tc, redis_down_at_start_is_retried_until_it_appears);
    tcase_add_test(tc, frozen_redis_times_out_and_recovers);
    tcase_add_test(tc, a_starved_loop_is_not_a_dead_redis);
    tcase_add_test(tc, outbox_keeps_messages_across_a_hung_redis);
    tcase_add_test(tc, outbox_is_bounded);
    tcase_add_test(tc, auth_acl_user_and_select);
    tcase_add_test(tc, client_from_common_config_uses_every_redis_option);
    tcase_add_test(tc, reset_connections_are_noticed_immediately);
    tcase_add_test(tc, freeing_inside_callbacks_is_safe);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
