/*
 * sfu/rtpview.h — the few RTP header facts the forwarding path needs, read in place.
 *
 * RFC 3550 5.1 fixed header, CSRC list, RFC 8285 header extension block (one-byte and
 * two-byte elements, found by id) and padding. Nothing is copied; every length is checked.
 * (libwebrtc's rtc/rtp.h has the complete codec; this view is what the SFU's per-packet path
 * reads, kept here so the path needs nothing beyond a pointer walk.)
 */
#ifndef STARLING_SFU_RTPVIEW_H
#define STARLING_SFU_RTPVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint16_t ext_profile;   /* 0 when there is no extension block */
    uint16_t ext_off;       /* offset of the first extension element */
    uint16_t ext_len;       /* bytes of elements (block length * 4) */
    uint16_t payload_off;
    uint16_t payload_len;   /* without padding */
    uint8_t padding_len;
} sfu_rtp_t;

/* Parses the header of an RTP packet. RTC_ERR_TRUNCATED / RTC_ERR_MALFORMED (version other
 * than 2, padding longer than the payload, packet over 65535 bytes). */
int sfu_rtp_parse(const uint8_t *p, size_t n, sfu_rtp_t *h);

/* Finds header extension element `id` (1..14 one-byte, 1..255 two-byte form). Returns the
 * value length (0 allowed in the two-byte form) with *off its offset in the packet, or -1
 * when absent or the block is malformed. */
int sfu_rtp_find_ext(const uint8_t *p, const sfu_rtp_t *h, uint8_t id, size_t *off);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_RTPVIEW_H */
