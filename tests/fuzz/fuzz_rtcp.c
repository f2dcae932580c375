/* libFuzzer target: RTCP compound iteration and every packet parser (SR/RR/SDES/BYE/APP/
 * NACK/PLI/FIR/REMB/TWCC), re-encoding of what parsed, TWCC status walk and the send-side
 * TWCC matcher. Invariants are checked with __builtin_trap(). */
#include <stdlib.h>

#include "rtc/rtp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool init;
    static rtc_rtp_twcc_sender_t *snd;
    if (!init) {
        rtc_log_set_level(RTC_LOG_OFF);
        snd = rtc_rtp_twcc_sender_new(0);
        for (int i = 0; i < 65536; i++) rtc_rtp_twcc_sender_on_sent(snd, (uint16_t)i, 1000, i * 1000);
        init = true;
    }
    (void)rtc_rtcp_validate(data, size, false);
    (void)rtc_rtcp_validate(data, size, true);
    rtc_rtcp_iter_t it;
    rtc_rtcp_packet_t pkt, again;
    rtc_rtcp_iter_init(&it, data, size);
    size_t cap = 4 * size + 1024;
    uint8_t *out = malloc(cap);
    static rtc_bwe_packet_t res[65536];
    if (!out) return 0;
    while (rtc_rtcp_iter_next(&it, &pkt) == 1) {
        CHECK(pkt.raw >= data && pkt.raw + pkt.raw_len <= data + size);
        switch (pkt.kind) {
        case RTC_RTCP_KIND_SDES: {
            rtc_rtcp_sdes_iter_t si;
            rtc_rtcp_sdes_item_t item;
            rtc_rtcp_sdes_iter_init(&si, &pkt.u.sdes);
            int r;
            while ((r = rtc_rtcp_sdes_next(&si, &item)) == 1) CHECK(item.data + item.len <= data + size);
            CHECK(r == 0);
            break;
        }
        case RTC_RTCP_KIND_NACK: {
            uint16_t seqs[64];
            (void)rtc_rtcp_nack_seqs(&pkt.u.nack, seqs, 64);
            break;
        }
        case RTC_RTCP_KIND_FIR:
            for (size_t i = 0; i < pkt.u.fir.count; i++) (void)rtc_rtcp_fir_entry(&pkt.u.fir, i);
            break;
        case RTC_RTCP_KIND_TWCC: {
            rtc_rtcp_twcc_iter_t ti;
            rtc_rtcp_twcc_packet_t tp;
            rtc_rtcp_twcc_iter_init(&ti, &pkt.u.twcc);
            size_t n = 0;
            int r;
            while ((r = rtc_rtcp_twcc_next(&ti, &tp)) == 1) n++;
            CHECK(r == 0 && n == pkt.u.twcc.status_count);
            CHECK(ti.delta_pos == pkt.u.twcc.deltas_len);
            int k = rtc_rtp_twcc_sender_on_feedback(snd, &pkt.u.twcc, res, 65536);
            CHECK(k >= 0 && (size_t)k <= n);
            /* forget the acks so later inputs match again */
            for (int i = 0; i < k; i++) rtc_rtp_twcc_sender_on_sent(snd, res[i].seq, 1000, res[i].seq * 1000);
            break;
        }
        default:
            break;
        }
        rtc_writer_t w;
        rtc_writer_init(&w, out, cap);
        if (rtc_rtcp_write_packet(&w, &pkt) == RTC_OK) {
            int r = rtc_rtcp_parse(out, w.len, &again);
            CHECK(r == (int)w.len);
            CHECK(again.kind == pkt.kind);
            if (pkt.kind == RTC_RTCP_KIND_TWCC) CHECK(again.u.twcc.status_count == pkt.u.twcc.status_count);
            if (pkt.kind == RTC_RTCP_KIND_REMB) CHECK(again.u.remb.bitrate <= pkt.u.remb.bitrate);
        }
    }
    free(out);
    return 0;
}
