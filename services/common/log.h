/*
 * common/log.h — JSON-lines logging for services.
 *
 * Every line is one JSON object:
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","service":"turn","module":"http",
 *    "msg":"listening","addr":"127.0.0.1:9641"}
 * with optional key/values after "msg". st_log_init() installs the writer as libwebrtc's
 * rtc_log callback, so RTC_LOGI("ice", ...) inside the library and st_log_kv() in a service
 * come out the same way. The level is libwebrtc's (rtc_log_set_level), one for both.
 *
 * Thread-safe: a line is formatted on the caller's stack and written with one write(2), so
 * lines from different threads never interleave; lines are capped at ST_LOG_LINE_MAX bytes,
 * Linux's PIPE_BUF, so even a pipe shared with other processes receives whole lines.
 * Text is escaped for JSON and invalid UTF-8 becomes U+FFFD, so every line parses.
 */
#ifndef STARLING_COMMON_LOG_H
#define STARLING_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line written, newline included; longer messages and values are cut (the line
 * stays valid JSON and gets "truncated":true). Equal to Linux PIPE_BUF, so a line written
 * to a pipe is atomic even with other writers. */
#define ST_LOG_LINE_MAX 4096

typedef enum { ST_KV_STR, ST_KV_INT, ST_KV_DOUBLE, ST_KV_BOOL } st_kv_type_t;

typedef struct {
    const char *key;
    st_kv_type_t type;
    union {
        const char *s; /* NULL is written as null */
        int64_t i;
        double d;      /* non-finite values are written as null */
        bool b;
    } v;
} st_kv_t;

#define ST_KV_S(k, val) ((st_kv_t){.key = (k), .type = ST_KV_STR, .v.s = (val)})
#define ST_KV_I(k, val) ((st_kv_t){.key = (k), .type = ST_KV_INT, .v.i = (int64_t)(val)})
#define ST_KV_D(k, val) ((st_kv_t){.key = (k), .type = ST_KV_DOUBLE, .v.d = (double)(val)})
#define ST_KV_B(k, val) ((st_kv_t){.key = (k), .type = ST_KV_BOOL, .v.b = (val)})
/* Expands to "array, count" for st_log_kv:
 *   st_log_kv(RTC_LOG_INFO, "http", ST_KVS(ST_KV_S("path", p), ST_KV_I("status", 404)),
 *             "request done"); */
#define ST_KVS(...) \
    ((const st_kv_t[]){__VA_ARGS__}), (sizeof((const st_kv_t[]){__VA_ARGS__}) / sizeof(st_kv_t))

/* Sets the service name written in every line, installs the rtc_log callback and sets the
 * level from its name ("trace".."error", "off"; NULL keeps the current one). Call once at
 * start-up before threads start. Returns RTC_OK or RTC_ERR_INVALID_ARG for a bad level (the
 * rest is still done). */
int st_log_init(const char *service, const char *level);
/* Changes the level by name (e.g. after a config reload). */
int st_log_set_level_name(const char *level);
/* Where lines go (default 2, stderr). The fd is not owned. */
void st_log_set_fd(int fd);
/* Restores libwebrtc's default callback (for tests). */
void st_log_shutdown(void);

/* One line at `level` with key/values after msg. Keys should be plain identifiers; they
 * are escaped anyway. kv may be NULL when n is 0. */
void st_log_kv(rtc_log_level_t level, const char *module, const st_kv_t *kv, size_t n,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Formats one line (with its '\n') into out, which must hold ST_LOG_LINE_MAX bytes; returns
 * its length. wall_us is microseconds since the Unix epoch. Used by the writer and tests. */
size_t st_log_format(char *out, int64_t wall_us, rtc_log_level_t level, const char *service,
                     const char *module, const char *msg, const st_kv_t *kv, size_t n);

/* Lines that could not be written (fd full or closed) since start. */
uint64_t st_log_dropped(void);

/* JSON string escaping of s[0..len) into out (no quotes added), validating UTF-8: invalid
 * sequences become \ufffd, controls become \n, \t, \u00XX. Writes whole escapes only and
 * stops before overflowing; always NUL-terminates when cap > 0. *truncated (may be NULL) is
 * set when input was left over. Returns the bytes written. */
size_t st_json_escape(char *out, size_t cap, const char *s, size_t len, bool *truncated);

/* Formats a finite double as the shortest text that parses back to it ("0.25", "10",
 * "1e-07"). Used for JSON numbers and Prometheus samples. cap >= 32. */
void st_format_double(char *out, size_t cap, double d);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_LOG_H */
