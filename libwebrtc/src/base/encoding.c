/* Base64 (RFC 4648 §4) and hex. Decoders validate every character and never write past cap. */
#include "rtc/base.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int rtc_base64_encode(const uint8_t *p, size_t n, char *out, size_t cap) {
    size_t need = ((n + 2) / 3) * 4;
    if (cap < need + 1) return RTC_ERR_OVERFLOW;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int rtc_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap) {
    /* Strip up to two '=' of padding; the rest must be alphabet characters. */
    size_t pad = 0;
    while (slen > 0 && s[slen - 1] == '=' && pad < 2) { slen--; pad++; }
    if (pad && (slen + pad) % 4 != 0) return RTC_ERR_MALFORMED;
    if (slen % 4 == 1) return RTC_ERR_MALFORMED;
    size_t need = slen / 4 * 3 + (slen % 4 ? slen % 4 - 1 : 0);
    if (need > cap) return RTC_ERR_OVERFLOW;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < slen; i++) {
        int v = b64_value(s[i]);
        if (v < 0) return RTC_ERR_MALFORMED;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero in a canonical encoding. */
    if (bits && (acc & ((1u << bits) - 1))) return RTC_ERR_MALFORMED;
    return (int)o;
}

int rtc_hex_encode(const uint8_t *p, size_t n, char sep, bool upper, char *out, size_t cap) {
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t need = n * 2 + (sep && n ? n - 1 : 0);
    if (cap < need + 1) return RTC_ERR_OVERFLOW;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (sep && i) out[o++] = sep;
        out[o++] = digits[p[i] >> 4];
        out[o++] = digits[p[i] & 15];
    }
    out[o] = '\0';
    return (int)o;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rtc_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap) {
    size_t o = 0, i = 0;
    char sep = 0;
    while (i < slen) {
        if (o > 0) {
            int is_hex = hex_value(s[i]) >= 0;
            if (!is_hex) {
                if (sep == 0) sep = s[i];
                else if (s[i] != sep) return RTC_ERR_MALFORMED;
                i++;
            } else if (sep) {
                return RTC_ERR_MALFORMED; /* separator used before, must be used throughout */
            }
        }
        if (i + 2 > slen) return RTC_ERR_MALFORMED;
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) return RTC_ERR_MALFORMED;
        if (o >= cap) return RTC_ERR_OVERFLOW;
        out[o++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return (int)o;
}
