/* Worker threads, sockets and batching around the sans-I/O TURN core. See runtime.h. */
#include "turn/runtime.h"

#include "rtc/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <liburing.h>

#define BATCH 64                 /* datagrams per recvmmsg / slots per receive pool */
#define RELAY_READ_MAX 32        /* datagrams per relay socket per wake-up (fairness) */
#define LISTEN_ROUNDS 4          /* recvmmsg calls per listener wake-up */
#define SLOT_DATA 65536          /* largest datagram we take in */
/* Slot stride: room for the header in front and padding behind, plus an odd 192 bytes so
 * that slot starts do not all map to the same L1 cache sets. */
#define SLOT_STRIDE (TURN_PEER_HEADROOM + SLOT_DATA + TURN_PEER_TAILROOM + 192)
#define QUEUE_MAX 64             /* datagrams queued per listener before a sendmmsg */
/* Client→peer datagrams queued before they are sent: as many as the io_uring loop can
 * receive in one wake-up (RX_BUFS), so that they all leave with its next wait. */
#define PQ_MAX 128
#define ARENA_SIZE (16 * 1024)   /* copies of STUN responses waiting in a queue */
#define STREAM_RBUF (65536 + 4096)
#define STREAM_WBUF_MAX (1u << 20)
#define TICK_MS 250
/* io_uring event loop: provided receive buffers for the UDP listeners (a power of two). Each
 * holds the recvmsg header, the source address, room for IP_PKTINFO and the datagram. */
#define RX_BUFS 128
#define RX_BGID 1
#define RX_BUF_SIZE \
    (sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage) + sizeof(pktinfo_ctl_t) + SLOT_DATA)
/* Completion tags, bits 32-39 of user_data; UD_RELAY also carries the relay socket's fd (bits
 * 0-31) and its generation (bits 40-63) so a completion left over from a closed socket whose
 * fd was reused is recognised. */
enum { UD_SEND = 1, UD_RECV = 2, UD_POLL = 3, UD_RELAY = 4 };

enum { KIND_UDP = 1, KIND_STREAM = 2 };

typedef struct worker worker_t;
struct relay_sock;

typedef struct {
    struct relay_sock *r;
    const uint8_t *p;
    size_t n;
    struct sockaddr_storage to;
    socklen_t tolen;
} peer_out_t;

/* Room for one IP_PKTINFO / IPV6_PKTINFO control message. */
typedef union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
} pktinfo_ctl_t;

typedef struct {
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage from[BATCH];
    pktinfo_ctl_t ctl[BATCH];
} recv_ring_t;

static recv_ring_t *ring_new(uint8_t *slots, size_t headroom) {
    recv_ring_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    for (unsigned i = 0; i < BATCH; i++) {
        r->iov[i].iov_base = slots + (size_t)i * SLOT_STRIDE + headroom;
        r->iov[i].iov_len = SLOT_DATA;
        r->mm[i].msg_hdr.msg_name = &r->from[i];
        r->mm[i].msg_hdr.msg_namelen = sizeof r->from[i];
        r->mm[i].msg_hdr.msg_iov = &r->iov[i];
        r->mm[i].msg_hdr.msg_iovlen = 1;
        r->mm[i].msg_hdr.msg_control = r->ctl[i].buf;
        r->mm[i].msg_hdr.msg_controllen = sizeof r->ctl[i].buf;
    }
    return r;
}

typedef struct {
    int kind; /* KIND_UDP: first, so a turn_endpoint_t.conn can be told apart */
    worker_t *w;
    int fd;
    uv_poll_t poll;
    rtc_addr_t local;
    /* Bound to 0.0.0.0 / [::]: learn each datagram's destination address (IP_PKTINFO) and
     * answer from that same address, or a multi-homed host would reply from whichever
     * address routing picks and the client would drop the answer. */
    bool wildcard;
    unsigned q_n;
    struct mmsghdr q_msg[QUEUE_MAX];
    struct iovec q_iov[QUEUE_MAX];
    struct sockaddr_storage q_addr[QUEUE_MAX];
    pktinfo_ctl_t q_ctl[QUEUE_MAX];
    size_t arena_used;
    uint8_t arena[ARENA_SIZE];
} udp_listener_t;

typedef struct {
    worker_t *w;
    int fd;
    uv_poll_t poll;
    rtc_addr_t local;
    uint8_t transport;
} stream_listener_t;

typedef struct conn {
    int kind; /* KIND_STREAM */
    worker_t *w;
    int fd;
    uv_poll_t poll;
    SSL *ssl;
    bool handshaking;
    bool failed;        /* close at the next safe point */
    bool closed;
    int events;
    turn_endpoint_t ep;
    rtc_time_t last_active;
    uint8_t *rbuf;
    size_t rlen;
    uint8_t *wbuf;
    size_t wlen, wcap;
    struct conn *prev, *next;
} conn_t;

typedef struct relay_sock {
    uv_poll_t poll;
    worker_t *w;
    int fd;
    uint8_t family;
    turn_relay_t *relay;
    bool df;
    bool fixed;         /* registered in the event ring's file table at index fd */
    bool ring_rx;       /* received through the event ring (multishot), not libuv */
    bool rx_armed;
    bool in_rearm;
    uint32_t gen;
    struct relay_sock *rearm_next;
} relay_sock_t;

struct worker {
    turn_runtime_t *rt;
    unsigned id;
    pthread_t thread;
    bool inited;                /* loop and handles initialised */
    bool started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t timer;
    uv_check_t check;
    turn_server_t *core;
    udp_listener_t *udp[TURN_LISTEN_MAX];
    size_t n_udp;
    stream_listener_t stream[2 * TURN_LISTEN_MAX];
    size_t n_stream;
    uint8_t *lrx;               /* listener receive slots */
    uint8_t *rrx;               /* relay receive slots, filled across sockets until a flush */
    unsigned rrx_next;
    /* recvmmsg descriptors, set up once: entry i always points at slot i. After a call only
     * the address lengths of the entries the kernel filled need resetting. */
    recv_ring_t *lring, *rring;
    /* Client→peer datagrams of the current receive batch, sent grouped by relay socket with
     * one sendmmsg each; the payloads stay in the receive slots until then. */
    peer_out_t pq[PQ_MAX];
    unsigned pq_n;
    /* With io_uring the whole queue leaves in one system call whatever the number of relay
     * sockets (sendmmsg needs one per socket, and each allocation has its own). */
    bool uring;
    struct io_uring ring;
    struct msghdr umsg[PQ_MAX];
    struct iovec uiov[PQ_MAX];
    /* The io_uring event loop (evloop): a second ring on which the thread waits. It receives
     * on the UDP listeners (multishot RECVMSG into provided buffers), sends what they relay
     * (submitted together with the next wait: one io_uring_enter per wake-up, for receive and
     * send), and polls libuv's epoll fd (relay sockets, TCP/TLS, the wake-up async); libuv
     * runs (uv_run NOWAIT) only when that fd is readable or a timer is due. */
    bool evloop;
    struct io_uring ering;
    struct io_uring_buf_ring *br;
    uint8_t *rxbufs;
    struct msghdr rx_tmpl;      /* name and control room of every multishot receive */
    uint16_t held[RX_BUFS];     /* buffers in use: handed back once their sends completed */
    unsigned n_held;
    unsigned n_cover;           /* held[0..n_cover) were received before the last submission */
    unsigned inflight;          /* sends submitted whose completion was not seen yet */
    bool rx_armed[TURN_LISTEN_MAX];
    bool poll_armed;
    /* Relay sockets are registered in the ring's file table (slot = fd), so a send does not
     * look the descriptor up (fget/fput) each time; 0: no table. */
    unsigned nfixed;
    relay_sock_t **by_fd;       /* relay sockets received through the ring, by fd */
    uint32_t rgen;
    relay_sock_t *rearm;        /* relay receives to arm again (ended: ENOBUFS, error) */
    struct msghdr rx_rtmpl;     /* relay receives: name room only, payload after it */
    struct msghdr emsg[PQ_MAX];
    struct iovec eiov[PQ_MAX];
    conn_t *conns;
    unsigned n_conns;
    bool any_failed;
    atomic_bool stop;
    bool closing;
    pthread_mutex_t mu;
    turn_worker_stats_t pub;
    uint64_t send_drops;
    uint64_t iterations;
    uint64_t rx_rearms;
};

struct turn_runtime {
    turn_runtime_config_t cfg;
    turn_shared_t *sh;
    SSL_CTX *ssl_ctx;
    worker_t *workers;
    unsigned n;
    rtc_addr_t bound[3][TURN_LISTEN_MAX];
    bool started, stopped;
};

/* ---- sockets ------------------------------------------------------------------------- */

static int domain_of(const rtc_addr_t *a) { return a->family == RTC_AF_INET6 ? AF_INET6 : AF_INET; }

static void set_df(int fd, uint8_t family, bool on) {
    int v;
    if (family == RTC_AF_INET6) {
        v = on ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_DONT;
        setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
    } else {
        v = on ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    }
}

/* Opens a socket bound to addr; SO_REUSEPORT for listeners; IPv6 sockets are IPv6-only so
 * IPv4 clients never appear as mapped addresses. Returns the fd or -1 (errno kept). */
static int open_socket(const rtc_addr_t *addr, int type, bool reuseport, int rcvbuf, int sndbuf) {
    int fd = socket(domain_of(addr), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (reuseport) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (addr->family == RTC_AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (rcvbuf > 0) rtc_net_set_socket_buffer(fd, true, rcvbuf);  /* FORCE when root: passes rmem_max */
    if (sndbuf > 0) rtc_net_set_socket_buffer(fd, false, sndbuf);
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(addr, &ss, sizeof ss);
    if (sl < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* SO_REUSEPORT lets any process of the same user share a port, so a forgotten second server
 * would silently take part of the traffic. Before the first worker binds with it, check
 * that nobody holds the address already: a plain bind fails if anyone does. */
static bool address_free(const rtc_addr_t *addr, int type) {
    if (addr->port == 0) return true;
    int fd = open_socket(addr, type, false, 0, 0);
    if (fd < 0) return false;
    close(fd);
    return true;
}

static void bound_addr(int fd, rtc_addr_t *out) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) rtc_addr_from_sockaddr(out, (struct sockaddr *)&ss, len);
}

/* ---- UDP send queues ----------------------------------------------------------------- */

static void lq_flush(udp_listener_t *l) {
    unsigned done = 0;
    while (done < l->q_n) {
        int r = sendmmsg(l->fd, l->q_msg + done, l->q_n - done, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                l->w->send_drops += l->q_n - done; /* socket buffer full: UDP may drop */
                break;
            }
            /* The first datagram was refused (unreachable, too big): skip it. */
            done++;
            l->w->send_drops++;
            continue;
        }
        done += (unsigned)r;
    }
    l->q_n = 0;
    l->arena_used = 0;
}

/* Sends the queued client→peer datagrams with one io_uring_enter: one SENDMSG per datagram,
 * each with MSG_DONTWAIT so the kernel completes it inline (sent, or failed with EAGAIN when
 * the socket buffer is full) instead of parking it; all have completed when this returns, so
 * the receive slots and descriptors can be reused. Returns false if the ring failed (it is
 * then closed and the worker uses sendmmsg from now on; the queue is left untouched). */
static bool pq_flush_uring(worker_t *w) {
    unsigned n = w->pq_n;
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
        if (!sqe) goto broken; /* cannot happen: the ring has room for a full queue */
        peer_out_t *o = &w->pq[i];
        w->uiov[i].iov_base = (void *)o->p;
        w->uiov[i].iov_len = o->n;
        struct msghdr *m = &w->umsg[i];
        memset(m, 0, sizeof *m);
        m->msg_name = &o->to;
        m->msg_namelen = o->tolen;
        m->msg_iov = &w->uiov[i];
        m->msg_iovlen = 1;
        io_uring_prep_sendmsg(sqe, o->r->fd, m, MSG_DONTWAIT);
    }
    unsigned reaped = 0;
    for (int tries = 0; reaped < n; tries++) {
        int rc = io_uring_submit_and_wait(&w->ring, n - reaped);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            err = rc;
            goto broken;
        }
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            if (cqe->res < 0) w->send_drops++; /* EAGAIN/ENOBUFS: buffer full; or refused */
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        reaped += seen;
        if (tries > 1000) goto broken;
    }
    w->pq_n = 0;
    return true;
broken:
    RTC_LOGW("turn", "worker %u: io_uring failed (%s); sending with sendmmsg from now on", w->id,
             err ? strerror(-err) : "stuck");
    io_uring_queue_exit(&w->ring); /* drops whatever was not submitted */
    w->uring = false;
    return false;
}

/* Sends the queued client→peer datagrams, one sendmmsg per relay socket. */
static void pq_flush(worker_t *w) {
    unsigned n = w->pq_n;
    if (!n) return;
    if (w->uring && pq_flush_uring(w)) return;
    bool done[PQ_MAX] = {false};
    struct mmsghdr mm[PQ_MAX];
    struct iovec iov[PQ_MAX];
    for (unsigned i = 0; i < n; i++) {
        if (done[i]) continue;
        relay_sock_t *r = w->pq[i].r;
        unsigned k = 0;
        for (unsigned j = i; j < n; j++) {
            if (done[j] || w->pq[j].r != r) continue;
            done[j] = true;
            iov[k].iov_base = (void *)w->pq[j].p;
            iov[k].iov_len = w->pq[j].n;
            memset(&mm[k].msg_hdr, 0, sizeof mm[k].msg_hdr);
            mm[k].msg_hdr.msg_name = &w->pq[j].to;
            mm[k].msg_hdr.msg_namelen = w->pq[j].tolen;
            mm[k].msg_hdr.msg_iov = &iov[k];
            mm[k].msg_hdr.msg_iovlen = 1;
            k++;
        }
        unsigned sent = 0;
        while (sent < k) {
            int rc = sendmmsg(r->fd, mm + sent, k - sent, MSG_DONTWAIT);
            if (rc < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                    w->send_drops += k - sent;
                    break;
                }
                sent++; /* this destination refused it (unreachable, too big): skip it */
                w->send_drops++;
                continue;
            }
            sent += (unsigned)rc;
        }
    }
    w->pq_n = 0;
}

static void flush_all(worker_t *w) {
    pq_flush(w);
    for (size_t i = 0; i < w->n_udp; i++)
        if (w->udp[i]->q_n) lq_flush(w->udp[i]);
    w->rrx_next = 0;
}

/* Sets the source address of a datagram to be sent (wildcard listeners). */
static void set_source(struct msghdr *m, pktinfo_ctl_t *ctl, const rtc_addr_t *src) {
    memset(ctl, 0, sizeof *ctl);
    m->msg_control = ctl->buf;
    struct cmsghdr *c = (struct cmsghdr *)ctl->buf;
    if (src->family == RTC_AF_INET4) {
        struct in_pktinfo pi = {0};
        memcpy(&pi.ipi_spec_dst, src->ip, 4);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
        m->msg_controllen = CMSG_SPACE(sizeof pi);
    } else {
        struct in6_pktinfo pi = {0};
        memcpy(&pi.ipi6_addr, src->ip, 16);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
        m->msg_controllen = CMSG_SPACE(sizeof pi);
    }
}

/* The destination address of a received datagram, from its IP_PKTINFO control message. */
static bool read_destination(const struct msghdr *m, uint16_t port, rtc_addr_t *out) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            rtc_addr_set_v4(out, (const uint8_t *)&pi.ipi_addr, port);
            return true;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            rtc_addr_set_v6(out, pi.ipi6_addr.s6_addr, port);
            return true;
        }
    }
    return false;
}

static void lq_push(udp_listener_t *l, const rtc_addr_t *to, const rtc_addr_t *from, const uint8_t *p, size_t n,
                    bool borrowed) {
    if (l->q_n == QUEUE_MAX) lq_flush(l);
    if (!borrowed) {
        if (n > ARENA_SIZE) return;
        if (l->arena_used + n > ARENA_SIZE) lq_flush(l);
        memcpy(l->arena + l->arena_used, p, n);
        p = l->arena + l->arena_used;
        l->arena_used += (n + 7) & ~(size_t)7;
    }
    unsigned i = l->q_n;
    int sl = rtc_addr_to_sockaddr(to, &l->q_addr[i], sizeof l->q_addr[i]);
    if (sl < 0) return;
    l->q_iov[i].iov_base = (void *)p;
    l->q_iov[i].iov_len = n;
    memset(&l->q_msg[i].msg_hdr, 0, sizeof l->q_msg[i].msg_hdr);
    l->q_msg[i].msg_hdr.msg_name = &l->q_addr[i];
    l->q_msg[i].msg_hdr.msg_namelen = (socklen_t)sl;
    l->q_msg[i].msg_hdr.msg_iov = &l->q_iov[i];
    l->q_msg[i].msg_hdr.msg_iovlen = 1;
    if (l->wildcard && from->family == to->family && !rtc_addr_is_any(from))
        set_source(&l->q_msg[i].msg_hdr, &l->q_ctl[i], from);
    l->q_n++;
}

/* ---- stream connections -------------------------------------------------------------- */

static void conn_fail(conn_t *c) {
    if (c->failed) return;
    c->failed = true;
    c->w->any_failed = true;
}

static void on_conn_io(uv_poll_t *h, int status, int events);

static void conn_set_events(conn_t *c, int events) {
    if (c->closed || events == c->events) return;
    c->events = events;
    uv_poll_start(&c->poll, events, on_conn_io);
}

static void on_conn_closed_handle(uv_handle_t *h) {
    conn_t *c = h->data;
    free(c->rbuf);
    free(c->wbuf);
    free(c);
}

static void conn_close(conn_t *c) {
    if (c->closed) return;
    c->closed = true;
    worker_t *w = c->w;
    turn_server_on_conn_closed(w->core, &c->ep);
    if (c->ssl) {
        if (!c->handshaking && !c->failed) SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    uv_poll_stop(&c->poll);
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->n_conns--;
    uv_close((uv_handle_t *)&c->poll, on_conn_closed_handle);
}

static void close_failed_conns(worker_t *w) {
    if (!w->any_failed) return;
    w->any_failed = false;
    for (conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->failed) conn_close(c);
    }
}

/* Writes as much as the socket takes; returns false on a fatal error. */
static bool conn_flush(conn_t *c) {
    while (c->wlen) {
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error(); /* SSL_get_error reads the thread's queue: start it empty */
            int r = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
                return false;
            }
            n = r;
        } else {
            n = write(c->fd, c->wbuf, c->wlen);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                return false;
            }
        }
        memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
        c->wlen -= (size_t)n;
    }
    conn_set_events(c, UV_READABLE | (c->wlen ? UV_WRITABLE : 0));
    return true;
}

static void conn_write(conn_t *c, const uint8_t *p, size_t n) {
    if (c->failed || c->closed) return;
    if (c->wlen == 0 && !c->handshaking) {
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, (int)n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
            } else {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) { conn_fail(c); return; }
            }
        } else {
            ssize_t r = write(c->fd, p, n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
            } else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_fail(c);
                return;
            }
        }
        if (n == 0) return;
    }
    if (c->wlen + n > STREAM_WBUF_MAX) {
        c->w->send_drops++; /* a slow reader loses relayed data, as over UDP */
        return;
    }
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 8192;
        while (cap < c->wlen + n) cap *= 2;
        uint8_t *nb = realloc(c->wbuf, cap);
        if (!nb) { c->w->send_drops++; return; }
        c->wbuf = nb;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    conn_set_events(c, UV_READABLE | UV_WRITABLE);
}

/* Cuts the read buffer into frames and hands them to the core. */
static void conn_frames(conn_t *c, rtc_time_t now) {
    size_t off = 0;
    while (off < c->rlen && !c->failed) {
        int fl = turn_server_frame_length(c->w->core, c->rbuf + off, c->rlen - off);
        if (fl == RTC_ERR_AGAIN) break;
        if (fl < 0 || (size_t)fl > STREAM_RBUF) {
            RTC_LOGI("turn", "closing %s connection from %s: not STUN or ChannelData",
                     c->ssl ? "TLS" : "TCP", rtc_addr_str(&c->ep.remote));
            conn_fail(c);
            return;
        }
        if (c->rlen - off < (size_t)fl) break;
        turn_server_on_client(c->w->core, &c->ep, c->rbuf + off, (size_t)fl, now);
        off += (size_t)fl;
    }
    pq_flush(c->w); /* payloads queued for peers point into rbuf, which moves now */
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static void conn_read(conn_t *c, rtc_time_t now) {
    for (;;) {
        if (c->rlen == STREAM_RBUF) { conn_fail(c); return; }
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(STREAM_RBUF - c->rlen));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) return;
                if (e == SSL_ERROR_WANT_WRITE) { conn_set_events(c, UV_READABLE | UV_WRITABLE); return; }
                conn_fail(c); /* close_notify, EOF or error */
                return;
            }
            n = r;
        } else {
            n = read(c->fd, c->rbuf + c->rlen, STREAM_RBUF - c->rlen);
            if (n == 0) { conn_fail(c); return; }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == EINTR) continue;
                conn_fail(c);
                return;
            }
        }
        c->rlen += (size_t)n;
        conn_frames(c, now);
        if (c->failed) return;
    }
}

static void on_conn_io(uv_poll_t *h, int status, int events) {
    conn_t *c = h->data;
    worker_t *w = c->w;
    if (c->closed) return;
    rtc_time_t now = rtc_clock_now();
    c->last_active = now;
    if (status < 0) {
        conn_fail(c);
    } else if (c->handshaking) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
            c->handshaking = false;
            conn_read(c, now); /* data may have come with the handshake's last flight */
            if (!c->failed) conn_flush(c);
        } else {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) conn_set_events(c, UV_READABLE);
            else if (e == SSL_ERROR_WANT_WRITE) conn_set_events(c, UV_READABLE | UV_WRITABLE);
            else {
                char why[160] = "";
                unsigned long e2 = ERR_peek_error();
                if (e2) ERR_error_string_n(e2, why, sizeof why);
                ERR_clear_error(); /* leave nothing behind for the next connection's SSL_get_error */
                RTC_LOGI("turn", "TLS handshake with %s failed%s%s", rtc_addr_str(&c->ep.remote), why[0] ? ": " : "", why);
                conn_fail(c);
            }
        }
    } else {
        if ((events & UV_WRITABLE) && !conn_flush(c)) conn_fail(c);
        if (!c->failed && (events & UV_READABLE)) conn_read(c, now);
    }
    close_failed_conns(w);
}

static void on_accept(uv_poll_t *h, int status, int events) {
    (void)events;
    stream_listener_t *sl = h->data;
    worker_t *w = sl->w;
    if (status < 0) return;
    unsigned max = w->rt->cfg.max_connections ? w->rt->cfg.max_connections : 4096;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(sl->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                RTC_LOGW("turn", "accept on %s: %s", rtc_addr_str(&sl->local), strerror(errno));
            return;
        }
        if (w->n_conns >= max) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        uint8_t *rbuf = malloc(STREAM_RBUF);
        if (!c || !rbuf) {
            free(c);
            free(rbuf);
            close(fd);
            continue;
        }
        c->kind = KIND_STREAM;
        c->w = w;
        c->fd = fd;
        c->rbuf = rbuf;
        c->ep.conn = c;
        c->ep.transport = sl->transport;
        c->ep.local = sl->local;
        rtc_addr_from_sockaddr(&c->ep.remote, (struct sockaddr *)&ss, len);
        c->last_active = rtc_clock_now();
        if (sl->transport == TURN_TRANSPORT_TLS) {
            c->ssl = SSL_new(w->rt->ssl_ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                if (c->ssl) SSL_free(c->ssl);
                free(rbuf);
                free(c);
                close(fd);
                continue;
            }
            SSL_set_accept_state(c->ssl);
            c->handshaking = true;
        }
        uv_poll_init(&w->loop, &c->poll, fd);
        c->poll.data = c;
        c->events = UV_READABLE;
        uv_poll_start(&c->poll, UV_READABLE, on_conn_io);
        c->next = w->conns;
        if (w->conns) w->conns->prev = c;
        w->conns = c;
        w->n_conns++;
    }
}

/* ---- core callbacks ------------------------------------------------------------------ */

static void on_relay_readable(uv_poll_t *h, int status, int events);
static void ev_relay_arm(worker_t *w, relay_sock_t *r);
static void ev_relay_forget(worker_t *w, relay_sock_t *r);

static int op_relay_open(void *user, turn_relay_t *relay, const rtc_addr_t *addr, bool df, int64_t hold, void **io) {
    worker_t *w = user;
    /* A held port (EVEN-PORT reservation) is already bound: adopt its socket. */
    int fd = hold >= 0 ? (int)hold : open_socket(addr, SOCK_DGRAM, false, 0, 0);
    if (fd < 0) return RTC_ERR_IO;
    set_df(fd, addr->family, df);
    relay_sock_t *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return RTC_ERR_NOMEM;
    }
    r->w = w;
    r->fd = fd;
    r->family = addr->family;
    r->relay = relay;
    r->df = df;
    if (w->evloop && (unsigned)fd < w->nfixed && io_uring_register_files_update(&w->ering, (unsigned)fd, &fd, 1) == 1)
        r->fixed = true;
    uv_poll_init(&w->loop, &r->poll, fd);
    r->poll.data = r;
    if (r->fixed && w->by_fd) {
        r->ring_rx = true;
        r->gen = ++w->rgen & 0xFFFFFF;
        w->by_fd[fd] = r;
        ev_relay_arm(w, r);
    } else {
        uv_poll_start(&r->poll, UV_READABLE, on_relay_readable);
    }
    *io = r;
    return RTC_OK;
}

static int op_port_hold(void *user, const rtc_addr_t *addr, int64_t *hold) {
    (void)user;
    int fd = open_socket(addr, SOCK_DGRAM, false, 0, 0);
    if (fd < 0) return RTC_ERR_IO;
    *hold = fd;
    return RTC_OK;
}

/* Called by the port pool, from any thread, for a reservation nobody claimed. */
static void release_port_hold(int64_t hold) { close((int)hold); }

static void free_handle_data(uv_handle_t *h) { free(h->data); }

static void op_relay_close(void *user, void *io) {
    relay_sock_t *r = io;
    worker_t *w = user;
    pq_flush(w); /* nothing queued may outlive the socket (or reach a reused fd) */
    if (r->ring_rx) ev_relay_forget(w, r);
    if (r->fixed && w->evloop) { /* the table holds a reference: the socket would live on */
        int none = -1;
        io_uring_register_files_update(&w->ering, (unsigned)r->fd, &none, 1);
    }
    r->fixed = false;
    uv_poll_stop(&r->poll);
    close(r->fd);
    uv_close((uv_handle_t *)&r->poll, free_handle_data);
}

static void op_send_client(void *user, const turn_endpoint_t *to, const uint8_t *p, size_t n, unsigned flags) {
    (void)user;
    if (*(const int *)to->conn == KIND_UDP) lq_push(to->conn, &to->remote, &to->local, p, n, flags & TURN_SEND_BORROWED);
    else conn_write(to->conn, p, n);
}

static void op_send_peer(void *user, void *io, const rtc_addr_t *peer, const uint8_t *p, size_t n, unsigned flags) {
    worker_t *w = user;
    relay_sock_t *r = io;
    bool df = (flags & TURN_SEND_DF) != 0;
    if (df != r->df) {
        pq_flush(w); /* what is queued goes out with the socket's current DF setting */
        set_df(r->fd, r->family, df);
        r->df = df;
    }
    if (w->pq_n == PQ_MAX) pq_flush(w);
    peer_out_t *o = &w->pq[w->pq_n];
    int sl = rtc_addr_to_sockaddr(peer, &o->to, sizeof o->to);
    if (sl < 0) return;
    o->r = r;
    o->p = p;
    o->n = n;
    o->tolen = (socklen_t)sl;
    if (flags & TURN_SEND_BORROWED) {
        w->pq_n++;
        return;
    }
    /* Not borrowed (never the case today): send now, the bytes will not stay. */
    if (sendto(r->fd, p, n, MSG_DONTWAIT, (struct sockaddr *)&o->to, o->tolen) < 0) w->send_drops++;
}

static const turn_server_ops_t ops = {op_relay_open, op_relay_close, op_send_client, op_send_peer, op_port_hold};

/* ---- receive paths ------------------------------------------------------------------- */

static void on_relay_readable(uv_poll_t *h, int status, int events) {
    (void)events;
    relay_sock_t *r = h->data;
    worker_t *w = r->w;
    if (status < 0) return;
    if (BATCH - w->rrx_next < 8) flush_all(w);
    unsigned first = w->rrx_next, want = BATCH - first;
    if (want > RELAY_READ_MAX) want = RELAY_READ_MAX;
    struct mmsghdr *mm = &w->rring->mm[first];
    int got = recvmmsg(r->fd, mm, want, MSG_DONTWAIT, NULL);
    if (got <= 0) return; /* EAGAIN, or an ICMP error from an earlier send: nothing to read */
    rtc_time_t now = rtc_clock_now();
    turn_relay_t *relay = r->relay;
    for (int i = 0; i < got; i++) {
        struct msghdr *m = &mm[i].msg_hdr;
        rtc_addr_t peer;
        if (!(m->msg_flags & MSG_TRUNC) &&
            rtc_addr_from_sockaddr(&peer, (struct sockaddr *)m->msg_name, m->msg_namelen) == RTC_OK)
            turn_server_on_peer(w->core, relay, &peer, m->msg_iov->iov_base, mm[i].msg_len, now);
        m->msg_namelen = sizeof(struct sockaddr_storage);
        m->msg_controllen = sizeof(pktinfo_ctl_t);
    }
    w->rrx_next += (unsigned)got;
}

static void on_udp_readable(uv_poll_t *h, int status, int events) {
    (void)events;
    udp_listener_t *l = h->data;
    worker_t *w = l->w;
    if (status < 0) return;
    struct mmsghdr *mm = w->lring->mm;
    turn_endpoint_t ep = {.conn = l, .local = l->local, .transport = TURN_TRANSPORT_UDP};
    for (int round = 0; round < LISTEN_ROUNDS; round++) {
        int got = recvmmsg(l->fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) return;
        rtc_time_t now = rtc_clock_now();
        for (int i = 0; i < got; i++) {
            struct msghdr *m = &mm[i].msg_hdr;
            if (l->wildcard && !read_destination(m, l->local.port, &ep.local)) ep.local = l->local;
            if (!(m->msg_flags & MSG_TRUNC) &&
                rtc_addr_from_sockaddr(&ep.remote, (struct sockaddr *)m->msg_name, m->msg_namelen) == RTC_OK)
                turn_server_on_client(w->core, &ep, m->msg_iov->iov_base, mm[i].msg_len, now);
            m->msg_namelen = sizeof(struct sockaddr_storage);
            m->msg_controllen = sizeof(pktinfo_ctl_t);
        }
        pq_flush(w); /* before the next recvmmsg reuses the slots the payloads are in */
        if (got < BATCH) return; /* drained: skip the recvmmsg that would say EAGAIN */
    }
}

/* ---- worker loop --------------------------------------------------------------------- */

static void publish(worker_t *w) {
    pthread_mutex_lock(&w->mu);
    w->pub.core = *turn_server_stats(w->core);
    w->pub.send_drops = w->send_drops;
    w->pub.stream_connections = w->n_conns;
    w->pub.loop_iterations = w->iterations;
    w->pub.io_uring = w->uring;
    w->pub.io_uring_loop = w->evloop;
    w->pub.rx_rearms = w->rx_rearms;
    pthread_mutex_unlock(&w->mu);
}

static void on_check(uv_check_t *h) {
    worker_t *w = h->data;
    w->iterations++;
    flush_all(w);
    close_failed_conns(w);
}

static void on_tick(uv_timer_t *h) {
    worker_t *w = h->data;
    rtc_time_t now = rtc_clock_now();
    if (turn_server_next_timeout(w->core) <= now) turn_server_handle_timeout(w->core, now);
    /* Unclaimed reservations lapse even on a worker with no allocation left to sweep. */
    if (w->id == 0) turn_ports_expire(w->rt->sh->ports, now);
    /* Connections that never got (or lost) an allocation are closed when idle. */
    unsigned idle_s = w->rt->cfg.stream_idle_timeout_s ? w->rt->cfg.stream_idle_timeout_s : 60;
    for (conn_t *c = w->conns; c; c = c->next) {
        if (now - c->last_active < RTC_SEC(idle_s)) continue;
        turn_alloc_info_t info;
        if (turn_server_alloc_info(w->core, &c->ep, &info) != RTC_OK) conn_fail(c);
    }
    close_failed_conns(w);
    flush_all(w);
    publish(w);
}

static void close_handle(uv_handle_t *h) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Tears the worker down on its own loop: connections, core (closing relays), listeners. */
static void worker_shutdown(worker_t *w) {
    if (w->closing) return;
    w->closing = true;
    flush_all(w);
    while (w->conns) conn_close(w->conns);
    if (w->core) {
        publish(w);
        turn_server_free(w->core);
        w->core = NULL;
    }
    for (size_t i = 0; i < w->n_udp; i++) {
        uv_poll_stop(&w->udp[i]->poll);
        close_handle((uv_handle_t *)&w->udp[i]->poll);
    }
    for (size_t i = 0; i < w->n_stream; i++) {
        uv_poll_stop(&w->stream[i].poll);
        close_handle((uv_handle_t *)&w->stream[i].poll);
    }
    close_handle((uv_handle_t *)&w->timer);
    close_handle((uv_handle_t *)&w->check);
    close_handle((uv_handle_t *)&w->wake);
}

static void on_wake(uv_async_t *h) {
    worker_t *w = h->data;
    if (atomic_load(&w->stop)) worker_shutdown(w);
}

static void uring_init(worker_t *w);

/* ---- io_uring event loop ------------------------------------------------------------- */

static inline uint64_t ud(unsigned tag, unsigned idx) { return (uint64_t)tag << 32 | idx; }

static struct io_uring_sqe *ev_sqe(worker_t *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ering);
    if (!sqe) { /* full (cannot happen with the ring's size): make room */
        io_uring_submit(&w->ering);
        sqe = io_uring_get_sqe(&w->ering);
    }
    return sqe;
}

static void ev_arm_recv(worker_t *w, size_t i) {
    struct io_uring_sqe *sqe = ev_sqe(w);
    if (!sqe) return;
    io_uring_prep_recvmsg_multishot(sqe, w->udp[i]->fd, &w->rx_tmpl, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RX_BGID;
    io_uring_sqe_set_data64(sqe, ud(UD_RECV, (unsigned)i));
    w->rx_armed[i] = true;
}

/* One-shot, re-armed after each uv_run: a poll on a still-ready epoll fd completes at once,
 * so events libuv left for later (a relay socket read only up to RELAY_READ_MAX) are not
 * forgotten until the next wake-up. */
static void ev_arm_poll(worker_t *w) {
    struct io_uring_sqe *sqe = ev_sqe(w);
    if (!sqe) return;
    io_uring_prep_poll_add(sqe, uv_backend_fd(&w->loop), POLLIN);
    io_uring_sqe_set_data64(sqe, ud(UD_POLL, 0));
    w->poll_armed = true;
}

static inline uint64_t ud_relay(const relay_sock_t *r) {
    return (uint64_t)r->gen << 40 | (uint64_t)UD_RELAY << 32 | (uint32_t)r->fd;
}

/* Multishot receive on a relay socket (registered file, slot = fd) into the same provided
 * buffers; the peer's data lands after 16 + 128 bytes of header and name, room enough for
 * the TURN_PEER_HEADROOM the core writes in front of it once the name has been read. */
static void ev_relay_arm(worker_t *w, relay_sock_t *r) {
    struct io_uring_sqe *sqe = ev_sqe(w);
    if (!sqe) return;
    io_uring_prep_recvmsg_multishot(sqe, r->fd, &w->rx_rtmpl, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE;
    sqe->buf_group = RX_BGID;
    io_uring_sqe_set_data64(sqe, ud_relay(r));
    r->rx_armed = true;
}

/* Before a ring-received relay socket is closed: its receive is cancelled synchronously
 * (the ring holds a reference to the socket, which would otherwise stay bound), and it
 * leaves the tables, so completions still queued for it are recognised as stale. */
static void ev_relay_forget(worker_t *w, relay_sock_t *r) {
    io_uring_submit(&w->ering); /* an arm still waiting in the queue must be cancellable */
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = ud_relay(r);
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&w->ering, &reg);
    if (w->by_fd && w->by_fd[r->fd] == r) w->by_fd[r->fd] = NULL;
    if (r->in_rearm) {
        for (relay_sock_t **pp = &w->rearm; *pp; pp = &(*pp)->rearm_next)
            if (*pp == r) { *pp = r->rearm_next; break; }
        r->in_rearm = false;
    }
    r->ring_rx = false;
}

/* A completion of a relay socket's multishot receive. */
static void ev_on_relay(worker_t *w, const struct io_uring_cqe *cqe, rtc_time_t now) {
    unsigned fd = (uint32_t)cqe->user_data;
    uint32_t gen = (uint32_t)(cqe->user_data >> 40);
    relay_sock_t *r = w->by_fd && fd < w->nfixed ? w->by_fd[fd] : NULL;
    if (r && r->gen != gen) r = NULL; /* from a socket closed since */
    uint8_t *buf = NULL;
    if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (bid < RX_BUFS) {
            w->held[w->n_held++] = (uint16_t)bid;
            buf = w->rxbufs + (size_t)bid * RX_BUF_SIZE;
        }
    }
    if (!r) return;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        r->rx_armed = false;
        if (!r->in_rearm) {
            r->in_rearm = true;
            r->rearm_next = w->rearm;
            w->rearm = r;
        }
        w->rx_rearms++;
    }
    if (!buf) return;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, &w->rx_rtmpl);
    if (!o || (o->flags & MSG_TRUNC) || o->namelen > w->rx_rtmpl.msg_namelen) return;
    rtc_addr_t peer;
    if (rtc_addr_from_sockaddr(&peer, io_uring_recvmsg_name(o), o->namelen) != RTC_OK) return;
    uint8_t *p = io_uring_recvmsg_payload(o, &w->rx_rtmpl);
    unsigned n = io_uring_recvmsg_payload_length(o, cqe->res, &w->rx_rtmpl);
    if (p + n + TURN_PEER_TAILROOM > buf + RX_BUF_SIZE) return; /* no room to pad behind */
    turn_server_on_peer(w->core, r->relay, &peer, p, n, now);
}

/* Hands receive buffers back to the kernel: those held since before the last submission
 * (n_cover of them, at the front of held), once every send submitted has completed — queued
 * payloads point into them. Buffers received since stay held until the next round. */
static void ev_recycle(worker_t *w) {
    if (w->inflight || !w->n_cover) return;
    int mask = io_uring_buf_ring_mask(RX_BUFS);
    for (unsigned i = 0; i < w->n_cover; i++)
        io_uring_buf_ring_add(w->br, w->rxbufs + (size_t)w->held[i] * RX_BUF_SIZE, RX_BUF_SIZE, w->held[i], mask,
                              (int)i);
    io_uring_buf_ring_advance(w->br, (int)w->n_cover);
    memmove(w->held, w->held + w->n_cover, (w->n_held - w->n_cover) * sizeof w->held[0]);
    w->n_held -= w->n_cover;
    w->n_cover = 0;
}

/* Turns the queued client→peer datagrams into SENDMSG entries that leave with the next
 * io_uring_enter (MSG_DONTWAIT: completed, or failed with EAGAIN, inside that call). The
 * kernel copies msghdr, iovec and address when it takes the entry, so pq may be reused
 * afterwards. */
static unsigned ev_queue_sends(worker_t *w) {
    unsigned n = w->pq_n;
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = ev_sqe(w);
        if (!sqe) { w->send_drops += n - i; break; }
        peer_out_t *o = &w->pq[i];
        w->eiov[i].iov_base = (void *)o->p;
        w->eiov[i].iov_len = o->n;
        struct msghdr *m = &w->emsg[i];
        memset(m, 0, sizeof *m);
        m->msg_name = &o->to;
        m->msg_namelen = o->tolen;
        m->msg_iov = &w->eiov[i];
        m->msg_iovlen = 1;
        io_uring_prep_sendmsg(sqe, o->r->fd, m, MSG_DONTWAIT);
        if (o->r->fixed) sqe->flags |= IOSQE_FIXED_FILE; /* index fd in the file table */
        io_uring_sqe_set_data64(sqe, ud(UD_SEND, i));
        w->inflight++;
    }
    w->pq_n = 0;
    w->n_cover = w->n_held; /* everything received so far is covered by this submission */
    return n;
}

/* A datagram from a multishot receive on listener l. */
static void ev_on_datagram(worker_t *w, udp_listener_t *l, const struct io_uring_cqe *cqe, rtc_time_t now) {
    if (!(cqe->flags & IORING_CQE_F_BUFFER)) return;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (bid >= RX_BUFS) return;
    w->held[w->n_held++] = (uint16_t)bid;
    uint8_t *buf = w->rxbufs + (size_t)bid * RX_BUF_SIZE;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, &w->rx_tmpl);
    if (!o || (o->flags & MSG_TRUNC) || o->namelen > w->rx_tmpl.msg_namelen) return;
    turn_endpoint_t ep = {.conn = l, .local = l->local, .transport = TURN_TRANSPORT_UDP};
    if (l->wildcard) {
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_control = (char *)io_uring_recvmsg_name(o) + w->rx_tmpl.msg_namelen;
        m.msg_controllen = o->controllen;
        if (!read_destination(&m, l->local.port, &ep.local)) ep.local = l->local;
    }
    if (rtc_addr_from_sockaddr(&ep.remote, io_uring_recvmsg_name(o), o->namelen) != RTC_OK) return;
    uint8_t *p = io_uring_recvmsg_payload(o, &w->rx_tmpl);
    unsigned n = io_uring_recvmsg_payload_length(o, cqe->res, &w->rx_tmpl);
    turn_server_on_client(w->core, &ep, p, n, now);
}

static void ev_teardown(worker_t *w) {
    if (!w->evloop) return;
    pq_flush(w); /* nothing may point into the receive buffers any more */
    io_uring_queue_exit(&w->ering); /* cancels the receives and the poll */
    w->evloop = false;
    /* Relay sockets still open go back to libuv. */
    for (unsigned fd = 0; w->by_fd && fd < w->nfixed; fd++) {
        relay_sock_t *r = w->by_fd[fd];
        if (!r) continue;
        r->ring_rx = r->fixed = r->in_rearm = false;
        uv_poll_start(&r->poll, UV_READABLE, on_relay_readable);
    }
    free(w->by_fd);
    w->by_fd = NULL;
    w->rearm = NULL;
    w->nfixed = 0;
    w->inflight = w->n_held = w->n_cover = 0;
}

/* Sets the event loop up: ring, provided buffers, listeners taken off libuv. false: not
 * possible here (old kernel, io_uring refused), libuv drives everything. */
static bool ev_init(worker_t *w) {
    if (!w->n_udp) return false;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
#if defined(IORING_SETUP_DEFER_TASKRUN) && defined(IORING_SETUP_SINGLE_ISSUER)
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
#endif
    if (io_uring_queue_init_params(4 * PQ_MAX, &w->ering, &p) != 0) return false;
    if (!(p.features & IORING_FEAT_EXT_ARG)) goto fail; /* waits with a timeout need it */
    struct rlimit rl;
    w->nfixed = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        unsigned n = rl.rlim_cur > 65536 ? 65536 : (unsigned)rl.rlim_cur;
        if (n && io_uring_register_files_sparse(&w->ering, n) == 0) w->nfixed = n;
    }
    if (w->nfixed && !(w->by_fd = calloc(w->nfixed, sizeof *w->by_fd))) w->nfixed = 0;
    size_t brsz = RX_BUFS * sizeof(struct io_uring_buf);
    void *br = NULL;
    if (posix_memalign(&br, 4096, brsz) != 0) goto fail;
    memset(br, 0, brsz);
    w->br = br;
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = RX_BUFS, .bgid = RX_BGID};
    if (io_uring_register_buf_ring(&w->ering, &reg, 0) != 0) goto fail;
    if (!w->rxbufs && !(w->rxbufs = malloc((size_t)RX_BUFS * RX_BUF_SIZE))) goto fail;
    io_uring_buf_ring_init(w->br);
    for (unsigned i = 0; i < RX_BUFS; i++) w->held[i] = (uint16_t)i;
    w->n_held = w->n_cover = RX_BUFS;
    w->inflight = 0;
    ev_recycle(w);
    memset(&w->rx_tmpl, 0, sizeof w->rx_tmpl);
    w->rx_tmpl.msg_namelen = sizeof(struct sockaddr_storage);
    w->rx_tmpl.msg_controllen = sizeof(pktinfo_ctl_t);
    memset(&w->rx_rtmpl, 0, sizeof w->rx_rtmpl);
    w->rx_rtmpl.msg_namelen = sizeof(struct sockaddr_storage);
    for (size_t i = 0; i < w->n_udp; i++) {
        uv_poll_stop(&w->udp[i]->poll);
        ev_arm_recv(w, i);
    }
    ev_arm_poll(w);
    w->evloop = true;
    return true;
fail:
    io_uring_queue_exit(&w->ering);
    return false;
}

/* Back to libuv alone after an io_uring failure. */
static void ev_give_up(worker_t *w, int err) {
    RTC_LOGW("turn", "worker %u: io_uring event loop failed (%s); back to epoll and recvmmsg", w->id, strerror(-err));
    ev_teardown(w);
    for (size_t i = 0; i < w->n_udp; i++) uv_poll_start(&w->udp[i]->poll, UV_READABLE, on_udp_readable);
    publish(w);
}

/* libuv applies uv_poll_start/stop to its epoll set only when it next polls (the watcher
 * queue of struct uv_loop_s, whose first word is its "next" link in every libuv version:
 * empty when it points at itself). A relay socket opened by the core, or a connection
 * accepted, is not watched until then, so the event loop runs libuv at once while changes
 * wait there. */
static bool uv_changes_pending(uv_loop_t *loop) {
    void *q = (void *)&loop->watcher_queue;
    return *(void **)q != q;
}

static void ev_run(worker_t *w) {
    uint64_t uv_due = 0; /* uv_hrtime() at which libuv must run (timers); 0: at once */
    while (w->evloop) {
        w->iterations++;
        /* What the last wake-up produced leaves now; then wait for the next one. */
        unsigned sends = ev_queue_sends(w);
        for (size_t i = 0; i < w->n_udp; i++)
            if (!w->rx_armed[i] && w->n_held < RX_BUFS) ev_arm_recv(w, i);
        while (w->rearm && w->n_held < RX_BUFS) {
            relay_sock_t *r = w->rearm;
            w->rearm = r->rearm_next;
            r->in_rearm = false;
            ev_relay_arm(w, r);
        }
        if (!w->poll_armed) ev_arm_poll(w);
        uint64_t t = uv_hrtime();
        bool run_uv = t >= uv_due;
        struct __kernel_timespec ts = {0, 0};
        if (!run_uv) {
            ts.tv_sec = (long long)((uv_due - t) / 1000000000u);
            ts.tv_nsec = (long long)((uv_due - t) % 1000000000u);
        }
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_submit_and_wait_timeout(&w->ering, &cqe, run_uv ? 0 : sends + 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            ev_give_up(w, rc);
            break;
        }
        rtc_time_t now = rtc_clock_now();
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ering, head, cqe) {
            seen++;
            unsigned tag = (unsigned)(cqe->user_data >> 32) & 0xFF, idx = (unsigned)cqe->user_data;
            if (tag == UD_SEND) {
                if (w->inflight) w->inflight--;
                if (cqe->res < 0) w->send_drops++; /* EAGAIN/ENOBUFS: buffer full; or refused */
            } else if (tag == UD_RECV && idx < w->n_udp) {
                /* Without F_MORE the receive has ended (ENOBUFS: every buffer held; or an
                 * error): armed again at the top of the loop. */
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    w->rx_armed[idx] = false;
                    w->rx_rearms++;
                }
                if (cqe->res >= 0) ev_on_datagram(w, w->udp[idx], cqe, now);
            } else if (tag == UD_RELAY) {
                ev_on_relay(w, cqe, now);
            } else if (tag == UD_POLL) {
                w->poll_armed = false;
                run_uv = true;
            }
        }
        io_uring_cq_advance(&w->ering, seen);
        if (uv_hrtime() >= uv_due || uv_changes_pending(&w->loop)) run_uv = true;
        /* Responses to clients (STUN) go out now; relayed payloads with the next wait. */
        for (size_t i = 0; i < w->n_udp; i++)
            if (w->udp[i]->q_n) lq_flush(w->udp[i]);
        if (run_uv) {
            uv_run(&w->loop, UV_RUN_NOWAIT); /* its check callback flushes pq synchronously */
            if (w->closing) break;
            int ms = uv_backend_timeout(&w->loop);
            if (ms < 0 || ms > TICK_MS) ms = TICK_MS;
            uv_due = uv_changes_pending(&w->loop) ? 0 : uv_hrtime() + (uint64_t)ms * 1000000u;
        }
        close_failed_conns(w);
        ev_recycle(w);
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    /* Made here: a single-issuer ring belongs to the thread that creates it. */
    if (!w->rt->cfg.no_io_uring) {
        uring_init(w);
        if (w->uring && ev_init(w)) {
            publish(w);
            ev_run(w);
            ev_teardown(w);
        }
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- runtime ------------------------------------------------------------------------- */

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key) {
    if (!cert || !key) {
        RTC_LOGE("turn", "TLS listeners need tls.cert and tls.key");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        RTC_LOGE("turn", "TLS certificate %s / key %s: %s", cert, key, e);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One io_uring per worker for sends, with the cheapest setup the kernel offers: only this
 * thread submits, completions are posted when it asks for them. Older kernels refuse the
 * flags they do not know (EINVAL): retry without. No io_uring at all (ENOSYS, or EPERM when
 * kernel.io_uring_disabled or a seccomp filter forbids it): sendmmsg. */
static void uring_init(worker_t *w) {
    unsigned flags[] = {
#if defined(IORING_SETUP_DEFER_TASKRUN) && defined(IORING_SETUP_SINGLE_ISSUER)
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
#endif
#ifdef IORING_SETUP_COOP_TASKRUN
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
#endif
        0};
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && rc == -EINVAL; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flags[i];
        rc = io_uring_queue_init_params(2 * PQ_MAX, &w->ring, &p);
    }
    w->uring = rc == 0;
    if (w->id == 0) {
        if (rc == 0) RTC_LOGI("turn", "relaying with io_uring");
        else RTC_LOGI("turn", "io_uring unavailable (%s): relaying with sendmmsg", strerror(-rc));
    }
    publish(w); /* so that stats say which path is used from the start */
}

static int worker_init(turn_runtime_t *rt, worker_t *w, unsigned id) {
    w->rt = rt;
    w->id = id;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->mu, NULL);
    if (uv_loop_init(&w->loop) != 0) return RTC_ERR_FAILED;
    w->inited = true;
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_tick, TICK_MS, TICK_MS);
    uv_check_init(&w->loop, &w->check);
    w->check.data = w;
    uv_check_start(&w->check, on_check);
    w->lrx = malloc((size_t)BATCH * SLOT_STRIDE);
    w->rrx = malloc((size_t)BATCH * SLOT_STRIDE);
    if (!w->lrx || !w->rrx) return RTC_ERR_NOMEM;
    w->lring = ring_new(w->lrx, 0);
    w->rring = ring_new(w->rrx, TURN_PEER_HEADROOM);
    w->core = turn_server_new(rt->sh, &ops, w);
    if (!w->lring || !w->rring || !w->core) return RTC_ERR_NOMEM;
    return RTC_OK;
}

static int add_listeners(turn_runtime_t *rt, worker_t *w) {
    const turn_runtime_config_t *cfg = &rt->cfg;
    for (size_t i = 0; i < cfg->n_udp; i++) {
        rtc_addr_t a = rt->bound[TURN_TRANSPORT_UDP][i];
        if (w->id == 0 && !address_free(&a, SOCK_DGRAM)) {
            RTC_LOGE("turn", "cannot bind UDP %s: %s", rtc_addr_str(&a), strerror(errno));
            return RTC_ERR_IO;
        }
        int fd = open_socket(&a, SOCK_DGRAM, true, cfg->udp_recv_buffer, cfg->udp_send_buffer);
        if (fd < 0) {
            RTC_LOGE("turn", "cannot bind UDP %s: %s", rtc_addr_str(&a), strerror(errno));
            return RTC_ERR_IO;
        }
        udp_listener_t *l = calloc(1, sizeof *l);
        if (!l) { close(fd); return RTC_ERR_NOMEM; }
        l->kind = KIND_UDP;
        l->w = w;
        l->fd = fd;
        bound_addr(fd, &l->local);
        if (rtc_addr_is_any(&l->local)) {
            int one = 1;
            l->wildcard = true;
            if (l->local.family == RTC_AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
            else setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
        }
        if (a.port == 0) rt->bound[TURN_TRANSPORT_UDP][i] = l->local; /* later workers share it */
        uv_poll_init(&w->loop, &l->poll, fd);
        l->poll.data = l;
        uv_poll_start(&l->poll, UV_READABLE, on_udp_readable);
        w->udp[w->n_udp++] = l;
    }
    for (int t = TURN_TRANSPORT_TCP; t <= TURN_TRANSPORT_TLS; t++) {
        size_t n = t == TURN_TRANSPORT_TCP ? cfg->n_tcp : cfg->n_tls;
        for (size_t i = 0; i < n; i++) {
            rtc_addr_t a = rt->bound[t][i];
            if (w->id == 0 && !address_free(&a, SOCK_STREAM)) {
                RTC_LOGE("turn", "cannot listen on %s %s: %s", t == TURN_TRANSPORT_TCP ? "TCP" : "TLS",
                         rtc_addr_str(&a), strerror(errno));
                return RTC_ERR_IO;
            }
            int fd = open_socket(&a, SOCK_STREAM, true, 0, 0);
            if (fd < 0 || listen(fd, 1024) != 0) {
                RTC_LOGE("turn", "cannot listen on %s %s: %s", t == TURN_TRANSPORT_TCP ? "TCP" : "TLS",
                         rtc_addr_str(&a), strerror(errno));
                if (fd >= 0) close(fd);
                return RTC_ERR_IO;
            }
            stream_listener_t *sl = &w->stream[w->n_stream++];
            sl->w = w;
            sl->fd = fd;
            sl->transport = (uint8_t)t;
            bound_addr(fd, &sl->local);
            if (a.port == 0) rt->bound[t][i] = sl->local;
            uv_poll_init(&w->loop, &sl->poll, fd);
            sl->poll.data = sl;
            uv_poll_start(&sl->poll, UV_READABLE, on_accept);
        }
    }
    return RTC_OK;
}

turn_runtime_t *turn_runtime_new(const turn_runtime_config_t *cfg, turn_shared_t *sh) {
    if (!cfg || !sh || cfg->n_udp > TURN_LISTEN_MAX || cfg->n_tcp > TURN_LISTEN_MAX || cfg->n_tls > TURN_LISTEN_MAX)
        return NULL;
    turn_runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt) return NULL;
    rt->cfg = *cfg;
    rt->sh = sh;
    turn_ports_set_hold_release(sh->ports, release_port_hold);
    memcpy(rt->bound[TURN_TRANSPORT_UDP], cfg->udp, sizeof cfg->udp);
    memcpy(rt->bound[TURN_TRANSPORT_TCP], cfg->tcp, sizeof cfg->tcp);
    memcpy(rt->bound[TURN_TRANSPORT_TLS], cfg->tls, sizeof cfg->tls);
    if (cfg->n_tls && !(rt->ssl_ctx = make_ssl_ctx(cfg->tls_cert, cfg->tls_key))) goto fail;
    rt->n = cfg->workers;
    if (rt->n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        rt->n = cpus > 0 ? (unsigned)cpus : 1;
    }
    rt->workers = calloc(rt->n, sizeof *rt->workers);
    if (!rt->workers) goto fail;
    for (unsigned i = 0; i < rt->n; i++) {
        if (worker_init(rt, &rt->workers[i], i) != RTC_OK || add_listeners(rt, &rt->workers[i]) != RTC_OK) {
            rt->n = i + 1; /* tear down what exists */
            goto fail;
        }
    }
    return rt;
fail:
    turn_runtime_free(rt);
    return NULL;
}

int turn_runtime_start(turn_runtime_t *rt) {
    if (rt->started) return RTC_ERR_STATE;
    for (unsigned i = 0; i < rt->n; i++) {
        worker_t *w = &rt->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            RTC_LOGE("turn", "cannot start worker %u", i);
            return RTC_ERR_FAILED;
        }
        w->started = true;
    }
    rt->started = true;
    return RTC_OK;
}

void turn_runtime_stop(turn_runtime_t *rt) {
    if (!rt || rt->stopped) return;
    rt->stopped = true;
    for (unsigned i = 0; i < rt->n; i++) {
        worker_t *w = &rt->workers[i];
        if (!w->inited) continue;
        atomic_store(&w->stop, true);
        if (w->started) {
            uv_async_send(&w->wake);
            pthread_join(w->thread, NULL);
            w->started = false;
        } else {
            worker_shutdown(w);
            uv_run(&w->loop, UV_RUN_DEFAULT);
        }
        for (size_t j = 0; j < w->n_udp; j++) {
            close(w->udp[j]->fd);
            free(w->udp[j]);
        }
        w->n_udp = 0;
        for (size_t j = 0; j < w->n_stream; j++) close(w->stream[j].fd);
        w->n_stream = 0;
        uv_loop_close(&w->loop);
    }
}

void turn_runtime_free(turn_runtime_t *rt) {
    if (!rt) return;
    turn_runtime_stop(rt);
    for (unsigned i = 0; rt->workers && i < rt->n; i++) {
        free(rt->workers[i].lrx);
        free(rt->workers[i].rrx);
        free(rt->workers[i].lring);
        free(rt->workers[i].rring);
        if (rt->workers[i].uring) io_uring_queue_exit(&rt->workers[i].ring);
        free(rt->workers[i].rxbufs);
        free(rt->workers[i].br);
        pthread_mutex_destroy(&rt->workers[i].mu);
    }
    free(rt->workers);
    if (rt->ssl_ctx) SSL_CTX_free(rt->ssl_ctx);
    free(rt);
}

unsigned turn_runtime_workers(const turn_runtime_t *rt) { return rt->n; }

int turn_runtime_listen_addr(const turn_runtime_t *rt, turn_transport_t t, size_t i, rtc_addr_t *out) {
    size_t n = t == TURN_TRANSPORT_UDP ? rt->cfg.n_udp : t == TURN_TRANSPORT_TCP ? rt->cfg.n_tcp : rt->cfg.n_tls;
    if ((unsigned)t > TURN_TRANSPORT_TLS || i >= n) return RTC_ERR_NOT_FOUND;
    *out = rt->bound[t][i];
    return RTC_OK;
}

int turn_runtime_worker_stats(turn_runtime_t *rt, unsigned i, turn_worker_stats_t *out) {
    if (i >= rt->n) return RTC_ERR_NOT_FOUND;
    worker_t *w = &rt->workers[i];
    pthread_mutex_lock(&w->mu);
    *out = w->pub;
    pthread_mutex_unlock(&w->mu);
    return RTC_OK;
}
