/* JWT HS256. The order of checks matters: size, shape, algorithm, signature, and only then
 * the claims, so nothing an attacker controls is interpreted before it is authenticated
 * (apart from the header, which must be read to learn the algorithm). */
#include "common/jwt.h"

#include <stdlib.h>

int st_base64url_encode(const uint8_t *p, size_t n, char *out, size_t cap) {
    size_t need = RTC_BASE64_ENCODED_SIZE(n);
    char small[256];
    char *tmp = need <= sizeof small ? small : malloc(need);
    if (!tmp) return RTC_ERR_NOMEM;
    int len = rtc_base64_encode(p, n, tmp, need);
    if (len < 0) {
        if (tmp != small) free(tmp);
        return len;
    }
    while (len > 0 && tmp[len - 1] == '=') len--;
    if ((size_t)len + 1 > cap) {
        if (tmp != small) free(tmp);
        return RTC_ERR_OVERFLOW;
    }
    for (int i = 0; i < len; i++) {
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
    }
    out[len] = '\0';
    if (tmp != small) free(tmp);
    return len;
}

int st_base64url_decode(const char *s, size_t len, uint8_t *out, size_t cap) {
    if (len % 4 == 1) return RTC_ERR_MALFORMED;
    char small[256];
    char *tmp = len <= sizeof small ? small : malloc(len);
    if (!tmp) return RTC_ERR_NOMEM;
    int rc = RTC_OK;
    for (size_t i = 0; i < len && rc == RTC_OK; i++) {
        char c = s[i];
        if (c == '-') tmp[i] = '+';
        else if (c == '_') tmp[i] = '/';
        else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            tmp[i] = c;
        else rc = RTC_ERR_MALFORMED; /* includes '=', '+', '/', whitespace */
    }
    if (rc == RTC_OK) rc = rtc_base64_decode(tmp, len, out, cap);
    if (tmp != small) free(tmp);
    return rc;
}

/* Decodes one segment and parses it as a JSON object. */
static int decode_json(const char *seg, size_t len, cJSON **out) {
    size_t cap = len / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (!buf) return RTC_ERR_NOMEM;
    int n = st_base64url_decode(seg, len, buf, cap);
    if (n < 0) {
        free(buf);
        return n == RTC_ERR_NOMEM ? n : RTC_ERR_MALFORMED;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)buf, (size_t)n);
    free(buf);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return RTC_ERR_MALFORMED;
    }
    *out = j;
    return RTC_OK;
}

int st_jwt_sign_hs256(const void *key, size_t key_len, const cJSON *claims, char **out) {
    if (!key || key_len == 0 || !cJSON_IsObject(claims) || !out) return RTC_ERR_INVALID_ARG;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *payload = cJSON_PrintUnformatted(claims);
    if (!payload) return RTC_ERR_NOMEM;
    size_t plen = strlen(payload);
    size_t cap = RTC_BASE64_ENCODED_SIZE(sizeof header) + RTC_BASE64_ENCODED_SIZE(plen) +
                 RTC_BASE64_ENCODED_SIZE(RTC_SHA256_LEN) + 2;
    char *tok = malloc(cap);
    if (!tok) {
        cJSON_free(payload);
        return RTC_ERR_NOMEM;
    }
    size_t o = 0;
    int n = st_base64url_encode((const uint8_t *)header, sizeof header - 1, tok, cap);
    o += (size_t)n;
    tok[o++] = '.';
    n = st_base64url_encode((const uint8_t *)payload, plen, tok + o, cap - o);
    cJSON_free(payload);
    if (n < 0) {
        free(tok);
        return n;
    }
    o += (size_t)n;
    uint8_t mac[RTC_SHA256_LEN];
    if (rtc_hmac_sha256(key, key_len, tok, o, mac) != RTC_SHA256_LEN) {
        free(tok);
        return RTC_ERR_CRYPTO;
    }
    tok[o++] = '.';
    n = st_base64url_encode(mac, sizeof mac, tok + o, cap - o);
    if (n < 0) {
        free(tok);
        return n;
    }
    *out = tok;
    return RTC_OK;
}

int st_jwt_verify_hs256(const char *token, size_t len, const void *key, size_t key_len,
                        const st_jwt_verify_opts_t *opts, cJSON **claims) {
    if (claims) *claims = NULL;
    if (!token || !key || key_len == 0) return RTC_ERR_INVALID_ARG;
    if (len > ST_JWT_MAX_LEN) return RTC_ERR_LIMIT;

    /* Exactly two dots, three non-empty segments. */
    const char *d1 = memchr(token, '.', len);
    if (!d1) return RTC_ERR_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) return RTC_ERR_MALFORMED;
    size_t hlen = (size_t)(d1 - token);
    size_t plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0 || slen == 0) return RTC_ERR_MALFORMED;

    cJSON *header = NULL;
    int rc = decode_json(token, hlen, &header);
    if (rc < 0) return rc;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    bool alg_ok = cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0;
    bool has_crit = cJSON_GetObjectItemCaseSensitive(header, "crit") != NULL;
    cJSON_Delete(header);
    if (!alg_ok || has_crit) return RTC_ERR_UNSUPPORTED;

    uint8_t sig[RTC_SHA256_LEN + 3];
    int n = st_base64url_decode(d2 + 1, slen, sig, sizeof sig);
    if (n == RTC_ERR_OVERFLOW) return RTC_ERR_INTEGRITY; /* too long to be ours */
    if (n < 0) return RTC_ERR_MALFORMED;
    uint8_t mac[RTC_SHA256_LEN];
    if (rtc_hmac_sha256(key, key_len, token, (size_t)(d2 - token), mac) != RTC_SHA256_LEN)
        return RTC_ERR_CRYPTO;
    if (n != RTC_SHA256_LEN || !rtc_ct_equal(sig, mac, RTC_SHA256_LEN)) return RTC_ERR_INTEGRITY;

    cJSON *payload = NULL;
    rc = decode_json(d1 + 1, plen, &payload);
    if (rc < 0) return rc;

    int64_t now = opts && opts->now ? opts->now : rtc_clock_wall_us() / RTC_US_PER_SEC;
    int64_t leeway = opts && opts->leeway > 0 ? opts->leeway : 0;
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(payload, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(payload, "nbf");
    if ((exp && !cJSON_IsNumber(exp)) || (nbf && !cJSON_IsNumber(nbf))) rc = RTC_ERR_MALFORMED;
    /* RFC 7519 §4.1.4: the current time must be before exp. */
    else if (exp && (double)now >= exp->valuedouble + (double)leeway) rc = RTC_ERR_STALE;
    /* §4.1.5: the current time must be at or after nbf. */
    else if (nbf && (double)now + (double)leeway < nbf->valuedouble) rc = RTC_ERR_AGAIN;
    else if (!exp && opts && opts->require_exp) rc = RTC_ERR_DENIED;
    if (rc < 0 || !claims) cJSON_Delete(payload);
    else *claims = payload;
    return rc;
}

const char *st_jwt_claim_string(const cJSON *claims, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
