/* IVF, the simple container libvpx's tools use (a 32-byte file header, then a 12-byte header
 * per frame: size and timestamp, little endian). The loadtest saves its VP8 clip in it so
 * that runs against different servers loop exactly the same frames (libvpx's real-time mode
 * does not encode identically twice). */
#ifndef LT_IVF_H
#define LT_IVF_H

#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

typedef struct {
    char fourcc[5];
    unsigned width, height;
    uint32_t rate, scale;   /* time base: `scale` / `rate` seconds per tick */
    uint32_t frames;        /* as the header says (the reader counts what it finds) */
} lt_ivf_info_t;

/* Called for every frame; return non-zero to stop with that value. */
typedef int (*lt_ivf_frame_fn)(void *user, const uint8_t *frame, size_t n, uint64_t pts);

/* Parses p[0..n). Returns the number of frames delivered, or RTC_ERR_MALFORMED (bad
 * signature, header size under 32, a frame running past the end), or the callback's
 * non-zero value. Never reads past n. */
int lt_ivf_parse(const uint8_t *p, size_t n, lt_ivf_info_t *info, lt_ivf_frame_fn fn, void *user);

/* Writers: the file header, then one call per frame. */
void lt_ivf_write_header(rtc_buf_t *out, const char *fourcc, unsigned w, unsigned h, uint32_t rate,
                         uint32_t scale, uint32_t frames);
void lt_ivf_write_frame(rtc_buf_t *out, const uint8_t *frame, size_t n, uint64_t pts);

#endif
