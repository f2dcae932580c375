/* rtc/rtc.h — umbrella header: includes every public layer header of libwebrtc. */
#ifndef RTC_RTC_H
#define RTC_RTC_H
#include "rtc/base.h"
#include "rtc/net.h"
#include "rtc/stun.h"
#include "rtc/turn.h"
#include "rtc/ice.h"
#include "rtc/dtls.h"
#include "rtc/srtp.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/sctp.h"
#include "rtc/sdp.h"
#include "rtc/pc.h"
#endif
