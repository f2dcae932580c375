/* rtc/rtc.h — umbrella header: includes every public layer header of libwebrtc. */
#ifndef RTC_RTC_H
#define RTC_RTC_H
#include "rtc/base.h"
#include "rtc/net.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#endif
