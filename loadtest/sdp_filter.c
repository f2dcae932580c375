/* Remote candidate filter (see sdp_filter.h). */
#include "sdp_filter.h"

#include <string.h>

#include "rtc/ice.h"

bool lt_candidate_allowed(const char *line, size_t n, lt_addr_allow_fn allow, void *user) {
    rtc_ice_candidate_t c;
    if (rtc_ice_candidate_parse(&c, line, n) != RTC_OK) return false;
    if (c.addr.family == RTC_AF_UNSPEC || c.hostname[0]) return false;
    return allow(user, &c.addr);
}

int lt_sdp_filter_candidates(const char *sdp, size_t n, lt_addr_allow_fn allow, void *user, rtc_buf_t *out) {
    int dropped = 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(sdp + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - sdp) + 1 : n; /* through the '\n' */
        size_t len = end - i;
        const char *line = sdp + i;
        if (len >= 12 && memcmp(line, "a=candidate:", 12) == 0) {
            size_t body = len;
            while (body && (line[body - 1] == '\n' || line[body - 1] == '\r')) body--;
            if (!lt_candidate_allowed(line, body, allow, user)) {
                dropped++;
                i = end;
                continue;
            }
        }
        if (rtc_buf_append(out, line, len) != RTC_OK) return RTC_ERR_NOMEM;
        i = end;
    }
    if (rtc_buf_append(out, "", 1) != RTC_OK) return RTC_ERR_NOMEM;
    out->len--; /* NUL kept after len */
    return dropped;
}
