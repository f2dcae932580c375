/* sdp/candidate.c — ICE candidate attribute (RFC 8839 section 5.1) parse and format. */
#include <stdio.h>
#include <strings.h>

#include "sdp/sdp_internal.h"

typedef struct {
    const char *p;
    size_t n;
} tok_t;

static bool is_ice_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static bool tok_eq(tok_t t, const char *s) {
    size_t l = strlen(s);
    return t.n == l && memcmp(t.p, s, l) == 0;
}

static bool tok_copy(tok_t t, char *out, size_t cap) {
    if (t.n + 1 > cap) return false;
    memcpy(out, t.p, t.n);
    out[t.n] = '\0';
    return true;
}

/* Parses a decimal number of at most max_digits digits, no sign, no leading '+'. */
static bool tok_uint(tok_t t, uint64_t max, uint64_t *out) {
    if (t.n == 0 || t.n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        char c = t.p[i];
        if (c < '0' || c > '9') return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* An IP literal, or a host name made of letters, digits, '-', '_' and dots (mDNS names are
 * "<uuid>.local"). */
static bool valid_host(const char *s) {
    rtc_addr_t a;
    if (rtc_addr_parse_ip(&a, s, 0) == RTC_OK) return true;
    if (!*s || strchr(s, ':')) return false;
    bool all_numeric = true;
    for (const char *q = s; *q; q++) {
        char c = *q;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
        if (!((c >= '0' && c <= '9') || c == '.')) all_numeric = false;
    }
    /* "1.2.3" or "999.1.1.1": digits and dots that are not a valid IPv4 address. */
    return !all_numeric;
}

#define FAIL(msg) do { if (why) *why = (msg); return RTC_ERR_MALFORMED; } while (0)

int rtc_sdp_candidate_parse(const char *s, size_t n, rtc_sdp_candidate_t *c, const char **why) {
    if (!s || !c) return RTC_ERR_INVALID_ARG;
    memset(c, 0, sizeof *c);
    c->generation = c->network_id = c->network_cost = -1;
    if (n >= 2 && s[0] == 'a' && s[1] == '=') s += 2, n -= 2;
    if (n >= 10 && memcmp(s, "candidate:", 10) == 0) s += 10, n -= 10;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n')) n--;

    tok_t t[64];
    size_t nt = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        if (nt == sizeof t / sizeof t[0]) FAIL("too many fields");
        size_t b = i;
        while (i < n && s[i] != ' ') {
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) FAIL("control or non-ASCII byte");
            i++;
        }
        t[nt++] = (tok_t){s + b, i - b};
    }
    if (nt < 8) FAIL("fewer than 8 fields");

    if (t[0].n > 32) FAIL("foundation longer than 32 characters");
    for (size_t k = 0; k < t[0].n; k++)
        if (!is_ice_char(t[0].p[k])) FAIL("foundation is not ice-chars");
    tok_copy(t[0], c->foundation, sizeof c->foundation);

    uint64_t v;
    if (!tok_uint(t[1], 256, &v) || v == 0) FAIL("component id not 1..256");
    c->component = (uint16_t)v;
    if (!tok_copy(t[2], c->transport, sizeof c->transport)) FAIL("transport too long");
    if (!tok_uint(t[3], UINT32_MAX, &v) || v == 0) FAIL("priority not 1..2^32-1");
    c->priority = (uint32_t)v;
    if (!tok_copy(t[4], c->address, sizeof c->address)) FAIL("address too long");
    if (!valid_host(c->address)) FAIL("address is neither an IP nor a host name");
    if (!tok_uint(t[5], 65535, &v)) FAIL("port not 0..65535");
    c->port = (uint16_t)v;
    if (!tok_eq(t[6], "typ")) FAIL("missing \"typ\"");
    if (!tok_copy(t[7], c->type, sizeof c->type)) FAIL("candidate type too long");

    if ((nt - 8) % 2) FAIL("extension name without a value");
    bool have_raddr = false, have_rport = false;
    size_t ext_len = 0;
    for (size_t k = 8; k + 1 < nt; k += 2) {
        tok_t name = t[k], val = t[k + 1];
        if (tok_eq(name, "raddr")) {
            if (have_raddr) FAIL("raddr twice");
            if (!tok_copy(val, c->raddr, sizeof c->raddr) || !valid_host(c->raddr)) FAIL("bad raddr");
            have_raddr = true;
        } else if (tok_eq(name, "rport")) {
            if (have_rport || !tok_uint(val, 65535, &v)) FAIL("bad rport");
            c->rport = (uint16_t)v;
            have_rport = true;
        } else if (tok_eq(name, "tcptype")) {
            if (c->tcptype[0] || !tok_copy(val, c->tcptype, sizeof c->tcptype)) FAIL("bad tcptype");
        } else if (tok_eq(name, "generation")) {
            if (c->generation >= 0 || !tok_uint(val, UINT32_MAX, &v)) FAIL("bad generation");
            c->generation = (int64_t)v;
        } else if (tok_eq(name, "ufrag")) {
            if (c->ufrag[0] || !tok_copy(val, c->ufrag, sizeof c->ufrag)) FAIL("bad ufrag");
        } else if (tok_eq(name, "network-id")) {
            if (c->network_id >= 0 || !tok_uint(val, UINT32_MAX, &v)) FAIL("bad network-id");
            c->network_id = (int64_t)v;
        } else if (tok_eq(name, "network-cost")) {
            if (c->network_cost >= 0 || !tok_uint(val, UINT32_MAX, &v)) FAIL("bad network-cost");
            c->network_cost = (int64_t)v;
        } else {
            size_t need = (ext_len ? 1 : 0) + name.n + 1 + val.n;
            if (ext_len + need + 1 > sizeof c->ext) FAIL("unknown extensions too long");
            if (ext_len) c->ext[ext_len++] = ' ';
            memcpy(c->ext + ext_len, name.p, name.n);
            ext_len += name.n;
            c->ext[ext_len++] = ' ';
            memcpy(c->ext + ext_len, val.p, val.n);
            ext_len += val.n;
            c->ext[ext_len] = '\0';
        }
    }
    if (have_raddr != have_rport) FAIL("raddr without rport or rport without raddr");
    c->has_related = have_raddr;
    return RTC_OK;
}

int rtc_sdp_candidate_format(const rtc_sdp_candidate_t *c, char *out, size_t cap) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    int rc = rtc_buf_appendf(&b, "candidate:%s %u %s %u %s %u typ %s", c->foundation, c->component,
                             c->transport, c->priority, c->address, c->port, c->type);
    if (rc == RTC_OK && c->has_related) rc = rtc_buf_appendf(&b, " raddr %s rport %u", c->raddr, c->rport);
    if (rc == RTC_OK && c->tcptype[0]) rc = rtc_buf_appendf(&b, " tcptype %s", c->tcptype);
    if (rc == RTC_OK && c->generation >= 0) rc = rtc_buf_appendf(&b, " generation %lld", (long long)c->generation);
    if (rc == RTC_OK && c->ufrag[0]) rc = rtc_buf_appendf(&b, " ufrag %s", c->ufrag);
    if (rc == RTC_OK && c->network_id >= 0) rc = rtc_buf_appendf(&b, " network-id %lld", (long long)c->network_id);
    if (rc == RTC_OK && c->network_cost >= 0)
        rc = rtc_buf_appendf(&b, " network-cost %lld", (long long)c->network_cost);
    if (rc == RTC_OK && c->ext[0]) rc = rtc_buf_appendf(&b, " %s", c->ext);
    if (rc != RTC_OK) {
        rtc_buf_free(&b);
        return rc;
    }
    if (b.len + 1 > cap) {
        rtc_buf_free(&b);
        return RTC_ERR_OVERFLOW;
    }
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    int len = (int)b.len;
    rtc_buf_free(&b);
    return len;
}

bool rtc_sdp_candidate_is_mdns(const rtc_sdp_candidate_t *c) {
    size_t l = strlen(c->address);
    return l > 6 && strcasecmp(c->address + l - 6, ".local") == 0;
}
