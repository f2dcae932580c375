/*
 * signal/protocol.h — the client side of the signalling protocol (docs/signalling.md):
 * parsing and validating what a browser sends, the rules for which message is allowed when,
 * and the error codes and error messages sent back.
 *
 * Sans-I/O: bytes in, a validated message (or an error naming the field) out. Everything a
 * client sends passes through signal_msg_parse() before anything else looks at it, so this is
 * the fuzzed surface (tests/fuzz/fuzz_signal_msg.c). SDP and ICE candidates are checked with
 * libwebrtc's SDP parser so that a client gets "SDP line 7: ..." from signal rather than a
 * silent failure on the SFU.
 */
#ifndef STARLING_SIGNAL_PROTOCOL_H
#define STARLING_SIGNAL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SIGNAL_MSG_JOIN,
    SIGNAL_MSG_OFFER,
    SIGNAL_MSG_ANSWER,
    SIGNAL_MSG_CANDIDATE,
    SIGNAL_MSG_MUTE,
    SIGNAL_MSG_SUBSCRIPTION,
    SIGNAL_MSG_DATA,
    SIGNAL_MSG_LEAVE,
    SIGNAL_MSG_PING,
    SIGNAL_MSG_PONG,
    SIGNAL_MSG_COUNT_
} signal_msg_type_t;

typedef enum { SIGNAL_PC_NONE, SIGNAL_PC_PUBLISHER, SIGNAL_PC_SUBSCRIBER } signal_pc_t;

/* Error codes of docs/signalling.md ("Error codes"). */
typedef enum {
    SIGNAL_E_NONE = 0,
    SIGNAL_E_BAD_REQUEST,
    SIGNAL_E_UNAUTHORIZED,
    SIGNAL_E_FORBIDDEN,
    SIGNAL_E_NOT_JOINED,
    SIGNAL_E_ALREADY_JOINED,
    SIGNAL_E_UNKNOWN_TYPE,
    SIGNAL_E_TOO_LARGE,
    SIGNAL_E_RATE_LIMITED,
    SIGNAL_E_ROOM_FULL,
    SIGNAL_E_UNAVAILABLE,
    SIGNAL_E_RESUME_FAILED,
    SIGNAL_E_INTERNAL,
    SIGNAL_E_COUNT_
} signal_error_t;

/* Grants carried by an access token (signal/token.h). */
#define SIGNAL_GRANT_PUBLISH 0x1u
#define SIGNAL_GRANT_SUBSCRIBE 0x2u
#define SIGNAL_GRANT_DATA 0x4u
#define SIGNAL_GRANT_ADMIN 0x8u
#define SIGNAL_GRANTS_PARTICIPANT (SIGNAL_GRANT_PUBLISH | SIGNAL_GRANT_SUBSCRIBE | SIGNAL_GRANT_DATA)

/* Field limits. Room names and participant ids end up inside Redis key and channel names, so
 * they are restricted to characters that cannot change a key's structure (no ':'). */
#define SIGNAL_ROOM_MAX 64        /* [A-Za-z0-9_-][A-Za-z0-9_.-]* */
#define SIGNAL_ID_MAX 64          /* participant ids, node ids, signal ids: [A-Za-z0-9_-]+ */
#define SIGNAL_RID_MAX 64         /* request ids echoed in errors */
#define SIGNAL_TEXT_MAX 128       /* identity, name, track id, track name: no control chars */
#define SIGNAL_MID_MAX 32
#define SIGNAL_CANDIDATE_MAX 1024
#define SIGNAL_SESSION_TOKEN_MAX 128
#define SIGNAL_MAX_TRACKS 32      /* labelled tracks in one offer */
#define SIGNAL_MAX_TO 100         /* recipients of one data message */

typedef struct {
    size_t max_sdp;          /* longest SDP accepted; default 65536 */
    size_t max_data_payload; /* longest `data` payload; default 16384 */
} signal_limits_t;

/* A validated client message. Pointers refer into `root`, which the message owns; free with
 * signal_msg_free. Only the fields of `type` are set. */
typedef struct {
    signal_msg_type_t type;
    cJSON *root;
    const char *rid;            /* NULL when absent */
    /* join */
    const char *room;
    const char *token;
    const char *resume_pid;     /* NULL unless join carries resume */
    const char *resume_token;
    /* offer / answer / candidate */
    signal_pc_t pc;
    const char *sdp;
    size_t n_tracks;            /* offer: labelled tracks (media needs the publish grant) */
    int64_t offer_id;           /* answer: the subscriber offer it answers, -1 when absent */
    bool end_of_candidates;     /* candidate: null or "" */
    /* mute / subscription */
    const char *track_id;
    bool muted;
    /* data */
    const char *payload;
    size_t n_to;
    /* ping / pong */
    bool has_ts;
    double ts;
} signal_msg_t;

/* Why a message was refused: the code, an English message naming the field, and the rid of
 * the message when it could be read. */
typedef struct {
    signal_error_t code;
    char message[192];
    char rid[SIGNAL_RID_MAX + 1];
    bool has_rid;
} signal_perr_t;

void signal_limits_default(signal_limits_t *lim);

/* Parses and validates one text frame p[0..n). Returns RTC_OK with *out filled (free it with
 * signal_msg_free), or RTC_ERR_MALFORMED with err filled (code bad_request or unknown_type)
 * and *out zeroed. lim may be NULL (defaults). Never reads past n; any bytes are safe. */
int signal_msg_parse(const uint8_t *p, size_t n, const signal_limits_t *lim, signal_msg_t *out,
                     signal_perr_t *err);
void signal_msg_free(signal_msg_t *m);

/* The rules of docs/signalling.md for a parsed message on a connection that has (joined) or
 * has not joined, with the token's grants: not_joined, already_joined, forbidden. Returns
 * RTC_OK or RTC_ERR_DENIED with err filled (rid copied from m). */
int signal_msg_permitted(const signal_msg_t *m, bool joined, unsigned grants,
                         signal_perr_t *err);

/* The object relayed to the SFU as a bus message's payload (docs/redis.md): the client's
 * message rebuilt from validated fields only, "type" included. NULL for messages that are not
 * relayed (join, leave, ping, pong) or out of memory. The caller frees it with cJSON_Delete. */
cJSON *signal_msg_relay_payload(const signal_msg_t *m);

const char *signal_msg_type_name(signal_msg_type_t t);
const char *signal_error_name(signal_error_t e);
const char *signal_pc_name(signal_pc_t pc);

/* {"type":"error","code":...,"message":...,"rid":...} as a malloc'd NUL-terminated string,
 * or NULL when out of memory. rid may be NULL. */
char *signal_error_json(signal_error_t code, const char *message, const char *rid);

/* Field validators, shared with the token and HTTP code. */
bool signal_room_valid(const char *s);
bool signal_id_valid(const char *s);
/* 1..max bytes, no ASCII control characters (the text is already valid UTF-8 JSON). */
bool signal_text_valid(const char *s, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_PROTOCOL_H */
