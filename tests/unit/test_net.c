/* net/: batched UDP on loopback and the local-address filter. All traffic stays on 127.0.0.1. */
#include <check.h>
#include <poll.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rtc/net.h"

static void wait_readable(rtc_udp_socket_t *s) {
    struct pollfd p = {.fd = rtc_udp_socket_fd(s), .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 2000), 1);
}

START_TEST(batch_send_and_receive_on_loopback) {
    rtc_addr_t lo;
    rtc_addr_parse(&lo, "127.0.0.1:0", 0);
    rtc_udp_socket_t *a, *b;
    ck_assert_int_eq(rtc_udp_socket_open(&lo, NULL, &a), 0);
    rtc_udp_options_t opts = {.pktinfo = true};
    ck_assert_int_eq(rtc_udp_socket_open(&lo, &opts, &b), 0);
    ck_assert_uint_ne(rtc_udp_socket_local(b)->port, 0);

    uint8_t payload[10][32];
    rtc_datagram_t out[10];
    for (int i = 0; i < 10; i++) {
        memset(payload[i], i, sizeof payload[i]);
        out[i] = (rtc_datagram_t){.data = payload[i], .len = (size_t)(i + 1),
                                  .peer = *rtc_udp_socket_local(b)};
    }
    ck_assert_int_eq(rtc_udp_send_batch(a, out, 10), 10);

    uint8_t space[10][64];
    rtc_datagram_t in[10];
    for (int i = 0; i < 10; i++) in[i] = (rtc_datagram_t){.data = space[i], .cap = sizeof space[i]};
    int got = 0;
    while (got < 10) {
        wait_readable(b);
        int n = rtc_udp_recv_batch(b, in + got, 10 - got);
        ck_assert_int_ge(n, 0);
        got += n;
    }
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_eq(in[i].len, (size_t)(i + 1));
        ck_assert_uint_eq(in[i].data[0], (uint8_t)i);
        ck_assert(rtc_addr_equal(&in[i].peer, rtc_udp_socket_local(a)));
        ck_assert(rtc_addr_equal_ip(&in[i].local, &lo));
    }
    /* Nothing more waiting: a non-blocking batch returns 0, not an error. */
    ck_assert_int_eq(rtc_udp_recv_batch(b, in, 10), 0);
    rtc_udp_socket_close(a);
    rtc_udp_socket_close(b);
}
END_TEST

START_TEST(oversized_datagram_is_flagged_truncated) {
    rtc_addr_t lo;
    rtc_addr_parse(&lo, "127.0.0.1:0", 0);
    rtc_udp_socket_t *a, *b;
    ck_assert_int_eq(rtc_udp_socket_open(&lo, NULL, &a), 0);
    ck_assert_int_eq(rtc_udp_socket_open(&lo, NULL, &b), 0);
    uint8_t big[100] = {0};
    ck_assert_int_eq(rtc_udp_send(a, rtc_udp_socket_local(b), big, sizeof big), 0);
    wait_readable(b);
    uint8_t small[10];
    rtc_datagram_t in = {.data = small, .cap = sizeof small};
    ck_assert_int_eq(rtc_udp_recv_batch(b, &in, 1), 1);
    ck_assert(in.truncated);
    rtc_udp_socket_close(a);
    rtc_udp_socket_close(b);
}
END_TEST

START_TEST(bind_fails_cleanly_for_foreign_address) {
    rtc_addr_t doc;
    rtc_addr_parse(&doc, "192.0.2.1:0", 0); /* TEST-NET-1: never assigned here */
    rtc_udp_socket_t *s = NULL;
    ck_assert_int_eq(rtc_udp_socket_open(&doc, NULL, &s), RTC_ERR_IO);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(reuse_port_allows_two_listeners) {
    rtc_addr_t lo;
    rtc_addr_parse(&lo, "127.0.0.1:0", 0);
    rtc_udp_options_t o = {.reuse_port = true};
    rtc_udp_socket_t *a, *b;
    ck_assert_int_eq(rtc_udp_socket_open(&lo, &o, &a), 0);
    lo.port = rtc_udp_socket_local(a)->port;
    ck_assert_int_eq(rtc_udp_socket_open(&lo, &o, &b), 0);
    ck_assert_uint_eq(rtc_udp_socket_local(b)->port, lo.port);
    rtc_udp_socket_close(a);
    rtc_udp_socket_close(b);
}
END_TEST

START_TEST(filter_restricts_to_loopback) {
    rtc_net_filter_t f;
    rtc_net_filter_init(&f);
    ck_assert_int_eq(rtc_net_filter_parse(&f, "127.0.0.1, 127.0.0.2"), 0);
    rtc_addr_t out[16];
    int n = rtc_net_local_addresses(&f, out, 16);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) ck_assert(rtc_addr_is_loopback(&out[i]));

    rtc_net_filter_init(&f);
    rtc_net_filter_parse(&f, "lo");
    f.ipv6 = false;
    n = rtc_net_local_addresses(&f, out, 16);
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < n; i++) {
        ck_assert(rtc_addr_is_loopback(&out[i]));
        ck_assert_uint_eq(out[i].family, RTC_AF_INET4);
    }

    /* The empty (production) filter never offers loopback. */
    rtc_net_filter_init(&f);
    n = rtc_net_local_addresses(&f, out, 16);
    for (int i = 0; i < n; i++) ck_assert(!rtc_addr_is_loopback(&out[i]));
    rtc_addr_t a;
    rtc_addr_parse(&a, "10.1.1.1", 0);
    ck_assert(rtc_net_filter_allows(&f, "eth0", &a));
    rtc_net_filter_add_prefix(&f, "10.200.0.0/24");
    ck_assert(!rtc_net_filter_allows(&f, "eth0", &a));
    ck_assert_int_eq(rtc_net_filter_add_prefix(&f, "not-an-address/3"), RTC_ERR_ADDR);
}
END_TEST

static int rmem_max(void) {
    FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

/* Drops CAP_NET_ADMIN from this thread's effective set (Check runs each test in its own
 * process, so nothing else is affected). */
static void drop_net_admin(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
    d[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
    ck_assert_int_eq(syscall(SYS_capset, &h, d), 0);
}

/* Buffers larger than net.core.rmem_max: root gets them (SO_RCVBUFFORCE), an unprivileged
 * process gets the cap, and both succeed. */
START_TEST(socket_buffer_passes_rmem_max_when_privileged) {
    int max = rmem_max();
    ck_assert_int_gt(max, 0);
    int want = max * 2;
    rtc_addr_t a;
    rtc_addr_parse(&a, "127.0.0.1:0", 0);
    rtc_udp_options_t o = {.recv_buffer = want};
    rtc_udp_socket_t *s;
    ck_assert_int_eq(rtc_udp_socket_open(&a, &o, &s), RTC_OK);
    int fd = rtc_udp_socket_fd(s);
    int got = 0;
    socklen_t len = sizeof got;
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    if (geteuid() == 0) {
        ck_assert_int_ge(got, 2 * want); /* the kernel doubles what it grants */
    } else {
        ck_assert_int_ge(got, 2 * max);
    }
    ck_assert_int_eq(rtc_net_set_socket_buffer(fd, true, 0), got); /* 0: only reports */
    rtc_udp_socket_close(s);
    ck_assert_int_eq(rtc_net_set_socket_buffer(-1, true, 1), RTC_ERR_INVALID_ARG);
    if (geteuid() != 0) return;
    /* Without CAP_NET_ADMIN the FORCE option is refused: the plain one gives the cap. */
    drop_net_admin();
    ck_assert_int_eq(rtc_udp_socket_open(&a, &o, &s), RTC_OK);
    int r = rtc_net_set_socket_buffer(rtc_udp_socket_fd(s), true, want);
    ck_assert_int_eq(r, 2 * max);
    r = rtc_net_set_socket_buffer(rtc_udp_socket_fd(s), false, 65536);
    ck_assert_int_eq(r, 2 * 65536);
    rtc_udp_socket_close(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("udp");
    tcase_add_test(tc, batch_send_and_receive_on_loopback);
    tcase_add_test(tc, oversized_datagram_is_flagged_truncated);
    tcase_add_test(tc, bind_fails_cleanly_for_foreign_address);
    tcase_add_test(tc, reuse_port_allows_two_listeners);
    tcase_add_test(tc, filter_restricts_to_loopback);
    tcase_add_test(tc, socket_buffer_passes_rmem_max_when_privileged);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
