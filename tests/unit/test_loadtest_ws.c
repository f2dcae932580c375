/* The loadtest's WebSocket client (loadtest/ws.c): the codec against RFC 6455's own examples
 * (§1.3 handshake, §5.7 frames), its refusals, and the libuv client against an implementation
 * nobody here wrote — Python's `websockets` (tests/unit/loadtest/ws_peer.py) over loopback:
 * fragmented messages, a server ping, a 100 kB message (64-bit length form both ways) and
 * the server's close code. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "ws.h"

/* ---- handshake -------------------------------------------------------------------------- */

START_TEST(accept_key_matches_rfc_example) {
    char out[29];
    ck_assert_int_eq(lt_ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", out), RTC_OK);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(request_has_the_required_headers) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(lt_ws_write_request(&b, "127.0.0.1:8188", "/ws", "janus-protocol", "dGhlIHNhbXBsZSBub25jZQ=="),
                     RTC_OK);
    rtc_buf_append(&b, "", 1);
    const char *s = (const char *)b.data;
    ck_assert(strncmp(s, "GET /ws HTTP/1.1\r\n", 18) == 0);
    ck_assert(strstr(s, "\r\nHost: 127.0.0.1:8188\r\n"));
    ck_assert(strstr(s, "\r\nUpgrade: websocket\r\n"));
    ck_assert(strstr(s, "\r\nConnection: Upgrade\r\n"));
    ck_assert(strstr(s, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    ck_assert(strstr(s, "\r\nSec-WebSocket-Version: 13\r\n"));
    ck_assert(strstr(s, "\r\nSec-WebSocket-Protocol: janus-protocol\r\n"));
    ck_assert_uint_eq(b.len - 1 - 4, (size_t)(strstr(s, "\r\n\r\n") - s)); /* ends with the blank line */
    rtc_buf_clear(&b);
    ck_assert_int_eq(lt_ws_write_request(&b, "h", "/", NULL, "k"), RTC_OK);
    rtc_buf_append(&b, "", 1);
    ck_assert(!strstr((const char *)b.data, "Protocol"));
    rtc_buf_free(&b);
}
END_TEST

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define GOOD "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

static int resp(const char *s, const char *protocol, int *status) {
    return lt_ws_parse_response((const uint8_t *)s, strlen(s), KEY, protocol, status);
}

START_TEST(response_accepted_and_partial) {
    int st = -1;
    const char *r = GOOD "\r\n\x81\x05Hello"; /* a frame right behind the headers */
    ck_assert_int_eq(resp(r, NULL, &st), (int)strlen(GOOD "\r\n"));
    ck_assert_int_eq(st, 101);
    /* Every proper prefix of the header block needs more bytes. */
    char buf[512];
    size_t full = strlen(GOOD "\r\n");
    for (size_t n = 0; n < full; n++) {
        memcpy(buf, r, n);
        ck_assert_int_eq(lt_ws_parse_response((const uint8_t *)buf, n, KEY, NULL, NULL), 0);
    }
    /* Header names and tokens are case-insensitive; token lists work. */
    ck_assert_int_gt(resp("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
                          "sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n",
                          NULL, NULL),
                     0);
    ck_assert_int_gt(resp(GOOD "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n", "janus-protocol", NULL), 0);
}
END_TEST

START_TEST(response_refusals) {
    int st = 0;
    ck_assert_int_eq(resp("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", NULL, &st), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(st, 400);
    /* Wrong accept value, missing Upgrade, missing Connection. */
    ck_assert_int_eq(resp("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", NULL, NULL),
                     RTC_ERR_PROTOCOL);
    ck_assert_int_eq(resp("HTTP/1.1 101 x\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", NULL, NULL),
                     RTC_ERR_PROTOCOL);
    ck_assert_int_eq(resp("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", NULL, NULL),
                     RTC_ERR_PROTOCOL);
    /* Protocol asked for and not chosen; chosen though not asked; another one chosen. */
    ck_assert_int_eq(resp(GOOD "\r\n", "janus-protocol", NULL), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(resp(GOOD "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n", NULL, NULL), RTC_ERR_PROTOCOL);
    ck_assert_int_eq(resp(GOOD "Sec-WebSocket-Protocol: other\r\n\r\n", "janus-protocol", NULL), RTC_ERR_PROTOCOL);
    /* An extension we never offered. */
    ck_assert_int_eq(resp(GOOD "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", NULL, NULL), RTC_ERR_PROTOCOL);
    /* Not HTTP, bad status digits, bare LF, a header line without a colon. */
    ck_assert_int_eq(resp("SSH-2.0-OpenSSH\r\n\r\n", NULL, NULL), RTC_ERR_MALFORMED);
    ck_assert_int_eq(resp("HTTP/1.1 1x1 x\r\n\r\n", NULL, NULL), RTC_ERR_MALFORMED);
    ck_assert_int_eq(resp("HTTP/1.1 101 x\r\nUpgrade: websocket\n\r\n\r\n", NULL, NULL), RTC_ERR_MALFORMED);
    ck_assert_int_eq(resp("HTTP/1.1 101 x\r\nno colon here\r\n\r\n", NULL, NULL), RTC_ERR_MALFORMED);
    /* A header block that never ends is refused past 16 KiB instead of buffered forever. */
    size_t n = 20000;
    uint8_t *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "HTTP/1.1 101 x\r\n", 16);
    ck_assert_int_eq(lt_ws_parse_response(big, n, KEY, NULL, NULL), RTC_ERR_MALFORMED);
    free(big);
}
END_TEST

/* ---- frames (RFC 6455 §5.7) -------------------------------------------------------------- */

static int64_t parse(const uint8_t *in, size_t n, bool allow_masked, lt_ws_frame_t *f) {
    static uint8_t buf[70000];
    memcpy(buf, in, n);
    return lt_ws_parse_frame(buf, n, 1 << 20, allow_masked, f);
}

START_TEST(rfc_examples_parse) {
    lt_ws_frame_t f;
    const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ck_assert_int_eq(parse(hello, sizeof hello, false, &f), 7);
    ck_assert(f.fin);
    ck_assert_uint_eq(f.opcode, LT_WS_OP_TEXT);
    ck_assert_uint_eq(f.len, 5);
    ck_assert(memcmp(f.payload, "Hello", 5) == 0);

    const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ck_assert_int_eq(parse(masked, sizeof masked, false, &f), RTC_ERR_PROTOCOL); /* servers never mask */
    ck_assert_int_eq(parse(masked, sizeof masked, true, &f), 11);
    ck_assert(memcmp(f.payload, "Hello", 5) == 0);

    const uint8_t frag1[] = {0x01, 0x03, 0x48, 0x65, 0x6c}, frag2[] = {0x80, 0x02, 0x6c, 0x6f};
    ck_assert_int_eq(parse(frag1, sizeof frag1, false, &f), 5);
    ck_assert(!f.fin);
    ck_assert_uint_eq(f.opcode, LT_WS_OP_TEXT);
    ck_assert(memcmp(f.payload, "Hel", 3) == 0);
    ck_assert_int_eq(parse(frag2, sizeof frag2, false, &f), 4);
    ck_assert(f.fin);
    ck_assert_uint_eq(f.opcode, LT_WS_OP_CONT);

    const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ck_assert_int_eq(parse(ping, sizeof ping, false, &f), 7);
    ck_assert_uint_eq(f.opcode, LT_WS_OP_PING);

    /* 256 bytes binary in one unmasked frame: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x..010000 */
    uint8_t b256[4 + 256] = {0x82, 0x7e, 0x01, 0x00};
    ck_assert_int_eq(parse(b256, sizeof b256, false, &f), 260);
    ck_assert_uint_eq(f.len, 256);
    ck_assert_uint_eq(f.opcode, LT_WS_OP_BINARY);
    static uint8_t b64k[10 + 65536] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    ck_assert_int_eq(parse(b64k, sizeof b64k, false, &f), 10 + 65536);
    ck_assert_uint_eq(f.len, 65536);
    /* Every proper prefix needs more bytes. */
    for (size_t n = 0; n < sizeof b256; n++) ck_assert_int_eq(parse(b256, n, false, &f), 0);
}
END_TEST

START_TEST(writer_matches_rfc_masked_example) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(lt_ws_write_frame(&b, LT_WS_OP_TEXT, "Hello", 5, 0x37fa213d), RTC_OK);
    const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert(memcmp(b.data, want, sizeof want) == 0);
    /* masked pong "Hello" from §5.7 */
    rtc_buf_clear(&b);
    ck_assert_int_eq(lt_ws_write_frame(&b, LT_WS_OP_PONG, "Hello", 5, 0x37fa213d), RTC_OK);
    ck_assert_uint_eq(b.data[0], 0x8a);
    /* The 16- and 64-bit length forms round-trip through the parser (server side). */
    size_t sizes[] = {0, 125, 126, 65535, 65536, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        rtc_buf_clear(&b);
        uint8_t *pl = malloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++) pl[k] = (uint8_t)(k * 7);
        ck_assert_int_eq(lt_ws_write_frame(&b, LT_WS_OP_BINARY, pl, sizes[i], 0xdeadbeef), RTC_OK);
        size_t hdr = sizes[i] < 126 ? 6 : sizes[i] < 65536 ? 8 : 14;
        ck_assert_uint_eq(b.len, hdr + sizes[i]);
        lt_ws_frame_t f;
        ck_assert_int_eq(lt_ws_parse_frame(b.data, b.len, 1 << 20, true, &f), (int64_t)b.len);
        ck_assert_uint_eq(f.len, sizes[i]);
        ck_assert(sizes[i] == 0 || memcmp(f.payload, pl, sizes[i]) == 0);
        free(pl);
    }
    rtc_buf_free(&b);
}
END_TEST

START_TEST(bad_frames_refused) {
    lt_ws_frame_t f;
    const uint8_t rsv[] = {0xc1, 0x00};              /* RSV1 without an extension */
    const uint8_t op3[] = {0x83, 0x00};              /* reserved opcode */
    const uint8_t opb[] = {0x8b, 0x00};              /* reserved control opcode */
    const uint8_t frag_ping[] = {0x09, 0x00};        /* control frames are never fragmented */
    const uint8_t long_ping[] = {0x89, 0x7e, 0x00, 0x7e}; /* control payload over 125 */
    const uint8_t short16[] = {0x82, 0x7e, 0x00, 0x7d}; /* 125 in the 16-bit form */
    const uint8_t short64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t top64[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(parse(rsv, 2, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(op3, 2, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(opb, 2, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(frag_ping, 2, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(long_ping, 4, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(short16, 4, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(short64, 10, false, &f), RTC_ERR_MALFORMED);
    ck_assert_int_eq(parse(top64, 10, false, &f), RTC_ERR_MALFORMED);
    /* Over the caller's limit: refused from the header alone, before the payload arrives. */
    const uint8_t huge[] = {0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0};
    uint8_t buf[16];
    memcpy(buf, huge, sizeof huge);
    ck_assert_int_eq(lt_ws_parse_frame(buf, sizeof huge, 1 << 20, false, &f), RTC_ERR_LIMIT);
}
END_TEST

/* ---- the libuv client against Python's websockets ------------------------------------------ */

static struct {
    pid_t pid;
    uv_loop_t loop;
    uv_timer_t guard;
    lt_ws_t *ws;
    int step;
    bool opened, closed, timed_out;
    int close_code;
    char close_why[64];
    char big[100001];
    int texts;
} L;

static void send_str(const char *s) { ck_assert_int_eq(lt_ws_send_text(L.ws, s, strlen(s)), RTC_OK); }

static void on_open(void *user, lt_ws_t *ws) {
    (void)user;
    L.opened = true;
    L.ws = ws;
    send_str("hello");
}

static void on_text(void *user, lt_ws_t *ws, char *msg, size_t n) {
    (void)user;
    (void)ws;
    L.texts++;
    switch (L.step++) {
    case 0:
        ck_assert_str_eq(msg, "hello");
        send_str("frag");
        break;
    case 1: /* three fragments, reassembled */
        ck_assert_str_eq(msg, "Hello, fragments");
        send_str("ping");
        break;
    case 2: /* the server pinged and saw our pong */
        ck_assert_str_eq(msg, "pong seen");
        memset(L.big, 'x', sizeof L.big - 1);
        L.big[0] = '{';
        L.big[sizeof L.big - 2] = '}';
        send_str(L.big);
        break;
    case 3:
        ck_assert_uint_eq(n, sizeof L.big - 1);
        ck_assert(memcmp(msg, L.big, n) == 0);
        send_str("close");
        break;
    default:
        ck_abort_msg("unexpected message %.40s", msg);
    }
}

static void on_closed(void *user, lt_ws_t *ws, int code, const char *why) {
    (void)user;
    (void)ws;
    L.closed = true;
    L.close_code = code;
    snprintf(L.close_why, sizeof L.close_why, "%s", why);
    L.ws = NULL;
    uv_timer_stop(&L.guard);
}

static void on_guard(uv_timer_t *t) {
    (void)t;
    L.timed_out = true;
    if (L.ws) lt_ws_close(L.ws);
    L.ws = NULL;
}

static int spawn_peer(void) {
    const char *src = getenv("SRC_DIR");
    ck_assert_msg(src != NULL, "SRC_DIR not set (run through ctest)");
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/unit/loadtest/ws_peer.py", src);
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    L.pid = fork();
    ck_assert_int_ge(L.pid, 0);
    if (L.pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl("/usr/bin/python3", "python3", script, "60", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[32] = "";
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    int port = atoi(line);
    ck_assert_msg(port > 0, "ws_peer.py did not print a port (python3-websockets installed?)");
    return port;
}

static void stop_peer(void) {
    if (L.pid > 0) {
        kill(L.pid, SIGTERM);
        waitpid(L.pid, NULL, 0);
        L.pid = 0;
    }
}

START_TEST(client_against_python_websockets) {
    memset(&L, 0, sizeof L);
    int port = spawn_peer();
    ck_assert_int_eq(uv_loop_init(&L.loop), 0);
    uv_timer_init(&L.loop, &L.guard);
    uv_timer_start(&L.guard, on_guard, 60000, 0); /* a bound, not an assertion */
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse_ip(&a, "127.0.0.1", (uint16_t)port), RTC_OK);
    lt_ws_callbacks_t cb = {on_open, on_text, on_closed};
    ck_assert_ptr_nonnull(lt_ws_connect(&L.loop, &a, "/", "janus-protocol", &cb, NULL));
    uv_run(&L.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&L.guard, NULL);
    uv_run(&L.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&L.loop), 0);
    stop_peer();
    ck_assert(!L.timed_out);
    ck_assert(L.opened);
    ck_assert_int_eq(L.texts, 4);
    ck_assert(L.closed);
    ck_assert_int_eq(L.close_code, 4001);
    ck_assert_str_eq(L.close_why, "bye");
}
END_TEST

/* No subprotocol asked: the peer refuses the handshake (it accepts only janus-protocol), and
 * the client reports a failed open, not a crash or a hang. A refused TCP connect likewise. */
static void on_closed_only(void *user, lt_ws_t *ws, int code, const char *why) {
    (void)ws;
    (void)why;
    *(int *)user = code;
}
static void never_open(void *user, lt_ws_t *ws) {
    (void)user;
    (void)ws;
    ck_abort_msg("opened");
}

START_TEST(client_failures_reported) {
    memset(&L, 0, sizeof L);
    int port = spawn_peer();
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    rtc_addr_t a;
    ck_assert_int_eq(rtc_addr_parse_ip(&a, "127.0.0.1", (uint16_t)port), RTC_OK);
    lt_ws_callbacks_t cb = {never_open, NULL, on_closed_only};
    int code1 = 0, code2 = 0;
    ck_assert_ptr_nonnull(lt_ws_connect(&loop, &a, "/", "other-protocol", &cb, &code1));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(code1, 1002);
    stop_peer();
    /* Nobody listens there now. */
    ck_assert_ptr_nonnull(lt_ws_connect(&loop, &a, "/", NULL, &cb, &code2));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(code2, 1006);
    /* Closed by us while connecting: no callback at all, nothing leaks. */
    lt_ws_t *ws = lt_ws_connect(&loop, &a, "/", NULL, &cb, &code2);
    ck_assert_ptr_nonnull(ws);
    code2 = 0;
    lt_ws_close(ws);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(code2, 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_WARN);
    Suite *s = suite_create("loadtest_ws");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, accept_key_matches_rfc_example);
    tcase_add_test(tc, request_has_the_required_headers);
    tcase_add_test(tc, response_accepted_and_partial);
    tcase_add_test(tc, response_refusals);
    tcase_add_test(tc, rfc_examples_parse);
    tcase_add_test(tc, writer_matches_rfc_masked_example);
    tcase_add_test(tc, bad_frames_refused);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("python_websockets");
    tcase_set_timeout(live, 120);
    tcase_add_test(live, client_against_python_websockets);
    tcase_add_test(live, client_failures_reported);
    suite_add_tcase(s, live);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
