/* libFuzzer target: a remote offer given to a PeerConnection (setRemoteDescription, then
 * createAnswer + setLocalDescription), followed by a few datagrams cut from the same input
 * fed to handle_datagram. Checks that hostile descriptions and datagrams are refused without
 * crashing, leaking or reading out of bounds. No sockets: `send` drops everything. */
#include <stdlib.h>
#include <string.h>

#include "rtc/pc.h"

static void drop(void *u, void *s, const rtc_addr_t *d, const uint8_t *p, size_t n) {
    (void)u; (void)s; (void)d; (void)p; (void)n;
}

static rtc_dtls_cert_t *cert;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!cert) {
        rtc_log_set_level(RTC_LOG_OFF);
        if (rtc_dtls_cert_generate(NULL, 1, &cert) != RTC_OK) return 0;
    }
    /* Input: SDP text, optionally followed by "\n--\n" and datagrams separated the same way. */
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, "\n--\n", 4) == 0) { sep = data + i; break; }
    size_t sdp_len = sep ? (size_t)(sep - data) : size;
    char *sdp = malloc(sdp_len + 1);
    if (!sdp) return 0;
    memcpy(sdp, data, sdp_len);
    sdp[sdp_len] = '\0';

    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    cfg.certificate = cert;
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1");
    rtc_pc_callbacks_t cb = {.send = drop};
    rtc_peer_connection_t *pc = rtc_peer_connection_create(&cfg, &cb, NULL);
    if (!pc) { free(sdp); return 0; }
    static int sock_handle;
    rtc_addr_t local;
    rtc_addr_parse(&local, "127.0.0.1:40000", 0);
    rtc_peer_connection_add_socket(pc, &sock_handle, &local, "lo");
    rtc_time_t now = 1000000;
    if (rtc_peer_connection_set_remote_description(pc, RTC_PC_SDP_OFFER, sdp, now) == RTC_OK) {
        rtc_buf_t b;
        rtc_buf_init(&b);
        rtc_peer_connection_create_answer(pc, &b);
        rtc_buf_free(&b);
        rtc_peer_connection_set_local_description(pc, RTC_PC_SDP_ANSWER, NULL, now);
        rtc_peer_connection_add_ice_candidate(pc, sdp, NULL, now);
        rtc_addr_t from;
        rtc_addr_parse(&from, "127.0.0.1:5000", 0);
        const uint8_t *p = sep ? sep + 4 : NULL, *end = data + size;
        while (p && p < end) {
            const uint8_t *q = p;
            while (q + 4 <= end && memcmp(q, "\n--\n", 4) != 0) q++;
            if (q + 4 > end) q = end;
            now += 1000;
            rtc_peer_connection_handle_datagram(pc, &sock_handle, &from, p, (size_t)(q - p), now);
            rtc_peer_connection_handle_timeout(pc, now);
            p = q + 4;
        }
        rtc_buf_init(&b);
        rtc_peer_connection_get_stats(pc, now, &b);
        rtc_buf_free(&b);
    }
    rtc_peer_connection_close(pc, now);
    rtc_peer_connection_destroy(pc);
    free(sdp);
    return 0;
}
