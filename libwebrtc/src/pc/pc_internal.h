/* Internal structures of the PeerConnection layer, shared by the files of src/pc/. */
#ifndef RTC_PC_INTERNAL_H
#define RTC_PC_INTERNAL_H

#include "rtc/pc.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/srtp.h"

#define PC_LOG "pc"
#define PC_MAX_SOCKETS 16
#define PC_MAX_RECV_STREAMS 8
#define PC_MAX_EARLY 8        /* DTLS datagrams kept while the DTLS endpoint does not exist */
/* Largest RTP packet the sender takes (after its header extensions are rewritten, before
 * SRTP). Received packets are forwarded at the size they came in (the SFU), so this must fit
 * anything a 1500-byte datagram carries plus the extensions we add; packetization of our own
 * frames stays at ~1100-byte payloads (send_frame). */
#define PC_RTP_MAX 1600
#define PC_HISTORY_PACKETS 1024
#define PC_RTCP_INTERVAL RTC_MS(1000)
#define PC_MID_SIZE 32
#define PC_ID_SIZE 64

/* One SSRC the peer sends us on a transceiver. */
typedef struct {
    uint32_t ssrc;
    uint32_t rtx_ssrc;           /* 0 until known (FID group or repaired-rid) */
    char rid[17];
    uint32_t clock;
    rtc_rtp_recv_stats_t *stats;
    rtc_rtp_nack_generator_t *nack;
    uint8_t last_pt;
    uint64_t packets, bytes, header_bytes;
    uint64_t nacks_sent, plis_sent, firs_sent, retransmitted;
    int64_t last_packet_us;      /* wall clock, for stats */
    bool keyframe_requested;
} pc_recv_stream_t;

struct rtc_pc_transceiver {
    rtc_peer_connection_t *pc;
    size_t index;
    rtc_pc_media_kind_t kind;
    char mid[PC_MID_SIZE];            /* "" until assigned */
    unsigned mid_order;               /* when the mid was assigned (m-line order after a rollback) */
    rtc_sdp_dir_t direction;
    rtc_sdp_dir_t current_direction;  /* NONE before negotiation */
    bool stopped;                     /* stop() called: rejected at the next negotiation */
    bool rejected;                    /* the last negotiation rejected the section */
    bool from_remote;                 /* created by a remote offer */
    bool has_track;                   /* addTrack or addTransceiver sending */
    bool ever_negotiated_send;
    bool track_fired;                 /* on_track fired for the current receiving episode */
    char track_id[PC_ID_SIZE], stream_id[PC_ID_SIZE];
    bool receive_simulcast;
    rtc_sdp_codec_t *codecs;          /* our preferences (owned copies) */
    size_t n_codecs;

    /* Negotiated (owned copies, replaced on every negotiation). */
    rtc_sdp_codec_t *neg_codecs;
    size_t n_neg_codecs;
    rtc_rtp_ext_map_t ext;
    bool sending, receiving;
    bool twcc_fb, nack_fb, pli_fb;

    /* Send side. */
    uint32_t ssrc, rtx_ssrc;
    uint16_t seq;                     /* send_frame's sequence counter */
    uint16_t vp8_picture_id;
    rtc_rtp_history_t *history;
    int history_rtx_pt;               /* the RTX pt history was configured for, -1 none */
    rtc_rtp_send_stats_t *send_stats;
    uint64_t packets_sent, bytes_sent, header_bytes_sent, retransmitted_packets;
    uint64_t retransmitted_bytes, nacks_received, plis_received, firs_received;
    uint8_t last_pt;
    uint32_t last_ts;                 /* RTP timestamp of the last packet sent */
    int64_t remote_fraction_lost;      /* last report block about us (256 scale), -1 none */
    int64_t remote_cumulative_lost, remote_jitter;
    bool sent_since_report;

    /* Receive side: SSRCs announced in the remote description and those learned. */
    uint32_t remote_ssrcs[PC_MAX_RECV_STREAMS];
    uint32_t remote_rtx_ssrcs[PC_MAX_RECV_STREAMS];
    size_t n_remote_ssrcs;
    char remote_rids[RTC_PC_MAX_RIDS][17];
    size_t n_remote_rids;
    pc_recv_stream_t streams[PC_MAX_RECV_STREAMS];
    size_t n_streams;

    void *user;
};

struct rtc_pc_datachannel {
    rtc_peer_connection_t *pc;
    char *label, *protocol;
    rtc_dc_init_t init;               /* protocol pointer replaced by our copy */
    rtc_dc_t *dc;                     /* NULL until the association exists, and after close */
    rtc_dc_state_t state;
    int32_t id;
    size_t low_threshold;
    uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
    rtc_pc_datachannel_callbacks_t cb;
    void *user;
};

typedef struct {
    void *sock;
    rtc_addr_t local;
    char ifname[32];
} pc_socket_t;

typedef struct {
    uint8_t data[1500];
    size_t n;
} pc_early_t;

struct rtc_peer_connection {
    rtc_pc_config_t cfg;
    rtc_pc_callbacks_t cb;
    void *user;
    char log_id[40];

    rtc_dtls_cert_t *cert;
    rtc_sdp_fingerprint_t local_fp;
    char cname[64];

    pc_socket_t sockets[PC_MAX_SOCKETS];
    size_t n_sockets;

    /* ICE. */
    rtc_ice_agent_t *ice;
    rtc_ice_server_t ice_servers[RTC_ICE_MAX_SERVERS];
    size_t n_ice_servers;
    char ufrag[RTC_ICE_UFRAG_MAX + 1], pwd[RTC_ICE_PWD_MAX + 1];          /* in use */
    char next_ufrag[RTC_ICE_UFRAG_MAX + 1], next_pwd[RTC_ICE_PWD_MAX + 1]; /* next offer's */
    bool restart_requested;
    char remote_ufrag[RTC_ICE_UFRAG_MAX + 1], remote_pwd[RTC_ICE_PWD_MAX + 1];
    bool remote_eoc;

    /* States. */
    rtc_pc_signaling_state_t signaling;
    rtc_ice_gathering_state_t gathering;
    rtc_ice_state_t ice_state;
    rtc_pc_state_t state;
    bool closed;

    /* Descriptions. */
    char session_id[24];
    uint64_t session_version;
    rtc_sdp_t local, remote;              /* the last applied of each */
    rtc_pc_sdp_type_t local_type, remote_type;
    bool has_local, has_remote;
    rtc_sdp_t prev_local, prev_remote;    /* for rollback */
    bool has_prev_local, has_prev_remote;
    rtc_pc_sdp_type_t prev_local_type, prev_remote_type;
    bool negotiated_once;
    bool negotiation_needed;
    bool we_offered_last;
    unsigned next_mid;
    unsigned mid_order_next;              /* counter behind mid_order / data_mid_order */

    /* Transceivers. */
    rtc_pc_transceiver_t **tr;
    size_t n_tr;

    /* Data channels. */
    bool want_data;                       /* a channel was created: offer m=application */
    size_t data_after_tr;                 /* transceivers that existed when it was created */
    char data_mid[PC_MID_SIZE];           /* "" until negotiated/assigned */
    unsigned data_mid_order;
    bool data_negotiated;
    bool data_rejected;
    uint16_t remote_sctp_port;
    uint64_t remote_mms;
    rtc_pc_datachannel_t **dcs;
    size_t n_dcs;
    uint64_t dc_opened, dc_closed;

    /* Transport. */
    bool dtls_client;
    bool dtls_role_known;
    rtc_dtls_fingerprint_t remote_fps[RTC_DTLS_MAX_REMOTE_FINGERPRINTS];
    size_t n_remote_fps;
    rtc_dtls_t *dtls;
    bool dtls_started;
    pc_early_t early[PC_MAX_EARLY];
    size_t n_early;
    rtc_srtp_session_t *srtp;
    rtc_sctp_t *sctp;
    bool sctp_started;
    bool bundle_warned;

    /* RTCP and congestion control. */
    rtc_time_t next_rtcp;
    rtc_rtp_twcc_receiver_t *twcc_rx;
    rtc_rtp_twcc_sender_t *twcc_tx;
    rtc_bwe_t *bwe;
    uint64_t remb_bps;
    /* Bandwidth probing (rtc_peer_connection_probe): one cluster at a time, padding-only RTX
     * packets paced at `bps`; its packets' TWCC results measure what the path took. */
    struct {
        rtc_pc_transceiver_t *t;       /* sending on its RTX SSRC; NULL when no cluster */
        bool sending;                  /* packets still to go */
        uint64_t bps;
        size_t bytes_total, bytes_sent;
        rtc_time_t started, next_send, ended;
        uint16_t first_seq;            /* transport-wide seqs [first_seq, first_seq + sent) */
        rtc_bwe_probe_t m;
        uint64_t last_result_bps;
        uint64_t clusters, packets, bytes;
    } probe;

    /* Counters for stats. */
    uint64_t dropped_datagrams;
    uint64_t srtp_errors;
    uint64_t rtp_unknown_ssrc;
    uint64_t rtcp_packets_received, rtcp_packets_sent;
    int64_t created_wall_us;

    rtc_time_t now;                       /* last time given to any call */
    rtc_time_t first_now;                 /* first time given (NTP/wall time origin) */
    bool have_first_now;
    bool in_callback_wakeup;
};

/* peer_connection.c */
static inline void pc_touch(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc->have_first_now) { pc->first_now = now; pc->have_first_now = true; pc->created_wall_us = rtc_clock_wall_us(); }
    pc->now = now;
}
void pc_set_ice_state(rtc_peer_connection_t *pc, rtc_ice_state_t s);
void pc_update_state(rtc_peer_connection_t *pc);
void pc_wakeup(rtc_peer_connection_t *pc);
void pc_mark_negotiation_needed(rtc_peer_connection_t *pc);
const char *pc_bundle_mid(const rtc_peer_connection_t *pc);

/* transport.c */
int pc_ice_create(rtc_peer_connection_t *pc, bool controlling, rtc_time_t now);
void pc_transport_negotiated(rtc_peer_connection_t *pc, rtc_time_t now);
void pc_transport_maybe_start(rtc_peer_connection_t *pc, rtc_time_t now);
void pc_transport_timeout(rtc_peer_connection_t *pc, rtc_time_t now);
rtc_time_t pc_transport_next_timeout(const rtc_peer_connection_t *pc);
void pc_transport_close(rtc_peer_connection_t *pc, rtc_time_t now);
void pc_transport_free(rtc_peer_connection_t *pc);
/* Sends an already SRTP-protected datagram on the selected pair. */
int pc_send_datagram(rtc_peer_connection_t *pc, const uint8_t *p, size_t n, rtc_time_t now);
bool pc_media_ready(const rtc_peer_connection_t *pc);
void pc_sctp_start(rtc_peer_connection_t *pc, rtc_time_t now);

/* media.c */
rtc_pc_transceiver_t *pc_transceiver_new(rtc_peer_connection_t *pc, rtc_pc_media_kind_t kind,
                                         const rtc_pc_transceiver_init_t *init);
void pc_transceiver_free(rtc_pc_transceiver_t *t);
int pc_transceiver_apply(rtc_pc_transceiver_t *t, const rtc_jsep_media_result_t *m);
void pc_media_handle_rtp(rtc_peer_connection_t *pc, uint8_t *p, size_t n, rtc_time_t now);
void pc_media_handle_rtcp(rtc_peer_connection_t *pc, uint8_t *p, size_t n, rtc_time_t now);
void pc_media_timeout(rtc_peer_connection_t *pc, rtc_time_t now);
rtc_time_t pc_media_next_timeout(const rtc_peer_connection_t *pc);
void pc_default_codecs(rtc_pc_media_kind_t kind, const rtc_sdp_codec_t **codecs, size_t *n);
void pc_default_extmaps(rtc_pc_media_kind_t kind, const rtc_sdp_extmap_t **e, size_t *n);
void pc_transceiver_remote_ssrcs(rtc_pc_transceiver_t *t, const rtc_sdp_media_t *remote);

/* datachannel.c */
rtc_pc_datachannel_t *pc_dc_new(rtc_peer_connection_t *pc, const char *label,
                                const rtc_dc_init_t *init);
void pc_dc_free(rtc_pc_datachannel_t *d);
void pc_dc_attach_all(rtc_peer_connection_t *pc);
void pc_sctp_on_datachannel(void *user, rtc_dc_t *dc);
void pc_dc_association_closed(rtc_peer_connection_t *pc);

#endif
