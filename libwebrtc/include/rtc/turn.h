/*
 * rtc/turn.h — TURN (RFC 8656) pieces shared by the TURN client (libwebrtc/src/turn/) and the
 * TURN server (services/turn/): ChannelData framing, stream framing, and the protocol's
 * constants. TURN requests and indications themselves are STUN messages (rtc/stun.h).
 */
#ifndef RTC_TURN_H
#define RTC_TURN_H

#include "rtc/base.h"
#include "rtc/stun.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTC_TURN_CHANNEL_MIN 0x4000
#define RTC_TURN_CHANNEL_MAX 0x4FFF
#define RTC_TURN_CHANNEL_HEADER_LEN 4

#define RTC_TURN_DEFAULT_LIFETIME 600       /* seconds, allocation (RFC 8656 §3.8) */
#define RTC_TURN_MAX_LIFETIME 3600          /* seconds, server cap */
#define RTC_TURN_PERMISSION_LIFETIME 300    /* seconds (RFC 8656 §9) */
#define RTC_TURN_CHANNEL_LIFETIME 600       /* seconds (RFC 8656 §12) */
#define RTC_TURN_TRANSPORT_UDP 17           /* REQUESTED-TRANSPORT value */

/* Is this the start of a ChannelData message? First byte 0x40-0x4F (RFC 7983 / 8656 §12.4). */
static inline bool rtc_turn_is_channel_data(const uint8_t *p, size_t n) {
    return n >= RTC_TURN_CHANNEL_HEADER_LEN && (p[0] & 0xF0) == 0x40;
}

static inline bool rtc_turn_channel_valid(uint16_t ch) {
    return ch >= RTC_TURN_CHANNEL_MIN && ch <= RTC_TURN_CHANNEL_MAX;
}

/* Parses one ChannelData message from a datagram. Over UDP the datagram may carry padding
 * after the data (RFC 8656 §12.5), so n may exceed 4 + length; it may not be shorter.
 * Returns RTC_OK, RTC_ERR_TRUNCATED (shorter than the header or the length field says), or
 * RTC_ERR_MALFORMED (channel number outside 0x4000-0x4FFF). *data points into p. */
int rtc_turn_channel_data_parse(const uint8_t *p, size_t n, uint16_t *channel,
                                const uint8_t **data, size_t *len);

/* Writes a ChannelData message. With pad (stream transports: TCP/TLS) the message is padded
 * to a multiple of 4 with zeros (RFC 8656 §12.5). Returns the bytes written or
 * RTC_ERR_OVERFLOW / RTC_ERR_INVALID_ARG (bad channel, data over 65535 bytes). */
int rtc_turn_channel_data_write(uint8_t *out, size_t cap, uint16_t channel, const uint8_t *data,
                                size_t len, bool pad);

/* Writes just the 4-byte header in front of data the caller already placed at out + 4:
 * the relay fast path (no copy of the payload). Returns 4 + len, padded if pad. */
int rtc_turn_channel_data_header(uint8_t *out, size_t cap, uint16_t channel, size_t len, bool pad);

/* Stream transports carry STUN messages and ChannelData back to back. Given the bytes at
 * the front of a stream buffer, returns the length of the first whole frame (including
 * ChannelData padding), RTC_ERR_AGAIN if more bytes are needed to know, or
 * RTC_ERR_MALFORMED if the bytes start neither (the connection should be closed). */
int rtc_turn_stream_frame_length(const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* RTC_TURN_H */
