/* Logging through one replaceable callback. The default writes a JSON object per line to
 * stderr, so even a program that never configures logging produces parseable output. */
#include "rtc/base.h"

#include <stdio.h>
#include <time.h>

static void default_log(rtc_log_level_t level, const char *module, const char *msg, void *user);

static rtc_log_fn log_fn = default_log;
static void *log_user;
static rtc_log_level_t log_min = RTC_LOG_INFO;

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

const char *rtc_log_level_name(rtc_log_level_t level) {
    return (unsigned)level <= RTC_LOG_OFF ? level_names[level] : "unknown";
}

int rtc_log_level_parse(const char *name, rtc_log_level_t *out) {
    if (!name) return RTC_ERR_INVALID_ARG;
    for (int i = 0; i <= RTC_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) { *out = (rtc_log_level_t)i; return RTC_OK; }
    }
    if (strcmp(name, "warning") == 0) { *out = RTC_LOG_WARN; return RTC_OK; }
    return RTC_ERR_INVALID_ARG;
}

void rtc_log_set_callback(rtc_log_fn fn, void *user) {
    log_fn = fn ? fn : default_log;
    log_user = fn ? user : NULL;
}

void rtc_log_set_level(rtc_log_level_t min_level) { log_min = min_level; }
rtc_log_level_t rtc_log_get_level(void) { return log_min; }

size_t rtc_json_escape(char *out, size_t cap, const char *s) {
    if (cap == 0) return 0;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        char tmp[8];
        size_t n;
        switch (*p) {
        case '"': n = 2; memcpy(tmp, "\\\"", 2); break;
        case '\\': n = 2; memcpy(tmp, "\\\\", 2); break;
        case '\n': n = 2; memcpy(tmp, "\\n", 2); break;
        case '\r': n = 2; memcpy(tmp, "\\r", 2); break;
        case '\t': n = 2; memcpy(tmp, "\\t", 2); break;
        default:
            if (*p < 0x20) { n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", *p); }
            else { tmp[0] = (char)*p; n = 1; }
        }
        if (o + n >= cap) break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

static void default_log(rtc_log_level_t level, const char *module, const char *msg, void *user) {
    (void)user;
    char emsg[2048], emod[64];
    rtc_json_escape(emsg, sizeof emsg, msg);
    rtc_json_escape(emod, sizeof emod, module ? module : "");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}\n",
            when, ts.tv_nsec / 1000000, rtc_log_level_name(level), emod, emsg);
}

void rtc_logv(rtc_log_level_t level, const char *module, const char *fmt, va_list ap) {
    if (level < log_min || level >= RTC_LOG_OFF) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    log_fn(level, module, msg, log_user);
}

void rtc_log(rtc_log_level_t level, const char *module, const char *fmt, ...) {
    if (level < log_min) return;
    va_list ap;
    va_start(ap, fmt);
    rtc_logv(level, module, fmt, ap);
    va_end(ap);
}
