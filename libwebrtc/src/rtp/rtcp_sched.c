/* RFC 3550 6.3 / A.7: when to send the next compound RTCP report. */
#include <stdlib.h>

#include "rtc/rtcp.h"

#define COMPENSATION 1.21828 /* e - 3/2 */

rtc_time_t rtc_rtcp_interval_deterministic(unsigned members, unsigned senders, double rtcp_bw,
                                           bool we_sent, double avg_rtcp_size, bool initial,
                                           rtc_time_t min_interval_us) {
    double tmin = (double)(min_interval_us > 0 ? min_interval_us : RTC_SEC(5)) / 1e6;
    if (initial) tmin /= 2;
    double n = members ? members : 1;
    if (rtcp_bw <= 0) return (rtc_time_t)(tmin * 1e6);
    /* Senders get a quarter of the RTCP bandwidth when they are at most a quarter of the
     * members, so their reports (which carry lip-sync data) come often enough. */
    if (senders > 0 && (double)senders <= n * 0.25) {
        if (we_sent) {
            rtcp_bw *= 0.25;
            n = senders;
        } else {
            rtcp_bw *= 0.75;
            n -= senders;
        }
    }
    double t = avg_rtcp_size * n / rtcp_bw;
    if (t < tmin) t = tmin;
    return (rtc_time_t)(t * 1e6);
}

struct rtc_rtcp_scheduler {
    double rtcp_bw;          /* octets per second */
    rtc_time_t tmin;
    unsigned members, senders;
    bool we_sent;
    bool initial;
    double avg_rtcp_size;
    rtc_time_t tp;           /* last transmission */
    rtc_time_t tn;           /* next scheduled */
};

/* Randomised interval: [0.5, 1.5] times the deterministic one, divided by e - 3/2. */
static rtc_time_t randomised(const rtc_rtcp_scheduler_t *s) {
    rtc_time_t td = rtc_rtcp_interval_deterministic(s->members, s->senders, s->rtcp_bw, s->we_sent,
                                                    s->avg_rtcp_size, s->initial, s->tmin);
    double f = 0.5 + (double)rtc_random_uniform(1000001) / 1e6;
    return (rtc_time_t)((double)td * f / COMPENSATION);
}

rtc_rtcp_scheduler_t *rtc_rtcp_scheduler_new(const rtc_rtcp_scheduler_config_t *cfg, rtc_time_t now) {
    if (!cfg || cfg->session_bw_bps < 0) return NULL;
    rtc_rtcp_scheduler_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->rtcp_bw = cfg->session_bw_bps / 8.0 * 0.05;
    s->tmin = cfg->min_interval_us > 0 ? cfg->min_interval_us : RTC_SEC(5);
    s->members = cfg->members ? cfg->members : 1;
    s->senders = 0;
    s->initial = true;
    s->avg_rtcp_size = 100; /* a guess at our first compound (SR/RR + SDES) plus UDP/IP */
    s->tp = now;
    s->tn = now + randomised(s);
    return s;
}

void rtc_rtcp_scheduler_free(rtc_rtcp_scheduler_t *s) { free(s); }

void rtc_rtcp_scheduler_set_members(rtc_rtcp_scheduler_t *s, unsigned members, unsigned senders) {
    s->members = members ? members : 1;
    s->senders = senders;
}

void rtc_rtcp_scheduler_set_we_sent(rtc_rtcp_scheduler_t *s, bool we_sent) { s->we_sent = we_sent; }

void rtc_rtcp_scheduler_on_received(rtc_rtcp_scheduler_t *s, size_t size) {
    s->avg_rtcp_size = (1.0 / 16) * (double)size + (15.0 / 16) * s->avg_rtcp_size;
}

rtc_time_t rtc_rtcp_scheduler_next_timeout(const rtc_rtcp_scheduler_t *s) { return s->tn; }

bool rtc_rtcp_scheduler_handle_timeout(rtc_rtcp_scheduler_t *s, rtc_time_t now) {
    if (now < s->tn) return false;
    /* Timer reconsideration (6.3.6): recompute with the current state from tp. */
    rtc_time_t tn = s->tp + randomised(s);
    if (tn <= now) return true;
    s->tn = tn;
    return false;
}

void rtc_rtcp_scheduler_on_sent(rtc_rtcp_scheduler_t *s, size_t size, rtc_time_t now) {
    s->avg_rtcp_size = (1.0 / 16) * (double)size + (15.0 / 16) * s->avg_rtcp_size;
    s->tp = now;
    s->initial = false;
    s->tn = now + randomised(s);
}
