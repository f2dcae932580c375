/*
 * turn/policy.h — the server's settings as the protocol core sees them: realm, lifetimes,
 * relay addresses, quotas, peer filter, static users. Built once from the configuration,
 * then immutable and reference-counted, so a SIGHUP reload swaps in a new one while workers
 * finish what they are doing with the old.
 *
 * Also the REST secrets snapshot: the shared secrets that TURN REST API passwords are
 * derived from, newest first. Likewise immutable and reference-counted.
 */
#ifndef TURN_POLICY_H
#define TURN_POLICY_H

#include <stdatomic.h>

#include "rtc/base.h"
#include "turn/peer_filter.h"

#define TURN_REALM_MAX 128
#define TURN_USERNAME_MAX 513
#define TURN_LT_KEY_LEN 16 /* MD5 long-term key */

typedef struct {
    char *name;
    uint8_t key[TURN_LT_KEY_LEN];
} turn_user_t;

typedef struct turn_policy {
    atomic_int refs;
    char realm[TURN_REALM_MAX];
    char software[64];              /* SOFTWARE in responses; empty: none */

    /* Lifetimes in seconds (RFC 8656 defaults). */
    uint32_t alloc_lifetime_default;   /* 600 */
    uint32_t alloc_lifetime_max;       /* 3600 */
    uint32_t perm_lifetime;            /* 300 */
    uint32_t chan_lifetime;            /* 600 */
    uint32_t nonce_lifetime;           /* 600: after this a request gets 438 and retries */

    /* Relay sockets bind here (port chosen from the range); family UNSPEC disables it. */
    rtc_addr_t relay_v4, relay_v6;
    /* Advertised in XOR-RELAYED-ADDRESS when the server sits behind 1:1 NAT; UNSPEC: the
     * bound address. */
    rtc_addr_t external_v4, external_v6;

    /* Quotas; 0 means unlimited. */
    uint32_t max_allocs_per_user;
    uint32_t max_allocs_total;
    uint64_t max_bps_per_alloc;        /* bytes per second, both directions together */
    uint32_t max_perms_per_alloc;      /* default 128 */

    /* Unauthenticated answers (401, 438) per source IP: token bucket. 0 rate: unlimited. */
    uint32_t unauth_rate;              /* per second */
    uint32_t unauth_burst;

    turn_peer_filter_t filter;

    /* Highest channel number accepted. RFC 8656 allows 0x4000-0x4FFF; RFC 5766 allowed up to
     * 0x7FFF, and clients written to it (coTURN's turnutils_uclient among them) still pick
     * numbers there, so the default accepts the old range. 0x4FFF makes the server strict. */
    uint16_t channel_max;

    /* Static users (long-term credentials), sorted by name after turn_policy_finish. */
    turn_user_t *users;
    size_t n_users, cap_users;

    /* REST API (ephemeral credentials). When enabled, usernames of the form
     * "<expiry>:<identity>" are checked against the secrets snapshot. */
    bool rest_enabled;
    char **static_secrets;             /* from the config file, merged with Redis' */
    size_t n_static_secrets;
} turn_policy_t;

/* A policy with RFC defaults, realm "starling", IPv4 relays on 0.0.0.0 disabled until set
 * (relay families UNSPEC), default peer filter, no users. refs = 1. NULL if out of memory. */
turn_policy_t *turn_policy_new(void);
turn_policy_t *turn_policy_ref(turn_policy_t *p);
void turn_policy_unref(turn_policy_t *p);

/* Sets the realm (truncated to TURN_REALM_MAX-1). Set it before adding users. */
void turn_policy_set_realm(turn_policy_t *p, const char *realm);
/* Adds a user with a password (key derived with the realm), or with a precomputed key given
 * as "0x" + 32 hex digits (coTURN's form). RTC_ERR_DUPLICATE, RTC_ERR_MALFORMED,
 * RTC_ERR_NOMEM. */
int turn_policy_add_user(turn_policy_t *p, const char *name, const char *password);
/* Parses "name:password" (the config file's users list form). */
int turn_policy_add_user_spec(turn_policy_t *p, const char *spec);
int turn_policy_add_static_secret(turn_policy_t *p, const char *secret);
/* Sorts the users for lookup; call once all are added. */
void turn_policy_finish(turn_policy_t *p);
/* The user's key, or NULL. */
const turn_user_t *turn_policy_find_user(const turn_policy_t *p, const char *name);

/* REST secrets snapshot. */
typedef struct {
    atomic_int refs;
    size_t n;
    char **secrets;     /* newest first */
    int64_t *expires;   /* wall seconds after which secrets[i] is no longer accepted; 0: never */
} turn_secrets_t;

/* Builds a snapshot from two lists (first wins on duplicates); strings are copied. ea/eb
 * give each secret's expiry (NULL: never). At most TURN_SECRETS_MAX are kept. NULL if out
 * of memory. */
#define TURN_SECRETS_MAX 16
turn_secrets_t *turn_secrets_new(char *const *a, const int64_t *ea, size_t na, char *const *b,
                                 const int64_t *eb, size_t nb);
turn_secrets_t *turn_secrets_ref(turn_secrets_t *s);
void turn_secrets_unref(turn_secrets_t *s);

#endif /* TURN_POLICY_H */
