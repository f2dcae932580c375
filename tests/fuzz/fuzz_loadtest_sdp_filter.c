/* libFuzzer target: the loadtest's remote candidate filter (loadtest/sdp_filter.c) on
 * arbitrary descriptions. The output must be the input minus whole a=candidate lines (so it
 * is never longer, stays NUL-terminated, and every allowed address is loopback or 10/8). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool allow(void *user, const rtc_addr_t *a) {
    (void)user;
    rtc_addr_t ten;
    rtc_addr_parse_ip(&ten, "10.0.0.0", 0);
    return rtc_addr_is_loopback(a) || rtc_addr_in_prefix(a, &ten, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_log_set_level(RTC_LOG_OFF);
    rtc_buf_t out;
    rtc_buf_init(&out);
    int dropped = lt_sdp_filter_candidates((const char *)data, size, allow, NULL, &out);
    if (dropped >= 0) {
        if (out.len > size || out.data[out.len] != '\0') abort();
        if (dropped == 0 && (out.len != size || (size && memcmp(out.data, data, size)))) abort();
        if (dropped > 0 && out.len == size) abort();
    }
    (void)lt_candidate_allowed((const char *)data, size, allow, NULL);
    rtc_buf_free(&out);
    return 0;
}
