/*
 * rtc/turn.h — TURN (RFC 8656) pieces shared by the TURN client (libwebrtc/src/turn/) and the
 * TURN server (services/turn/): ChannelData framing, stream framing, and the protocol's
 * constants. TURN requests and indications themselves are STUN messages (rtc/stun.h).
 */
#ifndef RTC_TURN_H
#define RTC_TURN_H

#include "rtc/base.h"
#include "rtc/stun.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTC_TURN_CHANNEL_MIN 0x4000
#define RTC_TURN_CHANNEL_MAX 0x4FFF
#define RTC_TURN_CHANNEL_HEADER_LEN 4

#define RTC_TURN_DEFAULT_LIFETIME 600       /* seconds, allocation (RFC 8656 §3.8) */
#define RTC_TURN_MAX_LIFETIME 3600          /* seconds, server cap */
#define RTC_TURN_PERMISSION_LIFETIME 300    /* seconds (RFC 8656 §9) */
#define RTC_TURN_CHANNEL_LIFETIME 600       /* seconds (RFC 8656 §12) */
#define RTC_TURN_TRANSPORT_UDP 17           /* REQUESTED-TRANSPORT value */

/* Is this the start of a ChannelData message? First byte 0x40-0x4F (RFC 7983 / 8656 §12.4). */
static inline bool rtc_turn_is_channel_data(const uint8_t *p, size_t n) {
    return n >= RTC_TURN_CHANNEL_HEADER_LEN && (p[0] & 0xF0) == 0x40;
}

static inline bool rtc_turn_channel_valid(uint16_t ch) {
    return ch >= RTC_TURN_CHANNEL_MIN && ch <= RTC_TURN_CHANNEL_MAX;
}

/* Parses one ChannelData message from a datagram. Over UDP the datagram may carry padding
 * after the data (RFC 8656 §12.5), so n may exceed 4 + length; it may not be shorter.
 * Returns RTC_OK, RTC_ERR_TRUNCATED (shorter than the header or the length field says), or
 * RTC_ERR_MALFORMED (channel number outside 0x4000-0x4FFF). *data points into p. */
int rtc_turn_channel_data_parse(const uint8_t *p, size_t n, uint16_t *channel,
                                const uint8_t **data, size_t *len);

/* Writes a ChannelData message. With pad (stream transports: TCP/TLS) the message is padded
 * to a multiple of 4 with zeros (RFC 8656 §12.5). Returns the bytes written or
 * RTC_ERR_OVERFLOW / RTC_ERR_INVALID_ARG (bad channel, data over 65535 bytes). */
int rtc_turn_channel_data_write(uint8_t *out, size_t cap, uint16_t channel, const uint8_t *data,
                                size_t len, bool pad);

/* Writes just the 4-byte header in front of data the caller already placed at out + 4:
 * the relay fast path (no copy of the payload). Returns 4 + len, padded if pad. */
int rtc_turn_channel_data_header(uint8_t *out, size_t cap, uint16_t channel, size_t len, bool pad);

/* Stream transports carry STUN messages and ChannelData back to back. Given the bytes at
 * the front of a stream buffer, returns the length of the first whole frame (including
 * ChannelData padding), RTC_ERR_AGAIN if more bytes are needed to know, or
 * RTC_ERR_MALFORMED if the bytes start neither (the connection should be closed). */
int rtc_turn_stream_frame_length(const uint8_t *p, size_t n);

/* ------------------------------------------------------------------------------------------
 * TURN client (RFC 8656), sans-I/O. One client is one allocation on one server, reached over
 * one transport the caller owns: a UDP socket (datagrams) or a TCP/TLS stream (framed bytes).
 *
 *   bytes from the server ─► rtc_turn_client_handle_datagram / _handle_stream
 *   time                  ─► rtc_turn_client_handle_timeout (when _next_timeout says)
 *   bytes for the server  ◄─ cb.send  (one datagram, or a chunk of stream bytes)
 *   events                ◄─ cb.event (allocated, failed, permission/channel results, data)
 *
 * The client allocates (answering the 401 challenge and 438 stale nonces with
 * rtc_stun_credentials_t), refreshes the allocation before it expires, refreshes every
 * permission every 240 s (< 300) and every channel binding every 540 s (< 600), and turns
 * rtc_turn_client_send() into ChannelData when a channel is bound to the peer, or a Send
 * indication otherwise. Data indications and ChannelData from the server come out as
 * RTC_TURN_EVENT_DATA with the peer's address. An ICE agent embeds one client per relayed
 * candidate and routes datagrams from the server's address to it.
 *
 * Callbacks run synchronously inside the call that caused them. They may call any function
 * of this client except rtc_turn_client_destroy.
 */

typedef struct rtc_turn_client rtc_turn_client_t;

typedef enum {
    RTC_TURN_CLIENT_IDLE = 0,       /* created, rtc_turn_client_allocate not called yet */
    RTC_TURN_CLIENT_ALLOCATING,     /* Allocate in flight (maybe after a 401/438) */
    RTC_TURN_CLIENT_ALLOCATED,      /* relayed address known; refreshing as needed */
    RTC_TURN_CLIENT_RELEASING,      /* Refresh with LIFETIME 0 in flight */
    RTC_TURN_CLIENT_CLOSED,         /* released (or expired without error) */
    RTC_TURN_CLIENT_FAILED,         /* allocation failed or was lost: see _error() */
} rtc_turn_client_state_t;

typedef enum {
    RTC_TURN_EVENT_ALLOCATED = 1,   /* relayed, mapped, lifetime set */
    RTC_TURN_EVENT_FAILED,          /* allocation failed or lost; error (+ stun_code) set */
    RTC_TURN_EVENT_RELEASED,        /* after rtc_turn_client_release: allocation gone */
    RTC_TURN_EVENT_REFRESHED,       /* allocation refreshed; lifetime set */
    RTC_TURN_EVENT_PERMISSION,      /* CreatePermission for peer's IP: error 0 ok, else failed */
    RTC_TURN_EVENT_CHANNEL,         /* ChannelBind of channel to peer: error 0 ok, else failed */
    RTC_TURN_EVENT_DATA,            /* relayed data from peer: data/len valid during callback */
} rtc_turn_event_type_t;

typedef struct {
    rtc_turn_event_type_t type;
    /* RTC_OK, or why it failed:
     *   RTC_ERR_AUTH      the server refused our credentials (401 after answering a 401, or
     *                     441 Wrong Credentials); stun_code says which.
     *   RTC_ERR_TIMEOUT   no answer after the STUN retransmissions (Ti over streams).
     *   RTC_ERR_PROTOCOL  the server answered with an error; stun_code has it (403, 437,
     *                     440, 486, 508...).
     *   RTC_ERR_MALFORMED the server's success lacked a usable XOR-RELAYED-ADDRESS.
     *   RTC_ERR_STALE     too many 438s in a row (a server that never accepts its nonce). */
    int error;
    int stun_code;              /* the server's ERROR-CODE when there was one, else 0 */
    rtc_addr_t relayed;         /* ALLOCATED */
    rtc_addr_t mapped;          /* ALLOCATED: XOR-MAPPED-ADDRESS (server-reflexive), if sent */
    uint32_t lifetime;          /* ALLOCATED / REFRESHED, seconds granted */
    rtc_addr_t peer;            /* PERMISSION (port 0), CHANNEL, DATA */
    uint16_t channel;           /* CHANNEL; DATA when it came as ChannelData (else 0) */
    const uint8_t *data;        /* DATA: points into the caller's input; do not keep */
    size_t len;
} rtc_turn_event_t;

typedef struct {
    /* Bytes for the server: one datagram (UDP) or a chunk to write to the stream in order
     * (TCP/TLS). The pointer is valid during the call only. Required. */
    void (*send)(void *user, const uint8_t *p, size_t n);
    /* Events; may be NULL (state is also visible through the getters). */
    void (*event)(void *user, const rtc_turn_event_t *ev);
    void *user;
} rtc_turn_client_callbacks_t;

typedef struct {
    rtc_addr_t server;          /* for logs and as the transaction destination */
    bool stream;                /* TCP or TLS (caller owns the stream): no retransmissions,
                                 * ChannelData padded to 4, input through _handle_stream */
    const char *username;       /* long-term credentials (or REST "expiry:user" + HMAC) */
    const char *password;
    uint8_t family;             /* REQUESTED-ADDRESS-FAMILY to send: RTC_AF_INET4 or
                                 * RTC_AF_INET6; 0 sends none (the server's default, IPv4) */
    uint32_t lifetime;          /* requested allocation LIFETIME, seconds; 0 = don't ask */
    const char *software;       /* SOFTWARE attribute, NULL for none */
    bool dont_fragment;         /* DONT-FRAGMENT in Allocate (UDP only) */
    const rtc_stun_txn_config_t *txn; /* NULL: RFC 8489 defaults (reliable when stream) */
} rtc_turn_client_config_t;

/* Creates a client (copies cfg and its strings). Returns NULL on bad arguments (no send
 * callback, no username/password) or allocation failure. Nothing is sent until
 * rtc_turn_client_allocate. */
rtc_turn_client_t *rtc_turn_client_create(const rtc_turn_client_config_t *cfg,
                                          const rtc_turn_client_callbacks_t *cb);
/* Frees everything without sending anything (call _release first to free the server's
 * allocation promptly). NULL is fine. */
void rtc_turn_client_destroy(rtc_turn_client_t *c);

/* Sends the Allocate request. RTC_ERR_STATE unless IDLE. */
int rtc_turn_client_allocate(rtc_turn_client_t *c, rtc_time_t now);
/* Sends Refresh with LIFETIME 0 and moves to RELEASING; RELEASED follows the answer (or a
 * timeout). In ALLOCATING the request is abandoned and the client goes straight to CLOSED.
 * RTC_ERR_STATE when there is nothing to release. */
int rtc_turn_client_release(rtc_turn_client_t *c, rtc_time_t now);

/* Installs (and from then on keeps refreshing) a permission for peer's IP (the port is
 * ignored). Idempotent for an IP already permitted or pending. RTC_ERR_STATE unless
 * ALLOCATED, RTC_ERR_ADDR if peer's family differs from the relayed address's, RTC_ERR_LIMIT
 * past RTC_TURN_CLIENT_MAX_PEERS. */
#define RTC_TURN_CLIENT_MAX_PEERS 4096
int rtc_turn_client_create_permission(rtc_turn_client_t *c, const rtc_addr_t *peer, rtc_time_t now);
/* Binds a channel to peer (IP and port), choosing the next free channel number, and keeps
 * refreshing it; the binding also installs the permission for peer's IP (which is then
 * refreshed as one). Returns the channel number (> 0) or a negative error as above; binding
 * an already bound/pending peer returns its channel. */
int rtc_turn_client_bind_channel(rtc_turn_client_t *c, const rtc_addr_t *peer, rtc_time_t now);

/* Sends data to peer through the relay: ChannelData when a channel to peer is bound
 * (confirmed), else a Send indication. Returns RTC_OK, RTC_ERR_STATE when not ALLOCATED or
 * when no permission for peer's IP was ever asked for, RTC_ERR_AGAIN while that permission
 * (and no channel) is still pending — the server would drop the data — RTC_ERR_OVERFLOW for
 * data over 65535 bytes. */
int rtc_turn_client_send(rtc_turn_client_t *c, const rtc_addr_t *peer, const uint8_t *data,
                         size_t len, rtc_time_t now);
/* The same framing written to out instead of the send callback, for callers that batch
 * (sendmmsg). Returns the frame length or an error as rtc_turn_client_send, or
 * RTC_ERR_OVERFLOW when cap is too small (ChannelData needs len + 4 (+3 padding), a Send
 * indication len + 60). */
int rtc_turn_client_wrap(rtc_turn_client_t *c, const rtc_addr_t *peer, const uint8_t *data,
                         size_t len, uint8_t *out, size_t cap);

/* Feeds one datagram received from the server. Returns RTC_OK when it was for this client
 * (a response, a Data indication, ChannelData: events follow), RTC_ERR_NOT_FOUND when it is
 * not (not STUN/ChannelData, an unknown transaction, an unbound channel, data from a peer
 * without permission: drop or hand to someone else), or a decode error (RTC_ERR_MALFORMED,
 * RTC_ERR_TRUNCATED...) for garbage. Never crashes on any input. */
int rtc_turn_client_handle_datagram(rtc_turn_client_t *c, const uint8_t *p, size_t n, rtc_time_t now);
/* Feeds bytes read from the TCP/TLS stream (any split). Whole frames are processed as they
 * complete; the rest is buffered. Returns RTC_OK, or RTC_ERR_MALFORMED when the stream
 * carries something that is neither STUN nor ChannelData (the caller must close the
 * connection: framing is lost), or RTC_ERR_STATE for a datagram client. */
int rtc_turn_client_handle_stream(rtc_turn_client_t *c, const uint8_t *p, size_t n, rtc_time_t now);

/* When the client next wants _handle_timeout: retransmissions, refreshes. RTC_TIME_NEVER
 * when idle, closed or failed. */
rtc_time_t rtc_turn_client_next_timeout(const rtc_turn_client_t *c);
void rtc_turn_client_handle_timeout(rtc_turn_client_t *c, rtc_time_t now);

rtc_turn_client_state_t rtc_turn_client_state(const rtc_turn_client_t *c);
const char *rtc_turn_client_state_name(rtc_turn_client_state_t s);
/* The relayed and server-reflexive addresses (valid once ALLOCATED; family UNSPEC before). */
const rtc_addr_t *rtc_turn_client_relayed(const rtc_turn_client_t *c);
const rtc_addr_t *rtc_turn_client_mapped(const rtc_turn_client_t *c);
/* When the allocation expires unless refreshed (valid while ALLOCATED). */
rtc_time_t rtc_turn_client_expires(const rtc_turn_client_t *c);
/* Why the client FAILED (RTC_OK otherwise), and the server's error code if any. */
int rtc_turn_client_error(const rtc_turn_client_t *c, int *stun_code);
/* Is a permission for peer's IP installed (confirmed by the server)? */
bool rtc_turn_client_has_permission(const rtc_turn_client_t *c, const rtc_addr_t *peer);
/* The channel bound (confirmed) to peer, or 0. */
uint16_t rtc_turn_client_channel(const rtc_turn_client_t *c, const rtc_addr_t *peer);

#ifdef __cplusplus
}
#endif
#endif /* RTC_TURN_H */
