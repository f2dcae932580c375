/* Our own PeerConnection clients for the SFU's end-to-end suites (test_sfu_media,
 * test_sfu_node_media, test_sfu_pion), which all play browsers against a real SFU over
 * 127.0.0.1: the client runtime and PeerConnections, a loop driver, and a recorder for the
 * RTP a subscriber receives (for gap counts and for decode_rtp.py). Built into a small
 * library linked into the test_sfu_* suites (tests/CMakeLists.txt). Failures are Check
 * assertions: these run inside a test. */
#ifndef SFU_TEST_PC_CLIENT_H
#define SFU_TEST_PC_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "rtc/pc.h"

/* A client runtime on LOOP that gathers only 127.0.0.1 over IPv4: the SFU listens there, and
 * candidates on other interfaces would only slow ICE down (and must not leave the machine).
 * The caller destroys it (rtc_pc_runtime_destroy). */
rtc_pc_runtime_t *sfu_test_runtime_new(uv_loop_t *loop);

/* A PeerConnection of RT with the same loopback-only filter, logging as "NAME-pub" or
 * "NAME-sub" (a client has one of each, as a browser or the loadtest does). CB and USER as
 * for rtc_pc_runtime_create_pc; RT owns the result. */
rtc_peer_connection_t *sfu_test_client_pc(rtc_pc_runtime_t *rt, const char *name, bool publisher,
                                          const rtc_pc_callbacks_t *cb, void *user);

/* PC's local description as a NUL-terminated string; the caller frees it. */
char *sfu_test_local_desc(rtc_peer_connection_t *pc);

/* SFU_TEST_RUN_UNTIL(loop, cond, ms, pump): runs LOOP until COND holds or MS ms have
 * passed, calling PUMP() (the suite's message delivery) after every turn. A 5 ms timer keeps
 * each turn short, so COND is looked at even when no I/O comes. Time-outs are not failures:
 * the caller asserts what it needs afterwards. */
void sfu_test_guard_cb(uv_timer_t *t);
#define SFU_TEST_RUN_UNTIL(loop, cond, ms, pump)                                   \
    do {                                                                           \
        uv_timer_t g_;                                                             \
        uv_timer_init((loop), &g_);                                                \
        uv_timer_start(&g_, sfu_test_guard_cb, 5, 5);                              \
        uint64_t end_ = uv_now(loop) + (ms);                                       \
        while (!(cond) && uv_now(loop) < end_) {                                   \
            uv_run((loop), UV_RUN_ONCE);                                           \
            pump();                                                                \
        }                                                                          \
        uv_timer_stop(&g_);                                                        \
        uv_close((uv_handle_t *)&g_, NULL);                                        \
        uv_run((loop), UV_RUN_NOWAIT);                                             \
    } while (0)

/* What a subscriber got on one stream: packets, sequence gaps, the largest packet, and a
 * dump file in decode_rtp.py's format (u32 arrival ms, always 0 here; u16 length; packet). */
typedef struct {
    uint32_t packets;
    uint32_t gaps;
    uint16_t last_seq;
    size_t max_len;
    FILE *dump;
    char dump_path[64];
} sfu_test_rx_t;

/* Opens a fresh dump file /tmp/PREFIX_XXXXXX (PREFIX: up to 40 characters). */
void sfu_test_rx_open(sfu_test_rx_t *r, const char *prefix);
/* Counts one received RTP packet (P, N: as on_rtp hands it) and appends it to the dump. */
void sfu_test_rx_packet(sfu_test_rx_t *r, const uint8_t *p, size_t n);
/* Closes and deletes the dump file (nothing if it was never opened). */
void sfu_test_rx_close(sfu_test_rx_t *r);

#endif
