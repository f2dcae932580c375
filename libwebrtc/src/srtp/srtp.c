/* SRTP/SRTCP sessions on libsrtp2: one outbound and one inbound srtp_t per association,
 * both with wildcard SSRCs, processed in place. */
#include "rtc/srtp.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <srtp2/srtp.h>

#define DEFAULT_REPLAY_WINDOW 1024
/* libsrtp takes int lengths; no UDP payload is longer than this anyway. */
#define MAX_PACKET 65535

struct rtc_srtp_session {
    rtc_srtp_profile_t profile;
    srtp_t tx, rx;
    size_t tag_len;
    rtc_srtp_stats_t stats;
    bool warned_auth, warned_replay;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = RTC_ERR_CRYPTO;

/* libsrtp's own messages are per packet on a bad day; the decision is logged here instead. */
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

int rtc_srtp_init(void) {
    pthread_once(&init_once, do_init);
    return init_result;
}

size_t rtc_srtp_overhead(rtc_srtp_profile_t profile, bool rtcp) {
    size_t tag;
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80: tag = 10; break;
    case RTC_SRTP_AEAD_AES_128_GCM: tag = 16; break;
    default: return 0;
    }
    return rtcp ? tag + 4 : tag;
}

size_t rtc_srtp_salt_len(rtc_srtp_profile_t profile) {
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80: return 14;
    case RTC_SRTP_AEAD_AES_128_GCM: return 12;
    default: return 0;
    }
}

static int make_ctx(srtp_t *out, rtc_srtp_profile_t profile, srtp_ssrc_type_t dir, const uint8_t *key,
                    const uint8_t *salt, uint32_t window, bool repeat_tx) {
    uint8_t master[RTC_SRTP_KEY_LEN + RTC_SRTP_MAX_SALT_LEN];
    size_t salt_len = rtc_srtp_salt_len(profile);
    memcpy(master, key, RTC_SRTP_KEY_LEN);
    memcpy(master + RTC_SRTP_KEY_LEN, salt, salt_len);

    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    if (profile == RTC_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    }
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

int rtc_srtp_session_create(const rtc_srtp_config_t *cfg, rtc_srtp_session_t **out) {
    if (!cfg || !out) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    if (rtc_srtp_overhead(cfg->profile, false) == 0) return RTC_ERR_INVALID_ARG;
    uint32_t window = cfg->replay_window ? cfg->replay_window : DEFAULT_REPLAY_WINDOW;
    if (window < 64 || window > 32767) return RTC_ERR_INVALID_ARG;
    int r = rtc_srtp_init();
    if (r != RTC_OK) return r;
    rtc_srtp_session_t *s = calloc(1, sizeof *s);
    if (!s) return RTC_ERR_NOMEM;
    s->profile = cfg->profile;
    s->tag_len = rtc_srtp_overhead(cfg->profile, false);
    r = make_ctx(&s->tx, cfg->profile, ssrc_any_outbound, cfg->local_key, cfg->local_salt, window,
                 cfg->allow_repeat_tx);
    if (r == RTC_OK)
        r = make_ctx(&s->rx, cfg->profile, ssrc_any_inbound, cfg->remote_key, cfg->remote_salt,
                     window, false);
    if (r != RTC_OK) {
        rtc_srtp_session_destroy(s);
        return r;
    }
    *out = s;
    return RTC_OK;
}

void rtc_srtp_session_destroy(rtc_srtp_session_t *s) {
    if (!s) return;
    if (s->tx) srtp_dealloc(s->tx);
    if (s->rx) srtp_dealloc(s->rx);
    free(s);
}

rtc_srtp_profile_t rtc_srtp_session_profile(const rtc_srtp_session_t *s) {
    return s ? s->profile : (rtc_srtp_profile_t)0;
}

/* The RTP header (fixed part, CSRCs, extension) must fit in the first `limit` bytes. */
static bool rtp_header_ok(const uint8_t *p, size_t n, size_t limit) {
    if (n < 12 || limit < 12 || (p[0] >> 6) != 2) return false;
    size_t hdr = 12 + 4u * (p[0] & 0x0f);
    if (p[0] & 0x10) {
        if (hdr + 4 > limit) return false;
        hdr += 4 + 4u * rtc_be16(p + hdr + 2);
    }
    return hdr <= limit;
}

static bool rtcp_header_ok(const uint8_t *p, size_t n) {
    return n >= 8 && (p[0] >> 6) == 2;
}

/* Maps a libsrtp result on a received packet to our code, counting and logging it. */
static int receive_error(rtc_srtp_session_t *s, srtp_err_status_t e, bool rtcp) {
    const char *what = rtcp ? "SRTCP" : "SRTP";
    switch (e) {
    case srtp_err_status_auth_fail:
        s->stats.auth_failures++;
        if (!s->warned_auth) {
            s->warned_auth = true;
            RTC_LOGW("srtp", "%s authentication failed (further failures only counted)", what);
        }
        return RTC_ERR_INTEGRITY;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        s->stats.replays++;
        if (!s->warned_replay) {
            s->warned_replay = true;
            RTC_LOGI("srtp", "%s replayed or too old packet dropped (further ones only counted)", what);
        }
        return RTC_ERR_REPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
        s->stats.malformed++;
        RTC_LOGD("srtp", "%s packet refused as malformed", what);
        return RTC_ERR_MALFORMED;
    default:
        s->stats.other_errors++;
        RTC_LOGD("srtp", "%s unprotect failed: libsrtp error %d", what, (int)e);
        return RTC_ERR_CRYPTO;
    }
}

int rtc_srtp_protect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (!rtp_header_ok(buf, n, n)) return RTC_ERR_MALFORMED;
    if (n > MAX_PACKET || cap < n + s->tag_len) return RTC_ERR_OVERFLOW;
    int l = (int)n;
    srtp_err_status_t e = srtp_protect(s->tx, buf, &l);
    if (e != srtp_err_status_ok) {
        if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old) return RTC_ERR_REPLAY;
        RTC_LOGW("srtp", "srtp_protect failed: %d", (int)e);
        return RTC_ERR_CRYPTO;
    }
    *len = (size_t)l;
    s->stats.rtp_protected++;
    return RTC_OK;
}

int rtc_srtp_unprotect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (n > MAX_PACKET || n < 12 + s->tag_len || !rtp_header_ok(buf, n, n - s->tag_len)) {
        s->stats.malformed++;
        RTC_LOGD("srtp", "SRTP packet of %zu bytes is not RTP", n);
        return RTC_ERR_MALFORMED;
    }
    int l = (int)n;
    srtp_err_status_t e = srtp_unprotect(s->rx, buf, &l);
    if (e != srtp_err_status_ok) return receive_error(s, e, false);
    *len = (size_t)l;
    s->stats.rtp_unprotected++;
    return RTC_OK;
}

int rtc_srtp_protect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (!rtcp_header_ok(buf, n)) return RTC_ERR_MALFORMED;
    if (n > MAX_PACKET || cap < n + s->tag_len + 4) return RTC_ERR_OVERFLOW;
    int l = (int)n;
    srtp_err_status_t e = srtp_protect_rtcp(s->tx, buf, &l);
    if (e != srtp_err_status_ok) {
        RTC_LOGW("srtp", "srtp_protect_rtcp failed: %d", (int)e);
        return RTC_ERR_CRYPTO;
    }
    *len = (size_t)l;
    s->stats.rtcp_protected++;
    return RTC_OK;
}

int rtc_srtp_unprotect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (n > MAX_PACKET || n < 8 + 4 + s->tag_len || !rtcp_header_ok(buf, n)) {
        s->stats.malformed++;
        RTC_LOGD("srtp", "SRTCP packet of %zu bytes is not RTCP", n);
        return RTC_ERR_MALFORMED;
    }
    int l = (int)n;
    srtp_err_status_t e = srtp_unprotect_rtcp(s->rx, buf, &l);
    if (e != srtp_err_status_ok) return receive_error(s, e, true);
    *len = (size_t)l;
    s->stats.rtcp_unprotected++;
    return RTC_OK;
}

int rtc_srtp_remove_ssrc(rtc_srtp_session_t *s, uint32_t ssrc, bool inbound) {
    if (!s) return RTC_ERR_INVALID_ARG;
    /* libsrtp wants the SSRC in network byte order here. */
    srtp_err_status_t e = srtp_remove_stream(inbound ? s->rx : s->tx, htonl(ssrc));
    if (e == srtp_err_status_ok) return RTC_OK;
    return e == srtp_err_status_no_ctx ? RTC_ERR_NOT_FOUND : RTC_ERR_CRYPTO;
}

void rtc_srtp_get_stats(const rtc_srtp_session_t *s, rtc_srtp_stats_t *st) {
    if (!st) return;
    if (!s) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = s->stats;
}
