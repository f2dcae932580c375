/* libFuzzer target for the SFU's RTP forwarding input path (services/sfu/forward.c with
 * rtc/rtp.h, codec.c, rewriter.c): the input is a sequence of records
 *   u8 control, u16 length, packet
 * where control picks the layer (bits 0-1), the codec (bits 2-4: VP8, VP9, H.264, AV1, Opus)
 * and, in bit 5, an allocation run with a budget taken from the packet length, and bit 6 a
 * subscriber keyframe request (with bit 4 also a downtrack restart), bit 7 a mute toggle.
 * A simulcast video track with three subscribers and an audio track receive every packet. Nothing may crash, leak or read out of bounds, and every
 * forwarded packet must be a parsable RTP packet as long as the input was. */
#include <stdint.h>
#include <stdlib.h>

#include "sfu/forward.h"
#include "rtc/rtp.h"

static void on_send(void *user, sfu_downtrack_t *dt, uint8_t *p, size_t n, rtc_time_t now) {
    (void)user; (void)dt; (void)now;
    rtc_rtp_header_t h;
    if (rtc_rtp_header_parse(p, n, &h) != RTC_OK) abort();
}

static void on_key(void *user, sfu_fwd_track_t *t, int layer, rtc_time_t now) {
    (void)user; (void)t; (void)layer; (void)now;
}

static void on_level(void *user, sfu_fwd_track_t *t, uint8_t level, bool voice, rtc_time_t now) {
    (void)user; (void)t; (void)voice; (void)now;
    if (level > 127) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const sfu_codec_t codecs[8] = {SFU_CODEC_VP8, SFU_CODEC_VP9, SFU_CODEC_H264,
                                          SFU_CODEC_AV1, SFU_CODEC_OPUS, SFU_CODEC_VP8,
                                          SFU_CODEC_H264, SFU_CODEC_UNKNOWN};
    sfu_fwd_callbacks_t cb = {on_send, on_key, NULL, on_level};
    sfu_fwd_track_config_t vcfg = {true, 90000, 3, RTC_MS(500), 0, 4};
    sfu_fwd_track_config_t acfg = {false, 48000, 1, 0, 1, 4};
    sfu_fwd_track_t *v = sfu_fwd_track_new(&vcfg, &cb, NULL);
    sfu_fwd_track_t *a = sfu_fwd_track_new(&acfg, &cb, NULL);
    sfu_downtrack_t *d[4] = {sfu_downtrack_new(v, NULL), sfu_downtrack_new(v, NULL),
                             sfu_downtrack_new(v, NULL), sfu_downtrack_new(a, NULL)};
    sfu_downtrack_set_preference(d[1], 160, 90, false);
    rtc_time_t now = RTC_SEC(1);
    size_t i = 0;
    while (size - i >= 3) {
        uint8_t ctl = data[i];
        size_t len = rtc_be16(data + i + 1);
        i += 3;
        if (len > size - i) len = size - i;
        const uint8_t *pkt = data + i;
        i += len;
        now += RTC_MS(7);
        int layer = ctl & 3;
        sfu_codec_t codec = codecs[(ctl >> 2) & 7];
        if (ctl & 0x20) {
            sfu_fwd_allocate(d, NULL, 4, (uint64_t)len * 1000, RTC_MS(100), now);
        }
        if (ctl & 0x40) {
            sfu_downtrack_request_keyframe(d[ctl & 1], now);
            if (ctl & 0x10) sfu_downtrack_restart(d[2], now); /* leg not carrying yet */
        }
        if (ctl & 0x80) sfu_fwd_track_set_muted(v, !sfu_fwd_track_muted(v));
        sfu_fwd_track_on_rtp(v, layer, codec, pkt, len, now);
        sfu_fwd_track_on_rtp(a, 0, SFU_CODEC_OPUS, pkt, len, now);
    }
    sfu_downtrack_free(d[0]);
    sfu_fwd_track_free(v);
    sfu_fwd_track_free(a);
    return 0;
}
