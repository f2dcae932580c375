/* libFuzzer target: the SDP candidate attribute parser (rtc_ice_candidate_parse) and the
 * format/parse round trip of whatever it accepts; also rtc_ice_peek_ufrag on the raw bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "rtc/ice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char ufrag[64];
    int u = rtc_ice_peek_ufrag(data, size, ufrag, sizeof ufrag);
    if (u >= 0 && (size_t)u != strlen(ufrag)) abort();
    rtc_ice_candidate_t c, d;
    if (rtc_ice_candidate_parse(&c, (const char *)data, size) != RTC_OK) return 0;
    char line[RTC_ICE_CANDIDATE_STRLEN];
    int n = rtc_ice_candidate_format(&c, line, sizeof line);
    if (n < 0) return 0;
    /* What we write we must read back to the same candidate. */
    if (rtc_ice_candidate_parse(&d, line, (size_t)n) != RTC_OK) abort();
    if (strcmp(c.foundation, d.foundation) || c.priority != d.priority || c.type != d.type ||
        c.component != d.component || c.addr.port != d.addr.port || strcmp(c.hostname, d.hostname))
        abort();
    if (c.addr.family != RTC_AF_UNSPEC && !rtc_addr_equal_ip(&c.addr, &d.addr)) abort();
    return 0;
}
