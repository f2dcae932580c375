/*
 * turn/runtime.h — the TURN server's I/O: worker threads, sockets, batching.
 *
 * Each worker is a thread with its own libuv loop, its own turn_server_t core, and its own
 * SO_REUSEPORT socket on every configured listener address (UDP, TCP, TLS). The kernel
 * hashes each client 5-tuple to one of the sockets consistently, so all of a client's
 * packets reach the worker that holds its allocation; the allocation's relay sockets are
 * watched by that worker only. Nothing on the packet path is shared or locked.
 *
 * Where io_uring is usable, a worker waits in io_uring_enter, not epoll_wait: its UDP
 * listeners are received with multishot RECVMSG into 128 provided buffers, the client→peer
 * datagrams of a wake-up are submitted with the next wait (one system call per wake-up for
 * receiving and sending; relay sockets are in the ring's registered file table), and libuv
 * (relay sockets' peer data, TCP/TLS, timers) runs when its epoll fd, polled through the
 * same ring, is readable, a timer is due, or a uv_poll change waits to be applied. A buffer
 * goes back to the kernel once the sends submitted after it was received have completed.
 *
 * Otherwise (no io_uring: old kernel, seccomp, kernel.io_uring_disabled; or no_io_uring)
 * libuv drives everything: listeners are read with recvmmsg into a pool of receive slots,
 * and the client→peer payloads of a receive batch leave straight from their slots in one
 * io_uring_enter on a send-only ring (when only the event loop could not be set up) or with
 * one sendmmsg per relay socket.
 *
 * Either way, relay sockets are read by libuv with recvmmsg, TURN_PEER_HEADROOM bytes into a
 * slot so the core can write the ChannelData or Data-indication header in front, in place;
 * the datagrams for clients are queued per listener socket and sent with one sendmmsg each
 * at the end of the wake-up.
 *
 * TCP and TLS (OpenSSL, certificate and key from the configuration) carry STUN and padded
 * ChannelData frames (RFC 8656 §12.5); a connection's allocation is deleted when it closes.
 */
#ifndef TURN_RUNTIME_H
#define TURN_RUNTIME_H

#include "turn/server.h"
#include "turn/shared.h"

#define TURN_LISTEN_MAX 8

typedef struct {
    rtc_addr_t udp[TURN_LISTEN_MAX];   /* port 0: picked by the kernel (tests) */
    size_t n_udp;
    rtc_addr_t tcp[TURN_LISTEN_MAX];
    size_t n_tcp;
    rtc_addr_t tls[TURN_LISTEN_MAX];
    size_t n_tls;
    const char *tls_cert;              /* PEM certificate chain file (needed when n_tls > 0) */
    const char *tls_key;               /* PEM private key file */
    unsigned workers;                  /* 0: one per online CPU */
    unsigned max_connections;          /* TCP+TLS connections per worker; 0: 4096 */
    unsigned stream_idle_timeout_s;    /* a connection without an allocation is closed after
                                          this long; 0: 60 */
    int udp_recv_buffer;               /* SO_RCVBUF for listeners; 0: system default */
    int udp_send_buffer;
    bool no_io_uring;                  /* no io_uring even where it is available: libuv,
                                          recvmmsg and sendmmsg (tests, comparisons) */
} turn_runtime_config_t;

typedef struct turn_runtime turn_runtime_t;

/* Opens every listener (so bind errors are reported here, synchronously) but starts no
 * thread yet. Ports given as 0 are chosen by the kernel for the first worker and shared by
 * the others. sh is not owned and must outlive the runtime. Returns NULL on failure
 * (logged): a listener could not be bound, TLS setup failed, out of memory. */
turn_runtime_t *turn_runtime_new(const turn_runtime_config_t *cfg, turn_shared_t *sh);
/* Starts the worker threads. RTC_OK or RTC_ERR_FAILED. */
int turn_runtime_start(turn_runtime_t *rt);
/* Asks every worker to stop, waits for them, closes everything (allocations are deleted).
 * Idempotent. */
void turn_runtime_stop(turn_runtime_t *rt);
void turn_runtime_free(turn_runtime_t *rt);

unsigned turn_runtime_workers(const turn_runtime_t *rt);
/* The bound address of listener i of a transport (with the real port). */
int turn_runtime_listen_addr(const turn_runtime_t *rt, turn_transport_t t, size_t i, rtc_addr_t *out);

/* Worker i's counters as of its last publication (every 250 ms and when it stops).
 * Thread-safe. Also counts, beyond the core's stats, UDP datagrams the kernel refused. */
typedef struct {
    turn_server_stats_t core;
    uint64_t send_drops;          /* datagrams dropped because a socket buffer was full */
    uint64_t stream_connections;  /* open TCP/TLS connections */
    uint64_t loop_iterations;
    bool io_uring;                /* relayed datagrams leave through io_uring (else sendmmsg) */
    bool io_uring_loop;           /* the worker waits in io_uring and receives on its UDP
                                     listeners there (else libuv's epoll and recvmmsg) */
    uint64_t rx_rearms;           /* io_uring loop: listener receives re-armed after they ended
                                     (ENOBUFS: every receive buffer was in use) */
} turn_worker_stats_t;
int turn_runtime_worker_stats(turn_runtime_t *rt, unsigned i, turn_worker_stats_t *out);

#endif /* TURN_RUNTIME_H */
