/* The looped VP8 clip (see clip.h). */
#include "clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivf.h"
#include "rtc/base.h"
#include "test_media.h"

static int add_frame(lt_clip_t *c, const uint8_t *p, size_t n, bool key) {
    lt_clip_frame_t *f = &c->frames[c->n];
    f->data = n ? malloc(n) : NULL;
    if (n && !f->data) return -1;
    if (n) memcpy(f->data, p, n);
    f->len = n;
    f->key = key;
    c->n++;
    return 0;
}

/* Without libvpx: a VP8 frame tag (RFC 6386 §9.1: key frames carry the start code and the
 * size) followed by random bytes, sized for the bitrate. */
static int make_synthetic(lt_clip_t *c, size_t frames) {
    size_t bytes = (size_t)c->target_kbps * 1000 / 8 / c->fps;
    if (bytes < 16) bytes = 16;
    uint8_t *buf = malloc(bytes * 4);
    if (!buf) return -1;
    for (size_t i = 0; i < frames; i++) {
        bool key = i % (2 * c->fps) == 0;
        size_t n = key ? bytes * 4 : bytes;
        rtc_random_bytes(buf, n);
        uint32_t first_part = (uint32_t)(n / 2);
        uint32_t tag = (key ? 0 : 1) | (0 << 1) | (1 << 4) | (first_part << 5);
        buf[0] = (uint8_t)tag;
        buf[1] = (uint8_t)(tag >> 8);
        buf[2] = (uint8_t)(tag >> 16);
        if (key) {
            buf[3] = 0x9d; buf[4] = 0x01; buf[5] = 0x2a;
            buf[6] = (uint8_t)c->width; buf[7] = (uint8_t)(c->width >> 8);
            buf[8] = (uint8_t)c->height; buf[9] = (uint8_t)(c->height >> 8);
        }
        if (add_frame(c, buf, n, key) < 0) { free(buf); return -1; }
    }
    free(buf);
    return 0;
}

int lt_clip_make(lt_clip_t *c, unsigned kbps, unsigned fps, unsigned width, unsigned height, double seconds) {
    memset(c, 0, sizeof *c);
    c->fps = fps;
    c->width = width;
    c->height = height;
    c->target_kbps = kbps;
    size_t frames = (size_t)(seconds * fps + 0.5);
    if (frames < 1) frames = 1;
    c->frames = calloc(frames, sizeof *c->frames);
    if (!c->frames) return -1;
    test_video_t *v = test_video_available() ? test_video_new(width, height, fps) : NULL;
    if (!v) {
        if (make_synthetic(c, frames) < 0) goto fail;
    } else {
        c->real_vp8 = true;
        test_video_set_bitrate(v, kbps);
        /* One second for the rate control to settle, then the clip, starting at a keyframe. */
        const uint8_t *f;
        size_t n;
        bool key;
        for (unsigned i = 0; i < fps; i++)
            if (test_video_next(v, &f, &n, &key) < 0) goto encoder_failed;
        test_video_request_keyframe(v);
        while (c->n < frames) {
            int rc = test_video_next(v, &f, &n, &key);
            if (rc < 0) goto encoder_failed;
            if (add_frame(c, rc == 0 ? f : NULL, rc == 0 ? n : 0, rc == 0 && key) < 0) {
                test_video_free(v);
                goto fail;
            }
        }
        test_video_free(v);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < c->n; i++) total += c->frames[i].len;
    c->kbps = (double)total * 8 / 1000 / ((double)c->n / fps);
    return 0;
encoder_failed:
    fprintf(stderr, "VP8 encoder failed\n");
    test_video_free(v);
fail:
    lt_clip_free(c);
    return -1;
}

void lt_clip_free(lt_clip_t *c) {
    if (!c->frames) return;
    for (size_t i = 0; i < c->n; i++) free(c->frames[i].data);
    free(c->frames);
    memset(c, 0, sizeof *c);
}

int lt_clip_save(const lt_clip_t *c, const char *path) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    lt_ivf_write_header(&b, "VP80", c->width, c->height, c->fps, 1, (uint32_t)c->n);
    for (size_t i = 0; i < c->n; i++) lt_ivf_write_frame(&b, c->frames[i].data, c->frames[i].len, i);
    FILE *f = fopen(path, "wb");
    int rc = f && b.data && fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
    if (f && fclose(f) != 0) rc = -1;
    if (rc) fprintf(stderr, "cannot write the clip to %s\n", path);
    rtc_buf_free(&b);
    return rc;
}

typedef struct {
    lt_clip_t *c;
    size_t cap;
} load_ctx_t;

static int on_ivf_frame(void *u, const uint8_t *p, size_t n, uint64_t pts) {
    (void)pts;
    load_ctx_t *l = u;
    lt_clip_t *c = l->c;
    if (c->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        lt_clip_frame_t *fr = realloc(c->frames, cap * sizeof *fr);
        if (!fr) return RTC_ERR_NOMEM;
        c->frames = fr;
        l->cap = cap;
    }
    /* RFC 6386 §9.1: bit 0 of the frame tag is 0 on key frames. */
    return add_frame(c, p, n, n > 0 && !(p[0] & 1)) < 0 ? RTC_ERR_NOMEM : 0;
}

int lt_clip_load(lt_clip_t *c, const char *path) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open the clip %s\n", path);
        return -1;
    }
    rtc_buf_t b;
    rtc_buf_init(&b);
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) rtc_buf_append(&b, tmp, n);
    fclose(f);
    lt_ivf_info_t info;
    load_ctx_t l = {c, 0};
    int rc = b.data ? lt_ivf_parse(b.data, b.len, &info, on_ivf_frame, &l) : RTC_ERR_MALFORMED;
    rtc_buf_free(&b);
    if (rc <= 0 || strcmp(info.fourcc, "VP80") != 0 || info.scale != 1 || info.rate < 1 || info.rate > 60 ||
        !c->frames[0].key) {
        fprintf(stderr, "%s is not a VP8 clip this loadtest wrote (%s)\n", path, rc < 0 ? rtc_strerror(rc) : "format");
        lt_clip_free(c);
        return -1;
    }
    c->fps = info.rate;
    c->width = info.width;
    c->height = info.height;
    c->real_vp8 = true; /* what we write is what libvpx made, or the synthetic stand-in: both VP8 headers */
    uint64_t total = 0;
    for (size_t i = 0; i < c->n; i++) total += c->frames[i].len;
    c->kbps = (double)total * 8 / 1000 / ((double)c->n / c->fps);
    c->target_kbps = (unsigned)(c->kbps + 0.5);
    return 0;
}
