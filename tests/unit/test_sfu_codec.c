/* sfu/codec: keyframe / frame-start detection and picture sizes for VP8, VP9, H.264 and AV1
 * payloads, VP8 descriptor parse and rewrite.
 *
 * Vectors quoted from public test suites (each cited where used) and real packets made by
 * libvpx and libx264 with aiortc's packetizers (tests/unit/sfu/gen_simulcast.py). */
#include <check.h>
#include <stdlib.h>

#include "sfu/codec.h"
#include "unit/sfu_fixture.h"

static sfu_video_info_t inspect_ok(sfu_codec_t c, const uint8_t *p, size_t n) {
    sfu_video_info_t vi;
    int rc = sfu_video_inspect(c, p, n, &vi);
    ck_assert_msg(rc == RTC_OK, "inspect failed: %s", rtc_strerror(rc));
    return vi;
}

/* Every prefix of a payload must be handled without reading past it (ASan checks reads). */
static void all_prefixes(sfu_codec_t c, const uint8_t *p, size_t n) {
    for (size_t k = 0; k <= n; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        memcpy(copy, p, k);
        sfu_video_info_t vi;
        (void)sfu_video_inspect(c, copy, k, &vi);
        free(copy);
    }
}

START_TEST(test_codec_names) {
    ck_assert_int_eq(sfu_codec_from_name("VP8"), SFU_CODEC_VP8);
    ck_assert_int_eq(sfu_codec_from_name("vp9"), SFU_CODEC_VP9);
    ck_assert_int_eq(sfu_codec_from_name("H264"), SFU_CODEC_H264);
    ck_assert_int_eq(sfu_codec_from_name("AV1"), SFU_CODEC_AV1);
    ck_assert_int_eq(sfu_codec_from_name("opus"), SFU_CODEC_OPUS);
    ck_assert_int_eq(sfu_codec_from_name("rtx"), SFU_CODEC_UNKNOWN);
    ck_assert_int_eq(sfu_codec_from_name(NULL), SFU_CODEC_UNKNOWN);
    ck_assert(sfu_codec_is_video(SFU_CODEC_AV1));
    ck_assert(!sfu_codec_is_video(SFU_CODEC_OPUS));
    sfu_video_info_t vi;
    const uint8_t op[] = {0x78, 0x01};
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_OPUS, op, 2, &vi), RTC_ERR_UNSUPPORTED);
}
END_TEST

/* finos/SymphonyMediaBridge test/codec/Vp8HeaderTest.cpp: 6-byte descriptors (X, I with a
 * 15-bit picture ID 0x3d9d, L, T) followed by the first VP8 payload byte. */
START_TEST(test_vp8_symphony_vectors) {
    const uint8_t not_key0[] = {0x90, 0xe0, 0xab, 0xb9, 0xd3, 0x60, 0x11};
    const uint8_t not_key1[] = {0xb0, 0xe0, 0xbd, 0x9d, 0x3e, 0x40, 0xb1};
    const uint8_t key_first[] = {0xb0, 0xe0, 0xbd, 0x9d, 0x3e, 0x40, 0xb0};
    const uint8_t key_last[] = {0xa0, 0xe0, 0xbd, 0x9d, 0x3e, 0x40, 0xb0};
    sfu_vp8_desc_t d;
    ck_assert_int_eq(sfu_vp8_desc_parse(key_first, sizeof key_first, &d), RTC_OK);
    ck_assert_uint_eq(d.size, 6);
    ck_assert_uint_eq(d.picture_id, 0x3d9d);
    ck_assert(d.picture_id_15);

    sfu_video_info_t vi = inspect_ok(SFU_CODEC_VP8, not_key0, sizeof not_key0);
    ck_assert(!vi.keyframe);
    ck_assert(vi.frame_start);
    vi = inspect_ok(SFU_CODEC_VP8, not_key1, sizeof not_key1);
    ck_assert(!vi.keyframe);
    vi = inspect_ok(SFU_CODEC_VP8, key_first, sizeof key_first);
    ck_assert(vi.keyframe);
    ck_assert_int_eq(vi.tid, 1);
    /* S=0: a continuation packet of the same keyframe does not start it. */
    vi = inspect_ok(SFU_CODEC_VP8, key_last, sizeof key_last);
    ck_assert(!vi.keyframe);
    ck_assert(!vi.frame_start);
    all_prefixes(SFU_CODEC_VP8, key_first, sizeof key_first);
}
END_TEST

/* livekit/livekit pkg/sfu/buffer/helpers_test.go TestVP8Helper_Unmarshal: picture ID 7 and
 * 15 bits, TL0PICIDX, TID. */
START_TEST(test_vp8_livekit_descriptor_vectors) {
    sfu_vp8_desc_t d;
    const uint8_t pid7[] = {0xff, 0xff, 0x11, 0x2, 0x3, 0x4};
    ck_assert_int_eq(sfu_vp8_desc_parse(pid7, sizeof pid7, &d), RTC_OK);
    ck_assert_uint_eq(d.picture_id, 17);
    ck_assert(!d.picture_id_15);
    const uint8_t pid15[] = {0xff, 0xff, 0x92, 0x67, 0x3, 0x4, 0x5};
    ck_assert_int_eq(sfu_vp8_desc_parse(pid15, sizeof pid15, &d), RTC_OK);
    ck_assert_uint_eq(d.picture_id, 4711);
    const uint8_t tl0[] = {0xff, 0xff, 0xff, 0xfd, 0xb4, 0x4, 0x5};
    ck_assert_int_eq(sfu_vp8_desc_parse(tl0, sizeof tl0, &d), RTC_OK);
    ck_assert_uint_eq(d.tl0picidx, 180);
    const uint8_t tid[] = {0xff, 0xff, 0xff, 0xfd, 0xb4, 0x9f, 0x5, 0x6};
    ck_assert_int_eq(sfu_vp8_desc_parse(tid, sizeof tid, &d), RTC_OK);
    ck_assert_uint_eq(d.tid, 2);
    ck_assert_uint_eq(d.keyidx, 31);
    ck_assert_uint_eq(d.size, 6);
    /* Empty payloads are errors there and here. */
    ck_assert_int_eq(sfu_vp8_desc_parse(tid, 0, &d), RTC_ERR_TRUNCATED);
    /* "all flags" with nothing after the descriptor (pion/rtp vp8_packet_test.go). */
    const uint8_t all[] = {0xff, 0xff, 0x00, 0x00};
    ck_assert_int_eq(sfu_vp8_desc_parse(all, sizeof all, &d), RTC_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_vp8_desc_rewrite_in_place) {
    uint8_t p[] = {0xb0, 0xf0, 0xbd, 0x9d, 0x3e, 0x40 | 0x05, 0xb0};
    sfu_vp8_desc_t d;
    ck_assert_int_eq(sfu_vp8_desc_parse(p, sizeof p, &d), RTC_OK);
    ck_assert(d.has_keyidx);
    sfu_vp8_desc_write(p, &d, 0x7fff, 0x01, 0x1e);
    sfu_vp8_desc_t d2;
    ck_assert_int_eq(sfu_vp8_desc_parse(p, sizeof p, &d2), RTC_OK);
    ck_assert_uint_eq(d2.picture_id, 0x7fff);
    ck_assert_uint_eq(d2.tl0picidx, 1);
    ck_assert_uint_eq(d2.keyidx, 0x1e);
    ck_assert_uint_eq(d2.tid, 1); /* untouched */
    ck_assert_uint_eq(p[6], 0xb0); /* payload untouched */
    /* A 7-bit picture ID stays 7 bits: the value wraps. */
    uint8_t q[] = {0x90, 0x80, 0x05, 0x00};
    ck_assert_int_eq(sfu_vp8_desc_parse(q, sizeof q, &d), RTC_OK);
    sfu_vp8_desc_write(q, &d, 130, 0, 0);
    ck_assert_uint_eq(q[2], 2);
    ck_assert_uint_eq(q[3], 0x00);
}
END_TEST

/* pion/rtp codecs/vp9_packet_test.go (TestVP9Payloader_Payload and TestVP9Packet_Unmarshal):
 * a non-flexible keyframe packet with a scalability structure (1920x804), a non-keyframe,
 * a continuation packet, and an SS with two spatial layers 640x360 and 1280x720. */
START_TEST(test_vp9_pion_vectors) {
    const uint8_t key[] = {0x8f, 0xa1, 0xf4, 0x18, 0x07, 0x80, 0x03, 0x24, 0x01, 0x14,
                           0x01, 0x82, 0x49, 0x83, 0x42, 0x00, 0x77, 0xf0, 0x32, 0x34};
    sfu_video_info_t vi = inspect_ok(SFU_CODEC_VP9, key, sizeof key);
    ck_assert(vi.keyframe);
    ck_assert(vi.frame_start);
    ck_assert_uint_eq(vi.width, 1920);
    ck_assert_uint_eq(vi.height, 804);

    const uint8_t cont[] = {0x85, 0xa1, 0xf4, 0x49, 0x83, 0x42, 0x00, 0x77, 0xf0, 0x32, 0x34};
    vi = inspect_ok(SFU_CODEC_VP9, cont, sizeof cont);
    ck_assert(!vi.keyframe);
    ck_assert(!vi.frame_start);

    const uint8_t delta[] = {0xcd, 0xa1, 0xf4, 0x86, 0x00, 0x40, 0x92, 0xe1,
                             0x31, 0x42, 0x8c, 0xc0, 0x40};
    vi = inspect_ok(SFU_CODEC_VP9, delta, sizeof delta);
    ck_assert(!vi.keyframe);
    ck_assert(vi.frame_start);

    const uint8_t ss[] = {0x0A, (1 << 5) | (1 << 4), 640 >> 8, 640 & 0xff, 360 >> 8, 360 & 0xff,
                          1280 >> 8, 1280 & 0xff, 720 >> 8, 720 & 0xff};
    vi = inspect_ok(SFU_CODEC_VP9, ss, sizeof ss);
    ck_assert(vi.keyframe);
    ck_assert_uint_eq(vi.width, 1280);
    ck_assert_uint_eq(vi.height, 720);

    /* Layer indices: SID 1 is not the base layer, so even with P=0 it is no switch point. */
    const uint8_t sid1[] = {0xA8, 0x02, 0x23, 0x01, 0xAA};
    vi = inspect_ok(SFU_CODEC_VP9, sid1, sizeof sid1);
    ck_assert_int_eq(vi.sid, 1);
    ck_assert_int_eq(vi.tid, 1);
    ck_assert(!vi.keyframe);
    /* The same with SID 0 is one. */
    const uint8_t sid0[] = {0xA8, 0x02, 0x21, 0x01, 0xAA};
    vi = inspect_ok(SFU_CODEC_VP9, sid0, sizeof sid0);
    ck_assert(vi.keyframe);

    /* Too many P_DIFF (pion: errTooManyPDiff) and short packets. */
    const uint8_t pdiff[] = {0xD0, 0x02, 0x03, 0x05, 0x07, 0x09, 0x10, 0xAA};
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_VP9, pdiff, sizeof pdiff, &vi), RTC_ERR_MALFORMED);
    const uint8_t short1[] = {0x80, 0x81};
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_VP9, short1, sizeof short1, &vi), RTC_ERR_TRUNCATED);
    all_prefixes(SFU_CODEC_VP9, key, sizeof key);
    all_prefixes(SFU_CODEC_VP9, ss, sizeof ss);
}
END_TEST

/* finos/SymphonyMediaBridge test/codec/H264HeaderTest.cpp: single NAL unit and FU-A
 * vectors. SMB, like LiveKit, counts a packet with an SPS as the start of a keyframe and a
 * lone IDR slice (type 5) as none; so do we (the decoder needs the new stream's SPS/PPS).
 * SMB's STAP-A vectors are left out: their NAL unit sizes do not match RFC 6184 5.7.1
 * (e.g. {0x18, 0x00,0x01, 0x05,0x00, ...} announces 1 byte and carries 2), except the one
 * whose size runs past the end, which must be refused. */
START_TEST(test_h264_symphony_vectors) {
    const uint8_t idr[] = {0x05, 0x00};
    const uint8_t sps[] = {0x07, 0x00};
    const uint8_t fu_no_start[] = {0x1C, 0x07};
    const uint8_t fu_start_idr[] = {0x1C, 0x85};
    const uint8_t fu_plain[] = {0x1C, 0x00};
    const uint8_t fu_start_sps[] = {0x1C, 0x87};
    const uint8_t stap_bad[] = {0x18, 0x00, 0x10, 0x05, 0x00, 0x00, 0x00};
    ck_assert(!inspect_ok(SFU_CODEC_H264, idr, 2).keyframe);
    ck_assert(inspect_ok(SFU_CODEC_H264, sps, 2).keyframe);
    ck_assert(!inspect_ok(SFU_CODEC_H264, fu_no_start, 2).keyframe);
    ck_assert(!inspect_ok(SFU_CODEC_H264, fu_start_idr, 2).keyframe);
    ck_assert(!inspect_ok(SFU_CODEC_H264, fu_plain, 2).keyframe);
    ck_assert(inspect_ok(SFU_CODEC_H264, fu_start_sps, 2).keyframe);
    sfu_video_info_t vi;
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_H264, stap_bad, sizeof stap_bad, &vi),
                     RTC_ERR_TRUNCATED);
    ck_assert(!vi.keyframe);
    /* The same shapes with RFC 6184 sizes: IDR + SPS is a keyframe, two IDRs are not. */
    const uint8_t stap_two[] = {0x18, 0x00, 0x02, 0x05, 0x00, 0x00, 0x02, 0x07, 0x00};
    const uint8_t stap_none[] = {0x18, 0x00, 0x02, 0x05, 0x00, 0x00, 0x02, 0x05, 0x00};
    ck_assert(inspect_ok(SFU_CODEC_H264, stap_two, sizeof stap_two).keyframe);
    ck_assert(!inspect_ok(SFU_CODEC_H264, stap_none, sizeof stap_none).keyframe);
    const uint8_t stap_zero[] = {0x18, 0x00, 0x00, 0x05};
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_H264, stap_zero, sizeof stap_zero, &vi),
                     RTC_ERR_MALFORMED);
    /* forbidden_zero_bit, undefined types */
    const uint8_t fz[] = {0x87, 0x00}, t0[] = {0x00, 0x00}, t30[] = {0x1e, 0x00};
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_H264, fz, 2, &vi), RTC_ERR_MALFORMED);
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_H264, t0, 2, &vi), RTC_ERR_MALFORMED);
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_H264, t30, 2, &vi), RTC_ERR_MALFORMED);
    all_prefixes(SFU_CODEC_H264, stap_two, sizeof stap_two);
}
END_TEST

/* livekit/livekit pkg/sfu/buffer/h26xhelper_test.go TestExtractH26xVideoSize: STAP-A
 * payloads (SPS + PPS) of a browser's three simulcast layers, base64 as quoted there. */
START_TEST(test_h264_livekit_sps_sizes) {
    static const struct {
        const char *b64;
        uint16_t w, h;
    } v[] = {
        {"eAAOZ0LAH4xoBQBboB4RCNQABGjOPIA=", 1280, 720},
        {"eAAPZ0LAFoxoCgL3lgHhEI1AAARozjyA", 640, 360},
        {"eAAOZ0LADIxoFBl54B4RCNQABGjOPIA=", 320, 180},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t p[64];
        int n = rtc_base64_decode(v[i].b64, strlen(v[i].b64), p, sizeof p);
        ck_assert_int_gt(n, 0);
        sfu_video_info_t vi = inspect_ok(SFU_CODEC_H264, p, (size_t)n);
        ck_assert(vi.keyframe);
        ck_assert(vi.frame_start);
        ck_assert_uint_eq(vi.width, v[i].w);
        ck_assert_uint_eq(vi.height, v[i].h);
        all_prefixes(SFU_CODEC_H264, p, (size_t)n);
    }
    /* The SPS alone, and an SPS cut short. */
    uint8_t p[64];
    int n = rtc_base64_decode(v[0].b64, strlen(v[0].b64), p, sizeof p);
    ck_assert_int_gt(n, 17);
    uint16_t w = 0, h = 0;
    ck_assert_int_eq(sfu_h264_sps_size(p + 3, 14, &w, &h), RTC_OK);
    ck_assert_uint_eq(w, 1280);
    ck_assert_int_lt(sfu_h264_sps_size(p + 3, 6, &w, &h), 0);
    /* livekit's "unbounded POC type loop" input: refused, quickly. */
    const uint8_t loop[] = {0x27, 0x08, 0x30, 0x30, 0x30, 0x41, 0x30, 0x00,
                            0x00, 0x00, 0x7f, 0x27, 0x08, 0xff, 0x7f, 0xa8};
    ck_assert_int_lt(sfu_h264_sps_size(loop, sizeof loop, &w, &h), 0);
}
END_TEST

/* baresip/re test/av1.c: aggregation headers "from Chrome 102": 0x28 (Z=0 Y=0 W=2 N=1) and
 * 0x50 (Z=0 Y=1 W=1 N=0). */
START_TEST(test_av1_chrome_aggregation_headers) {
    const uint8_t first[] = {0x28, 0x0a, 0x0b};
    const uint8_t other[] = {0x50, 0x32};
    sfu_video_info_t vi = inspect_ok(SFU_CODEC_AV1, first, sizeof first);
    ck_assert(vi.keyframe);
    ck_assert(vi.frame_start);
    vi = inspect_ok(SFU_CODEC_AV1, other, sizeof other);
    ck_assert(!vi.keyframe);
    ck_assert(vi.frame_start);
    const uint8_t cont[] = {0x88, 0x00}; /* Z=1: continues an OBU, cannot start anything */
    vi = inspect_ok(SFU_CODEC_AV1, cont, sizeof cont);
    ck_assert(!vi.keyframe);
    ck_assert(!vi.frame_start);
    ck_assert_int_eq(sfu_video_inspect(SFU_CODEC_AV1, first, 1, &vi), RTC_ERR_TRUNCATED);
}
END_TEST

/* Real encoders: keyframes appear exactly where gen_simulcast.py forced them, once per
 * keyframe (on its first packet), with the encoded size; every other packet is not one. */
static void check_fixture(const char *name, sfu_codec_t codec, const int *keys, size_t n_keys,
                          uint16_t w, uint16_t h) {
    fx_stream_t s;
    ck_assert_msg(fx_load(&s, name) == 0, "cannot load fixture %s", name);
    size_t found = 0;
    uint32_t ts0 = rtc_be32(s.pkts[0].pkt + 4);
    size_t frame_starts = 0;
    bool started[30] = {false};
    for (size_t i = 0; i < s.n; i++) {
        const uint8_t *pkt = s.pkts[i].pkt;
        sfu_video_info_t vi = inspect_ok(codec, pkt + 12, s.pkts[i].len - 12u);
        int frame = (int)((rtc_be32(pkt + 4) - ts0) / 3000);
        ck_assert_int_lt(frame, 30);
        if (vi.frame_start) {
            frame_starts++;
            started[frame] = true;
        }
        if (!vi.keyframe) continue;
        ck_assert_uint_lt(found, n_keys);
        ck_assert_int_eq(frame, keys[found]);
        ck_assert_uint_eq(vi.width, w);
        ck_assert_uint_eq(vi.height, h);
        found++;
    }
    ck_assert_uint_eq(found, n_keys);
    /* Every frame has a start. VP8 marks exactly one packet per frame; H.264 may mark two
     * when the parameter sets travel in their own packet before the first slice. */
    for (int k = 0; k < 30; k++) ck_assert_msg(started[k], "%s: frame %d has no start", name, k);
    if (codec == SFU_CODEC_VP8) ck_assert_uint_eq(frame_starts, 30);
    fx_free(&s);
}

START_TEST(test_real_vp8_and_h264_simulcast_fixtures) {
    const int q[] = {0, 15}, hh[] = {0, 10, 20}, f[] = {0, 12, 24};
    check_fixture("vp8_q", SFU_CODEC_VP8, q, 2, 80, 46);
    check_fixture("vp8_h", SFU_CODEC_VP8, hh, 3, 160, 90);
    check_fixture("vp8_f", SFU_CODEC_VP8, f, 3, 320, 180);
    check_fixture("h264_q", SFU_CODEC_H264, q, 2, 80, 46);
    check_fixture("h264_h", SFU_CODEC_H264, hh, 3, 160, 90);
    check_fixture("h264_f", SFU_CODEC_H264, f, 3, 320, 180);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_codec");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_codec_names);
    tcase_add_test(tc, test_vp8_symphony_vectors);
    tcase_add_test(tc, test_vp8_livekit_descriptor_vectors);
    tcase_add_test(tc, test_vp8_desc_rewrite_in_place);
    tcase_add_test(tc, test_vp9_pion_vectors);
    tcase_add_test(tc, test_h264_symphony_vectors);
    tcase_add_test(tc, test_h264_livekit_sps_sizes);
    tcase_add_test(tc, test_av1_chrome_aggregation_headers);
    tcase_add_test(tc, test_real_vp8_and_h264_simulcast_fixtures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
