/* The loadtest's IVF reader/writer (loadtest/ivf.c) and its remote candidate filter
 * (loadtest/sdp_filter.c). The IVF layout is checked byte by byte against the format libvpx's
 * tools write (32-byte "DKIF" header, 12-byte frame headers, little endian) and against
 * FFmpeg's IVF demuxer (PyAV) reading a file we wrote. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivf.h"
#include "sdp_filter.h"

/* ---- IVF ------------------------------------------------------------------------------- */

typedef struct {
    int n;
    size_t sizes[8];
    uint64_t pts[8];
    uint8_t first[8];
    int stop_at;
} frames_t;

static int on_frame(void *user, const uint8_t *f, size_t n, uint64_t pts) {
    frames_t *fr = user;
    if (fr->stop_at && fr->n == fr->stop_at) return 42;
    if (fr->n < 8) {
        fr->sizes[fr->n] = n;
        fr->pts[fr->n] = pts;
        fr->first[fr->n] = n ? f[0] : 0;
    }
    fr->n++;
    return 0;
}

static void write_sample(rtc_buf_t *b) {
    lt_ivf_write_header(b, "VP80", 640, 360, 30, 1, 3);
    const uint8_t f0[5] = {0x10, 1, 2, 3, 4}, f2[1] = {0x31};
    lt_ivf_write_frame(b, f0, sizeof f0, 0);
    lt_ivf_write_frame(b, NULL, 0, 1);
    lt_ivf_write_frame(b, f2, sizeof f2, 0x100000002ull); /* a pts over 32 bits */
}

START_TEST(ivf_layout_and_round_trip) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    write_sample(&b);
    ck_assert_uint_eq(b.len, 32 + 12 + 5 + 12 + 12 + 1);
    const uint8_t hdr[32] = {'D', 'K', 'I', 'F', 0, 0, 32, 0, 'V', 'P', '8', '0', 0x80, 0x02, 0x68, 0x01,
                             30, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
    ck_assert(memcmp(b.data, hdr, 32) == 0);
    const uint8_t fh[12] = {5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ck_assert(memcmp(b.data + 32, fh, 12) == 0);
    lt_ivf_info_t info;
    frames_t fr = {0};
    ck_assert_int_eq(lt_ivf_parse(b.data, b.len, &info, on_frame, &fr), 3);
    ck_assert_str_eq(info.fourcc, "VP80");
    ck_assert_uint_eq(info.width, 640);
    ck_assert_uint_eq(info.height, 360);
    ck_assert_uint_eq(info.rate, 30);
    ck_assert_uint_eq(info.scale, 1);
    ck_assert_uint_eq(info.frames, 3);
    ck_assert_int_eq(fr.n, 3);
    ck_assert_uint_eq(fr.sizes[0], 5);
    ck_assert_uint_eq(fr.first[0], 0x10);
    ck_assert_uint_eq(fr.sizes[1], 0);
    ck_assert_uint_eq(fr.pts[1], 1);
    ck_assert_uint_eq(fr.pts[2], 0x100000002ull);
    ck_assert_uint_eq(fr.first[2], 0x31);
    /* The callback's non-zero value stops the walk and is returned. */
    frames_t stop = {.stop_at = 1};
    ck_assert_int_eq(lt_ivf_parse(b.data, b.len, &info, on_frame, &stop), 42);
    ck_assert_int_eq(stop.n, 1);
    /* No callback: frames are only counted. */
    ck_assert_int_eq(lt_ivf_parse(b.data, b.len, &info, NULL, NULL), 3);
    rtc_buf_free(&b);
}
END_TEST

START_TEST(ivf_bad_input_refused) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    write_sample(&b);
    lt_ivf_info_t info;
    /* Every truncation inside a header or a frame is malformed; cuts at frame boundaries are
     * complete files with fewer frames. */
    for (size_t n = 0; n < b.len; n++) {
        int rc = lt_ivf_parse(b.data, n, &info, NULL, NULL);
        if (n == 32) ck_assert_int_eq(rc, 0);
        else if (n == 32 + 12 + 5) ck_assert_int_eq(rc, 1);
        else if (n == 32 + 12 + 5 + 12) ck_assert_int_eq(rc, 2);
        else ck_assert_int_eq(rc, RTC_ERR_MALFORMED);
    }
    uint8_t *p = malloc(b.len);
    memcpy(p, b.data, b.len);
    p[0] = 'X'; /* signature */
    ck_assert_int_eq(lt_ivf_parse(p, b.len, &info, NULL, NULL), RTC_ERR_MALFORMED);
    memcpy(p, b.data, b.len);
    p[6] = 16; /* header size under 32 */
    ck_assert_int_eq(lt_ivf_parse(p, b.len, &info, NULL, NULL), RTC_ERR_MALFORMED);
    memcpy(p, b.data, b.len);
    p[6] = 0xff; p[7] = 0xff; /* header size past the end */
    ck_assert_int_eq(lt_ivf_parse(p, b.len, &info, NULL, NULL), RTC_ERR_MALFORMED);
    memcpy(p, b.data, b.len);
    p[32] = 0xff; p[33] = 0xff; p[34] = 0xff; p[35] = 0xff; /* frame size 4 GiB */
    ck_assert_int_eq(lt_ivf_parse(p, b.len, &info, NULL, NULL), RTC_ERR_MALFORMED);
    /* A longer header (allowed by the format) is skipped. */
    rtc_buf_t l;
    rtc_buf_init(&l);
    rtc_buf_append(&l, b.data, 32);
    l.data[6] = 40;
    rtc_buf_append(&l, "\0\0\0\0\0\0\0\0", 8);
    rtc_buf_append(&l, b.data + 32, b.len - 32);
    ck_assert_int_eq(lt_ivf_parse(l.data, l.len, &info, NULL, NULL), 3);
    rtc_buf_free(&l);
    free(p);
    rtc_buf_free(&b);
}
END_TEST

/* FFmpeg's IVF demuxer (an implementation nobody here wrote, through PyAV: python3-av) reads
 * what we write: codec, size, every frame's size and pts. */
START_TEST(ivf_read_by_ffmpeg) {
    char path[] = "/tmp/test_loadtest_ivf_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    rtc_buf_t b;
    rtc_buf_init(&b);
    lt_ivf_write_header(&b, "VP80", 320, 240, 30, 1, 4);
    uint8_t f[100];
    for (int i = 0; i < 4; i++) {
        memset(f, i, sizeof f);
        lt_ivf_write_frame(&b, f, 50 + (size_t)i * 10, (uint64_t)i);
    }
    ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    rtc_buf_free(&b);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import av, sys\n"
             "c = av.open(sys.argv[1])\n"
             "s = c.streams.video[0]\n"
             "print(c.format.name, s.codec_context.name, s.codec_context.width, s.codec_context.height)\n"
             "print(\" \".join(\"%%d:%%d\" %% (p.pts, p.size) for p in c.demux(s) if p.size))' %s",
             path);
    FILE *pf = popen(cmd, "r");
    ck_assert_ptr_nonnull(pf);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, pf);
    out[n] = '\0';
    int st = pclose(pf);
    unlink(path);
    ck_assert_msg(st == 0, "python3-av: %s", out);
    ck_assert_msg(strstr(out, "ivf vp8 320 240\n0:50 1:60 2:70 3:80\n"), "python3-av: %s", out);
}
END_TEST

/* ---- candidate filter --------------------------------------------------------------------- */

static bool allow_lo_and_10_207(void *user, const rtc_addr_t *a) {
    (*(int *)user)++;
    rtc_addr_t pfx;
    rtc_addr_parse_ip(&pfx, "10.207.0.0", 0);
    return rtc_addr_is_loopback(a) || rtc_addr_in_prefix(a, &pfx, 24);
}

START_TEST(candidate_allowed_by_address) {
    int calls = 0;
#define OK(s) lt_candidate_allowed(s, strlen(s), allow_lo_and_10_207, &calls)
    ck_assert(OK("candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"));
    ck_assert(OK("a=candidate:1 1 udp 2130706431 10.207.0.1 20123 typ host"));
    ck_assert(OK("candidate:1 1 udp 2130706431 ::1 40000 typ host"));
    ck_assert(!OK("candidate:2 1 udp 2130706431 172.17.0.5 40000 typ host"));
    ck_assert(!OK("candidate:3 1 udp 1694498815 203.0.113.9 40000 typ srflx raddr 10.207.0.1 rport 1"));
    ck_assert_int_eq(calls, 5);
    /* Not parsable, or a name instead of an address: refused without asking. */
    ck_assert(!OK("candidate:garbage"));
    ck_assert(!OK(""));
    ck_assert(!OK("candidate:4 1 udp 2130706431 3f1c1c3e-6c4a-4a2f-9d3e-2b5f0c0d1e2f.local 40000 typ host"));
    ck_assert_int_eq(calls, 5);
#undef OK
}
END_TEST

START_TEST(sdp_filter_drops_only_refused_lines) {
    const char *sdp = "v=0\r\n"
                      "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                      "a=candidate:1 1 udp 2130706431 10.207.0.1 20001 typ host\r\n"
                      "a=candidate:2 1 udp 2130706431 172.17.0.5 20001 typ host\r\n"
                      "a=candidate:3 1 udp 2130706431 127.0.0.1 20002 typ host\r\n"
                      "a=candidate:bad\r\n"
                      "a=end-of-candidates\r\n"
                      "a=candidate:5 1 udp 2130706431 192.0.2.1 9 typ host"; /* no final CRLF */
    const char *want = "v=0\r\n"
                       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                       "a=candidate:1 1 udp 2130706431 10.207.0.1 20001 typ host\r\n"
                       "a=candidate:3 1 udp 2130706431 127.0.0.1 20002 typ host\r\n"
                       "a=end-of-candidates\r\n";
    int calls = 0;
    rtc_buf_t out;
    rtc_buf_init(&out);
    ck_assert_int_eq(lt_sdp_filter_candidates(sdp, strlen(sdp), allow_lo_and_10_207, &calls, &out), 3);
    ck_assert_uint_eq(out.len, strlen(want));
    ck_assert_str_eq((const char *)out.data, want); /* NUL-terminated */
    /* LF-only line endings are kept as they were. */
    rtc_buf_clear(&out);
    const char *lf = "a=candidate:2 1 udp 1 172.17.0.5 1 typ host\na=x\n";
    ck_assert_int_eq(lt_sdp_filter_candidates(lf, strlen(lf), allow_lo_and_10_207, &calls, &out), 1);
    ck_assert_str_eq((const char *)out.data, "a=x\n");
    /* Empty input: empty output, still terminated. */
    rtc_buf_clear(&out);
    ck_assert_int_eq(lt_sdp_filter_candidates("", 0, allow_lo_and_10_207, &calls, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_str_eq((const char *)out.data, "");
    rtc_buf_free(&out);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    Suite *s = suite_create("loadtest_media");
    TCase *tc = tcase_create("ivf");
    tcase_add_test(tc, ivf_layout_and_round_trip);
    tcase_add_test(tc, ivf_bad_input_refused);
    tcase_add_test(tc, ivf_read_by_ffmpeg);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("candidate_filter");
    tcase_add_test(tf, candidate_allowed_by_address);
    tcase_add_test(tf, sdp_filter_drops_only_refused_lines);
    suite_add_tcase(s, tf);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
