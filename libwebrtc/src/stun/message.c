/* STUN message decoding (RFC 8489 §5, §14) and typed attribute getters.
 * Zero-copy and allocation-free: the decoded message points into the caller's buffer. */
#include "rtc/stun.h"

#include "stun/stun_internal.h"

bool rtc_stun_is_message(const uint8_t *p, size_t n) {
    return n >= RTC_STUN_HEADER_LEN && (p[0] & 0xC0) == 0 && rtc_be32(p + 4) == RTC_STUN_MAGIC_COOKIE &&
           (rtc_be16(p + 2) & 3) == 0;
}

int rtc_stun_frame_length(const uint8_t *p, size_t n) {
    if (n < 4) return RTC_ERR_AGAIN;
    if ((p[0] & 0xC0) != 0) return RTC_ERR_MALFORMED;
    uint16_t len = rtc_be16(p + 2);
    if (len & 3) return RTC_ERR_MALFORMED;
    return RTC_STUN_HEADER_LEN + len;
}

bool rtc_stun_attr_is_known(uint16_t type) {
    switch (type) {
    case RTC_STUN_ATTR_MAPPED_ADDRESS: case RTC_STUN_ATTR_CHANGE_REQUEST:
    case RTC_STUN_ATTR_USERNAME: case RTC_STUN_ATTR_MESSAGE_INTEGRITY:
    case RTC_STUN_ATTR_ERROR_CODE: case RTC_STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case RTC_STUN_ATTR_CHANNEL_NUMBER: case RTC_STUN_ATTR_LIFETIME:
    case RTC_STUN_ATTR_XOR_PEER_ADDRESS: case RTC_STUN_ATTR_DATA:
    case RTC_STUN_ATTR_REALM: case RTC_STUN_ATTR_NONCE:
    case RTC_STUN_ATTR_XOR_RELAYED_ADDRESS: case RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
    case RTC_STUN_ATTR_EVEN_PORT: case RTC_STUN_ATTR_REQUESTED_TRANSPORT:
    case RTC_STUN_ATTR_DONT_FRAGMENT: case RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
    case RTC_STUN_ATTR_PASSWORD_ALGORITHM: case RTC_STUN_ATTR_USERHASH:
    case RTC_STUN_ATTR_XOR_MAPPED_ADDRESS: case RTC_STUN_ATTR_RESERVATION_TOKEN:
    case RTC_STUN_ATTR_PRIORITY: case RTC_STUN_ATTR_USE_CANDIDATE:
    case RTC_STUN_ATTR_PADDING: case RTC_STUN_ATTR_RESPONSE_PORT:
    case RTC_STUN_ATTR_CONNECTION_ID:
    case RTC_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY: case RTC_STUN_ATTR_ADDRESS_ERROR_CODE:
    case RTC_STUN_ATTR_PASSWORD_ALGORITHMS: case RTC_STUN_ATTR_ALTERNATE_DOMAIN:
    case RTC_STUN_ATTR_ICMP: case RTC_STUN_ATTR_SOFTWARE:
    case RTC_STUN_ATTR_ALTERNATE_SERVER: case RTC_STUN_ATTR_FINGERPRINT:
    case RTC_STUN_ATTR_ICE_CONTROLLED: case RTC_STUN_ATTR_ICE_CONTROLLING:
    case RTC_STUN_ATTR_RESPONSE_ORIGIN: case RTC_STUN_ATTR_OTHER_ADDRESS:
    case RTC_STUN_ATTR_GOOG_NETWORK_INFO:
        return true;
    default:
        return false;
    }
}

/* Comprehension-required attributes that may legitimately repeat: XOR-PEER-ADDRESS in
 * CreatePermission, XOR-RELAYED-ADDRESS in the answer to a dual-stack Allocate (RFC 8656 §7.3). */
static bool may_repeat(uint16_t type) {
    return type == RTC_STUN_ATTR_XOR_PEER_ADDRESS || type == RTC_STUN_ATTR_XOR_RELAYED_ADDRESS ||
           !rtc_stun_attr_is_comprehension_required(type) ||
           !rtc_stun_attr_is_known(type);
}

int rtc_stun_msg_decode(rtc_stun_msg_t *msg, const uint8_t *p, size_t n) {
    if (!msg || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (n < RTC_STUN_HEADER_LEN) return RTC_ERR_TRUNCATED;
    if ((p[0] & 0xC0) != 0 || rtc_be32(p + 4) != RTC_STUN_MAGIC_COOKIE) return RTC_ERR_MALFORMED;
    size_t body = rtc_be16(p + 2);
    if (body & 3) return RTC_ERR_MALFORMED;
    if (RTC_STUN_HEADER_LEN + body > n) return RTC_ERR_TRUNCATED;
    if (RTC_STUN_HEADER_LEN + body < n) return RTC_ERR_MALFORMED; /* trailing bytes */

    uint16_t type = rtc_be16(p);
    msg->method = stun_type_method(type);
    msg->cls = stun_type_class(type);
    memcpy(msg->tid, p + 8, RTC_STUN_TID_LEN);
    msg->raw = p;
    msg->raw_len = n;
    msg->n_attrs = 0;
    msg->n_unknown = 0;
    msg->integrity = msg->integrity_sha256 = msg->fingerprint = -1;

    size_t pos = RTC_STUN_HEADER_LEN;
    while (pos < n) {
        if (n - pos < 4) return RTC_ERR_TRUNCATED;
        uint16_t at = rtc_be16(p + pos);
        uint16_t alen = rtc_be16(p + pos + 2);
        size_t padded = ((size_t)alen + 3) & ~(size_t)3;
        if (n - pos - 4 < padded) return RTC_ERR_TRUNCATED;

        /* Order rules (RFC 8489 §14.5-14.7). */
        if (msg->fingerprint >= 0) return RTC_ERR_MALFORMED;
        if (msg->integrity_sha256 >= 0 && at != RTC_STUN_ATTR_FINGERPRINT) return RTC_ERR_MALFORMED;
        if (msg->integrity >= 0 && at != RTC_STUN_ATTR_FINGERPRINT &&
            at != RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
            return RTC_ERR_MALFORMED;

        if (!may_repeat(at)) {
            for (size_t i = 0; i < msg->n_attrs; i++)
                if (msg->attrs[i].type == at) return RTC_ERR_DUPLICATE;
        }
        if (msg->n_attrs >= RTC_STUN_MAX_ATTRS) return RTC_ERR_LIMIT;

        int idx = (int)msg->n_attrs;
        msg->attrs[msg->n_attrs++] = (rtc_stun_attr_t){.type = at, .len = alen, .offset = (uint32_t)(pos + 4)};
        switch (at) {
        case RTC_STUN_ATTR_MESSAGE_INTEGRITY:
            if (alen != RTC_SHA1_LEN) return RTC_ERR_MALFORMED;
            msg->integrity = idx;
            break;
        case RTC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
            if (alen < 16 || alen > 32 || (alen & 3)) return RTC_ERR_MALFORMED;
            msg->integrity_sha256 = idx;
            break;
        case RTC_STUN_ATTR_FINGERPRINT:
            if (alen != 4) return RTC_ERR_MALFORMED;
            msg->fingerprint = idx;
            break;
        default:
            if (rtc_stun_attr_is_comprehension_required(at) && !rtc_stun_attr_is_known(at) &&
                msg->n_unknown < sizeof msg->unknown / sizeof msg->unknown[0]) {
                msg->unknown[msg->n_unknown++] = at;
            }
        }
        pos += 4 + padded;
    }

    if (msg->fingerprint >= 0) {
        int rc = rtc_stun_msg_check_fingerprint(msg);
        if (rc) return rc;
    }
    return msg->n_unknown ? RTC_ERR_UNKNOWN_ATTR : RTC_OK;
}

const rtc_stun_attr_t *rtc_stun_msg_find(const rtc_stun_msg_t *msg, uint16_t type) {
    for (size_t i = 0; i < msg->n_attrs; i++)
        if (msg->attrs[i].type == type) return &msg->attrs[i];
    return NULL;
}

const rtc_stun_attr_t *rtc_stun_msg_find_next(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *prev) {
    size_t start = (size_t)(prev - msg->attrs) + 1;
    for (size_t i = start; i < msg->n_attrs; i++)
        if (msg->attrs[i].type == prev->type) return &msg->attrs[i];
    return NULL;
}

/* Address attribute value: 0, family, port, address (RFC 8489 §14.1-14.2). When xor is set,
 * port and address are XORed with the cookie (and the transaction ID for IPv6). */
static int read_address(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a, bool xor, rtc_addr_t *out) {
    const uint8_t *v = rtc_stun_attr_value(msg, a);
    if (a->len < 4) return RTC_ERR_MALFORMED;
    uint8_t fam = v[1];
    uint16_t port = rtc_be16(v + 2);
    uint8_t mask[16];
    rtc_put_be32(mask, RTC_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, msg->tid, RTC_STUN_TID_LEN);
    if (xor) port ^= (uint16_t)(RTC_STUN_MAGIC_COOKIE >> 16);
    if (fam == 0x01) {
        if (a->len != 8) return RTC_ERR_MALFORMED;
        uint8_t ip[4];
        for (int i = 0; i < 4; i++) ip[i] = (uint8_t)(v[4 + i] ^ (xor ? mask[i] : 0));
        rtc_addr_set_v4(out, ip, port);
        return RTC_OK;
    }
    if (fam == 0x02) {
        if (a->len != 20) return RTC_ERR_MALFORMED;
        uint8_t ip[16];
        for (int i = 0; i < 16; i++) ip[i] = (uint8_t)(v[4 + i] ^ (xor ? mask[i] : 0));
        rtc_addr_set_v6(out, ip, port);
        return RTC_OK;
    }
    return RTC_ERR_MALFORMED;
}

int rtc_stun_attr_get_xor_address(const rtc_stun_msg_t *msg, const rtc_stun_attr_t *a, rtc_addr_t *out) {
    return read_address(msg, a, true, out);
}

int rtc_stun_msg_get_xor_address(const rtc_stun_msg_t *msg, uint16_t type, rtc_addr_t *out) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, type);
    return a ? read_address(msg, a, true, out) : RTC_ERR_NOT_FOUND;
}

int rtc_stun_msg_get_address(const rtc_stun_msg_t *msg, uint16_t type, rtc_addr_t *out) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, type);
    return a ? read_address(msg, a, false, out) : RTC_ERR_NOT_FOUND;
}

static const uint8_t *fixed(const rtc_stun_msg_t *msg, uint16_t type, size_t len, int *rc) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, type);
    if (!a) { *rc = RTC_ERR_NOT_FOUND; return NULL; }
    if (a->len != len) { *rc = RTC_ERR_MALFORMED; return NULL; }
    *rc = RTC_OK;
    return rtc_stun_attr_value(msg, a);
}

int rtc_stun_msg_get_u32(const rtc_stun_msg_t *msg, uint16_t type, uint32_t *out) {
    int rc;
    const uint8_t *v = fixed(msg, type, 4, &rc);
    if (v) *out = rtc_be32(v);
    return rc;
}

int rtc_stun_msg_get_u64(const rtc_stun_msg_t *msg, uint16_t type, uint64_t *out) {
    int rc;
    const uint8_t *v = fixed(msg, type, 8, &rc);
    if (v) *out = rtc_be64(v);
    return rc;
}

int rtc_stun_msg_get_channel(const rtc_stun_msg_t *msg, uint16_t *out) {
    int rc;
    const uint8_t *v = fixed(msg, RTC_STUN_ATTR_CHANNEL_NUMBER, 4, &rc);
    if (v) *out = rtc_be16(v);
    return rc;
}

int rtc_stun_msg_get_requested_transport(const rtc_stun_msg_t *msg, uint8_t *proto) {
    int rc;
    const uint8_t *v = fixed(msg, RTC_STUN_ATTR_REQUESTED_TRANSPORT, 4, &rc);
    if (v) *proto = v[0];
    return rc;
}

int rtc_stun_msg_get_family(const rtc_stun_msg_t *msg, uint16_t type, uint8_t *family) {
    int rc;
    const uint8_t *v = fixed(msg, type, 4, &rc);
    if (!v) return rc;
    if (v[0] == 0x01) *family = RTC_AF_INET4;
    else if (v[0] == 0x02) *family = RTC_AF_INET6;
    else return RTC_ERR_MALFORMED;
    return RTC_OK;
}

int rtc_stun_msg_get_even_port(const rtc_stun_msg_t *msg, bool *reserve) {
    int rc;
    const uint8_t *v = fixed(msg, RTC_STUN_ATTR_EVEN_PORT, 1, &rc);
    if (v) *reserve = (v[0] & 0x80) != 0;
    return rc;
}

static size_t string_limit(uint16_t type) {
    switch (type) {
    case RTC_STUN_ATTR_USERNAME: return 512;
    case RTC_STUN_ATTR_REALM:
    case RTC_STUN_ATTR_NONCE:
    case RTC_STUN_ATTR_SOFTWARE:
    case RTC_STUN_ATTR_ALTERNATE_DOMAIN: return 763;
    default: return 65535;
    }
}

int rtc_stun_msg_get_string(const rtc_stun_msg_t *msg, uint16_t type, char *out, size_t cap) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, type);
    if (!a) return RTC_ERR_NOT_FOUND;
    if (a->len > string_limit(type)) return RTC_ERR_MALFORMED;
    const uint8_t *v = rtc_stun_attr_value(msg, a);
    if (memchr(v, 0, a->len)) return RTC_ERR_MALFORMED;
    if (cap < (size_t)a->len + 1) return RTC_ERR_OVERFLOW;
    memcpy(out, v, a->len);
    out[a->len] = '\0';
    return RTC_OK;
}

int rtc_stun_msg_get_error(const rtc_stun_msg_t *msg, int *code, char *reason, size_t cap) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, RTC_STUN_ATTR_ERROR_CODE);
    if (!a) return RTC_ERR_NOT_FOUND;
    if (a->len < 4 || a->len > 4 + 763) return RTC_ERR_MALFORMED;
    const uint8_t *v = rtc_stun_attr_value(msg, a);
    int cls = v[2] & 0x07, num = v[3];
    if (cls < 3 || cls > 6 || num > 99) return RTC_ERR_MALFORMED;
    *code = cls * 100 + num;
    if (reason && cap) {
        size_t rl = a->len - 4u;
        if (rl >= cap) rl = cap - 1;
        memcpy(reason, v + 4, rl);
        reason[rl] = '\0';
    }
    return RTC_OK;
}

int rtc_stun_msg_get_unknown_attributes(const rtc_stun_msg_t *msg, uint16_t *types, size_t max) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, RTC_STUN_ATTR_UNKNOWN_ATTRIBUTES);
    if (!a) return RTC_ERR_NOT_FOUND;
    if (a->len & 1) return RTC_ERR_MALFORMED;
    const uint8_t *v = rtc_stun_attr_value(msg, a);
    size_t count = a->len / 2u;
    size_t i;
    for (i = 0; i < count && i < max; i++) types[i] = rtc_be16(v + 2 * i);
    return (int)i;
}

int rtc_stun_msg_get_data(const rtc_stun_msg_t *msg, const uint8_t **data, size_t *len) {
    const rtc_stun_attr_t *a = rtc_stun_msg_find(msg, RTC_STUN_ATTR_DATA);
    if (!a) return RTC_ERR_NOT_FOUND;
    *data = rtc_stun_attr_value(msg, a);
    *len = a->len;
    return RTC_OK;
}

const char *rtc_stun_method_name(uint16_t method) {
    switch (method) {
    case RTC_STUN_BINDING: return "Binding";
    case RTC_STUN_ALLOCATE: return "Allocate";
    case RTC_STUN_REFRESH: return "Refresh";
    case RTC_STUN_SEND: return "Send";
    case RTC_STUN_DATA: return "Data";
    case RTC_STUN_CREATE_PERMISSION: return "CreatePermission";
    case RTC_STUN_CHANNEL_BIND: return "ChannelBind";
    case RTC_STUN_CONNECT: return "Connect";
    case RTC_STUN_CONNECTION_BIND: return "ConnectionBind";
    case RTC_STUN_CONNECTION_ATTEMPT: return "ConnectionAttempt";
    default: return "Unknown";
    }
}

const char *rtc_stun_error_reason(int code) {
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 405: return "Mobility Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 446: return "Connection Already Exists";
    case 447: return "Connection Timeout or Failure";
    case 486: return "Allocation Quota Reached";
    case 487: return "Role Conflict";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "Error";
    }
}
