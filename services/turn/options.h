/*
 * turn/options.h — starling-turn's configuration: the option table (file, environment
 * STARLING_TURN_*, flags, --help, all through common/config.h) and the translation of a
 * loaded configuration into the core's policy and the runtime's listener set.
 *
 * docs/turn.md lists every key with its default.
 */
#ifndef TURN_OPTIONS_H
#define TURN_OPTIONS_H

#include "common/config.h"
#include "turn/policy.h"
#include "turn/runtime.h"

typedef struct {
    st_common_config_t common;

    st_strlist_t listen;            /* UDP listeners */
    st_strlist_t tcp_listen;
    st_strlist_t tls_listen;
    char *tls_cert, *tls_key;
    int64_t workers;

    char *realm;
    char *software;
    st_strlist_t users;             /* "name:password" or "name:0x<md5 key>" */

    char *relay_ipv4, *relay_ipv6;
    char *external_ipv4, *external_ipv6;
    int64_t port_min, port_max;

    int64_t lifetime_default_ms, lifetime_max_ms, permission_lifetime_ms, channel_lifetime_ms;
    int64_t nonce_lifetime_ms;
    char *nonce_secret;

    int64_t quota_user, quota_total, quota_bandwidth, quota_permissions;
    st_strlist_t peers_allow, peers_deny;
    bool peers_allow_all;
    int64_t auth_rate, auth_burst;
    bool rfc5766_channels;

    st_strlist_t rest_secrets;
    bool rest_redis;
    char *rest_key;
    int64_t rest_refresh_ms;
    int64_t rest_ttl_ms;

    st_strlist_t http_listen;
    char *http_api_key;
    st_strlist_t uris;

    char *node_id;
    char *node_key_prefix;

    int64_t max_connections;
    int64_t stream_idle_ms;
    int64_t udp_recv_buffer, udp_send_buffer;
    bool udp_io_uring;
} turn_options_t;

extern const st_config_spec_t turn_options_spec;

/* Builds the core policy from loaded options: realm, users, relay addresses (derived from
 * the first specific listener of each family when not set), lifetimes, quotas, peer filter
 * with the server's own addresses, static REST secrets. Returns RTC_OK with *out (refs 1),
 * or an error with a message in err. */
int turn_options_policy(const turn_options_t *o, turn_policy_t **out, char *err, size_t errlen);

/* Fills the runtime configuration (listeners, TLS files, workers, limits). The strings it
 * points to belong to o. */
int turn_options_runtime(const turn_options_t *o, turn_runtime_config_t *out, char *err, size_t errlen);

/* The TURN URIs the credential endpoint hands out: the "uris" option, or ones made from the
 * listeners (turn:IP:PORT?transport=udp|tcp, turns:IP:PORT?transport=tcp) with external or
 * relay addresses in place of wildcards. Appends to a NULL-terminated array the caller
 * frees with turn_options_free_uris. */
char **turn_options_uris(const turn_options_t *o);
void turn_options_free_uris(char **uris);

#endif /* TURN_OPTIONS_H */
