/* starling-signal's option table: one place for defaults, --help, env names and parsing. */
#include "signal/config.h"

#include <stddef.h>

#ifndef STARLING_SIGNAL_WEB_DIR
#define STARLING_SIGNAL_WEB_DIR "services/signal/web"
#endif

#define O(field) offsetof(signal_config_t, field)
static const st_option_t signal_options[] = {
    {"listen", ST_OPT_ADDRESS, O(listen), "127.0.0.1:8080",
     "HTTP and WebSocket listener (/ws, /healthz, /metrics, the demo page)", 0, 0, NULL, 0},
    {"signal_id", ST_OPT_STRING, O(signal_id), NULL,
     "this process's id in Redis (starling:signal:{id}); unset: sig- plus random hex", 0, 0,
     NULL, 0},
    {"api_key", ST_OPT_STRING, O(api_key), "starling",
     "API key: the 'iss' of access tokens", 0, 0, NULL, 0},
    {"api_secret", ST_OPT_STRING, O(api_secret), NULL,
     "API secret that signs access tokens (HS256); required, at least 16 bytes", 0, 0, NULL,
     ST_OPT_SECRET},
    {"dev_mode", ST_OPT_BOOL, O(dev_mode), "false",
     "serve GET /token (anyone can mint a participant token): for local demos only", 0, 0,
     NULL, 0},
    {"web_root", ST_OPT_STRING, O(web_root), STARLING_SIGNAL_WEB_DIR,
     "directory of the demo page served at /", 0, 0, NULL, 0},
    {"allowed_origins", ST_OPT_LIST, O(allowed_origins), "",
     "WebSocket Origins accepted (e.g. https://app.example.com); '*' any; empty: same host "
     "as the request, or no Origin header (non-browser clients)", 0, 0, NULL, 0},
    {"redis_prefix", ST_OPT_STRING, O(redis_prefix), "starling:",
     "prefix of every Redis key and channel", 0, 0, NULL, 0},
    {"resume_grace", ST_OPT_DURATION, O(resume_grace_ms), "20s",
     "a participant whose socket dropped stays in the room this long, waiting to resume", 1000,
     3600000, NULL, 0},
    {"join_timeout", ST_OPT_DURATION, O(join_timeout_ms), "10s",
     "how long an SFU node may take to answer a join before the client gets 'unavailable'",
     100, 600000, NULL, 0},
    {"ping_interval", ST_OPT_DURATION, O(ping_interval_ms), "10s",
     "send 'ping' to a client silent for this long", 100, 3600000, NULL, 0},
    {"idle_timeout", ST_OPT_DURATION, O(idle_timeout_ms), "30s",
     "disconnect a client that sent nothing (not even 'pong') for this long", 200, 3600000,
     NULL, 0},
    {"heartbeat", ST_OPT_DURATION, O(heartbeat_ms), "1s",
     "period of the signal key refresh and SFU node liveness checks", 100, 60000, NULL, 0},
    {"failover_wait", ST_OPT_DURATION, O(failover_wait_ms), "20s",
     "when a room's SFU node stops heartbeating and no other node can take the room, wait "
     "this long for one (or for that node to come back) before its participants get "
     "'unavailable' (0: at once)", 0, 600000, NULL, 0},
    {"limits.max_message", ST_OPT_INT, O(max_message), "65536",
     "largest WebSocket message in bytes; larger gets 'too_large' and close 1009", 1024,
     16777216, NULL, 0},
    {"limits.rate", ST_OPT_INT, O(rate), "50",
     "messages per second per connection (0: unlimited)", 0, 100000, NULL, 0},
    {"limits.burst", ST_OPT_INT, O(burst), "100", "message burst per connection", 1, 100000,
     NULL, 0},
    {"limits.data_payload", ST_OPT_INT, O(data_payload), "16384",
     "largest 'data' payload in bytes", 1, 1048576, NULL, 0},
    {"limits.send_queue", ST_OPT_INT, O(send_queue), "1048576",
     "bytes queued to one slow client before it is disconnected", 65536, 268435456, NULL, 0},
    {"limits.max_participants", ST_OPT_INT, O(max_participants), "0",
     "participants per room (0: no limit); more get 'room_full'", 0, 1000000, NULL, 0},
    {"limits.max_connections", ST_OPT_INT, O(max_connections), "10000",
     "open WebSocket connections per process; more are refused", 1, 1000000, NULL, 0},
    {"turn.urls", ST_OPT_LIST, O(turn_urls), "",
     "ICE server URLs handed to clients (stun:HOST:PORT, turn:HOST:PORT?transport=udp, "
     "turns:...); turn(s) URLs get ephemeral credentials", 0, 0, NULL, 0},
    {"turn.secret", ST_OPT_STRING, O(turn_secret), NULL,
     "TURN REST shared secret used when Redis starling:turn:secrets has none (and added "
     "there at start)", 0, 0, NULL, ST_OPT_SECRET},
    {"turn.ttl", ST_OPT_DURATION, O(turn_ttl_ms), "24h",
     "lifetime of TURN credentials handed to clients", 60000, 604800000, NULL, 0},
    {"token_ttl", ST_OPT_DURATION, O(token_ttl_ms), "6h",
     "lifetime of the dev-mode tokens from GET /token", 60000, 604800000, NULL, 0},
};
#undef O

const st_config_spec_t signal_config_spec = {
    "signal",
    "WebSocket signalling for Starling: rooms, auth, SFU placement, TURN credentials, demo "
    "page.\n       starling-signal token --room R --identity I [--name N] [--ttl 3600] "
    "[--no-publish] [--no-subscribe] [--no-data] [--admin] [--config FILE] mints a token.",
    signal_options,
    sizeof signal_options / sizeof signal_options[0],
    1,
    offsetof(signal_config_t, common),
};
