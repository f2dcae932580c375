/* signal/protocol: what a client may send (docs/signalling.md) — every message type parsed
 * and validated, every refusal with the right code and a message naming the field, rid echoed,
 * the state/grant rules, the payload relayed to the SFU rebuilt from validated fields only,
 * and the field validators that keep Redis key names intact. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal/protocol.h"

static const char OFFER[] =
    "v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\\r\\nc=IN IP4 0.0.0.0\\r\\na=ice-ufrag:abcd\\r\\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\\r\\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:"
    "66:77:88:99:AA:BB:CC:DD:EE:FF\\r\\na=setup:actpass\\r\\na=mid:0\\r\\na=sendonly\\r\\n"
    "a=rtcp-mux\\r\\na=rtpmap:111 opus/48000/2\\r\\n";

static int parse(const char *text, signal_msg_t *m, signal_perr_t *e) {
    return signal_msg_parse((const uint8_t *)text, strlen(text), NULL, m, e);
}

/* Parses text expecting a refusal with `code` and a message containing `needle`. */
static void refused(const char *text, signal_error_t code, const char *needle) {
    signal_msg_t m;
    signal_perr_t e;
    int rc = parse(text, &m, &e);
    ck_assert_msg(rc == RTC_ERR_MALFORMED, "accepted: %s", text);
    ck_assert_msg(e.code == code, "%s: code %s, want %s (%s)", text, signal_error_name(e.code),
                  signal_error_name(code), e.message);
    ck_assert_msg(strstr(e.message, needle) != NULL, "%s: message '%s' lacks '%s'", text,
                  e.message, needle);
    ck_assert_ptr_null(m.root);
}

START_TEST(join_minimal_and_with_resume) {
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(parse("{\"type\":\"join\",\"room\":\"demo-1.x\",\"token\":\"t.k.n\"}", &m, &e), RTC_OK);
    ck_assert_int_eq(m.type, SIGNAL_MSG_JOIN);
    ck_assert_str_eq(m.room, "demo-1.x");
    ck_assert_str_eq(m.token, "t.k.n");
    ck_assert_ptr_null(m.resume_pid);
    ck_assert_ptr_null(m.rid);
    signal_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"join\",\"room\":\"r\",\"token\":\"x\",\"rid\":\"7\","
                           "\"resume\":{\"participant_id\":\"PA_ab-c\",\"session_token\":\"s\"},"
                           "\"unknown_field\":[1,2]}", &m, &e), RTC_OK);
    ck_assert_str_eq(m.resume_pid, "PA_ab-c");
    ck_assert_str_eq(m.resume_token, "s");
    ck_assert_str_eq(m.rid, "7");
    ck_assert_ptr_null(signal_msg_relay_payload(&m)); /* join is not relayed */
    signal_msg_free(&m);
}
END_TEST

START_TEST(join_refusals_name_the_field) {
    refused("{\"type\":\"join\",\"token\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'room'");
    refused("{\"type\":\"join\",\"room\":5,\"token\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'room'");
    refused("{\"type\":\"join\",\"room\":\"a:b\",\"token\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'room'");
    refused("{\"type\":\"join\",\"room\":\".hidden\",\"token\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'room'");
    refused("{\"type\":\"join\",\"room\":\"a b\",\"token\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'room'");
    refused("{\"type\":\"join\",\"room\":\"r\"}", SIGNAL_E_BAD_REQUEST, "'token'");
    refused("{\"type\":\"join\",\"room\":\"r\",\"token\":\"\"}", SIGNAL_E_BAD_REQUEST, "'token'");
    refused("{\"type\":\"join\",\"room\":\"r\",\"token\":\"x\",\"resume\":1}", SIGNAL_E_BAD_REQUEST, "'resume'");
    refused("{\"type\":\"join\",\"room\":\"r\",\"token\":\"x\",\"resume\":{\"session_token\":\"s\"}}",
            SIGNAL_E_BAD_REQUEST, "participant_id");
    refused("{\"type\":\"join\",\"room\":\"r\",\"token\":\"x\",\"resume\":{\"participant_id\":\"a:b\","
            "\"session_token\":\"s\"}}", SIGNAL_E_BAD_REQUEST, "participant_id");
    /* 65 characters is one too many for a room. */
    char big[256];
    snprintf(big, sizeof big, "{\"type\":\"join\",\"room\":\"%065d\",\"token\":\"x\"}", 0);
    refused(big, SIGNAL_E_BAD_REQUEST, "'room'");
}
END_TEST

START_TEST(framing_refusals) {
    refused("", SIGNAL_E_BAD_REQUEST, "empty");
    refused("{", SIGNAL_E_BAD_REQUEST, "JSON");
    refused("not json", SIGNAL_E_BAD_REQUEST, "JSON");
    refused("[1]", SIGNAL_E_BAD_REQUEST, "object");
    refused("\"str\"", SIGNAL_E_BAD_REQUEST, "object");
    refused("{\"type\":\"ping\"} {}", SIGNAL_E_BAD_REQUEST, "after");
    refused("{}", SIGNAL_E_BAD_REQUEST, "'type'");
    refused("{\"type\":null}", SIGNAL_E_BAD_REQUEST, "'type'");
    refused("{\"type\":[\"join\"]}", SIGNAL_E_BAD_REQUEST, "'type'");
    refused("{\"type\":\"JOIN\"}", SIGNAL_E_UNKNOWN_TYPE, "'JOIN'");
    refused("{\"type\":\"nope\\u0001\\n\"}", SIGNAL_E_UNKNOWN_TYPE, "'nope?" "?'");
    /* Trailing whitespace is fine. */
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(parse("{\"type\":\"leave\"} \r\n", &m, &e), RTC_OK);
    ck_assert_int_eq(m.type, SIGNAL_MSG_LEAVE);
    signal_msg_free(&m);
}
END_TEST

START_TEST(rid_is_echoed_in_refusals) {
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(parse("{\"rid\":\"abc\",\"type\":\"offer\",\"pc\":\"nope\"}", &m, &e),
                     RTC_ERR_MALFORMED);
    ck_assert(e.has_rid);
    ck_assert_str_eq(e.rid, "abc");
    ck_assert_int_eq(parse("{\"rid\":\"q\",\"type\":\"bogus\"}", &m, &e), RTC_ERR_MALFORMED);
    ck_assert_int_eq(e.code, SIGNAL_E_UNKNOWN_TYPE);
    ck_assert_str_eq(e.rid, "q");
    /* An unusable rid is itself the error, and cannot be echoed. */
    char big[160];
    snprintf(big, sizeof big, "{\"rid\":\"%065d\",\"type\":\"ping\"}", 0);
    ck_assert_int_eq(parse(big, &m, &e), RTC_ERR_MALFORMED);
    ck_assert(!e.has_rid);
    ck_assert(strstr(e.message, "'rid'"));
    ck_assert_int_eq(parse("{\"rid\":5,\"type\":\"ping\"}", &m, &e), RTC_ERR_MALFORMED);
    ck_assert(!e.has_rid);
}
END_TEST

START_TEST(offer_answer_sdp_checked_by_the_sdp_parser) {
    char text[4096];
    signal_msg_t m;
    signal_perr_t e;
    snprintf(text, sizeof text,
             "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"%s\",\"tracks\":[{\"mid\":\"0\","
             "\"source\":\"microphone\",\"name\":\"mic\",\"extra\":true}],\"x\":1}", OFFER);
    ck_assert_int_eq(parse(text, &m, &e), RTC_OK);
    ck_assert_int_eq(m.pc, SIGNAL_PC_PUBLISHER);
    ck_assert_uint_eq(m.n_tracks, 1);
    ck_assert(strncmp(m.sdp, "v=0\r\n", 5) == 0);
    /* The relayed payload carries validated fields only. */
    cJSON *p = signal_msg_relay_payload(&m);
    char *s = cJSON_PrintUnformatted(p);
    ck_assert(strstr(s, "\"type\":\"offer\"") && strstr(s, "\"pc\":\"publisher\""));
    ck_assert(strstr(s, "\"mid\":\"0\"") && strstr(s, "\"source\":\"microphone\""));
    ck_assert_ptr_null(strstr(s, "extra"));
    ck_assert_ptr_null(strstr(s, "\"x\""));
    cJSON_free(s);
    cJSON_Delete(p);
    signal_msg_free(&m);

    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"subscriber\",\"sdp\":\"%s\"}", OFFER);
    ck_assert_int_eq(parse(text, &m, &e), RTC_OK);
    ck_assert_int_eq(m.offer_id, -1);
    p = signal_msg_relay_payload(&m);
    ck_assert_ptr_null(cJSON_GetObjectItem(p, "offer_id"));
    cJSON_Delete(p);
    signal_msg_free(&m);
    /* An answer echoes the SFU's offer_id; it is relayed to the node. */
    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"subscriber\",\"sdp\":\"%s\",\"offer_id\":42}", OFFER);
    ck_assert_int_eq(parse(text, &m, &e), RTC_OK);
    ck_assert_int_eq(m.offer_id, 42);
    p = signal_msg_relay_payload(&m);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "offer_id")), 42);
    cJSON_Delete(p);
    signal_msg_free(&m);
    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"subscriber\",\"sdp\":\"%s\",\"offer_id\":-1}", OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "offer_id");
    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"subscriber\",\"sdp\":\"%s\",\"offer_id\":\"1\"}", OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "offer_id");

    /* Direction rules: clients offer on the publisher pc and answer on the subscriber pc. */
    snprintf(text, sizeof text, "{\"type\":\"offer\",\"pc\":\"subscriber\",\"sdp\":\"%s\"}", OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "publisher");
    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"publisher\",\"sdp\":\"%s\"}", OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "subscriber");
    refused("{\"type\":\"offer\",\"sdp\":\"v=0\"}", SIGNAL_E_BAD_REQUEST, "'pc'");
    refused("{\"type\":\"offer\",\"pc\":\"publisher\"}", SIGNAL_E_BAD_REQUEST, "'sdp'");
    /* The SDP parser's verdict names the line. */
    refused("{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"v=0\\r\\no=garbage\\r\\n\"}",
            SIGNAL_E_BAD_REQUEST, "line 2");
    refused("{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 1.2.3.4\\r\\n"
            "s=-\\r\\nt=0 0\\r\\n\"}", SIGNAL_E_BAD_REQUEST, "m=");
    snprintf(text, sizeof text,
             "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"%s\",\"tracks\":[{\"mid\":\"0\","
             "\"source\":\"webcam\"}]}", OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "source");
    snprintf(text, sizeof text,
             "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"%s\",\"tracks\":[{\"source\":\"camera\"}]}",
             OFFER);
    refused(text, SIGNAL_E_BAD_REQUEST, "tracks[0]");
}
END_TEST

START_TEST(sdp_size_limit_is_configurable) {
    signal_limits_t lim = {.max_sdp = 100, .max_data_payload = 16384};
    char text[4096];
    snprintf(text, sizeof text, "{\"type\":\"answer\",\"pc\":\"subscriber\",\"sdp\":\"%s\"}", OFFER);
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(signal_msg_parse((const uint8_t *)text, strlen(text), &lim, &m, &e),
                     RTC_ERR_MALFORMED);
    ck_assert(strstr(e.message, "longer than 100"));
}
END_TEST

START_TEST(candidates) {
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":{\"candidate\":"
                           "\"candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host\",\"sdp_mid\":\"0\","
                           "\"sdp_mline_index\":0}}", &m, &e), RTC_OK);
    ck_assert(!m.end_of_candidates);
    cJSON *p = signal_msg_relay_payload(&m);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "candidate"), "sdp_mid")->valuestring, "0");
    cJSON_Delete(p);
    signal_msg_free(&m);
    /* End of candidates: null, or an empty candidate string as browsers send it. */
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"pc\":\"subscriber\",\"candidate\":null}", &m, &e), RTC_OK);
    ck_assert(m.end_of_candidates);
    p = signal_msg_relay_payload(&m);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(p, "candidate")));
    cJSON_Delete(p);
    signal_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"pc\":\"subscriber\",\"candidate\":{\"candidate\":\"\"}}", &m, &e), RTC_OK);
    ck_assert(m.end_of_candidates);
    signal_msg_free(&m);
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\"}", SIGNAL_E_BAD_REQUEST, "'candidate'");
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":\"x\"}", SIGNAL_E_BAD_REQUEST, "'candidate'");
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"candidate:1 1 udp\","
            "\"sdp_mid\":\"0\"}}", SIGNAL_E_BAD_REQUEST, "candidate rejected");
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":{\"candidate\":"
            "\"candidate:1 1 udp 1 192.0.2.1 5000 typ host\"}}", SIGNAL_E_BAD_REQUEST, "sdp_mid");
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
            "\"sdp_mline_index\":1.5}}", SIGNAL_E_BAD_REQUEST, "sdp_mline_index");
    refused("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"c\","
            "\"sdp_mline_index\":-1}}", SIGNAL_E_BAD_REQUEST, "sdp_mline_index");
}
END_TEST

START_TEST(mute_subscription_data_ping) {
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_int_eq(parse("{\"type\":\"mute\",\"track_id\":\"{a-b}\",\"muted\":true}", &m, &e), RTC_OK);
    ck_assert(m.muted);
    ck_assert_str_eq(m.track_id, "{a-b}");
    signal_msg_free(&m);
    refused("{\"type\":\"mute\",\"track_id\":\"t\"}", SIGNAL_E_BAD_REQUEST, "'muted'");
    refused("{\"type\":\"mute\",\"track_id\":\"t\",\"muted\":\"yes\"}", SIGNAL_E_BAD_REQUEST, "'muted'");
    refused("{\"type\":\"mute\",\"track_id\":\"\\n\",\"muted\":true}", SIGNAL_E_BAD_REQUEST, "'track_id'");

    ck_assert_int_eq(parse("{\"type\":\"subscription\",\"track_id\":\"t\",\"max_width\":640,"
                           "\"max_height\":null,\"paused\":false}", &m, &e), RTC_OK);
    cJSON *p = signal_msg_relay_payload(&m);
    ck_assert_int_eq(cJSON_GetObjectItem(p, "max_width")->valueint, 640);
    ck_assert_ptr_null(cJSON_GetObjectItem(p, "max_height"));
    cJSON_Delete(p);
    signal_msg_free(&m);
    refused("{\"type\":\"subscription\",\"track_id\":\"t\",\"max_width\":1e9}", SIGNAL_E_BAD_REQUEST, "max_width");

    ck_assert_int_eq(parse("{\"type\":\"data\",\"payload\":\"hi\",\"to\":[\"PA_1\",\"PA_2\"]}", &m, &e), RTC_OK);
    ck_assert_str_eq(m.payload, "hi");
    ck_assert_uint_eq(m.n_to, 2);
    signal_msg_free(&m);
    refused("{\"type\":\"data\"}", SIGNAL_E_BAD_REQUEST, "'payload'");
    refused("{\"type\":\"data\",\"payload\":{}}", SIGNAL_E_BAD_REQUEST, "'payload'");
    refused("{\"type\":\"data\",\"payload\":\"x\",\"to\":\"PA_1\"}", SIGNAL_E_BAD_REQUEST, "'to'");
    refused("{\"type\":\"data\",\"payload\":\"x\",\"to\":[\"a:b\"]}", SIGNAL_E_BAD_REQUEST, "'to'");
    char *big = malloc(20000);
    int n = snprintf(big, 20000, "{\"type\":\"data\",\"payload\":\"");
    memset(big + n, 'x', 16385);
    strcpy(big + n + 16385, "\"}");
    refused(big, SIGNAL_E_BAD_REQUEST, "16384");
    big[n + 16384] = '"';
    strcpy(big + n + 16384, "\"}");
    ck_assert_int_eq(parse(big, &m, &e), RTC_OK); /* exactly the limit is fine */
    signal_msg_free(&m);
    free(big);

    ck_assert_int_eq(parse("{\"type\":\"ping\",\"ts\":1700000000123}", &m, &e), RTC_OK);
    ck_assert(m.has_ts);
    ck_assert(m.ts == 1700000000123.0);
    signal_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"pong\"}", &m, &e), RTC_OK);
    ck_assert(!m.has_ts);
    signal_msg_free(&m);
    refused("{\"type\":\"ping\",\"ts\":\"now\"}", SIGNAL_E_BAD_REQUEST, "'ts'");
}
END_TEST

static signal_msg_t parsed(const char *text) {
    signal_msg_t m;
    signal_perr_t e;
    ck_assert_msg(parse(text, &m, &e) == RTC_OK, "%s: %s", text, e.message);
    return m;
}

START_TEST(state_and_grant_rules) {
    signal_perr_t e;
    signal_msg_t join = parsed("{\"type\":\"join\",\"room\":\"r\",\"token\":\"t\",\"rid\":\"j\"}");
    signal_msg_t ping = parsed("{\"type\":\"ping\"}");
    signal_msg_t data = parsed("{\"type\":\"data\",\"payload\":\"x\",\"rid\":\"d\"}");
    signal_msg_t mute = parsed("{\"type\":\"mute\",\"track_id\":\"t\",\"muted\":false}");
    signal_msg_t sub = parsed("{\"type\":\"subscription\",\"track_id\":\"t\"}");
    signal_msg_t cand_sub = parsed("{\"type\":\"candidate\",\"pc\":\"subscriber\",\"candidate\":null}");
    signal_msg_t cand_pub = parsed("{\"type\":\"candidate\",\"pc\":\"publisher\",\"candidate\":null}");
    char text[4096];
    snprintf(text, sizeof text, "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"%s\"}", OFFER);
    signal_msg_t offer_dc = parsed(text); /* no labelled tracks: data channel only */
    snprintf(text, sizeof text, "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"%s\","
                                "\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\"}]}", OFFER);
    signal_msg_t offer_media = parsed(text);

    ck_assert_int_eq(signal_msg_permitted(&join, false, 0, &e), RTC_OK);
    ck_assert_int_eq(signal_msg_permitted(&join, true, 0, &e), RTC_ERR_DENIED);
    ck_assert_int_eq(e.code, SIGNAL_E_ALREADY_JOINED);
    ck_assert_str_eq(e.rid, "j");
    ck_assert_int_eq(signal_msg_permitted(&ping, false, 0, &e), RTC_OK);
    ck_assert_int_eq(signal_msg_permitted(&data, false, SIGNAL_GRANTS_PARTICIPANT, &e), RTC_ERR_DENIED);
    ck_assert_int_eq(e.code, SIGNAL_E_NOT_JOINED);
    ck_assert_str_eq(e.rid, "d");

    const unsigned all = SIGNAL_GRANTS_PARTICIPANT;
    const unsigned no_pub = all & ~SIGNAL_GRANT_PUBLISH, no_sub = all & ~SIGNAL_GRANT_SUBSCRIBE,
                   no_data = all & ~SIGNAL_GRANT_DATA, sub_only = SIGNAL_GRANT_SUBSCRIBE;
    struct {
        signal_msg_t *m;
        unsigned grants;
        bool ok;
    } cases[] = {
        {&data, all, true},        {&data, no_data, false},      {&mute, all, true},
        {&mute, no_pub, false},    {&sub, all, true},            {&sub, no_sub, false},
        {&cand_sub, no_pub, true}, {&cand_sub, no_sub, false},   {&cand_pub, no_pub, true},
        {&cand_pub, sub_only, false}, {&offer_dc, no_pub, true}, {&offer_dc, sub_only, false},
        {&offer_media, no_pub, false}, {&offer_media, all, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = signal_msg_permitted(cases[i].m, true, cases[i].grants, &e);
        ck_assert_msg((rc == RTC_OK) == cases[i].ok, "case %zu: rc %d", i, rc);
        if (!cases[i].ok) ck_assert_int_eq(e.code, SIGNAL_E_FORBIDDEN);
    }
    signal_msg_t *all_msgs[] = {&join, &ping, &data, &mute, &sub, &cand_sub, &cand_pub, &offer_dc, &offer_media};
    for (size_t i = 0; i < sizeof all_msgs / sizeof all_msgs[0]; i++) signal_msg_free(all_msgs[i]);
}
END_TEST

START_TEST(error_json_and_names) {
    char *s = signal_error_json(SIGNAL_E_TOO_LARGE, "msg \"quoted\"", "r1");
    cJSON *o = cJSON_Parse(s);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "error");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "code")->valuestring, "too_large");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "message")->valuestring, "msg \"quoted\"");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "rid")->valuestring, "r1");
    cJSON_Delete(o);
    free(s);
    s = signal_error_json(SIGNAL_E_UNAVAILABLE, NULL, NULL);
    ck_assert_ptr_null(strstr(s, "rid"));
    free(s);
    /* Every code of docs/signalling.md has its name. */
    const char *names[] = {"bad_request", "unauthorized", "forbidden", "not_joined", "already_joined",
                           "unknown_type", "too_large", "rate_limited", "room_full", "unavailable",
                           "resume_failed", "internal"};
    for (int i = 1; i < SIGNAL_E_COUNT_; i++)
        ck_assert_str_eq(signal_error_name((signal_error_t)i), names[i - 1]);
}
END_TEST

START_TEST(validators) {
    ck_assert(signal_room_valid("a"));
    ck_assert(signal_room_valid("Team_A-1.b"));
    ck_assert(!signal_room_valid(""));
    ck_assert(!signal_room_valid(NULL));
    ck_assert(!signal_room_valid(".a"));
    ck_assert(!signal_room_valid("a:b"));
    ck_assert(!signal_room_valid("a/b"));
    ck_assert(!signal_room_valid("a*"));
    ck_assert(!signal_room_valid("caf\xc3\xa9"));
    char r[70];
    memset(r, 'a', 64);
    r[64] = 0;
    ck_assert(signal_room_valid(r));
    r[64] = 'a';
    r[65] = 0;
    ck_assert(!signal_room_valid(r));
    ck_assert(signal_id_valid("PA_x-Y"));
    ck_assert(!signal_id_valid("PA.x"));
    ck_assert(!signal_id_valid("a b"));
    ck_assert(signal_text_valid("Zoë Ωmega", 128));
    ck_assert(!signal_text_valid("tab\there", 128));
    ck_assert(!signal_text_valid("del\x7f", 128));
    ck_assert(!signal_text_valid("", 128));
    ck_assert(!signal_text_valid("abcd", 3));
}
END_TEST

int main(void) {
    Suite *s = suite_create("signal_protocol");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, join_minimal_and_with_resume);
    tcase_add_test(tc, join_refusals_name_the_field);
    tcase_add_test(tc, framing_refusals);
    tcase_add_test(tc, rid_is_echoed_in_refusals);
    tcase_add_test(tc, offer_answer_sdp_checked_by_the_sdp_parser);
    tcase_add_test(tc, sdp_size_limit_is_configurable);
    tcase_add_test(tc, candidates);
    tcase_add_test(tc, mute_subscription_data_ping);
    tcase_add_test(tc, state_and_grant_rules);
    tcase_add_test(tc, error_json_and_names);
    tcase_add_test(tc, validators);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
