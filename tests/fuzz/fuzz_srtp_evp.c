/* libFuzzer target: the OpenSSL EVP SRTP backend, unprotect of SRTP and SRTCP, checked
 * against libsrtp2 on every input.
 *
 * Byte 0: bits 0-1 pick the profile (CM_SHA1_80, CM_SHA1_32, GCM-128, GCM-256), bit 2 RTP or
 * RTCP, bit 3 the mode:
 *   0: the rest is a received packet: both backends unprotect it;
 *   1: the rest is a plaintext packet: both protect it (the bytes must match), then byte 1
 *      of the input (if not 0) flips one bit of the result, and both unprotect it.
 * Properties: no crash or sanitizer report; both backends return the same code and, on
 * success, the same bytes; a successful unprotect never grows the packet.
 * Sessions (same key both ways, so a protected packet is accepted back) are made once; the
 * packet's SSRC is removed after each input so every run starts from the same state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/srtp.h"

static const rtc_srtp_profile_t profiles[4] = {RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AES128_CM_SHA1_32,
                                               RTC_SRTP_AEAD_AES_128_GCM, RTC_SRTP_AEAD_AES_256_GCM};

static rtc_srtp_session_t *session(rtc_srtp_profile_t p, rtc_srtp_backend_t b) {
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    c.backend = b;
    for (int i = 0; i < RTC_SRTP_MAX_KEY_LEN; i++) c.local_key[i] = c.remote_key[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) c.local_salt[i] = c.remote_salt[i] = (uint8_t)(0x50 + i);
    rtc_srtp_session_t *s = NULL;
    if (rtc_srtp_session_create(&c, &s) != RTC_OK) abort();
    return s;
}

static int unprotect(rtc_srtp_session_t *s, bool rtcp, uint8_t *buf, size_t *len) {
    return rtcp ? rtc_srtp_unprotect_rtcp(s, buf, len) : rtc_srtp_unprotect_rtp(s, buf, len);
}

/* Both unprotect exact-size heap copies (so any read or write past the packet is caught). */
static void both_unprotect(rtc_srtp_session_t *ours, rtc_srtp_session_t *ref, bool rtcp, const uint8_t *p,
                           size_t n) {
    uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
    if (n) {
        memcpy(a, p, n);
        memcpy(b, p, n);
    }
    size_t la = n, lb = n;
    int ra = unprotect(ours, rtcp, a, &la), rb = unprotect(ref, rtcp, b, &lb);
    if (ra != rb) abort();
    if (ra == RTC_OK && (la != lb || la > n || memcmp(a, b, la) != 0)) abort();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    static rtc_srtp_session_t *ours[4], *ref[4];
    if (!quiet) {
        rtc_log_set_level(RTC_LOG_OFF);
        quiet = true;
    }
    if (size < 2 || size > 4096) return 0;
    int pi = data[0] & 3;
    bool rtcp = (data[0] & 4) != 0, protect_first = (data[0] & 8) != 0;
    if (!ours[pi]) {
        ours[pi] = session(profiles[pi], RTC_SRTP_BACKEND_OPENSSL);
        ref[pi] = session(profiles[pi], RTC_SRTP_BACKEND_LIBSRTP);
    }
    const uint8_t *pkt = data + 2;
    size_t n = size - 2;
    uint32_t ssrc = 0;
    if (n >= (rtcp ? 8u : 12u)) ssrc = rtc_be32(pkt + (rtcp ? 4 : 8));

    if (!protect_first) {
        both_unprotect(ours[pi], ref[pi], rtcp, pkt, n);
    } else {
        size_t cap = n + rtc_srtp_overhead(profiles[pi], rtcp);
        uint8_t *a = malloc(cap), *b = malloc(cap);
        if (n) {
            memcpy(a, pkt, n);
            memcpy(b, pkt, n);
        }
        size_t la = n, lb = n;
        int ra = rtcp ? rtc_srtp_protect_rtcp(ours[pi], a, &la, cap) : rtc_srtp_protect_rtp(ours[pi], a, &la, cap);
        int rb = rtcp ? rtc_srtp_protect_rtcp(ref[pi], b, &lb, cap) : rtc_srtp_protect_rtp(ref[pi], b, &lb, cap);
        if (ra != rb) abort();
        if (ra == RTC_OK) {
            if (la != cap || lb != cap || memcmp(a, b, la) != 0) abort();
            if (data[1]) a[data[1] % la] ^= (uint8_t)(1u << (data[1] & 7));
            both_unprotect(ours[pi], ref[pi], rtcp, a, la);
        }
        free(a);
        free(b);
    }
    for (int dir = 0; dir < 2; dir++) {
        int r1 = rtc_srtp_remove_ssrc(ours[pi], ssrc, dir), r2 = rtc_srtp_remove_ssrc(ref[pi], ssrc, dir);
        if (r1 != r2) abort();
    }
    return 0;
}
