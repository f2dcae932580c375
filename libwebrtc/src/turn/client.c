/* TURN client (RFC 8656 §7-12), sans-I/O: one allocation on one server over one transport.
 *
 * Requests (Allocate, Refresh, CreatePermission, ChannelBind) go through an rtc_stun_txns_t,
 * which retransmits over UDP and times out. Each request is rebuilt from the client's state
 * when it must be re-sent with new credentials (a 401 gives realm and nonce, a 438 a fresh
 * nonce), so a retry is a new transaction with a new ID, as RFC 8489 §9.2.4 requires.
 *
 * Permissions and channels live in arrays whose slots never move, so a transaction can name
 * its slot by index. Channel numbers are handed out in order from 0x4000 and never reused, so
 * the channel number of received ChannelData indexes the channel array directly. */
#include "rtc/turn.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_AUTH_RETRIES 3          /* 401/438 answers we follow for one request in a row */
#define REFRESH_MARGIN RTC_SEC(60)  /* refresh the allocation this long before it expires */
#define PERMISSION_REFRESH RTC_SEC(240)  /* < 300 s permission lifetime (RFC 8656 §9) */
#define CHANNEL_REFRESH RTC_SEC(540)     /* < 600 s channel lifetime (RFC 8656 §12) */
#define RETRY_DELAY RTC_SEC(5)      /* after a refresh that timed out or failed transiently */

typedef enum { REQ_ALLOCATE = 1, REQ_REFRESH = 2, REQ_PERMISSION = 3, REQ_CHANNEL = 4 } req_kind_t;

typedef enum {
    PERM_NONE = 0,
    PERM_PENDING,       /* CreatePermission sent, never confirmed */
    PERM_VIA_CHANNEL,   /* no CreatePermission yet: the pending ChannelBind will install it */
    PERM_ACTIVE,
} perm_state_t;

typedef struct {
    rtc_addr_t ip;      /* port 0 */
    perm_state_t state;
    bool in_flight;
    unsigned auth_tries;
    rtc_time_t expires;
    rtc_time_t refresh_at;
} perm_t;

typedef enum { CHAN_NONE = 0, CHAN_PENDING, CHAN_BOUND, CHAN_DEAD } chan_state_t;

typedef struct {
    rtc_addr_t peer;
    chan_state_t state;
    bool in_flight;
    bool confirmed_once;
    unsigned auth_tries;
    rtc_time_t expires;
    rtc_time_t refresh_at;
} chan_t;

struct rtc_turn_client {
    rtc_turn_client_config_t cfg;
    char *username, *password, *software;
    rtc_turn_client_callbacks_t cb;
    rtc_stun_txns_t *txns;
    rtc_stun_credentials_t creds;
    rtc_turn_client_state_t state;
    int error;
    int stun_code;

    rtc_addr_t relayed;
    rtc_addr_t mapped;
    rtc_time_t expires;
    rtc_time_t refresh_at;
    bool refresh_in_flight;
    unsigned alloc_auth_tries;
    unsigned refresh_auth_tries;

    perm_t *perms;
    size_t n_perms, cap_perms;
    chan_t *chans;      /* chans[i] is channel 0x4000 + i */
    size_t n_chans, cap_chans;
    size_t last_chan;   /* send-path cache: index of the last channel found by peer */

    uint8_t ind_tid[RTC_STUN_TID_LEN]; /* Send indications: random prefix + counter */
    uint32_t ind_counter;

    rtc_buf_t inbuf;    /* stream transports: bytes of an incomplete frame */
    rtc_time_t now;     /* time of the current entry point, for transaction callbacks */
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void *txn_tag(req_kind_t kind, size_t idx) { return (void *)(uintptr_t)(kind | (idx << 3)); }
static req_kind_t tag_kind(void *tag) { return (req_kind_t)((uintptr_t)tag & 7); }
static size_t tag_index(void *tag) { return (size_t)((uintptr_t)tag >> 3); }

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void emit(rtc_turn_client_t *c, rtc_turn_event_t *ev) {
    if (c->cb.event) c->cb.event(c->cb.user, ev);
}

static rtc_addr_t ip_only(const rtc_addr_t *a) {
    rtc_addr_t r = *a;
    r.port = 0;
    return r;
}

static perm_t *find_perm(rtc_turn_client_t *c, const rtc_addr_t *peer) {
    for (size_t i = 0; i < c->n_perms; i++)
        if (c->perms[i].state != PERM_NONE && rtc_addr_equal_ip(&c->perms[i].ip, peer)) return &c->perms[i];
    return NULL;
}

static chan_t *find_chan(rtc_turn_client_t *c, const rtc_addr_t *peer) {
    if (c->last_chan < c->n_chans && rtc_addr_equal(&c->chans[c->last_chan].peer, peer) &&
        c->chans[c->last_chan].state != CHAN_DEAD)
        return &c->chans[c->last_chan];
    for (size_t i = 0; i < c->n_chans; i++) {
        if (c->chans[i].state != CHAN_DEAD && rtc_addr_equal(&c->chans[i].peer, peer)) {
            c->last_chan = i;
            return &c->chans[i];
        }
    }
    return NULL;
}

/* Drops every outstanding request (done callbacks are not called). */
static void cancel_requests(rtc_turn_client_t *c, bool including_refresh) {
    for (size_t i = 0; i < c->n_perms; i++) {
        rtc_stun_txns_cancel(c->txns, txn_tag(REQ_PERMISSION, i));
        c->perms[i].in_flight = false;
    }
    for (size_t i = 0; i < c->n_chans; i++) {
        rtc_stun_txns_cancel(c->txns, txn_tag(REQ_CHANNEL, i));
        c->chans[i].in_flight = false;
    }
    rtc_stun_txns_cancel(c->txns, txn_tag(REQ_ALLOCATE, 0));
    if (including_refresh) {
        rtc_stun_txns_cancel(c->txns, txn_tag(REQ_REFRESH, 0));
        c->refresh_in_flight = false;
    }
}

static void fail(rtc_turn_client_t *c, int err, int stun_code) {
    /* The allocation is gone, and with it its permissions and channels. */
    cancel_requests(c, true);
    c->state = RTC_TURN_CLIENT_FAILED;
    c->error = err;
    c->stun_code = stun_code;
    if (stun_code)
        RTC_LOGW("turn", "allocation on %s failed: %s, server error %d", rtc_addr_str(&c->cfg.server),
                 rtc_strerror(err), stun_code);
    else
        RTC_LOGW("turn", "allocation on %s failed: %s", rtc_addr_str(&c->cfg.server), rtc_strerror(err));
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_FAILED, .error = err, .stun_code = stun_code};
    emit(c, &ev);
}

static void closed(rtc_turn_client_t *c) {
    c->state = RTC_TURN_CLIENT_CLOSED;
    cancel_requests(c, true);
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_RELEASED};
    emit(c, &ev);
}

/* ---- requests ---------------------------------------------------------------------------- */

static uint16_t req_method(req_kind_t k) {
    switch (k) {
    case REQ_ALLOCATE: return RTC_STUN_ALLOCATE;
    case REQ_REFRESH: return RTC_STUN_REFRESH;
    case REQ_PERMISSION: return RTC_STUN_CREATE_PERMISSION;
    default: return RTC_STUN_CHANNEL_BIND;
    }
}

/* Builds and starts the request for tag from the client's current state. */
static int start_request(rtc_turn_client_t *c, void *tag, rtc_time_t now) {
    req_kind_t kind = tag_kind(tag);
    size_t idx = tag_index(tag);
    uint8_t buf[1024];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, req_method(kind), RTC_STUN_REQUEST, NULL);
    switch (kind) {
    case REQ_ALLOCATE:
        rtc_stun_add_requested_transport(&b, RTC_TURN_TRANSPORT_UDP);
        if (c->cfg.family) rtc_stun_add_family(&b, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, c->cfg.family);
        if (c->cfg.lifetime) rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, c->cfg.lifetime);
        if (c->cfg.dont_fragment && !c->cfg.stream) rtc_stun_add_flag(&b, RTC_STUN_ATTR_DONT_FRAGMENT);
        if (c->software) rtc_stun_add_string(&b, RTC_STUN_ATTR_SOFTWARE, c->software);
        break;
    case REQ_REFRESH:
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME,
                         c->state == RTC_TURN_CLIENT_RELEASING ? 0
                         : c->cfg.lifetime ? c->cfg.lifetime : RTC_TURN_DEFAULT_LIFETIME);
        break;
    case REQ_PERMISSION:
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &c->perms[idx].ip);
        break;
    case REQ_CHANNEL:
        rtc_stun_add_channel(&b, (uint16_t)(RTC_TURN_CHANNEL_MIN + idx));
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &c->chans[idx].peer);
        break;
    }
    rtc_stun_credentials_sign(&c->creds, &b);
    rtc_stun_add_fingerprint(&b);
    int len = rtc_stun_builder_finish(&b);
    if (len < 0) return len;
    int rc = rtc_stun_txns_start(c->txns, buf, (size_t)len, &c->cfg.server, tag, NULL, now);
    if (rc != RTC_OK) return rc;
    switch (kind) {
    case REQ_REFRESH: c->refresh_in_flight = true; break;
    case REQ_PERMISSION: c->perms[idx].in_flight = true; break;
    case REQ_CHANNEL: c->chans[idx].in_flight = true; break;
    default: break;
    }
    return RTC_OK;
}

/* A 401 or 438: learn realm/nonce and re-send, unless this is a loop. Returns RTC_OK when a
 * new request went out, else the error to report. */
static int retry_auth(rtc_turn_client_t *c, void *tag, const rtc_stun_msg_t *resp, int code,
                      unsigned *tries, rtc_time_t now) {
    if (++*tries > MAX_AUTH_RETRIES) {
        RTC_LOGW("turn", "%s: %u authentication retries in a row, giving up",
                 rtc_stun_method_name(req_method(tag_kind(tag))), *tries - 1);
        return code == RTC_STUN_ERR_STALE_NONCE ? RTC_ERR_STALE : RTC_ERR_AUTH;
    }
    int rc = rtc_stun_credentials_handle_error(&c->creds, resp);
    if (rc != RTC_OK) return rc == RTC_ERR_MALFORMED ? RTC_ERR_PROTOCOL : RTC_ERR_AUTH;
    rc = start_request(c, tag, now);
    return rc;
}

static int err_for_code(int code) {
    if (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_WRONG_CREDENTIALS) return RTC_ERR_AUTH;
    return RTC_ERR_PROTOCOL;
}

static rtc_time_t alloc_refresh_at(rtc_time_t now, uint32_t lifetime) {
    rtc_time_t life = RTC_SEC(lifetime);
    return now + (life > 2 * REFRESH_MARGIN ? life - REFRESH_MARGIN : life / 2);
}

static void on_allocate(rtc_turn_client_t *c, int result, const rtc_stun_msg_t *resp, rtc_time_t now) {
    void *tag = txn_tag(REQ_ALLOCATE, 0);
    if (c->state != RTC_TURN_CLIENT_ALLOCATING) return;
    if (result != RTC_OK) { fail(c, result, 0); return; }
    if (resp->cls == RTC_STUN_ERROR) {
        int code = 0;
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_STALE_NONCE) {
            int rc = retry_auth(c, tag, resp, code, &c->alloc_auth_tries, now);
            if (rc != RTC_OK) fail(c, rc, code);
            return;
        }
        fail(c, err_for_code(code), code);
        return;
    }
    rtc_addr_t relayed;
    if (rtc_stun_msg_get_xor_address(resp, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed) != RTC_OK) {
        fail(c, RTC_ERR_MALFORMED, 0);
        return;
    }
    uint32_t lifetime = RTC_TURN_DEFAULT_LIFETIME;
    rtc_stun_msg_get_u32(resp, RTC_STUN_ATTR_LIFETIME, &lifetime);
    if (lifetime == 0) lifetime = RTC_TURN_DEFAULT_LIFETIME;
    c->relayed = relayed;
    memset(&c->mapped, 0, sizeof c->mapped);
    rtc_stun_msg_get_xor_address(resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &c->mapped);
    c->state = RTC_TURN_CLIENT_ALLOCATED;
    c->alloc_auth_tries = 0;
    c->expires = now + RTC_SEC(lifetime);
    c->refresh_at = alloc_refresh_at(now, lifetime);
    RTC_LOGD("turn", "allocated %s on %s for %u s", rtc_addr_str(&c->relayed), rtc_addr_str(&c->cfg.server), lifetime);
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_ALLOCATED, .relayed = c->relayed, .mapped = c->mapped,
                           .lifetime = lifetime};
    emit(c, &ev);
}

static void on_refresh(rtc_turn_client_t *c, int result, const rtc_stun_msg_t *resp, rtc_time_t now) {
    void *tag = txn_tag(REQ_REFRESH, 0);
    c->refresh_in_flight = false;
    bool releasing = c->state == RTC_TURN_CLIENT_RELEASING;
    if (!releasing && c->state != RTC_TURN_CLIENT_ALLOCATED) return;
    int code = 0;
    if (result == RTC_OK && resp->cls == RTC_STUN_ERROR) {
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_STALE_NONCE) {
            int rc = retry_auth(c, tag, resp, code, &c->refresh_auth_tries, now);
            if (rc == RTC_OK) return;
            if (releasing) closed(c);
            else fail(c, rc, code);
            return;
        }
    }
    c->refresh_auth_tries = 0;
    if (releasing) {
        /* Success, 437 (already gone), an error or silence: the allocation is released or
         * will expire by itself; either way we are done with it. */
        closed(c);
        return;
    }
    if (result != RTC_OK || code == RTC_STUN_ERR_SERVER_ERROR || code == RTC_STUN_ERR_INSUFFICIENT_CAPACITY) {
        /* Transient: try again while the allocation still lives (expiry is checked on
         * timeouts). */
        RTC_LOGI("turn", "Refresh on %s: %s; retrying", rtc_addr_str(&c->cfg.server),
                 result != RTC_OK ? rtc_strerror(result) : "server error");
        c->refresh_at = now + RETRY_DELAY;
        return;
    }
    if (code) { fail(c, err_for_code(code), code); return; } /* 437: allocation lost */
    uint32_t lifetime = RTC_TURN_DEFAULT_LIFETIME;
    rtc_stun_msg_get_u32(resp, RTC_STUN_ATTR_LIFETIME, &lifetime);
    if (lifetime == 0) { closed(c); return; }
    c->expires = now + RTC_SEC(lifetime);
    c->refresh_at = alloc_refresh_at(now, lifetime);
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_REFRESHED, .lifetime = lifetime};
    emit(c, &ev);
}

static void on_permission(rtc_turn_client_t *c, size_t idx, int result, const rtc_stun_msg_t *resp,
                          rtc_time_t now) {
    if (idx >= c->n_perms) return;
    perm_t *p = &c->perms[idx];
    p->in_flight = false;
    if (p->state == PERM_NONE || c->state != RTC_TURN_CLIENT_ALLOCATED) return;
    int code = 0, err = result;
    if (result == RTC_OK && resp->cls == RTC_STUN_ERROR) {
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_STALE_NONCE) {
            err = retry_auth(c, txn_tag(REQ_PERMISSION, idx), resp, code, &p->auth_tries, now);
            if (err == RTC_OK) return;
        } else {
            err = err_for_code(code);
        }
    }
    p->auth_tries = 0;
    if (err == RTC_OK) {
        bool first = p->state != PERM_ACTIVE;
        p->state = PERM_ACTIVE;
        p->expires = now + RTC_SEC(RTC_TURN_PERMISSION_LIFETIME);
        p->refresh_at = now + PERMISSION_REFRESH;
        if (first) {
            rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_PERMISSION, .peer = p->ip};
            emit(c, &ev);
        }
        return;
    }
    if (err == RTC_ERR_TIMEOUT && p->state == PERM_ACTIVE && now < p->expires) {
        p->refresh_at = now; /* a refresh went unanswered; the permission still lives: retry */
        return;
    }
    RTC_LOGI("turn", "CreatePermission for %s failed: %s (%d)", rtc_addr_str(&p->ip), rtc_strerror(err), code);
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_PERMISSION, .peer = p->ip, .error = err, .stun_code = code};
    p->state = PERM_NONE;
    emit(c, &ev);
}

static void on_channel(rtc_turn_client_t *c, size_t idx, int result, const rtc_stun_msg_t *resp,
                       rtc_time_t now) {
    if (idx >= c->n_chans) return;
    chan_t *ch = &c->chans[idx];
    ch->in_flight = false;
    if (ch->state == CHAN_DEAD || c->state != RTC_TURN_CLIENT_ALLOCATED) return;
    uint16_t number = (uint16_t)(RTC_TURN_CHANNEL_MIN + idx);
    int code = 0, err = result;
    if (result == RTC_OK && resp->cls == RTC_STUN_ERROR) {
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_STALE_NONCE) {
            err = retry_auth(c, txn_tag(REQ_CHANNEL, idx), resp, code, &ch->auth_tries, now);
            if (err == RTC_OK) return;
        } else {
            err = err_for_code(code);
        }
    }
    ch->auth_tries = 0;
    perm_t *p = find_perm(c, &ch->peer);
    if (err == RTC_OK) {
        bool first = !ch->confirmed_once;
        ch->state = CHAN_BOUND;
        ch->confirmed_once = true;
        ch->expires = now + RTC_SEC(RTC_TURN_CHANNEL_LIFETIME);
        ch->refresh_at = now + CHANNEL_REFRESH;
        /* ChannelBind installs or refreshes the permission for the peer's IP (§12.1). */
        if (p) {
            bool perm_first = p->state != PERM_ACTIVE;
            if (p->state != PERM_ACTIVE) p->refresh_at = now + PERMISSION_REFRESH;
            p->state = PERM_ACTIVE;
            p->expires = now + RTC_SEC(RTC_TURN_PERMISSION_LIFETIME);
            if (perm_first) {
                rtc_turn_event_t pev = {.type = RTC_TURN_EVENT_PERMISSION, .peer = p->ip};
                emit(c, &pev);
            }
        }
        if (first) {
            rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_CHANNEL, .peer = ch->peer, .channel = number};
            emit(c, &ev);
        }
        return;
    }
    if (err == RTC_ERR_TIMEOUT && ch->state == CHAN_BOUND && now < ch->expires) {
        ch->refresh_at = now;
        return;
    }
    RTC_LOGI("turn", "ChannelBind 0x%04x to %s failed: %s (%d)", number, rtc_addr_str(&ch->peer),
             rtc_strerror(err), code);
    ch->state = CHAN_DEAD; /* the number is not reused; sends fall back to Send indications */
    if (p && p->state == PERM_VIA_CHANNEL) p->state = PERM_NONE;
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_CHANNEL, .peer = ch->peer, .channel = number,
                           .error = err, .stun_code = code};
    emit(c, &ev);
}

static void txn_send(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest) {
    (void)dest;
    rtc_turn_client_t *c = user;
    c->cb.send(c->cb.user, p, n);
}

static void txn_done(void *user, void *tag, int result, const rtc_stun_msg_t *resp, const rtc_addr_t *from,
                     rtc_time_t rtt) {
    (void)from;
    (void)rtt;
    rtc_turn_client_t *c = user;
    rtc_time_t now = c->now;
    switch (tag_kind(tag)) {
    case REQ_ALLOCATE: on_allocate(c, result, resp, now); break;
    case REQ_REFRESH: on_refresh(c, result, resp, now); break;
    case REQ_PERMISSION: on_permission(c, tag_index(tag), result, resp, now); break;
    case REQ_CHANNEL: on_channel(c, tag_index(tag), result, resp, now); break;
    }
}

/* ---- life cycle -------------------------------------------------------------------------- */

rtc_turn_client_t *rtc_turn_client_create(const rtc_turn_client_config_t *cfg,
                                          const rtc_turn_client_callbacks_t *cb) {
    if (!cfg || !cb || !cb->send || !cfg->username || !cfg->password) return NULL;
    if (cfg->family && cfg->family != RTC_AF_INET4 && cfg->family != RTC_AF_INET6) return NULL;
    rtc_turn_client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cfg = *cfg;
    c->cb = *cb;
    c->username = dup_str(cfg->username);
    c->password = dup_str(cfg->password);
    c->software = dup_str(cfg->software);
    c->cfg.username = c->username;
    c->cfg.password = c->password;
    c->cfg.software = c->software;
    rtc_stun_txn_config_t tc;
    if (cfg->txn) tc = *cfg->txn;
    else rtc_stun_txn_config_default(&tc);
    tc.reliable = cfg->stream;
    c->cfg.txn = NULL;
    c->txns = rtc_stun_txns_create(&tc, txn_send, txn_done, c);
    if (!c->username || !c->password || (cfg->software && !c->software) || !c->txns) {
        rtc_turn_client_destroy(c);
        return NULL;
    }
    rtc_stun_credentials_init(&c->creds, c->username, c->password);
    rtc_random_bytes(c->ind_tid, sizeof c->ind_tid);
    rtc_buf_init(&c->inbuf);
    return c;
}

void rtc_turn_client_destroy(rtc_turn_client_t *c) {
    if (!c) return;
    rtc_stun_txns_destroy(c->txns);
    free(c->username);
    free(c->password);
    free(c->software);
    free(c->perms);
    free(c->chans);
    rtc_buf_free(&c->inbuf);
    /* The credentials hold the password and key: don't leave them in freed memory. */
    memset(&c->creds, 0, sizeof c->creds);
    free(c);
}

int rtc_turn_client_allocate(rtc_turn_client_t *c, rtc_time_t now) {
    if (!c) return RTC_ERR_INVALID_ARG;
    if (c->state != RTC_TURN_CLIENT_IDLE) return RTC_ERR_STATE;
    c->now = now;
    c->state = RTC_TURN_CLIENT_ALLOCATING;
    int rc = start_request(c, txn_tag(REQ_ALLOCATE, 0), now);
    if (rc != RTC_OK) c->state = RTC_TURN_CLIENT_IDLE;
    return rc;
}

int rtc_turn_client_release(rtc_turn_client_t *c, rtc_time_t now) {
    if (!c) return RTC_ERR_INVALID_ARG;
    c->now = now;
    if (c->state == RTC_TURN_CLIENT_ALLOCATING) {
        closed(c);
        return RTC_OK;
    }
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return RTC_ERR_STATE;
    cancel_requests(c, true);
    c->state = RTC_TURN_CLIENT_RELEASING;
    c->refresh_auth_tries = 0;
    int rc = start_request(c, txn_tag(REQ_REFRESH, 0), now);
    if (rc != RTC_OK) closed(c);
    return RTC_OK;
}

/* ---- permissions and channels ------------------------------------------------------------ */

static perm_t *add_perm(rtc_turn_client_t *c, const rtc_addr_t *peer, size_t *idx_out) {
    size_t idx = c->n_perms;
    for (size_t i = 0; i < c->n_perms; i++)
        if (c->perms[i].state == PERM_NONE && !c->perms[i].in_flight) { idx = i; break; }
    if (idx == c->n_perms) {
        if (c->n_perms >= RTC_TURN_CLIENT_MAX_PEERS) return NULL;
        if (c->n_perms == c->cap_perms) {
            size_t cap = c->cap_perms ? c->cap_perms * 2 : 4;
            perm_t *v = realloc(c->perms, cap * sizeof *v);
            if (!v) return NULL;
            c->perms = v;
            c->cap_perms = cap;
        }
        c->n_perms++;
    }
    perm_t *p = &c->perms[idx];
    memset(p, 0, sizeof *p);
    p->ip = ip_only(peer);
    *idx_out = idx;
    return p;
}

static int check_peer(const rtc_turn_client_t *c, const rtc_addr_t *peer) {
    if (!peer) return RTC_ERR_INVALID_ARG;
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return RTC_ERR_STATE;
    if (peer->family != c->relayed.family) return RTC_ERR_ADDR;
    return RTC_OK;
}

int rtc_turn_client_create_permission(rtc_turn_client_t *c, const rtc_addr_t *peer, rtc_time_t now) {
    if (!c) return RTC_ERR_INVALID_ARG;
    int rc = check_peer(c, peer);
    if (rc != RTC_OK) return rc;
    c->now = now;
    perm_t *p = find_perm(c, peer);
    if (p && p->state != PERM_VIA_CHANNEL) return RTC_OK;
    size_t idx;
    if (p) {
        idx = (size_t)(p - c->perms);
    } else {
        p = add_perm(c, peer, &idx);
        if (!p) return c->n_perms >= RTC_TURN_CLIENT_MAX_PEERS ? RTC_ERR_LIMIT : RTC_ERR_NOMEM;
    }
    p->state = PERM_PENDING;
    rc = start_request(c, txn_tag(REQ_PERMISSION, idx), now);
    if (rc != RTC_OK) p->state = PERM_NONE;
    return rc;
}

int rtc_turn_client_bind_channel(rtc_turn_client_t *c, const rtc_addr_t *peer, rtc_time_t now) {
    if (!c) return RTC_ERR_INVALID_ARG;
    int rc = check_peer(c, peer);
    if (rc != RTC_OK) return rc;
    c->now = now;
    chan_t *existing = find_chan(c, peer);
    if (existing) return RTC_TURN_CHANNEL_MIN + (int)(existing - c->chans);
    if (c->n_chans > RTC_TURN_CHANNEL_MAX - RTC_TURN_CHANNEL_MIN) return RTC_ERR_LIMIT;
    if (c->n_chans == c->cap_chans) {
        size_t cap = c->cap_chans ? c->cap_chans * 2 : 4;
        chan_t *v = realloc(c->chans, cap * sizeof *v);
        if (!v) return RTC_ERR_NOMEM;
        c->chans = v;
        c->cap_chans = cap;
    }
    perm_t *p = find_perm(c, peer);
    bool new_perm = false;
    if (!p) {
        size_t pidx;
        p = add_perm(c, peer, &pidx);
        if (!p) return c->n_perms >= RTC_TURN_CLIENT_MAX_PEERS ? RTC_ERR_LIMIT : RTC_ERR_NOMEM;
        p->state = PERM_VIA_CHANNEL;
        new_perm = true;
    }
    size_t idx = c->n_chans++;
    chan_t *ch = &c->chans[idx];
    memset(ch, 0, sizeof *ch);
    ch->peer = *peer;
    ch->state = CHAN_PENDING;
    rc = start_request(c, txn_tag(REQ_CHANNEL, idx), now);
    if (rc != RTC_OK) {
        c->n_chans--;
        if (new_perm) p->state = PERM_NONE;
        return rc;
    }
    return RTC_TURN_CHANNEL_MIN + (int)idx;
}

/* ---- sending ----------------------------------------------------------------------------- */

int rtc_turn_client_wrap(rtc_turn_client_t *c, const rtc_addr_t *peer, const uint8_t *data,
                         size_t len, uint8_t *out, size_t cap) {
    if (!c || !peer || (len && !data) || !out) return RTC_ERR_INVALID_ARG;
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return RTC_ERR_STATE;
    if (len > 0xFFFF) return RTC_ERR_OVERFLOW;
    chan_t *ch = find_chan(c, peer);
    if (ch && ch->state == CHAN_BOUND) {
        size_t need = RTC_TURN_CHANNEL_HEADER_LEN + len;
        if (c->cfg.stream) need = (need + 3) & ~(size_t)3;
        if (cap < need) return RTC_ERR_OVERFLOW;
        return rtc_turn_channel_data_write(out, cap, (uint16_t)(RTC_TURN_CHANNEL_MIN + (ch - c->chans)),
                                           data, len, c->cfg.stream);
    }
    perm_t *p = find_perm(c, peer);
    if (!p) return RTC_ERR_STATE;
    if (p->state != PERM_ACTIVE) return RTC_ERR_AGAIN;
    /* Indications need unique IDs but no unpredictability: a random prefix and a counter. */
    rtc_put_be32(c->ind_tid + 8, ++c->ind_counter);
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, out, cap, RTC_STUN_SEND, RTC_STUN_INDICATION, c->ind_tid);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_PEER_ADDRESS, peer);
    rtc_stun_add_attr(&b, RTC_STUN_ATTR_DATA, data, len);
    return rtc_stun_builder_finish(&b);
}

int rtc_turn_client_send(rtc_turn_client_t *c, const rtc_addr_t *peer, const uint8_t *data,
                         size_t len, rtc_time_t now) {
    if (!c) return RTC_ERR_INVALID_ARG;
    c->now = now;
    uint8_t stackbuf[1600];
    uint8_t *buf = stackbuf;
    size_t cap = len + 64;
    if (cap > sizeof stackbuf) {
        buf = malloc(cap);
        if (!buf) return RTC_ERR_NOMEM;
    } else {
        cap = sizeof stackbuf;
    }
    int n = rtc_turn_client_wrap(c, peer, data, len, buf, cap);
    if (n > 0) c->cb.send(c->cb.user, buf, (size_t)n);
    if (buf != stackbuf) free(buf);
    return n < 0 ? n : RTC_OK;
}

/* ---- receiving --------------------------------------------------------------------------- */

static int handle_channel_data(rtc_turn_client_t *c, const uint8_t *p, size_t n) {
    uint16_t number;
    const uint8_t *data;
    size_t len;
    int rc = rtc_turn_channel_data_parse(p, n, &number, &data, &len);
    if (rc != RTC_OK) return rc;
    size_t idx = (size_t)(number - RTC_TURN_CHANNEL_MIN);
    if (c->state != RTC_TURN_CLIENT_ALLOCATED || idx >= c->n_chans || c->chans[idx].state == CHAN_DEAD) {
        RTC_LOGD("turn", "ChannelData on unbound channel 0x%04x dropped", number);
        return RTC_ERR_NOT_FOUND;
    }
    /* Accepted while the bind is pending too: the server may use the channel as soon as it
     * has bound it, before its success response reaches us. */
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_DATA, .peer = c->chans[idx].peer, .channel = number,
                           .data = data, .len = len};
    emit(c, &ev);
    return RTC_OK;
}

static int handle_data_indication(rtc_turn_client_t *c, const rtc_stun_msg_t *msg) {
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return RTC_ERR_NOT_FOUND;
    rtc_addr_t peer;
    const uint8_t *data;
    size_t len;
    if (rtc_stun_msg_get_xor_address(msg, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK ||
        rtc_stun_msg_get_data(msg, &data, &len) != RTC_OK) {
        RTC_LOGD("turn", "Data indication without XOR-PEER-ADDRESS or DATA dropped");
        return RTC_ERR_MALFORMED;
    }
    /* RFC 8656 §11.6: discard data from a peer we have no permission for. */
    if (!find_perm(c, &peer)) {
        RTC_LOGD("turn", "Data indication from %s without permission dropped", rtc_addr_str(&peer));
        return RTC_ERR_NOT_FOUND;
    }
    rtc_turn_event_t ev = {.type = RTC_TURN_EVENT_DATA, .peer = peer, .data = data, .len = len};
    emit(c, &ev);
    return RTC_OK;
}

static int handle_frame(rtc_turn_client_t *c, const uint8_t *p, size_t n) {
    if (n >= 1 && (p[0] & 0xF0) == 0x40) return handle_channel_data(c, p, n);
    if (!rtc_stun_is_message(p, n)) return RTC_ERR_NOT_FOUND;
    rtc_stun_msg_t msg;
    int rc = rtc_stun_msg_decode(&msg, p, n);
    if (rc == RTC_ERR_UNKNOWN_ATTR && msg.cls == RTC_STUN_ERROR) rc = RTC_OK; /* error is the point */
    if (rc != RTC_OK) {
        RTC_LOGD("turn", "undecodable message from %s dropped: %s", rtc_addr_str(&c->cfg.server), rtc_strerror(rc));
        return rc;
    }
    if (msg.cls == RTC_STUN_INDICATION) {
        if (msg.method == RTC_STUN_DATA) return handle_data_indication(c, &msg);
        return RTC_ERR_NOT_FOUND;
    }
    if (msg.cls == RTC_STUN_REQUEST) return RTC_ERR_NOT_FOUND;
    /* Responses to authenticated requests must carry valid integrity (RFC 8489 §9.2.5),
     * except the 401/438 challenges themselves, which the server cannot sign. A forged or
     * corrupted response is dropped and the transaction left to retransmit. */
    if (c->creds.ready) {
        int code = 0;
        bool challenge = msg.cls == RTC_STUN_ERROR && rtc_stun_msg_get_error(&msg, &code, NULL, 0) == RTC_OK &&
                         (code == RTC_STUN_ERR_UNAUTHORIZED || code == RTC_STUN_ERR_STALE_NONCE);
        bool has_mi = msg.integrity >= 0 || msg.integrity_sha256 >= 0;
        if ((has_mi || msg.cls == RTC_STUN_SUCCESS) && !challenge &&
            rtc_stun_msg_check_integrity(&msg, c->creds.key, c->creds.key_len) != RTC_OK) {
            RTC_LOGW("turn", "%s response from %s failed integrity check; dropped",
                     rtc_stun_method_name(msg.method), rtc_addr_str(&c->cfg.server));
            return RTC_ERR_INTEGRITY;
        }
    }
    return rtc_stun_txns_handle_response(c->txns, &msg, &c->cfg.server, c->now);
}

int rtc_turn_client_handle_datagram(rtc_turn_client_t *c, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!c || (!p && n)) return RTC_ERR_INVALID_ARG;
    c->now = now;
    return handle_frame(c, p, n);
}

int rtc_turn_client_handle_stream(rtc_turn_client_t *c, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!c || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (!c->cfg.stream) return RTC_ERR_STATE;
    c->now = now;
    /* Whole frames straight from the caller's bytes when nothing is buffered; otherwise
     * complete the buffered frame first. */
    while (n > 0) {
        if (c->inbuf.len > 0) {
            int flen = rtc_turn_stream_frame_length(c->inbuf.data, c->inbuf.len);
            size_t want;
            if (flen == RTC_ERR_AGAIN) want = 4 - c->inbuf.len;
            else if (flen < 0) { rtc_buf_clear(&c->inbuf); return RTC_ERR_MALFORMED; }
            else want = (size_t)flen - c->inbuf.len;
            size_t take = n < want ? n : want;
            if (rtc_buf_append(&c->inbuf, p, take) != RTC_OK) return RTC_ERR_NOMEM;
            p += take;
            n -= take;
            if (flen > 0 && c->inbuf.len == (size_t)flen) {
                handle_frame(c, c->inbuf.data, c->inbuf.len);
                rtc_buf_clear(&c->inbuf);
            }
            continue;
        }
        int flen = rtc_turn_stream_frame_length(p, n);
        if (flen == RTC_ERR_AGAIN || (flen > 0 && (size_t)flen > n)) {
            if (rtc_buf_append(&c->inbuf, p, n) != RTC_OK) return RTC_ERR_NOMEM;
            break;
        }
        if (flen < 0) {
            RTC_LOGW("turn", "stream from %s carries neither STUN nor ChannelData", rtc_addr_str(&c->cfg.server));
            return RTC_ERR_MALFORMED;
        }
        handle_frame(c, p, (size_t)flen);
        p += flen;
        n -= (size_t)flen;
    }
    return RTC_OK;
}

/* ---- timers ------------------------------------------------------------------------------ */

rtc_time_t rtc_turn_client_next_timeout(const rtc_turn_client_t *c) {
    if (!c) return RTC_TIME_NEVER;
    rtc_time_t next = rtc_stun_txns_next_timeout(c->txns);
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return next;
#define EARLIER(t) do { if ((t) < next) next = (t); } while (0)
    EARLIER(c->expires);
    if (!c->refresh_in_flight) EARLIER(c->refresh_at);
    for (size_t i = 0; i < c->n_perms; i++) {
        const perm_t *p = &c->perms[i];
        if (p->state != PERM_ACTIVE) continue;
        if (!p->in_flight) EARLIER(p->refresh_at);
        EARLIER(p->expires);
    }
    for (size_t i = 0; i < c->n_chans; i++) {
        const chan_t *ch = &c->chans[i];
        if (ch->state != CHAN_BOUND) continue;
        if (!ch->in_flight) EARLIER(ch->refresh_at);
        EARLIER(ch->expires);
    }
#undef EARLIER
    return next;
}

void rtc_turn_client_handle_timeout(rtc_turn_client_t *c, rtc_time_t now) {
    if (!c) return;
    c->now = now;
    rtc_stun_txns_handle_timeout(c->txns, now);
    if (c->state != RTC_TURN_CLIENT_ALLOCATED) return;
    if (now >= c->expires) {
        fail(c, RTC_ERR_TIMEOUT, 0);
        return;
    }
    if (!c->refresh_in_flight && now >= c->refresh_at) {
        c->refresh_auth_tries = 0;
        if (start_request(c, txn_tag(REQ_REFRESH, 0), now) != RTC_OK) c->refresh_at = now + RETRY_DELAY;
    }
    for (size_t i = 0; i < c->n_perms && c->state == RTC_TURN_CLIENT_ALLOCATED; i++) {
        perm_t *p = &c->perms[i];
        if (p->state != PERM_ACTIVE) continue;
        if (now >= p->expires) {
            /* Lapsed on the server; data would be dropped until a refresh succeeds. */
            p->state = PERM_PENDING;
            RTC_LOGI("turn", "permission for %s lapsed", rtc_addr_str(&p->ip));
        }
        if (!p->in_flight && now >= p->refresh_at) {
            p->auth_tries = 0;
            if (start_request(c, txn_tag(REQ_PERMISSION, i), now) != RTC_OK) p->refresh_at = now + RETRY_DELAY;
        }
    }
    for (size_t i = 0; i < c->n_chans && c->state == RTC_TURN_CLIENT_ALLOCATED; i++) {
        chan_t *ch = &c->chans[i];
        if (ch->state != CHAN_BOUND) continue;
        if (now >= ch->expires) {
            ch->state = CHAN_PENDING;
            RTC_LOGI("turn", "channel 0x%04zx to %s lapsed", RTC_TURN_CHANNEL_MIN + i, rtc_addr_str(&ch->peer));
        }
        if (!ch->in_flight && now >= ch->refresh_at) {
            ch->auth_tries = 0;
            if (start_request(c, txn_tag(REQ_CHANNEL, i), now) != RTC_OK) ch->refresh_at = now + RETRY_DELAY;
        }
    }
}

/* ---- getters ----------------------------------------------------------------------------- */

rtc_turn_client_state_t rtc_turn_client_state(const rtc_turn_client_t *c) { return c->state; }

const char *rtc_turn_client_state_name(rtc_turn_client_state_t s) {
    switch (s) {
    case RTC_TURN_CLIENT_IDLE: return "idle";
    case RTC_TURN_CLIENT_ALLOCATING: return "allocating";
    case RTC_TURN_CLIENT_ALLOCATED: return "allocated";
    case RTC_TURN_CLIENT_RELEASING: return "releasing";
    case RTC_TURN_CLIENT_CLOSED: return "closed";
    case RTC_TURN_CLIENT_FAILED: return "failed";
    }
    return "unknown";
}

const rtc_addr_t *rtc_turn_client_relayed(const rtc_turn_client_t *c) { return &c->relayed; }
const rtc_addr_t *rtc_turn_client_mapped(const rtc_turn_client_t *c) { return &c->mapped; }
rtc_time_t rtc_turn_client_expires(const rtc_turn_client_t *c) { return c->expires; }

int rtc_turn_client_error(const rtc_turn_client_t *c, int *stun_code) {
    if (stun_code) *stun_code = c->stun_code;
    return c->error;
}

bool rtc_turn_client_has_permission(const rtc_turn_client_t *c, const rtc_addr_t *peer) {
    for (size_t i = 0; i < c->n_perms; i++)
        if (c->perms[i].state == PERM_ACTIVE && rtc_addr_equal_ip(&c->perms[i].ip, peer)) return true;
    return false;
}

uint16_t rtc_turn_client_channel(const rtc_turn_client_t *c, const rtc_addr_t *peer) {
    for (size_t i = 0; i < c->n_chans; i++)
        if (c->chans[i].state == CHAN_BOUND && rtc_addr_equal(&c->chans[i].peer, peer))
            return (uint16_t)(RTC_TURN_CHANNEL_MIN + i);
    return 0;
}
