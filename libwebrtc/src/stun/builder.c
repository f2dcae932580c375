/* STUN message encoding into a caller-provided buffer. The header's length field is kept
 * current after every attribute, because MESSAGE-INTEGRITY and FINGERPRINT are computed over
 * the message as it stands when they are added. */
#include "rtc/stun.h"

#include "stun/stun_internal.h"

static void set_length(rtc_stun_builder_t *b) {
    rtc_put_be16(b->buf + 2, (uint16_t)(b->len - RTC_STUN_HEADER_LEN));
}

void rtc_stun_builder_init(rtc_stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method,
                           rtc_stun_class_t cls, const uint8_t tid[RTC_STUN_TID_LEN]) {
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = cap;
    if (!buf || cap < RTC_STUN_HEADER_LEN) { b->err = RTC_ERR_OVERFLOW; return; }
    if (method > 0x0FFF) { b->err = RTC_ERR_INVALID_ARG; return; }
    rtc_put_be16(buf, stun_type_make(method, cls));
    rtc_put_be16(buf + 2, 0);
    rtc_put_be32(buf + 4, RTC_STUN_MAGIC_COOKIE);
    if (tid) memcpy(buf + 8, tid, RTC_STUN_TID_LEN);
    else if (rtc_random_bytes(buf + 8, RTC_STUN_TID_LEN)) b->err = RTC_ERR_CRYPTO;
    b->len = RTC_STUN_HEADER_LEN;
}

void rtc_stun_builder_init_response(rtc_stun_builder_t *b, uint8_t *buf, size_t cap,
                                    const rtc_stun_msg_t *req, rtc_stun_class_t cls) {
    rtc_stun_builder_init(b, buf, cap, req->method, cls, req->tid);
}

/* Reserves room for an attribute of value length len and writes its header; returns the
 * value pointer, or NULL with b->err set. */
static uint8_t *begin_attr(rtc_stun_builder_t *b, uint16_t type, size_t len) {
    if (b->err) return NULL;
    if (b->sealed) { b->err = RTC_ERR_STATE; return NULL; }
    if (b->has_integrity && type != RTC_STUN_ATTR_FINGERPRINT &&
        type != RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
        b->err = RTC_ERR_STATE;
        return NULL;
    }
    if (len > 0xFFFF) { b->err = RTC_ERR_INVALID_ARG; return NULL; }
    size_t padded = (len + 3) & ~(size_t)3;
    if (b->cap - b->len < 4 + padded || b->len + 4 + padded > RTC_STUN_MAX_MESSAGE) {
        b->err = RTC_ERR_OVERFLOW;
        return NULL;
    }
    uint8_t *h = b->buf + b->len;
    rtc_put_be16(h, type);
    rtc_put_be16(h + 2, (uint16_t)len);
    if (padded > len) memset(h + 4 + len, b->pad, padded - len);
    b->len += 4 + padded;
    set_length(b);
    return h + 4;
}

void rtc_stun_add_attr(rtc_stun_builder_t *b, uint16_t type, const void *value, size_t len) {
    if (len && !value) { if (!b->err) b->err = RTC_ERR_INVALID_ARG; return; }
    uint8_t *v = begin_attr(b, type, len);
    if (v && len) memcpy(v, value, len);
}

void rtc_stun_add_string(rtc_stun_builder_t *b, uint16_t type, const char *s) {
    if (!s) { if (!b->err) b->err = RTC_ERR_INVALID_ARG; return; }
    rtc_stun_add_attr(b, type, s, strlen(s));
}

void rtc_stun_add_u32(rtc_stun_builder_t *b, uint16_t type, uint32_t v) {
    uint8_t *p = begin_attr(b, type, 4);
    if (p) rtc_put_be32(p, v);
}

void rtc_stun_add_u64(rtc_stun_builder_t *b, uint16_t type, uint64_t v) {
    uint8_t *p = begin_attr(b, type, 8);
    if (p) rtc_put_be64(p, v);
}

void rtc_stun_add_flag(rtc_stun_builder_t *b, uint16_t type) { begin_attr(b, type, 0); }

static void add_address(rtc_stun_builder_t *b, uint16_t type, const rtc_addr_t *a, bool xor) {
    size_t iplen = rtc_addr_ip_len(a);
    if (!iplen) { if (!b->err) b->err = RTC_ERR_ADDR; return; }
    uint8_t *v = begin_attr(b, type, 4 + iplen);
    if (!v) return;
    uint8_t mask[16];
    rtc_put_be32(mask, RTC_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, b->buf + 8, RTC_STUN_TID_LEN);
    v[0] = 0;
    v[1] = iplen == 4 ? 0x01 : 0x02;
    rtc_put_be16(v + 2, xor ? (uint16_t)(a->port ^ (RTC_STUN_MAGIC_COOKIE >> 16)) : a->port);
    for (size_t i = 0; i < iplen; i++) v[4 + i] = (uint8_t)(a->ip[i] ^ (xor ? mask[i] : 0));
}

void rtc_stun_add_xor_address(rtc_stun_builder_t *b, uint16_t type, const rtc_addr_t *a) {
    add_address(b, type, a, true);
}

void rtc_stun_add_address(rtc_stun_builder_t *b, uint16_t type, const rtc_addr_t *a) {
    add_address(b, type, a, false);
}

void rtc_stun_add_error(rtc_stun_builder_t *b, int code, const char *reason) {
    if (code < 300 || code > 699) { if (!b->err) b->err = RTC_ERR_INVALID_ARG; return; }
    if (!reason) reason = rtc_stun_error_reason(code);
    size_t rl = strlen(reason);
    if (rl > 763) rl = 763;
    uint8_t *v = begin_attr(b, RTC_STUN_ATTR_ERROR_CODE, 4 + rl);
    if (!v) return;
    v[0] = 0;
    v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rl);
}

void rtc_stun_add_unknown_attributes(rtc_stun_builder_t *b, const uint16_t *types, size_t n) {
    uint8_t *v = begin_attr(b, RTC_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
    for (size_t i = 0; v && i < n; i++) rtc_put_be16(v + 2 * i, types[i]);
}

void rtc_stun_add_channel(rtc_stun_builder_t *b, uint16_t channel) {
    rtc_stun_add_u32(b, RTC_STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
}

void rtc_stun_add_requested_transport(rtc_stun_builder_t *b, uint8_t proto) {
    rtc_stun_add_u32(b, RTC_STUN_ATTR_REQUESTED_TRANSPORT, (uint32_t)proto << 24);
}

void rtc_stun_add_family(rtc_stun_builder_t *b, uint16_t type, uint8_t family) {
    uint8_t code = family == RTC_AF_INET4 ? 0x01 : family == RTC_AF_INET6 ? 0x02 : 0;
    if (!code) { if (!b->err) b->err = RTC_ERR_INVALID_ARG; return; }
    rtc_stun_add_u32(b, type, (uint32_t)code << 24);
}

void rtc_stun_add_even_port(rtc_stun_builder_t *b, bool reserve) {
    uint8_t v = reserve ? 0x80 : 0x00;
    rtc_stun_add_attr(b, RTC_STUN_ATTR_EVEN_PORT, &v, 1);
}

static void add_mac(rtc_stun_builder_t *b, uint16_t type, rtc_digest_t alg, size_t maclen,
                    const uint8_t *key, size_t key_len) {
    if (b->err) return;
    if (!key && key_len) { b->err = RTC_ERR_INVALID_ARG; return; }
    size_t covered = b->len;
    uint8_t *v = begin_attr(b, type, maclen);
    if (!v) return;
    /* The header length now counts this attribute, as the MAC requires (RFC 8489 §14.5). */
    uint8_t mac[RTC_DIGEST_MAX_LEN];
    rtc_iov_t part = {b->buf, covered};
    if (rtc_hmac(alg, key, key_len, &part, 1, mac) < 0) { b->err = RTC_ERR_CRYPTO; return; }
    memcpy(v, mac, maclen);
    b->has_integrity = true;
}

void rtc_stun_add_integrity(rtc_stun_builder_t *b, const uint8_t *key, size_t key_len) {
    add_mac(b, RTC_STUN_ATTR_MESSAGE_INTEGRITY, RTC_DIGEST_SHA1, RTC_SHA1_LEN, key, key_len);
}

void rtc_stun_add_integrity_sha256(rtc_stun_builder_t *b, const uint8_t *key, size_t key_len) {
    add_mac(b, RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, RTC_DIGEST_SHA256, RTC_SHA256_LEN, key, key_len);
}

void rtc_stun_add_fingerprint(rtc_stun_builder_t *b) {
    if (b->err) return;
    size_t covered = b->len;
    uint8_t *v = begin_attr(b, RTC_STUN_ATTR_FINGERPRINT, 4);
    if (!v) return;
    rtc_put_be32(v, rtc_crc32(0, b->buf, covered) ^ RTC_STUN_FINGERPRINT_XOR);
    b->sealed = true;
}

int rtc_stun_builder_finish(rtc_stun_builder_t *b) {
    return b->err ? b->err : (int)b->len;
}
