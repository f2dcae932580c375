/* SRTP/SRTCP sessions through the public API, every test on both backends (OpenSSL EVP, the
 * default, and libsrtp2): known-answer packets, round trips, replay and tamper rejection
 * counted in stats, SSRCs appearing on the fly, malformed input, and keys from a real DTLS
 * handshake protecting media end to end. Vectors and the differential test against libsrtp
 * live in test_srtp_evp.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/dtls.h"
#include "rtc/srtp.h"

/* libsrtp's reference packets (test/srtp_driver.c, srtp_validate and srtp_validate_gcm),
 * SSRC 0xcafebabe, seq 0x1234. The AES-CM master key and salt are those of RFC 3711
 * appendix B.3. */
static const uint8_t kat_cm_key[30] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
static const uint8_t kat_gcm_key[28] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                        0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xa0, 0xa1, 0xa2, 0xa3,
                                        0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
static const uint8_t kat_rtp[28] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                    0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t kat_rtcp[24] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe,
                                     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t kat_cm_srtp[38] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
    0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
    0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
static const uint8_t kat_cm_srtcp[38] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
    0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
    0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};
static const uint8_t kat_gcm_srtp[44] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xc5, 0x00, 0x2e,
    0xde, 0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11, 0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97,
    0x68, 0x26, 0xf7, 0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92};
static const uint8_t kat_gcm_srtcp[44] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b, 0x5d, 0xf0, 0x39, 0x2a,
    0x55, 0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e, 0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3,
    0xb4, 0x46, 0xea, 0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01};

static const rtc_srtp_profile_t profiles[2] = {RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AEAD_AES_128_GCM};

/* Every test runs on both backends: loop index i picks profile i % 2 and backend i / 2. */
static rtc_srtp_backend_t backend;
static rtc_srtp_profile_t pick(int i) {
    backend = i / 2 ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL;
    return profiles[i % 2];
}

/* A session that sends with key A and receives with key B, and its mirror. */
static void make_pair(rtc_srtp_profile_t p, rtc_srtp_session_t **alice, rtc_srtp_session_t **bob) {
    rtc_srtp_config_t a, b;
    memset(&a, 0, sizeof a);
    a.profile = p;
    a.backend = backend;
    for (int i = 0; i < RTC_SRTP_KEY_LEN; i++) {
        a.local_key[i] = (uint8_t)(i + 1);
        a.remote_key[i] = (uint8_t)(0x80 + i);
    }
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) {
        a.local_salt[i] = (uint8_t)(0x40 + i);
        a.remote_salt[i] = (uint8_t)(0xc0 + i);
    }
    b = a;
    memcpy(b.local_key, a.remote_key, sizeof b.local_key);
    memcpy(b.local_salt, a.remote_salt, sizeof b.local_salt);
    memcpy(b.remote_key, a.local_key, sizeof b.remote_key);
    memcpy(b.remote_salt, a.local_salt, sizeof b.remote_salt);
    ck_assert_int_eq(rtc_srtp_session_create(&a, alice), RTC_OK);
    ck_assert_int_eq(rtc_srtp_session_create(&b, bob), RTC_OK);
    ck_assert_int_eq(rtc_srtp_session_backend(*alice), backend);
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload) {
    buf[0] = 0x80;
    buf[1] = 111;
    rtc_put_be16(buf + 2, seq);
    rtc_put_be32(buf + 4, 1000u * seq);
    rtc_put_be32(buf + 8, ssrc);
    for (size_t i = 0; i < payload; i++) buf[12 + i] = (uint8_t)(i * 7 + seq);
    return 12 + payload;
}

static size_t make_rtcp_rr(uint8_t *buf, uint32_t ssrc) {
    /* Receiver report with one report block (RFC 3550 6.4.2): 32 bytes. */
    memset(buf, 0, 32);
    buf[0] = 0x81;
    buf[1] = 201;
    rtc_put_be16(buf + 2, 7);
    rtc_put_be32(buf + 4, ssrc);
    rtc_put_be32(buf + 8, 0x11223344);
    buf[12] = 5; /* fraction lost */
    return 32;
}

static rtc_srtp_session_t *kat_session(rtc_srtp_profile_t p, bool receive) {
    const uint8_t *key = p == RTC_SRTP_AEAD_AES_128_GCM ? kat_gcm_key : kat_cm_key;
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    c.backend = backend;
    memcpy(receive ? c.remote_key : c.local_key, key, 16);
    memcpy(receive ? c.remote_salt : c.local_salt, key + 16, rtc_srtp_salt_len(p));
    c.replay_window = 128;
    rtc_srtp_session_t *s = NULL;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_OK);
    return s;
}

START_TEST(protect_matches_libsrtp_reference_packets) {
    rtc_srtp_profile_t p = pick(_i);
    const uint8_t *srtp = p == RTC_SRTP_AEAD_AES_128_GCM ? kat_gcm_srtp : kat_cm_srtp;
    const uint8_t *srtcp = p == RTC_SRTP_AEAD_AES_128_GCM ? kat_gcm_srtcp : kat_cm_srtcp;
    size_t srtp_len = 28 + rtc_srtp_overhead(p, false), srtcp_len = 24 + rtc_srtp_overhead(p, true);
    ck_assert_uint_eq(srtp_len, p == RTC_SRTP_AEAD_AES_128_GCM ? 44 : 38);
    ck_assert_uint_eq(srtcp_len, p == RTC_SRTP_AEAD_AES_128_GCM ? 44 : 38);

    rtc_srtp_session_t *tx = kat_session(p, false);
    uint8_t buf[64];
    size_t len = sizeof kat_rtp;
    memcpy(buf, kat_rtp, len);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
    ck_assert_uint_eq(len, srtp_len);
    ck_assert_mem_eq(buf, srtp, srtp_len);
    len = sizeof kat_rtcp;
    memcpy(buf, kat_rtcp, len);
    ck_assert_int_eq(rtc_srtp_protect_rtcp(tx, buf, &len, sizeof buf), RTC_OK);
    ck_assert_uint_eq(len, srtcp_len);
    ck_assert_mem_eq(buf, srtcp, srtcp_len);
    rtc_srtp_session_destroy(tx);

    rtc_srtp_session_t *rx = kat_session(p, true);
    memcpy(buf, srtp, srtp_len);
    len = srtp_len;
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, buf, &len), RTC_OK);
    ck_assert_uint_eq(len, sizeof kat_rtp);
    ck_assert_mem_eq(buf, kat_rtp, len);
    memcpy(buf, srtcp, srtcp_len);
    len = srtcp_len;
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(rx, buf, &len), RTC_OK);
    ck_assert_uint_eq(len, sizeof kat_rtcp);
    ck_assert_mem_eq(buf, kat_rtcp, len);
    rtc_srtp_session_destroy(rx);
}
END_TEST

START_TEST(rtp_round_trip_in_place_with_exact_buffer) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    size_t sizes[] = {0, 1, 160, 1200};
    for (int k = 0; k < 4; k++) {
        for (uint16_t seq = 100; seq < 110; seq++) {
            uint8_t ref[1300];
            size_t n = make_rtp(ref, seq, 0x1234, sizes[k]);
            size_t cap = n + rtc_srtp_overhead(p, false);
            uint8_t *buf = malloc(cap); /* exact size: ASan catches any write past the tag */
            memcpy(buf, ref, n);
            size_t len = n;
            ck_assert_int_eq(rtc_srtp_protect_rtp(a, buf, &len, cap), RTC_OK);
            ck_assert_uint_eq(len, cap);
            if (sizes[k] >= 16) ck_assert(memcmp(buf + 12, ref + 12, 16) != 0); /* encrypted */
            ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, buf, &len), RTC_OK);
            ck_assert_uint_eq(len, n);
            ck_assert_mem_eq(buf, ref, n);
            free(buf);
        }
        /* Each payload size is a new SSRC so sequence numbers stay increasing per stream. */
        rtc_srtp_session_destroy(a);
        rtc_srtp_session_destroy(b);
        make_pair(p, &a, &b);
    }
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(b, &st);
    ck_assert_uint_eq(st.auth_failures, 0);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(both_directions_use_their_own_keys) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    uint8_t buf[256];
    size_t len = make_rtp(buf, 1, 42, 100);
    ck_assert_int_eq(rtc_srtp_protect_rtp(b, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(a, buf, &len), RTC_OK);
    /* A packet a protected for b cannot be accepted by a itself (different key). */
    len = make_rtp(buf, 2, 42, 100);
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(a, buf, &len), RTC_ERR_INTEGRITY);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(replayed_rtp_and_rtcp_are_rejected_and_counted) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    uint8_t pkt[256], copy[256];
    size_t len = make_rtp(pkt, 500, 7, 50);
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_OK);
    memcpy(copy, pkt, len);
    size_t l2 = len;
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, copy, &l2), RTC_ERR_REPLAY);

    /* Protecting the same sequence number twice is refused too (no keystream reuse). */
    len = make_rtp(pkt, 500, 7, 50);
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_ERR_REPLAY);

    /* Older than the window (1024 by default): still rejected as a replay. */
    for (uint16_t s = 501; s < 501 + 1100; s++) {
        len = make_rtp(pkt, s, 7, 10);
        ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_OK);
        if (s == 520) {
            memcpy(copy, pkt, len);
            l2 = len;
        } else {
            ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_OK);
        }
    }
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, copy, &l2), RTC_ERR_REPLAY);

    len = make_rtcp_rr(pkt, 7);
    ck_assert_int_eq(rtc_srtp_protect_rtcp(a, pkt, &len, sizeof pkt), RTC_OK);
    memcpy(copy, pkt, len);
    l2 = len;
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(b, pkt, &len), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(b, copy, &l2), RTC_ERR_REPLAY);

    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(b, &st);
    ck_assert_uint_eq(st.replays, 3);
    ck_assert_uint_eq(st.rtcp_unprotected, 1);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(tampered_packets_are_rejected_counted_and_not_fatal) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    uint8_t pkt[256];
    /* Flip one bit in the header, the payload, and the tag: each must fail. */
    size_t where[3] = {1, 20, 0};
    for (int k = 0; k < 3; k++) {
        size_t len = make_rtp(pkt, (uint16_t)(10 + k), 99, 40);
        ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_OK);
        size_t at = where[k] ? where[k] : len - 1;
        pkt[at] ^= 0x04;
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_ERR_INTEGRITY);
    }
    /* The failed packets did not advance the replay window: the stream still works. */
    size_t len = make_rtp(pkt, 11, 99, 40);
    uint8_t ref[256];
    memcpy(ref, pkt, len);
    size_t n = len;
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_ERR_REPLAY); /* seq 11 used */
    len = make_rtp(pkt, 13, 99, 40);
    memcpy(ref, pkt, len);
    n = len;
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_OK);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(pkt, ref, n);

    len = make_rtcp_rr(pkt, 99);
    ck_assert_int_eq(rtc_srtp_protect_rtcp(a, pkt, &len, sizeof pkt), RTC_OK);
    pkt[10] ^= 0x80;
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(b, pkt, &len), RTC_ERR_INTEGRITY);

    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(b, &st);
    ck_assert_uint_eq(st.auth_failures, 4);
    ck_assert_uint_eq(st.rtp_unprotected, 1);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(rtcp_round_trip_compound) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    for (int k = 0; k < 50; k++) {
        uint8_t pkt[128], ref[128];
        size_t len = make_rtcp_rr(pkt, 0xabcdef00u + (uint32_t)(k % 3));
        /* Append an SDES-like second packet to make it compound. */
        pkt[len] = 0x81;
        pkt[len + 1] = 202;
        rtc_put_be16(pkt + len + 2, 1);
        rtc_put_be32(pkt + len + 4, 0x55667788);
        len += 8;
        memcpy(ref, pkt, len);
        size_t n = len;
        ck_assert_int_eq(rtc_srtp_protect_rtcp(a, pkt, &len, n + rtc_srtp_overhead(p, true)), RTC_OK);
        ck_assert_uint_eq(len, n + rtc_srtp_overhead(p, true));
        ck_assert_int_eq(rtc_srtp_unprotect_rtcp(b, pkt, &len), RTC_OK);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(pkt, ref, n);
    }
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(a, &st);
    ck_assert_uint_eq(st.rtcp_protected, 50);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(new_ssrcs_are_accepted_as_they_appear) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    /* Interleave 20 SSRCs, each with its own sequence space starting anywhere. */
    for (int round = 0; round < 5; round++) {
        for (uint32_t s = 0; s < 20; s++) {
            uint8_t pkt[200];
            size_t len = make_rtp(pkt, (uint16_t)(s * 3000 + round), 0x10000 + s, 60);
            ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_OK);
            ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_OK);
        }
    }
    ck_assert_int_eq(rtc_srtp_remove_ssrc(b, 0x10005, true), RTC_OK);
    ck_assert_int_eq(rtc_srtp_remove_ssrc(b, 0x10005, true), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_srtp_remove_ssrc(a, 0x10005, false), RTC_OK);
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(b, &st);
    ck_assert_uint_eq(st.rtp_unprotected, 100);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(malformed_and_short_packets_are_refused) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_srtp_session_t *a, *b;
    make_pair(p, &a, &b);
    uint8_t pkt[300];
    memset(pkt, 0, sizeof pkt);
    size_t len;
    for (size_t n = 0; n < 12 + rtc_srtp_overhead(p, false); n++) {
        len = n;
        pkt[0] = 0x80;
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_ERR_MALFORMED);
    }
    len = make_rtp(pkt, 1, 1, 20);
    pkt[0] = 0x40; /* version 1 */
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_ERR_MALFORMED);
    /* CSRC count and an extension header claiming more than the packet holds. */
    len = make_rtp(pkt, 1, 1, 20);
    pkt[0] = 0x8f;
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, sizeof pkt), RTC_ERR_MALFORMED);
    len = make_rtp(pkt, 1, 1, 40);
    pkt[0] = 0x90;
    rtc_put_be16(pkt + 14, 0xffff);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(b, pkt, &len), RTC_ERR_MALFORMED);
    /* No room for the tag. */
    len = make_rtp(pkt, 1, 1, 20);
    ck_assert_int_eq(rtc_srtp_protect_rtp(a, pkt, &len, len + rtc_srtp_overhead(p, false) - 1),
                     RTC_ERR_OVERFLOW);
    len = make_rtcp_rr(pkt, 1);
    ck_assert_int_eq(rtc_srtp_protect_rtcp(a, pkt, &len, len + rtc_srtp_overhead(p, true) - 1),
                     RTC_ERR_OVERFLOW);
    len = 10;
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(b, pkt, &len), RTC_ERR_MALFORMED);
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(b, &st);
    ck_assert_uint_ge(st.malformed, 12 + rtc_srtp_overhead(p, false) + 2);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(NULL, pkt, &len), RTC_ERR_INVALID_ARG);
    rtc_srtp_session_destroy(a);
    rtc_srtp_session_destroy(b);
}
END_TEST

START_TEST(bad_configs_are_refused) {
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    rtc_srtp_session_t *s = NULL;
    c.profile = (rtc_srtp_profile_t)3;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_ERR_INVALID_ARG);
    c.profile = RTC_SRTP_AEAD_AES_128_GCM;
    c.replay_window = 10;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(rtc_srtp_init(), RTC_OK);
    ck_assert_int_eq(rtc_srtp_init(), RTC_OK);
    ck_assert_uint_eq(rtc_srtp_overhead(RTC_SRTP_AES128_CM_SHA1_80, false), 10);
    ck_assert_uint_eq(rtc_srtp_overhead(RTC_SRTP_AEAD_AES_128_GCM, true), 20);
    ck_assert_uint_eq(rtc_srtp_overhead(RTC_SRTP_AES128_CM_SHA1_32, false), 4);
    ck_assert_uint_eq(rtc_srtp_overhead(RTC_SRTP_AES128_CM_SHA1_32, true), 14);
    ck_assert_uint_eq(rtc_srtp_key_len(RTC_SRTP_AEAD_AES_256_GCM), 32);
    ck_assert_uint_eq(rtc_srtp_salt_len(RTC_SRTP_AEAD_AES_256_GCM), 12);
    /* MKI is refused by name, an unknown backend as a bad argument. */
    c.replay_window = 0;
    c.mki_len = 4;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_ERR_UNSUPPORTED);
    c.mki_len = 0;
    c.backend = (rtc_srtp_backend_t)9;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    /* The default is the OpenSSL backend (unless RTC_SRTP_BACKEND says otherwise). */
    c.backend = RTC_SRTP_BACKEND_DEFAULT;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_OK);
    const char *env = getenv("RTC_SRTP_BACKEND");
    ck_assert_int_eq(rtc_srtp_session_backend(s),
                     env && !strcmp(env, "libsrtp") ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL);
    ck_assert_str_eq(rtc_srtp_backend_name(RTC_SRTP_BACKEND_OPENSSL), "openssl");
    rtc_srtp_session_destroy(s);
}
END_TEST

/* ---- keys from a real DTLS handshake ------------------------------------------------------ */

static void pump(rtc_dtls_t *from, rtc_dtls_t *to, rtc_time_t now) {
    uint8_t buf[2048];
    int n;
    while ((n = rtc_dtls_poll_transmit(from, buf, sizeof buf)) > 0)
        rtc_dtls_handle_datagram(to, buf, (size_t)n, now);
}

static void srtp_config_from_dtls(const rtc_dtls_srtp_keys_t *k, rtc_srtp_config_t *c) {
    memset(c, 0, sizeof *c);
    c->profile = (rtc_srtp_profile_t)k->profile;
    c->backend = backend;
    memcpy(c->local_key, k->local_key, k->key_len);
    memcpy(c->local_salt, k->local_salt, k->salt_len);
    memcpy(c->remote_key, k->remote_key, k->key_len);
    memcpy(c->remote_salt, k->remote_salt, k->salt_len);
}

START_TEST(keys_from_dtls_handshake_protect_media_end_to_end) {
    rtc_srtp_profile_t p = pick(_i);
    rtc_dtls_cert_t *ca, *cb;
    ck_assert_int_eq(rtc_dtls_cert_generate("alice", 0, &ca), RTC_OK);
    ck_assert_int_eq(rtc_dtls_cert_generate("bob", 0, &cb), RTC_OK);
    rtc_dtls_config_t c1, c2;
    rtc_dtls_config_init(&c1);
    rtc_dtls_config_init(&c2);
    c1.cert = ca;
    c1.role = RTC_DTLS_ROLE_CLIENT;
    c1.srtp_profiles[0] = (uint16_t)p;
    c1.n_srtp_profiles = 1;
    ck_assert_int_eq(rtc_dtls_cert_fingerprint(cb, RTC_DIGEST_SHA256, &c1.remote_fingerprints[0]), 0);
    c1.n_remote_fingerprints = 1;
    c2.cert = cb;
    c2.role = RTC_DTLS_ROLE_SERVER;
    ck_assert_int_eq(rtc_dtls_cert_fingerprint(ca, RTC_DIGEST_SHA256, &c2.remote_fingerprints[0]), 0);
    c2.n_remote_fingerprints = 1;
    rtc_dtls_t *cli, *srv;
    ck_assert_int_eq(rtc_dtls_create(&c1, &cli), RTC_OK);
    ck_assert_int_eq(rtc_dtls_create(&c2, &srv), RTC_OK);
    ck_assert_int_eq(rtc_dtls_start(cli, 0), RTC_OK);
    ck_assert_int_eq(rtc_dtls_start(srv, 0), RTC_OK);
    for (int i = 0; i < 10; i++) {
        pump(cli, srv, 0);
        pump(srv, cli, 0);
    }
    ck_assert_int_eq(rtc_dtls_state(cli), RTC_DTLS_STATE_CONNECTED);
    ck_assert_int_eq(rtc_dtls_state(srv), RTC_DTLS_STATE_CONNECTED);

    rtc_dtls_srtp_keys_t kc, ks;
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(cli, &kc), RTC_OK);
    ck_assert_int_eq(rtc_dtls_get_srtp_keys(srv, &ks), RTC_OK);
    ck_assert_uint_eq(kc.profile, (uint16_t)p);
    rtc_srtp_config_t sc, ss;
    srtp_config_from_dtls(&kc, &sc);
    srtp_config_from_dtls(&ks, &ss);
    rtc_srtp_session_t *s_cli, *s_srv;
    ck_assert_int_eq(rtc_srtp_session_create(&sc, &s_cli), RTC_OK);
    ck_assert_int_eq(rtc_srtp_session_create(&ss, &s_srv), RTC_OK);

    for (uint16_t seq = 0; seq < 100; seq++) {
        uint8_t pkt[1400], ref[1400];
        size_t len = make_rtp(pkt, seq, 0xc11e, 1200), n = len;
        memcpy(ref, pkt, len);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s_cli, pkt, &len, sizeof pkt), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s_srv, pkt, &len), RTC_OK);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(pkt, ref, n);
        len = make_rtp(pkt, seq, 0x5e7e, 160);
        n = len;
        memcpy(ref, pkt, len);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s_srv, pkt, &len, sizeof pkt), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s_cli, pkt, &len), RTC_OK);
        ck_assert_mem_eq(pkt, ref, n);
        len = make_rtcp_rr(pkt, 0x5e7e);
        ck_assert_int_eq(rtc_srtp_protect_rtcp(s_srv, pkt, &len, sizeof pkt), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtcp(s_cli, pkt, &len), RTC_OK);
    }
    /* A session keyed from a different handshake cannot read this one's packets. */
    rtc_srtp_config_t wrong = ss;
    wrong.remote_key[0] ^= 1;
    rtc_srtp_session_t *s_wrong;
    ck_assert_int_eq(rtc_srtp_session_create(&wrong, &s_wrong), RTC_OK);
    uint8_t pkt[300];
    size_t len = make_rtp(pkt, 100, 0xc11e, 100);
    ck_assert_int_eq(rtc_srtp_protect_rtp(s_cli, pkt, &len, sizeof pkt), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(s_wrong, pkt, &len), RTC_ERR_INTEGRITY);

    rtc_srtp_session_destroy(s_wrong);
    rtc_srtp_session_destroy(s_cli);
    rtc_srtp_session_destroy(s_srv);
    rtc_dtls_destroy(cli);
    rtc_dtls_destroy(srv);
    rtc_dtls_cert_unref(ca);
    rtc_dtls_cert_unref(cb);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    Suite *s = suite_create("srtp");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, protect_matches_libsrtp_reference_packets, 0, 4);
    tcase_add_loop_test(tc, rtp_round_trip_in_place_with_exact_buffer, 0, 4);
    tcase_add_loop_test(tc, both_directions_use_their_own_keys, 0, 4);
    tcase_add_loop_test(tc, replayed_rtp_and_rtcp_are_rejected_and_counted, 0, 4);
    tcase_add_loop_test(tc, tampered_packets_are_rejected_counted_and_not_fatal, 0, 4);
    tcase_add_loop_test(tc, rtcp_round_trip_compound, 0, 4);
    tcase_add_loop_test(tc, new_ssrcs_are_accepted_as_they_appear, 0, 4);
    tcase_add_loop_test(tc, malformed_and_short_packets_are_refused, 0, 4);
    tcase_add_test(tc, bad_configs_are_refused);
    tcase_add_loop_test(tc, keys_from_dtls_handshake_protect_media_end_to_end, 0, 4);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
