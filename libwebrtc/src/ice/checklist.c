/* The checklist (RFC 8445 §6.1.2-§8): candidate pairs and their states, paced ordinary and
 * triggered checks, answering the peer's checks (with role-conflict resolution and
 * peer-reflexive learning), regular and aggressive nomination, pair selection, and consent
 * freshness (RFC 7675) with keepalives on the selected pair. */
#include "ice/ice_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define LOG "ice"

/* ------------------------------------------------------------------------------------------
 * Pairs.
 */
ice_pair_t *ice_find_pair(const rtc_ice_agent_t *a, const ice_base_t *base, const rtc_addr_t *raddr) {
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->local->base == base && rtc_addr_equal(&p->remote->c.addr, raddr)) return p;
    }
    return NULL;
}

static uint64_t pair_priority(const rtc_ice_agent_t *a, const ice_local_t *l, const ice_remote_t *r) {
    return a->role == RTC_ICE_ROLE_CONTROLLING ? rtc_ice_pair_priority(l->c.priority, r->c.priority)
                                               : rtc_ice_pair_priority(r->c.priority, l->c.priority);
}

void ice_recompute_priorities(rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        p->priority = pair_priority(a, p->local, p->remote);
    }
}

void ice_set_role(rtc_ice_agent_t *a, rtc_ice_role_t role) {
    if (a->role == role) return;
    RTC_LOGI(LOG, "role %s -> %s", a->role == RTC_ICE_ROLE_CONTROLLING ? "controlling" : "controlled",
             role == RTC_ICE_ROLE_CONTROLLING ? "controlling" : "controlled");
    a->role = role;
    ice_recompute_priorities(a);
}

static bool same_foundation(const ice_pair_t *p, const ice_pair_t *q) {
    return strcmp(p->local->c.foundation, q->local->c.foundation) == 0 &&
           strcmp(p->remote->c.foundation, q->remote->c.foundation) == 0;
}

/* Is a check of p's foundation waiting or running? (§6.1.4.2: then p stays frozen.) */
static bool foundation_busy(const rtc_ice_agent_t *a, const ice_pair_t *p) {
    for (size_t i = 0; i < a->pairs.n; i++) {
        const ice_pair_t *q = a->pairs.v[i];
        if (q == p || q->pruned) continue;
        if ((q->state == RTC_ICE_PAIR_WAITING || q->state == RTC_ICE_PAIR_IN_PROGRESS) &&
            same_foundation(p, q))
            return true;
    }
    return false;
}

static void unfreeze_foundation(rtc_ice_agent_t *a, const ice_pair_t *p) {
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *q = a->pairs.v[i];
        if (q->state == RTC_ICE_PAIR_FROZEN && !q->pruned && same_foundation(p, q))
            q->state = RTC_ICE_PAIR_WAITING;
    }
}

static void free_pair(rtc_ice_agent_t *a, ice_pair_t *p) {
    ice_vec_remove(&a->pairs, p);
    ice_vec_remove(&a->triggered, p);
    if (a->selected == p) a->selected = NULL;
    if (a->pruned_for == p) a->pruned_for = NULL;
    free(p);
}

void ice_free_pairs(rtc_ice_agent_t *a) {
    for (size_t i = 0; i < a->pairs.n; i++) free(a->pairs.v[i]);
    a->pairs.n = 0;
    a->triggered.n = 0;
    a->selected = NULL;
    a->pruned_for = NULL;
}

static bool nominated_exists(const rtc_ice_agent_t *a) {
    return a->selected && a->selected->nominated;
}

/* Adds the pair (l, r). `incoming`: created for a check that arrived, which is answered and
 * checked back whatever the checklist's state. Returns the pair or NULL. */
static ice_pair_t *create_pair(rtc_ice_agent_t *a, ice_local_t *l, ice_remote_t *r, bool incoming) {
    if (!r->pairable || l->c.addr.family != r->c.addr.family) return NULL;
    if (rtc_addr_is_link_local(&l->base->addr) != rtc_addr_is_link_local(&r->c.addr)) return NULL;
    /* §6.1.2.4 pruning: the local side of every pair is a base (srflx candidates are replaced
     * by theirs), so a pair with the same base and remote address is the same pair. */
    ice_pair_t *existing = ice_find_pair(a, l->base, &r->c.addr);
    if (existing) return existing;
    uint64_t prio = pair_priority(a, l, r);
    if (!incoming && nominated_exists(a) &&
        (a->cfg.nomination == RTC_ICE_NOMINATION_REGULAR || prio < a->selected->priority))
        return NULL; /* the checklist is done (§8.1.2); nothing better to find */
    if (a->pairs.n >= a->cfg.max_pairs) {
        /* §6.1.2.5: keep the highest-priority pairs; evict the lowest one that is idle. */
        ice_pair_t *low = NULL;
        for (size_t i = 0; i < a->pairs.n; i++) {
            ice_pair_t *q = a->pairs.v[i];
            if ((q->state != RTC_ICE_PAIR_FROZEN && q->state != RTC_ICE_PAIR_WAITING) || q->triggered ||
                q->inflight || q->peer_checked || q->nominating)
                continue;
            if (!low || q->priority < low->priority) low = q;
        }
        if (!low || (!incoming && low->priority >= prio)) return NULL;
        free_pair(a, low);
    }
    ice_pair_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->id = a->next_pair_id++;
    p->local = l;
    p->remote = r;
    p->priority = prio;
    p->state = RTC_ICE_PAIR_WAITING;
    if (ice_vec_push(&a->pairs, p) != RTC_OK) {
        free(p);
        return NULL;
    }
    /* RFC 8838 §10: a new pair waits if no check of its foundation is pending, else it is
     * frozen until one succeeds. */
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *q = a->pairs.v[i];
        if (q != p && !q->pruned && q->state != RTC_ICE_PAIR_SUCCEEDED &&
            q->state != RTC_ICE_PAIR_FAILED && same_foundation(p, q)) {
            p->state = RTC_ICE_PAIR_FROZEN;
            break;
        }
    }
    if (a->next_pace < a->now) a->next_pace = a->now;
    /* A relayed local candidate can only reach peers the TURN server lets through. */
    if (l->base->kind == BASE_RELAY) ice_relay_permit(l->base, &r->c.addr);
    RTC_LOGD(LOG, "pair %u %s %s -> %s %s (%s)", p->id, rtc_ice_candidate_type_name(l->c.type),
             rtc_addr_str(&l->c.addr), rtc_ice_candidate_type_name(r->c.type), rtc_addr_str(&r->c.addr),
             rtc_ice_pair_state_name(p->state));
    return p;
}

void ice_pair_candidates(rtc_ice_agent_t *a, ice_local_t *l, ice_remote_t *r) {
    if (a->cfg.lite) return; /* lite agents keep no checklist; pairs come from the peer's checks */
    create_pair(a, l, r, false);
}

/* ------------------------------------------------------------------------------------------
 * Sending checks.
 */
static bool can_check(const rtc_ice_agent_t *a) {
    return !a->cfg.lite && a->have_remote_creds && !a->failed && !a->closed;
}

static void enqueue_triggered(rtc_ice_agent_t *a, ice_pair_t *p) {
    if (p->triggered) return;
    if (ice_vec_push(&a->triggered, p) != RTC_OK) return;
    p->triggered = true;
    p->pruned = false;
    if (a->next_pace < a->now) a->next_pace = a->now;
}

/* Builds a Binding request for pair p (§7.2.2). Returns its length or a negative error. */
static int build_check(rtc_ice_agent_t *a, const ice_pair_t *p, bool use_candidate, uint32_t prio,
                       uint8_t *buf, size_t cap, rtc_stun_builder_t *bld) {
    char username[2 * RTC_ICE_UFRAG_MAX + 2];
    snprintf(username, sizeof username, "%s:%s", a->remote_ufrag, a->ufrag);
    rtc_stun_builder_init(bld, buf, cap, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
    rtc_stun_add_string(bld, RTC_STUN_ATTR_USERNAME, username);
    rtc_stun_add_u32(bld, RTC_STUN_ATTR_PRIORITY, prio);
    rtc_stun_add_u64(bld, a->role == RTC_ICE_ROLE_CONTROLLING ? RTC_STUN_ATTR_ICE_CONTROLLING
                                                              : RTC_STUN_ATTR_ICE_CONTROLLED,
                     a->tie_breaker);
    if (use_candidate) rtc_stun_add_flag(bld, RTC_STUN_ATTR_USE_CANDIDATE);
    rtc_stun_add_integrity(bld, (const uint8_t *)a->remote_pwd, strlen(a->remote_pwd));
    rtc_stun_add_fingerprint(bld);
    (void)p;
    return rtc_stun_builder_finish(bld);
}

/* The priority a peer-reflexive candidate learned from this check would get (§7.2.2):
 * type preference prflx, the local candidate's own local preference. */
static uint32_t prflx_priority(const ice_local_t *l) {
    return rtc_ice_candidate_priority(RTC_ICE_TYPE_PREF_PRFLX, (l->c.priority >> 8) & 0xFFFF,
                                      l->c.component);
}

static bool send_check(rtc_ice_agent_t *a, ice_pair_t *p, rtc_time_t now) {
    bool use_cand = a->role == RTC_ICE_ROLE_CONTROLLING &&
                    (a->cfg.nomination == RTC_ICE_NOMINATION_AGGRESSIVE || p->nominating);
    uint32_t prio = prflx_priority(p->local);
    uint8_t buf[1024];
    rtc_stun_builder_t bld;
    int len = build_check(a, p, use_cand, prio, buf, sizeof buf, &bld);
    if (len < 0) return false;
    ice_base_t *b = p->local->base;
    ice_txn_t *t = ice_txn_new(a, TXN_CHECK, b, rtc_stun_builder_tid(&bld));
    if (!t) return false;
    t->pair = p;
    t->use_candidate = use_cand;
    t->role = a->role;
    t->prio_sent = prio;
    /* §14.3: RTO = MAX(500 ms, Ta * (number of Waiting and In-Progress pairs)). */
    unsigned active = 0;
    for (size_t i = 0; i < a->pairs.n; i++) {
        const ice_pair_t *q = a->pairs.v[i];
        if (q->state == RTC_ICE_PAIR_WAITING || q->state == RTC_ICE_PAIR_IN_PROGRESS) active++;
    }
    rtc_stun_txn_config_t tc;
    rtc_stun_txn_config_default(&tc);
    tc.rto = a->cfg.check_rto;
    if (a->cfg.ta * active > tc.rto) tc.rto = a->cfg.ta * active;
    tc.rc = a->cfg.check_max_sends;
    if (rtc_stun_txns_start(b->txns, buf, (size_t)len, &p->remote->c.addr, t, &tc, now) != RTC_OK) {
        ice_txn_free(a, t);
        return false;
    }
    if (p->state != RTC_ICE_PAIR_SUCCEEDED) p->state = RTC_ICE_PAIR_IN_PROGRESS;
    p->inflight++;
    p->requests_sent++;
    p->last_sent = now;
    RTC_LOGD(LOG, "check pair %u %s -> %s%s", p->id, rtc_addr_str(&b->addr),
             rtc_addr_str(&p->remote->c.addr), use_cand ? " USE-CANDIDATE" : "");
    return true;
}

/* The ordinary check to send next (§6.1.4.2), or NULL. With `unfreeze`, frozen pairs whose
 * foundation has nothing waiting or running are moved to Waiting on the way. */
static ice_pair_t *next_ordinary(rtc_ice_agent_t *a, bool unfreeze) {
    ice_pair_t *best = NULL;
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->state == RTC_ICE_PAIR_WAITING && !p->pruned && (!best || p->priority > best->priority))
            best = p;
    }
    if (best) return best;
    /* Nothing waiting: unfreeze, highest priority first, one pair per idle foundation. */
    for (;;) {
        ice_pair_t *cand = NULL;
        for (size_t i = 0; i < a->pairs.n; i++) {
            ice_pair_t *p = a->pairs.v[i];
            if (p->state != RTC_ICE_PAIR_FROZEN || p->pruned || foundation_busy(a, p)) continue;
            if (!cand || p->priority > cand->priority) cand = p;
        }
        if (!cand) break;
        if (!unfreeze) return cand;
        cand->state = RTC_ICE_PAIR_WAITING;
        if (!best || cand->priority > best->priority) best = cand;
    }
    return best;
}

bool ice_has_paced_work(const rtc_ice_agent_t *a) {
    if (a->closed || a->failed) return false;
    if (ice_has_gather_work(a)) return true;
    if (!can_check(a)) return false;
    if (a->triggered.n) return true;
    return next_ordinary((rtc_ice_agent_t *)a, false) != NULL;
}

bool ice_send_next_check(rtc_ice_agent_t *a, rtc_time_t now) {
    if (!can_check(a)) return false;
    while (a->triggered.n) {
        ice_pair_t *p = a->triggered.v[0];
        ice_vec_remove_at(&a->triggered, 0);
        p->triggered = false;
        if (send_check(a, p, now)) return true;
    }
    ice_pair_t *p = next_ordinary(a, true);
    return p && send_check(a, p, now);
}

/* ------------------------------------------------------------------------------------------
 * Results of our transactions.
 */
static void pair_failed(rtc_ice_agent_t *a, ice_pair_t *p, const char *why) {
    if (p->state == RTC_ICE_PAIR_SUCCEEDED || p->inflight || p->triggered) return;
    p->state = RTC_ICE_PAIR_FAILED;
    RTC_LOGD(LOG, "pair %u %s -> %s failed: %s", p->id, rtc_addr_str(&p->local->c.addr),
             rtc_addr_str(&p->remote->c.addr), why);
}

static ice_local_t *find_local(const rtc_ice_agent_t *a, const ice_base_t *b, const rtc_addr_t *addr) {
    for (size_t i = 0; i < a->locals.n; i++) {
        ice_local_t *l = a->locals.v[i];
        if (l->base == b && rtc_addr_equal(&l->c.addr, addr)) return l;
    }
    return NULL;
}

static void check_done(rtc_ice_agent_t *a, const ice_txn_t *t, int result, const rtc_stun_msg_t *resp,
                       const rtc_addr_t *from, rtc_time_t rtt) {
    ice_pair_t *p = t->pair;
    rtc_time_t now = a->now;
    if (p->inflight) p->inflight--;
    if (result != RTC_OK || !resp) {
        if (t->use_candidate) p->nominating = false;
        pair_failed(a, p, "no response");
        return;
    }
    p->responses_received++;
    if (resp->cls == RTC_STUN_ERROR) {
        int code = 0;
        rtc_stun_msg_get_error(resp, &code, NULL, 0);
        if (code == RTC_STUN_ERR_ROLE_CONFLICT) {
            /* §7.2.5.1: switch role if we still hold the one we sent, and check again. */
            a->stats.role_conflicts++;
            if (t->role == a->role)
                ice_set_role(a, a->role == RTC_ICE_ROLE_CONTROLLING ? RTC_ICE_ROLE_CONTROLLED
                                                                    : RTC_ICE_ROLE_CONTROLLING);
            if (t->use_candidate && a->role != RTC_ICE_ROLE_CONTROLLING) p->nominating = false;
            if (p->state != RTC_ICE_PAIR_SUCCEEDED) p->state = RTC_ICE_PAIR_WAITING;
            enqueue_triggered(a, p);
            return;
        }
        if (t->use_candidate) p->nominating = false;
        RTC_LOGD(LOG, "pair %u: error response %d", p->id, code);
        pair_failed(a, p, "error response");
        return;
    }
    /* §7.2.5.2.1: the response must come from where the request went (a relay reports the
     * peer's address, so this holds for relayed pairs too). */
    if (!from || !rtc_addr_equal(from, &p->remote->c.addr)) {
        pair_failed(a, p, "asymmetric response");
        return;
    }
    rtc_addr_t mapped;
    if (rtc_stun_msg_get_xor_address(resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) != RTC_OK) {
        pair_failed(a, p, "no XOR-MAPPED-ADDRESS");
        return;
    }
    ice_base_t *b = p->local->base;
    ice_local_t *l = find_local(a, b, &mapped);
    if (!l) {
        /* §7.2.5.3.1: a peer-reflexive local candidate, with the priority we sent. */
        l = ice_add_local(a, b, RTC_ICE_CANDIDATE_PRFLX, &mapped, &b->addr, NULL, t->prio_sent);
        if (l) RTC_LOGD(LOG, "learned local prflx %s", rtc_addr_str(&mapped));
    }
    p->mapped = (l && l != p->local) ? l : NULL;
    if (p->state != RTC_ICE_PAIR_SUCCEEDED) {
        p->state = RTC_ICE_PAIR_SUCCEEDED;
        p->succeeded_at = now;
        RTC_LOGI(LOG, "pair %u succeeded: %s %s -> %s %s", p->id,
                 rtc_ice_candidate_type_name(l ? l->c.type : p->local->c.type), rtc_addr_str(&mapped),
                 rtc_ice_candidate_type_name(p->remote->c.type), rtc_addr_str(&p->remote->c.addr));
    }
    p->rtt = rtt;
    p->last_fresh = now;
    if (!a->first_valid_at) a->first_valid_at = now;
    unfreeze_foundation(a, p);
    if (t->use_candidate && a->role == RTC_ICE_ROLE_CONTROLLING) {
        p->nominated = true;
        p->nominating = false;
    }
    if (a->role == RTC_ICE_ROLE_CONTROLLED && p->remote_nominated) p->nominated = true;
    ice_update_selected(a, now);
}

static void consent_done(rtc_ice_agent_t *a, const ice_txn_t *t, int result, const rtc_stun_msg_t *resp,
                         const rtc_addr_t *from, rtc_time_t rtt) {
    ice_pair_t *p = t->pair;
    /* Debug level: what a lost consent looks like from here (no answer, an error answer, an
     * answer from elsewhere), for a leg that fails some time after a stall. */
    if (result != RTC_OK || !resp || resp->cls != RTC_STUN_SUCCESS) {
        RTC_LOGD(LOG, "pair %u: consent check %s", p->id,
                 result != RTC_OK ? "not answered" : resp && resp->cls == RTC_STUN_ERROR ? "refused" : "failed");
        return;
    }
    if (!from || !rtc_addr_equal(from, &p->remote->c.addr)) {
        RTC_LOGD(LOG, "pair %u: consent answer from %s ignored", p->id, from ? rtc_addr_str(from) : "?");
        return;
    }
    p->responses_received++;
    p->last_fresh = a->now;
    p->rtt = rtt;
}

void ice_txn_done(void *user, void *txn_user, int result, const rtc_stun_msg_t *resp,
                  const rtc_addr_t *from, rtc_time_t rtt) {
    ice_base_t *b = user;
    rtc_ice_agent_t *a = b->agent;
    ice_txn_t t = *(ice_txn_t *)txn_user;
    ice_txn_free(a, txn_user);
    switch (t.kind) {
    case TXN_GATHER: ice_gather_done(a, &t, result, resp); break;
    case TXN_CHECK: check_done(a, &t, result, resp, from, rtt); break;
    case TXN_CONSENT: consent_done(a, &t, result, resp, from, rtt); break;
    case TXN_RELAY: break;
    }
}

int ice_handle_response(rtc_ice_agent_t *a, ice_base_t *base, const rtc_addr_t *from,
                        const rtc_stun_msg_t *msg, rtc_time_t now) {
    ice_txn_t *t = NULL;
    for (size_t i = 0; i < a->txns.n; i++) {
        ice_txn_t *x = a->txns.v[i];
        if (x->base == base && memcmp(x->tid, msg->tid, RTC_STUN_TID_LEN) == 0) { t = x; break; }
    }
    if (!t) {
        a->stats.dropped_unmatched++;
        return RTC_ERR_NOT_FOUND;
    }
    if (t->kind == TXN_CHECK || t->kind == TXN_CONSENT) {
        /* §7.2.5.2: responses are signed with the peer's password; anything else is a forgery
         * (or the peer could not authenticate us), and the check keeps retransmitting. */
        int rc = rtc_stun_msg_check_integrity(msg, (const uint8_t *)a->remote_pwd, strlen(a->remote_pwd));
        if (rc != RTC_OK) {
            a->stats.dropped_bad_integrity++;
            RTC_LOGD(LOG, "dropping response from %s: %s", rtc_addr_str(from), rtc_strerror(rc));
            return RTC_ERR_INTEGRITY;
        }
    }
    int rc = rtc_stun_txns_handle_response(base->txns, msg, from, now);
    if (rc == RTC_ERR_NOT_FOUND) a->stats.dropped_unmatched++;
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * The peer's checks (§7.3).
 */
static void send_response(rtc_ice_agent_t *a, ice_base_t *b, const rtc_addr_t *to,
                          const rtc_stun_msg_t *req, int error, const uint16_t *unknown, size_t n_unknown) {
    uint8_t buf[512];
    rtc_stun_builder_t bld;
    rtc_stun_builder_init_response(&bld, buf, sizeof buf, req, error ? RTC_STUN_ERROR : RTC_STUN_SUCCESS);
    if (error) {
        rtc_stun_add_error(&bld, error, NULL);
        if (n_unknown) rtc_stun_add_unknown_attributes(&bld, unknown, n_unknown);
    } else {
        rtc_stun_add_xor_address(&bld, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, to);
    }
    rtc_stun_add_integrity(&bld, (const uint8_t *)a->pwd, strlen(a->pwd));
    rtc_stun_add_fingerprint(&bld);
    int len = rtc_stun_builder_finish(&bld);
    if (len > 0) ice_base_send(b, to, buf, (size_t)len);
}

int ice_handle_request(rtc_ice_agent_t *a, ice_base_t *base, const rtc_addr_t *from,
                       const rtc_stun_msg_t *msg, int decode_rc, rtc_time_t now) {
    /* Authentication first (RFC 8489 §9.1.3, RFC 8445 §7.3): whatever fails it is dropped
     * without an answer and without touching any state. */
    if (msg->fingerprint < 0 || (msg->integrity < 0 && msg->integrity_sha256 < 0) ||
        !rtc_stun_msg_has(msg, RTC_STUN_ATTR_USERNAME)) {
        a->stats.dropped_unauthenticated++;
        RTC_LOGD(LOG, "dropping unauthenticated check from %s", rtc_addr_str(from));
        return RTC_ERR_AUTH;
    }
    char user[2 * RTC_ICE_UFRAG_MAX + 2];
    if (rtc_stun_msg_get_string(msg, RTC_STUN_ATTR_USERNAME, user, sizeof user) != RTC_OK) {
        a->stats.dropped_bad_username++;
        return RTC_ERR_AUTH;
    }
    char *colon = strchr(user, ':');
    if (!colon) {
        a->stats.dropped_bad_username++;
        return RTC_ERR_AUTH;
    }
    *colon = '\0';
    const char *rfrag = colon + 1;
    if (strcmp(user, a->ufrag) != 0 || (a->have_remote_creds && strcmp(rfrag, a->remote_ufrag) != 0)) {
        a->stats.dropped_bad_username++;
        RTC_LOGD(LOG, "dropping check from %s for unknown ufrag", rtc_addr_str(from));
        return RTC_ERR_AUTH;
    }
    int rc = rtc_stun_msg_check_integrity(msg, (const uint8_t *)a->pwd, strlen(a->pwd));
    if (rc != RTC_OK) {
        a->stats.dropped_bad_integrity++;
        RTC_LOGD(LOG, "dropping check from %s: %s", rtc_addr_str(from), rtc_strerror(rc));
        return RTC_ERR_INTEGRITY;
    }
    a->stats.checks_received++;
    if (decode_rc == RTC_ERR_UNKNOWN_ATTR) {
        a->stats.bad_requests++;
        send_response(a, base, from, msg, RTC_STUN_ERR_UNKNOWN_ATTRIBUTE, msg->unknown, msg->n_unknown);
        return RTC_ERR_UNKNOWN_ATTR;
    }
    uint32_t prio;
    if (rtc_stun_msg_get_u32(msg, RTC_STUN_ATTR_PRIORITY, &prio) != RTC_OK || prio == 0) {
        a->stats.bad_requests++;
        send_response(a, base, from, msg, RTC_STUN_ERR_BAD_REQUEST, NULL, 0);
        return RTC_ERR_MALFORMED;
    }
    uint64_t their_tie;
    bool ctl = rtc_stun_msg_get_u64(msg, RTC_STUN_ATTR_ICE_CONTROLLING, &their_tie) == RTC_OK;
    bool ctd = !ctl && rtc_stun_msg_get_u64(msg, RTC_STUN_ATTR_ICE_CONTROLLED, &their_tie) == RTC_OK;
    if (!a->cfg.lite) {
        /* §7.3.1.1 role conflict. */
        if (a->role == RTC_ICE_ROLE_CONTROLLING && ctl) {
            a->stats.role_conflicts++;
            if (a->tie_breaker >= their_tie) {
                send_response(a, base, from, msg, RTC_STUN_ERR_ROLE_CONFLICT, NULL, 0);
                return RTC_ERR_CONFLICT;
            }
            ice_set_role(a, RTC_ICE_ROLE_CONTROLLED);
        } else if (a->role == RTC_ICE_ROLE_CONTROLLED && ctd) {
            a->stats.role_conflicts++;
            if (a->tie_breaker >= their_tie) {
                ice_set_role(a, RTC_ICE_ROLE_CONTROLLING);
            } else {
                send_response(a, base, from, msg, RTC_STUN_ERR_ROLE_CONFLICT, NULL, 0);
                return RTC_ERR_CONFLICT;
            }
        }
    }
    send_response(a, base, from, msg, 0, NULL, 0);
    bool use_cand = rtc_stun_msg_has(msg, RTC_STUN_ATTR_USE_CANDIDATE) && a->role == RTC_ICE_ROLE_CONTROLLED;

    /* §7.3.1.3: a source we do not know is a peer-reflexive remote candidate. */
    ice_remote_t *r = NULL;
    for (size_t i = 0; i < a->remotes.n; i++) {
        ice_remote_t *x = a->remotes.v[i];
        if (x->pairable && rtc_addr_equal(&x->c.addr, from)) { r = x; break; }
    }
    if (!r) {
        rtc_ice_candidate_t c;
        memset(&c, 0, sizeof c);
        snprintf(c.foundation, sizeof c.foundation, "prflx%u", ++a->prflx_counter);
        c.component = 1;
        c.transport = RTC_ICE_TRANSPORT_UDP;
        c.priority = prio;
        c.addr = *from;
        c.type = RTC_ICE_CANDIDATE_PRFLX;
        c.generation = -1;
        r = ice_add_remote(a, &c);
        if (!r) return RTC_OK; /* answered, not learned (limit) */
        RTC_LOGD(LOG, "learned remote prflx %s", rtc_addr_str(from));
    }
    if (a->cfg.relay_only && base->kind == BASE_SOCKET) return RTC_OK;
    ice_local_t *l = ice_base_candidate(a, base);
    ice_pair_t *p = l ? create_pair(a, l, r, true) : NULL;
    if (!p) return RTC_OK;
    p->peer_checked = true;
    p->requests_received++;
    p->responses_sent++;

    if (a->cfg.lite) {
        /* §7.3.2 (lite): the check is the validation; USE-CANDIDATE nominates. */
        if (p->state != RTC_ICE_PAIR_SUCCEEDED) {
            p->state = RTC_ICE_PAIR_SUCCEEDED;
            p->succeeded_at = now;
        }
        p->last_fresh = now;
        if (!a->first_valid_at) a->first_valid_at = now;
        if (rtc_stun_msg_has(msg, RTC_STUN_ATTR_USE_CANDIDATE)) p->nominated = true;
        ice_update_selected(a, now);
        return RTC_OK;
    }
    /* §7.3.1.5 nomination by the controlling peer. */
    if (use_cand) {
        if (p->state == RTC_ICE_PAIR_SUCCEEDED) p->nominated = true;
        else p->remote_nominated = true;
    }
    /* §7.3.1.4 triggered check. */
    if (p->state != RTC_ICE_PAIR_SUCCEEDED) {
        if (p->state != RTC_ICE_PAIR_IN_PROGRESS) p->state = RTC_ICE_PAIR_WAITING;
        enqueue_triggered(a, p);
    }
    ice_update_selected(a, now);
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Selection and nomination.
 */
static void cancel_pair_checks(rtc_ice_agent_t *a, ice_pair_t *p) {
    size_t i = 0;
    while (i < a->txns.n) {
        ice_txn_t *t = a->txns.v[i];
        if (t->pair == p && t->kind == TXN_CHECK) {
            rtc_stun_txns_cancel(t->base->txns, t);
            ice_txn_free(a, t);
            continue;
        }
        i++;
    }
    p->inflight = 0;
}

/* §8.1.2 (and RFC 5245 §8.1.2 for aggressive nomination): once a pair is nominated, checks
 * that cannot beat it stop. */
static void prune_after_nomination(rtc_ice_agent_t *a, ice_pair_t *nom) {
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *q = a->pairs.v[i];
        if (q == nom || q->state == RTC_ICE_PAIR_SUCCEEDED || q->state == RTC_ICE_PAIR_FAILED) continue;
        if (a->cfg.nomination == RTC_ICE_NOMINATION_AGGRESSIVE && q->priority > nom->priority) continue;
        if (q->remote_nominated) continue;
        cancel_pair_checks(a, q);
        ice_vec_remove(&a->triggered, q);
        q->triggered = false;
        q->state = RTC_ICE_PAIR_FAILED;
        q->pruned = true;
    }
}

static rtc_time_t consent_jitter(const rtc_ice_agent_t *a, rtc_time_t interval) {
    (void)a;
    /* RFC 7675 §5.1: uniformly in [0.8, 1.2] of the interval. */
    rtc_time_t span = interval * 4 / 10;
    if (span <= 0 || span > UINT32_MAX) return interval;
    return interval * 8 / 10 + (rtc_time_t)rtc_random_uniform((uint32_t)span);
}

void ice_update_selected(rtc_ice_agent_t *a, rtc_time_t now) {
    ice_pair_t *best = NULL;
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->state != RTC_ICE_PAIR_SUCCEEDED) continue;
        if (!best || (p->nominated && !best->nominated) ||
            (p->nominated == best->nominated && p->priority > best->priority))
            best = p;
    }
    if (!best && a->selected && a->selected->state != RTC_ICE_PAIR_SUCCEEDED) {
        /* The path in use died (its TURN allocation was lost) and nothing else works. */
        RTC_LOGI(LOG, "selected pair %u lost; no other pair succeeded", a->selected->id);
        a->selected = NULL;
        return;
    }
    if (best && best != a->selected) {
        a->selected = best;
        a->have_prev = false;
        if (best->last_fresh < now) best->last_fresh = now;
        best->next_consent = now + consent_jitter(a, a->cfg.consent_interval);
        if (best->last_sent == 0) best->last_sent = now;
        const ice_local_t *l = best->mapped ? best->mapped : best->local;
        RTC_LOGI(LOG, "selected pair %u: %s %s -> %s %s%s", best->id, rtc_ice_candidate_type_name(l->c.type),
                 rtc_addr_str(&l->c.addr), rtc_ice_candidate_type_name(best->remote->c.type),
                 rtc_addr_str(&best->remote->c.addr), best->nominated ? " (nominated)" : "");
        ice_emit(a, EV_SELECTED, 0, NULL);
        /* Data on a relayed pair goes as ChannelData (4 bytes of overhead, not 36+). */
        if (best->local->base->kind == BASE_RELAY) ice_relay_bind(best->local->base, &best->remote->c.addr);
    }
    if (best && best->nominated && a->pruned_for != best) {
        a->pruned_for = best;
        prune_after_nomination(a, best);
    }
}

/* Regular nomination: the pair to nominate and whether to do it now. */
static ice_pair_t *nomination_candidate(const rtc_ice_agent_t *a, bool *higher_pending) {
    *higher_pending = false;
    if (a->cfg.lite || a->role != RTC_ICE_ROLE_CONTROLLING ||
        a->cfg.nomination != RTC_ICE_NOMINATION_REGULAR || !can_check(a))
        return NULL;
    ice_pair_t *best = NULL;
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->nominated || p->nominating) return NULL;
        if (p->state == RTC_ICE_PAIR_SUCCEEDED && (!best || p->priority > best->priority)) best = p;
    }
    if (!best) return NULL;
    for (size_t i = 0; i < a->pairs.n; i++) {
        ice_pair_t *p = a->pairs.v[i];
        if (p->priority > best->priority && !p->pruned &&
            (p->state == RTC_ICE_PAIR_FROZEN || p->state == RTC_ICE_PAIR_WAITING ||
             p->state == RTC_ICE_PAIR_IN_PROGRESS))
            *higher_pending = true;
    }
    return best;
}

rtc_time_t ice_nomination_deadline(const rtc_ice_agent_t *a) {
    bool higher;
    ice_pair_t *p = nomination_candidate(a, &higher);
    if (!p) return RTC_TIME_NEVER;
    return higher ? a->first_valid_at + a->cfg.nomination_delay : a->now;
}

void ice_maybe_nominate(rtc_ice_agent_t *a, rtc_time_t now) {
    bool higher;
    ice_pair_t *p = nomination_candidate(a, &higher);
    if (!p || (higher && now < a->first_valid_at + a->cfg.nomination_delay)) return;
    RTC_LOGI(LOG, "nominating pair %u", p->id);
    p->nominating = true;
    enqueue_triggered(a, p);
}

/* ------------------------------------------------------------------------------------------
 * Consent freshness and keepalives on the selected pair.
 */
static void send_consent(rtc_ice_agent_t *a, ice_pair_t *p, rtc_time_t now) {
    uint8_t buf[1024];
    rtc_stun_builder_t bld;
    int len = build_check(a, p, false, prflx_priority(p->local), buf, sizeof buf, &bld);
    if (len < 0) return;
    ice_base_t *b = p->local->base;
    ice_txn_t *t = ice_txn_new(a, TXN_CONSENT, b, rtc_stun_builder_tid(&bld));
    if (!t) return;
    t->pair = p;
    t->role = a->role;
    /* One send per consent check; the next check, not a retransmission, follows. A response
     * is accepted for 10 s. */
    rtc_stun_txn_config_t tc;
    rtc_stun_txn_config_default(&tc);
    tc.rc = 1;
    tc.rto = RTC_SEC(1);
    tc.rm = 10;
    if (rtc_stun_txns_start(b->txns, buf, (size_t)len, &p->remote->c.addr, t, &tc, now) != RTC_OK) {
        ice_txn_free(a, t);
        return;
    }
    p->requests_sent++;
    p->last_sent = now;
}

static void send_keepalive(rtc_ice_agent_t *a, ice_pair_t *p, rtc_time_t now) {
    uint8_t buf[64];
    rtc_stun_builder_t bld;
    rtc_stun_builder_init(&bld, buf, sizeof buf, RTC_STUN_BINDING, RTC_STUN_INDICATION, NULL);
    rtc_stun_add_fingerprint(&bld);
    int len = rtc_stun_builder_finish(&bld);
    if (len <= 0) return;
    ice_base_send(p->local->base, &p->remote->c.addr, buf, (size_t)len);
    p->last_sent = now;
    (void)a;
}

static bool consent_active(const rtc_ice_agent_t *a) {
    return !a->cfg.lite && a->cfg.consent_interval > 0 && a->have_remote_creds;
}

void ice_consent_tick(rtc_ice_agent_t *a, rtc_time_t now) {
    ice_pair_t *p = a->selected;
    if (!p || a->failed || a->closed) return;
    if (consent_active(a) && now >= p->next_consent) {
        send_consent(a, p, now);
        /* Once answers are missing, probe every second so that a path that comes back is
         * noticed quickly (and consent is not lost for a few dropped packets). */
        bool quiet = now - p->last_fresh >= a->cfg.disconnected_timeout;
        rtc_time_t iv = quiet ? RTC_SEC(1) : consent_jitter(a, a->cfg.consent_interval);
        p->next_consent = now + iv;
    }
    if (now - p->last_sent >= a->cfg.keepalive_interval) send_keepalive(a, p, now);
}

rtc_time_t ice_consent_next(const rtc_ice_agent_t *a) {
    ice_pair_t *p = a->selected;
    if (!p || a->failed || a->closed) return RTC_TIME_NEVER;
    rtc_time_t next = p->last_sent + a->cfg.keepalive_interval;
    if (consent_active(a) && p->next_consent < next) next = p->next_consent;
    if (a->cfg.lite || a->cfg.consent_interval > 0) {
        rtc_time_t d = p->last_fresh + a->cfg.disconnected_timeout;
        if (d > a->now && d < next) next = d;
        d = p->last_fresh + a->cfg.consent_timeout;
        if (d > a->now && d < next) next = d;
    }
    return next;
}

/* ------------------------------------------------------------------------------------------
 * Checklist summaries for the state machine.
 */
bool ice_checks_exhausted(const rtc_ice_agent_t *a) {
    if (a->triggered.n) return false;
    for (size_t i = 0; i < a->pairs.n; i++) {
        const ice_pair_t *p = a->pairs.v[i];
        if (p->state != RTC_ICE_PAIR_FAILED || p->inflight) return false;
    }
    return true;
}

bool ice_checks_settled(const rtc_ice_agent_t *a) {
    if (a->triggered.n) return false;
    for (size_t i = 0; i < a->pairs.n; i++) {
        const ice_pair_t *p = a->pairs.v[i];
        if (p->state != RTC_ICE_PAIR_SUCCEEDED && p->state != RTC_ICE_PAIR_FAILED) return false;
        if (p->inflight && !p->nominated) return false;
    }
    return true;
}
