/* Signal watchers on the libuv loop (libuv turns the signal into a loop event through its
 * self-pipe, so our callbacks are ordinary loop callbacks). */
#include "common/signals.h"

#include <signal.h>
#include <stdlib.h>

#include "rtc/base.h"

enum { SIG_TERM, SIG_INT, SIG_HUP, SIG_COUNT };

struct st_signals {
    uv_signal_t w[SIG_COUNT];
    st_signals_callbacks_t cb;
    unsigned drain_count;
    int open_handles;
};

static void on_signal(uv_signal_t *h, int signum) {
    st_signals_t *s = h->data;
    if (signum == SIGHUP) {
        if (s->cb.on_reload) {
            RTC_LOGI("signals", "SIGHUP: reloading configuration");
            s->cb.on_reload(s->cb.user);
        } else {
            RTC_LOGI("signals", "SIGHUP ignored: this service has nothing to reload");
        }
        return;
    }
    s->drain_count++;
    RTC_LOGI("signals", "%s received (%u): %s", signum == SIGTERM ? "SIGTERM" : "SIGINT",
             s->drain_count, s->drain_count == 1 ? "draining" : "draining again");
    if (s->cb.on_drain) s->cb.on_drain(signum, s->drain_count, s->cb.user);
}

static void on_closed(uv_handle_t *h) {
    st_signals_t *s = h->data;
    if (--s->open_handles == 0) free(s);
}

st_signals_t *st_signals_new(uv_loop_t *loop, const st_signals_callbacks_t *cb) {
    static const int signums[SIG_COUNT] = {SIGTERM, SIGINT, SIGHUP};
    st_signals_t *s = calloc(1, sizeof *s);
    if (!s || !loop) {
        free(s);
        return NULL;
    }
    if (cb) s->cb = *cb;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < SIG_COUNT; i++) {
        int rc = uv_signal_init(loop, &s->w[i]);
        if (rc == 0) {
            s->w[i].data = s;
            s->open_handles++;
            rc = uv_signal_start(&s->w[i], on_signal, signums[i]);
        }
        if (rc != 0) {
            RTC_LOGE("signals", "cannot watch signal %d: %s", signums[i], uv_strerror(rc));
            if (s->open_handles == 0) {
                free(s);
                return NULL;
            }
            st_signals_close(s);
            return NULL;
        }
    }
    return s;
}

void st_signals_close(st_signals_t *s) {
    if (!s) return;
    int n = s->open_handles;
    for (int i = 0; i < n; i++) {
        if (!uv_is_closing((uv_handle_t *)&s->w[i])) uv_close((uv_handle_t *)&s->w[i], on_closed);
    }
}
