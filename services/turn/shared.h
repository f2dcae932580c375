/*
 * turn/shared.h — the little state all workers share: the current policy and REST secrets
 * (swapped by reloads and by the Redis refresher), the relay port pool, allocation quotas,
 * the nonce secret, and the draining flag.
 *
 * Everything here is touched on the control path only (authentication, Allocate, delete).
 * Workers notice a new policy or secrets snapshot through one atomic generation counter they
 * read before handling a request; the packet path reads nothing from here.
 */
#ifndef TURN_SHARED_H
#define TURN_SHARED_H

#include <pthread.h>
#include <stdatomic.h>

#include "turn/policy.h"
#include "turn/ports.h"

#define TURN_NONCE_SECRET_LEN 32

typedef struct turn_quota_entry turn_quota_entry_t;

typedef struct turn_shared {
    pthread_mutex_t mu;             /* guards policy, secrets, redis secrets, quota table */
    turn_policy_t *policy;
    turn_secrets_t *secrets;
    char **redis_secrets;
    int64_t *redis_expires;
    size_t n_redis_secrets;
    atomic_uint_fast64_t generation;

    turn_ports_t *ports;

    /* Quotas. */
    size_t allocs_total;
    turn_quota_entry_t **quota_buckets;
    size_t quota_mask;

    uint8_t nonce_secret[TURN_NONCE_SECRET_LEN];
    atomic_bool draining;
} turn_shared_t;

/* Takes ownership of the caller's reference to policy. NULL on bad range / no memory.
 * The nonce secret is random; set it with turn_shared_set_nonce_secret to share nonces
 * between server instances behind one name. */
turn_shared_t *turn_shared_new(turn_policy_t *policy, uint16_t port_min, uint16_t port_max);
void turn_shared_free(turn_shared_t *sh);

/* Swaps in a new policy (takes the caller's reference) and rebuilds the secrets snapshot
 * (its static secrets may have changed). */
void turn_shared_set_policy(turn_shared_t *sh, turn_policy_t *policy);
/* Replaces the secrets learned from Redis (copied), newest first, with their expiries in
 * wall seconds (expires may be NULL: never; 0 entries: never). An empty list is a valid
 * answer ("no secrets"); callers that merely lost Redis should not call this, so cached
 * secrets keep working. Returns RTC_OK or RTC_ERR_NOMEM (old snapshot kept). */
int turn_shared_set_redis_secrets(turn_shared_t *sh, char *const *secrets, const int64_t *expires, size_t n);
void turn_shared_set_nonce_secret(turn_shared_t *sh, const uint8_t *secret, size_t n);

static inline uint64_t turn_shared_generation(turn_shared_t *sh) {
    return atomic_load_explicit(&sh->generation, memory_order_acquire);
}
/* New references to the current snapshots (caller unrefs), a copy of the nonce secret, and
 * the generation they belong to. */
void turn_shared_snapshot(turn_shared_t *sh, turn_policy_t **policy, turn_secrets_t **secrets,
                          uint8_t nonce_secret[TURN_NONCE_SECRET_LEN], uint64_t *generation);

/* Counts an allocation for user against the quotas in policy. RTC_OK, or RTC_ERR_LIMIT with
 * *per_user telling which quota was hit. */
int turn_shared_quota_acquire(turn_shared_t *sh, const turn_policy_t *policy, const char *user,
                              bool *per_user);
void turn_shared_quota_release(turn_shared_t *sh, const char *user);
size_t turn_shared_allocations(turn_shared_t *sh);
size_t turn_shared_user_allocations(turn_shared_t *sh, const char *user);

static inline void turn_shared_set_draining(turn_shared_t *sh, bool on) {
    atomic_store_explicit(&sh->draining, on, memory_order_release);
}
static inline bool turn_shared_draining(turn_shared_t *sh) {
    return atomic_load_explicit(&sh->draining, memory_order_acquire);
}

#endif /* TURN_SHARED_H */
