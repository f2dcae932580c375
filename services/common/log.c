/* JSON-lines logging. A line is built on the stack and leaves in one write(2): no lock, no
 * interleaving, and a slow or broken stderr costs a dropped line rather than a stalled
 * thread holding a mutex. */
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static char service_name[64] = "starling";
static atomic_uint_fast64_t dropped_lines;

/* Length of a valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < len) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    }
    return len;
}

size_t st_json_escape(char *out, size_t cap, const char *s, size_t len, bool *truncated) {
    if (truncated) *truncated = false;
    if (cap == 0) {
        if (truncated) *truncated = len > 0;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    while (i < len) {
        char tmp[8];
        const char *src = tmp;
        size_t tn, used = 1;
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\'; tmp[1] = (char)c; tn = 2;
        } else if (c < 0x20) {
            tmp[0] = '\\';
            tn = 2;
            switch (c) {
            case '\n': tmp[1] = 'n'; break;
            case '\r': tmp[1] = 'r'; break;
            case '\t': tmp[1] = 't'; break;
            case '\b': tmp[1] = 'b'; break;
            case '\f': tmp[1] = 'f'; break;
            default: tn = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
            }
        } else if (c < 0x80) {
            tmp[0] = (char)c; tn = 1;
        } else if ((used = utf8_len(p + i, len - i)) > 0) {
            src = (const char *)p + i; tn = used;
        } else {
            src = "\\ufffd"; tn = 6; used = 1;
        }
        if (o + tn >= cap) {
            if (truncated) *truncated = true;
            break;
        }
        memcpy(out + o, src, tn);
        o += tn;
        i += used;
    }
    out[o] = '\0';
    return o;
}

void st_format_double(char *out, size_t cap, double d) {
    /* The shortest text that reads back as the same double, without an exponent for
     * everyday magnitudes (10, not 1e+01). */
    double a = fabs(d);
    bool plain = a == 0 || (a >= 1e-4 && a < 1e15);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d && (!plain || !strchr(out, 'e'))) return;
    }
}

/* A line under construction. `lim` keeps room for the closing `,"truncated":true}\n`. */
typedef struct {
    char *buf;
    size_t len;
    size_t lim;
    bool trunc;
} line_t;

#define LINE_TAIL 24

static void put_raw(line_t *l, const char *s) {
    size_t n = strlen(s);
    if (l->trunc || l->len + n > l->lim) { l->trunc = true; return; }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* A quoted, escaped string. Cut short when space runs out, but always closed. */
static void put_str(line_t *l, const char *s) {
    if (l->trunc || l->len + 2 > l->lim) { l->trunc = true; return; }
    l->buf[l->len++] = '"';
    bool cut = false;
    l->len += st_json_escape(l->buf + l->len, l->lim - l->len, s, strlen(s), &cut);
    l->buf[l->len++] = '"'; /* escape left one byte for its NUL, which the quote takes */
    if (cut) l->trunc = true;
}

static void put_double(line_t *l, double d) {
    char tmp[40];
    if (!isfinite(d)) { put_raw(l, "null"); return; }
    st_format_double(tmp, sizeof tmp, d);
    put_raw(l, tmp);
}

size_t st_log_format(char *out, int64_t wall_us, rtc_log_level_t level, const char *service,
                     const char *module, const char *msg, const st_kv_t *kv, size_t n) {
    line_t l = {out, 0, ST_LOG_LINE_MAX - LINE_TAIL, false};
    time_t secs = (time_t)(wall_us / RTC_US_PER_SEC);
    long ms = (long)((wall_us % RTC_US_PER_SEC) / 1000);
    if (wall_us < 0) { secs = 0; ms = 0; }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[64], frac[8];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof frac, ".%03ldZ", ms);
    put_raw(&l, "{\"ts\":\"");
    put_raw(&l, ts);
    put_raw(&l, frac);
    put_raw(&l, "\",\"level\":\"");
    put_raw(&l, rtc_log_level_name(level));
    put_raw(&l, "\",\"service\":");
    put_str(&l, service ? service : "");
    put_raw(&l, ",\"module\":");
    put_str(&l, module ? module : "");
    put_raw(&l, ",\"msg\":");
    put_str(&l, msg ? msg : "");
    for (size_t i = 0; i < n && !l.trunc; i++) {
        size_t mark = l.len;
        put_raw(&l, ",");
        put_str(&l, kv[i].key ? kv[i].key : "");
        put_raw(&l, ":");
        char num[32];
        switch (kv[i].type) {
        case ST_KV_STR:
            if (kv[i].v.s) put_str(&l, kv[i].v.s);
            else put_raw(&l, "null");
            break;
        case ST_KV_INT:
            snprintf(num, sizeof num, "%lld", (long long)kv[i].v.i);
            put_raw(&l, num);
            break;
        case ST_KV_DOUBLE: put_double(&l, kv[i].v.d); break;
        case ST_KV_BOOL: put_raw(&l, kv[i].v.b ? "true" : "false"); break;
        default: put_raw(&l, "null");
        }
        if (l.trunc) l.len = mark; /* drop a half-written pair rather than cut it */
    }
    /* The tail always fits: lim left LINE_TAIL bytes for it. */
    const char *tail = l.trunc ? ",\"truncated\":true}\n" : "}\n";
    size_t tn = strlen(tail);
    memcpy(out + l.len, tail, tn);
    l.len += tn;
    out[l.len] = '\0';
    return l.len;
}

static void write_line(const char *buf, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(log_fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            atomic_fetch_add_explicit(&dropped_lines, 1, memory_order_relaxed);
            return;
        }
        off += (size_t)w;
    }
}

static void rtc_callback(rtc_log_level_t level, const char *module, const char *msg, void *user) {
    (void)user;
    char line[ST_LOG_LINE_MAX];
    size_t n = st_log_format(line, rtc_clock_wall_us(), level, service_name, module, msg, NULL, 0);
    write_line(line, n);
}

int st_log_set_level_name(const char *level) {
    rtc_log_level_t lvl;
    if (rtc_log_level_parse(level, &lvl) < 0) return RTC_ERR_INVALID_ARG;
    rtc_log_set_level(lvl);
    return RTC_OK;
}

int st_log_init(const char *service, const char *level) {
    snprintf(service_name, sizeof service_name, "%s", service ? service : "starling");
    rtc_log_set_callback(rtc_callback, NULL);
    return level ? st_log_set_level_name(level) : RTC_OK;
}

void st_log_set_fd(int fd) { log_fd = fd; }

void st_log_shutdown(void) {
    rtc_log_set_callback(NULL, NULL);
    log_fd = 2;
}

uint64_t st_log_dropped(void) {
    return atomic_load_explicit(&dropped_lines, memory_order_relaxed);
}

void st_log_kv(rtc_log_level_t level, const char *module, const st_kv_t *kv, size_t n,
               const char *fmt, ...) {
    if (level < rtc_log_get_level() || level >= RTC_LOG_OFF) return;
    char msg[ST_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[ST_LOG_LINE_MAX];
    size_t len = st_log_format(line, rtc_clock_wall_us(), level, service_name, module, msg, kv, n);
    write_line(line, len);
}
