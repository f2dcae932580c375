/* ICE candidates as values: priorities (RFC 8445 §5.1.2, §6.1.2.3) and the SDP candidate
 * attribute (RFC 8839 §5.1), which browsers also hand over as RTCIceCandidate.candidate. */
#include "rtc/ice.h"
#include "rtc/stun.h"

#include <stdio.h>
#include <stdlib.h>

const char *rtc_ice_candidate_type_name(rtc_ice_candidate_type_t t) {
    switch (t) {
    case RTC_ICE_CANDIDATE_HOST: return "host";
    case RTC_ICE_CANDIDATE_SRFLX: return "srflx";
    case RTC_ICE_CANDIDATE_PRFLX: return "prflx";
    case RTC_ICE_CANDIDATE_RELAY: return "relay";
    }
    return "unknown";
}

const char *rtc_ice_state_name(rtc_ice_state_t s) {
    static const char *names[] = {"new", "checking", "connected", "completed",
                                  "disconnected", "failed", "closed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

const char *rtc_ice_gathering_state_name(rtc_ice_gathering_state_t s) {
    static const char *names[] = {"new", "gathering", "complete"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

const char *rtc_ice_pair_state_name(rtc_ice_pair_state_t s) {
    static const char *names[] = {"frozen", "waiting", "in-progress", "succeeded", "failed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

unsigned rtc_ice_type_preference(rtc_ice_candidate_type_t t) {
    switch (t) {
    case RTC_ICE_CANDIDATE_HOST: return RTC_ICE_TYPE_PREF_HOST;
    case RTC_ICE_CANDIDATE_PRFLX: return RTC_ICE_TYPE_PREF_PRFLX;
    case RTC_ICE_CANDIDATE_SRFLX: return RTC_ICE_TYPE_PREF_SRFLX;
    case RTC_ICE_CANDIDATE_RELAY: return RTC_ICE_TYPE_PREF_RELAY;
    }
    return 0;
}

uint32_t rtc_ice_candidate_priority(unsigned type_pref, unsigned local_pref, unsigned component) {
    if (type_pref > 126) type_pref = 126;
    if (local_pref > 65535) local_pref = 65535;
    if (component < 1) component = 1;
    if (component > 256) component = 256;
    return ((uint32_t)type_pref << 24) + ((uint32_t)local_pref << 8) + (256 - component);
}

uint64_t rtc_ice_pair_priority(uint32_t g, uint32_t d) {
    uint64_t lo = g < d ? g : d, hi = g > d ? g : d;
    return (lo << 32) + 2 * hi + (g > d ? 1 : 0);
}

/* ------------------------------------------------------------------------------------------
 * Parsing. The line is split into space-separated tokens; each token is copied (bounded) into
 * a small buffer before it is interpreted, so nothing reads past n.
 */
typedef struct {
    const char *p;
    size_t n, pos;
} tokenizer_t;

/* Next token into out (NUL-terminated). Returns its length, 0 at the end, -1 if too long. */
static int next_token(tokenizer_t *t, char *out, size_t cap) {
    while (t->pos < t->n && (t->p[t->pos] == ' ' || t->p[t->pos] == '\t')) t->pos++;
    size_t start = t->pos;
    while (t->pos < t->n && t->p[t->pos] != ' ' && t->p[t->pos] != '\t') t->pos++;
    size_t len = t->pos - start;
    if (len >= cap) return -1;
    memcpy(out, t->p + start, len);
    out[len] = '\0';
    return (int)len;
}

static bool is_ice_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static bool all_digits(const char *s) {
    if (!*s) return false;
    for (; *s; s++) if (*s < '0' || *s > '9') return false;
    return true;
}

/* Decimal of at most max_digits digits, value <= max. */
static bool parse_uint(const char *s, size_t max_digits, uint64_t max, uint64_t *out) {
    if (!all_digits(s) || strlen(s) > max_digits) return false;
    uint64_t v = 0;
    for (; *s; s++) v = v * 10 + (uint64_t)(*s - '0');
    if (v > max) return false;
    *out = v;
    return true;
}

static bool is_hostname(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > RTC_ICE_HOSTNAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool ascii_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return *a == *b;
}

int rtc_ice_candidate_parse(rtc_ice_candidate_t *c, const char *s, size_t n) {
    if (!c || (!s && n)) return RTC_ERR_INVALID_ARG;
    memset(c, 0, sizeof *c);
    c->generation = -1;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    if (n >= 2 && s[0] == 'a' && s[1] == '=') { s += 2; n -= 2; }
    if (n >= 10 && memcmp(s, "candidate:", 10) == 0) { s += 10; n -= 10; }

    tokenizer_t t = {s, n, 0};
    char tok[RTC_ICE_UFRAG_MAX + 2];
    uint64_t v;

    /* foundation */
    int len = next_token(&t, tok, RTC_ICE_FOUNDATION_MAX + 1);
    if (len <= 0) return RTC_ERR_MALFORMED;
    for (int i = 0; i < len; i++) if (!is_ice_char(tok[i])) return RTC_ERR_MALFORMED;
    memcpy(c->foundation, tok, (size_t)len + 1);
    /* component-id: 1..256 */
    if (next_token(&t, tok, sizeof tok) <= 0 || !parse_uint(tok, 3, 256, &v) || v == 0)
        return RTC_ERR_MALFORMED;
    c->component = (uint16_t)v;
    /* transport */
    if (next_token(&t, tok, sizeof tok) <= 0) return RTC_ERR_MALFORMED;
    if (ascii_ieq(tok, "udp")) c->transport = RTC_ICE_TRANSPORT_UDP;
    else if (ascii_ieq(tok, "tcp")) c->transport = RTC_ICE_TRANSPORT_TCP;
    else return RTC_ERR_UNSUPPORTED;
    /* priority: 1*10DIGIT; values above 2^32-1 are refused */
    if (next_token(&t, tok, sizeof tok) <= 0 || !parse_uint(tok, 10, UINT32_MAX, &v))
        return RTC_ERR_MALFORMED;
    c->priority = (uint32_t)v;
    /* connection-address and port */
    char addr[RTC_ICE_HOSTNAME_MAX + 2];
    if (next_token(&t, addr, sizeof addr) <= 0) return RTC_ERR_MALFORMED;
    if (next_token(&t, tok, sizeof tok) <= 0 || !parse_uint(tok, 5, 65535, &v))
        return RTC_ERR_MALFORMED;
    uint16_t port = (uint16_t)v;
    if (rtc_addr_parse_ip(&c->addr, addr, port) != RTC_OK) {
        if (!is_hostname(addr)) return RTC_ERR_MALFORMED;
        memset(&c->addr, 0, sizeof c->addr);
        c->addr.port = port;
        memcpy(c->hostname, addr, strlen(addr) + 1);
    }
    /* "typ" cand-type */
    if (next_token(&t, tok, sizeof tok) <= 0 || strcmp(tok, "typ") != 0) return RTC_ERR_MALFORMED;
    if (next_token(&t, tok, sizeof tok) <= 0) return RTC_ERR_MALFORMED;
    if (strcmp(tok, "host") == 0) c->type = RTC_ICE_CANDIDATE_HOST;
    else if (strcmp(tok, "srflx") == 0) c->type = RTC_ICE_CANDIDATE_SRFLX;
    else if (strcmp(tok, "prflx") == 0) c->type = RTC_ICE_CANDIDATE_PRFLX;
    else if (strcmp(tok, "relay") == 0) c->type = RTC_ICE_CANDIDATE_RELAY;
    else return RTC_ERR_MALFORMED;

    /* Extensions: name value pairs. raddr/rport, tcptype, generation and ufrag are used;
     * the rest (network-id, network-cost, ...) are skipped. */
    bool have_raddr = false;
    rtc_addr_t raddr;
    uint16_t rport = 0;
    for (;;) {
        char name[64];
        int nl = next_token(&t, name, sizeof name);
        if (nl == 0) break;
        if (nl < 0) return RTC_ERR_MALFORMED;
        len = next_token(&t, tok, sizeof tok);
        if (len <= 0) return RTC_ERR_MALFORMED;   /* a name without a value */
        if (strcmp(name, "raddr") == 0) {
            /* Browsers hiding addresses send "0.0.0.0"; a name here is tolerated and dropped. */
            have_raddr = rtc_addr_parse_ip(&raddr, tok, 0) == RTC_OK;
        } else if (strcmp(name, "rport") == 0) {
            if (!parse_uint(tok, 5, 65535, &v)) return RTC_ERR_MALFORMED;
            rport = (uint16_t)v;
        } else if (strcmp(name, "tcptype") == 0) {
            if (strcmp(tok, "active") == 0) c->tcp_type = RTC_ICE_TCP_ACTIVE;
            else if (strcmp(tok, "passive") == 0) c->tcp_type = RTC_ICE_TCP_PASSIVE;
            else if (strcmp(tok, "so") == 0) c->tcp_type = RTC_ICE_TCP_SO;
            else return RTC_ERR_MALFORMED;
        } else if (strcmp(name, "generation") == 0) {
            if (!parse_uint(tok, 9, 999999999, &v)) return RTC_ERR_MALFORMED;
            c->generation = (int)v;
        } else if (strcmp(name, "ufrag") == 0) {
            for (int i = 0; i < len; i++) if (!is_ice_char(tok[i])) return RTC_ERR_MALFORMED;
            memcpy(c->ufrag, tok, (size_t)len + 1);
        }
    }
    if (have_raddr) {
        c->related = raddr;
        c->related.port = rport;
    }
    return RTC_OK;
}

int rtc_ice_candidate_format(const rtc_ice_candidate_t *c, char *out, size_t cap) {
    if (!c || !out || cap == 0) return RTC_ERR_INVALID_ARG;
    if (!c->foundation[0] || (c->addr.family == RTC_AF_UNSPEC && !c->hostname[0]))
        return RTC_ERR_INVALID_ARG;
    char ip[RTC_ICE_HOSTNAME_MAX + 1];
    if (c->hostname[0]) snprintf(ip, sizeof ip, "%s", c->hostname);
    else if (rtc_addr_format_ip(&c->addr, ip, sizeof ip) < 0) return RTC_ERR_INVALID_ARG;
    rtc_buf_t b;
    rtc_buf_init(&b);
    rtc_buf_appendf(&b, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                    c->component ? c->component : 1,
                    c->transport == RTC_ICE_TRANSPORT_TCP ? "tcp" : "udp", c->priority, ip,
                    c->addr.port, rtc_ice_candidate_type_name(c->type));
    if (c->type != RTC_ICE_CANDIDATE_HOST && c->related.family != RTC_AF_UNSPEC) {
        char rip[RTC_ADDR_STRLEN];
        if (rtc_addr_format_ip(&c->related, rip, sizeof rip) >= 0)
            rtc_buf_appendf(&b, " raddr %s rport %u", rip, c->related.port);
    }
    if (c->transport == RTC_ICE_TRANSPORT_TCP && c->tcp_type != RTC_ICE_TCP_NONE) {
        static const char *tt[] = {"", "active", "passive", "so"};
        rtc_buf_appendf(&b, " tcptype %s", tt[c->tcp_type]);
    }
    if (c->generation >= 0) rtc_buf_appendf(&b, " generation %d", c->generation);
    if (c->ufrag[0]) rtc_buf_appendf(&b, " ufrag %s", c->ufrag);
    int rc;
    if (!b.data) rc = RTC_ERR_NOMEM;
    else if (b.len >= cap) rc = RTC_ERR_OVERFLOW;
    else {
        memcpy(out, b.data, b.len + 1);
        rc = (int)b.len;
    }
    rtc_buf_free(&b);
    return rc;
}

int rtc_ice_peek_ufrag(const uint8_t *p, size_t n, char *out, size_t cap) {
    if (!p || !out || cap == 0) return RTC_ERR_INVALID_ARG;
    if (!rtc_stun_is_message(p, n)) return RTC_ERR_NOT_FOUND;
    rtc_stun_msg_t m;
    int rc = rtc_stun_msg_decode(&m, p, n);
    if ((rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) || m.cls != RTC_STUN_REQUEST || m.method != RTC_STUN_BINDING)
        return RTC_ERR_NOT_FOUND;
    char user[2 * RTC_ICE_UFRAG_MAX + 2];
    if (rtc_stun_msg_get_string(&m, RTC_STUN_ATTR_USERNAME, user, sizeof user) != RTC_OK) return RTC_ERR_NOT_FOUND;
    char *colon = strchr(user, ':');
    if (!colon || colon == user) return RTC_ERR_NOT_FOUND;
    size_t len = (size_t)(colon - user);
    if (len >= cap) return RTC_ERR_OVERFLOW;
    memcpy(out, user, len);
    out[len] = '\0';
    return (int)len;
}
