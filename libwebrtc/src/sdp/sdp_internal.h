/* Internal helpers shared by the sdp/ sources. */
#ifndef RTC_SDP_INTERNAL_H
#define RTC_SDP_INTERNAL_H

#include "rtc/sdp.h"

/* Appends one zeroed element to a heap array whose capacity is implied by its count (it
 * grows at counts 0, 4, 8, 16, ...). Arrays built this way only ever grow. */
void *rtc_sdp_grow(void **arr, size_t *n, size_t elem);
#define RTC_SDP_PUSH(arr, n) ((__typeof__(&(arr)[0]))rtc_sdp_grow((void **)&(arr), &(n), sizeof *(arr)))

char *rtc_sdp_strndup(const char *s, size_t n);
bool rtc_sdp_streq(const char *a, const char *b);          /* NULL-safe */
bool rtc_sdp_strcaseeq(const char *a, const char *b);      /* NULL-safe, ASCII */
void rtc_sdp_media_clear(rtc_sdp_media_t *m);

/* Canonical write order of the known attributes (Chromium's), used to place unknown
 * attributes back after the group of lines they followed. */
enum {
    RTC_SDP_SS_START = 0, RTC_SDP_SS_GROUP, RTC_SDP_SS_EXTMAP_ALLOW_MIXED, RTC_SDP_SS_MSID_SEMANTIC,
    RTC_SDP_SS_ICE_LITE, RTC_SDP_SS_ICE_UFRAG, RTC_SDP_SS_ICE_PWD, RTC_SDP_SS_ICE_OPTIONS,
    RTC_SDP_SS_FINGERPRINT, RTC_SDP_SS_SETUP, RTC_SDP_SS_COUNT
};
enum {
    RTC_SDP_MS_START = 0, RTC_SDP_MS_RTCP, RTC_SDP_MS_CANDIDATE, RTC_SDP_MS_ICE_UFRAG,
    RTC_SDP_MS_ICE_PWD, RTC_SDP_MS_ICE_OPTIONS, RTC_SDP_MS_FINGERPRINT, RTC_SDP_MS_SETUP,
    RTC_SDP_MS_MID, RTC_SDP_MS_BUNDLE_ONLY, RTC_SDP_MS_EXTMAP, RTC_SDP_MS_EXTMAP_ALLOW_MIXED,
    RTC_SDP_MS_DIRECTION, RTC_SDP_MS_MSID, RTC_SDP_MS_RTCP_MUX, RTC_SDP_MS_RTCP_MUX_ONLY,
    RTC_SDP_MS_RTCP_RSIZE, RTC_SDP_MS_CODECS, RTC_SDP_MS_RID, RTC_SDP_MS_SIMULCAST,
    RTC_SDP_MS_SSRC_GROUP, RTC_SDP_MS_SSRC, RTC_SDP_MS_SCTP_PORT, RTC_SDP_MS_MAX_MESSAGE_SIZE,
    RTC_SDP_MS_END_OF_CANDIDATES, RTC_SDP_MS_COUNT
};

#endif
