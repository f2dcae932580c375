/* sfu/rewriter: sequence numbers, timestamps and VP8 picture IDs stay continuous for the
 * subscriber across simulcast switches, reordering, duplicates, wraparound, deliberate drops
 * and pauses. The splice test uses real libvpx/libx264 simulcast packets (tests/unit/sfu/)
 * and has the result decoded by real decoders (libvpx, FFmpeg via aiortc). */
#include <check.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sfu/rewriter.h"
#include "unit/sfu_fixture.h"

START_TEST(test_single_source_is_continuous_from_initial_values) {
    sfu_rewriter_t r;
    sfu_rewriter_init(&r, 90000, 1000, 5000);
    uint16_t os;
    uint32_t ot;
    /* The first packet must be a resync (there is no source yet). */
    ck_assert_int_eq(sfu_rewriter_map(&r, 0xaa, 40000, 123456, false, 0, &os, &ot),
                     SFU_RW_DROP_SOURCE);
    ck_assert_int_eq(sfu_rewriter_map(&r, 0xaa, 40000, 123456, true, 0, &os, &ot),
                     SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 1000);
    ck_assert_uint_eq(ot, 5000);
    for (int i = 1; i < 100; i++) {
        ck_assert_int_eq(sfu_rewriter_map(&r, 0xaa, (uint16_t)(40000 + i), 123456 + 3000u * i,
                                          false, RTC_MS(33 * i), &os, &ot),
                         SFU_RW_FORWARD);
        ck_assert_uint_eq(os, 1000 + i);
        ck_assert_uint_eq(ot, 5000 + 3000u * i);
    }
    /* Another SSRC without a switch is not forwarded. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 0xbb, 1, 1, false, 0, &os, &ot), SFU_RW_DROP_SOURCE);
    ck_assert_uint_eq(r.switches, 0);
}
END_TEST

START_TEST(test_switch_continues_seq_and_advances_ts_by_elapsed_time) {
    sfu_rewriter_t r;
    sfu_rewriter_init(&r, 90000, 65530, 0xfffff000u); /* both wrap during the test */
    uint16_t os;
    uint32_t ot;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(sfu_rewriter_map(&r, 1, (uint16_t)(100 + i), 7000u + 3000u * i, i == 0,
                                          RTC_MS(33 * i), &os, &ot),
                         SFU_RW_FORWARD);
    uint16_t last_seq = os;
    uint32_t last_ts = ot;
    ck_assert_uint_eq(last_seq, (uint16_t)(65530 + 9));
    /* 50 ms later the other layer's keyframe: next seq, ts + 50 ms * 90 kHz. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 2, 9, 0x12345678u, true, RTC_MS(33 * 9 + 50), &os, &ot),
                     SFU_RW_FORWARD);
    ck_assert_uint_eq(os, (uint16_t)(last_seq + 1));
    ck_assert_uint_eq(ot, last_ts + 4500);
    /* Packets of the same frame share its timestamp. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 2, 10, 0x12345678u, false, RTC_MS(33 * 9 + 51), &os, &ot),
                     SFU_RW_FORWARD);
    ck_assert_uint_eq(os, (uint16_t)(last_seq + 2));
    ck_assert_uint_eq(ot, last_ts + 4500);
    /* The old source is gone. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 110, 37000, false, RTC_MS(400), &os, &ot),
                     SFU_RW_DROP_SOURCE);
    /* A packet of the new source older than its switch point has no place. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 2, 8, 0x12345678u - 3000, false, RTC_MS(400), &os, &ot),
                     SFU_RW_DROP_OLD);
    /* Switching at the same instant still moves the timestamp on by one tick. */
    uint32_t before = r.out_ts_last;
    ck_assert_int_eq(sfu_rewriter_map(&r, 3, 500, 42, true, r.out_time_last, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(ot, before + 1);
    ck_assert_uint_eq(r.switches, 2);
}
END_TEST

START_TEST(test_reordering_and_duplicates) {
    sfu_rewriter_t r;
    sfu_rewriter_init(&r, 48000, 10, 0);
    uint16_t os;
    uint32_t ot;
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 65534, 0, true, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 10);
    /* 65535 is late; 0 and 1 (after the wrap) come first. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 0, 1920, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 12);
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 1, 2880, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 13);
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 65535, 960, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 11); /* fills the gap it left */
    ck_assert_uint_eq(ot, 960);
    /* Every one of them again: duplicates. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 65535, 960, false, 0, &os, &ot), SFU_RW_DROP_DUP);
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 0, 1920, false, 0, &os, &ot), SFU_RW_DROP_DUP);
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 65534, 0, false, 0, &os, &ot), SFU_RW_DROP_DUP);
    /* The next new one continues after the highest. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 2, 3840, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 14);
    /* A packet far outside the window is refused rather than guessed. */
    for (uint16_t s = 3; s < 200; s++)
        ck_assert_int_eq(sfu_rewriter_map(&r, 7, s, s * 960u, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 5, 0, false, 0, &os, &ot), SFU_RW_DROP_OLD);
    /* A jump ahead (loss of a burst) keeps the gap: the receiver must see the loss. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 7, 300, 0, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, (uint16_t)(10 + 300 + 2));
}
END_TEST

START_TEST(test_skip_leaves_no_gap) {
    sfu_rewriter_t r;
    sfu_rewriter_init(&r, 90000, 100, 0);
    uint16_t os;
    uint32_t ot;
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 50, 0, true, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_int_eq(sfu_rewriter_skip(&r, 1, 51), RTC_OK);  /* padding */
    ck_assert_int_eq(sfu_rewriter_skip(&r, 1, 52), RTC_OK);
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 53, 3000, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 101);
    /* Out of order skips are refused (the caller forwards those). */
    ck_assert_int_eq(sfu_rewriter_skip(&r, 1, 55), RTC_ERR_STATE);
    ck_assert_int_eq(sfu_rewriter_skip(&r, 2, 54), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 55, 3000, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 103);
    /* 54 arrives late: it came after the last skip (52), so it maps into the gap it left. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 54, 3000, false, 0, &os, &ot), SFU_RW_FORWARD);
    ck_assert_uint_eq(os, 102);
    /* A skipped packet arriving again (retransmitted) counts as one already handled. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 52, 3000, false, 0, &os, &ot), SFU_RW_DROP_DUP);
    /* One from before the skips that was never seen cannot be placed any more. */
    ck_assert_int_eq(sfu_rewriter_map(&r, 1, 49, 0, false, 0, &os, &ot), SFU_RW_DROP_OLD);
}
END_TEST

START_TEST(test_vp8_picture_ids_continue_across_switches) {
    sfu_vp8_munger_t m;
    sfu_vp8_munger_init(&m);
    /* Source A: 15-bit IDs 0x7ffe, 0x7fff (wrap next), TL0PICIDX 200.. */
    uint8_t a[] = {0x90, 0xe0, 0xff, 0xfe, 200, 0x40, 0x10};
    ck_assert_int_eq(sfu_vp8_munger_rewrite(&m, 1, true, a, sizeof a), RTC_OK);
    sfu_vp8_desc_t d;
    sfu_vp8_desc_parse(a, sizeof a, &d);
    ck_assert_uint_eq(d.picture_id, 0x7ffe); /* the first stream keeps its own IDs */
    uint8_t a2[] = {0x90, 0xe0, 0xff, 0xff, 201, 0x40, 0x10};
    sfu_vp8_munger_rewrite(&m, 1, false, a2, sizeof a2);
    sfu_vp8_desc_parse(a2, sizeof a2, &d);
    ck_assert_uint_eq(d.picture_id, 0x7fff);
    /* Switch to source B (15-bit IDs around 0x1234): continues at 0 (after 0x7fff). */
    uint8_t b[] = {0x90, 0xe0, 0x92, 0x34, 7, 0x40, 0x10};
    sfu_vp8_munger_rewrite(&m, 2, true, b, sizeof b);
    sfu_vp8_desc_parse(b, sizeof b, &d);
    ck_assert_uint_eq(d.picture_id, 0);
    ck_assert_uint_eq(d.tl0picidx, 202);
    uint8_t b2[] = {0x90, 0xe0, 0x92, 0x35, 8, 0x40, 0x10};
    sfu_vp8_munger_rewrite(&m, 2, false, b2, sizeof b2);
    sfu_vp8_desc_parse(b2, sizeof b2, &d);
    ck_assert_uint_eq(d.picture_id, 1);
    ck_assert_uint_eq(d.tl0picidx, 203);
    /* A reordered older picture of B maps by the same offset and does not move "last". */
    uint8_t b0[] = {0x90, 0xe0, 0x92, 0x33, 6, 0x40, 0x10};
    sfu_vp8_munger_rewrite(&m, 2, false, b0, sizeof b0);
    sfu_vp8_desc_parse(b0, sizeof b0, &d);
    ck_assert_uint_eq(d.picture_id, 0x7fff);
    /* Switch to a 7-bit source: continues at 2 in 7-bit space. */
    uint8_t c[] = {0x90, 0x80, 0x7f, 0x10};
    sfu_vp8_munger_rewrite(&m, 3, true, c, sizeof c);
    sfu_vp8_desc_parse(c, sizeof c, &d);
    ck_assert_uint_eq(d.picture_id, 2);
    uint8_t c2[] = {0x90, 0x80, 0x00, 0x10}; /* 7-bit wrap of the input */
    sfu_vp8_munger_rewrite(&m, 3, false, c2, sizeof c2);
    sfu_vp8_desc_parse(c2, sizeof c2, &d);
    ck_assert_uint_eq(d.picture_id, 3);
    /* No picture ID: untouched; a broken descriptor: error, untouched. */
    uint8_t plain[] = {0x10, 0x10};
    ck_assert_int_eq(sfu_vp8_munger_rewrite(&m, 3, false, plain, sizeof plain), RTC_OK);
    uint8_t bad[] = {0x90, 0x80};
    ck_assert_int_lt(sfu_vp8_munger_rewrite(&m, 3, false, bad, sizeof bad), 0);
    ck_assert_uint_eq(bad[1], 0x80);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Splicing real simulcast layers.
 */
typedef struct {
    fx_stream_t s[3];
    size_t next[3];
} layers_t;

/* The next packet in arrival order across the three layers (ties: lower layer first). */
static int next_packet(layers_t *l, const fx_packet_t **out) {
    int best = -1;
    for (int i = 0; i < 3; i++) {
        if (l->next[i] >= l->s[i].n) continue;
        if (best < 0 || l->s[i].pkts[l->next[i]].arrival_ms < l->s[best].pkts[l->next[best]].arrival_ms)
            best = i;
    }
    if (best >= 0) *out = &l->s[best].pkts[l->next[best]++];
    return best;
}

static void write_record(FILE *f, uint32_t arrival, const uint8_t *p, size_t n) {
    uint8_t h[6];
    rtc_put_be32(h, arrival);
    rtc_put_be16(h + 4, (uint16_t)n);
    fwrite(h, 1, 6, f);
    fwrite(p, 1, n, f);
}

/* Runs the decode checker; returns its exit status and the output lines in out. */
static int run_decoder(const char *codec, const char *path, char *out, size_t cap) {
    char cmd[1024];
    const char *src = getenv("SRC_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/sfu/decode_rtp.py %s %s 2>&1",
             src ? src : ".", codec, path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_decoder(void) {
    return system("/usr/bin/python3 -c 'import aiortc, av' >/dev/null 2>&1") == 0;
}

/* Start on q (80x46), switch up to f (320x180) at its keyframe of frame 12, down to h
 * (160x90) at its keyframe of frame 20. */
static void splice(const char *codec_name, sfu_codec_t codec) {
    static const char *rids[3] = {"q", "h", "f"};
    layers_t l = {0};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s_%s", codec_name, rids[i]);
        ck_assert_int_eq(fx_load(&l.s[i], name), 0);
    }
    char path[] = "/tmp/sfu_splice_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    sfu_rewriter_t r;
    sfu_rewriter_init(&r, 90000, 65500, 0xffff0000u);
    sfu_vp8_munger_t m;
    sfu_vp8_munger_init(&m);
    int current = -1, target = 0;
    const fx_packet_t *pk;
    int layer;
    int prev_pid = -1;
    size_t forwarded = 0, switches = 0;
    while ((layer = next_packet(&l, &pk)) >= 0) {
        uint8_t buf[1500];
        memcpy(buf, pk->pkt, pk->len);
        uint32_t ssrc = rtc_be32(buf + 8);
        uint16_t seq = rtc_be16(buf + 2);
        uint32_t ts = rtc_be32(buf + 4);
        sfu_video_info_t vi;
        ck_assert_int_eq(sfu_video_inspect(codec, buf + 12, pk->len - 12u, &vi), RTC_OK);
        uint32_t ts0 = rtc_be32(l.s[layer].pkts[0].pkt + 4);
        int frame = (int)((ts - ts0) / 3000);
        if (layer == 2 && frame == 12 && vi.keyframe) target = 2;
        if (layer == 1 && frame == 20 && vi.keyframe) target = 1;
        bool resync = false;
        if (layer == target && layer != current && vi.keyframe) {
            resync = true;
            current = layer;
            switches++;
        }
        if (layer != current) continue;
        uint16_t os;
        uint32_t ot;
        ck_assert_int_eq(sfu_rewriter_map(&r, ssrc, seq, ts, resync, RTC_MS(pk->arrival_ms), &os, &ot),
                         SFU_RW_FORWARD);
        rtc_put_be16(buf + 2, os);
        rtc_put_be32(buf + 4, ot);
        rtc_put_be32(buf + 8, 0x5f5f5f5f);
        if (codec == SFU_CODEC_VP8) {
            ck_assert_int_eq(sfu_vp8_munger_rewrite(&m, ssrc, resync, buf + 12, pk->len - 12u), RTC_OK);
            sfu_vp8_desc_t d;
            sfu_vp8_desc_parse(buf + 12, pk->len - 12u, &d);
            /* Picture IDs go up by one per frame, across switches too. */
            if (prev_pid >= 0 && d.picture_id != prev_pid)
                ck_assert_uint_eq(d.picture_id, (uint16_t)((prev_pid + 1) & 0x7fff));
            prev_pid = d.picture_id;
        }
        write_record(f, pk->arrival_ms, buf, pk->len);
        forwarded++;
    }
    fclose(f);
    ck_assert_uint_eq(switches, 3);
    ck_assert_uint_eq(r.switches, 2);
    ck_assert_uint_gt(forwarded, 30);
    if (have_decoder()) {
        char out[8192];
        int st = run_decoder(codec_name, path, out, sizeof out);
        ck_assert_msg(st == 0, "decoder rejected the spliced %s stream:\n%s", codec_name, out);
        /* 13 frames of q (its frame 12 arrives just before f's keyframe of frame 12, so
         * both are forwarded, two timestamps apart), 8 of f, 10 of h. */
        char expect[1024] = "";
        for (int i = 0; i < 31; i++)
            strcat(expect, i < 13 ? "80x46\n" : i < 21 ? "320x180\n" : "160x90\n");
        strcat(expect, "frames 31 decoded 31\n");
        ck_assert_str_eq(out, expect);
    } else {
        fprintf(stderr, "test_sfu_rewriter: aiortc/PyAV missing, decode check skipped\n");
    }
    unlink(path);
    for (int i = 0; i < 3; i++) fx_free(&l.s[i]);
}

START_TEST(test_splice_real_vp8_layers_decodes) { splice("vp8", SFU_CODEC_VP8); }
END_TEST

START_TEST(test_splice_real_h264_layers_decodes) { splice("h264", SFU_CODEC_H264); }
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_rewriter");
    TCase *tc = tcase_create("rewriter");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_single_source_is_continuous_from_initial_values);
    tcase_add_test(tc, test_switch_continues_seq_and_advances_ts_by_elapsed_time);
    tcase_add_test(tc, test_reordering_and_duplicates);
    tcase_add_test(tc, test_skip_leaves_no_gap);
    tcase_add_test(tc, test_vp8_picture_ids_continue_across_switches);
    tcase_add_test(tc, test_splice_real_vp8_layers_decodes);
    tcase_add_test(tc, test_splice_real_h264_layers_decodes);
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
