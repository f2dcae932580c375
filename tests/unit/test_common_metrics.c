/* common/metrics: the exact text exposition for simple cases, escaping, histogram
 * invariants, thread-safe sharded counters, and the whole rendering read back by an
 * independent parser — prometheus_client's text parser (Debian python3-prometheus-client),
 * run under /usr/bin/python3. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/metrics.h"

static char *render(st_metrics_t *m) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(st_metrics_render(m, &b), RTC_OK);
    rtc_buf_append(&b, "", 0);
    return (char *)b.data;
}

START_TEST(text_exposition_matches_the_format_exactly) {
    st_metrics_t *m = st_metrics_new();
    st_counter_t *c = st_metrics_counter(m, "turn_allocations_total", "Allocations made.");
    st_gauge_t *g = st_metrics_gauge(m, "turn_allocations", "Allocations alive.\nSecond line \\.");
    static const double b[] = {0.1, 0.5, 2};
    st_histogram_t *h = st_metrics_histogram(m, "redis_command_seconds", "Latency.", b, 3);
    st_counter_add(c, 41);
    st_counter_inc(c);
    st_gauge_set(g, 3);
    st_gauge_add(g, -0.5);
    st_histogram_observe(h, 0.1); /* le is inclusive: lands in 0.1 */
    st_histogram_observe(h, 0.3);
    st_histogram_observe(h, 5);
    char *text = render(m);
    const char *want =
        "# HELP turn_allocations_total Allocations made.\n"
        "# TYPE turn_allocations_total counter\n"
        "turn_allocations_total 42\n"
        "# HELP turn_allocations Allocations alive.\\nSecond line \\\\.\n"
        "# TYPE turn_allocations gauge\n"
        "turn_allocations 2.5\n"
        "# HELP redis_command_seconds Latency.\n"
        "# TYPE redis_command_seconds histogram\n"
        "redis_command_seconds_bucket{le=\"0.1\"} 1\n"
        "redis_command_seconds_bucket{le=\"0.5\"} 2\n"
        "redis_command_seconds_bucket{le=\"2\"} 2\n"
        "redis_command_seconds_bucket{le=\"+Inf\"} 3\n"
        "redis_command_seconds_sum 5.4\n"
        "redis_command_seconds_count 3\n";
    ck_assert_str_eq(text, want);
    free(text);
    st_metrics_free(m);
}
END_TEST

START_TEST(names_are_validated_and_duplicates_refused) {
    st_metrics_t *m = st_metrics_new();
    ck_assert_ptr_null(st_metrics_counter(m, "9starts_with_digit", "x"));
    ck_assert_ptr_null(st_metrics_counter(m, "has-dash", "x"));
    ck_assert_ptr_null(st_metrics_counter(m, "", "x"));
    ck_assert_ptr_nonnull(st_metrics_counter(m, "ns:sub_total", "colons are fine"));
    ck_assert_ptr_null(st_metrics_gauge(m, "ns:sub_total", "duplicate"));
    static const char *const bad_label[] = {"__reserved"};
    ck_assert_ptr_null(st_metrics_counter_vec(m, "a_total", "x", bad_label, 1));
    static const char *const le[] = {"le"};
    static const double b[] = {1};
    ck_assert_ptr_null(st_metrics_histogram_vec(m, "h", "x", le, 1, b, 1));
    static const double unsorted[] = {1, 0.5};
    ck_assert_ptr_null(st_metrics_histogram(m, "h2", "x", unsorted, 2));
    /* Operations on NULL (a metric that failed to register) are harmless no-ops. */
    st_counter_inc(NULL);
    st_gauge_set(NULL, 1);
    st_histogram_observe(NULL, 1);
    ck_assert_ptr_null(st_family_counter(NULL, NULL));
    /* A family hands out only its own type. */
    static const char *const w[] = {"worker"};
    st_metric_family_t *f = st_metrics_counter_vec(m, "pkts_total", "x", w, 1);
    const char *v0[] = {"0"};
    ck_assert_ptr_null(st_family_gauge(f, v0));
    ck_assert_ptr_nonnull(st_family_counter(f, v0));
    ck_assert_ptr_eq(st_family_counter(f, v0), st_family_counter(f, v0));
    st_metrics_free(m);
}
END_TEST

#define THREADS 8
#define ADDS 200000

typedef struct {
    st_counter_t *c;
    st_gauge_t *g;
    st_histogram_t *h;
} shared_t;

static void *hammer(void *arg) {
    shared_t *s = arg;
    for (int i = 0; i < ADDS; i++) {
        st_counter_inc(s->c);
        if (i % 10 == 0) st_gauge_add(s->g, 1);
        if (i % 100 == 0) st_histogram_observe(s->h, 0.001 * (i % 7));
    }
    return NULL;
}

START_TEST(concurrent_updates_are_never_lost) {
    st_metrics_t *m = st_metrics_new();
    shared_t s = {st_metrics_counter(m, "hits_total", "x"), st_metrics_gauge(m, "level", "x"),
                  st_metrics_histogram(m, "lat_seconds", "x", st_metrics_latency_buckets,
                                       st_metrics_latency_buckets_n)};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, hammer, &s);
    /* Rendering while writers run must be safe and self-consistent. */
    for (int i = 0; i < 20; i++) free(render(m));
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    ck_assert_uint_eq(st_counter_value(s.c), (uint64_t)THREADS * ADDS);
    ck_assert(st_gauge_value(s.g) == (double)THREADS * ADDS / 10);
    ck_assert_uint_eq(st_histogram_count(s.h), (uint64_t)THREADS * ADDS / 100);
    st_metrics_free(m);
}
END_TEST

static double answer(void *user) { return *(double *)user; }

/* Renders a registry with every kind of metric, has prometheus_client parse it, and
 * compares the samples it saw with what was recorded. */
START_TEST(independent_parser_reads_back_every_sample) {
    st_metrics_t *m = st_metrics_new();
    ck_assert_int_eq(st_metrics_add_process(m), RTC_OK);
    static const char *const labels[] = {"worker", "proto"};
    st_metric_family_t *pk = st_metrics_counter_vec(m, "sfu_packets_total", "Packets forwarded.",
                                                    labels, 2);
    const char *w0[] = {"0", "udp"}, *w1[] = {"1", "tcp"};
    const char *weird[] = {"quote\" back\\ nl\n", "utf8 \xC3\xA9 bad \xFF"};
    st_counter_add(st_family_counter(pk, w0), 1000);
    st_counter_add(st_family_counter(pk, w1), 7);
    st_counter_add(st_family_counter(pk, weird), 3);
    static const char *const one[] = {"room"};
    st_metric_family_t *gv = st_metrics_gauge_vec(m, "sfu_room_participants", "People.", one, 1);
    const char *r1[] = {"lobby"};
    st_gauge_set(st_family_gauge(gv, r1), 12);
    st_metric_family_t *hv = st_metrics_histogram_vec(m, "http_latency_seconds", "Latency.", one,
                                                      1, st_metrics_latency_buckets,
                                                      st_metrics_latency_buckets_n);
    st_histogram_t *h = st_family_histogram(hv, r1);
    for (int i = 0; i < 10; i++) st_histogram_observe(h, 0.002 * i);
    double fortytwo = 42;
    st_metrics_gauge_fn(m, "computed_value", "From a callback.", answer, &fortytwo);
    st_gauge_set(st_metrics_gauge(m, "special_values", "Infinity."), INFINITY);

    char *text = render(m);
    char path[] = "/tmp/st_metrics_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(text);

    /* One line per sample: name|label=value,...|value (labels sorted). */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import sys\n"
             "from prometheus_client.parser import text_string_to_metric_families\n"
             "for fam in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
             "    for s in fam.samples:\n"
             "        lab = \",\".join(k + \"=\" + repr(v) for k, v in sorted(s.labels.items()))\n"
             "        print(fam.type + \"|\" + s.name + \"|\" + lab + \"|\" + repr(s.value))\n"
             "' %s 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    unlink(path);
    ck_assert_msg(status == 0, "prometheus_client could not parse our output "
                               "(is python3-prometheus-client installed?):\n%s", out);

    static const char *const expect[] = {
        "counter|sfu_packets_total|proto='udp',worker='0'|1000.0\n",
        "counter|sfu_packets_total|proto='tcp',worker='1'|7.0\n",
        "counter|sfu_packets_total|proto='utf8 \xC3\xA9 bad \xEF\xBF\xBD',worker='quote\" back\\\\ nl\\n'|3.0\n",
        "gauge|sfu_room_participants|room='lobby'|12.0\n",
        "histogram|http_latency_seconds_bucket|le='0.0025',room='lobby'|2.0\n",
        "histogram|http_latency_seconds_bucket|le='0.01',room='lobby'|6.0\n", /* le inclusive */
        "histogram|http_latency_seconds_bucket|le='10',room='lobby'|10.0\n",
        "histogram|http_latency_seconds_bucket|le='0.025',room='lobby'|10.0\n",
        "histogram|http_latency_seconds_bucket|le='+Inf',room='lobby'|10.0\n",
        "histogram|http_latency_seconds_count|room='lobby'|10.0\n",
        "gauge|computed_value||42.0\n",
        "gauge|special_values||inf\n",
        "counter|process_cpu_seconds_total||",
        "gauge|process_open_fds||",
        "gauge|process_resident_memory_bytes||",
        "gauge|process_start_time_seconds||",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_msg(strstr(out, expect[i]), "parser output lacks \"%s\":\n%s", expect[i], out);
    /* sum of 0.002 * (0..9) = 0.09 */
    const char *sum = strstr(out, "histogram|http_latency_seconds_sum|room='lobby'|");
    ck_assert_ptr_nonnull(sum);
    ck_assert(fabs(strtod(sum + strlen("histogram|http_latency_seconds_sum|room='lobby'|"), NULL) - 0.09) < 1e-12);
    const char *start = strstr(out, "gauge|process_start_time_seconds||");
    double started = strtod(start + strlen("gauge|process_start_time_seconds||"), NULL);
    double now = (double)rtc_clock_wall_us() / 1e6;
    ck_assert_msg(started <= now + 1 && started > now - 3600, "start time %f vs now %f", started, now);
    const char *fds = strstr(out, "gauge|process_open_fds||");
    ck_assert_double_ge(strtod(fds + strlen("gauge|process_open_fds||"), NULL), 3);
    st_metrics_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, text_exposition_matches_the_format_exactly);
    tcase_add_test(tc, names_are_validated_and_duplicates_refused);
    tcase_add_test(tc, concurrent_updates_are_never_lost);
    tcase_add_test(tc, independent_parser_reads_back_every_sample);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
