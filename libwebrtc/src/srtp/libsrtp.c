/* The libsrtp2 backend of rtc/srtp.h: one outbound and one inbound srtp_t per session, both
 * with wildcard SSRCs, processed in place. Kept selectable (RTC_SRTP_BACKEND_LIBSRTP) and as
 * the reference the EVP backend is tested against. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>

#include <srtp2/srtp.h>

#include "srtp/srtp_internal.h"

typedef struct {
    srtp_t tx, rx;
} libsrtp_session_t;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = RTC_ERR_CRYPTO;

/* libsrtp's own messages are per packet on a bad day; the decision is logged by the front. */
static void srtp_log(srtp_log_level_t level, const char *msg, void *data) {
    (void)data;
    if (level == srtp_log_level_error) RTC_LOGD("srtp", "libsrtp: %s", msg);
    else RTC_LOGT("srtp", "libsrtp: %s", msg);
}

static void do_init(void) {
    srtp_install_log_handler(srtp_log, NULL);
    srtp_err_status_t e = srtp_init();
    if (e != srtp_err_status_ok) {
        RTC_LOGE("srtp", "srtp_init failed: %d", (int)e);
        return;
    }
    init_result = RTC_OK;
}

int rtc_srtp__libsrtp_init(void) {
    pthread_once(&init_once, do_init);
    return init_result;
}

static void set_policy(srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp, rtc_srtp_profile_t p) {
    switch (p) {
    case RTC_SRTP_AES128_CM_SHA1_32:
        /* RFC 5764 section 4.1.2: the 32-bit tag is for SRTP only; SRTCP keeps 80 bits. */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
        break;
    case RTC_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
        break;
    case RTC_SRTP_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
        break;
    default:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
        break;
    }
}

static int make_ctx(srtp_t *out, rtc_srtp_profile_t profile, srtp_ssrc_type_t dir, const uint8_t *key,
                    const uint8_t *salt, uint32_t window, bool repeat_tx) {
    uint8_t master[RTC_SRTP_MAX_KEY_LEN + RTC_SRTP_MAX_SALT_LEN];
    size_t key_len = rtc_srtp_key_len(profile), salt_len = rtc_srtp_salt_len(profile);
    memcpy(master, key, key_len);
    memcpy(master + key_len, salt, salt_len);

    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    set_policy(&pol.rtp, &pol.rtcp, profile);
    pol.ssrc.type = dir;
    pol.key = master;
    pol.window_size = window;
    pol.allow_repeat_tx = repeat_tx ? 1 : 0;
    pol.next = NULL;
    srtp_err_status_t e = srtp_create(out, &pol);
    memset(master, 0, sizeof master);
    if (e != srtp_err_status_ok) {
        RTC_LOGW("srtp", "srtp_create failed: %d", (int)e);
        *out = NULL;
        return RTC_ERR_CRYPTO;
    }
    return RTC_OK;
}

void rtc_srtp__libsrtp_destroy(void *impl) {
    libsrtp_session_t *l = impl;
    if (!l) return;
    if (l->tx) srtp_dealloc(l->tx);
    if (l->rx) srtp_dealloc(l->rx);
    free(l);
}

int rtc_srtp__libsrtp_create(const rtc_srtp_config_t *cfg, uint32_t window, void **out) {
    *out = NULL;
    int r = rtc_srtp__libsrtp_init();
    if (r != RTC_OK) return r;
    libsrtp_session_t *l = calloc(1, sizeof *l);
    if (!l) return RTC_ERR_NOMEM;
    r = make_ctx(&l->tx, cfg->profile, ssrc_any_outbound, cfg->local_key, cfg->local_salt, window,
                 cfg->allow_repeat_tx);
    if (r == RTC_OK)
        r = make_ctx(&l->rx, cfg->profile, ssrc_any_inbound, cfg->remote_key, cfg->remote_salt, window, false);
    if (r != RTC_OK) {
        rtc_srtp__libsrtp_destroy(l);
        return r;
    }
    *out = l;
    return RTC_OK;
}

static int map(srtp_err_status_t e) {
    switch (e) {
    case srtp_err_status_ok: return RTC_OK;
    case srtp_err_status_auth_fail: return RTC_ERR_INTEGRITY;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return RTC_ERR_REPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return RTC_ERR_MALFORMED;
    case srtp_err_status_key_expired: return RTC_ERR_LIMIT;
    default:
        RTC_LOGD("srtp", "libsrtp error %d", (int)e);
        return RTC_ERR_CRYPTO;
    }
}

int rtc_srtp__libsrtp_protect_rtp(void *impl, uint8_t *buf, size_t *len) {
    int l = (int)*len;
    int r = map(srtp_protect(((libsrtp_session_t *)impl)->tx, buf, &l));
    if (r == RTC_OK) *len = (size_t)l;
    return r;
}

int rtc_srtp__libsrtp_unprotect_rtp(void *impl, uint8_t *buf, size_t *len) {
    int l = (int)*len;
    int r = map(srtp_unprotect(((libsrtp_session_t *)impl)->rx, buf, &l));
    if (r == RTC_OK) *len = (size_t)l;
    return r;
}

int rtc_srtp__libsrtp_protect_rtcp(void *impl, uint8_t *buf, size_t *len) {
    int l = (int)*len;
    int r = map(srtp_protect_rtcp(((libsrtp_session_t *)impl)->tx, buf, &l));
    if (r == RTC_OK) *len = (size_t)l;
    return r;
}

int rtc_srtp__libsrtp_unprotect_rtcp(void *impl, uint8_t *buf, size_t *len) {
    int l = (int)*len;
    int r = map(srtp_unprotect_rtcp(((libsrtp_session_t *)impl)->rx, buf, &l));
    if (r == RTC_OK) *len = (size_t)l;
    return r;
}

int rtc_srtp__libsrtp_remove_ssrc(void *impl, uint32_t ssrc, bool inbound) {
    libsrtp_session_t *l = impl;
    /* libsrtp wants the SSRC in network byte order here. */
    srtp_err_status_t e = srtp_remove_stream(inbound ? l->rx : l->tx, htonl(ssrc));
    if (e == srtp_err_status_ok) return RTC_OK;
    return e == srtp_err_status_no_ctx ? RTC_ERR_NOT_FOUND : RTC_ERR_CRYPTO;
}
