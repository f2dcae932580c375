/* Internal to libwebrtc/src/srtp: the session front (srtp.c) and its two backends, the
 * OpenSSL EVP one (evp.c, transforms in xform.c, per-SSRC state in streams.c) and the
 * libsrtp2 one (libsrtp.c). Unit tests include this for the known-answer vectors that need
 * session keys or packet indexes set directly. */
#ifndef RTC_SRTP_INTERNAL_H
#define RTC_SRTP_INTERNAL_H

#include "rtc/srtp.h"

/* ---- the front: validation, counting and logging happen here, once for both backends ---- */

struct rtc_srtp_session {
    rtc_srtp_profile_t profile;
    rtc_srtp_backend_t backend;
    size_t rtp_overhead, rtcp_overhead;
    rtc_srtp_stats_t stats;
    bool warned_auth, warned_replay, warned_limit;
    void *impl; /* evp_session_t or libsrtp_session_t */
};

/* Each backend returns RTC_OK, RTC_ERR_INTEGRITY, RTC_ERR_REPLAY, RTC_ERR_MALFORMED,
 * RTC_ERR_LIMIT or RTC_ERR_CRYPTO and logs nothing per packet; the front maps, counts and
 * logs. Lengths and headers were checked by the front: for RTP, hdr_len is the length of the
 * fixed header, CSRCs and extension, and it fits before the tag. Protect gets a buffer with
 * room for the overhead. */
int rtc_srtp__libsrtp_init(void);
int rtc_srtp__libsrtp_create(const rtc_srtp_config_t *cfg, uint32_t window, void **out);
void rtc_srtp__libsrtp_destroy(void *impl);
int rtc_srtp__libsrtp_protect_rtp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__libsrtp_unprotect_rtp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__libsrtp_protect_rtcp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__libsrtp_unprotect_rtcp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__libsrtp_remove_ssrc(void *impl, uint32_t ssrc, bool inbound);

int rtc_srtp__evp_init(void);
int rtc_srtp__evp_create(const rtc_srtp_config_t *cfg, uint32_t window, void **out);
void rtc_srtp__evp_destroy(void *impl);
int rtc_srtp__evp_protect_rtp(void *impl, uint8_t *buf, size_t hdr_len, size_t *len);
int rtc_srtp__evp_unprotect_rtp(void *impl, uint8_t *buf, size_t hdr_len, size_t *len);
int rtc_srtp__evp_protect_rtcp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__evp_unprotect_rtcp(void *impl, uint8_t *buf, size_t *len);
int rtc_srtp__evp_remove_ssrc(void *impl, uint32_t ssrc, bool inbound);

/* ---- EVP transforms (xform.c): one keyed cipher (+ MAC) for one kind of packet (SRTP or
 * SRTCP) in one direction. Created once per session; each packet only resets the IV. ---- */

typedef struct rtc_srtp_xform rtc_srtp_xform_t;

/* RFC 3711 section 4.3.1 / 4.3.3 key derivation with key derivation rate 0: the AES-CM PRF
 * (AES-128 or AES-256 by key_len) keyed with the master key, input block
 * (master_salt XOR label << 48) * 2^16, truncated to out_len bytes. A master salt shorter
 * than 14 bytes (GCM's 12) is padded with zeros, as RFC 7714 section 11 and libsrtp do.
 * RTC_ERR_INVALID_ARG for a bad length, RTC_ERR_CRYPTO if OpenSSL fails. */
enum {
    RTC_SRTP_LABEL_RTP_ENC = 0,
    RTC_SRTP_LABEL_RTP_AUTH = 1,
    RTC_SRTP_LABEL_RTP_SALT = 2,
    RTC_SRTP_LABEL_RTCP_ENC = 3,
    RTC_SRTP_LABEL_RTCP_AUTH = 4,
    RTC_SRTP_LABEL_RTCP_SALT = 5,
};
int rtc_srtp__kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
                  size_t salt_len, uint8_t label, uint8_t *out, size_t out_len);

/* A transform keyed with session keys directly (what the KDF produced, or an RFC's vector):
 * key (16 or 32 bytes), salt (14 for CM, 12 for GCM), auth_key (20 bytes, CM only). rtcp
 * picks the SRTCP tag length; encrypt picks protect (true) or unprotect. NULL on failure. */
rtc_srtp_xform_t *rtc_srtp__xform_new(rtc_srtp_profile_t profile, bool rtcp, bool encrypt,
                                      const uint8_t *key, const uint8_t *salt,
                                      const uint8_t *auth_key);
/* The same from master keys, through the KDF with the SRTP or SRTCP labels. */
rtc_srtp_xform_t *rtc_srtp__xform_derive(rtc_srtp_profile_t profile, bool rtcp, bool encrypt,
                                         const uint8_t *master_key, const uint8_t *master_salt);
void rtc_srtp__xform_free(rtc_srtp_xform_t *x);
size_t rtc_srtp__xform_tag_len(const rtc_srtp_xform_t *x);

/* SRTP with packet index roc << 16 | seq. Protect encrypts buf[hdr_len, len) in place and
 * appends the tag (buf must have room); returns the new length, 0 if OpenSSL failed.
 * Unprotect takes the whole SRTP packet (tag included), checks the tag in constant time and
 * decrypts; RTC_OK (plaintext is len - tag_len bytes), RTC_ERR_INTEGRITY or RTC_ERR_CRYPTO. */
size_t rtc_srtp__xform_rtp_protect(rtc_srtp_xform_t *x, uint8_t *buf, size_t hdr_len, size_t len,
                                   uint32_t ssrc, uint32_t roc, uint16_t seq);
int rtc_srtp__xform_rtp_unprotect(rtc_srtp_xform_t *x, uint8_t *buf, size_t hdr_len, size_t len,
                                  uint32_t ssrc, uint32_t roc, uint16_t seq);
/* SRTCP: protect encrypts buf[8, len), adds the E flag with the 31-bit index and the tag in
 * the profile's order; returns the new length, 0 if OpenSSL failed. Unprotect takes the whole
 * SRTCP packet and the E flag + index word already read from it (rtc_srtp__rtcp_trailer);
 * RTC_OK (plaintext is len - tag_len - 4 bytes), RTC_ERR_INTEGRITY or RTC_ERR_CRYPTO. */
size_t rtc_srtp__xform_rtcp_protect(rtc_srtp_xform_t *x, uint8_t *buf, size_t len, uint32_t ssrc,
                                    uint32_t index);
int rtc_srtp__xform_rtcp_unprotect(rtc_srtp_xform_t *x, uint8_t *buf, size_t len, uint32_t ssrc,
                                   uint32_t e_index);
/* The E flag + SRTCP index word of a received SRTCP packet of len bytes (len must be at least
 * 8 + 4 + tag_len): after the tag for GCM, before it for CM. */
uint32_t rtc_srtp__rtcp_trailer(const rtc_srtp_xform_t *x, const uint8_t *buf, size_t len);

/* ---- per-SSRC state (streams.c) ---- */

/* Replay and rollover state of one SSRC in one direction, mirroring libsrtp 2's rdbx (SRTP:
 * 48-bit index, window of `window` packets ending at the highest index seen) and rdb
 * (SRTCP: 128 indexes from window_start) so that both backends accept exactly the same
 * packets. The SRTP window is a ring of bits indexed by packet index mod ring_bits (a power
 * of two >= window), so moving forward clears a few bits instead of shifting the window. */
typedef struct {
    uint32_t ssrc;
    uint64_t index;             /* SRTP: ROC << 16 | SEQ of the highest packet accepted */
    uint32_t rtcp_window_start; /* SRTCP: receive window start, or the last index sent */
    uint64_t rtcp_bits[2];      /* SRTCP: bit i = window_start + i seen */
    uint64_t ring[];            /* SRTP: ring_bits / 64 words */
} rtc_srtp_stream_t;

typedef struct {
    rtc_srtp_stream_t **slots; /* open addressing, linear probing, NULL = empty */
    uint32_t cap;              /* power of two, 0 before the first SSRC */
    uint32_t count, max;
    uint32_t window;           /* SRTP replay window, a multiple of 32 */
    uint32_t ring_bits;        /* power of two >= window */
    rtc_srtp_stream_t *last;   /* the SSRC of the previous packet: the common case */
} rtc_srtp_streams_t;

void rtc_srtp__streams_init(rtc_srtp_streams_t *t, uint32_t window, uint32_t max);
void rtc_srtp__streams_free(rtc_srtp_streams_t *t);
rtc_srtp_stream_t *rtc_srtp__streams_find(rtc_srtp_streams_t *t, uint32_t ssrc);
/* A fresh stream for ssrc (not present); NULL with RTC_ERR_LIMIT or RTC_ERR_NOMEM in *err. */
rtc_srtp_stream_t *rtc_srtp__streams_add(rtc_srtp_streams_t *t, uint32_t ssrc, int *err);
/* RTC_OK or RTC_ERR_NOT_FOUND. */
int rtc_srtp__streams_remove(rtc_srtp_streams_t *t, uint32_t ssrc);

/* SRTP index estimation (RFC 3711 section 3.3.1 as libsrtp's srtp_rdbx_estimate_index does
 * it): the guessed 48-bit index of seq, and its distance from the stream's highest index.
 * A NULL stream is a new one (index 0). */
int32_t rtc_srtp__rtp_estimate(const rtc_srtp_stream_t *st, uint16_t seq, uint64_t *guess);
/* RTC_OK if the packet delta away from the highest index may be accepted, RTC_ERR_REPLAY if
 * it was seen or is older than the window. */
int rtc_srtp__rtp_replay_check(const rtc_srtp_streams_t *t, const rtc_srtp_stream_t *st,
                               int32_t delta);
/* Records the packet (after it authenticated). */
void rtc_srtp__rtp_replay_add(const rtc_srtp_streams_t *t, rtc_srtp_stream_t *st, int32_t delta);
int rtc_srtp__rtcp_replay_check(const rtc_srtp_stream_t *st, uint32_t index);
void rtc_srtp__rtcp_replay_add(rtc_srtp_stream_t *st, uint32_t index);

#endif /* RTC_SRTP_INTERNAL_H */
