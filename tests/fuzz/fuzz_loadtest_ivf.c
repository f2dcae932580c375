/* libFuzzer target: the loadtest's IVF reader (loadtest/ivf.c), which loads --clip files.
 * Every frame handed to the callback must lie inside the input; a file that parses is
 * written back with the writer and must parse to the same frames. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ivf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *lo, *hi;
    rtc_buf_t *copy;
    uint64_t sum;
} ctx_t;

static int on_frame(void *user, const uint8_t *f, size_t n, uint64_t pts) {
    ctx_t *c = user;
    if (n && (f < c->lo || f + n > c->hi)) abort();
    c->sum += n + pts;
    if (c->copy) lt_ivf_write_frame(c->copy, f, n, pts);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rtc_log_set_level(RTC_LOG_OFF);
    lt_ivf_info_t info;
    rtc_buf_t copy;
    rtc_buf_init(&copy);
    ctx_t c = {data, data + size, &copy, 0};
    int rc = lt_ivf_parse(data, size, &info, on_frame, &c);
    if (rc >= 0) {
        rtc_buf_t again;
        rtc_buf_init(&again);
        lt_ivf_write_header(&again, info.fourcc, info.width, info.height, info.rate, info.scale, info.frames);
        rtc_buf_append(&again, copy.data, copy.len);
        lt_ivf_info_t info2;
        ctx_t c2 = {again.data, again.data + again.len, NULL, 0};
        if (lt_ivf_parse(again.data, again.len, &info2, on_frame, &c2) != rc || c2.sum != c.sum) abort();
        if (info2.width != info.width || info2.height != info.height || memcmp(info2.fourcc, info.fourcc, 4)) abort();
        rtc_buf_free(&again);
    }
    rtc_buf_free(&copy);
    return 0;
}
