/*
 * common/config.h — service configuration from defaults, a config file, the environment and
 * command-line flags, all described by one declarative option table.
 *
 * A service declares its settings once, as an array of st_option_t that says each option's
 * name, type, default, help text and where in the service's own config struct the parsed
 * value goes (offsetof). st_config_load() fills that struct; st_config_help() prints --help
 * from the same table, so the two cannot drift apart.
 *
 * Precedence, lowest to highest: built-in default < config file < environment < flag.
 *
 *   config file   `name = value` lines, `#` or `;` comments, optional `[section]` headers
 *                 that prefix the keys after them (`[redis]` + `host = x` is `redis.host`).
 *                 Values may be double-quoted ("a # b", escapes \" \\ \n \t). Unknown keys
 *                 and repeated keys are errors that name the file and line.
 *   environment   STARLING_<SERVICE>_<NAME>, upper-cased, `.` and `-` turned into `_`:
 *                 option `redis.host` of service `turn` is STARLING_TURN_REDIS_HOST.
 *                 Variables with the prefix that match no option are ignored (Kubernetes
 *                 injects STARLING_TURN_PORT and friends for a Service named starling-turn).
 *   flags         --name=value or --name value; a bool may be given as --name or --no-name.
 *                 --config FILE / -c FILE picks the file (else STARLING_<SERVICE>_CONFIG);
 *                 --help / -h asks for help.
 *
 * Reload (SIGHUP): call st_config_load() again into a fresh struct; if it succeeds, swap it
 * in and st_config_free() the old one; if it fails, keep running on the old one. Nothing
 * here keeps global state, so loads are independent.
 */
#ifndef STARLING_COMMON_CONFIG_H
#define STARLING_COMMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ST_OPT_INT,      /* int64_t, decimal; bounds [min, max] checked when min < max */
    ST_OPT_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 (any case) */
    ST_OPT_STRING,   /* char *, heap copy owned by the struct; NULL when unset; may be
                        restricted to `choices` */
    ST_OPT_DURATION, /* int64_t milliseconds: "250ms", "30s", "5m", "2h", "1d"; a bare number
                        is seconds; bounds as for INT, in milliseconds */
    ST_OPT_LIST,     /* st_strlist_t: comma-separated, items trimmed, empty items dropped */
    ST_OPT_ADDRESS,  /* rtc_addr_t: "IP:port" or "[IPv6]:port", port required (0 allowed);
                        no DNS, since these are addresses to bind to */
} st_opt_type_t;

/* Option flags. */
#define ST_OPT_SECRET 1u /* value never shown: --help omits its default, dumps print "***" */

typedef struct {
    char **items;
    size_t n;
} st_strlist_t;

typedef struct {
    const char *name;     /* [a-z][a-z0-9_.]*, e.g. "listen", "redis.host" */
    st_opt_type_t type;
    size_t offset;        /* offsetof(<service config struct>, field) */
    const char *def;      /* default in config-file syntax; NULL leaves the field unset */
    const char *help;     /* one line */
    int64_t min, max;     /* INT / DURATION(ms) inclusive bounds, used when min < max */
    const char *const *choices; /* STRING: NULL-terminated list of allowed values, or NULL */
    unsigned flags;       /* ST_OPT_SECRET */
} st_option_t;

/* Options every service has, stored in an st_common_config_t inside the service's struct
 * when the spec sets has_common. docs/configuration.md describes them. */
typedef struct {
    char *log_level;                  /* log.level: trace|debug|info|warn|error */
    char *redis_host;                 /* redis.host */
    int64_t redis_port;               /* redis.port */
    char *redis_username;             /* redis.username (ACL user; NULL: none) */
    char *redis_password;             /* redis.password (secret; NULL: no AUTH) */
    int64_t redis_db;                 /* redis.db */
    int64_t redis_connect_timeout_ms; /* redis.connect_timeout */
    int64_t redis_command_timeout_ms; /* redis.command_timeout */
    int64_t redis_reconnect_max_ms;   /* redis.reconnect_max: cap of the retry backoff */
    int64_t drain_timeout_ms;         /* shutdown.drain_timeout */
} st_common_config_t;

typedef struct {
    const char *service;          /* "turn": env prefix STARLING_TURN_, binary starling-turn */
    const char *summary;          /* one line for --help */
    const st_option_t *options;   /* the service's own options */
    size_t n_options;
    int has_common;               /* non-zero: include the common options ... */
    size_t common_offset;         /* ... stored in an st_common_config_t at this offset */
} st_config_spec_t;

typedef struct {
    char msg[512];                /* names the source (file:line, env var or flag) and key */
} st_config_error_t;

/* st_config_load result besides RTC_OK and negative errors: --help/-h was given. */
#define ST_CONFIG_HELP 1

/* Builds a configuration into `cfg` (the service's struct, zeroed or previously freed):
 * defaults, then the config file, then envp (a NULL-terminated "NAME=value" array such as
 * `environ`; may be NULL), then argv[1..argc-1]. Returns RTC_OK, ST_CONFIG_HELP when help was
 * requested (cfg then holds defaults only), or a negative rtc_err_t with err->msg filled:
 * RTC_ERR_MALFORMED (bad syntax or value), RTC_ERR_NOT_FOUND (unknown key/flag or missing
 * file), RTC_ERR_IO (unreadable file), RTC_ERR_INVALID_ARG (the spec itself is wrong). On
 * error cfg is freed again, so the caller has nothing to clean up. */
int st_config_load(const st_config_spec_t *spec, int argc, char *const *argv,
                   char *const *envp, void *cfg, st_config_error_t *err);

/* Frees the strings and lists the loader allocated in cfg and zeroes them. Safe to call on a
 * zeroed struct and twice. */
void st_config_free(const st_config_spec_t *spec, void *cfg);

/* The --help text: usage, summary, and every option with its type, default, env variable
 * and help line. Appends to out; returns RTC_OK or RTC_ERR_NOMEM. */
int st_config_help(const st_config_spec_t *spec, rtc_buf_t *out);

/* Pieces of st_config_load, public for tests, fuzzing and tools. */
int st_config_set_defaults(const st_config_spec_t *spec, void *cfg, st_config_error_t *err);
/* Applies a config file held in memory on top of cfg. `source` names it in errors. */
int st_config_parse_buffer(const st_config_spec_t *spec, void *cfg, const char *source,
                           const uint8_t *p, size_t n, st_config_error_t *err);
/* The environment variable name of option `name`: STARLING_<SERVICE>_<NAME>. Returns the
 * length or RTC_ERR_OVERFLOW. */
int st_config_env_name(const st_config_spec_t *spec, const char *name, char *out, size_t cap);

/* Appends the effective configuration as one JSON object ({"listen":"0.0.0.0:3478",...}),
 * secrets shown as "***", for a start-up log line. Returns RTC_OK or RTC_ERR_NOMEM. */
int st_config_dump_json(const st_config_spec_t *spec, const void *cfg, rtc_buf_t *out);

/* Value parsers, shared with code that reads the same syntax elsewhere. Each returns RTC_OK
 * or RTC_ERR_MALFORMED / RTC_ERR_OVERFLOW. */
int st_parse_int(const char *s, int64_t *out);
int st_parse_bool(const char *s, bool *out);
int st_parse_duration_ms(const char *s, int64_t *out);

void st_strlist_free(st_strlist_t *l);

/* Every option of a spec, common ones first, for tools and tests. */
size_t st_config_count(const st_config_spec_t *spec);
const st_option_t *st_config_option(const st_config_spec_t *spec, size_t i);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_CONFIG_H */
