/* STUN client transactions (RFC 8489 §6.2.1-6.2.2). Over UDP a request is sent Rc times,
 * waiting RTO, 2*RTO, 4*RTO... between sends and Rm*RTO after the last; over TCP/TLS it is
 * sent once and given Ti. The table is a small array: agents have few transactions open at a
 * time, and a linear scan over them beats a hash for those sizes. */
#include "rtc/stun.h"

#include <stdlib.h>

#include "stun/stun_internal.h"

typedef struct {
    uint8_t tid[RTC_STUN_TID_LEN];
    uint8_t *req;
    size_t len;
    rtc_addr_t dest;
    void *user;
    rtc_stun_txn_config_t cfg;
    rtc_time_t started;
    rtc_time_t deadline;   /* next retransmission, or the final timeout */
    rtc_time_t rto;        /* current interval */
    unsigned sends;
} txn_t;

struct rtc_stun_txns {
    rtc_stun_txn_config_t cfg;
    rtc_stun_txn_send_fn send;
    rtc_stun_txn_done_fn done;
    void *user;
    txn_t *v;
    size_t n, cap;
};

void rtc_stun_txn_config_default(rtc_stun_txn_config_t *cfg) {
    cfg->rto = RTC_MS(500);
    cfg->rc = 7;
    cfg->rm = 16;
    cfg->rto_max = 0;
    cfg->reliable = false;
    cfg->ti = RTC_MS(39500);
}

rtc_stun_txns_t *rtc_stun_txns_create(const rtc_stun_txn_config_t *cfg, rtc_stun_txn_send_fn send,
                                      rtc_stun_txn_done_fn done, void *user) {
    if (!send || !done) return NULL;
    rtc_stun_txns_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (cfg) t->cfg = *cfg;
    else rtc_stun_txn_config_default(&t->cfg);
    t->send = send;
    t->done = done;
    t->user = user;
    return t;
}

static void remove_at(rtc_stun_txns_t *t, size_t i) {
    free(t->v[i].req);
    t->v[i] = t->v[--t->n];
}

void rtc_stun_txns_destroy(rtc_stun_txns_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->v[i].req);
    free(t->v);
    free(t);
}

static rtc_time_t sanitize_cfg(rtc_stun_txn_config_t *c) {
    if (c->rto <= 0) c->rto = RTC_MS(500);
    if (c->rc == 0) c->rc = 1;
    if (c->rm == 0) c->rm = 1;
    if (c->ti <= 0) c->ti = RTC_MS(39500);
    return c->rto;
}

int rtc_stun_txns_start(rtc_stun_txns_t *t, const uint8_t *req, size_t len, const rtc_addr_t *dest,
                        void *txn_user, const rtc_stun_txn_config_t *cfg_override, rtc_time_t now) {
    if (!t || !req || !dest || len < RTC_STUN_HEADER_LEN) return RTC_ERR_INVALID_ARG;
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->v[i].tid, req + 8, RTC_STUN_TID_LEN) == 0) return RTC_ERR_DUPLICATE;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        txn_t *v = realloc(t->v, cap * sizeof *v);
        if (!v) return RTC_ERR_NOMEM;
        t->v = v;
        t->cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy) return RTC_ERR_NOMEM;
    memcpy(copy, req, len);
    txn_t *x = &t->v[t->n++];
    memset(x, 0, sizeof *x);
    memcpy(x->tid, req + 8, RTC_STUN_TID_LEN);
    x->req = copy;
    x->len = len;
    x->dest = *dest;
    x->user = txn_user;
    x->cfg = cfg_override ? *cfg_override : t->cfg;
    x->rto = sanitize_cfg(&x->cfg);
    x->started = now;
    x->sends = 1;
    x->deadline = now + (x->cfg.reliable ? x->cfg.ti : (x->cfg.rc == 1 ? x->rto * x->cfg.rm : x->rto));
    t->send(t->user, x->req, x->len, &x->dest);
    return RTC_OK;
}

int rtc_stun_txns_handle_response(rtc_stun_txns_t *t, const rtc_stun_msg_t *resp,
                                  const rtc_addr_t *from, rtc_time_t now) {
    if (!t || !resp) return RTC_ERR_INVALID_ARG;
    if (resp->cls != RTC_STUN_SUCCESS && resp->cls != RTC_STUN_ERROR) return RTC_ERR_NOT_FOUND;
    for (size_t i = 0; i < t->n; i++) {
        txn_t *x = &t->v[i];
        if (memcmp(x->tid, resp->tid, RTC_STUN_TID_LEN) != 0) continue;
        /* A response must answer the method we asked. */
        if (resp->method != stun_type_method(rtc_be16(x->req))) return RTC_ERR_NOT_FOUND;
        void *user = x->user;
        rtc_time_t rtt = now - x->started;
        remove_at(t, i);
        t->done(t->user, user, RTC_OK, resp, from, rtt);
        return RTC_OK;
    }
    return RTC_ERR_NOT_FOUND;
}

rtc_time_t rtc_stun_txns_next_timeout(const rtc_stun_txns_t *t) {
    rtc_time_t next = RTC_TIME_NEVER;
    for (size_t i = 0; t && i < t->n; i++)
        if (t->v[i].deadline < next) next = t->v[i].deadline;
    return next;
}

void rtc_stun_txns_handle_timeout(rtc_stun_txns_t *t, rtc_time_t now) {
    if (!t) return;
    size_t i = 0;
    while (i < t->n) {
        txn_t *x = &t->v[i];
        if (x->deadline > now) { i++; continue; }
        if (!x->cfg.reliable && x->sends < x->cfg.rc) {
            x->sends++;
            x->rto *= 2;
            if (x->cfg.rto_max && x->rto > x->cfg.rto_max) x->rto = x->cfg.rto_max;
            /* After the last send, wait Rm times the initial RTO (RFC 8489 §6.2.1). */
            x->deadline = now + (x->sends == x->cfg.rc ? x->cfg.rto * x->cfg.rm : x->rto);
            t->send(t->user, x->req, x->len, &x->dest);
            i++;
            continue;
        }
        void *user = x->user;
        rtc_time_t rtt = now - x->started;
        remove_at(t, i);
        t->done(t->user, user, RTC_ERR_TIMEOUT, NULL, NULL, rtt);
        /* done() may have started or cancelled transactions; rescan from the start. */
        i = 0;
    }
}

int rtc_stun_txns_cancel(rtc_stun_txns_t *t, void *txn_user) {
    int n = 0;
    size_t i = 0;
    while (t && i < t->n) {
        if (t->v[i].user == txn_user) { remove_at(t, i); n++; }
        else i++;
    }
    return n;
}

size_t rtc_stun_txns_count(const rtc_stun_txns_t *t) { return t ? t->n : 0; }
