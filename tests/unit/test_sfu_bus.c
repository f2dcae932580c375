/* sfu/bus: parsing the signal -> SFU commands of docs/redis.md (every type, each required
 * field, wrong types, limits, hostile ids), cluster events, and building envelopes that
 * parse back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "sfu/bus.h"

static int parse(const char *json, sfu_bus_msg_t *m, char *why) {
    return sfu_bus_parse(json, strlen(json), m, why, 200);
}

START_TEST(test_join_with_grants_and_defaults) {
    sfu_bus_msg_t m;
    char why[200];
    ck_assert_int_eq(parse("{\"type\":\"join\",\"room\":\"demo\",\"participant\":\"PA_1\","
                           "\"signal\":\"sig-1\",\"payload\":{\"identity\":\"alice\",\"name\":\"Alice\","
                           "\"grants\":{\"publish\":true,\"subscribe\":true,\"data\":false},\"x\":1}}",
                           &m, why), RTC_OK);
    ck_assert_int_eq(m.type, SFU_BUS_JOIN);
    ck_assert_str_eq(m.room, "demo");
    ck_assert_str_eq(m.participant, "PA_1");
    ck_assert_str_eq(m.signal, "sig-1");
    ck_assert_str_eq(m.u.join.identity, "alice");
    ck_assert_str_eq(m.u.join.name, "Alice");
    ck_assert(m.u.join.grants.publish && m.u.join.grants.subscribe);
    ck_assert(!m.u.join.grants.data && !m.u.join.grants.admin);
    sfu_bus_msg_free(&m);
    /* Signal id inside the payload (as docs/redis.md lists it), no name, no grants. */
    ck_assert_int_eq(parse("{\"type\":\"join\",\"room\":\"r\",\"payload\":{\"identity\":\"bob\","
                           "\"signal\":\"s2\"}}", &m, why), RTC_OK);
    ck_assert_str_eq(m.signal, "s2");
    ck_assert_str_eq(m.participant, "");
    ck_assert_str_eq(m.u.join.name, "bob");
    ck_assert(m.u.join.grants.publish && m.u.join.grants.data && !m.u.join.grants.admin);
    sfu_bus_msg_free(&m);
    /* Errors name the problem. */
    static const char *bad[] = {
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\"}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"payload\":{\"identity\":\"\"}}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"payload\":{\"identity\":7}}",
        "{\"type\":\"join\",\"room\":\"r\",\"payload\":{\"identity\":\"a\"}}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"payload\":{\"identity\":\"a\",\"grants\":{\"publish\":1}}}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"payload\":{\"identity\":\"a\",\"grants\":[]}}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"participant\":\"a b\",\"payload\":{\"identity\":\"a\"}}",
        "{\"type\":\"join\",\"room\":\"r\",\"signal\":\"s\",\"payload\":{\"identity\":\"a\\u0001\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i], &m, why) == RTC_ERR_MALFORMED, "accepted %s", bad[i]);
        ck_assert_uint_gt(strlen(why), 0);
        sfu_bus_msg_free(&m);
    }
}
END_TEST

START_TEST(test_envelope_errors_keep_routing_fields) {
    sfu_bus_msg_t m;
    char why[200];
    /* Bad payload: type, room, participant and signal are still there to answer with. */
    ck_assert_int_eq(parse("{\"type\":\"mute\",\"room\":\"r\",\"participant\":\"p\",\"signal\":\"s\","
                           "\"payload\":{\"track_id\":\"t\",\"muted\":\"yes\",\"rid\":\"42\"}}", &m, why),
                     RTC_ERR_MALFORMED);
    ck_assert_int_eq(m.type, SFU_BUS_MUTE);
    ck_assert_str_eq(m.participant, "p");
    ck_assert_str_eq(m.signal, "s");
    ck_assert_str_eq(m.rid, "42");
    ck_assert_ptr_nonnull(strstr(why, "muted"));
    sfu_bus_msg_free(&m);
    static const char *bad[] = {
        "", "nope", "[]", "{}", "{\"type\":5}", "{\"type\":\"leave\"}",
        "{\"type\":\"leave\",\"room\":\"\",\"participant\":\"p\"}",
        "{\"type\":\"leave\",\"room\":\"r\"}",
        "{\"type\":\"leave\",\"room\":\"r\",\"participant\":\"p\",\"payload\":[]}",
        "{\"type\":\"leave\",\"room\":\"r\",\"participant\":\"p\",\"signal\":\"bad signal\"}",
        "{\"type\":\"leave\",\"room\":\"r\\n\",\"participant\":\"p\"}",
        "{\"type\":\"leave\",\"room\":\"r\",\"participant\":\"p/../x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i], &m, why) < 0, "accepted %s", bad[i]);
        sfu_bus_msg_free(&m);
    }
    /* Empty routing fields are absent ones (found by fuzz_sfu_bus: an envelope we build for
     * a message without a signal id must parse back). */
    ck_assert_int_eq(parse("{\"type\":\"leave\",\"room\":\"r\",\"participant\":\"p\",\"signal\":\"\"}",
                           &m, why), RTC_OK);
    ck_assert_str_eq(m.signal, "");
    sfu_bus_msg_free(&m);
    /* Unknown types parse (the caller answers unknown_type). */
    ck_assert_int_eq(parse("{\"type\":\"wave\",\"room\":\"r\"}", &m, why), RTC_OK);
    ck_assert_int_eq(m.type, SFU_BUS_UNKNOWN);
    ck_assert_str_eq(m.type_name, "wave");
    sfu_bus_msg_free(&m);
    /* Room names: UTF-8 text up to 128 bytes. */
    ck_assert(sfu_bus_valid_room("caf\xc3\xa9 \xf0\x9f\x8e\x89"));
    ck_assert(!sfu_bus_valid_room("\xc0\xaf"));       /* overlong */
    ck_assert(!sfu_bus_valid_room("\xed\xa0\x80"));   /* surrogate */
    ck_assert(!sfu_bus_valid_room("a\x7f"));
    char long_room[130];
    memset(long_room, 'r', 129);
    long_room[129] = 0;
    ck_assert(!sfu_bus_valid_room(long_room));
    ck_assert(sfu_bus_valid_id("{e8b3c2a1-77}"));
    ck_assert(!sfu_bus_valid_id(""));
    /* Size limit. */
    char *big = malloc(SFU_BUS_MAX_MESSAGE + 2);
    memset(big, ' ', SFU_BUS_MAX_MESSAGE + 1);
    big[SFU_BUS_MAX_MESSAGE + 1] = 0;
    ck_assert_int_eq(sfu_bus_parse(big, SFU_BUS_MAX_MESSAGE + 1, &m, why, sizeof why), RTC_ERR_LIMIT);
    sfu_bus_msg_free(&m);
    free(big);
}
END_TEST

START_TEST(test_media_commands) {
    sfu_bus_msg_t m;
    char why[200];
    ck_assert_int_eq(parse("{\"type\":\"offer\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"type\":\"offer\",\"pc\":\"publisher\",\"sdp\":\"v=0\\r\\n\","
                           "\"tracks\":[{\"mid\":\"0\",\"source\":\"camera\",\"name\":\"cam\"}]}}", &m, why),
                     RTC_OK);
    ck_assert_str_eq(m.u.sdp.sdp, "v=0\r\n");
    ck_assert_int_eq(cJSON_GetArraySize(m.u.sdp.tracks), 1);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"offer\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"subscriber\",\"sdp\":\"v=0\"}}", &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"offer\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"publisher\",\"sdp\":\"v=0\",\"tracks\":[{\"source\":\"camera\"}]}}", &m, why),
                     RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"answer\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"subscriber\",\"sdp\":\"v=0\"}}", &m, why), RTC_OK);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"publisher\",\"candidate\":{\"candidate\":\"candidate:1 1 udp 1 1.2.3.4 5 typ host\","
                           "\"sdp_mid\":\"0\",\"sdp_mline_index\":0}}}", &m, why), RTC_OK);
    ck_assert_str_eq(m.u.cand.mid, "0");
    ck_assert_int_eq(m.u.cand.mline_index, 0);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"subscriber\",\"candidate\":null}}", &m, why), RTC_OK);
    ck_assert_ptr_null(m.u.cand.candidate);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"candidate\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"pc\":\"subscriber\",\"candidate\":{\"candidate\":\"x\",\"sdp_mline_index\":-1}}}",
                           &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"subscription\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"track_id\":\"TR_1\",\"max_width\":640,\"max_height\":360}}", &m, why), RTC_OK);
    ck_assert_int_eq(m.u.sub.max_width, 640);
    ck_assert(!m.u.sub.paused);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"subscription\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"track_id\":\"TR_1\",\"paused\":true}}", &m, why), RTC_OK);
    ck_assert_int_eq(m.u.sub.max_width, -1);
    ck_assert(m.u.sub.paused);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"subscription\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"track_id\":\"TR_1\",\"max_width\":1.5}}", &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"mute\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"track_id\":\"TR_1\",\"muted\":true}}", &m, why), RTC_OK);
    ck_assert(m.u.mute.muted);
    sfu_bus_msg_free(&m);
}
END_TEST

START_TEST(test_data_and_leave) {
    sfu_bus_msg_t m;
    char why[200];
    ck_assert_int_eq(parse("{\"type\":\"data\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"payload\":\"hi\",\"to\":[\"a\",\"b\"]}}", &m, why), RTC_OK);
    ck_assert_uint_eq(m.u.data.n_to, 2);
    ck_assert_str_eq(m.u.data.to[1], "b");
    ck_assert_uint_eq(m.u.data.len, 2);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"data\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"payload\":\"hi\",\"to\":[]}}", &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"data\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"payload\":\"hi\",\"to\":[1]}}", &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    /* 16 KiB + 1 of payload. */
    size_t big = SFU_DATA_MAX + 1;
    char *j = malloc(big + 200);
    int k = sprintf(j, "{\"type\":\"data\",\"room\":\"r\",\"participant\":\"p\",\"payload\":{\"payload\":\"");
    memset(j + k, 'x', big);
    strcpy(j + k + big, "\"}}");
    ck_assert_int_eq(parse(j, &m, why), RTC_ERR_MALFORMED);
    sfu_bus_msg_free(&m);
    free(j);
    ck_assert_int_eq(parse("{\"type\":\"leave\",\"room\":\"r\",\"participant\":\"p\"}", &m, why), RTC_OK);
    ck_assert_ptr_null(m.u.leave.reason);
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"remove\",\"room\":\"r\",\"participant\":\"p\",\"payload\":"
                           "{\"reason\":\"removed\"}}", &m, why), RTC_OK);
    ck_assert_str_eq(m.u.leave.reason, "removed");
    sfu_bus_msg_free(&m);
    ck_assert_int_eq(parse("{\"type\":\"close_room\",\"room\":\"r\"}", &m, why), RTC_OK);
    ck_assert_int_eq(m.type, SFU_BUS_CLOSE_ROOM);
    sfu_bus_msg_free(&m);
}
END_TEST

START_TEST(test_events_and_envelopes) {
    sfu_event_t ev;
    const char *e1 = "{\"type\":\"room_moved\",\"room\":\"demo\",\"from\":\"n1\",\"to\":\"n2\"}";
    ck_assert_int_eq(sfu_event_parse(e1, strlen(e1), &ev), RTC_OK);
    ck_assert_int_eq(ev.type, SFU_EVENT_ROOM_MOVED);
    ck_assert_str_eq(ev.from, "n1");
    const char *e1b = "{\"type\":\"room_moved\",\"room\":\"demo\",\"to\":\"n2\"}"; /* no from */
    ck_assert_int_eq(sfu_event_parse(e1b, strlen(e1b), &ev), RTC_OK);
    ck_assert_str_eq(ev.from, "");
    ck_assert_str_eq(ev.to, "n2");
    const char *e2 = "{\"type\":\"node_down\",\"node\":\"n1\"}";
    ck_assert_int_eq(sfu_event_parse(e2, strlen(e2), &ev), RTC_OK);
    ck_assert_int_eq(ev.type, SFU_EVENT_NODE_DOWN);
    const char *e3 = "{\"type\":\"node_draining\",\"node\":\"n1\"}";
    ck_assert_int_eq(sfu_event_parse(e3, strlen(e3), &ev), RTC_OK);
    ck_assert_int_eq(ev.type, SFU_EVENT_NODE_DRAINING);
    const char *e4 = "{\"type\":\"room_closed\"}";
    ck_assert_int_eq(sfu_event_parse(e4, strlen(e4), &ev), RTC_ERR_MALFORMED);
    const char *e5 = "{\"type\":\"party\"}";
    ck_assert_int_eq(sfu_event_parse(e5, strlen(e5), &ev), RTC_OK);
    ck_assert_int_eq(ev.type, SFU_EVENT_UNKNOWN);
    ck_assert_int_eq(sfu_event_parse("{", 1, &ev), RTC_ERR_MALFORMED);

    cJSON *pl = cJSON_CreateObject();
    cJSON_AddStringToObject(pl, "reason", "left");
    char *s = sfu_bus_envelope("left", "caf\xc3\xa9", "p1", "sig", pl);
    ck_assert_ptr_nonnull(s);
    cJSON *o = cJSON_Parse(s);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "left");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "room")->valuestring, "caf\xc3\xa9");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "payload"), "reason")->valuestring, "left");
    cJSON_Delete(o);
    free(s);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "node", "n9");
    s = sfu_event_build("node_draining", x);
    ck_assert_int_eq(sfu_event_parse(s, strlen(s), &ev), RTC_OK);
    ck_assert_int_eq(ev.type, SFU_EVENT_NODE_DRAINING);
    ck_assert_str_eq(ev.node, "n9");
    free(s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_bus");
    TCase *tc = tcase_create("bus");
    tcase_add_test(tc, test_join_with_grants_and_defaults);
    tcase_add_test(tc, test_envelope_errors_keep_routing_fields);
    tcase_add_test(tc, test_media_commands);
    tcase_add_test(tc, test_data_and_leave);
    tcase_add_test(tc, test_events_and_envelopes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
