/*
 * rtc/dtls.h — DTLS 1.2 for WebRTC (RFC 6347 over OpenSSL 3): certificates and SDP
 * fingerprints (RFC 8122), the use_srtp extension and SRTP key export (RFC 5764), and
 * application data for SCTP (RFC 8261).
 *
 * Sans-I/O. An endpoint (rtc_dtls_t) is fed datagrams and the current time; it hands back
 *   - datagrams to send:        rtc_dtls_poll_transmit (pull, one datagram per call),
 *   - events:                   rtc_dtls_poll_event (connected, alert, closed, failed),
 *   - decrypted app data:       rtc_dtls_recv (one DTLS record per call),
 *   - when to wake it next:     rtc_dtls_next_timeout / rtc_dtls_handle_timeout.
 * After every call that takes `now` the caller drains transmit and events. Nothing here reads
 * a clock, sleeps, or opens a socket; retransmission timing is driven only by the `now`
 * values passed in (see "Timers" in src/dtls/dtls.c for how OpenSSL's own timer is tamed).
 *
 * Certificates are reference-counted and immutable after creation, so one certificate can be
 * shared by any number of endpoints on any number of threads (an SFU makes one at start-up).
 * An endpoint itself is not thread-safe: use it from one thread at a time.
 *
 * The RFC 7983 demultiplexing of STUN/DTLS/RTP on one port is the caller's job: hand this
 * layer only datagrams whose first byte is in [20, 63].
 */
#ifndef RTC_DTLS_H
#define RTC_DTLS_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Fingerprints: "sha-256 AB:CD:..." as in SDP a=fingerprint (RFC 8122 section 5).
 */
typedef struct {
    rtc_digest_t alg;               /* RTC_DIGEST_SHA1/SHA256/SHA384/SHA512 */
    uint8_t len;                    /* rtc_digest_len(alg) */
    uint8_t value[RTC_DIGEST_MAX_LEN];
} rtc_dtls_fingerprint_t;

/* Longest formatted fingerprint with its NUL: "sha-512 " + 64 "XX" pairs and 63 colons. */
#define RTC_DTLS_FINGERPRINT_STRLEN (8 + 64 * 3)

/* Parses the value of an a=fingerprint attribute ("sha-256 AB:CD:...", hash name in any case,
 * hex in any case, one or more spaces between). sha-1, sha-256, sha-384 and sha-512 are
 * accepted; md5, md2 and sha-224 return RTC_ERR_UNSUPPORTED. Anything else (wrong number of
 * bytes, bad separators, trailing junk) is RTC_ERR_MALFORMED. Never reads past s[n-1]. */
int rtc_dtls_fingerprint_parse(const char *s, size_t n, rtc_dtls_fingerprint_t *out);
/* Formats as SDP wants it: lower-case hash name, upper-case hex with colons. Returns the
 * length written (without NUL) or RTC_ERR_OVERFLOW / RTC_ERR_INVALID_ARG. */
int rtc_dtls_fingerprint_format(const rtc_dtls_fingerprint_t *fp, char *out, size_t cap);
/* Same algorithm and same bytes (constant time over the bytes). */
bool rtc_dtls_fingerprint_equal(const rtc_dtls_fingerprint_t *a, const rtc_dtls_fingerprint_t *b);

/* ------------------------------------------------------------------------------------------
 * Certificates.
 */
typedef struct rtc_dtls_cert rtc_dtls_cert_t;

/* Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate with a random serial,
 * valid from one day ago for `valid_days` days (0 means 30). common_name NULL means
 * "starling". On success *out holds one reference (drop it with rtc_dtls_cert_unref). */
int rtc_dtls_cert_generate(const char *common_name, unsigned valid_days, rtc_dtls_cert_t **out);
/* Loads a certificate and its private key from PEM text (not NUL-terminated necessarily).
 * Any key type OpenSSL can use for TLS is accepted. RTC_ERR_MALFORMED if either does not
 * parse, RTC_ERR_INVALID_ARG if the key does not match the certificate. */
int rtc_dtls_cert_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                           size_t key_len, rtc_dtls_cert_t **out);
/* Same, reading two files (they may be the same file). RTC_ERR_IO if unreadable. */
int rtc_dtls_cert_load_files(const char *cert_path, const char *key_path, rtc_dtls_cert_t **out);
/* Appends the certificate and (if key_pem is not NULL) the unencrypted private key as PEM. */
int rtc_dtls_cert_to_pem(const rtc_dtls_cert_t *c, rtc_buf_t *cert_pem, rtc_buf_t *key_pem);
/* The certificate's fingerprint with the given digest (SHA-256 for SDP). */
int rtc_dtls_cert_fingerprint(const rtc_dtls_cert_t *c, rtc_digest_t alg, rtc_dtls_fingerprint_t *out);
/* Takes another reference (thread-safe). Returns c. */
rtc_dtls_cert_t *rtc_dtls_cert_ref(rtc_dtls_cert_t *c);
/* Drops a reference (thread-safe); the last one frees. NULL is ignored. */
void rtc_dtls_cert_unref(rtc_dtls_cert_t *c);

/* ------------------------------------------------------------------------------------------
 * SRTP protection profiles (IANA "DTLS-SRTP Protection Profiles"; the same numbers as
 * rtc_srtp_profile_t in rtc/srtp.h).
 */
#define RTC_DTLS_SRTP_AES128_CM_SHA1_80 0x0001
#define RTC_DTLS_SRTP_AEAD_AES_128_GCM 0x0007
#define RTC_DTLS_SRTP_MAX_PROFILES 4

/* Keying material exported with label "EXTRACTOR-dtls_srtp" (RFC 5764 section 4.2), split
 * into the two write keys. The client protects with client_key/client_salt, the server with
 * server_*. local_* / remote_* are the same bytes picked for this endpoint's role. */
typedef struct {
    uint16_t profile;       /* RTC_DTLS_SRTP_* */
    uint8_t key_len;        /* 16 for both profiles */
    uint8_t salt_len;       /* 14 for AES128_CM_SHA1_80, 12 for AEAD_AES_128_GCM */
    uint8_t client_key[32], client_salt[14];
    uint8_t server_key[32], server_salt[14];
    uint8_t local_key[32], local_salt[14];
    uint8_t remote_key[32], remote_salt[14];
} rtc_dtls_srtp_keys_t;

/* ------------------------------------------------------------------------------------------
 * Endpoints.
 */
typedef struct rtc_dtls rtc_dtls_t;

typedef enum {
    RTC_DTLS_ROLE_CLIENT = 0,   /* a=setup:active  — sends the ClientHello */
    RTC_DTLS_ROLE_SERVER = 1,   /* a=setup:passive — waits for it */
} rtc_dtls_role_t;

/* Mirrors RTCDtlsTransportState. */
typedef enum {
    RTC_DTLS_STATE_NEW = 0,
    RTC_DTLS_STATE_CONNECTING,
    RTC_DTLS_STATE_CONNECTED,
    RTC_DTLS_STATE_CLOSED,
    RTC_DTLS_STATE_FAILED,
} rtc_dtls_state_t;

#define RTC_DTLS_MAX_REMOTE_FINGERPRINTS 4
/* Largest application payload one rtc_dtls_send accepts (one DTLS record). */
#define RTC_DTLS_MAX_APP_DATA 16384
/* A buffer this large holds any datagram rtc_dtls_poll_transmit can return. */
#define RTC_DTLS_MAX_DATAGRAM (RTC_DTLS_MAX_APP_DATA + 128)

typedef struct {
    rtc_dtls_cert_t *cert;      /* required; the endpoint takes its own reference */
    rtc_dtls_role_t role;
    size_t mtu;                 /* largest datagram produced (DTLS bytes); 0 = 1200 */
    /* SRTP profiles to offer/accept, most preferred first; none set means
     * {AEAD_AES_128_GCM, AES128_CM_SHA1_80}. */
    uint16_t srtp_profiles[RTC_DTLS_SRTP_MAX_PROFILES];
    size_t n_srtp_profiles;
    bool no_srtp;               /* do not negotiate use_srtp (data channels only) */
    /* The peer's SDP fingerprints. May be left empty and set later with
     * rtc_dtls_set_remote_fingerprints (the handshake then completes but the endpoint stays
     * "connecting" until they arrive and match). A certificate matching any of them passes. */
    rtc_dtls_fingerprint_t remote_fingerprints[RTC_DTLS_MAX_REMOTE_FINGERPRINTS];
    size_t n_remote_fingerprints;
    rtc_time_t initial_rto;     /* first retransmission timeout; 0 = 1 s (RFC 6347 4.2.4.1) */
    rtc_time_t max_rto;         /* backoff cap; 0 = 60 s */
    rtc_time_t handshake_timeout; /* from start until connected; 0 = 30 s */
    size_t recv_queue_limit;    /* bytes of undelivered app data kept (and at most 4096
                                 * records); 0 = 1 MiB. Beyond it records are dropped. */
    const char *log_id;         /* optional tag in log lines (copied) */
} rtc_dtls_config_t;

/* Fills defaults (all zero means "default", role client, no fingerprints). */
void rtc_dtls_config_init(rtc_dtls_config_t *cfg);

/* Creates an endpoint in state NEW. RTC_ERR_INVALID_ARG for a missing cert, an unknown SRTP
 * profile or an MTU OpenSSL cannot work with (< 256 or > 65535). */
int rtc_dtls_create(const rtc_dtls_config_t *cfg, rtc_dtls_t **out);
/* Frees the endpoint (sends nothing; call rtc_dtls_close first for a clean close). */
void rtc_dtls_destroy(rtc_dtls_t *d);

/* Sets (replaces) the peer's fingerprints. If the handshake already finished, the peer
 * certificate is checked now: a match moves to CONNECTED, a mismatch to FAILED with
 * RTC_ERR_FINGERPRINT (both as events). Returns RTC_OK even when the check fails; the
 * outcome is in the events. RTC_ERR_STATE once connected, closed or failed. */
int rtc_dtls_set_remote_fingerprints(rtc_dtls_t *d, const rtc_dtls_fingerprint_t *fps, size_t n,
                                     rtc_time_t now);

/* NEW -> CONNECTING. A client queues its ClientHello; a server waits. A server that receives
 * a datagram before start starts implicitly. RTC_ERR_STATE if already started. */
int rtc_dtls_start(rtc_dtls_t *d, rtc_time_t now);

/* Feeds one received datagram. Records OpenSSL cannot authenticate or parse are dropped
 * silently as DTLS requires; a datagram that is not DTLS at all (first byte outside 20..63,
 * or empty) is refused with RTC_ERR_MALFORMED and counted. Returns RTC_ERR_STATE before a
 * client's start, RTC_ERR_CLOSED after close or failure (the datagram is ignored), otherwise
 * RTC_OK; handshake outcomes are reported as events, not return codes. */
int rtc_dtls_handle_datagram(rtc_dtls_t *d, const uint8_t *p, size_t n, rtc_time_t now);

/* Copies the next datagram to send into buf and removes it from the queue. Returns its
 * length, 0 when nothing is queued, or RTC_ERR_OVERFLOW (datagram kept) if cap is too small.
 * Handshake datagrams never exceed cfg.mtu; one carrying a large rtc_dtls_send payload can,
 * up to RTC_DTLS_MAX_DATAGRAM. */
int rtc_dtls_poll_transmit(rtc_dtls_t *d, uint8_t *buf, size_t cap);

typedef enum {
    RTC_DTLS_EVENT_CONNECTED = 1, /* handshake done and fingerprint verified; keys available */
    RTC_DTLS_EVENT_ALERT,         /* an alert was sent or received (details below) */
    RTC_DTLS_EVENT_CLOSED,        /* the peer sent close_notify */
    RTC_DTLS_EVENT_FAILED,        /* error says why; the endpoint is dead */
} rtc_dtls_event_type_t;

typedef struct {
    rtc_dtls_event_type_t type;
    /* FAILED: RTC_ERR_FINGERPRINT (peer certificate does not match its SDP fingerprint),
     * RTC_ERR_TIMEOUT (no handshake in time), RTC_ERR_PROTOCOL (peer sent a fatal alert),
     * RTC_ERR_CRYPTO (the handshake failed here for another reason; details logged). */
    int error;
    bool alert_sent;            /* ALERT: true if we sent it, false if we received it */
    uint8_t alert_level;        /* ALERT: 1 warning, 2 fatal */
    uint8_t alert_description;  /* ALERT: RFC 5246 section 7.2 code (0 close_notify, 42
                                 * bad_certificate, ...) */
} rtc_dtls_event_t;

/* Takes the oldest pending event. Returns false when there is none. */
bool rtc_dtls_poll_event(rtc_dtls_t *d, rtc_dtls_event_t *ev);

/* When to call rtc_dtls_handle_timeout next (absolute), or RTC_TIME_NEVER. */
rtc_time_t rtc_dtls_next_timeout(const rtc_dtls_t *d);
/* Retransmits the current flight if its timer expired (doubling the timeout, RFC 6347
 * 4.2.4.1) and fails the handshake with RTC_ERR_TIMEOUT once handshake_timeout passed.
 * Calling it early is harmless. */
int rtc_dtls_handle_timeout(rtc_dtls_t *d, rtc_time_t now);

/* Encrypts one application-data record (one datagram). RTC_ERR_STATE unless CONNECTED,
 * RTC_ERR_OVERFLOW above RTC_DTLS_MAX_APP_DATA (records above rtc_dtls_data_mtu still go
 * out but exceed the configured MTU), RTC_ERR_AGAIN if the transmit queue is full. */
int rtc_dtls_send(rtc_dtls_t *d, const void *p, size_t n);
/* Takes the oldest received application-data record. Returns its length, RTC_ERR_AGAIN when
 * none is waiting (or not yet CONNECTED), RTC_ERR_OVERFLOW (record kept) if cap is too small. */
int rtc_dtls_recv(rtc_dtls_t *d, uint8_t *buf, size_t cap);

/* Sends close_notify (when a session exists) and moves to CLOSED. No event is raised for a
 * local close. Idempotent. */
int rtc_dtls_close(rtc_dtls_t *d, rtc_time_t now);

rtc_dtls_state_t rtc_dtls_state(const rtc_dtls_t *d);
const char *rtc_dtls_state_name(rtc_dtls_state_t s);  /* "new", "connecting", ... */
rtc_dtls_role_t rtc_dtls_role(const rtc_dtls_t *d);
/* The error that failed the endpoint, or RTC_OK. */
int rtc_dtls_error(const rtc_dtls_t *d);
/* "close_notify", "bad_certificate", ... for an alert description. */
const char *rtc_dtls_alert_name(uint8_t description);

/* SRTP keys once CONNECTED. RTC_ERR_STATE before, RTC_ERR_NOT_FOUND if no SRTP profile was
 * negotiated (the peer did not offer use_srtp, or no_srtp was set). */
int rtc_dtls_get_srtp_keys(const rtc_dtls_t *d, rtc_dtls_srtp_keys_t *keys);
/* The negotiated SRTP profile (RTC_DTLS_SRTP_*), or 0. */
uint16_t rtc_dtls_srtp_profile(const rtc_dtls_t *d);
/* RFC 5705 exporter, for other labels. RTC_ERR_STATE before the handshake finished. */
int rtc_dtls_export_keying_material(const rtc_dtls_t *d, const char *label, const uint8_t *context,
                                    size_t context_len, uint8_t *out, size_t out_len);
/* The peer certificate's fingerprint (once the handshake finished). */
int rtc_dtls_get_remote_fingerprint(const rtc_dtls_t *d, rtc_digest_t alg, rtc_dtls_fingerprint_t *out);
/* The peer certificate in DER (appended to out), for RTCCertificateStats. */
int rtc_dtls_get_remote_certificate_der(const rtc_dtls_t *d, rtc_buf_t *out);
/* IANA name of the negotiated cipher suite ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), or
 * NULL before the handshake. */
const char *rtc_dtls_cipher(const rtc_dtls_t *d);
/* Largest rtc_dtls_send payload that fits one datagram of cfg.mtu; 0 before the handshake. */
size_t rtc_dtls_data_mtu(const rtc_dtls_t *d);

typedef struct {
    uint64_t datagrams_received, bytes_received;
    uint64_t datagrams_sent, bytes_sent;
    uint64_t retransmissions;       /* timer-driven flight retransmissions */
    uint64_t records_received, records_sent;   /* application data */
    uint64_t malformed_dropped;     /* datagrams refused as not DTLS */
    uint64_t recv_queue_dropped;    /* app records dropped because recv_queue_limit was hit */
    uint64_t transmit_queue_dropped; /* datagrams dropped because the caller did not poll */
} rtc_dtls_stats_t;

void rtc_dtls_get_stats(const rtc_dtls_t *d, rtc_dtls_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif /* RTC_DTLS_H */
