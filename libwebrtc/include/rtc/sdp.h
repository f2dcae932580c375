/*
 * rtc/sdp.h — SDP (RFC 8866) parse/write with a typed WebRTC model, ICE candidate lines
 * (RFC 8839), codec matching (RFC 6184 H.264 rules, VP9/AV1 profiles, RTX apt), and the JSEP
 * (RFC 8829) offer/answer helpers the PeerConnection layer builds on.
 *
 * Model and ownership
 *   rtc_sdp_t is a plain struct that owns heap memory: every `char *` and every array in it
 *   (and in the structs it contains) belongs to it and is released by rtc_sdp_free(). Build one
 *   with rtc_sdp_init() + the rtc_sdp_*_add() helpers, or by rtc_sdp_parse() / the JSEP
 *   builders. Pointers returned by an _add() helper stay valid until the next _add() on the same
 *   array. Input structs given to JSEP builders (codecs, extmaps, transceivers) are only read
 *   and copied, so they may point at string literals.
 *
 * Round trip
 *   parse -> write -> parse gives an equal model (rtc_sdp_equal). Writing a parsed SDP gives
 *   back every line it had, in a canonical order (Chromium's) within each section: a=rtpmap,
 *   a=rtcp-fb, a=fmtp grouped per payload type, then rids, simulcast, ssrc-group, ssrc. Lines
 *   the model does not know (unknown attributes, i=/u=/e=/p=/r=/z=/k= lines) are kept verbatim
 *   and written after the known attributes of their section, in their original order.
 *
 * Bad input
 *   rtc_sdp_parse() never crashes and never reads past its length. A malformed line fails the
 *   whole parse with RTC_ERR_MALFORMED (or RTC_ERR_LIMIT past the limits below) and, when an
 *   rtc_sdp_error_t is given, the 1-based line number, the start of the line's text and a
 *   reason. Line endings may be CRLF or bare LF.
 */
#ifndef RTC_SDP_H
#define RTC_SDP_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Limits. An SDP past any of them is refused with RTC_ERR_LIMIT, so a hostile description
 * costs at most a few MiB of memory.
 */
#define RTC_SDP_MAX_SIZE (256 * 1024) /* whole description, bytes */
#define RTC_SDP_MAX_LINE 4096         /* one line, bytes, without the line ending */
#define RTC_SDP_MAX_LINES 4096        /* lines in one description */
#define RTC_SDP_MAX_MEDIA 64          /* m= sections */
#define RTC_SDP_MAX_FORMATS 128       /* formats on one m= line */

/* Identifier sizes (with the NUL). Longer values are a parse error. */
#define RTC_SDP_FOUNDATION_SIZE 33 /* RFC 8839: 1*32 ice-char */
#define RTC_SDP_HOST_SIZE 256      /* an IP address or an FQDN (mDNS "<uuid>.local") */
#define RTC_SDP_ICE_STR_SIZE 257   /* ufrag/pwd: at most 256 ice-chars */
#define RTC_SDP_TOKEN_SIZE 32      /* transport, candidate type, tcptype, hash function */
#define RTC_SDP_FP_SIZE 200        /* fingerprint value: 64 bytes as "AB:CD:..." */
#define RTC_SDP_CODEC_NAME_SIZE 32

/* ------------------------------------------------------------------------------------------
 * Errors from the parser.
 */
typedef struct {
    int code;          /* same as the parser's return value */
    unsigned line;     /* 1-based line number; 0 when the problem is not one line's */
    char text[81];     /* the first 80 bytes of that line (non-printables as '?') */
    char reason[120];  /* what was wrong, in English */
} rtc_sdp_error_t;

/* ------------------------------------------------------------------------------------------
 * Enumerations.
 */
typedef enum {
    RTC_SDP_DIR_NONE = 0, /* no direction attribute (sendrecv is implied) */
    RTC_SDP_DIR_SENDRECV,
    RTC_SDP_DIR_SENDONLY,
    RTC_SDP_DIR_RECVONLY,
    RTC_SDP_DIR_INACTIVE,
} rtc_sdp_dir_t;

typedef enum {
    RTC_SDP_SETUP_NONE = 0,
    RTC_SDP_SETUP_ACTPASS,
    RTC_SDP_SETUP_ACTIVE,
    RTC_SDP_SETUP_PASSIVE,
    RTC_SDP_SETUP_HOLDCONN,
} rtc_sdp_setup_t;

typedef enum {
    RTC_SDP_MEDIA_OTHER = 0,
    RTC_SDP_MEDIA_AUDIO,
    RTC_SDP_MEDIA_VIDEO,
    RTC_SDP_MEDIA_APPLICATION,
} rtc_sdp_media_kind_t;

/* "sendrecv", "sendonly", "recvonly", "inactive"; "" for NONE. */
const char *rtc_sdp_dir_name(rtc_sdp_dir_t d);
/* sendonly <-> recvonly; the others map to themselves (NONE to SENDRECV). */
rtc_sdp_dir_t rtc_sdp_dir_reverse(rtc_sdp_dir_t d);
bool rtc_sdp_dir_sends(rtc_sdp_dir_t d);    /* sendrecv, sendonly, none */
bool rtc_sdp_dir_receives(rtc_sdp_dir_t d); /* sendrecv, recvonly, none */
rtc_sdp_dir_t rtc_sdp_dir_make(bool send, bool recv);
const char *rtc_sdp_setup_name(rtc_sdp_setup_t s);

/* ------------------------------------------------------------------------------------------
 * Value types.
 */
typedef struct {
    char hash[RTC_SDP_TOKEN_SIZE]; /* "sha-256" (as written) */
    char value[RTC_SDP_FP_SIZE];   /* "AB:CD:..." */
} rtc_sdp_fingerprint_t;

/* c= line. */
typedef struct {
    bool present;
    char *nettype;  /* "IN" */
    char *addrtype; /* "IP4" / "IP6" */
    char *address;  /* "0.0.0.0", may carry "/ttl" for multicast, kept as written */
} rtc_sdp_conn_t;

/* b=<type>:<value> */
typedef struct {
    char *type; /* "AS", "TIAS", "CT" ... */
    uint64_t value;
} rtc_sdp_bandwidth_t;

/* An attribute the model does not know, kept verbatim: "a=<name>[:<value>]". */
typedef struct {
    char *name;
    char *value;   /* NULL for a property attribute (no ':') */
    uint8_t after; /* where it goes when written: after the group of known lines it followed
                      when parsed (an internal position code; 0 = with the first group) */
} rtc_sdp_attr_t;

/* A non-attribute line the model does not type (i= u= e= p= r= z= k=), kept verbatim. */
typedef struct {
    char type;
    char *value;
} rtc_sdp_line_t;

/* RFC 8839 section 5.1 candidate attribute, plus the extensions browsers use. A value type
 * (no heap memory), shared with the ICE layer. */
typedef struct {
    char foundation[RTC_SDP_FOUNDATION_SIZE];
    uint16_t component;                  /* 1 = RTP, 2 = RTCP */
    char transport[RTC_SDP_TOKEN_SIZE];  /* "udp"/"UDP"/"tcp", kept as written */
    uint32_t priority;
    char address[RTC_SDP_HOST_SIZE];     /* IP, or an mDNS name ending in ".local" */
    uint16_t port;
    char type[RTC_SDP_TOKEN_SIZE];       /* "host", "srflx", "prflx", "relay" (others kept) */
    bool has_related;                    /* raddr/rport present */
    char raddr[RTC_SDP_HOST_SIZE];
    uint16_t rport;
    char tcptype[RTC_SDP_TOKEN_SIZE];    /* "active"/"passive"/"so"; "" when absent */
    int64_t generation;                  /* -1 when absent */
    char ufrag[RTC_SDP_ICE_STR_SIZE];    /* "" when absent */
    int64_t network_id;                  /* -1 when absent */
    int64_t network_cost;                /* -1 when absent */
    char ext[512];                       /* other "name value" extension pairs, verbatim */
} rtc_sdp_candidate_t;

/* Parses a candidate attribute. Accepts "a=candidate:...", "candidate:..." (as in
 * RTCIceCandidate.candidate) or the bare value. raddr/rport and the known extensions may come
 * in any order after "typ"; unknown extensions are kept in `ext`. Returns RTC_OK,
 * RTC_ERR_MALFORMED (reason in *why when why != NULL, a static string) or RTC_ERR_OVERFLOW for
 * an over-long field. */
int rtc_sdp_candidate_parse(const char *s, size_t n, rtc_sdp_candidate_t *c, const char **why);
/* Writes "candidate:..." (no "a=", no line ending) in RFC 8839 order: raddr rport, tcptype,
 * generation, ufrag, network-id, network-cost, then `ext`. Returns the length or
 * RTC_ERR_OVERFLOW. */
int rtc_sdp_candidate_format(const rtc_sdp_candidate_t *c, char *out, size_t cap);
/* True when the address is an mDNS hostname ("*.local"), which must be resolved before use. */
bool rtc_sdp_candidate_is_mdns(const rtc_sdp_candidate_t *c);

/* One payload type of an RTP m= section: its rtpmap, fmtp and rtcp-fb lines. */
typedef struct {
    uint8_t pt;
    bool has_rtpmap;   /* false for a static payload type listed without a=rtpmap */
    char name[RTC_SDP_CODEC_NAME_SIZE]; /* as written: "opus", "VP8", "H264", "rtx" */
    uint32_t clock;
    uint8_t channels;  /* 0 when absent in the rtpmap */
    char *fmtp;        /* the a=fmtp value after "<pt> ", NULL when none */
    char **fb;         /* a=rtcp-fb values after "<pt> ": "nack", "nack pli", "transport-cc" */
    size_t n_fb;
} rtc_sdp_codec_t;

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
typedef struct {
    uint16_t id;
    rtc_sdp_dir_t dir; /* NONE when no "/direction" */
    char *uri;
    char *attrs;       /* NULL when none */
} rtc_sdp_extmap_t;

/* a=msid:<stream-id> [<track-id>] (RFC 8830). track may be NULL. */
typedef struct {
    char *stream;
    char *track;
} rtc_sdp_msid_t;

/* One a=ssrc:<ssrc> <attribute>[:<value>] line (RFC 5576). value NULL when no ':'. */
typedef struct {
    uint32_t ssrc;
    char *attr;
    char *value;
} rtc_sdp_ssrc_t;

/* a=ssrc-group:<semantics> <ssrc>... ("FID", "SIM", "FEC-FR"). */
typedef struct {
    char *semantics;
    uint32_t *ssrcs;
    size_t n_ssrcs;
} rtc_sdp_ssrc_group_t;

/* a=rid:<id> send|recv [<params>] (RFC 8851). params is kept as written
 * ("pt=96,97;max-width=1280"); rtc_sdp_rid_pts() extracts the pt= list. */
typedef struct {
    char *id;
    bool send; /* true: "send", false: "recv" */
    char *params; /* NULL when none */
} rtc_sdp_rid_t;

/* a=simulcast (RFC 8853). send/recv are the sc-str-lists as written ("h;m;l", "1,2;~3"),
 * NULL when that direction is absent. */
typedef struct {
    bool present;
    bool recv_first; /* "recv ... send ..." order, for exact round trip */
    char *send;
    char *recv;
} rtc_sdp_simulcast_t;

/* a=group:<semantics> <mid>... ("BUNDLE", "LS"). */
typedef struct {
    char *semantics;
    char **mids;
    size_t n_mids;
} rtc_sdp_group_t;

/* a=msid-semantic:[ ]<token> [<ids>] — Chromium writes a space after the colon. */
typedef struct {
    bool present;
    bool space;  /* a space followed the colon */
    char *token; /* "WMS" */
    char *ids;   /* the rest ("*", "stream-a stream-b"), NULL when none */
} rtc_sdp_msid_semantic_t;

typedef struct {
    /* m=<media> <port>[/<count>] <proto> <fmt>... */
    rtc_sdp_media_kind_t kind;
    char *media;        /* "audio", "video", "application", others as written */
    uint16_t port;      /* 0 = rejected, unless bundle_only */
    uint16_t nports;    /* the "/<count>", 0 when absent */
    char *proto;        /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
    char *fmt;          /* non-RTP sections: the format list as written ("webrtc-datachannel") */
    rtc_sdp_conn_t conn;
    rtc_sdp_bandwidth_t *bw;
    size_t n_bw;

    char *mid;                /* NULL when no a=mid */
    rtc_sdp_dir_t dir;
    bool rtcp_mux, rtcp_mux_only, rtcp_rsize, bundle_only, extmap_allow_mixed;
    char *rtcp;               /* a=rtcp value as written ("9 IN IP4 0.0.0.0"), NULL when none */
    char *ice_ufrag, *ice_pwd, *ice_options; /* NULL when absent; options "trickle" etc. */
    rtc_sdp_fingerprint_t *fingerprints;
    size_t n_fingerprints;
    rtc_sdp_setup_t setup;
    rtc_sdp_candidate_t *candidates;
    size_t n_candidates;
    bool end_of_candidates;

    rtc_sdp_extmap_t *extmaps;
    size_t n_extmaps;
    rtc_sdp_codec_t *codecs;  /* RTP sections: one per format, in m= line order */
    size_t n_codecs;
    rtc_sdp_msid_t *msids;
    size_t n_msids;
    rtc_sdp_ssrc_group_t *ssrc_groups;
    size_t n_ssrc_groups;
    rtc_sdp_ssrc_t *ssrcs;
    size_t n_ssrcs;
    rtc_sdp_rid_t *rids;
    size_t n_rids;
    rtc_sdp_simulcast_t simulcast;

    uint16_t sctp_port;        /* 0 when absent */
    uint64_t max_message_size; /* 0 when absent */

    rtc_sdp_line_t *lines;     /* unknown non-attribute lines (i=, k=) */
    size_t n_lines;
    rtc_sdp_attr_t *attrs;     /* unknown attributes */
    size_t n_attrs;
} rtc_sdp_media_t;

typedef struct {
    /* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
    char *origin_user;
    char *session_id;          /* digits, kept as a string (may exceed 64 bits) */
    uint64_t session_version;
    char *origin_nettype, *origin_addrtype, *origin_address;
    char *name;                /* s= */
    rtc_sdp_conn_t conn;
    rtc_sdp_bandwidth_t *bw;
    size_t n_bw;
    uint64_t t_start, t_stop;  /* t= */

    rtc_sdp_group_t *groups;
    size_t n_groups;
    rtc_sdp_msid_semantic_t msid_semantic;
    bool extmap_allow_mixed;
    bool ice_lite;
    char *ice_ufrag, *ice_pwd, *ice_options;
    rtc_sdp_fingerprint_t *fingerprints;
    size_t n_fingerprints;
    rtc_sdp_setup_t setup;

    rtc_sdp_line_t *lines;
    size_t n_lines;
    rtc_sdp_attr_t *attrs;
    size_t n_attrs;

    rtc_sdp_media_t *media;
    size_t n_media;
} rtc_sdp_t;

/* ------------------------------------------------------------------------------------------
 * Life cycle, parse, write, compare.
 */
/* Zeroes *sdp (an empty description; t=0 0). A hand-built description needs at least the
 * origin fields before rtc_sdp_write accepts it; the JSEP builders fill everything. */
void rtc_sdp_init(rtc_sdp_t *sdp);
/* Frees everything *sdp owns and zeroes it. Safe on a zeroed or already freed struct. */
void rtc_sdp_free(rtc_sdp_t *sdp);

/* Parses p[0..n) into *out (which it initialises; free it with rtc_sdp_free even on error —
 * on error it is already freed and zeroed, so freeing again is harmless). err may be NULL.
 * Returns RTC_OK, RTC_ERR_MALFORMED, RTC_ERR_LIMIT, RTC_ERR_NOMEM or RTC_ERR_INVALID_ARG. */
int rtc_sdp_parse(const uint8_t *p, size_t n, rtc_sdp_t *out, rtc_sdp_error_t *err);
/* Appends the description to *out with CRLF line endings. Returns RTC_OK, RTC_ERR_NOMEM, or
 * RTC_ERR_INVALID_ARG when a required field is missing (origin, media type/proto). */
int rtc_sdp_write(const rtc_sdp_t *sdp, rtc_buf_t *out);
/* Deep comparison of two models (what round-trip stability means). */
bool rtc_sdp_equal(const rtc_sdp_t *a, const rtc_sdp_t *b);

/* ------------------------------------------------------------------------------------------
 * Builders. Each returns a pointer to a zeroed new element, or NULL on allocation failure.
 * rtc_sdp_strdup-style setters replace and free the old value.
 */
rtc_sdp_media_t *rtc_sdp_add_media(rtc_sdp_t *sdp);
rtc_sdp_codec_t *rtc_sdp_media_add_codec(rtc_sdp_media_t *m);
rtc_sdp_extmap_t *rtc_sdp_media_add_extmap(rtc_sdp_media_t *m);
rtc_sdp_candidate_t *rtc_sdp_media_add_candidate(rtc_sdp_media_t *m);
rtc_sdp_fingerprint_t *rtc_sdp_media_add_fingerprint(rtc_sdp_media_t *m);
rtc_sdp_msid_t *rtc_sdp_media_add_msid(rtc_sdp_media_t *m);
rtc_sdp_ssrc_t *rtc_sdp_media_add_ssrc(rtc_sdp_media_t *m);
rtc_sdp_ssrc_group_t *rtc_sdp_media_add_ssrc_group(rtc_sdp_media_t *m);
rtc_sdp_rid_t *rtc_sdp_media_add_rid(rtc_sdp_media_t *m);
rtc_sdp_attr_t *rtc_sdp_media_add_attr(rtc_sdp_media_t *m);
rtc_sdp_group_t *rtc_sdp_add_group(rtc_sdp_t *sdp);
/* Sets *dst to a heap copy of src (NULL src sets NULL); frees the old value. */
int rtc_sdp_set_str(char **dst, const char *src);
/* Appends a string to a heap array of strings. */
int rtc_sdp_strv_push(char ***v, size_t *n, const char *s);
/* Deep copies one codec / extmap (dst is overwritten, not freed first). */
int rtc_sdp_codec_copy(rtc_sdp_codec_t *dst, const rtc_sdp_codec_t *src);
void rtc_sdp_codec_clear(rtc_sdp_codec_t *c);

/* ------------------------------------------------------------------------------------------
 * Lookups.
 */
rtc_sdp_media_t *rtc_sdp_find_mid(const rtc_sdp_t *sdp, const char *mid);
const rtc_sdp_codec_t *rtc_sdp_media_find_pt(const rtc_sdp_media_t *m, unsigned pt);
/* The first a=group with these semantics ("BUNDLE"), or NULL. */
const rtc_sdp_group_t *rtc_sdp_find_group(const rtc_sdp_t *sdp, const char *semantics);
bool rtc_sdp_group_has(const rtc_sdp_group_t *g, const char *mid);
/* The value of "a=ssrc:<ssrc> <attr>:<value>", or NULL. */
const char *rtc_sdp_media_ssrc_attr(const rtc_sdp_media_t *m, uint32_t ssrc, const char *attr);
/* True for "RTP/..." protos and their UDP/TLS variants; false for SCTP and others. */
bool rtc_sdp_media_is_rtp(const rtc_sdp_media_t *m);
bool rtc_sdp_media_is_sctp(const rtc_sdp_media_t *m);
/* Effective ICE/DTLS values: the media's own, else the session's. */
const char *rtc_sdp_media_ice_ufrag(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m);
const char *rtc_sdp_media_ice_pwd(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m);
rtc_sdp_setup_t rtc_sdp_media_setup(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m);
const rtc_sdp_fingerprint_t *rtc_sdp_media_fingerprint(const rtc_sdp_t *sdp,
                                                      const rtc_sdp_media_t *m);
bool rtc_sdp_media_has_ice_option(const rtc_sdp_t *sdp, const rtc_sdp_media_t *m,
                                  const char *option);
/* Splits a simulcast sc-str-list ("h;m;~l" or "1,2;3") into rid ids, first alternative of
 * each stream, without the "~" paused marker. Returns how many (<= max) were written as
 * pointers into `buf` (a copy the function makes, size cap). */
int rtc_sdp_simulcast_rids(const char *list, char *buf, size_t cap, const char **ids, int max);
/* The pt= restriction of a rid: writes up to max payload types; returns the count (0 when
 * the rid has no pt= restriction) or RTC_ERR_MALFORMED. */
int rtc_sdp_rid_pts(const rtc_sdp_rid_t *r, uint8_t *pts, int max);

/* ------------------------------------------------------------------------------------------
 * Codecs.
 */
/* Looks up key in an fmtp value "a=1;b=2" (keys case-insensitive, spaces around ';'
 * ignored). Copies the value into out and returns its length, or RTC_ERR_NOT_FOUND,
 * RTC_ERR_OVERFLOW. */
int rtc_sdp_fmtp_get(const char *fmtp, const char *key, char *out, size_t cap);
/* Convenience: the value as an unsigned number, or def when absent or not a number. */
uint64_t rtc_sdp_fmtp_get_uint(const char *fmtp, const char *key, uint64_t def);

/* H.264 profile-level-id (RFC 6184 section 8.1): profile_idc, profile-iop, level_idc. */
typedef enum {
    RTC_H264_PROFILE_UNKNOWN = 0,
    RTC_H264_PROFILE_CONSTRAINED_BASELINE,
    RTC_H264_PROFILE_BASELINE,
    RTC_H264_PROFILE_MAIN,
    RTC_H264_PROFILE_CONSTRAINED_HIGH,
    RTC_H264_PROFILE_HIGH,
    RTC_H264_PROFILE_PREDICTIVE_HIGH_444,
} rtc_h264_profile_t;
typedef struct {
    rtc_h264_profile_t profile;
    uint8_t level_idc; /* 10 * level, and 9 for level 1b */
} rtc_h264_plid_t;
/* Parses the 6 hex digits of profile-level-id (level 1b is reported as 9). Returns RTC_OK or
 * RTC_ERR_MALFORMED (bad hex, or a profile_idc/profile-iop pair of no known profile). */
int rtc_h264_plid_parse(const char *hex6, rtc_h264_plid_t *out);
/* From a codec's fmtp. An absent profile-level-id is taken as Constrained Baseline 3.1, as
 * libwebrtc and the browsers do (RFC 6184's own default is Baseline 1.0). */
int rtc_h264_plid_from_fmtp(const char *fmtp, rtc_h264_plid_t *out);
/* Level comparison that treats 1b (9) as between 1.0 and 1.1. */
int rtc_h264_level_cmp(uint8_t a, uint8_t b);

/* Do two codecs describe the same format? Name (case-insensitive), clock rate, channels (audio
 * default 1), and per codec: H.264 same packetization-mode and same profile (levels may
 * differ), VP9 same profile-id, AV1 same profile, RTX/RED/ulpfec by name and clock only
 * (their apt/redundancy parameters are remapped by the JSEP layer). */
bool rtc_sdp_codec_match(const rtc_sdp_codec_t *a, const rtc_sdp_codec_t *b);
/* Static payload types (RFC 3551) that may appear without a=rtpmap: fills name/clock/channels
 * for 0 PCMU, 8 PCMA, 9 G722, 13 CN and a few others. Returns false when unknown. */
bool rtc_sdp_static_pt(uint8_t pt, rtc_sdp_codec_t *c);

/* ------------------------------------------------------------------------------------------
 * JSEP (RFC 8829). The PeerConnection keeps the transceivers and the ICE/DTLS credentials;
 * these helpers turn them into offers and answers and work out what was negotiated.
 *
 * How a PeerConnection uses them:
 *   createOffer:  rtc_jsep_create_offer(local, its transceivers + data channel in m= order)
 *   createAnswer: rtc_jsep_create_answer(remote offer, local, its transceivers matched by mid,
 *                 or templates with mid NULL for "accept whatever comes" as an SFU does)
 *   after setRemoteDescription(answer) / setLocalDescription(answer):
 *                 rtc_jsep_negotiate(offer, answer, we_offered) -> per-mid codecs, extmaps,
 *                 directions, DTLS role, remote ICE credentials and which section's transport
 *                 each mid uses.
 * We write the same ICE credentials and fingerprints into every section, i.e. we are always
 * ready to bundle. When the peer does not bundle (no BUNDLE group in the answer),
 * rtc_jsep_negotiate reports transport == the section's own index for each, and the caller
 * runs one ICE/DTLS transport per section (with the same local credentials).
 * Session id/version are the caller's: keep the id and increment the version on every new
 * description of the session (RFC 8829 section 5.2.2). Renegotiation is the same calls with
 * the same mids in the same order; sections are never removed, only stopped (port 0).
 */
typedef enum {
    RTC_JSEP_BUNDLE_BALANCED = 0, /* all sections in one BUNDLE group, each with port 9 */
    RTC_JSEP_BUNDLE_MAX_COMPAT,   /* same on the wire for an initial offer */
    RTC_JSEP_BUNDLE_MAX_BUNDLE,   /* initial offer: sections after the first are bundle-only
                                     (port 0 + a=bundle-only), RFC 8829 section 5.2.1 */
} rtc_jsep_bundle_policy_t;

/* One m= section we offer or answer with: an RTCRtpTransceiver (audio/video) or the SCTP
 * association of the data channels (APPLICATION). Only read; strings may be literals. */
typedef struct {
    rtc_sdp_media_kind_t kind;
    const char *mid;                /* offers: required. answers: NULL = template (below) */
    rtc_sdp_dir_t direction;        /* what we want: sendrecv/sendonly/recvonly/inactive */
    bool stopped;                   /* offer/answer the section with port 0 */

    /* RTP: our codecs in preference order, with our preferred payload types; RTX entries
     * ("rtx", fmtp "apt=<pt>") point at the codec they repair by our PT. */
    const rtc_sdp_codec_t *codecs;
    size_t n_codecs;
    const rtc_sdp_extmap_t *extmaps;  /* header extensions we support, with our ids */
    size_t n_extmaps;

    /* What we send (used when direction sends): a=msid, a=ssrc cname/msid, FID groups. */
    const char *stream_id;          /* NULL: "-" */
    const char *track_id;           /* NULL: no a=msid */
    const char *cname;
    const uint32_t *ssrcs;          /* one primary SSRC per encoding (n_ssrcs == 1 without
                                       simulcast; with rids, SSRCs are optional) */
    const uint32_t *rtx_ssrcs;      /* NULL or one per primary SSRC */
    size_t n_ssrcs;
    const char *const *send_rids;   /* simulcast: rid ids we send, highest first */
    size_t n_send_rids;
    bool receive_simulcast;         /* answers: accept an offer's send simulcast */

    /* APPLICATION (data channels). 0 = defaults 5000 and 262144. */
    uint16_t sctp_port;
    uint64_t max_message_size;
} rtc_jsep_section_t;

/* Our transport parameters, the same for every section (we always bundle-capable). */
typedef struct {
    const char *session_id;          /* NULL: random 63-bit decimal */
    uint64_t session_version;        /* caller increments on each new description */
    const char *ice_ufrag, *ice_pwd; /* required */
    bool ice_lite;                   /* a=ice-lite at session level (an SFU) */
    bool trickle;                    /* a=ice-options:trickle */
    const rtc_sdp_fingerprint_t *fingerprints; /* required, at least one */
    size_t n_fingerprints;
    rtc_sdp_setup_t answer_setup;    /* answers to actpass: ACTIVE (default, NONE) or PASSIVE */
    rtc_jsep_bundle_policy_t bundle_policy;
    bool initial;                    /* first offer of the session (bundle-only applies);
                                        later offers put port 9 on every accepted section */
    const rtc_sdp_candidate_t *candidates; /* put in the first (bundle-tag) section */
    size_t n_candidates;
    bool end_of_candidates;
    const char *stream_ids_semantic; /* a=msid-semantic:WMS value; NULL: none written */
} rtc_jsep_local_t;

/* Builds an offer with one m= section per entry of `sections`, in order. Audio/video get
 * UDP/TLS/RTP/SAVPF, rtcp-mux, rtcp-rsize (video), our codecs/extmaps, direction, and when
 * sending msid/ssrc/rid/simulcast; application gets UDP/DTLS/SCTP webrtc-datachannel with
 * sctp-port and max-message-size. All sections carry a=setup:actpass, the ICE credentials and
 * fingerprints, and are put in one BUNDLE group (stopped ones excluded).
 * *out is initialised here and owned by the caller (rtc_sdp_free). Returns RTC_OK,
 * RTC_ERR_INVALID_ARG (missing mid, credentials or fingerprint; duplicate mid) or
 * RTC_ERR_NOMEM. */
int rtc_jsep_create_offer(const rtc_jsep_local_t *local, const rtc_jsep_section_t *sections,
                          size_t n_sections, rtc_sdp_t *out);

/* Builds the answer to a remote offer into *out (initialised here; the caller frees it).
 * Matching: each offered m= section goes to our section with the same mid (and kind), else to
 * the first template (mid NULL) of the same kind. Rejected (port 0, the offer's formats, a=mid
 * kept, left out of BUNDLE): no match, a stopped match, port 0 without bundle-only inside the
 * offer's BUNDLE group, an unknown kind or proto, or no codec in common.
 * Accepted RTP sections: the offered codecs that match ours (rtc_sdp_codec_match), keeping
 * the offerer's payload types, in our preference order, with our fmtp (H.264 level lowered to
 * the offer's unless both allow level asymmetry) and the rtcp-fb both sides list; RTX kept
 * when its apt's codec is, right after it; RED/ULPFEC kept when we list them (RED only when
 * its redundant payload types are kept). Header extensions: the offered URIs we support, with
 * the offer's ids. Direction: ours intersected with the reverse of the offer's. Simulcast: an
 * offered "send" list is answered "recv" with the same rids (a=rid ... recv, pt= restricted to
 * kept payload types) when we receive and receive_simulcast is set; an offered "recv" list is
 * answered "send" with those of its rids in our send_rids. a=setup: actpass -> our
 * answer_setup (active by default), active -> passive, passive/absent -> active/passive per
 * RFC 4145. BUNDLE: the accepted offered-bundled mids in the offer's order; candidates go in
 * the first of them. Data channels in the pre-RFC 8841 form ("DTLS/SCTP 5000" + a=sctpmap, as
 * aiortc 1.4 writes) are answered in the same form.
 * Returns RTC_OK, RTC_ERR_INVALID_ARG (missing credentials), RTC_ERR_PROTOCOL (a section of the
 * offer has no a=mid, or asks for a=setup:holdconn), RTC_ERR_NOMEM. */
int rtc_jsep_create_answer(const rtc_sdp_t *offer, const rtc_jsep_local_t *local,
                           const rtc_jsep_section_t *sections, size_t n_sections,
                           rtc_sdp_t *out);

/* What was negotiated for one m= section, seen from our side. Pointers point into the two
 * descriptions given to rtc_jsep_negotiate and live as long as they do. */
typedef struct {
    const char *mid;
    rtc_sdp_media_kind_t kind;
    bool rejected;               /* port 0 in the answer (and not bundle-only) */
    rtc_sdp_dir_t direction;     /* what WE do: sendonly means we send, the peer receives */
    const rtc_sdp_media_t *local;  /* our section (offer or answer) */
    const rtc_sdp_media_t *remote; /* the peer's section */
    /* Negotiated codecs: the answer's list; the payload types on the wire. */
    const rtc_sdp_codec_t *codecs;
    size_t n_codecs;
    /* Negotiated header extensions: the answer's list (ids on the wire). */
    const rtc_sdp_extmap_t *extmaps;
    size_t n_extmaps;
    size_t transport;            /* index of the section whose ICE/DTLS transport this uses
                                    (the BUNDLE tag when bundled, else itself) */
    bool bundled;
    uint16_t sctp_port;          /* application: the peer's sctp-port */
    uint64_t max_message_size;   /* application: the peer's (0 = not given; use 65536) */
} rtc_jsep_media_result_t;

typedef struct {
    rtc_jsep_media_result_t *media; /* one per m= section, in order; heap, owned here */
    size_t n_media;
    bool dtls_client;                /* we are the DTLS client (a=setup:active on our side) */
    bool remote_ice_lite;
    const char *remote_ice_ufrag;    /* of the transport of the first accepted section */
    const char *remote_ice_pwd;
    const rtc_sdp_fingerprint_t *remote_fingerprint;
} rtc_jsep_result_t;

/* Works out what an offer/answer exchange negotiated. we_offered says which of the two is
 * ours. Checks the answer against the offer: same number of sections and mids in order,
 * answered payload types offered with the same codec, extmap ids offered, setup compatible
 * (answer not actpass/holdconn, not the same role as a non-actpass offer), BUNDLE group in the
 * answer a subset of the offer's. Returns RTC_OK, RTC_ERR_PROTOCOL with a log line naming
 * the offending mid, or RTC_ERR_NOMEM. Free the result with rtc_jsep_result_free. */
int rtc_jsep_negotiate(const rtc_sdp_t *offer, const rtc_sdp_t *answer, bool we_offered,
                       rtc_jsep_result_t *out);
void rtc_jsep_result_free(rtc_jsep_result_t *r);

#ifdef __cplusplus
}
#endif
#endif /* RTC_SDP_H */
