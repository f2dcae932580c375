/* The SFU side of the in-process end-to-end suites (test_sfu_media, test_sfu_pion): the
 * media engine one starling-sfu worker runs (sfu/media_pc.c: ICE-lite PeerConnections on one
 * shared UDP port) and a room on it, without the binary, Redis or signal. Failures are Check
 * assertions. */
#ifndef SFU_TEST_MEDIA_ROOM_H
#define SFU_TEST_MEDIA_ROOM_H

#include <uv.h>

#include "rtc/base.h"
#include "sfu/room.h"

/* The engine on LOOP, on a free UDP port of 127.0.0.1, withdrawing unanswered subscriber
 * offers after OFFER_TIMEOUT (0: the engine's default). Free with sfu_media_pc_free. */
void *sfu_test_media_engine_new(uv_loop_t *loop, rtc_time_t offer_timeout);

/* Room NAME with its media on ENGINE; every client message goes to SEND (what the room
 * would hand to signal for that participant; SEND owns the payload). Nothing is persisted.
 * Free with sfu_room_free. */
sfu_room_t *sfu_test_room_new(const char *name, void *engine,
                              void (*send)(void *user, sfu_room_t *r, sfu_participant_t *p,
                                           const char *type, cJSON *payload));

#endif
