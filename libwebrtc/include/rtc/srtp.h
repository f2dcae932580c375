/*
 * rtc/srtp.h — SRTP and SRTCP (RFC 3711, AEAD GCM per RFC 7714) for one DTLS-SRTP
 * association.
 *
 * Two backends sit behind this one API (rtc_srtp_backend_t): our own implementation on
 * OpenSSL 3 EVP (the default: several times faster per packet) and Debian's libsrtp2 (kept
 * selectable, and used by the tests as the reference the EVP backend must match byte for
 * byte). Both behave the same: same bytes on the wire, same error codes, same replay rules.
 *
 * A session holds both directions: what we send is protected with the local key, what we
 * receive is checked with the remote key. Any SSRC is accepted in either direction; the state
 * of a new SSRC (rollover counter, replay window, SRTCP index) is created the first time a
 * packet for it protects or authenticates, up to max_ssrcs per direction. Replay protection
 * is on for both SRTP and SRTCP; the replay window only moves for packets that authenticate.
 * Packets are processed in place for speed; the EVP backend allocates nothing per packet
 * (only when a new SSRC appears).
 *
 * Failures on receive (bad tag, replay, truncated packet) are ordinary events on the
 * Internet, not errors of the session: they return a negative code, are counted in the
 * stats, and leave the session working for every other packet.
 *
 * Threads: a session belongs to one thread at a time (the SFU worker that owns the room); it
 * has no locks. Different sessions may be used concurrently from different threads: the only
 * process-wide state (libsrtp's init, the fetched OpenSSL algorithms) is set up once under
 * pthread_once and read-only after.
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
    RTC_SRTP_AES128_CM_SHA1_32 = 0x0002, /* the same with a 32-bit SRTP tag (SRTCP keeps 80) */
    RTC_SRTP_AEAD_AES_128_GCM = 0x0007,  /* AES-128-GCM, 16-byte tag (RFC 7714) */
    RTC_SRTP_AEAD_AES_256_GCM = 0x0008,  /* AES-256-GCM, 16-byte tag (RFC 7714) */
} rtc_srtp_profile_t;

/* Which implementation does the work. DEFAULT is OPENSSL unless the environment variable
 * RTC_SRTP_BACKEND=libsrtp was set when the process first created a session (a switch for
 * A/B comparisons without a rebuild). */
typedef enum {
    RTC_SRTP_BACKEND_DEFAULT = 0,
    RTC_SRTP_BACKEND_OPENSSL = 1, /* libwebrtc/src/srtp/evp.c on OpenSSL 3 EVP */
    RTC_SRTP_BACKEND_LIBSRTP = 2, /* libsrtp2 (Debian's is built on NSS) */
} rtc_srtp_backend_t;

#define RTC_SRTP_KEY_LEN 16     /* master key of the AES-128 profiles */
#define RTC_SRTP_MAX_KEY_LEN 32 /* AEAD_AES_256_GCM */
#define RTC_SRTP_MAX_SALT_LEN 14
/* Most bytes protect can add to a packet (SRTCP with GCM: 16-byte tag + 4-byte index). */
#define RTC_SRTP_MAX_OVERHEAD 20
#define RTC_SRTP_DEFAULT_MAX_SSRCS 1024

typedef struct {
    rtc_srtp_profile_t profile;
    uint8_t local_key[RTC_SRTP_MAX_KEY_LEN];    /* protects what we send; rtc_srtp_key_len() used */
    uint8_t local_salt[RTC_SRTP_MAX_SALT_LEN];  /* 14 bytes for CM, first 12 used for GCM */
    uint8_t remote_key[RTC_SRTP_MAX_KEY_LEN];   /* authenticates what we receive */
    uint8_t remote_salt[RTC_SRTP_MAX_SALT_LEN];
    uint32_t replay_window;  /* SRTP replay window in packets, 64..32767; 0 = 1024. Like
                              * libsrtp, rounded up to a multiple of 32. */
    bool allow_repeat_tx;    /* allow protecting the same RTP sequence number twice */
    rtc_srtp_backend_t backend;
    uint32_t max_ssrcs;      /* SSRCs tracked per direction; 0 = RTC_SRTP_DEFAULT_MAX_SSRCS.
                              * A packet for one more is refused with RTC_ERR_LIMIT (EVP
                              * backend; libsrtp has no bound). */
    size_t mki_len;          /* must be 0: MKI (RFC 3711 section 3.1) is not supported */
} rtc_srtp_config_t;

typedef struct rtc_srtp_session rtc_srtp_session_t;

typedef struct {
    uint64_t rtp_protected, rtp_unprotected;
    uint64_t rtcp_protected, rtcp_unprotected;
    uint64_t auth_failures;  /* tag did not verify (tampered, wrong key, or garbage) */
    uint64_t replays;        /* replayed or older than the replay window */
    uint64_t malformed;      /* too short or not RTP/RTCP */
    uint64_t other_errors;   /* anything else the backend refused */
    uint64_t ssrc_limit;     /* dropped: a new SSRC past max_ssrcs */
} rtc_srtp_stats_t;

/* Initialises both backends once per process (fetches the OpenSSL ciphers, runs srtp_init,
 * reads RTC_SRTP_BACKEND); safe to call from any thread, any number of times
 * (rtc_srtp_session_create calls it). Returns RTC_OK or RTC_ERR_CRYPTO. */
int rtc_srtp_init(void);

/* Creates a session. RTC_ERR_INVALID_ARG for an unknown profile or backend or a bad replay
 * window, RTC_ERR_UNSUPPORTED for an MKI, RTC_ERR_CRYPTO if the crypto library refuses. The
 * keys are copied (the caller may wipe its copy); session keys are derived here (RFC 3711
 * section 4.3, key derivation rate 0), so per-packet work is cipher and MAC only. */
int rtc_srtp_session_create(const rtc_srtp_config_t *cfg, rtc_srtp_session_t **out);
/* Frees the session and wipes its keys. NULL is ignored. */
void rtc_srtp_session_destroy(rtc_srtp_session_t *s);
rtc_srtp_profile_t rtc_srtp_session_profile(const rtc_srtp_session_t *s);
/* The backend actually in use (never DEFAULT). */
rtc_srtp_backend_t rtc_srtp_session_backend(const rtc_srtp_session_t *s);
/* "openssl" / "libsrtp" / "default"; "?" for anything else. */
const char *rtc_srtp_backend_name(rtc_srtp_backend_t b);

/* Bytes protect adds: the tag for RTP, tag + 4 (E flag and index) for RTCP (whose tag is
 * 80 bits for both CM profiles). 0 for an unknown profile. */
size_t rtc_srtp_overhead(rtc_srtp_profile_t profile, bool rtcp);
/* Salt length for a profile (14 or 12), 0 if unknown. */
size_t rtc_srtp_salt_len(rtc_srtp_profile_t profile);
/* Master key length for a profile (16 or 32), 0 if unknown. */
size_t rtc_srtp_key_len(rtc_srtp_profile_t profile);

/* Protects the RTP packet in buf[0..*len) in place; on success *len grows by the overhead.
 * cap is the size of buf and must leave room for rtc_srtp_overhead(). RTC_ERR_MALFORMED if
 * it is not an RTP packet (version 2, header fits), RTC_ERR_OVERFLOW if cap is too small,
 * RTC_ERR_REPLAY if the sequence number was already protected (unless allow_repeat_tx) or is
 * older than the replay window, RTC_ERR_LIMIT for a new SSRC past max_ssrcs. On any error
 * the buffer is left untouched. */
int rtc_srtp_protect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);
/* Verifies and decrypts the SRTP packet in place; on success *len shrinks to the RTP packet.
 * RTC_ERR_INTEGRITY (bad tag), RTC_ERR_REPLAY, RTC_ERR_MALFORMED, RTC_ERR_LIMIT (an
 * authentic packet of a new SSRC past max_ssrcs) — all counted; on any error the buffer
 * contents are unspecified and the packet must be dropped. The rollover counter is guessed
 * from the sequence number as RFC 3711 section 3.3.1 and libsrtp do, so reordering across a
 * 65535 -> 0 wrap is handled. */
int rtc_srtp_unprotect_rtp(rtc_srtp_session_t *s, uint8_t *buf, size_t *len);
/* The same for RTCP (compound packets are protected as a whole, with the E flag set and a
 * per-SSRC 31-bit SRTCP index; RTC_ERR_LIMIT once that index is exhausted). A packet sent
 * without encryption (E flag clear) is accepted with the GCM profiles and refused with
 * RTC_ERR_CRYPTO (counted in other_errors) with the CM profiles: libsrtp 2's rules. */
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
