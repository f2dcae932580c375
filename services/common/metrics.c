/* Prometheus metrics. Families and children are append-only linked lists behind mutexes
 * (registration is rare); the values themselves are atomics (updates are hot). */
#include "common/metrics.h"

#include "common/log.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define SHARDS 16
#define CACHE_LINE 64

const double st_metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                             5,      10};
const size_t st_metrics_latency_buckets_n =
    sizeof st_metrics_latency_buckets / sizeof st_metrics_latency_buckets[0];

typedef struct {
    _Atomic uint64_t v;
    char pad[CACHE_LINE - sizeof(uint64_t)];
} shard_t;

struct st_counter {
    shard_t shard[SHARDS];
};

struct st_gauge {
    _Atomic uint64_t bits; /* a double's bit pattern */
};

struct st_histogram {
    size_t nb;
    const double *bounds;     /* the family's copy */
    _Atomic uint64_t *counts; /* nb + 1 per-bucket (not cumulative) counts; last is +Inf */
    _Atomic uint64_t sum_bits;
};

typedef enum { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM, FAM_GAUGE_FN, FAM_COUNTER_FN } fam_type_t;

typedef struct child {
    struct child *next;
    char **values;
    void *metric;
} child_t;

struct st_metric_family {
    struct st_metric_family *next;
    fam_type_t type;
    char *name;
    char *help;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nb;
    double (*fn)(void *user);
    void *user;
    pthread_mutex_t mu;
    child_t *head;
    child_t **tail;
};

struct st_metrics {
    pthread_mutex_t mu;
    st_metric_family_t *head;
    st_metric_family_t **tail;
};

/* ------------------------------------------------------------------------------------------
 * Values.
 */
static _Thread_local int tl_shard = -1;
static atomic_uint shard_seq;

static inline int my_shard(void) {
    if (tl_shard < 0) tl_shard = (int)(atomic_fetch_add(&shard_seq, 1) % SHARDS);
    return tl_shard;
}

void st_counter_add(st_counter_t *c, uint64_t n) {
    if (!c) return;
    atomic_fetch_add_explicit(&c->shard[my_shard()].v, n, memory_order_relaxed);
}

uint64_t st_counter_value(const st_counter_t *c) {
    if (!c) return 0;
    uint64_t sum = 0;
    for (int i = 0; i < SHARDS; i++) {
        sum += atomic_load_explicit((_Atomic uint64_t *)&c->shard[i].v, memory_order_relaxed);
    }
    return sum;
}

static inline uint64_t d2u(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
static inline double u2d(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }

static void atomic_add_double(_Atomic uint64_t *bits, double delta) {
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, d2u(u2d(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void st_gauge_set(st_gauge_t *g, double v) {
    if (g) atomic_store_explicit(&g->bits, d2u(v), memory_order_relaxed);
}

void st_gauge_add(st_gauge_t *g, double delta) {
    if (g) atomic_add_double(&g->bits, delta);
}

double st_gauge_value(const st_gauge_t *g) {
    return g ? u2d(atomic_load_explicit((_Atomic uint64_t *)&g->bits, memory_order_relaxed)) : 0;
}

void st_histogram_observe(st_histogram_t *h, double v) {
    if (!h || isnan(v)) return;
    size_t i = 0;
    while (i < h->nb && v > h->bounds[i]) i++; /* buckets are "less than or equal" */
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

uint64_t st_histogram_count(const st_histogram_t *h) {
    if (!h) return 0;
    uint64_t n = 0;
    for (size_t i = 0; i <= h->nb; i++) {
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    }
    return n;
}

/* ------------------------------------------------------------------------------------------
 * Registry.
 */
st_metrics_t *st_metrics_new(void) {
    st_metrics_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->tail = &m->head;
    return m;
}

static void free_metric(fam_type_t type, void *metric) {
    if (type == FAM_HISTOGRAM && metric) free(((st_histogram_t *)metric)->counts);
    free(metric);
}

static void free_strv(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void free_family(st_metric_family_t *f) {
    for (child_t *c = f->head, *next; c; c = next) {
        next = c->next;
        free_metric(f->type, c->metric);
        free_strv(c->values, f->nlabels);
        free(c);
    }
    free_strv(f->labels, f->nlabels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void st_metrics_free(st_metrics_t *m) {
    if (!m) return;
    for (st_metric_family_t *f = m->head, *next; f; f = next) {
        next = f->next;
        free_family(f);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static bool valid_metric_name(const char *s) {
    if (!s || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':')) return false;
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':')) return false;
    }
    return true;
}

static bool valid_label_name(const char *s) {
    if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
    if (s[0] == '_' && s[1] == '_') return false;
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
    }
    return true;
}

static void *new_metric(const st_metric_family_t *f) {
    switch (f->type) {
    case FAM_COUNTER: {
        st_counter_t *c = aligned_alloc(CACHE_LINE, sizeof *c);
        if (c) memset(c, 0, sizeof *c);
        return c;
    }
    case FAM_GAUGE: return calloc(1, sizeof(st_gauge_t));
    case FAM_HISTOGRAM: {
        st_histogram_t *h = calloc(1, sizeof *h);
        if (!h) return NULL;
        h->nb = f->nb;
        h->bounds = f->bounds;
        h->counts = calloc(f->nb + 1, sizeof *h->counts);
        if (!h->counts) { free(h); return NULL; }
        return h;
    }
    case FAM_GAUGE_FN:
    case FAM_COUNTER_FN: return NULL;
    }
    return NULL;
}

static st_metric_family_t *add_family(st_metrics_t *m, fam_type_t type, const char *name,
                                      const char *help, const char *const *labels,
                                      size_t nlabels, const double *bounds, size_t nb) {
    if (!m) return NULL;
    if (!valid_metric_name(name)) {
        RTC_LOGE("metrics", "invalid metric name \"%s\"", name ? name : "(null)");
        return NULL;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(labels[i]) || (type == FAM_HISTOGRAM && strcmp(labels[i], "le") == 0)) {
            RTC_LOGE("metrics", "metric %s: invalid label name \"%s\"", name,
                     labels[i] ? labels[i] : "(null)");
            return NULL;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            RTC_LOGE("metrics", "histogram %s: bucket bounds must be finite and increasing", name);
            return NULL;
        }
    }
    st_metric_family_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->nlabels = nlabels;
    f->nb = nb;
    bool ok = f->name && f->help;
    if (ok && nlabels) {
        f->labels = calloc(nlabels, sizeof *f->labels);
        ok = f->labels != NULL;
        for (size_t i = 0; ok && i < nlabels; i++) ok = (f->labels[i] = strdup(labels[i])) != NULL;
    }
    if (ok && nb) {
        f->bounds = malloc(nb * sizeof *f->bounds);
        ok = f->bounds != NULL;
        if (ok) memcpy(f->bounds, bounds, nb * sizeof *f->bounds);
    }
    pthread_mutex_init(&f->mu, NULL);
    f->tail = &f->head;
    /* An unlabelled metric is a family with its one child made now. */
    if (ok && nlabels == 0 && type != FAM_GAUGE_FN && type != FAM_COUNTER_FN) {
        child_t *c = calloc(1, sizeof *c);
        ok = c != NULL;
        if (ok) {
            c->metric = new_metric(f);
            if (!c->metric) { free(c); ok = false; }
            else { *f->tail = c; f->tail = &c->next; }
        }
    }
    if (!ok) { free_family(f); return NULL; }

    pthread_mutex_lock(&m->mu);
    for (st_metric_family_t *g = m->head; g; g = g->next) {
        if (strcmp(g->name, name) == 0) {
            pthread_mutex_unlock(&m->mu);
            RTC_LOGE("metrics", "metric %s registered twice", name);
            free_family(f);
            return NULL;
        }
    }
    *m->tail = f;
    m->tail = &f->next;
    pthread_mutex_unlock(&m->mu);
    return f;
}

st_counter_t *st_metrics_counter(st_metrics_t *m, const char *name, const char *help) {
    st_metric_family_t *f = add_family(m, FAM_COUNTER, name, help, NULL, 0, NULL, 0);
    return f ? f->head->metric : NULL;
}

st_gauge_t *st_metrics_gauge(st_metrics_t *m, const char *name, const char *help) {
    st_metric_family_t *f = add_family(m, FAM_GAUGE, name, help, NULL, 0, NULL, 0);
    return f ? f->head->metric : NULL;
}

st_histogram_t *st_metrics_histogram(st_metrics_t *m, const char *name, const char *help,
                                     const double *bounds, size_t n_bounds) {
    st_metric_family_t *f = add_family(m, FAM_HISTOGRAM, name, help, NULL, 0, bounds, n_bounds);
    return f ? f->head->metric : NULL;
}

static int add_fn(st_metrics_t *m, fam_type_t type, const char *name, const char *help,
                  double (*fn)(void *user), void *user) {
    if (!fn) return RTC_ERR_INVALID_ARG;
    st_metric_family_t *f = add_family(m, type, name, help, NULL, 0, NULL, 0);
    if (!f) return RTC_ERR_INVALID_ARG;
    f->fn = fn;
    f->user = user;
    return RTC_OK;
}

int st_metrics_gauge_fn(st_metrics_t *m, const char *name, const char *help,
                        double (*fn)(void *user), void *user) {
    return add_fn(m, FAM_GAUGE_FN, name, help, fn, user);
}

int st_metrics_counter_fn(st_metrics_t *m, const char *name, const char *help,
                          double (*fn)(void *user), void *user) {
    return add_fn(m, FAM_COUNTER_FN, name, help, fn, user);
}

st_metric_family_t *st_metrics_counter_vec(st_metrics_t *m, const char *name, const char *help,
                                           const char *const *labels, size_t n_labels) {
    return add_family(m, FAM_COUNTER, name, help, labels, n_labels, NULL, 0);
}

st_metric_family_t *st_metrics_gauge_vec(st_metrics_t *m, const char *name, const char *help,
                                         const char *const *labels, size_t n_labels) {
    return add_family(m, FAM_GAUGE, name, help, labels, n_labels, NULL, 0);
}

st_metric_family_t *st_metrics_histogram_vec(st_metrics_t *m, const char *name,
                                             const char *help, const char *const *labels,
                                             size_t n_labels, const double *bounds,
                                             size_t n_bounds) {
    return add_family(m, FAM_HISTOGRAM, name, help, labels, n_labels, bounds, n_bounds);
}

static void *family_child(st_metric_family_t *f, fam_type_t type, const char *const *values) {
    if (!f || f->type != type) return NULL;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!values || !values[i]) return NULL;
    }
    pthread_mutex_lock(&f->mu);
    for (child_t *c = f->head; c; c = c->next) {
        size_t i = 0;
        while (i < f->nlabels && strcmp(c->values[i], values[i]) == 0) i++;
        if (i == f->nlabels) {
            pthread_mutex_unlock(&f->mu);
            return c->metric;
        }
    }
    child_t *c = calloc(1, sizeof *c);
    bool ok = c != NULL;
    if (ok && f->nlabels) {
        c->values = calloc(f->nlabels, sizeof *c->values);
        ok = c->values != NULL;
        for (size_t i = 0; ok && i < f->nlabels; i++) ok = (c->values[i] = strdup(values[i])) != NULL;
    }
    if (ok) ok = (c->metric = new_metric(f)) != NULL;
    if (!ok) {
        if (c) free_strv(c->values, f->nlabels);
        free(c);
        pthread_mutex_unlock(&f->mu);
        return NULL;
    }
    *f->tail = c;
    f->tail = &c->next;
    pthread_mutex_unlock(&f->mu);
    return c->metric;
}

st_counter_t *st_family_counter(st_metric_family_t *f, const char *const *values) {
    return family_child(f, FAM_COUNTER, values);
}
st_gauge_t *st_family_gauge(st_metric_family_t *f, const char *const *values) {
    return family_child(f, FAM_GAUGE, values);
}
st_histogram_t *st_family_histogram(st_metric_family_t *f, const char *const *values) {
    return family_child(f, FAM_HISTOGRAM, values);
}

/* ------------------------------------------------------------------------------------------
 * Rendering (text format 0.0.4).
 */
static int put_double(rtc_buf_t *b, double d) {
    if (isnan(d)) return rtc_buf_append_str(b, "NaN");
    if (isinf(d)) return rtc_buf_append_str(b, d > 0 ? "+Inf" : "-Inf");
    char tmp[40];
    st_format_double(tmp, sizeof tmp, d);
    return rtc_buf_append_str(b, tmp);
}

/* HELP text escapes backslash and newline; label values also escape the double quote.
 * Invalid UTF-8 (not allowed in the format) becomes U+FFFD. */
static int put_escaped(rtc_buf_t *b, const char *s, bool label) {
    int rc = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '\\') { rc |= rtc_buf_append(b, "\\\\", 2); p++; }
        else if (c == '\n') { rc |= rtc_buf_append(b, "\\n", 2); p++; }
        else if (c == '"' && label) { rc |= rtc_buf_append(b, "\\\"", 2); p++; }
        else if (c < 0x80) { rc |= rtc_buf_append(b, p, 1); p++; }
        else {
            /* Validate one UTF-8 sequence (RFC 3629). */
            size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            bool ok = len && c <= 0xF4;
            for (size_t i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
            if (ok && len == 3 && c == 0xE0 && p[1] < 0xA0) ok = false;
            if (ok && len == 3 && c == 0xED && p[1] > 0x9F) ok = false;
            if (ok && len == 4 && c == 0xF0 && p[1] < 0x90) ok = false;
            if (ok && len == 4 && c == 0xF4 && p[1] > 0x8F) ok = false;
            if (ok) { rc |= rtc_buf_append(b, p, len); p += len; }
            else { rc |= rtc_buf_append(b, "\xEF\xBF\xBD", 3); p++; }
        }
    }
    return rc ? RTC_ERR_NOMEM : RTC_OK;
}

/* name{l1="v1",...,extra} — `extra` is an already formatted pair such as le="0.5". */
static int put_series(rtc_buf_t *b, const st_metric_family_t *f, const char *suffix,
                      const child_t *c, const char *extra_name, double extra) {
    int rc = rtc_buf_append_str(b, f->name);
    rc |= rtc_buf_append_str(b, suffix);
    if (f->nlabels || extra_name) {
        rc |= rtc_buf_append_str(b, "{");
        for (size_t i = 0; i < f->nlabels; i++) {
            rc |= rtc_buf_appendf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
            rc |= put_escaped(b, c->values[i], true);
            rc |= rtc_buf_append_str(b, "\"");
        }
        if (extra_name) {
            rc |= rtc_buf_appendf(b, "%s%s=\"", f->nlabels ? "," : "", extra_name);
            rc |= put_double(b, extra);
            rc |= rtc_buf_append_str(b, "\"");
        }
        rc |= rtc_buf_append_str(b, "}");
    }
    rc |= rtc_buf_append_str(b, " ");
    return rc ? RTC_ERR_NOMEM : RTC_OK;
}

static int render_family(rtc_buf_t *b, st_metric_family_t *f) {
    static const char *const type_names[] = {"counter", "gauge", "histogram", "gauge", "counter"};
    int rc = rtc_buf_appendf(b, "# HELP %s ", f->name);
    rc |= put_escaped(b, f->help, false);
    rc |= rtc_buf_appendf(b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    if (f->type == FAM_GAUGE_FN || f->type == FAM_COUNTER_FN) {
        rc |= rtc_buf_appendf(b, "%s ", f->name);
        rc |= put_double(b, f->fn(f->user));
        rc |= rtc_buf_append_str(b, "\n");
        return rc ? RTC_ERR_NOMEM : RTC_OK;
    }
    pthread_mutex_lock(&f->mu);
    for (child_t *c = f->head; c && !rc; c = c->next) {
        if (f->type == FAM_COUNTER) {
            rc |= put_series(b, f, "", c, NULL, 0);
            rc |= rtc_buf_appendf(b, "%llu\n", (unsigned long long)st_counter_value(c->metric));
        } else if (f->type == FAM_GAUGE) {
            rc |= put_series(b, f, "", c, NULL, 0);
            rc |= put_double(b, st_gauge_value(c->metric));
            rc |= rtc_buf_append_str(b, "\n");
        } else {
            /* Read each bucket once and derive the count from them, so that the +Inf bucket
             * and _count agree even while other threads observe. */
            st_histogram_t *h = c->metric;
            uint64_t cum = 0;
            for (size_t i = 0; i <= h->nb; i++) {
                cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
                rc |= put_series(b, f, "_bucket", c, "le", i < h->nb ? h->bounds[i] : INFINITY);
                rc |= rtc_buf_appendf(b, "%llu\n", (unsigned long long)cum);
            }
            rc |= put_series(b, f, "_sum", c, NULL, 0);
            rc |= put_double(b, u2d(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
            rc |= rtc_buf_append_str(b, "\n");
            rc |= put_series(b, f, "_count", c, NULL, 0);
            rc |= rtc_buf_appendf(b, "%llu\n", (unsigned long long)cum);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc ? RTC_ERR_NOMEM : RTC_OK;
}

int st_metrics_render(st_metrics_t *m, rtc_buf_t *out) {
    if (!m || !out) return RTC_ERR_INVALID_ARG;
    int rc = RTC_OK;
    pthread_mutex_lock(&m->mu);
    for (st_metric_family_t *f = m->head; f && rc == RTC_OK; f = f->next) rc = render_family(out, f);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Process metrics, from /proc like Prometheus' own client libraries.
 */
static double process_start_time(void) {
    /* Field 22 of /proc/self/stat is the start time in clock ticks after boot; btime in
     * /proc/stat is boot time in seconds since the epoch. */
    double result = (double)rtc_clock_wall_us() / 1e6;
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return result;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p) return result;
    unsigned long long start_ticks = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 22) { start_ticks = strtoull(tok, NULL, 10); break; }
    }
    f = fopen("/proc/stat", "r");
    if (!f) return result;
    char line[256];
    unsigned long long btime = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    }
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (btime && hz > 0 && start_ticks) result = (double)btime + (double)start_ticks / (double)hz;
    return result;
}

static double start_time_fn(void *user) { return *(double *)user; }

static double cpu_seconds_fn(void *user) {
    (void)user;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return NAN;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double rss_fn(void *user) {
    (void)user;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return NAN;
    unsigned long long size, rss;
    int n = fscanf(f, "%llu %llu", &size, &rss);
    fclose(f);
    return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : NAN;
}

static double open_fds_fn(void *user) {
    (void)user;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return NAN;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

int st_metrics_add_process(st_metrics_t *m) {
    static double start_time;
    start_time = process_start_time();
    int rc = st_metrics_gauge_fn(m, "process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.",
                                 start_time_fn, &start_time);
    if (rc == RTC_OK)
        rc = st_metrics_counter_fn(m, "process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.",
                                 cpu_seconds_fn, NULL);
    if (rc == RTC_OK)
        rc = st_metrics_gauge_fn(m, "process_resident_memory_bytes",
                                 "Resident memory size in bytes.", rss_fn, NULL);
    if (rc == RTC_OK)
        rc = st_metrics_gauge_fn(m, "process_open_fds", "Number of open file descriptors.",
                                 open_fds_fn, NULL);
    return rc;
}
