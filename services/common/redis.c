/* Reconnecting Redis client over hiredis async on libuv.
 *
 * States: DOWN -> RESOLVING (uv_getaddrinfo) -> CONNECTING (non-blocking connect, with a
 * timer) -> HANDSHAKE (AUTH / SELECT / PING pipelined) -> READY. Any failure goes back to
 * DOWN and a backoff timer starts the next attempt. CLOSING is final.
 *
 * hiredis calls us back from inside redisAsyncHandleRead/Write, and freeing a context from
 * inside one of its callbacks is not allowed. So decisions taken inside callbacks (drop this
 * connection, free this client) are recorded and carried out by settle() once the outermost
 * callback has returned (`depth` counts the nesting).
 *
 * The libuv glue is our own rather than <hiredis/adapters/libuv.h>: the adapter shipped with
 * hiredis 0.14 (Debian 12) ignores poll callbacks whose status is an error, and libuv reports
 * a socket error (a refused connect, a reset connection) exactly that way, after stopping the
 * poll handle. The connection then hangs forever without hiredis noticing. The glue below is
 * the same adapter with the fix later hiredis releases made: on an error status, let hiredis
 * read/write so that it sees the error itself. */
#include "common/redis.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ARGS 64

typedef enum { R_DOWN, R_RESOLVING, R_CONNECTING, R_HANDSHAKE, R_READY, R_CLOSING } rstate_t;

typedef struct cmd {
    struct cmd *next, *prev;
    st_redis_t *r;
    st_redis_reply_fn fn;
    void *user;
    uint64_t deadline; /* uv_now() milliseconds */
} cmd_t;

typedef struct sub {
    struct sub *next;
    char *name;
    bool pattern;
    bool removed; /* unsubscribed: deliver nothing; freed once hiredis no longer points here */
    bool sent;    /* (P)SUBSCRIBE sent on the current connection: hiredis holds our pointer */
    st_redis_message_fn fn;
    void *user;
    st_redis_t *r;
} sub_t;

typedef struct {
    redisAsyncContext *ac;
    st_redis_t *r;
    uv_poll_t poll;
    int events;
} glue_t;

struct st_redis {
    uv_loop_t *loop;
    st_redis_options_t opt;
    rstate_t state;
    redisAsyncContext *ac;
    uv_timer_t timer; /* connect timeout, backoff, or command deadline ticks */
    uv_getaddrinfo_t gai;
    bool resolving;
    bool timer_closed;
    cmd_t *pending_head, *pending_tail;
    sub_t *subs;
    int handshake_left;
    bool handshake_failed;
    uint64_t backoff;
    uint64_t connects;
    unsigned failures;
    int depth;
    bool dropping;
    const char *drop_why;
    bool free_requested;
    bool torn_down;
    char addr[80];
};

static void settle(st_redis_t *r);
static void start_attempt(st_redis_t *r);

/* ------------------------------------------------------------------------------------------
 * libuv glue for hiredis (see the comment at the top).
 */
static void glue_poll_cb(uv_poll_t *h, int status, int events) {
    glue_t *g = h->data;
    st_redis_t *r = g->r;
    int ev = status < 0 ? g->events : events;
    r->depth++;
    if (g->ac && (ev & UV_READABLE)) redisAsyncHandleRead(g->ac);
    if (g->ac && (ev & UV_WRITABLE)) redisAsyncHandleWrite(g->ac);
    r->depth--;
    settle(r);
}

static void glue_update(glue_t *g) {
    if (g->events) uv_poll_start(&g->poll, g->events, glue_poll_cb);
    else uv_poll_stop(&g->poll);
}

static void glue_add_read(void *p) { glue_t *g = p; g->events |= UV_READABLE; glue_update(g); }
static void glue_del_read(void *p) { glue_t *g = p; g->events &= ~UV_READABLE; glue_update(g); }
static void glue_add_write(void *p) { glue_t *g = p; g->events |= UV_WRITABLE; glue_update(g); }
static void glue_del_write(void *p) { glue_t *g = p; g->events &= ~UV_WRITABLE; glue_update(g); }

static void glue_closed(uv_handle_t *h) { free(h->data); }

static void glue_cleanup(void *p) {
    glue_t *g = p;
    g->ac = NULL;
    uv_close((uv_handle_t *)&g->poll, glue_closed);
}

static int glue_attach(st_redis_t *r, redisAsyncContext *ac) {
    glue_t *g = calloc(1, sizeof *g);
    if (!g) return -1;
    if (uv_poll_init(r->loop, &g->poll, ac->c.fd) != 0) {
        free(g);
        return -1;
    }
    g->ac = ac;
    g->r = r;
    g->poll.data = g;
    ac->ev.data = g;
    ac->ev.addRead = glue_add_read;
    ac->ev.delRead = glue_del_read;
    ac->ev.addWrite = glue_add_write;
    ac->ev.delWrite = glue_del_write;
    ac->ev.cleanup = glue_cleanup;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Pending commands.
 */
static void pending_unlink(st_redis_t *r, cmd_t *c) {
    if (c->prev) c->prev->next = c->next;
    else r->pending_head = c->next;
    if (c->next) c->next->prev = c->prev;
    else r->pending_tail = c->prev;
    c->next = c->prev = NULL;
}

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    cmd_t *c = privdata;
    st_redis_t *r = c->r;
    pending_unlink(r, c);
    if (c->fn) {
        r->depth++;
        c->fn(r, reply, c->user);
        r->depth--;
    }
    free(c);
}

static int send_argv(st_redis_t *r, st_redis_reply_fn fn, void *user, int argc,
                     const char *const *argv, const size_t *argvlen) {
    if (!r->ac) return RTC_ERR_CLOSED;
    cmd_t *c = calloc(1, sizeof *c);
    if (!c) return RTC_ERR_NOMEM;
    c->r = r;
    c->fn = fn;
    c->user = user;
    c->deadline = uv_now(r->loop) + r->opt.command_timeout_ms;
    c->prev = r->pending_tail;
    if (r->pending_tail) r->pending_tail->next = c;
    else r->pending_head = c;
    r->pending_tail = c;
    if (redisAsyncCommandArgv(r->ac, on_cmd_reply, c, argc, (const char **)argv, argvlen) != REDIS_OK) {
        pending_unlink(r, c);
        free(c);
        return RTC_ERR_CLOSED;
    }
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Subscriptions.
 */
static void free_sub(st_redis_t *r, sub_t *s) {
    for (sub_t **pp = &r->subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    free(s->name);
    free(s);
}

static bool str_elem(const redisReply *e) {
    return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sub_t *s = privdata;
    const redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 || !str_elem(rep->element[0]))
        return; /* NULL: the connection is going away; went_down() tidies up */
    const char *kind = rep->element[0]->str;
    st_redis_t *r = s->r;
    const redisReply *chan, *payload;
    if (strcmp(kind, "message") == 0) {
        chan = rep->element[1];
        payload = rep->element[2];
    } else if (strcmp(kind, "pmessage") == 0 && rep->elements >= 4) {
        chan = rep->element[2];
        payload = rep->element[3];
    } else {
        if ((strcmp(kind, "unsubscribe") == 0 || strcmp(kind, "punsubscribe") == 0) && s->removed)
            free_sub(r, s); /* hiredis has just dropped its pointer to s */
        return;
    }
    if (s->removed || !s->fn || !str_elem(chan) || !str_elem(payload)) return;
    r->depth++;
    s->fn(r, chan->str, payload->str, payload->len, s->user);
    r->depth--;
}

static void send_sub(st_redis_t *r, sub_t *s) {
    const char *argv[2] = {s->pattern ? "PSUBSCRIBE" : "SUBSCRIBE", s->name};
    if (r->ac && redisAsyncCommandArgv(r->ac, on_sub_reply, s, 2, argv, NULL) == REDIS_OK)
        s->sent = true;
}

static int add_sub(st_redis_t *r, const char *name, bool pattern, st_redis_message_fn fn,
                   void *user) {
    if (!r || !name || !fn) return RTC_ERR_INVALID_ARG;
    if (!r->opt.subscriber || r->state == R_CLOSING) return RTC_ERR_STATE;
    sub_t **tail = &r->subs;
    for (sub_t *s = r->subs; s; s = s->next) {
        if (s->pattern == pattern && strcmp(s->name, name) == 0)
            return s->removed ? RTC_ERR_AGAIN : RTC_ERR_DUPLICATE;
        tail = &s->next;
    }
    sub_t *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return RTC_ERR_NOMEM;
    }
    s->pattern = pattern;
    s->fn = fn;
    s->user = user;
    s->r = r;
    *tail = s;
    if (r->state == R_READY) send_sub(r, s);
    return RTC_OK;
}

static int remove_sub(st_redis_t *r, const char *name, bool pattern) {
    if (!r || !name) return RTC_ERR_INVALID_ARG;
    for (sub_t *s = r->subs; s; s = s->next) {
        if (s->removed || s->pattern != pattern || strcmp(s->name, name) != 0) continue;
        s->removed = true;
        if (!s->sent) {
            free_sub(r, s);
        } else if (r->ac && r->state == R_READY) {
            const char *argv[2] = {pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", name};
            /* hiredis routes the confirmation to the entry of the SUBSCRIBE, i.e. to s. */
            redisAsyncCommandArgv(r->ac, NULL, NULL, 2, argv, NULL);
        }
        return RTC_OK;
    }
    return RTC_ERR_NOT_FOUND;
}

int st_redis_subscribe(st_redis_t *r, const char *channel, st_redis_message_fn fn, void *user) {
    return add_sub(r, channel, false, fn, user);
}
int st_redis_psubscribe(st_redis_t *r, const char *pattern, st_redis_message_fn fn, void *user) {
    return add_sub(r, pattern, true, fn, user);
}
int st_redis_unsubscribe(st_redis_t *r, const char *channel) { return remove_sub(r, channel, false); }
int st_redis_punsubscribe(st_redis_t *r, const char *pattern) { return remove_sub(r, pattern, true); }

/* ------------------------------------------------------------------------------------------
 * Connection life cycle.
 */
static void on_retry(uv_timer_t *t) {
    st_redis_t *r = t->data;
    if (r->state == R_DOWN) start_attempt(r);
    settle(r);
}

static void schedule_retry(st_redis_t *r) {
    if (r->free_requested || r->state == R_CLOSING) return;
    /* Jitter of +-20% keeps a fleet of services from reconnecting in lock-step. */
    uint64_t d = r->backoff;
    uint64_t spread = d * 2 / 5;
    if (spread) d = d - d / 5 + rtc_random_uniform((uint32_t)(spread > UINT32_MAX ? UINT32_MAX : spread));
    r->backoff = r->backoff * 2 > r->opt.backoff_max_ms ? r->opt.backoff_max_ms : r->backoff * 2;
    uv_timer_start(&r->timer, on_retry, d, 0);
}

static void attempt_failed(st_redis_t *r, const char *why) {
    r->state = R_DOWN;
    r->failures++;
    if (r->failures == 1 || r->failures % 20 == 0)
        RTC_LOGW("redis", "%s: cannot connect to %s (attempt %u): %s; retrying", r->opt.name,
                 r->addr, r->failures, why);
    else
        RTC_LOGD("redis", "%s: connect attempt %u to %s failed: %s", r->opt.name, r->failures,
                 r->addr, why);
    schedule_retry(r);
}

/* The connection is gone (hiredis has run every pending callback with NULL). */
static void went_down(st_redis_t *r, bool was_ready, const char *why) {
    r->ac = NULL;
    r->state = R_DOWN;
    r->drop_why = NULL;
    uv_timer_stop(&r->timer);
    for (sub_t *s = r->subs, *next; s; s = next) {
        next = s->next;
        s->sent = false;
        if (s->removed) free_sub(r, s);
    }
    if (!was_ready) {
        attempt_failed(r, why);
        return;
    }
    RTC_LOGW("redis", "%s: lost connection to %s: %s; reconnecting", r->opt.name, r->addr, why);
    if (r->opt.on_disconnect) {
        r->depth++;
        r->opt.on_disconnect(r, r->opt.user);
        r->depth--;
    }
    schedule_retry(r);
}

/* Drops the current connection on our own initiative. Only at depth 0. */
static void drop(st_redis_t *r, const char *why) {
    bool was_ready = r->state == R_READY;
    r->state = R_DOWN;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    if (ac) {
        r->dropping = true;
        r->depth++;
        redisAsyncFree(ac);
        r->depth--;
        r->dropping = false;
    }
    went_down(r, was_ready, why);
}

/* Timers run before I/O in a libuv loop turn: after the thread was starved for longer than
 * the command timeout (a loaded machine), the tick would find an expired deadline while the
 * reply sits unread in the socket, and drop a healthy connection — losing whatever was in
 * flight. So read what is already waiting first (without blocking), then judge. */
static void read_waiting(st_redis_t *r) {
    if (!r->ac || r->ac->c.fd < 0) return;
    struct pollfd p = {.fd = r->ac->c.fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
    r->depth++;
    redisAsyncHandleRead(r->ac);
    r->depth--;
}

static void on_tick(uv_timer_t *t) {
    st_redis_t *r = t->data;
    if (r->pending_head && uv_now(r->loop) >= r->pending_head->deadline) read_waiting(r);
    if (r->ac && !r->drop_why && r->pending_head && uv_now(r->loop) >= r->pending_head->deadline) {
        char why[96];
        snprintf(why, sizeof why, "no reply within %llums",
                 (unsigned long long)r->opt.command_timeout_ms);
        drop(r, why);
    }
    settle(r);
}

static void on_ready(st_redis_t *r) {
    r->state = R_READY;
    r->connects++;
    r->backoff = r->opt.backoff_min_ms;
    if (r->failures || r->connects > 1)
        RTC_LOGI("redis", "%s: connected to %s (after %u failed attempts)", r->opt.name, r->addr,
                 r->failures);
    else
        RTC_LOGI("redis", "%s: connected to %s", r->opt.name, r->addr);
    r->failures = 0;
    for (sub_t *s = r->subs; s; s = s->next) {
        if (!s->removed) send_sub(r, s);
    }
    if (r->opt.on_connect) {
        r->depth++;
        r->opt.on_connect(r, r->opt.user);
        r->depth--;
    }
}

static void on_handshake_reply(st_redis_t *r, const redisReply *reply, void *user) {
    const char *what = user;
    if (r->state != R_HANDSHAKE) return;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        /* Logged on the first failed attempt and every 20th, like connection failures. */
        if (!r->handshake_failed && r->failures % 20 == 0)
            RTC_LOGE("redis", "%s: %s refused by %s: %s", r->opt.name, what, r->addr,
                     reply && reply->str ? reply->str : "no reply");
        r->handshake_failed = true;
    }
    if (--r->handshake_left > 0) return;
    if (r->handshake_failed) r->drop_why = "connection set-up refused";
    else on_ready(r);
}

static void send_handshake(st_redis_t *r) {
    r->handshake_left = 0;
    r->handshake_failed = false;
    if (r->opt.password && *r->opt.password) {
        const char *argv[3] = {"AUTH", r->opt.username, r->opt.password};
        bool user = r->opt.username && *r->opt.username;
        if (!user) argv[1] = r->opt.password;
        if (send_argv(r, on_handshake_reply, (void *)"AUTH", user ? 3 : 2, argv, NULL) == RTC_OK)
            r->handshake_left++;
    }
    if (r->opt.db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->opt.db);
        const char *argv[2] = {"SELECT", db};
        if (send_argv(r, on_handshake_reply, (void *)"SELECT", 2, argv, NULL) == RTC_OK)
            r->handshake_left++;
    }
    /* PING proves the server answers commands (not just accepts connections). */
    const char *argv[1] = {"PING"};
    if (send_argv(r, on_handshake_reply, (void *)"PING", 1, argv, NULL) == RTC_OK)
        r->handshake_left++;
    else
        r->drop_why = "cannot send commands";
}

static void on_connect_cb(const redisAsyncContext *ac, int status) {
    st_redis_t *r = ac->data;
    if (!r || r->state != R_CONNECTING) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context when we return. */
        r->ac = NULL;
        uv_timer_stop(&r->timer);
        attempt_failed(r, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    r->state = R_HANDSHAKE;
    redisEnableKeepAlive((redisContext *)&ac->c);
    uint64_t tick = r->opt.command_timeout_ms / 4;
    if (tick < 10) tick = 10;
    if (tick > 500) tick = 500;
    uv_timer_start(&r->timer, on_tick, tick, tick);
    send_handshake(r);
}

static void on_disconnect_cb(const redisAsyncContext *ac, int status) {
    (void)status;
    st_redis_t *r = ac->data;
    if (!r || r->dropping || r->state == R_CLOSING) return;
    bool was_ready = r->state == R_READY;
    went_down(r, was_ready, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void on_connect_timeout(uv_timer_t *t) {
    st_redis_t *r = t->data;
    if (r->state == R_CONNECTING) {
        char why[64];
        snprintf(why, sizeof why, "no connection within %llums",
                 (unsigned long long)r->opt.connect_timeout_ms);
        drop(r, why);
    }
    settle(r);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    st_redis_t *r = req->data;
    r->resolving = false;
    if (r->state != R_RESOLVING) { /* closing */
        uv_freeaddrinfo(res);
        settle(r);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        char why[128];
        snprintf(why, sizeof why, "cannot resolve %s: %s", r->opt.host, uv_strerror(status));
        attempt_failed(r, why);
        settle(r);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
    else if (res->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);

    redisAsyncContext *ac = redisAsyncConnect(ip, r->opt.port);
    if (!ac || ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        attempt_failed(r, why);
        settle(r);
        return;
    }
    ac->data = r;
    if (glue_attach(r, ac) != 0) {
        redisAsyncFree(ac);
        attempt_failed(r, "cannot watch the socket");
        settle(r);
        return;
    }
    r->ac = ac;
    r->state = R_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect_cb); /* needs the glue attached first */
    redisAsyncSetDisconnectCallback(ac, on_disconnect_cb);
    uv_timer_start(&r->timer, on_connect_timeout, r->opt.connect_timeout_ms, 0);
    settle(r);
}

static void start_attempt(st_redis_t *r) {
    r->state = R_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    int rc = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->opt.host, NULL, &hints);
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot resolve %s: %s", r->opt.host, uv_strerror(rc));
        attempt_failed(r, why);
        return;
    }
    r->resolving = true;
}

/* ------------------------------------------------------------------------------------------
 * Creation and teardown.
 */
static void maybe_release(st_redis_t *r) {
    if (!r->timer_closed || r->resolving) return;
    free((char *)r->opt.name);
    free((char *)r->opt.host);
    free((char *)r->opt.username);
    free((char *)r->opt.password);
    free(r);
}

static void on_timer_closed(uv_handle_t *h) {
    st_redis_t *r = h->data;
    r->timer_closed = true;
    maybe_release(r);
}

static void teardown(st_redis_t *r) {
    if (r->torn_down) return;
    r->torn_down = true;
    r->state = R_CLOSING;
    uv_timer_stop(&r->timer);
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    if (ac) {
        r->depth++;
        redisAsyncFree(ac); /* pending callbacks run with NULL; on_disconnect_cb ignores it */
        r->depth--;
    }
    while (r->subs) free_sub(r, r->subs);
    while (r->pending_head) { /* not expected: hiredis ran them all */
        cmd_t *c = r->pending_head;
        pending_unlink(r, c);
        free(c);
    }
    if (r->resolving) uv_cancel((uv_req_t *)&r->gai); /* on_resolved still runs */
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void settle(st_redis_t *r) {
    if (r->depth > 0) return;
    if (r->torn_down) {
        maybe_release(r);
        return;
    }
    if (r->drop_why && r->ac && !r->free_requested) drop(r, r->drop_why);
    r->drop_why = NULL;
    if (r->free_requested) teardown(r);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

st_redis_t *st_redis_new(uv_loop_t *loop, const st_redis_options_t *opts) {
    if (!loop || !opts) return NULL;
    st_redis_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->opt = *opts;
    r->opt.name = strdup(opts->name ? opts->name : "redis");
    r->opt.host = strdup(opts->host && *opts->host ? opts->host : "127.0.0.1");
    r->opt.username = dup_or_null(opts->username);
    r->opt.password = dup_or_null(opts->password);
    if (!r->opt.port) r->opt.port = 6379;
    if (!r->opt.connect_timeout_ms) r->opt.connect_timeout_ms = 2000;
    if (!r->opt.command_timeout_ms) r->opt.command_timeout_ms = 2000;
    if (!r->opt.backoff_min_ms) r->opt.backoff_min_ms = 100;
    if (!r->opt.backoff_max_ms) r->opt.backoff_max_ms = 5000;
    if (r->opt.backoff_max_ms < r->opt.backoff_min_ms) r->opt.backoff_max_ms = r->opt.backoff_min_ms;
    r->backoff = r->opt.backoff_min_ms;
    bool ok = r->opt.name && r->opt.host && (!opts->username || r->opt.username) &&
              (!opts->password || r->opt.password) && r->opt.port > 0 && r->opt.port < 65536;
    if (!ok) {
        free((char *)r->opt.name);
        free((char *)r->opt.host);
        free((char *)r->opt.username);
        free((char *)r->opt.password);
        free(r);
        return NULL;
    }
    bool v6 = strchr(r->opt.host, ':') != NULL;
    snprintf(r->addr, sizeof r->addr, v6 ? "[%.60s]:%d" : "%.60s:%d", r->opt.host, r->opt.port);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    start_attempt(r);
    return r;
}

void st_redis_free(st_redis_t *r) {
    if (!r || r->free_requested) return;
    r->free_requested = true;
    settle(r);
}

bool st_redis_is_connected(const st_redis_t *r) { return r && r->state == R_READY; }

uint64_t st_redis_connect_count(const st_redis_t *r) { return r ? r->connects : 0; }

int st_redis_command_argv(st_redis_t *r, st_redis_reply_fn fn, void *user, int argc,
                          const char *const *argv, const size_t *argvlen) {
    if (!r || argc < 1 || !argv) return RTC_ERR_INVALID_ARG;
    for (int i = 0; i < argc; i++) {
        if (!argv[i]) return RTC_ERR_INVALID_ARG;
    }
    if (r->opt.subscriber) return RTC_ERR_STATE;
    if (r->state != R_READY || r->free_requested) return RTC_ERR_CLOSED;
    return send_argv(r, fn, user, argc, argv, argvlen);
}

void st_redis_options_from_config(st_redis_options_t *o, const st_common_config_t *c) {
    memset(o, 0, sizeof *o);
    o->host = c->redis_host;
    o->port = (int)c->redis_port;
    o->username = c->redis_username;
    o->password = c->redis_password;
    o->db = (int)c->redis_db;
    o->connect_timeout_ms = (uint64_t)c->redis_connect_timeout_ms;
    o->command_timeout_ms = (uint64_t)c->redis_command_timeout_ms;
    o->backoff_max_ms = (uint64_t)c->redis_reconnect_max_ms;
}

int st_redis_command(st_redis_t *r, st_redis_reply_fn fn, void *user, ...) {
    const char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, user);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        if (argc == MAX_ARGS) {
            va_end(ap);
            return RTC_ERR_INVALID_ARG;
        }
        argv[argc++] = a;
    }
    va_end(ap);
    return st_redis_command_argv(r, fn, user, argc, argv, NULL);
}
