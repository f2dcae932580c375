/* Synthetic media for starling-peer --send-test-media. */
#ifndef STARLING_PEER_TEST_MEDIA_H
#define STARLING_PEER_TEST_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct test_video test_video_t;

/* NULL when built without libvpx. */
test_video_t *test_video_new(unsigned w, unsigned h, unsigned fps);
void test_video_free(test_video_t *v);
void test_video_request_keyframe(test_video_t *v);
/* Target bitrate of the encoder (kbit/s; the default is 300). The moving pattern is easy to
 * compress, so libvpx may stay under a high target at small sizes. */
void test_video_set_bitrate(test_video_t *v, unsigned kbps);
/* Encodes the next frame: 0 and frame/n set (valid until the next call), 1 when the encoder
 * dropped the frame, -1 on error. */
int test_video_next(test_video_t *v, const uint8_t **frame, size_t *n, bool *keyframe);
bool test_video_available(void);

extern const uint8_t test_opus_silence[3];

#endif
