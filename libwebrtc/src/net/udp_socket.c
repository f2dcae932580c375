/* Non-blocking UDP sockets with recvmmsg/sendmmsg batching. One syscall moves a whole batch,
 * which is where a relay or SFU spends its CPU. */
#include "rtc/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH_MAX 64

struct rtc_udp_socket {
    int fd;
    rtc_addr_t local;
    bool pktinfo;
};

static int set_opt(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int rtc_net_set_socket_buffer(int fd, bool recv, int bytes) {
    if (fd < 0) return RTC_ERR_INVALID_ARG;
    int plain = recv ? SO_RCVBUF : SO_SNDBUF;
    if (bytes > 0 && set_opt(fd, SOL_SOCKET, recv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, bytes) != 0 &&
        set_opt(fd, SOL_SOCKET, plain, bytes) != 0)
        return RTC_ERR_IO;
    int got = 0;
    socklen_t len = sizeof got;
    if (getsockopt(fd, SOL_SOCKET, plain, &got, &len) != 0) return RTC_ERR_IO;
    return got;
}

int rtc_udp_socket_open(const rtc_addr_t *bind_addr, const rtc_udp_options_t *opts,
                        rtc_udp_socket_t **out) {
    if (!bind_addr || !out) return RTC_ERR_INVALID_ARG;
    rtc_udp_options_t defaults = {0};
    if (!opts) opts = &defaults;
    int domain = bind_addr->family == RTC_AF_INET4 ? AF_INET
               : bind_addr->family == RTC_AF_INET6 ? AF_INET6 : -1;
    if (domain < 0) return RTC_ERR_ADDR;
    int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        RTC_LOGE("net", "socket(): %s", strerror(errno));
        return RTC_ERR_IO;
    }
    if (opts->reuse_port) set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (domain == AF_INET6) set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts->v6_only ? 1 : 0);
    if (opts->recv_buffer > 0) rtc_net_set_socket_buffer(fd, true, opts->recv_buffer);
    if (opts->send_buffer > 0) rtc_net_set_socket_buffer(fd, false, opts->send_buffer);
    if (opts->dont_fragment) {
        if (domain == AF_INET) set_opt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
        else set_opt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
    }
    if (opts->pktinfo) {
        if (domain == AF_INET) set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
        else set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    }
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(bind_addr, &ss, sizeof ss);
    if (sl < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
        RTC_LOGW("net", "bind %s: %s", rtc_addr_str(bind_addr), strerror(errno));
        close(fd);
        return RTC_ERR_IO;
    }
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    rtc_udp_socket_t *s = calloc(1, sizeof *s);
    if (!s) { close(fd); return RTC_ERR_NOMEM; }
    s->fd = fd;
    s->pktinfo = opts->pktinfo;
    rtc_addr_from_sockaddr(&s->local, (struct sockaddr *)&ss, len);
    *out = s;
    return RTC_OK;
}

void rtc_udp_socket_close(rtc_udp_socket_t *s) {
    if (!s) return;
    close(s->fd);
    free(s);
}

int rtc_udp_socket_fd(const rtc_udp_socket_t *s) { return s->fd; }
const rtc_addr_t *rtc_udp_socket_local(const rtc_udp_socket_t *s) { return &s->local; }

static void read_pktinfo(struct msghdr *mh, const rtc_udp_socket_t *s, rtc_addr_t *local) {
    *local = s->local;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            rtc_addr_set_v4(local, (const uint8_t *)&pi.ipi_addr, s->local.port);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            rtc_addr_set_v6(local, pi.ipi6_addr.s6_addr, s->local.port);
        }
    }
}

int rtc_udp_recv_batch(rtc_udp_socket_t *s, rtc_datagram_t *msgs, int n) {
    if (!s || !msgs || n <= 0) return RTC_ERR_INVALID_ARG;
    if (n > BATCH_MAX) n = BATCH_MAX;
    struct mmsghdr mm[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    struct sockaddr_storage from[BATCH_MAX];
    union { char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))]; struct cmsghdr align; } ctl[BATCH_MAX];
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = msgs[i].data;
        iov[i].iov_len = msgs[i].cap;
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        mm[i].msg_hdr.msg_name = &from[i];
        mm[i].msg_hdr.msg_namelen = sizeof from[i];
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        if (s->pktinfo) {
            mm[i].msg_hdr.msg_control = ctl[i].buf;
            mm[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
        }
    }
    int got;
    do {
        got = recvmmsg(s->fd, mm, (unsigned)n, MSG_DONTWAIT, NULL);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        /* ICMP errors from an earlier send surface here (ECONNREFUSED); they say nothing about
         * datagrams waiting, so report "none now" rather than an error that stops the loop. */
        if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) return 0;
        return RTC_ERR_IO;
    }
    for (int i = 0; i < got; i++) {
        msgs[i].len = mm[i].msg_len;
        msgs[i].truncated = (mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        if (rtc_addr_from_sockaddr(&msgs[i].peer, (struct sockaddr *)&from[i],
                                   mm[i].msg_hdr.msg_namelen) != RTC_OK) {
            memset(&msgs[i].peer, 0, sizeof msgs[i].peer);
        }
        if (s->pktinfo) read_pktinfo(&mm[i].msg_hdr, s, &msgs[i].local);
        else msgs[i].local = s->local;
    }
    return got;
}

int rtc_udp_send_batch(rtc_udp_socket_t *s, const rtc_datagram_t *msgs, int n) {
    if (!s || !msgs || n < 0) return RTC_ERR_INVALID_ARG;
    int done = 0;
    while (done < n) {
        int chunk = n - done > BATCH_MAX ? BATCH_MAX : n - done;
        struct mmsghdr mm[BATCH_MAX];
        struct iovec iov[BATCH_MAX];
        struct sockaddr_storage to[BATCH_MAX];
        for (int i = 0; i < chunk; i++) {
            const rtc_datagram_t *d = &msgs[done + i];
            iov[i].iov_base = d->data;
            iov[i].iov_len = d->len;
            memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
            int sl = rtc_addr_to_sockaddr(&d->peer, &to[i], sizeof to[i]);
            mm[i].msg_hdr.msg_name = &to[i];
            mm[i].msg_hdr.msg_namelen = sl > 0 ? (socklen_t)sl : 0;
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int sent;
        do {
            sent = sendmmsg(s->fd, mm, (unsigned)chunk, MSG_DONTWAIT);
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return done ? done : RTC_ERR_AGAIN;
            /* The first datagram of the chunk was refused (bad address, unreachable, too
             * big): skip it so the others still go out. */
            RTC_LOGD("net", "sendmmsg to %s: %s", rtc_addr_str(&msgs[done].peer), strerror(errno));
            done++;
            continue;
        }
        done += sent;
        if (sent < chunk) {
            /* Partial batch: retry from the first unsent one; stop if the kernel is full. */
            continue;
        }
    }
    return done;
}

int rtc_udp_send(rtc_udp_socket_t *s, const rtc_addr_t *peer, const void *data, size_t len) {
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(peer, &ss, sizeof ss);
    if (sl < 0) return sl;
    ssize_t r;
    do {
        r = sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, (socklen_t)sl);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? RTC_ERR_AGAIN : RTC_ERR_IO;
    return RTC_OK;
}
