/* Cross-implementation interop: our association (usrsctp) against aiortc's RTCSctpTransport,
 * a pure-Python SCTP + DCEP implementation nobody here wrote. aiortc runs in a child process
 * (/usr/bin/python3 tests/unit/sctp_aiortc_peer.py) and SCTP packets cross two pipes, so no
 * network is used and DTLS is left out (both stacks take and give plain SCTP packets). Real
 * time drives both sides. Proves: handshake in both DTLS roles (including an INIT collision
 * when aiortc also initiates), CRC32c on our output, in-band channels both ways, negotiated
 * channels, string/binary/empty messages and 60 KB messages, closing by stream reset from
 * either side. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rtc/sctp.h"

typedef struct {
    rtc_dc_t *dc;
    char label[64];
    size_t msgs, strings, binaries, empties;
    bool opened, closed;
    char last[128];
    size_t big_ok;
    bool got_hello, got_bin;
} ichan_t;

static struct {
    pid_t pid;
    int to_py, from_py;
    uint8_t rbuf[1 << 20];
    size_t rlen;
    rtc_sctp_t *a;
    ichan_t ch[8];
    int nch;
    int states[4];
} I;

static uint8_t g_big[60000];

static void on_packet(void *user, const uint8_t *p, size_t n) {
    (void)user;
    uint8_t hdr[4];
    rtc_put_be32(hdr, (uint32_t)n);
    if (write(I.to_py, hdr, 4) != 4 || write(I.to_py, p, n) != (ssize_t)n)
        fprintf(stderr, "write to aiortc failed: %d\n", errno);
}

static ichan_t *chan_of(rtc_dc_t *dc) {
    for (int i = 0; i < I.nch; i++)
        if (I.ch[i].dc == dc) return &I.ch[i];
    return NULL;
}

static void on_open(void *user, rtc_dc_t *dc) {
    (void)user;
    ichan_t *c = chan_of(dc);
    if (c) c->opened = true;
}

static void on_message(void *user, rtc_dc_t *dc, const uint8_t *p, size_t n, bool is_string) {
    (void)user;
    ichan_t *c = chan_of(dc);
    if (!c) return;
    c->msgs++;
    if (n == 0) c->empties++;
    else if (is_string) c->strings++;
    else c->binaries++;
    size_t k = n < sizeof c->last - 1 ? n : sizeof c->last - 1;
    if (k) memcpy(c->last, p, k);
    c->last[k] = 0;
    if (is_string && n == 17 && memcmp(p, "hello from aiortc", 17) == 0) c->got_hello = true;
    if (!is_string && n == 8 && memcmp(p, "\x00\x01" "binary", 8) == 0) c->got_bin = true;
    if (!is_string && n == sizeof g_big && memcmp(p, g_big, n) == 0) c->big_ok++;
}

static void on_close(void *user, rtc_dc_t *dc) {
    (void)user;
    ichan_t *c = chan_of(dc);
    if (c) {
        c->closed = true;
        c->dc = NULL;
    }
}

static const rtc_dc_callbacks_t dc_cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};

static ichan_t *track(rtc_dc_t *dc) {
    ichan_t *c = &I.ch[I.nch++];
    memset(c, 0, sizeof *c);
    c->dc = dc;
    snprintf(c->label, sizeof c->label, "%s", rtc_dc_label(dc));
    rtc_dc_set_callbacks(dc, &dc_cb, NULL);
    return c;
}

static void on_datachannel(void *user, rtc_dc_t *dc) {
    (void)user;
    track(dc);
}

static void on_state(void *user, rtc_sctp_state_t st, int reason) {
    (void)user;
    (void)reason;
    I.states[st]++;
}

static void spawn_peer(const char *mode) {
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    const char *src = getenv("SRC_DIR");
    ck_assert_msg(src != NULL, "SRC_DIR not set (run through ctest)");
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/unit/sctp_aiortc_peer.py", src);
    ck_assert_msg(access("/usr/bin/python3", X_OK) == 0, "needs /usr/bin/python3 with python3-aiortc");
    I.pid = fork();
    ck_assert_int_ge(I.pid, 0);
    if (I.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", script, mode, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    I.to_py = in[1];
    I.from_py = out[0];
    signal(SIGPIPE, SIG_IGN);
}

static void stop_peer(void) {
    close(I.to_py); /* EOF: the driver stops its transport and exits */
    int status = 0;
    for (int i = 0; i < 50; i++) {
        if (waitpid(I.pid, &status, WNOHANG) == I.pid) {
            I.pid = 0;
            break;
        }
        usleep(100000);
    }
    if (I.pid > 0) {
        kill(I.pid, SIGKILL);
        waitpid(I.pid, &status, 0);
    }
    close(I.from_py);
}

/* Runs both sides in real time until cond() or the deadline (seconds). */
static bool pump(double seconds, bool (*cond)(void)) {
    rtc_time_t end = rtc_clock_now() + (rtc_time_t)(seconds * 1e6);
    for (;;) {
        if (cond && cond()) return true;
        rtc_time_t now = rtc_clock_now();
        if (now >= end) return cond ? cond() : true;
        rtc_time_t next = rtc_sctp_next_timeout(I.a);
        if (next > end) next = end;
        int wait_ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
        struct pollfd pfd = {.fd = I.from_py, .events = POLLIN};
        int r = poll(&pfd, 1, wait_ms);
        now = rtc_clock_now();
        if (r > 0) {
            ssize_t n = read(I.from_py, I.rbuf + I.rlen, sizeof I.rbuf - I.rlen);
            if (n <= 0) {
                fprintf(stderr, "aiortc peer exited\n");
                return cond ? cond() : false;
            }
            I.rlen += (size_t)n;
            size_t off = 0;
            while (I.rlen - off >= 4) {
                uint32_t len = rtc_be32(I.rbuf + off);
                if (I.rlen - off - 4 < len) break;
                rtc_sctp_handle_packet(I.a, I.rbuf + off + 4, len, now);
                off += 4 + len;
            }
            memmove(I.rbuf, I.rbuf + off, I.rlen - off);
            I.rlen -= off;
        }
        if (rtc_sctp_next_timeout(I.a) <= now) rtc_sctp_handle_timeout(I.a, now);
    }
}

static ichan_t *find(const char *label) {
    for (int i = 0; i < I.nch; i++)
        if (strcmp(I.ch[i].label, label) == 0) return &I.ch[i];
    return NULL;
}

static bool connected(void) { return rtc_sctp_state(I.a) == RTC_SCTP_STATE_CONNECTED; }
static bool py_chan_done(void) {
    ichan_t *p = find("py-chan");
    return p && p->got_hello && p->got_bin && p->empties == 1;
}
static bool echoes_done(void) {
    ichan_t *c = find("c-chan"), *n = find("neg");
    return c && n && c->strings >= 2 && c->binaries >= 1 && c->empties >= 2 && c->big_ok >= 2 &&
           n->strings >= 1;
}
static bool c_chan_closed(void) { return find("c-chan")->closed; }
static bool py_chan_closed(void) { return find("py-chan")->closed; }

static void run_scenario(bool our_dtls_client) {
    rtc_log_set_level(getenv("SCTP_LOG") ? RTC_LOG_DEBUG : RTC_LOG_WARN);
    memset(&I, 0, sizeof I);
    for (size_t i = 0; i < sizeof g_big; i++) g_big[i] = (uint8_t)(i * 13 + 1);
    spawn_peer(our_dtls_client ? "server" : "client");
    rtc_sctp_config_t cfg;
    rtc_sctp_config_init(&cfg);
    cfg.dtls_client = our_dtls_client;
    cfg.cb.on_packet = on_packet;
    cfg.cb.on_state = on_state;
    cfg.cb.on_datachannel = on_datachannel;
    cfg.remote_max_message_size = 262144; /* what the driver advertises */
    ck_assert_int_eq(rtc_sctp_create(&cfg, &I.a), RTC_OK);

    rtc_dc_t *c = NULL, *n = NULL;
    ck_assert_int_eq(rtc_sctp_create_channel(I.a, "c-chan", NULL, &c), RTC_OK);
    ck_assert_int_eq(rtc_dc_id(c), our_dtls_client ? 0 : 1);
    track(c);
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.negotiated = true;
    init.id = 6;
    ck_assert_int_eq(rtc_sctp_create_channel(I.a, "neg", &init, &n), RTC_OK);
    track(n);

    ck_assert_int_eq(rtc_sctp_connect(I.a, rtc_clock_now()), RTC_OK);
    ck_assert_msg(pump(15, connected), "association with aiortc did not come up");

    /* aiortc's channel arrives in-band with its parity and sends three messages */
    ck_assert_msg(pump(10, py_chan_done), "aiortc's channel or its messages did not arrive");
    ichan_t *py = find("py-chan");
    ck_assert_int_eq(rtc_dc_id(py->dc) % 2, our_dtls_client ? 1 : 0);
    ck_assert_str_eq(rtc_dc_protocol(py->dc), "py-proto");
    ck_assert(py->opened);

    /* aiortc echoes what we send on our in-band channel (after decoding our OPEN) and on the
     * negotiated one */
    ck_assert(find("c-chan")->opened && find("neg")->opened);
    ck_assert_int_eq(rtc_dc_send(c, "echo me", 7, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, "\xc3\xa9t\xc3\xa9", 6, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, "\x01\x02\x03", 3, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, NULL, 0, true), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, NULL, 0, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, g_big, sizeof g_big, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(c, g_big, sizeof g_big, false), RTC_OK);
    ck_assert_int_eq(rtc_dc_send(n, "neg-msg", 7, true), RTC_OK);
    ck_assert_msg(pump(20, echoes_done), "echoes from aiortc incomplete");
    ichan_t *cc = find("c-chan");
    ck_assert_uint_eq(cc->strings, 2);
    ck_assert_uint_eq(cc->empties, 2);
    ck_assert_uint_eq(cc->big_ok, 2);
    ck_assert_str_eq(find("neg")->last, "neg-msg");

    /* aiortc closes c-chan on request (its stream reset; we reset ours back) */
    ck_assert_int_eq(rtc_dc_send(c, "close-please", 12, true), RTC_OK);
    ck_assert_msg(pump(10, c_chan_closed), "c-chan not closed after aiortc reset it");
    /* we close aiortc's channel: aiortc resets its side in answer */
    rtc_dc_close(py->dc);
    ck_assert_msg(pump(10, py_chan_closed), "py-chan not closed after our reset");
    ck_assert_int_eq(I.states[RTC_SCTP_STATE_CLOSED], 0);

    rtc_sctp_destroy(I.a);
    stop_peer();
}

START_TEST(test_aiortc_as_dtls_server) { run_scenario(true); }
END_TEST

START_TEST(test_aiortc_as_dtls_client) { run_scenario(false); }
END_TEST

int main(void) {
    Suite *s = suite_create("sctp_aiortc");
    TCase *tc = tcase_create("interop");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_aiortc_as_dtls_server);
    tcase_add_test(tc, test_aiortc_as_dtls_client);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
