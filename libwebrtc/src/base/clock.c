/* The monotonic clock the runtime reads. Sans-I/O layers take "now" as an argument instead;
 * tests that drive the runtime can install a fake source. */
#include "rtc/base.h"

#include <time.h>

static rtc_clock_fn clock_fn;
static void *clock_user;

void rtc_clock_set_source(rtc_clock_fn fn, void *user) {
    clock_fn = fn;
    clock_user = user;
}

rtc_time_t rtc_clock_now(void) {
    if (clock_fn) return clock_fn(clock_user);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rtc_time_t)ts.tv_sec * RTC_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t rtc_clock_wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RTC_US_PER_SEC + ts.tv_nsec / 1000;
}
