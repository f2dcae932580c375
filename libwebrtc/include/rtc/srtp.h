/*
 * rtc/srtp.h — SRTP and SRTCP (RFC 3711, AEAD GCM per RFC 7714) for one DTLS-SRTP
 * association, on libsrtp2.
 *
 * A session holds both directions: what we send is protected with the local key, what we
 * receive is checked with the remote key. Any SSRC is accepted in either direction (libsrtp's
 * ssrc_any_outbound / ssrc_any_inbound wildcards); a stream for a new SSRC is created the
 * first time a packet for it protects or authenticates. Replay protection is on for both
 * SRTP and SRTCP. Packets are processed in place for speed.
 *
 * Failures on receive (bad tag, replay, truncated packet) are ordinary events on the
 * Internet, not errors of the session: they return a negative code, are counted in the
 * stats, and leave the session working for every other packet.
 *
 * A session is not thread-safe; use it from one thread at a time. Different sessions may be
 * used concurrently.
 */
#ifndef RTC_SRTP_H
#define RTC_SRTP_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IANA DTLS-SRTP protection profile numbers (the same as RTC_DTLS_SRTP_* in rtc/dtls.h). */
typedef enum {
    RTC_SRTP_AES128_CM_SHA1_80 = 0x0001, /* AES-128 counter mode, HMAC-SHA1 80-bit tag */
    RTC_SRTP_AEAD_AES_128_GCM = 0x0007,  /* AES-128-GCM, 16-byte tag (RFC 7714) */
} rtc_srtp_profile_t;

#define RTC_SRTP_KEY_LEN 16
#define RTC_SRTP_MAX_SALT_LEN 14
/* Most bytes protect can add to a packet (SRTCP with GCM: 16-byte tag + 4-byte index). */
#define RTC_SRTP_MAX_OVERHEAD 20

typedef struct {
    rtc_srtp_profile_t profile;
    uint8_t local_key[RTC_SRTP_KEY_LEN];        /* protects what we send */
    uint8_t local_salt[RTC_SRTP_MAX_SALT_LEN];  /* 14 bytes for CM, first 12 used for GCM */
    uint8_t remote_key[RTC_SRTP_KEY_LEN];       /* authenticates what we receive */
    uint8_t remote_salt[RTC_SRTP_MAX_SALT_LEN];
    uint32_t replay_window;  /* SRTP replay window in packets, 64..32767; 0 = 1024 */
    bool allow_repeat_tx;    /* allow protecting the same RTP sequence number twice */
} rtc_srtp_config_t;

typedef struct rtc_srtp_session rtc_srtp_session_t;

typedef struct {
    uint64_t rtp_protected, rtp_unprotected;
    uint64_t rtcp_protected, rtcp_unprotected;
    uint64_t auth_failures;  /* tag did not verify (tampered, wrong key, or garbage) */
    uint64_t replays;        /* replayed or older than the replay window */
    uint64_t malformed;      /* too short or not RTP/RTCP */
    uint64_t other_errors;   /* anything else libsrtp refused */
} rtc_srtp_stats_t;

/* Initialises libsrtp once per process; safe to call from any thread, any number of times
 * (rtc_srtp_session_create calls it). Returns RTC_OK or RTC_ERR_CRYPTO. */
int rtc_srtp_init(void);

/* Creates a session. RTC_ERR_INVALID_ARG for an unknown profile or a bad replay window,
 * RTC_ERR_CRYPTO if libsrtp refuses. The keys are copied (the caller may wipe its copy). */
int rtc_srtp_session_create(const rtc_srtp_config_t *cfg, rtc_srtp_session_t **out);
void rtc_srtp_session_destroy(rtc_srtp_session_t *s);
rtc_srtp_profile_t rtc_srtp_session_profile(const rtc_srtp_session_t *s);

/* Bytes protect adds: the tag for RTP, tag + 4 (E flag and index) for RTCP. 0 for an unknown
 * profile. */
size_t rtc_srtp_overhead(rtc_srtp_profile_t profile, bool rtcp);
/* Salt length for a profile (14 or 12), 0 if unknown. */
size_t rtc_srtp_salt_len(rtc_srtp_profile_t profile);

/* Protects the RTP packet in buf[0..*len) in place; on success *len grows by the overhead.
 * cap is the size of buf and must leave room for rtc_srtp_overhead(). RTC_ERR_MALFORMED if
 * it is not an RTP packet (version 2, header fits), RTC_ERR_OVERFLOW if cap is too small,
 * RTC_ERR_REPLAY if the sequence number was already protected (unless allow_repeat_tx). */
int rtc_srtp_protect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);
/* Verifies and decrypts the SRTP packet in place; on success *len shrinks to the RTP packet.
 * RTC_ERR_INTEGRITY (bad tag), RTC_ERR_REPLAY, RTC_ERR_MALFORMED — all counted; on any
 * error the buffer contents are unspecified and the packet must be dropped. */
int rtc_srtp_unprotect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len);
/* The same for RTCP (compound packets are protected as a whole). */
int rtc_srtp_protect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);
int rtc_srtp_unprotect_rtcp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len);

/* Forgets the stream state of an SSRC (e.g. when a track ends) so its memory is freed; a
 * later packet with that SSRC starts a new stream. inbound picks the receive direction.
 * RTC_ERR_NOT_FOUND if there is no such stream. */
int rtc_srtp_remove_ssrc(rtc_srtp_session_t *s, uint32_t ssrc, bool inbound);

void rtc_srtp_get_stats(const rtc_srtp_session_t *s, rtc_srtp_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif /* RTC_SRTP_H */
