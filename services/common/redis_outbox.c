/* PUBLISH messages that outlive a Redis hiccup (see redis_outbox.h). */
#include "common/redis_outbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct msg {
    struct msg *next;
    st_redis_outbox_t *ob;
    uint64_t seq;            /* publish order: a retried message goes back in its place */
    rtc_time_t queued_at;
    size_t size;
    char *channel, *text;    /* inside this allocation */
} msg_t;

struct st_redis_outbox {
    st_redis_t *r;
    st_redis_outbox_options_t opt;
    char name[48];
    msg_t *head, *tail;
    size_t n, bytes;
    uint64_t next_seq;
    unsigned refs;           /* 1 for the owner + one per PUBLISH in flight */
    bool freed;
    bool warned;             /* drops already logged in this outage */
    uint64_t published, retried, dropped;
};

static void unref(st_redis_outbox_t *ob) {
    if (--ob->refs == 0) free(ob);
}

static void drop_msg(st_redis_outbox_t *ob, msg_t *m, const char *why) {
    ob->dropped++;
    if (!ob->warned && !ob->freed) {
        RTC_LOGW("redis", "%s: Redis unreachable too long, messages for clients dropped (%s)", ob->name, why);
        ob->warned = true;
    }
    free(m);
}

static msg_t *pop_head(st_redis_outbox_t *ob) {
    msg_t *m = ob->head;
    if (!m) return NULL;
    ob->head = m->next;
    if (!ob->head) ob->tail = NULL;
    ob->n--;
    ob->bytes -= m->size;
    m->next = NULL;
    return m;
}

/* Queues m in publish order (usually at the tail; a retried message goes before anything
 * published after it), then enforces the bounds by dropping the oldest. */
static void enqueue(st_redis_outbox_t *ob, msg_t *m) {
    msg_t **pp = &ob->head;
    if (ob->tail && ob->tail->seq < m->seq) pp = &ob->tail->next; /* the usual case */
    while (*pp && (*pp)->seq < m->seq) pp = &(*pp)->next;
    m->next = *pp;
    *pp = m;
    if (!m->next) ob->tail = m;
    ob->n++;
    ob->bytes += m->size;
    while (ob->head && ob->head != m && (ob->n > ob->opt.max_msgs || ob->bytes > ob->opt.max_bytes))
        drop_msg(ob, pop_head(ob), "outbox full");
}

static void on_reply(st_redis_t *r, const redisReply *reply, void *user) {
    (void)r;
    msg_t *m = user;
    st_redis_outbox_t *ob = m->ob;
    if (ob->freed) {
        free(m);
    } else if (!reply) {
        /* Lost with the connection: maybe published, maybe not. Again, in its place. */
        ob->retried++;
        enqueue(ob, m);
    } else {
        if (reply->type == REDIS_REPLY_ERROR)
            RTC_LOGW("redis", "%s: PUBLISH to %s refused: %.*s", ob->name, m->channel, (int)reply->len,
                     reply->str ? reply->str : "");
        free(m);
    }
    unref(ob);
}

static bool send_msg(st_redis_outbox_t *ob, msg_t *m) {
    if (st_redis_command(ob->r, on_reply, m, "PUBLISH", m->channel, m->text, NULL) != RTC_OK) return false;
    ob->refs++;
    ob->published++;
    return true;
}

st_redis_outbox_t *st_redis_outbox_new(st_redis_t *r, const st_redis_outbox_options_t *opts) {
    st_redis_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob) return NULL;
    ob->r = r;
    if (opts) ob->opt = *opts;
    if (!ob->opt.max_msgs) ob->opt.max_msgs = 10000;
    if (!ob->opt.max_bytes) ob->opt.max_bytes = 16u << 20;
    if (!ob->opt.max_age) ob->opt.max_age = RTC_SEC(30);
    snprintf(ob->name, sizeof ob->name, "%s", opts && opts->name ? opts->name : "outbox");
    ob->opt.name = NULL;
    ob->refs = 1;
    return ob;
}

void st_redis_outbox_free(st_redis_outbox_t *ob) {
    if (!ob) return;
    msg_t *m;
    while ((m = pop_head(ob))) {
        ob->dropped++;
        free(m);
    }
    ob->freed = true;
    unref(ob);
}

void st_redis_outbox_publish(st_redis_outbox_t *ob, const char *channel, const char *message) {
    if (!ob || ob->freed || !channel || !message) return;
    size_t lc = strlen(channel), lt = strlen(message);
    msg_t *m = malloc(sizeof *m + lc + lt + 2);
    if (!m) {
        ob->dropped++;
        return;
    }
    memset(m, 0, sizeof *m);
    m->ob = ob;
    m->seq = ob->next_seq++;
    m->queued_at = rtc_clock_now();
    m->size = lc + lt;
    m->channel = (char *)(m + 1);
    m->text = m->channel + lc + 1;
    memcpy(m->channel, channel, lc + 1);
    memcpy(m->text, message, lt + 1);
    if (!ob->head && st_redis_is_connected(ob->r) && send_msg(ob, m)) return;
    enqueue(ob, m);
}

void st_redis_outbox_flush(st_redis_outbox_t *ob) {
    if (!ob || ob->freed) return;
    size_t sent = 0, stale = 0;
    rtc_time_t now = rtc_clock_now();
    while (ob->head && st_redis_is_connected(ob->r)) {
        msg_t *m = pop_head(ob);
        if (now - m->queued_at > ob->opt.max_age) {
            stale++;
            drop_msg(ob, m, "too old");
            continue;
        }
        if (!send_msg(ob, m)) {
            enqueue(ob, m);
            break;
        }
        sent++;
    }
    if (sent || stale)
        RTC_LOGI("redis", "%s: %zu queued messages for clients published after the reconnect, %zu too old dropped",
                 ob->name, sent, stale);
    if (!ob->head) ob->warned = false;
}

void st_redis_outbox_stats(const st_redis_outbox_t *ob, st_redis_outbox_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!ob) return;
    out->published = ob->published;
    out->retried = ob->retried;
    out->dropped = ob->dropped;
    out->queued = ob->n;
}
