/* libFuzzer target: the DCEP codec (RFC 8832). Any input that parses as DATA_CHANNEL_OPEN must
 * re-encode to exactly the same bytes; nothing may read past the input. */
#include <stdint.h>
#include <stdlib.h>

#include "rtc/sctp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *p = malloc(size ? size : 1); /* exact-size copy so ASan sees overreads */
    if (!p) return 0;
    memcpy(p, data, size);
    rtc_dcep_msg_type(p, size);
    rtc_dcep_parse_ack(p, size);
    rtc_dcep_open_t o;
    if (rtc_dcep_parse_open(&o, p, size) == RTC_OK) {
        uint8_t *out = malloc(size);
        if (!out) abort();
        int n = rtc_dcep_write_open(&o, out, size);
        if (n != (int)size || memcmp(out, p, size) != 0) abort();
        if (size && rtc_dcep_write_open(&o, out, size - 1) != RTC_ERR_OVERFLOW) abort();
        free(out);
    }
    free(p);
    return 0;
}
