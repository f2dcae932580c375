/*
 * rtc/sctp.h — SCTP over DTLS (RFC 8261/8841) with usrsctp, the Data Channel Establishment
 * Protocol (DCEP, RFC 8832) and W3C-style data channels (RFC 8831).
 *
 * An association (rtc_sctp_t) is one SCTP association of one PeerConnection. It knows nothing
 * about DTLS: feed it the SCTP packets that came out of DTLS application data with
 * rtc_sctp_handle_packet(), and give every packet it hands to the on_packet callback to DTLS.
 * Data channels (rtc_dc_t) live inside an association.
 *
 * Threading and timer model
 * -------------------------
 * usrsctp is one process-wide stack. This layer initialises it once, with
 * usrsctp_init_nothreads() (no timer thread, no UDP threads, port 0 = no UDP encapsulation),
 * reference-counted by the associations alive, and calls usrsctp_finish() when the last one
 * goes away. Every association uses its own AF_CONN socket whose "address" is an opaque id;
 * no kernel SCTP, no sockets of any kind.
 *
 *   - usrsctp's timers are PROCESS-GLOBAL: there is one timer wheel for all associations.
 *     rtc_sctp_handle_timeout(a, now) (and every other call that takes `now`) advances that
 *     wheel to `now` — so it may fire timers of OTHER associations. All callers in a process
 *     must therefore pass times from one monotonic clock (the runtime's rtc_clock_now(), or
 *     one fake clock in a test). Time going backwards is ignored.
 *   - usrsctp cannot report when a given association's next timer is due, so
 *     rtc_sctp_next_timeout() is a polling deadline: 10 ms after the last call while the
 *     association is busy (handshake, data queued or recently exchanged, resets pending),
 *     100 ms when idle, never once closed. This is the same 10 ms granularity as usrsctp's own
 *     timer thread.
 *   - Callbacks of an association (on_packet, state, channel events) are only ever invoked
 *     from inside a public call made on THAT association, by the thread that made it. Packets
 *     that usrsctp generates for association B while A's call advanced the global timers are
 *     queued inside B (under a mutex) and handed out at B's next call; next_timeout(B)
 *     returns "now" while B has such packets queued.
 *   - An association and its channels are not thread-safe: use each from one thread at a time
 *     (an SFU worker owns its associations). Different associations may be used concurrently
 *     from different threads; usrsctp locks internally.
 *   - usrsctp still starts one idle "iterator" thread even in no-threads mode; this layer never
 *     queues iterator work (no SCTP_ALL_ASSOC options, no address changes), and nothing from
 *     that thread reaches our callbacks.
 *   - usrsctp also reads gettimeofday() itself: for RTT samples, for which chunks a T3 expiry
 *     may retransmit (only those sent at least one RTO ago) and for PR-SCTP lifetimes. In
 *     production the wall clock and our monotonic clock advance together. A test that runs a
 *     fake clock far ahead of real time must make gettimeofday() agree with it (the unit
 *     tests interpose it), or usrsctp will never find a chunk old enough to retransmit.
 *   - Callbacks may call back into the same association (send from on_message, close from
 *     on_open, create channels...). They must not destroy the association.
 *
 * Checksums: usrsctp's CRC32c offload is switched on, so usrsctp neither computes nor checks
 * the SCTP checksum. Incoming packets are not checked (DTLS already authenticated them;
 * RFC 9653 lets a receiver skip the check when the lower layer protects the packet). Outgoing
 * packets DO get a correct CRC32c, computed by this layer, because peers (browsers, aiortc)
 * verify it and usrsctp 0.9.5 cannot negotiate RFC 9653 zero checksums.
 *
 * Settings (RFC 8831 §6.2, RFC 8841): one-to-one style socket, both sides connect (simultaneous
 * open is fine), ports from SDP a=sctp-port (5000 default), explicit EOR (large messages are
 * fed to usrsctp in pieces, so the send buffer stays bounded), I-DATA/interleaving off,
 * PR-SCTP and stream reconfiguration (RFC 6525) on, ASCONF, AUTH and ECN off, path MTU fixed
 * (default 1200), 1024 streams each way at start, grown with an ADD_STREAMS request when a
 * channel needs a higher stream id. The retransmission timer's backoff stops at 3 s (RTO.Max;
 * the RFC's 60 s would leave a channel frozen for many seconds after a short outage, as
 * libwebrtc also avoids), and 10 retransmissions in a row end the association (~30 s).
 */
#ifndef RTC_SCTP_H
#define RTC_SCTP_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Constants.
 */
#define RTC_SCTP_DEFAULT_PORT 5000
/* RFC 8841 §6.1: a peer that sends no a=max-message-size accepts 64 KiB. */
#define RTC_SCTP_DEFAULT_REMOTE_MMS 65536u
/* What we advertise and accept by default (browsers use 256 KiB). */
#define RTC_SCTP_DEFAULT_LOCAL_MMS 262144u
/* Config value meaning "the peer's a=max-message-size was 0: any size" (RFC 8841 §6.1). */
#define RTC_SCTP_MMS_ANY UINT32_MAX
#define RTC_SCTP_DEFAULT_STREAMS 1024
#define RTC_SCTP_MAX_STREAM_ID 65534 /* 65535 is reserved (RFC 8831 §6.5 / W3C) */

/* Payload protocol identifiers (RFC 8831 §8, RFC 8832 §8.1). */
#define RTC_SCTP_PPID_DCEP 50
#define RTC_SCTP_PPID_STRING 51
#define RTC_SCTP_PPID_BINARY_PARTIAL 52 /* deprecated */
#define RTC_SCTP_PPID_BINARY 53
#define RTC_SCTP_PPID_STRING_PARTIAL 54 /* deprecated */
#define RTC_SCTP_PPID_STRING_EMPTY 56
#define RTC_SCTP_PPID_BINARY_EMPTY 57

/* ------------------------------------------------------------------------------------------
 * DCEP codec (RFC 8832 §5). Pure functions, usable without an association.
 */
#define RTC_DCEP_MSG_ACK 0x02
#define RTC_DCEP_MSG_OPEN 0x03
#define RTC_DCEP_OPEN_HEADER_LEN 12

/* Channel types (RFC 8832 §5.1). */
#define RTC_DCEP_RELIABLE 0x00
#define RTC_DCEP_RELIABLE_UNORDERED 0x80
#define RTC_DCEP_PARTIAL_RELIABLE_REXMIT 0x01
#define RTC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED 0x81
#define RTC_DCEP_PARTIAL_RELIABLE_TIMED 0x02
#define RTC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED 0x82

/* Priorities (RFC 8832 §5.1, values from RFC 8831 §6.4 / W3C RTCPriorityType). */
#define RTC_DCEP_PRIORITY_BELOW_NORMAL 128
#define RTC_DCEP_PRIORITY_NORMAL 256
#define RTC_DCEP_PRIORITY_HIGH 512
#define RTC_DCEP_PRIORITY_EXTRA_HIGH 1024

typedef struct {
    uint8_t channel_type;    /* RTC_DCEP_RELIABLE ... */
    uint16_t priority;
    uint32_t reliability;    /* rexmit count or lifetime in ms; 0 for reliable channels */
    const uint8_t *label;    /* not NUL-terminated; points into the parsed buffer */
    uint16_t label_len;
    const uint8_t *protocol; /* likewise */
    uint16_t protocol_len;
} rtc_dcep_open_t;

/* Returns the DCEP message type (first byte) or RTC_ERR_TRUNCATED for an empty message. */
int rtc_dcep_msg_type(const uint8_t *p, size_t n);
/* Parses DATA_CHANNEL_OPEN. Returns RTC_OK; RTC_ERR_TRUNCATED if shorter than the 12-byte
 * header or the label/protocol lengths say; RTC_ERR_MALFORMED for another message type, an
 * unknown channel type, or bytes after the protocol. o->label/protocol point into p. */
int rtc_dcep_parse_open(rtc_dcep_open_t *o, const uint8_t *p, size_t n);
/* Writes DATA_CHANNEL_OPEN. Returns bytes written, RTC_ERR_OVERFLOW if cap is too small, or
 * RTC_ERR_INVALID_ARG for an unknown channel type. */
int rtc_dcep_write_open(const rtc_dcep_open_t *o, uint8_t *out, size_t cap);
/* DATA_CHANNEL_ACK is exactly one byte 0x02. Returns RTC_OK, RTC_ERR_TRUNCATED (empty) or
 * RTC_ERR_MALFORMED (other type or extra bytes). */
int rtc_dcep_parse_ack(const uint8_t *p, size_t n);
/* Writes the ACK; returns 1 or RTC_ERR_OVERFLOW. */
int rtc_dcep_write_ack(uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------------------------
 * Association.
 */
typedef struct rtc_sctp rtc_sctp_t;
typedef struct rtc_dc rtc_dc_t;

typedef enum {
    RTC_SCTP_STATE_NEW = 0,    /* created, rtc_sctp_connect not yet called */
    RTC_SCTP_STATE_CONNECTING, /* INIT/COOKIE exchange under way */
    RTC_SCTP_STATE_CONNECTED,  /* association up: W3C RTCSctpTransport "connected" */
    RTC_SCTP_STATE_CLOSED,     /* shut down, aborted or failed: final */
} rtc_sctp_state_t;

typedef struct {
    /* An SCTP packet to send (give it to DTLS as application data). p is valid only during
     * the call. Required. */
    void (*on_packet)(void *user, const uint8_t *p, size_t n);
    /* Association state changed. For CLOSED, reason is RTC_OK after a graceful SHUTDOWN,
     * RTC_ERR_CLOSED when the peer aborted, RTC_ERR_TIMEOUT when the peer stopped answering
     * or the handshake failed. Optional. */
    void (*on_state)(void *user, rtc_sctp_state_t state, int reason);
    /* The peer opened a channel in-band (DCEP). Set the channel's callbacks here; its open
     * event follows right after this returns. Optional (without it the channel still opens). */
    void (*on_datachannel)(void *user, rtc_dc_t *dc);
} rtc_sctp_callbacks_t;

typedef struct {
    /* DTLS role decides stream ids of in-band channels: the DTLS client uses even ids, the
     * server odd ids (RFC 8832 §6). */
    bool dtls_client;
    uint16_t local_port;              /* our a=sctp-port; 0 means 5000 */
    uint16_t remote_port;             /* the peer's a=sctp-port; 0 means 5000 */
    /* Largest message we accept (our a=max-message-size). Bigger incoming messages are
     * dropped with an error event. 0 means RTC_SCTP_DEFAULT_LOCAL_MMS. */
    uint32_t local_max_message_size;
    /* The peer's a=max-message-size, enforced on send. 0 means the attribute was absent
     * (64 KiB); RTC_SCTP_MMS_ANY means the peer sent 0 (any size). */
    uint32_t remote_max_message_size;
    uint16_t streams;        /* initial streams each way; 0 means 1024 */
    uint16_t mtu;            /* SCTP path MTU; 0 means 1200 */
    /* Cap on bytes queued in this association but not yet accepted by usrsctp, across all its
     * channels; a send that would exceed it fails with RTC_ERR_AGAIN. 0 means 16 MiB. */
    size_t max_buffered;
    rtc_sctp_callbacks_t cb;
    void *user;              /* passed to the association callbacks */
} rtc_sctp_config_t;

/* Fills defaults (ports 5000, local 256 KiB / remote 64 KiB max message size, 1024 streams,
 * MTU 1200, DTLS client role). */
void rtc_sctp_config_init(rtc_sctp_config_t *cfg);

/* Creates an association (and initialises usrsctp if it is the first). Copies cfg. Returns
 * RTC_OK, RTC_ERR_INVALID_ARG (no on_packet callback), RTC_ERR_NOMEM or RTC_ERR_FAILED
 * (usrsctp refused a socket option; logged). */
int rtc_sctp_create(const rtc_sctp_config_t *cfg, rtc_sctp_t **out);
/* Aborts the association if still up (an ABORT is NOT handed to on_packet: the caller is
 * tearing down anyway) and frees it with all its channels. No callbacks are called. Must not
 * be called from inside one of this association's callbacks. NULL is a no-op. */
void rtc_sctp_destroy(rtc_sctp_t *a);

/* Starts the association (sends INIT). Call once DTLS is connected. Both sides call it.
 * Returns RTC_OK or RTC_ERR_STATE if already started. */
int rtc_sctp_connect(rtc_sctp_t *a, rtc_time_t now);
/* Feeds one SCTP packet (one DTLS application-data record). Garbage is dropped by usrsctp;
 * never crashes. A packet arriving while NEW (the peer's DTLS finished first) starts the
 * association as rtc_sctp_connect would. Returns RTC_OK, RTC_ERR_INVALID_ARG (empty),
 * RTC_ERR_STATE (closed). */
int rtc_sctp_handle_packet(rtc_sctp_t *a, const uint8_t *p, size_t n, rtc_time_t now);
/* Advances time (see the timer model above) and handles what became due. */
void rtc_sctp_handle_timeout(rtc_sctp_t *a, rtc_time_t now);
/* When to call rtc_sctp_handle_timeout next; RTC_TIME_NEVER when NEW or CLOSED. */
rtc_time_t rtc_sctp_next_timeout(const rtc_sctp_t *a);
/* Graceful SCTP SHUTDOWN after queued data is delivered; CLOSED follows via on_state.
 * Returns RTC_OK or RTC_ERR_STATE when not connected. */
int rtc_sctp_shutdown(rtc_sctp_t *a, rtc_time_t now);

rtc_sctp_state_t rtc_sctp_state(const rtc_sctp_t *a);
const char *rtc_sctp_state_name(rtc_sctp_state_t s);
/* Updates the peer's max-message-size (renegotiation); same encoding as in the config. */
void rtc_sctp_set_remote_max_message_size(rtc_sctp_t *a, uint32_t mms);
/* The largest message rtc_dc_send accepts (W3C RTCSctpTransport.maxMessageSize): the peer's
 * limit; SIZE_MAX when the peer accepts any size. */
size_t rtc_sctp_max_message_size(const rtc_sctp_t *a);
/* Negotiated stream counts (0 before CONNECTED). */
uint16_t rtc_sctp_outbound_streams(const rtc_sctp_t *a);
uint16_t rtc_sctp_inbound_streams(const rtc_sctp_t *a);
/* Channels not yet closed. */
size_t rtc_sctp_channel_count(const rtc_sctp_t *a);
/* The channel using this stream id, or NULL. */
rtc_dc_t *rtc_sctp_find_channel(const rtc_sctp_t *a, uint16_t id);

/* ------------------------------------------------------------------------------------------
 * Data channels (W3C RTCDataChannel semantics).
 *
 * Lifetime: channels belong to their association. A channel pointer stays valid until the
 * public call that delivered its on_close event returns (or until rtc_sctp_destroy); after
 * that it is freed. Keep no pointer past on_close.
 */
typedef enum {
    RTC_DC_CONNECTING = 0,
    RTC_DC_OPEN,
    RTC_DC_CLOSING,
    RTC_DC_CLOSED,
} rtc_dc_state_t;

typedef struct {
    bool ordered;                /* default true */
    int32_t max_retransmits;     /* -1 = unset */
    int32_t max_packet_life_time; /* milliseconds; -1 = unset */
    const char *protocol;        /* NULL = "" */
    bool negotiated;             /* out-of-band: no DCEP, both sides create it with `id` */
    int32_t id;                  /* stream id; -1 = choose one (not allowed with negotiated) */
    uint16_t priority;           /* default RTC_DCEP_PRIORITY_NORMAL */
} rtc_dc_init_t;

typedef struct {
    void (*on_open)(void *user, rtc_dc_t *dc);
    /* is_string: the peer sent a string (PPID 51/56); p may be NULL when n is 0. */
    void (*on_message)(void *user, rtc_dc_t *dc, const uint8_t *p, size_t n, bool is_string);
    void (*on_closing)(void *user, rtc_dc_t *dc); /* the peer started closing it */
    void (*on_close)(void *user, rtc_dc_t *dc);
    /* err: RTC_ERR_LIMIT (incoming message over our max-message-size, dropped),
     * RTC_ERR_PROTOCOL (bad DCEP), RTC_ERR_CLOSED (association failed). */
    void (*on_error)(void *user, rtc_dc_t *dc, int err, const char *what);
    void (*on_buffered_amount_low)(void *user, rtc_dc_t *dc);
} rtc_dc_callbacks_t;

/* ordered, no partial reliability, protocol "", in-band, id chosen, normal priority. */
void rtc_dc_init_defaults(rtc_dc_init_t *o);

/* Creates a channel. In-band channels get the lowest free stream id of our parity and send
 * DATA_CHANNEL_OPEN as soon as the association is up; they become open once it is sent.
 * Negotiated channels open when the association is up. Returns RTC_OK and *out; or
 * RTC_ERR_INVALID_ARG (both max_retransmits and max_packet_life_time set, negotiated without
 * id, id > 65534, label or protocol over 65535 bytes), RTC_ERR_DUPLICATE (id in use),
 * RTC_ERR_LIMIT (no free stream id), RTC_ERR_STATE (association closed), RTC_ERR_NOMEM. */
int rtc_sctp_create_channel(rtc_sctp_t *a, const char *label, const rtc_dc_init_t *init,
                            rtc_dc_t **out);

/* Replaces the channel's callbacks (copied). */
void rtc_dc_set_callbacks(rtc_dc_t *dc, const rtc_dc_callbacks_t *cb, void *user);
/* Queues a message: string (PPID 51) or binary (53); n == 0 sends the empty-message PPIDs
 * 56/57 (RFC 8831 §6.6). Returns RTC_OK; RTC_ERR_STATE unless the channel is open;
 * RTC_ERR_LIMIT if n exceeds the peer's max-message-size (logged); RTC_ERR_AGAIN if the
 * association's send queue cap would be exceeded; RTC_ERR_NOMEM. */
int rtc_dc_send(rtc_dc_t *dc, const void *p, size_t n, bool is_string);
/* Starts closing: queued messages are sent, then the outgoing stream is reset (RFC 8831
 * §6.7); CLOSED (and on_close) once the peer has reset its side too. No-op when already
 * closing/closed. */
void rtc_dc_close(rtc_dc_t *dc);

rtc_dc_state_t rtc_dc_state(const rtc_dc_t *dc);
const char *rtc_dc_state_name(rtc_dc_state_t s);
int32_t rtc_dc_id(const rtc_dc_t *dc);
const char *rtc_dc_label(const rtc_dc_t *dc);
const char *rtc_dc_protocol(const rtc_dc_t *dc);
bool rtc_dc_ordered(const rtc_dc_t *dc);
int32_t rtc_dc_max_retransmits(const rtc_dc_t *dc);      /* -1 = unset */
int32_t rtc_dc_max_packet_life_time(const rtc_dc_t *dc); /* -1 = unset */
bool rtc_dc_negotiated(const rtc_dc_t *dc);
uint16_t rtc_dc_priority(const rtc_dc_t *dc);
/* Bytes of application data queued on this channel and not yet handed to SCTP. */
size_t rtc_dc_buffered_amount(const rtc_dc_t *dc);
size_t rtc_dc_buffered_amount_low_threshold(const rtc_dc_t *dc);
/* on_buffered_amount_low fires when buffered amount drops from above to at or below this. */
void rtc_dc_set_buffered_amount_low_threshold(rtc_dc_t *dc, size_t threshold);
rtc_sctp_t *rtc_dc_association(const rtc_dc_t *dc);

#ifdef __cplusplus
}
#endif
#endif /* RTC_SCTP_H */
