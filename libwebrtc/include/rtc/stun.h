/*
 * rtc/stun.h — STUN (RFC 8489) message codec, authentication, transactions, and the Binding
 * client and responder. Sans-I/O: bytes and the current time in, bytes and events out.
 *
 * Decoding is zero-copy: rtc_stun_msg_t records where each attribute sits in the caller's
 * buffer, which must outlive the message. Encoding writes into a caller-provided buffer
 * through rtc_stun_builder_t. Attributes of RFC 8489, RFC 8445 (ICE), RFC 8656 (TURN),
 * RFC 6062 (TURN-TCP) and RFC 5780 (NAT behaviour discovery) are known.
 */
#ifndef RTC_STUN_H
#define RTC_STUN_H

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTC_STUN_MAGIC_COOKIE 0x2112A442u
#define RTC_STUN_HEADER_LEN 20
#define RTC_STUN_TID_LEN 12
#define RTC_STUN_FINGERPRINT_XOR 0x5354554eu
/* Largest message we decode or build; STUN over UDP should stay under the path MTU anyway. */
#define RTC_STUN_MAX_MESSAGE (65535 + RTC_STUN_HEADER_LEN)
/* Attributes per message we accept. A peer that sends more is refused (RTC_ERR_LIMIT): no
 * legitimate message comes close, and a cap keeps decoding allocation-free. */
#define RTC_STUN_MAX_ATTRS 48

typedef enum {
    RTC_STUN_REQUEST = 0,
    RTC_STUN_INDICATION = 1,
    RTC_STUN_SUCCESS = 2,
    RTC_STUN_ERROR = 3,
} rtc_stun_class_t;

enum {
    RTC_STUN_BINDING = 0x001,
    /* RFC 8656 (TURN) */
    RTC_STUN_ALLOCATE = 0x003,
    RTC_STUN_REFRESH = 0x004,
    RTC_STUN_SEND = 0x006,
    RTC_STUN_DATA = 0x007,
    RTC_STUN_CREATE_PERMISSION = 0x008,
    RTC_STUN_CHANNEL_BIND = 0x009,
    /* RFC 6062 (TURN over TCP to peers) */
    RTC_STUN_CONNECT = 0x00a,
    RTC_STUN_CONNECTION_BIND = 0x00b,
    RTC_STUN_CONNECTION_ATTEMPT = 0x00c,
};

enum {
    /* RFC 8489 comprehension-required */
    RTC_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    RTC_STUN_ATTR_CHANGE_REQUEST = 0x0003, /* RFC 5780 */
    RTC_STUN_ATTR_USERNAME = 0x0006,
    RTC_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    RTC_STUN_ATTR_ERROR_CODE = 0x0009,
    RTC_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    RTC_STUN_ATTR_CHANNEL_NUMBER = 0x000C,       /* TURN */
    RTC_STUN_ATTR_LIFETIME = 0x000D,             /* TURN */
    RTC_STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,     /* TURN */
    RTC_STUN_ATTR_DATA = 0x0013,                 /* TURN */
    RTC_STUN_ATTR_REALM = 0x0014,
    RTC_STUN_ATTR_NONCE = 0x0015,
    RTC_STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,  /* TURN */
    RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017, /* TURN */
    RTC_STUN_ATTR_EVEN_PORT = 0x0018,            /* TURN */
    RTC_STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,  /* TURN */
    RTC_STUN_ATTR_DONT_FRAGMENT = 0x001A,        /* TURN */
    RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    RTC_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
    RTC_STUN_ATTR_USERHASH = 0x001E,
    RTC_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    RTC_STUN_ATTR_RESERVATION_TOKEN = 0x0022,    /* TURN */
    RTC_STUN_ATTR_PRIORITY = 0x0024,             /* ICE */
    RTC_STUN_ATTR_USE_CANDIDATE = 0x0025,        /* ICE */
    RTC_STUN_ATTR_PADDING = 0x0026,              /* RFC 5780 */
    RTC_STUN_ATTR_RESPONSE_PORT = 0x0027,        /* RFC 5780 */
    RTC_STUN_ATTR_CONNECTION_ID = 0x002A,        /* RFC 6062 */
    /* comprehension-optional */
    RTC_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000, /* TURN */
    RTC_STUN_ATTR_ADDRESS_ERROR_CODE = 0x8001,        /* TURN */
    RTC_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
    RTC_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
    RTC_STUN_ATTR_ICMP = 0x8004,                      /* TURN */
    RTC_STUN_ATTR_SOFTWARE = 0x8022,
    RTC_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    RTC_STUN_ATTR_FINGERPRINT = 0x8028,
    RTC_STUN_ATTR_ICE_CONTROLLED = 0x8029,            /* ICE */
    RTC_STUN_ATTR_ICE_CONTROLLING = 0x802A,           /* ICE */
    RTC_STUN_ATTR_RESPONSE_ORIGIN = 0x802B,           /* RFC 5780 */
    RTC_STUN_ATTR_OTHER_ADDRESS = 0x802C,             /* RFC 5780 */
    RTC_STUN_ATTR_GOOG_NETWORK_INFO = 0xC057,         /* sent by Chromium; ignored */
};

/* Error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 8445 §7.3.1.1). */
enum {
    RTC_STUN_ERR_TRY_ALTERNATE = 300,
    RTC_STUN_ERR_BAD_REQUEST = 400,
    RTC_STUN_ERR_UNAUTHORIZED = 401,
    RTC_STUN_ERR_FORBIDDEN = 403,
    RTC_STUN_ERR_MOBILITY_FORBIDDEN = 405,
    RTC_STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
    RTC_STUN_ERR_ALLOCATION_MISMATCH = 437,
    RTC_STUN_ERR_STALE_NONCE = 438,
    RTC_STUN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED = 440,
    RTC_STUN_ERR_WRONG_CREDENTIALS = 441,
    RTC_STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
    RTC_STUN_ERR_PEER_ADDRESS_FAMILY_MISMATCH = 443,
    RTC_STUN_ERR_CONNECTION_ALREADY_EXISTS = 446,
    RTC_STUN_ERR_CONNECTION_TIMEOUT = 447,
    RTC_STUN_ERR_ALLOCATION_QUOTA = 486,
    RTC_STUN_ERR_ROLE_CONFLICT = 487,
    RTC_STUN_ERR_SERVER_ERROR = 500,
    RTC_STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* The standard reason phrase for an error code ("Unauthorized"), or "Error". */
const char *rtc_stun_error_reason(int code);
/* "Binding", "Allocate" ... or "Unknown"; for logs. */
const char *rtc_stun_method_name(uint16_t method);

/* One attribute of a decoded message: its type, value length (without padding) and the
 * offset of its value from the start of the message. */
typedef struct {
    uint16_t type;
    uint16_t len;
    uint32_t offset;
} rtc_stun_attr_t;

/* A decoded message. `raw` points into the caller's buffer (not owned). */
typedef struct {
    uint16_t method;
    rtc_stun_class_t cls;
    uint8_t tid[RTC_STUN_TID_LEN];
    const uint8_t *raw;
    size_t raw_len;
    rtc_stun_attr_t attrs[RTC_STUN_MAX_ATTRS];
    size_t n_attrs;
    /* Indexes into attrs[] of the integrity and fingerprint attributes, -1 if absent. */
    int integrity;
    int integrity_sha256;
    int fingerprint;
    /* Unknown comprehension-required attribute types found (see rtc_stun_msg_decode). */
    uint16_t unknown[8];
    size_t n_unknown;
} rtc_stun_msg_t;

/* Quick test for demultiplexing (RFC 7983 / RFC 8489 §6): first two bits zero, magic
 * cookie present, length a multiple of 4. Does not validate attributes. */
bool rtc_stun_is_message(const uint8_t *p, size_t n);

/* For stream transports: the full length of the STUN message starting at p (header plus
 * body), once at least 4 bytes are available; RTC_ERR_AGAIN if fewer, RTC_ERR_MALFORMED if
 * p cannot start a STUN message. */
int rtc_stun_frame_length(const uint8_t *p, size_t n);

/* Decodes p[0..n) — exactly one message, so n must equal 20 + the header's length.
 * Validates the header, every attribute length and the padding layout, the FINGERPRINT value
 * when present, and attribute order (only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow
 * MESSAGE-INTEGRITY; only FINGERPRINT may follow MESSAGE-INTEGRITY-SHA256; nothing may follow
 * FINGERPRINT). Returns:
 *   RTC_OK                 decoded.
 *   RTC_ERR_UNKNOWN_ATTR   decoded completely, but carries unknown comprehension-required
 *                          attributes, listed in msg->unknown (a server answers 420).
 *   RTC_ERR_TRUNCATED      buffer shorter than the header or an attribute claims.
 *   RTC_ERR_MALFORMED      not STUN, bad length/padding/order, bad cookie.
 *   RTC_ERR_FINGERPRINT    FINGERPRINT present and wrong.
 *   RTC_ERR_DUPLICATE      a comprehension-required attribute that may appear once appears
 *                          twice. RFC 8489 lets receivers take the first; we refuse instead,
 *                          because two USERNAMEs or two addresses are an ambiguity that
 *                          differing implementations resolve differently — an attack surface,
 *                          never something a real peer sends. XOR-PEER-ADDRESS may repeat
 *                          (TURN CreatePermission), so may XOR-RELAYED-ADDRESS (dual-stack
 *                          Allocate success), and repeated comprehension-optional
 *                          attributes are tolerated (the first wins in lookups).
 *   RTC_ERR_LIMIT          more than RTC_STUN_MAX_ATTRS attributes.
 * Message integrity is NOT checked here: the key depends on the attributes, so call
 * rtc_stun_msg_check_integrity once the key is known. */
int rtc_stun_msg_decode(rtc_stun_msg_t *msg, const uint8_t *p, size_t n);

/* Is the attribute type known to this codec? */
bool rtc_stun_attr_is_known(uint16_t type);
static inline bool rtc_stun_attr_is_comprehension_required(uint16_t type) { return type < 0x8000; }

/* First attribute of a type (the one RFC 8489 says to process), or NULL. */
const rtc_stun_attr_t *rtc_stun_msg_find(const rtc_stun_msg_t *msg, uint16_t type);
/* Next attribute of the same type after `prev`, or NULL (for repeated XOR-PEER-ADDRESS). */
const rtc_stun_attr_t *rtc_stun_msg_find_next(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *prev);
static inline const uint8_t *rtc_stun_attr_value(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a) {
    return msg->raw + a->offset;
}
static inline bool rtc_stun_msg_has(const rtc_stun_msg_t *msg, uint16_t type) {
    return rtc_stun_msg_find(msg, type) != NULL;
}

/* Typed getters. Each returns RTC_OK, RTC_ERR_NOT_FOUND when the attribute is absent, or
 * RTC_ERR_MALFORMED when its value has the wrong size or content. */
/* XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS. */
int rtc_stun_msg_get_xor_address(const rtc_stun_msg_t *msg, uint16_t type, rtc_addr_t *out);
int rtc_stun_attr_get_xor_address(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a, rtc_addr_t *out);
/* MAPPED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS. */
int rtc_stun_msg_get_address(const rtc_stun_msg_t *msg, uint16_t type, rtc_addr_t *out);
/* 32-bit values: PRIORITY, LIFETIME, CHANGE-REQUEST, CONNECTION-ID, FINGERPRINT. */
int rtc_stun_msg_get_u32(const rtc_stun_msg_t *msg, uint16_t type, uint32_t *out);
/* 64-bit values: ICE-CONTROLLING, ICE-CONTROLLED, RESERVATION-TOKEN. */
int rtc_stun_msg_get_u64(const rtc_stun_msg_t *msg, uint16_t type, uint64_t *out);
/* CHANNEL-NUMBER (the number; RFFU bits ignored). */
int rtc_stun_msg_get_channel(const rtc_stun_msg_t *msg, uint16_t *out);
/* REQUESTED-TRANSPORT (protocol number, 17 for UDP). */
int rtc_stun_msg_get_requested_transport(const rtc_stun_msg_t *msg, uint8_t *proto);
/* REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY as RTC_AF_INET4 / RTC_AF_INET6. */
int rtc_stun_msg_get_family(const rtc_stun_msg_t *msg, uint16_t type, uint8_t *family);
/* EVEN-PORT: the R (reserve next port) bit. */
int rtc_stun_msg_get_even_port(const rtc_stun_msg_t *msg, bool *reserve);
/* Text attributes (USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN): copies the value
 * and a NUL into out. Enforces the RFC size limits (USERNAME < 513 bytes; REALM, NONCE,
 * SOFTWARE < 763 bytes) and refuses embedded NULs: RTC_ERR_MALFORMED. RTC_ERR_OVERFLOW if
 * cap is too small. */
int rtc_stun_msg_get_string(const rtc_stun_msg_t *msg, uint16_t type, char *out, size_t cap);
/* ERROR-CODE: code 300..699 and the reason phrase (may be NULL). */
int rtc_stun_msg_get_error(const rtc_stun_msg_t *msg, int *code, char *reason, size_t cap);
/* UNKNOWN-ATTRIBUTES: fills types (up to max) and returns the count, or a negative error. */
int rtc_stun_msg_get_unknown_attributes(const rtc_stun_msg_t *msg, uint16_t *types, size_t max);
/* DATA: pointer into the message and length. */
int rtc_stun_msg_get_data(const rtc_stun_msg_t *msg, const uint8_t **data, size_t *len);

/* ------------------------------------------------------------------------------------------
 * Building messages.
 */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;        /* first error, RTC_OK while all is well */
    uint8_t pad;    /* padding byte, 0 by default (RFC 5769 vectors pad with spaces) */
    bool sealed;    /* FINGERPRINT written: nothing may follow */
    bool has_integrity;
} rtc_stun_builder_t;

/* Starts a message in buf. tid may be NULL for a fresh random transaction ID. */
void rtc_stun_builder_init(rtc_stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method,
                           rtc_stun_class_t cls, const uint8_t tid[RTC_STUN_TID_LEN]);
/* Starts a response (success or error) to req: same method and transaction ID. */
void rtc_stun_builder_init_response(rtc_stun_builder_t *b, uint8_t *buf, size_t cap,
                                    const rtc_stun_msg_t *req, rtc_stun_class_t cls);
/* The transaction ID being built. */
static inline const uint8_t *rtc_stun_builder_tid(const rtc_stun_builder_t *b) { return b->buf + 8; }

/* Appends an attribute with raw value bytes, padded to 4. Attributes may not be added after
 * FINGERPRINT, nor (except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT) after integrity. */
void rtc_stun_add_attr(rtc_stun_builder_t *b, uint16_t type, const void *value, size_t len);
void rtc_stun_add_string(rtc_stun_builder_t *b, uint16_t type, const char *s);
void rtc_stun_add_u32(rtc_stun_builder_t *b, uint16_t type, uint32_t v);
void rtc_stun_add_u64(rtc_stun_builder_t *b, uint16_t type, uint64_t v);
void rtc_stun_add_flag(rtc_stun_builder_t *b, uint16_t type); /* zero-length: USE-CANDIDATE, DONT-FRAGMENT */
void rtc_stun_add_xor_address(rtc_stun_builder_t *b, uint16_t type, const rtc_addr_t *a);
void rtc_stun_add_address(rtc_stun_builder_t *b, uint16_t type, const rtc_addr_t *a);
void rtc_stun_add_error(rtc_stun_builder_t *b, int code, const char *reason /* NULL: standard */);
void rtc_stun_add_unknown_attributes(rtc_stun_builder_t *b, const uint16_t *types, size_t n);
void rtc_stun_add_channel(rtc_stun_builder_t *b, uint16_t channel);
void rtc_stun_add_requested_transport(rtc_stun_builder_t *b, uint8_t proto);
void rtc_stun_add_family(rtc_stun_builder_t *b, uint16_t type, uint8_t family);
void rtc_stun_add_even_port(rtc_stun_builder_t *b, bool reserve);
/* MESSAGE-INTEGRITY (HMAC-SHA1) over everything so far, with the key from
 * rtc_stun_short_term_key / rtc_stun_long_term_key. */
void rtc_stun_add_integrity(rtc_stun_builder_t *b, const uint8_t *key, size_t key_len);
/* MESSAGE-INTEGRITY-SHA256 (full 32-byte HMAC-SHA256). */
void rtc_stun_add_integrity_sha256(rtc_stun_builder_t *b, const uint8_t *key, size_t key_len);
/* FINGERPRINT; seals the message. */
void rtc_stun_add_fingerprint(rtc_stun_builder_t *b);
/* Returns the message length, or the first error (RTC_ERR_OVERFLOW if buf was too small,
 * RTC_ERR_STATE for an attribute after FINGERPRINT, RTC_ERR_INVALID_ARG...). */
int rtc_stun_builder_finish(rtc_stun_builder_t *b);

/* ------------------------------------------------------------------------------------------
 * Credentials and integrity.
 *
 * Keys: short-term (ICE) key = the password; long-term key = MD5(username ":" realm ":"
 * password) or SHA-256 of the same (RFC 8489 §9.2.2). Strings are used as given: the caller
 * applies OpaqueString (RFC 8265) if it accepts non-ASCII; for ASCII input it is the identity.
 */
#define RTC_STUN_KEY_MAX 32

typedef enum {
    RTC_STUN_PASSWORD_MD5 = 1,      /* PASSWORD-ALGORITHM values, RFC 8489 §18.5 */
    RTC_STUN_PASSWORD_SHA256 = 2,
} rtc_stun_password_alg_t;

/* The short-term key is the password itself (ICE passwords are 22..256 characters): copies
 * it into out and returns its length, or RTC_ERR_OVERFLOW if cap is too small. */
int rtc_stun_short_term_key(const char *password, uint8_t *out, size_t cap);
/* Long-term key; returns its length (16 or 32) or a negative error. */
int rtc_stun_long_term_key(rtc_stun_password_alg_t alg, const char *username, const char *realm,
                           const char *password, uint8_t out[RTC_STUN_KEY_MAX]);
/* USERHASH = SHA-256(username ":" realm). */
int rtc_stun_userhash(const char *username, const char *realm, uint8_t out[32]);

/* Verifies MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY.
 * RTC_OK, RTC_ERR_INTEGRITY on mismatch, RTC_ERR_NOT_FOUND if neither is present. */
int rtc_stun_msg_check_integrity(const rtc_stun_msg_t *msg, const uint8_t *key, size_t key_len);
/* Verifies the FINGERPRINT (decode already does; this is for callers holding a message they
 * decoded before). RTC_ERR_NOT_FOUND if absent. */
int rtc_stun_msg_check_fingerprint(const rtc_stun_msg_t *msg);

/* Client-side long-term credential state (RFC 8489 §9.2.4): starts without realm/nonce; the
 * first 401 provides them, a 438 refreshes the nonce. */
typedef struct {
    char username[513];
    char password[257];
    char realm[764];
    char nonce[764];
    uint8_t key[RTC_STUN_KEY_MAX];
    size_t key_len;
    bool ready;        /* realm and nonce known: requests can be authenticated */
} rtc_stun_credentials_t;

void rtc_stun_credentials_init(rtc_stun_credentials_t *c, const char *username, const char *password);
/* Learns from an error response. Returns RTC_OK when the request should be retried with the
 * new realm/nonce (a first 401, or 438), RTC_ERR_AUTH when retrying is pointless (a 401 after
 * we had already authenticated with the same realm and nonce: wrong password), and
 * RTC_ERR_MALFORMED when REALM or NONCE is missing or bad. */
int rtc_stun_credentials_handle_error(rtc_stun_credentials_t *c, const rtc_stun_msg_t *resp);
/* Adds USERNAME, REALM, NONCE and MESSAGE-INTEGRITY when ready; call last before FINGERPRINT. */
void rtc_stun_credentials_sign(const rtc_stun_credentials_t *c, rtc_stun_builder_t *b);

/* Stateless server nonces: the nonce encodes its expiry and a MAC over (expiry, client IP), so
 * a server needs no per-client state before authentication. secret is server-local. */
#define RTC_STUN_NONCE_LEN 32
/* Writes a NUL-terminated nonce of RTC_STUN_NONCE_LEN characters into out. expires_at is wall
 * time in seconds. */
int rtc_stun_nonce_make(const uint8_t *secret, size_t secret_len, const rtc_addr_t *client,
                        int64_t expires_at, char out[RTC_STUN_NONCE_LEN + 1]);
/* RTC_OK if the nonce is ours, for this client and unexpired at now (seconds);
 * RTC_ERR_STALE if ours but expired; RTC_ERR_AUTH if not ours. */
int rtc_stun_nonce_check(const uint8_t *secret, size_t secret_len, const rtc_addr_t *client,
                         const char *nonce, size_t nonce_len, int64_t now);

/* ------------------------------------------------------------------------------------------
 * Transactions (RFC 8489 §6.2): retransmission with RTO doubling over unreliable transports,
 * a single send with a long timeout over reliable ones, and matching responses to requests
 * by transaction ID. Sans-I/O: sends go out through a callback, time comes in as arguments.
 */
typedef struct {
    rtc_time_t rto;       /* initial RTO, default 500 ms */
    unsigned rc;          /* total sends over UDP, default 7 */
    unsigned rm;          /* last wait = rm * rto, default 16 */
    rtc_time_t rto_max;   /* cap on the doubled RTO, 0 = none */
    bool reliable;        /* TCP/TLS: send once, time out after ti */
    rtc_time_t ti;        /* reliable timeout, default 39.5 s */
} rtc_stun_txn_config_t;

void rtc_stun_txn_config_default(rtc_stun_txn_config_t *cfg);

typedef struct rtc_stun_txns rtc_stun_txns_t;

/* Called to put a request (first send or retransmission) on the wire. */
typedef void (*rtc_stun_txn_send_fn)(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest);
/* Called once per transaction when it ends: resp is the matching response (success or error
 * class; integrity not checked) with the address it came from, or NULL with
 * result RTC_ERR_TIMEOUT. rtt is from the first send (RFC 8489 Karn's rule is the caller's
 * business). The transaction is gone when the callback returns; it may start new ones. */
typedef void (*rtc_stun_txn_done_fn)(void *user, void *txn_user, int result,
                                     const rtc_stun_msg_t *resp, const rtc_addr_t *from,
                                     rtc_time_t rtt);

/* cfg may be NULL for defaults. Returns NULL on allocation failure. */
rtc_stun_txns_t *rtc_stun_txns_create(const rtc_stun_txn_config_t *cfg, rtc_stun_txn_send_fn send,
                                      rtc_stun_txn_done_fn done, void *user);
/* Cancels every open transaction without calling done. */
void rtc_stun_txns_destroy(rtc_stun_txns_t *t);
/* Starts a transaction for the encoded request req (copied), sending it at once.
 * cfg_override may be NULL. RTC_ERR_DUPLICATE if its transaction ID is already open. */
int rtc_stun_txns_start(rtc_stun_txns_t *t, const uint8_t *req, size_t len, const rtc_addr_t *dest,
                        void *txn_user, const rtc_stun_txn_config_t *cfg_override, rtc_time_t now);
/* Offers a decoded success/error response. RTC_OK if it matched an open transaction (done
 * called), RTC_ERR_NOT_FOUND otherwise (stray or late: drop it). */
int rtc_stun_txns_handle_response(rtc_stun_txns_t *t, const rtc_stun_msg_t *resp,
                                  const rtc_addr_t *from, rtc_time_t now);
/* The earliest time a retransmission or timeout is due, RTC_TIME_NEVER if idle. */
rtc_time_t rtc_stun_txns_next_timeout(const rtc_stun_txns_t *t);
/* Retransmits and times out whatever is due at now. */
void rtc_stun_txns_handle_timeout(rtc_stun_txns_t *t, rtc_time_t now);
/* Cancels every transaction whose txn_user matches (done not called). Returns how many. */
int rtc_stun_txns_cancel(rtc_stun_txns_t *t, void *txn_user);
size_t rtc_stun_txns_count(const rtc_stun_txns_t *t);

/* ------------------------------------------------------------------------------------------
 * Binding responder (a STUN server's core, also used by ICE-lite and TURN servers).
 */
typedef struct {
    const char *software;     /* SOFTWARE value, NULL for none */
    const uint8_t *key;       /* short-term key to require and sign with, NULL for none */
    size_t key_len;
    bool always_fingerprint;  /* add FINGERPRINT even if the request had none */
} rtc_stun_responder_config_t;

/* Answers one datagram from `from`. Returns the response length written to out, 0 when no
 * answer is due (not STUN, an indication, a response, or a request to drop silently such as
 * one failing FINGERPRINT), or a negative error (RTC_ERR_OVERFLOW for a small out).
 * Binding requests get a success with XOR-MAPPED-ADDRESS (and MAPPED-ADDRESS for RFC 3489-era
 * clients); unknown comprehension-required attributes get 420 + UNKNOWN-ATTRIBUTES; other
 * request methods get 400; with a key configured, missing/wrong integrity gets 400/401. */
int rtc_stun_binding_respond(const rtc_stun_responder_config_t *cfg, const uint8_t *p, size_t n,
                             const rtc_addr_t *from, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------------------------
 * Binding client: asks one server for our mapped address. Sans-I/O over rtc_stun_txns_t.
 */
typedef enum {
    RTC_STUN_BINDING_IDLE,
    RTC_STUN_BINDING_WAITING,
    RTC_STUN_BINDING_DONE,
    RTC_STUN_BINDING_FAILED,
} rtc_stun_binding_state_t;

typedef struct rtc_stun_binding_client rtc_stun_binding_client_t;

/* send: where outgoing datagrams go. cfg NULL = RFC defaults. */
rtc_stun_binding_client_t *rtc_stun_binding_client_create(const rtc_addr_t *server,
                                                          const rtc_stun_txn_config_t *cfg,
                                                          rtc_stun_txn_send_fn send, void *user);
void rtc_stun_binding_client_destroy(rtc_stun_binding_client_t *c);
int rtc_stun_binding_client_start(rtc_stun_binding_client_t *c, rtc_time_t now);
/* Feeds a received datagram. RTC_OK if it was the answer, RTC_ERR_NOT_FOUND if not ours. */
int rtc_stun_binding_client_handle(rtc_stun_binding_client_t *c, const uint8_t *p, size_t n,
                                   const rtc_addr_t *from, rtc_time_t now);
rtc_time_t rtc_stun_binding_client_next_timeout(const rtc_stun_binding_client_t *c);
void rtc_stun_binding_client_handle_timeout(rtc_stun_binding_client_t *c, rtc_time_t now);
rtc_stun_binding_state_t rtc_stun_binding_client_state(const rtc_stun_binding_client_t *c);
/* Valid in DONE: the mapped address, the server's SOFTWARE (may be empty), the RTT. */
const rtc_addr_t *rtc_stun_binding_client_mapped(const rtc_stun_binding_client_t *c);
const char *rtc_stun_binding_client_software(const rtc_stun_binding_client_t *c);
rtc_time_t rtc_stun_binding_client_rtt(const rtc_stun_binding_client_t *c);
/* Valid in FAILED: RTC_ERR_TIMEOUT, or RTC_ERR_PROTOCOL with the server's error code. */
int rtc_stun_binding_client_error(const rtc_stun_binding_client_t *c, int *stun_code);

#ifdef __cplusplus
}
#endif
#endif /* RTC_STUN_H */
