/*
 * rtc/base.h — the base layer every other layer of libwebrtc stands on.
 *
 * Error codes, logging through a callback, a replaceable monotonic clock, secure random,
 * bounds-checked byte readers/writers, network byte order, CRC-32/CRC-32C, digests and
 * HMAC, base64, and a compact socket-address value type.
 *
 * Nothing here does network I/O. The only globals are the log callback, the clock source
 * and the random source, each replaceable so tests can make runs deterministic.
 */
#ifndef RTC_BASE_H
#define RTC_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Errors. Every fallible function returns 0 (RTC_OK) or a negative rtc_err_t; functions that
 * return a count return it as a non-negative int. New codes go at the end of the list and get
 * a message in base/error.c.
 */
typedef enum {
    RTC_OK = 0,
    RTC_ERR_INVALID_ARG = -1,   /* caller passed something impossible (NULL, bad enum) */
    RTC_ERR_NOMEM = -2,         /* allocation failed */
    RTC_ERR_TRUNCATED = -3,     /* input shorter than a header or declared length needs */
    RTC_ERR_OVERFLOW = -4,      /* output buffer too small, or a value out of range */
    RTC_ERR_MALFORMED = -5,     /* input violates the format */
    RTC_ERR_UNSUPPORTED = -6,   /* valid but not implemented/allowed here */
    RTC_ERR_NOT_FOUND = -7,     /* looked-up item absent */
    RTC_ERR_INTEGRITY = -8,     /* MESSAGE-INTEGRITY / auth tag mismatch */
    RTC_ERR_FINGERPRINT = -9,   /* FINGERPRINT / checksum mismatch */
    RTC_ERR_UNKNOWN_ATTR = -10, /* unknown comprehension-required attribute */
    RTC_ERR_DUPLICATE = -11,    /* an item that may appear once appeared twice */
    RTC_ERR_TIMEOUT = -12,      /* a transaction or timer ran out */
    RTC_ERR_STATE = -13,        /* call not valid in the object's current state */
    RTC_ERR_IO = -14,           /* system call failed; errno has detail */
    RTC_ERR_CRYPTO = -15,       /* OpenSSL/libsrtp failure */
    RTC_ERR_AUTH = -16,         /* credentials missing or wrong */
    RTC_ERR_LIMIT = -17,        /* a quota or configured limit reached */
    RTC_ERR_CLOSED = -18,       /* object closed / peer closed */
    RTC_ERR_AGAIN = -19,        /* nothing available now; try later */
    RTC_ERR_DENIED = -20,       /* forbidden by policy */
    RTC_ERR_REPLAY = -21,       /* replayed packet */
    RTC_ERR_ADDR = -22,         /* address unparsable or of the wrong family */
    RTC_ERR_PROTOCOL = -23,     /* peer broke the protocol (unexpected message) */
    RTC_ERR_STALE = -24,        /* stale nonce / expired credential */
    RTC_ERR_CONFLICT = -25,     /* role conflict or similar negotiated conflict */
    RTC_ERR_FAILED = -26,       /* operation failed for a reason logged at the decision */
} rtc_err_t;

/* A static English message for an error code; never NULL, "unknown error" if out of range. */
const char *rtc_strerror(int err);

/* ------------------------------------------------------------------------------------------
 * Logging. The library never writes to stdout/stderr by itself except through the default
 * callback, which prints one JSON object per line to stderr. Services install their own.
 */
typedef enum {
    RTC_LOG_TRACE = 0,
    RTC_LOG_DEBUG = 1,
    RTC_LOG_INFO = 2,
    RTC_LOG_WARN = 3,
    RTC_LOG_ERROR = 4,
    RTC_LOG_OFF = 5,
} rtc_log_level_t;

/* module: short layer name ("stun", "ice"...); msg: formatted text, not JSON-escaped. */
typedef void (*rtc_log_fn)(rtc_log_level_t level, const char *module, const char *msg,
                           void *user);

/* Installs the callback (NULL restores the default JSON-to-stderr one). Not thread-safe:
 * call at start-up, before other threads log. */
void rtc_log_set_callback(rtc_log_fn fn, void *user);
void rtc_log_set_level(rtc_log_level_t min_level);
rtc_log_level_t rtc_log_get_level(void);
/* "trace","debug","info","warn","error","off" */
const char *rtc_log_level_name(rtc_log_level_t level);
/* Parses a level name; returns RTC_ERR_INVALID_ARG for an unknown name. */
int rtc_log_level_parse(const char *name, rtc_log_level_t *out);

void rtc_log(rtc_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rtc_logv(rtc_log_level_t level, const char *module, const char *fmt, va_list ap);

#define RTC_LOG_ENABLED(lvl) ((lvl) >= rtc_log_get_level())
#define RTC_LOGT(mod, ...) do { if (RTC_LOG_ENABLED(RTC_LOG_TRACE)) rtc_log(RTC_LOG_TRACE, mod, __VA_ARGS__); } while (0)
#define RTC_LOGD(mod, ...) do { if (RTC_LOG_ENABLED(RTC_LOG_DEBUG)) rtc_log(RTC_LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define RTC_LOGI(mod, ...) rtc_log(RTC_LOG_INFO, mod, __VA_ARGS__)
#define RTC_LOGW(mod, ...) rtc_log(RTC_LOG_WARN, mod, __VA_ARGS__)
#define RTC_LOGE(mod, ...) rtc_log(RTC_LOG_ERROR, mod, __VA_ARGS__)

/* Writes s JSON-escaped (without quotes) into out; always NUL-terminates when cap > 0.
 * Returns the number of bytes written, truncating at a character boundary if needed. */
size_t rtc_json_escape(char *out, size_t cap, const char *s);

/* ------------------------------------------------------------------------------------------
 * Time. rtc_time_t is microseconds on a monotonic clock with an arbitrary origin. Sans-I/O
 * objects never read the clock themselves: callers pass "now" in. The runtime reads it here.
 */
typedef int64_t rtc_time_t;
#define RTC_US_PER_MS 1000LL
#define RTC_US_PER_SEC 1000000LL
#define RTC_MS(x) ((rtc_time_t)(x) * RTC_US_PER_MS)
#define RTC_SEC(x) ((rtc_time_t)(x) * RTC_US_PER_SEC)
#define RTC_TIME_NEVER INT64_MAX

typedef rtc_time_t (*rtc_clock_fn)(void *user);
/* Replace the clock (tests install a fake one); NULL restores CLOCK_MONOTONIC. */
void rtc_clock_set_source(rtc_clock_fn fn, void *user);
rtc_time_t rtc_clock_now(void);
/* Wall-clock time in microseconds since the Unix epoch (for NTP timestamps, expiry). */
int64_t rtc_clock_wall_us(void);

/* ------------------------------------------------------------------------------------------
 * Random. Cryptographically secure by default (OpenSSL RAND_bytes). Tests may install a
 * deterministic source; never do that in production code.
 */
typedef int (*rtc_random_fn)(uint8_t *buf, size_t n, void *user);
void rtc_random_set_source(rtc_random_fn fn, void *user);
/* Fills buf; returns RTC_OK or RTC_ERR_CRYPTO. */
int rtc_random_bytes(uint8_t *buf, size_t n);
uint32_t rtc_random_u32(void);
uint64_t rtc_random_u64(void);
/* Uniform in [0, bound) without modulo bias; bound 0 returns 0. */
uint32_t rtc_random_uniform(uint32_t bound);
/* Fills out with n random characters from the ICE-char set [A-Za-z0-9+/] and a NUL. */
int rtc_random_ice_string(char *out, size_t n);

/* ------------------------------------------------------------------------------------------
 * Network byte order. Unaligned-safe loads and stores.
 */
static inline uint16_t rtc_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rtc_be24(const uint8_t *p) {
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t rtc_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rtc_be64(const uint8_t *p) {
    return ((uint64_t)rtc_be32(p) << 32) | rtc_be32(p + 4);
}
static inline void rtc_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void rtc_put_be24(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v;
}
static inline void rtc_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void rtc_put_be64(uint8_t *p, uint64_t v) {
    rtc_put_be32(p, (uint32_t)(v >> 32)); rtc_put_be32(p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------------------------------------
 * Readers and writers. A reader never reads past its end: once a read fails, `err` is set,
 * every later read returns zeros, and the caller checks `err` once at the end.
 */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool err;
} rtc_reader_t;

static inline void rtc_reader_init(rtc_reader_t *r, const uint8_t *p, size_t len) {
    r->p = p; r->len = len; r->pos = 0; r->err = false;
}
static inline size_t rtc_reader_left(const rtc_reader_t *r) { return r->err ? 0 : r->len - r->pos; }
static inline bool rtc_reader_need(rtc_reader_t *r, size_t n) {
    if (r->err || r->len - r->pos < n) { r->err = true; return false; }
    return true;
}
static inline uint8_t rtc_reader_u8(rtc_reader_t *r) {
    return rtc_reader_need(r, 1) ? r->p[r->pos++] : 0;
}
static inline uint16_t rtc_reader_u16(rtc_reader_t *r) {
    if (!rtc_reader_need(r, 2)) return 0;
    uint16_t v = rtc_be16(r->p + r->pos); r->pos += 2; return v;
}
static inline uint32_t rtc_reader_u24(rtc_reader_t *r) {
    if (!rtc_reader_need(r, 3)) return 0;
    uint32_t v = rtc_be24(r->p + r->pos); r->pos += 3; return v;
}
static inline uint32_t rtc_reader_u32(rtc_reader_t *r) {
    if (!rtc_reader_need(r, 4)) return 0;
    uint32_t v = rtc_be32(r->p + r->pos); r->pos += 4; return v;
}
static inline uint64_t rtc_reader_u64(rtc_reader_t *r) {
    if (!rtc_reader_need(r, 8)) return 0;
    uint64_t v = rtc_be64(r->p + r->pos); r->pos += 8; return v;
}
/* Returns a pointer to the next n bytes and advances, or NULL (and err) if fewer remain. */
static inline const uint8_t *rtc_reader_bytes(rtc_reader_t *r, size_t n) {
    if (!rtc_reader_need(r, n)) return NULL;
    const uint8_t *p = r->p + r->pos; r->pos += n; return p;
}
static inline bool rtc_reader_skip(rtc_reader_t *r, size_t n) { return rtc_reader_bytes(r, n) != NULL || n == 0; }
static inline bool rtc_reader_copy(rtc_reader_t *r, void *dst, size_t n) {
    const uint8_t *p = rtc_reader_bytes(r, n);
    if (p && n) memcpy(dst, p, n);
    return p != NULL;
}

/* A writer into a caller-owned buffer. Like the reader, a failed write sets `err` and the
 * writer stops writing; `len` is the number of bytes written so far. */
typedef struct {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool err;
} rtc_writer_t;

static inline void rtc_writer_init(rtc_writer_t *w, uint8_t *p, size_t cap) {
    w->p = p; w->cap = cap; w->len = 0; w->err = false;
}
static inline uint8_t *rtc_writer_reserve(rtc_writer_t *w, size_t n) {
    if (w->err || w->cap - w->len < n) { w->err = true; return NULL; }
    uint8_t *p = w->p + w->len; w->len += n; return p;
}
static inline void rtc_writer_u8(rtc_writer_t *w, uint8_t v) {
    uint8_t *p = rtc_writer_reserve(w, 1); if (p) p[0] = v;
}
static inline void rtc_writer_u16(rtc_writer_t *w, uint16_t v) {
    uint8_t *p = rtc_writer_reserve(w, 2); if (p) rtc_put_be16(p, v);
}
static inline void rtc_writer_u24(rtc_writer_t *w, uint32_t v) {
    uint8_t *p = rtc_writer_reserve(w, 3); if (p) rtc_put_be24(p, v);
}
static inline void rtc_writer_u32(rtc_writer_t *w, uint32_t v) {
    uint8_t *p = rtc_writer_reserve(w, 4); if (p) rtc_put_be32(p, v);
}
static inline void rtc_writer_u64(rtc_writer_t *w, uint64_t v) {
    uint8_t *p = rtc_writer_reserve(w, 8); if (p) rtc_put_be64(p, v);
}
static inline void rtc_writer_bytes(rtc_writer_t *w, const void *src, size_t n) {
    uint8_t *p = rtc_writer_reserve(w, n); if (p && n) memcpy(p, src, n);
}
static inline void rtc_writer_zeros(rtc_writer_t *w, size_t n) {
    uint8_t *p = rtc_writer_reserve(w, n); if (p && n) memset(p, 0, n);
}

/* A growable heap buffer, for building messages whose size is not known up front. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} rtc_buf_t;

void rtc_buf_init(rtc_buf_t *b);
void rtc_buf_free(rtc_buf_t *b);
/* Ensures room for `extra` more bytes; returns RTC_OK or RTC_ERR_NOMEM (buffer unchanged). */
int rtc_buf_reserve(rtc_buf_t *b, size_t extra);
int rtc_buf_append(rtc_buf_t *b, const void *p, size_t n);
int rtc_buf_appendf(rtc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Keeps data NUL-terminated beyond len so it can be used as a C string. */
int rtc_buf_append_str(rtc_buf_t *b, const char *s);
void rtc_buf_clear(rtc_buf_t *b);

/* ------------------------------------------------------------------------------------------
 * Checksums, digests, MACs.
 */
/* CRC-32 (ISO-HDLC, as FINGERPRINT uses before its XOR). crc starts at 0 for a new run and
 * can be chained: rtc_crc32(rtc_crc32(0, a, n), b, m) == crc of a||b. */
uint32_t rtc_crc32(uint32_t crc, const uint8_t *p, size_t n);
/* CRC-32C (Castagnoli, as SCTP uses). Same chaining convention. */
uint32_t rtc_crc32c(uint32_t crc, const uint8_t *p, size_t n);

typedef enum { RTC_DIGEST_MD5, RTC_DIGEST_SHA1, RTC_DIGEST_SHA256, RTC_DIGEST_SHA384, RTC_DIGEST_SHA512 } rtc_digest_t;
#define RTC_MD5_LEN 16
#define RTC_SHA1_LEN 20
#define RTC_SHA256_LEN 32
#define RTC_DIGEST_MAX_LEN 64

/* A piece of a scattered input. */
typedef struct {
    const void *p;
    size_t n;
} rtc_iov_t;

/* Digest length in bytes, or 0 for an unknown algorithm. */
size_t rtc_digest_len(rtc_digest_t alg);
/* Hashes the concatenation of parts into out (at least rtc_digest_len bytes).
 * Returns the digest length or a negative rtc_err_t. */
int rtc_digest(rtc_digest_t alg, const rtc_iov_t *parts, size_t nparts, uint8_t *out);
/* HMAC over the concatenation of parts. Returns the MAC length or a negative rtc_err_t. */
int rtc_hmac(rtc_digest_t alg, const void *key, size_t key_len, const rtc_iov_t *parts,
             size_t nparts, uint8_t *out);
/* Convenience one-part forms. */
int rtc_hmac_sha1(const void *key, size_t key_len, const void *p, size_t n, uint8_t out[RTC_SHA1_LEN]);
int rtc_hmac_sha256(const void *key, size_t key_len, const void *p, size_t n, uint8_t out[RTC_SHA256_LEN]);
/* Constant-time comparison; returns true when equal. */
bool rtc_ct_equal(const void *a, const void *b, size_t n);

/* ------------------------------------------------------------------------------------------
 * Base64 (RFC 4648, standard alphabet with padding) and hex.
 */
/* Size needed for the encoding of n bytes including the NUL. */
#define RTC_BASE64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
/* Encodes; returns the length written (without NUL) or RTC_ERR_OVERFLOW. */
int rtc_base64_encode(const uint8_t *p, size_t n, char *out, size_t cap);
/* Decodes a padded or unpadded string; whitespace is not allowed. Returns the decoded length,
 * RTC_ERR_MALFORMED on a bad character or length, RTC_ERR_OVERFLOW if cap is too small. */
int rtc_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap);
/* Lower-case hex; sep (e.g. ':') between bytes when non-zero, upper-case when upper is true
 * (SDP fingerprints use "AB:CD:..."). Returns length written or RTC_ERR_OVERFLOW. */
int rtc_hex_encode(const uint8_t *p, size_t n, char sep, bool upper, char *out, size_t cap);
/* Accepts upper or lower case and an optional single-character separator between bytes. */
int rtc_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------------------------
 * Socket addresses: a small value type for IPv4 and IPv6 with a port, cheap to copy, hash
 * and compare. IPv4 addresses are stored in the first 4 bytes of `ip`, the rest zero, so that
 * memcmp-based equality works.
 */
#define RTC_AF_UNSPEC 0
#define RTC_AF_INET4 4
#define RTC_AF_INET6 6

typedef struct {
    uint8_t family;     /* RTC_AF_INET4 / RTC_AF_INET6 / RTC_AF_UNSPEC */
    uint8_t _pad;
    uint16_t port;      /* host byte order */
    uint32_t scope_id;  /* IPv6 link-local scope; 0 otherwise */
    uint8_t ip[16];
} rtc_addr_t;

/* Longest string rtc_addr_format can produce, with the NUL ("[v6%scope]:65535"). */
#define RTC_ADDR_STRLEN 64

struct sockaddr;
/* Builds from a struct sockaddr (AF_INET / AF_INET6). IPv4-mapped IPv6 stays IPv6:
 * use rtc_addr_unmap to canonicalise. Returns RTC_ERR_ADDR for other families. */
int rtc_addr_from_sockaddr(rtc_addr_t *a, const struct sockaddr *sa, size_t salen);
/* Fills a sockaddr_storage-sized buffer; returns the socklen or a negative error. */
int rtc_addr_to_sockaddr(const rtc_addr_t *a, void *ss, size_t cap);
/* Parses "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5", "fe80::1%eth0"/"%2". A missing port
 * gives default_port. Returns RTC_ERR_ADDR on anything else. No DNS. */
int rtc_addr_parse(rtc_addr_t *a, const char *s, uint16_t default_port);
/* Parses only the IP part (no port), e.g. from an SDP candidate line. */
int rtc_addr_parse_ip(rtc_addr_t *a, const char *s, uint16_t port);
/* "1.2.3.4:5" / "[::1]:5"; returns length or RTC_ERR_OVERFLOW. */
int rtc_addr_format(const rtc_addr_t *a, char *out, size_t cap);
/* The IP alone: "1.2.3.4" / "::1". */
int rtc_addr_format_ip(const rtc_addr_t *a, char *out, size_t cap);
/* For log lines: formats into a thread-local rotating buffer; do not keep the pointer. */
const char *rtc_addr_str(const rtc_addr_t *a);
bool rtc_addr_equal(const rtc_addr_t *a, const rtc_addr_t *b);      /* family, ip, port */
bool rtc_addr_equal_ip(const rtc_addr_t *a, const rtc_addr_t *b);   /* family and ip */
/* Total order (family, ip, port), for sorting. */
int rtc_addr_compare(const rtc_addr_t *a, const rtc_addr_t *b);
uint32_t rtc_addr_hash(const rtc_addr_t *a);
size_t rtc_addr_ip_len(const rtc_addr_t *a); /* 4, 16 or 0 */
bool rtc_addr_is_loopback(const rtc_addr_t *a);
bool rtc_addr_is_any(const rtc_addr_t *a);
bool rtc_addr_is_link_local(const rtc_addr_t *a);
bool rtc_addr_is_private(const rtc_addr_t *a); /* RFC 1918, fc00::/7 */
/* If a is IPv4-mapped (::ffff:a.b.c.d) turns it into plain IPv4; returns true if changed. */
bool rtc_addr_unmap(rtc_addr_t *a);
/* Sets an IPv4 address from four octets in network order and a port. */
void rtc_addr_set_v4(rtc_addr_t *a, const uint8_t ip[4], uint16_t port);
void rtc_addr_set_v6(rtc_addr_t *a, const uint8_t ip[16], uint16_t port);
/* Is `a` inside prefix/bits (same family)? */
bool rtc_addr_in_prefix(const rtc_addr_t *a, const rtc_addr_t *prefix, unsigned bits);
/* Parses "10.0.0.0/8", "fc00::/7" or a bare address (full-length prefix). */
int rtc_addr_parse_cidr(const char *s, rtc_addr_t *prefix, unsigned *bits);

#ifdef __cplusplus
}
#endif
#endif /* RTC_BASE_H */
