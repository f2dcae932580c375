/* Configuration: one option table, four sources (defaults < file < env < flags). Every error
 * message says where the bad value came from and which key it was for, because the person
 * reading it is an operator looking at a failed deployment. */
#include "common/config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES (1u << 20)
#define MAX_LINE_BYTES 8192
#define MAX_NAME_LEN 96

/* ------------------------------------------------------------------------------------------
 * The common options every service shares.
 */
static const char *const log_levels[] = {"trace", "debug", "info", "warn", "error", NULL};

#define C(field) offsetof(st_common_config_t, field)
static const st_option_t common_options[] = {
    {"log.level", ST_OPT_STRING, C(log_level), "info",
     "minimum level of the JSON log lines written to stderr", 0, 0, log_levels, 0},
    {"redis.host", ST_OPT_STRING, C(redis_host), "127.0.0.1",
     "Redis server host name or IP address", 0, 0, NULL, 0},
    {"redis.port", ST_OPT_INT, C(redis_port), "6379", "Redis server TCP port", 1, 65535, NULL, 0},
    {"redis.username", ST_OPT_STRING, C(redis_username), NULL,
     "Redis ACL user name (Redis 6+); unset uses the default user", 0, 0, NULL, 0},
    {"redis.password", ST_OPT_STRING, C(redis_password), NULL,
     "Redis password; unset sends no AUTH", 0, 0, NULL, ST_OPT_SECRET},
    {"redis.db", ST_OPT_INT, C(redis_db), "0", "Redis logical database number", 0, INT_MAX,
     NULL, 0},
    {"redis.connect_timeout", ST_OPT_DURATION, C(redis_connect_timeout_ms), "2s",
     "give up on one Redis connection attempt after this long", 10, 600000, NULL, 0},
    {"redis.command_timeout", ST_OPT_DURATION, C(redis_command_timeout_ms), "2s",
     "a Redis reply later than this drops the connection and reconnects", 10, 600000, NULL, 0},
    {"redis.reconnect_max", ST_OPT_DURATION, C(redis_reconnect_max_ms), "5s",
     "longest wait between Redis reconnection attempts (backoff doubles up to this)", 10,
     3600000, NULL, 0},
    {"shutdown.drain_timeout", ST_OPT_DURATION, C(drain_timeout_ms), "10s",
     "after SIGTERM, how long to let sessions finish before exiting", 0, 3600000, NULL, 0},
};
#undef C
#define N_COMMON (sizeof common_options / sizeof common_options[0])

typedef struct {
    const st_option_t *opt;
    size_t base; /* offset of the table's struct inside the service config */
} entry_t;

static size_t n_entries(const st_config_spec_t *spec) {
    return (spec->has_common ? N_COMMON : 0) + spec->n_options;
}

static entry_t entry_at(const st_config_spec_t *spec, size_t i) {
    if (spec->has_common) {
        if (i < N_COMMON) return (entry_t){&common_options[i], spec->common_offset};
        i -= N_COMMON;
    }
    return (entry_t){&spec->options[i], 0};
}

size_t st_config_count(const st_config_spec_t *spec) { return spec ? n_entries(spec) : 0; }

const st_option_t *st_config_option(const st_config_spec_t *spec, size_t i) {
    return spec && i < n_entries(spec) ? entry_at(spec, i).opt : NULL;
}

static void *field(void *cfg, entry_t e) { return (char *)cfg + e.base + e.opt->offset; }
static const void *cfield(const void *cfg, entry_t e) {
    return (const char *)cfg + e.base + e.opt->offset;
}

static void set_err(st_config_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(st_config_error_t *err, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* Names compare with `.`, `-` and `_` equal and case ignored, which is also what makes two
 * names collide in the environment. */
static char norm_char(char c) {
    if (c == '.' || c == '-') return '_';
    return (char)tolower((unsigned char)c);
}

static bool name_eq(const char *a, size_t alen, const char *b) {
    size_t i = 0;
    for (; i < alen && b[i]; i++) {
        if (norm_char(a[i]) != norm_char(b[i])) return false;
    }
    return i == alen && b[i] == '\0';
}

static int find_entry(const st_config_spec_t *spec, const char *name, size_t len) {
    size_t n = n_entries(spec);
    for (size_t i = 0; i < n; i++) {
        if (name_eq(name, len, entry_at(spec, i).opt->name)) return (int)i;
    }
    return -1;
}

static bool valid_name(const char *s) {
    if (!s || !islower((unsigned char)s[0]) || strlen(s) > MAX_NAME_LEN) return false;
    for (const char *p = s; *p; p++) {
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '.')
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Value parsers.
 */
int st_parse_int(const char *s, int64_t *out) {
    if (!s || !*s) return RTC_ERR_MALFORMED;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return RTC_ERR_MALFORMED;
    for (const char *q = p; *q; q++) {
        if (!isdigit((unsigned char)*q)) return RTC_ERR_MALFORMED;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return RTC_ERR_OVERFLOW;
    *out = v;
    return RTC_OK;
}

int st_parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (!s) return RTC_ERR_MALFORMED;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return RTC_OK; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return RTC_OK; }
    }
    return RTC_ERR_MALFORMED;
}

int st_parse_duration_ms(const char *s, int64_t *out) {
    if (!s || !isdigit((unsigned char)*s)) return RTC_ERR_MALFORMED;
    int64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
            return RTC_ERR_OVERFLOW;
    }
    int64_t mult;
    if (*p == '\0' || strcmp(p, "s") == 0) mult = 1000;
    else if (strcmp(p, "ms") == 0) mult = 1;
    else if (strcmp(p, "m") == 0) mult = 60 * 1000;
    else if (strcmp(p, "h") == 0) mult = 3600 * 1000;
    else if (strcmp(p, "d") == 0) mult = 86400 * 1000;
    else return RTC_ERR_MALFORMED;
    if (__builtin_mul_overflow(v, mult, &v)) return RTC_ERR_OVERFLOW;
    *out = v;
    return RTC_OK;
}

void st_strlist_free(st_strlist_t *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int parse_list(const char *s, st_strlist_t *out) {
    st_strlist_t l = {0};
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a) {
            char **items = realloc(l.items, (l.n + 1) * sizeof *items);
            if (!items) { st_strlist_free(&l); return RTC_ERR_NOMEM; }
            l.items = items;
            l.items[l.n] = strndup(a, (size_t)(b - a));
            if (!l.items[l.n]) { st_strlist_free(&l); return RTC_ERR_NOMEM; }
            l.n++;
        }
        if (!end) break;
        p = end + 1;
    }
    *out = l;
    return RTC_OK;
}

static const char *type_name(st_opt_type_t t) {
    switch (t) {
    case ST_OPT_INT: return "int";
    case ST_OPT_BOOL: return "bool";
    case ST_OPT_STRING: return "string";
    case ST_OPT_DURATION: return "duration";
    case ST_OPT_LIST: return "list";
    case ST_OPT_ADDRESS: return "address";
    }
    return "?";
}

/* Parses `text` as option e and stores it, replacing (and freeing) the old value. `where`
 * names the source for the error message. */
static int set_value(entry_t e, void *cfg, const char *text, const char *where,
                     st_config_error_t *err) {
    const st_option_t *o = e.opt;
    void *dst = field(cfg, e);
    /* Secrets are never echoed back into logs through an error message. */
    const char *shown = (o->flags & ST_OPT_SECRET) ? "***" : text;
    int rc;
    switch (o->type) {
    case ST_OPT_INT:
    case ST_OPT_DURATION: {
        int64_t v;
        rc = o->type == ST_OPT_INT ? st_parse_int(text, &v) : st_parse_duration_ms(text, &v);
        if (rc == RTC_ERR_OVERFLOW) {
            set_err(err, "%s: option '%s': value \"%.64s\" is out of range", where, o->name, shown);
            return RTC_ERR_MALFORMED;
        }
        if (rc < 0) {
            set_err(err, "%s: option '%s': expected %s, got \"%.64s\"", where, o->name,
                    o->type == ST_OPT_INT ? "an integer"
                                          : "a duration such as 250ms, 30s, 5m, 2h or 1d",
                    shown);
            return RTC_ERR_MALFORMED;
        }
        if (o->min < o->max && (v < o->min || v > o->max)) {
            if (o->type == ST_OPT_INT)
                set_err(err, "%s: option '%s': %lld is outside %lld..%lld", where, o->name,
                        (long long)v, (long long)o->min, (long long)o->max);
            else
                set_err(err, "%s: option '%s': %lldms is outside %lldms..%lldms", where,
                        o->name, (long long)v, (long long)o->min, (long long)o->max);
            return RTC_ERR_MALFORMED;
        }
        *(int64_t *)dst = v;
        return RTC_OK;
    }
    case ST_OPT_BOOL: {
        bool v;
        if (st_parse_bool(text, &v) < 0) {
            set_err(err, "%s: option '%s': expected true or false, got \"%.64s\"", where,
                    o->name, shown);
            return RTC_ERR_MALFORMED;
        }
        *(bool *)dst = v;
        return RTC_OK;
    }
    case ST_OPT_STRING: {
        if (o->choices) {
            bool ok = false;
            for (const char *const *c = o->choices; *c && !ok; c++) ok = strcmp(*c, text) == 0;
            if (!ok) {
                char list[200] = "";
                for (const char *const *c = o->choices; *c; c++) {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", *c);
                }
                set_err(err, "%s: option '%s': \"%.64s\" is not one of: %s", where, o->name,
                        shown, list);
                return RTC_ERR_MALFORMED;
            }
        }
        char *copy = strdup(text);
        if (!copy) { set_err(err, "out of memory"); return RTC_ERR_NOMEM; }
        free(*(char **)dst);
        *(char **)dst = copy;
        return RTC_OK;
    }
    case ST_OPT_LIST: {
        st_strlist_t l;
        if (parse_list(text, &l) < 0) { set_err(err, "out of memory"); return RTC_ERR_NOMEM; }
        st_strlist_free((st_strlist_t *)dst);
        *(st_strlist_t *)dst = l;
        return RTC_OK;
    }
    case ST_OPT_ADDRESS: {
        /* Parsing with two different default ports tells whether the text carried its own. */
        rtc_addr_t a, b;
        if (rtc_addr_parse(&a, text, 1) < 0 || rtc_addr_parse(&b, text, 2) < 0) {
            set_err(err, "%s: option '%s': \"%.64s\" is not an IP address with a port "
                    "(e.g. 127.0.0.1:8080 or [::1]:8080)", where, o->name, shown);
            return RTC_ERR_MALFORMED;
        }
        if (a.port != b.port) {
            set_err(err, "%s: option '%s': address \"%.64s\" needs a port (e.g. %.64s:8080)",
                    where, o->name, shown, shown);
            return RTC_ERR_MALFORMED;
        }
        *(rtc_addr_t *)dst = a;
        return RTC_OK;
    }
    }
    set_err(err, "option '%s': unknown type", o->name);
    return RTC_ERR_INVALID_ARG;
}

/* ------------------------------------------------------------------------------------------
 * Spec checks, defaults, freeing.
 */
static int check_spec(const st_config_spec_t *spec, st_config_error_t *err) {
    if (!spec || !spec->service || !*spec->service || (spec->n_options && !spec->options)) {
        set_err(err, "config spec: service name and option table are required");
        return RTC_ERR_INVALID_ARG;
    }
    size_t n = n_entries(spec);
    for (size_t i = 0; i < n; i++) {
        const st_option_t *o = entry_at(spec, i).opt;
        if (!valid_name(o->name) || strcmp(o->name, "config") == 0 ||
            strcmp(o->name, "help") == 0) {
            set_err(err, "config spec: invalid option name '%s'", o->name ? o->name : "(null)");
            return RTC_ERR_INVALID_ARG;
        }
        for (size_t j = 0; j < i; j++) {
            if (name_eq(o->name, strlen(o->name), entry_at(spec, j).opt->name)) {
                set_err(err, "config spec: options '%s' and '%s' share an environment name",
                        entry_at(spec, j).opt->name, o->name);
                return RTC_ERR_INVALID_ARG;
            }
        }
    }
    return RTC_OK;
}

void st_config_free(const st_config_spec_t *spec, void *cfg) {
    if (!spec || !cfg) return;
    size_t n = n_entries(spec);
    for (size_t i = 0; i < n; i++) {
        entry_t e = entry_at(spec, i);
        if (e.opt->type == ST_OPT_STRING) {
            free(*(char **)field(cfg, e));
            *(char **)field(cfg, e) = NULL;
        } else if (e.opt->type == ST_OPT_LIST) {
            st_strlist_free((st_strlist_t *)field(cfg, e));
        }
    }
}

int st_config_set_defaults(const st_config_spec_t *spec, void *cfg, st_config_error_t *err) {
    int rc = check_spec(spec, err);
    if (rc < 0) return rc;
    size_t n = n_entries(spec);
    for (size_t i = 0; i < n; i++) {
        entry_t e = entry_at(spec, i);
        if (!e.opt->def) continue;
        char where[128];
        snprintf(where, sizeof where, "built-in default");
        rc = set_value(e, cfg, e.opt->def, where, err);
        if (rc < 0) return RTC_ERR_INVALID_ARG; /* a bad default is a programming error */
    }
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * The config file.
 */
static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static bool valid_key_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* Parses the value part of a line (already left-trimmed) into out (capacity >= len + 1).
 * Returns RTC_OK or RTC_ERR_MALFORMED with *why set. */
static int parse_value(const char *s, size_t len, char *out, const char **why) {
    size_t o = 0;
    if (len > 0 && s[0] == '"') {
        size_t i = 1;
        for (;; i++) {
            if (i >= len) { *why = "unterminated quoted value"; return RTC_ERR_MALFORMED; }
            char c = s[i];
            if (c == '"') break;
            if (c == '\\') {
                if (++i >= len) { *why = "unterminated quoted value"; return RTC_ERR_MALFORMED; }
                switch (s[i]) {
                case '\\': c = '\\'; break;
                case '"': c = '"'; break;
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                default: *why = "unknown escape in quoted value (use \\\\ \\\" \\n \\t)";
                    return RTC_ERR_MALFORMED;
                }
            }
            out[o++] = c;
        }
        for (i++; i < len && is_blank(s[i]); i++) {}
        if (i < len && s[i] != '#') {
            *why = "unexpected text after the closing quote";
            return RTC_ERR_MALFORMED;
        }
    } else {
        /* Unquoted: a '#' that follows whitespace starts a comment; trailing blanks go. */
        size_t end = len;
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) { end = i; break; }
        }
        while (end > 0 && is_blank(s[end - 1])) end--;
        memcpy(out, s, end);
        o = end;
    }
    out[o] = '\0';
    return RTC_OK;
}

int st_config_parse_buffer(const st_config_spec_t *spec, void *cfg, const char *source,
                           const uint8_t *p, size_t n, st_config_error_t *err) {
    int rc = check_spec(spec, err);
    if (rc < 0) return rc;
    if (!source) source = "config";
    size_t ne = n_entries(spec);
    unsigned *seen = calloc(ne ? ne : 1, sizeof *seen);
    char *value = malloc(MAX_LINE_BYTES + 1);
    if (!seen || !value) {
        free(seen);
        free(value);
        set_err(err, "out of memory");
        return RTC_ERR_NOMEM;
    }
    char section[MAX_NAME_LEN + 1] = "";
    unsigned line_no = 0;
    size_t pos = 0;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) pos = 3; /* UTF-8 BOM from some editors */
    rc = RTC_OK;
    while (pos < n) {
        const uint8_t *nl = memchr(p + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - p) : n;
        const char *line = (const char *)p + pos;
        size_t len = end - pos;
        pos = end + 1;
        line_no++;
        if (len > MAX_LINE_BYTES) {
            set_err(err, "%s:%u: line longer than %u bytes", source, line_no, MAX_LINE_BYTES);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        if (memchr(line, '\0', len)) {
            set_err(err, "%s:%u: NUL byte in line", source, line_no);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        if (len && line[len - 1] == '\r') len--;
        while (len && is_blank(*line)) { line++; len--; }
        while (len && is_blank(line[len - 1])) len--;
        if (len == 0 || line[0] == '#' || line[0] == ';') continue;

        if (line[0] == '[') {
            size_t a = 1, b = len;
            if (line[len - 1] != ']') {
                set_err(err, "%s:%u: section header must end with ']'", source, line_no);
                rc = RTC_ERR_MALFORMED;
                break;
            }
            b--;
            while (a < b && is_blank(line[a])) a++;
            while (b > a && is_blank(line[b - 1])) b--;
            bool ok = b > a && b - a <= MAX_NAME_LEN / 2;
            for (size_t i = a; ok && i < b; i++) ok = valid_key_char(line[i]);
            if (!ok) {
                set_err(err, "%s:%u: invalid section name \"%.*s\"", source, line_no,
                        (int)(len > 64 ? 64 : len), line);
                rc = RTC_ERR_MALFORMED;
                break;
            }
            memcpy(section, line + a, b - a);
            section[b - a] = '\0';
            continue;
        }

        const char *eq = memchr(line, '=', len);
        if (!eq) {
            set_err(err, "%s:%u: expected 'key = value', got \"%.*s\"", source, line_no,
                    (int)(len > 64 ? 64 : len), line);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        size_t klen = (size_t)(eq - line);
        while (klen && is_blank(line[klen - 1])) klen--;
        bool kok = klen > 0 && klen <= MAX_NAME_LEN / 2;
        for (size_t i = 0; kok && i < klen; i++) kok = valid_key_char(line[i]);
        if (!kok) {
            set_err(err, "%s:%u: invalid key \"%.*s\"", source, line_no,
                    (int)(klen > 64 ? 64 : klen), line);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        char key[MAX_NAME_LEN + 2];
        int kl = snprintf(key, sizeof key, "%s%s%.*s", section, *section ? "." : "", (int)klen,
                          line);
        const char *v = eq + 1;
        size_t vlen = len - (size_t)(v - line);
        while (vlen && is_blank(*v)) { v++; vlen--; }
        const char *why = NULL;
        if (parse_value(v, vlen, value, &why) < 0) {
            set_err(err, "%s:%u: key '%s': %s", source, line_no, key, why);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        int idx = find_entry(spec, key, (size_t)kl);
        if (idx < 0) {
            set_err(err, "%s:%u: unknown option '%s' (see --help)", source, line_no, key);
            rc = RTC_ERR_NOT_FOUND;
            break;
        }
        if (seen[idx]) {
            set_err(err, "%s:%u: option '%s' already set on line %u", source, line_no,
                    entry_at(spec, (size_t)idx).opt->name, seen[idx]);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        seen[idx] = line_no;
        char where[160];
        snprintf(where, sizeof where, "%s:%u", source, line_no);
        rc = set_value(entry_at(spec, (size_t)idx), cfg, value, where, err);
        if (rc < 0) break;
    }
    free(seen);
    free(value);
    return rc;
}

static int load_file(const st_config_spec_t *spec, void *cfg, const char *path,
                     st_config_error_t *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, "config file '%s': %s", path, strerror(e));
        return e == ENOENT ? RTC_ERR_NOT_FOUND : RTC_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_err(err, "config file '%s': not a regular file", path);
        return RTC_ERR_IO;
    }
    if ((uintmax_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        set_err(err, "config file '%s': larger than %u bytes", path, MAX_FILE_BYTES);
        return RTC_ERR_LIMIT;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) { close(fd); set_err(err, "out of memory"); return RTC_ERR_NOMEM; }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    int rc = st_config_parse_buffer(spec, cfg, path, buf, got, err);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Environment and flags.
 */
int st_config_env_name(const st_config_spec_t *spec, const char *name, char *out, size_t cap) {
    size_t o = 0;
    const char *parts[3] = {"STARLING_", spec->service, name};
    for (int k = 0; k < 3; k++) {
        for (const char *p = parts[k]; *p; p++) {
            if (o + 2 >= cap) return RTC_ERR_OVERFLOW;
            out[o++] = (char)toupper((unsigned char)norm_char(*p));
        }
        if (k == 1) {
            if (o + 2 >= cap) return RTC_ERR_OVERFLOW;
            out[o++] = '_';
        }
    }
    out[o] = '\0';
    return (int)o;
}

static const char *env_lookup(char *const *envp, const char *name) {
    if (!envp) return NULL;
    size_t len = strlen(name);
    for (char *const *e = envp; *e; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
    }
    return NULL;
}

typedef struct {
    int idx;
    const char *value;
    const char *arg; /* the argv element, for messages */
} flag_t;

int st_config_load(const st_config_spec_t *spec, int argc, char *const *argv,
                   char *const *envp, void *cfg, st_config_error_t *err) {
    if (err) err->msg[0] = '\0';
    int rc = check_spec(spec, err);
    if (rc < 0) return rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            rc = st_config_set_defaults(spec, cfg, err);
            if (rc < 0) { st_config_free(spec, cfg); return rc; }
            return ST_CONFIG_HELP;
        }
    }

    rc = st_config_set_defaults(spec, cfg, err);
    if (rc < 0) goto fail;

    /* Flags are read first (to find --config) but applied last (highest precedence). */
    flag_t *flags = calloc((size_t)(argc > 0 ? argc : 1), sizeof *flags);
    if (!flags) { set_err(err, "out of memory"); rc = RTC_ERR_NOMEM; goto fail; }
    size_t nflags = 0;
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                set_err(err, "flag %s needs a file name", a);
                rc = RTC_ERR_MALFORMED;
                break;
            }
            config_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) { config_path = a + 9; continue; }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            set_err(err, "unexpected argument \"%.64s\" (options are --name=value; see --help)", a);
            rc = RTC_ERR_MALFORMED;
            break;
        }
        const char *name = a + 2;
        const char *eqs = strchr(name, '=');
        size_t nlen = eqs ? (size_t)(eqs - name) : strlen(name);
        int idx = find_entry(spec, name, nlen);
        const char *value = eqs ? eqs + 1 : NULL;
        if (idx < 0 && !eqs && nlen > 3 && strncmp(name, "no-", 3) == 0) {
            idx = find_entry(spec, name + 3, nlen - 3);
            if (idx >= 0 && entry_at(spec, (size_t)idx).opt->type == ST_OPT_BOOL) value = "false";
            else idx = -1;
        }
        if (idx < 0) {
            set_err(err, "unknown flag --%.*s (see --help)", (int)(nlen > 64 ? 64 : nlen), name);
            rc = RTC_ERR_NOT_FOUND;
            break;
        }
        if (!value) {
            if (entry_at(spec, (size_t)idx).opt->type == ST_OPT_BOOL) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                set_err(err, "flag --%s needs a value", entry_at(spec, (size_t)idx).opt->name);
                rc = RTC_ERR_MALFORMED;
                break;
            }
        }
        flags[nflags++] = (flag_t){idx, value, a};
    }

    char envname[160];
    if (rc == RTC_OK && !config_path) {
        if (st_config_env_name(spec, "config", envname, sizeof envname) > 0)
            config_path = env_lookup(envp, envname);
        if (config_path && !*config_path) config_path = NULL;
    }
    if (rc == RTC_OK && config_path) rc = load_file(spec, cfg, config_path, err);

    size_t ne = n_entries(spec);
    for (size_t i = 0; rc == RTC_OK && i < ne; i++) {
        entry_t e = entry_at(spec, i);
        if (st_config_env_name(spec, e.opt->name, envname, sizeof envname) < 0) continue;
        const char *v = env_lookup(envp, envname);
        if (!v) continue;
        char where[200];
        snprintf(where, sizeof where, "environment %s", envname);
        rc = set_value(e, cfg, v, where, err);
    }

    for (size_t i = 0; rc == RTC_OK && i < nflags; i++) {
        char where[200];
        snprintf(where, sizeof where, "flag %.100s", flags[i].arg);
        rc = set_value(entry_at(spec, (size_t)flags[i].idx), cfg, flags[i].value, where, err);
    }
    free(flags);
    if (rc == RTC_OK) return RTC_OK;
fail:
    st_config_free(spec, cfg);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * --help and the effective-config dump.
 */
static int format_value(entry_t e, const void *cfg, rtc_buf_t *out) {
    const void *src = cfield(cfg, e);
    switch (e.opt->type) {
    case ST_OPT_INT: return rtc_buf_appendf(out, "%lld", (long long)*(const int64_t *)src);
    case ST_OPT_BOOL: return rtc_buf_append_str(out, *(const bool *)src ? "true" : "false");
    case ST_OPT_STRING: {
        const char *s = *(char *const *)src;
        return rtc_buf_append_str(out, s ? s : "");
    }
    case ST_OPT_DURATION: {
        int64_t ms = *(const int64_t *)src;
        if (ms != 0 && ms % 1000 != 0) return rtc_buf_appendf(out, "%lldms", (long long)ms);
        return rtc_buf_appendf(out, "%llds", (long long)(ms / 1000));
    }
    case ST_OPT_LIST: {
        const st_strlist_t *l = src;
        for (size_t i = 0; i < l->n; i++) {
            int rc = rtc_buf_appendf(out, "%s%s", i ? "," : "", l->items[i]);
            if (rc < 0) return rc;
        }
        return rtc_buf_append_str(out, "");
    }
    case ST_OPT_ADDRESS: {
        char a[RTC_ADDR_STRLEN];
        if (rtc_addr_format(src, a, sizeof a) < 0) return rtc_buf_append_str(out, "");
        return rtc_buf_append_str(out, a);
    }
    }
    return RTC_ERR_INVALID_ARG;
}

int st_config_help(const st_config_spec_t *spec, rtc_buf_t *out) {
    int rc = 0;
    char env[160];
    st_config_env_name(spec, "config", env, sizeof env);
    rc |= rtc_buf_appendf(out,
        "Usage: starling-%s [--config FILE] [--OPTION=VALUE ...]\n%s%s"
        "\nEach option takes its value from, in increasing precedence: its default, the config\n"
        "file (`option = value`), the environment variable shown, the command-line flag.\n"
        "Durations: 250ms, 30s, 5m, 2h, 1d (a bare number is seconds). Lists: comma-separated.\n"
        "\n  -c, --config FILE        config file to read (env %s)\n"
        "  -h, --help               print this help and exit\n\n",
        spec->service, spec->summary ? spec->summary : "", spec->summary ? "\n" : "", env);
    /* The service's own options first, then the common ones. */
    size_t ne = n_entries(spec);
    size_t first = spec->has_common ? N_COMMON : 0;
    for (size_t k = 0; k < ne; k++) {
        size_t i = (first + k) % ne;
        if (k == 0 && spec->n_options) rc |= rtc_buf_append_str(out, "Options:\n");
        if (i == 0 && first) rc |= rtc_buf_append_str(out, "\nCommon options:\n");
        entry_t e = entry_at(spec, i);
        const st_option_t *o = e.opt;
        rtc_buf_t head;
        rtc_buf_init(&head);
        rc |= rtc_buf_appendf(&head, "  --%s", o->name);
        if (o->type == ST_OPT_BOOL) {
            rc |= rtc_buf_append_str(&head, "[=BOOL]");
        } else if (o->choices) {
            rc |= rtc_buf_append_str(&head, " ");
            for (const char *const *c = o->choices; *c; c++)
                rc |= rtc_buf_appendf(&head, "%s%s", c == o->choices ? "" : "|", *c);
        } else {
            rc |= rtc_buf_appendf(&head, " %s", type_name(o->type));
            for (char *p = (char *)head.data + head.len - strlen(type_name(o->type)); *p; p++)
                *p = (char)toupper((unsigned char)*p);
        }
        if (head.len < 27) rc |= rtc_buf_appendf(out, "%-27s%s\n", (char *)head.data, o->help);
        else rc |= rtc_buf_appendf(out, "%s\n%27s%s\n", (char *)head.data, "", o->help);
        rtc_buf_free(&head);
        st_config_env_name(spec, o->name, env, sizeof env);
        rc |= rtc_buf_appendf(out, "%27s[default: ", "");
        if (o->flags & ST_OPT_SECRET) rc |= rtc_buf_append_str(out, o->def ? "(hidden)" : "none");
        else rc |= rtc_buf_append_str(out, o->def ? (*o->def ? o->def : "\"\"") : "none");
        rc |= rtc_buf_appendf(out, "] [env: %s]\n", env);
    }
    return rc ? RTC_ERR_NOMEM : RTC_OK;
}

int st_config_dump_json(const st_config_spec_t *spec, const void *cfg, rtc_buf_t *out) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return RTC_ERR_NOMEM;
    size_t ne = n_entries(spec);
    bool ok = true;
    for (size_t i = 0; ok && i < ne; i++) {
        entry_t e = entry_at(spec, i);
        const void *src = cfield(cfg, e);
        cJSON *v = NULL;
        if (e.opt->flags & ST_OPT_SECRET) {
            v = *(char *const *)src ? cJSON_CreateString("***") : cJSON_CreateNull();
        } else if (e.opt->type == ST_OPT_INT) {
            v = cJSON_CreateNumber((double)*(const int64_t *)src);
        } else if (e.opt->type == ST_OPT_BOOL) {
            v = cJSON_CreateBool(*(const bool *)src);
        } else if (e.opt->type == ST_OPT_STRING) {
            const char *s = *(char *const *)src;
            v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
        } else if (e.opt->type == ST_OPT_LIST) {
            const st_strlist_t *l = src;
            v = cJSON_CreateArray();
            for (size_t k = 0; v && k < l->n; k++) {
                cJSON *item = cJSON_CreateString(l->items[k]);
                if (!item) { ok = false; break; }
                cJSON_AddItemToArray(v, item);
            }
        } else {
            rtc_buf_t b;
            rtc_buf_init(&b);
            if (format_value(e, cfg, &b) == RTC_OK && b.data) v = cJSON_CreateString((char *)b.data);
            rtc_buf_free(&b);
        }
        if (!v) { ok = false; break; }
        cJSON_AddItemToObject(obj, e.opt->name, v);
    }
    char *s = ok ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!s) return RTC_ERR_NOMEM;
    int rc = rtc_buf_append_str(out, s);
    cJSON_free(s);
    return rc;
}
