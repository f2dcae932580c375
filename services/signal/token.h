/*
 * signal/token.h — room access tokens: HS256 JWTs (common/jwt.h) with Starling's claims.
 *
 *   {"iss": API_KEY, "sub": identity, "name": display name, "room": room,
 *    "grants": {"publish": bool, "subscribe": bool, "data": bool, "admin": bool},
 *    "iat": ..., "nbf": ..., "exp": ...}
 *
 * Rules on verification: the signature must verify with the API secret, `iss` must be the
 * API key, `exp` must be present and in the future (nbf honoured, 30 s leeway for clock
 * skew), `sub` must be 1..128 printable characters, `room` a valid room name — or "*" on an
 * admin token, meaning every room. A token without a `grants` object has the participant
 * grants (publish, subscribe, data); with one, a grant is held only when it is `true`. Admin
 * is never implied.
 */
#ifndef STARLING_SIGNAL_TOKEN_H
#define STARLING_SIGNAL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIGNAL_TOKEN_LEEWAY_S 30

typedef struct {
    char identity[SIGNAL_TEXT_MAX + 1];
    char name[SIGNAL_TEXT_MAX + 1];    /* defaults to the identity */
    char room[SIGNAL_ROOM_MAX + 1];    /* "*" on an all-rooms admin token */
    unsigned grants;                   /* SIGNAL_GRANT_* */
    int64_t exp;
} signal_claims_t;

typedef struct {
    const char *api_key;               /* iss */
    const void *secret;
    size_t secret_len;
} signal_keys_t;

/* Mints a token for room/identity valid from `now` for ttl_s seconds. name may be NULL.
 * room may be "*" only with SIGNAL_GRANT_ADMIN. On RTC_OK *out is a malloc'd string the caller
 * frees. RTC_ERR_INVALID_ARG for a bad room/identity/name/ttl or empty secret. */
int signal_token_mint(const signal_keys_t *keys, const char *room, const char *identity,
                      const char *name, unsigned grants, int64_t ttl_s, int64_t now, char **out);

/* Verifies a token at time `now` (Unix seconds; 0 = wall clock). Returns RTC_OK with *out
 * filled, or a negative error with *why (may be NULL) set to a static English reason:
 * RTC_ERR_MALFORMED/LIMIT/UNSUPPORTED (not a token we accept), RTC_ERR_INTEGRITY (forged),
 * RTC_ERR_STALE (expired), RTC_ERR_AGAIN (not yet valid), RTC_ERR_DENIED (wrong issuer,
 * missing exp, bad claims). */
int signal_token_verify(const signal_keys_t *keys, const char *token, size_t len, int64_t now,
                        signal_claims_t *out, const char **why);

/* True when the claims allow joining `room`: exact room match, or "*" with admin. */
bool signal_claims_room_ok(const signal_claims_t *c, const char *room);

/* Grants as a JSON object {"publish":..,"subscribe":..,"data":..,"admin":..} (caller frees). */
struct cJSON *signal_grants_json(unsigned grants);
/* Grants from such an object (missing keys are false); a non-object gives 0. */
unsigned signal_grants_from_json(const struct cJSON *o);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_TOKEN_H */
