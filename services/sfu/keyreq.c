/* Keyframe request throttle: at most one request per stream per min_interval. */
#include "sfu/keyreq.h"

void sfu_keyreq_init(sfu_keyreq_t *k, rtc_time_t min_interval) {
    k->min_interval = min_interval > 0 ? min_interval : RTC_MS(500);
    k->last_request = RTC_TIME_NEVER;
    k->last_keyframe = RTC_TIME_NEVER;
    k->waiting = false;
    k->sent = 0;
    k->absorbed = 0;
}

bool sfu_keyreq_want(sfu_keyreq_t *k, rtc_time_t now) {
    if (k->last_request != RTC_TIME_NEVER && now - k->last_request < k->min_interval) {
        k->absorbed++;
        return false;
    }
    k->last_request = now;
    k->waiting = true;
    k->sent++;
    return true;
}

void sfu_keyreq_on_keyframe(sfu_keyreq_t *k, rtc_time_t now) {
    k->last_keyframe = now;
    k->waiting = false;
}
