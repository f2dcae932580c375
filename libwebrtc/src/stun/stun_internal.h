/* Internal helpers shared by the STUN sources: message-type bit packing (RFC 8489 §5). */
#ifndef RTC_STUN_INTERNAL_H
#define RTC_STUN_INTERNAL_H

#include "rtc/stun.h"

/* The 14-bit type interleaves method bits M0-M11 with class bits C0, C1:
 *   M11..M7 C1 M6..M4 C0 M3..M0 */
static inline uint16_t stun_type_make(uint16_t method, rtc_stun_class_t cls) {
    return (uint16_t)(((method & 0x0F80) << 2) | ((method & 0x0070) << 1) | (method & 0x000F) |
                      (((unsigned)cls & 2) << 7) | (((unsigned)cls & 1) << 4));
}

static inline uint16_t stun_type_method(uint16_t type) {
    return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

static inline rtc_stun_class_t stun_type_class(uint16_t type) {
    return (rtc_stun_class_t)(((type & 0x0100) >> 7) | ((type & 0x0010) >> 4));
}

#endif
