/*
 * rtc/pc.h — RTCPeerConnection in C: the layer that ties ICE, DTLS, SRTP, SCTP, RTP/RTCP and
 * SDP/JSEP together behind an API shaped like the W3C WebRTC API (RTCPeerConnection,
 * RTCRtpTransceiver/Sender/Receiver, RTCDataChannel, getStats).
 *
 * Two parts:
 *
 *   1. rtc_peer_connection_t — sans-I/O like every layer below it. It never opens a socket or
 *      reads the clock. The runtime hands it UDP sockets as opaque handles
 *      (rtc_peer_connection_add_socket), feeds it every datagram received on them
 *      (rtc_peer_connection_handle_datagram), calls rtc_peer_connection_handle_timeout when
 *      rtc_peer_connection_next_timeout says so, and puts on the wire whatever the `send`
 *      callback hands it. The same object runs under libuv, under a fake clock in a simulated
 *      network, or under a fuzzer.
 *
 *   2. rtc_pc_runtime_t (end of this header, src/pc/pc_runtime_uv.c) — the libuv glue: one
 *      runtime per uv loop drives any number of PeerConnections on that loop's thread. Sockets
 *      come from rtc/net.h (recvmmsg batches), and each PeerConnection's timer follows the
 *      earliest deadline of all its layers (ICE, DTLS, SCTP, RTCP, NACK, TWCC).
 *
 * What happens underneath, in order (RFC 8829/8834/8835/8826/8827):
 *   setLocalDescription starts ICE gathering; once both descriptions are applied the ICE
 *   agent checks pairs; when ICE selects a pair the DTLS client (a=setup:active side) sends its
 *   ClientHello over that pair; DTLS accepts datagrams only from pairs ICE validated (the ICE
 *   agent hands up non-STUN data only from such pairs), and fails the connection unless the
 *   peer certificate matches the a=fingerprint of the remote description, in both roles.
 *   After the handshake SRTP keys are exported (RFC 5764) and, when an m=application section
 *   was negotiated, the SCTP association starts over DTLS; data channels then open. No RTP,
 *   RTCP or SCTP byte is sent or accepted before that.
 *
 * Scope and simplifications (see also "not done" in the report that added this file):
 *   - One ICE/DTLS transport per PeerConnection: we always offer BUNDLE and always accept the
 *     peer's BUNDLE group. A peer that refuses to bundle several sections gets only the first
 *     transport used (a warning is logged); Chromium, Firefox, aiortc and Pion all bundle.
 *   - rtcp-mux only (RFC 8843/8829 require it for WebRTC).
 *   - ICE server URLs take literal IP addresses ("stun:127.0.0.1:3478",
 *     "turn:[::1]:3478?transport=udp"); no DNS inside the library. TURN over TCP and TLS
 *     ("?transport=tcp", "turns:") needs a runtime that opens streams (the libuv one does);
 *     a turns: server's certificate must be valid for its IP address.
 *
 * Threading: a PeerConnection and everything hanging off it (transceivers, data channels) is
 * used from one thread at a time; the runtime uses it from its loop's thread only.
 *
 * Callbacks: every callback receives the `user` pointer given at creation. They are called
 * from inside the public call that caused them (handle_datagram, handle_timeout, set*Description,
 * ...). A callback may call any API of the PeerConnection, its transceivers or its channels,
 * except rtc_peer_connection_destroy.
 */
#ifndef RTC_PC_H
#define RTC_PC_H

#include "rtc/base.h"
#include "rtc/dtls.h"
#include "rtc/ice.h"
#include "rtc/net.h"
#include "rtc/sctp.h"
#include "rtc/sdp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtc_peer_connection rtc_peer_connection_t;
typedef struct rtc_pc_transceiver rtc_pc_transceiver_t;
typedef struct rtc_pc_datachannel rtc_pc_datachannel_t;

/* ------------------------------------------------------------------------------------------
 * States (W3C names; *_name() gives the exact W3C string).
 */
typedef enum {
    RTC_PC_SIGNALING_STABLE = 0,
    RTC_PC_SIGNALING_HAVE_LOCAL_OFFER,
    RTC_PC_SIGNALING_HAVE_REMOTE_OFFER,
    RTC_PC_SIGNALING_HAVE_LOCAL_PRANSWER,
    RTC_PC_SIGNALING_HAVE_REMOTE_PRANSWER,
    RTC_PC_SIGNALING_CLOSED,
} rtc_pc_signaling_state_t;

/* RTCIceConnectionState: same values as rtc_ice_state_t. RTCIceGatheringState: same values
 * as rtc_ice_gathering_state_t. */

typedef enum {
    RTC_PC_STATE_NEW = 0,
    RTC_PC_STATE_CONNECTING,
    RTC_PC_STATE_CONNECTED,
    RTC_PC_STATE_DISCONNECTED,
    RTC_PC_STATE_FAILED,
    RTC_PC_STATE_CLOSED,
} rtc_pc_state_t;

typedef enum {
    RTC_PC_SDP_OFFER = 0,
    RTC_PC_SDP_PRANSWER,
    RTC_PC_SDP_ANSWER,
    RTC_PC_SDP_ROLLBACK,
} rtc_pc_sdp_type_t;

const char *rtc_pc_signaling_state_name(rtc_pc_signaling_state_t s); /* "stable", ... */
const char *rtc_pc_state_name(rtc_pc_state_t s);                      /* "new", ... */
const char *rtc_pc_sdp_type_name(rtc_pc_sdp_type_t t);                /* "offer", ... */
/* Parses "offer"/"pranswer"/"answer"/"rollback"; RTC_ERR_INVALID_ARG otherwise. */
int rtc_pc_sdp_type_parse(const char *s, rtc_pc_sdp_type_t *out);

/* ------------------------------------------------------------------------------------------
 * Configuration (RTCConfiguration).
 */
#define RTC_PC_MAX_ICE_SERVERS 8

typedef struct {
    char url[256];        /* "stun:IP[:port]", "turn:IP[:port][?transport=udp|tcp]", "turns:..." */
    char username[257];
    char credential[257];
} rtc_pc_ice_server_t;

typedef enum {
    RTC_PC_ICE_POLICY_ALL = 0,
    RTC_PC_ICE_POLICY_RELAY = 1,  /* only relayed candidates (iceTransportPolicy "relay") */
} rtc_pc_ice_policy_t;

typedef struct {
    rtc_pc_ice_server_t ice_servers[RTC_PC_MAX_ICE_SERVERS];
    size_t n_ice_servers;
    rtc_pc_ice_policy_t ice_transport_policy;
    rtc_jsep_bundle_policy_t bundle_policy;
    /* DTLS certificate (RTCCertificate). NULL: one is generated per PeerConnection (ECDSA
     * P-256, ~ms of CPU). A server shares one: the PeerConnection takes its own reference. */
    rtc_dtls_cert_t *certificate;
    /* Which local addresses ICE may use (the runtime opens sockets on those). An empty filter
     * means every non-loopback, non-link-local address. */
    rtc_net_filter_t filter;
    /* ICE-lite (RFC 8445 §2.5): host candidates only, always controlled, never sends checks.
     * For servers with a reachable address (the SFU). Written as a=ice-lite. */
    bool ice_lite;
    /* 1:1 NAT: host candidates are signalled with this IP (per family), port unchanged; see
     * rtc_ice_config_t.nat_1to1_ipv4. RTC_AF_UNSPEC (the default): the socket's address. */
    rtc_addr_t nat_1to1_ipv4;
    rtc_addr_t nat_1to1_ipv6;
    /* Aggressive nomination when controlling (faster, as Chromium does). */
    bool aggressive_nomination;
    /* Our a=max-message-size for data channels; 0 = 262144. */
    uint32_t max_message_size;
    /* RTCP CNAME; "" = random 16 characters. */
    char cname[64];
    /* Optional tag in log lines. */
    char log_id[32];
} rtc_pc_config_t;

/* Fills defaults: no servers, policy all, balanced bundle, generated certificate, empty
 * filter, full ICE. */
void rtc_pc_config_init(rtc_pc_config_t *cfg);
/* Appends an ICE server (RTCIceServer with one URL). RTC_ERR_LIMIT when full,
 * RTC_ERR_INVALID_ARG for an unparsable URL (checked here: scheme, literal IP, port). */
int rtc_pc_config_add_ice_server(rtc_pc_config_t *cfg, const char *url, const char *username,
                                 const char *credential);

/* ------------------------------------------------------------------------------------------
 * Media: transceivers, senders, receivers.
 *
 * A transceiver is an m= section for audio or video: a sender (what we send, one SSRC plus
 * an RTX SSRC for video) and a receiver (what the peer sends, demultiplexed by MID header
 * extension, a=ssrc lines, RID (simulcast) or payload type, in that order of preference).
 * Senders take whole RTP packets (rtc_pc_transceiver_send_rtp: SSRC and header extensions are
 * rewritten, sequence numbers and timestamps are the caller's) or encoded frames
 * (rtc_pc_transceiver_send_frame: VP8 and Opus are packetized here). Every RTP packet sent is
 * kept in a packet history so that NACKs are answered (over RTX when negotiated). Receivers
 * deliver RTP packets to on_rtp after SRTP, RTX unwrapping and demultiplexing; NACKs for
 * missing packets, receiver reports and transport-wide CC feedback are sent automatically;
 * sender reports go out for what we send. PLI/FIR from the peer surface as
 * on_keyframe_request; rtc_pc_transceiver_request_keyframe sends a PLI.
 */
typedef enum {
    RTC_PC_MEDIA_AUDIO = RTC_SDP_MEDIA_AUDIO,
    RTC_PC_MEDIA_VIDEO = RTC_SDP_MEDIA_VIDEO,
} rtc_pc_media_kind_t;

#define RTC_PC_MAX_CODECS 16
#define RTC_PC_MAX_RIDS 4

typedef struct {
    rtc_sdp_dir_t direction;  /* default sendrecv */
    const char *track_id;     /* a=msid track; NULL = random */
    const char *stream_id;    /* a=msid stream; NULL = random */
    /* Codecs in preference order, RTX entries included (name "rtx", fmtp "apt=PT"). n_codecs 0
     * = the defaults: audio opus/48000/2; video VP8 + RTX, H264 (constrained baseline,
     * packetization-mode 1) + RTX. */
    const rtc_sdp_codec_t *codecs;
    size_t n_codecs;
    /* Accept simulcast from the peer (answer a=simulcast send with recv). Default true. */
    bool receive_simulcast;
} rtc_pc_transceiver_init_t;

void rtc_pc_transceiver_init_defaults(rtc_pc_transceiver_init_t *init);

/* Information about one received RTP packet. */
typedef struct {
    uint32_t ssrc;            /* the media SSRC (RTX already unwrapped) */
    uint8_t payload_type;
    const rtc_sdp_codec_t *codec; /* negotiated codec of that payload type, NULL if unknown */
    char rid[17];             /* simulcast RTP stream id, "" when none */
    bool retransmission;      /* recovered from RTX */
} rtc_pc_rtp_info_t;

/* ------------------------------------------------------------------------------------------
 * Data channels (RTCDataChannel). Created at any time; a channel made before the SCTP
 * association exists stays "connecting" and opens with it. Options are rtc_dc_init_t from
 * rtc/sctp.h (ordered, maxRetransmits, maxPacketLifeTime, protocol, negotiated + id).
 * A channel object is owned by its PeerConnection and stays valid until the PeerConnection is
 * destroyed (also after it closed).
 */
typedef struct {
    void (*on_open)(void *user, rtc_pc_datachannel_t *dc);
    void (*on_message)(void *user, rtc_pc_datachannel_t *dc, const uint8_t *p, size_t n,
                       bool is_string);
    void (*on_closing)(void *user, rtc_pc_datachannel_t *dc);
    void (*on_close)(void *user, rtc_pc_datachannel_t *dc);
    void (*on_error)(void *user, rtc_pc_datachannel_t *dc, int err, const char *what);
    void (*on_buffered_amount_low)(void *user, rtc_pc_datachannel_t *dc);
} rtc_pc_datachannel_callbacks_t;

/* ------------------------------------------------------------------------------------------
 * PeerConnection callbacks.
 */
typedef struct {
    /* Put p[0..n) on the wire from socket `sock` to `dest`. Required. Must not call back in. */
    void (*send)(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n);
    /* The PeerConnection's next deadline may have moved earlier (after an API call queued
     * work): the runtime re-reads rtc_peer_connection_next_timeout. Optional. Must not call
     * back in. */
    void (*wakeup)(void *user);

    /* icecandidate: a "candidate:..." line for the bundle section (mid, m-line index), or
     * NULL for end-of-candidates. */
    void (*on_ice_candidate)(void *user, const char *candidate, const char *mid, int mline_index);
    void (*on_signaling_state)(void *user, rtc_pc_signaling_state_t s);
    void (*on_ice_gathering_state)(void *user, rtc_ice_gathering_state_t s);
    void (*on_ice_connection_state)(void *user, rtc_ice_state_t s);
    void (*on_connection_state)(void *user, rtc_pc_state_t s);
    void (*on_negotiation_needed)(void *user);
    /* track: the remote description made a transceiver receive (once per transceiver and
     * negotiation that starts receiving). */
    void (*on_track)(void *user, rtc_pc_transceiver_t *t);
    /* datachannel: the peer opened a channel in-band. Set its callbacks here. */
    void (*on_datachannel)(void *user, rtc_pc_datachannel_t *dc);
    /* A received RTP packet (decrypted, RTX unwrapped). p is valid only during the call. */
    void (*on_rtp)(void *user, rtc_pc_transceiver_t *t, const uint8_t *p, size_t n,
                   const rtc_pc_rtp_info_t *info);
    /* The peer asked our sender for a keyframe (PLI, or FIR when fir is true). */
    void (*on_keyframe_request)(void *user, rtc_pc_transceiver_t *t, bool fir);

    /* TURN over TCP or TLS ("turn:IP:port?transport=tcp", "turns:IP:port"): the ICE agent's
     * stream_open/stream_close (rtc/ice.h), passed through. The runtime connects to
     * server->addr (TLS for RTC_ICE_RELAY_TLS, the certificate checked against the server's IP
     * address: ICE server URLs carry literal IPs) and returns an opaque handle whose first
     * member is an int the runtime's `send` can tell apart from its UDP sockets — bytes for
     * the stream arrive through `send` with that handle as `sock`. It then reports with
     * rtc_peer_connection_stream_connected / _handle_stream / _stream_closed. NULL (the
     * default): TCP and TLS servers are skipped. The libuv runtime below supplies both. */
    void *(*stream_open)(void *user, const rtc_ice_server_t *server);
    void (*stream_close)(void *user, void *stream);
} rtc_pc_callbacks_t;

/* ------------------------------------------------------------------------------------------
 * Life cycle and sockets.
 */
/* Creates a PeerConnection in state new/stable. Copies cfg and cb. Returns NULL (logged) for
 * a bad configuration (no send callback, bad ICE server URL) or when the certificate cannot
 * be generated. */
rtc_peer_connection_t *rtc_peer_connection_create(const rtc_pc_config_t *cfg,
                                                  const rtc_pc_callbacks_t *cb, void *user);
/* Frees everything without sending anything (call close first for a clean close: DTLS
 * close_notify and SCTP ABORT go out then). No callbacks. NULL is a no-op. */
void rtc_peer_connection_destroy(rtc_peer_connection_t *pc);

/* Gives the PeerConnection a bound UDP socket (opaque handle) on local address `local`;
 * ifname may be NULL. Call before the first setLocalDescription (gathering). Sockets may be
 * shared by many PeerConnections (one port per SFU worker): the runtime then demultiplexes
 * before calling handle_datagram. RTC_ERR_DENIED if the filter refuses the address,
 * RTC_ERR_STATE once gathering started, RTC_ERR_LIMIT past 16 sockets. */
int rtc_peer_connection_add_socket(rtc_peer_connection_t *pc, void *sock, const rtc_addr_t *local,
                                   const char *ifname);
/* Feeds one datagram received on `sock` from `from` (STUN, DTLS, SRTP, SRTCP are told apart
 * here, RFC 7983). Bad or unexpected datagrams are dropped and counted; they never change
 * state. Returns RTC_OK or why the datagram was dropped. */
int rtc_peer_connection_handle_datagram(rtc_peer_connection_t *pc, void *sock,
                                        const rtc_addr_t *from, const uint8_t *p, size_t n,
                                        rtc_time_t now);
/* TURN over TCP/TLS (see stream_open above): the stream is connected (TLS handshake done);
 * bytes read from it, in any split; it failed or was closed. RTC_ERR_STATE before ICE exists
 * or after close, RTC_ERR_NOT_FOUND for a handle the agent does not know, RTC_ERR_MALFORMED
 * when the stream carries garbage (close it, then report it closed). */
int rtc_peer_connection_stream_connected(rtc_peer_connection_t *pc, void *stream, rtc_time_t now);
int rtc_peer_connection_handle_stream(rtc_peer_connection_t *pc, void *stream, const uint8_t *p, size_t n,
                                      rtc_time_t now);
void rtc_peer_connection_stream_closed(rtc_peer_connection_t *pc, void *stream, rtc_time_t now);
/* Earliest deadline of all layers (RTC_TIME_NEVER when idle or closed). */
rtc_time_t rtc_peer_connection_next_timeout(const rtc_peer_connection_t *pc);
void rtc_peer_connection_handle_timeout(rtc_peer_connection_t *pc, rtc_time_t now);

/* ------------------------------------------------------------------------------------------
 * Offer/answer (JSEP). Descriptions are SDP text; *out is appended to (NUL-terminated).
 */
typedef struct {
    bool ice_restart;
} rtc_pc_offer_options_t;

/* createOffer: one m= section per transceiver (in creation order, mids "0", "1", ...) and one
 * for data channels once a channel was created. ICE credentials change when restartIce() was
 * called or options->ice_restart is set. Contains the candidates gathered so far. RTC_ERR_STATE
 * when closed or in have-remote-offer. */
int rtc_peer_connection_create_offer(rtc_peer_connection_t *pc, const rtc_pc_offer_options_t *opts,
                                     rtc_buf_t *out);
/* createAnswer to the remote offer (RTC_ERR_STATE unless have-remote-offer). Offered audio and
 * video sections without a matching transceiver get a new recvonly one (as a browser does);
 * an offered m=application gets our SCTP association. */
int rtc_peer_connection_create_answer(rtc_peer_connection_t *pc, rtc_buf_t *out);
/* setLocalDescription. sdp NULL means "implicit": create an offer or answer as the signalling
 * state requires and apply it (W3C parameterless setLocalDescription). Starts gathering on the
 * first call. ROLLBACK returns to stable from have-local-offer. Returns RTC_OK,
 * RTC_ERR_MALFORMED (unparsable), RTC_ERR_STATE (wrong type for the signalling state),
 * RTC_ERR_PROTOCOL (description does not match what we created). */
int rtc_peer_connection_set_local_description(rtc_peer_connection_t *pc, rtc_pc_sdp_type_t type,
                                              const char *sdp, rtc_time_t now);
/* setRemoteDescription. Parses, checks (rtc_jsep_negotiate for answers), applies ICE
 * credentials and candidates, creates transceivers for new offered sections, fires on_track
 * and, after an answer, starts DTLS/SCTP as soon as ICE connects. Errors as above; a
 * rejected description leaves the state unchanged. */
int rtc_peer_connection_set_remote_description(rtc_peer_connection_t *pc, rtc_pc_sdp_type_t type,
                                               const char *sdp, rtc_time_t now);
/* The current local/remote description as SDP (local: with every candidate gathered so far
 * and a=end-of-candidates once gathering completed). RTC_ERR_NOT_FOUND when none. *type may
 * be NULL. */
int rtc_peer_connection_local_description(const rtc_peer_connection_t *pc, rtc_buf_t *out,
                                          rtc_pc_sdp_type_t *type);
int rtc_peer_connection_remote_description(const rtc_peer_connection_t *pc, rtc_buf_t *out,
                                           rtc_pc_sdp_type_t *type);
/* addIceCandidate: "candidate:..." or "a=candidate:..." (mid/index identify the section; only
 * the bundle transport exists so they are only checked). NULL or "" candidate =
 * end-of-candidates. RTC_ERR_STATE before a remote description; a malformed line is
 * RTC_ERR_MALFORMED and ignored. */
int rtc_peer_connection_add_ice_candidate(rtc_peer_connection_t *pc, const char *candidate,
                                          const char *mid, rtc_time_t now);
/* restartIce(): the next offer gets new ICE credentials (fires negotiationneeded). */
void rtc_peer_connection_restart_ice(rtc_peer_connection_t *pc);

/* ------------------------------------------------------------------------------------------
 * Transceivers.
 */
/* addTransceiver(kind, init). init NULL = defaults. Fires negotiationneeded. NULL when closed
 * or on allocation failure. The transceiver is owned by the PeerConnection. */
rtc_pc_transceiver_t *rtc_peer_connection_add_transceiver(rtc_peer_connection_t *pc,
                                                          rtc_pc_media_kind_t kind,
                                                          const rtc_pc_transceiver_init_t *init);
/* addTrack: reuses a transceiver of that kind that has no track and was never used to send
 * (one the peer's offer created), else adds a sendrecv one. */
rtc_pc_transceiver_t *rtc_peer_connection_add_track(rtc_peer_connection_t *pc,
                                                    rtc_pc_media_kind_t kind, const char *track_id,
                                                    const char *stream_id);
/* removeTrack: stops sending on the transceiver (direction loses "send"); renegotiation
 * needed. */
int rtc_peer_connection_remove_track(rtc_peer_connection_t *pc, rtc_pc_transceiver_t *t);
size_t rtc_peer_connection_transceiver_count(const rtc_peer_connection_t *pc);
rtc_pc_transceiver_t *rtc_peer_connection_transceiver(const rtc_peer_connection_t *pc, size_t i);

rtc_pc_media_kind_t rtc_pc_transceiver_kind(const rtc_pc_transceiver_t *t);
const char *rtc_pc_transceiver_mid(const rtc_pc_transceiver_t *t);  /* NULL before negotiation */
rtc_sdp_dir_t rtc_pc_transceiver_direction(const rtc_pc_transceiver_t *t);
/* currentDirection: NONE before negotiation (or when rejected/stopped). */
rtc_sdp_dir_t rtc_pc_transceiver_current_direction(const rtc_pc_transceiver_t *t);
/* Sets the direction; renegotiation needed when it changes. */
int rtc_pc_transceiver_set_direction(rtc_pc_transceiver_t *t, rtc_sdp_dir_t d);
/* stop(): the section is rejected (port 0) at the next negotiation; nothing is sent. */
void rtc_pc_transceiver_stop(rtc_pc_transceiver_t *t);
void rtc_pc_transceiver_set_user(rtc_pc_transceiver_t *t, void *user);
void *rtc_pc_transceiver_user(const rtc_pc_transceiver_t *t);
/* Our sending SSRC (and RTX SSRC, 0 when none). */
uint32_t rtc_pc_transceiver_ssrc(const rtc_pc_transceiver_t *t);
uint32_t rtc_pc_transceiver_rtx_ssrc(const rtc_pc_transceiver_t *t);
/* The negotiated payload type of a codec by name ("VP8", "opus"), or -1. */
int rtc_pc_transceiver_payload_type(const rtc_pc_transceiver_t *t, const char *codec_name);
/* Negotiated send codecs (valid until the next negotiation); n may be NULL. */
const rtc_sdp_codec_t *rtc_pc_transceiver_codecs(const rtc_pc_transceiver_t *t, size_t *n);

/* Sends an RTP packet on the transceiver's sender. The header's SSRC is replaced with ours,
 * header extensions are replaced with the negotiated ones we set (mid, transport-wide seq,
 * abs-send-time), the rest (PT, seq, timestamp, marker, payload) is sent as given. The packet
 * is stored for retransmission. RTC_ERR_STATE unless connected and the direction sends,
 * RTC_ERR_MALFORMED for a packet that does not parse, RTC_ERR_OVERFLOW above 1600 bytes after
 * rewriting (anything a 1500-byte datagram brought in can be forwarded). Received packets are
 * taken at any size the datagram holds. */
int rtc_pc_transceiver_send_rtp(rtc_pc_transceiver_t *t, const uint8_t *pkt, size_t n,
                                rtc_time_t now);
/* Packetizes and sends one encoded frame of the negotiated codec `codec_name`: VP8 (RFC 7741
 * payload descriptor, split at ~1100 bytes, marker on the last) or Opus (one packet).
 * rtp_timestamp in the codec's clock. Sequence numbers are the transceiver's own (do not mix
 * with send_rtp on one transceiver). RTC_ERR_NOT_FOUND when the codec was not negotiated. */
int rtc_pc_transceiver_send_frame(rtc_pc_transceiver_t *t, const char *codec_name,
                                  const uint8_t *frame, size_t n, uint32_t rtp_timestamp,
                                  rtc_time_t now);
/* Sends a PLI for what the peer sends us on this transceiver (all its SSRCs). */
int rtc_pc_transceiver_request_keyframe(rtc_pc_transceiver_t *t, rtc_time_t now);
/* The same for one simulcast layer only: the SSRC the peer sends with RTP stream id `rid`
 * (NULL or "": all, as above). A keyframe costs several frames' worth of bits; asking every
 * layer when one needs it makes all of them burst. RTC_ERR_NOT_FOUND while no packet of that
 * rid has arrived (its SSRC is not known yet). */
int rtc_pc_transceiver_request_keyframe_rid(rtc_pc_transceiver_t *t, const char *rid,
                                            rtc_time_t now);

/* ------------------------------------------------------------------------------------------
 * Data channels.
 */
/* createDataChannel(label, init); init NULL = defaults (ordered, reliable, in-band). Adds the
 * m=application section at the next negotiation if there is none yet (negotiationneeded).
 * NULL for bad options (logged) or when closed. */
rtc_pc_datachannel_t *rtc_peer_connection_create_data_channel(rtc_peer_connection_t *pc,
                                                              const char *label,
                                                              const rtc_dc_init_t *init);
void rtc_pc_datachannel_set_callbacks(rtc_pc_datachannel_t *dc,
                                      const rtc_pc_datachannel_callbacks_t *cb, void *user);
/* send(): string or binary. RTC_ERR_STATE unless open, RTC_ERR_LIMIT above the peer's
 * max-message-size, RTC_ERR_AGAIN when the association's send queue is full. */
int rtc_pc_datachannel_send(rtc_pc_datachannel_t *dc, const void *p, size_t n, bool is_string);
void rtc_pc_datachannel_close(rtc_pc_datachannel_t *dc);
rtc_dc_state_t rtc_pc_datachannel_state(const rtc_pc_datachannel_t *dc);
const char *rtc_pc_datachannel_label(const rtc_pc_datachannel_t *dc);
const char *rtc_pc_datachannel_protocol(const rtc_pc_datachannel_t *dc);
int32_t rtc_pc_datachannel_id(const rtc_pc_datachannel_t *dc); /* -1 until assigned */
bool rtc_pc_datachannel_ordered(const rtc_pc_datachannel_t *dc);
int32_t rtc_pc_datachannel_max_retransmits(const rtc_pc_datachannel_t *dc);
int32_t rtc_pc_datachannel_max_packet_life_time(const rtc_pc_datachannel_t *dc);
bool rtc_pc_datachannel_negotiated(const rtc_pc_datachannel_t *dc);
size_t rtc_pc_datachannel_buffered_amount(const rtc_pc_datachannel_t *dc);
void rtc_pc_datachannel_set_buffered_amount_low_threshold(rtc_pc_datachannel_t *dc, size_t t);
size_t rtc_pc_datachannel_buffered_amount_low_threshold(const rtc_pc_datachannel_t *dc);
void *rtc_pc_datachannel_user(const rtc_pc_datachannel_t *dc);
/* The SCTP transport's maxMessageSize (the peer's limit), 0 before it exists. */
size_t rtc_peer_connection_max_message_size(const rtc_peer_connection_t *pc);

/* ------------------------------------------------------------------------------------------
 * State, close, stats.
 */
rtc_pc_signaling_state_t rtc_peer_connection_signaling_state(const rtc_peer_connection_t *pc);
rtc_ice_gathering_state_t rtc_peer_connection_ice_gathering_state(const rtc_peer_connection_t *pc);
rtc_ice_state_t rtc_peer_connection_ice_connection_state(const rtc_peer_connection_t *pc);
rtc_pc_state_t rtc_peer_connection_connection_state(const rtc_peer_connection_t *pc);
/* The DTLS role negotiated (true: we sent the ClientHello). */
bool rtc_peer_connection_dtls_client(const rtc_peer_connection_t *pc);
/* Our current ICE ufrag ("" before the first description). The runtime's shared-port demux
 * matches incoming STUN USERNAMEs against it. */
const char *rtc_peer_connection_local_ufrag(const rtc_peer_connection_t *pc);

/* close(): DTLS close_notify, SCTP ABORT, everything stops; states become closed (the state
 * callbacks fire once). Idempotent. */
void rtc_peer_connection_close(rtc_peer_connection_t *pc, rtc_time_t now);

/* getStats(): appends a JSON object keyed by stats id, each value a W3C stats dictionary with
 * "id", "type", "timestamp" (ms since the Unix epoch) and the members we track:
 * peer-connection, transport, candidate-pair, local-candidate, remote-candidate, certificate,
 * codec, inbound-rtp, outbound-rtp, remote-inbound-rtp, data-channel. */
int rtc_peer_connection_get_stats(const rtc_peer_connection_t *pc, rtc_time_t now, rtc_buf_t *out);

/* ------------------------------------------------------------------------------------------
 * Send-side bandwidth estimate and probing (TWCC negotiated: transport-cc feedback and the
 * transport-wide-cc header extension).
 *
 * The estimator (rtc/rtp.h rtc_bwe_*, GCC) starts at 300 kbps and, fed only by media, grows
 * at most 8 %/s and never past 1.5x what is acknowledged: a sender that keeps its rate under
 * the estimate never learns the path could carry more. A probe is a cluster of padding-only
 * RTP packets (RFC 3550 5.1 padding, 255 bytes each, no payload) on the RTX SSRC and RTX
 * payload type of a sending video transceiver (RFC 4588: the RTX sequence numbers continue
 * those of retransmissions; the media stream's are untouched), each with a transport-wide
 * seq, paced at target_bps for `duration` (at most 1 s; at least 8 packets). Receivers drop
 * padding-only RTX packets before depacketising (Chromium, aiortc and ours do) and count no
 * loss on the media stream. When the TWCC feedback has reported the cluster (or 1 s after its
 * last packet), its rate is measured at the receiver (min of send and receive rate, see
 * rtc_bwe_probe_rate) and, if above the estimate and the path shows no overuse, becomes the
 * estimate at once.
 *
 * Returns RTC_OK (the runtime is woken to pace it), RTC_ERR_AGAIN while a cluster is still
 * being sent or measured, RTC_ERR_STATE before media flows or without TWCC,
 * RTC_ERR_UNSUPPORTED when no video transceiver sends with RTX negotiated and has sent a
 * packet yet (padding on the media SSRC would take sequence numbers from the stream the
 * application writes), RTC_ERR_INVALID_ARG for a zero rate or duration. */
int rtc_peer_connection_probe(rtc_peer_connection_t *pc, uint64_t target_bps, rtc_time_t duration,
                              rtc_time_t now);

typedef struct {
    uint64_t target_bps;     /* the estimate (getStats availableOutgoingBitrate) */
    uint64_t acked_bps;      /* what the receiver acknowledged over the last 500 ms */
    double loss;             /* loss ratio the estimator last computed (0..1) */
    bool probing;            /* a cluster is being sent or waits for its feedback */
    uint64_t last_probe_bps; /* the last cluster's measured rate; 0: none or not usable */
    uint64_t probes, probe_packets, probe_bytes; /* clusters started, packets/bytes sent */
} rtc_pc_bandwidth_t;
/* Fills out (zeroed first). RTC_ERR_NOT_FOUND (probe counters still filled) while there is
 * no estimator: TWCC not negotiated or nothing sent yet. */
int rtc_peer_connection_bandwidth(const rtc_peer_connection_t *pc, rtc_pc_bandwidth_t *out);

/* ------------------------------------------------------------------------------------------
 * libuv runtime (src/pc/pc_runtime_uv.c).
 *
 * One runtime per uv loop (per thread). It opens the sockets, reads them in batches
 * (recvmmsg via rtc/net.h, from a uv_poll_t), dispatches datagrams to PeerConnections, and
 * keeps one uv_timer_t per PeerConnection armed at rtc_peer_connection_next_timeout (the
 * PeerConnection's `wakeup` callback re-arms it after API calls).
 *
 * Two socket modes:
 *   - per-PC (shared_port == 0): each PeerConnection gets its own socket per allowed local
 *     address (kernel-chosen ports). What a client, a test or starling-peer wants.
 *   - shared (shared_port != 0): the runtime opens one socket per allowed address on that port
 *     (SO_REUSEPORT, so every worker thread of an SFU may bind the same port and the kernel
 *     spreads flows) and every PeerConnection of the runtime uses them. Incoming datagrams are
 *     demultiplexed by remote address (a table filled when a PeerConnection accepts a peer's
 *     authenticated STUN check) and, for STUN from a new address, by the local ufrag in the
 *     USERNAME attribute ("<our ufrag>:<their ufrag>"). This is the SFU's model: ICE-lite
 *     servers, thousands of PeerConnections per worker, one port. With SO_REUSEPORT the kernel
 *     hashes on the 4-tuple, so a peer's packets may reach a worker that does not own the
 *     PeerConnection: an SFU either runs one runtime (one port) per worker, each advertising
 *     its own port, or hands foreign datagrams to the owning worker — the runtime reports
 *     those it cannot place through `unknown_datagram`.
 * Remote addresses learned in shared mode are forgotten when the PeerConnection is destroyed.
 */
struct uv_loop_s;
typedef struct rtc_pc_runtime rtc_pc_runtime_t;

typedef struct {
    /* 0: per-PC sockets. Otherwise every PC shares one socket per allowed address on this
     * port (see above); `filter` then says which addresses. */
    uint16_t shared_port;
    rtc_net_filter_t filter;
    bool reuse_port;              /* SO_REUSEPORT on shared sockets */
    /* Shared mode: a datagram no PeerConnection claims (optional; e.g. to hand it to another
     * worker). */
    void (*unknown_datagram)(void *user, const rtc_addr_t *local, const rtc_addr_t *from,
                             const uint8_t *p, size_t n);
    void *user;
} rtc_pc_runtime_config_t;

void rtc_pc_runtime_config_init(rtc_pc_runtime_config_t *cfg);
/* NULL (logged) when a shared socket cannot be opened or no address is allowed. */
rtc_pc_runtime_t *rtc_pc_runtime_create(struct uv_loop_s *loop, const rtc_pc_runtime_config_t *cfg);
/* Destroys every PeerConnection still attached (without callbacks) and closes the handles;
 * run the loop once more (uv_run) before freeing the loop. */
void rtc_pc_runtime_destroy(rtc_pc_runtime_t *rt);

/* Creates a PeerConnection driven by this runtime. cb->send and cb->wakeup are supplied by
 * the runtime (the caller's are ignored); the others are the caller's. In per-PC mode the
 * sockets are opened on cfg->filter's addresses. NULL on failure (logged). */
rtc_peer_connection_t *rtc_pc_runtime_create_pc(rtc_pc_runtime_t *rt, const rtc_pc_config_t *cfg,
                                                const rtc_pc_callbacks_t *cb, void *user);
/* Closes the PC's sockets and timer and destroys it (not from inside its own callbacks: use
 * rtc_pc_runtime_destroy_pc_later then). */
void rtc_pc_runtime_destroy_pc(rtc_pc_runtime_t *rt, rtc_peer_connection_t *pc);
/* Destroys it from the loop on its next iteration: safe inside the PC's callbacks. */
void rtc_pc_runtime_destroy_pc_later(rtc_pc_runtime_t *rt, rtc_peer_connection_t *pc);
size_t rtc_pc_runtime_pc_count(const rtc_pc_runtime_t *rt);
/* The runtime's clock reading (rtc_clock_now()), for API calls that take `now`. */
rtc_time_t rtc_pc_runtime_now(const rtc_pc_runtime_t *rt);

typedef struct {
    uint64_t datagrams_received, datagrams_sent, send_errors;
    uint64_t unknown_dropped;     /* shared mode: no PeerConnection claimed the datagram */
    uint64_t batches;             /* recvmmsg calls that returned datagrams */
} rtc_pc_runtime_stats_t;
void rtc_pc_runtime_get_stats(const rtc_pc_runtime_t *rt, rtc_pc_runtime_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* RTC_PC_H */
