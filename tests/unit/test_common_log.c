/* common/log: every line is one valid JSON object with the fixed fields, escaping and UTF-8
 * repair are right, long lines are cut but stay valid, libwebrtc's RTC_LOG* comes out the
 * same way, and concurrent writers never interleave lines. Lines are parsed with cJSON. */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"

static cJSON *parse_line(const char *line, size_t len) {
    ck_assert_uint_gt(len, 2);
    ck_assert_int_eq(line[len - 1], '\n');
    ck_assert_ptr_null(memchr(line, '\n', len - 1)); /* exactly one line */
    cJSON *j = cJSON_ParseWithLength(line, len);
    ck_assert_msg(j != NULL, "not JSON: %.*s", (int)len, line);
    ck_assert(cJSON_IsObject(j));
    return j;
}

static const char *str(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsString(v), "field %s missing", k);
    return v->valuestring;
}

START_TEST(line_has_fixed_fields_and_typed_key_values) {
    char line[ST_LOG_LINE_MAX];
    st_kv_t kv[] = {ST_KV_S("addr", "127.0.0.1:9641"), ST_KV_I("port", 9641),
                    ST_KV_D("ratio", 0.25), ST_KV_B("ok", true), ST_KV_S("nothing", NULL),
                    ST_KV_D("nan", 0.0 / 0.0)};
    size_t n = st_log_format(line, 1700000000123456LL, RTC_LOG_WARN, "turn", "http", "listening",
                             kv, 6);
    ck_assert_uint_eq(n, strlen(line));
    cJSON *j = parse_line(line, n);
    ck_assert_str_eq(str(j, "ts"), "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq(str(j, "level"), "warn");
    ck_assert_str_eq(str(j, "service"), "turn");
    ck_assert_str_eq(str(j, "module"), "http");
    ck_assert_str_eq(str(j, "msg"), "listening");
    ck_assert_str_eq(str(j, "addr"), "127.0.0.1:9641");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "port")->valueint, 9641);
    ck_assert(cJSON_GetObjectItem(j, "ratio")->valuedouble == 0.25);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "nothing")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "truncated"));
    /* Field order is fixed, so humans can scan lines too. */
    ck_assert_ptr_nonnull(strstr(line, "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warn\","
                                       "\"service\":\"turn\",\"module\":\"http\",\"msg\":"));
    cJSON_Delete(j);
}
END_TEST

START_TEST(text_is_escaped_and_bad_utf8_replaced) {
    char line[ST_LOG_LINE_MAX];
    const char *msg = "quote\" back\\ nl\n tab\t bell\x01 e\xC3\xA9 cjk\xE6\x97\xA5 bad\xFF\xFE "
                      "overlong\xC0\xAF surrogate\xED\xA0\x80 cut\xE6\x97";
    size_t n = st_log_format(line, 0, RTC_LOG_INFO, "sfu", "mod\"ule", msg,
                             (st_kv_t[]){ST_KV_S("k\"ey", "v\nal")}, 1);
    cJSON *j = parse_line(line, n);
    const char *want = "quote\" back\\ nl\n tab\t bell\x01 e\xC3\xA9 cjk\xE6\x97\xA5 bad"
                       "\xEF\xBF\xBD\xEF\xBF\xBD overlong\xEF\xBF\xBD\xEF\xBF\xBD surrogate"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD cut\xEF\xBF\xBD\xEF\xBF\xBD";
    ck_assert_str_eq(str(j, "msg"), want);
    ck_assert_str_eq(str(j, "module"), "mod\"ule");
    ck_assert_str_eq(str(j, "k\"ey"), "v\nal");
    ck_assert_str_eq(str(j, "ts"), "1970-01-01T00:00:00.000Z");
    cJSON_Delete(j);
}
END_TEST

START_TEST(overlong_lines_are_cut_but_stay_valid) {
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    /* Escapes near the cut must not be split either. */
    for (int i = 4000; i < 4100; i++) big[i] = '"';
    char line[ST_LOG_LINE_MAX];
    size_t n = st_log_format(line, 0, RTC_LOG_ERROR, "turn", "x", big,
                             (st_kv_t[]){ST_KV_S("after", "lost")}, 1);
    ck_assert_uint_le(n, ST_LOG_LINE_MAX - 1);
    cJSON *j = parse_line(line, n);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "after"));
    cJSON_Delete(j);

    /* Many key/values: whole pairs are kept or dropped, never half of one. */
    st_kv_t kv[200];
    for (int i = 0; i < 200; i++) kv[i] = ST_KV_S("some_key_name", big + 19900);
    n = st_log_format(line, 0, RTC_LOG_INFO, "turn", "x", "many", kv, 200);
    j = parse_line(line, n);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    cJSON_Delete(j);
    free(big);
}
END_TEST

static size_t read_all(int fd, char *buf, size_t cap) {
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return got;
}

START_TEST(library_logs_come_out_as_service_lines) {
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(st_log_init("turn", "info"), RTC_OK);
    st_log_set_fd(p[1]);
    RTC_LOGI("ice", "pair %d nominated", 7);
    RTC_LOGD("ice", "debug is below the level");
    ck_assert_int_eq(st_log_set_level_name("debug"), RTC_OK);
    RTC_LOGD("stun", "now debug shows");
    st_log_kv(RTC_LOG_TRACE, "x", NULL, 0, "trace stays hidden");
    st_log_kv(RTC_LOG_WARN, "redis", ST_KVS(ST_KV_I("attempt", 3)), "retrying in %dms", 200);
    ck_assert_int_eq(st_log_init("turn", "loud"), RTC_ERR_INVALID_ARG);
    close(p[1]);
    char buf[8192];
    read_all(p[0], buf, sizeof buf);
    close(p[0]);
    st_log_shutdown();

    char *save = NULL;
    const char *want_msg[] = {"pair 7 nominated", "now debug shows", "retrying in 200ms"};
    const char *want_mod[] = {"ice", "stun", "redis"};
    int i = 0;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save), i++) {
        ck_assert_int_lt(i, 3);
        cJSON *j = cJSON_Parse(l);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(str(j, "service"), "turn");
        ck_assert_str_eq(str(j, "module"), want_mod[i]);
        ck_assert_str_eq(str(j, "msg"), want_msg[i]);
        if (i == 2) ck_assert_int_eq(cJSON_GetObjectItem(j, "attempt")->valueint, 3);
        cJSON_Delete(j);
    }
    ck_assert_int_eq(i, 3);
}
END_TEST

#define THREADS 8
#define LINES 400

static void *writer(void *arg) {
    int id = (int)(intptr_t)arg;
    char pad[1500];
    memset(pad, 'a' + id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        st_log_kv(RTC_LOG_INFO, "t", ST_KVS(ST_KV_I("thread", id), ST_KV_I("seq", i),
                                            ST_KV_S("pad", pad)), "line");
    return NULL;
}

typedef struct {
    int fd;
    char *buf;
    size_t len;
} reader_t;

static void *reader(void *arg) {
    reader_t *r = arg;
    size_t cap = (size_t)THREADS * LINES * 2000;
    r->buf = malloc(cap);
    r->len = read_all(r->fd, r->buf, cap);
    return NULL;
}

START_TEST(concurrent_writers_never_interleave_lines) {
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    st_log_init("sfu", "info");
    st_log_set_fd(p[1]);
    reader_t rd = {p[0], NULL, 0};
    pthread_t rt, wt[THREADS];
    pthread_create(&rt, NULL, reader, &rd);
    for (int t = 0; t < THREADS; t++) pthread_create(&wt[t], NULL, writer, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(wt[t], NULL);
    close(p[1]);
    pthread_join(rt, NULL);
    close(p[0]);
    st_log_shutdown();

    int next[THREADS] = {0};
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(rd.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        ck_assert_msg(j != NULL, "line %d is not JSON", lines);
        int t = cJSON_GetObjectItem(j, "thread")->valueint;
        int seq = cJSON_GetObjectItem(j, "seq")->valueint;
        ck_assert_int_eq(seq, next[t]); /* each thread's lines whole and in order */
        next[t]++;
        ck_assert_uint_eq(strlen(str(j, "pad")), 1499);
        cJSON_Delete(j);
        lines++;
    }
    ck_assert_int_eq(lines, THREADS * LINES);
    ck_assert_uint_eq(st_log_dropped(), 0);
    free(rd.buf);
}
END_TEST

START_TEST(unwritable_fd_counts_dropped_lines) {
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]); /* EPIPE on write; SIGPIPE ignored here as services do */
    signal(SIGPIPE, SIG_IGN);
    st_log_init("turn", "info");
    st_log_set_fd(p[1]);
    uint64_t before = st_log_dropped();
    RTC_LOGI("x", "lost");
    RTC_LOGI("x", "lost too");
    ck_assert_uint_eq(st_log_dropped() - before, 2);
    close(p[1]);
    st_log_shutdown();
}
END_TEST

START_TEST(json_escape_respects_capacity) {
    char out[8];
    bool cut;
    size_t n = st_json_escape(out, sizeof out, "ab\"cd\"ef", 8, &cut);
    ck_assert(cut);
    ck_assert_uint_eq(n, strlen(out));
    ck_assert_str_eq(out, "ab\\\"cd"); /* the next escape would not fit whole */
    n = st_json_escape(out, sizeof out, "\xE6\x97\xA5\xE6\x97\xA5\xE6\x97\xA5", 9, &cut);
    ck_assert(cut);
    ck_assert_uint_eq(n, 6); /* two whole characters, not a split third */
    n = st_json_escape(out, sizeof out, "ok", 2, &cut);
    ck_assert(!cut);
    ck_assert_str_eq(out, "ok");
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, line_has_fixed_fields_and_typed_key_values);
    tcase_add_test(tc, text_is_escaped_and_bad_utf8_replaced);
    tcase_add_test(tc, overlong_lines_are_cut_but_stay_valid);
    tcase_add_test(tc, library_logs_come_out_as_service_lines);
    tcase_add_test(tc, concurrent_writers_never_interleave_lines);
    tcase_add_test(tc, unwritable_fd_counts_dropped_lines);
    tcase_add_test(tc, json_escape_respects_capacity);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
