/* See media_room.h. */
#include "media_room.h"

#include <check.h>

#include "rtc/net.h"
#include "sfu/media_pc.h"

/* sfu_media_pc_new keeps a pointer to its config: it must outlive the engine. */
static sfu_media_pc_config_t media_cfg;

void *sfu_test_media_engine_new(uv_loop_t *loop, rtc_time_t offer_timeout) {
    /* A free port: bind one, note it, close it (the engine binds it again right away). */
    rtc_addr_t any;
    rtc_addr_parse(&any, "127.0.0.1:0", 0);
    rtc_udp_socket_t *probe;
    ck_assert_int_eq(rtc_udp_socket_open(&any, NULL, &probe), RTC_OK);
    uint16_t port = rtc_udp_socket_local(probe)->port;
    rtc_udp_socket_close(probe);
    rtc_addr_parse(&media_cfg.bind, "127.0.0.1:0", 0);
    media_cfg.offer_timeout = offer_timeout;
    void *engine = sfu_media_pc_new(loop, 0, port, &media_cfg);
    ck_assert_ptr_nonnull(engine);
    return engine;
}

sfu_room_t *sfu_test_room_new(const char *name, void *engine,
                              void (*send)(void *user, sfu_room_t *r, sfu_participant_t *p,
                                           const char *type, cJSON *payload)) {
    sfu_room_env_t env = {send, NULL, NULL, NULL, NULL, &sfu_media_pc_ops, engine};
    sfu_room_t *room = sfu_room_new(name, NULL, &env, NULL);
    ck_assert_ptr_nonnull(room);
    return room;
}
