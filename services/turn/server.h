/*
 * turn/server.h — the TURN server's protocol core (RFC 8656), one instance per worker.
 *
 * Sans-I/O: the runtime hands it datagrams (or stream frames) from clients and from peers
 * together with the current time, and it answers through the callbacks in turn_server_ops_t:
 * send to a client, send to a peer, open or close a relay socket. No sockets, threads or
 * clock reads inside, so the same code runs under libuv workers, under unit tests with a fake
 * clock, and under libFuzzer.
 *
 * One instance is used by one thread only: its tables (allocations by client 5-tuple,
 * permissions by (allocation, peer IP), channels by number and by peer) take no locks. What
 * workers share (policy, secrets, relay ports, quotas) lives in turn_shared_t and is touched
 * only on the control path.
 *
 * Zero-copy relaying. Client→peer ChannelData and Send payloads are passed to send_peer as
 * pointers into the caller's buffer. Peer→client data must be handed in with
 * TURN_PEER_HEADROOM writable bytes before it and TURN_PEER_TAILROOM after it: the ChannelData
 * header or Data indication header is written in front, in place, and the whole is passed to
 * send_client. Such sends carry TURN_SEND_BORROWED: the bytes stay valid until the caller's
 * receive buffer is reused, so a runtime may queue them for one batched sendmmsg. Other sends
 * (STUN responses) point into a scratch buffer that is overwritten by the next call: copy.
 */
#ifndef TURN_SERVER_H
#define TURN_SERVER_H

#include "rtc/base.h"
#include "rtc/stun.h"
#include "rtc/turn.h"
#include "turn/shared.h"

typedef enum {
    TURN_TRANSPORT_UDP = 0,
    TURN_TRANSPORT_TCP = 1,
    TURN_TRANSPORT_TLS = 2,
} turn_transport_t;

/* Data indication header: STUN header + XOR-PEER-ADDRESS (IPv6) + DATA attribute header. */
#define TURN_PEER_HEADROOM (RTC_STUN_HEADER_LEN + 4 + 20 + 4)
/* Padding after the payload (to a multiple of 4). */
#define TURN_PEER_TAILROOM 4

/* Where a client message came from: the client side of the 5-tuple, as the runtime sees it.
 * `conn` identifies the runtime's socket (the UDP listener, or the TCP/TLS connection), so
 * (conn, remote) names the 5-tuple. */
typedef struct {
    void *conn;
    rtc_addr_t remote;     /* client transport address */
    rtc_addr_t local;      /* server transport address the client reached */
    uint8_t transport;     /* turn_transport_t */
} turn_endpoint_t;

struct turn_alloc;

/* One relayed transport address of an allocation (two for a dual-stack allocation). */
typedef struct turn_relay {
    struct turn_alloc *alloc;
    rtc_addr_t addr;          /* bound address (IP from policy, port from the pool) */
    rtc_addr_t advertised;    /* what XOR-RELAYED-ADDRESS says */
    void *io;                 /* the runtime's socket handle */
} turn_relay_t;

#define TURN_SEND_BORROWED 1u   /* data points into the buffer the caller passed in */
#define TURN_SEND_DF 2u         /* send with the IP DF bit set (DONT-FRAGMENT) */

typedef struct {
    /* Opens a UDP socket bound to exactly addr for relay — or adopts `hold` (>= 0), a
     * placeholder port_hold made for this address. On success stores the runtime's handle in
     * *io and later passes datagrams arriving on it to turn_server_on_peer with this relay.
     * Returns RTC_OK, or RTC_ERR_IO if the port cannot be bound (the core then tries
     * another). dont_fragment: the allocation asked for DF on everything it sends. */
    int (*relay_open)(void *user, turn_relay_t *relay, const rtc_addr_t *addr, bool dont_fragment,
                      int64_t hold, void **io);
    void (*relay_close)(void *user, void *io);
    void (*send_client)(void *user, const turn_endpoint_t *to, const uint8_t *p, size_t n, unsigned flags);
    void (*send_peer)(void *user, void *io, const rtc_addr_t *peer, const uint8_t *p, size_t n, unsigned flags);
    /* Optional. Binds a placeholder for a port reserved by EVEN-PORT (R bit) so that it stays
     * ours until its RESERVATION-TOKEN is claimed — possibly on another worker. Returns RTC_OK
     * with *hold >= 0, or RTC_ERR_IO if the port is taken (the core then picks another pair).
     * The hold comes back as relay_open's `hold` argument (relay_open then owns it, even when
     * it fails), or through the port pool's release function if nobody claims it. */
    int (*port_hold)(void *user, const rtc_addr_t *addr, int64_t *hold);
} turn_server_ops_t;

/* Counters since start, plus current table sizes. Plain integers: read them only from the
 * worker's own thread (the runtime publishes them to the metrics registry). */
typedef struct {
    uint64_t allocations, permissions, channels;          /* current */
    uint64_t allocations_created, allocations_expired, allocations_deleted;
    uint64_t pkts_client_to_peer, bytes_client_to_peer;  /* payload bytes */
    uint64_t pkts_peer_to_client, bytes_peer_to_client;
    uint64_t requests;              /* STUN requests handled (any method) */
    uint64_t challenges;            /* 401 to requests without credentials (normal first leg) */
    uint64_t auth_failures;         /* 401 to credentials that failed, 441 */
    uint64_t stale_nonces;          /* 438 */
    uint64_t ratelimited;           /* unauthenticated answers suppressed */
    uint64_t quota_rejections;      /* 486 */
    uint64_t capacity_rejections;   /* 508 */
    uint64_t denied_peers;          /* 403 */
    uint64_t dropped;               /* data dropped: no allocation/permission/channel, malformed */
    uint64_t dropped_bandwidth;     /* data dropped by the per-allocation bandwidth quota */
} turn_server_stats_t;

typedef struct turn_server turn_server_t;

/* Creates a core sharing sh (not owned; must outlive it). ops is copied; user is passed to
 * every callback. NULL if out of memory. */
turn_server_t *turn_server_new(turn_shared_t *sh, const turn_server_ops_t *ops, void *user);
/* Deletes every allocation (closing relays, releasing ports and quotas) and frees. */
void turn_server_free(turn_server_t *s);

/* The core needs wall-clock seconds for nonces and REST expiry; it computes them as
 * now + offset. The default offset is taken from the system clocks at creation; tests and a
 * runtime that notices clock steps set it explicitly. */
void turn_server_set_wall_offset(turn_server_t *s, int64_t wall_minus_mono_us);

/* A datagram (UDP) or one whole frame (TCP/TLS, as cut by rtc_turn_stream_frame_length)
 * from a client. Never fails: bad input is dropped or answered, and counted. */
void turn_server_on_client(turn_server_t *s, const turn_endpoint_t *from, const uint8_t *p, size_t n,
                           rtc_time_t now);
/* A datagram that arrived on a relay socket from peer. p must have TURN_PEER_HEADROOM
 * writable bytes before it and TURN_PEER_TAILROOM after p + n. */
void turn_server_on_peer(turn_server_t *s, turn_relay_t *relay, const rtc_addr_t *peer, uint8_t *p,
                         size_t n, rtc_time_t now);
/* A stream connection closed: its allocation (if any) is deleted (RFC 8656 §2.1: the
 * 5-tuple is gone). */
void turn_server_on_conn_closed(turn_server_t *s, const turn_endpoint_t *ep);

/* Length of the first frame at the front of a TCP/TLS stream buffer (STUN message, or
 * ChannelData with its padding), RTC_ERR_AGAIN if more bytes are needed to know, or
 * RTC_ERR_MALFORMED (close the connection). Like rtc_turn_stream_frame_length, but honours
 * the policy's channel range (RFC 5766 clients use channel numbers up to 0x7FFF). */
int turn_server_frame_length(const turn_server_t *s, const uint8_t *p, size_t n);

/* When the core next needs turn_server_handle_timeout (expiries are swept once a second
 * while anything exists), or RTC_TIME_NEVER. */
rtc_time_t turn_server_next_timeout(const turn_server_t *s);
void turn_server_handle_timeout(turn_server_t *s, rtc_time_t now);

const turn_server_stats_t *turn_server_stats(const turn_server_t *s);

/* Introspection, for tests and the admin side. */
typedef struct {
    rtc_addr_t relayed[2];
    size_t n_relayed;
    rtc_time_t expires;
    size_t n_permissions;
    size_t n_channels;      /* bound ones */
    char username[TURN_USERNAME_MAX];
} turn_alloc_info_t;
/* RTC_OK and *out filled, or RTC_ERR_NOT_FOUND. */
int turn_server_alloc_info(const turn_server_t *s, const turn_endpoint_t *client, turn_alloc_info_t *out);

#endif /* TURN_SERVER_H */
