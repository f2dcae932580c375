/*
 * common/jwt.h — JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS "HS256", RFC 7515 /
 * RFC 7518 §3.2), the room tokens browsers present to starling-signal.
 *
 * Only HS256 is accepted. The header's "alg" must be exactly "HS256": "none", "HS384",
 * "RS256" (the classic key-confusion attack) and anything else are refused before the
 * signature is looked at, and so is a header carrying "crit" (extensions we cannot honour).
 * The signature is compared in constant time, and the payload is parsed only after it
 * verified. exp and nbf (NumericDate seconds) are checked with a leeway for clock skew.
 */
#ifndef STARLING_COMMON_JWT_H
#define STARLING_COMMON_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longer tokens are refused unread (RTC_ERR_LIMIT). */
#define ST_JWT_MAX_LEN 8192

typedef struct {
    int64_t now;      /* seconds since the Unix epoch; 0 uses the wall clock */
    int64_t leeway;   /* seconds of skew tolerated on exp and nbf */
    bool require_exp; /* refuse tokens without an exp claim (RTC_ERR_DENIED) */
} st_jwt_verify_opts_t;

/* Signs `claims` (a JSON object, not modified) with header {"alg":"HS256","typ":"JWT"}.
 * On success *out is a malloc'd NUL-terminated token the caller frees. Returns RTC_OK,
 * RTC_ERR_INVALID_ARG (empty key, claims not an object) or RTC_ERR_NOMEM/RTC_ERR_CRYPTO. */
int st_jwt_sign_hs256(const void *key, size_t key_len, const cJSON *claims, char **out);

/* Verifies token[0..len). On RTC_OK, *claims (if claims is non-NULL) receives the payload
 * object, which the caller frees with cJSON_Delete. Errors, checked in this order:
 *   RTC_ERR_LIMIT        longer than ST_JWT_MAX_LEN
 *   RTC_ERR_MALFORMED    not three base64url segments, header or payload not a JSON object,
 *                        exp/nbf not numbers
 *   RTC_ERR_UNSUPPORTED  alg other than HS256 (including "none"), or a crit header
 *   RTC_ERR_INTEGRITY    signature does not match
 *   RTC_ERR_STALE        expired: now >= exp + leeway
 *   RTC_ERR_AGAIN        not yet valid: now + leeway < nbf
 *   RTC_ERR_DENIED       no exp while opts->require_exp
 * opts may be NULL (wall clock, no leeway, exp optional). Never reads past len. */
int st_jwt_verify_hs256(const char *token, size_t len, const void *key, size_t key_len,
                        const st_jwt_verify_opts_t *opts, cJSON **claims);

/* A string claim, or NULL if absent or not a string. */
const char *st_jwt_claim_string(const cJSON *claims, const char *name);

/* base64url without padding (RFC 7515 §2 / RFC 4648 §5). encode returns the length
 * written (NUL added) or RTC_ERR_OVERFLOW; decode rejects padding, characters outside the
 * URL-safe alphabet and non-zero trailing bits, and returns the decoded length,
 * RTC_ERR_MALFORMED or RTC_ERR_OVERFLOW. */
int st_base64url_encode(const uint8_t *p, size_t n, char *out, size_t cap);
int st_base64url_decode(const char *s, size_t len, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_JWT_H */
