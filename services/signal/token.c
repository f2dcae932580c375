/* Access tokens: Starling's claims on top of common/jwt.c's HS256. */
#include "signal/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/jwt.h"

static const struct {
    const char *name;
    unsigned bit;
} grant_names[] = {
    {"publish", SIGNAL_GRANT_PUBLISH},
    {"subscribe", SIGNAL_GRANT_SUBSCRIBE},
    {"data", SIGNAL_GRANT_DATA},
    {"admin", SIGNAL_GRANT_ADMIN},
};
#define N_GRANTS (sizeof grant_names / sizeof grant_names[0])

cJSON *signal_grants_json(unsigned grants) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (size_t i = 0; i < N_GRANTS; i++)
        cJSON_AddBoolToObject(o, grant_names[i].name, (grants & grant_names[i].bit) != 0);
    return o;
}

unsigned signal_grants_from_json(const cJSON *o) {
    unsigned g = 0;
    if (!cJSON_IsObject(o)) return 0;
    for (size_t i = 0; i < N_GRANTS; i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, grant_names[i].name)))
            g |= grant_names[i].bit;
    return g;
}

static bool room_claim_valid(const char *room, unsigned grants) {
    if (room && strcmp(room, "*") == 0) return (grants & SIGNAL_GRANT_ADMIN) != 0;
    return signal_room_valid(room);
}

int signal_token_mint(const signal_keys_t *keys, const char *room, const char *identity,
                      const char *name, unsigned grants, int64_t ttl_s, int64_t now, char **out) {
    *out = NULL;
    if (!keys || !keys->secret || keys->secret_len == 0 || !keys->api_key) return RTC_ERR_INVALID_ARG;
    if (!room_claim_valid(room, grants) || !signal_text_valid(identity, SIGNAL_TEXT_MAX))
        return RTC_ERR_INVALID_ARG;
    if (name && name[0] && !signal_text_valid(name, SIGNAL_TEXT_MAX)) return RTC_ERR_INVALID_ARG;
    if (ttl_s <= 0 || ttl_s > 366LL * 86400) return RTC_ERR_INVALID_ARG;
    if (now == 0) now = (int64_t)time(NULL);

    cJSON *c = cJSON_CreateObject();
    if (!c) return RTC_ERR_NOMEM;
    cJSON_AddStringToObject(c, "iss", keys->api_key);
    cJSON_AddStringToObject(c, "sub", identity);
    cJSON_AddStringToObject(c, "name", name && name[0] ? name : identity);
    cJSON_AddStringToObject(c, "room", room);
    cJSON_AddItemToObject(c, "grants", signal_grants_json(grants));
    cJSON_AddNumberToObject(c, "iat", (double)now);
    cJSON_AddNumberToObject(c, "nbf", (double)now);
    cJSON_AddNumberToObject(c, "exp", (double)(now + ttl_s));
    int rc = st_jwt_sign_hs256(keys->secret, keys->secret_len, c, out);
    cJSON_Delete(c);
    return rc;
}

int signal_token_verify(const signal_keys_t *keys, const char *token, size_t len, int64_t now,
                        signal_claims_t *out, const char **why) {
    const char *dummy;
    if (!why) why = &dummy;
    memset(out, 0, sizeof *out);
    if (!keys || !keys->secret || keys->secret_len == 0) {
        *why = "no API secret configured";
        return RTC_ERR_INVALID_ARG;
    }
    st_jwt_verify_opts_t opts = {.now = now, .leeway = SIGNAL_TOKEN_LEEWAY_S, .require_exp = true};
    cJSON *claims = NULL;
    int rc = st_jwt_verify_hs256(token, len, keys->secret, keys->secret_len, &opts, &claims);
    switch (rc) {
    case RTC_OK: break;
    case RTC_ERR_LIMIT: *why = "token too long"; return rc;
    case RTC_ERR_MALFORMED: *why = "malformed token"; return rc;
    case RTC_ERR_UNSUPPORTED: *why = "token algorithm not accepted (HS256 only)"; return rc;
    case RTC_ERR_INTEGRITY: *why = "token signature does not verify"; return rc;
    case RTC_ERR_STALE: *why = "token expired"; return rc;
    case RTC_ERR_AGAIN: *why = "token not yet valid"; return rc;
    case RTC_ERR_DENIED: *why = "token has no expiry"; return rc;
    default: *why = "token rejected"; return rc;
    }
    rc = RTC_ERR_DENIED;
    const char *iss = st_jwt_claim_string(claims, "iss");
    const char *sub = st_jwt_claim_string(claims, "sub");
    const char *name = st_jwt_claim_string(claims, "name");
    const char *room = st_jwt_claim_string(claims, "room");
    const cJSON *grants = cJSON_GetObjectItemCaseSensitive(claims, "grants");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
    if (!iss || !keys->api_key || strcmp(iss, keys->api_key) != 0) {
        *why = "token issuer is not this deployment's API key";
    } else if (!signal_text_valid(sub, SIGNAL_TEXT_MAX)) {
        *why = "token 'sub' (identity) missing or invalid";
    } else if (name && name[0] && !signal_text_valid(name, SIGNAL_TEXT_MAX)) {
        *why = "token 'name' invalid";
    } else if (grants && !cJSON_IsObject(grants)) {
        *why = "token 'grants' must be an object";
    } else {
        out->grants = grants ? signal_grants_from_json(grants) : SIGNAL_GRANTS_PARTICIPANT;
        if (!room_claim_valid(room, out->grants)) {
            *why = "token 'room' missing or invalid";
            out->grants = 0;
        } else {
            snprintf(out->identity, sizeof out->identity, "%s", sub);
            snprintf(out->name, sizeof out->name, "%s", name && name[0] ? name : sub);
            snprintf(out->room, sizeof out->room, "%s", room);
            out->exp = cJSON_IsNumber(exp) ? (int64_t)exp->valuedouble : 0;
            rc = RTC_OK;
        }
    }
    cJSON_Delete(claims);
    if (rc != RTC_OK) memset(out, 0, sizeof *out);
    return rc;
}

bool signal_claims_room_ok(const signal_claims_t *c, const char *room) {
    if (strcmp(c->room, "*") == 0) return (c->grants & SIGNAL_GRANT_ADMIN) != 0;
    return room && strcmp(c->room, room) == 0;
}
