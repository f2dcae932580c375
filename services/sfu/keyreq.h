/*
 * sfu/keyreq.h — throttling keyframe requests (PLI / FIR) to a publisher.
 *
 * Keyframes are expensive: several times a normal frame's size, sent in a burst. Many
 * things ask for one — every subscriber's PLI or FIR, every layer switch, every subscriber
 * that joins — and a publisher must not be asked more than once per `min_interval` per
 * stream, however many subscribers ask. Requests that arrive in between are absorbed: the
 * keyframe the first one produces serves them all. One throttle per publisher stream (each
 * simulcast layer has its own SSRC and its own keyframes).
 *
 * When a request was sent and no keyframe came back within `min_interval` (the PLI or the
 * keyframe got lost), the next `want` sends again.
 */
#ifndef STARLING_SFU_KEYREQ_H
#define STARLING_SFU_KEYREQ_H

#include <stdbool.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rtc_time_t min_interval;
    rtc_time_t last_request;   /* RTC_TIME_NEVER before the first */
    rtc_time_t last_keyframe;  /* RTC_TIME_NEVER before the first */
    bool waiting;              /* a request is out and no keyframe has come since */
    uint64_t sent;             /* requests let through */
    uint64_t absorbed;         /* requests absorbed by the throttle */
} sfu_keyreq_t;

void sfu_keyreq_init(sfu_keyreq_t *k, rtc_time_t min_interval);
/* Someone needs a keyframe of this stream at `now`. True when the caller should send a PLI
 * (or FIR) upstream now; false when one was sent less than min_interval ago. */
bool sfu_keyreq_want(sfu_keyreq_t *k, rtc_time_t now);
/* A keyframe of this stream arrived. */
void sfu_keyreq_on_keyframe(sfu_keyreq_t *k, rtc_time_t now);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_KEYREQ_H */
