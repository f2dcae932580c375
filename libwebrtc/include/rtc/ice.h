/*
 * rtc/ice.h — Interactive Connectivity Establishment: an RFC 8445 full agent and an ICE-lite
 * agent, trickle ICE (RFC 8838), consent freshness (RFC 7675), candidates and their SDP
 * `candidate:` lines (RFC 8839). States and events are named as in the W3C API
 * (RTCIceTransportState, RTCIceGatheringState, RTCIceCandidatePairState).
 *
 * The agent is sans-I/O. The runtime owns the sockets and the clock:
 *
 *   - it opens one UDP socket per allowed local address (see rtc_ice_config_t.filter and
 *     rtc_ice_gather_addresses) and hands each to the agent with rtc_ice_agent_add_socket,
 *     as an opaque handle (`void *sock`) the agent never dereferences;
 *   - it feeds every datagram received on those sockets to rtc_ice_agent_handle_datagram;
 *   - it calls rtc_ice_agent_handle_timeout when rtc_ice_agent_next_timeout says so;
 *   - it puts on the wire whatever the agent hands to the `send` callback:
 *     (socket handle, destination, bytes).
 *
 * One socket per local address carries everything for that address: host-candidate checks,
 * STUN Binding requests to STUN servers (server-reflexive candidates), TURN traffic
 * (relayed candidates) and application data. The agent demultiplexes incoming datagrams
 * (RFC 7983): STUN goes to the ICE/STUN/TURN machinery, everything else from a peer with
 * which a candidate pair is established goes up through the `data` callback with that pair.
 *
 * One data stream with one component (component 1): WebRTC always multiplexes RTP and RTCP
 * (rtcp-mux) and bundles media, so that is all a PeerConnection needs.
 *
 * A libuv driver for tools and tests (real sockets, real timers) is at the end of this
 * header; it is the only part of the ICE layer that does I/O (src/ice/runtime_uv.c).
 */
#ifndef RTC_ICE_H
#define RTC_ICE_H

#include "rtc/base.h"
#include "rtc/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Candidates.
 */
#define RTC_ICE_UFRAG_MAX 256       /* ice-ufrag is 4..256 ice-chars (RFC 8839 §5.4) */
#define RTC_ICE_PWD_MAX 256         /* ice-pwd is 22..256 ice-chars */
#define RTC_ICE_FOUNDATION_MAX 32   /* 1..32 ice-chars */
#define RTC_ICE_HOSTNAME_MAX 128    /* mDNS names are "<uuid>.local" (42 characters) */
/* Longest candidate line rtc_ice_candidate_format writes, with the NUL. */
#define RTC_ICE_CANDIDATE_STRLEN 768

typedef enum {
    RTC_ICE_CANDIDATE_HOST = 0,
    RTC_ICE_CANDIDATE_SRFLX = 1,    /* server reflexive: our address as a STUN server sees it */
    RTC_ICE_CANDIDATE_PRFLX = 2,    /* peer reflexive: learned from a connectivity check */
    RTC_ICE_CANDIDATE_RELAY = 3,    /* relayed: an address on a TURN server */
} rtc_ice_candidate_type_t;

typedef enum {
    RTC_ICE_TRANSPORT_UDP = 0,
    RTC_ICE_TRANSPORT_TCP = 1,      /* ICE-TCP (RFC 6544): parsed, never paired */
} rtc_ice_transport_t;

typedef enum {
    RTC_ICE_TCP_NONE = 0,
    RTC_ICE_TCP_ACTIVE,
    RTC_ICE_TCP_PASSIVE,
    RTC_ICE_TCP_SO,
} rtc_ice_tcp_type_t;

/* How we reach a TURN server (W3C relayProtocol); also its preference order. */
typedef enum {
    RTC_ICE_RELAY_UDP = 0,
    RTC_ICE_RELAY_TCP = 1,
    RTC_ICE_RELAY_TLS = 2,
} rtc_ice_relay_protocol_t;

/* A candidate, local or remote: a plain value, cheap to copy. */
typedef struct {
    char foundation[RTC_ICE_FOUNDATION_MAX + 1];
    uint16_t component;                 /* 1 */
    rtc_ice_transport_t transport;
    uint32_t priority;
    rtc_addr_t addr;                    /* family RTC_AF_UNSPEC while `hostname` is unresolved */
    char hostname[RTC_ICE_HOSTNAME_MAX + 1]; /* "" for a literal address; mDNS "x.local" names */
    rtc_ice_candidate_type_t type;
    rtc_addr_t related;                 /* raddr/rport; family RTC_AF_UNSPEC when absent */
    rtc_ice_tcp_type_t tcp_type;
    rtc_ice_relay_protocol_t relay_protocol; /* local relayed candidates: transport to TURN */
    int generation;                     /* -1 when absent */
    char ufrag[RTC_ICE_UFRAG_MAX + 1];  /* "" when absent (trickle: which generation) */
} rtc_ice_candidate_t;

/* "host", "srflx", "prflx", "relay"; "unknown" out of range. */
const char *rtc_ice_candidate_type_name(rtc_ice_candidate_type_t t);

/* RFC 8445 §5.1.2.1: (2^24)*type_pref + (2^8)*local_pref + (256 - component), with the
 * recommended type preferences host 126, prflx 110, srflx 100, relay 0. */
#define RTC_ICE_TYPE_PREF_HOST 126
#define RTC_ICE_TYPE_PREF_PRFLX 110
#define RTC_ICE_TYPE_PREF_SRFLX 100
#define RTC_ICE_TYPE_PREF_RELAY 0
uint32_t rtc_ice_candidate_priority(unsigned type_pref, unsigned local_pref, unsigned component);
unsigned rtc_ice_type_preference(rtc_ice_candidate_type_t t);

/* RFC 8445 §6.1.2.3: pair priority 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), where G is the
 * controlling agent's candidate priority and D the controlled agent's. */
uint64_t rtc_ice_pair_priority(uint32_t controlling, uint32_t controlled);

/* Parses an RFC 8839 candidate attribute, with or without the leading "a=" and with or
 * without "candidate:" (W3C RTCIceCandidate.candidate strings have "candidate:" and no
 * "a="). Trailing CR/LF are ignored. Understands raddr/rport, tcptype, generation, ufrag;
 * skips other extension name/value pairs. A connection-address ending in ".local" (or any
 * other name that is not an IP literal) lands in `hostname` with addr.family UNSPEC.
 * Returns RTC_OK, RTC_ERR_MALFORMED (bad syntax, component 0 or over 256, unknown type,
 * port over 65535, too-long token) or RTC_ERR_UNSUPPORTED (transport other than UDP/TCP).
 * Never reads past n. */
int rtc_ice_candidate_parse(rtc_ice_candidate_t *c, const char *s, size_t n);

/* Writes "candidate:<foundation> <component> udp <priority> <ip> <port> typ <type>
 * [raddr <ip> rport <port>] [tcptype <t>] [generation <n>] [ufrag <u>]" (no "a=", no CRLF).
 * Returns the length written or RTC_ERR_OVERFLOW / RTC_ERR_INVALID_ARG. */
int rtc_ice_candidate_format(const rtc_ice_candidate_t *c, char *out, size_t cap);

/* ------------------------------------------------------------------------------------------
 * States (W3C names).
 */
typedef enum {
    RTC_ICE_STATE_NEW = 0,
    RTC_ICE_STATE_CHECKING,
    RTC_ICE_STATE_CONNECTED,
    RTC_ICE_STATE_COMPLETED,
    RTC_ICE_STATE_DISCONNECTED,
    RTC_ICE_STATE_FAILED,
    RTC_ICE_STATE_CLOSED,
} rtc_ice_state_t;

typedef enum {
    RTC_ICE_GATHERING_NEW = 0,
    RTC_ICE_GATHERING_GATHERING,
    RTC_ICE_GATHERING_COMPLETE,
} rtc_ice_gathering_state_t;

typedef enum {
    RTC_ICE_PAIR_FROZEN = 0,
    RTC_ICE_PAIR_WAITING,
    RTC_ICE_PAIR_IN_PROGRESS,
    RTC_ICE_PAIR_SUCCEEDED,
    RTC_ICE_PAIR_FAILED,
} rtc_ice_pair_state_t;

typedef enum {
    RTC_ICE_ROLE_CONTROLLED = 0,
    RTC_ICE_ROLE_CONTROLLING = 1,
} rtc_ice_role_t;

typedef enum {
    /* RFC 8445 §8.1.1: the controlling agent lets checks run, picks the best valid pair and
     * nominates it with one more check carrying USE-CANDIDATE. */
    RTC_ICE_NOMINATION_REGULAR = 0,
    /* RFC 5245 §8.1.1.2: every check of the controlling agent carries USE-CANDIDATE, the first
     * pair to succeed is used at once and a higher-priority one replaces it if it succeeds. */
    RTC_ICE_NOMINATION_AGGRESSIVE = 1,
} rtc_ice_nomination_t;

/* "new", "checking", "connected", "completed", "disconnected", "failed", "closed". */
const char *rtc_ice_state_name(rtc_ice_state_t s);
/* "new", "gathering", "complete". */
const char *rtc_ice_gathering_state_name(rtc_ice_gathering_state_t s);
/* "frozen", "waiting", "in-progress", "succeeded", "failed". */
const char *rtc_ice_pair_state_name(rtc_ice_pair_state_t s);

/* ------------------------------------------------------------------------------------------
 * Configuration.
 */
#define RTC_ICE_MAX_SERVERS 8

typedef enum {
    RTC_ICE_SERVER_STUN = 0,
    RTC_ICE_SERVER_TURN = 1,
} rtc_ice_server_kind_t;

/* A STUN or TURN server. The agent does no DNS: `addr` is already resolved (the runtime or
 * the PeerConnection resolves "stun:host:port" URLs). */
typedef struct {
    rtc_ice_server_kind_t kind;
    rtc_addr_t addr;
    rtc_ice_relay_protocol_t protocol;  /* TURN: UDP, TCP or TLS to the server */
    char username[257];                 /* TURN long-term credentials */
    char password[257];
    char tls_name[256];                 /* TURN over TLS: server name for SNI and verification */
    bool tls_no_verify;                 /* TURN over TLS: accept any certificate (tests only) */
} rtc_ice_server_t;

typedef struct {
    /* ICE-lite (RFC 8445 §2.5): host candidates only, never sends checks, answers them,
     * always controlled. For servers with a public address (the SFU). */
    bool lite;
    /* Initial role. The offerer is controlling unless it is lite (RFC 8445 §6.1.1). */
    rtc_ice_role_t role;
    /* Role-conflict tie-breaker; 0 draws a random one. */
    uint64_t tie_breaker;
    /* Local credentials; empty strings draw random ones (8-character ufrag, 24-character
     * password: more than the 24 and 128 bits RFC 8445 §5.3 asks for). */
    char ufrag[RTC_ICE_UFRAG_MAX + 1];
    char pwd[RTC_ICE_PWD_MAX + 1];
    rtc_ice_nomination_t nomination;
    /* W3C iceTransportPolicy "relay": only relayed candidates are announced and paired. */
    bool relay_only;

    rtc_time_t ta;                   /* pacing of new transactions, default 50 ms (§14.2) */
    rtc_time_t check_rto;            /* first retransmission of a check, default 500 ms */
    unsigned check_max_sends;        /* sends before a check fails, default 7 (RFC 8489 Rc) */
    rtc_time_t gather_rto;           /* STUN/TURN server requests, default 500 ms */
    unsigned gather_max_sends;       /* default 4: an unreachable server costs 7.5 s */
    /* Regular nomination: once a valid pair exists, the controlling agent waits at most this
     * long for better pairs before nominating the best one (default 500 ms). */
    rtc_time_t nomination_delay;
    /* Consent freshness (RFC 7675). A consent check goes out every consent_interval, randomised
     * to 0.8-1.2 of it (default 5 s; 0 disables consent checks). No answer for
     * disconnected_timeout (default 8 s) means "disconnected", and checks then go out every
     * second; none for consent_timeout (default 30 s) means consent expired: "failed", and
     * sending stops. ICE-lite agents send no checks; they judge freshness by the peer's
     * checks instead. */
    rtc_time_t consent_interval;
    rtc_time_t disconnected_timeout;
    rtc_time_t consent_timeout;
    /* Binding indications on the selected pair when nothing else was sent for this long
     * (RFC 8445 §11; default 15 s). Consent checks count as traffic. */
    rtc_time_t keepalive_interval;
    unsigned max_pairs;              /* checklist size limit, default 100 (§6.1.2.5) */
    unsigned max_remote_candidates;  /* default 64; further candidates are refused */

    rtc_ice_server_t servers[RTC_ICE_MAX_SERVERS];
    size_t n_servers;

    /* Which local addresses may be used. rtc_ice_agent_add_socket refuses others, and
     * rtc_ice_gather_addresses lists the allowed ones. An empty filter allows every
     * non-loopback, non-link-local address (production default); tests name loopback or
     * their own namespace addresses. */
    rtc_net_filter_t filter;

    /* 1:1 NAT (a server whose public address is forwarded to a private one, as on most cloud
     * VMs): host candidates are signalled with this address's IP instead of the socket's,
     * port unchanged — one per family (IPv4 and IPv6); RTC_AF_UNSPEC (default) for none.
     * Nothing else changes: checks still arrive on, and leave from, the private socket,
     * whose translation the NAT does. rtc_ice_agent_local_candidates lists the candidates as
     * announced; pairs (rtc_ice_pair_info_t) keep the socket's address. */
    rtc_addr_t nat_1to1_ipv4;
    rtc_addr_t nat_1to1_ipv6;
} rtc_ice_config_t;

/* Fills cfg with the defaults above (controlling, regular nomination, empty filter). */
void rtc_ice_config_default(rtc_ice_config_t *cfg);
/* Adds a server; RTC_ERR_LIMIT when RTC_ICE_MAX_SERVERS are configured, RTC_ERR_INVALID_ARG
 * for an address without a port or credentials that do not fit. username/password may be NULL
 * for STUN. */
int rtc_ice_config_add_server(rtc_ice_config_t *cfg, rtc_ice_server_kind_t kind,
                              const rtc_addr_t *addr, rtc_ice_relay_protocol_t protocol,
                              const char *username, const char *password);

/* ------------------------------------------------------------------------------------------
 * The agent.
 */
typedef struct rtc_ice_agent rtc_ice_agent_t;

/* A candidate pair as the data callback and rtc_ice_agent_get_pairs report it. */
typedef struct {
    uint32_t id;                        /* unique within the agent's life */
    rtc_ice_candidate_t local;          /* as the peer sees us: host, srflx, prflx or relay */
    rtc_ice_candidate_t remote;
    rtc_ice_pair_state_t state;
    uint64_t priority;
    bool nominated;
    bool selected;
    uint64_t requests_sent, responses_received, requests_received, responses_sent;
    uint64_t packets_sent, packets_received, bytes_sent, bytes_received;
    rtc_time_t rtt;                     /* last check/consent round trip, 0 if none */
} rtc_ice_pair_info_t;

/* Callbacks. All but `send` and `data` are deferred: the agent queues the event and delivers
 * it just before the API call that caused it returns, so a callback may call back into the
 * agent (add a candidate, send data...). No callback may destroy the agent. `send` must only
 * put the datagram on the wire (or drop it) and must not call the agent. */
typedef struct {
    /* Put p[0..n) on the wire from socket `sock` to `dest`. Required. */
    void (*send)(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n);
    /* A new local candidate to signal to the peer (trickle); c == NULL means
     * end-of-candidates for this gathering generation. */
    void (*candidate)(void *user, const rtc_ice_candidate_t *c);
    void (*state_change)(void *user, rtc_ice_state_t state);
    void (*gathering_state_change)(void *user, rtc_ice_gathering_state_t state);
    /* The pair used for sending changed (pair valid only during the call). */
    void (*selected_pair_change)(void *user, const rtc_ice_pair_info_t *pair);
    /* A non-STUN datagram from the peer (DTLS, RTP, ...), with the pair it arrived on.
     * Called synchronously from rtc_ice_agent_handle_datagram; p and pair are valid only
     * during the call. rtc_ice_agent_send may be called from here. */
    void (*data)(void *user, const uint8_t *p, size_t n, const rtc_ice_pair_info_t *pair);
    /* TURN over TCP or TLS (server->protocol): the runtime opens a connection to server->addr
     * (with TLS on top for RTC_ICE_RELAY_TLS, using tls_name for SNI and verification) and
     * returns an opaque handle, or NULL if it cannot (the server is then skipped). Once the
     * connection (and TLS handshake) is up it calls rtc_ice_agent_stream_connected; it feeds
     * every byte read with rtc_ice_agent_handle_stream and reports failure or closure with
     * rtc_ice_agent_stream_closed. Bytes to write arrive through `send` with the handle as
     * `sock` and the server as `dest`, in order. NULL: TCP/TLS servers are skipped. Like
     * `send`, called synchronously; it must not call the agent. */
    void *(*stream_open)(void *user, const rtc_ice_server_t *server);
    /* The agent gave up on a stream (its TURN allocation failed): close it. Streams still open
     * when the agent is destroyed are the runtime's to close. */
    void (*stream_close)(void *user, void *stream);
} rtc_ice_callbacks_t;

/* Creates an agent. cfg and cb are copied; `user` is passed to every callback. Returns NULL
 * for an invalid configuration (bad ufrag/pwd characters or length, no send callback) or on
 * allocation failure (logged). The caller destroys it. */
rtc_ice_agent_t *rtc_ice_agent_create(const rtc_ice_config_t *cfg, const rtc_ice_callbacks_t *cb,
                                      void *user);
/* Frees everything; no callbacks are called. NULL is a no-op. */
void rtc_ice_agent_destroy(rtc_ice_agent_t *a);

/* Gives the agent a bound UDP socket for local address `local` (with its port). `ifname` (may
 * be NULL) lets an interface-name filter apply. The handle is only passed back through the
 * send callback. Returns RTC_ERR_DENIED if the configured filter does not allow the address,
 * RTC_ERR_DUPLICATE for an address already added, RTC_ERR_STATE after gathering started. */
int rtc_ice_agent_add_socket(rtc_ice_agent_t *a, void *sock, const rtc_addr_t *local,
                             const char *ifname);

/* Starts gathering: host candidates at once, server-reflexive ones from every STUN server,
 * relayed ones from every TURN server, each through every socket of the server's family.
 * Candidates arrive through the `candidate` callback, then end-of-candidates (NULL) and the
 * gathering state "complete". RTC_ERR_STATE if already gathering or closed. */
int rtc_ice_agent_gather(rtc_ice_agent_t *a, rtc_time_t now);

/* The local ufrag and password (owned by the agent, valid until restart/destroy). */
const char *rtc_ice_agent_local_ufrag(const rtc_ice_agent_t *a);
const char *rtc_ice_agent_local_pwd(const rtc_ice_agent_t *a);

/* Sets the peer's credentials. Checks cannot be sent before this; checks that arrive before
 * it are answered and remembered (RFC 8445 §7.3.1.3-4) and their triggered checks go out once
 * the credentials are known. Changing credentials already set is an ICE restart by the peer:
 * call rtc_ice_agent_restart first (RTC_ERR_STATE otherwise). RTC_ERR_INVALID_ARG for
 * malformed values. */
int rtc_ice_agent_set_remote_credentials(rtc_ice_agent_t *a, const char *ufrag, const char *pwd,
                                         rtc_time_t now);
/* The peer announced a=ice-lite: a full agent then takes the controlling role. */
void rtc_ice_agent_set_remote_lite(rtc_ice_agent_t *a, bool lite);

/* Adds a remote candidate (trickled or from the SDP). A candidate whose `ufrag` is set and
 * differs from the current remote ufrag belongs to another generation and is ignored
 * (RTC_ERR_STALE). TCP candidates and unresolved host names (mDNS) are kept but not paired:
 * the pair is learned peer-reflexive when the peer's check arrives. RTC_ERR_LIMIT past
 * max_remote_candidates; RTC_ERR_STATE after end-of-candidates or close. */
int rtc_ice_agent_add_remote_candidate(rtc_ice_agent_t *a, const rtc_ice_candidate_t *c,
                                       rtc_time_t now);
/* Parses a candidate line (rtc_ice_candidate_parse) and adds it. */
int rtc_ice_agent_add_remote_candidate_str(rtc_ice_agent_t *a, const char *line, rtc_time_t now);
/* The peer signalled end-of-candidates (RFC 8838 §13), or all its candidates came in the SDP. */
int rtc_ice_agent_end_of_remote_candidates(rtc_ice_agent_t *a, rtc_time_t now);

/* Feeds one datagram received on socket `sock` from `from`. STUN is handled here; other
 * datagrams from a peer on an established pair go to the `data` callback; anything else is
 * counted and dropped (see rtc_ice_stats_t). Returns RTC_OK when the datagram was used,
 * RTC_ERR_NOT_FOUND for an unknown socket, or the reason it was dropped (RTC_ERR_MALFORMED,
 * RTC_ERR_AUTH, RTC_ERR_INTEGRITY, RTC_ERR_DENIED ...) — dropping never changes state. */
int rtc_ice_agent_handle_datagram(rtc_ice_agent_t *a, void *sock, const rtc_addr_t *from,
                                  const uint8_t *p, size_t n, rtc_time_t now);

/* TURN over TCP/TLS: the stream from the stream_open callback is connected (TLS handshake done);
 * the Allocate goes out. RTC_ERR_NOT_FOUND for an unknown handle. */
int rtc_ice_agent_stream_connected(rtc_ice_agent_t *a, void *stream, rtc_time_t now);
/* Bytes read from the stream, in any split. RTC_ERR_MALFORMED when the stream carries something
 * that is neither STUN nor ChannelData: framing is lost, the runtime should close it (and call
 * rtc_ice_agent_stream_closed). */
int rtc_ice_agent_handle_stream(rtc_ice_agent_t *a, void *stream, const uint8_t *p, size_t n,
                                rtc_time_t now);
/* The stream failed or closed: its relayed candidate (if any) is gone. */
void rtc_ice_agent_stream_closed(rtc_ice_agent_t *a, void *stream, rtc_time_t now);

/* When the agent next needs handle_timeout (RTC_TIME_NEVER when idle). */
rtc_time_t rtc_ice_agent_next_timeout(const rtc_ice_agent_t *a);
/* Paces checks, retransmits, nominates, runs consent and keepalives, times out. */
void rtc_ice_agent_handle_timeout(rtc_ice_agent_t *a, rtc_time_t now);

/* Sends application data on the selected pair (through the TURN server when the local
 * candidate is relayed). RTC_ERR_STATE when there is no selected pair or consent expired,
 * RTC_ERR_OVERFLOW when n is too large for the path. */
int rtc_ice_agent_send(rtc_ice_agent_t *a, const uint8_t *p, size_t n, rtc_time_t now);

/* ICE restart (RFC 8445 §9): new local credentials (ufrag/pwd NULL or "" for random ones),
 * remote candidates and checklist dropped, local candidates gathered again (announced with the
 * new ufrag). Until a new pair is selected, data keeps flowing on the previous one. The caller
 * then sets the peer's new credentials and candidates. */
int rtc_ice_agent_restart(rtc_ice_agent_t *a, const char *ufrag, const char *pwd, rtc_time_t now);

/* Closes: state "closed", nothing more is sent or delivered. */
void rtc_ice_agent_close(rtc_ice_agent_t *a);

rtc_ice_state_t rtc_ice_agent_state(const rtc_ice_agent_t *a);
rtc_ice_gathering_state_t rtc_ice_agent_gathering_state(const rtc_ice_agent_t *a);
rtc_ice_role_t rtc_ice_agent_role(const rtc_ice_agent_t *a);

/* The selected pair: RTC_OK, or RTC_ERR_NOT_FOUND when none. */
int rtc_ice_agent_get_selected_pair(const rtc_ice_agent_t *a, rtc_ice_pair_info_t *out);
/* Copies up to max local candidates (announced ones and learned peer-reflexive ones); returns
 * how many there are in total. */
size_t rtc_ice_agent_local_candidates(const rtc_ice_agent_t *a, rtc_ice_candidate_t *out,
                                      size_t max);
size_t rtc_ice_agent_remote_candidates(const rtc_ice_agent_t *a, rtc_ice_candidate_t *out,
                                       size_t max);
/* Copies up to max pairs of the checklist, highest priority first; returns the total. */
size_t rtc_ice_agent_get_pairs(const rtc_ice_agent_t *a, rtc_ice_pair_info_t *out, size_t max);

/* Counters of what came in and what was dropped, for metrics and tests. */
typedef struct {
    uint64_t datagrams_received;
    uint64_t stun_received;
    uint64_t data_received;
    uint64_t checks_received;           /* authenticated Binding requests */
    uint64_t checks_sent;               /* STUN requests sent (checks, consent, STUN server
                                         * queries), retransmissions included */
    uint64_t dropped_malformed;         /* undecodable STUN, bad fingerprint */
    uint64_t dropped_unauthenticated;   /* no USERNAME/MESSAGE-INTEGRITY/FINGERPRINT */
    uint64_t dropped_bad_username;      /* unknown ufrag */
    uint64_t dropped_bad_integrity;     /* wrong MESSAGE-INTEGRITY (requests and responses) */
    uint64_t dropped_unknown_source;    /* data from an address with no established pair */
    uint64_t dropped_unmatched;         /* responses to no transaction of ours */
    uint64_t dropped_other;             /* unexpected methods/classes, indications we ignore */
    uint64_t role_conflicts;            /* 487 sent or received, or role switched */
    uint64_t bad_requests;              /* authenticated but answered with 400/420 */
} rtc_ice_stats_t;
void rtc_ice_agent_get_stats(const rtc_ice_agent_t *a, rtc_ice_stats_t *out);

/* For servers that share one UDP port among many agents (the SFU): the ufrag of the agent a
 * Binding request is addressed to, i.e. the part of its USERNAME before the colon, so the
 * runtime can find the agent before handing it the datagram. Nothing is verified here (the
 * agent checks integrity). Returns the length copied into out (NUL-terminated), or
 * RTC_ERR_NOT_FOUND when p is not a Binding request with a well-formed USERNAME,
 * RTC_ERR_OVERFLOW when cap is too small. */
int rtc_ice_peek_ufrag(const uint8_t *p, size_t n, char *out, size_t cap);

/* Lists the local addresses cfg->filter allows (rtc_net_local_addresses), for the runtime to
 * open sockets on. Returns the count or a negative rtc_err_t. */
int rtc_ice_gather_addresses(const rtc_ice_config_t *cfg, rtc_addr_t *out, size_t max);

/* ------------------------------------------------------------------------------------------
 * libuv driver (src/ice/runtime_uv.c) — the I/O glue for tools and tests. Opens one UDP
 * socket per address the filter allows, reads them in batches (recvmmsg), drives the agent's
 * timer, sends what the agent asks, and opens TCP or TLS connections to TURN servers (TLS
 * verified against the system's CA store — SSL_CERT_FILE works — and tls_name, unless
 * tls_no_verify). The callbacks given here are the agent's callbacks, except `send`,
 * `stream_open` and `stream_close`, which the driver supplies.
 */
struct uv_loop_s;
typedef struct rtc_ice_uv rtc_ice_uv_t;

/* Creates the agent and its sockets on `loop` (ports chosen by the kernel, or `port` if not 0
 * — then every address gets the same port). Nothing happens until rtc_ice_uv_start. Returns
 * NULL (logged) when no address is allowed or a socket cannot be opened. */
rtc_ice_uv_t *rtc_ice_uv_create(struct uv_loop_s *loop, const rtc_ice_config_t *cfg,
                                uint16_t port, const rtc_ice_callbacks_t *cb, void *user);
/* The agent, to call its API directly. Call rtc_ice_uv_kick after any call that may have
 * queued work (adding candidates, restart, send) so the timer is rearmed. */
rtc_ice_agent_t *rtc_ice_uv_agent(rtc_ice_uv_t *u);
/* Starts reading and gathering. */
int rtc_ice_uv_start(rtc_ice_uv_t *u);
void rtc_ice_uv_kick(rtc_ice_uv_t *u);
/* Closes sockets and timer and destroys the agent. Handles close asynchronously: run the loop
 * once more (uv_run) before freeing the loop. */
void rtc_ice_uv_destroy(rtc_ice_uv_t *u);

#ifdef __cplusplus
}
#endif
#endif /* RTC_ICE_H */
