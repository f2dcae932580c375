/* Cross-worker state: snapshots behind a mutex plus a generation counter, the port pool, and
 * quota counts in a small hash table keyed by username. */
#include "turn/shared.h"

#include <stdlib.h>

struct turn_quota_entry {
    turn_quota_entry_t *next;
    size_t count;
    char name[];
};

#define QUOTA_BUCKETS 1024

turn_shared_t *turn_shared_new(turn_policy_t *policy, uint16_t port_min, uint16_t port_max) {
    if (!policy) return NULL;
    turn_shared_t *sh = calloc(1, sizeof *sh);
    if (!sh) goto fail;
    sh->ports = turn_ports_new(port_min, port_max);
    sh->quota_buckets = calloc(QUOTA_BUCKETS, sizeof *sh->quota_buckets);
    sh->quota_mask = QUOTA_BUCKETS - 1;
    if (!sh->ports || !sh->quota_buckets) goto fail;
    sh->policy = policy;
    sh->secrets = turn_secrets_new(policy->static_secrets, NULL, policy->n_static_secrets, NULL, NULL, 0);
    if (!sh->secrets) { sh->policy = NULL; goto fail; }
    if (rtc_random_bytes(sh->nonce_secret, sizeof sh->nonce_secret) != RTC_OK) { sh->policy = NULL; goto fail; }
    pthread_mutex_init(&sh->mu, NULL);
    atomic_init(&sh->generation, 1);
    atomic_init(&sh->draining, false);
    return sh;
fail:
    if (sh) {
        turn_ports_free(sh->ports);
        free(sh->quota_buckets);
        turn_secrets_unref(sh->secrets);
        free(sh);
    }
    turn_policy_unref(policy);
    return NULL;
}

void turn_shared_free(turn_shared_t *sh) {
    if (!sh) return;
    turn_policy_unref(sh->policy);
    turn_secrets_unref(sh->secrets);
    for (size_t i = 0; i < sh->n_redis_secrets; i++) free(sh->redis_secrets[i]);
    free(sh->redis_secrets);
    free(sh->redis_expires);
    for (size_t i = 0; i <= sh->quota_mask; i++) {
        turn_quota_entry_t *e = sh->quota_buckets[i];
        while (e) { turn_quota_entry_t *n = e->next; free(e); e = n; }
    }
    free(sh->quota_buckets);
    turn_ports_free(sh->ports);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* Under mu. Redis secrets first: they are the ones being rotated, newest first. */
static int rebuild_secrets_locked(turn_shared_t *sh) {
    turn_secrets_t *s = turn_secrets_new(sh->redis_secrets, sh->redis_expires, sh->n_redis_secrets,
                                         sh->policy->static_secrets, NULL, sh->policy->n_static_secrets);
    if (!s) return RTC_ERR_NOMEM;
    turn_secrets_unref(sh->secrets);
    sh->secrets = s;
    return RTC_OK;
}

void turn_shared_set_policy(turn_shared_t *sh, turn_policy_t *policy) {
    if (!policy) return;
    pthread_mutex_lock(&sh->mu);
    turn_policy_t *old = sh->policy;
    sh->policy = policy;
    rebuild_secrets_locked(sh);
    atomic_fetch_add_explicit(&sh->generation, 1, memory_order_acq_rel);
    pthread_mutex_unlock(&sh->mu);
    turn_policy_unref(old);
}

int turn_shared_set_redis_secrets(turn_shared_t *sh, char *const *secrets, const int64_t *expires, size_t n) {
    char **copy = n ? calloc(n, sizeof *copy) : NULL;
    int64_t *exp = n ? calloc(n, sizeof *exp) : NULL;
    if (n && (!copy || !exp)) {
        free(copy);
        free(exp);
        return RTC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        exp[i] = expires ? expires[i] : 0;
        if (!(copy[i] = strdup(secrets[i] ? secrets[i] : ""))) {
            for (size_t j = 0; j < i; j++) free(copy[j]);
            free(copy);
            free(exp);
            return RTC_ERR_NOMEM;
        }
    }
    pthread_mutex_lock(&sh->mu);
    /* Unchanged (the common case for a periodic refresh): keep the snapshot and generation. */
    bool same = n == sh->n_redis_secrets;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(copy[i], sh->redis_secrets[i]) == 0 && exp[i] == sh->redis_expires[i];
    char **old = sh->redis_secrets;
    int64_t *old_exp = sh->redis_expires;
    size_t n_old = sh->n_redis_secrets;
    int rc = RTC_OK;
    if (!same) {
        sh->redis_secrets = copy;
        sh->redis_expires = exp;
        sh->n_redis_secrets = n;
        rc = rebuild_secrets_locked(sh);
        if (rc == RTC_OK) {
            atomic_fetch_add_explicit(&sh->generation, 1, memory_order_acq_rel);
        } else {
            sh->redis_secrets = old;
            sh->redis_expires = old_exp;
            sh->n_redis_secrets = n_old;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    bool drop_new = same || rc != RTC_OK;
    char **drop = drop_new ? copy : old;
    int64_t *drop_exp = drop_new ? exp : old_exp;
    size_t n_drop = drop_new ? n : n_old;
    for (size_t i = 0; i < n_drop; i++) free(drop[i]);
    free(drop);
    free(drop_exp);
    return rc;
}

void turn_shared_set_nonce_secret(turn_shared_t *sh, const uint8_t *secret, size_t n) {
    uint8_t key[RTC_SHA256_LEN];
    /* Any length in, a full-size key out. */
    rtc_iov_t part = {secret, n};
    rtc_digest(RTC_DIGEST_SHA256, &part, 1, key);
    pthread_mutex_lock(&sh->mu);
    memcpy(sh->nonce_secret, key, sizeof sh->nonce_secret);
    atomic_fetch_add_explicit(&sh->generation, 1, memory_order_acq_rel);
    pthread_mutex_unlock(&sh->mu);
}

void turn_shared_snapshot(turn_shared_t *sh, turn_policy_t **policy, turn_secrets_t **secrets,
                          uint8_t nonce_secret[TURN_NONCE_SECRET_LEN], uint64_t *generation) {
    pthread_mutex_lock(&sh->mu);
    memcpy(nonce_secret, sh->nonce_secret, TURN_NONCE_SECRET_LEN);
    *policy = turn_policy_ref(sh->policy);
    *secrets = turn_secrets_ref(sh->secrets);
    *generation = atomic_load_explicit(&sh->generation, memory_order_acquire);
    pthread_mutex_unlock(&sh->mu);
}

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static turn_quota_entry_t **quota_slot(turn_shared_t *sh, const char *user) {
    turn_quota_entry_t **pp = &sh->quota_buckets[name_hash(user) & sh->quota_mask];
    while (*pp && strcmp((*pp)->name, user) != 0) pp = &(*pp)->next;
    return pp;
}

int turn_shared_quota_acquire(turn_shared_t *sh, const turn_policy_t *policy, const char *user,
                              bool *per_user) {
    int rc = RTC_OK;
    *per_user = false;
    pthread_mutex_lock(&sh->mu);
    if (policy->max_allocs_total && sh->allocs_total >= policy->max_allocs_total) {
        rc = RTC_ERR_LIMIT;
        goto out;
    }
    turn_quota_entry_t **pp = quota_slot(sh, user);
    if (*pp && policy->max_allocs_per_user && (*pp)->count >= policy->max_allocs_per_user) {
        *per_user = true;
        rc = RTC_ERR_LIMIT;
        goto out;
    }
    if (!*pp) {
        size_t len = strlen(user);
        turn_quota_entry_t *e = calloc(1, sizeof *e + len + 1);
        if (!e) { rc = RTC_ERR_NOMEM; goto out; }
        memcpy(e->name, user, len + 1);
        *pp = e;
    }
    (*pp)->count++;
    sh->allocs_total++;
out:
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

void turn_shared_quota_release(turn_shared_t *sh, const char *user) {
    pthread_mutex_lock(&sh->mu);
    turn_quota_entry_t **pp = quota_slot(sh, user);
    if (*pp) {
        if (--(*pp)->count == 0) {
            turn_quota_entry_t *e = *pp;
            *pp = e->next;
            free(e);
        }
        if (sh->allocs_total) sh->allocs_total--;
    }
    pthread_mutex_unlock(&sh->mu);
}

size_t turn_shared_allocations(turn_shared_t *sh) {
    pthread_mutex_lock(&sh->mu);
    size_t n = sh->allocs_total;
    pthread_mutex_unlock(&sh->mu);
    return n;
}

size_t turn_shared_user_allocations(turn_shared_t *sh, const char *user) {
    pthread_mutex_lock(&sh->mu);
    turn_quota_entry_t **pp = quota_slot(sh, user);
    size_t n = *pp ? (*pp)->count : 0;
    pthread_mutex_unlock(&sh->mu);
    return n;
}
