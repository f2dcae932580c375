/* The OpenSSL EVP SRTP backend against the RFCs and against libsrtp2.
 *
 *  - Known answers: RFC 3711 appendix B.2 (AES-CM keystream, IV layout) and B.3 (key
 *    derivation), RFC 7714 sections 16.1/16.2 (GCM SRTP) and 17.1/17.2 (GCM SRTCP); libsrtp's
 *    own reference packets are in test_srtp.c, run on both backends.
 *  - Differential: thousands of random RTP/RTCP packets (sizes 12..1400, CSRCs, extensions,
 *    padding, sequence wraps, reordering, duplicates, tampering, late packets, SSRCs coming
 *    and going), all four profiles, protected by both backends (the bytes must be identical)
 *    and unprotected by both (same result code, same bytes, same stats).
 *  - Rollover, replay window and SSRC-table edge cases, and no allocation per packet. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "rtc/srtp.h"
#include "srtp/srtp_internal.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (const char *p = h; *p;) {
        if (*p == ' ' || *p == '\n') {
            p++;
            continue;
        }
        unsigned v;
        ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
        ck_assert_uint_lt(n, cap);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* ---- RFC 3711 appendix B ------------------------------------------------------------------ */

START_TEST(rfc3711_b3_key_derivation) {
    uint8_t mk[16], ms[14], want[94], got[94];
    unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof mk);
    unhex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof ms);
    unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof want);
    ck_assert_int_eq(rtc_srtp__kdf(mk, 16, ms, 14, RTC_SRTP_LABEL_RTP_ENC, got, 16), RTC_OK);
    ck_assert_mem_eq(got, want, 16);
    unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof want);
    ck_assert_int_eq(rtc_srtp__kdf(mk, 16, ms, 14, RTC_SRTP_LABEL_RTP_SALT, got, 14), RTC_OK);
    ck_assert_mem_eq(got, want, 14);
    /* The appendix derives a 94-byte auth key (six AES blocks, the last one cut). */
    size_t n = unhex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                     "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
                     "6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
                     want, sizeof want);
    ck_assert_uint_eq(n, 94);
    ck_assert_int_eq(rtc_srtp__kdf(mk, 16, ms, 14, RTC_SRTP_LABEL_RTP_AUTH, got, 94), RTC_OK);
    ck_assert_mem_eq(got, want, 94);
    /* Bad lengths are refused. */
    ck_assert_int_eq(rtc_srtp__kdf(mk, 24, ms, 14, 0, got, 16), RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(rtc_srtp__kdf(mk, 16, ms, 15, 0, got, 16), RTC_ERR_INVALID_ARG);
}
END_TEST

START_TEST(rfc3711_b2_aes_cm_keystream_through_the_srtp_transform) {
    /* Session key and salt of B.2; SSRC, ROC and SEQ zero, so the IV is the salt << 16 and
     * encrypting zeros yields the keystream. The segment is 65282 blocks long: its tail
     * (counter 0xFEFF..0xFF01) checks the 16-bit counter carries into the salt bytes. */
    uint8_t key[16], salt[14], auth[20] = {0}, want[48];
    unhex("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof key);
    unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt, sizeof salt);
    rtc_srtp_xform_t *x = rtc_srtp__xform_new(RTC_SRTP_AES128_CM_SHA1_80, false, true, key, salt, auth);
    ck_assert_ptr_nonnull(x);
    size_t seg = 65282 * 16, len = 12 + seg;
    uint8_t *buf = calloc(1, len + 10);
    buf[0] = 0x80;
    ck_assert_uint_eq(rtc_srtp__xform_rtp_protect(x, buf, 12, len, 0, 0, 0), len + 10);
    unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"
          "41E95B3BB0A2E8DD477901E4FCA894C0", want, sizeof want);
    ck_assert_mem_eq(buf + 12, want, 48);
    unhex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE"
          "6A2CC3787889374FBEB4C81B17BA6C44", want, sizeof want);
    ck_assert_mem_eq(buf + 12 + seg - 48, want, 48);
    free(buf);
    rtc_srtp__xform_free(x);
}
END_TEST

/* ---- RFC 7714 sections 16 and 17 ----------------------------------------------------------- */

/* Session key (not a master key: the vectors skip the KDF) and salt "Quid pro quo". */
static const char *rfc7714_key[2] = {"000102030405060708090a0b0c0d0e0f",
                                     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"};
static const char *rfc7714_salt = "517569642070726f2071756f";
static const char *rfc7714_rtp = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976"
                                 "69736120 696e2070 61727465 73207472 6573";
static const char *rfc7714_srtp[2] = {
    /* 16.1.1 AEAD_AES_128_GCM */
    "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a"
    "51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce",
    /* 16.2.1 AEAD_AES_256_GCM */
    "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3 b50b2a02"
    "76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13"};
static const char *rfc7714_rtcp = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930"
                                  "4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
static const char *rfc7714_srtcp[2] = {
    /* 17.1.1, SRTCP index 0x5d4 */
    "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda"
    "4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4",
    /* 17.2.1 */
    "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50 a2eaa5c1 110555be"
    "8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4"};

START_TEST(rfc7714_gcm_srtp_and_srtcp_vectors) {
    static const rtc_srtp_profile_t prof[2] = {RTC_SRTP_AEAD_AES_128_GCM, RTC_SRTP_AEAD_AES_256_GCM};
    uint8_t key[32], salt[12], plain[128], want[128], buf[128];
    size_t kl = unhex(rfc7714_key[_i], key, sizeof key);
    ck_assert_uint_eq(kl, rtc_srtp_key_len(prof[_i]));
    unhex(rfc7714_salt, salt, sizeof salt);

    /* SRTP: ROC 0, SEQ 0xf17b, SSRC 0x5501a0b2. */
    size_t pn = unhex(rfc7714_rtp, plain, sizeof plain), wn = unhex(rfc7714_srtp[_i], want, sizeof want);
    ck_assert_uint_eq(wn, pn + 16);
    rtc_srtp_xform_t *tx = rtc_srtp__xform_new(prof[_i], false, true, key, salt, NULL);
    rtc_srtp_xform_t *rx = rtc_srtp__xform_new(prof[_i], false, false, key, salt, NULL);
    memcpy(buf, plain, pn);
    ck_assert_uint_eq(rtc_srtp__xform_rtp_protect(tx, buf, 12, pn, 0x5501a0b2, 0, 0xf17b), wn);
    ck_assert_mem_eq(buf, want, wn);
    ck_assert_int_eq(rtc_srtp__xform_rtp_unprotect(rx, buf, 12, wn, 0x5501a0b2, 0, 0xf17b), RTC_OK);
    ck_assert_mem_eq(buf, plain, pn);
    /* A wrong ROC is a different IV: the tag no longer verifies. */
    memcpy(buf, want, wn);
    ck_assert_int_eq(rtc_srtp__xform_rtp_unprotect(rx, buf, 12, wn, 0x5501a0b2, 1, 0xf17b), RTC_ERR_INTEGRITY);
    rtc_srtp__xform_free(tx);
    rtc_srtp__xform_free(rx);

    /* SRTCP: SSRC "Mars", index 0x5d4, E flag set. */
    pn = unhex(rfc7714_rtcp, plain, sizeof plain);
    wn = unhex(rfc7714_srtcp[_i], want, sizeof want);
    ck_assert_uint_eq(wn, pn + 20);
    tx = rtc_srtp__xform_new(prof[_i], true, true, key, salt, NULL);
    rx = rtc_srtp__xform_new(prof[_i], true, false, key, salt, NULL);
    memcpy(buf, plain, pn);
    ck_assert_uint_eq(rtc_srtp__xform_rtcp_protect(tx, buf, pn, 0x4d617273, 0x5d4), wn);
    ck_assert_mem_eq(buf, want, wn);
    ck_assert_uint_eq(rtc_srtp__rtcp_trailer(rx, buf, wn), 0x800005d4u);
    ck_assert_int_eq(rtc_srtp__xform_rtcp_unprotect(rx, buf, wn, 0x4d617273, 0x800005d4u), RTC_OK);
    ck_assert_mem_eq(buf, plain, pn);
    memcpy(buf, want, wn);
    buf[wn - 5] ^= 1; /* last tag byte */
    ck_assert_int_eq(rtc_srtp__xform_rtcp_unprotect(rx, buf, wn, 0x4d617273, 0x800005d4u), RTC_ERR_INTEGRITY);
    rtc_srtp__xform_free(tx);
    rtc_srtp__xform_free(rx);
}
END_TEST

/* ---- rollover counter, replay windows and the SSRC table ----------------------------------- */

START_TEST(roc_estimation_follows_rfc3711_and_libsrtp) {
    rtc_srtp_stream_t st;
    memset(&st, 0, sizeof st);
    uint64_t g;
    /* A young stream (index <= 2^15) takes the sequence number as the index. */
    st.index = 100;
    ck_assert_int_eq(rtc_srtp__rtp_estimate(&st, 65500, &g), 65400);
    ck_assert_uint_eq(g, 65500);
    ck_assert_int_eq(rtc_srtp__rtp_estimate(NULL, 7, &g), 7);
    /* Forward across the wrap: ROC + 1. */
    st.index = 65530;
    ck_assert_int_eq(rtc_srtp__rtp_estimate(&st, 3, &g), 9);
    ck_assert_uint_eq(g, (1ull << 16) | 3);
    /* Late packet from before the wrap: ROC - 1, negative distance. */
    st.index = (5ull << 16) | 4;
    ck_assert_int_eq(rtc_srtp__rtp_estimate(&st, 65534, &g), -6);
    ck_assert_uint_eq(g, (4ull << 16) | 65534);
    /* Half a cycle either way stays in the same ROC. */
    st.index = (5ull << 16) | 40000;
    ck_assert_int_eq(rtc_srtp__rtp_estimate(&st, 7233, &g), 7233 - 40000);
    ck_assert_uint_eq(g >> 16, 5);
    ck_assert_int_eq(rtc_srtp__rtp_estimate(&st, 7231, &g), 7231 - 40000 + 65536);
    ck_assert_uint_eq(g >> 16, 6);
}
END_TEST

START_TEST(replay_window_edges) {
    rtc_srtp_streams_t t;
    rtc_srtp__streams_init(&t, 100, 4); /* rounded up to 128, like libsrtp */
    ck_assert_uint_eq(t.window, 128);
    int err = 0;
    rtc_srtp_stream_t *st = rtc_srtp__streams_add(&t, 1, &err);
    ck_assert_ptr_nonnull(st);
    uint64_t g;
    int32_t d = rtc_srtp__rtp_estimate(st, 1000, &g);
    ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, d), RTC_OK);
    rtc_srtp__rtp_replay_add(&t, st, d);
    ck_assert_uint_eq(st->index, 1000);
    ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, 0), RTC_ERR_REPLAY);     /* 1000 again */
    ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, -127), RTC_OK);          /* 873: in window */
    ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, -128), RTC_ERR_REPLAY);  /* 872: too old */
    rtc_srtp__rtp_replay_add(&t, st, -127);
    ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, -127), RTC_ERR_REPLAY);
    /* Moving forward clears the bits the window moves over (the ring is reused). */
    for (int k = 0; k < 5; k++) {
        d = rtc_srtp__rtp_estimate(st, (uint16_t)(1000 + 128 * (k + 1)), &g);
        ck_assert_int_eq(d, 128);
        rtc_srtp__rtp_replay_add(&t, st, d);
        for (int back = 1; back < 128; back++)
            ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, -back), RTC_OK);
        ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, 0), RTC_ERR_REPLAY);
    }
    /* A jump past the whole ring clears everything. */
    d = rtc_srtp__rtp_estimate(st, 20000, &g);
    rtc_srtp__rtp_replay_add(&t, st, d);
    for (int back = 1; back < 128; back++) ck_assert_int_eq(rtc_srtp__rtp_replay_check(&t, st, -back), RTC_OK);

    /* SRTCP: 128 indexes from window_start. */
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 1), RTC_OK);
    rtc_srtp__rtcp_replay_add(st, 1);
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 1), RTC_ERR_REPLAY);
    rtc_srtp__rtcp_replay_add(st, 300);
    ck_assert_uint_eq(st->rtcp_window_start, 300 - 127);
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 172), RTC_ERR_REPLAY); /* before the window */
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 173), RTC_OK);
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 300), RTC_ERR_REPLAY);
    rtc_srtp__rtcp_replay_add(st, 250);
    rtc_srtp__rtcp_replay_add(st, 365); /* shift by 65: bit 250 moves across a word */
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 250), RTC_ERR_REPLAY);
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 300), RTC_ERR_REPLAY);
    ck_assert_int_eq(rtc_srtp__rtcp_replay_check(st, 301), RTC_OK);
    rtc_srtp__streams_free(&t);
}
END_TEST

START_TEST(ssrc_table_add_find_remove_and_bound) {
    rtc_srtp_streams_t t;
    rtc_srtp__streams_init(&t, 1024, 1000);
    int err = 0;
    /* Consecutive SSRCs and SSRCs colliding modulo small powers of two. */
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t ssrc = i < 500 ? 0x1000 + i : i << 20;
        ck_assert_ptr_null(rtc_srtp__streams_find(&t, ssrc));
        rtc_srtp_stream_t *st = rtc_srtp__streams_add(&t, ssrc, &err);
        ck_assert_ptr_nonnull(st);
        st->index = ssrc;
    }
    ck_assert_ptr_null(rtc_srtp__streams_add(&t, 0xdead, &err));
    ck_assert_int_eq(err, RTC_ERR_LIMIT);
    /* Remove every third, then every entry must still be found (or not) correctly. */
    for (uint32_t i = 0; i < 1000; i += 3)
        ck_assert_int_eq(rtc_srtp__streams_remove(&t, i < 500 ? 0x1000 + i : i << 20), RTC_OK);
    ck_assert_int_eq(rtc_srtp__streams_remove(&t, 0x1000), RTC_ERR_NOT_FOUND);
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t ssrc = i < 500 ? 0x1000 + i : i << 20;
        rtc_srtp_stream_t *st = rtc_srtp__streams_find(&t, ssrc);
        if (i % 3 == 0) ck_assert_ptr_null(st);
        else {
            ck_assert_ptr_nonnull(st);
            ck_assert_uint_eq(st->index, ssrc);
        }
    }
    ck_assert_ptr_nonnull(rtc_srtp__streams_add(&t, 0xdead, &err));
    rtc_srtp__streams_free(&t);
}
END_TEST

/* ---- sessions through the public API ------------------------------------------------------- */

static const rtc_srtp_profile_t all_profiles[4] = {RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AES128_CM_SHA1_32,
                                                   RTC_SRTP_AEAD_AES_128_GCM, RTC_SRTP_AEAD_AES_256_GCM};

static uint64_t rng_state;
static uint32_t rnd(void) {
    /* xorshift64*: deterministic, so a failure reproduces with the seed printed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

/* A config whose local and remote keys are the same, so one session's sender feeds its own
 * (and the other backend's) receiver. */
static rtc_srtp_config_t random_config(rtc_srtp_profile_t p, rtc_srtp_backend_t b) {
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    c.backend = b;
    for (int i = 0; i < RTC_SRTP_MAX_KEY_LEN; i++) c.local_key[i] = c.remote_key[i] = (uint8_t)rnd();
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) c.local_salt[i] = c.remote_salt[i] = (uint8_t)rnd();
    return c;
}

static rtc_srtp_session_t *make(const rtc_srtp_config_t *c) {
    rtc_srtp_session_t *s = NULL;
    ck_assert_int_eq(rtc_srtp_session_create(c, &s), RTC_OK);
    return s;
}

static size_t rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t payload) {
    b[0] = 0x80;
    b[1] = 96;
    rtc_put_be16(b + 2, seq);
    rtc_put_be32(b + 4, seq * 960u);
    rtc_put_be32(b + 8, ssrc);
    for (size_t i = 0; i < payload; i++) b[12 + i] = (uint8_t)(i ^ seq);
    return 12 + payload;
}

START_TEST(reordering_across_the_wrap_is_accepted_once) {
    rtc_srtp_profile_t p = all_profiles[_i % 4];
    rtc_srtp_backend_t b = _i / 4 ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL;
    rng_state = 0x5eed0001;
    rtc_srtp_config_t c = random_config(p, b);
    rtc_srtp_session_t *s = make(&c);
    /* 65528 .. 65535, 0 .. 7, sent in order, ROC 0 then 1; and 40000 packets later a second
     * wrap (ROC 1 -> 2) to prove the counter keeps counting. */
    uint8_t pkts[16][64], ref[16][64];
    size_t lens[16];
    for (int k = 0; k < 16; k++) {
        lens[k] = rtp(pkts[k], (uint16_t)(65528 + k), 0xabc, 20);
        memcpy(ref[k], pkts[k], lens[k]);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s, pkts[k], &lens[k], sizeof pkts[k]), RTC_OK);
    }
    /* Delivered shuffled across the wrap: after-wrap packets first, then the ones before. */
    static const int order[16] = {0, 9, 1, 8, 10, 2, 3, 15, 7, 4, 11, 6, 5, 12, 14, 13};
    for (int k = 0; k < 16; k++) {
        uint8_t buf[64];
        size_t len = lens[order[k]];
        memcpy(buf, pkts[order[k]], len);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_OK);
        ck_assert_uint_eq(len, 32);
        ck_assert_mem_eq(buf, ref[order[k]], len);
    }
    for (int k = 0; k < 16; k++) { /* each only once */
        uint8_t buf[64];
        size_t len = lens[k];
        memcpy(buf, pkts[k], len);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_ERR_REPLAY);
    }
    /* The same packet number with ROC 0 and with ROC 1 are different packets: a packet from
     * the next cycle decrypts only with the right ROC. */
    for (uint32_t seq = 8; seq < 8 + 3 * 65536u; seq += 1000) {
        uint8_t buf[64], want[64];
        size_t len = rtp(buf, (uint16_t)seq, 0xabc, 20);
        memcpy(want, buf, len);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s, buf, &len, sizeof buf), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_OK);
        ck_assert_mem_eq(buf, want, 32);
    }
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(s, &st);
    ck_assert_uint_eq(st.replays, 16);
    rtc_srtp_session_destroy(s);
}
END_TEST

START_TEST(window_moves_only_for_authentic_packets) {
    rtc_srtp_profile_t p = all_profiles[_i % 4];
    rtc_srtp_backend_t b = _i / 4 ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL;
    rng_state = 0x5eed0002;
    rtc_srtp_config_t c = random_config(p, b);
    c.replay_window = 64;
    rtc_srtp_session_t *rx = make(&c), *tx = make(&c);
    uint8_t buf[128], keep[128], early[128];
    size_t len, klen, elen;
    /* Protected in this order by the sender: 100, 4936, 5000, 101, 4937. */
    len = rtp(buf, 100, 9, 30);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, buf, &len), RTC_OK);
    elen = rtp(early, 4936, 9, 30);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, early, &elen, sizeof early), RTC_OK);
    /* A forged packet far ahead must not move the window: 5000 tampered is refused, then an
     * older in-window packet (101) and the real 5000 still pass. */
    len = rtp(buf, 5000, 9, 30);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
    memcpy(keep, buf, len);
    klen = len;
    buf[len - 1] ^= 0x20;
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, buf, &len), RTC_ERR_INTEGRITY);
    /* The sender's own window is at 5000 now: 101 is too old for it to protect again. */
    len = rtp(buf, 101, 9, 30);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_ERR_REPLAY);
    rtc_srtp_session_t *tx2 = make(&c); /* a second sender with the same key (e.g. a restart) */
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx2, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, buf, &len), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, keep, &klen), RTC_OK);
    /* At 5000 with a 64-packet window: 4937 is the oldest acceptable, 4936 too old. */
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, early, &elen), RTC_ERR_REPLAY);
    len = rtp(buf, 4937, 9, 30);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(rx, buf, &len), RTC_OK);
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(rx, &st);
    ck_assert_uint_eq(st.auth_failures, 1);
    ck_assert_uint_eq(st.replays, 1);
    ck_assert_uint_eq(st.rtp_unprotected, 4);
    rtc_srtp_session_destroy(rx);
    rtc_srtp_session_destroy(tx);
    rtc_srtp_session_destroy(tx2);
}
END_TEST

START_TEST(srtcp_index_and_e_flag_per_ssrc) {
    rtc_srtp_profile_t p = all_profiles[_i % 4];
    rtc_srtp_backend_t b = _i / 4 ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL;
    rng_state = 0x5eed0003;
    rtc_srtp_config_t c = random_config(p, b);
    rtc_srtp_session_t *s = make(&c);
    bool gcm = p == RTC_SRTP_AEAD_AES_128_GCM || p == RTC_SRTP_AEAD_AES_256_GCM;
    size_t tag = rtc_srtp_overhead(p, true) - 4;
    ck_assert_uint_eq(tag, gcm ? 16 : 10);
    for (uint32_t k = 1; k <= 5; k++) {
        for (uint32_t ssrc = 1; ssrc <= 2; ssrc++) {
            if (ssrc == 2 && k > 3) continue;
            uint8_t buf[64] = {0x80, 200, 0, 6};
            rtc_put_be32(buf + 4, ssrc);
            size_t len = 28;
            ck_assert_int_eq(rtc_srtp_protect_rtcp(s, buf, &len, sizeof buf), RTC_OK);
            ck_assert_uint_eq(len, 28 + tag + 4);
            /* E flag set, index counting 1, 2, ... per SSRC, placed per profile. */
            ck_assert_uint_eq(rtc_be32(buf + (gcm ? len - 4 : 28)), 0x80000000u | k);
            ck_assert_int_eq(rtc_srtp_unprotect_rtcp(s, buf, &len), RTC_OK);
            ck_assert_uint_eq(len, 28);
        }
    }
    rtc_srtp_session_destroy(s);
}
END_TEST

START_TEST(unencrypted_srtcp_from_libsrtp_follows_libsrtp_rules) {
    /* A real libsrtp sender configured for authenticated-only SRTCP (E flag clear): libsrtp 2
     * accepts that with GCM and refuses it with CM; both backends must do the same. */
    static const rtc_srtp_profile_t prof[2] = {RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AEAD_AES_128_GCM};
    rtc_srtp_profile_t p = prof[_i % 2];
    rtc_srtp_backend_t b = _i / 2 ? RTC_SRTP_BACKEND_LIBSRTP : RTC_SRTP_BACKEND_OPENSSL;
    rng_state = 0x5eed0004;
    rtc_srtp_config_t c = random_config(p, b);
    ck_assert_int_eq(rtc_srtp_init(), RTC_OK);
    uint8_t master[30];
    memcpy(master, c.local_key, 16);
    memcpy(master + 16, c.local_salt, 14);
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    if (p == RTC_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    }
    pol.rtcp.sec_serv = sec_serv_auth;
    pol.ssrc.type = ssrc_any_outbound;
    pol.key = master;
    pol.window_size = 1024;
    srtp_t tx;
    ck_assert_int_eq(srtp_create(&tx, &pol), srtp_err_status_ok);
    rtc_srtp_session_t *s = make(&c);
    uint8_t buf[64] = {0x81, 201, 0, 7};
    rtc_put_be32(buf + 4, 0x1234);
    for (int i = 8; i < 32; i++) buf[i] = (uint8_t)i;
    uint8_t plain[32];
    memcpy(plain, buf, 32);
    int l = 32;
    ck_assert_int_eq(srtp_protect_rtcp(tx, buf, &l), srtp_err_status_ok);
    ck_assert_mem_eq(buf + 8, plain + 8, 24); /* sent in the clear */
    size_t len = (size_t)l;
    int r = rtc_srtp_unprotect_rtcp(s, buf, &len);
    if (p == RTC_SRTP_AEAD_AES_128_GCM) {
        ck_assert_int_eq(r, RTC_OK);
        ck_assert_uint_eq(len, 32);
        ck_assert_mem_eq(buf, plain, 32);
        /* ... and the trailer is authenticated: flipping it in a fresh packet fails. */
        memcpy(buf, plain, 32);
        l = 32;
        ck_assert_int_eq(srtp_protect_rtcp(tx, buf, &l), srtp_err_status_ok);
        buf[l - 1] ^= 0x40;
        len = (size_t)l;
        ck_assert_int_eq(rtc_srtp_unprotect_rtcp(s, buf, &len), RTC_ERR_INTEGRITY);
    } else {
        ck_assert_int_eq(r, RTC_ERR_CRYPTO);
        rtc_srtp_stats_t st;
        rtc_srtp_get_stats(s, &st);
        ck_assert_uint_eq(st.other_errors, 1);
    }
    srtp_dealloc(tx);
    rtc_srtp_session_destroy(s);
}
END_TEST

START_TEST(ssrc_bound_is_a_clean_counted_error) {
    rng_state = 0x5eed0005;
    rtc_srtp_config_t c = random_config(RTC_SRTP_AEAD_AES_128_GCM, RTC_SRTP_BACKEND_OPENSSL);
    c.max_ssrcs = 4;
    rtc_srtp_session_t *s = make(&c);
    rtc_srtp_config_t big = c;
    big.max_ssrcs = 0;
    rtc_srtp_session_t *tx = make(&big); /* a sender without the small bound */
    uint8_t buf[128], copy[128];
    size_t len;
    for (uint32_t ssrc = 1; ssrc <= 4; ssrc++) {
        len = rtp(buf, 1, ssrc, 40);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s, buf, &len, sizeof buf), RTC_OK);
    }
    /* Fifth SSRC on send: refused, buffer untouched. */
    len = rtp(buf, 1, 5, 40);
    memcpy(copy, buf, len);
    ck_assert_int_eq(rtc_srtp_protect_rtp(s, buf, &len, sizeof buf), RTC_ERR_LIMIT);
    ck_assert_uint_eq(len, 52);
    ck_assert_mem_eq(buf, copy, len);
    /* Receive: four SSRCs fill the table; an authentic fifth is refused and counted, a forged
     * one is still an integrity failure. */
    for (uint32_t ssrc = 11; ssrc <= 15; ssrc++) {
        len = rtp(buf, 1, ssrc, 40);
        ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
        memcpy(copy, buf, len);
        size_t l2 = len;
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), ssrc <= 14 ? RTC_OK : RTC_ERR_LIMIT);
        if (ssrc == 15) {
            copy[20] ^= 1;
            ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, copy, &l2), RTC_ERR_INTEGRITY);
        }
    }
    /* RTCP of a new SSRC counts against the same table. */
    uint8_t r[64] = {0x80, 200, 0, 6};
    rtc_put_be32(r + 4, 16);
    len = 28;
    ck_assert_int_eq(rtc_srtp_protect_rtcp(tx, r, &len, sizeof r), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtcp(s, r, &len), RTC_ERR_LIMIT);
    /* Forgetting one SSRC makes room. */
    ck_assert_int_eq(rtc_srtp_remove_ssrc(s, 12, true), RTC_OK);
    len = rtp(buf, 2, 15, 40);
    ck_assert_int_eq(rtc_srtp_protect_rtp(tx, buf, &len, sizeof buf), RTC_OK);
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_OK);
    rtc_srtp_stats_t st;
    rtc_srtp_get_stats(s, &st);
    ck_assert_uint_eq(st.ssrc_limit, 2);
    ck_assert_uint_eq(st.auth_failures, 1);
    ck_assert_uint_eq(st.rtp_unprotected, 5);
    rtc_srtp_session_destroy(s);
    rtc_srtp_session_destroy(tx);
}
END_TEST

/* OpenSSL allocations, counted through CRYPTO_set_mem_functions (installed first in main). */
static unsigned long ossl_allocs;
static void *count_malloc(size_t n, const char *f, int l) {
    (void)f;
    (void)l;
    ossl_allocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, const char *f, int l) {
    (void)f;
    (void)l;
    ossl_allocs++;
    return realloc(p, n);
}
static void count_free(void *p, const char *f, int l) {
    (void)f;
    (void)l;
    free(p);
}

START_TEST(steady_state_packets_allocate_nothing_in_openssl) {
    rtc_srtp_profile_t p = all_profiles[_i];
    rng_state = 0x5eed0006;
    rtc_srtp_config_t c = random_config(p, RTC_SRTP_BACKEND_OPENSSL);
    rtc_srtp_session_t *s = make(&c);
    uint8_t buf[1300];
    size_t len = rtp(buf, 0, 77, 1200);
    ck_assert_int_eq(rtc_srtp_protect_rtp(s, buf, &len, sizeof buf), RTC_OK); /* creates the SSRC */
    ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_OK);
    unsigned long before = ossl_allocs;
    for (uint16_t seq = 1; seq < 2000; seq++) {
        len = rtp(buf, seq, 77, seq % 1200);
        ck_assert_int_eq(rtc_srtp_protect_rtp(s, buf, &len, sizeof buf), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtp(s, buf, &len), RTC_OK);
        uint8_t r[64] = {0x80, 200, 0, 6};
        rtc_put_be32(r + 4, 77);
        len = 28;
        ck_assert_int_eq(rtc_srtp_protect_rtcp(s, r, &len, sizeof r), RTC_OK);
        ck_assert_int_eq(rtc_srtp_unprotect_rtcp(s, r, &len), RTC_OK);
    }
    ck_assert_uint_eq(ossl_allocs - before, 0);
    rtc_srtp_session_destroy(s);
}
END_TEST

/* ---- differential test against libsrtp ----------------------------------------------------- */

#define MAX_PKT 1500
#define N_SENDERS 6
#define QUEUE 64

typedef struct {
    uint8_t b[MAX_PKT];
    size_t len;
    uint8_t plain[MAX_PKT];
    size_t plain_len;
    bool rtcp;
} item_t;

typedef struct {
    uint32_t ssrc;
    uint16_t seq;
    bool live;
} sender_t;

typedef struct {
    unsigned ok, replay, integrity, malformed, other, wraps, tx_refused, late, rtcp_ok;
} tally_t;

static size_t random_rtp(uint8_t *b, sender_t *sd, size_t max) {
    size_t cc = below(4) == 0 ? below(16) : below(3);
    bool ext = below(3) == 0;
    size_t ext_words = ext ? below(12) : 0;
    size_t hdr = 12 + 4 * cc + (ext ? 4 + 4 * ext_words : 0);
    if (max < hdr) max = hdr;
    size_t total = hdr + below((uint32_t)(max - hdr + 1));
    if (below(8) == 0) total = hdr; /* no payload at all */
    bool pad = total > hdr && below(5) == 0;
    b[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | cc);
    b[1] = (uint8_t)((below(2) ? 0x80 : 0) | (96 + below(32)));
    rtc_put_be16(b + 2, sd->seq);
    rtc_put_be32(b + 4, rnd());
    rtc_put_be32(b + 8, sd->ssrc);
    for (size_t i = 12; i < total; i++) b[i] = (uint8_t)rnd();
    if (ext) {
        rtc_put_be16(b + 12 + 4 * cc, below(2) ? 0xbede : 0x1000);
        rtc_put_be16(b + 12 + 4 * cc + 2, (uint16_t)ext_words);
    }
    if (pad) b[total - 1] = (uint8_t)(1 + below((uint32_t)(total - hdr)));
    return total;
}

static size_t random_rtcp(uint8_t *b, uint32_t ssrc, size_t max) {
    /* A compound of 1..4 packets with consistent length fields, first one SR or RR. */
    size_t total = 0;
    int parts = 1 + (int)below(4);
    for (int k = 0; k < parts; k++) {
        size_t room = max - total;
        if (room < 8) break;
        size_t words = 1 + below((uint32_t)((room / 4 - 1) < 60 ? room / 4 - 1 : 60));
        uint8_t *p = b + total;
        p[0] = (uint8_t)(0x80 | below(32));
        p[1] = k == 0 ? (uint8_t)(200 + below(2)) : (uint8_t)(200 + below(7));
        rtc_put_be16(p + 2, (uint16_t)words);
        rtc_put_be32(p + 4, k == 0 ? ssrc : rnd());
        for (size_t i = 8; i < 4 * (words + 1); i++) p[i] = (uint8_t)rnd();
        total += 4 * (words + 1);
    }
    return total;
}

/* Feeds the same received bytes to both receivers: same code, same bytes. */
static int both_unprotect(rtc_srtp_session_t *ours, rtc_srtp_session_t *ref, const uint8_t *pkt, size_t n,
                          bool rtcp, uint8_t *out, size_t *out_len) {
    static uint8_t a[MAX_PKT + 64], b[MAX_PKT + 64];
    memcpy(a, pkt, n);
    memcpy(b, pkt, n);
    size_t la = n, lb = n;
    int ra = rtcp ? rtc_srtp_unprotect_rtcp(ours, a, &la) : rtc_srtp_unprotect_rtp(ours, a, &la);
    int rb = rtcp ? rtc_srtp_unprotect_rtcp(ref, b, &lb) : rtc_srtp_unprotect_rtp(ref, b, &lb);
    ck_assert_msg(ra == rb, "unprotect %s of %zu bytes: openssl %d, libsrtp %d", rtcp ? "rtcp" : "rtp", n, ra, rb);
    if (ra == RTC_OK) {
        ck_assert_uint_eq(la, lb);
        ck_assert_mem_eq(a, b, la);
        if (out) {
            memcpy(out, a, la);
            *out_len = la;
        }
    }
    return ra;
}

static void count(tally_t *t, int r) {
    switch (r) {
    case RTC_OK: t->ok++; break;
    case RTC_ERR_REPLAY: t->replay++; break;
    case RTC_ERR_INTEGRITY: t->integrity++; break;
    case RTC_ERR_MALFORMED: t->malformed++; break;
    default: t->other++; break;
    }
}

START_TEST(differential_random_traffic_matches_libsrtp_byte_for_byte) {
    rtc_srtp_profile_t p = all_profiles[_i];
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(_i + 1) * 0x100000001b3ull;
    uint64_t seed = rng_state;
    rtc_srtp_config_t c = random_config(p, RTC_SRTP_BACKEND_OPENSSL);
    static const uint32_t windows[4] = {1024, 64, 100, 4000};
    c.replay_window = windows[_i];
    rtc_srtp_config_t cref = c;
    cref.backend = RTC_SRTP_BACKEND_LIBSRTP;
    rtc_srtp_session_t *ours = make(&c), *ref = make(&cref);

    sender_t snd[N_SENDERS];
    for (int k = 0; k < N_SENDERS; k++) {
        snd[k].ssrc = rnd();
        /* Half the senders start just before a wrap so ROC increments happen early. */
        snd[k].seq = (uint16_t)(k % 2 ? 65535 - below(300) : rnd());
        snd[k].live = k < 4;
    }
    static item_t q[QUEUE];
    size_t nq = 0;
    static item_t late[8];
    size_t nlate = 0;
    tally_t t;
    memset(&t, 0, sizeof t);
    const int steps = 10000;
    for (int step = 0; step < steps; step++) {
        uint32_t what = below(100);
        if (what < 3) { /* an SSRC leaves (both directions forget it) or a new one joins */
            int k = (int)below(N_SENDERS);
            if (snd[k].live && below(2)) {
                snd[k].live = false;
                int r1 = rtc_srtp_remove_ssrc(ours, snd[k].ssrc, true), r2 = rtc_srtp_remove_ssrc(ref, snd[k].ssrc, true);
                ck_assert_int_eq(r1, r2);
            } else if (!snd[k].live) {
                snd[k].live = true;
                snd[k].ssrc = rnd();
                snd[k].seq = (uint16_t)(65535 - below(300)); /* each newcomer wraps soon */
            }
            continue;
        }
        if (nq < QUEUE && what < 88) { /* send: both senders must produce the same bytes */
            int k = (int)below(N_SENDERS);
            if (!snd[k].live) continue;
            item_t *it = &q[nq];
            it->rtcp = what >= 75;
            if (it->rtcp) it->plain_len = random_rtcp(it->plain, snd[k].ssrc, 8 + below(1393));
            else {
                /* Mostly the next number; sometimes a gap, rarely a jump backwards. */
                uint32_t j = below(50), before = snd[k].seq;
                if (j == 0) snd[k].seq = (uint16_t)(snd[k].seq + below(3000));
                else if (j == 1) snd[k].seq = (uint16_t)(snd[k].seq - below(300));
                if (j == 0 && snd[k].seq < before) t.wraps++;
                it->plain_len = random_rtp(it->plain, &snd[k], 12 + below(1389));
                if (snd[k].seq == 65535) t.wraps++;
                snd[k].seq++;
            }
            uint8_t a[MAX_PKT + 64], b[MAX_PKT + 64];
            memcpy(a, it->plain, it->plain_len);
            memcpy(b, it->plain, it->plain_len);
            size_t la = it->plain_len, lb = it->plain_len;
            int ra = it->rtcp ? rtc_srtp_protect_rtcp(ours, a, &la, sizeof a) : rtc_srtp_protect_rtp(ours, a, &la, sizeof a);
            int rb = it->rtcp ? rtc_srtp_protect_rtcp(ref, b, &lb, sizeof b) : rtc_srtp_protect_rtp(ref, b, &lb, sizeof b);
            ck_assert_msg(ra == rb, "seed %llx step %d: protect openssl %d libsrtp %d", (unsigned long long)seed, step, ra, rb);
            if (ra != RTC_OK) {
                t.tx_refused++;
                continue;
            }
            ck_assert_uint_eq(la, lb);
            ck_assert_msg(!memcmp(a, b, la), "seed %llx step %d: protected bytes differ", (unsigned long long)seed, step);
            memcpy(it->b, a, la);
            it->len = la;
            nq++;
            continue;
        }
        if (nq == 0) continue;
        /* deliver one of the oldest few: reordering */
        size_t pick = below(nq < 6 ? (uint32_t)nq : 6);
        item_t it = q[pick];
        memmove(q + pick, q + pick + 1, (nq - pick - 1) * sizeof *q);
        nq--;
        uint32_t fate = below(100);
        uint8_t out[MAX_PKT];
        size_t out_len = 0;
        if (fate < 4 && nlate < 8) { /* held back, delivered much later */
            late[nlate++] = it;
            continue;
        }
        if (fate < 9) { /* tampered: one bit anywhere */
            uint8_t bad[MAX_PKT];
            memcpy(bad, it.b, it.len);
            bad[below((uint32_t)it.len)] ^= (uint8_t)(1u << below(8));
            count(&t, both_unprotect(ours, ref, bad, it.len, it.rtcp, NULL, NULL));
        } else if (fate < 11) { /* truncated */
            count(&t, both_unprotect(ours, ref, it.b, below((uint32_t)it.len), it.rtcp, NULL, NULL));
        }
        int r = both_unprotect(ours, ref, it.b, it.len, it.rtcp, out, &out_len);
        count(&t, r);
        if (r == RTC_OK) {
            ck_assert_uint_eq(out_len, it.plain_len);
            ck_assert_mem_eq(out, it.plain, out_len);
            if (it.rtcp) t.rtcp_ok++;
        }
        if (fate >= 95) count(&t, both_unprotect(ours, ref, it.b, it.len, it.rtcp, NULL, NULL)); /* duplicate */
        if (nlate && below(40) == 0) {
            item_t *l = &late[--nlate];
            t.late++;
            count(&t, both_unprotect(ours, ref, l->b, l->len, l->rtcp, NULL, NULL));
        }
    }
    rtc_srtp_stats_t sa, sb;
    rtc_srtp_get_stats(ours, &sa);
    rtc_srtp_get_stats(ref, &sb);
    ck_assert_mem_eq(&sa, &sb, sizeof sa);
    /* The run covered what it claims to cover. */
    ck_assert_uint_gt(t.ok, 2000);
    ck_assert_uint_gt(t.rtcp_ok, 300);
    ck_assert_uint_gt(t.replay, 20);
    ck_assert_uint_gt(t.integrity, 100);
    ck_assert_uint_gt(t.malformed, 10);
    ck_assert_uint_gt(t.wraps, 2);
    ck_assert_uint_gt(t.late, 5);
    ck_assert_uint_eq(sa.ssrc_limit, 0);
    fprintf(stderr,
            "differential %s window %u: %u accepted (%u rtcp), %u replays, %u forged, %u malformed, %u other, "
            "%u seq wraps, %u refused on send, %u late\n",
            rtc_srtp_backend_name(rtc_srtp_session_backend(ours)), c.replay_window, t.ok, t.rtcp_ok, t.replay,
            t.integrity, t.malformed, t.other, t.wraps, t.tx_refused, t.late);
    rtc_srtp_session_destroy(ours);
    rtc_srtp_session_destroy(ref);
}
END_TEST

START_TEST(differential_garbage_gets_the_same_answer) {
    /* Random bytes (mostly failing early) and random valid-looking headers with random tails:
     * the two backends must agree on every one. */
    rtc_srtp_profile_t p = all_profiles[_i];
    rng_state = 0xfeedface00ull + (uint64_t)_i;
    rtc_srtp_config_t c = random_config(p, RTC_SRTP_BACKEND_OPENSSL);
    rtc_srtp_config_t cref = c;
    cref.backend = RTC_SRTP_BACKEND_LIBSRTP;
    rtc_srtp_session_t *ours = make(&c), *ref = make(&cref);
    tally_t t;
    memset(&t, 0, sizeof t);
    for (int k = 0; k < 3000; k++) {
        uint8_t pkt[256];
        size_t n = below(sizeof pkt);
        for (size_t i = 0; i < n; i++) pkt[i] = (uint8_t)rnd();
        if (n && below(2)) pkt[0] = (uint8_t)((pkt[0] & 0x3f) | 0x80);
        if (n > 12 && below(2)) pkt[0] &= 0xe0; /* no CSRC, no extension */
        count(&t, both_unprotect(ours, ref, pkt, n, k & 1, NULL, NULL));
    }
    ck_assert_uint_eq(t.ok, 0);
    ck_assert_uint_gt(t.integrity, 500);
    ck_assert_uint_gt(t.malformed, 500);
    rtc_srtp_stats_t sa, sb;
    rtc_srtp_get_stats(ours, &sa);
    rtc_srtp_get_stats(ref, &sb);
    ck_assert_mem_eq(&sa, &sb, sizeof sa);
    rtc_srtp_session_destroy(ours);
    rtc_srtp_session_destroy(ref);
}
END_TEST

START_TEST(differential_allow_repeat_tx) {
    rtc_srtp_profile_t p = all_profiles[_i];
    rng_state = 0xabcdef12ull + (uint64_t)_i;
    rtc_srtp_config_t c = random_config(p, RTC_SRTP_BACKEND_OPENSSL);
    c.allow_repeat_tx = true;
    c.replay_window = 64;
    rtc_srtp_config_t cref = c;
    cref.backend = RTC_SRTP_BACKEND_LIBSRTP;
    rtc_srtp_session_t *ours = make(&c), *ref = make(&cref);
    static const uint16_t seqs[] = {10, 11, 11, 12, 10, 80, 17, 16, 16, 15, 81, 81, 1000, 900};
    for (size_t k = 0; k < sizeof seqs / sizeof *seqs; k++) {
        uint8_t a[200], b[200];
        size_t la = rtp(a, seqs[k], 5, 100), lb = la;
        memcpy(b, a, la);
        int ra = rtc_srtp_protect_rtp(ours, a, &la, sizeof a), rb = rtc_srtp_protect_rtp(ref, b, &lb, sizeof b);
        ck_assert_int_eq(ra, rb);
        if (ra == RTC_OK) ck_assert_mem_eq(a, b, la);
    }
    rtc_srtp_session_destroy(ours);
    rtc_srtp_session_destroy(ref);
}
END_TEST

int main(void) {
    /* Before anything touches OpenSSL, so every allocation it makes is counted. */
    CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
    rtc_log_set_level(RTC_LOG_ERROR);
    Suite *s = suite_create("srtp_evp");
    TCase *kat = tcase_create("vectors");
    tcase_add_test(kat, rfc3711_b3_key_derivation);
    tcase_add_test(kat, rfc3711_b2_aes_cm_keystream_through_the_srtp_transform);
    tcase_add_loop_test(kat, rfc7714_gcm_srtp_and_srtcp_vectors, 0, 2);
    suite_add_tcase(s, kat);
    TCase *state = tcase_create("state");
    tcase_add_test(state, roc_estimation_follows_rfc3711_and_libsrtp);
    tcase_add_test(state, replay_window_edges);
    tcase_add_test(state, ssrc_table_add_find_remove_and_bound);
    tcase_add_loop_test(state, reordering_across_the_wrap_is_accepted_once, 0, 8);
    tcase_add_loop_test(state, window_moves_only_for_authentic_packets, 0, 8);
    tcase_add_loop_test(state, srtcp_index_and_e_flag_per_ssrc, 0, 8);
    tcase_add_loop_test(state, unencrypted_srtcp_from_libsrtp_follows_libsrtp_rules, 0, 4);
    tcase_add_test(state, ssrc_bound_is_a_clean_counted_error);
    tcase_add_loop_test(state, steady_state_packets_allocate_nothing_in_openssl, 0, 4);
    suite_add_tcase(s, state);
    TCase *diff = tcase_create("differential");
    tcase_set_timeout(diff, 240);
    tcase_add_loop_test(diff, differential_random_traffic_matches_libsrtp_byte_for_byte, 0, 4);
    tcase_add_loop_test(diff, differential_garbage_gets_the_same_answer, 0, 4);
    tcase_add_loop_test(diff, differential_allow_repeat_tx, 0, 4);
    suite_add_tcase(s, diff);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
