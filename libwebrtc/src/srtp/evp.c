/* The OpenSSL EVP backend of rtc/srtp.h: per direction, one SRTP and one SRTCP transform
 * (xform.c) keyed once from the master key, and the per-SSRC rollover/replay state
 * (streams.c). The order of checks on receive follows libsrtp 2, so both backends return the
 * same code for the same packet: replay check, then authentication, then (only for a packet
 * that authenticated) the stream is created and its window moved. */
#include <stdlib.h>

#include "srtp/srtp_internal.h"

#define E_FLAG 0x80000000u
#define MAX_SRTCP_INDEX 0x7fffffffu

typedef struct {
    rtc_srtp_xform_t *rtp, *rtcp;
    rtc_srtp_streams_t streams;
} direction_t;

typedef struct {
    direction_t tx, rx;
    bool allow_repeat_tx;
    bool gcm;
} evp_session_t;

static void direction_free(direction_t *d) {
    rtc_srtp__xform_free(d->rtp);
    rtc_srtp__xform_free(d->rtcp);
    rtc_srtp__streams_free(&d->streams);
}

void rtc_srtp__evp_destroy(void *impl) {
    evp_session_t *e = impl;
    if (!e) return;
    direction_free(&e->tx);
    direction_free(&e->rx);
    free(e);
}

int rtc_srtp__evp_create(const rtc_srtp_config_t *cfg, uint32_t window, void **out) {
    *out = NULL;
    if (rtc_srtp__evp_init() != RTC_OK) return RTC_ERR_CRYPTO;
    evp_session_t *e = calloc(1, sizeof *e);
    if (!e) return RTC_ERR_NOMEM;
    e->allow_repeat_tx = cfg->allow_repeat_tx;
    e->gcm = cfg->profile == RTC_SRTP_AEAD_AES_128_GCM || cfg->profile == RTC_SRTP_AEAD_AES_256_GCM;
    uint32_t max = cfg->max_ssrcs ? cfg->max_ssrcs : RTC_SRTP_DEFAULT_MAX_SSRCS;
    rtc_srtp__streams_init(&e->tx.streams, window, max);
    rtc_srtp__streams_init(&e->rx.streams, window, max);
    e->tx.rtp = rtc_srtp__xform_derive(cfg->profile, false, true, cfg->local_key, cfg->local_salt);
    e->tx.rtcp = rtc_srtp__xform_derive(cfg->profile, true, true, cfg->local_key, cfg->local_salt);
    e->rx.rtp = rtc_srtp__xform_derive(cfg->profile, false, false, cfg->remote_key, cfg->remote_salt);
    e->rx.rtcp = rtc_srtp__xform_derive(cfg->profile, true, false, cfg->remote_key, cfg->remote_salt);
    if (!e->tx.rtp || !e->tx.rtcp || !e->rx.rtp || !e->rx.rtcp) {
        rtc_srtp__evp_destroy(e);
        return RTC_ERR_CRYPTO;
    }
    *out = e;
    return RTC_OK;
}

int rtc_srtp__evp_protect_rtp(void *impl, uint8_t *buf, size_t hdr_len, size_t *len) {
    evp_session_t *e = impl;
    uint32_t ssrc = rtc_be32(buf + 8);
    uint16_t seq = rtc_be16(buf + 2);
    rtc_srtp_streams_t *t = &e->tx.streams;
    rtc_srtp_stream_t *st = rtc_srtp__streams_find(t, ssrc);
    if (!st) {
        int err = RTC_OK;
        st = rtc_srtp__streams_add(t, ssrc, &err);
        if (!st) return err == RTC_ERR_LIMIT ? RTC_ERR_LIMIT : RTC_ERR_CRYPTO;
    }
    uint64_t guess;
    int32_t delta = rtc_srtp__rtp_estimate(st, seq, &guess);
    if (rtc_srtp__rtp_replay_check(t, st, delta) != RTC_OK) {
        /* Reusing an index reuses keystream; allowed only inside the window on request
         * (retransmissions that must go out byte-identical), as libsrtp's allow_repeat_tx. */
        bool too_old = (int64_t)t->window - 1 + delta < 0;
        if (too_old || !e->allow_repeat_tx) return RTC_ERR_REPLAY;
    } else {
        rtc_srtp__rtp_replay_add(t, st, delta);
    }
    size_t n = rtc_srtp__xform_rtp_protect(e->tx.rtp, buf, hdr_len, *len, ssrc, (uint32_t)(guess >> 16), seq);
    if (!n) return RTC_ERR_CRYPTO;
    *len = n;
    return RTC_OK;
}

int rtc_srtp__evp_unprotect_rtp(void *impl, uint8_t *buf, size_t hdr_len, size_t *len) {
    evp_session_t *e = impl;
    uint32_t ssrc = rtc_be32(buf + 8);
    uint16_t seq = rtc_be16(buf + 2);
    rtc_srtp_streams_t *t = &e->rx.streams;
    rtc_srtp_stream_t *st = rtc_srtp__streams_find(t, ssrc);
    uint64_t guess;
    int32_t delta = rtc_srtp__rtp_estimate(st, seq, &guess);
    if (rtc_srtp__rtp_replay_check(t, st, delta) != RTC_OK) return RTC_ERR_REPLAY;
    int r = rtc_srtp__xform_rtp_unprotect(e->rx.rtp, buf, hdr_len, *len, ssrc, (uint32_t)(guess >> 16), seq);
    if (r != RTC_OK) return r;
    if (!st) {
        int err = RTC_OK;
        st = rtc_srtp__streams_add(t, ssrc, &err);
        if (!st) return err == RTC_ERR_LIMIT ? RTC_ERR_LIMIT : RTC_ERR_CRYPTO;
    }
    rtc_srtp__rtp_replay_add(t, st, delta);
    *len -= rtc_srtp__xform_tag_len(e->rx.rtp);
    return RTC_OK;
}

int rtc_srtp__evp_protect_rtcp(void *impl, uint8_t *buf, size_t *len) {
    evp_session_t *e = impl;
    uint32_t ssrc = rtc_be32(buf + 4);
    rtc_srtp_streams_t *t = &e->tx.streams;
    rtc_srtp_stream_t *st = rtc_srtp__streams_find(t, ssrc);
    if (!st) {
        int err = RTC_OK;
        st = rtc_srtp__streams_add(t, ssrc, &err);
        if (!st) return err == RTC_ERR_LIMIT ? RTC_ERR_LIMIT : RTC_ERR_CRYPTO;
    }
    /* The sender's SRTCP index: 1, 2, ... up to 2^31 - 1, then the key is spent. */
    if (st->rtcp_window_start >= MAX_SRTCP_INDEX) return RTC_ERR_LIMIT;
    uint32_t index = ++st->rtcp_window_start;
    size_t n = rtc_srtp__xform_rtcp_protect(e->tx.rtcp, buf, *len, ssrc, index);
    if (!n) return RTC_ERR_CRYPTO;
    *len = n;
    return RTC_OK;
}

int rtc_srtp__evp_unprotect_rtcp(void *impl, uint8_t *buf, size_t *len) {
    evp_session_t *e = impl;
    uint32_t ssrc = rtc_be32(buf + 4);
    rtc_srtp_streams_t *t = &e->rx.streams;
    uint32_t e_index = rtc_srtp__rtcp_trailer(e->rx.rtcp, buf, *len);
    /* libsrtp's CM path insists on the E flag the session was configured for (always set
     * here); its GCM path takes either. */
    if (!e->gcm && !(e_index & E_FLAG)) return RTC_ERR_CRYPTO;
    uint32_t index = e_index & ~E_FLAG;
    rtc_srtp_stream_t *st = rtc_srtp__streams_find(t, ssrc);
    if (rtc_srtp__rtcp_replay_check(st, index) != RTC_OK) return RTC_ERR_REPLAY;
    int r = rtc_srtp__xform_rtcp_unprotect(e->rx.rtcp, buf, *len, ssrc, e_index);
    if (r != RTC_OK) return r;
    if (!st) {
        int err = RTC_OK;
        st = rtc_srtp__streams_add(t, ssrc, &err);
        if (!st) return err == RTC_ERR_LIMIT ? RTC_ERR_LIMIT : RTC_ERR_CRYPTO;
    }
    rtc_srtp__rtcp_replay_add(st, index);
    *len -= rtc_srtp__xform_tag_len(e->rx.rtcp) + 4;
    return RTC_OK;
}

int rtc_srtp__evp_remove_ssrc(void *impl, uint32_t ssrc, bool inbound) {
    evp_session_t *e = impl;
    return rtc_srtp__streams_remove(inbound ? &e->rx.streams : &e->tx.streams, ssrc);
}
