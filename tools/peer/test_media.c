/* Synthetic test media for starling-peer: a real, decodable VP8 stream (libvpx encoding a
 * moving pattern at 320x240) and Opus silence frames. */
#include "test_media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_VPX
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

struct test_video {
    vpx_codec_ctx_t codec;
    vpx_image_t img;
    vpx_codec_enc_cfg_t cfg; /* kept: libvpx may point at the config it was given */
    unsigned w, h;
    int64_t frame;
    bool force_kf;
    uint8_t *out;
    size_t out_cap;
};

test_video_t *test_video_new(unsigned w, unsigned h, unsigned fps) {
    test_video_t *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->w = w;
    v->h = h;
    vpx_codec_enc_cfg_t cfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0)) { free(v); return NULL; }
    cfg.g_w = w;
    cfg.g_h = h;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = (int)fps;
    cfg.rc_target_bitrate = 300;
    cfg.g_error_resilient = 1;
    cfg.g_lag_in_frames = 0;
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_max_dist = fps * 2;
    cfg.g_threads = 1;
    v->cfg = cfg;
    if (vpx_codec_enc_init(&v->codec, vpx_codec_vp8_cx(), &v->cfg, 0)) { free(v); return NULL; }
    vpx_codec_control(&v->codec, VP8E_SET_CPUUSED, 8);
    if (!vpx_img_alloc(&v->img, VPX_IMG_FMT_I420, w, h, 1)) {
        vpx_codec_destroy(&v->codec);
        free(v);
        return NULL;
    }
    return v;
}

void test_video_free(test_video_t *v) {
    if (!v) return;
    vpx_img_free(&v->img);
    vpx_codec_destroy(&v->codec);
    free(v->out);
    free(v);
}

void test_video_request_keyframe(test_video_t *v) { v->force_kf = true; }

void test_video_set_bitrate(test_video_t *v, unsigned kbps) {
    v->cfg.rc_target_bitrate = kbps;
    vpx_codec_enc_config_set(&v->codec, &v->cfg);
}

/* A gradient that scrolls, with a moving bright square: cheap, and frames differ. */
static void draw(test_video_t *v) {
    int64_t f = v->frame;
    for (unsigned y = 0; y < v->h; y++) {
        uint8_t *row = v->img.planes[0] + y * v->img.stride[0];
        for (unsigned x = 0; x < v->w; x++) row[x] = (uint8_t)(x + y + f * 3);
    }
    unsigned sx = (unsigned)(f * 4) % (v->w - 40), sy = (unsigned)(f * 2) % (v->h - 40);
    for (unsigned y = sy; y < sy + 40; y++) memset(v->img.planes[0] + y * v->img.stride[0] + sx, 235, 40);
    for (unsigned y = 0; y < v->h / 2; y++) {
        memset(v->img.planes[1] + y * v->img.stride[1], (int)(128 + (f % 64)), v->w / 2);
        memset(v->img.planes[2] + y * v->img.stride[2], (int)(128 - (f % 64)), v->w / 2);
    }
}

int test_video_next(test_video_t *v, const uint8_t **frame, size_t *n, bool *keyframe) {
    draw(v);
    vpx_enc_frame_flags_t flags = v->force_kf ? VPX_EFLAG_FORCE_KF : 0;
    v->force_kf = false;
    if (vpx_codec_encode(&v->codec, &v->img, v->frame++, 1, flags, VPX_DL_REALTIME)) return -1;
    vpx_codec_iter_t it = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    size_t total = 0;
    *keyframe = false;
    while ((pkt = vpx_codec_get_cx_data(&v->codec, &it))) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
        if (total + pkt->data.frame.sz > v->out_cap) {
            size_t cap = (total + pkt->data.frame.sz) * 2;
            uint8_t *o = realloc(v->out, cap);
            if (!o) return -1;
            v->out = o;
            v->out_cap = cap;
        }
        memcpy(v->out + total, pkt->data.frame.buf, pkt->data.frame.sz);
        total += pkt->data.frame.sz;
        if (pkt->data.frame.flags & VPX_FRAME_IS_KEY) *keyframe = true;
    }
    *frame = v->out;
    *n = total;
    return total ? 0 : 1;
}
bool test_video_available(void) { return true; }
#else
test_video_t *test_video_new(unsigned w, unsigned h, unsigned fps) {
    (void)w; (void)h; (void)fps;
    return NULL;
}
void test_video_free(test_video_t *v) { (void)v; }
void test_video_request_keyframe(test_video_t *v) { (void)v; }
void test_video_set_bitrate(test_video_t *v, unsigned kbps) { (void)v; (void)kbps; }
int test_video_next(test_video_t *v, const uint8_t **frame, size_t *n, bool *keyframe) {
    (void)v; (void)frame; (void)n; (void)keyframe;
    return -1;
}
bool test_video_available(void) { return false; }
#endif

/* An Opus packet (RFC 6716 TOC 0xF8: CELT FB 20 ms, one frame) that decodes to silence. */
const uint8_t test_opus_silence[3] = {0xf8, 0xff, 0xfe};
