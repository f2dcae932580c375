/*
 * sfu/bus.h — the SFU's side of the Redis bus (docs/redis.md, "Channels"): parsing the
 * commands signal processes publish on `starling:sfu:{node_id}` and the cluster events on
 * `starling:events`, and building the envelopes the SFU publishes on
 * `starling:to-signal:{signal_id}`.
 *
 * Envelope: {"type", "room", "participant", "signal", "payload"}. Parsing checks the
 * envelope and the fields of each command's payload (types, lengths, required fields) so
 * the room code only ever sees well-formed commands; anything else is refused with
 * RTC_ERR_MALFORMED and a reason that can go back to the client as `error bad_request`.
 * Unknown fields are ignored, as docs/signalling.md asks.
 *
 * A parsed message owns its cJSON tree; string fields point into it and live until
 * sfu_bus_msg_free().
 */
#ifndef STARLING_SFU_BUS_H
#define STARLING_SFU_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SFU_BUS_MAX_MESSAGE (256 * 1024) /* a bus message, SDP included */
#define SFU_ROOM_NAME_MAX 128
#define SFU_ID_MAX 64                    /* participant, signal and track ids */
#define SFU_NAME_MAX 256                 /* identity, display name */
#define SFU_DATA_MAX (16 * 1024)         /* a data message's payload */
#define SFU_SDP_MAX (64 * 1024)
#define SFU_DATA_MAX_TO 64               /* recipients of one data message */

typedef enum {
    SFU_BUS_UNKNOWN = 0,
    SFU_BUS_JOIN,
    SFU_BUS_RESUME,
    SFU_BUS_OFFER,
    SFU_BUS_ANSWER,
    SFU_BUS_CANDIDATE,
    SFU_BUS_MUTE,
    SFU_BUS_SUBSCRIPTION,
    SFU_BUS_DATA,
    SFU_BUS_LEAVE,
    SFU_BUS_REMOVE,
    SFU_BUS_CLOSE_ROOM,
} sfu_bus_type_t;

typedef struct {
    bool publish, subscribe, data, admin;
} sfu_grants_t;

typedef struct {
    sfu_bus_type_t type;
    const char *type_name;   /* as received */
    const char *room;
    const char *participant; /* "" when absent (join may omit it: the SFU makes one) */
    const char *signal;      /* "" when absent */
    const char *rid;         /* the client's request id inside payload, NULL when none */
    cJSON *root;
    const cJSON *payload;    /* object or NULL */
    union {
        struct { const char *identity, *name; sfu_grants_t grants; } join;
        /* offer (publisher) / answer (subscriber): the SDP; tracks = [{mid, source, name}]
         * or NULL, each entry checked to be an object with string fields; offer_id: the
         * subscriber offer an answer is for, -1 when absent. */
        struct { const char *pc, *sdp; const cJSON *tracks; int64_t offer_id; } sdp;
        /* candidate NULL = end of candidates */
        struct { const char *pc, *candidate, *mid; int mline_index; } cand;
        struct { const char *track_id; bool muted; } mute;
        struct { const char *track_id; int max_width, max_height; bool paused; } sub;
        struct { const char *payload; size_t len; const char *to[SFU_DATA_MAX_TO]; size_t n_to; } data;
        struct { const char *reason; } leave;
    } u;
} sfu_bus_msg_t;

/* Parses one bus command. Returns RTC_OK (msg owns a tree: free it), RTC_ERR_MALFORMED with a
 * reason in why (msg->type and ids are filled when the envelope was readable, so the error
 * can be routed back; msg still needs sfu_bus_msg_free), RTC_ERR_LIMIT for a message over
 * SFU_BUS_MAX_MESSAGE. An unknown type parses with type SFU_BUS_UNKNOWN and RTC_OK. */
int sfu_bus_parse(const char *p, size_t n, sfu_bus_msg_t *msg, char *why, size_t why_cap);
void sfu_bus_msg_free(sfu_bus_msg_t *msg);
const char *sfu_bus_type_name(sfu_bus_type_t t);

/* Checks an id (participant, signal, track): 1..SFU_ID_MAX of [A-Za-z0-9_.:{}-]. Track ids
 * are msid track ids, which browsers make UUIDs with braces in older versions. */
bool sfu_bus_valid_id(const char *s);
/* A room name: 1..SFU_ROOM_NAME_MAX bytes, valid UTF-8 without control characters. */
bool sfu_bus_valid_room(const char *s);

/* ---- cluster events (starling:events) --------------------------------------------------- */
typedef enum {
    SFU_EVENT_UNKNOWN = 0,
    SFU_EVENT_NODE_DOWN,     /* node */
    SFU_EVENT_NODE_DRAINING, /* node */
    SFU_EVENT_ROOM_MOVED,    /* room, to, from ("" when absent) */
    SFU_EVENT_ROOM_CLOSED,   /* room */
} sfu_event_type_t;

typedef struct {
    sfu_event_type_t type;
    char node[SFU_ID_MAX + 1];
    char room[SFU_ROOM_NAME_MAX + 1];
    char from[SFU_ID_MAX + 1];
    char to[SFU_ID_MAX + 1];
} sfu_event_t;

/* RTC_OK, RTC_ERR_MALFORMED (not JSON / missing fields for its type). Unknown types parse as
 * SFU_EVENT_UNKNOWN. */
int sfu_event_parse(const char *p, size_t n, sfu_event_t *ev);

/* ---- building ------------------------------------------------------------------------------ */
/* The envelope as compact JSON (malloc'd, free()), taking ownership of payload (may be NULL).
 * NULL on allocation failure. */
char *sfu_bus_envelope(const char *type, const char *room, const char *participant,
                       const char *signal, cJSON *payload);
/* {"type": type, ...fields of extra} for cluster events; takes ownership of extra. */
char *sfu_event_build(const char *type, cJSON *extra);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_BUS_H */
