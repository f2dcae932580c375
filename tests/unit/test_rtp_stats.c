/* Receive statistics (RFC 3550 A.1/A.3/A.8, 6.4.1 LSR/DLSR), send statistics and RTT, the
 * NACK generator and the send-side packet history, all driven by a fake clock (plain
 * rtc_time_t values passed in). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/rtp.h"

START_TEST(receive_stats_loss_fraction_and_extended_seq) {
    rtc_rtp_recv_stats_t *s = rtc_rtp_recv_stats_new(0xabc, 90000);
    rtc_time_t t = RTC_SEC(10);
    /* 100 packets from 65500 across the wrap, every 10th lost (10 lost) */
    int received = 0;
    for (int i = 0; i < 100; i++, t += RTC_MS(20)) {
        if (i % 10 == 5) continue;
        rtc_rtp_recv_stats_on_packet(s, (uint16_t)(65500 + i), (uint32_t)(i * 1800), 1000, false, t);
        received++;
    }
    rtc_rtcp_report_block_t rb;
    ck_assert_int_eq(rtc_rtp_recv_stats_report_block(s, t, &rb), RTC_OK);
    ck_assert_uint_eq(rb.ssrc, 0xabc);
    ck_assert_uint_eq(rb.ext_highest_seq, 65536 + (65500 + 99 - 65536));
    ck_assert_int_eq(rb.cumulative_lost, 10);
    ck_assert_uint_eq(rb.fraction_lost, 10 * 256 / 100);
    ck_assert_uint_eq(rb.jitter, 0); /* perfectly paced */
    ck_assert_uint_eq(rb.lsr, 0);
    ck_assert_uint_eq(rb.dlsr, 0);
    rtc_rtp_recv_stats_info_t info;
    rtc_rtp_recv_stats_get(s, &info);
    ck_assert_uint_eq(info.packets, (uint64_t)received);
    ck_assert_uint_eq(info.bytes, (uint64_t)received * 1000);
    /* next interval: 50 packets, 2 lost, plus one late duplicate */
    for (int i = 100; i < 150; i++, t += RTC_MS(20)) {
        if (i == 120 || i == 121) continue;
        rtc_rtp_recv_stats_on_packet(s, (uint16_t)(65500 + i), (uint32_t)(i * 1800), 1000, false, t);
    }
    ck_assert_int_eq(rtc_rtp_recv_stats_report_block(s, t, &rb), RTC_OK);
    ck_assert_int_eq(rb.cumulative_lost, 12);
    ck_assert_uint_eq(rb.fraction_lost, 2 * 256 / 50);
    /* an interval with duplicates only: received > expected, fraction clamps at 0 */
    rtc_rtp_recv_stats_on_packet(s, (uint16_t)(65500 + 149), 149 * 1800, 1000, false, t);
    ck_assert_int_eq(rtc_rtp_recv_stats_report_block(s, t, &rb), RTC_OK);
    ck_assert_uint_eq(rb.fraction_lost, 0);
    ck_assert_int_eq(rb.cumulative_lost, 11);
    rtc_rtp_recv_stats_free(s);
    /* nothing received yet */
    s = rtc_rtp_recv_stats_new(1, 48000);
    ck_assert_int_eq(rtc_rtp_recv_stats_report_block(s, 0, &rb), RTC_ERR_STATE);
    rtc_rtp_recv_stats_free(s);
    ck_assert_ptr_null(rtc_rtp_recv_stats_new(1, 0));
}
END_TEST

START_TEST(receive_stats_jitter_per_rfc3550_a8) {
    rtc_rtp_recv_stats_t *s = rtc_rtp_recv_stats_new(1, 90000);
    /* Packets every 20 ms of media, arrivals alternately on time and 10 ms late: every
     * transit difference D is 900 RTP units, so J_n = 900 * (1 - (15/16)^n). */
    rtc_time_t base = RTC_SEC(1);
    int n = 40;
    for (int i = 0; i <= n; i++) {
        rtc_time_t at = base + i * RTC_MS(20) + ((i & 1) ? RTC_MS(10) : 0);
        rtc_rtp_recv_stats_on_packet(s, (uint16_t)i, (uint32_t)(1000 + i * 1800), 200, false, at);
    }
    rtc_rtp_recv_stats_info_t info;
    rtc_rtp_recv_stats_get(s, &info);
    double expect = 900.0 * (1 - pow(15.0 / 16.0, n));
    ck_assert_double_eq_tol(info.jitter, expect, 1e-6);
    /* retransmissions count as received but leave jitter alone */
    rtc_rtp_recv_stats_on_packet(s, (uint16_t)(n + 1), 1000 + (n + 1) * 1800, 200, true, base + RTC_SEC(30));
    rtc_rtp_recv_stats_t *cp = s;
    rtc_rtp_recv_stats_get(cp, &info);
    ck_assert_double_eq_tol(info.jitter, expect, 1e-6);
    ck_assert_uint_eq(info.packets, (uint64_t)n + 2);
    rtc_rtp_recv_stats_free(s);
}
END_TEST

START_TEST(receive_stats_resync_after_large_jump) {
    rtc_rtp_recv_stats_t *s = rtc_rtp_recv_stats_new(1, 90000);
    for (int i = 0; i < 10; i++) rtc_rtp_recv_stats_on_packet(s, (uint16_t)(100 + i), 0, 10, false, RTC_MS(i));
    /* a jump of 20000: ignored once (A.1 bad_seq), accepted when the next one follows */
    rtc_rtp_recv_stats_on_packet(s, 20000, 0, 10, false, RTC_MS(20));
    rtc_rtp_recv_stats_info_t info;
    rtc_rtp_recv_stats_get(s, &info);
    ck_assert_uint_eq(info.ext_highest_seq, 109);
    ck_assert_uint_eq(info.packets, 10);
    rtc_rtp_recv_stats_on_packet(s, 20001, 0, 10, false, RTC_MS(21));
    rtc_rtp_recv_stats_get(s, &info);
    ck_assert_uint_eq(info.base_seq, 20001);
    ck_assert_uint_eq(info.ext_highest_seq, 20001);
    ck_assert_int_eq(info.cumulative_lost, 0);
    rtc_rtp_recv_stats_free(s);
}
END_TEST

START_TEST(lsr_dlsr_give_rtt_end_to_end) {
    /* Sender at NTP wall clock W; one-way delay 25 ms each way; receiver holds the SR 1.5 s
     * before reporting. RTT must come out as 50 ms (to 1/65536 s). */
    rtc_rtp_send_stats_t *snd = rtc_rtp_send_stats_new(0x1234, 90000);
    rtc_rtp_recv_stats_t *rcv = rtc_rtp_recv_stats_new(0x1234, 90000);
    int64_t wall0 = 1764000000000000LL; /* unix us */
    rtc_time_t mono0 = RTC_SEC(100);
    for (int i = 0; i < 50; i++) {
        rtc_time_t t = mono0 + i * RTC_MS(33);
        rtc_rtp_send_stats_on_packet(snd, (uint32_t)(i * 3000), 1100, t);
        rtc_rtp_recv_stats_on_packet(rcv, (uint16_t)i, (uint32_t)(i * 3000), 1100, false, t + RTC_MS(25));
    }
    rtc_time_t sr_at = mono0 + 49 * RTC_MS(33) + RTC_MS(10);
    rtc_rtcp_sender_info_t si;
    ck_assert_int_eq(rtc_rtp_send_stats_sender_info(snd, rtc_rtcp_ntp_from_unix_us(wall0 + (sr_at - mono0)), sr_at, &si), RTC_OK);
    ck_assert_uint_eq(si.packet_count, 50);
    ck_assert_uint_eq(si.octet_count, 55000);
    ck_assert_uint_eq(si.rtp_time, 49 * 3000 + 900); /* extrapolated 10 ms at 90 kHz */
    rtc_rtp_recv_stats_on_sr(rcv, si.ntp_time, sr_at + RTC_MS(25));
    rtc_time_t rr_at = sr_at + RTC_MS(25) + RTC_MS(1500);
    rtc_rtcp_report_block_t rb;
    ck_assert_int_eq(rtc_rtp_recv_stats_report_block(rcv, rr_at, &rb), RTC_OK);
    ck_assert_uint_eq(rb.lsr, rtc_rtcp_ntp_mid32(si.ntp_time));
    ck_assert_uint_eq(rb.dlsr, 98304); /* 1.5 s in 1/65536 s */
    rtc_time_t back = rr_at + RTC_MS(25);
    int64_t rtt = rtc_rtp_send_stats_on_report_block(snd, &rb, rtc_rtcp_ntp_from_unix_us(wall0 + (back - mono0)));
    ck_assert_int_le(llabs(rtt - 50000), 32);
    ck_assert_int_eq(rtc_rtp_send_stats_rtt(snd), rtt);
    rtc_rtp_send_stats_free(snd);
    rtc_rtp_recv_stats_free(rcv);
    rtc_rtp_send_stats_t *none = rtc_rtp_send_stats_new(1, 8000);
    ck_assert_int_eq(rtc_rtp_send_stats_sender_info(none, 0, 0, &si), RTC_ERR_STATE);
    rtc_rtp_send_stats_free(none);
}
END_TEST

START_TEST(compound_report_sr_rr_blocks_and_cname) {
    rtc_rtp_send_stats_t *snd = rtc_rtp_send_stats_new(0x5000, 90000);
    rtc_rtp_recv_stats_t *rcv[40];
    for (int k = 0; k < 40; k++) {
        rcv[k] = rtc_rtp_recv_stats_new((uint32_t)(0x100 + k), 48000);
        for (int i = 0; i < 10; i++)
            if (k < 38) rtc_rtp_recv_stats_on_packet(rcv[k], (uint16_t)(i * (1 + (k == 3))), (uint32_t)i * 960, 100, false, RTC_MS(20 * i));
    }
    uint8_t buf[2000];
    rtc_writer_t w;
    /* idle sender: RR from the given SSRC, two receivers, CNAME */
    rtc_writer_init(&w, buf, sizeof buf);
    int n = rtc_rtp_write_compound_report(&w, 0x6000, snd, rcv, 2, "cn@me", 0, RTC_SEC(1));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(rtc_rtcp_validate(buf, (size_t)n, false), 2);
    rtc_rtcp_packet_t pkt;
    ck_assert_int_gt(rtc_rtcp_parse(buf, (size_t)n, &pkt), 0);
    ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_RR);
    ck_assert_uint_eq(pkt.u.report.ssrc, 0x6000);
    ck_assert_uint_eq(pkt.u.report.report_count, 2);
    ck_assert_uint_eq(pkt.u.report.reports[1].ssrc, 0x101);
    ck_assert_uint_eq(pkt.u.report.reports[1].ext_highest_seq, 9);
    /* sending now: SR with 31 blocks, an RR with the remaining 7 (two receivers idle), SDES */
    rtc_rtp_send_stats_on_packet(snd, 1000, 500, RTC_SEC(1));
    rtc_writer_init(&w, buf, sizeof buf);
    n = rtc_rtp_write_compound_report(&w, 0x6000, snd, rcv, 40, "cn@me", rtc_rtcp_ntp_from_unix_us(0), RTC_SEC(2));
    ck_assert_int_eq(rtc_rtcp_validate(buf, (size_t)n, false), 3);
    rtc_rtcp_iter_t it;
    rtc_rtcp_iter_init(&it, buf, (size_t)n);
    ck_assert_int_eq(rtc_rtcp_iter_next(&it, &pkt), 1);
    ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_SR);
    ck_assert_uint_eq(pkt.u.report.ssrc, 0x5000);
    ck_assert_uint_eq(pkt.u.report.report_count, 31);
    ck_assert_uint_eq(pkt.u.report.sender.packet_count, 1);
    ck_assert_uint_eq(pkt.u.report.sender.rtp_time, 1000 + 90000);
    ck_assert_uint_eq(pkt.u.report.reports[3].ext_highest_seq, 18);
    ck_assert_int_eq(pkt.u.report.reports[3].cumulative_lost, 9);
    ck_assert_int_eq(rtc_rtcp_iter_next(&it, &pkt), 1);
    ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_RR);
    ck_assert_uint_eq(pkt.u.report.report_count, 7);
    ck_assert_int_eq(rtc_rtcp_iter_next(&it, &pkt), 1);
    ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_SDES);
    rtc_rtcp_sdes_iter_t si;
    rtc_rtcp_sdes_item_t item;
    rtc_rtcp_sdes_iter_init(&si, &pkt.u.sdes);
    ck_assert_int_eq(rtc_rtcp_sdes_next(&si, &item), 1);
    ck_assert_uint_eq(item.ssrc, 0x5000);
    ck_assert_mem_eq(item.data, "cn@me", 5);
    /* too small a buffer */
    rtc_writer_init(&w, buf, 100);
    ck_assert_int_eq(rtc_rtp_write_compound_report(&w, 0x6000, snd, rcv, 40, "cn@me", 0, RTC_SEC(3)), RTC_ERR_OVERFLOW);
    for (int k = 0; k < 40; k++) rtc_rtp_recv_stats_free(rcv[k]);
    rtc_rtp_send_stats_free(snd);
}
END_TEST

static size_t poll(rtc_rtp_nack_generator_t *g, rtc_time_t now, uint16_t *out) {
    return rtc_rtp_nack_generator_poll(g, now, out, 64);
}

START_TEST(nack_generator_requests_retries_and_paces_by_rtt) {
    rtc_rtp_nack_config_t cfg = {.max_retries = 3};
    rtc_rtp_nack_generator_t *g = rtc_rtp_nack_generator_new(&cfg);
    uint16_t out[64];
    rtc_time_t t = RTC_SEC(1);
    ck_assert_int_eq(rtc_rtp_nack_generator_next_timeout(g), RTC_TIME_NEVER);
    rtc_rtp_nack_generator_on_packet(g, 1, t);
    rtc_rtp_nack_generator_on_packet(g, 2, t);
    rtc_rtp_nack_generator_on_packet(g, 3, t);
    ck_assert_int_eq(rtc_rtp_nack_generator_on_packet(g, 6, t), 2);
    ck_assert_int_eq(rtc_rtp_nack_generator_next_timeout(g), t);
    ck_assert_uint_eq(poll(g, t, out), 2);
    ck_assert_uint_eq(out[0], 4);
    ck_assert_uint_eq(out[1], 5);
    ck_assert_uint_eq(poll(g, t + RTC_MS(10), out), 0);          /* not again within an RTT */
    ck_assert_int_eq(rtc_rtp_nack_generator_next_timeout(g), t + RTC_MS(100)); /* default RTT */
    ck_assert_uint_eq(poll(g, t + RTC_MS(100), out), 2);
    /* 5 arrives (retransmitted): only 4 remains */
    rtc_rtp_nack_generator_on_packet(g, 5, t + RTC_MS(120));
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 1);
    /* shorter RTT: the next request comes sooner */
    rtc_rtp_nack_generator_set_rtt(g, RTC_MS(30));
    ck_assert_int_eq(rtc_rtp_nack_generator_next_timeout(g), t + RTC_MS(130));
    ck_assert_uint_eq(poll(g, t + RTC_MS(130), out), 1);
    ck_assert_uint_eq(out[0], 4);
    ck_assert(!rtc_rtp_nack_generator_take_keyframe_request(g));
    /* third retry was the last; the next poll gives up on 4 and asks for a keyframe */
    ck_assert_uint_eq(poll(g, t + RTC_MS(200), out), 0);
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 0);
    ck_assert_uint_eq(rtc_rtp_nack_generator_given_up(g), 1);
    ck_assert(rtc_rtp_nack_generator_take_keyframe_request(g));
    ck_assert(!rtc_rtp_nack_generator_take_keyframe_request(g));
    rtc_rtp_nack_generator_free(g);
}
END_TEST

START_TEST(nack_generator_wrap_cap_age_and_overflow) {
    rtc_rtp_nack_config_t cfg = {.max_missing = 50, .max_age_us = RTC_MS(500), .min_resend_us = RTC_MS(20)};
    rtc_rtp_nack_generator_t *g = rtc_rtp_nack_generator_new(&cfg);
    uint16_t out[64];
    rtc_rtp_nack_generator_set_rtt(g, RTC_MS(1)); /* below the floor: floor wins */
    rtc_rtp_nack_generator_on_packet(g, 65533, 0);
    rtc_rtp_nack_generator_on_packet(g, 2, 0); /* 65534, 65535, 0, 1 missing across the wrap */
    ck_assert_uint_eq(rtc_rtp_nack_generator_poll(g, 0, out, 3), 3); /* cap respected */
    ck_assert_uint_eq(out[0], 65534);
    ck_assert_uint_eq(out[1], 65535);
    ck_assert_uint_eq(out[2], 0);
    ck_assert_uint_eq(poll(g, 1, out), 1); /* the one left over is still due */
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(poll(g, RTC_MS(10), out), 0);
    ck_assert_uint_eq(poll(g, RTC_MS(20), out), 3);
    /* reordering: an old packet arriving late is removed, a duplicate is ignored */
    rtc_rtp_nack_generator_on_packet(g, 65535, RTC_MS(21));
    rtc_rtp_nack_generator_on_packet(g, 65535, RTC_MS(21));
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 3);
    /* after max_age everything goes */
    ck_assert_uint_eq(poll(g, RTC_MS(600), out), 0);
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 0);
    ck_assert(rtc_rtp_nack_generator_take_keyframe_request(g));
    /* a gap larger than the list: nothing queued, keyframe instead */
    ck_assert_int_eq(rtc_rtp_nack_generator_on_packet(g, 200, RTC_MS(700)), 0);
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 0);
    ck_assert(rtc_rtp_nack_generator_take_keyframe_request(g));
    /* list overflow over several gaps drops the oldest */
    for (int k = 0; k < 6; k++) rtc_rtp_nack_generator_on_packet(g, (uint16_t)(200 + 11 * (k + 1)), RTC_MS(701));
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(g), 50);
    ck_assert(rtc_rtp_nack_generator_take_keyframe_request(g));
    ck_assert_uint_eq(rtc_rtp_nack_generator_poll(g, RTC_MS(701), out, 64), 50);
    ck_assert_uint_eq(out[0], 212); /* 201..210 dropped, 211 arrived */
    rtc_rtp_nack_generator_free(g);
}
END_TEST

static int make_packet(uint8_t *out, size_t cap, uint16_t seq, uint8_t pt, size_t payload_len) {
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = pt;
    h.seq = seq;
    h.timestamp = (uint32_t)seq * 3000;
    h.ssrc = 0x5eed;
    uint8_t payload[1200];
    for (size_t i = 0; i < payload_len; i++) payload[i] = (uint8_t)(seq + i);
    return rtc_rtp_packet_write(&h, NULL, 0, false, payload, payload_len, 0, out, cap);
}

START_TEST(history_answers_nacks_with_pacing_and_rtx) {
    rtc_rtp_history_t *h = rtc_rtp_history_new(64, 1500);
    uint8_t p[1500], out[1500];
    for (int s = 1; s <= 100; s++) {
        int n = make_packet(p, sizeof p, (uint16_t)s, 96, 100 + (size_t)s);
        ck_assert_int_eq(rtc_rtp_history_put(h, p, (size_t)n, RTC_MS(s)), RTC_OK);
    }
    /* seq 50 is stored: plain retransmission is the same bytes */
    int n = make_packet(p, sizeof p, 50, 96, 150);
    ck_assert_int_eq(rtc_rtp_history_resend(h, 50, RTC_MS(200), out, sizeof out), n);
    ck_assert_mem_eq(out, p, (size_t)n);
    /* a second NACK within an RTT is paced out; after the RTT it goes again */
    ck_assert_int_eq(rtc_rtp_history_resend(h, 50, RTC_MS(250), out, sizeof out), RTC_ERR_AGAIN);
    ck_assert_int_eq(rtc_rtp_history_resend(h, 50, RTC_MS(300), out, sizeof out), n);
    rtc_rtp_history_set_rtt(h, RTC_MS(20));
    ck_assert_int_eq(rtc_rtp_history_resend(h, 50, RTC_MS(321), out, sizeof out), n);
    /* seq 1..36 were overwritten by 65..100 in a 64-slot ring; 101 never sent */
    ck_assert_int_eq(rtc_rtp_history_resend(h, 30, RTC_MS(400), out, sizeof out), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_rtp_history_resend(h, 101, RTC_MS(400), out, sizeof out), RTC_ERR_NOT_FOUND);
    size_t len;
    ck_assert_ptr_nonnull(rtc_rtp_history_get(h, 37, &len));
    ck_assert_uint_eq(len, 12 + 137);
    /* RTX: pt 96 -> 97 on its own SSRC and sequence */
    ck_assert_int_eq(rtc_rtp_history_set_rtx(h, 96, 97, 0x7777, 1000), RTC_OK);
    int r1 = rtc_rtp_history_resend(h, 60, RTC_MS(500), out, sizeof out);
    ck_assert_int_eq(r1, 12 + 2 + 160);
    rtc_rtp_header_t rh;
    ck_assert_int_eq(rtc_rtp_header_parse(out, (size_t)r1, &rh), RTC_OK);
    ck_assert_uint_eq(rh.payload_type, 97);
    ck_assert_uint_eq(rh.ssrc, 0x7777);
    ck_assert_uint_eq(rh.seq, 1000);
    int r2 = rtc_rtp_history_resend(h, 61, RTC_MS(500), out + 200, sizeof out - 200);
    ck_assert_int_gt(r2, 0);
    ck_assert_uint_eq(rtc_be16(out + 202), 1001);
    uint8_t orig[1500];
    int on = rtc_rtp_rtx_unwrap(out, (size_t)r1, 96, 0x5eed, orig, sizeof orig);
    n = make_packet(p, sizeof p, 60, 96, 160);
    ck_assert_int_eq(on, n);
    ck_assert_mem_eq(orig, p, (size_t)n);
    /* oversize and garbage are refused */
    ck_assert_int_eq(rtc_rtp_history_put(h, p, 1501, 0), RTC_ERR_OVERFLOW);
    ck_assert_int_eq(rtc_rtp_history_put(h, (const uint8_t *)"junk", 4, 0), RTC_ERR_TRUNCATED);
    ck_assert_int_eq(rtc_rtp_history_resend(h, 62, RTC_MS(500), out, 10), RTC_ERR_OVERFLOW);
    rtc_rtp_history_free(h);
    ck_assert_ptr_null(rtc_rtp_history_new(0, 1500));
}
END_TEST

/* The whole loss-recovery loop: receiver NACK generator -> RTCP NACK bytes -> sender parses
 * and answers from history over RTX -> receiver unwraps, and its list empties. */
START_TEST(nack_loop_recovers_lost_packets_over_rtx) {
    rtc_rtp_history_t *hist = rtc_rtp_history_new(512, 1500);
    rtc_rtp_history_set_rtx(hist, 96, 97, 0x9999, 0);
    rtc_rtp_nack_generator_t *gen = rtc_rtp_nack_generator_new(NULL);
    uint8_t p[1500], out[1500], nack[256], orig[1500];
    int lost = 0, recovered = 0;
    rtc_time_t t = 0;
    for (int s = 0; s < 300; s++, t += RTC_MS(10)) {
        int n = make_packet(p, sizeof p, (uint16_t)(60000 + s), 96, 500);
        rtc_rtp_history_put(hist, p, (size_t)n, t);
        if (s % 17 == 3 || s % 29 == 5) { lost++; continue; } /* dropped on the way */
        rtc_rtp_nack_generator_on_packet(gen, (uint16_t)(60000 + s), t + RTC_MS(20));
        uint16_t seqs[64];
        size_t k = rtc_rtp_nack_generator_poll(gen, t + RTC_MS(20), seqs, 64);
        if (!k) continue;
        rtc_writer_t w;
        rtc_writer_init(&w, nack, sizeof nack);
        ck_assert_int_eq(rtc_rtcp_write_nack(&w, 1, 0x5eed, seqs, k), RTC_OK);
        rtc_rtcp_packet_t pkt;
        ck_assert_int_eq(rtc_rtcp_parse(nack, w.len, &pkt), (int)w.len);
        uint16_t asked[64];
        size_t m = rtc_rtcp_nack_seqs(&pkt.u.nack, asked, 64);
        ck_assert_uint_eq(m, k);
        for (size_t i = 0; i < m; i++) {
            int rn = rtc_rtp_history_resend(hist, asked[i], t + RTC_MS(40), out, sizeof out);
            ck_assert_int_gt(rn, 0);
            int on = rtc_rtp_rtx_unwrap(out, (size_t)rn, 96, 0x5eed, orig, sizeof orig);
            rtc_rtp_header_t h;
            ck_assert_int_eq(rtc_rtp_header_parse(orig, (size_t)on, &h), RTC_OK);
            ck_assert_uint_eq(h.seq, asked[i]);
            rtc_rtp_nack_generator_on_packet(gen, h.seq, t + RTC_MS(60));
            recovered++;
        }
    }
    ck_assert_int_gt(lost, 20);
    ck_assert_int_eq(recovered, lost);
    ck_assert_uint_eq(rtc_rtp_nack_generator_missing(gen), 0);
    ck_assert_uint_eq(rtc_rtp_nack_generator_given_up(gen), 0);
    rtc_rtp_nack_generator_free(gen);
    rtc_rtp_history_free(hist);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_OFF);
    Suite *s = suite_create("rtp_stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, receive_stats_loss_fraction_and_extended_seq);
    tcase_add_test(tc, receive_stats_jitter_per_rfc3550_a8);
    tcase_add_test(tc, receive_stats_resync_after_large_jump);
    tcase_add_test(tc, lsr_dlsr_give_rtt_end_to_end);
    tcase_add_test(tc, compound_report_sr_rr_blocks_and_cname);
    tcase_add_test(tc, nack_generator_requests_retries_and_paces_by_rtt);
    tcase_add_test(tc, nack_generator_wrap_cap_age_and_overflow);
    tcase_add_test(tc, history_answers_nacks_with_pacing_and_rtx);
    tcase_add_test(tc, nack_loop_recovers_lost_packets_over_rtx);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
