/* starling-signal's WebSocket protocol (docs/signalling.md) for the loadtest's participants:
 * join with a token we mint ourselves (HS256 with the signal's API key and secret, grants
 * publish for publishers, subscribe for those that receive), publisher offer -> answer,
 * subscriber offers (from the SFU, ICE-lite) -> our answers, pings answered, leave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jwt.h"
#include "sfu_load.h"

static char *mint_token(const lt_part_t *p) {
    const lt_app_t *a = p->app;
    char room[96];
    lt_room_name(a, p->room, room, sizeof room);
    int64_t now = (int64_t)time(NULL);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "iss", a->api_key);
    cJSON_AddStringToObject(c, "sub", p->identity);
    cJSON_AddStringToObject(c, "name", p->identity);
    cJSON_AddStringToObject(c, "room", room);
    cJSON *g = cJSON_AddObjectToObject(c, "grants");
    cJSON_AddBoolToObject(g, "publish", p->publishes);
    cJSON_AddBoolToObject(g, "subscribe", p->subscribes);
    cJSON_AddBoolToObject(g, "data", false);
    cJSON_AddNumberToObject(c, "iat", (double)now);
    cJSON_AddNumberToObject(c, "nbf", (double)now);
    cJSON_AddNumberToObject(c, "exp", (double)(now + 6 * 3600));
    char *tok = NULL;
    if (st_jwt_sign_hs256(a->api_secret, strlen(a->api_secret), c, &tok) != RTC_OK) tok = NULL;
    cJSON_Delete(c);
    return tok;
}

static void st_open(lt_part_t *p) {
    char *tok = mint_token(p);
    if (!tok) {
        lt_part_fail(p, "cannot mint a token");
        return;
    }
    char room[96];
    lt_room_name(p->app, p->room, room, sizeof room);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "join");
    cJSON_AddStringToObject(o, "room", room);
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddStringToObject(o, "rid", "join");
    free(tok);
    if (lt_part_send_json(p, o) != RTC_OK) lt_part_fail(p, "cannot send join");
}

static bool is_pc(const cJSON *m, const char *which) {
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(m, "pc");
    return cJSON_IsString(pc) && strcmp(pc->valuestring, which) == 0;
}

static void st_message(lt_part_t *p, const cJSON *m) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (!cJSON_IsString(type)) {
        p->app->proto_errors++;
        return;
    }
    const char *t = type->valuestring;
    const cJSON *sdp = cJSON_GetObjectItemCaseSensitive(m, "sdp");
    if (strcmp(t, "joined") == 0) {
        const cJSON *part = cJSON_GetObjectItemCaseSensitive(m, "participant");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(part, "id");
        if (cJSON_IsString(id)) snprintf(p->participant_id, sizeof p->participant_id, "%s", id->valuestring);
        lt_part_joined(p);
    } else if (strcmp(t, "answer") == 0 && is_pc(m, "publisher") && cJSON_IsString(sdp)) {
        lt_part_publisher_answer(p, sdp->valuestring);
    } else if (strcmp(t, "offer") == 0 && is_pc(m, "subscriber") && cJSON_IsString(sdp)) {
        /* Everyone gets a subscriber offer (its data channel); only receivers answer it. */
        if (p->subscribes) lt_part_subscriber_offer(p, sdp->valuestring);
    } else if (strcmp(t, "candidate") == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "candidate");
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(c, "candidate");
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(c, "sdp_mid");
        lt_part_remote_candidate(p, is_pc(m, "publisher"), cJSON_IsString(line) ? line->valuestring : NULL,
                                 cJSON_IsString(mid) ? mid->valuestring : NULL);
    } else if (strcmp(t, "ping") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "pong");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "ts");
        if (ts) cJSON_AddItemToObject(o, "ts", cJSON_Duplicate(ts, 1));
        lt_part_send_json(p, o);
    } else if (strcmp(t, "error") == 0) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(m, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(m, "message");
        p->app->proto_errors++;
        lt_part_fail(p, "error %s: %s", cJSON_IsString(code) ? code->valuestring : "?",
                     cJSON_IsString(msg) ? msg->valuestring : "");
    } else if (strcmp(t, "left") == 0 || strcmp(t, "reconnect") == 0) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(m, "reason");
        lt_part_fail(p, "%s (%s)", t, cJSON_IsString(why) ? why->valuestring : "?");
    }
    /* participant_joined/left, track_published, active_speakers, layer, pong: nothing to do. */
}

static void st_send_offer(lt_part_t *p, const char *sdp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "offer");
    cJSON_AddStringToObject(o, "pc", "publisher");
    cJSON_AddStringToObject(o, "sdp", sdp);
    cJSON *tracks = cJSON_AddArrayToObject(o, "tracks");
    for (int i = 0; i < 2; i++) {
        rtc_pc_transceiver_t *t = i == 0 ? p->vt : p->at;
        const char *mid = t ? rtc_pc_transceiver_mid(t) : NULL;
        if (!mid) continue;
        cJSON *tr = cJSON_CreateObject();
        cJSON_AddStringToObject(tr, "mid", mid);
        cJSON_AddStringToObject(tr, "source", i == 0 ? "camera" : "microphone");
        cJSON_AddStringToObject(tr, "name", p->identity);
        cJSON_AddItemToArray(tracks, tr);
    }
    if (lt_part_send_json(p, o) != RTC_OK) lt_part_fail(p, "cannot send the offer");
}

static void st_send_answer(lt_part_t *p, const char *sdp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "answer");
    cJSON_AddStringToObject(o, "pc", "subscriber");
    cJSON_AddStringToObject(o, "sdp", sdp);
    if (lt_part_send_json(p, o) != RTC_OK) lt_part_fail(p, "cannot send the answer");
}

/* The SFU offers on its own whenever a track is published: nothing to ask for. */
static void st_start_subscribing(lt_part_t *p) { (void)p; }

static void st_leave(lt_part_t *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "leave");
    lt_part_send_json(p, o);
}

const lt_proto_t lt_proto_starling = {
    .name = "starling",
    .server_name = "starling-sfu",
    .ws_path = "/ws",
    .ws_protocol = NULL,
    .prepare = NULL,
    .on_open = st_open,
    .on_message = st_message,
    .send_offer = st_send_offer,
    .send_answer = st_send_answer,
    .start_subscribing = st_start_subscribing,
    .tick = NULL,
    .leave = st_leave,
    .finish = NULL,
};
