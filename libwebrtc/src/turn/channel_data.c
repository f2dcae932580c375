/* ChannelData framing (RFC 8656 §12.4-12.5): the 4-byte-header alternative to Send/Data
 * indications that carries nearly all relayed traffic, so it is kept branch-light. */
#include "rtc/turn.h"

int rtc_turn_channel_data_parse(const uint8_t *p, size_t n, uint16_t *channel,
                                const uint8_t **data, size_t *len) {
    if (n < RTC_TURN_CHANNEL_HEADER_LEN) return RTC_ERR_TRUNCATED;
    uint16_t ch = rtc_be16(p);
    if (!rtc_turn_channel_valid(ch)) return RTC_ERR_MALFORMED;
    size_t l = rtc_be16(p + 2);
    if (n - RTC_TURN_CHANNEL_HEADER_LEN < l) return RTC_ERR_TRUNCATED;
    *channel = ch;
    *data = p + RTC_TURN_CHANNEL_HEADER_LEN;
    *len = l;
    return RTC_OK;
}

int rtc_turn_channel_data_header(uint8_t *out, size_t cap, uint16_t channel, size_t len, bool pad) {
    if (!rtc_turn_channel_valid(channel) || len > 0xFFFF) return RTC_ERR_INVALID_ARG;
    size_t total = RTC_TURN_CHANNEL_HEADER_LEN + len;
    size_t padded = pad ? (total + 3) & ~(size_t)3 : total;
    if (cap < padded) return RTC_ERR_OVERFLOW;
    rtc_put_be16(out, channel);
    rtc_put_be16(out + 2, (uint16_t)len);
    if (padded > total) memset(out + total, 0, padded - total);
    return (int)padded;
}

int rtc_turn_channel_data_write(uint8_t *out, size_t cap, uint16_t channel, const uint8_t *data,
                                size_t len, bool pad) {
    if (len && !data) return RTC_ERR_INVALID_ARG;
    if (cap < RTC_TURN_CHANNEL_HEADER_LEN || cap - RTC_TURN_CHANNEL_HEADER_LEN < len) return RTC_ERR_OVERFLOW;
    if (len) memmove(out + RTC_TURN_CHANNEL_HEADER_LEN, data, len);
    return rtc_turn_channel_data_header(out, cap, channel, len, pad);
}

int rtc_turn_stream_frame_length(const uint8_t *p, size_t n) {
    if (n < 4) return RTC_ERR_AGAIN;
    if ((p[0] & 0xC0) == 0) return rtc_stun_frame_length(p, n);
    if ((p[0] & 0xF0) == 0x40) {
        uint16_t ch = rtc_be16(p);
        if (!rtc_turn_channel_valid(ch)) return RTC_ERR_MALFORMED;
        return (int)((RTC_TURN_CHANNEL_HEADER_LEN + rtc_be16(p + 2) + 3u) & ~3u);
    }
    return RTC_ERR_MALFORMED;
}
