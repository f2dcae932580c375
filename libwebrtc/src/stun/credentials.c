/* Client-side long-term credentials (RFC 8489 §9.2.4-9.2.5): learn realm and nonce from a
 * 401, refresh the nonce on 438, and sign requests. */
#include "rtc/stun.h"

#include <stdio.h>

void rtc_stun_credentials_init(rtc_stun_credentials_t *c, const char *username, const char *password) {
    memset(c, 0, sizeof *c);
    snprintf(c->username, sizeof c->username, "%s", username ? username : "");
    snprintf(c->password, sizeof c->password, "%s", password ? password : "");
}

int rtc_stun_credentials_handle_error(rtc_stun_credentials_t *c, const rtc_stun_msg_t *resp) {
    int code;
    if (rtc_stun_msg_get_error(resp, &code, NULL, 0) != RTC_OK) return RTC_ERR_MALFORMED;
    if (code != RTC_STUN_ERR_UNAUTHORIZED && code != RTC_STUN_ERR_STALE_NONCE) return RTC_ERR_AUTH;
    char realm[sizeof c->realm], nonce[sizeof c->nonce];
    if (rtc_stun_msg_get_string(resp, RTC_STUN_ATTR_NONCE, nonce, sizeof nonce) != RTC_OK)
        return RTC_ERR_MALFORMED;
    int rc = rtc_stun_msg_get_string(resp, RTC_STUN_ATTR_REALM, realm, sizeof realm);
    if (rc == RTC_ERR_NOT_FOUND && code == RTC_STUN_ERR_STALE_NONCE && c->ready) {
        snprintf(realm, sizeof realm, "%s", c->realm); /* some servers omit REALM on 438 */
    } else if (rc != RTC_OK) {
        return RTC_ERR_MALFORMED;
    }
    /* A 401 answering a request we signed with this very realm and nonce means the
     * password is wrong: retrying would loop. */
    if (code == RTC_STUN_ERR_UNAUTHORIZED && c->ready && strcmp(realm, c->realm) == 0 &&
        strcmp(nonce, c->nonce) == 0) {
        RTC_LOGW("stun", "server refused our credentials for user '%s' in realm '%s'", c->username, realm);
        return RTC_ERR_AUTH;
    }
    bool realm_changed = strcmp(realm, c->realm) != 0;
    snprintf(c->realm, sizeof c->realm, "%s", realm);
    snprintf(c->nonce, sizeof c->nonce, "%s", nonce);
    if (realm_changed || !c->ready) {
        int klen = rtc_stun_long_term_key(RTC_STUN_PASSWORD_MD5, c->username, c->realm, c->password, c->key);
        if (klen < 0) return klen;
        c->key_len = (size_t)klen;
    }
    c->ready = true;
    return RTC_OK;
}

void rtc_stun_credentials_sign(const rtc_stun_credentials_t *c, rtc_stun_builder_t *b) {
    if (!c->ready) return;
    rtc_stun_add_string(b, RTC_STUN_ATTR_USERNAME, c->username);
    rtc_stun_add_string(b, RTC_STUN_ATTR_REALM, c->realm);
    rtc_stun_add_string(b, RTC_STUN_ATTR_NONCE, c->nonce);
    rtc_stun_add_integrity(b, c->key, c->key_len);
}
