/*
 * rtc/rtcp.h — RTCP packet codecs (RFC 3550, RFC 4585, RFC 5104, RFC 5506,
 * draft-alvestrand-rmcat-remb, draft-holmer-rmcat-transport-wide-cc-extensions-01) and the
 * RTCP report timing rules of RFC 3550 section 6.3.
 *
 * Parsing is zero-copy and allocation-free: parsed structs are plain values, and variable
 * length parts (NACK items, SDES chunks, FIR entries, REMB SSRCs, TWCC chunks and deltas) are
 * views into the caller's buffer, valid while that buffer lives. Every length is checked; a
 * bad packet gives a negative rtc_err_t and a debug log line saying why.
 *
 * Writing appends to an rtc_writer_t (base.h); a write that does not fit sets w->err and the
 * function returns RTC_ERR_OVERFLOW. Written packets carry correct length fields, so writing
 * several packets one after another into one writer produces a compound packet.
 */
#ifndef RTC_RTCP_H
#define RTC_RTCP_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Packet types (RFC 3550 12.1, RFC 4585 6.1). */
enum {
    RTC_RTCP_SR = 200,
    RTC_RTCP_RR = 201,
    RTC_RTCP_SDES = 202,
    RTC_RTCP_BYE = 203,
    RTC_RTCP_APP = 204,
    RTC_RTCP_RTPFB = 205,
    RTC_RTCP_PSFB = 206,
    RTC_RTCP_XR = 207,
};
/* Feedback message types (the FMT field). */
enum {
    RTC_RTCP_FMT_NACK = 1,  /* RTPFB: generic NACK (RFC 4585 6.2.1) */
    RTC_RTCP_FMT_TWCC = 15, /* RTPFB: transport-wide CC feedback */
    RTC_RTCP_FMT_PLI = 1,   /* PSFB: picture loss indication (RFC 4585 6.3.1) */
    RTC_RTCP_FMT_FIR = 4,   /* PSFB: full intra request (RFC 5104 4.3.1) */
    RTC_RTCP_FMT_AFB = 15,  /* PSFB: application layer feedback (REMB lives here) */
};

#define RTC_RTCP_MAX_REPORTS 31 /* the 5-bit count field */
#define RTC_RTCP_HEADER_LEN 4

/* The 4-byte common header of every RTCP packet. */
typedef struct {
    uint8_t version;  /* always 2 on a parsed packet */
    bool padding;
    uint8_t count;    /* RC / SC / FMT / APP subtype */
    uint8_t type;     /* RTC_RTCP_SR ... */
    uint16_t length;  /* in 32-bit words minus one, as on the wire */
} rtc_rtcp_header_t;

/* One reception report block (RFC 3550 6.4.1). */
typedef struct {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* fixed point, lost/expected * 256 */
    int32_t cumulative_lost; /* 24-bit signed on the wire; clamped when written */
    uint32_t ext_highest_seq;
    uint32_t jitter;         /* RTP timestamp units */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;           /* 1/65536 s since that SR was received */
} rtc_rtcp_report_block_t;

typedef struct {
    uint64_t ntp_time;       /* NTP 32.32 */
    uint32_t rtp_time;
    uint32_t packet_count;
    uint32_t octet_count;
} rtc_rtcp_sender_info_t;

/* SR (has_sender_info) or RR. profile_ext views bytes after the report blocks. */
typedef struct {
    uint32_t ssrc;
    bool has_sender_info;
    rtc_rtcp_sender_info_t sender;
    uint8_t report_count;
    rtc_rtcp_report_block_t reports[RTC_RTCP_MAX_REPORTS];
    const uint8_t *profile_ext;
    size_t profile_ext_len;
} rtc_rtcp_report_t;

/* SDES item types (RFC 3550 6.5). */
enum {
    RTC_RTCP_SDES_END = 0, RTC_RTCP_SDES_CNAME = 1, RTC_RTCP_SDES_NAME = 2,
    RTC_RTCP_SDES_EMAIL = 3, RTC_RTCP_SDES_PHONE = 4, RTC_RTCP_SDES_LOC = 5,
    RTC_RTCP_SDES_TOOL = 6, RTC_RTCP_SDES_NOTE = 7, RTC_RTCP_SDES_PRIV = 8,
};
/* SDES packet: chunks views the chunk area (validated on parse); walk it with
 * rtc_rtcp_sdes_next. chunk_count is the SC field. */
typedef struct {
    uint8_t chunk_count;
    const uint8_t *chunks;
    size_t chunks_len;
} rtc_rtcp_sdes_t;
typedef struct {
    uint32_t ssrc;
    uint8_t type;
    uint8_t len;
    const uint8_t *data; /* not NUL-terminated */
} rtc_rtcp_sdes_item_t;
/* Cursor over an SDES packet's items. Initialise with rtc_rtcp_sdes_iter_init. */
typedef struct {
    const uint8_t *p;
    size_t n;
    size_t pos;
    uint32_t ssrc;
    bool in_chunk;
    unsigned chunks_left;
} rtc_rtcp_sdes_iter_t;
void rtc_rtcp_sdes_iter_init(rtc_rtcp_sdes_iter_t *it, const rtc_rtcp_sdes_t *s);
/* Returns 1 and fills item, 0 at the end. The packet was validated by the parser, so a
 * parsed packet never makes this fail; on hand-built views it returns RTC_ERR_MALFORMED. */
int rtc_rtcp_sdes_next(rtc_rtcp_sdes_iter_t *it, rtc_rtcp_sdes_item_t *item);

typedef struct {
    uint8_t count;
    uint32_t ssrcs[RTC_RTCP_MAX_REPORTS];
    const uint8_t *reason; /* NULL when absent */
    uint8_t reason_len;
} rtc_rtcp_bye_t;

typedef struct {
    uint8_t subtype;
    uint32_t ssrc;
    char name[4];          /* four ASCII characters, not NUL-terminated */
    const uint8_t *data;   /* multiple of 4 bytes */
    size_t data_len;
} rtc_rtcp_app_t;

/* Generic NACK: items views `count` FCI entries of 4 bytes (PID, BLP). */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *items;
    size_t count;
} rtc_rtcp_nack_t;

typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
} rtc_rtcp_pli_t;

/* FIR: entries views `count` 8-byte entries (SSRC, seq nr, reserved). */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc; /* must be 0 per RFC 5104 but accepted as sent */
    const uint8_t *entries;
    size_t count;
} rtc_rtcp_fir_t;
typedef struct {
    uint32_t ssrc;
    uint8_t seq;
} rtc_rtcp_fir_entry_t;

/* REMB (draft-alvestrand-rmcat-remb-03). ssrcs views num_ssrc 4-byte SSRCs. */
typedef struct {
    uint32_t sender_ssrc;
    uint64_t bitrate;    /* bps: mantissa << exp, exact */
    uint8_t num_ssrc;
    const uint8_t *ssrcs;
} rtc_rtcp_remb_t;

/* TWCC packet status symbols (draft-holmer 3.1.1). */
enum {
    RTC_RTCP_TWCC_NOT_RECEIVED = 0,
    RTC_RTCP_TWCC_SMALL_DELTA = 1,
    RTC_RTCP_TWCC_LARGE_DELTA = 2,
    RTC_RTCP_TWCC_RESERVED = 3, /* "received, w/o recv delta": accepted, carries no delta */
};
#define RTC_RTCP_TWCC_DELTA_US 250          /* one delta tick */
#define RTC_RTCP_TWCC_REF_TIME_US 64000     /* one reference-time tick */

/* Transport-wide CC feedback. The parser has validated that chunks describe exactly
 * status_count statuses (a final run longer than needed is clipped, as libwebrtc does) and
 * that deltas_len holds all the deltas they announce. */
typedef struct {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint16_t base_seq;
    uint16_t status_count;
    int32_t ref_time;      /* 24-bit signed, units of 64 ms */
    uint8_t fb_count;
    const uint8_t *chunks;
    size_t chunk_count;
    const uint8_t *deltas;
    size_t deltas_len;
} rtc_rtcp_twcc_t;

/* One packet's result from a TWCC feedback. */
typedef struct {
    uint16_t seq;
    uint8_t status;         /* RTC_RTCP_TWCC_* */
    int64_t arrival_us;     /* ref_time*64ms + running sum of deltas; valid when status is
                               SMALL or LARGE */
} rtc_rtcp_twcc_packet_t;

/* Walks every status of a parsed feedback, in sequence order. */
typedef struct {
    const rtc_rtcp_twcc_t *fb;
    size_t index;           /* statuses produced so far */
    size_t chunk;           /* next chunk to load */
    size_t in_chunk;        /* statuses consumed from the loaded chunk */
    size_t cap;             /* statuses the loaded chunk holds */
    uint16_t cur;           /* the loaded chunk */
    size_t delta_pos;
    int64_t time_us;
} rtc_rtcp_twcc_iter_t;
void rtc_rtcp_twcc_iter_init(rtc_rtcp_twcc_iter_t *it, const rtc_rtcp_twcc_t *fb);
/* Returns 1 and fills out, 0 when all status_count packets were produced. */
int rtc_rtcp_twcc_next(rtc_rtcp_twcc_iter_t *it, rtc_rtcp_twcc_packet_t *out);

/* Kinds for rtc_rtcp_packet_t. */
typedef enum {
    RTC_RTCP_KIND_UNKNOWN = 0, /* well-formed header, type/FMT we do not decode (XR, RRR...) */
    RTC_RTCP_KIND_SR,
    RTC_RTCP_KIND_RR,
    RTC_RTCP_KIND_SDES,
    RTC_RTCP_KIND_BYE,
    RTC_RTCP_KIND_APP,
    RTC_RTCP_KIND_NACK,
    RTC_RTCP_KIND_PLI,
    RTC_RTCP_KIND_FIR,
    RTC_RTCP_KIND_REMB,
    RTC_RTCP_KIND_TWCC,
} rtc_rtcp_kind_t;

typedef struct {
    rtc_rtcp_kind_t kind;
    rtc_rtcp_header_t hdr;
    const uint8_t *raw;  /* the whole packet, header included */
    size_t raw_len;      /* (hdr.length + 1) * 4 */
    union {
        rtc_rtcp_report_t report; /* SR and RR */
        rtc_rtcp_sdes_t sdes;
        rtc_rtcp_bye_t bye;
        rtc_rtcp_app_t app;
        rtc_rtcp_nack_t nack;
        rtc_rtcp_pli_t pli;
        rtc_rtcp_fir_t fir;
        rtc_rtcp_remb_t remb;
        rtc_rtcp_twcc_t twcc;
    } u;
} rtc_rtcp_packet_t;

/* Parses the 4-byte common header at p. RTC_ERR_TRUNCATED if n < 4 or the declared length
 * exceeds n, RTC_ERR_MALFORMED for a version other than 2. */
int rtc_rtcp_header_parse(const uint8_t *p, size_t n, rtc_rtcp_header_t *h);

/* Parses exactly one RTCP packet that starts at p (n may extend past it; only the declared
 * length is used). Returns the packet's length in bytes (> 0) or a negative rtc_err_t.
 * Padding (P bit) is honoured: the last octet counts the padding, which must be 1..payload. */
int rtc_rtcp_parse(const uint8_t *p, size_t n, rtc_rtcp_packet_t *out);

/* Iteration over a compound packet. Every sub-packet length is checked against what is left
 * before anything is returned. */
typedef struct {
    const uint8_t *p;
    size_t n;
    size_t pos;
    unsigned index;
    int err;
} rtc_rtcp_iter_t;
void rtc_rtcp_iter_init(rtc_rtcp_iter_t *it, const uint8_t *p, size_t n);
/* Returns 1 and fills out, 0 at the clean end, or a negative error (the iteration then
 * stops: further calls return the same error). */
int rtc_rtcp_iter_next(rtc_rtcp_iter_t *it, rtc_rtcp_packet_t *out);

/* Validates a whole compound packet: every sub-packet parses, lengths add up exactly, only
 * the last sub-packet may carry padding, and — unless reduced_size (RFC 5506) was negotiated —
 * the first packet is SR or RR (RFC 3550 A.2). Returns the number of sub-packets or an error. */
int rtc_rtcp_validate(const uint8_t *p, size_t n, bool reduced_size);

/* Expands a NACK into sequence numbers (PID then each set BLP bit). Returns how many were
 * written (at most cap; extra are dropped). */
size_t rtc_rtcp_nack_seqs(const rtc_rtcp_nack_t *n, uint16_t *out, size_t cap);
/* Reads FIR entry i (< f->count). */
rtc_rtcp_fir_entry_t rtc_rtcp_fir_entry(const rtc_rtcp_fir_t *f, size_t i);
uint32_t rtc_rtcp_remb_ssrc(const rtc_rtcp_remb_t *r, size_t i);

/* ---- writers ------------------------------------------------------------------------- */
/* SR when r->has_sender_info, otherwise RR. Writes report_count blocks and profile_ext
 * (whose length must be a multiple of 4). */
int rtc_rtcp_write_report(rtc_writer_t *w, const rtc_rtcp_report_t *r);
/* SDES with one chunk per (ssrc, items): convenience for the common single-CNAME case. */
int rtc_rtcp_write_sdes_cname(rtc_writer_t *w, uint32_t ssrc, const char *cname);
/* SDES with arbitrary items: items must be grouped by SSRC (a new chunk starts whenever the
 * SSRC changes). Item length is at most 255. */
int rtc_rtcp_write_sdes(rtc_writer_t *w, const rtc_rtcp_sdes_item_t *items, size_t n);
int rtc_rtcp_write_bye(rtc_writer_t *w, const rtc_rtcp_bye_t *b);
int rtc_rtcp_write_app(rtc_writer_t *w, const rtc_rtcp_app_t *a);
/* NACK from a list of sequence numbers, packed greedily into PID/BLP items in the order
 * given (sorted input gives the minimal packet). */
int rtc_rtcp_write_nack(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *seqs, size_t n);
int rtc_rtcp_write_pli(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc);
int rtc_rtcp_write_fir(rtc_writer_t *w, uint32_t sender_ssrc, const rtc_rtcp_fir_entry_t *e,
                       size_t n);
/* REMB: bitrate is encoded with the smallest exponent that fits the 18-bit mantissa
 * (rounding down). */
int rtc_rtcp_write_remb(rtc_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, size_t n);
/* TWCC feedback for packets pkts[0..n) with consecutive seqs starting at base_seq (pkts[i].seq
 * must equal base_seq + i). arrival_us of received packets are absolute on the same clock as
 * ref_time * 64 ms; deltas are rounded to 250 us without drift (each delta is computed from
 * the previous *encoded* time). Chunks are chosen as libwebrtc does (run-length when all
 * equal, else 7 two-bit or 14 one-bit symbols). Padding to 32 bits uses the P bit and a
 * trailing count octet, as Chrome sends. Returns RTC_ERR_OVERFLOW if a delta does not fit
 * 16 bits signed or the writer is full. */
int rtc_rtcp_write_twcc(rtc_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint16_t base_seq, int32_t ref_time, uint8_t fb_count,
                        const rtc_rtcp_twcc_packet_t *pkts, size_t n);
/* Writes an already-parsed packet back out (used by SFUs that relay feedback, and by the
 * round-trip tests): SR/RR/SDES/BYE/APP/NACK/PLI/FIR/REMB/TWCC re-encoded from their fields,
 * UNKNOWN copied raw. */
int rtc_rtcp_write_packet(rtc_writer_t *w, const rtc_rtcp_packet_t *pkt);

/* ---- time helpers -------------------------------------------------------------------- */
/* NTP 32.32 from microseconds since the Unix epoch, and back. */
uint64_t rtc_rtcp_ntp_from_unix_us(int64_t unix_us);
int64_t rtc_rtcp_ntp_to_unix_us(uint64_t ntp);
/* Middle 32 bits (the LSR format). */
static inline uint32_t rtc_rtcp_ntp_mid32(uint64_t ntp) { return (uint32_t)(ntp >> 16); }
/* RTT from a report block received at ntp_now (RFC 3550 6.4.1: A - LSR - DLSR). Returns
 * microseconds, or -1 when the block has no LSR or the result would be negative. */
int64_t rtc_rtcp_rtt_us(const rtc_rtcp_report_block_t *rb, uint64_t ntp_now);

/* ---- RFC 3550 report interval -------------------------------------------------------- */
/* rtcp_interval() of RFC 3550 A.7 without the random factor: members, senders, rtcp_bw in
 * octets per second, we_sent, avg_rtcp_size in octets, initial. min_interval_us is Tmin
 * (5 s in RFC 3550; 6.2 allows a smaller "reduced minimum"). Returns microseconds. */
rtc_time_t rtc_rtcp_interval_deterministic(unsigned members, unsigned senders, double rtcp_bw,
                                           bool we_sent, double avg_rtcp_size, bool initial,
                                           rtc_time_t min_interval_us);

typedef struct rtc_rtcp_scheduler rtc_rtcp_scheduler_t;
typedef struct {
    double session_bw_bps;      /* session bandwidth; RTCP gets 5% of it */
    rtc_time_t min_interval_us; /* Tmin: 0 means 5 s; WebRTC commonly uses 1 s video */
    unsigned members;           /* initial member count incl. us (>= 1) */
} rtc_rtcp_scheduler_config_t;
/* Creates a scheduler that says when to send the next compound report, applying the
 * [0.5, 1.5] randomisation and the e - 3/2 compensation of RFC 3550 6.3.1 with
 * rtc_random_* for the randomness. The first report is due at now + (interval of the
 * initial state, halved as 6.2 says). Returns NULL on bad config or no memory. */
rtc_rtcp_scheduler_t *rtc_rtcp_scheduler_new(const rtc_rtcp_scheduler_config_t *cfg, rtc_time_t now);
void rtc_rtcp_scheduler_free(rtc_rtcp_scheduler_t *s);
void rtc_rtcp_scheduler_set_members(rtc_rtcp_scheduler_t *s, unsigned members, unsigned senders);
void rtc_rtcp_scheduler_set_we_sent(rtc_rtcp_scheduler_t *s, bool we_sent);
/* Feed the size (octets, including UDP/IP overhead if you want 6.2 precision) of every RTCP
 * compound packet received, to keep avg_rtcp_size current. */
void rtc_rtcp_scheduler_on_received(rtc_rtcp_scheduler_t *s, size_t size);
rtc_time_t rtc_rtcp_scheduler_next_timeout(const rtc_rtcp_scheduler_t *s);
/* Returns true when a report is due at now; the caller then sends it and calls on_sent. */
bool rtc_rtcp_scheduler_handle_timeout(rtc_rtcp_scheduler_t *s, rtc_time_t now);
/* Records a sent report of `size` octets and schedules the next one. */
void rtc_rtcp_scheduler_on_sent(rtc_rtcp_scheduler_t *s, size_t size, rtc_time_t now);

#ifdef __cplusplus
}
#endif
#endif /* RTC_RTCP_H */
