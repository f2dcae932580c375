/*
 * common/turn_rest.h — ephemeral TURN credentials ("TURN REST API",
 * draft-uberti-behave-turn-rest-00, as coTURN implements with --use-auth-secret).
 *
 *   username = "<expiry>:<identity>"   expiry in seconds since the Unix epoch
 *   password = base64(HMAC-SHA1(secret, username))
 *
 * starling-signal makes them for browsers; starling-turn recomputes the password from the
 * username to check a request (and refuses expired usernames). coTURN accepts the same
 * credentials, which is how the tests prove the format. The identity may itself contain ':'
 * (the expiry is everything before the first one); a username of only "<expiry>" is
 * accepted too, as coTURN does.
 */
#ifndef STARLING_COMMON_TURN_REST_H
#define STARLING_COMMON_TURN_REST_H

#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a password: base64 of 20 bytes is 28 characters. */
#define ST_TURN_REST_PASSWORD_SIZE RTC_BASE64_ENCODED_SIZE(RTC_SHA1_LEN)
/* Longest username we make or accept (STUN USERNAME is limited to 513 bytes). */
#define ST_TURN_REST_USERNAME_MAX 512

/* Makes a username/password pair valid until `expiry` (Unix seconds). identity may be NULL
 * or empty (username is then just the expiry). Returns RTC_OK, RTC_ERR_INVALID_ARG (empty
 * secret, negative expiry) or RTC_ERR_OVERFLOW (buffers too small / identity too long). */
int st_turn_rest_make(const void *secret, size_t secret_len, const char *identity,
                      int64_t expiry, char *username, size_t username_cap, char *password,
                      size_t password_cap);

/* The password for a username: base64(HMAC-SHA1(secret, username)). Returns its length. */
int st_turn_rest_password(const void *secret, size_t secret_len, const char *username,
                          size_t username_len, char *password, size_t password_cap);

/* Reads the expiry from a username ("<digits>" or "<digits>:..."). Returns RTC_OK or
 * RTC_ERR_MALFORMED. */
int st_turn_rest_expiry(const char *username, size_t username_len, int64_t *expiry);

/* Checks a username/password pair at time `now` (Unix seconds): RTC_OK, RTC_ERR_MALFORMED
 * (no expiry), RTC_ERR_STALE (now >= expiry), RTC_ERR_AUTH (wrong password). The password
 * is compared in constant time. */
int st_turn_rest_verify(const void *secret, size_t secret_len, const char *username,
                        size_t username_len, const char *password, size_t password_len,
                        int64_t now);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_TURN_REST_H */
