/* rtc/srtp.h front: configuration checks, packet header checks, the choice of backend, and
 * the counting and logging of receive failures, shared by both backends so they report
 * exactly alike. */
#include "rtc/srtp.h"

#include <pthread.h>
#include <stdlib.h>

#include "srtp/srtp_internal.h"

#define DEFAULT_REPLAY_WINDOW 1024
/* libsrtp takes int lengths; no UDP payload is longer than this anyway. */
#define MAX_PACKET 65535

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = RTC_ERR_CRYPTO;
static rtc_srtp_backend_t default_backend = RTC_SRTP_BACKEND_OPENSSL;

static void do_init(void) {
    const char *env = getenv("RTC_SRTP_BACKEND");
    if (env && !strcmp(env, "libsrtp")) default_backend = RTC_SRTP_BACKEND_LIBSRTP;
    else if (env && *env && strcmp(env, "openssl") != 0)
        RTC_LOGW("srtp", "RTC_SRTP_BACKEND=%s is neither openssl nor libsrtp; using openssl", env);
    int a = rtc_srtp__evp_init(), b = rtc_srtp__libsrtp_init();
    init_result = a != RTC_OK ? a : b;
}

int rtc_srtp_init(void) {
    pthread_once(&init_once, do_init);
    return init_result;
}

const char *rtc_srtp_backend_name(rtc_srtp_backend_t b) {
    switch (b) {
    case RTC_SRTP_BACKEND_DEFAULT: return "default";
    case RTC_SRTP_BACKEND_OPENSSL: return "openssl";
    case RTC_SRTP_BACKEND_LIBSRTP: return "libsrtp";
    default: return "?";
    }
}

size_t rtc_srtp_overhead(rtc_srtp_profile_t profile, bool rtcp) {
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80: return rtcp ? 14 : 10;
    case RTC_SRTP_AES128_CM_SHA1_32: return rtcp ? 14 : 4; /* SRTCP keeps the 80-bit tag */
    case RTC_SRTP_AEAD_AES_128_GCM:
    case RTC_SRTP_AEAD_AES_256_GCM: return rtcp ? 20 : 16;
    default: return 0;
    }
}

size_t rtc_srtp_salt_len(rtc_srtp_profile_t profile) {
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80:
    case RTC_SRTP_AES128_CM_SHA1_32: return 14;
    case RTC_SRTP_AEAD_AES_128_GCM:
    case RTC_SRTP_AEAD_AES_256_GCM: return 12;
    default: return 0;
    }
}

size_t rtc_srtp_key_len(rtc_srtp_profile_t profile) {
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80:
    case RTC_SRTP_AES128_CM_SHA1_32:
    case RTC_SRTP_AEAD_AES_128_GCM: return 16;
    case RTC_SRTP_AEAD_AES_256_GCM: return 32;
    default: return 0;
    }
}

int rtc_srtp_session_create(const rtc_srtp_config_t *cfg, rtc_srtp_session_t **out) {
    if (!cfg || !out) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    if (rtc_srtp_overhead(cfg->profile, false) == 0) return RTC_ERR_INVALID_ARG;
    uint32_t window = cfg->replay_window ? cfg->replay_window : DEFAULT_REPLAY_WINDOW;
    if (window < 64 || window > 32767) return RTC_ERR_INVALID_ARG;
    if (cfg->mki_len) {
        RTC_LOGW("srtp", "SRTP MKI (%zu bytes) is not supported", cfg->mki_len);
        return RTC_ERR_UNSUPPORTED;
    }
    int r = rtc_srtp_init();
    if (r != RTC_OK) return r;
    rtc_srtp_backend_t b = cfg->backend == RTC_SRTP_BACKEND_DEFAULT ? default_backend : cfg->backend;
    if (b != RTC_SRTP_BACKEND_OPENSSL && b != RTC_SRTP_BACKEND_LIBSRTP) return RTC_ERR_INVALID_ARG;
    rtc_srtp_session_t *s = calloc(1, sizeof *s);
    if (!s) return RTC_ERR_NOMEM;
    s->profile = cfg->profile;
    s->backend = b;
    s->rtp_overhead = rtc_srtp_overhead(cfg->profile, false);
    s->rtcp_overhead = rtc_srtp_overhead(cfg->profile, true);
    r = b == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_create(cfg, window, &s->impl)
                                      : rtc_srtp__libsrtp_create(cfg, window, &s->impl);
    if (r != RTC_OK) {
        free(s);
        return r;
    }
    *out = s;
    return RTC_OK;
}

void rtc_srtp_session_destroy(rtc_srtp_session_t *s) {
    if (!s) return;
    if (s->backend == RTC_SRTP_BACKEND_OPENSSL) rtc_srtp__evp_destroy(s->impl);
    else rtc_srtp__libsrtp_destroy(s->impl);
    free(s);
}

rtc_srtp_profile_t rtc_srtp_session_profile(const rtc_srtp_session_t *s) {
    return s ? s->profile : (rtc_srtp_profile_t)0;
}

rtc_srtp_backend_t rtc_srtp_session_backend(const rtc_srtp_session_t *s) {
    return s ? s->backend : RTC_SRTP_BACKEND_DEFAULT;
}

/* Length of the RTP header (fixed part, CSRCs, extension) if it is version 2 and fits in the
 * first `limit` bytes, else 0. */
static size_t rtp_header_len(const uint8_t *p, size_t n, size_t limit) {
    if (n < 12 || limit < 12 || (p[0] >> 6) != 2) return 0;
    size_t hdr = 12 + 4u * (p[0] & 0x0f);
    if (p[0] & 0x10) {
        if (hdr + 4 > limit) return 0;
        hdr += 4 + 4u * rtc_be16(p + hdr + 2);
    }
    return hdr <= limit ? hdr : 0;
}

static bool rtcp_header_ok(const uint8_t *p, size_t n) {
    return n >= 8 && (p[0] >> 6) == 2;
}

/* Counts and logs a failed receive; returns r. */
static int receive_error(rtc_srtp_session_t *s, int r, bool rtcp) {
    const char *what = rtcp ? "SRTCP" : "SRTP";
    switch (r) {
    case RTC_ERR_INTEGRITY:
        s->stats.auth_failures++;
        if (!s->warned_auth) {
            s->warned_auth = true;
            RTC_LOGW("srtp", "%s authentication failed (further failures only counted)", what);
        }
        break;
    case RTC_ERR_REPLAY:
        s->stats.replays++;
        if (!s->warned_replay) {
            s->warned_replay = true;
            RTC_LOGI("srtp", "%s replayed or too old packet dropped (further ones only counted)", what);
        }
        break;
    case RTC_ERR_MALFORMED:
        s->stats.malformed++;
        RTC_LOGD("srtp", "%s packet refused as malformed", what);
        break;
    case RTC_ERR_LIMIT:
        s->stats.ssrc_limit++;
        if (!s->warned_limit) {
            s->warned_limit = true;
            RTC_LOGW("srtp", "%s packet of a new SSRC dropped: the session tracks its maximum of SSRCs", what);
        }
        break;
    default:
        s->stats.other_errors++;
        RTC_LOGD("srtp", "%s unprotect failed: %s", what, rtc_strerror(r));
        r = RTC_ERR_CRYPTO;
        break;
    }
    return r;
}

static int send_error(rtc_srtp_session_t *s, int r, bool rtcp) {
    if (r == RTC_ERR_LIMIT && !s->warned_limit) {
        s->warned_limit = true;
        RTC_LOGW("srtp", "%s protect refused: %s", rtcp ? "SRTCP" : "SRTP",
                 rtcp ? "SSRC limit reached or SRTCP index exhausted" : "the session tracks its maximum of SSRCs");
    } else if (r != RTC_ERR_REPLAY && r != RTC_ERR_LIMIT) {
        RTC_LOGW("srtp", "%s protect failed: %s", rtcp ? "SRTCP" : "SRTP", rtc_strerror(r));
    }
    return r;
}

int rtc_srtp_protect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len, hdr = rtp_header_len(buf, n, n);
    if (!hdr) return RTC_ERR_MALFORMED;
    if (n > MAX_PACKET || cap < n + s->rtp_overhead) return RTC_ERR_OVERFLOW;
    int r = s->backend == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_protect_rtp(s->impl, buf, hdr, len)
                                                   : rtc_srtp__libsrtp_protect_rtp(s->impl, buf, len);
    if (r != RTC_OK) return send_error(s, r, false);
    s->stats.rtp_protected++;
    return RTC_OK;
}

int rtc_srtp_unprotect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len, hdr = 0;
    if (n <= MAX_PACKET && n >= 12 + s->rtp_overhead) hdr = rtp_header_len(buf, n, n - s->rtp_overhead);
    if (!hdr) {
        s->stats.malformed++;
        RTC_LOGD("srtp", "SRTP packet of %zu bytes is not RTP", n);
        return RTC_ERR_MALFORMED;
    }
    int r = s->backend == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_unprotect_rtp(s->impl, buf, hdr, len)
                                                   : rtc_srtp__libsrtp_unprotect_rtp(s->impl, buf, len);
    if (r != RTC_OK) return receive_error(s, r, false);
    s->stats.rtp_unprotected++;
    return RTC_OK;
}

int rtc_srtp_protect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (!rtcp_header_ok(buf, n)) return RTC_ERR_MALFORMED;
    if (n > MAX_PACKET || cap < n + s->rtcp_overhead) return RTC_ERR_OVERFLOW;
    int r = s->backend == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_protect_rtcp(s->impl, buf, len)
                                                   : rtc_srtp__libsrtp_protect_rtcp(s->impl, buf, len);
    if (r != RTC_OK) return send_error(s, r, true);
    s->stats.rtcp_protected++;
    return RTC_OK;
}

int rtc_srtp_unprotect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len) {
    if (!s || !buf || !len) return RTC_ERR_INVALID_ARG;
    size_t n = *len;
    if (n > MAX_PACKET || n < 8 + s->rtcp_overhead || !rtcp_header_ok(buf, n)) {
        s->stats.malformed++;
        RTC_LOGD("srtp", "SRTCP packet of %zu bytes is not RTCP", n);
        return RTC_ERR_MALFORMED;
    }
    int r = s->backend == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_unprotect_rtcp(s->impl, buf, len)
                                                   : rtc_srtp__libsrtp_unprotect_rtcp(s->impl, buf, len);
    if (r != RTC_OK) return receive_error(s, r, true);
    s->stats.rtcp_unprotected++;
    return RTC_OK;
}

int rtc_srtp_remove_ssrc(rtc_srtp_session_t *s, uint32_t ssrc, bool inbound) {
    if (!s) return RTC_ERR_INVALID_ARG;
    return s->backend == RTC_SRTP_BACKEND_OPENSSL ? rtc_srtp__evp_remove_ssrc(s->impl, ssrc, inbound)
                                                  : rtc_srtp__libsrtp_remove_ssrc(s->impl, ssrc, inbound);
}

void rtc_srtp_get_stats(const rtc_srtp_session_t *s, rtc_srtp_stats_t *st) {
    if (!st) return;
    if (!s) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = s->stats;
}
