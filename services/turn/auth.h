/*
 * turn/auth.h — credential helpers for the TURN server: TURN REST API (ephemeral)
 * credentials and the per-source limiter for unauthenticated answers.
 *
 * TURN REST API (draft-uberti-behave-turn-rest, as coTURN's --use-auth-secret does it):
 *   username = "<expiry unix seconds>:<identity>"   (identity may be empty: "<expiry>")
 *   password = base64(HMAC-SHA1(secret, username))
 * and then the ordinary long-term key MD5(username ":" realm ":" password).
 */
#ifndef TURN_AUTH_H
#define TURN_AUTH_H

#include "rtc/base.h"
#include "turn/policy.h"

/* Base64 of a 20-byte HMAC-SHA1 is 28 characters. */
#define TURN_REST_PASSWORD_LEN 28

/* Parses the expiry from a REST username. RTC_OK, or RTC_ERR_MALFORMED when the username
 * does not start with 1-19 digits followed by ':' or the end. */
int turn_rest_parse_expiry(const char *username, int64_t *expiry);
/* Writes the password (NUL-terminated) for username under secret; returns its length or a
 * negative error (RTC_ERR_OVERFLOW when cap < 29). */
int turn_rest_password(const char *secret, const char *username, char *out, size_t cap);
/* The long-term key for a REST username under one secret. Returns 16 or a negative error. */
int turn_rest_key(const char *secret, const char *username, const char *realm,
                  uint8_t key[TURN_LT_KEY_LEN]);

/* A fixed-size token-bucket table keyed by a seeded hash of the source IP. Memory is bounded
 * whatever the traffic: sources that hash to one slot share its bucket, so a spoofed flood
 * can drain buckets but never grow state. */
#define TURN_RATELIMIT_SLOTS 4096

typedef struct {
    int64_t tokens_us;   /* tokens scaled by 1e6 so refills stay integral */
    rtc_time_t last;
} turn_rl_slot_t;

typedef struct {
    uint64_t seed;
    turn_rl_slot_t slot[TURN_RATELIMIT_SLOTS];
} turn_ratelimit_t;

void turn_ratelimit_init(turn_ratelimit_t *r);
/* Takes one token for ip (port ignored). rate 0 means unlimited. */
bool turn_ratelimit_allow(turn_ratelimit_t *r, const rtc_addr_t *ip, uint32_t rate, uint32_t burst,
                          rtc_time_t now);

#endif /* TURN_AUTH_H */
