/* starling-signal: the service, plus two operator commands:
 *   starling-signal [options]                     run the server
 *   starling-signal token --room R --identity I   mint an access token (stdout)
 *   starling-signal secret add|list               manage TURN REST secrets in Redis
 * Every form reads the same configuration (file, STARLING_SIGNAL_* environment, flags). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "common/config.h"
#include "common/log.h"
#include "common/signals.h"
#include "signal/config.h"
#include "signal/scripts.h"
#include "signal/server.h"
#include "signal/token.h"

extern char **environ;

static int load_config(int argc, char **argv, signal_config_t *cfg, bool quiet_help) {
    st_config_error_t err;
    int rc = st_config_load(&signal_config_spec, argc, argv, environ, cfg, &err);
    if (rc == ST_CONFIG_HELP) {
        if (!quiet_help) {
            rtc_buf_t b;
            rtc_buf_init(&b);
            st_config_help(&signal_config_spec, &b);
            fwrite(b.data, 1, b.len, stdout);
            rtc_buf_free(&b);
        }
        st_config_free(&signal_config_spec, cfg);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "starling-signal: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * token
 */
static void token_usage(FILE *f) {
    fprintf(f,
            "usage: starling-signal token --room ROOM --identity ID [--name NAME] [--ttl 1h]\n"
            "                             [--no-publish] [--no-subscribe] [--no-data] [--admin]\n"
            "                             [--config FILE] [other starling-signal options]\n"
            "Prints an HS256 access token signed with api_secret (iss = api_key).\n"
            "--room '*' with --admin makes an admin token for every room.\n");
}

static int cmd_token(int argc, char **argv) {
    const char *room = NULL, *identity = NULL, *name = NULL, *ttl = "1h";
    unsigned grants = SIGNAL_GRANTS_PARTICIPANT;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    rest[nrest++] = "starling-signal";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--room") == 0) dst = &room;
        else if (strcmp(a, "--identity") == 0) dst = &identity;
        else if (strcmp(a, "--name") == 0) dst = &name;
        else if (strcmp(a, "--ttl") == 0) dst = &ttl;
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "starling-signal token: %s needs a value\n", a);
                free(rest);
                return 2;
            }
            *dst = argv[++i];
        } else if (strncmp(a, "--room=", 7) == 0) room = a + 7;
        else if (strncmp(a, "--identity=", 11) == 0) identity = a + 11;
        else if (strncmp(a, "--name=", 7) == 0) name = a + 7;
        else if (strncmp(a, "--ttl=", 6) == 0) ttl = a + 6;
        else if (strcmp(a, "--no-publish") == 0) grants &= ~SIGNAL_GRANT_PUBLISH;
        else if (strcmp(a, "--no-subscribe") == 0) grants &= ~SIGNAL_GRANT_SUBSCRIBE;
        else if (strcmp(a, "--no-data") == 0) grants &= ~SIGNAL_GRANT_DATA;
        else if (strcmp(a, "--admin") == 0) grants |= SIGNAL_GRANT_ADMIN;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            token_usage(stdout);
            free(rest);
            return 0;
        } else rest[nrest++] = argv[i];
    }
    if (!room || !identity) {
        token_usage(stderr);
        free(rest);
        return 2;
    }
    int64_t ttl_ms;
    if (st_parse_duration_ms(ttl, &ttl_ms) != RTC_OK || ttl_ms < 1000) {
        fprintf(stderr, "starling-signal token: --ttl: expected a duration like 3600, 30m or 2h\n");
        free(rest);
        return 2;
    }
    signal_config_t cfg = {0};
    int rc = load_config(nrest, rest, &cfg, false);
    free(rest);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (!cfg.api_secret || strlen(cfg.api_secret) < 16) {
        fprintf(stderr, "starling-signal token: api_secret is not set (or shorter than 16 bytes); "
                        "give --config FILE, STARLING_SIGNAL_API_SECRET or --api_secret\n");
        st_config_free(&signal_config_spec, &cfg);
        return 2;
    }
    signal_keys_t keys = {cfg.api_key ? cfg.api_key : "", cfg.api_secret, strlen(cfg.api_secret)};
    char *tok = NULL;
    rc = signal_token_mint(&keys, room, identity, name, grants, ttl_ms / 1000, 0, &tok);
    st_config_free(&signal_config_spec, &cfg);
    if (rc != RTC_OK) {
        fprintf(stderr,
                "starling-signal token: invalid room or identity (room: 1..64 of A-Z a-z 0-9 _ - ., "
                "or '*' with --admin; identity/name: 1..128 printable characters)\n");
        return 2;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * secret add|list (synchronous hiredis: a one-shot operator command)
 */
static int cmd_secret(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "list") != 0)) {
        fprintf(stderr, "usage: starling-signal secret add SECRET [--expires-in 30d] [options]\n"
                        "       starling-signal secret list [options]\n");
        return 2;
    }
    bool add = strcmp(argv[1], "add") == 0;
    const char *secret = NULL, *expires = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    rest[nrest++] = "starling-signal";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--expires-in") == 0 && i + 1 < argc) expires = argv[++i];
        else if (add && !secret && argv[i][0] != '-') secret = argv[i];
        else rest[nrest++] = argv[i];
    }
    signal_config_t cfg = {0};
    int rc = load_config(nrest, rest, &cfg, false);
    free(rest);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (add && (!secret || !secret[0])) {
        fprintf(stderr, "starling-signal secret add: give the secret\n");
        st_config_free(&signal_config_spec, &cfg);
        return 2;
    }
    char score[32] = "+inf";
    if (expires) {
        int64_t ms;
        if (st_parse_duration_ms(expires, &ms) != RTC_OK || ms <= 0) {
            fprintf(stderr, "starling-signal secret: --expires-in: expected a duration\n");
            st_config_free(&signal_config_spec, &cfg);
            return 2;
        }
        snprintf(score, sizeof score, "%lld", (long long)(time(NULL) + ms / 1000));
    }
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(cfg.common.redis_host, (int)cfg.common.redis_port, tv);
    int status = 1;
    char key[SIGNAL_KEY_MAX];
    signal_key(key, sizeof key, cfg.redis_prefix, "turn:secrets", NULL, NULL);
    if (!c || c->err) {
        fprintf(stderr, "starling-signal secret: cannot connect to Redis at %s:%lld: %s\n",
                cfg.common.redis_host, (long long)cfg.common.redis_port, c ? c->errstr : "no memory");
        goto out;
    }
    if (cfg.common.redis_password) {
        redisReply *r = cfg.common.redis_username
                            ? redisCommand(c, "AUTH %s %s", cfg.common.redis_username, cfg.common.redis_password)
                            : redisCommand(c, "AUTH %s", cfg.common.redis_password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "starling-signal secret: Redis AUTH failed\n");
            goto out;
        }
    }
    if (cfg.common.redis_db) {
        redisReply *r = redisCommand(c, "SELECT %lld", (long long)cfg.common.redis_db);
        if (r) freeReplyObject(r);
    }
    if (add) {
        const char *av[] = {"ZADD", key, score, secret};
        redisReply *r = redisCommandArgv(c, 4, av, NULL);
        if (r && r->type == REDIS_REPLY_INTEGER) {
            printf("added (expires: %s)\n", expires ? score : "never");
            status = 0;
        } else {
            fprintf(stderr, "starling-signal secret add: %s\n", r && r->str ? r->str : "failed");
        }
        if (r) freeReplyObject(r);
    } else {
        const char *av[] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
        redisReply *r = redisCommandArgv(c, 5, av, NULL);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                printf("%.4s... expires %s\n", r->element[i]->str, r->element[i + 1]->str);
            status = 0;
        }
        if (r) freeReplyObject(r);
    }
out:
    if (c) redisFree(c);
    st_config_free(&signal_config_spec, &cfg);
    return status;
}

/* ------------------------------------------------------------------------------------------
 * The server.
 */
typedef struct {
    signal_server_t *srv;
    st_signals_t *sig;
    const signal_config_t *cfg;
    int argc;
    char **argv;
    bool stopping;
} app_t;

static void stop(app_t *app) {
    if (app->stopping) return;
    app->stopping = true;
    signal_server_close(app->srv);
    st_signals_close(app->sig);
}

static void on_stopped(void *user) { stop(user); }

static void on_drain(int signum, unsigned count, void *user) {
    app_t *app = user;
    st_log_kv(RTC_LOG_INFO, "signal", ST_KVS(ST_KV_I("signal", signum), ST_KV_I("count", count)),
              count == 1 ? "shutdown requested: draining" : "second shutdown signal: exiting now");
    if (count == 1) signal_server_drain(app->srv, on_stopped, app);
    else stop(app);
}

static void on_reload(void *user) {
    app_t *app = user;
    signal_config_t fresh = {0};
    st_config_error_t err;
    /* Parse from scratch; apply what can change at run time. The rest needs a restart. */
    int rc = st_config_load(&signal_config_spec, app->argc, app->argv, environ, &fresh, &err);
    if (rc < 0) {
        st_log_kv(RTC_LOG_ERROR, "signal", NULL, 0, "reload failed, keeping the old configuration: %s",
                  err.msg);
        return;
    }
    if (fresh.common.log_level) st_log_set_level_name(fresh.common.log_level);
    st_log_kv(RTC_LOG_INFO, "signal", NULL, 0, "reloaded: log level applied; other options need a restart");
    st_config_free(&signal_config_spec, &fresh);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "token") == 0) return cmd_token(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "secret") == 0) return cmd_secret(argc - 1, argv + 1);

    signal_config_t cfg = {0};
    int rc = load_config(argc, argv, &cfg, false);
    if (rc != 0) return rc > 0 ? 0 : 2;
    st_log_init("signal", cfg.common.log_level);
    rtc_buf_t dump;
    rtc_buf_init(&dump);
    if (st_config_dump_json(&signal_config_spec, &cfg, &dump) == RTC_OK)
        st_log_kv(RTC_LOG_INFO, "signal", NULL, 0, "configuration %.*s", (int)dump.len,
                  (const char *)dump.data);
    rtc_buf_free(&dump);

    uv_loop_t loop;
    uv_loop_init(&loop);
    app_t app = {0};
    app.cfg = &cfg;
    app.argc = argc;
    app.argv = argv;
    app.srv = signal_server_new(&loop, &cfg);
    if (!app.srv) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        st_config_free(&signal_config_spec, &cfg);
        return 1;
    }
    st_signals_callbacks_t cb = {on_drain, on_reload, &app};
    app.sig = st_signals_new(&loop, &cb);
    uv_run(&loop, UV_RUN_DEFAULT);
    signal_server_free(app.srv);
    int lc = uv_loop_close(&loop);
    if (lc != 0) st_log_kv(RTC_LOG_WARN, "signal", NULL, 0, "loop closed with handles open: %s",
                           uv_strerror(lc));
    st_log_kv(RTC_LOG_INFO, "signal", NULL, 0, "stopped");
    st_config_free(&signal_config_spec, &cfg);
    st_log_shutdown();
    return 0;
}
