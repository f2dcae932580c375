/* bench_rtp: nanoseconds per packet for RTP and RTCP parsing at about 160 and 1200 bytes.
 *
 *   bench_rtp [iterations]     (default 2,000,000)
 *
 * Cases:
 *   rtp-parse            rtc_rtp_header_parse of a packet with abs-send-time, transport-cc
 *                        and mid one-byte extensions (as Chrome sends video), plus a lookup
 *                        of the transport-cc value through the negotiated map
 *   rtp-set-twcc         in-place rewrite of the transport-cc value (SFU forwarding)
 *   rtcp-parse           rtc_rtcp_iter_next over a whole compound packet (each sub-packet
 *                        parsed and length-checked): 160 B = SR(1 block) + SDES + REMB + PLI;
 *                        1200 B = RR(31 blocks) + SDES + NACK + TWCC feedback
 *   twcc-walk            parse of one TWCC feedback plus rtc_rtcp_twcc_next over every status
 * Prints a table; numbers depend on the machine, so nothing here asserts on them. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rtc/rtp.h"

static volatile uint64_t sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int make_rtp(uint8_t *out, size_t size) {
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = 96;
    h.seq = 4242;
    h.timestamp = 123456789;
    h.ssrc = 0xdeadbeef;
    uint8_t ast[3], tw[2], mid[1] = {'0'};
    rtc_rtp_ext_write_abs_send_time(0x123456, ast);
    rtc_rtp_ext_write_twcc(777, tw);
    rtc_rtp_ext_t e[3] = {{.id = 2, .len = 3, .data = ast}, {.id = 4, .len = 2, .data = tw}, {.id = 9, .len = 1, .data = mid}};
    static uint8_t payload[1500];
    size_t hl = 12 + 4 + 12;
    return rtc_rtp_packet_write(&h, e, 3, false, payload, size - hl, 0, out, 1500);
}

static size_t make_rtcp_small(uint8_t *out) {
    rtc_writer_t w;
    rtc_writer_init(&w, out, 1500);
    rtc_rtcp_report_t sr;
    memset(&sr, 0, sizeof sr);
    sr.ssrc = 1;
    sr.has_sender_info = true;
    sr.sender = (rtc_rtcp_sender_info_t){0xe000000100000000ULL, 1, 2, 3};
    sr.report_count = 1;
    sr.reports[0] = (rtc_rtcp_report_block_t){2, 3, 4, 5, 6, 7, 8};
    rtc_rtcp_write_report(&w, &sr);
    rtc_rtcp_write_sdes_cname(&w, 1, "0123456789abcdef0123456789abcdef0123");
    uint32_t ssrcs[2] = {2, 3};
    rtc_rtcp_write_remb(&w, 1, 1500000, ssrcs, 2);
    rtc_rtcp_write_pli(&w, 1, 2);
    return w.len;
}

static size_t make_twcc(rtc_writer_t *w, size_t n) {
    static rtc_rtcp_twcc_packet_t p[4000];
    if (n > 4000) n = 4000;
    int64_t t = 100 * (int64_t)64000;
    for (size_t i = 0; i < n; i++) {
        p[i].seq = (uint16_t)(1000 + i);
        bool lost = i % 23 == 7;
        p[i].status = lost ? RTC_RTCP_TWCC_NOT_RECEIVED : RTC_RTCP_TWCC_SMALL_DELTA;
        t += (i % 11 == 0) ? 70000 : 1000 + 250 * (int64_t)(i % 4);
        p[i].arrival_us = lost ? -1 : t;
    }
    size_t before = w->len;
    rtc_rtcp_write_twcc(w, 1, 2, 1000, 100, 9, p, n);
    return w->len - before;
}

static size_t make_rtcp_large(uint8_t *out) {
    rtc_writer_t w;
    rtc_writer_init(&w, out, 1500);
    rtc_rtcp_report_t rr;
    memset(&rr, 0, sizeof rr);
    rr.ssrc = 1;
    rr.report_count = 31;
    for (int i = 0; i < 31; i++) rr.reports[i] = (rtc_rtcp_report_block_t){(uint32_t)(100 + i), 1, 2, 3, 4, 5, 6};
    rtc_rtcp_write_report(&w, &rr);
    rtc_rtcp_write_sdes_cname(&w, 1, "0123456789abcdef0123456789abcdef0123");
    uint16_t seqs[40];
    for (int i = 0; i < 40; i++) seqs[i] = (uint16_t)(500 + i * 3);
    rtc_rtcp_write_nack(&w, 1, 2, seqs, 40);
    /* fill up to ~1200 bytes with one TWCC feedback */
    size_t n = 10;
    uint8_t probe[1500];
    for (; n < 3990; n += 10) {
        rtc_writer_t pw;
        rtc_writer_init(&pw, probe, sizeof probe);
        if (w.len + make_twcc(&pw, n + 10) > 1200) break;
    }
    make_twcc(&w, n);
    return w.len;
}

typedef double (*bench_fn)(const uint8_t *p, size_t n, long iters);

static double bench_rtp_parse(const uint8_t *p, size_t n, long iters) {
    rtc_rtp_ext_map_t m;
    rtc_rtp_ext_map_init(&m);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_TWCC, 4);
    uint64_t acc = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        rtc_rtp_header_t h;
        if (rtc_rtp_header_parse(p, n, &h) == RTC_OK) {
            uint16_t s = 0;
            rtc_rtp_ext_parse_twcc(rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_TWCC), &s);
            acc += s + h.payload_len;
        }
    }
    double t = now_ns() - t0;
    sink += acc;
    return t / (double)iters;
}

static double bench_rtp_set(const uint8_t *p, size_t n, long iters) {
    uint8_t buf[1500];
    memcpy(buf, p, n);
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        size_t len = n;
        uint8_t v[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        rtc_rtp_ext_set(buf, &len, sizeof buf, 4, v, 2);
        rtc_rtp_set_seq(buf, len, (uint16_t)i);
    }
    double t = now_ns() - t0;
    sink += buf[20];
    return t / (double)iters;
}

static double bench_rtcp_parse(const uint8_t *p, size_t n, long iters) {
    uint64_t acc = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        rtc_rtcp_iter_t it;
        rtc_rtcp_packet_t pkt;
        rtc_rtcp_iter_init(&it, p, n);
        while (rtc_rtcp_iter_next(&it, &pkt) == 1) acc += pkt.kind;
    }
    double t = now_ns() - t0;
    sink += acc;
    return t / (double)iters;
}

static double bench_twcc_walk(const uint8_t *p, size_t n, long iters) {
    uint64_t acc = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        rtc_rtcp_packet_t pkt;
        if (rtc_rtcp_parse(p, n, &pkt) <= 0) continue;
        rtc_rtcp_twcc_iter_t it;
        rtc_rtcp_twcc_packet_t tp;
        rtc_rtcp_twcc_iter_init(&it, &pkt.u.twcc);
        while (rtc_rtcp_twcc_next(&it, &tp) == 1) acc += (uint64_t)tp.arrival_us;
    }
    double t = now_ns() - t0;
    sink += acc;
    return t / (double)iters;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    if (iters <= 0) iters = 2000000;
    rtc_log_set_level(RTC_LOG_OFF);
    static uint8_t rtp160[1500], rtp1200[1500], rtcp_s[1500], rtcp_l[1500], twcc_s[1500], twcc_l[1500];
    int r160 = make_rtp(rtp160, 160), r1200 = make_rtp(rtp1200, 1200);
    size_t cs = make_rtcp_small(rtcp_s), cl = make_rtcp_large(rtcp_l);
    rtc_writer_t w;
    rtc_writer_init(&w, twcc_s, sizeof twcc_s);
    size_t ts = make_twcc(&w, 40);
    rtc_writer_init(&w, twcc_l, sizeof twcc_l);
    size_t n = 10;
    for (; n < 3990; n += 10) {
        rtc_writer_t pw;
        uint8_t probe[1500];
        rtc_writer_init(&pw, probe, sizeof probe);
        if (make_twcc(&pw, n + 10) > 1200) break;
    }
    size_t tl = make_twcc(&w, n);
    struct { const char *name; bench_fn fn; const uint8_t *p; size_t n; } cases[] = {
        {"rtp-parse", bench_rtp_parse, rtp160, (size_t)r160},
        {"rtp-parse", bench_rtp_parse, rtp1200, (size_t)r1200},
        {"rtp-set-twcc", bench_rtp_set, rtp160, (size_t)r160},
        {"rtp-set-twcc", bench_rtp_set, rtp1200, (size_t)r1200},
        {"rtcp-parse", bench_rtcp_parse, rtcp_s, cs},
        {"rtcp-parse", bench_rtcp_parse, rtcp_l, cl},
        {"twcc-walk", bench_twcc_walk, twcc_s, ts},
        {"twcc-walk", bench_twcc_walk, twcc_l, tl},
    };
    printf("%-14s %7s %12s %14s\n", "case", "bytes", "ns/packet", "Mpackets/s");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cases[i].fn(cases[i].p, cases[i].n, iters / 10); /* warm up */
        double ns = cases[i].fn(cases[i].p, cases[i].n, iters);
        printf("%-14s %7zu %12.1f %14.2f\n", cases[i].name, cases[i].n, ns, 1e3 / ns);
    }
    return sink == 42 ? 1 : 0;
}
