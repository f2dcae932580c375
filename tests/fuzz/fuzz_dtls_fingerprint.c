/* libFuzzer target: SDP fingerprint parsing. Property: anything that parses formats back to
 * a string that parses to the same fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/dtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_dtls_fingerprint_t fp, again;
    if (rtc_dtls_fingerprint_parse((const char *)data, size, &fp) != RTC_OK) return 0;
    char s[RTC_DTLS_FINGERPRINT_STRLEN];
    int n = rtc_dtls_fingerprint_format(&fp, s, sizeof s);
    if (n <= 0 || (size_t)n >= sizeof s) abort();
    if (rtc_dtls_fingerprint_parse(s, (size_t)n, &again) != RTC_OK) abort();
    if (!rtc_dtls_fingerprint_equal(&fp, &again)) abort();
    return 0;
}
