/* common/signals: real signals sent to this process arrive as loop callbacks — SIGHUP as
 * reload, SIGTERM/SIGINT as drain with a running count — SIGHUP without a reload handler does
 * not kill, SIGPIPE is ignored, and a drain that stops an HTTP server lets the loop end with
 * every handle closed (the pattern services use for graceful shutdown). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/health.h"
#include "common/http.h"
#include "common/signals.h"

typedef struct {
    st_signals_t *sig;
    int reloads;
    int drains;
    int last_signum;
    unsigned last_count;
    int step;
    uv_timer_t timer;
    st_http_server_t *srv;
    st_health_t *health;
} state_t;

static void on_reload(void *user) {
    state_t *s = user;
    s->reloads++;
}

static void on_drain(int signum, unsigned count, void *user) {
    state_t *s = user;
    s->drains++;
    s->last_signum = signum;
    s->last_count = count;
    if (count == 2) {
        st_signals_close(s->sig);
        uv_close((uv_handle_t *)&s->timer, NULL);
    }
}

/* Sends one signal per tick so each is delivered on its own. */
static void send_next(uv_timer_t *t) {
    state_t *s = t->data;
    static const int seq[] = {SIGHUP, SIGHUP, SIGTERM, SIGINT};
    if (s->step < 4) kill(getpid(), seq[s->step++]);
}

START_TEST(signals_become_reload_and_drain_callbacks) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t s = {0};
    st_signals_callbacks_t cb = {on_drain, on_reload, &s};
    s.sig = st_signals_new(&loop, &cb);
    ck_assert_ptr_nonnull(s.sig);
    uv_timer_init(&loop, &s.timer);
    s.timer.data = &s;
    uv_timer_start(&s.timer, send_next, 20, 20);
    uv_run(&loop, UV_RUN_DEFAULT); /* ends when the second drain closes everything */
    ck_assert_int_eq(s.reloads, 2);
    ck_assert_int_eq(s.drains, 2);
    ck_assert_int_eq(s.last_signum, SIGINT);
    ck_assert_uint_eq(s.last_count, 2);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void close_timer(uv_timer_t *t) { uv_close((uv_handle_t *)t, NULL); }

START_TEST(sighup_without_reload_handler_does_not_kill_and_sigpipe_is_ignored) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    st_signals_t *sig = st_signals_new(&loop, NULL);
    ck_assert_ptr_nonnull(sig);
    kill(getpid(), SIGHUP); /* default action would terminate the process */
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, close_timer, 50, 0);
    uv_run(&loop, UV_RUN_ONCE);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    ck_assert_int_eq(write(p[1], "x", 1), -1); /* EPIPE, not death by SIGPIPE */
    ck_assert_int_eq(errno, EPIPE);
    close(p[1]);
    st_signals_close(sig);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void hello(const st_http_request_t *req, st_http_response_t *res, void *user) {
    (void)req;
    (void)user;
    st_http_reply_text(res, 200, "hi");
}

static void graceful(int signum, unsigned count, void *user) {
    (void)signum;
    (void)count;
    state_t *s = user;
    s->drains++;
    /* What a service does on SIGTERM: report draining, stop accepting, finish, close. */
    st_health_set_draining(s->health, true);
    st_http_server_stop_listening(s->srv);
    st_http_server_close(s->srv);
    st_signals_close(s->sig);
}

static void send_term(uv_timer_t *t) {
    kill(getpid(), SIGTERM);
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(sigterm_drains_a_server_and_the_loop_ends_clean) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t s = {0};
    s.health = st_health_new("test");
    s.srv = st_http_server_new(&loop, NULL);
    st_http_add_standard_routes(s.srv, s.health, NULL);
    st_http_server_route(s.srv, "GET", "/", hello, NULL);
    rtc_addr_t a;
    rtc_addr_parse(&a, "127.0.0.1:0", 0);
    ck_assert_int_eq(st_http_server_listen(s.srv, &a), RTC_OK);
    st_signals_callbacks_t cb = {graceful, NULL, &s};
    s.sig = st_signals_new(&loop, &cb);
    uv_timer_init(&loop, &s.timer);
    uv_timer_start(&s.timer, send_term, 20, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(s.drains, 1);
    ck_assert(!st_health_ok(s.health));
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    st_health_free(s.health);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_signals");
    TCase *tc = tcase_create("signals");
    tcase_add_test(tc, signals_become_reload_and_drain_callbacks);
    tcase_add_test(tc, sighup_without_reload_handler_does_not_kill_and_sigpipe_is_ignored);
    tcase_add_test(tc, sigterm_drains_a_server_and_the_loop_ends_clean);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
