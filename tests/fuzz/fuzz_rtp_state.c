/* libFuzzer target: the stateful receive-side objects (NACK generator, receive statistics,
 * transport-cc receiver and its feedback writer) driven by hostile sequence numbers and
 * arrival times. Invariants are checked with __builtin_trap(). */
#include <stdlib.h>

#include "rtc/rtp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input also drives the stateful receive-side objects: each pair of bytes is a sequence
 * number and each following byte a time step, as a hostile sender could arrange. */
static void drive_state(const uint8_t *data, size_t size) {
    static rtc_rtp_nack_generator_t *nack;
    static rtc_rtp_recv_stats_t *stats;
    static rtc_rtp_twcc_receiver_t *twcc;
    static rtc_time_t now;
    if (!nack) {
        nack = rtc_rtp_nack_generator_new(&(rtc_rtp_nack_config_t){.max_missing = 200});
        stats = rtc_rtp_recv_stats_new(1, 90000);
        twcc = rtc_rtp_twcc_receiver_new(1, RTC_MS(50));
    }
    uint16_t out[64];
    uint8_t fb[1500];
    for (size_t i = 0; i + 3 <= size; i += 3) {
        uint16_t seq = rtc_be16(data + i);
        now += data[i + 2] * 100;
        rtc_rtp_nack_generator_on_packet(nack, seq, now);
        size_t k = rtc_rtp_nack_generator_poll(nack, now, out, 64);
        CHECK(k <= 64 && rtc_rtp_nack_generator_missing(nack) <= 200);
        rtc_rtp_recv_stats_on_packet(stats, seq, (uint32_t)now, 100, data[i + 2] & 1, now);
        rtc_rtp_twcc_receiver_on_packet(twcc, seq, 2, now);
    }
    /* one feedback per input: a build can walk the whole 16k-packet window */
    int n = rtc_rtp_twcc_receiver_build(twcc, now, true, fb, sizeof fb);
    CHECK(n >= 0);
    if (n > 0) {
        rtc_rtcp_packet_t pkt;
        CHECK(rtc_rtcp_parse(fb, (size_t)n, &pkt) == n && pkt.kind == RTC_RTCP_KIND_TWCC);
    }
    rtc_rtcp_report_block_t rb;
    (void)rtc_rtp_recv_stats_report_block(stats, now, &rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) { rtc_log_set_level(RTC_LOG_OFF); quiet = true; }
    drive_state(data, size < 300 ? size : 300);
    return 0;
}
