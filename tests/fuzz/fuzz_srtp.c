/* libFuzzer target: SRTP and SRTCP unprotect (and the protect-side header checks). The first
 * byte picks the profile (bit 0) and RTP or RTCP (bit 1); the rest is one packet. Keys are
 * fixed, so the seed corpus holds packets that authenticate and reach the decrypt path.
 * Properties: no crash, and a successful unprotect never grows the packet.
 * Sessions are made once (creating one costs milliseconds with libsrtp's NSS backend); the
 * packet's SSRC stream is removed after each input so every run starts from the same state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/srtp.h"

static rtc_srtp_session_t *session(rtc_srtp_profile_t p) {
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    for (int i = 0; i < RTC_SRTP_KEY_LEN; i++) c.local_key[i] = c.remote_key[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) c.local_salt[i] = c.remote_salt[i] = (uint8_t)(0x50 + i);
    rtc_srtp_session_t *s = NULL;
    if (rtc_srtp_session_create(&c, &s) != RTC_OK) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) {
        rtc_log_set_level(RTC_LOG_OFF);
        quiet = true;
    }
    if (size < 1 || size > 4096) return 0;
    rtc_srtp_profile_t p = (data[0] & 1) ? RTC_SRTP_AEAD_AES_128_GCM : RTC_SRTP_AES128_CM_SHA1_80;
    bool rtcp = (data[0] & 2) != 0;
    static rtc_srtp_session_t *sessions[2];
    rtc_srtp_session_t *s = sessions[data[0] & 1];
    if (!s) s = sessions[data[0] & 1] = session(p);
    uint32_t ssrc = 0;
    if (size >= 1 + (rtcp ? 8u : 12u)) ssrc = rtc_be32(data + 1 + (rtcp ? 4 : 8));
    size_t n = size - 1;
    /* An exact-size heap copy, so any read or write past the packet is caught. */
    uint8_t *buf = malloc(n ? n : 1);
    if (n) memcpy(buf, data + 1, n);
    size_t len = n;
    int r = rtcp ? rtc_srtp_unprotect_rtcp(s, buf, &len) : rtc_srtp_unprotect_rtp(s, buf, &len);
    if (r == RTC_OK && len > n) abort();
    free(buf);

    /* Protect treats the same bytes as a plaintext packet, with exactly enough room. */
    size_t cap = n + rtc_srtp_overhead(p, rtcp);
    buf = malloc(cap ? cap : 1);
    if (n) memcpy(buf, data + 1, n);
    len = n;
    r = rtcp ? rtc_srtp_protect_rtcp(s, buf, &len, cap) : rtc_srtp_protect_rtp(s, buf, &len, cap);
    if (r == RTC_OK && len != cap) abort();
    free(buf);
    (void)rtc_srtp_remove_ssrc(s, ssrc, true);
    (void)rtc_srtp_remove_ssrc(s, ssrc, false);
    return 0;
}
