/*
 * rtc/net.h — the runtime's network layer: UDP sockets with batched send/receive
 * (recvmmsg/sendmmsg) and the choice of which local addresses the stack may use.
 *
 * This is the only place in libwebrtc that opens sockets. Protocol layers never call it;
 * the runtime (pc/, services, tools) does and feeds the bytes to the sans-I/O layers.
 */
#ifndef RTC_NET_H
#define RTC_NET_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One datagram for a batch. For receive, `data`/`cap` is caller-provided space and `len`,
 * `peer`, `local` are filled in; for send, `data`/`len` and `peer` are read. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    rtc_addr_t peer;
    rtc_addr_t local;   /* receive: the local destination address (IP_PKTINFO), when known */
    bool truncated;     /* receive: datagram was larger than cap and was cut */
} rtc_datagram_t;

typedef struct rtc_udp_socket rtc_udp_socket_t;

typedef struct {
    bool reuse_port;        /* SO_REUSEPORT, for one listener per worker thread */
    bool v6_only;           /* IPV6_V6ONLY on IPv6 sockets (default false: dual-stack on ::) */
    int recv_buffer;        /* receive buffer bytes (rtc_net_set_socket_buffer); 0: system default */
    int send_buffer;        /* send buffer bytes (rtc_net_set_socket_buffer); 0: system default */
    bool dont_fragment;     /* set DF (IP_PMTUDISC_DO) on sent datagrams */
    bool pktinfo;           /* learn the local address of each received datagram */
} rtc_udp_options_t;

/* Opens a non-blocking UDP socket bound to exactly `bind_addr` (port 0 picks one). The socket
 * is never bound to an address it was not given. `opts` may be NULL for defaults.
 * On success *out owns the socket; close it with rtc_udp_socket_close. */
int rtc_udp_socket_open(const rtc_addr_t *bind_addr, const rtc_udp_options_t *opts,
                        rtc_udp_socket_t **out);
void rtc_udp_socket_close(rtc_udp_socket_t *s);
int rtc_udp_socket_fd(const rtc_udp_socket_t *s);
/* The bound address, with the port the kernel chose. */
const rtc_addr_t *rtc_udp_socket_local(const rtc_udp_socket_t *s);

/* Receives up to n datagrams without blocking. Returns how many (0 when none are waiting) or
 * a negative rtc_err_t (RTC_ERR_IO with errno). */
int rtc_udp_recv_batch(rtc_udp_socket_t *s, rtc_datagram_t *msgs, int n);
/* Sends up to n datagrams. Returns how many the kernel took (it may be fewer than n when the
 * send buffer is full; the rest were not sent) or a negative rtc_err_t if none were. A
 * datagram the kernel rejects (e.g. unreachable) is counted as sent and skipped, so one bad
 * peer cannot stall a batch. */
int rtc_udp_send_batch(rtc_udp_socket_t *s, const rtc_datagram_t *msgs, int n);
/* Single-datagram convenience. Returns RTC_OK, RTC_ERR_AGAIN or RTC_ERR_IO. */
int rtc_udp_send(rtc_udp_socket_t *s, const rtc_addr_t *peer, const void *data, size_t len);

/* Asks for a `bytes` receive (recv true) or send buffer on socket fd. Plain SO_RCVBUF/SO_SNDBUF
 * are capped by net.core.rmem_max/wmem_max (208 KiB on most systems), so SO_RCVBUFFORCE /
 * SO_SNDBUFFORCE go first: they pass the cap when the process has CAP_NET_ADMIN (root);
 * otherwise the plain option gives what the cap allows. Returns the size the kernel reports
 * afterwards (Linux doubles the request for its bookkeeping; the cap applies first), or
 * RTC_ERR_INVALID_ARG / RTC_ERR_IO. bytes <= 0 changes nothing and reports the current size. */
int rtc_net_set_socket_buffer(int fd, bool recv, int bytes);

/* ------------------------------------------------------------------------------------------
 * Which local addresses may the stack use? A filter lists allowed interface names and/or
 * allowed addresses or prefixes; an address passes if it matches any entry of either list.
 * An empty filter allows every non-loopback, non-link-local address (the production default);
 * tests always name loopback or their own namespace addresses.
 */
#define RTC_NET_FILTER_MAX 16

typedef struct {
    char interfaces[RTC_NET_FILTER_MAX][32];
    size_t n_interfaces;
    rtc_addr_t prefixes[RTC_NET_FILTER_MAX];
    unsigned prefix_bits[RTC_NET_FILTER_MAX];
    size_t n_prefixes;
    bool ipv4;  /* include IPv4 addresses (default true after rtc_net_filter_init) */
    bool ipv6;  /* include IPv6 addresses (default true) */
} rtc_net_filter_t;

void rtc_net_filter_init(rtc_net_filter_t *f);
/* Adds an interface name ("lo", "veth0"). RTC_ERR_LIMIT when full. */
int rtc_net_filter_add_interface(rtc_net_filter_t *f, const char *name);
/* Adds an address or prefix ("127.0.0.1", "10.200.0.0/24", "::1"). */
int rtc_net_filter_add_prefix(rtc_net_filter_t *f, const char *cidr);
/* Parses a comma-separated list of interface names and addresses/prefixes. */
int rtc_net_filter_parse(rtc_net_filter_t *f, const char *list);
bool rtc_net_filter_allows(const rtc_net_filter_t *f, const char *ifname, const rtc_addr_t *a);

/* Lists the local interface addresses the filter allows (ports zero). Addresses named
 * explicitly in the filter are returned even if no interface carries them only when they
 * are loopback (127.0.0.0/8 is routable on lo though only 127.0.0.1 is listed). Returns the
 * count written (at most max) or a negative rtc_err_t. */
int rtc_net_local_addresses(const rtc_net_filter_t *f, rtc_addr_t *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* RTC_NET_H */
