/* SDP certificate fingerprints (RFC 8122 section 5): "sha-256 AB:CD:...". */
#include "rtc/dtls.h"

#include <ctype.h>

static const struct {
    const char *name;
    rtc_digest_t alg;
    bool supported;
} hash_names[] = {
    {"sha-1", RTC_DIGEST_SHA1, true},     {"sha-256", RTC_DIGEST_SHA256, true},
    {"sha-384", RTC_DIGEST_SHA384, true}, {"sha-512", RTC_DIGEST_SHA512, true},
    {"sha-224", RTC_DIGEST_SHA256, false}, {"md5", RTC_DIGEST_MD5, false},
    {"md2", RTC_DIGEST_MD5, false},
};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rtc_dtls_fingerprint_parse(const char *s, size_t n, rtc_dtls_fingerprint_t *out) {
    if (!s || !out) return RTC_ERR_INVALID_ARG;
    size_t i = 0;
    while (i < n && s[i] != ' ') i++;
    size_t name_len = i;
    if (name_len == 0 || i == n) return RTC_ERR_MALFORMED;
    int found = -1;
    for (size_t k = 0; k < sizeof hash_names / sizeof hash_names[0]; k++) {
        size_t l = strlen(hash_names[k].name);
        if (l != name_len) continue;
        size_t j = 0;
        while (j < l && tolower((unsigned char)s[j]) == hash_names[k].name[j]) j++;
        if (j == l) {
            found = (int)k;
            break;
        }
    }
    if (found < 0) return RTC_ERR_MALFORMED;
    if (!hash_names[found].supported) return RTC_ERR_UNSUPPORTED;
    while (i < n && s[i] == ' ') i++;

    rtc_dtls_fingerprint_t fp;
    memset(&fp, 0, sizeof fp);
    fp.alg = hash_names[found].alg;
    size_t want = rtc_digest_len(fp.alg);
    size_t got = 0;
    for (;;) {
        if (n - i < 2) return RTC_ERR_MALFORMED;
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) return RTC_ERR_MALFORMED;
        if (got == want) return RTC_ERR_MALFORMED; /* too many bytes */
        fp.value[got++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (i == n) break;
        if (s[i] != ':') return RTC_ERR_MALFORMED;
        i++;
    }
    if (got != want) return RTC_ERR_MALFORMED;
    fp.len = (uint8_t)want;
    *out = fp;
    return RTC_OK;
}

int rtc_dtls_fingerprint_format(const rtc_dtls_fingerprint_t *fp, char *out, size_t cap) {
    if (!fp || !out) return RTC_ERR_INVALID_ARG;
    const char *name = NULL;
    for (size_t k = 0; k < sizeof hash_names / sizeof hash_names[0]; k++)
        if (hash_names[k].supported && hash_names[k].alg == fp->alg) name = hash_names[k].name;
    if (!name || fp->len == 0 || fp->len != rtc_digest_len(fp->alg)) return RTC_ERR_INVALID_ARG;
    size_t nl = strlen(name);
    if (cap < nl + 2) return RTC_ERR_OVERFLOW;
    memcpy(out, name, nl);
    out[nl] = ' ';
    int r = rtc_hex_encode(fp->value, fp->len, ':', true, out + nl + 1, cap - nl - 1);
    if (r < 0) return r;
    return (int)nl + 1 + r;
}

bool rtc_dtls_fingerprint_equal(const rtc_dtls_fingerprint_t *a, const rtc_dtls_fingerprint_t *b) {
    if (!a || !b || a->alg != b->alg || a->len != b->len || a->len > RTC_DIGEST_MAX_LEN) return false;
    return rtc_ct_equal(a->value, b->value, a->len);
}
