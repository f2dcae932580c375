/*
 * signal/config.h — starling-signal's options (`starling-signal --help` lists them all).
 */
#ifndef STARLING_SIGNAL_CONFIG_H
#define STARLING_SIGNAL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    st_common_config_t common;
    rtc_addr_t listen;
    char *signal_id;           /* NULL: "sig-" + random */
    char *api_key;
    char *api_secret;          /* required */
    bool dev_mode;
    char *web_root;
    st_strlist_t allowed_origins;
    char *redis_prefix;
    int64_t resume_grace_ms;
    int64_t join_timeout_ms;
    int64_t ping_interval_ms;
    int64_t idle_timeout_ms;
    int64_t heartbeat_ms;      /* own key, node checks, participant refresh pacing */
    int64_t failover_wait_ms;  /* a room whose node failed waits this long for one */
    int64_t max_message;
    int64_t rate;
    int64_t burst;
    int64_t data_payload;
    int64_t send_queue;
    int64_t max_participants;
    int64_t max_connections;
    st_strlist_t turn_urls;
    char *turn_secret;
    int64_t turn_ttl_ms;
    int64_t token_ttl_ms;      /* dev /token */
} signal_config_t;

extern const st_config_spec_t signal_config_spec;

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_CONFIG_H */
