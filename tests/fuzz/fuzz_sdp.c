/* libFuzzer target for sdp/: parse -> write -> parse must not crash and must be stable (the
 * second parse succeeds, gives an equal model, and writes the same bytes). Parsed offers are
 * also answered with the JSEP helpers, and the answer negotiated and re-parsed, so the answer
 * builder sees hostile offers too. Candidate lines are fed to the candidate parser alone. */
#include <stdio.h>
#include <stdlib.h>

#include "rtc/sdp.h"

static void check(bool ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_sdp: %s\n", what);
        __builtin_trap();
    }
}

static const rtc_sdp_codec_t codecs_a[] = {
    {.pt = 111, .name = "opus", .clock = 48000, .channels = 2, .fmtp = "minptime=10"},
    {.pt = 63, .name = "red", .clock = 48000, .channels = 2, .fmtp = "111/111"},
    {.pt = 0, .name = "PCMU", .clock = 8000},
};
static const rtc_sdp_codec_t codecs_v[] = {
    {.pt = 96, .name = "VP8", .clock = 90000},
    {.pt = 97, .name = "rtx", .clock = 90000, .fmtp = "apt=96"},
    {.pt = 102, .name = "H264", .clock = 90000, .fmtp = "packetization-mode=1;profile-level-id=42e01f"},
    {.pt = 98, .name = "VP9", .clock = 90000, .fmtp = "profile-id=0"},
    {.pt = 118, .name = "red", .clock = 90000},
    {.pt = 120, .name = "ulpfec", .clock = 90000},
};
static const rtc_sdp_extmap_t ext[] = {
    {.id = 4, .uri = "urn:ietf:params:rtp-hdrext:sdes:mid"},
    {.id = 10, .uri = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"},
};
static const char *const rids[] = {"h", "l"};
static const uint32_t ssrcs[] = {1, 2}, rtx[] = {3, 4};

static void answer(const rtc_sdp_t *offer) {
    rtc_sdp_fingerprint_t fp = {"sha-256", "AA:BB"};
    rtc_jsep_local_t l = {.session_id = "1", .ice_ufrag = "abcd", .ice_pwd = "abcdefghijklmnopqrstuv",
                          .fingerprints = &fp, .n_fingerprints = 1, .trickle = true};
    rtc_jsep_section_t t[3] = {
        {.kind = RTC_SDP_MEDIA_AUDIO, .direction = RTC_SDP_DIR_SENDRECV, .codecs = codecs_a, .n_codecs = 3,
         .extmaps = ext, .n_extmaps = 2, .track_id = "t", .cname = "c", .ssrcs = ssrcs, .n_ssrcs = 1},
        {.kind = RTC_SDP_MEDIA_VIDEO, .direction = RTC_SDP_DIR_SENDRECV, .codecs = codecs_v, .n_codecs = 6,
         .extmaps = ext, .n_extmaps = 2, .receive_simulcast = true, .send_rids = rids, .n_send_rids = 2,
         .ssrcs = ssrcs, .rtx_ssrcs = rtx, .n_ssrcs = 2, .cname = "c"},
        {.kind = RTC_SDP_MEDIA_APPLICATION},
    };
    rtc_sdp_t a;
    if (rtc_jsep_create_answer(offer, &l, t, 3, &a) != RTC_OK) return;
    rtc_jsep_result_t r;
    if (rtc_jsep_negotiate(offer, &a, false, &r) == RTC_OK) rtc_jsep_result_free(&r);
    rtc_buf_t b;
    rtc_buf_init(&b);
    if (rtc_sdp_write(&a, &b) == RTC_OK) {
        rtc_sdp_t back;
        check(rtc_sdp_parse(b.data, b.len, &back, NULL) == RTC_OK, "our answer does not parse");
        rtc_sdp_free(&back);
    }
    rtc_buf_free(&b);
    rtc_sdp_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) {
        rtc_log_set_level(RTC_LOG_OFF);
        quiet = true;
    }
    rtc_sdp_candidate_t c;
    if (size < 1024 && rtc_sdp_candidate_parse((const char *)data, size, &c, NULL) == RTC_OK) {
        char out[2048];
        int n = rtc_sdp_candidate_format(&c, out, sizeof out);
        check(n > 0, "candidate does not format");
        rtc_sdp_candidate_t c2;
        check(rtc_sdp_candidate_parse(out, (size_t)n, &c2, NULL) == RTC_OK, "formatted candidate does not parse");
        char out2[2048];
        check(rtc_sdp_candidate_format(&c2, out2, sizeof out2) == n && !memcmp(out, out2, (size_t)n),
              "candidate round trip unstable");
    }

    rtc_sdp_t a;
    rtc_sdp_error_t err;
    if (rtc_sdp_parse(data, size, &a, &err) != RTC_OK) {
        rtc_sdp_free(&a);
        return 0;
    }
    rtc_buf_t w1, w2;
    rtc_buf_init(&w1);
    rtc_buf_init(&w2);
    int rc = rtc_sdp_write(&a, &w1);
    check(rc == RTC_OK, "parsed description does not write");
    rtc_sdp_t b;
    rc = rtc_sdp_parse(w1.data, w1.len, &b, &err);
    if (rc != RTC_OK) fprintf(stderr, "reparse: line %u \"%s\": %s\n", err.line, err.text, err.reason);
    check(rc == RTC_OK, "written description does not parse");
    check(rtc_sdp_equal(&a, &b), "parse/write/parse changed the model");
    check(rtc_sdp_write(&b, &w2) == RTC_OK, "second write failed");
    check(w1.len == w2.len && !memcmp(w1.data, w2.data, w1.len), "second write differs");
    answer(&a);
    for (size_t i = 0; i < a.n_media; i++)
        for (size_t k = 0; k < a.media[i].n_codecs; k++) {
            rtc_h264_plid_t p;
            rtc_h264_plid_from_fmtp(a.media[i].codecs[k].fmtp, &p);
        }
    rtc_buf_free(&w1);
    rtc_buf_free(&w2);
    rtc_sdp_free(&a);
    rtc_sdp_free(&b);
    return 0;
}
