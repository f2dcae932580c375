/*
 * rtc/rtp.h — RTP (RFC 3550) header codec with RFC 8285 header extensions, the typed
 * extensions WebRTC negotiates, in-place rewriting helpers for an SFU, RTX (RFC 4588),
 * sequence/timestamp unwrapping, and the sans-I/O building blocks around RTP: receive and
 * send statistics, a NACK generator, a send-side packet history, transport-wide CC feedback
 * on both sides, and a GCC-style send-side bandwidth estimator (rtc_bwe_*).
 *
 * Parsing never allocates: rtc_rtp_header_t is a plain value whose extension entries point
 * into the caller's packet. Objects (stats, NACK generator, history, TWCC, BWE) allocate once
 * when created and never per packet; they read no clock: every call takes `now`.
 */
#ifndef RTC_RTP_H
#define RTC_RTP_H

#include "rtc/base.h"
#include "rtc/rtcp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTC_RTP_HEADER_LEN 12
#define RTC_RTP_MAX_CSRC 15
/* Most extension elements a parsed header records; more make the parse fail with
 * RTC_ERR_LIMIT (browsers send at most ~8). */
#define RTC_RTP_MAX_EXT 16
#define RTC_RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define RTC_RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* 0x100X: low 4 bits are appbits */

typedef struct {
    uint8_t id;            /* 1..14 (one-byte) or 1..255 (two-byte) */
    uint8_t len;           /* value length in bytes */
    uint16_t offset;       /* value offset from the start of the packet */
    const uint8_t *data;   /* points into the packet on parse; the value to write on write */
} rtc_rtp_ext_t;

typedef struct {
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[RTC_RTP_MAX_CSRC];
    /* Header extension block (valid when extension): profile is 0xBEDE, 0x100X or another
     * value (elements are then not decoded: ext_count == 0). */
    uint16_t ext_profile;
    uint16_t ext_block_offset; /* offset of the 4-byte extension header */
    uint16_t ext_block_len;    /* bytes after that header (length field * 4) */
    uint8_t ext_count;
    rtc_rtp_ext_t ext[RTC_RTP_MAX_EXT];
    size_t header_len;         /* offset of the payload */
    size_t payload_len;        /* without padding */
    uint8_t padding_len;       /* from the last octet when padding */
} rtc_rtp_header_t;

/* Quick demultiplexing test (RFC 7983 + RFC 5761): first byte 128..191 and, for RTCP,
 * second byte 192..223. */
bool rtc_rtp_is_rtp_or_rtcp(const uint8_t *p, size_t n);
bool rtc_rtp_is_rtcp(const uint8_t *p, size_t n);

/* Parses an RTP packet. Checks version, CSRCs, extension block and each element (RFC 8285:
 * one-byte id 15 stops the walk, padding bytes skipped), padding count. Returns RTC_OK or
 * RTC_ERR_TRUNCATED / RTC_ERR_MALFORMED / RTC_ERR_LIMIT. */
int rtc_rtp_header_parse(const uint8_t *p, size_t n, rtc_rtp_header_t *h);

/* Writes a header: fields of h (csrc_count CSRCs), then exts[0..n_ext) (ignored h->ext).
 * Uses the one-byte form when every id <= 14 and len 1..16 and two_byte is false, else the
 * two-byte form (0x1000). Elements are packed back to back and the block is zero-padded to
 * 32 bits, as browsers do. Returns the header length or RTC_ERR_OVERFLOW/INVALID_ARG. */
int rtc_rtp_header_write(const rtc_rtp_header_t *h, const rtc_rtp_ext_t *exts, size_t n_ext,
                         bool two_byte, uint8_t *out, size_t cap);
/* Whole packet: header as above, payload, and padding_len bytes of RTP padding (0 = none;
 * the padding bit is set from it). Returns the packet length or an error. */
int rtc_rtp_packet_write(const rtc_rtp_header_t *h, const rtc_rtp_ext_t *exts, size_t n_ext,
                         bool two_byte, const uint8_t *payload, size_t payload_len,
                         uint8_t padding_len, uint8_t *out, size_t cap);

/* Finds extension element `id` in a parsed header; NULL when absent or id == 0. */
const rtc_rtp_ext_t *rtc_rtp_header_find_ext(const rtc_rtp_header_t *h, uint8_t id);

/* ---- extension map ------------------------------------------------------------------- */
typedef enum {
    RTC_RTP_EXT_NONE = 0,
    RTC_RTP_EXT_MID,              /* urn:ietf:params:rtp-hdrext:sdes:mid */
    RTC_RTP_EXT_RID,              /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
    RTC_RTP_EXT_REPAIRED_RID,     /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id */
    RTC_RTP_EXT_ABS_SEND_TIME,    /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
    RTC_RTP_EXT_TWCC,             /* http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    RTC_RTP_EXT_AUDIO_LEVEL,      /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    RTC_RTP_EXT_VIDEO_ORIENTATION,/* urn:3gpp:video-orientation */
    RTC_RTP_EXT_TOFFSET,          /* urn:ietf:params:rtp-hdrext:toffset */
    RTC_RTP_EXT_KIND_COUNT
} rtc_rtp_ext_kind_t;

/* URI of a kind, or NULL. */
const char *rtc_rtp_ext_uri(rtc_rtp_ext_kind_t kind);
/* Kind of a URI (exact match), RTC_RTP_EXT_NONE when unknown. */
rtc_rtp_ext_kind_t rtc_rtp_ext_kind_from_uri(const char *uri);

/* Negotiated id <-> kind map (a plain value: copy it freely). id 0 means "not negotiated". */
typedef struct {
    uint8_t id_of[RTC_RTP_EXT_KIND_COUNT];
    uint8_t kind_of[256];
} rtc_rtp_ext_map_t;
void rtc_rtp_ext_map_init(rtc_rtp_ext_map_t *m);
/* Binds id (1..255) to kind, replacing what either was bound to. RTC_ERR_INVALID_ARG for id 0
 * or an unknown kind. */
int rtc_rtp_ext_map_set(rtc_rtp_ext_map_t *m, rtc_rtp_ext_kind_t kind, uint8_t id);
static inline uint8_t rtc_rtp_ext_map_id(const rtc_rtp_ext_map_t *m, rtc_rtp_ext_kind_t k) {
    return (unsigned)k < RTC_RTP_EXT_KIND_COUNT ? m->id_of[k] : 0;
}
/* Finds the element for `kind` in h using the map; NULL when not negotiated or absent. */
const rtc_rtp_ext_t *rtc_rtp_find_ext_kind(const rtc_rtp_header_t *h, const rtc_rtp_ext_map_t *m,
                                           rtc_rtp_ext_kind_t kind);

/* ---- typed extension values ---------------------------------------------------------- *
 * Parsers return RTC_OK or RTC_ERR_MALFORMED (wrong length / invalid content); writers fill
 * out[] and return the value length or an error. */
/* mid / rid / repaired-rid: 1..16 (one-byte) or up to 255 bytes of RFC 8851 "rid-id"-ish
 * text; parsed into out as a NUL-terminated string (cap must exceed the length). Rejects NUL
 * and control bytes. */
int rtc_rtp_ext_parse_sdes(const rtc_rtp_ext_t *e, char *out, size_t cap);
int rtc_rtp_ext_write_sdes(const char *s, uint8_t *out, size_t cap);
/* abs-send-time: 24-bit 6.18 fixed point seconds. */
int rtc_rtp_ext_parse_abs_send_time(const rtc_rtp_ext_t *e, uint32_t *v);
int rtc_rtp_ext_write_abs_send_time(uint32_t v, uint8_t out[3]);
/* 6.18 value for a time in microseconds (wraps every 64 s). */
uint32_t rtc_rtp_abs_send_time_from_us(int64_t us);
/* transport-wide sequence number (2 bytes). */
int rtc_rtp_ext_parse_twcc(const rtc_rtp_ext_t *e, uint16_t *seq);
int rtc_rtp_ext_write_twcc(uint16_t seq, uint8_t out[2]);
/* ssrc-audio-level (RFC 6464): V flag and level 0..127 (-dBov). */
int rtc_rtp_ext_parse_audio_level(const rtc_rtp_ext_t *e, bool *voice, uint8_t *level);
int rtc_rtp_ext_write_audio_level(bool voice, uint8_t level, uint8_t out[1]);
/* urn:3gpp:video-orientation (3GPP TS 26.114 7.4.5): C, F, rotation in degrees 0/90/180/270. */
typedef struct {
    bool camera_back;
    bool flip;
    uint16_t rotation;
} rtc_rtp_video_orientation_t;
int rtc_rtp_ext_parse_video_orientation(const rtc_rtp_ext_t *e, rtc_rtp_video_orientation_t *vo);
int rtc_rtp_ext_write_video_orientation(const rtc_rtp_video_orientation_t *vo, uint8_t out[1]);
/* toffset (RFC 5450): 24-bit signed. */
int rtc_rtp_ext_parse_toffset(const rtc_rtp_ext_t *e, int32_t *v);

/* ---- in-place rewriting (SFU) -------------------------------------------------------- *
 * These touch only the bytes they change. The packet must be at least RTC_RTP_HEADER_LEN
 * (RTC_ERR_TRUNCATED otherwise); callers normally parsed it already. */
int rtc_rtp_set_ssrc(uint8_t *p, size_t n, uint32_t ssrc);
int rtc_rtp_set_seq(uint8_t *p, size_t n, uint16_t seq);
int rtc_rtp_set_timestamp(uint8_t *p, size_t n, uint32_t ts);
int rtc_rtp_set_payload_type(uint8_t *p, size_t n, uint8_t pt);
int rtc_rtp_set_marker(uint8_t *p, size_t n, bool marker);
/* Sets extension `id` to val[0..vlen). If the element exists with the same length it is
 * overwritten in place (no byte moves). Otherwise the extension block is rebuilt in place
 * (elements kept in order, the new one appended or resized), the payload moved with
 * memmove, and *len updated; cap is the buffer size. One-byte form is kept when possible,
 * switching to two-byte when id > 14 or vlen > 16 (or vlen == 0). RTC_ERR_OVERFLOW when
 * cap is too small, RTC_ERR_LIMIT when the packet already has RTC_RTP_MAX_EXT elements
 * (packet unchanged in both cases). */
int rtc_rtp_ext_set(uint8_t *p, size_t *len, size_t cap, uint8_t id, const void *val, size_t vlen);
/* Removes element `id` (no-op returning RTC_ERR_NOT_FOUND if absent); shrinks *len. When the
 * last element goes, the extension block and X bit go too. */
int rtc_rtp_ext_remove(uint8_t *p, size_t *len, uint8_t id);
/* Translates every element id from one negotiated map to another (e.g. publisher's ids to a
 * subscriber's), dropping elements whose kind the target did not negotiate or that are
 * unknown to `from`. In place when ids change but no element is dropped and the form stays.
 * *len and cap as for rtc_rtp_ext_set. */
int rtc_rtp_ext_remap(uint8_t *p, size_t *len, size_t cap, const rtc_rtp_ext_map_t *from,
                      const rtc_rtp_ext_map_t *to);

/* ---- RTX (RFC 4588) ------------------------------------------------------------------ */
/* Builds the retransmission of `pkt` on the RTX stream: same header and extensions with
 * rtx_pt / rtx_ssrc / rtx_seq, payload = OSN (original seq, 2 bytes) + original payload;
 * the original's padding is dropped. Returns the RTX packet length or an error. */
int rtc_rtp_rtx_wrap(const uint8_t *pkt, size_t n, uint8_t rtx_pt, uint32_t rtx_ssrc,
                     uint16_t rtx_seq, uint8_t *out, size_t cap);
/* Restores the original packet from an RTX packet: seq = OSN, given pt and ssrc. Returns the
 * length, RTC_ERR_TRUNCATED when the payload has no OSN. */
int rtc_rtp_rtx_unwrap(const uint8_t *rtx, size_t n, uint8_t orig_pt, uint32_t orig_ssrc,
                       uint8_t *out, size_t cap);

/* ---- unwrapping ---------------------------------------------------------------------- *
 * Plain values; zero-initialise (or call *_init). The first value is returned as is; later
 * values are placed nearest to the last one (|diff| < 2^15 / 2^31), so reordering across a
 * wrap works; results can be negative if packets older than the first arrive. */
typedef struct {
    int64_t last;
    bool started;
} rtc_rtp_unwrapper_t;
static inline void rtc_rtp_unwrapper_init(rtc_rtp_unwrapper_t *u) { u->last = 0; u->started = false; }
int64_t rtc_rtp_unwrap_seq(rtc_rtp_unwrapper_t *u, uint16_t seq);
int64_t rtc_rtp_unwrap_ts(rtc_rtp_unwrapper_t *u, uint32_t ts);
/* Unwraps without updating the state. */
int64_t rtc_rtp_unwrap_seq_peek(const rtc_rtp_unwrapper_t *u, uint16_t seq);
/* RFC 1982 comparison: is a newer than b? */
static inline bool rtc_rtp_seq_newer(uint16_t a, uint16_t b) { return a != b && (uint16_t)(a - b) < 0x8000; }

/* ---- receive statistics (RFC 3550 6.4.1, A.1, A.3, A.8) ------------------------------ */
typedef struct rtc_rtp_recv_stats rtc_rtp_recv_stats_t;
typedef struct {
    uint64_t packets;          /* received, duplicates included */
    uint64_t bytes;            /* payload + header bytes */
    int64_t cumulative_lost;   /* expected - received (may be negative with duplicates) */
    uint32_t ext_highest_seq;  /* cycles << 16 | highest seq */
    uint32_t base_seq;
    double jitter;             /* RTP units (the RFC's J, not scaled by 16) */
    uint32_t jitter_rtp;       /* as it goes into a report block */
} rtc_rtp_recv_stats_info_t;
/* clock_rate in Hz (90000 video, 48000 opus). */
rtc_rtp_recv_stats_t *rtc_rtp_recv_stats_new(uint32_t ssrc, uint32_t clock_rate);
void rtc_rtp_recv_stats_free(rtc_rtp_recv_stats_t *s);
/* Feeds one received packet. Retransmissions (from RTX) should pass retransmitted = true:
 * they count as received but do not enter the jitter estimate. Follows A.1's sequence
 * validation (the first packet counts: MIN_SEQUENTIAL = 1) and large-jump resync. */
void rtc_rtp_recv_stats_on_packet(rtc_rtp_recv_stats_t *s, uint16_t seq, uint32_t rtp_ts,
                                  size_t bytes, bool retransmitted, rtc_time_t now);
/* Records an SR from this source (ntp_time of the SR, our receive time) for LSR/DLSR. */
void rtc_rtp_recv_stats_on_sr(rtc_rtp_recv_stats_t *s, uint64_t ntp_time, rtc_time_t now);
void rtc_rtp_recv_stats_get(const rtc_rtp_recv_stats_t *s, rtc_rtp_recv_stats_info_t *out);
/* Fills a report block as of now and starts a new fraction-lost interval (A.3). Returns
 * RTC_ERR_STATE when no packet was received yet. */
int rtc_rtp_recv_stats_report_block(rtc_rtp_recv_stats_t *s, rtc_time_t now,
                                    rtc_rtcp_report_block_t *out);

/* ---- send statistics / SR ------------------------------------------------------------ */
typedef struct rtc_rtp_send_stats rtc_rtp_send_stats_t;
rtc_rtp_send_stats_t *rtc_rtp_send_stats_new(uint32_t ssrc, uint32_t clock_rate);
void rtc_rtp_send_stats_free(rtc_rtp_send_stats_t *s);
/* Records a sent packet: its RTP timestamp (captured at capture_time), payload octets. */
void rtc_rtp_send_stats_on_packet(rtc_rtp_send_stats_t *s, uint32_t rtp_ts, size_t payload_bytes,
                                  rtc_time_t capture_time);
/* Sender info for an SR sent at now, NTP from ntp_now: RTP time is extrapolated from the last
 * packet's timestamp at the clock rate. RTC_ERR_STATE before the first packet. Remembers
 * the SR for RTT computation. */
int rtc_rtp_send_stats_sender_info(rtc_rtp_send_stats_t *s, uint64_t ntp_now, rtc_time_t now,
                                   rtc_rtcp_sender_info_t *out);
/* Processes a report block about this SSRC received at ntp_now; returns RTT in us or -1. The
 * latest RTT is kept (rtc_rtp_send_stats_rtt). */
int64_t rtc_rtp_send_stats_on_report_block(rtc_rtp_send_stats_t *s, const rtc_rtcp_report_block_t *rb,
                                           uint64_t ntp_now);
int64_t rtc_rtp_send_stats_rtt(const rtc_rtp_send_stats_t *s);
uint64_t rtc_rtp_send_stats_packets(const rtc_rtp_send_stats_t *s);
uint64_t rtc_rtp_send_stats_octets(const rtc_rtp_send_stats_t *s);

/* ---- compound reports ---------------------------------------------------------------- */
/* Writes one compound RTCP report as RFC 3550 6.1 wants it: an SR from `snd` when given and
 * it has sent something (else an RR from `ssrc`), carrying one report block for each of
 * rcv[0..n_rcv) that has received packets (more than 31 continue in further RR packets),
 * then an SDES CNAME chunk. Each receive-stats object starts a new fraction-lost interval.
 * snd may be NULL; ssrc is used for the RR/SDES when snd is NULL or idle. Returns the bytes
 * written or an error (RTC_ERR_OVERFLOW when w is too small: what was written is garbage). */
int rtc_rtp_write_compound_report(rtc_writer_t *w, uint32_t ssrc, rtc_rtp_send_stats_t *snd,
                                  rtc_rtp_recv_stats_t *const *rcv, size_t n_rcv, const char *cname,
                                  uint64_t ntp_now, rtc_time_t now);

/* ---- NACK generator (receive side) --------------------------------------------------- */
typedef struct rtc_rtp_nack_generator rtc_rtp_nack_generator_t;
typedef struct {
    unsigned max_retries;        /* NACKs per missing packet before giving up (default 10) */
    size_t max_missing;          /* list size; an overflow drops the list and asks for a
                                    keyframe (default 1000) */
    rtc_time_t default_rtt_us;   /* until set_rtt (default 100 ms) */
    rtc_time_t min_resend_us;    /* floor on the resend interval (default 5 ms) */
    rtc_time_t max_age_us;       /* give up on a packet missing this long (default 1 s) */
} rtc_rtp_nack_config_t;
/* cfg NULL gives the defaults; zero fields take their default. */
rtc_rtp_nack_generator_t *rtc_rtp_nack_generator_new(const rtc_rtp_nack_config_t *cfg);
void rtc_rtp_nack_generator_free(rtc_rtp_nack_generator_t *g);
void rtc_rtp_nack_generator_set_rtt(rtc_rtp_nack_generator_t *g, rtc_time_t rtt_us);
/* Feeds a received media sequence number (original seq for RTX-recovered packets). Gaps add
 * the missing numbers to the list, due immediately; a late or recovered packet leaves it.
 * Returns the number of newly missing packets. */
int rtc_rtp_nack_generator_on_packet(rtc_rtp_nack_generator_t *g, uint16_t seq, rtc_time_t now);
/* When the generator next has something to send (RTC_TIME_NEVER if nothing). */
rtc_time_t rtc_rtp_nack_generator_next_timeout(const rtc_rtp_nack_generator_t *g);
/* Collects the sequence numbers to NACK now (first request immediately, then every
 * max(rtt, min_resend) until max_retries or max_age), sorted. Returns how many (<= cap). */
size_t rtc_rtp_nack_generator_poll(rtc_rtp_nack_generator_t *g, rtc_time_t now, uint16_t *out, size_t cap);
/* True once since the last call if the list overflowed or packets were given up: the
 * caller should send a PLI. */
bool rtc_rtp_nack_generator_take_keyframe_request(rtc_rtp_nack_generator_t *g);
size_t rtc_rtp_nack_generator_missing(const rtc_rtp_nack_generator_t *g);
uint64_t rtc_rtp_nack_generator_given_up(const rtc_rtp_nack_generator_t *g);

/* ---- send-side packet history (answers NACKs) ---------------------------------------- */
typedef struct rtc_rtp_history rtc_rtp_history_t;
/* capacity packets (rounded up to a power of two) of at most max_packet bytes each,
 * allocated once. */
rtc_rtp_history_t *rtc_rtp_history_new(size_t capacity, size_t max_packet);
void rtc_rtp_history_free(rtc_rtp_history_t *h);
/* Enables RTX: retransmissions of payload type pt go out as rtx_pt on rtx_ssrc with their own
 * sequence numbers starting at first_rtx_seq. Call once per (pt, rtx_pt) pair. */
int rtc_rtp_history_set_rtx(rtc_rtp_history_t *h, uint8_t pt, uint8_t rtx_pt, uint32_t rtx_ssrc,
                            uint16_t first_rtx_seq);
void rtc_rtp_history_set_rtt(rtc_rtp_history_t *h, rtc_time_t rtt_us);
/* Stores a copy of a sent packet (it is parsed for its seq). RTC_ERR_OVERFLOW when larger
 * than max_packet, parse errors as rtc_rtp_header_parse. */
int rtc_rtp_history_put(rtc_rtp_history_t *h, const uint8_t *pkt, size_t n, rtc_time_t now);
/* Produces the retransmission for seq into out: RTX-wrapped when RTX is set for its payload
 * type, the original bytes otherwise. Returns the length, RTC_ERR_NOT_FOUND when the packet
 * is no longer (or never was) stored, RTC_ERR_AGAIN when it was already resent less than an
 * RTT ago (pacing: a burst of duplicate NACKs yields one retransmission). */
int rtc_rtp_history_resend(rtc_rtp_history_t *h, uint16_t seq, rtc_time_t now, uint8_t *out, size_t cap);
/* Read access to a stored original (no state change): pointer valid until the next put. */
const uint8_t *rtc_rtp_history_get(const rtc_rtp_history_t *h, uint16_t seq, size_t *n);
/* Takes the next RTX sequence number for a packet the caller builds itself on the RTX SSRC
 * (padding-only bandwidth probes), so retransmissions and such packets share one gap-free
 * sequence space. -1 when RTX is not enabled. */
int rtc_rtp_history_next_rtx_seq(rtc_rtp_history_t *h);

/* ---- transport-wide CC: receive side ------------------------------------------------- */
typedef struct rtc_rtp_twcc_receiver rtc_rtp_twcc_receiver_t;
/* interval_us: feedback period (default 100 ms when 0). */
rtc_rtp_twcc_receiver_t *rtc_rtp_twcc_receiver_new(uint32_t sender_ssrc, rtc_time_t interval_us);
void rtc_rtp_twcc_receiver_free(rtc_rtp_twcc_receiver_t *r);
/* Records the arrival of the packet with transport-wide seq (media_ssrc becomes the feedback's
 * media SSRC). Packets older than the last reported range are ignored. */
void rtc_rtp_twcc_receiver_on_packet(rtc_rtp_twcc_receiver_t *r, uint16_t seq, uint32_t media_ssrc,
                                 rtc_time_t arrival);
rtc_time_t rtc_rtp_twcc_receiver_next_timeout(const rtc_rtp_twcc_receiver_t *r);
/* Writes one TWCC feedback packet covering every packet since the last feedback up to the
 * highest received, if the interval elapsed (or force). Returns bytes written, 0 when there
 * is nothing to report, or an error. A range that does not fit in cap is split: call again. */
int rtc_rtp_twcc_receiver_build(rtc_rtp_twcc_receiver_t *r, rtc_time_t now, bool force, uint8_t *out, size_t cap);

/* ---- transport-wide CC: send side ---------------------------------------------------- */
typedef struct rtc_rtp_twcc_sender rtc_rtp_twcc_sender_t;
/* The per-packet result handed to the estimator. */
typedef struct {
    uint16_t seq;
    size_t size;            /* bytes on the wire */
    rtc_time_t send_time;   /* on the sender's clock */
    bool received;          /* false: reported lost */
    rtc_time_t arrival;     /* when received: on one continuous receiver clock */
} rtc_bwe_packet_t;
/* history: how many sent packets are remembered (default 8192 when 0). */
rtc_rtp_twcc_sender_t *rtc_rtp_twcc_sender_new(size_t history);
void rtc_rtp_twcc_sender_free(rtc_rtp_twcc_sender_t *s);
/* Next transport-wide sequence number to put in an outgoing packet's extension. */
uint16_t rtc_rtp_twcc_sender_next_seq(rtc_rtp_twcc_sender_t *s);
/* Records that the packet with that seq left at send_time with size bytes. */
void rtc_rtp_twcc_sender_on_sent(rtc_rtp_twcc_sender_t *s, uint16_t seq, size_t size, rtc_time_t send_time);
/* Matches a parsed feedback with the send records. Each reported packet that we sent and
 * have not had a result for yet goes to out[] (in seq order). Arrival times are made absolute
 * on one continuous receiver clock (reference time unwrapped across feedbacks). Returns
 * the count (<= cap), or an error. */
int rtc_rtp_twcc_sender_on_feedback(rtc_rtp_twcc_sender_t *s, const rtc_rtcp_twcc_t *fb,
                                rtc_bwe_packet_t *out, size_t cap);

/* ---- send-side bandwidth estimator (GCC) --------------------------------------------- */
typedef struct rtc_bwe rtc_bwe_t;
typedef struct {
    uint64_t start_bps;   /* default 300 kbps */
    uint64_t min_bps;     /* default 30 kbps */
    uint64_t max_bps;     /* default 20 Mbps */
} rtc_bwe_config_t;
typedef enum { RTC_BWE_NORMAL = 0, RTC_BWE_OVERUSE, RTC_BWE_UNDERUSE } rtc_bwe_usage_t;
rtc_bwe_t *rtc_bwe_new(const rtc_bwe_config_t *cfg);
void rtc_bwe_free(rtc_bwe_t *b);
/* Feeds packet results from one feedback (as rtc_rtp_twcc_sender_on_feedback makes), at now
 * on the sender's clock. Runs the trendline overuse detector over 5 ms send-time groups (a
 * packet read in a burst right behind a group joins it: a receiver's read stall is no queue),
 * the AIMD rate controller against the acknowledged bitrate, and the loss-based controller;
 * the target is the smaller of the two. */
void rtc_bwe_on_feedback(rtc_bwe_t *b, const rtc_bwe_packet_t *pkts, size_t n, rtc_time_t now);
/* Optional RTT hint (from RTCP) for the additive-increase step. */
void rtc_bwe_set_rtt(rtc_bwe_t *b, rtc_time_t rtt_us);
uint64_t rtc_bwe_target_bps(const rtc_bwe_t *b);
uint64_t rtc_bwe_delay_based_bps(const rtc_bwe_t *b);
uint64_t rtc_bwe_loss_based_bps(const rtc_bwe_t *b);
/* Throughput measured from the acknowledged packets; 0 until known. */
uint64_t rtc_bwe_acked_bps(const rtc_bwe_t *b);
rtc_bwe_usage_t rtc_bwe_usage(const rtc_bwe_t *b);
double rtc_bwe_loss_ratio(const rtc_bwe_t *b);
/* A bandwidth probe's measured rate (a cluster of packets sent at a known rate, measured at
 * the receiver as min(send rate, receive rate): see rtc_bwe_probe_*), the way libwebrtc's
 * GoogCC takes ProbeBitrateEstimator results: when it is above the current target and the
 * delay detector does not see overuse, both the delay-based and the loss-based estimates
 * jump to it (without probes the estimate grows at most 8 %/s and never past 1.5x the
 * acknowledged rate). 0 or a lower rate changes nothing. */
void rtc_bwe_on_probe_result(rtc_bwe_t *b, uint64_t bps, rtc_time_t now);

/* ---- probe cluster measurement (libwebrtc's ProbeBitrateEstimator) ------------------- */
/* One cluster of probe packets: fed the feedback results of the packets that belonged to it
 * (by transport-wide seq, as the sender recorded them); gives a rate once enough of them
 * were reported. Plain value, no allocation. */
typedef struct {
    unsigned sent;                   /* packets of the cluster sent (set by the sender) */
    uint64_t target_bps;             /* the rate it was paced at (set by the sender), 0: unknown */
    unsigned received, lost;
    size_t bytes;                    /* received bytes */
    rtc_time_t first_send, last_send, first_arrival, last_arrival;
    size_t first_arrival_size, last_send_size;
} rtc_bwe_probe_t;
void rtc_bwe_probe_add(rtc_bwe_probe_t *p, const rtc_bwe_packet_t *pkt);
/* The cluster's rate in bit/s: min(send rate, receive rate), 0.95x the receive rate when the
 * receiver got it clearly slower than it was sent (the path is the limit); 0 while fewer
 * than 80 % of the sent packets (and at least 5) are reported received, or when the timing
 * makes no sense (intervals of 0 or over 1 s, receive rate over twice the send rate). Never
 * above target_bps when set: a timer that fired late sends part of a cluster as one burst,
 * which measures faster than the path can carry for longer than a queue absorbs. */
uint64_t rtc_bwe_probe_rate(const rtc_bwe_probe_t *p);

#ifdef __cplusplus
}
#endif
#endif /* RTC_RTP_H */
