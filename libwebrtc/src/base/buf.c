/* Growable heap buffer. Always keeps one spare byte so data can be NUL-terminated. */
#include "rtc/base.h"

#include <stdio.h>
#include <stdlib.h>

void rtc_buf_init(rtc_buf_t *b) { b->data = NULL; b->len = 0; b->cap = 0; }

void rtc_buf_free(rtc_buf_t *b) {
    free(b->data);
    rtc_buf_init(b);
}

void rtc_buf_clear(rtc_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

int rtc_buf_reserve(rtc_buf_t *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return RTC_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return RTC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return RTC_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return RTC_OK;
}

int rtc_buf_append(rtc_buf_t *b, const void *p, size_t n) {
    int rc = rtc_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return RTC_OK;
}

int rtc_buf_append_str(rtc_buf_t *b, const char *s) { return rtc_buf_append(b, s, strlen(s)); }

int rtc_buf_appendf(rtc_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return RTC_ERR_INVALID_ARG;
    if ((size_t)n < sizeof small) return rtc_buf_append(b, small, (size_t)n);
    int rc = rtc_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RTC_OK;
}
