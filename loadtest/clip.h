/* The loadtest's video: a short VP8 clip encoded once at start (libvpx through
 * tools/peer/test_media.c: a moving pattern) at the requested bitrate, frame rate and size,
 * beginning with a keyframe, that every publisher loops. Looping a clip costs no CPU during the
 * run (a live encoder per publisher would compete with the server for the same cores), the
 * stream stays decodable (each loop restarts at the keyframe), and a keyframe request is
 * answered by jumping back to the start. Without libvpx the frames are synthetic: VP8
 * payload headers (keyframe every 2 s, with the picture size) over random bytes — enough
 * for a forwarder, not for a decoder. */
#ifndef LT_CLIP_H
#define LT_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len;   /* 0: the encoder dropped this frame (send nothing, time still passes) */
    bool key;
} lt_clip_frame_t;

typedef struct {
    lt_clip_frame_t *frames;
    size_t n;
    unsigned fps, width, height, target_kbps;
    double kbps;          /* what the clip actually carries */
    bool real_vp8;        /* libvpx-encoded */
} lt_clip_t;

/* Encodes `seconds` of video (at least 1 frame). Returns 0 or -1 (out of memory or encoder
 * failure, printed). */
int lt_clip_make(lt_clip_t *c, unsigned kbps, unsigned fps, unsigned width, unsigned height, double seconds);
void lt_clip_free(lt_clip_t *c);
/* Writes the clip to an IVF file / reads one back (VP8 only; dropped frames are kept as empty
 * frames). Return 0 or -1 (printed). */
int lt_clip_save(const lt_clip_t *c, const char *path);
int lt_clip_load(lt_clip_t *c, const char *path);
/* Packets send_frame makes of a frame of n bytes (VP8 splits at 1100 bytes of payload). */
static inline unsigned lt_vp8_packets(size_t n) { return n ? (unsigned)((n + 1099) / 1100) : 0; }

#endif
