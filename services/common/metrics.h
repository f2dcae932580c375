/*
 * common/metrics.h — Prometheus metrics: counters, gauges and histograms, plain or labelled,
 * rendered in the text exposition format (version 0.0.4) for GET /metrics.
 *
 * Hot paths only touch atomics. A counter is split into cache-line-sized shards and each
 * thread adds to its own shard (chosen once per thread), so worker threads counting packets
 * never bounce a cache line between cores; rendering sums the shards. Gauges are one atomic
 * double. Histogram buckets are atomic counters (not sharded: observe latencies, not
 * packets).
 *
 * Registration and labelled-child lookup take a mutex and allocate: do them at start-up or
 * once per worker/room and keep the returned pointer; never look a child up per packet.
 * Metric objects live as long as the registry; st_metrics_free() frees them all.
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]* (not
 * starting with "__"; "le" is reserved for histograms). Counters should end in _total and
 * durations be in seconds, as Prometheus conventions ask. Invalid names or a second
 * registration of a name make the register call return NULL (and log why); the add/set
 * functions accept NULL and do nothing, so a typo loses a metric, never a service.
 */
#ifndef STARLING_COMMON_METRICS_H
#define STARLING_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ST_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct st_metrics st_metrics_t;
typedef struct st_counter st_counter_t;
typedef struct st_gauge st_gauge_t;
typedef struct st_histogram st_histogram_t;
typedef struct st_metric_family st_metric_family_t;

/* Bucket bounds (seconds) suited to request/command latency: 0.5 ms .. 10 s. */
extern const double st_metrics_latency_buckets[];
extern const size_t st_metrics_latency_buckets_n;

st_metrics_t *st_metrics_new(void);
void st_metrics_free(st_metrics_t *m);

/* Unlabelled metrics. Return NULL on an invalid or duplicate name or out of memory. */
st_counter_t *st_metrics_counter(st_metrics_t *m, const char *name, const char *help);
st_gauge_t *st_metrics_gauge(st_metrics_t *m, const char *name, const char *help);
/* bounds: strictly increasing finite upper bounds; +Inf is implied. Copied. */
st_histogram_t *st_metrics_histogram(st_metrics_t *m, const char *name, const char *help,
                                     const double *bounds, size_t n_bounds);
/* A gauge whose value is computed by fn(user) at render time (on the rendering thread). */
int st_metrics_gauge_fn(st_metrics_t *m, const char *name, const char *help,
                        double (*fn)(void *user), void *user);
/* The same for a counter kept elsewhere (e.g. by the kernel); fn must never decrease. */
int st_metrics_counter_fn(st_metrics_t *m, const char *name, const char *help,
                          double (*fn)(void *user), void *user);

/* Labelled families. `labels` are the label names (copied). */
st_metric_family_t *st_metrics_counter_vec(st_metrics_t *m, const char *name, const char *help,
                                           const char *const *labels, size_t n_labels);
st_metric_family_t *st_metrics_gauge_vec(st_metrics_t *m, const char *name, const char *help,
                                         const char *const *labels, size_t n_labels);
st_metric_family_t *st_metrics_histogram_vec(st_metrics_t *m, const char *name,
                                             const char *help, const char *const *labels,
                                             size_t n_labels, const double *bounds,
                                             size_t n_bounds);
/* The child for one combination of label values (n_labels of them, any UTF-8), created on
 * first use. NULL if the family is of another type, f is NULL, or out of memory. */
st_counter_t *st_family_counter(st_metric_family_t *f, const char *const *values);
st_gauge_t *st_family_gauge(st_metric_family_t *f, const char *const *values);
st_histogram_t *st_family_histogram(st_metric_family_t *f, const char *const *values);

/* Hot-path operations: lock-free, safe from any thread, NULL-tolerant. */
void st_counter_add(st_counter_t *c, uint64_t n);
static inline void st_counter_inc(st_counter_t *c) { st_counter_add(c, 1); }
uint64_t st_counter_value(const st_counter_t *c);
void st_gauge_set(st_gauge_t *g, double v);
void st_gauge_add(st_gauge_t *g, double delta);
double st_gauge_value(const st_gauge_t *g);
void st_histogram_observe(st_histogram_t *h, double v);
/* Observations so far (the +Inf bucket). */
uint64_t st_histogram_count(const st_histogram_t *h);

/* Registers process_start_time_seconds, process_cpu_seconds_total,
 * process_resident_memory_bytes and process_open_fds (Prometheus' standard names). */
int st_metrics_add_process(st_metrics_t *m);

/* Appends the text exposition of every metric, in registration order. Returns RTC_OK or
 * RTC_ERR_NOMEM. Safe while other threads update metrics. */
int st_metrics_render(st_metrics_t *m, rtc_buf_t *out);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_COMMON_METRICS_H */
