/* common/config: precedence (flags > env > file > defaults), every value type, file syntax,
 * errors that name the source, line and key, --help listing every option, reload. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"

typedef struct {
    st_common_config_t common;
    rtc_addr_t listen;
    int64_t workers;
    bool verbose;
    char *realm;
    int64_t lifetime_ms;
    st_strlist_t denied;
    char *secret;
} tcfg_t;

static const st_option_t options[] = {
    {"listen", ST_OPT_ADDRESS, offsetof(tcfg_t, listen), "0.0.0.0:3478", "TURN listener", 0, 0, NULL, 0},
    {"workers", ST_OPT_INT, offsetof(tcfg_t, workers), "2", "worker threads", 1, 64, NULL, 0},
    {"verbose", ST_OPT_BOOL, offsetof(tcfg_t, verbose), "false", "chatty", 0, 0, NULL, 0},
    {"realm", ST_OPT_STRING, offsetof(tcfg_t, realm), "starling", "TURN realm", 0, 0, NULL, 0},
    {"allocation.lifetime", ST_OPT_DURATION, offsetof(tcfg_t, lifetime_ms), "10m",
     "allocation lifetime", 1000, 3600000, NULL, 0},
    {"denied_peers", ST_OPT_LIST, offsetof(tcfg_t, denied), "10.0.0.0/8, 192.168.0.0/16",
     "peer ranges refused", 0, 0, NULL, 0},
    {"secret", ST_OPT_STRING, offsetof(tcfg_t, secret), "hunter2-default", "shared secret", 0, 0,
     NULL, ST_OPT_SECRET},
};

static const st_config_spec_t spec = {"turn", "Test TURN service", options,
                                      sizeof options / sizeof options[0], 1,
                                      offsetof(tcfg_t, common)};

static char tmpfile_path[64];

static const char *write_file(const char *text) {
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/st_config_XXXXXX");
    int fd = mkstemp(tmpfile_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmpfile_path;
}

static int load(tcfg_t *c, int argc, char **argv, char **envp, st_config_error_t *err) {
    memset(c, 0, sizeof *c);
    return st_config_load(&spec, argc, argv, envp, c, err);
}

static int parse_text(tcfg_t *c, const char *text, st_config_error_t *err) {
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(st_config_set_defaults(&spec, c, err), RTC_OK);
    return st_config_parse_buffer(&spec, c, "test.conf", (const uint8_t *)text, strlen(text), err);
}

START_TEST(defaults_apply_when_nothing_else_is_given) {
    tcfg_t c;
    st_config_error_t err;
    char *argv[] = {"starling-turn", NULL};
    ck_assert_int_eq(load(&c, 1, argv, NULL, &err), RTC_OK);
    ck_assert_str_eq(rtc_addr_str(&c.listen), "0.0.0.0:3478");
    ck_assert_int_eq(c.workers, 2);
    ck_assert(!c.verbose);
    ck_assert_str_eq(c.realm, "starling");
    ck_assert_int_eq(c.lifetime_ms, 600000);
    ck_assert_uint_eq(c.denied.n, 2);
    ck_assert_str_eq(c.denied.items[0], "10.0.0.0/8");
    ck_assert_str_eq(c.denied.items[1], "192.168.0.0/16");
    ck_assert_str_eq(c.common.log_level, "info");
    ck_assert_str_eq(c.common.redis_host, "127.0.0.1");
    ck_assert_int_eq(c.common.redis_port, 6379);
    ck_assert_ptr_null(c.common.redis_password);
    ck_assert_int_eq(c.common.drain_timeout_ms, 10000);
    st_config_free(&spec, &c);
    ck_assert_ptr_null(c.realm);
    st_config_free(&spec, &c); /* twice is harmless */
}
END_TEST

START_TEST(flag_beats_env_beats_file_beats_default) {
    const char *path = write_file("workers = 3\nrealm = from-file\nverbose = yes\n");
    char cflag[128];
    snprintf(cflag, sizeof cflag, "--config=%s", path);
    tcfg_t c;
    st_config_error_t err;

    char *argv_file[] = {"x", cflag, NULL};
    ck_assert_int_eq(load(&c, 2, argv_file, NULL, &err), RTC_OK);
    ck_assert_int_eq(c.workers, 3);
    ck_assert_str_eq(c.realm, "from-file");
    ck_assert(c.verbose);
    ck_assert_int_eq(c.lifetime_ms, 600000); /* untouched: default */
    st_config_free(&spec, &c);

    char *env[] = {"HOME=/root", "STARLING_TURN_WORKERS=5", "STARLING_TURN_REALM=from-env", NULL};
    ck_assert_int_eq(load(&c, 2, argv_file, env, &err), RTC_OK);
    ck_assert_int_eq(c.workers, 5);
    ck_assert_str_eq(c.realm, "from-env");
    ck_assert(c.verbose); /* still from the file */
    st_config_free(&spec, &c);

    char *argv_all[] = {"x", cflag, "--workers=7", "--no-verbose", NULL};
    ck_assert_int_eq(load(&c, 4, argv_all, env, &err), RTC_OK);
    ck_assert_int_eq(c.workers, 7);
    ck_assert_str_eq(c.realm, "from-env");
    ck_assert(!c.verbose);
    st_config_free(&spec, &c);

    /* Flag order does not matter: --config after the option is still lower precedence. */
    char *argv_rev[] = {"x", "--workers", "9", "-c", (char *)path, NULL};
    ck_assert_int_eq(load(&c, 5, argv_rev, env, &err), RTC_OK);
    ck_assert_int_eq(c.workers, 9);
    st_config_free(&spec, &c);
    unlink(path);
}
END_TEST

START_TEST(config_file_comes_from_env_when_no_flag) {
    const char *path = write_file("[redis]\nport = 6390\n");
    char envvar[128];
    snprintf(envvar, sizeof envvar, "STARLING_TURN_CONFIG=%s", path);
    char *env[] = {envvar, NULL};
    char *argv[] = {"x", NULL};
    tcfg_t c;
    st_config_error_t err;
    ck_assert_int_eq(load(&c, 1, argv, env, &err), RTC_OK);
    ck_assert_int_eq(c.common.redis_port, 6390);
    st_config_free(&spec, &c);
    unlink(path);

    ck_assert_int_eq(load(&c, 1, argv, env, &err), RTC_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_null(c.realm); /* failed load leaves nothing to free */
}
END_TEST

START_TEST(every_type_parses_from_text) {
    tcfg_t c;
    st_config_error_t err;
    ck_assert_int_eq(parse_text(&c,
        "# a comment\n"
        "; another\n"
        "\n"
        "listen = [::1]:9000\r\n"
        "   workers=   64   \n"
        "verbose = ON\n"
        "realm = \"a # not a comment\" # but this is\n"
        "denied_peers = 1.2.3.0/24 ,, fc00::/7 ,\n"
        "[allocation]\n"
        "lifetime = 90s\n"
        "[redis]\n"
        "host = redis.internal\n"
        "password = \"p\\\"w\\\\d\"\n"
        "[shutdown]\n"
        "drain_timeout = 250ms\n", &err), RTC_OK);
    ck_assert_str_eq(rtc_addr_str(&c.listen), "[::1]:9000");
    ck_assert_int_eq(c.workers, 64);
    ck_assert(c.verbose);
    ck_assert_str_eq(c.realm, "a # not a comment");
    ck_assert_uint_eq(c.denied.n, 2);
    ck_assert_str_eq(c.denied.items[0], "1.2.3.0/24");
    ck_assert_str_eq(c.denied.items[1], "fc00::/7");
    ck_assert_int_eq(c.lifetime_ms, 90000);
    ck_assert_str_eq(c.common.redis_host, "redis.internal");
    ck_assert_str_eq(c.common.redis_password, "p\"w\\d");
    ck_assert_int_eq(c.common.drain_timeout_ms, 250);
    st_config_free(&spec, &c);

    /* A '#' not preceded by whitespace belongs to the value. */
    ck_assert_int_eq(parse_text(&c, "realm = abc#def\n", &err), RTC_OK);
    ck_assert_str_eq(c.realm, "abc#def");
    st_config_free(&spec, &c);
    /* Dotted keys work without sections too, and an empty value is an empty list. */
    ck_assert_int_eq(parse_text(&c, "allocation.lifetime = 1h\ndenied_peers =\n", &err), RTC_OK);
    ck_assert_int_eq(c.lifetime_ms, 3600000);
    ck_assert_uint_eq(c.denied.n, 0);
    st_config_free(&spec, &c);
}
END_TEST

START_TEST(duration_and_bool_syntax) {
    int64_t ms;
    ck_assert_int_eq(st_parse_duration_ms("250ms", &ms), RTC_OK); ck_assert_int_eq(ms, 250);
    ck_assert_int_eq(st_parse_duration_ms("30s", &ms), RTC_OK); ck_assert_int_eq(ms, 30000);
    ck_assert_int_eq(st_parse_duration_ms("5m", &ms), RTC_OK); ck_assert_int_eq(ms, 300000);
    ck_assert_int_eq(st_parse_duration_ms("2h", &ms), RTC_OK); ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(st_parse_duration_ms("1d", &ms), RTC_OK); ck_assert_int_eq(ms, 86400000);
    ck_assert_int_eq(st_parse_duration_ms("7", &ms), RTC_OK); ck_assert_int_eq(ms, 7000);
    ck_assert_int_eq(st_parse_duration_ms("1.5s", &ms), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_duration_ms("-1s", &ms), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_duration_ms("10x", &ms), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_duration_ms("", &ms), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_duration_ms("99999999999999999d", &ms), RTC_ERR_OVERFLOW);
    bool b;
    ck_assert_int_eq(st_parse_bool("Yes", &b), RTC_OK); ck_assert(b);
    ck_assert_int_eq(st_parse_bool("off", &b), RTC_OK); ck_assert(!b);
    ck_assert_int_eq(st_parse_bool("maybe", &b), RTC_ERR_MALFORMED);
    int64_t v;
    ck_assert_int_eq(st_parse_int("-42", &v), RTC_OK); ck_assert_int_eq(v, -42);
    ck_assert_int_eq(st_parse_int("4 2", &v), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_int("0x10", &v), RTC_ERR_MALFORMED);
    ck_assert_int_eq(st_parse_int("99999999999999999999", &v), RTC_ERR_OVERFLOW);
}
END_TEST

/* Each bad file is reported with file:line and the key involved. */
START_TEST(file_errors_name_line_and_key) {
    static const struct {
        const char *text;
        int rc;
        const char *expect[3];
    } cases[] = {
        {"workers = 4\n\nbogus = 1\n", RTC_ERR_NOT_FOUND, {"test.conf:3", "'bogus'", NULL}},
        {"realm = x\nworkers = many\n", RTC_ERR_MALFORMED, {"test.conf:2", "'workers'", "expected an integer"}},
        {"workers = 65\n", RTC_ERR_MALFORMED, {"test.conf:1", "'workers'", "outside 1..64"}},
        {"workers = 4\nworkers = 5\n", RTC_ERR_MALFORMED, {"test.conf:2", "'workers'", "already set on line 1"}},
        {"just some words\n", RTC_ERR_MALFORMED, {"test.conf:1", "expected 'key = value'", NULL}},
        {"realm = \"open\n", RTC_ERR_MALFORMED, {"test.conf:1", "'realm'", "unterminated"}},
        {"realm = \"a\" b\n", RTC_ERR_MALFORMED, {"test.conf:1", "after the closing quote", NULL}},
        {"listen = 127.0.0.1\n", RTC_ERR_MALFORMED, {"test.conf:1", "'listen'", "needs a port"}},
        {"listen = localhost:80\n", RTC_ERR_MALFORMED, {"'listen'", "not an IP address", NULL}},
        {"[allocation]\nlifetime = soon\n", RTC_ERR_MALFORMED, {"test.conf:2", "'allocation.lifetime'", "duration"}},
        {"[allocation]\nlifetime = 10d\n", RTC_ERR_MALFORMED, {"'allocation.lifetime'", "outside", NULL}},
        {"verbose = perhaps\n", RTC_ERR_MALFORMED, {"'verbose'", "true or false", NULL}},
        {"[redis\nhost = x\n", RTC_ERR_MALFORMED, {"test.conf:1", "section", NULL}},
        {"[log]\nlevel = loud\n", RTC_ERR_MALFORMED, {"test.conf:2", "'log.level'", "trace, debug, info, warn, error"}},
        {"bad key = 1\n", RTC_ERR_MALFORMED, {"test.conf:1", "invalid key", NULL}},
        {"realm = \"\\q\"\n", RTC_ERR_MALFORMED, {"test.conf:1", "escape", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tcfg_t c;
        st_config_error_t err = {0};
        int rc = parse_text(&c, cases[i].text, &err);
        ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err.msg);
        for (int k = 0; k < 3 && cases[i].expect[k]; k++)
            ck_assert_msg(strstr(err.msg, cases[i].expect[k]), "case %zu: \"%s\" lacks \"%s\"", i,
                          err.msg, cases[i].expect[k]);
        st_config_free(&spec, &c);
    }
    /* A NUL byte inside the file is an error, not a silent truncation. */
    tcfg_t c;
    st_config_error_t err;
    memset(&c, 0, sizeof c);
    st_config_set_defaults(&spec, &c, &err);
    static const uint8_t nul[] = "realm = a\0b\n";
    ck_assert_int_eq(st_config_parse_buffer(&spec, &c, "nul.conf", nul, sizeof nul - 1, &err),
                     RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "nul.conf:1"));
    st_config_free(&spec, &c);
}
END_TEST

START_TEST(env_and_flag_errors_name_their_source) {
    tcfg_t c;
    st_config_error_t err;
    char *argv[] = {"x", NULL};
    char *env[] = {"STARLING_TURN_WORKERS=abc", NULL};
    ck_assert_int_eq(load(&c, 1, argv, env, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "STARLING_TURN_WORKERS"));
    ck_assert_ptr_nonnull(strstr(err.msg, "'workers'"));

    char *argv2[] = {"x", "--nope=1", NULL};
    ck_assert_int_eq(load(&c, 2, argv2, NULL, &err), RTC_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "--nope"));

    char *argv3[] = {"x", "--workers", NULL};
    ck_assert_int_eq(load(&c, 2, argv3, NULL, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "needs a value"));

    char *argv4[] = {"x", "stray", NULL};
    ck_assert_int_eq(load(&c, 2, argv4, NULL, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "stray"));

    char *argv5[] = {"x", "--workers=0", NULL};
    ck_assert_int_eq(load(&c, 2, argv5, NULL, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "flag --workers=0"));

    /* --no- only exists for booleans. */
    char *argv6[] = {"x", "--no-workers", NULL};
    ck_assert_int_eq(load(&c, 2, argv6, NULL, &err), RTC_ERR_NOT_FOUND);

    /* The offending value is quoted so the operator sees what was wrong. */
    char *env2[] = {"STARLING_TURN_REDIS_PORT=hunter2", NULL};
    ck_assert_int_eq(load(&c, 1, argv, env2, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "hunter2"));
}
END_TEST

START_TEST(unrelated_env_with_the_prefix_is_ignored) {
    /* Kubernetes injects <SERVICE>_PORT=tcp://... for a Service named starling-turn. */
    char *env[] = {"STARLING_TURN_PORT=tcp://10.0.0.1:3478", "STARLING_TURN_SERVICE_HOST=10.0.0.1",
                   "STARLING_SFU_WORKERS=oops", "STARLING_TURN_REDIS_HOST=cache", NULL};
    char *argv[] = {"x", NULL};
    tcfg_t c;
    st_config_error_t err;
    ck_assert_int_eq(load(&c, 1, argv, env, &err), RTC_OK);
    ck_assert_str_eq(c.common.redis_host, "cache");
    st_config_free(&spec, &c);
}
END_TEST

START_TEST(flag_forms_and_name_spellings) {
    tcfg_t c;
    st_config_error_t err;
    char *argv[] = {"x", "--verbose", "--allocation-lifetime=45s", "--redis.port", "7000",
                    "--listen=127.0.0.1:0", "--denied_peers=", NULL};
    ck_assert_int_eq(load(&c, 7, argv, NULL, &err), RTC_OK);
    ck_assert(c.verbose);
    ck_assert_int_eq(c.lifetime_ms, 45000);
    ck_assert_int_eq(c.common.redis_port, 7000);
    ck_assert_str_eq(rtc_addr_str(&c.listen), "127.0.0.1:0");
    ck_assert_uint_eq(c.denied.n, 0);
    st_config_free(&spec, &c);
    char *argv2[] = {"x", "--verbose=off", NULL};
    ck_assert_int_eq(load(&c, 2, argv2, NULL, &err), RTC_OK);
    ck_assert(!c.verbose);
    st_config_free(&spec, &c);
}
END_TEST

START_TEST(help_lists_every_option_with_env_and_default) {
    tcfg_t c;
    st_config_error_t err;
    char *argv[] = {"x", "--workers=bogus", "--help", NULL};
    ck_assert_int_eq(load(&c, 3, argv, NULL, &err), ST_CONFIG_HELP);
    st_config_free(&spec, &c);
    rtc_buf_t out;
    rtc_buf_init(&out);
    ck_assert_int_eq(st_config_help(&spec, &out), RTC_OK);
    const char *text = (const char *)out.data;
    ck_assert_ptr_nonnull(strstr(text, "Usage: starling-turn"));
    ck_assert_ptr_nonnull(strstr(text, "Test TURN service"));
    ck_assert_ptr_nonnull(strstr(text, "--config"));
    ck_assert_ptr_nonnull(strstr(text, "STARLING_TURN_CONFIG"));
    size_t n = st_config_count(&spec);
    ck_assert_uint_eq(n, sizeof options / sizeof options[0] + 10);
    for (size_t i = 0; i < n; i++) {
        const st_option_t *o = st_config_option(&spec, i);
        char flag[128], env[128];
        snprintf(flag, sizeof flag, "--%s ", o->name);
        if (o->type == ST_OPT_BOOL) snprintf(flag, sizeof flag, "--%s[=BOOL]", o->name);
        ck_assert_int_gt(st_config_env_name(&spec, o->name, env, sizeof env), 0);
        ck_assert_msg(strstr(text, flag), "help lacks %s", flag);
        ck_assert_msg(strstr(text, env), "help lacks %s", env);
        ck_assert_msg(strstr(text, o->help), "help lacks the help of %s", o->name);
    }
    ck_assert_ptr_nonnull(strstr(text, "STARLING_TURN_ALLOCATION_LIFETIME"));
    ck_assert_ptr_nonnull(strstr(text, "[default: 10m]"));
    ck_assert_ptr_nonnull(strstr(text, "trace|debug|info|warn|error"));
    ck_assert_ptr_null(strstr(text, "hunter2-default")); /* secret default hidden */
    rtc_buf_free(&out);
}
END_TEST

START_TEST(reload_parses_into_a_fresh_struct) {
    const char *path = write_file("workers = 3\n");
    char *argv[] = {"x", "-c", (char *)path, NULL};
    tcfg_t a, b;
    st_config_error_t err;
    ck_assert_int_eq(load(&a, 3, argv, NULL, &err), RTC_OK);
    FILE *f = fopen(path, "w");
    fputs("workers = 4\nrealm = reloaded\n", f);
    fclose(f);
    ck_assert_int_eq(load(&b, 3, argv, NULL, &err), RTC_OK);
    ck_assert_int_eq(a.workers, 3);
    ck_assert_str_eq(a.realm, "starling");
    ck_assert_int_eq(b.workers, 4);
    ck_assert_str_eq(b.realm, "reloaded");
    st_config_free(&spec, &b);
    /* A broken file on reload fails cleanly and the running config is untouched. */
    f = fopen(path, "w");
    fputs("workers = four\n", f);
    fclose(f);
    ck_assert_int_eq(load(&b, 3, argv, NULL, &err), RTC_ERR_MALFORMED);
    ck_assert_ptr_null(b.realm);
    ck_assert_int_eq(a.workers, 3);
    st_config_free(&spec, &a);
    unlink(path);
}
END_TEST

START_TEST(dump_is_json_with_secrets_masked) {
    char *env[] = {"STARLING_TURN_SECRET=s3cr3t", "STARLING_TURN_REDIS_PASSWORD=pw", NULL};
    char *argv[] = {"x", NULL};
    tcfg_t c;
    st_config_error_t err;
    ck_assert_int_eq(load(&c, 1, argv, env, &err), RTC_OK);
    ck_assert_str_eq(c.secret, "s3cr3t");
    rtc_buf_t out;
    rtc_buf_init(&out);
    ck_assert_int_eq(st_config_dump_json(&spec, &c, &out), RTC_OK);
    ck_assert_ptr_null(strstr((char *)out.data, "s3cr3t"));
    ck_assert_ptr_null(strstr((char *)out.data, "\"pw\""));
    cJSON *j = cJSON_Parse((char *)out.data);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "secret")->valuestring, "***");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "listen")->valuestring, "0.0.0.0:3478");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "workers")->valueint, 2);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "denied_peers")), 2);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "redis.username")));
    cJSON_Delete(j);
    rtc_buf_free(&out);
    st_config_free(&spec, &c);
}
END_TEST

START_TEST(broken_spec_is_refused) {
    static const st_option_t clash[] = {
        {"a.b", ST_OPT_INT, 0, "1", "x", 0, 0, NULL, 0},
        {"a_b", ST_OPT_INT, 8, "1", "y", 0, 0, NULL, 0},
    };
    st_config_spec_t bad = {"t", NULL, clash, 2, 0, 0};
    int64_t store[2] = {0};
    st_config_error_t err;
    char *argv[] = {"x", NULL};
    ck_assert_int_eq(st_config_load(&bad, 1, argv, NULL, store, &err), RTC_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "a_b"));
    static const st_option_t baddef[] = {{"n", ST_OPT_INT, 0, "x", "x", 0, 0, NULL, 0}};
    st_config_spec_t bad2 = {"t", NULL, baddef, 1, 0, 0};
    ck_assert_int_eq(st_config_load(&bad2, 1, argv, NULL, store, &err), RTC_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_apply_when_nothing_else_is_given);
    tcase_add_test(tc, flag_beats_env_beats_file_beats_default);
    tcase_add_test(tc, config_file_comes_from_env_when_no_flag);
    tcase_add_test(tc, every_type_parses_from_text);
    tcase_add_test(tc, duration_and_bool_syntax);
    tcase_add_test(tc, file_errors_name_line_and_key);
    tcase_add_test(tc, env_and_flag_errors_name_their_source);
    tcase_add_test(tc, unrelated_env_with_the_prefix_is_ignored);
    tcase_add_test(tc, flag_forms_and_name_spellings);
    tcase_add_test(tc, help_lists_every_option_with_env_and_default);
    tcase_add_test(tc, reload_parses_into_a_fresh_struct);
    tcase_add_test(tc, dump_is_json_with_secrets_masked);
    tcase_add_test(tc, broken_spec_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
