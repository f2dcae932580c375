/* The TURN server core (RFC 8656): allocations, permissions, channels, authentication and
 * the relay fast paths. See server.h for the contract with the runtime. */
#include "turn/server.h"

#include <stdio.h>
#include <stdlib.h>

#include "turn/auth.h"
#include "turn/hash.h"

#define SWEEP_INTERVAL RTC_SEC(1)
/* RFC 8656 §12: a channel number or peer address stays unusable for another binding for
 * 5 minutes after its channel expires. */
#define CHANNEL_QUARANTINE RTC_SEC(300)
#define MAX_RELAY_BIND_TRIES 8
/* ADDITIONAL-ADDRESS-FAMILY and ADDRESS-ERROR-CODE as the dual-allocation draft numbered
 * them before RFC 8656 assigned 0x8000/0x8001; coTURN (turnutils_uclient -Z) still sends
 * these. Accepted as aliases, and answered in kind. */
#define ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT 0x8032
#define ATTR_ADDRESS_ERROR_CODE_DRAFT 0x8033

typedef struct turn_perm {
    turn_hnode_t node;            /* key: (alloc, ip) */
    struct turn_alloc *alloc;
    rtc_addr_t ip;                /* port 0 */
    rtc_time_t expires;
    struct turn_perm *next;
} turn_perm_t;

typedef struct turn_chan {
    turn_hnode_t by_num;          /* key: (alloc, number) */
    turn_hnode_t by_peer;         /* key: (alloc, peer transport address) */
    struct turn_alloc *alloc;
    rtc_addr_t peer;
    turn_perm_t *perm;            /* the permission for peer's IP; NULL once it lapsed */
    rtc_time_t expires;           /* bound: end of binding; quarantined: end of quarantine */
    uint16_t number;
    bool bound;
    struct turn_chan *next;
} turn_chan_t;

typedef struct turn_alloc {
    turn_hnode_t node;            /* key: (client conn, client remote address) */
    turn_endpoint_t client;
    /* The channel the client last sent ChannelData on, copied here next to the lookup key
     * so that the next packet on it touches no channel or permission entry (cache lines
     * of their own): valid while now < fast_until, the earlier of the channel's and its
     * permission's expiry. Channels and permissions only go away when they expire (or with
     * the allocation), and a bound channel never changes peer, so that is all it takes. */
    rtc_time_t fast_until;
    rtc_addr_t fast_peer;
    uint16_t fast_num;
    turn_relay_t relay[2];
    uint16_t relay_port[2];
    size_t n_relays;
    rtc_time_t expires;
    uint8_t key[TURN_LT_KEY_LEN];
    char *username;
    int64_t rest_expiry;          /* wall seconds for REST usernames, 0 otherwise */
    uint8_t tid[RTC_STUN_TID_LEN];/* the Allocate that created it (retransmission detection) */
    uint64_t token;               /* RESERVATION-TOKEN handed out by that Allocate, 0: none */
    uint8_t addr_err_family;      /* ADDRESS-ERROR-CODE of a partial dual allocation */
    uint16_t addr_err_code;
    bool addr_err_draft;          /* the request used the draft attribute numbers */
    bool dont_fragment;
    turn_perm_t *perms;
    size_t n_perms;
    turn_chan_t *chans;
    size_t n_chans_bound;
    int64_t bw_tokens;            /* bandwidth bucket, in byte-microseconds */
    rtc_time_t bw_last;
    struct turn_alloc *prev, *next;
} turn_alloc_t;

struct turn_server {
    turn_shared_t *sh;
    turn_server_ops_t ops;
    void *user;
    turn_policy_t *policy;
    turn_secrets_t *secrets;
    uint8_t nonce_secret[TURN_NONCE_SECRET_LEN];
    uint64_t gen;
    turn_htab_t allocs, perms, chans_num, chans_peer;
    turn_alloc_t *all;
    int64_t wall_offset;
    rtc_time_t next_sweep;
    uint64_t prng;                /* for Data indication transaction IDs: unique, not secret */
    turn_server_stats_t st;
    turn_ratelimit_t rl;
    /* Lines about individual refused requests are rate-limited: an attacker must not be able
     * to turn each datagram into a log line. */
    rtc_time_t log_window;
    unsigned log_lines;
    uint64_t log_suppressed;
    uint8_t out[1280];
};

#define LOG_LINES_PER_SEC 20

/* May a line about one refused request be written now? */
static bool log_ok(turn_server_t *s, rtc_time_t now) {
    if (now - s->log_window >= RTC_SEC(1)) {
        if (s->log_suppressed)
            RTC_LOGW("turn", "%llu similar log lines suppressed in the last second",
                     (unsigned long long)s->log_suppressed);
        s->log_window = now;
        s->log_lines = 0;
        s->log_suppressed = 0;
    }
    if (s->log_lines < LOG_LINES_PER_SEC) {
        s->log_lines++;
        return true;
    }
    s->log_suppressed++;
    return false;
}

/* Credentials of an authenticated request. */
typedef struct {
    uint8_t key[TURN_LT_KEY_LEN];
    char username[TURN_USERNAME_MAX];
    int64_t rest_expiry;
    bool sha256;                  /* request used MESSAGE-INTEGRITY-SHA256: answer alike */
} auth_t;

/* ---- small helpers ------------------------------------------------------------------- */

static inline bool addr_eq(const rtc_addr_t *a, const rtc_addr_t *b) {
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}
static inline bool ip_eq(const rtc_addr_t *a, const rtc_addr_t *b) {
    return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

static inline bool chan_ok(const turn_server_t *s, uint16_t num) {
    return num >= RTC_TURN_CHANNEL_MIN && num <= s->policy->channel_max;
}

static int64_t wall_seconds(const turn_server_t *s, rtc_time_t now) {
    return (now + s->wall_offset) / RTC_US_PER_SEC;
}

static uint64_t prng_next(turn_server_t *s) {
    /* xorshift64*: Data indication transaction IDs only need to differ. */
    uint64_t x = s->prng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->prng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void refresh_snapshot(turn_server_t *s) {
    if (turn_shared_generation(s->sh) == s->gen) return;
    turn_policy_unref(s->policy);
    turn_secrets_unref(s->secrets);
    turn_shared_snapshot(s->sh, &s->policy, &s->secrets, s->nonce_secret, &s->gen);
}

/* Mapped and compatible IPv6 forms name IPv4 hosts: permissions and sends use the IPv4 form. */
static rtc_addr_t peer_canonical(const rtc_addr_t *a) {
    rtc_addr_t v4, out = *a;
    out.scope_id = 0;
    turn_embed_t k = turn_peer_embedded_v4(a, &v4);
    if (k == TURN_EMBED_MAPPED || k == TURN_EMBED_COMPAT) out = v4;
    return out;
}

/* ---- lookups ------------------------------------------------------------------------- */

static inline uint32_t alloc_hash(const turn_server_t *s, void *conn, const rtc_addr_t *remote) {
    return turn_hash_addr(s->allocs.seed, (uint64_t)(uintptr_t)conn, remote, true);
}

static inline turn_alloc_t *find_alloc(const turn_server_t *s, const turn_endpoint_t *ep) {
    uint32_t h = alloc_hash(s, ep->conn, &ep->remote);
    for (turn_hnode_t *n = turn_htab_bucket(&s->allocs, h); n; n = n->next) {
        if (n->hash != h) continue;
        turn_alloc_t *a = TURN_CONTAINER(n, turn_alloc_t, node);
        /* The local address matters for wildcard listeners: the same client port may talk
         * to two of the server's addresses, which are two 5-tuples. */
        if (a->client.conn == ep->conn && addr_eq(&a->client.remote, &ep->remote) &&
            ip_eq(&a->client.local, &ep->local))
            return a;
    }
    return NULL;
}

static inline uint32_t perm_hash(const turn_server_t *s, const turn_alloc_t *a, const rtc_addr_t *ip) {
    return turn_hash_addr(s->perms.seed, (uint64_t)(uintptr_t)a, ip, false);
}

static inline turn_perm_t *find_perm(const turn_server_t *s, const turn_alloc_t *a, const rtc_addr_t *ip) {
    uint32_t h = perm_hash(s, a, ip);
    for (turn_hnode_t *n = turn_htab_bucket(&s->perms, h); n; n = n->next) {
        if (n->hash != h) continue;
        turn_perm_t *p = TURN_CONTAINER(n, turn_perm_t, node);
        if (p->alloc == a && ip_eq(&p->ip, ip)) return p;
    }
    return NULL;
}

static inline uint32_t chan_num_hash(const turn_server_t *s, const turn_alloc_t *a, uint16_t num) {
    return (uint32_t)turn_hash_mix(turn_hash_mix(s->chans_num.seed, (uint64_t)(uintptr_t)a), num);
}

static inline turn_chan_t *find_chan_num(const turn_server_t *s, const turn_alloc_t *a, uint16_t num) {
    uint32_t h = chan_num_hash(s, a, num);
    for (turn_hnode_t *n = turn_htab_bucket(&s->chans_num, h); n; n = n->next) {
        if (n->hash != h) continue;
        turn_chan_t *c = TURN_CONTAINER(n, turn_chan_t, by_num);
        if (c->alloc == a && c->number == num) return c;
    }
    return NULL;
}

static inline uint32_t chan_peer_hash(const turn_server_t *s, const turn_alloc_t *a, const rtc_addr_t *peer) {
    return turn_hash_addr(s->chans_peer.seed, (uint64_t)(uintptr_t)a, peer, true);
}

static inline turn_chan_t *find_chan_peer(const turn_server_t *s, const turn_alloc_t *a, const rtc_addr_t *peer) {
    uint32_t h = chan_peer_hash(s, a, peer);
    for (turn_hnode_t *n = turn_htab_bucket(&s->chans_peer, h); n; n = n->next) {
        if (n->hash != h) continue;
        turn_chan_t *c = TURN_CONTAINER(n, turn_chan_t, by_peer);
        if (c->alloc == a && addr_eq(&c->peer, peer)) return c;
    }
    return NULL;
}

/* Relay slots keep their place for the allocation's life (the runtime holds pointers to
 * them); a slot whose family was deleted by Refresh has family UNSPEC. */
static turn_relay_t *relay_for_family(turn_alloc_t *a, uint8_t family) {
    for (size_t i = 0; i < a->n_relays; i++)
        if (a->relay[i].addr.family == family && family != RTC_AF_UNSPEC) return &a->relay[i];
    return NULL;
}

static size_t active_relays(const turn_alloc_t *a) {
    size_t n = 0;
    for (size_t i = 0; i < a->n_relays; i++) n += a->relay[i].addr.family != RTC_AF_UNSPEC;
    return n;
}

static const rtc_addr_t *first_relayed(const turn_alloc_t *a) {
    for (size_t i = 0; i < a->n_relays; i++)
        if (a->relay[i].addr.family != RTC_AF_UNSPEC) return &a->relay[i].advertised;
    return &a->relay[0].advertised;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

turn_server_t *turn_server_new(turn_shared_t *sh, const turn_server_ops_t *ops, void *user) {
    if (!sh || !ops || !ops->relay_open || !ops->relay_close || !ops->send_client || !ops->send_peer)
        return NULL;
    turn_server_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sh = sh;
    s->ops = *ops;
    s->user = user;
    if (turn_htab_init(&s->allocs, 64) || turn_htab_init(&s->perms, 64) ||
        turn_htab_init(&s->chans_num, 64) || turn_htab_init(&s->chans_peer, 64)) {
        turn_server_free(s);
        return NULL;
    }
    turn_shared_snapshot(sh, &s->policy, &s->secrets, s->nonce_secret, &s->gen);
    s->wall_offset = rtc_clock_wall_us() - rtc_clock_now();
    s->prng = rtc_random_u64() | 1;
    s->next_sweep = RTC_TIME_NEVER;
    turn_ratelimit_init(&s->rl);
    return s;
}

static void perm_unlink(turn_server_t *s, turn_alloc_t *a, turn_perm_t *p) {
    for (turn_chan_t *c = a->chans; c; c = c->next)
        if (c->perm == p) c->perm = NULL;
    turn_htab_remove(&s->perms, &p->node);
    a->n_perms--;
    s->st.permissions--;
    free(p);
}

static void chan_free(turn_server_t *s, turn_alloc_t *a, turn_chan_t *c) {
    turn_htab_remove(&s->chans_num, &c->by_num);
    turn_htab_remove(&s->chans_peer, &c->by_peer);
    if (c->bound) {
        a->n_chans_bound--;
        s->st.channels--;
    }
    free(c);
}

static void relay_release(turn_server_t *s, turn_relay_t *r, uint16_t port) {
    if (r->io) s->ops.relay_close(s->user, r->io);
    r->io = NULL;
    turn_ports_release(s->sh->ports, r->addr.family, port);
}

static void alloc_delete(turn_server_t *s, turn_alloc_t *a, const char *why) {
    RTC_LOGI("turn", "allocation %s for %s (user %s) deleted: %s", rtc_addr_str(first_relayed(a)),
             rtc_addr_str(&a->client.remote), a->username, why);
    while (a->chans) {
        turn_chan_t *c = a->chans;
        a->chans = c->next;
        chan_free(s, a, c);
    }
    while (a->perms) {
        turn_perm_t *p = a->perms;
        a->perms = p->next;
        turn_htab_remove(&s->perms, &p->node);
        s->st.permissions--;
        free(p);
    }
    for (size_t i = 0; i < a->n_relays; i++)
        if (a->relay[i].addr.family != RTC_AF_UNSPEC) relay_release(s, &a->relay[i], a->relay_port[i]);
    turn_htab_remove(&s->allocs, &a->node);
    if (a->prev) a->prev->next = a->next;
    else s->all = a->next;
    if (a->next) a->next->prev = a->prev;
    turn_shared_quota_release(s->sh, a->username);
    s->st.allocations--;
    free(a->username);
    free(a);
    if (!s->all) s->next_sweep = RTC_TIME_NEVER;
}

void turn_server_free(turn_server_t *s) {
    if (!s) return;
    while (s->all) alloc_delete(s, s->all, "server shutting down");
    turn_htab_free(&s->allocs);
    turn_htab_free(&s->perms);
    turn_htab_free(&s->chans_num);
    turn_htab_free(&s->chans_peer);
    turn_policy_unref(s->policy);
    turn_secrets_unref(s->secrets);
    free(s);
}

void turn_server_set_wall_offset(turn_server_t *s, int64_t wall_minus_mono_us) {
    s->wall_offset = wall_minus_mono_us;
}

const turn_server_stats_t *turn_server_stats(const turn_server_t *s) { return &s->st; }

/* ---- responses ----------------------------------------------------------------------- */

static void resp_begin(turn_server_t *s, rtc_stun_builder_t *b, const rtc_stun_msg_t *req, rtc_stun_class_t cls) {
    rtc_stun_builder_init_response(b, s->out, sizeof s->out, req, cls);
}

/* Adds SOFTWARE, integrity (when auth is given) and FINGERPRINT (when the request had one),
 * and sends. */
static void resp_send(turn_server_t *s, rtc_stun_builder_t *b, const rtc_stun_msg_t *req,
                      const turn_endpoint_t *to, const auth_t *auth) {
    if (s->policy->software[0]) rtc_stun_add_string(b, RTC_STUN_ATTR_SOFTWARE, s->policy->software);
    if (auth) {
        if (auth->sha256) rtc_stun_add_integrity_sha256(b, auth->key, sizeof auth->key);
        else rtc_stun_add_integrity(b, auth->key, sizeof auth->key);
    }
    if (req->fingerprint >= 0) rtc_stun_add_fingerprint(b);
    int n = rtc_stun_builder_finish(b);
    if (n <= 0) {
        RTC_LOGE("turn", "building a %s response failed: %s", rtc_stun_method_name(req->method), rtc_strerror(n));
        return;
    }
    s->ops.send_client(s->user, to, s->out, (size_t)n, 0);
}

static void send_error(turn_server_t *s, const rtc_stun_msg_t *req, const turn_endpoint_t *to, int code,
                       const auth_t *auth) {
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    if (code == RTC_STUN_ERR_ALLOCATION_QUOTA) s->st.quota_rejections++;
    else if (code == RTC_STUN_ERR_INSUFFICIENT_CAPACITY) s->st.capacity_rejections++;
    else if (code == RTC_STUN_ERR_FORBIDDEN) s->st.denied_peers++;
    RTC_LOGD("turn", "%s from %s: %d %s", rtc_stun_method_name(req->method), rtc_addr_str(&to->remote), code,
             rtc_stun_error_reason(code));
    resp_send(s, &b, req, to, auth);
}

/* 401 or 438 with REALM and a fresh NONCE. These answer unauthenticated traffic, so they are
 * rate-limited per source IP and carry no integrity. */
static void send_challenge(turn_server_t *s, const rtc_stun_msg_t *req, const turn_endpoint_t *to, int code,
                           rtc_time_t now) {
    if (!turn_ratelimit_allow(&s->rl, &to->remote, s->policy->unauth_rate, s->policy->unauth_burst, now)) {
        s->st.ratelimited++;
        return;
    }
    char nonce[RTC_STUN_NONCE_LEN + 1];
    if (rtc_stun_nonce_make(s->nonce_secret, sizeof s->nonce_secret, &to->remote,
                            wall_seconds(s, now) + s->policy->nonce_lifetime, nonce) != RTC_OK)
        return;
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_REALM, s->policy->realm);
    rtc_stun_add_string(&b, RTC_STUN_ATTR_NONCE, nonce);
    resp_send(s, &b, req, to, NULL);
}

/* ---- authentication (RFC 8489 §9.2.4) ------------------------------------------------ */

/* Tries the REST secrets for a "<expiry>:<identity>" username. */
static bool rest_check(turn_server_t *s, const rtc_stun_msg_t *req, const char *username, auth_t *out,
                       rtc_time_t now, bool *expired) {
    int64_t expiry;
    *expired = false;
    if (!s->policy->rest_enabled && s->secrets->n == 0) return false;
    if (turn_rest_parse_expiry(username, &expiry) != RTC_OK) return false;
    if (expiry < wall_seconds(s, now)) {
        *expired = true;
        return false;
    }
    int64_t wall = wall_seconds(s, now);
    for (size_t i = 0; i < s->secrets->n; i++) {
        if (s->secrets->expires[i] && s->secrets->expires[i] <= wall) continue; /* retired */
        uint8_t key[TURN_LT_KEY_LEN];
        if (turn_rest_key(s->secrets->secrets[i], username, s->policy->realm, key) != TURN_LT_KEY_LEN) continue;
        if (rtc_stun_msg_check_integrity(req, key, sizeof key) == RTC_OK) {
            memcpy(out->key, key, sizeof key);
            out->rest_expiry = expiry;
            return true;
        }
    }
    return false;
}

/* Returns true when req carries valid long-term credentials (filled into *out). Otherwise the
 * right error has been sent (or suppressed by the rate limiter) and the caller stops. */
static bool authenticate(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req,
                         const turn_alloc_t *alloc, auth_t *out, rtc_time_t now) {
    if (req->integrity < 0 && req->integrity_sha256 < 0) {
        s->st.challenges++;
        send_challenge(s, req, ep, RTC_STUN_ERR_UNAUTHORIZED, now);
        return false;
    }
    char realm[TURN_REALM_MAX + 640], nonce[768];
    if (rtc_stun_msg_get_string(req, RTC_STUN_ATTR_USERNAME, out->username, sizeof out->username) != RTC_OK ||
        rtc_stun_msg_get_string(req, RTC_STUN_ATTR_REALM, realm, sizeof realm) != RTC_OK ||
        rtc_stun_msg_get_string(req, RTC_STUN_ATTR_NONCE, nonce, sizeof nonce) != RTC_OK) {
        s->st.auth_failures++;
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, NULL);
        return false;
    }
    int nrc = rtc_stun_nonce_check(s->nonce_secret, sizeof s->nonce_secret, &ep->remote, nonce, strlen(nonce),
                                   wall_seconds(s, now));
    if (nrc != RTC_OK && alloc && req->method == RTC_STUN_ALLOCATE &&
        memcmp(alloc->tid, req->tid, RTC_STUN_TID_LEN) == 0 && strcmp(alloc->username, out->username) == 0 &&
        rtc_stun_msg_check_integrity(req, alloc->key, sizeof alloc->key) == RTC_OK) {
        /* The request that created this allocation, again, with the nonce it had then: its
         * answer was lost or late and the client retransmits (RFC 8489 §6.2.1). It gets the same
         * answer (handle_allocate), not a 438: that would make the client sign a new
         * transaction, which can only meet 437 Allocation Mismatch. Seen with coTURN's
         * uclient on a loaded machine and 1 s nonces. */
        memcpy(out->key, alloc->key, sizeof out->key);
        out->sha256 = req->integrity_sha256 >= 0;
        out->rest_expiry = alloc->rest_expiry;
        return true;
    }
    if (nrc != RTC_OK) {
        /* Expired, or not one of ours (another instance's, or made up): either way the client
         * should retry with the fresh nonce in the 438. */
        s->st.stale_nonces++;
        RTC_LOGD("turn", "stale nonce from %s (%s)", rtc_addr_str(&ep->remote), rtc_strerror(nrc));
        send_challenge(s, req, ep, RTC_STUN_ERR_STALE_NONCE, now);
        return false;
    }
    out->sha256 = req->integrity_sha256 >= 0;
    out->rest_expiry = 0;
    bool ok = false, expired = false;
    if (strcmp(realm, s->policy->realm) != 0) {
        RTC_LOGD("turn", "request from %s for realm \"%s\", ours is \"%s\"", rtc_addr_str(&ep->remote), realm,
                 s->policy->realm);
    } else if (alloc && strcmp(alloc->username, out->username) == 0) {
        /* The allocation's key is cached: no secret lookup, and a REST secret rotated out of
         * Redis since does not break the session. */
        ok = rtc_stun_msg_check_integrity(req, alloc->key, sizeof alloc->key) == RTC_OK;
        if (ok) {
            memcpy(out->key, alloc->key, sizeof out->key);
            out->rest_expiry = alloc->rest_expiry;
            if (alloc->rest_expiry && alloc->rest_expiry < wall_seconds(s, now)) {
                ok = false;
                expired = true;
            }
        }
    } else {
        const turn_user_t *u = turn_policy_find_user(s->policy, out->username);
        if (u) {
            ok = rtc_stun_msg_check_integrity(req, u->key, sizeof u->key) == RTC_OK;
            if (ok) memcpy(out->key, u->key, sizeof out->key);
        } else {
            ok = rest_check(s, req, out->username, out, now, &expired);
        }
    }
    if (!ok) {
        s->st.auth_failures++;
        if (log_ok(s, now))
            RTC_LOGI("turn", "authentication failed for user \"%s\" from %s%s", out->username,
                 rtc_addr_str(&ep->remote), expired ? " (credentials expired)" : "");
        send_challenge(s, req, ep, RTC_STUN_ERR_UNAUTHORIZED, now);
        return false;
    }
    return true;
}

/* ---- permissions and channels -------------------------------------------------------- */

/* Installs or refreshes the permission for ip. RTC_ERR_LIMIT when the allocation has too many. */
static int perm_install(turn_server_t *s, turn_alloc_t *a, const rtc_addr_t *peer, rtc_time_t now,
                        turn_perm_t **out) {
    rtc_addr_t ip = *peer;
    ip.port = 0;
    ip.scope_id = 0;
    turn_perm_t *p = find_perm(s, a, &ip);
    if (!p) {
        if (s->policy->max_perms_per_alloc && a->n_perms >= s->policy->max_perms_per_alloc) return RTC_ERR_LIMIT;
        p = calloc(1, sizeof *p);
        if (!p) return RTC_ERR_NOMEM;
        p->alloc = a;
        p->ip = ip;
        p->next = a->perms;
        a->perms = p;
        a->n_perms++;
        s->st.permissions++;
        turn_htab_insert(&s->perms, &p->node, perm_hash(s, a, &ip));
        /* Channels to this IP whose permission lapsed get it back. */
        for (turn_chan_t *c = a->chans; c; c = c->next)
            if (!c->perm && ip_eq(&c->peer, &ip)) c->perm = p;
    }
    p->expires = now + RTC_SEC(s->policy->perm_lifetime);
    if (out) *out = p;
    return RTC_OK;
}

/* ---- Allocate (RFC 8656 §7.2) -------------------------------------------------------- */

static uint32_t granted_lifetime(const turn_policy_t *pol, bool has, uint32_t requested) {
    if (!has) return pol->alloc_lifetime_default;
    uint32_t v = requested < pol->alloc_lifetime_max ? requested : pol->alloc_lifetime_max;
    return v > pol->alloc_lifetime_default ? v : pol->alloc_lifetime_default;
}

static const rtc_addr_t *relay_base(const turn_policy_t *pol, uint8_t family) {
    const rtc_addr_t *a = family == RTC_AF_INET4 ? &pol->relay_v4 : &pol->relay_v6;
    return a->family == family ? a : NULL;
}

/* Gives up a reservation just made (its hold too). */
static void unreserve(turn_server_t *s, uint64_t token, rtc_time_t now) {
    uint8_t f;
    uint16_t p2;
    if (token && turn_ports_claim(s->sh->ports, token, now, &f, &p2, NULL) == RTC_OK)
        turn_ports_release(s->sh->ports, f, p2);
}

/* Opens a relay of family for a; port from a claimed reservation (fixed_port, with its hold)
 * or the pool. Returns RTC_OK, RTC_ERR_UNSUPPORTED (family disabled) or RTC_ERR_LIMIT (no
 * port). */
static int relay_add(turn_server_t *s, turn_alloc_t *a, uint8_t family, bool even, bool reserve,
                     uint16_t fixed_port, int64_t hold, rtc_time_t now) {
    const rtc_addr_t *base = relay_base(s->policy, family);
    if (!base) {
        if (fixed_port) turn_ports_release(s->sh->ports, family, fixed_port);
        turn_ports_release_hold(s->sh->ports, hold);
        return RTC_ERR_UNSUPPORTED;
    }
    const rtc_addr_t *ext = family == RTC_AF_INET4 ? &s->policy->external_v4 : &s->policy->external_v6;
    turn_relay_t *r = &a->relay[a->n_relays];
    /* Ports another process holds stay marked used until this call ends, so the pool's
     * random pick cannot hand the same busy port back on the next try. */
    uint16_t busy[MAX_RELAY_BIND_TRIES];
    int n_busy = 0;
    int rc = RTC_ERR_LIMIT;
    for (int tries = 0; tries < MAX_RELAY_BIND_TRIES; tries++) {
        int port = fixed_port;
        uint64_t token = 0;
        if (!fixed_port) {
            port = turn_ports_acquire(s->sh->ports, family, even, reserve, &token, now);
            if (port < 0) break;
            if (token && s->ops.port_hold) {
                /* Hold the reserved neighbour for real, or try another pair. */
                rtc_addr_t next = *base;
                next.port = (uint16_t)(port + 1);
                int64_t h = -1;
                if (s->ops.port_hold(s->user, &next, &h) != RTC_OK) {
                    unreserve(s, token, now);
                    busy[n_busy++] = (uint16_t)port;
                    continue;
                }
                turn_ports_set_hold(s->sh->ports, token, h);
            }
        }
        r->alloc = a;
        r->addr = *base;
        r->addr.port = (uint16_t)port;
        r->advertised = ext->family == family ? *ext : *base;
        r->advertised.port = (uint16_t)port;
        r->io = NULL;
        int64_t use_hold = fixed_port ? hold : -1;
        hold = -1; /* relay_open owns it now, whatever happens */
        if (s->ops.relay_open(s->user, r, &r->addr, a->dont_fragment, use_hold, &r->io) == RTC_OK) {
            a->relay_port[a->n_relays] = (uint16_t)port;
            a->n_relays++;
            if (token) a->token = token;
            rc = RTC_OK;
            break;
        }
        /* Another process holds the port: skip it for the rest of this call and give it back
         * afterwards (it may be free next time). A reservation made alongside is given up. */
        unreserve(s, token, now);
        if (fixed_port) {
            turn_ports_release(s->sh->ports, family, (uint16_t)port);
            break;
        }
        busy[n_busy++] = (uint16_t)port;
    }
    for (int i = 0; i < n_busy; i++) turn_ports_release(s->sh->ports, family, busy[i]);
    return rc;
}

static void send_allocate_success(turn_server_t *s, const rtc_stun_msg_t *req, turn_alloc_t *a, const auth_t *auth,
                                  rtc_time_t now) {
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_SUCCESS);
    for (size_t i = 0; i < a->n_relays; i++)
        if (a->relay[i].addr.family != RTC_AF_UNSPEC)
            rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &a->relay[i].advertised);
    int64_t left = (a->expires - now + RTC_US_PER_SEC - 1) / RTC_US_PER_SEC;
    rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, left > 0 ? (uint32_t)left : 0);
    if (a->token) rtc_stun_add_u64(&b, RTC_STUN_ATTR_RESERVATION_TOKEN, a->token);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &a->client.remote);
    if (a->addr_err_code) {
        /* ADDRESS-ERROR-CODE (RFC 8656 §18.13): family, reserved, class, number, reason. */
        const char *reason = rtc_stun_error_reason(a->addr_err_code);
        uint8_t v[4 + 64];
        size_t rl = strlen(reason);
        if (rl > 64) rl = 64;
        v[0] = a->addr_err_family == RTC_AF_INET6 ? 0x02 : 0x01;
        v[1] = 0;
        v[2] = (uint8_t)(a->addr_err_code / 100);
        v[3] = (uint8_t)(a->addr_err_code % 100);
        memcpy(v + 4, reason, rl);
        rtc_stun_add_attr(&b, a->addr_err_draft ? ATTR_ADDRESS_ERROR_CODE_DRAFT : RTC_STUN_ATTR_ADDRESS_ERROR_CODE, v,
                          4 + rl);
    }
    resp_send(s, &b, req, &a->client, auth);
}

static void handle_allocate(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req,
                            turn_alloc_t *existing, const auth_t *auth, rtc_time_t now) {
    const turn_policy_t *pol = s->policy;
    if (existing) {
        /* A retransmission of the request that created it gets the same answer (§7.2). */
        if (memcmp(existing->tid, req->tid, RTC_STUN_TID_LEN) == 0 && strcmp(existing->username, auth->username) == 0)
            send_allocate_success(s, req, existing, auth, now);
        else
            send_error(s, req, ep, RTC_STUN_ERR_ALLOCATION_MISMATCH, auth);
        return;
    }
    uint8_t proto;
    int rc = rtc_stun_msg_get_requested_transport(req, &proto);
    if (rc != RTC_OK) { send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth); return; }
    if (proto != RTC_TURN_TRANSPORT_UDP) { send_error(s, req, ep, RTC_STUN_ERR_UNSUPPORTED_TRANSPORT, auth); return; }

    bool has_token = rtc_stun_msg_has(req, RTC_STUN_ATTR_RESERVATION_TOKEN);
    bool has_even = rtc_stun_msg_has(req, RTC_STUN_ATTR_EVEN_PORT);
    bool has_rfam = rtc_stun_msg_has(req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY);
    uint16_t afam_type = RTC_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY;
    if (!rtc_stun_msg_has(req, afam_type) && rtc_stun_msg_has(req, ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT))
        afam_type = ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT;
    bool has_afam = rtc_stun_msg_has(req, afam_type);
    uint64_t token = 0;
    bool reserve = false;
    uint8_t family = RTC_AF_INET4, extra = RTC_AF_UNSPEC;
    if (has_token && (has_even || has_rfam || has_afam)) { send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth); return; }
    if (has_token && rtc_stun_msg_get_u64(req, RTC_STUN_ATTR_RESERVATION_TOKEN, &token) != RTC_OK) {
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
        return;
    }
    if (has_rfam && has_afam) { send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth); return; }
    if (has_rfam) {
        if (rtc_stun_msg_get_family(req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &family) != RTC_OK) {
            send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
            return;
        }
    }
    if (!has_token && !relay_base(pol, family)) {
        send_error(s, req, ep, RTC_STUN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED, auth);
        return;
    }
    if (has_even && rtc_stun_msg_get_even_port(req, &reserve) != RTC_OK) {
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
        return;
    }
    if (has_afam) {
        if (rtc_stun_msg_get_family(req, afam_type, &extra) != RTC_OK ||
            extra != RTC_AF_INET6 || (has_even && reserve)) {
            send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
            return;
        }
    }
    uint32_t req_lifetime = 0;
    bool has_lifetime = rtc_stun_msg_get_u32(req, RTC_STUN_ATTR_LIFETIME, &req_lifetime) == RTC_OK;
    if (turn_shared_draining(s->sh)) {
        RTC_LOGD("turn", "refusing Allocate from %s: draining", rtc_addr_str(&ep->remote));
        send_error(s, req, ep, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, auth);
        return;
    }
    bool per_user;
    rc = turn_shared_quota_acquire(s->sh, pol, auth->username, &per_user);
    if (rc != RTC_OK) {
        if (rc == RTC_ERR_LIMIT && log_ok(s, now))
            RTC_LOGI("turn", "allocation quota reached (%s) for user \"%s\" from %s", per_user ? "per user" : "total",
                     auth->username, rtc_addr_str(&ep->remote));
        send_error(s, req, ep, rc == RTC_ERR_LIMIT ? RTC_STUN_ERR_ALLOCATION_QUOTA : RTC_STUN_ERR_SERVER_ERROR, auth);
        return;
    }
    turn_alloc_t *a = calloc(1, sizeof *a);
    char *uname = strdup(auth->username);
    if (!a || !uname) {
        free(a);
        free(uname);
        turn_shared_quota_release(s->sh, auth->username);
        send_error(s, req, ep, RTC_STUN_ERR_SERVER_ERROR, auth);
        return;
    }
    a->username = uname;
    a->client = *ep;
    a->dont_fragment = rtc_stun_msg_has(req, RTC_STUN_ATTR_DONT_FRAGMENT);
    if (has_token) {
        uint16_t port;
        int64_t hold = -1;
        if (turn_ports_claim(s->sh->ports, token, now, &family, &port, &hold) != RTC_OK) {
            if (log_ok(s, now))
                RTC_LOGI("turn", "Allocate from %s: unknown or expired RESERVATION-TOKEN", rtc_addr_str(&ep->remote));
            rc = RTC_ERR_LIMIT;
        } else {
            rc = relay_add(s, a, family, false, false, port, hold, now);
        }
    } else {
        rc = relay_add(s, a, family, has_even, reserve, 0, -1, now);
    }
    if (rc == RTC_OK && extra) {
        int rc2 = relay_add(s, a, extra, false, false, 0, -1, now);
        if (rc2 != RTC_OK) {
            /* Partial success: the IPv4 relay stands, the client learns why IPv6 did not. */
            a->addr_err_family = extra;
            a->addr_err_draft = afam_type == ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT;
            a->addr_err_code = rc2 == RTC_ERR_UNSUPPORTED ? RTC_STUN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED
                                                          : RTC_STUN_ERR_INSUFFICIENT_CAPACITY;
        }
    }
    if (rc != RTC_OK) {
        if (log_ok(s, now))
            RTC_LOGW("turn", "no relay address for %s: %s", rtc_addr_str(&ep->remote),
                 has_token ? "reserved port not available" : "relay port range exhausted");
        turn_shared_quota_release(s->sh, a->username);
        free(a->username);
        free(a);
        send_error(s, req, ep, rc == RTC_ERR_UNSUPPORTED ? RTC_STUN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED
                                                         : RTC_STUN_ERR_INSUFFICIENT_CAPACITY, auth);
        return;
    }
    memcpy(a->key, auth->key, sizeof a->key);
    a->rest_expiry = auth->rest_expiry;
    memcpy(a->tid, req->tid, RTC_STUN_TID_LEN);
    a->expires = now + RTC_SEC(granted_lifetime(pol, has_lifetime, req_lifetime));
    a->bw_last = now;
    a->bw_tokens = (int64_t)pol->max_bps_per_alloc * RTC_US_PER_SEC;
    turn_htab_insert(&s->allocs, &a->node, alloc_hash(s, ep->conn, &ep->remote));
    a->next = s->all;
    if (s->all) s->all->prev = a;
    s->all = a;
    s->st.allocations++;
    s->st.allocations_created++;
    if (s->next_sweep == RTC_TIME_NEVER) s->next_sweep = now + SWEEP_INTERVAL;
    RTC_LOGI("turn", "allocation %s%s%s for %s (user %s, %s)", rtc_addr_str(&a->relay[0].advertised),
             a->n_relays > 1 ? " + " : "", a->n_relays > 1 ? rtc_addr_str(&a->relay[1].advertised) : "",
             rtc_addr_str(&ep->remote), a->username,
             ep->transport == TURN_TRANSPORT_UDP ? "udp" : ep->transport == TURN_TRANSPORT_TCP ? "tcp" : "tls");
    send_allocate_success(s, req, a, auth, now);
}

/* ---- Refresh (RFC 8656 §8.2) --------------------------------------------------------- */

static void handle_refresh(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req,
                           turn_alloc_t *a, const auth_t *auth, rtc_time_t now) {
    uint8_t family = RTC_AF_UNSPEC;
    if (rtc_stun_msg_has(req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY)) {
        if (rtc_stun_msg_get_family(req, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &family) != RTC_OK) {
            send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
            return;
        }
        if (!relay_for_family(a, family)) {
            send_error(s, req, ep, RTC_STUN_ERR_PEER_ADDRESS_FAMILY_MISMATCH, auth);
            return;
        }
    }
    uint32_t requested = 0;
    bool has = rtc_stun_msg_get_u32(req, RTC_STUN_ATTR_LIFETIME, &requested) == RTC_OK;
    uint32_t granted = 0;
    if (has && requested == 0) {
        if (family != RTC_AF_UNSPEC && active_relays(a) > 1) {
            /* Delete one family of a dual allocation; its slot stays, retired. */
            turn_relay_t *r = relay_for_family(a, family);
            relay_release(s, r, a->relay_port[r - a->relay]);
            r->addr.family = RTC_AF_UNSPEC;
            int64_t left = (a->expires - now) / RTC_US_PER_SEC;
            granted = left > 0 ? (uint32_t)left : 0;
        } else {
            rtc_stun_builder_t b;
            resp_begin(s, &b, req, RTC_STUN_SUCCESS);
            rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, 0);
            turn_endpoint_t to = a->client;
            s->st.allocations_deleted++;
            alloc_delete(s, a, "refreshed with lifetime 0");
            resp_send(s, &b, req, &to, auth);
            return;
        }
    } else {
        granted = granted_lifetime(s->policy, has, requested);
        a->expires = now + RTC_SEC(granted);
    }
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_SUCCESS);
    rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, granted);
    resp_send(s, &b, req, ep, auth);
}

/* ---- CreatePermission (RFC 8656 §10.2) ----------------------------------------------- */

/* Checks one peer address for a permission or channel: 443 when no relay has its family,
 * 403 when policy refuses it. Returns 0 when fine; *canon gets the address to use. */
static int check_peer(turn_server_t *s, turn_alloc_t *a, const rtc_addr_t *peer, rtc_addr_t *canon,
                      rtc_time_t now) {
    *canon = peer_canonical(peer);
    if (!relay_for_family(a, canon->family)) return RTC_STUN_ERR_PEER_ADDRESS_FAMILY_MISMATCH;
    if (turn_peer_filter_check(&s->policy->filter, peer, NULL) != RTC_OK) {
        if (log_ok(s, now))
            RTC_LOGI("turn", "peer %s refused for %s (user %s): denied range", rtc_addr_str(peer),
                 rtc_addr_str(&a->client.remote), a->username);
        return RTC_STUN_ERR_FORBIDDEN;
    }
    return 0;
}

#define MAX_PEERS_PER_REQUEST 32

static void handle_create_permission(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req,
                                     turn_alloc_t *a, const auth_t *auth, rtc_time_t now) {
    rtc_addr_t peers[MAX_PEERS_PER_REQUEST];
    size_t n = 0, fresh = 0;
    for (const rtc_stun_attr_t *at = rtc_stun_msg_find(req, RTC_STUN_ATTR_XOR_PEER_ADDRESS); at;
         at = rtc_stun_msg_find_next(req, at)) {
        rtc_addr_t peer;
        if (n >= MAX_PEERS_PER_REQUEST || rtc_stun_attr_get_xor_address(req, at, &peer) != RTC_OK) {
            send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
            return;
        }
        int code = check_peer(s, a, &peer, &peers[n], now);
        if (code) { send_error(s, req, ep, code, auth); return; }
        rtc_addr_t ip = peers[n];
        ip.port = 0;
        if (!find_perm(s, a, &ip)) fresh++;
        n++;
    }
    if (n == 0) { send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth); return; }
    /* All or nothing (§10.2): check capacity before installing any. Duplicates in one
     * request may overcount `fresh`, which only errs on the safe side. */
    if (s->policy->max_perms_per_alloc && a->n_perms + fresh > s->policy->max_perms_per_alloc) {
        send_error(s, req, ep, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, auth);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (perm_install(s, a, &peers[i], now, NULL) != RTC_OK) {
            send_error(s, req, ep, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, auth);
            return;
        }
    }
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_SUCCESS);
    resp_send(s, &b, req, ep, auth);
}

/* ---- ChannelBind (RFC 8656 §12.2) ---------------------------------------------------- */

static void handle_channel_bind(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req,
                                turn_alloc_t *a, const auth_t *auth, rtc_time_t now) {
    uint16_t num;
    rtc_addr_t peer, canon;
    if (rtc_stun_msg_get_channel(req, &num) != RTC_OK || !chan_ok(s, num) ||
        rtc_stun_msg_get_xor_address(req, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK) {
        RTC_LOGD("turn", "ChannelBind from %s: channel number or peer address missing or invalid",
                 rtc_addr_str(&ep->remote));
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
        return;
    }
    int code = check_peer(s, a, &peer, &canon, now);
    if (code) { send_error(s, req, ep, code, auth); return; }
    turn_chan_t *by_num = find_chan_num(s, a, num);
    turn_chan_t *by_peer = find_chan_peer(s, a, &canon);
    /* The number may not name another peer, nor the peer another number — bound or still in
     * its post-expiry quarantine. */
    if ((by_num && !addr_eq(&by_num->peer, &canon)) || (by_peer && by_peer->number != num)) {
        RTC_LOGD("turn", "ChannelBind 0x%04x to %s from %s: %s", num, rtc_addr_str(&canon), rtc_addr_str(&ep->remote),
                 by_num && !addr_eq(&by_num->peer, &canon) ? "channel bound to another peer"
                                                            : "peer bound to another channel");
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, auth);
        return;
    }
    turn_perm_t *perm;
    int rc = perm_install(s, a, &canon, now, &perm);
    if (rc != RTC_OK) { send_error(s, req, ep, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, auth); return; }
    turn_chan_t *c = by_num;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) { send_error(s, req, ep, RTC_STUN_ERR_SERVER_ERROR, auth); return; }
        c->alloc = a;
        c->number = num;
        c->peer = canon;
        c->next = a->chans;
        a->chans = c;
        turn_htab_insert(&s->chans_num, &c->by_num, chan_num_hash(s, a, num));
        turn_htab_insert(&s->chans_peer, &c->by_peer, chan_peer_hash(s, a, &canon));
    }
    if (!c->bound) {
        c->bound = true;
        a->n_chans_bound++;
        s->st.channels++;
    }
    c->perm = perm;
    c->expires = now + RTC_SEC(s->policy->chan_lifetime);
    rtc_stun_builder_t b;
    resp_begin(s, &b, req, RTC_STUN_SUCCESS);
    resp_send(s, &b, req, ep, auth);
}

/* ---- relaying ------------------------------------------------------------------------ */

/* Per-allocation bandwidth quota: a bucket holding one second's worth of bytes. */
static inline bool bw_take(turn_server_t *s, turn_alloc_t *a, size_t len, rtc_time_t now) {
    uint64_t bps = s->policy->max_bps_per_alloc;
    if (!bps) return true;
    int64_t cap = (int64_t)bps * RTC_US_PER_SEC;
    if (now > a->bw_last) {
        int64_t add = (now - a->bw_last) * (int64_t)bps;
        a->bw_tokens = (add > cap || a->bw_tokens + add > cap) ? cap : a->bw_tokens + add;
        a->bw_last = now;
    }
    int64_t need = (int64_t)len * RTC_US_PER_SEC;
    if (a->bw_tokens < need) {
        s->st.dropped_bandwidth++;
        return false;
    }
    a->bw_tokens -= need;
    return true;
}

static void relay_to_peer(turn_server_t *s, turn_alloc_t *a, const rtc_addr_t *peer, const uint8_t *data,
                          size_t len, unsigned flags, rtc_time_t now) {
    turn_relay_t *r = relay_for_family(a, peer->family);
    if (!r) { s->st.dropped++; return; }
    if (!bw_take(s, a, len, now)) return;
    s->st.pkts_client_to_peer++;
    s->st.bytes_client_to_peer += len;
    s->ops.send_peer(s->user, r->io, peer, data, len, flags | TURN_SEND_BORROWED | (a->dont_fragment ? TURN_SEND_DF : 0));
}

/* ChannelData from a client (§12.6): the hot path. Touches the 4-byte header, one hash
 * bucket for the allocation and one for the channel. */
static void client_channel_data(turn_server_t *s, const turn_endpoint_t *ep, const uint8_t *p, size_t n,
                                rtc_time_t now) {
    uint16_t num, len;
    num = rtc_be16(p);
    len = rtc_be16(p + 2);
    turn_alloc_t *a;
    turn_chan_t *c;
    if (!chan_ok(s, num) || n - RTC_TURN_CHANNEL_HEADER_LEN < len || !(a = find_alloc(s, ep))) {
        s->st.dropped++;
        return;
    }
    if (a->fast_num == num && now < a->fast_until) {
        relay_to_peer(s, a, &a->fast_peer, p + RTC_TURN_CHANNEL_HEADER_LEN, len, 0, now);
        return;
    }
    if (!(c = find_chan_num(s, a, num)) || !c->bound || c->expires <= now || !c->perm || c->perm->expires <= now) {
        s->st.dropped++;
        return;
    }
    a->fast_num = num;
    a->fast_peer = c->peer;
    a->fast_until = c->expires < c->perm->expires ? c->expires : c->perm->expires;
    relay_to_peer(s, a, &a->fast_peer, p + RTC_TURN_CHANNEL_HEADER_LEN, len, 0, now);
}

/* Send indication (§11.2): no authentication; dropped unless a permission exists. */
static void handle_send(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *msg, rtc_time_t now) {
    turn_alloc_t *a = find_alloc(s, ep);
    rtc_addr_t peer;
    const uint8_t *data;
    size_t len;
    if (!a || rtc_stun_msg_get_xor_address(msg, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK ||
        rtc_stun_msg_get_data(msg, &data, &len) != RTC_OK) {
        s->st.dropped++;
        return;
    }
    peer = peer_canonical(&peer);
    rtc_addr_t ip = peer;
    ip.port = 0;
    turn_perm_t *perm = find_perm(s, a, &ip);
    if (!perm || perm->expires <= now) {
        s->st.dropped++;
        return;
    }
    relay_to_peer(s, a, &peer, data, len, rtc_stun_msg_has(msg, RTC_STUN_ATTR_DONT_FRAGMENT) ? TURN_SEND_DF : 0, now);
}

void turn_server_on_peer(turn_server_t *s, turn_relay_t *relay, const rtc_addr_t *peer, uint8_t *p, size_t n,
                         rtc_time_t now) {
    turn_alloc_t *a = relay->alloc;
    rtc_addr_t ip = *peer;
    ip.port = 0;
    ip.scope_id = 0;
    turn_perm_t *perm = find_perm(s, a, &ip);
    if (!perm || perm->expires <= now) {
        s->st.dropped++;
        return;
    }
    if (!bw_take(s, a, n, now)) return;
    bool stream = a->client.transport != TURN_TRANSPORT_UDP;
    rtc_addr_t key = *peer;
    key.scope_id = 0;
    turn_chan_t *c = find_chan_peer(s, a, &key);
    if (c && c->bound && c->expires > now) {
        /* ChannelData: 4-byte header in front, in place; pad to 4 on streams (§12.5). */
        if (n > 0xFFFF) { s->st.dropped++; return; }
        uint8_t *h = p - RTC_TURN_CHANNEL_HEADER_LEN;
        size_t total = RTC_TURN_CHANNEL_HEADER_LEN + n;
        rtc_put_be16(h, c->number);
        rtc_put_be16(h + 2, (uint16_t)n);
        if (stream) {
            size_t padded = (total + 3) & ~(size_t)3;
            memset(p + n, 0, padded - total);
            total = padded;
        }
        s->st.pkts_peer_to_client++;
        s->st.bytes_peer_to_client += n;
        s->ops.send_client(s->user, &a->client, h, total, TURN_SEND_BORROWED);
        return;
    }
    /* Data indication (§11.3), header built in front of the payload. */
    size_t alen = peer->family == RTC_AF_INET4 ? 8 : 20;
    size_t hdr = RTC_STUN_HEADER_LEN + 4 + alen + 4;
    size_t padded = (n + 3) & ~(size_t)3;
    size_t body = hdr - RTC_STUN_HEADER_LEN + padded;
    if (body > 0xFFFF) { s->st.dropped++; return; }
    uint8_t *m = p - hdr;
    rtc_put_be16(m, 0x0017); /* Data indication */
    rtc_put_be16(m + 2, (uint16_t)body);
    rtc_put_be32(m + 4, RTC_STUN_MAGIC_COOKIE);
    uint64_t r1 = prng_next(s), r2 = prng_next(s);
    memcpy(m + 8, &r1, 8);
    memcpy(m + 16, &r2, 4);
    uint8_t *at = m + RTC_STUN_HEADER_LEN;
    rtc_put_be16(at, RTC_STUN_ATTR_XOR_PEER_ADDRESS);
    rtc_put_be16(at + 2, (uint16_t)alen);
    at[4] = 0;
    at[5] = peer->family == RTC_AF_INET4 ? 0x01 : 0x02;
    rtc_put_be16(at + 6, (uint16_t)(peer->port ^ (RTC_STUN_MAGIC_COOKIE >> 16)));
    uint8_t pad[16];
    rtc_put_be32(pad, RTC_STUN_MAGIC_COOKIE);
    memcpy(pad + 4, m + 8, RTC_STUN_TID_LEN);
    for (size_t i = 0; i < alen - 4; i++) at[8 + i] = peer->ip[i] ^ pad[i];
    at += 4 + alen;
    rtc_put_be16(at, RTC_STUN_ATTR_DATA);
    rtc_put_be16(at + 2, (uint16_t)n);
    if (padded > n) memset(p + n, 0, padded - n);
    s->st.pkts_peer_to_client++;
    s->st.bytes_peer_to_client += n;
    s->ops.send_client(s->user, &a->client, m, hdr + padded, TURN_SEND_BORROWED);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static void handle_request(turn_server_t *s, const turn_endpoint_t *ep, const rtc_stun_msg_t *req, int decode_rc,
                           rtc_time_t now) {
    s->st.requests++;
    if (req->method == RTC_STUN_BINDING) {
        rtc_stun_responder_config_t cfg = {.software = s->policy->software[0] ? s->policy->software : NULL};
        int n = rtc_stun_binding_respond(&cfg, req->raw, req->raw_len, &ep->remote, s->out, sizeof s->out);
        if (n > 0) s->ops.send_client(s->user, ep, s->out, (size_t)n, 0);
        return;
    }
    if (req->method != RTC_STUN_ALLOCATE && req->method != RTC_STUN_REFRESH &&
        req->method != RTC_STUN_CREATE_PERMISSION && req->method != RTC_STUN_CHANNEL_BIND) {
        /* Unknown or unsupported method (e.g. RFC 6062 Connect): unauthenticated 400. */
        if (!turn_ratelimit_allow(&s->rl, &ep->remote, s->policy->unauth_rate, s->policy->unauth_burst, now)) {
            s->st.ratelimited++;
            return;
        }
        send_error(s, req, ep, RTC_STUN_ERR_BAD_REQUEST, NULL);
        return;
    }
    turn_alloc_t *a = find_alloc(s, ep);
    auth_t auth;
    if (!authenticate(s, ep, req, a, &auth, now)) return;
    if (decode_rc == RTC_ERR_UNKNOWN_ATTR) {
        /* After authentication, as RFC 8489 §6.3 orders it; the answer is signed. */
        rtc_stun_builder_t b;
        resp_begin(s, &b, req, RTC_STUN_ERROR);
        rtc_stun_add_error(&b, RTC_STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
        rtc_stun_add_unknown_attributes(&b, req->unknown, req->n_unknown);
        resp_send(s, &b, req, ep, &auth);
        return;
    }
    if (req->method == RTC_STUN_ALLOCATE) {
        handle_allocate(s, ep, req, a, &auth, now);
        return;
    }
    if (!a) {
        send_error(s, req, ep, RTC_STUN_ERR_ALLOCATION_MISMATCH, &auth);
        return;
    }
    if (strcmp(a->username, auth.username) != 0) {
        s->st.auth_failures++;
        send_error(s, req, ep, RTC_STUN_ERR_WRONG_CREDENTIALS, &auth);
        return;
    }
    switch (req->method) {
    case RTC_STUN_REFRESH: handle_refresh(s, ep, req, a, &auth, now); break;
    case RTC_STUN_CREATE_PERMISSION: handle_create_permission(s, ep, req, a, &auth, now); break;
    case RTC_STUN_CHANNEL_BIND: handle_channel_bind(s, ep, req, a, &auth, now); break;
    default: break;
    }
}

void turn_server_on_client(turn_server_t *s, const turn_endpoint_t *from, const uint8_t *p, size_t n,
                           rtc_time_t now) {
    if (!p || n < 4) { s->st.dropped++; return; }
    uint8_t top = p[0] & 0xC0;
    if (top == 0x40) {
        client_channel_data(s, from, p, n, now);
        return;
    }
    if (top != 0 || !rtc_stun_is_message(p, n)) { s->st.dropped++; return; }
    refresh_snapshot(s);
    rtc_stun_msg_t msg;
    int rc = rtc_stun_msg_decode(&msg, p, n);
    if (rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) {
        RTC_LOGD("turn", "dropping undecodable message from %s: %s", rtc_addr_str(&from->remote), rtc_strerror(rc));
        s->st.dropped++;
        return;
    }
    if (msg.cls == RTC_STUN_REQUEST) {
        handle_request(s, from, &msg, rc, now);
    } else if (msg.cls == RTC_STUN_INDICATION && msg.method == RTC_STUN_SEND && rc == RTC_OK) {
        handle_send(s, from, &msg, now);
    } else {
        s->st.dropped++; /* responses, other indications, indications with unknown attributes */
    }
}

int turn_server_frame_length(const turn_server_t *s, const uint8_t *p, size_t n) {
    if (n < 4) return RTC_ERR_AGAIN;
    if ((p[0] & 0xC0) == 0) return rtc_stun_frame_length(p, n);
    if ((p[0] & 0xC0) == 0x40) {
        if (!chan_ok(s, rtc_be16(p))) return RTC_ERR_MALFORMED;
        return (int)((RTC_TURN_CHANNEL_HEADER_LEN + rtc_be16(p + 2) + 3u) & ~3u);
    }
    return RTC_ERR_MALFORMED;
}

void turn_server_on_conn_closed(turn_server_t *s, const turn_endpoint_t *ep) {
    turn_alloc_t *a = find_alloc(s, ep);
    if (a) {
        s->st.allocations_deleted++;
        alloc_delete(s, a, "connection closed");
    }
}

/* ---- timers -------------------------------------------------------------------------- */

rtc_time_t turn_server_next_timeout(const turn_server_t *s) { return s->all ? s->next_sweep : RTC_TIME_NEVER; }

void turn_server_handle_timeout(turn_server_t *s, rtc_time_t now) {
    refresh_snapshot(s);
    turn_ports_expire(s->sh->ports, now);
    for (turn_alloc_t *a = s->all, *next; a; a = next) {
        next = a->next;
        if (a->expires <= now) {
            s->st.allocations_expired++;
            alloc_delete(s, a, "lifetime expired");
            continue;
        }
        for (turn_chan_t **pc = &a->chans; *pc;) {
            turn_chan_t *c = *pc;
            if (c->expires > now) { pc = &c->next; continue; }
            if (c->bound) {
                /* Binding over: quarantine number and peer for 5 minutes from expiry. */
                c->bound = false;
                a->n_chans_bound--;
                s->st.channels--;
                c->expires += CHANNEL_QUARANTINE;
                if (c->expires > now) { pc = &c->next; continue; }
            }
            *pc = c->next;
            chan_free(s, a, c);
        }
        for (turn_perm_t **pp = &a->perms; *pp;) {
            turn_perm_t *p = *pp;
            if (p->expires > now) { pp = &p->next; continue; }
            *pp = p->next;
            perm_unlink(s, a, p);
        }
    }
    s->next_sweep = s->all ? now + SWEEP_INTERVAL : RTC_TIME_NEVER;
}

int turn_server_alloc_info(const turn_server_t *s, const turn_endpoint_t *client, turn_alloc_info_t *out) {
    const turn_alloc_t *a = find_alloc(s, client);
    if (!a) return RTC_ERR_NOT_FOUND;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < a->n_relays; i++)
        if (a->relay[i].addr.family != RTC_AF_UNSPEC) out->relayed[out->n_relayed++] = a->relay[i].advertised;
    out->expires = a->expires;
    out->n_permissions = a->n_perms;
    out->n_channels = a->n_chans_bound;
    snprintf(out->username, sizeof out->username, "%s", a->username);
    return RTC_OK;
}
