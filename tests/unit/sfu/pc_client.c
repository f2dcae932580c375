/* See pc_client.h. */
#include "pc_client.h"

#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include "rtc/net.h"

void sfu_test_guard_cb(uv_timer_t *t) { (void)t; }

rtc_pc_runtime_t *sfu_test_runtime_new(uv_loop_t *loop) {
    rtc_pc_runtime_config_t rc;
    rtc_pc_runtime_config_init(&rc);
    rtc_net_filter_add_prefix(&rc.filter, "127.0.0.1");
    rc.filter.ipv6 = false;
    rtc_pc_runtime_t *rt = rtc_pc_runtime_create(loop, &rc);
    ck_assert_ptr_nonnull(rt);
    return rt;
}

rtc_peer_connection_t *sfu_test_client_pc(rtc_pc_runtime_t *rt, const char *name, bool publisher,
                                          const rtc_pc_callbacks_t *cb, void *user) {
    rtc_pc_config_t cfg;
    rtc_pc_config_init(&cfg);
    rtc_net_filter_add_prefix(&cfg.filter, "127.0.0.1");
    cfg.filter.ipv6 = false;
    snprintf(cfg.log_id, sizeof cfg.log_id, "%s-%s", name, publisher ? "pub" : "sub");
    rtc_peer_connection_t *pc = rtc_pc_runtime_create_pc(rt, &cfg, cb, user);
    ck_assert_ptr_nonnull(pc);
    return pc;
}

char *sfu_test_local_desc(rtc_peer_connection_t *pc) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_peer_connection_local_description(pc, &b, NULL), RTC_OK);
    return (char *)b.data;
}

void sfu_test_rx_open(sfu_test_rx_t *r, const char *prefix) {
    snprintf(r->dump_path, sizeof r->dump_path, "/tmp/%.40s_XXXXXX", prefix);
    int fd = mkstemp(r->dump_path);
    ck_assert_int_ge(fd, 0);
    r->dump = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(r->dump);
}

void sfu_test_rx_packet(sfu_test_rx_t *r, const uint8_t *p, size_t n) {
    uint16_t seq = rtc_be16(p + 2);
    if (r->packets && seq != (uint16_t)(r->last_seq + 1)) r->gaps++;
    r->last_seq = seq;
    r->packets++;
    if (n > r->max_len) r->max_len = n;
    uint8_t h[6] = {0};
    rtc_put_be16(h + 4, (uint16_t)n);
    fwrite(h, 1, 6, r->dump);
    fwrite(p, 1, n, r->dump);
}

void sfu_test_rx_close(sfu_test_rx_t *r) {
    if (r->dump) fclose(r->dump);
    if (r->dump_path[0]) unlink(r->dump_path);
    r->dump = NULL;
    r->dump_path[0] = '\0';
}
